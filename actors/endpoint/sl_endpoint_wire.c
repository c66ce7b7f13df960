/*  sl_endpoint_wire.c: the endpoint's side of the analyzer wire: request
    frames out, the I/O thread's events and the analyzer's frames in.

    Runs on the endpoint actor's thread (see sl_endpoint.c for the actor and
    its design notes): builds an attempt's request frame, and turns the
    WSIO_* events of the actor's lws I/O thread (open, pong, closed, frame)
    into progress, heartbeats and results of attempts, through the calls of
    sl_endpoint_attempt.c. Frames are parsed and classified with
    proto/sl_wire.h; nothing received is trusted.
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
    req.analysis = (sl_service_t)sl_service_of_op(op, strlen(op));
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
    /* the pipeline expanded the URL templates (sl_plan_expand_url) */
    req.target_urls = (const char *const *)st->target_urls.v;
    req.target_urls_count = st->target_urls.n;
    req.template_slug = st->template_slug;
    req.backend_port = st->backend_port;
    req.frontend_port = st->frontend_port;
    json_t *options = NULL;
    if (st->options.len) {
        int rc = sl_wire_mp_to_json(st->options.ptr, st->options.len, &options);
        if (rc == 0 && !json_is_object(options)) {
            rc = SL_EINVAL;
        }
        if (rc) {
            json_decref(options);
            snprintf(why, whylen, "invalid request: options: %s", sl_err_msg(rc));
            return rc;
        }
        req.options = options;
    }
    /* Only mux analyzers can resume; a legacy frame stays the fleet's own. */
    if (ep->protocol == SL_ENDPOINT_MUX && st->resume_from && st->resume_from[0]) {
        req.resume_from = st->resume_from;
    }
    int rc = sl_wire_build_analyze(&req, &a->frame, &a->frame_len);
    json_decref(options);
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
        if (r->mux_state == SL_EP_MUX_CONNECTING) {
            r->mux_state = SL_EP_MUX_OPEN;
            r->m_connect = SL_EP_NEVER;
            r->m_ping = now + ep->ping_interval;
            sl_ep_mux_arm(r);
            sl_ep_alive(r, NULL, "open");
        }
        return;
    }
    sl_ep_attempt_t *a = sl_map_get(&ep->by_conn, conn);
    if (!a) {
        return;
    }
    /* An answered handshake: the replica's event loop runs. */
    if (a->replica >= 0) {
        sl_ep_alive(&ep->replicas[a->replica], NULL, "open");
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
        r->m_pong = r->m_grace = SL_EP_NEVER;
        r->m_ping = now + ep->ping_interval;
        sl_ep_mux_arm(r);
        sl_ep_alive(r, NULL, "pong");
        return;
    }
    sl_ep_attempt_t *a = sl_map_get(&ep->by_conn, conn);
    if (a) {
        a->d_pong = SL_EP_NEVER;
        a->d_ping = now + ep->ping_interval;
        if (a->replica >= 0) {
            sl_ep_alive(&ep->replicas[a->replica], a, "pong");
        }
        sl_ep_attempt_arm(a);
    }
}

void sl_ep_on_closed(sl_ep_t *ep, const sl_wsio_closed_t *ev)
{
    sl_ep_replica_t *r = s_mux_replica(ep, ev->conn);
    const char *err = ev->error ? ev->error : "connection lost";
    if (r) {
        if (r->mux_state != SL_EP_MUX_CLOSING) {
            /* CLOSING keeps the pump away from this replica while its
               attempts are being ended. */
            r->mux_state = SL_EP_MUX_CLOSING;
            char why[160];
            snprintf(why, sizeof why, "%s before a result: %s (code %" PRId64 ")",
                     ev->opened ? "connection closed" : "connect failed", err, ev->code);
            sl_ep_mux_fail(r, SL_OUT_TRANSPORT, why);
        }
        r->mux_state = SL_EP_MUX_NONE;
        sl_ep_pump(ep); /* attempts held back during the close can go now */
        return;
    }
    sl_ep_attempt_t *a = sl_map_get(&ep->by_conn, ev->conn);
    if (!a) {
        return;
    }
    sl_map_take(&ep->by_conn, ev->conn);
    a->conn = 0; /* already gone: nothing to close */
    if (a->probe) {
        sl_ep_fail(a, SL_OUT_TRANSPORT, "probe: %s", err);
    } else if (!ev->opened) {
        sl_ep_fail(a, SL_OUT_TRANSPORT, "connect failed: %s", err);
    } else {
        sl_ep_fail(a, SL_OUT_TRANSPORT, "connection closed before a result: %s (code %" PRId64 ")",
                   err, ev->code);
    }
}

/* A health_response's available_tools (an array of strings; anything else
   teaches nothing). */
static void s_learn_tools(sl_ep_replica_t *r, const json_t *list)
{
    if (!json_is_array(list)) {
        return;
    }
    const char *names[256];
    size_t n = 0;
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)list, i, v)
    {
        if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) <= 128 &&
            n < sizeof names / sizeof names[0]) {
            names[n++] = json_string_value(v);
        }
    }
    sl_ep_tools_learned(r, names, n);
}

/* What a successful analysis result left out: a partial outcome, requested
   tools the result says did not run (warnings on the attempt); none of
   them ran at all = a verdict, since the task asked for exactly those. The
   fast scan keeps no tree, so a result that must be checked for tools is
   read again in full. */
static void s_result_warnings(sl_ep_attempt_t *a, const sl_wire_frame_t *f, const uint8_t *raw,
                              size_t raw_len, sl_wire_verdict_t *v)
{
    char w[SL_WIRE_ERROR_MAX + 64];
    if (v->outcome == SL_OUT_PARTIAL_SUCCESS) {
        snprintf(w, sizeof w, "partial result (%s)%s%s", f->u.result.status,
                 v->error[0] ? ": " : "", v->error);
        sl_wire_utf8_trim(w); /* the status is the analyzer's, of any length */
        (void)sl_strs_push(&a->warnings, w);
    }
    if (a->start.tools.n == 0) {
        return;
    }
    sl_wire_frame_t full;
    const sl_wire_frame_t *use = f;
    if (!f->root) {
        if (!raw || sl_wire_frame_parse(&full, raw, raw_len) != 0) {
            return;
        }
        use = &full;
    }
    sl_wire_tools_report_t rep;
    if (sl_wire_tools_report(use, (const char *const *)a->start.tools.v, a->start.tools.n, &rep) ==
            0 &&
        rep.known && rep.missed > 0) {
        if (rep.missed == rep.asked) {
            v->outcome = SL_OUT_VERDICT;
            snprintf(w, sizeof w, "none of the requested tools ran: %s", rep.text);
            w[sizeof v->error - 1] = '\0'; /* w is the larger */
            memcpy(v->error, w, sl_wire_utf8_trim(w) + 1);
        } else {
            snprintf(w, sizeof w, "requested tools did not run: %s", rep.text);
            sl_wire_utf8_trim(w);
            (void)sl_strs_push(&a->warnings, w);
        }
    }
    if (use == &full) {
        sl_wire_frame_clear(&full);
    }
}

/* A frame for one attempt (legacy connection, or matched by id on mux). */
static void s_attempt_frame(sl_ep_attempt_t *a, const sl_wire_frame_t *f, const uint8_t *raw,
                            size_t raw_len)
{
    sl_ep_t *ep = a->ep;
    if (a->probe) {
        if (f->kind == SL_WIRE_HEALTH_RESPONSE) {
            s_learn_tools(&ep->replicas[a->replica], f->u.health.available_tools);
            const char *st = f->u.health.status;
            bool ok = !st || strcmp(st, "healthy") == 0 || strcmp(st, "ok") == 0;
            sl_ep_fail(a, ok ? SL_OUT_SUCCESS : SL_OUT_ERROR, "health: %s", st ? st : "?");
        } else if (f->kind == SL_WIRE_ERROR) {
            sl_ep_fail(a, SL_OUT_ERROR, "health: error frame");
        }
        return;
    }
    switch (f->kind) {
    case SL_WIRE_STATUS_UPDATE:
        /* "started" proves nothing about liveness later on: forward it, but
           only real progress arms the stall timer. */
        sl_ep_progress(a,
                       &(sl_ep_checkpoint_t){.stage = f->u.status_update.stage,
                                             .message = f->u.status_update.message},
                       ep->protocol == SL_ENDPOINT_MUX);
        break;
    case SL_WIRE_PROGRESS:
        sl_ep_progress(a,
                       &(sl_ep_checkpoint_t){.stage = f->u.progress.stage,
                                             .message = f->u.progress.message,
                                             .checkpoint = f->u.progress.checkpoint,
                                             .has_pct = f->u.progress.has_pct,
                                             .pct = f->u.progress.pct,
                                             .partial = f->u.progress.partial},
                       true);
        break;
    case SL_WIRE_PROGRESS_UPDATE: {
        sl_mp_writer_t dw;
        sl_mp_writer_init(&dw);
        if (f->u.progress_update.data) {
            /* a cut at the depth limit is not an error here: nil stands in */
            (void)sl_wire_json_to_mp(&dw, f->u.progress_update.data, SL_WIRE_JSON_MAX_DEPTH);
        }
        bool ok = sl_mp_writer_error(&dw) == 0 && sl_mp_writer_len(&dw) > 0;
        sl_ep_progress(a,
                       &(sl_ep_checkpoint_t){.stage = f->u.progress_update.stage,
                                             .message = f->u.progress_update.message,
                                             .has_pct = f->u.progress_update.has_pct,
                                             .pct = f->u.progress_update.pct,
                                             .data = ok ? sl_mp_writer_data(&dw) : NULL,
                                             .data_len = ok ? sl_mp_writer_len(&dw) : 0,
                                             .partial = f->u.progress_update.data},
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
            char why[96];
            snprintf(why, sizeof why, "unclassifiable %s frame", f->type);
            sl_ep_finish(
                a, &(sl_ep_end_t){
                       .outcome = SL_OUT_MALFORMED, .raw = raw, .raw_len = raw_len, .error = why});
            return;
        }
        const char *status = NULL;
        if (f->kind == SL_WIRE_ANALYSIS_RESULT) {
            status = f->u.result.status;
            if (sl_outcome_succeeded((int)v.outcome)) {
                s_result_warnings(a, f, raw, raw_len, &v);
            }
        } else if (f->kind == SL_WIRE_GENERATION_RESULT) {
            status = f->u.generation.status;
        }
        sl_ep_finish(a, &(sl_ep_end_t){.outcome = (int)v.outcome,
                                       .status = status,
                                       .raw = raw,
                                       .raw_len = raw_len,
                                       .v = &v});
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
        if (r->m_grace != SL_EP_NEVER) {
            r->m_grace = SL_EP_NEVER;
            r->m_ping = sl_ep_now(ep) + ep->ping_interval;
            sl_ep_mux_arm(r);
        }
        sl_ep_alive(r, NULL, "frame");
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
    sl_ep_attempt_t *a = sl_map_get(&ep->by_conn, ev->conn);
    if (!a) {
        if (prc == 0) {
            sl_wire_frame_clear(&f);
        }
        return;
    }
    if (prc != 0) {
        ep->c.malformed_frames++;
        sl_wsio_close(ep->wsio, a->conn, SL_WSIO_CLOSE_PROTOCOL, "malformed frame");
        sl_map_take(&ep->by_conn, a->conn);
        a->conn = 0;
        sl_ep_fail(a, SL_OUT_MALFORMED, "%s frame (%zu bytes)",
                   prc == SL_ETOOBIG ? "oversized" : "unparseable", ev->data.len);
        return;
    }
    if (a->replica >= 0) {
        sl_ep_alive(&ep->replicas[a->replica], a, "frame");
    }
    s_attempt_frame(a, &f, ev->data.ptr, ev->data.len);
    sl_wire_frame_clear(&f);
}
