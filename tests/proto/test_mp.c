/*  test_mp.c: unit tests for proto/sl_mp (msgpack writer and the
    bounds-checked reader). Single-threaded; every case builds its bytes by
    hand or with the writer and checks the reader's exact result codes,
    including that a failed read leaves the position unchanged.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sl_mp.h"

/* Bytes of a writer as a reader. */
static void s_reader_of(sl_mp_reader_t *r, const sl_mp_writer_t *w)
{
    sl_mp_reader_init(r, sl_mp_writer_data(w), sl_mp_writer_len(w));
}

static void test_mp_writer_round_trip(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_mp_write_map(&w, 9), 0);
    sl_mp_kv_str(&w, "s", "hello");
    sl_mp_kv_strn(&w, "sn", "ab\0cd", 5);
    sl_mp_kv_int(&w, "i", -123456789012LL);
    sl_mp_kv_uint(&w, "u", UINT64_MAX);
    sl_mp_kv_bool(&w, "b", true);
    sl_mp_kv_double(&w, "d", 2.5);
    sl_mp_kv_nil(&w, "n");
    sl_mp_kv_bin(&w, "bin", "\x00\x01\x02", 3);
    assert_int_equal(sl_mp_kv_raw(&w, "raw", "\x92\x01\xa1x", 4), 0);
    assert_int_equal(sl_mp_writer_error(&w), 0);
    assert_int_equal(sl_mp_validate(sl_mp_writer_data(&w), sl_mp_writer_len(&w)), 0);

    sl_mp_reader_t r;
    s_reader_of(&r, &w);
    uint32_t n;
    const char *s;
    size_t len;
    int64_t i;
    uint64_t u;
    bool b;
    double d;
    const uint8_t *p;
    assert_int_equal(sl_mp_read_map(&r, &n), 0);
    assert_int_equal(n, 9);
    assert_int_equal(sl_mp_read_str(&r, &s, &len), 0);
    assert_true(sl_mp_str_eq(s, len, "s"));
    assert_int_equal(sl_mp_read_str(&r, &s, &len), 0);
    assert_true(sl_mp_str_eq(s, len, "hello"));
    /* Zero-copy: the slice points into the writer's buffer. */
    assert_true((const uint8_t *)s > sl_mp_writer_data(&w));
    assert_true((const uint8_t *)s < sl_mp_writer_data(&w) + sl_mp_writer_len(&w));
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_str(&r, &s, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(s, "ab\0cd", 5);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_int(&r, &i), 0);
    assert_true(i == -123456789012LL);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_uint(&r, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_bool(&r, &b), 0);
    assert_true(b);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_double(&r, &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_nil(&r), 0);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_bin(&r, &p, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "\x00\x01\x02", 3);
    assert_int_equal(sl_mp_skip(&r), 0);
    assert_int_equal(sl_mp_read_raw(&r, &p, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(p, "\x92\x01\xa1x", 4);
    assert_true(sl_mp_reader_done(&r));
    assert_int_equal(sl_mp_reader_remaining(&r), 0);
    sl_mp_writer_fini(&w);
}

static void test_mp_writer_release_and_reset(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    uint8_t *out = (uint8_t *)"x";
    size_t len = 99;
    /* Empty writer releases nothing. */
    assert_int_equal(sl_mp_writer_release(&w, &out, &len), 0);
    assert_null(out);
    assert_int_equal(len, 0);

    assert_int_equal(sl_mp_write_str(&w, NULL), 0); /* nil */
    assert_int_equal(sl_mp_writer_len(&w), 1);
    assert_int_equal(sl_mp_writer_data(&w)[0], 0xc0);
    sl_mp_writer_reset(&w);
    assert_int_equal(sl_mp_writer_len(&w), 0);
    assert_int_equal(sl_mp_write_array(&w, 2), 0);
    assert_int_equal(sl_mp_write_strn(&w, NULL, 0), 0);
    assert_int_equal(sl_mp_write_bin(&w, NULL, 0), 0);
    assert_int_equal(sl_mp_writer_release(&w, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(len, 4);
    assert_memory_equal(out, "\x92\xa0\xc4\x00", 4);
    assert_int_equal(sl_mp_validate(out, len), 0);
    free(out);
    /* Reusable after release. */
    assert_int_equal(sl_mp_write_int(&w, 1), 0);
    assert_int_equal(sl_mp_writer_len(&w), 1);
    sl_mp_writer_fini(&w);
    sl_mp_writer_fini(NULL);
}

static void test_mp_writer_sticky_error(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_mp_write_map(&w, 1), 0);
    /* The length is refused before the body is touched. */
    assert_int_equal(sl_mp_write_strn(&w, "x", (size_t)UINT32_MAX + 1), SL_ETOOBIG);
    assert_int_equal(sl_mp_write_int(&w, 1), SL_ETOOBIG);
    assert_int_equal(sl_mp_writer_error(&w), SL_ETOOBIG);
    uint8_t *out;
    size_t len;
    assert_int_equal(sl_mp_writer_release(&w, &out, &len), SL_ETOOBIG);
    assert_null(out);
    /* Release on error frees and resets. */
    assert_int_equal(sl_mp_writer_error(&w), 0);
    assert_int_equal(sl_mp_write_bin(&w, "x", (size_t)UINT32_MAX + 1), SL_ETOOBIG);
    sl_mp_writer_reset(&w);
    assert_int_equal(sl_mp_writer_error(&w), 0);
    sl_mp_writer_fini(&w);
}

static void test_mp_int_encodings(void **state)
{
    struct {
        const char *bytes;
        size_t len;
        bool neg;
        int64_t i;
        uint64_t u;
    } cases[] = {
        {"\x05", 1, false, 5, 5},
        {"\x7f", 1, false, 127, 127},
        {"\xff", 1, true, -1, 0},
        {"\xe0", 1, true, -32, 0},
        {"\xcc\xff", 2, false, 255, 255},
        {"\xcd\xff\xff", 3, false, 65535, 65535},
        {"\xce\xff\xff\xff\xff", 5, false, 4294967295LL, 4294967295ULL},
        {"\xcf\x00\x00\x00\x01\x00\x00\x00\x00", 9, false, 4294967296LL, 4294967296ULL},
        {"\xd0\x80", 2, true, -128, 0},
        {"\xd0\x05", 2, false, 5, 5}, /* signed encoding, positive value */
        {"\xd1\x80\x00", 3, true, -32768, 0},
        {"\xd2\x80\x00\x00\x00", 5, true, INT32_MIN, 0},
        {"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, true, INT64_MIN, 0},
        {"\xd3\x7f\xff\xff\xff\xff\xff\xff\xff", 9, false, INT64_MAX, INT64_MAX},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sl_mp_reader_t r;
        int64_t i = 0;
        uint64_t u = 0;
        double d = 0;
        sl_mp_reader_init(&r, cases[k].bytes, cases[k].len);
        assert_int_equal(sl_mp_peek(&r), SL_MP_INT);
        assert_int_equal(sl_mp_read_int(&r, &i), 0);
        assert_true(i == cases[k].i);
        assert_true(sl_mp_reader_done(&r));
        sl_mp_reader_init(&r, cases[k].bytes, cases[k].len);
        if (cases[k].neg) {
            assert_int_equal(sl_mp_read_uint(&r, &u), SL_EPROTO);
            assert_int_equal(r.pos, 0);
        } else {
            assert_int_equal(sl_mp_read_uint(&r, &u), 0);
            assert_true(u == cases[k].u);
        }
        sl_mp_reader_init(&r, cases[k].bytes, cases[k].len);
        assert_int_equal(sl_mp_read_double(&r, &d), 0);
        assert_true(d == (double)cases[k].i);
        /* Every truncation of a multi-byte integer is SL_ETRUNC. */
        for (size_t cut = 0; cut < cases[k].len; cut++) {
            sl_mp_reader_init(&r, cases[k].bytes, cut);
            assert_int_equal(sl_mp_read_int(&r, &i), SL_ETRUNC);
        }
    }
    /* uint64 above INT64_MAX does not fit an int64. */
    sl_mp_reader_t r;
    int64_t i;
    sl_mp_reader_init(&r, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    assert_int_equal(sl_mp_read_int(&r, &i), SL_ETOOBIG);
    assert_int_equal(r.pos, 0);
}

static void test_mp_floats_bools_nil(void **state)
{
    sl_mp_reader_t r;
    double d;
    bool b;
    /* float32 1.5 = 0x3fc00000 */
    sl_mp_reader_init(&r, "\xca\x3f\xc0\x00\x00", 5);
    assert_int_equal(sl_mp_peek(&r), SL_MP_DOUBLE);
    assert_int_equal(sl_mp_read_double(&r, &d), 0);
    assert_true(d == 1.5);
    /* float64 -2.0 = 0xc000000000000000 */
    sl_mp_reader_init(&r, "\xcb\xc0\x00\x00\x00\x00\x00\x00\x00", 9);
    assert_int_equal(sl_mp_read_double(&r, &d), 0);
    assert_true(d == -2.0);
    sl_mp_reader_init(&r, "\xcb\xc0\x00", 3);
    assert_int_equal(sl_mp_read_double(&r, &d), SL_ETRUNC);
    sl_mp_reader_init(&r, "\xa1x", 2);
    assert_int_equal(sl_mp_read_double(&r, &d), SL_EPROTO);
    assert_int_equal(sl_mp_read_bool(&r, &b), SL_EPROTO);
    assert_int_equal(sl_mp_read_nil(&r), SL_EPROTO);
    assert_int_equal(r.pos, 0);

    sl_mp_reader_init(&r, "\xc2\xc3\xc0", 3);
    assert_int_equal(sl_mp_peek(&r), SL_MP_BOOL);
    assert_int_equal(sl_mp_read_bool(&r, &b), 0);
    assert_false(b);
    assert_int_equal(sl_mp_read_bool(&r, &b), 0);
    assert_true(b);
    assert_int_equal(sl_mp_peek(&r), SL_MP_NIL);
    assert_int_equal(sl_mp_read_nil(&r), 0);
    assert_int_equal(sl_mp_peek(&r), SL_ETRUNC);
    assert_int_equal(sl_mp_read_nil(&r), SL_ETRUNC);
}

static void test_mp_huge_declared_lengths(void **state)
{
    /* Each claims ~4 GiB (or 4G elements) in a 5-byte buffer. */
    const char *cases[] = {
        "\xdb\xff\xff\xff\xff", /* str32 */
        "\xc6\xff\xff\xff\xff", /* bin32 */
        "\xdd\xff\xff\xff\xff", /* array32 */
        "\xdf\xff\xff\xff\xff", /* map32 */
        "\xc9\xff\xff\xff\xff", /* ext32 (type byte missing too) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sl_mp_reader_t r;
        const char *s;
        const uint8_t *p;
        size_t len;
        uint32_t n;
        sl_mp_reader_init(&r, cases[k], 5);
        assert_true(sl_mp_peek(&r) > 0);
        assert_int_equal(sl_mp_read_str(&r, &s, &len), SL_ETRUNC);
        assert_int_equal(sl_mp_read_bin(&r, &p, &len), SL_ETRUNC);
        assert_int_equal(sl_mp_read_array(&r, &n), SL_ETRUNC);
        assert_int_equal(sl_mp_read_map(&r, &n), SL_ETRUNC);
        assert_int_equal(sl_mp_skip(&r), SL_ETRUNC);
        assert_int_equal(sl_mp_read_raw(&r, &p, &len), SL_ETRUNC);
        assert_int_equal(sl_mp_validate(cases[k], 5), SL_ETRUNC);
        assert_int_equal(r.pos, 0);
    }
}

static void test_mp_container_needs_bytes(void **state)
{
    sl_mp_reader_t r;
    uint32_t n;
    /* 3 elements need at least 3 bytes; 2 are left. */
    sl_mp_reader_init(&r, "\x93\x01\x02", 3);
    assert_int_equal(sl_mp_read_array(&r, &n), SL_ETRUNC);
    sl_mp_reader_init(&r, "\x93\x01\x02\x03", 4);
    assert_int_equal(sl_mp_read_array(&r, &n), 0);
    assert_int_equal(n, 3);
    /* 2 pairs need at least 4 bytes; 3 are left. */
    sl_mp_reader_init(&r,
                      "\x82\xa1"
                      "a\x01",
                      4);
    assert_int_equal(sl_mp_read_map(&r, &n), SL_ETRUNC);
    /* array16 of 1000 declared with 2 bytes of content. */
    sl_mp_reader_init(&r, "\xdc\x03\xe8\x01\x02", 5);
    assert_int_equal(sl_mp_read_array(&r, &n), SL_ETRUNC);
    assert_int_equal(sl_mp_skip(&r), SL_ETRUNC);
    /* Header fits, a nested element is truncated. */
    sl_mp_reader_init(&r, "\x92\x01\xa5xy", 5);
    assert_int_equal(sl_mp_skip(&r), SL_ETRUNC);
    assert_int_equal(r.pos, 0);
}

/* n nested arrays around a nil. */
static uint8_t *s_nested(size_t n, size_t *len)
{
    uint8_t *b = malloc(n + 1);
    assert_non_null(b);
    memset(b, 0x91, n);
    b[n] = 0xc0;
    *len = n + 1;
    return b;
}

static void test_mp_depth_limit(void **state)
{
    size_t len;
    uint8_t *ok = s_nested(SL_MP_MAX_DEPTH, &len);
    assert_int_equal(sl_mp_validate(ok, len), 0);
    /* A tighter limit for bytes to be embedded one level down. */
    assert_int_equal(sl_mp_validate_depth(ok, len, SL_MP_MAX_DEPTH - 1), SL_ETOOBIG);
    assert_int_equal(sl_mp_validate_depth(ok + 1, len - 1, SL_MP_MAX_DEPTH - 1), 0);
    /* Looser limits are capped. */
    assert_int_equal(sl_mp_validate_depth(ok, len, 1000), 0);
    free(ok);
    uint8_t *deep = s_nested(SL_MP_MAX_DEPTH + 1, &len);
    assert_int_equal(sl_mp_validate(deep, len), SL_ETOOBIG);
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, deep, len);
    assert_int_equal(sl_mp_skip(&r), SL_ETOOBIG);
    assert_int_equal(r.pos, 0);
    free(deep);
    /* Far deeper than the limit: must not recurse that far. */
    uint8_t *abyss = s_nested(100000, &len);
    assert_int_equal(sl_mp_validate(abyss, len), SL_ETOOBIG);
    free(abyss);
    /* Maps count too: {"a": {"a": ...}}. */
    uint8_t maps[3 * 40 + 1];
    for (size_t k = 0; k < 40; k++) {
        maps[3 * k] = 0x81;
        maps[3 * k + 1] = 0xa1;
        maps[3 * k + 2] = 'a';
    }
    maps[120] = 0x01;
    assert_int_equal(sl_mp_validate(maps, sizeof maps), SL_ETOOBIG);
}

static void test_mp_invalid_byte_and_validate(void **state)
{
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, "\xc1", 1);
    assert_int_equal(sl_mp_peek(&r), SL_EPROTO);
    assert_int_equal(sl_mp_skip(&r), SL_EPROTO);
    assert_int_equal(sl_mp_validate("\xc1", 1), SL_EPROTO);
    assert_int_equal(sl_mp_validate("\x92\x01\xc1", 3), SL_EPROTO);
    assert_int_equal(sl_mp_validate("", 0), SL_ETRUNC);
    assert_int_equal(sl_mp_validate(NULL, 0), SL_ETRUNC);
    assert_int_equal(sl_mp_validate("\x01\x02", 2), SL_ETRAILING);
    assert_int_equal(sl_mp_validate("\x80", 1), 0);
    sl_mp_reader_init(&r, NULL, 0);
    assert_true(sl_mp_reader_done(&r));
    assert_int_equal(sl_mp_peek(&r), SL_ETRUNC);
}

static void test_mp_ext_and_peek(void **state)
{
    /* fixext1, fixext16, ext8 (len 2), all skippable. */
    const uint8_t ext[] = {0x93, 0xd4, 0x01, 0xaa, 0xd8, 0x01, 0, 0, 0,    0,    0,    0,    0,   0,
                           0,    0,    0,    0,    0,    0,    0, 0, 0xc7, 0x02, 0x05, 0xbb, 0xcc};
    assert_int_equal(sl_mp_validate(ext, sizeof ext), 0);
    assert_int_equal(sl_mp_validate(ext, sizeof ext - 1), SL_ETRUNC);
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, ext + 1, 3);
    assert_int_equal(sl_mp_peek(&r), SL_MP_EXT);
    /* peek reports the type even when the object is truncated. */
    sl_mp_reader_init(&r, "\xdb\x00", 2);
    assert_int_equal(sl_mp_peek(&r), SL_MP_STR);
    sl_mp_reader_init(&r, "\xc4", 1);
    assert_int_equal(sl_mp_peek(&r), SL_MP_BIN);
    sl_mp_reader_init(&r, "\x9f", 1);
    assert_int_equal(sl_mp_peek(&r), SL_MP_ARRAY);
    sl_mp_reader_init(&r, "\xde", 1);
    assert_int_equal(sl_mp_peek(&r), SL_MP_MAP);
}

static void test_mp_strdup(void **state)
{
    sl_mp_reader_t r;
    char *s = (char *)"x";
    sl_mp_reader_init(&r,
                      "\xa3"
                      "a\0b",
                      4);
    assert_int_equal(sl_mp_read_strdup(&r, 100, &s), SL_EPROTO);
    assert_null(s);
    assert_int_equal(r.pos, 0);
    sl_mp_reader_init(&r,
                      "\xa3"
                      "abc",
                      4);
    assert_int_equal(sl_mp_read_strdup(&r, 2, &s), SL_ETOOBIG);
    assert_int_equal(sl_mp_read_strdup(&r, 3, &s), 0);
    assert_string_equal(s, "abc");
    free(s);
    sl_mp_reader_init(&r, "\xa0", 1);
    assert_int_equal(sl_mp_read_strdup(&r, 0, &s), 0);
    assert_string_equal(s, "");
    free(s);
    sl_mp_reader_init(&r, "\xc4\x00", 2);
    assert_int_equal(sl_mp_read_strdup(&r, 10, &s), SL_EPROTO);
}

static void test_mp_map_find(void **state)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 7);
    sl_mp_write_int(&w, 7); /* non-str key: skipped */
    sl_mp_write_str(&w, "name");
    sl_mp_write_array(&w, 1); /* container key: skipped */
    sl_mp_write_str(&w, "name");
    sl_mp_write_str(&w, "x");
    sl_mp_write_str(&w, "nested");
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "deep", 1);
    sl_mp_kv_str(&w, "name", "first");
    sl_mp_kv_str(&w, "name", "second");
    sl_mp_kv_int(&w, "count", -5);
    sl_mp_kv_nil(&w, "none");
    assert_int_equal(sl_mp_writer_error(&w), 0);
    const uint8_t *buf = sl_mp_writer_data(&w);
    size_t len = sl_mp_writer_len(&w);

    sl_mp_reader_t v;
    const char *s;
    size_t slen;
    int64_t i;
    uint64_t u;
    bool b;
    double d;
    assert_int_equal(sl_mp_map_get_str(buf, len, "name", &s, &slen), 0);
    assert_true(sl_mp_str_eq(s, slen, "first")); /* first match wins */
    assert_int_equal(sl_mp_map_get_int(buf, len, "count", &i), 0);
    assert_true(i == -5);
    assert_int_equal(sl_mp_map_get_double(buf, len, "count", &d), 0);
    assert_true(d == -5.0);
    assert_int_equal(sl_mp_map_get_uint(buf, len, "count", &u), SL_EPROTO);
    assert_int_equal(sl_mp_map_get_bool(buf, len, "count", &b), SL_EPROTO);
    assert_int_equal(sl_mp_map_get_int(buf, len, "none", &i), SL_ENOTFOUND);
    assert_int_equal(sl_mp_map_get_int(buf, len, "missing", &i), SL_ENOTFOUND);
    assert_int_equal(sl_mp_map_find(buf, len, "nested", &v), 0);
    /* The value reader covers exactly the value. */
    assert_int_equal(sl_mp_validate(v.buf, v.len), 0);
    assert_int_equal(sl_mp_map_get_int(v.buf, v.len, "deep", &i), 0);
    assert_true(i == 1);
    /* Every truncation fails cleanly (or finds the key before the cut). */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = sl_mp_map_find(buf, cut, "count", &v);
        assert_true(rc == SL_ETRUNC || rc == 0);
    }
    /* Not a map. */
    assert_int_equal(sl_mp_map_find("\x91\x01", 2, "x", &v), SL_EPROTO);
    /* reader_find does not advance. */
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    assert_int_equal(sl_mp_reader_find(&r, "count", &v), 0);
    assert_int_equal(r.pos, 0);
    sl_mp_writer_fini(&w);
}

static void test_mp_error_reply(void **state)
{
    (void)state;
    char long_arg[600];
    memset(long_arg, 'x', sizeof(long_arg) - 1);
    long_arg[sizeof(long_arg) - 1] = '\0';
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    assert_int_equal(sl_mp_write_error_reply(&w, "not_found", "no %s %d: %s", "task", 7, long_arg),
                     0);
    sl_mp_reader_t r, v, e;
    sl_mp_reader_init(&r, sl_mp_writer_data(&w), sl_mp_writer_len(&w));
    bool ok = true;
    assert_int_equal(sl_mp_reader_find(&r, "ok", &v), 0);
    assert_int_equal(sl_mp_read_bool(&v, &ok), 0);
    assert_false(ok);
    assert_int_equal(sl_mp_reader_find(&r, "error", &e), 0);
    const char *s;
    size_t len;
    assert_int_equal(sl_mp_reader_find(&e, "code", &v), 0);
    assert_int_equal(sl_mp_read_str(&v, &s, &len), 0);
    assert_int_equal(len, strlen("not_found"));
    assert_int_equal(sl_mp_reader_find(&e, "message", &v), 0);
    assert_int_equal(sl_mp_read_str(&v, &s, &len), 0);
    assert_int_equal(len, SL_MP_ERROR_MESSAGE_MAX - 1);
    assert_memory_equal(s, "no task 7: xx", 13);
    sl_mp_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_writer_round_trip),
        cmocka_unit_test(test_mp_writer_release_and_reset),
        cmocka_unit_test(test_mp_writer_sticky_error),
        cmocka_unit_test(test_mp_int_encodings),
        cmocka_unit_test(test_mp_floats_bools_nil),
        cmocka_unit_test(test_mp_huge_declared_lengths),
        cmocka_unit_test(test_mp_container_needs_bytes),
        cmocka_unit_test(test_mp_depth_limit),
        cmocka_unit_test(test_mp_invalid_byte_and_validate),
        cmocka_unit_test(test_mp_ext_and_peek),
        cmocka_unit_test(test_mp_strdup),
        cmocka_unit_test(test_mp_map_find),
        cmocka_unit_test(test_mp_error_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
