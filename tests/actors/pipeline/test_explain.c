/*  test_explain.c: the words of a timeout's structured error and of a
    pipeline's summary (actors/pipeline/sl_explain.h).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline/sl_explain.h"

static void test_explain_attempt_timeout_names_key_value_and_progress(void **state)
{
    (void)state;
    sl_explain_t e;
    sl_explain_in_t in = {.code = "attempt_timeout",
                          .service = "static-analyzer",
                          .attempt = 2,
                          .key = "services/static-analyzer/attempt_timeout_s",
                          .value_ms = 900000,
                          .last_stage = "scanning_js",
                          .last_pct = 40,
                          .last_message = "running eslint"};
    assert_int_equal(sl_explain_timeout(&in, &e), 0);
    assert_string_equal(e.code, "attempt_timeout");
    assert_string_equal(e.message, "static-analyzer attempt 2 got no result within 900 s; the "
                                   "analyzer last reported: scanning_js 40% \"running eslint\"");
    assert_string_equal(e.suggestion, "raise services/static-analyzer/attempt_timeout_s (900) or "
                                      "use the quick profile or fewer tools");
    sl_explain_clear(&e);
    assert_null(e.message);
    /* already on the quick profile: no advice to use it */
    in.key = "profiles/quick/attempt_timeout_s";
    in.value_ms = 60000;
    assert_int_equal(sl_explain_timeout(&in, &e), 0);
    assert_string_equal(e.suggestion,
                        "raise profiles/quick/attempt_timeout_s (60) or use fewer tools");
    sl_explain_clear(&e);
}

static void test_explain_units_follow_the_key(void **state)
{
    (void)state;
    sl_explain_t e;
    sl_explain_in_t in = {.code = "pong_timeout",
                          .service = "dynamic-analyzer",
                          .attempt = 1,
                          .key = "services/dynamic-analyzer/pong_timeout_ms",
                          .value_ms = 10000,
                          .last_pct = -1};
    assert_int_equal(sl_explain_timeout(&in, &e), 0);
    assert_non_null(strstr(e.message, "within 10000 ms after a missed pong"));
    assert_non_null(strstr(e.message, "reported no progress"));
    assert_non_null(
        strstr(e.suggestion, "raise services/dynamic-analyzer/pong_timeout_ms (10000)"));
    sl_explain_clear(&e);

    /* a request's own timeout (seconds), scaled x1.5 by a DLQ retry */
    in = (sl_explain_in_t){.code = "progress_timeout",
                           .service = "ai-analyzer",
                           .attempt = 4,
                           .key = "timeouts.progress",
                           .value_ms = 1500,
                           .last_stage = "requirements",
                           .last_pct = -1};
    assert_int_equal(sl_explain_timeout(&in, &e), 0);
    assert_non_null(strstr(e.message, "reported no progress within 1.500 s"));
    assert_non_null(strstr(e.message, "last reported: requirements"));
    assert_non_null(strstr(e.suggestion, "raise timeouts.progress (1.500)"));
    sl_explain_clear(&e);
}

static void test_explain_task_stage_pipeline_deadlines(void **state)
{
    (void)state;
    const char *codes[] = {"task_timeout", "stage_timeout", "pipeline_timeout"};
    const char *keys[] = {"pipeline/task_timeout_s", "pipeline/stage_timeout_s",
                          "pipeline/pipeline_timeout_s"};
    for (int i = 0; i < 3; i++) {
        sl_explain_t e;
        sl_explain_in_t in = {.code = codes[i],
                              .service = "performance-tester",
                              .key = keys[i],
                              .value_ms = 3600000,
                              .last_pct = -1};
        assert_true(sl_explain_is_timeout(codes[i]));
        assert_int_equal(sl_explain_timeout(&in, &e), 0);
        assert_string_equal(e.code, codes[i]);
        assert_non_null(strstr(e.message, "performance-tester task"));
        assert_non_null(strstr(e.message, "3600 s"));
        char want[96];
        snprintf(want, sizeof want, "raise %s (3600) or ", keys[i]);
        assert_non_null(strstr(e.suggestion, want));
        sl_explain_clear(&e);
    }
    assert_false(sl_explain_is_timeout("verdict"));
    assert_false(sl_explain_is_timeout(NULL));
}

static void test_explain_summary_groups_causes_and_services(void **state)
{
    (void)state;
    sl_explain_miss_t m[] = {
        {"verdict", "ai-analyzer"},
        {"attempt_timeout", "static-analyzer"},
        {"attempt_timeout", "dynamic-analyzer"},
        {"attempt_timeout", "static-analyzer"},
        {"verdict", "ai-analyzer"},
        {"attempt_timeout", "dynamic-analyzer"},
        {"attempt_timeout", "static-analyzer"},
        {"verdict", "static-analyzer"},
    };
    char *s = sl_explain_summary(4, 12, m, 8);
    assert_string_equal(s, "4/12 tasks succeeded, 8 failed: 5 attempt_timeout (static-analyzer "
                           "3, dynamic-analyzer 2), 3 verdict (ai-analyzer 2, static-analyzer 1)");
    free(s);
    s = sl_explain_summary(3, 3, NULL, 0);
    assert_string_equal(s, "3/3 tasks succeeded");
    free(s);
    sl_explain_miss_t one = {NULL, NULL};
    s = sl_explain_summary(0, 1, &one, 1);
    assert_string_equal(s, "0/1 tasks succeeded, 1 failed: 1 unknown (? 1)");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_attempt_timeout_names_key_value_and_progress),
        cmocka_unit_test(test_explain_units_follow_the_key),
        cmocka_unit_test(test_explain_task_stage_pipeline_deadlines),
        cmocka_unit_test(test_explain_summary_groups_causes_and_services),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
