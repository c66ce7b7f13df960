/*  sl_pipeline_int.h: internals shared by the pipeline shard's files.

    Six files, each with one job, each calling only the ones after it:
      sl_pipeline.c        the actor: spawn, message dispatch, recovery at
                           start, the watchdog protocol, the drain, retention;
      sl_pipeline_api.c    the client API ops (validate, act, answer);
      sl_pipeline_fsm.c    the state machine of pipelines and tasks
                           (creation, dispatch, results, retries, deadlines,
                           the DLQ, finalization);
      sl_pipeline_rec.c    tasks and pipelines to and from their stored
                           records (actors/pipeline/sl_records.def), their
                           saves, and the API views;
      sl_pipeline_store.c  string tables, task ids, the clock, the store
                           batch every change goes through, the events;
      sl_pipeline_table.c  the shard's pipelines and each pipeline's
                           tasks in memory: allocation, indexes, counts.
    Everything here runs on the shard's own thread only.

    Design notes
    - Memory: a task is one compact struct (~200 bytes) whose model, template,
      service stage and replica strings are interned per shard; only error and
      progress messages and the attempt history are owned per task.
    - Time: every pipeline and task time is wall-clock ms from the runtime
      clock (sl_clock_wall_ms), stored as such, so deadlines survive a
      restart; timers are armed with the remaining delay.
    - Writes: changes are appended to one batch (ops + events) and sent as a
      single fire-and-forget STORE_WRITE at the end of each message or timer
      callback (sl_pl_flush). Sends to `store` from one actor arrive in order,
      so a later write never overtakes an earlier one. Only pipeline.start
      waits for a STORE_ACK before answering the client.
    - Concurrency limits: per pipeline and per stage kind, `live` counts tasks
      holding a slot (queued, running, retry_wait); pending tasks wait in a
      FIFO until a slot frees.
    - Drain (PIPELINE_DRAIN, at shutdown): `draining` stops the two places
      that start attempts, sl_pl_pipe_pump and the retry timer; everything
      else (results, deadlines, the watchdog) runs as usual. Held-back tasks
      keep their stored status (and a retry_wait task its retry_at), so the
      next start's recovery dispatches them.
*/
#ifndef SL_PIPELINE_INT_H
#define SL_PIPELINE_INT_H

#include "actors/pipeline/sl_explain.h"
#include "actors/pipeline/sl_pipeline.h"
#include "proto/sl_ids.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "runtime/sl_map.h"

typedef struct sl_pl_shard_t sl_pl_shard_t;
typedef struct sl_pl_pipe_t sl_pl_pipe_t;

/* Task indices per pipeline are below this (a bound on stored ntasks). */
#define SL_PL_MAX_TASKS 1000000u

/* Task flags */
#define SL_PL_T_IN_DLQ 0x01      /* has an entry in the dlq db */
#define SL_PL_T_REDISPATCH 0x02  /* next dispatch reuses the attempt number (stored) */
#define SL_PL_T_ESCALATED 0x04   /* runs the plan's escalation profile (stored) */
#define SL_PL_T_ESC_DECIDED 0x08 /* the app's escalation rule was applied (stored) */

typedef struct {
    sl_pl_pipe_t *pipe;
    uint32_t index;
    uint8_t kind;    /* sl_tkind_t */
    uint8_t service; /* sl_service_t */
    uint8_t status;  /* sl_tstatus_t */
    uint8_t flags;   /* SL_PL_T_* */
    uint16_t attempts;
    uint16_t attempt_base;
    uint16_t dlq_returns;
    uint16_t timeout_permille;
    int16_t outcome;
    int16_t progress_pct;
    int32_t app_number;
    int32_t issues;             /* issues its success reported, -1 none */
    const char *model;          /* interned */
    const char *tmpl;           /* interned */
    const char *progress_stage; /* interned */
    char *progress_message;     /* owned */
    char *error;                /* owned */
    char *warning;              /* owned: what the success left out, NULL none */
    char *resume_from;          /* owned: the last checkpoint any attempt reached, NULL none */
    sl_explain_t detail;        /* owned: error_detail of a timeout, code NULL none */
    uint8_t *partial;           /* owned: the live attempt's latest partial result
                                   (JSON), stored when it ends without one */
    size_t partial_len;
    int64_t created_ms, updated_ms, deadline_ms, retry_at_ms;
    uint64_t deadline_timer, retry_timer;
    const char **exclude; /* interned replicas, owned array */
    uint16_t nexclude;
    uint16_t nhist;
    sl_attempt_rec_t *hist; /* task_id left NULL in memory */
} sl_pl_task_t;

struct sl_pl_pipe_t {
    sl_pl_shard_t *sh;
    char id[SL_PIPELINE_ID_MAX];
    char *name;
    sl_plan_t *plan;  /* NULL when the stored request could not be parsed */
    uint8_t *request; /* the start request, msgpack (owned) */
    size_t request_len;
    uint8_t status; /* sl_pstatus_t */
    uint8_t stage;  /* sl_stage_t */
    bool user_cancelled;
    bool committed; /* the start write was acknowledged */
    int64_t created_ms, started_ms, completed_ms, stage_started_ms;
    int64_t stage_deadline_ms, pipeline_deadline_ms, last_change_ms;
    char *error;
    sl_pl_task_t **tasks;
    uint32_t ntasks, cap;
    uint32_t cnt[SL_TS__COUNT]; /* tasks per status */
    uint32_t gen_total, gen_terminal;
    uint32_t live[SL_TK__COUNT]; /* tasks holding a concurrency slot */
    uint32_t *pq[SL_TK__COUNT];  /* pending FIFO of task indices */
    uint32_t pq_head[SL_TK__COUNT], pq_len[SL_TK__COUNT], pq_cap[SL_TK__COUNT];
    uint64_t stage_timer, pipeline_timer;
    sl_msg_t *start_req; /* pipeline.start waiting for its STORE_ACK */
    int64_t touched_ms;  /* last named by an API op (eviction), wall ms */
};

struct sl_pl_shard_t {
    sl_actor_t *self;
    sl_pipeline_config_t cfg;
    int index;
    char name[SL_NAME_MAX];
    sl_pl_pipe_t **pipes; /* creation (= id) order */
    size_t npipes, cap;
    sl_map_t byid;   /* id -> pipe (string keys: p->id) */
    sl_map_t intern; /* string -> the same string (owned) */
    uint64_t rng;
    sl_mp_writer_t ops, events;
    uint32_t nops, nevents;
    uint64_t finalize_chances; /* for drop_finalize_every_n */
    uint64_t dropped_results;  /* stale/unknown attempt results */
    uint64_t store_errors;
    uint64_t retention_timer;
    uint64_t evict_timer;
    uint64_t evicted; /* pipelines evicted (counter) */
    sl_port_t *port;  /* reads from `store` for reloads (cfg.evict_after_ms) */
    bool draining;    /* PIPELINE_DRAIN seen: no new attempts until the shard stops */
};

/* ---- sl_pipeline.c (the one call back into it) ------------------------------ */

/* With eviction on: the pipeline id of this shard read back from the store
   into memory (with its tasks), NULL when it is not there (or eviction is
   off, or the store did not answer). Blocks on the store. */
sl_pl_pipe_t *sl_pl_reload(sl_pl_shard_t *sh, const char *id);

/* A pipeline.list entry of a pipeline that is only in the store. */
typedef struct {
    char id[SL_PIPELINE_ID_MAX];
    uint8_t *brief; /* its brief view (msgpack map), owned */
    size_t len;
} sl_pl_brief_t;

/* With eviction on: the newest (at most limit) pipelines of this shard
   that are only in the store, of status want (-1 any), oldest first, in
   *out (caller frees each brief and the array); returns how many. */
size_t sl_pl_list_stored(sl_pl_shard_t *sh, int want, uint32_t limit, sl_pl_brief_t **out);

/* ---- sl_pipeline_store.c --------------------------------------------------- */

int64_t sl_pl_now(sl_pl_shard_t *sh); /* wall ms */
const char *sl_pl_intern(sl_pl_shard_t *sh, const char *s);

/* Frees the interned strings and the table. */
void sl_pl_intern_fini(sl_pl_shard_t *sh);

void sl_pl_task_id(const sl_pl_task_t *t, char *buf, size_t cap);
sl_pl_task_t *sl_pl_find_task(sl_pl_shard_t *sh, const char *task_id);

/* Store batch */
void sl_pl_op_put(sl_pl_shard_t *sh, int db, const char *key, const void *val, size_t len);
void sl_pl_op_del(sl_pl_shard_t *sh, int db, const char *key);
/* Sends the batch; with fn the write is a request whose ack calls fn. */
int sl_pl_flush(sl_pl_shard_t *sh, sl_reply_fn *fn, void *arg);

/* Events (docs/internals.md has the fields), appended to the batch */
void sl_pl_ev_pipe_status(sl_pl_pipe_t *p);
void sl_pl_ev_pipe_stage(sl_pl_pipe_t *p);
void sl_pl_ev_task_status(sl_pl_task_t *t);
void sl_pl_ev_task_progress(sl_pl_task_t *t);
void sl_pl_ev_alert(sl_pl_shard_t *sh, const char *kind, const char *message, const char *subject);

/* Counts per status kind, as pipeline.get shows them. */
static inline void sl_pl_counts(const sl_pl_pipe_t *p, sl_pipeline_counts_t *c)
{
    *c = (sl_pipeline_counts_t){0};
    c->total = p->ntasks;
    c->succeeded = p->cnt[SL_TS_SUCCEEDED];
    c->failed = p->cnt[SL_TS_FAILED];
    c->running = p->cnt[SL_TS_QUEUED] + p->cnt[SL_TS_RUNNING];
    c->queued = p->cnt[SL_TS_PENDING] + p->cnt[SL_TS_RETRY_WAIT];
    c->cancelled = p->cnt[SL_TS_CANCELLED];
    c->dead = p->cnt[SL_TS_DEAD];
}

/* ---- sl_pipeline_rec.c ------------------------------------------------------ */

/* Task -> record: rec borrows t's strings and arrays (valid while t is
   unchanged); id (idcap >= SL_TASK_ID_MAX) receives the task id. */
void sl_pl_task_to_rec(const sl_pl_task_t *t, sl_task_rec_t *rec, char *id, size_t idcap);
/* Record -> a new task of p, not yet in p (sl_pl_task_attach does that):
   takes over rec's error, progress message and history (left NULL in
   rec); NULL for a record that does not fit (index, kind, service) or out
   of memory. */
sl_pl_task_t *sl_pl_task_from_rec(sl_pl_pipe_t *p, sl_task_rec_t *rec);
/* The DLQ entry of a task parked at parked_ms (borrowing like to_rec; its
   error_detail is written in scratch, which the caller owns). */
void sl_pl_task_to_dlq_rec(const sl_pl_task_t *t, int64_t parked_ms, sl_dlq_rec_t *rec, char *id,
                           size_t idcap, sl_mp_writer_t *scratch);
/* Pipeline -> record, borrowing p's strings and request. */
void sl_pl_pipe_to_rec(const sl_pl_pipe_t *p, sl_pipeline_rec_t *rec);
/* Record -> the fields of a new pipeline p (from sl_pl_pipe_new): takes
   over rec's name, error and request, parses the plan under the stored
   terms (p->plan stays NULL, logged, if the request is unreadable) and
   sizes p->tasks to the record's ntasks. 0 or SL_ECORRUPT. */
int sl_pl_pipe_from_rec(sl_pl_pipe_t *p, sl_pipeline_rec_t *rec);

/* Saves: the record appended to the store batch (an encoding failure is
   counted in store_errors and logged). */
void sl_pl_save_pipe(sl_pl_pipe_t *p);
void sl_pl_save_task(sl_pl_task_t *t);
void sl_pl_save_attempt(sl_pl_task_t *t); /* the newest history entry */
void sl_pl_save_dlq(sl_pl_task_t *t, int64_t parked_ms);

/* API views (README, "API"): task.get (full) and the tasks of pipeline.get,
   pipeline.get, and a pipeline.list entry. */
void sl_pl_view_task(sl_mp_writer_t *w, const sl_pl_task_t *t, bool full);
/* "error_detail": {code, message, suggestion}, or nil when d has no code. */
void sl_pl_view_detail(sl_mp_writer_t *w, const sl_explain_t *d);
void sl_pl_view_pipe(sl_mp_writer_t *w, const sl_pl_pipe_t *p);
void sl_pl_view_pipe_brief(sl_mp_writer_t *w, const sl_pl_pipe_t *p);

/* ---- sl_pipeline_fsm.c ------------------------------------------------------ */

/* Pipelines */
void sl_pl_pipe_free(sl_pl_pipe_t *p);
/* Creates the initial tasks of a planned pipeline (status running, not yet
   dispatched), writes everything, arms its deadlines. */
int sl_pl_pipe_create(sl_pl_pipe_t *p);
/* Starts dispatching (after the start commit, or on recovery). */
void sl_pl_pipe_pump(sl_pl_pipe_t *p);
void sl_pl_pipe_cancel(sl_pl_pipe_t *p);
/* Ends the pipeline now with the final-status rule; why: NULL or a reason
   (an error message naming a deadline, a reconcile reason). */
void sl_pl_pipe_finalize(sl_pl_pipe_t *p, const char *why);
void sl_pl_pipe_fail(sl_pl_pipe_t *p, const char *why);
/* Deletes a finished pipeline from the store (records, attempts, results)
   and from memory; p is freed. */
void sl_pl_pipe_purge(sl_pl_pipe_t *p);
/* Watchdog reconcile: re-pump, re-arm, end a past deadline, finalize when
   nothing is live. */
void sl_pl_pipe_reconcile(sl_pl_pipe_t *p, const char *reason);
/* Re-arms timers and re-dispatches after loading from the store. */
void sl_pl_pipe_resume(sl_pl_pipe_t *p);
uint32_t sl_pl_live_attempts(const sl_pl_pipe_t *p);
/* Attempts sent with no result yet (queued + running tasks) and tasks held
   back by a drain (pending + retry_wait), over the whole shard. */
void sl_pl_drain_counts(const sl_pl_shard_t *sh, uint64_t *in_flight, uint64_t *held);

/* Tasks */
sl_pl_task_t *sl_pl_task_add(sl_pl_pipe_t *p, int kind, int service, const char *model,
                             const char *tmpl, int64_t app_number);
void sl_pl_task_free(sl_pl_task_t *t);
void sl_pl_task_cancel(sl_pl_task_t *t, const char *why);
int sl_pl_task_dlq_retry(sl_pl_task_t *t);
void sl_pl_task_dlq_drop(sl_pl_task_t *t);
void sl_pl_on_progress(sl_pl_shard_t *sh, const sl_attempt_progress_t *m);
void sl_pl_on_result(sl_pl_shard_t *sh, const sl_attempt_result_t *m);

/* ---- sl_pipeline_api.c ------------------------------------------------------ */

/* Answers one API_CALL (always exactly one API_RESULT reply). */
void sl_pl_on_api_call(sl_pl_shard_t *sh, const sl_msg_t *msg);

/* ---- sl_pipeline_table.c ---------------------------------------------------- */

/* A new pipeline (not yet in the shard); NULL for an id too long or out of
   memory. */
sl_pl_pipe_t *sl_pl_pipe_new(sl_pl_shard_t *sh, const char *id);
/* Into / out of the shard's id-ordered list and its index by id. */
int sl_pl_pipe_add(sl_pl_shard_t *sh, sl_pl_pipe_t *p);
void sl_pl_pipe_remove(sl_pl_shard_t *sh, sl_pl_pipe_t *p);
/* A new task of p with the record defaults, room made for it at index
   p->ntasks; not yet linked. NULL out of memory. */
sl_pl_task_t *sl_pl_task_new(sl_pl_pipe_t *p);
/* Puts t at its index in p and counts it (status, generation totals). */
void sl_pl_task_link(sl_pl_pipe_t *p, sl_pl_task_t *t);
/* Puts a task loaded from its record into its pipeline (counts, slots).
   0, SL_EEXIST for an index already taken, SL_ENOMEM. */
int sl_pl_task_attach(sl_pl_pipe_t *p, sl_pl_task_t *t);
/* Queued, running or retry_wait: the task holds one of its kind's slots. */
bool sl_pl_task_holds_slot(const sl_pl_task_t *t);

#endif
