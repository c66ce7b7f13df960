/*  test_sup.c: one_for_one supervision (runtime/sl_sup.h): restart of a
    failed child, no restart after a clean stop, intensity exceeded, and
    children stopped with their supervisor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "runtime/sl_sup.h"
#include "tests/runtime/rt_testutil.h"

enum { T_CRASH = 256, T_QUIT, T_WORK };

typedef struct {
    _Atomic int inits, finis, work;
} child_rec_t;

static int s_child_init(sl_actor_t *self, void *args, void **state)
{
    child_rec_t *r = args;
    atomic_fetch_add(&r->inits, 1);
    *state = r;
    return 0;
}

static void s_child_fini(sl_actor_t *self, void *state)
{
    child_rec_t *r = state;
    atomic_fetch_add(&r->finis, 1);
}

static int s_child_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    child_rec_t *r = state;
    switch (msg->type) {
    case T_CRASH:
        return SL_EIO;
    case T_QUIT:
        sl_actor_stop(self);
        return 0;
    default:
        atomic_fetch_add(&r->work, 1);
        return 0;
    }
}

static sl_actor_spec_t s_child(const char *name, child_rec_t *r)
{
    sl_actor_spec_t spec = {.name = name,
                            .init = s_child_init,
                            .handle = s_child_handle,
                            .fini = s_child_fini,
                            .args = r};
    return spec;
}

static void test_sup_restarts_failed_child(void **unused)
{
    child_rec_t ra = {0}, rb = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t kids[2] = {s_child("a", &ra), s_child("b", &rb)};
    sl_actor_t *sup = NULL;
    assert_int_equal(sl_sup_spawn(rt, "sup", (sl_sup_policy_t){3, 5000}, kids, 2, &sup), 0);
    assert_int_equal(atomic_load(&ra.inits), 1);
    assert_int_equal(atomic_load(&rb.inits), 1);
    assert_true(sl_rt_has(rt, "a") && sl_rt_has(rt, "b"));

    sl_port_t *port = sl_port_new(rt, "test");
    assert_int_equal(sl_port_send(port, "a", T_CRASH, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(sl_sup_restarts(sup) == 1, 5000));
    assert_int_equal(atomic_load(&ra.inits), 2);
    assert_int_equal(atomic_load(&rb.inits), 1); /* one_for_one: b untouched */
    /* the new incarnation answers */
    sl_msg_t *pong = NULL;
    assert_int_equal(sl_port_request(port, "a", SL_MSG_PING, NULL, 0, 5000, &pong), 0);
    sl_msg_destroy(&pong);
    assert_int_equal(sl_port_send(port, "a", T_WORK, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&ra.work) == 1, 5000));

    sl_port_destroy(&port);
    sl_actor_destroy(&sup); /* stops the children first */
    assert_int_equal(atomic_load(&ra.finis), 2);
    assert_int_equal(atomic_load(&rb.finis), 1);
    assert_false(sl_rt_has(rt, "a"));
    sl_rt_destroy(&rt);
}

static void test_sup_clean_stop_not_restarted(void **unused)
{
    child_rec_t ra = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t kids[1] = {s_child("a", &ra)};
    sl_actor_t *sup = NULL;
    assert_int_equal(sl_sup_spawn(rt, "sup", (sl_sup_policy_t){3, 5000}, kids, 1, &sup), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    assert_int_equal(sl_port_send(port, "a", T_QUIT, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(atomic_load(&ra.finis) == 1, 5000));
    /* the supervisor handled the exit notice: a ping it answers comes after */
    sl_port_t *probe = sl_port_new(rt, "probe");
    sl_msg_t *pong = NULL;
    assert_int_equal(sl_port_request(probe, "sup", SL_MSG_PING, NULL, 0, 5000, &pong), 0);
    sl_msg_destroy(&pong);
    assert_false(RT_WAIT_UNTIL(sl_rt_has(rt, "a"), 50));
    assert_int_equal(sl_sup_restarts(sup), 0);
    assert_int_equal(atomic_load(&ra.inits), 1);
    sl_port_destroy(&probe);
    sl_port_destroy(&port);
    sl_actor_destroy(&sup);
    sl_rt_destroy(&rt);
}

static void test_sup_intensity_exceeded(void **unused)
{
    child_rec_t ra = {0}, rb = {0};
    sl_clock_t *clock = sl_clock_new_manual(0, 0); /* restarts all land in one period */
    sl_rt_t *rt = sl_rt_new(NULL, clock);
    sl_actor_spec_t kids[2] = {s_child("a", &ra), s_child("b", &rb)};
    sl_actor_t *sup = NULL;
    assert_int_equal(sl_sup_spawn(rt, "sup", (sl_sup_policy_t){2, 1000}, kids, 2, &sup), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    for (uint64_t i = 1; i <= 2; i++) {
        assert_true(RT_WAIT_UNTIL(sl_rt_has(rt, "a"), 5000));
        assert_int_equal(sl_port_send(port, "a", T_CRASH, NULL, 0), 0);
        assert_true(RT_WAIT_UNTIL(sl_sup_restarts(sup) == i, 5000));
    }
    assert_true(RT_WAIT_UNTIL(sl_rt_has(rt, "a"), 5000));
    assert_int_equal(sl_port_send(port, "a", T_CRASH, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(!sl_actor_running(sup), 5000));
    assert_int_equal(sl_actor_exit_reason(sup), SL_EFATAL);
    assert_int_equal(sl_sup_restarts(sup), 2);
    assert_false(sl_rt_has(rt, "b")); /* the others were stopped */
    assert_int_equal(atomic_load(&rb.finis), 1);
    sl_port_destroy(&port);
    sl_actor_destroy(&sup);
    sl_rt_destroy(&rt);
    sl_clock_destroy(&clock);
}

static void test_sup_restarts_spread_over_periods(void **unused)
{
    child_rec_t ra = {0};
    sl_clock_t *clock = sl_clock_new_manual(0, 0);
    sl_rt_t *rt = sl_rt_new(NULL, clock);
    sl_actor_spec_t kids[1] = {s_child("a", &ra)};
    sl_actor_t *sup = NULL;
    assert_int_equal(sl_sup_spawn(rt, "sup", (sl_sup_policy_t){1, 1000}, kids, 1, &sup), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    for (uint64_t i = 1; i <= 3; i++) {
        assert_true(RT_WAIT_UNTIL(sl_rt_has(rt, "a"), 5000));
        assert_int_equal(sl_port_send(port, "a", T_CRASH, NULL, 0), 0);
        assert_true(RT_WAIT_UNTIL(sl_sup_restarts(sup) == i, 5000));
        sl_rt_advance(rt, 1001); /* the next failure is in a new period */
    }
    assert_true(sl_actor_running(sup));
    sl_port_destroy(&port);
    sl_actor_destroy(&sup);
    sl_rt_destroy(&rt);
    sl_clock_destroy(&clock);
}

static void test_sup_runtime_destroy_stops_tree(void **unused)
{
    child_rec_t ra = {0}, rb = {0};
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_spec_t kids[2] = {s_child("a", &ra), s_child("b", &rb)};
    sl_actor_t *sup = NULL;
    assert_int_equal(sl_sup_spawn(rt, "sup", (sl_sup_policy_t){3, 5000}, kids, 2, &sup), 0);
    sl_port_t *port = sl_port_new(rt, NULL);
    /* b's new incarnation is younger than the supervisor */
    assert_int_equal(sl_port_send(port, "b", T_CRASH, NULL, 0), 0);
    assert_true(RT_WAIT_UNTIL(sl_sup_restarts(sup) == 1, 5000));
    sl_port_destroy(&port);
    sl_rt_destroy(&rt); /* stops everything, restarts nothing */
    assert_false(sl_actor_running(sup));
    assert_int_equal(sl_actor_exit_reason(sup), 0);
    assert_int_equal(sl_sup_restarts(sup), 1);
    assert_int_equal(atomic_load(&ra.finis), 1);
    assert_int_equal(atomic_load(&rb.finis), 2);
    assert_int_equal(atomic_load(&rb.inits), 2);
    sl_actor_destroy(&sup); /* the caller still frees what it owns */
}

int main(void)
{
    sl_log_set_level(SL_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sup_restarts_failed_child),
        cmocka_unit_test(test_sup_clean_stop_not_restarted),
        cmocka_unit_test(test_sup_intensity_exceeded),
        cmocka_unit_test(test_sup_restarts_spread_over_periods),
        cmocka_unit_test(test_sup_runtime_destroy_stops_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
