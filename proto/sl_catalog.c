/*  sl_catalog.c: descriptor tables and the generic, table-driven codec for
    every message type in proto/sl_catalog.def.

    No threads, no global mutable state: the descriptors are static const
    data, and encode/decode only touch the caller's struct, writer and bytes.
    Decoding never trusts the input (see sl_catalog.h for the rules) and
    reads through sl_mp_reader_t, which checks every declared length first.

    Design notes: the field descriptors need offsetof(struct, field), but an
    SL_F entry does not know which struct it belongs to. Each message
    therefore gets a small function holding a block-scope typedef s_cur_t
    for its struct and static const arrays whose initialisers name s_cur_t;
    the preprocessor only pastes the token, the compiler resolves it in that
    block. Lookup by type id is a switch over the .def, so a reused type id
    is a compile error (duplicate case), not a silent shadowing.
*/
#include "proto/sl_catalog.h"

#include <stdlib.h>
#include <string.h>

/* Decoding tracks seen/present fields in 64-bit masks. */
#define S_MAX_FIELDS 64

#define S_PRES_REQ true
#define S_PRES_OPT false

/* ---- descriptors ---------------------------------------------------------- */

#define SL_F(kind, name, presence)                                                                 \
    {#name, SL_FK_##kind, S_PRES_##presence, offsetof(s_cur_t, name)},
#define SL_MSG(sym, id, cname, ...)                                                                \
    static const sl_msg_desc_t *s_desc_##cname(void)                                               \
    {                                                                                              \
        typedef sl_##cname##_t s_cur_t;                                                            \
        static const sl_field_desc_t fields[] = {__VA_ARGS__};                                     \
        _Static_assert(sizeof fields / sizeof fields[0] <= S_MAX_FIELDS,                           \
                       "too many fields in " #cname);                                              \
        static const sl_msg_desc_t desc = {sym, #cname, sizeof(s_cur_t), fields,                   \
                                           sizeof fields / sizeof fields[0]};                      \
        return &desc;                                                                              \
    }
#include "proto/sl_catalog.def"
#undef SL_MSG
#undef SL_F

typedef const sl_msg_desc_t *(s_desc_fn)(void);

static s_desc_fn *const s_all[] = {
#define SL_F(kind, name, presence)
#define SL_MSG(sym, id, cname, ...) s_desc_##cname,
#include "proto/sl_catalog.def"
#undef SL_MSG
#undef SL_F
};

const sl_msg_desc_t *sl_msg_desc(uint16_t type)
{
    switch (type) {
#define SL_F(kind, name, presence)
#define SL_MSG(sym, id, cname, ...)                                                                \
    case sym:                                                                                      \
        return s_desc_##cname();
#include "proto/sl_catalog.def"
#undef SL_MSG
#undef SL_F
    default:
        return NULL;
    }
}

size_t sl_msg_desc_count(void)
{
    return sizeof s_all / sizeof s_all[0];
}

const sl_msg_desc_t *sl_msg_desc_at(size_t i)
{
    if (i >= sl_msg_desc_count()) {
        return NULL;
    }
    return s_all[i]();
}

const char *sl_msg_type_name(uint16_t type)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    return d ? d->name : "unknown";
}

bool sl_msg_type_known(uint16_t type)
{
    return sl_msg_desc(type) != NULL;
}

/* ---- building messages ---------------------------------------------------- */

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

/* ---- encoding ------------------------------------------------------------- */

/* Whether field f of msg goes on the wire; SL_EINVAL / SL_ETOOBIG when the
   struct holds something we must not (or could not later) decode. */
static int s_field_check(const sl_field_desc_t *f, const char *base, bool *write)
{
    const void *at = base + f->offset;
    *write = true;
    switch (f->kind) {
    case SL_FK_STR: {
        const char *s = *(char *const *)at;
        if (!s) {
            *write = false;
            return f->required ? SL_EINVAL : 0;
        }
        return strlen(s) > SL_MSG_MAX_STR ? SL_ETOOBIG : 0;
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
        return b->len > SL_MSG_MAX_BIN ? SL_ETOOBIG : 0;
    }
    case SL_FK_RAW: {
        const sl_bytes_t *b = at;
        if (b->len == 0) {
            *write = false;
            return f->required ? SL_EINVAL : 0;
        }
        if (!b->ptr) {
            return SL_EINVAL;
        }
        if (b->len > SL_MSG_MAX_BIN) {
            return SL_ETOOBIG;
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
        if (l->n > SL_MSG_MAX_STRS) {
            return SL_ETOOBIG;
        }
        for (size_t i = 0; i < l->n; i++) {
            if (!l->v[i]) {
                return SL_EINVAL;
            }
            if (strlen(l->v[i]) > SL_MSG_MAX_STR) {
                return SL_ETOOBIG;
            }
        }
        return 0;
    }
    default:
        return 0; /* numbers and bools are always written */
    }
}

static int s_field_write(const sl_field_desc_t *f, const char *base, sl_mp_writer_t *w)
{
    const void *at = base + f->offset;
    sl_mp_write_str(w, f->name);
    switch (f->kind) {
    case SL_FK_U64:
        return sl_mp_write_uint(w, *(const uint64_t *)at);
    case SL_FK_I64:
        return sl_mp_write_int(w, *(const int64_t *)at);
    case SL_FK_BOOL:
        return sl_mp_write_bool(w, *(const bool *)at);
    case SL_FK_DBL:
        return sl_mp_write_double(w, *(const double *)at);
    case SL_FK_STR:
        return sl_mp_write_str(w, *(char *const *)at);
    case SL_FK_BIN: {
        const sl_bytes_t *b = at;
        return sl_mp_write_bin(w, b->ptr, b->len);
    }
    case SL_FK_RAW: {
        const sl_bytes_t *b = at;
        return sl_mp_write_raw(w, b->ptr, b->len);
    }
    case SL_FK_STRS: {
        const sl_strs_t *l = at;
        sl_mp_write_array(w, (uint32_t)l->n);
        for (size_t i = 0; i < l->n; i++) {
            sl_mp_write_str(w, l->v[i]);
        }
        return sl_mp_writer_error(w);
    }
    }
    return SL_EINVAL;
}

int sl_msg_encode(uint16_t type, const void *msg, sl_mp_writer_t *w)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    if (!msg) {
        return SL_EINVAL;
    }
    const char *base = msg;
    uint64_t mask = 0;
    uint32_t count = 0;
    for (size_t i = 0; i < d->nfields; i++) {
        bool write;
        int rc = s_field_check(&d->fields[i], base, &write);
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
            rc = s_field_write(&d->fields[i], base, w);
        }
    }
    return rc;
}

int sl_msg_encode_buf(uint16_t type, const void *msg, uint8_t **out, size_t *len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    *out = NULL;
    *len = 0;
    int rc = sl_msg_encode(type, msg, &w);
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

static int s_dup_bytes(sl_bytes_t *dst, const uint8_t *p, size_t len)
{
    if (len > SL_MSG_MAX_BIN) {
        return SL_ETOOBIG;
    }
    return sl_bytes_set(dst, p, len);
}

static int s_read_strs(sl_mp_reader_t *r, sl_strs_t *l)
{
    uint32_t n;
    int rc = sl_mp_read_array(r, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > SL_MSG_MAX_STRS) {
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
        rc = sl_mp_read_strdup(r, SL_MSG_MAX_STR, &l->v[i]);
        if (rc < 0) {
            return rc; /* the caller's clear frees the items so far */
        }
        l->n++;
    }
    return 0;
}

/* Decodes the value at r into field f of base. */
static int s_field_read(const sl_field_desc_t *f, char *base, sl_mp_reader_t *r)
{
    void *at = base + f->offset;
    switch (f->kind) {
    case SL_FK_U64:
        return sl_mp_read_uint(r, (uint64_t *)at);
    case SL_FK_I64:
        return sl_mp_read_int(r, (int64_t *)at);
    case SL_FK_BOOL:
        return sl_mp_read_bool(r, (bool *)at);
    case SL_FK_DBL:
        return sl_mp_read_double(r, (double *)at);
    case SL_FK_STR:
        return sl_mp_read_strdup(r, SL_MSG_MAX_STR, (char **)at);
    case SL_FK_BIN: {
        const uint8_t *p;
        size_t len;
        int rc = sl_mp_read_bin(r, &p, &len);
        return rc < 0 ? rc : s_dup_bytes(at, p, len);
    }
    case SL_FK_RAW: {
        const uint8_t *p;
        size_t len;
        int rc = sl_mp_read_raw(r, &p, &len);
        return rc < 0 ? rc : s_dup_bytes(at, p, len);
    }
    case SL_FK_STRS:
        return s_read_strs(r, at);
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

int sl_msg_decode(uint16_t type, const uint8_t *buf, size_t len, void *out)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    if (!out) {
        return SL_EINVAL;
    }
    char *base = out;
    memset(base, 0, d->size);

    /* One well-formed object, depth-limited as a whole (so a RAW field
       nests at most SL_MP_MAX_DEPTH - 1 levels), nothing after it: checked
       first so every malformed body fails the same way whatever field
       the damage is in. */
    int rc = sl_mp_validate(buf, len);
    if (rc < 0) {
        goto fail;
    }
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    uint64_t seen = 0;    /* key met (duplicates) */
    uint64_t present = 0; /* key met with a non-nil value */
    size_t hint = 0;
    uint32_t n;
    rc = sl_mp_read_map(&r, &n);
    if (rc < 0) {
        goto fail;
    }
    for (uint32_t k = 0; k < n; k++) {
        const char *key;
        size_t klen;
        rc = sl_mp_read_str(&r, &key, &klen);
        if (rc < 0) {
            goto fail;
        }
        int i = s_find_field(d, key, klen, hint);
        if (i < 0) {
            /* Unknown key: a newer writer's field. */
            rc = sl_mp_skip(&r);
            if (rc < 0) {
                goto fail;
            }
            continue;
        }
        hint = (size_t)i + 1;
        uint64_t bit = (uint64_t)1 << i;
        if (seen & bit) {
            rc = SL_EPROTO;
            goto fail;
        }
        seen |= bit;
        if (sl_mp_peek(&r) == SL_MP_NIL) {
            rc = sl_mp_read_nil(&r);
            if (rc < 0) {
                goto fail;
            }
            continue;
        }
        rc = s_field_read(&d->fields[i], base, &r);
        if (rc < 0) {
            goto fail;
        }
        present |= bit;
    }
    if (!sl_mp_reader_done(&r)) {
        rc = SL_ETRAILING;
        goto fail;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        if (d->fields[i].required && !(present & ((uint64_t)1 << i))) {
            rc = SL_EMISSING;
            goto fail;
        }
    }
    return 0;
fail:
    sl_msg_clear(type, out);
    return rc;
}

void sl_msg_clear(uint16_t type, void *msg)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d || !msg) {
        return;
    }
    char *base = msg;
    for (size_t i = 0; i < d->nfields; i++) {
        void *at = base + d->fields[i].offset;
        switch (d->fields[i].kind) {
        case SL_FK_STR:
            free(*(char **)at);
            break;
        case SL_FK_BIN:
        case SL_FK_RAW:
            sl_bytes_clear(at);
            break;
        case SL_FK_STRS:
            sl_strs_clear(at);
            break;
        default:
            break;
        }
    }
    memset(base, 0, d->size);
}

int sl_msg_decode_any(uint16_t type, const uint8_t *buf, size_t len, void **out)
{
    *out = NULL;
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    void *m = calloc(1, d->size);
    if (!m) {
        return SL_ENOMEM;
    }
    int rc = sl_msg_decode(type, buf, len, m);
    if (rc < 0) {
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void sl_msg_free(uint16_t type, void **msg)
{
    if (!msg || !*msg) {
        return;
    }
    sl_msg_clear(type, *msg);
    free(*msg);
    *msg = NULL;
}

/* ---- typed wrappers ------------------------------------------------------- */

#define SL_F(kind, name, presence)
#define SL_MSG(sym, id, cname, ...)                                                                \
    int sl_##cname##_write(const sl_##cname##_t *m, sl_mp_writer_t *w)                             \
    {                                                                                              \
        return sl_msg_encode(sym, m, w);                                                           \
    }                                                                                              \
    int sl_##cname##_encode(const sl_##cname##_t *m, uint8_t **out, size_t *len)                   \
    {                                                                                              \
        return sl_msg_encode_buf(sym, m, out, len);                                                \
    }                                                                                              \
    int sl_##cname##_decode(const uint8_t *buf, size_t len, sl_##cname##_t *out)                   \
    {                                                                                              \
        return sl_msg_decode(sym, buf, len, out);                                                  \
    }                                                                                              \
    void sl_##cname##_clear(sl_##cname##_t *m)                                                     \
    {                                                                                              \
        sl_msg_clear(sym, m);                                                                      \
    }
#include "proto/sl_catalog.def"
#undef SL_MSG
#undef SL_F
