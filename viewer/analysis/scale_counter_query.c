/* The scale index's counters answering (analysis.h: vs_counter_*): a
 * counter's window at a resolution from the coarsest level whose buckets
 * are at most a pixel wide, the buckets the window's ends cut taken from
 * finer levels down to level 0 (whose buckets are then at most a pixel);
 * a window finer than level 0 from the samples themselves, decoded from
 * the batches of the counter's threads (it then spans at most about px
 * buckets of level 0). Marks as the full index's (pyramid_counter.c):
 * per pixel the min, max and last of the pieces (buckets or samples) whose
 * first sample lies in it, the value in force at t0 first. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "pyramid.h"
#include "scale_internal.h"

size_t vs_counter_count(const vs_index *x) { return x->ncounters; }

int vs_counter_info(const vs_index *x, size_t i, vs_counter_facts *f) {
  if (i >= x->ncounters)
    return -1;
  const vs_counter *c = &x->counters[i];
  f->name = c->name;
  f->samples = c->samples;
  f->min = c->samples ? c->min : 0;
  f->max = c->samples ? c->max : 0;
  return 0;
}

/* ---- Samples decoded ------------------------------------------------------------------------ */

typedef struct csample {
  uint64_t ts, seq; /* seq: thread order, then recording order */
  double v;
} csample;

typedef struct cbuf {
  csample *s;
  size_t n, cap;
} cbuf;

static int by_time(const void *a, const void *b) {
  const csample *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Whether thread part p's kind (and site) is among ps[0..n). */
static int wanted(const vs_cpart *ps, size_t n, const vs_csample_of *s) {
  for (size_t i = 0; i < n; i++)
    if (ps[i].kind == s->kind && (s->kind != VS_CK_SITE || ps[i].site == s->site))
      return 1;
  return 0;
}

/* Thread t's samples of parts ps[0..n) (all of t) in [a, b] into buf. */
static int thread_samples(vs_index *x, const vs_thread *t, const vs_cpart *ps, size_t n, uint64_t a,
                          uint64_t b, cbuf *buf) {
  size_t lo = vs__first_batch(t, a);
  if (t->kernel || lo == t->nbatches)
    return 0;
  rd_stream *s = rd_stream_open_at(x->tr, t->rd, lo, RD_STREAM_OWN);
  if (!s)
    return CTRACE_ENOMEM;
  rd_event ev;
  int r;
  while ((r = rd_stream_next(s, &ev)) == 1 && ev.ts <= b) {
    vs_csample_of of[2];
    size_t k = ev.ts >= a ? vs__csamples_of(&ev, of) : 0;
    for (size_t i = 0; i < k; i++) {
      if (!wanted(ps, n, &of[i]))
        continue;
      csample *c = VH_PUSH(buf->s, buf->n, buf->cap);
      if (!c) {
        rd_stream_close(s);
        return CTRACE_ENOMEM;
      }
      *c = (csample){ev.ts, buf->n, of[i].value};
    }
  }
  rd_stream_close(s);
  return r < 0 ? r : 0;
}

int vs__counter_decode(vs_index *x, const vs_counter *c, uint64_t a, uint64_t b,
                       void (*fn)(void *arg, uint64_t ts, double v), void *arg) {
  cbuf buf = {0};
  const vs_cpart *ps = &x->cparts[c->part0];
  int r = 0;
  for (uint32_t i = 0; i < c->nparts && !r;) { /* (parts in thread order) */
    uint32_t j = i;
    while (j < c->nparts && ps[j].thread == ps[i].thread)
      j++;
    r = thread_samples(x, &x->threads[ps[i].thread], &ps[i], j - i, a, b, &buf);
    i = j;
  }
  if (!r) {
    if (buf.n > 1)
      qsort(buf.s, buf.n, sizeof *buf.s, by_time);
    for (size_t i = 0; i < buf.n; i++)
      fn(arg, buf.s[i].ts, buf.s[i].v);
  }
  free(buf.s);
  return r;
}

/* ---- A window ------------------------------------------------------------------------------- */

typedef struct cwin {
  vx_cpix px;
  int before; /* a value before t0 is waiting (decoding from before t0) */
  double before_v;
} cwin;

/* A decoded sample: before t0 it only waits as the value in force. */
static void feed_sample(void *arg, uint64_t ts, double v) {
  cwin *q = arg;
  if (ts < q->px.t0) {
    q->before = 1, q->before_v = v;
    return;
  }
  if (q->before)
    vx__cpix_feed(&q->px, q->px.t0, q->before_v, q->before_v, q->before_v);
  q->before = 0;
  vx__cpix_feed(&q->px, ts, v, v, v);
}

/* The first bucket of l whose last sample is at or after t. */
static size_t first_reaching(const vs_clevel *l, uint64_t t) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->b[mid].last < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The samples in [lo, hi] from level k: buckets inside it whole, those it
 * cuts from the level below, and at level 0 whole (less than a pixel:
 * drawn in the pixel of their first sample, or the first). */
static void feed_level(cwin *q, const vs_counter *c, uint32_t k, uint64_t lo, uint64_t hi) {
  const vs_clevel *l = &c->lv[k];
  unsigned sh = c->shift + 2 * k;
  for (size_t i = first_reaching(l, lo); i < l->n && l->b[i].first <= hi; i++) {
    const vs_cbucket *b = &l->b[i];
    if (k == 0 || (b->first >= lo && b->last <= hi)) {
      vx__cpix_feed(&q->px, b->first, b->min, b->max, b->value);
      continue;
    }
    uint64_t start = b->first >> sh << sh, end = start + ((1ull << sh) - 1);
    feed_level(q, c, k - 1, start > lo ? start : lo, end < hi ? end : hi);
  }
}

int vs_counter_window(vs_index *x, size_t counter, uint64_t t0, uint64_t t1, uint64_t w,
                      vs_counter_emit emit, void *arg) {
  if (counter >= x->ncounters || t1 < t0)
    return CTRACE_EINVAL;
  const vs_counter *c = &x->counters[counter];
  cwin q = {.px = {.t0 = t0, .w = w ? w : 1, .emit = emit, .ctx = arg}};
  if (!c->samples)
    return 0;
  /* The value in force at t0: the last of the level-0 buckets before it
   * (one t0 cuts: before it, from the samples when decoding). */
  const vs_clevel *l0 = &c->lv[0];
  size_t i = first_reaching(l0, t0);
  int cut = i < l0->n && l0->b[i].first < t0;
  if (q.px.w < 1ull << c->shift) { /* finer than level 0: the samples, decoded */
    if (!cut && i > 0)
      q.before = 1, q.before_v = l0->b[i - 1].value;
    int r = vs__counter_decode(x, c, cut ? l0->b[i].first : t0, t1, feed_sample, &q);
    if (q.before)
      vx__cpix_feed(&q.px, t0, q.before_v, q.before_v, q.before_v);
    vx__cpix_flush(&q.px);
    return r;
  }
  if (i > 0)
    vx__cpix_feed(&q.px, t0, l0->b[i - 1].value, l0->b[i - 1].value, l0->b[i - 1].value);
  uint32_t k = 0; /* the coarsest level at most a pixel wide */
  while (k + 1 < c->nlevels && c->shift + 2 * (k + 1) < 63 &&
         (1ull << (c->shift + 2 * (k + 1))) <= q.px.w)
    k++;
  feed_level(&q, c, k, t0, t1);
  vx__cpix_flush(&q.px);
  return 0;
}
