/* A uint64 -> uint32 hash map (open addressing, linear probing,
 * backward-shift deletion): ids to indexes for the reader, the index and
 * the exporter. Zero-initialise to start; vh_free to end. */
#ifndef CTRACE_VIEWER_HASHMAP_H
#define CTRACE_VIEWER_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct vh_map {
  uint64_t *keys; /* 0 = empty slot; key 0 itself is kept aside */
  uint32_t *vals;
  size_t cap, n;
  int has_zero;
  uint32_t zero_val;
} vh_map;

/* The value of key, or NULL. */
uint32_t *vh_get(vh_map *m, uint64_t key);
/* Sets key to val. @return 0, or -1 when out of memory. */
int vh_put(vh_map *m, uint64_t key, uint32_t val);
/* Removes key; @return 1 and its value in *val (if val), or 0 if absent. */
int vh_del(vh_map *m, uint64_t key, uint32_t *val);
void vh_free(vh_map *m);

/* A growable array: room for one more element at the end of *a (doubling),
 * NULL when out of memory. VH_PUSH(arr, n, cap) is the typed form. */
void *vh_grow(void **a, size_t *n, size_t *cap, size_t elem);
#define VH_PUSH(arr, n, cap) ((__typeof__(arr))vh_grow((void **)&(arr), &(n), &(cap), sizeof *(arr)))

#endif
