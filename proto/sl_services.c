/*  sl_services.c: the table behind sl_services.h, built from
    proto/sl_services.def. Constant data; any thread.
*/
#include "proto/sl_services.h"

#include <string.h>

#include "runtime/sl_err.h"

typedef struct {
    const char *name, *alias, *op, *result, *env, *ports, *tools;
    bool targets;
    int max_in_flight;
    int progress_s, attempt_s;
} s_service_t;

static const s_service_t s_services[SL_SVC__COUNT] = {
#define SL_SERVICE(id, name, alias, op, result, env, ports, tools, targets, mif, prog, att)        \
    {name, alias, op, result, env, ports, tools, targets, mif, prog, att},
#include "proto/sl_services.def"
#undef SL_SERVICE
};

static const s_service_t *s_get(int svc)
{
    return svc >= 0 && svc < SL_SVC__COUNT ? &s_services[svc] : NULL;
}

const char *sl_service_name(int svc)
{
    return s_get(svc) ? s_get(svc)->name : "unknown";
}

const char *sl_service_alias(int svc)
{
    return s_get(svc) ? s_get(svc)->alias : "unknown";
}

const char *sl_service_op(int svc)
{
    return s_get(svc) ? s_get(svc)->op : NULL;
}

const char *sl_service_result_type(int svc)
{
    return s_get(svc) ? s_get(svc)->result : NULL;
}

const char *sl_service_env(int svc)
{
    return s_get(svc) ? s_get(svc)->env : NULL;
}

const char *sl_service_ports(int svc)
{
    return s_get(svc) ? s_get(svc)->ports : "";
}

const char *sl_service_tools(int svc)
{
    return s_get(svc) ? s_get(svc)->tools : "";
}

bool sl_service_needs_targets(int svc)
{
    return s_get(svc) && s_get(svc)->targets;
}

int sl_service_max_in_flight(int svc)
{
    return s_get(svc) ? s_get(svc)->max_in_flight : 0;
}

int sl_service_progress_timeout_s(int svc)
{
    return s_get(svc) ? s_get(svc)->progress_s : 0;
}

int sl_service_attempt_timeout_s(int svc)
{
    return s_get(svc) ? s_get(svc)->attempt_s : 0;
}

static bool s_eq(const char *s, size_t len, const char *z)
{
    return strlen(z) == len && memcmp(s, z, len) == 0;
}

int sl_service_parse(const char *s, size_t len)
{
    if (!s) {
        return SL_EINVAL;
    }
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        if (s_eq(s, len, s_services[i].name)) {
            return i;
        }
    }
    return SL_ENOTFOUND;
}

int sl_service_parse_alias(const char *s, size_t len)
{
    int svc = sl_service_parse(s, len);
    for (int i = 0; svc == SL_ENOTFOUND && i < SL_SVC__COUNT; i++) {
        if (s_eq(s, len, s_services[i].alias)) {
            svc = i;
        }
    }
    return svc;
}

int sl_service_of_op(const char *op, size_t len)
{
    if (!op) {
        return SL_EINVAL;
    }
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        if (s_eq(op, len, s_services[i].op)) {
            return i;
        }
    }
    return SL_ENOTFOUND;
}

bool sl_service_words_have(const char *list, const char *word, size_t len)
{
    if (!list || !word || len == 0) {
        return false;
    }
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, word, len) == 0) {
            return true;
        }
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

int sl_service_of_tool(const char *tool, size_t len)
{
    for (int i = 0; i < SL_SVC__COUNT; i++) {
        if (sl_service_words_have(s_services[i].tools, tool, len)) {
            return i;
        }
    }
    return SL_ENOTFOUND;
}
