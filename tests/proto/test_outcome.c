/*  test_outcome.c: the outcome vocabulary (proto/sl_outcome.h): every
    outcome has its own name, the names users see are the documented ones
    (README "Statuses"), and retry/blame follow the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "proto/sl_outcome.h"

static void test_outcome_names_unique_and_documented(void **unused)
{
    (void)unused;
    static const char *const documented[SL_OUT__COUNT] = {
        "success",      "partial_success", "verdict",          "targets_unreachable",
        "error",        "transport",       "malformed",        "connect_timeout",
        "pong_timeout", "queue_timeout",   "progress_timeout", "attempt_timeout",
        "rejected",     "cancelled",       "interrupted"};
    for (int i = 0; i < SL_OUT__COUNT; i++) {
        assert_string_equal(sl_outcome_name(i), documented[i]);
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(sl_outcome_name(i), sl_outcome_name(j));
        }
    }
    assert_string_equal(sl_outcome_name(SL_OUT__COUNT), "unknown");
    assert_string_equal(sl_outcome_name(-1), "unknown");
}

static void test_outcome_retry_and_blame(void **unused)
{
    (void)unused;
    /* A verdict: nowhere else would do better, and no replica is to blame. */
    assert_false(sl_outcome_retryable(SL_OUT_VERDICT));
    assert_false(sl_outcome_replica_fault(SL_OUT_VERDICT));
    /* The analyzer failed: another replica may do, this one is blamed. */
    assert_true(sl_outcome_retryable(SL_OUT_ERROR));
    assert_true(sl_outcome_replica_fault(SL_OUT_ERROR));
    assert_true(sl_outcome_retryable(SL_OUT_INTERRUPTED));
    assert_false(sl_outcome_replica_fault(SL_OUT_INTERRUPTED));
    assert_false(sl_outcome_retryable(SL_OUT_CANCELLED));
    assert_true(sl_outcome_succeeded(SL_OUT_PARTIAL_SUCCESS));
    assert_false(sl_outcome_succeeded(SL_OUT_VERDICT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_names_unique_and_documented),
        cmocka_unit_test(test_outcome_retry_and_blame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
