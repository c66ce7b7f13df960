/*  sl_wsio.h: the libwebsockets I/O thread, a dumb WebSocket transport owned
    by one actor (the endpoint actor or the progress listener).

    Debian's libwebsockets 4.1.6 has no external-poll callbacks, so lws cannot
    live inside an actor's poll. Instead each sl_wsio_t owns one
    lws_context and one thread that runs lws_service() on it. The owner talks
    to it in two directions:

      owner -> I/O   the command functions below (connect, send, ping, close)
                     push onto a mutex-protected queue and wake the I/O thread
                     with lws_cancel_service(); the I/O thread drains the queue
                     in LWS_CALLBACK_EVENT_WAIT_CANCELLED.
      I/O -> owner   events (SL_MSG_WSIO_* from proto/sl_catalog.def, bodies
                     encoded with the catalog's codec) sent to the owner's
                     mailbox through a send-only sl_port_t that the I/O thread
                     creates, uses and destroys on its own thread.

    The I/O thread knows nothing about analyzers, attempts, timeouts or
    breakers: it connects, sends, receives, pings, closes and listens.
    Every deadline (connect, pong, attempt) is the owner's: when one expires
    the owner calls sl_wsio_close() and waits for WSIO_CLOSED.

    Connection ids
    - Client connections: the owner chooses the id (any uint64_t in
      [1, SL_WSIO_SERVER_BIT)). An id is live from sl_wsio_connect() until the
      I/O thread has emitted its WSIO_CLOSED; after receiving WSIO_CLOSED the
      owner may reuse it.
    - Accepted (server-mode) connections get ids allocated by the I/O thread
      with SL_WSIO_SERVER_BIT set, announced by WSIO_ACCEPTED.

    Events (to opts.owner, in order per connection)
    - WSIO_OPEN {conn, peer}: a client connection finished its TCP+TLS+WS
      handshake. peer is the IP address it reached.
    - WSIO_ACCEPTED {conn, peer, path}: a server-mode connection was accepted
      (after its WS handshake). peer is the remote IP address.
    - WSIO_FRAME {conn, data}: one complete message (text or binary),
      reassembled from fragments. A message larger than opts.max_message
      closes the connection with 1009 and the error "message too big".
    - WSIO_PONG {conn}: a pong arrived (answering sl_wsio_ping()).
    - WSIO_CLOSED {conn, code, error, opened}: the end of a connection.
      Exactly one per sl_wsio_connect() that returned 0 and one per
      WSIO_ACCEPTED, whatever happened (connect error, TLS error, peer close,
      our close, protocol error, size cap) -- except that no event at all is
      emitted once sl_wsio_destroy() has begun: the owner that destroys the
      wsio knows every connection ended.
      code: the WebSocket close code (received from the peer, or the one we
      sent), 1005 for a peer's close frame without a code, 0 when the
      connection ended without a close frame.
      error: why, human-readable (never NULL): "connect failed: ...",
      "tls: certificate refused: <OpenSSL's reason>", "tls: ...",
      "peer closed" / "peer closed: <peer's reason, sanitised>", "closed"
      (a close the owner asked for), "connection lost", "message too big",
      "write failed".
      opened: whether WSIO_OPEN/WSIO_ACCEPTED was emitted for it.

    Threads
    - sl_wsio_new/start/destroy: the owner's thread (any one thread).
    - Command functions: thread-safe, but meant for one thread (the owner's);
      commands are executed in the order they were queued.
    - Events are sent from the I/O thread only.

    TLS: wss:// always verifies the server certificate and host name (or IP
    address), against opts.ca_file when given, else OpenSSL's default paths
    (the system store). There is no switch to turn verification off. Server
    mode serves wss:// when opts.cert_file and opts.key_file are given, plain
    ws:// otherwise.

    Server mode accepts WebSocket upgrades on any path from clients that ask
    for no subprotocol (the fleet's Python clients) or for "sluice". Client
    connections ask for no subprotocol.

    Limits and caveats (lws 4.1.6 as packaged by Debian)
    - Host names are resolved synchronously on the I/O thread (no async DNS
      in that build): a slow resolver delays the wsio's other connections.
      Use IP addresses for replicas where that matters.
    - A listener on an IPv4 address or an interface name makes the whole
      context IPv4-only (lws 4.1 would otherwise bind [::], every
      interface); its client connections are then IPv4-only too.
    - Queued sends are not bounded here; the owner bounds what it sends
      (one request per attempt, in-flight limits).
    - Only text messages are sent; received binary messages are delivered
      like text ones.
*/
#ifndef SL_WSIO_H
#define SL_WSIO_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/sl_actor.h"

/* Accepted (server-mode) connection ids have this bit set; client ids must
   not. */
#define SL_WSIO_SERVER_BIT (UINT64_C(1) << 63)

/* Default cap on one received message, bytes. */
#define SL_WSIO_MAX_MESSAGE_DEFAULT (16u << 20)

/* Close codes (RFC 6455) the owner will commonly use or see. */
#define SL_WSIO_CLOSE_NORMAL 1000
#define SL_WSIO_CLOSE_GOING_AWAY 1001
#define SL_WSIO_CLOSE_PROTOCOL 1002
#define SL_WSIO_CLOSE_TOO_BIG 1009
/* 4000 + an outcome's number (proto/sl_outcome.h), reason its name: sluice
   abandoned the attempt (cancelled, a timeout, a dead link). */
#define SL_WSIO_CLOSE_ABANDONED 4000

/* Listen port value for a client-only wsio. */
#define SL_WSIO_NO_LISTEN (-1)

typedef struct sl_wsio_t sl_wsio_t;

typedef struct {
    const char *owner;   /* mailbox that receives the events (required) */
    const char *name;    /* for logs, e.g. "endpoint.static-analyzer"; NULL = owner */
    const char *ca_file; /* PEM CA bundle trusted for wss://; NULL = system store */
    /* Server mode */
    int listen_port;          /* SL_WSIO_NO_LISTEN (client only), 0 = ephemeral, or a port */
    const char *listen_iface; /* IP address to bind; NULL = "127.0.0.1" */
    const char *cert_file;    /* PEM server certificate (chain) for wss://; NULL = ws:// */
    const char *key_file;     /* PEM private key for cert_file */
    /* Limits */
    size_t max_message; /* cap on one received message; 0 = default (16 MiB) */
    /* Test knob: split every sent message into WebSocket frames of at most
       this many bytes (continuation frames); 0 = one frame per message. */
    size_t send_fragment;
} sl_wsio_opts_t;

/* Allocates a wsio; copies every string in opts. No thread, no socket yet.
   Caller owns (sl_wsio_destroy). NULL on bad opts (owner missing, client
   ids...) or out of memory. */
sl_wsio_t *sl_wsio_new(sl_rt_t *rt, const sl_wsio_opts_t *opts);

/* Starts the I/O thread and returns once its lws context exists and, in
   server mode, listens (see sl_wsio_port). Owner's thread. Blocks for at most
   a few milliseconds. Returns 0, SL_ESTATE when already started, SL_ELWS when
   the context or listener cannot be created (port in use, bad cert/key/CA
   file), SL_ENOMEM. After a failure the wsio can only be destroyed. */
int sl_wsio_start(sl_wsio_t *self);

/* The bound listen port after a successful start in server mode, else -1. */
int sl_wsio_port(sl_wsio_t *self);

/* Closes every connection (without events), stops and joins the I/O thread,
   frees everything. Owner's thread. Accepts NULL; nulls *p. Once it has
   begun no more events are sent (events sent earlier may still sit in the
   owner's mailbox). */
void sl_wsio_destroy(sl_wsio_t **p);

/* ---- commands (thread-safe; queued, executed on the I/O thread) ----------

   All return 0 once the command is queued (its effect and any failure are
   reported by events), or
     SL_EINVAL     bad argument (id 0 or with SL_WSIO_SERVER_BIT for connect,
                   unparsable URL or a scheme other than ws/wss),
     SL_EEXIST     connect with an id that is still live,
     SL_ENOTFOUND  send/ping/close on an id that is not live (never
                   connected, or its WSIO_CLOSED already went),
     SL_ECLOSED    not started, or being destroyed,
     SL_ENOMEM. */

/* Opens a client connection to url: "ws://host[:port][/path]" or
   "wss://host[:port][/path]" (default ports 80/443). Ends with exactly one
   WSIO_CLOSED; WSIO_OPEN before it when the handshake succeeds. */
int sl_wsio_connect(sl_wsio_t *self, uint64_t conn, const char *url);

/* Queues one text message (len bytes from data, copied; need not be
   NUL-terminated) on a client or accepted connection. Messages are written
   in order, one per writeable callback. Sends queued before the connection
   opens wait for it; sends on a connection that ends are dropped. */
int sl_wsio_send(sl_wsio_t *self, uint64_t conn, const void *data, size_t len);

/* Queues a ping frame (with a short payload: lws 4.1 ignores empty pings);
   a pong arrives as WSIO_PONG. The owner times it. */
int sl_wsio_ping(sl_wsio_t *self, uint64_t conn);

/* Closes a connection: after the messages already queued for it are
   written, sends a close frame with code (0 = 1000) and reason (NULL = "",
   truncated to 123 bytes) and ends it. A connection still connecting is
   aborted at once. Either way it ends with WSIO_CLOSED (error "closed",
   code = the code we sent, or 0 when no close frame could be sent). */
int sl_wsio_close(sl_wsio_t *self, uint64_t conn, int code, const char *reason);

#endif
