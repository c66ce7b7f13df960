/*  pl_testutil.h: helpers shared by the pipeline module's tests.

    pl_json_to_mp turns a JSON text into msgpack bytes (jansson parses, our
    writer encodes), so test requests read like the API's documentation.
    Integers stay integers, reals become doubles. Test-only code, test thread.
*/
#ifndef PL_TESTUTIL_H
#define PL_TESTUTIL_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_mp.h"

static void pl_json_write(sl_mp_writer_t *w, json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *v;
        sl_mp_write_map(w, (uint32_t)json_object_size(j));
        json_object_foreach(j, k, v)
        {
            sl_mp_write_str(w, k);
            pl_json_write(w, v);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *v;
        sl_mp_write_array(w, (uint32_t)json_array_size(j));
        json_array_foreach(j, i, v)
        {
            pl_json_write(w, v);
        }
        break;
    }
    case JSON_STRING:
        sl_mp_write_strn(w, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        sl_mp_write_int(w, json_integer_value(j));
        break;
    case JSON_REAL:
        sl_mp_write_double(w, json_real_value(j));
        break;
    case JSON_TRUE:
        sl_mp_write_bool(w, true);
        break;
    case JSON_FALSE:
        sl_mp_write_bool(w, false);
        break;
    case JSON_NULL:
        sl_mp_write_nil(w);
        break;
    }
}

/* Returns 0 and *out (free()), or -1 when the JSON does not parse. */
static int pl_json_to_mp(const char *text, uint8_t **out, size_t *len)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j) {
        return -1;
    }
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    pl_json_write(&w, j);
    json_decref(j);
    return sl_mp_writer_release(&w, out, len) < 0 ? -1 : 0;
}

#endif
