/*  sl_clock.h: the injectable clock.

    All of sluice reads time through an sl_clock_t so that tests can drive
    timers deterministically. The system clock reads CLOCK_MONOTONIC (for
    deadlines) and CLOCK_REALTIME (for timestamps shown to people). A manual
    clock only moves when sl_clock_advance() is called; its wall time is its
    start wall time plus the same offset. All functions are thread-safe.
    To wake actors after advancing a manual clock use sl_rt_advance().
*/
#ifndef SL_CLOCK_H
#define SL_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sl_clock_t sl_clock_t;

/* A clock reading the system clocks. Caller owns; NULL on ENOMEM. */
sl_clock_t *sl_clock_new_system(void);

/* A manual clock starting at monotonic time start_ms and wall time
   start_wall_ms (epoch milliseconds). Caller owns; NULL on ENOMEM. */
sl_clock_t *sl_clock_new_manual(int64_t start_ms, int64_t start_wall_ms);

/* Accepts NULL; sets *p to NULL. */
void sl_clock_destroy(sl_clock_t **p);

/* Monotonic milliseconds; only differences are meaningful. */
int64_t sl_clock_now(sl_clock_t *self);

/* Monotonic microseconds (for latency measurements). */
int64_t sl_clock_now_us(sl_clock_t *self);

/* Wall-clock milliseconds since the Unix epoch (for records and events). */
int64_t sl_clock_wall_ms(sl_clock_t *self);

bool sl_clock_is_manual(sl_clock_t *self);

/* Manual clocks only: move time forward by ms (>= 0). Returns SL_EINVAL on a
   system clock. Does not wake anyone: see sl_rt_advance(). */
int sl_clock_advance(sl_clock_t *self, int64_t ms);

#endif
