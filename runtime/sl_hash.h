/*  sl_hash.h: the project's one string hash (FNV-1a 32) and its one integer
    mixer (the splitmix64 finaliser).

    FNV-1a 32 is part of the protocol: it places a pipeline on its shard
    (proto/sl_ids.c, docs/internals.md), so it must never change. The same
    function hashes the keys of string maps (runtime/sl_map.h), the mailbox
    registry, the wire scanner's key table and the mock's deterministic
    results. Header-only (pure inline functions, no state, any thread) so
    that proto/ and tools/ use it without linking the runtime.
*/
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SL_HASH_FNV32_BASIS 2166136261u
#define SL_HASH_FNV32_PRIME 16777619u

/* Folds n bytes into h (start with SL_HASH_FNV32_BASIS): lets a caller hash
   several pieces as one. */
static inline uint32_t sl_hash_fnv32_add(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ b[i]) * SL_HASH_FNV32_PRIME;
    }
    return h;
}

/* FNV-1a 32 of n bytes. */
static inline uint32_t sl_hash_bytes(const void *p, size_t n)
{
    return sl_hash_fnv32_add(SL_HASH_FNV32_BASIS, p, n);
}

/* FNV-1a 32 of a NUL-terminated string. */
static inline uint32_t sl_hash_str(const char *s)
{
    uint32_t h = SL_HASH_FNV32_BASIS;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * SL_HASH_FNV32_PRIME;
    }
    return h;
}

/* Spreads an integer key (ids are sequential) over all 64 bits. */
static inline uint64_t sl_hash_u64(uint64_t k)
{
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    k ^= k >> 31;
    return k;
}

#endif
