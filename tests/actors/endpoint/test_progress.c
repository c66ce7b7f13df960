/*  test_progress.c: the progress path between the fleet and the pipeline:
    the endpoint's one progress throttle, and out-of-band pushes on their
    way to the attempt they belong to.

    No analyzer answers here: the replicas are loopback TCP listeners that
    never complete a WebSocket handshake, so an attempt sits at its replica
    (connecting) for as long as the case needs, and the case plays the
    analyzer by sending PROGRESS_PUSH to the endpoint itself, exactly as the
    progress listener does. The runtime runs on a manual clock: the throttle
    window moves only when the case advances it, and no timeout fires on
    its own. A port named "owner" plays the pipeline shard (ATTEMPT_START
    out, ATTEMPT_PROGRESS / ATTEMPT_RESULT in). Asserts run on the test
    thread only; every wait has a deadline.
*/
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "actors/config/sl_config.h"
#include "actors/endpoint/sl_endpoint.h"
#include "actors/endpoint/sl_progress.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_clock.h"
#include "proto/sl_ids.h"
#include "tests/actors/endpoint/ep_testutil.h"

#define S_MAX_REPLICAS 4
#define S_WAIT_MS 3000

typedef struct {
    sl_clock_t *clock;
    sl_rt_t *rt;
    sl_port_t *owner;
    sl_port_t *pusher;       /* owns the client wsio that plays the fleet's pushes */
    sl_port_t *replica_port; /* owns srv, a WebSocket replica that never answers */
    sl_wsio_t *srv;
    sl_wsio_t *cli;
    bool tls; /* the listener serves wss:// */
    uint64_t next_conn;
    sl_actor_t *progress;
    int progress_port;
    sl_actor_t *ep;
    const char *service; /* the spawned endpoint's service */
    int fds[S_MAX_REPLICAS];
    char urls[S_MAX_REPLICAS][64];
    const char *url_ptrs[S_MAX_REPLICAS];
    int n;
} s_ctx_t;

static int s_setup(void **state)
{
    s_ctx_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->clock = sl_clock_new_manual(1000, 1700000000000);
    assert_non_null(c->clock);
    c->rt = sl_rt_new(NULL, c->clock);
    assert_non_null(c->rt);
    c->owner = sl_port_new(c->rt, "owner");
    assert_non_null(c->owner);
    for (int i = 0; i < S_MAX_REPLICAS; i++) {
        c->fds[i] = -1;
    }
    *state = c;
    return 0;
}

static int s_teardown(void **state)
{
    s_ctx_t *c = *state;
    sl_wsio_destroy(&c->cli);
    sl_actor_destroy(&c->progress);
    sl_actor_destroy(&c->ep);
    sl_wsio_destroy(&c->srv);
    sl_port_destroy(&c->replica_port);
    sl_port_destroy(&c->pusher);
    sl_port_destroy(&c->owner);
    sl_rt_destroy(&c->rt);
    sl_clock_destroy(&c->clock);
    for (int i = 0; i < S_MAX_REPLICAS; i++) {
        if (c->fds[i] >= 0) {
            close(c->fds[i]);
        }
    }
    free(c);
    return 0;
}

/* n silent replicas: listeners on port 0 of the given loopback addresses
   (NULL: all on 127.0.0.1), never accepted (the kernel completes TCP;
   nobody answers the upgrade). */
static void s_replicas_at(s_ctx_t *c, int n, const char *const *addrs)
{
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addrs ? addrs[i] : "127.0.0.1", &sa.sin_addr), 1);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 16), 0);
        socklen_t sl = sizeof sa;
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
        c->fds[i] = fd;
        snprintf(c->urls[i], sizeof c->urls[i], "ws://%s:%d", addrs ? addrs[i] : "127.0.0.1",
                 ntohs(sa.sin_port));
        c->url_ptrs[i] = c->urls[i];
    }
    c->n = n;
}

static void s_replicas(s_ctx_t *c, int n)
{
    s_replicas_at(c, n, NULL);
}

/* An endpoint for service over the silent replicas; nothing times out
   unless the clock is advanced past it. */
static void s_spawn(s_ctx_t *c, const char *service, uint32_t per_sec, uint32_t max_in_flight)
{
    sl_endpoint_config_t cfg;
    sl_endpoint_config_defaults(&cfg, service);
    cfg.replicas = c->url_ptrs;
    cfg.n_replicas = (size_t)c->n;
    cfg.connect_timeout_ms = 600000;
    cfg.ping_interval_ms = 600000;
    cfg.queue_timeout_ms = 600000;
    cfg.progress_timeout_ms = 0;
    cfg.attempt_timeout_ms = 600000;
    cfg.progress_max_per_sec = per_sec;
    cfg.max_in_flight = max_in_flight;
    assert_int_equal(sl_endpoint_spawn(c->rt, &cfg, &c->ep), 0);
    c->service = service;
}

static void s_send(s_ctx_t *c, const char *service, uint16_t type, uint8_t *buf, size_t len)
{
    char to[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(to, sizeof to, service);
    assert_int_equal(sl_port_send(c->owner, to, type, buf, len), 0);
    free(buf);
}

static void s_start_ex(s_ctx_t *c, const char *service, const char *op, const char *task,
                       const char *model, int64_t app, const char *const *targets, size_t ntargets,
                       const char *exclude)
{
    sl_attempt_start_t st = {0};
    if (exclude) {
        assert_int_equal(sl_strs_push(&st.exclude, exclude), 0);
    }
    st.task_id = (char *)task;
    st.pipeline_id = "p0001";
    st.attempt = 1;
    st.op = (char *)op;
    st.model = (char *)model;
    st.app_number = app;
    for (size_t i = 0; i < ntargets; i++) {
        assert_int_equal(sl_strs_push(&st.target_urls, targets[i]), 0);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_start_encode(&st, &buf, &len), 0);
    sl_strs_clear(&st.target_urls);
    sl_strs_clear(&st.exclude);
    s_send(c, service, SL_MSG_ATTEMPT_START, buf, len);
}

static void s_start(s_ctx_t *c, const char *service, const char *op, const char *task,
                    const char *model, int64_t app, const char *const *targets, size_t ntargets)
{
    s_start_ex(c, service, op, task, model, app, targets, ntargets, NULL);
}

/* A push as the progress listener forwards it. */
static void s_push(s_ctx_t *c, const char *service, const char *cid, const char *stage, int pct)
{
    sl_progress_push_t p = {0};
    p.correlation_id = (char *)cid;
    p.service = (char *)service;
    p.stage = (char *)stage;
    p.message = (char *)"working";
    p.pct = pct;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_progress_push_encode(&p, &buf, &len), 0);
    s_send(c, service, SL_MSG_PROGRESS_PUSH, buf, len);
}

/* One replica that completes the WebSocket handshake and never answers,
   owned by the port "replica": the case reads the requests it is sent. */
static void s_wire_replica(s_ctx_t *c)
{
    c->replica_port = sl_port_new(c->rt, "replica");
    assert_non_null(c->replica_port);
    sl_wsio_opts_t so = {.owner = "replica", .listen_port = 0};
    c->srv = sl_wsio_new(c->rt, &so);
    assert_non_null(c->srv);
    assert_int_equal(sl_wsio_start(c->srv), 0);
    snprintf(c->urls[0], sizeof c->urls[0], "ws://127.0.0.1:%d", sl_wsio_port(c->srv));
    c->url_ptrs[0] = c->urls[0];
    c->n = 1;
}

/* The id of the next request of type op the wire replica receives. */
static void s_request_id(s_ctx_t *c, const char *op, char *out, size_t cap)
{
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while (ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->replica_port, 50, &m) != 0) {
            continue;
        }
        sl_wsio_frame_t f = {0};
        if (m->type == SL_MSG_WSIO_FRAME && sl_wsio_frame_decode(m->body, m->body_len, &f) == 0) {
            json_t *j = json_loadb((const char *)f.data.ptr, f.data.len, 0, NULL);
            const char *type = json_string_value(json_object_get(j, "type"));
            const char *id = json_string_value(json_object_get(j, "id"));
            bool hit = type && id && strcmp(type, op) == 0;
            if (hit) {
                snprintf(out, cap, "%s", id);
            }
            json_decref(j);
            sl_wsio_frame_clear(&f);
            if (hit) {
                sl_msg_destroy(&m);
                return;
            }
        }
        sl_msg_destroy(&m);
    }
    fail_msg("no %s request within %d ms", op, S_WAIT_MS);
}

/* One endpoint counter, asked as a request (so every message the case sent
   before it has been handled). */
static uint64_t s_counter(s_ctx_t *c, const char *service, const char *counter)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, service, S_WAIT_MS, &r);
    uint64_t v = 0;
    assert_int_equal(sl_mp_map_get_uint(r.counters.ptr, r.counters.len, counter, &v), 0);
    sl_endpoint_status_reply_clear(&r);
    return v;
}

/* The next ATTEMPT_PROGRESS within the deadline (caller clears), or fails. */
static void s_next_progress(s_ctx_t *c, sl_attempt_progress_t *out)
{
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while (ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->owner, 50, &m) != 0) {
            continue;
        }
        int type = m->type;
        if (type == SL_MSG_ATTEMPT_PROGRESS) {
            memset(out, 0, sizeof *out);
            int rc = sl_attempt_progress_decode(m->body, m->body_len, out);
            sl_msg_destroy(&m);
            assert_int_equal(rc, 0);
            return;
        }
        sl_msg_destroy(&m);
        if (type == SL_MSG_ATTEMPT_RESULT) {
            fail_msg("a result came before the progress");
        }
    }
    fail_msg("no ATTEMPT_PROGRESS within %d ms", S_WAIT_MS);
}

/* Nothing for the owner right now: the endpoint has handled everything sent
   before (a status request answers after it), and sent no progress. */
static void s_no_progress(s_ctx_t *c, const char *service)
{
    (void)s_counter(c, service, "started");
    sl_msg_t *m = NULL;
    while (sl_port_recv(c->owner, 0, &m) == 0) {
        int type = m->type;
        sl_msg_destroy(&m);
        assert_int_not_equal(type, SL_MSG_ATTEMPT_PROGRESS);
    }
}

static void s_expect_progress(s_ctx_t *c, const char *task, const char *stage, int pct)
{
    sl_attempt_progress_t p;
    s_next_progress(c, &p);
    assert_string_equal(p.task_id, task);
    assert_non_null(p.stage);
    assert_string_equal(p.stage, stage);
    assert_int_equal(p.pct, pct);
    sl_attempt_progress_clear(&p);
}

/* ---- the throttle (issue 9, section 3) ----------------------------------- */

static const char *s_static_stages[10] = {
    "starting",     "scanning_python", "python_completed",    "scanning_js", "js_completed",
    "scanning_css", "scanning_html",   "analyzing_structure", "reporting",   "completed"};

/* Ten stages in one instant all reach the pipeline, in order; within a
   stage the checkpoints beyond progress_per_sec are coalesced and the
   latest goes out when the second ends; the result comes after whatever
   was held back. */
static void test_progress_every_stage_passes_within_stage_coalesced(void **state)
{
    s_ctx_t *c = *state;
    s_wire_replica(c);
    s_spawn(c, "static-analyzer", 2, 2);
    s_start(c, "static-analyzer", "static_analyze", "p0001-t0001", "m", 1, NULL, 0);
    char id[SL_IDS_MAX];
    s_request_id(c, "static_analyze", id, sizeof id);
    for (int i = 0; i < 10; i++) {
        s_push(c, "static-analyzer", id, s_static_stages[i], i * 10);
    }
    for (int i = 0; i < 10; i++) {
        s_expect_progress(c, "p0001-t0001", s_static_stages[i], i * 10);
    }
    /* The same stage, five times in the same instant: the window's budget
       is spent, so they wait; only the latest leaves at the window's end. */
    for (int pct = 91; pct <= 95; pct++) {
        s_push(c, "static-analyzer", id, "completed", pct);
    }
    s_no_progress(c, "static-analyzer");
    assert_int_equal(sl_rt_advance(c->rt, 999), 0);
    s_no_progress(c, "static-analyzer");
    assert_int_equal(sl_rt_advance(c->rt, 1), 0);
    s_expect_progress(c, "p0001-t0001", "completed", 95);
    /* That flush opened a new window and used one of its two: the next
       passes, the two after it wait, and the latest goes out just before
       the result. */
    s_push(c, "static-analyzer", id, "completed", 96);
    s_push(c, "static-analyzer", id, "completed", 97);
    s_push(c, "static-analyzer", id, "completed", 98);
    s_expect_progress(c, "p0001-t0001", "completed", 96);
    s_no_progress(c, "static-analyzer");
    sl_attempt_cancel_t m = {(char *)"p0001-t0001", 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_cancel_encode(&m, &buf, &len), 0);
    s_send(c, "static-analyzer", SL_MSG_ATTEMPT_CANCEL, buf, len);
    s_expect_progress(c, "p0001-t0001", "completed", 98);
    assert_true(s_counter(c, "static-analyzer", "results") == 1);
}

/* Issue 13, section 5: the request id carries a random part, so a push
   that guesses "<task_id>-a<attempt>" names no attempt: it is counted as
   unknown and does not keep a hung attempt's stall timer alive. The real
   id (which only the replica saw) does. */
static void test_progress_guessed_id_does_not_keep_attempt_alive(void **state)
{
    s_ctx_t *c = *state;
    s_wire_replica(c);
    s_spawn(c, "static-analyzer", 100, 1);
    sl_attempt_start_t st = {0};
    st.task_id = "p0001-t0001";
    st.pipeline_id = "p0001";
    st.attempt = 1;
    st.op = "static_analyze";
    st.model = "m";
    st.app_number = 1;
    st.progress_timeout_ms = 1000;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_start_encode(&st, &buf, &len), 0);
    s_send(c, "static-analyzer", SL_MSG_ATTEMPT_START, buf, len);
    char id[SL_IDS_MAX], task[SL_IDS_MAX];
    uint64_t attempt = 0;
    s_request_id(c, "static_analyze", id, sizeof id);
    assert_int_equal(sl_ids_attempt_parse(id, task, sizeof task, &attempt), 0);
    assert_string_equal(task, "p0001-t0001");
    assert_int_equal(attempt, 1);
    /* The real id keeps it alive past its first stall deadline. */
    s_push(c, "static-analyzer", id, "scanning", 10);
    s_expect_progress(c, "p0001-t0001", "scanning", 10);
    assert_int_equal(sl_rt_advance(c->rt, 700), 0);
    s_push(c, "static-analyzer", id, "scanning", 20);
    s_expect_progress(c, "p0001-t0001", "scanning", 20);
    assert_int_equal(sl_rt_advance(c->rt, 700), 0);
    assert_int_equal(s_counter(c, "static-analyzer", "results"), 0);
    /* Forged: the guessable form, and the real prefix with another random
       part. Neither counts as a sign of life. */
    const char *forged[] = {"p0001-t0001-a1", "p0001-t0001-a1-0000000000000000"};
    for (size_t i = 0; i < 2; i++) {
        s_push(c, "static-analyzer", forged[i], "scanning", 30);
    }
    assert_int_equal(s_counter(c, "static-analyzer", "unknown_progress"), 2);
    assert_int_equal(sl_rt_advance(c->rt, 700), 0);
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    bool ended = false;
    while (!ended && ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->owner, 50, &m) != 0) {
            continue;
        }
        if (m->type == SL_MSG_ATTEMPT_RESULT) {
            sl_attempt_result_t r = {0};
            assert_int_equal(sl_attempt_result_decode(m->body, m->body_len, &r), 0);
            assert_int_equal(r.outcome, SL_OUT_PROGRESS_TIMEOUT);
            sl_attempt_result_clear(&r);
            ended = true;
        } else {
            assert_int_not_equal(m->type, SL_MSG_ATTEMPT_PROGRESS);
        }
        sl_msg_destroy(&m);
    }
    assert_true(ended);
}

/* ---- pushes without an id (issue 15, section 4) --------------------------- */

/* The progress listener, and a client wsio (owned by the port "pusher")
   that plays the fleet: one new connection per push, as the fleet opens. */
static char *s_tls_file(const char *name)
{
    static char paths[3][512];
    static int next;
    char *p = paths[next++ % 3];
    const char *src = getenv("SLUICE_SOURCE_DIR");
    snprintf(p, sizeof paths[0], "%s/tests/data/tls/%s", src ? src : ".", name);
    return p;
}

/* The listener as configured by pc (NULL: defaults), and the pusher's
   client wsio, trusting the test CA when the listener serves wss://. */
static void s_listener_with(s_ctx_t *c, sl_progress_config_t *pc)
{
    sl_progress_config_t dflt;
    if (!pc) {
        sl_progress_config_defaults(&dflt);
        pc = &dflt;
    }
    pc->port = 0;
    assert_int_equal(sl_progress_spawn(c->rt, pc, &c->progress, &c->progress_port), 0);
    c->tls = pc->cert_file != NULL;
    c->pusher = sl_port_new(c->rt, "pusher");
    assert_non_null(c->pusher);
    sl_wsio_opts_t o = {0};
    o.owner = "pusher";
    o.listen_port = SL_WSIO_NO_LISTEN;
    o.ca_file = c->tls ? s_tls_file("ca.pem") : NULL;
    c->cli = sl_wsio_new(c->rt, &o);
    assert_non_null(c->cli);
    assert_int_equal(sl_wsio_start(c->cli), 0);
}

static void s_listener(s_ctx_t *c)
{
    s_listener_with(c, NULL);
}

/* One new connection to the listener on path, sending frame; its id. */
static uint64_t s_push_frame_on(s_ctx_t *c, const char *path, const char *frame)
{
    char url[128];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", c->tls ? "wss" : "ws", c->progress_port, path);
    if (c->service) {
        /* A barrier: the endpoint answers this status request only after
           every ATTEMPT_START the test sent before it (one pipe, in
           order). Without it a push, which reaches the endpoint through
           the listener on another pipe, can be read between two starts. */
        (void)s_counter(c, c->service, "pushes_attributed");
    }
    uint64_t id = ++c->next_conn;
    assert_int_equal(sl_wsio_connect(c->cli, id, url), 0);
    /* Sent once open. Left open: a close now would abort a connection
       still connecting; the client's destroy closes them all. */
    assert_int_equal(sl_wsio_send(c->cli, id, frame, strlen(frame)), 0);
    return id;
}

static void s_push_frame(s_ctx_t *c, const char *frame)
{
    (void)s_push_frame_on(c, "/", frame);
}

/* The captured pushes of one service (tests/data/protocol/fleet/), in
   order; returns how many were sent. */
static int s_push_captured(s_ctx_t *c, const char *service)
{
    const char *root = getenv("SLUICE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/data/protocol/fleet/progress_pushes.json",
             root ? root : ".");
    json_error_t err;
    json_t *all = json_load_file(path, 0, &err);
    if (!all) {
        fail_msg("%s: %s", path, err.text);
    }
    json_t *list = json_object_get(all, service);
    assert_true(json_is_array(list));
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        char *text = json_dumps(f, JSON_COMPACT);
        assert_non_null(text);
        s_push_frame(c, text);
        free(text);
    }
    int n = (int)json_array_size(list);
    json_decref(all);
    return n;
}

/* Waits until the endpoint has judged want pushes without an id. */
static void s_wait_judged(s_ctx_t *c, const char *service, uint64_t want)
{
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    uint64_t got = 0;
    while (ep_test_ms() < deadline) {
        got = s_counter(c, service, "pushes_attributed") +
              s_counter(c, service, "pushes_unattributed");
        if (got >= want) {
            return;
        }
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->pusher, 20, &m) == 0) {
            sl_msg_destroy(&m); /* the client's own events; a bounded poll */
        }
    }
    fail_msg("%s judged %llu pushes without an id, want %llu", service, (unsigned long long)got,
             (unsigned long long)want);
}

/* Every ATTEMPT_PROGRESS waiting for the owner, by task: how many went to
   t1, to t2 and to anything else; the replica of the last one in replica. */
static void s_drain_progress(s_ctx_t *c, const char *t1, const char *t2, int counts[3],
                             char *replica, size_t rcap)
{
    counts[0] = counts[1] = counts[2] = 0;
    sl_msg_t *m = NULL;
    while (sl_port_recv(c->owner, 0, &m) == 0) {
        if (m->type == SL_MSG_ATTEMPT_PROGRESS) {
            sl_attempt_progress_t p = {0};
            assert_int_equal(sl_attempt_progress_decode(m->body, m->body_len, &p), 0);
            int k = t1 && strcmp(p.task_id, t1) == 0 ? 0 : t2 && strcmp(p.task_id, t2) == 0 ? 1 : 2;
            counts[k]++;
            if (replica) {
                snprintf(replica, rcap, "%s", p.replica ? p.replica : "");
            }
            sl_attempt_progress_clear(&p);
        }
        sl_msg_destroy(&m);
    }
}

/* The captured dynamic pushes (model_slug + app_number, empty ids): those
   of the two apps with a live attempt reach exactly that attempt; those of
   an app with none (app 4) are unattributed. */
static void test_progress_dynamic_pushes_attributed_by_model_and_app(void **state)
{
    s_ctx_t *c = *state;
    s_replicas(c, 2);
    s_spawn(c, "dynamic-analyzer", 100, 1);
    s_listener(c);
    s_start(c, "dynamic-analyzer", "dynamic_analyze", "p0001-t0001", "local_model", 1, NULL, 0);
    s_start(c, "dynamic-analyzer", "dynamic_analyze", "p0001-t0002", "local_model", 2, NULL, 0);
    int n = s_push_captured(c, "dynamic-analyzer");
    assert_int_equal(n, 12);
    s_wait_judged(c, "dynamic-analyzer", 12);
    assert_int_equal(s_counter(c, "dynamic-analyzer", "pushes_attributed"), 6 + 3);
    assert_int_equal(s_counter(c, "dynamic-analyzer", "pushes_unattributed"), 3);
    assert_int_equal(s_counter(c, "dynamic-analyzer", "unknown_progress"), 0);
    int counts[3];
    s_drain_progress(c, "p0001-t0001", "p0001-t0002", counts, NULL, 0);
    assert_true(counts[0] >= 1); /* the first of a stage always passes */
    assert_true(counts[1] >= 1);
    assert_int_equal(counts[2], 0);
}

/* Two live attempts for the same model and app on replicas at the same
   address: no push can tell them apart, so none is attributed. */
static void test_progress_two_candidates_never_guessed(void **state)
{
    s_ctx_t *c = *state;
    s_replicas(c, 2);
    s_spawn(c, "dynamic-analyzer", 100, 1);
    s_listener(c);
    s_start(c, "dynamic-analyzer", "dynamic_analyze", "p0001-t0001", "local_model", 1, NULL, 0);
    s_start(c, "dynamic-analyzer", "dynamic_analyze", "p0002-t0001", "local_model", 1, NULL, 0);
    assert_int_equal(s_push_captured(c, "dynamic-analyzer"), 12);
    s_wait_judged(c, "dynamic-analyzer", 12);
    assert_int_equal(s_counter(c, "dynamic-analyzer", "pushes_attributed"), 0);
    assert_int_equal(s_counter(c, "dynamic-analyzer", "pushes_unattributed"), 12);
    int counts[3];
    s_drain_progress(c, NULL, NULL, counts, NULL, 0);
    assert_int_equal(counts[2], 0);
}

/* The captured performance pushes: the "checking" ones carry data.url,
   one of task A's target URLs; the others carry nothing to match on, and
   the last resort decides: A's replica is the only one at the pushing
   connection's address (127.0.0.1; B's is at 127.0.0.2). A URL no live
   attempt has is never attributed, even where the address would single
   one out; a URL of B's goes to B. */
static void test_progress_performance_pushes_by_url_then_address(void **state)
{
    s_ctx_t *c = *state;
    const char *addrs[2] = {"127.0.0.2", "127.0.0.1"};
    s_replicas_at(c, 2, addrs);
    s_spawn(c, "performance-tester", 100, 1);
    s_listener(c);
    const char *a_urls[2] = {"http://local-model-app1_backend:5101",
                             "http://local-model-app1_frontend:80"};
    const char *b_urls[2] = {"http://local-model-app2_backend:5103",
                             "http://local-model-app2_frontend:80/"};
    s_start_ex(c, "performance-tester", "performance_test", "p0001-t0001", "local_model", 1, a_urls,
               2, c->urls[0]);
    s_start_ex(c, "performance-tester", "performance_test", "p0001-t0002", "local_model", 2, b_urls,
               2, c->urls[1]);
    assert_int_equal(s_push_captured(c, "performance-tester"), 25);
    s_wait_judged(c, "performance-tester", 25);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_attributed"), 25);
    int counts[3];
    char replica[64];
    s_drain_progress(c, "p0001-t0001", "p0001-t0002", counts, replica, sizeof replica);
    assert_true(counts[0] >= 1);
    assert_int_equal(counts[1], 0);
    assert_int_equal(counts[2], 0);
    assert_string_equal(replica, c->urls[1]);
    s_push_frame(c, "{\"type\":\"progress_update\",\"correlation_id\":\"\",\"stage\":\"checking\","
                    "\"service\":\"performance-tester\",\"data\":{\"url\":"
                    "\"http://local-model-app9_backend:5101\"}}");
    s_wait_judged(c, "performance-tester", 26);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_unattributed"), 1);
    s_push_frame(c, "{\"type\":\"progress_update\",\"correlation_id\":\"\",\"stage\":\"checking\","
                    "\"service\":\"performance-tester\",\"data\":{\"url\":"
                    "\"http://local-model-app2_frontend:80\"}}");
    s_wait_judged(c, "performance-tester", 27);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_attributed"), 26);
    s_drain_progress(c, "p0001-t0001", "p0001-t0002", counts, replica, sizeof replica);
    assert_int_equal(counts[1], 1);
    assert_string_equal(replica, c->urls[0]);
}

/* Without the service's name, or without a source address and anything to
   match on, a push is not attributed even to the only live attempt. */
static void test_progress_push_needs_service_and_evidence(void **state)
{
    s_ctx_t *c = *state;
    s_replicas(c, 1);
    s_spawn(c, "performance-tester", 100, 1);
    s_start(c, "performance-tester", "performance_test", "p0001-t0001", "m", 1, NULL, 0);
    (void)s_counter(c, "performance-tester", "started");
    s_push(c, "performance-tester", "", "checking", -1); /* no source, no data */
    sl_progress_push_t p = {0};
    p.correlation_id = "";
    p.stage = "checking";
    p.source = "127.0.0.1"; /* an address, but no service named */
    p.pct = -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_progress_push_encode(&p, &buf, &len), 0);
    s_send(c, "performance-tester", SL_MSG_PROGRESS_PUSH, buf, len);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_unattributed"), 2);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_attributed"), 0);
    p.service = "performance-tester"; /* now both: the only live attempt there */
    assert_int_equal(sl_progress_push_encode(&p, &buf, &len), 0);
    s_send(c, "performance-tester", SL_MSG_PROGRESS_PUSH, buf, len);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_attributed"), 1);
    s_expect_progress(c, "p0001-t0001", "checking", -1);
}

/* One replica's field as a string from the endpoint's status ("" if nil). */
static void s_replica_field(s_ctx_t *c, const char *service, const char *key, char *out, size_t cap)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, service, S_WAIT_MS, &r);
    sl_mp_reader_t rd;
    uint32_t n = 0;
    assert_int_equal(sl_codec_items(&r.replicas, &rd, &n), 0);
    assert_true(n >= 1);
    sl_replica_status_t rs;
    assert_int_equal(sl_replica_status_next(&rd, &rs), 0);
    /* the first replica's key, as the generic codec would show it */
    const sl_msg_desc_t *d = sl_replica_status_desc();
    out[0] = '\0';
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        const char *v = *(char *const *)((const char *)&rs + f->offset);
        if (f->kind == SL_FK_STR && strcmp(f->name, key) == 0 && v) {
            snprintf(out, cap, "%s", v);
        }
    }
    sl_replica_status_clear(&rs);
    sl_endpoint_status_reply_clear(&r);
}

/* A replica whose URL names no address sluice can compare (here "127.1",
   which the resolver reads as 127.0.0.1, as it would read a container
   name as that container's address) matches a push's source once a
   connection to it opened: the address it reached is what counts. */
static void test_progress_replica_address_learned_on_connect(void **state)
{
    s_ctx_t *c = *state;
    s_wire_replica(c);
    snprintf(c->urls[0], sizeof c->urls[0], "ws://127.1:%d", sl_wsio_port(c->srv));
    s_spawn(c, "performance-tester", 100, 1);
    s_listener(c);
    /* The address comes from the first connection that opens (the
       endpoint's health_check at start, or the attempt's). */
    char addr[64] = "";
    s_start(c, "performance-tester", "performance_test", "p0001-t0001", "m", 1, NULL, 0);
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while (strcmp(addr, "127.0.0.1") != 0 && ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->replica_port, 20, &m) == 0) {
            sl_msg_destroy(&m); /* the replica's own events; a bounded poll */
        }
        s_replica_field(c, "performance-tester", "address", addr, sizeof addr);
    }
    assert_string_equal(addr, "127.0.0.1");
    s_push_frame(
        c, "{\"type\":\"progress_update\",\"correlation_id\":\"\",\"stage\":"
           "\"aiohttp_start\",\"service\":\"performance-tester\",\"data\":{\"requests\":20}}");
    s_wait_judged(c, "performance-tester", 1);
    assert_int_equal(s_counter(c, "performance-tester", "pushes_attributed"), 1);
    s_expect_progress(c, "p0001-t0001", "aiohttp_start", -1);
}

/* ---- the listener's own defences (issue 13, section 5) ------------------- */

/* A progress_update frame for id, as the fleet sends it. */
static void s_frame_for(char *out, size_t cap, const char *id, const char *stage, int pct)
{
    snprintf(out, cap,
             "{\"type\":\"progress_update\",\"correlation_id\":\"%s\",\"stage\":\"%s\","
             "\"message\":\"m\",\"service\":\"static-analyzer\",\"data\":{\"pct\":%d}}",
             id, stage, pct);
}

/* One listener counter, asked as a request. */
static uint64_t s_listener_counter(s_ctx_t *c, const char *counter)
{
    sl_endpoint_status_reply_t r;
    ep_test_status_of(c->owner, SL_IDS_PROGRESS, S_WAIT_MS, &r);
    uint64_t v = 0;
    assert_int_equal(sl_mp_map_get_uint(r.counters.ptr, r.counters.len, counter, &v), 0);
    sl_endpoint_status_reply_clear(&r);
    return v;
}

/* Waits for the pusher's connection conn to end; its close code. */
static int s_wait_closed(s_ctx_t *c, uint64_t conn)
{
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while (ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->pusher, 50, &m) != 0) {
            continue;
        }
        sl_wsio_closed_t ev = {0};
        int code = -1;
        if (m->type == SL_MSG_WSIO_CLOSED &&
            sl_wsio_closed_decode(m->body, m->body_len, &ev) == 0) {
            code = ev.conn == conn ? (int)ev.code : -1;
            sl_wsio_closed_clear(&ev);
        }
        sl_msg_destroy(&m);
        if (code >= 0) {
            return code;
        }
    }
    fail_msg("connection %llu did not end within %d ms", (unsigned long long)conn, S_WAIT_MS);
    return -1;
}

/* An attempt of static-analyzer running on the wire replica; its id. */
static void s_running_attempt(s_ctx_t *c, char *id, size_t cap)
{
    s_wire_replica(c);
    s_spawn(c, "static-analyzer", 100, 1);
    s_start(c, "static-analyzer", "static_analyze", "p0001-t0001", "m", 1, NULL, 0);
    s_request_id(c, "static_analyze", id, cap);
}

/* With a secret path, a connection on any other path is closed (1008)
   before its frame is read, even one that names a live attempt's id. */
static void test_progress_listener_wrong_path_refused(void **state)
{
    s_ctx_t *c = *state;
    char id[SL_IDS_MAX], frame[512];
    s_running_attempt(c, id, sizeof id);
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    pc.path = "s3cret-token";
    s_listener_with(c, &pc);
    s_frame_for(frame, sizeof frame, id, "scanning", 10);
    const char *wrong[] = {"/", "/s3cret", "/s3cret-token/x", "/S3CRET-TOKEN"};
    for (size_t i = 0; i < 4; i++) {
        uint64_t conn = s_push_frame_on(c, wrong[i], frame);
        assert_int_equal(s_wait_closed(c, conn), 1008);
    }
    assert_int_equal(s_listener_counter(c, "wrong_path"), 4);
    assert_int_equal(s_listener_counter(c, "frames"), 0);
    /* The right path (a query string is no part of it) is heard. */
    s_push_frame_on(c, "/s3cret-token?x=1", frame);
    s_expect_progress(c, "p0001-t0001", "scanning", 10);
    assert_int_equal(s_counter(c, "static-analyzer", "pushes_by_id"), 1);
}

/* A frame above max_frame closes its connection (1009) unread; the next
   connection is served as usual. */
static void test_progress_listener_oversize_frame_closes(void **state)
{
    s_ctx_t *c = *state;
    char id[SL_IDS_MAX], frame[512];
    s_running_attempt(c, id, sizeof id);
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    pc.max_frame = 1024;
    s_listener_with(c, &pc);
    char big[2048];
    int n = snprintf(big, sizeof big,
                     "{\"type\":\"progress_update\",\"correlation_id\":\"%s\",\"stage\":"
                     "\"scanning\",\"service\":\"static-analyzer\",\"message\":\"",
                     id);
    memset(big + n, 'x', sizeof big - (size_t)n - 4);
    memcpy(big + sizeof big - 4, "\"}", 3);
    assert_int_equal(s_wait_closed(c, s_push_frame_on(c, "/", big)), SL_WSIO_CLOSE_TOO_BIG);
    /* The client may see the close before the listener's actor has its
       WSIO_CLOSED: wait for the count. */
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while (s_listener_counter(c, "too_big") < 1 && ep_test_ms() < deadline) {
    }
    assert_int_equal(s_listener_counter(c, "too_big"), 1);
    assert_int_equal(s_listener_counter(c, "frames"), 0);
    s_frame_for(frame, sizeof frame, id, "scanning", 20);
    s_push_frame_on(c, "/", frame);
    s_expect_progress(c, "p0001-t0001", "scanning", 20);
}

/* Connections beyond max_conn_per_s in one second of the (manual) clock
   are closed (1008) and their frames dropped; the next second takes new
   ones again. */
static void test_progress_listener_connection_rate_capped(void **state)
{
    s_ctx_t *c = *state;
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    pc.max_conn_per_s = 3;
    s_listener_with(c, &pc);
    const char *junk = "{\"type\":\"status_update\"}";
    for (int i = 0; i < 5; i++) {
        s_push_frame_on(c, "/", junk);
    }
    /* The two refused get 1008; the three taken have their frame read. */
    int refused = 0;
    int64_t deadline = ep_test_ms() + S_WAIT_MS;
    while ((refused < 2 || s_listener_counter(c, "connections") < 5) && ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->pusher, 20, &m) != 0) {
            continue;
        }
        sl_wsio_closed_t ev = {0};
        if (m->type == SL_MSG_WSIO_CLOSED &&
            sl_wsio_closed_decode(m->body, m->body_len, &ev) == 0) {
            refused += ev.code == 1008;
            sl_wsio_closed_clear(&ev);
        }
        sl_msg_destroy(&m);
    }
    assert_int_equal(s_listener_counter(c, "connections"), 5);
    assert_int_equal(s_listener_counter(c, "rate_limited"), 2);
    assert_int_equal(refused, 2);
    deadline = ep_test_ms() + S_WAIT_MS;
    while (s_listener_counter(c, "bad_frames") < 3 && ep_test_ms() < deadline) {
    }
    assert_int_equal(s_listener_counter(c, "frames"), 3);
    assert_int_equal(sl_rt_advance(c->rt, 1000), 0);
    s_push_frame_on(c, "/", junk);
    deadline = ep_test_ms() + S_WAIT_MS;
    while (s_listener_counter(c, "frames") < 4 && ep_test_ms() < deadline) {
    }
    assert_int_equal(s_listener_counter(c, "frames"), 4);
    assert_int_equal(s_listener_counter(c, "rate_limited"), 2);
}

/* wss:// with a certificate: a client that trusts the test CA pushes as
   over ws://. */
static void test_progress_listener_wss_push_accepted(void **state)
{
    s_ctx_t *c = *state;
    char id[SL_IDS_MAX], frame[512];
    s_running_attempt(c, id, sizeof id);
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    pc.cert_file = s_tls_file("server.pem");
    pc.key_file = s_tls_file("server.key");
    s_listener_with(c, &pc);
    s_frame_for(frame, sizeof frame, id, "scanning", 30);
    s_push_frame_on(c, "/", frame);
    s_expect_progress(c, "p0001-t0001", "scanning", 30);
    assert_int_equal(s_counter(c, "static-analyzer", "pushes_by_id"), 1);
}

/* The listener's defaults are the [progress] keys' defaults, where to listen
   read by the same function that reads a configured value; bad values change
   nothing. */
static void test_progress_defaults_from_config(void **state)
{
    (void)state;
    const sl_config_t *d = sl_config_builtin();
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    char want[160];
    snprintf(want, sizeof want, "ws://%s:%d", pc.listen_iface, pc.port);
    assert_string_equal(want, d->progress_listen);
    assert_true(pc.max_frame == (size_t)d->progress_max_frame_bytes);
    assert_true(pc.max_conn_per_s == (uint32_t)d->progress_max_connections_per_s);
    bool tls = true;
    assert_int_equal(sl_progress_config_listen(&pc, "ws://0.0.0.0:9001/", &tls), 0);
    assert_string_equal(pc.listen_iface, "0.0.0.0");
    assert_int_equal(pc.port, 9001);
    assert_false(tls);
    assert_int_equal(sl_progress_config_listen(&pc, "wss://127.0.0.1:9443", &tls), 0);
    assert_true(tls);
    assert_int_equal(pc.port, 9443);
    const char *bad[] = {"http://127.0.0.1:1", "ws://127.0.0.1", "ws://:80",         "ws://h:70000",
                         "ws://h:80x",         "ws://h:",        "ws://h:80/secret", NULL};
    for (int i = 0; bad[i]; i++) {
        assert_int_equal(sl_progress_config_listen(&pc, bad[i], NULL), SL_ECONFIG);
        assert_string_equal(pc.listen_iface, "127.0.0.1");
        assert_int_equal(pc.port, 9443);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_progress_defaults_from_config),
        cmocka_unit_test_setup_teardown(test_progress_every_stage_passes_within_stage_coalesced,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_guessed_id_does_not_keep_attempt_alive,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_dynamic_pushes_attributed_by_model_and_app,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_two_candidates_never_guessed, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_performance_pushes_by_url_then_address,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_push_needs_service_and_evidence, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_replica_address_learned_on_connect, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_listener_wrong_path_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_listener_oversize_frame_closes, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_listener_connection_rate_capped, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_progress_listener_wss_push_accepted, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
