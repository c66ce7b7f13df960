/*  sl_actor.c: the runtime, actor threads and their event loop.

    The host thread creates the runtime; each actor is one thread that owns
    its mailbox (a PULL socket), its send cache, its timer heap, its pending
    requests and its watches: only that thread touches them. Other threads
    reach an actor through two channels only: messages, and the control
    block (atomic flags plus an eventfd) used for stop and manual-clock ticks,
    so stop never depends on a socket that may be full.

    Design notes
    - Spawn claims the name first (SL_EEXIST without starting a thread), then
      starts the thread and waits on a condition variable until init ran.
    - One loop iteration: zmq_poll over mailbox, eventfd, watched sockets and
      fds; then drain every waiting message; then run due timers; then fire
      fd/socket callbacks. Timers armed with delay 0 during the drain fire in
      the same iteration, after the drain (group commit relies on it).
    - On exit the actor leaves the registry and unbinds its mailbox before it
      tells its parent, so the parent may spawn the same name again at once.
    - Actor structs are refcounted: the owner and sl_rt_destroy may both stop
      and join an actor; the join itself happens once under join_lock.
*/
#define _GNU_SOURCE
#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sl_actor_int.h"
#include "runtime/sl_log.h"
#include "runtime/sl_map.h"

#define S_RECEIVED_BATCH 256 /* publish the received counter this often */
/* A drain stops after this many messages so a flooded actor still runs its
   timers and fd callbacks; the rest is read in the next iteration. */
#define S_DRAIN_MAX 65536

typedef struct {
    bool is_socket;
    bool active;
    int fd;
    void *zsock;
    short events;
    sl_fd_fn *fd_fn;
    sl_socket_fn *sock_fn;
    void *arg;
} s_watch_t;

typedef struct {
    sl_actor_t *actor;
    uint64_t corr;
    uint64_t timer_id;
    sl_reply_fn *fn;
    void *arg;
} s_pending_t;

struct sl_actor_t {
    sl_rt_t *rt;
    char name[SL_NAME_MAX];
    char parent[SL_NAME_MAX];
    sl_actor_init_fn *init;
    sl_actor_handle_fn *handle;
    sl_actor_fini_fn *fini;
    void *args;
    uint64_t hwm;
    void *state;
    sl_entry_t *entry; /* our own registry entry (reference held) */
    int efd;

    pthread_t thread;
    pthread_mutex_t join_lock;
    bool joined;
    _Atomic int refs;

    pthread_mutex_t ready_lock;
    pthread_cond_t ready_cond;
    int ready; /* 0 waiting, 1 running, -1 init failed */
    int init_rc;

    _Atomic bool stop;
    _Atomic bool running;
    _Atomic int exit_reason;

    sl_actor_t *prev, *next; /* runtime list, under sl_list_lock_ */
    bool in_list;

    /* Owned by the actor's thread. */
    void *mailbox;
    sl_sendcache_t cache;
    sl_timers_t *timers;
    sl_map_t pending;
    uint64_t next_corr;
    s_watch_t *watches;
    size_t n_watches;
    size_t cap_watches;
    zmq_pollitem_t *items;
    size_t *item_watch;
    size_t cap_items;
    int fatal; /* < 0 once a handler or callback failed */

    _Atomic uint64_t msgs_in;
    _Atomic uint64_t msgs_out;
    _Atomic uint64_t handler_ns;
    _Atomic uint64_t late_replies;
    _Atomic uint64_t timers_pending;
    _Atomic uint64_t malformed;
};

/* ---- runtime ------------------------------------------------------------ */

sl_rt_t *sl_rt_new(void *zmq_ctx, sl_clock_t *clock)
{
    sl_rt_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    atomic_init(&self->closing, false);
    atomic_init(&self->ports, 0);
    if (sl_registry_init(self) < 0) {
        goto fail;
    }
    self->clock = clock;
    if (!self->clock) {
        self->clock = sl_clock_new_system();
        self->own_clock = true;
        if (!self->clock) {
            goto fail;
        }
    }
    self->ctx = zmq_ctx;
    if (!self->ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
        if (!self->ctx) {
            goto fail;
        }
        /* Actors and ports may easily exceed zmq's default 1,023 sockets. */
        zmq_ctx_set(self->ctx, ZMQ_MAX_SOCKETS, 65536);
    }
    return self;
fail:
    if (self->own_clock) {
        sl_clock_destroy(&self->clock);
    }
    sl_registry_fini(self);
    pthread_mutex_destroy(&self->lock);
    free(self);
    return NULL;
}

static void s_actor_unref(sl_actor_t **p);
static void s_actor_join(sl_actor_t *self);

void sl_rt_destroy(sl_rt_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_rt_t *self = *p;
    /* Refuse new spawns, then let spawns already admitted finish and list
       themselves, so that no actor escapes the stop loop below. */
    pthread_mutex_lock(&sl_list_lock_);
    atomic_store(&self->closing, true);
    while (self->spawning > 0) {
        pthread_cond_wait(&sl_list_cond_, &sl_list_lock_);
    }
    pthread_mutex_unlock(&sl_list_lock_);
    /* Newest first: later actors tend to depend on earlier ones (a
       parent is listed after the children it spawned in init). */
    for (;;) {
        pthread_mutex_lock(&sl_list_lock_);
        sl_actor_t *a = self->tail;
        if (a) {
            self->tail = a->prev;
            if (self->tail) {
                self->tail->next = NULL;
            } else {
                self->head = NULL;
            }
            a->prev = a->next = NULL;
            a->in_list = false;
            atomic_fetch_add(&a->refs, 1);
        }
        pthread_mutex_unlock(&sl_list_lock_);
        if (!a) {
            break;
        }
        sl_actor_stop(a);
        s_actor_join(a);
        s_actor_unref(&a);
    }
    int ports = atomic_load(&self->ports);
    sl_registry_fini(self);
    if (ports > 0) {
        /* zmq_ctx_term would wait forever for the ports' sockets: leak the
           context instead of hanging the host. */
        sl_error("runtime destroyed with %d port(s) still open; context left open", ports);
    } else if (self->own_ctx) {
        zmq_ctx_term(self->ctx);
    }
    if (self->own_clock) {
        sl_clock_destroy(&self->clock);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *p = NULL;
}

void *sl_rt_zmq_ctx(sl_rt_t *self)
{
    return self ? self->ctx : NULL;
}

sl_clock_t *sl_rt_clock(sl_rt_t *self)
{
    return self ? self->clock : NULL;
}

static void s_wake(sl_actor_t *a)
{
    uint64_t one = 1;
    ssize_t w = write(a->efd, &one, sizeof(one));
    (void)w; /* EAGAIN means the counter is already non-zero: awake anyway */
}

int sl_rt_advance(sl_rt_t *self, int64_t ms)
{
    if (!self) {
        return SL_EINVAL;
    }
    int rc = sl_clock_advance(self->clock, ms);
    if (rc < 0) {
        return rc;
    }
    pthread_mutex_lock(&sl_list_lock_);
    for (sl_actor_t *a = self->head; a; a = a->next) {
        s_wake(a);
    }
    pthread_mutex_unlock(&sl_list_lock_);
    return 0;
}

bool sl_rt_has(sl_rt_t *self, const char *name)
{
    if (!self || !name) {
        return false;
    }
    sl_entry_t *e = sl_registry_get(self, name);
    bool has = e && e->is_actor && atomic_load(&e->ready);
    sl_entry_unref(&e);
    return has;
}

/* ---- messages ----------------------------------------------------------- */

void sl_msg_destroy(sl_msg_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_msg_t *msg = *p;
    if (msg->priv_) {
        zmq_msg_close((zmq_msg_t *)msg->priv_);
    }
    /* Owned messages are allocated as one block: sl_msg_t then the frame. */
    free(msg);
    *p = NULL;
}

/* ---- actor lifecycle ---------------------------------------------------- */

static void s_actor_unref(sl_actor_t **p)
{
    sl_actor_t *self = *p;
    *p = NULL;
    if (atomic_fetch_sub(&self->refs, 1) != 1) {
        return;
    }
    if (self->efd >= 0) {
        close(self->efd);
    }
    sl_entry_unref(&self->entry);
    pthread_mutex_destroy(&self->join_lock);
    pthread_mutex_destroy(&self->ready_lock);
    pthread_cond_destroy(&self->ready_cond);
    free(self);
}

static void s_actor_join(sl_actor_t *self)
{
    pthread_mutex_lock(&self->join_lock);
    if (!self->joined) {
        pthread_join(self->thread, NULL);
        self->joined = true;
    }
    pthread_mutex_unlock(&self->join_lock);
}

static void s_signal_ready(sl_actor_t *self, int state, int rc)
{
    pthread_mutex_lock(&self->ready_lock);
    self->ready = state;
    self->init_rc = rc;
    pthread_cond_signal(&self->ready_cond);
    pthread_mutex_unlock(&self->ready_lock);
}

static void s_close_socket(void **sock)
{
    if (*sock) {
        int zero = 0;
        zmq_setsockopt(*sock, ZMQ_LINGER, &zero, sizeof(zero));
        zmq_close(*sock);
        *sock = NULL;
    }
}

static void s_mailbox_close(sl_actor_t *self)
{
    if (self->mailbox) {
        char endpoint[SL_NAME_MAX + 16];
        snprintf(endpoint, sizeof(endpoint), "inproc://sl.%s", self->name);
        /* Unbinding is synchronous for inproc, so the name can be bound
           again (a restart) as soon as this returns. */
        zmq_unbind(self->mailbox, endpoint);
        s_close_socket(&self->mailbox);
    }
}

static int s_mailbox_open(sl_actor_t *self)
{
    self->mailbox = zmq_socket(self->rt->ctx, ZMQ_PULL);
    if (!self->mailbox) {
        return sl_zmq_err(errno);
    }
    int zero = 0;
    zmq_setsockopt(self->mailbox, ZMQ_RCVHWM, &zero, sizeof(zero));
    zmq_setsockopt(self->mailbox, ZMQ_LINGER, &zero, sizeof(zero));
    char endpoint[SL_NAME_MAX + 16];
    snprintf(endpoint, sizeof(endpoint), "inproc://sl.%s", self->name);
    if (zmq_bind(self->mailbox, endpoint) != 0) {
        int rc = sl_zmq_err(errno);
        s_close_socket(&self->mailbox);
        return rc;
    }
    return 0;
}

/* Tells the parent mailbox that we exited: {name: str, reason: int}. */
static void s_notify_parent(sl_actor_t *self, int reason)
{
    if (!self->parent[0]) {
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    size_t n = strlen(self->name);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "name", 4);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, self->name, n);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "reason", 6);
    msgpack_pack_int(&pk, reason);
    int rc = sl_sendcache_send(&self->cache, self->parent, SL_MSG_ACTOR_EXIT, 0, 0, sbuf.data,
                               sbuf.size);
    if (rc < 0) {
        sl_debug("could not tell parent %s of exit: %s", self->parent, sl_err_name(rc));
    }
    msgpack_sbuffer_destroy(&sbuf);
}

static void s_fail_pending(sl_actor_t *self)
{
    /* One sweep: backward-shift deletion only moves entries into the hole at
       i or behind it, so re-examine i after each take. New requests made by
       the callbacks fail at once (stop is set) and add nothing. */
    for (size_t i = 0; i < self->pending.cap;) {
        if (!self->pending.keys[i]) {
            i++;
            continue;
        }
        s_pending_t *pr = sl_map_take(&self->pending, self->pending.keys[i]);
        sl_timers_cancel(self->timers, pr->timer_id);
        pr->fn(self, pr->arg, SL_ECLOSED, NULL);
        free(pr);
    }
}

static int64_t s_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void s_handle_frame(sl_actor_t *self, zmq_msg_t *frame);
static int s_loop(sl_actor_t *self);

static void *s_actor_main(void *arg)
{
    sl_actor_t *self = arg;
    sl_log_set_thread_label(self->name);
    sl_sendcache_init(&self->cache, self->rt, self->name);
    sl_map_init(&self->pending);
    self->timers = sl_timers_new();
    int rc = self->timers ? s_mailbox_open(self) : SL_ENOMEM;
    if (rc == 0) {
        self->state = self->args;
        if (self->init) {
            rc = self->init(self, self->args, &self->state);
        }
    }
    if (rc < 0) {
        /* The actor never existed: requests init made are dropped without
           their callbacks, whose args likely point into state that init's
           error path already freed. */
        for (size_t i = 0; i < self->pending.cap; i++) {
            if (self->pending.keys[i]) {
                free(self->pending.vals[i]);
            }
        }
        s_mailbox_close(self);
        sl_registry_release(self->rt, self->entry);
        sl_sendcache_fini(&self->cache);
        sl_timers_destroy(&self->timers);
        sl_map_fini(&self->pending);
        atomic_store(&self->exit_reason, rc);
        s_signal_ready(self, -1, rc);
        return NULL;
    }
    atomic_store(&self->running, true);
    atomic_store(&self->entry->ready, true);
    s_signal_ready(self, 1, 0);

    int reason = s_loop(self);

    atomic_store(&self->exit_reason, reason);
    /* Unbind before the name is released, so whoever claims it next can
       bind at once (a restart never sees EADDRINUSE). */
    s_mailbox_close(self);
    sl_registry_release(self->rt, self->entry);
    atomic_store(&self->stop, true);
    s_fail_pending(self);
    if (self->fini) {
        self->fini(self, self->state);
    }
    atomic_store(&self->running, false);
    if (reason < 0) {
        sl_warn("actor %s exits: %s", self->name, sl_err_name(reason));
    }
    s_notify_parent(self, reason);
    sl_sendcache_fini(&self->cache);
    atomic_store(&self->timers_pending, 0);
    sl_timers_destroy(&self->timers);
    sl_map_fini(&self->pending);
    free(self->watches);
    free(self->items);
    free(self->item_watch);
    self->watches = NULL;
    self->items = NULL;
    self->item_watch = NULL;
    return NULL;
}

static int s_spawn(sl_rt_t *rt, const sl_actor_spec_t *spec, sl_actor_t **out);

int sl_actor_spawn(sl_rt_t *rt, const sl_actor_spec_t *spec, sl_actor_t **out)
{
    if (!rt || !spec || !out || !spec->name || !spec->handle || !spec->name[0] ||
        strlen(spec->name) >= SL_NAME_MAX || spec->mailbox_hwm < 0 ||
        (spec->parent && strlen(spec->parent) >= SL_NAME_MAX)) {
        return SL_EINVAL;
    }
    pthread_mutex_lock(&sl_list_lock_);
    if (atomic_load(&rt->closing)) {
        pthread_mutex_unlock(&sl_list_lock_);
        return SL_ECLOSED;
    }
    rt->spawning++;
    pthread_mutex_unlock(&sl_list_lock_);
    int rc = s_spawn(rt, spec, out);
    pthread_mutex_lock(&sl_list_lock_);
    if (--rt->spawning == 0) {
        pthread_cond_broadcast(&sl_list_cond_);
    }
    pthread_mutex_unlock(&sl_list_lock_);
    return rc;
}

/* Admitted by sl_actor_spawn: rt_destroy waits for this to return. */
static int s_spawn(sl_rt_t *rt, const sl_actor_spec_t *spec, sl_actor_t **out)
{
    sl_actor_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return SL_ENOMEM;
    }
    self->rt = rt;
    self->efd = -1;
    snprintf(self->name, sizeof(self->name), "%s", spec->name);
    snprintf(self->parent, sizeof(self->parent), "%s", spec->parent ? spec->parent : "");
    self->init = spec->init;
    self->handle = spec->handle;
    self->fini = spec->fini;
    self->args = spec->args;
    self->hwm = spec->mailbox_hwm > 0 ? (uint64_t)spec->mailbox_hwm : SL_MAILBOX_HWM_DEFAULT;
    self->next_corr = 1;
    atomic_init(&self->refs, 1);
    atomic_init(&self->stop, false);
    atomic_init(&self->running, false);
    atomic_init(&self->exit_reason, 0);
    pthread_mutex_init(&self->join_lock, NULL);
    pthread_mutex_init(&self->ready_lock, NULL);
    pthread_cond_init(&self->ready_cond, NULL);
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) {
        self->joined = true; /* no thread to join */
        s_actor_unref(&self);
        return SL_EIO;
    }
    int rc = sl_registry_claim(rt, self->name, self->hwm, self, &self->entry);
    if (rc < 0) {
        self->joined = true;
        s_actor_unref(&self);
        return rc;
    }
    if (pthread_create(&self->thread, NULL, s_actor_main, self) != 0) {
        sl_registry_release(rt, self->entry);
        self->joined = true;
        s_actor_unref(&self);
        return SL_ENOMEM;
    }
    pthread_mutex_lock(&self->ready_lock);
    while (self->ready == 0) {
        pthread_cond_wait(&self->ready_cond, &self->ready_lock);
    }
    int ready = self->ready;
    rc = self->init_rc;
    pthread_mutex_unlock(&self->ready_lock);
    if (ready < 0) {
        s_actor_join(self);
        s_actor_unref(&self);
        return rc < 0 ? rc : SL_EFATAL;
    }
    pthread_mutex_lock(&sl_list_lock_);
    self->prev = rt->tail;
    self->next = NULL;
    if (rt->tail) {
        rt->tail->next = self;
    } else {
        rt->head = self;
    }
    rt->tail = self;
    self->in_list = true;
    pthread_mutex_unlock(&sl_list_lock_);
    *out = self;
    return 0;
}

void sl_actor_stop(sl_actor_t *self)
{
    if (!self) {
        return;
    }
    atomic_store(&self->stop, true);
    s_wake(self);
}

void sl_actor_destroy(sl_actor_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_actor_t *self = *p;
    *p = NULL;
    if (pthread_equal(pthread_self(), self->thread) && !self->joined) {
        /* A programmer error: joining ourselves would deadlock. */
        sl_error("actor %s tried to destroy itself; stopping instead", self->name);
        sl_actor_stop(self);
        return;
    }
    pthread_mutex_lock(&sl_list_lock_);
    if (self->in_list) {
        sl_rt_t *rt = self->rt;
        if (self->prev) {
            self->prev->next = self->next;
        } else {
            rt->head = self->next;
        }
        if (self->next) {
            self->next->prev = self->prev;
        } else {
            rt->tail = self->prev;
        }
        self->prev = self->next = NULL;
        self->in_list = false;
    }
    pthread_mutex_unlock(&sl_list_lock_);
    sl_actor_stop(self);
    s_actor_join(self);
    s_actor_unref(&self);
}

const char *sl_actor_name(sl_actor_t *self)
{
    return self ? self->name : "";
}

bool sl_actor_running(sl_actor_t *self)
{
    return self && atomic_load(&self->running);
}

int sl_actor_exit_reason(sl_actor_t *self)
{
    return self ? atomic_load(&self->exit_reason) : SL_EINVAL;
}

sl_rt_t *sl_actor_rt(sl_actor_t *self)
{
    return self->rt;
}

int64_t sl_actor_now(sl_actor_t *self)
{
    return sl_clock_now(self->rt->clock);
}

/* ---- messaging ---------------------------------------------------------- */

static int s_send(sl_actor_t *self, const char *to, uint16_t type, uint8_t flags, uint64_t corr,
                  const void *body, size_t len)
{
    int rc = sl_sendcache_send(&self->cache, to, type, flags, corr, body, len);
    if (rc == 0) {
        atomic_fetch_add_explicit(&self->msgs_out, 1, memory_order_relaxed);
    }
    return rc;
}

int sl_actor_send(sl_actor_t *self, const char *to, uint16_t type, const void *body, size_t len)
{
    if (!self || !to) {
        return SL_EINVAL;
    }
    return s_send(self, to, type, 0, 0, body, len);
}

static void s_request_expired(void *arg, uint64_t timer_id)
{
    s_pending_t *pr = arg;
    sl_actor_t *self = pr->actor;
    sl_map_take(&self->pending, pr->corr);
    pr->fn(self, pr->arg, SL_ETIMEOUT, NULL);
    free(pr);
}

int sl_actor_request(sl_actor_t *self, const char *to, uint16_t type, const void *body, size_t len,
                     int64_t timeout_ms, sl_reply_fn *fn, void *arg)
{
    if (!self || !to || !fn || timeout_ms < 0) {
        return SL_EINVAL;
    }
    if (atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        return SL_ECLOSED;
    }
    s_pending_t *pr = calloc(1, sizeof(*pr));
    if (!pr) {
        return SL_ENOMEM;
    }
    pr->actor = self;
    pr->corr = self->next_corr++;
    pr->fn = fn;
    pr->arg = arg;
    if (sl_map_put(&self->pending, pr->corr, pr) < 0) {
        free(pr);
        return SL_ENOMEM;
    }
    pr->timer_id =
        sl_timers_add(self->timers, sl_actor_now(self) + timeout_ms, 0, s_request_expired, pr);
    if (pr->timer_id == 0) {
        sl_map_take(&self->pending, pr->corr);
        free(pr);
        return SL_ENOMEM;
    }
    atomic_store_explicit(&self->timers_pending, sl_timers_count(self->timers),
                          memory_order_relaxed);
    int rc = s_send(self, to, type, SL_MSG_F_REQUEST, pr->corr, body, len);
    if (rc < 0) {
        /* A failed call never fires its callback. */
        sl_timers_cancel(self->timers, pr->timer_id);
        sl_map_take(&self->pending, pr->corr);
        free(pr);
    }
    return rc;
}

int sl_actor_reply(sl_actor_t *self, const sl_msg_t *request, uint16_t type, const void *body,
                   size_t len)
{
    if (!self || !request || !(request->flags & SL_MSG_F_REQUEST) || !request->from[0]) {
        return SL_EINVAL;
    }
    return s_send(self, request->from, type, SL_MSG_F_REPLY, request->corr, body, len);
}

/* ---- timers ------------------------------------------------------------- */

uint64_t sl_actor_timer(sl_actor_t *self, int64_t delay_ms, int64_t period_ms, sl_timer_fn *fn,
                        void *arg)
{
    if (!self || !fn || delay_ms < 0) {
        return 0;
    }
    uint64_t id = sl_timers_add(self->timers, sl_actor_now(self) + delay_ms, period_ms, fn, arg);
    atomic_store_explicit(&self->timers_pending, sl_timers_count(self->timers),
                          memory_order_relaxed);
    return id;
}

int sl_actor_timer_cancel(sl_actor_t *self, uint64_t id)
{
    if (!self) {
        return SL_EINVAL;
    }
    int rc = sl_timers_cancel(self->timers, id);
    atomic_store_explicit(&self->timers_pending, sl_timers_count(self->timers),
                          memory_order_relaxed);
    return rc;
}

/* ---- watches ------------------------------------------------------------ */

static s_watch_t *s_watch_find(sl_actor_t *self, bool is_socket, int fd, void *zsock)
{
    for (size_t i = 0; i < self->n_watches; i++) {
        s_watch_t *w = &self->watches[i];
        if (w->active && w->is_socket == is_socket &&
            (is_socket ? w->zsock == zsock : w->fd == fd)) {
            return w;
        }
    }
    return NULL;
}

static int s_watch_add(sl_actor_t *self, s_watch_t watch)
{
    if (s_watch_find(self, watch.is_socket, watch.fd, watch.zsock)) {
        return SL_EEXIST;
    }
    if (self->n_watches == self->cap_watches) {
        size_t ncap = self->cap_watches ? self->cap_watches * 2 : 8;
        s_watch_t *nw = realloc(self->watches, ncap * sizeof(*nw));
        if (!nw) {
            return SL_ENOMEM;
        }
        self->watches = nw;
        self->cap_watches = ncap;
    }
    watch.active = true;
    self->watches[self->n_watches++] = watch;
    return 0;
}

int sl_actor_watch_fd(sl_actor_t *self, int fd, short events, sl_fd_fn *fn, void *arg)
{
    if (!self || fd < 0 || !fn || events == 0) {
        return SL_EINVAL;
    }
    s_watch_t w = {.is_socket = false, .fd = fd, .events = events, .fd_fn = fn, .arg = arg};
    return s_watch_add(self, w);
}

int sl_actor_unwatch_fd(sl_actor_t *self, int fd)
{
    s_watch_t *w = self ? s_watch_find(self, false, fd, NULL) : NULL;
    if (!w) {
        return SL_ENOTFOUND;
    }
    /* Compacted at the top of the next iteration: the poll array of the
       current one may still refer to this slot. */
    w->active = false;
    return 0;
}

int sl_actor_watch_socket(sl_actor_t *self, void *zsock, short events, sl_socket_fn *fn, void *arg)
{
    if (!self || !zsock || !fn || events == 0) {
        return SL_EINVAL;
    }
    s_watch_t w = {
        .is_socket = true, .fd = -1, .zsock = zsock, .events = events, .sock_fn = fn, .arg = arg};
    return s_watch_add(self, w);
}

int sl_actor_unwatch_socket(sl_actor_t *self, void *zsock)
{
    s_watch_t *w = self ? s_watch_find(self, true, -1, zsock) : NULL;
    if (!w) {
        return SL_ENOTFOUND;
    }
    w->active = false;
    return 0;
}

/* ---- the loop ----------------------------------------------------------- */

static void s_dispatch(sl_actor_t *self, const sl_msg_t *msg)
{
    if (msg->flags & SL_MSG_F_REPLY) {
        s_pending_t *pr = sl_map_take(&self->pending, msg->corr);
        if (!pr) {
            atomic_fetch_add_explicit(&self->late_replies, 1, memory_order_relaxed);
            return;
        }
        sl_timers_cancel(self->timers, pr->timer_id);
        pr->fn(self, pr->arg, 0, msg);
        free(pr);
        return;
    }
    if (msg->type == SL_MSG_PING) {
        if ((msg->flags & SL_MSG_F_REQUEST) && msg->from[0]) {
            s_send(self, msg->from, SL_MSG_PONG, SL_MSG_F_REPLY, msg->corr, NULL, 0);
        }
        return;
    }
    if (msg->type < SL_MSG_USER_BASE && msg->type != SL_MSG_ACTOR_EXIT) {
        atomic_fetch_add_explicit(&self->malformed, 1, memory_order_relaxed);
        return;
    }
    int rc = self->handle(self, self->state, msg);
    if (rc < 0) {
        self->fatal = rc;
    }
}

static void s_handle_frame(sl_actor_t *self, zmq_msg_t *frame)
{
    sl_msg_t msg;
    int rc = sl_env_decode(zmq_msg_data(frame), zmq_msg_size(frame), &msg);
    if (rc < 0) {
        atomic_fetch_add_explicit(&self->malformed, 1, memory_order_relaxed);
        sl_debug("dropped a malformed frame of %zu bytes: %s", zmq_msg_size(frame),
                 sl_err_name(rc));
        return;
    }
    msg.priv_ = frame;
    s_dispatch(self, &msg);
}

/* Reads every waiting message. Stops early only for stop or a fatal error. */
static void s_drain(sl_actor_t *self)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    uint64_t got = 0;
    uint64_t unpublished = 0;
    while (!self->fatal && !atomic_load_explicit(&self->stop, memory_order_relaxed) &&
           got < S_DRAIN_MAX) {
        if (zmq_msg_recv(&frame, self->mailbox, ZMQ_DONTWAIT) < 0) {
            break; /* EAGAIN: drained; ETERM: the loop notices on poll */
        }
        got++;
        if (++unpublished == S_RECEIVED_BATCH) {
            atomic_fetch_add_explicit(&self->entry->received, unpublished, memory_order_relaxed);
            unpublished = 0;
        }
        s_handle_frame(self, &frame);
    }
    zmq_msg_close(&frame);
    if (unpublished) {
        atomic_fetch_add_explicit(&self->entry->received, unpublished, memory_order_relaxed);
    }
    if (got) {
        atomic_fetch_add_explicit(&self->msgs_in, got, memory_order_relaxed);
    }
}

static int s_build_items(sl_actor_t *self, size_t *n_out)
{
    /* Drop unwatched entries now that no poll array refers to them. */
    size_t j = 0;
    for (size_t i = 0; i < self->n_watches; i++) {
        if (self->watches[i].active) {
            self->watches[j++] = self->watches[i];
        }
    }
    self->n_watches = j;
    size_t need = 2 + self->n_watches;
    if (need > self->cap_items) {
        zmq_pollitem_t *ni = realloc(self->items, need * sizeof(*ni));
        if (!ni) {
            return SL_ENOMEM;
        }
        self->items = ni;
        size_t *nw = realloc(self->item_watch, need * sizeof(*nw));
        if (!nw) {
            return SL_ENOMEM;
        }
        self->item_watch = nw;
        self->cap_items = need;
    }
    self->items[0] = (zmq_pollitem_t){.socket = self->mailbox, .events = ZMQ_POLLIN};
    self->items[1] = (zmq_pollitem_t){.socket = NULL, .fd = self->efd, .events = ZMQ_POLLIN};
    for (size_t i = 0; i < self->n_watches; i++) {
        s_watch_t *w = &self->watches[i];
        self->items[2 + i] = (zmq_pollitem_t){.socket = w->is_socket ? w->zsock : NULL,
                                              .fd = w->is_socket ? 0 : w->fd,
                                              .events = w->events};
        self->item_watch[2 + i] = i;
    }
    *n_out = need;
    return 0;
}

static long s_poll_timeout(sl_actor_t *self)
{
    int64_t due = sl_timers_next_due(self->timers);
    if (due == INT64_MAX) {
        return -1;
    }
    int64_t now = sl_actor_now(self);
    if (due <= now) {
        return 0;
    }
    if (sl_clock_is_manual(self->rt->clock)) {
        return -1; /* sl_rt_advance wakes us */
    }
    int64_t wait = due - now;
    return wait > 3600000 ? 3600000 : (long)wait;
}

static int s_loop(sl_actor_t *self)
{
    while (!atomic_load(&self->stop) && !self->fatal) {
        size_t n_items = 0;
        int rc = s_build_items(self, &n_items);
        if (rc < 0) {
            return rc;
        }
        long timeout = s_poll_timeout(self);
        rc = zmq_poll(self->items, (int)n_items, timeout);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* ETERM: someone terminated the context under us. */
            return errno == ETERM ? SL_ECLOSED : SL_EZMQ;
        }
        int64_t t0 = s_mono_ns();
        if (self->items[1].revents & ZMQ_POLLIN) {
            uint64_t v;
            ssize_t r = read(self->efd, &v, sizeof(v));
            (void)r;
        }
        if (atomic_load(&self->stop)) {
            break;
        }
        /* Drain even without POLLIN on the first item: the eventfd may have
           woken us while messages also arrived, and recv is cheap. */
        s_drain(self);
        if (!self->fatal && !atomic_load_explicit(&self->stop, memory_order_relaxed)) {
            sl_timers_run(self->timers, sl_actor_now(self));
        }
        for (size_t i = 2; i < n_items && !self->fatal; i++) {
            short rev = self->items[i].revents;
            if (!rev) {
                continue;
            }
            s_watch_t *w = &self->watches[self->item_watch[i]];
            if (!w->active) {
                continue;
            }
            /* Copy out: the callback may add watches (realloc). */
            s_watch_t copy = *w;
            int cb = copy.is_socket ? copy.sock_fn(self, copy.zsock, rev, copy.arg)
                                    : copy.fd_fn(self, copy.fd, rev, copy.arg);
            if (cb < 0) {
                self->fatal = cb;
            }
        }
        atomic_store_explicit(&self->timers_pending, sl_timers_count(self->timers),
                              memory_order_relaxed);
        atomic_fetch_add_explicit(&self->handler_ns, (uint64_t)(s_mono_ns() - t0),
                                  memory_order_relaxed);
    }
    return self->fatal;
}

/* ---- counters ----------------------------------------------------------- */

static void s_fill_stats(sl_actor_t *self, sl_entry_t *entry, sl_actor_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", self->name);
    out->msgs_in = atomic_load_explicit(&self->msgs_in, memory_order_relaxed);
    out->msgs_out = atomic_load_explicit(&self->msgs_out, memory_order_relaxed);
    out->mailbox_depth = entry ? sl_entry_depth(entry) : 0;
    out->handler_ns = atomic_load_explicit(&self->handler_ns, memory_order_relaxed);
    out->late_replies = atomic_load_explicit(&self->late_replies, memory_order_relaxed);
    out->timers = atomic_load_explicit(&self->timers_pending, memory_order_relaxed);
    out->malformed = atomic_load_explicit(&self->malformed, memory_order_relaxed);
    out->running = atomic_load(&self->running);
}

void sl_actor_stats(sl_actor_t *self, sl_actor_stats_t *out)
{
    if (!self || !out) {
        return;
    }
    s_fill_stats(self, self->entry, out);
}

size_t sl_rt_stats(sl_rt_t *self, sl_actor_stats_t *out, size_t max)
{
    if (!self || !out) {
        return 0;
    }
    size_t n = 0;
    /* Under the registry lock a registered actor cannot finish exiting (it
       must take this lock to leave), so its struct stays valid. */
    pthread_mutex_lock(&self->lock);
    void *v;
    for (size_t pos = 0; n < max && sl_map_next(&self->registry, &pos, &v);) {
        sl_entry_t *e = v;
        if (e->actor) {
            s_fill_stats(e->actor, e, &out[n++]);
        }
    }
    pthread_mutex_unlock(&self->lock);
    return n;
}
