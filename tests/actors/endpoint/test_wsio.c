/*  test_wsio.c: the libwebsockets I/O thread against a real lws peer on
    loopback. Each test runs a runtime with two named ports on the test
    thread standing in for owners: "t.srv" owns a server-mode wsio (127.0.0.1,
    ephemeral port) and "t.cli" a client-only wsio. The test thread reads the
    events from both ports with deadlines and plays the server's owner (it
    echoes by calling sl_wsio_send on the accepted connection). The wsio
    threads only send events; every assert is on the test thread.
*/
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "actors/endpoint/sl_wsio.h"
#include "proto/sl_catalog.h"
#include "runtime/sl_actor.h"

#define WAIT_MS 5000 /* deadline for any expected event */

/* One decoded event, copied out of the message. */
typedef struct {
    uint16_t type;
    uint64_t conn;
    int64_t code;
    bool opened;
    char error[256];
    char peer[64];
    char path[256];
    char host[256]; /* the Host header the server saw */
    uint8_t *data;  /* owned, WSIO_FRAME only */
    size_t len;
} ev_t;

typedef struct {
    sl_rt_t *rt;
    sl_port_t *srv_port;
    sl_port_t *cli_port;
    sl_wsio_t *srv;
    sl_wsio_t *cli;
    int port;
    char url[64];
} fx_t;

static void ev_clear(ev_t *ev)
{
    free(ev->data);
    memset(ev, 0, sizeof *ev);
}

static void s_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* Receives and decodes the next event; SL_ETIMEOUT when none came in time. */
static int s_next(sl_port_t *port, int64_t ms, ev_t *ev)
{
    memset(ev, 0, sizeof *ev);
    sl_msg_t *msg = NULL;
    int rc = sl_port_recv(port, ms, &msg);
    if (rc < 0) {
        return rc;
    }
    ev->type = msg->type;
    switch (msg->type) {
    case SL_MSG_WSIO_OPEN: {
        sl_wsio_open_t m = {0};
        assert_int_equal(sl_wsio_open_decode(msg->body, msg->body_len, &m), 0);
        ev->conn = m.conn;
        sl_wsio_open_clear(&m);
        break;
    }
    case SL_MSG_WSIO_PONG: {
        sl_wsio_pong_t m = {0};
        assert_int_equal(sl_wsio_pong_decode(msg->body, msg->body_len, &m), 0);
        ev->conn = m.conn;
        sl_wsio_pong_clear(&m);
        break;
    }
    case SL_MSG_WSIO_FRAME: {
        sl_wsio_frame_t m = {0};
        assert_int_equal(sl_wsio_frame_decode(msg->body, msg->body_len, &m), 0);
        ev->conn = m.conn;
        ev->data = m.data.ptr; /* take it */
        ev->len = m.data.len;
        m.data.ptr = NULL;
        m.data.len = 0;
        sl_wsio_frame_clear(&m);
        break;
    }
    case SL_MSG_WSIO_CLOSED: {
        sl_wsio_closed_t m = {0};
        assert_int_equal(sl_wsio_closed_decode(msg->body, msg->body_len, &m), 0);
        ev->conn = m.conn;
        ev->code = m.code;
        ev->opened = m.opened;
        s_copy(ev->error, sizeof ev->error, m.error);
        sl_wsio_closed_clear(&m);
        break;
    }
    case SL_MSG_WSIO_ACCEPTED: {
        sl_wsio_accepted_t m = {0};
        assert_int_equal(sl_wsio_accepted_decode(msg->body, msg->body_len, &m), 0);
        ev->conn = m.conn;
        s_copy(ev->peer, sizeof ev->peer, m.peer);
        s_copy(ev->path, sizeof ev->path, m.path);
        s_copy(ev->host, sizeof ev->host, m.host);
        sl_wsio_accepted_clear(&m);
        break;
    }
    default:
        fail_msg("unexpected message type %u", (unsigned)msg->type);
    }
    sl_msg_destroy(&msg);
    return 0;
}

/* The next event must be of this type (within WAIT_MS). */
static void s_expect(sl_port_t *port, uint16_t type, ev_t *ev)
{
    int rc = s_next(port, WAIT_MS, ev);
    if (rc < 0) {
        fail_msg("no event %u within %d ms", (unsigned)type, WAIT_MS);
    }
    if (ev->type != type) {
        fail_msg("expected event %u, got %u (conn %llu, error '%s')", (unsigned)type,
                 (unsigned)ev->type, (unsigned long long)ev->conn, ev->error);
    }
}

static const char *s_tls_file(const char *name)
{
    static char paths[4][512];
    static int i;
    const char *src = getenv("SLUICE_SOURCE_DIR");
#ifdef SL_TEST_SOURCE_DIR
    if (!src) {
        src = SL_TEST_SOURCE_DIR; /* run by hand, outside ctest */
    }
#endif
    char *p = paths[i++ % 4];
    snprintf(p, 512, "%s/tests/data/tls/%s", src ? src : ".", name);
    return p;
}

static sl_wsio_t *s_wsio(sl_rt_t *rt, const sl_wsio_opts_t *opts)
{
    sl_wsio_t *io = sl_wsio_new(rt, opts);
    assert_non_null(io);
    assert_int_equal(sl_wsio_start(io), 0);
    return io;
}

/* Runtime, two owner ports, a server wsio (opts from srv_opts, or plain)
   and a client wsio (from cli_opts, or plain). */
static fx_t *fx_new(const sl_wsio_opts_t *srv_opts, const sl_wsio_opts_t *cli_opts)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->rt = sl_rt_new(NULL, NULL);
    assert_non_null(fx->rt);
    fx->srv_port = sl_port_new(fx->rt, "t.srv");
    fx->cli_port = sl_port_new(fx->rt, "t.cli");
    assert_non_null(fx->srv_port);
    assert_non_null(fx->cli_port);

    sl_wsio_opts_t so = {.owner = "t.srv", .listen_port = 0};
    if (srv_opts) {
        so = *srv_opts;
    }
    fx->srv = s_wsio(fx->rt, &so);
    fx->port = sl_wsio_port(fx->srv);
    assert_true(fx->port > 0);
    snprintf(fx->url, sizeof fx->url, "%s://127.0.0.1:%d/echo", so.cert_file ? "wss" : "ws",
             fx->port);

    sl_wsio_opts_t co = {.owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN};
    if (cli_opts) {
        co = *cli_opts;
    }
    fx->cli = s_wsio(fx->rt, &co);
    assert_int_equal(sl_wsio_port(fx->cli), -1);
    return fx;
}

static void fx_destroy(fx_t **p)
{
    fx_t *fx = *p;
    sl_wsio_destroy(&fx->cli);
    sl_wsio_destroy(&fx->srv);
    assert_null(fx->cli);
    sl_port_destroy(&fx->cli_port);
    sl_port_destroy(&fx->srv_port);
    sl_rt_destroy(&fx->rt);
    free(fx);
    *p = NULL;
}

/* Connects client id to the fixture's server; returns the server's id. */
static uint64_t s_open(fx_t *fx, uint64_t id)
{
    ev_t ev;
    assert_int_equal(sl_wsio_connect(fx->cli, id, fx->url), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_ACCEPTED, &ev);
    uint64_t sid = ev.conn;
    assert_true(sid & SL_WSIO_SERVER_BIT);
    assert_string_equal(ev.peer, "127.0.0.1");
    assert_string_equal(ev.path, "/echo");
    /* RFC 7230 5.4: the port is part of Host when it is not the scheme's
       default (a proxy routing by Host needs it); wss checks the
       certificate against the name without it. */
    char host[32];
    snprintf(host, sizeof host, "127.0.0.1:%d", fx->port);
    assert_string_equal(ev.host, host);
    s_expect(fx->cli_port, SL_MSG_WSIO_OPEN, &ev);
    assert_true(ev.conn == id);
    return sid;
}

/* Sends text on conn from `from`; expects it as one frame at `to_port`. */
static uint64_t s_pass(sl_wsio_t *from, uint64_t conn, sl_port_t *to_port, const char *text)
{
    ev_t ev;
    assert_int_equal(sl_wsio_send(from, conn, text, strlen(text)), 0);
    s_expect(to_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, strlen(text));
    assert_memory_equal(ev.data, text, ev.len);
    uint64_t at = ev.conn;
    ev_clear(&ev);
    return at;
}

/* ---- tests --------------------------------------------------------------- */

static void test_wsio_echo_and_close_codes(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    ev_t ev;

    /* Client closes with a code and reason; both sides see it. */
    uint64_t sid = s_open(fx, 7);
    assert_true(s_pass(fx->cli, 7, fx->srv_port, "hello") == sid);
    assert_true(s_pass(fx->srv, sid, fx->cli_port, "hello") == 7);
    assert_int_equal(sl_wsio_close(fx->cli, 7, 4001, "bye"), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == sid);
    assert_int_equal(ev.code, 4001);
    assert_true(ev.opened);
    assert_string_equal(ev.error, "peer closed: bye");
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 7);
    assert_int_equal(ev.code, 4001);
    assert_true(ev.opened);
    assert_string_equal(ev.error, "closed");
    /* The id is dead now, and may be reused. */
    assert_int_equal(sl_wsio_send(fx->cli, 7, "x", 1), SL_ENOTFOUND);
    assert_int_equal(sl_wsio_close(fx->srv, sid, 0, NULL), SL_ENOTFOUND);

    /* Server closes (after its queued message); the client sees code 4002. */
    uint64_t sid2 = s_open(fx, 7);
    assert_true(sid2 != sid);
    assert_int_equal(sl_wsio_send(fx->srv, sid2, "last words", 10), 0);
    assert_int_equal(sl_wsio_close(fx->srv, sid2, 4002, "done"), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, 10);
    ev_clear(&ev);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_int_equal(ev.code, 4002);
    assert_string_equal(ev.error, "peer closed: done");
    assert_true(ev.opened);
    s_expect(fx->srv_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == sid2);
    assert_int_equal(ev.code, 4002);
    assert_string_equal(ev.error, "closed");
    fx_destroy(&fx);
}

/* Every listening socket on the server's port (IPv4 and IPv6 tables) must
   be 127.0.0.1: lws 4.1 would otherwise bind [::] (all interfaces). */
static void test_wsio_listens_on_loopback_only(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    const char *tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    int found = 0;
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f) {
            continue;
        }
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char local[64];
            unsigned port, st;
            if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &port, &st) !=
                    3 ||
                (int)port != fx->port || st != 0x0A) {
                continue;
            }
            found++;
            if (strcmp(local, "0100007F") != 0) {
                fail_msg("port %d listens on %s in %s", fx->port, local, tables[t]);
            }
        }
        fclose(f);
    }
    assert_int_equal(found, 1);
    fx_destroy(&fx);
}

static void test_wsio_thousand_in_order(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    uint64_t sid = s_open(fx, 1);
    char text[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(sl_wsio_send(fx->cli, 1, text, (size_t)n), 0);
    }
    /* The owner echoes each one as it arrives. */
    ev_t ev;
    for (int i = 0; i < 1000; i++) {
        s_expect(fx->srv_port, SL_MSG_WSIO_FRAME, &ev);
        int n = snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(ev.len, n);
        assert_memory_equal(ev.data, text, ev.len);
        assert_int_equal(sl_wsio_send(fx->srv, sid, ev.data, ev.len), 0);
        ev_clear(&ev);
    }
    for (int i = 0; i < 1000; i++) {
        s_expect(fx->cli_port, SL_MSG_WSIO_FRAME, &ev);
        int n = snprintf(text, sizeof text, "m%d", i);
        assert_int_equal(ev.len, n);
        assert_memory_equal(ev.data, text, ev.len);
        ev_clear(&ev);
    }
    fx_destroy(&fx);
}

static void test_wsio_fragmented_and_large(void **state)
{
    (void)state;
    /* The client splits what it sends into 1000-byte frames (continuation
       frames on the wire); the server sends its reply as one big frame. */
    sl_wsio_opts_t co = {.owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN, .send_fragment = 1000};
    fx_t *fx = fx_new(NULL, &co);
    uint64_t sid = s_open(fx, 1);
    size_t len = 3u << 20;
    char *big = malloc(len);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++) {
        big[i] = (char)('a' + (i * 7) % 26);
    }
    ev_t ev;
    assert_int_equal(sl_wsio_send(fx->cli, 1, big, len), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, len);
    assert_memory_equal(ev.data, big, len);
    ev_clear(&ev);
    assert_int_equal(sl_wsio_send(fx->srv, sid, big, len), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, len);
    assert_memory_equal(ev.data, big, len);
    ev_clear(&ev);
    /* An empty message is a message too. */
    assert_int_equal(sl_wsio_send(fx->cli, 1, "", 0), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, 0);
    ev_clear(&ev);
    free(big);
    fx_destroy(&fx);
}

static void test_wsio_over_cap_closes(void **state)
{
    (void)state;
    sl_wsio_opts_t so = {.owner = "t.srv", .listen_port = 0, .max_message = 64 << 10};
    fx_t *fx = fx_new(&so, NULL);
    uint64_t sid = s_open(fx, 1);
    size_t len = 100u << 10;
    char *big = calloc(1, len);
    assert_non_null(big);
    memset(big, 'x', len);
    ev_t ev;
    /* At the cap exactly is fine. */
    assert_int_equal(sl_wsio_send(fx->cli, 1, big, 64u << 10), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_FRAME, &ev);
    assert_int_equal(ev.len, 64u << 10);
    ev_clear(&ev);
    /* One byte over is not: the server closes with 1009. */
    assert_int_equal(sl_wsio_send(fx->cli, 1, big, len), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == sid);
    assert_int_equal(ev.code, SL_WSIO_CLOSE_TOO_BIG);
    assert_string_equal(ev.error, "message too big");
    assert_true(ev.opened);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 1);
    assert_int_equal(ev.code, SL_WSIO_CLOSE_TOO_BIG);
    assert_non_null(strstr(ev.error, "peer closed"));
    free(big);
    fx_destroy(&fx);
}

/* A port nothing listens on: bind an ephemeral port, then close it. */
static int s_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_wsio_connect_refused_once(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", s_dead_port());
    ev_t ev;
    assert_int_equal(sl_wsio_connect(fx->cli, 5, url), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 5);
    assert_false(ev.opened);
    assert_int_equal(ev.code, 0);
    print_message("refused: %s\n", ev.error);
    assert_non_null(strstr(ev.error, "connect failed"));
    /* Exactly one: a second connection's events come next, nothing for 5. */
    s_open(fx, 6);
    assert_int_equal(s_next(fx->cli_port, 200, &ev), SL_ETIMEOUT);
    fx_destroy(&fx);
}

static void test_wsio_close_while_connecting(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    /* A listener that never answers: TCP connects (backlog), the WebSocket
       handshake never completes. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ntohs(sa.sin_port));
    ev_t ev;
    assert_int_equal(sl_wsio_connect(fx->cli, 9, url), 0);
    assert_int_equal(s_next(fx->cli_port, 100, &ev), SL_ETIMEOUT); /* still connecting */
    assert_int_equal(sl_wsio_close(fx->cli, 9, 0, NULL), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 9);
    assert_false(ev.opened);
    assert_string_equal(ev.error, "closed");
    assert_int_equal(s_next(fx->cli_port, 200, &ev), SL_ETIMEOUT);
    close(fd);
    fx_destroy(&fx);
}

static void test_wsio_ping_pong(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    uint64_t sid = s_open(fx, 3);
    ev_t ev;
    assert_int_equal(sl_wsio_ping(fx->cli, 3), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_PONG, &ev);
    assert_true(ev.conn == 3);
    assert_int_equal(sl_wsio_ping(fx->srv, sid), 0);
    s_expect(fx->srv_port, SL_MSG_WSIO_PONG, &ev);
    assert_true(ev.conn == sid);
    fx_destroy(&fx);
}

static void test_wsio_wss_trusted_ca(void **state)
{
    (void)state;
    sl_wsio_opts_t so = {.owner = "t.srv",
                         .listen_port = 0,
                         .cert_file = s_tls_file("server.pem"),
                         .key_file = s_tls_file("server.key")};
    sl_wsio_opts_t co = {
        .owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN, .ca_file = s_tls_file("ca.pem")};
    fx_t *fx = fx_new(&so, &co);
    assert_non_null(strstr(fx->url, "wss://"));
    uint64_t sid = s_open(fx, 11);
    assert_true(s_pass(fx->cli, 11, fx->srv_port, "secret") == sid);
    assert_true(s_pass(fx->srv, sid, fx->cli_port, "secret") == 11);
    fx_destroy(&fx);
}

static void test_wsio_wss_untrusted_refused(void **state)
{
    (void)state;
    sl_wsio_opts_t so = {.owner = "t.srv",
                         .listen_port = 0,
                         .cert_file = s_tls_file("untrusted.pem"),
                         .key_file = s_tls_file("untrusted.key")};
    sl_wsio_opts_t co = {
        .owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN, .ca_file = s_tls_file("ca.pem")};
    fx_t *fx = fx_new(&so, &co);
    ev_t ev;
    assert_int_equal(sl_wsio_connect(fx->cli, 12, fx->url), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 12);
    assert_false(ev.opened);
    print_message("refused: %s\n", ev.error);
    assert_true(strncmp(ev.error, "tls: ", 5) == 0);
    /* The server never accepted it. */
    assert_int_equal(s_next(fx->srv_port, 100, &ev), SL_ETIMEOUT);
    fx_destroy(&fx);
}

/* A certificate from the trusted CA, but for another name: the server
   listens on 127.0.0.2, its certificate names only 127.0.0.1 and localhost. */
static void test_wsio_wss_wrong_host_refused(void **state)
{
    (void)state;
    sl_wsio_opts_t so = {.owner = "t.srv",
                         .listen_port = 0,
                         .listen_iface = "127.0.0.2",
                         .cert_file = s_tls_file("server.pem"),
                         .key_file = s_tls_file("server.key")};
    sl_wsio_opts_t co = {
        .owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN, .ca_file = s_tls_file("ca.pem")};
    fx_t *fx = fx_new(&so, &co);
    char url[64];
    snprintf(url, sizeof url, "wss://127.0.0.2:%d/", fx->port);
    ev_t ev;
    assert_int_equal(sl_wsio_connect(fx->cli, 13, url), 0);
    s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
    assert_true(ev.conn == 13);
    assert_false(ev.opened);
    print_message("refused: %s\n", ev.error);
    assert_true(strncmp(ev.error, "tls: ", 5) == 0);
    assert_int_equal(s_next(fx->srv_port, 100, &ev), SL_ETIMEOUT);
    fx_destroy(&fx);
}

static void test_wsio_bad_arguments(void **state)
{
    (void)state;
    sl_rt_t *rt = sl_rt_new(NULL, NULL);
    assert_non_null(rt);
    sl_wsio_opts_t none = {.owner = NULL, .listen_port = SL_WSIO_NO_LISTEN};
    assert_null(sl_wsio_new(rt, &none));
    sl_wsio_opts_t half_tls = {.owner = "x", .listen_port = 0, .cert_file = "a.pem"};
    assert_null(sl_wsio_new(rt, &half_tls));
    sl_wsio_opts_t o = {.owner = "t.cli", .listen_port = SL_WSIO_NO_LISTEN};
    sl_wsio_t *io = sl_wsio_new(rt, &o);
    assert_non_null(io);
    /* Not started yet. */
    assert_int_equal(sl_wsio_connect(io, 1, "ws://127.0.0.1:1/"), SL_ECLOSED);
    assert_int_equal(sl_wsio_start(io), 0);
    assert_int_equal(sl_wsio_start(io), SL_ESTATE);
    const char *bad[] = {"http://127.0.0.1/", "ws://",       "ws://:80/", "ws://h:0/",
                         "ws://h:70000/",     "ws://h:12x/", "ws://h /",  "ws://h/a b",
                         "ws://h/\r\nX: y",   "ws://[::1/",  "wss//h/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (sl_wsio_connect(io, 1, bad[i]) != SL_EINVAL) {
            fail_msg("accepted bad url '%s'", bad[i]);
        }
    }
    assert_int_equal(sl_wsio_connect(io, 0, "ws://h/"), SL_EINVAL);
    assert_int_equal(sl_wsio_connect(io, SL_WSIO_SERVER_BIT | 1, "ws://h/"), SL_EINVAL);
    assert_int_equal(sl_wsio_send(io, 42, "x", 1), SL_ENOTFOUND);
    assert_int_equal(sl_wsio_ping(io, 42), SL_ENOTFOUND);
    assert_int_equal(sl_wsio_close(io, 42, 1000, NULL), SL_ENOTFOUND);
    assert_int_equal(sl_wsio_close(io, 42, 70000, NULL), SL_EINVAL);
    /* A live id cannot be connected twice (port 1 on loopback: refused). */
    sl_port_t *owner = sl_port_new(rt, "t.cli");
    assert_non_null(owner);
    int dead = s_dead_port();
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", dead);
    assert_int_equal(sl_wsio_connect(io, 2, url), 0);
    int rc = sl_wsio_connect(io, 2, url);
    ev_t ev;
    s_expect(owner, SL_MSG_WSIO_CLOSED, &ev);
    /* Either the first attempt was still live (EEXIST) or it had already
       ended and the id was free again (then a second CLOSED follows). */
    if (rc == 0) {
        s_expect(owner, SL_MSG_WSIO_CLOSED, &ev);
    } else {
        assert_int_equal(rc, SL_EEXIST);
    }
    /* A listener that cannot bind fails start. */
    sl_wsio_opts_t so = {.owner = "t.srv", .listen_port = 0, .listen_iface = "192.0.2.1"};
    sl_wsio_t *srv = sl_wsio_new(rt, &so);
    assert_non_null(srv);
    assert_int_equal(sl_wsio_start(srv), SL_ELWS);
    assert_int_equal(sl_wsio_send(srv, 1, "x", 1), SL_ECLOSED);
    sl_wsio_destroy(&srv);
    sl_wsio_destroy(&io);
    sl_wsio_destroy(&io); /* NULL is fine */
    sl_port_destroy(&owner);
    sl_rt_destroy(&rt);
}

static void test_wsio_destroy_with_open_connections(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    for (uint64_t id = 1; id <= 3; id++) {
        s_open(fx, id);
    }
    /* Messages still queued and a connection still connecting. */
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", fx->port);
    assert_int_equal(sl_wsio_connect(fx->cli, 4, url), 0);
    for (uint64_t id = 1; id <= 3; id++) {
        assert_int_equal(sl_wsio_send(fx->cli, id, "pending", 7), 0);
    }
    sl_wsio_destroy(&fx->cli);
    /* No event once destroy has begun: at most the OPEN of 4, if it won. */
    ev_t ev;
    while (s_next(fx->cli_port, 100, &ev) == 0) {
        if (ev.type != SL_MSG_WSIO_OPEN || ev.conn != 4) {
            fail_msg("event %u for conn %llu after destroy", (unsigned)ev.type,
                     (unsigned long long)ev.conn);
        }
    }
    sl_wsio_destroy(&fx->srv);
    fx_destroy(&fx);
}

/* The server goes away under open connections: each client connection
   still ends with exactly one WSIO_CLOSED, opened = true. */
static void test_wsio_peer_vanishes(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    s_open(fx, 1);
    s_open(fx, 2);
    sl_wsio_destroy(&fx->srv);
    ev_t ev;
    bool seen[3] = {false, false, false};
    for (int i = 0; i < 2; i++) {
        s_expect(fx->cli_port, SL_MSG_WSIO_CLOSED, &ev);
        assert_true(ev.conn == 1 || ev.conn == 2);
        assert_false(seen[ev.conn]);
        seen[ev.conn] = true;
        assert_true(ev.opened);
        print_message("vanished: code %lld, %s\n", (long long)ev.code, ev.error);
    }
    assert_int_equal(s_next(fx->cli_port, 200, &ev), SL_ETIMEOUT);
    fx_destroy(&fx);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection, strictly sequential: client send -> server wsio -> its
   owner (this thread) -> echo -> client wsio -> its owner. */
static void test_wsio_round_trips(void **state)
{
    (void)state;
    fx_t *fx = fx_new(NULL, NULL);
    uint64_t sid = s_open(fx, 1);
    const char *msg = "{\"type\":\"ping\"}";
    size_t len = strlen(msg);
    int n = 2000;
    ev_t ev;
    double t0 = s_now();
    for (int i = 0; i < n; i++) {
        assert_int_equal(sl_wsio_send(fx->cli, 1, msg, len), 0);
        s_expect(fx->srv_port, SL_MSG_WSIO_FRAME, &ev);
        assert_int_equal(sl_wsio_send(fx->srv, sid, ev.data, ev.len), 0);
        ev_clear(&ev);
        s_expect(fx->cli_port, SL_MSG_WSIO_FRAME, &ev);
        assert_int_equal(ev.len, len);
        ev_clear(&ev);
    }
    double dt = s_now() - t0;
    double rate = n / dt;
    print_message("wsio: %d round trips in %.3f s = %.0f round trips/s (%.1f us each)\n", n, dt,
                  rate, dt / n * 1e6);
    assert_true(rate > 100.0);
    fx_destroy(&fx);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]); /* e.g. "*wss*" */
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wsio_echo_and_close_codes),
        cmocka_unit_test(test_wsio_listens_on_loopback_only),
        cmocka_unit_test(test_wsio_thousand_in_order),
        cmocka_unit_test(test_wsio_fragmented_and_large),
        cmocka_unit_test(test_wsio_over_cap_closes),
        cmocka_unit_test(test_wsio_connect_refused_once),
        cmocka_unit_test(test_wsio_close_while_connecting),
        cmocka_unit_test(test_wsio_ping_pong),
        cmocka_unit_test(test_wsio_wss_trusted_ca),
        cmocka_unit_test(test_wsio_wss_untrusted_refused),
        cmocka_unit_test(test_wsio_wss_wrong_host_refused),
        cmocka_unit_test(test_wsio_bad_arguments),
        cmocka_unit_test(test_wsio_destroy_with_open_connections),
        cmocka_unit_test(test_wsio_peer_vanishes),
        cmocka_unit_test(test_wsio_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
