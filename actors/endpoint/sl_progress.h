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
    endpoint actor. Point the fleet's GATEWAY_URL at ws://<host>:<port>/.

    Counters: send ENDPOINT_STATUS to "progress" (as a request); the reply is
    an ENDPOINT_STATUS_REPLY with service "progress", protocol "gateway" and
    counters {connections, frames, routed, bad_frames, unknown_service}.
*/
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include "runtime/sl_actor.h"

#define SL_PROGRESS_DEFAULT_PORT 8765

typedef struct {
    const char *name;         /* actor name ["progress"] */
    const char *listen_iface; /* IP to bind ["127.0.0.1"] */
    int port;                 /* [8765]; 0 = ephemeral (tests) */
    const char *cert_file;    /* PEM cert for wss:// [NULL = ws://] */
    const char *key_file;     /* PEM key for cert_file */
    const char *parent;       /* told of the actor's exit [NULL] */
} sl_progress_config_t;

/* Fills cfg with the defaults above. */
void sl_progress_config_defaults(sl_progress_config_t *cfg);

/* Spawns the listener and returns once it listens. Any thread. Returns 0,
   *out (caller owns; sl_actor_destroy) and *port (may be NULL) the bound
   port; SL_EINVAL, SL_EEXIST (name taken), SL_ELWS (cannot listen: port in
   use, bad cert), SL_ENOMEM. */
int sl_progress_spawn(sl_rt_t *rt, const sl_progress_config_t *cfg, sl_actor_t **out, int *port);

#endif
