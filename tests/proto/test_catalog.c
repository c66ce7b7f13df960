/*  test_catalog.c: unit tests for the message catalog codec (proto/
    sl_catalog). Single-threaded. The cases walk the descriptor tables, so a
    message type appended to sl_catalog.def is covered without touching this
    file: round trips with every field set and with only the required ones,
    every truncation, wrong types, missing/duplicate/nil keys, huge declared
    lengths, limits, and the malformed corpus in tests/data/malformed/.
*/
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sl_catalog.h"

/* A valid RAW value: {"k": [1, "x"], "n": nil}. */
static const uint8_t s_raw[] = {0x82, 0xa1, 'k', 0x92, 0x01, 0xa1, 'x', 0xa1, 'n', 0xc0};
/* An ITEMS value: an array of two maps. */
static const uint8_t s_items[] = {0x92, 0x81, 0xa1, 'k', 0x01, 0x80};

/* ---- helpers: fill and compare structs generically ------------------------ */

/* Sets field i of m to a value that differs per field and exercises the
   edges of its kind. */
static void s_fill_field(const sl_field_desc_t *f, size_t i, char *m)
{
    void *at = m + f->offset;
    char str[64];
    snprintf(str, sizeof str, "value of %s \xc3\xa9", f->name);
    switch (f->kind) {
    case SL_FK_U64:
        *(uint64_t *)at = UINT64_MAX - i;
        break;
    case SL_FK_I64:
        *(int64_t *)at = INT64_MIN + (int64_t)i;
        break;
    case SL_FK_BOOL:
        *(bool *)at = true;
        break;
    case SL_FK_DBL:
        *(double *)at = -1.25 * (double)(i + 1);
        break;
    case SL_FK_STR:
        assert_int_equal(sl_str_set((char **)at, str), 0);
        break;
    case SL_FK_BIN: {
        uint8_t bytes[] = {0x00, 0xc1, 0xff, (uint8_t)i};
        assert_int_equal(sl_bytes_set(at, bytes, sizeof bytes), 0);
        break;
    }
    case SL_FK_STRS:
        assert_int_equal(sl_strs_push(at, str), 0);
        assert_int_equal(sl_strs_push(at, ""), 0);
        assert_int_equal(sl_strs_push(at, f->name), 0);
        break;
    case SL_FK_RAW:
        assert_int_equal(sl_bytes_set(at, s_raw, sizeof s_raw), 0);
        break;
    case SL_FK_U32:
        *(uint32_t *)at = UINT32_MAX - (uint32_t)i;
        break;
    case SL_FK_I32:
        *(int32_t *)at = INT32_MIN + (int32_t)i;
        break;
    case SL_FK_ITEMS:
        assert_int_equal(sl_bytes_set(at, s_items, sizeof s_items), 0);
        break;
    case SL_FK_ENUM:
    case SL_FK_LIST:
        fail_msg("%s: no message used this kind when this test was written: extend it", f->name);
        break;
    }
}

/* A new struct of type d with all fields set (required_only: only REQ). */
static void *s_make(const sl_msg_desc_t *d, bool required_only)
{
    char *m = calloc(1, d->size);
    assert_non_null(m);
    for (size_t i = 0; i < d->nfields; i++) {
        if (!required_only || d->fields[i].required) {
            s_fill_field(&d->fields[i], i, m);
        }
    }
    return m;
}

/* s_make, encoded: the struct (caller clears and frees) and its body in
   buf (caller frees). */
static void *s_make_encoded(const sl_msg_desc_t *d, bool required_only, uint8_t **buf, size_t *len)
{
    void *m = s_make(d, required_only);
    assert_int_equal(sl_msg_encode_buf(d->type, m, buf, len), 0);
    return m;
}

static void s_assert_equal(const sl_msg_desc_t *d, const char *a, const char *b)
{
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        const void *x = a + f->offset;
        const void *y = b + f->offset;
        switch (f->kind) {
        case SL_FK_U64:
            assert_true(*(const uint64_t *)x == *(const uint64_t *)y);
            break;
        case SL_FK_I64:
            assert_true(*(const int64_t *)x == *(const int64_t *)y);
            break;
        case SL_FK_BOOL:
            assert_true(*(const bool *)x == *(const bool *)y);
            break;
        case SL_FK_DBL:
            assert_true(*(const double *)x == *(const double *)y);
            break;
        case SL_FK_STR: {
            const char *s = *(char *const *)x;
            const char *t = *(char *const *)y;
            if (!s || !t) {
                assert_true(s == t);
            } else {
                assert_string_equal(s, t);
            }
            break;
        }
        case SL_FK_BIN:
        case SL_FK_RAW:
        case SL_FK_ITEMS: {
            const sl_bytes_t *s = x;
            const sl_bytes_t *t = y;
            assert_int_equal(s->len, t->len);
            if (s->len) {
                assert_memory_equal(s->ptr, t->ptr, s->len);
            }
            break;
        }
        case SL_FK_STRS: {
            const sl_strs_t *s = x;
            const sl_strs_t *t = y;
            assert_int_equal(s->n, t->n);
            for (size_t k = 0; k < s->n; k++) {
                assert_string_equal(s->v[k], t->v[k]);
            }
            break;
        }
        case SL_FK_U32:
            assert_true(*(const uint32_t *)x == *(const uint32_t *)y);
            break;
        case SL_FK_I32:
        case SL_FK_ENUM:
            assert_true(*(const int32_t *)x == *(const int32_t *)y);
            break;
        case SL_FK_LIST:
            fail_msg("%s: no message used this kind when this test was written: extend it",
                     f->name);
            break;
        }
    }
}

static bool s_all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i]) {
            return false;
        }
    }
    return true;
}

/* Writes a correct value for field f. */
static void s_write_good(sl_mp_writer_t *w, const sl_field_desc_t *f)
{
    switch (f->kind) {
    case SL_FK_U64:
        sl_mp_write_uint(w, 7);
        break;
    case SL_FK_I64:
        sl_mp_write_int(w, -7);
        break;
    case SL_FK_BOOL:
        sl_mp_write_bool(w, true);
        break;
    case SL_FK_DBL:
        sl_mp_write_double(w, 0.5);
        break;
    case SL_FK_STR:
        sl_mp_write_str(w, "ok");
        break;
    case SL_FK_BIN:
        sl_mp_write_bin(w, "ok", 2);
        break;
    case SL_FK_STRS:
        sl_mp_write_array(w, 1);
        sl_mp_write_str(w, "ok");
        break;
    case SL_FK_RAW:
        sl_mp_write_raw(w, s_raw, sizeof s_raw);
        break;
    case SL_FK_U32:
        sl_mp_write_uint(w, 7);
        break;
    case SL_FK_I32:
        sl_mp_write_int(w, -7);
        break;
    case SL_FK_ITEMS:
        sl_mp_write_raw(w, s_items, sizeof s_items);
        break;
    case SL_FK_ENUM:
    case SL_FK_LIST:
        fail_msg("%s: no message used this kind when this test was written: extend it", f->name);
        break;
    }
}

/* Wrong-type values, by the kind they are wrong for; a kind's variants are
   its rows in order. RAW has none: any well-formed object is a valid RAW;
   ITEMS must be an array (its items are read by their user).
   Adding a wrong value: one row. */
typedef enum {
    V_STR,        /* str s */
    V_STRN,       /* str of n bytes from s (may hold a NUL) */
    V_INT,        /* int i */
    V_DBL,        /* double d */
    V_BOOL,       /* bool i != 0 */
    V_BIN,        /* bin of n bytes from s */
    V_ARRAY,      /* an array header for n items, and no items */
    V_MAP,        /* a map header for n pairs, and no pairs */
    V_ARRAY_STRN, /* [str of n bytes from s] */
    V_ARRAY_OK_I, /* ["ok", i]: an array holding a non-str */
} s_vtag_t;

typedef struct {
    sl_field_kind_t kind;
    s_vtag_t tag;
    const char *s;
    size_t n;
    int64_t i;
    double d;
} s_bad_t;

static const s_bad_t s_bad[] = {
    {SL_FK_U64, V_STR, .s = "1"},
    {SL_FK_U64, V_INT, .i = -1},
    {SL_FK_U64, V_DBL, .d = 1.0},
    {SL_FK_I64, V_STR, .s = "1"},
    {SL_FK_I64, V_BOOL, .i = 1},
    {SL_FK_BOOL, V_INT, .i = 1},
    {SL_FK_BOOL, V_STR, .s = "true"},
    {SL_FK_DBL, V_STR, .s = "1.0"},
    {SL_FK_DBL, V_ARRAY, .n = 0},
    {SL_FK_STR, V_INT, .i = 5},
    {SL_FK_STR, V_BIN, .s = "ab", .n = 2},
    {SL_FK_STR, V_STRN, .s = "a\0b", .n = 3}, /* embedded NUL */
    {SL_FK_STR, V_MAP, .n = 0},
    {SL_FK_BIN, V_STR, .s = "ab"},
    {SL_FK_BIN, V_INT, .i = 0},
    {SL_FK_STRS, V_STR, .s = "ab"},
    {SL_FK_STRS, V_ARRAY_OK_I, .i = 1},
    {SL_FK_STRS, V_ARRAY_STRN, .s = "a\0", .n = 2},
    {SL_FK_ITEMS, V_MAP, .n = 0},
    {SL_FK_ITEMS, V_STR, .s = "[]"},
};

/* Writes the wrong value for field f that variant v names; false when the
   kind has no further wrong variant. */
static bool s_write_bad(sl_mp_writer_t *w, const sl_field_desc_t *f, int v)
{
    const s_bad_t *b = NULL;
    for (size_t k = 0; k < sizeof s_bad / sizeof s_bad[0] && !b; k++) {
        if (s_bad[k].kind == f->kind && v-- == 0) {
            b = &s_bad[k];
        }
    }
    if (!b) {
        return false;
    }
    switch (b->tag) {
    case V_STR:
        return sl_mp_write_str(w, b->s) == 0;
    case V_STRN:
        return sl_mp_write_strn(w, b->s, b->n) == 0;
    case V_INT:
        return sl_mp_write_int(w, b->i) == 0;
    case V_DBL:
        return sl_mp_write_double(w, b->d) == 0;
    case V_BOOL:
        return sl_mp_write_bool(w, b->i != 0) == 0;
    case V_BIN:
        return sl_mp_write_bin(w, b->s, b->n) == 0;
    case V_ARRAY:
        return sl_mp_write_array(w, (uint32_t)b->n) == 0;
    case V_MAP:
        return sl_mp_write_map(w, (uint32_t)b->n) == 0;
    case V_ARRAY_STRN:
        sl_mp_write_array(w, 1);
        return sl_mp_write_strn(w, b->s, b->n) == 0;
    case V_ARRAY_OK_I:
        sl_mp_write_array(w, 2);
        sl_mp_write_str(w, "ok");
        return sl_mp_write_int(w, b->i) == 0;
    }
    return false;
}

/* How to write field i when building a body by hand. */
enum { S_GOOD, S_OMIT, S_NIL, S_BAD, S_DUP };

/* A body for d with every field written correctly except field `which`,
   written per `how` (S_BAD uses variant). */
static void s_body(sl_mp_writer_t *w, const sl_msg_desc_t *d, size_t which, int how, int variant)
{
    uint32_t n = (uint32_t)d->nfields;
    if (which < d->nfields) {
        n += how == S_OMIT ? -1u : how == S_DUP ? 1u : 0u;
    }
    sl_mp_writer_reset(w);
    sl_mp_write_map(w, n);
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        switch (i == which ? how : S_GOOD) {
        case S_GOOD:
            sl_mp_write_str(w, f->name);
            s_write_good(w, f);
            break;
        case S_NIL:
            sl_mp_kv_nil(w, f->name);
            break;
        case S_BAD:
            sl_mp_write_str(w, f->name);
            assert_true(s_write_bad(w, f, variant));
            break;
        case S_DUP:
            sl_mp_write_str(w, f->name);
            s_write_good(w, f);
            sl_mp_write_str(w, f->name);
            s_write_good(w, f);
            break;
        default:
            break;
        }
    }
    assert_int_equal(sl_mp_writer_error(w), 0);
}

/* Decodes and checks the result code; on failure the struct must be zero. */
static void s_expect(const sl_msg_desc_t *d, const uint8_t *buf, size_t len, int want)
{
    char *m = malloc(d->size);
    assert_non_null(m);
    memset(m, 0xa5, d->size); /* decode must not rely on a zeroed struct */
    int rc = sl_msg_decode(d->type, buf, len, m);
    if (rc != want) {
        print_error("%s: decode returned %s, want %s\n", d->name, sl_err_name(rc),
                    sl_err_name(want));
    }
    assert_int_equal(rc, want);
    if (rc < 0) {
        assert_true(s_all_zero(m, d->size));
    }
    sl_msg_clear(d->type, m);
    free(m);
}

/* ---- cases ---------------------------------------------------------------- */

static void test_catalog_tables(void **state)
{
    assert_true(sl_msg_desc_count() > 0);
    assert_null(sl_msg_desc_at(sl_msg_desc_count()));
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        assert_non_null(d);
        assert_true(d->type >= 256); /* below is the runtime's range */
        assert_ptr_equal(sl_msg_desc(d->type), d);
        assert_true(sl_msg_type_known(d->type));
        assert_string_equal(sl_msg_type_name(d->type), d->name);
        assert_true(d->nfields > 0 && d->nfields <= 64);
        for (size_t i = 0; i < d->nfields; i++) {
            assert_true(d->fields[i].offset < d->size);
            for (size_t j = 0; j < i; j++) {
                assert_string_not_equal(d->fields[i].name, d->fields[j].name);
            }
        }
    }
    assert_int_equal(SL_MSG_ATTEMPT_START, 300);
    assert_string_equal(sl_msg_type_name(SL_MSG_ATTEMPT_RESULT), "attempt_result");
    assert_true(SL_CATALOG_VERSION >= 1);
}

static void test_catalog_round_trip_all_fields(void **state)
{
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        uint8_t *buf;
        size_t len;
        void *m = s_make_encoded(d, false, &buf, &len);
        assert_int_equal(sl_mp_validate(buf, len), 0);

        void *back = NULL;
        assert_int_equal(sl_msg_decode_any(d->type, buf, len, &back), 0);
        s_assert_equal(d, m, back);

        /* Encoding is deterministic: the decoded copy encodes identically. */
        uint8_t *buf2;
        size_t len2;
        assert_int_equal(sl_msg_encode_buf(d->type, back, &buf2, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(buf, buf2, len);
        free(buf2);

        /* Every field is on the wire under its name. */
        for (size_t i = 0; i < d->nfields; i++) {
            sl_mp_reader_t v;
            assert_int_equal(sl_mp_map_find(buf, len, d->fields[i].name, &v), 0);
        }
        sl_msg_free(d->type, &back);
        assert_null(back);
        sl_msg_clear(d->type, m);
        assert_true(s_all_zero(m, d->size));
        free(m);
        free(buf);
    }
}

static void test_catalog_round_trip_required_only(void **state)
{
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        uint8_t *buf;
        size_t len;
        void *m = s_make_encoded(d, true, &buf, &len);
        char *back = calloc(1, d->size);
        assert_non_null(back);
        assert_int_equal(sl_msg_decode(d->type, buf, len, back), 0);
        s_assert_equal(d, m, back);
        for (size_t i = 0; i < d->nfields; i++) {
            const sl_field_desc_t *f = &d->fields[i];
            sl_mp_reader_t v;
            int rc = sl_mp_map_find(buf, len, f->name, &v);
            bool numeric = f->kind == SL_FK_U64 || f->kind == SL_FK_I64 || f->kind == SL_FK_BOOL ||
                           f->kind == SL_FK_DBL;
            /* Absent OPT strings/bytes/lists are omitted; numbers always go. */
            assert_int_equal(rc, (f->required || numeric) ? 0 : SL_ENOTFOUND);
        }
        sl_msg_clear(d->type, back);
        free(back);
        sl_msg_clear(d->type, m);
        free(m);
        free(buf);
    }
}

static void test_catalog_typed_wrappers(void **state)
{
    sl_attempt_start_t a = {0};
    assert_int_equal(sl_str_set(&a.task_id, "t1"), 0);
    a.pipeline_id = sl_strdup_or_null("p1");
    a.attempt = 2;
    a.op = sl_strdup_or_null("static_analyze");
    assert_int_equal(sl_strs_push(&a.tools, "bandit"), 0);
    assert_int_equal(sl_strs_push(&a.tools, "semgrep"), 0);
    assert_int_equal(sl_strs_push(&a.tools, NULL), SL_EINVAL);
    a.attempt_timeout_ms = -1;
    assert_null(sl_strdup_or_null(NULL));

    uint8_t *buf;
    size_t len;
    assert_int_equal(sl_attempt_start_encode(&a, &buf, &len), 0);
    sl_attempt_start_t b = {0};
    assert_int_equal(sl_attempt_start_decode(buf, len, &b), 0);
    assert_string_equal(b.task_id, "t1");
    assert_string_equal(b.op, "static_analyze");
    assert_null(b.model);
    assert_int_equal(b.tools.n, 2);
    assert_string_equal(b.tools.v[1], "semgrep");
    assert_int_equal(b.exclude.n, 0);
    assert_null(b.exclude.v);
    assert_true(b.attempt == 2);
    assert_true(b.attempt_timeout_ms == -1);
    /* Decoding into the wrong type fails on the missing required field. */
    sl_attempt_result_t r = {0};
    assert_int_equal(sl_attempt_result_decode(buf, len, &r), SL_EMISSING);
    free(buf);

    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_attempt_start_write(&a, &w), 0);
    assert_int_equal(sl_mp_validate(sl_mp_writer_data(&w), sl_mp_writer_len(&w)), 0);
    sl_mp_writer_fini(&w);

    sl_attempt_start_clear(&a);
    sl_attempt_start_clear(&b);
    assert_null(a.task_id);
    assert_int_equal(a.tools.n, 0);

    sl_bytes_t bytes = {0};
    assert_int_equal(sl_bytes_set(&bytes, "abc", 3), 0);
    assert_int_equal(sl_bytes_set(&bytes, "de", 2), 0);
    assert_memory_equal(bytes.ptr, "de", 2);
    assert_int_equal(sl_bytes_set(&bytes, NULL, 0), 0);
    assert_null(bytes.ptr);
    sl_bytes_clear(&bytes);
}

static void test_catalog_truncated_everywhere(void **state)
{
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        uint8_t *buf;
        size_t len;
        void *m = s_make_encoded(d, false, &buf, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* A copy of exactly cut bytes, so ASan sees any overread. */
            uint8_t *part = malloc(cut ? cut : 1);
            assert_non_null(part);
            memcpy(part, buf, cut);
            void *out = (void *)1;
            int rc = sl_msg_decode_any(d->type, part, cut, &out);
            assert_int_equal(rc, SL_ETRUNC);
            assert_null(out);
            free(part);
        }
        sl_msg_clear(d->type, m);
        free(m);
        free(buf);
    }
}

static void test_catalog_wrong_types(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        s_body(&w, d, SIZE_MAX, S_GOOD, 0);
        s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), 0);
        for (size_t i = 0; i < d->nfields; i++) {
            for (int v = 0;; v++) {
                sl_mp_writer_t probe;
                sl_mp_writer_init(&probe);
                bool has = s_write_bad(&probe, &d->fields[i], v);
                sl_mp_writer_fini(&probe);
                if (!has) {
                    break;
                }
                s_body(&w, d, i, S_BAD, v);
                s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), SL_EPROTO);
            }
        }
    }
    sl_mp_writer_fini(&w);
}

static void test_catalog_missing_nil_duplicate(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    for (size_t k = 0; k < sl_msg_desc_count(); k++) {
        const sl_msg_desc_t *d = sl_msg_desc_at(k);
        for (size_t i = 0; i < d->nfields; i++) {
            bool req = d->fields[i].required;
            s_body(&w, d, i, S_OMIT, 0);
            s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), req ? SL_EMISSING : 0);
            s_body(&w, d, i, S_NIL, 0);
            s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), req ? SL_EMISSING : 0);
            s_body(&w, d, i, S_DUP, 0);
            s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), SL_EPROTO);
        }
        /* An empty map: fine only without required fields. */
        bool any_req = false;
        for (size_t i = 0; i < d->nfields; i++) {
            any_req |= d->fields[i].required;
        }
        s_expect(d, (const uint8_t *)"\x80", 1, any_req ? SL_EMISSING : 0);
    }
    sl_mp_writer_fini(&w);
}

static void test_catalog_unknown_keys_skipped(void **state)
{
    const sl_msg_desc_t *d = sl_msg_desc(SL_MSG_ATTEMPT_CANCEL);
    assert_non_null(d);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 4);
    sl_mp_kv_str(&w, "future_field", "x");
    sl_mp_write_str(&w, "future_nested");
    sl_mp_write_array(&w, 2);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "a", 1);
    sl_mp_write_bin(&w, "zz", 2);
    sl_mp_kv_str(&w, "task_id", "t");
    sl_mp_kv_uint(&w, "attempt", 3);
    sl_attempt_cancel_t c = {0};
    assert_int_equal(sl_attempt_cancel_decode(sl_mp_writer_data(&w), sl_mp_writer_len(&w), &c), 0);
    assert_string_equal(c.task_id, "t");
    assert_true(c.attempt == 3);
    sl_attempt_cancel_clear(&c);
    sl_mp_writer_fini(&w);
}

static void test_catalog_not_a_map_trailing_invalid(void **state)
{
    const sl_msg_desc_t *d = sl_msg_desc(SL_MSG_ENDPOINT_STATUS); /* no REQ fields */
    assert_non_null(d);
    s_expect(d, (const uint8_t *)"\x80", 1, 0);
    s_expect(d, (const uint8_t *)"\x80\xc0", 2, SL_ETRAILING);
    s_expect(d, (const uint8_t *)"\x90", 1, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\x01", 1, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\xa1x", 2, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\xc0", 1, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\xc1", 1, SL_EPROTO);
    s_expect(d, (const uint8_t *)"", 0, SL_ETRUNC);
    s_expect(d, NULL, 0, SL_ETRUNC);
    /* 0xc1 as a key, as a value, inside an unknown key's value. */
    s_expect(d, (const uint8_t *)"\x81\xc1\x01", 3, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\x81\xa7verbose\xc1", 10, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\x81\xa1z\x91\xc1", 5, SL_EPROTO);
    /* Non-str keys. */
    s_expect(d, (const uint8_t *)"\x81\x01\x01", 3, SL_EPROTO);
    s_expect(d, (const uint8_t *)"\x81\xc4\x01z\x01", 5, SL_EPROTO);
}

static void test_catalog_unknown_type(void **state)
{
    void *out = (void *)1;
    uint8_t *buf = (uint8_t *)1;
    size_t len = 1;
    char dummy[64] = {0};
    assert_false(sl_msg_type_known(9999));
    assert_false(sl_msg_type_known(0));
    assert_string_equal(sl_msg_type_name(9999), "unknown");
    assert_null(sl_msg_desc(9999));
    assert_int_equal(sl_msg_decode_any(9999, (const uint8_t *)"\x80", 1, &out), SL_ETYPE);
    assert_null(out);
    assert_int_equal(sl_msg_decode(9999, (const uint8_t *)"\x80", 1, dummy), SL_ETYPE);
    assert_int_equal(sl_msg_encode_buf(9999, dummy, &buf, &len), SL_ETYPE);
    assert_null(buf);
    sl_msg_clear(9999, dummy); /* no-op */
    sl_msg_free(9999, NULL);
    out = NULL;
    sl_msg_free(SL_MSG_ALERT, &out);
}

static void test_catalog_huge_declared_lengths(void **state)
{
    /* A map of one pair whose value claims 4 GiB / 4G elements. */
    struct {
        uint16_t type;
        const char *bytes;
        size_t len;
    } cases[] = {
#define S_CASE(t, lit) {t, lit, sizeof(lit) - 1}
        /* top-level map32 claiming 4G pairs */
        S_CASE(SL_MSG_ALERT, "\xdf\xff\xff\xff\xff\xa4kind"),
        /* STR: str32 */
        S_CASE(SL_MSG_ALERT, "\x81\xa4kind\xdb\xff\xff\xff\xff"
                             "abc"),
        /* BIN: bin32 */
        S_CASE(SL_MSG_STORE_GET, "\x81\xa3key\xc6\xff\xff\xff\xff"
                                 "abc"),
        /* STRS: array32 */
        S_CASE(SL_MSG_ATTEMPT_START, "\x81\xa5tools\xdd\xff\xff\xff\xff\xa1x"),
        /* RAW: map32 and a nested array32 */
        S_CASE(SL_MSG_API_RESULT, "\x81\xa4"
                                  "body\xdf\xff\xff\xff\xff\x01\x01"),
        S_CASE(SL_MSG_API_RESULT, "\x81\xa4"
                                  "body\x91\xdd\xff\xff\xff\xff\x01"),
        /* unknown key with a huge value */
        S_CASE(SL_MSG_ENDPOINT_STATUS, "\x81\xa1z\xc6\xff\xff\xff\xff"),
        /* a huge key */
        S_CASE(SL_MSG_ENDPOINT_STATUS, "\x81\xdb\xff\xff\xff\xff\x01"),
#undef S_CASE
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const sl_msg_desc_t *d = sl_msg_desc(cases[k].type);
        assert_non_null(d);
        s_expect(d, (const uint8_t *)cases[k].bytes, cases[k].len, SL_ETRUNC);
    }
}

static void test_catalog_raw_depth(void **state)
{
    const sl_msg_desc_t *d = sl_msg_desc(SL_MSG_API_RESULT);
    assert_non_null(d);
    /* {"body": [[[...nil...]]]} with n levels of arrays: the body as a whole
       is depth-limited, so RAW gets one level less. */
    for (size_t n = SL_MP_MAX_DEPTH - 2; n <= SL_MP_MAX_DEPTH + 1; n++) {
        uint8_t buf[64];
        size_t len = 0;
        buf[len++] = 0x81;
        buf[len++] = 0xa4;
        memcpy(buf + len, "body", 4);
        len += 4;
        memset(buf + len, 0x91, n);
        len += n;
        buf[len++] = 0xc0;
        s_expect(d, buf, len, n <= SL_MP_MAX_DEPTH - 1 ? 0 : SL_ETOOBIG);
        /* Encoding agrees: a RAW that deep is refused. */
        sl_api_result_t m = {0};
        assert_int_equal(sl_bytes_set(&m.body, buf + 6, len - 6), 0);
        uint8_t *enc = NULL;
        size_t enc_len = 0;
        assert_int_equal(sl_api_result_encode(&m, &enc, &enc_len),
                         n <= SL_MP_MAX_DEPTH - 1 ? 0 : SL_EINVAL);
        free(enc);
        sl_api_result_clear(&m);
    }
    /* Encoding refuses a RAW that is not one well-formed object. */
    sl_api_result_t r = {0};
    uint8_t *out;
    size_t len;
    assert_int_equal(sl_api_result_encode(&r, &out, &len), SL_EINVAL); /* REQ RAW empty */
    assert_int_equal(sl_bytes_set(&r.body, "\x92\x01", 2), 0);
    assert_int_equal(sl_api_result_encode(&r, &out, &len), SL_EINVAL);
    assert_int_equal(sl_bytes_set(&r.body, "\x01\x02", 2), 0);
    assert_int_equal(sl_api_result_encode(&r, &out, &len), SL_EINVAL);
    sl_api_result_clear(&r);
    /* Encoding refuses a NULL REQ string. */
    sl_alert_t a = {0};
    assert_int_equal(sl_alert_encode(&a, &out, &len), SL_EINVAL);
    assert_null(out);
}

static void test_catalog_limits(void **state)
{
    /* STR one byte over the limit: refused on encode and on decode. */
    char *big = malloc(SL_MSG_MAX_STR + 2);
    assert_non_null(big);
    memset(big, 'a', SL_MSG_MAX_STR + 1);
    big[SL_MSG_MAX_STR + 1] = '\0';
    sl_alert_t a = {0};
    a.kind = big;
    a.message = sl_strdup_or_null("m");
    uint8_t *out;
    size_t len;
    assert_int_equal(sl_alert_encode(&a, &out, &len), SL_ETOOBIG);
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "kind", big);
    sl_mp_kv_str(&w, "message", "m");
    const sl_msg_desc_t *d = sl_msg_desc(SL_MSG_ALERT);
    s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), SL_ETOOBIG);
    /* Exactly at the limit is fine. */
    big[SL_MSG_MAX_STR] = '\0';
    assert_int_equal(sl_alert_encode(&a, &out, &len), 0);
    s_expect(d, out, len, 0);
    free(out);
    sl_alert_clear(&a); /* frees big */

    /* STRS one item over the limit. */
    sl_mp_writer_reset(&w);
    sl_mp_write_map(&w, 5);
    sl_mp_kv_str(&w, "task_id", "t");
    sl_mp_kv_str(&w, "pipeline_id", "p");
    sl_mp_kv_uint(&w, "attempt", 1);
    sl_mp_kv_str(&w, "op", "o");
    sl_mp_write_str(&w, "tools");
    sl_mp_write_array(&w, SL_MSG_MAX_STRS + 1);
    for (uint32_t i = 0; i < SL_MSG_MAX_STRS + 1; i++) {
        sl_mp_write_str(&w, "");
    }
    d = sl_msg_desc(SL_MSG_ATTEMPT_START);
    s_expect(d, sl_mp_writer_data(&w), sl_mp_writer_len(&w), SL_ETOOBIG);

    /* BIN one byte over the limit (built by hand: header + payload). */
    size_t n = (size_t)SL_MSG_MAX_BIN + 1;
    size_t hdr = 1 + 4 + 1 + 2 + 1 + 4;
    uint8_t *buf = calloc(1, hdr + n + 16);
    assert_non_null(buf);
    size_t p = 0;
    buf[p++] = 0x82;
    buf[p++] = 0xa2;
    buf[p++] = 'd';
    buf[p++] = 'b';
    buf[p++] = 0x01;
    buf[p++] = 0xa3;
    memcpy(buf + p, "key", 3);
    p += 3;
    buf[p++] = 0xc6;
    buf[p++] = (uint8_t)(n >> 24);
    buf[p++] = (uint8_t)(n >> 16);
    buf[p++] = (uint8_t)(n >> 8);
    buf[p++] = (uint8_t)n;
    d = sl_msg_desc(SL_MSG_STORE_GET);
    s_expect(d, buf, p + n, SL_ETOOBIG);
    free(buf);
    sl_mp_writer_fini(&w);
}

/* Every file in tests/data/malformed/ is <type id, u16 big-endian><body>
   and must be rejected by that type's decoder. */
static void test_catalog_malformed_corpus(void **state)
{
    const char *src = getenv("SLUICE_SOURCE_DIR");
    assert_non_null(src);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/data/malformed", src);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(dh)) != NULL) {
        size_t nl = strlen(e->d_name);
        if (nl < 4 || strcmp(e->d_name + nl - 4, ".bin") != 0) {
            continue; /* README and friends */
        }
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        static uint8_t data[1 << 16];
        size_t len = fread(data, 1, sizeof data, f);
        fclose(f);
        assert_true(len >= 2);
        uint16_t type = (uint16_t)(data[0] << 8 | data[1]);
        uint8_t *body = malloc(len - 2 + 1); /* exact copy: ASan catches overreads */
        assert_non_null(body);
        memcpy(body, data + 2, len - 2);
        void *out = NULL;
        int rc = sl_msg_decode_any(type, body, len - 2, &out);
        if (rc == 0) {
            print_error("%s was accepted\n", e->d_name);
            sl_msg_free(type, &out);
        }
        assert_true(rc < 0);
        assert_null(out);
        free(body);
        files++;
    }
    closedir(dh);
    assert_true(files >= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalog_tables),
        cmocka_unit_test(test_catalog_round_trip_all_fields),
        cmocka_unit_test(test_catalog_round_trip_required_only),
        cmocka_unit_test(test_catalog_typed_wrappers),
        cmocka_unit_test(test_catalog_truncated_everywhere),
        cmocka_unit_test(test_catalog_wrong_types),
        cmocka_unit_test(test_catalog_missing_nil_duplicate),
        cmocka_unit_test(test_catalog_unknown_keys_skipped),
        cmocka_unit_test(test_catalog_not_a_map_trailing_invalid),
        cmocka_unit_test(test_catalog_unknown_type),
        cmocka_unit_test(test_catalog_huge_declared_lengths),
        cmocka_unit_test(test_catalog_raw_depth),
        cmocka_unit_test(test_catalog_limits),
        cmocka_unit_test(test_catalog_malformed_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
