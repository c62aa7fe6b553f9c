/* This file is private to viewer/analysis: the time pyramid of one lane
 * (pyramid.c). What the server calls (vx_lane_window, vx_pyr_window) is
 * declared in analysis.h.
 *
 * A pyramid summarises one lane of non-overlapping items (a region depth,
 * the scheduler runs, the state band), added in start order, at levels
 * whose buckets are 4^e ns wide on a grid aligned to 0 (bucket b of level
 * e holds the items whose start >> 2e == b). Per non-empty bucket a level
 * keeps one vx_pyr_entry: how many items start in it and the longest of
 * them (the first of the longest on ties). A level is kept when it has at
 * most a quarter of the entries of the one below (the raw array being
 * below the first), so all levels together hold at most ~1/3 as many
 * entries as there are items. Items may still be added after queries (a
 * live lane grows at its end: the last entry of each level changes). */
#ifndef CTRACE_VIEWER_PYRAMID_H
#define CTRACE_VIEWER_PYRAMID_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

#define VX_PYR_MAX_LEVELS 32

/* One bucket of a level (the bucket is start >> 2e: the longest item lies
 * in it). A flat POD: a level is an array of these, as stored in a file. */
typedef struct vx_pyr_entry {
  uint64_t start, dur; /* the longest item of the bucket */
  uint64_t ref;        /* its ref (vx_pyr_add's; the query wants its index in the lane) */
  uint32_t label;
  uint32_t count; /* items that start in the bucket */
} vx_pyr_entry;

/* An empty pyramid. @return NULL when out of memory. */
vx_pyr *vx_pyr_new(void);
/* Frees p (NULL is fine); arrays given to vx_pyr_view stay the caller's. */
void vx_pyr_free(vx_pyr *p);

/* Adds one item: start not before the previous item's. The first items are
 * staged until the levels are chosen (after 4096 of them, or at once by
 * vx_pyr_extend from the counts of everything it is given).
 * @return 0, or -1 when out of memory (p is then unchanged). */
int vx_pyr_add(vx_pyr *p, uint64_t start, uint64_t dur, uint32_t label, uint64_t ref);

/* Adds items [vx_pyr_items(p), src->n) of src, ref = the item's index. When
 * p has no levels yet, they are chosen from the counts of all those items
 * first. @return 0, or -1 when out of memory (p then holds a prefix). */
int vx_pyr_extend(vx_pyr *p, const vx_lane_src *src);

/* Items added so far. */
uint64_t vx_pyr_items(const vx_pyr *p);
/* The last item added (not known of a view's). @return 0, or -1 if none
 * is known. vx_lane_window makes a lane's pyramid again when its array's
 * item there is no longer this one (a growing index takes back the last
 * item of a lane, a region still open, and adds it again longer). */
int vx_pyr_last(const vx_pyr *p, uint64_t *start, uint64_t *dur);

/* The levels, finest first: level i's entries (sorted by start), their
 * count in *n and the bucket width 4^(*exp4) ns. For storing them in a file. */
size_t vx_pyr_levels(const vx_pyr *p);
const vx_pyr_entry *vx_pyr_level(const vx_pyr *p, size_t i, unsigned *exp4, size_t *n);

/* A pyramid over levels given from outside (e.g. memory-mapped; vx_pyr_level's
 * arrays of a pyramid of `items` items), which stay the caller's and are
 * never written: adding items to it copies them first.
 * @return NULL when out of memory or when the levels are not finest first. */
vx_pyr *vx_pyr_view(size_t nlevels, const unsigned *exp4, const vx_pyr_entry *const *levels,
                    const size_t *n, uint64_t items);

/* ---- Counters (pyramid_counter.c) ---- */

/* A bucket of a counter's level: the first sample's time and index, and
 * the values of the samples in it. */
typedef struct vx_cpyr_entry {
  uint64_t ts, first;
  double min, max, last;
} vx_cpyr_entry;

typedef struct vx_cpyr vx_cpyr;
vx_cpyr *vx_cpyr_new(void);    /* NULL when out of memory */
void vx_cpyr_free(vx_cpyr *p); /* accepts NULL */
/* Adds samples [vx_cpyr_items(p), n) of a (sorted by time; the levels are
 * chosen from all of a at the first call). @return 0, or -1 out of memory. */
int vx_cpyr_extend(vx_cpyr *p, const vx_sample *a, size_t n);
size_t vx_cpyr_items(const vx_cpyr *p);
/* The last sample added. @return 0, or -1 if none. */
int vx_cpyr_last(const vx_cpyr *p, uint64_t *ts, double *value);
size_t vx_cpyr_levels(const vx_cpyr *p);
/* The counter marks of a[0..n) in [t0, t1] at w ns per pixel over px
 * pixels, as vx_counter_window (analysis.h) gives them; a window of at
 * most 4 * px samples (or p NULL or of other than n samples) is walked.
 * @return -1 when walked, else the exponent of the level used. */
int vx_cpyr_window(const vx_cpyr *p, const vx_sample *a, size_t n, uint64_t t0, uint64_t t1,
                   uint64_t w, uint64_t px, vx_counter_emit emit, void *ctx);

/* Counter marks a pixel at a time, for vx_cpyr_window and the scale
 * index's counters (scale_counter_query.c): pieces (a sample, a bucket of
 * samples) fed in time order; per pixel of w ns from t0, one mark of their
 * min, max and last value, at the time of its first piece (t0 at the
 * earliest). */
typedef struct vx_cpix {
  uint64_t t0, w;
  vx_counter_emit emit;
  void *ctx;
  int have;
  uint64_t cur, ts;
  double mn, mx, last;
} vx_cpix;
void vx__cpix_feed(vx_cpix *q, uint64_t ts, double mn, double mx, double last);
void vx__cpix_flush(vx_cpix *q); /* the last pixel's mark */

#endif /* CTRACE_VIEWER_PYRAMID_H */
