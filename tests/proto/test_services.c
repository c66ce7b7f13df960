/*  test_services.c: the services declaration (proto/sl_services.def) and its
    look-ups, the one table every part of sluice and the mock fleet use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sl_services.h"
#include "runtime/sl_err.h"

static void test_services_names_ops_results(void **state)
{
    (void)state;
    static const char *const expect[SL_SVC__COUNT][5] = {
        {"static-analyzer", "static", "static_analyze", "static_analysis_result",
         "STATIC_ANALYZER_URLS"},
        {"dynamic-analyzer", "dynamic", "dynamic_analyze", "dynamic_analysis_result",
         "DYNAMIC_ANALYZER_URLS"},
        {"performance-tester", "performance", "performance_test", "performance_analysis_result",
         "PERF_TESTER_URLS"},
        {"ai-analyzer", "ai", "ai_analyze", "ai_analysis_result", "AI_ANALYZER_URLS"},
        {"generator", "generator", "generate", "generation_result", "GENERATOR_URLS"},
    };
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        assert_string_equal(sl_service_name(i), expect[i][0]);
        assert_string_equal(sl_service_alias(i), expect[i][1]);
        assert_string_equal(sl_service_op(i), expect[i][2]);
        assert_string_equal(sl_service_result_type(i), expect[i][3]);
        assert_string_equal(sl_service_env(i), expect[i][4]);
        assert_int_equal(sl_service_parse(expect[i][0], strlen(expect[i][0])), i);
        assert_int_equal(sl_service_parse_alias(expect[i][1], strlen(expect[i][1])), i);
        assert_int_equal(sl_service_of_op(expect[i][2], strlen(expect[i][2])), i);
    }
    assert_int_equal(SL_SVC_ANALYZERS, 4);
    assert_int_equal(sl_service_parse("static", 6), SL_ENOTFOUND);
    assert_int_equal(sl_service_parse("static-analyzerX", 15), SL_SVC_STATIC); /* len counts */
    assert_int_equal(sl_service_parse(NULL, 0), SL_EINVAL);
    assert_int_equal(sl_service_of_op("static_analysis", 15), SL_ENOTFOUND);
    assert_string_equal(sl_service_name(SL_SVC__COUNT), "unknown");
    assert_string_equal(sl_service_name(-1), "unknown");
    assert_null(sl_service_op(SL_SVC__COUNT));
    assert_null(sl_service_result_type(-1));
}

static void test_services_targets_ports_tools(void **state)
{
    (void)state;
    assert_false(sl_service_needs_targets(SL_SVC_STATIC));
    assert_true(sl_service_needs_targets(SL_SVC_DYNAMIC));
    assert_true(sl_service_needs_targets(SL_SVC_PERFORMANCE));
    assert_true(sl_service_needs_targets(SL_SVC_AI));
    assert_false(sl_service_needs_targets(SL_SVC_GENERATOR));
    assert_false(sl_service_needs_targets(SL_SVC__COUNT));
    assert_string_equal(sl_service_ports(SL_SVC_STATIC), "2001 2051 2052 2056");
    assert_string_equal(sl_service_ports(SL_SVC_GENERATOR), "2005");
    assert_string_equal(sl_service_tools(SL_SVC_GENERATOR), "");
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        assert_true(sl_service_max_in_flight(i) >= 1);
    }
    assert_int_equal(sl_service_max_in_flight(SL_SVC__COUNT), 0);
    /* every built-in tool maps back to its one analyzer */
    for (int i = 0; i < SL_SVC_ANALYZERS; i++) {
        const char *p = sl_service_tools(i);
        int n = 0;
        while (*p) {
            size_t len = strcspn(p, " ");
            assert_int_equal(sl_service_of_tool(p, len), i);
            n++;
            p += len;
            p += strspn(p, " ");
        }
        assert_true(n > 0);
    }
    assert_int_equal(sl_service_of_tool("zap", 3), SL_SVC_DYNAMIC);
    assert_int_equal(sl_service_of_tool("za", 2), SL_ENOTFOUND);
    assert_int_equal(sl_service_of_tool("hammer", 6), SL_ENOTFOUND);
    assert_int_equal(sl_service_of_tool("", 0), SL_ENOTFOUND);
    assert_true(sl_service_words_have("a bb c", "bb", 2));
    assert_false(sl_service_words_have("a bb c", "b", 1));
    assert_false(sl_service_words_have("", "a", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_services_names_ops_results),
        cmocka_unit_test(test_services_targets_ports_tools),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
