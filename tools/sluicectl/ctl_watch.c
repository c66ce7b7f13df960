/*  ctl_watch.c: following pipelines: `sluicectl watch [ID]` on the PUB
    socket and `submit --wait` by polling pipeline.get.

    Design notes
    - Events carry a gapless `seq`. A jump (seq > last + 1) means the SUB
      socket dropped or never saw some events (slow joiner, high-water mark);
      they are fetched with events.since and shown in order before the event
      that revealed the gap. An event at or below the last seq was already
      shown (it came through a replay) and is skipped. Events pruned with
      their finished pipelines (events.since answers `pruned` with the
      first kept seq) are reported and skipped.
    - PUB is lossy by design, so a watch never trusts it alone to learn the
      end: it asks pipeline.get at the start and again whenever events have
      been quiet for a while; the first final status from either source ends
      the watch.
    - SIGINT sets ctl_interrupted; every wait here is short enough to notice
      it, and the watch ends with exit 130.
    Main thread only.
*/
#include "tools/sluicectl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_QUIET_POLL_MS 3000 /* pipeline.get after this long without an event */
#define S_GAP_BATCH 1000

typedef struct {
    ctl_t *ctl;
    const char *id;   /* NULL: every pipeline */
    bool live;        /* ANSI view on a terminal */
    ctl_live_t *view; /* when live */
    long long last_seq;
    int final; /* exit code once the watched pipeline is final, else -1 */
} s_watch_t;

/* Sleeps ms unless interrupted. */
static void s_nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (!ctl_interrupted && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* pipeline.get for id; the caller decides what to print. */
static int s_get(ctl_t *self, const char *id, ctl_reply_t *reply)
{
    return ctl_call_simple(self, "pipeline.get", "pipeline_id", id, reply);
}

static void s_show_final(ctl_t *self, const ctl_reply_t *reply)
{
    if (self->json) {
        ctl_print_json(stdout, reply->json);
    } else {
        ctl_render_pipeline(stdout, ctl_get(reply->json, "pipeline"));
    }
    fflush(stdout);
}

/* ---- polling ---------------------------------------------------------------------- */

static int s_poll(ctl_t *self, const char *id, int poll_ms, int64_t max_wait_ms)
{
    int64_t until = max_wait_ms > 0 ? ctl_now_ms() + max_wait_ms : 0;
    char seen[96] = "";
    for (;;) {
        ctl_reply_t reply;
        int rc = s_get(self, id, &reply);
        if (rc != CTL_EXIT_OK) {
            if (rc == CTL_EXIT_DAEMON && self->json && reply.json) {
                ctl_print_json(stdout, reply.json);
            }
            ctl_reply_clear(&reply);
            return rc;
        }
        const json_t *p = ctl_get(reply.json, "pipeline");
        const char *status = ctl_str(p, "status", NULL);
        int final = ctl_status_exit(status);
        if (final >= 0) {
            s_show_final(self, &reply);
            ctl_reply_clear(&reply);
            return final;
        }
        char now[96];
        snprintf(now, sizeof(now), "%s/%s", status ? status : "?", ctl_str(p, "stage", "?"));
        if (!self->json && strcmp(now, seen) != 0) {
            fprintf(stderr, "%s: %s (stage %s)\n", id, status ? status : "?",
                    ctl_str(p, "stage", "?"));
            snprintf(seen, sizeof(seen), "%s", now);
        }
        ctl_reply_clear(&reply);
        if (until && ctl_now_ms() + poll_ms > until) {
            fprintf(stderr, "sluicectl: %s is still %s after the wait timeout\n", id,
                    status ? status : "not final");
            return CTL_EXIT_UNREACHABLE;
        }
        s_nap(poll_ms);
        if (ctl_interrupted) {
            return CTL_EXIT_INTERRUPTED;
        }
    }
}

/* ---- events ----------------------------------------------------------------------- */

static void s_handle(s_watch_t *w, const char *topic, const json_t *ev)
{
    if (w->live) {
        ctl_live_event(w->view, topic, ev);
    } else if (!w->id || strcmp(ctl_str(ev, "pipeline_id", w->id), w->id) == 0) {
        /* Events without a pipeline (breakers, health, alerts) are shown too. */
        if (w->ctl->json) {
            json_t *line = json_deep_copy(ev);
            if (line) {
                json_object_set_new(line, "topic", json_string(topic));
                json_dumpf(line, stdout, JSON_COMPACT | JSON_SORT_KEYS);
                fputc('\n', stdout);
                json_decref(line);
            }
        } else {
            ctl_render_event_line(stdout, topic, ev);
        }
        fflush(stdout);
    }
    if (w->id && strcmp(topic, "pipeline.status") == 0 &&
        strcmp(ctl_str(ev, "pipeline_id", ""), w->id) == 0) {
        int final = ctl_status_exit(ctl_str(ev, "status", NULL));
        if (final >= 0) {
            w->final = final;
        }
    }
}

/* Fetches events (last_seq, upto) with events.since and shows them. */
static void s_fill_gap(s_watch_t *w, long long upto)
{
    while (w->last_seq + 1 < upto && !ctl_interrupted) {
        json_t *req =
            json_pack("{sssIsI}", "op", "events.since", "seq", (json_int_t)w->last_seq, "limit",
                      (json_int_t)(upto - w->last_seq - 1 < S_GAP_BATCH ? upto - w->last_seq - 1
                                                                        : S_GAP_BATCH));
        ctl_reply_t reply;
        int rc = ctl_call(w->ctl, req, &reply);
        json_decref(req);
        const json_t *events = ctl_get(reply.json, "events");
        const json_t *err = ctl_get(reply.json, "error");
        long long first = ctl_int(err, "first_seq", 0);
        if (rc == CTL_EXIT_DAEMON && strcmp(ctl_str(err, "code", ""), "pruned") == 0 &&
            first > w->last_seq + 1) {
            /* Pruned with their finished pipelines (ctl_call printed why):
               go on from the oldest kept event; pipeline.get still tells
               how the pipeline stands. */
            w->last_seq = first - 1;
            ctl_reply_clear(&reply);
            continue;
        }
        if (rc != CTL_EXIT_OK || !json_is_array(events) || json_array_size(events) == 0) {
            if (rc == CTL_EXIT_OK) {
                fprintf(stderr, "sluicectl: events %lld..%lld are not available\n", w->last_seq + 1,
                        upto - 1);
            }
            ctl_reply_clear(&reply);
            return;
        }
        size_t i;
        json_t *ev;
        long long before = w->last_seq;
        json_array_foreach(events, i, ev)
        {
            long long seq = ctl_int(ev, "seq", -1);
            if (seq <= w->last_seq || seq >= upto) {
                continue;
            }
            w->last_seq = seq;
            s_handle(w, ctl_str(ev, "topic", "?"), ev);
        }
        ctl_reply_clear(&reply);
        if (w->last_seq == before) {
            return; /* no progress: do not loop */
        }
    }
}

/* Receives one [topic, body] message; false when there was none. */
static bool s_recv(s_watch_t *w, void *sub)
{
    char topic[128] = "";
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return false;
    }
    size_t tlen = zmq_msg_size(&msg) < sizeof(topic) - 1 ? zmq_msg_size(&msg) : sizeof(topic) - 1;
    memcpy(topic, zmq_msg_data(&msg), tlen);
    topic[tlen] = '\0';
    bool more = zmq_msg_more(&msg);
    zmq_msg_close(&msg);
    json_t *ev = NULL;
    int frames = 1;
    while (more) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        more = zmq_msg_more(&msg);
        if (frames++ == 1) {
            ev = ctl_mp_to_json(zmq_msg_data(&msg), zmq_msg_size(&msg), false);
        }
        zmq_msg_close(&msg);
    }
    if (!json_is_object(ev) || memchr(topic, '\0', tlen)) {
        json_decref(ev);
        return true; /* not an event we understand: ignore it */
    }
    long long seq = ctl_int(ev, "seq", -1);
    if (seq >= 0 && w->last_seq > 0 && seq <= w->last_seq) {
        json_decref(ev);
        return true; /* already shown through a replay */
    }
    if (seq > 0 && w->last_seq > 0 && seq > w->last_seq + 1) {
        s_fill_gap(w, seq);
    }
    if (seq >= 0) {
        w->last_seq = seq;
    }
    s_handle(w, topic, ev);
    json_decref(ev);
    return true;
}

/* Asks pipeline.get; folds it into the view; sets w->final when final. */
static int s_check(s_watch_t *w)
{
    ctl_reply_t reply;
    int rc = s_get(w->ctl, w->id, &reply);
    if (rc == CTL_EXIT_OK) {
        const json_t *p = ctl_get(reply.json, "pipeline");
        if (w->live) {
            ctl_live_snapshot(w->view, p);
        }
        int final = ctl_status_exit(ctl_str(p, "status", NULL));
        if (final >= 0) {
            w->final = final;
        }
    } else if (rc == CTL_EXIT_DAEMON && w->ctl->json && reply.json) {
        ctl_print_json(stdout, reply.json);
    }
    ctl_reply_clear(&reply);
    return rc;
}

static int s_watch(ctl_t *self, const char *id, bool live, int64_t max_wait_ms)
{
    s_watch_t w = {.ctl = self, .id = id, .live = live, .final = -1};
    if (live && !(w.view = ctl_live_new(id))) {
        fprintf(stderr, "sluicectl: out of memory\n");
        return CTL_EXIT_USAGE;
    }
    int rc = CTL_EXIT_OK;
    void *sub = ctl_subscribe(self);
    if (!sub) {
        rc = CTL_EXIT_UNREACHABLE;
        goto done;
    }
    /* Subscribed first, then the snapshot: what happens in between arrives
       as events, so nothing is missed except what PUB itself drops. */
    if (id && (rc = s_check(&w)) != CTL_EXIT_OK) {
        goto done;
    }
    int64_t until = max_wait_ms > 0 ? ctl_now_ms() + max_wait_ms : 0;
    int64_t last_event = ctl_now_ms();
    int64_t last_snapshot = last_event;
    while (w.final < 0 && !ctl_interrupted) {
        if (live) {
            ctl_live_draw(w.view, stdout, false);
        }
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, 100);
        if (n > 0) {
            for (int k = 0; k < 1000 && w.final < 0 && s_recv(&w, sub); k++) {
            }
            last_event = ctl_now_ms();
        } else if (n < 0 && zmq_errno() != EINTR) {
            fprintf(stderr, "sluicectl: watch: %s\n", zmq_strerror(zmq_errno()));
            rc = CTL_EXIT_UNREACHABLE;
            goto done;
        }
        if (id && live && w.final < 0 && ctl_live_wants_snapshot(w.view) &&
            ctl_now_ms() - last_snapshot >= 1000) {
            if ((rc = s_check(&w)) != CTL_EXIT_OK) {
                goto done;
            }
            last_snapshot = ctl_now_ms();
        }
        if (id && w.final < 0 && ctl_now_ms() - last_event >= S_QUIET_POLL_MS) {
            if ((rc = s_check(&w)) != CTL_EXIT_OK) {
                goto done;
            }
            last_event = ctl_now_ms();
        }
        if (until && ctl_now_ms() > until) {
            fprintf(stderr, "sluicectl: %s is not final after the wait timeout\n", id);
            rc = CTL_EXIT_UNREACHABLE;
            goto done;
        }
    }
    if (ctl_interrupted) {
        rc = CTL_EXIT_INTERRUPTED;
    } else {
        rc = w.final;
        if (live) {
            s_check(&w); /* the final table, from the daemon's own record */
            ctl_live_draw(w.view, stdout, true);
        }
    }
done:
    if (live && w.view) {
        ctl_live_draw(w.view, stdout, true);
    }
    if (sub) {
        zmq_close(sub);
    }
    ctl_live_destroy(&w.view);
    return rc;
}

int ctl_follow(ctl_t *self, const char *id, bool live, int poll_ms, int64_t max_wait_ms)
{
    if (poll_ms > 0) {
        return s_poll(self, id, poll_ms, max_wait_ms);
    }
    return s_watch(self, id, live && self->tty && !self->json, max_wait_ms);
}

int ctl_cmd_watch(ctl_t *self, int argc, char **argv)
{
    static const char usage[] =
        "usage: sluicectl watch [PIPELINE_ID] [--plain] [--json]\n"
        "  Follows the PUB socket (--pub). On a terminal: live per-task progress bars\n"
        "  and recent breaker and health changes, redrawn in place; piped or --plain:\n"
        "  one line per event (seq, time, topic, key=value...); --json: one JSON\n"
        "  object per line. Missed events (a seq gap) are fetched with events.since.\n"
        "  With an ID it ends when the pipeline is final: exit 0 completed,\n"
        "  2 partial_success, 3 failed, 4 cancelled; without one it runs until\n"
        "  SIGINT. SIGINT: exit 130.\n";
    if (ctl_wants_help(argc, argv, usage)) {
        return CTL_EXIT_OK;
    }
    const char *id = NULL;
    bool plain = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plain") == 0) {
            plain = true;
        } else if (argv[i][0] != '-' && !id) {
            id = argv[i];
        } else {
            return ctl_usage_error("watch", "unexpected '%s'", argv[i]);
        }
    }
    return s_watch(self, id, !plain && self->tty && !self->json, 0);
}
