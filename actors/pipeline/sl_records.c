/*  sl_records.c: msgpack codec of the pipeline shard's stored records.

    One small table-driven codec serves the four record types: each record
    has a table of fields (key, kind, offset), and one encoder and one
    distrustful decoder walk the table. Enumerations (statuses, stages, kinds,
    services) are stored by name, so a stored record reads on its own and a
    renumbered enum cannot silently change its meaning. Runs on whatever
    thread calls it; no global mutable state.
*/
#include "actors/pipeline/sl_records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/pipeline/sl_plan.h"

/* ---- names --------------------------------------------------------------- */

static const char *const s_pstatus[SL_PS__COUNT] = {"pending",         "running", "completed",
                                                    "partial_success", "failed",  "cancelled"};
static const char *const s_stage[SL_STAGE__COUNT] = {"generation", "analysis", "done"};
static const char *const s_tstatus[SL_TS__COUNT] = {
    "pending", "queued", "running", "retry_wait", "succeeded", "failed", "cancelled", "dead"};
static const char *const s_tkind[SL_TK__COUNT] = {"generation", "analysis"};

static const char *s_name(const char *const *tab, int n, int v)
{
    if (v < 0 || v >= n) {
        return "unknown";
    }
    return tab[v];
}

static int s_parse(const char *const *tab, int n, const char *s, size_t len)
{
    for (int i = 0; i < n; i++) {
        if (sl_mp_str_eq(s, len, tab[i])) {
            return i;
        }
    }
    return SL_ENOTFOUND;
}

const char *sl_pstatus_name(int s)
{
    return s_name(s_pstatus, SL_PS__COUNT, s);
}
const char *sl_stage_name(int s)
{
    return s_name(s_stage, SL_STAGE__COUNT, s);
}
const char *sl_tstatus_name(int s)
{
    return s_name(s_tstatus, SL_TS__COUNT, s);
}
const char *sl_tkind_name(int k)
{
    return s_name(s_tkind, SL_TK__COUNT, k);
}
int sl_pstatus_parse(const char *s, size_t len)
{
    return s_parse(s_pstatus, SL_PS__COUNT, s, len);
}
int sl_stage_parse(const char *s, size_t len)
{
    return s_parse(s_stage, SL_STAGE__COUNT, s, len);
}
int sl_tstatus_parse(const char *s, size_t len)
{
    return s_parse(s_tstatus, SL_TS__COUNT, s, len);
}
int sl_tkind_parse(const char *s, size_t len)
{
    return s_parse(s_tkind, SL_TK__COUNT, s, len);
}

static int s_service_parse(const char *s, size_t len)
{
    return sl_service_parse(s, len);
}

/* ---- the table-driven codec ---------------------------------------------- */

typedef enum {
    F_STR = 1, /* char * */
    F_I64,     /* int64_t */
    F_I32,     /* int32_t */
    F_U32,     /* uint32_t */
    F_BOOL,    /* bool */
    F_DBL,     /* double */
    F_BIN,     /* uint8_t * at off, size_t at off2 */
    F_STRS,    /* sl_strs_t */
    F_HIST,    /* sl_attempt_rec_t * at off, uint32_t count at off2 */
    F_ENUM     /* int32_t stored by name through name/parse */
} s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    bool req;
    size_t off;
    size_t off2;
    const char *(*name)(int);
    int (*parse)(const char *, size_t);
} s_field_t;

#define AT(p, off, type) ((type *)((char *)(p) + (off)))
#define CAT(p, off, type) ((const type *)((const char *)(p) + (off)))

static int s_write_fields(const s_field_t *f, size_t nf, const void *rec, sl_mp_writer_t *w);
static int s_read_fields(const s_field_t *f, size_t nf, sl_mp_reader_t *r, void *rec);
static void s_clear_fields(const s_field_t *f, size_t nf, void *rec);

#define OFF(T, m) offsetof(T, m)

static const s_field_t s_attempt_fields[] = {
    {"task_id", F_STR, false, OFF(sl_attempt_rec_t, task_id), 0, NULL, NULL},
    {"attempt", F_U32, true, OFF(sl_attempt_rec_t, attempt), 0, NULL, NULL},
    {"replica", F_STR, false, OFF(sl_attempt_rec_t, replica), 0, NULL, NULL},
    {"started_ms", F_I64, false, OFF(sl_attempt_rec_t, started_ms), 0, NULL, NULL},
    {"ended_ms", F_I64, false, OFF(sl_attempt_rec_t, ended_ms), 0, NULL, NULL},
    {"outcome", F_I32, false, OFF(sl_attempt_rec_t, outcome), 0, NULL, NULL},
    {"error", F_STR, false, OFF(sl_attempt_rec_t, error), 0, NULL, NULL},
    {"last_stage", F_STR, false, OFF(sl_attempt_rec_t, last_stage), 0, NULL, NULL},
    {"last_pct", F_I32, false, OFF(sl_attempt_rec_t, last_pct), 0, NULL, NULL},
    {"last_message", F_STR, false, OFF(sl_attempt_rec_t, last_message), 0, NULL, NULL},
    {"last_checkpoint", F_STR, false, OFF(sl_attempt_rec_t, last_checkpoint), 0, NULL, NULL},
};
#define N_ATTEMPT (sizeof(s_attempt_fields) / sizeof(s_attempt_fields[0]))

static const s_field_t s_task_fields[] = {
    {"id", F_STR, true, OFF(sl_task_rec_t, id), 0, NULL, NULL},
    {"pipeline_id", F_STR, true, OFF(sl_task_rec_t, pipeline_id), 0, NULL, NULL},
    {"index", F_U32, true, OFF(sl_task_rec_t, index), 0, NULL, NULL},
    {"kind", F_ENUM, true, OFF(sl_task_rec_t, kind), 0, sl_tkind_name, sl_tkind_parse},
    {"service", F_ENUM, true, OFF(sl_task_rec_t, service), 0, sl_service_name, s_service_parse},
    {"status", F_ENUM, true, OFF(sl_task_rec_t, status), 0, sl_tstatus_name, sl_tstatus_parse},
    {"model", F_STR, false, OFF(sl_task_rec_t, model), 0, NULL, NULL},
    {"template", F_STR, false, OFF(sl_task_rec_t, template_slug), 0, NULL, NULL},
    {"app_number", F_I64, false, OFF(sl_task_rec_t, app_number), 0, NULL, NULL},
    {"attempts", F_U32, false, OFF(sl_task_rec_t, attempts), 0, NULL, NULL},
    {"attempt_base", F_U32, false, OFF(sl_task_rec_t, attempt_base), 0, NULL, NULL},
    {"dlq_returns", F_U32, false, OFF(sl_task_rec_t, dlq_returns), 0, NULL, NULL},
    {"in_dlq", F_BOOL, false, OFF(sl_task_rec_t, in_dlq), 0, NULL, NULL},
    {"redispatch", F_BOOL, false, OFF(sl_task_rec_t, redispatch), 0, NULL, NULL},
    {"timeout_permille", F_U32, false, OFF(sl_task_rec_t, timeout_permille), 0, NULL, NULL},
    {"outcome", F_I32, false, OFF(sl_task_rec_t, outcome), 0, NULL, NULL},
    {"created_ms", F_I64, false, OFF(sl_task_rec_t, created_ms), 0, NULL, NULL},
    {"updated_ms", F_I64, false, OFF(sl_task_rec_t, updated_ms), 0, NULL, NULL},
    {"deadline_ms", F_I64, false, OFF(sl_task_rec_t, deadline_ms), 0, NULL, NULL},
    {"retry_at_ms", F_I64, false, OFF(sl_task_rec_t, retry_at_ms), 0, NULL, NULL},
    {"error", F_STR, false, OFF(sl_task_rec_t, error), 0, NULL, NULL},
    {"progress_stage", F_STR, false, OFF(sl_task_rec_t, progress_stage), 0, NULL, NULL},
    {"progress_pct", F_I32, false, OFF(sl_task_rec_t, progress_pct), 0, NULL, NULL},
    {"progress_message", F_STR, false, OFF(sl_task_rec_t, progress_message), 0, NULL, NULL},
    {"exclude", F_STRS, false, OFF(sl_task_rec_t, exclude), 0, NULL, NULL},
    {"history", F_HIST, false, OFF(sl_task_rec_t, history), OFF(sl_task_rec_t, nhistory), NULL,
     NULL},
};
#define N_TASK (sizeof(s_task_fields) / sizeof(s_task_fields[0]))

static const s_field_t s_pipeline_fields[] = {
    {"id", F_STR, true, OFF(sl_pipeline_rec_t, id), 0, NULL, NULL},
    {"name", F_STR, false, OFF(sl_pipeline_rec_t, name), 0, NULL, NULL},
    {"status", F_ENUM, true, OFF(sl_pipeline_rec_t, status), 0, sl_pstatus_name, sl_pstatus_parse},
    {"stage", F_ENUM, true, OFF(sl_pipeline_rec_t, stage), 0, sl_stage_name, sl_stage_parse},
    {"user_cancelled", F_BOOL, false, OFF(sl_pipeline_rec_t, user_cancelled), 0, NULL, NULL},
    {"created_ms", F_I64, false, OFF(sl_pipeline_rec_t, created_ms), 0, NULL, NULL},
    {"started_ms", F_I64, false, OFF(sl_pipeline_rec_t, started_ms), 0, NULL, NULL},
    {"completed_ms", F_I64, false, OFF(sl_pipeline_rec_t, completed_ms), 0, NULL, NULL},
    {"stage_started_ms", F_I64, false, OFF(sl_pipeline_rec_t, stage_started_ms), 0, NULL, NULL},
    {"stage_deadline_ms", F_I64, false, OFF(sl_pipeline_rec_t, stage_deadline_ms), 0, NULL, NULL},
    {"pipeline_deadline_ms", F_I64, false, OFF(sl_pipeline_rec_t, pipeline_deadline_ms), 0, NULL,
     NULL},
    {"error", F_STR, false, OFF(sl_pipeline_rec_t, error), 0, NULL, NULL},
    {"ntasks", F_U32, false, OFF(sl_pipeline_rec_t, ntasks), 0, NULL, NULL},
    {"task_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, task_timeout_ms), 0, NULL, NULL},
    {"stage_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, stage_timeout_ms), 0, NULL, NULL},
    {"pipeline_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, pipeline_timeout_ms), 0, NULL,
     NULL},
    {"attempt_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, attempt_timeout_ms), 0, NULL, NULL},
    {"progress_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, progress_timeout_ms), 0, NULL,
     NULL},
    {"queue_timeout_ms", F_I64, false, OFF(sl_pipeline_rec_t, queue_timeout_ms), 0, NULL, NULL},
    {"max_attempts", F_U32, false, OFF(sl_pipeline_rec_t, max_attempts), 0, NULL, NULL},
    {"backoff_initial_ms", F_I64, false, OFF(sl_pipeline_rec_t, backoff_initial_ms), 0, NULL, NULL},
    {"backoff_max_ms", F_I64, false, OFF(sl_pipeline_rec_t, backoff_max_ms), 0, NULL, NULL},
    {"backoff_coefficient", F_DBL, false, OFF(sl_pipeline_rec_t, backoff_coefficient), 0, NULL,
     NULL},
    {"request", F_BIN, false, OFF(sl_pipeline_rec_t, request), OFF(sl_pipeline_rec_t, request_len),
     NULL, NULL},
};
#define N_PIPELINE (sizeof(s_pipeline_fields) / sizeof(s_pipeline_fields[0]))

static const s_field_t s_dlq_fields[] = {
    {"task_id", F_STR, true, OFF(sl_dlq_rec_t, task_id), 0, NULL, NULL},
    {"pipeline_id", F_STR, true, OFF(sl_dlq_rec_t, pipeline_id), 0, NULL, NULL},
    {"service", F_STR, false, OFF(sl_dlq_rec_t, service), 0, NULL, NULL},
    {"attempts", F_U32, false, OFF(sl_dlq_rec_t, attempts), 0, NULL, NULL},
    {"returns", F_U32, false, OFF(sl_dlq_rec_t, returns), 0, NULL, NULL},
    {"parked_at", F_I64, false, OFF(sl_dlq_rec_t, parked_ms), 0, NULL, NULL},
    {"error", F_STR, false, OFF(sl_dlq_rec_t, error), 0, NULL, NULL},
    {"history", F_HIST, false, OFF(sl_dlq_rec_t, history), OFF(sl_dlq_rec_t, nhistory), NULL, NULL},
};
#define N_DLQ (sizeof(s_dlq_fields) / sizeof(s_dlq_fields[0]))

/* Whether a field is written: absent strings, empty lists and bins are left
   out, numbers are always written (0 is a value). */
static bool s_present(const s_field_t *f, const void *rec)
{
    switch (f->kind) {
    case F_STR:
        return *CAT(rec, f->off, char *) != NULL;
    case F_BIN:
        return *CAT(rec, f->off2, size_t) > 0;
    case F_STRS:
        return CAT(rec, f->off, sl_strs_t)->n > 0;
    case F_HIST:
        return *CAT(rec, f->off2, uint32_t) > 0;
    default:
        return true;
    }
}

static int s_write_fields(const s_field_t *f, size_t nf, const void *rec, sl_mp_writer_t *w)
{
    uint32_t n = 0;
    for (size_t i = 0; i < nf; i++) {
        if (s_present(&f[i], rec)) {
            n++;
        }
    }
    sl_mp_write_map(w, n);
    for (size_t i = 0; i < nf; i++) {
        if (!s_present(&f[i], rec)) {
            continue;
        }
        sl_mp_write_str(w, f[i].key);
        switch (f[i].kind) {
        case F_STR: {
            const char *s = *CAT(rec, f[i].off, char *);
            size_t len = strlen(s);
            /* Stored strings are bounded so a record we write is one we read. */
            sl_mp_write_strn(w, s, len > SL_REC_MAX_STR ? SL_REC_MAX_STR : len);
            break;
        }
        case F_I64:
            sl_mp_write_int(w, *CAT(rec, f[i].off, int64_t));
            break;
        case F_I32:
            sl_mp_write_int(w, *CAT(rec, f[i].off, int32_t));
            break;
        case F_U32:
            sl_mp_write_uint(w, *CAT(rec, f[i].off, uint32_t));
            break;
        case F_BOOL:
            sl_mp_write_bool(w, *CAT(rec, f[i].off, bool));
            break;
        case F_DBL:
            sl_mp_write_double(w, *CAT(rec, f[i].off, double));
            break;
        case F_ENUM:
            sl_mp_write_str(w, f[i].name(*CAT(rec, f[i].off, int32_t)));
            break;
        case F_BIN:
            if (*CAT(rec, f[i].off2, size_t) > SL_REC_MAX_REQUEST) {
                return SL_ETOOBIG;
            }
            sl_mp_write_bin(w, *CAT(rec, f[i].off, uint8_t *), *CAT(rec, f[i].off2, size_t));
            break;
        case F_STRS: {
            const sl_strs_t *l = CAT(rec, f[i].off, sl_strs_t);
            size_t n2 = l->n > SL_REC_MAX_EXCLUDE ? SL_REC_MAX_EXCLUDE : l->n;
            sl_mp_write_array(w, (uint32_t)n2);
            for (size_t j = 0; j < n2; j++) {
                size_t len = strlen(l->v[j]);
                sl_mp_write_strn(w, l->v[j], len > SL_REC_MAX_STR ? SL_REC_MAX_STR : len);
            }
            break;
        }
        case F_HIST: {
            const sl_attempt_rec_t *h = *CAT(rec, f[i].off, sl_attempt_rec_t *);
            uint32_t nh = *CAT(rec, f[i].off2, uint32_t);
            /* Keep the newest attempts when a task has retried for ever. */
            uint32_t skip = nh > SL_REC_MAX_HISTORY ? nh - SL_REC_MAX_HISTORY : 0;
            sl_mp_write_array(w, nh - skip);
            for (uint32_t j = skip; j < nh; j++) {
                int rc = s_write_fields(s_attempt_fields, N_ATTEMPT, &h[j], w);
                if (rc < 0) {
                    return rc;
                }
            }
            break;
        }
        }
    }
    return sl_mp_writer_error(w);
}

static int s_read_strs(sl_mp_reader_t *r, sl_strs_t *out)
{
    uint32_t n;
    int rc = sl_mp_read_array(r, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > SL_REC_MAX_EXCLUDE) {
        return SL_ETOOBIG;
    }
    for (uint32_t i = 0; i < n; i++) {
        char *s = NULL;
        rc = sl_mp_read_strdup(r, SL_REC_MAX_STR, &s);
        if (rc < 0) {
            return rc;
        }
        rc = sl_strs_push(out, s);
        free(s);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static void s_attempt_defaults(sl_attempt_rec_t *a)
{
    memset(a, 0, sizeof(*a));
    a->outcome = -1;
    a->last_pct = -1;
}

static int s_read_hist(sl_mp_reader_t *r, sl_attempt_rec_t **out, uint32_t *nout)
{
    uint32_t n;
    int rc = sl_mp_read_array(r, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > SL_REC_MAX_HISTORY) {
        return SL_ETOOBIG;
    }
    if (n == 0) {
        return 0;
    }
    sl_attempt_rec_t *h = calloc(n, sizeof(*h));
    if (!h) {
        return SL_ENOMEM;
    }
    *out = h;
    for (uint32_t i = 0; i < n; i++) {
        s_attempt_defaults(&h[i]);
        *nout = i + 1; /* counted first: a half-read entry is cleared too */
        rc = s_read_fields(s_attempt_fields, N_ATTEMPT, r, &h[i]);
        if (rc < 0) {
            return rc; /* the caller clears the entries read so far */
        }
    }
    return 0;
}

static int s_read_value(const s_field_t *f, sl_mp_reader_t *r, void *rec)
{
    int rc;
    switch (f->kind) {
    case F_STR:
        return sl_mp_read_strdup(r, SL_REC_MAX_STR, AT(rec, f->off, char *));
    case F_I64:
        return sl_mp_read_int(r, AT(rec, f->off, int64_t));
    case F_I32:
    case F_U32: {
        int64_t v;
        rc = sl_mp_read_int(r, &v);
        if (rc < 0) {
            return rc;
        }
        if (f->kind == F_I32) {
            if (v < INT32_MIN || v > INT32_MAX) {
                return SL_ETOOBIG;
            }
            *AT(rec, f->off, int32_t) = (int32_t)v;
        } else {
            if (v < 0) {
                return SL_EPROTO;
            }
            if (v > UINT32_MAX) {
                return SL_ETOOBIG;
            }
            *AT(rec, f->off, uint32_t) = (uint32_t)v;
        }
        return 0;
    }
    case F_BOOL:
        return sl_mp_read_bool(r, AT(rec, f->off, bool));
    case F_DBL:
        return sl_mp_read_double(r, AT(rec, f->off, double));
    case F_ENUM: {
        const char *s;
        size_t len;
        rc = sl_mp_read_str(r, &s, &len);
        if (rc < 0) {
            return rc;
        }
        int v = f->parse(s, len);
        if (v < 0) {
            return SL_EPROTO;
        }
        *AT(rec, f->off, int32_t) = v;
        return 0;
    }
    case F_BIN: {
        const uint8_t *p;
        size_t len;
        rc = sl_mp_read_bin(r, &p, &len);
        if (rc < 0) {
            return rc;
        }
        if (len > SL_REC_MAX_REQUEST) {
            return SL_ETOOBIG;
        }
        uint8_t *copy = malloc(len ? len : 1);
        if (!copy) {
            return SL_ENOMEM;
        }
        if (len) {
            memcpy(copy, p, len);
        }
        *AT(rec, f->off, uint8_t *) = copy;
        *AT(rec, f->off2, size_t) = len;
        return 0;
    }
    case F_STRS:
        return s_read_strs(r, AT(rec, f->off, sl_strs_t));
    case F_HIST:
        return s_read_hist(r, AT(rec, f->off, sl_attempt_rec_t *), AT(rec, f->off2, uint32_t));
    }
    return SL_EPROTO;
}

/* Reads one map into rec. rec must hold its defaults; on error the caller
   clears it. */
static int s_read_fields(const s_field_t *f, size_t nf, sl_mp_reader_t *r, void *rec)
{
    uint32_t n;
    int rc = sl_mp_read_map(r, &n);
    if (rc < 0) {
        return rc;
    }
    uint64_t seen = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        rc = sl_mp_read_str(r, &k, &klen);
        if (rc < 0) {
            return rc;
        }
        size_t j = 0;
        while (j < nf && !sl_mp_str_eq(k, klen, f[j].key)) {
            j++;
        }
        if (j == nf) {
            rc = sl_mp_skip(r); /* a newer writer's field */
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        if (seen & (1ull << j)) {
            return SL_EPROTO;
        }
        seen |= 1ull << j;
        if (sl_mp_peek(r) == SL_MP_NIL) {
            sl_mp_read_nil(r);
            seen &= ~(1ull << j);
            continue;
        }
        rc = s_read_value(&f[j], r, rec);
        if (rc < 0) {
            return rc;
        }
    }
    for (size_t j = 0; j < nf; j++) {
        if (f[j].req && !(seen & (1ull << j))) {
            return SL_EMISSING;
        }
    }
    return 0;
}

static void s_clear_fields(const s_field_t *f, size_t nf, void *rec)
{
    for (size_t i = 0; i < nf; i++) {
        switch (f[i].kind) {
        case F_STR:
            free(*AT(rec, f[i].off, char *));
            *AT(rec, f[i].off, char *) = NULL;
            break;
        case F_BIN:
            free(*AT(rec, f[i].off, uint8_t *));
            *AT(rec, f[i].off, uint8_t *) = NULL;
            *AT(rec, f[i].off2, size_t) = 0;
            break;
        case F_STRS:
            sl_strs_clear(AT(rec, f[i].off, sl_strs_t));
            break;
        case F_HIST: {
            sl_attempt_rec_t *h = *AT(rec, f[i].off, sl_attempt_rec_t *);
            uint32_t nh = *AT(rec, f[i].off2, uint32_t);
            for (uint32_t j = 0; j < nh; j++) {
                s_clear_fields(s_attempt_fields, N_ATTEMPT, &h[j]);
            }
            free(h);
            *AT(rec, f[i].off, sl_attempt_rec_t *) = NULL;
            *AT(rec, f[i].off2, uint32_t) = 0;
            break;
        }
        default:
            break;
        }
    }
}

static int s_encode(const s_field_t *f, size_t nf, const void *rec, uint8_t **out, size_t *len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    int rc = s_write_fields(f, nf, rec, &w);
    if (rc < 0) {
        sl_mp_writer_fini(&w);
        return rc;
    }
    return sl_mp_writer_release(&w, out, len);
}

static int s_decode(const s_field_t *f, size_t nf, const uint8_t *buf, size_t len, void *rec,
                    size_t size)
{
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    int rc = s_read_fields(f, nf, &r, rec);
    if (rc == 0 && !sl_mp_reader_done(&r)) {
        rc = SL_ETRAILING;
    }
    if (rc < 0) {
        s_clear_fields(f, nf, rec);
        memset(rec, 0, size);
    }
    return rc;
}

/* ---- attempt ------------------------------------------------------------- */

int sl_attempt_rec_write(const sl_attempt_rec_t *self, sl_mp_writer_t *w)
{
    return s_write_fields(s_attempt_fields, N_ATTEMPT, self, w);
}

int sl_attempt_rec_encode(const sl_attempt_rec_t *self, uint8_t **out, size_t *len)
{
    return s_encode(s_attempt_fields, N_ATTEMPT, self, out, len);
}

int sl_attempt_rec_read(sl_mp_reader_t *r, sl_attempt_rec_t *out)
{
    s_attempt_defaults(out);
    int rc = s_read_fields(s_attempt_fields, N_ATTEMPT, r, out);
    if (rc < 0) {
        sl_attempt_rec_clear(out);
    }
    return rc;
}

int sl_attempt_rec_decode(const uint8_t *buf, size_t len, sl_attempt_rec_t *out)
{
    s_attempt_defaults(out);
    return s_decode(s_attempt_fields, N_ATTEMPT, buf, len, out, sizeof(*out));
}

void sl_attempt_rec_clear(sl_attempt_rec_t *self)
{
    if (!self) {
        return;
    }
    s_clear_fields(s_attempt_fields, N_ATTEMPT, self);
    memset(self, 0, sizeof(*self));
}

int sl_attempt_rec_copy(sl_attempt_rec_t *dst, const sl_attempt_rec_t *src)
{
    *dst = *src;
    dst->task_id = sl_strdup_or_null(src->task_id);
    dst->replica = sl_strdup_or_null(src->replica);
    dst->error = sl_strdup_or_null(src->error);
    dst->last_stage = sl_strdup_or_null(src->last_stage);
    dst->last_message = sl_strdup_or_null(src->last_message);
    dst->last_checkpoint = sl_strdup_or_null(src->last_checkpoint);
    if ((src->task_id && !dst->task_id) || (src->replica && !dst->replica) ||
        (src->error && !dst->error) || (src->last_stage && !dst->last_stage) ||
        (src->last_message && !dst->last_message) ||
        (src->last_checkpoint && !dst->last_checkpoint)) {
        sl_attempt_rec_clear(dst);
        return SL_ENOMEM;
    }
    return 0;
}

int sl_attempt_key(char *buf, size_t cap, const char *task_id, uint32_t attempt)
{
    int n = snprintf(buf, cap, "%s-a%02u", task_id, attempt);
    if (n < 0 || (size_t)n >= cap) {
        return SL_ETOOBIG;
    }
    return 0;
}

/* ---- task ---------------------------------------------------------------- */

int sl_task_rec_encode(const sl_task_rec_t *self, uint8_t **out, size_t *len)
{
    return s_encode(s_task_fields, N_TASK, self, out, len);
}

int sl_task_rec_decode(const uint8_t *buf, size_t len, sl_task_rec_t *out)
{
    memset(out, 0, sizeof(*out));
    out->app_number = -1;
    out->outcome = -1;
    out->progress_pct = -1;
    out->timeout_permille = 1000;
    return s_decode(s_task_fields, N_TASK, buf, len, out, sizeof(*out));
}

void sl_task_rec_clear(sl_task_rec_t *self)
{
    if (!self) {
        return;
    }
    s_clear_fields(s_task_fields, N_TASK, self);
    memset(self, 0, sizeof(*self));
}

/* ---- pipeline ------------------------------------------------------------ */

int sl_pipeline_rec_encode(const sl_pipeline_rec_t *self, uint8_t **out, size_t *len)
{
    return s_encode(s_pipeline_fields, N_PIPELINE, self, out, len);
}

int sl_pipeline_rec_decode(const uint8_t *buf, size_t len, sl_pipeline_rec_t *out)
{
    memset(out, 0, sizeof(*out));
    return s_decode(s_pipeline_fields, N_PIPELINE, buf, len, out, sizeof(*out));
}

void sl_pipeline_rec_clear(sl_pipeline_rec_t *self)
{
    if (!self) {
        return;
    }
    s_clear_fields(s_pipeline_fields, N_PIPELINE, self);
    memset(self, 0, sizeof(*self));
}

/* ---- DLQ ----------------------------------------------------------------- */

int sl_dlq_rec_encode(const sl_dlq_rec_t *self, uint8_t **out, size_t *len)
{
    return s_encode(s_dlq_fields, N_DLQ, self, out, len);
}

int sl_dlq_rec_decode(const uint8_t *buf, size_t len, sl_dlq_rec_t *out)
{
    memset(out, 0, sizeof(*out));
    return s_decode(s_dlq_fields, N_DLQ, buf, len, out, sizeof(*out));
}

void sl_dlq_rec_clear(sl_dlq_rec_t *self)
{
    if (!self) {
        return;
    }
    s_clear_fields(s_dlq_fields, N_DLQ, self);
    memset(self, 0, sizeof(*self));
}
