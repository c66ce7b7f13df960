/*  sl_pipeline_fsm.c: the state machine of pipelines and tasks in a shard.

    Runs on the shard's thread only (called by the actor and the API ops,
    and from the timers it arms); records what it decides through
    sl_pipeline_rec.c and sl_pipeline_store.c, never calling back up. Task
    states move pending -> queued -> running -> (retry_wait -> queued)* ->
    succeeded | failed | cancelled | dead, and every move goes through
    s_set_status, which keeps the per-status counts, writes the task record
    and emits the task.status event. A pipeline is finalized by
    sl_pl_pipe_finalize, which applies sl_pipeline_final_status, the moment
    its last task is terminal (s_check_finish) or a deadline ends it. See
    sl_pipeline_int.h for the design notes.
*/
#define _GNU_SOURCE /* vasprintf */
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_outcome.h"
#include "proto/sl_wire.h"
#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

static void s_progressed(sl_pl_pipe_t *p);
static void s_dispatch(sl_pl_task_t *t);

/* ---- small helpers ------------------------------------------------------- */

static char *s_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *s_strdupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    if (vasprintf(&out, fmt, ap) < 0) {
        out = NULL;
    }
    va_end(ap);
    return out;
}

/* src may be *dst itself (copied before the old one is freed). */
static void s_set_str(char **dst, const char *src)
{
    char *copy = src ? strdup(src) : NULL;
    free(*dst);
    *dst = copy;
}

static int64_t s_scaled(int64_t ms, uint32_t permille)
{
    return ms > 0 ? ms * (int64_t)permille / 1000 : 0;
}

/* The timeouts a task runs under: its pipeline's, or for a task of the
   escalation profile, that profile's. */
static const sl_plan_timeouts_t *s_timeouts(const sl_pl_task_t *t)
{
    const sl_plan_t *plan = t->pipe->plan;
    return t->flags & SL_PL_T_ESCALATED ? &plan->esc_timeouts : &plan->timeouts;
}

static bool s_live_attempt(const sl_pl_task_t *t)
{
    return t->status == SL_TS_QUEUED || t->status == SL_TS_RUNNING;
}

/* ---- timers -------------------------------------------------------------- */

static void s_cancel_timer(sl_pl_shard_t *sh, uint64_t *id)
{
    if (*id) {
        sl_actor_timer_cancel(sh->self, *id);
        *id = 0;
    }
}

static int64_t s_delay_to(sl_pl_shard_t *sh, int64_t when_ms)
{
    int64_t d = when_ms - sl_pl_now(sh);
    return d > 0 ? d : 0;
}

static void s_on_task_deadline(void *arg, uint64_t id);
static void s_on_retry(void *arg, uint64_t id);
static void s_on_stage_deadline(void *arg, uint64_t id);
static void s_on_pipeline_deadline(void *arg, uint64_t id);

static void s_arm_task_deadline(sl_pl_task_t *t)
{
    sl_pl_shard_t *sh = t->pipe->sh;
    if (t->deadline_ms > 0 && !t->deadline_timer) {
        t->deadline_timer =
            sl_actor_timer(sh->self, s_delay_to(sh, t->deadline_ms), 0, s_on_task_deadline, t);
    }
}

static void s_arm_pipe_timers(sl_pl_pipe_t *p)
{
    sl_pl_shard_t *sh = p->sh;
    s_cancel_timer(sh, &p->stage_timer);
    s_cancel_timer(sh, &p->pipeline_timer);
    if (p->stage_deadline_ms > 0) {
        p->stage_timer = sl_actor_timer(sh->self, s_delay_to(sh, p->stage_deadline_ms), 0,
                                        s_on_stage_deadline, p);
    }
    if (p->pipeline_deadline_ms > 0) {
        p->pipeline_timer = sl_actor_timer(sh->self, s_delay_to(sh, p->pipeline_deadline_ms), 0,
                                           s_on_pipeline_deadline, p);
    }
}

/* ---- status changes ------------------------------------------------------ */

static void s_set_status(sl_pl_task_t *t, int st)
{
    sl_pl_pipe_t *p = t->pipe;
    bool was_term = sl_tstatus_terminal(t->status), is_term = sl_tstatus_terminal(st);
    p->cnt[t->status]--;
    p->cnt[st]++;
    if (t->kind == SL_TK_GENERATION && was_term != is_term) {
        p->gen_terminal += is_term ? 1 : -1;
    }
    if (is_term) {
        /* A finished task has no next dispatch to spare; a DLQ retry starts
           its fresh budget after the last number used. */
        t->flags &= (uint8_t)~SL_PL_T_REDISPATCH;
    }
    t->status = (uint8_t)st;
    t->updated_ms = sl_pl_now(p->sh);
    p->last_change_ms = t->updated_ms;
    sl_pl_save_task(t);
    sl_pl_ev_task_status(t);
}

static void s_release_slot(sl_pl_task_t *t)
{
    if (sl_pl_task_holds_slot(t) && t->pipe->live[t->kind] > 0) {
        t->pipe->live[t->kind]--;
    }
}

static int s_pq_push(sl_pl_pipe_t *p, int kind, uint32_t idx)
{
    if (p->pq_head[kind] + p->pq_len[kind] == p->pq_cap[kind]) {
        if (p->pq_head[kind] > 0) {
            memmove(p->pq[kind], p->pq[kind] + p->pq_head[kind],
                    p->pq_len[kind] * sizeof(uint32_t));
            p->pq_head[kind] = 0;
        } else {
            uint32_t ncap = p->pq_cap[kind] ? p->pq_cap[kind] * 2 : 16;
            uint32_t *n = realloc(p->pq[kind], ncap * sizeof(uint32_t));
            if (!n) {
                return SL_ENOMEM;
            }
            p->pq[kind] = n;
            p->pq_cap[kind] = ncap;
        }
    }
    p->pq[kind][p->pq_head[kind] + p->pq_len[kind]++] = idx;
    return 0;
}

/* The attempt in flight (the newest history entry). */
static sl_attempt_rec_t *s_cur_attempt(sl_pl_task_t *t)
{
    return t->nhist ? &t->hist[t->nhist - 1] : NULL;
}

/* Forgets the error_detail and the partial result of the last attempt. */
static void s_forget(sl_pl_task_t *t)
{
    sl_explain_clear(&t->detail);
    free(t->partial);
    t->partial = NULL;
    t->partial_len = 0;
}

/* What set t's timeout `which` (task, stage, pipeline, attempt, progress,
   queue): the request's timeouts.<which> when it has one, else the profile's
   profiles/<name>/<which>_timeout_s when the task's profile set it (attempt,
   progress, task), else ep_key (the endpoint's services/<name>/... key) or
   the configuration's key. Written into buf. */
static const char *s_timeout_key(const sl_pl_task_t *t, const char *which, const char *ep_key,
                                 char *buf, size_t cap)
{
    const sl_pl_pipe_t *p = t->pipe;
    sl_mp_reader_t tm, v;
    if (p->request && sl_mp_map_find(p->request, p->request_len, "timeouts", &tm) == 0 &&
        sl_mp_reader_find(&tm, which, &v) == 0) {
        snprintf(buf, cap, "timeouts.%s", which);
        return buf;
    }
    const sl_plan_timeouts_t *mine = s_timeouts(t), *dflt = &p->sh->cfg.defaults.timeouts;
    const char *profile = t->flags & SL_PL_T_ESCALATED ? p->plan->escalate : p->plan->profile;
    int64_t m = -1, d = -1;
    if (strcmp(which, "attempt") == 0) {
        m = mine->attempt_ms, d = dflt->attempt_ms;
    } else if (strcmp(which, "progress") == 0) {
        m = mine->progress_ms, d = dflt->progress_ms;
    } else if (strcmp(which, "task") == 0) {
        m = mine->task_ms, d = dflt->task_ms;
    }
    if (profile && m > 0 && m != d) {
        snprintf(buf, cap, "profiles/%s/%s_timeout_s", profile, which);
    } else if (ep_key && strncmp(ep_key, "timeouts.", 9) != 0) {
        snprintf(buf, cap, "%s", ep_key);
    } else if (!strcmp(which, "task") || !strcmp(which, "stage") || !strcmp(which, "pipeline")) {
        snprintf(buf, cap, "pipeline/%s_timeout_s", which);
    } else {
        snprintf(buf, cap, "services/%s/%s_timeout_s", sl_service_name(t->service), which);
    }
    return buf;
}

/* Records a timeout's error_detail on the task (README "Timeouts"): which
   timeout (code), what set it (key) and its value, what the analyzer last
   reported (the attempt a timed out, or the task's last progress). */
static void s_explain(sl_pl_task_t *t, const char *code, const char *key, int64_t value_ms,
                      const sl_attempt_rec_t *a)
{
    sl_explain_in_t in = {.code = code,
                          .service = sl_service_name(t->service),
                          .attempt = a ? a->attempt : 0,
                          .key = key,
                          .value_ms = value_ms,
                          .last_stage = a ? a->last_stage : t->progress_stage,
                          .last_pct = a ? a->last_pct : t->progress_pct,
                          .last_message = a ? a->last_message : t->progress_message};
    sl_explain_clear(&t->detail);
    (void)sl_explain_timeout(&in, &t->detail);
}

/* Keeps what the attempt reported before it ended without a result: under
   <task>-aNN-p and <task>-p in the results db (result.get answers it with
   partial: true when no frame is stored). */
static void s_keep_partial(sl_pl_task_t *t, sl_attempt_rec_t *a)
{
    if (!t->partial || !a) {
        return;
    }
    sl_pl_shard_t *sh = t->pipe->sh;
    char id[SL_TASK_ID_MAX], key[SL_TASK_ID_MAX + 12];
    sl_pl_task_id(t, id, sizeof(id));
    if (sl_attempt_key(key, sizeof(key) - 2, id, a->attempt) == 0) {
        strcat(key, "-p");
        sl_pl_op_put(sh, SL_IDS_DB_RESULTS, key, t->partial, t->partial_len);
    }
    snprintf(key, sizeof(key), "%s-p", id);
    sl_pl_op_put(sh, SL_IDS_DB_RESULTS, key, t->partial, t->partial_len);
    a->partial = true;
    free(t->partial);
    t->partial = NULL;
    t->partial_len = 0;
}

static void s_send_cancel(sl_pl_task_t *t)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_attempt_cancel_t m = {.task_id = id, .attempt = t->attempts};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sl_attempt_cancel_encode(&m, &buf, &len) == 0) {
        char to[SL_NAME_MAX];
        sl_ids_endpoint_mailbox(to, sizeof(to), sl_service_name(t->service));
        sl_actor_send(t->pipe->sh->self, to, SL_MSG_ATTEMPT_CANCEL, buf, len);
    }
    free(buf);
}

/* Ends the live attempt (if any) from our side: tells the endpoint and
   closes the history entry. */
static void s_abort_attempt(sl_pl_task_t *t, int outcome, const char *why)
{
    if (!s_live_attempt(t)) {
        return;
    }
    s_send_cancel(t);
    sl_attempt_rec_t *a = s_cur_attempt(t);
    if (a && a->outcome < 0) {
        a->ended_ms = sl_pl_now(t->pipe->sh);
        a->outcome = outcome;
        s_set_str(&a->error, why);
        s_keep_partial(t, a);
        sl_pl_save_attempt(t);
    }
}

/* Moves a task to a terminal status from our side (cancel, deadline). */
static void s_stop_task(sl_pl_task_t *t, int status, const char *why)
{
    sl_pl_shard_t *sh = t->pipe->sh;
    s_abort_attempt(t, SL_OUT_CANCELLED, why);
    s_release_slot(t);
    s_cancel_timer(sh, &t->deadline_timer);
    s_cancel_timer(sh, &t->retry_timer);
    s_set_str(&t->error, why);
    s_set_status(t, status);
}

static void s_park(sl_pl_task_t *t, const char *why)
{
    sl_pl_shard_t *sh = t->pipe->sh;
    s_release_slot(t);
    s_cancel_timer(sh, &t->deadline_timer);
    s_cancel_timer(sh, &t->retry_timer);
    s_set_str(&t->error, why);
    t->dlq_returns++;
    t->flags |= SL_PL_T_IN_DLQ;
    s_set_status(t, SL_TS_DEAD);

    sl_pl_save_dlq(t, sl_pl_now(sh));

    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    if (sh->cfg.dlq_alert_returns && t->dlq_returns >= sh->cfg.dlq_alert_returns) {
        char *msg = s_strdupf("task %s returned to the DLQ %u times (last: %s); it stays parked",
                              id, t->dlq_returns, why ? why : "?");
        sl_pl_ev_alert(sh, "dlq_third_strike", msg ? msg : "task returned to the DLQ again", id);
        sl_warn("%s: %s", sh->name, msg ? msg : id);
        free(msg);
    }
}

/* ---- tasks --------------------------------------------------------------- */

sl_pl_task_t *sl_pl_task_add(sl_pl_pipe_t *p, int kind, int service, const char *model,
                             const char *tmpl, int64_t app_number)
{
    sl_pl_shard_t *sh = p->sh;
    sl_pl_task_t *t = sl_pl_task_new(p);
    if (!t) {
        return NULL;
    }
    t->index = p->ntasks;
    t->kind = (uint8_t)kind;
    t->service = (uint8_t)service;
    t->status = SL_TS_PENDING;
    t->model = sl_pl_intern(sh, model);
    t->tmpl = sl_pl_intern(sh, tmpl);
    t->app_number = (int32_t)app_number;
    t->issues = -1;
    t->created_ms = t->updated_ms = sl_pl_now(sh);
    sl_pl_task_link(p, t);
    if (s_pq_push(p, kind, t->index) < 0) {
        sl_error("%s: out of memory queueing a task of %s", sh->name, p->id);
    }
    sl_pl_save_task(t);
    sl_pl_ev_task_status(t);
    return t;
}

void sl_pl_task_free(sl_pl_task_t *t)
{
    if (!t) {
        return;
    }
    sl_pl_shard_t *sh = t->pipe->sh;
    s_cancel_timer(sh, &t->deadline_timer);
    s_cancel_timer(sh, &t->retry_timer);
    free(t->progress_message);
    free(t->error);
    free(t->warning);
    free(t->resume_from);
    s_forget(t);
    free(t->exclude);
    for (uint16_t i = 0; i < t->nhist; i++) {
        sl_attempt_rec_clear(&t->hist[i]);
    }
    free(t->hist);
    free(t);
}

static void s_add_exclude(sl_pl_task_t *t, const char *replica)
{
    if (!replica || !replica[0] || t->nexclude >= SL_REC_MAX_EXCLUDE) {
        return;
    }
    const char *r = sl_pl_intern(t->pipe->sh, replica);
    if (!r) {
        return;
    }
    for (uint16_t i = 0; i < t->nexclude; i++) {
        if (t->exclude[i] == r) {
            return;
        }
    }
    const char **n = realloc(t->exclude, (t->nexclude + 1u) * sizeof(*n));
    if (!n) {
        return;
    }
    t->exclude = n;
    t->exclude[t->nexclude++] = r;
}

/* Opens the history entry of the attempt being dispatched; an interrupted
   attempt re-dispatched with the same number reuses its entry. */
static sl_attempt_rec_t *s_open_attempt(sl_pl_task_t *t)
{
    sl_attempt_rec_t *a = s_cur_attempt(t);
    if (!a || a->attempt != t->attempts) {
        if (t->nhist >= SL_REC_MAX_HISTORY) {
            /* Forget the oldest entry (and its stored frame): a task retried
               for ever must not grow without bound. */
            char id[SL_TASK_ID_MAX], key[SL_TASK_ID_MAX + 12];
            sl_pl_task_id(t, id, sizeof(id));
            if (sl_attempt_key(key, sizeof(key) - 2, id, t->hist[0].attempt) == 0) {
                sl_pl_op_del(t->pipe->sh, SL_IDS_DB_RESULTS, key);
                if (t->hist[0].partial) {
                    strcat(key, "-p");
                    sl_pl_op_del(t->pipe->sh, SL_IDS_DB_RESULTS, key);
                }
            }
            sl_attempt_rec_clear(&t->hist[0]);
            memmove(t->hist, t->hist + 1, (t->nhist - 1u) * sizeof(*t->hist));
            t->nhist--;
        }
        sl_attempt_rec_t *n = realloc(t->hist, (t->nhist + 1u) * sizeof(*n));
        if (!n) {
            return NULL;
        }
        t->hist = n;
        a = &t->hist[t->nhist++];
        memset(a, 0, sizeof(*a));
    } else {
        sl_attempt_rec_t keep = *a;
        keep.task_id = NULL;
        sl_attempt_rec_clear(&keep);
        memset(a, 0, sizeof(*a));
    }
    a->attempt = t->attempts;
    a->started_ms = sl_pl_now(t->pipe->sh);
    a->outcome = -1;
    a->last_pct = -1;
    return a;
}

static void s_attempt_ended(sl_pl_task_t *t, const sl_attempt_result_t *r);

/* The app's target URLs for an analysis task: the entry's own templates,
   else the plan's, expanded for its model, app and ports. */
static void s_target_urls(const sl_pl_task_t *t, sl_strs_t *urls)
{
    const sl_plan_t *plan = t->pipe->plan;
    const sl_plan_app_t *app = sl_plan_app_find(plan, t->model, t->app_number);
    const sl_strs_t *tmpls = app && app->target_urls.n ? &app->target_urls : &plan->target_urls;
    for (size_t i = 0; i < tmpls->n; i++) {
        char *u = sl_plan_expand_url(tmpls->v[i], t->model ? t->model : "", t->app_number,
                                     app ? app->backend_port : 0, app ? app->frontend_port : 0);
        if (u) {
            sl_strs_push(urls, u);
            free(u);
        }
    }
}

static void s_dispatch(sl_pl_task_t *t)
{
    sl_pl_pipe_t *p = t->pipe;
    sl_pl_shard_t *sh = p->sh;
    const sl_plan_t *plan = p->plan;
    if (!(t->flags & SL_PL_T_REDISPATCH)) {
        t->attempts++;
    }
    t->flags &= (uint8_t)~SL_PL_T_REDISPATCH;
    const sl_plan_timeouts_t *tmo = s_timeouts(t);
    /* One clock reading for the attempt's start and the task's deadline,
       so deadline_at - started_at is exactly the task timeout. */
    const sl_attempt_rec_t *a = s_open_attempt(t);
    if (t->deadline_ms == 0 && tmo->task_ms > 0) {
        t->deadline_ms =
            (a ? a->started_ms : sl_pl_now(sh)) + s_scaled(tmo->task_ms, t->timeout_permille);
    }
    s_arm_task_deadline(t);
    t->retry_at_ms = 0;
    /* The last attempt's error stays in its history; the new attempt has
       none, so its task.status events and pipeline.get carry none. */
    s_set_str(&t->error, NULL);
    s_forget(t);
    s_set_status(t, SL_TS_QUEUED);
    sl_pl_save_attempt(t);

    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    sl_attempt_start_t m = {0};
    m.task_id = id;
    m.pipeline_id = p->id;
    m.attempt = t->attempts;
    m.op = (char *)sl_service_op(t->service);
    m.model = (char *)t->model;
    sl_strs_t urls = {0};
    if (t->kind == SL_TK_GENERATION) {
        m.template_slug = (char *)t->tmpl;
    } else {
        /* what the analyzer needs about the app: its template, its URLs
           (the entry's own templates, else the plan's) and ports */
        const sl_plan_app_t *app = sl_plan_app_find(plan, t->model, t->app_number);
        m.app_number = t->app_number;
        m.template_slug = (char *)t->tmpl;
        m.tools =
            t->flags & SL_PL_T_ESCALATED ? plan->esc_tools[t->service] : plan->tools[t->service];
        m.options = plan->options[t->service];
        if (app) {
            m.backend_port = app->backend_port;
            m.frontend_port = app->frontend_port;
        }
        if (sl_service_needs_targets(t->service)) {
            s_target_urls(t, &urls);
            m.target_urls = urls;
        }
    }
    m.exclude.v = (char **)t->exclude;
    m.exclude.n = t->nexclude;
    m.attempt_timeout_ms = s_scaled(tmo->attempt_ms, t->timeout_permille);
    m.progress_timeout_ms = s_scaled(tmo->progress_ms, t->timeout_permille);
    m.queue_timeout_ms = s_scaled(tmo->queue_ms, t->timeout_permille);
    m.resume_from = t->resume_from; /* where any earlier attempt got to (mux only) */
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = sl_attempt_start_encode(&m, &buf, &len);
    sl_strs_clear(&urls);
    if (rc == 0) {
        char to[SL_NAME_MAX];
        sl_ids_endpoint_mailbox(to, sizeof(to), sl_service_name(t->service));
        rc = sl_actor_send(sh->self, to, SL_MSG_ATTEMPT_START, buf, len);
    }
    free(buf);
    if (rc < 0) {
        /* No endpoint took it: the attempt ends here, like a rejection. */
        char why[96];
        snprintf(why, sizeof(why), SL_IDS_ENDPOINT_PREFIX "%s: %s", sl_service_name(t->service),
                 sl_err_msg(rc));
        s_attempt_ended(t, &(sl_attempt_result_t){.outcome = SL_OUT_REJECTED, .error = why});
    }
}

static void s_create_analysis(sl_pl_task_t *gen)
{
    sl_pl_pipe_t *p = gen->pipe;
    if (!p->plan || !p->plan->analysis) {
        return;
    }
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        if (p->plan->services[s]) {
            sl_pl_task_add(p, SL_TK_ANALYSIS, s, gen->model, gen->tmpl, gen->app_number);
        }
    }
    sl_pl_save_pipe(p);
}

/* ---- escalation (README, "Scan profiles") --------------------------------- */

/* The issues a result frame reports (sl_wire_result_issues), -1 none. */
static int32_t s_result_issues(const uint8_t *buf, size_t len)
{
    sl_wire_frame_t f;
    int32_t n = -1;
    if (buf && sl_wire_frame_parse(&f, buf, len) == 0) {
        int64_t v = sl_wire_result_issues(&f);
        n = v < 0 ? -1 : v > INT32_MAX ? INT32_MAX : (int32_t)v;
    }
    sl_wire_frame_clear(&f);
    return n;
}

/* o is one of the first analyses of t's app. */
static bool s_same_app(const sl_pl_task_t *o, const sl_pl_task_t *t)
{
    return o && o->kind == SL_TK_ANALYSIS && !(o->flags & SL_PL_T_ESCALATED) &&
           o->model == t->model && o->tmpl == t->tmpl && o->app_number == t->app_number;
}

/* The escalation rule for t's app, once every first analysis of the app is
   terminal: none cancelled, and one failed or dead, or their issues sum
   above the threshold, adds one task per analyzer of the escalation
   profile. Decided once per app (marked on its first task, in the same
   write as the new tasks, so a restart neither loses nor repeats it). */
static void s_escalate(sl_pl_task_t *t)
{
    sl_pl_pipe_t *p = t->pipe;
    const sl_plan_t *plan = p->plan;
    if (!plan || !plan->escalate || t->kind != SL_TK_ANALYSIS || (t->flags & SL_PL_T_ESCALATED) ||
        sl_pstatus_terminal(p->status)) {
        return;
    }
    /* An app's first analyses were created together, one per analyzer. */
    uint32_t n = sl_plan_analyzers(plan), lo = t->index, hi = t->index;
    while (lo > 0 && hi - lo + 1 < n && s_same_app(p->tasks[lo - 1], t)) {
        lo--;
    }
    while (hi + 1 < p->ntasks && hi - lo + 1 < n && s_same_app(p->tasks[hi + 1], t)) {
        hi++;
    }
    sl_pl_task_t *first = p->tasks[lo];
    if (first->flags & SL_PL_T_ESC_DECIDED) {
        return;
    }
    int64_t issues = 0;
    bool failed = false, cancelled = false;
    for (uint32_t i = lo; i <= hi; i++) {
        const sl_pl_task_t *o = p->tasks[i];
        if (!sl_tstatus_terminal(o->status)) {
            return;
        }
        failed |= o->status == SL_TS_FAILED || o->status == SL_TS_DEAD;
        cancelled |= o->status == SL_TS_CANCELLED;
        issues += o->issues > 0 ? o->issues : 0;
    }
    first->flags |= SL_PL_T_ESC_DECIDED;
    sl_pl_save_task(first);
    if (cancelled || (!failed && issues <= plan->escalate_threshold)) {
        return;
    }
    sl_info("%s: %s: %s app %d %s (%lld issues): escalating to %s", p->sh->name, p->id,
            t->model ? t->model : "?", (int)t->app_number, failed ? "failed" : "found issues",
            (long long)issues, plan->escalate);
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        if (!plan->esc_services[s]) {
            continue;
        }
        sl_pl_task_t *e = sl_pl_task_add(p, SL_TK_ANALYSIS, s, t->model, t->tmpl, t->app_number);
        if (e) {
            e->flags |= SL_PL_T_ESCALATED;
            sl_pl_save_task(e);
        }
    }
    sl_pl_save_pipe(p);
}

/* The end of t's live attempt as r reports it: the endpoint's
   ATTEMPT_RESULT, or one we make for a dispatch no endpoint took. task_id
   and attempt are not read (the caller matched them); last_pct counts only
   with a last_stage or last_message beside it. */
/* The task's warning: the succeeded attempt's warnings joined with "; "
   (NULL when it had none), cut to a stored string's limit. */
static void s_set_warning(sl_pl_task_t *t, const sl_strs_t *warnings)
{
    free(t->warning);
    t->warning = NULL;
    size_t len = 0;
    for (size_t i = 0; i < warnings->n; i++) {
        len += strlen(warnings->v[i]) + 2;
    }
    if (len == 0) {
        return;
    }
    if (len > SL_REC_MAX_STR) {
        len = SL_REC_MAX_STR;
    }
    char *w = malloc(len);
    if (!w) {
        return;
    }
    size_t off = 0;
    for (size_t i = 0; i < warnings->n && off + 1 < len; i++) {
        int n = snprintf(w + off, len - off, "%s%s", i ? "; " : "", warnings->v[i]);
        off += n > 0 ? (size_t)n : 0;
    }
    t->warning = w;
}

/* Attempts of this budget (since the last DLQ retry) the app's targets
   did not answer, the one ending now included. */
static uint32_t s_unreachable_count(const sl_pl_task_t *t)
{
    uint32_t n = 0;
    for (uint16_t i = 0; i < t->nhist; i++) {
        n += t->hist[i].attempt > t->attempt_base &&
             t->hist[i].outcome == SL_OUT_TARGETS_UNREACHABLE;
    }
    return n;
}

/* targets_unreachable is a fact about the app (not started yet, or wrong
   URLs): another replica cannot reach it either, so no replica is
   excluded, none is retried at once and max_attempts is not spent. The
   task waits retry.unreachable_ms (the app may be starting) up to
   unreachable_retries times, then fails naming the URLs and what to do.
   Takes why (owned). */
static void s_app_unreachable(sl_pl_task_t *t, char *why, int64_t now)
{
    sl_pl_pipe_t *p = t->pipe;
    sl_pl_shard_t *sh = p->sh;
    const sl_retry_policy_t *rp = &p->plan->retry;
    uint32_t n = s_unreachable_count(t);
    free(t->error);
    t->error = NULL;
    if (n <= rp->unreachable_retries) {
        t->error = why;
        p->live[t->kind]++;
        t->retry_at_ms = now + rp->unreachable_ms;
        t->retry_timer = sl_actor_timer(sh->self, rp->unreachable_ms, 0, s_on_retry, t);
        s_set_status(t, SL_TS_RETRY_WAIT);
        return;
    }
    sl_strs_t urls = {0};
    s_target_urls(t, &urls);
    char list[1024] = "";
    size_t off = 0;
    for (size_t i = 0; i < urls.n && off < sizeof(list); i++) {
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", urls.v[i]);
    }
    sl_strs_clear(&urls);
    t->error = s_strdupf("targets_unreachable: the app did not answer at %s in %u attempts %.3g s "
                         "apart; start the app, or check its target_urls (last: %s)",
                         list[0] ? list : "(no target_urls given: the analyzer's own guess)", n,
                         (double)rp->unreachable_ms / 1000.0, why ? why : "?");
    free(why);
    s_cancel_timer(sh, &t->deadline_timer);
    s_set_status(t, SL_TS_FAILED);
}

static void s_attempt_ended(sl_pl_task_t *t, const sl_attempt_result_t *r)
{
    int outcome = (int)r->outcome;
    const char *replica = r->replica, *error = r->error;
    const uint8_t *result = r->result.ptr;
    size_t result_len = r->result.len;
    int64_t app_number = r->app_number;
    const char *last_stage = r->last_stage, *last_message = r->last_message;
    const char *last_checkpoint = r->last_checkpoint;
    int64_t last_pct = last_stage || last_message ? r->last_pct : -1;
    sl_pl_pipe_t *p = t->pipe;
    sl_pl_shard_t *sh = p->sh;
    const sl_plan_t *plan = p->plan;
    int64_t now = sl_pl_now(sh);
    bool ok = sl_outcome_succeeded(outcome);
    char *why = NULL;
    if (ok && t->kind == SL_TK_GENERATION && app_number <= 0) {
        ok = false;
        outcome = SL_OUT_VERDICT;
        why = strdup("generator result carries no app_number");
    } else if (!ok) {
        why = error && error[0] ? s_strdupf("%s: %s", sl_outcome_name(outcome), error)
                                : strdup(sl_outcome_name(outcome));
    }
    sl_attempt_rec_t *a = s_cur_attempt(t);
    if (a) {
        a->ended_ms = now;
        a->outcome = outcome;
        s_set_str(&a->replica, replica && replica[0] ? replica : NULL);
        s_set_str(&a->error, why);
        if (last_stage && last_stage[0]) {
            s_set_str(&a->last_stage, last_stage);
        }
        if (last_message && last_message[0]) {
            s_set_str(&a->last_message, last_message);
        }
        if (last_checkpoint && last_checkpoint[0]) {
            s_set_str(&a->last_checkpoint, last_checkpoint);
            s_set_str(&t->resume_from, last_checkpoint); /* saved with the status below */
        }
        if (last_pct >= 0 && last_pct <= 100) {
            a->last_pct = (int32_t)last_pct;
        }
        if (!ok && outcome != SL_OUT_INTERRUPTED) {
            /* (an interrupted attempt is re-dispatched under its number) */
            s_keep_partial(t, a);
        }
        sl_pl_save_attempt(t);
    }
    t->outcome = (int16_t)outcome;
    if (!ok && sl_explain_is_timeout(sl_outcome_name(outcome))) {
        static const char *const which[][2] = {{"attempt_timeout", "attempt"},
                                               {"progress_timeout", "progress"},
                                               {"queue_timeout", "queue"}};
        char key[SL_NAME_MAX + 64];
        const char *k = r->timeout_key;
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(which[i][0], sl_outcome_name(outcome)) == 0) {
                k = s_timeout_key(t, which[i][1], r->timeout_key, key, sizeof(key));
            }
        }
        s_explain(t, sl_outcome_name(outcome), k, r->timeout_ms, a);
    }
    s_release_slot(t);
    if (!ok && result && result_len) {
        /* The frame of a failed attempt says why (a verdict, an error):
           kept under the attempt's key, and as the task's frame until an
           attempt succeeds. */
        char id[SL_TASK_ID_MAX], key[SL_TASK_ID_MAX + 8];
        sl_pl_task_id(t, id, sizeof(id));
        if (a && sl_attempt_key(key, sizeof(key), id, a->attempt) == 0) {
            sl_pl_op_put(sh, SL_IDS_DB_RESULTS, key, result, result_len);
        }
        sl_pl_op_put(sh, SL_IDS_DB_RESULTS, id, result, result_len);
    }
    if (ok) {
        char id[SL_TASK_ID_MAX];
        sl_pl_task_id(t, id, sizeof(id));
        /* The raw result goes into the same write as the succeeded record:
           a committed success always has its result, so it is never re-run. */
        if (result && result_len) {
            sl_pl_op_put(sh, SL_IDS_DB_RESULTS, id, result, result_len);
        } else {
            sl_pl_op_put(sh, SL_IDS_DB_RESULTS, id, "null", 4); /* no frame: JSON null */
        }
        if (t->kind == SL_TK_GENERATION) {
            t->app_number = (int32_t)app_number;
        }
        s_set_str(&t->error, NULL);
        s_forget(t);
        s_set_warning(t, &r->warnings);
        if (t->kind == SL_TK_ANALYSIS && plan->escalate && !(t->flags & SL_PL_T_ESCALATED)) {
            t->issues = s_result_issues(result, result_len);
        }
        s_cancel_timer(sh, &t->deadline_timer);
        s_set_status(t, SL_TS_SUCCEEDED);
        if (t->kind == SL_TK_GENERATION) {
            s_create_analysis(t);
        }
    } else if (outcome == SL_OUT_INTERRUPTED) {
        /* The endpoint was stopping: try again without counting it. */
        free(t->error);
        t->error = why;
        why = NULL;
        t->flags |= SL_PL_T_REDISPATCH;
        p->live[t->kind]++;
        t->retry_at_ms = now + plan->retry.initial_ms;
        t->retry_timer = sl_actor_timer(sh->self, plan->retry.initial_ms, 0, s_on_retry, t);
        s_set_status(t, SL_TS_RETRY_WAIT);
    } else if (outcome == SL_OUT_TARGETS_UNREACHABLE) {
        s_app_unreachable(t, why, now);
        why = NULL;
    } else {
        s_add_exclude(t, replica);
        free(t->error);
        t->error = why;
        why = NULL;
        uint32_t used = (uint32_t)(t->attempts - t->attempt_base) - s_unreachable_count(t);
        if (!sl_outcome_retryable(outcome)) {
            s_cancel_timer(sh, &t->deadline_timer);
            s_set_status(t, SL_TS_FAILED);
        } else if (used >= plan->retry.max_attempts) {
            char *msg =
                s_strdupf("exhausted %u attempts; last: %s", used, t->error ? t->error : "?");
            s_park(t, msg ? msg : t->error);
            free(msg);
        } else {
            int64_t wait = sl_retry_backoff_ms(&plan->retry, used, &sh->rng);
            p->live[t->kind]++;
            t->retry_at_ms = now + wait;
            t->retry_timer = sl_actor_timer(sh->self, wait, 0, s_on_retry, t);
            s_set_status(t, SL_TS_RETRY_WAIT);
        }
    }
    free(why);
    s_escalate(t);
    s_progressed(p);
}

void sl_pl_on_result(sl_pl_shard_t *sh, const sl_attempt_result_t *m)
{
    sl_pl_task_t *t = sl_pl_find_task(sh, m->task_id);
    if (!t || m->attempt != t->attempts || !s_live_attempt(t)) {
        /* A late result of an attempt we already ended (cancel, deadline) or
           of a task we do not know. */
        sh->dropped_results++;
        return;
    }
    s_attempt_ended(t, m);
}

void sl_pl_on_progress(sl_pl_shard_t *sh, const sl_attempt_progress_t *m)
{
    sl_pl_task_t *t = sl_pl_find_task(sh, m->task_id);
    if (!t || m->attempt != t->attempts || !s_live_attempt(t)) {
        return;
    }
    if (m->stage) {
        t->progress_stage = sl_pl_intern(sh, m->stage);
    }
    if (m->pct >= -1 && m->pct <= 100 && (m->pct != 0 || m->stage || m->message)) {
        t->progress_pct = (int16_t)m->pct;
    }
    if (m->message) {
        s_set_str(&t->progress_message, m->message);
    }
    uint8_t *partial = m->partial.len ? malloc(m->partial.len) : NULL;
    if (partial) {
        memcpy(partial, m->partial.ptr, m->partial.len);
        free(t->partial);
        t->partial = partial;
        t->partial_len = m->partial.len;
    }
    sl_attempt_rec_t *a = s_cur_attempt(t);
    if (a) {
        if (m->replica && m->replica[0] && !a->replica) {
            s_set_str(&a->replica, m->replica);
        }
        if (m->stage) {
            s_set_str(&a->last_stage, m->stage);
        }
        if (m->message) {
            s_set_str(&a->last_message, m->message);
        }
        if (m->checkpoint && m->checkpoint[0]) {
            s_set_str(&a->last_checkpoint, m->checkpoint);
        }
        a->last_pct = t->progress_pct;
    }
    if (m->checkpoint && m->checkpoint[0]) {
        /* saved below with the task: a SIGKILL does not lose it */
        s_set_str(&t->resume_from, m->checkpoint);
    }
    /* Every checkpoint that reaches the shard is published: the endpoint
       already throttled it (services/<name>/progress_per_sec, stage changes
       always pass), so what a PUB watcher saw last is what pipeline.get
       shows. */
    if (t->status == SL_TS_QUEUED) {
        s_set_status(t, SL_TS_RUNNING); /* also saves the checkpoint */
    } else {
        t->pipe->last_change_ms = sl_pl_now(sh);
        sl_pl_save_task(t);
    }
    sl_pl_ev_task_progress(t);
}

void sl_pl_task_cancel(sl_pl_task_t *t, const char *why)
{
    if (sl_tstatus_terminal(t->status)) {
        return;
    }
    s_stop_task(t, SL_TS_CANCELLED, why);
    s_progressed(t->pipe);
}

int sl_pl_task_dlq_retry(sl_pl_task_t *t)
{
    sl_pl_pipe_t *p = t->pipe;
    sl_pl_shard_t *sh = p->sh;
    if (t->status != SL_TS_DEAD || !(t->flags & SL_PL_T_IN_DLQ)) {
        return SL_ESTATE;
    }
    if (p->user_cancelled || !p->plan) {
        return SL_ESTATE;
    }
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    double scaled = t->timeout_permille * sh->cfg.dlq_timeout_factor;
    t->timeout_permille = (uint16_t)(scaled > 60000 ? 60000 : scaled);
    t->attempt_base = t->attempts;
    t->nexclude = 0;
    t->deadline_ms = 0;
    t->flags &= (uint8_t)~SL_PL_T_IN_DLQ;
    s_set_str(&t->error, NULL);
    s_forget(t);
    sl_pl_op_del(sh, SL_IDS_DB_DLQ, id);
    if (sl_pstatus_terminal(p->status)) {
        /* Re-open the pipeline: it ends again, by the same rule, when this
           task does. Its deadlines start afresh. */
        int64_t now = sl_pl_now(sh);
        p->status = SL_PS_RUNNING;
        p->stage = t->kind == SL_TK_GENERATION ? SL_STAGE_GENERATION : SL_STAGE_ANALYSIS;
        p->completed_ms = 0;
        s_set_str(&p->error, NULL);
        p->stage_started_ms = now;
        p->stage_deadline_ms = p->plan->timeouts.stage_ms ? now + p->plan->timeouts.stage_ms : 0;
        p->pipeline_deadline_ms =
            p->plan->timeouts.pipeline_ms ? now + p->plan->timeouts.pipeline_ms : 0;
        p->last_change_ms = now;
        s_arm_pipe_timers(p);
        sl_pl_save_pipe(p);
        sl_pl_ev_pipe_status(p);
        sl_pl_ev_pipe_stage(p);
    }
    s_set_status(t, SL_TS_PENDING);
    s_pq_push(p, t->kind, t->index);
    s_progressed(p);
    return 0;
}

void sl_pl_task_dlq_drop(sl_pl_task_t *t)
{
    char id[SL_TASK_ID_MAX];
    sl_pl_task_id(t, id, sizeof(id));
    t->flags &= (uint8_t)~SL_PL_T_IN_DLQ;
    sl_pl_op_del(t->pipe->sh, SL_IDS_DB_DLQ, id);
    sl_pl_save_task(t);
}

/* ---- timer callbacks ----------------------------------------------------- */

static void s_on_task_deadline(void *arg, uint64_t id)
{
    sl_pl_task_t *t = arg;
    sl_pl_shard_t *sh = t->pipe->sh;
    t->deadline_timer = 0;
    if (sl_tstatus_terminal(t->status) || sl_pstatus_terminal(t->pipe->status)) {
        return;
    }
    int64_t limit = s_scaled(s_timeouts(t)->task_ms, t->timeout_permille);
    char *why = s_strdupf("task_timeout: task exceeded %lld s", (long long)(limit / 1000));
    char key[SL_NAME_MAX + 64];
    s_explain(t, "task_timeout", s_timeout_key(t, "task", NULL, key, sizeof(key)), limit, NULL);
    s_abort_attempt(t, SL_OUT_CANCELLED, why ? why : "task_timeout");
    s_park(t, why ? why : "task_timeout");
    free(why);
    s_escalate(t);
    s_progressed(t->pipe);
    sl_pl_flush(sh, NULL, NULL);
}

static void s_on_retry(void *arg, uint64_t id)
{
    sl_pl_task_t *t = arg;
    sl_pl_shard_t *sh = t->pipe->sh;
    t->retry_timer = 0;
    if (t->status != SL_TS_RETRY_WAIT || sl_pstatus_terminal(t->pipe->status)) {
        return;
    }
    if (sh->draining) {
        /* Stays retry_wait with its stored retry_at: recovery re-arms it
           (already due) at the next start. Nothing to write. */
        return;
    }
    s_dispatch(t); /* keeps the slot it held while waiting */
    sl_pl_flush(sh, NULL, NULL);
}

/* Stops every live task of p for a stage (which 1) or pipeline (2)
   deadline of limit ms, then finalizes p. */
static void s_end_by_deadline(sl_pl_pipe_t *p, const char *why, int which, int64_t limit)
{
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        if (t && !sl_tstatus_terminal(t->status)) {
            if (which) {
                char key[SL_NAME_MAX + 64];
                const char *name = which == 1 ? "stage" : "pipeline";
                s_explain(t, which == 1 ? "stage_timeout" : "pipeline_timeout",
                          s_timeout_key(t, name, NULL, key, sizeof(key)), limit, NULL);
            }
            s_stop_task(t, SL_TS_CANCELLED, why);
        }
    }
    sl_pl_pipe_finalize(p, why);
}

static void s_on_stage_deadline(void *arg, uint64_t id)
{
    sl_pl_pipe_t *p = arg;
    p->stage_timer = 0;
    if (sl_pstatus_terminal(p->status) || !p->plan) {
        return;
    }
    char *why = s_strdupf("stage_timeout: %s stage exceeded %lld s", sl_stage_name(p->stage),
                          (long long)(p->plan->timeouts.stage_ms / 1000));
    s_end_by_deadline(p, why ? why : "stage_timeout", 1, p->plan->timeouts.stage_ms);
    free(why);
    sl_pl_flush(p->sh, NULL, NULL);
}

static void s_on_pipeline_deadline(void *arg, uint64_t id)
{
    sl_pl_pipe_t *p = arg;
    p->pipeline_timer = 0;
    if (sl_pstatus_terminal(p->status) || !p->plan) {
        return;
    }
    char *why = s_strdupf("pipeline_timeout: pipeline exceeded %lld s",
                          (long long)(p->plan->timeouts.pipeline_ms / 1000));
    s_end_by_deadline(p, why ? why : "pipeline_timeout", 2, p->plan->timeouts.pipeline_ms);
    free(why);
    sl_pl_flush(p->sh, NULL, NULL);
}

/* ---- pipelines ----------------------------------------------------------- */

void sl_pl_pipe_free(sl_pl_pipe_t *p)
{
    if (!p) {
        return;
    }
    s_cancel_timer(p->sh, &p->stage_timer);
    s_cancel_timer(p->sh, &p->pipeline_timer);
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_free(p->tasks[i]);
    }
    free(p->tasks);
    for (int k = 0; k < SL_TK__COUNT; k++) {
        free(p->pq[k]);
    }
    free(p->name);
    free(p->error);
    free(p->request);
    sl_plan_destroy(&p->plan);
    free(p->start_req); /* our own copy: from, corr and flags only */
    free(p);
}

int sl_pl_pipe_create(sl_pl_pipe_t *p)
{
    sl_pl_shard_t *sh = p->sh;
    const sl_plan_t *plan = p->plan;
    int64_t now = sl_pl_now(sh);
    p->created_ms = p->started_ms = p->stage_started_ms = p->last_change_ms = now;
    p->status = SL_PS_RUNNING;
    p->stage = plan->existing ? SL_STAGE_ANALYSIS : SL_STAGE_GENERATION;
    p->stage_deadline_ms = plan->timeouts.stage_ms ? now + plan->timeouts.stage_ms : 0;
    p->pipeline_deadline_ms = plan->timeouts.pipeline_ms ? now + plan->timeouts.pipeline_ms : 0;
    if (!plan->existing) {
        for (size_t m = 0; m < plan->models.n; m++) {
            for (size_t k = 0; k < plan->templates.n; k++) {
                if (!sl_pl_task_add(p, SL_TK_GENERATION, SL_SVC_GENERATOR, plan->models.v[m],
                                    plan->templates.v[k], -1)) {
                    return SL_ENOMEM;
                }
            }
        }
    } else {
        for (size_t a = 0; a < plan->napps; a++) {
            for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
                if (plan->services[s] &&
                    !sl_pl_task_add(p, SL_TK_ANALYSIS, s, plan->apps[a].model, plan->apps[a].tmpl,
                                    plan->apps[a].app_number)) {
                    return SL_ENOMEM;
                }
            }
        }
    }
    sl_pl_save_pipe(p);
    sl_pl_ev_pipe_status(p);
    sl_pl_ev_pipe_stage(p);
    s_arm_pipe_timers(p);
    return 0;
}

void sl_pl_pipe_pump(sl_pl_pipe_t *p)
{
    if (!p->committed || sl_pstatus_terminal(p->status) || !p->plan || p->sh->draining) {
        return; /* draining: pending tasks stay in the FIFO (and pending in the store) */
    }
    for (int k = 0; k < SL_TK__COUNT; k++) {
        uint32_t limit = k == SL_TK_GENERATION ? p->plan->gen_limit : p->plan->ana_limit;
        while (p->pq_len[k] > 0 && (limit == 0 || p->live[k] < limit) &&
               !sl_pstatus_terminal(p->status)) {
            uint32_t idx = p->pq[k][p->pq_head[k]++];
            p->pq_len[k]--;
            if (p->pq_len[k] == 0) {
                p->pq_head[k] = 0;
            }
            sl_pl_task_t *t = idx < p->ntasks ? p->tasks[idx] : NULL;
            if (!t || t->status != SL_TS_PENDING) {
                continue; /* cancelled while it waited */
            }
            p->live[k]++;
            s_dispatch(t);
        }
    }
}

static void s_enter_analysis(sl_pl_pipe_t *p)
{
    int64_t now = sl_pl_now(p->sh);
    p->stage = SL_STAGE_ANALYSIS;
    p->stage_started_ms = now;
    p->stage_deadline_ms = p->plan->timeouts.stage_ms ? now + p->plan->timeouts.stage_ms : 0;
    p->last_change_ms = now;
    s_arm_pipe_timers(p);
    sl_pl_save_pipe(p);
    sl_pl_ev_pipe_stage(p);
}

static void s_check_finish(sl_pl_pipe_t *p)
{
    if (sl_pstatus_terminal(p->status) || !p->committed) {
        return;
    }
    uint32_t done = p->cnt[SL_TS_SUCCEEDED] + p->cnt[SL_TS_FAILED] + p->cnt[SL_TS_CANCELLED] +
                    p->cnt[SL_TS_DEAD];
    if (done < p->ntasks) {
        return;
    }
    sl_pl_shard_t *sh = p->sh;
    sh->finalize_chances++;
    if (sh->cfg.drop_finalize_every_n &&
        sh->finalize_chances % sh->cfg.drop_finalize_every_n == 0) {
        sl_warn("%s: fault hook: dropping the finalize step of %s", sh->name, p->id);
        return;
    }
    sl_pl_pipe_finalize(p, NULL);
}

/* After any task change: advance the stage, refill slots, maybe finish. */
static void s_progressed(sl_pl_pipe_t *p)
{
    if (sl_pstatus_terminal(p->status)) {
        return;
    }
    if (p->stage == SL_STAGE_GENERATION && p->gen_terminal == p->gen_total && p->plan &&
        p->plan->analysis) {
        s_enter_analysis(p);
    }
    sl_pl_pipe_pump(p);
    s_check_finish(p);
}

uint32_t sl_pl_live_attempts(const sl_pl_pipe_t *p)
{
    return p->cnt[SL_TS_QUEUED] + p->cnt[SL_TS_RUNNING] + p->cnt[SL_TS_RETRY_WAIT];
}

void sl_pl_drain_counts(const sl_pl_shard_t *sh, uint64_t *in_flight, uint64_t *held)
{
    *in_flight = *held = 0;
    for (size_t i = 0; i < sh->npipes; i++) {
        const sl_pl_pipe_t *p = sh->pipes[i];
        *in_flight += p->cnt[SL_TS_QUEUED] + p->cnt[SL_TS_RUNNING];
        *held += p->cnt[SL_TS_PENDING] + p->cnt[SL_TS_RETRY_WAIT];
    }
}

sl_pstatus_t sl_pipeline_final_status(const sl_pipeline_counts_t *c, bool user_cancelled)
{
    if (user_cancelled) {
        return SL_PS_CANCELLED;
    }
    if (c->succeeded == c->total) {
        return SL_PS_COMPLETED;
    }
    if (c->succeeded == 0) {
        return SL_PS_FAILED;
    }
    return SL_PS_PARTIAL;
}

/* Why a task did not succeed, for the summary: its timeout's code, else
   cancelled, else its last attempt's outcome, else its status. */
static const char *s_cause(const sl_pl_task_t *t)
{
    if (t->detail.code) {
        return t->detail.code;
    }
    if (t->status != SL_TS_CANCELLED && t->outcome >= 0) {
        return sl_outcome_name(t->outcome);
    }
    return sl_tstatus_name(t->status);
}

/* "4/12 tasks succeeded, 8 failed: 5 attempt_timeout (static-analyzer 3,
   ...), 3 verdict (...)" over p's terminal tasks that did not succeed. */
static char *s_summary(const sl_pl_pipe_t *p, uint32_t succeeded, uint32_t total)
{
    sl_explain_miss_t *m = calloc(p->ntasks + 1, sizeof(*m));
    size_t n = 0;
    for (uint32_t i = 0; m && i < p->ntasks; i++) {
        const sl_pl_task_t *t = p->tasks[i];
        if (t && sl_tstatus_terminal(t->status) && t->status != SL_TS_SUCCEEDED) {
            m[n++] = (sl_explain_miss_t){s_cause(t), sl_service_name(t->service)};
        }
    }
    char *s = sl_explain_summary(succeeded, total, m, n);
    free(m);
    return s;
}

void sl_pl_pipe_finalize(sl_pl_pipe_t *p, const char *why)
{
    sl_pl_shard_t *sh = p->sh;
    if (sl_pstatus_terminal(p->status)) {
        return;
    }
    sl_pipeline_counts_t c;
    sl_pl_counts(p, &c);
    p->status = (uint8_t)sl_pipeline_final_status(&c, p->user_cancelled);
    p->stage = SL_STAGE_DONE;
    p->completed_ms = p->last_change_ms = sl_pl_now(sh);
    char *summary = NULL;
    if (p->status != SL_PS_COMPLETED || why) {
        char *counts = s_summary(p, c.succeeded, c.total);
        summary = s_strdupf("%s%s%s", why ? why : "", why ? "; " : "", counts ? counts : "");
        free(counts);
    }
    free(p->error);
    p->error = summary;
    s_cancel_timer(sh, &p->stage_timer);
    s_cancel_timer(sh, &p->pipeline_timer);
    sl_pl_save_pipe(p);
    sl_pl_ev_pipe_stage(p);
    sl_pl_ev_pipe_status(p);
    sl_info("%s: pipeline %s %s%s%s", sh->name, p->id, sl_pstatus_name(p->status),
            p->error ? ": " : "", p->error ? p->error : "");
}

void sl_pl_pipe_fail(sl_pl_pipe_t *p, const char *why)
{
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        if (t && !sl_tstatus_terminal(t->status)) {
            s_stop_task(t, SL_TS_FAILED, why);
        }
    }
    sl_pl_pipe_finalize(p, why);
}

void sl_pl_pipe_purge(sl_pl_pipe_t *p)
{
    sl_pl_shard_t *sh = p->sh;
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        char id[SL_TASK_ID_MAX], key[SL_TASK_ID_MAX + 12];
        if (!t) {
            continue;
        }
        sl_pl_task_id(t, id, sizeof(id));
        for (uint16_t j = 0; j < t->nhist; j++) {
            if (sl_attempt_key(key, sizeof(key) - 2, id, t->hist[j].attempt) == 0) {
                sl_pl_op_del(sh, SL_IDS_DB_ATTEMPTS, key);
                sl_pl_op_del(sh, SL_IDS_DB_RESULTS, key);
                if (t->hist[j].partial) {
                    strcat(key, "-p");
                    sl_pl_op_del(sh, SL_IDS_DB_RESULTS, key);
                }
            }
        }
        sl_pl_op_del(sh, SL_IDS_DB_RESULTS, id);
        snprintf(key, sizeof(key), "%s-p", id);
        sl_pl_op_del(sh, SL_IDS_DB_RESULTS, key);
        sl_pl_op_del(sh, SL_IDS_DB_TASKS, id);
    }
    sl_pl_op_del(sh, SL_IDS_DB_PIPELINES, p->id);
    sl_pl_pipe_remove(sh, p);
    sl_pl_pipe_free(p);
}

void sl_pl_pipe_cancel(sl_pl_pipe_t *p)
{
    p->user_cancelled = true;
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        if (t && !sl_tstatus_terminal(t->status)) {
            s_stop_task(t, SL_TS_CANCELLED, "cancelled by user");
        }
    }
    sl_pl_pipe_finalize(p, "cancelled by user");
}

void sl_pl_pipe_reconcile(sl_pl_pipe_t *p, const char *reason)
{
    sl_pl_shard_t *sh = p->sh;
    if (sl_pstatus_terminal(p->status) || !p->committed) {
        return;
    }
    if (!p->plan) {
        sl_pl_pipe_fail(p, "stored start request is unreadable");
        return;
    }
    int64_t now = sl_pl_now(sh);
    char *why = s_strdupf("reconciled by watchdog: %s", reason ? reason : "stuck");
    if ((p->pipeline_deadline_ms && now >= p->pipeline_deadline_ms) ||
        (p->stage_deadline_ms && now >= p->stage_deadline_ms)) {
        s_end_by_deadline(p, why ? why : "reconciled by watchdog", 0, 0);
        free(why);
        return;
    }
    /* Lost timers or slots are restored before judging liveness. */
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        if (t && t->status == SL_TS_RETRY_WAIT && !t->retry_timer) {
            t->retry_timer =
                sl_actor_timer(sh->self, s_delay_to(sh, t->retry_at_ms), 0, s_on_retry, t);
        }
    }
    if (p->stage == SL_STAGE_GENERATION && p->gen_terminal == p->gen_total && p->plan->analysis) {
        s_enter_analysis(p);
    }
    sl_pl_pipe_pump(p);
    uint32_t done = p->cnt[SL_TS_SUCCEEDED] + p->cnt[SL_TS_FAILED] + p->cnt[SL_TS_CANCELLED] +
                    p->cnt[SL_TS_DEAD];
    if (done == p->ntasks) {
        sl_pl_pipe_finalize(p, why ? why : "reconciled by watchdog");
    }
    free(why);
}

void sl_pl_pipe_resume(sl_pl_pipe_t *p)
{
    sl_pl_shard_t *sh = p->sh;
    if (sl_pstatus_terminal(p->status)) {
        return;
    }
    p->committed = true;
    if (!p->plan) {
        sl_pl_pipe_fail(p, "stored start request is unreadable");
        return;
    }
    if (p->status == SL_PS_PENDING) {
        p->status = SL_PS_RUNNING;
        sl_pl_save_pipe(p);
        sl_pl_ev_pipe_status(p);
    }
    s_arm_pipe_timers(p);
    for (uint32_t i = 0; i < p->ntasks; i++) {
        sl_pl_task_t *t = p->tasks[i];
        if (!t) {
            continue;
        }
        switch (t->status) {
        case SL_TS_PENDING:
            s_pq_push(p, t->kind, t->index);
            break;
        case SL_TS_QUEUED:
        case SL_TS_RUNNING:
            /* The attempt died with the old process: send it again under the
               same number so it does not count against the task. */
            t->flags |= SL_PL_T_REDISPATCH;
            if (t->attempts == 0) {
                t->flags &= (uint8_t)~SL_PL_T_REDISPATCH;
            }
            s_dispatch(t);
            break;
        case SL_TS_RETRY_WAIT:
            s_arm_task_deadline(t);
            t->retry_timer =
                sl_actor_timer(sh->self, s_delay_to(sh, t->retry_at_ms), 0, s_on_retry, t);
            break;
        default:
            break;
        }
    }
    s_progressed(p);
}
