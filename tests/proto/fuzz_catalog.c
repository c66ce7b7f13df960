/*  fuzz_catalog.c: libFuzzer target over the catalog decoder and the
    msgpack reader (built only with -DSLUICE_FUZZ=ON and clang).

    Input format, shared with tests/data/malformed/: a 2-byte big-endian
    message type id, then the body. Ids not in the catalog are folded onto a
    known type so most inputs reach a real decoder. Besides "no crash, no
    leak, no overread" (ASan/UBSan), it checks two properties: anything the
    decoder accepts re-encodes, and that re-encoding decodes and encodes to
    the same bytes (encode/decode agree on every accepted message); and
    sl_mp_validate agrees with sl_mp_skip over the body.

    Run: fuzz_catalog -max_total_time=60 CORPUS_DIR ../tests/data/malformed
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_catalog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint16_t type = (uint16_t)(data[0] << 8 | data[1]);
    const uint8_t *body = data + 2;
    size_t len = size - 2;
    if (!sl_msg_type_known(type)) {
        type = sl_msg_desc_at(type % sl_msg_desc_count())->type;
    }

    /* The reader on its own: validate == skip + nothing left. */
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, body, len);
    int skip = sl_mp_skip(&r);
    int valid = sl_mp_validate(body, len);
    if (skip == 0) {
        if (valid != (sl_mp_reader_done(&r) ? 0 : SL_ETRAILING)) {
            abort();
        }
    } else if (valid != skip) {
        abort();
    }

    /* Key lookups walk any bytes without trusting them. */
    sl_mp_reader_t v;
    const char *str;
    size_t slen;
    int64_t i64;
    if (sl_mp_map_find(body, len, "task_id", &v) == 0 && v.pos + v.len > len) {
        abort();
    }
    (void)sl_mp_map_get_str(body, len, "op", &str, &slen);
    (void)sl_mp_map_get_int(body, len, "pct", &i64);

    void *msg = NULL;
    if (sl_msg_decode_any(type, body, len, &msg) < 0) {
        if (msg) {
            abort(); /* out must stay NULL on failure */
        }
        return 0;
    }
    /* Accepted bodies are well-formed. */
    if (valid != 0) {
        abort();
    }
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    if (sl_msg_encode_buf(type, msg, &enc, &enc_len) < 0) {
        abort();
    }
    void *again = NULL;
    if (sl_msg_decode_any(type, enc, enc_len, &again) < 0) {
        abort();
    }
    uint8_t *enc2 = NULL;
    size_t enc2_len = 0;
    if (sl_msg_encode_buf(type, again, &enc2, &enc2_len) < 0) {
        abort();
    }
    if (enc_len != enc2_len || memcmp(enc, enc2, enc_len) != 0) {
        abort();
    }
    free(enc);
    free(enc2);
    sl_msg_free(type, &msg);
    sl_msg_free(type, &again);
    return 0;
}
