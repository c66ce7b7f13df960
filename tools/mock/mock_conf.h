/*  mock_conf.h: configuration of one mock replica and its spec syntax.

    Plain data plus pure parsing functions; used by sluice-mock-analyzer's
    main (command line, --config files) before the fleet starts. No state,
    any thread.
*/
#ifndef SL_MOCK_CONF_H
#define SL_MOCK_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sl_services.h"
#include "tools/mock/mock_faults.h"

#define SL_MOCK_APPS_MAX 16
#define SL_MOCK_PATH_MAX 512
#define SL_MOCK_TOOLS_MAX 32 /* tools a replica may have */
#define SL_MOCK_TOOL_NAME 64 /* longest tool name, with the NUL */

/* The tools a replica has (its health_response available_tools and what its
   analyses can run). set = false: the service's default set. */
typedef struct {
    bool set;
    int n;
    char v[SL_MOCK_TOOLS_MAX][SL_MOCK_TOOL_NAME];
} sl_mock_tools_t;

/* One replica's configuration. Times are in unscaled milliseconds. */
typedef struct {
    sl_service_t service;
    int port;                        /* 0 = the kernel picks */
    bool mux;                        /* proto=mux; default legacy */
    char tls_cert[SL_MOCK_PATH_MAX]; /* both set = wss */
    char tls_key[SL_MOCK_PATH_MAX];
    int latency_min_ms; /* analysis duration, uniform in [min, max] */
    int latency_max_ms;
    int progress_ms;  /* progress cadence; 0 = only the first and last stage */
    int heartbeat_ms; /* mux heartbeat interval while an analysis runs */
    int slow_ms;      /* handshake delay of the slow fault */
    int stall_after;  /* progress frames sent before stall / disconnect */
    int cid;          /* legacy correlation_id: -1 service default, 0 empty, 1 request id */
    bool partial;     /* mux progress frames carry a "partial" result so far */
    bool real;        /* profile=real: the real service's own pushes and cadence (legacy) */
    uint64_t seed;
    sl_mock_plan_t plan;
    int64_t fail_apps[SL_MOCK_APPS_MAX]; /* requests for these apps get an error frame */
    int fail_count;
    int64_t verdict_apps[SL_MOCK_APPS_MAX]; /* ... get the "Model path not found" verdict */
    int verdict_count;
    int64_t partial_apps[SL_MOCK_APPS_MAX]; /* ... get an outer "partial" result */
    int partial_count;
    /* targets=required: a dynamic or performance request without top-level
       target URLs (performance: or target_url) gets targets_unreachable, as
       the real services do when their made-up container names reach
       nothing; default: the analysis runs against those names */
    bool targets_required;
    sl_mock_tools_t tools; /* available tools */
} sl_mock_replica_conf_t;

/* Maps a service name or alias of proto/sl_services.def ("static-analyzer",
   "static", ...) to a service. Returns 0 or SL_EINVAL. */
int sl_mock_service_parse(const char *name, sl_service_t *out);

/* Fills conf with the defaults for a service: port 0, legacy, latency
   200-500 ms, progress every 100 ms, heartbeat 1000 ms, slow 3000 ms,
   stall_after 2, cid -1, seed 1, empty plan. */
void sl_mock_replica_conf_defaults(sl_mock_replica_conf_t *conf, sl_service_t service);

/* Checks that every block item of plan names a stage service has ("" =
   its first). On error writes a message into err (may be NULL). Returns 0
   or SL_EINVAL. */
int sl_mock_plan_check_stages(const sl_mock_plan_t *plan, sl_service_t service, char *err,
                              size_t err_size);

/* Parses "SERVICE:127.0.0.1:PORT[:key=value]..." over a conf that already
   holds defaults (the service's own defaults are applied first if the
   service differs). Keys: proto=legacy|mux, latency=MIN[-MAX], progress=MS,
   heartbeat=MS, slow=MS, stall_after=N, cid=id|empty, profile=uniform|real, seed=N,
   fault=PLAN, fail_app=N, verdict_app=N, partial_app=N (repeatable), tls=CERT,KEY,
   tools=A,B,... (empty = no tools), targets=required|fallback.
   On error writes a message into err (may be NULL). Returns 0 or SL_EINVAL. */
/* Parses a comma-separated tool list ("" = none) into out (set = true).
   Names are 1..63 bytes of [A-Za-z0-9._-]. Returns 0 or SL_EINVAL. */
int sl_mock_tools_parse(sl_mock_tools_t *out, const char *list);

/* The tools a replica of svc has: conf->set ? conf : the service's default
   set (static: bandit pylint vulture npm-audit; dynamic: curl nmap zap;
   performance: ab locust aiohttp; ai: requirements-scanner
   code-quality-analyzer; generator: none). */
void sl_mock_tools_effective(sl_service_t svc, const sl_mock_tools_t *conf, sl_mock_tools_t *out);

int sl_mock_replica_conf_parse(sl_mock_replica_conf_t *conf, const char *spec, char *err,
                               size_t err_size);

#endif
