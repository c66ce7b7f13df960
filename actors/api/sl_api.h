/*  sl_api.h: the API front door and event publisher (actor `api`).

    The api actor owns a ZMQ_ROUTER socket (clients: DEALER or REQ, over tcp,
    ipc or inproc) and a ZMQ_PUB socket (monitors). A request is one msgpack
    map {op, id?, ...}; the reply is {ok: true, ...} or {ok: false, error:
    {code, message}}, with the request's `id` echoed when it had one. The api
    validates the envelope (size, msgpack, map, op) and routes: pipeline and
    task operations to the owning pipeline shard (API_CALL), results, events
    and the DLQ listing to the store, endpoints.list to every endpoint actor;
    fan-out operations are merged here. Bad requests get a clear error and
    change nothing. Committed events arrive from the store as EVENT_PUBLISH and
    go out on the PUB socket as two frames: topic, msgpack body.

    Runs on its own actor thread; both sockets are created, used and closed
    on that thread only.
*/
#ifndef SL_API_H
#define SL_API_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/sl_actor.h"

#define SL_API_MAX_BINDS 4
#define SL_API_MAX_SERVICES 8
/* A request frame larger than max_request_bytes x this is dropped by the
   ROUTER itself (the connection is closed, no reply); anything smaller is
   answered, too_big past max_request_bytes. */
#define SL_API_FRAME_CEILING 16

typedef struct {
    const char *binds[SL_API_MAX_BINDS]; /* ROUTER endpoints, e.g. tcp://127.0.0.1:5570 */
    size_t n_binds;
    const char *pub_binds[SL_API_MAX_BINDS]; /* PUB endpoints */
    size_t n_pub_binds;
    size_t max_request_bytes; /* [api/max_request_bytes] larger requests are refused */
    int shards;               /* pipeline shards: pipeline.0 .. pipeline.<shards-1> */
    const char *services[SL_API_MAX_SERVICES]; /* endpoint services, for endpoints.list */
    size_t n_services;
    int64_t call_timeout_ms;            /* [10 s] deadline for an internal call */
    struct sl_api_counters_t *counters; /* optional, borrowed: must outlive the actor */
    /* CURVE on both sockets (actors/api/sl_curve.h): the server's secret czmq
       certificate and a directory of allowed clients' public certificates;
       both set or both NULL/"" (off, the default). */
    const char *curve_secret_file;
    const char *curve_clients_dir;
} sl_api_config_t;

void sl_api_config_defaults(sl_api_config_t *cfg);

/* Spawns the actor `api`, binding every endpoint before it is ready. Fails
   with SL_EZMQ (an endpoint that cannot be bound, e.g. in use; the reason is
   logged) or SL_EINVAL. With CURVE configured it may also fail with
   SL_ECONFIG (a certificate or the clients directory cannot be loaded),
   SL_EEXIST (another ZAP handler is bound in the runtime's ZeroMQ context)
   or SL_EUNSUPPORTED (libzmq without CURVE); the reason is logged. The
   strings in cfg are copied. */
int sl_api_spawn(sl_rt_t *rt, const sl_api_config_t *cfg, sl_actor_t **out);

/* Counters the api updates with relaxed atomics (also reported by the
   `stats` op); readable from any thread with sl_api_counters_read. */
typedef struct sl_api_counters_t {
    _Atomic uint64_t requests;  /* client requests received */
    _Atomic uint64_t errors;    /* replies with ok: false */
    _Atomic uint64_t published; /* events sent on PUB */
} sl_api_counters_t;

typedef struct {
    uint64_t requests, errors, published;
} sl_api_stats_t;

/* Any thread: a snapshot (NULL gives zeros). */
void sl_api_counters_read(const sl_api_counters_t *counters, sl_api_stats_t *out);

#endif
