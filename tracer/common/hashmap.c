/* A uint64 -> uint32 hash map and a growable array (common.h). */
#include <stdlib.h>
#include <string.h>

#include "common.h"

static size_t slot(uint64_t k, size_t cap) {
  k ^= k >> 33; /* murmur3's finaliser */
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  return (size_t)k & (cap - 1);
}

uint32_t *vh_get(vh_map *m, uint64_t k) {
  if (k == 0)
    return m->has_zero ? &m->zero_val : NULL;
  if (!m->cap)
    return NULL;
  for (size_t i = slot(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == k)
      return &m->vals[i];
    if (!m->keys[i])
      return NULL;
  }
}

int vh_put(vh_map *m, uint64_t k, uint32_t v) {
  if (k == 0) {
    m->has_zero = 1;
    m->zero_val = v;
    return 0;
  }
  if ((m->n + 1) * 2 > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *nk = calloc(cap, sizeof *nk);
    uint32_t *nv = calloc(cap, sizeof *nv);
    if (!nk || !nv) {
      free(nk);
      free(nv);
      return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i]) {
        size_t j = slot(m->keys[i], cap);
        while (nk[j])
          j = (j + 1) & (cap - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
      }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = cap;
  }
  size_t i = slot(k, m->cap);
  while (m->keys[i] && m->keys[i] != k)
    i = (i + 1) & (m->cap - 1);
  if (!m->keys[i])
    m->n++;
  m->keys[i] = k;
  m->vals[i] = v;
  return 0;
}

int vh_del(vh_map *m, uint64_t k, uint32_t *val) {
  if (k == 0) {
    if (m->has_zero && val)
      *val = m->zero_val;
    int had = m->has_zero;
    m->has_zero = 0;
    return had;
  }
  if (!m->cap)
    return 0;
  size_t i = slot(k, m->cap);
  while (m->keys[i] && m->keys[i] != k)
    i = (i + 1) & (m->cap - 1);
  if (!m->keys[i])
    return 0;
  if (val)
    *val = m->vals[i];
  /* Backward shift: move later entries of the probe chain into the hole
   * when their home slot is not between the hole and them. */
  for (size_t j = i;;) {
    j = (j + 1) & (m->cap - 1);
    if (!m->keys[j])
      break;
    size_t h = slot(m->keys[j], m->cap);
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->n--;
  return 1;
}

void vh_free(vh_map *m) {
  free(m->keys);
  free(m->vals);
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->n = 0;
  m->has_zero = 0;
}

int vh_reserve(void **a, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 64;
  while (c < need)
    c *= 2;
  void *p = realloc(*a, c * elem);
  if (!p)
    return -1;
  *a = p;
  *cap = c;
  return 0;
}

void *vh_grow(void **a, size_t *n, size_t *cap, size_t elem) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    void *p = realloc(*a, c * elem);
    if (!p)
      return NULL;
    *a = p;
    *cap = c;
  }
  return (char *)*a + (*n)++ * elem;
}
