/*  sl_plan.h: the start request of a pipeline, parsed and validated into a
    plan; the analyzer services and their tools; the retry policy and backoff.

    Pure functions, no I/O, no threads, no global mutable state: the pipeline
    shard calls them on its own thread, tests call them directly. A plan owns
    everything it points to (sl_plan_destroy frees it).

    The request is the API's `pipeline.start` args (a msgpack map):
        {name?, config: {generation, analysis}, timeouts?, retry?}
    or the seed's top-level shape {name?, generation, analysis, timeouts?,
    retry?}. Field by field:
        generation.mode               "generate" (default) | "existing"
        generation.models             generate: non-empty list of non-empty str
        generation.templates          generate: non-empty list of non-empty str
        generation.existing_apps      existing: non-empty list of
                                      {model: str, app_number: int >= 0,
                                       template?: str, target_urls?: up to 64
                                       URL templates (instead of the plan's),
                                       ports?: {backend?, frontend?: 1..65535}}
        generation.options            {parallel: bool, max_concurrent_tasks: int}
        analysis.enabled              bool (default true when analysis is given)
        analysis.analyzers            list of analyzer names (static-analyzer, ...,
                                      or static, dynamic, performance, ai): each
                                      runs with all its tools (no "tools" key sent)
        analysis.tools                list of tool names, each one of an analyzer's
                                      `tools` (defaults.tools, compared without
                                      case): that analyzer runs those tools;
                                      neither list = every analyzer, all tools
        analysis.profile              a scan profile's name (profiles/<name>:
                                      quick, standard, deep, the config's
                                      own): its analyzers, tools and
                                      timeouts; not with analysis.analyzers;
                                      analysis.tools then picks among the
                                      profile's analyzers (another analyzer's
                                      tool is an error naming it)
        analysis.escalate             a profile run again for each app whose
                                      analyses (all terminal) had one failed
                                      or dead, or found more than
                                      escalate_threshold issues in all
        analysis.escalate_threshold   int >= 0 [0]; only with escalate
        analysis.options              {parallel, max_concurrent_tasks,
                                       target_urls: up to 64 URL templates with
                                       {model}, {app}, {model_safe},
                                       {backend_port}, {frontend_port},
                                       static?, dynamic?, performance?, ai?:
                                       a map passed to that analyzer
                                       (performance.users 1..100000,
                                       performance.duration 1..86400 s)}
        timeouts  (seconds, > 0)      {task, stage, pipeline, attempt, progress, queue}
        retry                         {max_attempts 1..100, initial s >= 0,
                                       coefficient 1..100, max s >= initial,
                                       app_unreachable s >= 0,
                                       app_unreachable_retries 0..100}
    parallel false means one task of that stage at a time. Unknown keys at
    the top level are ignored (the API may add its own); unknown keys inside
    timeouts and retry are errors (a typo must not silently use a default).

    Tools by service: services/<name>/tools (default: proto/sl_services.def;
    also in the README). Generation goes to the `generator` service.
*/
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/config/sl_config.h"
#include "proto/sl_catalog.h"  /* sl_strs_t */
#include "proto/sl_services.h" /* sl_service_t, the tools of each analyzer */

/* ---- retry policy ----------------------------------------------------------------- */

/* Defaults: pipeline/max_attempts, backoff_* keys of sl_config.c. */
typedef struct {
    uint32_t max_attempts; /* attempts per task, the first included */
    int64_t initial_ms;
    double coefficient;
    int64_t max_ms;
    /* targets_unreachable (the app, not the replica): wait this long, this
       many times, then fail; such attempts use none of max_attempts */
    int64_t unreachable_ms;
    uint32_t unreachable_retries;
} sl_retry_policy_t;

/* The wait before retry number `retry` (1 = the wait after the first failed
   attempt): full jitter, uniform in [0, min(max, initial * coefficient^(retry-1))].
   rng is the caller's xorshift state (never 0; advanced). Never negative. */
int64_t sl_retry_backoff_ms(const sl_retry_policy_t *self, uint32_t retry, uint64_t *rng);

/* The cap for retry (the upper bound of the jitter interval). */
int64_t sl_retry_cap_ms(const sl_retry_policy_t *self, uint32_t retry);

/* ---- timeouts ---------------------------------------------------------------------- */

/* Defaults: the [pipeline] keys of actors/config/sl_config.c. */
typedef struct {
    int64_t task_ms;     /* all attempts and waits of one task */
    int64_t stage_ms;    /* one stage */
    int64_t pipeline_ms; /* the whole pipeline */
    int64_t attempt_ms;  /* [0 = the endpoint's default] */
    int64_t progress_ms; /* [0 = the endpoint's default] */
    int64_t queue_ms;    /* [0 = the endpoint's default] */
} sl_plan_timeouts_t;

/* Values used where the request says nothing. */
typedef struct {
    sl_plan_timeouts_t timeouts;
    sl_retry_policy_t retry;
    uint32_t max_concurrent_tasks; /* per stage of a pipeline */
    uint32_t max_tasks;            /* refuse bigger pipelines [SL_PLAN_MAX_TASKS] */
    /* each analyzer's tool names, comma-separated (services/<name>/tools) */
    char tools[SL_SVC_ANALYZERS][SL_CONFIG_TOOLS];
    /* the scan profiles a request may name (profiles/<name>/...) */
    sl_profile_conf_t profiles[SL_CONFIG_MAX_PROFILES];
    size_t nprofiles;
} sl_plan_defaults_t;

/* Tasks a pipeline may have at most (not a configuration key). */
#define SL_PLAN_MAX_TASKS 100000

/* The defaults of a configuration: its [pipeline] keys, each analyzer's
   services/<name>/tools and its profiles. */
void sl_plan_defaults_from_config(sl_plan_defaults_t *self, const sl_config_t *cfg);

/* The built-in defaults: sl_plan_defaults_from_config(sl_config_builtin()),
   what sluiced runs with when its configuration says nothing. */
void sl_plan_defaults_init(sl_plan_defaults_t *self);

/* ---- plan --------------------------------------------------------------------------- */

/* An existing app (existing mode). */
typedef struct {
    char *model;
    int64_t app_number;
    char *tmpl;            /* its template slug, or NULL */
    sl_strs_t target_urls; /* its own URL templates; empty = the plan's */
    int64_t backend_port;  /* its host ports, 0 = unknown */
    int64_t frontend_port;
} sl_plan_app_t;

typedef struct {
    char *name;          /* "" when not given */
    bool existing;       /* generation.mode == "existing" */
    sl_strs_t models;    /* generate mode */
    sl_strs_t templates; /* generate mode */
    sl_plan_app_t *apps; /* existing mode */
    size_t napps;
    bool analysis;                        /* analysis enabled */
    bool services[SL_SVC_ANALYZERS];      /* analyzers to run per app */
    sl_strs_t tools[SL_SVC_ANALYZERS];    /* tools per analyzer; empty = all */
    sl_strs_t target_urls;                /* URL templates (sl_plan_expand_url) */
    sl_bytes_t options[SL_SVC_ANALYZERS]; /* analysis.options.<alias> maps (msgpack),
                                             passed to the analyzer; empty = none */
    uint32_t gen_limit;                   /* concurrent generation tasks */
    uint32_t ana_limit;                   /* concurrent analysis tasks */
    sl_plan_timeouts_t timeouts;
    sl_retry_policy_t retry;
    /* Scan profiles (README, "Scan profiles"): the profile the analyzers,
       tools and timeouts above came from, and the one run again for an
       app whose first analyses found more than escalate_threshold issues
       or failed, with its own analyzers, tools and timeouts. */
    char *profile;  /* analysis.profile, NULL = none */
    char *escalate; /* analysis.escalate, NULL = no escalation */
    int64_t escalate_threshold;
    bool esc_services[SL_SVC_ANALYZERS];
    sl_strs_t esc_tools[SL_SVC_ANALYZERS];
    sl_plan_timeouts_t esc_timeouts;
} sl_plan_t;

/* Parses and validates a start request. defaults: NULL for the built-in
   ones. Returns 0 and *out (caller owns), or SL_EINVAL with a message naming
   the bad field in err (e.g. "config.generation.models[1]: must be a
   non-empty string"), SL_EPROTO/SL_ETRUNC when buf is not one msgpack map,
   SL_ENOMEM. On error *out is NULL and nothing leaks. err may be NULL. */
int sl_plan_parse(const uint8_t *buf, size_t len, const sl_plan_defaults_t *defaults,
                  sl_plan_t **out, char *err, size_t errlen);

void sl_plan_destroy(sl_plan_t **p);

/* Analysis tasks per app (the number of analyzers the plan runs). */
uint32_t sl_plan_analyzers(const sl_plan_t *self);

/* Escalation tasks per app (the analyzers of analysis.escalate; 0 without). */
uint32_t sl_plan_esc_analyzers(const sl_plan_t *self);

/* Tasks the plan creates up front (generation tasks, or analysis tasks in
   existing mode) and at most in all (escalation included). */
uint64_t sl_plan_task_bound(const sl_plan_t *self);

/* The existing app entry for (model, app_number): the first that matches,
   or NULL (generate mode, or no such entry). Borrowed from self. */
const sl_plan_app_t *sl_plan_app_find(const sl_plan_t *self, const char *model, int64_t app_number);

/* Expands one target URL template for an app: "{model}" = the model slug,
   "{app}" = the app number, "{model_safe}" = the slug with '/', '_' and '.'
   made '-' (the fleet's compose container names), "{backend_port}" and
   "{frontend_port}" = the app's ports (left as written when <= 0; the plan
   refuses such templates where ports are unknown). Other text is copied.
   Returns a new string (caller owns) or NULL on ENOMEM. */
char *sl_plan_expand_url(const char *tmpl, const char *model, int64_t app_number,
                         int64_t backend_port, int64_t frontend_port);

#endif
