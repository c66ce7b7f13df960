/*  test_codec.c: the schema codec's kinds beyond the message catalog's
    (proto/sl_codec.h): narrow integers, enums by name, defaults, keys apart
    from C names, nested lists with truncation, encoded item lists read past
    a bad item, deep copies.

    The schemas here are declared with the same X-macros a .def uses, in this
    file, so the codec is tested without any actor's schema.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sl_codec.h"

/* ---- a vocabulary and two schemas ------------------------------------------ */

static const char *const s_colors[] = {"red", "green", "blue"};

static const char *s_color_name(int v)
{
    return v >= 0 && v < 3 ? s_colors[v] : "unknown";
}

static int s_color_parse(const char *s, size_t len)
{
    for (int i = 0; i < 3; i++) {
        if (sl_mp_str_eq(s, len, s_colors[i])) {
            return i;
        }
    }
    return SL_ENOTFOUND;
}

static const sl_enum_desc_t s_enum_color = {s_color_name, s_color_parse};

static const sl_codec_limits_t s_lim = {8, 64, 2, 2, true};     /* truncating */
static const sl_codec_limits_t s_strict = {8, 64, 2, 2, false}; /* refusing */

#define S_LEAF(F) F(U32, n, "n", REQ, 0, _) F(I32, pct, "pct", OPT, -1, _)
#define S_TREE(F)                                                                                  \
    F(STR, name, "label", OPT, 0, _)                                                               \
    F(ENUM, color, "color", OPT, 1, color)                                                         \
    F(LIST, leaves, "leaves", OPT, 0, leaf) F(STRS, tags, "tags", OPT, 0, _)                       \
        F(ITEMS, more, "more", OPT, 0, leaf)

typedef struct sl_leaf_rec {
    S_LEAF(SL_CODEC_MEMBER)
} sl_leaf_rec_t;
typedef struct {
    sl_leaf_rec_t *v;
    size_t n;
} sl_leaf_rec_list_t;
typedef struct {
    S_TREE(SL_CODEC_MEMBER)
} s_tree_t;

static const sl_msg_desc_t *s_desc_leaf(void)
{
    typedef sl_leaf_rec_t s_cur_t;
    static const sl_field_desc_t fields[] = {S_LEAF(SL_CODEC_ROW)};
    static const sl_msg_desc_t d = {0, "leaf", sizeof(s_cur_t), fields, 2, &s_lim};
    return &d;
}

static const sl_msg_desc_t *s_desc_tree_with(const sl_codec_limits_t *lim)
{
    typedef s_tree_t s_cur_t;
    static const sl_field_desc_t fields[] = {S_TREE(SL_CODEC_ROW)};
    static const sl_msg_desc_t cut = {0, "tree", sizeof(s_cur_t), fields, 5, &s_lim};
    static const sl_msg_desc_t strict = {0, "tree", sizeof(s_cur_t), fields, 5, &s_strict};
    return lim == &s_lim ? &cut : &strict;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_codec_defaults_keys_and_enums(void **state)
{
    const sl_msg_desc_t *d = s_desc_tree_with(&s_lim);
    s_tree_t t;
    sl_codec_init(d, &t);
    assert_int_equal(t.color, 1); /* declared default */
    t.name = strdup("a long label");
    t.color = 2;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_codec_encode(d, &t, &buf, &len), 0);
    sl_mp_reader_t v;
    /* The key is the declared one, the C name is not on the wire; the enum
       goes by name; a string is cut to max_str with truncate. */
    const char *s;
    size_t sl;
    assert_int_equal(sl_mp_map_get_str(buf, len, "label", &s, &sl), 0);
    assert_int_equal(sl, 8);
    assert_int_equal(sl_mp_map_find(buf, len, "name", &v), SL_ENOTFOUND);
    assert_int_equal(sl_mp_map_get_str(buf, len, "color", &s, &sl), 0);
    assert_true(sl_mp_str_eq(s, sl, "blue"));
    s_tree_t back;
    assert_int_equal(sl_codec_decode(d, buf, len, &back), 0);
    assert_string_equal(back.name, "a long l");
    sl_codec_clear(d, &back);
    free(buf);

    /* Refusing limits refuse the long string; an enum without a name is
       never written. */
    assert_int_equal(sl_codec_encode(s_desc_tree_with(&s_strict), &t, &buf, &len), SL_ETOOBIG);
    t.color = 7;
    assert_int_equal(sl_codec_encode(d, &t, &buf, &len), SL_EINVAL);
    sl_codec_clear(d, &t);

    /* An unknown enum name, a negative or too big U32, an I32 out of range. */
#define S_B(lit) lit, sizeof(lit) - 1
    const struct {
        const char *what;
        const char *b;
        size_t n;
        int rc;
    } bad[] = {
        {"unknown color",
         S_B("\x81\xa5"
             "color\xa6purple"),
         SL_EPROTO},
        {"negative n", S_B("\x81\xa1n\xff"), SL_EPROTO},
        {"n over u32", S_B("\x81\xa1n\xcf\x00\x00\x00\x01\x00\x00\x00\x00"), SL_ETOOBIG},
        {"pct over i32", S_B("\x82\xa1n\x01\xa3pct\xd3\x00\x00\x00\x01\x00\x00\x00\x00"),
         SL_ETOOBIG},
        {"n missing", S_B("\x81\xa3pct\x05"), SL_EMISSING},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const sl_msg_desc_t *dd = i == 0 ? d : s_desc_leaf();
        char out[sizeof(s_tree_t)];
        int rc = sl_codec_decode(dd, (const uint8_t *)bad[i].b, bad[i].n, out);
        if (rc != bad[i].rc) {
            fail_msg("%s: got %d, want %d", bad[i].what, rc, bad[i].rc);
        }
    }
    sl_leaf_rec_t leaf;
    assert_int_equal(sl_codec_decode(s_desc_leaf(), (const uint8_t *)"\x81\xa1n\x05", 4, &leaf), 0);
    assert_int_equal(leaf.n, 5);
    assert_int_equal(leaf.pct, -1); /* absent: the default */
}

static void test_codec_lists_truncate_and_copy(void **state)
{
    const sl_msg_desc_t *d = s_desc_tree_with(&s_lim);
    s_tree_t t;
    sl_codec_init(d, &t);
    t.leaves.n = 3;
    t.leaves.v = calloc(3, sizeof(sl_leaf_rec_t));
    for (uint32_t i = 0; i < 3; i++) {
        t.leaves.v[i] = (sl_leaf_rec_t){.n = i + 1, .pct = (int32_t)i * 10};
    }
    sl_strs_push(&t.tags, "a");
    sl_strs_push(&t.tags, "b");
    sl_strs_push(&t.tags, "c");
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_codec_encode(d, &t, &buf, &len), 0);
    s_tree_t back;
    assert_int_equal(sl_codec_decode(d, buf, len, &back), 0);
    free(buf);
    /* Lists keep their newest items, STRS their first. */
    assert_int_equal(back.leaves.n, 2);
    assert_int_equal(back.leaves.v[0].n, 2);
    assert_int_equal(back.leaves.v[1].pct, 20);
    assert_int_equal(back.tags.n, 2);
    assert_string_equal(back.tags.v[1], "b");
    s_tree_t copy;
    assert_int_equal(sl_codec_copy(d, &copy, &back), 0);
    assert_int_equal(copy.leaves.n, 2);
    assert_true(copy.leaves.v != back.leaves.v);
    assert_int_equal(copy.leaves.v[1].n, 3);
    assert_string_equal(copy.tags.v[0], "a");
    sl_codec_clear(d, &copy);
    sl_codec_clear(d, &back);
    /* Refusing limits refuse the long list. */
    assert_int_equal(sl_codec_encode(s_desc_tree_with(&s_strict), &t, &buf, &len), SL_ETOOBIG);
    sl_codec_clear(d, &t);
    /* Decoding refuses a list over the limit. */
    static const char over[] = "\x81\xa6leaves\x93\x80\x80\x80";
    assert_int_equal(sl_codec_decode(d, (const uint8_t *)over, sizeof over - 1, &t), SL_ETOOBIG);
}

static void test_codec_items_skip_a_bad_one(void **state)
{
    /* [{n: 1}, {pct: 2} (no n), "x" (not a map), {n: 4}] */
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_array(&w, 4);
    sl_leaf_rec_t one = {.n = 1, .pct = -1}, four = {.n = 4, .pct = -1};
    assert_int_equal(sl_codec_write(s_desc_leaf(), &one, &w), 0);
    sl_mp_write_map(&w, 1);
    sl_mp_kv_int(&w, "pct", 2);
    sl_mp_write_str(&w, "x");
    assert_int_equal(sl_codec_write(s_desc_leaf(), &four, &w), 0);
    sl_bytes_t items = {(uint8_t *)sl_mp_writer_data(&w), sl_mp_writer_len(&w)};
    sl_mp_reader_t r;
    uint32_t n;
    assert_int_equal(sl_codec_items(&items, &r, &n), 0);
    assert_int_equal(n, 4);
    sl_leaf_rec_t got;
    assert_int_equal(sl_codec_items_next(&r, s_desc_leaf(), &got), 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(sl_codec_items_next(&r, s_desc_leaf(), &got), SL_EMISSING);
    assert_true(sl_codec_items_next(&r, s_desc_leaf(), &got) < 0);
    assert_false(sl_mp_reader_done(&r));
    assert_int_equal(sl_codec_items_next(&r, s_desc_leaf(), &got), 0);
    assert_int_equal(got.n, 4);
    assert_true(sl_mp_reader_done(&r));
    /* A list cut short ends the walk at the cut. */
    sl_bytes_t cut = {items.ptr, items.len - 2};
    assert_int_equal(sl_codec_items(&cut, &r, &n), 0);
    assert_int_equal(sl_codec_items_next(&r, s_desc_leaf(), &got), 0);
    assert_true(sl_codec_items_next(&r, s_desc_leaf(), &got) < 0);
    assert_true(sl_codec_items_next(&r, s_desc_leaf(), &got) < 0);
    assert_int_equal(sl_codec_items_next(&r, s_desc_leaf(), &got), SL_ETRUNC);
    assert_true(sl_mp_reader_done(&r));
    /* An ITEMS field must hold an array. */
    const sl_msg_desc_t *d = s_desc_tree_with(&s_lim);
    s_tree_t t;
    assert_int_equal(sl_codec_decode(d, (const uint8_t *)"\x81\xa4more\x80", 7, &t), SL_EPROTO);
    sl_codec_init(d, &t);
    t.more.ptr = (uint8_t *)"\x80";
    t.more.len = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_codec_encode(d, &t, &buf, &len), SL_EINVAL);
    sl_mp_writer_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_defaults_keys_and_enums),
        cmocka_unit_test(test_codec_lists_truncate_and_copy),
        cmocka_unit_test(test_codec_items_skip_a_bad_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
