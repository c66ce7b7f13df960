/*  bench_store.c: `sluice-bench store`, durable state transitions per second.

    A transition is what a pipeline shard writes when a task changes state:
    one task-record put and one `task.status` event, in one STORE_WRITE
    request, acknowledged after its commit. Two runs against the same store
    (fresh temp directory, durable: fsync per commit):
      - per-commit: one writer waits for each ack before sending the next,
        so every transition is its own commit (the old way);
      - group: a driver actor keeps `--inflight` requests outstanding, so
        the store drains many per wake-up into one commit.
    Both runs happen on the main thread's runtime; the driver is an actor and
    reports to a port when it is done. Prints both rates and their ratio.
*/
#define _GNU_SOURCE
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/store/sl_store.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "tools/bench/bench.h"
#include "proto/sl_ids.h"

#define B_START 60001   /* port -> driver: go */
#define B_DONE 60002    /* driver -> port: finished (body: u64 failures) */
#define B_TIMEOUT 30000 /* ms per request */

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One transition's STORE_WRITE body (caller frees). */
static int s_transition(const char *run, uint64_t i, uint8_t **out, size_t *len)
{
    char task[64];
    snprintf(task, sizeof task, "p0193f1c2a4b7%s%06llu-t0001", run, (unsigned long long)i);
    sl_mp_writer_t rec, ops, evs;
    sl_mp_writer_init(&rec);
    sl_mp_writer_init(&ops);
    sl_mp_writer_init(&evs);
    /* A task record of realistic size (~200 bytes). */
    sl_mp_write_map(&rec, 7);
    sl_mp_kv_str(&rec, "id", task);
    sl_mp_kv_str(&rec, "status", "running");
    sl_mp_kv_str(&rec, "service", "static-analyzer");
    sl_mp_kv_uint(&rec, "attempt", 1);
    sl_mp_kv_str(&rec, "model", "anthropic_claude-3.7-sonnet");
    sl_mp_kv_int(&rec, "app_number", 30);
    sl_mp_kv_str(&rec, "replica", "ws://127.0.0.1:2001");

    sl_mp_write_array(&ops, 1);
    sl_store_op_t op = {.db = SL_DB_TASKS,
                        .key = {(uint8_t *)task, strlen(task)},
                        .value = {(uint8_t *)sl_mp_writer_data(&rec), sl_mp_writer_len(&rec)}};
    sl_store_op_write(&op, &ops);

    sl_mp_writer_t fields;
    sl_mp_writer_init(&fields);
    sl_mp_write_map(&fields, 4);
    sl_mp_kv_str(&fields, "task_id", task);
    sl_mp_kv_str(&fields, "status", "running");
    sl_mp_kv_uint(&fields, "attempt", 1);
    sl_mp_kv_str(&fields, "service", "static-analyzer");
    sl_mp_write_array(&evs, 1);
    sl_store_event_t ev = {
        .topic = (char *)"task.status",
        .fields = {(uint8_t *)sl_mp_writer_data(&fields), sl_mp_writer_len(&fields)}};
    sl_store_event_write(&ev, &evs);
    sl_mp_writer_fini(&fields);

    sl_store_write_t m = {
        .ops = {.ptr = (uint8_t *)sl_mp_writer_data(&ops), .len = sl_mp_writer_len(&ops)},
        .events = {.ptr = (uint8_t *)sl_mp_writer_data(&evs), .len = sl_mp_writer_len(&evs)}};
    int rc = sl_mp_writer_error(&rec);
    if (rc == 0) {
        rc = sl_store_write_encode(&m, out, len);
    }
    sl_mp_writer_fini(&rec);
    sl_mp_writer_fini(&ops);
    sl_mp_writer_fini(&evs);
    return rc;
}

static int s_ack_status(const sl_msg_t *reply)
{
    sl_store_ack_t ack = {0};
    int rc = sl_store_ack_decode(reply->body, reply->body_len, &ack);
    return rc < 0 ? rc : (int)ack.status;
}

/* ---- the group-commit driver actor ------------------------------------------- */

typedef struct {
    uint64_t total, inflight;
    uint64_t sent, done, failures;
} s_driver_t;

static void s_send_next(sl_actor_t *self, s_driver_t *d);

static void s_on_ack(sl_actor_t *self, void *arg, int status, const sl_msg_t *reply)
{
    s_driver_t *d = arg;
    d->done++;
    if (status < 0 || s_ack_status(reply) != 0) {
        d->failures++;
    }
    if (d->sent < d->total) {
        s_send_next(self, d);
    }
    if (d->done == d->total) {
        sl_mp_writer_t w;
        sl_mp_writer_init(&w);
        sl_mp_write_uint(&w, d->failures);
        sl_actor_send(self, "bench", B_DONE, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
        sl_mp_writer_fini(&w);
    }
}

static void s_send_next(sl_actor_t *self, s_driver_t *d)
{
    uint8_t *body = NULL;
    size_t len = 0;
    uint64_t i = d->sent++;
    int rc = s_transition("g", i, &body, &len);
    if (rc == 0) {
        rc = sl_actor_request(self, SL_IDS_STORE, SL_MSG_STORE_WRITE, body, len, B_TIMEOUT,
                              s_on_ack, d);
    }
    free(body);
    if (rc < 0) {
        /* the callback never fires for a failed request: account here */
        d->failures++;
        d->done++;
    }
}

static int s_driver_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    s_driver_t *d = state;
    if (msg->type == B_START) {
        for (uint64_t i = 0; i < d->inflight && d->sent < d->total; i++) {
            s_send_next(self, d);
        }
    }
    return 0;
}

/* ---- runs ---------------------------------------------------------------------- */

static int s_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void s_usage(void)
{
    printf("usage: sluice-bench store [--serial N] [--group N] [--inflight K] [--dir DIR]\n"
           "  --serial N    transitions with one commit each (default 2000)\n"
           "  --group N     transitions with group commit (default 50000)\n"
           "  --inflight K  concurrent requests in the group run (default 64)\n"
           "  --dir DIR     parent of the temporary data directory (default /tmp)\n");
}

int sl_bench_store(int argc, char **argv)
{
    uint64_t serial = 2000, group = 50000, inflight = 64;
    const char *parent = "/tmp";
    static const struct option opts[] = {
        {"serial", required_argument, NULL, 's'},   {"group", required_argument, NULL, 'g'},
        {"inflight", required_argument, NULL, 'k'}, {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "s:g:k:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            serial = strtoull(optarg, NULL, 10);
            break;
        case 'g':
            group = strtoull(optarg, NULL, 10);
            break;
        case 'k':
            inflight = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            parent = optarg;
            break;
        case 'h':
            s_usage();
            return 0;
        default:
            s_usage();
            return 2;
        }
    }
    if (serial == 0 || group == 0 || inflight == 0) {
        s_usage();
        return 2;
    }
    sl_log_set_level(SL_LOG_WARN);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sluice-bench-store.XXXXXX", parent);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int exit_code = 1;
    sl_store_counters_t counters = {0};
    sl_store_stats_t s0, s1, s2;
    sl_actor_t *store = NULL, *driver = NULL;
    sl_port_t *port = NULL;
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    if (!rt) {
        goto done;
    }
    sl_store_config_t cfg = sl_store_config_defaults();
    cfg.data_dir = dir;
    cfg.counters = &counters;
    if (sl_store_spawn(rt, &cfg, &store) < 0) {
        fprintf(stderr, "sluice-bench: %s\n", sl_store_last_error());
        goto done;
    }
    port = sl_port_new(rt, "bench");
    if (!port) {
        goto done;
    }
    printf("store bench: durable commits (fsync), data in %s\n", dir);

    /* 1. One commit per transition: wait for each ack. */
    sl_store_counters_read(&counters, &s0);
    double t0 = s_now();
    uint64_t serial_fail = 0;
    for (uint64_t i = 0; i < serial; i++) {
        uint8_t *body = NULL;
        size_t len = 0;
        sl_msg_t *reply = NULL;
        int rc = s_transition("s", i, &body, &len);
        if (rc == 0) {
            rc = sl_port_request(port, SL_IDS_STORE, SL_MSG_STORE_WRITE, body, len, B_TIMEOUT,
                                 &reply);
        }
        free(body);
        if (rc < 0 || s_ack_status(reply) != 0) {
            serial_fail++;
        }
        sl_msg_destroy(&reply);
    }
    double t1 = s_now();
    sl_store_counters_read(&counters, &s1);

    /* 2. Group commit: K requests in flight from a driver actor. */
    s_driver_t d = {.total = group, .inflight = inflight};
    sl_actor_spec_t spec = {.name = "bench.driver", .handle = s_driver_handle, .args = &d};
    if (sl_actor_spawn(rt, &spec, &driver) < 0) {
        goto done;
    }
    double t2 = s_now();
    sl_port_send(port, "bench.driver", B_START, NULL, 0);
    sl_msg_t *fin = NULL;
    int64_t budget_ms = 600000;
    if (sl_port_recv(port, budget_ms, &fin) < 0) {
        fprintf(stderr, "sluice-bench: the group run did not finish in %lld s\n",
                (long long)(budget_ms / 1000));
        goto done;
    }
    double t3 = s_now();
    sl_msg_destroy(&fin);
    sl_store_counters_read(&counters, &s2);
    sl_actor_destroy(&driver); /* joined: its counters are ours to read */

    double serial_rate = (double)serial / (t1 - t0);
    double group_rate = (double)group / (t3 - t2);
    uint64_t serial_commits = s1.commits - s0.commits;
    uint64_t group_commits = s2.commits - s1.commits;
    printf("  one commit per transition: %8llu transitions in %6.2f s = %9.0f /s  "
           "(%llu commits, %llu failed)\n",
           (unsigned long long)serial, t1 - t0, serial_rate, (unsigned long long)serial_commits,
           (unsigned long long)serial_fail);
    printf("  group commit, %3llu in flight: %8llu transitions in %6.2f s = %9.0f /s  "
           "(%llu commits, %.1f per commit, %llu failed)\n",
           (unsigned long long)inflight, (unsigned long long)group, t3 - t2, group_rate,
           (unsigned long long)group_commits,
           group_commits ? (double)group / (double)group_commits : 0.0,
           (unsigned long long)d.failures);
    printf("  ratio: %.1fx (goal >= 20x)\n", group_rate / serial_rate);
    exit_code = (serial_fail == 0 && d.failures == 0) ? 0 : 1;
done:
    sl_actor_destroy(&driver);
    sl_actor_destroy(&store);
    sl_port_destroy(&port);
    sl_rt_destroy(&rt);
    nftw(dir, s_rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return exit_code;
}
