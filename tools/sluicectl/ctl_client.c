/*  ctl_client.c: sluicectl's side of the daemon's API: one DEALER socket for
    requests, a SUB socket for events.

    A request is one frame holding a msgpack map with an `id` that sluicectl
    picks; the reply with the same id answers it. Replies with another id are
    stale (an earlier request that timed out) and are dropped. Nothing waits
    without a deadline: a send that cannot go out and a reply that does not
    come both end at timeout_ms with CTL_EXIT_UNREACHABLE. LINGER is 0 so an
    unsent request never holds the process open at exit.

    A socket monitor on the DEALER reports disconnects: sluiced drops, unread,
    a request frame past its ceiling (16 x api/max_request_bytes) by closing
    the connection, so a disconnect while a reply is due is followed by a
    ping; if that is answered the user is told the request was dropped,
    rather than that the daemon is not running.
*/
#include "tools/sluicectl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int64_t ctl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ctl_reply_clear(ctl_reply_t *reply)
{
    free(reply->data);
    json_decref(reply->json);
    memset(reply, 0, sizeof(*reply));
}

static void *s_ctx(ctl_t *self)
{
    if (!self->zctx) {
        self->zctx = zmq_ctx_new();
    }
    return self->zctx;
}

static void *s_dealer(ctl_t *self)
{
    if (self->dealer) {
        return self->dealer;
    }
    void *ctx = s_ctx(self);
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    if (!sock) {
        fprintf(stderr, "sluicectl: cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    ctl_curve_apply(self, sock);
    if (zmq_connect(sock, self->api) != 0) {
        fprintf(stderr, "sluicectl: cannot connect to '%s': %s\n", self->api,
                zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    self->dealer = sock;
    /* Without a monitor a dropped request still ends at the deadline. */
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://ctl-monitor-%p", sock);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    if (mon && zmq_socket_monitor(sock, ep, ZMQ_EVENT_DISCONNECTED) == 0 &&
        zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof(zero)) == 0 && zmq_connect(mon, ep) == 0) {
        self->monitor = mon;
    } else if (mon) {
        zmq_close(mon);
    }
    return sock;
}

void *ctl_subscribe(ctl_t *self)
{
    void *ctx = s_ctx(self);
    void *sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
    if (!sock) {
        fprintf(stderr, "sluicectl: cannot create a socket: %s\n", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
    ctl_curve_apply(self, sock);
    if (zmq_connect(sock, self->pub) != 0) {
        fprintf(stderr, "sluicectl: cannot connect to '%s': %s\n", self->pub,
                zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void ctl_close(ctl_t *self)
{
    if (self->monitor) {
        zmq_socket_monitor(self->dealer, NULL, 0);
        zmq_close(self->monitor);
        self->monitor = NULL;
    }
    if (self->dealer) {
        zmq_close(self->dealer);
        self->dealer = NULL;
    }
    if (self->zctx) {
        zmq_ctx_term(self->zctx);
        self->zctx = NULL;
    }
}

/* Drains the monitor; true when it reported a disconnect. */
static bool s_disconnected(ctl_t *self)
{
    bool seen = false;
    while (self->monitor) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        uint16_t event = 0;
        if (zmq_msg_more(&m) && zmq_msg_size(&m) >= sizeof(event)) {
            memcpy(&event, zmq_msg_data(&m), sizeof(event));
            seen = seen || event == ZMQ_EVENT_DISCONNECTED;
        }
        zmq_msg_close(&m);
    }
    return seen;
}

/* Waits for events on sock until deadline; false when the time is up.
   With dropped, also returns (true, *dropped set) on a disconnect. */
static bool s_wait_or_drop(ctl_t *self, void *sock, short events, int64_t deadline, bool *dropped)
{
    for (;;) {
        int64_t left = deadline - ctl_now_ms();
        if (left <= 0) {
            return false;
        }
        zmq_pollitem_t items[2] = {{sock, 0, events, 0}, {self->monitor, 0, ZMQ_POLLIN, 0}};
        int n = dropped && self->monitor ? 2 : 1;
        int rc = zmq_poll(items, n, (long)left);
        if (rc > 0 && n == 2 && (items[1].revents & ZMQ_POLLIN) && s_disconnected(self)) {
            *dropped = true;
            return true;
        }
        if (rc > 0 && (items[0].revents & events)) {
            return true;
        }
        if (rc > 0) {
            continue;
        }
        if (rc < 0 && zmq_errno() != EINTR) {
            return false;
        }
        if (rc < 0 && ctl_interrupted) {
            return false;
        }
    }
}

static int s_unreachable(ctl_t *self, const char *op)
{
    if (ctl_interrupted) {
        fprintf(stderr, "sluicectl: %s: interrupted\n", op);
        return CTL_EXIT_INTERRUPTED;
    }
    fprintf(stderr,
            "sluicectl: %s: no reply from %s within %d ms (is sluiced running? see --api, "
            "--timeout)\n",
            op, self->api, self->timeout_ms);
    return CTL_EXIT_UNREACHABLE;
}

/* Checks the reply's shape and reports an error reply. */
static int s_judge(const char *op, ctl_reply_t *reply)
{
    if (!json_is_object(reply->json)) {
        fprintf(stderr, "sluicectl: %s: malformed reply from the daemon (%s)\n", op,
                reply->json ? "not a map" : "not msgpack");
        return CTL_EXIT_DAEMON;
    }
    const json_t *ok = ctl_get(reply->json, "ok");
    if (json_is_true(ok)) {
        return CTL_EXIT_OK;
    }
    if (!json_is_false(ok)) {
        fprintf(stderr, "sluicectl: %s: malformed reply from the daemon (no boolean 'ok')\n", op);
        return CTL_EXIT_DAEMON;
    }
    const json_t *err = ctl_get(reply->json, "error");
    fprintf(stderr, "sluicectl: %s: %s: %s\n", op, ctl_str(err, "code", "error"),
            ctl_str(err, "message", "(the daemon gave no message)"));
    return CTL_EXIT_DAEMON;
}

/* Sends buf (a request whose id is id) and waits for the reply with that
   id; true with *reply filled (data, len, json). With dropped, a
   disconnect while the reply is due ends the wait early (*dropped set). */
static bool s_exchange(ctl_t *self, const char *op, const char *id, const uint8_t *buf, size_t len,
                       int64_t deadline, bool *dropped, ctl_reply_t *reply)
{
    void *sock = self->dealer;
    /* DEALER queues on a connecting pipe, but with no pipe at all (e.g. a
       refused ipc path) the send would block: wait for POLLOUT instead. */
    while (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0) {
        if (zmq_errno() != EAGAIN || !s_wait_or_drop(self, sock, ZMQ_POLLOUT, deadline, NULL)) {
            return false;
        }
    }
    for (;;) {
        if (!s_wait_or_drop(self, sock, ZMQ_POLLIN, deadline, dropped) || (dropped && *dropped)) {
            return false;
        }
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        bool more = zmq_msg_more(&msg);
        size_t n = zmq_msg_size(&msg);
        uint8_t *data = malloc(n ? n : 1);
        if (data) {
            memcpy(data, zmq_msg_data(&msg), n);
        }
        zmq_msg_close(&msg);
        /* Extra frames are not ours to interpret: drain them. */
        while (more) {
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        json_t *json = data ? ctl_mp_to_json(data, n, strcmp(op, "result.get") == 0) : NULL;
        const char *rid = ctl_str(json, "id", NULL);
        if (data && rid && strcmp(rid, id) != 0) {
            /* A late answer to an earlier request. */
            json_decref(json);
            free(data);
            continue;
        }
        reply->data = data;
        reply->len = data ? n : 0;
        reply->json = json;
        return true;
    }
}

/* The smallest frame sluiced may drop unread: 16 x the smallest
   api/max_request_bytes (1024). A smaller request cannot be "too big for
   the socket", so a disconnect then is no news about the request. */
#define S_MIN_CEILING (16 * 1024)

/* After a disconnect: is the daemon there (a ping answered in time)? */
static bool s_daemon_answers(ctl_t *self, int64_t deadline)
{
    char id[64];
    snprintf(id, sizeof(id), "ctl-%ld-%u", (long)getpid(), ++self->next_id);
    json_t *ping = json_pack("{ss ss}", "op", "ping", "id", id);
    uint8_t *buf = NULL;
    size_t len = 0;
    ctl_reply_t reply = {0};
    bool ok = ping && ctl_json_to_mp(ping, &buf, &len) == 0 &&
              s_exchange(self, "ping", id, buf, len, deadline, NULL, &reply) &&
              json_is_true(ctl_get(reply.json, "ok"));
    json_decref(ping);
    free(buf);
    ctl_reply_clear(&reply);
    return ok;
}

int ctl_call(ctl_t *self, json_t *req, ctl_reply_t *reply)
{
    memset(reply, 0, sizeof(*reply));
    const char *op = ctl_str(req, "op", "request");
    char id[64];
    snprintf(id, sizeof(id), "ctl-%ld-%u", (long)getpid(), ++self->next_id);
    json_object_set_new(req, "id", json_string(id));
    uint8_t *buf = NULL;
    size_t len = 0;
    if (ctl_json_to_mp(req, &buf, &len) != 0) {
        fprintf(stderr, "sluicectl: %s: the request cannot be encoded\n", op);
        return CTL_EXIT_USAGE;
    }
    if (!s_dealer(self)) {
        free(buf);
        return CTL_EXIT_UNREACHABLE;
    }
    int64_t deadline = ctl_now_ms() + self->timeout_ms;
    s_disconnected(self); /* earlier news is not about this request */
    bool dropped = false;
    bool got =
        s_exchange(self, op, id, buf, len, deadline, len > S_MIN_CEILING ? &dropped : NULL, reply);
    free(buf);
    if (dropped && s_daemon_answers(self, deadline)) {
        fprintf(stderr,
                "sluicectl: %s: sluiced closed the connection without answering this %zu-byte "
                "request: it drops a request larger than 16 x its api/max_request_bytes unread "
                "(a smaller one past the limit is answered too_big)\n",
                op, len);
        return CTL_EXIT_DAEMON;
    }
    if (!got) {
        return s_unreachable(self, op);
    }
    if (!reply->data) {
        fprintf(stderr, "sluicectl: out of memory\n");
        return CTL_EXIT_DAEMON;
    }
    return s_judge(op, reply);
}

int ctl_call_simple(ctl_t *self, const char *op, const char *key, const char *value,
                    ctl_reply_t *reply)
{
    json_t *req = json_pack("{ss}", "op", op);
    if (key && value) {
        json_object_set_new(req, key, json_string(value));
    }
    int rc = ctl_call(self, req, reply);
    json_decref(req);
    return rc;
}
