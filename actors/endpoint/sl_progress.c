/*  sl_progress.c: the progress listener actor.

    The actor thread parses and routes; its sl_wsio I/O thread (server mode,
    created in init, destroyed in fini) accepts the fleet's connections and
    hands every received message over as WSIO_FRAME. Nothing here blocks or
    trusts the bytes: a frame that fails to parse is counted and dropped.
    Each push carries its connection's remote address (from WSIO_ACCEPTED),
    which the endpoint may use to attribute a push without an id; the
    addresses of the open connections sit in a small bounded table (the
    fleet opens one short connection per push).
*/
#include "actors/endpoint/sl_progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/config/sl_config.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_wire.h"
#include "proto/sl_ids.h"
#include "runtime/sl_clock.h"
#include "runtime/sl_err.h"
#include "runtime/sl_log.h"
#include "runtime/sl_map.h"

#define S_PEERS 256 /* open connections whose address is remembered */

typedef struct {
    uint64_t conn; /* 0 = free */
    char addr[48];
} s_peer_t;

typedef struct {
    sl_actor_t *self;
    sl_wsio_t *wsio;
    sl_mp_writer_t w;
    uint64_t connections, frames, routed, bad_frames, unknown_service, wrong_path, rate_limited,
        too_big;
    s_peer_t peers[S_PEERS];
    size_t next_peer; /* where the next one goes when none is free */
    char *path;       /* "/<token>" or NULL = any */
    uint32_t max_conn_per_s;
    int64_t win_start; /* the one-second connection window (monotonic ms) */
    uint32_t win_count;
    sl_map_t refused; /* conn -> (void *)1: closed by us, its frames dropped */
} s_pl_t;

typedef struct {
    const sl_progress_config_t *cfg;
    int port; /* out */
} s_args_t;

void sl_progress_config_defaults(sl_progress_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->name = SL_IDS_PROGRESS;
    const sl_config_t *d = sl_config_builtin(); /* the [progress] keys */
    (void)sl_progress_config_listen(cfg, d->progress_listen, NULL);
    cfg->max_frame = (size_t)d->progress_max_frame_bytes;
    cfg->max_conn_per_s = (uint32_t)d->progress_max_connections_per_s;
}

int sl_progress_config_listen(sl_progress_config_t *cfg, const char *url, bool *tls)
{
    bool wss = url && strncmp(url, "wss://", 6) == 0;
    const char *rest = url && strncmp(url, "ws://", 5) == 0 ? url + 5 : wss ? url + 6 : NULL;
    const char *colon = rest ? strrchr(rest, ':') : NULL;
    if (!colon || colon == rest || (size_t)(colon - rest) >= sizeof cfg->listen_iface) {
        return SL_ECONFIG;
    }
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end != '\0' && strcmp(end, "/") != 0) || port < 0 || port > 65535) {
        return SL_ECONFIG;
    }
    memcpy(cfg->listen_iface, rest, (size_t)(colon - rest));
    cfg->listen_iface[colon - rest] = '\0';
    cfg->port = (int)port;
    if (tls) {
        *tls = wss;
    }
    return 0;
}

/* Service names become mailbox names: keep them to a safe alphabet. */
static bool s_service_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    return n > 0 && n + strlen(SL_IDS_ENDPOINT_PREFIX) < SL_NAME_MAX;
}

/* Remembers conn's remote address; when the table is full the oldest
   entry goes (that connection's pushes then carry no source). */
static void s_peer_add(s_pl_t *pl, uint64_t conn, const char *addr)
{
    if (!addr || !addr[0]) {
        return;
    }
    size_t slot = pl->next_peer;
    for (size_t i = 0; i < S_PEERS; i++) {
        if (pl->peers[i].conn == 0) {
            slot = i;
            break;
        }
    }
    pl->next_peer = (slot + 1) % S_PEERS;
    pl->peers[slot].conn = conn;
    /* lws reports IPv4 peers of a dual-stack socket as ::ffff:a.b.c.d */
    if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.')) {
        addr += 7;
    }
    snprintf(pl->peers[slot].addr, sizeof pl->peers[slot].addr, "%s", addr);
}

static s_peer_t *s_peer_find(s_pl_t *pl, uint64_t conn)
{
    for (size_t i = 0; i < S_PEERS; i++) {
        if (pl->peers[i].conn == conn) {
            return &pl->peers[i];
        }
    }
    return NULL;
}

/* Whether a new connection on path may stay: the secret path when one is
   set (the query string is not part of it), and within the second's cap. */
static void s_on_accepted(s_pl_t *pl, const sl_wsio_accepted_t *ev)
{
    const char *why = NULL;
    int code = SL_WSIO_CLOSE_NORMAL;
    if (pl->path) {
        const char *got = ev->path ? ev->path : "";
        size_t n = strcspn(got, "?");
        if (n != strlen(pl->path) || memcmp(got, pl->path, n) != 0) {
            pl->wrong_path++;
            why = "wrong path";
            code = 1008; /* policy violation */
        }
    }
    int64_t now = sl_clock_now(sl_rt_clock(sl_actor_rt(pl->self)));
    if (!why) {
        if (now - pl->win_start >= 1000) {
            pl->win_start = now;
            pl->win_count = 0;
        }
        if (++pl->win_count > pl->max_conn_per_s) {
            pl->rate_limited++;
            why = "too many connections";
            code = 1008; /* lws 4.1 sends 1013 (try again later) as 1002 */
        }
    }
    if (!why) {
        s_peer_add(pl, ev->conn, ev->peer);
        return;
    }
    if (sl_map_put(&pl->refused, ev->conn, (void *)1) != 0) {
        sl_warn("progress: out of memory refusing a connection");
    }
    sl_wsio_close(pl->wsio, ev->conn, code, why);
}

static void s_on_frame(s_pl_t *pl, const sl_wsio_frame_t *ev)
{
    if (sl_map_get(&pl->refused, ev->conn)) {
        return; /* sent before our close reached it */
    }
    pl->frames++;
    sl_wire_frame_t f;
    if (sl_wire_frame_parse(&f, ev->data.ptr, ev->data.len) != 0) {
        pl->bad_frames++;
        return;
    }
    const char *cid = f.u.progress_update.correlation_id;
    if (f.kind != SL_WIRE_PROGRESS_UPDATE || !f.service || !cid) {
        pl->bad_frames++;
        sl_wire_frame_clear(&f);
        return;
    }
    if (!s_service_ok(f.service)) {
        pl->unknown_service++;
        sl_wire_frame_clear(&f);
        return;
    }
    sl_mp_writer_t dw;
    sl_mp_writer_init(&dw);
    if (f.u.progress_update.data) {
        sl_wire_json_to_mp(&dw, f.u.progress_update.data, SL_WIRE_JSON_MAX_DEPTH);
    }
    sl_progress_push_t p = {0};
    p.correlation_id = (char *)cid;
    p.service = (char *)f.service;
    p.stage = (char *)f.u.progress_update.stage;
    p.message = (char *)f.u.progress_update.message;
    p.pct = f.u.progress_update.has_pct ? (int64_t)(f.u.progress_update.pct + 0.5) : -1;
    if (sl_mp_writer_error(&dw) == 0 && sl_mp_writer_len(&dw) > 0) {
        p.data.ptr = (uint8_t *)sl_mp_writer_data(&dw);
        p.data.len = sl_mp_writer_len(&dw);
    }
    p.received_ms = sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(pl->self)));
    s_peer_t *peer = s_peer_find(pl, ev->conn);
    p.source = peer ? peer->addr : NULL;
    char to[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(to, sizeof to, f.service);
    if (sl_progress_push_write(&p, &pl->w) == 0) {
        int rc = sl_actor_send(pl->self, to, SL_MSG_PROGRESS_PUSH, sl_mp_writer_data(&pl->w),
                               sl_mp_writer_len(&pl->w));
        if (rc == 0) {
            pl->routed++;
        } else {
            pl->unknown_service++;
        }
    } else {
        pl->bad_frames++;
    }
    sl_mp_writer_reset(&pl->w);
    sl_mp_writer_fini(&dw);
    sl_wire_frame_clear(&f);
}

static void s_on_status(s_pl_t *pl, const sl_msg_t *msg)
{
    sl_mp_writer_t cw;
    sl_mp_writer_init(&cw);
    sl_mp_write_map(&cw, 8);
    sl_mp_kv_uint(&cw, "wrong_path", pl->wrong_path);
    sl_mp_kv_uint(&cw, "rate_limited", pl->rate_limited);
    sl_mp_kv_uint(&cw, "too_big", pl->too_big);
    sl_mp_kv_uint(&cw, "connections", pl->connections);
    sl_mp_kv_uint(&cw, "frames", pl->frames);
    sl_mp_kv_uint(&cw, "routed", pl->routed);
    sl_mp_kv_uint(&cw, "bad_frames", pl->bad_frames);
    sl_mp_kv_uint(&cw, "unknown_service", pl->unknown_service);
    sl_endpoint_status_reply_t rep = {0};
    rep.service = SL_IDS_PROGRESS;
    rep.protocol = "gateway";
    if (sl_mp_writer_error(&cw) == 0) {
        rep.counters.ptr = (uint8_t *)sl_mp_writer_data(&cw);
        rep.counters.len = sl_mp_writer_len(&cw);
        if (sl_endpoint_status_reply_write(&rep, &pl->w) == 0) {
            if (msg->flags & SL_MSG_F_REQUEST) {
                sl_actor_reply(pl->self, msg, SL_MSG_ENDPOINT_STATUS_REPLY,
                               sl_mp_writer_data(&pl->w), sl_mp_writer_len(&pl->w));
            } else if (msg->from[0]) {
                sl_actor_send(pl->self, msg->from, SL_MSG_ENDPOINT_STATUS_REPLY,
                              sl_mp_writer_data(&pl->w), sl_mp_writer_len(&pl->w));
            }
        }
    }
    sl_mp_writer_reset(&pl->w);
    sl_mp_writer_fini(&cw);
}

static int s_init(sl_actor_t *self, void *args, void **state)
{
    s_args_t *a = args;
    s_pl_t *pl = calloc(1, sizeof *pl);
    if (!pl) {
        return SL_ENOMEM;
    }
    int rc = SL_ENOMEM;
    pl->self = self;
    sl_mp_writer_init(&pl->w);
    sl_map_init(&pl->refused);
    pl->max_conn_per_s = a->cfg->max_conn_per_s
                             ? a->cfg->max_conn_per_s
                             : (uint32_t)sl_config_builtin()->progress_max_connections_per_s;
    pl->win_start = INT64_MIN / 2;
    const char *path = a->cfg->path;
    if (path && path[0] && strcmp(path, "/") != 0) {
        size_t n = strlen(path);
        pl->path = malloc(n + 2);
        if (!pl->path) {
            goto fail;
        }
        snprintf(pl->path, n + 2, "%s%s", path[0] == '/' ? "" : "/", path);
    }
    sl_wsio_opts_t o = {0};
    o.owner = sl_actor_name(self);
    o.name = sl_actor_name(self);
    o.listen_port = a->cfg->port;
    o.listen_iface = a->cfg->listen_iface;
    o.cert_file = a->cfg->cert_file;
    o.key_file = a->cfg->key_file;
    o.max_message = a->cfg->max_frame ? a->cfg->max_frame
                                      : (size_t)sl_config_builtin()->progress_max_frame_bytes;
    pl->wsio = sl_wsio_new(sl_actor_rt(self), &o);
    if (!pl->wsio) {
        goto fail;
    }
    rc = sl_wsio_start(pl->wsio);
    if (rc) {
        goto fail;
    }
    a->port = sl_wsio_port(pl->wsio);
    *state = pl;
    return 0;
fail:
    sl_wsio_destroy(&pl->wsio);
    sl_mp_writer_fini(&pl->w);
    sl_map_fini(&pl->refused);
    free(pl->path);
    free(pl);
    return rc;
}

static int s_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    s_pl_t *pl = state;
    switch (msg->type) {
    case SL_MSG_WSIO_ACCEPTED: {
        pl->connections++;
        sl_wsio_accepted_t ev = {0};
        if (sl_wsio_accepted_decode(msg->body, msg->body_len, &ev) == 0) {
            s_on_accepted(pl, &ev);
        }
        sl_wsio_accepted_clear(&ev);
        break;
    }
    case SL_MSG_WSIO_CLOSED: {
        sl_wsio_closed_t ev = {0};
        if (sl_wsio_closed_decode(msg->body, msg->body_len, &ev) == 0) {
            s_peer_t *peer = s_peer_find(pl, ev.conn);
            if (peer) {
                peer->conn = 0;
            }
            sl_map_take(&pl->refused, ev.conn);
            if (ev.code == SL_WSIO_CLOSE_TOO_BIG) {
                pl->too_big++;
            }
        }
        sl_wsio_closed_clear(&ev);
        break;
    }
    case SL_MSG_WSIO_FRAME: {
        sl_wsio_frame_t ev = {0};
        if (sl_wsio_frame_decode(msg->body, msg->body_len, &ev) == 0) {
            s_on_frame(pl, &ev);
            sl_wsio_frame_clear(&ev);
        }
        break;
    }
    case SL_MSG_ENDPOINT_STATUS:
        s_on_status(pl, msg);
        break;
    default:
        break; /* the rest: nothing to keep */
    }
    return 0;
}

static void s_fini(sl_actor_t *self, void *state)
{
    s_pl_t *pl = state;
    sl_wsio_destroy(&pl->wsio);
    sl_mp_writer_fini(&pl->w);
    sl_map_fini(&pl->refused);
    free(pl->path);
    free(pl);
}

int sl_progress_spawn(sl_rt_t *rt, const sl_progress_config_t *cfg, sl_actor_t **out, int *port)
{
    if (!rt || !cfg || !out || cfg->port < 0 || cfg->port > 65535) {
        return SL_EINVAL;
    }
    s_args_t args = {cfg, -1};
    sl_actor_spec_t spec = {0};
    spec.name = cfg->name ? cfg->name : SL_IDS_PROGRESS;
    spec.init = s_init;
    spec.handle = s_handle;
    spec.fini = s_fini;
    spec.args = &args;
    spec.parent = cfg->parent;
    int rc = sl_actor_spawn(rt, &spec, out);
    if (rc == 0 && port) {
        *port = args.port;
    }
    return rc;
}
