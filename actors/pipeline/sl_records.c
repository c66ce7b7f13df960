/*  sl_records.c: the vocabulary of the pipeline shard's stored records
    (status, stage and kind names) and the descriptors of the records
    declared in actors/pipeline/sl_records.def, for the codec of
    proto/sl_codec.h. Runs on whatever thread calls it; no global mutable
    state.
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

/* ---- descriptors (see proto/sl_catalog.c's design notes) ------------------- */

static const sl_enum_desc_t s_enum_pstatus = {sl_pstatus_name, sl_pstatus_parse};
static const sl_enum_desc_t s_enum_stage = {sl_stage_name, sl_stage_parse};
static const sl_enum_desc_t s_enum_tstatus = {sl_tstatus_name, sl_tstatus_parse};
static const sl_enum_desc_t s_enum_tkind = {sl_tkind_name, sl_tkind_parse};
static const sl_enum_desc_t s_enum_service = {sl_service_name, sl_service_parse};

static const sl_codec_limits_t s_limits = {SL_REC_MAX_STR, SL_REC_MAX_REQUEST, SL_REC_MAX_EXCLUDE,
                                           SL_REC_MAX_HISTORY, true};

#define SL_FIELD SL_CODEC_ROW
#define SL_REC(cname, ...)                                                                         \
    static const sl_msg_desc_t *s_desc_##cname(void)                                               \
    {                                                                                              \
        typedef sl_##cname##_rec_t s_cur_t;                                                        \
        static const sl_field_desc_t fields[] = {__VA_ARGS__};                                     \
        _Static_assert(sizeof fields / sizeof fields[0] <= 64, "too many fields in " #cname);      \
        static const sl_msg_desc_t desc = {                                                        \
            0, #cname, sizeof(s_cur_t), fields, sizeof fields / sizeof fields[0], &s_limits};      \
        return &desc;                                                                              \
    }
#include "actors/pipeline/sl_records.def"
#undef SL_REC
#undef SL_FIELD

/* ---- typed wrappers ------------------------------------------------------- */

#define SL_FIELD(kind, cname, key, presence, dflt, x)
#define SL_REC(cname, ...)                                                                         \
    const sl_msg_desc_t *sl_##cname##_rec_desc(void)                                               \
    {                                                                                              \
        return s_desc_##cname();                                                                   \
    }                                                                                              \
    void sl_##cname##_rec_init(sl_##cname##_rec_t *self)                                           \
    {                                                                                              \
        sl_codec_init(s_desc_##cname(), self);                                                     \
    }                                                                                              \
    int sl_##cname##_rec_write(const sl_##cname##_rec_t *self, sl_mp_writer_t *w)                  \
    {                                                                                              \
        return sl_codec_write(s_desc_##cname(), self, w);                                          \
    }                                                                                              \
    int sl_##cname##_rec_encode(const sl_##cname##_rec_t *self, uint8_t **out, size_t *len)        \
    {                                                                                              \
        return sl_codec_encode(s_desc_##cname(), self, out, len);                                  \
    }                                                                                              \
    int sl_##cname##_rec_read(sl_mp_reader_t *r, sl_##cname##_rec_t *out)                          \
    {                                                                                              \
        return sl_codec_read(s_desc_##cname(), r, out);                                            \
    }                                                                                              \
    int sl_##cname##_rec_decode(const uint8_t *buf, size_t len, sl_##cname##_rec_t *out)           \
    {                                                                                              \
        return sl_codec_decode(s_desc_##cname(), buf, len, out);                                   \
    }                                                                                              \
    void sl_##cname##_rec_clear(sl_##cname##_rec_t *self)                                          \
    {                                                                                              \
        sl_codec_clear(s_desc_##cname(), self);                                                    \
    }                                                                                              \
    int sl_##cname##_rec_copy(sl_##cname##_rec_t *dst, const sl_##cname##_rec_t *src)              \
    {                                                                                              \
        return sl_codec_copy(s_desc_##cname(), dst, src);                                          \
    }
#include "actors/pipeline/sl_records.def"
#undef SL_REC
#undef SL_FIELD

int sl_attempt_key(char *buf, size_t cap, const char *task_id, uint32_t attempt)
{
    int n = snprintf(buf, cap, "%s-a%02u", task_id, attempt);
    if (n < 0 || (size_t)n >= cap) {
        return SL_ETOOBIG;
    }
    return 0;
}
