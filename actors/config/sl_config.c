/*  sl_config.c: defaults, ZPL loading, validation and environment overrides.

    Design notes
    - Every key lives in one of three tables (s_keys for the global sections,
      s_service_keys for each service, s_profile_keys for each scan
      profile), with its range and its default (the only place a default
      is written; what varies by service comes from the services
      declaration, proto/sl_services.def; the three built-in profiles are
      one ZPL text, s_builtin_profiles, loaded through the same checks). Loading, validation,
      the defaults, the --print-config output and the README's key list all
      follow these tables, so a key is added in exactly one place.
    - zconfig parses the text but forgets line numbers, so a small pre-pass
      indexes "section/key" paths to their line; errors name file:line.
    - A load works on a copy of the config and commits it only when every
      key validated, so a bad file changes nothing.
*/
#include "actors/config/sl_config.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/sl_services.h"
#include "runtime/sl_err.h"

typedef enum { K_STR, K_INT, K_BOOL, K_DBL } s_kind_t;

typedef struct {
    const char *section; /* NULL in s_service_keys */
    const char *key;
    s_kind_t kind;
    size_t offset;
    size_t size; /* K_STR: buffer size */
    int64_t min; /* K_INT, K_DBL (as integer bounds) */
    int64_t max;
    int64_t unit; /* K_INT: multiplier from the file's unit to memory (1000 for _s keys) */
    /* The default, written as in a file and applied through the same
       validation; NULL = per service, from proto/sl_services.def. */
    const char *dflt;
} s_key_t;

#define S_STR(sec, k, field, d)                                                                    \
    {                                                                                              \
        sec, k, K_STR, offsetof(sl_config_t, field), sizeof(((sl_config_t *)0)->field), 0, 0, 1, d \
    }
#define S_INT(sec, k, field, lo, hi, u, d)                                                         \
    {                                                                                              \
        sec, k, K_INT, offsetof(sl_config_t, field), 0, lo, hi, u, d                               \
    }
#define S_BOOL(sec, k, field, d)                                                                   \
    {                                                                                              \
        sec, k, K_BOOL, offsetof(sl_config_t, field), 0, 0, 1, 1, d                                \
    }
#define S_DBL(sec, k, field, lo, hi, d)                                                            \
    {                                                                                              \
        sec, k, K_DBL, offsetof(sl_config_t, field), 0, lo, hi, 1, d                               \
    }

/* section, key, field, range, unit, default: the only place a default lives
   (sl_config_builtin() is what embedders, tests and the actors' own
   *_defaults functions start from). */
static const s_key_t s_keys[] = {
    S_STR("sluice", "data_dir", data_dir, "./sluice-data"),
    S_STR("sluice", "log_level", log_level, "info"),
    S_STR("sluice", "log_format", log_format, "text"),
    S_INT("sluice", "shards", shards, 0, 256, 1, "0"),
    S_INT("sluice", "shutdown_grace_ms", shutdown_grace_ms, 0, 3600000, 1, "10000"),
    S_STR("api", "endpoint", api_endpoint, "tcp://127.0.0.1:5570"),
    S_STR("api", "pub", pub_endpoint, "tcp://127.0.0.1:5571"),
    S_INT("api", "max_request_bytes", max_request_bytes, 1024, 256 << 20, 1, "1048576"),
    S_STR("api", "curve_secret_file", curve_secret_file, ""),
    S_STR("api", "curve_clients_dir", curve_clients_dir, ""),
    S_STR("progress", "listen", progress_listen, "ws://127.0.0.1:8765"),
    S_STR("progress", "path", progress_path, ""),
    S_STR("progress", "cert_file", progress_cert_file, ""),
    S_STR("progress", "key_file", progress_key_file, ""),
    S_INT("progress", "max_frame_bytes", progress_max_frame_bytes, 256, 16 << 20, 1, "65536"),
    S_INT("progress", "max_connections_per_s", progress_max_connections_per_s, 1, 1000000, 1,
          "200"),
    S_INT("store", "map_size_mb", map_size_mb, 16, 1 << 20, 1, "8192"),
    S_BOOL("store", "nosync", nosync, "false"),
    S_INT("store", "retention_s", retention_s, 0, INT64_C(10) * 365 * 86400, 1, "604800"),
    S_INT("store", "events_max", events_max, 0, INT64_C(1) << 40, 1, "0"),
    S_INT("pipeline", "task_timeout_s", task_timeout_ms, 1, 30 * 86400, 1000, "3600"),
    S_INT("pipeline", "stage_timeout_s", stage_timeout_ms, 1, 30 * 86400, 1000, "1800"),
    S_INT("pipeline", "pipeline_timeout_s", pipeline_timeout_ms, 1, 30 * 86400, 1000, "7200"),
    S_INT("pipeline", "max_attempts", max_attempts, 1, SL_CONFIG_MAX_ATTEMPTS, 1, "3"),
    S_INT("pipeline", "backoff_initial_ms", backoff_initial_ms, 0, 3600000, 1, "2000"),
    S_DBL("pipeline", "backoff_coefficient", backoff_coefficient, 1,
          SL_CONFIG_MAX_BACKOFF_COEFFICIENT, "2"),
    S_INT("pipeline", "backoff_max_ms", backoff_max_ms, 0, 86400000, 1, "60000"),
    S_INT("pipeline", "app_unreachable_retry_s", app_unreachable_retry_ms, 0, 86400, 1000, "30"),
    S_INT("pipeline", "app_unreachable_retries", app_unreachable_retries, 0,
          SL_CONFIG_MAX_UNREACHABLE_RETRIES, 1, "2"),
    S_INT("pipeline", "evict_after_s", evict_after_ms, 0, INT64_C(10) * 365 * 86400, 1000, "3600"),
    S_INT("pipeline", "max_concurrent_tasks", max_concurrent_tasks, 1,
          SL_CONFIG_MAX_CONCURRENT_TASKS, 1, "64"),
    S_INT("watchdog", "stuck_after_s", stuck_after_ms, 1, 86400, 1000, "60"),
    S_INT("watchdog", "ping_interval_ms", ping_interval_ms, 10, 3600000, 1, "2000"),
    S_INT("watchdog", "ping_late_ms", ping_late_ms, 10, 3600000, 1, "1000"),
    S_INT("watchdog", "hard_limit_s", hard_limit_ms, 1, 86400, 1000, "30"),
};

#define V_STR(k, field, d)                                                                         \
    {                                                                                              \
        NULL, k, K_STR, offsetof(sl_service_conf_t, field),                                        \
            sizeof(((sl_service_conf_t *)0)->field), 0, 0, 1, d                                    \
    }
#define V_INT(k, field, lo, hi, u, d)                                                              \
    {                                                                                              \
        NULL, k, K_INT, offsetof(sl_service_conf_t, field), 0, lo, hi, u, d                        \
    }

/* "urls" is handled apart: it is a list (default: the declaration's ports). */
static const s_key_t s_service_keys[] = {
    V_STR("protocol", protocol, "legacy"),
    V_STR("ca_file", ca_file, ""),
    V_STR("tools", tools, NULL),
    V_INT("connect_timeout_ms", connect_timeout_ms, 1, 3600000, 1, "10000"),
    V_INT("ping_interval_ms", ping_interval_ms, 10, 3600000, 1, "20000"),
    V_INT("pong_timeout_ms", pong_timeout_ms, 10, 3600000, 1, "10000"),
    V_INT("queue_timeout_s", queue_timeout_ms, 1, 86400, 1000, "300"),
    V_INT("progress_timeout_s", progress_timeout_ms, 0, 86400, 1000, NULL),
    V_INT("heartbeat_timeout_s", heartbeat_timeout_ms, 0, 86400, 1000, "120"),
    V_INT("liveness_grace_s", liveness_grace_ms, 0, 86400, 1000, "90"),
    V_INT("attempt_timeout_s", attempt_timeout_ms, 1, 7 * 86400, 1000, NULL),
    V_INT("max_in_flight", max_in_flight, 1, 100000, 1, NULL),
    V_INT("queue_max", queue_max, 0, 10000000, 1, "1000"),
    V_INT("failure_threshold", failure_threshold, 1, 1000, 1, "3"),
    V_INT("failure_rate_pct", failure_rate_pct, 1, 100, 1, "50"),
    V_INT("window", window, 1, 1000, 1, "10"),
    V_INT("open_for_s", open_for_ms, 1, 86400, 1000, "30"),
    V_INT("open_max_s", open_max_ms, 1, 86400, 1000, "300"),
    V_INT("half_open_max_s", half_open_max_ms, 1, 86400, 1000, "60"),
    V_INT("progress_per_sec", progress_per_sec, 1, 1000, 1, "2"),
};

#define P_STR(k, field)                                                                            \
    {                                                                                              \
        NULL, k, K_STR, offsetof(sl_profile_conf_t, field),                                        \
            sizeof(((sl_profile_conf_t *)0)->field), 0, 0, 1, ""                                   \
    }
#define P_INT(k, field)                                                                            \
    {                                                                                              \
        NULL, k, K_INT, offsetof(sl_profile_conf_t, field), 0, 0, 7 * 86400, 1000, "0"             \
    }

/* Each profile's keys, with a user-defined profile's defaults (nothing
   chosen, every timeout the service's or the pipeline's). */
static const s_key_t s_profile_keys[] = {
    P_STR("analyzers", analyzers),
    P_STR("tools", tools),
    P_INT("attempt_timeout_s", attempt_timeout_ms),
    P_INT("progress_timeout_s", progress_timeout_ms),
    P_INT("task_timeout_s", task_timeout_ms),
};

/* The built-in profiles, the incident report's three scans, loaded at
   start through the same validation as a file (README, "Scan profiles"):
   quick (~30 s): basic security and linting of the code; standard
   (~2 min): more of the code's tools plus a short load test; deep
   (~10 min): every analyzer with all its tools, ZAP included. */
static const char s_builtin_profiles[] =
    "profiles\n"
    "    quick\n"
    "        tools = \"bandit,detect-secrets,pylint,ruff,eslint\"\n"
    "        attempt_timeout_s = 60\n"
    "        progress_timeout_s = 60\n"
    "        task_timeout_s = 180\n"
    "    standard\n"
    "        tools = "
    "\"bandit,detect-secrets,pylint,ruff,eslint,semgrep,safety,npm-audit,ab,aiohttp\"\n"
    "        attempt_timeout_s = 180\n"
    "        progress_timeout_s = 120\n"
    "        task_timeout_s = 600\n"
    "    deep\n"
    "        analyzers = \"static-analyzer,dynamic-analyzer,performance-tester,ai-analyzer\"\n"
    "        attempt_timeout_s = 900\n"
    "        progress_timeout_s = 600\n"
    "        task_timeout_s = 3600\n";

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void s_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

sl_service_conf_t *sl_config_service(sl_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (strcmp(cfg->services[i].name, name) == 0) {
            return &cfg->services[i];
        }
    }
    return NULL;
}

/* ---- line index ---------------------------------------------------------- */

#define S_MAX_LINES 4096

typedef struct {
    char path[S_MAX_LINES][160];
    int line[S_MAX_LINES];
    size_t n;
    int bad_line; /* first line the pre-pass could not read, or 0 */
    char bad_why[96];
} s_index_t;

/* Records "a/b/c" -> line for every named line, and the first line whose
   indentation or shape is not ZPL. */
static void s_index_build(s_index_t *ix, const char *text)
{
    char stack[8][64] = {{0}};
    int lineno = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        size_t spaces = 0;
        while (spaces < len && p[spaces] == ' ') {
            spaces++;
        }
        const char *body = p + spaces;
        size_t blen = len - spaces;
        bool blank = blen == 0 || body[0] == '#' || body[0] == '\r';
        if (!blank && (memchr(p, '\t', len) != NULL || spaces % 4 != 0) && !ix->bad_line) {
            ix->bad_line = lineno;
            snprintf(ix->bad_why, sizeof(ix->bad_why), "indent with multiples of 4 spaces");
        }
        if (!blank && spaces % 4 == 0) {
            size_t depth = spaces / 4;
            size_t nlen = 0;
            while (nlen < blen && body[nlen] != ' ' && body[nlen] != '=' && body[nlen] != '\r') {
                nlen++;
            }
            if (depth < 8 && nlen > 0 && nlen < 64) {
                memcpy(stack[depth], body, nlen);
                stack[depth][nlen] = '\0';
                if (ix->n < S_MAX_LINES) {
                    char *out = ix->path[ix->n];
                    out[0] = '\0';
                    for (size_t d = 0; d <= depth; d++) {
                        if (d) {
                            strncat(out, "/", 159 - strlen(out));
                        }
                        strncat(out, stack[d], 159 - strlen(out));
                    }
                    ix->line[ix->n++] = lineno;
                }
            } else if (!ix->bad_line) {
                ix->bad_line = lineno;
                snprintf(ix->bad_why, sizeof(ix->bad_why), "nested too deep or name too long");
            }
        }
        p = eol ? eol + 1 : p + len;
    }
}

static int s_index_line(const s_index_t *ix, const char *path)
{
    for (size_t i = 0; ix && i < ix->n; i++) {
        if (strcmp(ix->path[i], path) == 0) {
            return ix->line[i];
        }
    }
    return 0;
}

/* ---- values ------------------------------------------------------------- */

typedef struct {
    const char *name;
    const s_index_t *ix;
    char *err;
    size_t errlen;
    bool part; /* sl_config_load_part: skip the rules across keys */
} s_ctx_t;

static int s_fail(s_ctx_t *ctx, const char *path, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (ctx->err && ctx->errlen) {
        snprintf(ctx->err, ctx->errlen, "%s:%d: %s: %s", ctx->name, s_index_line(ctx->ix, path),
                 path, why);
    }
    return SL_ECONFIG;
}

static int s_set(s_ctx_t *ctx, const s_key_t *key, void *base, const char *path, const char *value)
{
    char *field = (char *)base + key->offset;
    switch (key->kind) {
    case K_STR:
        if (strlen(value) >= key->size) {
            return s_fail(ctx, path, "value longer than %zu bytes", key->size - 1);
        }
        s_copy(field, key->size, value);
        return 0;
    case K_BOOL:
        if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes")) {
            *(bool *)field = true;
        } else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no")) {
            *(bool *)field = false;
        } else {
            return s_fail(ctx, path, "expected true or false, got '%s'", value);
        }
        return 0;
    case K_INT: {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (*value == '\0' || errno || *end != '\0') {
            return s_fail(ctx, path, "expected a whole number, got '%s'", value);
        }
        if (v < key->min || v > key->max) {
            return s_fail(ctx, path, "%lld is out of range [%lld, %lld]", v, (long long)key->min,
                          (long long)key->max);
        }
        *(int64_t *)field = (int64_t)v * key->unit;
        return 0;
    }
    case K_DBL: {
        char *end = NULL;
        errno = 0;
        double v = strtod(value, &end);
        if (*value == '\0' || errno || *end != '\0' || v != v) {
            return s_fail(ctx, path, "expected a number, got '%s'", value);
        }
        if (v < (double)key->min || v > (double)key->max) {
            return s_fail(ctx, path, "%g is out of range [%lld, %lld]", v, (long long)key->min,
                          (long long)key->max);
        }
        *(double *)field = v;
        return 0;
    }
    }
    return SL_EINVAL;
}

static bool s_url_ok(const char *url)
{
    const char *rest = NULL;
    if (strncmp(url, "ws://", 5) == 0) {
        rest = url + 5;
    } else if (strncmp(url, "wss://", 6) == 0) {
        rest = url + 6;
    } else {
        return false;
    }
    return *rest != '\0' && *rest != '/' && *rest != ':';
}

/* Parses "ws://a:1,ws://b:2" into svc->urls. */
/* services/<name>/tools: comma-separated names of [A-Za-z0-9._-], each
   shorter than SL_CONFIG_TOOL_NAME; "" = none. Stored without spaces. */
static int s_set_tools(s_ctx_t *ctx, char *dst, const char *path, const char *list)
{
    char out[SL_CONFIG_TOOLS] = "";
    size_t used = 0;
    const char *p = list;
    while (*p) {
        p += strspn(p, " ,");
        if (!*p) {
            break;
        }
        size_t len = strcspn(p, ", ");
        if (len >= SL_CONFIG_TOOL_NAME) {
            return s_fail(ctx, path, "tool name longer than %d bytes", SL_CONFIG_TOOL_NAME - 1);
        }
        for (size_t i = 0; i < len; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-')) {
                return s_fail(ctx, path, "'%.*s' is not a tool name (letters, digits, . _ -)",
                              (int)len, p);
            }
        }
        if (used + len + 2 > sizeof(out)) {
            return s_fail(ctx, path, "list longer than %d bytes", SL_CONFIG_TOOLS - 1);
        }
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%.*s", used ? "," : "",
                                 (int)len, p);
        p += len;
    }
    s_copy(dst, SL_CONFIG_TOOLS, out);
    return 0;
}

/* profiles/<name>/analyzers: comma-separated analyzer names or aliases,
   stored as the services' names. */
static int s_set_analyzers(s_ctx_t *ctx, char *dst, size_t size, const char *path, const char *list)
{
    char out[SL_CONFIG_STR] = "";
    size_t used = 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t len = strcspn(p, ", ");
        if (len == 0) {
            break;
        }
        int svc = sl_service_parse_alias(p, len);
        if (svc < 0 || svc >= SL_SVC_ANALYZERS) {
            return s_fail(ctx, path,
                          "'%.*s' is not an analyzer (static-analyzer, dynamic-analyzer, "
                          "performance-tester, ai-analyzer)",
                          (int)(len > 64 ? 64 : len), p);
        }
        if (!strstr(out, sl_service_name(svc))) {
            used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", used ? "," : "",
                                     sl_service_name(svc));
        }
        p += len;
    }
    s_copy(dst, size, out);
    return 0;
}

bool sl_config_tools_have(const char *list, const char *tool, size_t len)
{
    for (const char *p = list ? list : ""; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && len > 0 && strncasecmp(p, tool, len) == 0) {
            return true;
        }
        p += n + (p[n] == ',');
    }
    return false;
}

static int s_set_urls(s_ctx_t *ctx, sl_service_conf_t *svc, const char *path, const char *list)
{
    sl_service_conf_t tmp = *svc;
    tmp.n_urls = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        size_t len = strcspn(p, ", ");
        if (tmp.n_urls == SL_CONFIG_MAX_REPLICAS) {
            return s_fail(ctx, path, "more than %d replicas", SL_CONFIG_MAX_REPLICAS);
        }
        if (len >= SL_CONFIG_STR) {
            return s_fail(ctx, path, "URL longer than %d bytes", SL_CONFIG_STR - 1);
        }
        memcpy(tmp.urls[tmp.n_urls], p, len);
        tmp.urls[tmp.n_urls][len] = '\0';
        if (!s_url_ok(tmp.urls[tmp.n_urls])) {
            return s_fail(ctx, path, "'%s' is not a ws:// or wss:// URL", tmp.urls[tmp.n_urls]);
        }
        tmp.n_urls++;
        p += len;
    }
    if (tmp.n_urls == 0) {
        return s_fail(ctx, path, "needs at least one URL");
    }
    *svc = tmp;
    return 0;
}

/* ---- defaults ------------------------------------------------------------ */

/* Applies the default column of keys to base. A default that does not
   validate is a programmer mistake in the table. */
static void s_apply_defaults(const s_key_t *keys, size_t n, void *base)
{
    s_ctx_t ctx = {"defaults", NULL, NULL, 0, true};
    for (size_t i = 0; i < n; i++) {
        if (keys[i].dflt) {
            int rc = s_set(&ctx, &keys[i], base, keys[i].key, keys[i].dflt);
            assert(rc == 0);
            (void)rc;
        }
    }
}

void sl_config_service_defaults(sl_service_conf_t *svc, const char *name)
{
    memset(svc, 0, sizeof(*svc));
    s_apply_defaults(s_service_keys, S_COUNT(s_service_keys), svc);
    int id = name ? sl_service_parse(name, strlen(name)) : SL_ENOTFOUND;
    if (id < 0) {
        return;
    }
    s_copy(svc->name, sizeof(svc->name), name);
    s_copy(svc->op, sizeof(svc->op), sl_service_op(id));
    svc->max_in_flight = sl_service_max_in_flight(id);
    /* the declaration's list is space-separated, the key's comma-separated */
    s_copy(svc->tools, sizeof(svc->tools), sl_service_tools(id));
    for (char *c = svc->tools; *c; c++) {
        *c = *c == ' ' ? ',' : *c;
    }
    svc->progress_timeout_ms = (int64_t)sl_service_progress_timeout_s(id) * 1000;
    svc->attempt_timeout_ms = (int64_t)sl_service_attempt_timeout_s(id) * 1000;
    const char *ports = sl_service_ports(id);
    while (*ports && svc->n_urls < SL_CONFIG_MAX_REPLICAS) {
        int port = atoi(ports);
        snprintf(svc->urls[svc->n_urls++], SL_CONFIG_STR, "ws://127.0.0.1:%d", port);
        ports += strcspn(ports, " ");
        ports += strspn(ports, " ");
    }
}

static int s_load_tree(s_ctx_t *ctx, sl_config_t *cfg, zconfig_t *root);

static void s_defaults(sl_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    s_apply_defaults(s_keys, S_COUNT(s_keys), cfg);
    for (int i = 0; i < SL_SVC__COUNT && cfg->n_services < SL_CONFIG_MAX_SERVICES; i++) {
        sl_config_service_defaults(&cfg->services[cfg->n_services++], sl_service_name(i));
    }
    char err[256] = "";
    s_ctx_t ctx = {"built-in profiles", NULL, err, sizeof(err), true};
    zconfig_t *root = zconfig_str_load(s_builtin_profiles);
    int rc = root ? s_load_tree(&ctx, cfg, root) : SL_ECONFIG;
    zconfig_destroy(&root);
    assert(rc == 0); /* the table above is ours */
    (void)rc;
}

static sl_config_t s_builtin;
static pthread_once_t s_builtin_once = PTHREAD_ONCE_INIT;

static void s_builtin_init(void)
{
    s_defaults(&s_builtin);
}

const sl_config_t *sl_config_builtin(void)
{
    pthread_once(&s_builtin_once, s_builtin_init);
    return &s_builtin;
}

void sl_config_defaults(sl_config_t *cfg)
{
    *cfg = *sl_config_builtin();
}

static int s_load_service(s_ctx_t *ctx, sl_config_t *cfg, zconfig_t *node)
{
    const char *name = zconfig_name(node);
    char path[160];
    snprintf(path, sizeof(path), "services/%s", name);
    sl_service_conf_t *svc = sl_config_service(cfg, name);
    if (!svc) {
        char known[256] = "";
        for (int i = 0; i < SL_SVC__COUNT; i++) {
            snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s", i ? ", " : "",
                     sl_service_name(i));
        }
        return s_fail(ctx, path, "unknown service (known: %s)", known);
    }
    for (zconfig_t *kv = zconfig_child(node); kv; kv = zconfig_next(kv)) {
        const char *key = zconfig_name(kv);
        const char *value = zconfig_value(kv) ? zconfig_value(kv) : "";
        snprintf(path, sizeof(path), "services/%s/%s", name, key);
        if (zconfig_child(kv)) {
            return s_fail(ctx, path, "is a key, not a section");
        }
        int rc = 0;
        if (strcmp(key, "urls") == 0) {
            rc = s_set_urls(ctx, svc, path, value);
        } else if (strcmp(key, "tools") == 0) {
            rc = s_set_tools(ctx, svc->tools, path, value);
        } else {
            const s_key_t *found = NULL;
            for (size_t i = 0; i < S_COUNT(s_service_keys); i++) {
                if (strcmp(s_service_keys[i].key, key) == 0) {
                    found = &s_service_keys[i];
                }
            }
            if (!found) {
                return s_fail(ctx, path, "unknown key");
            }
            rc = s_set(ctx, found, svc, path, value);
        }
        if (rc) {
            return rc;
        }
    }
    if (strcmp(svc->protocol, "legacy") && strcmp(svc->protocol, "mux")) {
        snprintf(path, sizeof(path), "services/%s/protocol", name);
        return s_fail(ctx, path, "expected legacy or mux, got '%s'", svc->protocol);
    }
    return 0;
}

const sl_profile_conf_t *sl_config_profile(const sl_config_t *cfg, const char *name)
{
    for (size_t i = 0; name && i < cfg->n_profiles; i++) {
        if (strcmp(cfg->profiles[i].name, name) == 0) {
            return &cfg->profiles[i];
        }
    }
    return NULL;
}

/* profiles/<name>: an existing profile's keys are changed, a new name
   starts from the key table's defaults. */
static int s_load_profile(s_ctx_t *ctx, sl_config_t *cfg, zconfig_t *node)
{
    const char *name = zconfig_name(node);
    char path[160];
    snprintf(path, sizeof(path), "profiles/%.64s", name);
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof(cfg->profiles[0].name) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
        return s_fail(ctx, path, "a profile name is 1 to 63 of a-z 0-9 _ -");
    }
    sl_profile_conf_t *pr = (sl_profile_conf_t *)sl_config_profile(cfg, name);
    if (!pr) {
        if (cfg->n_profiles == SL_CONFIG_MAX_PROFILES) {
            return s_fail(ctx, path, "more than %d profiles", SL_CONFIG_MAX_PROFILES);
        }
        pr = &cfg->profiles[cfg->n_profiles++];
        memset(pr, 0, sizeof(*pr));
        s_apply_defaults(s_profile_keys, S_COUNT(s_profile_keys), pr);
        s_copy(pr->name, sizeof(pr->name), name);
    }
    for (zconfig_t *kv = zconfig_child(node); kv; kv = zconfig_next(kv)) {
        const char *key = zconfig_name(kv);
        const char *value = zconfig_value(kv) ? zconfig_value(kv) : "";
        snprintf(path, sizeof(path), "profiles/%s/%s", name, key);
        if (zconfig_child(kv)) {
            return s_fail(ctx, path, "is a key, not a section");
        }
        const s_key_t *found = NULL;
        for (size_t i = 0; i < S_COUNT(s_profile_keys); i++) {
            found = strcmp(s_profile_keys[i].key, key) == 0 ? &s_profile_keys[i] : found;
        }
        int rc = !found                      ? s_fail(ctx, path, "unknown key")
                 : strcmp(key, "tools") == 0 ? s_set_tools(ctx, pr->tools, path, value)
                 : strcmp(key, "analyzers") == 0
                     ? s_set_analyzers(ctx, pr->analyzers, sizeof(pr->analyzers), path, value)
                     : s_set(ctx, found, pr, path, value);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Rules that tie keys together. Returns false when cfg breaks one, with the
   key that is set (so a file's error points at its line) and the problem,
   which names the missing key. */
static bool s_keys_agree(const sl_config_t *cfg, const char **path, const char **why)
{
    if (cfg->curve_secret_file[0] && !cfg->curve_clients_dir[0]) {
        *path = "api/curve_secret_file";
        *why = "needs api/curve_clients_dir too (a directory of the allowed clients' public "
               "certificates)";
        return false;
    }
    if (cfg->curve_clients_dir[0] && !cfg->curve_secret_file[0]) {
        *path = "api/curve_clients_dir";
        *why = "needs api/curve_secret_file too (the server's secret certificate)";
        return false;
    }
    bool wss = strncmp(cfg->progress_listen, "wss://", 6) == 0;
    if (wss && (!cfg->progress_cert_file[0] || !cfg->progress_key_file[0])) {
        *path = "progress/listen";
        *why = "wss:// needs progress/cert_file and progress/key_file";
        return false;
    }
    if (!wss && (cfg->progress_cert_file[0] || cfg->progress_key_file[0])) {
        *path = cfg->progress_cert_file[0] ? "progress/cert_file" : "progress/key_file";
        *why = "needs a wss:// progress/listen (and both of cert_file and key_file)";
        return false;
    }
    if (strchr(cfg->progress_path, '?') || strchr(cfg->progress_path, '#') ||
        strchr(cfg->progress_path, ' ')) {
        *path = "progress/path";
        *why = "no '?', '#' or spaces: the path is compared as sent";
        return false;
    }
    return true;
}

int sl_config_check(const sl_config_t *cfg, char *err, size_t errlen)
{
    const char *path = NULL, *why = NULL;
    if (!s_keys_agree(cfg, &path, &why)) {
        snprintf(err, errlen, "%s: %s", path, why);
        return SL_ECONFIG;
    }
    return 0;
}

static int s_load_tree(s_ctx_t *ctx, sl_config_t *cfg, zconfig_t *root)
{
    for (zconfig_t *sec = zconfig_child(root); sec; sec = zconfig_next(sec)) {
        const char *sname = zconfig_name(sec);
        if (strcmp(sname, "services") == 0) {
            for (zconfig_t *svc = zconfig_child(sec); svc; svc = zconfig_next(svc)) {
                int rc = s_load_service(ctx, cfg, svc);
                if (rc) {
                    return rc;
                }
            }
            continue;
        }
        if (strcmp(sname, "profiles") == 0) {
            for (zconfig_t *pr = zconfig_child(sec); pr; pr = zconfig_next(pr)) {
                int rc = s_load_profile(ctx, cfg, pr);
                if (rc) {
                    return rc;
                }
            }
            continue;
        }
        bool known_section = false;
        for (size_t i = 0; i < S_COUNT(s_keys); i++) {
            known_section |= strcmp(s_keys[i].section, sname) == 0;
        }
        if (!known_section) {
            return s_fail(ctx, sname,
                          "unknown section (known: sluice, api, progress, store, pipeline, "
                          "watchdog, services, profiles)");
        }
        for (zconfig_t *kv = zconfig_child(sec); kv; kv = zconfig_next(kv)) {
            char path[160];
            snprintf(path, sizeof(path), "%s/%s", sname, zconfig_name(kv));
            const s_key_t *found = NULL;
            for (size_t i = 0; i < S_COUNT(s_keys); i++) {
                if (!strcmp(s_keys[i].section, sname) && !strcmp(s_keys[i].key, zconfig_name(kv))) {
                    found = &s_keys[i];
                }
            }
            if (!found) {
                return s_fail(ctx, path, "unknown key");
            }
            if (zconfig_child(kv)) {
                return s_fail(ctx, path, "is a key, not a section");
            }
            int rc = s_set(ctx, found, cfg, path, zconfig_value(kv) ? zconfig_value(kv) : "");
            if (rc) {
                return rc;
            }
        }
    }
    const char *path = NULL, *why = NULL;
    if (!ctx->part && !s_keys_agree(cfg, &path, &why)) {
        return s_fail(ctx, path, "%s", why);
    }
    if (cfg->backoff_max_ms < cfg->backoff_initial_ms) {
        return s_fail(ctx, "pipeline/backoff_max_ms", "must not be below backoff_initial_ms");
    }
    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
        strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error") &&
        strcmp(cfg->log_level, "off")) {
        return s_fail(ctx, "sluice/log_level", "expected debug, info, warn, error or off");
    }
    if (strcmp(cfg->log_format, "text") && strcmp(cfg->log_format, "json")) {
        return s_fail(ctx, "sluice/log_format", "expected text or json, got '%s'", cfg->log_format);
    }
    return 0;
}

static int s_load_str(sl_config_t *cfg, const char *text, const char *name, char *err,
                      size_t errlen, bool part)
{
    s_index_t *ix = calloc(1, sizeof(*ix));
    sl_config_t *work = malloc(sizeof(*work));
    if (!ix || !work) {
        free(ix);
        free(work);
        return SL_ENOMEM;
    }
    s_index_build(ix, text);
    s_ctx_t ctx = {name, ix, err, errlen, part};
    int rc = 0;
    if (ix->bad_line) {
        snprintf(err, errlen, "%s:%d: %s", name, ix->bad_line, ix->bad_why);
        rc = SL_ECONFIG;
        goto done;
    }
    /* zconfig reports its own syntax errors on stderr and returns NULL. */
    zconfig_t *root = zconfig_str_load(text);
    if (!root) {
        snprintf(err, errlen, "%s: not valid ZPL (see the message above)", name);
        rc = SL_ECONFIG;
        goto done;
    }
    *work = *cfg;
    rc = s_load_tree(&ctx, work, root);
    zconfig_destroy(&root);
    if (rc == 0) {
        *cfg = *work;
    }
done:
    free(ix);
    free(work);
    return rc;
}

int sl_config_load_str(sl_config_t *cfg, const char *text, const char *name, char *err,
                       size_t errlen)
{
    return s_load_str(cfg, text, name, err, errlen, false);
}

int sl_config_load_part(sl_config_t *cfg, const char *text, const char *name, char *err,
                        size_t errlen)
{
    return s_load_str(cfg, text, name, err, errlen, true);
}

int sl_config_load(sl_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SL_EIO;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            if (cap > (size_t)4 << 20) {
                fclose(f);
                free(text);
                snprintf(err, errlen, "%s: larger than 4 MiB", path);
                return SL_ECONFIG;
            }
            char *grown = realloc(text, cap);
            if (!grown) {
                fclose(f);
                free(text);
                return SL_ENOMEM;
            }
            text = grown;
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!text) {
        return 0; /* an empty file changes nothing */
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        return SL_ECONFIG;
    }
    int rc = sl_config_load_str(cfg, text, path, err, errlen);
    free(text);
    return rc;
}

int sl_config_apply_env(sl_config_t *cfg, char *err, size_t errlen)
{
    sl_config_t *work = malloc(sizeof(*work));
    s_index_t *ix = calloc(1, sizeof(*ix));
    if (!work || !ix) {
        free(work);
        free(ix);
        return SL_ENOMEM;
    }
    *work = *cfg;
    s_ctx_t ctx = {"environment", ix, err, errlen, false};
    int rc = 0;
    for (int i = 0; i < SL_SVC__COUNT && rc == 0; i++) {
        const char *value = getenv(sl_service_env(i));
        sl_service_conf_t *svc = sl_config_service(work, sl_service_name(i));
        if (value && *value && svc) {
            rc = s_set_urls(&ctx, svc, sl_service_env(i), value);
        }
    }
    if (rc == 0) {
        *cfg = *work;
    }
    free(work);
    free(ix);
    return rc;
}

/* ---- diff ---------------------------------------------------------------- */

static bool s_same(const s_key_t *key, const void *a, const void *b)
{
    const char *fa = (const char *)a + key->offset;
    const char *fb = (const char *)b + key->offset;
    switch (key->kind) {
    case K_STR:
        return strcmp(fa, fb) == 0;
    case K_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case K_INT:
        return *(const int64_t *)fa == *(const int64_t *)fb;
    case K_DBL:
        return *(const double *)fa == *(const double *)fb;
    }
    return false;
}

static bool s_same_urls(const sl_service_conf_t *a, const sl_service_conf_t *b)
{
    if (a->n_urls != b->n_urls) {
        return false;
    }
    for (size_t u = 0; u < a->n_urls; u++) {
        if (strcmp(a->urls[u], b->urls[u])) {
            return false;
        }
    }
    return true;
}

size_t sl_config_diff(const sl_config_t *a, const sl_config_t *b, sl_config_diff_fn *fn, void *arg)
{
    size_t n = 0;
    char path[160];
    for (size_t i = 0; i < S_COUNT(s_keys); i++) {
        if (!s_same(&s_keys[i], a, b)) {
            snprintf(path, sizeof(path), "%s/%s", s_keys[i].section, s_keys[i].key);
            fn(path, arg);
            n++;
        }
    }
    /* both come from the same declaration, so the services line up by name */
    for (size_t s = 0; s < a->n_services; s++) {
        const sl_service_conf_t *sa = &a->services[s];
        const sl_service_conf_t *sb = sl_config_service((sl_config_t *)b, sa->name);
        if (!sb) {
            continue;
        }
        if (!s_same_urls(sa, sb)) {
            snprintf(path, sizeof(path), "services/%s/urls", sa->name);
            fn(path, arg);
            n++;
        }
        for (size_t i = 0; i < S_COUNT(s_service_keys); i++) {
            if (!s_same(&s_service_keys[i], sa, sb)) {
                snprintf(path, sizeof(path), "services/%s/%s", sa->name, s_service_keys[i].key);
                fn(path, arg);
                n++;
            }
        }
    }
    return n;
}

static void s_write_value(FILE *out, const s_key_t *key, const void *base)
{
    const char *field = (const char *)base + key->offset;
    switch (key->kind) {
    case K_STR:
        fprintf(out, "\"%s\"", field);
        break;
    case K_BOOL:
        fprintf(out, "%s", *(const bool *)field ? "true" : "false");
        break;
    case K_INT:
        fprintf(out, "%lld", (long long)(*(const int64_t *)field / key->unit));
        break;
    case K_DBL:
        fprintf(out, "%g", *(const double *)field);
        break;
    }
}

int sl_config_write(const sl_config_t *cfg, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < S_COUNT(s_keys); i++) {
        if (strcmp(section, s_keys[i].section)) {
            section = s_keys[i].section;
            fprintf(out, "%s\n", section);
        }
        fprintf(out, "    %s = ", s_keys[i].key);
        s_write_value(out, &s_keys[i], cfg);
        fprintf(out, "\n");
    }
    fprintf(out, "services\n");
    for (size_t s = 0; s < cfg->n_services; s++) {
        const sl_service_conf_t *svc = &cfg->services[s];
        fprintf(out, "    %s\n        urls = \"", svc->name);
        for (size_t u = 0; u < svc->n_urls; u++) {
            fprintf(out, "%s%s", u ? "," : "", svc->urls[u]);
        }
        fprintf(out, "\"\n");
        for (size_t i = 0; i < S_COUNT(s_service_keys); i++) {
            fprintf(out, "        %s = ", s_service_keys[i].key);
            s_write_value(out, &s_service_keys[i], svc);
            fprintf(out, "\n");
        }
    }
    fprintf(out, "profiles\n");
    for (size_t p = 0; p < cfg->n_profiles; p++) {
        fprintf(out, "    %s\n", cfg->profiles[p].name);
        for (size_t i = 0; i < S_COUNT(s_profile_keys); i++) {
            fprintf(out, "        %s = ", s_profile_keys[i].key);
            s_write_value(out, &s_profile_keys[i], &cfg->profiles[p]);
            fprintf(out, "\n");
        }
    }
    return ferror(out) ? SL_EIO : 0;
}
