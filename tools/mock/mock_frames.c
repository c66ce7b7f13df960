/*  mock_frames.c: builders for the frames the mock fleet sends.

    Pure functions (no state beyond static tables); called on the fleet's
    service thread. Shapes follow tests/data/protocol/: where the captures
    only show the static analyzer, the other services get the same structure
    with their own tool names and stages.
*/
#include "tools/mock/mock_frames.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "runtime/sl_hash.h"

typedef struct {
    const char *name;
    const char *message; /* stage 0: followed by " for MODEL app N" */
} s_stage_t;

static const s_stage_t s_static_stages[] = {
    {"starting", "Starting static analysis"},
    {"scanning_python", "Scanning Python files"},
    {"python_completed", "Python analysis complete"},
    {"scanning_js", "Scanning JavaScript/TypeScript files"},
    {"js_completed", "JS/TS analysis complete (0 findings)"},
    {"scanning_css", "Scanning CSS files"},
    {"scanning_html", "Scanning HTML files"},
    {"analyzing_structure", "Analyzing project structure"},
    {"reporting", "Compiling report"},
    {"completed", "Static analysis completed"},
};
static const s_stage_t s_dynamic_stages[] = {
    {"starting", "Starting dynamic analysis"}, {"checking_targets", "Checking target reachability"},
    {"connectivity", "Testing connectivity"},  {"vulnerability_scan", "Running vulnerability scan"},
    {"reporting", "Compiling report"},         {"completed", "Dynamic analysis completed"},
};
static const s_stage_t s_performance_stages[] = {
    {"starting", "Starting performance test"}, {"checking_targets", "Checking target reachability"},
    {"load_testing", "Running load test"},     {"measuring", "Measuring response times"},
    {"reporting", "Compiling report"},         {"completed", "Performance test completed"},
};
static const s_stage_t s_ai_stages[] = {
    {"starting", "Starting AI analysis"},
    {"collecting_files", "Collecting source files"},
    {"requirements_check", "Checking requirements"},
    {"code_review", "Reviewing code quality"},
    {"reporting", "Compiling report"},
    {"completed", "AI analysis completed"},
};
static const s_stage_t s_generator_stages[] = {
    {"starting", "Starting generation"},
    {"generating_backend", "Generating backend"},
    {"generating_frontend", "Generating frontend"},
    {"writing_files", "Writing files"},
    {"completed", "Generation completed"},
};

#define S_N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* profile=real: each real service's own pushes and when they come, as a
   share (per mille) of the analysis's duration (the fleet's source, README
   "Progress cadence of the real services"). Static pushes only between
   phases, with its two long silent scans (Python tools, then the JS phase);
   dynamic pushes "starting" once and is silent through its ZAP scan;
   performance pushes per tool, never "starting" or "completed"; ai pushes
   around its long LLM call. */
typedef struct {
    const char *name;
    const char *message;
    int permille;
} s_real_stage_t;

static const s_real_stage_t s_static_real[] = {
    {"starting", "Starting static analysis", 0},
    {"scanning_python", "Scanning Python files", 0},
    {"python_completed", "Python analysis complete", 500},
    {"scanning_js", "Scanning JavaScript/TypeScript files", 500},
    {"js_completed", "JS/TS analysis complete (0 findings)", 980},
    {"scanning_css", "Scanning CSS files", 980},
    {"scanning_html", "Scanning HTML files", 990},
    {"analyzing_structure", "Analyzing project structure", 1000},
    {"reporting", "Compiling report", 1000},
    {"completed", "Static analysis completed", 1000},
};
static const s_real_stage_t s_dynamic_real[] = {
    {"starting", "Starting dynamic analysis", 0},
};
static const s_real_stage_t s_performance_real[] = {
    {"checking", "Checking connectivity", 0},
    {"connected", "Connected", 20},
    {"aiohttp_start", "Starting aiohttp load test", 20},
    {"aiohttp_complete", "aiohttp load test complete", 100},
    {"ab_start", "Starting Apache Bench", 100},
    {"ab_complete", "Apache Bench complete", 300},
    {"locust_start", "Starting Locust", 300},
    {"locust_complete", "Locust complete", 650},
    {"artillery_start", "Starting Artillery", 650},
    {"artillery_complete", "Artillery complete", 1000},
};
static const s_real_stage_t s_ai_real[] = {
    {"starting", "Starting AI analysis", 0},
    {"reading_code", "Reading source code", 20},
    {"analyzing_quality", "Analyzing code quality", 50},
    {"completed", "AI analysis completed", 1000},
};

static const s_real_stage_t *s_real_stages(sl_service_t svc, int *count)
{
    switch (svc) {
    case SL_SVC_STATIC:
        *count = S_N(s_static_real);
        return s_static_real;
    case SL_SVC_DYNAMIC:
        *count = S_N(s_dynamic_real);
        return s_dynamic_real;
    case SL_SVC_PERFORMANCE:
        *count = S_N(s_performance_real);
        return s_performance_real;
    case SL_SVC_AI:
        *count = S_N(s_ai_real);
        return s_ai_real;
    default:
        *count = 0;
        return NULL;
    }
}

int sl_mock_real_stage_count(sl_service_t svc)
{
    int n;
    s_real_stages(svc, &n);
    return n;
}

int sl_mock_real_stage_permille(sl_service_t svc, int i)
{
    int n;
    const s_real_stage_t *st = s_real_stages(svc, &n);
    return i >= 0 && i < n ? st[i].permille : 1000;
}

const char *sl_mock_real_stage_name(sl_service_t svc, int i)
{
    int n;
    const s_real_stage_t *st = s_real_stages(svc, &n);
    return i >= 0 && i < n ? st[i].name : "?";
}

static const s_stage_t *s_stages(sl_service_t svc, int *count)
{
    switch (svc) {
    case SL_SVC_STATIC:
        *count = S_N(s_static_stages);
        return s_static_stages;
    case SL_SVC_DYNAMIC:
        *count = S_N(s_dynamic_stages);
        return s_dynamic_stages;
    case SL_SVC_PERFORMANCE:
        *count = S_N(s_performance_stages);
        return s_performance_stages;
    case SL_SVC_AI:
        *count = S_N(s_ai_stages);
        return s_ai_stages;
    default:
        *count = S_N(s_generator_stages);
        return s_generator_stages;
    }
}

int sl_mock_stage_count(sl_service_t svc)
{
    int n;
    s_stages(svc, &n);
    return n;
}

/* Stage *i of svc, with *i clamped to the stages svc has. */
static const s_stage_t *s_stage_at(sl_service_t svc, int *i)
{
    int n;
    const s_stage_t *st = s_stages(svc, &n);
    if (*i < 0) {
        *i = 0;
    }
    if (*i >= n) {
        *i = n - 1;
    }
    return &st[*i];
}

const char *sl_mock_stage_name(sl_service_t svc, int i)
{
    return s_stage_at(svc, &i)->name;
}

int sl_mock_stage_find(sl_service_t svc, const char *name)
{
    int n;
    const s_stage_t *st = s_stages(svc, &n);
    for (int i = 0; name && i < n; i++) {
        if (strcmp(st[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

int sl_mock_real_stage_find(sl_service_t svc, const char *name)
{
    int n;
    const s_real_stage_t *st = s_real_stages(svc, &n);
    for (int i = 0; name && i < n; i++) {
        if (strcmp(st[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *sl_mock_request_type(sl_service_t svc)
{
    return sl_service_op(svc) ? sl_service_op(svc) : "generate";
}

void sl_mock_iso_now(char *buf, size_t size)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%06ld", base, (long)tv.tv_usec);
}

/* Python's json.dumps defaults: ", " / ": " separators, ASCII escapes. */
static char *s_dump(json_t *obj)
{
    if (!obj) {
        return NULL;
    }
    char *s = json_dumps(obj, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(15));
    json_decref(obj);
    return s;
}

/* json_object_set_new that tolerates a NULL value (OOM): the frame is then
   dropped by s_dump's caller seeing NULL from a later step, or sent without
   the key; both are acceptable for a mock under memory pressure. */
static void s_set(json_t *obj, const char *key, json_t *value)
{
    if (obj && value) {
        json_object_set_new(obj, key, value);
    } else {
        json_decref(value);
    }
}

static void s_set_ts(json_t *obj)
{
    char ts[32];
    sl_mock_iso_now(ts, sizeof ts);
    s_set(obj, "timestamp", json_string(ts));
}

static const char *s_svc(int svc)
{
    return sl_service_name((sl_service_t)svc);
}

static char *s_stage_message(sl_service_t svc, int i, const char *model, int64_t app, int issues)
{
    const s_stage_t *st = s_stage_at(svc, &i);
    char buf[512];
    if (i == 0) {
        snprintf(buf, sizeof buf, "%s for %s app %lld", st->message, model ? model : "",
                 (long long)app);
    } else if (svc == SL_SVC_STATIC && strcmp(st->name, "python_completed") == 0) {
        snprintf(buf, sizeof buf, "%s (%d findings)", st->message, issues);
    } else {
        snprintf(buf, sizeof buf, "%s", st->message);
    }
    return strdup(buf);
}

char *sl_mock_frame_pong(sl_service_t svc, const char *id)
{
    json_t *o = json_object();
    s_set(o, "type", json_string("pong"));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    s_set_ts(o);
    s_set(o, "service", json_string(s_svc(svc)));
    return s_dump(o);
}

char *sl_mock_frame_health(sl_service_t svc, const char *id, double uptime,
                           const sl_mock_tools_t *tools)
{
    sl_mock_tools_t have;
    sl_mock_tools_effective(svc, tools, &have);
    json_t *o = json_object();
    s_set(o, "type", json_string("health_response"));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    s_set(o, "status", json_string("healthy"));
    s_set(o, "service", json_string(s_svc(svc)));
    s_set(o, "version", json_string("1.0.0"));
    s_set(o, "uptime", json_real((double)(int64_t)(uptime * 1e6) / 1e6));
    json_t *list = json_array();
    for (int i = 0; list && i < have.n; i++) {
        json_array_append_new(list, json_string(have.v[i]));
    }
    s_set(o, "available_tools", list);
    s_set_ts(o);
    return s_dump(o);
}

char *sl_mock_frame_error(const char *id, const char *message, int svc)
{
    json_t *o = json_object();
    s_set(o, "type", json_string("error"));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    s_set(o, "message", json_string(message));
    if (svc >= 0) {
        s_set(o, "service", json_string(s_svc(svc)));
    }
    return s_dump(o);
}

char *sl_mock_frame_status_update(sl_service_t svc, const char *analysis_id, const char *model,
                                  int64_t app)
{
    char *msg = s_stage_message(svc, 0, model, app, 0);
    json_t *o = json_object();
    s_set(o, "type", json_string("status_update"));
    s_set(o, "stage", json_string("started"));
    s_set(o, "message", msg ? json_string(msg) : NULL);
    s_set(o, "analysis_id", json_string(analysis_id));
    free(msg);
    return s_dump(o);
}

char *sl_mock_frame_progress_update(sl_service_t svc, const char *correlation_id, int i,
                                    const char *model, int64_t app, int issues)
{
    int n = sl_mock_stage_count(svc);
    const char *stage = sl_mock_stage_name(svc, i);
    char *msg = s_stage_message(svc, i, model, app, issues);
    json_t *o = json_object();
    s_set(o, "type", json_string("progress_update"));
    s_set(o, "correlation_id", json_string(correlation_id ? correlation_id : ""));
    s_set(o, "stage", json_string(stage));
    s_set(o, "message", msg ? json_string(msg) : NULL);
    s_set(o, "service", json_string(s_svc(svc)));
    json_t *data = json_object();
    s_set(data, "stage", json_string(stage));
    s_set(data, "message", msg ? json_string(msg) : NULL);
    if (i <= 0) {
        s_set(data, "model_slug", json_string(model ? model : ""));
        s_set(data, "app_number", json_integer(app));
    } else if (i >= n - 1) {
        s_set(data, "total_issues", json_integer(issues));
    } else if (i == n - 2) {
        s_set(data, "total_issues", json_integer(issues));
        s_set(data, "tools_run", json_integer(2));
    }
    s_set(o, "data", data);
    s_set_ts(o);
    free(msg);
    return s_dump(o);
}

char *sl_mock_frame_real_progress(sl_service_t svc, const char *correlation_id, int i,
                                  const char *model, int64_t app, int issues, const char *url)
{
    int n;
    const s_real_stage_t *st = s_real_stages(svc, &n);
    if (i < 0 || i >= n) {
        return NULL;
    }
    char msg[512];
    bool first = i == 0 && strcmp(st[i].name, "starting") == 0;
    /* The performance service checks each URL it tests, and says which. */
    const char *checked = url ? url : "http://localhost:5000";
    if (first) {
        snprintf(msg, sizeof msg, "%s for %s app %lld", st[i].message, model ? model : "",
                 (long long)app);
    } else if (svc == SL_SVC_PERFORMANCE && i == 0) {
        snprintf(msg, sizeof msg, "%s: %s", st[i].message, checked);
    } else {
        snprintf(msg, sizeof msg, "%s", st[i].message);
    }
    json_t *o = json_object();
    s_set(o, "type", json_string("progress_update"));
    s_set(o, "correlation_id", json_string(correlation_id ? correlation_id : ""));
    s_set(o, "stage", json_string(st[i].name));
    s_set(o, "message", json_string(msg));
    s_set(o, "service", json_string(s_svc(svc)));
    json_t *data = json_object();
    s_set(data, "stage", json_string(st[i].name));
    s_set(data, "message", json_string(msg));
    /* Only static and dynamic name the app, and only in their first push;
       performance names the URL; ai nothing. */
    if (first && (svc == SL_SVC_STATIC || svc == SL_SVC_DYNAMIC)) {
        s_set(data, "model_slug", json_string(model ? model : ""));
        s_set(data, "app_number", json_integer(app));
    } else if (svc == SL_SVC_PERFORMANCE && i == 0) {
        s_set(data, "url", json_string(checked));
    } else if (strcmp(st[i].name, "python_completed") == 0 ||
               strcmp(st[i].name, "js_completed") == 0) {
        s_set(data, "issues_found", json_integer(issues));
    } else if (svc == SL_SVC_STATIC && strcmp(st[i].name, "completed") == 0) {
        s_set(data, "total_issues", json_integer(issues));
    }
    s_set(o, "data", data);
    s_set_ts(o);
    return s_dump(o);
}

char *sl_mock_frame_progress(sl_service_t svc, const char *id, int i, double pct, const char *model,
                             int64_t app, int issues)
{
    char *msg = s_stage_message(svc, i, model, app, 0);
    json_t *o = json_object();
    s_set(o, "type", json_string("progress"));
    s_set(o, "id", json_string(id));
    s_set(o, "stage", json_string(sl_mock_stage_name(svc, i)));
    s_set(o, "pct", json_real((double)(int)(pct * 10.0) / 10.0));
    s_set(o, "message", msg ? json_string(msg) : NULL);
    /* An opaque resume point, so clients can record the last checkpoint. */
    char checkpoint[64];
    snprintf(checkpoint, sizeof checkpoint, "%s:%d", sl_mock_stage_name(svc, i), i);
    s_set(o, "checkpoint", json_string(checkpoint));
    if (issues >= 0) {
        /* The result so far: the stages done and the issues they found. */
        json_t *partial = json_object();
        s_set(partial, "stages_done", json_integer(i + 1));
        s_set(partial, "last_stage", json_string(sl_mock_stage_name(svc, i)));
        s_set(partial, "issues_so_far",
              json_integer((json_int_t)issues * (i + 1) / sl_mock_stage_count(svc)));
        s_set(o, "partial", partial);
    }
    free(msg);
    return s_dump(o);
}

char *sl_mock_frame_simple(const char *type, const char *id)
{
    json_t *o = json_object();
    s_set(o, "type", json_string(type));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    return s_dump(o);
}

/* Deterministic issue count from the app, so repeated runs compare. */
static int s_issues(const char *model, int64_t app, int salt)
{
    uint32_t h = sl_hash_str(model ? model : "");
    h = (h ^ (uint32_t)app) * SL_HASH_FNV32_PRIME;
    h = (h ^ (uint32_t)salt) * SL_HASH_FNV32_PRIME;
    return (int)(h % 7);
}

static json_t *s_tool_entry(const char *tool, int issues)
{
    json_t *t = json_object();
    s_set(t, "tool", json_string(tool));
    s_set(t, "executed", json_true());
    s_set(t, "status", json_string("success"));
    s_set(t, "issues", json_array());
    s_set(t, "total_issues", json_integer(issues));
    s_set(t, "issue_count", json_integer(issues));
    return t;
}

static json_t *s_no_files(const char *what)
{
    char buf[64];
    snprintf(buf, sizeof buf, "No %s files found", what);
    json_t *o = json_object();
    s_set(o, "status", json_string("no_files"));
    s_set(o, "message", json_string(buf));
    return o;
}

/* The name a service runs a requested tool under (the performance and ai
   services map the fleet's other names, as theirs do), or NULL when the
   replica lacks it. The dynamic service's curl-endpoint-tester needs curl. */
static const char *s_run_name(sl_service_t svc, const char *asked, const sl_mock_tools_t *have,
                              char *buf, size_t size)
{
    static const char *const alias[][3] = {
        {"performance", "ab-load-test", "ab"},
        {"performance", "locust-performance", "locust"},
        {"performance", "aiohttp-load", "aiohttp"},
        {"performance", "artillery-load", "artillery"},
        {"ai", "requirements-checker", "requirements-scanner"},
    };
    size_t n = strlen(asked);
    buf[0] = '\0';
    if (n >= size) {
        return NULL;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = asked[i];
        buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); /* the services lowercase */
    }
    const char *kind = svc == SL_SVC_PERFORMANCE ? "performance" : svc == SL_SVC_AI ? "ai" : "";
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++) {
        if (strcmp(kind, alias[i][0]) == 0 && strcmp(buf, alias[i][1]) == 0) {
            snprintf(buf, size, "%s", alias[i][2]);
        }
    }
    const char *need = buf;
    if (svc == SL_SVC_DYNAMIC && strcmp(buf, "curl-endpoint-tester") == 0) {
        need = "curl";
    }
    for (int i = 0; i < have->n; i++) {
        if (strcmp(have->v[i], need) == 0) {
            return buf;
        }
    }
    return NULL;
}

static bool s_listed(const json_t *list, const char *name)
{
    size_t k;
    json_t *v;
    json_array_foreach(list, k, v)
    {
        if (strcmp(json_string_value(v), name) == 0) {
            return true;
        }
    }
    return false;
}

/* The result frame; analysis_time / timestamp NULL = now. */
static char *s_result(sl_service_t svc, const char *id, const char *model, int64_t app,
                      const json_t *tools, int verdict, const char *analysis_time,
                      const char *timestamp, const sl_mock_result_opts_t *opts)
{
    sl_mock_tools_t have;
    sl_mock_tools_effective(svc, opts ? opts->available : NULL, &have);
    bool partial = opts && opts->partial;
    json_t *o = json_object();
    s_set(o, "type", json_string(sl_service_result_type(svc)));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    s_set(o, "status", json_string("success"));
    s_set(o, "service", json_string(s_svc(svc)));
    json_t *a = json_object();
    if (verdict) {
        char buf[512];
        snprintf(buf, sizeof buf,
                 "Model path not found for %s app%lld (checked flat and template structures)",
                 model ? model : "", (long long)app);
        s_set(a, "status", json_string("error"));
        s_set(a, "error", json_string(buf));
        s_set(o, "analysis", a);
        s_set_ts(o);
        return s_dump(o);
    }
    /* What runs: the requested tools the replica has, or all it has; the
       requested ones it lacks are "missing" (the real services skip them). */
    json_t *used = json_array();
    json_t *missing = json_array();
    bool asked = tools && json_is_array(tools) && json_array_size(tools) > 0;
    if (asked) {
        size_t k;
        json_t *v;
        json_array_foreach(tools, k, v)
        {
            char name[SL_MOCK_TOOL_NAME];
            if (!json_is_string(v)) {
                continue;
            }
            const char *run = s_run_name(svc, json_string_value(v), &have, name, sizeof name);
            if (!name[0]) {
                continue;
            }
            json_t *into = run ? used : missing;
            if (!s_listed(into, name)) {
                json_array_append_new(into, json_string(name));
            }
        }
    } else {
        for (int i = 0; i < have.n; i++) {
            json_array_append_new(used, json_string(have.v[i]));
        }
    }
    bool none = asked && json_array_size(used) == 0;
    if (opts && opts->unreachable) {
        /* what the dynamic and performance services answer when no URL
           they were given (or made up) answers */
        s_set(o, "status", json_string("targets_unreachable"));
        s_set(a, "status", json_string("targets_unreachable"));
        s_set(a, "model_slug", json_string(model ? model : ""));
        s_set(a, "app_number", json_integer(app));
        size_t tested = opts->target_urls ? json_array_size(opts->target_urls) : 0;
        char text[160];
        snprintf(text, sizeof text,
                 "No targets reachable out of %zu tested. App containers may not be running.",
                 tested ? tested : 1);
        s_set(a, "error", json_string(text));
        if (opts->target_urls) {
            s_set(a, "target_urls", json_deep_copy(opts->target_urls));
        }
        json_t *sum = json_object();
        s_set(sum, "total_urls_tested", json_integer((json_int_t)(tested ? tested : 1)));
        s_set(sum, "reachable_urls", json_integer(0));
        s_set(a, "summary", sum);
        s_set(o, "analysis", a);
        s_set_ts(o);
        json_decref(used);
        json_decref(missing);
        return s_dump(o);
    }
    if (none && svc == SL_SVC_AI) {
        /* The ai service answers an analysis with no tool it knows with an
           error result naming what it has. */
        char buf[1024];
        int off = snprintf(buf, sizeof buf, "No valid analysis tool selected. Available: [");
        for (int i = 0; i < have.n && off > 0 && (size_t)off < sizeof buf; i++) {
            off +=
                snprintf(buf + off, sizeof buf - (size_t)off, "%s'%s'", i ? ", " : "", have.v[i]);
        }
        if (off > 0 && (size_t)off < sizeof buf) {
            snprintf(buf + off, sizeof buf - (size_t)off, "]");
        }
        s_set(o, "status", json_string("error"));
        s_set(a, "status", json_string("error"));
        s_set(a, "error", json_string(buf));
        s_set(o, "analysis", a);
        s_set_ts(o);
        json_decref(used);
        json_decref(missing);
        return s_dump(o);
    }
    char ts[32];
    sl_mock_iso_now(ts, sizeof ts);
    s_set(a, "model_slug", json_string(model ? model : ""));
    s_set(a, "app_number", json_integer(app));
    s_set(a, "analysis_time", json_string(analysis_time ? analysis_time : ts));
    int total = 0, high = 0, medium = 0, low = 0;
    json_t *results = json_object();
    json_t *bucket = svc == SL_SVC_STATIC ? json_object() : results;
    json_t *summary_by_tool = json_object();
    size_t k;
    json_t *v;
    json_array_foreach(used, k, v)
    {
        int issues = s_issues(model, app, (int)k);
        total += issues;
        high += issues / 4;
        medium += (issues - issues / 4) / 2;
        low += issues - issues / 4 - (issues - issues / 4) / 2;
        s_set(bucket, json_string_value(v), s_tool_entry(json_string_value(v), issues));
        json_t *t = json_object();
        s_set(t, "tool", json_string(json_string_value(v)));
        s_set(t, "status", json_string("success"));
        s_set(t, "executed", json_true());
        s_set(t, "total_issues", json_integer(issues));
        s_set(summary_by_tool, json_string_value(v), t);
    }
    /* The dynamic service marks the requested scanners it lacks. */
    json_array_foreach(missing, k, v)
    {
        const char *name = json_string_value(v);
        if (svc == SL_SVC_DYNAMIC &&
            (strcmp(name, "curl") == 0 || strcmp(name, "nmap") == 0 || strcmp(name, "zap") == 0)) {
            json_t *t = json_object();
            s_set(t, "tool", json_string(name));
            s_set(t, "status", json_string("not_available"));
            s_set(t, "executed", json_false());
            s_set(t, "total_issues", json_integer(0));
            s_set(summary_by_tool, name, t);
        }
    }
    if (svc == SL_SVC_STATIC) {
        s_set(results, "python", bucket);
        s_set(results, "javascript", s_no_files("JavaScript/TypeScript"));
        s_set(results, "css", s_no_files("CSS"));
        s_set(results, "html", s_no_files("HTML"));
        json_t *st = json_object();
        s_set(st, "status", json_string("success"));
        s_set(results, "structure", st);
    }
    /* The performance service with nothing to run reports a failed
       connectivity probe and an error status. */
    bool tools_failed = none && svc == SL_SVC_PERFORMANCE;
    if (tools_failed) {
        json_t *t = json_object();
        s_set(t, "tool", json_string("connectivity"));
        s_set(t, "status", json_string("error"));
        s_set(t, "executed", json_true());
        s_set(t, "total_issues", json_integer(0));
        s_set(t, "summary", json_string("No performance tools executed"));
        s_set(summary_by_tool, "connectivity", t);
    }
    s_set(a, "tools_used", used);
    if (opts && opts->target_urls) {
        s_set(a, "target_urls", json_deep_copy(opts->target_urls));
    }
    s_set(a, "configuration_applied", json_false());
    s_set(a, "results", results);
    if (svc == SL_SVC_DYNAMIC || svc == SL_SVC_PERFORMANCE) {
        s_set(a, "tool_results", summary_by_tool);
    } else {
        json_decref(summary_by_tool);
    }
    json_decref(missing);
    const char *status = tools_failed ? "error"
                         : partial    ? (svc == SL_SVC_AI ? "partial_success" : "partial")
                                      : NULL;
    json_t *sum = json_object();
    s_set(sum, "total_issues_found", json_integer(total));
    s_set(sum, "tools_run_successfully", json_integer((json_int_t)json_array_size(used)));
    json_t *sev = json_object();
    s_set(sev, "high", json_integer(high));
    s_set(sev, "medium", json_integer(medium));
    s_set(sev, "low", json_integer(low));
    s_set(sum, "severity_breakdown", sev);
    s_set(sum, "analysis_status",
          json_string(tools_failed ? "tools_failed"
                      : partial    ? "partial_connectivity"
                                   : "completed"));
    s_set(sum, "configuration_preset", json_string("default"));
    s_set(a, "summary", sum);
    if (status) {
        s_set(a, "status", json_string(status));
        s_set(o, "status", json_string(status));
    }
    if (opts && opts->resumed_from) {
        s_set(o, "resumed_from", json_string(opts->resumed_from));
    }
    s_set(o, "analysis", a);
    if (timestamp) {
        s_set(o, "timestamp", json_string(timestamp));
    } else {
        s_set_ts(o);
    }
    return s_dump(o);
}

char *sl_mock_frame_result(sl_service_t svc, const char *id, const char *model, int64_t app,
                           const json_t *tools, int verdict)
{
    return s_result(svc, id, model, app, tools, verdict, NULL, NULL, NULL);
}

char *sl_mock_frame_result_with(sl_service_t svc, const char *id, const char *model, int64_t app,
                                const json_t *tools, int verdict, const sl_mock_result_opts_t *opts)
{
    return s_result(svc, id, model, app, tools, verdict, NULL, NULL, opts);
}

/* ---- pre-rendered results ------------------------------------------------ */

/* Stand-ins rendered where the per-frame parts go: plain ASCII, so jansson
   writes them verbatim, and long enough not to occur by chance (a template
   whose stand-ins do not occur exactly once is refused). */
static const char *const s_holes[3] = {"@@sluice-mock-id@@", "@@sluice-mock-at@@",
                                       "@@sluice-mock-ts@@"};

struct sl_mock_result_tmpl {
    sl_service_t svc;
    char *model;
    int64_t app;
    json_t *tools; /* own copy, NULL = every tool */
    char *text;    /* the frame with the stand-ins */
    size_t at[3];  /* offset of each stand-in in text (0 id, 1 analysis_time, 2 timestamp);
                      SIZE_MAX = absent */
};

void sl_mock_result_tmpl_destroy(sl_mock_result_tmpl_t **p)
{
    if (!p || !*p) {
        return;
    }
    free((*p)->model);
    json_decref((*p)->tools);
    free((*p)->text);
    free(*p);
    *p = NULL;
}

sl_mock_result_tmpl_t *sl_mock_result_tmpl_new(sl_service_t svc, const char *model, int64_t app,
                                               const json_t *tools)
{
    sl_mock_result_tmpl_t *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    t->svc = svc;
    t->app = app;
    t->model = strdup(model ? model : "");
    t->tools = tools ? json_deep_copy(tools) : NULL;
    t->text = s_result(svc, s_holes[0], model, app, tools, 0, s_holes[1], s_holes[2], NULL);
    bool ok = t->model && (!tools || t->tools) && t->text;
    /* A stand-in may be absent (an error result has no analysis_time),
       never repeated. */
    for (int i = 0; ok && i < 3; i++) {
        const char *hit = strstr(t->text, s_holes[i]);
        ok = !hit || !strstr(hit + 1, s_holes[i]);
        t->at[i] = hit ? (size_t)(hit - t->text) : SIZE_MAX;
    }
    ok = ok && t->at[0] != SIZE_MAX;
    if (!ok) {
        sl_mock_result_tmpl_destroy(&t);
    }
    return t;
}

bool sl_mock_result_tmpl_matches(const sl_mock_result_tmpl_t *t, sl_service_t svc,
                                 const char *model, int64_t app, const json_t *tools)
{
    return t && t->svc == svc && t->app == app && strcmp(t->model, model ? model : "") == 0 &&
           ((!t->tools && !tools) || (t->tools && tools && json_equal(t->tools, tools)));
}

char *sl_mock_result_tmpl_render(const sl_mock_result_tmpl_t *t, const char *id)
{
    /* jansson (ENSURE_ASCII) writes printable ASCII other than '"' and '\'
       as is; anything else is left to the full builder. */
    for (const char *p = id; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            return NULL;
        }
    }
    char at[32], ts[32];
    sl_mock_iso_now(at, sizeof at);
    sl_mock_iso_now(ts, sizeof ts);
    const char *fill[3] = {id, at, ts};
    int order[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++) {
        for (int k = i + 1; k < 3; k++) {
            if (t->at[order[k]] < t->at[order[i]]) {
                int x = order[i];
                order[i] = order[k];
                order[k] = x;
            }
        }
    }
    size_t len = strlen(t->text);
    size_t out_len = len;
    for (int i = 0; i < 3; i++) {
        if (t->at[i] != SIZE_MAX) {
            out_len = out_len - strlen(s_holes[i]) + strlen(fill[i]);
        }
    }
    char *out = malloc(out_len + 1);
    if (!out) {
        return NULL;
    }
    char *w = out;
    size_t from = 0;
    for (int i = 0; i < 3 && t->at[order[i]] != SIZE_MAX; i++) {
        int h = order[i];
        memcpy(w, t->text + from, t->at[h] - from);
        w += t->at[h] - from;
        size_t n = strlen(fill[h]);
        memcpy(w, fill[h], n);
        w += n;
        from = t->at[h] + strlen(s_holes[h]);
    }
    memcpy(w, t->text + from, len - from);
    w += len - from;
    *w = '\0';
    return out;
}

char *sl_mock_frame_generation(const char *id, const char *model, const char *template_slug,
                               int64_t app_number)
{
    json_t *o = json_object();
    s_set(o, "type", json_string("generation_result"));
    if (id) {
        s_set(o, "id", json_string(id));
    }
    s_set(o, "status", json_string("success"));
    s_set(o, "app_number", json_integer(app_number));
    s_set(o, "service", json_string("generator"));
    s_set(o, "model_slug", json_string(model ? model : ""));
    s_set(o, "template_slug", json_string(template_slug ? template_slug : ""));
    s_set_ts(o);
    return s_dump(o);
}
