/*  test_timeouts.c: when time runs out, through the real sluiced and the
    mock fleet (issue 10, section 3).

    One pipeline, one app, one dynamic analysis on a mux replica that
    reports progress with a partial result (partial=on) and heartbeats but
    takes 20 s; the request's own attempt timeout is 1 s and it allows one
    attempt. The attempt ends attempt_timeout and the task is parked:
    pipeline.get's task carries error_detail {code, message, suggestion}
    naming timeouts.attempt (1) and the analyzer's last progress, the
    pipeline's error_message counts the cause by service, the task.status
    event and the DLQ entry carry the same error_detail, and result.get
    answers the partial result with partial: true.

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

static const json_t *s_detail_of(const json_t *o)
{
    const json_t *d = json_object_get(o, "error_detail");
    assert_true(json_is_object(d));
    return d;
}

static void test_timeouts_attempt_timeout_explained(void **state)
{
    e2e_fx_t *fx = *state;
    const char *replicas[] = {
        "dynamic:127.0.0.1:0:proto=mux:latency=20000:progress=40:heartbeat=100:partial=on", NULL};
    e2e_fx_start_mock(fx, NULL, replicas);
    const char *sets[] = {"services/dynamic-analyzer/protocol=mux", NULL};
    e2e_fx_start_daemon(fx, sets);

    json_t *r =
        e2e_callf(fx->api, 10000, "{ss s{s{ss s[{ss si}]} s{s[s] s{s[s]}}} s{si} s{si}}", "op",
                  "pipeline.start", "config", "generation", "mode", "existing", "existing_apps",
                  "model", "local_model", "app_number", 1, "analysis", "tools", "zap", "options",
                  "target_urls", "http://{model}-app{app}_backend:5000", "timeouts", "attempt", 1,
                  "retry", "max_attempts", 1);
    char id[64];
    json_t *p = e2e_wait_started(fx->api, r, id, sizeof(id), e2e_now_ms() + 30000);
    assert_string_equal(e2e_str(p, "status"), "failed");
    assert_string_equal(e2e_str(p, "error_message"),
                        "0/1 tasks succeeded, 1 failed: 1 attempt_timeout (dynamic-analyzer 1)");
    json_t *task = json_array_get(json_object_get(p, "tasks"), 0);
    char tid[64];
    snprintf(tid, sizeof(tid), "%s", e2e_str(task, "id"));
    assert_string_equal(e2e_str(task, "status"), "dead");
    assert_non_null(strstr(e2e_str(task, "error"), "attempt_timeout")); /* the string stays */
    const json_t *d = s_detail_of(task);
    assert_string_equal(e2e_str(d, "code"), "attempt_timeout");
    assert_non_null(strstr(e2e_str(d, "message"), "dynamic-analyzer attempt 1 got no result within "
                                                  "1 s; the analyzer last reported: "));
    assert_string_equal(e2e_str(d, "suggestion"),
                        "raise timeouts.attempt (1) or use the quick profile or fewer tools");
    char suggestion[256];
    snprintf(suggestion, sizeof(suggestion), "%s", e2e_str(d, "suggestion"));
    json_decref(p);

    /* the task.status event that parked it */
    uint64_t last = 0;
    json_t *events = e2e_events_all(fx->api, &last);
    assert_non_null(events);
    bool seen = false;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        if (strcmp(e2e_str(ev, "topic"), "task.status") == 0 &&
            strcmp(e2e_str(ev, "task_id"), tid) == 0 &&
            strcmp(e2e_str(ev, "status"), "dead") == 0) {
            assert_string_equal(e2e_str(s_detail_of(ev), "suggestion"), suggestion);
            seen = true;
        }
    }
    assert_true(seen);
    json_decref(events);

    /* the DLQ entry */
    r = e2e_callf(fx->api, 5000, "{ss}", "op", "dlq.list");
    assert_true(e2e_ok(r));
    json_t *entries = json_object_get(r, "entries");
    assert_int_equal(json_array_size(entries), 1);
    assert_string_equal(e2e_str(s_detail_of(json_array_get(entries, 0)), "code"),
                        "attempt_timeout");
    json_decref(r);

    /* what the analyzer reported before: its partial result */
    r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "result.get", "task_id", tid);
    assert_true(e2e_ok(r));
    assert_true(json_is_true(json_object_get(r, "partial")));
    json_error_t err;
    json_t *partial = json_loads(e2e_str(r, "result"), 0, &err);
    assert_non_null(partial);
    assert_true(json_integer_value(json_object_get(partial, "stages_done")) >= 1);
    json_decref(partial);
    json_decref(r);
    r = e2e_callf(fx->api, 5000, "{ss ss si}", "op", "result.get", "task_id", tid, "attempt", 1);
    assert_true(e2e_ok(r));
    assert_true(json_is_true(json_object_get(r, "partial")));
    json_decref(r);
    r = e2e_callf(fx->api, 5000, "{ss ss}", "op", "task.get", "task_id", tid);
    assert_true(e2e_ok(r));
    json_t *hist = json_object_get(json_object_get(r, "task"), "history");
    assert_true(json_is_true(json_object_get(json_array_get(hist, 0), "partial")));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_timeouts_attempt_timeout_explained, e2e_fx_setup,
                                        e2e_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
