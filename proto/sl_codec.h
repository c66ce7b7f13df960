/*  sl_codec.h: the table-driven msgpack codec behind every declared schema.

    A schema is a C struct plus a descriptor: one row per field (map key,
    kind, REQ/OPT, offset, default, and for enums and lists what they hold).
    One encoder, one distrustful decoder, one clear and one deep copy walk
    the rows. Schemas are not written by hand: a .def file declares them
    and X-macros generate the struct, the descriptor and typed wrappers.
    proto/sl_catalog.def declares the message bodies actors send each
    other; actors/pipeline/sl_records.def declares the pipeline's stored
    records. No I/O, no threads, no global mutable state: every function is
    safe on any thread for distinct structs.

    Declaring fields (in a .def, inside SL_MSG(...) or SL_REC(...)):

        SL_F(kind, name, presence)             key "name"
        SL_FK(kind, name, "key", presence)     key differs from the C name
        SL_FD(kind, name, presence, dflt)      a number that is dflt when absent
        SL_FE(name, presence, vocab)           int32_t stored by name through
                                               the sl_enum_desc_t s_enum_<vocab>
        SL_FL(name, presence, elem)            a list of <elem> records
                                               (sl_<elem>_rec_list_t {v, n})
        SL_FI(name, presence, elem)            a list of <elem> items kept
                                               encoded (sl_bytes_t): written
                                               item by item with the item's
                                               _write, read with its _read

    kind: U64 (uint64_t), I64 (int64_t), U32 (uint32_t), I32 (int32_t),
    BOOL, DBL (double), STR (char *, NUL-terminated, owned; NULL = absent),
    BIN (sl_bytes_t, owned), STRS (sl_strs_t, owned), RAW (sl_bytes_t holding
    one complete, well-formed msgpack object, copied verbatim: for open maps
    whose keys are not ours to declare). presence: REQ (decoding fails with
    SL_EMISSING without it) or OPT.

    Wire form: a map {"key": value, ...}; a list is an array of such maps;
    an enum is its name (str). Encoding omits NULL STR fields and empty OPT
    BIN/RAW/STRS/LIST fields and always writes numbers and bools. Decoding
    never trusts the bytes:
      - the input must be one well-formed object, nothing after it
        (SL_ETRAILING), at most SL_MP_MAX_DEPTH deep; every map must be a
        map and keys must be str (SL_EPROTO); unknown keys are skipped (an
        older reader accepts a newer writer),
      - a known key holding the wrong type, a number out of its C type's
        range (SL_ETOOBIG for too big, SL_EPROTO for a negative unsigned),
        an enum name not in the vocabulary, or a key twice is SL_EPROTO;
        nil counts as absent,
      - sizes past the schema's limits are SL_ETOOBIG.
    On any decoding error the output struct is left zeroed and nothing leaks.
    Fields absent on the wire take their declared default (0 unless SL_FD).

    Limits (sl_codec_limits_t, one per schema family): without `truncate`
    encoding refuses (SL_ETOOBIG) what decoding would refuse; with it (the
    stored records) encoding keeps a record writable by cutting strings to
    max_str bytes, STRS to their first max_strs items and LISTs to their
    newest max_list items; BIN and RAW are never cut.

    Ownership: a struct owns its STR, BIN, STRS, RAW and LIST fields (heap,
    free()); sl_codec_clear frees them and zeroes the struct. Encoding only
    reads the struct.
*/
#ifndef SL_CODEC_H
#define SL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_mp.h"

/* An owned byte string (BIN and RAW fields); empty is {NULL, 0}. */
typedef struct {
    uint8_t *ptr;
    size_t len;
} sl_bytes_t;

/* An owned list of owned NUL-terminated strings (STRS fields). */
typedef struct {
    char **v;
    size_t n;
} sl_strs_t;

typedef enum {
    SL_FK_U64 = 1,
    SL_FK_I64,
    SL_FK_BOOL,
    SL_FK_DBL,
    SL_FK_STR,
    SL_FK_BIN,
    SL_FK_STRS,
    SL_FK_RAW,
    SL_FK_U32,
    SL_FK_I32,
    SL_FK_ENUM, /* int32_t, stored by name */
    SL_FK_LIST, /* {T *v; size_t n} of element records T */
    SL_FK_ITEMS /* sl_bytes_t: one msgpack array of element maps, kept encoded */
} sl_field_kind_t;

/* An enumeration stored by name: name(v) ("unknown" out of range, never
   NULL) and parse(s, len) (the value, or < 0 for a name not in it). */
typedef struct {
    const char *(*name)(int v);
    int (*parse)(const char *s, size_t len);
} sl_enum_desc_t;

typedef struct sl_msg_desc sl_msg_desc_t;

typedef struct {
    const char *name; /* the map key on the wire */
    sl_field_kind_t kind;
    bool required;
    size_t offset;                      /* offsetof in the struct */
    int64_t dflt;                       /* U32/I32/I64/U64/ENUM: value when absent */
    const sl_enum_desc_t *en;           /* ENUM: the vocabulary */
    const sl_msg_desc_t *(*elem)(void); /* LIST, ITEMS: the element's schema */
} sl_field_desc_t;

typedef struct {
    size_t max_str;  /* one STR, bytes; also each STRS item */
    size_t max_bin;  /* one BIN or RAW, bytes */
    size_t max_strs; /* items in one STRS */
    size_t max_list; /* items in one LIST */
    bool truncate;   /* encoding cuts STR/STRS/LIST to the limits instead of refusing */
} sl_codec_limits_t;

/* The descriptor of one schema (static storage). */
struct sl_msg_desc {
    uint16_t type;    /* SL_MSG_* for a message; 0 for a record */
    const char *name; /* "attempt_start", "task" */
    size_t size;      /* sizeof the struct */
    const sl_field_desc_t *fields;
    size_t nfields; /* at most 64 (a compile-time check) */
    const sl_codec_limits_t *limits;
};

/* A list field seen generically: every generated sl_<x>_rec_list_t has this
   layout. */
typedef struct {
    void *v;
    size_t n;
} sl_list_t;

/* ---- building structs ----------------------------------------------------- */

/* strdup that maps NULL to NULL (also NULL when out of memory). */
char *sl_strdup_or_null(const char *s);

/* Replaces *dst (freed) with a copy of src (NULL clears). 0 or SL_ENOMEM
   (then *dst is unchanged). */
int sl_str_set(char **dst, const char *src);

/* Appends a copy of s (not NULL). 0, SL_EINVAL, or SL_ENOMEM (list
   unchanged). */
int sl_strs_push(sl_strs_t *self, const char *s);
/* Frees every item and the array; leaves {NULL, 0}. */
void sl_strs_clear(sl_strs_t *self);

/* Replaces the bytes (old ones freed) with a copy of p[0..len); len 0
   leaves {NULL, 0}. 0 or SL_ENOMEM (then unchanged). */
int sl_bytes_set(sl_bytes_t *self, const void *p, size_t len);
/* Frees the bytes; leaves {NULL, 0}. */
void sl_bytes_clear(sl_bytes_t *self);

/* Zeroes s and sets the declared defaults. */
void sl_codec_init(const sl_msg_desc_t *d, void *s);

/* Appends s as one map to w. SL_EINVAL for a REQ STR that is NULL, a REQ
   RAW that is empty, a RAW that is not one well-formed object or an enum
   value out of its vocabulary; SL_ETOOBIG past a limit (see above);
   SL_ENOMEM. On error w may hold a partial map. */
int sl_codec_write(const sl_msg_desc_t *d, const void *s, sl_mp_writer_t *w);

/* The same into a new buffer: *out (caller owns, free()), *len. */
int sl_codec_encode(const sl_msg_desc_t *d, const void *s, uint8_t **out, size_t *len);

/* Decodes buf[0..len) into *out (overwritten without freeing: pass a
   zeroed or cleared struct). Errors as described at the top; on error *out
   is zeroed. */
int sl_codec_decode(const sl_msg_desc_t *d, const uint8_t *buf, size_t len, void *out);

/* Reads one map at r's position into *out (advancing r), under the same
   rules except the whole-input checks. On error *out is zeroed. */
int sl_codec_read(const sl_msg_desc_t *d, sl_mp_reader_t *r, void *out);

/* Frees the owned fields of s and zeroes it. s NULL is OK. */
void sl_codec_clear(const sl_msg_desc_t *d, void *s);

/* Starts reading an ITEMS field: r over its bytes, *n its item count (0
   for an empty field). 0 or SL_EPROTO (then *n is 0). */
int sl_codec_items(const sl_bytes_t *items, sl_mp_reader_t *r, uint32_t *n);

/* Reads the next item at r into *out (overwritten without freeing). 0; an
   item that does not decode gives its error with r moved past it, so the
   caller may skip it and go on; a list that is itself broken gives
   SL_ETRUNC with r moved to its end (sl_mp_reader_done). On error *out is
   zeroed. */
int sl_codec_items_next(sl_mp_reader_t *r, const sl_msg_desc_t *d, void *out);

/* Deep copy of src into *dst (overwritten without freeing). 0 or SL_ENOMEM
   (then *dst is zeroed). */
int sl_codec_copy(const sl_msg_desc_t *d, void *dst, const void *src);

/* ---- declaring schemas in a .def ------------------------------------------- */

/* The field forms a .def uses; each expands to SL_FIELD, which the includer
   defines (struct member, descriptor row, or nothing). The last argument
   names the enum vocabulary (ENUM), the element record (LIST) or nothing
   (_). */
#define SL_F(kind, name, presence) SL_FIELD(kind, name, #name, presence, 0, _)
#define SL_FK(kind, name, key, presence) SL_FIELD(kind, name, key, presence, 0, _)
#define SL_FD(kind, name, presence, dflt) SL_FIELD(kind, name, #name, presence, dflt, _)
#define SL_FE(name, presence, vocab) SL_FIELD(ENUM, name, #name, presence, 0, vocab)
#define SL_FED(name, presence, vocab, dflt) SL_FIELD(ENUM, name, #name, presence, dflt, vocab)
#define SL_FL(name, presence, elem) SL_FIELD(LIST, name, #name, presence, 0, elem)
#define SL_FI(name, presence, elem) SL_FIELD(ITEMS, name, #name, presence, 0, elem)

/* C types per kind (x: the SL_FIELD's last argument). */
#define SL_FT_U64(x) uint64_t
#define SL_FT_I64(x) int64_t
#define SL_FT_U32(x) uint32_t
#define SL_FT_I32(x) int32_t
#define SL_FT_BOOL(x) bool
#define SL_FT_DBL(x) double
#define SL_FT_STR(x) char *
#define SL_FT_BIN(x) sl_bytes_t
#define SL_FT_STRS(x) sl_strs_t
#define SL_FT_RAW(x) sl_bytes_t
#define SL_FT_ENUM(x) int32_t
#define SL_FT_LIST(x) sl_##x##_rec_list_t
#define SL_FT_ITEMS(x) sl_bytes_t

/* SL_FIELD as a struct member. */
#define SL_CODEC_MEMBER(kind, cname, key, presence, dflt, x) SL_FT_##kind(x) cname;

/* The descriptor row's extras per kind: the enum vocabulary must be a
   `static const sl_enum_desc_t s_enum_<vocab>` and the element schema a
   function `const sl_msg_desc_t *s_desc_<elem>(void)`, both visible where
   the rows are generated. */
#define SL_FX_U64(x) NULL, NULL
#define SL_FX_I64(x) NULL, NULL
#define SL_FX_U32(x) NULL, NULL
#define SL_FX_I32(x) NULL, NULL
#define SL_FX_BOOL(x) NULL, NULL
#define SL_FX_DBL(x) NULL, NULL
#define SL_FX_STR(x) NULL, NULL
#define SL_FX_BIN(x) NULL, NULL
#define SL_FX_STRS(x) NULL, NULL
#define SL_FX_RAW(x) NULL, NULL
#define SL_FX_ENUM(x) &s_enum_##x, NULL
#define SL_FX_LIST(x) NULL, s_desc_##x
#define SL_FX_ITEMS(x) NULL, s_desc_##x

#define SL_CODEC_PRES_REQ true
#define SL_CODEC_PRES_OPT false

/* SL_FIELD as a descriptor row, inside a block that typedefs s_cur_t to the
   struct (see proto/sl_catalog.c's design notes). */
#define SL_CODEC_ROW(kind, cname, key, presence, dflt, x)                                          \
    {key,                                                                                          \
     SL_FK_##kind,                                                                                 \
     SL_CODEC_PRES_##presence,                                                                     \
     offsetof(s_cur_t, cname),                                                                     \
     (int64_t)(dflt),                                                                              \
     SL_FX_##kind(x)},

#endif
