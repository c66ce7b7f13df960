/*  sl_timer.c: the per-actor timer heap behind sl_timer.h.

    Design notes. Timer records live in a slab (an array reused through a free
    list) and the heap is an array of slab indices; each record remembers its
    heap position so cancel is O(log n). Ids come from a 64-bit counter and a
    small hash map finds the record of an id, so ids are never reused. The
    heap key is (due, seq): seq is taken at every (re)arm, which makes timers
    due at the same time fire in the order they were armed. A run only fires
    timers armed before it started, so a callback that arms a delay-0 timer
    cannot keep one run going forever; the new timer fires on the next run.
    One thread owns a heap.
*/
#include "runtime/sl_timer.h"

#include <stdbool.h>
#include <stdlib.h>

#include "runtime/sl_err.h"
#include "runtime/sl_map.h"

typedef struct {
    uint64_t id; /* 0 when the slot is free */
    uint64_t seq;
    int64_t due;
    int64_t period;
    sl_timer_fn *fn;
    void *arg;
    size_t pos;       /* index in heap */
    size_t next_free; /* free list link */
} s_timer_t;

struct sl_timers_t {
    s_timer_t *slab;
    size_t slab_cap;
    size_t slab_used; /* high-water index into slab */
    size_t free_head; /* SIZE_MAX when empty */
    size_t *heap;     /* slab indices */
    size_t heap_len;
    size_t heap_cap;
    uint64_t next_id;
    uint64_t next_seq;
    sl_map_t ids; /* id -> slab index + 1 (as a pointer-sized integer) */
};

sl_timers_t *sl_timers_new(void)
{
    sl_timers_t *self = calloc(1, sizeof(*self));
    if (!self) {
        return NULL;
    }
    self->free_head = SIZE_MAX;
    self->next_id = 1;
    self->next_seq = 1;
    sl_map_init(&self->ids);
    return self;
}

void sl_timers_destroy(sl_timers_t **p)
{
    if (!p || !*p) {
        return;
    }
    sl_timers_t *self = *p;
    sl_map_fini(&self->ids);
    free(self->slab);
    free(self->heap);
    free(self);
    *p = NULL;
}

static bool s_less(const sl_timers_t *self, size_t a, size_t b)
{
    const s_timer_t *ta = &self->slab[a];
    const s_timer_t *tb = &self->slab[b];
    if (ta->due != tb->due) {
        return ta->due < tb->due;
    }
    return ta->seq < tb->seq;
}

static void s_place(sl_timers_t *self, size_t pos, size_t slot)
{
    self->heap[pos] = slot;
    self->slab[slot].pos = pos;
}

static void s_sift_up(sl_timers_t *self, size_t pos)
{
    size_t slot = self->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!s_less(self, slot, self->heap[parent])) {
            break;
        }
        s_place(self, pos, self->heap[parent]);
        pos = parent;
    }
    s_place(self, pos, slot);
}

static void s_sift_down(sl_timers_t *self, size_t pos)
{
    size_t slot = self->heap[pos];
    for (;;) {
        size_t child = 2 * pos + 1;
        if (child >= self->heap_len) {
            break;
        }
        if (child + 1 < self->heap_len && s_less(self, self->heap[child + 1], self->heap[child])) {
            child++;
        }
        if (!s_less(self, self->heap[child], slot)) {
            break;
        }
        s_place(self, pos, self->heap[child]);
        pos = child;
    }
    s_place(self, pos, slot);
}

/* Removes the record at heap position pos from the heap (not from the slab). */
static void s_heap_remove(sl_timers_t *self, size_t pos)
{
    self->heap_len--;
    if (pos == self->heap_len) {
        return;
    }
    s_place(self, pos, self->heap[self->heap_len]);
    if (pos > 0 && s_less(self, self->heap[pos], self->heap[(pos - 1) / 2])) {
        s_sift_up(self, pos);
    } else {
        s_sift_down(self, pos);
    }
}

static void s_slot_free(sl_timers_t *self, size_t slot)
{
    sl_map_take(&self->ids, self->slab[slot].id);
    self->slab[slot].id = 0;
    self->slab[slot].next_free = self->free_head;
    self->free_head = slot;
}

uint64_t sl_timers_add(sl_timers_t *self, int64_t due_ms, int64_t period_ms, sl_timer_fn *fn,
                       void *arg)
{
    if (!self || !fn) {
        return 0;
    }
    if (self->heap_len == self->heap_cap) {
        size_t ncap = self->heap_cap ? self->heap_cap * 2 : 64;
        size_t *nheap = realloc(self->heap, ncap * sizeof(*nheap));
        if (!nheap) {
            return 0;
        }
        self->heap = nheap;
        self->heap_cap = ncap;
    }
    size_t slot;
    if (self->free_head != SIZE_MAX) {
        slot = self->free_head;
        self->free_head = self->slab[slot].next_free;
    } else {
        if (self->slab_used == self->slab_cap) {
            size_t ncap = self->slab_cap ? self->slab_cap * 2 : 64;
            s_timer_t *nslab = realloc(self->slab, ncap * sizeof(*nslab));
            if (!nslab) {
                return 0;
            }
            self->slab = nslab;
            self->slab_cap = ncap;
        }
        slot = self->slab_used++;
    }
    uint64_t id = self->next_id;
    if (sl_map_put(&self->ids, id, (void *)(uintptr_t)(slot + 1)) < 0) {
        self->slab[slot].id = 0;
        self->slab[slot].next_free = self->free_head;
        self->free_head = slot;
        return 0;
    }
    self->next_id++;
    s_timer_t *t = &self->slab[slot];
    t->id = id;
    t->seq = self->next_seq++;
    t->due = due_ms;
    t->period = period_ms > 0 ? period_ms : 0;
    t->fn = fn;
    t->arg = arg;
    self->heap_len++;
    s_place(self, self->heap_len - 1, slot);
    s_sift_up(self, self->heap_len - 1);
    return id;
}

int sl_timers_cancel(sl_timers_t *self, uint64_t id)
{
    if (!self) {
        return SL_EINVAL;
    }
    uintptr_t v = (uintptr_t)sl_map_get(&self->ids, id);
    if (v == 0) {
        return SL_ENOTFOUND;
    }
    size_t slot = (size_t)v - 1;
    s_heap_remove(self, self->slab[slot].pos);
    s_slot_free(self, slot);
    return 0;
}

int64_t sl_timers_next_due(sl_timers_t *self)
{
    if (!self || self->heap_len == 0) {
        return INT64_MAX;
    }
    return self->slab[self->heap[0]].due;
}

size_t sl_timers_run(sl_timers_t *self, int64_t now_ms)
{
    if (!self) {
        return 0;
    }
    uint64_t seq_limit = self->next_seq;
    size_t fired = 0;
    while (self->heap_len > 0) {
        size_t slot = self->heap[0];
        s_timer_t *t = &self->slab[slot];
        if (t->due > now_ms || t->seq >= seq_limit) {
            /* Equal dues are ordered by seq, so a fresh timer at the top
               means every older one due now has already fired. */
            break;
        }
        sl_timer_fn *fn = t->fn;
        void *arg = t->arg;
        uint64_t id = t->id;
        if (t->period > 0) {
            int64_t next = t->due + t->period;
            if (next <= now_ms) {
                /* Skip missed periods: fire at most once per run. */
                int64_t missed = (now_ms - next) / t->period + 1;
                next += missed * t->period;
            }
            t->due = next;
            t->seq = self->next_seq++;
            s_sift_down(self, 0);
        } else {
            s_heap_remove(self, 0);
            s_slot_free(self, slot);
        }
        fired++;
        fn(arg, id);
    }
    return fired;
}

size_t sl_timers_count(sl_timers_t *self)
{
    return self ? self->heap_len : 0;
}
