/*  sl_pipeline_api.c: the client API ops a pipeline shard answers
    (pipeline.start/get/list/cancel, task.get/cancel, dlq.retry/drop).

    Runs on the shard's thread only, called by the actor (sl_pipeline.c) for
    each API_CALL. An op validates its arguments, asks the state machine
    (sl_pipeline_fsm.c) to act and answers with the views of
    sl_pipeline_rec.c. Requests that are bad in any way get an {ok: false,
    error: {code, message}} reply and change nothing; an op that changes
    something answers only once the store committed the change.
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_log.h"

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
        p = sl_pl_reload(sh, id); /* evicted: read back from the store */
    }
    if (!p) {
        s_reply_err(sh, c->msg, SL_ENOTFOUND, "no pipeline %s", id);
    } else {
        p->touched_ms = sl_pl_now(sh);
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
    const char *dash = strstr(id, "-t");
    if (!t && dash && (size_t)(dash - id) < SL_PIPELINE_ID_MAX) {
        char pid[SL_PIPELINE_ID_MAX];
        memcpy(pid, id, (size_t)(dash - id));
        pid[dash - id] = '\0';
        if (!sl_map_get_str(&sh->byid, pid) && sl_pl_reload(sh, pid)) {
            t = sl_pl_find_task(sh, id); /* evicted: read back from the store */
        }
    }
    if (!t) {
        s_reply_err(sh, c->msg, SL_ENOTFOUND, "no task %s", id);
    } else {
        t->pipe->touched_ms = sl_pl_now(sh);
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
    sl_pl_view_pipe(&w, p);
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
    if (limit > 100000) {
        limit = 100000;
    }
    /* Memory and (with eviction) the pipelines only in the store, merged
       newest first: ids grow with time. */
    sl_pl_brief_t *stored = NULL;
    size_t ns = sl_pl_list_stored(sh, want, (uint32_t)limit, &stored);
    uint32_t n = 0;
    size_t mi = sh->npipes, si = ns;
    for (; n < limit; n++) {
        while (mi > 0 && want >= 0 && sh->pipes[mi - 1]->status != want) {
            mi--;
        }
        if (mi == 0 && si == 0) {
            break;
        }
        if (si > 0 && (mi == 0 || strcmp(stored[si - 1].id, sh->pipes[mi - 1]->id) > 0)) {
            si--;
        } else {
            mi--;
        }
    }
    sl_mp_writer_t w;
    s_reply_ok_begin(&w, "pipelines");
    sl_mp_write_array(&w, n);
    mi = sh->npipes;
    si = ns;
    for (uint32_t k = 0; k < n; k++) {
        while (mi > 0 && want >= 0 && sh->pipes[mi - 1]->status != want) {
            mi--;
        }
        if (si > 0 && (mi == 0 || strcmp(stored[si - 1].id, sh->pipes[mi - 1]->id) > 0)) {
            si--;
            sl_mp_write_raw(&w, stored[si].brief, stored[si].len);
        } else {
            sl_pl_view_pipe_brief(&w, sh->pipes[--mi]);
        }
    }
    for (size_t i = 0; i < ns; i++) {
        free(stored[i].brief);
    }
    free(stored);
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
    sl_pl_view_task(&w, t, true);
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

void sl_pl_on_api_call(sl_pl_shard_t *sh, const sl_msg_t *msg)
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
