/*  test_wire.c: the analyzers' JSON frames (proto/sl_wire.h).

    Single-threaded cmocka program. Every frame captured from the real fleet
    (tests/data/protocol/) must parse to the right kind and fields, requests
    built from the captured "sent" fields must equal the captured ones (value
    and key order), every status must classify as the rule table says, and
    hostile bytes must come back as errors, never as a crash.
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

/* ---- helpers ------------------------------------------------------------ */

static char *s_data_path(const char *name)
{
    const char *root = getenv("SLUICE_SOURCE_DIR");
    assert_non_null(root);
    size_t n = strlen(root) + strlen(name) + 32;
    char *path = malloc(n);
    assert_non_null(path);
    snprintf(path, n, "%s/tests/data/protocol/%s", root, name);
    return path;
}

static char *s_read_file(const char *name, size_t *len)
{
    char *path = s_data_path(name);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    free(path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_true(size > 0);
    rewind(fp);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

static json_t *s_load_json(const char *name)
{
    size_t len;
    char *text = s_read_file(name, &len);
    json_error_t err;
    json_t *root = json_loadb(text, len, 0, &err);
    free(text);
    assert_non_null(root);
    return root;
}

/* Dumps a captured frame back to text and parses it like a received frame. */
static void s_parse_json(sl_wire_frame_t *f, const json_t *frame)
{
    char *text = json_dumps(frame, JSON_COMPACT);
    assert_non_null(text);
    int rc = sl_wire_frame_parse(f, text, strlen(text));
    free(text);
    assert_int_equal(rc, 0);
}

static int s_parse_str(sl_wire_frame_t *f, const char *text)
{
    return sl_wire_frame_parse(f, text, strlen(text));
}

/* Equal values AND the same key order at the top level. */
static void s_assert_same_json(const char *built, const json_t *expected)
{
    json_error_t err;
    json_t *got = json_loads(built, 0, &err);
    assert_non_null(got);
    assert_true(json_equal(got, expected));
    void *a = json_object_iter(got);
    void *b = json_object_iter((json_t *)expected);
    while (a && b) {
        assert_string_equal(json_object_iter_key(a), json_object_iter_key(b));
        a = json_object_iter_next(got, a);
        b = json_object_iter_next((json_t *)expected, b);
    }
    assert_null(a);
    assert_null(b);
    json_decref(got);
}

/* Like s_assert_same_json for every key but the skipped ones (values the
   fleet's client fills its own way: its local-time timestamp, a
   source_path every service ignores). */
static void s_assert_same_json_but(const char *built, const json_t *expected,
                                   const char *const *skip)
{
    json_error_t err;
    json_t *got = json_loads(built, 0, &err);
    assert_non_null(got);
    json_t *want = json_deep_copy(expected);
    for (const char *const *k = skip; *k; k++) {
        json_object_del(got, *k);
        json_object_del(want, *k);
    }
    char *text = json_dumps(got, JSON_COMPACT);
    if (!json_equal(got, want)) {
        char *w = json_dumps(want, JSON_COMPACT);
        fail_msg("built %s\nwant  %s", text, w);
    }
    s_assert_same_json(text, want);
    free(text);
    json_decref(got);
    json_decref(want);
}

/* Wall ms from "YYYY-MM-DDTHH:MM:SS+00:00", computed independently of the
   code under test (day counting by brute force). */
static int64_t s_wall_ms(const char *iso)
{
    int y, mo, d, h, mi, s;
    assert_int_equal(sscanf(iso, "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s), 6);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = 0;
    for (int yy = 1970; yy < y; yy++) {
        days += (yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)) ? 366 : 365;
    }
    for (int m = 1; m < mo; m++) {
        days += mdays[m - 1];
        if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
            days++;
        }
    }
    days += d - 1;
    return ((days * 86400) + h * 3600 + mi * 60 + s) * 1000;
}

/* Points out at the strings of arr (at most cap) and returns how many. */
static size_t s_strings(const json_t *arr, const char **out, size_t cap)
{
    size_t n = json_array_size(arr);
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        out[i] = json_string_value(json_array_get(arr, i));
    }
    return n;
}

/* Builds the request the way the endpoint would, from a captured "sent":
   what the pipeline hands the endpoint (target URLs, template, ports, the
   service's options) read back from the frame. */
static char *s_build_from_sent(const json_t *sent)
{
    sl_wire_analyze_req_t req = {0};
    sl_wire_frame_t f;
    s_parse_json(&f, sent);
    assert_int_equal(f.kind, SL_WIRE_ANALYZE_REQUEST);
    req.analysis = f.u.analyze.analysis;
    req.model_slug = f.u.analyze.model_slug;
    req.app_number = f.u.analyze.app_number;
    req.id = f.id;
    req.wall_ms = f.timestamp ? s_wall_ms(f.timestamp) : -1;
    const char *tools[16], *urls[16];
    if (f.u.analyze.tools) {
        req.tools_count = s_strings(f.u.analyze.tools, tools, 16);
        req.tools = tools;
    }
    if (f.u.analyze.target_urls) {
        req.target_urls_count = s_strings(f.u.analyze.target_urls, urls, 16);
        req.target_urls = urls;
    }
    req.template_slug = f.u.analyze.template_slug;
    json_t *options = f.u.analyze.config ? json_deep_copy(f.u.analyze.config) : json_object();
    json_object_del(options, "template_slug");
    if (req.analysis == SL_SVC_AI) {
        const json_t *c = f.u.analyze.config;
        req.backend_port = json_integer_value(json_object_get(c, "backend_port"));
        req.frontend_port = json_integer_value(json_object_get(c, "frontend_port"));
        json_object_del(options, "backend_port");
        json_object_del(options, "frontend_port");
    }
    if (f.u.analyze.has_users) {
        json_object_set_new(options, "users", json_integer(f.u.analyze.users));
    }
    if (f.u.analyze.has_duration) {
        json_object_set_new(options, "duration", json_integer(f.u.analyze.duration));
    }
    req.options = options;
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sl_wire_build_analyze(&req, &out, &len), 0);
    assert_int_equal(len, strlen(out));
    json_decref(options);
    sl_wire_frame_clear(&f);
    return out;
}

/* ---- captured frames ---------------------------------------------------- */

static void test_wire_analyze_capture_parses(void **state)
{
    (void)state;
    json_t *records = s_load_json("analyze_frames.json");
    assert_true(json_array_size(records) >= 1);
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        const char *sent_id =
            json_string_value(json_object_get(json_object_get(rec, "sent"), "id"));
        json_t *frames = json_object_get(rec, "frames");
        assert_int_equal(json_array_size(frames), 2);

        sl_wire_frame_t f;
        s_parse_json(&f, json_object_get(json_array_get(frames, 0), "frame"));
        assert_int_equal(f.kind, SL_WIRE_STATUS_UPDATE);
        assert_string_equal(f.u.status_update.stage, "started");
        assert_string_equal(f.u.status_update.analysis_id, sent_id);
        assert_non_null(strstr(f.u.status_update.message, "Starting static analysis"));
        sl_wire_verdict_t v;
        assert_int_equal(sl_wire_classify(&f, &v), SL_EINVAL);
        sl_wire_frame_clear(&f);

        s_parse_json(&f, json_object_get(json_array_get(frames, 1), "frame"));
        assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
        assert_string_equal(f.type, "static_analysis_result");
        assert_string_equal(f.u.result.status, "success");
        assert_string_equal(f.service, "static-analyzer");
        assert_non_null(f.u.result.analysis);
        assert_null(f.u.result.inner_status);
        assert_null(f.id);
        assert_string_equal(f.timestamp, "2026-11-28T20:54:30.185113");
        assert_int_equal(json_integer_value(json_object_get(f.u.result.analysis, "app_number")), 1);
        assert_int_equal(sl_wire_classify(&f, &v), 0);
        assert_int_equal(v.outcome, SL_OUT_SUCCESS);
        assert_string_equal(v.error, "");
        sl_wire_frame_clear(&f);
    }
    json_decref(records);
}

static void test_wire_missing_app_is_verdict(void **state)
{
    (void)state;
    json_t *records = s_load_json("analyze_missing_frames.json");
    json_t *frames = json_object_get(json_array_get(records, 0), "frames");
    sl_wire_frame_t f;
    s_parse_json(&f, json_object_get(json_array_get(frames, 0), "frame"));
    assert_int_equal(f.kind, SL_WIRE_STATUS_UPDATE);
    assert_string_equal(f.u.status_update.analysis_id, "x1");
    sl_wire_frame_clear(&f);

    s_parse_json(&f, json_object_get(json_array_get(frames, 1), "frame"));
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    assert_string_equal(f.u.result.status, "success");
    assert_string_equal(f.u.result.inner_status, "error");
    assert_non_null(strstr(f.u.result.inner_error, "Model path not found"));
    sl_wire_verdict_t v;
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_VERDICT);
    assert_false(sl_outcome_retryable(v.outcome));
    assert_false(sl_outcome_replica_fault(v.outcome));
    assert_non_null(strstr(v.error, "Model path not found for no_such_model app7"));
    sl_wire_frame_clear(&f);
    json_decref(records);
}

static void test_wire_basic_capture_parses(void **state)
{
    (void)state;
    json_t *records = s_load_json("basic_frames.json");
    assert_int_equal(json_array_size(records), 4);
    sl_wire_frame_t f;
    sl_wire_verdict_t v;

    s_parse_json(
        &f, json_object_get(
                json_array_get(json_object_get(json_array_get(records, 0), "frames"), 0), "frame"));
    assert_int_equal(f.kind, SL_WIRE_PONG);
    assert_string_equal(f.service, "static-analyzer");
    assert_non_null(f.timestamp);
    sl_wire_frame_clear(&f);

    s_parse_json(
        &f, json_object_get(
                json_array_get(json_object_get(json_array_get(records, 1), "frames"), 0), "frame"));
    assert_int_equal(f.kind, SL_WIRE_HEALTH_RESPONSE);
    assert_string_equal(f.u.health.status, "healthy");
    assert_int_equal(json_array_size(f.u.health.available_tools), 4);
    assert_string_equal(json_string_value(json_array_get(f.u.health.available_tools, 3)),
                        "npm-audit");
    sl_wire_frame_clear(&f);

    /* protocol errors blame the replica (or us), never the app */
    for (size_t r = 2; r < 4; r++) {
        s_parse_json(
            &f,
            json_object_get(
                json_array_get(json_object_get(json_array_get(records, r), "frames"), 0), "frame"));
        assert_int_equal(f.kind, SL_WIRE_ERROR);
        assert_non_null(f.u.error.message);
        assert_int_equal(sl_wire_classify(&f, &v), 0);
        assert_int_equal(v.outcome, SL_OUT_ERROR);
        assert_string_equal(v.error, f.u.error.message);
        sl_wire_frame_clear(&f);
    }

    /* the requests the capture sent parse as control frames */
    s_parse_json(&f, json_object_get(json_array_get(records, 0), "sent"));
    assert_int_equal(f.kind, SL_WIRE_PING);
    assert_string_equal(f.id, "p1");
    sl_wire_frame_clear(&f);
    s_parse_json(&f, json_object_get(json_array_get(records, 1), "sent"));
    assert_int_equal(f.kind, SL_WIRE_HEALTH_CHECK);
    sl_wire_frame_clear(&f);
    s_parse_json(&f, json_object_get(json_array_get(records, 2), "sent"));
    assert_int_equal(f.kind, SL_WIRE_UNKNOWN);
    assert_string_equal(f.type, "server_status");
    assert_string_equal(f.id, "s1");
    sl_wire_frame_clear(&f);
    json_decref(records);
}

static void test_wire_progress_capture_parses(void **state)
{
    (void)state;
    size_t len;
    char *text = s_read_file("progress_capture.jsonl", &len);
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t err;
        json_t *rec = json_loads(line, 0, &err);
        assert_non_null(rec);
        json_t *frame = json_object_get(rec, "frame");
        sl_wire_frame_t f;
        s_parse_json(&f, frame);
        assert_int_equal(f.kind, SL_WIRE_PROGRESS_UPDATE);
        assert_string_equal(f.u.progress_update.correlation_id,
                            json_string_value(json_object_get(frame, "correlation_id")));
        assert_string_equal(f.u.progress_update.stage,
                            json_string_value(json_object_get(frame, "stage")));
        assert_string_equal(f.u.progress_update.message,
                            json_string_value(json_object_get(frame, "message")));
        assert_string_equal(f.service, "static-analyzer");
        assert_non_null(f.u.progress_update.data);
        assert_string_equal(json_string_value(json_object_get(f.u.progress_update.data, "stage")),
                            f.u.progress_update.stage);
        assert_false(f.u.progress_update.has_pct);
        sl_wire_frame_clear(&f);
        json_decref(rec);
        lines++;
    }
    assert_int_equal(lines, 30);
    free(text);

    /* dynamic/performance push an empty correlation_id; pct comes from data */
    sl_wire_frame_t f;
    assert_int_equal(s_parse_str(&f, "{\"type\":\"progress_update\",\"correlation_id\":\"\","
                                     "\"stage\":\"load\",\"service\":\"performance-tester\","
                                     "\"data\":{\"pct\":42.5}}"),
                     0);
    assert_string_equal(f.u.progress_update.correlation_id, "");
    assert_true(f.u.progress_update.has_pct);
    assert_true(f.u.progress_update.pct > 42.4 && f.u.progress_update.pct < 42.6);
    sl_wire_frame_clear(&f);
    assert_int_equal(s_parse_str(&f, "{\"type\":\"progress_update\",\"data\":{\"progress\":150,"
                                     "\"pct\":\"x\"}}"),
                     0);
    assert_true(f.u.progress_update.has_pct);
    assert_true(f.u.progress_update.pct == 100.0);
    assert_null(f.u.progress_update.correlation_id);
    sl_wire_frame_clear(&f);
    /* data is ours to read: a non-object is malformed */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"progress_update\",\"data\":[1]}"), SL_EPROTO);
}

static sl_wire_frame_t s_parse_capture(const char *name)
{
    size_t len;
    char *text = s_read_file(name, &len);
    sl_wire_frame_t f;
    assert_int_equal(sl_wire_frame_parse(&f, text, len), 0);
    free(text);
    return f;
}

static void test_wire_tool_names(void **state)
{
    (void)state;
    assert_string_equal(sl_wire_tool_run_name("ab-load-test"), "ab");
    assert_string_equal(sl_wire_tool_run_name("Requirements-Checker"), "requirements-scanner");
    assert_string_equal(sl_wire_tool_run_name("bandit"), "bandit");
    assert_null(sl_wire_tool_run_name(NULL));
    assert_string_equal(sl_wire_tool_needs("curl-endpoint-tester"), "curl");
    assert_string_equal(sl_wire_tool_needs("locust-performance"), "locust");
    const char *dyn[] = {"curl", "nmap", "zap"}; /* the real dynamic service's list */
    assert_true(sl_wire_tool_listed("curl-endpoint-tester", dyn, 3));
    assert_true(sl_wire_tool_listed("ZAP", dyn, 3));
    assert_false(sl_wire_tool_listed("nikto", dyn, 3));
    const char *perf[] = {"curl", "ab", "aiohttp"};
    assert_true(sl_wire_tool_listed("ab-load-test", perf, 3));
    assert_false(sl_wire_tool_listed("artillery-load", perf, 3));
    assert_false(sl_wire_tool_listed("ab", NULL, 0));
    /* the ai service's answer when asked only for tools it lacks blames the request */
    assert_true(sl_wire_error_is_verdict("No valid analysis tool selected. Available: ['x']"));
}

/* True if s is valid UTF-8 (jansson refuses to make a string of anything else). */
static bool s_utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void test_wire_utf8_trim(void **state)
{
    (void)state;
    char s[16];
    snprintf(s, sizeof s, "ab\xc3"); /* é cut after its lead byte */
    assert_int_equal(sl_wire_utf8_trim(s), 2);
    assert_string_equal(s, "ab");
    snprintf(s, sizeof s, "a\xe2\x82"); /* € cut in its middle */
    assert_int_equal(sl_wire_utf8_trim(s), 1);
    snprintf(s, sizeof s, "a\xf0\x9f\x98"); /* an emoji one byte short */
    assert_int_equal(sl_wire_utf8_trim(s), 1);
    snprintf(s, sizeof s, "a\xe2\x82\xac"); /* whole sequences stay */
    assert_int_equal(sl_wire_utf8_trim(s), 4);
    snprintf(s, sizeof s, "\xc3\xa9");
    assert_int_equal(sl_wire_utf8_trim(s), 2);
    s[0] = '\0';
    assert_int_equal(sl_wire_utf8_trim(s), 0);
    assert_int_equal(sl_wire_utf8_trim(NULL), 0);
}

/* Texts cut to fit their buffers stay valid UTF-8 at every cut point: a
   tools report of many multi-byte tool names, and an analyzer's unknown
   status behind a prefix (before, snprintf split a sequence in two and
   the text could not be encoded as JSON any more). */
static void test_wire_cut_texts_stay_utf8(void **state)
{
    (void)state;
    sl_wire_frame_t f;
    sl_wire_tools_report_t r;
    assert_int_equal(s_parse_str(&f, "{\"type\":\"static_analysis_result\",\"status\":\"success\","
                                     "\"analysis\":{\"tools_used\":[]}}"),
                     0);
    for (size_t pad = 0; pad < 4; pad++) {
        char names[40][32];
        const char *asked[40];
        for (size_t i = 0; i < 40; i++) {
            snprintf(names[i], sizeof names[i], "%.*st\xc3\xa9\xe2\x82\xac%zu", (int)pad, "xxx", i);
            asked[i] = names[i];
        }
        assert_int_equal(sl_wire_tools_report(&f, asked, 40, &r), 0);
        assert_int_equal(r.missed, 40);
        assert_true(s_utf8_ok(r.text));
    }
    sl_wire_frame_clear(&f);

    for (size_t pad = 0; pad < 4; pad++) {
        char msg[1200];
        size_t n = (size_t)snprintf(msg, sizeof msg, "%.*s", (int)pad, "xxx");
        while (n + 3 < 1000) {
            n += (size_t)snprintf(msg + n, sizeof msg - n, "\xe2\x82\xac");
        }
        char frame[1400];
        snprintf(frame, sizeof frame, "{\"type\":\"generation_result\",\"status\":\"%s\"}", msg);
        assert_int_equal(s_parse_str(&f, frame), 0);
        sl_wire_verdict_t v;
        assert_int_equal(sl_wire_classify(&f, &v), 0);
        assert_true(strlen(v.error) > 0);
        assert_true(s_utf8_ok(v.error));
        sl_wire_frame_clear(&f);
    }
}

static void test_wire_tools_report_real_results(void **state)
{
    (void)state;
    sl_wire_tools_report_t r;
    /* the real dynamic service asked for nikto: success, nothing ran */
    sl_wire_frame_t f = s_parse_capture("fleet/dynamic_analysis_result_nothing_ran.json");
    const char *nikto[] = {"nikto"};
    assert_int_equal(sl_wire_tools_report(&f, nikto, 1, &r), 0);
    assert_true(r.known);
    assert_int_equal(r.asked, 1);
    assert_int_equal(r.missed, 1);
    assert_string_equal(r.text, "nikto");
    assert_int_equal(sl_wire_tools_report(&f, NULL, 0, &r), 0); /* all tools: nothing to check */
    assert_int_equal(r.missed, 0);
    sl_wire_frame_clear(&f);

    /* partial: curl, curl-endpoint-tester, nmap, zap all executed (two failed) */
    f = s_parse_capture("fleet/dynamic_analysis_result_partial.json");
    const char *dyn[] = {"zap", "curl-endpoint-tester", "nmap", "nikto"};
    assert_int_equal(sl_wire_tools_report(&f, dyn, 4, &r), 0);
    assert_int_equal(r.asked, 4);
    assert_int_equal(r.missed, 1);
    assert_string_equal(r.text, "nikto");
    sl_wire_verdict_t v;
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_PARTIAL_SUCCESS);
    sl_wire_frame_clear(&f);

    /* ai: per-tool results under analysis.tools, the old name accepted */
    f = s_parse_capture("fleet/ai_analysis_result_partial_success.json");
    const char *ai[] = {"requirements-checker", "code-quality-analyzer", "curl-endpoint-tester"};
    assert_int_equal(sl_wire_tools_report(&f, ai, 3, &r), 0);
    assert_true(r.known);
    assert_int_equal(r.missed, 1);
    assert_string_equal(r.text, "curl-endpoint-tester");
    sl_wire_frame_clear(&f);

    /* the static capture: tools_used = the tools that ran */
    f = s_parse_capture("static_analysis_result_trimmed.json");
    const json_t *used = json_object_get(json_object_get(f.root, "analysis"), "tools_used");
    assert_true(json_array_size(used) > 0);
    const char *first[] = {json_string_value(json_array_get(used, 0)), "semgrep"};
    assert_int_equal(sl_wire_tools_report(&f, first, 2, &r), 0);
    assert_int_equal(r.missed, 1);
    assert_string_equal(r.text, "semgrep");
    sl_wire_frame_clear(&f);
}

static void test_wire_tools_report_statuses(void **state)
{
    (void)state;
    sl_wire_frame_t f;
    sl_wire_tools_report_t r;
    /* the dynamic service's not_available, the static service's skipped */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"dynamic_analysis_result\",\"status\":\"success\","
                                     "\"analysis\":{\"tools_used\":[\"curl\"],\"tool_results\":{"
                                     "\"zap\":{\"status\":\"not_available\",\"executed\":false},"
                                     "\"curl\":{\"status\":\"success\",\"executed\":true}},"
                                     "\"results\":{\"javascript\":{\"snyk\":{\"executed\":false,"
                                     "\"status\":\"skipped\"}}}}}"),
                     0);
    const char *asked[] = {"zap", "CURL", "snyk", "nmap"};
    assert_int_equal(sl_wire_tools_report(&f, asked, 4, &r), 0);
    assert_int_equal(r.missed, 3);
    assert_string_equal(r.text, "zap (not_available), snyk (skipped), nmap");
    sl_wire_frame_clear(&f);

    /* performance reports ab-load-test as ab; executed in tool_results counts */
    assert_int_equal(s_parse_str(&f,
                                 "{\"type\":\"performance_analysis_result\",\"status\":\"error\","
                                 "\"analysis\":{\"tools_used\":[],\"tool_results\":{"
                                 "\"ab\":{\"status\":\"error\",\"executed\":true}}}}"),
                     0);
    const char *perf[] = {"ab-load-test", "locust"};
    assert_int_equal(sl_wire_tools_report(&f, perf, 2, &r), 0);
    assert_int_equal(r.missed, 1);
    assert_string_equal(r.text, "locust");
    sl_wire_frame_clear(&f);

    /* a result that says nothing about tools is not judged */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"static_analysis_result\",\"status\":\"success\","
                                     "\"analysis\":{\"summary\":{}}}"),
                     0);
    assert_int_equal(sl_wire_tools_report(&f, perf, 2, &r), 0);
    assert_false(r.known);
    assert_int_equal(r.missed, 0);
    assert_int_equal(sl_wire_tools_report(&f, NULL, 1, &r), SL_EINVAL);
    sl_wire_frame_clear(&f);
    assert_int_equal(s_parse_str(&f, "{\"type\":\"pong\"}"), 0);
    assert_int_equal(sl_wire_tools_report(&f, perf, 2, &r), SL_EINVAL);
    sl_wire_frame_clear(&f);

    /* many missed tools: the text is cut, never overflows */
    char big[600];
    int off = snprintf(big, sizeof big,
                       "{\"type\":\"static_analysis_result\",\"status\":"
                       "\"success\",\"analysis\":{\"tools_used\":[]}}");
    assert_true(off > 0);
    assert_int_equal(s_parse_str(&f, big), 0);
    const char *many[40];
    char names[40][16];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "tool-%02d-\xc3\xa9x", i);
        many[i] = names[i];
    }
    assert_int_equal(sl_wire_tools_report(&f, many, 40, &r), 0);
    assert_int_equal(r.missed, 40);
    assert_true(strlen(r.text) < sizeof r.text);
    sl_wire_frame_clear(&f);
}

static void test_wire_trimmed_result_parses(void **state)
{
    (void)state;
    size_t len;
    char *text = s_read_file("static_analysis_result_trimmed.json", &len);
    sl_wire_frame_t f;
    assert_int_equal(sl_wire_frame_parse(&f, text, len), 0);
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    assert_string_equal(f.u.result.status, "success");
    sl_wire_verdict_t v;
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_SUCCESS);
    sl_wire_frame_clear(&f);
    sl_wire_frame_clear(&f); /* clearing twice is harmless */
    free(text);
}

/* ---- building ----------------------------------------------------------- */

static void test_wire_build_matches_capture(void **state)
{
    (void)state;
    const char *files[] = {"analyze_frames.json", "analyze_missing_frames.json"};
    for (size_t k = 0; k < 2; k++) {
        json_t *records = s_load_json(files[k]);
        size_t i;
        json_t *rec;
        json_array_foreach(records, i, rec)
        {
            json_t *sent = json_object_get(rec, "sent");
            char *built = s_build_from_sent(sent);
            s_assert_same_json(built, sent);
            free(built);
        }
        json_decref(records);
    }

    /* the ping and health_check the capture sent, ids included */
    json_t *basic = s_load_json("basic_frames.json");
    char *out = NULL;
    assert_int_equal(sl_wire_build_ping("p1", &out, NULL), 0);
    s_assert_same_json(out, json_object_get(json_array_get(basic, 0), "sent"));
    free(out);
    assert_int_equal(sl_wire_build_health_check("h1", &out, NULL), 0);
    s_assert_same_json(out, json_object_get(json_array_get(basic, 1), "sent"));
    free(out);
    json_decref(basic);

    assert_int_equal(sl_wire_build_ping(NULL, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"ping\"}");
    free(out);
    assert_int_equal(sl_wire_build_health_check(NULL, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"health_check\"}");
    free(out);
}

/* The dynamic, performance and ai requests as the fleet's own client builds
   them (fleet/client_requests.json, from analyzer_manager.py), field for
   field and in its key order; and the frames that reached the real
   services: top-level target_urls (measured), never config.target_urls
   (ignored by the services: targets_unreachable). */
static void test_wire_build_matches_fleet_client(void **state)
{
    (void)state;
    static const char *const skip[] = {"timestamp", "source_path", NULL};
    json_t *client = s_load_json("fleet/client_requests.json");
    const char *types[] = {"dynamic_analyze", "performance_test", "ai_analyze"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *frame = json_object_get(client, types[i]);
        assert_non_null(frame);
        char *built = s_build_from_sent(frame);
        s_assert_same_json_but(built, frame, skip);
        /* the timestamp sits where the client writes it */
        json_error_t err;
        json_t *got = json_loads(built, 0, &err);
        const char *prev = NULL;
        const char *before_ts = NULL;
        void *it = json_object_iter(got);
        for (; it; it = json_object_iter_next(got, it)) {
            if (strcmp(json_object_iter_key(it), "timestamp") == 0) {
                before_ts = prev;
            }
            prev = json_object_iter_key(it);
        }
        const char *want_before = NULL;
        prev = NULL;
        for (it = json_object_iter((json_t *)frame); it;
             it = json_object_iter_next((json_t *)frame, it)) {
            const char *k = json_object_iter_key(it);
            if (strcmp(k, "timestamp") == 0) {
                want_before = prev;
            }
            if (strcmp(k, "source_path") != 0) {
                prev = k;
            }
        }
        assert_non_null(before_ts);
        assert_string_equal(before_ts, want_before);
        json_decref(got);
        free(built);
    }
    json_decref(client);

    /* the request that got real measurements: every field it sent, and the
       load settings the client adds */
    json_t *rec = s_load_json("fleet/performance_test_top_level_urls.json");
    const json_t *sent = json_object_get(rec, "sent");
    char *built = s_build_from_sent(sent);
    json_error_t err;
    json_t *got = json_loads(built, 0, &err);
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)sent, key, value)
    {
        assert_true(json_equal(json_object_get(got, key), value));
    }
    assert_int_equal(json_integer_value(json_object_get(got, "users")), SL_WIRE_PERF_USERS);
    assert_int_equal(json_integer_value(json_object_get(got, "duration")), SL_WIRE_PERF_DURATION_S);
    json_decref(got);
    free(built);
    json_decref(rec);

    /* the old mistake: URLs inside config, which no service reads */
    const char *files[] = {"fleet/dynamic_analyze_config_urls_unreachable.json",
                           "fleet/performance_test_config_urls_unreachable.json"};
    for (size_t i = 0; i < 2; i++) {
        rec = s_load_json(files[i]);
        sent = json_object_get(rec, "sent");
        const json_t *urls = json_object_get(json_object_get(sent, "config"), "target_urls");
        assert_non_null(urls);
        sl_wire_frame_t f;
        s_parse_json(&f, sent);
        assert_null(f.u.analyze.target_urls); /* not where the services read */
        sl_wire_frame_clear(&f);
        const char *u[] = {json_string_value(json_array_get(urls, 0))};
        sl_wire_analyze_req_t req = {.analysis = i == 0 ? SL_SVC_DYNAMIC : SL_SVC_PERFORMANCE,
                                     .model_slug = "m",
                                     .app_number = 1,
                                     .id = "x",
                                     .wall_ms = -1,
                                     .target_urls = u,
                                     .target_urls_count = 1};
        assert_int_equal(sl_wire_build_analyze(&req, &built, NULL), 0);
        got = json_loads(built, 0, &err);
        assert_true(json_equal(json_array_get(json_object_get(got, "target_urls"), 0),
                               json_array_get(urls, 0)));
        assert_null(json_object_get(json_object_get(got, "config"), "target_urls"));
        json_decref(got);
        free(built);
        json_decref(rec);
    }
}

/* mux's resume_from is the last key of every analysis request, after
   config; without one the frame is the fleet's own. */
static void test_wire_build_analyze_resume_from(void **state)
{
    (void)state;
    const char *urls[] = {"http://m-app3_backend:5000"};
    json_t *options = json_pack("{s:b}", "quick", 1);
    for (int s = SL_SVC_STATIC; s <= SL_SVC_AI; s++) {
        sl_wire_analyze_req_t req = {.analysis = (sl_service_t)s,
                                     .model_slug = "m",
                                     .app_number = 3,
                                     .id = "p1-t0001-a2",
                                     .wall_ms = 0,
                                     .target_urls = urls,
                                     .target_urls_count = 1,
                                     .template_slug = "t",
                                     .options = options};
        char *plain = NULL, *out = NULL;
        assert_int_equal(sl_wire_build_analyze(&req, &plain, NULL), 0);
        assert_null(strstr(plain, "resume_from"));
        req.resume_from = "scanning_js:3";
        assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
        size_t n = strlen(plain);
        assert_memory_equal(out, plain, n - 1); /* the same frame up to its last brace */
        assert_string_equal(out + n - 1, ",\"resume_from\":\"scanning_js:3\"}");
        free(plain);
        free(out);
    }
    json_decref(options);
}

static void test_wire_build_analyze_options(void **state)
{
    (void)state;
    const char *urls[] = {"http://m-app3_backend:5000", "http://m-app3_frontend:8000"};
    sl_wire_analyze_req_t req = {
        .analysis = SL_SVC_DYNAMIC,
        .model_slug = "m",
        .app_number = 3,
        .id = "p0193f1c2a4b7c01a2f-t0007-a2",
        .wall_ms = 1795899300123,
        .target_urls = urls,
        .target_urls_count = 2,
    };
    char *out = NULL;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    /* no tools key when the list is empty; target_urls at the top level;
       no config without a template or options */
    assert_string_equal(out, "{\"type\":\"dynamic_analyze\",\"model_slug\":\"m\",\"app_number\":3,"
                             "\"target_urls\":[\"http://m-app3_backend:5000\","
                             "\"http://m-app3_frontend:8000\"],"
                             "\"timestamp\":\"2026-11-28T20:55:00.123000+00:00\","
                             "\"id\":\"p0193f1c2a4b7c01a2f-t0007-a2\"}");
    free(out);
    /* the template and the service's options in config, template first */
    json_t *options = json_pack("{s:{s:b}}", "zap", "ajax_spider_enabled", 1);
    req.template_slug = "api_url_shortener";
    req.options = options;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    assert_non_null(strstr(out, "\"id\":\"p0193f1c2a4b7c01a2f-t0007-a2\",\"config\":{"
                                "\"template_slug\":\"api_url_shortener\",\"zap\":{"
                                "\"ajax_spider_enabled\":true}}}"));
    free(out);
    json_decref(options);

    /* ai: ports (when known) and the model in config */
    options = json_pack("{s:s}", "gemini_model", "anthropic/claude-3-5-haiku");
    req.options = options;
    req.analysis = SL_SVC_AI;
    req.wall_ms = 0;
    req.target_urls_count = 1;
    req.backend_port = 5029;
    req.frontend_port = 8029;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"ai_analyze\",\"model_slug\":\"m\",\"app_number\":3,"
                             "\"target_urls\":[\"http://m-app3_backend:5000\"],"
                             "\"config\":{\"template_slug\":\"api_url_shortener\","
                             "\"backend_port\":5029,\"frontend_port\":8029,"
                             "\"gemini_model\":\"anthropic/claude-3-5-haiku\"},"
                             "\"timestamp\":\"1970-01-01T00:00:00+00:00\","
                             "\"id\":\"p0193f1c2a4b7c01a2f-t0007-a2\"}");
    free(out);
    json_decref(options);
    req.options = NULL;
    req.backend_port = req.frontend_port = 0;

    /* performance: the legacy single URL, load settings (given or the
       client's defaults) at the top level, other options in config;
       2000-02-29T12:34:56Z: leap day in a century leap year */
    req.wall_ms = 951827696000;
    req.analysis = SL_SVC_PERFORMANCE;
    req.target_urls_count = 2;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"performance_test\",\"model_slug\":\"m\","
                             "\"app_number\":3,\"target_url\":\"http://m-app3_backend:5000\","
                             "\"target_urls\":[\"http://m-app3_backend:5000\","
                             "\"http://m-app3_frontend:8000\"],\"users\":10,\"duration\":60,"
                             "\"timestamp\":\"2000-02-29T12:34:56+00:00\","
                             "\"id\":\"p0193f1c2a4b7c01a2f-t0007-a2\"}");
    free(out);
    options = json_pack("{s:i,s:i,s:{s:i}}", "users", 3, "duration", 5, "aiohttp", "requests", 7);
    req.options = options;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    assert_non_null(strstr(out, "\"users\":3,\"duration\":5,"));
    assert_non_null(strstr(out, "\"config\":{\"aiohttp\":{\"requests\":7}}}"));
    free(out);
    json_decref(options);
    options = json_pack("{s:s}", "users", "ten");
    req.options = options;
    out = NULL;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    assert_null(out);
    json_decref(options);
    req.options = NULL;
    req.template_slug = NULL;

    /* caller mistakes */
    out = NULL;
    req.id = NULL;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    req.id = "x";
    req.model_slug = "bad\xff";
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    req.model_slug = "m";
    req.analysis = SL_SVC_GENERATOR;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    req.analysis = SL_SVC_STATIC;
    req.tools_count = 1;
    req.tools = NULL;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    const char *bad_tools[] = {"bandit", NULL};
    req.tools = bad_tools;
    req.tools_count = 2;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    req.tools_count = 0;
    req.wall_ms = INT64_MAX;
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), SL_EINVAL);
    assert_null(out);
    assert_int_equal(sl_wire_build_analyze(NULL, &out, NULL), SL_EINVAL);
}

static void test_wire_build_generate(void **state)
{
    (void)state;
    json_t *options = json_pack("{s:i,s:s}", "temperature", 0, "style", "compact");
    assert_non_null(options);
    char *out = NULL;
    assert_int_equal(
        sl_wire_build_generate("t1-a1", "test_model-1", "crud_todo_list", options, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"generate\",\"id\":\"t1-a1\",\"model_slug\":"
                             "\"test_model-1\",\"template_slug\":\"crud_todo_list\",\"options\":"
                             "{\"temperature\":0,\"style\":\"compact\"}}");
    sl_wire_frame_t f;
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_GENERATE_REQUEST);
    assert_string_equal(f.id, "t1-a1");
    assert_string_equal(f.u.generate.model_slug, "test_model-1");
    assert_string_equal(f.u.generate.template_slug, "crud_todo_list");
    assert_true(json_equal((json_t *)f.u.generate.options, options));
    sl_wire_frame_clear(&f);
    free(out);

    assert_int_equal(sl_wire_build_generate("t1", "m", "t", NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "\"options\":{}"));
    free(out);
    json_t *arr = json_array();
    assert_int_equal(sl_wire_build_generate("t1", "m", "t", arr, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_generate("t1", NULL, "t", NULL, &out, NULL), SL_EINVAL);
    json_decref(arr);
    json_decref(options);

    assert_int_equal(s_parse_str(&f, "{\"type\":\"generate\",\"model_slug\":\"m\"}"), SL_EMISSING);
}

/* ---- classification ----------------------------------------------------- */

static void s_check_class(const char *frame, sl_outcome_t expect, const char *error_part)
{
    sl_wire_frame_t f;
    sl_wire_verdict_t v;
    assert_int_equal(s_parse_str(&f, frame), 0);
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    if (v.outcome != expect) {
        fail_msg("%s -> %s, want %s", frame, sl_outcome_name(v.outcome), sl_outcome_name(expect));
    }
    if (error_part) {
        assert_non_null(strstr(v.error, error_part));
    }
    sl_wire_frame_clear(&f);
}

static void test_wire_classify_statuses(void **state)
{
    (void)state;
    s_check_class("{\"type\":\"dynamic_analysis_result\",\"status\":\"success\",\"analysis\":{}}",
                  SL_OUT_SUCCESS, "");
    s_check_class("{\"type\":\"dynamic_analysis_result\",\"status\":\"partial\"}",
                  SL_OUT_PARTIAL_SUCCESS, NULL);
    s_check_class("{\"type\":\"ai_analysis_result\",\"status\":\"partial_success\","
                  "\"error\":\"2 of 3 tools failed\"}",
                  SL_OUT_PARTIAL_SUCCESS, "2 of 3 tools failed");
    s_check_class("{\"type\":\"performance_analysis_result\",\"status\":\"targets_unreachable\","
                  "\"analysis\":{\"error\":\"connection refused\"}}",
                  SL_OUT_TARGETS_UNREACHABLE, "connection refused");
    s_check_class("{\"type\":\"dynamic_analysis_result\",\"status\":\"error\","
                  "\"error\":\"ZAP daemon crashed\"}",
                  SL_OUT_ERROR, "ZAP daemon crashed");
    s_check_class("{\"type\":\"dynamic_analysis_result\",\"status\":\"error\","
                  "\"analysis\":null,\"message\":\"bandit: command not found\"}",
                  SL_OUT_ERROR, "command not found");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"error\","
                  "\"error\":\"App not found: m app 9\"}",
                  SL_OUT_VERDICT, "App not found");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"error\","
                  "\"error\":{\"message\":\"Unknown tool: frobnicate\"}}",
                  SL_OUT_VERDICT, "Unknown tool");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"error\"}", SL_OUT_ERROR,
                  "analyzer reported an error");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"weird\"}", SL_OUT_ERROR,
                  "unknown result status: weird");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"success\","
                  "\"analysis\":{\"status\":\"failed\"}}",
                  SL_OUT_VERDICT, "analysis reported an error");
    s_check_class("{\"type\":\"static_analysis_result\",\"status\":\"success\","
                  "\"analysis\":{\"status\":\"completed\",\"error\":7}}",
                  SL_OUT_SUCCESS, NULL);

    s_check_class("{\"type\":\"generation_result\",\"status\":\"success\",\"app_number\":3}",
                  SL_OUT_SUCCESS, NULL);
    s_check_class("{\"type\":\"generation_result\",\"status\":\"success\"}", SL_OUT_ERROR,
                  "app_number");
    s_check_class("{\"type\":\"generation_result\",\"status\":\"error\","
                  "\"error\":\"Template not found: nope\"}",
                  SL_OUT_VERDICT, "Template not found");
    s_check_class("{\"type\":\"generation_result\",\"status\":\"error\",\"error\":\"LLM timeout\"}",
                  SL_OUT_ERROR, "LLM timeout");
    s_check_class("{\"type\":\"generation_result\",\"status\":\"queued\"}", SL_OUT_ERROR,
                  "unknown generation status");

    s_check_class("{\"type\":\"error\",\"error\":\"Invalid request: missing model_slug\"}",
                  SL_OUT_VERDICT, "Invalid request");
    s_check_class("{\"type\":\"error\",\"message\":\"Unknown message type: x\"}", SL_OUT_ERROR,
                  "Unknown message type");
    s_check_class("{\"type\":\"error\",\"message\":\"Invalid JSON format\"}", SL_OUT_ERROR,
                  "Invalid JSON format");
    s_check_class("{\"type\":\"error\"}", SL_OUT_ERROR, "without a message");
    s_check_class("{\"type\":\"error\",\"error\":\"Analysis service temporarily unavailable - "
                  "event loop error\"}",
                  SL_OUT_ERROR, "event loop");
    s_check_class("{\"type\":\"cancelled\",\"id\":\"a\"}", SL_OUT_CANCELLED,
                  "the analyzer cancelled it");

    sl_wire_frame_t f;
    sl_wire_verdict_t v;
    assert_int_equal(s_parse_str(&f, "{\"type\":\"generation_result\",\"status\":\"success\","
                                     "\"app_number\":12}"),
                     0);
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_true(v.has_app_number);
    assert_int_equal(v.app_number, 12);
    sl_wire_frame_clear(&f);

    /* frames that do not end an attempt are not classified */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"heartbeat\"}"), 0);
    assert_int_equal(sl_wire_classify(&f, &v), SL_EINVAL);
    sl_wire_frame_clear(&f);
    assert_int_equal(sl_wire_classify(NULL, &v), SL_EINVAL);

    assert_true(sl_wire_error_is_verdict("MODEL PATH NOT FOUND"));
    assert_true(sl_wire_error_is_verdict("app does not exist"));
    assert_false(sl_wire_error_is_verdict("timeout while scanning"));
    assert_false(sl_wire_error_is_verdict(NULL));

    /* only the head of a huge error text is searched */
    size_t big = 1 << 20;
    char *text = malloc(big + 32);
    assert_non_null(text);
    memset(text, 'x', big);
    strcpy(text + big, "app not found");
    assert_false(sl_wire_error_is_verdict(text));
    memcpy(text + 100, "app not found", 13);
    assert_true(sl_wire_error_is_verdict(text));
    free(text);
}

static void test_wire_classify_truncates_on_utf8_boundary(void **state)
{
    (void)state;
    /* 300 x "é" (2 bytes each) would cut mid-character at byte 255 */
    size_t n = 300;
    char *msg = malloc(n * 2 + 64);
    assert_non_null(msg);
    char *w = msg + sprintf(msg, "{\"type\":\"error\",\"message\":\"");
    for (size_t i = 0; i < n; i++) {
        *w++ = (char)0xC3;
        *w++ = (char)0xA9;
    }
    strcpy(w, "\"}");
    sl_wire_frame_t f;
    sl_wire_verdict_t v;
    assert_int_equal(s_parse_str(&f, msg), 0);
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    size_t len = strlen(v.error);
    assert_true(len < SL_WIRE_ERROR_MAX && len >= SL_WIRE_ERROR_MAX - 3);
    assert_int_equal(len % 2, 0);
    json_t *s = json_string(v.error); /* NULL if not valid UTF-8 */
    assert_non_null(s);
    json_decref(s);
    sl_wire_frame_clear(&f);
    free(msg);
}

/* ---- hostile input ------------------------------------------------------ */

static void s_check_bad(const void *buf, size_t len, int expect)
{
    sl_wire_frame_t f;
    memset(&f, 0xA5, sizeof f); /* parse must not trust prior contents */
    int rc = sl_wire_frame_parse(&f, buf, len);
    if (rc != expect) {
        fail_msg("rc %d (%s), want %d for %.*s", rc, sl_err_name(rc), expect,
                 (int)(len > 60 ? 60 : len), (const char *)buf);
    }
    assert_null(f.root);
    sl_wire_frame_clear(&f);
}

#define S_BAD(lit, expect) s_check_bad(lit, sizeof(lit) - 1, expect)

static void test_wire_malformed_input_rejected(void **state)
{
    (void)state;
    /* every truncation of a valid frame is an error, none a crash */
    const char *good = "{\"type\":\"static_analysis_result\",\"status\":\"success\","
                       "\"analysis\":{\"status\":\"error\",\"error\":\"x\"},\"id\":\"a\"}";
    for (size_t cut = 0; cut < strlen(good); cut++) {
        char *copy = malloc(cut + 1); /* exact size: ASan sees any over-read */
        assert_non_null(copy);
        memcpy(copy, good, cut);
        sl_wire_frame_t f;
        int rc = sl_wire_frame_parse(&f, copy, cut);
        assert_true(rc == SL_EPROTO);
        free(copy);
    }

    S_BAD("", SL_EPROTO);
    S_BAD("not json", SL_EPROTO);
    S_BAD("[]", SL_EPROTO);
    S_BAD("[{\"type\":\"pong\"}]", SL_EPROTO);
    S_BAD("42", SL_EPROTO);
    S_BAD("\"pong\"", SL_EPROTO);
    S_BAD("null", SL_EPROTO);
    S_BAD("{}", SL_EMISSING);
    S_BAD("{\"type\":5}", SL_EPROTO);
    S_BAD("{\"type\":null}", SL_EMISSING);
    S_BAD("{\"type\":\"pong\"} trailing", SL_EPROTO);
    S_BAD("{\"type\":\"pong\",\"type\":\"error\"}", SL_EPROTO);
    S_BAD("{\"type\":\"static_analysis_result\"}", SL_EMISSING);
    S_BAD("{\"type\":\"static_analysis_result\",\"status\":5}", SL_EPROTO);
    S_BAD("{\"type\":\"static_analysis_result\",\"status\":\"success\",\"analysis\":[]}",
          SL_EPROTO);
    S_BAD("{\"type\":\"static_analysis_result\",\"status\":\"success\",\"id\":7}", SL_EPROTO);
    S_BAD("{\"type\":\"generation_result\",\"status\":\"success\",\"app_number\":\"3\"}",
          SL_EPROTO);
    S_BAD("{\"type\":\"generation_result\",\"status\":\"success\",\"app_number\":3.5}", SL_EPROTO);
    S_BAD("{\"type\":\"status_update\",\"stage\":{}}", SL_EPROTO);
    S_BAD("{\"type\":\"health_response\",\"available_tools\":[1]}", SL_EPROTO);
    S_BAD("{\"type\":\"health_response\",\"available_tools\":\"bandit\"}", SL_EPROTO);
    S_BAD("{\"type\":\"progress\",\"id\":\"a\",\"pct\":\"50\"}", SL_EPROTO);
    S_BAD("{\"type\":\"progress\",\"pct\":50}", SL_EMISSING);
    S_BAD("{\"type\":\"cancelled\"}", SL_EMISSING);
    S_BAD("{\"type\":\"accepted\",\"id\":[]}", SL_EPROTO);
    S_BAD("{\"type\":\"static_analyze\",\"model_slug\":\"m\"}", SL_EMISSING);
    S_BAD("{\"type\":\"static_analyze\",\"model_slug\":\"m\",\"app_number\":1,\"tools\":[1]}",
          SL_EPROTO);
    S_BAD("{\"type\":\"dynamic_analyze\",\"model_slug\":\"m\",\"app_number\":1,"
          "\"target_urls\":\"http://x\"}",
          SL_EPROTO);
    S_BAD("{\"type\":\"performance_test\",\"model_slug\":\"m\",\"app_number\":1,"
          "\"users\":\"10\"}",
          SL_EPROTO);
    S_BAD("{\"type\":\"progress_update\",\"correlation_id\":5}", SL_EPROTO);

    /* NUL bytes: raw inside the text, after a valid object, and escaped */
    S_BAD("{\"type\":\"po\0ng\"}", SL_EPROTO);
    S_BAD("{\"type\":\"pong\"}\0garbage", SL_EPROTO);
    S_BAD("{\"type\":\"pong\",\"service\":\"a\\u0000b\"}", SL_EPROTO);
    S_BAD("\0", SL_EPROTO);

    /* invalid UTF-8: a lone continuation byte, an overlong form, a surrogate */
    S_BAD("{\"type\":\"pong\",\"service\":\"\x80\"}", SL_EPROTO);
    S_BAD("{\"type\":\"pong\",\"service\":\"\xC0\xAF\"}", SL_EPROTO);
    S_BAD("{\"type\":\"pong\",\"service\":\"\xED\xA0\x80\"}", SL_EPROTO);
    S_BAD("{\"type\":\"\xFF\xFE\"}", SL_EPROTO);

    /* caller mistakes */
    assert_int_equal(sl_wire_frame_parse(NULL, "{}", 2), SL_EINVAL);
    sl_wire_frame_t f;
    assert_int_equal(sl_wire_frame_parse(&f, NULL, 3), SL_EINVAL);
    assert_int_equal(sl_wire_frame_parse(&f, NULL, 0), SL_EPROTO);
    sl_wire_frame_clear(&f);
    sl_wire_frame_clear(NULL);

    /* unknown types are not errors */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"surprise\",\"id\":5,\"service\":[]}"), 0);
    assert_int_equal(f.kind, SL_WIRE_UNKNOWN);
    assert_string_equal(f.type, "surprise");
    assert_null(f.id);
    assert_null(f.service);
    sl_wire_frame_clear(&f);
    assert_int_equal(s_parse_str(&f, "{\"type\":\"_analysis_result\",\"status\":1}"), 0);
    assert_int_equal(f.kind, SL_WIRE_UNKNOWN);
    sl_wire_frame_clear(&f);
}

static void test_wire_deep_nesting_rejected(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *buf = malloc(depth * 2 + 64);
    assert_non_null(buf);
    memset(buf, '[', depth);
    s_check_bad(buf, depth, SL_EPROTO);

    /* balanced, inside an otherwise valid frame, still too deep */
    size_t n = (size_t)sprintf(buf, "{\"type\":\"pong\",\"x\":");
    memset(buf + n, '[', depth);
    memset(buf + n + depth, ']', depth);
    buf[n + 2 * depth] = '}';
    s_check_bad(buf, n + 2 * depth + 1, SL_EPROTO);

    /* and objects: {"a":{"a":...}} */
    size_t pos = 0;
    for (size_t i = 0; i < 5000; i++) {
        memcpy(buf + pos, "{\"a\":", 5);
        pos += 5;
    }
    memset(buf + pos, '}', 5000);
    s_check_bad(buf, pos + 5000, SL_EPROTO);

    /* modest nesting inside "analysis" is fine */
    n = (size_t)sprintf(buf, "{\"type\":\"x_analysis_result\",\"status\":\"success\","
                             "\"analysis\":{\"deep\":");
    memset(buf + n, '[', 100);
    memset(buf + n + 100, ']', 100);
    memcpy(buf + n + 200, "}}", 2);
    sl_wire_frame_t f;
    assert_int_equal(sl_wire_frame_parse(&f, buf, n + 202), 0);
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    sl_wire_frame_clear(&f);
    free(buf);
}

static void test_wire_oversize_rejected(void **state)
{
    (void)state;
    size_t len = (size_t)SL_WIRE_MAX_FRAME + 1;
    char *buf = malloc(len);
    assert_non_null(buf);
    memset(buf, ' ', len);
    memcpy(buf, "{\"type\":\"pong\"}", 15);
    s_check_bad(buf, len, SL_ETOOBIG);
    free(buf);
}

/* ---- target URLs -------------------------------------------------------- */

/* ---- mux ---------------------------------------------------------------- */

static void test_wire_mux_round_trip(void **state)
{
    (void)state;
    char *out = NULL;
    sl_wire_frame_t f;

    assert_int_equal(sl_wire_build_cancel("t1-a1", &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"cancel\",\"id\":\"t1-a1\"}");
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_CANCEL);
    assert_string_equal(f.id, "t1-a1");
    sl_wire_frame_clear(&f);
    free(out);

    assert_int_equal(sl_wire_build_accepted("t1-a1", &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_ACCEPTED);
    assert_string_equal(f.id, "t1-a1");
    sl_wire_frame_clear(&f);
    free(out);

    size_t len = 0;
    assert_int_equal(
        sl_wire_build_progress("t1-a1", "scanning", 37.5, "Scanning files", "ck-3", &out, &len), 0);
    assert_int_equal(len, strlen(out));
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_PROGRESS);
    assert_string_equal(f.id, "t1-a1");
    assert_string_equal(f.u.progress.stage, "scanning");
    assert_string_equal(f.u.progress.message, "Scanning files");
    assert_string_equal(f.u.progress.checkpoint, "ck-3");
    assert_true(f.u.progress.has_pct);
    assert_true(f.u.progress.pct == 37.5);
    sl_wire_frame_clear(&f);
    free(out);

    assert_int_equal(sl_wire_build_progress("t2", NULL, -1, NULL, NULL, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"progress\",\"id\":\"t2\"}");
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_false(f.u.progress.has_pct);
    assert_null(f.u.progress.stage);
    sl_wire_frame_clear(&f);
    free(out);
    /* integer pct from a server is fine too */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"progress\",\"id\":\"t\",\"pct\":-5}"), 0);
    assert_true(f.u.progress.has_pct && f.u.progress.pct == 0.0);
    sl_wire_frame_clear(&f);
    /* a partial result so far: an object, kept; anything else refused; the
       fast parser leaves such frames to this one */
    const char *with_partial =
        "{\"type\":\"progress\",\"id\":\"t\",\"partial\":{\"issues_so_far\":3}}";
    assert_int_equal(s_parse_str(&f, with_partial), 0);
    assert_true(json_is_object(f.u.progress.partial));
    assert_int_equal(json_integer_value(json_object_get(f.u.progress.partial, "issues_so_far")), 3);
    sl_wire_frame_clear(&f);
    char arena[1024];
    assert_true(
        sl_wire_frame_parse_fast(&f, with_partial, strlen(with_partial), arena, sizeof arena) != 0);
    assert_true(s_parse_str(&f, "{\"type\":\"progress\",\"id\":\"t\",\"partial\":7}") < 0);
    sl_wire_frame_clear(&f);
    assert_int_equal(s_parse_str(&f, "{\"type\":\"progress\",\"id\":\"t\"}"), 0);
    assert_null(f.u.progress.partial);
    sl_wire_frame_clear(&f);

    assert_int_equal(sl_wire_build_heartbeat("t1-a1", &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_HEARTBEAT);
    assert_string_equal(f.id, "t1-a1");
    sl_wire_frame_clear(&f);
    free(out);
    assert_int_equal(sl_wire_build_heartbeat(NULL, &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_HEARTBEAT);
    assert_null(f.id);
    sl_wire_frame_clear(&f);
    free(out);

    assert_int_equal(sl_wire_build_cancelled("t1-a1", &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_CANCELLED);
    assert_string_equal(f.id, "t1-a1");
    sl_wire_frame_clear(&f);
    free(out);

    assert_int_equal(sl_wire_build_error("t1-a1", "App not found", &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_ERROR);
    assert_string_equal(f.id, "t1-a1");
    sl_wire_verdict_t v;
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_VERDICT);
    sl_wire_frame_clear(&f);
    free(out);
    assert_int_equal(sl_wire_build_error(NULL, "busy", &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"error\",\"message\":\"busy\"}");
    free(out);

    /* a mux result is the legacy result plus "id" */
    assert_int_equal(s_parse_str(&f, "{\"type\":\"static_analysis_result\",\"id\":\"t1-a2\","
                                     "\"status\":\"success\",\"service\":\"static-analyzer\","
                                     "\"analysis\":{\"tools_used\":[]}}"),
                     0);
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    assert_string_equal(f.id, "t1-a2");
    sl_wire_frame_clear(&f);

    /* the analyze request as a mux server sees it */
    const char *urls[] = {"http://m-app3_backend:5000"};
    const char *tools[] = {"zap"};
    sl_wire_analyze_req_t req = {.analysis = SL_SVC_DYNAMIC,
                                 .model_slug = "m",
                                 .app_number = 3,
                                 .tools = tools,
                                 .tools_count = 1,
                                 .id = "t9-a1",
                                 .wall_ms = -1,
                                 .target_urls = urls,
                                 .target_urls_count = 1};
    assert_int_equal(sl_wire_build_analyze(&req, &out, NULL), 0);
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_ANALYZE_REQUEST);
    assert_int_equal(f.u.analyze.analysis, SL_SVC_DYNAMIC);
    assert_string_equal(f.id, "t9-a1");
    assert_string_equal(f.u.analyze.model_slug, "m");
    assert_int_equal(f.u.analyze.app_number, 3);
    assert_string_equal(json_string_value(json_array_get(f.u.analyze.tools, 0)), "zap");
    assert_string_equal(json_string_value(json_array_get(f.u.analyze.target_urls, 0)), urls[0]);
    assert_null(f.timestamp);
    sl_wire_frame_clear(&f);
    free(out);

    /* result frames as the mock sends them */
    json_t *body = json_pack("{s:s,s:i}", "model_slug", "m", "app_number", 3);
    assert_non_null(body);
    assert_int_equal(sl_wire_build_result(SL_SVC_PERFORMANCE, "t9-a1", "targets_unreachable", body,
                                          "connection refused", &out, NULL),
                     0);
    assert_string_equal(out, "{\"type\":\"performance_analysis_result\",\"id\":\"t9-a1\","
                             "\"status\":\"targets_unreachable\",\"service\":"
                             "\"performance-tester\",\"analysis\":{\"model_slug\":\"m\","
                             "\"app_number\":3},\"error\":\"connection refused\"}");
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(f.kind, SL_WIRE_ANALYSIS_RESULT);
    assert_true(sl_wire_frame_is_terminal(&f));
    assert_string_equal(f.id, "t9-a1");
    assert_string_equal(f.service, "performance-tester");
    assert_true(json_equal((json_t *)f.u.result.analysis, body));
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_TARGETS_UNREACHABLE);
    assert_string_equal(v.error, "connection refused");
    sl_wire_frame_clear(&f);
    free(out);
    assert_int_equal(sl_wire_build_result(SL_SVC_STATIC, NULL, "success", NULL, NULL, &out, NULL),
                     0);
    assert_string_equal(out, "{\"type\":\"static_analysis_result\",\"status\":\"success\","
                             "\"service\":\"static-analyzer\"}");
    free(out);
    json_t *arr = json_array();
    assert_int_equal(sl_wire_build_result(SL_SVC_STATIC, NULL, "success", arr, NULL, &out, NULL),
                     SL_EINVAL);
    assert_int_equal(
        sl_wire_build_result(SL_SVC_GENERATOR, NULL, "success", NULL, NULL, &out, NULL), SL_EINVAL);
    json_decref(arr);
    json_decref(body);

    assert_int_equal(sl_wire_build_generation_result("g1-a1", "success", 4, NULL, &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"generation_result\",\"id\":\"g1-a1\","
                             "\"status\":\"success\",\"app_number\":4}");
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_SUCCESS);
    assert_int_equal(v.app_number, 4);
    sl_wire_frame_clear(&f);
    free(out);
    assert_int_equal(
        sl_wire_build_generation_result(NULL, "error", -1, "Template not found", &out, NULL), 0);
    assert_string_equal(out, "{\"type\":\"generation_result\",\"status\":\"error\","
                             "\"error\":\"Template not found\"}");
    assert_int_equal(s_parse_str(&f, out), 0);
    assert_int_equal(sl_wire_classify(&f, &v), 0);
    assert_int_equal(v.outcome, SL_OUT_VERDICT);
    sl_wire_frame_clear(&f);
    free(out);

    /* only frames that end an attempt are terminal */
    const char *live[] = {"{\"type\":\"accepted\",\"id\":\"a\"}", "{\"type\":\"heartbeat\"}",
                          "{\"type\":\"progress\",\"id\":\"a\"}", "{\"type\":\"pong\"}",
                          "{\"type\":\"status_update\"}",         "{\"type\":\"new_thing\"}"};
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
        assert_int_equal(s_parse_str(&f, live[i]), 0);
        assert_false(sl_wire_frame_is_terminal(&f));
        sl_wire_frame_clear(&f);
    }
    assert_false(sl_wire_frame_is_terminal(NULL));

    assert_int_equal(sl_wire_build_cancel(NULL, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_accepted(NULL, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_cancelled(NULL, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_progress(NULL, "s", 1, NULL, NULL, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_error("x", NULL, &out, NULL), SL_EINVAL);
    assert_int_equal(sl_wire_build_ping("bad\xc3", &out, NULL), SL_EINVAL);
}

static void test_wire_names(void **state)
{
    (void)state;
    assert_string_equal(sl_wire_kind_name(SL_WIRE_ANALYSIS_RESULT), "analysis_result");
    assert_string_equal(sl_wire_kind_name(SL_WIRE_CANCEL), "cancel");
    assert_string_equal(sl_wire_kind_name(SL_WIRE__KIND_COUNT), "invalid");
}

/* Progress "data" and sluicectl requests: every JSON type keeps its msgpack
   type, NULL is nil, a tree deeper than the limit is cut to nil and said. */
/* msgpack -> JSON (the options a request carries): round trip through
   json_to_mp, and what has no JSON form refused. */
static void test_wire_mp_to_json(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"s\":\"x\",\"i\":-3,\"d\":1.5,\"t\":true,\"n\":null,"
                           "\"a\":[1,[2,{\"k\":\"v\"}]]}",
                           0, NULL);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_wire_json_to_mp(&w, j, SL_WIRE_JSON_MAX_DEPTH), 0);
    json_t *back = NULL;
    assert_int_equal(sl_wire_mp_to_json(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &back), 0);
    assert_true(json_equal(back, j));
    json_decref(back);
    /* truncated, bin, a non-string key */
    assert_int_equal(sl_wire_mp_to_json(sl_mp_writer_data(&w), sl_mp_writer_len(&w) - 1, &back) < 0,
                     1);
    assert_null(back);
    static const uint8_t bin[] = {0x81, 0xa1, 'b', 0xc4, 0x01, 0x00};
    assert_int_equal(sl_wire_mp_to_json(bin, sizeof bin, &back), SL_EPROTO);
    static const uint8_t intkey[] = {0x81, 0x01, 0x02};
    assert_int_equal(sl_wire_mp_to_json(intkey, sizeof intkey, &back), SL_EPROTO);
    static const uint8_t badutf8[] = {0x81, 0xa1, 'k', 0xa1, 0xff};
    assert_int_equal(sl_wire_mp_to_json(badutf8, sizeof badutf8, &back), SL_EPROTO);
    assert_int_equal(sl_wire_mp_to_json(NULL, 1, &back), SL_EINVAL);
    /* deeper than SL_WIRE_JSON_MAX_DEPTH */
    uint8_t deep[64];
    for (size_t i = 0; i < sizeof deep - 1; i++) {
        deep[i] = 0x91; /* [ [ [ ... */
    }
    deep[sizeof deep - 1] = 0x01;
    assert_int_equal(sl_wire_mp_to_json(deep, sizeof deep, &back), SL_ETOOBIG);
    assert_null(back);
    sl_mp_writer_fini(&w);
    json_decref(j);
}

static void test_wire_json_to_mp(void **state)
{
    (void)state;
    json_t *j = json_loads("{\"s\":\"x\",\"i\":-3,\"d\":1.5,\"t\":true,\"f\":false,"
                           "\"n\":null,\"a\":[1,[2]]}",
                           0, NULL);
    assert_non_null(j);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_wire_json_to_mp(&w, j, SL_WIRE_JSON_MAX_DEPTH), 0);
    sl_mp_reader_t r, v;
    sl_mp_reader_init(&r, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    assert_int_equal(sl_mp_validate(sl_mp_writer_data(&w), sl_mp_writer_len(&w)), 0);
    const char *s;
    size_t len;
    int64_t i;
    double d;
    bool b;
    uint32_t n;
    assert_int_equal(sl_mp_reader_find(&r, "s", &v), 0);
    assert_int_equal(sl_mp_read_str(&v, &s, &len), 0);
    assert_int_equal(len, 1);
    assert_int_equal(sl_mp_reader_find(&r, "i", &v), 0);
    assert_int_equal(sl_mp_read_int(&v, &i), 0);
    assert_int_equal(i, -3);
    assert_int_equal(sl_mp_reader_find(&r, "d", &v), 0);
    assert_int_equal(sl_mp_read_double(&v, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(sl_mp_reader_find(&r, "t", &v), 0);
    assert_int_equal(sl_mp_read_bool(&v, &b), 0);
    assert_true(b);
    assert_int_equal(sl_mp_reader_find(&r, "n", &v), 0);
    assert_int_equal(sl_mp_peek(&v), SL_MP_NIL);
    assert_int_equal(sl_mp_reader_find(&r, "a", &v), 0);
    assert_int_equal(sl_mp_read_array(&v, &n), 0);
    assert_int_equal(n, 2);
    json_decref(j);

    /* Level 3 of [[[1]]] with max_depth 2: cut to nil, still one object. */
    j = json_loads("[[[1]]]", 0, NULL);
    sl_mp_writer_reset(&w);
    assert_int_equal(sl_wire_json_to_mp(&w, j, 2), SL_ETOOBIG);
    assert_int_equal(sl_mp_writer_len(&w), 3);
    assert_memory_equal(sl_mp_writer_data(&w), "\x91\x91\xc0", 3);
    json_decref(j);

    sl_mp_writer_reset(&w);
    assert_int_equal(sl_wire_json_to_mp(&w, NULL, SL_WIRE_JSON_MAX_DEPTH), 0);
    assert_int_equal(sl_mp_writer_len(&w), 1);
    assert_int_equal(sl_mp_writer_data(&w)[0], 0xc0);
    sl_mp_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_analyze_capture_parses),
        cmocka_unit_test(test_wire_missing_app_is_verdict),
        cmocka_unit_test(test_wire_basic_capture_parses),
        cmocka_unit_test(test_wire_progress_capture_parses),
        cmocka_unit_test(test_wire_trimmed_result_parses),
        cmocka_unit_test(test_wire_tool_names),
        cmocka_unit_test(test_wire_tools_report_real_results),
        cmocka_unit_test(test_wire_tools_report_statuses),
        cmocka_unit_test(test_wire_utf8_trim),
        cmocka_unit_test(test_wire_cut_texts_stay_utf8),
        cmocka_unit_test(test_wire_build_matches_capture),
        cmocka_unit_test(test_wire_build_matches_fleet_client),
        cmocka_unit_test(test_wire_build_analyze_options),
        cmocka_unit_test(test_wire_build_analyze_resume_from),
        cmocka_unit_test(test_wire_build_generate),
        cmocka_unit_test(test_wire_classify_statuses),
        cmocka_unit_test(test_wire_classify_truncates_on_utf8_boundary),
        cmocka_unit_test(test_wire_malformed_input_rejected),
        cmocka_unit_test(test_wire_deep_nesting_rejected),
        cmocka_unit_test(test_wire_oversize_rejected),
        cmocka_unit_test(test_wire_mux_round_trip),
        cmocka_unit_test(test_wire_names),
        cmocka_unit_test(test_wire_json_to_mp),
        cmocka_unit_test(test_wire_mp_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
