/* The scale index's one pass over a trace (analysis.h: vs_open): each
 * thread's events in recording order, the threads shared by two workers
 * (RD_STREAM_OWN streams), writing as it goes, per thread:
 *   - its batches' time ranges and event counts, and for each batch the raw
 *     begin events of the regions open when it starts (replayed before a
 *     window decoded from that batch on, so regions begun earlier are
 *     whole);
 *   - per depth, and for its instants, a pyramid of time buckets (level 0
 *     about 2^21 buckets over the trace's span, each level 4 times coarser):
 *     per bucket the number of items starting in it and the longest one.
 *   - its counters' samples, per COUNTER site and heap series
 *     (scale_counter.c: merged per name into counters after every thread).
 * Each thread's arrays are appended to the index file as soon as it is
 * done (vs__append), so memory holds only the threads being read. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "scale_internal.h"

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap * 2 : 64;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q)
    return -1;
  *p = q;
  *cap = n;
  return 0;
}

/* Buckets of e[0..n) at a shift 2 more: each of 4. @return the new n. */
size_t vs__merge_level(vs_entry *e, size_t n, unsigned shift) {
  size_t m = 0; /* in place: m <= i */
  for (size_t i = 0; i < n; i++) {
    if (m && e[m - 1].start >> shift == e[i].start >> shift) {
      uint64_t sum = (uint64_t)e[m - 1].count + e[i].count;
      uint32_t c = sum < UINT32_MAX ? (uint32_t)sum : UINT32_MAX;
      if (e[i].dur > e[m - 1].dur)
        e[m - 1] = e[i];
      e[m - 1].count = c;
    } else
      e[m++] = e[i];
  }
  return m;
}

/* An item into level 0 of a lane: a new bucket, or the current one's count
 * and longest. Items come in start order. */
static void lvl_add(vs_pass *p, vs_grow_lvl *l, uint64_t start, uint64_t dur, uint32_t key) {
  if (!l->items++)
    l->shift = p->shift0;
  if (l->n >= p->lane_min && l->n * VS_LANE_RATIO > l->items && l->shift + 2 < 64) {
    l->shift += 2; /* too fine for what it holds */
    l->n = vs__merge_level(l->e, l->n, l->shift);
  }
  if (l->n && l->e[l->n - 1].start >> l->shift == start >> l->shift) {
    vs_entry *e = &l->e[l->n - 1];
    e->count += e->count != UINT32_MAX;
    if (dur > e->dur) {
      e->start = start;
      e->dur = dur;
      e->key = key;
    }
    return;
  }
  if (l->n == l->cap) {
    /* At most one entry per bucket of the span: reserved once (pages are
     * only touched as entries come; no copying as it grows). */
    size_t cap = (size_t)((p->x->t1 >> p->shift0) - (p->x->t0 >> p->shift0) + 2);
    if (l->cap || p->live || start > p->x->t1 || !(l->e = malloc(cap * sizeof *l->e))) {
      if (grow((void **)&l->e, &l->cap, l->n + 1, sizeof *l->e)) {
        p->err = CTRACE_ENOMEM;
        return;
      }
    } else
      l->cap = cap;
  }
  l->e[l->n++] = (vs_entry){start, dur, key, 1};
}

static vs_grow_lvl *lane_at(vs_pass *p, size_t d) {
  if (d >= p->nlanes) {
    vs_grow_lvl *n = realloc(p->lanes, (d + 1) * sizeof *n);
    if (!n) {
      p->err = CTRACE_ENOMEM;
      return NULL;
    }
    memset(n + p->nlanes, 0, (d + 1 - p->nlanes) * sizeof *n);
    p->lanes = n;
    p->nlanes = d + 1;
  }
  return &p->lanes[d];
}

/* A region ended at ts: the item at its depth. */
static void pop(vs_pass *p, uint64_t ts) {
  vs_open_reg *o = &p->stack[--p->depth];
  size_t d = p->depth < VS_MAX_DEPTH - 1 ? p->depth : VS_MAX_DEPTH - 1;
  vs_grow_lvl *l = lane_at(p, d);
  if (l)
    lvl_add(p, l, o->start, ts >= o->start ? ts - o->start : 0, o->key);
}

/* A batch begins: its snapshot is the stack and the task in force. */
static void batch_begins(vs_pass *p, size_t bi, const rd_event *ev) {
  vs_batch *b = &p->b[bi];
  b->pre = p->npre;
  size_t need = p->npre + p->depth + 1;
  if (grow((void **)&p->pre, &p->cap_pre, need, sizeof *p->pre)) {
    p->err = CTRACE_ENOMEM;
    return;
  }
  for (size_t i = 0; i < p->depth; i++)
    p->pre[p->npre++] = p->stack[i].ev;
  if (p->have_switch)
    p->pre[p->npre++] = p->last_switch;
  b->npre = (uint32_t)(p->npre - b->pre);
  b->first = ev->ts;
}

static void on_event(vs_pass *p, const rd_event *ev) {
  vs_pre raw = {ev->ts, ev->tick, ev->arg[0], ev->type, 0};
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
  case CTRACE_FMT_EV_GC_BEGIN:
    if (grow((void **)&p->stack, &p->cap, p->depth + 1, sizeof *p->stack)) {
      p->err = CTRACE_ENOMEM;
      return;
    }
    p->stack[p->depth++] = (vs_open_reg){ev->ts, VS_KEY(ev->type, ev->arg[0]), raw};
    break;
  case CTRACE_FMT_EV_REGION_END:
  case CTRACE_FMT_EV_GC_END:
    if (p->depth)
      pop(p, ev->ts);
    break;
  case CTRACE_FMT_EV_INSTANT: {
    vs_grow_lvl *l = lane_at(p, VS_MAX_DEPTH);
    if (l)
      lvl_add(p, l, ev->ts, 0, VS_KEY(ev->type, ev->arg[0]));
    break;
  }
  case CTRACE_FMT_EV_TASK_SWITCH:
    p->last_switch = raw;
    p->have_switch = 1;
    break;
  case CTRACE_FMT_EV_COUNTER:
  case CTRACE_FMT_EV_HEAP:
  case CTRACE_FMT_EV_HEAP_SET: /* (not in a live index yet) */
    if (!p->live && vs__counter_event(&p->ct, ev, p->shift0, p->lane_min, p->th->events))
      p->err = CTRACE_ENOMEM;
    break;
  case CTRACE_FMT_EV_THREAD_NAME:
    snprintf(p->th->name, sizeof p->th->name, "%.*s", (int)ev->str_len, ev->str ? ev->str : "");
    break;
  default: break;
  }
}

uint32_t vs__write_levels(vs_out *out, vs_entry *e, size_t n, unsigned shift, vs_lane *lane) {
  uint32_t k = 0;
  lane->shift = shift;
  for (;;) {
    lane->lv[k].n = n;
    lane->lv[k].off = vs__append(out, e, n * sizeof *e);
    k++;
    if (n <= 1 || k == VS_MAX_LEVELS || shift + 2 >= 64)
      break;
    shift += 2;
    n = vs__merge_level(e, n, shift);
  }
  return k;
}

/* The thread's tables into the file, its lanes into x->lanes. */
static int thread_done(vs_pass *p, size_t ti) {
  vs_thread *th = p->th;
  while (p->depth) /* still open at its last event: an item to there */
    pop(p, p->last_ts);
  th->batches_off = vs__append(p->out, p->b, th->nbatches * sizeof *p->b);
  th->npre = p->npre;
  th->pre_off = vs__append(p->out, p->pre, p->npre * sizeof *p->pre);
  size_t used = 0;
  for (size_t d = 0; d < p->nlanes; d++)
    used += p->lanes[d].n > 0;
  vs_lane *lanes = calloc(used ? used : 1, sizeof *lanes);
  if (!lanes)
    return CTRACE_ENOMEM;
  size_t k = 0;
  for (size_t d = 0; d < p->nlanes; d++) {
    if (!p->lanes[d].n)
      continue;
    vs_lane *l = &lanes[k++];
    l->thread = (uint32_t)ti;
    l->depth = d == VS_MAX_DEPTH ? VS_LANE_INSTANTS : (uint32_t)d;
    for (size_t i = 0; i < p->lanes[d].n; i++)
      l->items += p->lanes[d].e[i].count;
    l->nlevels = vs__write_levels(p->out, p->lanes[d].e, p->lanes[d].n, p->lanes[d].shift, l);
    if (k == 1 || l->shift < th->shift_min)
      th->shift_min = l->shift;
    if (d != VS_MAX_DEPTH && d + 1 > th->maxdepth)
      th->maxdepth = (uint32_t)(d + 1);
  }
  th->nlanes = (uint32_t)used;
  th->lanes_tmp = lanes;
  return p->out->err;
}

void vs__pass_next(vs_pass *p, size_t bi, const rd_event *ev) {
  vs_thread *th = p->th;
  if (p->live && bi >= p->nb) {
    if (grow((void **)&p->b, &p->cap_b, bi + 1, sizeof *p->b)) {
      p->err = CTRACE_ENOMEM;
      return;
    }
    memset(p->b + p->nb, 0, (bi + 1 - p->nb) * sizeof *p->b);
    p->nb = bi + 1;
  }
  if (bi != p->cur && bi < p->nb) {
    p->cur = bi;
    batch_begins(p, bi, ev);
  }
  if (p->cur < p->nb) {
    p->b[p->cur].last = ev->ts;
    p->b[p->cur].events++;
  }
  if (!th->events++)
    th->first = ev->ts;
  p->last_ts = ev->ts;
  if (!th->kernel)
    on_event(p, ev);
}

void vs__pass_free(vs_pass *p) {
  for (size_t d = 0; d < p->nlanes; d++)
    free(p->lanes[d].e);
  free(p->lanes);
  free(p->stack);
  free(p->b);
  free(p->pre);
  memset(p, 0, sizeof *p);
}

/* One thread, start to end. */
static int read_thread(vs_index *x, vs_out *out, size_t ti, unsigned shift0, size_t lane_min) {
  vs_thread *th = &x->threads[ti];
  vs_pass p = {.x = x, .out = out, .th = th, .shift0 = shift0, .lane_min = lane_min};
  p.cur = SIZE_MAX;
  p.nb = th->nbatches;
  rd_stream *s = rd_stream_open_at(x->tr, th->rd, 0, RD_STREAM_OWN);
  p.b = calloc(th->nbatches ? th->nbatches : 1, sizeof *p.b);
  if (!s || !p.b) {
    rd_stream_close(s);
    free(p.b);
    return CTRACE_ENOMEM;
  }
  rd_event ev;
  while (!p.err && rd_stream_next(s, &ev) == 1)
    vs__pass_next(&p, rd_stream_batch(s), &ev);
  rd_stream_close(s);
  int r = p.err ? p.err : thread_done(&p, ti);
  r = vs__counter_thread_end(x, out, ti, p.ct, r); /* (frees p.ct) */
  p.ct = NULL;
  vs__pass_free(&p);
  return r;
}

typedef struct pool {
  vs_index *x;
  vs_out *out;
  unsigned shift0;
  size_t lane_min;
  _Atomic size_t next;
  size_t *order;
  _Atomic int err;
  vs_progress progress;
  void *progress_arg;
  _Atomic uint64_t done_events;
} pool;

static void *worker(void *arg) {
  pool *pl = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&pl->next, 1);
    if (i >= pl->x->nthreads || atomic_load(&pl->err))
      return NULL;
    size_t ti = pl->order[i];
    int r = read_thread(pl->x, pl->out, ti, pl->shift0, pl->lane_min);
    if (r)
      atomic_store(&pl->err, r);
    uint64_t d =
        atomic_fetch_add(&pl->done_events, pl->x->threads[ti].events) + pl->x->threads[ti].events;
    if (pl->progress)
      pl->progress(pl->progress_arg, d);
  }
}

/* The trace's last event: the end of each thread's last batch (decoding
 * those batches only). */
static uint64_t trace_end(vs_index *x) {
  uint64_t end = rd_start_ns(x->tr);
  for (size_t i = 0; i < x->nthreads; i++) {
    const vs_thread *th = &x->threads[i];
    if (!th->nbatches)
      continue;
    rd_stream *s = rd_stream_open_at(x->tr, th->rd, th->nbatches - 1, 0);
    rd_event ev;
    while (s && rd_stream_next(s, &ev) == 1)
      if (ev.ts > end)
        end = ev.ts;
    rd_stream_close(s);
  }
  return end;
}

static int by_size(const void *a, const void *b, void *arg) {
  const vs_index *x = arg;
  uint64_t ea = x->threads[*(const size_t *)a].nbatches,
           eb = x->threads[*(const size_t *)b].nbatches;
  return ea < eb ? 1 : ea > eb ? -1 : 0;
}

int vs__build(vs_index *x, vs_out *out, vs_progress progress, void *arg) {
  x->nthreads = rd_thread_count(x->tr);
  x->threads = calloc(x->nthreads ? x->nthreads : 1, sizeof *x->threads);
  pool pl = {.x = x, .out = out, .progress = progress, .progress_arg = arg};
  pl.order = calloc(x->nthreads ? x->nthreads : 1, sizeof *pl.order);
  if (!x->threads || !pl.order) {
    free(pl.order);
    return CTRACE_ENOMEM;
  }
  for (size_t i = 0; i < x->nthreads; i++) {
    const rd_thread *t = rd_thread_get(x->tr, i);
    x->threads[i] = (vs_thread){.rd = (uint32_t)i,
                                .tid = t->tid,
                                .serial = t->serial,
                                .kernel = (uint32_t)t->kernel,
                                .nbatches = t->nbatches};
    pl.order[i] = i;
  }
  qsort_r(pl.order, x->nthreads, sizeof *pl.order, by_size, x); /* biggest first */
  x->t0 = rd_start_ns(x->tr);
  x->t1 = trace_end(x);
  unsigned s = 0;
  while (s < 62 && (x->t1 - x->t0) >> s > (1ull << VS_BUCKETS_SHIFT))
    s++;
  x->shift0 = pl.shift0 = s;
  const char *lm = getenv("CTRACE_SCALE_LANE_MIN");
  pl.lane_min = lm && *lm ? (size_t)strtoull(lm, NULL, 10) : VS_LANE_MIN;
  pthread_t tid[2];
  int started = 0;
  for (; started < 2; started++)
    if (pthread_create(&tid[started], NULL, worker, &pl))
      break;
  if (!started)
    worker(&pl);
  for (int i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  free(pl.order);
  int err = atomic_load(&pl.err);
  if (!err && x->kernel) { /* (a FILE.kernel that cannot be read: the index without states) */
    char kerr[sizeof x->kernel_note - 64];
    kerr[0] = '\0';
    int kr = vs__states(x, out, kerr, sizeof kerr);
    if (kr == CTRACE_ENOMEM)
      err = kr;
    else if (kr)
      snprintf(x->kernel_note, sizeof x->kernel_note, "states left out: %s", kerr);
  }
  x->events = 0;
  x->nlanes = 0;
  uint64_t first = UINT64_MAX; /* (t0: the first event, not the session's start) */
  for (size_t i = 0; i < x->nthreads; i++) {
    const vs_thread *th = &x->threads[i];
    if (th->events && th->first < first)
      first = th->first;
    x->events += x->threads[i].events;
    x->nlanes += x->threads[i].nlanes;
  }
  if (first != UINT64_MAX)
    x->t0 = first;
  x->lanes = calloc(x->nlanes ? x->nlanes : 1, sizeof *x->lanes);
  if (!x->lanes && !err)
    err = CTRACE_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < x->nthreads; i++) {
    vs_thread *th = &x->threads[i];
    th->lane0 = (uint32_t)k;
    if (x->lanes && th->lanes_tmp)
      memcpy(&x->lanes[k], th->lanes_tmp, th->nlanes * sizeof *x->lanes);
    k += th->nlanes;
    free(th->lanes_tmp);
    th->lanes_tmp = NULL;
  }
  return err ? err : vs__counter_build(x, out);
}
