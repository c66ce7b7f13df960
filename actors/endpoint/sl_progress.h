/*  sl_progress.h: the out-of-band progress listener (the fleet's GATEWAY_URL).

    Legacy analyzers push progress by opening a new WebSocket connection to
    GATEWAY_URL for each event and sending one
      {"type":"progress_update","correlation_id","stage","message","service",
       "data":{..}}
    frame (README, "Analyzer wire protocols"). The actor "progress" owns an sl_wsio in server mode
    (its own lws I/O thread), parses each frame with proto/sl_wire.h and sends
    a PROGRESS_PUSH to "endpoint.<service>", which matches correlation_id to
    its attempt. Frames that do not parse, are not progress_update, or name
    no service are counted and dropped; so are frames for a service with no
    endpoint actor. Point the fleet's GATEWAY_URL at ws://<host>:<port>/
    (with cfg.path: ws://<host>:<port>/<token>; with a certificate: wss://).

    The listener is reachable by whoever can reach its port, so it trusts
    nothing: the attempt ids a push must name carry a random part
    (proto/sl_ids.h) and the endpoint takes a push only for an attempt live
    on one of its replicas; here a frame above max_frame closes its
    connection, connections beyond max_conn_per_s in one second (of the
    runtime's clock) are closed at once, and with a secret path a
    connection on any other path is closed before its frames are read.

    Counters: send ENDPOINT_STATUS to "progress" (as a request); the reply is
    an ENDPOINT_STATUS_REPLY with service "progress", protocol "gateway" and
    counters {connections, frames, routed, bad_frames, unknown_service,
    wrong_path, rate_limited, too_big}.
*/
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include "runtime/sl_actor.h"

typedef struct {
    const char *name;       /* actor name ["progress"] */
    char listen_iface[128]; /* IP to bind [progress/listen's host] */
    int port;               /* [progress/listen's port]; 0 = ephemeral (tests) */
    const char *cert_file;  /* PEM cert for wss:// [NULL = ws://] */
    const char *key_file;   /* PEM key for cert_file */
    const char *parent;     /* told of the actor's exit [NULL] */
    /* The secret path pushes must be sent on ("/<token>", a missing "/"
       is added) [NULL or "" = any path]: a connection on another path is
       closed with 1008 and its frames are dropped. */
    const char *path;
    size_t max_frame; /* a larger frame closes its connection (1009) [progress/max_frame_bytes] */
    uint32_t max_conn_per_s; /* connections accepted per second; more are closed (1008)
                                [progress/max_connections_per_s] */
} sl_progress_config_t;

/* Fills cfg with the defaults above: [section/key] is that configuration
   key's default (actors/config/sl_config.c). */
void sl_progress_config_defaults(sl_progress_config_t *cfg);

/* Reads a progress/listen value, "ws://host:port" or "wss://host:port" (a
   trailing "/" allowed; a longer path is refused: the secret path is
   progress/path), into cfg's listen_iface and port, and *tls (may be NULL)
   true for wss://. Returns 0, or SL_ECONFIG leaving cfg unchanged. */
int sl_progress_config_listen(sl_progress_config_t *cfg, const char *url, bool *tls);

/* Spawns the listener and returns once it listens. Any thread. Returns 0,
   *out (caller owns; sl_actor_destroy) and *port (may be NULL) the bound
   port; SL_EINVAL, SL_EEXIST (name taken), SL_ELWS (cannot listen: port in
   use, bad cert), SL_ENOMEM. */
int sl_progress_spawn(sl_rt_t *rt, const sl_progress_config_t *cfg, sl_actor_t **out, int *port);

#endif
