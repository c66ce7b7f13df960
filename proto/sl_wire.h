/*  sl_wire.h: the analyzers' JSON wire formats (legacy, generation, mux).

    Pure functions: no I/O, no threads, no global state of our own; safe to
    call from any thread on distinct objects. The endpoint actor builds request
    frames here, parses every frame a replica (or the out-of-band progress
    gateway) sends into an sl_wire_frame_t, and classifies result frames into
    an sl_outcome_t. The mock fleet uses the same functions from the server
    side (parse requests, build mux frames).

    JSON library: jansson (Debian libjansson-dev). Chosen because it has a
    small, stable C API; a strict parser that rejects invalid UTF-8, raw
    control bytes and "\u0000" in strings, reports error positions, and caps
    nesting depth (JSON_PARSER_MAX_DEPTH, 2048 in Debian's build) so deep input
    fails instead of overflowing the stack; objects keep insertion order (so
    builders reproduce the fleet's key order); no global state beyond its
    hash seed; and it is in Debian.

    Ownership: builders return a malloc'd, NUL-terminated, compact JSON string
    that the caller frees with free(). A parsed sl_wire_frame_t owns its json_t
    tree; every `const char *` and `const json_t *` inside it borrows from
    that tree and stays valid until sl_wire_frame_clear().

    Errors: negative codes from runtime/sl_err.h. Builders return SL_EINVAL
    for NULL required arguments or strings that are not valid UTF-8,
    SL_ENOMEM on allocation failure. Parsing never aborts on any bytes.

    ---- legacy protocol (the existing fleet) ----------------
    One analysis per connection. Client sends
      {"type":"static_analyze"|"dynamic_analyze"|"performance_test"|"ai_analyze",
       "model_slug","app_number","tools"?,"id","timestamp"?, ...} with the
    running-app services' fields as their own client sends them (see
    sl_wire_build_analyze): a top-level "target_urls" (never inside
    "config": the services do not read it there), performance's
    "target_url", "users", "duration", and "config"{"template_slug", ai's
    "backend_port", "frontend_port"}. "tools" omitted when empty = all tools. The server
    may send {"type":"status_update","stage","message","analysis_id"}, then one
    result frame {"type":"<x>_analysis_result","status","service","analysis":{..}}
    and closes with 1000. Error frames: {"type":"error","message"|"error":..}.
    Control: {"type":"ping"} -> {"type":"pong"}; {"type":"health_check"} ->
    {"type":"health_response","status","available_tools":[..]}.
    Out-of-band progress (pushed to sluiced's gateway):
      {"type":"progress_update","correlation_id","stage","message","service",
       "data":{..}} (correlation_id is empty from dynamic/performance).

    ---- generation -------------------------------------------------------
      {"type":"generate","id","model_slug","template_slug","options":{..}}
      -> optional progress -> {"type":"generation_result","status":
         "success"|"error","app_number":N,"error"?}

    ---- mux protocol (ours, for analyzers built for sluice and the mock) ---
    A persistent connection carrying many analyses keyed by "id".
    Client -> server:
      - the legacy request frames above (analyze or generate), each with an
        "id" unique on the connection; a retry of an analysis (another
        attempt of the same task: after a failure, a DLQ retry, a
        re-dispatch after sluiced restarted) ends with "resume_from": the
        last "checkpoint" the task reached on any replica, verbatim. An
        analyzer that can resume skips the work before that checkpoint (and
        may say so in its result); one that cannot ignores the key. Never
        sent on the legacy protocol (the fleet has no such field);
      - {"type":"ping"}, {"type":"health_check"} as in legacy;
      - {"type":"cancel","id"}.
    Server -> client:
      - {"type":"accepted","id"}                       optional, once per id;
      - {"type":"progress","id","stage","pct","message","checkpoint","partial"?}  (partial: object,
   the result so far) pct is a number 0..100 (optional), checkpoint an optional opaque string the
   analyzer could resume from;
      - {"type":"heartbeat","id"} per running analysis, at least every
        heartbeat_timeout/3 (services/<name>/heartbeat_timeout_s);
        {"type":"heartbeat"} without id = connection liveness only;
      - the legacy result frame plus "id" (or generation_result plus "id");
      - {"type":"error","id","message"} ends that id like a result;
        {"type":"error","message"} without id is about the connection;
      - {"type":"cancelled","id"} answers a cancel; no result follows for id.
    Exactly one of result / error / cancelled ends each id.
*/
#ifndef SL_WIRE_H
#define SL_WIRE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_mp.h"
#include "proto/sl_outcome.h"
#include "proto/sl_services.h"

/* Largest frame sl_wire_frame_parse accepts (bytes). */
#define SL_WIRE_MAX_FRAME (64u * 1024u * 1024u)

/* Longest error text kept by sl_wire_classify (bytes, with the NUL). */
#define SL_WIRE_ERROR_MAX 256

/* ---- requests ---------------------------------------------------------- */

/* The fleet client's load settings for a performance_test that names none
   (analyzer_manager.py run_performance_test). */
#define SL_WIRE_PERF_USERS 10
#define SL_WIRE_PERF_DURATION_S 60

/* An analysis request. All pointers are borrowed for the call only. */
typedef struct {
    sl_service_t analysis;    /* an analyzer (SL_SVC_STATIC .. SL_SVC_AI) */
    const char *model_slug;   /* required */
    int64_t app_number;       /* required */
    const char *const *tools; /* tools_count strings; 0 = omit = all */
    size_t tools_count;
    const char *id;                 /* required: legacy id / mux correlation */
    int64_t wall_ms;                /* "timestamp" from epoch ms; < 0 = omit */
    const char *const *target_urls; /* expanded; top-level "target_urls"; 0 = omit */
    size_t target_urls_count;
    const char *template_slug; /* dynamic, ai: config.template_slug; NULL = omit */
    int64_t backend_port;      /* ai: config.backend_port; <= 0 = omit */
    int64_t frontend_port;     /* ai: config.frontend_port; <= 0 = omit */
    const json_t *options;     /* the service's options object or NULL: performance's
                                  integer "users" and "duration" go top-level, every
                                  other key into "config" (after the keys above) */
    const char *resume_from;   /* mux only: the task's last checkpoint, sent as a last
                                  "resume_from" key; NULL = omit (always NULL on legacy) */
} sl_wire_analyze_req_t;

/* Builds an analysis request frame as the fleet's own client builds it
   (analyzer_manager.py), keys in its order:
     static_analyze    type, model_slug, app_number, tools, id, timestamp, config
     dynamic_analyze   type, model_slug, app_number, target_urls, tools, timestamp,
                       id, config{template_slug, options...}
     performance_test  type, model_slug, app_number, target_url (the first URL),
                       target_urls, users, duration, tools, timestamp, id,
                       config{options...}
     ai_analyze        type, model_slug, app_number, tools, target_urls,
                       config{template_slug, backend_port, frontend_port,
                       options... (e.g. gemini_model)}, timestamp, id
   "tools" is omitted when empty (= all tools), "target_urls" when there are
   none, "config" when it would be empty, "resume_from" (mux) unless set,
   after all the others; users/duration default to
   SL_WIRE_PERF_USERS/SL_WIRE_PERF_DURATION_S. The timestamp is
   UTC like Python's isoformat(): "2026-11-28T20:55:00+00:00", with
   ".mmm000" before the offset when wall_ms has a millisecond part.
   On success *out is a malloc'd NUL-terminated string (caller frees with
   free()) and *out_len (if out_len is not NULL) its length.
   Returns 0, SL_EINVAL (also: options not an object, a performance
   users/duration not an integer), SL_ENOMEM. */
int sl_wire_build_analyze(const sl_wire_analyze_req_t *req, char **out, size_t *out_len);

/* {"type":"generate","id","model_slug","template_slug","options"}.
   options is borrowed; it must be a JSON object or NULL (sent as {}).
   Same output and return rules as sl_wire_build_analyze. */
int sl_wire_build_generate(const char *id, const char *model_slug, const char *template_slug,
                           const json_t *options, char **out, size_t *out_len);

/* {"type":"ping"} / {"type":"health_check"}; with ,"id" when id is not NULL
   (the fleet ignores it; mux servers may echo it). */
int sl_wire_build_ping(const char *id, char **out, size_t *out_len);
int sl_wire_build_health_check(const char *id, char **out, size_t *out_len);

/* mux: {"type":"cancel","id"}. */
int sl_wire_build_cancel(const char *id, char **out, size_t *out_len);

/* ---- mux server frames (for the mock fleet and tests) ------------------ */

/* {"type":"accepted","id"} */
int sl_wire_build_accepted(const char *id, char **out, size_t *out_len);

/* {"type":"progress","id","stage","pct","message","checkpoint"}; stage,
   message and checkpoint may be NULL (omitted); pct < 0 omits "pct". */
int sl_wire_build_progress(const char *id, const char *stage, double pct, const char *message,
                           const char *checkpoint, char **out, size_t *out_len);

/* {"type":"heartbeat","id"}; id NULL = {"type":"heartbeat"}. */
int sl_wire_build_heartbeat(const char *id, char **out, size_t *out_len);

/* {"type":"cancelled","id"} */
int sl_wire_build_cancelled(const char *id, char **out, size_t *out_len);

/* {"type":"error","id","message"}; id NULL omits "id". */
int sl_wire_build_error(const char *id, const char *message, char **out, size_t *out_len);

/* A result frame as the fleet sends it, plus "id" for mux (id NULL omits it):
   {"type":"<x>_analysis_result","id"?,"status","service","analysis"?,"error"?}
   with type and service from the services declaration (proto/sl_services.def:
   "static_analysis_result", "static-analyzer"; performance is
   "performance_analysis_result"). analysis must be an analyzer.
   body is borrowed (deep-copied; must be an object or NULL = omitted); error
   NULL omits "error". */
int sl_wire_build_result(sl_service_t analysis, const char *id, const char *status,
                         const json_t *body, const char *error, char **out, size_t *out_len);

/* {"type":"generation_result","id"?,"status","app_number"?,"error"?};
   id NULL / app_number < 0 / error NULL omit those keys. */
int sl_wire_build_generation_result(const char *id, const char *status, int64_t app_number,
                                    const char *error, char **out, size_t *out_len);

/* ---- parsing ----------------------------------------------------------- */

typedef enum {
    SL_WIRE_UNKNOWN = 0, /* a valid object whose "type" we do not know */
    /* server -> client, legacy and generation */
    SL_WIRE_STATUS_UPDATE,     /* u.status_update */
    SL_WIRE_ANALYSIS_RESULT,   /* any "*_analysis_result": u.result */
    SL_WIRE_GENERATION_RESULT, /* u.generation */
    SL_WIRE_ERROR,             /* u.error (legacy or mux, id optional) */
    SL_WIRE_PONG,              /* nothing beyond the common fields */
    SL_WIRE_HEALTH_RESPONSE,   /* u.health */
    SL_WIRE_PROGRESS_UPDATE,   /* legacy out-of-band push: u.progress_update */
    /* server -> client, mux */
    SL_WIRE_ACCEPTED,  /* id */
    SL_WIRE_PROGRESS,  /* id + u.progress */
    SL_WIRE_HEARTBEAT, /* id or NULL (connection liveness) */
    SL_WIRE_CANCELLED, /* id */
    /* client -> server (for the mock fleet) */
    SL_WIRE_ANALYZE_REQUEST,  /* u.analyze */
    SL_WIRE_GENERATE_REQUEST, /* u.generate */
    SL_WIRE_PING,
    SL_WIRE_HEALTH_CHECK,
    SL_WIRE_CANCEL, /* id */
    SL_WIRE__KIND_COUNT
} sl_wire_kind_t;

/* Stable name of a kind ("analysis_result"); "invalid" if out of range. */
const char *sl_wire_kind_name(sl_wire_kind_t kind);

/* A parsed frame. Strings are NUL-free UTF-8 borrowed from root; a field the
   frame lacks (or sends as null) is NULL / has_x = false. Which union member
   is valid depends on kind (see sl_wire_kind_t). */
typedef struct {
    sl_wire_kind_t kind;
    const char *type;      /* "type" as sent; always set after a successful parse */
    const char *id;        /* "id": mux correlation, request id; NULL if absent */
    const char *service;   /* "service"; NULL if absent */
    const char *timestamp; /* "timestamp" as sent; NULL if absent */
    union {
        struct {
            const char *stage, *message, *analysis_id;
        } status_update;
        struct {
            const char *status;       /* outer "status" (required) */
            const json_t *analysis;   /* "analysis" object or NULL */
            const char *inner_status; /* analysis.status or NULL */
            const char *inner_error;  /* analysis.error (or .message) or NULL */
            const char *error;        /* top-level "error" / "message" or NULL */
        } result;
        struct {
            const char *status; /* required */
            int64_t app_number;
            bool has_app_number;
            const char *error; /* "error" / "message" or NULL */
        } generation;
        struct {
            const char *message; /* "message", else "error" (string, or an
                                    object's "message"); NULL if neither */
        } error;
        struct {
            const char *status;
            const json_t *available_tools; /* array of strings, or NULL */
        } health;
        struct {
            const char *correlation_id; /* "" when the service sends it empty */
            const char *stage, *message;
            const json_t *data; /* object or NULL */
            double pct;         /* data.pct or data.progress, clamped 0..100 */
            bool has_pct;
        } progress_update;
        struct {
            const char *stage, *message, *checkpoint;
            double pct; /* clamped 0..100 */
            bool has_pct;
            const json_t *partial; /* "partial": the result so far, object or NULL */
        } progress;
        struct {
            sl_service_t analysis;
            const char *model_slug;    /* required */
            int64_t app_number;        /* required */
            const json_t *tools;       /* array of strings, or NULL = all */
            const json_t *target_urls; /* top-level target_urls strings, or NULL
                                          (a config.target_urls is not read) */
            const char *target_url;    /* performance's legacy single URL or NULL */
            int64_t users, duration;   /* performance's load settings */
            bool has_users, has_duration;
            const json_t *config;      /* "config" object or NULL */
            const char *template_slug; /* config.template_slug or NULL */
        } analyze;
        struct {
            const char *model_slug, *template_slug; /* required */
            const json_t *options;                  /* object or NULL */
        } generate;
    } u;
    json_t *root; /* owned; freed by sl_wire_frame_clear */
} sl_wire_frame_t;

/* Parses one text frame of len bytes (need not be NUL-terminated; embedded
   NULs are rejected, never truncate). self need not be initialised and is
   overwritten without being freed: clear a frame before parsing into it
   again. On failure self is zeroed (clearing it is safe).
   Validation: the whole input must be one JSON object with a string "type";
   fields this header names are checked for type (absent or null = NULL);
   required fields: result/generation "status"; mux accepted/progress/
   cancelled/cancel "id"; request model_slug, app_number (and template_slug).
   Returns 0 (also for unknown types: kind SL_WIRE_UNKNOWN),
   SL_EINVAL (NULL self, or NULL buf with len > 0), SL_ETOOBIG (len >
   SL_WIRE_MAX_FRAME), SL_EPROTO (not JSON, not an object, bad UTF-8, too
   deep, a field of the wrong type), SL_EMISSING (a required field absent),
   SL_ENOMEM. Callers treat every failure as a malformed frame. */
int sl_wire_frame_parse(sl_wire_frame_t *self, const void *buf, size_t len);

/* Frees the tree and zeroes self; accepts NULL and cleared frames. */
void sl_wire_frame_clear(sl_wire_frame_t *self);

/* True for the frames that end an attempt: analysis result, generation
   result, error, cancelled (exactly the kinds sl_wire_classify accepts).
   On mux, an error frame without id is about the connection, not one
   attempt: the endpoint checks self->id. NULL -> false. */
bool sl_wire_frame_is_terminal(const sl_wire_frame_t *self);

/* ---- classification ---------------------------------------------------- */

/* What a terminal frame means for the attempt. */
typedef struct {
    sl_outcome_t outcome;
    int64_t app_number; /* generation success: the new app's number */
    bool has_app_number;
    char error[SL_WIRE_ERROR_MAX]; /* short human text; "" on success */
} sl_wire_verdict_t;

/* Classifies a terminal frame (analysis result, generation result, error,
   cancelled) into an outcome. Rule table:

     frame                         status / condition            outcome
     *_analysis_result             "success", analysis.status    VERDICT (the static
                                   "error" or "failed"           analyzer's "app not found")
     *_analysis_result             "success"                     SUCCESS
     *_analysis_result             "partial", "partial_success"  PARTIAL
     *_analysis_result             "targets_unreachable"         TARGETS_UNREACHABLE
     *_analysis_result             "error"/"failed", bad input   VERDICT
     *_analysis_result             "error"/"failed", otherwise   ANALYZER_ERROR
     *_analysis_result             any other status              ANALYZER_ERROR
     generation_result             "success"                     SUCCESS (+ app_number;
                                                                 ANALYZER_ERROR if missing)
     generation_result             "error", bad input / other    VERDICT / ANALYZER_ERROR
     generation_result             any other status              ANALYZER_ERROR
     error                         bad input / other             VERDICT / ANALYZER_ERROR
     cancelled                     -                             CANCELLED (error "the
                                                                 analyzer cancelled it")

   "Bad input" = the error text names the input as wrong (case-insensitive):
   "not found" about a path/app/model/template ("path not found", "app not
   found", "model not found", "template not found", "application not
   found"), "does not exist", "no such app/model/template", "invalid
   request", "invalid app", "invalid model", "invalid template", "unknown
   tool", "invalid tool", "unsupported tool", "no valid analysis tool" (the
   ai service asked only for tools it lacks), "missing required" (searched
   in the text's first 4 KiB). Protocol errors ("Unknown message type",
   "Invalid JSON format") and everything else stay ANALYZER_ERROR
   (retryable, counts against the replica).
   verdict->error gets the analyzer's text, truncated on a UTF-8 boundary,
   or a synthesized one ("unknown status: x").
   Returns 0, SL_EINVAL (NULL args, or a frame kind that does not end an
   attempt: verdict untouched). */
int sl_wire_classify(const sl_wire_frame_t *frame, sl_wire_verdict_t *verdict);

/* True if the error text means the analyzer rejected the input (the "bad
   input" rule above). NULL -> false. */
bool sl_wire_error_is_verdict(const char *text);

/* ---- tools ---------------------------------------------------------------- */

/* The fleet's services accept some tools under other names and report them
   under their own: performance "ab-load-test", "locust-performance",
   "aiohttp-load", "artillery-load" run as "ab", "locust", "aiohttp",
   "artillery"; ai "requirements-checker", "openrouter-requirements",
   "ai_requirements_compliance" as "requirements-scanner". Returns the name
   the service runs tool under (static storage, or tool itself). Case is
   not changed; compare names with strcasecmp (the services lowercase the
   names they are sent). NULL -> NULL. */
const char *sl_wire_tool_run_name(const char *tool);

/* The tool a replica's health_response available_tools must list for it to
   run tool: its run name, except dynamic's "curl-endpoint-tester", which
   runs on "curl" and is never listed. NULL -> NULL. */
const char *sl_wire_tool_needs(const char *tool);

/* True if a replica listing the n names `have` (its available_tools) can
   run tool (sl_wire_tool_needs, case-insensitive). */
bool sl_wire_tool_listed(const char *tool, const char *const *have, size_t n);

/* What a result frame says about the tools a request asked for. */
typedef struct {
    bool known;    /* the result reports its tools (tools_used, tool_results or tools) */
    size_t asked;  /* tools asked for */
    size_t missed; /* asked for and not run */
    /* "zap (not_available), nikto": each missed tool, with the status the
       result gave it when it names it; "" when none; cut on a UTF-8 boundary */
    char text[SL_WIRE_ERROR_MAX];
} sl_wire_tools_report_t;

/* Checks an analysis result frame against the n requested tools (n = 0:
   "all tools", nothing to check). A tool ran when the result lists it (or
   its run name) in analysis.tools_used, as a key of the ai service's
   analysis.tools, or with "executed": true in analysis.tool_results or
   analysis.results.tool_runs. A tool that did not run is named with the
   status the result gives it there or in a static language bucket
   (analysis.results.<lang>.<tool>: "not_available", "skipped", "not_run",
   ...), else plainly (the services drop tools they lack without a word).
   A result that reports none of these structures is not judged (known
   false, missed 0). Returns 0, or SL_EINVAL (NULL frame/out, a frame that
   is not an analysis result, tools NULL with n > 0). */
int sl_wire_tools_report(const sl_wire_frame_t *frame, const char *const *tools, size_t n,
                         sl_wire_tools_report_t *out);

/* The issues an analysis result frame reports (the escalation rule of
   scan profiles, README "Scan profiles"): analysis.summary.total_issues_found
   (the static analyzer's, the mock's), else analysis.summary.total_findings
   (the dynamic analyzer's), else the sum of analysis.tool_results.<tool>.
   total_issues (dynamic, performance); the first of these the frame has as
   a non-negative integer. -1 when it has none (the ai analyzer counts no
   issues), or for NULL or a frame that is not an analysis result. */
int64_t sl_wire_result_issues(const sl_wire_frame_t *frame);

/* Trims s back to its last complete UTF-8 sequence, for text that was
   valid UTF-8 until snprintf (or a copy) cut it short to fit a buffer: a
   sequence cut in two would make the text unencodable as JSON. Returns
   the new length. s NULL gives 0. */
size_t sl_wire_utf8_trim(char *s);

/* ---- JSON -> msgpack ---------------------------------------------------- */

/* Nesting sl_wire_json_to_mp keeps for analyzer data (progress "data"). */
#define SL_WIRE_JSON_MAX_DEPTH 16

/* Writes a JSON value as msgpack: objects as maps (keys as str), arrays,
   strings, integers as ints, reals as doubles, bools; NULL (no value), JSON
   null and anything nested deeper than max_depth levels (value itself =
   level 1) as nil, so the output is always one well-formed object. Returns
   the writer's sticky error if a write failed, else SL_ETOOBIG if something
   was cut at max_depth (callers that must not lose data refuse then), else
   0. Any thread; w is the caller's. */
int sl_wire_json_to_mp(sl_mp_writer_t *w, const json_t *value, int max_depth);

/* Reads one msgpack object (maps with string keys, arrays, strings,
   integers, doubles, bools, nil) into a new JSON value (*out, caller
   decrefs). Returns 0, SL_EINVAL, SL_EPROTO/SL_ETRUNC (not one msgpack
   object; bin or ext; a non-string key; a string that is not UTF-8 or holds
   a NUL), SL_ETOOBIG (nested deeper than SL_WIRE_JSON_MAX_DEPTH), SL_ENOMEM.
   On failure *out is NULL. Any thread. */
int sl_wire_mp_to_json(const void *buf, size_t len, json_t **out);

#endif
