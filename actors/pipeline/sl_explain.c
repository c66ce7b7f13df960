/*  sl_explain.c: a timeout's structured error and a pipeline's summary
    (sl_explain.h). Pure string building, called on the shard's thread.
*/
#define _GNU_SOURCE /* vasprintf */
#include "actors/pipeline/sl_explain.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *s_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    return s;
}

/* One row per timeout: what ran out (for the message: before and after the
   value) and what to do besides raising its key (for the suggestion; on the
   quick profile already, advice_quick). */
static const struct {
    const char *code, *what, *after, *advice, *advice_quick;
} s_rows[] = {
    {"queue_timeout", "found no free replica slot within ", "", "add replicas of the service",
     NULL},
    {"connect_timeout", "could not connect within ", "", "check that the replica is reachable",
     NULL},
    {"pong_timeout", "lost its replica: no sign of life within ", " after a missed pong",
     "check the replica (its event loop may block for longer)", NULL},
    {"progress_timeout", "reported no progress within ", "",
     "check the replica, or use fewer tools", NULL},
    {"attempt_timeout", "got no result within ", "", "use the quick profile or fewer tools",
     "use fewer tools"},
    {"task_timeout", "did not succeed within ", " (all attempts and waits)",
     "use the quick profile or fewer tools, or retry it from the DLQ (timeouts x1.5)",
     "use fewer tools, or retry it from the DLQ (timeouts x1.5)"},
    {"stage_timeout", "was stopped by the stage deadline of ", "",
     "use the quick profile, fewer tools or fewer apps per pipeline", NULL},
    {"pipeline_timeout", "was stopped by the pipeline deadline of ", "",
     "use the quick profile, fewer tools or fewer apps per pipeline", NULL},
};

static int s_row(const char *code)
{
    for (size_t i = 0; code && i < sizeof s_rows / sizeof s_rows[0]; i++) {
        if (strcmp(s_rows[i].code, code) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int sl_explain_is_timeout(const char *code)
{
    return s_row(code) >= 0;
}

/* A value in the unit of its key: "900" for a key ending _s (unit "s"),
   "10000" for one ending _ms. */
static bool s_in_ms(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n > 3 && strcmp(key + n - 3, "_ms") == 0;
}

static void s_number(char *buf, size_t cap, const char *key, int64_t ms)
{
    if (s_in_ms(key)) {
        snprintf(buf, cap, "%" PRId64, ms);
    } else if (ms % 1000) {
        snprintf(buf, cap, "%.3f", (double)ms / 1000.0);
    } else {
        snprintf(buf, cap, "%" PRId64, ms / 1000);
    }
}

int sl_explain_timeout(const sl_explain_in_t *in, sl_explain_t *out)
{
    memset(out, 0, sizeof(*out));
    int row = s_row(in->code);
    char num[32] = "?", value[40], subject[96], last[512] = "";
    if (in->value_ms > 0) {
        s_number(num, sizeof num, in->key, in->value_ms);
    }
    snprintf(value, sizeof value, "%s %s", num, s_in_ms(in->key) ? "ms" : "s");
    if (in->attempt) {
        snprintf(subject, sizeof subject, "%s attempt %u", in->service ? in->service : "task",
                 in->attempt);
    } else {
        snprintf(subject, sizeof subject, "%s task", in->service ? in->service : "the");
    }
    if (in->last_stage || in->last_message || in->last_pct >= 0) {
        char pct[16] = "";
        if (in->last_pct >= 0) {
            snprintf(pct, sizeof pct, " %d%%", in->last_pct);
        }
        snprintf(last, sizeof last, "; the analyzer last reported: %s%s%s%s%s",
                 in->last_stage ? in->last_stage : "(no stage)", pct, in->last_message ? " \"" : "",
                 in->last_message ? in->last_message : "", in->last_message ? "\"" : "");
    } else if (in->service) {
        snprintf(last, sizeof last, "; the analyzer reported no progress");
    }
    char what[160];
    if (row >= 0) {
        snprintf(what, sizeof what, "%s%s%s", s_rows[row].what, value, s_rows[row].after);
    } else {
        snprintf(what, sizeof what, "timed out after %s", value);
    }
    out->code = strdup(in->code ? in->code : "timeout");
    out->message = s_fmt("%s %s%s", subject, what, last);
    /* already on the quick profile: the rest of the advice */
    const char *advice = row >= 0 ? s_rows[row].advice : "";
    const char *quick = strstr(advice, "the quick profile");
    if (quick && in->key && strncmp(in->key, "profiles/quick/", 15) == 0) {
        advice = row >= 0 ? s_rows[row].advice_quick : "";
    }
    if (in->key) {
        out->suggestion = s_fmt("raise %s (%s)%s%s", in->key, num, advice[0] ? " or " : "", advice);
    } else {
        out->suggestion = strdup(advice);
    }
    if (!out->code || !out->message || !out->suggestion) {
        sl_explain_clear(out);
        return -1;
    }
    return 0;
}

void sl_explain_clear(sl_explain_t *self)
{
    free(self->code);
    free(self->message);
    free(self->suggestion);
    memset(self, 0, sizeof(*self));
}

/* A name and how often it came, in first-seen order. */
typedef struct {
    const char *name;
    uint32_t n;
    size_t first;
} s_count_t;

static int s_by_count(const void *a, const void *b)
{
    const s_count_t *x = a, *y = b;
    if (x->n != y->n) {
        return x->n > y->n ? -1 : 1;
    }
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Counts the distinct values of field (0 cause, 1 service) among the misses
   whose cause is `of` (NULL: all), sorted most first. */
static size_t s_count(const sl_explain_miss_t *m, size_t n, int field, const char *of,
                      s_count_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *cause = m[i].cause ? m[i].cause : "unknown";
        const char *v = field ? (m[i].service ? m[i].service : "?") : cause;
        if (of && strcmp(cause, of) != 0) {
            continue;
        }
        size_t j = 0;
        while (j < k && strcmp(out[j].name, v) != 0) {
            j++;
        }
        if (j == k) {
            out[k++] = (s_count_t){v, 0, i};
        }
        out[j].n++;
    }
    qsort(out, k, sizeof(*out), s_by_count);
    return k;
}

char *sl_explain_summary(uint32_t succeeded, uint32_t total, const sl_explain_miss_t *misses,
                         size_t nmisses)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    s_count_t *causes = calloc(nmisses + 1, sizeof(*causes));
    s_count_t *svcs = calloc(nmisses + 1, sizeof(*svcs));
    if (!f || !causes || !svcs) {
        if (f) {
            fclose(f);
        }
        free(buf);
        free(causes);
        free(svcs);
        return NULL;
    }
    fprintf(f, "%u/%u tasks succeeded", succeeded, total);
    if (nmisses) {
        fprintf(f, ", %zu failed:", nmisses);
    }
    size_t nc = s_count(misses, nmisses, 0, NULL, causes);
    for (size_t i = 0; i < nc; i++) {
        fprintf(f, "%s %u %s (", i ? "," : "", causes[i].n, causes[i].name);
        size_t ns = s_count(misses, nmisses, 1, causes[i].name, svcs);
        for (size_t j = 0; j < ns; j++) {
            fprintf(f, "%s%s %u", j ? ", " : "", svcs[j].name, svcs[j].n);
        }
        fputc(')', f);
    }
    free(causes);
    free(svcs);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
