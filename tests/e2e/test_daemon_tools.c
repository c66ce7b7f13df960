/*  test_daemon_tools.c: tools through the real sluiced, from each replica's
    health_response to the task (issue 9 section 4, issue 15 section 5).

    The mock fleet's replicas have their own tool sets (`tools=`), as the
    real services report in available_tools:
      static  A: bandit, pylint           static  B: bandit, snyk, my-scanner
      dynamic C: curl, nmap, zap (partial result for app 3)
    sluiced learns them at start and shows them in endpoints.list; then, one
    pipeline per case:
    - a task asking for snyk goes to B, the only replica that has it;
    - a task asking for semgrep, which no replica has, fails at once, not
      retried, naming the tool and each replica's tools, with no breaker
      event;
    - a tool of the operator's own (services/static-analyzer/tools adds
      my-scanner) is accepted and runs on B; nikto, which no tools setting
      lists, is refused at pipeline.start;
    - analysis.analyzers (sluicectl --analyzer) sends the "all tools" form:
      the replica ran everything it has;
    - C loses nmap after it said it had it: a task asking for zap and nmap
      succeeds with a warning naming nmap, one asking for nmap alone fails
      ("none of the requested tools ran"); a partial result shows on its
      task as a warning.
    The mock and sluiced run as children on loopback (port 0 replicas, API
    on an ipc:// path in a mkdtemp directory), stopped by pid in the
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

static void s_start(e2e_fx_t *fx)
{
    e2e_args_t m = {0};
    e2e_args_add(&m, "--time-scale");
    e2e_args_add(&m, "0.1");
    const char *specs[] = {"static:127.0.0.1:0:latency=20-40:tools=bandit,pylint",
                           "static:127.0.0.1:0:latency=20-40:tools=bandit,snyk,my-scanner",
                           "dynamic:127.0.0.1:0:latency=20-40:tools=curl,nmap,zap:partial_app=3",
                           NULL};
    e2e_fx_start_mock(fx, &m, specs);
    const char *sets[] = {"services/static-analyzer/tools=bandit,pylint,snyk,semgrep,my-scanner",
                          "pipeline/backoff_initial_ms=50", NULL};
    e2e_fx_start_daemon(fx, sets);
}

/* "a,b" of the tools endpoints.list shows for url; "?" while null. */
static void s_tools_of(e2e_fx_t *fx, const char *url, char *out, size_t size)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss}", "op", "endpoints.list");
    assert_true(e2e_ok(r));
    snprintf(out, size, "not listed");
    size_t i, j, k;
    json_t *svc, *rep, *t;
    json_array_foreach(json_object_get(r, "services"), i, svc)
    {
        json_array_foreach(json_object_get(svc, "replicas"), j, rep)
        {
            if (strcmp(e2e_str(rep, "url"), url) != 0) {
                continue;
            }
            json_t *tools = json_object_get(rep, "tools");
            if (!json_is_array(tools)) {
                snprintf(out, size, "?");
                continue;
            }
            out[0] = '\0';
            json_array_foreach(tools, k, t)
            {
                size_t n = strlen(out);
                snprintf(out + n, size - n, "%s%s", k ? "," : "", json_string_value(t));
            }
        }
    }
    json_decref(r);
}

static void s_wait_tools(e2e_fx_t *fx, const char *url, const char *want)
{
    char got[256] = "";
    for (int64_t until = e2e_now_ms() + 10000; e2e_now_ms() < until;) {
        s_tools_of(fx, url, got, sizeof(got));
        if (strcmp(got, want) == 0) {
            return;
        }
        e2e_nap(20);
    }
    fail_msg("%s: tools '%s', want '%s'", url, got, want);
}

/* One app (model m, app_number app) analyzed with the analysis object
   `analysis` (JSON text); returns the finished pipeline (caller decrefs). */
static json_t *s_run(e2e_fx_t *fx, int app, const char *analysis)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"op\": \"pipeline.start\", \"config\": {\"generation\": {\"mode\": \"existing\", "
             "\"existing_apps\": [{\"model\": \"m\", \"app_number\": %d}]}, \"analysis\": %s}}",
             app, analysis);
    json_error_t err;
    json_t *req = json_loads(text, 0, &err);
    assert_non_null(req);
    json_t *r = e2e_call(fx->api, req, 10000); /* takes req */
    if (!e2e_ok(r)) {
        char *dump = r ? json_dumps(r, 0) : NULL;
        fail_msg("pipeline.start %s: %s", analysis, dump ? dump : "(no reply)");
    }
    char id[64];
    snprintf(id, sizeof(id), "%s", e2e_str(r, "pipeline_id"));
    json_decref(r);
    json_t *p = e2e_wait_terminal(fx->api, id, e2e_now_ms() + 30000);
    assert_non_null(p);
    return p;
}

/* The pipeline's only task, with its attempts (task.get; caller decrefs). */
static json_t *s_only_task(e2e_fx_t *fx, const json_t *p)
{
    const json_t *tasks = json_object_get(p, "tasks");
    assert_int_equal(json_array_size(tasks), 1);
    const char *tid = e2e_str(json_array_get(tasks, 0), "id");
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "task.get", "task_id", tid);
    assert_true(e2e_ok(r));
    json_t *t = json_incref(json_object_get(r, "task"));
    json_decref(r);
    return t;
}

/* The analyzer's tools_used in the task's stored result. */
static void s_tools_used(e2e_fx_t *fx, const char *task_id, char *out, size_t size)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "result.get", "task_id", task_id);
    assert_true(e2e_ok(r));
    const json_t *res = json_object_get(r, "result");
    json_t *frame = NULL;
    if (json_is_string(res)) {
        frame = json_loads(json_string_value(res), 0, NULL);
    } else {
        frame = json_incref((json_t *)res);
    }
    assert_non_null(frame);
    out[0] = '\0';
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(json_object_get(frame, "analysis"), "tools_used"), i, t)
    {
        size_t n = strlen(out);
        snprintf(out + n, size - n, "%s%s", i ? "," : "", json_string_value(t));
    }
    json_decref(frame);
    json_decref(r);
}

static void test_daemon_tools_per_replica(void **state)
{
    e2e_fx_t *fx = *state;
    s_start(fx);
    const char *a = fx->mock->urls[E2E_STATIC][0], *b = fx->mock->urls[E2E_STATIC][1];
    const char *c = fx->mock->urls[E2E_DYNAMIC][0];
    s_wait_tools(fx, a, "bandit,pylint");
    s_wait_tools(fx, b, "bandit,snyk,my-scanner");
    s_wait_tools(fx, c, "curl,nmap,zap");

    /* snyk: only B has it, every time */
    for (int i = 0; i < 3; i++) {
        json_t *p = s_run(fx, 1, "{\"tools\": [\"snyk\"]}");
        assert_string_equal(e2e_str(p, "status"), "completed");
        json_t *t = s_only_task(fx, p);
        const json_t *hist = json_object_get(t, "history");
        assert_int_equal(json_array_size(hist), 1);
        assert_string_equal(e2e_str(json_array_get(hist, 0), "replica"), b);
        assert_true(json_is_null(json_object_get(t, "warning")));
        json_decref(t);
        json_decref(p);
    }

    /* semgrep: the tools setting lists it, no replica has it */
    int64_t t0 = e2e_now_ms();
    json_t *p = s_run(fx, 1, "{\"tools\": [\"semgrep\"]}");
    assert_true(e2e_now_ms() - t0 < 5000);
    assert_string_equal(e2e_str(p, "status"), "failed");
    json_t *t = s_only_task(fx, p);
    assert_string_equal(e2e_str(t, "status"), "failed");
    assert_int_equal(json_integer_value(json_object_get(t, "attempts")), 1);
    char want[512];
    snprintf(want, sizeof(want),
             "verdict: no replica of static-analyzer has tool 'semgrep' (%s: bandit, pylint; %s: "
             "bandit, snyk, my-scanner)",
             a, b);
    assert_string_equal(e2e_str(t, "error"), want);
    json_decref(t);
    json_decref(p);
    uint64_t last = 0;
    json_t *events = e2e_events_all(fx->api, &last);
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        assert_string_not_equal(e2e_str(ev, "topic"), "endpoint.breaker");
    }
    json_decref(events);

    /* the operator's own tool runs where it is; one no setting lists is refused */
    p = s_run(fx, 2, "{\"tools\": [\"MY-SCANNER\"]}");
    assert_string_equal(e2e_str(p, "status"), "completed");
    t = s_only_task(fx, p);
    assert_string_equal(e2e_str(json_array_get(json_object_get(t, "history"), 0), "replica"), b);
    json_decref(t);
    json_decref(p);
    json_t *r = e2e_callf(fx->api, 5000, "{ss s{s{ss s[{ss si}]} s{s[s]}}}", "op", "pipeline.start",
                          "config", "generation", "mode", "existing", "existing_apps", "model", "m",
                          "app_number", 1, "analysis", "tools", "nikto");
    assert_false(e2e_ok(r));
    assert_string_equal(e2e_err_code(r), "invalid");
    assert_non_null(
        strstr(e2e_str(json_object_get(r, "error"), "message"), "unknown tool 'nikto'"));
    json_decref(r);

    /* an analyzer named without tools: the "all tools" form, so the replica
       ran all it has */
    p = s_run(fx, 4, "{\"analyzers\": [\"static-analyzer\"]}");
    assert_string_equal(e2e_str(p, "status"), "completed");
    t = s_only_task(fx, p);
    const char *replica = e2e_str(json_array_get(json_object_get(t, "history"), 0), "replica");
    char used[256];
    s_tools_used(fx, e2e_str(t, "id"), used, sizeof(used));
    assert_string_equal(used, strcmp(replica, a) == 0 ? "bandit,pylint" : "bandit,snyk,my-scanner");
    json_decref(t);
    json_decref(p);
}

static void test_daemon_tools_not_run_and_partial(void **state)
{
    e2e_fx_t *fx = *state;
    s_start(fx);
    const char *c = fx->mock->urls[E2E_DYNAMIC][0];
    s_wait_tools(fx, c, "curl,nmap,zap");
    /* the replica loses nmap after it said it had it */
    char cmd[256], answer[256];
    snprintf(cmd, sizeof(cmd), "tools %s curl,zap", c);
    assert_int_equal(e2e_mock_control(fx->mock, cmd, answer, sizeof(answer)), 0);
    assert_int_equal(strncmp(answer, "ok", 2), 0);

    json_t *p = s_run(fx, 1, "{\"tools\": [\"zap\", \"nmap\"]}");
    assert_string_equal(e2e_str(p, "status"), "completed");
    const json_t *task = json_array_get(json_object_get(p, "tasks"), 0);
    assert_string_equal(e2e_str(task, "warning"),
                        "requested tools did not run: nmap (not_available)");
    json_decref(p);

    p = s_run(fx, 1, "{\"tools\": [\"nmap\"]}");
    assert_string_equal(e2e_str(p, "status"), "failed");
    json_t *t = s_only_task(fx, p);
    assert_int_equal(json_integer_value(json_object_get(t, "attempts")), 1);
    assert_string_equal(e2e_str(t, "error"),
                        "verdict: none of the requested tools ran: nmap (not_available)");
    json_decref(t);
    json_decref(p);

    /* app 3: the analyzer answers "partial" */
    p = s_run(fx, 3, "{\"analyzers\": [\"dynamic\"]}");
    assert_string_equal(e2e_str(p, "status"), "completed");
    task = json_array_get(json_object_get(p, "tasks"), 0);
    assert_string_equal(e2e_str(task, "status"), "succeeded");
    assert_string_equal(e2e_str(task, "warning"), "partial result (partial)");
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_daemon_tools_per_replica, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_daemon_tools_not_run_and_partial, e2e_fx_setup,
                                        e2e_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
