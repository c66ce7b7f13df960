/*  bench_recovery.c: `sluice-bench recovery`, the time to resume in-flight
    tasks after a restart (goal: 10,000 tasks in under 1 s).

    Setup: a real store in a temp directory, sink endpoints that accept every
    ATTEMPT_START and never answer, and one pipeline shard. Pipelines in
    `existing` mode put --tasks analysis tasks in flight (queued at the sink);
    the bench waits until the store holds them all as queued, then destroys
    the shard (the "crash") and spawns a fresh one on the same store. Reported:
    the shard's spawn time (its init loads every pipeline and task from the
    store and re-dispatches the interrupted attempts), the time until the
    sinks saw every re-dispatched ATTEMPT_START, and the heap the recovered
    shard holds per task. Everything runs on the main thread's runtime with
    the system clock. Not a test: figures depend on the machine.
*/
#define _GNU_SOURCE
#include <getopt.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/pipeline/sl_pipeline.h"
#include "proto/sl_ids.h"
#include "actors/store/sl_store.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "tools/bench/bench.h"

#define B_APPS_PER_PIPELINE 625 /* x 4 analyzers = 2,500 tasks per pipeline */
#define B_MAX_PIPES 64          /* so at most 160,000 tasks */

static atomic_uint_fast64_t s_starts;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int s_sink(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    if (msg->type == SL_MSG_ATTEMPT_START) {
        atomic_fetch_add(&s_starts, 1);
    }
    return 0;
}

/* pipeline.start for apps [first, first+n) of model "bench". */
static int s_start(sl_port_t *port, int apps, int first, char *id)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 3);
    sl_mp_kv_str(&w, "name", "recovery-bench");
    sl_mp_write_str(&w, "generation");
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "mode", "existing");
    sl_mp_write_str(&w, "existing_apps");
    sl_mp_write_array(&w, (uint32_t)apps);
    for (int i = 0; i < apps; i++) {
        sl_mp_write_map(&w, 2);
        sl_mp_kv_str(&w, "model", "bench_model");
        sl_mp_kv_int(&w, "app_number", first + i);
    }
    sl_mp_write_str(&w, "analysis");
    sl_mp_write_map(&w, 2);
    sl_mp_kv_bool(&w, "enabled", true);
    sl_mp_write_str(&w, "options");
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "max_concurrent_tasks", 100000);
    sl_ids_new_pipeline(id, SL_PIPELINE_ID_MAX, (int64_t)time(NULL) * 1000);
    sl_api_call_t c = {.op = (char *)"pipeline.start",
                       .args = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)},
                       .target = id};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = sl_api_call_encode(&c, &buf, &len);
    sl_mp_writer_fini(&w);
    sl_msg_t *reply = NULL;
    if (rc == 0) {
        rc = sl_port_request(port, SL_IDS_PIPELINE_PREFIX "0", SL_MSG_API_CALL, buf, len, 30000,
                             &reply);
    }
    free(buf);
    if (rc == 0) {
        sl_api_result_t r = {0};
        bool ok = false;
        if (sl_api_result_decode(reply->body, reply->body_len, &r) == 0) {
            sl_mp_map_get_bool(r.body.ptr, r.body.len, "ok", &ok);
        }
        rc = ok ? 0 : SL_EINVAL;
        sl_api_result_clear(&r);
    }
    sl_msg_destroy(&reply);
    return rc;
}

/* True once the store holds this task record with status queued. */
static bool s_stored_queued(sl_port_t *port, const char *task_id)
{
    sl_store_get_t g = {.db = 2, .key = {(uint8_t *)task_id, strlen(task_id)}};
    uint8_t *buf = NULL;
    size_t len = 0;
    bool hit = false;
    if (sl_store_get_encode(&g, &buf, &len) < 0) {
        return false;
    }
    sl_msg_t *reply = NULL;
    if (sl_port_request(port, SL_IDS_STORE, SL_MSG_STORE_GET, buf, len, 30000, &reply) == 0) {
        sl_store_value_t v = {0};
        if (sl_store_value_decode(reply->body, reply->body_len, &v) == 0 && v.status == 0) {
            sl_task_rec_t rec;
            if (sl_task_rec_decode(v.value.ptr, v.value.len, &rec) == 0) {
                hit = rec.status == SL_TS_QUEUED;
                sl_task_rec_clear(&rec);
            }
        }
        sl_store_value_clear(&v);
        sl_msg_destroy(&reply);
    }
    free(buf);
    return hit;
}

static bool s_wait_starts(uint64_t n, double limit_s)
{
    double until = s_now() + limit_s;
    while (atomic_load(&s_starts) < n) {
        if (s_now() > until) {
            return false;
        }
        s_pause_ms(1);
    }
    return true;
}

int sl_bench_recovery(int argc, char **argv)
{
    int tasks = 10000;
    static const struct option opts[] = {{"tasks", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", opts, NULL)) != -1) {
        if (c == 't') {
            tasks = atoi(optarg);
        } else {
            printf("usage: sluice-bench recovery [--tasks N]\n"
                   "  time to resume N in-flight tasks after a shard restart [10000]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (tasks < 4) {
        tasks = 4;
    }
    sl_log_set_level(SL_LOG_WARN);
    /* One malloc arena, so mallinfo2 (main arena only) sees the actors'
       allocations too. */
    mallopt(M_ARENA_MAX, 1);
    char dir[] = "/tmp/sluice-bench-recovery-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    int rc = 1;
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    sl_actor_t *store = NULL, *shard = NULL, *sinks[SL_SVC__COUNT] = {0};
    sl_port_t *port = rt ? sl_port_new(rt, "bench") : NULL;
    sl_store_config_t sc = sl_store_config_defaults();
    sc.data_dir = dir;
    sc.nosync = true;         /* setup speed; recovery only reads */
    sc.publish_to = "nobody"; /* events are not the subject here */
    sl_pipeline_config_t pc;
    sl_pipeline_config_init(&pc);
    pc.shards = 1;
    if (!port || sl_store_spawn(rt, &sc, &store) < 0) {
        fprintf(stderr, "recovery: cannot start the store: %s\n", sl_store_last_error());
        goto done;
    }
    for (int s = 0; s < SL_SVC__COUNT; s++) {
        char name[SL_NAME_MAX];
        sl_ids_endpoint_mailbox(name, sizeof(name), sl_service_name(s));
        sl_actor_spec_t spec = {.name = name, .handle = s_sink, .mailbox_hwm = 0};
        if (sl_actor_spawn(rt, &spec, &sinks[s]) < 0) {
            goto done;
        }
    }
    if (sl_pipeline_spawn(rt, &pc, 0, &shard) < 0) {
        goto done;
    }
    int apps = tasks / 4, npipes = 0;
    char last_task[B_MAX_PIPES][64];
    char ids[B_MAX_PIPES][SL_PIPELINE_ID_MAX];
    double t0 = s_now();
    if (apps > B_APPS_PER_PIPELINE * B_MAX_PIPES) {
        apps = B_APPS_PER_PIPELINE * B_MAX_PIPES;
    }
    for (int first = 0; first < apps; npipes++) {
        int n = apps - first;
        if (n > B_APPS_PER_PIPELINE) {
            n = B_APPS_PER_PIPELINE;
        }
        if (s_start(port, n, first, ids[npipes]) < 0) {
            fprintf(stderr, "recovery: pipeline.start failed\n");
            goto done;
        }
        snprintf(last_task[npipes], sizeof(last_task[npipes]), "%.31s-t%04d", ids[npipes],
                 n * 4 - 1);
        first += n;
    }
    uint64_t total = (uint64_t)apps * 4;
    if (!s_wait_starts(total, 60)) {
        fprintf(stderr, "recovery: only %llu of %llu tasks dispatched\n",
                (unsigned long long)atomic_load(&s_starts), (unsigned long long)total);
        goto done;
    }
    for (int i = 0; i < npipes; i++) {
        double until = s_now() + 60;
        while (!s_stored_queued(port, last_task[i]) && s_now() < until) {
            s_pause_ms(5);
        }
    }
    printf("setup: %llu tasks in flight in %d pipelines (%.2f s)\n", (unsigned long long)total,
           npipes, s_now() - t0);

    /* The crash: the shard goes away with every attempt in flight. */
    sl_actor_destroy(&shard);
    atomic_store(&s_starts, 0);
    double t1 = s_now();
    if (sl_pipeline_spawn(rt, &pc, 0, &shard) < 0) {
        fprintf(stderr, "recovery: the shard did not come back\n");
        goto done;
    }
    double t2 = s_now();
    bool all = s_wait_starts(total, 60);
    double t3 = s_now();
    /* Measure once the re-dispatch messages and the recovery write are
       consumed (a read commits the store's open group), so the figure is
       the shard's own state, not messages in flight. */
    for (int i = 0; i < npipes; i++) {
        s_stored_queued(port, last_task[i]);
    }
    s_pause_ms(100);
    /* What the shard holds is what destroying it gives back. */
    struct mallinfo2 with = mallinfo2();
    sl_actor_destroy(&shard);
    struct mallinfo2 without = mallinfo2();
    double per_task =
        (double)((long long)with.uordblks - (long long)without.uordblks) / (double)total;
    printf("recovery: shard ready (loaded + re-dispatched) in %.3f s; %s%llu attempts "
           "re-dispatched after %.3f s; goal < 1 s for 10000: %s\n",
           t2 - t1, all ? "all " : "only ", (unsigned long long)atomic_load(&s_starts), t3 - t1,
           all && t3 - t1 < 1.0 * ((double)total / 10000.0) ? "met" : "MISSED");
    printf("memory: about %.0f bytes of shard heap per recovered task\n", per_task);
    rc = all ? 0 : 1;
done:
    sl_actor_destroy(&shard);
    for (int s = 0; s < SL_SVC__COUNT; s++) {
        sl_actor_destroy(&sinks[s]);
    }
    sl_actor_destroy(&store);
    sl_port_destroy(&port);
    sl_rt_destroy(&rt);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "recovery: could not remove %s\n", dir);
    }
    return rc;
}
