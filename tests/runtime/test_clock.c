/*  test_clock.c: system and manual clocks (runtime/sl_clock.h) and the log
    level parsing of runtime/sl_log.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>

#include "runtime/sl_clock.h"
#include "runtime/sl_err.h"
#include "runtime/sl_log.h"

static void test_clock_system(void **unused)
{
    sl_clock_t *c = sl_clock_new_system();
    assert_non_null(c);
    assert_false(sl_clock_is_manual(c));
    int64_t a = sl_clock_now(c);
    int64_t b = sl_clock_now(c);
    assert_true(b >= a);
    int64_t us = sl_clock_now_us(c);
    assert_true(us / 1000 >= b);
    /* wall time is after 2020 */
    assert_true(sl_clock_wall_ms(c) > 1577836800000LL);
    assert_int_equal(sl_clock_advance(c, 10), SL_EINVAL);
    sl_clock_destroy(&c);
    assert_null(c);
    sl_clock_destroy(&c);
}

static void test_clock_manual(void **unused)
{
    sl_clock_t *c = sl_clock_new_manual(5000, 1700000000000LL);
    assert_true(sl_clock_is_manual(c));
    assert_int_equal(sl_clock_now(c), 5000);
    assert_int_equal(sl_clock_now_us(c), 5000000);
    assert_int_equal(sl_clock_wall_ms(c), 1700000000000LL);
    assert_int_equal(sl_clock_now(c), 5000); /* does not move by itself */
    assert_int_equal(sl_clock_advance(c, 250), 0);
    assert_int_equal(sl_clock_now(c), 5250);
    assert_int_equal(sl_clock_wall_ms(c), 1700000000250LL);
    assert_int_equal(sl_clock_advance(c, -1), SL_EINVAL);
    assert_int_equal(sl_clock_advance(c, 0), 0);
    assert_int_equal(sl_clock_now(c), 5250);
    sl_clock_destroy(&c);
}

static void test_clock_log_levels(void **unused)
{
    sl_log_level_t l;
    assert_int_equal(sl_log_parse_level("debug", &l), 0);
    assert_int_equal(l, SL_LOG_DEBUG);
    assert_int_equal(sl_log_parse_level("WARN", &l), 0);
    assert_int_equal(l, SL_LOG_WARN);
    assert_int_equal(sl_log_parse_level("off", &l), 0);
    assert_int_equal(l, SL_LOG_OFF);
    assert_int_equal(sl_log_parse_level("loud", &l), SL_EINVAL);
    assert_int_equal(sl_log_parse_level(NULL, &l), SL_EINVAL);
    sl_log_set_level(SL_LOG_ERROR);
    assert_int_equal(sl_log_get_level(), SL_LOG_ERROR);
    sl_log_set_thread_label("a-very-long-thread-label-that-is-truncated");
    sl_info("not printed at level error");
    sl_log_set_level(SL_LOG_OFF);
    sl_error("not printed either");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_system),
        cmocka_unit_test(test_clock_manual),
        cmocka_unit_test(test_clock_log_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
