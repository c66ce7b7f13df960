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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_pipeline_mailbox),
        cmocka_unit_test(test_ids_endpoint_mailbox),
        cmocka_unit_test(test_ids_fixed_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
