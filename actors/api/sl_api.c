/*  sl_api.c: the API actor: ROUTER requests in, routed calls, PUB events out.

    Design notes
    - One table (s_ops) maps each op to its handler; a handler validates the
      fields it needs and either answers at once or starts one internal call
      (or a fan-out) whose replies complete a pending s_call_t. The callback
      of sl_actor_request fires exactly once, so every pending call is
      answered exactly once, with a timeout error at worst.
    - Replies from shards are finished maps; the api only splices the client's
      `id` in front (map header n -> n + 1) so shards never see envelopes.
    - A client that vanished is harmless: ROUTER drops replies to unknown
      identities.
*/
#include "actors/api/sl_api.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actors/api/sl_curve.h"
#include "actors/config/sl_config.h"
#include "proto/sl_ids.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "runtime/sl_log.h"

#define S_MAX_IDENTITY 256
#define S_MAX_ID_BYTES 256

typedef struct {
    sl_api_config_t cfg;
    char *binds[SL_API_MAX_BINDS];
    char *pub_binds[SL_API_MAX_BINDS];
    char *services[SL_API_MAX_SERVICES];
    void *router;
    void *pub;
    sl_curve_t *curve;     /* NULL when CURVE is off */
    sl_api_counters_t own; /* used when the config brings none */
    sl_api_counters_t *counters;
} s_api_t;

/* What a pending call collects. */
typedef enum {
    S_MERGE_PIPELINES = 1, /* pipeline.list: every shard's pipelines */
    S_MERGE_COUNT,         /* dlq.retry {all}: sum of every shard's retried */
    S_MERGE_ENDPOINTS,     /* endpoints.list: every endpoint's status */
    S_MERGE_STATS,         /* stats: the runtime's, plus every endpoint's push counters */
    S_ROWS_EVENTS,         /* events.since: store rows are events */
    S_ROWS_DLQ             /* dlq.list: store rows are DLQ entries */
} s_kind_t;

/* One client request waiting for internal replies. */
typedef struct {
    s_api_t *api;
    uint8_t identity[S_MAX_IDENTITY];
    size_t identity_len;
    bool req_style;             /* REQ client: reply carries the empty delimiter */
    uint8_t id[S_MAX_ID_BYTES]; /* the client's `id`, msgpack-encoded, if any */
    size_t id_len;
    /* fan-out */
    int waiting;
    s_kind_t kind;        /* how replies are merged */
    sl_mp_writer_t items; /* merged items so far */
    uint32_t n_items;
    int64_t limit;      /* pipeline.list: most items, 0 = all */
    uint64_t since_seq; /* events.since: the caller's seq */
    const char *what;   /* for error messages */
    uint8_t *refusal;   /* the first {ok: false} reply of a fan-out, sent as is */
    size_t refusal_len;
    uint64_t pushes[4];        /* stats: progress pushes summed (s_push_keys) */
    char key[SL_IDS_MAX + 12]; /* result.get: the results key asked for */
    bool partial;              /* result.get: asking for the partial result */
} s_call_t;

/* The endpoint counters of out-of-band progress pushes, and their names in
   endpoints.list and stats. */
static const char *const s_push_counters[4] = {"pushes_by_id", "pushes_attributed",
                                               "pushes_unattributed", "unknown_progress"};
static const char *const s_push_keys[4] = {"by_id", "attributed", "unattributed", "unknown_id"};

static void s_write_pushes(sl_mp_writer_t *w, const uint64_t v[4])
{
    sl_mp_write_str(w, "pushes");
    sl_mp_write_map(w, 4);
    for (int i = 0; i < 4; i++) {
        sl_mp_kv_uint(w, s_push_keys[i], v[i]);
    }
}

void sl_api_config_defaults(sl_api_config_t *cfg)
{
    const sl_config_t *d = sl_config_builtin(); /* the [api] keys: one endpoint each */
    memset(cfg, 0, sizeof(*cfg));
    cfg->binds[0] = d->api_endpoint;
    cfg->n_binds = 1;
    cfg->pub_binds[0] = d->pub_endpoint;
    cfg->n_pub_binds = 1;
    cfg->max_request_bytes = (size_t)d->max_request_bytes;
    cfg->shards = 1;
    cfg->call_timeout_ms = 10000;
}

void sl_api_counters_read(const sl_api_counters_t *counters, sl_api_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (counters) {
        out->requests = atomic_load_explicit(&counters->requests, memory_order_relaxed);
        out->errors = atomic_load_explicit(&counters->errors, memory_order_relaxed);
        out->published = atomic_load_explicit(&counters->published, memory_order_relaxed);
    }
}

/* ---- replies -------------------------------------------------------------- */

/* Sends body (a complete map) to the client, with its id spliced in. */
static void s_send_reply(s_api_t *self, const s_call_t *call, const uint8_t *body, size_t len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    const uint8_t *out = body;
    size_t out_len = len;
    if (call->id_len > 0) {
        sl_mp_reader_t r;
        uint32_t n = 0;
        sl_mp_reader_init(&r, body, len);
        if (sl_mp_read_map(&r, &n) == 0) {
            sl_mp_write_map(&w, n + 1);
            sl_mp_kv_raw(&w, "id", call->id, call->id_len);
            sl_mp_write_raw(&w, body + r.pos, len - r.pos);
            if (sl_mp_writer_error(&w) == 0) {
                out = sl_mp_writer_data(&w);
                out_len = sl_mp_writer_len(&w);
            }
        }
    }
    zmq_send(self->router, call->identity, call->identity_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (call->req_style) {
        zmq_send(self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    }
    zmq_send(self->router, out, out_len, ZMQ_DONTWAIT);
    sl_mp_writer_fini(&w);
}

static void s_reply_error(s_api_t *self, const s_call_t *call, const char *code, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

static void s_reply_error(s_api_t *self, const s_call_t *call, const char *code, const char *fmt,
                          ...)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    va_list ap;
    va_start(ap, fmt);
    sl_mp_write_error_replyv(&w, code, fmt, ap);
    va_end(ap);
    s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    sl_mp_writer_fini(&w);
    atomic_fetch_add_explicit(&self->counters->errors, 1, memory_order_relaxed);
}

static void s_reply_sl_error(s_api_t *self, const s_call_t *call, int rc, const char *context)
{
    s_reply_error(self, call, sl_err_name(rc), "%s: %s", context, sl_err_msg(rc));
}

static s_call_t *s_call_dup(const s_call_t *call)
{
    s_call_t *copy = malloc(sizeof(*copy));
    if (copy) {
        *copy = *call;
        sl_mp_writer_init(&copy->items);
        copy->refusal = NULL;
        copy->refusal_len = 0;
    }
    return copy;
}

static void s_call_free(s_call_t *call)
{
    if (call) {
        sl_mp_writer_fini(&call->items);
        free(call->refusal);
        free(call);
    }
}

/* ---- routed calls ----------------------------------------------------------- */

/* A shard (or any owner) answered an API_CALL: forward its reply map. */
static void s_on_api_result(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_call_t *call = arg;
    s_api_t *self = call->api;
    if (status != 0) {
        s_reply_sl_error(self, call, status, call->what);
    } else {
        sl_api_result_t res = {0};
        int rc = sl_api_result_decode(reply->body, reply->body_len, &res);
        if (rc == 0 && sl_mp_validate(res.body.ptr, res.body.len) == 0) {
            s_send_reply(self, call, res.body.ptr, res.body.len);
        } else {
            s_reply_error(self, call, "internal", "%s sent a malformed reply", call->what);
        }
        sl_api_result_clear(&res);
    }
    s_call_free(call);
}

/* Forwards the whole client request to `to` as an API_CALL. */
static void s_forward(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                      const uint8_t *body, size_t len, const char *to, const char *target)
{
    sl_api_call_t msg = {0};
    msg.op = (char *)op;
    msg.args.ptr = (uint8_t *)body;
    msg.args.len = len;
    msg.target = (char *)target;
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    int rc = sl_api_call_encode(&msg, &buf, &buf_len);
    if (rc) {
        s_reply_sl_error(self, call, rc, "encoding the call");
        return;
    }
    s_call_t *pending = s_call_dup(call);
    if (!pending) {
        free(buf);
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    pending->what = to;
    rc = sl_actor_request(actor, to, SL_MSG_API_CALL, buf, buf_len, self->cfg.call_timeout_ms,
                          s_on_api_result, pending);
    free(buf);
    if (rc) {
        s_call_free(pending);
        s_reply_error(self, call, "unavailable", "%s is not running (%s)", to, sl_err_msg(rc));
    }
}

/* ---- request helpers -------------------------------------------------------- */

/* Reads a required string field into out (NUL-terminated). */
static int s_need_str(s_api_t *self, const s_call_t *call, const uint8_t *body, size_t len,
                      const char *key, char *out, size_t out_size)
{
    const char *s = NULL;
    size_t slen = 0;
    int rc = sl_mp_map_get_str(body, len, key, &s, &slen);
    if (rc == SL_ENOTFOUND) {
        s_reply_error(self, call, "missing_field", "'%s' is required", key);
        return rc;
    }
    if (rc || slen == 0 || slen >= out_size || memchr(s, '\0', slen)) {
        s_reply_error(self, call, "invalid", "'%s' must be a non-empty string under %zu bytes", key,
                      out_size);
        return rc ? rc : SL_EINVAL;
    }
    memcpy(out, s, slen);
    out[slen] = '\0';
    return 0;
}

/* Optional non-negative integer; SL_ENOTFOUND leaves *out as is. */
static int s_opt_uint(s_api_t *self, const s_call_t *call, const uint8_t *body, size_t len,
                      const char *key, uint64_t *out)
{
    uint64_t v = 0;
    int rc = sl_mp_map_get_uint(body, len, key, &v);
    if (rc == SL_ENOTFOUND) {
        return 0;
    }
    if (rc) {
        s_reply_error(self, call, "invalid", "'%s' must be a non-negative integer", key);
        return rc;
    }
    *out = v;
    return 0;
}

static void s_shard_name(const s_api_t *self, const char *id, char *out, size_t size)
{
    sl_ids_pipeline_mailbox(out, size, sl_ids_shard_of(id, self->cfg.shards));
}

/* ---- ops ---------------------------------------------------------------------- */

typedef void(s_op_fn)(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                      const uint8_t *body, size_t len);

static void s_op_ping(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                      const uint8_t *body, size_t len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 3);
    sl_mp_kv_bool(&w, "ok", true);
    sl_mp_kv_bool(&w, "pong", true);
    sl_mp_kv_int(&w, "ts", sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(actor))));
    s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    sl_mp_writer_fini(&w);
}

static void s_endpoints_fanout(s_api_t *self, sl_actor_t *actor, s_call_t *pending);

static void s_op_stats(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                       const uint8_t *body, size_t len)
{
    enum { MAX_ACTORS = 256 };
    sl_actor_stats_t *stats = calloc(MAX_ACTORS, sizeof(*stats));
    if (!stats) {
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    size_t n = sl_rt_stats(sl_actor_rt(actor), stats, MAX_ACTORS);
    s_call_t *pending = s_call_dup(call);
    if (!pending) {
        free(stats);
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    /* api and actors now; the endpoints' push counters when they answer. */
    pending->kind = S_MERGE_STATS;
    memset(pending->pushes, 0, sizeof(pending->pushes));
    sl_mp_writer_t *w = &pending->items;
    sl_mp_write_str(w, "api");
    sl_mp_write_map(w, 3);
    sl_api_stats_t counters;
    sl_api_counters_read(self->counters, &counters);
    sl_mp_kv_uint(w, "requests", counters.requests);
    sl_mp_kv_uint(w, "errors", counters.errors);
    sl_mp_kv_uint(w, "published", counters.published);
    sl_mp_write_str(w, "actors");
    sl_mp_write_array(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        sl_mp_write_map(w, 7);
        sl_mp_kv_str(w, "name", stats[i].name);
        sl_mp_kv_uint(w, "msgs_in", stats[i].msgs_in);
        sl_mp_kv_uint(w, "msgs_out", stats[i].msgs_out);
        sl_mp_kv_uint(w, "mailbox_depth", stats[i].mailbox_depth);
        sl_mp_kv_uint(w, "handler_us", stats[i].handler_ns / 1000);
        sl_mp_kv_uint(w, "timers", stats[i].timers);
        sl_mp_kv_bool(w, "running", stats[i].running);
    }
    free(stats);
    s_endpoints_fanout(self, actor, pending);
}

/* pipeline.start: the api names the pipeline, so it knows the shard. */
static void s_op_pipeline_start(s_api_t *self, sl_actor_t *actor, const s_call_t *call,
                                const char *op, const uint8_t *body, size_t len)
{
    char id[SL_IDS_MAX];
    sl_ids_new_pipeline(id, sizeof(id), sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(actor))));
    char shard[SL_NAME_MAX];
    s_shard_name(self, id, shard, sizeof(shard));
    s_forward(self, actor, call, op, body, len, shard, id);
}

/* Ops addressed by a pipeline id. */
static void s_op_by_pipeline(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                             const uint8_t *body, size_t len)
{
    char id[SL_IDS_MAX];
    if (s_need_str(self, call, body, len, "pipeline_id", id, sizeof(id))) {
        return;
    }
    char shard[SL_NAME_MAX];
    s_shard_name(self, id, shard, sizeof(shard));
    s_forward(self, actor, call, op, body, len, shard, id);
}

/* Ops addressed by a task id (task.get, dlq.retry/drop of one task). */
static void s_op_by_task(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                         const uint8_t *body, size_t len)
{
    char id[SL_IDS_MAX];
    if (s_need_str(self, call, body, len, "task_id", id, sizeof(id))) {
        return;
    }
    char shard[SL_NAME_MAX];
    s_shard_name(self, id, shard, sizeof(shard));
    s_forward(self, actor, call, op, body, len, shard, id);
}

/* ---- fan-out: pipeline.list, dlq.retry {all}, endpoints.list --------------- */

static void s_fanout_finish(s_api_t *self, s_call_t *call)
{
    if (call->refusal) {
        /* every shard validates the same arguments: one refusal speaks for all */
        s_send_reply(self, call, call->refusal, call->refusal_len);
        atomic_fetch_add_explicit(&self->counters->errors, 1, memory_order_relaxed);
        return;
    }
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    if (call->kind == S_MERGE_STATS) {
        sl_mp_write_map(&w, 4);
        sl_mp_kv_bool(&w, "ok", true);
        sl_mp_write_raw(&w, sl_mp_writer_data(&call->items), sl_mp_writer_len(&call->items));
        s_write_pushes(&w, call->pushes);
        s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
        sl_mp_writer_fini(&w);
        return;
    }
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "ok", true);
    if (call->kind == S_MERGE_COUNT) {
        sl_mp_kv_uint(&w, "retried", call->n_items);
    } else {
        sl_mp_write_str(&w, call->kind == S_MERGE_PIPELINES ? "pipelines" : "services");
        sl_mp_write_array(&w, call->n_items);
        sl_mp_write_raw(&w, sl_mp_writer_data(&call->items), sl_mp_writer_len(&call->items));
    }
    s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    sl_mp_writer_fini(&w);
}

/* One shard's part of pipeline.list or dlq.retry {all}. */
static void s_on_fanout_shard(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_call_t *call = arg;
    if (status == 0) {
        sl_api_result_t res = {0};
        bool ok = true;
        if (sl_api_result_decode(reply->body, reply->body_len, &res) == 0 &&
            sl_mp_map_get_bool(res.body.ptr, res.body.len, "ok", &ok) == 0 && !ok) {
            if (!call->refusal && (call->refusal = malloc(res.body.len))) {
                memcpy(call->refusal, res.body.ptr, res.body.len);
                call->refusal_len = res.body.len;
            }
        } else if (res.body.len) {
            sl_mp_reader_t v;
            if (call->kind == S_MERGE_PIPELINES &&
                sl_mp_map_find(res.body.ptr, res.body.len, "pipelines", &v) == 0) {
                uint32_t n = 0;
                if (sl_mp_read_array(&v, &n) == 0) {
                    for (uint32_t i = 0; i < n; i++) {
                        const uint8_t *item = NULL;
                        size_t item_len = 0;
                        if (sl_mp_read_raw(&v, &item, &item_len)) {
                            break;
                        }
                        if (call->limit > 0 && (int64_t)call->n_items >= call->limit) {
                            break;
                        }
                        sl_mp_write_raw(&call->items, item, item_len);
                        call->n_items++;
                    }
                }
            } else if (call->kind == S_MERGE_COUNT) {
                uint64_t retried = 0;
                if (sl_mp_map_get_uint(res.body.ptr, res.body.len, "retried", &retried) == 0) {
                    call->n_items += (uint32_t)retried;
                }
            }
        }
        sl_api_result_clear(&res);
    }
    if (--call->waiting == 0) {
        s_fanout_finish(call->api, call);
        s_call_free(call);
    }
}

static void s_fanout_shards(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                            const uint8_t *body, size_t len, s_kind_t kind)
{
    s_call_t *pending = s_call_dup(call);
    if (!pending) {
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    pending->kind = kind;
    pending->what = op;
    pending->limit = 0;
    uint64_t limit = 0;
    if (kind == S_MERGE_PIPELINES && s_opt_uint(self, call, body, len, "limit", &limit)) {
        s_call_free(pending);
        return;
    }
    pending->limit = (int64_t)limit;
    sl_api_call_t msg = {.op = (char *)op, .args = {(uint8_t *)body, len}};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    if (sl_api_call_encode(&msg, &buf, &buf_len)) {
        s_call_free(pending);
        s_reply_sl_error(self, call, SL_EINVAL, op);
        return;
    }
    pending->waiting = 1; /* held until every request is out */
    for (int i = 0; i < self->cfg.shards; i++) {
        char shard[SL_NAME_MAX];
        sl_ids_pipeline_mailbox(shard, sizeof(shard), i);
        pending->waiting++;
        if (sl_actor_request(actor, shard, SL_MSG_API_CALL, buf, buf_len, self->cfg.call_timeout_ms,
                             s_on_fanout_shard, pending)) {
            pending->waiting--;
        }
    }
    free(buf);
    if (--pending->waiting == 0) {
        s_fanout_finish(self, pending);
        s_call_free(pending);
    }
}

static void s_op_pipeline_list(s_api_t *self, sl_actor_t *actor, const s_call_t *call,
                               const char *op, const uint8_t *body, size_t len)
{
    s_fanout_shards(self, actor, call, op, body, len, S_MERGE_PIPELINES);
}

static void s_op_dlq_retry(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                           const uint8_t *body, size_t len)
{
    bool all = false;
    if (sl_mp_map_get_bool(body, len, "all", &all) == 0 && all) {
        s_fanout_shards(self, actor, call, op, body, len, S_MERGE_COUNT);
        return;
    }
    s_op_by_task(self, actor, call, op, body, len);
}

/* endpoints.list's view of an endpoint's replicas (README, "API"): every
   key present, null where the endpoint does not know yet. */
static void s_write_replicas(sl_mp_writer_t *w, const sl_bytes_t *items)
{
    sl_mp_reader_t r;
    uint32_t n = 0;
    sl_codec_items(items, &r, &n);
    sl_mp_writer_t list;
    sl_mp_writer_init(&list);
    uint32_t shown = 0;
    for (uint32_t i = 0; i < n && !sl_mp_reader_done(&r); i++) {
        sl_replica_status_t rs;
        if (sl_replica_status_next(&r, &rs) < 0) {
            continue;
        }
        sl_mp_write_map(&list, 11);
        sl_mp_kv_str(&list, "url", rs.url);
        sl_mp_kv_str(&list, "address", rs.address); /* nil until connected */
        sl_mp_kv_str(&list, "breaker", rs.breaker);
        sl_mp_kv_bool(&list, "suspect", rs.suspect); /* README "Liveness" */
        sl_mp_kv_uint(&list, "in_flight", rs.in_flight);
        sl_mp_kv_double(&list, "ewma_ms", rs.ewma_ms);
        sl_mp_kv_uint(&list, "calls", rs.calls);
        sl_mp_kv_uint(&list, "failures", rs.failures);
        sl_mp_kv_uint(&list, "consecutive_failures", rs.consecutive_failures);
        sl_mp_kv_int(&list, "open_until_ms", rs.open_until_ms);
        sl_mp_write_str(&list, "tools");
        if (rs.tools_known) {
            sl_mp_write_array(&list, (uint32_t)rs.tools.n);
            for (size_t k = 0; k < rs.tools.n; k++) {
                sl_mp_write_str(&list, rs.tools.v[k]);
            }
        } else {
            sl_mp_write_nil(&list);
        }
        sl_replica_status_clear(&rs);
        shown++;
    }
    sl_mp_write_str(w, "replicas");
    sl_mp_write_array(w, shown);
    sl_mp_write_raw(w, sl_mp_writer_data(&list), sl_mp_writer_len(&list));
    sl_mp_writer_fini(&list);
}

static void s_on_endpoint_status(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_call_t *call = arg;
    sl_endpoint_status_reply_t st = {0};
    if (status == 0 && sl_endpoint_status_reply_decode(reply->body, reply->body_len, &st) == 0) {
        uint64_t pushes[4] = {0};
        for (int i = 0; i < 4; i++) {
            (void)sl_mp_map_get_uint(st.counters.ptr, st.counters.len, s_push_counters[i],
                                     &pushes[i]);
            call->pushes[i] += pushes[i];
        }
        if (call->kind == S_MERGE_ENDPOINTS) {
            sl_mp_write_map(&call->items, 5);
            sl_mp_kv_str(&call->items, "name", st.service);
            sl_mp_kv_str(&call->items, "protocol", st.protocol);
            sl_mp_kv_uint(&call->items, "queued", st.queued);
            s_write_replicas(&call->items, &st.replicas);
            s_write_pushes(&call->items, pushes);
            call->n_items++;
        }
    }
    sl_endpoint_status_reply_clear(&st);
    if (--call->waiting == 0) {
        s_fanout_finish(call->api, call);
        s_call_free(call);
    }
}

/* Asks every endpoint for its status; pending (taken over) is answered by
   s_fanout_finish once all replied or timed out. */
static void s_endpoints_fanout(s_api_t *self, sl_actor_t *actor, s_call_t *pending)
{
    pending->waiting = 1;
    sl_endpoint_status_t req = {.verbose = true};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    sl_endpoint_status_encode(&req, &buf, &buf_len);
    for (size_t i = 0; i < self->cfg.n_services; i++) {
        char name[SL_NAME_MAX];
        sl_ids_endpoint_mailbox(name, sizeof(name), self->services[i]);
        pending->waiting++;
        if (sl_actor_request(actor, name, SL_MSG_ENDPOINT_STATUS, buf, buf_len,
                             self->cfg.call_timeout_ms, s_on_endpoint_status, pending)) {
            pending->waiting--;
        }
    }
    free(buf);
    if (--pending->waiting == 0) {
        s_fanout_finish(self, pending);
        s_call_free(pending);
    }
}

static void s_op_endpoints_list(s_api_t *self, sl_actor_t *actor, const s_call_t *call,
                                const char *op, const uint8_t *body, size_t len)
{
    s_call_t *pending = s_call_dup(call);
    if (!pending) {
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    pending->kind = S_MERGE_ENDPOINTS;
    memset(pending->pushes, 0, sizeof(pending->pushes));
    s_endpoints_fanout(self, actor, pending);
}

/* ---- store-backed ops ---------------------------------------------------------- */

static void s_result_request(s_api_t *self, sl_actor_t *actor, const s_call_t *call);

static void s_on_result_value(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_call_t *call = arg;
    s_api_t *self = call->api;
    sl_store_value_t val = {0};
    if (status) {
        s_reply_sl_error(self, call, status, SL_IDS_STORE);
    } else if (sl_store_value_decode(reply->body, reply->body_len, &val)) {
        s_reply_error(self, call, "internal", "store sent a malformed reply");
    } else if (val.status == SL_ENOTFOUND && !call->partial) {
        /* No frame: what the analyzer reported before it ran out of time,
           if anything (stored under the key + "-p"). */
        s_call_t next = *call;
        next.partial = true;
        strncat(next.key, "-p", sizeof(next.key) - strlen(next.key) - 1);
        s_result_request(self, actor, &next);
    } else if (val.status == SL_ENOTFOUND) {
        s_reply_error(self, call, "not_found", "no result stored for this task");
    } else if (val.status) {
        s_reply_sl_error(self, call, (int)val.status, SL_IDS_STORE);
    } else {
        sl_mp_writer_t w;
        sl_mp_writer_init(&w);
        sl_mp_write_map(&w, call->partial ? 3 : 2);
        sl_mp_kv_bool(&w, "ok", true);
        sl_mp_kv_bin(&w, "result", val.value.ptr, val.value.len);
        if (call->partial) {
            sl_mp_kv_bool(&w, "partial", true);
        }
        s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
        sl_mp_writer_fini(&w);
    }
    sl_store_value_clear(&val);
    s_call_free(call);
}

static void s_op_result_get(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                            const uint8_t *body, size_t len)
{
    char id[SL_IDS_MAX];
    uint64_t attempt = 0;
    if (s_need_str(self, call, body, len, "task_id", id, sizeof(id)) ||
        s_opt_uint(self, call, body, len, "attempt", &attempt)) {
        return;
    }
    if (attempt > UINT16_MAX) {
        s_reply_error(self, call, "invalid", "'attempt' must be 1..%u", UINT16_MAX);
        return;
    }
    /* A failed attempt's frame is under <task_id>-a<NN>, the attempts db's
       key (sl_attempt_key, docs/internals.md); a partial result under the
       same key + "-p". */
    s_call_t first = *call;
    first.partial = false;
    if (attempt) {
        snprintf(first.key, sizeof(first.key), "%s-a%02u", id, (unsigned)attempt);
    } else {
        snprintf(first.key, sizeof(first.key), "%s", id);
    }
    s_result_request(self, actor, &first);
}

/* Asks the store for call->key of the results db; answers the client from
   s_on_result_value. */
static void s_result_request(s_api_t *self, sl_actor_t *actor, const s_call_t *call)
{
    sl_store_get_t get = {.db = SL_IDS_DB_RESULTS,
                          .key = {(uint8_t *)call->key, strlen(call->key)}};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    s_call_t *pending = s_call_dup(call);
    if (!pending || sl_store_get_encode(&get, &buf, &buf_len)) {
        s_call_free(pending);
        s_reply_sl_error(self, call, SL_ENOMEM, "result.get");
        return;
    }
    int rc = sl_actor_request(actor, SL_IDS_STORE, SL_MSG_STORE_GET, buf, buf_len,
                              self->cfg.call_timeout_ms, s_on_result_value, pending);
    free(buf);
    if (rc) {
        s_call_free(pending);
        s_reply_error(self, call, "unavailable", "store is not running (%s)", sl_err_msg(rc));
    }
}

/* events.since after a cursor whose next events were pruned: {ok: false,
   error: {code: pruned, message, first_seq}}. */
static void s_reply_pruned(s_api_t *self, const s_call_t *call, uint64_t first_seq)
{
    char message[160];
    snprintf(message, sizeof(message),
             "events after seq %llu were pruned; the first kept event is seq %llu (re-read "
             "state with pipeline.get, then follow from seq %llu)",
             (unsigned long long)call->since_seq, (unsigned long long)first_seq,
             (unsigned long long)(first_seq - 1));
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "ok", false);
    sl_mp_write_str(&w, "error");
    sl_mp_write_map(&w, 3);
    sl_mp_kv_str(&w, "code", "pruned");
    sl_mp_kv_str(&w, "message", message);
    sl_mp_kv_uint(&w, "first_seq", first_seq);
    s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    sl_mp_writer_fini(&w);
    atomic_fetch_add_explicit(&self->counters->errors, 1, memory_order_relaxed);
}

/* events.since and dlq.list: rows of the store, values passed through. */
static void s_on_rows(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_call_t *call = arg;
    s_api_t *self = call->api;
    sl_store_rows_t rows = {0};
    if (status) {
        s_reply_sl_error(self, call, status, SL_IDS_STORE);
    } else if (sl_store_rows_decode(reply->body, reply->body_len, &rows) || rows.status) {
        s_reply_error(self, call, "internal", "store could not scan (%s)",
                      sl_err_msg((int)rows.status));
    } else {
        bool events = call->kind == S_ROWS_EVENTS;
        sl_mp_writer_t items;
        sl_mp_writer_init(&items);
        uint32_t n = 0, count = 0;
        uint64_t last_seq = call->since_seq, pruned_first = 0;
        sl_mp_reader_t r;
        if (sl_codec_items(&rows.rows, &r, &n) == 0) {
            for (uint32_t i = 0; i < n; i++) {
                sl_store_row_t row;
                if (sl_store_row_next(&r, &row) < 0) {
                    sl_store_row_clear(&row);
                    break;
                }
                const uint8_t *key = row.key.ptr, *value = row.value.ptr;
                size_t key_len = row.key.len, value_len = row.value.len;
                if (sl_mp_validate(value, value_len)) {
                    sl_store_row_clear(&row);
                    continue; /* the store quarantines corrupt values; skip here */
                }
                if (events && key_len == 8) {
                    last_seq = 0;
                    for (int b = 0; b < 8; b++) {
                        last_seq = last_seq << 8 | key[b];
                    }
                    if (count == 0 && call->since_seq > 0 && last_seq > call->since_seq + 1) {
                        /* Seqs are gapless: a hole after the cursor is
                           the prune (the newest event is never pruned, so
                           a pruned cursor always finds a first row). */
                        pruned_first = last_seq;
                        sl_store_row_clear(&row);
                        break;
                    }
                }
                sl_mp_write_raw(&items, value, value_len);
                count++;
                sl_store_row_clear(&row);
            }
        }
        if (pruned_first) {
            s_reply_pruned(self, call, pruned_first);
            sl_mp_writer_fini(&items);
            sl_store_rows_clear(&rows);
            s_call_free(call);
            return;
        }
        sl_mp_writer_t w;
        sl_mp_writer_init(&w);
        sl_mp_write_map(&w, events ? 4 : 2);
        sl_mp_kv_bool(&w, "ok", true);
        sl_mp_write_str(&w, events ? "events" : "entries");
        sl_mp_write_array(&w, count);
        sl_mp_write_raw(&w, sl_mp_writer_data(&items), sl_mp_writer_len(&items));
        if (events) {
            sl_mp_kv_uint(&w, "last_seq", last_seq);
            sl_mp_kv_bool(&w, "more", rows.more);
        }
        s_send_reply(self, call, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
        sl_mp_writer_fini(&w);
        sl_mp_writer_fini(&items);
    }
    sl_store_rows_clear(&rows);
    s_call_free(call);
}

static void s_scan(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                   sl_store_scan_t *scan, s_kind_t kind, uint64_t since_seq)
{
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    s_call_t *pending = s_call_dup(call);
    if (!pending || sl_store_scan_encode(scan, &buf, &buf_len)) {
        s_call_free(pending);
        s_reply_sl_error(self, call, SL_ENOMEM, op);
        return;
    }
    pending->kind = kind;
    pending->since_seq = since_seq;
    int rc = sl_actor_request(actor, SL_IDS_STORE, SL_MSG_STORE_SCAN, buf, buf_len,
                              self->cfg.call_timeout_ms, s_on_rows, pending);
    free(buf);
    if (rc) {
        s_call_free(pending);
        s_reply_error(self, call, "unavailable", "store is not running (%s)", sl_err_msg(rc));
    }
}

static void s_op_events_since(s_api_t *self, sl_actor_t *actor, const s_call_t *call,
                              const char *op, const uint8_t *body, size_t len)
{
    uint64_t seq = 0, limit = 1000;
    if (s_opt_uint(self, call, body, len, "seq", &seq) ||
        s_opt_uint(self, call, body, len, "limit", &limit)) {
        return;
    }
    if (limit == 0 || limit > 10000) {
        limit = 10000;
    }
    uint8_t after[8];
    for (int b = 0; b < 8; b++) {
        after[b] = (uint8_t)(seq >> (56 - 8 * b));
    }
    sl_store_scan_t scan = {.db = SL_IDS_DB_EVENTS, .start_after = {after, 8}, .limit = limit};
    s_scan(self, actor, call, op, &scan, S_ROWS_EVENTS, seq);
}

static void s_op_dlq_list(s_api_t *self, sl_actor_t *actor, const s_call_t *call, const char *op,
                          const uint8_t *body, size_t len)
{
    uint64_t limit = 1000;
    if (s_opt_uint(self, call, body, len, "limit", &limit)) {
        return;
    }
    sl_store_scan_t scan = {.db = SL_IDS_DB_DLQ, .limit = limit ? limit : 1000};
    s_scan(self, actor, call, op, &scan, S_ROWS_DLQ, 0);
}

static const struct {
    const char *op;
    s_op_fn *fn;
} s_ops[] = {
    {"ping", s_op_ping},
    {"stats", s_op_stats},
    {"pipeline.start", s_op_pipeline_start},
    {"pipeline.get", s_op_by_pipeline},
    {"pipeline.cancel", s_op_by_pipeline},
    {"pipeline.list", s_op_pipeline_list},
    {"task.get", s_op_by_task},
    {"task.cancel", s_op_by_task},
    {"result.get", s_op_result_get},
    {"dlq.list", s_op_dlq_list},
    {"dlq.retry", s_op_dlq_retry},
    {"dlq.drop", s_op_by_task},
    {"endpoints.list", s_op_endpoints_list},
    {"events.since", s_op_events_since},
};

/* ---- the ROUTER ---------------------------------------------------------------- */

static void s_handle_request(s_api_t *self, sl_actor_t *actor, s_call_t *call, const uint8_t *body,
                             size_t len)
{
    atomic_fetch_add_explicit(&self->counters->requests, 1, memory_order_relaxed);
    if (len > self->cfg.max_request_bytes) {
        s_reply_error(self, call, "too_big", "request of %zu bytes exceeds the limit of %zu", len,
                      self->cfg.max_request_bytes);
        return;
    }
    int rc = sl_mp_validate(body, len);
    if (rc) {
        s_reply_error(self, call, "malformed", "not one msgpack object: %s", sl_err_msg(rc));
        return;
    }
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, body, len);
    if (sl_mp_peek(&r) != SL_MP_MAP) {
        s_reply_error(self, call, "malformed", "a request must be a msgpack map");
        return;
    }
    sl_mp_reader_t idv;
    if (sl_mp_map_find(body, len, "id", &idv) == 0 && idv.len - idv.pos <= S_MAX_ID_BYTES) {
        call->id_len = idv.len - idv.pos;
        memcpy(call->id, idv.buf + idv.pos, call->id_len);
    }
    const char *op = NULL;
    size_t op_len = 0;
    rc = sl_mp_map_get_str(body, len, "op", &op, &op_len);
    if (rc == SL_ENOTFOUND) {
        s_reply_error(self, call, "missing_field", "'op' is required");
        return;
    }
    if (rc) {
        s_reply_error(self, call, "invalid", "'op' must be a string");
        return;
    }
    for (size_t i = 0; i < sizeof(s_ops) / sizeof(s_ops[0]); i++) {
        if (sl_mp_str_eq(op, op_len, s_ops[i].op)) {
            s_ops[i].fn(self, actor, call, s_ops[i].op, body, len);
            return;
        }
    }
    s_reply_error(self, call, "unknown_op", "unknown op '%.*s'", (int)(op_len > 64 ? 64 : op_len),
                  op);
}

/* Drains the ROUTER: [identity, (empty,) body]. */
static int s_on_router(sl_actor_t *actor, void *zsock, short revents, void *arg)
{
    s_api_t *self = arg;
    for (int budget = 0; budget < 1000; budget++) {
        zmq_msg_t frames[3];
        int n = 0;
        bool more = true, dropped = false;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, zsock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                if (n == 0) {
                    return 0; /* drained */
                }
                break;
            }
            more = zmq_msg_more(&part);
            if (n < 3) {
                frames[n++] = part;
            } else {
                zmq_msg_close(&part);
                dropped = true;
            }
        }
        s_call_t call = {.api = self};
        if (n >= 1 && zmq_msg_size(&frames[0]) <= S_MAX_IDENTITY) {
            call.identity_len = zmq_msg_size(&frames[0]);
            memcpy(call.identity, zmq_msg_data(&frames[0]), call.identity_len);
            if (n == 2 && !dropped) {
                s_handle_request(self, actor, &call, zmq_msg_data(&frames[1]),
                                 zmq_msg_size(&frames[1]));
            } else if (n == 3 && zmq_msg_size(&frames[1]) == 0 && !dropped) {
                call.req_style = true;
                s_handle_request(self, actor, &call, zmq_msg_data(&frames[2]),
                                 zmq_msg_size(&frames[2]));
            } else {
                atomic_fetch_add_explicit(&self->counters->requests, 1, memory_order_relaxed);
                s_reply_error(self, &call, "malformed",
                              "a request is one frame holding a msgpack map");
            }
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&frames[i]);
        }
    }
    return 0;
}

/* ---- the actor ------------------------------------------------------------------ */

static void s_publish(s_api_t *self, const sl_msg_t *msg)
{
    sl_event_publish_t ev = {0};
    if (sl_event_publish_decode(msg->body, msg->body_len, &ev) == 0) {
        if (zmq_send(self->pub, ev.topic, strlen(ev.topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0 &&
            zmq_send(self->pub, ev.body.ptr, ev.body.len, ZMQ_DONTWAIT) >= 0) {
            atomic_fetch_add_explicit(&self->counters->published, 1, memory_order_relaxed);
        }
    } else {
        sl_warn("api: dropped a malformed EVENT_PUBLISH");
    }
    sl_event_publish_clear(&ev);
}

/* API_RELOAD (sluice_reload): the CURVE clients, re-read on this thread,
   which also answers ZAP. */
static void s_reload(s_api_t *self, sl_actor_t *actor, const sl_msg_t *msg)
{
    sl_api_reload_t m = {0};
    sl_api_reload_reply_t r = {0};
    int rc = sl_api_reload_decode(msg->body, msg->body_len, &m);
    if (rc) {
        r.error = (char *)"malformed API_RELOAD";
    } else if (!self->curve) {
        r.error = (char *)"CURVE is off";
    } else if ((rc = sl_curve_reload_clients(self->curve, m.curve_clients_dir)) != 0) {
        r.error = (char *)"cannot read api/curve_clients_dir (see the log); the previous clients "
                          "stay allowed";
    } else {
        r.clients = sl_curve_clients(self->curve);
    }
    uint8_t *body = NULL;
    size_t len = 0;
    if ((msg->flags & SL_MSG_F_REQUEST) && sl_api_reload_reply_encode(&r, &body, &len) == 0) {
        sl_actor_reply(actor, msg, SL_MSG_API_RELOAD_REPLY, body, len);
    }
    free(body);
    sl_api_reload_clear(&m);
}

static int s_handle(sl_actor_t *actor, void *state, const sl_msg_t *msg)
{
    s_api_t *self = state;
    if (msg->type == SL_MSG_EVENT_PUBLISH) {
        s_publish(self, msg);
    } else if (msg->type == SL_MSG_API_RELOAD) {
        s_reload(self, actor, msg);
    }
    return 0;
}

static void s_free(s_api_t *self)
{
    if (!self) {
        return;
    }
    if (self->router) {
        zmq_close(self->router);
    }
    if (self->pub) {
        zmq_close(self->pub);
    }
    sl_curve_destroy(&self->curve); /* after the sockets it guards */
    for (size_t i = 0; i < SL_API_MAX_BINDS; i++) {
        free(self->binds[i]);
        free(self->pub_binds[i]);
    }
    for (size_t i = 0; i < SL_API_MAX_SERVICES; i++) {
        free(self->services[i]);
    }
    free(self);
}

static int s_bind_all(void *sock, char **binds, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (zmq_bind(sock, binds[i]) != 0) {
            sl_error("api: cannot bind %s to %s: %s", what, binds[i], zmq_strerror(zmq_errno()));
            return SL_EZMQ;
        }
    }
    return 0;
}

static int s_init(sl_actor_t *actor, void *args, void **state)
{
    const sl_api_config_t *cfg = args;
    s_api_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return SL_ENOMEM;
    }
    self->cfg = *cfg;
    self->counters = cfg->counters ? cfg->counters : &self->own;
    int rc = SL_ENOMEM;
    for (size_t i = 0; i < cfg->n_binds; i++) {
        if (!(self->binds[i] = strdup(cfg->binds[i]))) {
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_pub_binds; i++) {
        if (!(self->pub_binds[i] = strdup(cfg->pub_binds[i]))) {
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (!(self->services[i] = strdup(cfg->services[i]))) {
            goto fail;
        }
    }
    void *ctx = sl_rt_zmq_ctx(sl_actor_rt(actor));
    self->router = zmq_socket(ctx, ZMQ_ROUTER);
    self->pub = zmq_socket(ctx, ZMQ_PUB);
    rc = SL_EZMQ;
    if (!self->router || !self->pub) {
        goto fail;
    }
    int zero = 0;
    zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(self->pub, ZMQ_LINGER, &zero, sizeof(zero));
    /* Every request up to the ceiling is read and answered (too_big past
       max_request_bytes); past it the socket drops the connection unread, so
       one client cannot make the daemon buffer an arbitrary frame. */
    int64_t max = (int64_t)cfg->max_request_bytes * SL_API_FRAME_CEILING;
    zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    if (cfg->curve_secret_file && cfg->curve_secret_file[0]) {
        /* ZAP handler bound before any secured socket binds */
        rc = (self->curve = sl_curve_new()) ? 0 : SL_ENOMEM;
        if (rc ||
            (rc = sl_curve_load(self->curve, cfg->curve_secret_file, cfg->curve_clients_dir)) ||
            (rc = sl_curve_start(self->curve, actor)) ||
            (rc = sl_curve_secure(self->curve, self->router)) ||
            (rc = sl_curve_secure(self->curve, self->pub))) {
            goto fail;
        }
        for (size_t i = 0; i < cfg->n_binds; i++) {
            sl_curve_check_bind(cfg->binds[i]);
        }
        for (size_t i = 0; i < cfg->n_pub_binds; i++) {
            sl_curve_check_bind(cfg->pub_binds[i]);
        }
        rc = SL_EZMQ;
    }
    if (s_bind_all(self->router, self->binds, cfg->n_binds, "API") ||
        s_bind_all(self->pub, self->pub_binds, cfg->n_pub_binds, "PUB")) {
        goto fail;
    }
    rc = sl_actor_watch_socket(actor, self->router, ZMQ_POLLIN, s_on_router, self);
    if (rc) {
        goto fail;
    }
    *state = self;
    return 0;
fail:
    s_free(self);
    return rc;
}

static void s_fini(sl_actor_t *actor, void *state)
{
    s_api_t *self = state;
    if (self && self->router) {
        sl_actor_unwatch_socket(actor, self->router);
    }
    s_free(self);
}

int sl_api_spawn(sl_rt_t *rt, const sl_api_config_t *cfg, sl_actor_t **out)
{
    if (!rt || !cfg || cfg->n_binds > SL_API_MAX_BINDS || cfg->n_pub_binds > SL_API_MAX_BINDS ||
        cfg->n_services > SL_API_MAX_SERVICES || cfg->shards < 1 ||
        !(cfg->curve_secret_file && *cfg->curve_secret_file) !=
            !(cfg->curve_clients_dir && *cfg->curve_clients_dir)) {
        return SL_EINVAL;
    }
    sl_actor_spec_t spec = {
        .name = SL_IDS_API,
        .init = s_init,
        .handle = s_handle,
        .fini = s_fini,
        .args = (void *)cfg,
    };
    return sl_actor_spawn(rt, &spec, out);
}
