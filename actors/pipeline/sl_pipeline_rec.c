/*  sl_pipeline_rec.c: a shard's tasks and pipelines as stored records and
    as the API shows them: each to-record / from-record pair side by side,
    the saves that put records into the store batch, and the API views.

    Runs on the shard's thread only. The records themselves are declared in
    actors/pipeline/sl_records.def; this file is where a stored field is
    carried between the shard's compact structs (sl_pipeline_int.h) and its
    record, both ways, and shown to clients. test_pipeline_rec drives every
    declared field through these converters and fails on one that is not
    carried. Calls only sl_pipeline_store.c (ids, interning, the batch).
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_outcome.h"
#include "runtime/sl_log.h"

/* Appends rec (of schema d) to the store batch as db/key; a record that
   does not encode is counted in store_errors and logged, never written. */
static void s_save(sl_pl_shard_t *sh, int db, const char *key, const sl_msg_desc_t *d,
                   const void *rec)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int erc = sl_codec_encode(d, rec, &buf, &len);
    if (erc < 0) {
        sh->store_errors++;
        sl_error("%s: cannot encode a %s record: %s", sh->name, d->name, sl_err_name(erc));
    } else {
        sl_pl_op_put(sh, db, key, buf, len);
    }
    free(buf);
}

/* {code, message, suggestion} of a timeout's error_detail. */
static void s_detail_map(sl_mp_writer_t *w, const sl_explain_t *d)
{
    sl_mp_write_map(w, 3);
    sl_mp_kv_str(w, "code", d->code);
    sl_mp_kv_str(w, "message", d->message);
    sl_mp_kv_str(w, "suggestion", d->suggestion);
}

/* ---- task ------------------------------------------------------------------ */

void sl_pl_task_to_rec(const sl_pl_task_t *t, sl_task_rec_t *rec, char *id, size_t idcap)
{
    sl_pl_task_id(t, id, idcap);
    sl_task_rec_init(rec);
    rec->id = id;
    rec->pipeline_id = (char *)t->pipe->id;
    rec->index = t->index;
    rec->kind = t->kind;
    rec->service = t->service;
    rec->status = t->status;
    rec->model = (char *)t->model;
    rec->template_slug = (char *)t->tmpl;
    rec->app_number = t->app_number;
    rec->attempts = t->attempts;
    rec->attempt_base = t->attempt_base;
    rec->dlq_returns = t->dlq_returns;
    rec->in_dlq = (t->flags & SL_PL_T_IN_DLQ) != 0;
    rec->redispatch = (t->flags & SL_PL_T_REDISPATCH) != 0;
    rec->timeout_permille = t->timeout_permille;
    rec->outcome = t->outcome;
    rec->created_ms = t->created_ms;
    rec->updated_ms = t->updated_ms;
    rec->deadline_ms = t->deadline_ms;
    rec->retry_at_ms = t->retry_at_ms;
    rec->error = t->error;
    rec->warning = t->warning;
    rec->resume_from = t->resume_from;
    rec->error_code = t->detail.code;
    rec->error_text = t->detail.message;
    rec->error_suggestion = t->detail.suggestion;
    rec->progress_stage = (char *)t->progress_stage;
    rec->progress_pct = t->progress_pct;
    rec->progress_message = t->progress_message;
    rec->exclude.v = (char **)t->exclude;
    rec->exclude.n = t->nexclude;
    rec->escalated = (t->flags & SL_PL_T_ESCALATED) != 0;
    rec->escalation_decided = (t->flags & SL_PL_T_ESC_DECIDED) != 0;
    rec->issues = t->issues;
    rec->history.v = t->hist;
    rec->history.n = t->nhist;
}

sl_pl_task_t *sl_pl_task_from_rec(sl_pl_pipe_t *p, sl_task_rec_t *rec)
{
    sl_pl_shard_t *sh = p->sh;
    if (rec->index >= SL_PL_MAX_TASKS || rec->kind < 0 || rec->kind >= SL_TK__COUNT ||
        rec->service < 0 || rec->service >= SL_SVC__COUNT || rec->status < 0 ||
        rec->status >= SL_TS__COUNT) {
        return NULL;
    }
    sl_pl_task_t *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->pipe = p;
    t->index = rec->index;
    t->kind = (uint8_t)rec->kind;
    t->service = (uint8_t)rec->service;
    t->status = (uint8_t)rec->status;
    t->flags =
        (uint8_t)((rec->in_dlq ? SL_PL_T_IN_DLQ : 0) | (rec->redispatch ? SL_PL_T_REDISPATCH : 0) |
                  (rec->escalated ? SL_PL_T_ESCALATED : 0) |
                  (rec->escalation_decided ? SL_PL_T_ESC_DECIDED : 0));
    t->issues = (int32_t)(rec->issues < -1 || rec->issues > INT32_MAX ? -1 : rec->issues);
    t->attempts = (uint16_t)(rec->attempts > 60000 ? 60000 : rec->attempts);
    t->attempt_base = (uint16_t)(rec->attempt_base > t->attempts ? t->attempts : rec->attempt_base);
    t->dlq_returns = (uint16_t)(rec->dlq_returns > 60000 ? 60000 : rec->dlq_returns);
    t->timeout_permille = (uint16_t)(rec->timeout_permille < 1 || rec->timeout_permille > 60000
                                         ? 1000
                                         : rec->timeout_permille);
    t->outcome = (int16_t)rec->outcome;
    t->progress_pct = (int16_t)rec->progress_pct;
    t->app_number = (int32_t)rec->app_number;
    t->model = sl_pl_intern(sh, rec->model);
    t->tmpl = sl_pl_intern(sh, rec->template_slug);
    t->progress_stage = sl_pl_intern(sh, rec->progress_stage);
    t->progress_message = rec->progress_message;
    rec->progress_message = NULL;
    t->error = rec->error;
    rec->error = NULL;
    t->warning = rec->warning;
    rec->warning = NULL;
    t->resume_from = rec->resume_from;
    rec->resume_from = NULL;
    if (rec->error_code) {
        t->detail = (sl_explain_t){rec->error_code, rec->error_text, rec->error_suggestion};
        rec->error_code = rec->error_text = rec->error_suggestion = NULL;
    }
    t->created_ms = rec->created_ms;
    t->updated_ms = rec->updated_ms;
    t->deadline_ms = rec->deadline_ms;
    t->retry_at_ms = rec->retry_at_ms;
    if (rec->exclude.n) {
        t->exclude = calloc(rec->exclude.n, sizeof(*t->exclude));
        for (size_t i = 0; t->exclude && i < rec->exclude.n; i++) {
            t->exclude[t->nexclude++] = sl_pl_intern(sh, rec->exclude.v[i]);
        }
    }
    t->hist = rec->history.v;
    t->nhist = (uint16_t)rec->history.n;
    rec->history.v = NULL;
    rec->history.n = 0;
    for (uint16_t i = 0; i < t->nhist; i++) {
        free(t->hist[i].task_id); /* the task's id is the key; NULL in memory */
        t->hist[i].task_id = NULL;
    }
    return t;
}

void sl_pl_save_task(sl_pl_task_t *t)
{
    sl_task_rec_t rec;
    char id[SL_TASK_ID_MAX];
    sl_pl_task_to_rec(t, &rec, id, sizeof(id));
    s_save(t->pipe->sh, SL_IDS_DB_TASKS, id, sl_task_rec_desc(), &rec);
}

void sl_pl_save_attempt(sl_pl_task_t *t)
{
    if (!t->nhist) {
        return;
    }
    char id[SL_TASK_ID_MAX], key[SL_TASK_ID_MAX + 8];
    sl_pl_task_id(t, id, sizeof(id));
    sl_attempt_rec_t a = t->hist[t->nhist - 1];
    a.task_id = id;
    if (sl_attempt_key(key, sizeof(key), id, a.attempt) < 0) {
        return;
    }
    s_save(t->pipe->sh, SL_IDS_DB_ATTEMPTS, key, sl_attempt_rec_desc(), &a);
}

/* ---- DLQ entry (written when a task is parked, never read back) ----------- */

void sl_pl_task_to_dlq_rec(const sl_pl_task_t *t, int64_t parked_ms, sl_dlq_rec_t *rec, char *id,
                           size_t idcap, sl_mp_writer_t *scratch)
{
    sl_pl_task_id(t, id, idcap);
    sl_dlq_rec_init(rec);
    rec->task_id = id;
    rec->pipeline_id = (char *)t->pipe->id;
    rec->service = (char *)sl_service_name(t->service);
    rec->attempts = t->attempts;
    rec->returns = t->dlq_returns;
    rec->parked_ms = parked_ms;
    rec->error = t->error;
    if (t->detail.code) {
        sl_mp_writer_reset(scratch);
        s_detail_map(scratch, &t->detail);
        if (!sl_mp_writer_error(scratch)) {
            rec->error_detail.ptr = (uint8_t *)sl_mp_writer_data(scratch);
            rec->error_detail.len = sl_mp_writer_len(scratch);
        }
    }
    rec->history.v = t->hist;
    rec->history.n = t->nhist;
}

void sl_pl_save_dlq(sl_pl_task_t *t, int64_t parked_ms)
{
    sl_dlq_rec_t d;
    char id[SL_TASK_ID_MAX];
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_pl_task_to_dlq_rec(t, parked_ms, &d, id, sizeof(id), &w);
    s_save(t->pipe->sh, SL_IDS_DB_DLQ, id, sl_dlq_rec_desc(), &d);
    sl_mp_writer_fini(&w);
}

/* ---- pipeline -------------------------------------------------------------- */

void sl_pl_pipe_to_rec(const sl_pl_pipe_t *p, sl_pipeline_rec_t *rec)
{
    sl_pipeline_rec_init(rec);
    rec->id = (char *)p->id;
    rec->name = p->name;
    rec->status = p->status;
    rec->stage = p->stage;
    rec->user_cancelled = p->user_cancelled;
    rec->created_ms = p->created_ms;
    rec->started_ms = p->started_ms;
    rec->completed_ms = p->completed_ms;
    rec->stage_started_ms = p->stage_started_ms;
    rec->stage_deadline_ms = p->stage_deadline_ms;
    rec->pipeline_deadline_ms = p->pipeline_deadline_ms;
    rec->error = p->error;
    rec->ntasks = p->ntasks;
    if (p->plan) {
        rec->task_timeout_ms = p->plan->timeouts.task_ms;
        rec->stage_timeout_ms = p->plan->timeouts.stage_ms;
        rec->pipeline_timeout_ms = p->plan->timeouts.pipeline_ms;
        rec->attempt_timeout_ms = p->plan->timeouts.attempt_ms;
        rec->progress_timeout_ms = p->plan->timeouts.progress_ms;
        rec->queue_timeout_ms = p->plan->timeouts.queue_ms;
        rec->max_attempts = p->plan->retry.max_attempts;
        rec->backoff_initial_ms = p->plan->retry.initial_ms;
        rec->backoff_max_ms = p->plan->retry.max_ms;
        rec->backoff_coefficient = p->plan->retry.coefficient;
        rec->app_unreachable_retry_ms = p->plan->retry.unreachable_ms;
        rec->app_unreachable_retries = (int32_t)p->plan->retry.unreachable_retries;
    }
    rec->request.ptr = p->request;
    rec->request.len = p->request_len;
}

int sl_pl_pipe_from_rec(sl_pl_pipe_t *p, sl_pipeline_rec_t *rec)
{
    sl_pl_shard_t *sh = p->sh;
    if (rec->status < 0 || rec->status >= SL_PS__COUNT || rec->stage < 0 ||
        rec->stage >= SL_STAGE__COUNT) {
        return SL_ECORRUPT;
    }
    p->name = rec->name ? rec->name : strdup("");
    rec->name = NULL;
    p->status = (uint8_t)rec->status;
    p->stage = (uint8_t)rec->stage;
    p->user_cancelled = rec->user_cancelled;
    p->committed = true;
    p->created_ms = rec->created_ms;
    p->started_ms = rec->started_ms;
    p->completed_ms = rec->completed_ms;
    p->stage_started_ms = rec->stage_started_ms;
    p->stage_deadline_ms = rec->stage_deadline_ms;
    p->pipeline_deadline_ms = rec->pipeline_deadline_ms;
    p->error = rec->error;
    rec->error = NULL;
    p->request = rec->request.ptr;
    p->request_len = rec->request.len;
    rec->request.ptr = NULL;
    rec->request.len = 0;
    /* The pipeline keeps the terms it started with. */
    sl_plan_defaults_t d = sh->cfg.defaults;
    if (rec->max_attempts) {
        d.timeouts = (sl_plan_timeouts_t){rec->task_timeout_ms,     rec->stage_timeout_ms,
                                          rec->pipeline_timeout_ms, rec->attempt_timeout_ms,
                                          rec->progress_timeout_ms, rec->queue_timeout_ms};
        d.retry.max_attempts = rec->max_attempts;
        d.retry.initial_ms = rec->backoff_initial_ms;
        d.retry.coefficient = rec->backoff_coefficient;
        d.retry.max_ms = rec->backoff_max_ms;
    }
    if (rec->app_unreachable_retry_ms >= 0 && rec->app_unreachable_retries >= 0) {
        d.retry.unreachable_ms = rec->app_unreachable_retry_ms;
        d.retry.unreachable_retries = (uint32_t)rec->app_unreachable_retries;
    }
    d.max_tasks = UINT32_MAX;
    char err[256];
    if (sl_plan_parse(p->request, p->request_len, &d, &p->plan, err, sizeof(err)) < 0) {
        sl_error("%s: stored request of %s unreadable: %s", sh->name, p->id, err);
    }
    /* Every index below the record's ntasks must come back as a task;
       recovery fills the ones whose records are lost. */
    uint32_t ntasks = rec->ntasks > SL_PL_MAX_TASKS ? SL_PL_MAX_TASKS : rec->ntasks;
    if (ntasks) {
        p->tasks = calloc(ntasks, sizeof(*p->tasks));
        if (p->tasks) {
            p->cap = p->ntasks = ntasks;
        }
    }
    return 0;
}

void sl_pl_save_pipe(sl_pl_pipe_t *p)
{
    sl_pipeline_rec_t rec;
    sl_pl_pipe_to_rec(p, &rec);
    s_save(p->sh, SL_IDS_DB_PIPELINES, p->id, sl_pipeline_rec_desc(), &rec);
}

/* ---- the API views (README, "API") ----------------------------------------- */

static void s_kv_time(sl_mp_writer_t *w, const char *key, int64_t ms)
{
    if (ms > 0) {
        sl_mp_kv_int(w, key, ms);
    } else {
        sl_mp_kv_nil(w, key);
    }
}

static void s_kv_pct(sl_mp_writer_t *w, const char *key, int64_t pct)
{
    if (pct >= 0) {
        sl_mp_kv_int(w, key, pct);
    } else {
        sl_mp_kv_nil(w, key);
    }
}

static void s_view_attempt(sl_mp_writer_t *w, const sl_attempt_rec_t *a)
{
    sl_mp_write_map(w, 11);
    sl_mp_kv_uint(w, "attempt", a->attempt);
    sl_mp_kv_str(w, "replica", a->replica);
    s_kv_time(w, "started_at", a->started_ms);
    s_kv_time(w, "ended_at", a->ended_ms);
    sl_mp_kv_str(w, "outcome", a->outcome >= 0 ? sl_outcome_name(a->outcome) : NULL);
    sl_mp_kv_str(w, "error", a->error);
    sl_mp_kv_str(w, "last_stage", a->last_stage);
    sl_mp_kv_str(w, "last_message", a->last_message);
    s_kv_pct(w, "last_pct", a->last_pct);
    sl_mp_kv_str(w, "last_checkpoint", a->last_checkpoint);
    sl_mp_kv_bool(w, "partial", a->partial);
}

void sl_pl_view_detail(sl_mp_writer_t *w, const sl_explain_t *d)
{
    sl_mp_write_str(w, "error_detail");
    if (!d->code) {
        sl_mp_write_nil(w);
        return;
    }
    s_detail_map(w, d);
}

void sl_pl_view_task(sl_mp_writer_t *w, const sl_pl_task_t *t, bool full)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_mp_write_map(w, full ? 23 : 14);
    sl_mp_kv_str(w, "id", id);
    sl_mp_kv_str(w, "kind", sl_tkind_name(t->kind));
    sl_mp_kv_str(w, "service", sl_service_name(t->service));
    sl_mp_kv_str(w, "model", t->model);
    sl_mp_kv_str(w, "template", t->tmpl);
    if (t->app_number >= 0) {
        sl_mp_kv_int(w, "app_number", t->app_number);
    } else {
        sl_mp_kv_nil(w, "app_number");
    }
    sl_mp_kv_str(w, "status", sl_tstatus_name(t->status));
    sl_mp_kv_uint(w, "attempts", t->attempts);
    sl_mp_write_str(w, "progress");
    sl_mp_write_map(w, 3);
    sl_mp_kv_str(w, "stage", t->progress_stage);
    s_kv_pct(w, "pct", t->progress_pct);
    sl_mp_kv_str(w, "message", t->progress_message);
    sl_mp_kv_str(w, "error", t->error);
    sl_mp_kv_str(w, "warning", t->warning);
    sl_mp_kv_bool(w, "escalated", (t->flags & SL_PL_T_ESCALATED) != 0);
    if (t->issues >= 0) {
        sl_mp_kv_int(w, "issues", t->issues);
    } else {
        sl_mp_kv_nil(w, "issues");
    }
    sl_pl_view_detail(w, &t->detail);
    if (!full) {
        return;
    }
    sl_mp_kv_str(w, "pipeline_id", t->pipe->id);
    sl_mp_kv_uint(w, "dlq_returns", t->dlq_returns);
    sl_mp_kv_bool(w, "in_dlq", (t->flags & SL_PL_T_IN_DLQ) != 0);
    s_kv_time(w, "created_at", t->created_ms);
    s_kv_time(w, "updated_at", t->updated_ms);
    s_kv_time(w, "deadline_at", t->deadline_ms);
    sl_mp_kv_str(w, "resume_from", t->resume_from);
    sl_mp_write_str(w, "exclude");
    sl_mp_write_array(w, t->nexclude);
    for (uint16_t i = 0; i < t->nexclude; i++) {
        sl_mp_write_str(w, t->exclude[i]);
    }
    sl_mp_write_str(w, "history");
    sl_mp_write_array(w, t->nhist);
    for (uint16_t i = 0; i < t->nhist; i++) {
        s_view_attempt(w, &t->hist[i]);
    }
}

void sl_pl_view_pipe(sl_mp_writer_t *w, const sl_pl_pipe_t *p)
{
    sl_pipeline_counts_t c;
    sl_pl_counts(p, &c);
    sl_mp_write_map(w, 13);
    sl_mp_kv_str(w, "id", p->id);
    sl_mp_kv_str(w, "name", p->name);
    sl_mp_kv_str(w, "status", sl_pstatus_name(p->status));
    sl_mp_kv_str(w, "stage", sl_stage_name(p->stage));
    /* the scan profiles of its start request (README, "Scan profiles") */
    sl_mp_kv_str(w, "profile", p->plan ? p->plan->profile : NULL);
    sl_mp_kv_str(w, "escalate", p->plan ? p->plan->escalate : NULL);
    if (p->plan && p->plan->escalate) {
        sl_mp_kv_int(w, "escalate_threshold", p->plan->escalate_threshold);
    } else {
        sl_mp_kv_nil(w, "escalate_threshold");
    }
    s_kv_time(w, "created_at", p->created_ms);
    s_kv_time(w, "started_at", p->started_ms);
    s_kv_time(w, "completed_at", p->completed_ms);
    sl_mp_kv_str(w, "error_message", p->error);
    sl_mp_write_str(w, "counts");
    sl_mp_write_map(w, 7);
    sl_mp_kv_uint(w, "total", c.total);
    sl_mp_kv_uint(w, "succeeded", c.succeeded);
    sl_mp_kv_uint(w, "failed", c.failed);
    sl_mp_kv_uint(w, "running", c.running);
    sl_mp_kv_uint(w, "queued", c.queued);
    sl_mp_kv_uint(w, "cancelled", c.cancelled);
    sl_mp_kv_uint(w, "dead", c.dead);
    sl_mp_write_str(w, "tasks");
    sl_mp_write_array(w, p->ntasks);
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i]) {
            sl_pl_view_task(w, p->tasks[i], false);
        } else {
            sl_mp_write_nil(w); /* only after a failed recovery allocation */
        }
    }
}

void sl_pl_view_pipe_brief(sl_mp_writer_t *w, const sl_pl_pipe_t *p)
{
    sl_mp_write_map(w, 5);
    sl_mp_kv_str(w, "id", p->id);
    sl_mp_kv_str(w, "name", p->name);
    sl_mp_kv_str(w, "status", sl_pstatus_name(p->status));
    sl_mp_kv_str(w, "stage", sl_stage_name(p->stage));
    s_kv_time(w, "created_at", p->created_ms);
}
