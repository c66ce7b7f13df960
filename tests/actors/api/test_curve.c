/*  test_curve.c: CURVE on the api's ROUTER and PUB, with the api's own ZAP
    handler (actors/api/sl_curve.c), and the config keys that turn it on.

    Each case makes certificates with czmq's zcert in a mkdtemp directory
    (the server's, allowed clients' in clients/, a rogue one outside), spawns
    the api on ipc:// endpoints in that directory, and connects clients from
    a separate ZeroMQ context, as another process would. "Gets nothing" is
    shown without sleeping: the client's socket monitor reports the failed
    handshake (bounded wait), then no reply comes within a short window and
    the api counted no request. When built with SLUICECTL_PATH, the real
    sluicectl binary is run against the api with its --curve-* flags.
*/
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>
#include <fcntl.h>
#include <zmq.h>

#include "actors/api/sl_api.h"
#include "actors/config/sl_config.h"
#include "actors/api/sl_curve.h"
#include "proto/sl_catalog.h"
#include "proto/sl_mp.h"
#include "tests/tchild.h"
#include "tests/ttmp.h"
#include "proto/sl_ids.h"

#define WAIT_MS 5000 /* bound of every wait that should succeed */
#define QUIET_MS 300 /* window in which nothing may arrive */

typedef struct {
    char dir[64];
    char clients[96];
    char server_secret[96];
    char api_ep[128];
    char pub_ep[128];
    uint8_t server_public[32];
    uint8_t alice_public[32], alice_secret[32]; /* allowed */
    uint8_t rogue_public[32], rogue_secret[32]; /* not in clients/ */
    sl_rt_t *rt;
    sl_actor_t *api;
    sl_api_counters_t counters; /* the api's, read by the test thread */
    sl_port_t *store;           /* plays the store: sends EVENT_PUBLISH */
    void *cctx;                 /* the clients' own context */
    void *socks[16];            /* every client socket, closed by teardown too */
    int n_socks;
    int mon_seq;
} fixture_t;

static void s_cert(const char *path, uint8_t *public_key, uint8_t *secret_key)
{
    zcert_t *cert = zcert_new();
    assert_non_null(cert);
    assert_int_equal(zcert_save(cert, path), 0); /* path and path_secret */
    memcpy(public_key, zcert_public_key(cert), 32);
    if (secret_key) {
        memcpy(secret_key, zcert_secret_key(cert), 32);
    }
    zcert_destroy(&cert);
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void s_api_config(fixture_t *f, sl_api_config_t *cfg)
{
    sl_api_config_defaults(cfg);
    cfg->binds[0] = f->api_ep;
    cfg->pub_binds[0] = f->pub_ep;
    cfg->call_timeout_ms = 300;
    cfg->counters = &f->counters;
    cfg->curve_secret_file = f->server_secret;
    cfg->curve_clients_dir = f->clients;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_int_equal(ttmp_make(f->dir, sizeof(f->dir), "sluice-curve"), 0);
    snprintf(f->clients, sizeof(f->clients), "%s/clients", f->dir);
    assert_int_equal(mkdir(f->clients, 0700), 0);
    char path[160];
    snprintf(path, sizeof(path), "%s/server.cert", f->dir);
    s_cert(path, f->server_public, NULL);
    snprintf(f->server_secret, sizeof(f->server_secret), "%s/server.cert_secret", f->dir);
    snprintf(path, sizeof(path), "%s/alice.cert", f->clients);
    s_cert(path, f->alice_public, f->alice_secret);
    snprintf(path, sizeof(path), "%s/rogue.cert", f->dir);
    s_cert(path, f->rogue_public, f->rogue_secret);
    /* not a certificate: skipped with a warning */
    snprintf(path, sizeof(path), "%s/README", f->clients);
    s_write(path, "allowed clients of this test\n");
    snprintf(f->api_ep, sizeof(f->api_ep), "ipc://%s/api.sock", f->dir);
    snprintf(f->pub_ep, sizeof(f->pub_ep), "ipc://%s/pub.sock", f->dir);
    f->rt = sl_rt_new(NULL, NULL);
    assert_non_null(f->rt);
    f->store = sl_port_new(f->rt, SL_IDS_STORE);
    assert_non_null(f->store);
    f->cctx = zmq_ctx_new();
    assert_non_null(f->cctx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    /* a failed assert skips the case's own closing: close here, or the
       context's termination would wait for ever */
    for (int i = 0; i < f->n_socks; i++) {
        if (f->socks[i]) {
            zmq_close(f->socks[i]);
        }
    }
    tchild_kill_all();
    sl_actor_destroy(&f->api);
    sl_port_destroy(&f->store);
    sl_rt_destroy(&f->rt);
    zmq_ctx_term(f->cctx);
    ttmp_remove(f->dir);
    free(f);
    return 0;
}

static void s_spawn(fixture_t *f)
{
    sl_api_config_t cfg;
    s_api_config(f, &cfg);
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), 0);
}

/* ---- clients -------------------------------------------------------------------- */

typedef enum { PLAIN, ALICE, ROGUE } s_who_t;

typedef struct {
    void *sock;
    void *mon;       /* PAIR reading the socket's monitor events */
    void **slots[2]; /* where the fixture tracks them */
} s_client_t;

static void **s_track(fixture_t *f, void *sock)
{
    assert_non_null(sock);
    assert_true(f->n_socks < 16);
    f->socks[f->n_socks] = sock;
    return &f->socks[f->n_socks++];
}

static s_client_t s_client(fixture_t *f, int type, s_who_t who, const char *endpoint)
{
    s_client_t c = {0};
    c.sock = zmq_socket(f->cctx, type);
    c.slots[0] = s_track(f, c.sock);
    int zero = 0;
    zmq_setsockopt(c.sock, ZMQ_LINGER, &zero, sizeof(zero));
    if (who != PLAIN) {
        zmq_setsockopt(c.sock, ZMQ_CURVE_SERVERKEY, f->server_public, 32);
        zmq_setsockopt(c.sock, ZMQ_CURVE_PUBLICKEY,
                       who == ALICE ? f->alice_public : f->rogue_public, 32);
        zmq_setsockopt(c.sock, ZMQ_CURVE_SECRETKEY,
                       who == ALICE ? f->alice_secret : f->rogue_secret, 32);
    }
    if (type == ZMQ_SUB) {
        zmq_setsockopt(c.sock, ZMQ_SUBSCRIBE, "", 0);
    }
    char mon_ep[64];
    snprintf(mon_ep, sizeof(mon_ep), "inproc://curve-mon-%d", f->mon_seq++);
    assert_int_equal(zmq_socket_monitor(c.sock, mon_ep,
                                        ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL),
                     0);
    c.mon = zmq_socket(f->cctx, ZMQ_PAIR);
    c.slots[1] = s_track(f, c.mon);
    zmq_setsockopt(c.mon, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(c.mon, mon_ep), 0);
    assert_int_equal(zmq_connect(c.sock, endpoint), 0);
    return c;
}

static void s_client_close(s_client_t *c)
{
    zmq_socket_monitor(c->sock, NULL, 0);
    zmq_close(c->mon);
    zmq_close(c->sock);
    *c->slots[0] = *c->slots[1] = NULL;
}

/* The first handshake outcome the monitor reports (event id, and its value
   in *value: the ZAP status code for FAILED_AUTH), or 0 when none came
   within WAIT_MS. */
static int s_handshake_v(s_client_t *c, uint32_t *value)
{
    int ms = WAIT_MS;
    zmq_setsockopt(c->mon, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    uint8_t ev[6];
    char addr[256];
    if (zmq_recv(c->mon, ev, sizeof(ev), 0) != 6) {
        return 0;
    }
    zmq_recv(c->mon, addr, sizeof(addr), 0);
    memcpy(value, ev + 2, 4);
    return ev[0] | ev[1] << 8;
}

static int s_handshake(s_client_t *c)
{
    uint32_t value = 0;
    return s_handshake_v(c, &value);
}

/* The server's ZAP handler said 400 to this client. */
static bool s_denied_by_zap(s_client_t *c)
{
    uint32_t value = 0;
    return s_handshake_v(c, &value) == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && value == 400;
}

/* A client without CURVE fails on the mechanism mismatch; which side hangs
   up first decides whether libzmq says PROTOCOL or NO_DETAIL. */
static bool s_mechanism_refused(s_client_t *c)
{
    int ev = s_handshake(c);
    return ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
}

static void s_send_ping(void *sock)
{
    sl_mp_writer_t w;
    sl_mp_writer_init(&w);
    sl_mp_write_map(&w, 2);
    sl_mp_kv_str(&w, "op", "ping");
    sl_mp_kv_str(&w, "id", "c1");
    zmq_send(sock, sl_mp_writer_data(&w), sl_mp_writer_len(&w), ZMQ_DONTWAIT);
    sl_mp_writer_fini(&w);
}

static int s_recv(void *sock, int ms, uint8_t *buf, size_t size)
{
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    return zmq_recv(sock, buf, size, 0);
}

static void s_publish(fixture_t *f, uint64_t seq)
{
    sl_mp_writer_t body;
    sl_mp_writer_init(&body);
    sl_mp_write_map(&body, 1);
    sl_mp_kv_uint(&body, "seq", seq);
    sl_event_publish_t ev = {
        .seq = seq,
        .topic = "pipeline.status",
        .body = {(uint8_t *)sl_mp_writer_data(&body), sl_mp_writer_len(&body)},
    };
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sl_event_publish_encode(&ev, &buf, &len), 0);
    assert_int_equal(sl_port_send(f->store, SL_IDS_API, SL_MSG_EVENT_PUBLISH, buf, len), 0);
    free(buf);
    sl_mp_writer_fini(&body);
}

static uint64_t s_requests(fixture_t *f)
{
    sl_api_stats_t st;
    sl_api_counters_read(&f->counters, &st);
    return st.requests;
}

/* ---- cases ---------------------------------------------------------------------- */

static void test_curve_allowed_client_pings_and_receives_events(void **state)
{
    fixture_t *f = *state;
    s_spawn(f);
    s_client_t dealer = s_client(f, ZMQ_DEALER, ALICE, f->api_ep);
    s_client_t sub = s_client(f, ZMQ_SUB, ALICE, f->pub_ep);
    assert_int_equal(s_handshake(&dealer), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(s_handshake(&sub), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    s_send_ping(dealer.sock);
    uint8_t reply[256];
    int n = s_recv(dealer.sock, WAIT_MS, reply, sizeof(reply));
    assert_true(n > 0);
    bool ok = false, pong = false;
    assert_int_equal(sl_mp_map_get_bool(reply, (size_t)n, "ok", &ok), 0);
    assert_int_equal(sl_mp_map_get_bool(reply, (size_t)n, "pong", &pong), 0);
    assert_true(ok && pong);
    assert_int_equal(s_requests(f), 1);

    /* the subscription reaches the PUB after the handshake: resend until one
       event arrives (bounded) */
    char topic[64];
    int got = -1;
    for (int tries = 0; tries < 50 && got < 0; tries++) {
        s_publish(f, 1);
        got = s_recv(sub.sock, 100, (uint8_t *)topic, sizeof(topic) - 1);
    }
    assert_int_equal(got, (int)strlen("pipeline.status"));
    topic[got] = '\0';
    assert_string_equal(topic, "pipeline.status");
    uint8_t body[64];
    n = s_recv(sub.sock, WAIT_MS, body, sizeof(body));
    uint64_t seq = 0;
    assert_true(n > 0);
    assert_int_equal(sl_mp_map_get_uint(body, (size_t)n, "seq", &seq), 0);
    assert_int_equal(seq, 1);
    s_client_close(&dealer);
    s_client_close(&sub);
}

/* A client whose key is not in clients/ (ZAP says 400) or that does not
   speak CURVE at all (mechanism mismatch) gets no reply and no event. */
static void s_shut_out(fixture_t *f, s_who_t who, bool (*refused)(s_client_t *))
{
    s_spawn(f);
    s_client_t dealer = s_client(f, ZMQ_DEALER, who, f->api_ep);
    s_client_t sub = s_client(f, ZMQ_SUB, who, f->pub_ep);
    /* meanwhile an allowed monitor proves events do go out */
    s_client_t alice = s_client(f, ZMQ_SUB, ALICE, f->pub_ep);
    assert_true(refused(&dealer));
    assert_true(refused(&sub));
    assert_int_equal(s_handshake(&alice), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    s_send_ping(dealer.sock);
    uint8_t buf[256];
    int got = -1;
    for (int tries = 0; tries < 50 && got < 0; tries++) {
        s_publish(f, 2);
        got = s_recv(alice.sock, 100, buf, sizeof(buf));
    }
    assert_true(got > 0);
    assert_int_equal(s_recv(dealer.sock, QUIET_MS, buf, sizeof(buf)), -1);
    assert_int_equal(s_recv(sub.sock, 1, buf, sizeof(buf)), -1);
    assert_int_equal(s_requests(f), 0);
    s_client_close(&dealer);
    s_client_close(&sub);
    s_client_close(&alice);
}

static void test_curve_unknown_key_gets_nothing(void **state)
{
    s_shut_out(*state, ROGUE, s_denied_by_zap);
}

static void test_curve_plain_client_gets_nothing(void **state)
{
    s_shut_out(*state, PLAIN, s_mechanism_refused);
}

/* API_RELOAD (sluice_reload, SIGHUP) from a port: the reply's clients, or
   -1 with the error. */
static int64_t s_reload(fixture_t *f, const char *dir)
{
    sl_port_t *port = sl_port_new(f->rt, "reloader");
    assert_non_null(port);
    sl_api_reload_t m = {.curve_clients_dir = (char *)dir};
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(sl_api_reload_encode(&m, &body, &len), 0);
    sl_msg_t *reply = NULL;
    assert_int_equal(
        sl_port_request(port, SL_IDS_API, SL_MSG_API_RELOAD, body, len, WAIT_MS, &reply), 0);
    sl_api_reload_reply_t r = {0};
    assert_int_equal(sl_api_reload_reply_decode(reply->body, reply->body_len, &r), 0);
    int64_t clients = r.error ? -1 : (int64_t)r.clients;
    sl_api_reload_reply_clear(&r);
    sl_msg_destroy(&reply);
    free(body);
    sl_port_destroy(&port);
    return clients;
}

/* The allowed clients are read again on a reload: a client added to the
   directory gets in, one removed is shut out, and an unreadable directory
   keeps the previous set. */
static void test_curve_reload_clients(void **state)
{
    fixture_t *f = *state;
    s_spawn(f);
    s_client_t rogue = s_client(f, ZMQ_DEALER, ROGUE, f->api_ep);
    assert_true(s_denied_by_zap(&rogue));
    s_client_close(&rogue);

    char from[200], to[200];
    snprintf(from, sizeof(from), "%s/rogue.cert", f->dir);
    snprintf(to, sizeof(to), "%s/rogue.cert", f->clients);
    assert_int_equal(rename(from, to), 0);
    snprintf(from, sizeof(from), "%s/alice.cert", f->clients);
    assert_int_equal(unlink(from), 0);
    assert_int_equal(s_reload(f, f->clients), 1); /* README is no certificate */

    rogue = s_client(f, ZMQ_DEALER, ROGUE, f->api_ep);
    assert_int_equal(s_handshake(&rogue), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_client_close(&rogue);
    s_client_t alice = s_client(f, ZMQ_DEALER, ALICE, f->api_ep);
    assert_true(s_denied_by_zap(&alice));
    s_client_close(&alice);

    char missing[200];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", f->dir);
    assert_int_equal(s_reload(f, missing), -1);
    rogue = s_client(f, ZMQ_DEALER, ROGUE, f->api_ep);
    assert_int_equal(s_handshake(&rogue), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    s_client_close(&rogue);
}

/* Only one ZAP handler per context: a taken endpoint fails the spawn; the
   api's own handler is unbound at destroy, so a new api can start at once. */
static void test_curve_zap_endpoint_taken_fails_spawn(void **state)
{
    fixture_t *f = *state;
    void *other = zmq_socket(sl_rt_zmq_ctx(f->rt), ZMQ_REP);
    assert_int_equal(zmq_bind(other, SL_CURVE_ZAP_ENDPOINT), 0);
    sl_api_config_t cfg;
    s_api_config(f, &cfg);
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_EEXIST);
    assert_null(f->api);
    zmq_unbind(other, SL_CURVE_ZAP_ENDPOINT);
    zmq_close(other);

    s_spawn(f);
    sl_actor_destroy(&f->api);
    s_spawn(f);
    s_client_t dealer = s_client(f, ZMQ_DEALER, ALICE, f->api_ep);
    s_send_ping(dealer.sock);
    uint8_t reply[256];
    assert_true(s_recv(dealer.sock, WAIT_MS, reply, sizeof(reply)) > 0);
    s_client_close(&dealer);
}

/* Documents the limit in sl_curve.h: libzmq runs no handshake on inproc,
   so an inproc bind is open to any code in the process (the api warns). If
   a libzmq upgrade changes this, this case says so. */
static void test_curve_inproc_is_not_guarded(void **state)
{
    fixture_t *f = *state;
    sl_api_config_t cfg;
    s_api_config(f, &cfg);
    cfg.binds[1] = "inproc://curve-api";
    cfg.n_binds = 2;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), 0);
    void **slot = s_track(f, zmq_socket(sl_rt_zmq_ctx(f->rt), ZMQ_DEALER));
    int zero = 0;
    zmq_setsockopt(*slot, ZMQ_LINGER, &zero, sizeof(zero));
    assert_int_equal(zmq_connect(*slot, "inproc://curve-api"), 0);
    s_send_ping(*slot);
    uint8_t reply[256];
    assert_true(s_recv(*slot, WAIT_MS, reply, sizeof(reply)) > 0);
    zmq_close(*slot);
    *slot = NULL;
}

static void test_curve_bad_certificates_fail_spawn(void **state)
{
    fixture_t *f = *state;
    sl_api_config_t cfg;
    char path[160];

    s_api_config(f, &cfg);
    snprintf(path, sizeof(path), "%s/missing.cert", f->dir);
    cfg.curve_secret_file = path;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_ECONFIG);

    /* a public certificate only: no secret key to serve with */
    s_api_config(f, &cfg);
    zcert_t *cert = zcert_new();
    snprintf(path, sizeof(path), "%s/public-only.cert", f->dir);
    assert_int_equal(zcert_save_public(cert, path), 0);
    zcert_destroy(&cert);
    cfg.curve_secret_file = path;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_ECONFIG);

    s_api_config(f, &cfg);
    snprintf(path, sizeof(path), "%s/no-such-dir", f->dir);
    cfg.curve_clients_dir = path;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_ECONFIG);

    /* one without the other */
    s_api_config(f, &cfg);
    cfg.curve_clients_dir = "";
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_EINVAL);
    s_api_config(f, &cfg);
    cfg.curve_secret_file = NULL;
    assert_int_equal(sl_api_spawn(f->rt, &cfg, &f->api), SL_EINVAL);
    assert_null(f->api);
    assert_false(sl_rt_has(f->rt, SL_IDS_API));

    /* nothing was left bound: a good config still starts */
    s_spawn(f);
}

#ifdef SLUICECTL_PATH
/* Runs sluicectl with argv (NULL-terminated) and a clean environment plus
   env; returns its exit code. sluicectl's --timeout bounds the wait. */
static int s_sluicectl(const char *const *argv, const char *const *env)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tchild_in_child(parent);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        execve(SLUICECTL_PATH, (char *const *)argv, (char *const *)env);
        _exit(127);
    }
    tchild_add(pid);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    tchild_forget(pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_curve_sluicectl_flags(void **state)
{
    fixture_t *f = *state;
    s_spawn(f);
    char server[160], alice[160], rogue[160], env_server[200], env_client[200];
    snprintf(server, sizeof(server), "%s/server.cert", f->dir);
    snprintf(alice, sizeof(alice), "%s/alice.cert_secret", f->clients);
    snprintf(rogue, sizeof(rogue), "%s/rogue.cert_secret", f->dir);
    const char *no_env[] = {NULL};

    const char *ok[] = {
        "sluicectl", "--api",          f->api_ep, "--timeout", "5000", "--curve-server-key",
        server,      "--curve-client", alice,     "ping",      NULL};
    assert_int_equal(s_sluicectl(ok, no_env), 0);

    snprintf(env_server, sizeof(env_server), "SLUICE_CURVE_SERVER_KEY=%s", server);
    snprintf(env_client, sizeof(env_client), "SLUICE_CURVE_CLIENT=%s", alice);
    const char *by_env[] = {env_server, env_client, NULL};
    const char *plain[] = {"sluicectl", "--api", f->api_ep, "--timeout", "500", "ping", NULL};
    assert_int_equal(s_sluicectl(plain, by_env), 0);
    assert_int_equal(s_requests(f), 2);

    /* a key the api does not allow, or none: no reply (exit 5) */
    const char *bad[] = {
        "sluicectl", "--api",          f->api_ep, "--timeout", "500", "--curve-server-key",
        server,      "--curve-client", rogue,     "ping",      NULL};
    assert_int_equal(s_sluicectl(bad, no_env), 5);
    assert_int_equal(s_sluicectl(plain, no_env), 5);
    assert_int_equal(s_requests(f), 2);

    /* half a key pair, or a public certificate as the client's: usage (1) */
    const char *half[] = {"sluicectl", "--api", f->api_ep, "--curve-server-key",
                          server,      "ping",  NULL};
    assert_int_equal(s_sluicectl(half, no_env), 1);
    const char *public_only[] = {"sluicectl", "--api",          f->api_ep, "--curve-server-key",
                                 server,      "--curve-client", server,    "ping",
                                 NULL};
    assert_int_equal(s_sluicectl(public_only, no_env), 1);
}
#endif

static void test_curve_config_keys(void **state)
{
    sl_config_t *cfg = malloc(sizeof(*cfg));
    char err[512] = "";
    sl_config_defaults(cfg);
    assert_string_equal(cfg->curve_secret_file, "");
    assert_string_equal(cfg->curve_clients_dir, "");

    assert_int_equal(sl_config_load_str(cfg, "api\n    curve_secret_file = \"/k/server\"\n",
                                        "t.cfg", err, sizeof(err)),
                     SL_ECONFIG);
    /* at the line of the key that is set, naming the missing one */
    assert_non_null(strstr(err, "t.cfg:2: api/curve_secret_file: needs api/curve_clients_dir"));
    assert_string_equal(cfg->curve_secret_file, ""); /* nothing applied */

    assert_int_equal(sl_config_load_str(cfg, "api\n    curve_clients_dir = \"/k/clients\"\n",
                                        "t.cfg", err, sizeof(err)),
                     SL_ECONFIG);
    assert_non_null(strstr(err, "t.cfg:2: api/curve_clients_dir: needs api/curve_secret_file"));

    assert_int_equal(sl_config_load_str(cfg,
                                        "api\n    curve_secret_file = \"/k/server\"\n"
                                        "    curve_clients_dir = \"/k/clients\"\n",
                                        "t.cfg", err, sizeof(err)),
                     0);
    assert_string_equal(cfg->curve_secret_file, "/k/server");
    assert_string_equal(cfg->curve_clients_dir, "/k/clients");
    assert_int_equal(sl_config_check(cfg, err, sizeof(err)), 0);

    /* sluice_set's loader takes the keys one at a time; sl_config_check
       (run by sluice_start) judges the result */
    sl_config_defaults(cfg);
    assert_int_equal(sl_config_load_part(cfg, "api\n    curve_secret_file = \"/k/s\"\n", "set", err,
                                         sizeof(err)),
                     0);
    assert_int_equal(sl_config_check(cfg, err, sizeof(err)), SL_ECONFIG);
    assert_string_equal(err, "api/curve_secret_file: needs api/curve_clients_dir too (a "
                             "directory of the allowed clients' public certificates)");
    assert_int_equal(sl_config_load_part(cfg, "api\n    curve_clients_dir = \"/k/c\"\n", "set", err,
                                         sizeof(err)),
                     0);
    assert_int_equal(sl_config_check(cfg, err, sizeof(err)), 0);

    /* --print-config lists both */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(sl_config_write(cfg, out), 0);
    fclose(out);
    assert_non_null(strstr(text, "curve_secret_file = \"/k/s\""));
    assert_non_null(strstr(text, "curve_clients_dir = \"/k/c\""));
    free(text);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_curve_allowed_client_pings_and_receives_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_curve_reload_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_unknown_key_gets_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_plain_client_gets_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_zap_endpoint_taken_fails_spawn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_inproc_is_not_guarded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_curve_bad_certificates_fail_spawn, setup, teardown),
#ifdef SLUICECTL_PATH
        cmocka_unit_test_setup_teardown(test_curve_sluicectl_flags, setup, teardown),
#endif
        cmocka_unit_test(test_curve_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
