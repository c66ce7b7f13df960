/*  embed_host.c: an example host program that embeds sluice.

    The host owns a ZeroMQ context and hands it to sluice_new(), binds the
    sluice API and PUB sockets on inproc:// endpoints of that context, and
    then talks to sluice exactly as a remote client would: a DEALER sends
    msgpack requests, a SUB receives events. It starts one pipeline
    (generate mode: one model x the given templates, every analyzer), waits
    for that pipeline's final `pipeline.status` event, prints it and the
    per-task table from `pipeline.get`, and stops sluice. Everything runs
    on the host's one thread; it uses only actors/include/sluice/sluice.h, zmq and msgpack.

    The analyzer services come from the fleet's environment variables
    (STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS, PERF_TESTER_URLS,
    AI_ANALYZER_URLS, GENERATOR_URLS) or --set services/NAME/urls=...

    Output (stdout), one line each:
        started <pipeline_id>
        event pipeline.status seq=<n> pipeline=<id> status=<status>
        task <task_id> <service> app=<n> <status> attempts=<n>
        pipeline <id> <status>
    Exit codes: 0 completed, 2 partial_success, 3 failed, 4 cancelled,
    1 anything else (usage, start failure, timeout).
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

#include <sluice/sluice.h>

#define S_API "inproc://embed-host-api"
#define S_PUB "inproc://embed-host-pub"
#define S_MAX_TEMPLATES 16

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_usage(FILE *out)
{
    fprintf(out, "usage: embed_host [--data-dir DIR] [--set KEY=VALUE]... [--model M]\n"
                 "                  [--template T]... [--timeout-ms N]\n"
                 "Embeds sluice in this process (its own ZeroMQ context, inproc API and PUB),\n"
                 "runs one pipeline to its end and prints its final status. Services come from\n"
                 "STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS, PERF_TESTER_URLS, AI_ANALYZER_URLS\n"
                 "and GENERATOR_URLS. Exit: 0 completed, 2 partial_success, 3 failed,\n"
                 "4 cancelled, 1 error.\n");
}

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Finds key in a msgpack map; NULL if absent or not a map. */
static const msgpack_object *s_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0) {
            return &map->via.map.ptr[i].val;
        }
    }
    return NULL;
}

/* Copies a string field into out ("" when absent or not a string). */
static void s_str(const msgpack_object *map, const char *key, char *out, size_t size)
{
    const msgpack_object *v = s_get(map, key);
    out[0] = '\0';
    if (v && v->type == MSGPACK_OBJECT_STR) {
        size_t n = v->via.str.size < size - 1 ? v->via.str.size : size - 1;
        memcpy(out, v->via.str.ptr, n);
        out[n] = '\0';
    }
}

static int64_t s_int(const msgpack_object *map, const char *key)
{
    const msgpack_object *v = s_get(map, key);
    if (v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        return (int64_t)v->via.u64;
    }
    if (v && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        return v->via.i64;
    }
    return -1;
}

static bool s_terminal(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "partial_success") ||
           !strcmp(status, "failed") || !strcmp(status, "cancelled");
}

/* Sends one request and waits for its reply into *out. msgpack-c's
   objects point into the bytes they were unpacked from, so the reply's
   bytes are copied to *keep, which the caller frees with *out. */
static int s_call(void *dealer, const msgpack_sbuffer *req, msgpack_unpacked *out, char **keep,
                  int64_t deadline)
{
    if (zmq_send(dealer, req->data, req->size, 0) < 0) {
        return -1;
    }
    while (s_now_ms() < deadline) {
        zmq_pollitem_t item = {.socket = dealer, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)(deadline - s_now_ms())) <= 0) {
            continue;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        size_t len = zmq_msg_size(&msg);
        free(*keep);
        *keep = malloc(len ? len : 1);
        if (!*keep) {
            zmq_msg_close(&msg);
            return -1;
        }
        memcpy(*keep, zmq_msg_data(&msg), len);
        zmq_msg_close(&msg);
        size_t off = 0;
        return msgpack_unpack_next(out, *keep, len, &off) == MSGPACK_UNPACK_SUCCESS ? 0 : -1;
    }
    return -1;
}

static void s_print_error(const char *what, const msgpack_object *reply)
{
    char code[64], message[256];
    const msgpack_object *err = s_get(reply, "error");
    s_str(err, "code", code, sizeof(code));
    s_str(err, "message", message, sizeof(message));
    fprintf(stderr, "embed_host: %s: %s: %s\n", what, code, message);
}

int main(int argc, char **argv)
{
    const char *data_dir = "./sluice-embed-data";
    const char *model = "google_gemini-3-flash-preview-20251217";
    const char *templates[S_MAX_TEMPLATES];
    int ntemplates = 0;
    int64_t timeout_ms = 120000;
    const char *sets[64];
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--data-dir") && more) {
            data_dir = argv[++i];
        } else if (!strcmp(argv[i], "--model") && more) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--template") && more && ntemplates < S_MAX_TEMPLATES) {
            templates[ntemplates++] = argv[++i];
        } else if (!strcmp(argv[i], "--timeout-ms") && more) {
            timeout_ms = strtoll(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--set") && more && nsets < 64) {
            sets[nsets++] = argv[++i];
        } else {
            fprintf(stderr, "embed_host: unknown argument '%s'\n", argv[i]);
            s_usage(stderr);
            return 1;
        }
    }
    if (ntemplates == 0) {
        templates[ntemplates++] = "api_url_shortener";
    }
    int64_t deadline = s_now_ms() + timeout_ms;

    /* The host's own context: sluice's actors and the host's sockets share
       it, which is what makes inproc:// work between them. */
    void *ctx = zmq_ctx_new();
    if (!ctx) {
        fprintf(stderr, "embed_host: zmq_ctx_new failed\n");
        return 1;
    }
    int code = 1;
    void *dealer = NULL, *sub = NULL;
    msgpack_unpacked reply;
    msgpack_unpacked_init(&reply);
    char *reply_bytes = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sluice_t *s = sluice_new(ctx);
    if (!s) {
        fprintf(stderr, "embed_host: out of memory\n");
        goto done;
    }
    if (sluice_set(s, "sluice/data_dir", data_dir) || sluice_set(s, "api/endpoint", S_API) ||
        sluice_set(s, "api/pub", S_PUB)) {
        fprintf(stderr, "embed_host: %s\n", sluice_error(s));
        goto done;
    }
    for (int i = 0; i < nsets; i++) {
        char kv[1024];
        snprintf(kv, sizeof(kv), "%s", sets[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "embed_host: --set wants KEY=VALUE, got '%s'\n", sets[i]);
            goto done;
        }
        *eq = '\0';
        if (sluice_set(s, kv, eq + 1)) {
            fprintf(stderr, "embed_host: --set %s: %s\n", kv, sluice_error(s));
            goto done;
        }
    }
    if (sluice_apply_env(s) || sluice_start(s)) {
        fprintf(stderr, "embed_host: %s\n", sluice_error(s));
        goto done;
    }

    /* Subscribe before starting the pipeline so its final event cannot be
       missed; connect both sockets after sluice bound its endpoints. */
    int zero = 0;
    sub = zmq_socket(ctx, ZMQ_SUB);
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    if (!sub || !dealer) {
        fprintf(stderr, "embed_host: zmq_socket: %s\n", zmq_strerror(zmq_errno()));
        goto stop;
    }
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "pipeline.status", strlen("pipeline.status"));
    if (zmq_connect(sub, S_PUB) || zmq_connect(dealer, S_API)) {
        fprintf(stderr, "embed_host: connect: %s\n", zmq_strerror(zmq_errno()));
        goto stop;
    }

    /* pipeline.start {op, name, generation{...}, analysis{enabled, tools: []}} */
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    s_pack_str(&pk, "op");
    s_pack_str(&pk, "pipeline.start");
    s_pack_str(&pk, "name");
    s_pack_str(&pk, "embed_host example");
    s_pack_str(&pk, "generation");
    msgpack_pack_map(&pk, 3);
    s_pack_str(&pk, "mode");
    s_pack_str(&pk, "generate");
    s_pack_str(&pk, "models");
    msgpack_pack_array(&pk, 1);
    s_pack_str(&pk, model);
    s_pack_str(&pk, "templates");
    msgpack_pack_array(&pk, (size_t)ntemplates);
    for (int i = 0; i < ntemplates; i++) {
        s_pack_str(&pk, templates[i]);
    }
    s_pack_str(&pk, "analysis");
    msgpack_pack_map(&pk, 2);
    s_pack_str(&pk, "enabled");
    msgpack_pack_true(&pk);
    s_pack_str(&pk, "tools");
    msgpack_pack_array(&pk, 0);
    if (s_call(dealer, &sb, &reply, &reply_bytes, deadline)) {
        fprintf(stderr, "embed_host: no answer to pipeline.start\n");
        goto stop;
    }
    const msgpack_object *ok = s_get(&reply.data, "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean) {
        s_print_error("pipeline.start", &reply.data);
        goto stop;
    }
    char id[128];
    s_str(&reply.data, "pipeline_id", id, sizeof(id));
    printf("started %s\n", id);
    fflush(stdout);

    /* Wait for this pipeline's final pipeline.status event. */
    char status[64] = "";
    while (!s_terminal(status)) {
        int64_t left = deadline - s_now_ms();
        if (left <= 0) {
            fprintf(stderr, "embed_host: no final pipeline.status for %s within %lld ms\n", id,
                    (long long)timeout_ms);
            goto stop;
        }
        zmq_pollitem_t item = {.socket = sub, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, (long)left) <= 0) {
            continue;
        }
        zmq_msg_t topic, body;
        zmq_msg_init(&topic);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&topic, sub, 0) >= 0 && zmq_msg_more(&topic) &&
            zmq_msg_recv(&body, sub, 0) >= 0) {
            msgpack_unpacked ev;
            msgpack_unpacked_init(&ev);
            size_t off = 0;
            if (msgpack_unpack_next(&ev, zmq_msg_data(&body), zmq_msg_size(&body), &off) ==
                MSGPACK_UNPACK_SUCCESS) {
                char pid[128], st[64];
                s_str(&ev.data, "pipeline_id", pid, sizeof(pid));
                s_str(&ev.data, "status", st, sizeof(st));
                if (!strcmp(pid, id) && s_terminal(st)) {
                    snprintf(status, sizeof(status), "%s", st);
                    printf("event pipeline.status seq=%lld pipeline=%s status=%s\n",
                           (long long)s_int(&ev.data, "seq"), pid, st);
                }
            }
            msgpack_unpacked_destroy(&ev);
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&body);
    }

    /* The per-task table, from pipeline.get. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    s_pack_str(&pk, "op");
    s_pack_str(&pk, "pipeline.get");
    s_pack_str(&pk, "pipeline_id");
    s_pack_str(&pk, id);
    if (s_call(dealer, &sb, &reply, &reply_bytes, deadline) == 0) {
        const msgpack_object *p = s_get(&reply.data, "pipeline");
        const msgpack_object *tasks = s_get(p, "tasks");
        for (uint32_t i = 0;
             tasks && tasks->type == MSGPACK_OBJECT_ARRAY && i < tasks->via.array.size; i++) {
            const msgpack_object *t = &tasks->via.array.ptr[i];
            char tid[128], svc[64], st[64];
            s_str(t, "id", tid, sizeof(tid));
            s_str(t, "service", svc, sizeof(svc));
            s_str(t, "status", st, sizeof(st));
            printf("task %s %s app=%lld %s attempts=%lld\n", tid, svc,
                   (long long)s_int(t, "app_number"), st, (long long)s_int(t, "attempts"));
        }
    }
    printf("pipeline %s %s\n", id, status);
    fflush(stdout);
    code = !strcmp(status, "completed")         ? 0
           : !strcmp(status, "partial_success") ? 2
           : !strcmp(status, "failed")          ? 3
                                                : 4;
stop:
    /* Host sockets first, then sluice (its sockets), then the context. */
    if (sub) {
        zmq_close(sub);
    }
    if (dealer) {
        zmq_close(dealer);
    }
    sub = dealer = NULL;
done:
    sluice_destroy(&s);
    msgpack_unpacked_destroy(&reply);
    free(reply_bytes);
    msgpack_sbuffer_destroy(&sb);
    zmq_ctx_term(ctx);
    return code;
}
