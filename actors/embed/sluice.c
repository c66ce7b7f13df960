/*  sluice.c: composes the actors into a running sluice (see sluice.h).

    Start order (docs/internals.md): store, endpoints, progress listener,
    pipeline shards (each recovers its pipelines before it is ready), watchdog,
    api. Stop runs the same list backwards, so nothing receives work from an
    actor that is already gone: the api stops taking requests first, the
    store stops last, after every writer.

    Reload (sluice_reload) rebuilds the configuration as at start (defaults,
    the file, the sluice_set values in order, the environment), compares it
    with the running one key by key (sl_config_diff), and applies what can
    change under running work: the log level and format here, replica URLs
    and breaker settings by ENDPOINT_RECONFIGURE to each endpoint, the CURVE
    clients by API_RELOAD to the api. Every other changed key is named in a
    warning and keeps its running value, so the configuration the daemon
    holds is always the one it runs.
*/
#include <sluice/sluice.h>

#include <stdarg.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/api/sl_api.h"
#include "actors/config/sl_config.h"
#include "actors/endpoint/sl_endpoint.h"
#include "actors/pipeline/sl_pipeline.h"
#include "actors/endpoint/sl_progress.h"
#include "actors/store/sl_store.h"
#include "actors/watchdog/sl_watchdog.h"
#include "proto/sl_catalog.h"
#include "runtime/sl_actor.h"
#include "runtime/sl_log.h"
#include "proto/sl_ids.h"

#define S_MAX_SHARDS 256
#define S_MAX_SETS 64            /* sluice_set values kept for sluice_reload */
#define S_RELOAD_TIMEOUT_MS 5000 /* an actor's answer to a reload request */

struct sluice_t {
    void *host_ctx;
    sl_config_t cfg;
    char error[512];
    sluice_fatal_fn *on_fatal;
    void *on_fatal_arg;
    sl_rt_t *rt;
    sl_actor_t *store;
    sl_actor_t *endpoints[SL_CONFIG_MAX_SERVICES];
    size_t n_endpoints;
    sl_actor_t *progress;
    int progress_port;
    sl_actor_t *shards[S_MAX_SHARDS];
    int n_shards;
    sl_actor_t *watchdog;
    sl_actor_t *api;
    sl_store_counters_t store_counters;
    sl_watchdog_counters_t wd_counters;
    char *sets[S_MAX_SETS][2]; /* sluice_set (key, value) in order, owned */
    size_t n_sets;
};

static int s_fail(sluice_t *self, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(sluice_t *self, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof(self->error), fmt, ap);
    va_end(ap);
    return rc;
}

sluice_t *sluice_new(void *zmq_ctx)
{
    sluice_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    self->host_ctx = zmq_ctx;
    self->progress_port = -1;
    sl_config_defaults(&self->cfg);
    return self;
}

const char *sluice_error(const sluice_t *self)
{
    return self ? self->error : "";
}

int sluice_progress_port(const sluice_t *self)
{
    return self ? self->progress_port : -1;
}

void sluice_on_fatal(sluice_t *self, sluice_fatal_fn *fn, void *arg)
{
    self->on_fatal = fn;
    self->on_fatal_arg = arg;
}

int sluice_load_config(sluice_t *self, const char *path)
{
    if (self->rt) {
        return s_fail(self, SL_ESTATE, "configuration is fixed once started");
    }
    return sl_config_load(&self->cfg, path, self->error, sizeof(self->error));
}

int sluice_check_config(const char *path, char *err, size_t errlen)
{
    sl_config_t *cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        return SL_ENOMEM;
    }
    sl_config_defaults(cfg);
    int rc = sl_config_load(cfg, path, err, errlen);
    free(cfg);
    return rc;
}

/* "a/b" or "services/name/key": written as a one-key ZPL text and loaded
   through the same validation as a file. */
static int s_set_key(sluice_t *self, sl_config_t *cfg, const char *key, const char *value)
{
    if (!key || !value || strchr(value, '"') || strchr(value, '\n') || strchr(key, ' ')) {
        return s_fail(self, SL_EINVAL, "sluice_set: bad key or value");
    }
    char text[1024];
    char part[3][128] = {{0}};
    int n = sscanf(key, "%127[^/]/%127[^/]/%127s", part[0], part[1], part[2]);
    if (n == 2) {
        snprintf(text, sizeof(text), "%s\n    %s = \"%s\"\n", part[0], part[1], value);
    } else if (n == 3) {
        snprintf(text, sizeof(text), "%s\n    %s\n        %s = \"%s\"\n", part[0], part[1], part[2],
                 value);
    } else {
        return s_fail(self, SL_EINVAL, "sluice_set: key '%s' is not section/key", key);
    }
    /* related keys may come one at a time: sluice_start checks them together */
    return sl_config_load_part(cfg, text, "sluice_set", self->error, sizeof(self->error));
}

int sluice_set(sluice_t *self, const char *key, const char *value)
{
    if (self->rt) {
        return s_fail(self, SL_ESTATE, "configuration is fixed once started");
    }
    int rc = s_set_key(self, &self->cfg, key, value);
    if (rc) {
        return rc;
    }
    if (self->n_sets == S_MAX_SETS) {
        return s_fail(self, SL_EFULL, "sluice_set: more than %d keys set", S_MAX_SETS);
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return s_fail(self, SL_ENOMEM, "out of memory");
    }
    self->sets[self->n_sets][0] = k;
    self->sets[self->n_sets][1] = v;
    self->n_sets++;
    return 0;
}

int sluice_apply_env(sluice_t *self)
{
    return sl_config_apply_env(&self->cfg, self->error, sizeof(self->error));
}

int sluice_write_config(sluice_t *self, FILE *out)
{
    return sl_config_write(&self->cfg, out);
}

/* Splits "a,b" into at most max trimmed pieces kept in storage. */
static size_t s_split(char *storage, const char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(storage, ",", &save); tok && n < max;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        if (*tok) {
            out[n++] = tok;
        }
    }
    return n;
}

static void s_default_fatal(const char *why, void *arg)
{
    sl_error("sluice: fatal: %s; exiting so a supervisor can restart and recover", why);
    _exit(70);
}

static int s_start_endpoints(sluice_t *self)
{
    for (size_t i = 0; i < self->cfg.n_services; i++) {
        const sl_service_conf_t *svc = &self->cfg.services[i];
        if (svc->n_urls == 0) {
            continue;
        }
        sl_endpoint_config_t ec;
        if (sl_endpoint_config_from_conf(&ec, svc)) {
            return s_fail(self, SL_ECONFIG, "services/%s/protocol: '%s'", svc->name, svc->protocol);
        }
        const char *urls[SL_CONFIG_MAX_REPLICAS];
        for (size_t u = 0; u < svc->n_urls; u++) {
            urls[u] = svc->urls[u];
        }
        ec.replicas = urls;
        ec.n_replicas = svc->n_urls;
        int rc = sl_endpoint_config_check(&ec);
        if (rc) {
            return s_fail(self, rc, "services/%s: invalid settings (%s)", svc->name,
                          sl_err_msg(rc));
        }
        rc = sl_endpoint_spawn(self->rt, &ec, &self->endpoints[self->n_endpoints]);
        if (rc) {
            return s_fail(self, rc, "cannot start endpoint.%s: %s", svc->name, sl_err_msg(rc));
        }
        self->n_endpoints++;
    }
    return 0;
}

static int s_start_progress(sluice_t *self)
{
    if (self->cfg.progress_listen[0] == '\0') {
        return 0;
    }
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    bool tls = false;
    if (sl_progress_config_listen(&pc, self->cfg.progress_listen, &tls)) {
        return s_fail(self, SL_ECONFIG,
                      "progress/listen: '%s' is not ws://host:port or wss://host:port (a "
                      "secret path goes in progress/path)",
                      self->cfg.progress_listen);
    }
    /* sl_config_check made sure wss:// comes with a cert and a key */
    pc.cert_file = tls ? self->cfg.progress_cert_file : NULL;
    pc.key_file = tls ? self->cfg.progress_key_file : NULL;
    pc.path = self->cfg.progress_path;
    pc.max_frame = (size_t)self->cfg.progress_max_frame_bytes;
    pc.max_conn_per_s = (uint32_t)self->cfg.progress_max_connections_per_s;
    int rc = sl_progress_spawn(self->rt, &pc, &self->progress, &self->progress_port);
    if (rc) {
        return s_fail(self, rc, "cannot listen for analyzer progress on %s: %s",
                      self->cfg.progress_listen, sl_err_msg(rc));
    }
    return 0;
}

static int s_start_shards(sluice_t *self)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    self->n_shards = self->cfg.shards > 0 ? (int)self->cfg.shards : (int)(cores > 0 ? cores : 1);
    if (self->n_shards > S_MAX_SHARDS) {
        self->n_shards = S_MAX_SHARDS;
    }
    sl_pipeline_config_t pc;
    sl_pipeline_config_init(&pc);
    pc.shards = self->n_shards;
    sl_plan_defaults_from_config(&pc.defaults, &self->cfg);
    pc.retention_ms = self->cfg.retention_s * 1000; /* [store] retention_s, 0 = keep */
    pc.evict_after_ms = self->cfg.evict_after_ms;   /* [pipeline] evict_after_s, 0 = keep */
    for (int i = 0; i < self->n_shards; i++) {
        int rc = sl_pipeline_spawn(self->rt, &pc, i, &self->shards[i]);
        if (rc) {
            self->n_shards = i;
            return s_fail(self, rc, "cannot start pipeline.%d: %s", i, sl_err_msg(rc));
        }
    }
    return 0;
}

static void s_watchdog_fatal(const char *why, void *arg)
{
    sluice_t *self = arg;
    (self->on_fatal ? self->on_fatal : s_default_fatal)(why, self->on_fatal_arg);
}

static int s_start_watchdog(sluice_t *self)
{
    sl_watchdog_config_t wc = sl_watchdog_config_defaults();
    wc.shards = (uint32_t)self->n_shards;
    wc.stuck_after_ms = self->cfg.stuck_after_ms;
    wc.scan_interval_ms = self->cfg.stuck_after_ms / 4 < 100 ? 100 : self->cfg.stuck_after_ms / 4;
    wc.ping_interval_ms = self->cfg.ping_interval_ms;
    wc.ping_late_ms = self->cfg.ping_late_ms;
    wc.hard_limit_ms = self->cfg.hard_limit_ms;
    wc.on_fatal = s_watchdog_fatal;
    wc.fatal_arg = self;
    wc.counters = &self->wd_counters;
    int rc = sl_watchdog_spawn(self->rt, &wc, &self->watchdog);
    return rc ? s_fail(self, rc, "cannot start the watchdog: %s", sl_err_msg(rc)) : 0;
}

static int s_start_api(sluice_t *self)
{
    char binds[SL_CONFIG_STR], pubs[SL_CONFIG_STR];
    snprintf(binds, sizeof(binds), "%s", self->cfg.api_endpoint);
    snprintf(pubs, sizeof(pubs), "%s", self->cfg.pub_endpoint);
    sl_api_config_t ac;
    sl_api_config_defaults(&ac);
    ac.n_binds = s_split(binds, ac.binds, SL_API_MAX_BINDS);
    ac.n_pub_binds = s_split(pubs, ac.pub_binds, SL_API_MAX_BINDS);
    ac.max_request_bytes = (size_t)self->cfg.max_request_bytes;
    ac.shards = self->n_shards;
    ac.curve_secret_file = self->cfg.curve_secret_file;
    ac.curve_clients_dir = self->cfg.curve_clients_dir;
    for (size_t i = 0; i < self->cfg.n_services && ac.n_services < SL_API_MAX_SERVICES; i++) {
        if (self->cfg.services[i].n_urls > 0) {
            ac.services[ac.n_services++] = self->cfg.services[i].name;
        }
    }
    int rc = sl_api_spawn(self->rt, &ac, &self->api);
    return rc ? s_fail(self, rc, "cannot open the API on %s / PUB on %s (see the log above)",
                       self->cfg.api_endpoint, self->cfg.pub_endpoint)
              : 0;
}

static void s_stop_all(sluice_t *self)
{
    sl_actor_destroy(&self->api);
    sl_actor_destroy(&self->watchdog);
    for (int i = self->n_shards - 1; i >= 0; i--) {
        sl_actor_destroy(&self->shards[i]);
    }
    self->n_shards = 0;
    sl_actor_destroy(&self->progress);
    self->progress_port = -1;
    while (self->n_endpoints > 0) {
        sl_actor_destroy(&self->endpoints[--self->n_endpoints]);
    }
    sl_actor_destroy(&self->store);
    sl_rt_destroy(&self->rt);
}

/* True when stderr is the journal's stream (systemd sets JOURNAL_STREAM
   to its "device:inode"; a child whose stderr was redirected keeps the
   variable, hence the comparison). */
static bool s_under_journald(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0) {
        return false;
    }
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* The log level (SLUICE_LOG wins) and format (json under journald). */
static void s_apply_logging(const sl_config_t *cfg)
{
    sl_log_level_t level;
    if (sl_log_parse_level(cfg->log_level, &level) == 0 && !getenv("SLUICE_LOG")) {
        sl_log_set_level(level);
    }
    sl_log_format_t format = SL_LOG_TEXT;
    if (sl_log_parse_format(cfg->log_format, &format) == 0) {
        sl_log_set_format(s_under_journald() ? SL_LOG_JSON : format);
    }
}

int sluice_start(sluice_t *self)
{
    if (self->rt) {
        return s_fail(self, SL_ESTATE, "already started");
    }
    s_apply_logging(&self->cfg);
    self->error[0] = '\0';
    char why[256];
    if (sl_config_check(&self->cfg, why, sizeof(why))) {
        return s_fail(self, SL_ECONFIG, "%s", why);
    }
    self->rt = sl_rt_new(self->host_ctx, NULL);
    if (!self->rt) {
        return s_fail(self, SL_ENOMEM, "cannot create the runtime");
    }
    sl_store_config_t sc = sl_store_config_defaults();
    sc.data_dir = self->cfg.data_dir;
    sc.map_size = (uint64_t)self->cfg.map_size_mb << 20;
    sc.nosync = self->cfg.nosync;
    /* Events go with their pipelines: the prune follows retention's sweep
       (every min(retention, 60 s)), and every second under a cap. */
    sc.retention_ms = self->cfg.retention_s * 1000;
    sc.events_max = (uint64_t)self->cfg.events_max;
    sc.prune_every_ms = sc.retention_ms > 0 && sc.retention_ms < 60000 ? sc.retention_ms : 60000;
    if (sc.events_max > 0) {
        sc.prune_every_ms = 1000;
    }
    sc.counters = &self->store_counters;
    int rc = sl_store_spawn(self->rt, &sc, &self->store);
    if (rc) {
        s_fail(self, rc, "%s", sl_store_last_error()[0] ? sl_store_last_error() : sl_err_msg(rc));
        goto fail;
    }
    if ((rc = s_start_endpoints(self)) || (rc = s_start_progress(self)) ||
        (rc = s_start_shards(self)) || (rc = s_start_watchdog(self)) || (rc = s_start_api(self))) {
        goto fail;
    }
    sl_info("sluice: running: api %s, pub %s, data %s, %d shards, %zu services",
            self->cfg.api_endpoint, self->cfg.pub_endpoint, self->cfg.data_dir, self->n_shards,
            self->n_endpoints);
    return 0;
fail:
    s_stop_all(self);
    return rc;
}

/* One PIPELINE_DRAIN round over the shards: the first round stops their
   dispatching, every round asks again. in_flight[i] keeps shard i's last
   answer (a shard that does not answer in time keeps its previous count);
   returns the sum, and *all false when some shard did not answer. */
static int64_t s_drain_round(sluice_t *self, sl_port_t *port, int64_t timeout_ms,
                             int64_t *in_flight, uint64_t *held, bool *all)
{
    sl_pipeline_drain_t m = {.reason = (char *)"shutdown"};
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t sum = 0;
    *all = true;
    *held = 0;
    if (sl_pipeline_drain_encode(&m, &buf, &len)) {
        *all = false;
        return 0;
    }
    for (int i = 0; i < self->n_shards; i++) {
        char name[SL_NAME_MAX];
        sl_ids_pipeline_mailbox(name, sizeof(name), i);
        sl_msg_t *reply = NULL;
        sl_pipeline_drain_reply_t r = {0};
        int rc = sl_port_request(port, name, SL_MSG_PIPELINE_DRAIN, buf, len, timeout_ms, &reply);
        if (rc == 0 && sl_pipeline_drain_reply_decode(reply->body, reply->body_len, &r) == 0) {
            in_flight[i] = (int64_t)r.in_flight;
            *held += r.held;
        } else {
            *all = false;
        }
        sl_pipeline_drain_reply_clear(&r);
        sl_msg_destroy(&reply);
        sum += in_flight[i];
    }
    free(buf);
    return sum;
}

int sluice_drain(sluice_t *self, int64_t grace_ms)
{
    if (!self->rt) {
        return 0;
    }
    if (grace_ms < 0) {
        grace_ms = self->cfg.shutdown_grace_ms;
    }
    sl_actor_destroy(&self->api);
    sl_port_t *port = sl_port_new(self->rt, "sluice.drain");
    int64_t *in_flight = calloc((size_t)(self->n_shards > 0 ? self->n_shards : 1), sizeof(int64_t));
    if (!port || !in_flight) {
        sl_port_destroy(&port);
        free(in_flight);
        return 0;
    }
    sl_clock_t *clock = sl_rt_clock(self->rt);
    int64_t deadline = sl_clock_now(clock) + grace_ms;
    bool all = false;
    uint64_t held = 0;
    /* The first round waits for every shard whatever the grace: it is what
       stops the dispatching. */
    int64_t live = s_drain_round(self, port, 1000, in_flight, &held, &all);
    sl_info("sluice: draining: %lld attempts in flight, %llu tasks held back for the next start",
            (long long)live, (unsigned long long)held);
    for (int64_t left; (live > 0 || !all) && (left = deadline - sl_clock_now(clock)) > 0;) {
        sl_msg_t *ignored = NULL;
        /* the wait between polls: a receive that nobody answers, bounded
           (it also discards a reply that came after its request gave up) */
        if (sl_port_recv(port, left < 200 ? left : 200, &ignored) == 0) {
            sl_msg_destroy(&ignored);
        }
        left = deadline - sl_clock_now(clock);
        int64_t timeout = left < 100 ? 100 : left > 1000 ? 1000 : left;
        live = s_drain_round(self, port, timeout, in_flight, &held, &all);
    }
    sl_port_destroy(&port);
    free(in_flight);
    if (live > 0) {
        sl_warn("sluice: %lld attempts still running after the %lld ms grace period; they resume "
                "at the next start",
                (long long)live, (long long)grace_ms);
    } else if (!all) {
        sl_warn("sluice: a pipeline shard did not answer the drain; its work resumes at the "
                "next start");
    } else {
        sl_info("sluice: drained: every running attempt ended");
    }
    return (int)(live > INT32_MAX ? INT32_MAX : live);
}

void sluice_destroy(sluice_t **p)
{
    if (!p || !*p) {
        return;
    }
    s_stop_all(*p);
    for (size_t i = 0; i < (*p)->n_sets; i++) {
        free((*p)->sets[i][0]);
        free((*p)->sets[i][1]);
    }
    free(*p);
    *p = NULL;
}

void sluice_log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (level < SLUICE_LOG_DEBUG || level > SLUICE_LOG_ERROR) {
        level = SLUICE_LOG_ERROR;
    }
    sl_log((sl_log_level_t)level, "%s", msg);
}

bool sluice_healthy(const sluice_t *self)
{
    if (!self || !self->rt || !self->watchdog) {
        return false;
    }
    /* a judgement older than two ping rounds means the watchdog itself is
       stuck */
    int64_t max_age = 2 * self->cfg.ping_interval_ms + self->cfg.ping_late_ms;
    return sl_watchdog_healthy(&self->wd_counters, sl_clock_now(sl_rt_clock(self->rt)), max_age);
}

/* ---- reload ---------------------------------------------------------------- */

typedef struct {
    sluice_t *self;
    sl_config_t *next;                     /* the configuration the file etc. ask for */
    sl_config_t *applied;                  /* the running one, with what could change changed */
    bool services[SL_CONFIG_MAX_SERVICES]; /* urls or breaker settings changed */
    bool curve;                            /* api/curve_clients_dir changed */
    char kept[400];                        /* keys that need a restart */
    size_t n_kept;
} s_reload_t;

static bool s_is_breaker_key(const char *key)
{
    static const char *keys[] = {"failure_threshold", "failure_rate_pct", "window",
                                 "open_for_s",        "open_max_s",       "half_open_max_s"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (strcmp(key, keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void s_reload_key(const char *path, void *arg)
{
    s_reload_t *r = arg;
    if (strcmp(path, "sluice/log_level") == 0 || strcmp(path, "sluice/log_format") == 0) {
        return; /* copied over below */
    }
    if (strncmp(path, "services/", 9) == 0) {
        const char *name = path + 9;
        const char *slash = strchr(name, '/');
        for (size_t i = 0; slash && i < r->applied->n_services; i++) {
            const char *svc = r->applied->services[i].name;
            if (strlen(svc) == (size_t)(slash - name) && strncmp(svc, name, strlen(svc)) == 0 &&
                (strcmp(slash + 1, "urls") == 0 || s_is_breaker_key(slash + 1))) {
                r->services[i] = true;
                return;
            }
        }
    }
    if (strcmp(path, "api/curve_clients_dir") == 0 && r->applied->curve_clients_dir[0] &&
        r->next->curve_clients_dir[0]) {
        r->curve = true;
        return;
    }
    sl_warn("sluice: reload: %s changed, which needs a restart; it keeps its running value "
            "until then",
            path);
    size_t used = strlen(r->kept);
    snprintf(r->kept + used, sizeof(r->kept) - used, "%s%s", used ? ", " : "", path);
    r->n_kept++;
}

/* Sends a service's URLs and breaker settings to its endpoint; on success
   copies them into applied. */
static void s_reload_service(s_reload_t *r, sl_port_t *port, size_t i)
{
    sl_service_conf_t *now = &r->applied->services[i];
    const sl_service_conf_t *want = sl_config_service(r->next, now->name);
    char *urls[SL_CONFIG_MAX_REPLICAS];
    for (size_t u = 0; u < want->n_urls; u++) {
        urls[u] = (char *)want->urls[u];
    }
    sl_endpoint_reconfigure_t m = {.urls = {.v = urls, .n = want->n_urls},
                                   .failure_threshold = want->failure_threshold,
                                   .failure_rate_pct = want->failure_rate_pct,
                                   .window = want->window,
                                   .open_for_ms = want->open_for_ms,
                                   .open_max_ms = want->open_max_ms,
                                   .half_open_max_ms = want->half_open_max_ms};
    uint8_t *body = NULL;
    size_t len = 0;
    char name[SL_NAME_MAX];
    sl_ids_endpoint_mailbox(name, sizeof(name), now->name);
    sl_msg_t *reply = NULL;
    sl_endpoint_reconfigure_reply_t rep = {0};
    int rc = sl_endpoint_reconfigure_encode(&m, &body, &len);
    if (rc == 0) {
        rc = sl_port_request(port, name, SL_MSG_ENDPOINT_RECONFIGURE, body, len,
                             S_RELOAD_TIMEOUT_MS, &reply);
    }
    if (rc == 0) {
        rc = sl_endpoint_reconfigure_reply_decode(reply->body, reply->body_len, &rep);
    }
    if (rc != 0 || rep.error) {
        sl_error("sluice: reload: services/%s: not applied: %s", now->name,
                 rep.error ? rep.error : sl_err_msg(rc));
    } else {
        memcpy(now->urls, want->urls, sizeof(now->urls));
        now->n_urls = want->n_urls;
        now->failure_threshold = want->failure_threshold;
        now->failure_rate_pct = want->failure_rate_pct;
        now->window = want->window;
        now->open_for_ms = want->open_for_ms;
        now->open_max_ms = want->open_max_ms;
        now->half_open_max_ms = want->half_open_max_ms;
        sl_info("sluice: reload: services/%s: %llu replica(s) added, %llu removed, breaker "
                "settings applied",
                now->name, (unsigned long long)rep.added, (unsigned long long)rep.retired);
    }
    sl_endpoint_reconfigure_reply_clear(&rep);
    sl_msg_destroy(&reply);
    free(body);
}

static void s_reload_curve(s_reload_t *r, sl_port_t *port)
{
    sl_api_reload_t m = {.curve_clients_dir = r->next->curve_clients_dir};
    uint8_t *body = NULL;
    size_t len = 0;
    sl_msg_t *reply = NULL;
    sl_api_reload_reply_t rep = {0};
    int rc = sl_api_reload_encode(&m, &body, &len);
    if (rc == 0) {
        rc = sl_port_request(port, SL_IDS_API, SL_MSG_API_RELOAD, body, len, S_RELOAD_TIMEOUT_MS,
                             &reply);
    }
    if (rc == 0) {
        rc = sl_api_reload_reply_decode(reply->body, reply->body_len, &rep);
    }
    if (rc != 0 || rep.error) {
        sl_error("sluice: reload: api/curve_clients_dir: not applied: %s",
                 rep.error ? rep.error : sl_err_msg(rc));
    } else {
        snprintf(r->applied->curve_clients_dir, sizeof(r->applied->curve_clients_dir), "%s",
                 r->next->curve_clients_dir);
    }
    sl_api_reload_reply_clear(&rep);
    sl_msg_destroy(&reply);
    free(body);
}

int sluice_reload(sluice_t *self, const char *path)
{
    if (!self->rt) {
        return s_fail(self, SL_ESTATE, "not started");
    }
    s_reload_t r = {.self = self};
    r.next = malloc(sizeof(*r.next));
    r.applied = malloc(sizeof(*r.applied));
    sl_port_t *port = sl_port_new(self->rt, "sluice.reload");
    int rc = r.next && r.applied && port ? 0 : s_fail(self, SL_ENOMEM, "out of memory");
    if (rc == 0) {
        sl_config_defaults(r.next);
        *r.applied = self->cfg;
        if (path) {
            rc = sl_config_load(r.next, path, self->error, sizeof(self->error));
        }
    }
    for (size_t i = 0; rc == 0 && i < self->n_sets; i++) {
        rc = s_set_key(self, r.next, self->sets[i][0], self->sets[i][1]);
    }
    if (rc == 0) {
        rc = sl_config_apply_env(r.next, self->error, sizeof(self->error));
    }
    char why[256];
    if (rc == 0 && sl_config_check(r.next, why, sizeof(why))) {
        rc = s_fail(self, SL_ECONFIG, "%s", why);
    }
    if (rc != 0) {
        sl_error("sluice: reload refused, nothing changed: %s", self->error);
        goto done;
    }
    size_t changed = sl_config_diff(&self->cfg, r.next, s_reload_key, &r);
    snprintf(r.applied->log_level, sizeof(r.applied->log_level), "%s", r.next->log_level);
    snprintf(r.applied->log_format, sizeof(r.applied->log_format), "%s", r.next->log_format);
    s_apply_logging(r.applied);
    for (size_t i = 0; i < r.applied->n_services; i++) {
        if (r.services[i]) {
            s_reload_service(&r, port, i);
        }
    }
    /* the directory's files may have changed even when its name did not */
    if (r.curve || (self->cfg.curve_clients_dir[0] && r.next->curve_clients_dir[0])) {
        s_reload_curve(&r, port);
    }
    self->cfg = *r.applied;
    self->error[0] = '\0';
    if (r.n_kept) {
        s_fail(self, 0, "needs a restart: %s", r.kept);
    }
    sl_info("sluice: reloaded %s: %zu key(s) changed, %zu need a restart",
            path ? path : "(no file)", changed, r.n_kept);
    rc = (int)r.n_kept;
done:
    sl_port_destroy(&port);
    free(r.next);
    free(r.applied);
    return rc;
}
