/*  sl_watchdog.h: the watchdog actor, owner of sluice's invariants.

    One actor named `watchdog`. Two independent duties, both driven by
    timers on the runtime clock (so tests use the manual clock):

    - Pipelines. Every scan_interval it asks each shard `pipeline.<i>` for
      its non-terminal pipelines (WD_SCAN request, WD_REPORT reply) and sends
      the shard WD_RECONCILE {pipeline_id, reason} for each one that
        * has no live attempt and no state change for stuck_after
          (reason "stuck: no live work for <N>s"), or
        * is past its stage deadline ("stage_timeout") or pipeline deadline
          ("pipeline_timeout"),
      a safety net beside the shard's own timers. The shard recomputes the
      pipeline from its tasks and finalizes it. A shard is asked again only
      after it answered (or the request expired), so a slow shard is never
      flooded.
    - Liveness. Every ping_interval it pings every actor of the runtime
      (sl_rt_stats) with the runtime's SL_MSG_PING, which each actor's loop
      answers outside its handler, so a wedged handler misses it. A pong later
      than ping_late (or none by then) raises an ALERT to the store
      {kind "actor_late", subject <actor>}. An actor that has not answered for
      hard_limit (wedged, or gone from the runtime and not restarted) makes
      the watchdog call on_fatal once: by default it logs a clear message and
      _exit(70)s, so an outer supervisor restarts the daemon and recovery
      resumes everything. Stop the watchdog before stopping other actors on
      purpose (docs/internals.md start/stop order), or it reads their
      absence as death.

    The watchdog never blocks and never writes the store itself except by
    ALERT messages.
*/
#ifndef SL_WATCHDOG_H
#define SL_WATCHDOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/sl_actor.h"
#include "proto/sl_ids.h"

#define SL_WATCHDOG_EXIT_CODE 70 /* EX_SOFTWARE: what the default on_fatal exits with */

/* Called once, on the watchdog's thread, when an actor passed hard_limit.
   why: one line naming the actor and the time (borrowed for the call). */
typedef void(sl_watchdog_fatal_fn)(const char *why, void *arg);

/* Relaxed atomics, readable from any thread. */
typedef struct {
    _Atomic uint64_t scans;       /* WD_SCAN requests sent */
    _Atomic uint64_t reports;     /* WD_REPORT replies read */
    _Atomic uint64_t reconciles;  /* WD_RECONCILE sent */
    _Atomic uint64_t bad_reports; /* malformed WD_REPORT bodies or entries */
    _Atomic uint64_t pings;       /* pings sent */
    _Atomic uint64_t pongs;       /* pongs received (on time or late) */
    _Atomic uint64_t late;        /* actor_late alerts raised */
    _Atomic uint64_t fatal;       /* on_fatal calls (0 or 1) */
    /* Health, judged at every ping tick and late check: all_alive when
       every actor answered its last ping within ping_late (none wedged,
       none gone); alive_at the runtime-clock time of the last such
       judgement that found all alive (-1: never). A reader also checks
       that alive_at is recent, which catches a wedged watchdog. */
    _Atomic bool all_alive;
    _Atomic int64_t alive_at;
} sl_watchdog_counters_t;

typedef struct {
    /* Defaults in brackets; "cfg" = the [watchdog] key of actors/config. */
    int64_t stuck_after_ms;         /* [cfg] no live work and no change for this long */
    int64_t scan_interval_ms;       /* [0 = stuck_after/4, at least 100] */
    uint32_t shards;                /* [number of online CPUs] pipeline.0 .. pipeline.<shards-1> */
    int64_t ping_interval_ms;       /* [cfg] */
    int64_t ping_late_ms;           /* [cfg] a pong later than this raises actor_late */
    int64_t hard_limit_ms;          /* [cfg] no pong for this long calls on_fatal */
    sl_watchdog_fatal_fn *on_fatal; /* [NULL = log and _exit(70)] */
    void *fatal_arg;
    const char *alert_to;             /* ["store"] mailbox for ALERT messages */
    sl_watchdog_counters_t *counters; /* optional, borrowed: must outlive the actor */
} sl_watchdog_config_t;

/* Any thread: true when c says every actor answered in time at a
   judgement no older than max_age_ms before now_ms (runtime clock). A
   wedged or missing actor makes it false within ping_interval + ping_late;
   a wedged watchdog within max_age_ms. */
bool sl_watchdog_healthy(const sl_watchdog_counters_t *c, int64_t now_ms, int64_t max_age_ms);

/* Fills the defaults above. */
sl_watchdog_config_t sl_watchdog_config_defaults(void);

/* Spawns `watchdog` (returns once it armed its timers). Any thread. 0 and
   *out (caller owns, sl_actor_destroy), SL_EINVAL for a non-positive
   stuck_after, ping_interval, ping_late or hard_limit, SL_EEXIST, SL_ENOMEM. */
int sl_watchdog_spawn(sl_rt_t *rt, const sl_watchdog_config_t *cfg, sl_actor_t **out);

/* Any thread: snapshot of the counters as plain numbers (NULL gives zeros). */
typedef struct {
    uint64_t scans, reports, reconciles, bad_reports, pings, pongs, late, fatal;
} sl_watchdog_stats_t;
void sl_watchdog_counters_read(const sl_watchdog_counters_t *c, sl_watchdog_stats_t *out);

#endif
