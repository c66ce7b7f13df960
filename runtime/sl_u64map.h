/*  sl_u64map.h: an internal open-addressing hash map from u64 keys to
    pointers, used for timer ids and request correlation ids. Not thread-safe;
    key 0 is reserved (ids and corrs start at 1). Runtime-internal header.
*/
#ifndef SL_U64MAP_H
#define SL_U64MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys; /* 0 = empty */
    void **vals;
    size_t cap; /* power of two, 0 before the first put */
    size_t count;
} sl_u64map_t;

void sl_u64map_init(sl_u64map_t *self);
void sl_u64map_fini(sl_u64map_t *self);

/* 0, or SL_ENOMEM. Replaces an existing value. key must not be 0. */
int sl_u64map_put(sl_u64map_t *self, uint64_t key, void *val);

/* The value, or NULL. */
void *sl_u64map_get(const sl_u64map_t *self, uint64_t key);

/* Removes and returns the value, or NULL when absent. */
void *sl_u64map_take(sl_u64map_t *self, uint64_t key);

#endif
