/*  test_store.c: the store actor on a real runtime and real LMDB in a
    temporary directory. The test thread talks to it through ports (one
    named `api` receives EVENT_PUBLISH); concurrent writers are threads with
    their own ports, which only record what they saw for the test thread to
    assert on afterwards.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/config/sl_config.h"
#include "actors/store/sl_store.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "tests/ttmp.h"
#include "proto/sl_ids.h"

#define T_WAIT 5000 /* ms: every wait has a deadline */

typedef struct {
    char dir[64];
    sl_rt_t *rt;
    sl_actor_t *store;
    sl_port_t *port; /* "client" */
    sl_port_t *api;  /* "api": receives EVENT_PUBLISH */
    sl_store_counters_t counters;
    uint64_t map_size;
    int64_t retention_ms, prune_every_ms; /* the events prune (0: off) */
    uint64_t events_max;
} fx_t;

static int s_spawn(fx_t *fx)
{
    sl_store_config_t cfg = sl_store_config_defaults();
    cfg.data_dir = fx->dir;
    cfg.counters = &fx->counters;
    cfg.map_size = fx->map_size;
    cfg.retention_ms = fx->retention_ms;
    cfg.events_max = fx->events_max;
    if (fx->prune_every_ms) {
        cfg.prune_every_ms = fx->prune_every_ms;
    }
    return sl_store_spawn(fx->rt, &cfg, &fx->store);
}

/* A temp dir only: the case brings up what it needs. */
static int s_setup_bare(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    if (ttmp_make(fx->dir, sizeof(fx->dir), "sl_test_store") != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_setup(void **state)
{
    if (s_setup_bare(state) != 0) {
        return -1;
    }
    fx_t *fx = *state;
    fx->rt = sl_rt_new(NULL, NULL);
    fx->port = sl_port_new(fx->rt, "client");
    fx->api = sl_port_new(fx->rt, SL_IDS_API);
    if (!fx->rt || !fx->port || !fx->api || s_spawn(fx) != 0) {
        return -1;
    }
    return 0;
}

static int s_teardown(void **state)
{
    fx_t *fx = *state;
    sl_actor_destroy(&fx->store);
    sl_port_destroy(&fx->port);
    sl_port_destroy(&fx->api);
    sl_rt_destroy(&fx->rt);
    ttmp_remove(fx->dir);
    free(fx);
    return 0;
}

/* ---- building requests ---------------------------------------------------------- */

typedef struct {
    sl_mp_writer_t ops, events;
    uint32_t n_ops, n_events;
} batch_t;

static void s_batch_init(batch_t *b)
{
    memset(b, 0, sizeof *b);
    sl_mp_writer_init(&b->ops);
    sl_mp_writer_init(&b->events);
}

static void s_batch_put(batch_t *b, unsigned db, const char *key, const char *val)
{
    sl_store_op_t op = {.db = db,
                        .key = {(uint8_t *)key, strlen(key)},
                        .value = {(uint8_t *)val, val ? strlen(val) : 0},
                        .del = !val};
    assert_int_equal(sl_store_op_write(&op, &b->ops), 0);
    b->n_ops++;
}

static void s_batch_event(batch_t *b, const char *topic, const char *task_id)
{
    sl_mp_writer_t f;
    sl_mp_writer_init(&f);
    sl_mp_write_map(&f, 3);
    sl_mp_kv_str(&f, "task_id", task_id);
    sl_mp_kv_str(&f, "status", "running");
    sl_mp_kv_uint(&f, "seq", 999999); /* the store's seq wins */
    sl_store_event_t ev = {.topic = (char *)topic,
                           .fields = {(uint8_t *)sl_mp_writer_data(&f), sl_mp_writer_len(&f)}};
    assert_int_equal(sl_store_event_write(&ev, &b->events), 0);
    sl_mp_writer_fini(&f);
    b->n_events++;
}

/* Encodes the batch as a STORE_WRITE body (caller frees). */
static uint8_t *s_batch_body(batch_t *b, size_t *len)
{
    sl_mp_writer_t ops, events;
    sl_mp_writer_init(&ops);
    sl_mp_writer_init(&events);
    sl_mp_write_array(&ops, b->n_ops);
    sl_mp_write_raw(&ops, sl_mp_writer_data(&b->ops), sl_mp_writer_len(&b->ops));
    sl_mp_write_array(&events, b->n_events);
    sl_mp_write_raw(&events, sl_mp_writer_data(&b->events), sl_mp_writer_len(&b->events));
    sl_store_write_t m = {0};
    m.ops.ptr = (uint8_t *)sl_mp_writer_data(&ops);
    m.ops.len = b->n_ops ? sl_mp_writer_len(&ops) : 0;
    m.events.ptr = (uint8_t *)sl_mp_writer_data(&events);
    m.events.len = b->n_events ? sl_mp_writer_len(&events) : 0;
    uint8_t *out = NULL;
    assert_int_equal(sl_store_write_encode(&m, &out, len), 0);
    sl_mp_writer_fini(&ops);
    sl_mp_writer_fini(&events);
    sl_mp_writer_fini(&b->ops);
    sl_mp_writer_fini(&b->events);
    return out;
}

/* Sends a STORE_WRITE request of raw bytes and returns its ack's status
   (and seqs), or the error that kept it from an ack. */
static int s_raw_write_seqs(sl_port_t *port, const void *body, size_t len, uint64_t *first,
                            uint64_t *last)
{
    sl_msg_t *reply = NULL;
    int rc = sl_port_request(port, SL_IDS_STORE, SL_MSG_STORE_WRITE, body, len, T_WAIT, &reply);
    if (rc < 0) {
        return rc;
    }
    sl_store_ack_t ack = {0};
    rc = reply->type == SL_MSG_STORE_ACK ? sl_store_ack_decode(reply->body, reply->body_len, &ack)
                                         : SL_ETYPE;
    sl_msg_destroy(&reply);
    if (rc < 0) {
        return rc;
    }
    if (first) {
        *first = ack.first_seq;
    }
    if (last) {
        *last = ack.last_seq;
    }
    return (int)ack.status;
}

/* Sends b fire-and-forget: the store commits (and publishes) it, never
   acks it. */
static void s_send(sl_port_t *port, batch_t *b)
{
    size_t len;
    uint8_t *body = s_batch_body(b, &len);
    assert_int_equal(sl_port_send(port, SL_IDS_STORE, SL_MSG_STORE_WRITE, body, len), 0);
    free(body);
}

/* Sends a one-put write fire-and-forget. */
static void s_send_put(sl_port_t *port, unsigned db, const char *key, const char *val)
{
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, db, key, val);
    s_send(port, &b);
}

static int s_raw_write(sl_port_t *port, const void *body, size_t len)
{
    return s_raw_write_seqs(port, body, len, NULL, NULL);
}

/* Sends a STORE_WRITE request and returns its ack (status, seqs). */
static int s_write(sl_port_t *port, batch_t *b, uint64_t *first, uint64_t *last)
{
    size_t len;
    uint8_t *body = s_batch_body(b, &len);
    int rc = s_raw_write_seqs(port, body, len, first, last);
    free(body);
    return rc;
}

/* GET: returns the status; on 0 *val (caller frees) and *vlen. */
static int s_get(sl_port_t *port, unsigned db, const void *key, size_t klen, uint8_t **val,
                 size_t *vlen)
{
    sl_store_get_t g = {.db = db, .key = {.ptr = (uint8_t *)key, .len = klen}};
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(sl_store_get_encode(&g, &body, &len), 0);
    sl_msg_t *reply = NULL;
    int rc = sl_port_request(port, SL_IDS_STORE, SL_MSG_STORE_GET, body, len, T_WAIT, &reply);
    free(body);
    if (rc < 0) {
        return rc;
    }
    sl_store_value_t v = {0};
    rc = sl_store_value_decode(reply->body, reply->body_len, &v);
    sl_msg_destroy(&reply);
    if (rc < 0) {
        return rc;
    }
    if (val) {
        *val = v.value.ptr;
        *vlen = v.value.len;
        v.value.ptr = NULL;
    }
    rc = (int)v.status;
    sl_store_value_clear(&v);
    return rc;
}

static void s_expect(sl_port_t *port, unsigned db, const char *key, const char *want)
{
    uint8_t *v = NULL;
    size_t n = 0;
    int rc = s_get(port, db, key, strlen(key), &v, &n);
    if (!want) {
        assert_int_equal(rc, SL_ENOTFOUND);
        free(v);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(v, want, n);
    free(v);
}

/* Opens the data file read-only and lock-free, beside the running store, to
   see what is committed on disk right now. */
static int s_disk_has(const char *dir, const char *dbname, const char *key)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int found = 0;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    if (mdb_dbi_open(txn, dbname, 0, &dbi) == 0) {
        MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key}, v;
        found = mdb_get(txn, dbi, &k, &v) == 0;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return found;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_store_write_ack_get(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_TASKS, "p1-t0001", "queued");
    s_batch_event(&b, "task.status", "p1-t0001");
    uint64_t first = 0, last = 0;
    assert_int_equal(s_write(fx->port, &b, &first, &last), 0);
    assert_int_equal(first, 1);
    assert_int_equal(last, 1);
    s_expect(fx->port, SL_DB_TASKS, "p1-t0001", "queued");
    s_expect(fx->port, SL_DB_TASKS, "p1-t0002", NULL);

    /* Deleting (value nil) is how retention removes finished records. */
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_TASKS, "p1-t0001", NULL);
    assert_int_equal(s_write(fx->port, &b, &first, &last), 0);
    assert_int_equal(first, 0);
    s_expect(fx->port, SL_DB_TASKS, "p1-t0001", NULL);

    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_int_equal(st.writes, 2);
    assert_int_equal(st.events, 1);
    assert_int_equal(st.last_seq, 1);
    assert_true(st.commits >= 1);
}

static void test_store_ack_only_after_commit(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof key, "p%03d", i);
        batch_t b;
        s_batch_init(&b);
        s_batch_put(&b, SL_DB_PIPELINES, key, "running");
        assert_int_equal(s_write(fx->port, &b, NULL, NULL), 0);
        /* The moment the ack is here, the record is on disk. */
        assert_true(s_disk_has(fx->dir, "pipelines", key));
    }
}

typedef struct {
    fx_t *fx;
    int id;
    int n;
    int acked; /* recorded by the writer thread */
    int failed;
    uint64_t seqs[64];
} writer_t;

static void *s_writer(void *arg)
{
    writer_t *w = arg;
    char name[32];
    snprintf(name, sizeof name, "writer.%d", w->id);
    sl_port_t *port = sl_port_new(w->fx->rt, name);
    for (int i = 0; port && i < w->n; i++) {
        char key[32];
        snprintf(key, sizeof key, "w%02d-%04d", w->id, i);
        batch_t b;
        s_batch_init(&b);
        s_batch_put(&b, SL_DB_TASKS, key, "succeeded");
        s_batch_event(&b, "task.status", key);
        uint64_t first = 0, last = 0;
        if (s_write(port, &b, &first, &last) == 0 && first == last) {
            w->seqs[w->acked++] = first;
        } else {
            w->failed++;
        }
    }
    sl_port_destroy(&port);
    return NULL;
}

static void test_store_group_commit_concurrent_writers(void **state)
{
    fx_t *fx = *state;
    enum { W = 8, N = 40 };
    writer_t ws[W];
    pthread_t th[W];
    for (int i = 0; i < W; i++) {
        ws[i] = (writer_t){.fx = fx, .id = i, .n = N};
        assert_int_equal(pthread_create(&th[i], NULL, s_writer, &ws[i]), 0);
    }
    for (int i = 0; i < W; i++) {
        pthread_join(th[i], NULL);
    }
    /* Every request acked once, with distinct seqs 1..W*N and no gap. */
    static uint8_t seen[W * N + 1];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < W; i++) {
        assert_int_equal(ws[i].failed, 0);
        assert_int_equal(ws[i].acked, N);
        for (int j = 0; j < N; j++) {
            uint64_t s = ws[i].seqs[j];
            assert_true(s >= 1 && s <= W * N);
            assert_false(seen[s]);
            seen[s] = 1;
            if (j > 0) {
                assert_true(s > ws[i].seqs[j - 1]); /* per-sender order */
            }
        }
    }
    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_int_equal(st.writes, W * N);
    assert_int_equal(st.last_seq, W * N);
    print_message("%d writes in %llu commits\n", W * N, (unsigned long long)st.commits);
    assert_true(st.commits < st.writes);
}

static void test_store_gapless_seqs_across_restart(void **state)
{
    fx_t *fx = *state;
    uint64_t expect = 1;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) {
            batch_t b;
            s_batch_init(&b);
            s_batch_event(&b, "task.status", "a");
            s_batch_event(&b, "task.progress", "b");
            uint64_t first = 0, last = 0;
            assert_int_equal(s_write(fx->port, &b, &first, &last), 0);
            assert_int_equal(first, expect);
            assert_int_equal(last, expect + 1);
            expect += 2;
        }
        /* A failed (malformed) write in between consumes no seq. */
        assert_true(s_raw_write(fx->port,
                                "\x81\xa6"
                                "events\x91\xc0",
                                10) < 0);
        sl_actor_destroy(&fx->store);
        assert_int_equal(s_spawn(fx), 0);
    }
    /* Every seq is stored, keyed big-endian, with its own seq inside. */
    for (uint64_t s = 1; s < expect; s++) {
        uint8_t k[8];
        for (int i = 0; i < 8; i++) {
            k[i] = (uint8_t)(s >> (56 - 8 * i));
        }
        uint8_t *v = NULL;
        size_t n = 0;
        assert_int_equal(s_get(fx->port, SL_DB_EVENTS, k, 8, &v, &n), 0);
        uint64_t got = 0;
        assert_int_equal(sl_mp_map_get_uint(v, n, "seq", &got), 0);
        assert_int_equal(got, s);
        free(v);
    }
}

static void test_store_publishes_in_seq_order(void **state)
{
    fx_t *fx = *state;
    enum { N = 30 };
    for (int i = 0; i < N; i++) {
        batch_t b;
        s_batch_init(&b);
        char id[32];
        snprintf(id, sizeof id, "t%04d", i);
        s_batch_event(&b, "task.status", id);
        s_send(fx->port, &b);
    }
    for (uint64_t want = 1; want <= N; want++) {
        sl_msg_t *msg = NULL;
        assert_int_equal(sl_port_recv(fx->api, T_WAIT, &msg), 0);
        assert_int_equal(msg->type, SL_MSG_EVENT_PUBLISH);
        sl_event_publish_t ev = {0};
        assert_int_equal(sl_event_publish_decode(msg->body, msg->body_len, &ev), 0);
        assert_int_equal(ev.seq, want);
        assert_string_equal(ev.topic, "task.status");
        uint64_t seq = 0;
        int64_t ts = 0;
        const char *s;
        size_t sl;
        assert_int_equal(sl_mp_map_get_uint(ev.body.ptr, ev.body.len, "seq", &seq), 0);
        assert_int_equal(seq, want);
        assert_int_equal(sl_mp_map_get_int(ev.body.ptr, ev.body.len, "ts", &ts), 0);
        assert_true(ts > 1600000000000LL);
        assert_int_equal(sl_mp_map_get_str(ev.body.ptr, ev.body.len, "topic", &s, &sl), 0);
        assert_true(sl_mp_str_eq(s, sl, "task.status"));
        assert_int_equal(sl_mp_map_get_str(ev.body.ptr, ev.body.len, "task_id", &s, &sl), 0);
        char id[32];
        snprintf(id, sizeof id, "t%04d", (int)want - 1);
        assert_true(sl_mp_str_eq(s, sl, id));
        sl_event_publish_clear(&ev);
        sl_msg_destroy(&msg);
    }
    /* An ALERT message becomes an `alert` event. */
    sl_alert_t a = {.kind = "actor_late", .message = "pong 1500 ms late", .subject = "endpoint.x"};
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(sl_alert_encode(&a, &body, &len), 0);
    assert_int_equal(sl_port_send(fx->port, SL_IDS_STORE, SL_MSG_ALERT, body, len), 0);
    free(body);
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(fx->api, T_WAIT, &msg), 0);
    sl_event_publish_t ev = {0};
    assert_int_equal(sl_event_publish_decode(msg->body, msg->body_len, &ev), 0);
    assert_int_equal(ev.seq, N + 1);
    assert_string_equal(ev.topic, "alert");
    const char *s;
    size_t sl;
    assert_int_equal(sl_mp_map_get_str(ev.body.ptr, ev.body.len, "subject", &s, &sl), 0);
    assert_true(sl_mp_str_eq(s, sl, "endpoint.x"));
    sl_event_publish_clear(&ev);
    sl_msg_destroy(&msg);
}

static void test_store_read_after_write_per_sender(void **state)
{
    fx_t *fx = *state;
    for (int i = 0; i < 50; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "r%04d", i);
        snprintf(val, sizeof val, "v%d", i);
        s_send_put(fx->port, SL_DB_ATTEMPTS, key, val);
        /* No ack awaited: the GET behind it must still see it. */
        s_expect(fx->port, SL_DB_ATTEMPTS, key, val);
    }
}

/* A write sent fire-and-forget by one sender, then a read by another (as
   a shard writes a result, then the api reads it for a client the shard
   answered): the two reach the store through different pipes that it reads
   fair-queued, often in the same wake-up, the read first. The read must
   still see the write, every time. */
static void test_store_read_after_write_across_senders(void **state)
{
    fx_t *fx = *state;
    sl_port_t *reader = sl_port_new(fx->rt, "reader");
    assert_non_null(reader);
    for (int i = 0; i < 500; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "x%04d", i);
        snprintf(val, sizeof val, "v%d", i);
        s_send_put(fx->port, SL_DB_RESULTS, key, val);
        s_expect(reader, SL_DB_RESULTS, key, val);
    }
    sl_port_destroy(&reader);
}

static void test_store_malformed_writes_rejected(void **state)
{
    fx_t *fx = *state;
    /* Each bad request also carries a good op that must not be applied. */
    const struct {
        const char *what;
        unsigned db;
        const char *key;
        int bad_event;
    } cases[] = {
        {"unknown db", 42, "k", 0},
        {"meta is the store's own", SL_DB_META, "schema", 0},
        {"events are the store's own", SL_DB_EVENTS, "k", 0},
        {"empty key", SL_DB_TASKS, "", 0},
        {"event body not a map", SL_DB_TASKS, "k", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        batch_t b;
        s_batch_init(&b);
        s_batch_put(&b, SL_DB_TASKS, "good", "must not land");
        s_batch_put(&b, cases[i].db, cases[i].key, "x");
        if (cases[i].bad_event) {
            sl_store_event_t ev = {.topic = (char *)"task.status",
                                   .fields = {(uint8_t *)"\xa9not a map", 10}};
            assert_int_equal(sl_store_event_write(&ev, &b.events), 0);
            b.n_events++;
        }
        int rc = s_write(fx->port, &b, NULL, NULL);
        if (rc >= 0) {
            fail_msg("%s: accepted", cases[i].what);
        }
    }
    /* Garbage bodies, ops of the wrong shape, a key over the limit. */
    assert_true(s_raw_write(fx->port, "\xc1", 1) < 0);
    assert_true(s_raw_write(fx->port, "\x81\xa3ops\x91\x92\x01\xc4\x01k", 11) < 0);
    assert_true(s_raw_write(fx->port,
                            "\x81\xa3ops\xa3"
                            "abc",
                            9) < 0);
    char big[SL_DB_MAX_KEY + 2];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_TASKS, big, "x");
    assert_true(s_write(fx->port, &b, NULL, NULL) < 0);
    /* Unknown message types are dropped; the store keeps working. */
    assert_int_equal(sl_port_send(fx->port, SL_IDS_STORE, 9999, "\x80", 1), 0);

    s_expect(fx->port, SL_DB_TASKS, "good", NULL);
    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_true(st.rejected >= 9);
    assert_int_equal(st.last_seq, 0);
    assert_true(sl_actor_running(fx->store));
}

/* One SCAN (sc is cleared): the decoded rows, with status 0 asserted.
   Caller clears rows. */
static void s_scan(fx_t *fx, sl_store_scan_t *sc, sl_store_rows_t *rows)
{
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(sl_store_scan_encode(sc, &body, &len), 0);
    sl_store_scan_clear(sc);
    sl_msg_t *reply = NULL;
    assert_int_equal(
        sl_port_request(fx->port, SL_IDS_STORE, SL_MSG_STORE_SCAN, body, len, T_WAIT, &reply), 0);
    free(body);
    memset(rows, 0, sizeof *rows);
    assert_int_equal(sl_store_rows_decode(reply->body, reply->body_len, rows), 0);
    sl_msg_destroy(&reply);
    assert_int_equal(rows->status, 0);
}

/* The rows hold n items, the first keyed first_key. */
static void s_rows_check(const sl_store_rows_t *rows, uint32_t n, const char *first_key)
{
    sl_mp_reader_t r;
    uint32_t got = 0;
    assert_int_equal(sl_codec_items(&rows->rows, &r, &got), 0);
    assert_int_equal(got, n);
    sl_store_row_t row;
    assert_int_equal(sl_store_row_next(&r, &row), 0);
    assert_int_equal(row.key.len, strlen(first_key));
    assert_memory_equal(row.key.ptr, first_key, row.key.len);
    sl_store_row_clear(&row);
}

static void test_store_scan_rows(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    s_batch_init(&b);
    for (int i = 0; i < 25; i++) {
        char key[32];
        snprintf(key, sizeof key, "p1-t%04d", i);
        s_batch_put(&b, SL_DB_TASKS, key, "v");
    }
    s_batch_put(&b, SL_DB_TASKS, "p2-t0000", "other");
    assert_int_equal(s_write(fx->port, &b, NULL, NULL), 0);

    sl_store_scan_t sc = {.db = SL_DB_TASKS, .limit = 10};
    sl_bytes_set(&sc.prefix, "p1-", 3);
    sl_bytes_set(&sc.start_after, "p1-t0004", 8);
    sl_store_rows_t rows;
    s_scan(fx, &sc, &rows);
    assert_true(rows.more);
    s_rows_check(&rows, 10, "p1-t0005");
    sl_store_rows_clear(&rows);
}

/* Flips one payload byte of a stored value on disk (store stopped). */
static void s_flip(const char *dir, const char *dbname, const char *key)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, dbname, 0, &dbi), 0);
    MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t copy[64];
    assert_true(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size - 2] ^= 0x01;
    v.mv_data = copy;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void s_expect_corrupt_alert(fx_t *fx, const char *subject)
{
    sl_msg_t *msg = NULL;
    assert_int_equal(sl_port_recv(fx->api, T_WAIT, &msg), 0);
    sl_event_publish_t ev = {0};
    assert_int_equal(sl_event_publish_decode(msg->body, msg->body_len, &ev), 0);
    assert_string_equal(ev.topic, "alert");
    const char *s;
    size_t sl;
    assert_int_equal(sl_mp_map_get_str(ev.body.ptr, ev.body.len, "kind", &s, &sl), 0);
    assert_true(sl_mp_str_eq(s, sl, "corrupt_value"));
    assert_int_equal(sl_mp_map_get_str(ev.body.ptr, ev.body.len, "subject", &s, &sl), 0);
    assert_true(sl_mp_str_eq(s, sl, subject));
    sl_event_publish_clear(&ev);
    sl_msg_destroy(&msg);
}

static void test_store_corrupt_value_quarantined(void **state)
{
    fx_t *fx = *state;
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_RESULTS, "p1-t0003", "{\"status\":\"success\"}");
    s_batch_put(&b, SL_DB_RESULTS, "p1-t0004", "{\"status\":\"error\"}");
    s_batch_put(&b, SL_DB_RESULTS, "p1-t0005", "{\"status\":\"partial\"}");
    assert_int_equal(s_write(fx->port, &b, NULL, NULL), 0);
    sl_actor_destroy(&fx->store);
    s_flip(fx->dir, "results", "p1-t0003");
    s_flip(fx->dir, "results", "p1-t0004");
    assert_int_equal(s_spawn(fx), 0);

    /* Found by a GET: answered `corrupt`, reported as an alert event... */
    assert_int_equal(s_get(fx->port, SL_DB_RESULTS, "p1-t0003", 8, NULL, NULL), SL_ECORRUPT);
    s_expect_corrupt_alert(fx, "results/p1-t0003");
    /* ...moved to quarantine, and the store keeps serving. */
    s_expect(fx->port, SL_DB_RESULTS, "p1-t0003", NULL);
    uint8_t qk[9] = {SL_DB_RESULTS};
    memcpy(qk + 1, "p1-t0003", 8);
    assert_int_equal(s_get(fx->port, SL_DB_QUARANTINE, qk, 9, NULL, NULL), 0);

    /* Found by a SCAN: left out of the rows, reported and quarantined. */
    sl_store_scan_t sc = {.db = SL_DB_RESULTS};
    sl_bytes_set(&sc.prefix, "p1-", 3);
    sl_store_rows_t rows;
    s_scan(fx, &sc, &rows);
    s_rows_check(&rows, 1, "p1-t0005");
    sl_store_rows_clear(&rows);
    s_expect_corrupt_alert(fx, "results/p1-t0004");
    s_expect(fx->port, SL_DB_RESULTS, "p1-t0004", NULL);

    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_int_equal(st.corrupt, 2);
    assert_true(sl_actor_running(fx->store));
}

static void test_store_map_full_error_ack(void **state)
{
    fx_t *fx = *state;
    sl_actor_destroy(&fx->store);
    fx->map_size = 1u << 20;
    assert_int_equal(s_spawn(fx), 0);
    size_t big = 2u << 20;
    char *blob = malloc(big + 1);
    memset(blob, 'x', big);
    blob[big] = '\0';
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_RESULTS, "big", blob);
    s_batch_event(&b, "task.status", "big");
    free(blob);
    assert_int_equal(s_write(fx->port, &b, NULL, NULL), SL_EFULL);
    s_expect(fx->port, SL_DB_RESULTS, "big", NULL);
    /* No seq was consumed and nothing was published. */
    s_batch_init(&b);
    s_batch_event(&b, "task.status", "small");
    uint64_t first = 0;
    assert_int_equal(s_write(fx->port, &b, &first, NULL), 0);
    assert_int_equal(first, 1);
    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_int_equal(st.failed_commits, 1);
}

static void test_store_refuses_held_dir(void **state)
{
    fx_t *fx = *state;
    /* A second runtime (as a second daemon would) on the same directory. */
    sl_rt_t *rt2 = sl_rt_new(NULL, NULL);
    assert_non_null(rt2);
    sl_store_config_t cfg = sl_store_config_defaults();
    cfg.data_dir = fx->dir;
    sl_actor_t *second = NULL;
    assert_int_equal(sl_store_spawn(rt2, &cfg, &second), SL_EBUSY);
    assert_null(second);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    assert_non_null(strstr(sl_store_last_error(), pid));
    assert_non_null(strstr(sl_store_last_error(), fx->dir));
    sl_rt_destroy(&rt2);
}

/* ---- crash safety: kill -9 loses nothing that was acknowledged -------------------- */

typedef struct {
    uint32_t index;
    uint64_t seq;
} acked_t;

/* Child process: its own runtime and store on dir, writing transitions as
   fast as acks come back and reporting each ack on fd. Never returns. */
static void s_crash_child(const char *dir, uint32_t start, int fd)
{
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_store_config_t cfg = sl_store_config_defaults();
    cfg.data_dir = dir;
    sl_actor_t *store = NULL;
    if (!rt || sl_store_spawn(rt, &cfg, &store) != 0) {
        _exit(3);
    }
    sl_port_t *port = sl_port_new(rt, "crash.client");
    for (uint32_t i = start;; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%08u", i);
        batch_t b;
        s_batch_init(&b);
        s_batch_put(&b, SL_DB_TASKS, key, "succeeded");
        s_batch_event(&b, "task.status", key);
        uint64_t first = 0;
        if (s_write(port, &b, &first, NULL) != 0) {
            _exit(4);
        }
        acked_t a = {.index = i, .seq = first};
        if (write(fd, &a, sizeof a) != sizeof a) {
            _exit(5);
        }
    }
}

static int s_count_events(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen, int status)
{
    uint64_t *next = arg;
    uint64_t seq = 0;
    if (status != 0 || klen != 8 || sl_mp_map_get_uint(val, vlen, "seq", &seq) != 0) {
        return SL_ECORRUPT;
    }
    for (int i = 0; i < 8; i++) {
        if (key[i] != (uint8_t)(seq >> (56 - 8 * i))) {
            return SL_ECORRUPT;
        }
    }
    if (seq != *next) {
        return SL_EINVAL; /* a gap */
    }
    (*next)++;
    return 0;
}

static void test_store_kill9_loses_nothing_acked(void **state)
{
    fx_t *fx = *state;
    uint32_t next_index = 0;
    uint64_t acked_total = 0;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            s_crash_child(fx->dir, next_index, fds[1]);
        }
        close(fds[1]);
        /* Let it get some acks out (a different number each round), then
           kill it in the middle of whatever it is doing. */
        uint32_t want = 50 + 70 * (uint32_t)round;
        static acked_t acked[4096];
        size_t n = 0;
        while (n < sizeof acked / sizeof *acked) {
            ssize_t r = read(fds[0], &acked[n], sizeof *acked);
            if (r != (ssize_t)sizeof *acked) {
                break; /* EOF: the child died on its own */
            }
            n++;
            if (n == want) {
                kill(pid, SIGKILL);
            }
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(fds[0]);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            fail_msg("round %d: the child exited on its own (status %d)", round, status);
        }
        assert_true(n >= want);

        /* Every acknowledged write is there, and the seqs have no gap. */
        sl_db_config_t cfg = {.dir = fx->dir};
        sl_db_t *db = NULL;
        char err[256];
        assert_int_equal(sl_db_open(&cfg, &db, err, sizeof err), 0);
        for (size_t i = 0; i < n; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%08u", acked[i].index);
            uint8_t *v = NULL;
            size_t vl = 0;
            assert_int_equal(sl_db_get(db, SL_DB_TASKS, key, strlen(key), &v, &vl), 0);
            free(v);
            assert_true(acked[i].seq <= sl_db_last_seq(db));
        }
        uint64_t next = 1;
        assert_int_equal(
            sl_db_scan(db, SL_DB_EVENTS, NULL, 0, NULL, 0, 0, s_count_events, &next, NULL), 0);
        assert_int_equal(next - 1, sl_db_last_seq(db));
        next_index = (uint32_t)sl_db_count(db, SL_DB_TASKS);
        sl_db_close(&db);
        acked_total += n;
    }
    print_message("3 kills, %llu acknowledged writes all found\n", (unsigned long long)acked_total);
}

/* ---- the events prune ---------------------------------------------------------------- */

/* One write: a pipeline record put (val) or deleted (NULL), and n events
   of that pipeline (pipe NULL: events naming no pipeline). */
static void s_pipe_write(fx_t *fx, const char *pipe, const char *val, int n)
{
    batch_t b;
    s_batch_init(&b);
    if (pipe) {
        s_batch_put(&b, SL_DB_PIPELINES, pipe, val);
    }
    for (int i = 0; i < n; i++) {
        sl_mp_writer_t f;
        sl_mp_writer_init(&f);
        sl_mp_write_map(&f, pipe ? 2 : 1);
        sl_mp_kv_str(&f, "status", "running");
        if (pipe) {
            sl_mp_kv_str(&f, "pipeline_id", pipe);
        }
        sl_store_event_t ev = {.topic = pipe ? "pipeline.status" : "alert",
                               .fields = {(uint8_t *)sl_mp_writer_data(&f), sl_mp_writer_len(&f)}};
        assert_int_equal(sl_store_event_write(&ev, &b.events), 0);
        sl_mp_writer_fini(&f);
        b.n_events++;
    }
    assert_int_equal(s_write(fx->port, &b, NULL, NULL), 0);
}

static void s_pause_ms(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (deadline T_WAIT) until the store's oldest kept event is want. */
static void s_wait_first_seq(fx_t *fx, uint64_t want)
{
    sl_store_stats_t st;
    for (int waited = 0; waited < T_WAIT; waited += 5, s_pause_ms(5)) {
        sl_store_counters_read(&fx->counters, &st);
        if (st.first_seq == want) {
            return;
        }
    }
    fail_msg("first kept seq is %llu, never %llu", (unsigned long long)st.first_seq,
             (unsigned long long)want);
}

static bool s_has_event(fx_t *fx, uint64_t seq)
{
    uint8_t k[8];
    for (int i = 0; i < 8; i++) {
        k[i] = (uint8_t)(seq >> (56 - 8 * i));
    }
    uint8_t *v = NULL;
    size_t n = 0;
    int rc = s_get(fx->port, SL_DB_EVENTS, k, 8, &v, &n);
    free(v);
    assert_true(rc == 0 || rc == SL_ENOTFOUND);
    return rc == 0;
}

/* Events go with their pipelines (a prefix whose pipeline records are
   gone), the newest event always stays, the cap trims the oldest, and
   seqs go on from last_seq across a restart: gapless, never back. */
static void test_store_prunes_events_of_gone_pipelines(void **state)
{
    fx_t *fx = *state;
    sl_actor_destroy(&fx->store);
    fx->retention_ms = 3600000; /* events naming no pipeline: kept an hour */
    fx->prune_every_ms = 10;
    assert_int_equal(s_spawn(fx), 0);
    s_pipe_write(fx, "pA", "rec", 3); /* seqs 1-3 */
    s_pipe_write(fx, "pB", "rec", 2); /* 4-5 */
    s_pipe_write(fx, NULL, NULL, 1);  /* 6: an alert, young */
    s_pipe_write(fx, "pA", "rec", 1); /* 7 */
    s_pipe_write(fx, "pA", NULL, 0);  /* pA deleted (retention) */
    s_wait_first_seq(fx, 4);          /* 1-3 go, pB's 4 stops the prune */
    assert_false(s_has_event(fx, 3));
    assert_true(s_has_event(fx, 4));
    s_pipe_write(fx, "pB", NULL, 0);
    s_wait_first_seq(fx, 6); /* the young alert stops it now */
    assert_true(s_has_event(fx, 7));
    sl_store_stats_t st;
    sl_store_counters_read(&fx->counters, &st);
    assert_int_equal(st.events_pruned, 5);
    assert_int_equal(st.last_seq, 7);

    /* With events naming no pipeline past retention, only the newest
       event (7, pA's, gone) stays. */
    sl_actor_destroy(&fx->store);
    fx->retention_ms = 1;
    assert_int_equal(s_spawn(fx), 0);
    s_wait_first_seq(fx, 7);
    assert_true(s_has_event(fx, 7));

    /* A cap: the oldest go whatever they belong to. */
    sl_actor_destroy(&fx->store);
    fx->retention_ms = 0;
    fx->events_max = 3;
    assert_int_equal(s_spawn(fx), 0);
    uint64_t first = 0, last = 0;
    batch_t b;
    s_batch_init(&b);
    s_batch_put(&b, SL_DB_PIPELINES, "pC", "rec");
    for (int i = 0; i < 4; i++) {
        s_batch_event(&b, "task.status", "pC-t0000");
    }
    assert_int_equal(s_write(fx->port, &b, &first, &last), 0);
    assert_int_equal(first, 8); /* last_seq did not go back with the prune */
    assert_int_equal(last, 11);
    s_wait_first_seq(fx, 9); /* 9, 10, 11 kept */
    assert_false(s_has_event(fx, 8));
    assert_true(s_has_event(fx, 9) && s_has_event(fx, 11));
}

/* The store's defaults are the configuration keys' defaults, not copies. */
static void test_store_defaults_from_config(void **state)
{
    (void)state;
    sl_store_config_t c = sl_store_config_defaults();
    const sl_config_t *d = sl_config_builtin();
    assert_string_equal(c.data_dir, d->data_dir);
    assert_true(c.map_size == (uint64_t)d->map_size_mb << 20);
    assert_true(c.nosync == d->nosync);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_defaults_from_config),
        cmocka_unit_test_setup_teardown(test_store_write_ack_get, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_ack_only_after_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_group_commit_concurrent_writers, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_gapless_seqs_across_restart, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_publishes_in_seq_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_read_after_write_per_sender, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_read_after_write_across_senders, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_malformed_writes_rejected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_scan_rows, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_value_quarantined, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_map_full_error_ack, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_refuses_held_dir, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_store_prunes_events_of_gone_pipelines, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_store_kill9_loses_nothing_acked, s_setup_bare,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
