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

#include "actors/endpoint/sl_endpoint.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_clock.h"

#define S_MAX_REPLICAS 4
#define S_WAIT_MS 3000

typedef struct {
    sl_clock_t *clock;
    sl_rt_t *rt;
    sl_port_t *owner;
    sl_actor_t *ep;
    int fds[S_MAX_REPLICAS];
    char urls[S_MAX_REPLICAS][64];
    const char *url_ptrs[S_MAX_REPLICAS];
    int n;
} s_ctx_t;

static int64_t s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
    sl_actor_destroy(&c->ep);
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

/* n silent replicas: listeners on 127.0.0.1, port 0, never accepted (the
   kernel completes TCP; nobody answers the upgrade). */
static void s_replicas(s_ctx_t *c, int n)
{
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fd >= 0);
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 16), 0);
        socklen_t sl = sizeof sa;
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
        c->fds[i] = fd;
        snprintf(c->urls[i], sizeof c->urls[i], "ws://127.0.0.1:%d", ntohs(sa.sin_port));
        c->url_ptrs[i] = c->urls[i];
    }
    c->n = n;
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
}

static void s_send(s_ctx_t *c, const char *service, uint16_t type, uint8_t *buf, size_t len)
{
    char to[SL_NAME_MAX];
    snprintf(to, sizeof to, "endpoint.%s", service);
    assert_int_equal(sl_port_send(c->owner, to, type, buf, len), 0);
    free(buf);
}

static void s_start(s_ctx_t *c, const char *service, const char *op, const char *task,
                    const char *model, int64_t app, const char *const *targets, size_t ntargets)
{
    sl_attempt_start_t st = {0};
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
    s_send(c, service, SL_MSG_ATTEMPT_START, buf, len);
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

/* One endpoint counter, asked as a request (so every message the case sent
   before it has been handled). */
static uint64_t s_counter(s_ctx_t *c, const char *service, const char *counter)
{
    sl_endpoint_status_t q = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_endpoint_status_encode(&q, &buf, &len), 0);
    char to[SL_NAME_MAX];
    snprintf(to, sizeof to, "endpoint.%s", service);
    sl_msg_t *rep = NULL;
    assert_int_equal(
        sl_port_request(c->owner, to, SL_MSG_ENDPOINT_STATUS, buf, len, S_WAIT_MS, &rep), 0);
    free(buf);
    sl_endpoint_status_reply_t r = {0};
    assert_int_equal(sl_endpoint_status_reply_decode(rep->body, rep->body_len, &r), 0);
    sl_msg_destroy(&rep);
    uint64_t v = 0;
    assert_int_equal(sl_mp_map_get_uint(r.counters.ptr, r.counters.len, counter, &v), 0);
    sl_endpoint_status_reply_clear(&r);
    return v;
}

/* The next ATTEMPT_PROGRESS within the deadline (caller clears), or fails. */
static void s_next_progress(s_ctx_t *c, sl_attempt_progress_t *out)
{
    int64_t deadline = s_ms() + S_WAIT_MS;
    while (s_ms() < deadline) {
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
    s_replicas(c, 1);
    s_spawn(c, "static-analyzer", 2, 2);
    s_start(c, "static-analyzer", "static_analyze", "p0001-t0001", "m", 1, NULL, 0);
    for (int i = 0; i < 10; i++) {
        s_push(c, "static-analyzer", "p0001-t0001-a1", s_static_stages[i], i * 10);
    }
    for (int i = 0; i < 10; i++) {
        s_expect_progress(c, "p0001-t0001", s_static_stages[i], i * 10);
    }
    /* The same stage, five times in the same instant: the window's budget
       is spent, so they wait; only the latest leaves at the window's end. */
    for (int pct = 91; pct <= 95; pct++) {
        s_push(c, "static-analyzer", "p0001-t0001-a1", "completed", pct);
    }
    s_no_progress(c, "static-analyzer");
    assert_int_equal(sl_rt_advance(c->rt, 999), 0);
    s_no_progress(c, "static-analyzer");
    assert_int_equal(sl_rt_advance(c->rt, 1), 0);
    s_expect_progress(c, "p0001-t0001", "completed", 95);
    /* That flush opened a new window and used one of its two: the next
       passes, the two after it wait, and the latest goes out just before
       the result. */
    s_push(c, "static-analyzer", "p0001-t0001-a1", "completed", 96);
    s_push(c, "static-analyzer", "p0001-t0001-a1", "completed", 97);
    s_push(c, "static-analyzer", "p0001-t0001-a1", "completed", 98);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_progress_every_stage_passes_within_stage_coalesced,
                                        s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
