/*  mock_faults.h: fault plans for the mock analyzer fleet.

    A fault plan says what a replica does wrong, decided per connection
    (refuse, slow handshake) or per analysis request (everything else). It is
    plain data: parsed once from a spec string, then consulted on the lws
    service thread only. A small seeded PRNG (splitmix64) makes every choice
    reproducible for a given seed and request order.

    Spec syntax: a comma-separated list of items, each one of
        NAME        the fault applies to every request (or connection)
        NAME@N      only the N-th request (1-based) of this replica
        NAME%P      each request independently with probability P percent
    The block fault takes arguments before the @/%: block[=MS][/STAGE]
    (MS default 12000, the real static service's npm block; STAGE a stage
    name of the replica's service, default its first stage). stall and
    disconnect take one: stall[=N], disconnect[=N], N the index of the
    last stage reported before the fault (default: the replica's
    stall_after).
    Evaluation per request: an item NAME@N matching the request's number
    wins; else the first fixed item; else one uniform draw in [0,100) is
    compared to the cumulative P of the NAME%P items; else no fault.
    Names (request-level): ok, hang, freeze, stall, disconnect, error,
    malformed, verdict, block, unreachable. Connection-level: refuse, slow (counted per accepted
    connection instead of per request).
*/
#ifndef SL_MOCK_FAULTS_H
#define SL_MOCK_FAULTS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SL_MOCK_OK = 0,
    SL_MOCK_HANG,        /* nothing is ever sent for the request; WS pings still answered */
    SL_MOCK_FREEZE,      /* like hang, and the connection stops reading (pings unanswered) */
    SL_MOCK_STALL,       /* status/progress for a while, then silence */
    SL_MOCK_DISCONNECT,  /* some progress, then the TCP connection is dropped, no close frame */
    SL_MOCK_ERROR,       /* an error frame instead of the result */
    SL_MOCK_MALFORMED,   /* a non-JSON text frame instead of the result */
    SL_MOCK_VERDICT,     /* outer status success, inner analysis.status error */
    SL_MOCK_REFUSE,      /* connection closed right after accept */
    SL_MOCK_SLOW,        /* WebSocket handshake answered only after slow_ms */
    SL_MOCK_BLOCK,       /* the whole replica stops for ms at a stage, then resumes */
    SL_MOCK_UNREACHABLE, /* the app is down: the analysis runs, its result is targets_unreachable */
    SL_MOCK__FAULT_COUNT
} sl_mock_fault_t;

#define SL_MOCK_PLAN_MAX 16
#define SL_MOCK_BLOCK_MS_DEFAULT 12000
#define SL_MOCK_STAGE_NAME_MAX 32

typedef enum { SL_MOCK_ALWAYS = 0, SL_MOCK_NTH, SL_MOCK_PROB } sl_mock_when_t;

typedef struct {
    sl_mock_fault_t fault;
    sl_mock_when_t when;
    uint64_t nth;                       /* SL_MOCK_NTH: 1-based request number */
    double pct;                         /* SL_MOCK_PROB: 0..100 */
    int64_t ms;                         /* SL_MOCK_BLOCK: how long the replica stops */
    char stage[SL_MOCK_STAGE_NAME_MAX]; /* SL_MOCK_BLOCK: "" = the first stage */
    int after; /* stall, disconnect: last stage index reported; -1 = stall_after */
} sl_mock_plan_item_t;

typedef struct {
    int count;
    sl_mock_plan_item_t items[SL_MOCK_PLAN_MAX];
} sl_mock_plan_t;

/* Name of a fault ("hang"); "?" if out of range. Static storage. */
const char *sl_mock_fault_name(sl_mock_fault_t fault);

/* True for refuse and slow, the faults decided per connection. */
bool sl_mock_fault_is_connection_level(sl_mock_fault_t fault);

/* Parses spec (syntax above) into *plan, replacing its contents. "" and
   "none" give an empty plan. Returns 0 or SL_EINVAL (plan left empty). */
int sl_mock_plan_parse(sl_mock_plan_t *plan, const char *spec);

/* Appends one item (used for the global --fault). Returns 0 or SL_EFULL. */
int sl_mock_plan_add(sl_mock_plan_t *plan, const sl_mock_plan_item_t *item);

/* The fault for request (or connection) number n (1-based), considering
   only request-level items (connection_level false) or only refuse/slow
   (true). *rng is the replica's PRNG state, advanced only when the plan has
   probability items of that level. */
sl_mock_fault_t sl_mock_plan_choose(const sl_mock_plan_t *plan, bool connection_level, uint64_t n,
                                    uint64_t *rng);

/* The same, returning the chosen item (borrowed from plan) for its
   arguments, or NULL for no fault. */
const sl_mock_plan_item_t *sl_mock_plan_choose_item(const sl_mock_plan_t *plan,
                                                    bool connection_level, uint64_t n,
                                                    uint64_t *rng);

/* splitmix64 step: returns the next 64 random bits and advances *state. */
uint64_t sl_mock_rng_next(uint64_t *state);

/* Uniform integer in [lo, hi] (lo <= hi). */
int64_t sl_mock_rng_range(uint64_t *state, int64_t lo, int64_t hi);

#endif
