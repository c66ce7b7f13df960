/*  mock_faults.c: parsing and evaluation of the mock fleet's fault plans.

    Pure functions over caller-owned plans; the fleet calls them on its lws
    service thread. See mock_faults.h for the spec syntax.
*/
#include "tools/mock/mock_faults.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"

static const char *s_names[SL_MOCK__FAULT_COUNT] = {
    "ok",        "hang",    "freeze", "stall", "disconnect", "error",
    "malformed", "verdict", "refuse", "slow",  "block",      "unreachable",
};

const char *sl_mock_fault_name(sl_mock_fault_t fault)
{
    if ((int)fault < 0 || fault >= SL_MOCK__FAULT_COUNT) {
        return "?";
    }
    return s_names[fault];
}

bool sl_mock_fault_is_connection_level(sl_mock_fault_t fault)
{
    return fault == SL_MOCK_REFUSE || fault == SL_MOCK_SLOW;
}

static int s_fault_from_name(const char *name, size_t len, sl_mock_fault_t *out)
{
    for (int i = 0; i < SL_MOCK__FAULT_COUNT; i++) {
        if (strlen(s_names[i]) == len && memcmp(s_names[i], name, len) == 0) {
            *out = (sl_mock_fault_t)i;
            return 0;
        }
    }
    /* "none" reads better than "ok" in a plan that removes faults. */
    if (len == 4 && memcmp(name, "none", 4) == 0) {
        *out = SL_MOCK_OK;
        return 0;
    }
    return SL_EINVAL;
}

int sl_mock_plan_add(sl_mock_plan_t *plan, const sl_mock_plan_item_t *item)
{
    if (!plan || !item) {
        return SL_EINVAL;
    }
    if (plan->count >= SL_MOCK_PLAN_MAX) {
        return SL_EFULL;
    }
    plan->items[plan->count++] = *item;
    return 0;
}

/* Parses block's "=MS" and "/STAGE" arguments, args[0] being '=' or '/'. */
static int s_parse_block_args(char *args, sl_mock_plan_item_t *item)
{
    item->ms = SL_MOCK_BLOCK_MS_DEFAULT;
    char *slash = strchr(args, '/');
    if (slash) {
        *slash = '\0';
        size_t n = strlen(slash + 1);
        if (n == 0 || n >= sizeof item->stage) {
            return SL_EINVAL;
        }
        memcpy(item->stage, slash + 1, n + 1);
    }
    if (args[0] == '=') {
        char *end = NULL;
        errno = 0;
        if (args[1] < '0' || args[1] > '9') {
            return SL_EINVAL;
        }
        long long ms = strtoll(args + 1, &end, 10);
        if (errno != 0 || *end != '\0' || ms <= 0 || ms > 86400000) {
            return SL_EINVAL;
        }
        item->ms = ms;
    } else if (args[0] != '\0' && !slash) {
        return SL_EINVAL;
    }
    return 0;
}

/* Parses one item "name[args]", "name[args]@N" or "name[args]%P" of len
   bytes (args only for block). */
static int s_parse_item(const char *s, size_t len, sl_mock_plan_item_t *item)
{
    char buf[96];
    if (len == 0 || len >= sizeof buf) {
        return SL_EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(item, 0, sizeof *item);
    item->after = -1;
    char *mark = strpbrk(buf, "@%");
    char *args = strpbrk(buf, "=/");
    if (args && mark && args > mark) {
        return SL_EINVAL;
    }
    size_t name_len = args ? (size_t)(args - buf) : mark ? (size_t)(mark - buf) : len;
    if (s_fault_from_name(buf, name_len, &item->fault) != 0) {
        return SL_EINVAL;
    }
    if (item->fault == SL_MOCK_BLOCK) {
        char mark_ch = mark ? *mark : '\0';
        if (mark) {
            *mark = '\0';
        }
        if (s_parse_block_args(args ? args : buf + len, item) != 0) {
            return SL_EINVAL;
        }
        if (mark) {
            *mark = mark_ch;
        }
    } else if (args && (item->fault == SL_MOCK_STALL || item->fault == SL_MOCK_DISCONNECT)) {
        /* "=N": the fault fires once stage N was reported */
        char *end = NULL;
        errno = 0;
        long n =
            args[0] == '=' && args[1] >= '0' && args[1] <= '9' ? strtol(args + 1, &end, 10) : -1;
        if (n < 0 || errno != 0 || n > 1000 || (end != (mark ? mark : buf + len))) {
            return SL_EINVAL;
        }
        item->after = (int)n;
    } else if (args) {
        return SL_EINVAL;
    }
    if (!mark) {
        item->when = SL_MOCK_ALWAYS;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    if (*mark == '@') {
        if (mark[1] < '0' || mark[1] > '9') {
            return SL_EINVAL;
        }
        unsigned long long n = strtoull(mark + 1, &end, 10);
        if (errno != 0 || *end != '\0' || n == 0) {
            return SL_EINVAL;
        }
        item->when = SL_MOCK_NTH;
        item->nth = n;
        return 0;
    }
    double p = strtod(mark + 1, &end);
    if (errno != 0 || end == mark + 1 || *end != '\0' || !(p >= 0.0 && p <= 100.0)) {
        return SL_EINVAL;
    }
    item->when = SL_MOCK_PROB;
    item->pct = p;
    return 0;
}

int sl_mock_plan_parse(sl_mock_plan_t *plan, const char *spec)
{
    if (!plan || !spec) {
        return SL_EINVAL;
    }
    memset(plan, 0, sizeof *plan);
    if (*spec == '\0' || strcmp(spec, "none") == 0) {
        return 0;
    }
    const char *p = spec;
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        sl_mock_plan_item_t item;
        if (s_parse_item(p, len, &item) != 0 || sl_mock_plan_add(plan, &item) != 0) {
            memset(plan, 0, sizeof *plan);
            return SL_EINVAL;
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

const sl_mock_plan_item_t *sl_mock_plan_choose_item(const sl_mock_plan_t *plan,
                                                    bool connection_level, uint64_t n,
                                                    uint64_t *rng)
{
    if (!plan) {
        return NULL;
    }
    bool has_prob = false;
    for (int i = 0; i < plan->count; i++) {
        const sl_mock_plan_item_t *it = &plan->items[i];
        if (sl_mock_fault_is_connection_level(it->fault) != connection_level) {
            continue;
        }
        if (it->when == SL_MOCK_NTH && it->nth == n) {
            return it;
        }
        if (it->when == SL_MOCK_PROB) {
            has_prob = true;
        }
    }
    for (int i = 0; i < plan->count; i++) {
        const sl_mock_plan_item_t *it = &plan->items[i];
        if (sl_mock_fault_is_connection_level(it->fault) == connection_level &&
            it->when == SL_MOCK_ALWAYS) {
            return it;
        }
    }
    if (!has_prob || !rng) {
        return NULL;
    }
    /* One draw per request keeps the sequence reproducible whatever mix of
       probabilities the plan holds. */
    double r = (double)(sl_mock_rng_next(rng) >> 11) * (100.0 / 9007199254740992.0);
    double acc = 0.0;
    for (int i = 0; i < plan->count; i++) {
        const sl_mock_plan_item_t *it = &plan->items[i];
        if (sl_mock_fault_is_connection_level(it->fault) != connection_level ||
            it->when != SL_MOCK_PROB) {
            continue;
        }
        acc += it->pct;
        if (r < acc) {
            return it;
        }
    }
    return NULL;
}

sl_mock_fault_t sl_mock_plan_choose(const sl_mock_plan_t *plan, bool connection_level, uint64_t n,
                                    uint64_t *rng)
{
    const sl_mock_plan_item_t *it = sl_mock_plan_choose_item(plan, connection_level, n, rng);
    return it ? it->fault : SL_MOCK_OK;
}

uint64_t sl_mock_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int64_t sl_mock_rng_range(uint64_t *state, int64_t lo, int64_t hi)
{
    if (hi <= lo) {
        return lo;
    }
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(sl_mock_rng_next(state) % span);
}
