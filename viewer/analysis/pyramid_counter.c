/* Time pyramids of counters (pyramid.h's vx_cpyr): per bucket of 4^e ns
 * (on a grid aligned to 0) the first sample's time and index, and the
 * minimum, maximum and last value of the samples in it; the levels kept
 * as for lanes (pyramid.c: each at most a quarter of the entries below).
 * A window of many samples is answered from the coarsest level at most a
 * pixel wide, finer levels and samples only where the window cuts a bucket. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "pyramid.h"

#define RAW_PER_PX 4 /* a window of at most this many samples per pixel is walked */
#define RAW_SMALL 16 /* index ranges this short are walked */
#define TOP_MIN 16   /* no level above one with this few entries */

typedef struct clevel {
  unsigned e;
  vx_cpyr_entry *v;
  size_t n, cap;
} clevel;

struct vx_cpyr {
  size_t items;
  uint64_t last_ts; /* the last sample added (a live counter may change it) */
  double last_value;
  clevel lv[VX_PYR_MAX_LEVELS];
  size_t nlv;
};

static unsigned high_pair(uint64_t d) { return (unsigned)(63 - __builtin_clzll(d)) / 2; }

/* Adds sample i to level l. @return 0, or -1 out of memory. */
static int cput(clevel *l, const vx_sample *s, size_t i) {
  if (l->n && l->v[l->n - 1].ts >> (2 * l->e) == s->ts >> (2 * l->e)) {
    vx_cpyr_entry *b = &l->v[l->n - 1];
    b->min = s->value < b->min ? s->value : b->min;
    b->max = s->value > b->max ? s->value : b->max;
    b->last = s->value;
    return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap + l->cap / 2 + 16;
    vx_cpyr_entry *v = realloc(l->v, cap * sizeof *v);
    if (!v)
      return -1;
    l->v = v, l->cap = cap;
  }
  l->v[l->n++] = (vx_cpyr_entry){s->ts, i, s->value, s->value, s->value};
  return 0;
}

/* The levels of samples a[0..n): chosen from the counts of buckets at
 * every exponent (the first pass), then filled (the second). */
static int choose(vx_cpyr *p, const vx_sample *a, size_t n) {
  uint64_t hist[32] = {0}, below = n;
  for (size_t i = 1; i < n; i++)
    if (a[i].ts != a[i - 1].ts)
      hist[high_pair(a[i].ts ^ a[i - 1].ts)]++;
  for (unsigned e = 1; e < 32 && below > TOP_MIN && p->nlv < VX_PYR_MAX_LEVELS; e++) {
    uint64_t c = 1;
    for (unsigned m = e; m < 32; m++)
      c += hist[m];
    if (c <= below / 4) {
      clevel *l = &p->lv[p->nlv++];
      l->e = e, l->cap = (size_t)c + 1;
      if (!(l->v = malloc(l->cap * sizeof *l->v)))
        return -1;
      below = c;
    }
  }
  return 0;
}

vx_cpyr *vx_cpyr_new(void) { return calloc(1, sizeof(vx_cpyr)); }

void vx_cpyr_free(vx_cpyr *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->nlv; i++)
    free(p->lv[i].v);
  free(p);
}

int vx_cpyr_extend(vx_cpyr *p, const vx_sample *a, size_t n) {
  if (!p->items && !p->nlv && choose(p, a, n))
    return -1;
  for (; p->items < n; p->items++) {
    for (size_t l = 0; l < p->nlv; l++)
      if (cput(&p->lv[l], &a[p->items], p->items))
        return -1;
    p->last_ts = a[p->items].ts, p->last_value = a[p->items].value;
  }
  return 0;
}

size_t vx_cpyr_items(const vx_cpyr *p) { return p->items; }
int vx_cpyr_last(const vx_cpyr *p, uint64_t *ts, double *value) {
  if (!p->items)
    return -1;
  *ts = p->last_ts, *value = p->last_value;
  return 0;
}
size_t vx_cpyr_levels(const vx_cpyr *p) { return p->nlv; }

/* ---- A window ------------------------------------------------------------------------------ */

typedef struct cquery {
  const vx_cpyr *p;
  const vx_sample *a;
  size_t n;
  vx_cpix px;
} cquery;

void vx__cpix_flush(vx_cpix *q) {
  if (q->have)
    q->emit(q->ctx, q->ts, q->mn, q->mx, q->last);
  q->have = 0;
}

void vx__cpix_feed(vx_cpix *q, uint64_t ts, double mn, double mx, double last) {
  uint64_t b = ts <= q->t0 ? 0 : (ts - q->t0) / q->w;
  if (q->have && b == q->cur) {
    q->mn = mn < q->mn ? mn : q->mn;
    q->mx = mx > q->mx ? mx : q->mx;
    q->last = last;
    return;
  }
  vx__cpix_flush(q);
  q->have = 1, q->cur = b, q->ts = ts < q->t0 ? q->t0 : ts;
  q->mn = mn, q->mx = mx, q->last = last;
}

static size_t lower_ts(const vx_sample *a, size_t n, uint64_t t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].ts < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void crange(cquery *q, int li, size_t lo, size_t hi) {
  if (li < 0 || hi - lo <= RAW_SMALL) {
    for (size_t i = lo; i < hi; i++)
      vx__cpix_feed(&q->px, q->a[i].ts, q->a[i].value, q->a[i].value, q->a[i].value);
    return;
  }
  const clevel *l = &q->p->lv[li];
  unsigned sh = 2 * l->e;
  uint64_t bf = q->a[lo].ts >> sh, bl = q->a[hi - 1].ts >> sh;
  if (bf == bl) {
    crange(q, li - 1, lo, hi);
    return;
  }
  size_t k = 0, a = 0, b = l->n; /* k: bucket bf's entry */
  while (a < b) {
    size_t mid = a + (b - a) / 2;
    if (l->v[mid].ts >> sh < bf)
      a = mid + 1;
    else
      b = mid;
  }
  k = a;
  size_t end = k + 1 < l->n ? l->v[k + 1].first : q->n; /* the bucket's samples end */
  if (l->v[k].first == lo)
    vx__cpix_feed(&q->px, l->v[k].ts, l->v[k].min, l->v[k].max, l->v[k].last);
  else
    crange(q, li - 1, lo, end);
  for (k++; k < l->n && l->v[k].ts >> sh < bl; k++)
    vx__cpix_feed(&q->px, l->v[k].ts, l->v[k].min, l->v[k].max, l->v[k].last);
  end = k + 1 < l->n ? l->v[k + 1].first : q->n;
  if (end == hi)
    vx__cpix_feed(&q->px, l->v[k].ts, l->v[k].min, l->v[k].max, l->v[k].last);
  else
    crange(q, li - 1, l->v[k].first, hi);
}

int vx_cpyr_window(const vx_cpyr *p, const vx_sample *a, size_t n, uint64_t t0, uint64_t t1,
                   uint64_t w, uint64_t px, vx_counter_emit emit, void *ctx) {
  cquery q = {p, a, n, {t0, w ? w : 1, emit, ctx, 0, 0, 0, 0, 0, 0}};
  size_t lo = lower_ts(a, n, t0);
  if (lo > 0)
    lo--; /* the value in force when the window starts */
  size_t hi = t1 == UINT64_MAX ? n : lower_ts(a, n, t1 + 1);
  if (hi < lo)
    hi = lo;
  int li = -1;
  if (p && p->items == n && hi - lo > RAW_PER_PX * px)
    for (size_t i = 0; i < p->nlv && (1ull << (2 * p->lv[i].e)) <= q.px.w; i++)
      li = (int)i;
  crange(&q, li, lo, hi);
  vx__cpix_flush(&q.px);
  return li < 0 ? -1 : (int)p->lv[li].e;
}
