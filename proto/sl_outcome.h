/*  sl_outcome.h: how an attempt ended, as classified by the endpoint actor.

    The pipeline actor decides retries from this value alone: see
    sl_outcome_retryable(). Values are stable (they travel in messages and
    are stored); names are what users see (an attempt's `outcome`, the
    "<outcome>: " before a task's error; README "Statuses"), and each symbol
    is its name. This is the one vocabulary for how work ended: the error
    table (runtime/sl_err.h) says why a call failed and has no codes for
    outcomes.
*/
#ifndef SL_OUTCOME_H
#define SL_OUTCOME_H

#include <stdbool.h>

/* X(symbol, value, "name", retryable, replica_fault) */
#define SL_OUTCOME_TABLE(X)                                                                        \
    X(SL_OUT_SUCCESS, 0, "success", false, false)                                                  \
    X(SL_OUT_PARTIAL_SUCCESS, 1, "partial_success", false, false) /* success, with a warning */    \
    X(SL_OUT_VERDICT, 2, "verdict", false, false)                 /* cannot succeed anywhere */    \
    X(SL_OUT_TARGETS_UNREACHABLE, 3, "targets_unreachable", true, false)                           \
    X(SL_OUT_ERROR, 4, "error", true, true) /* the analyzer failed: error frame, failed status */  \
    X(SL_OUT_TRANSPORT, 5, "transport", true, true) /* connection closed before a result */        \
    X(SL_OUT_MALFORMED, 6, "malformed", true, true) /* unparseable frame */                        \
    X(SL_OUT_CONNECT_TIMEOUT, 7, "connect_timeout", true, true)                                    \
    X(SL_OUT_PONG_TIMEOUT, 8, "pong_timeout", true, true)                                          \
    X(SL_OUT_QUEUE_TIMEOUT, 9, "queue_timeout", true, false)                                       \
    X(SL_OUT_PROGRESS_TIMEOUT, 10, "progress_timeout", true, true)                                 \
    X(SL_OUT_ATTEMPT_TIMEOUT, 11, "attempt_timeout", true, true)                                   \
    X(SL_OUT_REJECTED, 12, "rejected", true, false) /* queue full, no replica */                   \
    X(SL_OUT_CANCELLED, 13, "cancelled", false, false)                                             \
    X(SL_OUT_INTERRUPTED, 14, "interrupted", true, false) /* the daemon stopped under it */

typedef enum {
#define SL_OUTCOME_ENUM(sym, val, name, retry, fault) sym = val,
    SL_OUTCOME_TABLE(SL_OUTCOME_ENUM)
#undef SL_OUTCOME_ENUM
        SL_OUT__COUNT
} sl_outcome_t;

typedef struct {
    const char *name;
    bool retryable;     /* another attempt may succeed (the pipeline retries it) */
    bool replica_fault; /* the replica is to blame (counts against its breaker) */
} sl_outcome_info_t;

/* The table's row for o, or NULL for a value not in it. */
static inline const sl_outcome_info_t *sl_outcome_info(int o)
{
    static const sl_outcome_info_t rows[SL_OUT__COUNT] = {
#define SL_OUTCOME_ROW(sym, val, name, retry, fault) [val] = {name, retry, fault},
        SL_OUTCOME_TABLE(SL_OUTCOME_ROW)
#undef SL_OUTCOME_ROW
    };
    return o >= 0 && o < SL_OUT__COUNT ? &rows[o] : NULL;
}

static inline const char *sl_outcome_name(int o)
{
    const sl_outcome_info_t *r = sl_outcome_info(o);
    return r ? r->name : "unknown";
}

/* True when another attempt may succeed (the pipeline retries it). */
static inline bool sl_outcome_retryable(int o)
{
    const sl_outcome_info_t *r = sl_outcome_info(o);
    return r && r->retryable;
}

/* True when the replica is to blame (counts against its breaker). */
static inline bool sl_outcome_replica_fault(int o)
{
    const sl_outcome_info_t *r = sl_outcome_info(o);
    return r && r->replica_fault;
}

static inline bool sl_outcome_succeeded(int o)
{
    return o == SL_OUT_SUCCESS || o == SL_OUT_PARTIAL_SUCCESS;
}

#endif
