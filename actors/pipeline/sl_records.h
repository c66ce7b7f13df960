/*  sl_records.h: the pipeline shard's stored records and their vocabulary.

    These are the values the pipeline shards keep in the store's `pipelines`,
    `tasks`, `attempts` and `dlq` databases (docs/internals.md). The records
    are declared once, in actors/pipeline/sl_records.def, on the codec of
    proto/sl_codec.h; this header generates their structs and typed
    wrappers from it. No I/O, no threads, no global mutable state: safe on
    any thread for distinct records. Records own their strings, lists and
    bytes (heap, free()); sl_<rec>_rec_clear frees them and zeroes the
    struct.

    Wire form: each record is a msgpack map with str keys, enums stored by
    name (so a stored record reads on its own and a renumbered enum cannot
    change its meaning). Decoders never trust the bytes (they come from
    disk): a value that is not a map, a known key with the wrong type, a
    status name we do not know, a missing id, or trailing bytes are errors
    (SL_EPROTO, SL_ETRUNC, SL_EMISSING, SL_ETRAILING, SL_ETOOBIG); unknown
    keys are skipped so newer writers stay readable. On error the output
    record is left cleared and nothing leaks.
*/
#ifndef SL_RECORDS_H
#define SL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_codec.h"
#include "proto/sl_mp.h"

/* ---- vocabulary ------------------------------------------------------------ */

/* Pipeline status. `pending` until the start request is committed. */
typedef enum {
    SL_PS_PENDING = 0,
    SL_PS_RUNNING,
    SL_PS_COMPLETED,
    SL_PS_PARTIAL, /* "partial_success" */
    SL_PS_FAILED,
    SL_PS_CANCELLED,
    SL_PS__COUNT
} sl_pstatus_t;

/* Pipeline stage: generation, then analysis, then done. */
typedef enum {
    SL_STAGE_GENERATION = 0,
    SL_STAGE_ANALYSIS,
    SL_STAGE_DONE,
    SL_STAGE__COUNT
} sl_stage_t;

/* Task status (README, "Statuses"). pending: waiting for the pipeline's concurrency
   limit; queued: ATTEMPT_START sent, the endpoint has not reported a start;
   running: the endpoint reported progress of the attempt; retry_wait: backing
   off before the next attempt; dead: parked in the DLQ. */
typedef enum {
    SL_TS_PENDING = 0,
    SL_TS_QUEUED,
    SL_TS_RUNNING,
    SL_TS_RETRY_WAIT,
    SL_TS_SUCCEEDED,
    SL_TS_FAILED,
    SL_TS_CANCELLED,
    SL_TS_DEAD,
    SL_TS__COUNT
} sl_tstatus_t;

typedef enum { SL_TK_GENERATION = 0, SL_TK_ANALYSIS, SL_TK__COUNT } sl_tkind_t;

/* Names as stored and shown ("partial_success", "retry_wait", ...); "unknown"
   out of range. Static storage. */
const char *sl_pstatus_name(int s);
const char *sl_stage_name(int s);
const char *sl_tstatus_name(int s);
const char *sl_tkind_name(int k);

/* Name (s, len) -> value; SL_ENOTFOUND for an unknown name. */
int sl_pstatus_parse(const char *s, size_t len);
int sl_stage_parse(const char *s, size_t len);
int sl_tstatus_parse(const char *s, size_t len);
int sl_tkind_parse(const char *s, size_t len);

static inline bool sl_pstatus_terminal(int s)
{
    return s == SL_PS_COMPLETED || s == SL_PS_PARTIAL || s == SL_PS_FAILED || s == SL_PS_CANCELLED;
}

static inline bool sl_tstatus_terminal(int s)
{
    return s == SL_TS_SUCCEEDED || s == SL_TS_FAILED || s == SL_TS_CANCELLED || s == SL_TS_DEAD;
}

/* Limits enforced by the decoders (and the encoders). */
#define SL_REC_MAX_STR 4096u          /* one string field (errors are truncated to it) */
#define SL_REC_MAX_REQUEST (1u << 20) /* the stored start request */
#define SL_REC_MAX_HISTORY 256u       /* attempts kept per task */
#define SL_REC_MAX_EXCLUDE 64u        /* replicas in a task's exclude list */

/* ---- generated from sl_records.def ------------------------------------------ */

/* Structs: sl_attempt_rec_t, sl_task_rec_t, sl_pipeline_rec_t, sl_dlq_rec_t,
   each with a list type sl_<x>_rec_list_t {sl_<x>_rec_t *v; size_t n}. */
#define SL_FIELD SL_CODEC_MEMBER
#define SL_REC(cname, ...)                                                                         \
    typedef struct sl_##cname##_rec sl_##cname##_rec_t;                                            \
    typedef struct {                                                                               \
        sl_##cname##_rec_t *v;                                                                     \
        size_t n;                                                                                  \
    } sl_##cname##_rec_list_t;                                                                     \
    struct sl_##cname##_rec {                                                                      \
        __VA_ARGS__                                                                                \
    };
#include "actors/pipeline/sl_records.def"
#undef SL_REC
#undef SL_FIELD

/* Per record (the codec's rules, proto/sl_codec.h, with the limits above;
   encoding truncates strings, exclude and history rather than fail):
   _desc: its descriptor (static storage), for tests and tools;
   _init: zeroes and sets the declared defaults;
   _write/_encode: one map to a writer / a new buffer (caller owns, free());
   _read/_decode: one map at a reader / a whole buffer, into a struct that
   is overwritten without freeing (on error left zeroed);
   _clear: frees owned fields and zeroes (NULL is OK);
   _copy: deep copy into dst (overwritten); 0 or SL_ENOMEM (dst zeroed). */
#define SL_FIELD(kind, cname, key, presence, dflt, x)
#define SL_REC(cname, ...)                                                                         \
    const sl_msg_desc_t *sl_##cname##_rec_desc(void);                                              \
    void sl_##cname##_rec_init(sl_##cname##_rec_t *self);                                          \
    int sl_##cname##_rec_write(const sl_##cname##_rec_t *self, sl_mp_writer_t *w);                 \
    int sl_##cname##_rec_encode(const sl_##cname##_rec_t *self, uint8_t **out, size_t *len);       \
    int sl_##cname##_rec_read(sl_mp_reader_t *r, sl_##cname##_rec_t *out);                         \
    int sl_##cname##_rec_decode(const uint8_t *buf, size_t len, sl_##cname##_rec_t *out);          \
    void sl_##cname##_rec_clear(sl_##cname##_rec_t *self);                                         \
    int sl_##cname##_rec_copy(sl_##cname##_rec_t *dst, const sl_##cname##_rec_t *src);
#include "actors/pipeline/sl_records.def"
#undef SL_REC
#undef SL_FIELD

/* Store key of an attempt: "<task_id>-a<NN>" into buf; SL_ETOOBIG if cap is
   too small. */
int sl_attempt_key(char *buf, size_t cap, const char *task_id, uint32_t attempt);

#endif
