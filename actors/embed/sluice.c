/*  sluice.c: composes the actors into a running sluice (see sluice.h).

    Start order (docs/internals.md): store, endpoints, progress listener,
    pipeline shards (each recovers its pipelines before it is ready), watchdog,
    api. Stop runs the same list backwards, so nothing receives work from an
    actor that is already gone: the api stops taking requests first, the
    store stops last, after every writer.
*/
#include <sluice/sluice.h>

#include <stdarg.h>
#include <stdbool.h>
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
int sluice_set(sluice_t *self, const char *key, const char *value)
{
    if (self->rt) {
        return s_fail(self, SL_ESTATE, "configuration is fixed once started");
    }
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
    return sl_config_load_part(&self->cfg, text, "sluice_set", self->error, sizeof(self->error));
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

/* "ws://host:port" -> host (into buf) and port; SL_ECONFIG otherwise. */
static int s_parse_listen(const char *url, char *host, size_t host_size, int *port)
{
    const char *rest = strncmp(url, "ws://", 5) == 0 ? url + 5 : NULL;
    const char *colon = rest ? strrchr(rest, ':') : NULL;
    if (!colon || (size_t)(colon - rest) >= host_size || colon == rest) {
        return SL_ECONFIG;
    }
    memcpy(host, rest, (size_t)(colon - rest));
    host[colon - rest] = '\0';
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' && *end != '/') {
        return SL_ECONFIG;
    }
    if (p < 0 || p > 65535) {
        return SL_ECONFIG;
    }
    *port = (int)p;
    return 0;
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
    char host[128];
    sl_progress_config_t pc;
    sl_progress_config_defaults(&pc);
    if (s_parse_listen(self->cfg.progress_listen, host, sizeof(host), &pc.port)) {
        return s_fail(self, SL_ECONFIG, "progress/listen: '%s' is not ws://host:port",
                      self->cfg.progress_listen);
    }
    pc.listen_iface = host;
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

int sluice_start(sluice_t *self)
{
    if (self->rt) {
        return s_fail(self, SL_ESTATE, "already started");
    }
    sl_log_level_t level;
    if (sl_log_parse_level(self->cfg.log_level, &level) == 0 && !getenv("SLUICE_LOG")) {
        sl_log_set_level(level);
    }
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
    free(*p);
    *p = NULL;
}
