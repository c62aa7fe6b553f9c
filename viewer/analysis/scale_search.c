/* Search through the scale index (analysis.h: vs_search): the earliest
 * regions whose names hold a text, found by decoding batches, bounded.
 * Names are matched once against the trace's sites and strings (a set of
 * label keys); decoding then only looks a key up per region begun. Time
 * from `from` on is searched in rounds of growing size (each round: the
 * threads' batches it touches, cut in units shared by two workers), until
 * limit + 1 matches are had, the trace ends, or the work budget (events
 * decoded) is spent. A match still open where its unit stopped takes its
 * end from its lane's level 0 (where it is its bucket's longest), else by
 * decoding on, at most as far again as the unit. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "scale_internal.h"

#define VS_SEARCH_BUDGET 10000000ull /* events decoded by one search (CTRACE_SCALE_SEARCH_EVENTS) */
#define NAMES_MAX 100

/* ---- Names, once ---------------------------------------------------------------------------- */

typedef struct keyset {
  uint32_t *k; /* 0: empty (no key is 0: every begin type is nonzero) */
  size_t cap, n;
} keyset;

static int keyset_add(keyset *s, uint32_t key) {
  if (4 * (s->n + 1) > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    uint32_t *k = calloc(cap, sizeof *k);
    if (!k)
      return CTRACE_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
      if (s->k[i]) {
        size_t h = ctrace__mix64(s->k[i], 0) & (cap - 1);
        while (k[h])
          h = (h + 1) & (cap - 1);
        k[h] = s->k[i];
      }
    free(s->k);
    s->k = k;
    s->cap = cap;
  }
  size_t h = ctrace__mix64(key, 0) & (s->cap - 1);
  while (s->k[h] && s->k[h] != key)
    h = (h + 1) & (s->cap - 1);
  s->n += !s->k[h];
  s->k[h] = key;
  return 0;
}

static int keyset_has(const keyset *s, uint32_t key) {
  if (!s->n)
    return 0;
  size_t h = ctrace__mix64(key, 0) & (s->cap - 1);
  while (s->k[h]) {
    if (s->k[h] == key)
      return 1;
    h = (h + 1) & (s->cap - 1);
  }
  return 0;
}

/* One more distinct name for the answer (at most NAMES_MAX, then cut). */
static int add_name(vs_search_result *out, const char *name, size_t len) {
  for (size_t i = 0; i < out->nnames; i++)
    if (strlen(out->names[i]) == len && !memcmp(out->names[i], name, len))
      return 0;
  if (out->nnames == NAMES_MAX) {
    out->names_truncated = 1;
    return 0;
  }
  if (!(out->names[out->nnames] = strndup(name, len)))
    return CTRACE_ENOMEM;
  out->nnames++;
  return 0;
}

/* Whether text (NUL-ended) is in s[0..len), ignoring case. */
static int holds(const char *s, size_t len, const char *text) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), s);
  return strcasestr(buf, text) != NULL;
}

/* The keys of every region name holding text: region sites, strings (the
 * names of REGION_BEGIN_STR and of GC phases), and "gc" (a phase without a
 * name). Under x->lock (the trace's tables grow with rd_site_get). */
static int match_names(vs_index *x, const char *text, keyset *set, vs_search_result *out) {
  rd_trace *tr = x->tr;
  int r = 0;
  pthread_mutex_lock(&x->lock);
  for (size_t i = 0; !r && i < rd_site_count(tr); i++) {
    const rd_site *s = rd_site_at(tr, i);
    if (!s->defined || s->kind != CTRACE_FMT_SITE_REGION || !holds(s->name, strlen(s->name), text))
      continue;
    r = keyset_add(set, VS_KEY(CTRACE_FMT_EV_REGION_BEGIN, s->id));
    if (!r)
      r = add_name(out, s->name, strlen(s->name));
  }
  for (size_t i = 0; !r && i < rd_string_count(tr); i++) {
    uint64_t id;
    size_t len;
    const char *s = rd_string_at(tr, i, &id, &len);
    if (!s || !holds(s, len, text))
      continue;
    r = keyset_add(set, VS_KEY(CTRACE_FMT_EV_REGION_BEGIN_STR, id));
    if (!r)
      r = keyset_add(set, VS_KEY(CTRACE_FMT_EV_GC_BEGIN, id));
    if (!r)
      r = add_name(out, s, len);
  }
  if (!r && holds("gc", 2, text))
    r = keyset_add(set, VS_KEY(CTRACE_FMT_EV_GC_BEGIN, 0)); /* (named when one is found) */
  pthread_mutex_unlock(&x->lock);
  return r;
}

/* ---- Hits: the earliest K kept (a max-heap on (start, thread, depth)) ------------------------ */

static int hit_before(const vs_hit *a, const vs_hit *b) {
  if (a->start != b->start)
    return a->start < b->start;
  if (a->thread != b->thread)
    return a->thread < b->thread;
  return a->depth < b->depth;
}

static int cmp_hit(const void *a, const void *b) {
  return hit_before(a, b) ? -1 : hit_before(b, a) ? 1 : 0;
}

typedef struct hitheap {
  vs_hit *h;
  size_t n, k; /* k: how many are kept */
  uint64_t total;
} hitheap;

static void heap_offer(hitheap *hp, const vs_hit *v) {
  vs_hit *h = hp->h;
  size_t i;
  hp->total++;
  if (hp->n < hp->k) {
    for (i = hp->n++; i > 0 && hit_before(&h[(i - 1) / 2], v); i = (i - 1) / 2)
      h[i] = h[(i - 1) / 2];
    h[i] = *v;
    return;
  }
  if (!hit_before(v, &h[0]))
    return;
  for (i = 0;;) { /* the root replaced, sifted down */
    size_t l = 2 * i + 1, r = l + 1, m = i;
    const vs_hit *mv = v;
    if (l < hp->n && hit_before(mv, &h[l]))
      m = l, mv = &h[l];
    if (r < hp->n && hit_before(mv, &h[r]))
      m = r;
    if (m == i)
      break;
    h[i] = h[m];
    i = m;
  }
  h[i] = *v;
}

/* ---- One unit: a thread's batches [lo, hi) over the round's [a, b) ---------------------------- */

typedef struct sopen {
  uint64_t start;
  uint32_t key;
  int mine; /* a match that begun in this unit, not yet ended */
} sopen;

typedef struct unit_state {
  const vs_thread *t;
  uint32_t ti;
  sopen stack[VS_MAX_DEPTH];
  size_t depth, extra, pending;
  uint64_t last;
  hitheap *hp;
} unit_state;

static void found(unit_state *u, size_t d, uint64_t end, int open) {
  sopen *o = &u->stack[d];
  vs_hit h = {o->start, end > o->start ? end - o->start : 0, u->ti, (uint32_t)d, o->key, open};
  heap_offer(u->hp, &h);
  o->mine = 0;
  u->pending--;
}

/* Matches still open: their end from their lane's level 0, where the
 * entry of their start is theirs (same key, at least as long as seen). */
static void ends_from_lanes(vs_index *x, unit_state *u) {
  for (size_t d = 0; d < u->depth && d + 1 < VS_MAX_DEPTH && u->pending; d++) {
    sopen *o = &u->stack[d];
    if (!o->mine || d >= u->t->nlanes)
      continue;
    const vs_lane *l = &x->lanes[u->t->lane0 + d];
    if (l->depth != d || !l->nlevels)
      continue;
    const vs_entry *e = l->lv[0].e;
    size_t lo = 0, hi = l->lv[0].n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (e[mid].start < o->start)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < l->lv[0].n && e[lo].start == o->start && e[lo].key == o->key &&
        o->start + e[lo].dur >= u->last)
      found(u, d, o->start + e[lo].dur, 0);
  }
}

/* One event; phase 1 (the unit's own) or 2 (only to end its matches). */
static void on_event(unit_state *u, const rd_event *ev, const keyset *set, uint64_t a, int own) {
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
  case CTRACE_FMT_EV_GC_BEGIN: {
    if (u->depth == VS_MAX_DEPTH) {
      u->extra++;
      break;
    }
    uint32_t key = VS_KEY(ev->type, ev->arg[0]);
    int mine = own && ev->ts >= a && keyset_has(set, key);
    u->stack[u->depth++] = (sopen){ev->ts, key, mine};
    u->pending += mine;
    break;
  }
  case CTRACE_FMT_EV_REGION_END:
  case CTRACE_FMT_EV_GC_END:
    if (u->extra)
      u->extra--;
    else if (u->depth && u->stack[--u->depth].mine)
      found(u, u->depth, ev->ts, 0);
    break;
  default: break;
  }
}

typedef struct unit {
  uint32_t thread;
  size_t lo, hi;
  uint64_t events; /* in its batches */
} unit;

static int run_unit(vs_index *x, const unit *un, uint64_t a, uint64_t b, const keyset *set,
                    hitheap *hp, uint64_t *decoded) {
  unit_state u = {.t = &x->threads[un->thread], .ti = un->thread, .hp = hp};
  const vs_batch *bt = &u.t->batches[un->lo];
  for (uint32_t i = 0; i < bt->npre; i++) {
    const vs_pre *p = &u.t->pre[bt->pre + i];
    if (p->type != CTRACE_FMT_EV_TASK_SWITCH && u.depth < VS_MAX_DEPTH)
      u.stack[u.depth++] = (sopen){p->ts, VS_KEY(p->type, p->arg0), 0};
  }
  rd_stream *s = rd_stream_open_at(x->tr, u.t->rd, un->lo, RD_STREAM_OWN);
  if (!s)
    return CTRACE_ENOMEM;
  rd_event ev;
  int r, own = 1;
  uint64_t n = 0, more = 0, cap2 = un->events > 65536 ? un->events : 65536;
  while ((r = rd_stream_next(s, &ev)) == 1) {
    n++;
    if (own && (rd_stream_batch(s) >= un->hi || ev.ts >= b)) {
      own = 0; /* past the unit: on only to end its matches still open */
      ends_from_lanes(x, &u);
    }
    if (!own && (!u.pending || ++more > cap2))
      break;
    u.last = ev.ts;
    on_event(&u, &ev, set, a, own);
  }
  rd_stream_close(s);
  if (u.pending) {
    ends_from_lanes(x, &u);
    /* At the thread's end: to its last event (as the full index; open if
     * the trace is still being written). Else cut where decoding stopped:
     * open. */
    for (size_t d = u.depth; d-- > 0 && u.pending;)
      if (u.stack[d].mine)
        found(&u, d, u.last, r == 1 || x->live);
  }
  *decoded += n;
  return r < 0 ? r : 0;
}

/* ---- Rounds --------------------------------------------------------------------------------- */

typedef struct plan {
  vs_index *x;
  uint64_t **cum; /* per thread: events in its batches [0, k) */
} plan;

/* The first of t's batches that starts at or after ns. */
static size_t batch_from(const vs_thread *t, uint64_t ns) {
  size_t lo = 0, hi = t->nbatches;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->batches[mid].first < ns)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Events in the batches that [a, b) touches, all threads. */
static uint64_t events_in(const plan *p, uint64_t a, uint64_t b) {
  uint64_t n = 0;
  for (size_t i = 0; i < p->x->nthreads; i++) {
    const vs_thread *t = &p->x->threads[i];
    if (t->kernel)
      continue;
    size_t lo = vs__first_batch(t, a), hi = batch_from(t, b);
    if (hi > lo)
      n += p->cum[i][hi] - p->cum[i][lo];
  }
  return n;
}

/* The end of a round from a: as far as keeps its batches within target
 * events, and at least past one thread's first batch there. */
static uint64_t round_end(const plan *p, uint64_t a, uint64_t target) {
  vs_index *x = p->x;
  uint64_t lo = a + 1, hi = x->t1 + 1, least = hi;
  for (size_t i = 0; i < x->nthreads; i++) {
    const vs_thread *t = &x->threads[i];
    size_t k = vs__first_batch(t, a);
    if (!t->kernel && k < t->nbatches && t->batches[k].last + 1 < least)
      least = t->batches[k].last + 1;
  }
  if (events_in(p, a, hi) <= target)
    return hi;
  while (lo < hi) { /* the last b with events_in(a, b) <= target */
    uint64_t mid = lo + (hi - lo + 1) / 2;
    if (events_in(p, a, mid) <= target)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo > least ? lo : least;
}

typedef struct spool {
  vs_index *x;
  const keyset *set;
  uint64_t a, b;
  unit *units;
  size_t nunits;
  _Atomic size_t next;
  _Atomic uint64_t decoded;
  _Atomic int err;
  hitheap heap[2]; /* one per worker */
  _Atomic int slot;
} spool;

static void *search_worker(void *arg) {
  spool *p = arg;
  hitheap *hp = &p->heap[atomic_fetch_add(&p->slot, 1) & 1];
  uint64_t decoded = 0;
  for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->nunits && !atomic_load(&p->err);) {
    int r = run_unit(p->x, &p->units[i], p->a, p->b, p->set, hp, &decoded);
    if (r)
      atomic_store(&p->err, r);
  }
  atomic_fetch_add(&p->decoded, decoded);
  return NULL;
}

/* The round's units: per thread its batches touching [a, b), in pieces of
 * about `piece` events. @return how many, or SIZE_MAX without memory. */
static size_t make_units(const plan *pl, uint64_t a, uint64_t b, uint64_t piece, unit **out) {
  vs_index *x = pl->x;
  size_t n = 0, cap = 0;
  unit *u = NULL;
  for (size_t i = 0; i < x->nthreads; i++) {
    const vs_thread *t = &x->threads[i];
    if (t->kernel)
      continue;
    size_t lo = vs__first_batch(t, a), end = batch_from(t, b);
    while (lo < end) {
      size_t hi = lo + 1;
      while (hi < end && pl->cum[i][hi] - pl->cum[i][lo] < piece)
        hi++;
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        unit *nu = realloc(u, cap * sizeof *nu);
        if (!nu) {
          free(u);
          return SIZE_MAX;
        }
        u = nu;
      }
      u[n++] = (unit){(uint32_t)i, lo, hi, pl->cum[i][hi] - pl->cum[i][lo]};
      lo = hi;
    }
  }
  *out = u;
  return n;
}

/* One round over [a, b): its matches offered to all (*total counted). */
static int run_round(const plan *pl, const keyset *set, uint64_t a, uint64_t b, uint64_t target,
                     hitheap *all, uint64_t *decoded) {
  spool p = {.x = pl->x, .set = set, .a = a, .b = b};
  p.nunits = make_units(pl, a, b, target / 16 > 65536 ? target / 16 : 65536, &p.units);
  if (p.nunits == SIZE_MAX)
    return CTRACE_ENOMEM;
  for (int i = 0; i < 2; i++) {
    p.heap[i].k = all->k;
    if (!(p.heap[i].h = malloc(all->k * sizeof *p.heap[i].h))) {
      free(p.heap[0].h);
      free(p.units);
      return CTRACE_ENOMEM;
    }
  }
  pthread_t tid[2];
  int started = 0;
  for (; started < 2 && (size_t)started < p.nunits; started++)
    if (pthread_create(&tid[started], NULL, search_worker, &p))
      break;
  if (!started)
    search_worker(&p);
  for (int i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  for (int i = 0; i < 2; i++) {
    uint64_t total = all->total + p.heap[i].total;
    for (size_t k = 0; k < p.heap[i].n; k++)
      heap_offer(all, &p.heap[i].h[k]);
    all->total = total;
    free(p.heap[i].h);
  }
  free(p.units);
  *decoded += atomic_load(&p.decoded);
  return atomic_load(&p.err);
}

/* ---- The search ----------------------------------------------------------------------------- */

static uint64_t budget_default(void) {
  const char *e = getenv("CTRACE_SCALE_SEARCH_EVENTS");
  return e && *e ? strtoull(e, NULL, 10) : VS_SEARCH_BUDGET;
}

static int plan_make(vs_index *x, plan *p) {
  p->x = x;
  p->cum = calloc(x->nthreads + 1, sizeof *p->cum);
  if (!p->cum)
    return CTRACE_ENOMEM;
  for (size_t i = 0; i < x->nthreads; i++) {
    const vs_thread *t = &x->threads[i];
    if (!(p->cum[i] = malloc((t->nbatches + 1) * sizeof *p->cum[i])))
      return CTRACE_ENOMEM;
    p->cum[i][0] = 0;
    for (size_t k = 0; k < t->nbatches; k++)
      p->cum[i][k + 1] = p->cum[i][k] + t->batches[k].events;
  }
  return 0;
}

static void plan_free(plan *p) {
  for (size_t i = 0; p->cum && i < p->x->nthreads; i++)
    free(p->cum[i]);
  free(p->cum);
}

/* Rounds from `from` on, each twice the last (a 256th of the budget
 * first), until limit + 1 matches, the end, or the budget. */
static int search_rounds(vs_index *x, const keyset *set, const vs_search_opts *o, hitheap *all,
                         vs_search_result *out) {
  plan pl;
  int r = plan_make(x, &pl);
  uint64_t budget = o->budget ? o->budget : budget_default();
  uint64_t a = o->from > x->t0 ? o->from : x->t0, step = budget / 256 ? budget / 256 : 1;
  while (!r && a <= x->t1 && all->n < all->k && out->events < budget) {
    uint64_t left = budget - out->events, target = step < left ? step : left;
    uint64_t b = round_end(&pl, a, target);
    r = run_round(&pl, set, a, b, target, all, &out->events);
    a = b;
    step *= 2;
  }
  plan_free(&pl);
  out->counted_until = a;
  return r;
}

/* The answer from the kept hits: those before the first one not kept. */
static void cut_hits(vs_index *x, const vs_search_opts *o, hitheap *all, vs_search_result *out) {
  qsort(all->h, all->n, sizeof *all->h, cmp_hit);
  out->total = all->total;
  out->complete = out->counted_until > x->t1;
  out->nhits = all->n;
  out->searched_until = out->counted_until;
  if (all->n == all->k) { /* more than limit: cut before the first left out */
    uint64_t cut = all->h[o->limit].start;
    size_t n = o->limit;
    while (n && all->h[n - 1].start == cut)
      n--;
    out->nhits = n ? n : o->limit;
    out->searched_until = n ? cut : cut + 1; /* (ties past limit at one ns: those are lost) */
  } else {
    out->truncated = !out->complete;
  }
  out->hits = all->h;
  all->h = NULL;
}

int vs_search(vs_index *x, const vs_search_opts *o, vs_search_result *out, char *err,
              size_t errlen) {
  memset(out, 0, sizeof *out);
  keyset set = {0};
  hitheap all = {.k = o->limit + 1};
  int r = CTRACE_ENOMEM;
  out->names = calloc(NAMES_MAX, sizeof *out->names);
  all.h = malloc(all.k * sizeof *all.h);
  if (out->names && all.h && !(r = match_names(x, o->text, &set, out))) {
    if (set.n)
      r = search_rounds(x, &set, o, &all, out);
    else
      out->counted_until = x->t1 + 1; /* (no name holds it: nothing to decode) */
  }
  if (!r) {
    cut_hits(x, o, &all, out);
    for (size_t i = 0; i < out->nhits; i++) { /* a nameless GC phase is named when found */
      vs_label_facts l;
      if (out->hits[i].key == VS_KEY(CTRACE_FMT_EV_GC_BEGIN, 0)) {
        vs_label(x, out->hits[i].key, &l);
        add_name(out, l.name, strlen(l.name));
      }
    }
  }
  free(set.k);
  free(all.h);
  if (r) {
    snprintf(err, errlen, "%s", r == CTRACE_ENOMEM ? "out of memory" : ctrace_strerror(r));
    vs_search_free(out);
  }
  return r;
}

void vs_search_free(vs_search_result *s) {
  for (size_t i = 0; s->names && i < s->nnames; i++)
    free(s->names[i]);
  free(s->names);
  free(s->hits);
  memset(s, 0, sizeof *s);
}
