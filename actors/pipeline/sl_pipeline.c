/*  sl_pipeline.c: the pipeline shard actor: spawn, recovery, message
    dispatch, the client API ops, the watchdog protocol and the drain.

    One actor thread per shard runs everything here and in
    sl_pipeline_fsm.c (the state machine). The shard owns its pipelines and
    tasks outright; other actors only see messages. Every message handler and
    timer callback ends with one flush of the store batch, so the changes of
    one step reach `store` as one STORE_WRITE. Client requests that are bad in
    any way get an {ok: false, error: {code, message}} reply and change
    nothing; a malformed message from another actor is logged and dropped,
    never fatal.
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/sl_outcome.h"
#include "runtime/sl_log.h"

/* ---- pure helpers -------------------------------------------------------- */

void sl_pipeline_config_init(sl_pipeline_config_t *self)
{
    memset(self, 0, sizeof(*self));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    self->shards = n > 0 ? (int)n : 1;
    sl_plan_defaults_init(&self->defaults);
    self->store_timeout_ms = 10000;
    self->dlq_alert_returns = 3;
    self->dlq_timeout_factor = 1.5;
    self->recover = true;
}

sl_pstatus_t sl_pipeline_final_status(const sl_pipeline_counts_t *c, bool user_cancelled)
{
    if (user_cancelled) {
        return SL_PS_CANCELLED;
    }
    if (c->succeeded == c->total) {
        return SL_PS_COMPLETED;
    }
    if (c->succeeded == 0) {
        return SL_PS_FAILED;
    }
    return SL_PS_PARTIAL;
}

/* ---- replies ------------------------------------------------------------- */

static void s_reply_bytes(sl_pl_shard_t *sh, const sl_msg_t *req, const uint8_t *body, size_t len)
{
    sl_api_result_t r = {.body = {(uint8_t *)body, len}};
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (sl_api_result_encode(&r, &buf, &blen) == 0) {
        sl_actor_reply(sh->self, req, SL_MSG_API_RESULT, buf, blen);
    }
    free(buf);
}

/* Sends w as the reply now, then finis it. */
static void s_reply_writer(sl_pl_shard_t *sh, const sl_msg_t *req, sl_mp_writer_t *w)
{
    if (sl_mp_writer_error(w)) {
        sl_error("%s: building a reply failed: %s", sh->name, sl_err_name(sl_mp_writer_error(w)));
    } else {
        s_reply_bytes(sh, req, sl_mp_writer_data(w), sl_mp_writer_len(w));
    }
    sl_mp_writer_fini(w);
}

/* Starts the reply map {ok: true, <key>: ...}: the caller writes the value. */
static void s_reply_ok_begin(sl_mp_writer_t *w, const char *key)
{
    sl_mp_writer_init(w);
    sl_mp_write_map(w, 2);
    sl_mp_kv_bool(w, "ok", true);
    sl_mp_write_str(w, key);
}

/* Keeps what answering later needs of req (from, corr and flags), not
   its body. */
static void s_keep_req(sl_msg_t *dst, const sl_msg_t *req)
{
    *dst = *req;
    dst->body = NULL;
    dst->body_len = 0;
    dst->priv_ = NULL;
}

/* The store's verdict on a STORE_WRITE request: status of the request
   itself, else the ack's own status. */
static int s_ack_status(int status, const sl_msg_t *reply)
{
    if (status == 0) {
        sl_store_ack_t ack = {0};
        status = sl_store_ack_decode(reply->body, reply->body_len, &ack);
        if (status == 0 && ack.status < 0) {
            status = (int)ack.status;
        }
        sl_store_ack_clear(&ack);
    }
    return status;
}

static void s_reply_err(sl_pl_shard_t *sh, const sl_msg_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void s_reply_err(sl_pl_shard_t *sh, const sl_msg_t *req, int code, const char *fmt, ...)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    va_list ap;
    va_start(ap, fmt);
    sl_mp_write_error_replyv(&w, sl_err_name(code), fmt, ap);
    va_end(ap);
    s_reply_writer(sh, req, &w);
}

static void s_kv_time(sl_mp_writer_t *w, const char *key, int64_t ms)
{
    if (ms > 0) {
        sl_mp_kv_int(w, key, ms);
    } else {
        sl_mp_kv_nil(w, key);
    }
}

static void s_write_task(sl_mp_writer_t *w, const sl_pl_task_t *t, bool full)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_mp_write_map(w, full ? 18 : 10);
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
    if (t->progress_pct >= 0) {
        sl_mp_kv_int(w, "pct", t->progress_pct);
    } else {
        sl_mp_kv_nil(w, "pct");
    }
    sl_mp_kv_str(w, "message", t->progress_message);
    sl_mp_kv_str(w, "error", t->error);
    if (!full) {
        return;
    }
    sl_mp_kv_str(w, "pipeline_id", t->pipe->id);
    sl_mp_kv_uint(w, "dlq_returns", t->dlq_returns);
    sl_mp_kv_bool(w, "in_dlq", (t->flags & SL_PL_T_IN_DLQ) != 0);
    s_kv_time(w, "created_at", t->created_ms);
    s_kv_time(w, "updated_at", t->updated_ms);
    s_kv_time(w, "deadline_at", t->deadline_ms);
    sl_mp_write_str(w, "exclude");
    sl_mp_write_array(w, t->nexclude);
    for (uint16_t i = 0; i < t->nexclude; i++) {
        sl_mp_write_str(w, t->exclude[i]);
    }
    sl_mp_write_str(w, "history");
    sl_mp_write_array(w, t->nhist);
    for (uint16_t i = 0; i < t->nhist; i++) {
        const sl_attempt_rec_t *a = &t->hist[i];
        sl_mp_write_map(w, 10);
        sl_mp_kv_uint(w, "attempt", a->attempt);
        sl_mp_kv_str(w, "replica", a->replica);
        s_kv_time(w, "started_at", a->started_ms);
        s_kv_time(w, "ended_at", a->ended_ms);
        sl_mp_kv_str(w, "outcome", a->outcome >= 0 ? sl_outcome_name(a->outcome) : NULL);
        sl_mp_kv_str(w, "error", a->error);
        sl_mp_kv_str(w, "last_stage", a->last_stage);
        sl_mp_kv_str(w, "last_message", a->last_message);
        if (a->last_pct >= 0) {
            sl_mp_kv_int(w, "last_pct", a->last_pct);
        } else {
            sl_mp_kv_nil(w, "last_pct");
        }
        sl_mp_kv_str(w, "last_checkpoint", a->last_checkpoint);
    }
}

static void s_write_pipe(sl_mp_writer_t *w, const sl_pl_pipe_t *p)
{
    sl_pipeline_counts_t c;
    sl_pl_counts(p, &c);
    sl_mp_write_map(w, 10);
    sl_mp_kv_str(w, "id", p->id);
    sl_mp_kv_str(w, "name", p->name);
    sl_mp_kv_str(w, "status", sl_pstatus_name(p->status));
    sl_mp_kv_str(w, "stage", sl_stage_name(p->stage));
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
            s_write_task(w, p->tasks[i], false);
        } else {
            sl_mp_write_nil(w); /* only after a failed recovery allocation */
        }
    }
}

/* ---- API ops ------------------------------------------------------------- */

typedef struct {
    const sl_msg_t *msg;
    const uint8_t *args;
    size_t args_len;
    const char *target;
} s_call_t;

/* A string argument copied into buf; 0, SL_ENOTFOUND or SL_EINVAL. */
static int s_arg_str(const s_call_t *c, const char *key, char *buf, size_t cap)
{
    const char *s;
    size_t len;
    int rc = sl_mp_map_get_str(c->args, c->args_len, key, &s, &len);
    if (rc < 0) {
        return rc == SL_ENOTFOUND ? rc : SL_EINVAL;
    }
    if (len == 0 || len >= cap || memchr(s, '\0', len)) {
        return SL_EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 0;
}

/* The id argument key into id, or false once the refusal is sent. */
static bool s_need_id(sl_pl_shard_t *sh, const s_call_t *c, const char *key, const char *what,
                      char *id, size_t cap)
{
    int rc = s_arg_str(c, key, id, cap);
    if (rc < 0) {
        s_reply_err(sh, c->msg, rc == SL_ENOTFOUND ? SL_EMISSING : SL_EINVAL, "%s: %s", key,
                    rc == SL_ENOTFOUND ? "required" : what);
        return false;
    }
    return true;
}

static sl_pl_pipe_t *s_need_pipe(sl_pl_shard_t *sh, const s_call_t *c)
{
    char id[SL_PIPELINE_ID_MAX];
    if (!s_need_id(sh, c, "pipeline_id", "must be a pipeline id", id, sizeof(id))) {
        return NULL;
    }
    sl_pl_pipe_t *p = sl_map_get_str(&sh->byid, id);
    if (!p) {
        s_reply_err(sh, c->msg, SL_ENOTFOUND, "no pipeline %s", id);
    }
    return p;
}

static sl_pl_task_t *s_need_task(sl_pl_shard_t *sh, const s_call_t *c)
{
    char id[SL_TASK_ID_MAX];
    if (!s_need_id(sh, c, "task_id", "must be a task id", id, sizeof(id))) {
        return NULL;
    }
    sl_pl_task_t *t = sl_pl_find_task(sh, id);
    if (!t) {
        s_reply_err(sh, c->msg, SL_ENOTFOUND, "no task %s", id);
    }
    return t;
}

/* A reply that waits for the commit of the changes made so far. */
typedef struct {
    sl_pl_shard_t *sh;
    sl_msg_t req;  /* from, corr and flags only */
    uint8_t *body; /* the reply map */
    size_t len;
} s_pending_reply_t;

static void s_on_commit_reply(sl_actor_t *self, void *arg, int status, const sl_msg_t *reply)
{
    s_pending_reply_t *pr = arg;
    status = s_ack_status(status, reply);
    if (status == 0) {
        s_reply_bytes(pr->sh, &pr->req, pr->body, pr->len);
    } else if (status != SL_ECLOSED) {
        s_reply_err(pr->sh, &pr->req, status, "applied, but the store did not confirm it: %s",
                    sl_err_msg(status));
    }
    free(pr->body);
    free(pr);
}

/* Answers with w once the batch holding this op's changes is committed:
   a client is never told of a change the store might lose. Takes w over. */
static void s_reply_committed(sl_pl_shard_t *sh, const sl_msg_t *req, sl_mp_writer_t *w)
{
    s_pending_reply_t *pr = NULL;
    if (sh->nops + sh->nevents > 0) {
        pr = malloc(sizeof(*pr));
    }
    if (!pr) {
        s_reply_writer(sh, req, w);
        return;
    }
    pr->sh = sh;
    pr->body = NULL;
    pr->len = 0;
    s_keep_req(&pr->req, req);
    int rc = sl_mp_writer_release(w, &pr->body, &pr->len);
    if (rc == 0) {
        rc = sl_pl_flush(sh, s_on_commit_reply, pr);
    }
    if (rc < 0) {
        s_reply_err(sh, req, rc, "the store did not take the change: %s", sl_err_msg(rc));
        free(pr->body);
        free(pr);
    }
}

static void s_reply_ok(sl_pl_shard_t *sh, const sl_msg_t *req, const char *key, const char *val)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, key ? 2 : 1);
    sl_mp_kv_bool(&w, "ok", true);
    if (key) {
        sl_mp_kv_str(&w, key, val);
    }
    s_reply_committed(sh, req, &w);
}

static void s_on_start_ack(sl_actor_t *self, void *arg, int status, const sl_msg_t *reply)
{
    sl_pl_pipe_t *p = arg;
    sl_pl_shard_t *sh = p->sh;
    sl_msg_t *req = p->start_req;
    p->start_req = NULL;
    status = s_ack_status(status, reply);
    if (status == 0) {
        p->committed = true;
        s_reply_ok(sh, req, "pipeline_id", p->id);
        sl_pl_pipe_pump(p);
    } else if (status != SL_ECLOSED) {
        char why[128];
        snprintf(why, sizeof(why), "store did not commit the start: %s", sl_err_msg(status));
        /* The start write may still land later: this record follows it. */
        p->committed = true;
        sl_pl_pipe_fail(p, why);
        s_reply_err(sh, req, status, "%s", why);
    }
    free(req);
    sl_pl_flush(sh, NULL, NULL);
}

static void s_op_start(sl_pl_shard_t *sh, const s_call_t *c)
{
    const char *id = c->target;
    if (!sl_ids_pipeline_valid(id) || sl_ids_shard_of(id, sh->cfg.shards) != sh->index) {
        s_reply_err(sh, c->msg, SL_EINVAL, "target: %s is not a pipeline id of %s",
                    id ? id : "(none)", sh->name);
        return;
    }
    if (sl_map_get_str(&sh->byid, id)) {
        s_reply_err(sh, c->msg, SL_EEXIST, "pipeline %s exists", id);
        return;
    }
    if (c->args_len > SL_REC_MAX_REQUEST) {
        /* The request is stored with the pipeline; a record we could not
           write would make a pipeline that does not survive a restart. */
        s_reply_err(sh, c->msg, SL_ETOOBIG, "request of %zu bytes exceeds %u", c->args_len,
                    SL_REC_MAX_REQUEST);
        return;
    }
    char err[256];
    sl_plan_t *plan = NULL;
    int rc = sl_plan_parse(c->args, c->args_len, &sh->cfg.defaults, &plan, err, sizeof(err));
    if (rc < 0) {
        s_reply_err(sh, c->msg, rc, "%s", err[0] ? err : sl_err_msg(rc));
        return;
    }
    sl_pl_pipe_t *p = sl_pl_pipe_new(sh, id);
    sl_msg_t *req = malloc(sizeof(*req));
    if (!p || !req) {
        free(req);
        sl_pl_pipe_free(p);
        sl_plan_destroy(&plan);
        s_reply_err(sh, c->msg, SL_ENOMEM, "out of memory");
        return;
    }
    p->plan = plan;
    p->name = strdup(plan->name);
    p->request = malloc(c->args_len);
    if (!p->name || !p->request || sl_pl_pipe_add(sh, p) < 0) {
        free(req);
        sl_pl_pipe_free(p);
        s_reply_err(sh, c->msg, SL_ENOMEM, "out of memory");
        return;
    }
    memcpy(p->request, c->args, c->args_len);
    p->request_len = c->args_len;
    s_keep_req(req, c->msg);
    p->start_req = req;
    rc = sl_pl_pipe_create(p);
    if (rc == 0) {
        rc = sl_pl_flush(sh, s_on_start_ack, p);
    } else {
        /* Half a pipeline must not reach the store: the batch holds only
           this start (every handler flushes before it returns). */
        sl_mp_writer_reset(&sh->ops);
        sl_mp_writer_reset(&sh->events);
        sh->nops = sh->nevents = 0;
    }
    if (rc < 0) {
        /* Nothing was committed and the ack will never come. */
        sl_pl_pipe_remove(sh, p);
        sl_pl_pipe_free(p);
        s_reply_err(sh, c->msg, rc, "pipeline not started: %s", sl_err_msg(rc));
    }
}

static void s_op_get(sl_pl_shard_t *sh, const s_call_t *c)
{
    sl_pl_pipe_t *p = s_need_pipe(sh, c);
    if (!p) {
        return;
    }
    sl_mp_writer_t w;
    s_reply_ok_begin(&w, "pipeline");
    s_write_pipe(&w, p);
    s_reply_writer(sh, c->msg, &w);
}

static void s_op_list(sl_pl_shard_t *sh, const s_call_t *c)
{
    const char *st = NULL;
    size_t stlen = 0;
    int want = -1;
    int rc = sl_mp_map_get_str(c->args, c->args_len, "status", &st, &stlen);
    if (rc == 0) {
        want = sl_pstatus_parse(st, stlen);
        if (want < 0) {
            s_reply_err(sh, c->msg, SL_EINVAL, "status: unknown pipeline status");
            return;
        }
    } else if (rc != SL_ENOTFOUND) {
        s_reply_err(sh, c->msg, SL_EINVAL, "status: must be a string");
        return;
    }
    uint64_t limit = 1000;
    rc = sl_mp_map_get_uint(c->args, c->args_len, "limit", &limit);
    if (rc < 0 && rc != SL_ENOTFOUND) {
        s_reply_err(sh, c->msg, SL_EINVAL, "limit: must be a non-negative integer");
        return;
    }
    if (limit == 0) {
        limit = 1000;
    }
    uint32_t n = 0;
    for (size_t i = sh->npipes; i-- > 0 && n < limit;) {
        n += want < 0 || sh->pipes[i]->status == want;
    }
    sl_mp_writer_t w;
    s_reply_ok_begin(&w, "pipelines");
    sl_mp_write_array(&w, n);
    /* Newest first: ids grow with time. */
    for (size_t i = sh->npipes; i-- > 0 && n > 0;) {
        const sl_pl_pipe_t *p = sh->pipes[i];
        if (want >= 0 && p->status != want) {
            continue;
        }
        n--;
        sl_mp_write_map(&w, 5);
        sl_mp_kv_str(&w, "id", p->id);
        sl_mp_kv_str(&w, "name", p->name);
        sl_mp_kv_str(&w, "status", sl_pstatus_name(p->status));
        sl_mp_kv_str(&w, "stage", sl_stage_name(p->stage));
        s_kv_time(&w, "created_at", p->created_ms);
    }
    s_reply_writer(sh, c->msg, &w);
}

static void s_op_cancel(sl_pl_shard_t *sh, const s_call_t *c)
{
    sl_pl_pipe_t *p = s_need_pipe(sh, c);
    if (!p) {
        return;
    }
    if (sl_pstatus_terminal(p->status)) {
        s_reply_err(sh, c->msg, SL_ESTATE, "pipeline %s already ended %s", p->id,
                    sl_pstatus_name(p->status));
        return;
    }
    sl_pl_pipe_cancel(p);
    s_reply_ok(sh, c->msg, "status", sl_pstatus_name(p->status));
}

static void s_op_task_get(sl_pl_shard_t *sh, const s_call_t *c)
{
    sl_pl_task_t *t = s_need_task(sh, c);
    if (!t) {
        return;
    }
    sl_mp_writer_t w;
    s_reply_ok_begin(&w, "task");
    s_write_task(&w, t, true);
    s_reply_writer(sh, c->msg, &w);
}

static void s_op_task_cancel(sl_pl_shard_t *sh, const s_call_t *c)
{
    sl_pl_task_t *t = s_need_task(sh, c);
    if (!t) {
        return;
    }
    if (sl_tstatus_terminal(t->status)) {
        s_reply_err(sh, c->msg, SL_ESTATE, "task already ended %s", sl_tstatus_name(t->status));
        return;
    }
    sl_pl_task_cancel(t, "cancelled by user");
    s_reply_ok(sh, c->msg, "status", sl_tstatus_name(t->status));
}

static void s_reply_retried(sl_pl_shard_t *sh, const sl_msg_t *req, uint64_t n)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "ok", true);
    sl_mp_kv_uint(&w, "retried", n);
    s_reply_committed(sh, req, &w);
}

static void s_op_dlq_retry(sl_pl_shard_t *sh, const s_call_t *c)
{
    bool all = false, force = false;
    sl_mp_map_get_bool(c->args, c->args_len, "all", &all);
    sl_mp_map_get_bool(c->args, c->args_len, "force", &force);
    uint32_t limit = sh->cfg.dlq_alert_returns;
    if (all) {
        uint64_t n = 0;
        for (size_t i = 0; i < sh->npipes; i++) {
            sl_pl_pipe_t *p = sh->pipes[i];
            for (uint32_t j = 0; j < p->ntasks; j++) {
                sl_pl_task_t *t = p->tasks[j];
                if (t && t->status == SL_TS_DEAD && (t->flags & SL_PL_T_IN_DLQ) &&
                    (force || !limit || t->dlq_returns < limit) && sl_pl_task_dlq_retry(t) == 0) {
                    n++;
                }
            }
        }
        s_reply_retried(sh, c->msg, n);
        return;
    }
    sl_pl_task_t *t = s_need_task(sh, c);
    if (!t) {
        return;
    }
    if (t->status != SL_TS_DEAD || !(t->flags & SL_PL_T_IN_DLQ)) {
        s_reply_err(sh, c->msg, SL_ESTATE, "task is not in the DLQ (status %s)",
                    sl_tstatus_name(t->status));
        return;
    }
    if (limit && t->dlq_returns >= limit && !force) {
        s_reply_err(sh, c->msg, SL_ESTATE,
                    "task returned to the DLQ %u times and stays parked (force: true to retry)",
                    t->dlq_returns);
        return;
    }
    int rc = sl_pl_task_dlq_retry(t);
    if (rc < 0) {
        s_reply_err(sh, c->msg, rc, "task cannot be retried: its pipeline was cancelled");
        return;
    }
    s_reply_retried(sh, c->msg, 1);
}

static void s_op_dlq_drop(sl_pl_shard_t *sh, const s_call_t *c)
{
    sl_pl_task_t *t = s_need_task(sh, c);
    if (!t) {
        return;
    }
    if (!(t->flags & SL_PL_T_IN_DLQ)) {
        s_reply_err(sh, c->msg, SL_ENOTFOUND, "task is not in the DLQ");
        return;
    }
    sl_pl_task_dlq_drop(t);
    s_reply_ok(sh, c->msg, NULL, NULL);
}

static const struct {
    const char *op;
    void (*fn)(sl_pl_shard_t *, const s_call_t *);
} s_ops[] = {
    {"pipeline.start", s_op_start}, {"pipeline.get", s_op_get},
    {"pipeline.list", s_op_list},   {"pipeline.cancel", s_op_cancel},
    {"task.get", s_op_task_get},    {"task.cancel", s_op_task_cancel},
    {"dlq.retry", s_op_dlq_retry},  {"dlq.drop", s_op_dlq_drop},
};

static void s_on_api_call(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    sl_api_call_t call = {0};
    int rc = sl_api_call_decode(msg->body, msg->body_len, &call);
    if (rc < 0) {
        s_reply_err(sh, msg, rc, "api_call: %s", sl_err_msg(rc));
        return;
    }
    s_call_t c = {msg, call.args.ptr, call.args.len, call.target};
    if (sl_mp_peek(&(sl_mp_reader_t){call.args.ptr, call.args.len, 0}) != SL_MP_MAP) {
        s_reply_err(sh, msg, SL_EINVAL, "args: must be a map");
        sl_api_call_clear(&call);
        return;
    }
    size_t i = 0, n = sizeof(s_ops) / sizeof(s_ops[0]);
    while (i < n && strcmp(s_ops[i].op, call.op) != 0) {
        i++;
    }
    if (i == n) {
        s_reply_err(sh, msg, SL_EUNSUPPORTED, "unknown op %.64s", call.op);
    } else {
        s_ops[i].fn(sh, &c);
    }
    sl_api_call_clear(&call);
}

/* ---- watchdog ------------------------------------------------------------ */

static void s_on_wd_scan(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    /* Our times are wall-clock; the watchdog reasons on the runtime's
       monotonic clock (sl_actor_now), so report in that clock. */
    int64_t mono = sl_actor_now(sh->self), wall = sl_pl_now(sh);
    uint32_t n = 0;
    for (size_t i = 0; i < sh->npipes; i++) {
        n += !sl_pstatus_terminal(sh->pipes[i]->status);
    }
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_array(&w, n);
    for (size_t i = 0; i < sh->npipes; i++) {
        const sl_pl_pipe_t *p = sh->pipes[i];
        if (sl_pstatus_terminal(p->status)) {
            continue;
        }
        sl_mp_write_map(&w, 7);
        sl_mp_kv_str(&w, "id", p->id);
        sl_mp_kv_str(&w, "status", sl_pstatus_name(p->status));
        sl_mp_kv_str(&w, "stage", sl_stage_name(p->stage));
        sl_mp_kv_int(&w, "last_change_ms", mono + (p->last_change_ms - wall));
        sl_mp_kv_uint(&w, "live_attempts", sl_pl_live_attempts(p));
        sl_mp_kv_int(&w, "stage_deadline_ms",
                     p->stage_deadline_ms ? mono + (p->stage_deadline_ms - wall) : 0);
        sl_mp_kv_int(&w, "pipeline_deadline_ms",
                     p->pipeline_deadline_ms ? mono + (p->pipeline_deadline_ms - wall) : 0);
    }
    sl_wd_report_t r = {.pipelines = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_mp_writer_error(&w) == 0 && sl_wd_report_encode(&r, &buf, &len) == 0) {
        sl_actor_reply(sh->self, msg, SL_MSG_WD_REPORT, buf, len);
    }
    free(buf);
    sl_mp_writer_fini(&w);
}

/* ---- drain (shutdown) ---------------------------------------------------- */

static void s_on_drain(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    sl_pipeline_drain_t m = {0};
    if (sl_pipeline_drain_decode(msg->body, msg->body_len, &m) < 0) {
        sl_warn("%s: malformed PIPELINE_DRAIN from %s dropped", sh->name, msg->from);
        return;
    }
    uint64_t in_flight = 0, held = 0;
    sl_pl_drain_counts(sh, &in_flight, &held);
    if (!sh->draining) {
        sh->draining = true;
        sl_info("%s: draining (%s): %llu attempts in flight, %llu tasks held back for the "
                "next start",
                sh->name, m.reason ? m.reason : "no reason given", (unsigned long long)in_flight,
                (unsigned long long)held);
    }
    sl_pipeline_drain_clear(&m);
    sl_pipeline_drain_reply_t r = {.in_flight = in_flight, .held = held};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_pipeline_drain_reply_encode(&r, &buf, &len) == 0) {
        sl_actor_reply(sh->self, msg, SL_MSG_PIPELINE_DRAIN_REPLY, buf, len);
    }
    free(buf);
}

static void s_on_wd_reconcile(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    sl_wd_reconcile_t m = {0};
    if (sl_wd_reconcile_decode(msg->body, msg->body_len, &m) < 0) {
        sl_warn("%s: malformed WD_RECONCILE dropped", sh->name);
        return;
    }
    sl_pl_pipe_t *p = sl_map_get_str(&sh->byid, m.pipeline_id);
    if (p) {
        sl_pl_pipe_reconcile(p, m.reason);
    }
    sl_wd_reconcile_clear(&m);
}

/* ---- recovery ------------------------------------------------------------ */

typedef int (*s_row_fn)(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t vlen);

/* Scans one db (rows whose keys start with prefix), page by page. */
static int s_scan(sl_pl_shard_t *sh, sl_port_t *port, int db, const char *prefix, s_row_fn fn,
                  void *arg)
{
    uint8_t *after = NULL;
    size_t after_len = 0;
    int rc = 0;
    for (;;) {
        sl_store_scan_t q = {.db = (uint64_t)db, .limit = 1000};
        if (prefix) {
            q.prefix.ptr = (uint8_t *)prefix;
            q.prefix.len = strlen(prefix);
        }
        q.start_after.ptr = after;
        q.start_after.len = after_len;
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((rc = sl_store_scan_encode(&q, &buf, &len)) < 0) {
            break;
        }
        sl_msg_t *reply = NULL;
        rc = sl_port_request(port, "store", SL_MSG_STORE_SCAN, buf, len, sh->cfg.store_timeout_ms,
                             &reply);
        free(buf);
        if (rc < 0) {
            break;
        }
        sl_store_rows_t rows = {0};
        rc = sl_store_rows_decode(reply->body, reply->body_len, &rows);
        if (rc == 0 && rows.status < 0) {
            rc = (int)rows.status;
        }
        sl_mp_reader_t r;
        uint32_t n = 0;
        if (rc == 0 && rows.rows.len) {
            sl_mp_reader_init(&r, rows.rows.ptr, rows.rows.len);
            rc = sl_mp_read_array(&r, &n);
        }
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            uint32_t two;
            const uint8_t *k, *v;
            size_t kl, vl;
            if ((rc = sl_mp_read_array(&r, &two)) < 0 || two != 2 ||
                (rc = sl_mp_read_bin(&r, &k, &kl)) < 0 || (rc = sl_mp_read_bin(&r, &v, &vl)) < 0) {
                rc = rc < 0 ? rc : SL_EPROTO;
                break;
            }
            fn(sh, arg, k, kl, v, vl);
            uint8_t *na = realloc(after, kl ? kl : 1);
            if (!na) {
                rc = SL_ENOMEM;
                break;
            }
            after = na;
            memcpy(after, k, kl);
            after_len = kl;
        }
        bool more = rows.more && n > 0;
        sl_store_rows_clear(&rows);
        sl_msg_destroy(&reply);
        if (rc < 0 || !more) {
            break;
        }
    }
    free(after);
    return rc;
}

static int s_load_task_row(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen)
{
    sl_pl_pipe_t *p = arg;
    sl_task_rec_t rec;
    int rc = sl_task_rec_decode(val, vlen, &rec);
    if (rc == 0 && strcmp(rec.pipeline_id, p->id) != 0) {
        rc = SL_ECORRUPT;
    }
    if (rc == 0 && !sl_pl_task_from_rec(p, &rec)) {
        rc = SL_ECORRUPT;
    }
    if (rc < 0) {
        sl_error("%s: task record %.*s unreadable (%s), skipped", sh->name,
                 (int)(klen > 64 ? 64 : klen), (const char *)key, sl_err_name(rc));
    }
    sl_task_rec_clear(&rec);
    return 0;
}

static int s_load_pipe_row(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen)
{
    char id[SL_PIPELINE_ID_MAX];
    if (klen >= sizeof(id)) {
        return 0;
    }
    memcpy(id, key, klen);
    id[klen] = '\0';
    if (!sl_ids_pipeline_valid(id) || sl_ids_shard_of(id, sh->cfg.shards) != sh->index) {
        return 0; /* another shard's */
    }
    sl_pipeline_rec_t rec;
    int rc = sl_pipeline_rec_decode(val, vlen, &rec);
    if (rc < 0 || strcmp(rec.id, id) != 0) {
        sl_error("%s: pipeline record %s unreadable (%s), skipped", sh->name, id,
                 sl_err_name(rc < 0 ? rc : SL_ECORRUPT));
        sl_pipeline_rec_clear(&rec);
        return 0;
    }
    sl_pl_pipe_t *p = sl_pl_pipe_new(sh, id);
    if (!p || sl_pl_pipe_add(sh, p) < 0) {
        sl_pl_pipe_free(p);
        sl_pipeline_rec_clear(&rec);
        return 0;
    }
    p->name = rec.name ? rec.name : strdup("");
    rec.name = NULL;
    p->status = (uint8_t)rec.status;
    p->stage = (uint8_t)rec.stage;
    p->user_cancelled = rec.user_cancelled;
    p->committed = true;
    p->created_ms = rec.created_ms;
    p->started_ms = rec.started_ms;
    p->completed_ms = rec.completed_ms;
    p->stage_started_ms = rec.stage_started_ms;
    p->stage_deadline_ms = rec.stage_deadline_ms;
    p->pipeline_deadline_ms = rec.pipeline_deadline_ms;
    p->last_change_ms = sl_pl_now(sh);
    p->error = rec.error;
    rec.error = NULL;
    p->request = rec.request.ptr;
    p->request_len = rec.request.len;
    rec.request.ptr = NULL;
    rec.request.len = 0;
    /* The pipeline keeps the terms it started with. */
    sl_plan_defaults_t d = sh->cfg.defaults;
    if (rec.max_attempts) {
        d.timeouts = (sl_plan_timeouts_t){rec.task_timeout_ms,     rec.stage_timeout_ms,
                                          rec.pipeline_timeout_ms, rec.attempt_timeout_ms,
                                          rec.progress_timeout_ms, rec.queue_timeout_ms};
        d.retry = (sl_retry_policy_t){rec.max_attempts, rec.backoff_initial_ms,
                                      rec.backoff_coefficient, rec.backoff_max_ms};
    }
    d.max_tasks = UINT32_MAX;
    char err[256];
    if (sl_plan_parse(p->request, p->request_len, &d, &p->plan, err, sizeof(err)) < 0) {
        sl_error("%s: stored request of %s unreadable: %s", sh->name, id, err);
    }
    /* Every index below the record's ntasks must come back as a task;
       s_fill_holes replaces the ones whose records are lost. */
    uint32_t ntasks = rec.ntasks > 1000000 ? 1000000 : rec.ntasks;
    sl_pipeline_rec_clear(&rec);
    if (ntasks) {
        p->tasks = calloc(ntasks, sizeof(*p->tasks));
        if (p->tasks) {
            p->cap = p->ntasks = ntasks;
        }
    }
    return 0;
}

/* Fills holes left by unreadable task records with failed placeholders, so
   a pipeline can always finish. */
static void s_fill_holes(sl_pl_pipe_t *p)
{
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i]) {
            continue;
        }
        sl_task_rec_t rec = {0};
        rec.index = i;
        rec.kind = SL_TK_ANALYSIS;
        rec.service = SL_SVC_STATIC;
        rec.status = SL_TS_FAILED;
        rec.outcome = -1;
        rec.progress_pct = -1;
        rec.app_number = -1;
        rec.timeout_permille = 1000;
        rec.error = strdup("stored task record unreadable");
        sl_pl_task_t *t = sl_pl_task_from_rec(p, &rec);
        sl_task_rec_clear(&rec);
        if (t) {
            sl_pl_save_task(t);
        }
    }
}

static int s_recover(sl_pl_shard_t *sh)
{
    char name[SL_NAME_MAX];
    snprintf(name, sizeof(name), "pipeline.%d.boot", sh->index);
    sl_port_t *port = sl_port_new(sl_actor_rt(sh->self), name);
    if (!port) {
        return SL_ENOMEM;
    }
    int rc = s_scan(sh, port, SL_IDS_DB_PIPELINES, NULL, s_load_pipe_row, NULL);
    for (size_t i = 0; rc == 0 && i < sh->npipes; i++) {
        sl_pl_pipe_t *p = sh->pipes[i];
        char prefix[SL_PIPELINE_ID_MAX + 4];
        snprintf(prefix, sizeof(prefix), "%s-t", p->id);
        rc = s_scan(sh, port, SL_IDS_DB_TASKS, prefix, s_load_task_row, p);
        s_fill_holes(p);
    }
    sl_port_destroy(&port);
    if (rc < 0) {
        sl_error("%s: recovery from the store failed: %s", sh->name, sl_err_name(rc));
        return rc;
    }
    size_t resumed = 0;
    for (size_t i = 0; i < sh->npipes; i++) {
        if (!sl_pstatus_terminal(sh->pipes[i]->status)) {
            sl_pl_pipe_resume(sh->pipes[i]);
            resumed++;
        }
    }
    if (sh->npipes) {
        sl_info("%s: loaded %zu pipelines, resumed %zu", sh->name, sh->npipes, resumed);
    }
    return 0;
}

/* ---- retention ----------------------------------------------------------- */

/* A finished pipeline past retention goes, unless a task of it is still
   parked in the DLQ (DLQ entries outlive everything until retried or
   dropped). */
static bool s_expired(const sl_pl_pipe_t *p, int64_t now, int64_t retention)
{
    if (!sl_pstatus_terminal(p->status) || p->start_req || p->completed_ms <= 0 ||
        now - p->completed_ms < retention) {
        return false;
    }
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i] && (p->tasks[i]->flags & SL_PL_T_IN_DLQ)) {
            return false;
        }
    }
    return true;
}

static void s_on_retention(void *arg, uint64_t id)
{
    sl_pl_shard_t *sh = arg;
    int64_t now = sl_pl_now(sh);
    size_t purged = 0;
    for (size_t i = 0; i < sh->npipes;) {
        sl_pl_pipe_t *p = sh->pipes[i];
        /* Bounded per sweep so one sweep never stalls the shard. */
        if (purged < 1000 && s_expired(p, now, sh->cfg.retention_ms)) {
            sl_pl_pipe_purge(p); /* removes pipes[i] */
            purged++;
            if (sh->nops > 50000) {
                sl_pl_flush(sh, NULL, NULL);
            }
        } else {
            i++;
        }
    }
    if (purged) {
        sl_info("%s: retention removed %zu finished pipelines", sh->name, purged);
    }
    sl_pl_flush(sh, NULL, NULL);
}

/* ---- the actor ----------------------------------------------------------- */

typedef struct {
    sl_pipeline_config_t cfg;
    int shard;
} s_args_t;

static void s_shard_free(sl_pl_shard_t *sh)
{
    for (size_t i = 0; i < sh->npipes; i++) {
        sl_pl_pipe_free(sh->pipes[i]);
    }
    free(sh->pipes);
    sl_map_fini(&sh->byid);
    sl_pl_intern_fini(sh);
    sl_mp_writer_fini(&sh->ops);
    sl_mp_writer_fini(&sh->events);
    free(sh);
}

static int s_init(sl_actor_t *self, void *args, void **state)
{
    const s_args_t *a = args;
    sl_pl_shard_t *sh = calloc(1, sizeof(*sh));
    if (!sh) {
        return SL_ENOMEM;
    }
    sh->self = self;
    sh->cfg = a->cfg;
    sh->index = a->shard;
    snprintf(sh->name, sizeof(sh->name), "pipeline.%d", a->shard);
    sl_mp_writer_init(&sh->ops);
    sl_mp_writer_init(&sh->events);
    sh->rng = sh->cfg.seed ? sh->cfg.seed
                           : (uint64_t)sl_clock_now_us(sl_rt_clock(sl_actor_rt(self))) ^
                                 ((uint64_t)a->shard << 32) ^ 0x5bd1e995u;
    if (!sh->rng) {
        sh->rng = 1;
    }
    if (sh->cfg.recover) {
        int rc = s_recover(sh);
        if (rc < 0) {
            s_shard_free(sh);
            return rc;
        }
        sl_pl_flush(sh, NULL, NULL);
    }
    if (sh->cfg.retention_ms > 0) {
        int64_t every = sh->cfg.retention_ms < 60000 ? sh->cfg.retention_ms : 60000;
        sh->retention_timer = sl_actor_timer(self, every, every, s_on_retention, sh);
    }
    *state = sh;
    return 0;
}

static int s_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    sl_pl_shard_t *sh = state;
    switch (msg->type) {
    case SL_MSG_ATTEMPT_RESULT: {
        sl_attempt_result_t m = {0};
        if (sl_attempt_result_decode(msg->body, msg->body_len, &m) == 0) {
            sl_pl_on_result(sh, &m);
        } else {
            sl_warn("%s: malformed ATTEMPT_RESULT from %s dropped", sh->name, msg->from);
        }
        sl_attempt_result_clear(&m);
        break;
    }
    case SL_MSG_ATTEMPT_PROGRESS: {
        sl_attempt_progress_t m = {0};
        if (sl_attempt_progress_decode(msg->body, msg->body_len, &m) == 0) {
            sl_pl_on_progress(sh, &m);
        }
        sl_attempt_progress_clear(&m);
        break;
    }
    case SL_MSG_API_CALL:
        s_on_api_call(sh, msg);
        break;
    case SL_MSG_WD_SCAN:
        s_on_wd_scan(sh, msg);
        break;
    case SL_MSG_WD_RECONCILE:
        s_on_wd_reconcile(sh, msg);
        break;
    case SL_MSG_PIPELINE_DRAIN:
        s_on_drain(sh, msg);
        break;
    default:
        sl_debug("%s: ignoring message type %u from %s", sh->name, msg->type, msg->from);
        break;
    }
    sl_pl_flush(sh, NULL, NULL);
    return 0;
}

static void s_fini(sl_actor_t *self, void *state)
{
    sl_pl_shard_t *sh = state;
    if (!sh) {
        return;
    }
    sl_pl_flush(sh, NULL, NULL);
    s_shard_free(sh);
}

int sl_pipeline_spawn(sl_rt_t *rt, const sl_pipeline_config_t *cfg, int shard, sl_actor_t **out)
{
    if (!rt || !cfg || !out || cfg->shards < 1 || shard < 0 || shard >= cfg->shards) {
        return SL_EINVAL;
    }
    s_args_t args = {*cfg, shard};
    if (args.cfg.store_timeout_ms <= 0) {
        args.cfg.store_timeout_ms = 10000;
    }
    if (args.cfg.dlq_timeout_factor < 1.0) {
        args.cfg.dlq_timeout_factor = 1.0;
    }
    char name[SL_NAME_MAX];
    snprintf(name, sizeof(name), "pipeline.%d", shard);
    sl_actor_spec_t spec = {
        .name = name, .init = s_init, .handle = s_handle, .fini = s_fini, .args = &args};
    return sl_actor_spawn(rt, &spec, out);
}
