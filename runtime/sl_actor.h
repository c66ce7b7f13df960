/*  sl_actor.h: actors, mailboxes, messaging, timers and the runtime.

    An actor is a thread with private state and a mailbox. The mailbox is a
    ZMQ_PULL socket bound at "inproc://sl.<name>" in the runtime's ZeroMQ
    context. Senders keep one ZMQ_PUSH socket per destination on their own
    thread, so messages from one sender to one actor arrive in send order.
    Actors share nothing: they exchange messages whose body is msgpack bytes
    encoded by proto/ (the runtime never looks inside a body).

    Threads and ownership
    - sl_rt_t is created and destroyed by the host (or sluiced) thread; its
      spawn/destroy functions are thread-safe.
    - Everything taking `sl_actor_t *self` inside a handler (send, request,
      reply, timers, watch) must be called on that actor's own thread.
    - Functions documented "any thread" use no sockets (stop/destroy use an
      eventfd and a join), so they are safe from anywhere except the actor's
      own thread for destroy.
    - Non-actor threads (tests, a host program, an I/O thread) talk to actors
      through an sl_port_t that they create and use on their own thread only.

    Actor loop: one zmq_poll over the mailbox, the control eventfd, watched
    zmq sockets and foreign fds, with a timeout to the next timer (infinite
    with a manual clock: sl_rt_advance wakes actors). Each wake-up drains every
    waiting message (never one poll per message). An idle actor uses 0% CPU.

    Messages of type < SL_MSG_USER_BASE are runtime control messages handled
    before the handler: SL_MSG_PING is answered with SL_MSG_PONG by the runtime
    itself from the actor's loop (so a wedged handler misses pings), replies
    are routed to the pending request's callback, SL_MSG_ACTOR_EXIT is passed
    to the handler (so a parent learns how a child ended).

    Ordering guarantee (group commit relies on it): within one loop
    iteration the actor first drains every waiting mailbox message, then runs
    due timers, then fd/socket callbacks. A timer armed with delay 0 inside a
    handler therefore fires after the current drain, in the same iteration,
    before the actor sleeps again; so "on each write: if no commit timer is
    armed, arm one with delay 0" commits every write of a burst at once.
    Timers due at the same time fire in the order they were armed. So that
    a flooded actor still runs its timers, one drain reads at most 65,536
    messages; the rest is read in the next iteration (a poll that returns at
    once), after the timers.

    Resources: each actor holds two file descriptors (its eventfd and its
    mailbox socket's signaler) plus one per destination it has sent to; a
    runtime with thousands of actors needs RLIMIT_NOFILE raised.
*/
#ifndef SL_ACTOR_H
#define SL_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/sl_clock.h"
#include "runtime/sl_err.h"
#include "runtime/sl_timer.h"

#define SL_NAME_MAX 64 /* actor and port names, including the NUL */
#define SL_ENVELOPE_VERSION 1

/* Runtime message types (0..255); proto/ catalog types start at 256. */
enum {
    SL_MSG_PING = 1,       /* request; answered by the runtime, empty body */
    SL_MSG_PONG = 2,       /* reply to SL_MSG_PING */
    SL_MSG_ACTOR_EXIT = 3, /* to a parent: body = msgpack {name, reason(int)} */
    SL_MSG_USER_BASE = 256
};

/* Envelope flags */
#define SL_MSG_F_REQUEST 0x01 /* sender waits for a reply with the same corr */
#define SL_MSG_F_REPLY 0x02

typedef struct sl_rt_t sl_rt_t;
typedef struct sl_actor_t sl_actor_t;
typedef struct sl_port_t sl_port_t;

/* A received message. In a handler it is borrowed until the handler returns;
   from sl_port_recv the caller owns it (sl_msg_destroy). */
typedef struct sl_msg_t {
    uint16_t type;
    uint8_t version;        /* envelope version */
    uint8_t flags;          /* SL_MSG_F_* */
    uint64_t corr;          /* correlation id of a request/reply, else 0 */
    char from[SL_NAME_MAX]; /* sender's mailbox name ("" for send-only ports) */
    const uint8_t *body;    /* msgpack bytes, may be NULL when body_len == 0 */
    size_t body_len;
    void *priv_; /* runtime-private (the zmq frame) */
} sl_msg_t;

void sl_msg_destroy(sl_msg_t **p);

/* ---- runtime ---------------------------------------------------------- */

/* Creates a runtime. zmq_ctx: NULL to create and own a context, or a host's
   context (borrowed; must outlive the runtime). clock: NULL for a system
   clock owned by the runtime, or a borrowed clock (e.g. manual, for tests).
   Caller owns; NULL on failure. */
sl_rt_t *sl_rt_new(void *zmq_ctx, sl_clock_t *clock);

/* Stops and joins every actor still running (newest first), closes the
   runtime's sockets, terminates its context if it owns it. Accepts NULL;
   nulls *p. Every sl_port_t must be destroyed before this. */
void sl_rt_destroy(sl_rt_t **p);

void *sl_rt_zmq_ctx(sl_rt_t *self);     /* borrowed */
sl_clock_t *sl_rt_clock(sl_rt_t *self); /* borrowed */

/* Manual clock only: advance it by ms and wake every actor so due timers
   fire. Returns after the wake-ups were posted (not after timers ran). */
int sl_rt_advance(sl_rt_t *self, int64_t ms);

/* True when an actor with this name is registered and running. Any thread. */
bool sl_rt_has(sl_rt_t *self, const char *name);

/* ---- actors ----------------------------------------------------------- */

/* init runs on the new thread before spawn returns; returning < 0 makes
   spawn fail with that code (and fini is not called; timers, watches and
   requests init made are dropped without firing). *state is the actor's
   private state, passed to handle and fini.
   handle gets every non-runtime message. It must not block. A return < 0 is
   fatal: the actor stops, fini runs, and the parent (if any) receives
   SL_MSG_ACTOR_EXIT with that reason.
   fini runs on the actor's thread when it stops for any reason. */
typedef int(sl_actor_init_fn)(sl_actor_t *self, void *args, void **state);
typedef int(sl_actor_handle_fn)(sl_actor_t *self, void *state, const sl_msg_t *msg);
typedef void(sl_actor_fini_fn)(sl_actor_t *self, void *state);

typedef struct {
    const char *name;       /* unique in the runtime, < SL_NAME_MAX */
    sl_actor_init_fn *init; /* may be NULL (state = args) */
    sl_actor_handle_fn *handle;
    sl_actor_fini_fn *fini; /* may be NULL */
    void *args;             /* borrowed by init */
    const char *parent;     /* mailbox told of our exit, or NULL */
    int mailbox_hwm;        /* 0 = default (1,000,000 messages) */
} sl_actor_spec_t;

/* Starts an actor and returns once its init finished. Any thread.
   Returns 0 and *out (caller owns), SL_EEXIST for a taken name, SL_EINVAL,
   or init's error. */
int sl_actor_spawn(sl_rt_t *rt, const sl_actor_spec_t *spec, sl_actor_t **out);

/* Asks the actor to stop (non-blocking, any thread, idempotent). */
void sl_actor_stop(sl_actor_t *self);

/* Stops the actor if running, waits for its thread to exit, frees it.
   Any thread but the actor's own. Accepts NULL; nulls *p. */
void sl_actor_destroy(sl_actor_t **p);

/* Any thread. */
const char *sl_actor_name(sl_actor_t *self);
bool sl_actor_running(sl_actor_t *self);
/* Why it stopped: 0 = asked to stop, < 0 = handler/init error. */
int sl_actor_exit_reason(sl_actor_t *self);

/* Own thread only. */
sl_rt_t *sl_actor_rt(sl_actor_t *self);
int64_t sl_actor_now(sl_actor_t *self); /* runtime clock, ms */

/* ---- messaging (own thread) -------------------------------------------- */

/* Fire-and-forget. The body is copied into the message; the caller keeps
   its buffer. Never blocks: SL_ENOTFOUND when no actor/port has that name,
   SL_EFULL when the destination mailbox is at its high-water mark. */
int sl_actor_send(sl_actor_t *self, const char *to, uint16_t type, const void *body, size_t len);

/* Called exactly once per request: status 0 with the reply (borrowed for the
   call), or SL_ETIMEOUT/SL_ECLOSED with reply NULL. A reply arriving after
   the deadline is dropped and counted. */
typedef void(sl_reply_fn)(sl_actor_t *self, void *arg, int status, const sl_msg_t *reply);

/* Sends a request with a fresh correlation id and arms its deadline.
   If sending fails the error is returned and fn is never called. */
int sl_actor_request(sl_actor_t *self, const char *to, uint16_t type, const void *body, size_t len,
                     int64_t timeout_ms, sl_reply_fn *fn, void *arg);

/* Replies to a request received by this actor (msg->flags has
   SL_MSG_F_REQUEST). */
int sl_actor_reply(sl_actor_t *self, const sl_msg_t *request, uint16_t type, const void *body,
                   size_t len);

/* ---- timers (own thread) ------------------------------------------------ */

/* delay_ms from now; period_ms > 0 for periodic. Returns id > 0, 0 on ENOMEM. */
uint64_t sl_actor_timer(sl_actor_t *self, int64_t delay_ms, int64_t period_ms, sl_timer_fn *fn,
                        void *arg);
int sl_actor_timer_cancel(sl_actor_t *self, uint64_t id);

/* ---- reactor (own thread) ----------------------------------------------- */

/* revents as in poll(2)/zmq_poll (ZMQ_POLLIN == POLLIN, ...). A return < 0
   is fatal for the actor like a handler error.
   Note: events/revents are zmq_poll's ZMQ_POLL* values for fds too.
   ZMQ_POLLIN == POLLIN, but ZMQ_POLLOUT (2) != POLLOUT (4) and
   ZMQ_POLLERR (4) != POLLERR (8): use the ZMQ_ names. */
typedef int(sl_fd_fn)(sl_actor_t *self, int fd, short revents, void *arg);
typedef int(sl_socket_fn)(sl_actor_t *self, void *zsock, short revents, void *arg);

/* Waits on a foreign file descriptor in the actor's poll. One watch per fd. */
int sl_actor_watch_fd(sl_actor_t *self, int fd, short events, sl_fd_fn *fn, void *arg);
int sl_actor_unwatch_fd(sl_actor_t *self, int fd);

/* Waits on a ZeroMQ socket the actor created on its own thread (e.g. the
   API's ROUTER). The callback should drain it (ZMQ_DONTWAIT) until EAGAIN. */
int sl_actor_watch_socket(sl_actor_t *self, void *zsock, short events, sl_socket_fn *fn, void *arg);
int sl_actor_unwatch_socket(sl_actor_t *self, void *zsock);

/* ---- ports: messaging for non-actor threads ------------------------------ */

/* A port belongs to the thread that created it. name: a mailbox name to
   receive on (registered like an actor's, so actors can reply to it), or NULL
   for a send-only port (e.g. an I/O thread feeding its actor). Caller owns. */
sl_port_t *sl_port_new(sl_rt_t *rt, const char *name);
void sl_port_destroy(sl_port_t **p);

int sl_port_send(sl_port_t *self, const char *to, uint16_t type, const void *body, size_t len);

/* Blocking request with a deadline: 0 and *reply (caller owns), or
   SL_ETIMEOUT. Messages that are not the reply are kept for sl_port_recv. */
int sl_port_request(sl_port_t *self, const char *to, uint16_t type, const void *body, size_t len,
                    int64_t timeout_ms, sl_msg_t **reply);

/* Receives the next message, waiting at most timeout_ms (real time, not the
   runtime clock): 0 and *msg (caller owns) or SL_ETIMEOUT. */
int sl_port_recv(sl_port_t *self, int64_t timeout_ms, sl_msg_t **msg);

int sl_port_reply(sl_port_t *self, const sl_msg_t *request, uint16_t type, const void *body,
                  size_t len);

/* ---- counters ---------------------------------------------------------- */

typedef struct {
    char name[SL_NAME_MAX];
    uint64_t msgs_in;       /* messages delivered to the handler or runtime */
    uint64_t msgs_out;      /* messages sent */
    uint64_t mailbox_depth; /* sent to it but not yet received */
    uint64_t handler_ns;    /* total time spent in the handler and callbacks */
    uint64_t late_replies;  /* replies dropped after their deadline */
    uint64_t timers;        /* pending timers */
    bool running;
    uint64_t malformed; /* frames dropped: bad envelope or unknown runtime type */
} sl_actor_stats_t;

/* Any thread: a consistent-enough snapshot (counters are relaxed atomics). */
void sl_actor_stats(sl_actor_t *self, sl_actor_stats_t *out);

/* Any thread: snapshot of every registered actor; returns how many were
   written (at most max). */
size_t sl_rt_stats(sl_rt_t *self, sl_actor_stats_t *out, size_t max);

#endif
