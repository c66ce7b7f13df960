/*  sl_codec.c: the generic, table-driven msgpack codec over field
    descriptors (proto/sl_codec.h), shared by the message catalog and the
    stored records.

    No threads, no global mutable state: encode/decode only touch the
    caller's struct, writer and bytes. Decoding never trusts the input and
    reads through sl_mp_reader_t, which checks every declared length first;
    a whole input is validated (well-formed, depth-limited, nothing after
    it) before any field is read, so every malformed input fails the same
    way whatever field the damage is in.
*/
#include "proto/sl_codec.h"

#include <stdlib.h>
#include <string.h>

/* Decoding tracks seen/present fields in 64-bit masks. */
#define S_MAX_FIELDS 64

/* ---- building ------------------------------------------------------------- */

char *sl_strdup_or_null(const char *s)
{
    if (!s) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) {
        memcpy(copy, s, n);
    }
    return copy;
}

int sl_str_set(char **dst, const char *src)
{
    char *copy = NULL;
    if (src) {
        copy = sl_strdup_or_null(src);
        if (!copy) {
            return SL_ENOMEM;
        }
    }
    free(*dst);
    *dst = copy;
    return 0;
}

int sl_strs_push(sl_strs_t *self, const char *s)
{
    if (!s) {
        return SL_EINVAL;
    }
    char *copy = sl_strdup_or_null(s);
    if (!copy) {
        return SL_ENOMEM;
    }
    char **v = realloc(self->v, (self->n + 1) * sizeof *v);
    if (!v) {
        free(copy);
        return SL_ENOMEM;
    }
    v[self->n] = copy;
    self->v = v;
    self->n++;
    return 0;
}

void sl_strs_clear(sl_strs_t *self)
{
    for (size_t i = 0; i < self->n; i++) {
        free(self->v[i]);
    }
    free(self->v);
    self->v = NULL;
    self->n = 0;
}

int sl_bytes_set(sl_bytes_t *self, const void *p, size_t len)
{
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc(len);
        if (!copy) {
            return SL_ENOMEM;
        }
        memcpy(copy, p, len);
    }
    free(self->ptr);
    self->ptr = copy;
    self->len = len;
    return 0;
}

void sl_bytes_clear(sl_bytes_t *self)
{
    free(self->ptr);
    self->ptr = NULL;
    self->len = 0;
}

/* A LIST field's {v, n}, read and written by bytes: the field is a
   generated sl_<x>_rec_list_t of the same layout as sl_list_t. */
static sl_list_t s_list_get(const void *at)
{
    sl_list_t l;
    memcpy(&l, at, sizeof l);
    return l;
}

static void s_list_put(void *at, sl_list_t l)
{
    memcpy(at, &l, sizeof l);
}

/* ---- defaults ------------------------------------------------------------- */

void sl_codec_init(const sl_msg_desc_t *d, void *s)
{
    char *base = s;
    memset(base, 0, d->size);
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        void *at = base + f->offset;
        if (!f->dflt) {
            continue;
        }
        switch (f->kind) {
        case SL_FK_U64:
            *(uint64_t *)at = (uint64_t)f->dflt;
            break;
        case SL_FK_I64:
            *(int64_t *)at = f->dflt;
            break;
        case SL_FK_U32:
            *(uint32_t *)at = (uint32_t)f->dflt;
            break;
        case SL_FK_I32:
        case SL_FK_ENUM:
            *(int32_t *)at = (int32_t)f->dflt;
            break;
        default:
            break;
        }
    }
}

/* ---- encoding ------------------------------------------------------------- */

/* Whether field f of base goes on the wire; SL_EINVAL / SL_ETOOBIG when the
   struct holds something we must not (or could not later) decode. */
static int s_field_check(const sl_msg_desc_t *d, const sl_field_desc_t *f, const char *base,
                         bool *write)
{
    const sl_codec_limits_t *lim = d->limits;
    const void *at = base + f->offset;
    *write = true;
    switch (f->kind) {
    case SL_FK_STR: {
        const char *s = *(char *const *)at;
        if (!s) {
            *write = false;
            return f->required ? SL_EINVAL : 0;
        }
        return strlen(s) > lim->max_str && !lim->truncate ? SL_ETOOBIG : 0;
    }
    case SL_FK_BIN: {
        const sl_bytes_t *b = at;
        if (b->len == 0) {
            *write = f->required;
            return 0;
        }
        if (!b->ptr) {
            return SL_EINVAL;
        }
        return b->len > lim->max_bin ? SL_ETOOBIG : 0;
    }
    case SL_FK_RAW:
    case SL_FK_ITEMS: {
        const sl_bytes_t *b = at;
        if (b->len == 0) {
            *write = false;
            return f->required ? SL_EINVAL : 0;
        }
        if (!b->ptr) {
            return SL_EINVAL;
        }
        if (b->len > lim->max_bin) {
            return SL_ETOOBIG;
        }
        if (f->kind == SL_FK_ITEMS) {
            sl_mp_reader_t r;
            sl_mp_reader_init(&r, b->ptr, b->len);
            if (sl_mp_peek(&r) != SL_MP_ARRAY) {
                return SL_EINVAL;
            }
        }
        /* Verbatim bytes: make sure the body stays one well-formed map,
           within the depth limit once nested one level into it. */
        return sl_mp_validate_depth(b->ptr, b->len, SL_MP_MAX_DEPTH - 1) == 0 ? 0 : SL_EINVAL;
    }
    case SL_FK_STRS: {
        const sl_strs_t *l = at;
        if (l->n == 0) {
            *write = f->required;
            return 0;
        }
        if (!l->v) {
            return SL_EINVAL;
        }
        if (l->n > lim->max_strs && !lim->truncate) {
            return SL_ETOOBIG;
        }
        for (size_t i = 0; i < l->n; i++) {
            if (!l->v[i]) {
                return SL_EINVAL;
            }
            if (strlen(l->v[i]) > lim->max_str && !lim->truncate) {
                return SL_ETOOBIG;
            }
        }
        return 0;
    }
    case SL_FK_LIST: {
        sl_list_t l = s_list_get(at);
        if (l.n == 0) {
            *write = f->required;
            return 0;
        }
        if (!l.v) {
            return SL_EINVAL;
        }
        return l.n > lim->max_list && !lim->truncate ? SL_ETOOBIG : 0;
    }
    case SL_FK_ENUM: {
        int v = *(const int32_t *)at;
        /* A value with no name would be written as one we cannot read. */
        const char *name = f->en->name(v);
        return f->en->parse(name, strlen(name)) == v ? 0 : SL_EINVAL;
    }
    default:
        return 0; /* numbers and bools are always written */
    }
}

static int s_write_str(sl_mp_writer_t *w, const sl_codec_limits_t *lim, const char *s)
{
    size_t len = strlen(s);
    /* Only with truncate: s_field_check refused longer strings otherwise. */
    return sl_mp_write_strn(w, s, len > lim->max_str ? lim->max_str : len);
}

static int s_field_write(const sl_msg_desc_t *d, const sl_field_desc_t *f, const char *base,
                         sl_mp_writer_t *w)
{
    const sl_codec_limits_t *lim = d->limits;
    const void *at = base + f->offset;
    sl_mp_write_str(w, f->name);
    switch (f->kind) {
    case SL_FK_U64:
        return sl_mp_write_uint(w, *(const uint64_t *)at);
    case SL_FK_I64:
        return sl_mp_write_int(w, *(const int64_t *)at);
    case SL_FK_U32:
        return sl_mp_write_uint(w, *(const uint32_t *)at);
    case SL_FK_I32:
        return sl_mp_write_int(w, *(const int32_t *)at);
    case SL_FK_BOOL:
        return sl_mp_write_bool(w, *(const bool *)at);
    case SL_FK_DBL:
        return sl_mp_write_double(w, *(const double *)at);
    case SL_FK_STR:
        return s_write_str(w, lim, *(char *const *)at);
    case SL_FK_ENUM:
        return sl_mp_write_str(w, f->en->name(*(const int32_t *)at));
    case SL_FK_BIN: {
        const sl_bytes_t *b = at;
        return sl_mp_write_bin(w, b->ptr, b->len);
    }
    case SL_FK_RAW:
    case SL_FK_ITEMS: {
        const sl_bytes_t *b = at;
        return sl_mp_write_raw(w, b->ptr, b->len);
    }
    case SL_FK_STRS: {
        const sl_strs_t *l = at;
        size_t n = l->n > lim->max_strs ? lim->max_strs : l->n; /* keep the first */
        sl_mp_write_array(w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            s_write_str(w, lim, l->v[i]);
        }
        return sl_mp_writer_error(w);
    }
    case SL_FK_LIST: {
        const sl_msg_desc_t *ed = f->elem();
        sl_list_t l = s_list_get(at);
        /* Keep the newest items (a history that grew past the limit). */
        size_t skip = l.n > lim->max_list ? l.n - lim->max_list : 0;
        sl_mp_write_array(w, (uint32_t)(l.n - skip));
        for (size_t i = skip; i < l.n; i++) {
            int rc = sl_codec_write(ed, (const char *)l.v + i * ed->size, w);
            if (rc < 0) {
                return rc;
            }
        }
        return sl_mp_writer_error(w);
    }
    }
    return SL_EINVAL;
}

int sl_codec_write(const sl_msg_desc_t *d, const void *s, sl_mp_writer_t *w)
{
    if (!s) {
        return SL_EINVAL;
    }
    const char *base = s;
    uint64_t mask = 0;
    uint32_t count = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        bool write;
        int rc = s_field_check(d, &d->fields[i], base, &write);
        if (rc < 0) {
            return rc;
        }
        if (write) {
            mask |= (uint64_t)1 << i;
            count++;
        }
    }
    int rc = sl_mp_write_map(w, count);
    for (size_t i = 0; rc == 0 && i < d->nfields; i++) {
        if (mask & ((uint64_t)1 << i)) {
            rc = s_field_write(d, &d->fields[i], base, w);
        }
    }
    return rc;
}

int sl_codec_encode(const sl_msg_desc_t *d, const void *s, uint8_t **out, size_t *len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    *out = NULL;
    *len = 0;
    int rc = sl_codec_write(d, s, &w);
    if (rc < 0) {
        goto fail;
    }
    rc = sl_mp_writer_release(&w, out, len);
    if (rc < 0) {
        goto fail;
    }
    return 0;
fail:
    sl_mp_writer_fini(&w);
    return rc;
}

/* ---- decoding ------------------------------------------------------------- */

static int s_dup_bytes(sl_bytes_t *dst, const uint8_t *p, size_t len, size_t max)
{
    if (len > max) {
        return SL_ETOOBIG;
    }
    return sl_bytes_set(dst, p, len);
}

static int s_read_strs(sl_mp_reader_t *r, const sl_codec_limits_t *lim, sl_strs_t *l)
{
    uint32_t n;
    int rc = sl_mp_read_array(r, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > lim->max_strs) {
        return SL_ETOOBIG;
    }
    if (n == 0) {
        return 0;
    }
    /* n is bounded by the limit and by the bytes left (the reader checked). */
    l->v = calloc(n, sizeof *l->v);
    if (!l->v) {
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        rc = sl_mp_read_strdup(r, lim->max_str, &l->v[i]);
        if (rc < 0) {
            return rc; /* the caller's clear frees the items so far */
        }
        l->n++;
    }
    return 0;
}

static int s_read_map(const sl_msg_desc_t *d, sl_mp_reader_t *r, char *base);

static int s_read_list(const sl_field_desc_t *f, const sl_codec_limits_t *lim, sl_mp_reader_t *r,
                       void *at)
{
    const sl_msg_desc_t *ed = f->elem();
    uint32_t n;
    int rc = sl_mp_read_array(r, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > lim->max_list) {
        return SL_ETOOBIG;
    }
    if (n == 0) {
        return 0;
    }
    sl_list_t l = {calloc(n, ed->size), 0};
    if (!l.v) {
        return SL_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        char *item = (char *)l.v + i * ed->size;
        l.n = i + 1; /* counted first: the caller's clear frees a half-read item too */
        s_list_put(at, l);
        sl_codec_init(ed, item);
        rc = s_read_map(ed, r, item);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* An integer into a narrower C type, range-checked. */
static int s_read_narrow(sl_mp_reader_t *r, sl_field_kind_t kind, void *at)
{
    int64_t v;
    int rc = sl_mp_read_int(r, &v);
    if (rc < 0) {
        return rc;
    }
    if (kind == SL_FK_I32) {
        if (v < INT32_MIN || v > INT32_MAX) {
            return SL_ETOOBIG;
        }
        *(int32_t *)at = (int32_t)v;
        return 0;
    }
    if (v < 0) {
        return SL_EPROTO;
    }
    if (v > UINT32_MAX) {
        return SL_ETOOBIG;
    }
    *(uint32_t *)at = (uint32_t)v;
    return 0;
}

/* Decodes the value at r into field f of base. */
static int s_field_read(const sl_msg_desc_t *d, const sl_field_desc_t *f, char *base,
                        sl_mp_reader_t *r)
{
    const sl_codec_limits_t *lim = d->limits;
    void *at = base + f->offset;
    switch (f->kind) {
    case SL_FK_U64:
        return sl_mp_read_uint(r, (uint64_t *)at);
    case SL_FK_I64:
        return sl_mp_read_int(r, (int64_t *)at);
    case SL_FK_U32:
    case SL_FK_I32:
        return s_read_narrow(r, f->kind, at);
    case SL_FK_BOOL:
        return sl_mp_read_bool(r, (bool *)at);
    case SL_FK_DBL:
        return sl_mp_read_double(r, (double *)at);
    case SL_FK_STR:
        return sl_mp_read_strdup(r, lim->max_str, (char **)at);
    case SL_FK_ENUM: {
        const char *s;
        size_t len;
        int rc = sl_mp_read_str(r, &s, &len);
        if (rc < 0) {
            return rc;
        }
        int v = f->en->parse(s, len);
        if (v < 0) {
            return SL_EPROTO;
        }
        *(int32_t *)at = v;
        return 0;
    }
    case SL_FK_BIN: {
        const uint8_t *p;
        size_t len;
        int rc = sl_mp_read_bin(r, &p, &len);
        return rc < 0 ? rc : s_dup_bytes(at, p, len, lim->max_bin);
    }
    case SL_FK_RAW:
    case SL_FK_ITEMS: {
        if (f->kind == SL_FK_ITEMS && sl_mp_peek(r) != SL_MP_ARRAY) {
            return SL_EPROTO; /* the items are read (distrustfully) by their user */
        }
        const uint8_t *p;
        size_t len;
        int rc = sl_mp_read_raw(r, &p, &len);
        return rc < 0 ? rc : s_dup_bytes(at, p, len, lim->max_bin);
    }
    case SL_FK_STRS:
        return s_read_strs(r, lim, at);
    case SL_FK_LIST:
        return s_read_list(f, lim, r, at);
    }
    return SL_EINVAL;
}

/* Field index of key, or -1. Our encoder writes fields in table order, so
   the search starts after the previous match (hint) and usually hits at
   once. */
static int s_find_field(const sl_msg_desc_t *d, const char *key, size_t klen, size_t hint)
{
    for (size_t k = 0; k < d->nfields; k++) {
        size_t i = (hint + k) % d->nfields;
        if (sl_mp_str_eq(key, klen, d->fields[i].name)) {
            return (int)i;
        }
    }
    return -1;
}

/* Reads one map at r into base (which holds its defaults); on error the
   caller clears base. */
static int s_read_map(const sl_msg_desc_t *d, sl_mp_reader_t *r, char *base)
{
    uint64_t seen = 0;    /* key met (duplicates) */
    uint64_t present = 0; /* key met with a non-nil value */
    size_t hint = 0;
    uint32_t n;
    int rc = sl_mp_read_map(r, &n);
    if (rc < 0) {
        return rc;
    }
    for (uint32_t k = 0; k < n; k++) {
        const char *key;
        size_t klen;
        rc = sl_mp_read_str(r, &key, &klen);
        if (rc < 0) {
            return rc;
        }
        int i = s_find_field(d, key, klen, hint);
        if (i < 0) {
            /* Unknown key: a newer writer's field. */
            rc = sl_mp_skip(r);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        hint = (size_t)i + 1;
        uint64_t bit = (uint64_t)1 << i;
        if (seen & bit) {
            return SL_EPROTO;
        }
        seen |= bit;
        if (sl_mp_peek(r) == SL_MP_NIL) {
            rc = sl_mp_read_nil(r);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        rc = s_field_read(d, &d->fields[i], base, r);
        if (rc < 0) {
            return rc;
        }
        present |= bit;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        if (d->fields[i].required && !(present & ((uint64_t)1 << i))) {
            return SL_EMISSING;
        }
    }
    return 0;
}

int sl_codec_read(const sl_msg_desc_t *d, sl_mp_reader_t *r, void *out)
{
    if (!out) {
        return SL_EINVAL;
    }
    sl_codec_init(d, out);
    int rc = s_read_map(d, r, out);
    if (rc < 0) {
        sl_codec_clear(d, out);
    }
    return rc;
}

int sl_codec_decode(const sl_msg_desc_t *d, const uint8_t *buf, size_t len, void *out)
{
    if (!out) {
        return SL_EINVAL;
    }
    sl_codec_init(d, out);
    /* One well-formed object, depth-limited as a whole (so a RAW field
       nests at most SL_MP_MAX_DEPTH - 1 levels), nothing after it. */
    int rc = sl_mp_validate(buf, len);
    if (rc == 0) {
        sl_mp_reader_t r;
        sl_mp_reader_init(&r, buf, len);
        rc = s_read_map(d, &r, out);
        if (rc == 0 && !sl_mp_reader_done(&r)) {
            rc = SL_ETRAILING;
        }
    }
    if (rc < 0) {
        sl_codec_clear(d, out);
    }
    return rc;
}

void sl_codec_clear(const sl_msg_desc_t *d, void *s)
{
    if (!s) {
        return;
    }
    char *base = s;
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        void *at = base + f->offset;
        switch (f->kind) {
        case SL_FK_STR:
            free(*(char **)at);
            break;
        case SL_FK_BIN:
        case SL_FK_RAW:
        case SL_FK_ITEMS:
            sl_bytes_clear(at);
            break;
        case SL_FK_STRS:
            sl_strs_clear(at);
            break;
        case SL_FK_LIST: {
            const sl_msg_desc_t *ed = f->elem();
            sl_list_t l = s_list_get(at);
            for (size_t j = 0; j < l.n; j++) {
                sl_codec_clear(ed, (char *)l.v + j * ed->size);
            }
            free(l.v);
            break;
        }
        default:
            break;
        }
    }
    memset(base, 0, d->size);
}

int sl_codec_items(const sl_bytes_t *items, sl_mp_reader_t *r, uint32_t *n)
{
    *n = 0;
    sl_mp_reader_init(r, items->ptr, items->len);
    if (items->len == 0) {
        return 0;
    }
    if (sl_mp_read_array(r, n) < 0) {
        *n = 0;
        return SL_EPROTO;
    }
    return 0;
}

int sl_codec_items_next(sl_mp_reader_t *r, const sl_msg_desc_t *d, void *out)
{
    const uint8_t *p;
    size_t len;
    if (sl_mp_read_raw(r, &p, &len) < 0) {
        memset(out, 0, d->size);
        r->pos = r->len;
        return SL_ETRUNC;
    }
    return sl_codec_decode(d, p, len, out);
}

/* ---- copying -------------------------------------------------------------- */

static int s_field_copy(const sl_field_desc_t *f, void *dat, const void *sat)
{
    switch (f->kind) {
    case SL_FK_STR: {
        const char *s = *(char *const *)sat;
        *(char **)dat = sl_strdup_or_null(s);
        return s && !*(char **)dat ? SL_ENOMEM : 0;
    }
    case SL_FK_BIN:
    case SL_FK_RAW:
    case SL_FK_ITEMS: {
        const sl_bytes_t *b = sat;
        *(sl_bytes_t *)dat = (sl_bytes_t){0};
        return sl_bytes_set(dat, b->ptr, b->len);
    }
    case SL_FK_STRS: {
        const sl_strs_t *l = sat;
        *(sl_strs_t *)dat = (sl_strs_t){0};
        for (size_t i = 0; i < l->n; i++) {
            int rc = sl_strs_push(dat, l->v[i]);
            if (rc < 0) {
                return rc;
            }
        }
        return 0;
    }
    case SL_FK_LIST: {
        const sl_msg_desc_t *ed = f->elem();
        sl_list_t src = s_list_get(sat);
        sl_list_t dst = {NULL, 0};
        s_list_put(dat, dst);
        if (src.n == 0) {
            return 0;
        }
        dst.v = calloc(src.n, ed->size);
        if (!dst.v) {
            return SL_ENOMEM;
        }
        for (size_t i = 0; i < src.n; i++) {
            dst.n = i + 1;
            s_list_put(dat, dst);
            int rc =
                sl_codec_copy(ed, (char *)dst.v + i * ed->size, (const char *)src.v + i * ed->size);
            if (rc < 0) {
                return rc;
            }
        }
        return 0;
    }
    default:
        return 0; /* copied with the struct */
    }
}

int sl_codec_copy(const sl_msg_desc_t *d, void *dst, const void *src)
{
    memcpy(dst, src, d->size);
    /* Owned fields still point into src: reset them all before copying any,
       so a failure half-way clears only what is ours. */
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        char *at = (char *)dst + f->offset;
        switch (f->kind) {
        case SL_FK_STR:
            *(char **)at = NULL;
            break;
        case SL_FK_BIN:
        case SL_FK_RAW:
        case SL_FK_ITEMS:
            *(sl_bytes_t *)at = (sl_bytes_t){0};
            break;
        case SL_FK_STRS:
            *(sl_strs_t *)at = (sl_strs_t){0};
            break;
        case SL_FK_LIST:
            s_list_put(at, (sl_list_t){NULL, 0});
            break;
        default:
            break;
        }
    }
    for (size_t i = 0; i < d->nfields; i++) {
        const sl_field_desc_t *f = &d->fields[i];
        int rc = s_field_copy(f, (char *)dst + f->offset, (const char *)src + f->offset);
        if (rc < 0) {
            sl_codec_clear(d, dst);
            return rc;
        }
    }
    return 0;
}
