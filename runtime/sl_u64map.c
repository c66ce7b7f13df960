/*  sl_u64map.c: linear-probing hash map with backward-shift deletion, so no
    tombstones accumulate when a long-running actor adds and removes millions
    of timers or requests. Owned and used by a single thread.
*/
#include "runtime/sl_u64map.h"

#include <stdlib.h>

#include "runtime/sl_err.h"

static size_t s_hash(uint64_t key, size_t mask)
{
    /* splitmix64 finaliser: ids are sequential, so spread them. */
    key ^= key >> 30;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 27;
    key *= 0x94d049bb133111ebULL;
    key ^= key >> 31;
    return (size_t)key & mask;
}

void sl_u64map_init(sl_u64map_t *self)
{
    self->keys = NULL;
    self->vals = NULL;
    self->cap = 0;
    self->count = 0;
}

void sl_u64map_fini(sl_u64map_t *self)
{
    free(self->keys);
    free(self->vals);
    sl_u64map_init(self);
}

static int s_grow(sl_u64map_t *self)
{
    size_t ncap = self->cap ? self->cap * 2 : 16;
    uint64_t *nkeys = calloc(ncap, sizeof(*nkeys));
    void **nvals = calloc(ncap, sizeof(*nvals));
    if (!nkeys || !nvals) {
        free(nkeys);
        free(nvals);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < self->cap; i++) {
        if (self->keys[i]) {
            size_t j = s_hash(self->keys[i], ncap - 1);
            while (nkeys[j]) {
                j = (j + 1) & (ncap - 1);
            }
            nkeys[j] = self->keys[i];
            nvals[j] = self->vals[i];
        }
    }
    free(self->keys);
    free(self->vals);
    self->keys = nkeys;
    self->vals = nvals;
    self->cap = ncap;
    return 0;
}

int sl_u64map_put(sl_u64map_t *self, uint64_t key, void *val)
{
    if (key == 0) {
        return SL_EINVAL;
    }
    /* Keep the load under 1/2 so probes stay short. */
    if ((self->count + 1) * 2 > self->cap) {
        int rc = s_grow(self);
        if (rc < 0) {
            return rc;
        }
    }
    size_t mask = self->cap - 1;
    size_t i = s_hash(key, mask);
    while (self->keys[i] && self->keys[i] != key) {
        i = (i + 1) & mask;
    }
    if (!self->keys[i]) {
        self->count++;
    }
    self->keys[i] = key;
    self->vals[i] = val;
    return 0;
}

static size_t s_find(const sl_u64map_t *self, uint64_t key)
{
    if (self->cap == 0 || key == 0) {
        return SIZE_MAX;
    }
    size_t mask = self->cap - 1;
    size_t i = s_hash(key, mask);
    while (self->keys[i]) {
        if (self->keys[i] == key) {
            return i;
        }
        i = (i + 1) & mask;
    }
    return SIZE_MAX;
}

void *sl_u64map_get(const sl_u64map_t *self, uint64_t key)
{
    size_t i = s_find(self, key);
    return i == SIZE_MAX ? NULL : self->vals[i];
}

void *sl_u64map_take(sl_u64map_t *self, uint64_t key)
{
    size_t i = s_find(self, key);
    if (i == SIZE_MAX) {
        return NULL;
    }
    void *val = self->vals[i];
    size_t mask = self->cap - 1;
    /* Backward shift: pull later entries of the probe run into the hole. */
    size_t hole = i;
    size_t j = (i + 1) & mask;
    while (self->keys[j]) {
        size_t home = s_hash(self->keys[j], mask);
        /* Move j into the hole unless its home lies cyclically in (hole, j]. */
        int in_range = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!in_range) {
            self->keys[hole] = self->keys[j];
            self->vals[hole] = self->vals[j];
            hole = j;
        }
        j = (j + 1) & mask;
    }
    self->keys[hole] = 0;
    self->vals[hole] = NULL;
    self->count--;
    return val;
}
