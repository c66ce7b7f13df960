/*  ctl_json.c: msgpack <-> JSON for sluicectl, generic in both directions.

    Requests are built as JSON objects (from flags or a request file) and
    encoded here; replies and events are validated with sl_mp_validate and
    then decoded into jansson values, so every renderer works on json_t and a
    missing or mistyped field is just a NULL lookup, never a crash. Pure
    functions on the caller's thread.
*/
#include "tools/sluicectl/ctl.h"

#include <stdlib.h>
#include <string.h>

#include "proto/sl_mp.h"
#include "proto/sl_wire.h"

/* ---- msgpack -> JSON ---------------------------------------------------------- */

char *ctl_base64(const uint8_t *p, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= p[i + 2];
        }
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        out[o++] = i + 1 < len ? abc[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static json_t *s_bin(const uint8_t *p, size_t len, bool embed_json)
{
    if (embed_json) {
        /* Results are the analyzer's JSON text: show them as JSON, not as
           an opaque blob, when they parse. */
        json_t *v = json_loadb((const char *)p, len, JSON_DECODE_ANY, NULL);
        if (v) {
            return v;
        }
    }
    char *b64 = ctl_base64(p, len);
    json_t *v = b64 ? json_string(b64) : NULL;
    free(b64);
    return v;
}

static json_t *s_value(sl_mp_reader_t *r, bool embed_json);

/* A map key as a JSON object key: strings as they are, scalars printed. */
static char *s_key(sl_mp_reader_t *r)
{
    char buf[64];
    const char *s = NULL;
    size_t len = 0;
    int64_t i = 0;
    uint64_t u = 0;
    switch (sl_mp_peek(r)) {
    case SL_MP_STR:
        if (sl_mp_read_str(r, &s, &len)) {
            return NULL;
        }
        json_t *check = json_stringn(s, len);
        if (!check || memchr(s, '\0', len)) {
            json_decref(check);
            return ctl_base64((const uint8_t *)s, len); /* keys must be clean text */
        }
        json_decref(check);
        return strndup(s, len);
    case SL_MP_INT:
        if (sl_mp_read_int(r, &i) == 0) {
            snprintf(buf, sizeof(buf), "%lld", (long long)i);
        } else if (sl_mp_read_uint(r, &u) == 0) {
            snprintf(buf, sizeof(buf), "%llu", (unsigned long long)u);
        } else {
            return NULL;
        }
        return strdup(buf);
    default: {
        /* Any other key: its JSON text. */
        json_t *k = s_value(r, false);
        char *text = k ? json_dumps(k, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        json_decref(k);
        return text;
    }
    }
}

static json_t *s_value(sl_mp_reader_t *r, bool embed_json)
{
    const char *s = NULL;
    const uint8_t *p = NULL;
    size_t len = 0;
    uint32_t n = 0;
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    bool b = false;
    switch (sl_mp_peek(r)) {
    case SL_MP_NIL:
        return sl_mp_read_nil(r) ? NULL : json_null();
    case SL_MP_BOOL:
        return sl_mp_read_bool(r, &b) ? NULL : json_boolean(b);
    case SL_MP_INT:
        if (sl_mp_read_int(r, &i) == 0) {
            return json_integer((json_int_t)i);
        }
        /* Above INT64_MAX: JSON integers here are signed 64-bit. */
        return sl_mp_read_uint(r, &u) ? NULL : json_real((double)u);
    case SL_MP_DOUBLE:
        return sl_mp_read_double(r, &d) ? NULL : json_real(d);
    case SL_MP_STR:
        if (sl_mp_read_str(r, &s, &len)) {
            return NULL;
        }
        /* Not UTF-8: keep the bytes visible rather than emit invalid JSON. */
        json_t *str = json_stringn(s, len);
        return str ? str : s_bin((const uint8_t *)s, len, false);
    case SL_MP_BIN:
        return sl_mp_read_bin(r, &p, &len) ? NULL : s_bin(p, len, embed_json);
    case SL_MP_EXT:
        return sl_mp_read_raw(r, &p, &len) ? NULL : s_bin(p, len, false);
    case SL_MP_ARRAY: {
        if (sl_mp_read_array(r, &n)) {
            return NULL;
        }
        json_t *a = json_array();
        for (uint32_t k = 0; a && k < n; k++) {
            json_t *v = s_value(r, embed_json);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    case SL_MP_MAP: {
        if (sl_mp_read_map(r, &n)) {
            return NULL;
        }
        json_t *o = json_object();
        for (uint32_t k = 0; o && k < n; k++) {
            char *key = s_key(r);
            json_t *v = key ? s_value(r, embed_json) : NULL;
            if (!v || json_object_set_new(o, key, v)) {
                free(key);
                json_decref(o);
                return NULL;
            }
            free(key);
        }
        return o;
    }
    default:
        return NULL;
    }
}

json_t *ctl_mp_to_json(const uint8_t *buf, size_t len, bool embed_json)
{
    /* Validation first: it bounds nesting, so the recursion below is too. */
    if (sl_mp_validate(buf, len) != 0) {
        return NULL;
    }
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    return s_value(&r, embed_json);
}

/* ---- JSON -> msgpack ------------------------------------------------------------ */

int ctl_json_to_mp(const json_t *value, uint8_t **out, size_t *len)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    /* A request cut at the daemon's own nesting limit would lose data. */
    int rc = sl_wire_json_to_mp(&w, value, SL_MP_MAX_DEPTH);
    if (rc) {
        sl_mp_writer_fini(&w);
        return rc;
    }
    return sl_mp_writer_release(&w, out, len);
}

/* ---- tolerant lookups -------------------------------------------------------------- */

const json_t *ctl_get(const json_t *obj, const char *key)
{
    return json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

const char *ctl_str(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(ctl_get(obj, key));
    return s ? s : fallback;
}

long long ctl_int(const json_t *obj, const char *key, long long fallback)
{
    const json_t *v = ctl_get(obj, key);
    if (json_is_integer(v)) {
        return (long long)json_integer_value(v);
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18) {
            return (long long)d;
        }
    }
    return fallback;
}

void ctl_print_json(FILE *out, const json_t *value)
{
    json_dumpf(value, out, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    fputc('\n', out);
}
