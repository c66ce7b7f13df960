/*  mock_ws.h: a minimal blocking WebSocket client and one-frame gateway
    server for the mock fleet's tests.

    Deliberately tiny and independent of libwebsockets, so the tests check
    the mock against a second implementation of RFC 6455. Every call has a
    deadline. The client is used from the test thread only; the gateway runs
    its own thread that only records frames (the test asserts after a
    bounded wait). Not for production use: no extensions; TLS only for the client (wss tests).
*/
#ifndef SL_TEST_MOCK_WS_H
#define SL_TEST_MOCK_WS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int fd;
    void *ssl_ctx; /* SSL_CTX, wss only */
    void *ssl;     /* SSL, wss only */
    size_t len;
    unsigned char buf[1 << 16];
} mock_ws_t;

enum {
    MOCK_WS_TIMEOUT = 0, /* nothing within the deadline */
    MOCK_WS_TEXT = 1,    /* a text (or binary) message in *out */
    MOCK_WS_CLOSE = 2,   /* a close frame: *code, reason in *out */
    MOCK_WS_PONG = 3,    /* a pong */
    MOCK_WS_EOF = -1,    /* the connection ended without a close frame, or error */
};

/* Connects to 127.0.0.1:port and performs the handshake within timeout_ms.
   Returns 0, -1 (TCP connect failed), -2 (handshake not answered with 101:
   reset, EOF or timeout). */
int mock_ws_connect(mock_ws_t *self, int port, int timeout_ms);

/* The same over TLS (wss), trusting the CA in ca_pem. Returns 0, -1, -2, or
   -3 (TLS handshake or verification failed). */
int mock_ws_connect_tls(mock_ws_t *self, int port, int timeout_ms, const char *ca_pem);

int mock_ws_send_text(mock_ws_t *self, const char *text);
int mock_ws_send_ping(mock_ws_t *self);

/* Waits up to timeout_ms for the next frame. *out is malloc'd, NUL-terminated
   (caller frees) for TEXT and CLOSE. Pings are answered internally. */
int mock_ws_recv(mock_ws_t *self, int timeout_ms, char **out, int *code);

void mock_ws_close(mock_ws_t *self);

/* Parses "ws://127.0.0.1:PORT" (or wss) into the port; -1 if malformed. */
int mock_ws_url_port(const char *url);

/* A gateway that accepts WebSocket connections and records every text
   message (the mock's out-of-band progress pushes). */
#define MOCK_GW_MAX 512

typedef struct {
    int listen_fd;
    int port;
    volatile int stop;
    pthread_t thread;
    pthread_mutex_t mu;
    int count;
    int connections;
    char *frames[MOCK_GW_MAX];
} mock_gw_t;

int mock_gw_start(mock_gw_t *self);
/* Number of frames recorded so far (locked read). */
int mock_gw_count(mock_gw_t *self);
/* A copy of frame i (caller frees), or NULL. */
char *mock_gw_frame(mock_gw_t *self, int i);
void mock_gw_stop(mock_gw_t *self);

#endif
