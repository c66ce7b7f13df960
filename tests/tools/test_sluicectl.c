/*  test_sluicectl.c: the real sluicectl binary against a fake daemon.

    The test thread owns a ZMQ_ROUTER (the API) and a ZMQ_XPUB (the event
    socket) bound to ipc:// paths in a mkdtemp directory, runs sluicectl as a
    child process with its stdout/stderr on pipes, and serves it from one
    zmq_poll loop over the sockets and the pipes until the child has exited,
    with a deadline (the child is killed by pid when it passes, and by the
    teardown, through tests/tchild.h, when an assert ends the case first). Each request
    is decoded with msgpack-c (not with sluicectl's own code), recorded as
    JSON, and answered from a per-op script; all asserts run afterwards on
    the test thread.
*/
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>
#include <zmq.h>

#include "tests/tchild.h"
#include "tests/tpack.h"
#include "tests/ttmp.h"

#define S_RUN_DEADLINE_MS 30000
#define S_MAX_RULES 8
#define S_MAX_STEPS 4
#define S_TTY_COLS 160 /* widest terminal the tests use */
#define S_TTY_ROWS 48

/* Requests sluicectl sent are decoded with tests/tpack.h (msgpack-c, not
   sluice code), every msgpack type kept visible (TPACK_MARK_TYPES). */

/* ---- the fake daemon --------------------------------------------------------------- */

typedef struct {
    const char *op;
    /* Replies in order (the last repeats): JSON text of the reply map
       without its id (the fake adds the request's id), or, with raw, bytes
       sent verbatim. NULL: no reply at all. */
    const char *steps[S_MAX_STEPS];
    size_t raw_len[S_MAX_STEPS]; /* > 0: steps[i] is raw bytes of this length */
    int used;
} s_rule_t;

typedef struct {
    char dir[64];
    char api[128];
    char pub[128];
    void *ctx;
    void *router;
    void *xpub;
    s_rule_t rules[S_MAX_RULES];
    int nrules;
    json_t *requests; /* every request, decoded */
    /* watch test: what to publish once the child has subscribed and asked
       pipeline.get */
    bool subscribed;
    bool got_get;
    const char *const *publish; /* NULL-terminated "topic", "json body", ... */
    bool published;
    int publish_gap_ms; /* > 0: one event per gap instead of all at once */
    int npublished;
    int64_t next_publish;
} s_fake_t;

typedef struct {
    int status; /* waitpid status */
    char out[65536];
    size_t out_len;
    char err[16384];
    size_t err_len;
    int64_t elapsed_ms;
} s_run_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *s_ctl_path(void)
{
    return SLUICECTL_PATH;
}

static const char *s_source_dir(void)
{
    const char *dir = getenv("SLUICE_SOURCE_DIR");
    return dir && *dir ? dir : SLUICE_SOURCE_DIR_DEFAULT;
}

static int setup(void **state)
{
    s_fake_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(ttmp_make(f->dir, sizeof(f->dir), "test_sluicectl"), 0);
    snprintf(f->api, sizeof(f->api), "ipc://%s/api", f->dir);
    snprintf(f->pub, sizeof(f->pub), "ipc://%s/pub", f->dir);
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    f->xpub = zmq_socket(f->ctx, ZMQ_XPUB);
    int zero = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(f->xpub, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_bind(f->router, f->api), 0);
    assert_int_equal(zmq_bind(f->xpub, f->pub), 0);
    f->requests = json_array();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    s_fake_t *f = *state;
    tchild_kill_all();
    zmq_close(f->router);
    zmq_close(f->xpub);
    zmq_ctx_term(f->ctx);
    ttmp_remove(f->dir);
    json_decref(f->requests);
    free(f);
    return 0;
}

static s_rule_t *s_rule(s_fake_t *f, const char *op)
{
    assert_true(f->nrules < S_MAX_RULES);
    s_rule_t *r = &f->rules[f->nrules++];
    memset(r, 0, sizeof(*r));
    r->op = op;
    return r;
}

/* Scripts op with JSON replies (up to S_MAX_STEPS, the last repeats). */
static void s_script(s_fake_t *f, const char *op, const char *a, const char *b)
{
    s_rule_t *r = s_rule(f, op);
    r->steps[0] = a;
    r->steps[1] = b;
}

static void s_script_raw(s_fake_t *f, const char *op, const char *bytes, size_t len)
{
    s_rule_t *r = s_rule(f, op);
    r->steps[0] = bytes;
    r->raw_len[0] = len;
}

static void s_send_map(void *sock, const json_t *map, int flags)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    tpack_json(&pk, map);
    zmq_send(sock, sbuf.data, sbuf.size, flags);
    msgpack_sbuffer_destroy(&sbuf);
}

static void s_serve_router(s_fake_t *f)
{
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&id, f->router, ZMQ_DONTWAIT) < 0) {
        goto out;
    }
    if (!zmq_msg_more(&id) || zmq_msg_recv(&body, f->router, 0) < 0) {
        goto out;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    json_t *req = NULL;
    if (msgpack_unpack_next(&up, zmq_msg_data(&body), zmq_msg_size(&body), NULL) ==
        MSGPACK_UNPACK_SUCCESS) {
        req = tpack_unpack(&up.data, TPACK_MARK_TYPES);
    }
    msgpack_unpacked_destroy(&up);
    if (!req) {
        req = json_string("$undecodable");
    }
    json_array_append(f->requests, req);
    const char *op = json_string_value(json_object_get(req, "op"));
    s_rule_t *rule = NULL;
    for (int i = 0; op && i < f->nrules; i++) {
        if (strcmp(f->rules[i].op, op) == 0) {
            rule = &f->rules[i];
        }
    }
    if (op && strcmp(op, "pipeline.get") == 0) {
        f->got_get = true;
    }
    if (rule) {
        int step = rule->used;
        while (step > 0 && (step >= S_MAX_STEPS || !rule->steps[step])) {
            step--;
        }
        rule->used++;
        const char *text = rule->steps[step];
        if (text && rule->raw_len[step]) {
            zmq_send(f->router, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
            zmq_send(f->router, text, rule->raw_len[step], 0);
        } else if (text) {
            json_error_t jerr;
            json_t *reply = json_loads(text, 0, &jerr);
            if (!reply) {
                fprintf(stderr, "bad script JSON: %s: %s\n", text, jerr.text);
            }
            json_t *rid = json_object_get(req, "id");
            if (json_is_object(reply) && rid) {
                json_object_set(reply, "id", rid);
            }
            zmq_send(f->router, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
            s_send_map(f->router, reply, 0);
            json_decref(reply);
        }
    }
    json_decref(req);
out:
    zmq_msg_close(&id);
    zmq_msg_close(&body);
}

static void s_serve_xpub(s_fake_t *f)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, f->xpub, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&m) >= 1 &&
        ((const uint8_t *)zmq_msg_data(&m))[0] == 1) {
        f->subscribed = true;
    }
    zmq_msg_close(&m);
}

static void s_maybe_publish(s_fake_t *f)
{
    if (!f->publish || f->published || !f->subscribed || !f->got_get) {
        return;
    }
    int64_t now = s_now_ms();
    if (f->publish_gap_ms > 0 && now < f->next_publish) {
        return;
    }
    for (const char *const *p = f->publish + 2 * f->npublished; p[0] && p[1]; p += 2) {
        json_t *body = json_loads(p[1], 0, NULL);
        assert_non_null(body);
        zmq_send(f->xpub, p[0], strlen(p[0]), ZMQ_SNDMORE);
        s_send_map(f->xpub, body, 0);
        json_decref(body);
        f->npublished++;
        if (f->publish_gap_ms > 0) {
            f->next_publish = now + f->publish_gap_ms;
            if (p[2] && p[3]) {
                return;
            }
        }
    }
    f->published = true;
}

static void s_drain(int fd, char *buf, size_t cap, size_t *len, bool *open)
{
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof(tmp));
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            *open = false;
        }
        return;
    }
    size_t room = cap - 1 - *len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(buf + *len, tmp, take);
    *len += take;
    buf[*len] = '\0';
}

/* Width of the pseudo-terminal s_run_ex gives sluicectl (<= S_TTY_COLS). */
static int s_tty_cols = S_TTY_COLS;

/* Runs sluicectl with args (NULL-terminated, without argv[0]) and serves it
   until it exits; fails the test if it outlives the deadline. With tty, its
   stdout is a pseudo-terminal (s_tty_cols x S_TTY_ROWS, controlling
   terminal of a new session) and run->out holds what it wrote there. */
static void s_run_ex(s_fake_t *f, s_run_t *run, const char *const *args, bool tty)
{
    memset(run, 0, sizeof(*run));
    const char *argv[64];
    int n = 0;
    /* SLUICECTL_WRAPPER="valgrind -q --error-exitcode=99" runs every child
       under a checker (words split on spaces). */
    char wrapper[256] = "";
    const char *w = getenv("SLUICECTL_WRAPPER");
    snprintf(wrapper, sizeof(wrapper), "%s", w ? w : "");
    char *save = NULL;
    for (char *word = strtok_r(wrapper, " ", &save); word && n < 16;
         word = strtok_r(NULL, " ", &save)) {
        argv[n++] = word;
    }
    argv[n++] = s_ctl_path();
    for (int i = 0; args[i] && n < 63; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    int out[2], err[2];
    if (tty) {
        struct winsize ws = {.ws_row = S_TTY_ROWS, .ws_col = (unsigned short)s_tty_cols};
        assert_int_equal(openpty(&out[0], &out[1], NULL, NULL, &ws), 0);
        /* The size is set on the slave too, as a terminal emulator would. */
        assert_int_equal(ioctl(out[1], TIOCSWINSZ, &ws), 0);
    } else {
        assert_int_equal(pipe(out), 0);
    }
    assert_int_equal(pipe(err), 0);
    int64_t t0 = s_now_ms();
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tchild_in_child(parent);
        if (tty) {
            setsid();
            ioctl(out[1], TIOCSCTTY, 0);
        }
        dup2(out[1], STDOUT_FILENO);
        dup2(err[1], STDERR_FILENO);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        unsetenv("SLUICE_API");
        unsetenv("SLUICE_PUB");
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    tchild_add(pid);
    close(out[1]);
    close(err[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    bool out_open = true, err_open = true, exited = false;
    int64_t deadline = t0 + S_RUN_DEADLINE_MS;
    while ((out_open || err_open || !exited) && s_now_ms() < deadline) {
        zmq_pollitem_t items[4] = {
            {f->router, 0, ZMQ_POLLIN, 0},
            {f->xpub, 0, ZMQ_POLLIN, 0},
            {NULL, out_open ? out[0] : -1, ZMQ_POLLIN, 0},
            {NULL, err_open ? err[0] : -1, ZMQ_POLLIN, 0},
        };
        zmq_poll(items, 4, 20);
        if (items[0].revents) {
            s_serve_router(f);
        }
        if (items[1].revents) {
            s_serve_xpub(f);
        }
        s_maybe_publish(f);
        if (out_open && items[2].revents) {
            s_drain(out[0], run->out, sizeof(run->out), &run->out_len, &out_open);
        }
        if (err_open && items[3].revents) {
            s_drain(err[0], run->err, sizeof(run->err), &run->err_len, &err_open);
        }
        if (!exited && waitpid(pid, &run->status, WNOHANG) == pid) {
            tchild_forget(pid);
            exited = true;
            run->elapsed_ms = s_now_ms() - t0;
        }
    }
    close(out[0]);
    close(err[0]);
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &run->status, 0);
        tchild_forget(pid);
        fail_msg("sluicectl did not finish within %d ms; stderr: %s", S_RUN_DEADLINE_MS, run->err);
    }
}

static void s_run(s_fake_t *f, s_run_t *run, const char *const *args)
{
    s_run_ex(f, run, args, false);
}

/* The exit code; fails on a crash (a signal). */
static int s_code(const s_run_t *run)
{
    if (!WIFEXITED(run->status)) {
        fail_msg("sluicectl died by signal %d; stderr: %s", WTERMSIG(run->status), run->err);
    }
    return WEXITSTATUS(run->status);
}

static const json_t *s_at(const json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, k);
    }
    return v;
}

static const json_t *s_request(s_fake_t *f, const char *op, int nth)
{
    size_t i;
    json_t *r;
    json_array_foreach(f->requests, i, r)
    {
        const char *o = json_string_value(json_object_get(r, "op"));
        if (o && strcmp(o, op) == 0 && nth-- == 0) {
            return r;
        }
    }
    return NULL;
}

static int s_count(s_fake_t *f, const char *op)
{
    int n = 0;
    while (s_request(f, op, n)) {
        n++;
    }
    return n;
}

#define RUN(f, run, ...)                                                                           \
    do {                                                                                           \
        const char *const args_[] = {__VA_ARGS__, NULL};                                           \
        s_run((f), (run), args_);                                                                  \
    } while (0)

static const char s_started[] = "{\"ok\":true,\"pipeline_id\":\"p0193f1c2a4b7c01a2f\"}";

/* ---- cases ---------------------------------------------------------------------------- */

static void test_sluicectl_submit_file_request(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.start", s_started, NULL);
    char file[512];
    snprintf(file, sizeof(file), "%s/tests/data/requests/incident.json", s_source_dir());
    s_run_t run;
    RUN(f, &run, "--api", f->api, "--timeout", "5000", "submit", "--file", file);
    assert_int_equal(s_code(&run), 0);
    assert_string_equal(run.out, "p0193f1c2a4b7c01a2f\n");
    assert_int_equal(json_array_size(f->requests), 1);
    const json_t *req = s_request(f, "pipeline.start", 0);
    assert_non_null(req);
    assert_true(json_is_string(s_at(req, "id")));
    assert_true(json_is_string(s_at(req, "name")));
    const json_t *gen = s_at(req, "config.generation");
    assert_string_equal(json_string_value(json_object_get(gen, "mode")), "generate");
    const json_t *models = json_object_get(gen, "models");
    assert_int_equal(json_array_size(models), 1);
    assert_string_equal(json_string_value(json_array_get(models, 0)),
                        "google_gemini-3-flash-preview-20251217");
    const json_t *templates = json_object_get(gen, "templates");
    assert_int_equal(json_array_size(templates), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(json_is_string(json_array_get(templates, i)));
    }
    const json_t *ana = s_at(req, "config.analysis");
    assert_true(json_is_true(json_object_get(ana, "enabled")));
    assert_true(json_is_array(json_object_get(ana, "tools")));
    assert_int_equal(json_array_size(json_object_get(ana, "tools")), 0); /* all 4 analyzers */
    assert_true(json_is_boolean(s_at(ana, "options.parallel")));
    assert_true(json_is_integer(s_at(ana, "options.max_concurrent_tasks")));
    assert_true(json_is_string(json_array_get(s_at(ana, "options.target_urls"), 0)));
    assert_true(json_is_integer(s_at(req, "timeouts.task")));
    assert_int_equal(json_integer_value(s_at(req, "retry.max_attempts")), 3);
    /* The seed's top level is folded under config, not sent twice. */
    assert_null(s_at(req, "generation"));
}

static void test_sluicectl_submit_flags_request(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.start", s_started, NULL);
    s_run_t run;
    RUN(f, &run, "submit", "--api", f->api, "--name", "n1", "--model", "m1", "--template", "a",
        "--template", "b", "--analyzer", "dynamic", "--tool", "bandit", "--task-timeout", "30",
        "--pipeline-timeout", "1.5", "--max-attempts", "2", "--max-concurrent", "3", "--target-url",
        "http://{model}-app{app}:5000");
    assert_int_equal(s_code(&run), 0);
    const json_t *req = s_request(f, "pipeline.start", 0);
    assert_non_null(req);
    assert_string_equal(json_string_value(s_at(req, "name")), "n1");
    assert_int_equal(json_array_size(s_at(req, "config.generation.models")), 1);
    assert_int_equal(json_array_size(s_at(req, "config.generation.templates")), 2);
    /* --analyzer names the analyzer (all its tools: no list), --tool a tool */
    const json_t *analyzers = s_at(req, "config.analysis.analyzers");
    assert_int_equal(json_array_size(analyzers), 1);
    assert_string_equal(json_string_value(json_array_get(analyzers, 0)), "dynamic-analyzer");
    const json_t *tools = s_at(req, "config.analysis.tools");
    assert_int_equal(json_array_size(tools), 1);
    assert_string_equal(json_string_value(json_array_get(tools, 0)), "bandit");
    assert_int_equal(json_integer_value(s_at(req, "timeouts.task")), 30);
    assert_true(json_is_real(s_at(req, "timeouts.pipeline")));
    assert_int_equal(json_integer_value(s_at(req, "retry.max_attempts")), 2);
    assert_int_equal(json_integer_value(s_at(req, "config.analysis.options.max_concurrent_tasks")),
                     3);
    assert_true(json_is_true(s_at(req, "config.analysis.options.parallel")));
    assert_int_equal(json_array_size(s_at(req, "config.analysis.options.target_urls")), 1);

    /* existing mode */
    json_array_clear(f->requests);
    RUN(f, &run, "--api", f->api, "submit", "--existing-app", "org/model:29", "--existing-app",
        "org/model:30");
    assert_int_equal(s_code(&run), 0);
    req = s_request(f, "pipeline.start", 0);
    assert_string_equal(json_string_value(s_at(req, "config.generation.mode")), "existing");
    const json_t *apps = s_at(req, "config.generation.existing_apps");
    assert_int_equal(json_array_size(apps), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(apps, 0), "model")),
                        "org/model");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(apps, 1), "app_number")),
                     30);

    /* scan profiles: --profile, --then, --escalate-threshold */
    json_array_clear(f->requests);
    RUN(f, &run, "--api", f->api, "submit", "--existing-app", "m:1", "--profile", "quick", "--then",
        "deep", "--escalate-threshold", "4");
    assert_int_equal(s_code(&run), 0);
    req = s_request(f, "pipeline.start", 0);
    assert_string_equal(json_string_value(s_at(req, "config.analysis.profile")), "quick");
    assert_string_equal(json_string_value(s_at(req, "config.analysis.escalate")), "deep");
    assert_int_equal(json_integer_value(s_at(req, "config.analysis.escalate_threshold")), 4);
    assert_null(s_at(req, "config.analysis.analyzers"));
}

static void test_sluicectl_json_output(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.get",
             "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"running\",\"stage\":"
             "\"analysis\",\"created_at\":1770000000000,\"counts\":{\"total\":2},\"tasks\":["
             "{\"id\":\"p1-t0000\",\"service\":\"generator\",\"status\":\"succeeded\","
             "\"attempts\":1,\"progress\":{\"stage\":\"done\",\"pct\":100},\"ratio\":0.5},"
             "{\"id\":\"p1-t0001\",\"service\":\"static-analyzer\",\"status\":\"running\","
             "\"attempts\":2,\"progress\":{\"stage\":\"bandit\",\"pct\":40},\"error\":null}]}}",
             NULL);
    s_script(f, "result.get",
             "{\"ok\":true,\"result\":\"bin:{\\\"type\\\":\\\"static_analysis_"
             "result\\\",\\\"status\\\":\\\"success\\\"}\"}",
             NULL);
    s_script(f, "ping",
             "{\"ok\":true,\"pong\":true,\"ts\":1770000000000,\"blob\":\"bin:\\u0001"
             "\\u0002\"}",
             NULL);
    s_run_t run;
    RUN(f, &run, "--api", f->api, "--json", "get", "p1");
    assert_int_equal(s_code(&run), 0);
    json_error_t jerr;
    json_t *out = json_loads(run.out, 0, &jerr);
    assert_non_null(out);
    assert_true(json_is_true(json_object_get(out, "ok")));
    assert_int_equal(json_array_size(s_at(out, "pipeline.tasks")), 2);
    const json_t *t1 = json_array_get(s_at(out, "pipeline.tasks"), 1);
    assert_int_equal(json_integer_value(s_at(t1, "progress.pct")), 40);
    assert_true(json_is_null(json_object_get(t1, "error")));
    assert_true(
        json_is_real(json_object_get(json_array_get(s_at(out, "pipeline.tasks"), 0), "ratio")));
    json_decref(out);

    RUN(f, &run, "result", "p1-t0001", "--json", "--api", f->api);
    assert_int_equal(s_code(&run), 0);
    out = json_loads(run.out, 0, &jerr);
    assert_non_null(out);
    assert_string_equal(json_string_value(s_at(out, "result.type")), "static_analysis_result");
    json_decref(out);

    RUN(f, &run, "--json", "--api", f->api, "ping");
    assert_int_equal(s_code(&run), 0);
    out = json_loads(run.out, 0, &jerr);
    assert_non_null(out);
    assert_string_equal(json_string_value(json_object_get(out, "blob")), "AQI="); /* base64 */
    json_decref(out);
}

static void test_sluicectl_tables(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.get",
             "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"name\":\"demo\",\"status\":"
             "\"partial_success\",\"stage\":\"done\",\"tasks\":[{\"id\":\"p1-t0003\",\"service\":"
             "\"dynamic-analyzer\",\"model\":\"m\",\"app_number\":29,\"status\":\"dead\","
             "\"attempts\":3,\"error\":\"no response from service\",\"error_detail\":{\"code\":"
             "\"attempt_timeout\",\"message\":\"dynamic-analyzer attempt 3 got no result within "
             "1200 s\","
             "\"suggestion\":\"raise services/dynamic-analyzer/attempt_timeout_s (1200) or use the "
             "quick profile or fewer tools\"}},{\"id\":\"p1-t0004\",\"service\":"
             "\"dynamic-analyzer\",\"model\":\"m\",\"app_number\":30,\"status\":\"succeeded\","
             "\"attempts\":1,\"error\":null,\"warning\":\"requested tools did not run: nikto\"},"
             "{\"id\":\"p1-t0005\",\"service\":\"ai-analyzer\",\"model\":\"m\",\"app_number\":30,"
             "\"status\":\"running\",\"attempts\":1,\"escalated\":true}],\"profile\":\"quick\","
             "\"escalate\":\"deep\",\"escalate_threshold\":0}}",
             NULL);
    s_script(f, "endpoints.list",
             "{\"ok\":true,\"services\":[{\"name\":\"static-analyzer\",\"protocol\":\"legacy\","
             "\"replicas\":[{\"url\":\"ws://127.0.0.1:2001\",\"breaker\":\"open\",\"in_flight\":0,"
             "\"ewma_ms\":12.5,\"calls\":7,\"failures\":5,\"tools\":[\"bandit\",\"snyk\"]},"
             "{\"url\":\"ws://127.0.0.1:2051\",\"breaker\":\"closed\",\"suspect\":true,"
             "\"tools\":null}]}]}",
             NULL);
    s_run_t run;
    RUN(f, &run, "--api", f->api, "get", "p1");
    assert_int_equal(s_code(&run), 0);
    assert_non_null(strstr(run.out, "partial_success"));
    assert_non_null(strstr(run.out, "p1-t0003"));
    assert_non_null(strstr(run.out, "no response from service"));
    assert_non_null(strstr(run.out, "m app 29"));
    assert_non_null(strstr(run.out, "warning: requested tools did not run: nikto"));
    /* a timeout's error_detail under the table */
    assert_non_null(strstr(run.out, "\np1-t0003 attempt_timeout: dynamic-analyzer attempt 3 got no "
                                    "result within 1200 s\n  suggestion: raise services/"
                                    "dynamic-analyzer/attempt_timeout_s (1200) or use the quick "
                                    "profile or fewer tools\n"));
    const char *sugg = strstr(run.out, "suggestion: ");
    assert_null(strstr(sugg + 1, "suggestion: ")); /* no detail, no line */
    assert_non_null(strstr(run.out, "profile    quick, then deep for apps that failed or found "
                                    "more than 0 issues"));
    assert_non_null(strstr(run.out, "ai-analyzer (deep)"));
    RUN(f, &run, "--api", f->api, "endpoints");
    assert_int_equal(s_code(&run), 0);
    assert_non_null(strstr(run.out, "ws://127.0.0.1:2001"));
    assert_non_null(strstr(run.out, "open"));
    assert_non_null(strstr(run.out, "BREAKER"));
    assert_non_null(strstr(run.out, "TOOLS"));
    assert_non_null(strstr(run.out, "bandit, snyk"));
    /* a replica that has not answered a health_check yet */
    const char *line = strstr(run.out, "ws://127.0.0.1:2051");
    assert_non_null(line);
    const char *eol = strchr(line, '\n');
    assert_true(eol && eol[-1] == '?');
    /* it missed a pong (README "Liveness") */
    const char *sus = strstr(line, "closed suspect");
    assert_true(sus && sus < eol);
    s_script(f, "stats",
             "{\"ok\":true,\"api\":{\"requests\":3,\"errors\":0,\"published\":9},"
             "\"actors\":[{\"name\":\"store\",\"msgs_in\":4,\"running\":true}],"
             "\"pushes\":{\"by_id\":12,\"attributed\":5,\"unattributed\":2,\"unknown_id\":1}}",
             NULL);
    RUN(f, &run, "--api", f->api, "stats");
    assert_int_equal(s_code(&run), 0);
    assert_non_null(strstr(run.out, "requests 3"));
    assert_non_null(strstr(run.out, "store"));
    assert_non_null(
        strstr(run.out, "progress pushes: by id 12  attributed 5  unattributed 2  unknown id 1"));
}

static void s_wait_case(s_fake_t *f, const char *final, int want)
{
    char done[256];
    snprintf(done, sizeof(done),
             "{\"ok\":true,\"pipeline\":{\"id\":\"p0193f1c2a4b7c01a2f\",\"status\":\"%s\","
             "\"stage\":\"done\",\"tasks\":[]}}",
             final);
    f->nrules = 0;
    json_array_clear(f->requests);
    s_script(f, "pipeline.start", s_started, NULL);
    s_rule_t *r = s_rule(f, "pipeline.get");
    r->steps[0] = "{\"ok\":true,\"pipeline\":{\"status\":\"pending\",\"stage\":\"generation\"}}";
    r->steps[1] = "{\"ok\":true,\"pipeline\":{\"status\":\"running\",\"stage\":\"analysis\"}}";
    r->steps[2] = done;
    s_run_t run;
    RUN(f, &run, "--api", f->api, "submit", "--model", "m", "--template", "t", "--wait", "--poll",
        "10");
    assert_int_equal(s_code(&run), want);
    assert_int_equal(s_count(f, "pipeline.get"), 3);
    assert_string_equal(json_string_value(s_at(s_request(f, "pipeline.get", 0), "pipeline_id")),
                        "p0193f1c2a4b7c01a2f");
    assert_non_null(strstr(run.out, final));
}

static void test_sluicectl_wait_exit_codes(void **state)
{
    s_fake_t *f = *state;
    s_wait_case(f, "completed", 0);
    s_wait_case(f, "partial_success", 2);
    s_wait_case(f, "failed", 3);
    s_wait_case(f, "cancelled", 4);
}

static void test_sluicectl_unreachable(void **state)
{
    s_fake_t *f = *state;
    char nobody[160];
    snprintf(nobody, sizeof(nobody), "ipc://%s/nobody", f->dir);
    s_run_t run;
    RUN(f, &run, "--api", nobody, "--timeout", "300", "ping");
    assert_int_equal(s_code(&run), 5);
    assert_true(run.elapsed_ms < 3000);
    assert_non_null(strstr(run.err, "no reply"));
    /* A daemon that takes the request and never answers: the same. */
    s_rule_t *r = s_rule(f, "pipeline.get");
    r->steps[0] = NULL;
    RUN(f, &run, "--api", f->api, "--timeout", "300", "get", "p1");
    assert_int_equal(s_code(&run), 5);
    assert_true(run.elapsed_ms < 3000);
    RUN(f, &run, "--api", nobody, "--timeout", "200", "submit", "--model", "m", "--template", "t",
        "--wait");
    assert_int_equal(s_code(&run), 5);
}

/* A daemon whose socket drops a frame past its ceiling (as sluiced does
   past 16 x api/max_request_bytes): sluicectl says the request was dropped,
   at once, instead of that the daemon is not running. */
static void test_sluicectl_dropped_request(void **state)
{
    s_fake_t *f = *state;
    void *small = zmq_socket(f->ctx, ZMQ_ROUTER);
    int zero = 0;
    int64_t ceiling = 20000;
    zmq_setsockopt(small, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(small, ZMQ_MAXMSGSIZE, &ceiling, sizeof(ceiling));
    char api[160];
    snprintf(api, sizeof(api), "ipc://%s/small-api", f->dir);
    assert_int_equal(zmq_bind(small, api), 0);
    void *big_router = f->router;
    f->router = small; /* served by s_run; the teardown closes it */
    zmq_close(big_router);
    char *name = malloc(30001);
    memset(name, 'n', 30000);
    name[30000] = '\0';
    s_script(f, "ping", "{\"ok\":true,\"pong\":true}", NULL);
    s_run_t run;
    RUN(f, &run, "--api", api, "--timeout", "20000", "submit", "--model", "m", "--template", "t",
        "--name", name);
    assert_int_equal(s_code(&run), 6);
    assert_non_null(strstr(run.err, "closed the connection without answering"));
    assert_non_null(strstr(run.err, "api/max_request_bytes"));
    assert_true(run.elapsed_ms < 10000);
    /* The dropped request never arrived; the probe did. */
    assert_null(s_request(f, "pipeline.start", 0));
    assert_non_null(s_request(f, "ping", 0));
    /* A small request is never blamed on its size. */
    s_script(f, "pipeline.start", s_started, NULL);
    RUN(f, &run, "--api", api, "submit", "--model", "m", "--template", "t");
    assert_int_equal(s_code(&run), 0);
    /* No answer to the probe either: the daemon is unreachable. */
    s_rule(f, "ping")->steps[0] = NULL;
    RUN(f, &run, "--api", api, "--timeout", "1000", "submit", "--model", "m", "--template", "t",
        "--name", name);
    assert_int_equal(s_code(&run), 5);
    assert_non_null(strstr(run.err, "no reply"));
    free(name);
}

static void test_sluicectl_error_reply(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.start",
             "{\"ok\":false,\"error\":{\"code\":\"invalid\",\"message\":\"config.generation."
             "models[0]: must be a non-empty string\"}}",
             NULL);
    s_run_t run;
    RUN(f, &run, "--api", f->api, "submit", "--model", "m", "--template", "t");
    assert_int_equal(s_code(&run), 6);
    assert_non_null(strstr(run.err, "config.generation.models[0]: must be a non-empty string"));
    assert_non_null(strstr(run.err, "invalid"));
    assert_int_equal(run.out_len, 0);
    RUN(f, &run, "--api", f->api, "--json", "submit", "--model", "m", "--template", "t");
    assert_int_equal(s_code(&run), 6);
    json_t *out = json_loads(run.out, 0, NULL);
    assert_non_null(out);
    assert_true(json_is_false(json_object_get(out, "ok")));
    json_decref(out);
}

static void test_sluicectl_usage_errors(void **state)
{
    s_fake_t *f = *state;
    static const char *const cases[][8] = {
        {"--api", NULL},
        {"frobnicate", NULL},
        {"get", NULL},
        {"get", "a", "b", NULL},
        {"--timeout", "soon", "ping", NULL},
        {"--bogus", "ping", NULL},
        {"submit", NULL},
        {"submit", "--model", "m", NULL},
        {"submit", "--model", "m", "--template", "t", "--max-attempts", "0", NULL},
        {"submit", "--existing-app", "nocolon", NULL},
        {"submit", "--existing-app", "m:1", "--escalate-threshold", "2", NULL},
        {"submit", "--existing-app", "m:1", "--then", "deep", "--escalate-threshold", "-1", NULL},
        {"submit", "--file", "/nonexistent/request.json", NULL},
        {"list", "--limit", "-3", NULL},
        {"dlq", "retry", NULL},
        {"dlq", "explode", NULL},
        {"result", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *args[12] = {"--api", f->api};
        int n = 2;
        for (int k = 0; cases[i][k]; k++) {
            args[n++] = cases[i][k];
        }
        args[n] = NULL;
        s_run_t run;
        s_run(f, &run, args);
        if (s_code(&run) != 1) {
            fail_msg("case %zu (%s %s): exit %d, want 1", i, cases[i][0],
                     cases[i][1] ? cases[i][1] : "", s_code(&run));
        }
        assert_true(run.err_len > 0);
    }
    assert_int_equal(json_array_size(f->requests), 0); /* nothing was sent */
    s_run_t run;
    RUN(f, &run, "submit", "--help");
    assert_int_equal(s_code(&run), 0);
    assert_non_null(strstr(run.out, "partial_success"));
}

static void test_sluicectl_bad_replies(void **state)
{
    s_fake_t *f = *state;
    static const char garbage[] = "\xc1\xff\x00garbage";
    static const char array[] = "\x92\x01\x02";
    char deep[64];
    memset(deep, 0x91, sizeof(deep) - 1); /* 63 nested arrays */
    deep[sizeof(deep) - 1] = (char)0xc0;
    static const char truncated[] = "\x82\xa2ok\xc3\xa5"
                                    "error\xdb\xff\xff\xff\xff";
    const struct {
        const char *bytes;
        size_t len;
    } raws[] = {{garbage, sizeof(garbage) - 1},
                {array, sizeof(array) - 1},
                {deep, sizeof(deep)},
                {truncated, sizeof(truncated) - 1}};
    for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
        f->nrules = 0;
        s_script_raw(f, "pipeline.get", raws[i].bytes, raws[i].len);
        s_run_t run;
        RUN(f, &run, "--api", f->api, "--timeout", "2000", "get", "p1");
        assert_int_equal(s_code(&run), 6);
        assert_non_null(strstr(run.err, "malformed"));
    }
    /* Well-formed maps of the wrong shape: no crash, whatever the output. */
    static const char *const odd[] = {
        "{\"nothing\":1}",
        "{\"ok\":\"yes\"}",
        "{\"ok\":false}",
        "{\"ok\":false,\"error\":\"flat\"}",
        "{\"ok\":true}",
        "{\"ok\":true,\"pipeline\":\"p1\"}",
        "{\"ok\":true,\"pipeline\":{\"id\":7,\"status\":[],\"counts\":3,\"tasks\":[1,\"x\",null,"
        "{\"progress\":\"half\",\"attempts\":\"two\",\"app_number\":\"x\"}]}}",
    };
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        f->nrules = 0;
        s_script(f, "pipeline.get", odd[i], NULL);
        s_script(f, "endpoints.list", odd[i], NULL);
        s_script(f, "pipeline.start", s_started, NULL);
        s_run_t run;
        RUN(f, &run, "--api", f->api, "get", "p1");
        int code = s_code(&run);
        assert_true(code == 0 || code == 6);
        RUN(f, &run, "--api", f->api, "endpoints");
        code = s_code(&run);
        assert_true(code == 0 || code == 6);
        RUN(f, &run, "--api", f->api, "submit", "--model", "m", "--template", "t", "--wait",
            "--poll", "10", "--wait-timeout", "0.2");
        code = s_code(&run);
        assert_true(code == 5 || code == 6);
    }
}

static void test_sluicectl_result_to_file(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "result.get", "{\"ok\":true,\"result\":\"bin:{\\\"status\\\":\\\"partial\\\"}\"}",
             NULL);
    char path[160];
    snprintf(path, sizeof(path), "%s/out", f->dir);
    s_run_t run;
    RUN(f, &run, "--api", f->api, "result", "p1-t0001", "-o", path);
    assert_int_equal(s_code(&run), 0);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char buf[128] = "";
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    assert_string_equal(buf, "{\"status\":\"partial\"}");
    RUN(f, &run, "--api", f->api, "result", "p1-t0001");
    assert_int_equal(s_code(&run), 0);
    assert_string_equal(run.out, "{\"status\":\"partial\"}\n");
    assert_null(json_object_get(s_request(f, "result.get", 1), "attempt"));
    /* One failed attempt's frame. */
    RUN(f, &run, "--api", f->api, "result", "p1-t0001", "--attempt", "2");
    assert_int_equal(s_code(&run), 0);
    const json_t *req = s_request(f, "result.get", 2);
    assert_string_equal(json_string_value(json_object_get(req, "task_id")), "p1-t0001");
    assert_int_equal(json_integer_value(json_object_get(req, "attempt")), 2);
    RUN(f, &run, "--api", f->api, "result", "p1-t0001", "--attempt", "0");
    assert_int_equal(s_code(&run), 1);
    /* a partial result: stdout stays the bytes, stderr says what they are */
    assert_null(strstr(run.err, "partial result"));
    s_script(f, "result.get",
             "{\"ok\":true,\"result\":\"bin:{\\\"stages_done\\\":2}\",\"partial\":true}", NULL);
    RUN(f, &run, "--api", f->api, "result", "p1-t0002");
    assert_int_equal(s_code(&run), 0);
    assert_string_equal(run.out, "{\"stages_done\":2}\n");
    assert_non_null(strstr(run.err, "a partial result"));
}

static void test_sluicectl_watch_fills_gap(void **state)
{
    s_fake_t *f = *state;
    s_script(f, "pipeline.get",
             "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"running\",\"stage\":"
             "\"analysis\",\"tasks\":[]}}",
             NULL);
    s_script(f, "events.since",
             "{\"ok\":true,\"last_seq\":8,\"events\":["
             "{\"seq\":7,\"ts\":1770000000007,\"topic\":\"task.status\",\"pipeline_id\":\"p1\","
             "\"task_id\":\"p1-t0001\",\"status\":\"retry_wait\",\"attempt\":1,\"service\":"
             "\"static-analyzer\"},"
             "{\"seq\":8,\"ts\":1770000000008,\"topic\":\"endpoint.breaker\",\"service\":"
             "\"static-analyzer\",\"replica\":\"ws://127.0.0.1:2001\",\"from\":\"closed\","
             "\"to\":\"open\",\"reason\":\"failures\"}]}",
             NULL);
    static const char *const events[] = {
        "task.status",
        "{\"seq\":5,\"ts\":1770000000005,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"status\":\"running\",\"attempt\":1,\"service\":\"static-analyzer\"}",
        "task.progress",
        "{\"seq\":6,\"ts\":1770000000006,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"attempt\":1,\"stage\":\"bandit\",\"pct\":30,\"message\":\"scanning files\"}",
        "task.status",
        "{\"seq\":9,\"ts\":1770000000009,\"pipeline_id\":\"other\",\"task_id\":\"other-t0000\","
        "\"status\":\"running\",\"attempt\":1,\"service\":\"generator\"}",
        "endpoint.health",
        "{\"seq\":10,\"ts\":1770000000010,\"service\":\"static-analyzer\",\"replica\":"
        "\"ws://127.0.0.1:2001\",\"healthy\":false,\"reason\":\"consecutive_failures\"}",
        "pipeline.status",
        "{\"seq\":11,\"ts\":1770000000011,\"pipeline_id\":\"p1\",\"status\":\"partial_success\","
        "\"stage\":\"done\"}",
        NULL,
        NULL,
    };
    f->publish = events;
    s_run_t run;
    char pub[160];
    snprintf(pub, sizeof(pub), "%s", f->pub);
    RUN(f, &run, "--api", f->api, "--pub", pub, "watch", "p1");
    assert_int_equal(s_code(&run), 2);
    const json_t *since = s_request(f, "events.since", 0);
    assert_non_null(since);
    assert_int_equal(json_integer_value(json_object_get(since, "seq")), 6);
    /* In order: 5 6 (7 8 replayed) 10 11; the other pipeline's 9 is not shown,
       the replica's health (no pipeline) is. */
    const char *p5 = strstr(run.out, "\n5 ") ? strstr(run.out, "\n5 ") : strstr(run.out, "5 ");
    const char *p6 = strstr(run.out, "\n6 ");
    const char *p7 = strstr(run.out, "\n7 ");
    const char *p8 = strstr(run.out, "\n8 ");
    const char *p10 = strstr(run.out, "\n10 ");
    const char *p11 = strstr(run.out, "\n11 ");
    assert_non_null(p5);
    assert_non_null(p6);
    assert_non_null(p7);
    assert_non_null(p8);
    assert_non_null(p10);
    assert_non_null(p11);
    assert_true(p5 < p6 && p6 < p7 && p7 < p8 && p8 < p10 && p10 < p11);
    assert_null(strstr(run.out, "other-t0000"));
    assert_non_null(strstr(p7, "status=retry_wait"));
    assert_non_null(strstr(p8, "to=open"));
    assert_non_null(strstr(p10, " endpoint.health healthy=no reason=consecutive_failures "
                                "replica=ws://127.0.0.1:2001 service=static-analyzer\n"));
    assert_non_null(strstr(p11, "status=partial_success"));
}

/* PUB lost the final event: the watch still ends, from pipeline.get. */
static void test_sluicectl_watch_without_events(void **state)
{
    s_fake_t *f = *state;
    s_rule_t *r = s_rule(f, "pipeline.get");
    r->steps[0] = "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"running\"}}";
    r->steps[1] = "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"failed\"}}";
    s_run_t run;
    RUN(f, &run, "--api", f->api, "--pub", f->pub, "watch", "p1");
    assert_int_equal(s_code(&run), 3);
    assert_int_equal(s_count(f, "pipeline.get"), 2);
}

/* ---- the live view on a pseudo-terminal --------------------------------------------- */

#define S_SCREEN_ROWS S_TTY_ROWS
#define S_SCREEN_COLS S_TTY_COLS

/* A tiny terminal: what a person would see after the bytes sluicectl wrote.
   It knows only what the live view is allowed to send (text, CR, LF, cursor
   up, erase below, the view's own colours); anything else is recorded in
   bad, so a control sequence that came from the daemon's strings shows. */
typedef struct {
    char cell[S_SCREEN_ROWS][S_SCREEN_COLS + 1];
    int r, c;
    int cols;    /* the terminal's width (<= S_SCREEN_COLS) */
    bool nowrap; /* DECAWM off (CSI ?7l): the last column is overwritten */
    int ups;     /* cursor-up sequences seen */
    int erases;  /* erase-below sequences seen */
    char bad[128];
    size_t bad_at;
} s_screen_t;

static void s_screen_bad(s_screen_t *s, const char *what, size_t at)
{
    if (!s->bad[0]) {
        snprintf(s->bad, sizeof(s->bad), "%s at byte %zu", what, at);
        s->bad_at = at;
    }
}

static void s_screen_feed(s_screen_t *s, const char *b, size_t n)
{
    memset(s->cell, ' ', sizeof(s->cell));
    for (int i = 0; i < S_SCREEN_ROWS; i++) {
        s->cell[i][s->cols] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (ch == 0x1b) {
            if (i + 1 >= n || b[i + 1] != '[') {
                s_screen_bad(s, "ESC not starting a CSI", i);
                continue;
            }
            bool private_mode = i + 2 < n && b[i + 2] == '?';
            size_t j = i + 2 + (private_mode ? 1 : 0);
            while (j < n && ((b[j] >= '0' && b[j] <= '9') || b[j] == ';')) {
                j++;
            }
            if (j >= n) {
                s_screen_bad(s, "unterminated CSI", i);
                break;
            }
            int arg = j > i + 2 ? atoi(b + i + 2 + (private_mode ? 1 : 0)) : 0;
            char params[16] = "";
            snprintf(params, sizeof(params), "%.*s", (int)(j - i - 2), b + i + 2);
            if (private_mode && arg == 7 && (b[j] == 'l' || b[j] == 'h')) {
                s->nowrap = b[j] == 'l'; /* autowrap off while the view draws */
            } else if (private_mode) {
                s_screen_bad(s, "a CSI the view does not send", i);
            } else if (b[j] == 'A') {
                s->r -= arg > 0 ? arg : 1;
                s->r = s->r < 0 ? 0 : s->r;
                s->ups++;
            } else if (b[j] == 'J' && arg == 0) {
                memset(s->cell[s->r] + s->c, ' ', (size_t)(s->cols - s->c));
                for (int k = s->r + 1; k < S_SCREEN_ROWS; k++) {
                    memset(s->cell[k], ' ', (size_t)s->cols);
                }
                s->erases++;
            } else if (b[j] == 'm' &&
                       (!strcmp(params, "0") || !strcmp(params, "1") || !strcmp(params, "31") ||
                        !strcmp(params, "32") || !strcmp(params, "33"))) {
                /* the view's own bold and status colours */
            } else {
                s_screen_bad(s, "a CSI the view does not send", i);
            }
            i = j;
        } else if (ch == '\r') {
            s->c = 0;
        } else if (ch == '\n') {
            if (++s->r == S_SCREEN_ROWS) {
                memmove(s->cell[0], s->cell[1], sizeof(s->cell[0]) * (S_SCREEN_ROWS - 1));
                memset(s->cell[S_SCREEN_ROWS - 1], ' ', (size_t)s->cols);
                s->r--;
            }
        } else if (ch < 0x20 || ch == 0x7f) {
            s_screen_bad(s, "a raw control byte", i);
        } else {
            if (s->c == s->cols && s->nowrap) {
                s->c = s->cols - 1;       /* no autowrap: the last column is overwritten */
            } else if (s->c == s->cols) { /* autowrap */
                s->c = 0;
                if (++s->r == S_SCREEN_ROWS) {
                    s->r--;
                }
            }
            s->cell[s->r][s->c++] = (char)ch;
        }
    }
}

/* Row i without trailing blanks, into buf. */
static const char *s_screen_row(const s_screen_t *s, int i, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s->cell[i]);
    size_t len = strlen(buf);
    while (len > 0 && buf[len - 1] == ' ') {
        buf[--len] = '\0';
    }
    return buf;
}

static int s_count_str(const char *hay, size_t len, const char *needle)
{
    int n = 0;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++) {
        if (memcmp(hay + i, needle, nl) == 0) {
            n++;
        }
    }
    return n;
}

/* Runs `sluicectl watch p1` on a cols-wide pseudo-terminal against a
   scripted pipeline (progress, breaker, health, alert, hostile strings),
   replays its output on *screen and fails on anything the view does not
   send itself. *run keeps the raw output; *frames the frames drawn. */
static void s_watch_live(s_fake_t *f, int cols, s_run_t *run_out, s_screen_t *screen_out,
                         int *frames_out)
{
    s_rule_t *r = s_rule(f, "pipeline.get");
    r->steps[0] = "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"running\",\"stage\":"
                  "\"analysis\",\"tasks\":[{\"id\":\"p1-t0001\",\"service\":\"static-analyzer\","
                  "\"template\":\"api_url_shortener\",\"app_number\":3,\"status\":\"queued\","
                  "\"attempts\":0}]}}";
    r->steps[1] = "{\"ok\":true,\"pipeline\":{\"id\":\"p1\",\"status\":\"completed\",\"stage\":"
                  "\"done\",\"tasks\":[{\"id\":\"p1-t0001\",\"service\":\"static-analyzer\","
                  "\"template\":\"api_url_shortener\",\"app_number\":3,\"status\":\"succeeded\","
                  "\"attempts\":1,\"progress\":{\"stage\":\"report\",\"pct\":100}}]}}";
    /* Hostile strings: a screen clear, a window-title OSC ended by BEL, a CR
       that would overwrite the line, DEL. None may reach the terminal. */
#define S_EVIL "\\u001b[2J\\u001b]0;pwned\\u0007\\r\\u007f"
    static const char *const events[] = {
        "task.status",
        "{\"seq\":1,\"ts\":1770000000001,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"status\":\"running\",\"attempt\":1,\"service\":\"static-analyzer\"}",
        "task.progress",
        "{\"seq\":2,\"ts\":1770000000002,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"attempt\":1,\"stage\":\"bandit\",\"pct\":10,\"message\":\"m\"}",
        "task.progress",
        "{\"seq\":3,\"ts\":1770000000003,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"attempt\":1,\"stage\":\"ban" S_EVIL "dit\",\"pct\":40,\"message\":\"m" S_EVIL "\"}",
        "endpoint.breaker",
        "{\"seq\":4,\"ts\":1770000000004,\"service\":\"static-analyzer\",\"replica\":"
        "\"ws://127.0.0.1:2001\",\"from\":\"closed\",\"to\":\"open\",\"reason\":\"failures" S_EVIL
        "\"}",
        "endpoint.health",
        "{\"seq\":5,\"ts\":1770000000005,\"service\":\"static-analyzer\",\"replica\":"
        "\"ws://127.0.0.1:2001" S_EVIL "\",\"healthy\":false,\"reason\":\"consecutive_failures\"}",
        "alert",
        "{\"seq\":6,\"ts\":1770000000006,\"kind\":\"dlq" S_EVIL
        "\",\"message\":\"third strike" S_EVIL "\"}",
        "pipeline.stage",
        "{\"seq\":7,\"ts\":1770000000007,\"pipeline_id\":\"p1\",\"stage\":\"report" S_EVIL "\"}",
        "task.progress",
        "{\"seq\":8,\"ts\":1770000000008,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"attempt\":1,\"stage\":\"bandit\",\"pct\":75,\"message\":\"m\"}",
        "task.status",
        "{\"seq\":9,\"ts\":1770000000009,\"pipeline_id\":\"p1\",\"task_id\":\"p1-t0001\","
        "\"status\":\"succeeded\",\"attempt\":1,\"service\":\"static-analyzer\"}",
        "pipeline.status",
        "{\"seq\":10,\"ts\":1770000000010,\"pipeline_id\":\"p1\",\"status\":\"completed\","
        "\"stage\":\"done\"}",
        NULL,
        NULL,
    };
#undef S_EVIL
    f->publish = events;
    f->publish_gap_ms = 150; /* the view redraws at most every 100 ms */
    s_run_t run;
    s_tty_cols = cols;
    s_run_ex(f, &run, (const char *const[]){"--api", f->api, "--pub", f->pub, "watch", "p1", NULL},
             true);
    assert_int_equal(s_code(&run), 0);
    assert_true(f->published);
    assert_int_equal(s_count(f, "events.since"), 0); /* no gap */

    /* The stream: the task's bar at each step it was drawn at, redrawn in
       place (cursor up, erase below), never a new block per event. */
    assert_non_null(strstr(run.out, "[########............]  40%"));
    assert_non_null(strstr(run.out, "[###############.....]  75%"));
    assert_non_null(strstr(run.out, "[####################] 100%"));
    int frames = s_count_str(run.out, run.out_len, "pipeline p1");
    s_tty_cols = S_TTY_COLS;
    s_screen_t screen;
    memset(&screen, 0, sizeof(screen));
    screen.cols = cols;
    s_screen_feed(&screen, run.out, run.out_len);
    if (screen.bad[0]) {
        char near[512] = "";
        size_t from = screen.bad_at > 40 ? screen.bad_at - 40 : 0;
        for (size_t i = from, k = 0; i < run.out_len && i < screen.bad_at + 40 && k < 500; i++) {
            unsigned char ch = (unsigned char)run.out[i];
            k += (size_t)snprintf(near + k, sizeof(near) - k,
                                  ch < 0x20 || ch == 0x7f ? "\\x%02x" : "%c", ch);
        }
        fail_msg("the terminal got %s: ...%s...", screen.bad, near);
    }
    *run_out = run;
    *screen_out = screen;
    *frames_out = frames;
}

static void test_sluicectl_watch_live_view(void **state)
{
    s_fake_t *f = *state;
    s_run_t run;
    s_screen_t screen;
    int frames = 0;
    s_watch_live(f, S_TTY_COLS, &run, &screen, &frames);
    assert_true(frames >= 4);
    assert_int_equal(screen.ups, frames - 1);
    assert_int_equal(screen.erases, frames);

    /* The screen at the end: one frame, the final state. */
    char row[S_SCREEN_COLS + 1];
    assert_non_null(strstr(s_screen_row(&screen, 0, row, sizeof(row)), "pipeline p1  completed"));
    assert_non_null(strstr(row, "stage done"));
    assert_non_null(strstr(row, "1 tasks"));
    s_screen_row(&screen, 1, row, sizeof(row));
    assert_non_null(strstr(row, "t0001"));
    assert_non_null(strstr(row, "static-analyzer"));
    assert_non_null(strstr(row, "api_url_shortener #3"));
    assert_non_null(strstr(row, "succeeded"));
    assert_non_null(strstr(row, "[####################] 100%"));
    s_screen_row(&screen, 2, row, sizeof(row));
    assert_non_null(strstr(row, "breaker static-analyzer ws://127.0.0.1:2001: closed -> open"));
    assert_non_null(strstr(row, "failures"));
    s_screen_row(&screen, 3, row, sizeof(row));
    assert_non_null(strstr(row, "health static-analyzer ws://127.0.0.1:2001"));
    assert_non_null(strstr(row, "unhealthy (consecutive_failures)"));
    s_screen_row(&screen, 4, row, sizeof(row));
    assert_non_null(strstr(row, "alert dlq"));
    assert_non_null(strstr(row, "third strike"));
    for (int i = 5; i < S_SCREEN_ROWS; i++) {
        if (*s_screen_row(&screen, i, row, sizeof(row))) {
            fail_msg("row %d left on the screen: '%s'", i, row);
        }
    }
    assert_null(strstr(run.out, "pwned\a"));
    assert_null(memchr(run.out, '\a', run.out_len));
}

/* On a terminal narrower than a task line the frame must still be redrawn
   in place: lines are cut at the edge, not wrapped onto rows the next
   cursor-up does not climb, so old frames never pile up. */
static void test_sluicectl_watch_live_view_narrow(void **state)
{
    s_fake_t *f = *state;
    s_run_t run;
    s_screen_t screen;
    int frames = 0;
    s_watch_live(f, 60, &run, &screen, &frames);
    assert_true(frames >= 4);
    char row[S_SCREEN_COLS + 1];
    assert_non_null(strstr(s_screen_row(&screen, 0, row, sizeof(row)), "pipeline p1  completed"));
    assert_true(strlen(row) <= 60);
    assert_non_null(strstr(s_screen_row(&screen, 1, row, sizeof(row)), "t0001"));
    assert_non_null(strstr(s_screen_row(&screen, 2, row, sizeof(row)), "breaker static-analyzer"));
    assert_non_null(strstr(s_screen_row(&screen, 3, row, sizeof(row)), "health static-analyzer"));
    assert_non_null(strstr(s_screen_row(&screen, 4, row, sizeof(row)), "alert dlq"));
    for (int i = 5; i < S_SCREEN_ROWS; i++) {
        if (*s_screen_row(&screen, i, row, sizeof(row))) {
            fail_msg("row %d left on the screen: '%s'", i, row);
        }
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sluicectl_submit_file_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_submit_flags_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_json_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_wait_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_dropped_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_error_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_bad_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_result_to_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_watch_fills_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_watch_without_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_watch_live_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sluicectl_watch_live_view_narrow, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
