/* Lanes' time pyramids (viewer/analysis/pyramid.c) and the timeline
 * windows they answer (vx_pyr_window, vx_lane_window, /api/slices).
 *
 * pyramid_windows: lanes made here (even, in bursts, with items longer than
 * a pixel, zero-length ones and equal starts), built at once, item by item
 * with windows asked between the additions, and as a view over another's
 * levels; for many random windows and widths every answer holds: each mark
 * is a real item of the window, given once, in start order; every item at
 * least a pixel long is its own mark; the merged counts add up to the
 * window's items; at most one merged mark per pixel beside the long ones;
 * and a window walked item by item answers exactly what the timeline's
 * former loop (old_window below) answered.
 *
 * pyramid_trace: the same over every lane of a real trace (bench's
 * gen_trace, 200k events, made with the tracer), through vx_lane_window
 * from two threads at once, and /api/slices's merged counts per lane.
 *
 * pyramid_counters: counters' pyramids (pyramid_counter.c), grown in steps
 * with windows between: a walked window is exactly the former loop's; one
 * from the pyramid has the same extremes, first time and last value, marks
 * in time order within the window, at most one per pixel. (pyramid_trace
 * checks the counters of its trace the same way.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "pyramid.h"
#include "server.h"
#include "test.h"

/* ---- Checking one window ------------------------------------------------------------------- */

typedef struct mark {
  size_t idx;
  uint64_t merged;
} mark;

typedef struct marks {
  mark *v;
  size_t n, cap;
} marks;

static void collect(void *ctx, size_t idx, uint64_t merged) {
  marks *m = ctx;
  if (m->n == m->cap) {
    m->cap = m->cap ? 2 * m->cap : 256;
    m->v = realloc(m->v, m->cap * sizeof *m->v);
    ASSERT(m->v);
  }
  m->v[m->n++] = (mark){idx, merged};
}

static void item(const vx_lane_src *s, size_t i, uint64_t *start, uint64_t *dur) {
  uint32_t l;
  s->get(s->items, i, start, dur, &l);
}

/* The timeline's loop before the pyramids (routes_timeline.c's
 * window_lane as it was), over any lane. */
static void old_window(const vx_lane_src *s, uint64_t t0, uint64_t t1, uint64_t w, marks *out) {
  uint64_t cur = UINT64_MAX, merged = 0, st, d, bd = 0;
  size_t best = 0, i = 0;
  while (i < s->n && (item(s, i, &st, &d), st + d < t0))
    i++;
  for (; i < s->n && (item(s, i, &st, &d), st <= t1); i++) {
    if (d >= w) {
      if (merged)
        collect(out, best, merged);
      merged = 0;
      cur = UINT64_MAX;
      collect(out, i, 1);
      continue;
    }
    uint64_t b = st <= t0 ? 0 : (st - t0) / w;
    if (b != cur) {
      if (merged)
        collect(out, best, merged);
      cur = b, best = i, bd = d, merged = 1;
    } else {
      merged++;
      if (d > bd)
        best = i, bd = d;
    }
  }
  if (merged)
    collect(out, best, merged);
}

typedef struct tally {
  size_t windows, walked, summarised;
} tally;

/* One answer (level: vx_pyr_window's return) against the lane. */
static void check_window(const vx_lane_src *s, uint64_t t0, uint64_t t1, uint64_t w, const marks *m,
                         int level, tally *tl) {
  uint8_t *seen = calloc(s->n + 1, 1);
  ASSERT(seen);
  uint64_t in = 0, sum = 0, longs = 0, groups = 0, prev = 0, st, d;
  for (size_t i = 0; i < s->n; i++) {
    item(s, i, &st, &d);
    in += st + d >= t0 && st <= t1;
  }
  for (size_t k = 0; k < m->n; k++) {
    const mark *a = &m->v[k];
    if (a->idx >= s->n)
      TEST_FAIL("mark %zu: item %zu of %zu", k, a->idx, s->n);
    item(s, a->idx, &st, &d);
    if (st + d < t0 || st > t1)
      TEST_FAIL("item %zu [%" PRIu64 " +%" PRIu64 "] outside [%" PRIu64 ", %" PRIu64 "]", a->idx,
                st, d, t0, t1);
    if (seen[a->idx]++)
      TEST_FAIL("item %zu given twice (window %" PRIu64 "..%" PRIu64 " w %" PRIu64 ")", a->idx, t0,
                t1, w);
    if (k && st < prev)
      TEST_FAIL("mark %zu out of start order", k);
    prev = st;
    ASSERT(a->merged >= 1);
    sum += a->merged;
    if (d >= w) {
      ASSERT_UEQ(a->merged, 1);
      longs++;
    } else {
      groups++;
    }
  }
  ASSERT_UEQ(sum, in);
  for (size_t i = 0; i < s->n; i++) {
    item(s, i, &st, &d);
    if (st + d >= t0 && st <= t1 && d >= w && !seen[i])
      TEST_FAIL("item %zu (%" PRIu64 " ns long, w %" PRIu64 ") not given", i, d, w);
  }
  /* a merged mark per pixel, and one more after each long item */
  ASSERT(groups <= (t1 - t0) / w + 1 + longs + 1);
  if (level < 0) {
    marks o = {0};
    old_window(s, t0, t1, w, &o);
    ASSERT_UEQ(o.n, m->n);
    for (size_t k = 0; k < o.n; k++)
      if (o.v[k].idx != m->v[k].idx || o.v[k].merged != m->v[k].merged)
        TEST_FAIL("walked window differs from the old loop at mark %zu", k);
    free(o.v);
    tl->walked++;
  } else {
    tl->summarised++;
  }
  tl->windows++;
  free(seen);
}

static uint64_t rnd(uint64_t *x) { /* xorshift64* */
  *x ^= *x >> 12, *x ^= *x << 25, *x ^= *x >> 27;
  return *x * 2685821657736338717ull;
}

/* Random windows of the lane [a, b] (some whole, some tiny, some past its ends). */
static void check_windows(const vx_pyr *p, const vx_lane_src *s, uint64_t a, uint64_t b, int count,
                          uint64_t *seed, tally *tl) {
  static const uint64_t pxs[] = {1, 3, 10, 100, 700, 2000};
  for (int k = 0; k < count; k++) {
    uint64_t span = b - a + 1, t0, t1;
    switch (rnd(seed) % 4) {
    case 0: t0 = a, t1 = b; break;
    case 1: t0 = a + rnd(seed) % span, t1 = t0 + rnd(seed) % (span / 1000 + 1); break;
    default:
      t0 = a - (a > 1000 ? rnd(seed) % 1000 : 0); /* (one draw per statement: in order) */
      t0 += rnd(seed) % span;
      t1 = t0 + rnd(seed) % span;
    }
    uint64_t px = pxs[rnd(seed) % 6], w = (t1 - t0) / px;
    w = w ? w : 1;
    marks m = {0};
    int level = vx_pyr_window(p, s, t0, t1, w, px, collect, &m);
    check_window(s, t0, t1, w, &m, level, tl);
    free(m.v);
  }
}

/* ---- Lanes made here ---------------------------------------------------------------------- */

static void get_slice(const void *items, size_t i, uint64_t *s, uint64_t *d, uint32_t *l) {
  const vx_slice *a = items;
  *s = a[i].start, *d = a[i].dur, *l = a[i].label;
}

/* n items of shape kind: 0 even gaps, 1 bursts with long quiet spans, 2
 * mostly short with some very long, 3 zero-length items and equal starts. */
static vx_slice *make_lane(int kind, size_t n, uint64_t *seed) {
  vx_slice *a = calloc(n, sizeof *a);
  ASSERT(a);
  uint64_t t = 1000000 + rnd(seed) % 1000;
  for (size_t i = 0; i < n; i++) {
    uint64_t gap = 0, dur = 0;
    switch (kind) {
    case 0: gap = 50 + rnd(seed) % 100, dur = rnd(seed) % 200; break;
    case 1:
      gap = rnd(seed) % 500 == 0 ? 10000000 + rnd(seed) % 50000000 : rnd(seed) % 20;
      dur = rnd(seed) % 30;
      break;
    case 2:
      gap = rnd(seed) % 100, dur = rnd(seed) % 100 == 0 ? 1000000 + rnd(seed) % 9000000 : 40;
      break;
    default:
      gap = rnd(seed) % 3 == 0 ? 0 : rnd(seed) % 1000;
      dur = rnd(seed) % 2 ? 0 : rnd(seed) % 300;
    }
    if (i && kind == 3 && a[i - 1].dur)
      gap += 1; /* an equal start only after a zero-length item */
    a[i].start = t + gap;
    a[i].dur = dur;
    a[i].label = (uint32_t)(rnd(seed) % 50);
    t = a[i].start + dur;
  }
  return a;
}

static size_t entries(const vx_pyr *p) {
  size_t total = 0, n;
  unsigned e;
  for (size_t i = 0; i < vx_pyr_levels(p); i++) {
    ASSERT(vx_pyr_level(p, i, &e, &n));
    total += n;
  }
  return total;
}

TEST_IMPL(pyramid_windows) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  tally tl = {0};
  for (int kind = 0; kind < 4; kind++) {
    size_t n = 30000 + (size_t)(rnd(&seed) % 20000);
    vx_slice *a = make_lane(kind, n, &seed);
    vx_lane_src s = {a, n, get_slice};
    uint64_t a0 = a[0].start, a1 = a[n - 1].start + a[n - 1].dur;
    /* at once */
    vx_pyr *p = vx_pyr_new();
    ASSERT(p);
    ASSERT_EQ(vx_pyr_extend(p, &s), 0);
    ASSERT_UEQ(vx_pyr_items(p), n);
    ASSERT(vx_pyr_levels(p) >= 2);
    ASSERT(entries(p) <= n / 3 + vx_pyr_levels(p));
    check_windows(p, &s, a0, a1, 150, &seed, &tl);
    /* item by item, windows asked as the lane grows (its last buckets change) */
    vx_pyr *g = vx_pyr_new();
    for (size_t i = 0; i < n; i++) {
      ASSERT_EQ(vx_pyr_add(g, a[i].start, a[i].dur, a[i].label, i), 0);
      if (i + 1 == 3000 || i + 1 == n / 2 + 7 || i + 1 == n) {
        vx_lane_src part = {a, i + 1, get_slice};
        check_windows(g, &part, a0, a[i].start + a[i].dur, 40, &seed, &tl);
      }
    }
    ASSERT(entries(g) <= n / 3 + vx_pyr_levels(g));
    /* a view over p's levels answers as p does; adding to it leaves them be */
    size_t nl = vx_pyr_levels(p), cnt[VX_PYR_MAX_LEVELS];
    unsigned ex[VX_PYR_MAX_LEVELS];
    const vx_pyr_entry *lv[VX_PYR_MAX_LEVELS];
    vx_pyr_entry *copy[VX_PYR_MAX_LEVELS];
    for (size_t i = 0; i < nl; i++) {
      const vx_pyr_entry *e = vx_pyr_level(p, i, &ex[i], &cnt[i]);
      copy[i] = malloc(cnt[i] * sizeof *e + 1);
      memcpy(copy[i], e, cnt[i] * sizeof *e);
      lv[i] = copy[i];
    }
    vx_pyr *v = vx_pyr_view(nl, ex, lv, cnt, n - 100);
    ASSERT(v);
    for (int k = 0; k < 50; k++) {
      uint64_t t0 = a0 + rnd(&seed) % (a1 - a0), t1 = t0 + rnd(&seed) % (a1 - t0 + 1);
      uint64_t w = (t1 - t0) / 500 + 1;
      marks m1 = {0}, m2 = {0};
      vx_pyr_window(p, &s, t0, t1, w, 500, collect, &m1);
      vx_pyr_window(v, &s, t0, t1, w, 500, collect, &m2); /* v holds fewer: walked */
      check_window(&s, t0, t1, w, &m2, -1, &tl);
      free(m1.v), free(m2.v);
    }
    vx_pyr_free(v);
    /* the view of all n, then grown by 100 more: the caller's arrays unchanged */
    vx_slice *b = make_lane(kind, n + 100, &seed);
    memcpy(b, a, n * sizeof *a);
    for (size_t i = n; i < n + 100; i++)
      b[i].start += a1; /* after the first n */
    v = vx_pyr_view(nl, ex, lv, cnt, n);
    vx_lane_src sb = {b, n + 100, get_slice};
    ASSERT_EQ(vx_pyr_extend(v, &sb), 0);
    for (size_t i = 0; i < nl; i++) {
      unsigned e;
      size_t c;
      vx_pyr_level(p, i, &e, &c);
      ASSERT(!memcmp(copy[i], vx_pyr_level(p, i, &e, &c), c * sizeof(vx_pyr_entry)));
    }
    check_windows(v, &sb, a0, b[n + 99].start + b[n + 99].dur, 40, &seed, &tl);
    vx_pyr_free(v);
    for (size_t i = 0; i < nl; i++)
      free(copy[i]);
    free(b);
    vx_pyr_free(g);
    vx_pyr_free(p);
    free(a);
  }
  printf("%zu windows: %zu walked, %zu from the pyramids\n", tl.windows, tl.walked, tl.summarised);
  ASSERT(tl.walked > 50 && tl.summarised > 200);
  return 0;
}

/* ---- Counters --------------------------------------------------------------------------------- */

typedef struct cmark {
  uint64_t ts;
  double min, max, last;
} cmark;

typedef struct cmarks {
  cmark *v;
  size_t n, cap;
} cmarks;

static void ccollect(void *ctx, uint64_t ts, double mn, double mx, double last) {
  cmarks *m = ctx;
  if (m->n == m->cap) {
    m->cap = m->cap ? 2 * m->cap : 256;
    m->v = realloc(m->v, m->cap * sizeof *m->v);
    ASSERT(m->v);
  }
  m->v[m->n++] = (cmark){ts, mn, mx, last};
}

/* routes_timeline.c's window_counter as it was, into out. */
static void old_counter(const vx_sample *a, size_t n, uint64_t t0, uint64_t t1, uint64_t w,
                        cmarks *out) {
  size_t lo = 0;
  while (lo < n && a[lo].ts < t0)
    lo++;
  if (lo > 0)
    lo--;
  uint64_t cur = UINT64_MAX, ts = 0;
  double mn = 0, mx = 0, lastv = 0;
  int have = 0;
  for (size_t i = lo; i <= n; i++) {
    int end = i == n || a[i].ts > t1;
    uint64_t b = 0;
    if (!end)
      b = a[i].ts <= t0 ? 0 : (a[i].ts - t0) / w;
    if (have && (end || b != cur)) {
      ccollect(out, ts, mn, mx, lastv);
      have = 0;
    }
    if (end)
      break;
    double v = a[i].value;
    if (!have) {
      cur = b;
      ts = a[i].ts < t0 ? t0 : a[i].ts;
      mn = mx = v;
      have = 1;
    }
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
    lastv = v;
  }
}

/* One counter window's marks against the samples. */
static void check_counter(const vx_sample *a, size_t n, uint64_t t0, uint64_t t1, uint64_t w,
                          const cmarks *m, int level, tally *tl) {
  cmarks o = {0};
  old_counter(a, n, t0, t1, w, &o);
  if (level < 0) {
    ASSERT_UEQ(o.n, m->n);
    for (size_t k = 0; k < o.n; k++)
      if (memcmp(&o.v[k], &m->v[k], sizeof o.v[k]))
        TEST_FAIL("walked counter window differs from the old loop at mark %zu", k);
    tl->walked++;
  } else {
    /* the same samples: the same extremes, first time and last value */
    ASSERT(o.n > 0 && m->n > 0);
    double omn = o.v[0].min, omx = o.v[0].max, mmn = m->v[0].min, mmx = m->v[0].max;
    for (size_t k = 0; k < o.n; k++)
      omn = o.v[k].min < omn ? o.v[k].min : omn, omx = o.v[k].max > omx ? o.v[k].max : omx;
    for (size_t k = 0; k < m->n; k++) {
      mmn = m->v[k].min < mmn ? m->v[k].min : mmn, mmx = m->v[k].max > mmx ? m->v[k].max : mmx;
      ASSERT(m->v[k].min <= m->v[k].last && m->v[k].last <= m->v[k].max);
      ASSERT(!k || m->v[k].ts > m->v[k - 1].ts);
      ASSERT(m->v[k].ts >= t0 && m->v[k].ts <= t1);
    }
    ASSERT(omn == mmn && omx == mmx);
    ASSERT_UEQ(o.v[0].ts, m->v[0].ts);
    ASSERT(o.v[o.n - 1].last == m->v[m->n - 1].last);
    ASSERT(m->n <= (t1 - t0) / w + 2);
    tl->summarised++;
  }
  tl->windows++;
  free(o.v);
}

/* ---- A real trace --------------------------------------------------------------------------- */

static vx_index *gen_index(void) {
  const char *path = test_tmp_path("pyr.ctrace");
  char *argv[] = {(char *)GEN_TRACE_BIN, (char *)path, "200000", NULL};
  /* gen_trace's busy loops share a counter on purpose (a race TSan reports) */
  char *env[] = {"TSAN_OPTIONS=report_bugs=0", NULL};
  test_proc pr = test_run(argv, env);
  if (pr.status)
    TEST_FAIL("gen_trace: %d %s", pr.status, pr.err);
  test_proc_free(&pr);
  char err[1024], *paths[1] = {(char *)path};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build %s: %s", path, err);
  return x;
}

static void get_state(const void *items, size_t i, uint64_t *s, uint64_t *d, uint32_t *l) {
  const vx_state *a = items;
  *s = a[i].start, *d = a[i].end - a[i].start, *l = a[i].state;
}

static int lane_src(const vx_track *t, int lane, vx_lane_src *s) {
  if (lane == VX_LANE_STATES)
    *s = (vx_lane_src){t->states, t->nstates, get_state};
  else if (lane == VX_LANE_RUNS)
    *s = (vx_lane_src){t->runs, t->nruns, get_slice};
  else if ((size_t)lane < t->depths)
    *s = (vx_lane_src){t->depth[lane], t->ndepth[lane], get_slice};
  else
    return -1;
  return 0;
}

typedef struct trace_run {
  const vx_index *x;
  uint64_t seed;
  tally tl;
} trace_run;

static void *trace_windows(void *arg) {
  trace_run *r = arg;
  uint64_t a = vx_t0(r->x), b = vx_t1(r->x);
  static const uint64_t pxs[] = {50, 300, 1000, 2000};
  for (int k = 0; k < 60; k++) {
    uint64_t t0 = a, t1 = b;
    if (k % 3) {
      t0 = a + rnd(&r->seed) % (b - a);
      t1 = t0 + rnd(&r->seed) % (b - t0 + 1) / (k % 3 == 1 ? 1 : 50);
    }
    uint64_t px = pxs[rnd(&r->seed) % 4], w = (t1 - t0) / px;
    w = w ? w : 1;
    for (size_t ti = 0; ti < vx_track_count(r->x); ti++) {
      const vx_track *t = vx_track_get(r->x, ti);
      if (t->kind == VX_COUNTER) {
        cmarks c = {0};
        int level = vx_counter_window(r->x, t, t0, t1, w, px, ccollect, &c);
        if (t->nsamples)
          check_counter(t->samples, t->nsamples, t0, t1, w, &c, level, &r->tl);
        free(c.v);
      }
      if (t->kind != VX_THREAD)
        continue;
      for (int lane = VX_LANE_STATES; lane < (int)t->depths; lane++) {
        vx_lane_src s;
        if (lane_src(t, lane, &s))
          continue;
        marks m = {0};
        int level = vx_lane_window(r->x, t, lane, t0, t1, w, px, collect, &m);
        check_window(&s, t0, t1, w, &m, level, &r->tl);
        free(m.v);
      }
    }
  }
  return NULL;
}

/* /api/slices of the whole trace: per track and depth, the merged counts
 * add up to the slices. */
static void check_route(vx_index *x) {
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x;
  char q[128];
  snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=800", vx_t0(x), vx_t1(x));
  rt_request req = {"GET", "/api/slices", q};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  ASSERT_EQ(r.status, 200);
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  ASSERT(o);
  uint64_t sums[64][8] = {{0}}, marks_n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "traceEvents")) {
    const cJSON *a = cJSON_GetObjectItem(e, "args"), *id = cJSON_GetObjectItem(a, "id");
    unsigned tr, d;
    size_t i;
    if (!id || sscanf(id->valuestring, "s.%u.%u.%zu", &tr, &d, &i) != 3)
      continue;
    const cJSON *mg = cJSON_GetObjectItem(a, "merged");
    ASSERT(tr < 64 && d < 8);
    sums[tr][d] += mg ? (uint64_t)mg->valuedouble : 1;
    marks_n++;
  }
  uint64_t slices = 0;
  for (size_t ti = 0; ti < vx_track_count(x) && ti < 64; ti++) {
    const vx_track *t = vx_track_get(x, ti);
    for (size_t d = 0; t->kind == VX_THREAD && d < t->depths && d < 8; d++) {
      ASSERT_UEQ(sums[ti][d], t->ndepth[d]);
      slices += t->ndepth[d];
    }
  }
  printf("/api/slices whole trace at 800 px: %" PRIu64 " marks for %" PRIu64 " slices\n", marks_n,
         slices);
  ASSERT(slices > 20000 && marks_n < slices / 4);
  cJSON_Delete(o);
  free(text);
  free(r.body);
}

TEST_IMPL(pyramid_trace) {
  vx_index *x = gen_index();
  trace_run runs[2] = {{x, 12345, {0}}, {x, 777, {0}}};
  pthread_t th;
  ASSERT_EQ(pthread_create(&th, NULL, trace_windows, &runs[1]), 0);
  trace_windows(&runs[0]);
  pthread_join(th, NULL);
  size_t walked = runs[0].tl.walked + runs[1].tl.walked;
  size_t summarised = runs[0].tl.summarised + runs[1].tl.summarised;
  printf("%zu lane windows: %zu walked, %zu from the pyramids\n", walked + summarised, walked,
         summarised);
  ASSERT(walked > 100 && summarised > 100);
  check_route(x);
  /* As a growing index does (vx_grow): a lane's last item, a region still
   * open, taken back and added again longer, and a counter's last sample
   * changed: the pyramids made before are made again. */
  tally tl = {0};
  for (size_t ti = 0; ti < vx_track_count(x); ti++) {
    vx_track *t = (vx_track *)vx_track_get(x, ti);
    uint64_t t0 = vx_t0(x), t1 = vx_t1(x), w = (t1 - t0) / 100;
    if (t->kind == VX_THREAD && t->depths && t->ndepth[0] > 1000) {
      marks m = {0};
      vx_lane_window(x, t, 0, t0, t1, w, 100, collect, &m); /* made (whole trace: many items) */
      vx_slice *last = &t->depth[0][t->ndepth[0] - 1];
      last->dur += 3 * w; /* ended later: now long enough to be a mark of its own */
      m.n = 0;
      int level = vx_lane_window(x, t, 0, t0, t1, w, 100, collect, &m);
      vx_lane_src s = {t->depth[0], t->ndepth[0], get_slice};
      ASSERT(level >= 0);
      check_window(&s, t0, t1, w, &m, level, &tl);
      free(m.v);
    }
    if (t->kind == VX_COUNTER && t->nsamples > 1000) {
      cmarks c = {0};
      vx_counter_window(x, t, t0, t1, w, 100, ccollect, &c);
      t->samples[t->nsamples - 1].value = 1e9; /* the new maximum */
      c.n = 0;
      int level = vx_counter_window(x, t, t0, t1, w, 100, ccollect, &c);
      ASSERT(level >= 0);
      check_counter(t->samples, t->nsamples, t0, t1, w, &c, level, &tl);
      free(c.v);
    }
  }
  ASSERT(tl.windows >= 5);
  vx_free(x);
  return 0;
}

TEST_IMPL(pyramid_counters) {
  uint64_t seed = 42;
  tally tl = {0};
  for (int kind = 0; kind < 3; kind++) {
    size_t n = 40000 + (size_t)(rnd(&seed) % 10000);
    vx_sample *a = calloc(n, sizeof *a);
    uint64_t t = 5000;
    for (size_t i = 0; i < n; i++) {
      t += kind == 0   ? 10 + rnd(&seed) % 200
           : kind == 1 ? (rnd(&seed) % 300 == 0 ? 5000000 : rnd(&seed) % 5)
                       : (rnd(&seed) % 2 ? 0 : rnd(&seed) % 1000); /* equal times too */
      a[i].ts = t;
      a[i].value = (double)(rnd(&seed) % 1000) - 500;
    }
    vx_cpyr *p = vx_cpyr_new();
    static const size_t parts[] = {1000, 20000};
    for (int part = 0; part <= 2; part++) { /* grown in three steps, windows between */
      size_t m = part < 2 ? parts[part] : n;
      ASSERT_EQ(vx_cpyr_extend(p, a, m), 0);
      if (part == 2)
        ASSERT(vx_cpyr_levels(p) >= 2);
      for (int k = 0; k < 150; k++) {
        uint64_t span = a[m - 1].ts - a[0].ts + 1, t0 = a[0].ts + rnd(&seed) % span, t1;
        if (k % 3 == 0)
          t0 = a[0].ts - rnd(&seed) % 100, t1 = a[m - 1].ts;
        else
          t1 = t0 + rnd(&seed) % (span / (k % 3 == 1 ? 1 : 500) + 1);
        uint64_t px = (uint64_t[]){1, 7, 100, 1000, 2000}[rnd(&seed) % 5], w = (t1 - t0) / px;
        w = w ? w : 1;
        cmarks c = {0};
        int level = vx_cpyr_window(p, a, m, t0, t1, w, px, ccollect, &c);
        check_counter(a, m, t0, t1, w, &c, level, &tl);
        free(c.v);
      }
    }
    vx_cpyr_free(p);
    free(a);
  }
  printf("%zu counter windows: %zu walked, %zu from the pyramids\n", tl.windows, tl.walked,
         tl.summarised);
  ASSERT(tl.walked > 50 && tl.summarised > 200);
  return 0;
}
