/*  sl_wsio.c: the libwebsockets I/O thread (see sl_wsio.h for the contract).

    One sl_wsio_t = one lws_context = one thread running lws_service(). The
    owner's thread only touches the command queue, the set of live ids and
    the state, all under `lock`; everything else (the lws context, the
    connection table, the event port) belongs to the I/O thread from its
    creation in s_thread to its destruction at the end of s_thread.

    Design notes
    - Waking the I/O thread: lws_cancel_service() makes lws_service() call
      every protocol with LWS_CALLBACK_EVENT_WAIT_CANCELLED, where we drain the
      whole queue at once. A wake-up is only posted when the queue goes from
      empty to non-empty: a burst of sends costs one cross-thread wake-up.
      lws_cancel_service() is called under `lock`, and the I/O thread takes
      `lock` before it destroys the context, so the owner can never cancel a
      context that is being destroyed.
    - Exactly one WSIO_CLOSED per connection: every path that ends a
      connection goes through s_conn_end(), which emits once, detaches the
      connection from its wsi (opaque user data := NULL) and frees it; later
      lws callbacks for that wsi find no connection and do nothing.
      LWS_CALLBACK_WSI_DESTROY is the backstop for paths lws does not report
      otherwise (a client killed while connecting, a context going down).
    - Live ids: an id is in `live` from sl_wsio_connect (or the accept) until
      just before its WSIO_CLOSED is sent, so the owner may reuse an id as
      soon as it has seen WSIO_CLOSED, and send/close on a dead id fails fast
      with SL_ENOTFOUND.
    - Sending: a queued message is allocated once with LWS_PRE bytes of
      headroom and moved, not copied, from the command queue to the
      connection's out queue; lws_write() sends it in place. Up to
      S_WRITES_PER_CALLBACK writes per writeable callback, stopping once lws
      had to buffer one (it buffers a partial socket write itself and does
      not call us writeable again until it is flushed); a close always gets
      a callback of its own.
    - Client TLS: we build the client SSL_CTX ourselves and hand it to lws
      (provided_client_ssl_ctx), for two reasons measured here. lws 4.1 finds
      the refcount of its own client SSL_CTX through an SSL_CTX ex_data index
      that every new context re-allocates, so with two contexts alive the
      older one's SSL_CTX (and its whole CA store) leaked at destroy. And
      Debian builds it with LWS_OPENSSL_CLIENT_CERTS "../share", so "no CA
      file" would trust nothing; we load OpenSSL's default paths instead.
      Verification is SSL_VERIFY_PEER; lws adds the host name check.
*/
#define _GNU_SOURCE /* pthread_setname_np */
#include "actors/endpoint/sl_wsio.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/sl_catalog.h"
#include "runtime/sl_log.h"
#include "runtime/sl_map.h"

#define S_PROTOCOL_NAME "sluice"
#define S_REASON_MAX 123         /* a close frame's payload is at most 125 bytes */
#define S_RX_KEEP (64u << 10)    /* keep an rx buffer up to this size between messages */
#define S_WRITES_PER_CALLBACK 64 /* queued items written per WRITEABLE callback */

typedef enum { S_NEW, S_RUNNING, S_FAILED, S_STOPPING } s_state_t;

typedef enum { S_CMD_CONNECT, S_CMD_SEND, S_CMD_PING, S_CMD_CLOSE } s_cmd_kind_t;

/* A command on its way to the I/O thread, and then (SEND, PING, CLOSE) an
   item of one connection's out queue. */
typedef struct s_cmd_t {
    struct s_cmd_t *next;
    s_cmd_kind_t kind;
    uint64_t conn;
    /* CONNECT */
    bool tls;
    int port;
    char *host;
    char *host_header; /* host[:port], the port when not the scheme's (RFC 7230 5.4) */
    char *path;
    /* SEND: payload at buf + LWS_PRE, len bytes; off = bytes already sent */
    uint8_t *buf;
    size_t len;
    size_t off;
    /* CLOSE */
    int code;
    char reason[S_REASON_MAX + 1];
} s_cmd_t;

typedef struct {
    s_cmd_t *head;
    s_cmd_t *tail;
} s_queue_t;

typedef struct {
    uint64_t id;
    struct lws *wsi;
    bool opened;
    bool closing; /* a close was requested: drop further sends */
    int code;     /* close code received or sent, 0 for none */
    char *error;  /* why it ended (owned), NULL until known */
    s_queue_t out;
    uint8_t *rx;
    size_t rx_len;
    size_t rx_cap;
    s_cmd_t *target; /* CONNECT command (host, path) kept until the end */
} s_conn_t;

struct sl_wsio_t {
    sl_rt_t *rt;
    char *owner;
    char *name;
    char *ca_file;
    char *iface;
    char *cert_file;
    char *key_file;
    int listen_port;
    size_t max_message;
    size_t send_fragment;

    /* Shared with the I/O thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    s_state_t state;
    bool ready; /* the I/O thread finished its start (start_rc is valid) */
    int start_rc;
    s_queue_t cmds;
    sl_map_t live;
    struct lws_context *ctx; /* for lws_cancel_service, NULL once gone */
    atomic_bool stop;
    atomic_int bound_port;

    /* I/O thread only. */
    pthread_t thread;
    bool thread_started;
    sl_port_t *port;
    struct lws_context *io_ctx;
    SSL_CTX *client_tls; /* ours: lws only borrows it */
    sl_map_t conns;
    uint64_t next_server_id;
    bool quiet;      /* no events: destroy has begun */
    bool owner_gone; /* an event found no owner (it is stopping); logged once */
    struct lws_protocols protocols[2];
};

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* ---- small helpers ------------------------------------------------------ */

static char *s_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void s_cmd_free(s_cmd_t *cmd)
{
    if (!cmd) {
        return;
    }
    free(cmd->host);
    free(cmd->host_header);
    free(cmd->path);
    free(cmd->buf);
    free(cmd);
}

static void s_queue_push(s_queue_t *q, s_cmd_t *cmd)
{
    cmd->next = NULL;
    if (q->tail) {
        q->tail->next = cmd;
    } else {
        q->head = cmd;
    }
    q->tail = cmd;
}

static s_cmd_t *s_queue_pop(s_queue_t *q)
{
    s_cmd_t *cmd = q->head;
    if (cmd) {
        q->head = cmd->next;
        if (!q->head) {
            q->tail = NULL;
        }
        cmd->next = NULL;
    }
    return cmd;
}

static void s_queue_clear(s_queue_t *q)
{
    s_cmd_t *cmd;
    while ((cmd = s_queue_pop(q))) {
        s_cmd_free(cmd);
    }
}

/* Copies untrusted text (an lws error string, a peer's close reason) into a
   printable, bounded form for an error message. */
static void s_printable(char *dst, size_t cap, const char *src, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; src && i < len && n + 1 < cap; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch == '\0') {
            break;
        }
        dst[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[n] = '\0';
}

/* Parses "ws[s]://host[:port][/path]". Host: a name or IPv4 address, or an
   IPv6 address in brackets. Bytes that could break the request line or a
   header (controls, spaces, DEL) are refused. */
static int s_parse_url(const char *url, s_cmd_t *cmd)
{
    const char *p;
    if (strncmp(url, "ws://", 5) == 0) {
        cmd->tls = false;
        cmd->port = 80;
        p = url + 5;
    } else if (strncmp(url, "wss://", 6) == 0) {
        cmd->tls = true;
        cmd->port = 443;
        p = url + 6;
    } else {
        return SL_EINVAL;
    }
    for (const char *q = url; *q; q++) {
        if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
            return SL_EINVAL;
        }
    }
    const char *host = p;
    size_t host_len;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end) {
            return SL_EINVAL;
        }
        host = p + 1;
        host_len = (size_t)(end - host);
        p = end + 1;
    } else {
        host_len = strcspn(p, ":/?#");
        p += host_len;
    }
    if (host_len == 0 || host_len > 253) {
        return SL_EINVAL;
    }
    if (*p == ':') {
        p++;
        long port = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6) {
            port = port * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || port < 1 || port > 65535) {
            return SL_EINVAL;
        }
        cmd->port = (int)port;
    }
    if (*p != '\0' && *p != '/' && *p != '?') {
        return SL_EINVAL;
    }
    cmd->host = strndup(host, host_len);
    /* An IPv6 address keeps its brackets in Host. lws cuts the Host value
       at its first ':' for SNI and the certificate check, so with a port
       those still see the bare name. */
    bool v6 = host[-1] == '[';
    char hh[300];
    int n = v6 ? snprintf(hh, sizeof hh, "[%.*s]", (int)host_len, host)
               : snprintf(hh, sizeof hh, "%.*s", (int)host_len, host);
    if (cmd->port != (cmd->tls ? 443 : 80)) {
        snprintf(hh + n, sizeof hh - (size_t)n, ":%d", cmd->port);
    }
    cmd->host_header = strdup(hh);
    if (*p == '/') {
        cmd->path = strdup(p);
    } else {
        cmd->path = malloc(strlen(p) + 2);
        if (cmd->path) {
            cmd->path[0] = '/';
            strcpy(cmd->path + 1, p);
        }
    }
    if (!cmd->host || !cmd->host_header || !cmd->path) {
        return SL_ENOMEM;
    }
    return 0;
}

/* lws logs through us, once per process: errors as warnings (a refused
   connection is routine for a transport), warnings as debug. */
static void s_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    if (level & LLL_ERR) {
        sl_warn("lws: %.*s", (int)n, line);
    } else {
        sl_debug("lws: %.*s", (int)n, line);
    }
}

static pthread_once_t s_log_once = PTHREAD_ONCE_INIT;

static void s_log_init(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, s_lws_log);
}

/* ---- events (I/O thread) ----------------------------------------------- */

static void s_emit(sl_wsio_t *self, uint16_t type, int enc_rc, uint8_t *body, size_t len)
{
    if (enc_rc == 0 && !self->quiet) {
        int rc = sl_port_send(self->port, self->owner, type, body, len);
        if (rc == SL_ENOTFOUND) {
            /* An actor's name leaves the registry when its loop ends, before
               its fini destroys us: the closes of its last connections find
               no one. Say so once, not once per connection. */
            if (!self->owner_gone) {
                self->owner_gone = true;
                sl_debug("wsio %s: %s has gone; its events are dropped", self->name, self->owner);
            }
        } else if (rc < 0) {
            sl_error("wsio %s: event %u to %s lost: %s", self->name, (unsigned)type, self->owner,
                     sl_err_name(rc));
        }
    } else if (enc_rc < 0) {
        sl_error("wsio %s: cannot encode event %u: %s", self->name, (unsigned)type,
                 sl_err_name(enc_rc));
    }
    free(body);
}

/* The remote IP address of wsi into peer; lws listens and connects
   dual-stack, so an IPv4 peer may come as ::ffff:a.b.c.d: show it as IPv4. */
static void s_peer(struct lws *wsi, char *peer, size_t cap)
{
    peer[0] = '\0';
    lws_get_peer_simple(wsi, peer, cap);
    if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.')) {
        memmove(peer, peer + 7, strlen(peer + 7) + 1);
    }
}

static void s_emit_open(sl_wsio_t *self, uint64_t conn, struct lws *wsi)
{
    char peer[64];
    s_peer(wsi, peer, sizeof peer);
    sl_wsio_open_t m = {.conn = conn, .peer = peer[0] ? peer : NULL};
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sl_wsio_open_encode(&m, &body, &len);
    s_emit(self, SL_MSG_WSIO_OPEN, rc, body, len);
}

static void s_emit_pong(sl_wsio_t *self, uint64_t conn)
{
    sl_wsio_pong_t m = {.conn = conn};
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sl_wsio_pong_encode(&m, &body, &len);
    s_emit(self, SL_MSG_WSIO_PONG, rc, body, len);
}

static void s_emit_frame(sl_wsio_t *self, uint64_t conn, uint8_t *data, size_t data_len)
{
    sl_wsio_frame_t m = {.conn = conn, .data = {.ptr = data, .len = data_len}};
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sl_wsio_frame_encode(&m, &body, &len);
    s_emit(self, SL_MSG_WSIO_FRAME, rc, body, len);
}

static void s_emit_closed(sl_wsio_t *self, uint64_t conn, int code, const char *error, bool opened)
{
    sl_wsio_closed_t m = {.conn = conn, .code = code, .error = (char *)error, .opened = opened};
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sl_wsio_closed_encode(&m, &body, &len);
    s_emit(self, SL_MSG_WSIO_CLOSED, rc, body, len);
}

static void s_emit_accepted(sl_wsio_t *self, uint64_t conn, const char *peer, const char *path,
                            const char *host)
{
    sl_wsio_accepted_t m = {
        .conn = conn, .peer = (char *)peer, .path = (char *)path, .host = (char *)host};
    uint8_t *body = NULL;
    size_t len = 0;
    int rc = sl_wsio_accepted_encode(&m, &body, &len);
    s_emit(self, SL_MSG_WSIO_ACCEPTED, rc, body, len);
}

/* ---- connections (I/O thread) ------------------------------------------- */

/* Remembers why a connection is ending; the first reason wins (a "message
   too big" is not overwritten by the "connection lost" that follows it). */
static void s_conn_why(s_conn_t *c, int code, const char *fmt, ...)
{
    if (c->error) {
        return;
    }
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    c->error = strdup(buf);
    c->code = code;
}

static s_conn_t *s_conn_new(sl_wsio_t *self, uint64_t id)
{
    s_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->id = id;
    if (sl_map_put(&self->conns, id, c) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

/* The one way a connection ends: its id stops being live, the owner gets
   WSIO_CLOSED (unless we are being destroyed), the wsi forgets it. */
static void s_conn_end(sl_wsio_t *self, s_conn_t *c, const char *fallback)
{
    if (!c->error) {
        s_conn_why(c, 0, "%s", fallback);
    }
    sl_map_take(&self->conns, c->id);
    pthread_mutex_lock(&self->lock);
    sl_map_take(&self->live, c->id);
    pthread_mutex_unlock(&self->lock);
    s_emit_closed(self, c->id, c->code, c->error ? c->error : fallback, c->opened);
    if (c->wsi) {
        lws_set_opaque_user_data(c->wsi, NULL);
    }
    s_queue_clear(&c->out);
    s_cmd_free(c->target);
    free(c->rx);
    free(c->error);
    free(c);
}

static void s_do_connect(sl_wsio_t *self, s_cmd_t *cmd)
{
    uint64_t id = cmd->conn;
    s_conn_t *c = s_conn_new(self, id);
    if (!c) {
        /* Still owe the owner its WSIO_CLOSED: emit without a connection. */
        pthread_mutex_lock(&self->lock);
        sl_map_take(&self->live, id);
        pthread_mutex_unlock(&self->lock);
        s_emit_closed(self, id, 0, "connect failed: out of memory", false);
        s_cmd_free(cmd);
        return;
    }
    c->target = cmd;

    struct lws_client_connect_info info;
    memset(&info, 0, sizeof info);
    info.context = self->io_ctx;
    info.address = cmd->host;
    info.port = cmd->port;
    info.path = cmd->path;
    info.host = cmd->host_header;
    info.ssl_connection = cmd->tls ? LCCSCF_USE_SSL : 0;
    info.local_protocol_name = S_PROTOCOL_NAME;
    info.opaque_user_data = c;
    info.pwsi = &c->wsi;

    struct lws *wsi = lws_client_connect_via_info(&info);
    /* lws may already have reported a failure through the callback (and we
       freed c there): look the id up again rather than trusting c. */
    if (!wsi && (c = sl_map_get(&self->conns, id)) != NULL) {
        c->wsi = NULL;
        s_conn_end(self, c, "connect failed: cannot start the connection");
    }
}

static void s_do_command(sl_wsio_t *self, s_cmd_t *cmd)
{
    if (cmd->kind == S_CMD_CONNECT) {
        s_do_connect(self, cmd);
        return;
    }
    s_conn_t *c = sl_map_get(&self->conns, cmd->conn);
    if (!c || c->closing) {
        s_cmd_free(cmd); /* it ended meanwhile: the owner has or gets WSIO_CLOSED */
        return;
    }
    if (cmd->kind == S_CMD_CLOSE) {
        c->closing = true;
        if (!c->opened) {
            /* Still connecting: nothing to say goodbye to. Report now, then
               have lws drop the half-open wsi (no callback reaches us). */
            struct lws *wsi = c->wsi;
            s_conn_why(c, 0, "closed");
            s_conn_end(self, c, "closed");
            if (wsi) {
                lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            }
            s_cmd_free(cmd);
            return;
        }
    }
    s_queue_push(&c->out, cmd);
    if (c->opened && c->wsi) {
        lws_callback_on_writable(c->wsi);
    }
}

static void s_drain(sl_wsio_t *self)
{
    pthread_mutex_lock(&self->lock);
    s_queue_t q = self->cmds;
    self->cmds.head = self->cmds.tail = NULL;
    pthread_mutex_unlock(&self->lock);
    s_cmd_t *cmd;
    while ((cmd = s_queue_pop(&q))) {
        s_do_command(self, cmd);
    }
}

/* Writes the items of the out queue, in order: several per callback (a
   burst of requests used to cost one poll() round each), but a message
   sent in fragments, a close, and anything after a write that lws had to
   buffer wait for the next callback (lws-ws-state.h: check
   lws_partial_buffered after each write). Returns -1 to have lws close. */
static int s_on_writeable(sl_wsio_t *self, s_conn_t *c, struct lws *wsi)
{
    for (int n = 0; n < S_WRITES_PER_CALLBACK && c->out.head; n++) {
        s_cmd_t *item = c->out.head;
        if (n > 0 && (item->kind == S_CMD_CLOSE || lws_partial_buffered(wsi))) {
            break;
        }
        if (item->kind == S_CMD_SEND) {
            size_t chunk = item->len - item->off;
            int flags = item->off == 0 ? LWS_WRITE_TEXT : LWS_WRITE_CONTINUATION;
            if (self->send_fragment > 0 && chunk > self->send_fragment) {
                chunk = self->send_fragment;
            }
            if (item->off + chunk < item->len) {
                flags |= LWS_WRITE_NO_FIN;
            }
            /* In place: the LWS_PRE bytes before this chunk are either the
               headroom or payload already sent. */
            int w = lws_write(wsi, item->buf + LWS_PRE + item->off, chunk,
                              (enum lws_write_protocol)flags);
            if (w < 0) {
                s_conn_why(c, 0, "write failed");
                return -1;
            }
            item->off += chunk;
            if (item->off < item->len) {
                break; /* the next fragment in the next callback */
            }
            s_cmd_free(s_queue_pop(&c->out));
        } else if (item->kind == S_CMD_PING) {
            if (lws_write(wsi, item->buf + LWS_PRE, item->len, LWS_WRITE_PING) < 0) {
                s_conn_why(c, 0, "write failed");
                return -1;
            }
            s_cmd_free(s_queue_pop(&c->out));
        } else {
            s_conn_why(c, item->code, "closed");
            lws_close_reason(wsi, (enum lws_close_status)item->code, (unsigned char *)item->reason,
                             strlen(item->reason));
            s_cmd_free(s_queue_pop(&c->out));
            return -1;
        }
    }
    if (c->out.head) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

/* Appends a received piece; emits the message when it is complete. */
static int s_on_receive(sl_wsio_t *self, s_conn_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (len > self->max_message - c->rx_len) {
        s_conn_why(c, SL_WSIO_CLOSE_TOO_BIG, "message too big");
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"message too big", 15);
        return -1;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len) {
            cap *= 2;
        }
        uint8_t *rx = realloc(c->rx, cap);
        if (!rx) {
            s_conn_why(c, 0, "out of memory");
            return -1;
        }
        c->rx = rx;
        c->rx_cap = cap;
    }
    if (len > 0) {
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (lws_is_final_fragment(wsi)) {
        s_emit_frame(self, c->id, c->rx, c->rx_len);
        c->rx_len = 0;
        if (c->rx_cap > S_RX_KEEP) {
            free(c->rx);
            c->rx = NULL;
            c->rx_cap = 0;
        }
    }
    return 0;
}

static void s_on_accept(sl_wsio_t *self, struct lws *wsi)
{
    uint64_t id = SL_WSIO_SERVER_BIT | ++self->next_server_id;
    s_conn_t *c = s_conn_new(self, id);
    if (!c) {
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    pthread_mutex_lock(&self->lock);
    int rc = sl_map_put(&self->live, id, c);
    pthread_mutex_unlock(&self->lock);
    if (rc < 0) {
        sl_map_take(&self->conns, id);
        free(c);
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    c->wsi = wsi;
    c->opened = true;
    lws_set_opaque_user_data(wsi, c);
    char peer[64];
    char path[256] = "";
    s_peer(wsi, peer, sizeof peer);
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0) {
        path[0] = '\0';
    }
    char host[256] = "";
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) < 0) {
        host[0] = '\0';
    }
    char safe[256], safe_host[256];
    s_printable(safe, sizeof safe, path, strlen(path));
    s_printable(safe_host, sizeof safe_host, host, strlen(host));
    s_emit_accepted(self, id, peer, safe, safe_host);
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    if (!wsi) {
        return 0;
    }
    struct lws_context *ctx = lws_get_context(wsi);
    sl_wsio_t *self = ctx ? lws_context_user(ctx) : NULL;
    if (!self) {
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    s_conn_t *c = lws_get_opaque_user_data(wsi);
    char why[160];

    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        s_drain(self);
        return 0;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c) {
            c->opened = true;
            s_emit_open(self, c->id, wsi);
            if (c->out.head) {
                lws_callback_on_writable(wsi);
            }
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED:
        s_on_accept(self, wsi);
        return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_RECEIVE:
        return c ? s_on_receive(self, c, wsi, in, len) : -1;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? s_on_writeable(self, c, wsi) : 0;

    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c) {
            s_emit_pong(self, c->id);
        }
        return 0;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (c) {
            const unsigned char *p = in;
            int code = 1005; /* RFC 6455: a close frame without a status */
            if (p && len >= 2) {
                code = (p[0] << 8) | p[1];
            }
            s_printable(why, sizeof why, p && len > 2 ? (const char *)p + 2 : NULL,
                        len > 2 ? len - 2 : 0);
            if (why[0]) {
                s_conn_why(c, code, "peer closed: %s", why);
            } else {
                s_conn_why(c, code, "peer closed");
            }
        }
        return 0;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c) {
            s_printable(why, sizeof why, in, in ? len : 0);
            /* lws's text for a refused certificate is an opaque OpenSSL
               code; the verify result says what was wrong with it. */
            SSL *ssl = lws_get_ssl(wsi);
            long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
            if (vr != X509_V_OK) {
                s_conn_why(c, 0, "tls: certificate refused: %s", X509_verify_cert_error_string(vr));
            } else if (strstr(why, "ssl") || strstr(why, "SSL") || strstr(why, "tls") ||
                       strstr(why, "cert") || strstr(why, "X509")) {
                s_conn_why(c, 0, "tls: %s", why);
            } else {
                s_conn_why(c, 0, "connect failed: %s", why[0] ? why : "unknown error");
            }
            s_conn_end(self, c, "connect failed");
        }
        return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_CLOSED:
        if (c) {
            s_conn_end(self, c, "connection lost");
        }
        return 0;

    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            s_conn_end(self, c, c->opened ? "connection lost" : "connect failed: aborted");
        }
        return 0;

    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the I/O thread ------------------------------------------------------ */

static void s_started(sl_wsio_t *self, int rc)
{
    pthread_mutex_lock(&self->lock);
    self->start_rc = rc;
    self->ready = true;
    self->state = rc == 0 ? S_RUNNING : S_FAILED;
    pthread_cond_broadcast(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

/* The client SSL_CTX: peer verification always on, trusting ca_file or
   OpenSSL's default paths. */
static int s_client_tls(sl_wsio_t *self)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        return SL_ENOMEM;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = self->ca_file ? SSL_CTX_load_verify_locations(ctx, self->ca_file, NULL)
                           : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        sl_error("wsio %s: cannot load CA %s", self->name,
                 self->ca_file ? self->ca_file : "(system default paths)");
        SSL_CTX_free(ctx);
        return SL_ELWS;
    }
    self->client_tls = ctx;
    return 0;
}

static void *s_thread(void *arg)
{
    sl_wsio_t *self = arg;
    sl_log_set_thread_label(self->name);
    /* A fixed kernel name (15 bytes max) tells the I/O thread apart from
       its owner in top, perf and /proc/self/task (sluice-bench endpoint
       reports the two threads' CPU separately). */
    pthread_setname_np(pthread_self(), "sl-wsio");

    self->port = sl_port_new(self->rt, NULL);
    if (!self->port) {
        s_started(self, SL_EZMQ);
        return NULL;
    }
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = self->listen_port < 0 ? CONTEXT_PORT_NO_LISTEN : self->listen_port;
    info.iface = self->listen_port < 0 ? NULL : self->iface;
    info.protocols = self->protocols;
    info.gid = -1;
    info.uid = -1;
    info.user = self;
    /* In lws 4.1 this option also switches TLS on for the vhost, so every
       context needs it, not only the first. */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    /* lws 4.1 binds an IPv6 context to [::] whatever iface says: a listener
       asked for an IPv4 address (or an interface name) gets an IPv4-only
       context, so "127.0.0.1" really means loopback only. */
    if (self->listen_port >= 0 && !strchr(self->iface, ':')) {
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    }
    int rc = s_client_tls(self);
    if (rc < 0) {
        sl_port_destroy(&self->port);
        s_started(self, rc);
        return NULL;
    }
    info.provided_client_ssl_ctx = self->client_tls;
    if (self->listen_port >= 0 && self->cert_file) {
        info.ssl_cert_filepath = self->cert_file;
        info.ssl_private_key_filepath = self->key_file;
    }
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        sl_error("wsio %s: cannot create the lws context (listen %s:%d)", self->name, self->iface,
                 self->listen_port);
        SSL_CTX_free(self->client_tls);
        self->client_tls = NULL;
        sl_port_destroy(&self->port);
        s_started(self, SL_ELWS);
        return NULL;
    }
    int bound = -1;
    if (self->listen_port >= 0) {
        struct lws_vhost *vh = lws_get_vhost_by_name(ctx, "default");
        bound = vh ? lws_get_vhost_listen_port(vh) : -1;
        if (bound <= 0) {
            sl_error("wsio %s: not listening", self->name);
            lws_context_destroy(ctx);
            SSL_CTX_free(self->client_tls);
            self->client_tls = NULL;
            sl_port_destroy(&self->port);
            s_started(self, SL_ELWS);
            return NULL;
        }
    }
    atomic_store(&self->bound_port, bound);
    self->io_ctx = ctx;
    pthread_mutex_lock(&self->lock);
    self->ctx = ctx;
    pthread_mutex_unlock(&self->lock);
    s_started(self, 0);

    int n = 0;
    while (!atomic_load(&self->stop) && n >= 0) {
        n = lws_service(ctx, 0);
    }

    /* Refuse commands from here on, and keep the owner from cancelling a
       context we are about to destroy. */
    pthread_mutex_lock(&self->lock);
    bool asked = self->state == S_STOPPING;
    if (!asked) {
        self->state = S_FAILED;
    }
    self->ctx = NULL;
    pthread_mutex_unlock(&self->lock);
    if (asked) {
        self->quiet = true;
    } else {
        sl_error("wsio %s: lws_service failed; ending every connection", self->name);
    }
    lws_context_destroy(ctx);

    /* Whatever lws did not report (it reports everything it closes, but a
       connection whose wsi never existed has no callback). */
    for (size_t i = 0; i < self->conns.cap; i++) {
        if (self->conns.keys && self->conns.keys[i] != 0) {
            s_conn_t *c = self->conns.vals[i];
            c->wsi = NULL;
            s_conn_end(self, c, "wsio stopped");
            i = (size_t)-1; /* the table changed under us: rescan */
        }
    }
    sl_map_fini(&self->conns);
    SSL_CTX_free(self->client_tls);
    self->client_tls = NULL;
    sl_port_destroy(&self->port);
    return NULL;
}

/* ---- public API (owner's thread) ------------------------------------------- */

sl_wsio_t *sl_wsio_new(sl_rt_t *rt, const sl_wsio_opts_t *opts)
{
    if (!rt || !opts || !opts->owner || !opts->owner[0] || strlen(opts->owner) >= SL_NAME_MAX ||
        opts->listen_port < SL_WSIO_NO_LISTEN || opts->listen_port > 65535 ||
        (!opts->cert_file != !opts->key_file)) {
        return NULL;
    }
    pthread_once(&s_log_once, s_log_init);
    sl_wsio_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->rt = rt;
    self->owner = strdup(opts->owner);
    self->name = strdup(opts->name ? opts->name : opts->owner);
    self->ca_file = s_strdup(opts->ca_file);
    self->iface = strdup(opts->listen_iface ? opts->listen_iface : "127.0.0.1");
    self->cert_file = s_strdup(opts->cert_file);
    self->key_file = s_strdup(opts->key_file);
    self->listen_port = opts->listen_port;
    self->max_message = opts->max_message ? opts->max_message : SL_WSIO_MAX_MESSAGE_DEFAULT;
    self->send_fragment = opts->send_fragment;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->cond, NULL);
    sl_map_init(&self->live);
    sl_map_init(&self->conns);
    atomic_init(&self->stop, false);
    atomic_init(&self->bound_port, -1);
    self->state = S_NEW;
    /* Our protocol is the vhost's first, so it is the default for clients
       that ask for no subprotocol (the fleet's Python clients). */
    self->protocols[0].name = S_PROTOCOL_NAME;
    self->protocols[0].callback = s_callback;
    self->protocols[0].rx_buffer_size = 0;
    if (!self->owner || !self->name || !self->iface || (opts->ca_file && !self->ca_file) ||
        (opts->cert_file && !self->cert_file) || (opts->key_file && !self->key_file)) {
        sl_wsio_destroy(&self);
    }
    return self;
}

int sl_wsio_start(sl_wsio_t *self)
{
    if (!self) {
        return SL_EINVAL;
    }
    if (self->state != S_NEW) {
        return SL_ESTATE;
    }
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        self->state = S_FAILED;
        return SL_ENOMEM;
    }
    self->thread_started = true;
    pthread_mutex_lock(&self->lock);
    while (!self->ready) {
        pthread_cond_wait(&self->cond, &self->lock);
    }
    int rc = self->start_rc;
    pthread_mutex_unlock(&self->lock);
    if (rc < 0) {
        pthread_join(self->thread, NULL);
        self->thread_started = false;
    }
    return rc;
}

int sl_wsio_port(sl_wsio_t *self)
{
    return self ? atomic_load(&self->bound_port) : -1;
}

void sl_wsio_destroy(sl_wsio_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_wsio_t *self = *p;
    *p = NULL;
    pthread_mutex_lock(&self->lock);
    self->state = S_STOPPING;
    atomic_store(&self->stop, true);
    if (self->ctx) {
        lws_cancel_service(self->ctx);
    }
    pthread_mutex_unlock(&self->lock);
    if (self->thread_started) {
        pthread_join(self->thread, NULL);
    }
    s_queue_clear(&self->cmds);
    sl_map_fini(&self->live);
    sl_map_fini(&self->conns);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self->owner);
    free(self->name);
    free(self->ca_file);
    free(self->iface);
    free(self->cert_file);
    free(self->key_file);
    free(self);
}

/* Queues cmd (taking it, also on failure). fresh: the id must not be live
   (and becomes live); otherwise it must be live. */
static int s_enqueue(sl_wsio_t *self, s_cmd_t *cmd, bool fresh)
{
    int rc = 0;
    pthread_mutex_lock(&self->lock);
    if (self->state != S_RUNNING || !self->ctx) {
        rc = SL_ECLOSED;
    } else if (fresh) {
        if (sl_map_get(&self->live, cmd->conn)) {
            rc = SL_EEXIST;
        } else {
            rc = sl_map_put(&self->live, cmd->conn, self);
        }
    } else if (!sl_map_get(&self->live, cmd->conn)) {
        rc = SL_ENOTFOUND;
    }
    if (rc == 0) {
        bool was_empty = self->cmds.head == NULL;
        s_queue_push(&self->cmds, cmd);
        cmd = NULL;
        if (was_empty) {
            lws_cancel_service(self->ctx);
        }
    }
    pthread_mutex_unlock(&self->lock);
    s_cmd_free(cmd);
    return rc;
}

int sl_wsio_connect(sl_wsio_t *self, uint64_t conn, const char *url)
{
    if (!self || conn == 0 || (conn & SL_WSIO_SERVER_BIT) || !url) {
        return SL_EINVAL;
    }
    s_cmd_t *cmd = calloc(1, sizeof *cmd);
    if (!cmd) {
        return SL_ENOMEM;
    }
    cmd->kind = S_CMD_CONNECT;
    cmd->conn = conn;
    int rc = s_parse_url(url, cmd);
    if (rc < 0) {
        s_cmd_free(cmd);
        return rc;
    }
    return s_enqueue(self, cmd, true);
}

static int s_payload_cmd(sl_wsio_t *self, s_cmd_kind_t kind, uint64_t conn, const void *data,
                         size_t len)
{
    if (!self || conn == 0 || (len > 0 && !data)) {
        return SL_EINVAL;
    }
    s_cmd_t *cmd = calloc(1, sizeof *cmd);
    if (!cmd) {
        return SL_ENOMEM;
    }
    cmd->kind = kind;
    cmd->conn = conn;
    cmd->len = len;
    cmd->buf = malloc(LWS_PRE + len + 1);
    if (!cmd->buf) {
        free(cmd);
        return SL_ENOMEM;
    }
    if (len > 0) {
        memcpy(cmd->buf + LWS_PRE, data, len);
    }
    return s_enqueue(self, cmd, false);
}

int sl_wsio_send(sl_wsio_t *self, uint64_t conn, const void *data, size_t len)
{
    return s_payload_cmd(self, S_CMD_SEND, conn, data, len);
}

int sl_wsio_ping(sl_wsio_t *self, uint64_t conn)
{
    /* A payload, because lws 4.1 silently drops zero-length pings. */
    return s_payload_cmd(self, S_CMD_PING, conn, "sluice", 6);
}

int sl_wsio_close(sl_wsio_t *self, uint64_t conn, int code, const char *reason)
{
    if (!self || conn == 0 || code < 0 || code > 4999) {
        return SL_EINVAL;
    }
    s_cmd_t *cmd = calloc(1, sizeof *cmd);
    if (!cmd) {
        return SL_ENOMEM;
    }
    cmd->kind = S_CMD_CLOSE;
    cmd->conn = conn;
    cmd->code = code ? code : SL_WSIO_CLOSE_NORMAL;
    snprintf(cmd->reason, sizeof cmd->reason, "%s", reason ? reason : "");
    return s_enqueue(self, cmd, false);
}
