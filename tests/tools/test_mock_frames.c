/*  test_mock_frames.c: the mock fleet's frame builders (tools/mock/
    mock_frames.c), in process.

    The pre-rendered result of the instant mux path must be the very bytes
    the full builder writes, apart from the two timestamps, for every
    service, with and without a tool list, and with a model that jansson has
    to escape; an id that would need escaping is left to the full builder.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/mock/mock_frames.h"

/* Blanks the value of every "analysis_time" / "timestamp" key. */
static void s_blank_times(char *s)
{
    const char *keys[] = {"\"analysis_time\": \"", "\"timestamp\": \""};
    for (size_t k = 0; k < 2; k++) {
        for (char *p = strstr(s, keys[k]); p; p = strstr(p + 1, keys[k])) {
            for (char *v = p + strlen(keys[k]); *v && *v != '"'; v++) {
                *v = '#';
            }
        }
    }
}

static void test_mock_frames_template_renders_the_full_frame(void **state)
{
    (void)state;
    json_t *one = json_pack("[s]", "bandit");
    json_t *two = json_pack("[s,s]", "curl", "zap");
    const json_t *tool_lists[] = {NULL, one, two};
    const char *models[] = {"bench_model", "anthropic_claude-3.5 \"q\" \xc3\xa9/x"};
    const sl_service_t svcs[] = {SL_SVC_STATIC, SL_SVC_DYNAMIC, SL_SVC_PERFORMANCE, SL_SVC_AI};
    for (size_t s = 0; s < 4; s++) {
        for (size_t m = 0; m < 2; m++) {
            for (size_t t = 0; t < 3; t++) {
                sl_mock_result_tmpl_t *tmpl =
                    sl_mock_result_tmpl_new(svcs[s], models[m], 7, tool_lists[t]);
                assert_non_null(tmpl);
                assert_true(
                    sl_mock_result_tmpl_matches(tmpl, svcs[s], models[m], 7, tool_lists[t]));
                char *fast = sl_mock_result_tmpl_render(tmpl, "task-00000042-a3");
                char *full = sl_mock_frame_result(svcs[s], "task-00000042-a3", models[m], 7,
                                                  tool_lists[t], 0);
                assert_non_null(fast);
                assert_non_null(full);
                s_blank_times(fast);
                s_blank_times(full);
                assert_string_equal(fast, full);
                free(fast);
                free(full);
                sl_mock_result_tmpl_destroy(&tmpl);
                assert_null(tmpl);
            }
        }
    }
    json_decref(one);
    json_decref(two);
}

static void test_mock_frames_template_matches_and_declines(void **state)
{
    (void)state;
    json_t *one = json_pack("[s]", "bandit");
    json_t *same = json_pack("[s]", "bandit");
    json_t *other = json_pack("[s]", "pylint");
    sl_mock_result_tmpl_t *tmpl = sl_mock_result_tmpl_new(SL_SVC_STATIC, "m", 1, one);
    assert_non_null(tmpl);
    assert_true(sl_mock_result_tmpl_matches(tmpl, SL_SVC_STATIC, "m", 1, same));
    assert_false(sl_mock_result_tmpl_matches(tmpl, SL_SVC_STATIC, "m", 1, other));
    assert_false(sl_mock_result_tmpl_matches(tmpl, SL_SVC_STATIC, "m", 1, NULL));
    assert_false(sl_mock_result_tmpl_matches(tmpl, SL_SVC_STATIC, "m", 2, one));
    assert_false(sl_mock_result_tmpl_matches(tmpl, SL_SVC_STATIC, "n", 1, one));
    assert_false(sl_mock_result_tmpl_matches(tmpl, SL_SVC_AI, "m", 1, one));
    assert_false(sl_mock_result_tmpl_matches(NULL, SL_SVC_STATIC, "m", 1, one));
    /* ids jansson would escape go to the full builder */
    assert_null(sl_mock_result_tmpl_render(tmpl, "a\"b"));
    assert_null(sl_mock_result_tmpl_render(tmpl, "a\\b"));
    assert_null(sl_mock_result_tmpl_render(tmpl, "tab\there"));
    assert_null(sl_mock_result_tmpl_render(tmpl, "caf\xc3\xa9"));
    char *ok = sl_mock_result_tmpl_render(tmpl, "");
    assert_non_null(ok);
    json_error_t err;
    json_t *root = json_loads(ok, 0, &err);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "id")), "");
    json_decref(root);
    free(ok);
    sl_mock_result_tmpl_destroy(&tmpl);
    sl_mock_result_tmpl_destroy(&tmpl); /* NULL is fine */
    json_decref(one);
    json_decref(same);
    json_decref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mock_frames_template_renders_the_full_frame),
        cmocka_unit_test(test_mock_frames_template_matches_and_declines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
