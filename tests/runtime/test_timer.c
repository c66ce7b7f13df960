/*  test_timer.c: the timer heap (runtime/sl_timer.h): ordering, stability,
    cancel, periodic re-arm, id uniqueness and 100k timers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "runtime/sl_timer.h"
#include "tests/runtime/rt_testutil.h"

typedef struct {
    uint64_t ids[256];
    size_t n;
    sl_timers_t *heap;
    uint64_t cancel_id; /* cancelled from inside the callback */
    int cancel_rc;
} log_t;

static void s_record(void *arg, uint64_t id)
{
    log_t *l = arg;
    if (l->n < 256) {
        l->ids[l->n++] = id;
    }
    if (l->cancel_id) {
        l->cancel_rc = sl_timers_cancel(l->heap, l->cancel_id);
        l->cancel_id = 0;
    }
}

static void test_timer_order_and_stability(void **unused)
{
    log_t l = {0};
    sl_timers_t *t = sl_timers_new();
    assert_int_equal(sl_timers_next_due(t), INT64_MAX);
    uint64_t c = sl_timers_add(t, 30, 0, s_record, &l);
    uint64_t a = sl_timers_add(t, 10, 0, s_record, &l);
    uint64_t b1 = sl_timers_add(t, 20, 0, s_record, &l);
    uint64_t b2 = sl_timers_add(t, 20, 0, s_record, &l);
    uint64_t b3 = sl_timers_add(t, 20, 0, s_record, &l);
    assert_true(a && b1 && b2 && b3 && c);
    assert_int_equal(sl_timers_count(t), 5);
    assert_int_equal(sl_timers_next_due(t), 10);
    assert_int_equal(sl_timers_run(t, 9), 0);
    assert_int_equal(sl_timers_run(t, 20), 4);
    assert_int_equal(l.ids[0], a);
    assert_int_equal(l.ids[1], b1); /* equal due: added order */
    assert_int_equal(l.ids[2], b2);
    assert_int_equal(l.ids[3], b3);
    assert_int_equal(sl_timers_run(t, 100), 1);
    assert_int_equal(l.ids[4], c);
    assert_int_equal(sl_timers_count(t), 0);
    assert_int_equal(sl_timers_cancel(t, a), SL_ENOTFOUND); /* already fired */
    sl_timers_destroy(&t);
    assert_null(t);
    sl_timers_destroy(&t); /* NULL is fine */
}

static void test_timer_cancel(void **unused)
{
    log_t l = {0};
    sl_timers_t *t = sl_timers_new();
    uint64_t ids[10];
    for (int i = 0; i < 10; i++) {
        ids[i] = sl_timers_add(t, 100 - i, 0, s_record, &l);
    }
    assert_int_equal(sl_timers_cancel(t, ids[9]), 0); /* the earliest */
    assert_int_equal(sl_timers_cancel(t, ids[4]), 0); /* a middle one */
    assert_int_equal(sl_timers_cancel(t, ids[4]), SL_ENOTFOUND);
    assert_int_equal(sl_timers_cancel(t, 12345), SL_ENOTFOUND);
    assert_int_equal(sl_timers_next_due(t), 92);
    /* a callback cancels a later timer */
    l.heap = t;
    l.cancel_id = ids[0];
    assert_int_equal(sl_timers_run(t, 1000), 7);
    assert_int_equal(l.cancel_rc, 0);
    assert_int_equal(l.n, 7);
    for (size_t i = 1; i < l.n; i++) {
        assert_true(l.ids[i - 1] > l.ids[i]); /* later ids were due earlier */
    }
    sl_timers_destroy(&t);
}

static void test_timer_periodic(void **unused)
{
    log_t l = {0};
    sl_timers_t *t = sl_timers_new();
    uint64_t p = sl_timers_add(t, 10, 10, s_record, &l);
    assert_int_equal(sl_timers_run(t, 10), 1);
    assert_int_equal(sl_timers_next_due(t), 20);
    /* several periods passed: fires once, re-armed after now */
    assert_int_equal(sl_timers_run(t, 55), 1);
    assert_int_equal(sl_timers_next_due(t), 60);
    assert_int_equal(sl_timers_count(t), 1);
    /* a periodic timer can cancel itself from its own callback */
    l.heap = t;
    l.cancel_id = p;
    assert_int_equal(sl_timers_run(t, 60), 1);
    assert_int_equal(l.cancel_rc, 0);
    assert_int_equal(sl_timers_count(t), 0);
    assert_int_equal(l.ids[0], p);
    assert_int_equal(l.ids[2], p);
    sl_timers_destroy(&t);
}

typedef struct {
    sl_timers_t *heap;
    int fired;
} rearm_t;

static void s_rearm(void *arg, uint64_t id)
{
    rearm_t *r = arg;
    r->fired++;
    sl_timers_add(r->heap, 0, 0, s_rearm, r); /* due "now" again */
}

static void test_timer_rearm_in_callback_terminates(void **unused)
{
    rearm_t r = {0};
    r.heap = sl_timers_new();
    sl_timers_add(r.heap, 0, 0, s_rearm, &r);
    assert_int_equal(sl_timers_run(r.heap, 0), 1); /* the new one waits for the next run */
    assert_int_equal(sl_timers_run(r.heap, 0), 1);
    assert_int_equal(r.fired, 2);
    sl_timers_destroy(&r.heap);
}

static int s_count;
static void s_count_fn(void *arg, uint64_t id)
{
    int64_t *last = arg;
    (void)last;
    s_count++;
}

static void test_timer_hundred_thousand(void **unused)
{
    enum { N = 100000 };
    sl_timers_t *t = sl_timers_new();
    uint64_t *ids = malloc(N * sizeof(*ids));
    assert_non_null(ids);
    int64_t t0 = rt_test_now_ms();
    srand(42);
    for (int i = 0; i < N; i++) {
        ids[i] = sl_timers_add(t, rand() % 100000, 0, s_count_fn, NULL);
        assert_true(ids[i] != 0);
        if (i > 0) {
            assert_true(ids[i] > ids[i - 1]); /* never reused */
        }
    }
    assert_int_equal(sl_timers_count(t), N);
    for (int i = 0; i < N; i += 2) {
        assert_int_equal(sl_timers_cancel(t, ids[i]), 0);
    }
    assert_int_equal(sl_timers_count(t), N / 2);
    s_count = 0;
    int64_t prev = INT64_MIN;
    while (sl_timers_count(t) > 0) {
        int64_t due = sl_timers_next_due(t);
        assert_true(due >= prev);
        prev = due;
        sl_timers_run(t, due);
    }
    assert_int_equal(s_count, N / 2);
    /* new ids keep growing after the slots were recycled */
    uint64_t again = sl_timers_add(t, 0, 0, s_count_fn, NULL);
    assert_true(again > ids[N - 1]);
    assert_true(rt_test_now_ms() - t0 < 5000);
    free(ids);
    sl_timers_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer_order_and_stability),
        cmocka_unit_test(test_timer_cancel),
        cmocka_unit_test(test_timer_periodic),
        cmocka_unit_test(test_timer_rearm_in_callback_terminates),
        cmocka_unit_test(test_timer_hundred_thousand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
