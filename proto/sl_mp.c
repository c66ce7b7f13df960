/*  sl_mp.c: msgpack writer (over msgpack-c) and our own bounds-checked reader.

    No threads, no global state. The writer owns its msgpack_sbuffer; the
    reader borrows the caller's bytes and never allocates (sl_mp_read_strdup
    aside). See sl_mp.h for why the reader is not msgpack-c's unpacker.

    Design notes: every read goes through s_head(), which decodes one
    object's header at a position and checks, before anything else uses it,
    that the header and (for str/bin/ext) the payload fit in what remains, and
    that an array/map's element count is not larger than the remaining bytes
    could possibly hold (every element is at least one byte). Positions only
    ever move forward by amounts s_head() has checked, so no arithmetic on a
    declared length can overflow or point outside the buffer. Containers are
    walked recursively with an explicit depth bound.
*/
#include "proto/sl_mp.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer --------------------------------------------------------------- */

void sl_mp_writer_init(sl_mp_writer_t *self)
{
    msgpack_sbuffer_init(&self->sbuf);
    msgpack_packer_init(&self->pk, &self->sbuf, msgpack_sbuffer_write);
    self->err = 0;
}

void sl_mp_writer_fini(sl_mp_writer_t *self)
{
    if (!self) {
        return;
    }
    msgpack_sbuffer_destroy(&self->sbuf);
    sl_mp_writer_init(self);
}

void sl_mp_writer_reset(sl_mp_writer_t *self)
{
    msgpack_sbuffer_clear(&self->sbuf);
    self->err = 0;
}

const uint8_t *sl_mp_writer_data(const sl_mp_writer_t *self)
{
    return (const uint8_t *)self->sbuf.data;
}

size_t sl_mp_writer_len(const sl_mp_writer_t *self)
{
    return self->sbuf.size;
}

int sl_mp_writer_error(const sl_mp_writer_t *self)
{
    return self->err;
}

int sl_mp_writer_release(sl_mp_writer_t *self, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (self->err) {
        int rc = self->err;
        sl_mp_writer_fini(self);
        return rc;
    }
    *len = self->sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&self->sbuf);
    if (*len == 0) {
        /* An allocated-but-empty buffer is still ours to free. */
        free(*out);
        *out = NULL;
    }
    sl_mp_writer_init(self);
    return 0;
}

/* msgpack-c's packer only fails when the sbuffer cannot grow. */
static int s_check(sl_mp_writer_t *self, int prc)
{
    if (prc != 0 && !self->err) {
        self->err = SL_ENOMEM;
    }
    return self->err;
}

int sl_mp_write_map(sl_mp_writer_t *self, uint32_t n)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_map(&self->pk, n));
}

int sl_mp_write_array(sl_mp_writer_t *self, uint32_t n)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_array(&self->pk, n));
}

int sl_mp_write_strn(sl_mp_writer_t *self, const char *s, size_t len)
{
    if (self->err) {
        return self->err;
    }
    if (len > UINT32_MAX) {
        self->err = SL_ETOOBIG;
        return self->err;
    }
    int rc = s_check(self, msgpack_pack_str(&self->pk, len));
    /* Zero-length bodies are skipped: s may be NULL then. */
    if (rc == 0 && len > 0) {
        rc = s_check(self, msgpack_pack_str_body(&self->pk, s, len));
    }
    return rc;
}

int sl_mp_write_str(sl_mp_writer_t *self, const char *s)
{
    if (!s) {
        return sl_mp_write_nil(self);
    }
    return sl_mp_write_strn(self, s, strlen(s));
}

int sl_mp_write_bin(sl_mp_writer_t *self, const void *p, size_t len)
{
    if (self->err) {
        return self->err;
    }
    if (len > UINT32_MAX) {
        self->err = SL_ETOOBIG;
        return self->err;
    }
    int rc = s_check(self, msgpack_pack_bin(&self->pk, len));
    if (rc == 0 && len > 0) {
        rc = s_check(self, msgpack_pack_bin_body(&self->pk, p, len));
    }
    return rc;
}

int sl_mp_write_int(sl_mp_writer_t *self, int64_t v)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_int64(&self->pk, v));
}

int sl_mp_write_uint(sl_mp_writer_t *self, uint64_t v)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_uint64(&self->pk, v));
}

int sl_mp_write_bool(sl_mp_writer_t *self, bool v)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, v ? msgpack_pack_true(&self->pk) : msgpack_pack_false(&self->pk));
}

int sl_mp_write_nil(sl_mp_writer_t *self)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_nil(&self->pk));
}

int sl_mp_write_double(sl_mp_writer_t *self, double v)
{
    if (self->err) {
        return self->err;
    }
    return s_check(self, msgpack_pack_double(&self->pk, v));
}

int sl_mp_write_raw(sl_mp_writer_t *self, const void *p, size_t len)
{
    if (self->err) {
        return self->err;
    }
    if (len == 0) {
        return 0;
    }
    return s_check(self, msgpack_sbuffer_write(&self->sbuf, p, len));
}

int sl_mp_kv_str(sl_mp_writer_t *self, const char *key, const char *val)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_str(self, val);
}

int sl_mp_kv_strn(sl_mp_writer_t *self, const char *key, const char *val, size_t len)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_strn(self, val, len);
}

int sl_mp_kv_int(sl_mp_writer_t *self, const char *key, int64_t val)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_int(self, val);
}

int sl_mp_kv_uint(sl_mp_writer_t *self, const char *key, uint64_t val)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_uint(self, val);
}

int sl_mp_kv_bool(sl_mp_writer_t *self, const char *key, bool val)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_bool(self, val);
}

int sl_mp_kv_double(sl_mp_writer_t *self, const char *key, double val)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_double(self, val);
}

int sl_mp_kv_nil(sl_mp_writer_t *self, const char *key)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_nil(self);
}

int sl_mp_kv_bin(sl_mp_writer_t *self, const char *key, const void *p, size_t len)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_bin(self, p, len);
}

int sl_mp_kv_raw(sl_mp_writer_t *self, const char *key, const void *p, size_t len)
{
    sl_mp_write_str(self, key);
    return sl_mp_write_raw(self, p, len);
}

int sl_mp_write_error_replyv(sl_mp_writer_t *self, const char *code, const char *fmt, va_list ap)
{
    char message[SL_MP_ERROR_MESSAGE_MAX];
    vsnprintf(message, sizeof(message), fmt, ap);
    sl_mp_write_map(self, 2);
    sl_mp_kv_bool(self, "ok", false);
    sl_mp_write_str(self, "error");
    sl_mp_write_map(self, 2);
    sl_mp_kv_str(self, "code", code);
    return sl_mp_kv_str(self, "message", message);
}

int sl_mp_write_error_reply(sl_mp_writer_t *self, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_mp_write_error_replyv(self, code, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- reader --------------------------------------------------------------- */

/* One decoded object header. */
typedef struct {
    sl_mp_type_t type;
    size_t hdr; /* header bytes, type byte included */
    size_t n;   /* str/bin/ext: payload bytes; array/map: element/pair count */
    bool neg;   /* SL_MP_INT: true when the value is negative (then in i) */
    uint64_t u;
    int64_t i;
    double d;
    bool b;
} s_head_t;

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        v = (v << 8) | p[k];
    }
    return v;
}

/* Decodes the header at pos and checks that it, and any str/bin/ext payload,
   fits; that an array has at least n and a map at least 2n bytes left. */
static int s_head(const sl_mp_reader_t *r, size_t pos, s_head_t *h)
{
    if (pos >= r->len) {
        return SL_ETRUNC;
    }
    const uint8_t *p = r->buf + pos;
    size_t left = r->len - pos;
    uint8_t b = p[0];
    size_t lenbytes = 0; /* bytes of the length/value field after the type byte */

    memset(h, 0, sizeof *h);
    h->hdr = 1;
    if (b <= 0x7f) {
        h->type = SL_MP_INT;
        h->u = b;
        return 0;
    }
    if (b >= 0xe0) {
        h->type = SL_MP_INT;
        h->neg = true;
        h->i = (int8_t)b;
        return 0;
    }
    if (b >= 0x80 && b <= 0x8f) {
        h->type = SL_MP_MAP;
        h->n = b & 0x0f;
    } else if (b >= 0x90 && b <= 0x9f) {
        h->type = SL_MP_ARRAY;
        h->n = b & 0x0f;
    } else if (b >= 0xa0 && b <= 0xbf) {
        h->type = SL_MP_STR;
        h->n = b & 0x1f;
    } else {
        switch (b) {
        case 0xc0:
            h->type = SL_MP_NIL;
            return 0;
        case 0xc2:
        case 0xc3:
            h->type = SL_MP_BOOL;
            h->b = b == 0xc3;
            return 0;
        case 0xc4:
        case 0xc5:
        case 0xc6:
            h->type = SL_MP_BIN;
            lenbytes = (size_t)1 << (b - 0xc4);
            break;
        case 0xc7:
        case 0xc8:
        case 0xc9:
            h->type = SL_MP_EXT;
            lenbytes = (size_t)1 << (b - 0xc7);
            break;
        case 0xca:
        case 0xcb:
            h->type = SL_MP_DOUBLE;
            lenbytes = b == 0xca ? 4 : 8;
            break;
        case 0xcc:
        case 0xcd:
        case 0xce:
        case 0xcf:
        case 0xd0:
        case 0xd1:
        case 0xd2:
        case 0xd3:
            h->type = SL_MP_INT;
            lenbytes = (size_t)1 << ((b - 0xcc) & 3);
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            h->type = SL_MP_EXT;
            h->n = (size_t)1 << (b - 0xd4);
            h->hdr = 2; /* type byte + ext type */
            break;
        case 0xd9:
        case 0xda:
        case 0xdb:
            h->type = SL_MP_STR;
            lenbytes = (size_t)1 << (b - 0xd9);
            break;
        case 0xdc:
        case 0xdd:
            h->type = SL_MP_ARRAY;
            lenbytes = b == 0xdc ? 2 : 4;
            break;
        case 0xde:
        case 0xdf:
            h->type = SL_MP_MAP;
            lenbytes = b == 0xde ? 2 : 4;
            break;
        default: /* 0xc1: never used */
            return SL_EPROTO;
        }
    }

    if (lenbytes > 0) {
        if (left < 1 + lenbytes) {
            return SL_ETRUNC;
        }
        uint64_t v = s_be(p + 1, lenbytes);
        h->hdr = 1 + lenbytes;
        if (h->type == SL_MP_INT) {
            if (b >= 0xd0) { /* signed */
                int64_t sv;
                switch (lenbytes) {
                case 1:
                    sv = (int8_t)v;
                    break;
                case 2:
                    sv = (int16_t)v;
                    break;
                case 4:
                    sv = (int32_t)v;
                    break;
                default:
                    sv = (int64_t)v;
                    break;
                }
                if (sv < 0) {
                    h->neg = true;
                    h->i = sv;
                } else {
                    h->u = (uint64_t)sv;
                }
            } else {
                h->u = v;
            }
            return 0;
        }
        if (h->type == SL_MP_DOUBLE) {
            if (lenbytes == 4) {
                uint32_t w = (uint32_t)v;
                float f;
                memcpy(&f, &w, sizeof f);
                h->d = f;
            } else {
                memcpy(&h->d, &v, sizeof h->d);
            }
            return 0;
        }
        h->n = (size_t)v; /* at most 2^32 - 1: fits size_t on our targets */
        if (h->type == SL_MP_EXT) {
            h->hdr += 1; /* the ext type byte */
        }
    }

    if (left < h->hdr) {
        return SL_ETRUNC;
    }
    left -= h->hdr;
    switch (h->type) {
    case SL_MP_STR:
    case SL_MP_BIN:
    case SL_MP_EXT:
    case SL_MP_ARRAY:
        if (h->n > left) {
            return SL_ETRUNC;
        }
        break;
    case SL_MP_MAP:
        if (h->n > left / 2) {
            return SL_ETRUNC;
        }
        break;
    default:
        break;
    }
    return 0;
}

void sl_mp_reader_init(sl_mp_reader_t *self, const void *buf, size_t len)
{
    self->buf = buf;
    self->len = buf ? len : 0;
    self->pos = 0;
}

size_t sl_mp_reader_remaining(const sl_mp_reader_t *self)
{
    return self->len - self->pos;
}

bool sl_mp_reader_done(const sl_mp_reader_t *self)
{
    return self->pos >= self->len;
}

int sl_mp_peek(const sl_mp_reader_t *self)
{
    if (self->pos >= self->len) {
        return SL_ETRUNC;
    }
    /* The first byte alone decides the type, so this works on a truncated
       object too: decode the header over a one-byte view of it. */
    uint8_t b = self->buf[self->pos];
    sl_mp_reader_t one = {&b, 1, 0};
    s_head_t h;
    int rc = s_head(&one, 0, &h);
    /* SL_ETRUNC here only means the rest of the object is not in the view;
       s_head sets the type before it checks lengths. */
    return rc == SL_EPROTO ? rc : (int)h.type;
}

/* Reads the header at the current position and requires type t. */
static int s_expect(const sl_mp_reader_t *self, sl_mp_type_t t, s_head_t *h)
{
    int rc = s_head(self, self->pos, h);
    if (rc < 0) {
        return rc;
    }
    if (h->type != t) {
        return SL_EPROTO;
    }
    return 0;
}

/* A container header of type t: its element count, moving past the header. */
static int s_read_count(sl_mp_reader_t *self, sl_mp_type_t t, uint32_t *n)
{
    s_head_t h;
    int rc = s_expect(self, t, &h);
    if (rc < 0) {
        return rc;
    }
    *n = (uint32_t)h.n;
    self->pos += h.hdr;
    return 0;
}

/* A str or bin of type t: its bytes in place, moving past them. */
static int s_read_bytes(sl_mp_reader_t *self, sl_mp_type_t t, const uint8_t **p, size_t *len)
{
    s_head_t h;
    int rc = s_expect(self, t, &h);
    if (rc < 0) {
        return rc;
    }
    *p = self->buf + self->pos + h.hdr;
    *len = h.n;
    self->pos += h.hdr + h.n;
    return 0;
}

int sl_mp_read_map(sl_mp_reader_t *self, uint32_t *n)
{
    return s_read_count(self, SL_MP_MAP, n);
}

int sl_mp_read_array(sl_mp_reader_t *self, uint32_t *n)
{
    return s_read_count(self, SL_MP_ARRAY, n);
}

int sl_mp_read_str(sl_mp_reader_t *self, const char **s, size_t *len)
{
    const uint8_t *p;
    int rc = s_read_bytes(self, SL_MP_STR, &p, len);
    if (rc == 0) {
        *s = (const char *)p;
    }
    return rc;
}

int sl_mp_read_strdup(sl_mp_reader_t *self, size_t max, char **out)
{
    s_head_t h;
    *out = NULL;
    int rc = s_expect(self, SL_MP_STR, &h);
    if (rc < 0) {
        return rc;
    }
    if (h.n > max) {
        return SL_ETOOBIG;
    }
    const char *s = (const char *)self->buf + self->pos + h.hdr;
    if (h.n > 0 && memchr(s, '\0', h.n)) {
        return SL_EPROTO;
    }
    char *copy = malloc(h.n + 1);
    if (!copy) {
        return SL_ENOMEM;
    }
    if (h.n > 0) {
        memcpy(copy, s, h.n);
    }
    copy[h.n] = '\0';
    *out = copy;
    self->pos += h.hdr + h.n;
    return 0;
}

int sl_mp_read_bin(sl_mp_reader_t *self, const uint8_t **p, size_t *len)
{
    return s_read_bytes(self, SL_MP_BIN, p, len);
}

int sl_mp_read_int(sl_mp_reader_t *self, int64_t *v)
{
    s_head_t h;
    int rc = s_expect(self, SL_MP_INT, &h);
    if (rc < 0) {
        return rc;
    }
    if (h.neg) {
        *v = h.i;
    } else if (h.u > (uint64_t)INT64_MAX) {
        return SL_ETOOBIG;
    } else {
        *v = (int64_t)h.u;
    }
    self->pos += h.hdr;
    return 0;
}

int sl_mp_read_uint(sl_mp_reader_t *self, uint64_t *v)
{
    s_head_t h;
    int rc = s_expect(self, SL_MP_INT, &h);
    if (rc < 0) {
        return rc;
    }
    if (h.neg) {
        return SL_EPROTO;
    }
    *v = h.u;
    self->pos += h.hdr;
    return 0;
}

int sl_mp_read_bool(sl_mp_reader_t *self, bool *v)
{
    s_head_t h;
    int rc = s_expect(self, SL_MP_BOOL, &h);
    if (rc < 0) {
        return rc;
    }
    *v = h.b;
    self->pos += h.hdr;
    return 0;
}

int sl_mp_read_double(sl_mp_reader_t *self, double *v)
{
    s_head_t h;
    int rc = s_head(self, self->pos, &h);
    if (rc < 0) {
        return rc;
    }
    if (h.type == SL_MP_DOUBLE) {
        *v = h.d;
    } else if (h.type == SL_MP_INT) {
        *v = h.neg ? (double)h.i : (double)h.u;
    } else {
        return SL_EPROTO;
    }
    self->pos += h.hdr;
    return 0;
}

int sl_mp_read_nil(sl_mp_reader_t *self)
{
    s_head_t h;
    int rc = s_expect(self, SL_MP_NIL, &h);
    if (rc < 0) {
        return rc;
    }
    self->pos += h.hdr;
    return 0;
}

/* Skips the object at *pos (at nesting depth depth, top level 1; containers
   deeper than max are refused) and moves *pos past it; *pos is only written
   on success. */
static int s_skip_at(const sl_mp_reader_t *r, size_t *pos, int depth, int max)
{
    s_head_t h;
    int rc = s_head(r, *pos, &h);
    if (rc < 0) {
        return rc;
    }
    size_t p = *pos + h.hdr;
    switch (h.type) {
    case SL_MP_STR:
    case SL_MP_BIN:
    case SL_MP_EXT:
        p += h.n;
        break;
    case SL_MP_ARRAY:
    case SL_MP_MAP: {
        if (depth > max) {
            return SL_ETOOBIG;
        }
        /* n < 2^32, so 2n fits in uint64_t. */
        uint64_t count = h.type == SL_MP_MAP ? 2 * (uint64_t)h.n : (uint64_t)h.n;
        for (uint64_t k = 0; k < count; k++) {
            rc = s_skip_at(r, &p, depth + 1, max);
            if (rc < 0) {
                return rc;
            }
        }
        break;
    }
    default:
        break;
    }
    *pos = p;
    return 0;
}

int sl_mp_skip(sl_mp_reader_t *self)
{
    size_t p = self->pos;
    int rc = s_skip_at(self, &p, 1, SL_MP_MAX_DEPTH);
    if (rc < 0) {
        return rc;
    }
    self->pos = p;
    return 0;
}

int sl_mp_read_raw(sl_mp_reader_t *self, const uint8_t **p, size_t *len)
{
    size_t start = self->pos;
    int rc = sl_mp_skip(self);
    if (rc < 0) {
        return rc;
    }
    *p = self->buf + start;
    *len = self->pos - start;
    return 0;
}

int sl_mp_validate_depth(const void *buf, size_t len, int max_depth)
{
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    size_t p = 0;
    int rc = s_skip_at(&r, &p, 1, max_depth < SL_MP_MAX_DEPTH ? max_depth : SL_MP_MAX_DEPTH);
    if (rc < 0) {
        return rc;
    }
    return p == r.len ? 0 : SL_ETRAILING;
}

int sl_mp_validate(const void *buf, size_t len)
{
    return sl_mp_validate_depth(buf, len, SL_MP_MAX_DEPTH);
}

bool sl_mp_str_eq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return n == len && (n == 0 || memcmp(s, lit, n) == 0);
}

/* ---- finding keys in maps ------------------------------------------------- */

int sl_mp_reader_find(const sl_mp_reader_t *self, const char *key, sl_mp_reader_t *value)
{
    sl_mp_reader_t r = *self;
    uint32_t n;
    int rc = sl_mp_read_map(&r, &n);
    if (rc < 0) {
        return rc;
    }
    for (uint32_t k = 0; k < n; k++) {
        bool match = false;
        if (sl_mp_peek(&r) == SL_MP_STR) {
            const char *s;
            size_t slen;
            rc = sl_mp_read_str(&r, &s, &slen);
            if (rc < 0) {
                return rc;
            }
            match = sl_mp_str_eq(s, slen, key);
        } else {
            /* Keys that are containers count toward depth like any
               value: skip them with the same bound. */
            size_t p = r.pos;
            rc = s_skip_at(&r, &p, 2, SL_MP_MAX_DEPTH);
            if (rc < 0) {
                return rc;
            }
            r.pos = p;
        }
        size_t vstart = r.pos;
        size_t p = r.pos;
        rc = s_skip_at(&r, &p, 2, SL_MP_MAX_DEPTH);
        if (rc < 0) {
            return rc;
        }
        r.pos = p;
        if (match) {
            sl_mp_reader_init(value, r.buf + vstart, p - vstart);
            return 0;
        }
    }
    return SL_ENOTFOUND;
}

int sl_mp_map_find(const void *buf, size_t len, const char *key, sl_mp_reader_t *value)
{
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    return sl_mp_reader_find(&r, key, value);
}

/* Finds key and fails with SL_ENOTFOUND when it is absent or nil. */
static int s_get(const void *buf, size_t len, const char *key, sl_mp_reader_t *v)
{
    int rc = sl_mp_map_find(buf, len, key, v);
    if (rc < 0) {
        return rc;
    }
    if (sl_mp_peek(v) == SL_MP_NIL) {
        return SL_ENOTFOUND;
    }
    return 0;
}

int sl_mp_map_get_str(const void *buf, size_t len, const char *key, const char **s, size_t *slen)
{
    sl_mp_reader_t v;
    int rc = s_get(buf, len, key, &v);
    return rc < 0 ? rc : sl_mp_read_str(&v, s, slen);
}

int sl_mp_map_get_int(const void *buf, size_t len, const char *key, int64_t *out)
{
    sl_mp_reader_t v;
    int rc = s_get(buf, len, key, &v);
    return rc < 0 ? rc : sl_mp_read_int(&v, out);
}

int sl_mp_map_get_uint(const void *buf, size_t len, const char *key, uint64_t *out)
{
    sl_mp_reader_t v;
    int rc = s_get(buf, len, key, &v);
    return rc < 0 ? rc : sl_mp_read_uint(&v, out);
}

int sl_mp_map_get_bool(const void *buf, size_t len, const char *key, bool *out)
{
    sl_mp_reader_t v;
    int rc = s_get(buf, len, key, &v);
    return rc < 0 ? rc : sl_mp_read_bool(&v, out);
}

int sl_mp_map_get_double(const void *buf, size_t len, const char *key, double *out)
{
    sl_mp_reader_t v;
    int rc = s_get(buf, len, key, &v);
    return rc < 0 ? rc : sl_mp_read_double(&v, out);
}
