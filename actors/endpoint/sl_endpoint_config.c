/*  sl_endpoint_config.c: an endpoint's configuration: the protocol names,
    the defaults (from the configuration's key table: sl_config_builtin()),
    the checks, and which request ops an endpoint knows (the services
    declaration, proto/sl_services.def).

    Pure functions with no state; called by whoever builds an endpoint's
    configuration (config loader, embedders, tests) and by the endpoint actor
    (sl_endpoint.c) on its own thread. Depends on nothing else in the
    endpoint.
*/
#include <assert.h>
#include <string.h>

#include "actors/endpoint/sl_endpoint.h"
#include "actors/endpoint/sl_endpoint_int.h"
#include "proto/sl_services.h"
#include "runtime/sl_err.h"
#include "proto/sl_ids.h"

const char *sl_endpoint_protocol_name(int protocol)
{
    switch (protocol) {
    case SL_ENDPOINT_LEGACY:
        return "legacy";
    case SL_ENDPOINT_MUX:
        return "mux";
    }
    return "unknown";
}

int sl_endpoint_protocol_parse(const char *text, sl_endpoint_protocol_t *out)
{
    if (!text || !out) {
        return SL_EINVAL;
    }
    if (strcmp(text, "legacy") == 0) {
        *out = SL_ENDPOINT_LEGACY;
        return 0;
    }
    if (strcmp(text, "mux") == 0) {
        *out = SL_ENDPOINT_MUX;
        return 0;
    }
    return SL_EINVAL;
}

bool sl_ep_op_known(const char *op)
{
    return op && sl_service_of_op(op, strlen(op)) >= 0;
}

const char *sl_ep_default_op(const char *service)
{
    int svc = service ? sl_service_parse(service, strlen(service)) : SL_ENOTFOUND;
    return svc >= 0 ? sl_service_op(svc) : "generate";
}

int sl_endpoint_config_from_conf(sl_endpoint_config_t *cfg, const sl_service_conf_t *svc)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->service = svc->name;
    if (sl_endpoint_protocol_parse(svc->protocol, &cfg->protocol)) {
        return SL_ECONFIG;
    }
    cfg->op = svc->op[0] ? svc->op : NULL;
    cfg->ca_file = svc->ca_file[0] ? svc->ca_file : NULL;
    cfg->connect_timeout_ms = svc->connect_timeout_ms;
    cfg->ping_interval_ms = svc->ping_interval_ms;
    cfg->pong_timeout_ms = svc->pong_timeout_ms;
    cfg->queue_timeout_ms = svc->queue_timeout_ms;
    cfg->progress_timeout_ms = svc->progress_timeout_ms;
    cfg->heartbeat_timeout_ms = svc->heartbeat_timeout_ms;
    cfg->liveness_grace_ms = svc->liveness_grace_ms;
    cfg->attempt_timeout_ms = svc->attempt_timeout_ms;
    sl_breaker_config_from_conf(&cfg->breaker, svc);
    cfg->max_in_flight = (uint32_t)svc->max_in_flight;
    cfg->queue_max = (uint32_t)svc->queue_max;
    cfg->progress_max_per_sec = (uint32_t)svc->progress_per_sec;
    cfg->store = SL_IDS_STORE;
    return 0;
}

void sl_endpoint_config_defaults(sl_endpoint_config_t *cfg, const char *service)
{
    const sl_config_t *builtin = sl_config_builtin();
    const sl_service_conf_t *svc = &builtin->services[0];
    for (size_t i = 0; service && i < builtin->n_services; i++) {
        if (strcmp(builtin->services[i].name, service) == 0) {
            svc = &builtin->services[i];
        }
    }
    int rc = sl_endpoint_config_from_conf(cfg, svc);
    assert(rc == 0); /* the built-in protocol is valid */
    (void)rc;
    cfg->service = service;
    cfg->op = NULL; /* from the service name, which the caller may change */
}

int sl_endpoint_config_check(const sl_endpoint_config_t *cfg)
{
    if (!cfg || !cfg->service || !*cfg->service ||
        strlen(cfg->service) + strlen(SL_IDS_ENDPOINT_PREFIX) >= SL_NAME_MAX) {
        return SL_ECONFIG;
    }
    if (cfg->protocol != SL_ENDPOINT_LEGACY && cfg->protocol != SL_ENDPOINT_MUX) {
        return SL_ECONFIG;
    }
    if (cfg->op && *cfg->op && !sl_ep_op_known(cfg->op)) {
        return SL_ECONFIG;
    }
    if (!cfg->replicas || cfg->n_replicas < 1 || cfg->n_replicas > SL_ENDPOINT_MAX_REPLICAS) {
        return SL_ECONFIG;
    }
    for (size_t i = 0; i < cfg->n_replicas; i++) {
        const char *u = cfg->replicas[i];
        if (!u || (strncmp(u, "ws://", 5) != 0 && strncmp(u, "wss://", 6) != 0)) {
            return SL_ECONFIG;
        }
    }
    if (cfg->connect_timeout_ms <= 0 || cfg->ping_interval_ms <= 0 || cfg->pong_timeout_ms <= 0 ||
        cfg->queue_timeout_ms <= 0 || cfg->progress_timeout_ms < 0 ||
        cfg->heartbeat_timeout_ms < 0 || cfg->liveness_grace_ms < 0 ||
        cfg->attempt_timeout_ms <= 0) {
        return SL_ECONFIG;
    }
    if (cfg->max_in_flight == 0 || cfg->progress_max_per_sec == 0) {
        return SL_ECONFIG;
    }
    return sl_breaker_config_check(&cfg->breaker) ? SL_ECONFIG : 0;
}
