/*  tpack.h: JSON -> msgpack with msgpack-c, for tests that play an outside
    client or a fake daemon and so must not encode with sluice's own code
    (sl_wire_json_to_mp is the one under test).

    Objects become maps with str keys, arrays arrays, integers int64, reals
    float64, strings str, except that a string "bin:<bytes>" becomes bin
    <bytes> so a test can send bytes. Header-only, any thread.
*/
#ifndef TPACK_H
#define TPACK_H

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

#endif
