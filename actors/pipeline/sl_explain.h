/*  sl_explain.h: the words a user reads when work ran out of time or a
    pipeline ended short: a timeout's structured error (code, message,
    suggestion) and a pipeline's error_message summary.

    Pure functions, no I/O, no threads: the pipeline shard calls them on its
    own thread, tests call them directly. Every returned string is the
    caller's (free it); NULL only when memory ran out.
*/
#ifndef SL_EXPLAIN_H
#define SL_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

/* What applied when a timeout fired. */
typedef struct {
    const char *code;       /* an outcome name (attempt_timeout, ...) or task_timeout,
                               stage_timeout, pipeline_timeout */
    const char *service;    /* the task's service, NULL for a pipeline-level one */
    uint32_t attempt;       /* the attempt it ended, 0 none */
    const char *key;        /* what sets it: a config key ("services/static-analyzer/
                               attempt_timeout_s") or a request field ("timeouts.attempt");
                               a key ending _ms is shown in ms, else in seconds */
    int64_t value_ms;       /* its value, 0 unknown */
    const char *last_stage; /* what the analyzer last reported; NULL nothing */
    int32_t last_pct;       /* -1 unknown */
    const char *last_message;
} sl_explain_in_t;

typedef struct {
    char *code, *message, *suggestion; /* caller owns */
} sl_explain_t;

/* Fills out from in (the message names the timeout, its value and what the
   analyzer last reported; the suggestion names the key to change). Returns 0,
   or -1 when memory ran out (out is then empty). */
int sl_explain_timeout(const sl_explain_in_t *in, sl_explain_t *out);

/* Frees the strings of self and zeroes it. */
void sl_explain_clear(sl_explain_t *self);

/* True when code names a timeout that sl_explain_timeout explains. */
int sl_explain_is_timeout(const char *code);

/* One task that did not succeed: why (an error code, an outcome or a
   status name) and its service. */
typedef struct {
    const char *cause;
    const char *service;
} sl_explain_miss_t;

/* "4/12 tasks succeeded, 8 failed: 5 attempt_timeout (static-analyzer 3,
   dynamic-analyzer 2), 3 verdict (ai-analyzer 3)": causes by count, most
   first (ties in first-seen order), each with its services likewise. */
char *sl_explain_summary(uint32_t succeeded, uint32_t total, const sl_explain_miss_t *misses,
                         size_t nmisses);

#endif
