/*  sl_watchdog.c: the watchdog actor (see sl_watchdog.h for the contract).

    Runs on the `watchdog` actor's thread; all its state (shard table, peer
    table, timers) is private to that thread. Reply callbacks get a pointer
    to a shard or peer record, which point back at the state; records are
    allocated one by one and never freed before fini, so those pointers stay
    valid for as long as a request can be pending (the runtime fails pending
    requests with SL_ECLOSED before fini runs).

    Design notes
    - A report is judged at the time its WD_SCAN was sent, not when the reply
      is read: the report describes the shard at that moment, and it keeps
      the decision independent of how fast the reply travels (with the manual
      clock, of when the test advances time).
    - A WD_SCAN expires after 90% of scan_interval, so an unanswered scan is
      over before the next tick asks that shard again.
    - Liveness is judged per actor by the last time it answered (last_ok):
      a wedged actor and an actor that vanished without being restarted look
      the same after hard_limit, and both are fatal.
*/
#include "actors/watchdog/sl_watchdog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "actors/config/sl_config.h"
#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

typedef struct s_wd_t s_wd_t;

typedef struct {
    s_wd_t *wd;
    char name[SL_NAME_MAX]; /* pipeline.<i> */
    bool outstanding;
    int64_t sent_at;
} s_shard_t;

typedef struct {
    s_wd_t *wd;
    char name[SL_NAME_MAX];
    int64_t last_ok; /* last pong (or first sighting) */
    int64_t sent_at; /* of the outstanding ping */
    bool outstanding;
    bool late_alerted; /* for the outstanding ping */
    bool present;      /* in the last runtime snapshot */
} s_peer_t;

struct s_wd_t {
    sl_actor_t *actor;
    sl_watchdog_config_t cfg; /* alert_to points at our own copy */
    char *alert_to;
    sl_watchdog_counters_t *counters;
    sl_watchdog_counters_t own_counters;
    s_shard_t *shards;
    s_peer_t **peers;
    size_t n_peers, cap_peers;
    sl_actor_stats_t *snap;
    size_t cap_snap;
    bool fatal_done;
};

sl_watchdog_config_t sl_watchdog_config_defaults(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const sl_config_t *d = sl_config_builtin(); /* the [watchdog] keys */
    return (sl_watchdog_config_t){.stuck_after_ms = d->stuck_after_ms,
                                  .scan_interval_ms = 0,
                                  .shards = cpus > 0 ? (uint32_t)cpus : 1,
                                  .ping_interval_ms = d->ping_interval_ms,
                                  .ping_late_ms = d->ping_late_ms,
                                  .hard_limit_ms = d->hard_limit_ms,
                                  .on_fatal = NULL,
                                  .fatal_arg = NULL,
                                  .alert_to = SL_IDS_STORE,
                                  .counters = NULL};
}

void sl_watchdog_counters_read(const sl_watchdog_counters_t *c, sl_watchdog_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c) {
        return;
    }
#define S_LOAD(f) out->f = atomic_load_explicit(&c->f, memory_order_relaxed)
    S_LOAD(scans);
    S_LOAD(reports);
    S_LOAD(reconciles);
    S_LOAD(bad_reports);
    S_LOAD(pings);
    S_LOAD(pongs);
    S_LOAD(late);
    S_LOAD(fatal);
#undef S_LOAD
}

static void s_count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- alerts and the fatal path ------------------------------------------------ */

static void s_alert(s_wd_t *self, const char *kind, const char *subject, const char *message)
{
    sl_alert_t a = {.kind = (char *)kind, .message = (char *)message, .subject = (char *)subject};
    uint8_t *buf = NULL;
    size_t len = 0;
    sl_warn("watchdog: %s", message);
    if (sl_alert_encode(&a, &buf, &len) == 0) {
        int rc = sl_actor_send(self->actor, self->alert_to, SL_MSG_ALERT, buf, len);
        if (rc < 0) {
            sl_debug("watchdog: alert to %s not sent: %s", self->alert_to, sl_err_name(rc));
        }
    }
    free(buf);
}

static void s_default_fatal(const char *why, void *arg)
{
    sl_error("%s", why);
    /* _exit: no atexit handlers or stdio flushes that could block behind
       the very thread that is wedged. */
    _exit(SL_WATCHDOG_EXIT_CODE);
}

static void s_fatal(s_wd_t *self, s_peer_t *peer, int64_t silent_ms)
{
    if (self->fatal_done) {
        return;
    }
    self->fatal_done = true;
    s_count(&self->counters->fatal);
    char msg[220], why[256];
    snprintf(msg, sizeof msg,
             "actor %s %s for %" PRId64 " ms (hard limit %" PRId64
             " ms); exiting so a supervisor restarts sluiced",
             peer->name, peer->present ? "has not answered pings" : "has been gone", silent_ms,
             self->cfg.hard_limit_ms);
    snprintf(why, sizeof why, "watchdog: %s", msg);
    s_alert(self, "actor_dead", peer->name, msg);
    sl_watchdog_fatal_fn *fn = self->cfg.on_fatal ? self->cfg.on_fatal : s_default_fatal;
    fn(why, self->cfg.fatal_arg);
}

/* ---- liveness -------------------------------------------------------------------- */

static void s_on_pong(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_peer_t *p = arg;
    s_wd_t *self = p->wd;
    p->outstanding = false;
    if (status == SL_ECLOSED) {
        return; /* we are stopping */
    }
    int64_t now = sl_actor_now(actor);
    if (status < 0) {
        if (now - p->last_ok >= self->cfg.hard_limit_ms) {
            s_fatal(self, p, now - p->last_ok);
        }
        return;
    }
    int64_t rtt = now - p->sent_at;
    p->last_ok = now;
    s_count(&self->counters->pongs);
    if (rtt > self->cfg.ping_late_ms && !p->late_alerted) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "actor %s answered a ping after %" PRId64 " ms (late after %" PRId64 " ms)",
                 p->name, rtt, self->cfg.ping_late_ms);
        s_count(&self->counters->late);
        s_alert(self, "actor_late", p->name, msg);
    }
}

/* Records whether every actor answered in time (see sl_watchdog_healthy):
   a present actor with a ping out longer than ping_late is not, and
   neither is one gone from the runtime that last answered longer ago than
   a ping round. */
static void s_judge_health(s_wd_t *self, int64_t now)
{
    bool alive = true;
    for (size_t i = 0; i < self->n_peers && alive; i++) {
        const s_peer_t *p = self->peers[i];
        if (p->present) {
            alive = !(p->outstanding && now - p->sent_at > self->cfg.ping_late_ms);
        } else {
            alive = now - p->last_ok <= self->cfg.ping_interval_ms + self->cfg.ping_late_ms;
        }
    }
    atomic_store_explicit(&self->counters->all_alive, alive, memory_order_relaxed);
    if (alive) {
        atomic_store_explicit(&self->counters->alive_at, now, memory_order_relaxed);
    }
}

bool sl_watchdog_healthy(const sl_watchdog_counters_t *c, int64_t now_ms, int64_t max_age_ms)
{
    if (!c) {
        return false;
    }
    int64_t at = atomic_load_explicit(&c->alive_at, memory_order_relaxed);
    return atomic_load_explicit(&c->all_alive, memory_order_relaxed) && at >= 0 &&
           now_ms - at <= max_age_ms;
}

/* Raises actor_late for pings still unanswered past ping_late. */
static void s_check_late(s_wd_t *self, int64_t now)
{
    for (size_t i = 0; i < self->n_peers; i++) {
        s_peer_t *p = self->peers[i];
        if (p->outstanding && !p->late_alerted && now - p->sent_at > self->cfg.ping_late_ms) {
            p->late_alerted = true;
            char msg[200];
            snprintf(msg, sizeof msg,
                     "actor %s has not answered a ping for %" PRId64 " ms (late after %" PRId64
                     " ms)",
                     p->name, now - p->sent_at, self->cfg.ping_late_ms);
            s_count(&self->counters->late);
            s_alert(self, "actor_late", p->name, msg);
        }
    }
}

static void s_on_late_timer(void *arg, uint64_t id)
{
    s_wd_t *self = arg;
    int64_t now = sl_actor_now(self->actor);
    s_check_late(self, now);
    s_judge_health(self, now);
}

static s_peer_t *s_peer(s_wd_t *self, const char *name, int64_t now)
{
    for (size_t i = 0; i < self->n_peers; i++) {
        if (strcmp(self->peers[i]->name, name) == 0) {
            return self->peers[i];
        }
    }
    if (self->n_peers == self->cap_peers) {
        size_t cap = self->cap_peers ? self->cap_peers * 2 : 32;
        s_peer_t **np = realloc(self->peers, cap * sizeof *np);
        if (!np) {
            return NULL;
        }
        self->peers = np;
        self->cap_peers = cap;
    }
    s_peer_t *p = calloc(1, sizeof *p);
    if (!p) {
        return NULL;
    }
    p->wd = self;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->last_ok = now;
    self->peers[self->n_peers++] = p;
    return p;
}

/* Takes a snapshot of the runtime's actors, growing the buffer as needed. */
static size_t s_snapshot(s_wd_t *self)
{
    sl_rt_t *rt = sl_actor_rt(self->actor);
    for (;;) {
        size_t n = sl_rt_stats(rt, self->snap, self->cap_snap);
        if (n < self->cap_snap || self->cap_snap >= 65536) {
            return n;
        }
        size_t cap = self->cap_snap * 2;
        sl_actor_stats_t *ns = realloc(self->snap, cap * sizeof *ns);
        if (!ns) {
            return n;
        }
        self->snap = ns;
        self->cap_snap = cap;
    }
}

static void s_on_ping_tick(void *arg, uint64_t id)
{
    s_wd_t *self = arg;
    int64_t now = sl_actor_now(self->actor);
    size_t n = s_snapshot(self);
    for (size_t i = 0; i < self->n_peers; i++) {
        self->peers[i]->present = false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!self->snap[i].running || strcmp(self->snap[i].name, SL_IDS_WATCHDOG) == 0) {
            continue;
        }
        s_peer_t *p = s_peer(self, self->snap[i].name, now);
        if (p) {
            p->present = true;
        }
    }
    bool sent = false;
    for (size_t i = 0; i < self->n_peers; i++) {
        s_peer_t *p = self->peers[i];
        if (p->present && !p->outstanding) {
            int rc = sl_actor_request(self->actor, p->name, SL_MSG_PING, NULL, 0,
                                      self->cfg.hard_limit_ms, s_on_pong, p);
            if (rc == 0) {
                p->outstanding = true;
                p->late_alerted = false;
                p->sent_at = now;
                sent = true;
                s_count(&self->counters->pings);
            }
        }
        if (now - p->last_ok >= self->cfg.hard_limit_ms) {
            s_fatal(self, p, now - p->last_ok);
        }
    }
    s_check_late(self, now);
    s_judge_health(self, now);
    if (sent) {
        /* +1: "later than ping_late" means strictly after it. */
        sl_actor_timer(self->actor, self->cfg.ping_late_ms + 1, 0, s_on_late_timer, self);
    }
}

/* ---- pipelines ------------------------------------------------------------------- */

static bool s_terminal(const char *s, size_t len)
{
    return sl_mp_str_eq(s, len, "completed") || sl_mp_str_eq(s, len, "failed") ||
           sl_mp_str_eq(s, len, "partial_success") || sl_mp_str_eq(s, len, "cancelled");
}

static void s_reconcile(s_wd_t *self, s_shard_t *sh, const char *id, size_t idlen,
                        const char *reason)
{
    sl_wd_reconcile_t m = {.pipeline_id = strndup(id, idlen), .reason = (char *)reason};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (m.pipeline_id && sl_wd_reconcile_encode(&m, &buf, &len) == 0) {
        sl_info("watchdog: reconcile %s on %s: %s", m.pipeline_id, sh->name, reason);
        if (sl_actor_send(self->actor, sh->name, SL_MSG_WD_RECONCILE, buf, len) == 0) {
            s_count(&self->counters->reconciles);
        }
    }
    free(buf);
    free(m.pipeline_id);
}

/* Judges one pipeline map of a report at time now. */
/* An item without its id, last change or live count is refused by its
   declaration (proto/sl_catalog.def): without them we cannot call a
   pipeline stuck, and never finalize on a guess. */
static int s_judge(s_wd_t *self, s_shard_t *sh, const sl_wd_pipeline_t *pl, int64_t now)
{
    const char *id = pl->id;
    size_t idlen = strlen(id);
    if (idlen == 0 || idlen >= 256) {
        return SL_EPROTO;
    }
    if (pl->status && s_terminal(pl->status, strlen(pl->status))) {
        return 0;
    }
    if (pl->pipeline_deadline_ms > 0 && now >= pl->pipeline_deadline_ms) {
        s_reconcile(self, sh, id, idlen, "pipeline_timeout");
        return 0;
    }
    if (pl->stage_deadline_ms > 0 && now >= pl->stage_deadline_ms) {
        s_reconcile(self, sh, id, idlen, "stage_timeout");
        return 0;
    }
    int64_t idle = now - pl->last_change_ms;
    if (pl->live_attempts == 0 && idle >= self->cfg.stuck_after_ms) {
        char reason[80];
        snprintf(reason, sizeof reason, "stuck: no live work for %" PRId64 "s", idle / 1000);
        s_reconcile(self, sh, id, idlen, reason);
    }
    return 0;
}

static void s_on_report(sl_actor_t *actor, void *arg, int status, const sl_msg_t *reply)
{
    s_shard_t *sh = arg;
    s_wd_t *self = sh->wd;
    sh->outstanding = false;
    if (status < 0) {
        if (status != SL_ECLOSED) {
            sl_debug("watchdog: %s did not answer WD_SCAN: %s", sh->name, sl_err_name(status));
        }
        return;
    }
    sl_wd_report_t rep = {0};
    if (reply->type != SL_MSG_WD_REPORT ||
        sl_wd_report_decode(reply->body, reply->body_len, &rep) < 0) {
        s_count(&self->counters->bad_reports);
        sl_warn("watchdog: malformed report from %s", sh->name);
        return;
    }
    s_count(&self->counters->reports);
    sl_mp_reader_t r;
    uint32_t n = 0;
    if (sl_codec_items(&rep.pipelines, &r, &n) < 0) {
        s_count(&self->counters->bad_reports);
    }
    for (uint32_t i = 0; i < n && !sl_mp_reader_done(&r); i++) {
        sl_wd_pipeline_t pl;
        if (sl_wd_pipeline_next(&r, &pl) < 0 || s_judge(self, sh, &pl, sh->sent_at) < 0) {
            s_count(&self->counters->bad_reports);
        }
        sl_wd_pipeline_clear(&pl);
    }
    sl_wd_report_clear(&rep);
}

static void s_on_scan_tick(void *arg, uint64_t id)
{
    s_wd_t *self = arg;
    int64_t now = sl_actor_now(self->actor);
    sl_wd_scan_t m = {.now_ms = now};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_wd_scan_encode(&m, &buf, &len) < 0) {
        return;
    }
    int64_t timeout = self->cfg.scan_interval_ms - self->cfg.scan_interval_ms / 10;
    for (uint32_t i = 0; i < self->cfg.shards; i++) {
        s_shard_t *sh = &self->shards[i];
        if (sh->outstanding) {
            continue;
        }
        int rc = sl_actor_request(self->actor, sh->name, SL_MSG_WD_SCAN, buf, len, timeout,
                                  s_on_report, sh);
        if (rc == 0) {
            sh->outstanding = true;
            sh->sent_at = now;
            s_count(&self->counters->scans);
        } else if (rc != SL_ENOTFOUND) {
            sl_debug("watchdog: WD_SCAN to %s: %s", sh->name, sl_err_name(rc));
        }
    }
    free(buf);
}

/* ---- the actor -------------------------------------------------------------------- */

static int s_handle(sl_actor_t *actor, void *state, const sl_msg_t *msg)
{
    /* The watchdog is driven by its timers; messages to it are ignored. */
    return 0;
}

static void s_free(s_wd_t *self)
{
    if (!self) {
        return;
    }
    for (size_t i = 0; i < self->n_peers; i++) {
        free(self->peers[i]);
    }
    free(self->peers);
    free(self->shards);
    free(self->snap);
    free(self->alert_to);
    free(self);
}

static int s_init(sl_actor_t *actor, void *args, void **state)
{
    const sl_watchdog_config_t *cfg = args;
    int rc = SL_ENOMEM;
    s_wd_t *self = calloc(1, sizeof *self);
    if (!self) {
        return SL_ENOMEM;
    }
    self->actor = actor;
    self->cfg = *cfg;
    self->counters = cfg->counters ? cfg->counters : &self->own_counters;
    atomic_store(&self->counters->all_alive, false);
    atomic_store(&self->counters->alive_at, -1);
    self->alert_to = strdup(cfg->alert_to ? cfg->alert_to : SL_IDS_STORE);
    self->cap_snap = 64;
    self->snap = calloc(self->cap_snap, sizeof *self->snap);
    self->shards = calloc(cfg->shards ? cfg->shards : 1, sizeof *self->shards);
    if (!self->alert_to || !self->snap || !self->shards) {
        goto fail;
    }
    self->cfg.alert_to = self->alert_to;
    for (uint32_t i = 0; i < cfg->shards; i++) {
        self->shards[i].wd = self;
        snprintf(self->shards[i].name, sizeof self->shards[i].name, "pipeline.%u", i);
    }
    if (cfg->shards > 0 && !sl_actor_timer(actor, self->cfg.scan_interval_ms,
                                           self->cfg.scan_interval_ms, s_on_scan_tick, self)) {
        goto fail;
    }
    if (!sl_actor_timer(actor, self->cfg.ping_interval_ms, self->cfg.ping_interval_ms,
                        s_on_ping_tick, self)) {
        goto fail;
    }
    /* Every actor started before us answered its spawn: alive until the
       first ping round says otherwise. */
    s_judge_health(self, sl_actor_now(actor));
    sl_info("watchdog: %u shards, stuck after %" PRId64 " ms, scan every %" PRId64
            " ms, ping every %" PRId64 " ms (late %" PRId64 ", hard limit %" PRId64 ")",
            cfg->shards, self->cfg.stuck_after_ms, self->cfg.scan_interval_ms,
            self->cfg.ping_interval_ms, self->cfg.ping_late_ms, self->cfg.hard_limit_ms);
    *state = self;
    return 0;
fail:
    s_free(self);
    return rc;
}

static void s_fini(sl_actor_t *actor, void *state)
{
    s_free(state);
}

int sl_watchdog_spawn(sl_rt_t *rt, const sl_watchdog_config_t *cfg, sl_actor_t **out)
{
    if (!rt || !out) {
        return SL_EINVAL;
    }
    *out = NULL;
    sl_watchdog_config_t c = cfg ? *cfg : sl_watchdog_config_defaults();
    if (c.stuck_after_ms <= 0 || c.ping_interval_ms <= 0 || c.ping_late_ms <= 0 ||
        c.hard_limit_ms <= 0 || c.scan_interval_ms < 0) {
        return SL_EINVAL;
    }
    if (c.scan_interval_ms == 0) {
        c.scan_interval_ms = c.stuck_after_ms / 4;
    }
    if (c.scan_interval_ms < 100) {
        c.scan_interval_ms = 100;
    }
    sl_actor_spec_t spec = {
        .name = SL_IDS_WATCHDOG, .init = s_init, .handle = s_handle, .fini = s_fini, .args = &c};
    return sl_actor_spawn(rt, &spec, out);
}
