/* Time pyramids of lanes (pyramid.h): building one as items come, and
 * answering a window of a lane at screen resolution from it (analysis.h's
 * vx_pyr_window), in time bounded by the pixels rather than by the items.
 *
 * Why the answer is exact in count: a level of buckets W = 4^e wide is only
 * used for windows of w >= W ns per pixel. Items do not overlap, so an item
 * at least W long that starts in a bucket is the last to start in it, and
 * the longest: every item at least w long is some bucket's longest, and
 * the items of its bucket before it are the count - 1 indexes just before
 * it (summarised by the finer levels). Buckets cut by the window's ends
 * are summarised by finer levels, down to the items themselves. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "index_internal.h"
#include "pyramid.h"

#define STAGE_MAX 4096 /* items staged before vx_pyr_add chooses the levels */
#define RAW_PER_PX 4   /* a window of at most this many items per pixel is walked */
#define RAW_SMALL 16   /* index ranges this short are walked, not summarised */
#define TOP_MIN 16     /* no level above one with this few entries */

typedef struct level {
  unsigned e; /* buckets 4^e ns wide */
  vx_pyr_entry *v;
  size_t n, cap;
  int borrowed; /* v is the caller's (vx_pyr_view): copied before any change */
} level;

struct vx_pyr {
  uint64_t items;
  uint64_t last_start, last_dur; /* the last item added (a live lane may change it) */
  int last_known;                /* (not in a view) */
  level lv[VX_PYR_MAX_LEVELS];
  size_t nlv;
  int chosen; /* the levels are chosen (before: items are staged) */
  int full;   /* a count reached UINT32_MAX: no level above the ones left */
  vx_pyr_entry *stage;
  size_t nstage, cap_stage;
  /* Before the levels are chosen: hist[m] items begin a new bucket at every
   * exponent <= m (their start differs from the previous one's in bit 2m
   * or 2m + 1 at the highest), of the `counted` first items. */
  uint64_t hist[32];
  uint64_t counted, prev;
  size_t top_checked; /* the top level's n when a level above was last looked for */
};

/* ---- Building ------------------------------------------------------------------------------ */

static unsigned high_pair(uint64_t d) { return (unsigned)(63 - __builtin_clzll(d)) / 2; }

static void count_item(vx_pyr *p, uint64_t start) {
  if (p->counted && start != p->prev)
    p->hist[high_pair(start ^ p->prev)]++;
  p->prev = start;
  p->counted++;
}

/* Buckets of 4^e ns that the counted items start in (e >= 1). */
static uint64_t buckets_at(const uint64_t *hist, uint64_t items, unsigned e) {
  uint64_t c = items ? 1 : 0;
  for (unsigned m = e; m < 32; m++)
    c += hist[m];
  return c;
}

static void free_level(level *l) {
  if (!l->borrowed)
    free(l->v);
  memset(l, 0, sizeof *l);
}

/* l's array made the pyramid's own, with room for one more entry. */
static int reserve(level *l) {
  if (!l->borrowed && l->n < l->cap)
    return 0;
  size_t cap = l->cap > l->n ? l->cap : l->n + l->n / 2 + 16;
  vx_pyr_entry *v = l->borrowed ? malloc(cap * sizeof *v) : realloc(l->v, cap * sizeof *v);
  if (!v)
    return -1;
  if (l->borrowed)
    memcpy(v, l->v, l->n * sizeof *v);
  l->v = v, l->cap = cap, l->borrowed = 0;
  return 0;
}

/* Adds an item, or a finer level's entry (count items), to level l (room
 * reserved). @return 0, or -1 when its bucket's count would overflow. */
static int level_put(level *l, const vx_pyr_entry *it) {
  unsigned sh = 2 * l->e;
  if (l->n && l->v[l->n - 1].start >> sh == it->start >> sh) {
    vx_pyr_entry *b = &l->v[l->n - 1];
    if (b->count > UINT32_MAX - it->count)
      return -1;
    b->count += it->count;
    if (it->dur > b->dur) /* strictly: the first of the longest stays */
      b->start = it->start, b->dur = it->dur, b->ref = it->ref, b->label = it->label;
    return 0;
  }
  l->v[l->n++] = *it;
  return 0;
}

/* The item into every level (room reserved); a level whose count would
 * overflow goes, with those above it. */
static void put_levels(vx_pyr *p, const vx_pyr_entry *it) {
  for (size_t i = 0; i < p->nlv; i++)
    if (level_put(&p->lv[i], it)) {
      for (size_t j = i; j < p->nlv; j++)
        free_level(&p->lv[j]);
      p->nlv = i;
      p->full = 1;
    }
}

/* A level of 4^e ns made from level `below` (its entries folded).
 * @return 0, or -1 when out of memory. */
static int level_from(level *out, const level *below, unsigned e, size_t cap) {
  memset(out, 0, sizeof *out);
  out->e = e;
  out->cap = cap ? cap : 1;
  out->v = malloc(out->cap * sizeof *out->v);
  if (!out->v)
    return -1;
  for (size_t i = 0; below && i < below->n; i++)
    if (level_put(out, &below->v[i]) || out->n == out->cap) {
      free(out->v);
      return -1; /* (cap is the bucket count: never reached but by overflow) */
    }
  return 0;
}

/* The levels from the counted items: the first exponent with at most a
 * quarter as many buckets as items, then each next with at most a quarter
 * of the one below's; the staged items go into them. @return 0 (also when
 * too few items to choose: they stay staged), or -1 out of memory. */
static int choose(vx_pyr *p) {
  uint64_t below = p->counted;
  unsigned es[VX_PYR_MAX_LEVELS];
  uint64_t caps[VX_PYR_MAX_LEVELS];
  size_t n = 0;
  for (unsigned e = 1; e < 32 && below > TOP_MIN; e++) {
    uint64_t c = buckets_at(p->hist, p->counted, e);
    if (c <= below / 4)
      es[n] = e, caps[n++] = c, below = c;
  }
  if (!n && p->nstage < STAGE_MAX)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (level_from(&p->lv[i], NULL, es[i], (size_t)caps[i] + 1)) {
      for (size_t j = 0; j < i; j++)
        free_level(&p->lv[j]);
      return -1;
    }
  p->nlv = n;
  p->chosen = 1;
  for (size_t i = 0; i < p->nstage; i++)
    put_levels(p, &p->stage[i]); /* room: caps count every counted item's bucket */
  free(p->stage);
  p->stage = NULL;
  p->nstage = p->cap_stage = 0;
  p->top_checked = p->nlv ? p->lv[p->nlv - 1].n : 0;
  return 0;
}

/* A lane that grew: a level above the top one once that one has doubled
 * and a coarser exponent has at most a quarter of its entries. */
static void grow_top(vx_pyr *p) {
  while (p->chosen && !p->full && p->nlv > 0 && p->nlv < VX_PYR_MAX_LEVELS) {
    const level *top = &p->lv[p->nlv - 1];
    if (top->n <= TOP_MIN || top->n < 2 * p->top_checked || top->e >= 31)
      return;
    p->top_checked = top->n;
    uint64_t hist[32] = {0};
    for (size_t i = 1; i < top->n; i++)
      hist[high_pair(top->v[i].start ^ top->v[i - 1].start)]++;
    unsigned e = top->e + 1;
    while (e < 32 && buckets_at(hist, top->n, e) > top->n / 4)
      e++;
    if (e >= 32 || level_from(&p->lv[p->nlv], top, e, (size_t)buckets_at(hist, top->n, e) + 1))
      return;
    p->nlv++;
    p->top_checked = p->lv[p->nlv - 1].n;
  }
}

vx_pyr *vx_pyr_new(void) { return calloc(1, sizeof(vx_pyr)); }

void vx_pyr_free(vx_pyr *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->nlv; i++)
    free_level(&p->lv[i]);
  free(p->stage);
  free(p);
}

int vx_pyr_add(vx_pyr *p, uint64_t start, uint64_t dur, uint32_t label, uint64_t ref) {
  vx_pyr_entry it = {start, dur, ref, label, 1};
  p->last_start = start, p->last_dur = dur, p->last_known = 1;
  if (!p->chosen) {
    if (p->nstage == p->cap_stage) {
      size_t cap = p->cap_stage ? 2 * p->cap_stage : 64;
      vx_pyr_entry *s = realloc(p->stage, cap * sizeof *s);
      if (!s)
        return -1;
      p->stage = s, p->cap_stage = cap;
    }
    if (p->counted <= p->items) /* (vx_pyr_extend counts its items first) */
      count_item(p, start);
    p->stage[p->nstage++] = it;
    p->items++;
    if (p->nstage >= STAGE_MAX)
      (void)choose(p); /* out of memory: staged still, chosen at a later add */
    return 0;
  }
  for (size_t i = 0; i < p->nlv; i++)
    if (reserve(&p->lv[i]))
      return -1;
  put_levels(p, &it);
  p->items++;
  if (!(p->items & (STAGE_MAX - 1)))
    grow_top(p);
  return 0;
}

int vx_pyr_extend(vx_pyr *p, const vx_lane_src *src) {
  uint64_t s, d;
  uint32_t l;
  if (!p->chosen && p->items < src->n) {
    for (size_t i = p->counted; i < src->n; i++) {
      src->get(src->items, i, &s, &d, &l);
      count_item(p, s);
    }
    if (choose(p))
      return -1;
  }
  for (size_t i = p->items; i < src->n; i++) {
    src->get(src->items, i, &s, &d, &l);
    if (vx_pyr_add(p, s, d, l, i))
      return -1;
  }
  grow_top(p);
  return 0;
}

uint64_t vx_pyr_items(const vx_pyr *p) { return p->items; }
int vx_pyr_last(const vx_pyr *p, uint64_t *start, uint64_t *dur) {
  if (!p->items || !p->last_known)
    return -1;
  *start = p->last_start, *dur = p->last_dur;
  return 0;
}
size_t vx_pyr_levels(const vx_pyr *p) { return p->nlv; }

const vx_pyr_entry *vx_pyr_level(const vx_pyr *p, size_t i, unsigned *exp4, size_t *n) {
  if (i >= p->nlv)
    return NULL;
  *exp4 = p->lv[i].e;
  *n = p->lv[i].n;
  return p->lv[i].v;
}

vx_pyr *vx_pyr_view(size_t nlevels, const unsigned *exp4, const vx_pyr_entry *const *levels,
                    const size_t *n, uint64_t items) {
  if (nlevels > VX_PYR_MAX_LEVELS)
    return NULL;
  for (size_t i = 0; i < nlevels; i++)
    if (exp4[i] < 1 || exp4[i] > 31 || (i && exp4[i] <= exp4[i - 1]))
      return NULL;
  vx_pyr *p = vx_pyr_new();
  if (!p)
    return NULL;
  for (size_t i = 0; i < nlevels; i++)
    p->lv[i] = (level){exp4[i], (vx_pyr_entry *)levels[i], n[i], n[i], 1};
  p->nlv = nlevels;
  p->items = p->counted = items;
  p->chosen = 1;
  p->top_checked = nlevels ? n[nlevels - 1] : 0;
  return p;
}

/* ---- A window ------------------------------------------------------------------------------ */

typedef struct query {
  const vx_pyr *p;
  const vx_lane_src *src;
  uint64_t t0, w;
  vx_lane_emit emit;
  void *ctx;
  /* the pixel being merged: its longest item so far, and how many */
  uint64_t cur, merged, best_dur;
  size_t best;
} query;

static uint64_t start_of(const query *q, size_t i) {
  uint64_t s, d;
  uint32_t l;
  q->src->get(q->src->items, i, &s, &d, &l);
  return s;
}

static void flush(query *q) {
  if (q->merged)
    q->emit(q->ctx, q->best, q->merged);
  q->merged = 0;
}

/* count items of pixel-bucket start, the longest (i) dur long; an item at
 * least a pixel long is a mark of its own. */
static void feed(query *q, size_t i, uint64_t start, uint64_t dur, uint64_t count) {
  if (dur >= q->w) {
    flush(q);
    q->emit(q->ctx, i, 1);
    q->cur = UINT64_MAX;
    return;
  }
  uint64_t b = start <= q->t0 ? 0 : (start - q->t0) / q->w;
  if (b != q->cur) {
    flush(q);
    q->cur = b, q->best = i, q->best_dur = dur, q->merged = count;
  } else {
    q->merged += count;
    if (dur > q->best_dur)
      q->best = i, q->best_dur = dur;
  }
}

/* Items [lo, hi) one by one: what the timeline always did. */
static void walk(query *q, size_t lo, size_t hi) {
  for (size_t i = lo; i < hi; i++) {
    uint64_t s, d;
    uint32_t l;
    q->src->get(q->src->items, i, &s, &d, &l);
    feed(q, i, s, d, 1);
  }
}

/* First index whose start is >= t. */
static size_t lower_start(const query *q, uint64_t t) {
  size_t lo = 0, hi = q->src->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (start_of(q, mid) < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* First entry of l in bucket b or later. */
static size_t lower_entry(const level *l, uint64_t b) {
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l->v[mid].start >> (2 * l->e) < b)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void range(query *q, int li, size_t lo, size_t hi);

/* A whole bucket of level li: its longest for its count, or, when at least
 * a pixel long, the items before it (finer) then it alone. */
static void feed_entry(query *q, int li, const vx_pyr_entry *e) {
  if (e->dur >= q->w && e->count > 1)
    range(q, li - 1, (size_t)(e->ref - (e->count - 1)), (size_t)e->ref);
  feed(q, (size_t)e->ref, e->start, e->dur, e->dur >= q->w ? 1 : e->count);
}

/* The items [lo, hi) summarised at level li (or finer; li < 0: walked). */
static void range(query *q, int li, size_t lo, size_t hi) {
  if (li < 0 || hi - lo <= RAW_SMALL) {
    walk(q, lo, hi);
    return;
  }
  const level *l = &q->p->lv[li];
  unsigned sh = 2 * l->e;
  uint64_t bf = start_of(q, lo) >> sh, bl = start_of(q, hi - 1) >> sh;
  if (bf == bl) {
    range(q, li - 1, lo, hi);
    return;
  }
  size_t k = lower_entry(l, bf);
  if (lo == 0 || start_of(q, lo - 1) >> sh != bf) /* the first bucket is whole */
    feed_entry(q, li, &l->v[k]);
  else
    range(q, li - 1, lo, lower_start(q, (bf + 1) << sh));
  for (k++; k < l->n && l->v[k].start >> sh < bl; k++)
    feed_entry(q, li, &l->v[k]);
  if (hi == q->src->n || start_of(q, hi) >> sh != bl) /* the last bucket is whole */
    feed_entry(q, li, &l->v[k]);
  else
    range(q, li - 1, lower_start(q, bl << sh), hi);
}

/* The window's items: [*lo, *hi) (end >= t0, start <= t1). */
static void window_items(const query *q, uint64_t t0, uint64_t t1, size_t *lo, size_t *hi) {
  size_t a = 0, b = q->src->n;
  while (a < b) { /* items do not overlap: their ends are sorted too */
    size_t mid = a + (b - a) / 2;
    uint64_t s, d;
    uint32_t l;
    q->src->get(q->src->items, mid, &s, &d, &l);
    if (s + d < t0)
      a = mid + 1;
    else
      b = mid;
  }
  *lo = a;
  *hi = t1 == UINT64_MAX ? q->src->n : lower_start(q, t1 + 1);
  if (*hi < *lo)
    *hi = *lo;
}

int vx_pyr_window(const vx_pyr *p, const vx_lane_src *src, uint64_t t0, uint64_t t1, uint64_t w,
                  uint64_t px, vx_lane_emit emit, void *ctx) {
  query q = {p, src, t0, w ? w : 1, emit, ctx, UINT64_MAX, 0, 0, 0};
  size_t lo, hi;
  window_items(&q, t0, t1, &lo, &hi);
  int li = -1;
  if (p && p->items == src->n && hi - lo > RAW_PER_PX * px)
    for (size_t i = 0; i < p->nlv && (1ull << (2 * p->lv[i].e)) <= q.w; i++)
      li = (int)i;
  range(&q, li, lo, hi);
  flush(&q);
  return li < 0 ? -1 : (int)p->lv[li].e;
}

/* ---- The index's lanes ------------------------------------------------------------------------ */

/* The pyramids of an index's lanes, made as windows need them. */
struct vx_pyr_store {
  pthread_rwlock_t lock; /* guards all below and every pyramid in it */
  struct {
    vx_pyr **lane; /* [0] runs, [1] states, [2 + d] depth d (NULL: not made yet) */
    size_t n;
    vx_cpyr *counter; /* a counter track's */
  } * track;
  size_t ntracks;
};

static void get_slice(const void *items, size_t i, uint64_t *s, uint64_t *d, uint32_t *l) {
  const vx_slice *a = items;
  *s = a[i].start, *d = a[i].dur, *l = a[i].label;
}

static void get_state(const void *items, size_t i, uint64_t *s, uint64_t *d, uint32_t *l) {
  const vx_state *a = items;
  *s = a[i].start, *d = a[i].end - a[i].start, *l = a[i].state;
}

/* The lane's items. @return 0, or -1 when t has no such lane. */
static int lane_src(const vx_track *t, int lane, vx_lane_src *src) {
  if (lane == VX_LANE_STATES)
    *src = (vx_lane_src){t->states, t->nstates, get_state};
  else if (lane == VX_LANE_RUNS)
    *src = (vx_lane_src){t->runs, t->nruns, get_slice};
  else if (lane >= 0 && (size_t)lane < t->depths)
    *src = (vx_lane_src){t->depth[lane], t->ndepth[lane], get_slice};
  else
    return -1;
  return 0;
}

/* x's store, made by the first caller (a lost race frees its own). */
static struct vx_pyr_store *store_of(const vx_index *cx) {
  vx_index *x = (vx_index *)cx; /* the index is read-only; its pyramids are a cache beside it */
  struct vx_pyr_store *s = __atomic_load_n(&x->pyr, __ATOMIC_ACQUIRE), *none = NULL;
  if (s)
    return s;
  s = calloc(1, sizeof *s);
  if (!s || pthread_rwlock_init(&s->lock, NULL)) {
    free(s);
    return NULL;
  }
  /* release: the lock's setup before the pointer; acquire: a winner's setup */
  if (__atomic_compare_exchange_n(&x->pyr, &none, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
    return s;
  pthread_rwlock_destroy(&s->lock);
  free(s);
  return none;
}

/* The track's entry (write lock held), made. @return 0, or -1 out of memory. */
static int track_make(struct vx_pyr_store *s, uint32_t track) {
  if (track < s->ntracks)
    return 0;
  size_t n = (size_t)track + 1;
  void *v = realloc(s->track, n * sizeof *s->track);
  if (!v)
    return -1;
  s->track = v;
  memset(&s->track[s->ntracks], 0, (n - s->ntracks) * sizeof *s->track);
  s->ntracks = n;
  return 0;
}

/* The slot of a lane (write lock held), made. @return NULL out of memory. */
static vx_pyr **slot_make(struct vx_pyr_store *s, uint32_t track, size_t lane) {
  if (track_make(s, track))
    return NULL;
  if (lane >= s->track[track].n) {
    size_t n = lane + 1;
    vx_pyr **v = realloc(s->track[track].lane, n * sizeof *v);
    if (!v)
      return NULL;
    memset(&v[s->track[track].n], 0, (n - s->track[track].n) * sizeof *v);
    s->track[track].lane = v, s->track[track].n = n;
  }
  return &s->track[track].lane[lane];
}

static vx_pyr *slot_get(const struct vx_pyr_store *s, uint32_t track, size_t lane) {
  return track < s->ntracks && lane < s->track[track].n ? s->track[track].lane[lane] : NULL;
}

/* A growing index (vx_grow) may take back a lane's last item (a region
 * still open, shown to its thread's last event) and add it again longer:
 * 1 when the items p holds are no longer src's first ones. */
static int lane_stale(const vx_pyr *p, const vx_lane_src *src) {
  uint64_t s, d, ps, pd;
  uint32_t l;
  if (vx_pyr_items(p) > src->n)
    return 1;
  if (vx_pyr_last(p, &ps, &pd))
    return 0;
  src->get(src->items, (size_t)vx_pyr_items(p) - 1, &s, &d, &l);
  return s != ps || d != pd;
}

/* The lane's pyramid made or extended to src's items (write lock held);
 * made again when its items changed. */
static void slot_sync(struct vx_pyr_store *s, uint32_t track, size_t lane, const vx_lane_src *src) {
  vx_pyr **slot = slot_make(s, track, lane);
  if (slot && *slot && lane_stale(*slot, src)) {
    vx_pyr_free(*slot);
    *slot = NULL;
  }
  if (!slot || (!*slot && !(*slot = vx_pyr_new())))
    return;
  if (vx_pyr_items(*slot) < src->n && vx_pyr_extend(*slot, src)) {
    vx_pyr_free(*slot); /* out of memory: walked instead, tried again next time */
    *slot = NULL;
  }
}

int vx_lane_window(const vx_index *x, const vx_track *t, int lane, uint64_t t0, uint64_t t1,
                   uint64_t w, uint64_t px, vx_lane_emit emit, void *ctx) {
  vx_lane_src src;
  if (lane_src(t, lane, &src))
    return -1;
  query q = {NULL, &src, t0, w, emit, ctx, 0, 0, 0, 0};
  size_t lo, hi;
  window_items(&q, t0, t1, &lo, &hi);
  struct vx_pyr_store *s;
  if (hi - lo <= RAW_PER_PX * px || !(s = store_of(x)))
    return vx_pyr_window(NULL, &src, t0, t1, w, px, emit, ctx);
  size_t slot = (size_t)(lane + 2);
  pthread_rwlock_rdlock(&s->lock);
  vx_pyr *p = slot_get(s, t->id, slot);
  if (!p || vx_pyr_items(p) != src.n || lane_stale(p, &src)) {
    pthread_rwlock_unlock(&s->lock);
    pthread_rwlock_wrlock(&s->lock);
    slot_sync(s, t->id, slot, &src);
    pthread_rwlock_unlock(&s->lock);
    pthread_rwlock_rdlock(&s->lock);
    p = slot_get(s, t->id, slot);
  }
  int r = vx_pyr_window(p, &src, t0, t1, w, px, emit, ctx);
  pthread_rwlock_unlock(&s->lock);
  return r;
}

/* A growing index keeps a counter's samples sorted as they come (a late
 * one may go in before the last): 1 when the samples p holds are no longer
 * t's first ones (as far as its last sample tells). */
static int counter_stale(const vx_cpyr *p, const vx_track *t) {
  uint64_t ts;
  double v;
  size_t n = vx_cpyr_items(p);
  if (n > t->nsamples)
    return 1;
  if (vx_cpyr_last(p, &ts, &v))
    return 0;
  return ts != t->samples[n - 1].ts || memcmp(&v, &t->samples[n - 1].value, sizeof v);
}

/* The counter's pyramid made or extended to its samples (write lock held);
 * made again when they changed. */
static void counter_sync(struct vx_pyr_store *s, const vx_track *t) {
  if (track_make(s, t->id))
    return;
  vx_cpyr **p = &s->track[t->id].counter;
  if (*p && counter_stale(*p, t)) {
    vx_cpyr_free(*p);
    *p = NULL;
  }
  if (!*p && !(*p = vx_cpyr_new()))
    return;
  if (vx_cpyr_items(*p) < t->nsamples && vx_cpyr_extend(*p, t->samples, t->nsamples)) {
    vx_cpyr_free(*p); /* out of memory: walked instead, tried again next time */
    *p = NULL;
  }
}

static const vx_cpyr *counter_get(const struct vx_pyr_store *s, uint32_t track) {
  return track < s->ntracks ? s->track[track].counter : NULL;
}

int vx_counter_window(const vx_index *x, const vx_track *t, uint64_t t0, uint64_t t1, uint64_t w,
                      uint64_t px, vx_counter_emit emit, void *ctx) {
  struct vx_pyr_store *s;
  if (t->nsamples <= RAW_PER_PX * px || !(s = store_of(x)))
    return vx_cpyr_window(NULL, t->samples, t->nsamples, t0, t1, w, px, emit, ctx);
  pthread_rwlock_rdlock(&s->lock);
  const vx_cpyr *p = counter_get(s, t->id);
  if (!p || vx_cpyr_items(p) != t->nsamples || counter_stale(p, t)) {
    pthread_rwlock_unlock(&s->lock);
    pthread_rwlock_wrlock(&s->lock);
    counter_sync(s, t);
    pthread_rwlock_unlock(&s->lock);
    pthread_rwlock_rdlock(&s->lock);
    p = counter_get(s, t->id);
  }
  int r = vx_cpyr_window(p, t->samples, t->nsamples, t0, t1, w, px, emit, ctx);
  pthread_rwlock_unlock(&s->lock);
  return r;
}

void vx__pyr_free(vx_index *x) {
  struct vx_pyr_store *s = x->pyr;
  if (!s)
    return;
  for (size_t i = 0; i < s->ntracks; i++) {
    for (size_t j = 0; j < s->track[i].n; j++)
      vx_pyr_free(s->track[i].lane[j]);
    free(s->track[i].lane);
    vx_cpyr_free(s->track[i].counter);
  }
  free(s->track);
  pthread_rwlock_destroy(&s->lock);
  free(s);
  x->pyr = NULL;
}
