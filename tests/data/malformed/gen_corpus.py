#!/usr/bin/env python3
"""Writes the malformed-body corpus for proto/ (tests/data/malformed/*.bin).

Each file is a 2-byte big-endian message type id followed by a body that
the catalog decoder for that type must reject. test_catalog walks these
files; fuzz_catalog uses them (and its own findings) as its seed corpus.
Run from this directory; the output is committed, so this only needs to
run again when cases are added.
"""
import struct

def u(n):
    if n < 0x80: return bytes([n])
    if n < 0x100: return b"\xcc" + bytes([n])
    if n < 0x10000: return b"\xcd" + struct.pack(">H", n)
    if n < 0x100000000: return b"\xce" + struct.pack(">I", n)
    return b"\xcf" + struct.pack(">Q", n)

def i(n):
    return u(n) if n >= 0 else b"\xd3" + struct.pack(">q", n)

def s(t):
    b = t.encode() if isinstance(t, str) else t
    assert len(b) < 32
    return bytes([0xa0 | len(b)]) + b

def m(pairs):
    assert len(pairs) < 16
    return bytes([0x80 | len(pairs)]) + b"".join(k + v for k, v in pairs)

ATTEMPT_START, ATTEMPT_PROGRESS, ATTEMPT_CANCEL = 300, 301, 303
ENDPOINT_STATUS, STORE_GET, EVENT_PUBLISH, API_RESULT, ALERT = 304, 402, 410, 501, 610

start = m([(s("task_id"), s("t1")), (s("pipeline_id"), s("p1")), (s("attempt"), u(1)),
           (s("op"), s("static_analyze")), (s("tools"), b"\x92" + s("a") + s("b"))])
cancel = m([(s("task_id"), s("t1")), (s("attempt"), u(1))])

cases = {
    "invalid_c1": (ATTEMPT_START, b"\xc1"),
    "empty_body": (ATTEMPT_START, b""),
    "not_a_map_array": (ATTEMPT_START, b"\x91\x01"),
    "not_a_map_str": (ENDPOINT_STATUS, s("verbose")),
    "not_a_map_nil": (ENDPOINT_STATUS, b"\xc0"),
    "map32_huge": (ENDPOINT_STATUS, b"\xdf\xff\xff\xff\xff"),
    "map16_short": (ENDPOINT_STATUS, b"\xde\x00\x10" + s("verbose") + b"\xc3"),
    "str32_huge": (ALERT, b"\x82" + s("kind") + b"\xdb\xff\xff\xff\xff" + b"abc"),
    "bin32_huge": (STORE_GET, b"\x82" + s("db") + u(1) + s("key") + b"\xc6\xff\xff\xff\xff"),
    "array32_huge_strs": (ATTEMPT_START, b"\x81" + s("tools") + b"\xdd\xff\xff\xff\xff" + s("x")),
    "raw_map32_huge": (API_RESULT, b"\x81" + s("body") + b"\xdf\xff\xff\xff\xff\x01\x01"),
    "raw_deep_nesting": (API_RESULT, b"\x81" + s("body") + b"\x91" * 40 + b"\xc0"),
    # found by fuzz_catalog: a RAW within its own limit, but the body as a
    # whole one level too deep (encode and validate refuse it, so must decode)
    "raw_depth_body_33": (API_RESULT, b"\x81" + s("body") + b"\x91" * 32 + b"\xc0"),
    "raw_deep_maps": (API_RESULT, b"\x81" + s("body") + (b"\x81" + s("a")) * 40 + b"\x01"),
    "raw_c1": (API_RESULT, b"\x81" + s("body") + b"\x92\x01\xc1"),
    "trailing_nil": (ATTEMPT_CANCEL, cancel + b"\xc0"),
    "trailing_map": (ATTEMPT_CANCEL, cancel + cancel),
    "missing_required": (ATTEMPT_CANCEL, m([(s("task_id"), s("t1"))])),
    "nil_for_required": (ATTEMPT_CANCEL, m([(s("task_id"), b"\xc0"), (s("attempt"), u(1))])),
    "duplicate_key": (ATTEMPT_CANCEL, m([(s("task_id"), s("t1")), (s("task_id"), s("t2")),
                                         (s("attempt"), u(1))])),
    "u64_negative": (ATTEMPT_CANCEL, m([(s("task_id"), s("t1")), (s("attempt"), i(-1))])),
    "u64_as_str": (EVENT_PUBLISH, m([(s("seq"), s("1")), (s("topic"), s("x")),
                                     (s("body"), b"\x80")])),
    "i64_overflow": (ATTEMPT_PROGRESS, m([(s("task_id"), s("t")), (s("attempt"), u(1)),
                                          (s("pct"), u(2**64 - 1))])),
    "str_embedded_nul": (ATTEMPT_CANCEL, m([(s("task_id"), s(b"a\x00b")), (s("attempt"), u(1))])),
    "str_as_bin": (ATTEMPT_CANCEL, m([(s("task_id"), b"\xc4\x02ab"), (s("attempt"), u(1))])),
    "strs_with_int": (ATTEMPT_START, start[:-5] + b"\x92" + s("a") + u(1)),
    "bool_as_int": (ENDPOINT_STATUS, m([(s("verbose"), u(1))])),
    "non_str_key": (ENDPOINT_STATUS, b"\x81\x01\xc3"),
    "key_c1": (ENDPOINT_STATUS, b"\x81\xc1\x01"),
    "fixext_truncated": (ENDPOINT_STATUS, b"\x81" + s("z") + b"\xd8\x01\x00\x00"),
    "truncated_half": (ATTEMPT_START, start[: len(start) // 2]),
    "truncated_last_byte": (ATTEMPT_START, start[:-1]),
    "unknown_type": (0x7FFF, b"\x80"),
    "runtime_type_ping": (1, b"\x80"),
}

for name, (t, body) in cases.items():
    with open(name + ".bin", "wb") as f:
        f.write(struct.pack(">H", t) + body)
