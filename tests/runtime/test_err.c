/*  test_err.c: the one error table (runtime/sl_err.h): every code has its
    own name and a message, codes not in the table (gaps, positives, far
    negatives) read as unknown, and no code duplicates an outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "runtime/sl_err.h"

static const int s_codes[] = {
#define S_CODE(sym, val, name, msg) sym,
    SL_ERR_TABLE(S_CODE)
#undef S_CODE
};
#define S_N (sizeof s_codes / sizeof s_codes[0])

static void test_err_names_unique(void **unused)
{
    (void)unused;
    for (size_t i = 0; i < S_N; i++) {
        assert_string_not_equal(sl_err_name(s_codes[i]), "unknown");
        assert_string_not_equal(sl_err_msg(s_codes[i]), "unknown error");
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(sl_err_name(s_codes[i]), sl_err_name(s_codes[j]));
        }
    }
    assert_string_equal(sl_err_name(SL_OK), "ok");
    assert_string_equal(sl_err_name(SL_ETIMEOUT), "timeout");
    assert_string_equal(sl_err_msg(SL_ENOMEM), "out of memory");
}

static void test_err_unknown_codes(void **unused)
{
    (void)unused;
    const int unknown[] = {1, 42, -19, -23, -26, -27, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(sl_err_name(unknown[i]), "unknown");
        assert_string_equal(sl_err_msg(unknown[i]), "unknown error");
    }
}

static void test_err_no_outcome_names(void **unused)
{
    (void)unused;
    /* How an attempt ended is proto/sl_outcome.h's; the error table says
       why a call failed and has no codes for outcomes. */
    const char *outcomes[] = {"verdict", "analyzer_error", "transport", "rejected", "cancelled"};
    for (size_t i = 0; i < S_N; i++) {
        for (size_t k = 0; k < sizeof outcomes / sizeof outcomes[0]; k++) {
            assert_string_not_equal(sl_err_name(s_codes[i]), outcomes[k]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_names_unique),
        cmocka_unit_test(test_err_unknown_codes),
        cmocka_unit_test(test_err_no_outcome_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
