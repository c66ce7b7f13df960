/*  sl_pipeline.h: the pipeline shard actor, and the pure rules it applies.

    A shard (`pipeline.<i>`) hosts many pipeline state machines and their
    tasks: it owns their statuses, the retry policy, the task/stage/pipeline
    deadlines, the DLQ hand-off and the one rule that decides a pipeline's
    final status. Pipelines are hashed to shards by id (sl_ids_shard_of).
    One thread per shard, never one per pipeline or task. Every state change
    goes to the `store` actor as a STORE_WRITE (records + events in one group);
    attempts go to `endpoint.<service>` as ATTEMPT_START and come back as
    ATTEMPT_PROGRESS / ATTEMPT_RESULT. docs/internals.md has the names, keys
    and flows; actors/pipeline/sl_records.h the stored records; actors/pipeline/sl_plan.h the
    start request.

    Recovery: the shard's init blocks (before the actor is ready) on
    sl_port requests to `store` to load every pipeline of its shard and the
    tasks of each, so `store` must be running before shards are spawned.
    Non-terminal pipelines resume: committed results are never re-run, tasks
    that were queued/running are re-dispatched with the same attempt number
    (the interrupted attempt does not count), retry_wait tasks re-arm their
    backoff, deadlines continue from their stored wall-clock values.

    Shutdown: a PIPELINE_DRAIN request (proto/sl_catalog.def) makes the
    shard stop starting attempts until it is destroyed; attempts already
    sent still end normally (results applied and persisted) and the reply
    counts those still in flight. What was held back resumes by recovery.
*/
#ifndef SL_PIPELINE_H
#define SL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/pipeline/sl_plan.h"
#include "actors/pipeline/sl_records.h"
#include "runtime/sl_actor.h"

/* ---- configuration -------------------------------------------------------------- */

typedef struct {
    int shards;                  /* [number of cores] shards in the daemon */
    sl_plan_defaults_t defaults; /* timeouts, retry, concurrency (sl_plan.h) */
    int64_t store_timeout_ms;    /* [10000] STORE_WRITE ack / recovery reads */
    uint64_t seed;               /* [0 = from the clock] jitter seed */
    uint32_t dlq_alert_returns;  /* [3] the return to the DLQ that alerts */
    double dlq_timeout_factor;   /* [1.5] timeouts scale per dlq.retry */
    bool recover;                /* [true] load from the store at start */
    int64_t retention_ms;        /* [0 = keep] finished pipelines older than this
                                    (by completed_at) are deleted with their tasks,
                                    attempts and results, unless a task is still
                                    parked in the DLQ; swept every min(retention,
                                    60 s) */
    int64_t evict_after_ms;      /* [0 = keep] a finished pipeline (no task in the
                                    DLQ) not asked for this long leaves memory and
                                    is read back from the store when an API op
                                    names it; swept every min(this, 60 s) */
    /* Fault hook for tests: lose every n-th "last task terminal -> finalize"
       step (0 = off), so the watchdog's WD_RECONCILE must finish the job. */
    uint32_t drop_finalize_every_n;
} sl_pipeline_config_t;

/* Fills the defaults in brackets above. */
void sl_pipeline_config_init(sl_pipeline_config_t *self);

/* Spawns shard `shard` as actor "pipeline.<shard>" (0 <= shard < cfg->shards).
   cfg is copied. With cfg->recover the init loads this shard's pipelines from
   `store` (blocking, bounded by store_timeout_ms per read) and fails with that
   error if the store does not answer. Returns 0 and *out (caller owns; destroy
   with sl_actor_destroy), SL_EINVAL, SL_EEXIST, or the recovery error. */
int sl_pipeline_spawn(sl_rt_t *rt, const sl_pipeline_config_t *cfg, int shard, sl_actor_t **out);

/* ---- helpers for the api and tools --------------------------------------------------- */

#define SL_PIPELINE_ID_MAX 32 /* "p" + 12 + 6 hex + NUL, with room */
#define SL_TASK_ID_MAX 48

/* Pipeline ids, task ids and shard routing: proto/sl_ids.h. */

/* ---- the final-status rule ------------------------------------------------------------ */

typedef struct {
    uint32_t total;
    uint32_t succeeded;
    uint32_t failed;
    uint32_t running; /* queued + running at the endpoint */
    uint32_t queued;  /* pending + retry_wait */
    uint32_t cancelled;
    uint32_t dead;
} sl_pipeline_counts_t;

/* The one function that decides how a pipeline ends, given the counts of its
   tasks once nothing is live: user_cancelled -> cancelled; every task
   succeeded (or no task at all) -> completed; none succeeded -> failed;
   otherwise partial_success. A deadline ends a pipeline with the same rule
   (the caller adds an error message naming the deadline). */
sl_pstatus_t sl_pipeline_final_status(const sl_pipeline_counts_t *c, bool user_cancelled);

#endif
