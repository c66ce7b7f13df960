/*  mock_frames.h: the JSON frames the mock fleet sends.

    Pure builders over jansson, shaped like the frames captured from the real
    fleet (tests/data/protocol/): same keys, same key order, same types, and
    Python's json.dumps() separators (", " and ": ") and ASCII escaping.
    Every builder returns a malloc'd NUL-terminated string that the caller
    frees with free(), or NULL when out of memory. String arguments are
    borrowed for the call; NULL "id" arguments omit the key (legacy frames).
*/
#ifndef SL_MOCK_FRAMES_H
#define SL_MOCK_FRAMES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tools/mock/mock_fleet.h"

/* Number of progress stages of a service (first is "starting", last
   "completed"), and the stage name and message of stage i (clamped). */
int sl_mock_stage_count(sl_service_t svc);
const char *sl_mock_stage_name(sl_service_t svc, int i);
/* Index of the stage called name in svc's stages, or -1. */
int sl_mock_stage_find(sl_service_t svc, const char *name);

/* profile=real: the real service's own pushes (count 0 for the generator,
   which was not studied), the share (per mille) of the analysis duration at
   which push i comes, its stage name, the index of a name (-1), and the
   push itself (NULL if i is out of range). */
int sl_mock_real_stage_count(sl_service_t svc);
int sl_mock_real_stage_permille(sl_service_t svc, int i);
const char *sl_mock_real_stage_name(sl_service_t svc, int i);
int sl_mock_real_stage_find(sl_service_t svc, const char *name);
/* url: the target URL a performance "checking" push names (NULL: a
   made-up one). */
char *sl_mock_frame_real_progress(sl_service_t svc, const char *correlation_id, int i,
                                  const char *model, int64_t app, int issues, const char *url);

/* Request "type" a service answers ("static_analyze", "generate"). */
const char *sl_mock_request_type(sl_service_t svc);

/* Python-style naive UTC ISO time with microseconds:
   "2026-11-28T20:54:18.778754". buf must hold 32 bytes. */
void sl_mock_iso_now(char *buf, size_t size);

/* id: mux echoes the request's id; NULL (legacy) omits it. */
char *sl_mock_frame_pong(sl_service_t svc, const char *id);
/* available_tools: tools, or the service's default set when NULL / unset. */
char *sl_mock_frame_health(sl_service_t svc, const char *id, double uptime,
                           const sl_mock_tools_t *tools);
/* {"type":"error",("id",)"message",("service")}; svc < 0 omits service. */
char *sl_mock_frame_error(const char *id, const char *message, int svc);
char *sl_mock_frame_status_update(sl_service_t svc, const char *analysis_id, const char *model,
                                  int64_t app);
/* Legacy out-of-band push for stage i. */
char *sl_mock_frame_progress_update(sl_service_t svc, const char *correlation_id, int i,
                                    const char *model, int64_t app, int issues);
/* mux in-band progress for stage i; issues >= 0 adds a "partial" result
   (stages done, issues found so far of issues in all). */
char *sl_mock_frame_progress(sl_service_t svc, const char *id, int i, double pct, const char *model,
                             int64_t app, int issues);
char *sl_mock_frame_simple(const char *type, const char *id); /* accepted, heartbeat, cancelled */
/* "<x>_analysis_result". tools: the request's array of strings or NULL
   (= every available tool). verdict: outer success, inner error. */
char *sl_mock_frame_result(sl_service_t svc, const char *id, const char *model, int64_t app,
                           const json_t *tools, int verdict);

/* How a replica shapes its results (sl_mock_frame_result_with). */
typedef struct {
    const sl_mock_tools_t *available; /* the replica's tools; NULL = the service's defaults */
    bool partial;                     /* outer and inner status "partial" (ai: "partial_success") */
    const json_t *target_urls;        /* the URLs the service tested (analysis.target_urls) */
    bool unreachable;                 /* none reachable: status "targets_unreachable" */
    const char *resumed_from;         /* mux resume: top-level "resumed_from" (a stage name) */
} sl_mock_result_opts_t;

/* The result as a replica with these tools answers it, as the real services
   do: requested tools it lacks are skipped (absent from tools_used; the
   dynamic service lists curl/nmap/zap as "not_available" in tool_results);
   when none of the requested tools can run, static and dynamic still answer
   "success" with an empty tools_used, performance answers "error"
   (analysis_status "tools_failed") and ai an error result "No valid analysis
   tool selected. Available: [...]". dynamic and performance results carry
   tool_results {tool: {tool, status, executed, total_issues}}. */
char *sl_mock_frame_result_with(sl_service_t svc, const char *id, const char *model, int64_t app,
                                const json_t *tools, int verdict,
                                const sl_mock_result_opts_t *opts);
char *sl_mock_frame_generation(const char *id, const char *model, const char *template_slug,
                               int64_t app_number);

/* A success result frame rendered once for (svc, model, app, tools), with
   its per-frame parts (id, analysis_time, timestamp) filled in per frame:
   the same bytes sl_mock_frame_result builds, at a fraction of the cost
   (the instant mux path answers thousands of identical requests a second).
   new: NULL when out of memory. matches: whether it renders this request.
   render: the frame (caller frees), or NULL when id needs JSON escaping or
   out of memory (build it with sl_mock_frame_result then). */
typedef struct sl_mock_result_tmpl sl_mock_result_tmpl_t;
sl_mock_result_tmpl_t *sl_mock_result_tmpl_new(sl_service_t svc, const char *model, int64_t app,
                                               const json_t *tools);
bool sl_mock_result_tmpl_matches(const sl_mock_result_tmpl_t *t, sl_service_t svc,
                                 const char *model, int64_t app, const json_t *tools);
char *sl_mock_result_tmpl_render(const sl_mock_result_tmpl_t *t, const char *id);
void sl_mock_result_tmpl_destroy(sl_mock_result_tmpl_t **p);

#endif
