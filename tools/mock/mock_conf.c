/*  mock_conf.c: service look-up, replica defaults and the replica spec parser
    of the mock fleet. Pure functions over caller-owned structs.
*/
#include "tools/mock/mock_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "tools/mock/mock_frames.h"

/* ---- names and configuration ------------------------------------------ */

int sl_mock_service_parse(const char *name, sl_service_t *out)
{
    if (!name || !out) {
        return SL_EINVAL;
    }
    int svc = sl_service_parse_alias(name, strlen(name));
    if (svc < 0) {
        return SL_EINVAL;
    }
    *out = (sl_service_t)svc;
    return 0;
}

void sl_mock_replica_conf_defaults(sl_mock_replica_conf_t *conf, sl_service_t service)
{
    memset(conf, 0, sizeof *conf);
    conf->service = service;
    conf->latency_min_ms = 200;
    conf->latency_max_ms = 500;
    conf->progress_ms = 100;
    conf->heartbeat_ms = 1000;
    conf->slow_ms = 3000;
    conf->stall_after = 2;
    conf->cid = -1;
    conf->seed = 1;
}

static int s_fail(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(char *err, size_t size, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
    }
    return SL_EINVAL;
}

static bool s_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static int s_parse_option(sl_mock_replica_conf_t *conf, char *key, char *val, char *err,
                          size_t size)
{
    long long v, w;
    if (strcmp(key, "proto") == 0) {
        if (strcmp(val, "mux") == 0) {
            conf->mux = true;
        } else if (strcmp(val, "legacy") == 0) {
            conf->mux = false;
        } else {
            return s_fail(err, size, "bad proto '%s' (legacy|mux)", val);
        }
    } else if (strcmp(key, "latency") == 0) {
        char *dash = strchr(val, '-');
        if (dash) {
            *dash = '\0';
        }
        if (!s_parse_int(val, 0, 86400000, &v) ||
            (dash && !s_parse_int(dash + 1, 0, 86400000, &w))) {
            return s_fail(err, size, "bad latency '%s' (MIN[-MAX] ms)", val);
        }
        conf->latency_min_ms = (int)v;
        conf->latency_max_ms = dash ? (int)w : (int)v;
        if (conf->latency_max_ms < conf->latency_min_ms) {
            return s_fail(err, size, "bad latency '%s': max < min", val);
        }
    } else if (strcmp(key, "progress") == 0 || strcmp(key, "heartbeat") == 0 ||
               strcmp(key, "slow") == 0 || strcmp(key, "stall_after") == 0) {
        if (!s_parse_int(val, 0, 86400000, &v)) {
            return s_fail(err, size, "bad number '%s'", val);
        }
        if (key[0] == 'p') {
            conf->progress_ms = (int)v;
        } else if (key[0] == 'h') {
            conf->heartbeat_ms = (int)v;
        } else if (key[1] == 'l') {
            conf->slow_ms = (int)v;
        } else {
            conf->stall_after = (int)v;
        }
    } else if (strcmp(key, "partial") == 0) {
        if (strcmp(val, "on") != 0 && strcmp(val, "off") != 0) {
            return s_fail(err, size, "bad partial '%s' (on|off)", val);
        }
        conf->partial = strcmp(val, "on") == 0;
    } else if (strcmp(key, "cid") == 0) {
        if (strcmp(val, "id") == 0) {
            conf->cid = 1;
        } else if (strcmp(val, "empty") == 0) {
            conf->cid = 0;
        } else {
            return s_fail(err, size, "bad cid '%s' (id|empty)", val);
        }
    } else if (strcmp(key, "profile") == 0) {
        if (strcmp(val, "real") == 0) {
            conf->real = true;
        } else if (strcmp(val, "uniform") == 0) {
            conf->real = false;
        } else {
            return s_fail(err, size, "bad profile '%s' (uniform|real)", val);
        }
    } else if (strcmp(key, "seed") == 0) {
        if (!s_parse_int(val, 0, INT64_MAX, &v)) {
            return s_fail(err, size, "bad seed '%s'", val);
        }
        conf->seed = (uint64_t)v;
    } else if (strcmp(key, "fault") == 0) {
        if (sl_mock_plan_parse(&conf->plan, val) != 0) {
            return s_fail(err, size, "bad fault plan '%s'", val);
        }
    } else if (strcmp(key, "fail_app") == 0 || strcmp(key, "verdict_app") == 0 ||
               strcmp(key, "partial_app") == 0) {
        int *n = key[0] == 'f'   ? &conf->fail_count
                 : key[0] == 'v' ? &conf->verdict_count
                                 : &conf->partial_count;
        int64_t *apps = key[0] == 'f'   ? conf->fail_apps
                        : key[0] == 'v' ? conf->verdict_apps
                                        : conf->partial_apps;
        if (!s_parse_int(val, INT32_MIN, INT64_MAX, &v) || *n >= SL_MOCK_APPS_MAX) {
            return s_fail(err, size, "bad or too many app numbers '%s'", val);
        }
        apps[(*n)++] = v;
    } else if (strcmp(key, "targets") == 0) {
        if (strcmp(val, "required") != 0 && strcmp(val, "fallback") != 0) {
            return s_fail(err, size, "bad targets '%s' (required|fallback)", val);
        }
        conf->targets_required = strcmp(val, "required") == 0;
    } else if (strcmp(key, "tools") == 0) {
        if (sl_mock_tools_parse(&conf->tools, val) != 0) {
            return s_fail(err, size, "bad tools '%s' (A,B,... of [A-Za-z0-9._-], at most %d)", val,
                          SL_MOCK_TOOLS_MAX);
        }
    } else if (strcmp(key, "tls") == 0) {
        char *comma = strchr(val, ',');
        if (!comma || comma == val || comma[1] == '\0' || strlen(val) >= SL_MOCK_PATH_MAX) {
            return s_fail(err, size, "bad tls '%s' (CERT,KEY)", val);
        }
        *comma = '\0';
        snprintf(conf->tls_cert, sizeof conf->tls_cert, "%s", val);
        snprintf(conf->tls_key, sizeof conf->tls_key, "%s", comma + 1);
    } else {
        return s_fail(err, size, "unknown replica option '%s'", key);
    }
    return 0;
}

int sl_mock_tools_parse(sl_mock_tools_t *out, const char *list)
{
    sl_mock_tools_t t;
    memset(&t, 0, sizeof t);
    t.set = true;
    const char *p = list ? list : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n >= SL_MOCK_TOOL_NAME || t.n >= SL_MOCK_TOOLS_MAX) {
            return SL_EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
            if (!ok) {
                return SL_EINVAL;
            }
        }
        memcpy(t.v[t.n], p, n);
        t.v[t.n++][n] = '\0';
        p += n;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return SL_EINVAL;
            }
        }
    }
    *out = t;
    return 0;
}

void sl_mock_tools_effective(sl_service_t svc, const sl_mock_tools_t *conf, sl_mock_tools_t *out)
{
    static const char *const defaults[SL_SVC__COUNT] = {
        [SL_SVC_STATIC] = "bandit,pylint,vulture,npm-audit",
        [SL_SVC_DYNAMIC] = "curl,nmap,zap",
        [SL_SVC_PERFORMANCE] = "ab,locust,aiohttp",
        [SL_SVC_AI] = "requirements-scanner,code-quality-analyzer",
        [SL_SVC_GENERATOR] = "",
    };
    if (conf && conf->set) {
        *out = *conf;
        return;
    }
    const char *d = svc >= 0 && svc < SL_SVC__COUNT ? defaults[svc] : "";
    if (sl_mock_tools_parse(out, d ? d : "") != 0) {
        memset(out, 0, sizeof *out);
    }
}

int sl_mock_plan_check_stages(const sl_mock_plan_t *plan, sl_service_t service, char *err,
                              size_t err_size)
{
    for (int i = 0; plan && i < plan->count; i++) {
        const sl_mock_plan_item_t *it = &plan->items[i];
        if (it->fault == SL_MOCK_BLOCK && it->stage[0] &&
            sl_mock_stage_find(service, it->stage) < 0 &&
            sl_mock_real_stage_find(service, it->stage) < 0) {
            return s_fail(err, err_size, "block: %s has no stage '%s'", sl_service_name(service),
                          it->stage);
        }
    }
    return 0;
}

int sl_mock_replica_conf_parse(sl_mock_replica_conf_t *conf, const char *spec, char *err,
                               size_t err_size)
{
    if (!conf || !spec) {
        return s_fail(err, err_size, "%s", "no spec");
    }
    char *copy = strdup(spec);
    if (!copy) {
        return SL_ENOMEM;
    }
    int rc = SL_EINVAL;
    char *save = NULL;
    char *svc = strtok_r(copy, ":", &save);
    char *host = strtok_r(NULL, ":", &save);
    char *port = strtok_r(NULL, ":", &save);
    sl_service_t service;
    long long p;
    if (!svc || sl_mock_service_parse(svc, &service) != 0) {
        s_fail(err, err_size, "unknown service '%s'", svc ? svc : "");
        goto done;
    }
    if (service != conf->service) {
        sl_mock_replica_conf_t keep = *conf;
        sl_mock_replica_conf_defaults(conf, service);
        conf->latency_min_ms = keep.latency_min_ms;
        conf->latency_max_ms = keep.latency_max_ms;
        conf->progress_ms = keep.progress_ms;
        conf->heartbeat_ms = keep.heartbeat_ms;
        conf->seed = keep.seed;
        conf->plan = keep.plan;
        conf->real = keep.real;
    }
    /* Loopback only: the mock must never be reachable from elsewhere. */
    if (!host || (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "localhost") != 0)) {
        s_fail(err, err_size, "host must be 127.0.0.1, not '%s'", host ? host : "");
        goto done;
    }
    if (!port || !s_parse_int(port, 0, 65535, &p)) {
        s_fail(err, err_size, "bad port '%s'", port ? port : "");
        goto done;
    }
    conf->port = (int)p;
    char *opt;
    while ((opt = strtok_r(NULL, ":", &save)) != NULL) {
        char *eq = strchr(opt, '=');
        if (!eq) {
            s_fail(err, err_size, "option '%s' is not key=value", opt);
            goto done;
        }
        *eq = '\0';
        if (s_parse_option(conf, opt, eq + 1, err, err_size) != 0) {
            goto done;
        }
    }
    rc = sl_mock_plan_check_stages(&conf->plan, conf->service, err, err_size);
done:
    free(copy);
    return rc;
}
