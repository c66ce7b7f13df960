/*  sl_plan.c: start request -> plan; backoff.

    The parser walks the request with the distrustful sl_mp reader and checks
    every field before it builds anything the caller sees: the first problem
    becomes an SL_EINVAL with a message that names the field by its path, and
    the half-built plan is freed. Pure code, runs on the caller's thread.
*/
#include "actors/pipeline/sl_plan.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"

/* ---- retry --------------------------------------------------------------- */

int64_t sl_retry_cap_ms(const sl_retry_policy_t *self, uint32_t retry)
{
    double cap = (double)self->initial_ms;
    /* Stop multiplying once past max: coefficient^n overflows quickly. */
    for (uint32_t i = 1; i < retry && cap < (double)self->max_ms; i++) {
        cap *= self->coefficient;
    }
    if (cap > (double)self->max_ms) {
        cap = (double)self->max_ms;
    }
    if (cap < 0) {
        cap = 0;
    }
    return (int64_t)cap;
}

static uint64_t s_xorshift(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

int64_t sl_retry_backoff_ms(const sl_retry_policy_t *self, uint32_t retry, uint64_t *rng)
{
    int64_t cap = sl_retry_cap_ms(self, retry);
    if (cap <= 0) {
        return 0;
    }
    return (int64_t)(s_xorshift(rng) % ((uint64_t)cap + 1));
}

/* ---- defaults ------------------------------------------------------------ */

void sl_plan_defaults_from_config(sl_plan_defaults_t *self, const sl_config_t *cfg)
{
    memset(self, 0, sizeof(*self));
    self->timeouts.task_ms = cfg->task_timeout_ms;
    self->timeouts.stage_ms = cfg->stage_timeout_ms;
    self->timeouts.pipeline_ms = cfg->pipeline_timeout_ms;
    self->retry.max_attempts = (uint32_t)cfg->max_attempts;
    self->retry.initial_ms = cfg->backoff_initial_ms;
    self->retry.coefficient = cfg->backoff_coefficient;
    self->retry.max_ms = cfg->backoff_max_ms;
    self->retry.unreachable_ms = cfg->app_unreachable_retry_ms;
    self->retry.unreachable_retries = (uint32_t)cfg->app_unreachable_retries;
    self->max_concurrent_tasks = (uint32_t)cfg->max_concurrent_tasks;
    self->max_tasks = SL_PLAN_MAX_TASKS;
    for (int svc = 0; svc < SL_SVC_ANALYZERS; svc++) {
        const sl_service_conf_t *sc = NULL;
        for (size_t i = 0; i < cfg->n_services && !sc; i++) {
            sc =
                strcmp(cfg->services[i].name, sl_service_name(svc)) == 0 ? &cfg->services[i] : NULL;
        }
        snprintf(self->tools[svc], sizeof(self->tools[svc]), "%s", sc ? sc->tools : "");
    }
    self->nprofiles = cfg->n_profiles;
    memcpy(self->profiles, cfg->profiles, cfg->n_profiles * sizeof(cfg->profiles[0]));
}

/* The analyzer whose configured tools name tool, or SL_ENOTFOUND. */
static int s_service_of_tool(const sl_plan_defaults_t *d, const char *tool)
{
    for (int svc = 0; svc < SL_SVC_ANALYZERS; svc++) {
        if (sl_config_tools_have(d->tools[svc], tool, strlen(tool))) {
            return svc;
        }
    }
    return SL_ENOTFOUND;
}

void sl_plan_defaults_init(sl_plan_defaults_t *self)
{
    sl_plan_defaults_from_config(self, sl_config_builtin());
}

/* ---- parsing ------------------------------------------------------------- */

#define MAX_NAME 256
#define MAX_SLUG 256
#define MAX_URL 2048
#define MAX_LIST 10000
#define MAX_TARGETS 64
#define MAX_SECONDS (30.0 * 24 * 3600) /* a month: anything longer is a typo */

typedef struct {
    char *err;
    size_t errlen;
} s_ctx_t;

static int s_fail(s_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(s_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx->err && ctx->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, ctx->errlen, fmt, ap);
        va_end(ap);
    }
    return SL_EINVAL;
}

/* 0 and *val when key is present and not nil, 1 when absent. */
static int s_find(const sl_mp_reader_t *map, const char *key, sl_mp_reader_t *val)
{
    int rc = sl_mp_reader_find(map, key, val);
    if (rc == SL_ENOTFOUND) {
        return 1;
    }
    if (rc < 0) {
        return rc;
    }
    if (sl_mp_peek(val) == SL_MP_NIL) {
        return 1;
    }
    return 0;
}

static int s_want_map(s_ctx_t *ctx, const sl_mp_reader_t *r, const char *path)
{
    if (sl_mp_peek(r) != SL_MP_MAP) {
        return s_fail(ctx, "%s: must be a map", path);
    }
    return 0;
}

static int s_get_bool(s_ctx_t *ctx, const sl_mp_reader_t *map, const char *key, const char *path,
                      bool *out)
{
    sl_mp_reader_t v;
    int rc = s_find(map, key, &v);
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    if (sl_mp_read_bool(&v, out) < 0) {
        return s_fail(ctx, "%s.%s: must be true or false", path, key);
    }
    return 0;
}

static int s_get_int(s_ctx_t *ctx, const sl_mp_reader_t *map, const char *key, const char *path,
                     int64_t lo, int64_t hi, int64_t *out, bool *present)
{
    sl_mp_reader_t v;
    int rc = s_find(map, key, &v);
    if (present) {
        *present = rc == 0;
    }
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    int64_t x;
    if (sl_mp_peek(&v) != SL_MP_INT || sl_mp_read_int(&v, &x) < 0 || x < lo || x > hi) {
        return s_fail(ctx, "%s.%s: must be an integer from %lld to %lld", path, key, (long long)lo,
                      (long long)hi);
    }
    *out = x;
    return 0;
}

/* A duration in seconds (integer or float) -> ms. */
static int s_get_seconds(s_ctx_t *ctx, const sl_mp_reader_t *map, const char *key, const char *path,
                         bool allow_zero, int64_t *out_ms)
{
    sl_mp_reader_t v;
    int rc = s_find(map, key, &v);
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    double d;
    int t = sl_mp_peek(&v);
    if ((t != SL_MP_INT && t != SL_MP_DOUBLE) || sl_mp_read_double(&v, &d) < 0 || isnan(d) ||
        d < 0 || (d == 0 && !allow_zero) || d > MAX_SECONDS) {
        return s_fail(ctx, "%s.%s: must be a number of seconds, %s%.0f", path, key,
                      allow_zero ? "0 to " : "above 0 and up to ", MAX_SECONDS);
    }
    *out_ms = (int64_t)llround(d * 1000.0);
    return 0;
}

/* Every key of the map must be one of allowed (NULL-terminated). */
static int s_only_keys(s_ctx_t *ctx, const sl_mp_reader_t *map, const char *path,
                       const char *const *allowed)
{
    sl_mp_reader_t r = *map;
    uint32_t n;
    int rc = sl_mp_read_map(&r, &n);
    if (rc < 0) {
        return rc;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *k;
        size_t klen;
        if (sl_mp_read_str(&r, &k, &klen) < 0) {
            return s_fail(ctx, "%s: keys must be strings", path);
        }
        bool ok = false;
        for (const char *const *a = allowed; *a; a++) {
            ok = ok || sl_mp_str_eq(k, klen, *a);
        }
        if (!ok) {
            return s_fail(ctx, "%s: unknown key '%.*s'", path, (int)(klen > 64 ? 64 : klen), k);
        }
        rc = sl_mp_skip(&r);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A list of non-empty strings (each at most max bytes). */
static int s_str_list(s_ctx_t *ctx, sl_mp_reader_t *v, const char *path, size_t max,
                      bool allow_empty, sl_strs_t *out)
{
    uint32_t n;
    if (sl_mp_peek(v) != SL_MP_ARRAY || sl_mp_read_array(v, &n) < 0) {
        return s_fail(ctx, "%s: must be a list of strings", path);
    }
    if (n == 0 && !allow_empty) {
        return s_fail(ctx, "%s: must not be empty", path);
    }
    if (n > MAX_LIST) {
        return s_fail(ctx, "%s: more than %d entries", path, MAX_LIST);
    }
    for (uint32_t i = 0; i < n; i++) {
        char *s = NULL;
        int rc = sl_mp_peek(v) == SL_MP_STR ? sl_mp_read_strdup(v, max, &s) : SL_EPROTO;
        if (rc == SL_ENOMEM) {
            return rc;
        }
        if (rc < 0 || s[0] == '\0') {
            free(s);
            return s_fail(ctx, "%s[%u]: must be a non-empty string of at most %zu bytes", path, i,
                          max);
        }
        rc = sl_strs_push(out, s);
        free(s);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* analysis.options.<alias>: a map for that analyzer, kept as msgpack; the
   performance service's load settings are checked here, the rest is the
   analyzer's business. */
static int s_service_options(s_ctx_t *ctx, const sl_mp_reader_t *o, const char *path,
                             sl_plan_t *plan)
{
    for (int svc = 0; svc < SL_SVC_ANALYZERS; svc++) {
        sl_mp_reader_t m;
        char sp[160];
        snprintf(sp, sizeof(sp), "%s.%s", path, sl_service_alias(svc));
        int rc = s_find(o, sl_service_alias(svc), &m);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1) {
            continue;
        }
        if ((rc = s_want_map(ctx, &m, sp)) < 0) {
            return rc;
        }
        if (svc == SL_SVC_PERFORMANCE) {
            int64_t v;
            if ((rc = s_get_int(ctx, &m, "users", sp, 1, 100000, &v, NULL)) < 0 ||
                (rc = s_get_int(ctx, &m, "duration", sp, 1, 86400, &v, NULL)) < 0) {
                return rc;
            }
        }
        const uint8_t *raw;
        size_t len;
        if ((rc = sl_mp_read_raw(&m, &raw, &len)) < 0) {
            return rc;
        }
        if (sl_mp_validate_depth(raw, len, 16) < 0) {
            return s_fail(ctx, "%s: nested too deep", sp);
        }
        if ((rc = sl_bytes_set(&plan->options[svc], raw, len)) < 0) {
            return rc;
        }
    }
    return 0;
}

static int s_options(s_ctx_t *ctx, const sl_mp_reader_t *sect, const char *path, uint32_t dflt,
                     uint32_t *limit, sl_strs_t *target_urls, sl_plan_t *plan)
{
    sl_mp_reader_t o;
    char p[128];
    snprintf(p, sizeof(p), "%s.options", path);
    *limit = dflt;
    int rc = s_find(sect, "options", &o);
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    if ((rc = s_want_map(ctx, &o, p)) < 0) {
        return rc;
    }
    bool parallel = true;
    if ((rc = s_get_bool(ctx, &o, "parallel", p, &parallel)) < 0) {
        return rc;
    }
    int64_t mct = 0;
    bool has_mct = false;
    if ((rc = s_get_int(ctx, &o, "max_concurrent_tasks", p, 1, SL_CONFIG_MAX_CONCURRENT_TASKS, &mct,
                        &has_mct)) < 0) {
        return rc;
    }
    if (has_mct) {
        *limit = (uint32_t)mct;
    }
    /* parallel false is the seed's way to say one at a time. */
    if (!parallel) {
        *limit = 1;
    }
    if (target_urls) {
        sl_mp_reader_t t;
        rc = s_find(&o, "target_urls", &t);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            char tp[160];
            snprintf(tp, sizeof(tp), "%s.target_urls", p);
            if ((rc = s_str_list(ctx, &t, tp, MAX_URL, true, target_urls)) < 0) {
                return rc;
            }
            /* Every analysis attempt carries them all, expanded. */
            if (target_urls->n > MAX_TARGETS) {
                return s_fail(ctx, "%s: more than %d entries", tp, MAX_TARGETS);
            }
        }
    }
    if (plan) {
        return s_service_options(ctx, &o, p, plan);
    }
    return 0;
}

/* An existing app's optional template, own URL templates and ports. */
static int s_app_extras(s_ctx_t *ctx, const sl_mp_reader_t *entry, const char *ap,
                        sl_plan_app_t *app)
{
    sl_mp_reader_t v;
    char p[192];
    int rc = s_find(entry, "template", &v);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        rc = sl_mp_peek(&v) == SL_MP_STR ? sl_mp_read_strdup(&v, MAX_SLUG, &app->tmpl) : SL_EPROTO;
        if (rc == SL_ENOMEM) {
            return rc;
        }
        if (rc < 0 || app->tmpl[0] == '\0') {
            return s_fail(ctx, "%s.template: must be a non-empty string of at most %d bytes", ap,
                          MAX_SLUG);
        }
    }
    rc = s_find(entry, "target_urls", &v);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        snprintf(p, sizeof(p), "%s.target_urls", ap);
        if ((rc = s_str_list(ctx, &v, p, MAX_URL, true, &app->target_urls)) < 0) {
            return rc;
        }
        if (app->target_urls.n > MAX_TARGETS) {
            return s_fail(ctx, "%s: more than %d entries", p, MAX_TARGETS);
        }
    }
    rc = s_find(entry, "ports", &v);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        static const char *const keys[] = {"backend", "frontend", NULL};
        snprintf(p, sizeof(p), "%s.ports", ap);
        if ((rc = s_want_map(ctx, &v, p)) < 0 || (rc = s_only_keys(ctx, &v, p, keys)) < 0 ||
            (rc = s_get_int(ctx, &v, "backend", p, 1, 65535, &app->backend_port, NULL)) < 0 ||
            (rc = s_get_int(ctx, &v, "frontend", p, 1, 65535, &app->frontend_port, NULL)) < 0) {
            return rc;
        }
    }
    return 0;
}

/* A URL template naming a port the app does not have is refused (it would
   reach no app). */
static int s_ports_known(s_ctx_t *ctx, const sl_strs_t *urls, const char *path,
                         int64_t backend_port, int64_t frontend_port)
{
    for (size_t i = 0; i < urls->n; i++) {
        const char *missing = strstr(urls->v[i], "{backend_port}") && backend_port <= 0 ? "backend"
                              : strstr(urls->v[i], "{frontend_port}") && frontend_port <= 0
                                  ? "frontend"
                                  : NULL;
        if (missing) {
            return s_fail(ctx,
                          "%s[%zu]: uses {%s_port}, but the app's ports.%s is not known (give "
                          "ports in existing_apps)",
                          path, i, missing, missing);
        }
    }
    return 0;
}

static int s_generation(s_ctx_t *ctx, const sl_mp_reader_t *g, const char *path,
                        const sl_plan_defaults_t *d, sl_plan_t *plan)
{
    int rc;
    char p[128];
    if ((rc = s_want_map(ctx, g, path)) < 0) {
        return rc;
    }
    sl_mp_reader_t v;
    rc = s_find(g, "mode", &v);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        const char *s;
        size_t len;
        if (sl_mp_read_str(&v, &s, &len) < 0 ||
            !(sl_mp_str_eq(s, len, "generate") || sl_mp_str_eq(s, len, "existing"))) {
            return s_fail(ctx, "%s.mode: must be \"generate\" or \"existing\"", path);
        }
        plan->existing = sl_mp_str_eq(s, len, "existing");
    }
    if (!plan->existing) {
        const char *lists[] = {"models", "templates"};
        sl_strs_t *outs[] = {&plan->models, &plan->templates};
        for (int i = 0; i < 2; i++) {
            snprintf(p, sizeof(p), "%s.%s", path, lists[i]);
            rc = s_find(g, lists[i], &v);
            if (rc < 0) {
                return rc;
            }
            if (rc == 1) {
                return s_fail(ctx, "%s: required in generate mode", p);
            }
            if ((rc = s_str_list(ctx, &v, p, MAX_SLUG, false, outs[i])) < 0) {
                return rc;
            }
        }
    } else {
        snprintf(p, sizeof(p), "%s.existing_apps", path);
        rc = s_find(g, "existing_apps", &v);
        if (rc < 0) {
            return rc;
        }
        uint32_t n;
        if (rc == 1) {
            return s_fail(ctx, "%s: required in existing mode", p);
        }
        if (sl_mp_peek(&v) != SL_MP_ARRAY || sl_mp_read_array(&v, &n) < 0) {
            return s_fail(ctx, "%s: must be a list of {model, app_number, ...}", p);
        }
        if (n == 0) {
            return s_fail(ctx, "%s: must not be empty", p);
        }
        if (n > MAX_LIST) {
            return s_fail(ctx, "%s: more than %d entries", p, MAX_LIST);
        }
        plan->apps = calloc(n, sizeof(*plan->apps));
        if (!plan->apps) {
            return SL_ENOMEM;
        }
        for (uint32_t i = 0; i < n; i++) {
            char ap[160];
            snprintf(ap, sizeof(ap), "%s[%u]", p, i);
            if ((rc = s_want_map(ctx, &v, ap)) < 0) {
                return rc;
            }
            sl_mp_reader_t m;
            rc = s_find(&v, "model", &m);
            if (rc < 0) {
                return rc;
            }
            char *model = NULL;
            rc = rc == 0 && sl_mp_peek(&m) == SL_MP_STR ? sl_mp_read_strdup(&m, MAX_SLUG, &model)
                                                        : SL_EPROTO;
            if (rc == SL_ENOMEM) {
                return rc;
            }
            if (rc < 0 || model[0] == '\0') {
                free(model);
                return s_fail(ctx, "%s.model: must be a non-empty string", ap);
            }
            plan->apps[i].model = model;
            plan->napps = i + 1;
            bool has = false;
            if ((rc = s_get_int(ctx, &v, "app_number", ap, 0, INT32_MAX, &plan->apps[i].app_number,
                                &has)) < 0) {
                return rc;
            }
            if (!has) {
                return s_fail(ctx, "%s.app_number: required", ap);
            }
            if ((rc = s_app_extras(ctx, &v, ap, &plan->apps[i])) < 0) {
                return rc;
            }
            if ((rc = sl_mp_skip(&v)) < 0) {
                return rc;
            }
        }
    }
    return s_options(ctx, g, path, d->max_concurrent_tasks, &plan->gen_limit, NULL, NULL);
}

/* ---- scan profiles -------------------------------------------------------- */

/* Pushes tool onto list unless it is there. */
static int s_push_tool(sl_strs_t *list, const char *tool)
{
    for (size_t j = 0; j < list->n; j++) {
        if (strcmp(list->v[j], tool) == 0) {
            return 0;
        }
    }
    return sl_strs_push(list, tool);
}

/* A profile's analyzers and tools, read as a request's analysis.analyzers
   and analysis.tools are, into services and tools (empty on entry). */
static int s_profile_scan(s_ctx_t *ctx, const sl_plan_defaults_t *d, const sl_profile_conf_t *pr,
                          const char *path, bool *services, sl_strs_t *tools)
{
    for (const char *c = pr->analyzers; *c;) {
        size_t n = strcspn(c, ",");
        int svc = sl_service_parse_alias(c, n);
        if (svc >= 0 && svc < SL_SVC_ANALYZERS) {
            services[svc] = true; /* the configuration checked the names */
        }
        c += n + (c[n] == ',');
    }
    for (const char *c = pr->tools; *c;) {
        char tool[SL_CONFIG_TOOL_NAME];
        size_t n = strcspn(c, ",");
        snprintf(tool, sizeof(tool), "%.*s", (int)n, c);
        c += n + (c[n] == ',');
        int svc = s_service_of_tool(d, tool);
        if (svc < 0) {
            return s_fail(ctx,
                          "%s: profile '%s' names tool '%s', which no services/<name>/tools "
                          "lists (fix profiles/%s/tools)",
                          path, pr->name, tool, pr->name);
        }
        services[svc] = true;
        int rc = s_push_tool(&tools[svc], tool);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A profile's timeouts over t (0 = keep t's). */
static void s_profile_timeouts(const sl_profile_conf_t *pr, sl_plan_timeouts_t *t)
{
    t->attempt_ms = pr->attempt_timeout_ms ? pr->attempt_timeout_ms : t->attempt_ms;
    t->progress_ms = pr->progress_timeout_ms ? pr->progress_timeout_ms : t->progress_ms;
    t->task_ms = pr->task_timeout_ms ? pr->task_timeout_ms : t->task_ms;
}

/* The profile named by key of a (NULL when absent), its name in *name
   (caller owns). */
static int s_get_profile(s_ctx_t *ctx, const sl_mp_reader_t *a, const char *key, const char *path,
                         const sl_plan_defaults_t *d, const sl_profile_conf_t **out, char **name)
{
    sl_mp_reader_t v;
    int rc = s_find(a, key, &v);
    *out = NULL;
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    rc = sl_mp_peek(&v) == SL_MP_STR ? sl_mp_read_strdup(&v, MAX_SLUG, name) : SL_EPROTO;
    if (rc == SL_ENOMEM) {
        return rc;
    }
    if (rc < 0) {
        return s_fail(ctx, "%s.%s: must be a profile's name", path, key);
    }
    for (size_t i = 0; i < d->nprofiles && !*out; i++) {
        *out = strcmp(d->profiles[i].name, *name) == 0 ? &d->profiles[i] : NULL;
    }
    if (!*out) {
        char known[512] = "";
        for (size_t i = 0; i < d->nprofiles; i++) {
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                     d->profiles[i].name);
        }
        return s_fail(ctx, "%s.%s: unknown profile '%.64s' (known: %s; more in profiles/<name>)",
                      path, key, *name, known);
    }
    return 0;
}

/* analysis.profile, .escalate and .escalate_threshold; *pr = the profile. */
static int s_profiles(s_ctx_t *ctx, const sl_mp_reader_t *a, const char *path,
                      const sl_plan_defaults_t *d, sl_plan_t *plan, const sl_profile_conf_t **pr)
{
    const sl_profile_conf_t *esc = NULL;
    char p[160];
    int rc = s_get_profile(ctx, a, "profile", path, d, pr, &plan->profile);
    if (rc < 0 || (rc = s_get_profile(ctx, a, "escalate", path, d, &esc, &plan->escalate)) < 0) {
        return rc;
    }
    bool has = false;
    if ((rc = s_get_int(ctx, a, "escalate_threshold", path, 0, INT32_MAX, &plan->escalate_threshold,
                        &has)) < 0) {
        return rc;
    }
    if (has && !esc) {
        return s_fail(ctx, "%s.escalate_threshold: needs %s.escalate (the profile to escalate to)",
                      path, path);
    }
    if (*pr) {
        s_profile_timeouts(*pr, &plan->timeouts);
    }
    if (esc) {
        snprintf(p, sizeof(p), "%s.escalate", path);
        /* over the first scan's: the same after a restart, whose defaults
           are the pipeline's stored (resolved) timeouts */
        plan->esc_timeouts = plan->timeouts;
        s_profile_timeouts(esc, &plan->esc_timeouts);
        return s_profile_scan(ctx, d, esc, p, plan->esc_services, plan->esc_tools);
    }
    return 0;
}

static int s_analysis(s_ctx_t *ctx, const sl_mp_reader_t *a, const char *path,
                      const sl_plan_defaults_t *d, sl_plan_t *plan)
{
    const sl_profile_conf_t *pr = NULL;
    bool allowed[SL_SVC_ANALYZERS] = {false};
    int rc;
    char p[128];
    if ((rc = s_want_map(ctx, a, path)) < 0) {
        return rc;
    }
    plan->analysis = true;
    if ((rc = s_get_bool(ctx, a, "enabled", path, &plan->analysis)) < 0) {
        return rc;
    }
    sl_mp_reader_t v;
    sl_strs_t tools = {0}, analyzers = {0};
    char ap[128];
    snprintf(ap, sizeof(ap), "%s.analyzers", path);
    rc = s_find(a, "analyzers", &v);
    if (rc == 0) {
        rc = s_str_list(ctx, &v, ap, MAX_SLUG, true, &analyzers);
    }
    snprintf(p, sizeof(p), "%s.tools", path);
    if (rc >= 0 && (rc = s_find(a, "tools", &v)) == 0) {
        rc = s_str_list(ctx, &v, p, MAX_SLUG, true, &tools);
    }
    if (rc < 0) {
        sl_strs_clear(&tools);
        sl_strs_clear(&analyzers);
        return rc;
    }
    rc = s_profiles(ctx, a, path, d, plan, &pr);
    if (rc == 0 && pr && analyzers.n) {
        rc = s_fail(ctx, "%s: give analyzers or a profile, not both (profile '%s' names its own)",
                    ap, pr->name);
    }
    if (rc == 0 && pr) {
        /* The profile's analyzers and tools, unless a tools list picks
           among its analyzers: explicit tools win. */
        sl_strs_t scratch[SL_SVC_ANALYZERS] = {{0}};
        snprintf(p, sizeof(p), "%s.profile", path);
        rc = s_profile_scan(ctx, d, pr, p, tools.n ? allowed : plan->services,
                            tools.n ? scratch : plan->tools);
        for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
            sl_strs_clear(&scratch[s]);
        }
        snprintf(p, sizeof(p), "%s.tools", path);
    }
    if (rc == 0 && tools.n == 0 && analyzers.n == 0 && !pr) {
        for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
            plan->services[s] = true;
        }
    }
    /* An analyzer named without tools runs with all of its own: its
       request carries no "tools" key, the fleet's form for "all". */
    for (size_t i = 0; i < analyzers.n && rc == 0; i++) {
        int svc = sl_service_parse_alias(analyzers.v[i], strlen(analyzers.v[i]));
        if (svc < 0 || svc >= SL_SVC_ANALYZERS) {
            rc = s_fail(ctx,
                        "%s[%zu]: unknown analyzer '%.64s' (static-analyzer, dynamic-analyzer, "
                        "performance-tester, ai-analyzer)",
                        ap, i, analyzers.v[i]);
            break;
        }
        plan->services[svc] = true;
    }
    sl_strs_clear(&analyzers);
    for (size_t i = 0; i < tools.n && rc == 0; i++) {
        int svc = s_service_of_tool(d, tools.v[i]);
        if (svc < 0) {
            rc = s_fail(ctx, "%s[%zu]: unknown tool '%.64s' (no services/<name>/tools lists it)", p,
                        i, tools.v[i]);
            break;
        }
        if (pr && !allowed[svc]) {
            char names[160] = "";
            for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         allowed[s] && names[0] ? ", " : "", allowed[s] ? sl_service_name(s) : "");
            }
            rc = s_fail(ctx,
                        "%s[%zu]: tool '%.64s' runs on %s, which profile '%s' does not run (its "
                        "analyzers: %s)",
                        p, i, tools.v[i], sl_service_name(svc), pr->name, names);
            break;
        }
        plan->services[svc] = true;
        if ((rc = s_push_tool(&plan->tools[svc], tools.v[i])) < 0) {
            break;
        }
    }
    sl_strs_clear(&tools);
    if (rc < 0) {
        return rc;
    }
    return s_options(ctx, a, path, d->max_concurrent_tasks, &plan->ana_limit, &plan->target_urls,
                     plan);
}

static int s_timeouts(s_ctx_t *ctx, const sl_mp_reader_t *root, sl_plan_t *plan)
{
    static const char *const keys[] = {"task",     "stage", "pipeline", "attempt",
                                       "progress", "queue", NULL};
    sl_mp_reader_t t;
    int rc = s_find(root, "timeouts", &t);
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    if ((rc = s_want_map(ctx, &t, "timeouts")) < 0 ||
        (rc = s_only_keys(ctx, &t, "timeouts", keys)) < 0) {
        return rc;
    }
    int64_t *outs[] = {&plan->timeouts.task_ms,     &plan->timeouts.stage_ms,
                       &plan->timeouts.pipeline_ms, &plan->timeouts.attempt_ms,
                       &plan->timeouts.progress_ms, &plan->timeouts.queue_ms};
    int64_t *esc[] = {&plan->esc_timeouts.task_ms,     &plan->esc_timeouts.stage_ms,
                      &plan->esc_timeouts.pipeline_ms, &plan->esc_timeouts.attempt_ms,
                      &plan->esc_timeouts.progress_ms, &plan->esc_timeouts.queue_ms};
    for (int i = 0; keys[i]; i++) {
        int64_t given = -1;
        if ((rc = s_get_seconds(ctx, &t, keys[i], "timeouts", false, &given)) < 0) {
            return rc;
        }
        /* the request's own timeouts win over its profiles' */
        if (given >= 0) {
            *outs[i] = *esc[i] = given;
        }
    }
    return 0;
}

static int s_retry(s_ctx_t *ctx, const sl_mp_reader_t *root, sl_plan_t *plan)
{
    static const char *const keys[] = {"max_attempts",
                                       "initial",
                                       "coefficient",
                                       "max",
                                       "app_unreachable",
                                       "app_unreachable_retries",
                                       NULL};
    sl_mp_reader_t t;
    int rc = s_find(root, "retry", &t);
    if (rc != 0) {
        return rc < 0 ? rc : 0;
    }
    if ((rc = s_want_map(ctx, &t, "retry")) < 0 || (rc = s_only_keys(ctx, &t, "retry", keys)) < 0) {
        return rc;
    }
    int64_t n = plan->retry.max_attempts;
    if ((rc = s_get_int(ctx, &t, "max_attempts", "retry", 1, SL_CONFIG_MAX_ATTEMPTS, &n, NULL)) <
        0) {
        return rc;
    }
    plan->retry.max_attempts = (uint32_t)n;
    if ((rc = s_get_seconds(ctx, &t, "initial", "retry", true, &plan->retry.initial_ms)) < 0 ||
        (rc = s_get_seconds(ctx, &t, "max", "retry", true, &plan->retry.max_ms)) < 0 ||
        (rc = s_get_seconds(ctx, &t, "app_unreachable", "retry", true,
                            &plan->retry.unreachable_ms)) < 0) {
        return rc;
    }
    n = plan->retry.unreachable_retries;
    if ((rc = s_get_int(ctx, &t, "app_unreachable_retries", "retry", 0,
                        SL_CONFIG_MAX_UNREACHABLE_RETRIES, &n, NULL)) < 0) {
        return rc;
    }
    plan->retry.unreachable_retries = (uint32_t)n;
    sl_mp_reader_t c;
    rc = s_find(&t, "coefficient", &c);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        double co;
        int ty = sl_mp_peek(&c);
        if ((ty != SL_MP_INT && ty != SL_MP_DOUBLE) || sl_mp_read_double(&c, &co) < 0 ||
            isnan(co) || co < 1.0 || co > SL_CONFIG_MAX_BACKOFF_COEFFICIENT) {
            return s_fail(ctx, "retry.coefficient: must be a number from 1 to %d",
                          SL_CONFIG_MAX_BACKOFF_COEFFICIENT);
        }
        plan->retry.coefficient = co;
    }
    if (plan->retry.max_ms < plan->retry.initial_ms) {
        return s_fail(ctx, "retry.max: must not be below retry.initial");
    }
    return 0;
}

static int s_check_ports(s_ctx_t *ctx, const sl_plan_t *plan, const char *prefix)
{
    char p[192];
    snprintf(p, sizeof(p), "%sanalysis.options.target_urls", prefix);
    if (!plan->existing) {
        return s_ports_known(ctx, &plan->target_urls, p, 0, 0);
    }
    for (size_t i = 0; i < plan->napps; i++) {
        const sl_plan_app_t *app = &plan->apps[i];
        int rc;
        if (app->target_urls.n) {
            char ap[192];
            snprintf(ap, sizeof(ap), "%sgeneration.existing_apps[%zu].target_urls", prefix, i);
            rc = s_ports_known(ctx, &app->target_urls, ap, app->backend_port, app->frontend_port);
        } else {
            rc = s_ports_known(ctx, &plan->target_urls, p, app->backend_port, app->frontend_port);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int sl_plan_parse(const uint8_t *buf, size_t len, const sl_plan_defaults_t *defaults,
                  sl_plan_t **out, char *err, size_t errlen)
{
    s_ctx_t ctx = {err, errlen};
    sl_plan_defaults_t builtin;
    int rc;
    *out = NULL;
    if (err && errlen) {
        err[0] = '\0';
    }
    if (!defaults) {
        sl_plan_defaults_init(&builtin);
        defaults = &builtin;
    }
    rc = sl_mp_validate(buf, len);
    if (rc < 0) {
        s_fail(&ctx, "request: not one msgpack object (%s)", sl_err_name(rc));
        return rc;
    }
    sl_mp_reader_t root;
    sl_mp_reader_init(&root, buf, len);
    if (sl_mp_peek(&root) != SL_MP_MAP) {
        return s_fail(&ctx, "request: must be a map");
    }
    sl_plan_t *plan = calloc(1, sizeof(*plan));
    if (!plan) {
        return SL_ENOMEM;
    }
    plan->timeouts = defaults->timeouts;
    plan->esc_timeouts = defaults->timeouts;
    plan->retry = defaults->retry;

    sl_mp_reader_t v, sect = root;
    const char *prefix = "";
    rc = s_find(&root, "name", &v);
    if (rc == 0) {
        rc = sl_mp_peek(&v) == SL_MP_STR ? sl_mp_read_strdup(&v, MAX_NAME, &plan->name) : SL_EPROTO;
        if (rc < 0 && rc != SL_ENOMEM) {
            rc = s_fail(&ctx, "name: must be a string of at most %d bytes", MAX_NAME);
        }
    } else if (rc == 1) {
        rc = 0;
    }
    if (rc < 0) {
        goto fail;
    }
    if (!plan->name && !(plan->name = strdup(""))) {
        rc = SL_ENOMEM;
        goto fail;
    }
    rc = s_find(&root, "config", &v);
    if (rc < 0) {
        goto fail;
    }
    if (rc == 0) {
        if ((rc = s_want_map(&ctx, &v, "config")) < 0) {
            goto fail;
        }
        sect = v;
        prefix = "config.";
    }
    char p[64];
    snprintf(p, sizeof(p), "%sgeneration", prefix);
    rc = s_find(&sect, "generation", &v);
    if (rc < 0) {
        goto fail;
    }
    if (rc == 1 && !prefix[0]) {
        /* Neither shape: name the request's own container, not a field of
           the seed's shape the user may never have heard of. */
        rc = s_fail(&ctx, "config: required: a pipeline.start carries config: {generation: "
                          "{mode, models, templates | existing_apps}, analysis?} (or the "
                          "same generation and analysis at the top level)");
        goto fail;
    }
    if (rc == 1) {
        rc = s_fail(&ctx, "%s: required", p);
        goto fail;
    }
    if ((rc = s_generation(&ctx, &v, p, defaults, plan)) < 0) {
        goto fail;
    }
    snprintf(p, sizeof(p), "%sanalysis", prefix);
    rc = s_find(&sect, "analysis", &v);
    if (rc < 0) {
        goto fail;
    }
    plan->ana_limit = defaults->max_concurrent_tasks;
    if (rc == 0 && (rc = s_analysis(&ctx, &v, p, defaults, plan)) < 0) {
        goto fail;
    }
    if ((rc = s_timeouts(&ctx, &root, plan)) < 0 || (rc = s_retry(&ctx, &root, plan)) < 0) {
        goto fail;
    }
    if ((rc = s_check_ports(&ctx, plan, prefix)) < 0) {
        goto fail;
    }
    if (plan->escalate && !plan->analysis) {
        rc = s_fail(&ctx, "%sanalysis.escalate: analysis is disabled", prefix);
        goto fail;
    }
    if (plan->existing && !plan->analysis) {
        rc = s_fail(&ctx,
                    "%sanalysis.enabled: existing mode with analysis disabled has "
                    "nothing to do",
                    prefix);
        goto fail;
    }
    if (sl_plan_task_bound(plan) > defaults->max_tasks) {
        rc = s_fail(&ctx, "%sgeneration: %llu tasks exceed the limit of %u", prefix,
                    (unsigned long long)sl_plan_task_bound(plan), defaults->max_tasks);
        goto fail;
    }
    *out = plan;
    return 0;
fail:
    sl_plan_destroy(&plan);
    return rc;
}

void sl_plan_destroy(sl_plan_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_plan_t *self = *p;
    free(self->name);
    free(self->profile);
    free(self->escalate);
    sl_strs_clear(&self->models);
    sl_strs_clear(&self->templates);
    for (size_t i = 0; i < self->napps; i++) {
        free(self->apps[i].model);
        free(self->apps[i].tmpl);
        sl_strs_clear(&self->apps[i].target_urls);
    }
    free(self->apps);
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        sl_strs_clear(&self->tools[s]);
        sl_strs_clear(&self->esc_tools[s]);
        sl_bytes_clear(&self->options[s]);
    }
    sl_strs_clear(&self->target_urls);
    free(self);
    *p = NULL;
}

uint32_t sl_plan_analyzers(const sl_plan_t *self)
{
    uint32_t n = 0;
    if (!self->analysis) {
        return 0;
    }
    for (int s = 0; s < SL_SVC_ANALYZERS; s++) {
        n += self->services[s] ? 1 : 0;
    }
    return n;
}

uint32_t sl_plan_esc_analyzers(const sl_plan_t *self)
{
    uint32_t n = 0;
    for (int s = 0; self->escalate && self->analysis && s < SL_SVC_ANALYZERS; s++) {
        n += self->esc_services[s] ? 1 : 0;
    }
    return n;
}

uint64_t sl_plan_task_bound(const sl_plan_t *self)
{
    uint64_t per_app = 1 + sl_plan_analyzers(self) + sl_plan_esc_analyzers(self);
    if (self->existing) {
        return (uint64_t)self->napps * (per_app - 1);
    }
    return (uint64_t)self->models.n * self->templates.n * per_app;
}

const sl_plan_app_t *sl_plan_app_find(const sl_plan_t *self, const char *model, int64_t app_number)
{
    for (size_t i = 0; self->existing && model && i < self->napps; i++) {
        if (self->apps[i].app_number == app_number && strcmp(self->apps[i].model, model) == 0) {
            return &self->apps[i];
        }
    }
    return NULL;
}

/* The text a placeholder at s stands for (*used = its length), or NULL. */
static const char *s_placeholder(const char *s, const char *const values[][2], size_t *used)
{
    for (size_t i = 0; values[i][0]; i++) {
        size_t n = strlen(values[i][0]);
        if (values[i][1] && strncmp(s, values[i][0], n) == 0) {
            *used = n;
            return values[i][1];
        }
    }
    return NULL;
}

char *sl_plan_expand_url(const char *tmpl, const char *model, int64_t app_number,
                         int64_t backend_port, int64_t frontend_port)
{
    char app[24], be[24], fe[24];
    snprintf(app, sizeof(app), "%lld", (long long)app_number);
    snprintf(be, sizeof(be), "%lld", (long long)backend_port);
    snprintf(fe, sizeof(fe), "%lld", (long long)frontend_port);
    char *safe = strdup(model);
    if (!safe) {
        return NULL;
    }
    for (char *c = safe; *c; c++) {
        if (*c == '/' || *c == '_' || *c == '.') {
            *c = '-'; /* the fleet's compose project names */
        }
    }
    const char *const values[][2] = {{"{model_safe}", safe},
                                     {"{model}", model},
                                     {"{app}", app},
                                     {"{backend_port}", backend_port > 0 ? be : NULL},
                                     {"{frontend_port}", frontend_port > 0 ? fe : NULL},
                                     {NULL, NULL}};
    /* Two passes: size, then copy. */
    size_t n = 0, used;
    for (const char *s = tmpl; *s;) {
        const char *v = s_placeholder(s, values, &used);
        n += v ? strlen(v) : 1;
        s += v ? used : 1;
    }
    char *out = malloc(n + 1), *o = out;
    for (const char *s = tmpl; out && *s;) {
        const char *v = s_placeholder(s, values, &used);
        if (v) {
            memcpy(o, v, strlen(v));
            o += strlen(v);
            s += used;
        } else {
            *o++ = *s++;
        }
    }
    if (out) {
        *o = '\0';
    }
    free(safe);
    return out;
}
