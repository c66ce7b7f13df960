/*  test_watchdog.c: the watchdog actor on a runtime with a manual clock.

    The shard is a port named `pipeline.0` driven by the test thread, which
    answers WD_SCAN with a report it chose; alerts land on a port named
    `store`. Messages from the watchdog to one port arrive in send order, so
    "no reconcile before time T" is checked by seeing the next WD_SCAN come
    before any WD_RECONCILE. Wedged actors block in their handler on a
    condition the test releases. The fatal callback only records.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/watchdog/sl_watchdog.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_ids.h"

#define T_WAIT 5000
#define T0 1000000 /* manual clock start, ms */
#define MSG_BLOCK 7000

typedef struct {
    sl_clock_t *clock;
    sl_rt_t *rt;
    sl_port_t *shard; /* "pipeline.0" */
    sl_port_t *store; /* "store": receives ALERT */
    sl_port_t *client;
    sl_actor_t *wd;
    sl_actor_t *wedgy, *healthy;
    sl_watchdog_counters_t counters;
    /* recorded by the fatal callback (watchdog thread) */
    atomic_int fatal_calls;
    pthread_mutex_t lock;
    char why[256];
    /* the wedged actor's gate */
    pthread_cond_t cond;
    bool released;
    atomic_int blocked;
} fx_t;

static void s_on_fatal(const char *why, void *arg)
{
    fx_t *fx = arg;
    pthread_mutex_lock(&fx->lock);
    snprintf(fx->why, sizeof fx->why, "%s", why);
    pthread_mutex_unlock(&fx->lock);
    atomic_fetch_add(&fx->fatal_calls, 1);
}

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    pthread_mutex_init(&fx->lock, NULL);
    pthread_cond_init(&fx->cond, NULL);
    fx->clock = sl_clock_new_manual(T0, 1700000000000LL);
    fx->rt = sl_rt_new(NULL, fx->clock);
    fx->shard = sl_port_new(fx->rt, "pipeline.0");
    fx->store = sl_port_new(fx->rt, SL_IDS_STORE);
    fx->client = sl_port_new(fx->rt, "client");
    if (!fx->rt || !fx->shard || !fx->store || !fx->client) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    sl_actor_destroy(&fx->wd);
    pthread_mutex_lock(&fx->lock);
    fx->released = true;
    pthread_cond_broadcast(&fx->cond);
    pthread_mutex_unlock(&fx->lock);
    sl_actor_destroy(&fx->wedgy);
    sl_actor_destroy(&fx->healthy);
    sl_port_destroy(&fx->shard);
    sl_port_destroy(&fx->store);
    sl_port_destroy(&fx->client);
    sl_rt_destroy(&fx->rt);
    sl_clock_destroy(&fx->clock);
    pthread_cond_destroy(&fx->cond);
    pthread_mutex_destroy(&fx->lock);
    free(fx);
    return 0;
}

static sl_watchdog_config_t s_config(fx_t *fx, uint32_t shards)
{
    sl_watchdog_config_t cfg = sl_watchdog_config_defaults();
    cfg.shards = shards;
    cfg.on_fatal = s_on_fatal;
    cfg.fatal_arg = fx;
    cfg.counters = &fx->counters;
    return cfg;
}

/* Bounded polling on a counter the watchdog bumps. */
static void s_wait_counter(_Atomic uint64_t *c, uint64_t want)
{
    struct timespec start, now, nap = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load(c) >= want) {
            return;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > T_WAIT) {
            fail_msg("counter stuck at %llu, wanted %llu", (unsigned long long)atomic_load(c),
                     (unsigned long long)want);
        }
        nanosleep(&nap, NULL);
    }
}

/* ---- the fake shard ------------------------------------------------------------ */

typedef struct {
    const char *id;
    const char *status;
    int64_t last_change_ms;
    int64_t live_attempts;
    int64_t stage_deadline_ms;
    int64_t pipeline_deadline_ms;
} pl_t;

/* Receives the next message on the shard port: must be a WD_SCAN request.
   Answers it with the given pipelines. */
static void s_expect_scan_and_report(fx_t *fx, const pl_t *pls, size_t n, bool with_bad_entry)
{
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(fx->shard, T_WAIT, &msg), 0);
    if (msg->type != SL_MSG_WD_SCAN) {
        sl_wd_reconcile_t rc = {0};
        sl_wd_reconcile_decode(msg->body, msg->body_len, &rc);
        fail_msg("expected WD_SCAN, got %s (%s: %s)", sl_msg_type_name(msg->type),
                 rc.pipeline_id ? rc.pipeline_id : "-", rc.reason ? rc.reason : "-");
    }
    assert_true(msg->flags & SL_MSG_F_REQUEST);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_array(&w, (uint32_t)n + (with_bad_entry ? 1 : 0));
    if (with_bad_entry) {
        sl_mp_write_map(&w, 1);
        sl_mp_kv_int(&w, "live_attempts", 0); /* no id */
    }
    for (size_t i = 0; i < n; i++) {
        sl_wd_pipeline_t item = {.id = (char *)pls[i].id,
                                 .status = (char *)(pls[i].status ? pls[i].status : "running"),
                                 .stage = (char *)"analysis",
                                 .last_change_ms = pls[i].last_change_ms,
                                 .live_attempts = (uint64_t)pls[i].live_attempts,
                                 .stage_deadline_ms = pls[i].stage_deadline_ms,
                                 .pipeline_deadline_ms = pls[i].pipeline_deadline_ms};
        assert_int_equal(sl_wd_pipeline_write(&item, &w), 0);
    }
    sl_wd_report_t rep = {
        .pipelines = {.ptr = (uint8_t *)sl_mp_writer_data(&w), .len = sl_mp_writer_len(&w)}};
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(sl_wd_report_encode(&rep, &body, &len), 0);
    uint64_t reports = atomic_load(&fx->counters.reports);
    assert_int_equal(sl_port_reply(fx->shard, msg, SL_MSG_WD_REPORT, body, len), 0);
    free(body);
    sl_mp_writer_fini(&w);
    sl_msg_destroy(&msg);
    /* The watchdog judged it before the test moves time on. */
    s_wait_counter(&fx->counters.reports, reports + 1);
}

static void s_expect_reconcile(fx_t *fx, const char *id, const char *reason)
{
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(fx->shard, T_WAIT, &msg), 0);
    if (msg->type != SL_MSG_WD_RECONCILE) {
        fail_msg("expected WD_RECONCILE of %s, got %s", id, sl_msg_type_name(msg->type));
    }
    sl_wd_reconcile_t rc = {0};
    assert_int_equal(sl_wd_reconcile_decode(msg->body, msg->body_len, &rc), 0);
    assert_string_equal(rc.pipeline_id, id);
    assert_string_equal(rc.reason, reason);
    sl_wd_reconcile_clear(&rc);
    sl_msg_destroy(&msg);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_watchdog_config(void **state)
{
    fx_t *fx = *state;
    sl_watchdog_config_t cfg = sl_watchdog_config_defaults();
    assert_int_equal(cfg.stuck_after_ms, 60000);
    assert_int_equal(cfg.ping_interval_ms, 2000);
    assert_int_equal(cfg.ping_late_ms, 1000);
    assert_int_equal(cfg.hard_limit_ms, 30000);
    assert_true(cfg.shards >= 1);
    cfg.stuck_after_ms = 0;
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), SL_EINVAL);
    assert_null(fx->wd);
    cfg = s_config(fx, 1);
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), 0);
    sl_actor_t *second = NULL;
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &second), SL_EEXIST);
}

static void test_watchdog_stuck_reconciled_exactly_at_stuck_after(void **state)
{
    fx_t *fx = *state;
    sl_watchdog_config_t cfg = s_config(fx, 1); /* scan every 60000/4 = 15000 ms */
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), 0);
    const pl_t pls[] = {
        {.id = "pStuck", .last_change_ms = T0, .live_attempts = 0},
        /* old but with live work: a long analysis is never stuck */
        {.id = "pLive", .last_change_ms = T0 - 500000, .live_attempts = 2},
        /* idle, but already terminal */
        {.id = "pDone", .status = "completed", .last_change_ms = T0 - 500000},
    };
    for (int k = 1; k <= 4; k++) {
        sl_rt_advance(fx->rt, 15000); /* now T0 + 15000 k */
        /* The next message is the scan: nothing was reconciled before it. */
        s_expect_scan_and_report(fx, pls, 3, false);
    }
    /* At T0 + 60000 stuck_after has passed for pStuck only. */
    s_expect_reconcile(fx, "pStuck", "stuck: no live work for 60s");
    sl_rt_advance(fx->rt, 15000);
    s_expect_scan_and_report(fx, pls + 1, 2, false);
    sl_rt_advance(fx->rt, 15000);
    s_expect_scan_and_report(fx, NULL, 0, false);
    sl_watchdog_stats_t st;
    sl_watchdog_counters_read(&fx->counters, &st);
    assert_int_equal(st.reconciles, 1);
    assert_int_equal(st.scans, 6);
}

static void test_watchdog_deadlines(void **state)
{
    fx_t *fx = *state;
    sl_watchdog_config_t cfg = s_config(fx, 1);
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), 0);
    pl_t pls[] = {
        {.id = "pStage", .last_change_ms = T0, .live_attempts = 1, .stage_deadline_ms = T0 + 20000},
        {.id = "pWhole",
         .last_change_ms = T0,
         .live_attempts = 1,
         .pipeline_deadline_ms = T0 + 40000,
         .stage_deadline_ms = T0 + 90000},
    };
    sl_rt_advance(fx->rt, 15000);
    s_expect_scan_and_report(fx, pls, 2, true); /* plus one entry without id */
    sl_rt_advance(fx->rt, 15000);               /* T0 + 30000 */
    s_expect_scan_and_report(fx, pls, 2, false);
    s_expect_reconcile(fx, "pStage", "stage_timeout");
    sl_rt_advance(fx->rt, 15000); /* T0 + 45000; pStage was finalized */
    s_expect_scan_and_report(fx, pls + 1, 1, false);
    s_expect_reconcile(fx, "pWhole", "pipeline_timeout");
    sl_rt_advance(fx->rt, 15000);
    s_expect_scan_and_report(fx, NULL, 0, false);
    sl_watchdog_stats_t st;
    sl_watchdog_counters_read(&fx->counters, &st);
    assert_int_equal(st.reconciles, 2);
    assert_int_equal(st.bad_reports, 1);
}

static int s_gate_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    fx_t *fx = state;
    if (msg->type == MSG_BLOCK) {
        /* Deliberately wedged: the test releases the gate at teardown. */
        pthread_mutex_lock(&fx->lock);
        atomic_store(&fx->blocked, 1);
        while (!fx->released) {
            pthread_cond_wait(&fx->cond, &fx->lock);
        }
        pthread_mutex_unlock(&fx->lock);
    }
    return 0;
}

static void s_spawn_peers(fx_t *fx)
{
    sl_actor_spec_t w = {.name = "wedgy", .handle = s_gate_handle, .args = fx};
    sl_actor_spec_t h = {.name = "healthy", .handle = s_gate_handle, .args = fx};
    assert_int_equal(sl_actor_spawn(fx->rt, &w, &fx->wedgy), 0);
    assert_int_equal(sl_actor_spawn(fx->rt, &h, &fx->healthy), 0);
}

static void s_expect_alert(fx_t *fx, const char *kind, const char *subject)
{
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(fx->store, T_WAIT, &msg), 0);
    assert_int_equal(msg->type, SL_MSG_ALERT);
    sl_alert_t a = {0};
    assert_int_equal(sl_alert_decode(msg->body, msg->body_len, &a), 0);
    assert_string_equal(a.kind, kind);
    assert_string_equal(a.subject, subject);
    sl_alert_clear(&a);
    sl_msg_destroy(&msg);
}

static void test_watchdog_wedged_actor_late_then_fatal(void **state)
{
    fx_t *fx = *state;
    s_spawn_peers(fx);
    sl_watchdog_config_t cfg = s_config(fx, 0);
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), 0);

    sl_rt_advance(fx->rt, 2000); /* T0+2000: both answer */
    s_wait_counter(&fx->counters.pongs, 2);
    /* healthy (what sluiced's systemd watchdog pings are gated on), and
       only while the judgement is fresh */
    assert_true(sl_watchdog_healthy(&fx->counters, T0 + 2000, 5000));
    assert_false(sl_watchdog_healthy(&fx->counters, T0 + 7001, 5000));

    assert_int_equal(sl_port_send(fx->client, "wedgy", MSG_BLOCK, NULL, 0), 0);
    struct timespec nap = {0, 1000000};
    for (int i = 0; i < T_WAIT && !atomic_load(&fx->blocked); i++) {
        nanosleep(&nap, NULL); /* bounded poll for the handler to wedge */
    }
    assert_true(atomic_load(&fx->blocked));

    sl_rt_advance(fx->rt, 2000); /* T0+4000: ping to wedgy goes unanswered */
    s_wait_counter(&fx->counters.pongs, 3);
    sl_rt_advance(fx->rt, 1001); /* ping_late passed */
    s_expect_alert(fx, "actor_late", "wedgy");
    assert_int_equal(atomic_load(&fx->fatal_calls), 0);
    /* the late check judges health right after raising the alert */
    for (int i = 0; i < T_WAIT && atomic_load(&fx->counters.all_alive); i++) {
        nanosleep(&nap, NULL);
    }
    assert_false(sl_watchdog_healthy(&fx->counters, T0 + 5001, 5000));

    /* Ticks go on; fatal only once wedgy has been silent for hard_limit
       since its last pong at T0+2000, i.e. at the tick of T0+32000. */
    sl_rt_advance(fx->rt, 999); /* T0+6000 */
    uint64_t pongs = 4;
    s_wait_counter(&fx->counters.pongs, pongs);
    for (int64_t t = T0 + 8000; t < T0 + 32000; t += 2000) {
        sl_rt_advance(fx->rt, 2000);
        s_wait_counter(&fx->counters.pongs, ++pongs); /* the tick ran */
        assert_int_equal(atomic_load(&fx->fatal_calls), 0);
    }
    sl_rt_advance(fx->rt, 2000); /* T0+32000 */
    s_wait_counter(&fx->counters.pongs, ++pongs);
    assert_int_equal(atomic_load(&fx->fatal_calls), 1);
    pthread_mutex_lock(&fx->lock);
    char why[256];
    snprintf(why, sizeof why, "%s", fx->why);
    pthread_mutex_unlock(&fx->lock);
    assert_non_null(strstr(why, "wedgy"));
    assert_non_null(strstr(why, "30000 ms"));
    s_expect_alert(fx, "actor_dead", "wedgy");

    /* Once only, even as time goes on. */
    sl_rt_advance(fx->rt, 4000);
    s_wait_counter(&fx->counters.pongs, pongs + 1);
    assert_int_equal(atomic_load(&fx->fatal_calls), 1);
    sl_watchdog_stats_t st;
    sl_watchdog_counters_read(&fx->counters, &st);
    assert_int_equal(st.late, 1); /* healthy was never late */
}

static void test_watchdog_gone_actor_fatal(void **state)
{
    fx_t *fx = *state;
    s_spawn_peers(fx);
    sl_watchdog_config_t cfg = s_config(fx, 0);
    cfg.hard_limit_ms = 10000;
    assert_int_equal(sl_watchdog_spawn(fx->rt, &cfg, &fx->wd), 0);
    sl_rt_advance(fx->rt, 2000);
    s_wait_counter(&fx->counters.pongs, 2);
    sl_actor_destroy(&fx->wedgy); /* exits and is never restarted */
    uint64_t pongs = 2;
    for (int i = 0; i < 4; i++) { /* T0+4000 .. T0+10000 */
        sl_rt_advance(fx->rt, 2000);
        s_wait_counter(&fx->counters.pongs, ++pongs);
        assert_int_equal(atomic_load(&fx->fatal_calls), 0);
    }
    sl_rt_advance(fx->rt, 2000); /* T0+12000: 10000 ms since its last pong */
    s_wait_counter(&fx->counters.pongs, ++pongs);
    assert_int_equal(atomic_load(&fx->fatal_calls), 1);
    pthread_mutex_lock(&fx->lock);
    assert_non_null(strstr(fx->why, "wedgy has been gone"));
    pthread_mutex_unlock(&fx->lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watchdog_config, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_stuck_reconciled_exactly_at_stuck_after,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_deadlines, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_wedged_actor_late_then_fatal, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_gone_actor_fatal, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
