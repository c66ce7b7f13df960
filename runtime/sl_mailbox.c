/*  sl_mailbox.c: the name registry, the message envelope and the per-thread
    send cache: everything between "send to name X" and a zmq frame in X's
    mailbox.

    The registry is shared by all threads and guarded by the runtime's mutex;
    a send only takes that mutex when it has no live cached connection. A send
    cache belongs to one thread (an actor or a port): its PUSH sockets are
    created, used and closed on that thread only, because libzmq aborts when
    two threads touch one socket.

    Envelope, one zmq frame, little-endian:
      u8 version | u8 flags | u16 type | u64 corr | u8 n | n bytes sender name
      | msgpack body
    Decoding validates every length; a bad frame is an error, never a crash.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_actor_int.h"
#include "runtime/sl_map.h"
#include "runtime/sl_log.h"

pthread_mutex_t sl_list_lock_ = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t sl_list_cond_ = PTHREAD_COND_INITIALIZER;

int sl_zmq_err(int err)
{
    switch (err) {
    case EAGAIN:
        return SL_EFULL;
    case ENOMEM:
        return SL_ENOMEM;
    case ETERM:
    case ENOTSOCK:
        return SL_ECLOSED;
    case EINVAL:
        return SL_EINVAL;
    case EADDRINUSE:
        return SL_EEXIST;
    default:
        return SL_EZMQ;
    }
}

/* ---- registry ---------------------------------------------------------- */

int sl_registry_init(sl_rt_t *rt)
{
    sl_map_init(&rt->registry);
    return 0;
}

void sl_registry_fini(sl_rt_t *rt)
{
    void *v;
    for (size_t pos = 0; sl_map_next(&rt->registry, &pos, &v);) {
        sl_entry_t *e = v;
        atomic_store(&e->alive, false);
        sl_entry_unref(&e);
    }
    sl_map_fini(&rt->registry);
}

int sl_registry_claim(sl_rt_t *rt, const char *name, uint64_t hwm, sl_actor_t *actor,
                      sl_entry_t **out)
{
    sl_entry_t *entry = calloc(1, sizeof(*entry));
    if (!entry) {
        return SL_ENOMEM;
    }
    snprintf(entry->name, sizeof(entry->name), "%s", name);
    atomic_init(&entry->refs, 2);
    atomic_init(&entry->alive, true);
    atomic_init(&entry->ready, actor == NULL);
    atomic_init(&entry->enqueued, 0);
    atomic_init(&entry->received, 0);
    entry->hwm = hwm;
    entry->actor = actor;
    entry->is_actor = actor != NULL;

    pthread_mutex_lock(&rt->lock);
    int rc = sl_map_get_str(&rt->registry, entry->name)
                 ? SL_EEXIST
                 : sl_map_put_str(&rt->registry, entry->name, entry);
    pthread_mutex_unlock(&rt->lock);
    if (rc) {
        free(entry);
        return rc;
    }
    *out = entry;
    return 0;
}

void sl_registry_release(sl_rt_t *rt, sl_entry_t *entry)
{
    pthread_mutex_lock(&rt->lock);
    bool found = sl_map_get_str(&rt->registry, entry->name) == entry;
    if (found) {
        sl_map_take_str(&rt->registry, entry->name);
    }
    atomic_store(&entry->alive, false);
    entry->actor = NULL;
    pthread_mutex_unlock(&rt->lock);
    if (found) {
        sl_entry_t *ref = entry;
        sl_entry_unref(&ref);
    }
}

sl_entry_t *sl_registry_get(sl_rt_t *rt, const char *name)
{
    pthread_mutex_lock(&rt->lock);
    sl_entry_t *found = sl_map_get_str(&rt->registry, name);
    if (found && atomic_load(&found->alive)) {
        atomic_fetch_add(&found->refs, 1);
    } else {
        found = NULL;
    }
    pthread_mutex_unlock(&rt->lock);
    return found;
}

void sl_entry_unref(sl_entry_t **p)
{
    if (!p || !*p) {
        return;
    }
    if (atomic_fetch_sub(&(*p)->refs, 1) == 1) {
        free(*p);
    }
    *p = NULL;
}

uint64_t sl_entry_depth(sl_entry_t *entry)
{
    uint64_t in = atomic_load_explicit(&entry->enqueued, memory_order_relaxed);
    uint64_t out = atomic_load_explicit(&entry->received, memory_order_relaxed);
    /* Raw frames pushed by foreign sockets are received but never enqueued. */
    return in > out ? in - out : 0;
}

/* ---- envelope ---------------------------------------------------------- */

int sl_env_decode(const uint8_t *data, size_t size, sl_msg_t *msg)
{
    if (!data || size < SL_ENV_HEADER) {
        return SL_ETRUNC;
    }
    if (data[0] != SL_ENVELOPE_VERSION) {
        return SL_EVERSION;
    }
    uint8_t flags = data[1];
    if ((flags & ~(SL_MSG_F_REQUEST | SL_MSG_F_REPLY)) != 0 ||
        flags == (SL_MSG_F_REQUEST | SL_MSG_F_REPLY)) {
        return SL_EPROTO;
    }
    size_t n = data[12];
    if (n >= SL_NAME_MAX) {
        return SL_EPROTO;
    }
    if (SL_ENV_HEADER + n > size) {
        return SL_ETRUNC;
    }
    if (n > 0 && memchr(data + SL_ENV_HEADER, '\0', n)) {
        return SL_EPROTO;
    }
    msg->version = data[0];
    msg->flags = flags;
    msg->type = (uint16_t)(data[2] | (data[3] << 8));
    uint64_t corr = 0;
    for (int i = 7; i >= 0; i--) {
        corr = (corr << 8) | data[4 + i];
    }
    msg->corr = corr;
    memcpy(msg->from, data + SL_ENV_HEADER, n);
    msg->from[n] = '\0';
    msg->body_len = size - SL_ENV_HEADER - n;
    msg->body = msg->body_len ? data + SL_ENV_HEADER + n : NULL;
    return 0;
}

static void s_env_write(uint8_t *out, uint8_t flags, uint16_t type, uint64_t corr, const char *from,
                        size_t from_len, const void *body, size_t len)
{
    out[0] = SL_ENVELOPE_VERSION;
    out[1] = flags;
    out[2] = (uint8_t)(type & 0xff);
    out[3] = (uint8_t)(type >> 8);
    for (int i = 0; i < 8; i++) {
        out[4 + i] = (uint8_t)(corr >> (8 * i));
    }
    out[12] = (uint8_t)from_len;
    memcpy(out + SL_ENV_HEADER, from, from_len);
    if (len) {
        memcpy(out + SL_ENV_HEADER + from_len, body, len);
    }
}

/* ---- send cache -------------------------------------------------------- */

void sl_sendcache_init(sl_sendcache_t *self, sl_rt_t *rt, const char *from)
{
    memset(self, 0, sizeof(*self));
    self->rt = rt;
    snprintf(self->from, sizeof(self->from), "%s", from ? from : "");
    self->from_len = strlen(self->from);
}

static void s_conn_close(sl_conn_t *conn)
{
    if (conn->push) {
        int zero = 0;
        zmq_setsockopt(conn->push, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(conn->push);
    }
    sl_entry_unref(&conn->entry);
    free(conn);
}

void sl_sendcache_fini(sl_sendcache_t *self)
{
    void *c;
    for (size_t pos = 0; sl_map_next(&self->conns, &pos, &c);) {
        s_conn_close(c);
    }
    sl_map_fini(&self->conns);
    self->last = NULL;
}

static void s_cache_remove(sl_sendcache_t *self, sl_conn_t *conn)
{
    if (sl_map_get_str(&self->conns, conn->name) == conn) {
        sl_map_take_str(&self->conns, conn->name);
    }
    if (self->last == conn) {
        self->last = NULL;
    }
    s_conn_close(conn);
}

/* A live connection to `to`, reconnecting when the cached one points at a
   dead or replaced entry. */
static int s_cache_conn(sl_sendcache_t *self, const char *to, sl_conn_t **out)
{
    sl_conn_t *conn = self->last;
    if (!conn || strcmp(conn->name, to) != 0) {
        conn = sl_map_get_str(&self->conns, to);
    }
    if (conn && !atomic_load_explicit(&conn->entry->alive, memory_order_acquire)) {
        s_cache_remove(self, conn);
        conn = NULL;
    }
    if (conn) {
        self->last = conn;
        *out = conn;
        return 0;
    }

    if (strlen(to) >= SL_NAME_MAX) {
        return SL_EINVAL;
    }
    sl_entry_t *entry = sl_registry_get(self->rt, to);
    if (!entry) {
        return SL_ENOTFOUND;
    }
    conn = calloc(1, sizeof(*conn));
    if (!conn) {
        sl_entry_unref(&entry);
        return SL_ENOMEM;
    }
    snprintf(conn->name, sizeof(conn->name), "%s", to);
    conn->entry = entry;
    conn->push = zmq_socket(self->rt->ctx, ZMQ_PUSH);
    if (!conn->push) {
        int rc = sl_zmq_err(errno);
        s_conn_close(conn);
        return rc;
    }
    /* The mailbox limit is enforced with the entry's depth counter across
       all senders, so the pipe itself is unbounded (0 + 0 for inproc). */
    int zero = 0;
    zmq_setsockopt(conn->push, ZMQ_SNDHWM, &zero, sizeof(zero));
    zmq_setsockopt(conn->push, ZMQ_LINGER, &zero, sizeof(zero));
    char endpoint[SL_NAME_MAX + 16];
    snprintf(endpoint, sizeof(endpoint), "inproc://sl.%s", to);
    if (zmq_connect(conn->push, endpoint) != 0) {
        int rc = sl_zmq_err(errno);
        s_conn_close(conn);
        return rc;
    }
    if (sl_map_put_str(&self->conns, conn->name, conn) != 0) {
        s_conn_close(conn);
        return SL_ENOMEM;
    }
    self->last = conn;
    *out = conn;
    return 0;
}

int sl_sendcache_send(sl_sendcache_t *self, const char *to, uint16_t type, uint8_t flags,
                      uint64_t corr, const void *body, size_t len)
{
    if (!to || (len && !body)) {
        return SL_EINVAL;
    }
    sl_conn_t *conn = NULL;
    int rc = s_cache_conn(self, to, &conn);
    if (rc < 0) {
        return rc;
    }
    sl_entry_t *entry = conn->entry;
    if (entry->hwm && sl_entry_depth(entry) >= entry->hwm) {
        return SL_EFULL;
    }
    /* Counted before the send so the receiver never sees received > enqueued. */
    atomic_fetch_add_explicit(&entry->enqueued, 1, memory_order_relaxed);
    zmq_msg_t frame;
    /* zmq keeps frames up to 33 bytes inline, so small messages cost no malloc. */
    if (zmq_msg_init_size(&frame, SL_ENV_HEADER + self->from_len + len) != 0) {
        atomic_fetch_sub_explicit(&entry->enqueued, 1, memory_order_relaxed);
        return SL_ENOMEM;
    }
    s_env_write(zmq_msg_data(&frame), flags, type, corr, self->from, self->from_len, body, len);
    if (zmq_msg_send(&frame, conn->push, ZMQ_DONTWAIT) < 0) {
        int err = errno;
        zmq_msg_close(&frame);
        atomic_fetch_sub_explicit(&entry->enqueued, 1, memory_order_relaxed);
        return sl_zmq_err(err);
    }
    return 0;
}
