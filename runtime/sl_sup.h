/*  sl_sup.h: supervision, one_for_one as in OTP.

    A supervisor is an actor that spawns its children with itself as parent.
    When a child exits with an error (reason < 0) the supervisor restarts it
    from its spec, unless more than `intensity` restarts happened within
    `period_ms`, in which case the supervisor gives up: it stops its other
    children and exits with SL_EFATAL, telling its own parent. A child that
    exits with reason 0 (asked to stop) is not restarted. Every exit and
    restart is logged and counted.
*/
#ifndef SL_SUP_H
#define SL_SUP_H

#include "runtime/sl_actor.h"

typedef struct {
    int intensity;      /* max restarts in period (default 3) */
    int64_t period_ms;  /* default 5000 */
} sl_sup_policy_t;

/* Spawns a supervisor named `name` and then each child (specs are copied;
   their args must outlive the supervisor). Returns once every child is
   ready. Caller owns *out; destroying it stops the children first. */
int sl_sup_spawn(sl_rt_t *rt, const char *name, sl_sup_policy_t policy,
                 const sl_actor_spec_t *children, size_t n_children, sl_actor_t **out);

/* Any thread: how many restarts the supervisor did so far. */
uint64_t sl_sup_restarts(sl_actor_t *sup);

#endif
