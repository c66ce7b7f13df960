/*  ctl_cmds.c: sluicectl's one-request commands: get, list, cancel, task,
    result, dlq, endpoints, stats, ping.

    Each command checks its own arguments (a usage error is exit 1 before
    anything is sent), makes one request with ctl_call, and prints the reply
    as a table or, with --json, as JSON. Runs on the main thread.
*/
#include "tools/sluicectl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_mp.h"

bool ctl_wants_help(int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return true;
        }
    }
    return false;
}

void ctl_show(ctl_t *self, const ctl_reply_t *reply, const char *key,
              void (*render)(FILE *, const json_t *))
{
    if (self->json) {
        ctl_print_json(stdout, reply->json);
    } else if (render) {
        render(stdout, key ? ctl_get(reply->json, key) : reply->json);
    }
}

/* Exactly `want` positional arguments and no options. */
static int s_positional(int argc, char **argv, int want, const char *what)
{
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            return ctl_usage_error(argv[0], "unknown option '%s'", argv[i]);
        }
    }
    if (argc - 1 != want) {
        return want ? ctl_usage_error(argv[0], "expects %s", what)
                    : ctl_usage_error(argv[0], "takes no arguments");
    }
    return CTL_EXIT_OK;
}

/* The common shape: one op, at most one id argument, a renderer. */
static int s_simple(ctl_t *self, int argc, char **argv, const char *usage, const char *op,
                    const char *key, const char *what, const char *field,
                    void (*render)(FILE *, const json_t *))
{
    if (ctl_wants_help(argc, argv, usage)) {
        return CTL_EXIT_OK;
    }
    int rc = s_positional(argc, argv, key ? 1 : 0, what);
    if (rc) {
        return rc;
    }
    ctl_reply_t reply;
    rc = ctl_call_simple(self, op, key, key ? argv[1] : NULL, &reply);
    if (rc == CTL_EXIT_OK || (rc == CTL_EXIT_DAEMON && self->json && reply.json)) {
        ctl_show(self, &reply, field, rc == CTL_EXIT_OK ? render : NULL);
    }
    ctl_reply_clear(&reply);
    return rc;
}

static void s_print_pipeline(FILE *out, const json_t *p)
{
    ctl_render_pipeline(out, p);
}

int ctl_cmd_get(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl get PIPELINE_ID [--json]\n"
        "  The pipeline's summary and its per-task table: id, service, app, status,\n"
        "  attempts, progress stage/pct, error.\n";
    return s_simple(self, argc, argv, usage, "pipeline.get", "pipeline_id", "a PIPELINE_ID",
                    "pipeline", s_print_pipeline);
}

static void s_print_ok(FILE *out, const json_t *reply)
{
    fprintf(out, "ok\n");
}

int ctl_cmd_cancel(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl cancel PIPELINE_ID [--json]\n"
        "  Cancels the pipeline: queued tasks are dropped, running attempts are told\n"
        "  to stop; the pipeline ends `cancelled`.\n";
    return s_simple(self, argc, argv, usage, "pipeline.cancel", "pipeline_id", "a PIPELINE_ID",
                    NULL, s_print_ok);
}

static void s_print_task(FILE *out, const json_t *reply)
{
    /* The task may come as {task: {...}} or as the reply's own fields. */
    const json_t *task = ctl_get(reply, "task");
    ctl_render_task(out, task ? task : reply);
}

int ctl_cmd_task(ctl_t *self, int argc, char **argv)
{
    static const char usage[] = "usage: sluicectl task TASK_ID [--json]\n"
                                "  Every field of one task record, attempts history included.\n";
    return s_simple(self, argc, argv, usage, "task.get", "task_id", "a TASK_ID", NULL,
                    s_print_task);
}

static void s_print_endpoints(FILE *out, const json_t *services)
{
    ctl_render_endpoints(out, services);
}

int ctl_cmd_endpoints(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl endpoints [--json]\n"
        "  One row per replica: service, replica url, breaker state, in-flight calls,\n"
        "  latency EWMA (ms), calls, failures.\n";
    return s_simple(self, argc, argv, usage, "endpoints.list", NULL, NULL, "services",
                    s_print_endpoints);
}

int ctl_cmd_stats(ctl_t *self, int argc, char **argv)
{
    static const char usage[] = "usage: sluicectl stats [--json]\n"
                                "  API counters and per-actor runtime counters.\n";
    return s_simple(self, argc, argv, usage, "stats", NULL, NULL, NULL, ctl_render_stats);
}

static void s_print_pong(FILE *out, const json_t *reply)
{
    fprintf(out, "pong\n");
}

int ctl_cmd_ping(ctl_t *self, int argc, char **argv)
{
    static const char usage[] = "usage: sluicectl ping [--json]\n"
                                "  Checks that the daemon answers (exit 0) within --timeout.\n";
    int64_t t0 = ctl_now_ms();
    int rc = s_simple(self, argc, argv, usage, "ping", NULL, NULL, NULL, s_print_pong);
    if (rc == CTL_EXIT_OK && !self->json && argc == 1) {
        fprintf(stderr, "round trip %lld ms\n", (long long)(ctl_now_ms() - t0));
    }
    return rc;
}

int ctl_cmd_list(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl list [--status STATUS] [--limit N] [--json]\n"
        "  Pipelines, newest first as the daemon orders them. STATUS is one of\n"
        "  pending running completed partial_success failed cancelled.\n";
    if (ctl_wants_help(argc, argv, usage)) {
        return CTL_EXIT_OK;
    }
    json_t *req = json_pack("{ss}", "op", "pipeline.list");
    int rc = CTL_EXIT_OK;
    for (int i = 1; i < argc && rc == CTL_EXIT_OK; i++) {
        long long n = 0;
        if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
            json_object_set_new(req, "status", json_string(argv[++i]));
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            if (!ctl_parse_int(argv[++i], 1, 1000000, &n)) {
                rc =
                    ctl_usage_error(argv[0], "--limit wants a positive integer, not '%s'", argv[i]);
            }
            json_object_set_new(req, "limit", json_integer(n));
        } else {
            rc = ctl_usage_error(argv[0], "unexpected '%s'", argv[i]);
        }
    }
    if (rc == CTL_EXIT_OK) {
        ctl_reply_t reply;
        rc = ctl_call(self, req, &reply);
        if (rc == CTL_EXIT_OK || (rc == CTL_EXIT_DAEMON && self->json && reply.json)) {
            ctl_show(self, &reply, "pipelines", rc == CTL_EXIT_OK ? ctl_render_pipelines : NULL);
        }
        ctl_reply_clear(&reply);
    }
    json_decref(req);
    return rc;
}

/* ---- result ---------------------------------------------------------------------- */

/* The raw bytes of the reply's `result` (bin or str), borrowed from reply. */
static bool s_result_bytes(const ctl_reply_t *reply, const uint8_t **p, size_t *len)
{
    sl_mp_reader_t v;
    if (sl_mp_map_find(reply->data, reply->len, "result", &v) != 0) {
        return false;
    }
    if (sl_mp_peek(&v) == SL_MP_BIN) {
        return sl_mp_read_bin(&v, p, len) == 0;
    }
    const char *s = NULL;
    if (sl_mp_peek(&v) == SL_MP_STR && sl_mp_read_str(&v, &s, len) == 0) {
        *p = (const uint8_t *)s;
        return true;
    }
    return false;
}

int ctl_cmd_result(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl result TASK_ID [--attempt N] [-o FILE] [--json]\n"
        "  The analyzer's raw result frame (JSON text) as it was received, on stdout\n"
        "  or into FILE: the success's frame, or until one succeeds the frame of the\n"
        "  latest attempt that got one; --attempt N: that failed attempt's frame.\n"
        "  Without a frame: the partial result the analyzer reported before its\n"
        "  attempt ran out of time (a note on stderr says so).\n"
        "  With --json: the reply with the result embedded as JSON.\n";
    if (ctl_wants_help(argc, argv, usage)) {
        return CTL_EXIT_OK;
    }
    const char *id = NULL, *path = NULL;
    long attempt = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--attempt") == 0 && i + 1 < argc) {
            attempt = strtol(argv[++i], &end, 10);
            if (!*argv[i] || *end || attempt < 1 || attempt > 65535) {
                return ctl_usage_error(argv[0], "--attempt expects 1..65535, got '%s'", argv[i]);
            }
        } else if (argv[i][0] != '-' && !id) {
            id = argv[i];
        } else {
            return ctl_usage_error(argv[0], "unexpected '%s'", argv[i]);
        }
    }
    if (!id) {
        return ctl_usage_error(argv[0], "expects a TASK_ID");
    }
    ctl_reply_t reply;
    json_t *req = json_pack("{ss ss}", "op", "result.get", "task_id", id);
    if (attempt) {
        json_object_set_new(req, "attempt", json_integer(attempt));
    }
    int rc = ctl_call(self, req, &reply);
    json_decref(req);
    if (rc == CTL_EXIT_OK || (rc == CTL_EXIT_DAEMON && self->json && reply.json)) {
        const uint8_t *p = NULL;
        size_t len = 0;
        if (self->json && !path) {
            ctl_print_json(stdout, reply.json);
        } else if (rc == CTL_EXIT_OK && !s_result_bytes(&reply, &p, &len)) {
            fprintf(stderr, "sluicectl: result: the reply holds no result bytes\n");
            rc = CTL_EXIT_DAEMON;
        } else if (rc == CTL_EXIT_OK) {
            bool partial = false;
            if (sl_mp_map_get_bool(reply.data, reply.len, "partial", &partial) == 0 && partial) {
                fprintf(stderr, "sluicectl: result: a partial result: what the analyzer "
                                "reported before its attempt ended without one\n");
            }
            FILE *out = path ? fopen(path, "wb") : stdout;
            if (!out) {
                fprintf(stderr, "sluicectl: result: cannot write '%s': %s\n", path,
                        strerror(errno));
                rc = CTL_EXIT_USAGE;
            } else {
                bool ok = fwrite(p, 1, len, out) == len;
                if (!path && len && p[len - 1] != '\n') {
                    fputc('\n', out);
                }
                ok = (path ? fclose(out) == 0 : fflush(out) == 0) && ok;
                if (!ok) {
                    fprintf(stderr, "sluicectl: result: write failed\n");
                    rc = CTL_EXIT_USAGE;
                }
            }
        }
    }
    ctl_reply_clear(&reply);
    return rc;
}

/* ---- dlq -------------------------------------------------------------------------- */

static void s_print_retried(FILE *out, const json_t *reply)
{
    long long n = ctl_int(reply, "retried", -1);
    if (n >= 0) {
        fprintf(out, "retried %lld\n", n);
    } else {
        fprintf(out, "ok\n");
    }
}

int ctl_cmd_dlq(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl dlq list [--limit N] [--json]\n"
        "       sluicectl dlq retry TASK_ID | dlq retry --all\n"
        "       sluicectl dlq drop TASK_ID\n"
        "  The dead-letter queue: tasks that used every attempt. retry puts a task\n"
        "  (or every parked task) back into its pipeline; drop forgets it.\n";
    if (ctl_wants_help(argc, argv, usage)) {
        return CTL_EXIT_OK;
    }
    if (argc < 2) {
        return ctl_usage_error("dlq", "expects list, retry or drop");
    }
    const char *sub = argv[1];
    json_t *req = NULL;
    int rc = CTL_EXIT_OK;
    void (*render)(FILE *, const json_t *) = s_print_ok;
    const char *field = NULL;
    if (strcmp(sub, "list") == 0) {
        req = json_pack("{ss}", "op", "dlq.list");
        for (int i = 2; i < argc && rc == CTL_EXIT_OK; i++) {
            long long n = 0;
            if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
                ctl_parse_int(argv[i + 1], 1, 1000000, &n)) {
                json_object_set_new(req, "limit", json_integer(n));
                i++;
            } else {
                rc = ctl_usage_error("dlq list", "unexpected '%s'", argv[i]);
            }
        }
        render = ctl_render_dlq;
        field = "entries";
    } else if (strcmp(sub, "retry") == 0 && argc == 3 && strcmp(argv[2], "--all") == 0) {
        req = json_pack("{sssb}", "op", "dlq.retry", "all", 1);
        render = s_print_retried;
    } else if ((strcmp(sub, "retry") == 0 || strcmp(sub, "drop") == 0) && argc == 3 &&
               argv[2][0] != '-') {
        req = json_pack("{ssss}", "op", strcmp(sub, "retry") == 0 ? "dlq.retry" : "dlq.drop",
                        "task_id", argv[2]);
        render = s_print_retried;
    } else if (strcmp(sub, "retry") == 0 || strcmp(sub, "drop") == 0) {
        rc = ctl_usage_error("dlq", "%s expects a TASK_ID%s", sub,
                             strcmp(sub, "retry") == 0 ? " or --all" : "");
    } else {
        rc = ctl_usage_error("dlq", "unknown subcommand '%s' (list, retry, drop)", sub);
    }
    if (rc == CTL_EXIT_OK && !req) {
        rc = ctl_usage_error("dlq", "arguments must be UTF-8 text");
    }
    if (rc == CTL_EXIT_OK) {
        ctl_reply_t reply;
        rc = ctl_call(self, req, &reply);
        if (rc == CTL_EXIT_OK || (rc == CTL_EXIT_DAEMON && self->json && reply.json)) {
            ctl_show(self, &reply, field, rc == CTL_EXIT_OK ? render : NULL);
        }
        ctl_reply_clear(&reply);
    }
    json_decref(req);
    return rc;
}
