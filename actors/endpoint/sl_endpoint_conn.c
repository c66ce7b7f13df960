/*  sl_endpoint_conn.c: the endpoint actor's connections and wire protocols.

    Runs on the endpoint actor's thread (see sl_endpoint.c for the actor and
    its design notes): dispatching attempts to replicas, the legacy protocol
    (one connection per attempt) and the mux protocol (one persistent
    connection per replica, attempts by id), half-open probes, and the
    WSIO_* events of the actor's lws I/O thread. Frames are parsed and
    classified with proto/sl_wire.h; nothing received is trusted.
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/endpoint/sl_endpoint_int.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_outcome.h"
#include "proto/sl_wire_fast.h"
#include "runtime/sl_log.h"

/* ---- the attempt indexes: u64 -> pointer, linear probing ------------------ */

static uint64_t s_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static int s_map_grow(sl_ep_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    uint64_t *nk = calloc(ncap, sizeof *nk);
    void **nv = calloc(ncap, sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i]) {
            size_t j = s_mix(m->keys[i]) & (ncap - 1);
            while (nk[j]) {
                j = (j + 1) & (ncap - 1);
            }
            nk[j] = m->keys[i];
            nv[j] = m->vals[i];
        }
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = ncap;
    return 0;
}

int sl_ep_map_put(sl_ep_map_t *m, uint64_t key, void *val)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        int rc = s_map_grow(m);
        if (rc) {
            return rc;
        }
    }
    size_t j = s_mix(key) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key) {
        j = (j + 1) & (m->cap - 1);
    }
    if (!m->keys[j]) {
        m->count++;
    }
    m->keys[j] = key;
    m->vals[j] = val;
    return 0;
}

void *sl_ep_map_get(const sl_ep_map_t *m, uint64_t key)
{
    if (!m->cap) {
        return NULL;
    }
    size_t j = s_mix(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key) {
            return m->vals[j];
        }
        j = (j + 1) & (m->cap - 1);
    }
    return NULL;
}

void sl_ep_map_del(sl_ep_map_t *m, uint64_t key)
{
    if (!m->cap) {
        return;
    }
    size_t mask = m->cap - 1;
    size_t j = s_mix(key) & mask;
    while (m->keys[j] && m->keys[j] != key) {
        j = (j + 1) & mask;
    }
    if (!m->keys[j]) {
        return;
    }
    m->keys[j] = 0;
    m->vals[j] = NULL;
    m->count--;
    /* Pull later members of the run back so lookups never stop early. */
    size_t i = j;
    for (size_t k = (j + 1) & mask; m->keys[k]; k = (k + 1) & mask) {
        size_t home = s_mix(m->keys[k]) & mask;
        bool between = (i <= k) ? (home > i && home <= k) : (home > i || home <= k);
        if (!between) {
            m->keys[i] = m->keys[k];
            m->vals[i] = m->vals[k];
            m->keys[k] = 0;
            m->vals[k] = NULL;
            i = k;
        }
    }
}

void sl_ep_map_fini(sl_ep_map_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

uint64_t sl_ep_hash_id(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

/* ---- dispatch ---------------------------------------------------------- */

static void s_mux_timer_fn(void *arg, uint64_t id);

static void s_mux_arm(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    int64_t due = r->m_connect;
    if (r->m_ping < due) {
        due = r->m_ping;
    }
    if (r->m_pong < due) {
        due = r->m_pong;
    }
    if (r->mtimer && r->mtimer_due <= due) {
        return;
    }
    if (r->mtimer) {
        sl_actor_timer_cancel(ep->self, r->mtimer);
        r->mtimer = 0;
    }
    if (due == SL_EP_NEVER) {
        return;
    }
    int64_t delay = due - sl_ep_now(ep);
    r->mtimer = sl_actor_timer(ep->self, delay > 0 ? delay : 0, 0, s_mux_timer_fn, r);
    r->mtimer_due = due;
}

static void s_mux_timer_fn(void *arg, uint64_t id)
{
    sl_ep_replica_t *r = arg;
    sl_ep_t *ep = r->ep;
    if (r->mtimer != id) {
        return;
    }
    r->mtimer = 0;
    int64_t now = sl_ep_now(ep);
    char why[64];
    if (r->m_connect <= now) {
        snprintf(why, sizeof why, "no handshake within %" PRId64 " ms", ep->connect_timeout);
        sl_ep_mux_fail(r, SL_OUT_CONNECT_TIMEOUT, why);
        return;
    }
    if (r->m_pong <= now) {
        snprintf(why, sizeof why, "no pong within %" PRId64 " ms", ep->pong_timeout);
        sl_ep_mux_fail(r, SL_OUT_PONG_TIMEOUT, why);
        return;
    }
    if (r->m_ping <= now && r->mux_state == 2) {
        sl_wsio_ping(ep->wsio, (uint64_t)r->index + 1);
        r->m_ping = SL_EP_NEVER;
        r->m_pong = now + ep->pong_timeout;
    }
    s_mux_arm(r);
}

static int s_mux_ensure(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    if (r->mux_state == 1 || r->mux_state == 2) {
        return 0;
    }
    if (r->mux_state == 3) {
        return SL_EBUSY; /* its WSIO_CLOSED has not come back yet */
    }
    int rc = sl_wsio_connect(ep->wsio, (uint64_t)r->index + 1, r->url);
    if (rc) {
        return rc;
    }
    r->mux_state = 1;
    r->m_connect = sl_ep_now(ep) + ep->connect_timeout;
    r->m_ping = r->m_pong = SL_EP_NEVER;
    s_mux_arm(r);
    return 0;
}

/* Ends every attempt on the replica's mux connection and closes it. */
void sl_ep_mux_fail(sl_ep_replica_t *r, int outcome, const char *why)
{
    sl_ep_t *ep = r->ep;
    if (r->mux_state == 1 || r->mux_state == 2) {
        sl_wsio_close(ep->wsio, (uint64_t)r->index + 1, SL_WSIO_CLOSE_NORMAL, why);
        r->mux_state = 3;
    }
    r->m_connect = r->m_ping = r->m_pong = SL_EP_NEVER;
    if (r->mtimer) {
        sl_actor_timer_cancel(ep->self, r->mtimer);
        r->mtimer = 0;
    }
    sl_ep_attempt_t *a = ep->all;
    while (a) {
        sl_ep_attempt_t *next = a->next;
        if (a->replica == r->index && !a->probe && !a->conn) {
            sl_ep_finish(a, outcome, NULL, NULL, 0, NULL, "%s", why);
            /* sl_ep_finish may have ended others (pump dispatches, never ends);
               restart from the head to stay safe. */
            next = ep->all;
        }
        a = next;
    }
}

void sl_ep_dispatch(sl_ep_attempt_t *a, int idx)
{
    sl_ep_t *ep = a->ep;
    sl_ep_replica_t *r = &ep->replicas[idx];
    int64_t now = sl_ep_now(ep);
    a->replica = idx;
    r->in_flight++;
    a->dispatched_ms = now;
    a->d_queue = SL_EP_NEVER;
    a->d_attempt = now + a->attempt_timeout;
    int rc;
    if (ep->protocol == SL_ENDPOINT_LEGACY) {
        a->conn = ep->next_conn++;
        rc = sl_ep_map_put(&ep->by_conn, a->conn, a);
        if (rc == 0) {
            rc = sl_wsio_connect(ep->wsio, a->conn, r->url);
        }
        if (rc) {
            sl_ep_map_del(&ep->by_conn, a->conn);
            a->conn = 0;
            sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL, "connect: %s", sl_err_msg(rc));
            return;
        }
        sl_wsio_send(ep->wsio, a->conn, a->frame, a->frame_len);
        a->state = SL_EP_CONNECTING;
        a->d_connect = now + ep->connect_timeout;
    } else {
        rc = s_mux_ensure(r);
        if (rc) {
            sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL, "connect: %s", sl_err_msg(rc));
            return;
        }
        sl_wsio_send(ep->wsio, (uint64_t)r->index + 1, a->frame, a->frame_len);
        a->state = SL_EP_RUNNING;
        /* mux heartbeats are mandatory: the stall timer runs from the start */
        if (a->progress_timeout > 0) {
            a->d_stall = now + a->progress_timeout;
        }
    }
    sl_ep_attempt_arm(a);
}

/* ---- probes ------------------------------------------------------------- */

void sl_ep_probe_start(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    int64_t now = sl_ep_now(ep);
    if (!sl_breaker_take_probe(r->breaker, now)) {
        return;
    }
    ep->c.probes++;
    sl_ep_attempt_t *a = calloc(1, sizeof *a);
    char idbuf[48];
    snprintf(idbuf, sizeof idbuf, "probe-%" PRIu64, ++ep->probe_seq);
    if (!a || !(a->id = strdup(idbuf)) ||
        sl_wire_build_health_check(NULL, &a->frame, &a->frame_len) != 0) {
        if (a) {
            free(a->id);
            free(a);
        }
        sl_breaker_transition_t tr;
        if (sl_breaker_record_probe(r->breaker, now, true, &tr)) {
            sl_ep_breaker_changed(r, &tr);
        }
        return;
    }
    a->ep = ep;
    a->probe = true;
    a->replica = r->index;
    a->last_pct = -1;
    a->d_queue = a->d_ping = a->d_pong = a->d_stall = a->d_flush = SL_EP_NEVER;
    a->attempt_timeout = ep->bcfg.half_open_max_wait_ms < ep->attempt_timeout
                             ? ep->bcfg.half_open_max_wait_ms
                             : ep->attempt_timeout;
    a->d_attempt = now + a->attempt_timeout;
    a->d_connect = now + ep->connect_timeout;
    a->dispatched_ms = now;
    a->next = ep->all;
    if (ep->all) {
        ep->all->prev = a;
    }
    ep->all = a;
    a->conn = ep->next_conn++;
    int rc = sl_ep_map_put(&ep->by_conn, a->conn, a);
    if (rc == 0) {
        rc = sl_wsio_connect(ep->wsio, a->conn, r->url);
    }
    if (rc) {
        sl_ep_map_del(&ep->by_conn, a->conn);
        a->conn = 0;
        sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL, "probe connect: %s", sl_err_msg(rc));
        return;
    }
    sl_wsio_send(ep->wsio, a->conn, a->frame, a->frame_len);
    a->state = SL_EP_CONNECTING;
    sl_ep_attempt_arm(a);
}

int sl_ep_build_frame(sl_ep_t *ep, sl_ep_attempt_t *a, char *why, size_t whylen)
{
    const sl_attempt_start_t *st = &a->start;
    const char *op = sl_ep_op_known(st->op) ? st->op : ep->op;
    if (strcmp(op, "generate") == 0) {
        if (!st->model || !st->template_slug) {
            snprintf(why, whylen, "invalid request: generate needs model and template_slug");
            return SL_EINVAL;
        }
        return sl_wire_build_generate(a->id, st->model, st->template_slug, NULL, &a->frame,
                                      &a->frame_len);
    }
    sl_wire_analyze_req_t req = {0};
    for (int i = 0; i < SL_WIRE__ANALYSIS_COUNT; i++) {
        if (strcmp(op, sl_wire_analysis_type((sl_wire_analysis_t)i)) == 0) {
            req.analysis = (sl_wire_analysis_t)i;
        }
    }
    if (!st->model) {
        snprintf(why, whylen, "invalid request: %s needs a model", op);
        return SL_EINVAL;
    }
    req.model_slug = st->model;
    req.app_number = st->app_number;
    req.tools = (const char *const *)st->tools.v;
    req.tools_count = st->tools.n;
    req.id = a->id;
    req.wall_ms = a->started_wall;
    char **urls = NULL;
    if (st->target_urls.n) {
        int rc = sl_wire_expand_urls((const char *const *)st->target_urls.v, st->target_urls.n,
                                     st->model, st->app_number, &urls);
        if (rc) {
            snprintf(why, whylen, "invalid request: target_urls: %s", sl_err_msg(rc));
            return rc;
        }
        req.target_urls = (const char *const *)urls;
        req.target_urls_count = st->target_urls.n;
    }
    int rc = sl_wire_build_analyze(&req, &a->frame, &a->frame_len);
    sl_wire_strv_destroy(&urls);
    if (rc) {
        snprintf(why, whylen, "invalid request: %s", sl_err_msg(rc));
    }
    return rc;
}

/* ---- handlers: WSIO events ---------------------------------------------- */

static sl_ep_replica_t *s_mux_replica(sl_ep_t *ep, uint64_t conn)
{
    if (ep->protocol != SL_ENDPOINT_MUX || conn == 0 || conn > ep->n_replicas) {
        return NULL;
    }
    return &ep->replicas[conn - 1];
}

void sl_ep_on_open(sl_ep_t *ep, uint64_t conn)
{
    int64_t now = sl_ep_now(ep);
    sl_ep_replica_t *r = s_mux_replica(ep, conn);
    if (r) {
        if (r->mux_state == 1) {
            r->mux_state = 2;
            r->m_connect = SL_EP_NEVER;
            r->m_ping = now + ep->ping_interval;
            s_mux_arm(r);
        }
        return;
    }
    sl_ep_attempt_t *a = sl_ep_map_get(&ep->by_conn, conn);
    if (!a) {
        return;
    }
    a->state = SL_EP_RUNNING;
    a->d_connect = SL_EP_NEVER;
    a->d_ping = now + ep->ping_interval;
    sl_ep_attempt_arm(a);
}

void sl_ep_on_pong(sl_ep_t *ep, uint64_t conn)
{
    int64_t now = sl_ep_now(ep);
    sl_ep_replica_t *r = s_mux_replica(ep, conn);
    if (r) {
        r->m_pong = SL_EP_NEVER;
        r->m_ping = now + ep->ping_interval;
        s_mux_arm(r);
        return;
    }
    sl_ep_attempt_t *a = sl_ep_map_get(&ep->by_conn, conn);
    if (a) {
        a->d_pong = SL_EP_NEVER;
        a->d_ping = now + ep->ping_interval;
        sl_ep_attempt_arm(a);
    }
}

void sl_ep_on_closed(sl_ep_t *ep, const sl_wsio_closed_t *ev)
{
    sl_ep_replica_t *r = s_mux_replica(ep, ev->conn);
    const char *err = ev->error ? ev->error : "connection lost";
    if (r) {
        if (r->mux_state != 3) {
            /* Closing (3) keeps the pump away from this replica while its
               attempts are being ended. */
            r->mux_state = 3;
            char why[160];
            snprintf(why, sizeof why, "%s before a result: %s (code %" PRId64 ")",
                     ev->opened ? "connection closed" : "connect failed", err, ev->code);
            sl_ep_mux_fail(r, SL_OUT_TRANSPORT, why);
        }
        r->mux_state = 0;
        sl_ep_pump(ep); /* attempts held back during the close can go now */
        return;
    }
    sl_ep_attempt_t *a = sl_ep_map_get(&ep->by_conn, ev->conn);
    if (!a) {
        return;
    }
    sl_ep_map_del(&ep->by_conn, ev->conn);
    a->conn = 0; /* already gone: nothing to close */
    if (a->probe) {
        sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL, "probe: %s", err);
    } else if (!ev->opened) {
        sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL, "connect failed: %s", err);
    } else {
        sl_ep_finish(a, SL_OUT_TRANSPORT, NULL, NULL, 0, NULL,
                     "connection closed before a result: %s (code %" PRId64 ")", err, ev->code);
    }
}

/* A frame for one attempt (legacy connection, or matched by id on mux). */
static void s_attempt_frame(sl_ep_attempt_t *a, const sl_wire_frame_t *f, const uint8_t *raw,
                            size_t raw_len)
{
    sl_ep_t *ep = a->ep;
    if (a->probe) {
        if (f->kind == SL_WIRE_HEALTH_RESPONSE) {
            const char *st = f->u.health.status;
            bool ok = !st || strcmp(st, "healthy") == 0 || strcmp(st, "ok") == 0;
            sl_ep_finish(a, ok ? SL_OUT_SUCCESS : SL_OUT_ANALYZER_ERROR, NULL, NULL, 0, NULL,
                         "health: %s", st ? st : "?");
        } else if (f->kind == SL_WIRE_ERROR) {
            sl_ep_finish(a, SL_OUT_ANALYZER_ERROR, NULL, NULL, 0, NULL, "health: error frame");
        }
        return;
    }
    switch (f->kind) {
    case SL_WIRE_STATUS_UPDATE:
        /* "started" proves nothing about liveness later on: forward it, but
           only real progress arms the stall timer. */
        sl_ep_progress(a, f->u.status_update.stage, f->u.status_update.message, false, 0, NULL, 0,
                       NULL, ep->protocol == SL_ENDPOINT_MUX);
        break;
    case SL_WIRE_PROGRESS:
        sl_ep_progress(a, f->u.progress.stage, f->u.progress.message, f->u.progress.has_pct,
                       f->u.progress.pct, NULL, 0, f->u.progress.checkpoint, true);
        break;
    case SL_WIRE_PROGRESS_UPDATE: {
        sl_mp_writer_t dw;
        sl_mp_writer_init(&dw);
        if (f->u.progress_update.data) {
            /* a cut at the depth limit is not an error here: nil stands in */
            (void)sl_wire_json_to_mp(&dw, f->u.progress_update.data, SL_WIRE_JSON_MAX_DEPTH);
        }
        bool ok = sl_mp_writer_error(&dw) == 0 && sl_mp_writer_len(&dw) > 0;
        sl_ep_progress(a, f->u.progress_update.stage, f->u.progress_update.message,
                       f->u.progress_update.has_pct, f->u.progress_update.pct,
                       ok ? sl_mp_writer_data(&dw) : NULL, ok ? sl_mp_writer_len(&dw) : 0, NULL,
                       true);
        sl_mp_writer_fini(&dw);
        break;
    }
    case SL_WIRE_HEARTBEAT:
        if (a->progress_timeout > 0) {
            a->d_stall = sl_ep_now(ep) + a->progress_timeout;
        }
        break;
    case SL_WIRE_ANALYSIS_RESULT:
    case SL_WIRE_GENERATION_RESULT:
    case SL_WIRE_ERROR:
    case SL_WIRE_CANCELLED: {
        sl_wire_verdict_t v;
        memset(&v, 0, sizeof v);
        if (sl_wire_classify(f, &v) != 0) {
            sl_ep_finish(a, SL_OUT_MALFORMED, NULL, raw, raw_len, NULL, "unclassifiable %s frame",
                         f->type);
            return;
        }
        const char *status = NULL;
        if (f->kind == SL_WIRE_ANALYSIS_RESULT) {
            status = f->u.result.status;
        } else if (f->kind == SL_WIRE_GENERATION_RESULT) {
            status = f->u.generation.status;
        }
        sl_ep_finish(a, (int)v.outcome, status, raw, raw_len, &v, NULL);
        break;
    }
    default:
        break; /* accepted, pong, unknown types: nothing to do */
    }
}

void sl_ep_on_frame(sl_ep_t *ep, const sl_wsio_frame_t *ev)
{
    sl_wire_frame_t f;
    /* The common mux frames (results, heartbeats, progress) are read
       without a jansson tree: building the tree of a ~1 KB result was half
       of this thread's CPU per mux attempt. Anything the scan is not sure
       about goes to the full parser, which alone judges malformed input.
       Nothing below reads the frame's json_t members, which the fast path
       leaves NULL; its strings live in `arena` until the end of this call. */
    char arena[2048];
    int prc = sl_wire_frame_parse_fast(&f, ev->data.ptr, ev->data.len, arena, sizeof arena);
    if (prc == SL_EUNSUPPORTED) {
        prc = sl_wire_frame_parse(&f, ev->data.ptr, ev->data.len);
    }
    sl_ep_replica_t *r = s_mux_replica(ep, ev->conn);
    if (r) {
        if (prc != 0) {
            ep->c.malformed_frames++;
            sl_ep_mux_fail(r, SL_OUT_MALFORMED, "unparseable frame on the mux connection");
            return;
        }
        /* Any frame proves the link is alive. */
        sl_ep_attempt_t *a = f.id ? sl_ep_find_id(ep, f.id) : NULL;
        if (a && a->replica == r->index && !a->probe) {
            s_attempt_frame(a, &f, ev->data.ptr, ev->data.len);
        } else if (f.kind == SL_WIRE_ERROR && !f.id) {
            sl_warn("%s: %s says: %s", ep->name, r->url,
                    f.u.error.message ? f.u.error.message : "(error)");
        } else if (f.kind != SL_WIRE_HEARTBEAT && f.kind != SL_WIRE_PONG &&
                   f.kind != SL_WIRE_CANCELLED && f.kind != SL_WIRE_ACCEPTED) {
            ep->c.unmatched_frames++;
        }
        sl_wire_frame_clear(&f);
        return;
    }
    sl_ep_attempt_t *a = sl_ep_map_get(&ep->by_conn, ev->conn);
    if (!a) {
        if (prc == 0) {
            sl_wire_frame_clear(&f);
        }
        return;
    }
    if (prc != 0) {
        ep->c.malformed_frames++;
        sl_wsio_close(ep->wsio, a->conn, SL_WSIO_CLOSE_PROTOCOL, "malformed frame");
        sl_ep_map_del(&ep->by_conn, a->conn);
        a->conn = 0;
        sl_ep_finish(a, SL_OUT_MALFORMED, NULL, NULL, 0, NULL, "%s frame (%zu bytes)",
                     prc == SL_ETOOBIG ? "oversized" : "unparseable", ev->data.len);
        return;
    }
    s_attempt_frame(a, &f, ev->data.ptr, ev->data.len);
    sl_wire_frame_clear(&f);
}
