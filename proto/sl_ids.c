/*  sl_ids.c: id generation and shard routing (see sl_ids.h). */
#include "proto/sl_ids.h"

#include <stdio.h>
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
