/*  test_api_fuzz.c: the API against a seeded stream of hostile requests.

    Starts a real sluiced (tests/e2e/e2e.h) with its API and PUB on free
    loopback TCP ports and no analyzer behind it, submits one pipeline in
    existing mode and cancels it so the state is settled, records that state
    (pipeline.list, pipeline.get, dlq.list, events.since's last_seq), then
    sends a bounded stream of hostile requests over several DEALER clients,
    one at a time, each with a reply deadline: random bytes, truncated and
    byte-mutated valid requests of every op, deep nesting, huge declared
    lengths, every field of every op with a value of the wrong type,
    oversized and multi-frame messages, and clients that disconnect without
    reading. Afterwards sluiced must answer ping, the recorded state must be
    the same (no generated request is a valid mutation: pipeline.start
    always carries one invalid field, the ids are ones no pipeline has, and
    dlq.retry never says all), and SIGTERM must end it with exit 0.

    The seed is printed; SLUICE_FUZZ_SEED=N replays a run and
    SLUICE_FUZZ_COUNT=N changes its length (default 20000). Single-threaded.
*/
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "tests/e2e/e2e.h"

#define S_CLIENTS 4
#define S_REPLY_MS 10000

typedef struct {
    e2e_fx_t e; /* no mock: every service points at a port nobody listens on */
    e2e_api_t *clients[S_CLIENTS];
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = e2e_fx_new(sizeof(*fx));
    if (!fx) {
        return -1;
    }
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    for (int i = 0; i < S_CLIENTS; i++) {
        e2e_api_close(&fx->clients[i]);
    }
    e2e_fx_fini(&fx->e);
    free(fx);
    return 0;
}

/* Starts sluiced on free loopback ports (a lost race for a port is retried)
   with no analyzer: every service points at a port nobody listens on. */
static void s_start(s_fx_t *fx)
{
    int code = -1;
    for (int tries = 0; tries < 3 && !fx->e.d; tries++) {
        int api = e2e_free_port(), pub = e2e_free_port(), none = e2e_free_port();
        assert_true(api > 0 && pub > 0 && none > 0 && api != pub);
        snprintf(fx->e.api_ep, sizeof(fx->e.api_ep), "tcp://127.0.0.1:%d", api);
        snprintf(fx->e.pub_ep, sizeof(fx->e.pub_ep), "tcp://127.0.0.1:%d", pub);
        e2e_args_t a = {0};
        e2e_sluiced_base_args(&a, fx->e.dir, fx->e.data, NULL, 0);
        e2e_args_add(&a, "--set");
        e2e_args_add(&a, "api/endpoint=%s", fx->e.api_ep);
        e2e_args_add(&a, "--set");
        e2e_args_add(&a, "api/pub=%s", fx->e.pub_ep);
        for (int s = 0; s < E2E_NSERVICES; s++) {
            e2e_args_add(&a, "--set");
            e2e_args_add(&a, "services/%s/urls=ws://127.0.0.1:%d", e2e_service_names[s], none);
        }
        fx->e.d = e2e_sluiced_start(SLUICED_BIN, &a, fx->e.log_d, 15000, &code);
        e2e_args_free(&a);
        if (!fx->e.d && e2e_file_contains(fx->e.log_d, "Address already in use")) {
            continue;
        }
        break;
    }
    if (!fx->e.d) {
        e2e_dump("sluiced stderr", fx->e.log_d);
    }
    assert_non_null(fx->e.d);
    fx->e.api = e2e_api_connect(fx->e.api_ep);
    assert_non_null(fx->e.api);
    json_t *pong = e2e_callf(fx->e.api, S_REPLY_MS, "{ss}", "op", "ping");
    assert_true(e2e_ok(pong));
    json_decref(pong);
}

/* ---- a seeded generator (xorshift64*, independent of libc's rand) ------------ */

static uint64_t s_rng;

static uint64_t s_next(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t s_below(uint32_t n)
{
    return n ? (uint32_t)(s_next() % n) : 0;
}

static bool s_chance(uint32_t one_in)
{
    return s_below(one_in) == 0;
}

static const char *const s_op_names[] = {
    "ping",          "stats",    "pipeline.start", "pipeline.get", "pipeline.cancel",
    "pipeline.list", "task.get", "task.cancel",    "result.get",   "dlq.list",
    "dlq.retry",     "dlq.drop", "endpoints.list", "events.since",
};
#define S_NOPS (sizeof(s_op_names) / sizeof(s_op_names[0]))

static bool s_mutating(const char *op)
{
    return op && (strcmp(op, "pipeline.start") == 0 || strcmp(op, "pipeline.cancel") == 0 ||
                  strcmp(op, "task.cancel") == 0 || strcmp(op, "dlq.retry") == 0 ||
                  strcmp(op, "dlq.drop") == 0);
}

static json_t *s_random_value(int depth);

static json_t *s_random_string(void)
{
    static const char *const strs[] = {
        "",           "x",       "p0000000000000000000", "p-fuzz-t0001",
        "completed",  "running", "\xc3\xa9\xe2\x82\xac", "with\001control\033[2J",
        "bin:binary", "-1",      "pipeline.start",       "existing",
        "generate",
    };
    if (s_chance(8)) {
        size_t n = s_below(600);
        char *buf = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
            buf[i] = (char)('a' + s_below(26));
        }
        buf[n] = '\0';
        json_t *v = json_string(buf);
        free(buf);
        return v;
    }
    return json_string(strs[s_below(sizeof(strs) / sizeof(strs[0]))]);
}

static json_t *s_random_value(int depth)
{
    switch (s_below(depth > 3 ? 7 : 9)) {
    case 0:
        return json_null();
    case 1:
        return json_boolean(s_chance(2));
    case 2: {
        static const json_int_t ints[] = {0,      1,         -1,        7,         1000,
                                          100000, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
        return json_integer(ints[s_below(sizeof(ints) / sizeof(ints[0]))]);
    }
    case 3:
        return json_integer((json_int_t)s_next());
    case 4:
        return json_real(s_chance(2) ? 0.5 : -1e300);
    case 5:
    case 6:
        return s_random_string();
    case 7: {
        json_t *a = json_array();
        for (uint32_t i = s_below(4); i > 0; i--) {
            json_array_append_new(a, s_random_value(depth + 1));
        }
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = s_below(4); i > 0; i--) {
            json_object_set_new(o, s_chance(2) ? "op" : "k", s_random_value(depth + 1));
        }
        return o;
    }
    }
}

/* The op's valid shape with ids no pipeline has; pipeline.start in existing
   mode (variant 0) or generate mode (variant 1), each without the other
   mode's fields (sl_plan reads only the chosen mode's). */
static json_t *s_template_v(const char *op, int variant)
{
    char fake[64];
    snprintf(fake, sizeof(fake), "p%016llx", (unsigned long long)s_next());
    char fake_task[80];
    snprintf(fake_task, sizeof(fake_task), "%s-t%04u", fake, s_below(10000));
    if (strcmp(op, "pipeline.start") == 0) {
        json_t *gen = variant == 0 ? json_pack("{ss s[{sssi}]}", "mode", "existing",
                                               "existing_apps", "model", "m1", "app_number", 1)
                                   : json_pack("{ss s[s] s[s]}", "mode", "generate", "models", "m1",
                                               "templates", "api_url_shortener");
        return json_pack("{ss ss s{so s{sb s[s] s{sb si s[s]}}} s{sf} s{si}}", "op", op, "name",
                         "fuzz", "config", "generation", gen, "analysis", "enabled", 1, "tools",
                         "bandit", "options", "parallel", 1, "max_concurrent_tasks", 2,
                         "target_urls", "http://x:1", "timeouts", "task", 1.5, "retry",
                         "max_attempts", 2);
    }
    if (strcmp(op, "pipeline.get") == 0 || strcmp(op, "pipeline.cancel") == 0) {
        return json_pack("{ss ss}", "op", op, "pipeline_id", fake);
    }
    if (strcmp(op, "pipeline.list") == 0) {
        return json_pack("{ss ss si}", "op", op, "status", "completed", "limit", 10);
    }
    if (strcmp(op, "task.get") == 0 || strcmp(op, "task.cancel") == 0 ||
        strcmp(op, "result.get") == 0 || strcmp(op, "dlq.drop") == 0) {
        return json_pack("{ss ss}", "op", op, "task_id", fake_task);
    }
    if (strcmp(op, "dlq.list") == 0) {
        return json_pack("{ss si}", "op", op, "limit", 5);
    }
    if (strcmp(op, "dlq.retry") == 0) {
        return json_pack("{ss ss sb}", "op", op, "task_id", fake_task, "force", 1);
    }
    if (strcmp(op, "events.since") == 0) {
        return json_pack("{ss si si}", "op", op, "seq", 0, "limit", 3);
    }
    return json_pack("{ss}", "op", op);
}

static json_t *s_template(const char *op)
{
    return s_template_v(op, (int)s_below(2));
}

/* Replaces, drops or adds fields, at every level. */
static void s_mutate_json(json_t *v, int depth)
{
    if (!json_is_object(v) || depth > 4) {
        return;
    }
    const char *key;
    json_t *val;
    void *tmp;
    json_object_foreach_safe(v, tmp, key, val)
    {
        if (depth == 0 && strcmp(key, "op") == 0 && !s_chance(12)) {
            continue;
        }
        uint32_t what = s_below(6);
        if (what == 0) {
            json_object_set_new(v, key, s_random_value(1));
        } else if (what == 1 && s_chance(2)) {
            json_object_del(v, key);
        } else if (json_is_object(val)) {
            s_mutate_json(val, depth + 1);
        } else if (json_is_array(val) && json_array_size(val) > 0 && s_chance(2)) {
            json_array_set_new(val, 0, s_random_value(1));
        }
    }
    if (s_chance(8)) {
        json_object_set_new(v, s_chance(2) ? "junk" : "", s_random_value(1));
    }
}

/* pipeline.start must never be valid: one field is always wrong. */
static void s_spoil_start(json_t *req)
{
    json_t *config = json_object_get(req, "config");
    json_t *gen = json_object_get(config, "generation");
    switch (s_below(5)) {
    case 0:
        if (json_is_object(gen)) {
            json_object_set_new(gen, "mode", json_string("warp"));
            break;
        }
        /* fall through */
    case 1:
        json_object_set_new(req, "config", json_string("not a map"));
        break;
    case 2:
        json_object_set_new(req, "retry", json_pack("{si}", "max_attempts", 0));
        break;
    case 3:
        json_object_set_new(req, "timeouts", json_pack("{si}", "task", -5));
        break;
    default:
        json_object_set_new(req, "config",
                            json_pack("{s{ss s[]}}", "generation", "mode", "generate", "models"));
        break;
    }
}

/* dlq.retry must never retry everything; the ids are never real. */
static void s_tame(json_t *req)
{
    const char *op = json_string_value(json_object_get(req, "op"));
    if (op && strcmp(op, "pipeline.start") == 0) {
        s_spoil_start(req);
    }
    if (op && strcmp(op, "dlq.retry") == 0 && json_is_true(json_object_get(req, "all"))) {
        json_object_set_new(req, "all", json_false());
    }
}

static json_t *s_random_id(void)
{
    switch (s_below(8)) {
    case 0:
        return s_random_value(1);
    case 1:
        return json_string("bin:id");
    default:
        return json_integer((json_int_t)s_below(1u << 30));
    }
}

/* ---- every field of every op with a value of each wrong type ---------------------- */

/* Values of each msgpack type but the one of like (a JSON value) and nil,
   new references. */
static int s_wrong_values(const json_t *like, json_t **out)
{
    json_t *all[] = {json_null(),          json_true(),         json_integer(7),
                     json_integer(-7),     json_real(0.5),      json_string("7"),
                     json_string("bin:7"), json_pack("[i]", 1), json_pack("{si}", "k", 1)};
    int n = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        json_t *v = all[i];
        bool same = json_typeof(v) == json_typeof(like) ||
                    (json_is_boolean(v) && json_is_boolean(like)) ||
                    (json_is_integer(v) && json_is_real(like)); /* seconds */
        if (json_is_string(like) && json_is_string(v)) {
            same = strncmp(json_string_value(v), "bin:", 4) != 0; /* bin is not str */
        }
        if (json_is_integer(like) && json_is_integer(v) && json_integer_value(v) < 0 &&
            json_integer_value(like) >= 0) {
            same = false; /* counts, limits and seqs are non-negative */
        }
        /* nil reads as absent (sl_mp's map lookups), so it is not a wrong type:
           the random stream sends it anyway */
        if (same || json_is_null(v)) {
            json_decref(v);
        } else {
            out[n++] = v;
        }
    }
    return n;
}

typedef struct {
    char path[128];
    json_t *parent;  /* borrowed: the object or array holding the field */
    const char *key; /* NULL: array element 0 */
} s_leaf_t;

static int s_leaves(json_t *v, const char *prefix, s_leaf_t *out, int n, int max)
{
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val)
    {
        if (strcmp(key, "op") == 0 || n >= max) {
            continue;
        }
        snprintf(out[n].path, sizeof(out[n].path), "%s%s", prefix, key);
        out[n].parent = v;
        out[n].key = key;
        n++;
        char sub[128];
        if (json_is_object(val)) {
            snprintf(sub, sizeof(sub), "%s%s.", prefix, key);
            n = s_leaves(val, sub, out, n, max);
        } else if (json_is_array(val) && json_array_size(val) > 0 && n < max) {
            snprintf(out[n].path, sizeof(out[n].path), "%s%s[0]", prefix, key);
            out[n].parent = val;
            out[n].key = NULL;
            n++;
            if (json_is_object(json_array_get(val, 0))) {
                snprintf(sub, sizeof(sub), "%s%s[0].", prefix, key);
                n = s_leaves(json_array_get(val, 0), sub, out, n, max);
            }
        }
    }
    return n;
}

/* Sends op's valid shape with one field of a wrong type, for every field
   and type: each must be refused with a code. A pipeline.start that got
   through is cancelled (and is a failure). */
static void s_sweep(s_fx_t *fx, int *sent)
{
    int accepted = 0;
    for (size_t o = 0; o < S_NOPS + 1; o++) {
        /* pipeline.start twice: existing mode, then generate mode */
        json_t *probe =
            o < S_NOPS ? s_template_v(s_op_names[o], 0) : s_template_v("pipeline.start", 1);
        s_leaf_t leaves[64];
        int nleaves = s_leaves(probe, "", leaves, 0, 64);
        for (int l = 0; l < nleaves; l++) {
            json_t *like = leaves[l].key ? json_object_get(leaves[l].parent, leaves[l].key)
                                         : json_array_get(leaves[l].parent, 0);
            json_t *wrong[16];
            int nwrong = s_wrong_values(like, wrong);
            for (int w = 0; w < nwrong; w++) {
                json_t *saved = json_incref(like);
                if (leaves[l].key) {
                    json_object_set(leaves[l].parent, leaves[l].key, wrong[w]);
                } else {
                    json_array_set(leaves[l].parent, 0, wrong[w]);
                }
                char *text = json_dumps(wrong[w], JSON_COMPACT | JSON_ENCODE_ANY);
                json_t *r = e2e_call(fx->e.api, json_deep_copy(probe), S_REPLY_MS);
                (*sent)++;
                if (!r) {
                    fail_msg("%s with %s = %s: no reply",
                             (o < S_NOPS ? s_op_names[o] : "pipeline.start"), leaves[l].path, text);
                }
                if (e2e_ok(r) || !*e2e_err_code(r)) {
                    fprintf(stderr, "accepted: %s with %s = %s\n",
                            (o < S_NOPS ? s_op_names[o] : "pipeline.start"), leaves[l].path, text);
                    accepted++;
                    const char *started = json_string_value(json_object_get(r, "pipeline_id"));
                    if (started) {
                        json_decref(e2e_callf(fx->e.api, S_REPLY_MS, "{ss ss}", "op",
                                              "pipeline.cancel", "pipeline_id", started));
                        json_decref(e2e_wait_terminal(fx->e.api, started, e2e_now_ms() + 30000));
                    }
                }
                json_decref(r);
                free(text);
                if (leaves[l].key) {
                    json_object_set(leaves[l].parent, leaves[l].key, saved);
                } else {
                    json_array_set(leaves[l].parent, 0, saved);
                }
                json_decref(saved);
                json_decref(wrong[w]);
            }
        }
        json_decref(probe);
    }
    if (accepted) {
        fail_msg("%d requests with a mistyped field were accepted (listed above)", accepted);
    }
}

/* ---- sending and checking ------------------------------------------------------ */

typedef enum {
    S_ANY,       /* any well-shaped reply */
    S_BAD,       /* {ok:false, error:{code}} */
    S_MALFORMED, /* error code "malformed" */
    S_TOO_BIG,   /* error code "too_big" */
} s_expect_t;

typedef struct {
    uint64_t seed;
    long index;
    const char *kind;
    int counts[16];
    int ok_replies;
    int bad_replies;
} s_run_t;

static void s_fail(const s_run_t *run, const void *bytes, size_t len, const char *why)
{
    char hex[200] = "";
    for (size_t i = 0, k = 0; i < len && i < 64; i++) {
        k += (size_t)snprintf(hex + k, sizeof(hex) - k, "%02x", ((const uint8_t *)bytes)[i]);
    }
    fail_msg("seed %llu request %ld (%s, %zu bytes: %s%s): %s", (unsigned long long)run->seed,
             run->index, run->kind, len, hex, len > 64 ? "..." : "", why);
}

static void s_check(s_run_t *run, json_t *reply, s_expect_t expect, const void *bytes, size_t len,
                    const char *op)
{
    char why[256];
    if (!reply) {
        s_fail(run, bytes, len, "no reply in time (or not msgpack)");
    }
    const json_t *ok = json_object_get(reply, "ok");
    if (!json_is_boolean(ok)) {
        snprintf(why, sizeof(why), "reply without a boolean ok");
        json_decref(reply);
        s_fail(run, bytes, len, why);
    }
    if (json_is_true(ok)) {
        run->ok_replies++;
        if (expect != S_ANY || s_mutating(op)) {
            snprintf(why, sizeof(why), "accepted (op %s)", op ? op : "?");
            json_decref(reply);
            s_fail(run, bytes, len, why);
        }
    } else {
        run->bad_replies++;
        const char *code = e2e_err_code(reply);
        const char *msg =
            json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
        if (!*code || !msg) {
            json_decref(reply);
            s_fail(run, bytes, len, "an error without code or message");
        }
        if ((expect == S_MALFORMED && strcmp(code, "malformed") != 0) ||
            (expect == S_TOO_BIG && strcmp(code, "too_big") != 0)) {
            snprintf(why, sizeof(why), "error code %s (%s)", code, msg);
            json_decref(reply);
            s_fail(run, bytes, len, why);
        }
    }
    json_decref(reply);
}

static void s_send_check(s_run_t *run, e2e_api_t *c, const void *bytes, size_t len, int frames,
                         s_expect_t expect, const char *op)
{
    json_t *reply = e2e_call_raw(c, bytes, len, frames, S_REPLY_MS);
    s_check(run, reply, expect, bytes, len, op);
}

static void s_pack(const json_t *req, char **buf, size_t *len)
{
    assert_int_equal(e2e_pack(req, buf, len), 0);
}

/* A well-formed request of a random op with mutated fields. */
static json_t *s_hostile_map(void)
{
    json_t *req = s_template(s_op_names[s_below(S_NOPS)]);
    s_mutate_json(req, 0);
    if (s_chance(10)) {
        json_object_set_new(req, "op", s_chance(2) ? s_random_value(1) : json_string("no.such"));
    } else if (s_chance(30)) {
        json_object_del(req, "op");
    }
    s_tame(req);
    if (!s_chance(5)) {
        json_object_set_new(req, "id", s_random_id());
    }
    return req;
}

#define S_LIT(s)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }

/* Handcrafted frames with lengths that promise more than they hold. */
static const struct {
    const char *bytes;
    size_t len;
} s_liars[] = {
    S_LIT("\xdf\xff\xff\xff\xff"),                            /* map32 of 4G pairs */
    S_LIT("\x81\xa2op\xdb\xff\xff\xff\xff"),                  /* str32 of 4G */
    S_LIT("\x82\xa2op\xa4ping\xa1x\xc6\xff\xff\xff\xff"),     /* bin32 of 4G */
    S_LIT("\x82\xa2op\xa4ping\xa1x\xdd\xff\xff\xff\xff"),     /* array32 of 4G */
    S_LIT("\x82\xa2op\xa4ping\xa1x\xc9\xff\xff\xff\xff\x01"), /* ext32 of 4G */
    S_LIT("\x81\xa2op\xd9\xff"),                              /* str8 cut */
    S_LIT("\x82\xa2op\xa4ping\xa1x\xde\xff\xff"),             /* map16 of 64K, empty */
    S_LIT("\x81\xa2op\xda\x7f\xff"),                          /* str16 cut */
    S_LIT("\x81\xc0\xa4ping"),                                /* nil key */
    S_LIT("\x82\x01\xa4ping\xa2op\xa4ping"),                  /* int key */
    S_LIT("\x81\xa2op\xc7\x04\x01ping"),                      /* op as ext */
    S_LIT("\x82\xa2op\xa4ping\xa2id\xc7\x00\x05"),            /* empty ext id */
    S_LIT("\x82\xa2op\xa4ping\xa2op\xa5stats"),               /* op twice */
    S_LIT("\x81\xa2op\xa4ping\xc0"),                          /* trailing byte */
    S_LIT("\xc1"),                                            /* never used */
    S_LIT("\x82\xa2op\xac"
          "events.since\xa3seq\xcb\x7f\xf8\0\0\0\0\0\0"), /* seq NaN */
    S_LIT("\x82\xa2op\xac"
          "events.since\xa3seq\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
    S_LIT("\x83\xa2op\xac"
          "events.since\xa3seq\x00\xa5limit\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
    S_LIT("\x82\xa2op\xad"
          "pipeline.list\xa5limit\xd3\x80\0\0\0\0\0\0\0"),
};

/* Nested arrays (or maps) depth deep under key x of a ping. */
static char *s_deep(size_t depth, bool maps, size_t *len)
{
    char *b = malloc(16 + depth * 3);
    size_t n = 0;
    static const char head[] = "\x82\xa2op\xa4ping\xa1x";
    memcpy(b, head, sizeof(head) - 1);
    n = sizeof(head) - 1;
    for (size_t i = 0; i < depth; i++) {
        if (maps) {
            b[n++] = (char)0x81;
            b[n++] = (char)0xa1;
            b[n++] = 'k';
        } else {
            b[n++] = (char)0x91;
        }
    }
    b[n++] = (char)0xc0;
    *len = n;
    return b;
}

/* Sends a few requests (some slow ones) and vanishes without reading. */
static void s_vanish(const s_fx_t *fx)
{
    e2e_api_t *c = e2e_api_connect(fx->e.api_ep);
    assert_non_null(c);
    for (uint32_t i = 1 + s_below(6); i > 0; i--) {
        json_t *req = s_chance(2)
                          ? json_pack("{ss si si}", "op", "events.since", "seq", 0, "limit", 1000)
                          : s_hostile_map();
        char *buf;
        size_t len;
        s_pack(req, &buf, &len);
        zmq_send(c->sock, buf, len, s_chance(6) ? ZMQ_SNDMORE : 0);
        free(buf);
        json_decref(req);
    }
    e2e_api_close(&c);
}

/* Ping on a fresh client: sluiced still answers. */
static void s_alive(const s_fx_t *fx, const s_run_t *run, const char *after)
{
    e2e_api_t *c = e2e_api_connect(fx->e.api_ep);
    assert_non_null(c);
    json_t *pong = e2e_callf(c, S_REPLY_MS, "{ss}", "op", "ping");
    if (!e2e_ok(pong)) {
        json_decref(pong);
        e2e_api_close(&c);
        fail_msg("seed %llu: no pong after %s", (unsigned long long)run->seed, after);
    }
    json_decref(pong);
    e2e_api_close(&c);
}

enum { K_RANDOM, K_TRUNCATED, K_FLIPPED, K_MAP, K_DEEP, K_LIAR, K_MULTI, K_BIG, K_VANISH, K_N };
static const char *const s_kinds[K_N] = {"random bytes", "truncated",    "byte-mutated",
                                         "hostile map",  "deep nesting", "huge length",
                                         "multi-frame",  "oversized",    "vanishing client"};

static void s_one(s_fx_t *fx, s_run_t *run, long i)
{
    e2e_api_t *c = fx->clients[i % S_CLIENTS];
    uint32_t roll = s_below(1000);
    int kind = roll < 150   ? K_RANDOM
               : roll < 300 ? K_TRUNCATED
               : roll < 450 ? K_FLIPPED
               : roll < 900 ? K_MAP
               : roll < 930 ? K_DEEP
               : roll < 960 ? K_LIAR
               : roll < 985 ? K_MULTI
               : roll < 988 ? K_BIG
                            : K_VANISH;
    run->kind = s_kinds[kind];
    run->counts[kind]++;
    char *buf = NULL;
    size_t len = 0;
    switch (kind) {
    case K_RANDOM: {
        len = 1 + s_below(s_chance(10) ? 4096 : 48);
        buf = malloc(len);
        for (size_t k = 0; k < len; k++) {
            buf[k] = (char)s_next();
        }
        if (s_chance(3)) {
            buf[0] = (char)(0x80 | s_below(16)); /* a fixmap header, then junk */
        }
        s_send_check(run, c, buf, len, 1, S_ANY, NULL);
        break;
    }
    case K_TRUNCATED: {
        json_t *req = s_template(s_op_names[s_below(S_NOPS)]);
        s_tame(req);
        json_object_set_new(req, "id", json_integer(i));
        s_pack(req, &buf, &len);
        json_decref(req);
        size_t cut = s_below((uint32_t)len); /* 0 .. len-1 bytes kept */
        if (cut == 0) {
            cut = 1;
        }
        s_send_check(run, c, buf, cut, 1, S_MALFORMED, NULL);
        break;
    }
    case K_FLIPPED: {
        /* pipeline.start is left out: one flipped bit could make it valid */
        json_t *req = s_template(s_op_names[s_below(S_NOPS)]);
        const char *op = json_string_value(json_object_get(req, "op"));
        if (strcmp(op, "pipeline.start") == 0) {
            json_object_set_new(req, "op", json_string("pipeline.get"));
        }
        s_tame(req);
        s_pack(req, &buf, &len);
        json_decref(req);
        for (uint32_t k = 1 + s_below(4); k > 0; k--) {
            buf[s_below((uint32_t)len)] ^= (char)(1u << s_below(8));
        }
        s_send_check(run, c, buf, len, 1, S_ANY, NULL);
        break;
    }
    case K_MAP: {
        json_t *req = s_hostile_map();
        char op[64] = "";
        const char *o = json_string_value(json_object_get(req, "op"));
        snprintf(op, sizeof(op), "%s", o ? o : "");
        s_pack(req, &buf, &len);
        json_decref(req);
        s_send_check(run, c, buf, len, 1, s_mutating(op) ? S_BAD : S_ANY, op);
        break;
    }
    case K_DEEP: {
        static const size_t depths[] = {8, 31, 32, 33, 64, 100, 1000, 200000};
        buf = s_deep(depths[s_below(sizeof(depths) / sizeof(depths[0]))], s_chance(2), &len);
        s_send_check(run, c, buf, len, 1, S_ANY, "ping");
        break;
    }
    case K_LIAR: {
        size_t k = s_below(sizeof(s_liars) / sizeof(s_liars[0]));
        s_send_check(run, c, s_liars[k].bytes, s_liars[k].len, 1, S_ANY, NULL);
        break;
    }
    case K_MULTI: {
        json_t *req = s_template(s_op_names[s_below(S_NOPS)]);
        s_tame(req);
        s_pack(req, &buf, &len);
        json_decref(req);
        s_send_check(run, c, buf, len, 2 + (int)s_below(3), S_MALFORMED, NULL);
        break;
    }
    case K_BIG: {
        /* Past max_request_bytes (1 MiB) but under the socket's frame limit. */
        len = (1u << 20) + 1 + s_below(4096);
        buf = malloc(len);
        static const char head[] = "\x82\xa2op\xa4ping\xa3pad\xc6";
        size_t h = sizeof(head) - 1;
        memcpy(buf, head, h);
        uint32_t n = (uint32_t)(len - h - 4);
        buf[h] = (char)(n >> 24);
        buf[h + 1] = (char)(n >> 16);
        buf[h + 2] = (char)(n >> 8);
        buf[h + 3] = (char)n;
        memset(buf + h + 4, 'z', n);
        s_send_check(run, c, buf, len, 1, S_TOO_BIG, NULL);
        break;
    }
    default:
        s_vanish(fx);
        break;
    }
    free(buf);
}

/* The state the fuzz must leave as it was. */
typedef struct {
    json_t *list;
    json_t *pipeline;
    json_t *dlq;
    uint64_t last_seq;
} s_state_t;

static json_t *s_field(e2e_api_t *api, const char *field, json_t *req)
{
    json_t *r = e2e_call(api, req, S_REPLY_MS);
    assert_true(e2e_ok(r));
    json_t *v = json_incref(json_object_get(r, field));
    json_decref(r);
    assert_non_null(v);
    return v;
}

static void s_state(s_fx_t *fx, const char *id, s_state_t *st)
{
    st->list = s_field(fx->e.api, "pipelines", json_pack("{ss}", "op", "pipeline.list"));
    st->pipeline = s_field(fx->e.api, "pipeline",
                           json_pack("{ss ss}", "op", "pipeline.get", "pipeline_id", id));
    st->dlq = s_field(fx->e.api, "entries", json_pack("{ss}", "op", "dlq.list"));
    json_t *r =
        e2e_callf(fx->e.api, S_REPLY_MS, "{ss si si}", "op", "events.since", "seq", 0, "limit", 1);
    assert_true(e2e_ok(r));
    json_decref(r);
    json_t *all = e2e_events_all(fx->e.api, &st->last_seq);
    assert_non_null(all);
    json_decref(all);
}

static void s_state_clear(s_state_t *st)
{
    json_decref(st->list);
    json_decref(st->pipeline);
    json_decref(st->dlq);
}

static void s_assert_same(const json_t *a, const json_t *b, const char *what)
{
    if (!json_equal((json_t *)a, (json_t *)b)) {
        char *da = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
        char *db = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "before: %.2000s\nafter:  %.2000s\n", da, db);
        free(da);
        free(db);
        fail_msg("%s changed", what);
    }
}

/* One pipeline in existing mode, cancelled, so there is settled state. */
static char *s_settled_pipeline(s_fx_t *fx)
{
    json_t *r = e2e_callf(
        fx->e.api, S_REPLY_MS, "{ss ss s{s{ss s[{sssi}{sssi}]} s{sb s[] s{sb si s[s]}}} s{si}}",
        "op", "pipeline.start", "name", "fuzz target", "config", "generation", "mode", "existing",
        "existing_apps", "model", "m1", "app_number", 29, "model", "m1", "app_number", 30,
        "analysis", "enabled", 1, "tools", "options", "parallel", 1, "max_concurrent_tasks", 2,
        "target_urls", "http://x:1", "retry", "max_attempts", 2);
    if (!e2e_ok(r)) {
        fprintf(stderr, "pipeline.start: %s\n", e2e_err_code(r));
    }
    assert_true(e2e_ok(r));
    char *id = strdup(json_string_value(json_object_get(r, "pipeline_id")));
    json_decref(r);
    r = e2e_callf(fx->e.api, S_REPLY_MS, "{ss ss}", "op", "pipeline.cancel", "pipeline_id", id);
    json_decref(r); /* it may have ended already */
    json_t *p = e2e_wait_terminal(fx->e.api, id, e2e_now_ms() + 30000);
    assert_non_null(p);
    json_decref(p);
    return id;
}

static uint64_t s_seed(void)
{
    const char *env = getenv("SLUICE_FUZZ_SEED");
    if (env && *env) {
        return strtoull(env, NULL, 10);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid();
}

static void test_api_fuzz_hostile_stream(void **state)
{
    s_fx_t *fx = *state;
    s_start(fx);
    int swept = 0;
    s_sweep(fx, &swept);
    char *id = s_settled_pipeline(fx);
    s_state_t before, after;
    s_state(fx, id, &before);
    assert_true(json_array_size(before.list) >= 1);
    assert_true(before.last_seq > 0);
    for (int i = 0; i < S_CLIENTS; i++) {
        fx->clients[i] = e2e_api_connect(fx->e.api_ep);
        assert_non_null(fx->clients[i]);
    }

    s_run_t run = {.seed = s_seed()};
    s_rng = run.seed ? run.seed : 1;
    long count = getenv("SLUICE_FUZZ_COUNT") ? atol(getenv("SLUICE_FUZZ_COUNT")) : 20000;
    printf("test_api_fuzz: seed %llu, %ld requests (replay: SLUICE_FUZZ_SEED=%llu)\n",
           (unsigned long long)run.seed, count, (unsigned long long)run.seed);
    fflush(stdout);
    int64_t t0 = e2e_now_ms();
    for (run.index = 0; run.index < count; run.index++) {
        s_one(fx, &run, run.index);
        if (run.index % 5000 == 4999) {
            s_alive(fx, &run, "a batch");
        }
    }
    /* Frames past the socket's limit (2 MiB + 4 KiB): the connection is
       dropped, no reply; and an empty first frame (a REQ-style envelope
       with no body). Both on their own clients. */
    {
        e2e_api_t *c = e2e_api_connect(fx->e.api_ep);
        size_t len = 3u << 20;
        char *buf = calloc(1, len);
        buf[0] = (char)0x81;
        zmq_send(c->sock, buf, len, 0);
        free(buf);
        json_decref(e2e_call_raw(c, "", 0, 1, 300));
        json_decref(e2e_call_raw(c, "", 0, 3, 300));
        e2e_api_close(&c);
    }
    s_alive(fx, &run, "the whole stream");
    printf("test_api_fuzz: %d mistyped fields refused\n", swept);
    printf("test_api_fuzz: %ld requests in %lld ms: %d accepted, %d refused;", count,
           (long long)(e2e_now_ms() - t0), run.ok_replies, run.bad_replies);
    for (int k = 0; k < K_N; k++) {
        printf(" %s %d%s", s_kinds[k], run.counts[k], k + 1 < K_N ? "," : "\n");
    }

    s_state(fx, id, &after);
    s_assert_same(before.list, after.list, "pipeline.list");
    s_assert_same(before.pipeline, after.pipeline, "the pipeline");
    s_assert_same(before.dlq, after.dlq, "dlq.list");
    assert_int_equal(before.last_seq, after.last_seq);
    s_state_clear(&before);
    s_state_clear(&after);
    free(id);

    for (int i = 0; i < S_CLIENTS; i++) {
        e2e_api_close(&fx->clients[i]);
    }
    e2e_api_close(&fx->e.api);
    int code = e2e_stop(fx->e.d, SIGTERM, 20000);
    if (code != 0) {
        e2e_dump("sluiced stderr", fx->e.log_d);
    }
    assert_int_equal(code, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_fuzz_hostile_stream, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
