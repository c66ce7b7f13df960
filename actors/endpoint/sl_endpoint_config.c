/*  sl_endpoint_config.c: an endpoint's configuration: the protocol names,
    the defaults, the checks, and which request ops an endpoint knows.

    Pure functions with no state; called by whoever builds an endpoint's
    configuration (config loader, embedders, tests) and by the endpoint actor
    (sl_endpoint.c) on its own thread. Depends on nothing else in the
    endpoint.
*/
#include <string.h>

#include "actors/endpoint/sl_endpoint.h"
#include "actors/endpoint/sl_endpoint_int.h"
#include "proto/sl_wire.h"
#include "runtime/sl_err.h"

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
    if (!op) {
        return false;
    }
    if (strcmp(op, "generate") == 0) {
        return true;
    }
    for (int i = 0; i < SL_WIRE__ANALYSIS_COUNT; i++) {
        if (strcmp(op, sl_wire_analysis_type((sl_wire_analysis_t)i)) == 0) {
            return true;
        }
    }
    return false;
}

const char *sl_ep_default_op(const char *service)
{
    sl_wire_analysis_t a;
    if (service && sl_wire_analysis_for_service(service, &a) == 0) {
        return sl_wire_analysis_type(a);
    }
    return "generate";
}

void sl_endpoint_config_defaults(sl_endpoint_config_t *cfg, const char *service)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->service = service;
    cfg->protocol = SL_ENDPOINT_LEGACY;
    cfg->op = NULL;
    cfg->connect_timeout_ms = 10000;
    cfg->ping_interval_ms = 20000;
    cfg->pong_timeout_ms = 10000;
    cfg->queue_timeout_ms = 300000;
    cfg->progress_timeout_ms = 120000;
    cfg->attempt_timeout_ms = 900000;
    sl_breaker_config_defaults(&cfg->breaker);
    cfg->max_in_flight = 2;
    cfg->queue_max = 1000;
    cfg->progress_max_per_sec = 2;
    cfg->store = "store";
}

int sl_endpoint_config_check(const sl_endpoint_config_t *cfg)
{
    if (!cfg || !cfg->service || !*cfg->service ||
        strlen(cfg->service) + strlen("endpoint.") >= SL_NAME_MAX) {
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
        cfg->attempt_timeout_ms <= 0) {
        return SL_ECONFIG;
    }
    if (cfg->max_in_flight == 0 || cfg->progress_max_per_sec == 0) {
        return SL_ECONFIG;
    }
    return sl_breaker_config_check(&cfg->breaker) ? SL_ECONFIG : 0;
}
