/*  test_endpoint.c: the endpoint actor and the progress listener against
    the mock analyzer fleet (tools/mock), over loopback.

    Each test starts `sluice-mock-analyzer` as a child process on ephemeral
    ports (it prints its replica URLs, then "ready"), a runtime with a system
    clock, and a port named "owner" that plays the task owner: it sends
    ATTEMPT_START and receives ATTEMPT_PROGRESS / ATTEMPT_RESULT. Timeouts are
    configured short (hundreds of ms) and every wait has a deadline. The mock
    is stopped by pid, and registered with tests/tchild.h: a case that fails
    before it stops the mock still has it killed in the teardown (or at
    exit), and a test process killed outright (ctest timeout) takes the mock
    with it. Asserts run on the test thread only.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/endpoint/sl_endpoint.h"
#include "actors/endpoint/sl_progress.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "runtime/sl_actor.h"
#include "tests/tchild.h"
#include "tests/ttmp.h"
#include "proto/sl_ids.h"
#include "tests/actors/endpoint/ep_testutil.h"

#define S_MAX_REPLICAS 8

/* ---- the mock fleet as a child process ----------------------------------- */

typedef struct {
    pid_t pid;
    FILE *out;
    int n;
    char url[S_MAX_REPLICAS][128];
    int control_port;
} s_fleet_t;

static void s_mock_path(char *buf, size_t size)
{
    const char *bd = getenv("SLUICE_BUILD_DIR");
    const char *cands[] = {"tools/sluice-mock-analyzer", "tools/mock/sluice-mock-analyzer",
                           "sluice-mock-analyzer"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        snprintf(buf, size, "%s/%s", bd ? bd : ".", cands[i]);
        if (access(buf, X_OK) == 0) {
            return;
        }
    }
    snprintf(buf, size, "%s/tools/sluice-mock-analyzer", bd ? bd : ".");
}

/* The next fleet's --record file, when a case sets it. */
static const char *s_record;

/* Starts the fleet with the given replica specs ("static:127.0.0.1:0:..."),
   an optional gateway URL, and the control port; waits for "ready". */
static void s_fleet_start(s_fleet_t *f, const char *gateway, const char *const *specs, int n)
{
    memset(f, 0, sizeof *f);
    char path[512];
    s_mock_path(path, sizeof path);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    char *argv[32];
    int argc = 0;
    argv[argc++] = path;
    argv[argc++] = "--control";
    argv[argc++] = "0";
    char gw[256];
    if (gateway) {
        snprintf(gw, sizeof gw, "%s", gateway);
        argv[argc++] = "--gateway";
        argv[argc++] = gw;
    }
    if (s_record) {
        argv[argc++] = "--record";
        argv[argc++] = (char *)s_record;
    }
    for (int i = 0; i < n && argc < 29; i++) {
        argv[argc++] = "--replica";
        argv[argc++] = (char *)specs[i];
    }
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tchild_in_child(parent);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execv(path, argv);
        _exit(127);
    }
    close(pfd[1]);
    tchild_add(pid);
    f->pid = pid;
    f->out = fdopen(pfd[0], "r");
    assert_non_null(f->out);
    int64_t deadline = ep_test_ms() + 10000;
    /* Raw reads, not stdio: poll(2) cannot see what a FILE buffered. */
    char buf[4096];
    size_t have = 0;
    bool ready = false;
    while (!ready && ep_test_ms() < deadline) {
        struct pollfd p = {fileno(f->out), POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) {
            continue;
        }
        ssize_t got = read(p.fd, buf + have, sizeof buf - 1 - have);
        if (got <= 0) {
            break;
        }
        have += (size_t)got;
        buf[have] = '\0';
        char *nl;
        while (!ready && (nl = strchr(buf, '\n')) != NULL) {
            *nl = '\0';
            char svc[64], url[128];
            int port;
            if (sscanf(buf, "replica %63s %127s", svc, url) == 2 && f->n < S_MAX_REPLICAS) {
                snprintf(f->url[f->n++], sizeof f->url[0], "%s", url);
            } else if (sscanf(buf, "control 127.0.0.1:%d", &port) == 1) {
                f->control_port = port;
            } else if (strncmp(buf, "ready", 5) == 0) {
                ready = true;
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used + 1);
            have -= used;
        }
    }
    if (!ready) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        tchild_forget(f->pid);
        f->pid = 0;
        fclose(f->out);
        f->out = NULL;
        fail_msg("mock fleet did not become ready (%s)", path);
    }
    assert_int_equal(f->n, n);
}

static void s_fleet_stop(s_fleet_t *f)
{
    if (f->pid <= 0) {
        return;
    }
    kill(f->pid, SIGTERM);
    int64_t deadline = ep_test_ms() + 3000;
    int st;
    while (waitpid(f->pid, &st, WNOHANG) == 0) {
        if (ep_test_ms() > deadline) {
            kill(f->pid, SIGKILL);
            waitpid(f->pid, &st, 0);
            break;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* bounded reaping, not synchronisation */
    }
    tchild_forget(f->pid);
    if (f->out) {
        fclose(f->out);
        f->out = NULL;
    }
    f->pid = 0;
}

/* One control command; returns the answer line in reply. */
static void s_control(s_fleet_t *f, const char *cmd, char *reply, size_t size)
{
    assert_true(f->control_port > 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)f->control_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char line[512];
    int len = snprintf(line, sizeof line, "%s\n", cmd);
    assert_int_equal(write(fd, line, (size_t)len), len);
    size_t got = 0;
    int64_t deadline = ep_test_ms() + 5000;
    while (got + 1 < size && ep_test_ms() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) {
            continue;
        }
        ssize_t r = read(fd, reply + got, size - 1 - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (memchr(reply, '\n', got)) {
            break;
        }
    }
    reply[got] = '\0';
    close(fd);
    assert_true(strncmp(reply, "ok", 2) == 0);
}

/* ---- the runtime, the owner and the endpoint under test ------------------ */

typedef struct {
    sl_rt_t *rt;
    sl_port_t *owner;
    sl_actor_t *ep;
    sl_actor_t *progress;
    sl_port_t *store; /* a fake store, when a test needs one */
    int progress_port;
    s_fleet_t fleet;
} s_ctx_t;

static int s_setup(void **state)
{
    s_ctx_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->rt = sl_rt_new(NULL, NULL);
    assert_non_null(c->rt);
    c->owner = sl_port_new(c->rt, "owner");
    assert_non_null(c->owner);
    *state = c;
    return 0;
}

static int s_teardown(void **state)
{
    s_ctx_t *c = *state;
    /* The mock first: an assert that ended the case early must not leave
       it running, whatever happens below. */
    s_fleet_stop(&c->fleet);
    tchild_kill_all();
    sl_actor_destroy(&c->ep);
    sl_actor_destroy(&c->progress);
    sl_port_destroy(&c->store);
    sl_port_destroy(&c->owner);
    sl_rt_destroy(&c->rt);
    free(c);
    return 0;
}

/* Short timeouts for tests; the caller adjusts. */
static void s_cfg(sl_endpoint_config_t *cfg, const char *service, s_fleet_t *f)
{
    sl_endpoint_config_defaults(cfg, service);
    cfg->replicas = (const char *const *)NULL;
    static const char *urls[S_MAX_REPLICAS];
    for (int i = 0; i < f->n; i++) {
        urls[i] = f->url[i];
    }
    cfg->replicas = urls;
    cfg->n_replicas = (size_t)f->n;
    cfg->connect_timeout_ms = 1000;
    cfg->ping_interval_ms = 200;
    cfg->pong_timeout_ms = 300;
    cfg->queue_timeout_ms = 2000;
    cfg->progress_timeout_ms = 400;
    cfg->heartbeat_timeout_ms = 400;
    cfg->liveness_grace_ms = 0; /* a missed pong is death, unless a case says */
    cfg->attempt_timeout_ms = 5000;
    cfg->breaker.open_ms = 300;
    cfg->breaker.open_max_ms = 2000;
    cfg->breaker.half_open_max_wait_ms = 1000;
}

static void s_progress_listener(s_ctx_t *c)
{
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    pc.port = 0;
    assert_int_equal(sl_progress_spawn(c->rt, &pc, &c->progress, &c->progress_port), 0);
    assert_true(c->progress_port > 0);
}

static void s_start_tools(s_ctx_t *c, const char *service, const char *task, uint64_t attempt,
                          const char *exclude, const char *tools);
static void s_start_resume(s_ctx_t *c, const char *service, const char *task, uint64_t attempt,
                           const char *exclude, const char *tools, const char *resume_from);

static void s_start(s_ctx_t *c, const char *service, const char *task, uint64_t attempt,
                    const char *exclude)
{
    s_start_tools(c, service, task, attempt, exclude, NULL);
}

/* tools: comma-separated names the attempt asks for, NULL = all tools. */
static void s_start_tools(s_ctx_t *c, const char *service, const char *task, uint64_t attempt,
                          const char *exclude, const char *tools)
{
    s_start_resume(c, service, task, attempt, exclude, tools, NULL);
}

/* resume_from: the task's last checkpoint, NULL = none. */
static void s_start_resume(s_ctx_t *c, const char *service, const char *task, uint64_t attempt,
                           const char *exclude, const char *tools, const char *resume_from)
{
    sl_attempt_start_t st = {0};
    st.resume_from = (char *)resume_from;
    st.task_id = (char *)task;
    st.pipeline_id = "p0001";
    st.attempt = attempt;
    st.op = strcmp(service, "generator") == 0 ? "generate" : "static_analyze";
    st.model = "openai_gpt-4";
    st.template_slug = "api_url_shortener";
    st.app_number = 7;
    if (strcmp(service, "dynamic-analyzer") == 0) {
        st.op = "dynamic_analyze";
    }
    if (exclude) {
        assert_int_equal(sl_strs_push(&st.exclude, exclude), 0);
    }
    char list[256];
    snprintf(list, sizeof list, "%s", tools ? tools : "");
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        assert_int_equal(sl_strs_push(&st.tools, t), 0);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_start_encode(&st, &buf, &len), 0);
    sl_strs_clear(&st.exclude);
    sl_strs_clear(&st.tools);
    char to[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(to, sizeof to, service);
    assert_int_equal(sl_port_send(c->owner, to, SL_MSG_ATTEMPT_START, buf, len), 0);
    free(buf);
}

static void s_cancel(s_ctx_t *c, const char *service, const char *task, uint64_t attempt)
{
    sl_attempt_cancel_t m = {(char *)task, attempt};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_cancel_encode(&m, &buf, &len), 0);
    char to[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(to, sizeof to, service);
    assert_int_equal(sl_port_send(c->owner, to, SL_MSG_ATTEMPT_CANCEL, buf, len), 0);
    free(buf);
}

/* Waits for the next ATTEMPT_RESULT (counting progress on the way). */
/* The partial result (JSON) the last ATTEMPT_PROGRESS that s_result saw
   carried, "" none. */
static char s_last_partial[512];

static void s_result(s_ctx_t *c, int64_t timeout_ms, sl_attempt_result_t *out, int *progress)
{
    s_last_partial[0] = '\0';
    int64_t deadline = ep_test_ms() + timeout_ms;
    memset(out, 0, sizeof *out);
    while (ep_test_ms() < deadline) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->owner, 50, &m) != 0) {
            continue;
        }
        if (m->type == SL_MSG_ATTEMPT_PROGRESS) {
            if (progress) {
                (*progress)++;
            }
            sl_attempt_progress_t p = {0};
            if (sl_attempt_progress_decode(m->body, m->body_len, &p) == 0 && p.partial.len) {
                snprintf(s_last_partial, sizeof s_last_partial, "%.*s", (int)p.partial.len,
                         (const char *)p.partial.ptr);
            }
            sl_attempt_progress_clear(&p);
        } else if (m->type == SL_MSG_ATTEMPT_RESULT) {
            int rc = sl_attempt_result_decode(m->body, m->body_len, out);
            sl_msg_destroy(&m);
            assert_int_equal(rc, 0);
            /* The error gives the cause; the outcome is its own field (the
               pipeline prefixes its name once). */
            const char *name = sl_outcome_name((int)out->outcome);
            size_t nl = strlen(name);
            if (out->error && strncmp(out->error, name, nl) == 0 && out->error[nl] == ':') {
                fail_msg("error repeats the outcome: %s", out->error);
            }
            return;
        }
        sl_msg_destroy(&m);
    }
    fail_msg("no ATTEMPT_RESULT within %lld ms", (long long)timeout_ms);
}

/* Status of the endpoint: breaker state of replica url (or NULL) and one
   counter (or NULL). */
static void s_status(s_ctx_t *c, const char *service, const char *url, char *breaker, size_t bsize,
                     const char *counter, uint64_t *value)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, service, 3000, &r);
    if (url && breaker) {
        breaker[0] = '\0';
        sl_mp_reader_t rd;
        uint32_t n = 0;
        assert_int_equal(sl_codec_items(&r.replicas, &rd, &n), 0);
        for (uint32_t i = 0; i < n; i++) {
            sl_replica_status_t rs;
            assert_int_equal(sl_replica_status_next(&rd, &rs), 0);
            if (strcmp(rs.url, url) == 0) {
                assert_non_null(rs.breaker);
                snprintf(breaker, bsize, "%s", rs.breaker);
            }
            sl_replica_status_clear(&rs);
        }
    }
    if (counter && value) {
        *value = 0;
        assert_int_equal(sl_mp_map_get_uint(r.counters.ptr, r.counters.len, counter, value), 0);
    }
    sl_endpoint_status_reply_clear(&r);
}

/* The tools endpoint.<service> lists for replica url: "a,b", "" for none,
   "?" while unknown (nil). */
static void s_replica_tools(s_ctx_t *c, const char *service, const char *url, char *out,
                            size_t size)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, service, 3000, &r);
    snprintf(out, size, "not listed");
    sl_mp_reader_t rd;
    uint32_t n = 0;
    assert_int_equal(sl_codec_items(&r.replicas, &rd, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
        sl_replica_status_t rs;
        assert_int_equal(sl_replica_status_next(&rd, &rs), 0);
        if (strcmp(rs.url, url) == 0) {
            if (!rs.tools_known) {
                snprintf(out, size, "?");
            } else {
                out[0] = '\0';
                for (size_t j = 0; j < rs.tools.n; j++) {
                    size_t off = strlen(out);
                    snprintf(out + off, size - off, "%s%s", j ? "," : "", rs.tools.v[j]);
                }
            }
        }
        sl_replica_status_clear(&rs);
    }
    sl_endpoint_status_reply_clear(&r);
}

/* Polls until the endpoint lists want as the replica's tools. */
static void s_wait_tools(s_ctx_t *c, const char *service, const char *url, const char *want)
{
    char got[256] = "";
    int64_t deadline = ep_test_ms() + 5000;
    while (ep_test_ms() < deadline) {
        s_replica_tools(c, service, url, got, sizeof got);
        if (strcmp(got, want) == 0) {
            return;
        }
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->owner, 20, &m) == 0) {
            sl_msg_destroy(&m); /* bounded poll interval */
        }
    }
    fail_msg("%s: tools '%s', want '%s'", url, got, want);
}

/* Polls the status until the replica's breaker is in state want. */
static bool s_wait_breaker(s_ctx_t *c, const char *service, const char *url, const char *want,
                           int64_t timeout_ms)
{
    int64_t deadline = ep_test_ms() + timeout_ms;
    char b[32];
    while (ep_test_ms() < deadline) {
        s_status(c, service, url, b, sizeof b, NULL, NULL);
        if (strcmp(b, want) == 0) {
            return true;
        }
        sl_msg_t *m = NULL;
        if (sl_port_recv(c->owner, 20, &m) == 0) {
            sl_msg_destroy(&m); /* bounded poll interval */
        }
    }
    return false;
}

/* Starts the fleet (gateway may be NULL) and fills cfg for the static
   analyzer over its replicas; the caller adjusts cfg, then spawns. */
static void s_fleet_cfg(s_ctx_t *c, const char *gateway, const char *const *specs, int n,
                        sl_endpoint_config_t *cfg)
{
    s_fleet_start(&c->fleet, gateway, specs, n);
    s_cfg(cfg, "static-analyzer", &c->fleet);
}

/* The progress listener, and a one-replica fleet that pushes to it. */
static void s_fleet_cfg_progress(s_ctx_t *c, const char *spec, sl_endpoint_config_t *cfg)
{
    s_progress_listener(c);
    char gw[64];
    snprintf(gw, sizeof gw, "ws://127.0.0.1:%d", c->progress_port);
    const char *specs[] = {spec};
    s_fleet_cfg(c, gw, specs, 1, cfg);
}

static void s_spawn(s_ctx_t *c, const sl_endpoint_config_t *cfg)
{
    assert_int_equal(sl_endpoint_spawn(c->rt, cfg, &c->ep), 0);
}

/* One attempt at the static analyzer; its result in r (caller clears). */
static void s_attempt(s_ctx_t *c, const char *task, int64_t timeout_ms, sl_attempt_result_t *r)
{
    s_start(c, "static-analyzer", task, 1, NULL);
    s_result(c, timeout_ms, r, NULL);
}

/* One attempt that must end with outcome. */
static void s_expect(s_ctx_t *c, const char *task, int64_t timeout_ms, int outcome)
{
    sl_attempt_result_t r;
    s_attempt(c, task, timeout_ms, &r);
    assert_int_equal(r.outcome, outcome);
    sl_attempt_result_clear(&r);
}

/* n attempts, tasks p0001-t<first>..., each ending with outcome. */
static void s_expect_n(s_ctx_t *c, int first, int n, int outcome)
{
    for (int i = 0; i < n; i++) {
        char task[32];
        snprintf(task, sizeof task, "p0001-t%04d", first + i);
        s_expect(c, task, 5000, outcome);
    }
}

/* Polls one status counter until it reaches want or timeout_ms passes;
   returns the last value (the caller asserts on it). */
static uint64_t s_wait_counter(s_ctx_t *c, const char *counter, uint64_t want, int64_t timeout_ms)
{
    uint64_t value = 0;
    int64_t deadline = ep_test_ms() + timeout_ms;
    while (value < want && ep_test_ms() < deadline) {
        s_status(c, "static-analyzer", NULL, NULL, 0, counter, &value);
    }
    return value;
}

/* Takes the replica down (it refuses connections) or brings it back. */
static void s_replica_set(s_ctx_t *c, const char *url, bool up)
{
    char reply[256], cmd[256];
    snprintf(cmd, sizeof cmd, "%s %s", up ? "up" : "down", url);
    s_control(&c->fleet, cmd, reply, sizeof reply);
}

/* Polls the mock's stats (bounded) until they hold key, e.g.
   "\"requests\":1". */
static void s_wait_stat(s_ctx_t *c, const char *key)
{
    char reply[8192];
    for (int64_t deadline = ep_test_ms() + 3000; ep_test_ms() < deadline;) {
        s_control(&c->fleet, "stats", reply, sizeof reply);
        if (strstr(reply, key)) {
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL); /* the pause between two polls */
    }
    fail_msg("the mock's stats never showed %s: %s", key, reply);
}

/* Until the first replica's last close frame from sluice reads want
   ("CODE reason"). */
static void s_wait_close(s_ctx_t *c, const char *want)
{
    char key[128];
    snprintf(key, sizeof key, "\"last_close\":\"%s\"", want);
    s_wait_stat(c, key);
}

/* The next event the endpoint sent to the fake store: its topic and a copy
   of its body (caller frees). The endpoint sends one event per STORE_WRITE,
   fire-and-forget. */
static void s_store_event(sl_port_t *store, int64_t timeout_ms, char *topic, size_t tsize,
                          uint8_t **body, size_t *blen)
{
    sl_msg_t *m = NULL;
    if (sl_port_recv(store, timeout_ms, &m) != 0) {
        fail_msg("no event at the store within %lld ms", (long long)timeout_ms);
    }
    assert_int_equal(m->type, SL_MSG_STORE_WRITE);
    assert_false(m->flags & SL_MSG_F_REQUEST);
    sl_store_write_t w = {0};
    assert_int_equal(sl_store_write_decode(m->body, m->body_len, &w), 0);
    sl_msg_destroy(&m);
    assert_int_equal(w.ops.len, 0);
    sl_mp_reader_t rd;
    uint32_t n = 0;
    assert_int_equal(sl_codec_items(&w.events, &rd, &n), 0);
    assert_int_equal(n, 1);
    sl_store_event_t ev;
    assert_int_equal(sl_store_event_next(&rd, &ev), 0);
    snprintf(topic, tsize, "%s", ev.topic);
    *blen = ev.fields.len;
    *body = ev.fields.ptr; /* taken over */
    ev.fields = (sl_bytes_t){0};
    sl_store_event_clear(&ev);
    sl_store_write_clear(&w);
}

static bool s_body_is(const uint8_t *body, size_t blen, const char *key, const char *want)
{
    const char *v;
    size_t vl;
    return sl_mp_map_get_str(body, blen, key, &v, &vl) == 0 && sl_mp_str_eq(v, vl, want);
}

/* endpoint.health {service, replica, healthy, reason}, checked field by field. */
static void s_check_health(const uint8_t *body, size_t blen, const char *url, bool healthy,
                           const char *reason)
{
    bool h = !healthy;
    assert_true(s_body_is(body, blen, "service", "static-analyzer"));
    assert_true(s_body_is(body, blen, "replica", url));
    assert_int_equal(sl_mp_map_get_bool(body, blen, "healthy", &h), 0);
    assert_int_equal(h, healthy);
    if (!s_body_is(body, blen, "reason", reason)) {
        fail_msg("endpoint.health: want reason %s", reason);
    }
}

/* ---- the fault table ------------------------------------------------------ */

/* One replica with one fault plan; one attempt. A row: the case it drives,
   the fault (the mock's replica spec), the protocol, the timeouts the row
   turns down (0 keeps s_cfg's), the outcome expected within max_ms (well
   below the 5 s attempt budget unless that is the point) and, unless NULL,
   the text the error starts with. Adding a fault: one row, one case that
   calls s_fault_case, one line in main. */
typedef struct {
    const char *test; /* the cmocka case that runs this row */
    const char *spec;
    sl_endpoint_protocol_t protocol;
    int attempt_timeout_ms;
    int connect_timeout_ms;
    int outcome;
    int64_t max_ms;
    const char *error;
} s_fault_t;

#define S_LEGACY SL_ENDPOINT_LEGACY
#define S_MUX SL_ENDPOINT_MUX

static const s_fault_t s_faults[] = {
    /* Pings are answered and nothing else: only the attempt budget ends it. */
    {"test_endpoint_fault_hang", "static:127.0.0.1:0:fault=hang", S_LEGACY, 400, 0,
     SL_OUT_ATTEMPT_TIMEOUT, 2000, "no result within 400 ms"},
    /* A wedged process stops answering pings: pong_timeout, not the budget. */
    {"test_endpoint_fault_freeze", "static:127.0.0.1:0:fault=freeze", S_LEGACY, 0, 0,
     SL_OUT_PONG_TIMEOUT, 2000, "no pong within 300 ms"},
    {"test_endpoint_fault_disconnect", "static:127.0.0.1:0:fault=disconnect:latency=50", S_LEGACY,
     0, 0, SL_OUT_TRANSPORT, 2000, "connection closed before a result: "},
    {"test_endpoint_fault_error_frame", "static:127.0.0.1:0:fault=error:latency=20", S_LEGACY, 0, 0,
     SL_OUT_ERROR, 2000, NULL},
    {"test_endpoint_fault_malformed", "static:127.0.0.1:0:fault=malformed:latency=20", S_LEGACY, 0,
     0, SL_OUT_MALFORMED, 2000, "unparseable frame ("},
    {"test_endpoint_fault_refuse", "static:127.0.0.1:0:fault=refuse", S_LEGACY, 0, 0,
     SL_OUT_TRANSPORT, 2000, NULL},
    {"test_endpoint_fault_slow_handshake", "static:127.0.0.1:0:fault=slow:slow=3000", S_LEGACY, 0,
     300, SL_OUT_CONNECT_TIMEOUT, 1500, "no handshake within 300 ms"},
    {"test_endpoint_fault_verdict", "static:127.0.0.1:0:fault=verdict:latency=20", S_LEGACY, 0, 0,
     SL_OUT_VERDICT, 2000, NULL},
    /* An unattributable bad frame ends the attempts on that connection. */
    {"test_endpoint_mux_malformed",
     "static:127.0.0.1:0:proto=mux:fault=malformed:latency=20:heartbeat=50", S_MUX, 0, 0,
     SL_OUT_MALFORMED, 2000, "unparseable frame on the mux connection"},
    {"test_endpoint_mux_disconnect",
     "static:127.0.0.1:0:proto=mux:fault=disconnect:latency=50:heartbeat=50", S_MUX, 0, 0,
     SL_OUT_TRANSPORT, 2000, "connection closed before a result: "},
    {"test_endpoint_mux_error_frame",
     "static:127.0.0.1:0:proto=mux:fault=error:latency=20:heartbeat=50", S_MUX, 0, 0, SL_OUT_ERROR,
     2000, NULL},
    /* The app is bad, not the replica: no breaker count, not retryable. */
    {"test_endpoint_mux_verdict",
     "static:127.0.0.1:0:proto=mux:fault=verdict:latency=20:heartbeat=50", S_MUX, 0, 0,
     SL_OUT_VERDICT, 2000, NULL},
};

/* Runs the row whose test is `test` (the caller's __func__). */
static void s_fault_case(void **state, const char *test)
{
    const s_fault_t *f = NULL;
    for (size_t i = 0; i < sizeof s_faults / sizeof s_faults[0] && !f; i++) {
        if (strcmp(s_faults[i].test, test) == 0) {
            f = &s_faults[i];
        }
    }
    if (!f) {
        fail_msg("%s: no row in s_faults", test);
    }
    s_ctx_t *c = *state;
    const char *specs[] = {f->spec};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.protocol = f->protocol;
    if (f->attempt_timeout_ms) {
        cfg.attempt_timeout_ms = f->attempt_timeout_ms;
    }
    if (f->connect_timeout_ms) {
        cfg.connect_timeout_ms = f->connect_timeout_ms;
    }
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    sl_attempt_result_t r;
    s_attempt(c, "p0001-t0001", 10000, &r);
    int64_t took = ep_test_ms() - t0;
    if ((int)r.outcome != f->outcome) {
        fail_msg("%s: outcome %s (%s), want %s", f->spec, sl_outcome_name((int)r.outcome),
                 r.error ? r.error : "", sl_outcome_name(f->outcome));
    }
    if (took > f->max_ms) {
        fail_msg("%s: took %lld ms, want < %lld", f->spec, (long long)took, (long long)f->max_ms);
    }
    assert_string_equal(r.task_id, "p0001-t0001");
    assert_int_equal(r.attempt, 1);
    assert_non_null(r.replica);
    assert_string_equal(r.replica, c->fleet.url[0]);
    if (f->error && (!r.error || strncmp(r.error, f->error, strlen(f->error)) != 0)) {
        fail_msg("%s: error \"%s\", want \"%s...\"", f->spec, r.error ? r.error : "", f->error);
    }
    /* a timeout names the key that set it, and its value */
    bool timeout = f->outcome == SL_OUT_ATTEMPT_TIMEOUT || f->outcome == SL_OUT_PONG_TIMEOUT ||
                   f->outcome == SL_OUT_CONNECT_TIMEOUT;
    if (timeout && (!r.timeout_key || strncmp(r.timeout_key, "services/static-analyzer/", 25) ||
                    r.timeout_ms <= 0)) {
        fail_msg("%s: timeout_key \"%s\" (%lld ms)", f->spec, r.timeout_key ? r.timeout_key : "",
                 (long long)r.timeout_ms);
    }
    if (!timeout && r.timeout_key) {
        fail_msg("%s: a timeout_key without a timeout: %s", f->spec, r.timeout_key);
    }
    sl_attempt_result_clear(&r);
    if (f->outcome == SL_OUT_ATTEMPT_TIMEOUT) {
        /* an analyzer that still reads is told it was abandoned, and why */
        s_wait_close(c, "4011 attempt_timeout");
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_endpoint_legacy_success(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=20-40"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    s_spawn(c, &cfg);
    sl_attempt_result_t r;
    s_attempt(c, "p0001-t0001", 5000, &r);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    assert_non_null(r.status);
    assert_string_equal(r.status, "success");
    assert_true(r.result.len > 10);
    assert_true(r.result.ptr[0] == '{');
    assert_true(r.ended_ms >= r.started_ms);
    sl_attempt_result_clear(&r);
}

/* resume_from goes to mux analyzers only: a legacy request frame stays
   the fleet's own, whatever checkpoint the task has. */
static void test_endpoint_legacy_sends_no_resume_from(void **state)
{
    s_ctx_t *c = *state;
    char dir[64], record[128];
    assert_int_equal(ttmp_make(dir, sizeof dir, "sl-ep-resume"), 0);
    snprintf(record, sizeof record, "%s/record.jsonl", dir);
    s_record = record;
    const char *specs[] = {"static:127.0.0.1:0:latency=10", "static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    s_record = NULL;
    s_spawn(c, &cfg);
    s_start_resume(c, "static-analyzer", "p0001-t0090", 2, NULL, NULL, "scanning_js:3");
    sl_attempt_result_t r;
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    sl_attempt_result_clear(&r);
    FILE *f = fopen(record, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_non_null(strstr(line, "\"id\":\"p0001-t0090-a2-" /* + the random part */));
        assert_null(strstr(line, "resume_from"));
        n++;
    }
    fclose(f);
    assert_int_equal(n, 1);
    ttmp_remove(dir);
}

static void test_endpoint_fault_hang(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_freeze(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_disconnect(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_error_frame(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_malformed(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_refuse(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_slow_handshake(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_fault_verdict(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_stall_after_progress(void **state)
{
    /* Out-of-band progress arms the stall timer; then silence. */
    s_ctx_t *c = *state;
    sl_endpoint_config_t cfg;
    s_fleet_cfg_progress(c, "static:127.0.0.1:0:fault=stall:progress=50:cid=id:latency=3000", &cfg);
    cfg.progress_timeout_ms = 300;
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    s_start(c, "static-analyzer", "p0001-t0002", 1, NULL);
    sl_attempt_result_t r;
    int progress = 0;
    s_result(c, 5000, &r, &progress);
    assert_int_equal(r.outcome, SL_OUT_PROGRESS_TIMEOUT);
    assert_true(ep_test_ms() - t0 < 2500);
    assert_true(progress >= 1);
    assert_non_null(r.error);
    assert_non_null(strstr(r.error, "no progress for 300 ms"));
    /* which timeout fired, and what the analyzer reported before (a legacy
       push's data is its partial result) */
    assert_string_equal(r.timeout_key, "services/static-analyzer/progress_timeout_s");
    assert_int_equal(r.timeout_ms, 300);
    assert_non_null(strstr(s_last_partial, "\"stage\""));
    sl_attempt_result_clear(&r);
}

static void test_endpoint_slow_analysis_with_progress_survives(void **state)
{
    /* 1.5 s of work, progress every 100 ms, stall timeout 300 ms. */
    s_ctx_t *c = *state;
    sl_endpoint_config_t cfg;
    s_fleet_cfg_progress(c, "static:127.0.0.1:0:progress=100:cid=id:latency=1500", &cfg);
    cfg.progress_timeout_ms = 300;
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    s_start(c, "static-analyzer", "p0001-t0003", 1, NULL);
    sl_attempt_result_t r;
    int progress = 0;
    s_result(c, 8000, &r, &progress);
    int64_t took = ep_test_ms() - t0;
    if (r.outcome != SL_OUT_SUCCESS) {
        fail_msg("outcome %s: %s", sl_outcome_name((int)r.outcome), r.error ? r.error : "");
    }
    assert_true(took >= 1400);
    /* Each of the static analyzer's 10 stages passes at once; repeats of a
       stage are throttled to 2 per second, plus the held-back last one. */
    assert_true(progress >= 2);
    assert_true(progress <= 10 + 2 * (int)(took / 1000 + 1) + 1);
    assert_non_null(r.last_stage);
    sl_attempt_result_clear(&r);
    /* Nothing for this attempt after its result. */
    sl_msg_t *late = NULL;
    if (sl_port_recv(c->owner, 150, &late) == 0) {
        assert_int_not_equal(late->type, SL_MSG_ATTEMPT_PROGRESS);
        sl_msg_destroy(&late);
    }
    /* A push that lands after the result is an unknown id by then; the
       ones before it were matched and forwarded. */
    uint64_t sent = 0;
    s_status(c, "static-analyzer", NULL, NULL, 0, "progress_sent", &sent);
    assert_true(sent >= 2);
}

static void test_endpoint_breaker_opens_and_traffic_moves(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:fault=error:latency=10",
                           "static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    cfg.breaker.open_ms = 60000; /* stays open for the test */
    cfg.breaker.open_max_ms = 60000;
    sl_port_t *store = sl_port_new(c->rt, SL_IDS_STORE); /* plays the store */
    assert_non_null(store);
    s_spawn(c, &cfg);
    int bad = 0, good = 0;
    for (int i = 0; i < 8; i++) {
        char task[32];
        snprintf(task, sizeof task, "p0001-t%04d", i + 10);
        s_start(c, "static-analyzer", task, 1, NULL);
        sl_attempt_result_t r;
        s_result(c, 5000, &r, NULL);
        if (strcmp(r.replica, c->fleet.url[0]) == 0) {
            assert_int_equal(r.outcome, SL_OUT_ERROR);
            bad++;
            assert_true(good == 0); /* never back once it opened */
        } else {
            assert_int_equal(r.outcome, SL_OUT_SUCCESS);
            good++;
        }
        sl_attempt_result_clear(&r);
    }
    /* The faulty one took at most the threshold before its breaker opened. */
    assert_true(bad <= 3);
    assert_true(good >= 5);
    char b[32];
    s_status(c, "static-analyzer", c->fleet.url[0], b, sizeof b, NULL, NULL);
    assert_string_equal(b, "open");
    s_status(c, "static-analyzer", c->fleet.url[1], b, sizeof b, NULL, NULL);
    assert_string_equal(b, "closed");

    /* The transition went to the store as one endpoint.breaker event. */
    char topic[64];
    uint8_t *body = NULL;
    size_t blen = 0;
    s_store_event(store, 2000, topic, sizeof topic, &body, &blen);
    assert_string_equal(topic, "endpoint.breaker");
    assert_true(s_body_is(body, blen, "replica", c->fleet.url[0]));
    assert_true(s_body_is(body, blen, "from", "closed"));
    assert_true(s_body_is(body, blen, "to", "open"));
    assert_true(s_body_is(body, blen, "reason", "consecutive_failures"));
    assert_true(s_body_is(body, blen, "service", "static-analyzer"));
    free(body);
    sl_port_destroy(&store);
}

static void test_endpoint_health_events(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.queue_timeout_ms = 200;
    c->store = sl_port_new(c->rt, SL_IDS_STORE); /* plays the store */
    assert_non_null(c->store);
    s_spawn(c, &cfg);
    const char *url = c->fleet.url[0];
    /* A healthy replica is not announced: only changes are events. */
    s_expect(c, "p0001-t0080", 5000, SL_OUT_SUCCESS);
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_recv(c->store, 100, &m), SL_ETIMEOUT);

    char topic[64];
    uint8_t *body = NULL;
    size_t blen = 0;
    s_replica_set(c, url, false);
    s_expect_n(c, 81, 3, SL_OUT_TRANSPORT);
    /* The breaker opens: its event, then the replica turns unhealthy. */
    s_store_event(c->store, 2000, topic, sizeof topic, &body, &blen);
    assert_string_equal(topic, "endpoint.breaker");
    assert_true(s_body_is(body, blen, "to", "open"));
    free(body);
    s_store_event(c->store, 2000, topic, sizeof topic, &body, &blen);
    assert_string_equal(topic, "endpoint.health");
    s_check_health(body, blen, url, false, "consecutive_failures");
    free(body);
    /* Still down: the probe fails and the breaker re-opens; the replica was
       unhealthy already, so no second endpoint.health. */
    bool probe_failed = false;
    while (!probe_failed) {
        s_store_event(c->store, 3000, topic, sizeof topic, &body, &blen);
        assert_string_equal(topic, "endpoint.breaker");
        probe_failed = s_body_is(body, blen, "reason", "probe_failed");
        free(body);
    }
    /* Back up: the next probe closes the breaker, the replica is healthy. */
    s_replica_set(c, url, true);
    bool closed = false;
    for (;;) {
        s_store_event(c->store, 5000, topic, sizeof topic, &body, &blen);
        if (strcmp(topic, "endpoint.health") == 0) {
            break;
        }
        assert_string_equal(topic, "endpoint.breaker");
        closed = s_body_is(body, blen, "to", "closed");
        free(body);
    }
    assert_true(closed); /* right after the breaker event that closed it */
    s_check_health(body, blen, url, true, "probe_succeeded");
    free(body);
    assert_int_equal(sl_port_recv(c->store, 100, &m), SL_ETIMEOUT);
}

static void test_endpoint_half_open_probe_closes(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.queue_timeout_ms = 200;
    s_spawn(c, &cfg);
    s_replica_set(c, c->fleet.url[0], false);
    s_expect_n(c, 20, 3, SL_OUT_TRANSPORT);
    char b[32];
    s_status(c, "static-analyzer", c->fleet.url[0], b, sizeof b, NULL, NULL);
    assert_string_equal(b, "open");
    /* While open, an attempt waits in the queue and times out there. */
    s_expect(c, "p0001-t0030", 3000, SL_OUT_QUEUE_TIMEOUT);
    /* Still down: the probe fails and the breaker re-opens (not closed). */
    assert_true(s_wait_counter(c, "probes", 1, 3000) >= 1);
    s_status(c, "static-analyzer", c->fleet.url[0], b, sizeof b, NULL, NULL);
    assert_string_not_equal(b, "closed");
    /* the probe also learns the replica's tools, which changed meanwhile */
    char reply[256], cmd[256];
    snprintf(cmd, sizeof cmd, "tools %s bandit,snyk", c->fleet.url[0]);
    s_control(&c->fleet, cmd, reply, sizeof reply);
    s_replica_set(c, c->fleet.url[0], true);
    assert_true(s_wait_breaker(c, "static-analyzer", c->fleet.url[0], "closed", 5000));
    s_wait_tools(c, "static-analyzer", c->fleet.url[0], "bandit,snyk");
    s_expect(c, "p0001-t0031", 3000, SL_OUT_SUCCESS);
}

/* Each replica's tools come from its health_response (asked at start):
   a task naming a tool goes only to replicas that list it, and one that no
   replica can run fails at once, naming the tool and every replica's
   tools, without touching a breaker. */
static void test_endpoint_tools_choose_replica(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10:tools=bandit,pylint",
                           "static:127.0.0.1:0:latency=10:tools=bandit,snyk"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    s_spawn(c, &cfg);
    s_wait_tools(c, "static-analyzer", c->fleet.url[0], "bandit,pylint");
    s_wait_tools(c, "static-analyzer", c->fleet.url[1], "bandit,snyk");
    for (int i = 0; i < 4; i++) {
        char task[32];
        snprintf(task, sizeof task, "p0001-t%04d", 40 + i);
        s_start_tools(c, "static-analyzer", task, 1, NULL, i % 2 ? "SNYK" : "snyk,bandit");
        sl_attempt_result_t r;
        s_result(c, 5000, &r, NULL);
        assert_int_equal(r.outcome, SL_OUT_SUCCESS);
        assert_string_equal(r.replica, c->fleet.url[1]);
        assert_int_equal(r.warnings.n, 0);
        sl_attempt_result_clear(&r);
    }
    /* the other replica still takes what it has */
    s_start_tools(c, "static-analyzer", "p0001-t0050", 1, c->fleet.url[1], "pylint");
    sl_attempt_result_t r;
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    assert_string_equal(r.replica, c->fleet.url[0]);
    sl_attempt_result_clear(&r);

    int64_t t0 = ep_test_ms();
    s_start_tools(c, "static-analyzer", "p0001-t0051", 1, NULL, "bandit,nikto");
    s_result(c, 5000, &r, NULL);
    assert_true(ep_test_ms() - t0 < 1000);
    assert_int_equal(r.outcome, SL_OUT_VERDICT);
    assert_null(r.replica);
    char want[512];
    snprintf(want, sizeof want,
             "no replica of static-analyzer has tool 'nikto' (%s: bandit, pylint; %s: bandit, "
             "snyk)",
             c->fleet.url[0], c->fleet.url[1]);
    assert_string_equal(r.error, want);
    sl_attempt_result_clear(&r);
    /* every tool exists somewhere, but no replica has both */
    s_start_tools(c, "static-analyzer", "p0001-t0052", 1, NULL, "pylint,snyk");
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_VERDICT);
    assert_int_equal(strncmp(r.error, "no replica of static-analyzer has all of the tools", 50), 0);
    sl_attempt_result_clear(&r);
    char b[32];
    s_status(c, "static-analyzer", c->fleet.url[0], b, sizeof b, NULL, NULL);
    assert_string_equal(b, "closed");
    uint64_t probes = 9;
    s_status(c, "static-analyzer", NULL, NULL, 0, "probes", &probes);
    assert_int_equal(probes, 0); /* asking for tools is no breaker probe */
}

/* A replica that was down when the endpoint asked for its tools is asked
   again once it answers an analysis. */
static void test_endpoint_tools_asked_again(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10:tools=bandit,snyk"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    s_replica_set(c, c->fleet.url[0], false);
    s_spawn(c, &cfg);
    char got[64];
    s_replica_tools(c, "static-analyzer", c->fleet.url[0], got, sizeof got);
    assert_string_equal(got, "?");
    s_replica_set(c, c->fleet.url[0], true);
    s_expect(c, "p0001-t0070", 5000, SL_OUT_SUCCESS);
    s_wait_tools(c, "static-analyzer", c->fleet.url[0], "bandit,snyk");
    /* asking is no breaker probe */
    uint64_t probes = 9;
    s_status(c, "static-analyzer", NULL, NULL, 0, "probes", &probes);
    assert_int_equal(probes, 0);
    char b[32];
    s_status(c, "static-analyzer", c->fleet.url[0], b, sizeof b, NULL, NULL);
    assert_string_equal(b, "closed");
}

/* What a result says about the tools: a partial result and requested tools
   that did not run are warnings on a success; none of them ran (the
   replica lost the tool after it said it had it) is a verdict. */
static void test_endpoint_tools_warnings(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"dynamic:127.0.0.1:0:latency=10:tools=curl,nmap,zap:partial_app=3"};
    s_fleet_start(&c->fleet, NULL, specs, 1);
    sl_endpoint_config_t cfg;
    s_cfg(&cfg, "dynamic-analyzer", &c->fleet);
    s_spawn(c, &cfg);
    const char *url = c->fleet.url[0];
    s_wait_tools(c, "dynamic-analyzer", url, "curl,nmap,zap");
    char reply[256], cmd[256];
    snprintf(cmd, sizeof cmd, "tools %s curl,zap", url);
    s_control(&c->fleet, cmd, reply, sizeof reply);
    assert_int_equal(strncmp(reply, "ok", 2), 0);

    sl_attempt_result_t r;
    s_start_tools(c, "dynamic-analyzer", "p0001-t0060", 1, NULL, "zap,nmap");
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    assert_int_equal(r.warnings.n, 1);
    assert_string_equal(r.warnings.v[0], "requested tools did not run: nmap (not_available)");
    assert_true(r.result.len > 0);
    sl_attempt_result_clear(&r);

    s_start_tools(c, "dynamic-analyzer", "p0001-t0061", 1, NULL, "nmap");
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_VERDICT);
    assert_string_equal(r.error, "none of the requested tools ran: nmap (not_available)");
    assert_true(r.result.len > 0); /* the frame still goes to the owner */
    sl_attempt_result_clear(&r);

    /* app 3: the replica answers "partial" */
    sl_attempt_start_t st = {0};
    st.task_id = "p0001-t0062";
    st.pipeline_id = "p0001";
    st.attempt = 1;
    st.op = "dynamic_analyze";
    st.model = "m";
    st.app_number = 3;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_start_encode(&st, &buf, &len), 0);
    assert_int_equal(
        sl_port_send(c->owner, "endpoint.dynamic-analyzer", SL_MSG_ATTEMPT_START, buf, len), 0);
    free(buf);
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_PARTIAL_SUCCESS);
    assert_int_equal(r.warnings.n, 1);
    assert_string_equal(r.warnings.v[0], "partial result (partial)");
    sl_attempt_result_clear(&r);
    char b[32];
    s_status(c, "dynamic-analyzer", url, b, sizeof b, NULL, NULL);
    assert_string_equal(b, "closed");
}

static void test_endpoint_retry_goes_elsewhere(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10", "static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    s_spawn(c, &cfg);
    for (int i = 0; i < 4; i++) {
        char task[32];
        snprintf(task, sizeof task, "p0001-t%04d", i + 40);
        s_start(c, "static-analyzer", task, 1, NULL);
        sl_attempt_result_t r1, r2;
        s_result(c, 5000, &r1, NULL);
        assert_non_null(r1.replica);
        s_start(c, "static-analyzer", task, 2, r1.replica);
        s_result(c, 5000, &r2, NULL);
        assert_int_equal(r2.attempt, 2);
        assert_non_null(r2.replica);
        assert_string_not_equal(r1.replica, r2.replica);
        sl_attempt_result_clear(&r1);
        sl_attempt_result_clear(&r2);
    }
}

static void test_endpoint_bulkhead_and_queue(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=600"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.max_in_flight = 1;
    cfg.queue_max = 1;
    cfg.queue_timeout_ms = 250;
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    s_start(c, "static-analyzer", "p0001-t0050", 1, NULL); /* runs */
    s_start(c, "static-analyzer", "p0001-t0051", 1, NULL); /* waits */
    s_start(c, "static-analyzer", "p0001-t0052", 1, NULL); /* queue full */
    sl_attempt_result_t r;
    s_result(c, 3000, &r, NULL);
    assert_string_equal(r.task_id, "p0001-t0052");
    assert_int_equal(r.outcome, SL_OUT_REJECTED);
    assert_true(ep_test_ms() - t0 < 200);
    sl_attempt_result_clear(&r);
    s_result(c, 3000, &r, NULL);
    assert_string_equal(r.task_id, "p0001-t0051");
    assert_int_equal(r.outcome, SL_OUT_QUEUE_TIMEOUT);
    assert_null(r.replica);
    sl_attempt_result_clear(&r);
    s_result(c, 3000, &r, NULL);
    assert_string_equal(r.task_id, "p0001-t0050");
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    sl_attempt_result_clear(&r);
    uint64_t rejected = 0;
    s_status(c, "static-analyzer", NULL, NULL, 0, "rejected", &rejected);
    assert_int_equal(rejected, 1);
}

/* ENDPOINT_RECONFIGURE (sluice_reload) with urls; the reply in out
   (caller clears). */
static void s_reconfigure(s_ctx_t *c, const char *const *urls, size_t n,
                          sl_endpoint_reconfigure_reply_t *out)
{
    sl_endpoint_reconfigure_t m = {.urls = {.v = (char **)urls, .n = n}, .failure_threshold = 5};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_endpoint_reconfigure_encode(&m, &buf, &len), 0);
    sl_msg_t *rep = NULL;
    assert_int_equal(sl_port_request(c->owner, "endpoint.static-analyzer",
                                     SL_MSG_ENDPOINT_RECONFIGURE, buf, len, 3000, &rep),
                     0);
    free(buf);
    *out = (sl_endpoint_reconfigure_reply_t){0};
    assert_int_equal(sl_endpoint_reconfigure_reply_decode(rep->body, rep->body_len, out), 0);
    sl_msg_destroy(&rep);
}

/* The replica URLs in ENDPOINT_STATUS, joined by ",". */
static void s_replica_urls(s_ctx_t *c, char *out, size_t size)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, "static-analyzer", 3000, &r);
    sl_mp_reader_t rd;
    uint32_t n = 0;
    assert_int_equal(sl_codec_items(&r.replicas, &rd, &n), 0);
    out[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        sl_replica_status_t rs;
        assert_int_equal(sl_replica_status_next(&rd, &rs), 0);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? "," : "", rs.url);
        sl_replica_status_clear(&rs);
    }
    sl_endpoint_status_reply_clear(&r);
}

/* A reload swaps replicas under running work: the attempt on the removed
   replica ends as usual, no new attempt goes there even when it is free,
   the new replica takes the work; a bad list changes nothing. */
static void test_endpoint_reconfigure_replicas(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=400", "static:127.0.0.1:0:latency=400"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    cfg.n_replicas = 1; /* only A at first */
    cfg.max_in_flight = 1;
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    const char *a = c->fleet.url[0], *b = c->fleet.url[1];
    s_start(c, "static-analyzer", "p0001-t0061", 1, NULL); /* runs on A */
    char urls[512];
    s_replica_urls(c, urls, sizeof urls); /* t0061 was dispatched before this */

    sl_endpoint_reconfigure_reply_t rep;
    const char *only_b[] = {b};
    s_reconfigure(c, only_b, 1, &rep);
    assert_null(rep.error);
    assert_int_equal(rep.added, 1);
    assert_int_equal(rep.retired, 1);
    sl_endpoint_reconfigure_reply_clear(&rep);
    s_replica_urls(c, urls, sizeof urls);
    assert_string_equal(urls, b);

    s_start(c, "static-analyzer", "p0001-t0062", 1, NULL); /* B */
    s_start(c, "static-analyzer", "p0001-t0063", 1, NULL); /* waits for B, not A */
    for (int i = 0; i < 3; i++) {
        sl_attempt_result_t r;
        s_result(c, 5000, &r, NULL);
        assert_int_equal(r.outcome, SL_OUT_SUCCESS);
        assert_non_null(r.replica);
        if (strcmp(r.task_id, "p0001-t0061") == 0) {
            assert_string_equal(r.replica, a); /* ended as usual */
        } else {
            assert_string_equal(r.replica, b);
        }
        sl_attempt_result_clear(&r);
    }

    /* refused as a whole */
    const char *bad[] = {b, "http://not-a-replica"};
    s_reconfigure(c, bad, 2, &rep);
    assert_non_null(rep.error);
    assert_int_equal(rep.added, 0);
    sl_endpoint_reconfigure_reply_clear(&rep);
    s_replica_urls(c, urls, sizeof urls);
    assert_string_equal(urls, b);

    /* A comes back: a retired replica is revived, not added twice */
    const char *both[] = {a, b};
    s_reconfigure(c, both, 2, &rep);
    assert_null(rep.error);
    assert_int_equal(rep.added, 1);
    assert_int_equal(rep.retired, 0);
    sl_endpoint_reconfigure_reply_clear(&rep);
    s_replica_urls(c, urls, sizeof urls);
    char want[512];
    snprintf(want, sizeof want, "%s,%s", a, b);
    assert_string_equal(urls, want);
}

static void test_endpoint_cancel(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=3000"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    /* The start's health_check is closed first, so that the attempt's
       close is the mock's last one. */
    s_wait_close(c, "1000 success");
    s_start(c, "static-analyzer", "p0001-t0060", 1, NULL);
    /* Cancel once it is on the wire: the status shows it in flight. */
    s_wait_counter(c, "started", 1, 2000);
    s_wait_stat(c, "\"requests\":1"); /* the analyzer has it */
    int64_t t0 = ep_test_ms();
    s_cancel(c, "static-analyzer", "p0001-t0060", 1);
    sl_attempt_result_t r;
    s_result(c, 2000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_CANCELLED);
    assert_true(ep_test_ms() - t0 < 500);
    sl_attempt_result_clear(&r);
    /* The analyzer is told the attempt was abandoned, and why. */
    s_wait_close(c, "4013 cancelled");
    /* A second cancel for a finished attempt gets nothing. */
    s_cancel(c, "static-analyzer", "p0001-t0060", 1);
    sl_msg_t *m = NULL;
    if (sl_port_recv(c->owner, 200, &m) == 0) {
        assert_int_not_equal(m->type, SL_MSG_ATTEMPT_RESULT);
        sl_msg_destroy(&m);
    }
    uint64_t cancelled = 0;
    s_status(c, "static-analyzer", NULL, NULL, 0, "cancelled", &cancelled);
    assert_int_equal(cancelled, 1);
}

static void test_endpoint_shutdown_answers_live_attempts(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:fault=hang"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.max_in_flight = 1;
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    s_start(c, "static-analyzer", "p0001-t0700", 1, NULL); /* running */
    s_start(c, "static-analyzer", "p0001-t0701", 1, NULL); /* queued */
    s_wait_counter(c, "started", 2, 3000);
    sl_actor_destroy(&c->ep);
    /* Both still get their one result: interrupted, retryable. */
    for (int i = 0; i < 2; i++) {
        sl_attempt_result_t r;
        s_result(c, 2000, &r, NULL);
        assert_int_equal(r.outcome, SL_OUT_INTERRUPTED);
        assert_true(sl_outcome_retryable((int)r.outcome));
        sl_attempt_result_clear(&r);
    }
}

static void test_endpoint_unknown_progress_counted(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    s_spawn(c, &cfg);
    const char *ids[] = {"", "nobody-a1", "p0001-t9999-a1"};
    for (size_t i = 0; i < 3; i++) {
        sl_progress_push_t p = {0};
        p.correlation_id = (char *)ids[i];
        p.pct = -1;
        uint8_t *buf;
        size_t len;
        assert_int_equal(sl_progress_push_encode(&p, &buf, &len), 0);
        assert_int_equal(
            sl_port_send(c->owner, "endpoint.static-analyzer", SL_MSG_PROGRESS_PUSH, buf, len), 0);
        free(buf);
    }
    /* Garbage bodies are dropped too. */
    assert_int_equal(
        sl_port_send(c->owner, "endpoint.static-analyzer", SL_MSG_PROGRESS_PUSH, "\xc1", 1), 0);
    assert_int_equal(s_wait_counter(c, "unknown_progress", 3, 2000), 3);
    /* The empty id is no id at all: a push without one that nothing
       attributes (no live attempt, no service named) is unattributed. */
    assert_int_equal(s_wait_counter(c, "pushes_unattributed", 1, 2000), 1);
}

/* The listener routes by service and counts what it cannot use; a test
   client sends through its own sl_wsio with this test's port as owner. */
static void test_endpoint_progress_listener_routes_and_counts(void **state)
{
    s_ctx_t *c = *state;
    s_progress_listener(c);
    const char *specs[] = {"static:127.0.0.1:0:latency=10"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    s_spawn(c, &cfg);
    sl_wsio_opts_t o = {0};
    o.owner = "owner";
    o.listen_port = SL_WSIO_NO_LISTEN;
    sl_wsio_t *cli = sl_wsio_new(c->rt, &o);
    assert_non_null(cli);
    assert_int_equal(sl_wsio_start(cli), 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", c->progress_port);
    assert_int_equal(sl_wsio_connect(cli, 1, url), 0);
    const char *frames[] = {
        "{\"type\":\"progress_update\",\"correlation_id\":\"x-a1\",\"stage\":\"s\","
        "\"message\":\"m\",\"service\":\"static-analyzer\",\"data\":{\"pct\":5}}",
        "{\"type\":\"progress_update\",\"correlation_id\":\"\",\"service\":\"no-such\"}",
        "not json at all {{{",
        "{\"type\":\"status_update\"}",
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(sl_wsio_send(cli, 1, frames[i], strlen(frames[i])), 0);
    }
    assert_int_equal(s_wait_counter(c, "unknown_progress", 1, 3000), 1);
    /* The listener's own counters. */
    uint64_t bad = 0, unknown_svc = 0, routed = 0;
    int64_t deadline = ep_test_ms() + 3000;
    while ((bad < 2 || unknown_svc < 1) && ep_test_ms() < deadline) {
        sl_endpoint_status_reply_t r;
        ep_test_status_of(c->owner, SL_IDS_PROGRESS, 2000, &r);
        sl_mp_map_get_uint(r.counters.ptr, r.counters.len, "bad_frames", &bad);
        sl_mp_map_get_uint(r.counters.ptr, r.counters.len, "unknown_service", &unknown_svc);
        sl_mp_map_get_uint(r.counters.ptr, r.counters.len, "routed", &routed);
        sl_endpoint_status_reply_clear(&r);
    }
    assert_int_equal(bad, 2);
    assert_int_equal(unknown_svc, 1);
    assert_int_equal(routed, 1);
    sl_wsio_destroy(&cli);
}

static void s_tls_paths(char *ca, char *cert, char *key, size_t size, const char *which)
{
    const char *sd = getenv("SLUICE_SOURCE_DIR");
    snprintf(ca, size, "%s/tests/data/tls/ca.pem", sd ? sd : ".");
    snprintf(cert, size, "%s/tests/data/tls/%s.pem", sd ? sd : ".", which);
    snprintf(key, size, "%s/tests/data/tls/%s.key", sd ? sd : ".", which);
}

static void s_wss_case(void **state, const char *which, int want)
{
    s_ctx_t *c = *state;
    char ca[512], cert[512], key[512], spec[1200];
    s_tls_paths(ca, cert, key, sizeof ca, which);
    snprintf(spec, sizeof spec, "static:127.0.0.1:0:latency=10:tls=%s,%s", cert, key);
    const char *specs[] = {spec};
    s_fleet_start(&c->fleet, NULL, specs, 1);
    assert_true(strncmp(c->fleet.url[0], "wss://", 6) == 0);
    sl_endpoint_config_t cfg;
    s_cfg(&cfg, "static-analyzer", &c->fleet);
    cfg.ca_file = ca;
    s_spawn(c, &cfg);
    sl_attempt_result_t r;
    s_attempt(c, "p0001-t0070", 5000, &r);
    if ((int)r.outcome != want) {
        fail_msg("wss %s: %s (%s)", which, sl_outcome_name((int)r.outcome), r.error ? r.error : "");
    }
    sl_attempt_result_clear(&r);
}

static void test_endpoint_wss_trusted(void **state)
{
    s_wss_case(state, "server", SL_OUT_SUCCESS);
}

static void test_endpoint_wss_untrusted_refused(void **state)
{
    s_wss_case(state, "untrusted", SL_OUT_TRANSPORT);
}

static void test_endpoint_mux_many_and_stall(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:proto=mux:latency=20-60:heartbeat=50",
                           "static:127.0.0.1:0:proto=mux:fault=stall:latency=5000:heartbeat=0:"
                           "partial=on"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    cfg.protocol = SL_ENDPOINT_MUX;
    cfg.n_replicas = 1; /* healthy one first */
    cfg.max_in_flight = 8;
    s_spawn(c, &cfg);
    for (int i = 0; i < 20; i++) {
        char task[32];
        snprintf(task, sizeof task, "p0001-t%04d", i + 100);
        s_start(c, "static-analyzer", task, 1, NULL);
    }
    for (int i = 0; i < 20; i++) {
        sl_attempt_result_t r;
        s_result(c, 5000, &r, NULL);
        if (r.outcome != SL_OUT_SUCCESS) {
            fail_msg("mux %s: %s (%s)", r.task_id, sl_outcome_name((int)r.outcome),
                     r.error ? r.error : "");
        }
        sl_attempt_result_clear(&r);
    }
    sl_actor_destroy(&c->ep);
    /* The stalling replica: the stall timer runs from the start on mux. */
    cfg.replicas = (const char *const *)NULL;
    const char *urls[] = {c->fleet.url[1]};
    cfg.replicas = urls;
    cfg.n_replicas = 1;
    cfg.heartbeat_timeout_ms = 300;
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    sl_attempt_result_t r;
    s_attempt(c, "p0001-t0200", 5000, &r);
    assert_int_equal(r.outcome, SL_OUT_PROGRESS_TIMEOUT);
    assert_true(ep_test_ms() - t0 < 2000);
    assert_string_equal(r.timeout_key, "services/static-analyzer/heartbeat_timeout_s");
    assert_int_equal(r.timeout_ms, 300);
    assert_non_null(strstr(s_last_partial, "\"stages_done\":")); /* the mux frame's partial */
    sl_attempt_result_clear(&r);
}

static void test_endpoint_mux_malformed(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_mux_disconnect(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_mux_error_frame(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_mux_verdict(void **state)
{
    s_fault_case(state, __func__);
}

static void test_endpoint_generator(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"generator:127.0.0.1:0:latency=20"};
    s_fleet_start(&c->fleet, NULL, specs, 1);
    sl_endpoint_config_t cfg;
    s_cfg(&cfg, "generator", &c->fleet);
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    s_start(c, "generator", "p0001-t0500", 1, NULL);
    sl_attempt_result_t r;
    s_result(c, 5000, &r, NULL);
    if (r.outcome != SL_OUT_SUCCESS) {
        fail_msg("generate: %s (%s)", sl_outcome_name((int)r.outcome), r.error ? r.error : "");
    }
    assert_true(r.app_number > 0);
    assert_non_null(r.status);
    assert_string_equal(r.status, "success");
    sl_attempt_result_clear(&r);
}

static void test_endpoint_mux_cancel(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:proto=mux:latency=3000:heartbeat=50"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.protocol = SL_ENDPOINT_MUX;
    s_spawn(c, &cfg);
    s_start(c, "static-analyzer", "p0001-t0300", 1, NULL);
    s_cancel(c, "static-analyzer", "p0001-t0300", 1);
    sl_attempt_result_t r;
    s_result(c, 2000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_CANCELLED);
    sl_attempt_result_clear(&r);
    /* The connection stays usable for the next attempt. */
    s_expect(c, "p0001-t0301", 5000, SL_OUT_SUCCESS);
}

/* Every timeout runs on the runtime clock: with a manual clock nothing
   expires until the test advances it, then exactly what is due does. */
static void test_endpoint_manual_clock_timeouts(void **state)
{
    s_ctx_t *c = *state;
    sl_port_destroy(&c->owner);
    sl_rt_destroy(&c->rt);
    sl_clock_t *clock = sl_clock_new_manual(1000, 1700000000000);
    assert_non_null(clock);
    c->rt = sl_rt_new(NULL, clock);
    assert_non_null(c->rt);
    c->owner = sl_port_new(c->rt, "owner");
    assert_non_null(c->owner);
    const char *specs[] = {"static:127.0.0.1:0:fault=hang"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.max_in_flight = 1;
    cfg.queue_timeout_ms = 5000;
    cfg.attempt_timeout_ms = 60000;
    cfg.connect_timeout_ms = 60000;
    cfg.ping_interval_ms = 600000;
    cfg.progress_timeout_ms = 0;
    s_spawn(c, &cfg);
    s_start(c, "static-analyzer", "p0001-t0600", 1, NULL); /* hangs on the replica */
    s_start(c, "static-analyzer", "p0001-t0601", 1, NULL); /* waits in the queue */
    assert_int_equal(s_wait_counter(c, "started", 2, 3000), 2);
    /* Real time passes, the runtime clock does not: nothing ends. */
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_recv(c->owner, 300, &m), SL_ETIMEOUT);
    assert_int_equal(sl_rt_advance(c->rt, 4999), 0);
    assert_int_equal(sl_port_recv(c->owner, 200, &m), SL_ETIMEOUT);
    assert_int_equal(sl_rt_advance(c->rt, 1), 0);
    sl_attempt_result_t r;
    s_result(c, 3000, &r, NULL);
    assert_string_equal(r.task_id, "p0001-t0601");
    assert_int_equal(r.outcome, SL_OUT_QUEUE_TIMEOUT);
    assert_string_equal(r.timeout_key, "services/static-analyzer/queue_timeout_s");
    assert_int_equal(r.timeout_ms, 5000);
    sl_attempt_result_clear(&r);
    assert_int_equal(sl_rt_advance(c->rt, 54999), 0);
    assert_int_equal(sl_port_recv(c->owner, 200, &m), SL_ETIMEOUT);
    assert_int_equal(sl_rt_advance(c->rt, 1), 0);
    s_result(c, 3000, &r, NULL);
    assert_string_equal(r.task_id, "p0001-t0600");
    assert_int_equal(r.outcome, SL_OUT_ATTEMPT_TIMEOUT);
    assert_string_equal(r.timeout_key, "services/static-analyzer/attempt_timeout_s");
    assert_int_equal(r.timeout_ms, 60000);
    sl_attempt_result_clear(&r);
    sl_actor_destroy(&c->ep);
    sl_port_destroy(&c->owner);
    sl_rt_destroy(&c->rt);
    sl_clock_destroy(&clock);
}

static void test_endpoint_invalid_start_and_config(void **state)
{
    s_ctx_t *c = *state;
    sl_endpoint_config_t cfg;
    /* defaults are the configuration's: one analysis at a time on the
       services that cannot run two (sl_services.def), two elsewhere */
    sl_endpoint_config_defaults(&cfg, "performance-tester");
    assert_int_equal(cfg.max_in_flight, 1);
    sl_endpoint_config_defaults(&cfg, "dynamic-analyzer");
    assert_int_equal(cfg.max_in_flight, 1);
    sl_endpoint_config_defaults(&cfg, "ai-analyzer");
    assert_int_equal(cfg.max_in_flight, 2);
    assert_int_equal(cfg.attempt_timeout_ms, sl_config_builtin()->services[0].attempt_timeout_ms);
    assert_int_equal(cfg.breaker.window, 10);
    sl_endpoint_config_defaults(&cfg, "static-analyzer");
    assert_int_equal(cfg.max_in_flight, 2);
    assert_int_equal(sl_endpoint_spawn(c->rt, &cfg, &c->ep), SL_ECONFIG); /* no replicas */
    const char *bad[] = {"http://127.0.0.1:1"};
    cfg.replicas = bad;
    cfg.n_replicas = 1;
    assert_int_equal(sl_endpoint_config_check(&cfg), SL_ECONFIG);
    const char *good[] = {"ws://127.0.0.1:1"};
    cfg.replicas = good;
    cfg.op = "frobnicate";
    assert_int_equal(sl_endpoint_config_check(&cfg), SL_ECONFIG);
    cfg.op = NULL;
    s_spawn(c, &cfg);
    /* Garbage instead of an ATTEMPT_START: ignored, the actor lives on. */
    assert_int_equal(
        sl_port_send(c->owner, "endpoint.static-analyzer", SL_MSG_ATTEMPT_START, "\x93\x01", 2), 0);
    /* A start without a model: answered at once, not retryable. */
    sl_attempt_start_t st = {0};
    st.task_id = "p0001-t0400";
    st.pipeline_id = "p0001";
    st.attempt = 1;
    st.op = "static_analyze";
    uint8_t *buf;
    size_t len;
    assert_int_equal(sl_attempt_start_encode(&st, &buf, &len), 0);
    assert_int_equal(
        sl_port_send(c->owner, "endpoint.static-analyzer", SL_MSG_ATTEMPT_START, buf, len), 0);
    free(buf);
    sl_attempt_result_t r;
    s_result(c, 2000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_VERDICT);
    assert_false(sl_outcome_retryable((int)r.outcome));
    sl_attempt_result_clear(&r);
    assert_true(sl_actor_running(c->ep));
}

/* ---- liveness: a blocked replica is suspect, not dead ---------------------- */

/* Whether endpoints.list shows replica url as suspect. */
static bool s_suspect(s_ctx_t *c, const char *url)
{
    sl_endpoint_status_reply_t r;
    ep_test_status(c->owner, "static-analyzer", 3000, &r);
    bool suspect = false;
    sl_mp_reader_t rd;
    uint32_t n = 0;
    assert_int_equal(sl_codec_items(&r.replicas, &rd, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
        sl_replica_status_t rs;
        assert_int_equal(sl_replica_status_next(&rd, &rs), 0);
        if (strcmp(rs.url, url) == 0) {
            suspect = rs.suspect;
        }
        sl_replica_status_clear(&rs);
    }
    sl_endpoint_status_reply_clear(&r);
    return suspect;
}

/* The next endpoint.health event at the fake store (endpoint.breaker events
   fail the case: a block must not count against the replica). */
static void s_health_event(s_ctx_t *c, const char *url, bool healthy, const char *reason_prefix)
{
    char topic[64];
    uint8_t *body = NULL;
    size_t blen = 0;
    s_store_event(c->store, 3000, topic, sizeof topic, &body, &blen);
    assert_string_equal(topic, "endpoint.health");
    bool h = !healthy;
    assert_true(s_body_is(body, blen, "replica", url));
    assert_int_equal(sl_mp_map_get_bool(body, blen, "healthy", &h), 0);
    assert_int_equal(h, healthy);
    const char *why;
    size_t wl;
    assert_int_equal(sl_mp_map_get_str(body, blen, "reason", &why, &wl), 0);
    if (wl < strlen(reason_prefix) || strncmp(why, reason_prefix, strlen(reason_prefix)) != 0) {
        fail_msg("endpoint.health reason '%.*s', want '%s...'", (int)wl, why, reason_prefix);
    }
    free(body);
}

/* The replica's whole event loop stops for 1 s (no pong, no frame) in the
   middle of the analysis: the missed pong makes it suspect, the attempt
   lives on, the late pong clears the suspicion, and the analysis succeeds
   with no breaker event. */
static void test_endpoint_block_is_suspect_not_dead(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=300:progress=100:fault=block=1000"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.liveness_grace_ms = 1500;
    cfg.progress_timeout_ms = 0;
    c->store = sl_port_new(c->rt, "store"); /* plays the store */
    assert_non_null(c->store);
    s_spawn(c, &cfg);
    const char *url = c->fleet.url[0];
    s_start(c, "static-analyzer", "p0001-t0700", 1, NULL);
    s_health_event(c, url, false, "suspect: no pong within 300 ms");
    assert_true(s_suspect(c, url));
    s_health_event(c, url, true, "alive: ");
    sl_attempt_result_t r;
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    assert_string_equal(r.replica, url);
    sl_attempt_result_clear(&r);
    assert_false(s_suspect(c, url));
    uint64_t missed = 0, revived = 0;
    s_status(c, "static-analyzer", NULL, NULL, 0, "pongs_missed", &missed);
    s_status(c, "static-analyzer", NULL, NULL, 0, "revived", &revived);
    assert_true(missed >= 1);
    assert_true(revived >= 1);
    char breaker[32];
    s_status(c, "static-analyzer", url, breaker, sizeof breaker, NULL, NULL);
    assert_string_equal(breaker, "closed");
    sl_msg_t *m = NULL;
    assert_int_equal(sl_port_recv(c->store, 100, &m), SL_ETIMEOUT); /* no breaker event */
}

/* A frozen connection (pings never answered again) is still found: within
   ping interval + grace of its last sign of life, as pong_timeout. */
static void test_endpoint_freeze_found_within_grace(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:fault=freeze"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.liveness_grace_ms = 800;
    s_spawn(c, &cfg);
    int64_t t0 = ep_test_ms();
    sl_attempt_result_t r;
    s_attempt(c, "p0001-t0710", 5000, &r);
    int64_t took = ep_test_ms() - t0;
    assert_int_equal(r.outcome, SL_OUT_PONG_TIMEOUT);
    assert_non_null(r.error);
    assert_non_null(strstr(r.error, "no pong within 300 ms and no sign of life for"));
    assert_true(took >= 800);            /* it had its grace */
    assert_true(took < 200 + 800 + 600); /* ping interval + grace, plus slack */
    sl_attempt_result_clear(&r);
}

/* While a replica is suspect, new work goes to the others. */
static void test_endpoint_suspect_replica_chosen_last(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {"static:127.0.0.1:0:latency=300:progress=100:fault=block=1500@1",
                           "static:127.0.0.1:0:latency=400"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 2, &cfg);
    cfg.liveness_grace_ms = 3000;
    cfg.progress_timeout_ms = 0;
    c->store = sl_port_new(c->rt, "store");
    assert_non_null(c->store);
    s_spawn(c, &cfg);
    const char *blocked = c->fleet.url[0], *other = c->fleet.url[1];
    s_start(c, "static-analyzer", "p0001-t0720", 1, NULL); /* both idle: the first */
    s_health_event(c, blocked, false, "suspect: ");
    /* one in flight on each would tie on load and latency: the suspect loses */
    s_start(c, "static-analyzer", "p0001-t0721", 1, NULL);
    s_start(c, "static-analyzer", "p0001-t0722", 1, NULL);
    int on_other = 0;
    for (int i = 0; i < 3; i++) {
        sl_attempt_result_t r;
        s_result(c, 5000, &r, NULL);
        assert_int_equal(r.outcome, SL_OUT_SUCCESS);
        if (strcmp(r.task_id, "p0001-t0720") == 0) {
            assert_string_equal(r.replica, blocked); /* survived its block */
        } else {
            assert_string_equal(r.replica, other);
            on_other++;
        }
        sl_attempt_result_clear(&r);
    }
    assert_int_equal(on_other, 2);
}

/* mux: the replica's one connection goes suspect and recovers; its
   analysis survives the block when the heartbeat timeout allows it. */
static void test_endpoint_mux_block_survives(void **state)
{
    s_ctx_t *c = *state;
    const char *specs[] = {
        "static:127.0.0.1:0:proto=mux:latency=300:heartbeat=50:fault=block=1000"};
    sl_endpoint_config_t cfg;
    s_fleet_cfg(c, NULL, specs, 1, &cfg);
    cfg.protocol = SL_ENDPOINT_MUX;
    cfg.liveness_grace_ms = 1500;
    cfg.heartbeat_timeout_ms = 2000;
    c->store = sl_port_new(c->rt, "store");
    assert_non_null(c->store);
    s_spawn(c, &cfg);
    const char *url = c->fleet.url[0];
    s_start(c, "static-analyzer", "p0001-t0730", 1, NULL);
    s_health_event(c, url, false, "suspect: no pong within 300 ms");
    s_health_event(c, url, true, "alive: ");
    sl_attempt_result_t r;
    s_result(c, 5000, &r, NULL);
    assert_int_equal(r.outcome, SL_OUT_SUCCESS);
    sl_attempt_result_clear(&r);
}

/* Every case runs between s_setup and s_teardown. */
#define S_CASE(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("SL_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("SL_TEST_FILTER"));
    }
    const struct CMUnitTest tests[] = {
        S_CASE(test_endpoint_invalid_start_and_config),
        S_CASE(test_endpoint_legacy_success),
        S_CASE(test_endpoint_legacy_sends_no_resume_from),
        S_CASE(test_endpoint_manual_clock_timeouts),
        S_CASE(test_endpoint_fault_hang),
        S_CASE(test_endpoint_fault_freeze),
        S_CASE(test_endpoint_fault_disconnect),
        S_CASE(test_endpoint_fault_error_frame),
        S_CASE(test_endpoint_fault_malformed),
        S_CASE(test_endpoint_fault_refuse),
        S_CASE(test_endpoint_fault_slow_handshake),
        S_CASE(test_endpoint_fault_verdict),
        S_CASE(test_endpoint_stall_after_progress),
        S_CASE(test_endpoint_slow_analysis_with_progress_survives),
        S_CASE(test_endpoint_breaker_opens_and_traffic_moves),
        S_CASE(test_endpoint_health_events),
        S_CASE(test_endpoint_half_open_probe_closes),
        S_CASE(test_endpoint_retry_goes_elsewhere),
        S_CASE(test_endpoint_tools_choose_replica),
        S_CASE(test_endpoint_tools_warnings),
        S_CASE(test_endpoint_tools_asked_again),
        S_CASE(test_endpoint_bulkhead_and_queue),
        S_CASE(test_endpoint_cancel),
        S_CASE(test_endpoint_reconfigure_replicas),
        S_CASE(test_endpoint_shutdown_answers_live_attempts),
        S_CASE(test_endpoint_unknown_progress_counted),
        S_CASE(test_endpoint_progress_listener_routes_and_counts),
        S_CASE(test_endpoint_wss_trusted),
        S_CASE(test_endpoint_wss_untrusted_refused),
        S_CASE(test_endpoint_mux_many_and_stall),
        S_CASE(test_endpoint_mux_cancel),
        S_CASE(test_endpoint_mux_malformed),
        S_CASE(test_endpoint_mux_disconnect),
        S_CASE(test_endpoint_mux_error_frame),
        S_CASE(test_endpoint_mux_verdict),
        S_CASE(test_endpoint_generator),
        S_CASE(test_endpoint_block_is_suspect_not_dead),
        S_CASE(test_endpoint_freeze_found_within_grace),
        S_CASE(test_endpoint_suspect_replica_chosen_last),
        S_CASE(test_endpoint_mux_block_survives),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
