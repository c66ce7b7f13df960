/*  sl_endpoint.c: the endpoint actor of one analyzer service.

    This file is the actor: spawn, init/fini and its mailbox (ATTEMPT_START,
    ATTEMPT_CANCEL, PROGRESS_PUSH, ENDPOINT_STATUS, and the WSIO_* events it
    hands to sl_endpoint_wire.c). Attempts, the service queue, replica
    choice, breakers and timeouts are in sl_endpoint_attempt.c, which
    attempt an id-less progress push belongs to in sl_endpoint_push.c, the
    configuration in sl_endpoint_config.c (the order of calls is in
    sl_endpoint_int.h). The actor thread runs all of them. The only other
    thread is the sl_wsio I/O thread, which it owns (created in init,
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
#include "proto/sl_ids.h"

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
        sl_ep_send_writer(ep, owner, SL_MSG_ATTEMPT_RESULT);
    } else {
        sl_mp_writer_reset(&ep->w);
    }
    ep->c.results++;
}

/* The attempt (not a probe) running or queued for task_id's attempt, or
   NULL. A walk of the live attempts: the wire id's random part is unknown
   to the owner, who names an attempt by task and number. */
static sl_ep_attempt_t *s_find_task(sl_ep_t *ep, const char *task_id, uint64_t attempt)
{
    for (sl_ep_attempt_t *a = ep->all; a && task_id; a = a->next) {
        if (!a->probe && a->start.attempt == attempt && a->start.task_id &&
            strcmp(a->start.task_id, task_id) == 0) {
            return a;
        }
    }
    return NULL;
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
    /* The wire id carries a random part: a pusher must have seen the
       request to name the attempt (proto/sl_ids.h). */
    if (sl_ids_attempt_wire(idbuf, sizeof idbuf, st.task_id, st.attempt) != 0) {
        s_reply_result_now(ep, msg->from, &st, SL_OUT_VERDICT, "invalid task id");
        sl_attempt_start_clear(&st);
        free(a);
        return 0;
    }
    a->ep = ep;
    a->start = st; /* owned now */
    snprintf(a->owner, sizeof a->owner, "%s", msg->from);
    a->id = strdup(idbuf);
    a->replica = -1;
    a->last_pct = -1;
    a->started_ms = sl_ep_now(ep);
    a->started_wall = sl_ep_wall(ep);
    a->queue_timeout = st.queue_timeout_ms > 0 ? st.queue_timeout_ms : ep->queue_timeout;
    /* The request's own stall timeout wins; else legacy waits between
       progress pushes, mux between heartbeats. */
    a->progress_timeout = st.progress_timeout_ms > 0        ? st.progress_timeout_ms
                          : ep->protocol == SL_ENDPOINT_MUX ? ep->heartbeat_timeout
                                                            : ep->progress_timeout;
    a->attempt_timeout = st.attempt_timeout_ms > 0 ? st.attempt_timeout_ms : ep->attempt_timeout;
    a->d_queue = a->d_connect = a->d_ping = a->d_pong = a->d_stall = a->d_attempt = a->d_flush =
        a->d_grace = SL_EP_NEVER;
    a->pwin_start = INT64_MIN / 2;

    const char *reject = NULL;
    int outcome = SL_OUT_REJECTED;
    char why[160] = "";
    if (!a->id) {
        reject = "out of memory";
    } else if (s_find_task(ep, st.task_id, st.attempt)) {
        reject = "duplicate attempt: this task attempt is already running";
    } else if (sl_ep_build_frame(ep, a, why, sizeof why) != 0) {
        outcome = SL_OUT_VERDICT;
        reject = why[0] ? why : "invalid request";
    } else if (ep->queued >= ep->queue_max && (ep->qhead || sl_ep_pick(ep, a) < 0)) {
        ep->c.rejected++;
        reject = "service queue full";
    }
    if (reject) {
        s_reply_result_now(ep, a->owner, &a->start, outcome, reject);
        sl_ep_attempt_free(a);
        return 0;
    }
    if (sl_map_put_str(&ep->by_id, a->id, a) != 0) {
        s_reply_result_now(ep, a->owner, &a->start, SL_OUT_REJECTED, "out of memory");
        sl_ep_attempt_free(a);
        return 0;
    }
    sl_ep_attempt_link(a);
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
    sl_ep_attempt_t *still = sl_map_get_str(&ep->by_id, idbuf);
    if (still && still->queued) {
        sl_ep_attempt_arm(still);
    }
    return 0;
}

static int s_on_cancel(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_attempt_cancel_t c = {0};
    if (sl_attempt_cancel_decode(msg->body, msg->body_len, &c) != 0) {
        return 0;
    }
    sl_ep_attempt_t *a = s_find_task(ep, c.task_id, c.attempt);
    if (a) {
        sl_ep_fail(a, SL_OUT_CANCELLED, "cancel requested by the owner");
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
    /* The push's data is what the analysis found so far: its partial
       result, if it ends without one. */
    json_t *partial = NULL;
    if (p.data.len && sl_wire_mp_to_json(p.data.ptr, p.data.len, &partial) == 0 &&
        !json_is_object(partial)) {
        json_decref(partial);
        partial = NULL;
    }
    const sl_ep_checkpoint_t cp = {.stage = p.stage,
                                   .message = p.message,
                                   .has_pct = p.pct >= 0 && p.pct <= 100,
                                   .pct = (double)p.pct,
                                   .data = p.data.ptr,
                                   .data_len = p.data.len,
                                   .partial = partial};
    if (p.correlation_id[0] == '\0') {
        /* The dynamic and performance services send no id: attribute the
           push only when unambiguous. It updates the task's progress but
           does not arm the stall timer: a later push of the same analysis
           may be ambiguous, and ping/pong plus attempt_timeout cover these
           services as before. */
        const char *why = NULL;
        sl_ep_attempt_t *a = sl_ep_push_attribute(ep, &p, &why);
        if (a) {
            ep->c.pushes_attributed++;
            sl_ep_alive(&ep->replicas[a->replica], a, "progress");
            sl_ep_progress(a, &cp, false);
        } else {
            ep->c.pushes_unattributed++;
            sl_debug("%s: push without an id from %s not attributed: %s", ep->name,
                     p.source ? p.source : "?", why);
        }
        json_decref(partial);
        sl_progress_push_clear(&p);
        return 0;
    }
    sl_ep_attempt_t *a = sl_ep_find_id(ep, p.correlation_id);
    if (!a || a->probe || a->replica < 0) {
        ep->c.unknown_progress++;
    } else {
        ep->c.pushes_by_id++;
        sl_ep_alive(&ep->replicas[a->replica], a, "progress");
        sl_ep_progress(a, &cp, true);
    }
    json_decref(partial);
    sl_progress_push_clear(&p);
    return 0;
}

static int s_on_status(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_mp_writer_t rw, cw;
    sl_mp_writer_init(&rw);
    sl_mp_writer_init(&cw);
    uint32_t live = 0;
    for (size_t i = 0; i < ep->n_replicas; i++) {
        live += ep->replicas[i].retired ? 0 : 1;
    }
    sl_mp_write_array(&rw, live);
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        sl_breaker_stats_t bs;
        if (r->retired) {
            continue;
        }
        sl_ep_breaker_tick(r);
        sl_breaker_stats(r->breaker, &bs);
        sl_replica_status_t item = {.url = r->url,
                                    .address = r->addr[0] ? r->addr : NULL,
                                    .breaker = (char *)sl_breaker_state_name(bs.state),
                                    .suspect = r->suspect,
                                    .in_flight = r->in_flight,
                                    .ewma_ms = r->ewma_ms,
                                    .calls = bs.calls,
                                    .failures = bs.failures,
                                    .consecutive_failures = bs.consecutive_failures,
                                    .open_until_ms = bs.open_until_ms,
                                    .tools_known = r->tools_known,
                                    .tools = r->tools};
        sl_replica_status_write(&item, &rw);
    }
    const sl_ep_counters_t *c = &ep->c;
    sl_mp_write_map(&cw, 17);
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
    sl_mp_kv_uint(&cw, "pushes_by_id", c->pushes_by_id);
    sl_mp_kv_uint(&cw, "pushes_attributed", c->pushes_attributed);
    sl_mp_kv_uint(&cw, "pushes_unattributed", c->pushes_unattributed);
    sl_mp_kv_uint(&cw, "pongs_missed", c->pongs_missed);
    sl_mp_kv_uint(&cw, "revived", c->revived);
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

static int s_replica_init(sl_ep_t *ep, size_t i, const char *url, const sl_breaker_config_t *bcfg)
{
    sl_ep_replica_t *r = &ep->replicas[i];
    r->ep = ep;
    r->index = (int)i;
    r->url = strdup(url);
    r->breaker = sl_breaker_new(bcfg);
    r->m_connect = r->m_ping = r->m_pong = r->m_grace = SL_EP_NEVER;
    return r->url && r->breaker ? 0 : SL_ENOMEM;
}

static int64_t s_or(int64_t value, int64_t current)
{
    return value > 0 ? value : current;
}

/* Works out the new replica set and breaker settings without touching
   anything, so a refused reconfigure changes nothing. */
static const char *s_reconfigure_check(sl_ep_t *ep, const sl_endpoint_reconfigure_t *m,
                                       sl_breaker_config_t *bcfg)
{
    *bcfg = ep->bcfg;
    bcfg->failure_threshold = (int)s_or(m->failure_threshold, bcfg->failure_threshold);
    bcfg->failure_rate_pct = (int)s_or(m->failure_rate_pct, bcfg->failure_rate_pct);
    bcfg->window = (int)s_or(m->window, bcfg->window);
    bcfg->min_calls = SL_BREAKER_MIN_CALLS < bcfg->window ? SL_BREAKER_MIN_CALLS : bcfg->window;
    bcfg->open_ms = s_or(m->open_for_ms, bcfg->open_ms);
    bcfg->open_max_ms = s_or(m->open_max_ms, bcfg->open_max_ms);
    bcfg->half_open_max_wait_ms = s_or(m->half_open_max_ms, bcfg->half_open_max_wait_ms);
    if (sl_breaker_config_check(bcfg) != 0) {
        return "invalid breaker settings";
    }
    if (m->urls.n == 0) {
        return "no replica URL";
    }
    size_t fresh = 0;
    for (size_t u = 0; u < m->urls.n; u++) {
        const char *url = m->urls.v[u];
        if (strncmp(url, "ws://", 5) != 0 && strncmp(url, "wss://", 6) != 0) {
            return "a replica URL is not ws:// or wss://";
        }
        bool known = false;
        for (size_t i = 0; i < ep->n_replicas && !known; i++) {
            known = strcmp(ep->replicas[i].url, url) == 0;
        }
        fresh += known ? 0 : 1;
    }
    if (ep->n_replicas + fresh > SL_ENDPOINT_MAX_REPLICAS) {
        return "more replicas than an endpoint can hold since it started (restart sluiced)";
    }
    return NULL;
}

static void s_reconfigure_reply(sl_ep_t *ep, const sl_msg_t *msg, uint64_t added, uint64_t retired,
                                const char *error)
{
    sl_endpoint_reconfigure_reply_t r = {
        .added = added, .retired = retired, .error = (char *)error};
    uint8_t *body = NULL;
    size_t len = 0;
    if ((msg->flags & SL_MSG_F_REQUEST) &&
        sl_endpoint_reconfigure_reply_encode(&r, &body, &len) == 0) {
        sl_actor_reply(ep->self, msg, SL_MSG_ENDPOINT_RECONFIGURE_REPLY, body, len);
    }
    free(body);
}

static int s_on_reconfigure(sl_ep_t *ep, const sl_msg_t *msg)
{
    sl_endpoint_reconfigure_t m = {0};
    sl_breaker_config_t bcfg;
    const char *why = NULL;
    if (sl_endpoint_reconfigure_decode(msg->body, msg->body_len, &m) != 0) {
        why = "malformed ENDPOINT_RECONFIGURE";
    } else {
        why = s_reconfigure_check(ep, &m, &bcfg);
    }
    if (why) {
        sl_warn("%s: reconfigure refused: %s", ep->name, why);
        s_reconfigure_reply(ep, msg, 0, 0, why);
        sl_endpoint_reconfigure_clear(&m);
        return 0;
    }
    uint64_t added = 0, retired = 0;
    for (size_t i = 0; i < ep->n_replicas; i++) {
        sl_ep_replica_t *r = &ep->replicas[i];
        bool listed = false;
        for (size_t u = 0; u < m.urls.n && !listed; u++) {
            listed = strcmp(m.urls.v[u], r->url) == 0;
        }
        if (!listed && !r->retired) {
            r->retired = true;
            retired++;
            sl_info("%s: replica %s removed (%u attempt(s) still running there end as usual)",
                    ep->name, r->url, r->in_flight);
        } else if (listed && r->retired) {
            r->retired = false;
            added++;
            sl_info("%s: replica %s back", ep->name, r->url);
        }
        sl_breaker_set_config(r->breaker, &bcfg); /* checked above */
    }
    for (size_t u = 0; u < m.urls.n; u++) {
        bool known = false;
        for (size_t i = 0; i < ep->n_replicas && !known; i++) {
            known = strcmp(ep->replicas[i].url, m.urls.v[u]) == 0;
        }
        if (known) {
            continue;
        }
        size_t i = ep->n_replicas;
        if (s_replica_init(ep, i, m.urls.v[u], &bcfg) != 0) {
            free(ep->replicas[i].url);
            sl_breaker_destroy(&ep->replicas[i].breaker);
            memset(&ep->replicas[i], 0, sizeof ep->replicas[i]);
            sl_warn("%s: out of memory adding replica %s", ep->name, m.urls.v[u]);
            continue;
        }
        ep->n_replicas++;
        added++;
        sl_info("%s: replica %s added", ep->name, m.urls.v[u]);
        sl_ep_replica_ask_tools(&ep->replicas[i]);
    }
    ep->bcfg = bcfg;
    s_reconfigure_reply(ep, msg, added, retired, NULL);
    sl_endpoint_reconfigure_clear(&m);
    sl_ep_pump(ep);
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
        sl_strs_clear(&ep->replicas[i].tools);
        sl_breaker_destroy(&ep->replicas[i].breaker);
    }
    free(ep->replicas);
    free(ep->service);
    free(ep->op);
    free(ep->ca_file);
    free(ep->store);
    sl_map_fini(&ep->by_id);
    sl_map_fini(&ep->by_conn);
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
    ep->op = strdup(cfg->op && *cfg->op ? cfg->op : sl_ep_default_op(cfg->service));
    ep->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    ep->store = strdup(cfg->store ? cfg->store : SL_IDS_STORE);
    ep->protocol = cfg->protocol;
    ep->connect_timeout = cfg->connect_timeout_ms;
    ep->ping_interval = cfg->ping_interval_ms;
    ep->pong_timeout = cfg->pong_timeout_ms;
    ep->queue_timeout = cfg->queue_timeout_ms;
    ep->progress_timeout = cfg->progress_timeout_ms;
    ep->heartbeat_timeout = cfg->heartbeat_timeout_ms;
    ep->liveness_grace = cfg->liveness_grace_ms > 0 && cfg->liveness_grace_ms < cfg->pong_timeout_ms
                             ? cfg->pong_timeout_ms
                             : cfg->liveness_grace_ms;
    ep->attempt_timeout = cfg->attempt_timeout_ms;
    ep->bcfg = cfg->breaker;
    ep->max_in_flight = cfg->max_in_flight;
    ep->queue_max = cfg->queue_max;
    ep->progress_max = cfg->progress_max_per_sec;
    ep->next_conn = SL_EP_CONN_FIRST;
    /* room for every replica a reload may add: the array never moves */
    ep->replicas = calloc(SL_ENDPOINT_MAX_REPLICAS, sizeof *ep->replicas);
    if (!ep->service || !ep->op || !ep->store || !ep->replicas || (cfg->ca_file && !ep->ca_file)) {
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        ep->n_replicas = i + 1; /* so a failure frees what was made */
        if (s_replica_init(ep, i, cfg->replicas[i], &cfg->breaker) != 0) {
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
    sl_ep_tools_ask(ep);
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
    case SL_MSG_ENDPOINT_RECONFIGURE:
        return s_on_reconfigure(ep, msg);
    case SL_MSG_WSIO_OPEN: {
        sl_wsio_open_t ev = {0};
        if (sl_wsio_open_decode(msg->body, msg->body_len, &ev) == 0) {
            sl_ep_push_learn(ep, ev.conn, ev.peer);
            sl_ep_on_open(ep, ev.conn);
        }
        sl_wsio_open_clear(&ev);
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
            ep->replicas[a->replica].mux_state = SL_EP_MUX_NONE;
        }
        ep->pumping = true; /* nothing may be dispatched any more */
        sl_ep_fail(a, SL_OUT_INTERRUPTED, "endpoint stopping");
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
    sl_ids_endpoint_mailbox(name, sizeof name, cfg->service);
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
