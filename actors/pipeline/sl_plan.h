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
                                      {model: str, app_number: int >= 0}
        generation.options            {parallel: bool, max_concurrent_tasks: int}
        analysis.enabled              bool (default true when analysis is given)
        analysis.tools                list of tool names (see the table below);
                                      empty or absent = every analyzer, all tools
        analysis.options              {parallel, max_concurrent_tasks,
                                       target_urls: up to 64 str with {model},
                                       {app} placeholders}
        timeouts  (seconds, > 0)      {task, stage, pipeline, attempt, progress, queue}
        retry                         {max_attempts 1..100, initial s >= 0,
                                       coefficient 1..100, max s >= initial}
    parallel false means one task of that stage at a time. Unknown keys at
    the top level are ignored (the API may add its own); unknown keys inside
    timeouts and retry are errors (a typo must not silently use a default).

    Tools by service (one table, also in the README):
        static-analyzer     bandit pylint semgrep mypy safety pip-audit vulture
                            ruff radon detect-secrets eslint npm-audit stylelint
                            html-validator
        dynamic-analyzer    zap curl nmap nikto
        performance-tester  locust ab aiohttp artillery
        ai-analyzer         requirements-scanner code-quality-analyzer
    Generation goes to the `generator` service.
*/
#ifndef SL_PLAN_H
#define SL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_catalog.h" /* sl_strs_t */

/* ---- services ------------------------------------------------------------------ */

typedef enum {
    SL_SVC_STATIC = 0,
    SL_SVC_DYNAMIC,
    SL_SVC_PERFORMANCE,
    SL_SVC_AI,
    SL_SVC_GENERATOR,
    SL_SVC__COUNT
} sl_service_t;

#define SL_SVC_ANALYZERS 4 /* the first four are analyzers */

/* "static-analyzer", ...; "unknown" out of range. Static storage. */
const char *sl_service_name(int svc);
/* ATTEMPT_START op: "static_analyze", "dynamic_analyze", "performance_test",
   "ai_analyze", "generate". */
const char *sl_service_op(int svc);
/* Service name (s, len) -> sl_service_t, or SL_ENOTFOUND. */
int sl_service_parse(const char *s, size_t len);
/* The analyzer owning a tool, or SL_ENOTFOUND. */
int sl_service_of_tool(const char *tool, size_t len);
/* The tools of an analyzer: NULL-terminated static list. */
const char *const *sl_service_tools(int svc);
/* True for the analyzers that test a running app and so get target_urls. */
bool sl_service_needs_targets(int svc);

/* ---- retry policy ----------------------------------------------------------------- */

typedef struct {
    uint32_t max_attempts; /* [3] attempts per task, the first included */
    int64_t initial_ms;    /* [2000] */
    double coefficient;    /* [2] */
    int64_t max_ms;        /* [60000] */
} sl_retry_policy_t;

/* The wait before retry number `retry` (1 = the wait after the first failed
   attempt): full jitter, uniform in [0, min(max, initial * coefficient^(retry-1))].
   rng is the caller's xorshift state (never 0; advanced). Never negative. */
int64_t sl_retry_backoff_ms(const sl_retry_policy_t *self, uint32_t retry, uint64_t *rng);

/* The cap for retry (the upper bound of the jitter interval). */
int64_t sl_retry_cap_ms(const sl_retry_policy_t *self, uint32_t retry);

/* ---- timeouts ---------------------------------------------------------------------- */

typedef struct {
    int64_t task_ms;     /* [3600 s] all attempts and waits of one task */
    int64_t stage_ms;    /* [1800 s] one stage */
    int64_t pipeline_ms; /* [7200 s] the whole pipeline */
    int64_t attempt_ms;  /* [0 = the endpoint's default] */
    int64_t progress_ms; /* [0 = the endpoint's default] */
    int64_t queue_ms;    /* [0 = the endpoint's default] */
} sl_plan_timeouts_t;

/* Values used where the request says nothing. */
typedef struct {
    sl_plan_timeouts_t timeouts;
    sl_retry_policy_t retry;
    uint32_t max_concurrent_tasks; /* per stage of a pipeline [32] */
    uint32_t max_tasks;            /* refuse bigger pipelines [100000] */
} sl_plan_defaults_t;

/* The built-in defaults above. */
void sl_plan_defaults_init(sl_plan_defaults_t *self);

/* ---- plan --------------------------------------------------------------------------- */

typedef struct {
    char *model;
    int64_t app_number;
} sl_plan_app_t;

typedef struct {
    char *name;          /* "" when not given */
    bool existing;       /* generation.mode == "existing" */
    sl_strs_t models;    /* generate mode */
    sl_strs_t templates; /* generate mode */
    sl_plan_app_t *apps; /* existing mode */
    size_t napps;
    bool analysis;                     /* analysis enabled */
    bool services[SL_SVC_ANALYZERS];   /* analyzers to run per app */
    sl_strs_t tools[SL_SVC_ANALYZERS]; /* tools per analyzer; empty = all */
    sl_strs_t target_urls;             /* templates with {model} and {app} */
    uint32_t gen_limit;                /* concurrent generation tasks */
    uint32_t ana_limit;                /* concurrent analysis tasks */
    sl_plan_timeouts_t timeouts;
    sl_retry_policy_t retry;
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

/* Tasks the plan creates up front (generation tasks, or analysis tasks in
   existing mode) and at most in all. */
uint64_t sl_plan_task_bound(const sl_plan_t *self);

/* Expands one target URL template for an app: every "{model}" and "{app}"
   replaced. Returns a new string (caller owns) or NULL on ENOMEM. */
char *sl_plan_expand_url(const char *tmpl, const char *model, int64_t app_number);

#endif
