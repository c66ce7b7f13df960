/*  test_db.c: the store's synchronous LMDB layer (actors/store/sl_db.c) against
    real LMDB in temporary directories: reopen, schema and lock refusal,
    batches, scans, corruption detection and quarantine, a large store.
    Everything runs on the test thread, except a forked child that holds a
    data directory.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "actors/store/sl_db.h"
#include "tests/ttmp.h"

typedef struct {
    char dir[64];
    char err[256];
} fx_t;

static int s_setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (ttmp_make(fx->dir, sizeof(fx->dir), "sl_test_db") != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    ttmp_remove(fx->dir);
    free(fx);
    return 0;
}

static sl_db_t *s_open(fx_t *fx, uint64_t map_size)
{
    sl_db_config_t cfg = {.dir = fx->dir, .map_size = map_size, .nosync = false};
    sl_db_t *db = NULL;
    int rc = sl_db_open(&cfg, &db, fx->err, sizeof fx->err);
    if (rc != 0) {
        fail_msg("open %s: %s (%s)", fx->dir, sl_err_name(rc), fx->err);
    }
    return db;
}

static void s_put_str(sl_db_t *db, unsigned dbi, const char *k, const char *v)
{
    assert_int_equal(sl_db_put(db, dbi, k, strlen(k), v, strlen(v)), 0);
}

static void s_expect(sl_db_t *db, unsigned dbi, const char *k, const char *want)
{
    uint8_t *v = NULL;
    size_t n = 0;
    int rc = sl_db_get(db, dbi, k, strlen(k), &v, &n);
    if (!want) {
        assert_int_equal(rc, SL_ENOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    free(v);
}

/* Writes raw bytes (no sluice header handling) straight into the env, the
   way a disk fault or a foreign tool would. */
static void s_raw_put(const char *dir, const char *dbname, const void *k, size_t kl, const void *v,
                      size_t vl)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, dbname, 0, &dbi), 0);
    MDB_val mk = {.mv_size = kl, .mv_data = (void *)k};
    MDB_val mv = {.mv_size = vl, .mv_data = (void *)v};
    assert_int_equal(mdb_put(txn, dbi, &mk, &mv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int s_raw_get(const char *dir, const char *dbname, const void *k, size_t kl, uint8_t *out,
                     size_t cap, size_t *len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, dbname, 0, &dbi), 0);
    MDB_val mk = {.mv_size = kl, .mv_data = (void *)k};
    MDB_val mv;
    int rc = mdb_get(txn, dbi, &mk, &mv);
    if (rc == 0) {
        assert_true(mv.mv_size <= cap);
        memcpy(out, mv.mv_data, mv.mv_size);
        *len = mv.mv_size;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return rc;
}

static void test_db_open_reopen(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 0);
    assert_int_equal(sl_db_last_seq(db), 0);
    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_PIPELINES, "p1", "one");
    s_put_str(db, SL_DB_TASKS, "p1-t0001", "task");
    uint64_t seq = sl_db_next_seq(db);
    assert_int_equal(seq, 1);
    assert_int_equal(sl_db_put_event(db, seq, "ev1", 3), 0);
    assert_int_equal(sl_db_put_event(db, 2, "ev2", 3), 0);
    assert_int_equal(sl_db_commit(db), 0);
    assert_int_equal(sl_db_last_seq(db), 2);
    sl_db_close(&db);
    assert_null(db);

    db = s_open(fx, 0);
    assert_int_equal(sl_db_last_seq(db), 2);
    assert_int_equal(sl_db_next_seq(db), 3);
    s_expect(db, SL_DB_PIPELINES, "p1", "one");
    s_expect(db, SL_DB_TASKS, "p1-t0001", "task");
    uint8_t k[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    uint8_t *v = NULL;
    size_t n = 0;
    assert_int_equal(sl_db_get(db, SL_DB_EVENTS, k, 8, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "ev2", 3);
    free(v);
    sl_db_close(&db);
    sl_db_close(&db); /* NULL is fine */
}

static void test_db_schema_mismatch_refused(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 0);
    sl_db_close(&db);

    /* A future sluice wrote schema 2 (with a valid header). */
    uint8_t val[12] = {'S', 'L', 'V', 1, 0, 0, 0, 0, 0, 0, 0, 2};
    uint32_t crc = sl_db_crc32(0, val + 8, 4);
    val[4] = (uint8_t)crc;
    val[5] = (uint8_t)(crc >> 8);
    val[6] = (uint8_t)(crc >> 16);
    val[7] = (uint8_t)(crc >> 24);
    s_raw_put(fx->dir, "meta", "schema", 6, val, sizeof val);

    sl_db_config_t cfg = {.dir = fx->dir};
    assert_int_equal(sl_db_open(&cfg, &db, fx->err, sizeof fx->err), SL_EVERSION);
    assert_null(db);
    assert_non_null(strstr(fx->err, "schema version 2"));
    assert_non_null(strstr(fx->err, fx->dir));

    /* A corrupt schema record is refused too, not trusted. */
    val[11] = 1;
    s_raw_put(fx->dir, "meta", "schema", 6, val, sizeof val);
    assert_int_equal(sl_db_open(&cfg, &db, fx->err, sizeof fx->err), SL_ECORRUPT);
    assert_null(db);
}

static void test_db_lock_held_refused(void **state)
{
    fx_t *fx = *state;
    int ready[2], release[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Child: hold the directory until the parent says so. No cmocka
           here: report through the exit status. */
        sl_db_config_t cfg = {.dir = fx->dir};
        sl_db_t *db = NULL;
        char c = sl_db_open(&cfg, &db, NULL, 0) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) {
            _exit(2);
        }
        char r;
        ssize_t got = read(release[0], &r, 1); /* EOF if the parent dies */
        (void)got;
        sl_db_close(&db);
        _exit(c == 'y' ? 0 : 1);
    }
    close(ready[1]);
    close(release[0]);
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');

    sl_db_config_t cfg = {.dir = fx->dir};
    sl_db_t *db = NULL;
    assert_int_equal(sl_db_open(&cfg, &db, fx->err, sizeof fx->err), SL_EBUSY);
    assert_null(db);
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "pid %ld", (long)pid);
    assert_non_null(strstr(fx->err, pidtext));
    assert_non_null(strstr(fx->err, fx->dir));

    assert_int_equal(write(release[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(ready[0]);
    close(release[1]);

    /* Released: the next daemon gets it. */
    db = s_open(fx, 0);
    sl_db_close(&db);
}

static void test_db_dir_not_usable_refused(void **state)
{
    fx_t *fx = *state;
    char path[128];
    snprintf(path, sizeof path, "%s/file", fx->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    sl_db_config_t cfg = {.dir = path};
    sl_db_t *db = NULL;
    assert_int_equal(sl_db_open(&cfg, &db, fx->err, sizeof fx->err), SL_EIO);
    assert_null(db);
    assert_non_null(strstr(fx->err, path));
    cfg.dir = NULL;
    assert_int_equal(sl_db_open(&cfg, &db, fx->err, sizeof fx->err), SL_EINVAL);
}

static void test_db_batch_apply(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 0);
    assert_int_equal(sl_db_put(db, SL_DB_TASKS, "k", 1, "v", 1), SL_ESTATE);
    assert_int_equal(sl_db_commit(db), SL_ESTATE);

    assert_int_equal(sl_db_begin(db), 0);
    assert_int_equal(sl_db_begin(db), SL_ESTATE);
    s_put_str(db, SL_DB_TASKS, "a", "1");
    s_put_str(db, SL_DB_TASKS, "b", "2");
    s_put_str(db, SL_DB_RESULTS, "a", "");
    /* meta, events and quarantine are the store's own. */
    assert_int_equal(sl_db_put(db, SL_DB_META, "x", 1, "v", 1), SL_EINVAL);
    assert_int_equal(sl_db_put(db, SL_DB_EVENTS, "x", 1, "v", 1), SL_EINVAL);
    assert_int_equal(sl_db_put(db, SL_DB_QUARANTINE, "x", 1, "v", 1), SL_EINVAL);
    assert_int_equal(sl_db_put(db, 99, "x", 1, "v", 1), SL_EINVAL);
    assert_int_equal(sl_db_put(db, SL_DB_TASKS, "", 0, "v", 1), SL_EINVAL);
    char big[SL_DB_MAX_KEY + 1];
    memset(big, 'k', sizeof big);
    assert_int_equal(sl_db_put(db, SL_DB_TASKS, big, sizeof big, "v", 1), SL_EINVAL);
    /* A seq out of order would leave a gap. */
    assert_int_equal(sl_db_put_event(db, 2, "e", 1), SL_EINVAL);
    assert_int_equal(sl_db_put_event(db, 1, "e1", 2), 0);
    assert_int_equal(sl_db_next_seq(db), 2);
    assert_int_equal(sl_db_get(db, SL_DB_TASKS, "a", 1, &(uint8_t *){0}, &(size_t){0}), SL_ESTATE);
    assert_int_equal(sl_db_commit(db), 0);
    s_expect(db, SL_DB_TASKS, "a", "1");
    s_expect(db, SL_DB_RESULTS, "a", "");
    assert_int_equal(sl_db_count(db, SL_DB_TASKS), 2);

    /* Overwrite, delete (also of a missing key), then abort: nothing. */
    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_TASKS, "a", "changed");
    assert_int_equal(sl_db_del(db, SL_DB_TASKS, "b", 1), 0);
    assert_int_equal(sl_db_put_event(db, 2, "e2", 2), 0);
    sl_db_abort(db);
    s_expect(db, SL_DB_TASKS, "a", "1");
    s_expect(db, SL_DB_TASKS, "b", "2");
    assert_int_equal(sl_db_last_seq(db), 1);
    assert_int_equal(sl_db_next_seq(db), 2);

    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_TASKS, "a", "changed");
    assert_int_equal(sl_db_del(db, SL_DB_TASKS, "b", 1), 0);
    assert_int_equal(sl_db_del(db, SL_DB_TASKS, "zz", 2), 0);
    assert_int_equal(sl_db_put_event(db, 2, "e2", 2), 0);
    assert_int_equal(sl_db_commit(db), 0);
    s_expect(db, SL_DB_TASKS, "a", "changed");
    s_expect(db, SL_DB_TASKS, "b", NULL);
    assert_int_equal(sl_db_last_seq(db), 2);
    sl_db_close(&db);
}

typedef struct {
    char keys[32][16];
    int n;
    int corrupt;
} rows_t;

static int s_collect(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                     int status)
{
    rows_t *r = arg;
    if (status != 0) {
        r->corrupt++;
        return 0;
    }
    if (r->n < 32 && klen < 16) {
        memcpy(r->keys[r->n], key, klen);
        r->keys[r->n][klen] = '\0';
        r->n++;
    }
    return 0;
}

static void test_db_scan_prefix_start_after_limit(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 0);
    assert_int_equal(sl_db_begin(db), 0);
    const char *keys[] = {"a/001", "a/002", "a/003", "a/004", "a/005",
                          "a/006", "b/001", "b/002", "c/001"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        s_put_str(db, SL_DB_TASKS, keys[i], "v");
    }
    assert_int_equal(sl_db_commit(db), 0);

    rows_t r = {0};
    bool more = false;
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "a/", 2, "a/003", 5, 2, s_collect, &r, &more), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0], "a/004");
    assert_string_equal(r.keys[1], "a/005");
    assert_true(more);

    memset(&r, 0, sizeof r);
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "a/", 2, "a/005", 5, 10, s_collect, &r, &more), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.keys[0], "a/006");
    assert_false(more);

    /* start_after before the prefix: from the prefix's start. */
    memset(&r, 0, sizeof r);
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "b/", 2, "a/003", 5, 0, s_collect, &r, &more), 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.keys[0], "b/001");
    assert_string_equal(r.keys[1], "b/002");

    /* start_after a key that does not exist, no prefix, no limit. */
    memset(&r, 0, sizeof r);
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, NULL, 0, "a/0055", 6, 0, s_collect, &r, &more), 0);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.keys[0], "a/006");
    assert_string_equal(r.keys[3], "c/001");

    /* No match at all. */
    memset(&r, 0, sizeof r);
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "zz", 2, NULL, 0, 0, s_collect, &r, &more), 0);
    assert_int_equal(r.n, 0);
    assert_false(more);
    assert_int_equal(sl_db_scan(db, 42, NULL, 0, NULL, 0, 0, s_collect, &r, &more), SL_EINVAL);
    sl_db_close(&db);
}

static void test_db_corrupt_value_quarantined(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 0);
    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_TASKS, "t1", "good one");
    s_put_str(db, SL_DB_TASKS, "t2", "soon flipped");
    s_put_str(db, SL_DB_TASKS, "t3", "good three");
    assert_int_equal(sl_db_commit(db), 0);
    sl_db_close(&db);

    /* Flip one payload byte of t2 on disk, and cut t3 shorter than a header. */
    uint8_t raw[64];
    size_t n = 0;
    assert_int_equal(s_raw_get(fx->dir, "tasks", "t2", 2, raw, sizeof raw, &n), 0);
    assert_int_equal(n, SL_DB_VALUE_HEADER + 12);
    raw[SL_DB_VALUE_HEADER + 3] ^= 0x20;
    s_raw_put(fx->dir, "tasks", "t2", 2, raw, n);

    db = s_open(fx, 0);
    uint8_t *v = NULL;
    size_t vl = 0;
    assert_int_equal(sl_db_get(db, SL_DB_TASKS, "t2", 2, &v, &vl), SL_ECORRUPT);
    assert_null(v);
    s_expect(db, SL_DB_TASKS, "t1", "good one");

    rows_t r = {0};
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "t", 1, NULL, 0, 0, s_collect, &r, NULL), 0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.corrupt, 1);

    assert_int_equal(sl_db_begin(db), 0);
    assert_int_equal(sl_db_quarantine(db, SL_DB_TASKS, "t2", 2), 0);
    assert_int_equal(sl_db_quarantine(db, SL_DB_TASKS, "nope", 4), SL_ENOTFOUND);
    assert_int_equal(sl_db_commit(db), 0);
    assert_int_equal(sl_db_get(db, SL_DB_TASKS, "t2", 2, &v, &vl), SL_ENOTFOUND);
    assert_int_equal(sl_db_count(db, SL_DB_QUARANTINE), 1);
    /* The quarantined copy keeps the original raw bytes. */
    uint8_t qk[3] = {SL_DB_TASKS, 't', '2'};
    assert_int_equal(sl_db_get(db, SL_DB_QUARANTINE, qk, 3, &v, &vl), 0);
    assert_int_equal(vl, n);
    assert_memory_equal(v, raw, n);
    free(v);
    sl_db_close(&db);

    /* Too short to hold a header at all. */
    s_raw_put(fx->dir, "tasks", "t3", 2, "SLV", 3);
    db = s_open(fx, 0);
    assert_int_equal(sl_db_get(db, SL_DB_TASKS, "t3", 2, &v, &vl), SL_ECORRUPT);
    sl_db_close(&db);
}

static void test_db_map_full_fails_cleanly(void **state)
{
    fx_t *fx = *state;
    sl_db_t *db = s_open(fx, 1u << 20); /* 1 MiB */
    size_t big = 2u << 20;
    uint8_t *blob = calloc(1, big);
    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_TASKS, "small", "v");
    int rc = sl_db_put(db, SL_DB_RESULTS, "big", 3, blob, big);
    if (rc == 0) {
        rc = sl_db_commit(db);
    } else {
        sl_db_abort(db);
    }
    assert_int_equal(rc, SL_EFULL);
    free(blob);
    /* Nothing of that transaction is stored, and the db still works. */
    s_expect(db, SL_DB_TASKS, "small", NULL);
    assert_int_equal(sl_db_begin(db), 0);
    s_put_str(db, SL_DB_TASKS, "after", "ok");
    assert_int_equal(sl_db_commit(db), 0);
    s_expect(db, SL_DB_TASKS, "after", "ok");
    sl_db_close(&db);
}

static int s_count_rows(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                        int status)
{
    size_t *n = arg;
    if (status == 0 && vlen == 24) {
        (*n)++;
    }
    return 0;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_db_large_store_reopen_scan(void **state)
{
    fx_t *fx = *state;
    const int total = 100000, per_commit = 1000;
    double t0 = s_now();
    sl_db_t *db = s_open(fx, 0);
    char key[32], val[25];
    for (int c = 0; c < total / per_commit; c++) {
        assert_int_equal(sl_db_begin(db), 0);
        for (int i = 0; i < per_commit; i++) {
            int id = c * per_commit + i;
            snprintf(key, sizeof key, "p%012d-t0001", id);
            snprintf(val, sizeof val, "record-%017d", id);
            assert_int_equal(sl_db_put(db, SL_DB_TASKS, key, strlen(key), val, 24), 0);
        }
        assert_int_equal(sl_db_commit(db), 0);
    }
    sl_db_close(&db);
    double t1 = s_now();

    db = s_open(fx, 0);
    size_t n = 0;
    assert_int_equal(sl_db_scan(db, SL_DB_TASKS, "p", 1, NULL, 0, 0, s_count_rows, &n, NULL), 0);
    double t2 = s_now();
    assert_int_equal(n, (size_t)total);
    assert_int_equal(sl_db_count(db, SL_DB_TASKS), (uint64_t)total);
    print_message("100k records: write %.2f s, reopen+scan %.3f s\n", t1 - t0, t2 - t1);
    assert_true(t2 - t1 < 5.0);
    sl_db_close(&db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_db_open_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_schema_mismatch_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_lock_held_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_dir_not_usable_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_batch_apply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_scan_prefix_start_after_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_corrupt_value_quarantined, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_map_full_fails_cleanly, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_db_large_store_reopen_scan, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
