/*  ctl.h: sluicectl's shared pieces: the session (sockets, options), the
    request/reply client, msgpack <-> JSON conversion, rendering, commands.

    sluicectl is single-threaded: main() parses the global options, creates
    one ctl_t, and runs one command. The ctl_t owns its ZeroMQ context and
    sockets; every json_t a function returns is owned by the caller
    (json_decref) unless the comment says "borrowed". Every network wait has
    a deadline (ctl_t.timeout_ms), so no command can hang on a dead daemon.
*/
#ifndef CTL_H
#define CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: the contract with scripts (also in `sluicectl --help`). */
enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_USAGE = 1,        /* bad command line, unreadable input file */
    CTL_EXIT_PARTIAL = 2,      /* --wait/watch: pipeline ended partial_success */
    CTL_EXIT_FAILED = 3,       /* --wait/watch: pipeline ended failed */
    CTL_EXIT_CANCELLED = 4,    /* --wait/watch: pipeline ended cancelled */
    CTL_EXIT_UNREACHABLE = 5,  /* no reply within the deadline */
    CTL_EXIT_DAEMON = 6,       /* the daemon answered an error (or nonsense) */
    CTL_EXIT_INTERRUPTED = 130 /* watch/--wait stopped by SIGINT */
};

#define CTL_DEFAULT_API "tcp://127.0.0.1:5570"
#define CTL_DEFAULT_PUB "tcp://127.0.0.1:5571"
#define CTL_DEFAULT_TIMEOUT_MS 10000

typedef struct {
    const char *api; /* borrowed from argv/environment */
    const char *pub;
    int timeout_ms; /* per request */
    bool json;      /* --json: print replies as JSON */
    bool tty;       /* stdout is a terminal */
    void *zctx;     /* owned, created on first use */
    void *dealer;   /* owned, created on first request */
    void *monitor;  /* owned: the dealer's disconnect events (PAIR), or NULL */
    unsigned next_id;
    bool curve;     /* CURVE keys loaded (ctl_curve.c) */
    uint8_t curve_server[32], curve_public[32], curve_secret[32];
} ctl_t;

/* A reply: the raw msgpack bytes (owned) and their JSON form (owned). */
typedef struct {
    uint8_t *data;
    size_t len;
    json_t *json; /* always an object once ctl_call returned 0 */
} ctl_reply_t;

void ctl_reply_clear(ctl_reply_t *reply);

/* ---- client (ctl_client.c) ------------------------------------------------- */

/* Sends req (a JSON object, borrowed; an "id" is added) as one msgpack map
   and waits up to timeout_ms for the reply with the same id. Returns
   CTL_EXIT_OK with *reply filled; CTL_EXIT_UNREACHABLE when nothing came
   back in time; CTL_EXIT_DAEMON for an error reply or a malformed one (the
   message is printed on stderr; for an error reply *reply is still filled so
   --json can print it), and for a request the daemon dropped unanswered
   (it closed the connection, then answered a ping: the request was past
   its socket's frame ceiling). */
int ctl_call(ctl_t *self, json_t *req, ctl_reply_t *reply);

/* ctl_call with a fresh {op} request plus one optional string field. */
int ctl_call_simple(ctl_t *self, const char *op, const char *key, const char *value,
                    ctl_reply_t *reply);

/* A SUB socket connected to self->pub, subscribed to every topic; NULL with
   a message on stderr on failure. Caller closes it (zmq_close). */
void *ctl_subscribe(ctl_t *self);

/* Closes the sockets and the context. */
void ctl_close(ctl_t *self);

/* ---- CURVE (ctl_curve.c) ------------------------------------------------------ */

/* Loads the server's public certificate and the client's secret one (czmq
   zcert files); both or neither. CTL_EXIT_OK, or CTL_EXIT_USAGE with the
   reason on stderr. */
int ctl_curve_setup(ctl_t *self, const char *server_file, const char *client_file);

/* Makes sock a CURVE client when keys were loaded; call before connect. */
void ctl_curve_apply(const ctl_t *self, void *sock);

/* Monotonic milliseconds. */
int64_t ctl_now_ms(void);

/* ---- conversion (ctl_json.c) ------------------------------------------------ */

/* One msgpack object -> JSON. bin becomes a base64 string, or, when
   embed_json is set and the bytes are a JSON text, that JSON value. NULL
   when the bytes are not exactly one well-formed object. */
json_t *ctl_mp_to_json(const uint8_t *buf, size_t len, bool embed_json);

/* JSON -> msgpack bytes (*out caller owns, free()). Objects become maps,
   arrays arrays, and scalars keep their type (sl_wire_json_to_mp). 0, or
   SL_ETOOBIG for nesting deeper than SL_MP_MAX_DEPTH, or another SL_E code. */
int ctl_json_to_mp(const json_t *value, uint8_t **out, size_t *len);

/* Base64 (standard alphabet, padded); caller frees. */
char *ctl_base64(const uint8_t *p, size_t len);

/* Borrowed lookups that tolerate anything: a missing key, a non-object or a
   value of the wrong type gives the fallback. */
const char *ctl_str(const json_t *obj, const char *key, const char *fallback);
long long ctl_int(const json_t *obj, const char *key, long long fallback);
const json_t *ctl_get(const json_t *obj, const char *key);

/* Prints value as indented JSON plus a newline on out. */
void ctl_print_json(FILE *out, const json_t *value);

/* ---- rendering (ctl_render.c) ----------------------------------------------- */

/* The exit code of a final pipeline status, or -1 while not final. */
int ctl_status_exit(const char *status);

void ctl_render_pipeline(FILE *out, const json_t *pipeline);
void ctl_render_pipelines(FILE *out, const json_t *list);
void ctl_render_task(FILE *out, const json_t *task);
void ctl_render_dlq(FILE *out, const json_t *entries);
void ctl_render_endpoints(FILE *out, const json_t *services);
void ctl_render_stats(FILE *out, const json_t *reply);
/* One plain line for a PUB event (topic borrowed; event an object). */
void ctl_render_event_line(FILE *out, const char *topic, const json_t *event);

/* The live view of `watch` on a terminal: per-task bars, recent breaker and
   health changes and alerts, redrawn in place. */
typedef struct ctl_live ctl_live_t;
ctl_live_t *ctl_live_new(const char *pipeline_id);
void ctl_live_destroy(ctl_live_t **p);
/* Folds a pipeline.get `pipeline` object (tasks and status) into the view. */
void ctl_live_snapshot(ctl_live_t *self, const json_t *pipeline);
/* True when events named tasks the last snapshot did not have (analysis
   tasks appear as apps are generated): time for another pipeline.get. */
bool ctl_live_wants_snapshot(const ctl_live_t *self);
/* Folds one event into the view. */
void ctl_live_event(ctl_live_t *self, const char *topic, const json_t *event);
/* Redraws on out if something changed and force or 100 ms passed. */
void ctl_live_draw(ctl_live_t *self, FILE *out, bool force);

/* ---- commands ----------------------------------------------------------------- */

/* Each takes the command's own argv (argv[0] is the command name) and
   returns an exit code. */
int ctl_cmd_submit(ctl_t *self, int argc, char **argv);
int ctl_cmd_get(ctl_t *self, int argc, char **argv);
int ctl_cmd_list(ctl_t *self, int argc, char **argv);
int ctl_cmd_watch(ctl_t *self, int argc, char **argv);
int ctl_cmd_cancel(ctl_t *self, int argc, char **argv);
int ctl_cmd_task(ctl_t *self, int argc, char **argv);
int ctl_cmd_result(ctl_t *self, int argc, char **argv);
int ctl_cmd_dlq(ctl_t *self, int argc, char **argv);
int ctl_cmd_endpoints(ctl_t *self, int argc, char **argv);
int ctl_cmd_stats(ctl_t *self, int argc, char **argv);
int ctl_cmd_ping(ctl_t *self, int argc, char **argv);

/* Follows a pipeline: watch events (live) or poll pipeline.get (poll_ms > 0)
   until it is final; max_wait_ms 0 = no limit. Returns the status's exit
   code. Shared by `watch ID` and `submit --wait/--watch`. */
int ctl_follow(ctl_t *self, const char *pipeline_id, bool live, int poll_ms, int64_t max_wait_ms);

/* Usage error: prints "sluicectl: <msg>" and the hint, returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True (after printing usage on stdout) when argv holds --help or -h. */
bool ctl_wants_help(int argc, char **argv, const char *usage);

/* Prints the reply: as JSON with --json, else via render(out, field) where
   field is the reply's `key` (the whole reply when key is NULL). */
void ctl_show(ctl_t *self, const ctl_reply_t *reply, const char *key,
              void (*render)(FILE *, const json_t *));

/* Parses a whole decimal integer in [lo, hi]; false if it is not one. */
bool ctl_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Set by the SIGINT handler; long loops stop when it is set. */
extern volatile int ctl_interrupted;

#endif
