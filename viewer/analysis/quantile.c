/* Percentiles of durations: a log-linear histogram, and exact values
 * while they are few (quantile.h). */
#include <stdlib.h>
#include <string.h>

#include "quantile.h"

#define SUB (1u << QT_SUB_BITS) /* buckets per chunk */

/* Chunk k holds [0, SUB) for k 0, else [2^(k+6), 2^(k+7)) in buckets of
 * width 2^(k-1); *b gets the bucket of v in it. */
static unsigned chunk_of(uint64_t v, unsigned *b) {
  if (v < SUB) {
    *b = (unsigned)v;
    return 0;
  }
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= QT_SUB_BITS */
  unsigned k = e - QT_SUB_BITS + 1;
  *b = (unsigned)(v >> (k - 1)) & (SUB - 1);
  return k;
}

/* The smallest value of bucket b of chunk k, and its width. */
static uint64_t bucket_lo(unsigned k, unsigned b, uint64_t *width) {
  if (k == 0) {
    *width = 1;
    return b;
  }
  *width = 1ull << (k - 1);
  return ((uint64_t)SUB + b) << (k - 1);
}

int qt_add(qt_sketch *s, uint64_t v) {
  unsigned b, k = chunk_of(v, &b);
  if (!s->chunk[k] && !(s->chunk[k] = calloc(SUB, sizeof *s->chunk[k])))
    return -1;
  s->chunk[k][b]++;
  if (!s->count || v < s->min)
    s->min = v;
  if (!s->count || v > s->max)
    s->max = v;
  s->count++;
  s->sum += v;
  return 0;
}

int qt_merge(qt_sketch *dst, const qt_sketch *src) {
  if (!src->count)
    return 0;
  for (unsigned k = 0; k < QT_CHUNKS; k++) {
    if (!src->chunk[k])
      continue;
    if (!dst->chunk[k] && !(dst->chunk[k] = calloc(SUB, sizeof *dst->chunk[k])))
      return -1;
    for (unsigned b = 0; b < SUB; b++)
      dst->chunk[k][b] += src->chunk[k][b];
  }
  if (!dst->count || src->min < dst->min)
    dst->min = src->min;
  if (!dst->count || src->max > dst->max)
    dst->max = src->max;
  dst->count += src->count;
  dst->sum += src->sum;
  return 0;
}

size_t qt_rank(size_t n, unsigned p) {
  size_t rank = n / 100 * p + (n % 100 * p + 99) / 100;
  return rank ? rank : 1;
}

uint64_t qt_quantile(const qt_sketch *s, unsigned p) {
  if (!s->count)
    return 0;
  uint64_t want = qt_rank((size_t)s->count, p), seen = 0;
  for (unsigned k = 0; k < QT_CHUNKS; k++) {
    for (unsigned b = 0; s->chunk[k] && b < SUB; b++) {
      seen += s->chunk[k][b];
      if (seen < want)
        continue;
      uint64_t w, lo = bucket_lo(k, b, &w), mid = lo + w / 2;
      return mid < s->min ? s->min : mid > s->max ? s->max : mid;
    }
  }
  return s->max; /* not reached: the counts add up to count */
}

void qt_hist_log2(const qt_sketch *s, uint64_t *hist, unsigned nb) {
  for (unsigned k = 0; k < QT_CHUNKS; k++) {
    for (unsigned b = 0; s->chunk[k] && b < SUB; b++) {
      uint64_t w, lo = bucket_lo(k, b, &w);
      unsigned e = lo ? 63u - (unsigned)__builtin_clzll(lo) : 0;
      hist[e < nb ? e : nb - 1] += s->chunk[k][b];
    }
  }
}

void qt_free(qt_sketch *s) {
  if (!s)
    return;
  for (unsigned k = 0; k < QT_CHUNKS; k++)
    free(s->chunk[k]);
  memset(s, 0, sizeof *s);
}

/* ---- Exact while few --------------------------------------------------------------- */

/* The values of d into a new sketch, which replaces them. @return 0, or -1
 * when out of memory (d is then as it was). */
static int to_sketch(qt_dist *d) {
  qt_sketch *s = calloc(1, sizeof *s);
  if (!s)
    return -1;
  for (size_t i = 0; i < d->n; i++)
    if (qt_add(s, d->v[i])) {
      qt_free(s);
      free(s);
      return -1;
    }
  free(d->v);
  d->v = NULL;
  d->n = d->cap = 0;
  d->s = s;
  return 0;
}

int qt_dist_add(qt_dist *d, uint64_t v) {
  if (!d->s && d->n == QT_EXACT_MAX && to_sketch(d))
    return -1;
  if (d->s)
    return qt_add(d->s, v);
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 8;
    uint64_t *nv = realloc(d->v, cap * sizeof *nv);
    if (!nv)
      return -1;
    d->v = nv;
    d->cap = cap;
  }
  d->v[d->n++] = v;
  d->sorted = 0;
  return 0;
}

int qt_dist_merge(qt_dist *dst, const qt_dist *src) {
  if (src->s) {
    if (!dst->s && to_sketch(dst))
      return -1;
    return qt_merge(dst->s, src->s);
  }
  for (size_t i = 0; i < src->n; i++)
    if (qt_dist_add(dst, src->v[i]))
      return -1;
  return 0;
}

uint64_t qt_dist_count(const qt_dist *d) { return d->s ? d->s->count : d->n; }

int qt_dist_estimated(const qt_dist *d) { return d->s != NULL; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

uint64_t qt_dist_percentile(qt_dist *d, unsigned p) {
  if (d->s)
    return qt_quantile(d->s, p);
  if (!d->n)
    return 0;
  if (!d->sorted) {
    qsort(d->v, d->n, sizeof *d->v, cmp_u64);
    d->sorted = 1;
  }
  return d->v[qt_rank(d->n, p) - 1];
}

void qt_dist_hist_log2(const qt_dist *d, uint64_t *hist, unsigned nb) {
  if (d->s) {
    qt_hist_log2(d->s, hist, nb);
    return;
  }
  for (size_t i = 0; i < d->n; i++) {
    unsigned e = d->v[i] ? 63u - (unsigned)__builtin_clzll(d->v[i]) : 0;
    hist[e < nb ? e : nb - 1]++;
  }
}

/* Appends (value, count) to runs r[0..n), merged with the last run when
 * of the same value. @return 0, or -1 when out of memory. */
static int push_run(qt_run **r, size_t *n, size_t *cap, uint64_t value, uint64_t count) {
  if (*n && (*r)[*n - 1].value == value) {
    (*r)[*n - 1].count += count;
    return 0;
  }
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 16;
    qt_run *nr = realloc(*r, c * sizeof *nr);
    if (!nr)
      return -1;
    *r = nr;
    *cap = c;
  }
  (*r)[(*n)++] = (qt_run){value, count};
  return 0;
}

size_t qt_dist_runs(qt_dist *d, int bucketed, qt_run **out) {
  qt_run *r = NULL;
  size_t n = 0, cap = 0;
  int ok = 1;
  *out = NULL;
  if (d->s) {
    for (unsigned k = 0; ok && k < QT_CHUNKS; k++)
      for (unsigned b = 0; ok && d->s->chunk[k] && b < SUB; b++) {
        uint64_t w;
        if (d->s->chunk[k][b])
          ok = !push_run(&r, &n, &cap, bucket_lo(k, b, &w), d->s->chunk[k][b]);
      }
  } else if (d->n) {
    qt_dist_percentile(d, 50); /* (sorts them) */
    for (size_t i = 0; ok && i < d->n; i++) {
      uint64_t v = d->v[i], w;
      unsigned b, k = bucketed ? chunk_of(v, &b) : 0;
      ok = !push_run(&r, &n, &cap, bucketed ? bucket_lo(k, b, &w) : v, 1);
    }
  }
  if (!ok) {
    free(r);
    return (size_t)-1;
  }
  *out = r;
  return n;
}

void qt_dist_free(qt_dist *d) {
  if (!d)
    return;
  free(d->v);
  qt_free(d->s);
  free(d->s);
  memset(d, 0, sizeof *d);
}
