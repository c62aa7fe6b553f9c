/* The numbers behind `ctrace stats` and /api/analysis (analysis.h), from
 * the viewer's index: one pass over the slices of the chosen threads (sums,
 * and the durations of each region label for its percentiles: exact up to
 * QT_EXACT_MAX of them, estimated beyond, quantile.h), one over their state
 * bands and the heap counters. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctrace/ctrace.h"
#include "common.h"
#include "analysis.h"
#include "quantile.h"

/* ---- Analysis ------------------------------------------------------------------------ */

enum { KIND_REGION = ST_KIND_REGION, KIND_SYSCALL = ST_KIND_SYSCALL, KIND_WAIT = ST_KIND_WAIT };

int st_label_kind(const vx_label *l) {
  return !strcmp(l->cat, "syscall") ? ST_KIND_SYSCALL
         : !strcmp(l->cat, "wait")  ? ST_KIND_WAIT
                                    : ST_KIND_REGION;
}

/* Per label, while counting. */
typedef struct acc {
  uint64_t count, total, self, min, max, errors;
  uint64_t state[VX_ST_COUNT_]; /* regions: where the time went */
  qt_dist durs;                 /* regions: the durations, for the percentiles */
} acc;

static uint64_t slice_end(const vx_slice *s) { return s->start + s->dur; }

/* Time of the children c[*j..) of the parent [ps, pe), within the window;
 * *j moves past the children that end inside the parent (ends are sorted
 * at one depth, so it only moves forward). */
static uint64_t child_time(const st_window *w, const vx_slice *c, size_t nc, size_t *j, uint64_t ps,
                           uint64_t pe) {
  while (*j < nc && slice_end(&c[*j]) <= ps)
    (*j)++;
  uint64_t lo = ps > w->w0 ? ps : w->w0, hi = pe < w->w1 ? pe : w->w1, sum = 0;
  size_t k = *j;
  for (; k < nc && c[k].start < pe; k++) {
    uint64_t a = c[k].start > lo ? c[k].start : lo, e = slice_end(&c[k]);
    uint64_t b = e < hi ? e : hi;
    if (b > a)
      sum += b - a;
  }
  while (*j < k && slice_end(&c[*j]) <= pe)
    (*j)++;
  return sum;
}

typedef struct blocks {
  vh_map map; /* hash(label, object) -> index in r->blocks */
  uint32_t *label;
  size_t cap;
} blocks;

static int add_wait(st_report *r, blocks *b, const vx_index *x, uint32_t label, uint64_t object,
                    uint64_t dur) {
  uint64_t k = ctrace__mix64(label, object);
  uint32_t *v;
  /* probe past other (label, object) pairs that hash alike */
  while ((v = vh_get(&b->map, k)) && (b->label[*v] != label || r->blocks[*v].object != object))
    k = ctrace__mix64(k, 1);
  if (!v) {
    st_block *n = VH_PUSH(r->blocks, r->nblocks, b->cap);
    if (!n)
      return -1;
    size_t lcap = b->cap;
    uint32_t *l = realloc(b->label, lcap * sizeof *l);
    if (!l)
      return -1;
    b->label = l;
    l[r->nblocks - 1] = label;
    memset(n, 0, sizeof *n);
    n->name = vx_label_get(x, label)->name;
    n->object = object;
    if (vh_put(&b->map, k, (uint32_t)(r->nblocks - 1)))
      return -1;
    v = vh_get(&b->map, k);
  }
  st_block *s = &r->blocks[*v];
  s->count++;
  s->total += dur;
  if (dur > s->max)
    s->max = dur;
  return 0;
}

static int selected(const vx_track *t, const st_options *o) {
  return t->kind == VX_THREAD && (!o->thread || strcmp(t->name, o->thread) == 0);
}

/* First pass over one thread's slices: counts, sums and self times per
 * label, waits by object. */
static int sum_thread(const vx_index *x, const st_window *w, const uint8_t *kind, acc *a,
                      st_thread *th, st_report *r, blocks *bl) {
  const vx_track *t = th->track;
  for (size_t d = 0; d < t->depths; d++) {
    const vx_slice *s = t->depth[d], *c = d + 1 < t->depths ? t->depth[d + 1] : NULL;
    size_t n = t->ndepth[d], nc = c ? t->ndepth[d + 1] : 0;
    size_t j = c ? vx_slice_lower(c, nc, w->w0) : 0;
    for (size_t i = vx_slice_lower(s, n, w->w0); i < n && s[i].start < w->w1; i++) {
      uint64_t e = slice_end(&s[i]);
      if (!st_in_window(w, s[i].start, e))
        continue;
      uint64_t dur = st_clip(w, s[i].start, e);
      uint32_t l = s[i].label;
      acc *p = &a[l];
      if (kind[l] == KIND_REGION) {
        uint64_t ch = c ? child_time(w, c, nc, &j, s[i].start, e) : 0;
        p->self += dur - (ch < dur ? ch : dur);
        th->regions++;
        uint64_t a0 = s[i].start > w->w0 ? s[i].start : w->w0;
        if (dur)
          st__state_split(t, a0, a0 + dur, p->state);
        if (qt_dist_add(&p->durs, dur))
          return -1;
      } else if (kind[l] == KIND_SYSCALL) {
        const vx_info *in = vx_info_get(x, s[i].args);
        if (in && in->ret < 0)
          p->errors++;
      } else {
        const vx_info *in = vx_info_get(x, s[i].args);
        if (add_wait(r, bl, x, l, in ? in->arg : 0, dur))
          return -1;
      }
      if (!p->count || dur < p->min)
        p->min = dur;
      if (dur > p->max)
        p->max = dur;
      p->count++;
      p->total += dur;
    }
  }
  return 0;
}

static void thread_states(const vx_track *t, const st_window *w, st_thread *th) {
  th->has_states = t->nstates > 0;
  th->derived = t->nstates > 0 && t->states[0].derived;
  for (size_t i = 0; i < t->nstates; i++) {
    const vx_state *s = &t->states[i];
    if (s->start >= w->w1)
      break;
    if (s->state < VX_ST_COUNT_)
      th->state[s->state] += st_clip(w, s->start, s->end);
  }
}

static int is_heap_live(const vx_track *t) {
  return t->kind == VX_COUNTER && strncmp(t->name, "heap live", 9) == 0;
}

/* Peak and final value of a heap counter within the window (the value
 * before the window holds at its start). */
static int heap_values(const vx_track *t, const st_window *w, st_heap *h) {
  int any = 0;
  for (size_t i = 0; i < t->nsamples; i++) {
    const vx_sample *s = &t->samples[i];
    if (s->ts >= w->w1)
      break;
    if (s->ts <= w->w0 && i + 1 < t->nsamples && t->samples[i + 1].ts <= w->w0)
      continue; /* not the one holding at the window's start */
    if (!any || s->value > h->peak)
      h->peak = s->value;
    h->final = s->value;
    any = 1;
  }
  h->track = t;
  return any;
}

/* Threads by process, then as the timeline orders them (analysis.h: the report's orders). */
int st__cmp_thread(const void *a, const void *b) {
  const vx_track *x = ((const st_thread *)a)->track, *y = ((const st_thread *)b)->track;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  if (x->sort != y->sort)
    return x->sort < y->sort ? -1 : 1;
  return (x->tid > y->tid) - (x->tid < y->tid);
}

int st__cmp_block(const void *a, const void *b) {
  const st_block *x = a, *y = b;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->object > y->object) - (x->object < y->object);
}

int st__cmp_syscall(const void *a, const void *b) {
  const st_syscall *x = a, *y = b;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* What the selection holds in the window: slices, instants, counter
 * samples; and the drops marked there. */
static void window_counts(const vx_index *x, const st_options *o, const st_window *w,
                          st_report *r) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_COUNTER && !o->thread) {
      for (size_t j = 0; j < t->nsamples; j++)
        r->window_events += t->samples[j].ts >= w->w0 && t->samples[j].ts < w->w1;
      continue;
    }
    if (!selected(t, o))
      continue;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t j = vx_slice_lower(t->depth[d], t->ndepth[d], w->w0);
           j < t->ndepth[d] && t->depth[d][j].start < w->w1; j++)
        r->window_events += st_in_window(w, t->depth[d][j].start, slice_end(&t->depth[d][j]));
    for (size_t j = 0; j < t->ninst; j++) {
      const vx_instant *in = &t->inst[j];
      if (in->ts < w->w0 || in->ts >= w->w1)
        continue;
      r->window_events++;
      if (in->label == vx_drop_label(x))
        r->window_dropped += in->extra;
    }
  }
}

int st_window_of(const vx_index *x, const st_options *o, st_window *w, char *err, size_t errlen) {
  uint64_t t0 = vx_t0(x), t1 = vx_t1(x);
  *w = (st_window){t0 + o->since, o->until ? t0 + o->until : UINT64_MAX};
  if (o->until && o->until <= o->since) {
    vx_errf(err, errlen, "the window is empty: --until must be after --since");
    return -1;
  }
  if (o->since && w->w0 >= t1) {
    vx_errf(err, errlen, "the window starts after the trace ends (the trace lasts %.6f s)",
            (double)(t1 - t0) / 1e9);
    return -1;
  }
  return 0;
}

/* What the steps of st_compute share. */
typedef struct compute {
  const vx_index *x;
  const st_options *o;
  st_window w;
  st_report *r;
  size_t nt, nl; /* tracks, labels */
  uint8_t *kind; /* per label: KIND_* */
  acc *a;        /* per label, while counting */
  blocks bl;     /* the waits by (label, object) */
} compute;

static size_t selected_count(const compute *c) {
  size_t nsel = 0;
  for (size_t i = 0; i < c->nt; i++)
    if (selected(vx_track_get(c->x, i), c->o))
      nsel++;
  return nsel;
}

/* Processes: distinct pids of the threads. @return 0, or -1 when out of
 * memory. */
static int count_processes(const compute *c) {
  vh_map pids = {0};
  int pids_err = 0;
  for (size_t i = 0; i < c->nt; i++) {
    const vx_track *t = vx_track_get(c->x, i);
    if (t->kind == VX_THREAD && !vh_get(&pids, (uint64_t)(uint32_t)t->pid + 1)) {
      if (vh_put(&pids, (uint64_t)(uint32_t)t->pid + 1, 1))
        pids_err = -1;
      c->r->processes++;
    }
  }
  vh_free(&pids);
  return pids_err;
}

/* The kind of every label, then the first pass over the nsel selected
 * threads: their state times, and the sums per label (sum_thread).
 * @return 0, or -1 when out of memory. */
static int sum_threads(compute *c, size_t nsel) {
  st_report *r = c->r;
  c->kind = malloc(c->nl ? c->nl : 1);
  c->a = calloc(c->nl ? c->nl : 1, sizeof *c->a);
  r->threads = calloc(nsel ? nsel : 1, sizeof *r->threads);
  int ok = c->kind && c->a && r->threads;
  for (size_t l = 0; ok && l < c->nl; l++)
    c->kind[l] = (uint8_t)st_label_kind(vx_label_get(c->x, (uint32_t)l));
  for (size_t i = 0; ok && i < c->nt; i++) {
    const vx_track *t = vx_track_get(c->x, i);
    if (!selected(t, c->o))
      continue;
    st_thread *th = &r->threads[r->nthreads++];
    th->track = t;
    thread_states(t, &c->w, th);
    if (th->has_states) {
      r->has_sched = 1;
      if (!th->derived)
        r->derived_only = -1;
    }
    ok = sum_thread(c->x, &c->w, c->kind, c->a, th, r, &c->bl) == 0;
  }
  r->derived_only = r->has_sched && r->derived_only == 0;
  return ok ? 0 : -1;
}

/* Room for the rows of the regions and syscalls. @return 0, or -1 when
 * out of memory. */
static int room_for_rows(compute *c) {
  st_report *r = c->r;
  size_t nreg = 0, nsys = 0;
  for (size_t l = 0; l < c->nl; l++) {
    if (!c->a[l].count)
      continue;
    nreg += c->kind[l] == KIND_REGION;
    nsys += c->kind[l] == KIND_SYSCALL;
  }
  r->regions = calloc(nreg ? nreg : 1, sizeof *r->regions);
  r->syscalls = calloc(nsys ? nsys : 1, sizeof *r->syscalls);
  return r->regions && r->syscalls ? 0 : -1;
}

/* A row per region label (percentiles, histogram) and per syscall. */
static void label_rows(compute *c) {
  st_report *r = c->r;
  for (size_t l = 0; l < c->nl; l++) {
    acc *p = &c->a[l];
    if (!p->count)
      continue;
    const char *name = vx_label_get(c->x, (uint32_t)l)->name;
    if (c->kind[l] == KIND_REGION) {
      r->regions[r->nregions++] = (st_region){.label = (uint32_t)l,
                                              .name = name,
                                              .count = p->count,
                                              .total = p->total,
                                              .self = p->self,
                                              .min = p->min,
                                              .max = p->max,
                                              .p50 = qt_dist_percentile(&p->durs, 50),
                                              .p90 = qt_dist_percentile(&p->durs, 90),
                                              .p99 = qt_dist_percentile(&p->durs, 99),
                                              .estimated = qt_dist_estimated(&p->durs)};
      st_region *g = &r->regions[r->nregions - 1];
      memcpy(g->state, p->state, sizeof g->state);
      qt_dist_hist_log2(&p->durs, g->hist, ST_HIST);
      qt_dist_free(&p->durs);
    } else if (c->kind[l] == KIND_SYSCALL) {
      r->syscalls[r->nsyscalls++] = (st_syscall){
          .name = name, .calls = p->count, .errors = p->errors, .total = p->total, .max = p->max};
    }
  }
}

static void sort_rows(st_report *r) {
  qsort(r->threads, r->nthreads, sizeof *r->threads, st__cmp_thread);
  if (r->nblocks)
    qsort(r->blocks, r->nblocks, sizeof *r->blocks, st__cmp_block);
  if (r->nsyscalls)
    qsort(r->syscalls, r->nsyscalls, sizeof *r->syscalls, st__cmp_syscall);
  st_sort(r, ST_SORT_TOTAL);
}

/* Heap: every "heap live bytes" counter (one per process). @return 0, or
 * -1 when out of memory. */
static int heap_counters(compute *c) {
  st_report *r = c->r;
  for (size_t i = 0; i < c->nt; i++) {
    const vx_track *t = vx_track_get(c->x, i);
    if (!is_heap_live(t))
      continue;
    st_heap *h = realloc(r->heaps, (r->nheaps + 1) * sizeof *h);
    if (!h)
      return -1;
    r->heaps = h;
    if (heap_values(t, &c->w, &h[r->nheaps]))
      r->nheaps++;
  }
  return 0;
}

/* The blocking profiles of every type (analysis.h); a type the trace
 * cannot give (type -1) is not an error. @return 0, or -1 when out of
 * memory. */
static int compute_profiles(compute *c) {
  st_report *r = c->r;
  if (!(r->profiles = calloc(PF_TYPE_COUNT_, sizeof *r->profiles)))
    return -1;
  int ok = 1;
  for (int t = 0; ok && t < PF_TYPE_COUNT_; t++) {
    char perr[256];
    int pr = pf_compute(c->x, (pf_type)t, c->o, &r->profiles[t], perr, sizeof perr);
    if (pr) {
      if (pr == CTRACE_ENOMEM)
        ok = 0;
      memset(&r->profiles[t], 0, sizeof r->profiles[t]);
      r->profiles[t].type = (pf_type)-1;
    }
  }
  return ok ? 0 : -1;
}

int st_compute(const vx_index *x, const st_options *o, st_report *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  r->trace_t0 = vx_t0(x);
  r->trace_t1 = vx_t1(x);
  r->events = vx_events(x);
  r->dropped = vx_dropped(x);
  r->windowed = o->since || o->until;
  r->thread = o->thread;
  compute c = {.x = x, .o = o, .r = r, .nt = vx_track_count(x), .nl = vx_label_count(x)};
  if (st_window_of(x, o, &c.w, err, errlen))
    return -1;
  r->t0 = c.w.w0;
  r->t1 = c.w.w1 < r->trace_t1 ? c.w.w1 : r->trace_t1;

  size_t nsel = selected_count(&c);
  if (o->thread && !nsel) {
    vx_errf(err, errlen, "no thread named '%s' in the trace", o->thread);
    return -1;
  }
  int ok = count_processes(&c) == 0;
  ok = ok && sum_threads(&c, nsel) == 0;
  ok = ok && room_for_rows(&c) == 0;
  if (ok) {
    label_rows(&c);
    sort_rows(r);
  }
  ok = ok && heap_counters(&c) == 0;
  uint64_t we = r->t1; /* the window's end, at most the trace's */
  if (ok)
    ok = !st__tasks(x, o, c.w.w0, we, r) && !st__items(x, o, c.w.w0, we, r) &&
         !st__mmu(x, o, c.w.w0, we, r) && !st__heap_series(x, c.w.w0, we, r) &&
         !st__allocs(x, o, c.w.w0, we, r);
  if (ok)
    window_counts(x, o, &c.w, r);
  ok = ok && compute_profiles(&c) == 0;
  free(c.kind);
  for (size_t l = 0; c.a && l < c.nl; l++)
    qt_dist_free(&c.a[l].durs);
  free(c.a);
  free(c.bl.label);
  vh_free(&c.bl.map);
  if (!ok) {
    st_free(r);
    vx_errf(err, errlen, "out of memory while computing the statistics");
    return -1;
  }
  return 0;
}

static uint64_t sort_value(const st_region *g, st_sort_key key) {
  switch (key) {
  case ST_SORT_SELF: return g->self;
  case ST_SORT_COUNT: return g->count;
  case ST_SORT_P99: return g->p99;
  default: return g->total;
  }
}

static int cmp_region(const void *a, const void *b, void *arg) {
  const st_region *x = a, *y = b;
  st_sort_key key = *(const st_sort_key *)arg;
  uint64_t u = sort_value(x, key), v = sort_value(y, key);
  if (u != v)
    return u > v ? -1 : 1;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  return strcmp(x->name, y->name);
}

void st_sort(st_report *r, st_sort_key key) {
  if (r->nregions > 1)
    qsort_r(r->regions, r->nregions, sizeof *r->regions, cmp_region, &key);
}

void st_free(st_report *r) {
  for (int t = 0; r->profiles && t < PF_TYPE_COUNT_; t++)
    if ((int)r->profiles[t].type >= 0)
      pf_free(&r->profiles[t]);
  free(r->profiles);
  for (size_t i = 0; i < r->ntasks; i++) {
    free(r->tasks[i].logs);
    free(r->tasks[i].regions);
  }
  free(r->tasks);
  free(r->task_groups);
  free(r->items);
  if (r->mmu)
    free(r->mmu->curve);
  free(r->mmu);
  free(r->series);
  free(r->allocs);
  free(r->threads);
  free(r->regions);
  free(r->blocks);
  free(r->syscalls);
  free(r->heaps);
  memset(r, 0, sizeof *r);
}

/* ---- Printers ---------------------------------------------------------------------- */

static const char *const sort_names[] = {"total", "self", "count", "p99"};

int st_sort_parse(const char *s, st_sort_key *key) {
  for (int k = 0; k < 4; k++)
    if (!strcmp(s, sort_names[k])) {
      *key = (st_sort_key)k;
      return 0;
    }
  return -1;
}

const char *st_fmt_dur(char *buf, size_t n, uint64_t ns) {
  if (ns < 1000)
    snprintf(buf, n, "%" PRIu64 " ns", ns);
  else if (ns < 1000000)
    snprintf(buf, n, "%.2f us", (double)ns / 1e3);
  else if (ns < 1000000000)
    snprintf(buf, n, "%.2f ms", (double)ns / 1e6);
  else
    snprintf(buf, n, "%.3f s", (double)ns / 1e9);
  return buf;
}

static const char *fmt_bytes(char *buf, size_t n, double b) {
  if (fabs(b) < 1024)
    snprintf(buf, n, "%.0f B", b);
  else if (fabs(b) < 1048576)
    snprintf(buf, n, "%.1f KiB", b / 1024);
  else if (fabs(b) < 1073741824.0)
    snprintf(buf, n, "%.1f MiB", b / 1048576);
  else
    snprintf(buf, n, "%.2f GiB", b / 1073741824.0);
  return buf;
}

/* Width of the name column: the longest name, within [min, 48]. */
static int name_width(const char *const *names, size_t n, size_t stride, int min) {
  size_t wd = (size_t)min;
  for (size_t i = 0; i < n; i++) {
    const char *s = *(const char *const *)((const char *)names + i * stride);
    size_t l = strlen(s);
    if (l > wd)
      wd = l;
  }
  return wd > 48 ? 48 : (int)wd;
}

static size_t shown(size_t n, size_t top) { return top && top < n ? top : n; }

static void print_header(FILE *f, const vx_index *x, const st_report *r) {
  char b1[32];
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    fprintf(f, "%-11s%s (%s", i ? "" : "sources:", s->path, s->format);
    if (s->process && s->process[0])
      fprintf(f, ", %s pid %d", s->process, s->pid);
    fprintf(f, "%s)\n", s->complete ? "" : ", incomplete");
    if (s->problem)
      fprintf(f, "%-11s  problem: %s\n", "", s->problem);
  }
  fprintf(f, "%-11s%zu\n", "processes:", r->processes);
  fprintf(f, "%-11s%.6f s", "span:", (double)(r->trace_t1 - r->trace_t0) / 1e9);
  if (r->windowed)
    fprintf(f, "; window %.6f s .. %.6f s (%s)", (double)(r->t0 - r->trace_t0) / 1e9,
            (double)(r->t1 - r->trace_t0) / 1e9, st_fmt_dur(b1, sizeof b1, r->t1 - r->t0));
  if (r->thread)
    fprintf(f, "\n%-11sonly the threads named '%s' (%zu)", "threads:", r->thread, r->nthreads);
  fprintf(f, "\n%-11s%" PRIu64, "events:", r->events);
  if (r->windowed || r->thread)
    fprintf(f, " (%" PRIu64 " in the window%s)", r->window_events, r->thread ? " and threads" : "");
  fprintf(f, "\n%-11s%" PRIu64, "dropped:", r->dropped);
  if (r->windowed || r->thread)
    fprintf(f, " (%" PRIu64 " marked in the window)", r->window_dropped);
  fprintf(f, "%s\n", r->dropped ? " (the numbers below miss what was dropped)" : "");
}

static void print_threads(FILE *f, const st_report *r) {
  static const struct {
    int st;
    const char *title;
  } cols[] = {{VX_ST_RUNNING, "running"}, {VX_ST_RUNNABLE, "runnable"}, {VX_ST_SYSCALL, "syscalls"},
              {VX_ST_LOCK, "locks"},      {VX_ST_SLEEP, "sleeping"},    {VX_ST_BLOCKED, "off-cpu"}};
  int wn = 6;
  for (size_t i = 0; i < r->nthreads; i++) {
    int l = (int)strlen(r->threads[i].track->name);
    if (l > wn)
      wn = l > 48 ? 48 : l;
  }
  fprintf(f, "\nthreads: %s\n",
          !r->has_sched     ? "no scheduling data (time per state unknown)"
          : r->derived_only ? "time per state, estimated from the wrappers' blocking spans "
                              "(no context switches)"
                            : "time per state (off-cpu: blocked, reason unknown)");
  fprintf(f, "  %-*s %8s", wn, "thread", "tid");
  for (size_t c = 0; r->has_sched && c < sizeof cols / sizeof *cols; c++)
    fprintf(f, " %10s", cols[c].title);
  fprintf(f, " %9s\n", "regions");
  for (size_t i = 0; i < r->nthreads; i++) {
    const st_thread *t = &r->threads[i];
    char b[32];
    fprintf(f, "  %-*.*s %8d", wn, wn, t->track->name, t->track->tid);
    for (size_t c = 0; r->has_sched && c < sizeof cols / sizeof *cols; c++)
      fprintf(f, " %10s", t->has_states ? st_fmt_dur(b, sizeof b, t->state[cols[c].st]) : "-");
    fprintf(f, " %9" PRIu64 "\n", t->regions);
  }
}

/* The footnote of a table whose rows [0, n) (of `size` bytes, `estimated`
 * the first's flag) have percentiles from a sketch, if any does. */
static void print_estimated(FILE *f, const int *estimated, size_t n, size_t size,
                            const char *what) {
  for (size_t i = 0; i < n; i++)
    if (*(const int *)((const char *)estimated + i * size)) {
      fprintf(f, "  p50/p90/p99 of %s with more than %d instances are estimates within %s\n", what,
              QT_EXACT_MAX, QT_REL_ERROR_TEXT);
      return;
    }
}

void st_print_regions(FILE *f, const st_report *r, size_t top, st_sort_key key) {
  size_t n = shown(r->nregions, top);
  fprintf(f,
          "\ntop regions by %s (%zu of %zu; self: without nested regions, syscalls and "
          "waits)\n",
          sort_names[key], n, r->nregions);
  if (!n) {
    fprintf(f, "  (none)\n");
    return;
  }
  int wn = name_width(&r->regions[0].name, n, sizeof *r->regions, 6);
  fprintf(f, "  %-*s %9s %10s %10s %10s %10s %10s %10s %10s %10s\n", wn, "region", "count", "total",
          "self", "min", "mean", "p50", "p90", "p99", "max");
  for (size_t i = 0; i < n; i++) {
    const st_region *g = &r->regions[i];
    char b[8][32];
    fprintf(f, "  %-*.*s %9" PRIu64 " %10s %10s %10s %10s %10s %10s %10s %10s\n", wn, wn, g->name,
            g->count, st_fmt_dur(b[0], 32, g->total), st_fmt_dur(b[1], 32, g->self),
            st_fmt_dur(b[2], 32, g->min), st_fmt_dur(b[3], 32, g->total / g->count),
            st_fmt_dur(b[4], 32, g->p50), st_fmt_dur(b[5], 32, g->p90),
            st_fmt_dur(b[6], 32, g->p99), st_fmt_dur(b[7], 32, g->max));
  }
  print_estimated(f, &r->regions[0].estimated, n, sizeof *r->regions, "regions");
}

static void print_blocking(FILE *f, const st_report *r, size_t top) {
  size_t n = shown(r->nblocks, top);
  fprintf(f, "\ntop blocking: waits by kind and object (%zu of %zu)\n", n, r->nblocks);
  if (!n) {
    fprintf(f, "  (none)\n");
    return;
  }
  int wn = name_width(&r->blocks[0].name, n, sizeof *r->blocks, 4);
  fprintf(f, "  %-*s %18s %9s %10s %10s\n", wn, "wait", "object", "count", "total", "max");
  for (size_t i = 0; i < n; i++) {
    const st_block *k = &r->blocks[i];
    char obj[24], b[2][32];
    if (k->object)
      snprintf(obj, sizeof obj, "0x%" PRIx64, k->object);
    else
      snprintf(obj, sizeof obj, "-");
    fprintf(f, "  %-*.*s %18s %9" PRIu64 " %10s %10s\n", wn, wn, k->name, obj, k->count,
            st_fmt_dur(b[0], 32, k->total), st_fmt_dur(b[1], 32, k->max));
  }
}

static void print_syscalls(FILE *f, const st_report *r) {
  fprintf(f, "\nsyscalls (%zu)\n", r->nsyscalls);
  if (!r->nsyscalls) {
    fprintf(f, "  (none)\n");
    return;
  }
  int wn = name_width(&r->syscalls[0].name, r->nsyscalls, sizeof *r->syscalls, 7);
  fprintf(f, "  %-*s %9s %9s %10s %10s\n", wn, "syscall", "calls", "errors", "total", "max");
  for (size_t i = 0; i < r->nsyscalls; i++) {
    const st_syscall *s = &r->syscalls[i];
    char b[2][32];
    fprintf(f, "  %-*.*s %9" PRIu64 " %9" PRIu64 " %10s %10s\n", wn, wn, s->name, s->calls,
            s->errors, st_fmt_dur(b[0], 32, s->total), st_fmt_dur(b[1], 32, s->max));
  }
}

static void print_heap(FILE *f, const st_report *r) {
  fprintf(f, "\nheap\n");
  if (!r->nheaps) {
    fprintf(f, "  (no heap counter in the trace)\n");
    return;
  }
  for (size_t i = 0; i < r->nheaps; i++) {
    char b[2][32];
    fprintf(f, "  pid %-8d %-28s peak %12s   final %12s\n", r->heaps[i].track->pid,
            r->heaps[i].track->name, fmt_bytes(b[0], 32, r->heaps[i].peak),
            fmt_bytes(b[1], 32, r->heaps[i].final));
  }
}

static void print_tasks(FILE *f, const st_report *r, size_t top) {
  if (!r->ntask_groups)
    return;
  size_t n = shown(r->ntask_groups, top);
  fprintf(f, "\ntasks by name (%zu of %zu; unfinished ones last to the window's end)\n", n,
          r->ntask_groups);
  int wn = name_width(&r->task_groups[0].name, n, sizeof *r->task_groups, 4);
  fprintf(f, "  %-*s %9s %10s %10s %10s %10s %10s %10s %6s %8s\n", wn, "task", "count", "total",
          "mean", "p50", "p90", "p99", "max", "logs", "regions");
  for (size_t i = 0; i < n; i++) {
    const st_task_group *g = &r->task_groups[i];
    char b[6][32];
    fprintf(f, "  %-*.*s %9" PRIu64 " %10s %10s %10s %10s %10s %10s %6" PRIu64 " %8" PRIu64 "%s\n",
            wn, wn, g->name, g->count, st_fmt_dur(b[0], 32, g->total),
            st_fmt_dur(b[1], 32, g->total / g->count), st_fmt_dur(b[2], 32, g->p50),
            st_fmt_dur(b[3], 32, g->p90), st_fmt_dur(b[4], 32, g->p99),
            st_fmt_dur(b[5], 32, g->max), g->logs, g->regions,
            g->unfinished ? " (some unfinished)" : "");
  }
  print_estimated(f, &r->task_groups[0].estimated, n, sizeof *r->task_groups, "tasks");
}

static void print_items(FILE *f, const st_report *r, size_t top) {
  if (!r->nitems)
    return;
  size_t n = shown(r->nitems, top);
  fprintf(f, "\nwork items (%zu of %zu; wait: from unblocked to running)\n", n, r->nitems);
  int wn = name_width(&r->items[0].name, n, sizeof *r->items, 4);
  fprintf(f, "  %-*s %7s %10s %10s", wn, "item", "runs", "run", "wait");
  if (r->has_sched)
    fprintf(f, " %10s %10s %10s", "on cpu", "runnable", "blocked");
  fputc('\n', f);
  for (size_t i = 0; i < n; i++) {
    const st_item *m = &r->items[i];
    char b[5][32];
    fprintf(f, "  %-*.*s %7" PRIu64 " %10s %10s", wn, wn, m->name, m->runs,
            st_fmt_dur(b[0], 32, m->run), st_fmt_dur(b[1], 32, m->wait));
    if (r->has_sched)
      fprintf(
          f, " %10s %10s %10s", st_fmt_dur(b[2], 32, m->state[VX_ST_RUNNING]),
          st_fmt_dur(b[3], 32, m->state[VX_ST_RUNNABLE]),
          st_fmt_dur(b[4], 32,
                     m->run - m->state[VX_ST_RUNNING] - m->state[VX_ST_RUNNABLE] - m->state[0]));
    fputc('\n', f);
  }
}

static void print_profiles(FILE *f, const st_report *r, size_t top) {
  static const char *const what[PF_TYPE_COUNT_] = {
      "synchronization (lock, condvar, join waits)", "system calls",
      "scheduler latency (runnable, waiting for a CPU)", "I/O (system calls on file descriptors)"};
  for (int t = 0; r->profiles && t < PF_TYPE_COUNT_; t++) {
    const pf_profile *p = &r->profiles[t];
    if ((int)p->type < 0 || !p->nsamples)
      continue;
    size_t n = shown(p->nsamples, top < 10 && top ? top : 10);
    char b[32];
    fprintf(f, "\ntop blocking call sites: %s (%zu of %zu; ctrace pprof --type %s)\n", what[t], n,
            p->nsamples, pf_type_name((pf_type)t));
    fprintf(f, "  %9s %10s  %s\n", "count", "total", "stack (thread > regions > event)");
    for (size_t i = 0; i < n; i++) {
      const pf_sample *s = &p->samples[i];
      fprintf(f, "  %9" PRIu64 " %10s  ", s->count, st_fmt_dur(b, sizeof b, s->delay));
      for (size_t j = s->n; j-- > 0;)
        fprintf(f, "%s%s", p->strings[p->frames[p->stack[s->first + j]].name], j ? " > " : "");
      if (s->object_str)
        fprintf(f, " %s", p->strings[s->object_str]);
      fputc('\n', f);
    }
  }
}

static void print_mmu(FILE *f, const st_report *r) {
  if (!r->mmu)
    return;
  const st_mmu *m = r->mmu;
  char b[2][32];
  fprintf(f,
          "\nGC-like phases: %" PRIu64 " on %u threads, %s in phases; minimum mutator "
          "utilization\n ",
          m->phases, m->threads, st_fmt_dur(b[0], 32, m->gc));
  for (size_t i = 0; i < m->ncurve; i += 4) /* one per decade, and the whole window */
    fprintf(f, " %s: %.1f%%", st_fmt_dur(b[1], 32, m->curve[i].window), 100 * m->curve[i].mmu);
  if ((m->ncurve - 1) % 4)
    fprintf(f, " %s: %.1f%%", st_fmt_dur(b[1], 32, m->curve[m->ncurve - 1].window),
            100 * m->curve[m->ncurve - 1].mmu);
  fputc('\n', f);
}

static void print_allocs(FILE *f, const st_report *r, size_t top) {
  if (!r->nallocs)
    return;
  size_t n = shown(r->nallocs, top);
  fprintf(f, "\nregions that allocated most (%zu of %zu)\n", n, r->nallocs);
  int wn = name_width(&r->allocs[0].name, n, sizeof *r->allocs, 6);
  for (size_t i = 0; i < n; i++) {
    char b[32];
    fprintf(f, "  %-*.*s %12s\n", wn, wn, r->allocs[i].name,
            fmt_bytes(b, sizeof b, r->allocs[i].bytes));
  }
}

int st_print_text(FILE *f, const vx_index *x, const st_report *r, size_t top, st_sort_key key) {
  print_header(f, x, r);
  print_threads(f, r);
  st_print_regions(f, r, top, key);
  print_tasks(f, r, top);
  print_items(f, r, top);
  print_blocking(f, r, top);
  print_profiles(f, r, top);
  print_syscalls(f, r);
  print_heap(f, r);
  print_allocs(f, r, top);
  print_mmu(f, r);
  return fflush(f) || ferror(f) ? -1 : 0;
}

/* A trace read through its scale index: the parts it computes (analysis.h). */
void st_print_threads(FILE *f, const st_report *r) { print_threads(f, r); }
void st_print_parts(FILE *f, const st_report *r, size_t top) {
  print_tasks(f, r, top);
  print_blocking(f, r, top);
  print_syscalls(f, r);
}

static cJSON *num(cJSON *o, const char *k, double v) { return cJSON_AddNumberToObject(o, k, v); }

static const char *const state_keys[VX_ST_COUNT_] = {"unknown_ns",  "running_ns", "runnable_ns",
                                                     "syscalls_ns", "locks_ns",   "sleeping_ns",
                                                     "offcpu_ns"};

static void json_states(cJSON *o, const uint64_t *state) {
  for (int s = 0; o && s < VX_ST_COUNT_; s++)
    num(o, state_keys[s], (double)state[s]);
}

static void json_stats(cJSON *o, uint64_t count, uint64_t total, uint64_t min, uint64_t p50,
                       uint64_t p90, uint64_t p99, uint64_t max) {
  num(o, "count", (double)count);
  num(o, "total_ns", (double)total);
  num(o, "min_ns", (double)min);
  num(o, "mean_ns", count ? (double)total / (double)count : 0);
  num(o, "p50_ns", (double)p50);
  num(o, "p90_ns", (double)p90);
  num(o, "p99_ns", (double)p99);
  num(o, "max_ns", (double)max);
}

/* Rows whose p50/p90/p99 come from the sketch (quantile.h) say so; exact
 * ones have neither field. */
static void json_estimated(cJSON *o, int estimated) {
  if (!estimated)
    return;
  cJSON_AddBoolToObject(o, "percentiles_estimated", 1);
  num(o, "percentiles_rel_error", QT_REL_ERROR);
}

/* [[t, v], ...] of a series, skipping unknown values. */
static void json_points(cJSON *a, const uint64_t *ts, const double *v, size_t n) {
  for (size_t i = 0; a && i < n; i++) {
    if (isnan(v[i]))
      continue;
    cJSON *p = cJSON_CreateArray();
    cJSON_AddItemToArray(a, p);
    cJSON_AddItemToArray(p, cJSON_CreateNumber((double)ts[i]));
    cJSON_AddItemToArray(p, cJSON_CreateNumber(v[i]));
  }
}

static void json_task_groups(cJSON *tk, const st_report *r, size_t top) {
  cJSON *bn = cJSON_AddArrayToObject(tk, "by_name");
  for (size_t i = 0; bn && i < shown(r->ntask_groups, top); i++) {
    const st_task_group *g = &r->task_groups[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(bn, o);
    cJSON_AddStringToObject(o, "name", g->name);
    json_stats(o, g->count, g->total, g->min, g->p50, g->p90, g->p99, g->max);
    json_estimated(o, g->estimated);
    num(o, "unfinished", (double)g->unfinished);
    num(o, "logs", (double)g->logs);
    num(o, "regions", (double)g->regions);
    num(o, "region_ns", (double)g->region_time);
  }
}

/* One of the longest tasks, with its regions and logs. */
static void json_task(cJSON *o, const st_report *r, const st_task *t) {
  num(o, "id", (double)t->task->id);
  cJSON_AddStringToObject(o, "name", t->name);
  num(o, "start_ns", (double)(t->task->start - r->trace_t0));
  num(o, "dur_ns", (double)t->dur);
  cJSON_AddBoolToObject(o, "unfinished", t->task->end == UINT64_MAX);
  if (t->thread)
    cJSON_AddStringToObject(o, "thread", t->thread);
  if (t->end_thread)
    cJSON_AddStringToObject(o, "end_thread", t->end_thread);
  num(o, "regions_total", (double)t->regions_total);
  cJSON *rs = cJSON_AddArrayToObject(o, "regions");
  for (size_t j = 0; rs && j < t->nregions; j++) {
    cJSON *g = cJSON_CreateObject();
    cJSON_AddItemToArray(rs, g);
    cJSON_AddStringToObject(g, "name", t->regions[j].name);
    if (t->regions[j].thread)
      cJSON_AddStringToObject(g, "thread", t->regions[j].thread);
    num(g, "start_ns", (double)(t->regions[j].start - r->trace_t0));
    num(g, "dur_ns", (double)t->regions[j].dur);
  }
  cJSON *ls = cJSON_AddArrayToObject(o, "logs");
  for (size_t j = 0; ls && j < t->nlogs; j++) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddItemToArray(ls, l);
    num(l, "ts_ns", (double)(t->logs[j].ts - r->trace_t0));
    cJSON_AddStringToObject(l, "category", t->logs[j].category);
    cJSON_AddStringToObject(l, "message", t->logs[j].message);
  }
}

static void json_tasks(cJSON *root, const st_report *r, size_t top) {
  if (!r->ntask_groups) {
    cJSON_AddNullToObject(root, "tasks");
    return;
  }
  cJSON *tk = cJSON_AddObjectToObject(root, "tasks");
  json_task_groups(tk, r, top);
  cJSON *lg = cJSON_AddArrayToObject(tk, "longest");
  for (size_t i = 0; lg && i < r->ntasks; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(lg, o);
    json_task(o, r, &r->tasks[i]);
  }
}

static void json_items(cJSON *root, const st_report *r, size_t top) {
  if (!r->nitems) {
    cJSON_AddNullToObject(root, "items");
    return;
  }
  num(root, "items_total", (double)r->nitems);
  cJSON *it = cJSON_AddArrayToObject(root, "items");
  for (size_t i = 0; it && i < shown(r->nitems, top); i++) {
    const st_item *m = &r->items[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(it, o);
    cJSON_AddStringToObject(o, "name", m->name);
    num(o, "runs", (double)m->runs);
    num(o, "run_ns", (double)m->run);
    num(o, "wait_ns", (double)m->wait);
    num(o, "waits", (double)m->waits);
    if (r->has_sched)
      json_states(cJSON_AddObjectToObject(o, "by_state"), m->state);
  }
}

static void json_profiles(cJSON *root, const st_report *r, size_t top) {
  cJSON *pr = cJSON_AddObjectToObject(root, "profiles");
  for (int t = 0; pr && t < PF_TYPE_COUNT_; t++) {
    if (!r->profiles || (int)r->profiles[t].type < 0)
      cJSON_AddNullToObject(pr, pf_type_name((pf_type)t));
    else
      cJSON_AddItemToObject(pr, pf_type_name((pf_type)t), pf_json(&r->profiles[t], top));
  }
}

static void json_mmu(cJSON *root, const st_report *r) {
  if (!r->mmu) {
    cJSON_AddNullToObject(root, "mmu");
    return;
  }
  cJSON *m = cJSON_AddObjectToObject(root, "mmu");
  num(m, "threads", r->mmu->threads);
  num(m, "phases", (double)r->mmu->phases);
  num(m, "gc_ns", (double)r->mmu->gc);
  cJSON *c = cJSON_AddArrayToObject(m, "curve");
  for (size_t i = 0; c && i < r->mmu->ncurve; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(c, o);
    num(o, "window_ns", (double)r->mmu->curve[i].window);
    num(o, "mmu", r->mmu->curve[i].mmu);
  }
}

static void json_heap_series(cJSON *root, const st_report *r, size_t top) {
  if (!r->series) {
    cJSON_AddNullToObject(root, "heap_series");
    return;
  }
  const st_heap_series *h = r->series;
  cJSON *o = cJSON_AddObjectToObject(root, "heap_series");
  num(o, "pid", h->pid);
  num(o, "peak_bytes", h->peak);
  json_points(cJSON_AddArrayToObject(o, "live"), h->ts, h->live, h->n);
  json_points(cJSON_AddArrayToObject(o, "alloc_rate"), h->ts, h->rate, h->n);
  cJSON *ta = cJSON_AddArrayToObject(o, "top_allocating");
  for (size_t i = 0; ta && i < shown(r->nallocs, top); i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(ta, e);
    cJSON_AddStringToObject(e, "region", r->allocs[i].name);
    num(e, "bytes", r->allocs[i].bytes);
    num(e, "samples", (double)r->allocs[i].samples);
  }
}

/* tasks, items, mmu, heap_series: null when the trace has none. */
static void json_analyses(cJSON *root, const st_report *r, size_t top) {
  json_tasks(root, r, top);
  json_items(root, r, top);
  json_profiles(root, r, top);
  json_mmu(root, r);
  json_heap_series(root, r, top);
}

static void json_sources(cJSON *root, const vx_index *x) {
  cJSON *srcs = cJSON_AddArrayToObject(root, "sources");
  for (size_t i = 0; srcs && i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(srcs, o);
    cJSON_AddStringToObject(o, "path", s->path);
    cJSON_AddStringToObject(o, "format", s->format);
    cJSON_AddStringToObject(o, "process", s->process ? s->process : "");
    num(o, "pid", s->pid);
    num(o, "events", (double)s->events);
    num(o, "dropped", (double)s->dropped);
    cJSON_AddBoolToObject(o, "complete", s->complete);
    if (s->problem)
      cJSON_AddStringToObject(o, "problem", s->problem);
  }
}

/* The span, the window and what it holds, the scheduling data. */
static void json_window(cJSON *root, const st_report *r) {
  num(root, "processes", (double)r->processes);
  num(root, "span_ns", (double)(r->trace_t1 - r->trace_t0));
  cJSON *win = cJSON_AddObjectToObject(root, "window");
  num(win, "since_ns", (double)(r->t0 - r->trace_t0));
  num(win, "until_ns", (double)(r->t1 - r->trace_t0));
  if (r->thread)
    cJSON_AddStringToObject(root, "thread", r->thread);
  num(root, "events", (double)r->events);
  num(root, "dropped", (double)r->dropped);
  num(win, "events", (double)r->window_events);
  num(win, "dropped", (double)r->window_dropped);
  cJSON_AddStringToObject(root, "scheduling",
                          !r->has_sched     ? "none"
                          : r->derived_only ? "wrappers"
                                            : "kernel");
}

static void json_threads(cJSON *root, const st_report *r) {
  static const char *const st_keys[VX_ST_COUNT_] = {
      NULL, "running_ns", "runnable_ns", "syscalls_ns", "locks_ns", "sleeping_ns", "offcpu_ns"};
  cJSON *ths = cJSON_AddArrayToObject(root, "threads");
  for (size_t i = 0; ths && i < r->nthreads; i++) {
    const st_thread *t = &r->threads[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(ths, o);
    cJSON_AddStringToObject(o, "name", t->track->name);
    num(o, "pid", t->track->pid);
    num(o, "tid", t->track->tid);
    cJSON_AddBoolToObject(o, "has_states", t->has_states);
    for (int s = 1; t->has_states && s < VX_ST_COUNT_; s++)
      num(o, st_keys[s], (double)t->state[s]);
    num(o, "regions", (double)t->regions);
  }
}

void st_json_regions(cJSON *root, const st_report *r, size_t top, st_sort_key key) {
  cJSON_AddStringToObject(root, "sort", sort_names[key]);
  num(root, "regions_total", (double)r->nregions);
  cJSON *regs = cJSON_AddArrayToObject(root, "regions");
  for (size_t i = 0; regs && i < shown(r->nregions, top); i++) {
    const st_region *g = &r->regions[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(regs, o);
    cJSON_AddStringToObject(o, "name", g->name);
    num(o, "count", (double)g->count);
    num(o, "total_ns", (double)g->total);
    num(o, "self_ns", (double)g->self);
    num(o, "min_ns", (double)g->min);
    num(o, "mean_ns", (double)g->total / (double)g->count);
    num(o, "p50_ns", (double)g->p50);
    num(o, "p90_ns", (double)g->p90);
    num(o, "p99_ns", (double)g->p99);
    num(o, "max_ns", (double)g->max);
    json_estimated(o, g->estimated);
    cJSON *h = cJSON_AddArrayToObject(o, "hist");
    for (unsigned b = 0; h && b < ST_HIST; b++) {
      if (!g->hist[b])
        continue;
      cJSON *e = cJSON_CreateObject();
      cJSON_AddItemToArray(h, e);
      num(e, "lo_ns", b ? (double)(1ull << b) : 0);
      num(e, "hi_ns", (double)(2ull << b));
      num(e, "count", (double)g->hist[b]);
    }
    if (r->has_sched)
      json_states(cJSON_AddObjectToObject(o, "by_state"), g->state);
  }
}

static void json_blocking(cJSON *root, const st_report *r, size_t top) {
  cJSON *blk = cJSON_AddObjectToObject(root, "blocking");
  cJSON_AddStringToObject(blk, "by", "kind and object");
  num(blk, "total", (double)r->nblocks);
  cJSON *waits = cJSON_AddArrayToObject(blk, "waits");
  for (size_t i = 0; waits && i < shown(r->nblocks, top); i++) {
    const st_block *k = &r->blocks[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(waits, o);
    char obj[24];
    snprintf(obj, sizeof obj, "0x%" PRIx64, k->object);
    cJSON_AddStringToObject(o, "name", k->name);
    if (k->object)
      cJSON_AddStringToObject(o, "object", obj);
    else
      cJSON_AddNullToObject(o, "object");
    num(o, "count", (double)k->count);
    num(o, "total_ns", (double)k->total);
    num(o, "max_ns", (double)k->max);
  }
}

static void json_syscalls(cJSON *root, const st_report *r) {
  cJSON *sys = cJSON_AddArrayToObject(root, "syscalls");
  for (size_t i = 0; sys && i < r->nsyscalls; i++) {
    const st_syscall *s = &r->syscalls[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(sys, o);
    cJSON_AddStringToObject(o, "name", s->name);
    num(o, "calls", (double)s->calls);
    num(o, "errors", (double)s->errors);
    num(o, "total_ns", (double)s->total);
    num(o, "max_ns", (double)s->max);
  }
}

static void json_heap(cJSON *root, const st_report *r) {
  cJSON *heap = cJSON_AddArrayToObject(root, "heap");
  for (size_t i = 0; heap && i < r->nheaps; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(heap, o);
    cJSON_AddStringToObject(o, "counter", r->heaps[i].track->name);
    num(o, "pid", r->heaps[i].track->pid);
    num(o, "peak_bytes", r->heaps[i].peak);
    num(o, "final_bytes", r->heaps[i].final);
  }
}

cJSON *st_json(const vx_index *x, const st_report *r, size_t top, st_sort_key key) {
  cJSON *root = cJSON_CreateObject();
  json_sources(root, x);
  json_window(root, r);
  json_threads(root, r);
  st_json_regions(root, r, top, key);
  json_analyses(root, r, top);
  json_blocking(root, r, top);
  json_syscalls(root, r);
  json_heap(root, r);
  return root;
}

void st_json_parts(cJSON *root, const st_report *r, size_t top) {
  json_threads(root, r);
  json_tasks(root, r, top);
  json_blocking(root, r, top);
  json_syscalls(root, r);
}

int st_print_json(FILE *f, const vx_index *x, const st_report *r, size_t top, st_sort_key key) {
  cJSON *root = st_json(x, r, top, key);
  char *s = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!s)
    return -1;
  fputs(s, f);
  fputc('\n', f);
  cJSON_free(s);
  return fflush(f) || ferror(f) ? -1 : 0;
}

/* ---- Times given on the command line --------------------------------------------------- */

int st_parse_time(const char *s, uint64_t *ns) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || errno || !isfinite(v) || v < 0)
    return -1;
  double mul = !strcmp(end, "") || !strcmp(end, "s") ? 1e9
               : !strcmp(end, "ms")                  ? 1e6
               : !strcmp(end, "us")                  ? 1e3
               : !strcmp(end, "ns")                  ? 1
                                                     : -1;
  if (mul < 0 || v * mul >= 1.8e19)
    return -1;
  *ns = (uint64_t)(v * mul + 0.5);
  return 0;
}
