/* This file is private to viewer/analysis: the percentiles of durations
 * without keeping every duration (quantile.c).
 *
 * qt_sketch is a log-linear histogram (as HdrHistogram's): values below
 * 256 each have their own bucket; above, every power of two [2^e, 2^(e+1))
 * is cut into 128 buckets of equal width 2^(e-7), at most 1/128 of the
 * values in them. A quantile is the middle of the bucket holding the value
 * of its rank (clamped to [min, max]), so it is within QT_REL_ERROR (1/256)
 * of that value: |estimate - exact| <= exact / 256. Count, sum, min and max
 * are exact. Buckets are allocated 128 at a time, per power of two that
 * holds a value (1 KiB each, at most 58 of them for all of uint64_t).
 * Adding values in any order, or merging sketches of parts of them, gives
 * the same sketch.
 *
 * qt_dist keeps the values themselves while there are at most QT_EXACT_MAX
 * of them, so its percentiles are exact (nearest rank, as st_percentile was),
 * and moves to a sketch beyond: qt_dist_estimated() then says so.
 *
 * Not thread-safe: one writer per qt_sketch / qt_dist; merge partial ones
 * made by different threads. */
#ifndef CTRACE_QUANTILE_H
#define CTRACE_QUANTILE_H

#include <stddef.h>
#include <stdint.h>

#define QT_SUB_BITS 7                    /* 2^7 buckets per power of two */
#define QT_CHUNKS (64 - QT_SUB_BITS + 1) /* [0, 128), [128, 256), ... [2^63, 2^64) */
#define QT_REL_ERROR (1.0 / 256)         /* of a quantile, relative to the exact value */
#define QT_REL_ERROR_TEXT "0.4%"         /* the same, for people */
#define QT_EXACT_MAX 4096                /* a qt_dist keeps up to this many values */

typedef struct qt_sketch {
  uint64_t count, sum, min, max; /* sum: modulo 2^64 */
  uint64_t *chunk[QT_CHUNKS];    /* 2^QT_SUB_BITS counts each, or NULL while all are 0 */
} qt_sketch;

/* An empty sketch is all zero ({0}). @return 0, or -1 when out of memory
 * (the sketch is then as it was). */
int qt_add(qt_sketch *s, uint64_t v);
/* Adds every value of src to dst. @return 0, or -1 when out of memory
 * (dst may then hold part of src: free it). */
int qt_merge(qt_sketch *dst, const qt_sketch *src);
/* The estimate of the value of nearest rank ceil(p/100 * count) (p in
 * 0..100; rank 1 for p 0), or 0 when empty. */
uint64_t qt_quantile(const qt_sketch *s, unsigned p);
/* Adds the count of values v with floor(log2 v) = b into hist[b] (v 0: into
 * hist[0]; b >= nb: into hist[nb - 1]). Exact: a bucket never straddles a
 * power of two. */
void qt_hist_log2(const qt_sketch *s, uint64_t *hist, unsigned nb);
/* Frees the buckets; the sketch is empty again. NULL is fine. */
void qt_free(qt_sketch *s);

/* The rank (1-based) of percentile p (0..100) among n values, n > 0:
 * ceil(p/100 * n), at least 1, without overflow. */
size_t qt_rank(size_t n, unsigned p);

typedef struct qt_dist {
  uint64_t *v; /* the values while exact (s == NULL); sorted when `sorted` */
  size_t n, cap;
  int sorted;
  qt_sketch *s; /* once more than QT_EXACT_MAX values were added (v is then freed) */
} qt_dist;

/* An empty one is all zero ({0}). @return 0, or -1 when out of memory (the
 * value is then not counted: free it). */
int qt_dist_add(qt_dist *d, uint64_t v);
/* Adds every value of src to dst: the result is what adding them one by
 * one would give. @return 0, or -1 when out of memory. */
int qt_dist_merge(qt_dist *dst, const qt_dist *src);
uint64_t qt_dist_count(const qt_dist *d);
/* 1 when the percentiles are estimates (more than QT_EXACT_MAX values). */
int qt_dist_estimated(const qt_dist *d);
/* The value of nearest rank ceil(p/100 * n), exact or estimated (0 when
 * empty); sorts the exact values the first time. */
uint64_t qt_dist_percentile(qt_dist *d, unsigned p);
/* As qt_hist_log2, exact in both states. */
void qt_dist_hist_log2(const qt_dist *d, uint64_t *hist, unsigned nb);
/* Frees what it holds; empty again. NULL is fine. */
void qt_dist_free(qt_dist *d);

/* The values of d in ascending order, as runs of equal values (for rank
 * tests: ctrace diff's Mann-Whitney test, diff.c): exact values as they
 * are, or, when `bucketed` or d is a sketch, each sketch bucket holding
 * any as one run valued at the bucket's lowest value, so that two dists
 * ranked together are bucketed alike (pass bucketed = 1 for both when
 * either is estimated). Sorts the exact values the first time.
 * @return the runs' count in *out (free it), or (size_t)-1 when out of
 * memory (0 and *out NULL when empty). */
typedef struct qt_run {
  uint64_t value, count;
} qt_run;
size_t qt_dist_runs(qt_dist *d, int bucketed, qt_run **out);

#endif
