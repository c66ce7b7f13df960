/*  sl_wire.c: builders, parser and classifier for the analyzers' JSON frames.

    Pure code over jansson: no I/O, no threads, no state outside the objects
    the caller passes in. Builders assemble a json_t in the fleet's key order
    (jansson objects keep insertion order) and dump it compactly; the caller
    owns the returned string. The parser loads the whole frame, then walks
    only the fields sl_wire.h names, checking each one's JSON type, and
    points the frame's fields into the tree it owns. Nothing here trusts the
    input: every lookup checks the type before reading a value.
*/
#include "proto/sl_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/sl_err.h"

static const char *s_kind_names[SL_WIRE__KIND_COUNT] = {
    "unknown",      "status_update",   "analysis_result", "generation_result", "error",
    "pong",         "health_response", "progress_update", "accepted",          "progress",
    "heartbeat",    "cancelled",       "analyze_request", "generate_request",  "ping",
    "health_check", "cancel"};

/* An analyzer of the services declaration (not the generator). */
static bool s_is_analyzer(sl_service_t analysis)
{
    return (int)analysis >= 0 && analysis < SL_SVC_ANALYZERS;
}

const char *sl_wire_kind_name(sl_wire_kind_t kind)
{
    if ((int)kind < 0 || kind >= SL_WIRE__KIND_COUNT) {
        return "invalid";
    }
    return s_kind_names[kind];
}

/* ---- building ------------------------------------------------------------ */

/* json_string() refuses invalid UTF-8 by returning NULL; that is the
   caller's mistake, so it maps to SL_EINVAL. */
static int s_set_str(json_t *obj, const char *key, const char *value)
{
    json_t *s = json_string(value);
    if (!s) {
        return SL_EINVAL;
    }
    if (json_object_set_new(obj, key, s) != 0) {
        return SL_ENOMEM;
    }
    return 0;
}

static int s_set_new(json_t *obj, const char *key, json_t *value)
{
    if (!value) {
        return SL_ENOMEM;
    }
    /* set_new steals the reference even when it fails */
    if (json_object_set_new(obj, key, value) != 0) {
        return SL_ENOMEM;
    }
    return 0;
}

static int s_str_array(const char *const *items, size_t count, json_t **out)
{
    json_t *arr = json_array();
    if (!arr) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        if (!items[i]) {
            json_decref(arr);
            return SL_EINVAL;
        }
        json_t *s = json_string(items[i]);
        if (!s) {
            json_decref(arr);
            return SL_EINVAL;
        }
        if (json_array_append_new(arr, s) != 0) {
            json_decref(arr);
            return SL_ENOMEM;
        }
    }
    *out = arr;
    return 0;
}

/* Dumps and always releases obj, so builders can end with
   `return s_finish(obj, rc, out, out_len);`. */
static int s_finish(json_t *obj, int rc, char **out, size_t *out_len)
{
    if (rc == 0) {
        char *text = json_dumps(obj, JSON_COMPACT);
        if (!text) {
            rc = SL_ENOMEM;
        } else {
            *out = text;
            if (out_len) {
                *out_len = strlen(text);
            }
        }
    }
    json_decref(obj);
    return rc;
}

/* Civil date from days since 1970-01-01 (proleptic Gregorian), so the
   timestamp needs no time_t, gmtime_r or locale. */
static void s_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

static int s_iso_timestamp(int64_t wall_ms, char *buf, size_t size)
{
    int64_t secs = wall_ms / 1000;
    int ms = (int)(wall_ms % 1000);
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    int64_t year;
    int month, day;
    s_civil_from_days(days, &year, &month, &day);
    if (year > 9999) {
        return SL_EINVAL;
    }
    int n;
    /* Python's isoformat() prints microseconds only when they are not 0 */
    if (ms) {
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000+00:00", (int)year, month,
                     day, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), ms);
    } else {
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", (int)year, month, day,
                     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
    }
    if (n < 0 || (size_t)n >= size) {
        return SL_EINVAL;
    }
    return 0;
}

/* Adds an array of strings under key; count 0 adds nothing. */
static int s_set_strs(json_t *obj, const char *key, const char *const *items, size_t count)
{
    if (count == 0) {
        return 0;
    }
    json_t *arr = NULL;
    int rc = s_str_array(items, count, &arr);
    return rc == 0 ? s_set_new(obj, key, arr) : rc;
}

static int s_set_timestamp(json_t *obj, int64_t wall_ms)
{
    if (wall_ms < 0) {
        return 0;
    }
    char ts[64];
    int rc = s_iso_timestamp(wall_ms, ts, sizeof ts);
    return rc == 0 ? s_set_str(obj, "timestamp", ts) : rc;
}

/* An option the performance request carries at the top level: the given
   integer, else the fleet client's default. */
static int s_set_load(json_t *obj, const json_t *options, const char *key, int64_t dflt)
{
    const json_t *v = options ? json_object_get(options, key) : NULL;
    if (v && !json_is_integer(v)) {
        return SL_EINVAL;
    }
    return s_set_new(obj, key, json_integer(v ? json_integer_value(v) : dflt));
}

/* The request's "config": what the service reads there (template_slug,
   the ai service's ports), then the caller's options, minus the keys the
   request carries at the top level. Added only when it has a key. */
static int s_set_config(json_t *obj, const sl_wire_analyze_req_t *req)
{
    json_t *config = json_object();
    if (!config) {
        return SL_ENOMEM;
    }
    int rc = 0;
    if (req->template_slug && req->analysis != SL_SVC_STATIC &&
        req->analysis != SL_SVC_PERFORMANCE) {
        rc = s_set_str(config, "template_slug", req->template_slug);
    }
    if (rc == 0 && req->analysis == SL_SVC_AI && req->backend_port > 0) {
        rc = s_set_new(config, "backend_port", json_integer(req->backend_port));
    }
    if (rc == 0 && req->analysis == SL_SVC_AI && req->frontend_port > 0) {
        rc = s_set_new(config, "frontend_port", json_integer(req->frontend_port));
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)req->options, key, value)
    {
        bool top = req->analysis == SL_SVC_PERFORMANCE &&
                   (strcmp(key, "users") == 0 || strcmp(key, "duration") == 0);
        if (rc == 0 && !top && !json_object_get(config, key)) {
            rc = s_set_new(config, key, json_deep_copy(value));
        }
    }
    if (rc == 0 && json_object_size(config) > 0) {
        return s_set_new(obj, "config", config);
    }
    json_decref(config);
    return rc;
}

int sl_wire_build_analyze(const sl_wire_analyze_req_t *req, char **out, size_t *out_len)
{
    if (!req || !out || !req->model_slug || !req->id || !s_is_analyzer(req->analysis) ||
        (req->tools_count && !req->tools) || (req->target_urls_count && !req->target_urls) ||
        (req->options && !json_is_object(req->options))) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", sl_service_op(req->analysis));
    if (rc == 0) {
        rc = s_set_str(obj, "model_slug", req->model_slug);
    }
    if (rc == 0) {
        rc = s_set_new(obj, "app_number", json_integer(req->app_number));
    }
    /* The rest in the order the fleet's client writes each request
       (analyzer_manager.py); "tools" is omitted for all tools. */
    switch (req->analysis) {
    case SL_SVC_DYNAMIC:
        if (rc == 0) {
            rc = s_set_strs(obj, "target_urls", req->target_urls, req->target_urls_count);
        }
        if (rc == 0) {
            rc = s_set_strs(obj, "tools", req->tools, req->tools_count);
        }
        if (rc == 0) {
            rc = s_set_timestamp(obj, req->wall_ms);
        }
        if (rc == 0) {
            rc = s_set_str(obj, "id", req->id);
        }
        break;
    case SL_SVC_PERFORMANCE:
        if (rc == 0 && req->target_urls_count > 0) {
            if (!req->target_urls[0]) {
                rc = SL_EINVAL;
            } else {
                rc = s_set_str(obj, "target_url", req->target_urls[0]);
            }
        }
        if (rc == 0) {
            rc = s_set_strs(obj, "target_urls", req->target_urls, req->target_urls_count);
        }
        if (rc == 0) {
            rc = s_set_load(obj, req->options, "users", SL_WIRE_PERF_USERS);
        }
        if (rc == 0) {
            rc = s_set_load(obj, req->options, "duration", SL_WIRE_PERF_DURATION_S);
        }
        if (rc == 0) {
            rc = s_set_strs(obj, "tools", req->tools, req->tools_count);
        }
        if (rc == 0) {
            rc = s_set_timestamp(obj, req->wall_ms);
        }
        if (rc == 0) {
            rc = s_set_str(obj, "id", req->id);
        }
        break;
    case SL_SVC_AI:
        if (rc == 0) {
            rc = s_set_strs(obj, "tools", req->tools, req->tools_count);
        }
        if (rc == 0) {
            rc = s_set_strs(obj, "target_urls", req->target_urls, req->target_urls_count);
        }
        if (rc == 0) {
            rc = s_set_config(obj, req);
        }
        if (rc == 0) {
            rc = s_set_timestamp(obj, req->wall_ms);
        }
        if (rc == 0) {
            rc = s_set_str(obj, "id", req->id);
        }
        break;
    default: /* static: no target URLs */
        if (rc == 0) {
            rc = s_set_strs(obj, "tools", req->tools, req->tools_count);
        }
        if (rc == 0) {
            rc = s_set_str(obj, "id", req->id);
        }
        if (rc == 0) {
            rc = s_set_timestamp(obj, req->wall_ms);
        }
        break;
    }
    if (rc == 0 && req->analysis != SL_SVC_AI) {
        rc = s_set_config(obj, req);
    }
    if (rc == 0 && req->resume_from) {
        rc = s_set_str(obj, "resume_from", req->resume_from); /* mux only: the caller's choice */
    }
    return s_finish(obj, rc, out, out_len);
}

int sl_wire_build_generate(const char *id, const char *model_slug, const char *template_slug,
                           const json_t *options, char **out, size_t *out_len)
{
    if (!id || !model_slug || !template_slug || !out || (options && !json_is_object(options))) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", "generate");
    if (rc == 0) {
        rc = s_set_str(obj, "id", id);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "model_slug", model_slug);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "template_slug", template_slug);
    }
    if (rc == 0) {
        /* a deep copy keeps the caller's object untouched and ours private */
        rc = s_set_new(obj, "options", options ? json_deep_copy(options) : json_object());
    }
    return s_finish(obj, rc, out, out_len);
}

/* {"type":type,"id":id?} */
static int s_build_typed(const char *type, const char *id, bool id_required, char **out,
                         size_t *out_len)
{
    if (!out || (id_required && !id)) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", type);
    if (rc == 0 && id) {
        rc = s_set_str(obj, "id", id);
    }
    return s_finish(obj, rc, out, out_len);
}

int sl_wire_build_ping(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("ping", id, false, out, out_len);
}

int sl_wire_build_health_check(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("health_check", id, false, out, out_len);
}

int sl_wire_build_cancel(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("cancel", id, true, out, out_len);
}

int sl_wire_build_accepted(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("accepted", id, true, out, out_len);
}

int sl_wire_build_heartbeat(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("heartbeat", id, false, out, out_len);
}

int sl_wire_build_cancelled(const char *id, char **out, size_t *out_len)
{
    return s_build_typed("cancelled", id, true, out, out_len);
}

int sl_wire_build_progress(const char *id, const char *stage, double pct, const char *message,
                           const char *checkpoint, char **out, size_t *out_len)
{
    if (!id || !out) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", "progress");
    if (rc == 0) {
        rc = s_set_str(obj, "id", id);
    }
    if (rc == 0 && stage) {
        rc = s_set_str(obj, "stage", stage);
    }
    if (rc == 0 && pct >= 0) {
        rc = s_set_new(obj, "pct", json_real(pct > 100 ? 100 : pct));
    }
    if (rc == 0 && message) {
        rc = s_set_str(obj, "message", message);
    }
    if (rc == 0 && checkpoint) {
        rc = s_set_str(obj, "checkpoint", checkpoint);
    }
    return s_finish(obj, rc, out, out_len);
}

int sl_wire_build_error(const char *id, const char *message, char **out, size_t *out_len)
{
    if (!message || !out) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", "error");
    if (rc == 0 && id) {
        rc = s_set_str(obj, "id", id);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "message", message);
    }
    return s_finish(obj, rc, out, out_len);
}

int sl_wire_build_result(sl_service_t analysis, const char *id, const char *status,
                         const json_t *body, const char *error, char **out, size_t *out_len)
{
    if (!s_is_analyzer(analysis) || !status || !out || (body && !json_is_object(body))) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", sl_service_result_type(analysis));
    if (rc == 0 && id) {
        rc = s_set_str(obj, "id", id);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "status", status);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "service", sl_service_name(analysis));
    }
    if (rc == 0 && body) {
        rc = s_set_new(obj, "analysis", json_deep_copy(body));
    }
    if (rc == 0 && error) {
        rc = s_set_str(obj, "error", error);
    }
    return s_finish(obj, rc, out, out_len);
}

int sl_wire_build_generation_result(const char *id, const char *status, int64_t app_number,
                                    const char *error, char **out, size_t *out_len)
{
    if (!status || !out) {
        return SL_EINVAL;
    }
    json_t *obj = json_object();
    if (!obj) {
        return SL_ENOMEM;
    }
    int rc = s_set_str(obj, "type", "generation_result");
    if (rc == 0 && id) {
        rc = s_set_str(obj, "id", id);
    }
    if (rc == 0) {
        rc = s_set_str(obj, "status", status);
    }
    if (rc == 0 && app_number >= 0) {
        rc = s_set_new(obj, "app_number", json_integer(app_number));
    }
    if (rc == 0 && error) {
        rc = s_set_str(obj, "error", error);
    }
    return s_finish(obj, rc, out, out_len);
}

/* ---- parsing ------------------------------------------------------------- */

/* Reads an optional string field: absent or null -> NULL, another JSON type
   -> SL_EPROTO. required turns absence into SL_EMISSING. */
static int s_get_str(const json_t *obj, const char *key, bool required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return required ? SL_EMISSING : 0;
    }
    if (!json_is_string(v)) {
        return SL_EPROTO;
    }
    *out = json_string_value(v);
    return 0;
}

/* Like s_get_str but never fails: fields that are not ours to define
   (timestamps, texts inside an analyzer's own "analysis") are taken only
   when they are strings. */
static const char *s_peek_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int s_get_obj(const json_t *obj, const char *key, const json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_object(v)) {
        return SL_EPROTO;
    }
    *out = v;
    return 0;
}

static int s_get_str_array(const json_t *obj, const char *key, const json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_array(v)) {
        return SL_EPROTO;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item)) {
            return SL_EPROTO;
        }
    }
    *out = v;
    return 0;
}

static int s_get_int(const json_t *obj, const char *key, bool required, int64_t *out, bool *has)
{
    json_t *v = json_object_get(obj, key);
    *has = false;
    if (!v || json_is_null(v)) {
        return required ? SL_EMISSING : 0;
    }
    if (!json_is_integer(v)) {
        return SL_EPROTO;
    }
    *out = (int64_t)json_integer_value(v);
    *has = true;
    return 0;
}

static double s_clamp_pct(double pct)
{
    if (!(pct >= 0)) {
        return 0; /* also catches NaN, which JSON cannot carry but be safe */
    }
    return pct > 100 ? 100 : pct;
}

/* An error text: the first key that holds a string, or an object with a
   string "message" (some services nest it). Never fails. */
static const char *s_error_text(const json_t *obj, const char *first, const char *second)
{
    const char *keys[2] = {first, second};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(obj, keys[i]);
        if (json_is_string(v)) {
            return json_string_value(v);
        }
        if (json_is_object(v) && json_is_string(json_object_get(v, "message"))) {
            return json_string_value(json_object_get(v, "message"));
        }
    }
    return NULL;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static sl_wire_kind_t s_kind_of(const char *type, sl_service_t *analysis)
{
    static const struct {
        const char *type;
        sl_wire_kind_t kind;
    } table[] = {
        {"status_update", SL_WIRE_STATUS_UPDATE},
        {"generation_result", SL_WIRE_GENERATION_RESULT},
        {"error", SL_WIRE_ERROR},
        {"pong", SL_WIRE_PONG},
        {"health_response", SL_WIRE_HEALTH_RESPONSE},
        {"progress_update", SL_WIRE_PROGRESS_UPDATE},
        {"accepted", SL_WIRE_ACCEPTED},
        {"progress", SL_WIRE_PROGRESS},
        {"heartbeat", SL_WIRE_HEARTBEAT},
        {"cancelled", SL_WIRE_CANCELLED},
        {"generate", SL_WIRE_GENERATE_REQUEST},
        {"ping", SL_WIRE_PING},
        {"health_check", SL_WIRE_HEALTH_CHECK},
        {"cancel", SL_WIRE_CANCEL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(type, table[i].type) == 0) {
            return table[i].kind;
        }
    }
    int svc = sl_service_of_op(type, strlen(type));
    if (svc >= 0 && s_is_analyzer((sl_service_t)svc)) {
        *analysis = (sl_service_t)svc;
        return SL_WIRE_ANALYZE_REQUEST;
    }
    if (s_ends_with(type, "_analysis_result")) {
        return SL_WIRE_ANALYSIS_RESULT;
    }
    return SL_WIRE_UNKNOWN;
}

/* Fills the kind-specific part of self from obj; returns 0 or an error. */
static int s_parse_body(sl_wire_frame_t *self, const json_t *obj, sl_service_t analysis)
{
    int rc = 0;
    bool has = false;
    switch (self->kind) {
    case SL_WIRE_STATUS_UPDATE:
        rc = s_get_str(obj, "stage", false, &self->u.status_update.stage);
        if (rc == 0) {
            rc = s_get_str(obj, "message", false, &self->u.status_update.message);
        }
        if (rc == 0) {
            rc = s_get_str(obj, "analysis_id", false, &self->u.status_update.analysis_id);
        }
        return rc;

    case SL_WIRE_ANALYSIS_RESULT:
        rc = s_get_str(obj, "status", true, &self->u.result.status);
        if (rc == 0) {
            rc = s_get_obj(obj, "analysis", &self->u.result.analysis);
        }
        if (rc == 0 && self->u.result.analysis) {
            /* the analysis body is the analyzer's own: read, never judge */
            self->u.result.inner_status = s_peek_str(self->u.result.analysis, "status");
            self->u.result.inner_error = s_error_text(self->u.result.analysis, "error", "message");
        }
        self->u.result.error = s_error_text(obj, "error", "message");
        return rc;

    case SL_WIRE_GENERATION_RESULT:
        rc = s_get_str(obj, "status", true, &self->u.generation.status);
        if (rc == 0) {
            rc = s_get_int(obj, "app_number", false, &self->u.generation.app_number,
                           &self->u.generation.has_app_number);
        }
        self->u.generation.error = s_error_text(obj, "error", "message");
        return rc;

    case SL_WIRE_ERROR:
        self->u.error.message = s_error_text(obj, "message", "error");
        return 0;

    case SL_WIRE_HEALTH_RESPONSE:
        rc = s_get_str(obj, "status", false, &self->u.health.status);
        if (rc == 0) {
            rc = s_get_str_array(obj, "available_tools", &self->u.health.available_tools);
        }
        return rc;

    case SL_WIRE_PROGRESS_UPDATE: {
        rc = s_get_str(obj, "correlation_id", false, &self->u.progress_update.correlation_id);
        if (rc == 0) {
            rc = s_get_str(obj, "stage", false, &self->u.progress_update.stage);
        }
        if (rc == 0) {
            rc = s_get_str(obj, "message", false, &self->u.progress_update.message);
        }
        if (rc == 0) {
            rc = s_get_obj(obj, "data", &self->u.progress_update.data);
        }
        const json_t *data = self->u.progress_update.data;
        if (rc == 0 && data) {
            /* data is free-form: a pct is taken only when it is a number */
            json_t *pct = json_object_get(data, "pct");
            if (!json_is_number(pct)) {
                pct = json_object_get(data, "progress");
            }
            if (json_is_number(pct)) {
                self->u.progress_update.pct = s_clamp_pct(json_number_value(pct));
                self->u.progress_update.has_pct = true;
            }
        }
        return rc;
    }

    case SL_WIRE_PROGRESS: {
        rc = s_get_str(obj, "stage", false, &self->u.progress.stage);
        if (rc == 0) {
            rc = s_get_str(obj, "message", false, &self->u.progress.message);
        }
        if (rc == 0) {
            rc = s_get_str(obj, "checkpoint", false, &self->u.progress.checkpoint);
        }
        if (rc == 0) {
            rc = s_get_obj(obj, "partial", &self->u.progress.partial);
        }
        json_t *pct = json_object_get(obj, "pct");
        if (rc == 0 && pct && !json_is_null(pct)) {
            if (!json_is_number(pct)) {
                return SL_EPROTO;
            }
            self->u.progress.pct = s_clamp_pct(json_number_value(pct));
            self->u.progress.has_pct = true;
        }
        return rc;
    }

    case SL_WIRE_ANALYZE_REQUEST: {
        self->u.analyze.analysis = analysis;
        rc = s_get_str(obj, "model_slug", true, &self->u.analyze.model_slug);
        if (rc == 0) {
            rc = s_get_int(obj, "app_number", true, &self->u.analyze.app_number, &has);
        }
        if (rc == 0) {
            rc = s_get_str_array(obj, "tools", &self->u.analyze.tools);
        }
        /* top-level target_urls, as the services read them; a
           config.target_urls is not theirs and not ours */
        if (rc == 0) {
            rc = s_get_str_array(obj, "target_urls", &self->u.analyze.target_urls);
        }
        if (rc == 0) {
            rc = s_get_str(obj, "target_url", false, &self->u.analyze.target_url);
        }
        if (rc == 0) {
            rc = s_get_int(obj, "users", false, &self->u.analyze.users, &self->u.analyze.has_users);
        }
        if (rc == 0) {
            rc = s_get_int(obj, "duration", false, &self->u.analyze.duration,
                           &self->u.analyze.has_duration);
        }
        if (rc == 0) {
            rc = s_get_obj(obj, "config", &self->u.analyze.config);
        }
        if (rc == 0 && self->u.analyze.config) {
            rc = s_get_str(self->u.analyze.config, "template_slug", false,
                           &self->u.analyze.template_slug);
        }
        return rc;
    }

    case SL_WIRE_GENERATE_REQUEST:
        rc = s_get_str(obj, "model_slug", true, &self->u.generate.model_slug);
        if (rc == 0) {
            rc = s_get_str(obj, "template_slug", true, &self->u.generate.template_slug);
        }
        if (rc == 0) {
            rc = s_get_obj(obj, "options", &self->u.generate.options);
        }
        return rc;

    default:
        /* pong, ping, health_check, heartbeat, accepted, cancelled, cancel:
           nothing beyond the common fields */
        return 0;
    }
}

int sl_wire_frame_parse(sl_wire_frame_t *self, const void *buf, size_t len)
{
    if (!self) {
        return SL_EINVAL;
    }
    memset(self, 0, sizeof *self);
    if (!buf && len > 0) {
        return SL_EINVAL;
    }
    if (len > SL_WIRE_MAX_FRAME) {
        return SL_ETOOBIG;
    }
    if (len == 0) {
        return SL_EPROTO;
    }
    json_error_t jerr;
    /* no JSON_ALLOW_NUL: "\u0000" is rejected, so every string is a C string;
       duplicate keys would make "which status?" ambiguous, so reject them */
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        return json_error_code(&jerr) == json_error_out_of_memory ? SL_ENOMEM : SL_EPROTO;
    }
    int rc = 0;
    if (!json_is_object(root)) {
        rc = SL_EPROTO;
        goto fail;
    }
    self->root = root;
    rc = s_get_str(root, "type", true, &self->type);
    if (rc != 0) {
        goto fail;
    }
    sl_service_t analysis = SL_SVC_STATIC;
    self->kind = s_kind_of(self->type, &analysis);
    self->timestamp = s_peek_str(root, "timestamp");
    if (self->kind == SL_WIRE_UNKNOWN) {
        /* an unknown frame is not an error: keep what is readable */
        self->id = s_peek_str(root, "id");
        self->service = s_peek_str(root, "service");
        return 0;
    }
    bool id_required = self->kind == SL_WIRE_ACCEPTED || self->kind == SL_WIRE_PROGRESS ||
                       self->kind == SL_WIRE_CANCELLED || self->kind == SL_WIRE_CANCEL;
    rc = s_get_str(root, "id", id_required, &self->id);
    if (rc == 0) {
        rc = s_get_str(root, "service", false, &self->service);
    }
    if (rc == 0) {
        rc = s_parse_body(self, root, analysis);
    }
    if (rc != 0) {
        goto fail;
    }
    return 0;
fail:
    json_decref(root);
    memset(self, 0, sizeof *self);
    return rc;
}

void sl_wire_frame_clear(sl_wire_frame_t *self)
{
    if (!self) {
        return;
    }
    json_decref(self->root);
    memset(self, 0, sizeof *self);
}

/* ---- classification ------------------------------------------------------ */

bool sl_wire_frame_is_terminal(const sl_wire_frame_t *self)
{
    if (!self) {
        return false;
    }
    return self->kind == SL_WIRE_ANALYSIS_RESULT || self->kind == SL_WIRE_GENERATION_RESULT ||
           self->kind == SL_WIRE_ERROR || self->kind == SL_WIRE_CANCELLED;
}

/* Verdict phrases sit at the start of an error text; scanning a hostile
   multi-megabyte "error" in full would stall the endpoint's handler. */
#define S_VERDICT_SCAN_MAX 4096

/* ASCII case-insensitive substring search within the first
   S_VERDICT_SCAN_MAX bytes; strcasestr is not C11. */
static bool s_contains_ci(const char *hay, const char *needle)
{
    size_t m = strlen(needle);
    for (const char *p = hay; *p && (size_t)(p - hay) < S_VERDICT_SCAN_MAX; p++) {
        size_t i = 0;
        while (i < m && p[i]) {
            char a = p[i], b = needle[i];
            if (a >= 'A' && a <= 'Z') {
                a = (char)(a - 'A' + 'a');
            }
            if (a != b) {
                break;
            }
            i++;
        }
        if (i == m) {
            return true;
        }
    }
    return false;
}

bool sl_wire_error_is_verdict(const char *text)
{
    /* Phrases that blame the request, not the replica. Kept specific on
       purpose: a bare "not found" would also match "bandit: command not
       found", which is the replica's fault and must stay retryable. */
    static const char *phrases[] = {
        "path not found",        "app not found",          "model not found", "template not found",
        "application not found", "does not exist",         "no such app",     "no such model",
        "no such template",      "invalid request",        "invalid app",     "invalid model",
        "invalid template",      "unknown tool",           "invalid tool",    "unsupported tool",
        "missing required",      "no valid analysis tool",
    };
    if (!text) {
        return false;
    }
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        if (s_contains_ci(text, phrases[i])) {
            return true;
        }
    }
    return false;
}

size_t sl_wire_utf8_trim(char *s)
{
    if (!s) {
        return 0;
    }
    size_t len = strlen(s);
    size_t lead = len;
    while (lead > 0 && ((unsigned char)s[lead - 1] & 0xC0) == 0x80) {
        lead--;
    }
    if (lead == 0) {
        return len; /* no lead byte: nothing of ours to judge */
    }
    unsigned char c = (unsigned char)s[lead - 1];
    size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len - (lead - 1) < need) {
        len = lead - 1;
        s[len] = '\0';
    }
    return len;
}

/* Copies text into the verdict, cut on a UTF-8 boundary. */
static void s_set_error(sl_wire_verdict_t *v, const char *text)
{
    snprintf(v->error, sizeof v->error, "%s", text);
    sl_wire_utf8_trim(v->error);
}

static void s_set_errorf(sl_wire_verdict_t *v, const char *prefix, const char *what)
{
    char buf[SL_WIRE_ERROR_MAX];
    snprintf(buf, sizeof buf, "%s%s", prefix, what);
    s_set_error(v, buf);
}

static void s_error_outcome(sl_wire_verdict_t *v, const char *text, const char *fallback)
{
    v->outcome = sl_wire_error_is_verdict(text) ? SL_OUT_VERDICT : SL_OUT_ERROR;
    s_set_error(v, text ? text : fallback);
}

static void s_classify_result(const sl_wire_frame_t *f, sl_wire_verdict_t *v)
{
    const char *status = f->u.result.status;
    const char *inner = f->u.result.inner_status;
    const char *text = f->u.result.error ? f->u.result.error : f->u.result.inner_error;
    if (strcmp(status, "success") == 0) {
        /* the static analyzer reports a task failure (app not found) as an
           outer success with analysis.status "error": the input is bad */
        if (inner && (strcmp(inner, "error") == 0 || strcmp(inner, "failed") == 0)) {
            v->outcome = SL_OUT_VERDICT;
            s_set_error(v, f->u.result.inner_error ? f->u.result.inner_error
                                                   : "analysis reported an error");
            return;
        }
        v->outcome = SL_OUT_SUCCESS;
        return;
    }
    if (strcmp(status, "partial") == 0 || strcmp(status, "partial_success") == 0) {
        v->outcome = SL_OUT_PARTIAL_SUCCESS;
        if (text) {
            s_set_error(v, text);
        }
        return;
    }
    if (strcmp(status, "targets_unreachable") == 0) {
        v->outcome = SL_OUT_TARGETS_UNREACHABLE;
        s_set_error(v, text ? text : "targets unreachable");
        return;
    }
    if (strcmp(status, "error") == 0 || strcmp(status, "failed") == 0) {
        s_error_outcome(v, text, "analyzer reported an error");
        return;
    }
    v->outcome = SL_OUT_ERROR;
    s_set_errorf(v, "unknown result status: ", status);
}

static void s_classify_generation(const sl_wire_frame_t *f, sl_wire_verdict_t *v)
{
    const char *status = f->u.generation.status;
    if (strcmp(status, "success") == 0) {
        if (!f->u.generation.has_app_number || f->u.generation.app_number < 0) {
            v->outcome = SL_OUT_ERROR;
            s_set_error(v, "generation_result success without a valid app_number");
            return;
        }
        v->outcome = SL_OUT_SUCCESS;
        v->app_number = f->u.generation.app_number;
        v->has_app_number = true;
        return;
    }
    if (strcmp(status, "error") == 0 || strcmp(status, "failed") == 0) {
        s_error_outcome(v, f->u.generation.error, "generator reported an error");
        return;
    }
    v->outcome = SL_OUT_ERROR;
    s_set_errorf(v, "unknown generation status: ", status);
}

int sl_wire_classify(const sl_wire_frame_t *frame, sl_wire_verdict_t *verdict)
{
    if (!frame || !verdict) {
        return SL_EINVAL;
    }
    if (!sl_wire_frame_is_terminal(frame)) {
        return SL_EINVAL;
    }
    memset(verdict, 0, sizeof *verdict);
    switch (frame->kind) {
    case SL_WIRE_ANALYSIS_RESULT:
        s_classify_result(frame, verdict);
        break;
    case SL_WIRE_GENERATION_RESULT:
        s_classify_generation(frame, verdict);
        break;
    case SL_WIRE_ERROR:
        s_error_outcome(verdict, frame->u.error.message, "error frame without a message");
        break;
    default:
        verdict->outcome = SL_OUT_CANCELLED;
        /* Not the bare outcome name: every caller shows this text next to it. */
        s_set_error(verdict, "the analyzer cancelled it");
        break;
    }
    return 0;
}

/* ---- tools --------------------------------------------------------------- */

/* The fleet's other names (fleet notes: performance main.py tool_mapping,
   ai main.py tool_mapping). */
static const char *const s_tool_aliases[][2] = {
    {"ab-load-test", "ab"},
    {"locust-performance", "locust"},
    {"aiohttp-load", "aiohttp"},
    {"artillery-load", "artillery"},
    {"requirements-checker", "requirements-scanner"},
    {"openrouter-requirements", "requirements-scanner"},
    {"ai_requirements_compliance", "requirements-scanner"},
};

const char *sl_wire_tool_run_name(const char *tool)
{
    if (!tool) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof s_tool_aliases / sizeof s_tool_aliases[0]; i++) {
        if (strcasecmp(tool, s_tool_aliases[i][0]) == 0) {
            return s_tool_aliases[i][1];
        }
    }
    return tool;
}

const char *sl_wire_tool_needs(const char *tool)
{
    if (tool && strcasecmp(tool, "curl-endpoint-tester") == 0) {
        return "curl";
    }
    return sl_wire_tool_run_name(tool);
}

bool sl_wire_tool_listed(const char *tool, const char *const *have, size_t n)
{
    const char *need = sl_wire_tool_needs(tool);
    for (size_t i = 0; need && have && i < n; i++) {
        if (have[i] && strcasecmp(sl_wire_tool_run_name(have[i]), need) == 0) {
            return true;
        }
    }
    return false;
}

/* True if name (as a result reports it) is the requested tool. */
static bool s_tool_is(const char *name, const char *asked)
{
    return strcasecmp(name, asked) == 0 ||
           strcasecmp(sl_wire_tool_run_name(name), sl_wire_tool_run_name(asked)) == 0;
}

/* The entry for the requested tool in a {tool: {...}} object, or NULL. */
static json_t *s_tool_entry(const json_t *obj, const char *asked)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_object(v) && s_tool_is(k, asked)) {
            return v;
        }
    }
    return NULL;
}

/* Whether the result says the tool ran, and its status when it names it. */
static bool s_tool_ran(const json_t *a, const char *asked, const char **status)
{
    const json_t *used = json_object_get(a, "tools_used");
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)used, i, v)
    {
        if (json_is_string(v) && s_tool_is(json_string_value(v), asked)) {
            return true;
        }
    }
    const json_t *ai = json_object_get(a, "tools");
    if (json_is_object(ai) && s_tool_entry(ai, asked)) {
        return true;
    }
    const json_t *results = json_object_get(a, "results");
    const json_t *lists[] = {json_object_get(a, "tool_results"),
                             json_object_get(results, "tool_runs")};
    for (size_t l = 0; l < 2; l++) {
        const json_t *e = json_is_object(lists[l]) ? s_tool_entry(lists[l], asked) : NULL;
        if (e && json_is_true(json_object_get(e, "executed"))) {
            return true;
        }
        if (e && !*status) {
            *status = json_string_value(json_object_get(e, "status"));
        }
    }
    /* the static service's language buckets: results.<lang>.<tool> */
    const char *k;
    json_object_foreach((json_t *)results, k, v)
    {
        const json_t *e = json_is_object(v) ? s_tool_entry(v, asked) : NULL;
        if (e && !*status && json_is_false(json_object_get(e, "executed"))) {
            *status = json_string_value(json_object_get(e, "status"));
        }
    }
    return false;
}

static void s_report_add(sl_wire_tools_report_t *out, const char *tool, const char *status)
{
    char item[SL_WIRE_ERROR_MAX];
    if (status && *status) {
        snprintf(item, sizeof item, "%s (%s)", tool, status);
    } else {
        snprintf(item, sizeof item, "%s", tool);
    }
    sl_wire_utf8_trim(item);
    size_t used = strlen(out->text);
    snprintf(out->text + used, sizeof out->text - used, "%s%s", used ? ", " : "", item);
    sl_wire_utf8_trim(out->text);
}

int sl_wire_tools_report(const sl_wire_frame_t *frame, const char *const *tools, size_t n,
                         sl_wire_tools_report_t *out)
{
    if (!frame || !out || (n > 0 && !tools) || frame->kind != SL_WIRE_ANALYSIS_RESULT) {
        return SL_EINVAL;
    }
    memset(out, 0, sizeof *out);
    const json_t *a = json_object_get(frame->root, "analysis");
    out->known = json_is_object(a) && (json_is_array(json_object_get(a, "tools_used")) ||
                                       json_is_object(json_object_get(a, "tool_results")) ||
                                       json_is_object(json_object_get(a, "tools")));
    if (!out->known) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tools[i]) {
            continue;
        }
        out->asked++;
        const char *status = NULL;
        if (!s_tool_ran(a, tools[i], &status)) {
            out->missed++;
            s_report_add(out, tools[i], status);
        }
    }
    return 0;
}

int64_t sl_wire_result_issues(const sl_wire_frame_t *frame)
{
    if (!frame || frame->kind != SL_WIRE_ANALYSIS_RESULT) {
        return -1;
    }
    const json_t *a = json_object_get(frame->root, "analysis");
    const json_t *sum = json_object_get(a, "summary");
    static const char *const totals[] = {"total_issues_found", "total_findings"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(sum, totals[i]);
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            return (int64_t)json_integer_value(v);
        }
    }
    int64_t n = -1;
    const char *tool;
    const json_t *entry;
    json_object_foreach((json_t *)json_object_get(a, "tool_results"), tool, entry)
    {
        const json_t *v = json_object_get(entry, "total_issues");
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
            int64_t x = (int64_t)json_integer_value(v);
            n = n < 0 ? x : (x > INT64_MAX - n ? INT64_MAX : n + x);
        }
    }
    return n;
}

/* ---- JSON -> msgpack ----------------------------------------------------- */

/* Recursion is bounded by max_depth; jansson's parser already bounds the
   trees it builds (JSON_PARSER_MAX_DEPTH), callers may pass any tree. */
static bool s_json_to_mp(sl_mp_writer_t *w, const json_t *j, int depth, int max_depth)
{
    if (!j || depth > max_depth) {
        sl_mp_write_nil(w);
        return j == NULL;
    }
    bool whole = true;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        sl_mp_write_map(w, (uint32_t)json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            sl_mp_write_str(w, k);
            whole &= s_json_to_mp(w, v, depth + 1, max_depth);
        }
        break;
    }
    case JSON_ARRAY: {
        sl_mp_write_array(w, (uint32_t)json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)j, i, v)
        {
            whole &= s_json_to_mp(w, v, depth + 1, max_depth);
        }
        break;
    }
    case JSON_STRING:
        sl_mp_write_strn(w, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        sl_mp_write_int(w, (int64_t)json_integer_value(j));
        break;
    case JSON_REAL:
        sl_mp_write_double(w, json_real_value(j));
        break;
    case JSON_TRUE:
        sl_mp_write_bool(w, true);
        break;
    case JSON_FALSE:
        sl_mp_write_bool(w, false);
        break;
    default:
        sl_mp_write_nil(w);
        break;
    }
    return whole;
}

int sl_wire_json_to_mp(sl_mp_writer_t *w, const json_t *value, int max_depth)
{
    bool whole = s_json_to_mp(w, value, 1, max_depth);
    int rc = sl_mp_writer_error(w);
    return rc ? rc : whole ? 0 : SL_ETOOBIG;
}

/* ---- msgpack -> JSON --------------------------------------------------- */

static int s_mp_value(sl_mp_reader_t *r, int depth, json_t **out)
{
    *out = NULL;
    if (depth > SL_WIRE_JSON_MAX_DEPTH) {
        return SL_ETOOBIG;
    }
    int rc = 0;
    switch (sl_mp_peek(r)) {
    case SL_MP_NIL:
        rc = sl_mp_read_nil(r);
        *out = json_null();
        break;
    case SL_MP_BOOL: {
        bool b;
        rc = sl_mp_read_bool(r, &b);
        *out = json_boolean(b);
        break;
    }
    case SL_MP_INT: {
        int64_t i;
        rc = sl_mp_read_int(r, &i);
        *out = json_integer(i);
        break;
    }
    case SL_MP_DOUBLE: {
        double d;
        rc = sl_mp_read_double(r, &d);
        *out = json_real(d);
        break;
    }
    case SL_MP_STR: {
        const char *str;
        size_t len;
        rc = sl_mp_read_str(r, &str, &len);
        *out = rc == 0 ? json_stringn(str, len) : NULL;
        if (rc == 0 && !*out) {
            return SL_EPROTO; /* not UTF-8, or a NUL */
        }
        break;
    }
    case SL_MP_ARRAY: {
        uint32_t n;
        rc = sl_mp_read_array(r, &n);
        json_t *arr = json_array();
        for (uint32_t i = 0; rc == 0 && arr && i < n; i++) {
            json_t *v = NULL;
            rc = s_mp_value(r, depth + 1, &v);
            if (rc == 0 && json_array_append_new(arr, v) != 0) {
                rc = SL_ENOMEM;
            }
        }
        *out = arr;
        break;
    }
    case SL_MP_MAP: {
        uint32_t n;
        rc = sl_mp_read_map(r, &n);
        json_t *obj = json_object();
        for (uint32_t i = 0; rc == 0 && obj && i < n; i++) {
            const char *k;
            size_t klen;
            rc = sl_mp_peek(r) == SL_MP_STR ? sl_mp_read_str(r, &k, &klen) : SL_EPROTO;
            json_t *v = NULL;
            if (rc == 0) {
                rc = s_mp_value(r, depth + 1, &v);
            }
            if (rc == 0 && json_object_setn_new(obj, k, klen, v) != 0) {
                rc = SL_EPROTO; /* a key that is not UTF-8 */
            }
        }
        *out = obj;
        break;
    }
    default:
        return SL_EPROTO; /* bin and ext have no JSON form */
    }
    if (rc == 0 && !*out) {
        rc = SL_ENOMEM;
    }
    if (rc != 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int sl_wire_mp_to_json(const void *buf, size_t len, json_t **out)
{
    if (!out || (!buf && len)) {
        return SL_EINVAL;
    }
    *out = NULL;
    int rc = sl_mp_validate(buf, len);
    if (rc != 0) {
        return rc;
    }
    sl_mp_reader_t r;
    sl_mp_reader_init(&r, buf, len);
    return s_mp_value(&r, 1, out);
}
