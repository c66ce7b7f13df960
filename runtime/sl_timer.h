/*  sl_timer.h: a timer heap for one thread.

    A binary min-heap of timers keyed by due time, with O(log n) add and
    cancel, so an actor can hold 100,000 timers. Not thread-safe: each actor
    owns one and only its thread touches it. Times are the caller's clock in
    milliseconds (sl_clock_now()). Timers due at the same time fire in the
    order they were added.
*/
#ifndef SL_TIMER_H
#define SL_TIMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_timers_t sl_timers_t;

/* Called when a timer fires. A periodic timer is re-armed before the call,
   so the callback may cancel it by id. */
typedef void(sl_timer_fn)(void *arg, uint64_t timer_id);

/* Caller owns; NULL on ENOMEM. */
sl_timers_t *sl_timers_new(void);

/* Accepts NULL; sets *p to NULL. Pending timers are dropped without firing. */
void sl_timers_destroy(sl_timers_t **p);

/* Arms a timer due at due_ms; period_ms > 0 makes it periodic (next due =
   previous due + period). Returns a non-zero id, or 0 on ENOMEM. Ids are never
   reused by one heap. */
uint64_t sl_timers_add(sl_timers_t *self, int64_t due_ms, int64_t period_ms, sl_timer_fn *fn,
                       void *arg);

/* Cancels a pending timer. SL_ENOTFOUND if it already fired (one-shot) or
   was cancelled. */
int sl_timers_cancel(sl_timers_t *self, uint64_t id);

/* Due time of the earliest timer, or INT64_MAX when none is pending. */
int64_t sl_timers_next_due(sl_timers_t *self);

/* Fires every timer due at or before now_ms; returns how many fired. A
   periodic timer fires at most once per call even if several periods passed
   (it is re-armed after now_ms). */
size_t sl_timers_run(sl_timers_t *self, int64_t now_ms);

size_t sl_timers_count(sl_timers_t *self);

#endif
