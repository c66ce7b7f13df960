/*  test_ids.c: the mailbox names of proto/sl_ids.h: one spelling for every
    actor, and names that do not fit are refused, never silently cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "proto/sl_ids.h"
#include "runtime/sl_err.h"

static void test_ids_pipeline_mailbox(void **unused)
{
    (void)unused;
    char name[32];
    assert_int_equal(sl_ids_pipeline_mailbox(name, sizeof(name), 0), 0);
    assert_string_equal(name, "pipeline.0");
    assert_int_equal(sl_ids_pipeline_mailbox(name, sizeof(name), 15), 0);
    assert_string_equal(name, "pipeline.15");
    char small[10];
    assert_int_equal(sl_ids_pipeline_mailbox(small, sizeof(small), 1), SL_ETOOBIG);
}

static void test_ids_endpoint_mailbox(void **unused)
{
    (void)unused;
    char name[32];
    assert_int_equal(sl_ids_endpoint_mailbox(name, sizeof(name), "static-analyzer"), 0);
    assert_string_equal(name, "endpoint.static-analyzer");
    assert_int_equal(sl_ids_endpoint_mailbox(name, sizeof(name), ""), SL_EINVAL);
    assert_string_equal(name, "");
    assert_int_equal(sl_ids_endpoint_mailbox(name, sizeof(name), NULL), SL_EINVAL);
    assert_int_equal(sl_ids_endpoint_mailbox(name, 12, "generator"), SL_ETOOBIG);
    assert_true(strncmp(SL_IDS_ENDPOINT_PREFIX, name, strlen(SL_IDS_ENDPOINT_PREFIX)) == 0);
}

static void test_ids_fixed_names(void **unused)
{
    (void)unused;
    /* docs/internals.md lists these; API clients and tests address them. */
    assert_string_equal(SL_IDS_STORE, "store");
    assert_string_equal(SL_IDS_API, "api");
    assert_string_equal(SL_IDS_PROGRESS, "progress");
    assert_string_equal(SL_IDS_WATCHDOG, "watchdog");
}

static void test_ids_attempt_wire(void **unused)
{
    (void)unused;
    char a[SL_IDS_MAX], b[SL_IDS_MAX], task[SL_IDS_MAX];
    const char *tid = "p0193f1c2a4b7c01a2f-t0007";
    assert_int_equal(sl_ids_attempt_wire(a, sizeof a, tid, 2), 0);
    assert_int_equal(sl_ids_attempt_wire(b, sizeof b, tid, 2), 0);
    /* Readable prefix, then 16 hex digits that differ between two ids. */
    assert_int_equal(strncmp(a, "p0193f1c2a4b7c01a2f-t0007-a2-", 29), 0);
    assert_int_equal(strlen(a), 29 + SL_IDS_ATTEMPT_RANDOM);
    assert_string_not_equal(a, b);
    uint64_t n = 0;
    assert_int_equal(sl_ids_attempt_parse(a, task, sizeof task, &n), 0);
    assert_string_equal(task, tid);
    assert_int_equal(n, 2);
    assert_int_equal(sl_ids_attempt_wire(a, sizeof a, "t1", 12), 0);
    assert_int_equal(sl_ids_attempt_parse(a, task, sizeof task, &n), 0);
    assert_string_equal(task, "t1");
    assert_int_equal(n, 12);
    /* The old guessable form and other shapes are not wire ids. */
    assert_int_equal(sl_ids_attempt_parse("p0193f1c2a4b7c01a2f-t0007-a2", task, sizeof task, &n),
                     SL_EINVAL);
    assert_int_equal(sl_ids_attempt_parse("t1-a-0123456789abcdef", task, sizeof task, &n),
                     SL_EINVAL);
    assert_int_equal(sl_ids_attempt_parse("t1-a1-0123456789abcdeg", task, sizeof task, &n),
                     SL_EINVAL);
    assert_int_equal(sl_ids_attempt_parse(NULL, task, sizeof task, &n), SL_EINVAL);
    assert_int_equal(sl_ids_attempt_wire(a, sizeof a, "", 1), SL_EINVAL);
    assert_int_equal(sl_ids_attempt_wire(a, 10, tid, 1), SL_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_pipeline_mailbox),
        cmocka_unit_test(test_ids_endpoint_mailbox),
        cmocka_unit_test(test_ids_fixed_names),
        cmocka_unit_test(test_ids_attempt_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
