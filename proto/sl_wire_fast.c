/*  sl_wire_fast.c: one-pass scan of the common mux frames (see
    sl_wire_fast.h for the contract).

    Design notes
    - Decline, never reject: every path that meets something the slow path
      might judge differently returns SL_EUNSUPPORTED, and the caller hands
      the same bytes to sl_wire_frame_parse. So the scanner only has to be
      right about the frames it accepts, and it accepts only plain ones.
    - Exactness with jansson (JSON_REJECT_DUPLICATES, no JSON_ALLOW_NUL) on
      what it accepts: ASCII only, so no UTF-8 question; no \u escapes, so no
      NUL or surrogate question; keys without escapes, so duplicates compare
      byte-wise; numbers of at most 15 characters without exponent, so no
      overflow and the value is exactly what strtod gives (a mantissa below
      2^53 divided by an exact power of ten rounds once, correctly).
    - Fields are recorded by position (value slice, type, escapes) while
      scanning; the kind-specific rules afterwards mirror s_parse_body in
      sl_wire.c for the kinds handled here.
*/
#include "proto/sl_wire_fast.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "runtime/sl_hash.h"

#define S_DEPTH_MAX 32
#define S_KEYS_MAX 256
#define S_NUM_MAX 15
#define S_DECLINE 1 /* internal: give the frame to the slow path */

typedef enum { S_V_NONE = 0, S_V_STRING, S_V_NUMBER, S_V_OBJECT, S_V_NULL, S_V_OTHER } s_vtype_t;

typedef struct {
    s_vtype_t t;
    const char *p; /* string content (between the quotes) or number token */
    size_t n;
    bool esc; /* the string holds an escape */
} s_val_t;

/* Top-level fields read by the kinds handled here. */
enum {
    F_TYPE,
    F_ID,
    F_SERVICE,
    F_TIMESTAMP,
    F_STATUS,
    F_ANALYSIS,
    F_ERROR,
    F_MESSAGE,
    F_STAGE,
    F_CHECKPOINT,
    F_PCT,
    F_PARTIAL, /* a progress frame's partial result: left to sl_wire_frame_parse */
    F__COUNT
};
static const char *const s_top_names[F__COUNT] = {
    "type",  "id",      "service", "timestamp",  "status", "analysis",
    "error", "message", "stage",   "checkpoint", "pct",    "partial",
};
/* Fields of the "analysis" object of a result. */
enum { A_STATUS, A_ERROR, A_MESSAGE, A__COUNT };
static const char *const s_ana_names[A__COUNT] = {"status", "error", "message"};

typedef struct {
    const char *s, *end;
    struct {
        uint32_t h;
        const char *p;
        size_t n;
    } keys[S_KEYS_MAX];
    int nkeys;
    s_val_t top[F__COUNT];
    s_val_t ana[A__COUNT];
} s_scan_t;

static int s_value(s_scan_t *sc, int depth, s_val_t *out, int role);

static void s_ws(s_scan_t *sc)
{
    while (sc->s < sc->end &&
           (*sc->s == ' ' || *sc->s == '\t' || *sc->s == '\n' || *sc->s == '\r')) {
        sc->s++;
    }
}

/* At a '"': the string's content and whether it holds escapes. */
static int s_string(s_scan_t *sc, const char **p, size_t *n, bool *esc)
{
    const char *s = sc->s + 1;
    *esc = false;
    while (s < sc->end) {
        unsigned char c = (unsigned char)*s;
        if (c == '"') {
            *p = sc->s + 1;
            *n = (size_t)(s - *p);
            sc->s = s + 1;
            return 0;
        }
        if (c < 0x20 || c >= 0x80) {
            return S_DECLINE; /* a control byte (invalid) or non-ASCII */
        }
        if (c == '\\') {
            if (s + 1 >= sc->end || !strchr("\"\\/bfnrt", s[1]) || s[1] == '\0') {
                return S_DECLINE; /* \u, an invalid escape, or the end */
            }
            *esc = true;
            s += 2;
            continue;
        }
        s++;
    }
    return S_DECLINE;
}

static bool s_digit(const s_scan_t *sc, const char *s)
{
    return s < sc->end && *s >= '0' && *s <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?, no exponent, at most S_NUM_MAX chars. */
static int s_number(s_scan_t *sc, s_val_t *out)
{
    const char *s = sc->s;
    if (s < sc->end && *s == '-') {
        s++;
    }
    if (!s_digit(sc, s)) {
        return S_DECLINE;
    }
    if (*s == '0') {
        s++;
    } else {
        while (s_digit(sc, s)) {
            s++;
        }
    }
    if (s < sc->end && *s == '.') {
        s++;
        if (!s_digit(sc, s)) {
            return S_DECLINE;
        }
        while (s_digit(sc, s)) {
            s++;
        }
    }
    if (s < sc->end && (*s == 'e' || *s == 'E')) {
        return S_DECLINE;
    }
    if ((size_t)(s - sc->s) > S_NUM_MAX) {
        return S_DECLINE;
    }
    out->t = S_V_NUMBER;
    out->p = sc->s;
    out->n = (size_t)(s - sc->s);
    sc->s = s;
    return 0;
}

/* role: 0 the frame itself (records top-level fields), 1 the result's
   "analysis" object (records its fields), 2 anything else. */
static int s_object(s_scan_t *sc, int depth, int role)
{
    int base = sc->nkeys;
    sc->s++; /* '{' */
    s_ws(sc);
    if (sc->s < sc->end && *sc->s == '}') {
        sc->s++;
        return 0;
    }
    for (;;) {
        if (sc->s >= sc->end || *sc->s != '"') {
            return S_DECLINE;
        }
        const char *k;
        size_t kn;
        bool kesc;
        if (s_string(sc, &k, &kn, &kesc) || kesc || sc->nkeys >= S_KEYS_MAX) {
            return S_DECLINE;
        }
        uint32_t h = sl_hash_bytes(k, kn);
        for (int i = base; i < sc->nkeys; i++) {
            if (sc->keys[i].h == h && sc->keys[i].n == kn && memcmp(sc->keys[i].p, k, kn) == 0) {
                return S_DECLINE; /* duplicate: the slow path rejects it */
            }
        }
        sc->keys[sc->nkeys].h = h;
        sc->keys[sc->nkeys].p = k;
        sc->keys[sc->nkeys].n = kn;
        sc->nkeys++;
        s_ws(sc);
        if (sc->s >= sc->end || *sc->s != ':') {
            return S_DECLINE;
        }
        sc->s++;
        s_ws(sc);
        s_val_t *slot = NULL;
        int child_role = 2;
        if (role == 0) {
            for (int f = 0; f < F__COUNT; f++) {
                if (strlen(s_top_names[f]) == kn && memcmp(s_top_names[f], k, kn) == 0) {
                    slot = &sc->top[f];
                    child_role = f == F_ANALYSIS ? 1 : 2;
                    break;
                }
            }
        } else if (role == 1) {
            for (int f = 0; f < A__COUNT; f++) {
                if (strlen(s_ana_names[f]) == kn && memcmp(s_ana_names[f], k, kn) == 0) {
                    slot = &sc->ana[f];
                    break;
                }
            }
        }
        s_val_t v;
        int rc = s_value(sc, depth, &v, child_role);
        if (rc) {
            return rc;
        }
        if (slot) {
            *slot = v;
        }
        s_ws(sc);
        if (sc->s < sc->end && *sc->s == ',') {
            sc->s++;
            s_ws(sc);
            continue;
        }
        if (sc->s < sc->end && *sc->s == '}') {
            sc->s++;
            sc->nkeys = base; /* keys are unique per object */
            return 0;
        }
        return S_DECLINE;
    }
}

static int s_array(s_scan_t *sc, int depth)
{
    sc->s++; /* '[' */
    s_ws(sc);
    if (sc->s < sc->end && *sc->s == ']') {
        sc->s++;
        return 0;
    }
    for (;;) {
        s_val_t v;
        int rc = s_value(sc, depth, &v, 2);
        if (rc) {
            return rc;
        }
        s_ws(sc);
        if (sc->s < sc->end && *sc->s == ',') {
            sc->s++;
            s_ws(sc);
            continue;
        }
        if (sc->s < sc->end && *sc->s == ']') {
            sc->s++;
            return 0;
        }
        return S_DECLINE;
    }
}

static bool s_literal(s_scan_t *sc, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(sc->end - sc->s) < n || memcmp(sc->s, word, n) != 0) {
        return false;
    }
    sc->s += n;
    return true;
}

/* One value at sc->s (whitespace already skipped). What follows it is
   checked by the container, so "truex" or "01" decline there. */
static int s_value(s_scan_t *sc, int depth, s_val_t *out, int role)
{
    memset(out, 0, sizeof *out);
    if (sc->s >= sc->end) {
        return S_DECLINE;
    }
    switch (*sc->s) {
    case '{':
        if (depth + 1 > S_DEPTH_MAX) {
            return S_DECLINE;
        }
        out->t = S_V_OBJECT;
        return s_object(sc, depth + 1, role);
    case '[':
        if (depth + 1 > S_DEPTH_MAX) {
            return S_DECLINE;
        }
        out->t = S_V_OTHER;
        return s_array(sc, depth + 1);
    case '"':
        out->t = S_V_STRING;
        return s_string(sc, &out->p, &out->n, &out->esc);
    case 't':
        out->t = S_V_OTHER;
        return s_literal(sc, "true") ? 0 : S_DECLINE;
    case 'f':
        out->t = S_V_OTHER;
        return s_literal(sc, "false") ? 0 : S_DECLINE;
    case 'n':
        out->t = S_V_NULL;
        return s_literal(sc, "null") ? 0 : S_DECLINE;
    default:
        return s_number(sc, out);
    }
}

/* ---- fields ---------------------------------------------------------- */

typedef struct {
    char *p, *end;
} s_arena_t;

/* Copies a plain string value out, NUL-terminated. */
static int s_copy(s_arena_t *a, const s_val_t *v, const char **out)
{
    if (v->esc || v->n >= (size_t)(a->end - a->p)) {
        return S_DECLINE;
    }
    memcpy(a->p, v->p, v->n);
    a->p[v->n] = '\0';
    *out = a->p;
    a->p += v->n + 1;
    return 0;
}

/* s_get_str of sl_wire.c: absent or null = NULL (declined when required),
   a plain string = copied, anything else declines. */
static int s_get_str(s_arena_t *a, const s_val_t *v, bool required, const char **out)
{
    *out = NULL;
    if (v->t == S_V_NONE || v->t == S_V_NULL) {
        return required ? S_DECLINE : 0;
    }
    return v->t == S_V_STRING ? s_copy(a, v, out) : S_DECLINE;
}

/* s_peek_str of sl_wire.c: a string or NULL, never an error. */
static int s_peek_str(s_arena_t *a, const s_val_t *v, const char **out)
{
    *out = NULL;
    return v->t == S_V_STRING ? s_copy(a, v, out) : 0;
}

/* s_error_text of sl_wire.c for two fields; an object (whose "message"
   would count) declines. */
static int s_error_text(s_arena_t *a, const s_val_t *first, const s_val_t *second, const char **out)
{
    const s_val_t *v[2] = {first, second};
    *out = NULL;
    for (int i = 0; i < 2; i++) {
        if (v[i]->t == S_V_STRING) {
            return s_copy(a, v[i], out);
        }
        if (v[i]->t == S_V_OBJECT) {
            return S_DECLINE;
        }
    }
    return 0;
}

/* A number token as strtod reads it (see the design notes). */
static double s_number_value(const s_val_t *v)
{
    const char *p = v->p, *end = v->p + v->n;
    bool neg = p < end && *p == '-';
    p += neg ? 1 : 0;
    uint64_t m = 0;
    int frac = -1;
    for (; p < end; p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        m = m * 10 + (uint64_t)(*p - '0');
        frac += frac >= 0 ? 1 : 0;
    }
    if (frac < 0) {
        /* jansson keeps it an integer: "-0" is 0, not -0.0 */
        int64_t i = neg ? -(int64_t)m : (int64_t)m;
        return (double)i;
    }
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6, 1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14};
    double d = (double)m / pow10[frac];
    return neg ? -d : d;
}

static bool s_is(const s_val_t *v, const char *word)
{
    size_t n = strlen(word);
    return v->n == n && memcmp(v->p, word, n) == 0;
}

/* The frame kinds handled here, from a plain "type" string. */
static sl_wire_kind_t s_kind(const s_val_t *type)
{
    static const struct {
        const char *type;
        sl_wire_kind_t kind;
    } table[] = {
        {"accepted", SL_WIRE_ACCEPTED},   {"heartbeat", SL_WIRE_HEARTBEAT},
        {"cancelled", SL_WIRE_CANCELLED}, {"pong", SL_WIRE_PONG},
        {"error", SL_WIRE_ERROR},         {"progress", SL_WIRE_PROGRESS},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (s_is(type, table[i].type)) {
            return table[i].kind;
        }
    }
    static const char suffix[] = "_analysis_result";
    size_t m = sizeof suffix - 1;
    if (type->n > m && memcmp(type->p + type->n - m, suffix, m) == 0) {
        return SL_WIRE_ANALYSIS_RESULT;
    }
    return SL_WIRE_UNKNOWN; /* not handled here */
}

static int s_fill(sl_wire_frame_t *self, const s_scan_t *sc, s_arena_t *a)
{
    const s_val_t *top = sc->top;
    if (top[F_TYPE].t != S_V_STRING || top[F_TYPE].esc) {
        return S_DECLINE;
    }
    sl_wire_kind_t kind = s_kind(&top[F_TYPE]);
    if (kind == SL_WIRE_UNKNOWN) {
        return S_DECLINE;
    }
    self->kind = kind;
    if (s_copy(a, &top[F_TYPE], &self->type) ||
        s_peek_str(a, &top[F_TIMESTAMP], &self->timestamp)) {
        return S_DECLINE;
    }
    bool id_required =
        kind == SL_WIRE_ACCEPTED || kind == SL_WIRE_PROGRESS || kind == SL_WIRE_CANCELLED;
    if (s_get_str(a, &top[F_ID], id_required, &self->id) ||
        s_get_str(a, &top[F_SERVICE], false, &self->service)) {
        return S_DECLINE;
    }
    switch (kind) {
    case SL_WIRE_ANALYSIS_RESULT:
        if (s_get_str(a, &top[F_STATUS], true, &self->u.result.status)) {
            return S_DECLINE;
        }
        if (top[F_ANALYSIS].t == S_V_OBJECT) {
            /* result.analysis stays NULL: no tree here (see the header) */
            if (s_peek_str(a, &sc->ana[A_STATUS], &self->u.result.inner_status) ||
                s_error_text(a, &sc->ana[A_ERROR], &sc->ana[A_MESSAGE],
                             &self->u.result.inner_error)) {
                return S_DECLINE;
            }
        } else if (top[F_ANALYSIS].t != S_V_NONE && top[F_ANALYSIS].t != S_V_NULL) {
            return S_DECLINE;
        }
        return s_error_text(a, &top[F_ERROR], &top[F_MESSAGE], &self->u.result.error);
    case SL_WIRE_ERROR:
        return s_error_text(a, &top[F_MESSAGE], &top[F_ERROR], &self->u.error.message);
    case SL_WIRE_PROGRESS:
        if (top[F_PARTIAL].t != S_V_NONE ||
            s_get_str(a, &top[F_STAGE], false, &self->u.progress.stage) ||
            s_get_str(a, &top[F_MESSAGE], false, &self->u.progress.message) ||
            s_get_str(a, &top[F_CHECKPOINT], false, &self->u.progress.checkpoint)) {
            return S_DECLINE;
        }
        if (top[F_PCT].t == S_V_NUMBER) {
            double pct = s_number_value(&top[F_PCT]);
            /* s_clamp_pct of sl_wire.c */
            self->u.progress.pct = !(pct >= 0) ? 0 : pct > 100 ? 100 : pct;
            self->u.progress.has_pct = true;
        } else if (top[F_PCT].t != S_V_NONE && top[F_PCT].t != S_V_NULL) {
            return S_DECLINE;
        }
        return 0;
    default:
        return 0; /* accepted, heartbeat, cancelled, pong: the common fields */
    }
}

int sl_wire_frame_parse_fast(sl_wire_frame_t *self, const void *buf, size_t len, char *arena,
                             size_t arena_size)
{
    if (!self || !arena) {
        return SL_EINVAL;
    }
    memset(self, 0, sizeof *self);
    if (!buf || len == 0 || len > SL_WIRE_MAX_FRAME) {
        return SL_EUNSUPPORTED;
    }
    s_scan_t sc;
    sc.s = buf;
    sc.end = sc.s + len;
    sc.nkeys = 0;
    memset(sc.top, 0, sizeof sc.top);
    memset(sc.ana, 0, sizeof sc.ana);
    s_ws(&sc);
    if (sc.s >= sc.end || *sc.s != '{' || s_object(&sc, 1, 0) != 0) {
        return SL_EUNSUPPORTED;
    }
    s_ws(&sc);
    if (sc.s != sc.end) {
        return SL_EUNSUPPORTED; /* trailing bytes */
    }
    s_arena_t a = {arena, arena + arena_size};
    if (s_fill(self, &sc, &a) != 0) {
        memset(self, 0, sizeof *self);
        return SL_EUNSUPPORTED;
    }
    return 0;
}
