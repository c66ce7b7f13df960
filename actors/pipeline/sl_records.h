/*  sl_records.h: the pipeline shard's stored records and their vocabulary.

    These are the values the pipeline shards keep in the store's `pipelines`,
    `tasks`, `attempts` and `dlq` databases (docs/internals.md), as plain C
    structs with msgpack encode/decode. No I/O, no threads, no global mutable
    state: safe on any thread for distinct records. Records own their strings
    (heap, free()); sl_<rec>_rec_clear frees them and zeroes the struct.

    Wire form: each record is a msgpack map with str keys. Decoders never
    trust the bytes (they come from disk): a value that is not a map, a known
    key with the wrong type, a status name we do not know, a missing id, or
    trailing bytes are errors (SL_EPROTO, SL_ETRUNC, SL_EMISSING,
    SL_ETRAILING, SL_ETOOBIG); unknown keys are skipped so newer writers stay
    readable. On error the output record is left cleared and nothing leaks.
*/
#ifndef SL_RECORDS_H
#define SL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_catalog.h" /* sl_strs_t */
#include "proto/sl_mp.h"

/* ---- vocabulary ------------------------------------------------------------ */

/* Pipeline status. `pending` until the start request is committed. */
typedef enum {
    SL_PS_PENDING = 0,
    SL_PS_RUNNING,
    SL_PS_COMPLETED,
    SL_PS_PARTIAL, /* "partial_success" */
    SL_PS_FAILED,
    SL_PS_CANCELLED,
    SL_PS__COUNT
} sl_pstatus_t;

/* Pipeline stage: generation, then analysis, then done. */
typedef enum {
    SL_STAGE_GENERATION = 0,
    SL_STAGE_ANALYSIS,
    SL_STAGE_DONE,
    SL_STAGE__COUNT
} sl_stage_t;

/* Task status (README, "Statuses"). pending: waiting for the pipeline's concurrency
   limit; queued: ATTEMPT_START sent, the endpoint has not reported a start;
   running: the endpoint reported progress of the attempt; retry_wait: backing
   off before the next attempt; dead: parked in the DLQ. */
typedef enum {
    SL_TS_PENDING = 0,
    SL_TS_QUEUED,
    SL_TS_RUNNING,
    SL_TS_RETRY_WAIT,
    SL_TS_SUCCEEDED,
    SL_TS_FAILED,
    SL_TS_CANCELLED,
    SL_TS_DEAD,
    SL_TS__COUNT
} sl_tstatus_t;

typedef enum { SL_TK_GENERATION = 0, SL_TK_ANALYSIS, SL_TK__COUNT } sl_tkind_t;

/* Names as stored and shown ("partial_success", "retry_wait", ...); "unknown"
   out of range. Static storage. */
const char *sl_pstatus_name(int s);
const char *sl_stage_name(int s);
const char *sl_tstatus_name(int s);
const char *sl_tkind_name(int k);

/* Name (s, len) -> value; SL_ENOTFOUND for an unknown name. */
int sl_pstatus_parse(const char *s, size_t len);
int sl_stage_parse(const char *s, size_t len);
int sl_tstatus_parse(const char *s, size_t len);
int sl_tkind_parse(const char *s, size_t len);

static inline bool sl_pstatus_terminal(int s)
{
    return s == SL_PS_COMPLETED || s == SL_PS_PARTIAL || s == SL_PS_FAILED || s == SL_PS_CANCELLED;
}

static inline bool sl_tstatus_terminal(int s)
{
    return s == SL_TS_SUCCEEDED || s == SL_TS_FAILED || s == SL_TS_CANCELLED || s == SL_TS_DEAD;
}

/* Limits enforced by the decoders (and the encoders). */
#define SL_REC_MAX_STR 4096u          /* one string field (errors are truncated to it) */
#define SL_REC_MAX_REQUEST (1u << 20) /* the stored start request */
#define SL_REC_MAX_HISTORY 256u       /* attempts kept per task */
#define SL_REC_MAX_EXCLUDE 64u        /* replicas in a task's exclude list */

/* ---- attempt: `attempts` db, key <task_id>-a<2 digits>; also the entries of a
   task's history and of a DLQ entry ------------------------------------------ */

typedef struct {
    char *task_id;      /* absent inside a task record's history */
    uint32_t attempt;   /* 1-based */
    char *replica;      /* URL, or NULL when none was chosen */
    int64_t started_ms; /* wall ms; 0 unknown */
    int64_t ended_ms;
    int32_t outcome; /* sl_outcome_t, -1 while running */
    char *error;
    char *last_stage; /* last progress checkpoint */
    int32_t last_pct; /* -1 unknown */
    char *last_message;
    char *last_checkpoint; /* the analyzer's resumable checkpoint, if it sent one */
} sl_attempt_rec_t;

int sl_attempt_rec_write(const sl_attempt_rec_t *self, sl_mp_writer_t *w);
int sl_attempt_rec_encode(const sl_attempt_rec_t *self, uint8_t **out, size_t *len);
/* Reads one record map at r's position (advancing r). */
int sl_attempt_rec_read(sl_mp_reader_t *r, sl_attempt_rec_t *out);
int sl_attempt_rec_decode(const uint8_t *buf, size_t len, sl_attempt_rec_t *out);
void sl_attempt_rec_clear(sl_attempt_rec_t *self);
/* Deep copy into *dst (cleared first). 0 or SL_ENOMEM (dst cleared). */
int sl_attempt_rec_copy(sl_attempt_rec_t *dst, const sl_attempt_rec_t *src);

/* Store key of an attempt: "<task_id>-a<NN>" into buf; SL_ETOOBIG if cap is
   too small. */
int sl_attempt_key(char *buf, size_t cap, const char *task_id, uint32_t attempt);

/* ---- task: `tasks` db, key = task id ----------------------------------------- */

typedef struct {
    char *id;          /* REQ: <pipeline_id>-tNNNN */
    char *pipeline_id; /* REQ */
    uint32_t index;    /* NNNN */
    int32_t kind;      /* sl_tkind_t */
    int32_t service;   /* sl_service_t (actors/pipeline/sl_plan.h) */
    int32_t status;    /* sl_tstatus_t */
    char *model;
    char *template_slug;
    int64_t app_number;        /* -1 unknown (a generation task before it succeeds) */
    uint32_t attempts;         /* attempts started so far (the current one included) */
    uint32_t attempt_base;     /* attempts before the last DLQ retry (budget offset) */
    uint32_t dlq_returns;      /* times parked in the DLQ */
    bool in_dlq;               /* has an entry in the dlq db (dead and not dropped) */
    bool redispatch;           /* the last attempt was interrupted (the endpoint stopping):
                                  the next dispatch reuses its number, uncounted; optional,
                                  absent (older records) = false */
    uint32_t timeout_permille; /* timeouts scale, 1000 = x1, x1.5 per DLQ retry */
    int32_t outcome;           /* last attempt's sl_outcome_t, -1 none */
    int64_t created_ms;        /* wall ms */
    int64_t updated_ms;
    int64_t deadline_ms; /* task_timeout deadline, wall ms; 0 = not armed */
    int64_t retry_at_ms; /* retry_wait: when to re-queue; wall ms */
    char *error;
    char *progress_stage;
    int32_t progress_pct; /* -1 unknown */
    char *progress_message;
    sl_strs_t exclude;         /* replicas this task failed on */
    sl_attempt_rec_t *history; /* every attempt, oldest first */
    uint32_t nhistory;
} sl_task_rec_t;

int sl_task_rec_encode(const sl_task_rec_t *self, uint8_t **out, size_t *len);
int sl_task_rec_decode(const uint8_t *buf, size_t len, sl_task_rec_t *out);
void sl_task_rec_clear(sl_task_rec_t *self);

/* ---- pipeline: `pipelines` db, key = pipeline id ------------------------------ */

typedef struct {
    char *id; /* REQ */
    char *name;
    int32_t status; /* sl_pstatus_t */
    int32_t stage;  /* sl_stage_t */
    bool user_cancelled;
    int64_t created_ms; /* wall ms */
    int64_t started_ms;
    int64_t completed_ms; /* 0 while not terminal */
    int64_t stage_started_ms;
    int64_t stage_deadline_ms;    /* wall ms, 0 = none */
    int64_t pipeline_deadline_ms; /* wall ms, 0 = none */
    char *error;                  /* error_message */
    uint32_t ntasks;              /* tasks created so far (next index) */
    /* Resolved policy (request values over the defaults at start), so a
       restart with a different config keeps the pipeline's own terms. */
    int64_t task_timeout_ms, stage_timeout_ms, pipeline_timeout_ms;
    int64_t attempt_timeout_ms, progress_timeout_ms, queue_timeout_ms;
    uint32_t max_attempts;
    int64_t backoff_initial_ms, backoff_max_ms;
    double backoff_coefficient;
    uint8_t *request; /* the start request map, msgpack (owned) */
    size_t request_len;
} sl_pipeline_rec_t;

int sl_pipeline_rec_encode(const sl_pipeline_rec_t *self, uint8_t **out, size_t *len);
int sl_pipeline_rec_decode(const uint8_t *buf, size_t len, sl_pipeline_rec_t *out);
void sl_pipeline_rec_clear(sl_pipeline_rec_t *self);

/* ---- DLQ entry: `dlq` db, key = task id -------------------------------------- */

typedef struct {
    char *task_id;     /* REQ */
    char *pipeline_id; /* REQ */
    char *service;     /* service name */
    uint32_t attempts; /* attempts the task used in all */
    uint32_t returns;  /* times parked (3 = alert raised, stays parked) */
    int64_t parked_ms; /* wall ms */
    char *error;
    sl_attempt_rec_t *history;
    uint32_t nhistory;
} sl_dlq_rec_t;

int sl_dlq_rec_encode(const sl_dlq_rec_t *self, uint8_t **out, size_t *len);
int sl_dlq_rec_decode(const uint8_t *buf, size_t len, sl_dlq_rec_t *out);
void sl_dlq_rec_clear(sl_dlq_rec_t *self);

#endif
