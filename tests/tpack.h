/*  tpack.h: JSON <-> msgpack with msgpack-c, for tests that play an outside
    client or a fake daemon and so must not encode or decode with sluice's
    own code (sl_wire_json_to_mp and sl_mp are what is under test).

    tpack_json: objects become maps with str keys, arrays arrays, integers
    int64, reals float64, strings str, except that a string "bin:<bytes>"
    becomes bin <bytes> so a test can send bytes.

    tpack_unpack: the way back. With TPACK_MARK_TYPES every msgpack type
    stays visible (bin -> {"$bin": size}, a non-str key -> "$nonstr", ext ->
    "$other"), for tests that check what sluice sent; without it bin that is
    text reads as a string, non-str keys are skipped and ext is null, for
    tests that read replies like a client. Header-only, any thread.
*/
#ifndef TPACK_H
#define TPACK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

static inline void tpack_json(msgpack_packer *pk, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach((json_t *)v, key, item)
        {
            msgpack_pack_str(pk, strlen(key));
            msgpack_pack_str_body(pk, key, strlen(key));
            tpack_json(pk, item);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, item)
        {
            tpack_json(pk, item);
        }
        break;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n >= 4 && strncmp(s, "bin:", 4) == 0) {
            msgpack_pack_bin(pk, n - 4);
            msgpack_pack_bin_body(pk, s + 4, n - 4);
        } else {
            msgpack_pack_str(pk, n);
            msgpack_pack_str_body(pk, s, n);
        }
        break;
    }
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

#define TPACK_MARK_TYPES 1

static inline json_t *tpack_unpack(const msgpack_object *o, int flags)
{
    bool mark = (flags & TPACK_MARK_TYPES) != 0;
    json_t *v = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        v = json_stringn(o->via.str.ptr, o->via.str.size);
        return v ? v : json_string("<not utf-8>");
    case MSGPACK_OBJECT_BIN:
        v = mark ? NULL : json_stringn(o->via.bin.ptr, o->via.bin.size);
        return v ? v : json_pack("{sI}", "$bin", (json_int_t)o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        v = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_array_append_new(v, tpack_unpack(&o->via.array.ptr[i], flags));
        }
        return v;
    case MSGPACK_OBJECT_MAP:
        v = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type != MSGPACK_OBJECT_STR && !mark) {
                continue;
            }
            char *key = k->type == MSGPACK_OBJECT_STR ? strndup(k->via.str.ptr, k->via.str.size)
                                                      : strdup("$nonstr");
            if (key) {
                json_object_set_new(v, key, tpack_unpack(&o->via.map.ptr[i].val, flags));
                free(key);
            }
        }
        return v;
    default:
        return mark ? json_string("$other") : json_null();
    }
}

#endif
