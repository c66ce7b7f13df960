/*  sl_pipeline.c: the pipeline shard actor: spawn, message dispatch,
    recovery from the store at start, the watchdog protocol, the drain and
    retention.

    One actor thread per shard runs this file and the ones it calls
    (sl_pipeline_int.h lists them: the API ops, the state machine, the
    records). The shard owns its pipelines and tasks outright; other actors
    only see messages. Every message handler and timer callback ends with
    one flush of the store batch, so the changes of one step reach `store`
    as one STORE_WRITE. A malformed message from another actor is logged and
    dropped, never fatal.
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/sl_outcome.h"
#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

/* ---- pure helpers -------------------------------------------------------- */

void sl_pipeline_config_init(sl_pipeline_config_t *self)
{
    memset(self, 0, sizeof(*self));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    self->shards = n > 0 ? (int)n : 1;
    sl_plan_defaults_init(&self->defaults);
    self->store_timeout_ms = 10000;
    self->dlq_alert_returns = 3;
    self->dlq_timeout_factor = 1.5;
    self->recover = true;
}

/* ---- watchdog ------------------------------------------------------------ */

static void s_on_wd_scan(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    /* Our times are wall-clock; the watchdog reasons on the runtime's
       monotonic clock (sl_actor_now), so report in that clock. */
    int64_t mono = sl_actor_now(sh->self), wall = sl_pl_now(sh);
    uint32_t n = 0;
    for (size_t i = 0; i < sh->npipes; i++) {
        n += !sl_pstatus_terminal(sh->pipes[i]->status);
    }
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_array(&w, n);
    for (size_t i = 0; i < sh->npipes; i++) {
        const sl_pl_pipe_t *p = sh->pipes[i];
        if (sl_pstatus_terminal(p->status)) {
            continue;
        }
        sl_wd_pipeline_t item = {
            .id = (char *)p->id,
            .status = (char *)sl_pstatus_name(p->status),
            .stage = (char *)sl_stage_name(p->stage),
            .last_change_ms = mono + (p->last_change_ms - wall),
            .live_attempts = sl_pl_live_attempts(p),
            .stage_deadline_ms = p->stage_deadline_ms ? mono + (p->stage_deadline_ms - wall) : 0,
            .pipeline_deadline_ms =
                p->pipeline_deadline_ms ? mono + (p->pipeline_deadline_ms - wall) : 0};
        sl_wd_pipeline_write(&item, &w);
    }
    sl_wd_report_t r = {.pipelines = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_mp_writer_error(&w) == 0 && sl_wd_report_encode(&r, &buf, &len) == 0) {
        sl_actor_reply(sh->self, msg, SL_MSG_WD_REPORT, buf, len);
    }
    free(buf);
    sl_mp_writer_fini(&w);
}

/* ---- drain (shutdown) ---------------------------------------------------- */

static void s_on_drain(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    sl_pipeline_drain_t m = {0};
    if (sl_pipeline_drain_decode(msg->body, msg->body_len, &m) < 0) {
        sl_warn("%s: malformed PIPELINE_DRAIN from %s dropped", sh->name, msg->from);
        return;
    }
    uint64_t in_flight = 0, held = 0;
    sl_pl_drain_counts(sh, &in_flight, &held);
    if (!sh->draining) {
        sh->draining = true;
        sl_info("%s: draining (%s): %llu attempts in flight, %llu tasks held back for the "
                "next start",
                sh->name, m.reason ? m.reason : "no reason given", (unsigned long long)in_flight,
                (unsigned long long)held);
    }
    sl_pipeline_drain_clear(&m);
    sl_pipeline_drain_reply_t r = {.in_flight = in_flight, .held = held};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_pipeline_drain_reply_encode(&r, &buf, &len) == 0) {
        sl_actor_reply(sh->self, msg, SL_MSG_PIPELINE_DRAIN_REPLY, buf, len);
    }
    free(buf);
}

static void s_on_wd_reconcile(sl_pl_shard_t *sh, const sl_msg_t *msg)
{
    sl_wd_reconcile_t m = {0};
    if (sl_wd_reconcile_decode(msg->body, msg->body_len, &m) < 0) {
        sl_warn("%s: malformed WD_RECONCILE dropped", sh->name);
        return;
    }
    sl_pl_pipe_t *p = sl_map_get_str(&sh->byid, m.pipeline_id);
    if (p) {
        sl_pl_pipe_reconcile(p, m.reason);
    }
    sl_wd_reconcile_clear(&m);
}

/* ---- recovery ------------------------------------------------------------ */

typedef int (*s_row_fn)(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t vlen);

/* Scans one db (rows whose keys start with prefix), page by page. */
static int s_scan(sl_pl_shard_t *sh, sl_port_t *port, int db, const char *prefix, s_row_fn fn,
                  void *arg)
{
    uint8_t *after = NULL;
    size_t after_len = 0;
    int rc = 0;
    for (;;) {
        sl_store_scan_t q = {.db = (uint64_t)db, .limit = 1000};
        if (prefix) {
            q.prefix.ptr = (uint8_t *)prefix;
            q.prefix.len = strlen(prefix);
        }
        q.start_after.ptr = after;
        q.start_after.len = after_len;
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((rc = sl_store_scan_encode(&q, &buf, &len)) < 0) {
            break;
        }
        sl_msg_t *reply = NULL;
        rc = sl_port_request(port, SL_IDS_STORE, SL_MSG_STORE_SCAN, buf, len,
                             sh->cfg.store_timeout_ms, &reply);
        free(buf);
        if (rc < 0) {
            break;
        }
        sl_store_rows_t rows = {0};
        rc = sl_store_rows_decode(reply->body, reply->body_len, &rows);
        if (rc == 0 && rows.status < 0) {
            rc = (int)rows.status;
        }
        sl_mp_reader_t r;
        uint32_t n = 0;
        if (rc == 0) {
            rc = sl_codec_items(&rows.rows, &r, &n);
        }
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            sl_store_row_t row;
            rc = sl_store_row_next(&r, &row);
            if (rc == 0) {
                fn(sh, arg, row.key.ptr, row.key.len, row.value.ptr, row.value.len);
                /* The next page starts after this key: keep it (row goes). */
                free(after);
                after = row.key.ptr;
                after_len = row.key.len;
                row.key = (sl_bytes_t){0};
            }
            sl_store_row_clear(&row);
        }
        bool more = rows.more && n > 0;
        sl_store_rows_clear(&rows);
        sl_msg_destroy(&reply);
        if (rc < 0 || !more) {
            break;
        }
    }
    free(after);
    return rc;
}

/* A task from its record, in its pipeline; NULL when the record does not
   fit (a bad index, a duplicate) or out of memory. */
static sl_pl_task_t *s_load_task(sl_pl_pipe_t *p, sl_task_rec_t *rec)
{
    sl_pl_task_t *t = sl_pl_task_from_rec(p, rec);
    if (t && sl_pl_task_attach(p, t) < 0) {
        sl_pl_task_free(t);
        t = NULL;
    }
    return t;
}

static int s_load_task_row(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen)
{
    sl_pl_pipe_t *p = arg;
    sl_task_rec_t rec;
    int rc = sl_task_rec_decode(val, vlen, &rec);
    if (rc == 0 && strcmp(rec.pipeline_id, p->id) != 0) {
        rc = SL_ECORRUPT;
    }
    if (rc == 0 && !s_load_task(p, &rec)) {
        rc = SL_ECORRUPT;
    }
    if (rc < 0) {
        sl_error("%s: task record %.*s unreadable (%s), skipped", sh->name,
                 (int)(klen > 64 ? 64 : klen), (const char *)key, sl_err_name(rc));
    }
    sl_task_rec_clear(&rec);
    return 0;
}

static int s_load_pipe_row(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                           const uint8_t *val, size_t vlen)
{
    char id[SL_PIPELINE_ID_MAX];
    if (klen >= sizeof(id)) {
        return 0;
    }
    memcpy(id, key, klen);
    id[klen] = '\0';
    if (!sl_ids_pipeline_valid(id) || sl_ids_shard_of(id, sh->cfg.shards) != sh->index) {
        return 0; /* another shard's */
    }
    sl_pipeline_rec_t rec;
    int rc = sl_pipeline_rec_decode(val, vlen, &rec);
    if (rc == 0 && strcmp(rec.id, id) != 0) {
        rc = SL_ECORRUPT;
    }
    sl_pl_pipe_t *p = NULL;
    if (rc == 0) {
        p = sl_pl_pipe_new(sh, id);
        rc = p ? sl_pl_pipe_from_rec(p, &rec) : SL_ENOMEM;
    }
    if (rc == 0) {
        rc = sl_pl_pipe_add(sh, p);
    }
    sl_pipeline_rec_clear(&rec);
    if (rc < 0) {
        sl_error("%s: pipeline record %s unreadable (%s), skipped", sh->name, id, sl_err_name(rc));
        sl_pl_pipe_free(p);
        return 0;
    }
    p->last_change_ms = sl_pl_now(sh);
    return 0;
}

/* Fills holes left by unreadable task records with failed placeholders, so
   a pipeline can always finish. */
static void s_fill_holes(sl_pl_pipe_t *p)
{
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i]) {
            continue;
        }
        sl_task_rec_t rec;
        sl_task_rec_init(&rec); /* the declared defaults */
        rec.index = i;
        rec.kind = SL_TK_ANALYSIS;
        rec.service = SL_SVC_STATIC;
        rec.status = SL_TS_FAILED;
        rec.error = strdup("stored task record unreadable");
        sl_pl_task_t *t = s_load_task(p, &rec);
        sl_task_rec_clear(&rec);
        if (t) {
            sl_pl_save_task(t);
        }
    }
}

static int s_recover(sl_pl_shard_t *sh)
{
    char name[SL_NAME_MAX];
    snprintf(name, sizeof(name), SL_IDS_PIPELINE_PREFIX "%d.boot", sh->index);
    sl_port_t *port = sl_port_new(sl_actor_rt(sh->self), name);
    if (!port) {
        return SL_ENOMEM;
    }
    int rc = s_scan(sh, port, SL_IDS_DB_PIPELINES, NULL, s_load_pipe_row, NULL);
    for (size_t i = 0; rc == 0 && i < sh->npipes; i++) {
        sl_pl_pipe_t *p = sh->pipes[i];
        char prefix[SL_PIPELINE_ID_MAX + 4];
        snprintf(prefix, sizeof(prefix), "%s-t", p->id);
        rc = s_scan(sh, port, SL_IDS_DB_TASKS, prefix, s_load_task_row, p);
        s_fill_holes(p);
    }
    sl_port_destroy(&port);
    if (rc < 0) {
        sl_error("%s: recovery from the store failed: %s", sh->name, sl_err_name(rc));
        return rc;
    }
    size_t resumed = 0;
    for (size_t i = 0; i < sh->npipes; i++) {
        if (!sl_pstatus_terminal(sh->pipes[i]->status)) {
            sl_pl_pipe_resume(sh->pipes[i]);
            resumed++;
        }
    }
    if (sh->npipes) {
        sl_info("%s: loaded %zu pipelines, resumed %zu", sh->name, sh->npipes, resumed);
    }
    return 0;
}

/* ---- retention ----------------------------------------------------------- */

/* A finished pipeline past retention goes, unless a task of it is still
   parked in the DLQ (DLQ entries outlive everything until retried or
   dropped). */
static bool s_expired(const sl_pl_pipe_t *p, int64_t now, int64_t retention)
{
    if (!sl_pstatus_terminal(p->status) || p->start_req || p->completed_ms <= 0 ||
        now - p->completed_ms < retention) {
        return false;
    }
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i] && (p->tasks[i]->flags & SL_PL_T_IN_DLQ)) {
            return false;
        }
    }
    return true;
}

static void s_retention_stored(sl_pl_shard_t *sh, int64_t now);

static void s_on_retention(void *arg, uint64_t id)
{
    sl_pl_shard_t *sh = arg;
    int64_t now = sl_pl_now(sh);
    size_t purged = 0;
    for (size_t i = 0; i < sh->npipes;) {
        sl_pl_pipe_t *p = sh->pipes[i];
        /* Bounded per sweep so one sweep never stalls the shard. */
        if (purged < 1000 && s_expired(p, now, sh->cfg.retention_ms)) {
            sl_pl_pipe_purge(p); /* removes pipes[i] */
            purged++;
            if (sh->nops > 50000) {
                sl_pl_flush(sh, NULL, NULL);
            }
        } else {
            i++;
        }
    }
    if (purged) {
        sl_info("%s: retention removed %zu finished pipelines", sh->name, purged);
    }
    sl_pl_flush(sh, NULL, NULL);
    s_retention_stored(sh, now);
    sl_pl_flush(sh, NULL, NULL);
}

/* ---- eviction and reload ------------------------------------------------ */

/* A finished pipeline nobody asked for in evict_after leaves memory; its
   records stay in the store, where the API ops read it back. A task still
   parked in the DLQ keeps it in memory (dlq.retry all walks memory). */
static bool s_evictable(const sl_pl_pipe_t *p, int64_t now, int64_t after)
{
    int64_t last = p->completed_ms > p->touched_ms ? p->completed_ms : p->touched_ms;
    if (!sl_pstatus_terminal(p->status) || p->start_req || p->completed_ms <= 0 ||
        now - last < after) {
        return false;
    }
    for (uint32_t i = 0; i < p->ntasks; i++) {
        if (p->tasks[i] && (p->tasks[i]->flags & SL_PL_T_IN_DLQ)) {
            return false;
        }
    }
    return true;
}

static void s_evict(sl_pl_shard_t *sh)
{
    int64_t now = sl_pl_now(sh);
    size_t n = 0;
    for (size_t i = 0; i < sh->npipes;) {
        sl_pl_pipe_t *p = sh->pipes[i];
        if (s_evictable(p, now, sh->cfg.evict_after_ms)) {
            sl_pl_pipe_remove(sh, p); /* removes pipes[i] */
            sl_pl_pipe_free(p);
            n++;
        } else {
            i++;
        }
    }
    if (n) {
        sh->evicted += n;
        sl_info("%s: %zu finished pipelines left memory (%zu stay)", sh->name, n, sh->npipes);
    }
}

static void s_on_evict(void *arg, uint64_t id)
{
    (void)id;
    s_evict(arg);
}

sl_pl_pipe_t *sl_pl_reload(sl_pl_shard_t *sh, const char *id)
{
    /* evicted counts boot's evictions too: 0 means nothing is only stored */
    if (sh->evicted == 0 || !sh->port || !sl_ids_pipeline_valid(id) ||
        sl_ids_shard_of(id, sh->cfg.shards) != sh->index) {
        return NULL;
    }
    sl_pl_pipe_t *p = sl_map_get_str(&sh->byid, id);
    if (p) {
        return p;
    }
    if (s_scan(sh, sh->port, SL_IDS_DB_PIPELINES, id, s_load_pipe_row, NULL) < 0 ||
        !(p = sl_map_get_str(&sh->byid, id))) {
        return NULL;
    }
    char prefix[SL_PIPELINE_ID_MAX + 4];
    snprintf(prefix, sizeof(prefix), "%s-t", p->id);
    if (s_scan(sh, sh->port, SL_IDS_DB_TASKS, prefix, s_load_task_row, p) < 0) {
        sl_pl_pipe_remove(sh, p);
        sl_pl_pipe_free(p);
        return NULL;
    }
    s_fill_holes(p);
    p->touched_ms = sl_pl_now(sh);
    if (!sl_pstatus_terminal(p->status)) {
        sl_pl_pipe_resume(p); /* not evicted by us: a record the boot missed */
    }
    return p;
}

typedef struct {
    int want;
    uint32_t limit;
    sl_pl_brief_t *ring;
    size_t n, next;         /* entries held, next slot */
    int64_t expired_before; /* retention: completed before this (0: off) */
    char (*expired)[SL_PIPELINE_ID_MAX];
    size_t nexpired;
} s_stored_t;

/* One stored pipeline record: into the list ring, or the expired ids. */
static int s_stored_row(sl_pl_shard_t *sh, void *arg, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t vlen)
{
    s_stored_t *st = arg;
    char id[SL_PIPELINE_ID_MAX];
    if (klen >= sizeof(id)) {
        return 0;
    }
    memcpy(id, key, klen);
    id[klen] = '\0';
    if (!sl_ids_pipeline_valid(id) || sl_ids_shard_of(id, sh->cfg.shards) != sh->index ||
        sl_map_get_str(&sh->byid, id)) {
        return 0; /* another shard's, or in memory */
    }
    sl_pipeline_rec_t rec;
    if (sl_pipeline_rec_decode(val, vlen, &rec) < 0) {
        return 0;
    }
    if (st->expired_before > 0) {
        if (sl_pstatus_terminal(rec.status) && rec.completed_ms > 0 &&
            rec.completed_ms < st->expired_before && st->nexpired < 1000) {
            memcpy(st->expired[st->nexpired++], id, klen + 1);
        }
    } else if (st->want < 0 || (int)rec.status == st->want) {
        sl_pl_pipe_t view = {.status = (uint8_t)rec.status,
                             .stage = (uint8_t)rec.stage,
                             .created_ms = rec.created_ms,
                             .name = rec.name ? rec.name : ""};
        memcpy(view.id, id, klen + 1);
        sl_mp_writer_t w;
        sl_mp_writer_init(&w);
        sl_pl_view_pipe_brief(&w, &view);
        sl_pl_brief_t *b = &st->ring[st->next];
        free(b->brief);
        b->brief = NULL;
        if (sl_mp_writer_error(&w) == 0 && sl_mp_writer_release(&w, &b->brief, &b->len) == 0) {
            memcpy(b->id, id, klen + 1);
            st->next = (st->next + 1) % st->limit;
            st->n += st->n < st->limit;
        }
        sl_mp_writer_fini(&w);
    }
    sl_pipeline_rec_clear(&rec);
    return 0;
}

size_t sl_pl_list_stored(sl_pl_shard_t *sh, int want, uint32_t limit, sl_pl_brief_t **out)
{
    *out = NULL;
    if (sh->evicted == 0 || !sh->port || limit == 0) {
        return 0;
    }
    s_stored_t st = {.want = want, .limit = limit, .ring = calloc(limit, sizeof(sl_pl_brief_t))};
    if (!st.ring) {
        return 0;
    }
    if (s_scan(sh, sh->port, SL_IDS_DB_PIPELINES, NULL, s_stored_row, &st) < 0) {
        sl_warn("%s: pipeline.list could not read the stored pipelines", sh->name);
    }
    /* Oldest first: the ring's oldest entry is at next once it is full. */
    sl_pl_brief_t *res = calloc(st.n ? st.n : 1, sizeof(*res));
    size_t start = st.n < limit ? 0 : st.next;
    for (size_t i = 0; res && i < st.n; i++) {
        res[i] = st.ring[(start + i) % limit];
        st.ring[(start + i) % limit].brief = NULL;
    }
    for (size_t i = 0; i < limit; i++) {
        free(st.ring[i].brief);
    }
    free(st.ring);
    *out = res;
    return res ? st.n : 0;
}

/* Retention for pipelines that are only in the store: read back, purged. */
static void s_retention_stored(sl_pl_shard_t *sh, int64_t now)
{
    if (sh->evicted == 0 || !sh->port) {
        return;
    }
    s_stored_t st = {.expired_before = now - sh->cfg.retention_ms,
                     .expired = calloc(1000, SL_PIPELINE_ID_MAX)};
    if (!st.expired) {
        return;
    }
    s_scan(sh, sh->port, SL_IDS_DB_PIPELINES, NULL, s_stored_row, &st);
    for (size_t i = 0; i < st.nexpired; i++) {
        sl_pl_pipe_t *p = sl_pl_reload(sh, st.expired[i]);
        if (p) {
            sl_pl_pipe_purge(p);
        }
    }
    if (st.nexpired) {
        sl_info("%s: retention removed %zu finished pipelines from the store", sh->name,
                st.nexpired);
    }
    free(st.expired);
}

/* ---- the actor ----------------------------------------------------------- */

typedef struct {
    sl_pipeline_config_t cfg;
    int shard;
} s_args_t;

static void s_shard_free(sl_pl_shard_t *sh)
{
    for (size_t i = 0; i < sh->npipes; i++) {
        sl_pl_pipe_free(sh->pipes[i]);
    }
    free(sh->pipes);
    sl_port_destroy(&sh->port);
    sl_map_fini(&sh->byid);
    sl_pl_intern_fini(sh);
    sl_mp_writer_fini(&sh->ops);
    sl_mp_writer_fini(&sh->events);
    free(sh);
}

static int s_init(sl_actor_t *self, void *args, void **state)
{
    const s_args_t *a = args;
    sl_pl_shard_t *sh = calloc(1, sizeof(*sh));
    if (!sh) {
        return SL_ENOMEM;
    }
    sh->self = self;
    sh->cfg = a->cfg;
    sh->index = a->shard;
    sl_ids_pipeline_mailbox(sh->name, sizeof(sh->name), a->shard);
    sl_mp_writer_init(&sh->ops);
    sl_mp_writer_init(&sh->events);
    sh->rng = sh->cfg.seed ? sh->cfg.seed
                           : (uint64_t)sl_clock_now_us(sl_rt_clock(sl_actor_rt(self))) ^
                                 ((uint64_t)a->shard << 32) ^ 0x5bd1e995u;
    if (!sh->rng) {
        sh->rng = 1;
    }
    if (sh->cfg.recover) {
        int rc = s_recover(sh);
        if (rc < 0) {
            s_shard_free(sh);
            return rc;
        }
        sl_pl_flush(sh, NULL, NULL);
    }
    if (sh->cfg.evict_after_ms > 0) {
        char port[SL_NAME_MAX];
        snprintf(port, sizeof(port), SL_IDS_PIPELINE_PREFIX "%d.load", sh->index);
        sh->port = sl_port_new(sl_actor_rt(self), port);
        if (!sh->port) {
            s_shard_free(sh);
            return SL_ENOMEM;
        }
        s_evict(sh); /* what the boot loaded and nobody needs */
        int64_t every = sh->cfg.evict_after_ms < 60000 ? sh->cfg.evict_after_ms : 60000;
        sh->evict_timer = sl_actor_timer(self, every, every, s_on_evict, sh);
    }
    if (sh->cfg.retention_ms > 0) {
        int64_t every = sh->cfg.retention_ms < 60000 ? sh->cfg.retention_ms : 60000;
        sh->retention_timer = sl_actor_timer(self, every, every, s_on_retention, sh);
    }
    *state = sh;
    return 0;
}

static int s_handle(sl_actor_t *self, void *state, const sl_msg_t *msg)
{
    sl_pl_shard_t *sh = state;
    switch (msg->type) {
    case SL_MSG_ATTEMPT_RESULT: {
        sl_attempt_result_t m = {0};
        if (sl_attempt_result_decode(msg->body, msg->body_len, &m) == 0) {
            sl_pl_on_result(sh, &m);
        } else {
            sl_warn("%s: malformed ATTEMPT_RESULT from %s dropped", sh->name, msg->from);
        }
        sl_attempt_result_clear(&m);
        break;
    }
    case SL_MSG_ATTEMPT_PROGRESS: {
        sl_attempt_progress_t m = {0};
        if (sl_attempt_progress_decode(msg->body, msg->body_len, &m) == 0) {
            sl_pl_on_progress(sh, &m);
        }
        sl_attempt_progress_clear(&m);
        break;
    }
    case SL_MSG_API_CALL:
        sl_pl_on_api_call(sh, msg);
        break;
    case SL_MSG_WD_SCAN:
        s_on_wd_scan(sh, msg);
        break;
    case SL_MSG_WD_RECONCILE:
        s_on_wd_reconcile(sh, msg);
        break;
    case SL_MSG_PIPELINE_DRAIN:
        s_on_drain(sh, msg);
        break;
    default:
        sl_debug("%s: ignoring message type %u from %s", sh->name, msg->type, msg->from);
        break;
    }
    sl_pl_flush(sh, NULL, NULL);
    return 0;
}

static void s_fini(sl_actor_t *self, void *state)
{
    sl_pl_shard_t *sh = state;
    if (!sh) {
        return;
    }
    sl_pl_flush(sh, NULL, NULL);
    s_shard_free(sh);
}

int sl_pipeline_spawn(sl_rt_t *rt, const sl_pipeline_config_t *cfg, int shard, sl_actor_t **out)
{
    if (!rt || !cfg || !out || cfg->shards < 1 || shard < 0 || shard >= cfg->shards) {
        return SL_EINVAL;
    }
    s_args_t args = {*cfg, shard};
    if (args.cfg.store_timeout_ms <= 0) {
        args.cfg.store_timeout_ms = 10000;
    }
    if (args.cfg.dlq_timeout_factor < 1.0) {
        args.cfg.dlq_timeout_factor = 1.0;
    }
    char name[SL_NAME_MAX];
    sl_ids_pipeline_mailbox(name, sizeof(name), shard);
    sl_actor_spec_t spec = {
        .name = name, .init = s_init, .handle = s_handle, .fini = s_fini, .args = &args};
    return sl_actor_spawn(rt, &spec, out);
}
