/*  sl_wire_fast.h: a fast path for the frames an endpoint reads most on a
    mux connection -- results, accepted, heartbeat, cancelled, pong, error,
    progress -- without building a jansson tree.

    sl_wire_frame_parse builds the whole json_t tree of a frame. For the
    ~1 KB analysis result of a mux attempt that is ~13 us and ~127 k
    instructions, about half of the endpoint actor's CPU per attempt
    (sluice-bench endpoint, callgrind), while the endpoint reads only a
    handful of top-level strings plus analysis.status / analysis.error. This
    scanner checks the whole text in one pass, keeps no tree, and copies out
    only the fields sl_wire_classify and the endpoint read.

    Contract. sl_wire_frame_parse_fast either
      - returns 0 with *self filled exactly as sl_wire_frame_parse would
        fill it, except that self->root and every `const json_t *` member
        (result.analysis, ...) are NULL, and the strings live in the caller's
        arena (valid while the arena is; sl_wire_frame_clear is still fine);
      - or returns SL_EUNSUPPORTED with *self zeroed: the caller then parses
        with sl_wire_frame_parse, which decides, including every rejection.
    It never rejects a frame itself, so sl_wire_frame_parse stays the one
    judge of malformed input. It declines (SL_EUNSUPPORTED) whenever an exact
    answer would need more than a simple scan: a byte outside ASCII (no UTF-8
    check here), a \u escape anywhere, an escape in a key or in a field it
    returns, a number with an exponent or longer than 15 characters, nesting
    deeper than 32, more than 256 keys in open objects, a duplicate key (the
    slow path rejects those), anything that is not valid JSON, a required
    field that is absent or null, a field the slow path reads that holds
    another type than a plain string (or a number for pct; an error text
    given as an object), another frame kind, or an arena too small.
    Also SL_EINVAL for NULL self / arena, like sl_wire_frame_parse.

    Pure function, any thread. Tests: tests/proto/test_wire_fast.c holds it
    against sl_wire_frame_parse on captured frames, hostile variants and
    seeded random mutations.
*/
#ifndef SL_WIRE_FAST_H
#define SL_WIRE_FAST_H

#include <stddef.h>

#include "proto/sl_wire.h"

int sl_wire_frame_parse_fast(sl_wire_frame_t *self, const void *buf, size_t len, char *arena,
                             size_t arena_size);

#endif
