/*  pl_testutil.h: helpers shared by the pipeline module's tests.

    pl_json_to_mp turns a JSON text into msgpack bytes (jansson parses,
    sl_wire_json_to_mp encodes), so test requests read like the API's documentation.
    Integers stay integers, reals become doubles. Test-only code, test thread.
*/
#ifndef PL_TESTUTIL_H
#define PL_TESTUTIL_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_mp.h"
#include "proto/sl_wire.h"

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
    int rc = sl_wire_json_to_mp(&w, j, SL_MP_MAX_DEPTH);
    json_decref(j);
    if (rc) {
        sl_mp_writer_fini(&w);
        return -1;
    }
    return sl_mp_writer_release(&w, out, len) < 0 ? -1 : 0;
}

#endif
