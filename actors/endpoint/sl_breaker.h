/*  sl_breaker.h: the circuit breaker of one analyzer replica.

    A pure state machine (README, "Retries, breakers, bulkheads"): no clock, no I/O, no threads. The
    caller passes the current monotonic time in milliseconds to every call,
    so tests drive it with explicit times. The endpoint actor owns one
    breaker per replica and is the only thread that touches it.

    closed -> open      after failure_threshold consecutive replica faults,
                        or when more than failure_rate % of the last `window`
                        calls failed (once at least min_calls are in it);
    open -> half_open   when open_ms elapsed (sl_breaker_tick);
    half_open -> closed when the probe (a health_check, or one real call)
                        succeeds;
    half_open -> open   when the probe fails, or no probe answered within
                        half_open_max_wait_ms of entering half_open; the open
                        period doubles each time, up to open_max_ms.
    A close resets the open period and the window.

    Only replica faults count as failures (sl_outcome_replica_fault): the
    caller decides what it records. Results of calls that were admitted
    before the breaker opened are counted in the statistics but do not move
    the state while it is open or half_open.
*/
#ifndef SL_BREAKER_H
#define SL_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/config/sl_config.h"

typedef enum { SL_BREAKER_CLOSED = 0, SL_BREAKER_OPEN, SL_BREAKER_HALF_OPEN } sl_breaker_state_t;

/* "closed", "open", "half_open"; "unknown" otherwise. Static storage. */
const char *sl_breaker_state_name(int state);

/* Defaults: the services/<name>/ keys named below (actors/config). */
typedef struct {
    int failure_threshold;         /* consecutive failures that open it (failure_threshold) */
    int failure_rate_pct;          /* open when failures% > this (failure_rate_pct) */
    int window;                    /* last calls considered for the rate (window), <= 64 */
    int min_calls;                 /* calls needed before the rate counts [5, at most window] */
    int64_t open_ms;               /* first open period (open_for_s) */
    int64_t open_max_ms;           /* doubling cap (open_max_s) */
    int64_t half_open_max_wait_ms; /* longest wait for the probe (half_open_max_s) */
} sl_breaker_config_t;

/* Calls needed before the failure rate counts (not a configuration key). */
#define SL_BREAKER_MIN_CALLS 5

/* Fills cfg from a service's configuration (min_calls: SL_BREAKER_MIN_CALLS,
   at most the window). */
void sl_breaker_config_from_conf(sl_breaker_config_t *cfg, const sl_service_conf_t *svc);

/* Fills cfg with the built-in defaults of the configuration's key table. */
void sl_breaker_config_defaults(sl_breaker_config_t *cfg);

/* SL_ECONFIG when a value is out of range (threshold < 1, rate not in
   0..100, window not in 1..64, min_calls not in 1..window, open_ms < 1,
   open_max_ms < open_ms, half_open_max_wait_ms < 1), else 0. */
int sl_breaker_config_check(const sl_breaker_config_t *cfg);

/* A state change, for events and logs. reason is static storage:
   "consecutive_failures", "failure_rate", "open_elapsed", "probe_succeeded",
   "probe_failed", "probe_timeout". */
typedef struct {
    sl_breaker_state_t from, to;
    const char *reason;
} sl_breaker_transition_t;

typedef struct sl_breaker_t sl_breaker_t;

/* A closed breaker with a copy of cfg (which must pass
   sl_breaker_config_check). Caller owns; NULL on ENOMEM or a bad config. */
sl_breaker_t *sl_breaker_new(const sl_breaker_config_t *cfg);

/* Replaces the settings (cfg must pass sl_breaker_config_check, else
   SL_ECONFIG and nothing changes), keeping the state, the counts and the
   current run of failures; a changed window empties the rate window, and
   the open period is kept within the new open_ms..open_max_ms. */
int sl_breaker_set_config(sl_breaker_t *self, const sl_breaker_config_t *cfg);

/* Accepts NULL; nulls *p. */
void sl_breaker_destroy(sl_breaker_t **p);

sl_breaker_state_t sl_breaker_state(const sl_breaker_t *self);

/* Moves time-driven transitions: open -> half_open once the open period
   elapsed, half_open -> open once the probe wait expired. Returns true and
   fills *tr (may be NULL) when the state changed. Call it before deciding
   admission and when the timer for sl_breaker_next_due fires. */
bool sl_breaker_tick(sl_breaker_t *self, int64_t now_ms, sl_breaker_transition_t *tr);

/* When the next time-driven transition is due (ms), or INT64_MAX when
   closed. */
int64_t sl_breaker_next_due(const sl_breaker_t *self);

/* True when a normal call may go to this replica now: closed only. */
bool sl_breaker_admits(const sl_breaker_t *self);

/* True when the breaker is half_open and its probe has not been taken. */
bool sl_breaker_wants_probe(const sl_breaker_t *self);

/* Takes the half-open probe slot (the caller then sends a health_check or
   one real call and reports it with sl_breaker_record_probe). Returns false
   when not half_open or the slot is already taken. */
bool sl_breaker_take_probe(sl_breaker_t *self, int64_t now_ms);

/* Records the end of a normal call. failure = a replica fault. Returns true
   and fills *tr when the breaker opened. */
bool sl_breaker_record(sl_breaker_t *self, int64_t now_ms, bool failure,
                       sl_breaker_transition_t *tr);

/* Records the end of the probe: success closes, failure re-opens with the
   open period doubled. Ignored (returns false) when no probe was taken, e.g.
   the probe timed out first. Returns true and fills *tr on a transition. */
bool sl_breaker_record_probe(sl_breaker_t *self, int64_t now_ms, bool failure,
                             sl_breaker_transition_t *tr);

/* Statistics for status replies. */
typedef struct {
    sl_breaker_state_t state;
    uint64_t calls;                /* calls recorded (normal and probe) */
    uint64_t failures;             /* of which failed */
    uint32_t consecutive_failures; /* current run */
    int64_t open_until_ms;         /* open: when it half-opens; else 0 */
    int64_t open_period_ms;        /* the period the next opening uses */
    uint32_t window_calls, window_failures;
} sl_breaker_stats_t;

void sl_breaker_stats(const sl_breaker_t *self, sl_breaker_stats_t *out);

/* ---- replica choice --------------------------------------------------- */

/* One replica as the chooser sees it. */
typedef struct {
    const sl_breaker_t *breaker; /* its breaker (borrowed) */
    uint32_t in_flight;          /* attempts running on it now */
    uint32_t max_in_flight;      /* bulkhead */
    double ewma_ms;              /* latency EWMA; 0 = no sample yet */
    bool excluded;               /* the task already failed on it */
    bool suspect;                /* missed a pong, silent since: chosen last */
} sl_breaker_candidate_t;

/* Picks the replica for a call: among replicas whose breaker
   admits a call and that have a free slot, one that is not suspect (missed
   a pong, see sl_endpoint.h) before one that is, then the least in-flight,
   then the lowest latency EWMA, then the lowest index. Excluded replicas are used
   only when no other replica's breaker admits (a full but healthy other
   replica makes the call wait instead). Returns the index, or -1 when the
   call must wait (or be rejected). */
int sl_breaker_pick(const sl_breaker_candidate_t *c, size_t n);

#endif
