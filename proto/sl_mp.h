/*  sl_mp.h: msgpack writer and zero-copy, distrustful reader.

    The writer is a thin layer over msgpack-c's msgpack_packer writing into a
    msgpack_sbuffer; it keeps a sticky error so a caller can write a whole map
    and check once. The reader is our own: msgpack-c's unpacker allocates the
    declared size of an array or map before it has looked at the input, so a
    5-byte frame claiming 2^32 elements asks for gigabytes. sl_mp_reader_t
    never trusts a declared length: every str/bin length is checked against
    the bytes that remain, an array of n elements needs at least n bytes left
    and a map at least 2n, and nesting is limited to SL_MP_MAX_DEPTH. The
    reader never allocates (except sl_mp_read_strdup) and never copies: str
    and bin results point into the caller's buffer and are borrowed for as
    long as that buffer lives. Both are plain values with no threads; one
    writer or reader must not be used from two threads at once.

    Every read returns 0 or a negative code from runtime/sl_err.h:
      SL_ETRUNC  the object runs past the end of the buffer,
      SL_EPROTO  wrong type, invalid byte (0xc1), value out of range for the
                 requested C type in sign, or an embedded NUL where none is
                 allowed,
      SL_ETOOBIG nesting deeper than SL_MP_MAX_DEPTH, or an integer too large
                 for the requested C type.
    A read that fails leaves the reader's position unchanged.
*/
#ifndef SL_MP_H
#define SL_MP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "runtime/sl_err.h"

/* Deepest nesting of arrays/maps the reader accepts (the top-level object is
   depth 1). */
#define SL_MP_MAX_DEPTH 32

/* ---- writer --------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sbuf; /* owned; bytes written so far in sbuf.data/sbuf.size */
    msgpack_packer pk;
    int err; /* sticky: first error, 0 if none */
} sl_mp_writer_t;

/* Initialises an empty writer (allocates nothing until the first write).
   The packer points at the writer's own buffer: do not copy an initialised
   writer by value. */
void sl_mp_writer_init(sl_mp_writer_t *self);

/* Frees the writer's buffer and leaves it empty and reusable. NULL is OK. */
void sl_mp_writer_fini(sl_mp_writer_t *self);

/* Forgets what was written (keeps the allocation) and clears the error. */
void sl_mp_writer_reset(sl_mp_writer_t *self);

/* Bytes written so far; borrowed until the next write/reset/fini. */
const uint8_t *sl_mp_writer_data(const sl_mp_writer_t *self);
size_t sl_mp_writer_len(const sl_mp_writer_t *self);

/* First error of any write since init/reset, or 0. */
int sl_mp_writer_error(const sl_mp_writer_t *self);

/* Hands the buffer to the caller: *out (caller owns, free()) and *len, and
   leaves the writer empty and reusable. Fails with the sticky error (and
   frees the buffer) if a write failed. For an empty writer *out is NULL and
   *len 0. */
int sl_mp_writer_release(sl_mp_writer_t *self, uint8_t **out, size_t *len);

/* Each write returns 0, SL_ENOMEM, or SL_ETOOBIG for a length over
   UINT32_MAX; after a failure every later write is a no-op returning the
   sticky error. */
int sl_mp_write_map(sl_mp_writer_t *self, uint32_t n);
int sl_mp_write_array(sl_mp_writer_t *self, uint32_t n);
/* s NULL writes nil. */
int sl_mp_write_str(sl_mp_writer_t *self, const char *s);
int sl_mp_write_strn(sl_mp_writer_t *self, const char *s, size_t len);
int sl_mp_write_bin(sl_mp_writer_t *self, const void *p, size_t len);
int sl_mp_write_int(sl_mp_writer_t *self, int64_t v);
int sl_mp_write_uint(sl_mp_writer_t *self, uint64_t v);
int sl_mp_write_bool(sl_mp_writer_t *self, bool v);
int sl_mp_write_nil(sl_mp_writer_t *self);
int sl_mp_write_double(sl_mp_writer_t *self, double v);
/* Appends pre-encoded msgpack bytes verbatim (not validated: the caller
   vouches for them, e.g. a slice from sl_mp_read_raw). */
int sl_mp_write_raw(sl_mp_writer_t *self, const void *p, size_t len);

/* Key/value pairs for a map being written: the key as a str, then the value.
   sl_mp_kv_str with val NULL writes nil; sl_mp_kv_raw as sl_mp_write_raw. */
int sl_mp_kv_str(sl_mp_writer_t *self, const char *key, const char *val);
int sl_mp_kv_strn(sl_mp_writer_t *self, const char *key, const char *val, size_t len);
int sl_mp_kv_int(sl_mp_writer_t *self, const char *key, int64_t val);
int sl_mp_kv_uint(sl_mp_writer_t *self, const char *key, uint64_t val);
int sl_mp_kv_bool(sl_mp_writer_t *self, const char *key, bool val);
int sl_mp_kv_double(sl_mp_writer_t *self, const char *key, double val);
int sl_mp_kv_nil(sl_mp_writer_t *self, const char *key);
int sl_mp_kv_bin(sl_mp_writer_t *self, const char *key, const void *p, size_t len);
int sl_mp_kv_raw(sl_mp_writer_t *self, const char *key, const void *p, size_t len);

/* The API's failure reply, a whole map: {ok: false, error: {code, message}}
   with message printf-formatted and cut at SL_MP_ERROR_MESSAGE_MAX - 1
   bytes. Returns as the writes do. */
#define SL_MP_ERROR_MESSAGE_MAX 512
int sl_mp_write_error_reply(sl_mp_writer_t *self, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int sl_mp_write_error_replyv(sl_mp_writer_t *self, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* ---- reader --------------------------------------------------------------- */

typedef struct {
    const uint8_t *buf; /* borrowed */
    size_t len;
    size_t pos;
} sl_mp_reader_t;

/* What the next object is (sl_mp_peek). All integer encodings are SL_MP_INT;
   float32 and float64 are SL_MP_DOUBLE. */
typedef enum {
    SL_MP_NIL = 1,
    SL_MP_BOOL,
    SL_MP_INT,
    SL_MP_DOUBLE,
    SL_MP_STR,
    SL_MP_BIN,
    SL_MP_ARRAY,
    SL_MP_MAP,
    SL_MP_EXT
} sl_mp_type_t;

/* Reads buf[0..len) (borrowed; buf may be NULL when len is 0). */
void sl_mp_reader_init(sl_mp_reader_t *self, const void *buf, size_t len);

/* Bytes not yet consumed; true when none are left. */
size_t sl_mp_reader_remaining(const sl_mp_reader_t *self);
bool sl_mp_reader_done(const sl_mp_reader_t *self);

/* Type of the next object (an sl_mp_type_t, > 0) without consuming it;
   SL_ETRUNC at the end of the buffer, SL_EPROTO for the never-used byte
   0xc1. Only looks at the first byte: the object may still be truncated. */
int sl_mp_peek(const sl_mp_reader_t *self);

/* Container headers: *n is the element count (a map's n pairs follow as 2n
   objects). SL_ETRUNC when fewer than n (array) / 2n (map) bytes remain. */
int sl_mp_read_map(sl_mp_reader_t *self, uint32_t *n);
int sl_mp_read_array(sl_mp_reader_t *self, uint32_t *n);

/* str: *s points into the buffer, NOT NUL-terminated; *len bytes. */
int sl_mp_read_str(sl_mp_reader_t *self, const char **s, size_t *len);
/* str copied into a new NUL-terminated string (*out, caller owns, free());
   SL_EPROTO if the str holds a NUL byte, SL_ETOOBIG if longer than max,
   SL_ENOMEM. */
int sl_mp_read_strdup(sl_mp_reader_t *self, size_t max, char **out);
/* bin: *p points into the buffer; *len bytes (*p non-NULL even when 0). */
int sl_mp_read_bin(sl_mp_reader_t *self, const uint8_t **p, size_t *len);
/* Any integer encoding whose value fits: int64 rejects values over
   INT64_MAX (SL_ETOOBIG); uint64 rejects negative values (SL_EPROTO). */
int sl_mp_read_int(sl_mp_reader_t *self, int64_t *v);
int sl_mp_read_uint(sl_mp_reader_t *self, uint64_t *v);
int sl_mp_read_bool(sl_mp_reader_t *self, bool *v);
/* float32, float64, or any integer (converted). */
int sl_mp_read_double(sl_mp_reader_t *self, double *v);
int sl_mp_read_nil(sl_mp_reader_t *self);

/* Skips one complete object, containers included (depth-limited). */
int sl_mp_skip(sl_mp_reader_t *self);
/* Consumes one complete object and returns its encoded bytes as a slice of
   the buffer (*p, *len; borrowed). */
int sl_mp_read_raw(sl_mp_reader_t *self, const uint8_t **p, size_t *len);

/* Exactly one complete, well-formed object and nothing after it: 0,
   SL_ETRUNC, SL_EPROTO, SL_ETOOBIG, or SL_ETRAILING. */
int sl_mp_validate(const void *buf, size_t len);
/* The same with a tighter nesting limit (capped at SL_MP_MAX_DEPTH), for
   bytes that will be embedded max - SL_MP_MAX_DEPTH levels down. */
int sl_mp_validate_depth(const void *buf, size_t len, int max_depth);

/* True when the str slice (s, len) equals the C string lit. */
bool sl_mp_str_eq(const char *s, size_t len, const char *lit);

/* ---- finding keys in maps ------------------------------------------------- */

/* The next object of self must be a map with str keys; finds the first pair
   whose key equals key and sets *value to a reader over exactly that value's
   bytes (borrowed from the same buffer). Does not advance self. Returns 0,
   SL_ENOTFOUND, or a read error (SL_EPROTO if it is not a map; pairs with
   non-str keys are skipped). */
int sl_mp_reader_find(const sl_mp_reader_t *self, const char *key, sl_mp_reader_t *value);

/* The same over a buffer that starts with a map (trailing bytes after the
   map are ignored). */
int sl_mp_map_find(const void *buf, size_t len, const char *key, sl_mp_reader_t *value);

/* Convenience lookups in a buffer holding a map: find key, then read the
   value as the given type. SL_ENOTFOUND when absent (nil counts as absent),
   SL_EPROTO on the wrong type. str results are borrowed slices. */
int sl_mp_map_get_str(const void *buf, size_t len, const char *key, const char **s, size_t *slen);
int sl_mp_map_get_int(const void *buf, size_t len, const char *key, int64_t *v);
int sl_mp_map_get_uint(const void *buf, size_t len, const char *key, uint64_t *v);
int sl_mp_map_get_bool(const void *buf, size_t len, const char *key, bool *v);
int sl_mp_map_get_double(const void *buf, size_t len, const char *key, double *v);

#endif
