/*  sl_catalog.c: the descriptor of every message type in
    proto/sl_catalog.def, lookup by type id, and the typed wrappers over the
    generic codec (proto/sl_codec.c).

    No threads, no global mutable state: the descriptors are static const
    data.

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

static const sl_codec_limits_t s_limits = {SL_MSG_MAX_STR, SL_MSG_MAX_BIN, SL_MSG_MAX_STRS,
                                           SL_MSG_MAX_LIST, false};

/* ---- descriptors ---------------------------------------------------------- */

#define SL_FIELD SL_CODEC_ROW
#define SL_MSG(sym, id, cname, ...)                                                                \
    static const sl_msg_desc_t *s_desc_##cname(void)                                               \
    {                                                                                              \
        typedef sl_##cname##_t s_cur_t;                                                            \
        static const sl_field_desc_t fields[] = {__VA_ARGS__};                                     \
        _Static_assert(sizeof fields / sizeof fields[0] <= S_MAX_FIELDS,                           \
                       "too many fields in " #cname);                                              \
        static const sl_msg_desc_t desc = {                                                        \
            sym, #cname, sizeof(s_cur_t), fields, sizeof fields / sizeof fields[0], &s_limits};    \
        return &desc;                                                                              \
    }
#define SL_ITEM(cname, ...) SL_MSG(0, 0, cname, __VA_ARGS__)
#include "proto/sl_catalog.def"
#undef SL_ITEM
#undef SL_MSG
#undef SL_FIELD

typedef const sl_msg_desc_t *(s_desc_fn)(void);

static s_desc_fn *const s_all[] = {
#define SL_FIELD(kind, cname, key, presence, dflt, x)
#define SL_MSG(sym, id, cname, ...) s_desc_##cname,
#define SL_ITEM(cname, ...)
#include "proto/sl_catalog.def"
#undef SL_ITEM
#undef SL_MSG
#undef SL_FIELD
};

const sl_msg_desc_t *sl_msg_desc(uint16_t type)
{
    switch (type) {
#define SL_FIELD(kind, cname, key, presence, dflt, x)
#define SL_MSG(sym, id, cname, ...)                                                                \
    case sym:                                                                                      \
        return s_desc_##cname();
#define SL_ITEM(cname, ...)
#include "proto/sl_catalog.def"
#undef SL_ITEM
#undef SL_MSG
#undef SL_FIELD
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

/* ---- generic codec -------------------------------------------------------- */

int sl_msg_encode(uint16_t type, const void *msg, sl_mp_writer_t *w)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    return sl_codec_write(d, msg, w);
}

int sl_msg_encode_buf(uint16_t type, const void *msg, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    return sl_codec_encode(d, msg, out, len);
}

int sl_msg_decode(uint16_t type, const uint8_t *buf, size_t len, void *out)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return SL_ETYPE;
    }
    return sl_codec_decode(d, buf, len, out);
}

void sl_msg_clear(uint16_t type, void *msg)
{
    const sl_msg_desc_t *d = sl_msg_desc(type);
    if (!d) {
        return;
    }
    sl_codec_clear(d, msg);
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
    int rc = sl_codec_decode(d, buf, len, m);
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

#define SL_FIELD(kind, cname, key, presence, dflt, x)
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
#define SL_ITEM(cname, ...)                                                                        \
    const sl_msg_desc_t *sl_##cname##_desc(void)                                                   \
    {                                                                                              \
        return s_desc_##cname();                                                                   \
    }                                                                                              \
    int sl_##cname##_write(const sl_##cname##_t *m, sl_mp_writer_t *w)                             \
    {                                                                                              \
        return sl_codec_write(s_desc_##cname(), m, w);                                             \
    }                                                                                              \
    int sl_##cname##_next(sl_mp_reader_t *r, sl_##cname##_t *out)                                  \
    {                                                                                              \
        return sl_codec_items_next(r, s_desc_##cname(), out);                                      \
    }                                                                                              \
    void sl_##cname##_clear(sl_##cname##_t *m)                                                     \
    {                                                                                              \
        sl_codec_clear(s_desc_##cname(), m);                                                       \
    }
#include "proto/sl_catalog.def"
#undef SL_MSG
#undef SL_FIELD
#undef SL_ITEM
