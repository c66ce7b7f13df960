/*  rt_testutil.h: helpers shared by the runtime tests: bounded waiting on a
    condition written by another thread (never a bare sleep). */
#ifndef RT_TESTUTIL_H
#define RT_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline int64_t rt_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void rt_test_pause(void)
{
    struct timespec ts = {0, 200000}; /* 0.2 ms between polls of a condition */
    nanosleep(&ts, NULL);
}

/* Polls `cond` until it holds or timeout_ms passed; evaluates to the final
   value of cond. */
#define RT_WAIT_UNTIL(cond, timeout_ms)                                                            \
    ({                                                                                             \
        int64_t rt_deadline_ = rt_test_now_ms() + (timeout_ms);                                    \
        while (!(cond) && rt_test_now_ms() < rt_deadline_) {                                       \
            rt_test_pause();                                                                       \
        }                                                                                          \
        (bool)(cond);                                                                              \
    })

#endif
