/*  sl_ids.c: id generation, shard routing and mailbox names (see sl_ids.h). */
#include "proto/sl_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime/sl_err.h"
#include "runtime/sl_hash.h"

void sl_ids_new_pipeline(char *out, size_t size, int64_t wall_ms)
{
    /* The counter keeps ids from one process distinct within a millisecond;
       the seed (pid and clock) keeps two processes from colliding. */
    static uint32_t counter;
    static uint32_t seed;
    uint32_t s = __atomic_load_n(&seed, __ATOMIC_RELAXED);
    if (s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)ts.tv_nsec;
        s |= 1;
        __atomic_store_n(&seed, s, __ATOMIC_RELAXED);
    }
    uint32_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    /* An odd multiplier is a bijection mod 2^24: 16M ids in a row differ. */
    uint32_t mix = (n * 0x9e3779b1u + s) & 0xffffff;
    snprintf(out, size, "p%012llx%06x", (unsigned long long)(wall_ms & 0xffffffffffffLL), mix);
}

bool sl_ids_pipeline_valid(const char *id)
{
    if (!id || id[0] != 'p' || strlen(id) != SL_IDS_PIPELINE_LEN) {
        return false;
    }
    for (int i = 1; i < SL_IDS_PIPELINE_LEN; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

size_t sl_ids_pipeline_len(const char *id)
{
    const char *t = strstr(id, "-t");
    return t ? (size_t)(t - id) : strlen(id);
}

int sl_ids_shard_of(const char *id, int shards)
{
    if (!id || shards <= 1) {
        return 0;
    }
    uint32_t h = sl_hash_bytes(id, sl_ids_pipeline_len(id));
    return (int)(h % (uint32_t)shards);
}

int sl_ids_pipeline_mailbox(char *out, size_t size, int shard)
{
    int n = snprintf(out, size, SL_IDS_PIPELINE_PREFIX "%d", shard);
    return n >= 0 && (size_t)n < size ? 0 : SL_ETOOBIG;
}

int sl_ids_endpoint_mailbox(char *out, size_t size, const char *service)
{
    if (!service || !*service) {
        if (size) {
            out[0] = '\0';
        }
        return SL_EINVAL;
    }
    int n = snprintf(out, size, SL_IDS_ENDPOINT_PREFIX "%s", service);
    return n >= 0 && (size_t)n < size ? 0 : SL_ETOOBIG;
}

/* 64 random bits from getrandom(2); when the kernel cannot give them (never
   on a booted Linux) the clock and a counter, so an id is still unique. */
static uint64_t s_random64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v) {
        return v;
    }
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 48);
    v ^= __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull;
    return v;
}

int sl_ids_attempt_wire(char *out, size_t size, const char *task_id, uint64_t attempt)
{
    if (!task_id || !*task_id) {
        if (size) {
            out[0] = '\0';
        }
        return SL_EINVAL;
    }
    int n = snprintf(out, size, "%s-a%" PRIu64 "-%016" PRIx64, task_id, attempt, s_random64());
    return n >= 0 && (size_t)n < size ? 0 : SL_ETOOBIG;
}

int sl_ids_attempt_parse(const char *id, char *task, size_t task_size, uint64_t *attempt)
{
    size_t len = id ? strlen(id) : 0;
    if (len < SL_IDS_ATTEMPT_RANDOM + 4 || id[len - SL_IDS_ATTEMPT_RANDOM - 1] != '-') {
        return SL_EINVAL;
    }
    for (size_t i = len - SL_IDS_ATTEMPT_RANDOM; i < len; i++) {
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) {
            return SL_EINVAL;
        }
    }
    /* Back from the random part over the digits to "-a". */
    size_t end = len - SL_IDS_ATTEMPT_RANDOM - 1, d = end;
    while (d > 0 && id[d - 1] >= '0' && id[d - 1] <= '9') {
        d--;
    }
    if (d == end || d < 3 || id[d - 1] != 'a' || id[d - 2] != '-' || end - d > 19) {
        return SL_EINVAL;
    }
    uint64_t n = 0;
    for (size_t i = d; i < end; i++) {
        n = n * 10 + (uint64_t)(id[i] - '0');
    }
    size_t tl = d - 2;
    if (task && task_size) {
        size_t c = tl < task_size - 1 ? tl : task_size - 1;
        memcpy(task, id, c);
        task[c] = '\0';
    }
    if (attempt) {
        *attempt = n;
    }
    return 0;
}
