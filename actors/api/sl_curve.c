/*  sl_curve.c: CURVE keys for the api's sockets and a ZAP handler (RFC 27).

    Runs on the api actor's thread only: the ZAP socket is created, polled
    (through the actor's reactor) and closed there, like the sockets it
    guards.

    Design notes
    - libzmq asks the ZAP handler of the socket's own context, over inproc,
      from its I/O thread, and holds the handshake until the answer comes.
      So the answer is computed at once from memory (a sorted key array and
      a binary search), never with I/O, and every request gets exactly one
      reply, even a malformed one: a REP socket that skips a reply is stuck.
    - Denials are logged at debug level only: a refused client reconnects
      every ZMQ_RECONNECT_IVL (100 ms) and would flood the log. The count of
      denials is logged at info level when the handler closes.
    - Certificates are czmq zcert files (ZPL: curve/public-key and
      curve/secret-key in Z85) read with zconfig_str_load, not zcert_load:
      czmq 4.2.1's zconfig_load leaks its zfile for every file that is not
      valid ZPL (LeakSanitizer, a README in the clients directory), and
      zcert_load silently reads "<file>_secret" instead of the file named.
    - Keys are compared as 32 raw bytes; the user id handed back to libzmq
      (the "User-Id" message property) is the key's Z85 text.
*/
#include "actors/api/sl_curve.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "runtime/sl_log.h"

#define S_KEY 32
#define S_ZAP_FRAMES 8   /* CURVE requests have 7; one more spots a longer one */
#define S_CERT_MAX 16384 /* a zcert file is a few hundred bytes */

typedef struct {
    uint8_t key[S_KEY];
} s_key_t;

struct sl_curve_t {
    uint8_t secret[S_KEY];
    char public_txt[41]; /* the server's public key, for the log */
    s_key_t *keys;       /* sorted */
    size_t n_keys;
    void *zap;         /* REP at SL_CURVE_ZAP_ENDPOINT, or NULL */
    sl_actor_t *actor; /* that watches zap */
    uint64_t allowed;
    uint64_t denied;
};

sl_curve_t *sl_curve_new(void)
{
    return calloc(1, sizeof(sl_curve_t));
}

size_t sl_curve_clients(const sl_curve_t *self)
{
    return self ? self->n_keys : 0;
}

void sl_curve_destroy(sl_curve_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_curve_t *self = *p;
    if (self->zap) {
        sl_actor_unwatch_socket(self->actor, self->zap);
        /* An inproc unbind is immediate, a close is not (the reaper does it
           later): unbind so a new api in this context can bind at once. */
        zmq_unbind(self->zap, SL_CURVE_ZAP_ENDPOINT);
        zmq_close(self->zap);
        sl_info("api: CURVE: ZAP handler closed (%llu allowed, %llu denied)",
                (unsigned long long)self->allowed, (unsigned long long)self->denied);
    }
    explicit_bzero(self->secret, sizeof(self->secret));
    free(self->keys);
    free(self);
    *p = NULL;
}

/* ---- loading ---------------------------------------------------------------- */

static int s_key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, S_KEY);
}

static bool s_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads one zcert file: 0 with the public key (and the secret key, all
   zeros when the file has none), SL_EIO (errno set), SL_ETOOBIG, or
   SL_EPROTO when it is not a certificate. */
static int s_read_cert(const char *path, uint8_t *public_key, uint8_t *secret_key)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return SL_EIO;
    }
    char *text = malloc(S_CERT_MAX + 1);
    size_t n = text ? fread(text, 1, S_CERT_MAX + 1, f) : 0;
    fclose(f);
    if (!text) {
        return SL_ENOMEM;
    }
    int rc = SL_EPROTO;
    zconfig_t *root = NULL;
    if (n > S_CERT_MAX) {
        rc = SL_ETOOBIG;
    } else {
        text[n] = '\0';
        root = strlen(text) == n ? zconfig_str_load(text) : NULL;
    }
    const char *pub = root ? zconfig_get(root, "curve/public-key", NULL) : NULL;
    const char *sec = root ? zconfig_get(root, "curve/secret-key", NULL) : NULL;
    memset(secret_key, 0, S_KEY);
    if (pub && strlen(pub) == 40 && zmq_z85_decode(public_key, pub)) {
        rc = 0;
        if (!sec || strlen(sec) != 40 || !zmq_z85_decode(secret_key, sec)) {
            memset(secret_key, 0, S_KEY);
        }
    }
    zconfig_destroy(&root);
    explicit_bzero(text, n < S_CERT_MAX ? n : S_CERT_MAX);
    free(text);
    return rc;
}

static int s_load_secret(sl_curve_t *self, const char *secret_file)
{
    uint8_t public_key[S_KEY];
    int rc = s_read_cert(secret_file, public_key, self->secret);
    if (rc) {
        sl_error("api: curve_secret_file '%s': %s", secret_file,
                 rc == SL_EIO ? strerror(errno) : "not a czmq zcert certificate");
        return rc == SL_ENOMEM ? rc : SL_ECONFIG;
    }
    zmq_z85_encode(self->public_txt, public_key, S_KEY);
    if (s_all_zero(self->secret, S_KEY)) {
        sl_error("api: curve_secret_file '%s': the certificate holds no secret key (give the "
                 "server's secret certificate: the \"_secret\" file zcert_save writes)",
                 secret_file);
        return SL_ECONFIG;
    }
    struct stat st;
    if (stat(secret_file, &st) == 0 && (st.st_mode & 077)) {
        sl_warn("api: curve_secret_file '%s' is accessible to group or others (chmod 600 it)",
                secret_file);
    }
    return 0;
}

static int s_load_clients(sl_curve_t *self, const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    if (!dir) {
        sl_error("api: curve_clients_dir '%s': %s", dir_path, strerror(errno));
        return SL_ECONFIG;
    }
    int rc = 0;
    size_t cap = 0;
    struct dirent *ent;
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] == '.' || s_ends_with(ent->d_name, "_secret")) {
            continue;
        }
        char path[4096];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir_path, ent->d_name) >= sizeof(path)) {
            sl_warn("api: curve_clients_dir: skipping '%s': path too long", ent->d_name);
            continue;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        uint8_t public_key[S_KEY], secret_key[S_KEY];
        int read_rc = s_read_cert(path, public_key, secret_key);
        explicit_bzero(secret_key, sizeof(secret_key));
        if (read_rc == SL_ENOMEM) {
            rc = read_rc;
            break;
        }
        if (read_rc) {
            sl_warn("api: curve_clients_dir: skipping '%s': %s", path,
                    read_rc == SL_EIO ? strerror(errno) : "not a czmq zcert certificate");
            continue;
        }
        if (self->n_keys == SL_CURVE_MAX_CLIENTS) {
            sl_error("api: curve_clients_dir '%s': more than %d certificates", dir_path,
                     SL_CURVE_MAX_CLIENTS);
            rc = SL_ECONFIG;
            break;
        }
        if (self->n_keys == cap) {
            cap = cap ? cap * 2 : 16;
            s_key_t *grown = realloc(self->keys, cap * sizeof(*grown));
            if (!grown) {
                rc = SL_ENOMEM;
                break;
            }
            self->keys = grown;
        }
        memcpy(self->keys[self->n_keys++].key, public_key, S_KEY);
    }
    closedir(dir);
    if (rc == 0 && self->n_keys > 1) {
        qsort(self->keys, self->n_keys, sizeof(*self->keys), s_key_cmp);
    }
    return rc;
}

int sl_curve_load(sl_curve_t *self, const char *secret_file, const char *clients_dir)
{
    if (!self || !secret_file || !*secret_file || !clients_dir || !*clients_dir) {
        return SL_EINVAL;
    }
    int rc = s_load_secret(self, secret_file);
    if (rc == 0) {
        rc = s_load_clients(self, clients_dir);
    }
    if (rc == 0 && self->n_keys == 0) {
        sl_warn("api: curve_clients_dir '%s' holds no client certificate: no client can "
                "connect",
                clients_dir);
    }
    if (rc == 0) {
        sl_info("api: CURVE on, server public key %s, %zu allowed client key(s) from %s",
                self->public_txt, self->n_keys, clients_dir);
    }
    return rc;
}

int sl_curve_reload_clients(sl_curve_t *self, const char *clients_dir)
{
    if (!self || !clients_dir || !*clients_dir) {
        return SL_EINVAL;
    }
    sl_curve_t fresh = {0};
    int rc = s_load_clients(&fresh, clients_dir);
    if (rc) {
        free(fresh.keys);
        return rc;
    }
    /* one thread answers ZAP and runs this: no request sees half a swap */
    free(self->keys);
    self->keys = fresh.keys;
    self->n_keys = fresh.n_keys;
    sl_info("api: CURVE: %zu allowed client key(s) from %s (reloaded)", self->n_keys, clients_dir);
    return 0;
}

/* ---- the ZAP handler ---------------------------------------------------------- */

static bool s_frame_is(zmq_msg_t *m, const char *text)
{
    size_t n = strlen(text);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), text, n) == 0;
}

/* Decides one request: returns the status code and sets *why and, for an
   allowed key, user_id (Z85 text). */
static const char *s_judge(sl_curve_t *self, zmq_msg_t *f, int n, bool overflow, const char **why,
                           char *user_id)
{
    /* version, request id, domain, address, routing id, mechanism, key */
    if (overflow || n != 7 || !s_frame_is(&f[0], "1.0")) {
        *why = "malformed ZAP request";
        return "500";
    }
    if (!s_frame_is(&f[2], SL_CURVE_DOMAIN)) {
        *why = "unknown ZAP domain";
        return "400";
    }
    if (!s_frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != S_KEY) {
        *why = "CURVE required";
        return "400";
    }
    const uint8_t *key = zmq_msg_data(&f[6]);
    if (!self->n_keys || !bsearch(key, self->keys, self->n_keys, sizeof(*self->keys), s_key_cmp)) {
        *why = "client key not allowed";
        return "400";
    }
    zmq_z85_encode(user_id, key, S_KEY);
    *why = "OK";
    return "200";
}

static void s_answer(sl_curve_t *self, zmq_msg_t *f, int n, bool overflow)
{
    const char *why = NULL;
    char user_id[41] = "";
    const char *status = s_judge(self, f, n, overflow, &why, user_id);
    if (status[0] == '2') {
        self->allowed++;
        sl_debug("api: CURVE: allowed client %s", user_id);
    } else {
        self->denied++;
        char address[64] = "?";
        if (n >= 4 && zmq_msg_size(&f[3]) < sizeof(address)) {
            memcpy(address, zmq_msg_data(&f[3]), zmq_msg_size(&f[3]));
            address[zmq_msg_size(&f[3])] = '\0';
        }
        sl_debug("api: CURVE: denied a client from %s: %s", address, why);
    }
    /* A REP must answer before it can read again; these sends go to an
       inproc pipe that libzmq's I/O thread reads one reply per handshake. */
    const void *reqid = n >= 2 ? zmq_msg_data(&f[1]) : "";
    size_t reqid_len = n >= 2 ? zmq_msg_size(&f[1]) : 0;
    if (zmq_send(self->zap, "1.0", 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->zap, reqid, reqid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->zap, status, 3, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->zap, why, strlen(why), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->zap, user_id, strlen(user_id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(self->zap, "", 0, ZMQ_DONTWAIT) < 0) {
        sl_warn("api: CURVE: cannot answer a ZAP request: %s", zmq_strerror(zmq_errno()));
    }
}

/* Drains the ZAP socket: one reply per request. */
static int s_on_zap(sl_actor_t *actor, void *zsock, short revents, void *arg)
{
    sl_curve_t *self = arg;
    for (int budget = 0; budget < 1000; budget++) {
        zmq_msg_t frames[S_ZAP_FRAMES];
        int n = 0;
        bool more = true, overflow = false;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, zsock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                break;
            }
            more = zmq_msg_more(&part);
            if (n < S_ZAP_FRAMES) {
                frames[n++] = part;
            } else {
                zmq_msg_close(&part);
                overflow = true;
            }
        }
        if (n == 0) {
            return 0; /* drained */
        }
        s_answer(self, frames, n, overflow);
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&frames[i]);
        }
    }
    return 0;
}

int sl_curve_start(sl_curve_t *self, sl_actor_t *actor)
{
    if (!self || !actor || self->zap) {
        return SL_EINVAL;
    }
    if (!zmq_has("curve")) {
        sl_error("api: CURVE is configured but this libzmq was built without it");
        return SL_EUNSUPPORTED;
    }
    void *zap = zmq_socket(sl_rt_zmq_ctx(sl_actor_rt(actor)), ZMQ_REP);
    if (!zap) {
        sl_error("api: CURVE: cannot create the ZAP socket: %s", zmq_strerror(zmq_errno()));
        return SL_EZMQ;
    }
    int zero = 0;
    zmq_setsockopt(zap, ZMQ_LINGER, &zero, sizeof(zero));
    if (zmq_bind(zap, SL_CURVE_ZAP_ENDPOINT) != 0) {
        int err = zmq_errno();
        zmq_close(zap);
        if (err == EADDRINUSE) {
            sl_error("api: CURVE: another ZAP handler is already bound at %s in this ZeroMQ "
                     "context (a second api, or the host's own authenticator); only one "
                     "may exist per context",
                     SL_CURVE_ZAP_ENDPOINT);
            return SL_EEXIST;
        }
        sl_error("api: CURVE: cannot bind the ZAP handler at %s: %s", SL_CURVE_ZAP_ENDPOINT,
                 zmq_strerror(err));
        return SL_EZMQ;
    }
    int rc = sl_actor_watch_socket(actor, zap, ZMQ_POLLIN, s_on_zap, self);
    if (rc) {
        zmq_close(zap);
        return rc;
    }
    self->zap = zap;
    self->actor = actor;
    return 0;
}

void sl_curve_check_bind(const char *endpoint)
{
    if (endpoint && strncmp(endpoint, "inproc://", 9) == 0) {
        sl_warn("api: CURVE does not guard %s: libzmq runs no handshake on inproc, so any "
                "code in this process can use it without a key",
                endpoint);
    }
}

int sl_curve_secure(sl_curve_t *self, void *sock)
{
    int one = 1;
    if (!self || !sock || !self->zap) {
        return SL_EINVAL;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, self->secret, S_KEY) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, SL_CURVE_DOMAIN, strlen(SL_CURVE_DOMAIN)) != 0) {
        sl_error("api: CURVE: cannot make a socket a CURVE server: %s", zmq_strerror(zmq_errno()));
        return SL_EZMQ;
    }
    return 0;
}
