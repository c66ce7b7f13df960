/*  test_log.c: the json log format (runtime/sl_log.c), parsed back with
    jansson as a log shipper would: the stable fields, the ids lifted out
    of the message, escaping, bytes that are not UTF-8, truncation.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "runtime/sl_log.h"

/* One record through sl_log_json_line, parsed; fails the test unless it
   is one JSON object on one line. */
static json_t *s_record(sl_log_level_t level, const char *actor, const char *msg, size_t size)
{
    char line[16384];
    assert_true(size <= sizeof(line));
    size_t len = sl_log_json_line(line, size, level, actor, msg);
    assert_true(len > 0 && len < size);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    json_error_t err;
    json_t *rec = json_loadb(line, len, 0, &err);
    if (!rec) {
        fail_msg("not JSON (%s): %.*s", err.text, (int)len, line);
    }
    assert_true(json_is_object(rec));
    return rec;
}

static const char *s_str(json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_log_json_fields(void **state)
{
    json_t *rec = s_record(SL_LOG_WARN, "pipeline.3",
                           "pipeline.3: task p0191a2b3c4d5e6f7a8-t0007 attempt 2 on "
                           "ws://static-1:2001 failed: transport",
                           8192);
    assert_non_null(s_str(rec, "ts"));
    assert_int_equal(strlen(s_str(rec, "ts")), strlen("2026-01-01T00:00:00.000Z"));
    assert_string_equal(s_str(rec, "level"), "warn");
    assert_string_equal(s_str(rec, "actor"), "pipeline.3");
    assert_string_equal(s_str(rec, "pipeline_id"), "p0191a2b3c4d5e6f7a8");
    assert_string_equal(s_str(rec, "task_id"), "p0191a2b3c4d5e6f7a8-t0007");
    assert_string_equal(s_str(rec, "replica"), "ws://static-1:2001");
    assert_non_null(strstr(s_str(rec, "msg"), "failed: transport"));
    json_decref(rec);

    /* a pipeline id alone; nothing that only looks like one */
    rec = s_record(SL_LOG_INFO, "main", "pipeline p0191a2b3c4d5e6f7a8 finalized (completed)", 8192);
    assert_string_equal(s_str(rec, "pipeline_id"), "p0191a2b3c4d5e6f7a8");
    assert_true(json_is_null(json_object_get(rec, "task_id")));
    assert_true(json_is_null(json_object_get(rec, "replica")));
    json_decref(rec);
    rec = s_record(SL_LOG_DEBUG, "main",
                   "pipeline.0 ping p0191a2b3c4d5e6f7a8ff and xp0191a2b3c4d5e6f7a8", 8192);
    assert_string_equal(s_str(rec, "level"), "debug");
    assert_true(json_is_null(json_object_get(rec, "pipeline_id")));
    json_decref(rec);
}

static void test_log_json_escaping(void **state)
{
    /* quotes, backslashes, control bytes, valid UTF-8 kept, bytes that are
       not UTF-8 (a lone continuation, a truncated sequence, an overlong
       form) replaced */
    const char *msg = "say \"hi\" \\ tab\there\nnew \x01 caf\xc3\xa9 bad \x80 cut \xe2\x82 "
                      "overlong \xc0\xaf end";
    json_t *rec = s_record(SL_LOG_ERROR, "endpoint.\"x\"", msg, 8192);
    assert_string_equal(s_str(rec, "actor"), "endpoint.\"x\"");
    assert_string_equal(s_str(rec, "msg"), "say \"hi\" \\ tab\there\nnew \x01 caf\xc3\xa9 bad "
                                           "\xef\xbf\xbd cut \xef\xbf\xbd\xef\xbf\xbd overlong "
                                           "\xef\xbf\xbd\xef\xbf\xbd end");
    json_decref(rec);
}

static void test_log_json_truncated_stays_valid(void **state)
{
    char msg[4000];
    for (size_t i = 0; i < sizeof(msg) - 1; i++) {
        msg[i] = i % 7 == 0 ? '"' : 'a';
    }
    msg[sizeof(msg) - 1] = '\0';
    json_t *rec = s_record(SL_LOG_INFO, "main", msg, 1024);
    assert_true(strlen(s_str(rec, "msg")) < strlen(msg));
    assert_true(json_is_null(json_object_get(rec, "replica")));
    json_decref(rec);
}

static void test_log_format_parse(void **state)
{
    sl_log_format_t f;
    assert_int_equal(sl_log_parse_format("json", &f), 0);
    assert_int_equal(f, SL_LOG_JSON);
    assert_int_equal(sl_log_parse_format("text", &f), 0);
    assert_int_equal(f, SL_LOG_TEXT);
    assert_int_equal(sl_log_parse_format("JSON", &f), SL_EINVAL);
    assert_int_equal(sl_log_parse_format(NULL, &f), SL_EINVAL);
    sl_log_set_format(SL_LOG_JSON);
    assert_int_equal(sl_log_get_format(), SL_LOG_JSON);
    sl_log_set_format((sl_log_format_t)7); /* ignored */
    assert_int_equal(sl_log_get_format(), SL_LOG_JSON);
    sl_log_set_format(SL_LOG_TEXT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_json_fields),
        cmocka_unit_test(test_log_json_escaping),
        cmocka_unit_test(test_log_json_truncated_stays_valid),
        cmocka_unit_test(test_log_format_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
