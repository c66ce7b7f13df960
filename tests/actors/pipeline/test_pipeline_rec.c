/*  test_pipeline_rec.c: every declared field of the stored records is
    carried through the shard's converters (actors/pipeline/sl_pipeline_rec.c)
    and shown by the API view, or is declared here as not shown.

    Driven by the descriptors of actors/pipeline/sl_records.def: a record
    filled with a distinct non-default value in every field goes through
    encode, decode, from-record (load), to-record (save), encode and decode
    again and must come back equal; the API view of the loaded task or
    pipeline must show each field's value under its key. A field added to
    the .def and forgotten in a converter, or in the view without being
    listed as hidden below, fails here. The shard is a bare struct: the
    converters touch no actor, clock or store.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline/sl_pipeline_int.h"
#include "proto/sl_outcome.h"
#include "tests/actors/pipeline/pl_testutil.h"
#include "tests/actors/pipeline/rec_testutil.h"

#define PID "p0193f1c2a4b7c01a2f"

/* ---- how the API shows each stored field ----------------------------------- */

typedef enum {
    V_SHOWN,   /* the value, under key */
    V_OUTCOME, /* an sl_outcome_t shown by name, under key */
    V_LIST,    /* a list whose items are checked by their own rows */
    V_HIDDEN   /* not shown to clients (why: the comment) */
} s_how_t;

typedef struct {
    const char *rec, *field; /* the record and the stored key of the field */
    s_how_t how;
    const char *key;
} s_view_row_t;

static const s_view_row_t s_view[] = {
    {"task", "id", V_SHOWN, "id"},
    {"task", "pipeline_id", V_SHOWN, "pipeline_id"},
    {"task", "index", V_HIDDEN, NULL}, /* part of the id */
    {"task", "kind", V_SHOWN, "kind"},
    {"task", "service", V_SHOWN, "service"},
    {"task", "status", V_SHOWN, "status"},
    {"task", "model", V_SHOWN, "model"},
    {"task", "template", V_SHOWN, "template"},
    {"task", "app_number", V_SHOWN, "app_number"},
    {"task", "attempts", V_SHOWN, "attempts"},
    {"task", "attempt_base", V_HIDDEN, NULL}, /* budget bookkeeping */
    {"task", "dlq_returns", V_SHOWN, "dlq_returns"},
    {"task", "in_dlq", V_SHOWN, "in_dlq"},
    {"task", "redispatch", V_HIDDEN, NULL},       /* dispatch bookkeeping */
    {"task", "timeout_permille", V_HIDDEN, NULL}, /* shows in the attempts' timeouts */
    {"task", "outcome", V_HIDDEN, NULL},          /* the history shows each outcome */
    {"task", "created_ms", V_SHOWN, "created_at"},
    {"task", "updated_ms", V_SHOWN, "updated_at"},
    {"task", "deadline_ms", V_SHOWN, "deadline_at"},
    {"task", "retry_at_ms", V_HIDDEN, NULL}, /* timer bookkeeping */
    {"task", "error", V_SHOWN, "error"},
    {"task", "warning", V_SHOWN, "warning"},
    {"task", "error_code", V_SHOWN, "code"}, /* error_detail: {code, message, suggestion} */
    {"task", "error_text", V_SHOWN, "message"},
    {"task", "error_suggestion", V_SHOWN, "suggestion"},
    {"task", "progress_stage", V_SHOWN, "stage"},
    {"task", "progress_pct", V_SHOWN, "pct"},
    {"task", "progress_message", V_SHOWN, "message"},
    {"task", "exclude", V_SHOWN, "exclude"},
    {"task", "resume_from", V_SHOWN, "resume_from"},
    {"task", "escalated", V_SHOWN, "escalated"},
    {"task", "escalation_decided", V_HIDDEN, NULL}, /* escalation bookkeeping */
    {"task", "issues", V_SHOWN, "issues"},
    {"task", "history", V_LIST, "history"},
    {"attempt", "task_id", V_HIDDEN, NULL}, /* the task's id */
    {"attempt", "attempt", V_SHOWN, "attempt"},
    {"attempt", "replica", V_SHOWN, "replica"},
    {"attempt", "started_ms", V_SHOWN, "started_at"},
    {"attempt", "ended_ms", V_SHOWN, "ended_at"},
    {"attempt", "outcome", V_OUTCOME, "outcome"},
    {"attempt", "error", V_SHOWN, "error"},
    {"attempt", "last_stage", V_SHOWN, "last_stage"},
    {"attempt", "last_pct", V_SHOWN, "last_pct"},
    {"attempt", "last_message", V_SHOWN, "last_message"},
    {"attempt", "last_checkpoint", V_SHOWN, "last_checkpoint"},
    {"attempt", "partial", V_SHOWN, "partial"},
    {"pipeline", "id", V_SHOWN, "id"},
    {"pipeline", "name", V_SHOWN, "name"},
    {"pipeline", "status", V_SHOWN, "status"},
    {"pipeline", "stage", V_SHOWN, "stage"},
    {"pipeline", "user_cancelled", V_HIDDEN, NULL}, /* the status says cancelled */
    {"pipeline", "created_ms", V_SHOWN, "created_at"},
    {"pipeline", "started_ms", V_SHOWN, "started_at"},
    {"pipeline", "completed_ms", V_SHOWN, "completed_at"},
    {"pipeline", "stage_started_ms", V_HIDDEN, NULL},     /* deadline bookkeeping */
    {"pipeline", "stage_deadline_ms", V_HIDDEN, NULL},    /* the watchdog's */
    {"pipeline", "pipeline_deadline_ms", V_HIDDEN, NULL}, /* the watchdog's */
    {"pipeline", "error", V_SHOWN, "error_message"},
    {"pipeline", "ntasks", V_SHOWN, "total"},
    /* The resolved policy and the request: the client sent them. */
    {"pipeline", "task_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "stage_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "pipeline_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "attempt_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "progress_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "queue_timeout_ms", V_HIDDEN, NULL},
    {"pipeline", "max_attempts", V_HIDDEN, NULL},
    {"pipeline", "backoff_initial_ms", V_HIDDEN, NULL},
    {"pipeline", "backoff_max_ms", V_HIDDEN, NULL},
    {"pipeline", "backoff_coefficient", V_HIDDEN, NULL},
    {"pipeline", "app_unreachable_retry_ms", V_HIDDEN, NULL},
    {"pipeline", "app_unreachable_retries", V_HIDDEN, NULL},
    {"pipeline", "request", V_HIDDEN, NULL},
};

static const s_view_row_t *s_row(const char *rec, const char *field)
{
    for (size_t i = 0; i < sizeof s_view / sizeof s_view[0]; i++) {
        if (strcmp(s_view[i].rec, rec) == 0 && strcmp(s_view[i].field, field) == 0) {
            return &s_view[i];
        }
    }
    fail_msg("%s.%s: declared in sl_records.def, but this test does not say how the API shows "
             "it (add a row to s_view: V_SHOWN with its key, or V_HIDDEN with why)",
             rec, field);
    return NULL;
}

/* ---- the view as (key, value) leaves --------------------------------------- */

typedef struct {
    char key[64];
    char val[160];
} s_leaf_t;

typedef struct {
    s_leaf_t *v;
    size_t n;
} s_leaves_t;

/* Collects the scalar leaves under r (key: the innermost map key; array
   items take the key of the array). */
static void s_leaves(sl_mp_reader_t *r, const char *key, s_leaves_t *out)
{
    int t = sl_mp_peek(r);
    if (t == SL_MP_MAP) {
        uint32_t n;
        assert_int_equal(sl_mp_read_map(r, &n), 0);
        for (uint32_t i = 0; i < n; i++) {
            const char *k;
            size_t kl;
            assert_int_equal(sl_mp_read_str(r, &k, &kl), 0);
            char kb[64];
            snprintf(kb, sizeof kb, "%.*s", (int)kl, k);
            s_leaves(r, kb, out);
        }
        return;
    }
    if (t == SL_MP_ARRAY) {
        uint32_t n;
        assert_int_equal(sl_mp_read_array(r, &n), 0);
        for (uint32_t i = 0; i < n; i++) {
            s_leaves(r, key, out);
        }
        return;
    }
    s_leaf_t leaf = {{0}, {0}};
    snprintf(leaf.key, sizeof leaf.key, "%s", key);
    if (t == SL_MP_STR) {
        const char *s;
        size_t len;
        assert_int_equal(sl_mp_read_str(r, &s, &len), 0);
        snprintf(leaf.val, sizeof leaf.val, "%.*s", (int)len, s);
    } else if (t == SL_MP_BOOL) {
        bool b;
        assert_int_equal(sl_mp_read_bool(r, &b), 0);
        snprintf(leaf.val, sizeof leaf.val, "%s", b ? "true" : "false");
    } else if (t == SL_MP_NIL) {
        assert_int_equal(sl_mp_read_nil(r), 0);
        snprintf(leaf.val, sizeof leaf.val, "nil");
    } else {
        int64_t i;
        assert_int_equal(sl_mp_read_int(r, &i), 0);
        snprintf(leaf.val, sizeof leaf.val, "%lld", (long long)i);
    }
    out->v = realloc(out->v, (out->n + 1) * sizeof(*out->v));
    out->v[out->n++] = leaf;
}

static bool s_has(const s_leaves_t *l, const char *key, const char *val)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].key, key) == 0 && strcmp(l->v[i].val, val) == 0) {
            return true;
        }
    }
    return false;
}

/* Checks that the view shows every field of rec as its row says. */
static void s_assert_shown(const sl_msg_desc_t *d, const void *rec, const s_leaves_t *l)
{
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        const s_view_row_t *row = s_row(d->name, f->name);
        const char *at = (const char *)rec + f->offset;
        char want[160];
        switch (row->how) {
        case V_HIDDEN:
            continue;
        case V_LIST: {
            const sl_msg_desc_t *ed = f->elem();
            sl_list_t items;
            memcpy(&items, at, sizeof items);
            for (size_t k = 0; k < items.n; k++) {
                s_assert_shown(ed, (const char *)items.v + k * ed->size, l);
            }
            continue;
        }
        case V_OUTCOME:
            snprintf(want, sizeof want, "%s", sl_outcome_name(*(const int32_t *)at));
            break;
        case V_SHOWN:
            switch (f->kind) {
            case SL_FK_U32:
                snprintf(want, sizeof want, "%u", *(const uint32_t *)at);
                break;
            case SL_FK_I32:
                snprintf(want, sizeof want, "%d", *(const int32_t *)at);
                break;
            case SL_FK_I64:
                snprintf(want, sizeof want, "%lld", (long long)*(const int64_t *)at);
                break;
            case SL_FK_BOOL:
                snprintf(want, sizeof want, "%s", *(const bool *)at ? "true" : "false");
                break;
            case SL_FK_STR:
                snprintf(want, sizeof want, "%s", *(char *const *)at);
                break;
            case SL_FK_ENUM:
                snprintf(want, sizeof want, "%s", f->en->name(*(const int32_t *)at));
                break;
            case SL_FK_STRS: {
                const sl_strs_t *s = (const void *)at;
                for (size_t k = 0; k < s->n; k++) {
                    if (!s_has(l, row->key, s->v[k])) {
                        fail_msg("%s.%s: the API view has no %s: %s", d->name, f->name, row->key,
                                 s->v[k]);
                    }
                }
                continue;
            }
            default:
                fail_msg("%s.%s: no rendering for this kind in the test", d->name, f->name);
            }
            break;
        }
        if (!s_has(l, row->key, want)) {
            fail_msg("%s.%s: the API view has no %s: %s", d->name, f->name, row->key, want);
        }
    }
}

static void s_view_leaves(sl_mp_writer_t *w, s_leaves_t *l)
{
    assert_int_equal(sl_mp_writer_error(w), 0);
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, sl_mp_writer_data(w), sl_mp_writer_len(w));
    s_leaves(&r, "", l);
    assert_true(sl_mp_reader_done(&r));
}

/* ---- the bare shard -------------------------------------------------------- */

static int s_setup(void **state)
{
    sl_pl_shard_t *sh = calloc(1, sizeof(*sh));
    sl_pipeline_config_init(&sh->cfg);
    snprintf(sh->name, sizeof sh->name, "pipeline.test");
    sl_mp_writer_init(&sh->ops);
    sl_mp_writer_init(&sh->events);
    *state = sh;
    return 0;
}

static int s_teardown(void **state)
{
    sl_pl_shard_t *sh = *state;
    sl_pl_intern_fini(sh);
    sl_mp_writer_fini(&sh->ops);
    sl_mp_writer_fini(&sh->events);
    free(sh);
    return 0;
}

/* Encodes rec and decodes it into out (a fresh struct). */
static void s_through_disk(const sl_msg_desc_t *d, const void *rec, void *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_codec_encode(d, rec, &buf, &len), 0);
    assert_int_equal(sl_codec_decode(d, buf, len, out), 0);
    free(buf);
}

/* ---- tasks ----------------------------------------------------------------- */

/* A task record with every field set, consistent where the shard derives
   one field from another. */
static void s_fill_task(sl_task_rec_t *in, sl_pl_pipe_t *p)
{
    rec_fill_reset();
    rec_fill(sl_task_rec_desc(), in);
    /* The id is the pipeline's id and the index (the shard rebuilds it). */
    char id[SL_TASK_ID_MAX];
    snprintf(id, sizeof id, "%s-t%04u", p->id, in->index);
    sl_str_set(&in->id, id);
    sl_str_set(&in->pipeline_id, p->id);
    in->app_number = 4242; /* the shard keeps app numbers in 32 bits */
    in->issues = 17;       /* and issue counts */
    for (size_t i = 0; i < in->history.n; i++) {
        sl_attempt_rec_t *a = &in->history.v[i];
        sl_str_set(&a->task_id, NULL); /* a history entry's task is its record's key */
        a->outcome = i ? SL_OUT_REJECTED : SL_OUT_TRANSPORT; /* shown by name */
    }
}

static void test_pipeline_rec_task_fields_carried(void **state)
{
    sl_pl_shard_t *sh = *state;
    sl_pl_pipe_t *p = sl_pl_pipe_new(sh, PID);
    sl_task_rec_t in, loaded, saved, back;
    s_fill_task(&in, p);

    /* load: disk -> record -> task */
    s_through_disk(sl_task_rec_desc(), &in, &loaded);
    sl_pl_task_t *t = sl_pl_task_from_rec(p, &loaded);
    assert_non_null(t);
    sl_task_rec_clear(&loaded);

    /* save: task -> record -> disk */
    char id[SL_TASK_ID_MAX];
    sl_pl_task_to_rec(t, &saved, id, sizeof id);
    s_through_disk(sl_task_rec_desc(), &saved, &back);
    rec_assert_same(sl_task_rec_desc(), &in, &back, "task");

    /* the API view (task.get) */
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_pl_view_task(&w, t, true);
    s_leaves_t leaves = {NULL, 0};
    s_view_leaves(&w, &leaves);
    s_assert_shown(sl_task_rec_desc(), &in, &leaves);
    free(leaves.v);
    sl_mp_writer_fini(&w);

    /* the DLQ entry carries every field it declares */
    sl_dlq_rec_t dq, dback, dzero;
    sl_mp_writer_init(&w);
    sl_pl_task_to_dlq_rec(t, 1700000999000, &dq, id, sizeof id, &w);
    s_through_disk(sl_dlq_rec_desc(), &dq, &dback);
    sl_dlq_rec_init(&dzero);
    const sl_msg_desc_t *dd = sl_dlq_rec_desc();
    for (size_t i = 0; i < dd->nfields; i++) {
        if (rec_field_same(&dd->fields[i], &dback, &dzero, "dlq")) {
            fail_msg("dlq.%s: not set when a task is parked", dd->fields[i].name);
        }
    }
    assert_string_equal(dback.task_id, in.id);
    assert_int_equal(dback.attempts, in.attempts);
    assert_int_equal(dback.returns, in.dlq_returns);
    assert_int_equal(dback.parked_ms, 1700000999000);
    rec_assert_same(sl_attempt_rec_desc(), &in.history.v[1], &dback.history.v[1], "dlq.history");

    sl_mp_writer_fini(&w);
    sl_dlq_rec_clear(&dback);
    sl_task_rec_clear(&back);
    sl_task_rec_clear(&in);
    sl_pl_task_free(t);
    sl_pl_pipe_free(p);
}

/* ---- pipelines ------------------------------------------------------------- */

static void test_pipeline_rec_pipeline_fields_carried(void **state)
{
    sl_pl_shard_t *sh = *state;
    sl_pipeline_rec_t in, loaded, saved, back;
    rec_fill_reset();
    rec_fill(sl_pipeline_rec_desc(), &in);
    sl_str_set(&in.id, PID);
    /* The request must be one the plan accepts; its terms come from the
       stored policy fields, so it names none itself. */
    uint8_t *req = NULL;
    size_t req_len = 0;
    assert_int_equal(pl_json_to_mp("{\"config\": {\"generation\": {\"mode\": \"existing\", "
                                   "\"existing_apps\": [{\"model\": \"m\", \"app_number\": 1}]}, "
                                   "\"analysis\": {\"tools\": [\"bandit\"]}}}",
                                   &req, &req_len),
                     0);
    sl_bytes_set(&in.request, req, req_len);
    free(req);

    s_through_disk(sl_pipeline_rec_desc(), &in, &loaded);
    sl_pl_pipe_t *p = sl_pl_pipe_new(sh, PID);
    assert_int_equal(sl_pl_pipe_from_rec(p, &loaded), 0);
    assert_non_null(p->plan);
    sl_pipeline_rec_clear(&loaded);

    sl_pl_pipe_to_rec(p, &saved);
    s_through_disk(sl_pipeline_rec_desc(), &saved, &back);
    rec_assert_same(sl_pipeline_rec_desc(), &in, &back, "pipeline");

    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_pl_view_pipe(&w, p);
    s_leaves_t leaves = {NULL, 0};
    s_view_leaves(&w, &leaves);
    s_assert_shown(sl_pipeline_rec_desc(), &in, &leaves);
    free(leaves.v);
    sl_mp_writer_fini(&w);

    sl_pipeline_rec_clear(&back);
    sl_pipeline_rec_clear(&in);
    sl_pl_pipe_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipeline_rec_task_fields_carried, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_rec_pipeline_fields_carried, s_setup,
                                        s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
