/*  rec_testutil.h: records filled and compared through their descriptors
    (actors/pipeline/sl_records.def), so a test covers every declared field,
    including the ones added after it was written.

    rec_fill sets every field of a record to a value that differs from its
    default and from every other value filled since rec_fill_reset (lists
    get two filled items); rec_assert_same compares two records field by
    field, recursing into lists, and names the first field that differs.
    Test-only code, test thread.
*/
#ifndef REC_TESTUTIL_H
#define REC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/pipeline/sl_records.h"

static int s_rec_seq; /* distinct values across one test */

static void rec_fill_reset(void)
{
    s_rec_seq = 0;
}

/* The largest value of an enum (its names run from 0 up to "unknown"). */
static int rec_enum_last(const sl_enum_desc_t *en)
{
    int v = 0;
    while (strcmp(en->name(v + 1), "unknown") != 0) {
        v++;
    }
    return v;
}

static void rec_fill(const sl_msg_desc_t *d, void *rec)
{
    char *base = rec;
    sl_codec_init(d, rec);
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        void *at = base + f->offset;
        int n = ++s_rec_seq;
        char str[64];
        snprintf(str, sizeof str, "v%d-%s", n, f->name);
        switch (f->kind) {
        case SL_FK_U64:
            *(uint64_t *)at = 5000u - (uint64_t)n;
            break;
        case SL_FK_U32:
            /* Falling with the field order: a budget offset declared after
               the count it offsets stays below it, as the shard requires. */
            *(uint32_t *)at = 5000u - (uint32_t)n;
            break;
        case SL_FK_I32:
            *(int32_t *)at = 5000 - n;
            break;
        case SL_FK_I64:
            *(int64_t *)at = 1700000000000 + 1000 * (int64_t)n;
            break;
        case SL_FK_BOOL:
            *(bool *)at = true;
            break;
        case SL_FK_DBL:
            *(double *)at = 1.5 + n;
            break;
        case SL_FK_STR:
            assert_int_equal(sl_str_set((char **)at, str), 0);
            break;
        case SL_FK_ITEMS: {
            uint8_t items[] = {0x91, 0x81, 0xa1, 'n', (uint8_t)(n & 0x7f)}; /* [{n: n}] */
            assert_int_equal(sl_bytes_set(at, items, sizeof items), 0);
            break;
        }
        case SL_FK_BIN:
        case SL_FK_RAW: {
            uint8_t one[] = {0xa1, (uint8_t)('a' + n % 26)}; /* one msgpack str */
            assert_int_equal(sl_bytes_set(at, one, sizeof one), 0);
            break;
        }
        case SL_FK_STRS:
            assert_int_equal(sl_strs_push(at, str), 0);
            snprintf(str, sizeof str, "v%d-%s-2", n, f->name);
            assert_int_equal(sl_strs_push(at, str), 0);
            break;
        case SL_FK_ENUM:
            *(int32_t *)at = rec_enum_last(f->en);
            assert_true(*(int32_t *)at != f->dflt);
            break;
        case SL_FK_LIST: {
            const sl_msg_desc_t *ed = f->elem();
            sl_list_t l = {calloc(2, ed->size), 2};
            assert_non_null(l.v);
            for (size_t k = 0; k < l.n; k++) {
                rec_fill(ed, (char *)l.v + k * ed->size);
            }
            memcpy(at, &l, sizeof l);
            break;
        }
        }
    }
}

static void rec_assert_same(const sl_msg_desc_t *d, const void *a, const void *b, const char *path);

/* Whether field f holds the same value in records a and b (lists: item by
   item, failing with path on a difference inside). */
static bool rec_field_same(const sl_field_desc_t *f, const void *a, const void *b, const char *path)
{
    const char *x = (const char *)a + f->offset;
    const char *y = (const char *)b + f->offset;
    switch (f->kind) {
    case SL_FK_U64:
    case SL_FK_I64:
        return memcmp(x, y, 8) == 0;
    case SL_FK_U32:
    case SL_FK_I32:
    case SL_FK_ENUM:
        return memcmp(x, y, 4) == 0;
    case SL_FK_BOOL:
        return *(const bool *)x == *(const bool *)y;
    case SL_FK_DBL:
        return *(const double *)x == *(const double *)y;
    case SL_FK_STR: {
        const char *s = *(char *const *)x, *t = *(char *const *)y;
        return (!s && !t) || (s && t && strcmp(s, t) == 0);
    }
    case SL_FK_BIN:
    case SL_FK_RAW:
    case SL_FK_ITEMS: {
        const sl_bytes_t *s = (const void *)x, *t = (const void *)y;
        return s->len == t->len && (!s->len || memcmp(s->ptr, t->ptr, s->len) == 0);
    }
    case SL_FK_STRS: {
        const sl_strs_t *s = (const void *)x, *t = (const void *)y;
        bool same = s->n == t->n;
        for (size_t k = 0; same && k < s->n; k++) {
            same = strcmp(s->v[k], t->v[k]) == 0;
        }
        return same;
    }
    case SL_FK_LIST: {
        const sl_msg_desc_t *ed = f->elem();
        sl_list_t s, t;
        memcpy(&s, x, sizeof s);
        memcpy(&t, y, sizeof t);
        if (s.n != t.n) {
            return false;
        }
        for (size_t k = 0; k < s.n; k++) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.%s[%zu]", path, f->name, k);
            rec_assert_same(ed, (char *)s.v + k * ed->size, (char *)t.v + k * ed->size, sub);
        }
        return true;
    }
    }
    return false;
}

/* Fails naming where (path.field) a and b differ. */
static void rec_assert_same(const sl_msg_desc_t *d, const void *a, const void *b, const char *path)
{
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        if (!rec_field_same(f, a, b, path)) {
            fail_msg("%s.%s is not carried through (declared in sl_records.def)", path, f->name);
        }
    }
}

#endif
