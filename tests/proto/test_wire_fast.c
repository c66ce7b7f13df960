/*  test_wire_fast.c: sl_wire_frame_parse_fast against sl_wire_frame_parse.

    The fast path may decline any frame, but a frame it accepts must come
    out exactly as the slow path reads it (kind, every string field, pct,
    and the verdict of a terminal frame), and it must never accept a frame
    the slow path rejects. Checked on frames shaped like the mock's and the
    fleet's captured frames (tests/data/protocol/), on hostile variants that
    must decline, and on seeded random mutations of all of them.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sl_wire.h"
#include "proto/sl_wire_fast.h"
#include "runtime/sl_err.h"

static const char *const s_seeds[] = {
    "{\"type\": \"static_analysis_result\", \"id\": \"pbench-t00000001-a1\", \"status\": "
    "\"success\", \"service\": \"static-analyzer\", \"analysis\": {\"model_slug\": "
    "\"bench_model\", \"app_number\": 1, \"analysis_time\": \"2026-11-28T22:29:50.375565\", "
    "\"tools_used\": [\"bandit\"], \"configuration_applied\": false, \"results\": {\"python\": "
    "{\"bandit\": {\"tool\": \"bandit\", \"executed\": true, \"status\": \"success\", "
    "\"issues\": [], \"total_issues\": 0, \"issue_count\": 0}}, \"javascript\": {\"status\": "
    "\"no_files\", \"message\": \"No JavaScript/TypeScript files found\"}, \"structure\": "
    "{\"status\": \"success\"}}, \"summary\": {\"total_issues_found\": 0, \"severity_breakdown\": "
    "{\"high\": 0, \"medium\": 0, \"low\": 0}, \"ratio\": -0.25}}, \"timestamp\": "
    "\"2026-11-28T22:29:50.375612\"}",
    "{\"type\": \"static_analysis_result\", \"id\": \"t-a1\", \"status\": \"success\", "
    "\"analysis\": {\"status\": \"error\", \"error\": \"Model path not found for m app3\"}}",
    "{\"type\":\"dynamic_analysis_result\",\"id\":\"t-a2\",\"status\":\"error\",\"message\":"
    "\"Invalid request: no targets\",\"analysis\":null}",
    "{\"type\":\"performance_analysis_result\",\"id\":\"t-a3\",\"status\":\"partial\","
    "\"error\":\"locust timed out\"}",
    "{\"type\":\"ai_analysis_result\",\"id\":\"x\",\"status\":\"targets_unreachable\"}",
    "{\"type\":\"static_analysis_result\",\"id\":\"x\",\"status\":\"weird\"}",
    "{\"type\": \"accepted\", \"id\": \"t-a1\"}",
    "{\"type\": \"heartbeat\", \"id\": \"t-a1\"}",
    "{\"type\": \"heartbeat\"}",
    "{\"type\": \"cancelled\", \"id\": \"t-a1\"}",
    "{\"type\": \"pong\", \"timestamp\": \"2026-11-28T20:54:18.778754\", \"service\": \"s\"}",
    "{\"type\": \"error\", \"id\": \"t-a1\", \"message\": \"Analysis failed: simulated\"}",
    "{\"type\": \"error\", \"error\": \"Template not found\"}",
    "{\"type\": \"progress\", \"id\": \"t-a1\", \"stage\": \"scanning_python\", \"pct\": 42.5, "
    "\"message\": \"Scanning Python files\", \"checkpoint\": \"scanning_python:1\"}",
    "{\"type\": \"progress\", \"id\": \"t-a1\", \"pct\": 100}",
    "{\"type\": \"progress\", \"id\": \"t-a1\", \"pct\": -0}",
    "{\"type\": \"progress\", \"id\": \"t-a1\", \"pct\": 0.1, \"stage\": null}",
    "{\"type\": \"progress\", \"id\": \"t-a1\", \"pct\": 99.99999999999}",
    " \r\n\t{\"type\":\"heartbeat\",\"id\":\"a\",\"extra\":[1,-2,3.5,true,false,null,{},[]]} \n",
};

/* ---- the comparison ------------------------------------------------------ */

static bool s_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The fast frame equals the slow one on every field the fast path fills. */
static bool s_same_frame(const sl_wire_frame_t *f, const sl_wire_frame_t *s)
{
    if (f->kind != s->kind || !s_same_str(f->type, s->type) || !s_same_str(f->id, s->id) ||
        !s_same_str(f->service, s->service) || !s_same_str(f->timestamp, s->timestamp)) {
        return false;
    }
    switch (f->kind) {
    case SL_WIRE_ANALYSIS_RESULT:
        return s_same_str(f->u.result.status, s->u.result.status) &&
               s_same_str(f->u.result.inner_status, s->u.result.inner_status) &&
               s_same_str(f->u.result.inner_error, s->u.result.inner_error) &&
               s_same_str(f->u.result.error, s->u.result.error) && f->u.result.analysis == NULL;
    case SL_WIRE_ERROR:
        return s_same_str(f->u.error.message, s->u.error.message);
    case SL_WIRE_PROGRESS:
        return s_same_str(f->u.progress.stage, s->u.progress.stage) &&
               s_same_str(f->u.progress.message, s->u.progress.message) &&
               s_same_str(f->u.progress.checkpoint, s->u.progress.checkpoint) &&
               f->u.progress.has_pct == s->u.progress.has_pct &&
               memcmp(&f->u.progress.pct, &s->u.progress.pct, sizeof(double)) == 0;
    default:
        return true;
    }
}

/* Runs both parsers; returns whether the fast one accepted. Any accepted
   frame must match the slow one, verdict included. */
static bool s_diff(const char *buf, size_t len)
{
    char arena[4096];
    sl_wire_frame_t f, s;
    int frc = sl_wire_frame_parse_fast(&f, buf, len, arena, sizeof arena);
    int src = sl_wire_frame_parse(&s, buf, len);
    if (frc != 0) {
        assert_int_equal(frc, SL_EUNSUPPORTED);
        assert_int_equal(f.kind, 0);
        assert_null(f.type);
        if (src == 0) {
            sl_wire_frame_clear(&s);
        }
        return false;
    }
    if (src != 0) {
        fprintf(stderr, "fast accepted what the slow path rejects (%s): %.*s\n", sl_err_name(src),
                (int)len, buf);
        fail();
    }
    if (!s_same_frame(&f, &s)) {
        fprintf(stderr, "fields differ: %.*s\n", (int)len, buf);
        fail();
    }
    if (sl_wire_frame_is_terminal(&s)) {
        sl_wire_verdict_t vf, vs;
        assert_int_equal(sl_wire_classify(&f, &vf), 0);
        assert_int_equal(sl_wire_classify(&s, &vs), 0);
        assert_int_equal(vf.outcome, vs.outcome);
        assert_string_equal(vf.error, vs.error);
    }
    sl_wire_frame_clear(&f);
    sl_wire_frame_clear(&s);
    return true;
}

static bool s_diff_str(const char *text)
{
    return s_diff(text, strlen(text));
}

/* ---- cases --------------------------------------------------------------- */

static void test_wire_fast_common_frames(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_seeds / sizeof s_seeds[0]; i++) {
        if (!s_diff_str(s_seeds[i])) {
            fprintf(stderr, "declined: %s\n", s_seeds[i]);
            fail();
        }
    }
    /* spot checks on top of the comparison */
    char arena[512];
    sl_wire_frame_t f;
    assert_int_equal(
        sl_wire_frame_parse_fast(&f, s_seeds[1], strlen(s_seeds[1]), arena, sizeof arena), 0);
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    assert_string_equal(f.u.result.inner_status, "error");
    sl_wire_verdict_t v;
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_VERDICT);
    sl_wire_frame_clear(&f);
}

/* Every frame captured from the fleet: declined or identical. */
static void test_wire_fast_captured_frames(void **state)
{
    (void)state;
    const char *root = getenv("SLUICE_SOURCE_DIR");
    assert_non_null(root);
    const char *files[] = {"basic_frames.json", "analyze_frames.json",
                           "analyze_missing_frames.json"};
    int accepted = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/data/protocol/%s", root, files[i]);
        json_error_t err;
        json_t *recs = json_load_file(path, 0, &err);
        assert_non_null(recs);
        size_t k;
        json_t *rec;
        json_array_foreach(recs, k, rec)
        {
            size_t j;
            json_t *fr;
            json_array_foreach(json_object_get(rec, "frames"), j, fr)
            {
                json_t *frame = json_object_get(fr, "frame");
                if (!json_is_object(frame)) {
                    continue;
                }
                /* both the fleet's separators and the compact form */
                char *a = json_dumps(frame, JSON_PRESERVE_ORDER);
                char *b = json_dumps(frame, JSON_COMPACT | JSON_PRESERVE_ORDER);
                assert_non_null(a);
                assert_non_null(b);
                accepted += s_diff_str(a) ? 1 : 0;
                accepted += s_diff_str(b) ? 1 : 0;
                free(a);
                free(b);
            }
        }
        json_decref(recs);
    }
    assert_true(accepted > 0);
}

/* What the fast path must hand to the slow one. */
static void test_wire_fast_declines(void **state)
{
    (void)state;
    static const char *const hostile[] = {
        "",
        "   ",
        "[]",
        "\"heartbeat\"",
        "{}",
        "{\"type\":\"heartbeat\"} x",
        "{\"type\":\"heartbeat\",}",
        "{\"type\":\"heartbeat\" \"id\":\"a\"}",
        "{\"type\":\"heartbeat\",\"type\":\"heartbeat\"}",
        "{\"type\":\"heartbeat\",\"x\":{\"a\":1,\"a\":2}}",
        "{\"type\":\"heartbeat\",\"x\":\"\\u0041\"}",
        "{\"type\":\"heartbeat\",\"x\":\"\\u0000\"}",
        "{\"type\":\"heartbeat\",\"x\":\"caf\xc3\xa9\"}",
        "{\"type\":\"heartbeat\",\"x\":\"bad \xff\"}",
        "{\"type\":\"heartbeat\",\"x\":\"tab\there\"}",
        "{\"type\":\"heartbeat\",\"x\":\"\\q\"}",
        "{\"type\":\"heartbeat\",\"x\":1e5}",
        "{\"type\":\"heartbeat\",\"x\":1234567890123456}",
        "{\"type\":\"heartbeat\",\"x\":99999999999999999999999}",
        "{\"type\":\"heartbeat\",\"x\":01}",
        "{\"type\":\"heartbeat\",\"x\":1.}",
        "{\"type\":\"heartbeat\",\"x\":-}",
        "{\"type\":\"heartbeat\",\"x\":truex}",
        "{\"type\":\"heartbeat\",\"x\":nul}",
        "{\"type\":\"heart\\u0062eat\"}",
        "{\"type\":\"heart\\nbeat\"}",
        "{\"t\\u0079pe\":\"heartbeat\"}",
        "{\"ty\\npe\":\"heartbeat\"}",
        "{\"type\":\"heartbeat\",\"id\":\"a\\\"b\"}",
        "{\"type\":\"heartbeat\",\"id\":7}",
        "{\"type\":\"accepted\"}",
        "{\"type\":\"progress\",\"id\":\"a\",\"pct\":\"50\"}",
        "{\"type\":\"progress\",\"id\":\"a\",\"stage\":3}",
        "{\"type\":\"static_analysis_result\",\"id\":\"a\"}",
        "{\"type\":\"static_analysis_result\",\"id\":\"a\",\"status\":null}",
        "{\"type\":\"static_analysis_result\",\"id\":\"a\",\"status\":\"success\",\"analysis\":[]}",
        "{\"type\":\"static_analysis_result\",\"id\":\"a\",\"status\":\"error\",\"error\":{"
        "\"message\":\"boom\"}}",
        "{\"type\":\"_analysis_result\",\"status\":\"success\"}",
        "{\"type\":\"generation_result\",\"status\":\"success\",\"app_number\":3}",
        "{\"type\":\"status_update\",\"stage\":\"started\"}",
        "{\"type\":\"progress_update\",\"correlation_id\":\"a\"}",
        "{\"type\":\"nothing_we_know\"}",
        "{\"type\":7}",
        "{\"type\":\"heartbeat\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        if (s_diff_str(hostile[i])) {
            fprintf(stderr, "accepted: %s\n", hostile[i]);
            fail();
        }
    }
    /* an embedded NUL (the length says there is more) */
    static const char nul[] = "{\"type\":\"heartbeat\"}\0";
    assert_false(s_diff(nul, sizeof nul - 1));
    /* an arena too small for the strings: declined, not truncated */
    char tiny[8];
    sl_wire_frame_t f;
    assert_int_equal(
        sl_wire_frame_parse_fast(&f, s_seeds[0], strlen(s_seeds[0]), tiny, sizeof tiny),
        SL_EUNSUPPORTED);
    assert_int_equal(sl_wire_frame_parse_fast(NULL, "{}", 2, tiny, sizeof tiny), SL_EINVAL);
    assert_int_equal(sl_wire_frame_parse_fast(&f, "{}", 2, NULL, 0), SL_EINVAL);
}

/* Seeded mutations of every seed: structural bytes, deletions, duplicated
   spans. Whatever the fast path accepts, the slow path reads the same. */
static void test_wire_fast_mutations(void **state)
{
    (void)state;
    static const char alphabet[] = "{}[]\":,\\ \t0123456789-.eEtrufalsn\x01\x7f\xc3\xa9xyz";
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char buf[2048];
    int accepted = 0, runs = 0;
    for (size_t i = 0; i < sizeof s_seeds / sizeof s_seeds[0]; i++) {
        size_t slen = strlen(s_seeds[i]);
        for (int r = 0; r < 6000; r++) {
            memcpy(buf, s_seeds[i], slen);
            size_t len = slen;
            int edits = 1 + (int)(rng % 3);
            for (int e = 0; e < edits && len > 2; e++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                size_t pos = (size_t)(rng >> 8) % len;
                switch ((rng >> 40) % 4) {
                case 0: /* replace */
                    buf[pos] = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
                    break;
                case 1: /* delete */
                    memmove(buf + pos, buf + pos + 1, len - pos - 1);
                    len--;
                    break;
                case 2: /* insert */
                    if (len + 1 < sizeof buf) {
                        memmove(buf + pos + 1, buf + pos, len - pos);
                        buf[pos] = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
                        len++;
                    }
                    break;
                default: { /* duplicate a span (duplicate keys, doubled values) */
                    size_t span = 1 + (size_t)(rng >> 50) % 24;
                    if (pos + span <= len && len + span < sizeof buf) {
                        memmove(buf + pos + span, buf + pos, len - pos);
                        len += span;
                    }
                    break;
                }
                }
            }
            accepted += s_diff(buf, len) ? 1 : 0;
            runs++;
        }
    }
    /* the mutations must exercise both outcomes */
    assert_true(accepted > runs / 50);
    assert_true(accepted < runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_fast_common_frames),
        cmocka_unit_test(test_wire_fast_captured_frames),
        cmocka_unit_test(test_wire_fast_declines),
        cmocka_unit_test(test_wire_fast_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
