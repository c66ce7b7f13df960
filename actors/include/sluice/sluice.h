/*  sluice.h: the public embedding API.

    A host program (or sluiced itself) runs the whole sluice runtime with
    these calls: the store, one endpoint actor per analyzer service, the
    progress listener, the pipeline shards, the watchdog and the API actor,
    wired as in docs/internals.md. The host may pass its own ZeroMQ context
    and bind the API and PUB sockets on inproc:// endpoints of that context
    (`sluice_set(s, "api/endpoint", "inproc://sluice-api")`), then talk to
    sluice with its own sockets exactly as a remote client would.

        sluice_t *s = sluice_new(host_ctx);
        sluice_set(s, "sluice/data_dir", "/var/lib/sluice");
        sluice_set(s, "api/endpoint", "inproc://sluice-api");
        sluice_set(s, "api/pub", "inproc://sluice-pub");
        if (sluice_start(s) != 0) { fprintf(stderr, "%s\n", sluice_error(s)); }
        ...
        sluice_destroy(&s);   // stops everything, in reverse start order

    Threads: call everything from one host thread. sluice_start returns once
    every actor is ready (pipelines recovered from the data directory);
    sluice_destroy returns once every thread has exited. Configuration keys
    are those of sluiced's config file (README, "Configuration").

    Linking: `pkg-config --cflags --libs sluice` (libsluice.so) or
    `pkg-config --static --cflags --libs sluice` (libsluice.a). The shared
    library exports exactly the functions below (SLUICE_EXPORT); everything
    else in it is hidden.
*/
#ifndef SLUICE_H
#define SLUICE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Marks the public API: visible from libsluice.so, which is built with
   hidden visibility by default. */
#if defined(__GNUC__) || defined(__clang__)
#define SLUICE_EXPORT __attribute__((visibility("default")))
#else
#define SLUICE_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sluice_t sluice_t;

/* zmq_ctx: the host's ZeroMQ context (borrowed; must outlive the sluice_t)
   or NULL for a private one. Starts with the built-in defaults. Caller owns;
   NULL on ENOMEM. */
SLUICE_EXPORT sluice_t *sluice_new(void *zmq_ctx);

/* Loads a config file over the current settings. 0, or a negative code
   with the reason in sluice_error() ("file:line: key: problem"); a bad file
   changes nothing. Before sluice_start only. */
SLUICE_EXPORT int sluice_load_config(sluice_t *self, const char *path);

/* Sets one key, e.g. ("services/static-analyzer/urls", "ws://a:1,ws://b:1"),
   ("api/endpoint", "inproc://x,tcp://127.0.0.1:5570"). Errors as above. */
SLUICE_EXPORT int sluice_set(sluice_t *self, const char *key, const char *value);

/* Applies the fleet's STATIC_ANALYZER_URLS, DYNAMIC_ANALYZER_URLS,
   PERF_TESTER_URLS, AI_ANALYZER_URLS and GENERATOR_URLS variables. */
SLUICE_EXPORT int sluice_apply_env(sluice_t *self);

/* Writes the effective configuration in the config file's format. */
SLUICE_EXPORT int sluice_write_config(sluice_t *self, FILE *out);

/* Called (from the watchdog's thread) when an actor is dead or wedged past
   the hard limit. The default logs and exits the process with code 70 so an
   outer supervisor restarts it; recovery resumes everything. */
typedef void(sluice_fatal_fn)(const char *why, void *arg);
SLUICE_EXPORT void sluice_on_fatal(sluice_t *self, sluice_fatal_fn *fn, void *arg);

/* Starts every actor. 0, or a negative code with the reason in
   sluice_error() (data directory held by another daemon, an API endpoint
   that cannot be bound, ...); on failure nothing is left running. */
SLUICE_EXPORT int sluice_start(sluice_t *self);

/* Graceful stop, step one: closes the API (no new work), tells every
   pipeline shard to start no further attempts (pending tasks and retries
   that come due are held back), and waits up to grace_ms (< 0: the
   configured sluice/shutdown_grace_ms) for the attempts already running at
   the analyzers to end; their results are persisted as usual. Blocks the
   caller; call it once, then sluice_destroy. Returns how many attempts were
   still running when it gave up (0 when all ended). Everything unfinished,
   the held-back tasks and the cut-off attempts, resumes at the next start
   on the same data directory. */
SLUICE_EXPORT int sluice_drain(sluice_t *self, int64_t grace_ms);

/* Reloads the configuration of a running sluice: rebuilds it as at start
   (built-in defaults, the file at path (NULL: none), the sluice_set values
   in the order given, the fleet's *_URLS variables) and applies what can
   change under running work: sluice/log_level, sluice/log_format, every
   service's urls (a removed replica takes no new attempt; those running
   there end as usual) and breaker settings (failure_threshold,
   failure_rate_pct, window, open_for_s, open_max_s, half_open_max_s), and
   the CURVE clients (api/curve_clients_dir is read again). Any other
   changed key is logged at warning level, keeps its running value and is
   named in sluice_error() ("needs a restart: api/endpoint, ..."). Returns
   0 when everything that changed was applied, the number of changed keys
   that need a restart, or a negative code for a bad file (the reason in
   sluice_error() and the log; nothing changed). Blocks up to a few seconds
   for the actors' answers; the host thread, after sluice_start. */
SLUICE_EXPORT int sluice_reload(sluice_t *self, const char *path);

/* True while the watchdog says every actor answers its pings in time (no
   actor wedged or gone) and the watchdog itself is judging (its last
   judgement is no older than two ping intervals plus ping_late). Any
   thread, after sluice_start; false before. For a supervisor's heartbeat
   (sluiced's systemd WATCHDOG=1). */
SLUICE_EXPORT bool sluice_healthy(const sluice_t *self);

/* Writes one log record the way sluice's own are written (text, or a
   JSON line with sluice/log_format = json or under journald), so a host's
   lines mix with sluice's. level: SLUICE_LOG_DEBUG .. SLUICE_LOG_ERROR.
   Any thread. */
#define SLUICE_LOG_DEBUG 0
#define SLUICE_LOG_INFO 1
#define SLUICE_LOG_WARN 2
#define SLUICE_LOG_ERROR 3
SLUICE_EXPORT void sluice_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Stops everything that runs and frees. Accepts NULL; nulls *p. */
SLUICE_EXPORT void sluice_destroy(sluice_t **p);

/* The last error message ("" if none). Borrowed until the next call. */
SLUICE_EXPORT const char *sluice_error(const sluice_t *self);

/* The port the progress listener bound (useful with a configured port 0),
   or -1 when it is off or not started. */
SLUICE_EXPORT int sluice_progress_port(const sluice_t *self);

/* Validates a config file without starting anything (sluiced
   --check-config): 0, or SL_ECONFIG/SL_EIO with "file:line: key: problem"
   in err. */
SLUICE_EXPORT int sluice_check_config(const char *path, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
