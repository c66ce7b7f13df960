/*  sl_map.h: the project's hash map, from integer keys or string keys to
    pointers (open addressing, linear probing, backward-shift deletion, so no
    tombstones pile up when a long-running actor adds and removes millions of
    timers, requests or attempts).

    One map serves both kinds of key: a zeroed sl_map_t is an empty map, and
    the first put decides its kind (the _str calls make it a string map;
    mixing kinds on one map is a programmer error). A string map borrows its
    keys: each must stay valid and unchanged while its entry is in the map
    (usually the key is a field of the value). Keys are compared, never just
    their hashes, so two keys are never one entry. Integer key 0 is reserved
    (ids start at 1). Not thread-safe: one owner thread.
*/
#ifndef SL_MAP_H
#define SL_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *keys;    /* 0 = empty; string maps: the key's hash, never 0 */
    const char **strs; /* string maps only: the keys (borrowed) */
    void **vals;
    size_t cap; /* power of two, 0 before the first put */
    size_t count;
    bool by_str;
} sl_map_t;

/* Same as zeroing. */
void sl_map_init(sl_map_t *self);
/* Frees the table (not the values, nor string keys) and leaves it empty. */
void sl_map_fini(sl_map_t *self);

/* 0, SL_ENOMEM, or SL_EINVAL for key 0. Replaces an existing value. */
int sl_map_put(sl_map_t *self, uint64_t key, void *val);
/* The value, or NULL. */
void *sl_map_get(const sl_map_t *self, uint64_t key);
/* Removes and returns the value, or NULL when absent. */
void *sl_map_take(sl_map_t *self, uint64_t key);

/* The same for a string map; key is borrowed (see above). */
int sl_map_put_str(sl_map_t *self, const char *key, void *val);
void *sl_map_get_str(const sl_map_t *self, const char *key);
void *sl_map_take_str(sl_map_t *self, const char *key);

/* Walks the entries: start with *pos = 0; each call sets *val to the next
   value and returns true, or returns false after the last. The map must not
   change during the walk. */
bool sl_map_next(const sl_map_t *self, size_t *pos, void **val);

#endif
