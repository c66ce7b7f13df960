/*  test_resume.c: retries resume from the last checkpoint, through the real
    sluiced and the mock fleet on the mux protocol (issue 10, section 2).

    One pipeline, one app, one dynamic analysis (6 stages, starting ..
    completed, the mock's checkpoints "<stage>:<index>"):
    - another_replica: replica A drops its connection after stage 3
      (fault disconnect=3); the retry goes to replica B with resume_from
      "vulnerability_scan:3", and B's result says it resumed there. The
      first attempt's history entry keeps the checkpoint.
    - sigkill: the only replica stalls after stage 3 (fault stall=3);
      once the task.progress event of stage 3 is stored (the checkpoint is
      committed with it) and task.get shows resume_from, sluiced is
      killed with SIGKILL, the
      replica's fault removed, sluiced restarted on the same data: the
      re-dispatched attempt carries the stored checkpoint and the result
      says it resumed.

    The mock and sluiced run as children on loopback (port 0 replicas, API
    on an ipc:// path in a mkdtemp directory), stopped by pid in the
    teardown; every wait has a deadline.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

/* sluiced on fx->data, dynamic-analyzer speaking mux; one log per start. */
static void s_start_daemon(e2e_fx_t *fx)
{
    const char *sets[] = {"services/dynamic-analyzer/protocol=mux",
                          "pipeline/backoff_initial_ms=50", "pipeline/backoff_max_ms=200", NULL};
    e2e_fx_start_daemon(fx, sets);
}

/* Starts the one-app dynamic pipeline; its id into id, its task's into tid. */
static void s_start_pipeline(e2e_fx_t *fx, char *id, char *tid)
{
    json_t *r =
        e2e_callf(fx->api, 10000, "{ss s{s{ss s[{ss si}]} s{s[s] s{s[s]}}}}", "op",
                  "pipeline.start", "config", "generation", "mode", "existing", "existing_apps",
                  "model", "local_model", "app_number", 1, "analysis", "tools", "zap", "options",
                  "target_urls", "http://{model}-app{app}_backend:5000");
    assert_true(e2e_ok(r));
    snprintf(id, 64, "%s", e2e_str(r, "pipeline_id"));
    json_decref(r);
    json_t *p = e2e_pipeline_get(fx->api, id);
    assert_non_null(p);
    json_t *tasks = json_object_get(p, "tasks");
    assert_int_equal(json_array_size(tasks), 1);
    snprintf(tid, 64, "%s", e2e_str(json_array_get(tasks, 0), "id"));
    json_decref(p);
}

static json_t *s_task(e2e_fx_t *fx, const char *tid)
{
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "task.get", "task_id", tid);
    assert_true(e2e_ok(r));
    json_t *t = json_incref(json_object_get(r, "task"));
    json_decref(r);
    assert_non_null(t);
    return t;
}

/* Whether a task.progress event of task tid at stage is stored. */
static bool s_progress_committed(e2e_fx_t *fx, const char *tid, const char *stage)
{
    uint64_t last = 0;
    json_t *events = e2e_events_all(fx->api, &last);
    assert_non_null(events);
    bool found = false;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        found = found || (strcmp(e2e_str(ev, "topic"), "task.progress") == 0 &&
                          strcmp(e2e_str(ev, "task_id"), tid) == 0 &&
                          strcmp(e2e_str(ev, "stage"), stage) == 0);
    }
    json_decref(events);
    return found;
}

/* The pipeline completed and its task's result says it resumed at stage. */
static void s_check_resumed(e2e_fx_t *fx, const char *id, const char *tid, const char *stage)
{
    json_t *p = e2e_wait_terminal(fx->api, id, e2e_now_ms() + 30000);
    assert_non_null(p);
    assert_string_equal(e2e_str(p, "status"), "completed");
    json_decref(p);
    /* readable at once: the store answers a read after every write sent
       before it, and the shard wrote the result before it answered */
    json_t *r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "result.get", "task_id", tid);
    assert_true(e2e_ok(r));
    json_error_t err;
    json_t *frame = json_loads(e2e_str(r, "result"), 0, &err);
    assert_non_null(frame);
    assert_string_equal(e2e_str(frame, "resumed_from"), stage);
    json_decref(frame);
    json_decref(r);
}

static void test_resume_on_another_replica(void **state)
{
    e2e_fx_t *fx = *state;
    const char *replicas[] = {
        "dynamic:127.0.0.1:0:proto=mux:latency=600:progress=40:fault=disconnect=3",
        "dynamic:127.0.0.1:0:proto=mux:latency=600:progress=40", NULL};
    e2e_fx_start_mock(fx, NULL, replicas);
    s_start_daemon(fx);
    char id[64], tid[64];
    s_start_pipeline(fx, id, tid);
    s_check_resumed(fx, id, tid, "vulnerability_scan");

    json_t *t = s_task(fx, tid);
    assert_string_equal(e2e_str(t, "resume_from"), "completed:5"); /* where B got to */
    json_t *hist = json_object_get(t, "history");
    assert_int_equal(json_array_size(hist), 2);
    json_t *a1 = json_array_get(hist, 0), *a2 = json_array_get(hist, 1);
    assert_string_equal(e2e_str(a1, "outcome"), "transport");
    assert_string_equal(e2e_str(a1, "last_checkpoint"), "vulnerability_scan:3");
    assert_string_equal(e2e_str(a1, "replica"), fx->mock->urls[E2E_DYNAMIC][0]);
    assert_string_equal(e2e_str(a2, "replica"), fx->mock->urls[E2E_DYNAMIC][1]);
    assert_string_equal(e2e_str(a2, "outcome"), "success");
    json_decref(t);
}

static void test_resume_after_sigkill(void **state)
{
    e2e_fx_t *fx = *state;
    const char *replicas[] = {
        "dynamic:127.0.0.1:0:proto=mux:latency=5000:progress=40:heartbeat=100:fault=stall=3", NULL};
    e2e_fx_start_mock(fx, NULL, replicas);
    s_start_daemon(fx);
    char id[64], tid[64];
    s_start_pipeline(fx, id, tid);
    /* The checkpoint is stored with the task as soon as it is reported,
       committed with the task.progress event of its stage: once that event
       can be read, a SIGKILL cannot lose it. */
    int64_t deadline = e2e_now_ms() + 15000;
    while (!s_progress_committed(fx, tid, "vulnerability_scan")) {
        assert_true(e2e_now_ms() < deadline);
        e2e_nap(10);
    }
    json_t *t = s_task(fx, tid);
    assert_string_equal(e2e_str(t, "resume_from"), "vulnerability_scan:3");
    json_decref(t);
    assert_int_equal(e2e_stop(fx->d, SIGKILL, 5000), 128 + SIGKILL);
    e2e_proc_free(&fx->d);
    e2e_api_close(&fx->api);

    char cmd[128], answer[256];
    snprintf(cmd, sizeof(cmd), "fault %s none", fx->mock->urls[E2E_DYNAMIC][0]);
    assert_int_equal(e2e_mock_control(fx->mock, cmd, answer, sizeof(answer)), 0);
    assert_true(strncmp(answer, "ok", 2) == 0);
    s_start_daemon(fx);
    s_check_resumed(fx, id, tid, "vulnerability_scan");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resume_on_another_replica, e2e_fx_setup,
                                        e2e_fx_teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_sigkill, e2e_fx_setup, e2e_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
