/*  sl_log.c: leveled logging to stderr, one write(2) per line.

    Any thread may log. The level is a process-wide atomic initialised lazily
    from SLUICE_LOG; the thread label is thread-local (the runtime sets it to
    the actor's name when the actor's thread starts).
*/
#include "runtime/sl_log.h"

#include <pthread.h>
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
static _Thread_local char s_label[32];

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

void sl_log(sl_log_level_t level, const char *fmt, ...)
{
    if (level < sl_log_get_level() || level >= SL_LOG_OFF || level < SL_LOG_DEBUG) {
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
