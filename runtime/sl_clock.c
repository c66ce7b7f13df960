/*  sl_clock.c: the system and manual clocks behind sl_clock.h.

    A clock is shared by every actor of a runtime and read from many threads,
    so the manual clock's offset is an atomic; the system clock has no state.
    The creator owns the clock and must destroy it after every reader stopped.
*/
#include "runtime/sl_clock.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "runtime/sl_err.h"

struct sl_clock_t {
    bool manual;
    int64_t start_us;      /* manual: monotonic start */
    int64_t start_wall_ms; /* manual: wall time at start */
    _Atomic int64_t offset_us;
};

static int64_t s_read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

sl_clock_t *sl_clock_new_system(void)
{
    sl_clock_t *self = calloc(1, sizeof(*self));
    return self;
}

sl_clock_t *sl_clock_new_manual(int64_t start_ms, int64_t start_wall_ms)
{
    sl_clock_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    self->manual = true;
    self->start_us = start_ms * 1000;
    self->start_wall_ms = start_wall_ms;
    atomic_init(&self->offset_us, 0);
    return self;
}

void sl_clock_destroy(sl_clock_t **p)
{
    if (!p || !*p) {
        return;
    }
    free(*p);
    *p = NULL;
}

int64_t sl_clock_now_us(sl_clock_t *self)
{
    if (self && self->manual) {
        return self->start_us + atomic_load(&self->offset_us);
    }
    return s_read_us(CLOCK_MONOTONIC);
}

int64_t sl_clock_now(sl_clock_t *self)
{
    return sl_clock_now_us(self) / 1000;
}

int64_t sl_clock_wall_ms(sl_clock_t *self)
{
    if (self && self->manual) {
        return self->start_wall_ms + atomic_load(&self->offset_us) / 1000;
    }
    return s_read_us(CLOCK_REALTIME) / 1000;
}

bool sl_clock_is_manual(sl_clock_t *self)
{
    return self && self->manual;
}

int sl_clock_advance(sl_clock_t *self, int64_t ms)
{
    if (!self || !self->manual || ms < 0) {
        return SL_EINVAL;
    }
    atomic_fetch_add(&self->offset_us, ms * 1000);
    return 0;
}
