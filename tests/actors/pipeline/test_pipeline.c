/*  test_pipeline.c: the pipeline shard actor against fake endpoints and the
    real store (LMDB in a temp dir), on a manual clock.

    Fake endpoints are tiny actors named endpoint.<service> that answer each
    ATTEMPT_START as the test's script says (an outcome now, or hold the
    attempt until told), pick the first of three replica URLs not in the
    start's exclude list, and record every start and cancel. Handlers only
    record; the test thread asserts, after bounded polling of pipeline.get.
    Pure cases (final status, ids, shard routing) come first.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "actors/pipeline/sl_pipeline.h"
#include "proto/sl_ids.h"
#include "runtime/sl_hash.h"
#include "actors/store/sl_store.h"
#include "proto/sl_outcome.h"
#include "runtime/sl_log.h"
#include "tests/actors/pipeline/pl_testutil.h"
#include "tests/ttmp.h"

#define RELEASE_MSG (SL_MSG_USER_BASE + 900) /* test -> fake: answer held attempts */
#define HOLD -1

/* ---- pure rules ---------------------------------------------------------------------- */

static void test_pipeline_final_status_every_combination(void **state)
{
    /* Enumerate small pipelines: every split of up to 4 tasks among the
       terminal statuses, with and without a user cancel. */
    for (uint32_t total = 0; total <= 4; total++) {
        for (uint32_t s = 0; s <= total; s++) {
            for (uint32_t f = 0; s + f <= total; f++) {
                for (uint32_t d = 0; s + f + d <= total; d++) {
                    sl_pipeline_counts_t c = {.total = total,
                                              .succeeded = s,
                                              .failed = f,
                                              .dead = d,
                                              .cancelled = total - s - f - d};
                    assert_int_equal(sl_pipeline_final_status(&c, true), SL_PS_CANCELLED);
                    sl_pstatus_t want = s == total ? SL_PS_COMPLETED
                                        : s == 0   ? SL_PS_FAILED
                                                   : SL_PS_PARTIAL;
                    assert_int_equal(sl_pipeline_final_status(&c, false), want);
                }
            }
        }
    }
    /* The incident: 4 of 12 succeeded is partial_success, never running. */
    sl_pipeline_counts_t seed = {.total = 12, .succeeded = 4, .failed = 8};
    assert_int_equal(sl_pipeline_final_status(&seed, false), SL_PS_PARTIAL);
}

static void test_pipeline_ids_and_shards(void **state)
{
    char a[SL_PIPELINE_ID_MAX], b[SL_PIPELINE_ID_MAX];
    sl_ids_new_pipeline(a, SL_PIPELINE_ID_MAX, 0x193f1c2a4b7LL);
    sl_ids_new_pipeline(b, SL_PIPELINE_ID_MAX, 0x193f1c2a4b7LL);
    assert_true(sl_ids_pipeline_valid(a));
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "p0193f1c2a4b7", 13);
    assert_false(sl_ids_pipeline_valid("p0193f1c2a4b7c01a2"));
    assert_false(sl_ids_pipeline_valid("P0193f1c2a4b7c01a2f"));
    assert_false(sl_ids_pipeline_valid("p0193f1c2a4b7c01a2g"));
    assert_false(sl_ids_pipeline_valid(NULL));
    /* A task routes with its pipeline; FNV-1a 32 as in docs/internals.md. */
    char task[64];
    snprintf(task, sizeof(task), "%s-t0007", a);
    for (int shards = 1; shards <= 8; shards++) {
        assert_int_equal(sl_ids_shard_of(task, shards), sl_ids_shard_of(a, shards));
    }
    uint32_t h = sl_hash_str("p0193f1c2a4b7c01a2f");
    assert_int_equal(sl_ids_shard_of("p0193f1c2a4b7c01a2f-t0001", 7), (int)(h % 7));
}

/* ---- the fake fleet ---------------------------------------------------------------------- */

typedef int (*s_script_fn)(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err);

typedef struct {
    int svc;
    char task_id[64];
    uint64_t attempt;
    int64_t app;
    size_t nexclude;
    char exclude[3][32];
    int64_t attempt_timeout_ms;
    size_t ntools;
    size_t ntargets;
    char target0[128];
    char resume_from[32]; /* "" = none */
} s_start_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t g_issues_app = -1; /* this app's successes report 3 issues */
static s_start_t g_starts[1024];
static int g_nstarts, g_ncancels;
static s_script_fn g_script;

typedef struct {
    int svc;
    struct {
        char task_id[64];
        uint64_t attempt;
        char from[SL_NAME_MAX];
        int64_t app;
    } held[64];
    int nheld;
} s_fake_t;

static s_fake_t g_fakes[SL_SVC__COUNT];

static void s_send_result(sl_actor_t *self, const char *to, const char *task_id, uint64_t attempt,
                          int outcome, const char *replica, const char *err, int64_t app)
{
    sl_attempt_result_t r = {.task_id = (char *)task_id,
                             .attempt = attempt,
                             .outcome = (uint64_t)outcome,
                             .replica = (char *)replica,
                             .error = (char *)err,
                             .app_number = app,
                             .last_stage = (char *)"finished",
                             .last_pct = 100,
                             .last_checkpoint = (char *)"ckpt-7"};
    const char *frame = "{\"type\":\"analysis_result\",\"status\":\"success\"}";
    if (app >= 0 && app == g_issues_app) {
        frame = "{\"type\":\"static_analysis_result\",\"status\":\"success\",\"analysis\":"
                "{\"summary\":{\"total_issues_found\":3}}}";
    }
    if (outcome == SL_OUT_VERDICT) {
        /* a verdict comes in a frame that says why */
        frame = "{\"type\":\"analysis_result\",\"status\":\"success\",\"analysis\":"
                "{\"status\":\"error\",\"error\":\"Model path not found\"}}";
    } else if (outcome == SL_OUT_TARGETS_UNREACHABLE) {
        frame = "{\"type\":\"dynamic_analysis_result\",\"status\":\"targets_unreachable\","
                "\"analysis\":{\"error\":\"No targets reachable out of 1 tested.\"}}";
    }
    /* what the endpoint says about a partial result: two warnings */
    char *warnings[2] = {(char *)"partial result (partial)",
                         (char *)"requested tools did not run: zap (not_available)"};
    if (outcome == SL_OUT_PARTIAL_SUCCESS) {
        r.warnings.v = warnings;
        r.warnings.n = 2;
    }
    if (outcome == SL_OUT_ATTEMPT_TIMEOUT) {
        /* what the endpoint says about the timeout that fired */
        r.timeout_key = (char *)"timeouts.attempt";
        r.timeout_ms = 10000;
        r.last_stage = (char *)"scanning_js";
        r.last_pct = 40;
        r.last_message = (char *)"running eslint";
    }
    if (sl_outcome_succeeded(outcome) || outcome == SL_OUT_VERDICT ||
        outcome == SL_OUT_TARGETS_UNREACHABLE) {
        r.result.ptr = (uint8_t *)frame;
        r.result.len = strlen(frame);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_attempt_result_encode(&r, &buf, &len) == 0) {
        sl_actor_send(self, to, SL_MSG_ATTEMPT_RESULT, buf, len);
    }
    free(buf);
}

static int s_fake_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    s_fake_t *f = state;
    static const char *urls[3] = {"ws://r1", "ws://r2", "ws://r3"};
    if (msg->type == SL_MSG_ATTEMPT_START) {
        sl_attempt_start_t m = {0};
        if (sl_attempt_start_decode(msg->body, msg->body_len, &m) < 0) {
            return 0;
        }
        const char *replica = urls[2];
        for (int i = 0; i < 3; i++) {
            bool excluded = false;
            for (size_t j = 0; j < m.exclude.n; j++) {
                excluded = excluded || strcmp(m.exclude.v[j], urls[i]) == 0;
            }
            if (!excluded) {
                replica = urls[i];
                break;
            }
        }
        pthread_mutex_lock(&g_mu);
        if (g_nstarts < 1024) {
            s_start_t *s = &g_starts[g_nstarts++];
            memset(s, 0, sizeof(*s));
            s->svc = f->svc;
            snprintf(s->task_id, sizeof(s->task_id), "%s", m.task_id);
            s->attempt = m.attempt;
            s->app = m.app_number;
            s->nexclude = m.exclude.n;
            for (size_t j = 0; j < m.exclude.n && j < 3; j++) {
                snprintf(s->exclude[j], sizeof(s->exclude[j]), "%s", m.exclude.v[j]);
            }
            s->attempt_timeout_ms = m.attempt_timeout_ms;
            s->ntools = m.tools.n;
            s->ntargets = m.target_urls.n;
            if (m.target_urls.n) {
                snprintf(s->target0, sizeof(s->target0), "%s", m.target_urls.v[0]);
            }
            snprintf(s->resume_from, sizeof(s->resume_from), "%s",
                     m.resume_from ? m.resume_from : "");
        }
        s_script_fn script = g_script;
        pthread_mutex_unlock(&g_mu);
        int64_t app = m.app_number;
        const char *err = NULL;
        int outcome = script ? script(f->svc, &m, &app, &err) : SL_OUT_SUCCESS;
        if (outcome == HOLD) {
            if (f->nheld < 64) {
                snprintf(f->held[f->nheld].task_id, 64, "%s", m.task_id);
                f->held[f->nheld].attempt = m.attempt;
                f->held[f->nheld].app = app;
                snprintf(f->held[f->nheld].from, SL_NAME_MAX, "%s", msg->from);
                f->nheld++;
            }
        } else {
            sl_attempt_progress_t p = {.task_id = m.task_id,
                                       .attempt = m.attempt,
                                       .replica = (char *)replica,
                                       .stage = (char *)"started",
                                       .pct = 0};
            static const char partial[] = "{\"issues_so_far\":3}";
            if (outcome == SL_OUT_ATTEMPT_TIMEOUT) {
                p.partial = (sl_bytes_t){(uint8_t *)partial, sizeof partial - 1};
            }
            uint8_t *buf = NULL;
            size_t len = 0;
            if (sl_attempt_progress_encode(&p, &buf, &len) == 0) {
                sl_actor_send(self, msg->from, SL_MSG_ATTEMPT_PROGRESS, buf, len);
            }
            free(buf);
            s_send_result(self, msg->from, m.task_id, m.attempt, outcome, replica, err, app);
        }
        sl_attempt_start_clear(&m);
    } else if (msg->type == SL_MSG_ATTEMPT_CANCEL) {
        sl_attempt_cancel_t m = {0};
        if (sl_attempt_cancel_decode(msg->body, msg->body_len, &m) == 0) {
            pthread_mutex_lock(&g_mu);
            g_ncancels++;
            pthread_mutex_unlock(&g_mu);
            for (int i = 0; i < f->nheld; i++) {
                if (strcmp(f->held[i].task_id, m.task_id) == 0 && f->held[i].attempt == m.attempt) {
                    s_send_result(self, f->held[i].from, m.task_id, m.attempt, SL_OUT_CANCELLED,
                                  "ws://r1", "cancelled", 0);
                    f->held[i] = f->held[--f->nheld];
                    break;
                }
            }
        }
        sl_attempt_cancel_clear(&m);
    } else if (msg->type == RELEASE_MSG) {
        int64_t outcome = 0;
        sl_mp_map_get_int(msg->body, msg->body_len, "outcome", &outcome);
        for (int i = 0; i < f->nheld; i++) {
            s_send_result(self, f->held[i].from, f->held[i].task_id, f->held[i].attempt,
                          (int)outcome, "ws://r1", outcome ? "released with an error" : NULL,
                          f->held[i].app);
        }
        f->nheld = 0;
    }
    return 0;
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct {
    char dir[64];
    sl_clock_t *clock;
    sl_rt_t *rt;
    sl_actor_t *store;
    sl_actor_t *fakes[SL_SVC__COUNT];
    sl_actor_t *shard;
    sl_port_t *port;
    sl_port_t *events;
    sl_pipeline_config_t cfg;
} s_fix_t;

static const char *g_dest = "pipeline.0"; /* the shard s_call talks to */
static bool s_saw_event(s_fix_t *x, const char *topic, const char *field, const char *value,
                        const char *count_topic, int *count);
static void s_wait_stored_status(s_fix_t *x, const char *tid, const char *want);
typedef bool (*s_task_pred_fn)(const sl_task_rec_t *rec, const void *arg);
static bool s_poll_task(s_fix_t *x, const char *tid, s_task_pred_fn ok, const void *arg);
static void s_stored_task(s_fix_t *x, const char *tid, sl_task_rec_t *rec);
static int s_wait_stored(s_fix_t *x, int db, const char *key, uint8_t **out, size_t *outlen);
static void s_wait_gone(s_fix_t *x, int db, const char *key);
static int s_stored(s_fix_t *x, int db, const char *key, uint8_t **out, size_t *outlen);

static int s_setup(void **state)
{
    s_fix_t *x = calloc(1, sizeof(*x));
    assert_int_equal(ttmp_make(x->dir, sizeof(x->dir), "sl_pipe"), 0);
    x->clock = sl_clock_new_manual(1000000, 1700000000000LL);
    x->rt = sl_rt_new(NULL, x->clock);
    assert_non_null(x->rt);
    x->events = sl_port_new(x->rt, "test.events");
    x->port = sl_port_new(x->rt, "test");
    sl_store_config_t sc = sl_store_config_defaults();
    sc.data_dir = x->dir;
    sc.nosync = true;
    sc.publish_to = "test.events";
    sc.map_size = 64u << 20;
    assert_int_equal(sl_store_spawn(x->rt, &sc, &x->store), 0);
    pthread_mutex_lock(&g_mu);
    g_nstarts = g_ncancels = 0;
    g_script = NULL;
    g_issues_app = -1;
    pthread_mutex_unlock(&g_mu);
    for (int s = 0; s < SL_SVC__COUNT; s++) {
        memset(&g_fakes[s], 0, sizeof(g_fakes[s]));
        g_fakes[s].svc = s;
        char name[SL_NAME_MAX];
        sl_ids_endpoint_mailbox(name, sizeof(name), sl_service_name(s));
        sl_actor_spec_t spec = {.name = name, .handle = s_fake_handle, .args = &g_fakes[s]};
        assert_int_equal(sl_actor_spawn(x->rt, &spec, &x->fakes[s]), 0);
    }
    g_dest = "pipeline.0";
    sl_pipeline_config_init(&x->cfg);
    x->cfg.shards = 1;
    x->cfg.seed = 7;
    *state = x;
    return 0;
}

static int s_teardown(void **state)
{
    s_fix_t *x = *state;
    sl_actor_destroy(&x->shard);
    for (int s = 0; s < SL_SVC__COUNT; s++) {
        sl_actor_destroy(&x->fakes[s]);
    }
    sl_actor_destroy(&x->store);
    sl_port_destroy(&x->port);
    sl_port_destroy(&x->events);
    sl_rt_destroy(&x->rt);
    sl_clock_destroy(&x->clock);
    ttmp_remove(x->dir);
    free(x);
    return 0;
}

static void s_spawn_shard(s_fix_t *x)
{
    assert_int_equal(sl_pipeline_spawn(x->rt, &x->cfg, 0, &x->shard), 0);
}

static void s_set_script(s_script_fn fn)
{
    pthread_mutex_lock(&g_mu);
    g_script = fn;
    pthread_mutex_unlock(&g_mu);
}

/* Real-time deadlines for bounded polling (the runtime clock is manual). */
#define WAIT_S 10.0
static double s_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_pause(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* One request to `to` with body buf (freed here); the reply (caller
   destroys). */
static sl_msg_t *s_request(s_fix_t *x, const char *to, uint16_t type, uint8_t *buf, size_t len)
{
    sl_msg_t *reply = NULL;
    assert_int_equal(sl_port_request(x->port, to, type, buf, len, 5000, &reply), 0);
    free(buf);
    return reply;
}

/* One API call; returns the reply map (caller frees). */
static uint8_t *s_call(s_fix_t *x, const char *op, const char *args_json, const char *target,
                       size_t *out_len)
{
    uint8_t *args = NULL;
    size_t alen = 0;
    assert_int_equal(pl_json_to_mp(args_json, &args, &alen), 0);
    sl_api_call_t c = {.op = (char *)op, .args = {args, alen}, .target = (char *)target};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_api_call_encode(&c, &buf, &len), 0);
    free(args);
    sl_msg_t *reply = s_request(x, g_dest, SL_MSG_API_CALL, buf, len);
    sl_api_result_t r = {0};
    assert_int_equal(sl_api_result_decode(reply->body, reply->body_len, &r), 0);
    sl_msg_destroy(&reply);
    *out_len = r.body.len;
    return r.body.ptr; /* taken over from r */
}

static bool s_ok(const uint8_t *b, size_t n)
{
    bool ok = false;
    sl_mp_map_get_bool(b, n, "ok", &ok);
    return ok;
}

/* The error code of a failed reply into code. */
static void s_err_code(const uint8_t *b, size_t n, char *code, size_t cap)
{
    sl_mp_reader_t e, c;
    code[0] = '\0';
    if (sl_mp_map_find(b, n, "error", &e) == 0 && sl_mp_reader_find(&e, "code", &c) == 0) {
        const char *s;
        size_t l;
        if (sl_mp_read_str(&c, &s, &l) == 0) {
            snprintf(code, cap, "%.*s", (int)l, s);
        }
    }
}

static char *s_start(s_fix_t *x, const char *json)
{
    static char id[SL_PIPELINE_ID_MAX];
    sl_ids_new_pipeline(id, SL_PIPELINE_ID_MAX, 1700000000000LL);
    size_t n;
    uint8_t *b = s_call(x, "pipeline.start", json, id, &n);
    if (!s_ok(b, n)) {
        char code[64];
        s_err_code(b, n, code, sizeof(code));
        fail_msg("pipeline.start failed: %s", code);
    }
    const char *pid;
    size_t plen;
    assert_int_equal(sl_mp_map_get_str(b, n, "pipeline_id", &pid, &plen), 0);
    assert_true(plen == strlen(id) && memcmp(pid, id, plen) == 0);
    free(b);
    return id;
}

typedef struct {
    char id[64], kind[16], service[32], status[16], error[256], warning[256];
    int64_t app;
    uint64_t attempts;
} s_tview_t;

typedef struct {
    char status[32], stage[32], error[512];
    uint64_t total, succeeded, failed, dead, cancelled, running, queued;
    s_tview_t tasks[64];
    int ntasks;
} s_pview_t;

static void s_rd_str(const sl_mp_reader_t *m, const char *key, char *out, size_t cap)
{
    sl_mp_reader_t v;
    const char *s;
    size_t l;
    out[0] = '\0';
    if (sl_mp_reader_find(m, key, &v) == 0 && sl_mp_read_str(&v, &s, &l) == 0) {
        snprintf(out, cap, "%.*s", (int)l, s);
    }
}

static uint64_t s_rd_uint(const sl_mp_reader_t *m, const char *key)
{
    sl_mp_reader_t v;
    uint64_t u = 0;
    if (sl_mp_reader_find(m, key, &v) == 0) {
        sl_mp_read_uint(&v, &u);
    }
    return u;
}

/* {"<key>": "<id>"} into args. */
static void s_id_args(char *args, size_t cap, const char *key, const char *id)
{
    snprintf(args, cap, "{\"%s\": \"%s\"}", key, id);
}

static void s_view(s_fix_t *x, const char *pid, s_pview_t *v)
{
    char args[96];
    s_id_args(args, sizeof(args), "pipeline_id", pid);
    size_t n;
    uint8_t *b = s_call(x, "pipeline.get", args, pid, &n);
    assert_true(s_ok(b, n));
    memset(v, 0, sizeof(*v));
    sl_mp_reader_t p, c, t;
    assert_int_equal(sl_mp_map_find(b, n, "pipeline", &p), 0);
    s_rd_str(&p, "status", v->status, sizeof(v->status));
    s_rd_str(&p, "stage", v->stage, sizeof(v->stage));
    s_rd_str(&p, "error_message", v->error, sizeof(v->error));
    assert_int_equal(sl_mp_reader_find(&p, "counts", &c), 0);
    v->total = s_rd_uint(&c, "total");
    v->succeeded = s_rd_uint(&c, "succeeded");
    v->failed = s_rd_uint(&c, "failed");
    v->dead = s_rd_uint(&c, "dead");
    v->cancelled = s_rd_uint(&c, "cancelled");
    v->running = s_rd_uint(&c, "running");
    v->queued = s_rd_uint(&c, "queued");
    assert_int_equal(sl_mp_reader_find(&p, "tasks", &t), 0);
    uint32_t nt;
    assert_int_equal(sl_mp_read_array(&t, &nt), 0);
    for (uint32_t i = 0; i < nt && i < 64; i++) {
        s_tview_t *tv = &v->tasks[v->ntasks++];
        s_rd_str(&t, "id", tv->id, sizeof(tv->id));
        s_rd_str(&t, "kind", tv->kind, sizeof(tv->kind));
        s_rd_str(&t, "service", tv->service, sizeof(tv->service));
        s_rd_str(&t, "status", tv->status, sizeof(tv->status));
        s_rd_str(&t, "error", tv->error, sizeof(tv->error));
        s_rd_str(&t, "warning", tv->warning, sizeof(tv->warning));
        tv->attempts = s_rd_uint(&t, "attempts");
        sl_mp_reader_t a;
        tv->app = -1;
        if (sl_mp_reader_find(&t, "app_number", &a) == 0) {
            sl_mp_read_int(&a, &tv->app);
        }
        assert_int_equal(sl_mp_skip(&t), 0);
    }
    free(b);
}

/* Polls pipeline.get until its status is `want` (real-time deadline). */
static void s_wait_status(s_fix_t *x, const char *pid, const char *want, s_pview_t *v)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until;) {
        s_view(x, pid, v);
        if (strcmp(v->status, want) == 0) {
            return;
        }
        s_pause();
    }
    fail_msg("pipeline %s is %s, wanted %s", pid, v->status, want);
}

static int s_nstarts(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_nstarts;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static void s_wait_starts(int n)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until && s_nstarts() < n;) {
        s_pause();
    }
    assert_true(s_nstarts() >= n);
}

static const s_tview_t *s_task(const s_pview_t *v, const char *service, int64_t app)
{
    for (int i = 0; i < v->ntasks; i++) {
        if (strcmp(v->tasks[i].service, service) == 0 && v->tasks[i].app == app) {
            return &v->tasks[i];
        }
    }
    fail_msg("no %s task for app %lld", service, (long long)app);
    return NULL;
}

static void s_release(s_fix_t *x, int svc, int outcome)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "outcome", outcome);
    char name[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(name, sizeof(name), sl_service_name(svc));
    assert_int_equal(
        sl_port_send(x->port, name, RELEASE_MSG, sl_mp_writer_data(&w), sl_mp_writer_len(&w)), 0);
    sl_mp_writer_fini(&w);
}

/* ---- the steps most cases share ------------------------------------------------------------ */

/* The script, the shard, and one pipeline.start of json: the new id (in
   s_start's static buffer). */
static char *s_run(s_fix_t *x, s_script_fn script, const char *json)
{
    s_set_script(script);
    s_spawn_shard(x);
    return s_start(x, json);
}

/* One API call whose reply must be ok. */
static void s_call_ok(s_fix_t *x, const char *op, const char *args_json, const char *target)
{
    size_t n;
    uint8_t *b = s_call(x, op, args_json, target, &n);
    assert_true(s_ok(b, n));
    free(b);
}

/* One API call whose reply must be a failure; with `code`, that error code. */
static void s_call_fails(s_fix_t *x, const char *op, const char *args_json, const char *target,
                         const char *code)
{
    size_t n;
    uint8_t *b = s_call(x, op, args_json, target, &n);
    assert_false(s_ok(b, n));
    if (code) {
        char got[32];
        s_err_code(b, n, got, sizeof(got));
        assert_string_equal(got, code);
    }
    free(b);
}

/* Polls pipeline.get until `succeeded` tasks have succeeded (real-time
   deadline), and asserts it. */
static void s_wait_succeeded(s_fix_t *x, const char *pid, uint64_t succeeded, s_pview_t *v)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until;) {
        s_view(x, pid, v);
        if (v->succeeded == succeeded) {
            break;
        }
        s_pause();
    }
    assert_int_equal(v->succeeded, succeeded);
}

/* pipeline.list with args_json: how many pipelines it lists. */
static uint32_t s_list_count(s_fix_t *x, const char *args_json)
{
    size_t n;
    uint8_t *b = s_call(x, "pipeline.list", args_json, NULL, &n);
    sl_mp_reader_t l;
    uint32_t np = 99;
    assert_int_equal(sl_mp_map_find(b, n, "pipelines", &l), 0);
    assert_int_equal(sl_mp_read_array(&l, &np), 0);
    free(b);
    return np;
}

/* ---- scripts -------------------------------------------------------------------------------- */

static int s_gen_app(const sl_attempt_start_t *m, int64_t *app)
{
    static const char *tmpl[] = {"api_url_shortener", "api_weather_display", "auth_user_login"};
    for (int i = 0; i < 3; i++) {
        if (m->template_slug && strcmp(m->template_slug, tmpl[i]) == 0) {
            *app = 29 + i;
        }
    }
    return SL_OUT_SUCCESS;
}

/* The incident report, task by task. */
static int s_script_seed(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    if (svc == SL_SVC_GENERATOR) {
        return s_gen_app(m, app);
    }
    if (m->app_number == 30) {
        *err = "Analysis service temporarily unavailable - event loop error";
        return SL_OUT_ERROR;
    }
    if (m->app_number == 29 && (svc == SL_SVC_DYNAMIC || svc == SL_SVC_PERFORMANCE)) {
        *err = "Connection closed before result received";
        return SL_OUT_TRANSPORT;
    }
    if (m->app_number == 31 && svc == SL_SVC_DYNAMIC) {
        *err = "No response from service";
        return SL_OUT_PROGRESS_TIMEOUT;
    }
    return SL_OUT_SUCCESS;
}

static const char *SEED_REQ =
    "{\"name\": \"incident\", \"config\": {\"generation\": {\"mode\": \"generate\", \"models\": "
    "[\"google_gemini-3-flash-preview-20251217\"], \"templates\": [\"api_url_shortener\", "
    "\"api_weather_display\", \"auth_user_login\"]}, \"analysis\": {\"enabled\": true, \"tools\": "
    "[], \"options\": {\"target_urls\": [\"http://{model}-app{app}_backend:5000\"]}}}, "
    "\"retry\": {\"initial\": 0, \"max\": 0}}";

static void test_pipeline_seed_incident_ends_partial_success(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_seed, SEED_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "partial_success", &v);
    assert_string_equal(v.stage, "done");
    assert_int_equal(v.total, 15);
    assert_int_equal(v.succeeded, 8); /* 3 generations + 5 analyses */
    assert_int_equal(v.dead, 7);      /* every retry exhausted: parked in the DLQ */
    assert_int_equal(v.running + v.queued, 0);
    assert_non_null(strstr(v.error, "8/15 tasks succeeded"));
    for (int i = 0; i < 3; i++) {
        assert_string_equal(v.tasks[i].kind, "generation");
        assert_string_equal(v.tasks[i].status, "succeeded");
        assert_int_equal(v.tasks[i].app, 29 + i);
    }
    const char *svcs[] = {"static-analyzer", "dynamic-analyzer", "performance-tester",
                          "ai-analyzer"};
    const char *want[3][4] = {{"succeeded", "dead", "dead", "succeeded"},
                              {"dead", "dead", "dead", "dead"},
                              {"succeeded", "dead", "succeeded", "succeeded"}};
    for (int a = 0; a < 3; a++) {
        for (int s = 0; s < 4; s++) {
            const s_tview_t *t = s_task(&v, svcs[s], 29 + a);
            assert_string_equal(t->status, want[a][s]);
            assert_int_equal(t->attempts, strcmp(want[a][s], "dead") == 0 ? 3 : 1);
        }
    }
    assert_non_null(strstr(s_task(&v, "ai-analyzer", 30)->error, "event loop error"));
    /* Retries went elsewhere: attempt n excluded the replicas of 1..n-1. */
    pthread_mutex_lock(&g_mu);
    int checked = 0;
    for (int i = 0; i < g_nstarts; i++) {
        const s_start_t *s = &g_starts[i];
        if (s->svc != SL_SVC_GENERATOR) {
            assert_int_equal(s->nexclude, s->attempt - 1);
            if (s->attempt == 3) {
                assert_string_equal(s->exclude[0], "ws://r1");
                assert_string_equal(s->exclude[1], "ws://r2");
                checked++;
            }
            if (s->svc == SL_SVC_STATIC) {
                assert_int_equal(s->ntargets, 0);
            } else {
                assert_int_equal(s->ntargets, 1);
                char want_url[128];
                snprintf(want_url, sizeof(want_url),
                         "http://google_gemini-3-flash-preview-20251217-app%lld_backend:5000",
                         (long long)s->app);
                assert_string_equal(s->target0, want_url);
            }
        }
    }
    assert_int_equal(checked, 7);
    assert_int_equal(g_nstarts, 3 + 5 + 7 * 3);
    pthread_mutex_unlock(&g_mu);
    /* Monitors heard it too, after the commit: every task's end, then the
       pipeline's. */
    int ends = 0;
    assert_true(
        s_saw_event(x, "pipeline.status", "status", "partial_success", "task.status", &ends));
    assert_true(ends >= 15 + 15 + 7 * 3 * 2); /* created, dispatched, ... */
}

static int s_script_ok(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    return svc == SL_SVC_GENERATOR ? s_gen_app(m, app) : SL_OUT_SUCCESS;
}

static void test_pipeline_all_succeed_completed(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_ok, SEED_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(v.succeeded, 15);
    assert_string_equal(v.error, "");
    /* Nothing live any more: no attempt went out twice. */
    assert_int_equal(s_nstarts(), 15);
}

static int s_script_verdict(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    *err = "model path not found";
    return SL_OUT_VERDICT;
}

static void test_pipeline_generation_verdict_fails_at_once(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_verdict, SEED_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    /* A failed generation creates no analysis tasks; a verdict is not retried. */
    assert_int_equal(v.total, 3);
    assert_int_equal(v.failed, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(v.tasks[i].status, "failed");
        assert_int_equal(v.tasks[i].attempts, 1);
        assert_non_null(strstr(v.tasks[i].error, "model path not found"));
    }
    assert_int_equal(s_nstarts(), 3);
    /* The analyzer's frame is kept, for the task and for its attempt, so an
       operator can read why. */
    char key[80];
    for (int i = 0; i < 3; i++) {
        uint8_t *val = NULL;
        size_t vlen = 0;
        snprintf(key, sizeof(key), "%s-t%04d", pid, i);
        assert_int_equal(s_wait_stored(x, SL_IDS_DB_RESULTS, key, &val, &vlen), 0);
        assert_non_null(memmem(val, vlen, "Model path not found", 20));
        free(val);
        snprintf(key, sizeof(key), "%s-t%04d-a01", pid, i);
        assert_int_equal(s_wait_stored(x, SL_IDS_DB_RESULTS, key, &val, &vlen), 0);
        assert_non_null(memmem(val, vlen, "Model path not found", 20));
        free(val);
    }
}

static int s_script_one_gen_fails(int svc, const sl_attempt_start_t *m, int64_t *app,
                                  const char **err)
{
    if (svc == SL_SVC_GENERATOR && strcmp(m->template_slug, "auth_user_login") == 0) {
        *err = "template rejected";
        return SL_OUT_VERDICT;
    }
    return s_script_ok(svc, m, app, err);
}

static void test_pipeline_generation_failure_counts_against(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_one_gen_fails, SEED_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "partial_success", &v);
    assert_int_equal(v.total, 3 + 8);
    assert_int_equal(v.succeeded, 10);
    assert_int_equal(v.failed, 1);
}

static int s_script_hold(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    return HOLD;
}

static const char *EXISTING_REQ =
    "{\"config\": {\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": "
    "\"m\", \"app_number\": 1}, {\"model\": \"m\", \"app_number\": 2}]}, \"analysis\": "
    "{\"tools\": [\"bandit\"]}}, \"timeouts\": {\"task\": 10, \"stage\": 100, \"pipeline\": 200, "
    "\"attempt\": 10}, \"retry\": {\"max_attempts\": 2, \"initial\": 0, \"max\": 0}}";

static int s_script_partial_app1(int svc, const sl_attempt_start_t *m, int64_t *app,
                                 const char **err)
{
    return m->app_number == 1 ? SL_OUT_PARTIAL_SUCCESS : SL_OUT_SUCCESS;
}

/* A success that left something out shows it on the task, in pipeline.get
   and task.get, and keeps it in the stored record; a clean success has no
   warning. */
static void test_pipeline_success_warnings_on_the_task(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_partial_app1, EXISTING_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    const s_tview_t *t1 = s_task(&v, "static-analyzer", 1);
    assert_string_equal(t1->status, "succeeded");
    assert_string_equal(t1->warning, "partial result (partial); requested tools did not run: zap "
                                     "(not_available)");
    assert_string_equal(s_task(&v, "static-analyzer", 2)->warning, "");
    char args[128];
    s_id_args(args, sizeof(args), "task_id", t1->id);
    size_t n;
    uint8_t *b = s_call(x, "task.get", args, t1->id, &n);
    assert_true(s_ok(b, n));
    sl_mp_reader_t task;
    assert_int_equal(sl_mp_map_find(b, n, "task", &task), 0);
    char w[256];
    s_rd_str(&task, "warning", w, sizeof(w));
    assert_string_equal(w, t1->warning);
    free(b);
    sl_task_rec_t rec;
    s_stored_task(x, t1->id, &rec);
    assert_string_equal(rec.warning, t1->warning);
    sl_task_rec_clear(&rec);
}

static void test_pipeline_cancel_mid_run(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_hold, EXISTING_REQ);
    s_wait_starts(2);
    s_pview_t v;
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running");
    assert_string_equal(v.stage, "analysis");
    assert_int_equal(v.running, 2);
    char args[96];
    s_id_args(args, sizeof(args), "pipeline_id", pid);
    s_call_ok(x, "pipeline.cancel", args, pid);
    s_wait_status(x, pid, "cancelled", &v);
    assert_int_equal(v.cancelled, 2);
    /* The endpoint was told, and its late cancelled results changed nothing. */
    for (double until = s_mono() + WAIT_S; s_mono() < until;) {
        pthread_mutex_lock(&g_mu);
        int c = g_ncancels;
        pthread_mutex_unlock(&g_mu);
        if (c == 2) {
            break;
        }
        s_pause();
    }
    pthread_mutex_lock(&g_mu);
    assert_int_equal(g_ncancels, 2);
    pthread_mutex_unlock(&g_mu);
    s_view(x, pid, &v);
    assert_string_equal(v.status, "cancelled");
    /* A second cancel is refused; nothing changes. */
    s_call_fails(x, "pipeline.cancel", args, pid, "bad_state");
}

static void test_pipeline_cancel_one_task(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_hold, EXISTING_REQ);
    s_wait_starts(2);
    char args[128];
    snprintf(args, sizeof(args), "{\"task_id\": \"%s-t0000\"}", pid);
    s_call_ok(x, "task.cancel", args, NULL);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    s_pview_t v;
    s_wait_status(x, pid, "partial_success", &v);
    assert_string_equal(v.tasks[0].status, "cancelled");
    assert_string_equal(v.tasks[1].status, "succeeded");
}

/* The error_detail of the stored task tid: its code, message and
   suggestion copied into the caller's buffers ("" when none). */
static void s_detail(s_fix_t *x, const char *tid, const char *status, char *code, char *msg,
                     char *sugg, size_t cap)
{
    s_wait_stored_status(x, tid, status);
    sl_task_rec_t rec;
    s_stored_task(x, tid, &rec);
    snprintf(code, cap, "%s", rec.error_code ? rec.error_code : "");
    snprintf(msg, cap, "%s", rec.error_text ? rec.error_text : "");
    snprintf(sugg, cap, "%s", rec.error_suggestion ? rec.error_suggestion : "");
    sl_task_rec_clear(&rec);
}

/* Waits for tid's task.status event with status `status`; true when it
   carries error_detail.code == code. */
static bool s_event_detail(s_fix_t *x, const char *tid, const char *status, const char *code)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until;) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(x->events, 10, &m) < 0) {
            continue;
        }
        sl_event_publish_t e = {0};
        int hit = 0;
        const char *s;
        size_t sl;
        sl_mp_reader_t d;
        if (sl_event_publish_decode(m->body, m->body_len, &e) == 0 &&
            strcmp(e.topic, "task.status") == 0 &&
            sl_mp_map_get_str(e.body.ptr, e.body.len, "task_id", &s, &sl) == 0 &&
            sl_mp_str_eq(s, sl, tid) &&
            sl_mp_map_get_str(e.body.ptr, e.body.len, "status", &s, &sl) == 0 &&
            sl_mp_str_eq(s, sl, status)) {
            hit = sl_mp_map_find(e.body.ptr, e.body.len, "error_detail", &d) == 0 &&
                          sl_mp_map_get_str(d.buf + d.pos, d.len - d.pos, "code", &s, &sl) == 0 &&
                          sl_mp_str_eq(s, sl, code)
                      ? 1
                      : -1;
        }
        sl_event_publish_clear(&e);
        sl_msg_destroy(&m);
        if (hit) {
            return hit > 0;
        }
    }
    return false;
}

static int s_script_attempt_timeout(int svc, const sl_attempt_start_t *m, int64_t *app,
                                    const char **err)
{
    *err = "no result within 10000 ms";
    return SL_OUT_ATTEMPT_TIMEOUT;
}

/* An attempt timeout reported by the endpoint: the task's error_detail
   names the timeout, its value, what the analyzer last reported and the
   key to raise; the task.status event and the DLQ entry carry it; what the
   analyzer reported before is kept as the attempt's partial result; the
   pipeline's error_message counts the causes. */
static void test_pipeline_attempt_timeout_explained(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_attempt_timeout, EXISTING_REQ);
    char tid[64];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    assert_true(s_event_detail(x, tid, "retry_wait", "attempt_timeout"));
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    assert_string_equal(v.error, "0/2 tasks succeeded, 2 failed: 2 attempt_timeout "
                                 "(static-analyzer 2)");
    char code[256], msg[256], sugg[256];
    s_detail(x, tid, "dead", code, msg, sugg, sizeof code);
    assert_string_equal(code, "attempt_timeout");
    assert_string_equal(msg, "static-analyzer attempt 2 got no result within 10 s; the analyzer "
                             "last reported: scanning_js 40% \"running eslint\"");
    assert_string_equal(sugg,
                        "raise timeouts.attempt (10) or use the quick profile or fewer tools");

    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(s_wait_stored(x, 6, tid, &val, &vlen), 0);
    sl_dlq_rec_t dq;
    assert_int_equal(sl_dlq_rec_decode(val, vlen, &dq), 0);
    free(val);
    const char *s;
    size_t sl;
    assert_int_equal(
        sl_mp_map_get_str(dq.error_detail.ptr, dq.error_detail.len, "suggestion", &s, &sl), 0);
    assert_true(sl_mp_str_eq(s, sl, sugg));
    assert_true(dq.history.n == 2 && dq.history.v[1].partial);
    sl_dlq_rec_clear(&dq);

    char key[80];
    snprintf(key, sizeof(key), "%s-a02-p", tid);
    assert_int_equal(s_stored(x, 4, key, &val, &vlen), 0);
    assert_memory_equal(val, "{\"issues_so_far\":3}", vlen);
    free(val);
    snprintf(key, sizeof(key), "%s-p", tid);
    assert_int_equal(s_stored(x, 4, key, &val, &vlen), 0);
    free(val);
    assert_int_equal(s_stored(x, 4, tid, NULL, NULL), SL_ENOTFOUND); /* no frame */
}

/* With a profile and no timeouts of the request's own, the suggestion
   names the profile's key. */
static void test_pipeline_attempt_timeout_names_the_profile_key(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_attempt_timeout,
                      "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": "
                      "\"m\", \"app_number\": 1}]}, \"analysis\": {\"profile\": \"quick\"}, "
                      "\"retry\": {\"max_attempts\": 1}}");
    char tid[64], code[256], msg[256], sugg[256];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_detail(x, tid, "dead", code, msg, sugg, sizeof code);
    assert_string_equal(code, "attempt_timeout");
    assert_string_equal(sugg, "raise profiles/quick/attempt_timeout_s (10) or use fewer tools");
}

static void test_pipeline_task_timeout_parks_in_dlq(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_hold, EXISTING_REQ);
    s_wait_starts(2);
    s_pview_t v;
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running");
    sl_rt_advance(x->rt, 9000);
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running"); /* not yet */
    sl_rt_advance(x->rt, 2000);
    s_wait_status(x, pid, "failed", &v);
    assert_int_equal(v.dead, 2);
    assert_non_null(strstr(v.tasks[0].error, "task_timeout"));
    assert_string_equal(v.error, "0/2 tasks succeeded, 2 failed: 2 task_timeout "
                                 "(static-analyzer 2)");
    char tid[64], code[256], msg[256], sugg[256];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_detail(x, tid, "dead", code, msg, sugg, sizeof code);
    assert_string_equal(code, "task_timeout");
    assert_string_equal(msg, "static-analyzer task did not succeed within 10 s (all attempts and "
                             "waits); the analyzer reported no progress");
    assert_non_null(strstr(sugg, "raise timeouts.task (10) or "));
}

static int g_up_at; /* s_script_app_down: the attempt that finds the app up, 0 never */

static int s_script_app_down(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    *err = "No targets reachable out of 1 tested.";
    return g_up_at && (int)m->attempt >= g_up_at ? SL_OUT_SUCCESS : SL_OUT_TARGETS_UNREACHABLE;
}

static const char *DOWN_REQ =
    "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
    "\"app_number\": 1}]}, \"analysis\": {\"analyzers\": [\"dynamic\"], \"options\": "
    "{\"target_urls\": [\"http://{model}-app{app}:5000\"]}}, \"retry\": {\"max_attempts\": 1, "
    "\"app_unreachable\": 5, \"app_unreachable_retries\": 2}}";

static bool s_waits_after(const sl_task_rec_t *rec, const void *n)
{
    return rec->status == SL_TS_RETRY_WAIT && rec->attempts == *(const uint32_t *)n;
}

/* Polls the store until the task waits for its retry after attempt n. */
static void s_wait_retry_after(s_fix_t *x, const char *tid, uint32_t n)
{
    if (!s_poll_task(x, tid, s_waits_after, &n)) {
        fail_msg("task %s never waited after attempt %u", tid, n);
    }
}

/* targets_unreachable is about the app: no replica is excluded, nothing is
   retried at once, max_attempts (1 here) is not spent; the task tries
   again every app_unreachable seconds, app_unreachable_retries times, then
   fails naming the URLs and what to do, its frames kept. */
static void test_pipeline_unreachable_app_waits_then_fails(void **state)
{
    s_fix_t *x = *state;
    g_up_at = 0;
    char *pid = s_run(x, s_script_app_down, DOWN_REQ);
    char tid[64];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_wait_retry_after(x, tid, 1);
    assert_int_equal(s_nstarts(), 1);
    sl_rt_advance(x->rt, 4900);
    s_wait_retry_after(x, tid, 1);
    assert_int_equal(s_nstarts(), 1); /* not at once */
    sl_rt_advance(x->rt, 100);
    s_wait_retry_after(x, tid, 2);
    sl_rt_advance(x->rt, 5000);
    s_wait_starts(3);
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    assert_string_equal(v.tasks[0].status, "failed");
    assert_int_equal(v.tasks[0].attempts, 3);
    assert_non_null(strstr(v.tasks[0].error, "targets_unreachable: "));
    assert_non_null(strstr(v.tasks[0].error, "http://m-app1:5000"));
    assert_non_null(strstr(v.tasks[0].error, "in 3 attempts 5 s apart"));
    assert_non_null(strstr(v.tasks[0].error, "start the app, or check its target_urls"));
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(g_starts[i].nexclude, 0); /* no replica blamed */
        assert_string_equal(g_starts[i].target0, "http://m-app1:5000");
    }
    pthread_mutex_unlock(&g_mu);
    char key[80];
    for (int a = 1; a <= 3; a++) {
        uint8_t *val = NULL;
        size_t vlen = 0;
        snprintf(key, sizeof(key), "%s-a%02d", tid, a);
        assert_int_equal(s_wait_stored(x, SL_IDS_DB_RESULTS, key, &val, &vlen), 0);
        assert_non_null(memmem(val, vlen, "targets_unreachable", 19));
        free(val);
    }
}

/* The app comes up while the task waits: the next try succeeds. */
static void test_pipeline_unreachable_app_comes_up(void **state)
{
    s_fix_t *x = *state;
    g_up_at = 2;
    char *pid = s_run(x, s_script_app_down, DOWN_REQ);
    char tid[64];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_wait_retry_after(x, tid, 1);
    sl_rt_advance(x->rt, 5000);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(v.tasks[0].attempts, 2);
    assert_string_equal(v.tasks[0].error, "");
}

/* Retention takes a failed attempt's frame with its pipeline. */
static void test_pipeline_retention_purges_attempt_frames(void **state)
{
    s_fix_t *x = *state;
    x->cfg.retention_ms = 5000;
    g_up_at = 0;
    char *pid = s_run(x, s_script_app_down,
                      "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": "
                      "\"m\", \"app_number\": 1}]}, \"analysis\": {\"analyzers\": [\"dynamic\"]}, "
                      "\"retry\": {\"app_unreachable_retries\": 0}}");
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    char tid[64], key[80];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    snprintf(key, sizeof(key), "%s-a01", tid);
    assert_int_equal(s_wait_stored(x, SL_IDS_DB_RESULTS, key, NULL, NULL), 0);
    sl_rt_advance(x->rt, 5000);
    s_wait_gone(x, 1, pid);
    assert_int_equal(s_stored(x, SL_IDS_DB_RESULTS, tid, NULL, NULL), SL_ENOTFOUND);
    assert_int_equal(s_stored(x, SL_IDS_DB_RESULTS, key, NULL, NULL), SL_ENOTFOUND);
}

static void test_pipeline_stage_timeout(void **state)
{
    s_fix_t *x = *state;
    char *pid =
        s_run(x, s_script_hold,
              "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
              "\"app_number\": 1}]}, \"analysis\": {\"tools\": [\"bandit\", \"zap\"]}, "
              "\"timeouts\": {\"task\": 100, \"stage\": 5, \"pipeline\": 200}}");
    s_wait_starts(2);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    s_pview_t v;
    s_wait_succeeded(x, pid, 1, &v);
    sl_rt_advance(x->rt, 6000);
    s_wait_status(x, pid, "partial_success", &v);
    assert_non_null(strstr(v.error, "stage_timeout"));
    assert_string_equal(s_task(&v, "dynamic-analyzer", 1)->status, "cancelled");
    assert_non_null(strstr(v.error, "; 1/2 tasks succeeded, 1 failed: 1 stage_timeout "
                                    "(dynamic-analyzer 1)"));
    char tid[64], code[256], msg[256], sugg[256];
    snprintf(tid, sizeof(tid), "%s-t0001", pid);
    s_detail(x, tid, "cancelled", code, msg, sugg, sizeof code);
    assert_string_equal(code, "stage_timeout");
    assert_non_null(strstr(msg, "dynamic-analyzer task was stopped by the stage deadline of 5 s"));
    assert_non_null(strstr(sugg, "raise timeouts.stage (5) or "));
}

static void test_pipeline_pipeline_timeout(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_hold,
                      "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"]}, "
                      "\"analysis\": {\"tools\": [\"bandit\"]}, "
                      "\"timeouts\": {\"task\": 100, \"stage\": 100, \"pipeline\": 3}}");
    s_wait_starts(1);
    sl_rt_advance(x->rt, 3500);
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    assert_non_null(strstr(v.error, "pipeline_timeout"));
    assert_int_equal(v.cancelled, 1);
    char tid[64], code[256], msg[256], sugg[256];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_detail(x, tid, "cancelled", code, msg, sugg, sizeof code);
    assert_string_equal(code, "pipeline_timeout");
    assert_non_null(strstr(sugg, "raise timeouts.pipeline (3) or "));
}

static int s_script_transport(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    *err = "connection reset";
    return SL_OUT_TRANSPORT;
}

/* Reads published events until one has this topic and field == value
   (bounded wait); counts on the way the events of topic `count_topic`. */
static bool s_saw_event(s_fix_t *x, const char *topic, const char *field, const char *value,
                        const char *count_topic, int *count)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until;) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(x->events, 10, &m) < 0) {
            continue;
        }
        sl_event_publish_t e = {0};
        bool hit = false;
        if (sl_event_publish_decode(m->body, m->body_len, &e) == 0) {
            if (count_topic && strcmp(e.topic, count_topic) == 0) {
                (*count)++;
            }
            const char *k;
            size_t kl;
            hit = strcmp(e.topic, topic) == 0 &&
                  sl_mp_map_get_str(e.body.ptr, e.body.len, field, &k, &kl) == 0 &&
                  sl_mp_str_eq(k, kl, value);
        }
        sl_event_publish_clear(&e);
        sl_msg_destroy(&m);
        if (hit) {
            return true;
        }
    }
    return false;
}

static bool s_saw_alert(s_fix_t *x, const char *kind)
{
    return s_saw_event(x, "alert", "kind", kind, NULL, NULL);
}

static void test_pipeline_dlq_park_retry_third_strike(void **state)
{
    s_fix_t *x = *state;
    char *pid =
        s_run(x, s_script_transport,
              "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
              "\"app_number\": 1}]}, \"analysis\": {\"tools\": [\"bandit\"]}, "
              "\"timeouts\": {\"attempt\": 10}, \"retry\": {\"max_attempts\": 2, \"initial\": 0, "
              "\"max\": 0}}");
    char tid[64], args[128];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_id_args(args, sizeof(args), "task_id", tid);
    s_pview_t v;
    size_t n;
    uint8_t *b;
    for (int round = 1; round <= 3; round++) {
        s_wait_status(x, pid, "failed", &v);
        assert_string_equal(v.tasks[0].status, "dead");
        assert_int_equal(v.tasks[0].attempts, 2 * round);
        assert_non_null(strstr(v.tasks[0].error, "exhausted 2 attempts"));
        b = s_call(x, "task.get", args, tid, &n);
        assert_true(s_ok(b, n));
        sl_mp_reader_t t, f;
        assert_int_equal(sl_mp_map_find(b, n, "task", &t), 0);
        assert_int_equal(s_rd_uint(&t, "dlq_returns"), round);
        assert_int_equal(sl_mp_reader_find(&t, "history", &f), 0);
        uint32_t nh;
        assert_int_equal(sl_mp_read_array(&f, &nh), 0);
        assert_int_equal(nh, 2 * round);
        free(b);
        b = s_call(x, "dlq.retry", args, tid, &n);
        if (round < 3) {
            assert_true(s_ok(b, n));
        } else {
            /* The third return raised an alert and the task stays parked. */
            assert_false(s_ok(b, n));
            char code[32];
            s_err_code(b, n, code, sizeof(code));
            assert_string_equal(code, "bad_state");
        }
        free(b);
        if (round < 3) {
            /* Re-opened, and ending again the same way. */
            s_wait_starts(2 * round + 2);
        }
    }
    assert_true(s_saw_alert(x, "dlq_third_strike"));
    /* Each DLQ retry stretched the attempt timeout by 1.5. */
    pthread_mutex_lock(&g_mu);
    assert_int_equal(g_nstarts, 6);
    assert_int_equal(g_starts[0].attempt_timeout_ms, 10000);
    assert_int_equal(g_starts[2].attempt_timeout_ms, 15000);
    assert_int_equal(g_starts[4].attempt_timeout_ms, 22500);
    /* A fresh budget per retry, and the exclude list starts afresh too. */
    assert_int_equal(g_starts[2].nexclude, 0);
    assert_int_equal(g_starts[3].nexclude, 1);
    /* Every retry, the DLQ's included, resumes from the last checkpoint. */
    assert_string_equal(g_starts[0].resume_from, "");
    for (int i = 1; i < 6; i++) {
        assert_string_equal(g_starts[i].resume_from, "ckpt-7");
    }
    pthread_mutex_unlock(&g_mu);
    /* Dropping takes it out of the DLQ; a second drop finds nothing. */
    s_call_ok(x, "dlq.drop", args, tid);
    s_call_fails(x, "dlq.drop", args, tid, NULL);
}

static int s_script_first_fails(int svc, const sl_attempt_start_t *m, int64_t *app,
                                const char **err)
{
    *err = "connection reset";
    return m->attempt == 1 ? SL_OUT_TRANSPORT : SL_OUT_SUCCESS;
}

/* The error of attempt 1 is said once, when it ends; the events of attempt
   2 carry none of it. */
static void test_pipeline_new_attempt_has_no_old_error(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_first_fails,
                      "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": "
                      "\"m\", \"app_number\": 1}]}, \"analysis\": {\"tools\": [\"bandit\"]}, "
                      "\"retry\": {\"max_attempts\": 2, \"initial\": 0, \"max\": 0}}");
    int seen = 0;
    for (double until = s_mono() + WAIT_S; s_mono() < until && seen < 4;) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(x->events, 10, &m) < 0) {
            continue;
        }
        sl_event_publish_t e = {0};
        assert_int_equal(sl_event_publish_decode(m->body, m->body_len, &e), 0);
        const uint8_t *b = e.body.ptr;
        size_t n = e.body.len;
        const char *st = NULL, *err = NULL;
        size_t stl = 0, errl = 0;
        uint64_t attempt = 0;
        if (strcmp(e.topic, "task.status") == 0) {
            assert_int_equal(sl_mp_map_get_str(b, n, "status", &st, &stl), 0);
            assert_int_equal(sl_mp_map_get_uint(b, n, "attempt", &attempt), 0);
            bool has_err = sl_mp_map_get_str(b, n, "error", &err, &errl) == 0;
            if (sl_mp_str_eq(st, stl, "retry_wait")) {
                assert_int_equal(attempt, 1);
                assert_true(has_err && memmem(err, errl, "connection reset", 16));
                seen++;
            } else if (attempt == 2) {
                assert_false(has_err); /* queued, running, succeeded */
                seen++;
            }
        }
        sl_event_publish_clear(&e);
        sl_msg_destroy(&m);
    }
    assert_int_equal(seen, 4);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_string_equal(v.tasks[0].error, "");
}

static void test_pipeline_watchdog_reconciles_lost_finalize(void **state)
{
    s_fix_t *x = *state;
    x->cfg.drop_finalize_every_n = 1;
    char *pid = s_run(x, s_script_ok, EXISTING_REQ);
    s_pview_t v;
    s_wait_succeeded(x, pid, 2, &v);
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running"); /* the seed's stuck pipeline */
    /* The watchdog sees it with nothing live... */
    sl_wd_scan_t scan = {.now_ms = 0};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_wd_scan_encode(&scan, &buf, &len), 0);
    sl_msg_t *reply = s_request(x, "pipeline.0", SL_MSG_WD_SCAN, buf, len);
    sl_wd_report_t rep = {0};
    assert_int_equal(sl_wd_report_decode(reply->body, reply->body_len, &rep), 0);
    sl_mp_reader_t r;
    uint32_t np;
    assert_int_equal(sl_codec_items(&rep.pipelines, &r, &np), 0);
    assert_int_equal(np, 1);
    sl_wd_pipeline_t item;
    assert_int_equal(sl_wd_pipeline_next(&r, &item), 0);
    assert_int_equal(item.live_attempts, 0);
    assert_string_equal(item.id, pid);
    assert_string_equal(item.status, "running");
    sl_wd_pipeline_clear(&item);
    sl_wd_report_clear(&rep);
    sl_msg_destroy(&reply);
    /* ...and reconciles it. */
    sl_wd_reconcile_t rc = {.pipeline_id = pid, .reason = (char *)"stuck"};
    assert_int_equal(sl_wd_reconcile_encode(&rc, &buf, &len), 0);
    assert_int_equal(
        sl_port_send(x->port, SL_IDS_PIPELINE_PREFIX "0", SL_MSG_WD_RECONCILE, buf, len), 0);
    free(buf);
    s_wait_status(x, pid, "completed", &v);
    assert_non_null(strstr(v.error, "reconciled by watchdog: stuck"));
}

static void s_send_stage(s_fix_t *x, const char *task_id, const char *stage, int pct)
{
    sl_attempt_progress_t p = {.task_id = (char *)task_id,
                               .attempt = 1,
                               .stage = (char *)stage,
                               .pct = pct,
                               .message = (char *)"working"};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_progress_encode(&p, &buf, &len), 0);
    assert_int_equal(
        sl_port_send(x->port, SL_IDS_PIPELINE_PREFIX "0", SL_MSG_ATTEMPT_PROGRESS, buf, len), 0);
    free(buf);
}

/* The stage and pct (-2: null, -3: absent) of every task.progress event of
   tid, in order, until tid's task.status `until`: the count. */
static int s_collect_progress(s_fix_t *x, const char *tid, const char *until, char stages[][32],
                              int *pcts, int cap)
{
    int n = 0;
    for (double end = s_mono() + WAIT_S; s_mono() < end;) {
        sl_msg_t *m = NULL;
        if (sl_port_recv(x->events, 10, &m) < 0) {
            continue;
        }
        sl_event_publish_t e = {0};
        bool done = false;
        const char *k;
        size_t kl;
        if (sl_event_publish_decode(m->body, m->body_len, &e) == 0 &&
            sl_mp_map_get_str(e.body.ptr, e.body.len, "task_id", &k, &kl) == 0 &&
            sl_mp_str_eq(k, kl, tid)) {
            sl_mp_reader_t body, v;
            sl_mp_reader_init(&body, e.body.ptr, e.body.len);
            if (strcmp(e.topic, "task.progress") == 0 && n < cap) {
                s_rd_str(&body, "stage", stages[n], 32);
                pcts[n] = -3;
                if (sl_mp_reader_find(&body, "pct", &v) == 0) {
                    uint64_t u = 0;
                    pcts[n] = sl_mp_read_nil(&v) == 0        ? -2
                              : sl_mp_read_uint(&v, &u) == 0 ? (int)u
                                                             : -4;
                }
                n++;
            } else if (strcmp(e.topic, "task.status") == 0) {
                char st[32];
                s_rd_str(&body, "status", st, sizeof(st));
                done = strcmp(st, until) == 0;
            }
        }
        sl_event_publish_clear(&e);
        sl_msg_destroy(&m);
        if (done) {
            return n;
        }
    }
    fail_msg("no task.status %s for %s", until, tid);
    return n;
}

/* Issue 9 section 3: a burst of stages within one instant of the manual
   clock reaches PUB whole and in order (the shard adds no throttle of its
   own), an unknown pct is null in task.progress as in pipeline.get, and
   once the task ended the last task.progress equals what task.get shows. */
static void test_pipeline_progress_every_stage_published(void **state)
{
    s_fix_t *x = *state;
    static const char *stages[10] = {
        "starting",     "scanning_python", "python_completed",    "scanning_js", "js_completed",
        "scanning_css", "scanning_html",   "analyzing_structure", "reporting",   "completed"};
    char *pid = s_run(x, s_script_hold, EXISTING_REQ);
    s_wait_starts(2);
    char tid[64];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    for (int i = 0; i < 10; i++) {
        s_send_stage(x, tid, stages[i], i == 9 ? -1 : i * 10);
    }
    /* Answered from the same port: the ten were handled before it. */
    char args[96];
    s_id_args(args, sizeof(args), "task_id", tid);
    size_t n;
    uint8_t *b = s_call(x, "task.get", args, tid, &n);
    free(b);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    char got[16][32];
    int pcts[16];
    int k = s_collect_progress(x, tid, "succeeded", got, pcts, 16);
    assert_int_equal(k, 10);
    for (int i = 0; i < 10; i++) {
        assert_string_equal(got[i], stages[i]);
        assert_int_equal(pcts[i], i == 9 ? -2 : i * 10);
    }
    b = s_call(x, "task.get", args, tid, &n);
    sl_mp_reader_t t, pr, v;
    assert_int_equal(sl_mp_map_find(b, n, "task", &t), 0);
    assert_int_equal(sl_mp_reader_find(&t, "progress", &pr), 0);
    char st[32];
    s_rd_str(&pr, "stage", st, sizeof(st));
    assert_string_equal(st, got[k - 1]);
    assert_int_equal(sl_mp_reader_find(&pr, "pct", &v), 0);
    assert_int_equal(sl_mp_read_nil(&v), 0);
    free(b);
}

static int s_script_shutdown_once(int svc, const sl_attempt_start_t *m, int64_t *app,
                                  const char **err)
{
    int seen = 0;
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nstarts; i++) {
        seen += strcmp(g_starts[i].task_id, m->task_id) == 0;
    }
    pthread_mutex_unlock(&g_mu);
    return seen == 1 ? SL_OUT_INTERRUPTED : SL_OUT_SUCCESS;
}

static void test_pipeline_interrupted_attempt_is_not_counted(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_shutdown_once, EXISTING_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(v.tasks[0].attempts, 1);
    assert_int_equal(v.tasks[1].attempts, 1);
    pthread_mutex_lock(&g_mu);
    assert_int_equal(g_nstarts, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(g_starts[i].attempt, 1);
    }
    pthread_mutex_unlock(&g_mu);
}

/* ---- scan profiles: escalation (README, "Scan profiles") ---------------------------------- */

/* Quick scans of three apps: app 1 clean, app 2 with 3 issues, app 3's
   static analysis a verdict; deep scans of the apps whose quick scan
   failed or found more than 2 issues held until released. */
static int s_script_escalation(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    if (m->attempt_timeout_ms == 900000) {
        return HOLD; /* a deep task */
    }
    if (m->app_number == 3) {
        *err = "Model path not found";
        return SL_OUT_VERDICT;
    }
    return SL_OUT_SUCCESS;
}

static const char *ESCALATE_REQ =
    "{\"config\": {\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": "
    "\"m\", \"app_number\": 1}, {\"model\": \"m\", \"app_number\": 2}, {\"model\": \"m\", "
    "\"app_number\": 3}]}, \"analysis\": {\"profile\": \"quick\", \"escalate\": \"deep\", "
    "\"escalate_threshold\": 2}}, \"retry\": {\"max_attempts\": 1, \"initial\": 0, \"max\": "
    "0}}";

/* The apps whose quick scan failed or found issues above the threshold
   get the deep profile's tasks, appended to the same pipeline, with deep's
   tools and timeouts; the others do not. The escalation is stored: a
   restart neither loses the deep tasks nor escalates again. */
static void test_pipeline_escalation_runs_deep_where_quick_found_issues(void **state)
{
    s_fix_t *x = *state;
    pthread_mutex_lock(&g_mu);
    g_issues_app = 2;
    pthread_mutex_unlock(&g_mu);
    char *pid = s_run(x, s_script_escalation, ESCALATE_REQ);
    char keep[SL_PIPELINE_ID_MAX];
    snprintf(keep, sizeof(keep), "%s", pid);
    pid = keep;
    s_wait_starts(3 + 8); /* 3 quick, then 4 deep for each of apps 2 and 3 */
    s_pview_t v;
    s_view(x, pid, &v);
    assert_int_equal(v.total, 11);
    assert_string_equal(v.status, "running");
    for (int i = 0; i < 3; i++) {
        assert_string_equal(v.tasks[i].service, "static-analyzer");
        assert_int_equal(v.tasks[i].app, i + 1);
    }
    int deep[4] = {0};
    for (int i = 3; i < 11; i++) {
        assert_true(v.tasks[i].app == 2 || v.tasks[i].app == 3);
        deep[v.tasks[i].app]++;
    }
    assert_int_equal(deep[2], 4);
    assert_int_equal(deep[3], 4);
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nstarts; i++) {
        const s_start_t *st = &g_starts[i];
        bool quick = st->svc == SL_SVC_STATIC && st->attempt_timeout_ms == 60000;
        assert_true(quick || st->attempt_timeout_ms == 900000);
        assert_int_equal(st->ntools, quick ? 5 : 0); /* deep: all of each analyzer's tools */
    }
    assert_int_equal(g_nstarts, 11);
    pthread_mutex_unlock(&g_mu);

    /* what the stored records say: issues on the quick tasks, the deep
       tasks marked, the decision on each app's first task */
    char tid[64];
    sl_task_rec_t rec;
    snprintf(tid, sizeof(tid), "%s-t0001", pid);
    s_stored_task(x, tid, &rec);
    assert_int_equal(rec.issues, 3);
    assert_false(rec.escalated);
    assert_true(rec.escalation_decided);
    sl_task_rec_clear(&rec);
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_stored_task(x, tid, &rec);
    assert_int_equal(rec.issues, -1); /* the fake's plain frame reports none */
    assert_true(rec.escalation_decided);
    sl_task_rec_clear(&rec);
    snprintf(tid, sizeof(tid), "%s-t0010", pid);
    s_stored_task(x, tid, &rec);
    assert_true(rec.escalated);
    sl_task_rec_clear(&rec);

    /* restart with the deep tasks in flight */
    sl_actor_destroy(&x->shard);
    s_spawn_shard(x);
    s_wait_starts(11 + 8); /* the 8 deep attempts re-sent, nothing new */
    s_view(x, pid, &v);
    assert_int_equal(v.total, 11);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    s_release(x, SL_SVC_DYNAMIC, SL_OUT_SUCCESS);
    s_release(x, SL_SVC_PERFORMANCE, SL_OUT_SUCCESS);
    s_release(x, SL_SVC_AI, SL_OUT_SUCCESS);
    s_wait_status(x, pid, "partial_success", &v);
    assert_int_equal(v.total, 11);
    assert_int_equal(v.succeeded, 10);
    assert_int_equal(v.failed, 1);
    assert_int_equal(s_nstarts(), 19);
}

/* No escalation without a reason: every app clean, and a threshold the
   issues do not pass. */
static void test_pipeline_escalation_threshold_holds_back(void **state)
{
    s_fix_t *x = *state;
    pthread_mutex_lock(&g_mu);
    g_issues_app = 1;
    pthread_mutex_unlock(&g_mu);
    char *pid = s_run(x, s_script_ok,
                      "{\"config\": {\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
                      "[{\"model\": \"m\", \"app_number\": 1}, {\"model\": \"m\", \"app_number\": "
                      "2}]}, \"analysis\": {\"profile\": \"quick\", \"escalate\": \"deep\", "
                      "\"escalate_threshold\": 3}}}");
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(v.total, 2); /* 3 issues do not pass a threshold of 3 */
    assert_int_equal(s_nstarts(), 2);
}

/* The interrupted attempt's re-send is due 30 s later; the shard stops and
   starts again on the same store before that. */
static void test_pipeline_interrupted_attempt_survives_restart(void **state)
{
    s_fix_t *x = *state;
    char *pid =
        s_run(x, s_script_shutdown_once,
              "{\"config\": {\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
              "[{\"model\": \"m\", \"app_number\": 1}]}, \"analysis\": {\"tools\": "
              "[\"bandit\"]}}, \"retry\": {\"max_attempts\": 2, \"initial\": 30, \"max\": 30}}");
    char tid[64];
    snprintf(tid, sizeof(tid), "%s-t0000", pid);
    s_wait_stored_status(x, tid, "retry_wait");
    sl_task_rec_t rec;
    s_stored_task(x, tid, &rec);
    assert_int_equal(rec.attempts, 1);
    assert_true(rec.redispatch);
    sl_task_rec_clear(&rec);
    assert_int_equal(s_nstarts(), 1);

    sl_actor_destroy(&x->shard);
    s_spawn_shard(x);
    sl_rt_advance(x->rt, 31000);
    s_pview_t v;
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(s_nstarts(), 2);
    pthread_mutex_lock(&g_mu);
    s_start_t resent = g_starts[1];
    pthread_mutex_unlock(&g_mu);
    assert_string_equal(resent.task_id, tid);
    assert_int_equal(resent.attempt, 1); /* the same number, not a second attempt */
    assert_int_equal(v.tasks[0].attempts, 1);
    s_wait_stored_status(x, tid, "succeeded");
    s_stored_task(x, tid, &rec);
    assert_int_equal(rec.attempts, 1);
    assert_int_equal(rec.history.n, 1);
    assert_false(rec.redispatch);
    sl_task_rec_clear(&rec);
}

static void test_pipeline_shards_recover_their_own(void **state)
{
    s_fix_t *x = *state;
    x->cfg.shards = 2;
    s_set_script(s_script_hold);
    s_spawn_shard(x);
    sl_actor_t *shard1 = NULL;
    assert_int_equal(sl_pipeline_spawn(x->rt, &x->cfg, 1, &shard1), 0);
    char ids[2][SL_PIPELINE_ID_MAX];
    int have = 0;
    while (have != 3) {
        char id[SL_PIPELINE_ID_MAX];
        sl_ids_new_pipeline(id, SL_PIPELINE_ID_MAX, 1700000000000LL);
        int s = sl_ids_shard_of(id, 2);
        if (!(have & (1 << s))) {
            snprintf(ids[s], sizeof(ids[s]), "%s", id);
            have |= 1 << s;
        }
    }
    /* A shard refuses an id that hashes elsewhere. */
    g_dest = "pipeline.0";
    s_call_fails(x, "pipeline.start", EXISTING_REQ, ids[1], "invalid");
    for (int s = 0; s < 2; s++) {
        g_dest = s ? "pipeline.1" : "pipeline.0";
        s_call_ok(x, "pipeline.start", EXISTING_REQ, ids[s]);
    }
    s_wait_starts(4);
    for (int s = 0; s < 2; s++) {
        for (int t = 0; t < 2; t++) {
            char tid[80];
            snprintf(tid, sizeof(tid), "%s-t%04d", ids[s], t);
            s_wait_stored_status(x, tid, "queued");
        }
    }
    sl_actor_destroy(&x->shard);
    sl_actor_destroy(&shard1);
    s_spawn_shard(x);
    assert_int_equal(sl_pipeline_spawn(x->rt, &x->cfg, 1, &shard1), 0);
    s_wait_starts(8);
    for (int s = 0; s < 2; s++) {
        g_dest = s ? "pipeline.1" : "pipeline.0";
        s_pview_t v;
        s_view(x, ids[s], &v);
        assert_string_equal(v.status, "running");
        assert_int_equal(v.running, 2);
        /* ...and only its own. */
        char args[96];
        s_id_args(args, sizeof(args), "pipeline_id", ids[1 - s]);
        s_call_fails(x, "pipeline.get", args, ids[1 - s], NULL);
    }
    assert_int_equal(s_nstarts(), 8);
    sl_actor_destroy(&shard1);
}

static void test_pipeline_concurrency_limit(void **state)
{
    s_fix_t *x = *state;
    char *pid =
        s_run(x, s_script_hold,
              "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": [{\"model\": \"m\", "
              "\"app_number\": 1}, {\"model\": \"m\", \"app_number\": 2}, {\"model\": \"m\", "
              "\"app_number\": 3}]}, \"analysis\": {\"tools\": [\"bandit\"], \"options\": "
              "{\"parallel\": false}}}");
    s_pview_t v;
    for (int round = 1; round <= 3; round++) {
        s_wait_starts(round);
        s_view(x, pid, &v);
        assert_int_equal(v.running, 1); /* one at a time */
        assert_int_equal(v.queued, (uint64_t)(3 - round));
        assert_int_equal(s_nstarts(), round);
        s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    }
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(s_nstarts(), 3);
}

static void test_pipeline_missing_endpoint_parks_tasks(void **state)
{
    s_fix_t *x = *state;
    sl_actor_destroy(&x->fakes[SL_SVC_GENERATOR]); /* no generator configured */
    s_spawn_shard(x);
    char *pid = s_start(x, SEED_REQ);
    s_pview_t v;
    s_wait_status(x, pid, "failed", &v);
    assert_int_equal(v.total, 3);
    assert_int_equal(v.dead, 3);
    assert_non_null(strstr(v.tasks[0].error, "endpoint.generator"));
    assert_int_equal(v.tasks[0].attempts, 3);
}

/* Puts val under key in db and waits for the ack: a record as the shard
   would write it, or as a crashed or damaged daemon left it. */
static void s_put_raw(s_fix_t *x, int db, const char *key, const uint8_t *val, size_t len)
{
    sl_mp_writer_t ops;
    sl_mp_writer_init(&ops);
    sl_mp_write_array(&ops, 1);
    sl_store_op_t op = {
        .db = (uint64_t)db, .key = {(uint8_t *)key, strlen(key)}, .value = {(uint8_t *)val, len}};
    assert_int_equal(sl_store_op_write(&op, &ops), 0);
    sl_store_write_t w = {.ops = {(uint8_t *)sl_mp_writer_data(&ops), sl_mp_writer_len(&ops)}};
    uint8_t *buf = NULL;
    size_t blen = 0;
    assert_int_equal(sl_store_write_encode(&w, &buf, &blen), 0);
    sl_msg_t *reply = s_request(x, SL_IDS_STORE, SL_MSG_STORE_WRITE, buf, blen);
    sl_store_ack_t ack = {0};
    assert_int_equal(sl_store_ack_decode(reply->body, reply->body_len, &ack), 0);
    assert_int_equal(ack.status, 0);
    sl_msg_destroy(&reply);
    sl_mp_writer_fini(&ops);
}

static void test_pipeline_recovery_survives_damaged_records(void **state)
{
    s_fix_t *x = *state;
    s_set_script(s_script_hold);
    char good[SL_PIPELINE_ID_MAX], bad[SL_PIPELINE_ID_MAX], t0[64], t1[64];
    sl_ids_new_pipeline(good, SL_PIPELINE_ID_MAX, 1700000000000LL);
    sl_ids_new_pipeline(bad, SL_PIPELINE_ID_MAX, 1700000000000LL);
    snprintf(t0, sizeof(t0), "%s-t0000", good);
    snprintf(t1, sizeof(t1), "%s-t0001", good);
    uint8_t *req = NULL, *buf = NULL;
    size_t req_len = 0, len = 0;
    assert_int_equal(pl_json_to_mp(EXISTING_REQ, &req, &req_len), 0);
    sl_pipeline_rec_t pr = {.id = good,
                            .name = (char *)"damaged",
                            .status = SL_PS_RUNNING,
                            .stage = SL_STAGE_ANALYSIS,
                            .ntasks = 2,
                            .request = {req, req_len}};
    assert_int_equal(sl_pipeline_rec_encode(&pr, &buf, &len), 0);
    s_put_raw(x, 1, good, buf, len);
    free(buf);
    free(req);
    sl_task_rec_t tr = {.id = t1,
                        .pipeline_id = good,
                        .index = 1,
                        .kind = SL_TK_ANALYSIS,
                        .service = SL_SVC_STATIC,
                        .status = SL_TS_PENDING,
                        .model = (char *)"m",
                        .app_number = 2,
                        .timeout_permille = 1000,
                        .outcome = -1,
                        .progress_pct = -1};
    assert_int_equal(sl_task_rec_encode(&tr, &buf, &len), 0);
    s_put_raw(x, 2, t1, buf, len);
    free(buf);
    s_put_raw(x, 2, t0, (const uint8_t *)"\x82\xa2id\xc1", 5);        /* unreadable task */
    s_put_raw(x, 1, bad, (const uint8_t *)"\xdd\xff\xff\xff\xff", 5); /* and pipeline */
    s_spawn_shard(x);                                                 /* must come up, not crash */
    s_wait_starts(1);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    s_pview_t v;
    s_wait_status(x, good, "partial_success", &v);
    assert_string_equal(v.tasks[0].status, "failed");
    assert_non_null(strstr(v.tasks[0].error, "unreadable"));
    assert_string_equal(v.tasks[1].status, "succeeded");
    char args[96];
    s_id_args(args, sizeof(args), "pipeline_id", bad);
    s_call_fails(x, "pipeline.get", args, bad, NULL);
}

/* The raw stored value of db/key: 0 and *out (free()), or the store's
   status (not_found when absent). */
static int s_stored(s_fix_t *x, int db, const char *key, uint8_t **out, size_t *outlen)
{
    sl_store_get_t g = {.db = (uint64_t)db, .key = {(uint8_t *)key, strlen(key)}};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_store_get_encode(&g, &buf, &len), 0);
    sl_msg_t *reply = s_request(x, SL_IDS_STORE, SL_MSG_STORE_GET, buf, len);
    sl_store_value_t val = {0};
    assert_int_equal(sl_store_value_decode(reply->body, reply->body_len, &val), 0);
    sl_msg_destroy(&reply);
    int rc = (int)val.status;
    if (rc == 0 && out) {
        *out = val.value.ptr;
        *outlen = val.value.len;
        val.value.ptr = NULL;
        val.value.len = 0;
    }
    sl_store_value_clear(&val);
    return rc;
}

/* Polls the store until tid's task record satisfies ok; false when it
   never did within WAIT_S. */
static bool s_poll_task(s_fix_t *x, const char *tid, s_task_pred_fn ok, const void *arg)
{
    for (double until = s_mono() + WAIT_S; s_mono() < until; s_pause()) {
        uint8_t *val = NULL;
        size_t vlen = 0;
        sl_task_rec_t rec;
        bool hit = false;
        if (s_stored(x, SL_IDS_DB_TASKS, tid, &val, &vlen) == 0 &&
            sl_task_rec_decode(val, vlen, &rec) == 0) {
            hit = ok(&rec, arg);
            sl_task_rec_clear(&rec);
        }
        free(val);
        if (hit) {
            return true;
        }
    }
    return false;
}

static bool s_has_status(const sl_task_rec_t *rec, const void *want)
{
    return strcmp(sl_tstatus_name(rec->status), want) == 0;
}

/* Polls the store until the task record has the given status. */
static void s_wait_stored_status(s_fix_t *x, const char *tid, const char *want)
{
    if (!s_poll_task(x, tid, s_has_status, want)) {
        fail_msg("task %s never stored as %s", tid, want);
    }
}

/* Polls until db/key is stored (pipeline.get can run ahead of the commit
   of fire-and-forget writes). */
static int s_wait_stored(s_fix_t *x, int db, const char *key, uint8_t **out, size_t *outlen)
{
    int rc = SL_ENOTFOUND;
    for (double until = s_mono() + WAIT_S; s_mono() < until; s_pause()) {
        if ((rc = s_stored(x, db, key, out, outlen)) == 0) {
            break;
        }
    }
    return rc;
}

static int s_script_app2_fails(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    if (m->app_number == 2) {
        *err = "connection reset";
        return SL_OUT_TRANSPORT;
    }
    return SL_OUT_SUCCESS;
}

/* Two pipelines on a quiet fleet: done ran app 1 to completed; parked
   (EXISTING_REQ) ended partial_success with its app-2 task dead in the
   DLQ. */
typedef struct {
    char done[SL_PIPELINE_ID_MAX], parked[SL_PIPELINE_ID_MAX];
    char t_done[64], t_dead[64]; /* done's task 0, parked's task 1 */
} s_pair_t;

static void s_run_done_and_parked(s_fix_t *x, s_pair_t *pr)
{
    snprintf(pr->done, sizeof(pr->done), "%s",
             s_run(x, s_script_app2_fails,
                   "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
                   "[{\"model\": \"m\", \"app_number\": 1}]}, \"analysis\": {\"tools\": "
                   "[\"bandit\"]}}"));
    snprintf(pr->parked, sizeof(pr->parked), "%s", s_start(x, EXISTING_REQ));
    s_pview_t v;
    s_wait_status(x, pr->done, "completed", &v);
    s_wait_status(x, pr->parked, "partial_success", &v);
    snprintf(pr->t_done, sizeof(pr->t_done), "%s-t0000", pr->done);
    snprintf(pr->t_dead, sizeof(pr->t_dead), "%s-t0001", pr->parked);
}

/* Polls until db/key has left the store (a purge or eviction commits
   after the clock advance that caused it), then asserts it is gone. */
static void s_wait_gone(s_fix_t *x, int db, const char *key)
{
    for (double u = s_mono() + WAIT_S; s_mono() < u && s_stored(x, db, key, NULL, NULL) == 0;) {
        s_pause();
    }
    assert_int_equal(s_stored(x, db, key, NULL, NULL), SL_ENOTFOUND);
}

static void test_pipeline_retention_keeps_dlq_and_purges_the_rest(void **state)
{
    s_fix_t *x = *state;
    x->cfg.retention_ms = 5000;
    s_pair_t pr;
    s_run_done_and_parked(x, &pr);
    const char *done = pr.done, *parked = pr.parked, *t_done = pr.t_done, *t_dead = pr.t_dead;
    char args[128];
    /* The DLQ entry holds the whole story: both attempts and their errors. */
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(s_wait_stored(x, 6, t_dead, &val, &vlen), 0);
    sl_dlq_rec_t dq;
    assert_int_equal(sl_dlq_rec_decode(val, vlen, &dq), 0);
    assert_int_equal(dq.attempts, 2);
    assert_int_equal(dq.returns, 1);
    assert_int_equal(dq.history.n, 2);
    assert_string_equal(dq.history.v[1].replica, "ws://r2");
    assert_non_null(strstr(dq.history.v[0].error, "connection reset"));
    assert_string_equal(dq.service, "static-analyzer");
    assert_string_equal(dq.history.v[1].last_checkpoint, "ckpt-7"); /* where it got to */
    assert_int_equal(dq.history.v[1].last_pct, 100);
    sl_dlq_rec_clear(&dq);
    free(val);
    assert_int_equal(s_wait_stored(x, 4, t_done, &val, &vlen), 0); /* the raw result */
    assert_non_null(memmem(val, vlen, "analysis_result", 15));
    free(val);

    sl_rt_advance(x->rt, 5000);
    s_wait_gone(x, 1, done);
    assert_int_equal(s_stored(x, 2, t_done, NULL, NULL), SL_ENOTFOUND);
    assert_int_equal(s_stored(x, 4, t_done, NULL, NULL), SL_ENOTFOUND);
    char akey[80];
    snprintf(akey, sizeof(akey), "%s-a01", t_done);
    assert_int_equal(s_stored(x, 3, akey, NULL, NULL), SL_ENOTFOUND);
    s_id_args(args, sizeof(args), "pipeline_id", done);
    s_call_fails(x, "pipeline.get", args, done, NULL);
    /* The one with a parked task stays until the DLQ lets go of it. */
    assert_int_equal(s_stored(x, 1, parked, NULL, NULL), 0);
    s_id_args(args, sizeof(args), "task_id", t_dead);
    s_call_ok(x, "dlq.drop", args, t_dead);
    assert_int_equal(s_stored(x, 6, t_dead, NULL, NULL), SL_ENOTFOUND);
    sl_rt_advance(x->rt, 5000);
    s_wait_gone(x, 1, parked);
}

/* Renames the stored record of pid, so a read-back shows. */
static void s_rename_stored(s_fix_t *x, const char *pid, const char *name)
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(s_wait_stored(x, 1, pid, &val, &vlen), 0);
    sl_pipeline_rec_t rec;
    assert_int_equal(sl_pipeline_rec_decode(val, vlen, &rec), 0);
    free(val);
    free(rec.name);
    rec.name = strdup(name);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_pipeline_rec_encode(&rec, &buf, &len), 0);
    s_put_raw(x, 1, pid, buf, len);
    free(buf);
    sl_pipeline_rec_clear(&rec);
}

/* The name pipeline.get shows for pid. */
static void s_name_of(s_fix_t *x, const char *pid, char *out, size_t cap)
{
    char args[96];
    s_id_args(args, sizeof(args), "pipeline_id", pid);
    size_t n;
    uint8_t *b = s_call(x, "pipeline.get", args, pid, &n);
    assert_true(s_ok(b, n));
    sl_mp_reader_t p;
    assert_int_equal(sl_mp_map_find(b, n, "pipeline", &p), 0);
    s_rd_str(&p, "name", out, cap);
    free(b);
}

/* The name pipeline.list shows for pid ("" when it is not listed); a
   list does not count as asking for a pipeline, so it never keeps one in
   memory. */
static void s_listed_name(s_fix_t *x, const char *pid, char *out, size_t cap)
{
    size_t n;
    uint8_t *b = s_call(x, "pipeline.list", "{}", NULL, &n);
    sl_mp_reader_t l;
    uint32_t np = 0;
    assert_int_equal(sl_mp_map_find(b, n, "pipelines", &l), 0);
    assert_int_equal(sl_mp_read_array(&l, &np), 0);
    out[0] = '\0';
    for (uint32_t i = 0; i < np; i++) {
        const uint8_t *e;
        size_t elen;
        assert_int_equal(sl_mp_read_raw(&l, &e, &elen), 0);
        const char *id, *nm;
        size_t idlen, nmlen;
        if (sl_mp_map_get_str(e, elen, "id", &id, &idlen) == 0 && idlen == strlen(pid) &&
            memcmp(id, pid, idlen) == 0 && sl_mp_map_get_str(e, elen, "name", &nm, &nmlen) == 0 &&
            nmlen < cap) {
            memcpy(out, nm, nmlen);
            out[nmlen] = '\0';
        }
    }
    free(b);
}

/* Polls pipeline.list until it shows pid under want; name holds the last
   listed name (the caller asserts on it). */
static void s_wait_listed_name(s_fix_t *x, const char *pid, const char *want, char *name,
                               size_t cap)
{
    for (double u = s_mono() + WAIT_S; s_mono() < u; s_pause()) {
        s_listed_name(x, pid, name, cap);
        if (strcmp(name, want) == 0) {
            break;
        }
    }
}

/* Finished pipelines leave memory after evict_after_ms (manual clock) and
   are read back from the store for pipeline.get, task.get and
   pipeline.list; one with a task in the DLQ stays until it leaves the
   DLQ. The stored record is renamed behind the shard's back: a read-back
   shows the stored name, memory the old one. */
static void test_pipeline_evicts_finished_and_reads_back(void **state)
{
    s_fix_t *x = *state;
    x->cfg.evict_after_ms = 5000;
    s_pair_t pr;
    s_run_done_and_parked(x, &pr);
    const char *done = pr.done, *parked = pr.parked, *t_done = pr.t_done, *t_dead = pr.t_dead;
    s_pview_t v;
    char args[128], name[64];
    s_wait_stored_status(x, t_done, "succeeded");
    s_wait_stored_status(x, t_dead, "dead");
    s_rename_stored(x, done, "stored copy");
    s_rename_stored(x, parked, "stored copy");
    s_name_of(x, done, name, sizeof(name));
    assert_string_not_equal(name, "stored copy"); /* still in memory */

    sl_rt_advance(x->rt, 5000);
    s_wait_listed_name(x, done, "stored copy", name, sizeof(name));
    assert_string_equal(name, "stored copy"); /* evicted: listed from the store */
    s_name_of(x, done, name, sizeof(name));
    assert_string_equal(name, "stored copy"); /* read back */
    s_view(x, done, &v);
    assert_string_equal(v.status, "completed");
    assert_int_equal(v.succeeded, 1);
    s_listed_name(x, parked, name, sizeof(name));
    assert_string_not_equal(name, "stored copy"); /* its DLQ task kept it */
    assert_int_equal(s_list_count(x, "{}"), 2);

    s_id_args(args, sizeof(args), "task_id", t_dead);
    s_call_ok(x, "dlq.drop", args, t_dead);
    sl_rt_advance(x->rt, 5000);
    s_wait_listed_name(x, parked, "stored copy", name, sizeof(name));
    assert_string_equal(name, "stored copy"); /* the DLQ let go: evicted too */
    s_id_args(args, sizeof(args), "task_id", t_dead);
    s_call_ok(x, "task.get", args, t_dead); /* read back by its task */
    s_name_of(x, parked, name, sizeof(name));
    assert_string_equal(name, "stored copy");
    /* Both listed once (memory and store merged), newest first. */
    assert_int_equal(s_list_count(x, "{}"), 2);
    assert_int_equal(s_list_count(x, "{\"limit\": 1}"), 1);
    assert_int_equal(s_list_count(x, "{\"status\": \"completed\"}"), 1);
    s_id_args(args, sizeof(args), "task_id", t_done);
    s_call_ok(x, "task.get", args, t_done);
    s_call_fails(x, "pipeline.get", "{\"pipeline_id\": \"p00000000000000000\"}", NULL, "not_found");
}

static int s_script_app1_ok(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    return m->app_number == 1 ? SL_OUT_SUCCESS : HOLD;
}

static void test_pipeline_recovery_resumes_without_rerun(void **state)
{
    s_fix_t *x = *state;
    char *pid = s_run(x, s_script_app1_ok, EXISTING_REQ);
    char t0[64], t1[64];
    snprintf(t0, sizeof(t0), "%s-t0000", pid);
    snprintf(t1, sizeof(t1), "%s-t0001", pid);
    s_wait_stored_status(x, t0, "succeeded");
    s_wait_stored_status(x, t1, "queued");
    assert_int_equal(s_nstarts(), 2);
    /* The daemon goes away with task 1 in flight. */
    sl_actor_destroy(&x->shard);
    sl_rt_advance(x->rt, 1000);
    s_spawn_shard(x);
    s_wait_starts(3);
    pthread_mutex_lock(&g_mu);
    /* Only the interrupted task went out again, under the same number. */
    assert_string_equal(g_starts[2].task_id, t1);
    assert_int_equal(g_starts[2].attempt, 1);
    pthread_mutex_unlock(&g_mu);
    s_pview_t v;
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running");
    assert_string_equal(v.tasks[0].status, "succeeded");
    assert_int_equal(v.tasks[1].attempts, 1);
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(s_nstarts(), 3);
}

/* PIPELINE_DRAIN: in_flight and held of the reply. */
static void s_drain(s_fix_t *x, uint64_t *in_flight, uint64_t *held)
{
    sl_pipeline_drain_t m = {.reason = (char *)"test"};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_pipeline_drain_encode(&m, &buf, &len), 0);
    sl_msg_t *reply = s_request(x, g_dest, SL_MSG_PIPELINE_DRAIN, buf, len);
    assert_int_equal(reply->type, SL_MSG_PIPELINE_DRAIN_REPLY);
    sl_pipeline_drain_reply_t r = {0};
    assert_int_equal(sl_pipeline_drain_reply_decode(reply->body, reply->body_len, &r), 0);
    sl_msg_destroy(&reply);
    *in_flight = r.in_flight;
    *held = r.held;
}

/* The stored task record (decoded; caller clears). */
static void s_stored_task(s_fix_t *x, const char *tid, sl_task_rec_t *rec)
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    assert_int_equal(s_stored(x, 2, tid, &val, &vlen), 0);
    assert_int_equal(sl_task_rec_decode(val, vlen, rec), 0);
    free(val);
}

/* App 1's first attempt fails (transport, retried after a backoff); apps 2
   and 3 are held at the endpoint until released; the rest succeed. */
static int s_script_drain(int svc, const sl_attempt_start_t *m, int64_t *app, const char **err)
{
    if (m->app_number == 1 && m->attempt == 1) {
        *err = "connection reset";
        return SL_OUT_TRANSPORT;
    }
    return m->app_number == 2 || m->app_number == 3 ? HOLD : SL_OUT_SUCCESS;
}

static void test_pipeline_drain_holds_back_and_resumes(void **state)
{
    s_fix_t *x = *state;
    /* 5 static tasks, 3 at a time: t0 fails and waits 0..30 s to retry,
       t1 and t2 run, t3 and t4 wait for a slot. */
    char pid[SL_PIPELINE_ID_MAX];
    snprintf(pid, sizeof(pid), "%s",
             s_run(x, s_script_drain,
                   "{\"generation\": {\"mode\": \"existing\", \"existing_apps\": "
                   "[{\"model\": \"m\", \"app_number\": 1}, {\"model\": \"m\", "
                   "\"app_number\": 2}, {\"model\": \"m\", \"app_number\": 3}, {\"model\": "
                   "\"m\", \"app_number\": 4}, {\"model\": \"m\", \"app_number\": 5}]}, "
                   "\"analysis\": {\"tools\": [\"bandit\"], \"options\": "
                   "{\"max_concurrent_tasks\": 3}}, \"retry\": {\"max_attempts\": 3, "
                   "\"initial\": 30, \"max\": 30}}"));
    char tid[5][64];
    for (int i = 0; i < 5; i++) {
        snprintf(tid[i], sizeof(tid[i]), "%s-t%04d", pid, i);
    }
    s_wait_starts(3);
    s_wait_stored_status(x, tid[0], "retry_wait");
    sl_task_rec_t rec;
    s_stored_task(x, tid[0], &rec);
    int64_t retry_at = rec.retry_at_ms;
    sl_task_rec_clear(&rec);
    /* The seeded jitter keeps the retry in the future (else it went out). */
    assert_true(retry_at > sl_clock_wall_ms(x->clock));
    assert_int_equal(s_nstarts(), 3);

    uint64_t in_flight = 0, held = 0;
    s_drain(x, &in_flight, &held);
    assert_int_equal(in_flight, 2); /* t1, t2 */
    assert_int_equal(held, 3);      /* t0 retry_wait, t3 and t4 pending */

    /* The backoff runs out during the drain: t0 keeps waiting. */
    sl_rt_advance(x->rt, 31000);
    s_pview_t v;
    for (double until = s_mono() + 0.2; s_mono() < until;) {
        s_view(x, pid, &v);
        s_pause();
    }
    assert_int_equal(s_nstarts(), 3);
    assert_string_equal(v.tasks[0].status, "retry_wait");

    /* The attempts in flight end: applied and persisted, but their slots
       start nothing. */
    s_release(x, SL_SVC_STATIC, SL_OUT_SUCCESS);
    for (double until = s_mono() + WAIT_S; s_mono() < until && in_flight > 0; s_pause()) {
        s_drain(x, &in_flight, &held); /* asking again only answers */
    }
    assert_int_equal(in_flight, 0);
    assert_int_equal(held, 3);
    s_wait_stored_status(x, tid[1], "succeeded");
    s_wait_stored_status(x, tid[2], "succeeded");
    assert_int_equal(s_wait_stored(x, 4, tid[1], NULL, NULL), 0);
    assert_int_equal(s_wait_stored(x, 4, tid[2], NULL, NULL), 0);
    s_view(x, pid, &v);
    assert_string_equal(v.status, "running");
    assert_int_equal(v.succeeded, 2);
    assert_int_equal(v.running, 0);
    assert_int_equal(v.queued, 3);
    assert_string_equal(v.tasks[3].status, "pending");
    assert_string_equal(v.tasks[4].status, "pending");
    assert_int_equal(s_nstarts(), 3);
    /* What the next start reads: t0 still waits for the same moment. */
    s_wait_stored_status(x, tid[0], "retry_wait");
    s_stored_task(x, tid[0], &rec);
    assert_int_equal(rec.retry_at_ms, retry_at);
    assert_int_equal(rec.attempts, 1);
    sl_task_rec_clear(&rec);
    s_wait_stored_status(x, tid[3], "pending");

    /* Stop and start again on the same store: the held-back tasks go out
       (t0's retry is overdue), the finished ones are not re-run. */
    sl_actor_destroy(&x->shard);
    s_spawn_shard(x);
    sl_rt_advance(x->rt, 1);
    s_wait_status(x, pid, "completed", &v);
    assert_int_equal(s_nstarts(), 6);
    pthread_mutex_lock(&g_mu);
    bool seen[5] = {false};
    for (int i = 3; i < 6; i++) {
        int t = -1;
        for (int k = 0; k < 5; k++) {
            t = strcmp(g_starts[i].task_id, tid[k]) == 0 ? k : t;
        }
        assert_true(t == 0 || t == 3 || t == 4);
        assert_false(seen[t]);
        seen[t] = true;
        assert_int_equal(g_starts[i].attempt, t == 0 ? 2 : 1);
    }
    pthread_mutex_unlock(&g_mu);
    assert_int_equal(v.succeeded, 5);
    assert_int_equal(v.tasks[0].attempts, 2);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(v.tasks[i].attempts, 1);
    }
}

static void test_pipeline_bad_requests_change_nothing(void **state)
{
    s_fix_t *x = *state;
    s_spawn_shard(x);
    char id[SL_PIPELINE_ID_MAX];
    sl_ids_new_pipeline(id, SL_PIPELINE_ID_MAX, 1700000000000LL);
    size_t n;
    char code[32];
    struct {
        const char *op, *args, *target, *code;
    } cases[] = {
        {"pipeline.start", "{\"generation\": {\"models\": []}}", id, "invalid"},
        {"pipeline.start", "{\"generation\": {\"models\": [\"m\"], \"templates\": [\"t\"]}}",
         "not-an-id", "invalid"},
        {"pipeline.get", "{}", NULL, "missing_field"},
        {"pipeline.get", "{\"pipeline_id\": 5}", NULL, "invalid"},
        {"pipeline.get", "{\"pipeline_id\": \"p0000000000000000000\"}", NULL, "not_found"},
        {"task.get", "{\"task_id\": \"p0000000000000000000-t0001\"}", NULL, "not_found"},
        {"task.get", "{\"task_id\": \"garbage\"}", NULL, "not_found"},
        {"dlq.retry", "{\"task_id\": \"x-t99999999999\"}", NULL, "not_found"},
        {"pipeline.explode", "{}", NULL, "unsupported"},
        {"pipeline.list", "{\"status\": \"stuck\"}", NULL, "invalid"},
        {"pipeline.list", "{\"limit\": -1}", NULL, "invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *b = s_call(x, cases[i].op, cases[i].args, cases[i].target, &n);
        assert_false(s_ok(b, n));
        s_err_code(b, n, code, sizeof(code));
        if (strcmp(code, cases[i].code) != 0) {
            fail_msg("%s %s: code %s, wanted %s", cases[i].op, cases[i].args, code, cases[i].code);
        }
        free(b);
    }
    /* Args that are not a map, and a body that is not an API_CALL at all. */
    sl_api_call_t c = {.op = (char *)"pipeline.list", .args = {(uint8_t *)"\x93\x01\x02\x03", 4}};
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_api_call_encode(&c, &buf, &len), 0);
    sl_msg_t *reply = s_request(x, "pipeline.0", SL_MSG_API_CALL, buf, len);
    sl_msg_destroy(&reply);
    assert_int_equal(sl_port_request(x->port, SL_IDS_PIPELINE_PREFIX "0", SL_MSG_API_CALL, "\xc1",
                                     1, 5000, &reply),
                     0);
    sl_msg_destroy(&reply);
    uint8_t *b = s_call(x, "pipeline.list", "{}", NULL, &n);
    assert_true(s_ok(b, n));
    sl_mp_reader_t l;
    uint32_t np = 99;
    assert_int_equal(sl_mp_map_find(b, n, "pipelines", &l), 0);
    assert_int_equal(sl_mp_read_array(&l, &np), 0);
    assert_int_equal(np, 0);
    free(b);
    assert_int_equal(s_nstarts(), 0);
}

static void test_pipeline_list_and_task_get(void **state)
{
    s_fix_t *x = *state;
    char a[SL_PIPELINE_ID_MAX];
    snprintf(a, sizeof(a), "%s", s_run(x, s_script_ok, EXISTING_REQ));
    s_pview_t v;
    s_wait_status(x, a, "completed", &v);
    s_set_script(s_script_hold);
    char *b_id = s_start(x, EXISTING_REQ);
    size_t n;
    uint8_t *b = s_call(x, "pipeline.list", "{\"status\": \"running\"}", NULL, &n);
    sl_mp_reader_t l;
    uint32_t np;
    assert_int_equal(sl_mp_map_find(b, n, "pipelines", &l), 0);
    assert_int_equal(sl_mp_read_array(&l, &np), 0);
    assert_int_equal(np, 1);
    char id[64];
    s_rd_str(&l, "id", id, sizeof(id));
    assert_string_equal(id, b_id);
    free(b);
    assert_int_equal(s_list_count(x, "{\"limit\": 1}"), 1);
    assert_int_equal(s_list_count(x, "{}"), 2);
}

/* Every case runs between s_setup and s_teardown. */
#define S_CASE(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)

int main(void)
{
    sl_log_set_level(SL_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_final_status_every_combination),
        cmocka_unit_test(test_pipeline_ids_and_shards),
        S_CASE(test_pipeline_seed_incident_ends_partial_success),
        S_CASE(test_pipeline_all_succeed_completed),
        S_CASE(test_pipeline_success_warnings_on_the_task),
        S_CASE(test_pipeline_generation_verdict_fails_at_once),
        S_CASE(test_pipeline_generation_failure_counts_against),
        S_CASE(test_pipeline_cancel_mid_run),
        S_CASE(test_pipeline_cancel_one_task),
        S_CASE(test_pipeline_attempt_timeout_explained),
        S_CASE(test_pipeline_attempt_timeout_names_the_profile_key),
        S_CASE(test_pipeline_task_timeout_parks_in_dlq),
        S_CASE(test_pipeline_stage_timeout),
        S_CASE(test_pipeline_pipeline_timeout),
        S_CASE(test_pipeline_dlq_park_retry_third_strike),
        S_CASE(test_pipeline_new_attempt_has_no_old_error),
        S_CASE(test_pipeline_unreachable_app_waits_then_fails),
        S_CASE(test_pipeline_unreachable_app_comes_up),
        S_CASE(test_pipeline_retention_purges_attempt_frames),
        S_CASE(test_pipeline_watchdog_reconciles_lost_finalize),
        S_CASE(test_pipeline_evicts_finished_and_reads_back),
        S_CASE(test_pipeline_recovery_resumes_without_rerun),
        S_CASE(test_pipeline_retention_keeps_dlq_and_purges_the_rest),
        S_CASE(test_pipeline_progress_every_stage_published),
        S_CASE(test_pipeline_interrupted_attempt_is_not_counted),
        S_CASE(test_pipeline_escalation_runs_deep_where_quick_found_issues),
        S_CASE(test_pipeline_escalation_threshold_holds_back),
        S_CASE(test_pipeline_interrupted_attempt_survives_restart),
        S_CASE(test_pipeline_shards_recover_their_own),
        S_CASE(test_pipeline_concurrency_limit),
        S_CASE(test_pipeline_missing_endpoint_parks_tasks),
        S_CASE(test_pipeline_recovery_survives_damaged_records),
        S_CASE(test_pipeline_drain_holds_back_and_resumes),
        S_CASE(test_pipeline_bad_requests_change_nothing),
        S_CASE(test_pipeline_list_and_task_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
