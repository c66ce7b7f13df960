/*  sl_store.h: the store actor, sluice's only LMDB writer.

    One actor named `store` owns the data directory through actors/store/sl_db.h.
    Other actors talk to it only with messages (proto/sl_catalog.def):
    STORE_WRITE (ops + events, acknowledged with STORE_ACK after commit when
    sent as a request), STORE_GET -> STORE_VALUE, STORE_SCAN -> STORE_ROWS,
    and ALERT (persisted as an `alert` event). Committed events are sent to
    the publisher (`api`) as EVENT_PUBLISH, in seq order, after the commit.

    Group commit: the runtime hands the handler every waiting message of one
    wake-up and then runs due timers in the same loop iteration
    (runtime/sl_actor.c s_loop: drain, then timers). The store applies each
    STORE_WRITE to one open write transaction as it arrives and arms a 0 ms
    timer; the timer commits the whole group once, then acknowledges every
    request of the group and publishes its events. So N writers waiting at
    once cost one fsync. A read (GET/SCAN) is answered after the drain, once
    the open group is committed, so a sender always reads its own
    acknowledged or fire-and-forget writes, and so does anyone it told about
    them: a write sent before a read (by any actor) is read first.

    Retention: the pipeline module removes finished pipelines (and their
    tasks, attempts, results) with STORE_WRITE delete ops (value nil) under
    its retention setting. The store prunes the `events` db after them:
    every prune_every_ms it deletes the oldest events, in seq order, while
    each one is of a pipeline whose record is gone, or names no pipeline
    and is older than retention_ms, or the db holds more than events_max
    events; the first event that fails all three ends the prune (only a
    prefix goes, so what is kept stays gapless), and the newest event always
    stays. last_seq never goes back.
*/
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actors/store/sl_db.h"
#include "runtime/sl_actor.h"
#include "proto/sl_ids.h"

/* Counters the store updates with relaxed atomics; readable from any
   thread with sl_store_counters_read. */
typedef struct {
    _Atomic uint64_t commits;         /* successful write transactions */
    _Atomic uint64_t failed_commits;  /* groups answered with an error ack */
    _Atomic uint64_t writes;          /* STORE_WRITE and ALERT messages committed */
    _Atomic uint64_t rejected;        /* malformed messages refused */
    _Atomic uint64_t events;          /* events committed */
    _Atomic uint64_t last_seq;        /* last committed event seq */
    _Atomic uint64_t bytes;           /* payload bytes committed */
    _Atomic uint64_t reads;           /* GET and SCAN answered */
    _Atomic uint64_t corrupt;         /* corrupt values found (and quarantined) */
    _Atomic uint64_t publish_dropped; /* EVENT_PUBLISH refused by a full mailbox */
    _Atomic uint64_t events_pruned;   /* events deleted by the prune */
    _Atomic uint64_t first_seq;       /* oldest kept event seq (0: none) */
} sl_store_counters_t;

typedef struct {
    uint64_t commits, failed_commits, writes, rejected, events, last_seq, bytes, reads, corrupt,
        publish_dropped, events_pruned, first_seq;
} sl_store_stats_t;

typedef struct {
    const char *data_dir;   /* [sluice/data_dir], created if missing */
    uint64_t map_size;      /* [store/map_size_mb] LMDB map size in bytes; sparse,
                               grows on disk as used */
    bool nosync;            /* [store/nosync] true: no fsync per commit (a crash may
                               lose the last commits; never for production) */
    const char *publish_to; /* ["api"] mailbox that receives EVENT_PUBLISH; NULL = "api" */
    uint32_t max_group;     /* [4096] requests per commit before committing early */
    uint32_t scan_max_rows; /* [10000] cap on a STORE_SCAN's limit (0 in the request = 1000) */
    int64_t retention_ms;   /* [0 = keep] events naming no pipeline older than this go */
    uint64_t events_max;    /* [0 = no cap] events kept at most (the oldest go first) */
    int64_t prune_every_ms; /* [60000] how often the prune runs; it runs only when
                               retention_ms or events_max is set */
    sl_store_counters_t *counters; /* optional, borrowed: must outlive the actor */
} sl_store_config_t;

/* Fills the defaults above: [section/key] is that configuration key's
   default (actors/config/sl_config.c), [value] a default of the store's own. */
sl_store_config_t sl_store_config_defaults(void);

/* Spawns the actor `store` and returns once it opened the data directory.
   Any thread. Returns 0 and *out (caller owns; sl_actor_destroy commits the
   open group, acknowledges it and closes LMDB), or
     SL_EBUSY     the directory is held by another live process,
     SL_EVERSION  its schema version is not ours,
     SL_ECORRUPT  its meta records are corrupt,
     SL_EEXIST    an actor named `store` exists,
     SL_EIO / SL_ELMDB / SL_ENOMEM / SL_EINVAL.
   After a failure sl_store_last_error() explains it in one line. */
int sl_store_spawn(sl_rt_t *rt, const sl_store_config_t *cfg, sl_actor_t **out);

/* The message of the calling thread's last failed sl_store_spawn ("" if
   none), e.g. "data directory ./sluice-data is held by another sluiced (pid
   4242)". Static thread-local storage. */
const char *sl_store_last_error(void);

/* Any thread: a snapshot of counters (NULL gives zeros). */
void sl_store_counters_read(const sl_store_counters_t *counters, sl_store_stats_t *out);

#endif
