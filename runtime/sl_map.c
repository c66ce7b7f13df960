/*  sl_map.c: linear probing with backward-shift deletion (see sl_map.h).
    Integer and string maps share every line: a slot's home is the mixed
    64-bit key, which for a string map is the string's FNV-1a hash with bit
    32 set (so it is never 0, the empty mark), and a string map compares the
    strings of slots whose hashes match.
*/
#include "runtime/sl_map.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/sl_err.h"
#include "runtime/sl_hash.h"

static uint64_t s_str_key(const char *s)
{
    return (uint64_t)sl_hash_str(s) | (1ULL << 32);
}

static size_t s_home(uint64_t key, size_t mask)
{
    return (size_t)sl_hash_u64(key) & mask;
}

static bool s_match(const sl_map_t *self, size_t i, uint64_t key, const char *str)
{
    return self->keys[i] == key && (!str || strcmp(self->strs[i], str) == 0);
}

void sl_map_init(sl_map_t *self)
{
    memset(self, 0, sizeof(*self));
}

void sl_map_fini(sl_map_t *self)
{
    free(self->keys);
    free(self->strs);
    free(self->vals);
    sl_map_init(self);
}

static int s_grow(sl_map_t *self)
{
    size_t ncap = self->cap ? self->cap * 2 : 16;
    uint64_t *nkeys = calloc(ncap, sizeof(*nkeys));
    void **nvals = calloc(ncap, sizeof(*nvals));
    const char **nstrs = self->by_str ? calloc(ncap, sizeof(*nstrs)) : NULL;
    if (!nkeys || !nvals || (self->by_str && !nstrs)) {
        free(nkeys);
        free(nvals);
        free(nstrs);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < self->cap; i++) {
        if (self->keys[i]) {
            size_t j = s_home(self->keys[i], ncap - 1);
            while (nkeys[j]) {
                j = (j + 1) & (ncap - 1);
            }
            nkeys[j] = self->keys[i];
            nvals[j] = self->vals[i];
            if (nstrs) {
                nstrs[j] = self->strs[i];
            }
        }
    }
    free(self->keys);
    free(self->vals);
    free(self->strs);
    self->keys = nkeys;
    self->vals = nvals;
    self->strs = nstrs;
    self->cap = ncap;
    return 0;
}

static size_t s_find(const sl_map_t *self, uint64_t key, const char *str)
{
    if (self->cap == 0 || key == 0) {
        return SIZE_MAX;
    }
    size_t mask = self->cap - 1;
    for (size_t i = s_home(key, mask); self->keys[i]; i = (i + 1) & mask) {
        if (s_match(self, i, key, str)) {
            return i;
        }
    }
    return SIZE_MAX;
}

static int s_put(sl_map_t *self, uint64_t key, const char *str, void *val)
{
    /* Keep the load under 1/2 so probes stay short. */
    if ((self->count + 1) * 2 > self->cap) {
        int rc = s_grow(self);
        if (rc < 0) {
            return rc;
        }
    }
    size_t mask = self->cap - 1;
    size_t i = s_home(key, mask);
    while (self->keys[i] && !s_match(self, i, key, str)) {
        i = (i + 1) & mask;
    }
    if (!self->keys[i]) {
        self->count++;
    }
    self->keys[i] = key;
    self->vals[i] = val;
    if (str) {
        self->strs[i] = str;
    }
    return 0;
}

static void *s_take_at(sl_map_t *self, size_t i)
{
    void *val = self->vals[i];
    size_t mask = self->cap - 1;
    /* Backward shift: pull later entries of the probe run into the hole,
       unless their home lies cyclically in (hole, j]. */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; self->keys[j]; j = (j + 1) & mask) {
        size_t home = s_home(self->keys[j], mask);
        bool stays = (hole <= j) ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            self->keys[hole] = self->keys[j];
            self->vals[hole] = self->vals[j];
            if (self->strs) {
                self->strs[hole] = self->strs[j];
            }
            hole = j;
        }
    }
    self->keys[hole] = 0;
    self->vals[hole] = NULL;
    if (self->strs) {
        self->strs[hole] = NULL;
    }
    self->count--;
    return val;
}

int sl_map_put(sl_map_t *self, uint64_t key, void *val)
{
    assert(!self->by_str);
    if (key == 0) {
        return SL_EINVAL;
    }
    return s_put(self, key, NULL, val);
}

void *sl_map_get(const sl_map_t *self, uint64_t key)
{
    assert(!self->by_str);
    size_t i = s_find(self, key, NULL);
    return i == SIZE_MAX ? NULL : self->vals[i];
}

void *sl_map_take(sl_map_t *self, uint64_t key)
{
    assert(!self->by_str);
    size_t i = s_find(self, key, NULL);
    return i == SIZE_MAX ? NULL : s_take_at(self, i);
}

int sl_map_put_str(sl_map_t *self, const char *key, void *val)
{
    assert(self->by_str || self->count == 0);
    if (!self->by_str) {
        /* The first put makes it a string map: rebuild the (empty) table
           with its key column. */
        sl_map_fini(self);
        self->by_str = true;
    }
    return s_put(self, s_str_key(key), key, val);
}

void *sl_map_get_str(const sl_map_t *self, const char *key)
{
    assert(self->by_str || self->count == 0);
    size_t i = self->by_str ? s_find(self, s_str_key(key), key) : SIZE_MAX;
    return i == SIZE_MAX ? NULL : self->vals[i];
}

void *sl_map_take_str(sl_map_t *self, const char *key)
{
    assert(self->by_str || self->count == 0);
    size_t i = self->by_str ? s_find(self, s_str_key(key), key) : SIZE_MAX;
    return i == SIZE_MAX ? NULL : s_take_at(self, i);
}

bool sl_map_next(const sl_map_t *self, size_t *pos, void **val)
{
    for (size_t i = *pos; i < self->cap; i++) {
        if (self->keys[i]) {
            *val = self->vals[i];
            *pos = i + 1;
            return true;
        }
    }
    *pos = self->cap;
    return false;
}
