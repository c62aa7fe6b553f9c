/* The scale index of a trace still being written (analysis.h: vs_live_*;
 * `ctrace view --follow` of a big trace): kept in memory and grown by what
 * the file appended, never made again from the start. Each thread's pass
 * (scale_build.c, vs_pass) is kept between updates and fed the thread's
 * batches that settled since; its lanes' level 0 grows at its end, and the
 * levels above are extended from where their last bucket began. A lane's
 * level 0 is dropped (the next level becomes it) while it has more than
 * VS_LIVE_MAX_BUCKETS buckets, or more than VS_LANE_MIN of fewer than
 * VS_LANE_RATIO items each (the file's rule): a lane never holds more than
 * about 4/3 * VS_LIVE_MAX_BUCKETS entries, however long the trace runs, and
 * windows finer than its level 0 decode the batches they touch, as the
 * file's do. Regions still open are shown to the trace's end so far. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "scale_internal.h"

#define VS_LIVE_MAX_BUCKETS (1u << VS_BUCKETS_SHIFT)
#define VS_LIVE_SHIFT0 10 /* level 0 starts at buckets of 1.024 us */

/* The levels above a lane's level 0 (which is its pass's vs_grow_lvl). */
typedef struct live_up {
  vs_entry *e[VS_MAX_LEVELS]; /* [0] unused */
  size_t n[VS_MAX_LEVELS], cap[VS_MAX_LEVELS];
  uint32_t nlevels; /* with level 0 */
} live_up;

typedef struct live_thread {
  vs_pass p;
  live_up *up; /* per p.lanes */
  size_t nup;
  size_t done; /* batches fed */
} live_thread;

struct vs_live {
  live_thread *t;
  size_t n;
  size_t lane_min;
  uint64_t bytes; /* what the levels, batches and snapshots hold */
  uint64_t updates;
};

/* ---- Levels ------------------------------------------------------------------------------- */

/* First entry of e[0..n) whose bucket at shift is at or after b. */
static size_t bucket_lower(const vs_entry *e, size_t n, uint64_t b, unsigned shift) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e[mid].start >> shift < b)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Appends src[0..n) to level k merged at shift. @return 0 or -1. */
static int merge_into(live_up *u, uint32_t k, const vs_entry *src, size_t n, unsigned shift) {
  for (size_t i = 0; i < n; i++) {
    size_t m = u->n[k];
    vs_entry *last = m ? &u->e[k][m - 1] : NULL;
    if (last && last->start >> shift == src[i].start >> shift) {
      uint64_t sum = (uint64_t)last->count + src[i].count;
      uint32_t c = sum < UINT32_MAX ? (uint32_t)sum : UINT32_MAX;
      if (src[i].dur > last->dur)
        *last = src[i];
      last->count = c;
      continue;
    }
    if (m == u->cap[k]) {
      size_t cap = m ? m * 2 : 64;
      vs_entry *e = realloc(u->e[k], cap * sizeof *e);
      if (!e)
        return -1;
      u->e[k] = e;
      u->cap[k] = cap;
    }
    u->e[k][u->n[k]++] = src[i];
  }
  return 0;
}

/* Level k from level k - 1 (below) again from its last bucket on: only
 * that bucket and those after it can have changed. */
static int extend_level(live_up *u, uint32_t k, const vs_entry *below, size_t nbelow,
                        unsigned shift) {
  size_t from = 0;
  if (u->n[k]) {
    uint64_t b = u->e[k][u->n[k] - 1].start >> shift;
    u->n[k]--;
    from = bucket_lower(below, nbelow, b, shift);
  }
  return merge_into(u, k, below + from, nbelow - from, shift);
}

/* The lane's levels after its level 0 grew, then level 0 dropped while it
 * is too fine for what it holds. @return 0 or -1 (out of memory). */
static int lane_levels(struct vs_live *lv, vs_grow_lvl *l0, live_up *u) {
  for (;;) {
    const vs_entry *below = l0->e;
    size_t nbelow = l0->n;
    uint32_t k = 1;
    for (; k < VS_MAX_LEVELS && nbelow > 1 && l0->shift + 2 * k < 64; k++) {
      if (extend_level(u, k, below, nbelow, l0->shift + 2 * k))
        return -1;
      below = u->e[k];
      nbelow = u->n[k];
    }
    u->nlevels = k;
    int fine =
        l0->n > VS_LIVE_MAX_BUCKETS || (l0->n >= lv->lane_min && l0->n * VS_LANE_RATIO > l0->items);
    if (!fine || u->nlevels < 2)
      return 0;
    free(l0->e); /* level 1 becomes level 0 */
    l0->e = u->e[1];
    l0->n = u->n[1];
    l0->cap = u->cap[1];
    l0->shift += 2;
    memmove(&u->e[1], &u->e[2], (VS_MAX_LEVELS - 2) * sizeof u->e[0]);
    memmove(&u->n[1], &u->n[2], (VS_MAX_LEVELS - 2) * sizeof u->n[0]);
    memmove(&u->cap[1], &u->cap[2], (VS_MAX_LEVELS - 2) * sizeof u->cap[0]);
    u->e[VS_MAX_LEVELS - 1] = NULL;
    u->n[VS_MAX_LEVELS - 1] = u->cap[VS_MAX_LEVELS - 1] = 0;
    u->nlevels--;
  }
}

/* ---- Feeding ------------------------------------------------------------------------------ */

/* Thread i's batches [t->done, upto). @return 0 or CTRACE_E*. */
static int feed(vs_index *x, size_t i, size_t upto) {
  struct vs_live *lv = x->live;
  live_thread *t = &lv->t[i];
  t->p.th = &x->threads[i]; /* (x->threads moves as threads come) */
  t->p.x = x;
  rd_stream *s = rd_stream_open_at(x->tr, i, t->done, 0);
  if (!s)
    return CTRACE_ENOMEM;
  rd_stream_stop_at(s, upto);
  rd_event ev;
  int r;
  while (!t->p.err && (r = rd_stream_next(s, &ev)) == 1)
    vs__pass_next(&t->p, rd_stream_batch(s), &ev);
  rd_stream_close(s);
  t->done = upto;
  if (t->p.err)
    return t->p.err;
  if (t->nup < t->p.nlanes) {
    live_up *u = realloc(t->up, t->p.nlanes * sizeof *u);
    if (!u)
      return CTRACE_ENOMEM;
    memset(u + t->nup, 0, (t->p.nlanes - t->nup) * sizeof *u);
    t->up = u;
    t->nup = t->p.nlanes;
  }
  for (size_t d = 0; d < t->p.nlanes; d++)
    if (t->p.lanes[d].n && lane_levels(lv, &t->p.lanes[d], &t->up[d]))
      return CTRACE_ENOMEM;
  return r < 0 ? r : 0;
}

/* New threads of the trace: their tables and passes. @return 0 or -1. */
static int add_threads(vs_index *x) {
  struct vs_live *lv = x->live;
  size_t n = rd_thread_count(x->tr);
  if (n <= lv->n)
    return 0;
  vs_thread *th = realloc(x->threads, n * sizeof *th);
  if (th)
    x->threads = th;
  live_thread *t = realloc(lv->t, n * sizeof *t);
  if (t)
    lv->t = t;
  if (!th || !t)
    return -1;
  for (size_t i = lv->n; i < n; i++) {
    const rd_thread *r = rd_thread_get(x->tr, i);
    x->threads[i] = (vs_thread){.rd = (uint32_t)i, .kernel = (uint32_t)r->kernel};
    lv->t[i] = (live_thread){
        .p = {.x = x, .shift0 = VS_LIVE_SHIFT0, .lane_min = SIZE_MAX, .live = 1, .cur = SIZE_MAX}};
  }
  lv->n = x->nthreads = n;
  return 0;
}

/* ---- Publishing: the tables the queries read ------------------------------------------------ */

static void thread_lanes(vs_index *x, size_t i, size_t *k) {
  live_thread *t = &x->live->t[i];
  vs_thread *th = &x->threads[i];
  th->lane0 = (uint32_t)*k;
  th->nlanes = 0;
  th->maxdepth = 0;
  for (size_t d = 0; d < t->p.nlanes; d++) {
    const vs_grow_lvl *l0 = &t->p.lanes[d];
    const live_up *u = &t->up[d];
    if (!l0->n)
      continue;
    vs_lane *l = &x->lanes[(*k)++];
    memset(l, 0, sizeof *l);
    l->thread = (uint32_t)i;
    l->depth = d == VS_MAX_DEPTH ? VS_LANE_INSTANTS : (uint32_t)d;
    l->items = l0->items;
    l->shift = l0->shift;
    l->nlevels = u->nlevels ? u->nlevels : 1;
    l->lv[0] = (vs_level){0, l0->n, l0->e};
    for (uint32_t j = 1; j < l->nlevels; j++)
      l->lv[j] = (vs_level){0, u->n[j], u->e[j]};
    if (!th->nlanes++ || l->shift < th->shift_min)
      th->shift_min = l->shift;
    if (d != VS_MAX_DEPTH && d + 1 > th->maxdepth)
      th->maxdepth = (uint32_t)(d + 1);
    x->live->bytes += l0->cap * sizeof(vs_entry);
    for (uint32_t j = 1; j < l->nlevels; j++)
      x->live->bytes += u->cap[j] * sizeof(vs_entry);
  }
}

/* x's threads, lanes, span and events from the passes. @return 0 or -1. */
static int publish(vs_index *x) {
  struct vs_live *lv = x->live;
  size_t nl = 0;
  for (size_t i = 0; i < lv->n; i++)
    for (size_t d = 0; d < lv->t[i].p.nlanes; d++)
      nl += lv->t[i].p.lanes[d].n > 0;
  vs_lane *lanes = realloc(x->lanes, (nl ? nl : 1) * sizeof *lanes);
  if (!lanes)
    return -1;
  x->lanes = lanes;
  x->nlanes = nl;
  lv->bytes = lv->n * (sizeof *lv->t + sizeof *x->threads) + nl * sizeof *lanes;
  x->events = 0;
  uint64_t t0 = UINT64_MAX, t1 = 0;
  size_t k = 0;
  for (size_t i = 0; i < lv->n; i++) {
    live_thread *t = &lv->t[i];
    vs_thread *th = &x->threads[i];
    const rd_thread *r = rd_thread_get(x->tr, i);
    th->tid = r->tid;
    th->serial = r->serial;
    th->nbatches = t->p.nb;
    th->batches = t->p.b;
    th->npre = t->p.npre;
    th->pre = t->p.pre;
    lv->bytes += t->p.cap_b * sizeof *t->p.b + t->p.cap_pre * sizeof *t->p.pre;
    thread_lanes(x, i, &k);
    x->events += th->events;
    if (th->events && th->first < t0)
      t0 = th->first;
    if (th->events && t->p.last_ts > t1)
      t1 = t->p.last_ts;
  }
  x->t0 = t0 == UINT64_MAX ? rd_start_ns(x->tr) : t0;
  x->t1 = t1 > x->t0 ? t1 : x->t0;
  return 0;
}

/* ---- The API ------------------------------------------------------------------------------ */

vs_index *vs_live_open(const char *path, char *err, size_t errlen) {
  vs_index *x = calloc(1, sizeof *x);
  struct vs_live *lv = calloc(1, sizeof *lv);
  if (!x || !lv || !(x->path = strdup(path))) {
    free(x);
    free(lv);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&x->lock, NULL);
  x->live = lv;
  const char *lm = getenv("CTRACE_SCALE_LANE_MIN");
  lv->lane_min = lm && *lm ? (size_t)strtoull(lm, NULL, 10) : VS_LANE_MIN;
  x->shift0 = VS_LIVE_SHIFT0;
  char e[400];
  if (rd_open(path, 0, &x->tr, e, sizeof e)) {
    snprintf(err, errlen, "%s: %s", path, e);
    vs_close(x);
    return NULL;
  }
  snprintf(x->why, sizeof x->why, "kept in memory as the trace grows");
  x->idx_path = strdup("(memory)");
  return x;
}

int vs_live_more(vs_index *x, int all, char *err, size_t errlen) {
  struct vs_live *lv = x->live;
  if (!lv) {
    snprintf(err, errlen, "not a live index");
    return CTRACE_EINVAL;
  }
  int r = rd_refresh(x->tr);
  if (r < 0) {
    snprintf(err, errlen, "%s: %s", x->path,
             r == CTRACE_ECORRUPT ? "the file became shorter: it is not the trace that was read"
                                  : ctrace_strerror(r));
    return r;
  }
  if (add_threads(x)) {
    snprintf(err, errlen, "out of memory");
    return CTRACE_ENOMEM;
  }
  uint64_t settled = all ? UINT64_MAX : rd_settled(x->tr);
  for (size_t i = 0; i < lv->n; i++) {
    size_t upto = rd_batches_before(x->tr, i, settled);
    if (upto <= lv->t[i].done)
      continue;
    if ((r = feed(x, i, upto))) {
      snprintf(err, errlen, "%s: %s", x->path, ctrace_strerror(r));
      publish(x); /* (what was fed stays answered) */
      return r;
    }
  }
  lv->updates++;
  if (publish(x)) {
    snprintf(err, errlen, "out of memory");
    return CTRACE_ENOMEM;
  }
  return 0;
}

int vs_live(const vs_index *x) { return x->live != NULL; }

uint64_t vs_live_bytes(const vs_index *x) { return x->live ? x->live->bytes : 0; }

size_t vs__live_open(const vs_index *x, size_t thread, vs_item *out, size_t cap) {
  if (!x->live || thread >= x->live->n)
    return 0;
  const vs_pass *p = &x->live->t[thread].p;
  size_t n = 0;
  for (size_t d = 0; d < p->depth && n < cap; d++) {
    const vs_open_reg *o = &p->stack[d];
    out[n++] =
        (vs_item){(uint32_t)d, o->start, x->t1 > o->start ? x->t1 - o->start : 0, o->key, 1, 1};
  }
  return n;
}

void vs__live_free(vs_index *x) {
  struct vs_live *lv = x->live;
  if (!lv)
    return;
  for (size_t i = 0; i < lv->n; i++) {
    live_thread *t = &lv->t[i];
    for (size_t d = 0; d < t->nup; d++)
      for (uint32_t k = 1; k < VS_MAX_LEVELS; k++)
        free(t->up[d].e[k]);
    free(t->up);
    vs__pass_free(&t->p);
  }
  free(lv->t);
  free(lv);
  x->live = NULL;
}
