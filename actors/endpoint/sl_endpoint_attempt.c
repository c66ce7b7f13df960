/*  sl_endpoint_attempt.c: the life of an endpoint's attempts, from queued
    to their one ATTEMPT_RESULT.

    Runs on the endpoint actor's thread (the actor, its threads and the
    design notes are in sl_endpoint.c; shared state in sl_endpoint_int.h):
    the attempt indexes, the service queue and replica choice (the pump),
    dispatch to a replica (a legacy connection per attempt, or the replica's
    mux connection and its heartbeat timer), the attempt timers, throttled
    progress forwarding, the breakers, and the health checks run as
    internal attempts (half-open probes, and asking a replica for its
    tools), and sl_ep_finish, the only way an attempt ends. These call each other
    (ending an attempt pumps the queue, which dispatches, which can end an
    attempt), so they live together; the actor (sl_endpoint.c) and the wire
    side (sl_endpoint_wire.c) call in, nothing here calls out to them.
*/
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/endpoint/sl_endpoint_int.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "proto/sl_wire.h"
#include "runtime/sl_log.h"

static void s_breaker_changed(sl_ep_replica_t *r, const sl_breaker_transition_t *tr);
static void s_dispatch(sl_ep_attempt_t *a, int idx);
static void s_probe_start(sl_ep_replica_t *r);
static void s_health_start(sl_ep_replica_t *r, bool probe);

/* ---- small helpers -------------------------------------------------------- */

int64_t sl_ep_now(sl_ep_t *ep)
{
    return sl_actor_now(ep->self);
}

int64_t sl_ep_wall(sl_ep_t *ep)
{
    return sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(ep->self)));
}

void sl_ep_send_writer(sl_ep_t *ep, const char *to, uint16_t type)
{
    if (sl_mp_writer_error(&ep->w) == 0) {
        int rc =
            sl_actor_send(ep->self, to, type, sl_mp_writer_data(&ep->w), sl_mp_writer_len(&ep->w));
        if (rc != 0 && rc != SL_ENOTFOUND) {
            sl_warn("%s: send %s to %s failed: %s", ep->name, sl_msg_type_name(type), to,
                    sl_err_name(rc));
        }
    }
    sl_mp_writer_reset(&ep->w);
}

/* Arms *timer to run fn(arg) at `due` (SL_EP_NEVER: no timer). A timer
   already due no later is kept: it fires early and its callback re-arms,
   which is cheaper than moving it for every later deadline (every progress
   frame pushes the stall deadline). */
static void s_timer_arm(sl_ep_t *ep, uint64_t *timer, int64_t *timer_due, int64_t due,
                        sl_timer_fn *fn, void *arg)
{
    if (*timer && *timer_due <= due) {
        return;
    }
    if (*timer) {
        sl_actor_timer_cancel(ep->self, *timer);
        *timer = 0;
    }
    if (due == SL_EP_NEVER) {
        return;
    }
    int64_t delay = due - sl_ep_now(ep);
    *timer = sl_actor_timer(ep->self, delay > 0 ? delay : 0, 0, fn, arg);
    *timer_due = due;
}

/* The earliest of n deadlines. */
static int64_t s_earliest(const int64_t *d, size_t n)
{
    int64_t min = SL_EP_NEVER;
    for (size_t i = 0; i < n; i++) {
        if (d[i] < min) {
            min = d[i];
        }
    }
    return min;
}

/* ---- breaker events ---------------------------------------------------- */

static void s_breaker_timer_fn(void *arg, uint64_t id);

static void s_breaker_arm(sl_ep_replica_t *r)
{
    s_timer_arm(r->ep, &r->btimer, &r->btimer_due, sl_breaker_next_due(r->breaker),
                s_breaker_timer_fn, r);
}

/* Sends the event topic with the fields in ev to the store as a
   fire-and-forget STORE_WRITE of one store_event; no store running is
   fine. */
static void s_store_events(sl_ep_t *ep, const char *topic, sl_mp_writer_t *ev)
{
    if (sl_mp_writer_error(ev) == 0) {
        sl_store_event_t item = {
            .topic = (char *)topic,
            .fields = {(uint8_t *)sl_mp_writer_data(ev), sl_mp_writer_len(ev)}};
        sl_mp_writer_t items;
        sl_mp_writer_init(&items);
        sl_mp_write_array(&items, 1);
        if (sl_store_event_write(&item, &items) == 0 && sl_mp_writer_error(&items) == 0) {
            sl_store_write_t sw = {
                .events = {(uint8_t *)sl_mp_writer_data(&items), sl_mp_writer_len(&items)}};
            if (sl_store_write_write(&sw, &ep->w) == 0) {
                sl_ep_send_writer(ep, ep->store, SL_MSG_STORE_WRITE);
            }
            sl_mp_writer_reset(&ep->w);
        }
        sl_mp_writer_fini(&items);
    }
}

/* Starts ev (caller finis) as the fields {service, replica, ...} of an
   event about replica r, with room for `more` fields after those two. */
static void s_replica_event(sl_mp_writer_t *ev, const sl_ep_replica_t *r, uint32_t more)
{
    sl_mp_writer_init(ev);
    sl_mp_write_map(ev, 2 + more);
    sl_mp_kv_str(ev, "service", r->ep->service);
    sl_mp_kv_str(ev, "replica", r->url);
}

/* endpoint.health: a replica is healthy while its breaker is closed and
   it is not suspect. Only changes are sent, never the initial "healthy" of
   a new endpoint (every replica starts healthy; endpoints.list gives the
   current state): so a monitor sees one event when a replica goes bad (the
   breaker opens, or it missed a pong) and one when it is back (the
   half-open probe succeeded, or it showed a sign of life). A failed probe
   re-opens a breaker that is already unhealthy: no event. */
static void s_health_update(sl_ep_replica_t *r, const char *reason)
{
    sl_ep_t *ep = r->ep;
    bool healthy = sl_breaker_state(r->breaker) == SL_BREAKER_CLOSED && !r->suspect;
    if (healthy != r->unhealthy) {
        return; /* no change */
    }
    r->unhealthy = !healthy;
    sl_mp_writer_t ev;
    s_replica_event(&ev, r, 2);
    sl_mp_kv_bool(&ev, "healthy", healthy);
    sl_mp_kv_str(&ev, "reason", reason);
    s_store_events(ep, "endpoint.health", &ev);
    sl_mp_writer_fini(&ev);
}

/* Emits the transition (log, endpoint.breaker event, endpoint.health event
   when the replica's health flips), re-arms the breaker timer, starts a
   probe on half_open and pumps on closed. */
static void s_breaker_changed(sl_ep_replica_t *r, const sl_breaker_transition_t *tr)
{
    sl_ep_t *ep = r->ep;
    ep->c.breaker_transitions++;
    const char *from = sl_breaker_state_name(tr->from), *to = sl_breaker_state_name(tr->to);
    sl_info("%s: breaker %s %s -> %s (%s)", ep->name, r->url, from, to, tr->reason);

    sl_mp_writer_t ev;
    s_replica_event(&ev, r, 3);
    sl_mp_kv_str(&ev, "from", from);
    sl_mp_kv_str(&ev, "to", to);
    sl_mp_kv_str(&ev, "reason", tr->reason);
    s_store_events(ep, "endpoint.breaker", &ev);
    sl_mp_writer_fini(&ev);
    s_health_update(r, tr->reason);

    s_breaker_arm(r);
    if (tr->to == SL_BREAKER_HALF_OPEN) {
        s_probe_start(r);
    } else if (tr->to == SL_BREAKER_CLOSED) {
        sl_ep_pump(ep);
    }
}

/* ---- liveness: suspect is not dead ---------------------------------------- */

/* A connection to r missed a pong: r is suspect until anything comes from
   it (see sl_ep_alive). New work prefers other replicas meanwhile. */
static void s_suspect(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    ep->c.pongs_missed++;
    if (r->suspect) {
        return;
    }
    r->suspect = true;
    r->suspect_since = sl_ep_now(ep);
    char reason[96];
    snprintf(reason, sizeof reason, "suspect: no pong within %" PRId64 " ms", ep->pong_timeout);
    sl_info("%s: %s %s (grace %" PRId64 " ms)", ep->name, r->url, reason, ep->liveness_grace);
    s_health_update(r, reason);
}

void sl_ep_alive(sl_ep_replica_t *r, sl_ep_attempt_t *a, const char *how)
{
    sl_ep_t *ep = r->ep;
    int64_t now = sl_ep_now(ep);
    if (a && a->suspect) {
        a->suspect = false;
        a->d_grace = SL_EP_NEVER;
        ep->c.revived++;
        if (a->conn && a->d_ping == SL_EP_NEVER && a->d_pong == SL_EP_NEVER) {
            a->d_ping = now + ep->ping_interval; /* the late pong may follow */
        }
        sl_ep_attempt_arm(a);
    }
    if (r->suspect) {
        r->suspect = false;
        char reason[96];
        snprintf(reason, sizeof reason, "alive: %s after %" PRId64 " ms", how,
                 now - r->suspect_since);
        sl_info("%s: %s %s", ep->name, r->url, reason);
        s_health_update(r, reason);
    }
}

void sl_ep_breaker_tick(sl_ep_replica_t *r)
{
    sl_breaker_transition_t tr;
    if (r->retired) {
        return; /* no probes, no events for a replica that is gone */
    }
    if (sl_breaker_tick(r->breaker, sl_ep_now(r->ep), &tr)) {
        s_breaker_changed(r, &tr);
    }
}

static void s_breaker_timer_fn(void *arg, uint64_t id)
{
    sl_ep_replica_t *r = arg;
    if (r->btimer != id) {
        return;
    }
    r->btimer = 0;
    sl_ep_breaker_tick(r);
    s_breaker_arm(r);
}

static void s_breaker_record(sl_ep_attempt_t *a, int outcome)
{
    sl_ep_t *ep = a->ep;
    if (a->replica < 0) {
        return;
    }
    sl_ep_replica_t *r = &ep->replicas[a->replica];
    sl_breaker_transition_t tr;
    bool fault = sl_outcome_replica_fault(outcome);
    bool moved;
    if (a->probe) {
        moved = sl_breaker_record_probe(r->breaker, sl_ep_now(ep), fault, &tr);
    } else {
        moved = sl_breaker_record(r->breaker, sl_ep_now(ep), fault, &tr);
    }
    if (!fault && !a->probe) {
        double ms = (double)(sl_ep_now(ep) - a->dispatched_ms);
        r->ewma_ms = r->ewma_ms <= 0 ? ms : r->ewma_ms * 0.8 + ms * 0.2;
    }
    if (moved) {
        s_breaker_changed(r, &tr);
    }
}

/* ---- attempts: lifecycle -------------------------------------------------- */

void sl_ep_attempt_free(sl_ep_attempt_t *a)
{
    if (a->timer) {
        sl_actor_timer_cancel(a->ep->self, a->timer);
    }
    sl_attempt_start_clear(&a->start);
    free(a->id);
    free(a->frame);
    free(a->last_stage);
    free(a->sent_stage);
    free(a->last_message);
    free(a->last_checkpoint);
    free(a->last_data);
    free(a->last_partial);
    sl_strs_clear(&a->warnings);
    free(a);
}

static void s_unqueue(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    if (!a->queued) {
        return;
    }
    if (a->qprev) {
        a->qprev->qnext = a->qnext;
    } else {
        ep->qhead = a->qnext;
    }
    if (a->qnext) {
        a->qnext->qprev = a->qprev;
    } else {
        ep->qtail = a->qprev;
    }
    a->qnext = a->qprev = NULL;
    a->queued = false;
    ep->queued--;
}

void sl_ep_attempt_link(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    a->prev = NULL;
    a->next = ep->all;
    if (ep->all) {
        ep->all->prev = a;
    }
    ep->all = a;
}

static void s_unlink(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    s_unqueue(a);
    if (a->prev) {
        a->prev->next = a->next;
    } else {
        ep->all = a->next;
    }
    if (a->next) {
        a->next->prev = a->prev;
    }
    a->next = a->prev = NULL;
    if (a->id && sl_map_get_str(&ep->by_id, a->id) == a) {
        sl_map_take_str(&ep->by_id, a->id);
    }
    if (a->conn && sl_map_get(&ep->by_conn, a->conn) == a) {
        sl_map_take(&ep->by_conn, a->conn);
    }
}

/* Sends the checkpoint as ATTEMPT_PROGRESS. */
static void s_progress_send(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    sl_attempt_progress_t p = {0};
    p.task_id = a->start.task_id;
    p.attempt = a->start.attempt;
    p.replica = a->replica >= 0 ? ep->replicas[a->replica].url : NULL;
    p.stage = a->last_stage;
    p.pct = a->last_pct;
    p.message = a->last_message;
    p.data.ptr = a->last_data;
    p.data.len = a->last_data_len;
    p.partial.ptr = (uint8_t *)a->last_partial;
    p.partial.len = a->last_partial ? strlen(a->last_partial) : 0;
    p.ts_ms = sl_ep_wall(ep);
    p.checkpoint = a->last_checkpoint; /* stored with the task: a retry resumes from it */
    if (sl_attempt_progress_write(&p, &ep->w) == 0) {
        sl_ep_send_writer(ep, a->owner, SL_MSG_ATTEMPT_PROGRESS);
        ep->c.progress_sent++;
    } else {
        sl_mp_writer_reset(&ep->w);
    }
    a->pending = false;
    a->d_flush = SL_EP_NEVER;
    if (a->last_stage && (!a->sent_stage || strcmp(a->sent_stage, a->last_stage) != 0)) {
        free(a->sent_stage);
        a->sent_stage = strdup(a->last_stage); /* NULL on no memory: next one counts as new */
    }
}

int sl_ep_close_code(int outcome, bool answered)
{
    if (answered || sl_outcome_succeeded(outcome)) {
        return SL_WSIO_CLOSE_NORMAL; /* the analyzer's own answer ended it */
    }
    if (outcome == SL_OUT_INTERRUPTED) {
        return SL_WSIO_CLOSE_GOING_AWAY; /* sluiced is stopping */
    }
    if (outcome == SL_OUT_MALFORMED) {
        return SL_WSIO_CLOSE_PROTOCOL;
    }
    return SL_WSIO_CLOSE_ABANDONED + outcome;
}

void sl_ep_fail(sl_ep_attempt_t *a, int outcome, const char *fmt, ...)
{
    char err[SL_WIRE_ERROR_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, sizeof err, fmt, ap);
    va_end(ap);
    sl_ep_finish(a, &(sl_ep_end_t){.outcome = outcome, .error = err});
}

void sl_ep_finish(sl_ep_attempt_t *a, const sl_ep_end_t *end)
{
    sl_ep_t *ep = a->ep;
    int outcome = end->outcome;
    const char *status = end->status, *err = end->error ? end->error : "";
    const uint8_t *raw = end->raw;
    size_t raw_len = end->raw_len;
    const sl_wire_verdict_t *v = end->v;
    s_unlink(a);

    /* Free the replica's slot and close what this attempt holds open. */
    if (a->replica >= 0) {
        sl_ep_replica_t *r = &ep->replicas[a->replica];
        if (!a->probe && r->in_flight > 0) {
            r->in_flight--;
        }
        if (a->conn) {
            sl_wsio_close(ep->wsio, a->conn, sl_ep_close_code(outcome, raw != NULL),
                          sl_outcome_name(outcome));
        } else if (ep->protocol == SL_ENDPOINT_MUX && !a->probe && raw == NULL &&
                   outcome != SL_OUT_TRANSPORT && outcome != SL_OUT_MALFORMED &&
                   outcome != SL_OUT_PONG_TIMEOUT && outcome != SL_OUT_CONNECT_TIMEOUT &&
                   r->mux_state != SL_EP_MUX_NONE) {
            /* The analyzer may still be working on it: tell it to stop. */
            char *cf = NULL;
            size_t cl = 0;
            if (sl_wire_build_cancel(a->id, &cf, &cl) == 0) {
                sl_wsio_send(ep->wsio, (uint64_t)r->index + 1, cf, cl);
            }
            free(cf);
        }
    }
    if (outcome != SL_OUT_CANCELLED && outcome != SL_OUT_INTERRUPTED && !a->discover) {
        s_breaker_record(a, outcome);
    }
    /* A replica that did not answer when asked for its tools (down at
       start, say) has just answered an analysis: ask again. */
    if (!a->probe && a->replica >= 0 && raw && !ep->replicas[a->replica].tools_known) {
        s_health_start(&ep->replicas[a->replica], false);
    }
    if (a->probe) {
        if (a->replica >= 0) {
            ep->replicas[a->replica].tools_asking = false;
        }
        bool discover = a->discover;
        sl_ep_attempt_free(a);
        if (discover) {
            sl_ep_pump(ep); /* what waited for the answer may go now, or fail */
        }
        return;
    }
    /* One line per attempt end at info (README "sluiced"): with its start
       line, the whole story of an attempt in sluiced.log. The cause may
       come from the analyzer: kept to one line. */
    const char *why = err[0] ? err : (v && v->error[0] ? v->error : "");
    char cause[200];
    size_t n = 0;
    for (const char *p = why; *p && n + 1 < sizeof cause; p++) {
        cause[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    }
    cause[n] = '\0';
    sl_info("attempt %s ended: %s on %s after %.3f s%s%s", a->id, sl_outcome_name(outcome),
            a->replica >= 0 ? ep->replicas[a->replica].url : "no replica",
            (double)(sl_ep_wall(ep) - a->started_wall) / 1000.0, n ? ": " : "", cause);

    if (a->pending) {
        s_progress_send(a);
    }
    sl_attempt_result_t m = {0};
    m.task_id = a->start.task_id;
    m.attempt = a->start.attempt;
    m.outcome = (uint64_t)outcome;
    m.replica = a->replica >= 0 ? ep->replicas[a->replica].url : NULL;
    m.error = err[0] ? (char *)err : (v && v->error[0] ? (char *)v->error : NULL);
    m.status = (char *)status;
    m.result.ptr = (uint8_t *)raw;
    m.result.len = raw ? raw_len : 0;
    if (v && v->has_app_number) {
        m.app_number = v->app_number;
    }
    m.started_ms = a->started_wall;
    m.ended_ms = sl_ep_wall(ep);
    m.last_stage = a->last_stage;
    m.last_message = a->last_message;
    m.last_pct = a->last_pct;
    m.last_checkpoint = a->last_checkpoint;
    m.warnings = a->warnings;
    char key[SL_NAME_MAX + 64];
    if (a->fired_key) {
        bool own = strncmp(a->fired_key, "timeouts.", 9) == 0; /* the request's */
        snprintf(key, sizeof key, "%s%s%s%s", own ? "" : "services/", own ? "" : ep->service,
                 own ? "" : "/", a->fired_key);
        m.timeout_key = key;
        m.timeout_ms = a->fired_ms;
    }
    if (sl_attempt_result_write(&m, &ep->w) == 0) {
        sl_ep_send_writer(ep, a->owner, SL_MSG_ATTEMPT_RESULT);
    } else {
        sl_mp_writer_reset(&ep->w);
        sl_error("%s: cannot encode the result of %s", ep->name, a->id);
    }
    ep->c.results++;
    if (outcome == SL_OUT_CANCELLED) {
        ep->c.cancelled++;
    }
    sl_ep_attempt_free(a);
    sl_ep_pump(ep);
}

/* ---- attempts: timers ------------------------------------------------------ */

static void s_attempt_timer_fn(void *arg, uint64_t id);

void sl_ep_attempt_arm(sl_ep_attempt_t *a)
{
    const int64_t d[] = {a->d_queue, a->d_connect, a->d_ping,  a->d_pong,
                         a->d_stall, a->d_attempt, a->d_flush, a->d_grace};
    s_timer_arm(a->ep, &a->timer, &a->timer_due, s_earliest(d, sizeof d / sizeof d[0]),
                s_attempt_timer_fn, a);
}

/* The one progress throttle (services/<name>/progress_per_sec): a new stage
   goes to the pipeline at once, so a watcher sees every stage in order;
   within a stage at most progress_max checkpoints per second pass, and the
   latest one held back goes out when the second ends (trailing edge) or
   just before the result. The shard publishes whatever arrives. */
static void s_progress_throttled(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    int64_t now = sl_ep_now(ep);
    if (now - a->pwin_start >= 1000) {
        a->pwin_start = now;
        a->pwin_count = 0;
    }
    bool new_stage = a->last_stage && (!a->sent_stage || strcmp(a->last_stage, a->sent_stage) != 0);
    if (new_stage || a->pwin_count < ep->progress_max) {
        a->pwin_count++;
        s_progress_send(a);
    } else {
        if (a->pending) {
            ep->c.progress_dropped++; /* superseded by this newer one */
        }
        a->pending = true;
        a->d_flush = a->pwin_start + 1000;
        sl_ep_attempt_arm(a);
    }
}

/* Notes which timeout is about to end a: own (the request set it) names
   the request's timeouts.<x>, else the service's key. */
static void s_fired(sl_ep_attempt_t *a, bool own, const char *req, const char *key, int64_t ms)
{
    a->fired_key = own ? req : key;
    a->fired_ms = ms;
}

static void s_attempt_timer_fn(void *arg, uint64_t id)
{
    sl_ep_attempt_t *a = arg;
    sl_ep_t *ep = a->ep;
    if (a->timer != id) {
        return;
    }
    a->timer = 0;
    int64_t now = sl_ep_now(ep);
    if (a->d_queue <= now) {
        ep->c.queue_timeouts++;
        s_fired(a, a->start.queue_timeout_ms > 0, "timeouts.queue", "queue_timeout_s",
                a->queue_timeout);
        sl_ep_fail(a, SL_OUT_QUEUE_TIMEOUT, "no replica slot within %" PRId64 " ms",
                   a->queue_timeout);
        return;
    }
    if (a->d_connect <= now) {
        s_fired(a, false, NULL, "connect_timeout_ms", ep->connect_timeout);
        sl_ep_fail(a, SL_OUT_CONNECT_TIMEOUT, "no handshake within %" PRId64 " ms",
                   ep->connect_timeout);
        return;
    }
    if (a->d_pong <= now) {
        if (ep->liveness_grace <= 0) {
            s_fired(a, false, NULL, "pong_timeout_ms", ep->pong_timeout);
            sl_ep_fail(a, SL_OUT_PONG_TIMEOUT, "no pong within %" PRId64 " ms", ep->pong_timeout);
            return;
        }
        /* A blocked event loop answers nothing for a while, then carries
           on: suspect, not dead, until the grace passes in silence. */
        a->d_pong = SL_EP_NEVER;
        a->suspect = true;
        a->d_grace = a->ping_sent + ep->liveness_grace;
        if (a->replica >= 0) {
            s_suspect(&ep->replicas[a->replica]);
        }
    }
    if (a->d_grace <= now) {
        sl_info("%s: %s: attempt %s: no sign of life for %" PRId64 " ms after a missed pong",
                ep->name, a->replica >= 0 ? ep->replicas[a->replica].url : "?", a->id,
                now - a->ping_sent);
        s_fired(a, false, NULL, "liveness_grace_s", ep->liveness_grace);
        sl_ep_fail(a, SL_OUT_PONG_TIMEOUT,
                   "no pong within %" PRId64 " ms and no sign of life for %" PRId64
                   " ms after the ping",
                   ep->pong_timeout, now - a->ping_sent);
        return;
    }
    if (a->d_stall <= now) {
        s_fired(a, a->start.progress_timeout_ms > 0, "timeouts.progress",
                ep->protocol == SL_ENDPOINT_MUX ? "heartbeat_timeout_s" : "progress_timeout_s",
                a->progress_timeout);
        sl_ep_fail(a, SL_OUT_PROGRESS_TIMEOUT, "no progress for %" PRId64 " ms",
                   a->progress_timeout);
        return;
    }
    if (a->d_attempt <= now) {
        s_fired(a, a->start.attempt_timeout_ms > 0, "timeouts.attempt", "attempt_timeout_s",
                a->attempt_timeout);
        sl_ep_fail(a, SL_OUT_ATTEMPT_TIMEOUT, "no result within %" PRId64 " ms",
                   a->attempt_timeout);
        return;
    }
    if (a->d_ping <= now && a->conn) {
        sl_wsio_ping(ep->wsio, a->conn);
        a->d_ping = SL_EP_NEVER;
        a->d_pong = now + ep->pong_timeout;
        a->ping_sent = now;
    }
    if (a->d_flush <= now) {
        a->d_flush = SL_EP_NEVER;
        if (a->pending) {
            s_progress_throttled(a);
        }
    }
    sl_ep_attempt_arm(a);
}

/* ---- tools ------------------------------------------------------------------ */

/* Whether replica r may take attempt a as far as tools go: it lists every
   tool a names. A replica whose tools are unknown is taken (it may never
   answer a health_check), except for an attempt that names tools while its
   health_check is still under way: that wait is bounded by the check's own
   deadline. */
static bool s_replica_can(const sl_ep_replica_t *r, const sl_ep_attempt_t *a)
{
    if (a->start.tools.n == 0) {
        return true;
    }
    if (!r->tools_known) {
        return !r->tools_asking;
    }
    for (size_t i = 0; i < a->start.tools.n; i++) {
        if (!sl_wire_tool_listed(a->start.tools.v[i], (const char *const *)r->tools.v,
                                 r->tools.n)) {
            return false;
        }
    }
    return true;
}

/* True when every replica's tools are known and none can run a: why then
   names the first tool no replica has (or says none has them all) and
   every replica's tools. */
static bool s_nobody_can(const sl_ep_t *ep, const sl_ep_attempt_t *a, char *why, size_t size)
{
    if (a->start.tools.n == 0) {
        return false;
    }
    for (size_t i = 0; i < ep->n_replicas; i++) {
        if (!ep->replicas[i].retired &&
            (!ep->replicas[i].tools_known || s_replica_can(&ep->replicas[i], a))) {
            return false;
        }
    }
    const char *lacking = NULL;
    for (size_t t = 0; t < a->start.tools.n && !lacking; t++) {
        bool someone = false;
        for (size_t i = 0; i < ep->n_replicas && !someone; i++) {
            const sl_ep_replica_t *r = &ep->replicas[i];
            someone =
                !r->retired && sl_wire_tool_listed(a->start.tools.v[t],
                                                   (const char *const *)r->tools.v, r->tools.n);
        }
        lacking = someone ? NULL : a->start.tools.v[t];
    }
    int off =
        lacking
            ? snprintf(why, size, "no replica of %s has tool '%s' (", ep->service, lacking)
            : snprintf(why, size, "no replica of %s has all of the tools asked for (", ep->service);
    bool first = true;
    for (size_t i = 0; i < ep->n_replicas && off > 0 && (size_t)off < size; i++) {
        const sl_ep_replica_t *r = &ep->replicas[i];
        if (r->retired) {
            continue;
        }
        off += snprintf(why + off, size - (size_t)off, "%s%s: ", first ? "" : "; ", r->url);
        first = false;
        for (size_t k = 0; k < r->tools.n && off > 0 && (size_t)off < size; k++) {
            off += snprintf(why + off, size - (size_t)off, "%s%s", k ? ", " : "", r->tools.v[k]);
        }
        if (r->tools.n == 0 && off > 0 && (size_t)off < size) {
            off += snprintf(why + off, size - (size_t)off, "no tools");
        }
    }
    if (off > 0 && (size_t)off < size) {
        snprintf(why + off, size - (size_t)off, ")");
    }
    return true;
}

void sl_ep_tools_ask(sl_ep_t *ep)
{
    for (size_t i = 0; i < ep->n_replicas; i++) {
        if (!ep->replicas[i].retired) {
            s_health_start(&ep->replicas[i], false);
        }
    }
}

void sl_ep_replica_ask_tools(sl_ep_replica_t *r)
{
    s_health_start(r, false);
}

void sl_ep_tools_learned(sl_ep_replica_t *r, const char *const *tools, size_t n)
{
    sl_ep_t *ep = r->ep;
    bool same = r->tools_known && r->tools.n == n;
    for (size_t i = 0; same && i < n; i++) {
        same = strcmp(r->tools.v[i], tools[i]) == 0;
    }
    if (same) {
        return;
    }
    sl_strs_t next = {0};
    for (size_t i = 0; i < n; i++) {
        if (sl_strs_push(&next, tools[i]) != 0) {
            sl_strs_clear(&next);
            return; /* out of memory: keep what was known */
        }
    }
    sl_strs_clear(&r->tools);
    r->tools = next;
    r->tools_known = true;
    char list[512] = "";
    for (size_t i = 0, off = 0; i < n && off < sizeof list; i++) {
        int w = snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", tools[i]);
        off += w > 0 ? (size_t)w : 0;
    }
    sl_info("%s: %s has tools: %s", ep->name, r->url, n ? list : "(none)");
    sl_ep_pump(ep);
}

int sl_ep_pick(sl_ep_t *ep, const sl_ep_attempt_t *a)
{
    sl_breaker_candidate_t c[SL_ENDPOINT_MAX_REPLICAS];
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        c[i].breaker = r->breaker;
        c[i].in_flight = r->in_flight;
        c[i].max_in_flight = ep->max_in_flight;
        c[i].ewma_ms = r->ewma_ms;
        c[i].suspect = r->suspect;
        c[i].excluded = false;
        for (size_t k = 0; k < a->start.exclude.n; k++) {
            if (strcmp(a->start.exclude.v[k], r->url) == 0) {
                c[i].excluded = true;
                break;
            }
        }
        if (ep->protocol == SL_ENDPOINT_MUX && r->mux_state == SL_EP_MUX_CLOSING) {
            c[i].max_in_flight = 0; /* reconnect after its close event */
        }
        if (!s_replica_can(r, a) || r->retired) {
            c[i].max_in_flight = 0; /* never admits this attempt */
        }
    }
    return sl_breaker_pick(c, ep->n_replicas);
}

/* Dispatches queued attempts while some replica has room, in FIFO order;
   an attempt that cannot go anywhere (exclusions) does not block the
   ones behind it. */
void sl_ep_pump(sl_ep_t *ep)
{
    if (ep->pumping) {
        return;
    }
    ep->pumping = true;
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_breaker_tick(&ep->replicas[i]);
    }
    sl_ep_attempt_t *a = ep->qhead;
    while (a) {
        sl_ep_attempt_t *next = a->qnext;
        char why[SL_WIRE_ERROR_MAX];
        if (s_nobody_can(ep, a, why, sizeof why)) {
            /* about the request, not a replica: no retry would help */
            s_unqueue(a);
            sl_ep_fail(a, SL_OUT_VERDICT, "%s", why);
            a = ep->qhead;
            continue;
        }
        int idx = sl_ep_pick(ep, a);
        if (idx >= 0) {
            s_unqueue(a);
            s_dispatch(a, idx);
            next = ep->qhead; /* dispatch may have finished attempts */
        }
        a = next;
        bool room = false;
        for (size_t i = 0; i < ep->n_replicas; i++) {
            if (!ep->replicas[i].retired && ep->replicas[i].in_flight < ep->max_in_flight) {
                room = true;
                break;
            }
        }
        if (!room) {
            break;
        }
    }
    ep->pumping = false;
}

/* ---- progress ------------------------------------------------------------ */

void sl_ep_progress(sl_ep_attempt_t *a, const sl_ep_checkpoint_t *cp, bool arms)
{
    sl_ep_t *ep = a->ep;
    if (a->probe) {
        return;
    }
    if (arms && a->progress_timeout > 0) {
        a->d_stall = sl_ep_now(ep) + a->progress_timeout;
    }
    /* Replace each part only when the report carries it. */
    if (cp->stage) {
        free(a->last_stage);
        a->last_stage = strdup(cp->stage);
    }
    if (cp->message) {
        free(a->last_message);
        a->last_message = strdup(cp->message);
    }
    if (cp->checkpoint) {
        free(a->last_checkpoint);
        a->last_checkpoint = strdup(cp->checkpoint);
    }
    if (cp->has_pct) {
        a->last_pct = (int64_t)(cp->pct + 0.5);
    }
    if (cp->partial) {
        char *json = json_dumps(cp->partial, JSON_COMPACT);
        if (json) {
            free(a->last_partial);
            a->last_partial = json;
        }
    }
    if (cp->data && cp->data_len) {
        uint8_t *copy = malloc(cp->data_len);
        if (copy) {
            memcpy(copy, cp->data, cp->data_len);
            free(a->last_data);
            a->last_data = copy;
            a->last_data_len = cp->data_len;
        }
    }
    a->has_progress = true;
    s_progress_throttled(a);
    sl_ep_attempt_arm(a);
}

sl_ep_attempt_t *sl_ep_find_id(sl_ep_t *ep, const char *id)
{
    if (!id || !*id) {
        return NULL;
    }
    return sl_map_get_str(&ep->by_id, id);
}

/* ---- dispatch ---------------------------------------------------------- */

static void s_mux_timer_fn(void *arg, uint64_t id);

void sl_ep_mux_arm(sl_ep_replica_t *r)
{
    const int64_t d[] = {r->m_connect, r->m_ping, r->m_pong, r->m_grace};
    s_timer_arm(r->ep, &r->mtimer, &r->mtimer_due, s_earliest(d, 4), s_mux_timer_fn, r);
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
        if (ep->liveness_grace <= 0) {
            snprintf(why, sizeof why, "no pong within %" PRId64 " ms", ep->pong_timeout);
            sl_ep_mux_fail(r, SL_OUT_PONG_TIMEOUT, why);
            return;
        }
        r->m_pong = SL_EP_NEVER;
        r->m_grace = r->m_ping_sent + ep->liveness_grace;
        s_suspect(r);
    }
    if (r->m_grace <= now) {
        snprintf(why, sizeof why,
                 "no pong within %" PRId64 " ms and no sign of life for %" PRId64
                 " ms after the ping",
                 ep->pong_timeout, now - r->m_ping_sent);
        sl_ep_mux_fail(r, SL_OUT_PONG_TIMEOUT, why);
        return;
    }
    if (r->m_ping <= now && r->mux_state == SL_EP_MUX_OPEN) {
        sl_wsio_ping(ep->wsio, (uint64_t)r->index + 1);
        r->m_ping = SL_EP_NEVER;
        r->m_pong = now + ep->pong_timeout;
        r->m_ping_sent = now;
    }
    sl_ep_mux_arm(r);
}

static int s_mux_ensure(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    if (r->mux_state == SL_EP_MUX_CONNECTING || r->mux_state == SL_EP_MUX_OPEN) {
        return 0;
    }
    if (r->mux_state == SL_EP_MUX_CLOSING) {
        return SL_EBUSY; /* its WSIO_CLOSED has not come back yet */
    }
    int rc = sl_wsio_connect(ep->wsio, (uint64_t)r->index + 1, r->url);
    if (rc) {
        return rc;
    }
    r->mux_state = SL_EP_MUX_CONNECTING;
    r->m_connect = sl_ep_now(ep) + ep->connect_timeout;
    r->m_ping = r->m_pong = r->m_grace = SL_EP_NEVER;
    sl_ep_mux_arm(r);
    return 0;
}

/* Ends every attempt on the replica's mux connection and closes it. */
void sl_ep_mux_fail(sl_ep_replica_t *r, int outcome, const char *why)
{
    sl_ep_t *ep = r->ep;
    if (r->mux_state == SL_EP_MUX_CONNECTING || r->mux_state == SL_EP_MUX_OPEN) {
        sl_wsio_close(ep->wsio, (uint64_t)r->index + 1, sl_ep_close_code(outcome, false), why);
        r->mux_state = SL_EP_MUX_CLOSING;
    }
    r->m_connect = r->m_ping = r->m_pong = r->m_grace = SL_EP_NEVER;
    if (r->mtimer) {
        sl_actor_timer_cancel(ep->self, r->mtimer);
        r->mtimer = 0;
    }
    sl_ep_attempt_t *a = ep->all;
    while (a) {
        sl_ep_attempt_t *next = a->next;
        if (a->replica == r->index && !a->probe && !a->conn) {
            if (outcome == SL_OUT_PONG_TIMEOUT) {
                s_fired(a, false, NULL,
                        ep->liveness_grace > 0 ? "liveness_grace_s" : "pong_timeout_ms",
                        ep->liveness_grace > 0 ? ep->liveness_grace : ep->pong_timeout);
            } else if (outcome == SL_OUT_CONNECT_TIMEOUT) {
                s_fired(a, false, NULL, "connect_timeout_ms", ep->connect_timeout);
            }
            sl_ep_fail(a, outcome, "%s", why);
            /* sl_ep_finish may have ended others (pump dispatches, never ends);
               restart from the head to stay safe. */
            next = ep->all;
        }
        a = next;
    }
}

/* Opens a connection of the attempt's own (legacy attempts, health checks)
   and queues its request frame on it (sl_wsio holds it until the handshake
   completes). 0, or the error with nothing left open or indexed. */
static int s_conn_open(sl_ep_attempt_t *a, const char *url)
{
    sl_ep_t *ep = a->ep;
    a->conn = ep->next_conn++;
    int rc = sl_map_put(&ep->by_conn, a->conn, a);
    if (rc == 0) {
        rc = sl_wsio_connect(ep->wsio, a->conn, url);
    }
    if (rc) {
        sl_map_take(&ep->by_conn, a->conn);
        a->conn = 0;
        return rc;
    }
    sl_wsio_send(ep->wsio, a->conn, a->frame, a->frame_len);
    a->state = SL_EP_CONNECTING;
    return 0;
}

/* Sends the attempt to replica idx (legacy: a new connection; mux: the
   replica's connection). May finish it at once when connecting fails. */
static void s_dispatch(sl_ep_attempt_t *a, int idx)
{
    sl_ep_t *ep = a->ep;
    sl_ep_replica_t *r = &ep->replicas[idx];
    int64_t now = sl_ep_now(ep);
    a->replica = idx;
    r->in_flight++;
    a->dispatched_ms = now;
    sl_info("attempt %s started on %s (queued %.3f s)", a->id, r->url,
            (double)(now - a->started_ms) / 1000.0);
    a->d_queue = SL_EP_NEVER;
    a->d_attempt = now + a->attempt_timeout;
    int rc;
    if (ep->protocol == SL_ENDPOINT_LEGACY) {
        a->d_connect = now + ep->connect_timeout;
        rc = s_conn_open(a, r->url);
        if (rc) {
            sl_ep_fail(a, SL_OUT_TRANSPORT, "connect: %s", sl_err_msg(rc));
            return;
        }
    } else {
        rc = s_mux_ensure(r);
        if (rc) {
            sl_ep_fail(a, SL_OUT_TRANSPORT, "connect: %s", sl_err_msg(rc));
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

/* Takes the half-open probe slot and sends a health_check on a fresh
   connection. */
static void s_probe_start(sl_ep_replica_t *r)
{
    s_health_start(r, true);
}

/* A health_check on a fresh connection, run as an internal attempt with no
   owner: a breaker probe (probe, which takes the half-open slot and
   records its end), or only to learn the replica's tools. Both learn the
   tools from the answer. */
static void s_health_start(sl_ep_replica_t *r, bool probe)
{
    sl_ep_t *ep = r->ep;
    int64_t now = sl_ep_now(ep);
    if (probe && !sl_breaker_take_probe(r->breaker, now)) {
        return;
    }
    if (!probe && r->tools_asking) {
        return;
    }
    ep->c.probes += probe ? 1 : 0;
    sl_ep_attempt_t *a = calloc(1, sizeof *a);
    char idbuf[48];
    snprintf(idbuf, sizeof idbuf, "%s-%" PRIu64, probe ? "probe" : "tools", ++ep->probe_seq);
    if (!a || !(a->id = strdup(idbuf)) ||
        sl_wire_build_health_check(NULL, &a->frame, &a->frame_len) != 0) {
        if (a) {
            free(a->id);
            free(a);
        }
        sl_breaker_transition_t tr;
        if (probe && sl_breaker_record_probe(r->breaker, now, true, &tr)) {
            s_breaker_changed(r, &tr);
        }
        return;
    }
    a->ep = ep;
    a->probe = true;
    a->discover = !probe;
    r->tools_asking = true;
    a->replica = r->index;
    a->last_pct = -1;
    a->d_queue = a->d_ping = a->d_pong = a->d_stall = a->d_flush = a->d_grace = SL_EP_NEVER;
    a->attempt_timeout = ep->bcfg.half_open_max_wait_ms < ep->attempt_timeout
                             ? ep->bcfg.half_open_max_wait_ms
                             : ep->attempt_timeout;
    a->d_attempt = now + a->attempt_timeout;
    a->d_connect = now + ep->connect_timeout;
    a->dispatched_ms = now;
    sl_ep_attempt_link(a);
    int rc = s_conn_open(a, r->url);
    if (rc) {
        sl_ep_fail(a, SL_OUT_TRANSPORT, "probe connect: %s", sl_err_msg(rc));
        return;
    }
    sl_ep_attempt_arm(a);
}
