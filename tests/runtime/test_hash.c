/*  test_hash.c: the one string hash and integer mixer (runtime/sl_hash.h):
    FNV-1a 32 matches the published vectors (it places pipelines on shards,
    so it must never change), the incremental form composes, and the mixer
    spreads sequential ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "runtime/sl_hash.h"

static void test_hash_fnv1a32_vectors(void **unused)
{
    (void)unused;
    assert_int_equal(sl_hash_str(""), 0x811c9dc5u);
    assert_int_equal(sl_hash_str("a"), 0xe40c292cu);
    assert_int_equal(sl_hash_str("foobar"), 0xbf9cf968u);
    assert_int_equal(sl_hash_bytes("foobar", 6), 0xbf9cf968u);
    assert_int_equal(sl_hash_bytes("foobar", 3), sl_hash_str("foo"));
}

static void test_hash_incremental_composes(void **unused)
{
    (void)unused;
    uint32_t h = sl_hash_fnv32_add(SL_HASH_FNV32_BASIS, "foo", 3);
    h = sl_hash_fnv32_add(h, "bar", 3);
    assert_int_equal(h, sl_hash_str("foobar"));
    assert_int_equal(sl_hash_fnv32_add(SL_HASH_FNV32_BASIS, "", 0), sl_hash_str(""));
}

static void test_hash_u64_spreads_sequential_ids(void **unused)
{
    (void)unused;
    /* 1..1024 into 1024 buckets by the low bits: a random function fills
       about 63% of them; the identity would fill all of them in order, so
       also check that neighbours land far apart. */
    static bool used[1024];
    int filled = 0, adjacent = 0;
    for (uint64_t k = 1; k <= 1024; k++) {
        size_t b = (size_t)sl_hash_u64(k) & 1023;
        if (!used[b]) {
            used[b] = true;
            filled++;
        }
        size_t next = (size_t)sl_hash_u64(k + 1) & 1023;
        if (next == b + 1) {
            adjacent++;
        }
    }
    assert_true(filled > 550 && filled < 750);
    assert_true(adjacent < 10);
    assert_int_not_equal(sl_hash_u64(1), sl_hash_u64(2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_fnv1a32_vectors),
        cmocka_unit_test(test_hash_incremental_composes),
        cmocka_unit_test(test_hash_u64_spreads_sequential_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
