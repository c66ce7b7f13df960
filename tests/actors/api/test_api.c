/*  test_api.c: the API actor's contract, with real ZeroMQ clients on inproc.

    The test thread plays every other actor through sl_port_t mailboxes
    (`pipeline.0`, `pipeline.1`, `store`, `endpoint.generator`), so each case
    sees exactly what the api sends and answers it by hand.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "actors/api/sl_api.h"
#include "proto/sl_ids.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "tests/ttmp.h"

typedef struct {
    sl_rt_t *rt;
    sl_actor_t *api;
    void *dealer;
    void *sub;
    sl_port_t *shard0;
    sl_port_t *shard1;
    sl_port_t *store;
    sl_port_t *endpoint;
    char dir[64];  /* holds the ipc endpoint */
    char ipc[128]; /* a second bind: frame limits apply only where bytes are decoded */
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->rt = sl_rt_new(NULL, NULL);
    assert_non_null(f->rt);
    f->shard0 = sl_port_new(f->rt, "pipeline.0");
    f->shard1 = sl_port_new(f->rt, "pipeline.1");
    f->store = sl_port_new(f->rt, SL_IDS_STORE);
    f->endpoint = sl_port_new(f->rt, "endpoint.generator");
    sl_api_config_t cfg;
    sl_api_config_defaults(&cfg);
    assert_int_equal(ttmp_make(f->dir, sizeof(f->dir), "test_api"), 0);
    snprintf(f->ipc, sizeof(f->ipc), "ipc://%s/api", f->dir);
    cfg.binds[0] = "inproc://test-api";
    cfg.binds[1] = f->ipc;
    cfg.n_binds = 2;
    cfg.pub_binds[0] = "inproc://test-pub";
    cfg.shards = 2;
    cfg.services[0] = "generator";
    cfg.n_services = 1;
    cfg.call_timeout_ms = 300;
    cfg.max_request_bytes = 4096;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), 0);
    void *ctx = sl_rt_zmq_ctx(f->rt);
    f->dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(f->dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(f->dealer, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(zmq_connect(f->dealer, "inproc://test-api"), 0);
    f->sub = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(f->sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(f->sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(f->sub, "inproc://test-pub"), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    zmq_close(f->dealer);
    zmq_close(f->sub);
    sl_actor_destroy(&f->api);
    sl_port_destroy(&f->shard0);
    sl_port_destroy(&f->shard1);
    sl_port_destroy(&f->store);
    sl_port_destroy(&f->endpoint);
    sl_rt_destroy(&f->rt);
    ttmp_remove(f->dir);
    free(f);
    return 0;
}

/* Sends raw bytes as one request frame. */
static void send_raw(fixture_t *f, const void *buf, size_t len)
{
    assert_int_equal(zmq_send(f->dealer, buf, len, 0), (int)len);
}

static void send_map(fixture_t *f, sl_mp_writer_t *w)
{
    assert_int_equal(sl_mp_writer_error(w), 0);
    send_raw(f, sl_mp_writer_data(w), sl_mp_writer_len(w));
    sl_mp_writer_fini(w);
}

/* Receives one reply; caller frees. */
static uint8_t *recv_reply(fixture_t *f, size_t *len)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, f->dealer, 0) >= 0);
    *len = zmq_msg_size(&m);
    uint8_t *out = malloc(*len + 1);
    memcpy(out, zmq_msg_data(&m), *len);
    zmq_msg_close(&m);
    assert_int_equal(sl_mp_validate(out, *len), 0);
    return out;
}

static void assert_error(const uint8_t *reply, size_t len, const char *code)
{
    bool ok = true;
    assert_int_equal(sl_mp_map_get_bool(reply, len, "ok", &ok), 0);
    assert_false(ok);
    sl_mp_reader_t err;
    assert_int_equal(sl_mp_map_find(reply, len, "error", &err), 0);
    const char *s = NULL;
    size_t slen = 0;
    assert_int_equal(sl_mp_map_get_str(err.buf + err.pos, err.len - err.pos, "code", &s, &slen), 0);
    if (!sl_mp_str_eq(s, slen, code)) {
        fail_msg("error code '%.*s', expected '%s'", (int)slen, s, code);
    }
    assert_int_equal(sl_mp_map_get_str(err.buf + err.pos, err.len - err.pos, "message", &s, &slen),
                     0);
    assert_true(slen > 0);
}

static void assert_ok(const uint8_t *reply, size_t len)
{
    bool ok = false;
    assert_int_equal(sl_mp_map_get_bool(reply, len, "ok", &ok), 0);
    assert_true(ok);
}

static void test_api_ping_echoes_id(void **state)
{
    fixture_t *f = *state;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "ping");
    sl_mp_kv_int(&w, "id", 42);
    send_map(f, &w);
    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_ok(reply, len);
    int64_t id = 0;
    assert_int_equal(sl_mp_map_get_int(reply, len, "id", &id), 0);
    assert_int_equal(id, 42);
    bool pong = false;
    assert_int_equal(sl_mp_map_get_bool(reply, len, "pong", &pong), 0);
    assert_true(pong);
    free(reply);
}

/* Every class of bad request gets its own clear error and reaches nobody. */
static void test_api_bad_requests_get_clear_errors(void **state)
{
    fixture_t *f = *state;
    size_t len = 0;
    uint8_t *reply;

    send_raw(f, "not msgpack \xc1", 13);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "malformed");
    free(reply);

    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_array(&w, 1);
    sl_mp_write_str(&w, "ping");
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "malformed");
    free(reply);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "x", 1);
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "missing_field");
    free(reply);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "op", 7);
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "invalid");
    free(reply);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "op", "pipeline.explode");
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "unknown_op");
    free(reply);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "op", "pipeline.get");
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "missing_field");
    free(reply);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "pipeline.get");
    sl_mp_kv_int(&w, "pipeline_id", 3);
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "invalid");
    free(reply);

    char big[8192];
    memset(big, 'x', sizeof(big));
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "ping");
    sl_mp_kv_strn(&w, "pad", big, sizeof(big));
    send_map(f, &w);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "too_big");
    free(reply);

    /* a multi-frame request */
    zmq_send(f->dealer, "a", 1, ZMQ_SNDMORE);
    zmq_send(f->dealer, "b", 1, ZMQ_SNDMORE);
    zmq_send(f->dealer, "c", 1, 0);
    reply = recv_reply(f, &len);
    assert_error(reply, len, "malformed");
    free(reply);

    /* none of it reached a shard */
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(f->shard0, 50, &msg), SL_ETIMEOUT);
    assert_int_equal(sl_port_recv(f->shard1, 50, &msg), SL_ETIMEOUT);
}

/* pipeline.get goes to the shard that owns the id; its reply comes back. */
static void test_api_routes_to_owning_shard(void **state)
{
    fixture_t *f = *state;
    const char *pid = "p0193f1c2a4b7c01a2f";
    sl_port_t *owner = sl_ids_shard_of(pid, 2) == 0 ? f->shard0 : f->shard1;
    sl_port_t *other = owner == f->shard0 ? f->shard1 : f->shard0;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 3);
    sl_mp_kv_str(&w, "op", "pipeline.get");
    sl_mp_kv_str(&w, "pipeline_id", pid);
    sl_mp_kv_str(&w, "id", "req-1");
    send_map(f, &w);

    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(owner, 5000, &msg), 0);
    assert_int_equal(msg->type, SL_MSG_API_CALL);
    sl_api_call_t call = {0};
    assert_int_equal(sl_api_call_decode(msg->body, msg->body_len, &call), 0);
    assert_string_equal(call.op, "pipeline.get");
    assert_string_equal(call.target, pid);
    const char *s = NULL;
    size_t slen = 0;
    assert_int_equal(sl_mp_map_get_str(call.args.ptr, call.args.len, "pipeline_id", &s, &slen), 0);
    assert_true(sl_mp_str_eq(s, slen, pid));
    sl_api_call_clear(&call);

    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "ok", true);
    sl_mp_write_str(&w, "pipeline");
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "status", "running");
    sl_api_result_t res = {.body = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)}};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    assert_int_equal(sl_api_result_encode(&res, &buf, &buf_len), 0);
    assert_int_equal(sl_port_reply(owner, msg, SL_MSG_API_RESULT, buf, buf_len), 0);
    free(buf);
    sl_mp_writer_fini(&w);
    sl_msg_destroy(&msg);

    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_ok(reply, len);
    assert_int_equal(sl_mp_map_get_str(reply, len, "id", &s, &slen), 0);
    assert_true(sl_mp_str_eq(s, slen, "req-1"));
    sl_mp_reader_t p;
    assert_int_equal(sl_mp_map_find(reply, len, "pipeline", &p), 0);
    free(reply);
    assert_int_equal(sl_port_recv(other, 50, &msg), SL_ETIMEOUT);
}

/* A shard that never answers: the client gets a timeout error, once. */
static void test_api_silent_owner_times_out(void **state)
{
    fixture_t *f = *state;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "task.get");
    sl_mp_kv_str(&w, "task_id", "p0000000000000000001-t0001");
    send_map(f, &w);
    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_error(reply, len, "timeout");
    free(reply);
    /* the request did reach a shard; drain it */
    sl_msg_t *msg = NULL;
    int got = sl_port_recv(f->shard0, 100, &msg) == 0 || sl_port_recv(f->shard1, 100, &msg) == 0;
    assert_true(got);
    sl_msg_destroy(&msg);
}

static void reply_shard_list(sl_port_t *port, const char *pid)
{
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(port, 5000, &msg), 0);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "ok", true);
    sl_mp_write_str(&w, "pipelines");
    sl_mp_write_array(&w, 1);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "id", pid);
    sl_mp_kv_str(&w, "status", "completed");
    sl_api_result_t res = {.body = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)}};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_api_result_encode(&res, &buf, &len), 0);
    assert_int_equal(sl_port_reply(port, msg, SL_MSG_API_RESULT, buf, len), 0);
    free(buf);
    sl_mp_writer_fini(&w);
    sl_msg_destroy(&msg);
}

static void test_api_pipeline_list_merges_shards(void **state)
{
    fixture_t *f = *state;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "op", "pipeline.list");
    send_map(f, &w);
    reply_shard_list(f->shard0, "pA");
    reply_shard_list(f->shard1, "pB");
    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_ok(reply, len);
    sl_mp_reader_t v;
    assert_int_equal(sl_mp_map_find(reply, len, "pipelines", &v), 0);
    uint32_t n = 0;
    assert_int_equal(sl_mp_read_array(&v, &n), 0);
    assert_int_equal(n, 2);
    free(reply);
}

/* A shard that refuses (e.g. an unknown status filter) speaks for the list. */
static void test_api_pipeline_list_passes_refusal(void **state)
{
    fixture_t *f = *state;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "pipeline.list");
    sl_mp_kv_str(&w, "status", "sideways");
    send_map(f, &w);
    sl_port_t *ports[2] = {f->shard0, f->shard1};
    for (int i = 0; i < 2; i++) {
        sl_msg_t *msg = NULL;
        assert_int_equal(sl_port_recv(ports[i], 5000, &msg), 0);
        sl_mp_writer_t r;
        sl_mp_writer_init(&r);
        sl_mp_write_map(&r, 2);
        sl_mp_kv_bool(&r, "ok", false);
        sl_mp_write_str(&r, "error");
        sl_mp_write_map(&r, 2);
        sl_mp_kv_str(&r, "code", "invalid");
        sl_mp_kv_str(&r, "message", "status: unknown status 'sideways'");
        sl_api_result_t res = {.body = {(uint8_t *)sl_mp_writer_data(&r), sl_mp_writer_len(&r)}};
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(sl_api_result_encode(&res, &buf, &len), 0);
        assert_int_equal(sl_port_reply(ports[i], msg, SL_MSG_API_RESULT, buf, len), 0);
        free(buf);
        sl_mp_writer_fini(&r);
        sl_msg_destroy(&msg);
    }
    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_error(reply, len, "invalid");
    free(reply);
}

static void test_api_result_get_reads_store(void **state)
{
    fixture_t *f = *state;
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "result.get");
    sl_mp_kv_str(&w, "task_id", "pX-t0001");
    send_map(f, &w);
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(f->store, 5000, &msg), 0);
    assert_int_equal(msg->type, SL_MSG_STORE_GET);
    sl_store_get_t get = {0};
    assert_int_equal(sl_store_get_decode(msg->body, msg->body_len, &get), 0);
    assert_int_equal(get.db, SL_IDS_DB_RESULTS);
    assert_int_equal(get.key.len, 8);
    assert_memory_equal(get.key.ptr, "pX-t0001", 8);
    sl_store_get_clear(&get);
    const char *json = "{\"type\":\"static_analysis_result\"}";
    sl_store_value_t val = {.status = 0, .value = {(uint8_t *)json, strlen(json)}};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    assert_int_equal(sl_store_value_encode(&val, &buf, &buf_len), 0);
    assert_int_equal(sl_port_reply(f->store, msg, SL_MSG_STORE_VALUE, buf, buf_len), 0);
    free(buf);
    sl_msg_destroy(&msg);
    size_t len = 0;
    uint8_t *reply = recv_reply(f, &len);
    assert_ok(reply, len);
    sl_mp_reader_t r;
    assert_int_equal(sl_mp_map_find(reply, len, "result", &r), 0);
    const uint8_t *bin = NULL;
    size_t bin_len = 0;
    assert_int_equal(sl_mp_read_bin(&r, &bin, &bin_len), 0);
    assert_int_equal(bin_len, strlen(json));
    assert_memory_equal(bin, json, bin_len);
    free(reply);
}

static void test_api_publishes_committed_events(void **state)
{
    fixture_t *f = *state;
    sl_port_t *store_side = f->store;
    sl_mp_writer_t body;
    sl_mp_writer_init(&body);
    sl_mp_write_map(&body, 2);
    sl_mp_kv_uint(&body, "seq", 7);
    sl_mp_kv_str(&body, "pipeline_id", "pA");
    sl_event_publish_t ev = {
        .seq = 7,
        .topic = "pipeline.status",
        .body = {(uint8_t *)sl_mp_writer_data(&body), sl_mp_writer_len(&body)},
    };
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_event_publish_encode(&ev, &buf, &len), 0);
    /* a slow joiner may miss the first sends: resend until one arrives */
    char topic[64] = "";
    int got = -1;
    for (int tries = 0; tries < 50 && got < 0; tries++) {
        assert_int_equal(sl_port_send(store_side, SL_IDS_API, SL_MSG_EVENT_PUBLISH, buf, len), 0);
        int ms = 100;
        zmq_setsockopt(f->sub, ZMQ_RCVTIMEO, &ms, sizeof(ms));
        got = zmq_recv(f->sub, topic, sizeof(topic) - 1, 0);
    }
    assert_true(got > 0);
    topic[got] = '\0';
    assert_string_equal(topic, "pipeline.status");
    uint8_t payload[256];
    int n = zmq_recv(f->sub, payload, sizeof(payload), 0);
    assert_int_equal(n, (int)sl_mp_writer_len(&body));
    uint64_t seq = 0;
    assert_int_equal(sl_mp_map_get_uint(payload, (size_t)n, "seq", &seq), 0);
    assert_int_equal(seq, 7);
    free(buf);
    sl_mp_writer_fini(&body);
}

static void test_api_req_clients_work_too(void **state)
{
    fixture_t *f = *state;
    void *req = zmq_socket(sl_rt_zmq_ctx(f->rt), ZMQ_REQ);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(zmq_connect(req, "inproc://test-api"), 0);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "op", "ping");
    assert_true(zmq_send(req, sl_mp_writer_data(&w), sl_mp_writer_len(&w), 0) > 0);
    sl_mp_writer_fini(&w);
    uint8_t buf[256];
    int n = zmq_recv(req, buf, sizeof(buf), 0);
    assert_true(n > 0);
    assert_ok(buf, (size_t)n);
    zmq_close(req);
}

/* A ping request of exactly len bytes (>= 18): {op: ping, pad: bin32}. */
static uint8_t *s_ping_of(size_t len)
{
    static const char head[] = "\x82\xa2op\xa4ping\xa3pad\xc6";
    size_t h = sizeof(head) - 1;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    memcpy(buf, head, h);
    uint32_t n = (uint32_t)(len - h - 4);
    buf[h] = (uint8_t)(n >> 24);
    buf[h + 1] = (uint8_t)(n >> 16);
    buf[h + 2] = (uint8_t)(n >> 8);
    buf[h + 3] = (uint8_t)n;
    memset(buf + h + 4, 'z', n);
    return buf;
}

/* Over a decoding transport (ipc) every oversized request up to the
   ceiling is answered too_big; past it the connection is dropped, which
   the client sees as a disconnect, and the next request is served. */
static void test_api_oversized_requests_get_too_big(void **state)
{
    fixture_t *f = *state;
    void *ctx = sl_rt_zmq_ctx(f->rt);
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(zmq_socket_monitor(dealer, "inproc://test-api-mon", ZMQ_EVENT_DISCONNECTED),
                     0);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(mon, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(zmq_connect(mon, "inproc://test-api-mon"), 0);
    assert_int_equal(zmq_connect(dealer, f->ipc), 0);

    const size_t limit = 4096;
    const size_t sizes[] = {limit, limit + 1, 2 * limit, 8 * limit, SL_API_FRAME_CEILING * limit};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *buf = s_ping_of(sizes[i]);
        assert_int_equal(zmq_send(dealer, buf, sizes[i], 0), (int)sizes[i]);
        free(buf);
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, dealer, 0) >= 0);
        if (sizes[i] <= limit) {
            assert_ok(zmq_msg_data(&m), zmq_msg_size(&m));
        } else {
            assert_error(zmq_msg_data(&m), zmq_msg_size(&m), "too_big");
        }
        zmq_msg_close(&m);
    }

    /* Past the ceiling: dropped unread, the connection closes. */
    size_t huge = SL_API_FRAME_CEILING * limit + 1;
    uint8_t *buf = s_ping_of(huge);
    assert_int_equal(zmq_send(dealer, buf, huge, 0), (int)huge);
    free(buf);
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    assert_true(zmq_msg_recv(&ev, mon, 0) >= 0);
    uint16_t event = 0;
    memcpy(&event, zmq_msg_data(&ev), sizeof(event));
    assert_int_equal(event, ZMQ_EVENT_DISCONNECTED);
    zmq_msg_close(&ev);
    while (zmq_msg_init(&ev) == 0 && zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) >= 0) {
        zmq_msg_close(&ev); /* the event's endpoint frame */
    }
    zmq_msg_close(&ev);
    /* The same socket reconnects and is served. */
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_str(&w, "op", "ping");
    assert_true(zmq_send(dealer, sl_mp_writer_data(&w), sl_mp_writer_len(&w), 0) > 0);
    sl_mp_writer_fini(&w);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, dealer, 0) >= 0);
    assert_ok(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    zmq_socket_monitor(dealer, NULL, 0);
    zmq_close(mon);
    zmq_close(dealer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_ping_echoes_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_bad_requests_get_clear_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_routes_to_owning_shard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_silent_owner_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_pipeline_list_merges_shards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_pipeline_list_passes_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_result_get_reads_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_publishes_committed_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_req_clients_work_too, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_oversized_requests_get_too_big, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
