/* Call stacks interned for FILE.kernel (stack_intern.h): each distinct
 * stack gets an id the first time it is seen, so a CPU sample costs a few
 * bytes on disk (its thread, its stack's id) and each stack is written once
 * (DEF_STACK). An open-addressing table of ids keyed by a hash of the
 * addresses, the addresses kept in one growing pool. */
#include "stack_intern.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct si_entry {
  uint64_t hash;
  size_t at; /* first address in the pool */
  unsigned n;
} si_entry;

struct si_table {
  uint32_t *slots; /* ids (entries + 1), 0 empty; power-of-2 size */
  size_t nslots;
  si_entry *entries; /* by id - 1 */
  size_t nentries, entries_cap;
  uint64_t *pool;
  size_t pool_len, pool_cap;
};

si_table *si_new(void) {
  si_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->nslots = 1024;
  t->slots = calloc(t->nslots, sizeof *t->slots);
  if (!t->slots) {
    free(t);
    return NULL;
  }
  return t;
}

void si_free(si_table *t) {
  if (!t)
    return;
  free(t->slots);
  free(t->entries);
  free(t->pool);
  free(t);
}

static uint64_t stack_hash(const uint64_t *pcs, unsigned n) {
  return ctrace__mix64(ctrace__fnv1a(pcs, (size_t)n * sizeof *pcs, 0), n);
}

static int same(const si_table *t, const si_entry *e, uint64_t hash, const uint64_t *pcs,
                unsigned n) {
  return e->hash == hash && e->n == n && !memcmp(t->pool + e->at, pcs, (size_t)n * sizeof *pcs);
}

/* Doubles the slots (load kept under 1/2). @return 0, or -1 out of memory. */
static int grow_slots(si_table *t) {
  size_t ns = t->nslots * 2;
  uint32_t *s = calloc(ns, sizeof *s);
  if (!s)
    return -1;
  for (size_t i = 0; i < t->nentries; i++) {
    size_t j = (size_t)t->entries[i].hash & (ns - 1);
    while (s[j])
      j = (j + 1) & (ns - 1);
    s[j] = (uint32_t)(i + 1);
  }
  free(t->slots);
  t->slots = s;
  t->nslots = ns;
  return 0;
}

/* Keeps pcs as a new entry. @return its id, or 0 out of memory. */
static uint32_t add_entry(si_table *t, uint64_t hash, const uint64_t *pcs, unsigned n) {
  if (t->nentries == t->entries_cap) {
    size_t cap = t->entries_cap ? t->entries_cap * 2 : 256;
    si_entry *e = realloc(t->entries, cap * sizeof *e);
    if (!e)
      return 0;
    t->entries = e;
    t->entries_cap = cap;
  }
  if (t->pool_len + n > t->pool_cap) {
    size_t cap = t->pool_cap ? t->pool_cap * 2 : 4096;
    while (cap < t->pool_len + n)
      cap *= 2;
    uint64_t *p = realloc(t->pool, cap * sizeof *p);
    if (!p)
      return 0;
    t->pool = p;
    t->pool_cap = cap;
  }
  memcpy(t->pool + t->pool_len, pcs, (size_t)n * sizeof *pcs);
  t->entries[t->nentries] = (si_entry){hash, t->pool_len, n};
  t->pool_len += n;
  return (uint32_t)++t->nentries;
}

uint32_t si_intern(si_table *t, const uint64_t *pcs, unsigned n, int *is_new) {
  *is_new = 0;
  if (n == 0)
    return 0;
  if ((t->nentries + 1) * 2 > t->nslots && grow_slots(t) != 0)
    return 0;
  uint64_t hash = stack_hash(pcs, n);
  size_t j = (size_t)hash & (t->nslots - 1);
  while (t->slots[j]) {
    if (same(t, &t->entries[t->slots[j] - 1], hash, pcs, n))
      return t->slots[j];
    j = (j + 1) & (t->nslots - 1);
  }
  uint32_t id = add_entry(t, hash, pcs, n);
  if (id) {
    t->slots[j] = id;
    *is_new = 1;
  }
  return id;
}

size_t si_count(const si_table *t) { return t->nentries; }

const uint64_t *si_stack(const si_table *t, uint32_t id, unsigned *n) {
  if (id == 0 || id > t->nentries) {
    *n = 0;
    return NULL;
  }
  const si_entry *e = &t->entries[id - 1];
  *n = e->n;
  return t->pool + e->at;
}
