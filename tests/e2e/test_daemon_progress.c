/*  test_daemon_progress.c: progress through the real sluiced, from the
    mock fleet to a PUB watcher, end to end.

    One pipeline, one app, two analyses: a static analysis on a mux replica
    that reports its 10 stages within one second, and a dynamic analysis on
    a legacy replica that pushes its progress to the daemon's progress
    listener with an empty correlation_id, as the fleet's dynamic service
    does. A SUB socket subscribed before the start records every event.

    - every one of the static analyzer's 10 stages reaches PUB as
      task.progress, in order, and the last task.progress of each task
      equals its progress in pipeline.get (issue 9, section 3);
    - the dynamic task is attributed its pushes (the only live attempt of
      its service; its first push names its model and app): it goes
      `running` and shows a stage, and `endpoints.list` and `stats` count
      the attributed pushes (issue 15, section 4).
    - performance_by_url: two performance analyses at once on two replicas
      of one host, pushing as the real service does (profile=real: only
      the "checking" push names a URL): each task goes `running` on the
      push that names its own target URL and never shows the other's; the
      pushes that name nothing cannot be told apart and are unattributed.

    The mock and sluiced run as children on loopback (port 0 replicas, API
    and PUB on ipc:// paths in a mkdtemp directory), stopped by pid in the
    teardown; every wait has a deadline.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

/* The mock with these replicas (NULL-terminated specs) and sluiced pointed
   at it, static-analyzer speaking mux. */
static void s_start_path(e2e_fx_t *fx, const char *const *replicas, const char *mock_path,
                         const char *secret)
{
    e2e_args_t m = {0};
    e2e_fx_add_gateway(fx, &m, mock_path);
    e2e_fx_start_mock(fx, &m, replicas);
    e2e_args_t a = {0};
    e2e_args_add(&a, "--set");
    e2e_args_add(&a, "services/static-analyzer/protocol=mux");
    if (secret) {
        e2e_args_add(&a, "--set");
        e2e_args_add(&a, "progress/path=%s", secret);
    }
    e2e_fx_start_daemon_args(fx, &a);
    e2e_args_free(&a);
    /* The SUB connects before the pipeline exists. */
    e2e_fx_connect_sub(fx);
}

static void s_start(e2e_fx_t *fx, const char *const *replicas)
{
    s_start_path(fx, replicas, "", NULL);
}

/* The service's "pushes" counters in an endpoints.list reply. */
static json_t *s_service_pushes(json_t *reply, const char *service)
{
    size_t i;
    json_t *svc;
    json_array_foreach(json_object_get(reply, "services"), i, svc)
    {
        if (strcmp(e2e_str(svc, "name"), service) == 0) {
            return json_object_get(svc, "pushes");
        }
    }
    return NULL;
}

static void test_daemon_progress_reaches_watchers(void **state)
{
    static const char *stages[10] = {
        "starting",     "scanning_python", "python_completed",    "scanning_js", "js_completed",
        "scanning_css", "scanning_html",   "analyzing_structure", "reporting",   "completed"};
    e2e_fx_t *fx = *state;
    /* static: 10 stages within a second, over mux; dynamic: legacy, pushing
       with empty ids */
    const char *replicas[] = {"static:127.0.0.1:0:proto=mux:latency=950:progress=70:heartbeat=100",
                              "dynamic:127.0.0.1:0:latency=600:progress=100", NULL};
    s_start(fx, replicas);
    json_t *r =
        e2e_callf(fx->api, 10000, "{ss s{s{ss s[{ss si}]} s{s[ss] s{s[s]}}}}", "op",
                  "pipeline.start", "config", "generation", "mode", "existing", "existing_apps",
                  "model", "local_model", "app_number", 1, "analysis", "tools", "bandit", "zap",
                  "options", "target_urls", "http://{model}-app{app}_backend:5000");
    char id[64];
    json_t *p = e2e_wait_started(fx->api, r, id, sizeof(id), e2e_now_ms() + 30000);
    assert_string_equal(e2e_str(p, "status"), "completed");

    /* Every event in seq order, as the store replays what PUB sent (the
       Python client test checks the two agree field for field); the SUB
       saw them in seq order up to the last. */
    uint64_t last_seq = 0;
    json_t *events = e2e_events_all(fx->api, &last_seq);
    assert_non_null(events);
    uint64_t pub_seen = 0, pub_prev = 0;
    for (;;) {
        json_t *ev = e2e_sub_next(fx->sub, e2e_now_ms() + (pub_seen ? 200 : 3000));
        if (!ev) {
            break;
        }
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
        assert_true(seq > pub_prev); /* PUB delivers in seq order */
        pub_prev = seq;
        pub_seen++;
        json_decref(ev);
        if (seq >= last_seq) {
            break;
        }
    }
    assert_true(pub_seen > 0);

    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        const char *tid = e2e_str(t, "id");
        const char *svc = e2e_str(t, "service");
        /* this task's task.progress stages, consecutive repeats folded */
        const char *seen[64];
        int n = 0;
        json_t *last = NULL;
        bool running = false;
        size_t j;
        json_t *ev;
        json_array_foreach(events, j, ev)
        {
            if (strcmp(e2e_str(ev, "task_id"), tid) != 0) {
                continue;
            }
            if (strcmp(e2e_str(ev, "topic"), "task.status") == 0 &&
                strcmp(e2e_str(ev, "status"), "running") == 0) {
                running = true;
            }
            if (strcmp(e2e_str(ev, "topic"), "task.progress") != 0) {
                continue;
            }
            last = ev;
            const char *st = e2e_str(ev, "stage");
            if (n == 0 || strcmp(seen[n - 1], st) != 0) {
                assert_true(n < 64);
                seen[n++] = st;
            }
        }
        assert_non_null(last);
        assert_true(running);
        /* the last task.progress is what pipeline.get shows */
        json_t *pr = json_object_get(t, "progress");
        assert_string_equal(e2e_str(last, "stage"), e2e_str(pr, "stage"));
        assert_true(json_equal(json_object_get(last, "pct"), json_object_get(pr, "pct")));
        assert_true(json_equal(json_object_get(last, "message"), json_object_get(pr, "message")));
        if (strcmp(svc, "static-analyzer") == 0) {
            assert_int_equal(n, 10);
            for (int k = 0; k < 10; k++) {
                assert_string_equal(seen[k], stages[k]);
            }
        } else {
            assert_string_equal(svc, "dynamic-analyzer");
            assert_true(e2e_str(pr, "stage")[0] != '\0');
        }
    }

    r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    json_t *dyn = s_service_pushes(r, "dynamic-analyzer");
    assert_non_null(dyn);
    int64_t attributed = json_integer_value(json_object_get(dyn, "attributed"));
    assert_true(attributed >= 1);
    assert_non_null(json_object_get(dyn, "unattributed"));
    /* Every replica shows every documented key (null while unknown). */
    static const char *keys[] = {"url",     "address", "breaker",  "in_flight",
                                 "ewma_ms", "calls",   "failures", "consecutive_failures",
                                 "tools"};
    size_t si, ri;
    json_t *svc, *rep;
    json_array_foreach(json_object_get(r, "services"), si, svc)
    {
        assert_true(json_array_size(json_object_get(svc, "replicas")) > 0);
        json_array_foreach(json_object_get(svc, "replicas"), ri, rep)
        {
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
                if (!json_object_get(rep, keys[k])) {
                    fail_msg("endpoints.list: a %s replica has no %s", e2e_str(svc, "name"),
                             keys[k]);
                }
            }
            assert_true(json_is_string(json_object_get(rep, "address")) ||
                        json_is_null(json_object_get(rep, "address")));
        }
    }
    json_decref(r);
    r = e2e_callf(fx->api, 5000, "{ss}", "op", "stats");
    assert_true(e2e_ok(r));
    json_t *all = json_object_get(r, "pushes");
    assert_non_null(all);
    assert_true(json_integer_value(json_object_get(all, "attributed")) >= attributed);
    assert_non_null(json_object_get(r, "actors"));
    json_decref(r);
    json_decref(events);
    json_decref(p);
}

static void test_daemon_progress_performance_by_url(void **state)
{
    e2e_fx_t *fx = *state;
    const char *replicas[] = {"performance:127.0.0.1:0:profile=real:latency=1500",
                              "performance:127.0.0.1:0:profile=real:latency=1500", NULL};
    s_start(fx, replicas);
    static const char *urls[2] = {"http://127.0.0.1:5101", "http://127.0.0.1:5103"};
    json_t *r = e2e_callf(fx->api, 10000, "{ss s{s{ss s[{ss si s[s]} {ss si s[s]}]} s{s[s]}}}",
                          "op", "pipeline.start", "config", "generation", "mode", "existing",
                          "existing_apps", "model", "local_model", "app_number", 1, "target_urls",
                          urls[0], "model", "local_model", "app_number", 2, "target_urls", urls[1],
                          "analysis", "analyzers", "performance-tester");
    char id[64];
    json_t *p = e2e_wait_started(fx->api, r, id, sizeof(id), e2e_now_ms() + 30000);
    assert_string_equal(e2e_str(p, "status"), "completed");
    uint64_t last_seq = 0;
    json_t *events = e2e_events_all(fx->api, &last_seq);
    assert_non_null(events);
    size_t i;
    json_t *t;
    int checked = 0;
    json_array_foreach(json_object_get(p, "tasks"), i, t)
    {
        const char *tid = e2e_str(t, "id");
        int app = (int)json_integer_value(json_object_get(t, "app_number"));
        assert_true(app == 1 || app == 2);
        const char *own = urls[app - 1], *other = urls[2 - app];
        bool running = false, saw_own = false;
        size_t j;
        json_t *ev;
        json_array_foreach(events, j, ev)
        {
            if (strcmp(e2e_str(ev, "task_id"), tid) != 0) {
                continue;
            }
            running |= strcmp(e2e_str(ev, "topic"), "task.status") == 0 &&
                       strcmp(e2e_str(ev, "status"), "running") == 0;
            if (strcmp(e2e_str(ev, "topic"), "task.progress") == 0) {
                const char *msg = e2e_str(ev, "message");
                saw_own |= strstr(msg, own) != NULL;
                assert_null(strstr(msg, other));
            }
        }
        assert_true(running);
        assert_true(saw_own);
        checked++;
    }
    assert_int_equal(checked, 2);
    r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    json_t *perf = s_service_pushes(r, "performance-tester");
    assert_non_null(perf);
    assert_true(json_integer_value(json_object_get(perf, "attributed")) >= 2);
    assert_true(json_integer_value(json_object_get(perf, "unattributed")) >= 1);
    json_decref(r);
    json_decref(events);
    json_decref(p);
}

/* progress/path (README, "Security of the progress listener"): the pushes
   of an analyzer whose GATEWAY_URL names the secret path reach their
   task, those of one pointed at another path are refused before they are
   read. The ai analyzer pushes with its request id, which now carries a
   random part the mock echoes. */
static int64_t s_ai_by_id(e2e_fx_t *fx, const char *path, int64_t *unknown)
{
    const char *replicas[] = {"ai:127.0.0.1:0:latency=800:progress=100", NULL};
    s_start_path(fx, replicas, path, "s3cret-t0ken");
    json_t *r =
        e2e_callf(fx->api, 10000, "{ss s{s{ss s[{ss si}]} s{s[s]}}}", "op", "pipeline.start",
                  "config", "generation", "mode", "existing", "existing_apps", "model",
                  "local_model", "app_number", 1, "analysis", "analyzers", "ai-analyzer");
    char id[64];
    json_t *p = e2e_wait_started(fx->api, r, id, sizeof(id), e2e_now_ms() + 30000);
    assert_string_equal(e2e_str(p, "status"), "completed");
    json_decref(p);
    r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    json_t *ai = s_service_pushes(r, "ai-analyzer");
    assert_non_null(ai);
    int64_t by_id = json_integer_value(json_object_get(ai, "by_id"));
    *unknown = json_integer_value(json_object_get(ai, "unknown_id"));
    json_decref(r);
    return by_id;
}

static void test_daemon_progress_secret_path_heard(void **state)
{
    int64_t unknown = 0;
    assert_true(s_ai_by_id(*state, "/s3cret-t0ken", &unknown) >= 1);
}

static void test_daemon_progress_wrong_path_refused(void **state)
{
    int64_t unknown = 0;
    assert_int_equal(s_ai_by_id(*state, "/", &unknown), 0);
    assert_int_equal(unknown, 0); /* not even read */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_daemon_progress_reaches_watchers, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_progress_performance_by_url, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_progress_secret_path_heard, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_progress_wrong_path_refused, e2e_fx_setup,
                                        e2e_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
