/*  sl_endpoint.h: the endpoint actor of one analyzer service.

    One actor per service, named "endpoint.<service>", owns that service's
    replicas: their circuit breakers (actors/endpoint/sl_breaker.h), the
    bulkhead and the bounded service queue, one libwebsockets I/O thread
    (actors/endpoint/sl_wsio.h) with every connection to the replicas, the
    wire protocol
    (legacy: one connection per attempt; mux: one persistent connection per
    replica) and every per-attempt timeout (README, "Timeouts").

    Messages it takes (proto/sl_catalog.def):
      ATTEMPT_START    from a task owner; the reply address is msg->from. The
                       owner gets throttled ATTEMPT_PROGRESS and exactly one
                       ATTEMPT_RESULT per start (the last held-back progress
                       is always delivered before the result).
      ATTEMPT_CANCEL   ends the attempt: legacy closes its connection, mux
                       sends a cancel frame; the result is CANCELLED (unless
                       it already went).
      PROGRESS_PUSH    from the progress listener; matched by correlation_id
                       (the request id "<task_id>-a<attempt>-<random>"), unknown ids
                       are counted and dropped.
      ENDPOINT_STATUS  request; answered with ENDPOINT_STATUS_REPLY.
      ENDPOINT_RECONFIGURE  request (sluice_reload): new replica URLs and
                       breaker settings. Kept URLs keep their replica; new
                       ones are added (and asked for their tools); dropped
                       ones are retired: no new attempt, running ones end as
                       usual, hidden from ENDPOINT_STATUS. Answered with
                       ENDPOINT_RECONFIGURE_REPLY.
    It sends every breaker transition to "store" as a fire-and-forget
    STORE_WRITE holding one "endpoint.breaker" event (no store running is
    fine), and, in a second one, an "endpoint.health" event {service,
    replica, healthy, reason} when the replica's health flips. A replica is
    healthy while its breaker is closed and it is not suspect (a connection
    to it missed a pong and nothing came from the replica since; reasons
    "suspect: no pong within N ms" and "alive: <pong|frame|progress|open>
    after N ms"). Only changes: a new endpoint's replicas are healthy
    without an event.

    Tools: at start the actor asks every replica for its tools (a
    health_check on a fresh connection, no breaker involved); every
    half-open probe asks again, and so does a result from a replica that
    has not told its tools yet. ENDPOINT_STATUS shows them (nil until a
    replica answered). An attempt naming tools goes only to a replica that
    lists them all (the fleet's other names count, sl_wire_tool_listed), or
    one that never answered a health_check; while a replica's answer is
    awaited such an attempt waits for it. When every replica answered and
    none can run the attempt, it ends at once with a VERDICT naming the
    tool and each replica's tools. A success result is checked against the
    tools asked for (sl_wire_tools_report): tools it did not run become the
    result's warnings, none of them run at all a VERDICT; a partial result
    is a warning too.

    Every timeout runs on the runtime clock (sl_actor_now/sl_actor_timer), so
    tests use short configured timeouts or a manual clock.
*/
#ifndef SL_ENDPOINT_H
#define SL_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "actors/endpoint/sl_breaker.h"
#include "runtime/sl_actor.h"

#define SL_ENDPOINT_MAX_REPLICAS 64

typedef enum {
    SL_ENDPOINT_LEGACY = 0, /* one analysis per connection (the existing fleet) */
    SL_ENDPOINT_MUX         /* one persistent connection per replica, ids */
} sl_endpoint_protocol_t;

/* "legacy" / "mux"; "unknown" otherwise. */
const char *sl_endpoint_protocol_name(int protocol);
/* Parses "legacy" / "mux": 0 or SL_EINVAL. */
int sl_endpoint_protocol_parse(const char *text, sl_endpoint_protocol_t *out);

/* An endpoint's configuration. Strings are borrowed until
   sl_endpoint_spawn returns (the actor copies them). Defaults: the
   services/<name>/ keys of actors/config (sl_endpoint_config_defaults). */
typedef struct {
    const char *service;             /* "static-analyzer", ..., "generator" (required) */
    sl_endpoint_protocol_t protocol; /* [legacy] */
    /* Request type sent for this service: static_analyze, dynamic_analyze,
       performance_test, ai_analyze or generate. [NULL or "" = from the
       service name: generator -> generate, static-analyzer ->
       static_analyze, ...] An
       ATTEMPT_START's own op wins when it is one of these. */
    const char *op;
    const char *const *replicas;  /* ws:// or wss:// URLs */
    size_t n_replicas;            /* 1..SL_ENDPOINT_MAX_REPLICAS */
    const char *ca_file;          /* PEM CA trusted for wss:// [NULL = system] */
    int64_t connect_timeout_ms;   /* TCP+TLS+WS handshake */
    int64_t ping_interval_ms;     /* WebSocket ping on an open link */
    int64_t pong_timeout_ms;      /* no pong within this = dead link */
    int64_t queue_timeout_ms;     /* waiting for a replica slot */
    int64_t progress_timeout_ms;  /* legacy stall, between progress pushes; 0 = off */
    int64_t heartbeat_timeout_ms; /* mux stall, no heartbeat/progress; 0 = off */
    /* A missed pong makes the connection (and its replica) suspect; the
       attempt lives on until this long after the unanswered ping without
       any sign of life (pong, frame, out-of-band progress). 0 = a missed
       pong ends the attempt at once. Below pong_timeout_ms: pong_timeout_ms. */
    int64_t liveness_grace_ms;
    int64_t attempt_timeout_ms;    /* one attempt, dispatch to end */
    sl_breaker_config_t breaker;   /* see sl_breaker.h */
    uint32_t max_in_flight;        /* bulkhead per replica (per service: sl_services.def) */
    uint32_t queue_max;            /* bounded service queue */
    uint32_t progress_max_per_sec; /* ATTEMPT_PROGRESS per task per second */
    const char *store;             /* mailbox for breaker/health events ["store"] */
    const char *parent;            /* told of the actor's exit [NULL] */
} sl_endpoint_config_t;

/* Fills cfg with the built-in defaults of service (borrowed; a name the
   services declaration does not know gets the first service's), with no
   replicas: what sluiced runs with when its configuration says nothing. */
void sl_endpoint_config_defaults(sl_endpoint_config_t *cfg, const char *service);

/* Fills cfg from a service's configuration (svc borrowed like cfg's
   strings), with no replicas. Returns 0 or SL_ECONFIG (unknown protocol). */
int sl_endpoint_config_from_conf(sl_endpoint_config_t *cfg, const sl_service_conf_t *svc);

/* 0, or SL_ECONFIG naming nothing more (the api's config layer reports the
   key): service missing or too long for an actor name, no replicas, a
   replica URL that is not ws:// or wss://, an unknown op, a timeout <= 0
   (progress may be 0), max_in_flight 0, a bad breaker config. */
int sl_endpoint_config_check(const sl_endpoint_config_t *cfg);

/* Spawns the actor "endpoint.<service>" with its I/O thread, and returns
   once it is ready. Any thread. Returns 0 and *out (caller owns; destroy
   with sl_actor_destroy, which answers attempts still running with outcome
   SL_OUT_INTERRUPTED), SL_ECONFIG, SL_EEXIST (name taken), SL_ELWS (the I/O
   thread could not start), SL_ENOMEM. */
int sl_endpoint_spawn(sl_rt_t *rt, const sl_endpoint_config_t *cfg, sl_actor_t **out);

#endif
