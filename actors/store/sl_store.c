/*  sl_store.c: the store actor (see sl_store.h for the contract).

    Runs on the `store` actor's thread, which alone owns the sl_db_t, the
    open write transaction, the list of requests waiting for their ack and
    the committed-but-unpublished events. Nothing here blocks except LMDB
    itself (the fsync of a commit), which is this actor's job.

    Design notes
    - A group is one write transaction. It opens on the first write of a
      wake-up, every STORE_WRITE/ALERT of that wake-up is applied to it as it
      arrives (its body is only borrowed during the handler), and a 0 ms timer
      commits it after the drain. A request is validated completely before
      its first put, so a malformed one is refused without touching the
      group. A put that fails (map full, I/O) poisons the transaction: the
      whole group is aborted and every request in it gets the error; nothing
      is acknowledged as committed.
    - Seqs come from sl_db_next_seq inside the transaction, so they are
      gapless and consecutive in commit order; a failed group leaves no hole
      because its seqs are reused by the next one.
    - Acks and EVENT_PUBLISH go out only after sl_db_commit returned 0.
    - Reads wait for the end of the drain too (a second 0 ms timer), then
      commit the open group and answer in arrival order. The mailbox is fair
      queued per sender, so a read can arrive in the same wake-up as, but
      ahead of, a write that was sent before it by another actor: a shard
      writes a task's result fire-and-forget, answers pipeline.get, and the
      api's result.get for that task races the write to this mailbox. The
      write was queued before the read was even sent, so it is in this
      drain; answering after the drain makes what pipeline.get showed
      readable (read-your-writes across actors). Only a drain cut short at
      S_DRAIN_MAX messages (runtime/sl_actor.c) could leave it for the next
      wake-up.
*/
#include "actors/store/sl_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/config/sl_config.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

#define S_ERR_MAX 512
#define S_SCAN_DEFAULT 1000
#define S_SCAN_BYTES (16u << 20) /* one STORE_ROWS stays well under SL_MSG_MAX_BIN */
#define S_TOPIC_MAX 128
#define S_SCAN_QUARANTINE_MAX 64
/* Commit early past this many payload bytes: keeps one group well inside
   LMDB's dirty-page limit for a single transaction (MDB_TXN_FULL). */
#define S_GROUP_BYTES (64u << 20)
/* Events one prune deletes at most before yielding to messages (the next
   prune follows at once while more are due). */
#define S_PRUNE_BATCH 10000

static _Thread_local char s_last_error[S_ERR_MAX];

typedef struct {
    char from[SL_NAME_MAX];
    uint64_t corr;
    uint64_t first_seq, last_seq; /* 0, 0 when the request had no events */
} s_waiter_t;

/* A GET or SCAN waiting for the end of the drain (its body copied). */
typedef struct {
    sl_msg_t msg;
    uint8_t *body;
} s_read_t;

typedef struct {
    uint64_t seq;
    char *topic;
    uint8_t *body;
    size_t len;
} s_event_t;

typedef struct {
    sl_actor_t *actor;
    sl_db_t *db;
    char *publish_to;
    uint32_t max_group;
    uint32_t scan_max_rows;
    sl_store_counters_t *counters; /* borrowed, may point at own_counters */
    sl_store_counters_t own_counters;

    bool open;           /* a write transaction (group) is open */
    uint64_t timer_id;   /* the 0 ms commit timer, 0 when not armed */
    uint32_t group_msgs; /* writes applied to the open group */
    s_waiter_t *waiters;
    size_t n_waiters, cap_waiters;
    s_event_t *events;
    size_t n_events, cap_events;
    uint64_t read_timer_id; /* the 0 ms timer that answers reads, 0 when not armed */
    s_read_t *reads;
    size_t n_reads, cap_reads;
    sl_mp_writer_t w; /* scratch for event bodies and replies */

    int64_t retention_ms; /* prune: events naming no pipeline older than this */
    uint64_t events_max;  /* prune: cap on kept events, 0 none */
    int64_t prune_every_ms;
    uint64_t prune_timer; /* the one-shot prune timer, 0 when not armed */
} s_store_t;

typedef struct {
    const sl_store_config_t *cfg;
    char err[S_ERR_MAX];
} s_args_t;

sl_store_config_t sl_store_config_defaults(void)
{
    const sl_config_t *d = sl_config_builtin(); /* the [sluice] and [store] keys */
    return (sl_store_config_t){.data_dir = d->data_dir,
                               .map_size = (uint64_t)d->map_size_mb << 20,
                               .nosync = d->nosync,
                               .publish_to = SL_IDS_API,
                               .max_group = 4096,
                               .scan_max_rows = 10000,
                               .prune_every_ms = 60000,
                               .counters = NULL};
}

const char *sl_store_last_error(void)
{
    return s_last_error;
}

void sl_store_counters_read(const sl_store_counters_t *c, sl_store_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (!c) {
        return;
    }
#define S_LOAD(f) out->f = atomic_load_explicit(&c->f, memory_order_relaxed)
    S_LOAD(commits);
    S_LOAD(failed_commits);
    S_LOAD(writes);
    S_LOAD(rejected);
    S_LOAD(events);
    S_LOAD(last_seq);
    S_LOAD(bytes);
    S_LOAD(reads);
    S_LOAD(corrupt);
    S_LOAD(publish_dropped);
    S_LOAD(events_pruned);
    S_LOAD(first_seq);
#undef S_LOAD
}

static void s_count(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* ---- replies ------------------------------------------------------------------ */

/* Acks are sent after the handler returned, when the request message is
   gone; sl_actor_reply needs only its sender, flags and correlation id. */
static void s_reply_to(s_store_t *self, const char *from, uint64_t corr, uint16_t type,
                       const uint8_t *body, size_t len)
{
    sl_msg_t req = {.type = 0, .flags = SL_MSG_F_REQUEST, .corr = corr};
    snprintf(req.from, sizeof req.from, "%s", from);
    int rc = sl_actor_reply(self->actor, &req, type, body, len);
    if (rc < 0 && rc != SL_ENOTFOUND) {
        sl_warn("reply %s to %s failed: %s", sl_msg_type_name(type), from, sl_err_name(rc));
    }
}

static void s_ack(s_store_t *self, const char *from, uint64_t corr, int status, uint64_t first,
                  uint64_t last)
{
    sl_store_ack_t ack = {.status = status, .first_seq = first, .last_seq = last};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_store_ack_encode(&ack, &buf, &len) == 0) {
        s_reply_to(self, from, corr, SL_MSG_STORE_ACK, buf, len);
    }
    free(buf);
}

/* ---- the group ------------------------------------------------------------------ */

static void s_events_clear(s_store_t *self)
{
    for (size_t i = 0; i < self->n_events; i++) {
        free(self->events[i].topic);
        free(self->events[i].body);
    }
    self->n_events = 0;
}

static void s_close_group(s_store_t *self)
{
    if (self->timer_id) {
        sl_actor_timer_cancel(self->actor, self->timer_id);
        self->timer_id = 0;
    }
    self->open = false;
    self->group_msgs = 0;
}

/* Aborts the open group: every waiting request learns rc, nothing of the
   group is stored or published. msgs: messages lost with it. */
static void s_fail_group(s_store_t *self, int rc, uint32_t msgs)
{
    sl_db_abort(self->db);
    sl_error("store: write group of %u messages failed, nothing of it committed: %s", msgs,
             rc == SL_EFULL ? "LMDB map full (raise the store's map_size)" : sl_err_msg(rc));
    s_close_group(self);
    s_count(&self->counters->failed_commits, 1);
    for (size_t i = 0; i < self->n_waiters; i++) {
        s_ack(self, self->waiters[i].from, self->waiters[i].corr, rc, 0, 0);
    }
    self->n_waiters = 0;
    s_events_clear(self);
}

static void s_publish(s_store_t *self)
{
    for (size_t i = 0; i < self->n_events; i++) {
        s_event_t *e = &self->events[i];
        sl_event_publish_t m = {
            .seq = e->seq, .topic = e->topic, .body = {.ptr = e->body, .len = e->len}};
        sl_mp_writer_reset(&self->w);
        if (sl_event_publish_write(&m, &self->w) < 0) {
            continue;
        }
        int rc = sl_actor_send(self->actor, self->publish_to, SL_MSG_EVENT_PUBLISH,
                               sl_mp_writer_data(&self->w), sl_mp_writer_len(&self->w));
        if (rc == SL_EFULL) {
            /* Monitors see the gap in seqs and replay with events.since. */
            s_count(&self->counters->publish_dropped, 1);
        }
    }
    s_events_clear(self);
}

/* Commits the open group, then acknowledges and publishes it. */
static void s_flush(s_store_t *self)
{
    if (!self->open) {
        return;
    }
    uint64_t bytes = sl_db_txn_bytes(self->db);
    uint32_t msgs = self->group_msgs;
    int rc = sl_db_commit(self->db);
    if (rc < 0) {
        s_fail_group(self, rc, msgs);
        return;
    }
    s_close_group(self);
    s_count(&self->counters->commits, 1);
    s_count(&self->counters->writes, msgs);
    s_count(&self->counters->events, self->n_events);
    s_count(&self->counters->bytes, bytes);
    atomic_store_explicit(&self->counters->last_seq, sl_db_last_seq(self->db),
                          memory_order_relaxed);
    for (size_t i = 0; i < self->n_waiters; i++) {
        s_waiter_t *wt = &self->waiters[i];
        s_ack(self, wt->from, wt->corr, 0, wt->first_seq, wt->last_seq);
    }
    self->n_waiters = 0;
    s_publish(self);
}

static void s_on_commit_timer(void *arg, uint64_t id)
{
    s_store_t *self = arg;
    self->timer_id = 0; /* one-shot: already gone from the heap */
    s_flush(self);
}

static int s_open_group(s_store_t *self)
{
    if (self->open) {
        return 0;
    }
    int rc = sl_db_begin(self->db);
    if (rc < 0) {
        return rc;
    }
    self->open = true;
    /* Due now: the runtime fires it right after this wake-up's drain. */
    self->timer_id = sl_actor_timer(self->actor, 0, 0, s_on_commit_timer, self);
    if (!self->timer_id) {
        sl_db_abort(self->db);
        self->open = false;
        return SL_ENOMEM;
    }
    return 0;
}

/* ---- validating and applying a STORE_WRITE -------------------------------------- */

static bool s_user_db(uint64_t db)
{
    return db >= SL_DB_PIPELINES && db <= SL_DB_DLQ && db != SL_DB_EVENTS;
}

/* A STORE_WRITE's ops and events, each decoded once: checked whole, then
   applied from here, so a bad request is refused before any of it touches
   the group and no item is decoded (and its bytes copied) twice. */
typedef struct {
    sl_store_op_t *ops;
    uint32_t n_ops;
    sl_store_event_t *events;
    uint32_t *kept; /* per event: its fields that are not seq/ts/topic */
    uint32_t n_events;
} s_write_t;

static void s_write_clear(s_write_t *wr)
{
    for (uint32_t i = 0; i < wr->n_ops; i++) {
        sl_store_op_clear(&wr->ops[i]);
    }
    for (uint32_t i = 0; i < wr->n_events; i++) {
        sl_store_event_clear(&wr->events[i]);
    }
    free(wr->ops);
    free(wr->events);
    free(wr->kept);
    memset(wr, 0, sizeof *wr);
}

/* Decodes and checks the ops (store_op items). */
static int s_read_ops(const sl_bytes_t *ops, s_write_t *wr)
{
    sl_mp_reader_t r;
    uint32_t n;
    int rc = sl_codec_items(ops, &r, &n);
    if (rc < 0 || n == 0) {
        return rc;
    }
    /* Every item is at least one byte, so n is bounded by the body. */
    if (n > ops->len) {
        return SL_EPROTO;
    }
    wr->ops = calloc(n, sizeof *wr->ops);
    if (!wr->ops) {
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        sl_store_op_t *op = &wr->ops[i];
        rc = sl_store_op_next(&r, op);
        if (rc < 0) {
            break;
        }
        wr->n_ops++;
        if (!s_user_db(op->db)) {
            rc = SL_EINVAL;
        } else if (op->key.len == 0 || op->key.len > SL_DB_MAX_KEY) {
            rc = SL_EINVAL;
        }
    }
    return rc;
}

static int s_apply_ops(s_store_t *self, const s_write_t *wr)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < wr->n_ops; i++) {
        const sl_store_op_t *op = &wr->ops[i];
        rc = op->del ? sl_db_del(self->db, (unsigned)op->db, op->key.ptr, op->key.len)
                     : sl_db_put(self->db, (unsigned)op->db, op->key.ptr, op->key.len,
                                 op->value.ptr, op->value.len);
    }
    return rc;
}

static bool s_reserved_key(const char *k, size_t len)
{
    return sl_mp_str_eq(k, len, "seq") || sl_mp_str_eq(k, len, "ts") ||
           sl_mp_str_eq(k, len, "topic");
}

/* Checks one event (topic and fields map) and counts the fields kept. */
static int s_check_event(const sl_store_event_t *ev, uint32_t *kept)
{
    size_t tlen = strlen(ev->topic);
    if (tlen == 0 || tlen > S_TOPIC_MAX) {
        return SL_EPROTO;
    }
    sl_mp_reader_t b;
    sl_mp_reader_init(&b, ev->fields.ptr, ev->fields.len);
    uint32_t pairs;
    int rc = sl_mp_read_map(&b, &pairs);
    *kept = 0;
    for (uint32_t i = 0; rc == 0 && i < pairs; i++) {
        const char *k;
        size_t klen;
        rc = sl_mp_read_str(&b, &k, &klen);
        if (rc == 0) {
            *kept += s_reserved_key(k, klen) ? 0 : 1;
            rc = sl_mp_skip(&b);
        }
    }
    return rc;
}

/* Builds {seq, ts, topic, ...fields} into self->w, dropping any seq/ts/
   topic the sender put in the fields (the store's are the truth). */
static int s_build_event(s_store_t *self, uint64_t seq, int64_t ts, const char *topic, size_t tlen,
                         const uint8_t *body, size_t blen, uint32_t kept)
{
    sl_mp_writer_t *w = &self->w;
    sl_mp_writer_reset(w);
    sl_mp_write_map(w, kept + 3);
    sl_mp_kv_uint(w, "seq", seq);
    sl_mp_kv_int(w, "ts", ts);
    sl_mp_kv_strn(w, "topic", topic, tlen);
    sl_mp_reader_t b;
    sl_mp_reader_init(&b, body, blen);
    uint32_t pairs;
    int rc = sl_mp_read_map(&b, &pairs);
    for (uint32_t i = 0; rc == 0 && i < pairs; i++) {
        const uint8_t *kraw, *vraw;
        size_t kraw_len, vraw_len;
        sl_mp_reader_t kr = b;
        const char *k;
        size_t klen;
        rc = sl_mp_read_str(&kr, &k, &klen);
        if (rc == 0) {
            rc = sl_mp_read_raw(&b, &kraw, &kraw_len);
        }
        if (rc == 0) {
            rc = sl_mp_read_raw(&b, &vraw, &vraw_len);
        }
        if (rc == 0 && !s_reserved_key(k, klen)) {
            sl_mp_write_raw(w, kraw, kraw_len);
            sl_mp_write_raw(w, vraw, vraw_len);
        }
    }
    return rc < 0 ? rc : sl_mp_writer_error(w);
}

/* Assigns the next seq to an event, stores it in the open group and keeps
   a copy to publish after the commit. */
static int s_add_event(s_store_t *self, const char *topic, size_t tlen, const uint8_t *body,
                       size_t blen, uint32_t kept, uint64_t *seq_out)
{
    if (self->n_events == self->cap_events) {
        size_t cap = self->cap_events ? self->cap_events * 2 : 64;
        s_event_t *ne = realloc(self->events, cap * sizeof *ne);
        if (!ne) {
            return SL_ENOMEM;
        }
        self->events = ne;
        self->cap_events = cap;
    }
    uint64_t seq = sl_db_next_seq(self->db);
    int64_t ts = sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(self->actor)));
    int rc = s_build_event(self, seq, ts, topic, tlen, body, blen, kept);
    if (rc < 0) {
        return rc;
    }
    s_event_t e = {.seq = seq};
    e.topic = strndup(topic, tlen);
    e.len = sl_mp_writer_len(&self->w);
    e.body = malloc(e.len);
    if (!e.topic || !e.body) {
        free(e.topic);
        free(e.body);
        return SL_ENOMEM;
    }
    memcpy(e.body, sl_mp_writer_data(&self->w), e.len);
    rc = sl_db_put_event(self->db, seq, e.body, e.len);
    if (rc < 0) {
        free(e.topic);
        free(e.body);
        return rc;
    }
    self->events[self->n_events++] = e;
    *seq_out = seq;
    return 0;
}

/* Decodes and checks the events (store_event items). */
static int s_read_events(const sl_bytes_t *events, s_write_t *wr)
{
    sl_mp_reader_t r;
    uint32_t n;
    int rc = sl_codec_items(events, &r, &n);
    if (rc < 0 || n == 0) {
        return rc;
    }
    if (n > events->len) {
        return SL_EPROTO;
    }
    wr->events = calloc(n, sizeof *wr->events);
    wr->kept = calloc(n, sizeof *wr->kept);
    if (!wr->events || !wr->kept) {
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = sl_store_event_next(&r, &wr->events[i]);
        if (rc < 0) {
            break;
        }
        wr->n_events++;
        rc = s_check_event(&wr->events[i], &wr->kept[i]);
    }
    return rc;
}

static int s_apply_events(s_store_t *self, const s_write_t *wr, uint64_t *first, uint64_t *last)
{
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i < wr->n_events; i++) {
        const sl_store_event_t *ev = &wr->events[i];
        uint64_t seq;
        rc = s_add_event(self, ev->topic, strlen(ev->topic), ev->fields.ptr, ev->fields.len,
                         wr->kept[i], &seq);
        if (rc == 0) {
            *first = *first ? *first : seq;
            *last = seq;
        }
    }
    return rc;
}

static int s_add_waiter(s_store_t *self, const sl_msg_t *msg, uint64_t first, uint64_t last)
{
    if (self->n_waiters == self->cap_waiters) {
        size_t cap = self->cap_waiters ? self->cap_waiters * 2 : 64;
        s_waiter_t *nw = realloc(self->waiters, cap * sizeof *nw);
        if (!nw) {
            return SL_ENOMEM;
        }
        self->waiters = nw;
        self->cap_waiters = cap;
    }
    s_waiter_t *wt = &self->waiters[self->n_waiters++];
    snprintf(wt->from, sizeof wt->from, "%s", msg->from);
    wt->corr = msg->corr;
    wt->first_seq = first;
    wt->last_seq = last;
    return 0;
}

static bool s_wants_reply(const sl_msg_t *msg)
{
    return (msg->flags & SL_MSG_F_REQUEST) && msg->from[0];
}

/* Refuses a message without touching the group. */
static void s_reject(s_store_t *self, const sl_msg_t *msg, int rc)
{
    s_count(&self->counters->rejected, 1);
    sl_warn("store: refused %s from %s: %s", sl_msg_type_name(msg->type),
            msg->from[0] ? msg->from : "(anonymous)", sl_err_msg(rc));
    if (s_wants_reply(msg) && msg->type == SL_MSG_STORE_WRITE) {
        s_ack(self, msg->from, msg->corr, rc, 0, 0);
    }
}

/* After a request joined the group: commit early when the group is big. */
static void s_joined(s_store_t *self)
{
    self->group_msgs++;
    if (self->group_msgs >= self->max_group || sl_db_txn_bytes(self->db) >= S_GROUP_BYTES) {
        s_flush(self);
    }
}

static void s_on_write(s_store_t *self, const sl_msg_t *msg)
{
    sl_store_write_t m = {0};
    s_write_t wr = {0};
    int rc = sl_store_write_decode(msg->body, msg->body_len, &m);
    uint64_t first = 0, last = 0;
    if (rc == 0) {
        rc = s_read_ops(&m.ops, &wr);
    }
    if (rc == 0) {
        rc = s_read_events(&m.events, &wr);
    }
    if (rc < 0) {
        s_reject(self, msg, rc);
        goto done;
    }
    rc = s_open_group(self);
    if (rc == 0) {
        rc = s_apply_ops(self, &wr);
    }
    if (rc == 0) {
        rc = s_apply_events(self, &wr, &first, &last);
    }
    if (rc == 0 && s_wants_reply(msg)) {
        rc = s_add_waiter(self, msg, first, last);
    }
    if (rc < 0) {
        /* The transaction may be poisoned: the whole group fails. */
        if (s_wants_reply(msg)) {
            s_ack(self, msg->from, msg->corr, rc, 0, 0);
        }
        if (self->open) {
            s_fail_group(self, rc, self->group_msgs + 1);
        }
        goto done;
    }
    s_joined(self);
done:
    s_write_clear(&wr);
    sl_store_write_clear(&m);
}

/* Adds an `alert` event {kind, message, subject?} to the group. */
static int s_raise_alert(s_store_t *self, const char *kind, const char *message,
                         const char *subject)
{
    sl_mp_writer_t fields;
    sl_mp_writer_init(&fields);
    sl_mp_write_map(&fields, subject ? 3 : 2);
    sl_mp_kv_str(&fields, "kind", kind);
    sl_mp_kv_str(&fields, "message", message);
    if (subject) {
        sl_mp_kv_str(&fields, "subject", subject);
    }
    int rc = sl_mp_writer_error(&fields);
    if (rc == 0) {
        rc = s_open_group(self);
    }
    uint64_t seq;
    if (rc == 0) {
        rc = s_add_event(self, "alert", 5, sl_mp_writer_data(&fields), sl_mp_writer_len(&fields),
                         subject ? 3 : 2, &seq);
    }
    sl_mp_writer_fini(&fields);
    if (rc < 0 && self->open) {
        s_fail_group(self, rc, self->group_msgs + 1);
    }
    return rc;
}

static void s_on_alert(s_store_t *self, const sl_msg_t *msg)
{
    sl_alert_t a = {0};
    int rc = sl_alert_decode(msg->body, msg->body_len, &a);
    if (rc < 0) {
        s_reject(self, msg, rc);
        return;
    }
    sl_warn("alert %s%s%s: %s", a.kind, a.subject ? " " : "", a.subject ? a.subject : "",
            a.message);
    if (s_raise_alert(self, a.kind, a.message, a.subject) == 0) {
        s_joined(self);
    }
    sl_alert_clear(&a);
}

/* ---- corruption ------------------------------------------------------------------ */

/* Printable rendering of a key for logs and alerts. */
static void s_key_text(const uint8_t *key, size_t klen, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < klen && j + 5 < cap; i++) {
        if (key[i] >= 0x20 && key[i] < 0x7f && key[i] != '\\') {
            out[j++] = (char)key[i];
        } else {
            j += (size_t)snprintf(out + j, cap - j, "\\x%02x", key[i]);
        }
    }
    out[j] = '\0';
}

/* A value failed its CRC: report it and move it out of the way, so the same
   bad bytes are not served again and the daemon keeps running. */
static void s_quarantine(s_store_t *self, unsigned db, const uint8_t *key, size_t klen)
{
    char kt[256], subject[300], message[400];
    s_key_text(key, klen, kt, sizeof kt);
    snprintf(subject, sizeof subject, "%s/%s", sl_db_name(db), kt);
    snprintf(message, sizeof message, "corrupt value in %s (CRC mismatch) moved to quarantine",
             subject);
    sl_error("store: %s", message);
    s_count(&self->counters->corrupt, 1);
    int rc = s_open_group(self);
    if (rc == 0) {
        rc = sl_db_quarantine(self->db, db, key, klen);
    }
    if (rc < 0 && rc != SL_ENOTFOUND) {
        if (self->open) {
            s_fail_group(self, rc, self->group_msgs + 1);
        }
        return;
    }
    if (s_raise_alert(self, "corrupt_value", message, subject) == 0) {
        s_joined(self);
    }
}

/* ---- reads -------------------------------------------------------------------------- */

static void s_on_get(s_store_t *self, const sl_msg_t *msg)
{
    sl_store_get_t m = {0};
    int rc = sl_store_get_decode(msg->body, msg->body_len, &m);
    sl_store_value_t v = {0};
    if (rc == 0 && (m.db >= SL_DB_COUNT || m.key.len == 0)) {
        rc = SL_EINVAL;
    }
    if (rc < 0) {
        s_count(&self->counters->rejected, 1);
    } else {
        s_flush(self); /* read-after-write */
        rc = sl_db_get(self->db, (unsigned)m.db, m.key.ptr, m.key.len, &v.value.ptr, &v.value.len);
        s_count(&self->counters->reads, 1);
    }
    v.status = rc;
    if (s_wants_reply(msg)) {
        uint8_t *buf = NULL;
        size_t len = 0;
        if (sl_store_value_encode(&v, &buf, &len) == 0) {
            s_reply_to(self, msg->from, msg->corr, SL_MSG_STORE_VALUE, buf, len);
        }
        free(buf);
    }
    if (rc == SL_ECORRUPT) {
        s_quarantine(self, (unsigned)m.db, m.key.ptr, m.key.len);
    }
    sl_store_value_clear(&v);
    sl_store_get_clear(&m);
}

typedef struct {
    sl_mp_writer_t rows; /* the store_row items, without the array header */
    uint32_t n;
    size_t bytes;
    bool full;
    uint8_t *bad[S_SCAN_QUARANTINE_MAX]; /* corrupt keys to quarantine after the scan */
    size_t bad_len[S_SCAN_QUARANTINE_MAX];
    size_t n_bad;
} s_scan_t;

static int s_scan_row(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                      int status)
{
    s_scan_t *sc = arg;
    if (status < 0) {
        if (sc->n_bad < S_SCAN_QUARANTINE_MAX) {
            sc->bad[sc->n_bad] = malloc(klen);
            if (sc->bad[sc->n_bad]) {
                memcpy(sc->bad[sc->n_bad], key, klen);
                sc->bad_len[sc->n_bad++] = klen;
            }
        }
        return 0;
    }
    if (sc->bytes >= S_SCAN_BYTES) {
        sc->full = true; /* a further row exists: the caller asks again */
        return 1;
    }
    sl_store_row_t row = {.key = {(uint8_t *)key, klen}, .value = {(uint8_t *)val, vlen}};
    sl_store_row_write(&row, &sc->rows);
    sc->n++;
    sc->bytes += klen + vlen + 16;
    return sl_mp_writer_error(&sc->rows);
}

static void s_on_scan(s_store_t *self, const sl_msg_t *msg)
{
    sl_store_scan_t m = {0};
    s_scan_t sc = {0};
    sl_mp_writer_init(&sc.rows);
    sl_store_rows_t out = {0};
    sl_mp_writer_t body;
    sl_mp_writer_init(&body);
    bool more = false;
    int rc = sl_store_scan_decode(msg->body, msg->body_len, &m);
    if (rc == 0 && (m.db >= SL_DB_COUNT || m.prefix.len > SL_DB_MAX_KEY + 1 ||
                    m.start_after.len > SL_DB_MAX_KEY + 1)) {
        rc = SL_EINVAL;
    }
    if (rc < 0) {
        s_count(&self->counters->rejected, 1);
    } else {
        uint64_t limit = m.limit ? m.limit : S_SCAN_DEFAULT;
        if (limit > self->scan_max_rows) {
            limit = self->scan_max_rows;
        }
        s_flush(self);
        rc = sl_db_scan(self->db, (unsigned)m.db, m.prefix.ptr, m.prefix.len, m.start_after.ptr,
                        m.start_after.len, (size_t)limit, s_scan_row, &sc, &more);
        s_count(&self->counters->reads, 1);
    }
    if (rc == 0) {
        sl_mp_write_array(&body, sc.n);
        sl_mp_write_raw(&body, sl_mp_writer_data(&sc.rows), sl_mp_writer_len(&sc.rows));
        rc = sl_mp_writer_error(&body);
    }
    out.status = rc;
    out.more = rc == 0 && (more || sc.full);
    if (rc == 0) {
        out.rows.ptr = (uint8_t *)sl_mp_writer_data(&body);
        out.rows.len = sl_mp_writer_len(&body);
    }
    if (s_wants_reply(msg)) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int erc = sl_store_rows_encode(&out, &buf, &len);
        if (erc < 0) {
            /* e.g. rows too big for one message: say so instead of going silent */
            sl_store_rows_t err = {.status = erc};
            free(buf);
            buf = NULL;
            erc = sl_store_rows_encode(&err, &buf, &len);
        }
        if (erc == 0) {
            s_reply_to(self, msg->from, msg->corr, SL_MSG_STORE_ROWS, buf, len);
        }
        free(buf);
    }
    for (size_t i = 0; i < sc.n_bad; i++) {
        s_quarantine(self, (unsigned)m.db, sc.bad[i], sc.bad_len[i]);
        free(sc.bad[i]);
    }
    sl_mp_writer_fini(&body);
    sl_mp_writer_fini(&sc.rows);
    sl_store_scan_clear(&m);
}

/* Answers the reads queued during the drain, after committing the open
   group (s_on_get/s_on_scan flush it). */
static void s_answer_reads(s_store_t *self)
{
    for (size_t i = 0; i < self->n_reads; i++) {
        s_read_t *r = &self->reads[i];
        r->msg.body = r->body;
        if (r->msg.type == SL_MSG_STORE_GET) {
            s_on_get(self, &r->msg);
        } else {
            s_on_scan(self, &r->msg);
        }
        free(r->body);
    }
    self->n_reads = 0;
}

static void s_on_read_timer(void *arg, uint64_t id)
{
    s_store_t *self = arg;
    self->read_timer_id = 0; /* one-shot: already gone from the heap */
    s_answer_reads(self);
}

/* Queues a read until the end of the drain; answered at once only when
   it cannot be queued (out of memory). */
static void s_defer_read(s_store_t *self, const sl_msg_t *msg)
{
    if (self->n_reads == self->cap_reads) {
        size_t cap = self->cap_reads ? self->cap_reads * 2 : 16;
        s_read_t *nr = realloc(self->reads, cap * sizeof *nr);
        if (!nr) {
            goto now;
        }
        self->reads = nr;
        self->cap_reads = cap;
    }
    uint8_t *body = msg->body_len ? malloc(msg->body_len) : NULL;
    if (msg->body_len && !body) {
        goto now;
    }
    if (!self->read_timer_id) {
        self->read_timer_id = sl_actor_timer(self->actor, 0, 0, s_on_read_timer, self);
        if (!self->read_timer_id) {
            free(body);
            goto now;
        }
    }
    if (body) {
        memcpy(body, msg->body, msg->body_len);
    }
    s_read_t *r = &self->reads[self->n_reads++];
    r->msg = *msg;
    r->msg.body = NULL;
    r->msg.priv_ = NULL;
    r->body = body;
    return;
now:
    if (msg->type == SL_MSG_STORE_GET) {
        s_on_get(self, msg);
    } else {
        s_on_scan(self, msg);
    }
}

/* ---- pruning events ------------------------------------------------------------------ */

typedef struct {
    s_store_t *self;
    int64_t now_ms;
    uint64_t over;      /* events above the cap still to go */
    char last_pipe[64]; /* ids are shorter (actors/pipeline/sl_pipeline.h) */
    bool last_gone;     /* whether last_pipe's record is gone */
} s_prune_t;

static bool s_prunable(void *arg, uint64_t seq, const uint8_t *val, size_t vlen, int status)
{
    s_prune_t *pr = arg;
    (void)seq;
    if (pr->over > 0) {
        pr->over--;
        return true;
    }
    if (status < 0) {
        return false; /* a corrupt event waits for the cap or an operator */
    }
    const char *id = NULL;
    size_t idlen = 0;
    if (sl_mp_map_get_str(val, vlen, "pipeline_id", &id, &idlen) == 0) {
        if (idlen == 0 || idlen >= sizeof(pr->last_pipe)) {
            return false;
        }
        if (strlen(pr->last_pipe) != idlen || memcmp(pr->last_pipe, id, idlen) != 0) {
            memcpy(pr->last_pipe, id, idlen);
            pr->last_pipe[idlen] = '\0';
            pr->last_gone = !sl_db_has(pr->self->db, SL_DB_PIPELINES, id, idlen);
        }
        return pr->last_gone;
    }
    int64_t ts = 0;
    return pr->self->retention_ms > 0 && sl_mp_map_get_int(val, vlen, "ts", &ts) == 0 &&
           pr->now_ms - ts >= pr->self->retention_ms;
}

static void s_arm_prune(s_store_t *self, int64_t delay_ms);

static void s_on_prune_timer(void *arg, uint64_t id)
{
    s_store_t *self = arg;
    (void)id;
    self->prune_timer = 0;
    s_flush(self); /* the prune runs in a transaction of its own */
    s_prune_t pr = {.self = self,
                    .now_ms = sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(self->actor)))};
    uint64_t count = sl_db_count(self->db, SL_DB_EVENTS);
    if (self->events_max > 0 && count > self->events_max) {
        pr.over = count - self->events_max;
    }
    size_t pruned = 0;
    int rc = sl_db_prune_events(self->db, S_PRUNE_BATCH, s_prunable, &pr, &pruned);
    if (rc < 0) {
        sl_error("store: pruning events failed, kept them: %s", sl_err_msg(rc));
    } else if (pruned > 0) {
        s_count(&self->counters->events_pruned, pruned);
        sl_debug("store: pruned %zu events", pruned);
    }
    atomic_store_explicit(&self->counters->first_seq, sl_db_first_seq(self->db),
                          memory_order_relaxed);
    s_arm_prune(self, rc == 0 && pruned == S_PRUNE_BATCH ? 0 : self->prune_every_ms);
}

static void s_arm_prune(s_store_t *self, int64_t delay_ms)
{
    if (self->retention_ms <= 0 && self->events_max == 0) {
        return;
    }
    self->prune_timer = sl_actor_timer(self->actor, delay_ms, 0, s_on_prune_timer, self);
    if (!self->prune_timer) {
        sl_error("store: cannot arm the events prune (out of timers); events are kept");
    }
}

/* ---- the actor ----------------------------------------------------------------------- */

static int s_handle(sl_actor_t *actor, void *state, const sl_msg_t *msg)
{
    s_store_t *self = state;
    switch (msg->type) {
    case SL_MSG_STORE_WRITE:
        s_on_write(self, msg);
        break;
    case SL_MSG_ALERT:
        s_on_alert(self, msg);
        break;
    case SL_MSG_STORE_GET:
    case SL_MSG_STORE_SCAN:
        s_defer_read(self, msg);
        break;
    case SL_MSG_ACTOR_EXIT:
        break;
    default:
        /* Unknown input is counted and dropped, never fatal. */
        s_count(&self->counters->rejected, 1);
        sl_debug("store: ignored %s from %s", sl_msg_type_name(msg->type), msg->from);
        break;
    }
    return 0;
}

static void s_free(s_store_t *self)
{
    if (!self) {
        return;
    }
    sl_db_close(&self->db);
    for (size_t i = 0; i < self->n_reads; i++) {
        free(self->reads[i].body);
    }
    free(self->reads);
    s_events_clear(self);
    free(self->events);
    free(self->waiters);
    free(self->publish_to);
    sl_mp_writer_fini(&self->w);
    free(self);
}

static int s_init(sl_actor_t *actor, void *args, void **state)
{
    s_args_t *a = args;
    const sl_store_config_t *cfg = a->cfg;
    int rc;
    s_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(a->err, sizeof a->err, "store: out of memory");
        return SL_ENOMEM;
    }
    self->actor = actor;
    sl_mp_writer_init(&self->w);
    self->counters = cfg->counters ? cfg->counters : &self->own_counters;
    self->max_group = cfg->max_group ? cfg->max_group : 4096;
    self->scan_max_rows = cfg->scan_max_rows ? cfg->scan_max_rows : 10000;
    self->publish_to = strdup(cfg->publish_to ? cfg->publish_to : SL_IDS_API);
    if (!self->publish_to) {
        rc = SL_ENOMEM;
        goto fail;
    }
    sl_db_config_t dbc = {.dir = cfg->data_dir ? cfg->data_dir : sl_config_builtin()->data_dir,
                          .map_size = cfg->map_size,
                          .nosync = cfg->nosync};
    rc = sl_db_open(&dbc, &self->db, a->err, sizeof a->err);
    if (rc < 0) {
        if (!a->err[0]) {
            snprintf(a->err, sizeof a->err, "cannot open data directory %s: %s", dbc.dir,
                     sl_err_msg(rc));
        }
        goto fail;
    }
    atomic_store_explicit(&self->counters->last_seq, sl_db_last_seq(self->db),
                          memory_order_relaxed);
    atomic_store_explicit(&self->counters->first_seq, sl_db_first_seq(self->db),
                          memory_order_relaxed);
    self->retention_ms = cfg->retention_ms > 0 ? cfg->retention_ms : 0;
    self->events_max = cfg->events_max;
    self->prune_every_ms = cfg->prune_every_ms > 0 ? cfg->prune_every_ms : 60000;
    s_arm_prune(self, self->prune_every_ms);
    sl_info("store: opened %s (last seq %llu%s)", dbc.dir,
            (unsigned long long)sl_db_last_seq(self->db), cfg->nosync ? ", nosync" : "");
    *state = self;
    return 0;
fail:
    s_free(self);
    return rc;
}

static void s_fini(sl_actor_t *actor, void *state)
{
    s_store_t *self = state;
    /* Whatever was received before the stop is committed and answered. */
    s_flush(self);
    s_answer_reads(self);
    s_free(self);
}

int sl_store_spawn(sl_rt_t *rt, const sl_store_config_t *cfg, sl_actor_t **out)
{
    s_last_error[0] = '\0';
    if (!rt || !out) {
        snprintf(s_last_error, sizeof s_last_error, "store: invalid arguments");
        return SL_EINVAL;
    }
    *out = NULL;
    sl_store_config_t defaults = sl_store_config_defaults();
    s_args_t args = {.cfg = cfg ? cfg : &defaults};
    sl_actor_spec_t spec = {
        .name = SL_IDS_STORE, .init = s_init, .handle = s_handle, .fini = s_fini, .args = &args};
    int rc = sl_actor_spawn(rt, &spec, out);
    if (rc < 0) {
        if (args.err[0]) {
            snprintf(s_last_error, sizeof s_last_error, "%s", args.err);
        } else {
            snprintf(s_last_error, sizeof s_last_error, "cannot start the store: %s",
                     sl_err_msg(rc));
        }
    }
    return rc;
}
