/*  sl_actor_int.h: runtime-internal structures shared by sl_mailbox.c,
    sl_actor.c and sl_port.c. Not for use outside runtime/.

    The registry maps a mailbox name to a refcounted entry. An entry is
    created when an actor or port claims a name and is never reused: a
    restarted actor gets a fresh entry, so a sender whose cached entry says
    `alive == false` knows its connection is stale and reconnects. Mailbox
    depth is kept in the entry (enqueued by senders minus received by the
    owner) because senders must read it without touching the owner.
*/
#ifndef SL_ACTOR_INT_H
#define SL_ACTOR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <zmq.h>

#include "runtime/sl_actor.h"
#include "runtime/sl_map.h"

#define SL_ENV_HEADER 13 /* version, flags, type u16, corr u64, name length */
#define SL_MAILBOX_HWM_DEFAULT 1000000

typedef struct sl_entry_t {
    char name[SL_NAME_MAX];
    _Atomic int refs;
    _Atomic bool alive;
    uint64_t hwm;       /* messages; 0 = unlimited */
    sl_actor_t *actor;  /* NULL for ports; valid while registered (lock held) */
    bool is_actor;      /* immutable */
    _Atomic bool ready; /* actors: init returned successfully */
    /* Senders and the owner write these from different threads: keep them
       on separate cache lines. */
    _Alignas(64) _Atomic uint64_t enqueued;
    _Alignas(64) _Atomic uint64_t received;
} sl_entry_t;

struct sl_rt_t {
    void *ctx;
    bool own_ctx;
    sl_clock_t *clock;
    bool own_clock;
    pthread_mutex_t lock; /* registry */
    sl_map_t registry;    /* name -> entry (keys: entry->name) */
    _Atomic bool closing; /* set under sl_list_lock_ */
    int spawning;         /* spawns between admission and listing; under sl_list_lock_ */
    _Atomic int ports;
    sl_actor_t *head; /* actor list, oldest first; guarded by sl_list_lock_ */
    sl_actor_t *tail;
};

/* Guards every runtime's actor list; global so an actor can leave its list
   even after its runtime is gone. */
extern pthread_mutex_t sl_list_lock_;
/* Signalled (with sl_list_lock_) when a runtime's `spawning` drops to 0. */
extern pthread_cond_t sl_list_cond_;

/* ---- registry (sl_mailbox.c) ---- */
int sl_registry_init(sl_rt_t *rt);
void sl_registry_fini(sl_rt_t *rt);
/* Claims a name: a new entry (refs: registry + returned) or SL_EEXIST. */
int sl_registry_claim(sl_rt_t *rt, const char *name, uint64_t hwm, sl_actor_t *actor,
                      sl_entry_t **out);
/* Marks the entry dead and drops the registry's reference. */
void sl_registry_release(sl_rt_t *rt, sl_entry_t *entry);
/* A live entry with a reference for the caller, or NULL. */
sl_entry_t *sl_registry_get(sl_rt_t *rt, const char *name);
void sl_entry_unref(sl_entry_t **p);
uint64_t sl_entry_depth(sl_entry_t *entry);

/* ---- envelope (sl_mailbox.c) ---- */
/* Validates and points msg into data (borrowed). 0 or SL_EPROTO/SL_ETRUNC/
   SL_EVERSION. */
int sl_env_decode(const uint8_t *data, size_t size, sl_msg_t *msg);

/* ---- per-thread send cache (sl_mailbox.c) ---- */
typedef struct sl_conn_t {
    char name[SL_NAME_MAX];
    sl_entry_t *entry; /* reference held */
    void *push;
} sl_conn_t;

typedef struct {
    sl_rt_t *rt;
    char from[SL_NAME_MAX];
    size_t from_len;
    sl_map_t conns;  /* name -> connection (keys: conn->name) */
    sl_conn_t *last; /* most recent destination: skips the hash */
} sl_sendcache_t;

void sl_sendcache_init(sl_sendcache_t *self, sl_rt_t *rt, const char *from);
/* Closes every socket (linger 0) and drops references. */
void sl_sendcache_fini(sl_sendcache_t *self);
int sl_sendcache_send(sl_sendcache_t *self, const char *to, uint16_t type, uint8_t flags,
                      uint64_t corr, const void *body, size_t len);

/* zmq errno -> SL_E* */
int sl_zmq_err(int err);

#endif
