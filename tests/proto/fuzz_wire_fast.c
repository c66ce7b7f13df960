/*  fuzz_wire_fast.c: libFuzzer target holding sl_wire_frame_parse_fast
    against sl_wire_frame_parse.

    Any bytes go to both parsers. The fast path may decline anything; a
    frame it accepts must parse on the slow path too, with the same kind,
    fields and verdict (tests/proto/test_wire_fast.c does the same on a
    fixed corpus). A mismatch aborts, so it is a finding like a crash.
    Seed corpus: tests/data/protocol/.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/sl_wire.h"
#include "proto/sl_wire_fast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char arena[4096];
    sl_wire_frame_t f, s;
    if (sl_wire_frame_parse_fast(&f, data, size, arena, sizeof arena) != 0) {
        return 0;
    }
    if (sl_wire_frame_parse(&s, data, size) != 0) {
        abort(); /* accepted what the slow path rejects */
    }
    int same = f.kind == s.kind && s_same(f.type, s.type) && s_same(f.id, s.id) &&
               s_same(f.service, s.service) && s_same(f.timestamp, s.timestamp);
    if (same && f.kind == SL_WIRE_ANALYSIS_RESULT) {
        same = s_same(f.u.result.status, s.u.result.status) &&
               s_same(f.u.result.inner_status, s.u.result.inner_status) &&
               s_same(f.u.result.inner_error, s.u.result.inner_error) &&
               s_same(f.u.result.error, s.u.result.error);
    } else if (same && f.kind == SL_WIRE_ERROR) {
        same = s_same(f.u.error.message, s.u.error.message);
    } else if (same && f.kind == SL_WIRE_PROGRESS) {
        same = s_same(f.u.progress.stage, s.u.progress.stage) &&
               s_same(f.u.progress.message, s.u.progress.message) &&
               s_same(f.u.progress.checkpoint, s.u.progress.checkpoint) &&
               f.u.progress.has_pct == s.u.progress.has_pct &&
               memcmp(&f.u.progress.pct, &s.u.progress.pct, sizeof(double)) == 0;
    }
    if (same && sl_wire_frame_is_terminal(&s)) {
        sl_wire_verdict_t vf, vs;
        same = sl_wire_classify(&f, &vf) == 0 && sl_wire_classify(&s, &vs) == 0 &&
               vf.outcome == vs.outcome && strcmp(vf.error, vs.error) == 0;
    }
    if (!same) {
        abort();
    }
    sl_wire_frame_clear(&f);
    sl_wire_frame_clear(&s);
    return 0;
}
