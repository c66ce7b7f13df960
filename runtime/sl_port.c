/*  sl_port.c: messaging for threads that are not actors (tests, a host
    program, an I/O thread).

    A port belongs to the thread that created it: its mailbox (when named),
    its send cache and its queue of kept messages are touched only there.
    sl_port_request waits on the mailbox with a real-time deadline; messages
    that arrive meanwhile and are not the awaited reply are kept, in order,
    for sl_port_recv. Pings are answered as they are read, like actors do.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/sl_actor_int.h"
#include "runtime/sl_log.h"

/* An owned message: the sl_msg_t first, so sl_msg_destroy frees the block. */
typedef struct s_owned_t {
    sl_msg_t msg;
    zmq_msg_t frame;
    struct s_owned_t *next; /* kept queue */
} s_owned_t;

struct sl_port_t {
    sl_rt_t *rt;
    char name[SL_NAME_MAX];
    sl_entry_t *entry; /* NULL for send-only ports */
    void *mailbox;
    sl_sendcache_t cache;
    uint64_t next_corr;
    s_owned_t *kept_head;
    s_owned_t *kept_tail;
    uint64_t late_replies;
    uint64_t malformed;
};

sl_port_t *sl_port_new(sl_rt_t *rt, const char *name)
{
    if (!rt || (name && (!name[0] || strlen(name) >= SL_NAME_MAX))) {
        return NULL;
    }
    sl_port_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    self->rt = rt;
    self->next_corr = 1;
    snprintf(self->name, sizeof(self->name), "%s", name ? name : "");
    sl_sendcache_init(&self->cache, rt, self->name);
    if (name) {
        if (sl_registry_claim(rt, name, SL_MAILBOX_HWM_DEFAULT, NULL, &self->entry) < 0) {
            goto fail;
        }
        self->mailbox = zmq_socket(rt->ctx, ZMQ_PULL);
        if (!self->mailbox) {
            goto fail;
        }
        int zero = 0;
        zmq_setsockopt(self->mailbox, ZMQ_RCVHWM, &zero, sizeof(zero));
        zmq_setsockopt(self->mailbox, ZMQ_LINGER, &zero, sizeof(zero));
        char endpoint[SL_NAME_MAX + 16];
        snprintf(endpoint, sizeof(endpoint), "inproc://sl.%s", name);
        if (zmq_bind(self->mailbox, endpoint) != 0) {
            goto fail;
        }
    }
    atomic_fetch_add(&rt->ports, 1);
    return self;
fail:
    if (self->mailbox) {
        zmq_close(self->mailbox);
    }
    if (self->entry) {
        sl_registry_release(rt, self->entry);
        sl_entry_unref(&self->entry);
    }
    sl_sendcache_fini(&self->cache);
    free(self);
    return NULL;
}

void sl_port_destroy(sl_port_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_port_t *self = *p;
    while (self->kept_head) {
        s_owned_t *o = self->kept_head;
        self->kept_head = o->next;
        sl_msg_t *m = &o->msg;
        sl_msg_destroy(&m);
    }
    if (self->entry) {
        sl_registry_release(self->rt, self->entry);
        sl_entry_unref(&self->entry);
    }
    if (self->mailbox) {
        char endpoint[SL_NAME_MAX + 16];
        snprintf(endpoint, sizeof(endpoint), "inproc://sl.%s", self->name);
        zmq_unbind(self->mailbox, endpoint);
        int zero = 0;
        zmq_setsockopt(self->mailbox, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(self->mailbox);
    }
    sl_sendcache_fini(&self->cache);
    atomic_fetch_sub(&self->rt->ports, 1);
    free(self);
    *p = NULL;
}

int sl_port_send(sl_port_t *self, const char *to, uint16_t type, const void *body, size_t len)
{
    if (!self || !to) {
        return SL_EINVAL;
    }
    return sl_sendcache_send(&self->cache, to, type, 0, 0, body, len);
}

int sl_port_reply(sl_port_t *self, const sl_msg_t *request, uint16_t type, const void *body,
                  size_t len)
{
    if (!self || !request || !(request->flags & SL_MSG_F_REQUEST) || !request->from[0]) {
        return SL_EINVAL;
    }
    return sl_sendcache_send(&self->cache, request->from, type, SL_MSG_F_REPLY, request->corr, body,
                             len);
}

static int64_t s_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one valid message from the mailbox, waiting until deadline (ms,
   monotonic). Pings are answered here and malformed frames dropped. */
static int s_read(sl_port_t *self, int64_t deadline, s_owned_t **out)
{
    for (;;) {
        s_owned_t *o = calloc(1, sizeof(*o));
        if (!o) {
            return SL_ENOMEM;
        }
        zmq_msg_init(&o->frame);
        int got = zmq_msg_recv(&o->frame, self->mailbox, ZMQ_DONTWAIT);
        if (got < 0) {
            int err = errno;
            zmq_msg_close(&o->frame);
            free(o);
            if (err != EAGAIN) {
                return sl_zmq_err(err);
            }
            int64_t left = deadline - s_mono_ms();
            if (left <= 0) {
                return SL_ETIMEOUT;
            }
            zmq_pollitem_t item = {.socket = self->mailbox, .events = ZMQ_POLLIN};
            if (zmq_poll(&item, 1, (long)left) < 0 && errno != EINTR) {
                return sl_zmq_err(errno);
            }
            continue;
        }
        atomic_fetch_add_explicit(&self->entry->received, 1, memory_order_relaxed);
        if (sl_env_decode(zmq_msg_data(&o->frame), zmq_msg_size(&o->frame), &o->msg) < 0) {
            self->malformed++;
            zmq_msg_close(&o->frame);
            free(o);
            continue;
        }
        o->msg.priv_ = &o->frame;
        if (o->msg.type == SL_MSG_PING && (o->msg.flags & SL_MSG_F_REQUEST)) {
            if (o->msg.from[0]) {
                sl_port_reply(self, &o->msg, SL_MSG_PONG, NULL, 0);
            }
            sl_msg_t *m = &o->msg;
            sl_msg_destroy(&m);
            continue;
        }
        *out = o;
        return 0;
    }
}

int sl_port_recv(sl_port_t *self, int64_t timeout_ms, sl_msg_t **msg)
{
    if (!self || !msg || !self->mailbox) {
        return SL_EINVAL;
    }
    if (self->kept_head) {
        s_owned_t *o = self->kept_head;
        self->kept_head = o->next;
        if (!self->kept_head) {
            self->kept_tail = NULL;
        }
        o->next = NULL;
        *msg = &o->msg;
        return 0;
    }
    s_owned_t *o = NULL;
    int rc = s_read(self, s_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0), &o);
    if (rc < 0) {
        return rc;
    }
    *msg = &o->msg;
    return 0;
}

int sl_port_request(sl_port_t *self, const char *to, uint16_t type, const void *body, size_t len,
                    int64_t timeout_ms, sl_msg_t **reply)
{
    if (!self || !to || !reply || !self->mailbox) {
        return SL_EINVAL; /* a send-only port has nowhere to receive the reply */
    }
    int64_t deadline = s_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    uint64_t corr = self->next_corr++;
    int rc = sl_sendcache_send(&self->cache, to, type, SL_MSG_F_REQUEST, corr, body, len);
    if (rc < 0) {
        return rc;
    }
    for (;;) {
        s_owned_t *o = NULL;
        rc = s_read(self, deadline, &o);
        if (rc < 0) {
            return rc;
        }
        if ((o->msg.flags & SL_MSG_F_REPLY) && o->msg.corr == corr) {
            *reply = &o->msg;
            return 0;
        }
        if (o->msg.flags & SL_MSG_F_REPLY) {
            /* A reply to an earlier request that already timed out. */
            self->late_replies++;
            sl_msg_t *m = &o->msg;
            sl_msg_destroy(&m);
            continue;
        }
        if (self->kept_tail) {
            self->kept_tail->next = o;
        } else {
            self->kept_head = o;
        }
        self->kept_tail = o;
    }
}
