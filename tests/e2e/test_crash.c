/*  test_crash.c: sluiced killed with SIGKILL at random moments of running
    pipelines, restarted on the same data directory, over and over.

    A fault-free mock fleet (so every pipeline should end `completed` and
    every task with exactly one counted attempt). Each kill starts a
    pipeline and kills the daemon at one of six points, each found by
    polling pipeline.get or the daemon's log (never by sleeping; only the
    kill moment itself is a random delay after the point): right after a
    burst of pipeline.start was acknowledged; while analyses are running;
    while results arrive (some analyses succeeded, others not yet); amid
    group commits (results and progress flowing, at a random 0-150 ms past
    the first success); during a graceful drain (after SIGTERM, once
    sluiced logged it); and during recovery itself (after the store opened,
    before the daemon is ready). The first six kills take each point once
    in a random order, the rest draw points at random. Before each kill
    the test records what the daemon acknowledged: pipeline ids, committed
    results and their attempt counts, and the events read so far. After
    each restart and at the end it checks:
    - every acknowledged pipeline id is found by pipeline.get;
    - a committed result keeps its bytes and its attempt count (never re-run);
    - events already read are still there, unchanged, and seqs stay gapless
      from 1 to last_seq;
    and at the end, once every pipeline is terminal: all completed, every
    task with attempts == 1 (interrupted attempts do not count), exactly one
    terminal `task.status` event per task.

    Two builds of this file: test_crash_bounded (default suite, 12 kills,
    well under a minute on 2 cores) and test_crash (label fault, 100
    kills). E2E_CRASH_KILLS overrides the number, E2E_CRASH_SEED replays
    one run's draws (the seed is printed).
*/
#ifndef S_KILLS_DEFAULT
#define S_KILLS_DEFAULT 100
#endif
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/e2e/e2e.h"

#define S_MAX_PIPES 512
#define S_MAX_DONE 8192

typedef struct {
    char id[64];
    char *result;
    int64_t attempts;
} s_done_t;

typedef struct {
    e2e_fx_t e;
    char pipes[S_MAX_PIPES][64];
    int npipes;
    s_done_t done[S_MAX_DONE];
    int ndone;
    json_t *events; /* every event read so far */
    int restarts;
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = e2e_fx_new(sizeof(*fx));
    if (!fx) {
        return -1;
    }
    fx->e.start_ms = 20000;
    fx->events = json_array();
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    e2e_fx_fini(&fx->e);
    for (int i = 0; i < fx->ndone; i++) {
        free(fx->done[i].result);
    }
    json_decref(fx->events);
    free(fx);
    return 0;
}

static int64_t s_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The settings every daemon of the loop gets besides the fixture's base. */
static void s_daemon_sets(e2e_args_t *a)
{
    for (int s = 0; s < E2E_NSERVICES; s++) {
        e2e_args_add(a, "--set");
        e2e_args_add(a, "services/%s/connect_timeout_ms=500", e2e_service_names[s]);
        e2e_args_add(a, "--set");
        e2e_args_add(a, "services/%s/attempt_timeout_s=5", e2e_service_names[s]);
    }
    const char *sets[] = {"pipeline/backoff_initial_ms=50", "pipeline/backoff_max_ms=200",
                          "watchdog/stuck_after_s=3"};
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        e2e_args_add(a, "--set");
        e2e_args_add(a, "%s", sets[i]);
    }
}

static void s_start_daemon(s_fx_t *fx)
{
    e2e_args_t a = {0};
    s_daemon_sets(&a);
    e2e_fx_start_daemon_args(&fx->e, &a);
    e2e_args_free(&a);
}

static void s_kill(s_fx_t *fx)
{
    /* 0 is possible when a drain finished before the kill landed */
    int code = e2e_stop(fx->e.d, SIGKILL, 5000);
    assert_true(code == 128 + SIGKILL || code == 0);
    e2e_proc_free(&fx->e.d);
    e2e_api_close(&fx->e.api);
}

/* Starts a daemon and kills it while it recovers: once its store opened
   (the shards then load and resume pipelines), at a random 0-30 ms. */
static void s_kill_in_recovery(s_fx_t *fx, unsigned *seed)
{
    snprintf(fx->e.log_d, sizeof(fx->e.log_d), "%s/sluiced.%d.recovery.log", fx->e.dir,
             fx->restarts);
    e2e_args_t a = {0};
    e2e_args_add(&a, "%s", SLUICED_BIN);
    e2e_sluiced_base_args(&a, fx->e.dir, fx->e.data, fx->e.mock, fx->e.gateway);
    s_daemon_sets(&a);
    e2e_proc_t *p = e2e_spawn(a.v, NULL, fx->e.log_d);
    e2e_args_free(&a);
    assert_non_null(p);
    int64_t deadline = e2e_now_ms() + 20000;
    while (!e2e_file_contains(fx->e.log_d, "store: opened") && e2e_now_ms() < deadline) {
        e2e_nap(1);
    }
    assert_true(e2e_file_contains(fx->e.log_d, "store: opened"));
    e2e_nap((int)(rand_r(seed) % 31));
    /* never told to stop: anything but the kill is a crash of its own */
    int code = e2e_stop(p, SIGKILL, 5000);
    assert_int_equal(code, 128 + SIGKILL);
    e2e_proc_free(&p);
}

static char *s_start_pipeline(s_fx_t *fx)
{
    json_t *req =
        json_pack("{ss ss s{ss s[s] s[sss]} s{sb s[] s{sb si s[s]}} s{si sf sf}}", "op",
                  "pipeline.start", "name", "crash loop", "generation", "mode", "generate",
                  "models", "google_gemini-3-flash-preview-20251217", "templates",
                  "api_url_shortener", "api_weather_display", "auth_user_login", "analysis",
                  "enabled", 1, "tools", "options", "parallel", 1, "max_concurrent_tasks", 4,
                  "target_urls", "http://{model}-app{app}_backend:5000", "retry", "max_attempts", 3,
                  "initial", 0.05, "max", 0.2);
    assert_non_null(req);
    json_t *r = e2e_call(fx->e.api, req, 10000);
    assert_true(e2e_ok(r));
    const char *id = e2e_str(r, "pipeline_id");
    assert_true(fx->npipes < S_MAX_PIPES);
    snprintf(fx->pipes[fx->npipes], 64, "%s", id);
    json_decref(r);
    return fx->pipes[fx->npipes++];
}

static s_done_t *s_find_done(s_fx_t *fx, const char *task_id)
{
    for (int i = 0; i < fx->ndone; i++) {
        if (!strcmp(fx->done[i].id, task_id)) {
            return &fx->done[i];
        }
    }
    return NULL;
}

/* Every known pipeline is there; every recorded result is unchanged;
   newly succeeded tasks are recorded. */
static void s_check_and_record(s_fx_t *fx)
{
    for (int k = 0; k < fx->npipes; k++) {
        json_t *p = e2e_pipeline_get(fx->e.api, fx->pipes[k]);
        if (!p) {
            fprintf(stderr, "acknowledged pipeline %s is lost after %d restarts\n", fx->pipes[k],
                    fx->restarts);
        }
        assert_non_null(p);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(p, "tasks"), i, t)
        {
            const char *tid = e2e_str(t, "id");
            s_done_t *d = s_find_done(fx, tid);
            if (d) {
                /* committed before: same status, same attempts, same bytes */
                assert_string_equal(e2e_str(t, "status"), "succeeded");
                if (s_int(t, "attempts") != d->attempts) {
                    fprintf(stderr, "task %s: attempts %lld, was %lld when its result was read\n",
                            tid, (long long)s_int(t, "attempts"), (long long)d->attempts);
                }
                assert_int_equal(s_int(t, "attempts"), d->attempts);
            }
            if (strcmp(e2e_str(t, "status"), "succeeded")) {
                continue;
            }
            json_t *r = e2e_callf(fx->e.api, 5000, "{ss ss}", "op", "result.get", "task_id", tid);
            assert_true(e2e_ok(r));
            const char *bytes = e2e_str(r, "result");
            assert_true(strlen(bytes) > 0);
            if (d) {
                if (strcmp(d->result, bytes)) {
                    fprintf(stderr, "task %s: result changed after restart %d (re-run?)\n", tid,
                            fx->restarts);
                }
                assert_string_equal(d->result, bytes);
            } else {
                assert_true(fx->ndone < S_MAX_DONE);
                s_done_t *n = &fx->done[fx->ndone++];
                snprintf(n->id, sizeof(n->id), "%s", tid);
                n->result = strdup(bytes);
                n->attempts = s_int(t, "attempts");
            }
            json_decref(r);
        }
        json_decref(p);
    }
    /* Events: what was read before is still there, unchanged; gapless. */
    uint64_t last = 0;
    json_t *events = e2e_events_all(fx->e.api, &last);
    assert_non_null(events);
    size_t n = json_array_size(events);
    assert_int_equal(n, last);
    assert_true(n >= json_array_size(fx->events));
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(events, i);
        assert_int_equal(s_int(ev, "seq"), (int64_t)i + 1);
        if (i < json_array_size(fx->events) && !json_equal(ev, json_array_get(fx->events, i))) {
            fprintf(stderr, "event seq %zu changed across a restart\n", i + 1);
            fail();
        }
    }
    json_decref(fx->events);
    fx->events = events;
}

enum { S_AT_ACK, S_AT_RUNNING, S_AT_RESULTS, S_AT_DRAIN, S_AT_COMMITS, S_AT_RECOVERY, S_POINTS };

/* Polls the newest pipeline until the kill point is reached (or it ended). */
static void s_wait_point(s_fx_t *fx, const char *id, int point)
{
    if (point == S_AT_ACK) {
        return;
    }
    int64_t deadline = e2e_now_ms() + 20000;
    for (;;) {
        json_t *p = e2e_pipeline_get(fx->e.api, id);
        assert_non_null(p);
        bool ended = e2e_pstatus_terminal(e2e_str(p, "status"));
        int running = e2e_count_tasks(p, "analysis", "running");
        int ok = e2e_count_tasks(p, "analysis", "succeeded");
        int total = e2e_count_tasks(p, "analysis", NULL);
        json_decref(p);
        if (ended) {
            fprintf(stderr, "  (pipeline %s ended before the kill point)\n", id);
            return;
        }
        if (point == S_AT_RUNNING && running > 0) {
            return;
        }
        if (point == S_AT_RESULTS && ok > 0 && ok < total) {
            return;
        }
        assert_true(e2e_now_ms() < deadline);
        e2e_nap(5);
    }
}

static void test_crash_sigkill_loop(void **state)
{
    s_fx_t *fx = *state;
    e2e_args_t m = {0};
    e2e_fx_add_gateway(&fx->e, &m, NULL);
    e2e_args_add(&m, "--fleet");
    e2e_args_add(&m, "incident");
    e2e_args_add(&m, "--latency");
    e2e_args_add(&m, "2000-6000");
    e2e_args_add(&m, "--progress");
    e2e_args_add(&m, "700");
    e2e_args_add(&m, "--time-scale");
    e2e_args_add(&m, "0.1");
    e2e_fx_start_mock(&fx->e, &m, NULL);

    int kills = getenv("E2E_CRASH_KILLS") ? atoi(getenv("E2E_CRASH_KILLS")) : S_KILLS_DEFAULT;
    unsigned seed = getenv("E2E_CRASH_SEED") ? (unsigned)strtoul(getenv("E2E_CRASH_SEED"), NULL, 0)
                                             : (unsigned)e2e_wall_ms();
    fprintf(stderr, "%d kills, E2E_CRASH_SEED=%u\n", kills, seed);
    /* the first S_POINTS kills: every point once, shuffled */
    int order[S_POINTS];
    for (int i = 0; i < S_POINTS; i++) {
        order[i] = i;
    }
    for (int i = S_POINTS - 1; i > 0; i--) {
        int j = (int)(rand_r(&seed) % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    s_start_daemon(fx);
    static const char *const names[] = {"after the start ack",  "mid-analysis",
                                        "while results arrive", "while draining after SIGTERM",
                                        "amid group commits",   "during recovery"};
    for (int k = 0; k < kills; k++) {
        int point = k < S_POINTS ? order[k] : (int)(rand_r(&seed) % S_POINTS);
        s_check_and_record(fx);
        const char *id = s_start_pipeline(fx);
        if (point == S_AT_ACK) {
            /* a burst, killed right after the last acknowledgement */
            s_start_pipeline(fx);
            id = s_start_pipeline(fx);
        }
        int wait = point == S_AT_DRAIN || point == S_AT_COMMITS ? S_AT_RESULTS
                   : point == S_AT_RECOVERY                     ? S_AT_RUNNING
                                                                : point;
        s_wait_point(fx, id, wait);
        if (point == S_AT_COMMITS) {
            /* results, progress and events are being committed in groups */
            e2e_nap((int)(rand_r(&seed) % 151));
        }
        if (point == S_AT_DRAIN) {
            /* a graceful stop that an outer supervisor cuts short */
            kill(fx->e.d->pid, SIGTERM);
            int64_t deadline = e2e_now_ms() + 10000;
            while (!e2e_file_contains(fx->e.log_d, "SIGTERM received") && e2e_now_ms() < deadline) {
                e2e_nap(2);
            }
        }
        fprintf(stderr, "kill %d: SIGKILL %s (%d pipelines, %d results so far)\n", k + 1,
                names[point], fx->npipes, fx->ndone);
        s_kill(fx);
        if (point == S_AT_RECOVERY) {
            /* the restart that recovers this work is itself killed */
            s_kill_in_recovery(fx, &seed);
            fx->restarts++;
        }
        s_start_daemon(fx);
        fx->restarts++;
    }
    /* Let everything finish on the last daemon. */
    int64_t deadline = e2e_now_ms() + 120000;
    for (int k = 0; k < fx->npipes; k++) {
        json_t *p = e2e_wait_terminal(fx->e.api, fx->pipes[k], deadline);
        if (!p) {
            json_t *last = e2e_pipeline_get(fx->e.api, fx->pipes[k]);
            char *dump = last ? json_dumps(last, JSON_COMPACT) : NULL;
            fprintf(stderr, "pipeline %s never ended: %s\n", fx->pipes[k], dump ? dump : "lost");
            free(dump);
            json_decref(last);
        }
        assert_non_null(p);
        if (strcmp(e2e_str(p, "status"), "completed")) {
            char *dump = json_dumps(p, JSON_COMPACT);
            fprintf(stderr, "pipeline %s ended %s: %s\n", fx->pipes[k], e2e_str(p, "status"), dump);
            free(dump);
        }
        json_decref(p);
    }
    s_check_and_record(fx);
    int inflated = 0, not_completed = 0;
    size_t i, j;
    json_t *t, *ev;
    for (int k = 0; k < fx->npipes; k++) {
        json_t *p = e2e_pipeline_get(fx->e.api, fx->pipes[k]);
        assert_non_null(p);
        not_completed += strcmp(e2e_str(p, "status"), "completed") != 0;
        assert_int_equal(json_array_size(json_object_get(p, "tasks")), 15);
        json_array_foreach(json_object_get(p, "tasks"), i, t)
        {
            const char *tid = e2e_str(t, "id");
            if (s_int(t, "attempts") != 1) {
                inflated++;
                fprintf(stderr, "task %s: %s with attempts %lld on a fault-free fleet\n", tid,
                        e2e_str(t, "status"), (long long)s_int(t, "attempts"));
            }
            int terminal_events = 0;
            json_array_foreach(fx->events, j, ev)
            {
                terminal_events += !strcmp(e2e_str(ev, "topic"), "task.status") &&
                                   !strcmp(e2e_str(ev, "task_id"), tid) &&
                                   e2e_tstatus_terminal(e2e_str(ev, "status"));
            }
            if (e2e_tstatus_terminal(e2e_str(t, "status")) && terminal_events != 1) {
                fprintf(stderr, "task %s: %d terminal task.status events (recorded twice?)\n", tid,
                        terminal_events);
                fail();
            }
        }
        json_decref(p);
    }
    fprintf(stderr,
            "%d pipelines, %d restarts, %d results, %zu events; %d not completed, %d "
            "tasks with inflated attempts\n",
            fx->npipes, fx->restarts, fx->ndone, json_array_size(fx->events), not_completed,
            inflated);
    assert_int_equal(not_completed, 0);
    assert_int_equal(inflated, 0);
    assert_int_equal(e2e_stop(fx->e.d, SIGTERM, 15000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_sigkill_loop, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
