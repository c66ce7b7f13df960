/*  mock_fleet.c: the mock analyzer fleet on one libwebsockets context.

    Runs entirely on the thread that calls sl_mock_fleet_run(); the only
    cross-thread entry points are sl_mock_fleet_stop() (a flag plus
    lws_cancel_service) and sl_mock_fleet_command() (a one-slot mailbox under
    a mutex, drained in LWS_CALLBACK_EVENT_WAIT_CANCELLED). The fleet owns its
    replicas; each accepted WebSocket is an s_conn_t living in lws's
    per-session storage; each running analysis is an s_job_t owned by its
    connection; each out-of-band progress push is an s_push_t owned by the
    fleet until its client connection is destroyed.

    Design notes
    - Timers are lws_sul entries embedded in the job; a job is freed only
      after both of its suls are cancelled, and every job dies with its
      connection (LWS_CALLBACK_CLOSED), so no timer outlives what it touches.
    - Frames leave through a per-connection queue drained in order, up to
      S_WRITES_PER_CALLBACK text frames per SERVER_WRITEABLE (stopping when
      lws had to buffer a write). Closing (with a code) and dropping
      (shutdown of the TCP socket, no close frame) are queue entries too, so
      they happen after the frames queued before them.
    - Slow handshake: lws has no way to postpone answering an upgrade, so the
      accepted socket is dup()ed in FILTER_NETWORK_CONNECTION, lws is told to
      drop its copy, and the duplicate is adopted into the vhost later. The
      client sees a connected TCP socket with no HTTP answer until then.
    - Refuse / down: the accepted socket is closed at once (lws closes it
      when the filter callback says no), which a client sees as a reset or
      EOF during the handshake.
    - Block (a Python service running a synchronous call on its event loop):
      the whole replica stops. Its connections stop reading (so WebSocket
      pings go unanswered), frames queued from then on are held, its jobs'
      timers are paused (so no progress pushes, no heartbeats), and new
      connections are parked like slow ones. When the block ends everything
      resumes where it was: reads (late pongs), held frames, timers shifted
      by the block's length, parked handshakes.
*/
#include "tools/mock/mock_fleet.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sl_err.h"
#include "tools/mock/mock_control.h"
#include "tools/mock/mock_frames.h"

#define S_CONN_MAGIC 0x6d6f636bu
#define S_RX_MAX (4u << 20) /* larger requests are answered as invalid JSON */
#define S_APPS_MAX 256
#define S_WRITES_PER_CALLBACK 64 /* text frames written per SERVER_WRITEABLE */

typedef enum { S_OUT_TEXT = 0, S_OUT_CLOSE, S_OUT_DROP } s_out_kind_t;

typedef struct s_out {
    struct s_out *next;
    s_out_kind_t kind;
    bool held; /* queued while the replica was blocked: leaves when it ends */
    int close_code;
    char reason[64];
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
} s_out_t;

typedef struct s_replica s_replica_t;

typedef struct {
    uint32_t magic;
    struct lws *wsi;
    s_replica_t *replica;
    lws_dll2_t in_replica;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow;
    s_out_t *out_head, *out_tail;
    lws_dll2_owner_t jobs;
    bool frozen;
    bool closing; /* a close or drop is queued: send nothing more */
} s_conn_t;

typedef enum { S_JOB_OK = 0, S_JOB_FAIL_APP } s_job_flag_t;

typedef struct {
    lws_dll2_t in_conn;
    lws_sorted_usec_list_t sul_step;
    lws_sorted_usec_list_t sul_hb;
    s_conn_t *conn;
    char *id;
    char *model;
    char *template_slug;
    json_t *tools;
    int64_t app;
    sl_mock_fault_t fault;
    bool fail_app;
    bool partial;     /* partial_app: an outer "partial" result */
    json_t *targets;  /* the URLs a running-app service tests (read or made up), or NULL */
    bool unreachable; /* targets=required and none given: targets_unreachable */
    int tick;
    int break_after; /* stall/disconnect: fires once stage tick reaches it */
    int resume;      /* mux resume_from: the stage it started at, -1 = from the start */
    int issues;
    lws_usec_t t0, duration, cadence, heartbeat;
    bool silent;
    bool instant; /* no accepted/progress frames: the result alone */
    bool real;    /* profile=real: the real service's pushes, real_next the next one */
    int real_next;
    uint64_t chain; /* its progress pushes' chain */
    /* block fault: the replica stops for block_us once the job reaches
       block_stage; paused_* = a timer that the block cancelled */
    bool block_armed;
    int block_stage;
    lws_usec_t block_us;
    bool paused_step, paused_hb;
} s_job_t;

struct s_replica {
    sl_mock_replica_conf_t conf;
    sl_mock_fleet_t *fleet;
    int index;
    char vhost_name[16];
    struct lws_vhost *vh;
    int port;
    char url[96];
    bool down;
    uint64_t rng;
    uint64_t conn_seq, req_seq;
    uint64_t connections, refused, requests, results, errors, faults, cancels, pushes, blocks;
    char last_close[96]; /* the last close frame a client sent: "CODE reason" */
    lws_dll2_owner_t conns;
    bool blocked;
    lws_usec_t block_start, block_end;
    lws_sorted_usec_list_t sul_unblock;
    sl_mock_result_tmpl_t *result_tmpl; /* the last instant result, pre-rendered */
};

typedef struct {
    lws_dll2_t list;
    lws_sorted_usec_list_t sul;
    s_replica_t *replica;
    int fd;
    bool parked; /* held by a block (not a slow fault): adopted when it ends */
} s_slow_t;

typedef struct {
    lws_dll2_t list;
    struct lws *wsi;
    uint64_t chain; /* the analysis it belongs to: its pushes go one at a time */
    bool started;   /* its connection was asked for */
    bool sent;
    size_t len;
    unsigned char buf[]; /* LWS_PRE + len */
} s_push_t;

typedef struct {
    char model[128];
    int64_t last;
} s_appnum_t;

struct sl_mock_fleet_t {
    sl_mock_fleet_conf_t conf;
    FILE *record; /* --record, or NULL */
    s_replica_t *replicas;
    int count;
    struct lws_context *ctx;
    struct lws_vhost *push_vh;
    lws_dll2_owner_t pushes;
    uint64_t chains; /* last push chain handed out */
    lws_dll2_owner_t slow;
    volatile sig_atomic_t stop;
    lws_usec_t started_us;
    /* gateway, parsed once */
    bool gw_ok, gw_tls;
    char gw_host[256];
    char gw_path[256];
    int gw_port;
    /* one-slot command mailbox (control thread -> service thread) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool cmd_pending, reply_ready, closing;
    char cmd[1024];
    char reply[8192];
    sl_mock_control_t *control;
    s_appnum_t apps[S_APPS_MAX];
    int apps_count;
};

static int s_analyzer_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);
static int s_push_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);

static const struct lws_protocols s_server_protocols[] = {
    /* First, so clients that ask for no subprotocol (as the fleet's Python
       clients do) land here. */
    {.name = "sluice-mock",
     .callback = s_analyzer_cb,
     .per_session_data_size = sizeof(s_conn_t),
     .rx_buffer_size = 16384},
    {.name = NULL, .callback = NULL},
};

static const struct lws_protocols s_push_protocols[] = {
    {.name = "sluice-mock-push",
     .callback = s_push_cb,
     .per_session_data_size = 0,
     .rx_buffer_size = 4096},
    {.name = NULL, .callback = NULL},
};

/* ---- helpers ------------------------------------------------------------ */

static lws_usec_t s_scaled(const sl_mock_fleet_t *f, int64_t ms)
{
    if (ms <= 0) {
        return 0;
    }
    double us = (double)ms * 1000.0 * f->conf.time_scale;
    if (us < 1.0) {
        us = 1.0;
    }
    return (lws_usec_t)us;
}

static s_replica_t *s_replica_of(struct lws *wsi)
{
    struct lws_vhost *vh = lws_get_vhost(wsi);
    return vh ? (s_replica_t *)lws_vhost_user(vh) : NULL;
}

static sl_mock_fleet_t *s_fleet_of(struct lws *wsi)
{
    return (sl_mock_fleet_t *)lws_context_user(lws_get_context(wsi));
}

static bool s_app_in(const int64_t *apps, int n, int64_t app)
{
    for (int i = 0; i < n; i++) {
        if (apps[i] == app) {
            return true;
        }
    }
    return false;
}

/* Generated app numbers grow per model across the whole fleet, so two
   generator replicas never hand out the same number. */
static int64_t s_next_app(sl_mock_fleet_t *f, const char *model)
{
    for (int i = 0; i < f->apps_count; i++) {
        if (strncmp(f->apps[i].model, model, sizeof f->apps[i].model - 1) == 0) {
            return ++f->apps[i].last;
        }
    }
    if (f->apps_count < S_APPS_MAX) {
        s_appnum_t *a = &f->apps[f->apps_count++];
        snprintf(a->model, sizeof a->model, "%s", model);
        a->last = 1;
        return 1;
    }
    return 1000 + f->apps_count;
}

/* ---- out-of-band progress pushes (legacy) ------------------------------- */

static bool s_push_owned(sl_mock_fleet_t *f, s_push_t *p)
{
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&f->pushes))
    {
        if (lws_container_of(d, s_push_t, list) == p) {
            return true;
        }
    }
    lws_end_foreach_dll(d);
    return false;
}

static void s_push_connect(sl_mock_fleet_t *f, s_push_t *p);

/* Frees a finished push and starts the next one of its chain. */
static void s_push_release(sl_mock_fleet_t *f, s_push_t *p)
{
    if (!p || !s_push_owned(f, p)) {
        return;
    }
    uint64_t chain = p->chain;
    lws_dll2_remove(&p->list);
    free(p);
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&f->pushes))
    {
        s_push_t *q = lws_container_of(d, s_push_t, list);
        if (q->chain == chain && !q->started) {
            s_push_connect(f, q);
            return;
        }
    }
    lws_end_foreach_dll(d);
}

static void s_push_connect(sl_mock_fleet_t *f, s_push_t *p)
{
    p->started = true;
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = f->ctx;
    i.vhost = f->push_vh;
    i.address = f->gw_host;
    i.port = f->gw_port;
    i.path = f->gw_path;
    i.host = f->gw_host;
    i.origin = f->gw_host;
    i.local_protocol_name = s_push_protocols[0].name;
    i.opaque_user_data = p;
    if (f->gw_tls) {
        i.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                           LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE;
    }
    if (!lws_client_connect_via_info(&i)) {
        s_push_release(f, p);
    }
}

/* Like the real services: a new connection per event, one frame, close;
   an unreachable gateway drops the event silently. The real services await
   each push before going on, so one analysis's pushes arrive in order: a
   push waits for the previous one of its chain. Takes json. */
static void s_push(sl_mock_fleet_t *f, char *json, uint64_t chain)
{
    if (!json) {
        return;
    }
    if (!f->gw_ok) {
        free(json);
        return;
    }
    size_t len = strlen(json);
    s_push_t *p = calloc(1, sizeof *p + LWS_PRE + len);
    if (!p) {
        free(json);
        return;
    }
    memcpy(p->buf + LWS_PRE, json, len);
    p->len = len;
    p->chain = chain;
    free(json);
    bool busy = false;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&f->pushes))
    {
        busy = busy || lws_container_of(d, s_push_t, list)->chain == chain;
    }
    lws_end_foreach_dll(d);
    lws_dll2_add_tail(&p->list, &f->pushes);
    if (!busy) {
        s_push_connect(f, p);
    }
}

static int s_push_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    sl_mock_fleet_t *f = s_fleet_of(wsi);
    s_push_t *p = (s_push_t *)lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!p || !s_push_owned(f, p)) {
            return -1;
        }
        if (!p->sent) {
            p->sent = true;
            if (lws_write(wsi, p->buf + LWS_PRE, p->len, LWS_WRITE_TEXT) < (int)p->len) {
                return -1;
            }
            /* Close on the next writable, once the frame has left. */
            lws_callback_on_writable(wsi);
            return 0;
        }
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (p) {
            lws_set_opaque_user_data(wsi, NULL);
            s_push_release(f, p);
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- connection output ------------------------------------------------- */

static void s_out_free_all(s_conn_t *c)
{
    while (c->out_head) {
        s_out_t *o = c->out_head;
        c->out_head = o->next;
        free(o);
    }
    c->out_tail = NULL;
}

static void s_out_append(s_conn_t *c, s_out_t *o)
{
    o->held = c->replica->blocked && o->kind != S_OUT_DROP;
    if (c->out_tail) {
        c->out_tail->next = o;
    } else {
        c->out_head = o;
    }
    c->out_tail = o;
    lws_callback_on_writable(c->wsi);
}

/* Queues a text frame; takes ownership of json (may be NULL: dropped). */
static void s_send(s_conn_t *c, char *json)
{
    if (!json) {
        return;
    }
    size_t len = strlen(json);
    if (c->closing || c->frozen) {
        free(json);
        return;
    }
    s_out_t *o = calloc(1, sizeof *o + LWS_PRE + len);
    if (o) {
        o->kind = S_OUT_TEXT;
        o->len = len;
        memcpy(o->buf + LWS_PRE, json, len);
        s_out_append(c, o);
    }
    free(json);
}

static void s_close(s_conn_t *c, int code, const char *reason)
{
    if (c->closing) {
        return;
    }
    s_out_t *o = calloc(1, sizeof *o);
    if (o) {
        c->closing = true;
        o->kind = S_OUT_CLOSE;
        o->close_code = code;
        snprintf(o->reason, sizeof o->reason, "%s", reason);
        s_out_append(c, o);
    }
}

/* Drops the TCP connection without a close frame. now: discard what is
   still queued (replica going down) instead of sending it first. */
static void s_drop(s_conn_t *c, bool now)
{
    if (now) {
        s_out_free_all(c);
        c->closing = false;
    }
    if (c->closing) {
        return;
    }
    s_out_t *o = calloc(1, sizeof *o);
    if (o) {
        c->closing = true;
        o->kind = S_OUT_DROP;
        s_out_append(c, o);
    }
}

static int s_writable(s_conn_t *c)
{
    s_out_t *o = c->out_head;
    if (!o || (o->held && c->replica->blocked)) {
        return 0; /* a held frame leaves when the block ends (s_unblock_cb) */
    }
    c->out_head = o->next;
    if (!c->out_head) {
        c->out_tail = NULL;
    }
    int rc = 0;
    switch (o->kind) {
    case S_OUT_TEXT:
        if (lws_write(c->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) {
            rc = -1;
            break;
        }
        /* Keep writing the text frames queued behind it while the socket
           takes them whole (lws-ws-state.h allows several writes per
           WRITEABLE as long as none was partially buffered): one frame per
           callback cost a poll() round per frame, and a busy mux
           connection has hundreds queued. A close or drop still waits for
           its own callback, after everything queued before it. */
        for (int n = 1;
             n < S_WRITES_PER_CALLBACK && c->out_head && c->out_head->kind == S_OUT_TEXT &&
             !(c->out_head->held && c->replica->blocked) && !lws_partial_buffered(c->wsi);
             n++) {
            s_out_t *next = c->out_head;
            c->out_head = next->next;
            if (!c->out_head) {
                c->out_tail = NULL;
            }
            int w = lws_write(c->wsi, next->buf + LWS_PRE, next->len, LWS_WRITE_TEXT);
            bool whole = w >= (int)next->len;
            free(next);
            if (!whole) {
                rc = -1;
                break;
            }
        }
        if (rc == 0 && c->out_head && !(c->out_head->held && c->replica->blocked)) {
            lws_callback_on_writable(c->wsi);
        }
        break;
    case S_OUT_CLOSE:
        lws_close_reason(c->wsi, (enum lws_close_status)o->close_code, (unsigned char *)o->reason,
                         strlen(o->reason));
        rc = -1;
        break;
    case S_OUT_DROP:
        /* shutdown() first so lws cannot send a close frame on the way out. */
        shutdown(lws_get_socket_fd(c->wsi), SHUT_RDWR);
        rc = -1;
        break;
    }
    free(o);
    return rc;
}

/* ---- analyses ----------------------------------------------------------- */

static void s_replica_block(s_replica_t *r, lws_usec_t us);
static void s_job_real_advance(s_job_t *j);

static void s_job_free(s_job_t *j)
{
    if (!j) {
        return;
    }
    lws_sul_cancel(&j->sul_step);
    lws_sul_cancel(&j->sul_hb);
    lws_dll2_remove(&j->in_conn);
    free(j->id);
    free(j->model);
    free(j->template_slug);
    json_decref(j->tools);
    json_decref(j->targets);
    free(j);
}

static bool s_is_generator(const s_job_t *j)
{
    return j->conn->replica->conf.service == SL_SVC_GENERATOR;
}

static const char *s_cid(const s_job_t *j)
{
    const sl_mock_replica_conf_t *rc = &j->conn->replica->conf;
    bool use_id =
        rc->cid == 1 || (rc->cid < 0 && (rc->service == SL_SVC_STATIC || rc->service == SL_SVC_AI ||
                                         rc->service == SL_SVC_GENERATOR));
    return use_id && j->id ? j->id : "";
}

static void s_job_progress(s_job_t *j, int stage)
{
    s_replica_t *r = j->conn->replica;
    sl_service_t svc = r->conf.service;
    if (r->conf.mux) {
        double pct = 0.0;
        if (stage >= sl_mock_stage_count(svc) - 1) {
            pct = 100.0;
        } else if (j->duration > 0) {
            pct = (double)(lws_now_usecs() - j->t0) * 100.0 / (double)j->duration;
            pct = pct > 99.0 ? 99.0 : pct;
        }
        s_send(j->conn, sl_mock_frame_progress(svc, j->id, stage, pct, j->model, j->app,
                                               r->conf.partial ? j->issues : -1));
    } else {
        r->pushes += r->fleet->gw_ok ? 1 : 0;
        s_push(r->fleet,
               sl_mock_frame_progress_update(svc, s_cid(j), stage, j->model, j->app, j->issues),
               j->chain);
    }
    if (j->block_armed && stage >= j->block_stage) {
        j->block_armed = false;
        s_replica_block(r, j->block_us);
    }
}

/* The stage a resumed job started at, for its result; NULL = not resumed. */
static const char *s_resumed_from(const s_job_t *j)
{
    return j->resume >= 0 ? sl_mock_stage_name(j->conn->replica->conf.service, j->resume) : NULL;
}

/* mux "resume_from": a checkpoint of ours ("<stage>:<index>", the stage's
   name at that index) gives the stage to start at; anything else is not
   ours to resume from and is ignored (-1), as an analyzer that cannot
   resume ignores the key. */
static int s_resume_stage(sl_service_t svc, const json_t *root)
{
    const char *cp = json_string_value(json_object_get(root, "resume_from"));
    const char *colon = cp ? strrchr(cp, ':') : NULL;
    if (!colon || colon[1] < '0' || colon[1] > '9') {
        return -1;
    }
    char *end = NULL;
    long i = strtol(colon + 1, &end, 10);
    const char *name = i < sl_mock_stage_count(svc) ? sl_mock_stage_name(svc, (int)i) : NULL;
    if (*end || !name || strlen(name) != (size_t)(colon - cp) ||
        strncmp(name, cp, (size_t)(colon - cp)) != 0) {
        return -1;
    }
    return (int)i;
}

/* An instant analysis's result: the benchmark sends the same request over
   and over, and building the ~1 KB frame with jansson was most of the
   mock's CPU per attempt; the replica keeps the last one pre-rendered. */
static char *s_instant_result(s_replica_t *r, const s_job_t *j)
{
    sl_service_t svc = r->conf.service;
    if (r->conf.tools.set || j->partial || j->targets || j->resume >= 0) {
        sl_mock_result_opts_t opts = {.available = &r->conf.tools,
                                      .partial = j->partial,
                                      .target_urls = j->targets,
                                      .unreachable = j->unreachable,
                                      .resumed_from = s_resumed_from(j)};
        return sl_mock_frame_result_with(svc, j->id, j->model, j->app, j->tools, 0, &opts);
    }
    if (!sl_mock_result_tmpl_matches(r->result_tmpl, svc, j->model, j->app, j->tools)) {
        sl_mock_result_tmpl_destroy(&r->result_tmpl);
        r->result_tmpl = sl_mock_result_tmpl_new(svc, j->model, j->app, j->tools);
    }
    char *frame =
        r->result_tmpl && j->id ? sl_mock_result_tmpl_render(r->result_tmpl, j->id) : NULL;
    return frame ? frame : sl_mock_frame_result(svc, j->id, j->model, j->app, j->tools, 0);
}

static void s_job_finish(s_job_t *j)
{
    s_conn_t *c = j->conn;
    s_replica_t *r = c->replica;
    sl_service_t svc = r->conf.service;
    const char *mux_id = r->conf.mux ? j->id : NULL;
    lws_sul_cancel(&j->sul_hb);
    switch (j->fault) {
    case SL_MOCK_STALL:
        j->silent = true;
        return;
    case SL_MOCK_DISCONNECT:
        s_drop(c, false);
        return;
    case SL_MOCK_ERROR:
        r->errors++;
        s_send(c,
               sl_mock_frame_error(mux_id,
                                   j->fail_app ? "Analysis service temporarily unavailable - event "
                                                 "loop error"
                                               : "Analysis failed: simulated analyzer error",
                                   (int)svc));
        break;
    case SL_MOCK_MALFORMED:
        s_send(c, strdup("Traceback (most recent call last): not json {"));
        break;
    case SL_MOCK_VERDICT:
        r->results++;
        if (s_is_generator(j)) {
            s_send(c, sl_mock_frame_error(mux_id, "Template not found", (int)svc));
        } else {
            s_send(c, sl_mock_frame_result(svc, mux_id, j->model, j->app, j->tools, 1));
        }
        if (!r->conf.mux) {
            s_close(c, LWS_CLOSE_STATUS_NORMAL, "Analysis complete");
        }
        break;
    default:
        if (j->real) {
            s_job_real_advance(j);
            if (r->blocked) {
                j->paused_step = true; /* the rest, and the result, after the block */
                return;
            }
        } else if (!j->instant) {
            s_job_progress(j, sl_mock_stage_count(svc) - 1);
        }
        if (j->block_armed) {
            /* its stage never came: the block comes before the result */
            j->block_armed = false;
            s_replica_block(r, j->block_us);
        }
        r->results++;
        if (s_is_generator(j)) {
            s_send(c, sl_mock_frame_generation(mux_id, j->model, j->template_slug,
                                               s_next_app(r->fleet, j->model)));
        } else if (j->instant) {
            s_send(c, s_instant_result(r, j));
        } else {
            sl_mock_result_opts_t opts = {.available = &r->conf.tools,
                                          .partial = j->partial,
                                          .target_urls = j->targets,
                                          .unreachable = j->unreachable,
                                          .resumed_from = s_resumed_from(j)};
            s_send(c, sl_mock_frame_result_with(svc, mux_id, j->model, j->app, j->tools, 0, &opts));
        }
        if (!r->conf.mux) {
            s_close(c, LWS_CLOSE_STATUS_NORMAL,
                    s_is_generator(j) ? "Generation complete" : "Analysis complete");
        }
        break;
    }
    s_job_free(j);
}

static void s_job_step_cb(lws_sorted_usec_list_t *sul);

/* When push i of a profile=real job is due, relative to its start. */
static lws_usec_t s_real_due(const s_job_t *j, int i)
{
    int pm = sl_mock_real_stage_permille(j->conn->replica->conf.service, i);
    return (lws_usec_t)((double)j->duration * pm / 1000.0);
}

/* profile=real: pushes every stage that is due, in order, stopping when one
   of them blocked the replica (the rest follow when the block ends). */
static void s_job_real_advance(s_job_t *j)
{
    s_replica_t *r = j->conn->replica;
    sl_service_t svc = r->conf.service;
    lws_usec_t elapsed = lws_now_usecs() - j->t0;
    int n = sl_mock_real_stage_count(svc);
    while (j->real_next < n && !r->blocked && s_real_due(j, j->real_next) <= elapsed) {
        int i = j->real_next++;
        j->tick++;
        r->pushes += r->fleet->gw_ok ? 1 : 0;
        const char *url = json_string_value(json_array_get(j->targets, 0));
        s_push(r->fleet,
               sl_mock_frame_real_progress(svc, s_cid(j), i, j->model, j->app, j->issues, url),
               j->chain);
        if (j->block_armed && i >= j->block_stage) {
            j->block_armed = false;
            s_replica_block(r, j->block_us);
        }
    }
}

static void s_job_schedule_step(s_job_t *j)
{
    if (j->conn->replica->blocked) {
        j->paused_step = true;
        return;
    }
    sl_mock_fleet_t *f = j->conn->replica->fleet;
    lws_usec_t elapsed = lws_now_usecs() - j->t0;
    lws_usec_t left = j->duration - elapsed;
    lws_usec_t next = j->cadence > 0 && j->cadence < left ? j->cadence : left;
    if (j->real) {
        int n = sl_mock_real_stage_count(j->conn->replica->conf.service);
        lws_usec_t due = j->real_next < n ? s_real_due(j, j->real_next) : j->duration;
        next = (due < j->duration ? due : j->duration) - elapsed;
    }
    lws_sul_schedule(f->ctx, 0, &j->sul_step, s_job_step_cb, next > 0 ? next : 1);
}

/* Returns true if the stall or disconnect fault fired (job is then silent
   or about to be dropped with its connection). */
static bool s_job_maybe_break(s_job_t *j)
{
    if ((j->fault != SL_MOCK_STALL && j->fault != SL_MOCK_DISCONNECT) || j->tick < j->break_after) {
        return false;
    }
    lws_sul_cancel(&j->sul_hb);
    if (j->fault == SL_MOCK_STALL) {
        j->silent = true;
    } else {
        s_drop(j->conn, false);
    }
    return true;
}

static void s_job_step_cb(lws_sorted_usec_list_t *sul)
{
    s_job_t *j = lws_container_of(sul, s_job_t, sul_step);
    if (lws_now_usecs() - j->t0 >= j->duration) {
        s_job_finish(j);
        return;
    }
    if (j->real) {
        s_job_real_advance(j);
    } else {
        int n = sl_mock_stage_count(j->conn->replica->conf.service);
        j->tick++;
        s_job_progress(j, j->tick < n - 2 ? j->tick : n - 2);
    }
    if (s_job_maybe_break(j)) {
        return;
    }
    s_job_schedule_step(j);
}

static void s_job_heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    s_job_t *j = lws_container_of(sul, s_job_t, sul_hb);
    if (j->silent) {
        return;
    }
    if (j->conn->replica->blocked) {
        j->paused_hb = true;
        return;
    }
    s_send(j->conn, sl_mock_frame_simple("heartbeat", j->id));
    lws_sul_schedule(j->conn->replica->fleet->ctx, 0, &j->sul_hb, s_job_heartbeat_cb, j->heartbeat);
}

static void s_job_begin(s_job_t *j)
{
    s_conn_t *c = j->conn;
    s_replica_t *r = c->replica;
    sl_mock_fleet_t *f = r->fleet;
    if (j->fault == SL_MOCK_HANG) {
        j->silent = true;
        return;
    }
    if (j->fault == SL_MOCK_FREEZE) {
        /* A stuck process: stop reading, so WebSocket pings go unanswered. */
        j->silent = true;
        c->frozen = true;
        lws_rx_flow_control(c->wsi, 0);
        return;
    }
    /* An instant mux analysis (latency 0, progress 0, no fault) has nothing
       to report before its result: it answers with the result alone, now,
       with no timer. This is the benchmark's setting (sluice-bench
       endpoint), where accepted + two progress frames + a timer hop used
       to cost three times the result itself on both sides. */
    if (r->conf.mux && j->duration == 0 && j->cadence == 0 && j->fault == SL_MOCK_OK) {
        j->instant = true;
        s_job_finish(j);
        return;
    }
    if (r->conf.mux) {
        s_send(c, sl_mock_frame_simple("accepted", j->id));
    } else if (j->real && r->conf.service != SL_SVC_STATIC) {
        /* only the real static service sends status_update */
    } else if (!s_is_generator(j)) {
        s_send(c,
               sl_mock_frame_status_update(r->conf.service, j->id ? j->id : "", j->model, j->app));
    }
    /* The real static analyzer answers a missing app at once, no progress. */
    if (j->fault == SL_MOCK_VERDICT) {
        s_job_finish(j);
        return;
    }
    if (j->real) {
        s_job_real_advance(j);
    } else {
        s_job_progress(j, j->tick); /* the first stage, or the one it resumed at */
    }
    if (s_job_maybe_break(j)) {
        return;
    }
    if (r->conf.mux && j->heartbeat > 0) {
        if (r->blocked) {
            j->paused_hb = true;
        } else {
            lws_sul_schedule(f->ctx, 0, &j->sul_hb, s_job_heartbeat_cb, j->heartbeat);
        }
    }
    /* The next step comes a cadence (or the whole duration) later. */
    s_job_schedule_step(j);
}

static s_job_t *s_job_find(s_conn_t *c, const char *id)
{
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->jobs))
    {
        s_job_t *j = lws_container_of(d, s_job_t, in_conn);
        if (j->id && id && strcmp(j->id, id) == 0) {
            return j;
        }
    }
    lws_end_foreach_dll(d);
    return NULL;
}

/* The URLs a running-app service tests, read only where the real services
   read them: the top-level "target_urls" (performance: else its legacy
   "target_url"); a "config.target_urls" is not looked at. Without any, the
   names the services make up themselves (their fallback: the slug with '_'
   and '.' made '-', backend port 5000, frontend 80). *fallback says which. */
static json_t *s_targets(sl_service_t svc, const json_t *root, const char *model, int64_t app,
                         bool *fallback)
{
    *fallback = false;
    if (svc != SL_SVC_DYNAMIC && svc != SL_SVC_PERFORMANCE && svc != SL_SVC_AI) {
        return NULL;
    }
    const json_t *urls = json_object_get(root, "target_urls");
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(urls, i, v)
    {
        if (json_is_string(v)) {
            json_array_append(out, v);
        }
    }
    const json_t *one = json_object_get(root, "target_url");
    if (json_array_size(out) == 0 && svc == SL_SVC_PERFORMANCE && json_is_string(one)) {
        json_array_append(out, (json_t *)one);
    }
    if (json_array_size(out) == 0) {
        char safe[256], url[400];
        snprintf(safe, sizeof safe, "%s", model);
        for (char *ch = safe; *ch; ch++) {
            *ch = *ch == '_' || *ch == '.' ? '-' : *ch;
        }
        snprintf(url, sizeof url, "http://%s-app%lld_backend:5000", safe, (long long)app);
        json_array_append_new(out, json_string(url));
        if (svc != SL_SVC_AI) {
            snprintf(url, sizeof url, "http://%s-app%lld_frontend:80", safe, (long long)app);
            json_array_append_new(out, json_string(url));
        }
        *fallback = true;
    }
    return out;
}

/* --record: one JSON line per request, flushed so a test sees it at once. */
static void s_record(sl_mock_fleet_t *f, const s_replica_t *r, const json_t *root)
{
    if (!f->record) {
        return;
    }
    json_t *line = json_pack("{s:s,s:s,s:O}", "replica", r->url, "service",
                             sl_service_name(r->conf.service), "frame", root);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text) {
        fprintf(f->record, "%s\n", text);
        fflush(f->record);
    }
    free(text);
    json_decref(line);
}

static void s_request(s_conn_t *c, json_t *root, const char *id)
{
    s_replica_t *r = c->replica;
    sl_mock_fleet_t *f = r->fleet;
    int svc = (int)r->conf.service;
    const char *mux_id = r->conf.mux ? id : NULL;
    const char *model = json_string_value(json_object_get(root, "model_slug"));
    json_t *app = json_object_get(root, "app_number");
    const char *tmpl = json_string_value(json_object_get(root, "template_slug"));
    bool gen = r->conf.service == SL_SVC_GENERATOR;

    s_record(f, r, root);
    if (r->conf.mux && !id) {
        s_send(c, sl_mock_frame_error(NULL, "Missing required field: id", svc));
        return;
    }
    if (!model || (!gen && !json_is_integer(app)) || (gen && !tmpl)) {
        s_send(c, sl_mock_frame_error(mux_id,
                                      !model ? "Missing required field: model_slug"
                                      : gen  ? "Missing required field: template_slug"
                                             : "Missing required field: app_number",
                                      svc));
        return;
    }
    if (r->conf.mux && s_job_find(c, id)) {
        s_send(c, sl_mock_frame_error(NULL, "Duplicate id on this connection", svc));
        return;
    }
    s_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        return;
    }
    j->conn = c;
    j->id = id ? strdup(id) : NULL;
    j->model = strdup(model);
    j->template_slug = tmpl ? strdup(tmpl) : NULL;
    j->app = gen ? 0 : json_integer_value(app);
    json_t *tools = json_object_get(root, "tools");
    j->tools = json_is_array(tools) ? json_incref(tools) : NULL;
    if ((id && !j->id) || !j->model || (tmpl && !j->template_slug)) {
        s_job_free(j);
        return;
    }
    r->requests++;
    r->req_seq++;
    const sl_mock_plan_item_t *item =
        sl_mock_plan_choose_item(&r->conf.plan, false, r->req_seq, &r->rng);
    j->fault = item ? item->fault : SL_MOCK_OK;
    j->break_after = item && item->after >= 0 ? item->after : r->conf.stall_after;
    /* mux analyses resume (stages before the checkpoint skipped); legacy
       ones, like the fleet's, know no resume_from */
    j->resume = r->conf.mux && !gen ? s_resume_stage(r->conf.service, root) : -1;
    j->real = r->conf.real && !r->conf.mux && sl_mock_real_stage_count(r->conf.service) > 0;
    if (j->fault == SL_MOCK_BLOCK) {
        /* A stage this cadence never pushes: the block comes before the
           result (s_job_finish). */
        int stage = 0;
        if (item->stage[0]) {
            stage = j->real ? sl_mock_real_stage_find(r->conf.service, item->stage)
                            : sl_mock_stage_find(r->conf.service, item->stage);
            stage = stage < 0 ? INT32_MAX : stage;
        }
        j->block_armed = true;
        j->block_stage = stage;
        j->block_us = s_scaled(f, item->ms);
    }
    int64_t ms = sl_mock_rng_range(&r->rng, r->conf.latency_min_ms, r->conf.latency_max_ms);
    if (!gen && s_app_in(r->conf.fail_apps, r->conf.fail_count, j->app)) {
        j->fault = SL_MOCK_ERROR;
        j->fail_app = true;
        j->block_armed = false;
    } else if (!gen && s_app_in(r->conf.verdict_apps, r->conf.verdict_count, j->app)) {
        j->fault = SL_MOCK_VERDICT;
        j->block_armed = false;
    }
    j->partial = !gen && s_app_in(r->conf.partial_apps, r->conf.partial_count, j->app);
    bool fallback = false;
    j->targets = gen ? NULL : s_targets(r->conf.service, root, j->model, j->app, &fallback);
    j->unreachable = fallback && r->conf.targets_required && r->conf.service != SL_SVC_AI;
    if (j->fault == SL_MOCK_UNREACHABLE) {
        /* the app is down: the analysis itself runs as usual */
        j->fault = SL_MOCK_OK;
        j->unreachable = !gen;
        r->faults++;
    }
    if (j->fault != SL_MOCK_OK) {
        r->faults++;
    }
    j->issues = (int)(j->app % 7);
    j->chain = ++f->chains;
    j->t0 = lws_now_usecs();
    j->duration = s_scaled(f, ms);
    if (j->resume > 0) {
        /* the skipped stages' share of the work is not done again */
        int n = sl_mock_stage_count(r->conf.service);
        j->tick = j->resume;
        j->duration = j->duration * (n - 1 - j->resume) / (n - 1);
    }
    j->cadence = s_scaled(f, r->conf.progress_ms);
    j->heartbeat = s_scaled(f, r->conf.heartbeat_ms);
    lws_dll2_add_tail(&j->in_conn, &c->jobs);
    if (f->conf.verbose) {
        lwsl_user("%s %s: request %s app %lld fault %s\n", r->url, sl_service_name(svc),
                  id ? id : "-", (long long)j->app, sl_mock_fault_name(j->fault));
    }
    s_job_begin(j);
}

static void s_cancel(s_conn_t *c, const char *id)
{
    s_job_t *j = id ? s_job_find(c, id) : NULL;
    /* A cancel racing the result names an id that already ended: it gets
       nothing, so each id still ends exactly once. */
    if (!j) {
        return;
    }
    c->replica->cancels++;
    s_send(c, sl_mock_frame_simple("cancelled", id));
    s_job_free(j);
}

static void s_message(s_conn_t *c, const char *buf, size_t len)
{
    s_replica_t *r = c->replica;
    int svc = (int)r->conf.service;
    /* The fleet's handler awaits its analysis before reading the next
       message, so nothing sent meanwhile is ever answered (only WebSocket
       pings are, by the library). */
    if (!r->conf.mux && c->jobs.count > 0) {
        return;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        s_send(c, sl_mock_frame_error(NULL, "Invalid JSON format", svc));
        json_decref(root);
        return;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *id = json_string_value(json_object_get(root, "id"));
    const char *echo_id = r->conf.mux ? id : NULL;
    char msg[300];
    if (!type) {
        s_send(c, sl_mock_frame_error(NULL, "Unknown message type: None", svc));
    } else if (strcmp(type, "ping") == 0) {
        s_send(c, sl_mock_frame_pong(r->conf.service, echo_id));
    } else if (strcmp(type, "health_check") == 0) {
        double up = (double)(lws_now_usecs() - r->fleet->started_us) / 1e6;
        s_send(c, sl_mock_frame_health(r->conf.service, echo_id, up, &r->conf.tools));
    } else if (strcmp(type, sl_mock_request_type(r->conf.service)) == 0) {
        s_request(c, root, id);
    } else if (r->conf.mux && strcmp(type, "cancel") == 0) {
        s_cancel(c, id);
    } else {
        snprintf(msg, sizeof msg, "Unknown message type: %.200s", type);
        s_send(c, sl_mock_frame_error(NULL, msg, svc));
    }
    json_decref(root);
}

static void s_receive(s_conn_t *c, const void *in, size_t len)
{
    if (!c->rx_overflow) {
        if (c->rx_len + len > S_RX_MAX) {
            c->rx_overflow = true;
        } else {
            if (c->rx_len + len > c->rx_cap) {
                size_t cap = c->rx_cap ? c->rx_cap : 4096;
                while (cap < c->rx_len + len) {
                    cap *= 2;
                }
                char *nb = realloc(c->rx, cap);
                if (!nb) {
                    c->rx_overflow = true;
                } else {
                    c->rx = nb;
                    c->rx_cap = cap;
                }
            }
            if (!c->rx_overflow && len) {
                memcpy(c->rx + c->rx_len, in, len);
                c->rx_len += len;
            }
        }
    }
    if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi) > 0) {
        return;
    }
    if (c->rx_overflow) {
        s_send(c, sl_mock_frame_error(NULL, "Invalid JSON format", (int)c->replica->conf.service));
    } else {
        s_message(c, c->rx, c->rx_len);
    }
    c->rx_len = 0;
    c->rx_overflow = false;
}

static void s_conn_cleanup(s_conn_t *c)
{
    if (!c || c->magic != S_CONN_MAGIC) {
        return;
    }
    c->magic = 0;
    while (c->jobs.head) {
        s_job_free(lws_container_of(c->jobs.head, s_job_t, in_conn));
    }
    s_out_free_all(c);
    free(c->rx);
    c->rx = NULL;
    lws_dll2_remove(&c->in_replica);
}

/* ---- slow handshake ----------------------------------------------------- */

static void s_slow_free(s_slow_t *s, bool close_fd)
{
    lws_sul_cancel(&s->sul);
    lws_dll2_remove(&s->list);
    if (close_fd && s->fd >= 0) {
        close(s->fd);
    }
    free(s);
}

/* Hands the held socket to lws, which answers its handshake now. */
static void s_slow_adopt(s_slow_t *s)
{
    s_replica_t *r = s->replica;
    if (r->down) {
        s_slow_free(s, true);
        return;
    }
    lws_sock_file_fd_type fd;
    fd.sockfd = s->fd;
    int type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
    if (r->conf.tls_cert[0]) {
        type |= LWS_ADOPT_ALLOW_SSL;
    }
    /* On failure lws has already closed the descriptor. */
    lws_adopt_descriptor_vhost(r->vh, (lws_adoption_type)type, fd, NULL, NULL);
    s_slow_free(s, false);
}

static void s_slow_cb(lws_sorted_usec_list_t *sul)
{
    s_slow_t *s = lws_container_of(sul, s_slow_t, sul);
    if (s->replica->blocked) {
        s->parked = true; /* the block ends the wait */
        return;
    }
    s_slow_adopt(s);
}

/* Keeps an accepted socket from lws (which closes its own descriptor when
   the filter says no) until adopted. slow_us 0: parked until the replica's
   block ends. Returns 1 (the filter's "drop it") or 0 if it could not. */
static int s_slow_hold(s_replica_t *r, void *in, lws_usec_t slow_us)
{
    s_slow_t *s = calloc(1, sizeof *s);
    int fd = s ? dup((int)(lws_intptr_t)in) : -1;
    if (fd < 0) {
        free(s);
        return 0;
    }
    s->fd = fd;
    s->replica = r;
    s->parked = slow_us == 0;
    lws_dll2_add_tail(&s->list, &r->fleet->slow);
    if (!s->parked) {
        lws_sul_schedule(r->fleet->ctx, 0, &s->sul, s_slow_cb, slow_us);
    }
    return 1;
}

/* ---- block ---------------------------------------------------------------- */

static void s_unblock_cb(lws_sorted_usec_list_t *sul)
{
    s_replica_t *r = lws_container_of(sul, s_replica_t, sul_unblock);
    lws_usec_t elapsed = lws_now_usecs() - r->block_start;
    r->blocked = false;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&r->conns))
    {
        s_conn_t *c = lws_container_of(d, s_conn_t, in_replica);
        if (!c->frozen) {
            lws_rx_flow_control(c->wsi, 1);
        }
        lws_start_foreach_dll(struct lws_dll2 *, e, lws_dll2_get_head(&c->jobs))
        {
            s_job_t *j = lws_container_of(e, s_job_t, in_conn);
            /* The analysis did not advance while the loop was blocked. */
            j->t0 += elapsed;
            if (j->paused_step) {
                j->paused_step = false;
                s_job_schedule_step(j);
            }
            if (j->paused_hb) {
                j->paused_hb = false;
                lws_sul_schedule(r->fleet->ctx, 0, &j->sul_hb, s_job_heartbeat_cb, j->heartbeat);
            }
        }
        lws_end_foreach_dll(e);
        if (c->out_head) {
            lws_callback_on_writable(c->wsi);
        }
    }
    lws_end_foreach_dll(d);
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&r->fleet->slow))
    {
        s_slow_t *s = lws_container_of(d, s_slow_t, list);
        if (s->replica == r && s->parked) {
            s_slow_adopt(s);
        }
    }
    lws_end_foreach_dll_safe(d, d1);
    if (r->fleet->conf.verbose) {
        lwsl_user("%s: block ended after %lld ms\n", r->url, (long long)(elapsed / 1000));
    }
}

static void s_replica_block(s_replica_t *r, lws_usec_t us)
{
    lws_usec_t now = lws_now_usecs();
    if (r->blocked) {
        if (now + us > r->block_end) {
            r->block_end = now + us;
            lws_sul_schedule(r->fleet->ctx, 0, &r->sul_unblock, s_unblock_cb, us);
        }
        return;
    }
    r->blocked = true;
    r->blocks++;
    r->block_start = now;
    r->block_end = now + us;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&r->conns))
    {
        s_conn_t *c = lws_container_of(d, s_conn_t, in_replica);
        if (!c->frozen) {
            lws_rx_flow_control(c->wsi, 0);
        }
        lws_start_foreach_dll(struct lws_dll2 *, e, lws_dll2_get_head(&c->jobs))
        {
            s_job_t *j = lws_container_of(e, s_job_t, in_conn);
            if (!lws_dll2_is_detached(&j->sul_step.list)) {
                lws_sul_cancel(&j->sul_step);
                j->paused_step = true;
            }
            if (!lws_dll2_is_detached(&j->sul_hb.list)) {
                lws_sul_cancel(&j->sul_hb);
                j->paused_hb = true;
            }
        }
        lws_end_foreach_dll(e);
    }
    lws_end_foreach_dll(d);
    lws_sul_schedule(r->fleet->ctx, 0, &r->sul_unblock, s_unblock_cb, us);
    if (r->fleet->conf.verbose) {
        lwsl_user("%s: blocked for %lld ms\n", r->url, (long long)(us / 1000));
    }
}

/* ---- the analyzer protocol -------------------------------------------- */

static void s_run_command(sl_mock_fleet_t *f);

static int s_analyzer_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    s_conn_t *c = (s_conn_t *)user;
    s_replica_t *r;
    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
        r = s_replica_of(wsi);
        if (!r) {
            return 0;
        }
        if (r->down) {
            r->refused++;
            return 1;
        }
        r->conn_seq++;
        sl_mock_fault_t cf = sl_mock_plan_choose(&r->conf.plan, true, r->conn_seq, &r->rng);
        if (cf == SL_MOCK_REFUSE) {
            r->refused++;
            return 1;
        }
        if (cf == SL_MOCK_SLOW) {
            /* lws closes its descriptor; ours keeps the connection open. */
            return s_slow_hold(r, in, s_scaled(r->fleet, r->conf.slow_ms));
        }
        if (r->blocked) {
            /* The blocked loop accepts nothing: the kernel holds the
               connection, the handshake is answered when the block ends. */
            return s_slow_hold(r, in, 0);
        }
        return 0;
    }
    case LWS_CALLBACK_HTTP:
        /* Plain HTTP to an analyzer port: not a WebSocket client. */
        return -1;
    case LWS_CALLBACK_ESTABLISHED:
        r = s_replica_of(wsi);
        if (!c || !r) {
            return -1;
        }
        memset(c, 0, sizeof *c);
        c->magic = S_CONN_MAGIC;
        c->wsi = wsi;
        c->replica = r;
        lws_dll2_add_tail(&c->in_replica, &r->conns);
        r->connections++;
        if (r->fleet->conf.verbose) {
            lwsl_user("%s: connection\n", r->url);
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!c || c->magic != S_CONN_MAGIC || c->frozen) {
            return 0;
        }
        s_receive(c, in, len);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c || c->magic != S_CONN_MAGIC) {
            return 0;
        }
        return s_writable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        r = c && c->magic == S_CONN_MAGIC ? c->replica : NULL;
        if (r && in && len >= 2) {
            const unsigned char *p = in;
            size_t rl = len - 2 < 64 ? len - 2 : 64;
            snprintf(r->last_close, sizeof r->last_close, "%d %.*s", (p[0] << 8) | p[1], (int)rl,
                     (const char *)p + 2);
        }
        return 0;
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        s_conn_cleanup(c);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        s_run_command(s_fleet_of(wsi));
        return 0;
    default:
        return 0;
    }
}

/* ---- control commands (service thread) --------------------------------- */

static s_replica_t *s_replica_by_url(sl_mock_fleet_t *f, const char *url)
{
    const char *colon = strrchr(url, ':');
    const char *num = colon ? colon + 1 : url;
    long long port;
    char buf[16];
    size_t n = strcspn(num, "/ ");
    if (n == 0 || n >= sizeof buf) {
        return NULL;
    }
    memcpy(buf, num, n);
    buf[n] = '\0';
    char *end = NULL;
    port = strtoll(buf, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535) {
        return NULL;
    }
    for (int i = 0; i < f->count; i++) {
        if (f->replicas[i].port == port) {
            return &f->replicas[i];
        }
    }
    return NULL;
}

static void s_replica_down(s_replica_t *r)
{
    r->down = true;
    lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&r->conns))
    {
        s_drop(lws_container_of(d, s_conn_t, in_replica), true);
    }
    lws_end_foreach_dll(d);
    sl_mock_fleet_t *f = r->fleet;
    lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1, lws_dll2_get_head(&f->slow))
    {
        s_slow_t *s = lws_container_of(d, s_slow_t, list);
        if (s->replica == r) {
            s_slow_free(s, true);
        }
    }
    lws_end_foreach_dll_safe(d, d1);
}

static void s_stats(sl_mock_fleet_t *f, char *reply, size_t size)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < f->count; i++) {
        s_replica_t *r = &f->replicas[i];
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:s}",
                      "service", sl_service_name(r->conf.service), "url", r->url, "proto",
                      r->conf.mux ? "mux" : "legacy", "down", r->down, "connections",
                      (json_int_t)r->connections, "active", (json_int_t)r->conns.count, "requests",
                      (json_int_t)r->requests, "results", (json_int_t)r->results, "errors",
                      (json_int_t)r->errors, "faults", (json_int_t)r->faults, "refused",
                      (json_int_t)r->refused, "cancels", (json_int_t)r->cancels, "pushes",
                      (json_int_t)r->pushes, "blocks", (json_int_t)r->blocks, "blocked", r->blocked,
                      "last_close", r->last_close);
        if (o) {
            json_array_append_new(arr, o);
        }
    }
    json_t *top = json_pack("{s:o}", "replicas", arr);
    char *s = top ? json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (s && strlen(s) + 4 < size) {
        snprintf(reply, size, "ok %s", s);
    } else {
        snprintf(reply, size, "error stats too large");
    }
    free(s);
    json_decref(top);
}

static void s_execute(sl_mock_fleet_t *f, char *line, char *reply, size_t size)
{
    char *save = NULL;
    char *verb = strtok_r(line, " \t\r\n", &save);
    char *arg1 = strtok_r(NULL, " \t\r\n", &save);
    char *arg2 = strtok_r(NULL, " \t\r\n", &save);
    if (!verb) {
        snprintf(reply, size, "error empty command");
        return;
    }
    if (strcmp(verb, "quit") == 0) {
        f->stop = 1;
        snprintf(reply, size, "ok bye");
        return;
    }
    if (strcmp(verb, "stats") == 0) {
        s_stats(f, reply, size);
        return;
    }
    if (strcmp(verb, "ping") == 0) {
        snprintf(reply, size, "ok pong");
        return;
    }
    bool down = strcmp(verb, "down") == 0, up = strcmp(verb, "up") == 0;
    bool fault = strcmp(verb, "fault") == 0, tools = strcmp(verb, "tools") == 0;
    if (!down && !up && !fault && !tools) {
        snprintf(reply, size, "error unknown command '%.64s' (down|up|fault|tools|stats|quit)",
                 verb);
        return;
    }
    s_replica_t *r = arg1 ? s_replica_by_url(f, arg1) : NULL;
    if (!r) {
        snprintf(reply, size, "error no replica '%.128s'", arg1 ? arg1 : "");
        return;
    }
    if (down) {
        s_replica_down(r);
        snprintf(reply, size, "ok down %s", r->url);
    } else if (up) {
        r->down = false;
        snprintf(reply, size, "ok up %s", r->url);
    } else if (tools) {
        /* "tools URL" alone = no tools; "-" = the service's defaults. */
        sl_mock_tools_t t;
        if (arg2 && strcmp(arg2, "-") == 0) {
            memset(&t, 0, sizeof t);
        } else if (sl_mock_tools_parse(&t, arg2 ? arg2 : "") != 0) {
            snprintf(reply, size, "error bad tools '%.128s'", arg2);
            return;
        }
        r->conf.tools = t;
        sl_mock_result_tmpl_destroy(&r->result_tmpl);
        snprintf(reply, size, "ok tools %s %s", r->url, arg2 ? arg2 : "");
    } else {
        sl_mock_plan_t plan;
        char why[160];
        if (!arg2 || sl_mock_plan_parse(&plan, arg2) != 0) {
            snprintf(reply, size, "error bad fault plan '%.128s'", arg2 ? arg2 : "");
            return;
        }
        if (sl_mock_plan_check_stages(&plan, r->conf.service, why, sizeof why) != 0) {
            snprintf(reply, size, "error %s", why);
            return;
        }
        /* Counting restarts so "hang@1" means the next request. */
        r->conf.plan = plan;
        r->req_seq = 0;
        r->conn_seq = 0;
        snprintf(reply, size, "ok fault %s %s", r->url, arg2);
    }
}

static void s_run_command(sl_mock_fleet_t *f)
{
    if (!f) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    if (f->cmd_pending && !f->reply_ready) {
        s_execute(f, f->cmd, f->reply, sizeof f->reply);
        f->reply_ready = true;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
}

void sl_mock_fleet_command(sl_mock_fleet_t *self, const char *line, char *reply, size_t size)
{
    if (!self || !line || !reply || size == 0) {
        return;
    }
    pthread_mutex_lock(&self->mu);
    if (self->closing || self->cmd_pending) {
        pthread_mutex_unlock(&self->mu);
        snprintf(reply, size, "error busy or shutting down");
        return;
    }
    snprintf(self->cmd, sizeof self->cmd, "%s", line);
    self->cmd_pending = true;
    self->reply_ready = false;
    pthread_mutex_unlock(&self->mu);
    lws_cancel_service(self->ctx);

    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&self->mu);
    while (!self->reply_ready && !self->closing) {
        if (pthread_cond_timedwait(&self->cv, &self->mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    if (self->reply_ready) {
        snprintf(reply, size, "%s", self->reply);
    } else {
        snprintf(reply, size, "error timeout");
    }
    self->cmd_pending = false;
    self->reply_ready = false;
    pthread_mutex_unlock(&self->mu);
}

/* ---- lifecycle ---------------------------------------------------------- */

sl_mock_fleet_t *sl_mock_fleet_new(const sl_mock_fleet_conf_t *conf,
                                   const sl_mock_replica_conf_t *replicas, int count)
{
    if (!conf || (count > 0 && !replicas) || count < 0) {
        return NULL;
    }
    sl_mock_fleet_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->conf = *conf;
    if (!(self->conf.time_scale > 0.0)) {
        self->conf.time_scale = 1.0;
    }
    self->replicas = calloc(count > 0 ? (size_t)count : 1, sizeof *self->replicas);
    if (!self->replicas) {
        goto fail;
    }
    self->count = count;
    if (self->conf.record[0] && !(self->record = fopen(self->conf.record, "a"))) {
        goto fail;
    }
    for (int i = 0; i < count; i++) {
        s_replica_t *r = &self->replicas[i];
        r->conf = replicas[i];
        r->fleet = self;
        r->index = i;
        r->rng = replicas[i].seed ^ (0x51ull * (uint64_t)(i + 1));
        snprintf(r->vhost_name, sizeof r->vhost_name, "r%d", i);
    }
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    return self;
fail:
    free(self->replicas);
    free(self);
    return NULL;
}

static int s_parse_gateway(sl_mock_fleet_t *f)
{
    if (!f->conf.gateway[0]) {
        return 0;
    }
    char copy[SL_MOCK_PATH_MAX];
    snprintf(copy, sizeof copy, "%s", f->conf.gateway);
    const char *prot = NULL, *ads = NULL, *path = NULL;
    int port = 0;
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) != 0 || !ads || !*ads) {
        return SL_ECONFIG;
    }
    if (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0) {
        return SL_ECONFIG;
    }
    f->gw_tls = strcmp(prot, "wss") == 0;
    snprintf(f->gw_host, sizeof f->gw_host, "%s", ads);
    snprintf(f->gw_path, sizeof f->gw_path, "/%s", path ? path : "");
    f->gw_port = port;
    f->gw_ok = true;
    return 0;
}

int sl_mock_fleet_start(sl_mock_fleet_t *self)
{
    if (!self) {
        return SL_EINVAL;
    }
    if (self->ctx) {
        return SL_ESTATE;
    }
    int rc = s_parse_gateway(self);
    if (rc != 0) {
        return rc;
    }
    bool tls = self->gw_tls;
    for (int i = 0; i < self->count; i++) {
        tls = tls || self->replicas[i].conf.tls_cert[0];
    }
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    ci.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (tls) {
        ci.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    ci.port = CONTEXT_PORT_NO_LISTEN;
    ci.user = self;
    ci.timeout_secs = 30;
    self->ctx = lws_create_context(&ci);
    if (!self->ctx) {
        return SL_ELWS;
    }
    self->started_us = lws_now_usecs();
    for (int i = 0; i < self->count; i++) {
        s_replica_t *r = &self->replicas[i];
        struct lws_context_creation_info vi;
        memset(&vi, 0, sizeof vi);
        vi.vhost_name = r->vhost_name;
        vi.port = r->conf.port;
        vi.iface = "127.0.0.1";
        vi.protocols = s_server_protocols;
        vi.options =
            LWS_SERVER_OPTION_DISABLE_IPV6 | (tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0);
        vi.user = r;
        vi.timeout_secs = 30;
        if (r->conf.tls_cert[0]) {
            vi.ssl_cert_filepath = r->conf.tls_cert;
            vi.ssl_private_key_filepath = r->conf.tls_key;
        }
        r->vh = lws_create_vhost(self->ctx, &vi);
        if (!r->vh) {
            return SL_ELWS;
        }
        r->port = lws_get_vhost_listen_port(r->vh);
        if (r->port <= 0) {
            return SL_ELWS;
        }
        snprintf(r->url, sizeof r->url, "%s://127.0.0.1:%d", r->conf.tls_cert[0] ? "wss" : "ws",
                 r->port);
    }
    struct lws_context_creation_info pi;
    memset(&pi, 0, sizeof pi);
    pi.vhost_name = "push";
    pi.port = CONTEXT_PORT_NO_LISTEN;
    pi.protocols = s_push_protocols;
    pi.options = tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    self->push_vh = lws_create_vhost(self->ctx, &pi);
    if (!self->push_vh) {
        return SL_ELWS;
    }
    if (self->conf.control) {
        self->control = sl_mock_control_new(self, self->conf.control_port);
        if (!self->control) {
            return SL_EIO;
        }
    }
    return 0;
}

void sl_mock_fleet_print(sl_mock_fleet_t *self, FILE *out)
{
    if (!self || !out) {
        return;
    }
    for (int i = 0; i < self->count; i++) {
        fprintf(out, "replica %s %s\n", sl_service_name(self->replicas[i].conf.service),
                self->replicas[i].url);
    }
    if (self->control) {
        fprintf(out, "control 127.0.0.1:%d\n", sl_mock_control_port(self->control));
    }
    fprintf(out, "ready\n");
    fflush(out);
}

int sl_mock_fleet_run(sl_mock_fleet_t *self)
{
    if (!self || !self->ctx) {
        return SL_ESTATE;
    }
    while (!self->stop) {
        if (lws_service(self->ctx, 0) < 0) {
            break;
        }
    }
    return 0;
}

void sl_mock_fleet_stop(sl_mock_fleet_t *self)
{
    if (!self) {
        return;
    }
    self->stop = 1;
    if (self->ctx) {
        lws_cancel_service(self->ctx);
    }
}

void sl_mock_fleet_destroy(sl_mock_fleet_t **p_self)
{
    if (!p_self || !*p_self) {
        return;
    }
    sl_mock_fleet_t *self = *p_self;
    pthread_mutex_lock(&self->mu);
    self->closing = true;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    sl_mock_control_destroy(&self->control);
    while (self->slow.head) {
        s_slow_free(lws_container_of(self->slow.head, s_slow_t, list), true);
    }
    if (self->ctx) {
        /* Closes every wsi: CLOSED / WSI_DESTROY free connections, jobs and
           pushes through the callbacks. */
        lws_context_destroy(self->ctx);
        self->ctx = NULL;
    }
    while (self->pushes.head) {
        s_push_t *p = lws_container_of(self->pushes.head, s_push_t, list);
        lws_dll2_remove(&p->list);
        free(p);
    }
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    for (int i = 0; self->replicas && i < self->count; i++) {
        sl_mock_result_tmpl_destroy(&self->replicas[i].result_tmpl);
    }
    free(self->replicas);
    if (self->record) {
        fclose(self->record);
    }
    free(self);
    *p_self = NULL;
}
