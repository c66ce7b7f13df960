/*  mock_fleet.h: the mock analyzer fleet (sluice-mock-analyzer's engine).

    One libwebsockets context on the caller's thread, one server vhost per
    replica (127.0.0.1 only), plus a client-only vhost for the out-of-band
    progress pushes of legacy replicas. Everything except
    sl_mock_fleet_command() and sl_mock_fleet_stop() runs on the thread that
    calls sl_mock_fleet_run(). The fleet owns its replicas, connections,
    analyses and timers; the caller owns the configuration it passes in (it is
    copied).

    It simulates the EXISTING fleet (DESIGN.md §6 legacy and generation frames,
    as captured in tests/data/protocol/) and the mux protocol, with per-replica
    latency, progress cadence and a seeded fault plan (mock_faults.h). It does
    not use sluice's own wire code on purpose: it is the independent other side.
*/
#ifndef SL_MOCK_FLEET_H
#define SL_MOCK_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/mock/mock_faults.h"

typedef enum {
    SL_MOCK_SVC_STATIC = 0,  /* static-analyzer, static_analyze */
    SL_MOCK_SVC_DYNAMIC,     /* dynamic-analyzer, dynamic_analyze */
    SL_MOCK_SVC_PERFORMANCE, /* performance-tester, performance_test */
    SL_MOCK_SVC_AI,          /* ai-analyzer, ai_analyze */
    SL_MOCK_SVC_GENERATOR,   /* generator, generate */
    SL_MOCK__SVC_COUNT
} sl_mock_service_t;

#define SL_MOCK_APPS_MAX 16
#define SL_MOCK_PATH_MAX 512

/* One replica's configuration. Times are in unscaled milliseconds. */
typedef struct {
    sl_mock_service_t service;
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
    uint64_t seed;
    sl_mock_plan_t plan;
    int64_t fail_apps[SL_MOCK_APPS_MAX]; /* requests for these apps get an error frame */
    int fail_count;
    int64_t verdict_apps[SL_MOCK_APPS_MAX]; /* ... get the "Model path not found" verdict */
    int verdict_count;
} sl_mock_replica_conf_t;

/* Fleet-wide settings. */
typedef struct {
    double time_scale;              /* every configured time is multiplied by this */
    char gateway[SL_MOCK_PATH_MAX]; /* ws://host:port[/path] for progress pushes; "" = none */
    bool control;                   /* open the TCP control port */
    int control_port;               /* 0 = the kernel picks */
    bool verbose;                   /* log connections and requests to stderr */
} sl_mock_fleet_conf_t;

typedef struct sl_mock_fleet_t sl_mock_fleet_t;

/* Service name ("static-analyzer") of a service; "?" if out of range. */
const char *sl_mock_service_name(sl_mock_service_t service);

/* Maps "static-analyzer" (also "static", "dynamic", "performance", "ai",
   "generator") to a service. Returns 0 or SL_EINVAL. */
int sl_mock_service_parse(const char *name, sl_mock_service_t *out);

/* Fills conf with the defaults for a service: port 0, legacy, latency
   200-500 ms, progress every 100 ms, heartbeat 1000 ms, slow 3000 ms,
   stall_after 2, cid -1, seed 1, empty plan. */
void sl_mock_replica_conf_defaults(sl_mock_replica_conf_t *conf, sl_mock_service_t service);

/* Parses "SERVICE:127.0.0.1:PORT[:key=value]..." over a conf that already
   holds defaults (the service's own defaults are applied first if the
   service differs). Keys: proto=legacy|mux, latency=MIN[-MAX], progress=MS,
   heartbeat=MS, slow=MS, stall_after=N, cid=id|empty, seed=N, fault=PLAN,
   fail_app=N, verdict_app=N (both repeatable), tls=CERT,KEY.
   On error writes a message into err (may be NULL). Returns 0 or SL_EINVAL. */
int sl_mock_replica_conf_parse(sl_mock_replica_conf_t *conf, const char *spec, char *err,
                               size_t err_size);

/* Copies conf and the replica array. Returns NULL on bad arguments or
   allocation failure. Caller owns the result. */
sl_mock_fleet_t *sl_mock_fleet_new(const sl_mock_fleet_conf_t *conf,
                                   const sl_mock_replica_conf_t *replicas, int count);

/* Creates the lws context, binds every replica and the control port.
   Returns 0, SL_ELWS (a vhost could not listen, e.g. port in use), SL_EIO
   (control port), SL_ESTATE (already started). */
int sl_mock_fleet_start(sl_mock_fleet_t *self);

/* Writes "replica SERVICE URL" per replica, "control 127.0.0.1:PORT" if
   the control port is open, then "ready", and flushes. */
void sl_mock_fleet_print(sl_mock_fleet_t *self, FILE *out);

/* Services the fleet until sl_mock_fleet_stop() or a `quit` command.
   Returns 0. */
int sl_mock_fleet_run(sl_mock_fleet_t *self);

/* Asks run() to return. Safe from a signal handler and from any thread. */
void sl_mock_fleet_stop(sl_mock_fleet_t *self);

/* Executes one control command line on the service thread and writes the
   one-line answer ("ok ..." / "error ...", no newline) into reply. Blocks
   up to 5 s. Any thread except the service thread. */
void sl_mock_fleet_command(sl_mock_fleet_t *self, const char *line, char *reply, size_t size);

/* Stops the control port, closes every connection, destroys the context.
   Accepts NULL; nulls *p_self. */
void sl_mock_fleet_destroy(sl_mock_fleet_t **p_self);

#endif
