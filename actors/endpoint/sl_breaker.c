/*  sl_breaker.c: the per-replica circuit breaker state machine.

    Pure: every function takes the time from its caller, so the endpoint
    actor drives it from the runtime clock and the tests from explicit
    numbers. The rate window is a 64-bit ring of outcomes (1 = failure), so
    a breaker is a few dozen bytes and recording a call is O(1).
*/
#include "actors/endpoint/sl_breaker.h"

#include <stdlib.h>

#include "runtime/sl_err.h"

struct sl_breaker_t {
    sl_breaker_config_t cfg;
    sl_breaker_state_t state;
    uint64_t ring;        /* bit i = call i of the window failed */
    uint32_t ring_pos;    /* next bit to write */
    uint32_t ring_count;  /* calls in the window (<= cfg.window) */
    uint32_t consecutive; /* current run of failures */
    uint64_t calls, failures;
    int64_t open_period; /* the period of the current / next opening */
    int64_t open_until;  /* when open: when it may half-open */
    int64_t half_open_since;
    bool probe_taken;
};

const char *sl_breaker_state_name(int state)
{
    switch (state) {
    case SL_BREAKER_CLOSED:
        return "closed";
    case SL_BREAKER_OPEN:
        return "open";
    case SL_BREAKER_HALF_OPEN:
        return "half_open";
    }
    return "unknown";
}

void sl_breaker_config_from_conf(sl_breaker_config_t *cfg, const sl_service_conf_t *svc)
{
    cfg->failure_threshold = (int)svc->failure_threshold;
    cfg->failure_rate_pct = (int)svc->failure_rate_pct;
    cfg->window = (int)svc->window;
    cfg->min_calls = SL_BREAKER_MIN_CALLS < cfg->window ? SL_BREAKER_MIN_CALLS : cfg->window;
    cfg->open_ms = svc->open_for_ms;
    cfg->open_max_ms = svc->open_max_ms;
    cfg->half_open_max_wait_ms = svc->half_open_max_ms;
}

void sl_breaker_config_defaults(sl_breaker_config_t *cfg)
{
    sl_breaker_config_from_conf(cfg, &sl_config_builtin()->services[0]);
}

int sl_breaker_config_check(const sl_breaker_config_t *cfg)
{
    if (!cfg) {
        return SL_EINVAL;
    }
    if (cfg->failure_threshold < 1 || cfg->failure_rate_pct < 0 || cfg->failure_rate_pct > 100 ||
        cfg->window < 1 || cfg->window > 64 || cfg->min_calls < 1 || cfg->min_calls > cfg->window ||
        cfg->open_ms < 1 || cfg->open_max_ms < cfg->open_ms || cfg->half_open_max_wait_ms < 1) {
        return SL_ECONFIG;
    }
    return 0;
}

int sl_breaker_set_config(sl_breaker_t *self, const sl_breaker_config_t *cfg)
{
    if (sl_breaker_config_check(cfg) != 0) {
        return SL_ECONFIG;
    }
    if (cfg->window != self->cfg.window) {
        self->ring = 0;
        self->ring_pos = 0;
        self->ring_count = 0;
    }
    self->cfg = *cfg;
    if (self->open_period > cfg->open_max_ms) {
        self->open_period = cfg->open_max_ms;
    }
    if (self->open_period < cfg->open_ms) {
        self->open_period = cfg->open_ms;
    }
    return 0;
}

sl_breaker_t *sl_breaker_new(const sl_breaker_config_t *cfg)
{
    if (sl_breaker_config_check(cfg) != 0) {
        return NULL;
    }
    sl_breaker_t *self = calloc(1, sizeof *self);
    if (!self) {
        return NULL;
    }
    self->cfg = *cfg;
    self->state = SL_BREAKER_CLOSED;
    self->open_period = cfg->open_ms;
    return self;
}

void sl_breaker_destroy(sl_breaker_t **p)
{
    if (p && *p) {
        free(*p);
        *p = NULL;
    }
}

sl_breaker_state_t sl_breaker_state(const sl_breaker_t *self)
{
    return self->state;
}

static void s_window_reset(sl_breaker_t *self)
{
    self->ring = 0;
    self->ring_pos = 0;
    self->ring_count = 0;
    self->consecutive = 0;
}

static uint32_t s_window_failures(const sl_breaker_t *self)
{
    uint64_t mask = self->ring_count >= 64 ? ~0ull : ((1ull << self->ring_count) - 1);
    /* The ring is only as wide as the window: bits past ring_count are
       always zero because s_window_push clears the slot it reuses. */
    return (uint32_t)__builtin_popcountll(self->ring & mask);
}

static void s_window_push(sl_breaker_t *self, bool failure)
{
    uint64_t bit = 1ull << self->ring_pos;
    if (failure) {
        self->ring |= bit;
    } else {
        self->ring &= ~bit;
    }
    self->ring_pos = (self->ring_pos + 1) % (uint32_t)self->cfg.window;
    if (self->ring_count < (uint32_t)self->cfg.window) {
        self->ring_count++;
    }
}

static void s_fill(sl_breaker_transition_t *tr, sl_breaker_state_t from, sl_breaker_state_t to,
                   const char *reason)
{
    if (tr) {
        tr->from = from;
        tr->to = to;
        tr->reason = reason;
    }
}

static void s_open(sl_breaker_t *self, int64_t now_ms)
{
    self->state = SL_BREAKER_OPEN;
    self->open_until = now_ms + self->open_period;
    self->probe_taken = false;
    s_window_reset(self);
}

/* A failed half-open period: the replica is still sick, so wait longer. */
static void s_reopen(sl_breaker_t *self, int64_t now_ms)
{
    int64_t next = self->open_period * 2;
    self->open_period = next > self->cfg.open_max_ms ? self->cfg.open_max_ms : next;
    s_open(self, now_ms);
}

bool sl_breaker_tick(sl_breaker_t *self, int64_t now_ms, sl_breaker_transition_t *tr)
{
    if (self->state == SL_BREAKER_OPEN && now_ms >= self->open_until) {
        self->state = SL_BREAKER_HALF_OPEN;
        self->half_open_since = now_ms;
        self->probe_taken = false;
        s_fill(tr, SL_BREAKER_OPEN, SL_BREAKER_HALF_OPEN, "open_elapsed");
        return true;
    }
    if (self->state == SL_BREAKER_HALF_OPEN &&
        now_ms >= self->half_open_since + self->cfg.half_open_max_wait_ms) {
        s_reopen(self, now_ms);
        s_fill(tr, SL_BREAKER_HALF_OPEN, SL_BREAKER_OPEN, "probe_timeout");
        return true;
    }
    return false;
}

int64_t sl_breaker_next_due(const sl_breaker_t *self)
{
    switch (self->state) {
    case SL_BREAKER_OPEN:
        return self->open_until;
    case SL_BREAKER_HALF_OPEN:
        return self->half_open_since + self->cfg.half_open_max_wait_ms;
    default:
        return INT64_MAX;
    }
}

bool sl_breaker_admits(const sl_breaker_t *self)
{
    return self->state == SL_BREAKER_CLOSED;
}

bool sl_breaker_wants_probe(const sl_breaker_t *self)
{
    return self->state == SL_BREAKER_HALF_OPEN && !self->probe_taken;
}

bool sl_breaker_take_probe(sl_breaker_t *self, int64_t now_ms)
{
    (void)now_ms;
    if (!sl_breaker_wants_probe(self)) {
        return false;
    }
    self->probe_taken = true;
    return true;
}

bool sl_breaker_record(sl_breaker_t *self, int64_t now_ms, bool failure,
                       sl_breaker_transition_t *tr)
{
    self->calls++;
    if (failure) {
        self->failures++;
    }
    if (self->state != SL_BREAKER_CLOSED) {
        /* A call admitted before the breaker opened says nothing new. */
        return false;
    }
    s_window_push(self, failure);
    self->consecutive = failure ? self->consecutive + 1 : 0;
    if (self->consecutive >= (uint32_t)self->cfg.failure_threshold) {
        s_open(self, now_ms);
        s_fill(tr, SL_BREAKER_CLOSED, SL_BREAKER_OPEN, "consecutive_failures");
        return true;
    }
    if (self->ring_count >= (uint32_t)self->cfg.min_calls) {
        uint32_t bad = s_window_failures(self);
        if ((uint64_t)bad * 100 > (uint64_t)self->cfg.failure_rate_pct * self->ring_count) {
            s_open(self, now_ms);
            s_fill(tr, SL_BREAKER_CLOSED, SL_BREAKER_OPEN, "failure_rate");
            return true;
        }
    }
    return false;
}

bool sl_breaker_record_probe(sl_breaker_t *self, int64_t now_ms, bool failure,
                             sl_breaker_transition_t *tr)
{
    if (self->state != SL_BREAKER_HALF_OPEN || !self->probe_taken) {
        return false;
    }
    self->calls++;
    if (failure) {
        self->failures++;
        s_reopen(self, now_ms);
        s_fill(tr, SL_BREAKER_HALF_OPEN, SL_BREAKER_OPEN, "probe_failed");
        return true;
    }
    self->state = SL_BREAKER_CLOSED;
    self->open_period = self->cfg.open_ms;
    self->open_until = 0;
    self->probe_taken = false;
    s_window_reset(self);
    s_fill(tr, SL_BREAKER_HALF_OPEN, SL_BREAKER_CLOSED, "probe_succeeded");
    return true;
}

void sl_breaker_stats(const sl_breaker_t *self, sl_breaker_stats_t *out)
{
    out->state = self->state;
    out->calls = self->calls;
    out->failures = self->failures;
    out->consecutive_failures = self->consecutive;
    out->open_until_ms = self->state == SL_BREAKER_OPEN ? self->open_until : 0;
    out->open_period_ms = self->open_period;
    out->window_calls = self->ring_count;
    out->window_failures = s_window_failures(self);
}

/* Whether a is a better choice than b, both admitting a call. */
static bool s_better(const sl_breaker_candidate_t *a, const sl_breaker_candidate_t *b)
{
    if (a->suspect != b->suspect) {
        return !a->suspect; /* a replica that may be blocked goes last */
    }
    return a->in_flight < b->in_flight || (a->in_flight == b->in_flight && a->ewma_ms < b->ewma_ms);
}

int sl_breaker_pick(const sl_breaker_candidate_t *c, size_t n)
{
    bool other_admits = false;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].excluded && sl_breaker_admits(c[i].breaker)) {
            other_admits = true;
            break;
        }
    }
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!sl_breaker_admits(c[i].breaker) || c[i].in_flight >= c[i].max_in_flight) {
            continue;
        }
        if (c[i].excluded && other_admits) {
            continue;
        }
        if (best < 0 || s_better(&c[i], &c[best])) {
            best = (int)i;
        }
    }
    return best;
}
