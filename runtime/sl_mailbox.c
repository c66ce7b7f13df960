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
#include "runtime/sl_hash.h"
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
    rt->n_buckets = 256;
    rt->n_entries = 0;
    rt->buckets = calloc(rt->n_buckets, sizeof(*rt->buckets));
    return rt->buckets ? 0 : SL_ENOMEM;
}

void sl_registry_fini(sl_rt_t *rt)
{
    for (size_t i = 0; rt->buckets && i < rt->n_buckets; i++) {
        sl_entry_t *e = rt->buckets[i];
        while (e) {
            sl_entry_t *next = e->next;
            atomic_store(&e->alive, false);
            sl_entry_unref(&e);
            e = next;
        }
    }
    free(rt->buckets);
    rt->buckets = NULL;
}

/* Lock held. Doubles the table when it gets crowded (1,000s of actors). */
static void s_registry_grow(sl_rt_t *rt)
{
    size_t nb = rt->n_buckets * 2;
    sl_entry_t **nbk = calloc(nb, sizeof(*nbk));
    if (!nbk) {
        return; /* longer chains, still correct */
    }
    for (size_t i = 0; i < rt->n_buckets; i++) {
        sl_entry_t *e = rt->buckets[i];
        while (e) {
            sl_entry_t *next = e->next;
            size_t b = sl_hash_str(e->name) & (nb - 1);
            e->next = nbk[b];
            nbk[b] = e;
            e = next;
        }
    }
    free(rt->buckets);
    rt->buckets = nbk;
    rt->n_buckets = nb;
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
    size_t b = sl_hash_str(name) & (rt->n_buckets - 1);
    for (sl_entry_t *e = rt->buckets[b]; e; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            pthread_mutex_unlock(&rt->lock);
            free(entry);
            return SL_EEXIST;
        }
    }
    entry->next = rt->buckets[b];
    rt->buckets[b] = entry;
    rt->n_entries++;
    if (rt->n_entries > rt->n_buckets * 2) {
        s_registry_grow(rt);
    }
    pthread_mutex_unlock(&rt->lock);
    *out = entry;
    return 0;
}

void sl_registry_release(sl_rt_t *rt, sl_entry_t *entry)
{
    pthread_mutex_lock(&rt->lock);
    size_t b = sl_hash_str(entry->name) & (rt->n_buckets - 1);
    sl_entry_t **pp = &rt->buckets[b];
    while (*pp && *pp != entry) {
        pp = &(*pp)->next;
    }
    bool found = *pp != NULL;
    if (found) {
        *pp = entry->next;
        entry->next = NULL;
        rt->n_entries--;
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
    sl_entry_t *found = NULL;
    pthread_mutex_lock(&rt->lock);
    size_t b = sl_hash_str(name) & (rt->n_buckets - 1);
    for (sl_entry_t *e = rt->buckets[b]; e; e = e->next) {
        if (strcmp(e->name, name) == 0 && atomic_load(&e->alive)) {
            atomic_fetch_add(&e->refs, 1);
            found = e;
            break;
        }
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
    for (size_t i = 0; self->buckets && i < self->n_buckets; i++) {
        sl_conn_t *c = self->buckets[i];
        while (c) {
            sl_conn_t *next = c->next;
            s_conn_close(c);
            c = next;
        }
    }
    free(self->buckets);
    self->buckets = NULL;
    self->n_buckets = 0;
    self->count = 0;
    self->last = NULL;
}

static void s_cache_remove(sl_sendcache_t *self, sl_conn_t *conn)
{
    size_t b = sl_hash_str(conn->name) & (self->n_buckets - 1);
    sl_conn_t **pp = &self->buckets[b];
    while (*pp && *pp != conn) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = conn->next;
        self->count--;
    }
    if (self->last == conn) {
        self->last = NULL;
    }
    s_conn_close(conn);
}

static int s_cache_grow(sl_sendcache_t *self)
{
    size_t nb = self->n_buckets ? self->n_buckets * 2 : 16;
    sl_conn_t **nbk = calloc(nb, sizeof(*nbk));
    if (!nbk) {
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < self->n_buckets; i++) {
        sl_conn_t *c = self->buckets[i];
        while (c) {
            sl_conn_t *next = c->next;
            size_t b = sl_hash_str(c->name) & (nb - 1);
            c->next = nbk[b];
            nbk[b] = c;
            c = next;
        }
    }
    free(self->buckets);
    self->buckets = nbk;
    self->n_buckets = nb;
    return 0;
}

/* A live connection to `to`, reconnecting when the cached one points at a
   dead or replaced entry. */
static int s_cache_conn(sl_sendcache_t *self, const char *to, sl_conn_t **out)
{
    sl_conn_t *conn = self->last;
    if (!conn || strcmp(conn->name, to) != 0) {
        conn = NULL;
        if (self->n_buckets) {
            size_t b = sl_hash_str(to) & (self->n_buckets - 1);
            for (sl_conn_t *c = self->buckets[b]; c; c = c->next) {
                if (strcmp(c->name, to) == 0) {
                    conn = c;
                    break;
                }
            }
        }
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
    if ((self->count + 1) > self->n_buckets * 2 && s_cache_grow(self) < 0) {
        sl_entry_unref(&entry);
        return SL_ENOMEM;
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
    size_t b = sl_hash_str(to) & (self->n_buckets - 1);
    conn->next = self->buckets[b];
    self->buckets[b] = conn;
    self->count++;
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
