/*  test_actor.c: actors, mailboxes, messaging, request/reply, the reactor
    and counters (runtime/sl_actor.h). Handlers only record into atomics;
    the test thread asserts after a bounded wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "tests/runtime/rt_testutil.h"

enum { T_DATA = 256, T_TRIGGER, T_ECHO, T_FAIL, T_GATE, T_ARM0, T_SLOW };

/* What handlers record; one per test. */
typedef struct {
    _Atomic int inits, finis, handled, fd_calls, sock_calls;
    _Atomic int cb_calls, cb_status, cb_ok, out_of_order;
    _Atomic int gate_open, in_gate, commit_seen, commits;
    _Atomic uint32_t last_seq[2];
    _Atomic int seen;
    _Atomic int has_in_init; /* sl_rt_has(own name) seen by init */
    uint64_t timer_id;
    int fd;
    void *zsock;
    char target[SL_NAME_MAX];
    char got[64];
} rec_t;

static int s_init(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    atomic_fetch_add(&r->inits, 1);
    atomic_store(&r->has_in_init, sl_rt_has(sl_actor_rt(self), sl_actor_name(self)) ? 1 : 0);
    *state = r;
    return 0;
}

static void s_fini(sl_actor_t *self, void *state)
{
    rec_t *r = state;
    atomic_fetch_add(&r->finis, 1);
}

static void s_reply_cb(sl_actor_t *self, void *arg, int status, const sl_msg_t *reply)
{
    rec_t *r = arg;
    atomic_store(&r->cb_status, status);
    if (status == 0 && reply && reply->type == T_ECHO) {
        atomic_fetch_add(&r->cb_ok, 1);
    }
    atomic_fetch_add(&r->cb_calls, 1);
}

static void s_commit(void *arg, uint64_t id)
{
    rec_t *r = arg;
    atomic_store(&r->commit_seen, atomic_load(&r->handled));
    atomic_fetch_add(&r->commits, 1);
    r->timer_id = 0;
}

static int s_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    rec_t *r = state;
    switch (msg->type) {
    case T_DATA: {
        uint32_t seq = 0;
        size_t fl = strlen(msg->from);
        int who = fl > 0 && msg->from[fl - 1] == 'b' ? 1 : 0;
        if (msg->body_len == 4) {
            memcpy(&seq, msg->body, 4);
        }
        if (seq != atomic_load(&r->last_seq[who]) + 1) {
            atomic_fetch_add(&r->out_of_order, 1);
        }
        atomic_store(&r->last_seq[who], seq);
        break;
    }
    case T_ECHO:
        if (msg->flags & SL_MSG_F_REQUEST) {
            sl_actor_reply(self, msg, T_ECHO, msg->body, msg->body_len);
        }
        break;
    case T_TRIGGER: {
        int rc = sl_actor_request(self, r->target, T_ECHO, "hi", 2, 100, s_reply_cb, r);
        if (rc < 0) {
            atomic_store(&r->cb_status, rc);
        }
        break;
    }
    case T_FAIL:
        atomic_fetch_add(&r->handled, 1);
        return SL_EIO;
    case T_GATE: {
        /* Hold the handler (bounded) so messages pile up in the mailbox. */
        int64_t deadline = rt_test_now_ms() + 5000;
        atomic_store(&r->in_gate, 1);
        while (!atomic_load(&r->gate_open) && rt_test_now_ms() < deadline) {
            rt_test_pause();
        }
        break;
    }
    case T_SLOW: {
        /* 20 us of work per message */
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        do {
            clock_gettime(CLOCK_MONOTONIC, &b);
        } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 20000);
        break;
    }
    case T_ARM0:
        if (r->timer_id == 0) {
            r->timer_id = sl_actor_timer(self, 0, 0, s_commit, r);
        }
        break;
    default:
        break;
    }
    atomic_fetch_add(&r->handled, 1);
    return 0;
}

static sl_actor_t *s_spawn(sl_rt_t *rt, const char *name, rec_t *r)
{
    sl_actor_spec_t spec = {
        .name = name, .init = s_init, .handle = s_handle, .fini = s_fini, .args = r};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    return a;
}

static void test_actor_spawn_ready_stop(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    assert_non_null(rt);
    sl_actor_t *a = s_spawn(rt, "a", &r);
    /* init ran before spawn returned; during init the actor is not yet
       "registered and running" */
    assert_int_equal(atomic_load(&r.inits), 1);
    assert_int_equal(atomic_load(&r.has_in_init), 0);
    assert_true(sl_actor_running(a));
    assert_true(sl_rt_has(rt, "a"));
    assert_string_equal(sl_actor_name(a), "a");
    sl_actor_spec_t dup = {.name = "a", .handle = s_handle, .args = &r};
    sl_actor_t *b = NULL;
    assert_int_equal(sl_actor_spawn(rt, &dup, &b), SL_EEXIST);
    assert_null(b);
    sl_actor_destroy(&a);
    assert_null(a);
    assert_int_equal(atomic_load(&r.finis), 1);
    assert_false(sl_rt_has(rt, "a"));
    sl_rt_destroy(&rt);
    assert_null(rt);
}

static int s_init_fails(sl_actor_t *self, void *args, void **state)
{
    return SL_ECONFIG;
}

static int s_init_requests_then_fails(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    if (sl_actor_request(self, "sink", T_ECHO, NULL, 0, 1000, s_reply_cb, r) < 0) {
        return SL_EINVAL;
    }
    sl_actor_timer(self, 0, 0, s_commit, r);
    return SL_ECONFIG;
}

static void test_actor_init_error(void **unused)
{
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    rec_t rf = {0};
    sl_port_t *sink = sl_port_new(rt, "sink");
    sl_actor_spec_t rspec = {.name = "req",
                             .init = s_init_requests_then_fails,
                             .handle = s_handle,
                             .fini = s_fini,
                             .args = &rf};
    sl_actor_t *ra = NULL;
    assert_int_equal(sl_actor_spawn(rt, &rspec, &ra), SL_ECONFIG);
    assert_int_equal(atomic_load(&rf.cb_calls), 0); /* dropped, not fired */
    assert_int_equal(atomic_load(&rf.commits), 0);
    assert_int_equal(atomic_load(&rf.finis), 0);
    sl_port_destroy(&sink);
    sl_actor_spec_t spec = {.name = "bad", .init = s_init_fails, .handle = s_handle};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), SL_ECONFIG);
    assert_null(a);
    assert_false(sl_rt_has(rt, "bad"));
    spec.name = "";
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), SL_EINVAL);
    /* the name is free again after a failed init */
    rec_t r = {0};
    a = s_spawn(rt, "bad", &r);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_send_unknown_name(void **unused)
{
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_non_null(port);
    assert_int_equal(sl_port_send(port, "nobody", T_DATA, NULL, 0), SL_ENOTFOUND);
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_request(port, "nobody", T_ECHO, NULL, 0, 10, &m), SL_EINVAL);
    sl_port_t *named = sl_port_new(rt, "me");
    assert_int_equal(sl_port_request(named, "nobody", T_ECHO, NULL, 0, 10, &m), SL_ENOTFOUND);
    assert_null(sl_port_new(rt, "me")); /* taken */
    sl_port_destroy(&named);
    sl_port_destroy(&port);
    assert_null(port);
    sl_rt_destroy(&rt);
}

static void test_actor_ordering_per_sender(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "counter", &r);
    sl_port_t *pa = sl_port_new(rt, "src.a");
    sl_port_t *pb = sl_port_new(rt, "src.b");
    const uint32_t n = 20000;
    for (uint32_t i = 1; i <= n; i++) {
        assert_int_equal(sl_port_send(pa, "counter", T_DATA, &i, 4), 0);
        assert_int_equal(sl_port_send(pb, "counter", T_DATA, &i, 4), 0);
    }
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.handled) == (int)(2 * n), 10000));
    assert_int_equal(atomic_load(&r.out_of_order), 0);
    assert_int_equal(atomic_load(&r.last_seq[0]), n);
    assert_int_equal(atomic_load(&r.last_seq[1]), n);
    sl_port_destroy(&pa);
    sl_port_destroy(&pb);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_request_reply(void **unused)
{
    rec_t rs = {0}, rc = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *server = s_spawn(rt, "server", &rs);
    snprintf(rc.target, sizeof(rc.target), "server");
    sl_actor_t *client = s_spawn(rt, "client", &rc);
    sl_port_t *port = sl_port_new(rt, "test");

    /* port -> actor */
    sl_msg_t *reply = NULL;
    assert_int_equal(sl_port_request(port, "server", T_ECHO, "abc", 3, 5000, &reply), 0);
    assert_int_equal(reply->type, T_ECHO);
    assert_true(reply->flags & SL_MSG_F_REPLY);
    assert_string_equal(reply->from, "server");
    assert_int_equal(reply->body_len, 3);
    assert_memory_equal(reply->body, "abc", 3);
    sl_msg_destroy(&reply);
    assert_null(reply);

    /* actor -> actor */
    assert_int_equal(sl_port_send(port, "client", T_TRIGGER, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&rc.cb_calls) == 1, 5000));
    assert_int_equal(atomic_load(&rc.cb_status), 0);
    assert_int_equal(atomic_load(&rc.cb_ok), 1);

    sl_port_destroy(&port);
    sl_actor_destroy(&client);
    sl_actor_destroy(&server);
    sl_rt_destroy(&rt);
}

static void test_actor_port_keeps_other_messages(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "echo", &r);
    sl_port_t *me = sl_port_new(rt, "me");
    sl_port_t *other = sl_port_new(rt, NULL);
    uint32_t v = 7;
    assert_int_equal(sl_port_send(other, "me", T_DATA, &v, 4), 0);
    sl_msg_t *reply = NULL;
    assert_int_equal(sl_port_request(me, "echo", T_ECHO, NULL, 0, 5000, &reply), 0);
    assert_int_equal(reply->body_len, 0);
    sl_msg_destroy(&reply);
    sl_msg_t *kept = NULL;
    assert_int_equal(sl_port_recv(me, 1000, &kept), 0);
    assert_int_equal(kept->type, T_DATA);
    assert_string_equal(kept->from, "");
    sl_msg_destroy(&kept);
    assert_int_equal(sl_port_recv(me, 10, &kept), SL_ETIMEOUT);
    sl_port_destroy(&other);
    sl_port_destroy(&me);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_deadline_fires_once(void **unused)
{
    rec_t r = {0};
    sl_clock_t *clock = sl_clock_new_manual(1000, 1700000000000);
    sl_rt_t *rt = sl_rt_new(NULL, clock);
    sl_port_t *server = sl_port_new(rt, "slow");
    snprintf(r.target, sizeof(r.target), "slow");
    sl_actor_t *a = s_spawn(rt, "client", &r);
    sl_port_t *port = sl_port_new(rt, NULL);

    assert_int_equal(sl_port_send(port, "client", T_TRIGGER, NULL, 0), 0);
    sl_msg_t *req = NULL;
    assert_int_equal(sl_port_recv(server, 5000, &req), 0);
    assert_true(req->flags & SL_MSG_F_REQUEST);
    assert_int_equal(req->type, T_ECHO);
    sl_actor_stats_t st;
    sl_actor_stats(a, &st);
    assert_int_equal(st.timers, 1); /* the deadline */

    /* before the deadline: nothing */
    assert_int_equal(sl_rt_advance(rt, 99), 0);
    assert_false(RT_WAIT_UNTIL(atomic_load(&r.cb_calls) > 0, 50));
    /* past it: exactly one SL_ETIMEOUT */
    assert_int_equal(sl_rt_advance(rt, 2), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.cb_calls) == 1, 5000));
    assert_int_equal(atomic_load(&r.cb_status), SL_ETIMEOUT);

    /* the late reply is dropped and counted */
    assert_int_equal(sl_port_reply(server, req, T_ECHO, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL((sl_actor_stats(a, &st), st.late_replies == 1), 5000));
    assert_int_equal(atomic_load(&r.cb_calls), 1);
    assert_int_equal(st.timers, 0);
    sl_msg_destroy(&req);

    sl_port_destroy(&port);
    sl_port_destroy(&server);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
    sl_clock_destroy(&clock);
}

static void test_actor_pending_closed_on_stop(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_port_t *server = sl_port_new(rt, "mute");
    snprintf(r.target, sizeof(r.target), "mute");
    sl_actor_t *a = s_spawn(rt, "client", &r);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "client", T_TRIGGER, NULL, 0), 0);
    sl_msg_t *req = NULL;
    assert_int_equal(sl_port_recv(server, 5000, &req), 0);
    sl_actor_destroy(&a);
    assert_int_equal(atomic_load(&r.cb_calls), 1);
    assert_int_equal(atomic_load(&r.cb_status), SL_ECLOSED);
    sl_msg_destroy(&req);
    sl_port_destroy(&port);
    sl_port_destroy(&server);
    sl_rt_destroy(&rt);
}

static void test_actor_ping_answered_by_runtime(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "a", &r);
    sl_port_t *port = sl_port_new(rt, "pinger");
    sl_msg_t *pong = NULL;
    assert_int_equal(sl_port_request(port, "a", SL_MSG_PING, NULL, 0, 5000, &pong), 0);
    assert_int_equal(pong->type, SL_MSG_PONG);
    assert_string_equal(pong->from, "a");
    sl_msg_destroy(&pong);
    assert_int_equal(atomic_load(&r.handled), 0); /* the handler never saw it */
    sl_port_destroy(&port);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_stop_while_busy(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "busy", &r);
    sl_port_t *port = sl_port_new(rt, NULL);
    enum { N = 100000 }; /* 2 s of work queued */
    for (int i = 0; i < N; i++) {
        assert_int_equal(sl_port_send(port, "busy", T_SLOW, NULL, 0), 0);
    }
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.handled) > 0, 5000));
    int64_t t0 = rt_test_now_ms();
    sl_actor_destroy(&a);
    assert_true(rt_test_now_ms() - t0 < 500);
    assert_true(atomic_load(&r.handled) < N);
    assert_int_equal(atomic_load(&r.finis), 1);
    sl_port_destroy(&port);
    sl_rt_destroy(&rt);
}

static void test_actor_thousand_actors(void **unused)
{
    enum { N = 1000 };
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * N) {
        print_message("RLIMIT_NOFILE %lu is too low for %d actors\n", (unsigned long)rl.rlim_cur,
                      N);
        skip();
    }
    static rec_t r[N];
    static sl_actor_t *a[N];
    memset(r, 0, sizeof(r));
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w.%d", i);
        a[i] = s_spawn(rt, name, &r[i]);
    }
    static sl_actor_stats_t st[N + 10];
    assert_int_equal(sl_rt_stats(rt, st, N + 10), N);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "w.999", T_ECHO, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r[999].handled) == 1, 5000));
    sl_port_destroy(&port);
    for (int i = 0; i < N; i += 2) {
        sl_actor_destroy(&a[i]);
    }
    assert_int_equal(sl_rt_stats(rt, st, N + 10), N / 2);
    /* the rest is stopped by the runtime, newest first; we still free them */
    sl_rt_destroy(&rt);
    for (int i = 1; i < N; i += 2) {
        assert_false(sl_actor_running(a[i]));
        assert_int_equal(atomic_load(&r[i].finis), 1);
        sl_actor_destroy(&a[i]);
    }
}

static void test_actor_counters_and_full_mailbox(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t spec = {
        .name = "small", .init = s_init, .handle = s_handle, .args = &r, .mailbox_hwm = 10};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "small", T_GATE, NULL, 0), 0);
    int sent = 1, rc = 0;
    while (sent < 100 && (rc = sl_port_send(port, "small", T_DATA, NULL, 0)) == 0) {
        sent++;
    }
    assert_int_equal(rc, SL_EFULL);
    assert_int_equal(sent, 10);
    sl_actor_stats_t st;
    sl_actor_stats(a, &st);
    assert_int_equal(st.mailbox_depth, 10);
    assert_string_equal(st.name, "small");
    assert_true(st.running);
    atomic_store(&r.gate_open, 1);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.handled) == 10, 5000));
    assert_true(RT_WAIT_UNTIL((sl_actor_stats(a, &st), st.mailbox_depth == 0), 5000));
    assert_int_equal(st.msgs_in, 10);
    assert_int_equal(st.msgs_out, 0);
    assert_true(st.handler_ns > 0);
    sl_port_destroy(&port);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_delay0_timer_after_drain(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "store", &r);
    sl_port_t *port = sl_port_new(rt, NULL);
    /* The gate holds the first drain while the burst piles up behind it. */
    assert_int_equal(sl_port_send(port, "store", T_GATE, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.in_gate) == 1, 5000));
    for (int i = 0; i < 999; i++) {
        assert_int_equal(sl_port_send(port, "store", T_ARM0, NULL, 0), 0);
    }
    atomic_store(&r.gate_open, 1);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.commits) >= 1, 5000));
    assert_int_equal(atomic_load(&r.commits), 1);
    assert_int_equal(atomic_load(&r.commit_seen), 1000);
    sl_port_destroy(&port);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void s_tick(void *arg, uint64_t id)
{
    rec_t *r = arg;
    atomic_fetch_add(&r->seen, 1);
}

static int s_timer_init(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    *state = r;
    sl_actor_timer(self, 100, 0, s_tick, r); /* once at 100 */
    sl_actor_timer(self, 50, 50, s_tick, r); /* every 50 */
    uint64_t id = sl_actor_timer(self, 10, 0, s_tick, r);
    return sl_actor_timer_cancel(self, id); /* never fires */
}

static void test_actor_timers_on_manual_clock(void **unused)
{
    rec_t r = {0};
    sl_clock_t *clock = sl_clock_new_manual(0, 0);
    sl_rt_t *rt = sl_rt_new(NULL, clock);
    sl_actor_spec_t spec = {.name = "t", .init = s_timer_init, .handle = s_handle, .args = &r};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    assert_false(RT_WAIT_UNTIL(atomic_load(&r.seen) > 0, 30));
    sl_rt_advance(rt, 50);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.seen) == 1, 5000));
    sl_rt_advance(rt, 50); /* t=100: periodic + one-shot */
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.seen) == 3, 5000));
    sl_rt_advance(rt, 50);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.seen) == 4, 5000));
    sl_actor_stats_t st;
    sl_actor_stats(a, &st);
    assert_int_equal(st.timers, 1);
    assert_int_equal(sl_rt_advance(rt, -1), SL_EINVAL);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
    sl_clock_destroy(&clock);
}

static int s_on_fd(sl_actor_t *self, int fd, short revents, void *arg)
{
    rec_t *r = arg;
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = '\0';
        snprintf(r->got, sizeof(r->got), "%s", buf);
        atomic_fetch_add(&r->fd_calls, 1);
    }
    return 0;
}

static int s_fd_init(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    *state = r;
    return sl_actor_watch_fd(self, r->fd, ZMQ_POLLIN, s_on_fd, r);
}

static void test_actor_watch_fd(void **unused)
{
    rec_t r = {0};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    r.fd = fds[0];
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t spec = {.name = "fdw", .init = s_fd_init, .handle = s_handle, .args = &r};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    assert_int_equal(write(fds[1], "ping", 4), 4);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.fd_calls) == 1, 5000));
    sl_actor_destroy(&a); /* joined: r.got is ours to read */
    assert_string_equal(r.got, "ping");
    sl_rt_destroy(&rt);
    close(fds[0]);
    close(fds[1]);
}

static int s_on_sock(sl_actor_t *self, void *zsock, short revents, void *arg)
{
    rec_t *r = arg;
    char buf[64];
    int n;
    while ((n = zmq_recv(zsock, buf, sizeof(buf) - 1, ZMQ_DONTWAIT)) >= 0) {
        buf[n < 63 ? n : 63] = '\0';
        snprintf(r->got, sizeof(r->got), "%s", buf);
        atomic_fetch_add(&r->sock_calls, 1);
    }
    return 0;
}

static int s_sock_init(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    *state = r;
    r->zsock = zmq_socket(sl_rt_zmq_ctx(sl_actor_rt(self)), ZMQ_PULL);
    if (!r->zsock || zmq_bind(r->zsock, "inproc://test.watched") != 0) {
        return SL_EZMQ;
    }
    return sl_actor_watch_socket(self, r->zsock, ZMQ_POLLIN, s_on_sock, r);
}

static void s_sock_fini(sl_actor_t *self, void *state)
{
    rec_t *r = state;
    sl_actor_unwatch_socket(self, r->zsock);
    int zero = 0;
    zmq_setsockopt(r->zsock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(r->zsock);
}

static void test_actor_watch_socket(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t spec = {
        .name = "sockw", .init = s_sock_init, .handle = s_handle, .fini = s_sock_fini, .args = &r};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    void *push = zmq_socket(sl_rt_zmq_ctx(rt), ZMQ_PUSH);
    assert_int_equal(zmq_connect(push, "inproc://test.watched"), 0);
    assert_int_equal(zmq_send(push, "hello", 5, 0), 5);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.sock_calls) == 1, 5000));
    int zero = 0;
    zmq_setsockopt(push, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(push);
    sl_actor_destroy(&a);
    assert_string_equal(r.got, "hello");
    sl_rt_destroy(&rt);
}

static void test_actor_host_context(void **unused)
{
    void *ctx = zmq_ctx_new();
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(ctx, NULL);
    assert_ptr_equal(sl_rt_zmq_ctx(rt), ctx);
    sl_actor_t *a = s_spawn(rt, "hosted", &r);
    /* a host socket in the same context reaches the mailbox directly */
    sl_port_t *port = sl_port_new(rt, "host");
    sl_msg_t *pong = NULL;
    assert_int_equal(sl_port_request(port, "hosted", SL_MSG_PING, NULL, 0, 5000, &pong), 0);
    sl_msg_destroy(&pong);
    sl_port_destroy(&port);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
    /* the host's context is still alive and usable */
    void *s = zmq_socket(ctx, ZMQ_PAIR);
    assert_non_null(s);
    zmq_close(s);
    assert_int_equal(zmq_ctx_term(ctx), 0);
}

static void test_actor_malformed_frame_dropped(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *a = s_spawn(rt, "victim", &r);
    void *raw = zmq_socket(sl_rt_zmq_ctx(rt), ZMQ_PUSH);
    assert_int_equal(zmq_connect(raw, "inproc://sl.victim"), 0);
    uint8_t bad_version[16] = {9, 0, 0, 1};
    uint8_t long_name[14] = {1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 200, 'x'};
    uint8_t bad_flags[13] = {1, 0xff, 0, 1};
    assert_int_equal(zmq_send(raw, "xy", 2, 0), 2);
    assert_int_equal(zmq_send(raw, bad_version, sizeof(bad_version), 0), 16);
    assert_int_equal(zmq_send(raw, long_name, sizeof(long_name), 0), 14);
    assert_int_equal(zmq_send(raw, bad_flags, sizeof(bad_flags), 0), 13);
    assert_int_equal(zmq_send(raw, "", 0, 0), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "victim", T_ECHO, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r.handled) == 1, 5000));
    sl_actor_stats_t st;
    sl_actor_stats(a, &st);
    assert_int_equal(st.malformed, 5);
    assert_true(st.running);
    sl_port_destroy(&port);
    int zero = 0;
    zmq_setsockopt(raw, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_close(raw);
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
}

static void test_actor_handler_error_tells_parent(void **unused)
{
    rec_t r = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_port_t *parent = sl_port_new(rt, "boss");
    sl_actor_spec_t spec = {.name = "kid",
                            .init = s_init,
                            .handle = s_handle,
                            .fini = s_fini,
                            .args = &r,
                            .parent = "boss"};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "kid", T_FAIL, NULL, 0), 0);
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_recv(parent, 5000, &m), 0);
    assert_int_equal(m->type, SL_MSG_ACTOR_EXIT);
    assert_string_equal(m->from, "kid");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)m->body, m->body_len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal(u.data.via.map.size, 2);
    assert_int_equal(u.data.via.map.ptr[0].val.type, MSGPACK_OBJECT_STR);
    assert_memory_equal(u.data.via.map.ptr[0].val.via.str.ptr, "kid", 3);
    assert_int_equal(u.data.via.map.ptr[1].val.via.i64, SL_EIO);
    msgpack_unpacked_destroy(&u);
    sl_msg_destroy(&m);
    assert_false(sl_actor_running(a));
    assert_int_equal(sl_actor_exit_reason(a), SL_EIO);
    assert_int_equal(atomic_load(&r.finis), 1);
    assert_int_equal(sl_port_send(port, "kid", T_DATA, NULL, 0), SL_ENOTFOUND);
    sl_actor_destroy(&a);

    /* the same name can be spawned again and old senders reconnect */
    rec_t r2 = {0};
    a = s_spawn(rt, "kid", &r2);
    assert_int_equal(sl_port_send(port, "kid", T_ECHO, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&r2.handled) == 1, 5000));
    sl_actor_destroy(&a);
    sl_port_destroy(&port);
    sl_port_destroy(&parent);
    sl_rt_destroy(&rt);
}

static int s_on_fd_fails(sl_actor_t *self, int fd, short revents, void *arg)
{
    return SL_EIO;
}

static int s_fd_fail_init(sl_actor_t *self, void *args, void **state)
{
    rec_t *r = args;
    *state = r;
    /* A second watch of one fd is refused; unwatch frees the slot. */
    if (sl_actor_watch_fd(self, r->fd, ZMQ_POLLIN, s_on_fd, r) < 0 ||
        sl_actor_watch_fd(self, r->fd, ZMQ_POLLIN, s_on_fd, r) != SL_EEXIST ||
        sl_actor_unwatch_fd(self, r->fd) < 0 || sl_actor_unwatch_fd(self, r->fd) != SL_ENOTFOUND) {
        return SL_EINVAL;
    }
    return sl_actor_watch_fd(self, r->fd, ZMQ_POLLIN, s_on_fd_fails, r);
}

static void test_actor_fd_callback_error_is_fatal(void **unused)
{
    rec_t r = {0};
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    r.fd = fds[0];
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t spec = {.name = "fdf", .init = s_fd_fail_init, .handle = s_handle,
                            .fini = s_fini, .args = &r};
    sl_actor_t *a = NULL;
    assert_int_equal(sl_actor_spawn(rt, &spec, &a), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_true(RT_WAIT_UNTIL(!sl_actor_running(a), 5000));
    assert_int_equal(sl_actor_exit_reason(a), SL_EIO);
    assert_int_equal(atomic_load(&r.finis), 1);
    assert_false(sl_rt_has(rt, "fdf"));
    sl_actor_destroy(&a);
    sl_rt_destroy(&rt);
    close(fds[0]);
    close(fds[1]);
}

static void test_actor_port_request_timeout(void **unused)
{
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_port_t *client = sl_port_new(rt, "client");
    sl_port_t *server = sl_port_new(rt, "server");
    sl_msg_t *reply = NULL;
    int64_t t0 = rt_test_now_ms();
    assert_int_equal(sl_port_request(client, "server", T_ECHO, "q", 1, 30, &reply), SL_ETIMEOUT);
    assert_true(rt_test_now_ms() - t0 >= 30);
    assert_null(reply);
    /* the late reply is not mistaken for the next request's */
    sl_msg_t *req = NULL;
    assert_int_equal(sl_port_recv(server, 1000, &req), 0);
    assert_int_equal(sl_port_reply(server, req, T_ECHO, "late", 4), 0);
    sl_msg_destroy(&req);
    assert_int_equal(sl_port_request(client, "server", T_ECHO, "q2", 2, 30, &reply), SL_ETIMEOUT);
    assert_int_equal(sl_port_recv(server, 1000, &req), 0);
    assert_int_equal(req->body_len, 2);
    assert_int_equal(sl_port_reply(server, req, T_ECHO, "ok", 2), 0);
    sl_msg_destroy(&req);
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_recv(client, 1000, &m), 0); /* a plain recv sees it */
    assert_memory_equal(m->body, "ok", 2);
    sl_msg_destroy(&m);
    /* a non-request cannot be replied to */
    assert_int_equal(sl_port_send(client, "server", T_DATA, NULL, 0), 0);
    assert_int_equal(sl_port_recv(server, 1000, &req), 0);
    assert_int_equal(sl_port_reply(server, req, T_ECHO, NULL, 0), SL_EINVAL);
    sl_msg_destroy(&req);
    sl_port_destroy(&server);
    sl_port_destroy(&client);
    sl_rt_destroy(&rt);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    /* 1,000 actors need about 2,000 descriptors: lift a 1,024 soft limit. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
        rl.rlim_cur = rl.rlim_max < 8192 ? rl.rlim_max : 8192;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actor_spawn_ready_stop),
        cmocka_unit_test(test_actor_init_error),
        cmocka_unit_test(test_actor_send_unknown_name),
        cmocka_unit_test(test_actor_ordering_per_sender),
        cmocka_unit_test(test_actor_request_reply),
        cmocka_unit_test(test_actor_port_keeps_other_messages),
        cmocka_unit_test(test_actor_deadline_fires_once),
        cmocka_unit_test(test_actor_pending_closed_on_stop),
        cmocka_unit_test(test_actor_ping_answered_by_runtime),
        cmocka_unit_test(test_actor_stop_while_busy),
        cmocka_unit_test(test_actor_thousand_actors),
        cmocka_unit_test(test_actor_counters_and_full_mailbox),
        cmocka_unit_test(test_actor_delay0_timer_after_drain),
        cmocka_unit_test(test_actor_timers_on_manual_clock),
        cmocka_unit_test(test_actor_watch_fd),
        cmocka_unit_test(test_actor_watch_socket),
        cmocka_unit_test(test_actor_host_context),
        cmocka_unit_test(test_actor_malformed_frame_dropped),
        cmocka_unit_test(test_actor_handler_error_tells_parent),
        cmocka_unit_test(test_actor_fd_callback_error_is_fatal),
        cmocka_unit_test(test_actor_port_request_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
