/*  sl_curve.h: CURVE security for the api's sockets, with our own ZAP handler.

    The api actor makes its ROUTER and PUB sockets CURVE servers with one
    secret certificate, and authenticates every connecting client against a
    directory of allowed public certificates (czmq zcert files). The ZAP
    handler (RFC 27) is a ZMQ_REP socket bound at "inproc://zeromq.zap.01" in
    the runtime's ZeroMQ context (which may be an embedding host's), created,
    watched and closed on the api actor's thread; libzmq's I/O threads ask it
    about each CURVE handshake and it answers "200" for a key in the set,
    "400" for anything else. czmq's zauth is not used: it runs in czmq's own
    global context (so libzmq would never ask it about our sockets) and is a
    zactor (zactor_destroy blocks on the actor; see docs/internals.md).

    Order matters and is the caller's: sl_curve_start (ZAP bound) before
    binding any secured socket, and the secured sockets closed before
    sl_curve_destroy. A CURVE server with no ZAP handler in its context lets
    any CURVE client in, so a secured socket must never outlive the handler.

    Not covered: inproc:// endpoints. libzmq runs no security handshake on
    inproc, so an inproc bind is reachable by any code in the process (the
    embedding host) whatever the keys; the api logs a warning for one.

    Every function runs on the api actor's thread (the one that owns the
    sockets); sl_curve_t is not shared.
*/
#ifndef SL_CURVE_H
#define SL_CURVE_H

#include <stddef.h>

#include "runtime/sl_actor.h"

#define SL_CURVE_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define SL_CURVE_DOMAIN "sluice" /* ZAP domain set on the secured sockets */
#define SL_CURVE_MAX_CLIENTS 4096

typedef struct sl_curve_t sl_curve_t;

/* Caller owns; NULL on ENOMEM. */
sl_curve_t *sl_curve_new(void);

/* Loads the server's secret certificate and the allowed clients' public
   certificates: every regular file in clients_dir except dotfiles and
   "*_secret" (zcert_save's secret half), as czmq's zcertstore does. A file
   that is not a certificate is skipped with a warning; an empty set is
   allowed (nobody gets in) and warned about. Returns 0, SL_ECONFIG (secret
   file unreadable or without a secret key, directory unreadable, more than
   SL_CURVE_MAX_CLIENTS keys) with the reason logged, or SL_ENOMEM. */
int sl_curve_load(sl_curve_t *self, const char *secret_file, const char *clients_dir);

/* Re-reads the allowed clients from clients_dir (the rules of
   sl_curve_load) and swaps them in; on an error the previous set stays.
   The api actor's thread. 0, SL_EINVAL, SL_ECONFIG or SL_ENOMEM. */
int sl_curve_reload_clients(sl_curve_t *self, const char *clients_dir);

/* Binds the ZAP handler in actor's runtime context and watches it in the
   actor's poll. Call from actor's init, after sl_curve_load. Returns 0,
   SL_EEXIST when another ZAP handler is already bound in that context (only
   one may be), SL_EUNSUPPORTED when libzmq was built without CURVE, or
   SL_EZMQ; the reason is logged. */
int sl_curve_start(sl_curve_t *self, sl_actor_t *actor);

/* Makes sock a CURVE server with the loaded key, in the SL_CURVE_DOMAIN ZAP
   domain. Call before zmq_bind. Returns 0 or SL_EZMQ. */
int sl_curve_secure(sl_curve_t *self, void *sock);

/* Logs a warning when endpoint is one CURVE cannot guard (inproc://, see
   above). For the api's bind list. */
void sl_curve_check_bind(const char *endpoint);

/* Allowed public keys loaded. */
size_t sl_curve_clients(const sl_curve_t *self);

/* Stops watching and closes the ZAP socket. Close the secured sockets
   first. On the actor's thread; accepts NULL; nulls *p. */
void sl_curve_destroy(sl_curve_t **p);

#endif
