/*  sl_endpoint.c: the endpoint actor of one analyzer service.

    The actor thread runs everything in this file and in sl_endpoint_conn.c
    (connections and wire protocols; shared state in sl_endpoint_int.h):
    attempts, the service queue, replica choice, breakers, timeouts. The only
    other thread is the sl_wsio I/O thread, which it owns (created in init,
    destroyed in fini) and talks to through sl_wsio commands and WSIO_*
    events in this actor's mailbox. Attempts, replicas and maps are private
    to the actor; nothing is shared.

    Design notes
    - One timer per attempt. An attempt has several deadlines (queue,
      connect, ping, pong, stall, attempt, progress flush); its timer is armed
      at the earliest one. Moving a deadline later (every progress frame
      pushes the stall deadline) leaves the timer alone: when it fires early
      the deadlines are checked and the timer re-armed. So a chatty analysis
      costs no timer-heap churn.
    - Exactly one ATTEMPT_RESULT per ATTEMPT_START: every end goes through
      sl_ep_finish, which unlinks the attempt from every index before it sends,
      so nothing can reach it twice.
    - legacy: one connection per attempt, connection ids from a counter (never
      reused, so a late event for a finished attempt finds nothing). The
      request is queued on the connection right after connect; sl_wsio holds
      it until the handshake completes.
    - mux: one connection per replica with the fixed id index+1, reopened on
      demand after its WSIO_CLOSED. A malformed frame on it cannot be
      attributed to one attempt, so the connection is closed and every
      attempt on it ends MALFORMED rather than hanging until a timeout.
    - Breakers move on time in a per-replica timer. A half-open breaker gets
      its probe at once: a health_check on a fresh connection (both
      protocols), run as an internal attempt with no owner.
*/
#include "actors/endpoint/sl_endpoint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/endpoint/sl_endpoint_int.h"
#include "actors/endpoint/sl_progress.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "proto/sl_wire.h"
#include "runtime/sl_log.h"

/* ---- config ----------------------------------------------------------- */

const char *sl_endpoint_protocol_name(int protocol)
{
    switch (protocol) {
    case SL_ENDPOINT_LEGACY:
        return "legacy";
    case SL_ENDPOINT_MUX:
        return "mux";
    }
    return "unknown";
}

int sl_endpoint_protocol_parse(const char *text, sl_endpoint_protocol_t *out)
{
    if (!text || !out) {
        return SL_EINVAL;
    }
    if (strcmp(text, "legacy") == 0) {
        *out = SL_ENDPOINT_LEGACY;
        return 0;
    }
    if (strcmp(text, "mux") == 0) {
        *out = SL_ENDPOINT_MUX;
        return 0;
    }
    return SL_EINVAL;
}

bool sl_ep_op_known(const char *op)
{
    if (!op) {
        return false;
    }
    if (strcmp(op, "generate") == 0) {
        return true;
    }
    for (int i = 0; i < SL_WIRE__ANALYSIS_COUNT; i++) {
        if (strcmp(op, sl_wire_analysis_type((sl_wire_analysis_t)i)) == 0) {
            return true;
        }
    }
    return false;
}

static const char *s_default_op(const char *service)
{
    sl_wire_analysis_t a;
    if (service && sl_wire_analysis_for_service(service, &a) == 0) {
        return sl_wire_analysis_type(a);
    }
    return "generate";
}

void sl_endpoint_config_defaults(sl_endpoint_config_t *cfg, const char *service)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->service = service;
    cfg->protocol = SL_ENDPOINT_LEGACY;
    cfg->op = NULL;
    cfg->connect_timeout_ms = 10000;
    cfg->ping_interval_ms = 20000;
    cfg->pong_timeout_ms = 10000;
    cfg->queue_timeout_ms = 300000;
    cfg->progress_timeout_ms = 120000;
    cfg->attempt_timeout_ms = 900000;
    sl_breaker_config_defaults(&cfg->breaker);
    cfg->max_in_flight = 2;
    cfg->queue_max = 1000;
    cfg->progress_max_per_sec = 2;
    cfg->store = "store";
}

int sl_endpoint_config_check(const sl_endpoint_config_t *cfg)
{
    if (!cfg || !cfg->service || !*cfg->service ||
        strlen(cfg->service) + strlen("endpoint.") >= SL_NAME_MAX) {
        return SL_ECONFIG;
    }
    if (cfg->protocol != SL_ENDPOINT_LEGACY && cfg->protocol != SL_ENDPOINT_MUX) {
        return SL_ECONFIG;
    }
    if (cfg->op && *cfg->op && !sl_ep_op_known(cfg->op)) {
        return SL_ECONFIG;
    }
    if (!cfg->replicas || cfg->n_replicas < 1 || cfg->n_replicas > SL_ENDPOINT_MAX_REPLICAS) {
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        const char *u = cfg->replicas[i];
        if (!u || (strncmp(u, "ws://", 5) != 0 && strncmp(u, "wss://", 6) != 0)) {
            return SL_ECONFIG;
        }
    }
    if (cfg->connect_timeout_ms <= 0 || cfg->ping_interval_ms <= 0 || cfg->pong_timeout_ms <= 0 ||
        cfg->queue_timeout_ms <= 0 || cfg->progress_timeout_ms < 0 ||
        cfg->attempt_timeout_ms <= 0) {
        return SL_ECONFIG;
    }
    if (cfg->max_in_flight == 0 || cfg->progress_max_per_sec == 0) {
        return SL_ECONFIG;
    }
    return sl_breaker_config_check(&cfg->breaker) ? SL_ECONFIG : 0;
}

/* ---- small helpers -------------------------------------------------------- */

int64_t sl_ep_now(sl_ep_t *ep)
{
    return sl_actor_now(ep->self);
}

int64_t sl_ep_wall(sl_ep_t *ep)
{
    return sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(ep->self)));
}

static void s_send_writer(sl_ep_t *ep, const char *to, uint16_t type)
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

/* ---- breaker events ---------------------------------------------------- */

static void s_breaker_timer_fn(void *arg, uint64_t id);

static void s_breaker_arm(sl_ep_replica_t *r)
{
    sl_ep_t *ep = r->ep;
    int64_t due = sl_breaker_next_due(r->breaker);
    if (r->btimer && r->btimer_due == due) {
        return;
    }
    if (r->btimer) {
        sl_actor_timer_cancel(ep->self, r->btimer);
        r->btimer = 0;
    }
    if (due == INT64_MAX) {
        return;
    }
    int64_t delay = due - sl_ep_now(ep);
    r->btimer = sl_actor_timer(ep->self, delay > 0 ? delay : 0, 0, s_breaker_timer_fn, r);
    r->btimer_due = due;
}

/* Sends ev (events = [[topic, body]]) to the store as a fire-and-forget
   STORE_WRITE; no store running is fine. */
static void s_store_events(sl_ep_t *ep, sl_mp_writer_t *ev)
{
    if (sl_mp_writer_error(ev) == 0) {
        sl_store_write_t sw = {0};
        sw.events.ptr = (uint8_t *)sl_mp_writer_data(ev);
        sw.events.len = sl_mp_writer_len(ev);
        if (sl_store_write_write(&sw, &ep->w) == 0) {
            s_send_writer(ep, ep->store, SL_MSG_STORE_WRITE);
        }
        sl_mp_writer_reset(&ep->w);
    }
}

/* endpoint.health: a replica is healthy while its breaker is closed. Only
   changes are sent, never the initial "healthy" of a new endpoint (every
   replica starts healthy; endpoints.list gives the current state): so a
   monitor sees one event when a replica goes bad (the breaker opens) and one
   when it is back (the half-open probe succeeded). A failed probe re-opens a
   breaker that is already unhealthy: no event. */
static void s_health_changed(sl_ep_replica_t *r, const sl_breaker_transition_t *tr)
{
    sl_ep_t *ep = r->ep;
    bool healthy = tr->to == SL_BREAKER_CLOSED;
    if (healthy != r->unhealthy) {
        return; /* no change */
    }
    r->unhealthy = !healthy;
    sl_mp_writer_t ev;
    sl_mp_writer_init(&ev);
    sl_mp_write_array(&ev, 1);
    sl_mp_write_array(&ev, 2);
    sl_mp_write_str(&ev, "endpoint.health");
    sl_mp_write_map(&ev, 4);
    sl_mp_kv_str(&ev, "service", ep->service);
    sl_mp_kv_str(&ev, "replica", r->url);
    sl_mp_kv_bool(&ev, "healthy", healthy);
    sl_mp_kv_str(&ev, "reason", tr->reason);
    s_store_events(ep, &ev);
    sl_mp_writer_fini(&ev);
}

void sl_ep_breaker_changed(sl_ep_replica_t *r, const sl_breaker_transition_t *tr)
{
    sl_ep_t *ep = r->ep;
    ep->c.breaker_transitions++;
    const char *from = sl_breaker_state_name(tr->from), *to = sl_breaker_state_name(tr->to);
    sl_info("%s: breaker %s %s -> %s (%s)", ep->name, r->url, from, to, tr->reason);

    sl_mp_writer_t ev;
    sl_mp_writer_init(&ev);
    sl_mp_write_array(&ev, 1);
    sl_mp_write_array(&ev, 2);
    sl_mp_write_str(&ev, "endpoint.breaker");
    sl_mp_write_map(&ev, 5);
    sl_mp_kv_str(&ev, "service", ep->service);
    sl_mp_kv_str(&ev, "replica", r->url);
    sl_mp_kv_str(&ev, "from", from);
    sl_mp_kv_str(&ev, "to", to);
    sl_mp_kv_str(&ev, "reason", tr->reason);
    s_store_events(ep, &ev);
    sl_mp_writer_fini(&ev);
    s_health_changed(r, tr);

    s_breaker_arm(r);
    if (tr->to == SL_BREAKER_HALF_OPEN) {
        sl_ep_probe_start(r);
    } else if (tr->to == SL_BREAKER_CLOSED) {
        sl_ep_pump(ep);
    }
}

static void s_breaker_tick(sl_ep_replica_t *r)
{
    sl_breaker_transition_t tr;
    if (sl_breaker_tick(r->breaker, sl_ep_now(r->ep), &tr)) {
        sl_ep_breaker_changed(r, &tr);
    }
}

static void s_breaker_timer_fn(void *arg, uint64_t id)
{
    sl_ep_replica_t *r = arg;
    if (r->btimer != id) {
        return;
    }
    r->btimer = 0;
    s_breaker_tick(r);
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
        sl_ep_breaker_changed(r, &tr);
    }
}

/* ---- attempts: lifecycle -------------------------------------------------- */

static void s_attempt_free(sl_ep_attempt_t *a)
{
    if (a->timer) {
        sl_actor_timer_cancel(a->ep->self, a->timer);
    }
    sl_attempt_start_clear(&a->start);
    free(a->id);
    free(a->frame);
    free(a->last_stage);
    free(a->last_message);
    free(a->last_checkpoint);
    free(a->last_data);
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
    if (a->hkey && sl_ep_map_get(&ep->by_id, a->hkey) == a) {
        sl_ep_map_del(&ep->by_id, a->hkey);
    }
    if (a->conn && sl_ep_map_get(&ep->by_conn, a->conn) == a) {
        sl_ep_map_del(&ep->by_conn, a->conn);
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
    p.ts_ms = sl_ep_wall(ep);
    if (sl_attempt_progress_write(&p, &ep->w) == 0) {
        s_send_writer(ep, a->owner, SL_MSG_ATTEMPT_PROGRESS);
        ep->c.progress_sent++;
    } else {
        sl_mp_writer_reset(&ep->w);
    }
    a->pending = false;
    a->d_flush = SL_EP_NEVER;
}

void sl_ep_finish(sl_ep_attempt_t *a, int outcome, const char *status, const uint8_t *raw,
                  size_t raw_len, const sl_wire_verdict_t *v, const char *fmt, ...)
{
    sl_ep_t *ep = a->ep;
    char err[SL_WIRE_ERROR_MAX + 64] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, sizeof err, fmt, ap);
        va_end(ap);
    }
    s_unlink(a);

    /* Free the replica's slot and close what this attempt holds open. */
    if (a->replica >= 0) {
        sl_ep_replica_t *r = &ep->replicas[a->replica];
        if (!a->probe && r->in_flight > 0) {
            r->in_flight--;
        }
        if (a->conn) {
            sl_wsio_close(ep->wsio, a->conn, SL_WSIO_CLOSE_NORMAL, sl_outcome_name(outcome));
        } else if (ep->protocol == SL_ENDPOINT_MUX && !a->probe && raw == NULL &&
                   outcome != SL_OUT_TRANSPORT && outcome != SL_OUT_MALFORMED &&
                   outcome != SL_OUT_PONG_TIMEOUT && outcome != SL_OUT_CONNECT_TIMEOUT &&
                   r->mux_state != 0) {
            /* The analyzer may still be working on it: tell it to stop. */
            char *cf = NULL;
            size_t cl = 0;
            if (sl_wire_build_cancel(a->id, &cf, &cl) == 0) {
                sl_wsio_send(ep->wsio, (uint64_t)r->index + 1, cf, cl);
            }
            free(cf);
        }
    }
    if (outcome != SL_OUT_CANCELLED && outcome != SL_OUT_SHUTDOWN) {
        s_breaker_record(a, outcome);
    }
    if (a->probe) {
        s_attempt_free(a);
        return;
    }

    if (a->pending) {
        s_progress_send(a);
    }
    sl_attempt_result_t m = {0};
    m.task_id = a->start.task_id;
    m.attempt = a->start.attempt;
    m.outcome = (uint64_t)outcome;
    m.replica = a->replica >= 0 ? ep->replicas[a->replica].url : NULL;
    m.error = err[0] ? err : (v && v->error[0] ? (char *)v->error : NULL);
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
    if (sl_attempt_result_write(&m, &ep->w) == 0) {
        s_send_writer(ep, a->owner, SL_MSG_ATTEMPT_RESULT);
    } else {
        sl_mp_writer_reset(&ep->w);
        sl_error("%s: cannot encode the result of %s", ep->name, a->id);
    }
    ep->c.results++;
    if (outcome == SL_OUT_CANCELLED) {
        ep->c.cancelled++;
    }
    s_attempt_free(a);
    sl_ep_pump(ep);
}

/* ---- attempts: timers ------------------------------------------------------ */

static void s_attempt_timer_fn(void *arg, uint64_t id);

static int64_t s_min_deadline(const sl_ep_attempt_t *a)
{
    int64_t d = a->d_queue;
    const int64_t all[] = {a->d_connect, a->d_ping,    a->d_pong,
                           a->d_stall,   a->d_attempt, a->d_flush};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (all[i] < d) {
            d = all[i];
        }
    }
    return d;
}

void sl_ep_attempt_arm(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    int64_t due = s_min_deadline(a);
    if (a->timer && a->timer_due <= due) {
        return; /* fires early and re-arms: cheaper than moving it */
    }
    if (a->timer) {
        sl_actor_timer_cancel(ep->self, a->timer);
        a->timer = 0;
    }
    if (due == SL_EP_NEVER) {
        return;
    }
    int64_t delay = due - sl_ep_now(ep);
    a->timer = sl_actor_timer(ep->self, delay > 0 ? delay : 0, 0, s_attempt_timer_fn, a);
    a->timer_due = due;
}

static void s_progress_throttled(sl_ep_attempt_t *a)
{
    sl_ep_t *ep = a->ep;
    int64_t now = sl_ep_now(ep);
    if (now - a->pwin_start >= 1000) {
        a->pwin_start = now;
        a->pwin_count = 0;
    }
    if (a->pwin_count < ep->progress_max) {
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
        sl_ep_finish(a, SL_OUT_QUEUE_TIMEOUT, NULL, NULL, 0, NULL,
                     "no replica slot within %" PRId64 " ms", a->queue_timeout);
        return;
    }
    if (a->d_connect <= now) {
        sl_ep_finish(a, SL_OUT_CONNECT_TIMEOUT, NULL, NULL, 0, NULL,
                     "no handshake within %" PRId64 " ms", ep->connect_timeout);
        return;
    }
    if (a->d_pong <= now) {
        sl_ep_finish(a, SL_OUT_PONG_TIMEOUT, NULL, NULL, 0, NULL, "no pong within %" PRId64 " ms",
                     ep->pong_timeout);
        return;
    }
    if (a->d_stall <= now) {
        sl_ep_finish(a, SL_OUT_PROGRESS_TIMEOUT, NULL, NULL, 0, NULL,
                     "no progress for %" PRId64 " ms", a->progress_timeout);
        return;
    }
    if (a->d_attempt <= now) {
        sl_ep_finish(a, SL_OUT_ATTEMPT_TIMEOUT, NULL, NULL, 0, NULL,
                     "no result within %" PRId64 " ms", a->attempt_timeout);
        return;
    }
    if (a->d_ping <= now && a->conn) {
        sl_wsio_ping(ep->wsio, a->conn);
        a->d_ping = SL_EP_NEVER;
        a->d_pong = now + ep->pong_timeout;
    }
    if (a->d_flush <= now) {
        a->d_flush = SL_EP_NEVER;
        if (a->pending) {
            s_progress_throttled(a);
        }
    }
    sl_ep_attempt_arm(a);
}

static int s_pick(sl_ep_t *ep, const sl_ep_attempt_t *a)
{
    sl_breaker_candidate_t c[SL_ENDPOINT_MAX_REPLICAS];
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        c[i].breaker = r->breaker;
        c[i].in_flight = r->in_flight;
        c[i].max_in_flight = ep->max_in_flight;
        c[i].ewma_ms = r->ewma_ms;
        c[i].excluded = false;
        for (size_t k = 0; k < a->start.exclude.n; k++) {
            if (strcmp(a->start.exclude.v[k], r->url) == 0) {
                c[i].excluded = true;
                break;
            }
        }
        if (ep->protocol == SL_ENDPOINT_MUX && r->mux_state == 3) {
            c[i].max_in_flight = 0; /* reconnect after its close event */
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
        s_breaker_tick(&ep->replicas[i]);
    }
    sl_ep_attempt_t *a = ep->qhead;
    while (a) {
        sl_ep_attempt_t *next = a->qnext;
        int idx = s_pick(ep, a);
        if (idx >= 0) {
            s_unqueue(a);
            sl_ep_dispatch(a, idx);
            next = ep->qhead; /* dispatch may have finished attempts */
        }
        a = next;
        bool room = false;
        for (size_t i = 0; i < ep->n_replicas; i++) {
            if (ep->replicas[i].in_flight < ep->max_in_flight) {
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

/* Replaces the checkpoint and forwards it (throttled). arms: whether this
   kind of frame proves the analysis is alive (resets the stall timer). */
void sl_ep_progress(sl_ep_attempt_t *a, const char *stage, const char *message, bool has_pct,
                    double pct, const uint8_t *data, size_t data_len, const char *checkpoint,
                    bool arms)
{
    sl_ep_t *ep = a->ep;
    if (a->probe) {
        return;
    }
    if (arms && a->progress_timeout > 0) {
        a->d_stall = sl_ep_now(ep) + a->progress_timeout;
    }
    /* Replace each part only when the frame carries it: a frame with only
       a pct keeps the stage it refines. */
    if (stage) {
        free(a->last_stage);
        a->last_stage = strdup(stage);
    }
    if (message) {
        free(a->last_message);
        a->last_message = strdup(message);
    }
    if (checkpoint) {
        free(a->last_checkpoint);
        a->last_checkpoint = strdup(checkpoint);
    }
    if (has_pct) {
        a->last_pct = (int64_t)(pct + 0.5);
    }
    if (data && data_len) {
        uint8_t *copy = malloc(data_len);
        if (copy) {
            memcpy(copy, data, data_len);
            free(a->last_data);
            a->last_data = copy;
            a->last_data_len = data_len;
        }
    }
    a->has_progress = true;
    s_progress_throttled(a);
    sl_ep_attempt_arm(a);
}

/* ---- handlers: ATTEMPT_START / CANCEL / PROGRESS_PUSH / STATUS --------- */

static void s_reply_result_now(sl_ep_t *ep, const char *owner, const sl_attempt_start_t *st,
                               int outcome, const char *error)
{
    sl_attempt_result_t m = {0};
    m.task_id = st->task_id;
    m.attempt = st->attempt;
    m.outcome = (uint64_t)outcome;
    m.error = (char *)error;
    m.started_ms = m.ended_ms = sl_ep_wall(ep);
    if (sl_attempt_result_write(&m, &ep->w) == 0) {
        s_send_writer(ep, owner, SL_MSG_ATTEMPT_RESULT);
    } else {
        sl_mp_writer_reset(&ep->w);
    }
    ep->c.results++;
}

static int s_on_start(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_attempt_start_t st = {0};
    int rc = sl_attempt_start_decode(msg->body, msg->body_len, &st);
    if (rc) {
        sl_warn("%s: bad ATTEMPT_START from %s: %s", ep->name, msg->from, sl_err_name(rc));
        return 0;
    }
    ep->c.started++;
    if (!msg->from[0]) {
        sl_warn("%s: ATTEMPT_START without a reply address dropped", ep->name);
        sl_attempt_start_clear(&st);
        return 0;
    }
    sl_ep_attempt_t *a = calloc(1, sizeof *a);
    char idbuf[SL_NAME_MAX + 600];
    if (!a) {
        s_reply_result_now(ep, msg->from, &st, SL_OUT_REJECTED, "out of memory");
        sl_attempt_start_clear(&st);
        return 0;
    }
    snprintf(idbuf, sizeof idbuf, "%s-a%" PRIu64, st.task_id, st.attempt);
    a->ep = ep;
    a->start = st; /* owned now */
    snprintf(a->owner, sizeof a->owner, "%s", msg->from);
    a->id = strdup(idbuf);
    a->hkey = a->id ? sl_ep_hash_id(a->id) : 0;
    a->replica = -1;
    a->last_pct = -1;
    a->started_ms = sl_ep_now(ep);
    a->started_wall = sl_ep_wall(ep);
    a->queue_timeout = st.queue_timeout_ms > 0 ? st.queue_timeout_ms : ep->queue_timeout;
    a->progress_timeout =
        st.progress_timeout_ms > 0 ? st.progress_timeout_ms : ep->progress_timeout;
    a->attempt_timeout = st.attempt_timeout_ms > 0 ? st.attempt_timeout_ms : ep->attempt_timeout;
    a->d_queue = a->d_connect = a->d_ping = a->d_pong = a->d_stall = a->d_attempt = a->d_flush =
        SL_EP_NEVER;
    a->pwin_start = INT64_MIN / 2;

    const char *reject = NULL;
    int outcome = SL_OUT_REJECTED;
    char why[160] = "";
    if (!a->id) {
        reject = "out of memory";
    } else if (sl_ep_map_get(&ep->by_id, a->hkey)) {
        reject = "duplicate attempt: this task attempt is already running";
    } else if (sl_ep_build_frame(ep, a, why, sizeof why) != 0) {
        outcome = SL_OUT_VERDICT;
        reject = why[0] ? why : "invalid request";
    } else if (ep->queued >= ep->queue_max && (ep->qhead || s_pick(ep, a) < 0)) {
        ep->c.rejected++;
        reject = "service queue full";
    }
    if (reject) {
        s_reply_result_now(ep, a->owner, &a->start, outcome, reject);
        a->hkey = 0;
        s_attempt_free(a);
        return 0;
    }
    if (sl_ep_map_put(&ep->by_id, a->hkey, a) != 0) {
        s_reply_result_now(ep, a->owner, &a->start, SL_OUT_REJECTED, "out of memory");
        s_attempt_free(a);
        return 0;
    }
    a->next = ep->all;
    if (ep->all) {
        ep->all->prev = a;
    }
    ep->all = a;
    /* Queue it behind earlier waiters (FIFO), then let the pump place it. */
    a->queued = true;
    a->qprev = ep->qtail;
    if (ep->qtail) {
        ep->qtail->qnext = a;
    } else {
        ep->qhead = a;
    }
    ep->qtail = a;
    ep->queued++;
    a->d_queue = a->started_ms + a->queue_timeout;
    sl_ep_pump(ep);
    /* Still queued: its queue deadline needs the timer. */
    sl_ep_attempt_t *still = sl_ep_map_get(&ep->by_id, sl_ep_hash_id(idbuf));
    if (still && still->queued) {
        sl_ep_attempt_arm(still);
    }
    return 0;
}

sl_ep_attempt_t *sl_ep_find_id(sl_ep_t *ep, const char *id)
{
    if (!id || !*id) {
        return NULL;
    }
    sl_ep_attempt_t *a = sl_ep_map_get(&ep->by_id, sl_ep_hash_id(id));
    return (a && strcmp(a->id, id) == 0) ? a : NULL;
}

static int s_on_cancel(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_attempt_cancel_t c = {0};
    if (sl_attempt_cancel_decode(msg->body, msg->body_len, &c) != 0) {
        return 0;
    }
    char idbuf[SL_NAME_MAX + 600];
    snprintf(idbuf, sizeof idbuf, "%s-a%" PRIu64, c.task_id, c.attempt);
    sl_ep_attempt_t *a = sl_ep_find_id(ep, idbuf);
    if (a) {
        sl_ep_finish(a, SL_OUT_CANCELLED, NULL, NULL, 0, NULL, "cancel requested by the owner");
    }
    sl_attempt_cancel_clear(&c);
    return 0;
}

static int s_on_push(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_progress_push_t p = {0};
    if (sl_progress_push_decode(msg->body, msg->body_len, &p) != 0) {
        ep->c.unknown_progress++;
        return 0;
    }
    sl_ep_attempt_t *a = sl_ep_find_id(ep, p.correlation_id);
    if (!a || a->probe || a->replica < 0) {
        ep->c.unknown_progress++;
    } else {
        sl_ep_progress(a, p.stage, p.message, p.pct >= 0 && p.pct <= 100, (double)p.pct, p.data.ptr,
                       p.data.len, NULL, true);
    }
    sl_progress_push_clear(&p);
    return 0;
}

static int s_on_status(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_mp_writer_t rw, cw;
    sl_mp_writer_init(&rw);
    sl_mp_writer_init(&cw);
    sl_mp_write_array(&rw, (uint32_t)ep->n_replicas);
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        sl_breaker_stats_t bs;
        s_breaker_tick(r);
        sl_breaker_stats(r->breaker, &bs);
        sl_mp_write_map(&rw, 8);
        sl_mp_kv_str(&rw, "url", r->url);
        sl_mp_kv_str(&rw, "breaker", sl_breaker_state_name(bs.state));
        sl_mp_kv_uint(&rw, "in_flight", r->in_flight);
        sl_mp_kv_double(&rw, "ewma_ms", r->ewma_ms);
        sl_mp_kv_uint(&rw, "calls", bs.calls);
        sl_mp_kv_uint(&rw, "failures", bs.failures);
        sl_mp_kv_uint(&rw, "consecutive_failures", bs.consecutive_failures);
        sl_mp_kv_int(&rw, "open_until_ms", bs.open_until_ms);
    }
    const sl_ep_counters_t *c = &ep->c;
    sl_mp_write_map(&cw, 12);
    sl_mp_kv_uint(&cw, "started", c->started);
    sl_mp_kv_uint(&cw, "results", c->results);
    sl_mp_kv_uint(&cw, "rejected", c->rejected);
    sl_mp_kv_uint(&cw, "queue_timeouts", c->queue_timeouts);
    sl_mp_kv_uint(&cw, "cancelled", c->cancelled);
    sl_mp_kv_uint(&cw, "unknown_progress", c->unknown_progress);
    sl_mp_kv_uint(&cw, "malformed_frames", c->malformed_frames);
    sl_mp_kv_uint(&cw, "unmatched_frames", c->unmatched_frames);
    sl_mp_kv_uint(&cw, "probes", c->probes);
    sl_mp_kv_uint(&cw, "breaker_transitions", c->breaker_transitions);
    sl_mp_kv_uint(&cw, "progress_sent", c->progress_sent);
    sl_mp_kv_uint(&cw, "progress_dropped", c->progress_dropped);
    sl_endpoint_status_reply_t rep = {0};
    rep.service = ep->service;
    rep.protocol = (char *)sl_endpoint_protocol_name(ep->protocol);
    rep.queued = ep->queued;
    int rc = sl_mp_writer_error(&rw) ? sl_mp_writer_error(&rw) : sl_mp_writer_error(&cw);
    if (rc == 0) {
        rep.replicas.ptr = (uint8_t *)sl_mp_writer_data(&rw);
        rep.replicas.len = sl_mp_writer_len(&rw);
        rep.counters.ptr = (uint8_t *)sl_mp_writer_data(&cw);
        rep.counters.len = sl_mp_writer_len(&cw);
        rc = sl_endpoint_status_reply_write(&rep, &ep->w);
    }
    if (rc == 0 && sl_mp_writer_error(&ep->w) == 0) {
        if (msg->flags & SL_MSG_F_REQUEST) {
            sl_actor_reply(ep->self, msg, SL_MSG_ENDPOINT_STATUS_REPLY, sl_mp_writer_data(&ep->w),
                           sl_mp_writer_len(&ep->w));
        } else if (msg->from[0]) {
            sl_actor_send(ep->self, msg->from, SL_MSG_ENDPOINT_STATUS_REPLY,
                          sl_mp_writer_data(&ep->w), sl_mp_writer_len(&ep->w));
        }
    }
    sl_mp_writer_reset(&ep->w);
    sl_mp_writer_fini(&rw);
    sl_mp_writer_fini(&cw);
    return 0;
}

/* ---- actor ------------------------------------------------------------ */

typedef struct {
    const sl_endpoint_config_t *cfg;
} s_args_t;

static void s_state_free(sl_ep_t *ep)
{
    if (!ep) {
        return;
    }
    for (size_t i = 0; ep->replicas && i < ep->n_replicas; i++) {
        free(ep->replicas[i].url);
        sl_breaker_destroy(&ep->replicas[i].breaker);
    }
    free(ep->replicas);
    free(ep->service);
    free(ep->op);
    free(ep->ca_file);
    free(ep->store);
    sl_ep_map_fini(&ep->by_id);
    sl_ep_map_fini(&ep->by_conn);
    sl_mp_writer_fini(&ep->w);
    free(ep);
}

static int s_init(sl_actor_t *self, void *args, void **state)
{
    const sl_endpoint_config_t *cfg = ((s_args_t *)args)->cfg;
    sl_ep_t *ep = calloc(1, sizeof *ep);
    int rc = SL_ENOMEM;
    if (!ep) {
        return SL_ENOMEM;
    }
    sl_mp_writer_init(&ep->w);
    ep->self = self;
    snprintf(ep->name, sizeof ep->name, "%s", sl_actor_name(self));
    ep->service = strdup(cfg->service);
    ep->op = strdup(cfg->op && *cfg->op ? cfg->op : s_default_op(cfg->service));
    ep->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    ep->store = strdup(cfg->store ? cfg->store : "store");
    ep->protocol = cfg->protocol;
    ep->connect_timeout = cfg->connect_timeout_ms;
    ep->ping_interval = cfg->ping_interval_ms;
    ep->pong_timeout = cfg->pong_timeout_ms;
    ep->queue_timeout = cfg->queue_timeout_ms;
    ep->progress_timeout = cfg->progress_timeout_ms;
    ep->attempt_timeout = cfg->attempt_timeout_ms;
    ep->bcfg = cfg->breaker;
    ep->max_in_flight = cfg->max_in_flight;
    ep->queue_max = cfg->queue_max;
    ep->progress_max = cfg->progress_max_per_sec;
    ep->next_conn = SL_EP_CONN_FIRST;
    ep->replicas = calloc(cfg->n_replicas, sizeof *ep->replicas);
    if (!ep->service || !ep->op || !ep->store || !ep->replicas || (cfg->ca_file && !ep->ca_file)) {
        goto fail;
    }
    ep->n_replicas = cfg->n_replicas;
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        r->ep = ep;
        r->index = (int)i;
        r->url = strdup(cfg->replicas[i]);
        r->breaker = sl_breaker_new(&cfg->breaker);
        r->m_connect = r->m_ping = r->m_pong = SL_EP_NEVER;
        if (!r->url || !r->breaker) {
            goto fail;
        }
    }
    sl_wsio_opts_t o = {0};
    o.owner = ep->name;
    o.name = ep->name;
    o.ca_file = ep->ca_file;
    o.listen_port = SL_WSIO_NO_LISTEN;
    ep->wsio = sl_wsio_new(sl_actor_rt(self), &o);
    if (!ep->wsio) {
        goto fail;
    }
    rc = sl_wsio_start(ep->wsio);
    if (rc) {
        goto fail;
    }
    *state = ep;
    return 0;
fail:
    sl_wsio_destroy(&ep->wsio);
    s_state_free(ep);
    return rc;
}

static int s_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    sl_ep_t *ep = state;
    switch (msg->type) {
    case SL_MSG_ATTEMPT_START:
        return s_on_start(ep, msg);
    case SL_MSG_ATTEMPT_CANCEL:
        return s_on_cancel(ep, msg);
    case SL_MSG_PROGRESS_PUSH:
        return s_on_push(ep, msg);
    case SL_MSG_ENDPOINT_STATUS:
        return s_on_status(ep, msg);
    case SL_MSG_WSIO_OPEN: {
        sl_wsio_open_t ev = {0};
        if (sl_wsio_open_decode(msg->body, msg->body_len, &ev) == 0) {
            sl_ep_on_open(ep, ev.conn);
        }
        return 0;
    }
    case SL_MSG_WSIO_FRAME: {
        sl_wsio_frame_t ev = {0};
        if (sl_wsio_frame_decode(msg->body, msg->body_len, &ev) == 0) {
            sl_ep_on_frame(ep, &ev);
            sl_wsio_frame_clear(&ev);
        }
        return 0;
    }
    case SL_MSG_WSIO_PONG: {
        sl_wsio_pong_t ev = {0};
        if (sl_wsio_pong_decode(msg->body, msg->body_len, &ev) == 0) {
            sl_ep_on_pong(ep, ev.conn);
        }
        return 0;
    }
    case SL_MSG_WSIO_CLOSED: {
        sl_wsio_closed_t ev = {0};
        if (sl_wsio_closed_decode(msg->body, msg->body_len, &ev) == 0) {
            sl_ep_on_closed(ep, &ev);
            sl_wsio_closed_clear(&ev);
        }
        return 0;
    }
    default:
        sl_debug("%s: ignoring message type %u from %s", ep->name, msg->type, msg->from);
        return 0;
    }
}

static void s_fini(sl_actor_t *self, void *state)
{
    sl_ep_t *ep = state;
    /* No more I/O events after this; then every live attempt gets its one
       result, saying the daemon stopped under it. */
    sl_wsio_destroy(&ep->wsio);
    while (ep->all) {
        sl_ep_attempt_t *a = ep->all;
        a->conn = 0;
        if (a->replica >= 0 && ep->protocol == SL_ENDPOINT_MUX) {
            ep->replicas[a->replica].mux_state = 0;
        }
        ep->pumping = true; /* nothing may be dispatched any more */
        sl_ep_finish(a, SL_OUT_SHUTDOWN, NULL, NULL, 0, NULL, "endpoint stopping");
    }
    for (size_t i = 0; i < ep->n_replicas; i++) {
        if (ep->replicas[i].btimer) {
            sl_actor_timer_cancel(self, ep->replicas[i].btimer);
        }
        if (ep->replicas[i].mtimer) {
            sl_actor_timer_cancel(self, ep->replicas[i].mtimer);
        }
    }
    s_state_free(ep);
}

int sl_endpoint_spawn(sl_rt_t *rt, const sl_endpoint_config_t *cfg, sl_actor_t **out)
{
    if (!rt || !out) {
        return SL_EINVAL;
    }
    int rc = sl_endpoint_config_check(cfg);
    if (rc) {
        return rc;
    }
    char name[SL_NAME_MAX];
    snprintf(name, sizeof name, "endpoint.%s", cfg->service);
    s_args_t args = {cfg};
    sl_actor_spec_t spec = {0};
    spec.name = name;
    spec.init = s_init;
    spec.handle = s_handle;
    spec.fini = s_fini;
    spec.args = &args;
    spec.parent = cfg->parent;
    return sl_actor_spawn(rt, &spec, out);
}
