/*  test_breaker.c: the circuit breaker and replica choice, with explicit
    times (no clock, no threads). Every transition of the breaker is
    driven here: consecutive and rate-based opening, the open period and its
    doubling cap, the half-open probe and its wait cap.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "actors/endpoint/sl_breaker.h"
#include "runtime/sl_err.h"

static sl_breaker_t *s_new_default(void)
{
    sl_breaker_config_t cfg;
    sl_breaker_config_defaults(&cfg);
    sl_breaker_t *b = sl_breaker_new(&cfg);
    assert_non_null(b);
    return b;
}

static void test_breaker_defaults(void **state)
{
    (void)state;
    sl_breaker_config_t cfg;
    sl_breaker_config_defaults(&cfg);
    assert_int_equal(cfg.failure_threshold, 3);
    assert_int_equal(cfg.failure_rate_pct, 50);
    assert_int_equal(cfg.window, 10);
    assert_int_equal(cfg.min_calls, 5);
    assert_int_equal(cfg.open_ms, 30000);
    assert_int_equal(cfg.open_max_ms, 300000);
    assert_int_equal(cfg.half_open_max_wait_ms, 60000);
    assert_int_equal(sl_breaker_config_check(&cfg), 0);

    sl_breaker_config_t bad = cfg;
    bad.window = 65;
    assert_int_equal(sl_breaker_config_check(&bad), SL_ECONFIG);
    assert_null(sl_breaker_new(&bad));
    bad = cfg;
    bad.min_calls = 11;
    assert_int_equal(sl_breaker_config_check(&bad), SL_ECONFIG);
    bad = cfg;
    bad.open_max_ms = 10;
    assert_int_equal(sl_breaker_config_check(&bad), SL_ECONFIG);
    bad = cfg;
    bad.failure_threshold = 0;
    assert_int_equal(sl_breaker_config_check(&bad), SL_ECONFIG);

    sl_breaker_t *b = s_new_default();
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_CLOSED);
    assert_true(sl_breaker_admits(b));
    assert_false(sl_breaker_wants_probe(b));
    assert_true(sl_breaker_next_due(b) == INT64_MAX);
    assert_string_equal(sl_breaker_state_name(SL_BREAKER_HALF_OPEN), "half_open");
    assert_string_equal(sl_breaker_state_name(99), "unknown");
    sl_breaker_destroy(&b);
    assert_null(b);
    sl_breaker_destroy(&b);
    sl_breaker_destroy(NULL);
}

static void test_breaker_opens_after_consecutive_failures(void **state)
{
    (void)state;
    sl_breaker_config_t cfg;
    sl_breaker_config_defaults(&cfg);
    cfg.failure_rate_pct = 100; /* consecutive rule only */
    sl_breaker_t *b = sl_breaker_new(&cfg);
    assert_non_null(b);
    sl_breaker_transition_t tr;
    /* Successes in between reset the run. */
    assert_false(sl_breaker_record(b, 100, true, &tr));
    assert_false(sl_breaker_record(b, 110, true, &tr));
    assert_false(sl_breaker_record(b, 120, false, &tr));
    assert_false(sl_breaker_record(b, 130, true, &tr));
    assert_false(sl_breaker_record(b, 140, true, &tr));
    assert_true(sl_breaker_admits(b));
    memset(&tr, 0, sizeof tr);
    assert_true(sl_breaker_record(b, 1000, true, &tr));
    assert_int_equal(tr.from, SL_BREAKER_CLOSED);
    assert_int_equal(tr.to, SL_BREAKER_OPEN);
    assert_string_equal(tr.reason, "consecutive_failures");
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
    assert_false(sl_breaker_admits(b));
    assert_int_equal(sl_breaker_next_due(b), 1000 + 30000);

    sl_breaker_stats_t st;
    sl_breaker_stats(b, &st);
    assert_int_equal(st.calls, 6);
    assert_int_equal(st.failures, 5);
    assert_int_equal(st.open_until_ms, 31000);
    sl_breaker_destroy(&b);
}

static void test_breaker_opens_on_failure_rate(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    /* F S F S: 2 of 4, below min_calls. */
    assert_false(sl_breaker_record(b, 1, true, &tr));
    assert_false(sl_breaker_record(b, 2, false, &tr));
    assert_false(sl_breaker_record(b, 3, true, &tr));
    assert_false(sl_breaker_record(b, 4, false, &tr));
    /* 5th call a success: 2/5 = 40 %. */
    assert_false(sl_breaker_record(b, 5, false, &tr));
    /* F: 3/6 = 50 %, not over 50 %. */
    assert_false(sl_breaker_record(b, 6, true, &tr));
    /* F: only two in a row, but 4/7 = 57 % > 50 % opens it. */
    assert_true(sl_breaker_record(b, 7, true, &tr));
    assert_string_equal(tr.reason, "failure_rate");
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
    sl_breaker_destroy(&b);
}

static void test_breaker_rate_window_slides(void **state)
{
    (void)state;
    sl_breaker_config_t cfg;
    sl_breaker_config_defaults(&cfg);
    cfg.failure_threshold = 100; /* rate only */
    sl_breaker_t *b = sl_breaker_new(&cfg);
    assert_non_null(b);
    sl_breaker_transition_t tr;
    /* 5 failures interleaved so the rate stays at 50 % over 10 calls. */
    for (int i = 0; i < 10; i++) {
        assert_false(sl_breaker_record(b, i, (i % 2) == 1, &tr));
    }
    /* Twenty successes push every failure out of the window. */
    for (int i = 0; i < 20; i++) {
        assert_false(sl_breaker_record(b, 100 + i, false, &tr));
    }
    sl_breaker_stats_t st;
    sl_breaker_stats(b, &st);
    assert_int_equal(st.window_calls, 10);
    assert_int_equal(st.window_failures, 0);
    /* Five failures of the last ten: 50 %, still closed; the sixth opens. */
    for (int i = 0; i < 5; i++) {
        assert_false(sl_breaker_record(b, 200 + i, true, &tr));
    }
    assert_true(sl_breaker_record(b, 300, true, &tr));
    assert_string_equal(tr.reason, "failure_rate");
    sl_breaker_destroy(&b);
}

static void s_open_at(sl_breaker_t *b, int64_t t)
{
    for (int i = 0; i < 3; i++) {
        sl_breaker_record(b, t, true, NULL);
    }
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
}

static void test_breaker_half_opens_after_open_period(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    s_open_at(b, 1000);
    assert_false(sl_breaker_tick(b, 30999, &tr));
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
    assert_false(sl_breaker_wants_probe(b));
    assert_false(sl_breaker_take_probe(b, 30999));
    assert_true(sl_breaker_tick(b, 31000, &tr));
    assert_int_equal(tr.from, SL_BREAKER_OPEN);
    assert_int_equal(tr.to, SL_BREAKER_HALF_OPEN);
    assert_string_equal(tr.reason, "open_elapsed");
    /* Half-open admits no normal call, only the one probe. */
    assert_false(sl_breaker_admits(b));
    assert_true(sl_breaker_wants_probe(b));
    assert_true(sl_breaker_take_probe(b, 31000));
    assert_false(sl_breaker_take_probe(b, 31001));
    assert_false(sl_breaker_wants_probe(b));
    assert_int_equal(sl_breaker_next_due(b), 31000 + 60000);
    sl_breaker_destroy(&b);
}

static void test_breaker_probe_success_closes(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    s_open_at(b, 0);
    assert_true(sl_breaker_tick(b, 30000, &tr));
    /* A probe result without a taken probe is ignored. */
    assert_false(sl_breaker_record_probe(b, 30001, false, &tr));
    assert_true(sl_breaker_take_probe(b, 30001));
    /* A late normal call (admitted before opening) does not move it. */
    assert_false(sl_breaker_record(b, 30002, false, &tr));
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_HALF_OPEN);
    assert_true(sl_breaker_record_probe(b, 30010, false, &tr));
    assert_int_equal(tr.from, SL_BREAKER_HALF_OPEN);
    assert_int_equal(tr.to, SL_BREAKER_CLOSED);
    assert_string_equal(tr.reason, "probe_succeeded");
    assert_true(sl_breaker_admits(b));
    sl_breaker_stats_t st;
    sl_breaker_stats(b, &st);
    assert_int_equal(st.consecutive_failures, 0);
    assert_int_equal(st.window_calls, 0);
    assert_int_equal(st.open_period_ms, 30000);
    /* The window starts fresh: two failures do not open it. */
    assert_false(sl_breaker_record(b, 30020, true, &tr));
    assert_false(sl_breaker_record(b, 30030, true, &tr));
    assert_true(sl_breaker_admits(b));
    sl_breaker_destroy(&b);
}

static void test_breaker_probe_failure_doubles_up_to_max(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    int64_t t = 0;
    s_open_at(b, t);
    int64_t expect[] = {60000, 120000, 240000, 300000, 300000};
    int64_t period = 30000;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        t += period;
        assert_true(sl_breaker_tick(b, t, &tr));
        assert_int_equal(sl_breaker_state(b), SL_BREAKER_HALF_OPEN);
        assert_true(sl_breaker_take_probe(b, t));
        t += 5;
        assert_true(sl_breaker_record_probe(b, t, true, &tr));
        assert_string_equal(tr.reason, "probe_failed");
        assert_int_equal(tr.to, SL_BREAKER_OPEN);
        assert_int_equal(sl_breaker_next_due(b), t + expect[i]);
        period = expect[i];
    }
    /* A success resets the period to the base. */
    t += period;
    assert_true(sl_breaker_tick(b, t, &tr));
    assert_true(sl_breaker_take_probe(b, t));
    assert_true(sl_breaker_record_probe(b, t + 1, false, &tr));
    s_open_at(b, t + 2);
    assert_int_equal(sl_breaker_next_due(b), t + 2 + 30000);
    sl_breaker_destroy(&b);
}

static void test_breaker_half_open_wait_is_capped(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    s_open_at(b, 0);
    assert_true(sl_breaker_tick(b, 30000, &tr));
    assert_true(sl_breaker_take_probe(b, 30000));
    assert_false(sl_breaker_tick(b, 89999, &tr));
    assert_true(sl_breaker_tick(b, 90000, &tr));
    assert_int_equal(tr.from, SL_BREAKER_HALF_OPEN);
    assert_int_equal(tr.to, SL_BREAKER_OPEN);
    assert_string_equal(tr.reason, "probe_timeout");
    assert_int_equal(sl_breaker_next_due(b), 90000 + 60000);
    /* The probe's late answer is ignored. */
    assert_false(sl_breaker_record_probe(b, 90001, false, &tr));
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
    sl_breaker_destroy(&b);
}

static void test_breaker_open_ignores_late_results(void **state)
{
    (void)state;
    sl_breaker_t *b = s_new_default();
    sl_breaker_transition_t tr;
    s_open_at(b, 0);
    assert_false(sl_breaker_record(b, 10, false, &tr));
    assert_false(sl_breaker_record(b, 11, true, &tr));
    assert_int_equal(sl_breaker_state(b), SL_BREAKER_OPEN);
    assert_int_equal(sl_breaker_next_due(b), 30000);
    sl_breaker_stats_t st;
    sl_breaker_stats(b, &st);
    assert_int_equal(st.calls, 5);
    assert_int_equal(st.failures, 4);
    sl_breaker_destroy(&b);
}

static void test_breaker_pick_least_in_flight_then_ewma(void **state)
{
    (void)state;
    sl_breaker_t *b[3] = {s_new_default(), s_new_default(), s_new_default()};
    sl_breaker_candidate_t c[3] = {
        {b[0], 1, 2, 5.0, false, false},
        {b[1], 0, 2, 50.0, false, false},
        {b[2], 0, 2, 20.0, false, false},
    };
    assert_int_equal(sl_breaker_pick(c, 3), 2);
    c[2].in_flight = 1;
    assert_int_equal(sl_breaker_pick(c, 3), 1);
    c[1].in_flight = 2; /* full */
    assert_int_equal(sl_breaker_pick(c, 3), 0);
    c[0].in_flight = 2;
    c[2].in_flight = 2;
    assert_int_equal(sl_breaker_pick(c, 3), -1);
    assert_int_equal(sl_breaker_pick(c, 0), -1);
    for (int i = 0; i < 3; i++) {
        sl_breaker_destroy(&b[i]);
    }
}

static void test_breaker_pick_skips_open_breakers(void **state)
{
    (void)state;
    sl_breaker_t *b[2] = {s_new_default(), s_new_default()};
    sl_breaker_candidate_t c[2] = {
        {b[0], 0, 2, 1.0, false, false},
        {b[1], 1, 2, 100.0, false, false},
    };
    assert_int_equal(sl_breaker_pick(c, 2), 0);
    s_open_at(b[0], 0);
    assert_int_equal(sl_breaker_pick(c, 2), 1);
    s_open_at(b[1], 0);
    assert_int_equal(sl_breaker_pick(c, 2), -1);
    /* Half-open admits only its probe, not normal calls. */
    assert_true(sl_breaker_tick(b[0], 30000, NULL));
    assert_int_equal(sl_breaker_pick(c, 2), -1);
    for (int i = 0; i < 2; i++) {
        sl_breaker_destroy(&b[i]);
    }
}

static void test_breaker_pick_prefers_not_suspect(void **state)
{
    (void)state;
    sl_breaker_t *b[3] = {s_new_default(), s_new_default(), s_new_default()};
    sl_breaker_candidate_t c[3] = {
        {b[0], 0, 2, 1.0, false, true},
        {b[1], 1, 2, 100.0, false, false},
        {b[2], 1, 2, 50.0, false, true},
    };
    /* The suspect replica is idle and fast; the busier, slower one wins. */
    assert_int_equal(sl_breaker_pick(c, 3), 1);
    /* When it is full, a suspect replica with a free slot still takes it. */
    c[1].in_flight = 2;
    assert_int_equal(sl_breaker_pick(c, 3), 0);
    /* Back to the usual order once nobody is suspect. */
    c[0].suspect = c[2].suspect = false;
    c[1].in_flight = 0;
    assert_int_equal(sl_breaker_pick(c, 3), 0);
    for (int i = 0; i < 3; i++) {
        sl_breaker_destroy(&b[i]);
    }
}

static void test_breaker_pick_avoids_excluded(void **state)
{
    (void)state;
    sl_breaker_t *b[2] = {s_new_default(), s_new_default()};
    sl_breaker_candidate_t c[2] = {
        {b[0], 0, 2, 1.0, true, false},
        {b[1], 1, 2, 100.0, false, false},
    };
    /* The excluded replica is idle and fast, the other one still wins. */
    assert_int_equal(sl_breaker_pick(c, 2), 1);
    /* The other one is healthy but full: wait for it. */
    c[1].in_flight = 2;
    assert_int_equal(sl_breaker_pick(c, 2), -1);
    /* The other one's breaker is open: the excluded one is better than none. */
    c[1].in_flight = 0;
    s_open_at(b[1], 0);
    assert_int_equal(sl_breaker_pick(c, 2), 0);
    /* Everything excluded: still served. */
    c[1].excluded = true;
    assert_int_equal(sl_breaker_pick(c, 2), 0);
    for (int i = 0; i < 2; i++) {
        sl_breaker_destroy(&b[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breaker_defaults),
        cmocka_unit_test(test_breaker_opens_after_consecutive_failures),
        cmocka_unit_test(test_breaker_opens_on_failure_rate),
        cmocka_unit_test(test_breaker_rate_window_slides),
        cmocka_unit_test(test_breaker_half_opens_after_open_period),
        cmocka_unit_test(test_breaker_probe_success_closes),
        cmocka_unit_test(test_breaker_probe_failure_doubles_up_to_max),
        cmocka_unit_test(test_breaker_half_open_wait_is_capped),
        cmocka_unit_test(test_breaker_open_ignores_late_results),
        cmocka_unit_test(test_breaker_pick_least_in_flight_then_ewma),
        cmocka_unit_test(test_breaker_pick_skips_open_breakers),
        cmocka_unit_test(test_breaker_pick_avoids_excluded),
        cmocka_unit_test(test_breaker_pick_prefers_not_suspect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
