/*  sl_pipeline_table.c: where a shard keeps its pipelines and their tasks:
    the shard's pipelines in id order and by id, each pipeline's tasks by
    index with their per-status counts and slots.

    Runs on the shard's thread only. Memory and counting only: nothing here
    decides, writes the store or arms a timer (the state machine,
    sl_pipeline_fsm.c, does); it calls none of the shard's other files.
*/
#include "actors/pipeline/sl_pipeline_int.h"

#include <stdlib.h>
#include <string.h>

bool sl_pl_task_holds_slot(const sl_pl_task_t *t)
{
    return t->status == SL_TS_QUEUED || t->status == SL_TS_RUNNING || t->status == SL_TS_RETRY_WAIT;
}

/* Grows p->tasks until index fits; new slots are NULL. */
static int s_tasks_fit(sl_pl_pipe_t *p, uint32_t index)
{
    while (p->cap <= index) {
        uint32_t ncap = p->cap ? p->cap * 2 : 16;
        sl_pl_task_t **n = realloc(p->tasks, ncap * sizeof(*n));
        if (!n) {
            return SL_ENOMEM;
        }
        memset(n + p->cap, 0, (ncap - p->cap) * sizeof(*n));
        p->tasks = n;
        p->cap = ncap;
    }
    return 0;
}

sl_pl_task_t *sl_pl_task_new(sl_pl_pipe_t *p)
{
    if (s_tasks_fit(p, p->ntasks) < 0) {
        return NULL;
    }
    sl_pl_task_t *t = calloc(1, sizeof(*t));
    if (!t) {
        return NULL;
    }
    t->pipe = p;
    t->outcome = -1;
    t->progress_pct = -1;
    t->app_number = -1;
    t->timeout_permille = 1000;
    return t;
}

void sl_pl_task_link(sl_pl_pipe_t *p, sl_pl_task_t *t)
{
    p->tasks[t->index] = t;
    if (t->index >= p->ntasks) {
        p->ntasks = t->index + 1;
    }
    p->cnt[t->status]++;
    if (t->kind == SL_TK_GENERATION) {
        p->gen_total++;
        if (sl_tstatus_terminal(t->status)) {
            p->gen_terminal++;
        }
    }
}

int sl_pl_task_attach(sl_pl_pipe_t *p, sl_pl_task_t *t)
{
    if (s_tasks_fit(p, t->index) < 0) {
        return SL_ENOMEM;
    }
    if (p->tasks[t->index]) {
        return SL_EEXIST; /* a duplicate index */
    }
    sl_pl_task_link(p, t);
    if (sl_pl_task_holds_slot(t)) {
        p->live[t->kind]++;
    }
    return 0;
}

sl_pl_pipe_t *sl_pl_pipe_new(sl_pl_shard_t *sh, const char *id)
{
    if (strlen(id) >= SL_PIPELINE_ID_MAX) {
        return NULL;
    }
    sl_pl_pipe_t *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->sh = sh;
    strcpy(p->id, id);
    return p;
}

int sl_pl_pipe_add(sl_pl_shard_t *sh, sl_pl_pipe_t *p)
{
    if (sh->npipes == sh->cap) {
        size_t ncap = sh->cap ? sh->cap * 2 : 16;
        sl_pl_pipe_t **n = realloc(sh->pipes, ncap * sizeof(*n));
        if (!n) {
            return SL_ENOMEM;
        }
        sh->pipes = n;
        sh->cap = ncap;
    }
    if (sl_map_put_str(&sh->byid, p->id, p) < 0) {
        return SL_ENOMEM;
    }
    /* Keep id order (ids grow with time; recovery may load out of order). */
    size_t i = sh->npipes;
    while (i > 0 && strcmp(sh->pipes[i - 1]->id, p->id) > 0) {
        sh->pipes[i] = sh->pipes[i - 1];
        i--;
    }
    sh->pipes[i] = p;
    sh->npipes++;
    return 0;
}

void sl_pl_pipe_remove(sl_pl_shard_t *sh, sl_pl_pipe_t *p)
{
    sl_map_take_str(&sh->byid, p->id);
    for (size_t i = 0; i < sh->npipes; i++) {
        if (sh->pipes[i] == p) {
            memmove(sh->pipes + i, sh->pipes + i + 1, (sh->npipes - i - 1) * sizeof(*sh->pipes));
            sh->npipes--;
            break;
        }
    }
}
