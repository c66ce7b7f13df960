/*  sl_config.h: sluiced's configuration, with a built-in default for every key.

    The file format is czmq's ZPL (zconfig): sections by 4-space indentation,
    `key = value` lines, `#` comments. sluiced runs with no file at all. Every
    key is described once, in the key tables of sl_config.c, with its type,
    range and default; validation walks those tables, so an unknown key, a
    value of the wrong type or out of range is refused with the file, line and
    key path in the message, and nothing of the file is applied.

    Precedence: built-in defaults < the file < the fleet's environment
    variables (STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS, PERF_TESTER_URLS,
    AI_ANALYZER_URLS, GENERATOR_URLS, as proto/sl_services.def names them:
    comma-separated ws:// or wss:// URLs).

    Not thread-safe; load once at start-up. All durations are milliseconds in
    memory; keys say their unit in their name (`_ms`, `_s`).
*/
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_CONFIG_MAX_SERVICES 8
#define SL_CONFIG_MAX_REPLICAS 32
#define SL_CONFIG_STR 256
#define SL_CONFIG_TOOLS 1024   /* services/<name>/tools: a comma-separated list */
#define SL_CONFIG_TOOL_NAME 64 /* one tool name, with the NUL */
#define SL_CONFIG_MAX_PROFILES 16

/* pipeline/max_concurrent_tasks and a request's max_concurrent_tasks are
   both 1..this. */
#define SL_CONFIG_MAX_CONCURRENT_TASKS 100000
/* Likewise for the retry policy: pipeline/max_attempts and retry.max_attempts,
   pipeline/app_unreachable_retries and retry.app_unreachable_retries,
   pipeline/backoff_coefficient and retry.coefficient. */
#define SL_CONFIG_MAX_ATTEMPTS 100
#define SL_CONFIG_MAX_UNREACHABLE_RETRIES 100
#define SL_CONFIG_MAX_BACKOFF_COEFFICIENT 100

typedef struct {
    char name[64];     /* static-analyzer, dynamic-analyzer, ... */
    char protocol[16]; /* legacy | mux */
    char op[32];       /* request type: static_analyze, ..., generate */
    char urls[SL_CONFIG_MAX_REPLICAS][SL_CONFIG_STR];
    size_t n_urls;
    char ca_file[SL_CONFIG_STR]; /* "" = system trust store */
    /* the tool names a pipeline may ask of this service, comma-separated
       (default: proto/sl_services.def's; "" = none) */
    char tools[SL_CONFIG_TOOLS];
    int64_t connect_timeout_ms;
    int64_t ping_interval_ms;
    int64_t pong_timeout_ms;
    int64_t queue_timeout_ms;
    int64_t progress_timeout_ms;  /* legacy stall; 0 = off */
    int64_t heartbeat_timeout_ms; /* mux stall; 0 = off */
    int64_t liveness_grace_ms;    /* after a missed pong; 0 = a missed pong is death */
    int64_t attempt_timeout_ms;
    int64_t max_in_flight;
    int64_t queue_max;
    int64_t failure_threshold;
    int64_t failure_rate_pct;
    int64_t window;
    int64_t open_for_ms;
    int64_t open_max_ms;
    int64_t half_open_max_ms;
    int64_t progress_per_sec;
} sl_service_conf_t;

/* profiles/<name>/: a scan profile a pipeline names (analysis.profile):
   which analyzers and tools run, and the timeouts of the tasks it creates.
   analyzers and tools read as a request's analysis.analyzers/tools do. */
typedef struct {
    char name[64];
    char analyzers[SL_CONFIG_STR]; /* comma-separated service names, "" = none */
    char tools[SL_CONFIG_TOOLS];   /* comma-separated tool names, "" = none */
    int64_t attempt_timeout_ms;    /* 0 = the service's (services/<name>/...) */
    int64_t progress_timeout_ms;   /* 0 = the service's */
    int64_t evict_after_ms;        /* 0 = finished pipelines stay in memory */
    int64_t task_timeout_ms;       /* 0 = pipeline/task_timeout_s */
} sl_profile_conf_t;

typedef struct {
    /* [sluice] */
    char data_dir[SL_CONFIG_STR];
    char log_level[16];
    char log_format[16]; /* text | json */
    int64_t shards;      /* 0 = number of cores */
    int64_t shutdown_grace_ms;
    /* [api] */
    char api_endpoint[SL_CONFIG_STR];
    char pub_endpoint[SL_CONFIG_STR];
    int64_t max_request_bytes;
    char curve_secret_file[SL_CONFIG_STR]; /* server's secret zcert; "" = CURVE off */
    char curve_clients_dir[SL_CONFIG_STR]; /* allowed clients' public zcerts */
    /* [progress] */
    char progress_listen[SL_CONFIG_STR];    /* ws[s]://host:port, "" = off */
    char progress_path[SL_CONFIG_STR];      /* secret path pushes must use; "" = any */
    char progress_cert_file[SL_CONFIG_STR]; /* PEM cert (chain) for wss://; "" = ws:// */
    char progress_key_file[SL_CONFIG_STR];  /* PEM key of progress_cert_file */
    int64_t progress_max_frame_bytes;       /* a larger frame closes its connection */
    int64_t progress_max_connections_per_s; /* more in one second are refused */
    /* [store] */
    int64_t map_size_mb;
    bool nosync;
    int64_t retention_s;
    int64_t events_max; /* 0 = no cap on the events db */
    /* [pipeline] */
    int64_t evict_after_ms; /* 0 = finished pipelines stay in memory */
    int64_t task_timeout_ms;
    int64_t stage_timeout_ms;
    int64_t pipeline_timeout_ms;
    int64_t max_attempts;
    int64_t backoff_initial_ms;
    double backoff_coefficient;
    int64_t backoff_max_ms;
    int64_t app_unreachable_retry_ms;
    int64_t app_unreachable_retries;
    int64_t max_concurrent_tasks;
    /* [watchdog] */
    int64_t stuck_after_ms;
    int64_t ping_interval_ms;
    int64_t ping_late_ms;
    int64_t hard_limit_ms;
    /* [services] */
    sl_service_conf_t services[SL_CONFIG_MAX_SERVICES];
    size_t n_services;
    /* [profiles]: quick, standard, deep built in (sl_config.c), then the
       file's own */
    sl_profile_conf_t profiles[SL_CONFIG_MAX_PROFILES];
    size_t n_profiles;
} sl_config_t;

/* Fills every key with its built-in default (the five fleet services on
   their usual loopback ports). Does not read the environment. */
void sl_config_defaults(sl_config_t *cfg);

/* The built-in defaults, built once from the key tables (thread-safe; static
   storage, never freed). The actors' own *_defaults functions start from
   it, so embedders and tests get what sluiced gets. */
const sl_config_t *sl_config_builtin(void);

/* Fills svc with the per-service defaults for name: the key table's, plus
   (for a service of proto/sl_services.def) its name, op, default replica
   URLs, max_in_flight and tools. An unknown name gets only the key table's
   defaults (no name, no URLs, max_in_flight 0). */
void sl_config_service_defaults(sl_service_conf_t *svc, const char *name);

/* True if the comma-separated tool list (a services/<name>/tools value)
   names tool (len bytes), compared without case (the fleet lowercases the
   names it is sent). */
bool sl_config_tools_have(const char *list, const char *tool, size_t len);

/* The profile with that name, or NULL. Borrowed from cfg. */
const sl_profile_conf_t *sl_config_profile(const sl_config_t *cfg, const char *name);

/* Loads a ZPL file over the defaults already in cfg. On error returns
   SL_ECONFIG (or SL_EIO for an unreadable file), writes "file:line: key:
   problem" into err, and leaves cfg unchanged. */
int sl_config_load(sl_config_t *cfg, const char *path, char *err, size_t errlen);

/* Same, from a string (name is used in messages). */
int sl_config_load_str(sl_config_t *cfg, const char *text, const char *name, char *err,
                       size_t errlen);

/* Like sl_config_load_str without the rules of sl_config_check, so
   related keys can be set one at a time (sluice_set); run sl_config_check
   on the result before using it. */
int sl_config_load_part(sl_config_t *cfg, const char *text, const char *name, char *err,
                        size_t errlen);

/* The rules that tie keys together, on a complete configuration (the
   loaders above apply them to their result too): api/curve_secret_file and
   api/curve_clients_dir are set together or not at all. Returns 0, or
   SL_ECONFIG with "key: problem" in err. */
int sl_config_check(const sl_config_t *cfg, char *err, size_t errlen);

/* Applies the fleet's environment overrides (see the file comment). A bad
   URL list is refused like a bad file value. */
int sl_config_apply_env(sl_config_t *cfg, char *err, size_t errlen);

/* The service entry with that name, or NULL. Borrowed from cfg. */
sl_service_conf_t *sl_config_service(sl_config_t *cfg, const char *name);

/* Calls fn with the path ("section/key", "services/<name>/key") of every
   key whose value differs between a and b, in the order of
   --print-config; returns how many. */
typedef void(sl_config_diff_fn)(const char *path, void *arg);
size_t sl_config_diff(const sl_config_t *a, const sl_config_t *b, sl_config_diff_fn *fn, void *arg);

/* Writes the effective configuration as ZPL (for `sluiced --print-config`). */
int sl_config_write(const sl_config_t *cfg, FILE *out);

#endif
