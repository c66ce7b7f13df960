/*  fuzz_wire.c: libFuzzer target over the analyzer frame parser.

    Any bytes go to sl_wire_frame_parse; a frame that parses is classified
    when terminal and then cleared. Crashes, sanitizer reports and leaks are
    the findings; return codes are not. Seed corpus: tests/data/protocol/.
*/
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_wire_frame_t f;
    if (sl_wire_frame_parse(&f, data, size) == 0) {
        sl_wire_verdict_t v;
        if (sl_wire_frame_is_terminal(&f)) {
            (void)sl_wire_classify(&f, &v);
        }
        (void)sl_wire_kind_name(f.kind);
        sl_wire_frame_clear(&f);
    }
    return 0;
}
