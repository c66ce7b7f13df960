/*  test_daemon.c: the real sluiced against the real mock fleet, end to end.

    Each case makes a mkdtemp directory, starts sluice-mock-analyzer (port 0
    replicas, its out-of-band progress pushed to a free loopback port where
    sluiced listens) and sluiced (API and PUB on ipc:// paths in the temp
    directory, short service timeouts), talks msgpack to the API with a
    DEALER (tests/e2e/e2e.h), and stops every child by pid in the teardown,
    which also runs when an assert fails.

    - incident: the seed report replayed (1 model x 3 templates x 4
      analyzers; the second generated app's analyzers all fail with the
      report's "event loop error"; one static replica hangs, one dynamic
      replica drops its connections, one performance replica freezes):
      partial_success, right per-task states, retries on other replicas,
      and the pipeline ends within a fraction of a second of its last task.
    - check_config: --check-config names the file, line and key; exit 2.
    - second_daemon: a second sluiced on a held data dir exits 3, clearly.
    - sigterm_resume: SIGTERM mid-pipeline exits 0; the restarted daemon
      finishes the pipeline without re-running any committed task.
    - sigterm_drain: with a long enough grace period the attempts running
      at SIGTERM finish in the stopping daemon (once), nothing new starts
      while it drains, and the held-back tasks run after the restart.
    - bad_requests: malformed and invalid requests get error replies and
      change nothing; list_bad_status: an invalid pipeline.list filter too.
    - block_survives / freeze_retried: on sluiced's built-in defaults
      divided by 45 (the mock at --time-scale 1/45), a replica whose event
      loop blocks for 20 s (scaled) mid-analysis is suspect, not dead: one
      attempt, no breaker event; a frozen one is still found within ping
      interval + grace and the task retried on the other replica.
    - static_slow_phases_on_defaults: a static analysis silent for 10
      minutes per phase (scaled) succeeds on the per-service defaults.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

#define S_MODEL "google_gemini-3-flash-preview-20251217"

/* Starts the mock with the given args (consumed) plus a progress gateway. */
static void s_start_mock(e2e_fx_t *fx, e2e_args_t *args)
{
    e2e_fx_add_gateway(fx, args, NULL);
    e2e_fx_start_mock(fx, args, NULL);
}

/* One option and its value: `flag`, then the formatted value. */
static void s_opt(e2e_args_t *a, const char *flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_opt(e2e_args_t *a, const char *flag, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    e2e_args_add(a, "%s", flag);
    e2e_args_add(a, "%s", value);
}

static void s_short_timeouts(e2e_args_t *a)
{
    for (int s = 0; s < E2E_NSERVICES; s++) {
        const char *n = e2e_service_names[s];
        s_opt(a, "--set", "services/%s/connect_timeout_ms=500", n);
        s_opt(a, "--set", "services/%s/ping_interval_ms=100", n);
        s_opt(a, "--set", "services/%s/pong_timeout_ms=300", n);
        s_opt(a, "--set", "services/%s/progress_timeout_s=1", n);
        s_opt(a, "--set", "services/%s/attempt_timeout_s=2", n);
        s_opt(a, "--set", "services/%s/liveness_grace_s=1", n);
    }
    s_opt(a, "--set", "pipeline/backoff_initial_ms=50");
    s_opt(a, "--set", "pipeline/backoff_max_ms=200");
    s_opt(a, "--set", "watchdog/stuck_after_s=3");
}

static void s_ping(e2e_fx_t *fx)
{
    json_t *pong = e2e_callf(fx->api, 5000, "{ss}", "op", "ping");
    assert_true(e2e_ok(pong));
    json_decref(pong);
}

/* Starts sluiced on fx->data with the base settings plus extra (consumed,
   may be NULL) and pings it. */
static void s_start_daemon(e2e_fx_t *fx, e2e_args_t *extra)
{
    e2e_fx_start_daemon_args(fx, extra);
    if (extra) {
        e2e_args_free(extra);
    }
    s_ping(fx);
}

/* The mock's "incident" fleet; latency and progress (ms) may be NULL. */
static void s_start_incident_fleet(e2e_fx_t *fx, const char *latency, const char *progress,
                                   const char *time_scale)
{
    e2e_args_t m = {0};
    s_opt(&m, "--fleet", "incident");
    if (latency) {
        s_opt(&m, "--latency", "%s", latency);
    }
    if (progress) {
        s_opt(&m, "--progress", "%s", progress);
    }
    s_opt(&m, "--time-scale", "%s", time_scale);
    s_start_mock(fx, &m);
}

/* The incident fleet whose analyzers all return a verdict about app 1
   ("Model path not found", not retried), time-scaled. */
static void s_start_verdict_fleet(e2e_fx_t *fx)
{
    e2e_args_t m = {0};
    s_opt(&m, "--fleet", "incident");
    s_opt(&m, "--verdict-app", "1");
    s_opt(&m, "--time-scale", "0.02");
    s_start_mock(fx, &m);
}

/* sluiced with short timeouts and, unless NULL, one more --set. */
static void s_start_daemon_short(e2e_fx_t *fx, const char *set)
{
    e2e_args_t d = {0};
    s_short_timeouts(&d);
    if (set) {
        s_opt(&d, "--set", "%s", set);
    }
    s_start_daemon(fx, &d);
}

/* The incident's start request from tests/data/requests, as a JSON object. */
static json_t *s_incident_request(void)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/requests/incident.json", src ? src : ".");
    json_error_t err;
    json_t *req = json_load_file(path, 0, &err);
    if (!req) {
        fprintf(stderr, "cannot load %s: %s (line %d)\n", path, err.text, err.line);
    }
    assert_non_null(req);
    json_object_set_new(req, "op", json_string("pipeline.start"));
    return req;
}

static char *s_start_pipeline(e2e_fx_t *fx, json_t *req)
{
    json_t *r = e2e_call(fx->api, req, 10000);
    if (!e2e_ok(r)) {
        char *dump = r ? json_dumps(r, 0) : NULL;
        fprintf(stderr, "pipeline.start: %s\n", dump ? dump : "(no reply)");
        free(dump);
    }
    assert_true(e2e_ok(r));
    char *id = strdup(json_string_value(json_object_get(r, "pipeline_id")));
    json_decref(r);
    assert_non_null(id);
    return id;
}

/* One app of model m1 analysed by bandit: the pipeline's id (caller frees). */
static char *s_start_bandit_pipeline(e2e_fx_t *fx)
{
    json_t *req = json_pack("{ss s{s{ss s[{ss si}]} s{s[s]}}}", "op", "pipeline.start", "config",
                            "generation", "mode", "existing", "existing_apps", "model", "m1",
                            "app_number", 1, "analysis", "tools", "bandit");
    return s_start_pipeline(fx, req);
}

static json_t *s_task_get(e2e_fx_t *fx, const char *task_id)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "task.get", "task_id", task_id);
    assert_true(e2e_ok(r));
    json_t *t = json_incref(json_object_get(r, "task"));
    json_decref(r);
    return t;
}

static int64_t s_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void s_print_pipeline(const json_t *p)
{
    char *dump = json_dumps(p, JSON_COMPACT);
    fprintf(stderr, "pipeline: %s\n", dump ? dump : "?");
    free(dump);
}

/* Waits (until deadline_ms) for the pipeline to end, with status want;
   the final pipeline (caller decrefs). */
static json_t *s_wait_final(e2e_fx_t *fx, const char *id, int64_t deadline_ms, const char *want)
{
    json_t *p = e2e_wait_terminal(fx->api, id, deadline_ms);
    if (!p) {
        json_t *last = e2e_pipeline_get(fx->api, id);
        s_print_pipeline(last);
        json_decref(last);
    }
    assert_non_null(p);
    if (strcmp(e2e_str(p, "status"), want)) {
        s_print_pipeline(p);
    }
    assert_string_equal(e2e_str(p, "status"), want);
    return p;
}

/* Polls pipeline.get (bounded: 20 s) until ready(p) while the pipeline is
   still running; that pipeline (caller decrefs). */
static json_t *s_wait_running_until(e2e_fx_t *fx, const char *id, bool (*ready)(const json_t *p))
{
    json_t *p = NULL;
    int64_t deadline = e2e_now_ms() + 20000;
    for (;;) {
        json_decref(p);
        p = e2e_pipeline_get(fx->api, id);
        assert_non_null(p);
        assert_false(e2e_pstatus_terminal(e2e_str(p, "status")));
        if (ready(p)) {
            return p;
        }
        assert_true(e2e_now_ms() < deadline);
        e2e_nap(10);
    }
}

/* The stored result of a task (must exist; caller frees). */
static char *s_result_get(e2e_fx_t *fx, const char *task_id)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "result.get", "task_id", task_id);
    if (!e2e_ok(r)) {
        char *dump = r ? json_dumps(r, JSON_COMPACT) : NULL;
        fprintf(stderr, "result.get %s: %s\n", task_id, dump ? dump : "no reply");
        free(dump);
    }
    assert_true(e2e_ok(r));
    char *text = strdup(e2e_str(r, "result"));
    assert_non_null(text);
    json_decref(r);
    return text;
}

/* How many task.status events of task_id say status. */
static int s_count_status_events(const json_t *events, const char *task_id, const char *status)
{
    int n = 0;
    size_t j;
    json_t *ev;
    json_array_foreach(events, j, ev)
    {
        n += !strcmp(e2e_str(ev, "topic"), "task.status") &&
             !strcmp(e2e_str(ev, "task_id"), task_id) && !strcmp(e2e_str(ev, "status"), status);
    }
    return n;
}

/* ---- (a) the incident, replayed -------------------------------------------------- */

static void test_daemon_incident_partial_success(void **state)
{
    e2e_fx_t *fx = *state;
    e2e_args_t m = {0};
    /* Faulty replicas come first in their lists: with equal load the
       endpoint prefers the first replica, so the first tasks meet them. */
    s_opt(&m, "--replica", "static-analyzer:127.0.0.1:0:fault=hang");
    for (int i = 0; i < 3; i++) {
        s_opt(&m, "--replica", "static-analyzer:127.0.0.1:0");
    }
    s_opt(&m, "--replica", "dynamic-analyzer:127.0.0.1:0:fault=disconnect");
    for (int i = 0; i < 2; i++) {
        s_opt(&m, "--replica", "dynamic-analyzer:127.0.0.1:0");
    }
    s_opt(&m, "--replica", "performance-tester:127.0.0.1:0:fault=freeze");
    s_opt(&m, "--replica", "performance-tester:127.0.0.1:0");
    for (int i = 0; i < 2; i++) {
        s_opt(&m, "--replica", "ai-analyzer:127.0.0.1:0");
    }
    s_opt(&m, "--replica", "generator:127.0.0.1:0");
    /* The generator numbers apps 1, 2, 3 per model in completion order:
       "the second generated app" is app 2, whatever its template. */
    s_opt(&m, "--fail-app", "2");
    s_opt(&m, "--latency", "2000-6000");
    s_opt(&m, "--progress", "700");
    s_opt(&m, "--time-scale", "0.05");
    s_start_mock(fx, &m);
    const char *hang_url = fx->mock->urls[E2E_STATIC][0];
    const char *drop_url = fx->mock->urls[E2E_DYNAMIC][0];
    const char *freeze_url = fx->mock->urls[E2E_PERF][0];

    s_start_daemon_short(fx, NULL);

    json_t *req = s_incident_request();
    /* Per-pipeline timeouts (seconds, fractions allowed): a hung attempt is
       ended after 1 s, a stalled one after 0.5 s of silence. */
    json_object_set_new(req, "timeouts",
                        json_pack("{sf sf si si si}", "attempt", 1.0, "progress", 0.5, "task", 20,
                                  "stage", 30, "pipeline", 40));
    json_object_set_new(req, "retry",
                        json_pack("{si sf sf}", "max_attempts", 3, "initial", 0.05, "max", 0.2));
    /* A monitor on the PUB socket, subscribed before the start. */
    char pub_ep[700];
    snprintf(pub_ep, sizeof(pub_ep), "ipc://%s/pub.sock", fx->dir);
    fx->sub = e2e_sub_connect(pub_ep);
    assert_non_null(fx->sub);
    int64_t t0 = e2e_now_ms();
    char *id = s_start_pipeline(fx, req);
    json_t *p = s_wait_final(fx, id, t0 + 30000, "partial_success");
    int64_t took = e2e_now_ms() - t0;
    fprintf(stderr, "incident pipeline %s ended %s in %lld ms\n", id, e2e_str(p, "status"),
            (long long)took);
    json_t *tasks = json_object_get(p, "tasks");
    assert_int_equal(json_array_size(tasks), 15);
    assert_int_equal(e2e_count_tasks(p, "generation", "succeeded"), 3);
    json_t *counts = json_object_get(p, "counts");
    assert_int_equal(s_int(counts, "total"), 15);
    assert_int_equal(s_int(counts, "succeeded"), 11);
    assert_int_equal(s_int(counts, "failed") + s_int(counts, "dead"), 4);

    int64_t last_end = 0;
    int retried_ok = 0, app2 = 0, apps_seen[4] = {0};
    bool hang_caught = false, drop_caught = false, freeze_caught = false;
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        json_t *full = s_task_get(fx, e2e_str(t, "id"));
        const char *kind = e2e_str(t, "kind");
        const char *status = e2e_str(t, "status");
        int64_t app = s_int(t, "app_number");
        if (!strcmp(kind, "generation")) {
            assert_true(app >= 1 && app <= 3);
            apps_seen[app]++;
        } else if (app == 2) {
            app2++;
            if (strcmp(status, "failed") && strcmp(status, "dead")) {
                fprintf(stderr, "task %s of app 2 ended %s\n", e2e_str(t, "id"), status);
                fail();
            }
            assert_non_null(strstr(e2e_str(t, "error"), "event loop error"));
        } else if (strcmp(status, "succeeded")) {
            char *dump = json_dumps(full, JSON_COMPACT);
            fprintf(stderr, "task should have succeeded: %s\n", dump);
            free(dump);
            fail();
        }
        json_t *hist = json_object_get(full, "history");
        size_t nh = json_array_size(hist);
        /* Attempts counted are attempts made. */
        assert_int_equal(s_int(t, "attempts"), (int64_t)nh);
        assert_true(nh >= 1 && nh <= 3);
        for (size_t h = 0; h < nh; h++) {
            json_t *a = json_array_get(hist, h);
            const char *rep = e2e_str(a, "replica");
            const char *outcome = e2e_str(a, "outcome");
            if (!strcmp(rep, hang_url) && (app != 2 || !strcmp(kind, "generation"))) {
                /* a hang is ended by a timer well before the task budget */
                assert_true(!strcmp(outcome, "attempt_timeout") ||
                            !strcmp(outcome, "progress_timeout") ||
                            !strcmp(outcome, "pong_timeout"));
                hang_caught = true;
                /* by the pipeline's attempt timeout (1 s), not the service's (2 s) */
                int64_t took_ms = s_int(a, "ended_at") - s_int(a, "started_at");
                if (took_ms > 1600) {
                    fprintf(stderr, "hung attempt on %s lasted %lld ms\n", rep, (long long)took_ms);
                }
                assert_true(took_ms <= 1600);
            }
            if (!strcmp(rep, drop_url) && app != 2) {
                assert_string_equal(outcome, "transport");
                drop_caught = true;
            }
            if (!strcmp(rep, freeze_url) && app != 2) {
                assert_true(!strcmp(outcome, "pong_timeout") ||
                            !strcmp(outcome, "attempt_timeout") ||
                            !strcmp(outcome, "progress_timeout"));
                freeze_caught = true;
            }
            if (h > 0 && !strcmp(status, "succeeded") && h + 1 == nh) {
                /* the retry that succeeded went to another replica */
                const char *prev = e2e_str(json_array_get(hist, h - 1), "replica");
                assert_string_not_equal(prev, rep);
                retried_ok++;
            }
            int64_t end = s_int(a, "ended_at");
            last_end = end > last_end ? end : last_end;
        }
        int64_t upd = s_int(full, "updated_at");
        last_end = upd > last_end ? upd : last_end;
        json_decref(full);
    }
    assert_int_equal(app2, 4);
    assert_int_equal(apps_seen[1] + apps_seen[2] + apps_seen[3], 3);
    assert_true(apps_seen[1] == 1 && apps_seen[2] == 1 && apps_seen[3] == 1);
    fprintf(stderr, "succeeded after a retry: %d; hang %d drop %d freeze %d\n", retried_ok,
            hang_caught, drop_caught, freeze_caught);
    assert_true(retried_ok >= 1);
    assert_true(hang_caught);
    assert_true(drop_caught || freeze_caught);

    /* Ends the moment its last task does (within a fraction of a second). */
    int64_t completed = s_int(p, "completed_at");
    fprintf(stderr, "completed_at - last task end = %lld ms\n", (long long)(completed - last_end));
    assert_true(completed >= last_end);
    assert_true(completed - last_end <= 500);
    assert_true(e2e_str(p, "error_message")[0] != '\0');

    /* The dead tasks of app 2 are in the DLQ with their context. */
    if (s_int(counts, "dead") > 0) {
        json_t *r = e2e_callf(fx->api, 5000, "{ss}", "op", "dlq.list");
        assert_true(e2e_ok(r));
        int in_dlq = 0;
        json_t *e;
        json_array_foreach(json_object_get(r, "entries"), i, e)
        {
            in_dlq += !strcmp(e2e_str(e, "pipeline_id"), id);
        }
        assert_int_equal(in_dlq, s_int(counts, "dead"));
        json_decref(r);
    }

    /* The final status went out as an event, and seqs are gapless. */
    uint64_t last_seq = 0;
    json_t *events = e2e_events_all(fx->api, &last_seq);
    assert_non_null(events);
    assert_int_equal(json_array_size(events), last_seq);
    int finals = 0;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        assert_int_equal(s_int(ev, "seq"), (int64_t)i + 1);
        if (!strcmp(e2e_str(ev, "topic"), "pipeline.status") &&
            !strcmp(e2e_str(ev, "pipeline_id"), id) &&
            e2e_pstatus_terminal(e2e_str(ev, "status"))) {
            assert_string_equal(e2e_str(ev, "status"), "partial_success");
            finals++;
        }
    }
    assert_int_equal(finals, 1);

    /* What the monitor saw: the stored events, in seq order, with no gap,
       up to this pipeline's final status. */
    int64_t prev = 0;
    int seen = 0;
    for (;;) {
        json_t *pe = e2e_sub_next(fx->sub, e2e_now_ms() + 5000);
        assert_non_null(pe);
        int64_t seq = s_int(pe, "seq");
        assert_true(seq >= 1 && (uint64_t)seq <= last_seq);
        if (prev) {
            assert_int_equal(seq, prev + 1);
        }
        prev = seq;
        seen++;
        json_t *stored = json_array_get(events, (size_t)seq - 1);
        if (!json_equal(pe, stored)) {
            char *a = json_dumps(pe, JSON_COMPACT | JSON_SORT_KEYS);
            char *b = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
            fprintf(stderr, "PUB event differs from the stored one:\n  %s\n  %s\n", a, b);
            free(a);
            free(b);
            fail();
        }
        bool final = !strcmp(e2e_str(pe, "topic"), "pipeline.status") &&
                     !strcmp(e2e_str(pe, "pipeline_id"), id) &&
                     e2e_pstatus_terminal(e2e_str(pe, "status"));
        json_decref(pe);
        if (final) {
            break;
        }
    }
    fprintf(stderr, "monitor saw %d events, gapless\n", seen);
    assert_true(seen >= 30);
    json_decref(events);
    json_decref(p);
    free(id);
}

/* ---- (b) --check-config ------------------------------------------------------------- */

static int s_run(e2e_fx_t *fx, char *const argv[], char *out, size_t outsize)
{
    e2e_proc_t *p = e2e_spawn(argv, NULL, fx->log_d);
    assert_non_null(p);
    out[0] = '\0';
    size_t len = 0;
    char line[1024];
    int64_t deadline = e2e_now_ms() + 10000;
    while (e2e_read_line(p, line, sizeof(line), deadline) == 0) {
        len += (size_t)snprintf(out + len, outsize > len ? outsize - len : 0, "%s\n", line);
        if (len >= outsize) {
            len = outsize - 1;
        }
    }
    int code = e2e_wait_exit(p, deadline);
    if (code == -1) {
        code = e2e_stop(p, SIGKILL, 1000);
    }
    e2e_proc_free(&p);
    return code;
}

static void test_daemon_check_config(void **state)
{
    e2e_fx_t *fx = *state;
    char bad1[600], bad2[600], good[600], out[4096];
    snprintf(bad1, sizeof(bad1), "%s/bad-value.conf", fx->dir);
    snprintf(bad2, sizeof(bad2), "%s/bad-key.conf", fx->dir);
    snprintf(good, sizeof(good), "%s/good.conf", fx->dir);
    assert_int_equal(e2e_write_file(bad1, "# a service timeout that is not a number\n"
                                          "sluice\n"
                                          "    data_dir = \"/tmp/x\"\n"
                                          "services\n"
                                          "    static-analyzer\n"
                                          "        connect_timeout_ms = soon\n"),
                     0);
    assert_int_equal(e2e_write_file(bad2, "pipeline\n"
                                          "    max_attempts = 3\n"
                                          "    max_atempts = 4\n"),
                     0);
    assert_int_equal(e2e_write_file(good, "pipeline\n"
                                          "    max_attempts = 5\n"
                                          "services\n"
                                          "    ai-analyzer\n"
                                          "        urls = \"ws://127.0.0.1:1,ws://127.0.0.1:2\"\n"),
                     0);
    char *argv1[] = {SLUICED_BIN, "--check-config", bad1, NULL};
    assert_int_equal(s_run(fx, argv1, out, sizeof(out)), 2);
    char want[700];
    snprintf(want, sizeof(want), "%s:6:", bad1);
    assert_true(e2e_file_contains(fx->log_d, want));
    assert_true(e2e_file_contains(fx->log_d, "services/static-analyzer/connect_timeout_ms"));

    char *argv2[] = {SLUICED_BIN, "--check-config", bad2, NULL};
    assert_int_equal(s_run(fx, argv2, out, sizeof(out)), 2);
    snprintf(want, sizeof(want), "%s:3:", bad2);
    assert_true(e2e_file_contains(fx->log_d, want));
    assert_true(e2e_file_contains(fx->log_d, "pipeline/max_atempts"));

    char *argv3[] = {SLUICED_BIN, "--check-config", good, NULL};
    assert_int_equal(s_run(fx, argv3, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "ok"));

    /* Starting with the bad file refuses too, before touching the data dir. */
    char data_set[600];
    snprintf(data_set, sizeof(data_set), "sluice/data_dir=%s", fx->data);
    char *argv4[] = {SLUICED_BIN, "--set", data_set, "--config", bad2, NULL};
    assert_int_equal(s_run(fx, argv4, out, sizeof(out)), 2);
    assert_null(strstr(out, "ready"));
}

/* ---- (c) a second daemon on a held data dir ------------------------------------------------- */

static void test_daemon_second_daemon_refused(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_daemon(fx, NULL);
    /* Same data dir, other sockets: only the data dir can stop it. */
    e2e_args_t a = {0};
    s_opt(&a, "--set", "sluice/data_dir=%s", fx->data);
    s_opt(&a, "--set", "api/endpoint=ipc://%s/api2.sock", fx->dir);
    s_opt(&a, "--set", "api/pub=ipc://%s/pub2.sock", fx->dir);
    s_opt(&a, "--set", "progress/listen=");
    char log2[700];
    snprintf(log2, sizeof(log2), "%s/sluiced2.log", fx->dir);
    int code = 0;
    int64_t t0 = e2e_now_ms();
    fx->d2 = e2e_sluiced_start(SLUICED_BIN, &a, log2, 10000, &code);
    e2e_args_free(&a);
    assert_null(fx->d2);
    assert_int_equal(code, 3);
    assert_true(e2e_now_ms() - t0 < 10000);
    char *text = e2e_read_file(log2);
    assert_non_null(text);
    fprintf(stderr, "second sluiced said: %s", text);
    /* a clear message: names the directory and who holds it */
    assert_non_null(strstr(text, fx->data));
    char pid[32];
    snprintf(pid, sizeof(pid), "%d", (int)fx->d->pid);
    assert_non_null(strstr(text, pid));
    free(text);
    /* the first one is unharmed */
    s_ping(fx);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* ---- (d) SIGTERM, then resume --------------------------------------------------------------- */

typedef struct {
    char id[128];
    int64_t attempts;
    size_t nhist;
    char *result;
} s_done_t;

static bool s_some_done_some_running(const json_t *p)
{
    return e2e_count_tasks(p, "analysis", "succeeded") >= 1 &&
           e2e_count_tasks(p, "analysis", "running") >= 1;
}

static void test_daemon_sigterm_resume(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_incident_fleet(fx, "3000-6000", "700", "0.1");
    s_start_daemon_short(fx, "sluice/shutdown_grace_ms=100");

    json_t *req = s_incident_request();
    json_object_set_new(req, "retry",
                        json_pack("{si sf sf}", "max_attempts", 3, "initial", 0.05, "max", 0.2));
    char *id = s_start_pipeline(fx, req);

    /* Wait (bounded) until some analysis has succeeded and some has not. */
    json_t *p = s_wait_running_until(fx, id, s_some_done_some_running);
    /* Snapshot every committed result. */
    s_done_t done[16];
    size_t ndone = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        if (strcmp(e2e_str(t, "status"), "succeeded") || ndone == 16) {
            continue;
        }
        s_done_t *x = &done[ndone++];
        snprintf(x->id, sizeof(x->id), "%s", e2e_str(t, "id"));
        json_t *full = s_task_get(fx, x->id);
        x->attempts = s_int(full, "attempts");
        x->nhist = json_array_size(json_object_get(full, "history"));
        json_decref(full);
        x->result = s_result_get(fx, x->id);
        assert_true(strlen(x->result) > 0);
    }
    json_decref(p);
    p = NULL;
    fprintf(stderr, "SIGTERM with %zu tasks done\n", ndone);

    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
    e2e_proc_free(&fx->d);
    assert_true(e2e_file_contains(fx->log_d, "sluiced: stopped"));

    /* the same settings again, on the same data dir */
    s_start_daemon_short(fx, "sluice/shutdown_grace_ms=100");
    p = s_wait_final(fx, id, e2e_now_ms() + 30000, "completed");
    /* A fault-free fleet: every task took exactly one counted attempt, the
       ones interrupted by the stop included. */
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        if (s_int(t, "attempts") != 1) {
            json_t *full = s_task_get(fx, e2e_str(t, "id"));
            char *dump = json_dumps(full, JSON_COMPACT);
            fprintf(stderr, "attempts inflated: %s\n", dump);
            free(dump);
            json_decref(full);
        }
        assert_int_equal(s_int(t, "attempts"), 1);
    }
    for (size_t k = 0; k < ndone; k++) {
        json_t *full = s_task_get(fx, done[k].id);
        assert_string_equal(e2e_str(full, "status"), "succeeded");
        assert_int_equal(s_int(full, "attempts"), done[k].attempts);
        assert_int_equal(json_array_size(json_object_get(full, "history")), done[k].nhist);
        json_decref(full);
        char *result = s_result_get(fx, done[k].id);
        assert_string_equal(result, done[k].result);
        free(result);
        free(done[k].result);
    }
    /* No task succeeded twice: one task.status succeeded event per task. */
    uint64_t last_seq = 0;
    json_t *events = e2e_events_all(fx->api, &last_seq);
    assert_non_null(events);
    assert_int_equal(json_array_size(events), last_seq);
    json_t *ev;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        assert_int_equal(s_count_status_events(events, e2e_str(t, "id"), "succeeded"), 1);
    }
    json_array_foreach(events, i, ev)
    {
        assert_int_equal(s_int(ev, "seq"), (int64_t)i + 1);
    }
    json_decref(events);
    json_decref(p);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* The wall time (ms) at which the first stop's shards began to drain: the
   latest "draining (shutdown)" log line before the first "sluiced:
   stopped" (lines start with an ISO-8601 UTC time), or -1. */
static int64_t s_drain_began(const char *log)
{
    char *text = e2e_read_file(log);
    int64_t latest = -1;
    char *end = text ? strstr(text, "sluiced: stopped") : NULL;
    for (char *line = text; line && line < end;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        char *nl = strchr(line, '\n');
        char *hit = strstr(line, ": draining (shutdown)");
        struct tm tm = {0};
        int ms = 0;
        if (hit && (!nl || hit < nl) &&
            sscanf(line, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec, &ms) == 7) {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            int64_t t = (int64_t)timegm(&tm) * 1000 + ms;
            latest = t > latest ? t : latest;
        }
    }
    free(text);
    return latest;
}

static bool s_some_done_live_and_pending(const json_t *p)
{
    return e2e_count_tasks(p, "analysis", "succeeded") >= 1 &&
           e2e_count_tasks(p, "analysis", "running") + e2e_count_tasks(p, "analysis", "queued") >=
               1 &&
           e2e_count_tasks(p, "analysis", "pending") >= 2;
}

/* A grace period long enough: the attempts running at SIGTERM finish in the
   old daemon (results committed, no second attempt), nothing new starts
   during the drain, and the held-back tasks run after the restart. */
static void test_daemon_sigterm_drain(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_incident_fleet(fx, "3000-6000", "700", "0.1");
    s_start_daemon_short(fx, "sluice/shutdown_grace_ms=10000");

    /* 3 generations, then 12 analyses 4 at a time */
    char *id = s_start_pipeline(fx, s_incident_request());
    json_t *p = s_wait_running_until(fx, id, s_some_done_live_and_pending);
    /* The attempts in flight now (more may start before the signal lands). */
    char live[16][128];
    size_t nlive = 0, i;
    json_t *t;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        const char *st = e2e_str(t, "status");
        if ((!strcmp(st, "queued") || !strcmp(st, "running")) && nlive < 16) {
            snprintf(live[nlive++], sizeof(live[0]), "%s", e2e_str(t, "id"));
        }
    }
    json_decref(p);
    p = NULL;
    assert_true(nlive >= 1);

    int64_t t_term = e2e_wall_ms();
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
    e2e_proc_free(&fx->d);
    assert_true(e2e_file_contains(fx->log_d, "drained: every running attempt ended"));
    assert_true(e2e_file_contains(fx->log_d, "sluiced: stopped"));
    fprintf(stderr, "SIGTERM with %zu attempts in flight; drained in %lld ms\n", nlive,
            (long long)(e2e_wall_ms() - t_term));
    int64_t t_drain = s_drain_began(fx->log_d);
    assert_true(t_drain >= t_term - 1000);

    int64_t t_restart = e2e_wall_ms();
    s_start_daemon_short(fx, NULL);
    p = s_wait_final(fx, id, e2e_now_ms() + 30000, "completed");

    uint64_t last_seq = 0;
    json_t *events = e2e_events_all(fx->api, &last_seq);
    assert_non_null(events);
    /* The ones in flight at the signal ended in the old daemon, once. */
    for (size_t k = 0; k < nlive; k++) {
        json_t *full = s_task_get(fx, live[k]);
        assert_string_equal(e2e_str(full, "status"), "succeeded");
        assert_int_equal(s_int(full, "attempts"), 1);
        json_t *hist = json_object_get(full, "history");
        assert_int_equal(json_array_size(hist), 1);
        assert_true(s_int(json_array_get(hist, 0), "ended_at") < t_restart);
        json_decref(full);
        assert_int_equal(s_count_status_events(events, live[k], "queued"), 1);
        char *result = s_result_get(fx, live[k]);
        assert_true(strlen(result) > 0);
        free(result);
    }
    /* Nothing started while draining; some tasks were held back and ran
       after the restart. Every task took one attempt. */
    int after = 0;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        assert_int_equal(s_int(t, "attempts"), 1);
        json_t *full = s_task_get(fx, e2e_str(t, "id"));
        json_t *hist = json_object_get(full, "history");
        assert_int_equal(json_array_size(hist), 1);
        int64_t started = s_int(json_array_get(hist, 0), "started_at");
        if (started >= t_restart) {
            after++;
        } else if (started > t_drain) {
            fprintf(stderr, "%s started %lld ms into the drain\n", e2e_str(t, "id"),
                    (long long)(started - t_drain));
            fail();
        }
        json_decref(full);
    }
    fprintf(stderr, "%d tasks held back, run after the restart\n", after);
    assert_true(after >= 2);
    json_decref(events);
    json_decref(p);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* ---- (e) bad requests change nothing -------------------------------------------------------- */

static void s_expect_error(e2e_fx_t *fx, json_t *r, const char *what, const char *code)
{
    if (!r || e2e_ok(r) || (code && strcmp(e2e_err_code(r), code))) {
        char *dump = r ? json_dumps(r, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s: wanted error %s, got %s\n", what, code ? code : "(any)",
                dump ? dump : "no reply");
        free(dump);
        json_decref(r);
        fail();
    }
    const char *msg = e2e_str(json_object_get(r, "error"), "message");
    assert_true(strlen(msg) > 0);
    assert_true(strlen(e2e_err_code(r)) > 0);
    json_decref(r);
    (void)fx;
}

static json_t *s_list(e2e_fx_t *fx)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss}", "op", "pipeline.list");
    assert_true(e2e_ok(r));
    json_t *l = json_incref(json_object_get(r, "pipelines"));
    json_decref(r);
    return l;
}

static void test_daemon_bad_requests(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_incident_fleet(fx, NULL, NULL, "0.02");
    s_start_daemon_short(fx, "api/max_request_bytes=4096");

    /* One real pipeline, so there is something to leave unchanged. */
    json_t *req = s_incident_request();
    char *id = s_start_pipeline(fx, req);
    json_t *p = e2e_wait_terminal(fx->api, id, e2e_now_ms() + 30000);
    assert_non_null(p);
    json_decref(p);
    json_t *before = s_list(fx);
    assert_int_equal(json_array_size(before), 1);
    uint64_t seq_before = 0;
    json_t *ev = e2e_events_all(fx->api, &seq_before);
    assert_non_null(ev);
    json_decref(ev);

    /* not msgpack, truncated, not a map, several frames */
    s_expect_error(fx, e2e_call_raw(fx->api, "\xc1", 1, 1, 5000), "byte 0xc1", "malformed");
    s_expect_error(fx, e2e_call_raw(fx->api, "\x83\xa2op", 4, 1, 5000), "truncated map",
                   "malformed");
    s_expect_error(fx, e2e_call_raw(fx->api, "\x92\x01\x02", 3, 1, 5000), "array", "malformed");
    s_expect_error(fx, e2e_call_raw(fx->api, "", 0, 1, 5000), "empty frame", "malformed");
    {
        char *buf = NULL;
        size_t len = 0;
        json_t *ping = json_pack("{ss}", "op", "ping");
        e2e_pack(ping, &buf, &len);
        json_decref(ping);
        s_expect_error(fx, e2e_call_raw(fx->api, buf, len, 2, 5000), "two frames", "malformed");
        free(buf);
    }
    /* oversized: refused before it is parsed, so the reply carries no id;
       a pipeline.start at 1x, 2x and 8x the limit is answered too_big */
    {
        char *big = malloc(80000); /* past the socket's ceiling, 16 x 4096 */
        memset(big, 'x', 79999);
        big[79999] = '\0';
        char *buf = NULL;
        size_t len = 0;
        json_t *r = NULL;
        static const size_t factors[] = {1, 2, 8};
        for (size_t i = 0; i < 3; i++) {
            big[factors[i] * 4096] = '\0';
            r = json_pack("{ss ss}", "op", "pipeline.start", "name", big);
            e2e_pack(r, &buf, &len);
            json_decref(r);
            assert_true(len > factors[i] * 4096);
            s_expect_error(fx, e2e_call_raw(fx->api, buf, len, 1, 5000), "oversized", "too_big");
            free(buf);
            big[factors[i] * 4096] = 'x';
        }
        /* far past the limit the frame is dropped by the socket itself:
           whatever the answer, the daemon must survive it */
        r = json_pack("{ss ss}", "op", "ping", "pad", big);
        e2e_pack(r, &buf, &len);
        json_decref(r);
        json_t *ignored = e2e_call_raw(fx->api, buf, len, 1, 500);
        json_decref(ignored);
        free(buf);
        free(big);
        e2e_api_close(&fx->api);
        fx->api = e2e_api_connect(fx->api_ep);
        assert_non_null(fx->api);
    }
    /* missing, mistyped, unknown */
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{si}", "x", 1), "no op", "missing_field");
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{si}", "op", 7), "op int", "invalid");
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss}", "op", "pipeline.explode"), "unknown op",
                   "unknown_op");
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss}", "op", "pipeline.get"), "get no id",
                   "missing_field");
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss si}", "op", "pipeline.get", "pipeline_id", 5),
                   "get int id", "invalid");
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.get", "pipeline_id",
                             "p0000000000000000000"),
                   "get unknown", NULL);
    s_expect_error(
        fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.cancel", "pipeline_id", "nope"),
        "cancel unknown", NULL);
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.cancel", "pipeline_id", id),
                   "cancel finished", NULL);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "task.get", "task_id", "nope"),
                   "task unknown", NULL);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "result.get", "task_id", "nope"),
                   "result unknown", "not_found");
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "dlq.retry", "task_id", "nope"),
                   "dlq unknown", NULL);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "events.since", "seq", "x"),
                   "seq string", "invalid");
    /* start requests that must not start anything */
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss}", "op", "pipeline.start"), "start empty",
                   NULL);
    {
        /* no config at all: the reply names config, not a field inside it */
        json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.start", "name", "n");
        assert_false(e2e_ok(r));
        const char *msg = e2e_str(json_object_get(r, "error"), "message");
        assert_true(strncmp(msg, "config: required", 16) == 0);
        json_decref(r);
    }
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss s{ss ss s[s]}}", "op", "pipeline.start",
                             "generation", "mode", "generate", "models", S_MODEL, "templates",
                             "api_url_shortener"),
                   "models not a list", NULL);
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss s{ss s[s] s[s]} s{s[s]}}", "op", "pipeline.start",
                             "generation", "mode", "generate", "models", S_MODEL, "templates",
                             "api_url_shortener", "analysis", "tools", "no-such-tool"),
                   "unknown tool", NULL);
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss s{ss s[s] s[s]} s{si}}", "op", "pipeline.start",
                             "generation", "mode", "generate", "models", S_MODEL, "templates",
                             "api_url_shortener", "timeouts", "task", -5),
                   "negative timeout", NULL);
    s_expect_error(fx,
                   e2e_callf(fx->api, 5000, "{ss s{ss s[s] s[s]} s{si}}", "op", "pipeline.start",
                             "generation", "mode", "warp", "models", S_MODEL, "templates",
                             "api_url_shortener", "retry", "max_attempts", 0),
                   "bad mode", NULL);

    /* Still alive, and nothing changed: the same pipelines, no new event. */
    s_ping(fx);
    json_t *after = s_list(fx);
    assert_true(json_equal(before, after));
    uint64_t seq_after = 0;
    ev = e2e_events_all(fx->api, &seq_after);
    assert_non_null(ev);
    if (seq_after != seq_before) {
        size_t j;
        json_t *e;
        json_array_foreach(ev, j, e)
        {
            if ((uint64_t)json_integer_value(json_object_get(e, "seq")) > seq_before) {
                char *d = json_dumps(e, JSON_COMPACT);
                fprintf(stderr, "new event: %s\n", d);
                free(d);
            }
        }
    }
    json_decref(ev);
    assert_int_equal(seq_after, seq_before);
    json_decref(before);
    json_decref(after);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* pipeline.list {status: <not a status>} is a bad request like any other:
   the shard says so, and the api must pass that on instead of merging it
   into an empty, successful list. */
static void test_daemon_list_bad_status(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_daemon(fx, NULL);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.list", "status", "sad"),
                   "list bad status", NULL);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss si}", "op", "pipeline.list", "status", 3),
                   "list int status", NULL);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* A task that failed on a verdict keeps the analyzer's frame: result.get
   returns it for the task and for its attempt, so an operator can read
   why. */
static void test_daemon_failed_task_keeps_its_frame(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_verdict_fleet(fx);
    s_start_daemon_short(fx, NULL);
    char *id = s_start_bandit_pipeline(fx);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 30000, "failed");
    const char *tid = e2e_str(json_array_get(json_object_get(p, "tasks"), 0), "id");
    char *frame = s_result_get(fx, tid);
    assert_non_null(strstr(frame, "Model path not found"));
    json_t *r =
        e2e_callf(fx->api, 5000, "{ss ss si}", "op", "result.get", "task_id", tid, "attempt", 1);
    assert_true(e2e_ok(r));
    assert_string_equal(e2e_str(r, "result"), frame);
    json_decref(r);
    s_expect_error(
        fx,
        e2e_callf(fx->api, 5000, "{ss ss si}", "op", "result.get", "task_id", tid, "attempt", 2),
        "no second attempt", "not_found");
    /* sluiced.log at info: one line for the attempt's start, one for its
       end; the attempt is named by its wire id, "<task_id>-a1-<random>". */
    char who[160];
    snprintf(who, sizeof(who), "INFO  [endpoint.static-analyzer] attempt %s-a1-", tid);
    const char *start = " started on ws://", *end = " ended: verdict on ws://";
    free(frame);
    json_decref(p);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
    char *log = e2e_read_file(fx->log_d);
    assert_non_null(log);
    int starts = 0, ends = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, who)) {
            continue;
        }
        starts += strstr(line, start) != NULL;
        if (strstr(line, end)) {
            ends++;
            assert_non_null(strstr(line, " after "));
            assert_non_null(strstr(line, " s: Model path not found"));
        }
    }
    free(log);
    assert_int_equal(starts, 1);
    assert_int_equal(ends, 1);
}

/* The task's dispatch-to-deadline span: its task timeout (ms). */
static int64_t s_task_span(e2e_fx_t *fx, const char *tid)
{
    json_t *t = s_task_get(fx, tid);
    json_t *first = json_array_get(json_object_get(t, "history"), 0);
    int64_t span = s_int(t, "deadline_at") - s_int(first, "started_at");
    json_decref(t);
    return span;
}

/* Scan profiles through the daemon (README, "Scan profiles"): a quick scan
   of four apps with escalation to deep for the apps whose quick scan
   failed (app 1, the mock's verdict) or found more than 8 issues, as the
   quick result frame itself reports them (result.get); deep's tasks are
   new tasks of the same pipeline, under deep's timeouts; a profile with a
   tool its analyzers cannot run is refused naming the tool. */
static void test_daemon_profile_escalation(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_verdict_fleet(fx);
    e2e_args_t d = {0};
    s_short_timeouts(&d);
    /* the mock's static replicas run bandit and pylint, not quick's others */
    s_opt(&d, "--set", "profiles/quick/tools=bandit,pylint");
    s_start_daemon(fx, &d);

    json_t *bad =
        e2e_callf(fx->api, 5000, "{ss s{s{ss s[{ss si}]} s{ss s[s]}}}", "op", "pipeline.start",
                  "config", "generation", "mode", "existing", "existing_apps", "model", "m1",
                  "app_number", 1, "analysis", "profile", "quick", "tools", "zap");
    assert_false(e2e_ok(bad));
    assert_string_equal(e2e_err_code(bad), "invalid");
    assert_non_null(strstr(e2e_str(json_object_get(bad, "error"), "message"),
                           "tool 'zap' runs on dynamic-analyzer, which profile 'quick' does not "
                           "run"));
    json_decref(bad);

    json_t *req = json_pack(
        "{ss s{s{ss s[{ss si} {ss si} {ss si} {ss si}]} s{ss ss si}}}", "op", "pipeline.start",
        "config", "generation", "mode", "existing", "existing_apps", "model", "m1", "app_number", 1,
        "model", "m1", "app_number", 2, "model", "m1", "app_number", 3, "model", "m1", "app_number",
        4, "analysis", "profile", "quick", "escalate", "deep", "escalate_threshold", 8);
    char *id = s_start_pipeline(fx, req);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 60000, "partial_success");
    assert_string_equal(e2e_str(p, "profile"), "quick");
    assert_string_equal(e2e_str(p, "escalate"), "deep");
    assert_int_equal(s_int(p, "escalate_threshold"), 8);
    const json_t *tasks = json_object_get(p, "tasks");
    int deep[5] = {0}, want_total = 4, escalated_clean = 0, held_back = 0;
    size_t i;
    json_t *t;
    json_array_foreach(tasks, i, t)
    {
        int64_t app = s_int(t, "app_number");
        assert_true(app >= 1 && app <= 4);
        if (json_is_true(json_object_get(t, "escalated"))) {
            assert_true(i >= 4); /* appended after the quick scans */
            deep[app]++;
            assert_int_equal(s_task_span(fx, e2e_str(t, "id")), 3600000);
        }
    }
    for (i = 0; i < 4; i++) {
        t = json_array_get(tasks, i);
        int64_t app = s_int(t, "app_number");
        assert_string_equal(e2e_str(t, "service"), "static-analyzer");
        assert_false(json_is_true(json_object_get(t, "escalated")));
        assert_int_equal(s_task_span(fx, e2e_str(t, "id")), 180000);
        if (app == 1) {
            assert_string_equal(e2e_str(t, "status"), "failed");
            assert_int_equal(deep[app], 4);
            want_total += 4;
            continue;
        }
        assert_string_equal(e2e_str(t, "status"), "succeeded");
        char *frame = s_result_get(fx, e2e_str(t, "id"));
        json_t *r = json_loads(frame, 0, NULL);
        free(frame);
        int64_t issues =
            s_int(json_object_get(json_object_get(r, "analysis"), "summary"), "total_issues_found");
        json_decref(r);
        assert_int_equal(s_int(t, "issues"), issues);
        assert_int_equal(deep[app], issues > 8 ? 4 : 0);
        want_total += issues > 8 ? 4 : 0;
        escalated_clean += issues > 8;
        held_back += issues <= 8;
    }
    assert_int_equal(json_array_size(tasks), want_total);
    /* the mock's issue counts for m1 (apps 2 and 3: 10, app 4: 6) give
       both cases */
    assert_true(escalated_clean > 0);
    assert_true(held_back > 0);
    json_decref(p);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* pipeline/evict_after_s: a finished pipeline leaves the shard's memory
   (the log says so) and every op still answers for it, read back from the
   store: pipeline.get, task.get, result.get, pipeline.list. */
static void test_daemon_evicted_pipeline_reads_back(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_verdict_fleet(fx);
    s_start_daemon_short(fx, "pipeline/evict_after_s=1");
    char *id = s_start_bandit_pipeline(fx);
    json_t *before = s_wait_final(fx, id, e2e_now_ms() + 30000, "failed");
    char *tid = strdup(e2e_str(json_array_get(json_object_get(before, "tasks"), 0), "id"));
    char *frame = s_result_get(fx, tid);
    int64_t deadline = e2e_now_ms() + 20000;
    while (e2e_now_ms() < deadline && !e2e_file_contains(fx->log_d, "pipelines left memory")) {
        e2e_nap(50);
    }
    assert_true(e2e_file_contains(fx->log_d, "1 finished pipelines left memory"));
    json_t *after = e2e_pipeline_get(fx->api, id);
    assert_non_null(after);
    assert_string_equal(e2e_str(after, "status"), "failed");
    assert_int_equal(json_array_size(json_object_get(after, "tasks")), 1);
    assert_true(json_equal(json_object_get(after, "counts"), json_object_get(before, "counts")));
    json_t *t = s_task_get(fx, tid);
    assert_string_equal(e2e_str(t, "status"), "failed");
    assert_int_equal(json_array_size(json_object_get(t, "history")), 1);
    json_decref(t);
    char *again = s_result_get(fx, tid);
    assert_string_equal(again, frame);
    json_t *l = e2e_callf(fx->api, 5000, "{ss}", "op", "pipeline.list");
    assert_true(e2e_ok(l));
    assert_int_equal(json_array_size(json_object_get(l, "pipelines")), 1);
    assert_string_equal(e2e_str(json_array_get(json_object_get(l, "pipelines"), 0), "id"), id);
    json_decref(l);
    free(again);
    free(frame);
    free(tid);
    json_decref(after);
    json_decref(before);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* Retention takes a finished pipeline and its events with it: pipeline.get
   answers not_found, events.since from before the first kept event answers
   `pruned` naming that seq, and reading from there (or from 0) works. */
static void test_daemon_events_pruned_with_pipelines(void **state)
{
    e2e_fx_t *fx = *state;
    s_start_verdict_fleet(fx);
    s_start_daemon_short(fx, "store/retention_s=1");
    char *id = s_start_bandit_pipeline(fx);
    json_decref(s_wait_final(fx, id, e2e_now_ms() + 30000, "failed"));
    uint64_t last_seq = 0;
    json_decref(e2e_events_all(fx->api, &last_seq));
    assert_true(last_seq >= 3);
    json_t *r = NULL;
    int64_t deadline = e2e_now_ms() + 20000;
    for (; e2e_now_ms() < deadline; e2e_nap(50)) {
        json_decref(r);
        r = e2e_callf(fx->api, 5000, "{ss sI}", "op", "events.since", "seq", (json_int_t)1);
        if (r && !e2e_ok(r) && strcmp(e2e_err_code(r), "pruned") == 0) {
            break;
        }
    }
    s_expect_error(fx, json_incref(r), "events.since 1 after retention", "pruned");
    json_t *err = json_object_get(r, "error");
    int64_t first = s_int(err, "first_seq");
    assert_true(first > 2 && first <= (int64_t)last_seq);
    char want[96];
    snprintf(want, sizeof(want), "the first kept event is seq %lld", (long long)first);
    assert_non_null(strstr(e2e_str(err, "message"), want));
    json_decref(r);
    s_expect_error(fx, e2e_callf(fx->api, 5000, "{ss ss}", "op", "pipeline.get", "pipeline_id", id),
                   "pipeline.get after retention", "not_found");
    /* From the first kept event on, and from 0 (the oldest kept), it reads. */
    r = e2e_callf(fx->api, 5000, "{ss sI}", "op", "events.since", "seq", (json_int_t)(first - 1));
    assert_true(e2e_ok(r));
    assert_int_equal(s_int(json_array_get(json_object_get(r, "events"), 0), "seq"), first);
    json_decref(r);
    r = e2e_callf(fx->api, 5000, "{ss sI}", "op", "events.since", "seq", (json_int_t)0);
    assert_true(e2e_ok(r));
    assert_int_equal(s_int(json_array_get(json_object_get(r, "events"), 0), "seq"), first);
    assert_true(s_int(r, "last_seq") >= (int64_t)last_seq);
    json_decref(r);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* The request record of the first frame of `type` for (model, app) in the
   mock's --record file; NULL if none (caller decrefs). */
static json_t *s_recorded(const char *path, const char *type, const char *model, int64_t app)
{
    char *text = e2e_read_file(path);
    assert_non_null(text);
    json_t *found = NULL;
    for (char *line = strtok(text, "\n"); line && !found; line = strtok(NULL, "\n")) {
        json_t *rec = json_loads(line, 0, NULL);
        json_t *frame = json_object_get(rec, "frame");
        if (frame && strcmp(e2e_str(frame, "type"), type) == 0 &&
            strcmp(e2e_str(frame, "model_slug"), model) == 0 && s_int(frame, "app_number") == app) {
            found = json_incref(frame);
        }
        json_decref(rec);
    }
    free(text);
    if (!found) {
        fprintf(stderr, "no %s for %s app %lld recorded\n", type, model, (long long)app);
    }
    return found;
}

static void s_expect_urls(const json_t *frame, const char *a, const char *b)
{
    const json_t *urls = json_object_get(frame, "target_urls");
    assert_int_equal(json_array_size(urls), b ? 2 : 1);
    assert_string_equal(json_string_value(json_array_get(urls, 0)), a);
    if (b) {
        assert_string_equal(json_string_value(json_array_get(urls, 1)), b);
    }
}

/* Each service's request as the fleet's own client builds it, through the
   daemon: top-level target_urls from the app's entry or the URL templates
   ({model_safe}, {backend_port}), the template and ports, the per-service
   options; tools omitted for all tools; never config.target_urls. The mock
   records every request as it received it. */
static void test_daemon_fleet_request_dialect(void **state)
{
    e2e_fx_t *fx = *state;
    char record[700];
    snprintf(record, sizeof(record), "%s/requests.jsonl", fx->dir);
    e2e_args_t m = {0};
    s_opt(&m, "--fleet", "incident");
    s_opt(&m, "--latency", "20");
    s_opt(&m, "--progress", "0");
    s_opt(&m, "--time-scale", "1");
    s_opt(&m, "--record", "%s", record);
    s_start_mock(fx, &m);
    s_start_daemon_short(fx, NULL);

    json_t *req = json_pack(
        "{ss ss s{s{ss s[{ss si ss s{si si}} {ss si s[s]}]} s{s{s[ss] s{si si s{si}} s{ss}}}}}",
        "op", "pipeline.start", "name", "dialect", "config", "generation", "mode", "existing",
        "existing_apps", "model", "openai/gpt_4.1", "app_number", 7, "template",
        "api_url_shortener", "ports", "backend", 5007, "frontend", 8007, "model", S_MODEL,
        "app_number", 2, "target_urls", "http://127.0.0.1:9/app2", "analysis", "options",
        "target_urls", "http://{model_safe}-app{app}_backend:{backend_port}",
        "http://{model_safe}-app{app}_frontend:80", "performance", "users", 3, "duration", 9,
        "aiohttp", "requests", 5, "ai", "gemini_model", "x/y");
    assert_non_null(req);
    char *id = s_start_pipeline(fx, req); /* takes req */
    json_t *p = e2e_wait_terminal(fx->api, id, e2e_now_ms() + 60000);
    assert_non_null(p);
    json_decref(p);
    free(id);

    const char *be = "http://openai-gpt-4-1-app7_backend:5007";
    const char *fe = "http://openai-gpt-4-1-app7_frontend:80";
    json_t *f = s_recorded(record, "dynamic_analyze", "openai/gpt_4.1", 7);
    assert_non_null(f);
    s_expect_urls(f, be, fe);
    assert_null(json_object_get(f, "tools"));
    assert_string_equal(e2e_str(json_object_get(f, "config"), "template_slug"),
                        "api_url_shortener");
    assert_int_equal(json_object_size(json_object_get(f, "config")), 1);
    json_decref(f);

    f = s_recorded(record, "performance_test", "openai/gpt_4.1", 7);
    assert_non_null(f);
    assert_string_equal(e2e_str(f, "target_url"), be);
    s_expect_urls(f, be, fe);
    assert_int_equal(s_int(f, "users"), 3);
    assert_int_equal(s_int(f, "duration"), 9);
    const json_t *c = json_object_get(f, "config");
    assert_int_equal(json_object_size(c), 1);
    assert_int_equal(s_int(json_object_get(c, "aiohttp"), "requests"), 5);
    json_decref(f);

    f = s_recorded(record, "ai_analyze", "openai/gpt_4.1", 7);
    assert_non_null(f);
    s_expect_urls(f, be, fe);
    c = json_object_get(f, "config");
    assert_string_equal(e2e_str(c, "template_slug"), "api_url_shortener");
    assert_int_equal(s_int(c, "backend_port"), 5007);
    assert_int_equal(s_int(c, "frontend_port"), 8007);
    assert_string_equal(e2e_str(c, "gemini_model"), "x/y");
    assert_null(json_object_get(c, "target_urls"));
    json_decref(f);

    f = s_recorded(record, "static_analyze", "openai/gpt_4.1", 7);
    assert_non_null(f);
    assert_null(json_object_get(f, "target_urls"));
    assert_null(json_object_get(f, "config"));
    assert_null(json_object_get(f, "tools"));
    json_decref(f);

    /* the second app: its own URL, no template, no ports */
    f = s_recorded(record, "dynamic_analyze", S_MODEL, 2);
    assert_non_null(f);
    s_expect_urls(f, "http://127.0.0.1:9/app2", NULL);
    assert_null(json_object_get(f, "config"));
    json_decref(f);
    f = s_recorded(record, "ai_analyze", S_MODEL, 2);
    assert_non_null(f);
    c = json_object_get(f, "config");
    assert_null(json_object_get(c, "backend_port"));
    assert_string_equal(e2e_str(c, "gemini_model"), "x/y");
    json_decref(f);
}

/* The app is down: both dynamic replicas answer targets_unreachable. The
   task waits and tries again (request terms: 0.1 s, twice), blames no
   replica, then fails naming the URL and what to do; the frames are kept. */
static void test_daemon_unreachable_app(void **state)
{
    e2e_fx_t *fx = *state;
    e2e_args_t m = {0};
    s_opt(&m, "--replica", "dynamic-analyzer:127.0.0.1:0:fault=unreachable");
    s_opt(&m, "--replica", "dynamic-analyzer:127.0.0.1:0:fault=unreachable");
    s_opt(&m, "--time-scale", "0.02");
    s_start_mock(fx, &m);
    s_start_daemon_short(fx, NULL);
    json_t *req = json_pack(
        "{ss s{s{ss s[{ss si s[s]}]} s{s[s]}} s{sf si si}}", "op", "pipeline.start", "config",
        "generation", "mode", "existing", "existing_apps", "model", "m1", "app_number", 1,
        "target_urls", "http://127.0.0.1:9/app1", "analysis", "analyzers", "dynamic", "retry",
        "app_unreachable", 0.1, "app_unreachable_retries", 2, "max_attempts", 1);
    char *id = s_start_pipeline(fx, req);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 30000, "failed");
    json_t *t = json_array_get(json_object_get(p, "tasks"), 0);
    const char *tid = e2e_str(t, "id");
    assert_int_equal(s_int(t, "attempts"), 3);
    const char *err = e2e_str(t, "error");
    assert_true(strncmp(err, "targets_unreachable: ", 21) == 0);
    assert_non_null(strstr(err, "http://127.0.0.1:9/app1"));
    assert_non_null(strstr(err, "start the app, or check its target_urls"));
    assert_non_null(strstr(err, "No targets reachable out of 1 tested"));
    char *frame = s_result_get(fx, tid);
    assert_non_null(strstr(frame, "\"targets_unreachable\""));
    free(frame);
    /* no replica was blamed */
    json_t *r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    size_t i, k;
    json_t *svc, *rep;
    json_array_foreach(json_object_get(r, "services"), i, svc)
    {
        if (strcmp(e2e_str(svc, "name"), "dynamic-analyzer") == 0) {
            json_array_foreach(json_object_get(svc, "replicas"), k, rep)
            {
                assert_string_equal(e2e_str(rep, "breaker"), "closed");
                assert_int_equal(s_int(rep, "failures"), 0);
            }
        }
    }
    json_decref(r);
    json_decref(p);
    free(id);
    assert_int_equal(e2e_stop(fx->d, SIGTERM, 15000), 0);
}

/* ---- liveness: a block is not a death, a freeze still is -------------------------- */

#define S_DIV 45 /* sluiced's defaults / 45, the mock at --time-scale 1/45 */

/* The static analyzer's built-in defaults, time-scaled: ping 20 s, pong
   10 s, grace 90 s, connect 10 s, progress 900 s, attempt 1800 s, queue
   300 s, all / 45. */
static void s_scaled_defaults(e2e_args_t *a)
{
    const char *n = "static-analyzer";
    s_opt(a, "--set", "services/%s/connect_timeout_ms=%d", n, 10000 / S_DIV);
    s_opt(a, "--set", "services/%s/ping_interval_ms=%d", n, 20000 / S_DIV);
    s_opt(a, "--set", "services/%s/pong_timeout_ms=%d", n, 10000 / S_DIV);
    s_opt(a, "--set", "services/%s/liveness_grace_s=%d", n, 90 / S_DIV);
    s_opt(a, "--set", "services/%s/progress_timeout_s=%d", n, 900 / S_DIV);
    s_opt(a, "--set", "services/%s/attempt_timeout_s=%d", n, 1800 / S_DIV);
    s_opt(a, "--set", "services/%s/queue_timeout_s=%d", n, 300 / S_DIV);
    s_opt(a, "--set", "pipeline/backoff_initial_ms=%d", 2000 / S_DIV);
}

/* A mock of static replicas (specs) at time scale 1/45, and sluiced on the
   scaled defaults; returns once every replica's tools are known, so the
   first attempt goes to the first replica (both idle, lowest index). */
static void s_start_scaled(e2e_fx_t *fx, const char *const *specs, int n)
{
    e2e_args_t m = {0};
    for (int i = 0; i < n; i++) {
        s_opt(&m, "--replica", "%s", specs[i]);
    }
    s_opt(&m, "--time-scale", "%.6f", 1.0 / S_DIV);
    s_start_mock(fx, &m);
    e2e_args_t d = {0};
    s_scaled_defaults(&d);
    s_start_daemon(fx, &d);
    int64_t deadline = e2e_now_ms() + 10000;
    for (;;) {
        json_t *r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
        assert_true(e2e_ok(r));
        int known = 0;
        size_t i, k;
        json_t *svc, *rep;
        json_array_foreach(json_object_get(r, "services"), i, svc)
        {
            if (!strcmp(e2e_str(svc, "name"), "static-analyzer")) {
                json_array_foreach(json_object_get(svc, "replicas"), k, rep)
                {
                    known += json_is_array(json_object_get(rep, "tools"));
                }
            }
        }
        json_decref(r);
        if (known == n) {
            return;
        }
        assert_true(e2e_now_ms() < deadline);
        e2e_nap(10);
    }
}

/* One static analysis of an existing app (bandit); its pipeline id. */
static char *s_start_static_one(e2e_fx_t *fx)
{
    json_t *req = json_pack("{ss ss s{s{ss s[{sssi}]} s{sb s[s]} s{si}}}", "op", "pipeline.start",
                            "name", "liveness", "config", "generation", "mode", "existing",
                            "existing_apps", "model", "m1", "app_number", 1, "analysis", "enabled",
                            1, "tools", "bandit", "retry", "max_attempts", 3);
    assert_non_null(req);
    return s_start_pipeline(fx, req); /* takes req */
}

/* The only task of pipeline p (its task_id; caller frees). */
static char *s_only_task(const json_t *p)
{
    json_t *tasks = json_object_get(p, "tasks");
    assert_int_equal(json_array_size(tasks), 1);
    char *id = strdup(e2e_str(json_array_get(tasks, 0), "id"));
    assert_non_null(id);
    return id;
}

/* How many events have topic (and, unless NULL, replica url and a reason
   starting with reason). */
static int s_count_events(const json_t *events, const char *topic, const char *url,
                          const char *reason)
{
    int n = 0;
    size_t j;
    json_t *ev;
    json_array_foreach(events, j, ev)
    {
        n += !strcmp(e2e_str(ev, "topic"), topic) &&
             (!url || !strcmp(e2e_str(ev, "replica"), url)) &&
             (!reason || !strncmp(e2e_str(ev, "reason"), reason, strlen(reason)));
    }
    return n;
}

static void test_daemon_block_survives(void **state)
{
    e2e_fx_t *fx = *state;
    /* Pushes between phases only (profile=real): starting at 0, scanning_js
       at half of 70 s; there the replica blocks 20 s, so the ping at 40 s
       goes unanswered (pong due at 50 s) until the block ends at 55 s. */
    const char *specs[] = {"static-analyzer:127.0.0.1:0:profile=real:latency=70000:"
                           "fault=block=20000/scanning_js"};
    s_start_scaled(fx, specs, 1);
    const char *url = fx->mock->urls[E2E_STATIC][0];
    char *id = s_start_static_one(fx);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 30000, "completed");
    char *task_id = s_only_task(p);
    json_t *t = s_task_get(fx, task_id);
    assert_int_equal(s_int(t, "attempts"), 1);
    assert_int_equal(json_array_size(json_object_get(t, "history")), 1);
    json_t *events = e2e_events_all(fx->api, NULL);
    assert_non_null(events);
    /* suspect, then alive again; the breaker never heard of it */
    assert_int_equal(
        s_count_events(events, "endpoint.health", url, "suspect: no pong within 222 ms"), 1);
    assert_int_equal(s_count_events(events, "endpoint.health", url, "alive: "), 1);
    assert_int_equal(s_count_events(events, "endpoint.breaker", NULL, NULL), 0);
    char answer[4096];
    assert_int_equal(e2e_mock_control(fx->mock, "stats", answer, sizeof(answer)), 0);
    assert_non_null(strstr(answer, "\"blocks\":1"));
    json_decref(events);
    json_decref(t);
    free(task_id);
    json_decref(p);
    free(id);
}

static void test_daemon_freeze_retried(void **state)
{
    e2e_fx_t *fx = *state;
    const char *specs[] = {"static-analyzer:127.0.0.1:0:latency=2000:fault=freeze",
                           "static-analyzer:127.0.0.1:0:latency=2000"};
    s_start_scaled(fx, specs, 2);
    const char *frozen = fx->mock->urls[E2E_STATIC][0], *other = fx->mock->urls[E2E_STATIC][1];
    char *id = s_start_static_one(fx);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 30000, "completed");
    char *task_id = s_only_task(p);
    json_t *t = s_task_get(fx, task_id);
    json_t *hist = json_object_get(t, "history");
    assert_int_equal(json_array_size(hist), 2);
    json_t *a1 = json_array_get(hist, 0), *a2 = json_array_get(hist, 1);
    assert_string_equal(e2e_str(a1, "replica"), frozen);
    assert_string_equal(e2e_str(a1, "outcome"), "pong_timeout");
    assert_non_null(strstr(e2e_str(a1, "error"), "no pong within 222 ms and no sign of life for"));
    /* found within ping interval + grace (444 ms + 2 s), not the attempt budget */
    int64_t took = s_int(a1, "ended_at") - s_int(a1, "started_at");
    assert_true(took >= 2000);
    assert_true(took < 20000 / S_DIV + 2000 + 1000);
    assert_string_equal(e2e_str(a2, "replica"), other);
    assert_string_equal(e2e_str(a2, "outcome"), "success");
    json_t *events = e2e_events_all(fx->api, NULL);
    assert_int_equal(s_count_events(events, "endpoint.health", frozen, "suspect: "), 1);
    json_decref(events);
    json_decref(t);
    free(task_id);
    json_decref(p);
    free(id);
}

/* The real static service pushes only between phases; on the defaults
   (here / 150: progress_timeout_s 900 -> 6 s, attempt 1800 -> 12 s) an
   analysis whose two scans take 10 minutes each (4 s here) succeeds in one
   attempt, where the old 120 s stall timeout (0.8 s here) killed it. */
static void test_daemon_static_slow_phases_on_defaults(void **state)
{
    e2e_fx_t *fx = *state;
    e2e_args_t m = {0};
    s_opt(&m, "--replica", "%s",
          "static-analyzer:127.0.0.1:0:profile=real:latency=1200000"); /* 2 x 10 min */
    s_opt(&m, "--time-scale", "%.6f", 1.0 / 150);
    s_start_mock(fx, &m);
    e2e_args_t d = {0};
    const char *n = "static-analyzer";
    s_opt(&d, "--set", "services/%s/connect_timeout_ms=%d", n, 10000 / 150);
    s_opt(&d, "--set", "services/%s/ping_interval_ms=%d", n, 20000 / 150);
    s_opt(&d, "--set", "services/%s/pong_timeout_ms=%d", n, 10000 / 150);
    s_opt(&d, "--set", "services/%s/liveness_grace_s=1", n); /* 90 / 150, rounded up */
    s_opt(&d, "--set", "services/%s/progress_timeout_s=%d", n, 900 / 150);
    s_opt(&d, "--set", "services/%s/attempt_timeout_s=%d", n, 1800 / 150);
    s_start_daemon(fx, &d);
    char *id = s_start_static_one(fx);
    json_t *p = s_wait_final(fx, id, e2e_now_ms() + 30000, "completed");
    char *task_id = s_only_task(p);
    json_t *t = s_task_get(fx, task_id);
    assert_int_equal(s_int(t, "attempts"), 1);
    json_t *a1 = json_array_get(json_object_get(t, "history"), 0);
    int64_t took = s_int(a1, "ended_at") - s_int(a1, "started_at");
    assert_true(took >= 1200000 / 150 - 500); /* it really was silent that long */
    json_decref(t);
    free(task_id);
    json_decref(p);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_daemon_check_config, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_second_daemon_refused, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_bad_requests, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_list_bad_status, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_failed_task_keeps_its_frame, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_unreachable_app, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_events_pruned_with_pipelines, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_evicted_pipeline_reads_back, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_fleet_request_dialect, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_profile_escalation, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_incident_partial_success, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_sigterm_resume, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_sigterm_drain, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_block_survives, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_freeze_retried, e2e_fx_setup, e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_static_slow_phases_on_defaults, e2e_fx_setup,
                                        e2e_fx_teardown),
    };
    if (getenv("E2E_FILTER")) {
        cmocka_set_test_filter(getenv("E2E_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
