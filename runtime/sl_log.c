/*  sl_log.c: leveled logging to stderr, one write(2) per line.

    Any thread may log. The level is a process-wide atomic initialised lazily
    from SLUICE_LOG, the format (text or json) a process-wide atomic too; the
    thread label is thread-local (the runtime sets it to the actor's name
    when the actor's thread starts).

    Design notes
    - The json format keeps the printf-style calls: the message is formatted
      as in text, then the ids it names are lifted into their own fields, so
      every existing log line gains pipeline_id, task_id and replica without
      touching its call. The id shapes are proto/sl_ids's (pipeline id "p" +
      18 hex digits; task id "<pipeline id>-t" + digits); the runtime only
      matches their text.
    - The message is escaped byte by byte; bytes that are not valid UTF-8
      (an analyzer's text may carry any) become U+FFFD, so a strict JSON
      parser accepts every line.
*/
#include "runtime/sl_log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sl_err.h"

static _Atomic int s_level = -1; /* -1: not read from the environment yet */
static _Atomic int s_format = SL_LOG_TEXT;
static _Thread_local char s_label[32];

#define SL_LOG_ID_ROOM 48 /* a task id, escaped, with its key */

static const char *s_names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};

int sl_log_parse_level(const char *text, sl_log_level_t *out)
{
    static const char *words[] = {"debug", "info", "warn", "error", "off"};
    if (!text || !out) {
        return SL_EINVAL;
    }
    for (int i = 0; i < 5; i++) {
        if (strcasecmp(text, words[i]) == 0) {
            *out = (sl_log_level_t)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = SL_LOG_WARN;
        return 0;
    }
    return SL_EINVAL;
}

int sl_log_parse_format(const char *text, sl_log_format_t *out)
{
    if (!text || !out) {
        return SL_EINVAL;
    }
    if (strcmp(text, "text") == 0) {
        *out = SL_LOG_TEXT;
        return 0;
    }
    if (strcmp(text, "json") == 0) {
        *out = SL_LOG_JSON;
        return 0;
    }
    return SL_EINVAL;
}

void sl_log_set_format(sl_log_format_t format)
{
    if (format == SL_LOG_TEXT || format == SL_LOG_JSON) {
        atomic_store(&s_format, (int)format);
    }
}

sl_log_format_t sl_log_get_format(void)
{
    return (sl_log_format_t)atomic_load(&s_format);
}

void sl_log_set_level(sl_log_level_t level)
{
    if (level < SL_LOG_DEBUG || level > SL_LOG_OFF) {
        return;
    }
    atomic_store(&s_level, (int)level);
}

sl_log_level_t sl_log_get_level(void)
{
    int level = atomic_load(&s_level);
    if (level < 0) {
        /* A bad SLUICE_LOG value must not stop the program: keep the default. */
        sl_log_level_t parsed = SL_LOG_INFO;
        const char *env = getenv("SLUICE_LOG");
        if (env && sl_log_parse_level(env, &parsed) != 0) {
            parsed = SL_LOG_INFO;
        }
        int expected = -1;
        atomic_compare_exchange_strong(&s_level, &expected, (int)parsed);
        level = atomic_load(&s_level);
    }
    return (sl_log_level_t)level;
}

void sl_log_set_thread_label(const char *label)
{
    if (!label) {
        s_label[0] = '\0';
        return;
    }
    snprintf(s_label, sizeof(s_label), "%s", label);
}

/* ---- json --------------------------------------------------------------- */

typedef struct {
    char *out;
    size_t size, len; /* len < size always; room for the closing is reserved by the caller */
} s_buf_t;

static void s_put(s_buf_t *b, const char *text, size_t n)
{
    if (b->len + n < b->size) {
        memcpy(b->out + b->len, text, n);
        b->len += n;
    }
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80             ? 1
                 : (p[0] & 0xe0) == 0xc0 ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && p[0] < 0xc2) || (len == 4 && p[0] > 0xf4)) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if ((len == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (len == 3 && p[0] == 0xed && p[1] >= 0xa0) ||
        (len == 4 && p[0] == 0xf0 && p[1] < 0x90) || (len == 4 && p[0] == 0xf4 && p[1] >= 0x90)) {
        return 0; /* overlong, surrogate, beyond U+10FFFF */
    }
    return len;
}

/* A JSON string of n bytes of text; stops early (whole escapes only) when
   fewer than reserve bytes would remain. */
static void s_put_string(s_buf_t *b, const char *text, size_t n, size_t reserve)
{
    const unsigned char *p = (const unsigned char *)text;
    s_put(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t elen = 0;
        size_t step = 1;
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            esc[0] = '\\';
            esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            elen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            elen = (size_t)snprintf(esc, sizeof esc, "\\u%04x", c);
        } else if (c >= 0x80) {
            step = s_utf8_len(p + i, n - i);
            if (step == 0) {
                memcpy(esc, "\\ufffd", 6);
                elen = 6;
                step = 1;
            }
        } else {
            esc[0] = (char)c;
            elen = 1;
        }
        size_t need = elen ? elen : step;
        if (b->len + need + reserve >= b->size) {
            break;
        }
        if (elen) {
            s_put(b, esc, elen);
        } else {
            s_put(b, text + i, step);
        }
        i += step;
    }
    s_put(b, "\"", 1);
}

static bool s_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* The first pipeline id in msg (and the task id it starts, when it does):
   offsets and lengths, 0 lengths when none. */
static void s_find_ids(const char *msg, size_t *p_off, size_t *p_len, size_t *t_len)
{
    *p_len = *t_len = 0;
    for (const char *p = strchr(msg, 'p'); p; p = strchr(p + 1, 'p')) {
        if (p > msg && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) {
            continue;
        }
        int i = 1;
        while (i < 19 && s_hex(p[i])) {
            i++;
        }
        if (i < 19 || isalnum((unsigned char)p[19])) {
            continue;
        }
        *p_off = (size_t)(p - msg);
        *p_len = 19;
        if (p[19] == '-' && p[20] == 't' && isdigit((unsigned char)p[21])) {
            size_t k = 21;
            while (isdigit((unsigned char)p[k])) {
                k++;
            }
            *t_len = k;
        }
        return;
    }
}

/* The first ws:// or wss:// URL in msg, up to a space, comma, quote or
   closing bracket. */
static const char *s_find_url(const char *msg, size_t *len)
{
    const char *u = strstr(msg, "ws://");
    const char *s = strstr(msg, "wss://");
    if (!u || (s && s < u)) {
        u = s;
    }
    if (!u) {
        return NULL;
    }
    *len = strcspn(u, " ,;\"')]}\t\n");
    return u;
}

static void s_put_field(s_buf_t *b, const char *name, const char *value, size_t n)
{
    s_put(b, ",\"", 2);
    s_put(b, name, strlen(name));
    s_put(b, "\":", 2);
    if (value && n) {
        s_put_string(b, value, n, 0);
    } else {
        s_put(b, "null", 4);
    }
}

size_t sl_log_json_line(char *out, size_t size, sl_log_level_t level, const char *actor,
                        const char *msg)
{
    static const char *lower[] = {"debug", "info", "warn", "error", "off"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    size_t p_off = 0, p_len = 0, t_len = 0, u_len = 0;
    s_find_ids(msg, &p_off, &p_len, &t_len);
    const char *url = s_find_url(msg, &u_len);
    /* Ids and URL are bounded (a URL to 256 bytes); msg gets what is left. */
    if (u_len > 256) {
        u_len = 256;
    }
    s_buf_t b = {out, size, 0};
    s_put(&b, "{\"ts\":\"", 7);
    s_put(&b, when, strlen(when));
    s_put(&b, "\",\"level\":\"", 11);
    s_put(&b, lower[level], strlen(lower[level]));
    s_put(&b, "\",\"actor\":", 10);
    s_put_string(&b, actor, strlen(actor), 0);
    s_put(&b, ",\"msg\":", 7);
    /* reserve: the three id fields at their longest, the closing, newline */
    s_put_string(&b, msg, strlen(msg), 64 + 2 * SL_LOG_ID_ROOM + 6 * u_len + 32);
    s_put_field(&b, "pipeline_id", msg + p_off, p_len);
    s_put_field(&b, "task_id", msg + p_off, t_len);
    s_put_field(&b, "replica", url, url ? u_len : 0);
    s_put(&b, "}\n", 2);
    return b.len;
}

void sl_log(sl_log_level_t level, const char *fmt, ...)
{
    if (level < sl_log_get_level() || level >= SL_LOG_OFF || level < SL_LOG_DEBUG) {
        return;
    }
    if (sl_log_get_format() == SL_LOG_JSON) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        char line[8192];
        size_t len = sl_log_json_line(line, sizeof line, level, s_label[0] ? s_label : "main", msg);
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
        return;
    }
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_names[level], s_label[0] ? s_label : "main");
    if (n < 0) {
        return;
    }
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0) {
        len += (size_t)m < sizeof(line) - len ? (size_t)m : sizeof(line) - len - 1;
    }
    /* A truncated line still ends with a newline so lines never merge. */
    if (len >= sizeof(line) - 1) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
