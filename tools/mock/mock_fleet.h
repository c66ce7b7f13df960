/*  mock_fleet.h: the mock analyzer fleet (sluice-mock-analyzer's engine).

    One libwebsockets context on the caller's thread, one server vhost per
    replica (127.0.0.1 only), plus a client-only vhost for the out-of-band
    progress pushes of legacy replicas. Everything except
    sl_mock_fleet_command() and sl_mock_fleet_stop() runs on the thread that
    calls sl_mock_fleet_run(). The fleet owns its replicas, connections,
    analyses and timers; the caller owns the configuration it passes in (it is
    copied).

    It simulates the EXISTING fleet (the legacy and generation frames of the
    README's "Analyzer wire protocols", as captured in tests/data/protocol/)
    and the mux protocol, with per-replica latency, progress cadence and a
    seeded fault plan (mock_faults.h). It does not use sluice's own wire code
    on purpose: it is the independent other side (it shares only the error
    table and the services declaration, proto/sl_services.def).
*/
#ifndef SL_MOCK_FLEET_H
#define SL_MOCK_FLEET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/mock/mock_conf.h"

/* Fleet-wide settings. */
typedef struct {
    double time_scale;              /* every configured time is multiplied by this */
    char gateway[SL_MOCK_PATH_MAX]; /* ws://host:port[/path] for progress pushes; "" = none */
    bool control;                   /* open the TCP control port */
    int control_port;               /* 0 = the kernel picks */
    bool verbose;                   /* log connections and requests to stderr */
    char record[SL_MOCK_PATH_MAX];  /* append every analysis/generation request received to
                                       this file, one JSON line {"replica", "service",
                                       "frame"}; "" = off */
} sl_mock_fleet_conf_t;

typedef struct sl_mock_fleet_t sl_mock_fleet_t;

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
