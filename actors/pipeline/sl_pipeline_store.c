/*  sl_pipeline_store.c: the common ground of a pipeline shard's files: its
    string tables, task ids, the wall clock, the store batch (ops + events
    sent as one STORE_WRITE per step) and the events.

    Runs on the shard's thread only; see sl_pipeline_int.h for the design
    notes. The state machine (sl_pipeline_fsm.c) decides, this file records;
    it calls none of the shard's other files.
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

/* ---- string tables ------------------------------------------------------- */

const char *sl_pl_intern(sl_pl_shard_t *sh, const char *s)
{
    if (!s) {
        return NULL;
    }
    const char *got = sl_map_get_str(&sh->intern, s);
    if (got) {
        return got;
    }
    char *copy = strdup(s);
    if (!copy || sl_map_put_str(&sh->intern, copy, copy) < 0) {
        free(copy);
        return NULL;
    }
    return copy;
}

void sl_pl_intern_fini(sl_pl_shard_t *sh)
{
    void *s;
    for (size_t pos = 0; sl_map_next(&sh->intern, &pos, &s);) {
        free(s);
    }
    sl_map_fini(&sh->intern);
}

void sl_pl_task_id(const sl_pl_task_t *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-t%04u", t->pipe->id, t->index);
}

sl_pl_task_t *sl_pl_find_task(sl_pl_shard_t *sh, const char *task_id)
{
    const char *dash = strstr(task_id, "-t");
    if (!dash || (size_t)(dash - task_id) >= SL_PIPELINE_ID_MAX) {
        return NULL;
    }
    char pid[SL_PIPELINE_ID_MAX];
    memcpy(pid, task_id, (size_t)(dash - task_id));
    pid[dash - task_id] = '\0';
    sl_pl_pipe_t *p = sl_map_get_str(&sh->byid, pid);
    if (!p) {
        return NULL;
    }
    const char *num = dash + 2;
    if (*num < '0' || *num > '9') {
        return NULL;
    }
    char *end;
    unsigned long idx = strtoul(num, &end, 10);
    if (*end != '\0' || idx >= p->ntasks) {
        return NULL;
    }
    return p->tasks[idx];
}

int64_t sl_pl_now(sl_pl_shard_t *sh)
{
    return sl_clock_wall_ms(sl_rt_clock(sl_actor_rt(sh->self)));
}

/* ---- the store batch ----------------------------------------------------- */

static void s_op(sl_pl_shard_t *sh, const sl_store_op_t *op)
{
    /* The item is checked before a byte of it is written: a refused one
       leaves the batch as it was. */
    int rc = sl_store_op_write(op, &sh->ops);
    if (rc < 0) {
        sh->store_errors++;
        sl_error("%s: store op on %.*s refused: %s", sh->name, (int)op->key.len,
                 (const char *)op->key.ptr, sl_err_name(rc));
        return;
    }
    sh->nops++;
}

void sl_pl_op_put(sl_pl_shard_t *sh, int db, const char *key, const void *val, size_t len)
{
    s_op(sh, &(sl_store_op_t){.db = (uint64_t)db,
                              .key = {(uint8_t *)key, strlen(key)},
                              .value = {(uint8_t *)val, len}});
}

void sl_pl_op_del(sl_pl_shard_t *sh, int db, const char *key)
{
    s_op(sh,
         &(sl_store_op_t){.db = (uint64_t)db, .key = {(uint8_t *)key, strlen(key)}, .del = true});
}

/* An event is its fields written into w (s_event_begin: the map header),
   then appended to the batch as one store_event item (s_event_end, which
   finis w). */
static sl_mp_writer_t *s_event_begin(sl_mp_writer_t *w, uint32_t nfields)
{
    sl_mp_writer_init(w);
    sl_mp_write_map(w, nfields);
    return w;
}

static void s_event_end(sl_pl_shard_t *sh, const char *topic, sl_mp_writer_t *w)
{
    sl_store_event_t ev = {.topic = (char *)topic,
                           .fields = {(uint8_t *)sl_mp_writer_data(w), sl_mp_writer_len(w)}};
    int rc = sl_mp_writer_error(w);
    if (rc == 0) {
        rc = sl_store_event_write(&ev, &sh->events);
    }
    if (rc == 0) {
        sh->nevents++;
    } else {
        sh->store_errors++;
        sl_error("%s: %s event refused: %s", sh->name, topic, sl_err_name(rc));
    }
    sl_mp_writer_fini(w);
}

static int s_wrap(sl_mp_writer_t *out, uint32_t n, const sl_mp_writer_t *items)
{
    sl_mp_writer_init(out);
    sl_mp_write_array(out, n);
    sl_mp_write_raw(out, sl_mp_writer_data(items), sl_mp_writer_len(items));
    return sl_mp_writer_error(out);
}

int sl_pl_flush(sl_pl_shard_t *sh, sl_reply_fn *fn, void *arg)
{
    if (sh->nops == 0 && sh->nevents == 0 && !fn) {
        return 0;
    }
    sl_mp_writer_t ops, evs;
    int rc = sl_mp_writer_error(&sh->ops);
    if (rc == 0) {
        rc = sl_mp_writer_error(&sh->events);
    }
    s_wrap(&ops, sh->nops, &sh->ops);
    s_wrap(&evs, sh->nevents, &sh->events);
    if (rc == 0) {
        rc = sl_mp_writer_error(&ops) ? sl_mp_writer_error(&ops) : sl_mp_writer_error(&evs);
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rc == 0) {
        sl_store_write_t m = {.ops = {sh->nops ? (uint8_t *)sl_mp_writer_data(&ops) : NULL,
                                      sh->nops ? sl_mp_writer_len(&ops) : 0},
                              .events = {sh->nevents ? (uint8_t *)sl_mp_writer_data(&evs) : NULL,
                                         sh->nevents ? sl_mp_writer_len(&evs) : 0}};
        rc = sl_store_write_encode(&m, &buf, &len);
    }
    if (rc == 0) {
        if (fn) {
            rc = sl_actor_request(sh->self, SL_IDS_STORE, SL_MSG_STORE_WRITE, buf, len,
                                  sh->cfg.store_timeout_ms, fn, arg);
        } else {
            rc = sl_actor_send(sh->self, SL_IDS_STORE, SL_MSG_STORE_WRITE, buf, len);
        }
    }
    if (rc < 0) {
        sh->store_errors++;
        sl_error("%s: store write of %u ops, %u events failed: %s", sh->name, sh->nops, sh->nevents,
                 sl_err_name(rc));
    }
    free(buf);
    sl_mp_writer_fini(&ops);
    sl_mp_writer_fini(&evs);
    /* Keep the buffers for the next step, unless a big one (recovery, a
       large start) would stay allocated for nothing. */
    if (sl_mp_writer_len(&sh->ops) + sl_mp_writer_len(&sh->events) > (256u << 10)) {
        sl_mp_writer_fini(&sh->ops);
        sl_mp_writer_fini(&sh->events);
    }
    sl_mp_writer_reset(&sh->ops);
    sl_mp_writer_reset(&sh->events);
    sh->nops = 0;
    sh->nevents = 0;
    return rc;
}

/* ---- events -------------------------------------------------------------- */

void sl_pl_ev_pipe_status(sl_pl_pipe_t *p)
{
    sl_mp_writer_t fw, *w = s_event_begin(&fw, p->error ? 4 : 3);
    sl_mp_kv_str(w, "pipeline_id", p->id);
    sl_mp_kv_str(w, "status", sl_pstatus_name(p->status));
    sl_mp_kv_str(w, "stage", sl_stage_name(p->stage));
    if (p->error) {
        sl_mp_kv_str(w, "error", p->error);
    }
    s_event_end(p->sh, "pipeline.status", w);
}

void sl_pl_ev_pipe_stage(sl_pl_pipe_t *p)
{
    sl_mp_writer_t fw, *w = s_event_begin(&fw, 2);
    sl_mp_kv_str(w, "pipeline_id", p->id);
    sl_mp_kv_str(w, "stage", sl_stage_name(p->stage));
    s_event_end(p->sh, "pipeline.stage", w);
}

void sl_pl_ev_task_status(sl_pl_task_t *t)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_mp_writer_t fw, *w = s_event_begin(&fw, (t->error ? 6 : 5) + (t->detail.code ? 1 : 0));
    sl_mp_kv_str(w, "pipeline_id", t->pipe->id);
    sl_mp_kv_str(w, "task_id", id);
    sl_mp_kv_str(w, "status", sl_tstatus_name(t->status));
    sl_mp_kv_uint(w, "attempt", t->attempts);
    sl_mp_kv_str(w, "service", sl_service_name(t->service));
    if (t->error) {
        sl_mp_kv_str(w, "error", t->error);
    }
    if (t->detail.code) {
        sl_pl_view_detail(w, &t->detail);
    }
    s_event_end(t->pipe->sh, "task.status", w);
}

void sl_pl_ev_task_progress(sl_pl_task_t *t)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_mp_writer_t fw, *w = s_event_begin(&fw, 6);
    sl_mp_kv_str(w, "pipeline_id", t->pipe->id);
    sl_mp_kv_str(w, "task_id", id);
    sl_mp_kv_uint(w, "attempt", t->attempts);
    sl_mp_kv_str(w, "stage", t->progress_stage);
    if (t->progress_pct >= 0) {
        sl_mp_kv_int(w, "pct", t->progress_pct);
    } else {
        sl_mp_kv_nil(w, "pct"); /* unknown: null, as in pipeline.get */
    }
    sl_mp_kv_str(w, "message", t->progress_message);
    s_event_end(t->pipe->sh, "task.progress", w);
}

void sl_pl_ev_alert(sl_pl_shard_t *sh, const char *kind, const char *message, const char *subject)
{
    sl_mp_writer_t fw, *w = s_event_begin(&fw, subject ? 3 : 2);
    sl_mp_kv_str(w, "kind", kind);
    sl_mp_kv_str(w, "message", message);
    if (subject) {
        sl_mp_kv_str(w, "subject", subject);
    }
    s_event_end(sh, "alert", w);
}
