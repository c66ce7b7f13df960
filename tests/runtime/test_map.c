/*  test_map.c: the hash map (runtime/sl_map.h) with integer and string
    keys: put/get/replace/take, deletion that keeps probe runs intact,
    string keys compared (two keys with one hash stay two entries), the walk,
    growth to 100k entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "runtime/sl_hash.h"
#include "runtime/sl_map.h"

static void test_map_int_put_get_take(void **unused)
{
    (void)unused;
    sl_map_t m = {0};
    int a, b;
    assert_null(sl_map_get(&m, 7));
    assert_null(sl_map_take(&m, 7));
    assert_int_equal(sl_map_put(&m, 0, &a), SL_EINVAL);
    assert_int_equal(sl_map_put(&m, 7, &a), 0);
    assert_int_equal(sl_map_put(&m, 8, &b), 0);
    assert_ptr_equal(sl_map_get(&m, 7), &a);
    assert_int_equal(sl_map_put(&m, 7, &b), 0); /* replaces */
    assert_int_equal(m.count, 2);
    assert_ptr_equal(sl_map_get(&m, 7), &b);
    assert_ptr_equal(sl_map_take(&m, 7), &b);
    assert_null(sl_map_get(&m, 7));
    assert_ptr_equal(sl_map_get(&m, 8), &b);
    assert_int_equal(m.count, 1);
    sl_map_fini(&m);
    assert_int_equal(m.count, 0);
    assert_null(sl_map_get(&m, 8));
}

static void test_map_int_delete_keeps_probe_runs(void **unused)
{
    (void)unused;
    sl_map_t m;
    sl_map_init(&m);
    static int vals[100000];
    for (uint64_t k = 1; k <= 100000; k++) {
        assert_int_equal(sl_map_put(&m, k, &vals[k - 1]), 0);
    }
    for (uint64_t k = 1; k <= 100000; k += 2) {
        assert_ptr_equal(sl_map_take(&m, k), &vals[k - 1]);
    }
    assert_null(sl_map_take(&m, 1));
    assert_int_equal(m.count, 50000);
    for (uint64_t k = 1; k <= 100000; k++) {
        void *v = sl_map_get(&m, k);
        if (k % 2) {
            assert_null(v);
        } else {
            assert_ptr_equal(v, &vals[k - 1]);
        }
    }
    sl_map_fini(&m);
}

static void test_map_str_delete_keeps_probe_runs(void **unused)
{
    (void)unused;
    sl_map_t m = {0};
    static char keys[2000][16];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        assert_int_equal(sl_map_put_str(&m, keys[i], keys[i]), 0);
    }
    for (int i = 0; i < 2000; i += 2) {
        char probe[16];
        snprintf(probe, sizeof(probe), "k%d", i); /* equal, not the same pointer */
        assert_ptr_equal(sl_map_take_str(&m, probe), keys[i]);
    }
    assert_null(sl_map_take_str(&m, "absent"));
    assert_int_equal(m.count, 1000);
    for (int i = 0; i < 2000; i++) {
        void *v = sl_map_get_str(&m, keys[i]);
        if (i % 2) {
            assert_ptr_equal(v, keys[i]);
        } else {
            assert_null(v);
        }
    }
    sl_map_fini(&m);
}

static void test_map_str_colliding_keys_stay_apart(void **unused)
{
    (void)unused;
    /* Two attempt ids with the same FNV-1a 32 hash. */
    const char *x = "t439599-a1", *y = "t622382-a1";
    assert_int_equal(sl_hash_str(x), sl_hash_str(y));
    sl_map_t m = {0};
    int a, b;
    assert_int_equal(sl_map_put_str(&m, x, &a), 0);
    assert_null(sl_map_get_str(&m, y));
    assert_int_equal(sl_map_put_str(&m, y, &b), 0);
    assert_int_equal(m.count, 2);
    assert_ptr_equal(sl_map_get_str(&m, x), &a);
    assert_ptr_equal(sl_map_get_str(&m, y), &b);
    assert_ptr_equal(sl_map_take_str(&m, x), &a);
    assert_ptr_equal(sl_map_get_str(&m, y), &b);
    sl_map_fini(&m);
}

static void test_map_str_replace_borrows_the_new_key(void **unused)
{
    (void)unused;
    sl_map_t m = {0};
    char *k1 = strdup("same"), *k2 = strdup("same");
    int a, b;
    assert_int_equal(sl_map_put_str(&m, k1, &a), 0);
    assert_int_equal(sl_map_put_str(&m, k2, &b), 0);
    free(k1); /* the map now holds k2 */
    assert_int_equal(m.count, 1);
    assert_ptr_equal(sl_map_get_str(&m, "same"), &b);
    sl_map_fini(&m);
    free(k2);
}

static void test_map_walk_visits_each_entry_once(void **unused)
{
    (void)unused;
    sl_map_t m = {0};
    static int vals[300];
    for (uint64_t k = 1; k <= 300; k++) {
        vals[k - 1] = 0;
        assert_int_equal(sl_map_put(&m, k, &vals[k - 1]), 0);
    }
    int n = 0;
    void *v;
    for (size_t pos = 0; sl_map_next(&m, &pos, &v);) {
        (*(int *)v)++;
        n++;
    }
    assert_int_equal(n, 300);
    for (int i = 0; i < 300; i++) {
        assert_int_equal(vals[i], 1);
    }
    sl_map_fini(&m);
    size_t pos = 0;
    assert_false(sl_map_next(&m, &pos, &v));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_int_put_get_take),
        cmocka_unit_test(test_map_int_delete_keeps_probe_runs),
        cmocka_unit_test(test_map_str_delete_keeps_probe_runs),
        cmocka_unit_test(test_map_str_colliding_keys_stay_apart),
        cmocka_unit_test(test_map_str_replace_borrows_the_new_key),
        cmocka_unit_test(test_map_walk_visits_each_entry_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
