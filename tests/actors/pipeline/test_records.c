/*  test_records.c: the stored records round trip, and hostile bytes from
    disk are refused without a crash or a leak (actors/pipeline/sl_records.h).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline/sl_plan.h"
#include "actors/pipeline/sl_records.h"
#include "tests/actors/pipeline/rec_testutil.h"

static void s_fill_attempt(sl_attempt_rec_t *a, uint32_t n)
{
    memset(a, 0, sizeof(*a));
    a->attempt = n;
    a->replica = strdup("ws://static-2:2051");
    a->started_ms = 1000 * n;
    a->ended_ms = 1000 * n + 500;
    a->outcome = 5;
    a->error = strdup("transport: closed before result");
    a->last_stage = strdup("bandit");
    a->last_pct = 40;
    a->last_message = strdup("running bandit");
    a->last_checkpoint = strdup("tool:bandit:done");
}

static void test_records_task_round_trip(void **state)
{
    sl_task_rec_t t = {0};
    t.id = strdup("p0193f1c2a4b7c01a2f-t0007");
    t.pipeline_id = strdup("p0193f1c2a4b7c01a2f");
    t.index = 7;
    t.kind = SL_TK_ANALYSIS;
    t.service = SL_SVC_DYNAMIC;
    t.status = SL_TS_RETRY_WAIT;
    t.model = strdup("google_gemini");
    t.template_slug = strdup("api_weather_display");
    t.app_number = 30;
    t.attempts = 2;
    t.attempt_base = 0;
    t.dlq_returns = 1;
    t.in_dlq = false;
    t.redispatch = true;
    t.timeout_permille = 1500;
    t.outcome = 5;
    t.created_ms = 1700000000000;
    t.updated_ms = 1700000001000;
    t.deadline_ms = 1700003600000;
    t.retry_at_ms = 1700000003000;
    t.error = strdup("transport: event loop error");
    t.progress_stage = strdup("zap");
    t.progress_pct = 12;
    t.progress_message = strdup("spidering");
    sl_strs_push(&t.exclude, "ws://dyn-1:2002");
    sl_strs_push(&t.exclude, "ws://dyn-2:2053");
    t.history.v = calloc(2, sizeof(*t.history.v));
    t.history.n = 2;
    s_fill_attempt(&t.history.v[0], 1);
    s_fill_attempt(&t.history.v[1], 2);

    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_task_rec_encode(&t, &buf, &len), 0);
    sl_task_rec_t d;
    assert_int_equal(sl_task_rec_decode(buf, len, &d), 0);
    assert_string_equal(d.id, t.id);
    assert_string_equal(d.pipeline_id, t.pipeline_id);
    assert_int_equal(d.index, 7);
    assert_int_equal(d.kind, SL_TK_ANALYSIS);
    assert_int_equal(d.service, SL_SVC_DYNAMIC);
    assert_int_equal(d.status, SL_TS_RETRY_WAIT);
    assert_string_equal(d.model, "google_gemini");
    assert_string_equal(d.template_slug, "api_weather_display");
    assert_int_equal(d.app_number, 30);
    assert_int_equal(d.attempts, 2);
    assert_int_equal(d.dlq_returns, 1);
    assert_true(d.redispatch);
    assert_int_equal(d.timeout_permille, 1500);
    assert_int_equal(d.deadline_ms, t.deadline_ms);
    assert_int_equal(d.retry_at_ms, t.retry_at_ms);
    assert_string_equal(d.error, t.error);
    assert_string_equal(d.progress_stage, "zap");
    assert_int_equal(d.progress_pct, 12);
    assert_int_equal(d.exclude.n, 2);
    assert_string_equal(d.exclude.v[1], "ws://dyn-2:2053");
    assert_int_equal(d.history.n, 2);
    assert_int_equal(d.history.v[1].attempt, 2);
    assert_string_equal(d.history.v[1].replica, "ws://static-2:2051");
    assert_int_equal(d.history.v[1].ended_ms, 2500);
    assert_int_equal(d.history.v[1].outcome, 5);
    assert_string_equal(d.history.v[1].last_message, "running bandit");
    assert_string_equal(d.history.v[1].last_checkpoint, "tool:bandit:done");
    assert_int_equal(d.history.v[1].last_pct, 40);

    /* Every truncation of a valid record is refused, never read past. */
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        sl_task_rec_t x;
        assert_true(sl_task_rec_decode(part, cut, &x) < 0);
        assert_null(x.id);
        free(part);
    }
    free(buf);
    sl_task_rec_clear(&d);
    sl_task_rec_clear(&t);
}

static void test_records_pipeline_round_trip(void **state)
{
    sl_pipeline_rec_t p = {0};
    p.id = strdup("p0193f1c2a4b7c01a2f");
    p.name = strdup("nightly");
    p.status = SL_PS_PARTIAL;
    p.stage = SL_STAGE_DONE;
    p.user_cancelled = false;
    p.created_ms = 1;
    p.completed_ms = 99;
    p.error = strdup("4/12 tasks succeeded");
    p.ntasks = 15;
    p.max_attempts = 3;
    p.backoff_coefficient = 2.5;
    p.task_timeout_ms = 3600000;
    sl_bytes_set(&p.request, "\x81\xa1x", 3);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_pipeline_rec_encode(&p, &buf, &len), 0);
    sl_pipeline_rec_t d;
    assert_int_equal(sl_pipeline_rec_decode(buf, len, &d), 0);
    assert_string_equal(d.id, p.id);
    assert_string_equal(d.name, "nightly");
    assert_int_equal(d.status, SL_PS_PARTIAL);
    assert_int_equal(d.stage, SL_STAGE_DONE);
    assert_int_equal(d.completed_ms, 99);
    assert_int_equal(d.ntasks, 15);
    assert_true(d.backoff_coefficient == 2.5);
    assert_int_equal(d.request.len, 3);
    assert_memory_equal(d.request.ptr, "\x81\xa1x", 3);
    free(buf);
    sl_pipeline_rec_clear(&d);
    sl_pipeline_rec_clear(&p);
}

static void test_records_attempt_and_dlq_round_trip(void **state)
{
    sl_attempt_rec_t a;
    s_fill_attempt(&a, 3);
    a.task_id = strdup("p0193f1c2a4b7c01a2f-t0002");
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_attempt_rec_encode(&a, &buf, &len), 0);
    sl_attempt_rec_t da;
    assert_int_equal(sl_attempt_rec_decode(buf, len, &da), 0);
    assert_string_equal(da.task_id, a.task_id);
    assert_int_equal(da.attempt, 3);
    assert_string_equal(da.error, a.error);
    free(buf);
    sl_attempt_rec_t copy;
    assert_int_equal(sl_attempt_rec_copy(&copy, &da), 0);
    assert_string_equal(copy.replica, da.replica);
    sl_attempt_rec_clear(&copy);
    sl_attempt_rec_clear(&da);

    char key[64];
    assert_int_equal(sl_attempt_key(key, sizeof(key), a.task_id, 3), 0);
    assert_string_equal(key, "p0193f1c2a4b7c01a2f-t0002-a03");
    assert_int_equal(sl_attempt_key(key, 8, a.task_id, 3), SL_ETOOBIG);

    sl_dlq_rec_t q = {0};
    q.task_id = strdup(a.task_id);
    q.pipeline_id = strdup("p0193f1c2a4b7c01a2f");
    q.service = strdup("dynamic-analyzer");
    q.attempts = 3;
    q.returns = 2;
    q.parked_ms = 77;
    q.error = strdup("exhausted");
    q.history.v = calloc(1, sizeof(*q.history.v));
    q.history.n = 1;
    q.history.v[0] = a;
    assert_int_equal(sl_dlq_rec_encode(&q, &buf, &len), 0);
    sl_dlq_rec_t dq;
    assert_int_equal(sl_dlq_rec_decode(buf, len, &dq), 0);
    assert_string_equal(dq.service, "dynamic-analyzer");
    assert_int_equal(dq.returns, 2);
    assert_int_equal(dq.parked_ms, 77);
    assert_int_equal(dq.history.n, 1);
    assert_string_equal(dq.history.v[0].last_stage, "bandit");
    free(buf);
    sl_dlq_rec_clear(&dq);
    sl_dlq_rec_clear(&q); /* also frees a's strings (moved into q) */
}

/* Opens a pipeline record map of n keys whose first three are id "p1",
   status and stage. */
static void s_rec_head(sl_mp_writer_t *w, uint32_t n, const char *status, const char *stage)
{
    sl_mp_write_map(w, n);
    sl_mp_kv_str(w, "id", "p1");
    sl_mp_kv_str(w, "status", status);
    sl_mp_kv_str(w, "stage", stage);
}

static void test_records_refuse_hostile_values(void **state)
{
    /* Hand-built maps: {"id": 5}, unknown status, a key twice, trailing
       bytes, a non-map, a negative u32, a giant declared array. */
    const struct {
        const char *what;
        const uint8_t *b;
        size_t n;
    } cases[] = {
        {"id not a string", (const uint8_t *)"\x81\xa2id\x05", 5},
        {"not a map", (const uint8_t *)"\x93\x01\x02\x03", 4},
        {"missing id", (const uint8_t *)"\x80", 1},
        {"trailing", (const uint8_t *)"\x80\x80", 2},
        {"giant array", (const uint8_t *)"\x81\xa7history\xdd\xff\xff\xff\xff", 14},
        {"0xc1", (const uint8_t *)"\xc1", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_task_rec_t t;
        sl_pipeline_rec_t p;
        sl_dlq_rec_t q;
        sl_attempt_rec_t a;
        assert_true(sl_task_rec_decode(cases[i].b, cases[i].n, &t) < 0);
        assert_true(sl_pipeline_rec_decode(cases[i].b, cases[i].n, &p) < 0);
        assert_true(sl_dlq_rec_decode(cases[i].b, cases[i].n, &q) < 0);
        if (i != 2) { /* an attempt has no required id */
            assert_true(sl_attempt_rec_decode(cases[i].b, cases[i].n, &a) < 0);
        }
    }
    /* A known status name is required, a wrong one is refused. */
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    s_rec_head(&w, 3, "exploded", "done");
    sl_pipeline_rec_t p;
    assert_int_equal(sl_pipeline_rec_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &p),
                     SL_EPROTO);
    sl_mp_writer_reset(&w);
    s_rec_head(&w, 4, "running", "done");
    sl_mp_kv_str(&w, "id", "p2");
    assert_int_equal(sl_pipeline_rec_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &p),
                     SL_EPROTO);
    /* Unknown keys from a newer writer are skipped. */
    sl_mp_writer_reset(&w);
    s_rec_head(&w, 4, "running", "analysis");
    sl_mp_write_str(&w, "future");
    sl_mp_write_array(&w, 1);
    sl_mp_write_map(&w, 0);
    assert_int_equal(sl_pipeline_rec_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &p), 0);
    assert_int_equal(p.status, SL_PS_RUNNING);
    sl_pipeline_rec_clear(&p);
    /* A task record written before `redispatch` existed reads as false. */
    sl_mp_writer_reset(&w);
    sl_mp_write_map(&w, 7);
    sl_mp_kv_str(&w, "id", "p1-t0000");
    sl_mp_kv_str(&w, "pipeline_id", "p1");
    sl_mp_kv_uint(&w, "index", 0);
    sl_mp_kv_str(&w, "kind", "analysis");
    sl_mp_kv_str(&w, "service", "static-analyzer");
    sl_mp_kv_str(&w, "status", "retry_wait");
    sl_mp_kv_uint(&w, "attempts", 1);
    sl_task_rec_t t;
    assert_int_equal(sl_task_rec_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &t), 0);
    assert_int_equal(t.attempts, 1);
    assert_false(t.redispatch);
    sl_task_rec_clear(&t);
    sl_mp_writer_fini(&w);
}

/* Every declared field of every record survives encode and decode. */
static void test_records_every_field_round_trips(void **state)
{
    const sl_msg_desc_t *descs[] = {sl_attempt_rec_desc(), sl_task_rec_desc(),
                                    sl_pipeline_rec_desc(), sl_dlq_rec_desc()};
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        const sl_msg_desc_t *d = descs[i];
        rec_fill_reset();
        void *in = calloc(1, d->size), *out = calloc(1, d->size);
        rec_fill(d, in);
        uint8_t *buf = NULL;
        size_t len = 0;
        assert_int_equal(sl_codec_encode(d, in, &buf, &len), 0);
        assert_int_equal(sl_codec_decode(d, buf, len, out), 0);
        rec_assert_same(d, in, out, d->name);
        /* And a deep copy carries every field too. */
        void *copy = calloc(1, d->size);
        assert_int_equal(sl_codec_copy(d, copy, out), 0);
        rec_assert_same(d, in, copy, d->name);
        sl_codec_clear(d, copy);
        sl_codec_clear(d, out);
        sl_codec_clear(d, in);
        free(buf);
        free(copy);
        free(out);
        free(in);
    }
}

/* Absent fields read as their declared defaults; long values are cut, not
   refused, so a record we keep is always one we can write. */
static void test_records_defaults_and_truncation(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_uint(&w, "attempt", 2);
    sl_attempt_rec_t a;
    assert_int_equal(sl_attempt_rec_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &a), 0);
    assert_int_equal(a.outcome, -1);
    assert_int_equal(a.last_pct, -1);
    sl_attempt_rec_clear(&a);
    sl_mp_writer_fini(&w);

    sl_task_rec_t t;
    sl_task_rec_init(&t);
    assert_int_equal(t.app_number, -1);
    assert_int_equal(t.timeout_permille, 1000);
    t.id = strdup("p1-t0000");
    t.pipeline_id = strdup("p1");
    t.error = calloc(1, SL_REC_MAX_STR + 100);
    memset(t.error, 'e', SL_REC_MAX_STR + 99);
    for (unsigned i = 0; i < SL_REC_MAX_EXCLUDE + 3; i++) {
        char r[32];
        snprintf(r, sizeof r, "ws://r%u", i);
        sl_strs_push(&t.exclude, r);
    }
    t.history.n = SL_REC_MAX_HISTORY + 2;
    t.history.v = calloc(t.history.n, sizeof(*t.history.v));
    for (size_t i = 0; i < t.history.n; i++) {
        sl_attempt_rec_init(&t.history.v[i]);
        t.history.v[i].attempt = (uint32_t)i + 1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_task_rec_encode(&t, &buf, &len), 0);
    sl_task_rec_t d;
    assert_int_equal(sl_task_rec_decode(buf, len, &d), 0);
    assert_int_equal(strlen(d.error), SL_REC_MAX_STR);
    assert_int_equal(d.exclude.n, SL_REC_MAX_EXCLUDE);
    assert_string_equal(d.exclude.v[0], "ws://r0"); /* the first replicas stay */
    assert_int_equal(d.history.n, SL_REC_MAX_HISTORY);
    assert_int_equal(d.history.v[0].attempt, 3); /* the newest attempts stay */
    free(buf);
    sl_task_rec_clear(&d);
    sl_task_rec_clear(&t);

    /* The stored request is never cut: too big is refused. */
    sl_pipeline_rec_t p;
    sl_pipeline_rec_init(&p);
    p.id = strdup("p1");
    uint8_t *big = calloc(1, SL_REC_MAX_REQUEST + 1);
    sl_bytes_set(&p.request, big, SL_REC_MAX_REQUEST + 1);
    free(big);
    assert_int_equal(sl_pipeline_rec_encode(&p, &buf, &len), SL_ETOOBIG);
    sl_pipeline_rec_clear(&p);
}

static void test_records_names(void **state)
{
    assert_string_equal(sl_pstatus_name(SL_PS_PARTIAL), "partial_success");
    assert_string_equal(sl_tstatus_name(SL_TS_RETRY_WAIT), "retry_wait");
    assert_string_equal(sl_tstatus_name(99), "unknown");
    assert_int_equal(sl_tstatus_parse("dead", 4), SL_TS_DEAD);
    assert_int_equal(sl_pstatus_parse("stuck", 5), SL_ENOTFOUND);
    assert_true(sl_tstatus_terminal(SL_TS_DEAD));
    assert_false(sl_tstatus_terminal(SL_TS_RETRY_WAIT));
    assert_true(sl_pstatus_terminal(SL_PS_CANCELLED));
    assert_false(sl_pstatus_terminal(SL_PS_RUNNING));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_task_round_trip),
        cmocka_unit_test(test_records_pipeline_round_trip),
        cmocka_unit_test(test_records_attempt_and_dlq_round_trip),
        cmocka_unit_test(test_records_refuse_hostile_values),
        cmocka_unit_test(test_records_every_field_round_trips),
        cmocka_unit_test(test_records_defaults_and_truncation),
        cmocka_unit_test(test_records_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
