/*  sl_endpoint_int.h: internals of the endpoint actor, shared by its five
    source files. Calls run one way, each file using only those below it:
      sl_endpoint.c          the actor: spawn, init/fini, its mailbox
      sl_endpoint_wire.c     request frames out, I/O events and frames in
      sl_endpoint_attempt.c  attempts from queued to their one result:
                             queue, dispatch, connections, timers, progress,
                             breakers, probes and tool discovery
      sl_endpoint_push.c     which attempt a progress push without an id
                             belongs to (reads attempts only)
      sl_endpoint_config.c   configuration, protocol names, known ops
    Everything here belongs to one endpoint actor and is touched only on its
    thread. Not a public header.
*/
#ifndef SL_ENDPOINT_INT_H
#define SL_ENDPOINT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/endpoint/sl_breaker.h"
#include "actors/endpoint/sl_endpoint.h"
#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "proto/sl_wire.h"
#include "runtime/sl_map.h"

#define SL_EP_NEVER INT64_MAX /* a deadline that is off */
#define SL_EP_CONN_FIRST 1000 /* legacy/probe ids; below it: mux id = index + 1 */

/* ---- state ------------------------------------------------------------ */

typedef struct sl_ep sl_ep_t;
typedef struct sl_ep_replica sl_ep_replica_t;

typedef enum { SL_EP_QUEUED = 0, SL_EP_CONNECTING, SL_EP_RUNNING } sl_ep_astate_t;

/* A replica's mux connection. CLOSING: a close was asked or seen and its
   WSIO_CLOSED has not come back; the pump keeps away until it has. */
typedef enum {
    SL_EP_MUX_NONE = 0,
    SL_EP_MUX_CONNECTING,
    SL_EP_MUX_OPEN,
    SL_EP_MUX_CLOSING
} sl_ep_mux_state_t;

typedef struct sl_ep_attempt {
    sl_ep_t *ep;
    char *id; /* "<task_id>-a<attempt>-<random>", the legacy id / mux id / correlation id */
    sl_attempt_start_t start; /* decoded start, owned */
    char owner[SL_NAME_MAX];
    bool probe;         /* an internal health_check, no owner: a half-open breaker's probe, */
    bool discover;      /* or (also set) one that only asks the replica's tools: no breaker */
    sl_strs_t warnings; /* for the result: partial, tools that did not run */
    sl_ep_astate_t state;
    int replica;   /* -1 while queued */
    uint64_t conn; /* legacy/probe connection, 0 none */
    char *frame;   /* the request frame (JSON) */
    size_t frame_len;
    int64_t started_ms, started_wall, dispatched_ms;
    int64_t queue_timeout, progress_timeout, attempt_timeout; /* effective */
    /* deadlines (SL_EP_NEVER = off); d_grace: suspect, dead without a sign
       of life by then */
    int64_t d_queue, d_connect, d_ping, d_pong, d_stall, d_attempt, d_flush, d_grace;
    int64_t ping_sent; /* when the outstanding ping went */
    bool suspect;      /* its connection missed a pong, nothing came since */
    uint64_t timer;
    int64_t timer_due;
    /* last checkpoint */
    char *last_stage, *last_message, *last_checkpoint;
    int64_t last_pct;   /* -1 unknown */
    uint8_t *last_data; /* msgpack map or NULL */
    size_t last_data_len;
    char *last_partial; /* the latest partial result (JSON) or NULL */
    /* the timeout that ended it: its key below services/<name>/ (or a
       request's "timeouts.<x>") and value, for ATTEMPT_RESULT */
    const char *fired_key;
    int64_t fired_ms;
    bool has_progress;
    /* throttle */
    int64_t pwin_start;
    uint32_t pwin_count;
    bool pending;
    char *sent_stage; /* the stage last sent (owned), NULL none */
    /* lists */
    struct sl_ep_attempt *next, *prev;   /* all attempts */
    struct sl_ep_attempt *qnext, *qprev; /* service queue */
    bool queued;
} sl_ep_attempt_t;

struct sl_ep_replica {
    sl_ep_t *ep;
    int index;
    char *url;
    sl_breaker_t *breaker;
    uint32_t in_flight;
    double ewma_ms;
    uint64_t btimer; /* breaker timer */
    int64_t btimer_due;
    bool unhealthy; /* as last sent in endpoint.health: breaker not closed or suspect */
    bool suspect;   /* a connection to it missed a pong and nothing came from it since */
    int64_t suspect_since;
    char addr[48]; /* IP address its last connection reached, "" unknown */
    /* removed by ENDPOINT_RECONFIGURE: takes no new attempt, its running
       ones end as usual; kept in the array (indices and pointers to
       replicas stay valid) and revived if its URL comes back */
    bool retired;
    /* tools: its health_response available_tools (known once it answered
       one); asking = a health_check for them is under way */
    sl_strs_t tools;
    bool tools_known, tools_asking;
    /* mux */
    sl_ep_mux_state_t mux_state;
    int64_t m_connect, m_ping, m_pong, m_grace, m_ping_sent;
    uint64_t mtimer;
    int64_t mtimer_due;
};

typedef struct {
    uint64_t started, results, rejected, queue_timeouts, cancelled, unknown_progress,
        malformed_frames, unmatched_frames, probes, breaker_transitions, progress_sent,
        progress_dropped, pongs_missed, revived;
    /* out-of-band pushes: matched by correlation_id; without an id,
       attributed by sl_ep_push_attribute or not */
    uint64_t pushes_by_id, pushes_attributed, pushes_unattributed;
} sl_ep_counters_t;

struct sl_ep {
    sl_actor_t *self;
    char name[SL_NAME_MAX];
    char *service, *op, *ca_file, *store;
    sl_endpoint_protocol_t protocol;
    int64_t connect_timeout, ping_interval, pong_timeout, queue_timeout, progress_timeout,
        heartbeat_timeout, liveness_grace, attempt_timeout;
    sl_breaker_config_t bcfg;
    uint32_t max_in_flight, queue_max, progress_max;
    sl_ep_replica_t *replicas;
    size_t n_replicas;
    sl_wsio_t *wsio;
    sl_map_t by_id;   /* attempt id -> attempt (string keys: a->id) */
    sl_map_t by_conn; /* legacy/probe conn -> attempt */
    sl_ep_attempt_t *all;
    sl_ep_attempt_t *qhead, *qtail;
    uint32_t queued;
    uint64_t next_conn;
    uint64_t probe_seq;
    bool pumping;
    sl_ep_counters_t c;
    sl_mp_writer_t w;
};

/* ---- sl_endpoint_push.c ------------------------------------------------- */

/* The one live attempt an out-of-band push with an empty correlation_id
   belongs to, or NULL with *why (static text) saying why none is: the rule
   is at the top of sl_endpoint_push.c. */
sl_ep_attempt_t *sl_ep_push_attribute(sl_ep_t *ep, const sl_progress_push_t *p, const char **why);
/* Remembers the IP address a connection of a replica reached (WSIO_OPEN's
   peer), so a replica named by a host name can match a push's source. */
void sl_ep_push_learn(sl_ep_t *ep, uint64_t conn, const char *peer);

/* ---- sl_endpoint_config.c ------------------------------------------------ */

bool sl_ep_op_known(const char *op);
/* The op an endpoint of this service sends when neither its config nor the
   attempt names one. */
const char *sl_ep_default_op(const char *service);

/* ---- sl_endpoint_attempt.c ----------------------------------------------- */

int64_t sl_ep_now(sl_ep_t *ep);
int64_t sl_ep_wall(sl_ep_t *ep);
/* Sends ep->w's message to `to` and resets ep->w; a missing mailbox is fine. */
void sl_ep_send_writer(sl_ep_t *ep, const char *to, uint16_t type);
/* Puts a new attempt on the list of all attempts (sl_ep_finish takes it
   off). */
void sl_ep_attempt_link(sl_ep_attempt_t *a);
/* Frees an attempt that is in no index and holds nothing open. */
void sl_ep_attempt_free(sl_ep_attempt_t *a);
/* How an attempt ended. */
typedef struct {
    int outcome;        /* sl_outcome_t */
    const char *status; /* the result's status, or NULL */
    const uint8_t *raw; /* the analyzer's frame (JSON), kept as the result, or NULL */
    size_t raw_len;
    const sl_wire_verdict_t *v; /* the frame's classification, or NULL */
    const char *error;          /* the cause, or NULL: the verdict's text stands in */
} sl_ep_end_t;
/* The close code sluice sends when it closes an analyzer connection:
   1000 when the analyzer answered (its result or error frame ended the
   attempt), 1001 when sluiced is stopping, 1002 after a frame it could not
   read, else SL_WSIO_CLOSE_ABANDONED + outcome (the reason is the outcome's
   name): sluice gave the attempt up (cancelled, a timeout, a dead link). */
int sl_ep_close_code(int outcome, bool answered);
/* Ends an attempt: exactly once, unlinks it, frees its slot, closes or
   cancels what it holds, records the breaker, sends the result (after any
   held-back progress), frees it and pumps the queue. The error is the cause
   only, never the outcome's name, which is its own field (the pipeline
   puts "<outcome>: " before it). */
void sl_ep_finish(sl_ep_attempt_t *a, const sl_ep_end_t *end);
/* sl_ep_finish for an end with no frame from the analyzer (timeouts,
   transport, cancel, shutdown): fmt names the cause. */
void sl_ep_fail(sl_ep_attempt_t *a, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Arms the attempt's timer at its earliest deadline (never moves it later). */
void sl_ep_attempt_arm(sl_ep_attempt_t *a);
/* The replica the attempt would go to now, or -1 (full, open, excluded,
   lacking a tool the attempt names). */
int sl_ep_pick(sl_ep_t *ep, const sl_ep_attempt_t *a);
/* Dispatches queued attempts while replicas have room. */
void sl_ep_pump(sl_ep_t *ep);
/* What one progress frame or push says about an attempt; a NULL or absent
   part keeps what the attempt had (a frame with only a pct keeps the stage
   it refines). */
typedef struct {
    const char *stage, *message, *checkpoint;
    bool has_pct;
    double pct;
    const uint8_t *data; /* msgpack map, or NULL */
    size_t data_len;
    const json_t *partial; /* a partial result object, or NULL */
} sl_ep_checkpoint_t;
/* Updates the attempt's checkpoint from cp and forwards it throttled; arms:
   this kind of report proves the analysis alive (resets the stall timer). */
void sl_ep_progress(sl_ep_attempt_t *a, const sl_ep_checkpoint_t *cp, bool arms);
sl_ep_attempt_t *sl_ep_find_id(sl_ep_t *ep, const char *id);
/* A sign of life from replica r (how: "pong", "frame", "progress",
   "open"), and, when a is not NULL, for that attempt: clears their
   suspicion (an endpoint.health event when the replica's health flips). */
void sl_ep_alive(sl_ep_replica_t *r, sl_ep_attempt_t *a, const char *how);
/* Moves the replica's breaker on time (emitting any transition). */
void sl_ep_breaker_tick(sl_ep_replica_t *r);
/* Arms the replica's mux timer at its earliest deadline. */
void sl_ep_mux_arm(sl_ep_replica_t *r);
/* Ends every attempt on the replica's mux connection and closes it. */
void sl_ep_mux_fail(sl_ep_replica_t *r, int outcome, const char *why);
/* Asks every replica for its tools: a health_check on a fresh connection
   each, with no breaker involved (a replica that does not answer stays
   "tools unknown" and is chosen as before). */
void sl_ep_tools_ask(sl_ep_t *ep);
/* Asks one replica for its tools (a replica added by a reload). */
void sl_ep_replica_ask_tools(sl_ep_replica_t *r);
/* A replica's health_response listed these n tools (copied): replaces what
   the replica is known to have, logs a change and pumps the queue. */
void sl_ep_tools_learned(sl_ep_replica_t *r, const char *const *tools, size_t n);

/* ---- sl_endpoint_wire.c ------------------------------------------------- */

/* Builds the request frame of a new attempt; on failure why says why. */
int sl_ep_build_frame(sl_ep_t *ep, sl_ep_attempt_t *a, char *why, size_t whylen);
void sl_ep_on_open(sl_ep_t *ep, uint64_t conn);
void sl_ep_on_pong(sl_ep_t *ep, uint64_t conn);
void sl_ep_on_closed(sl_ep_t *ep, const sl_wsio_closed_t *ev);
void sl_ep_on_frame(sl_ep_t *ep, const sl_wsio_frame_t *ev);

#endif
