/* The parts of `ctrace stats` (st_report) that come from a thread's own
 * events, for a trace opened through its scale index (analysis.h:
 * vs_compute_analyses): per thread its regions and its time per state
 * (derived from the wrappers' blocking spans, as the full index derives
 * them when there is no scheduler data), the blocking waits by kind and
 * object, the system calls, the tasks (paired by id across threads after
 * the threads are merged, with their logs and the regions begun under
 * them), and what the window holds. Each thread decodes only the batches
 * the window touches (from vs__first_batch, with the regions open at the
 * first replayed from its snapshot), on one of two workers; the per-thread
 * figures are merged by name. The full index (stats.c, analyses.c) gives
 * the same numbers, within the limits said at vs_compute_analyses. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "quantile.h"
#include "scale_internal.h"

/* ---- One thread's figures ------------------------------------------------------------ */

typedef struct wait_row {
  unsigned kind;
  uint64_t object, count, total, max;
} wait_row;

typedef struct sys_row {
  long nr;
  uint64_t calls, errors, total, max;
} sys_row;

typedef struct task_mark { /* a TASK_BEGIN (name: string id) or TASK_END */
  uint64_t id, ts, name;
  uint32_t thread;
  uint8_t begin, sel; /* sel: begun on a selected thread */
} task_mark;

typedef struct log_mark {
  uint64_t task, ts, cat; /* cat: string id */
  char *msg;
} log_mark;

typedef struct task_sum { /* per task: its logs and regions in the window */
  uint64_t task, logs, regions, region_time;
} task_sum;

/* A thread keeps at most this many logs and regions of tasks one by one
 * (what the longest tasks list; their counts are kept whole). */
#define KEEP_MARKS (1u << 18)

typedef struct treg_mark { /* a region begun under a task */
  uint64_t task, start, dur;
  uint32_t key, thread;
} treg_mark;

typedef struct apart {
  uint64_t state[VX_ST_COUNT_];
  int has_states;
  uint64_t regions, window_events, window_dropped;
  wait_row *waits;
  size_t nwaits, cap_waits;
  vh_map wmap; /* mix(kind, object) -> index + 1 (probing past clashes) */
  sys_row *sys;
  size_t nsys, cap_sys;
  vh_map smap; /* nr -> index + 1 */
  task_mark *tasks;
  size_t ntasks, cap_tasks;
  log_mark *logs;
  size_t nlogs, cap_logs;
  treg_mark *tregs;
  size_t ntregs, cap_tregs;
  vs_self_fix *fix; /* per region key: its direct children's blocking spans' time */
  size_t nfix, cap_fix;
  vh_map fmap; /* key -> fix index + 1 */
  task_sum *sums;
  size_t nsums, cap_sums;
  vh_map smap_task; /* task id -> sums index + 1 */
  int err;
} apart;

static void apart_free(apart *a) {
  free(a->waits);
  vh_free(&a->wmap);
  free(a->sys);
  vh_free(&a->smap);
  free(a->tasks);
  for (size_t i = 0; i < a->nlogs; i++)
    free(a->logs[i].msg);
  free(a->logs);
  free(a->tregs);
  free(a->sums);
  vh_free(&a->smap_task);
  free(a->fix);
  vh_free(&a->fmap);
}

/* The sums of task id on this thread (made if new), or NULL. */
static task_sum *sum_of(apart *a, uint64_t id) {
  uint32_t *v = vh_get(&a->smap_task, id);
  if (v)
    return &a->sums[*v - 1];
  task_sum *t = VH_PUSH(a->sums, a->nsums, a->cap_sums);
  if (!t || vh_put(&a->smap_task, id, (uint32_t)a->nsums)) {
    a->err = CTRACE_ENOMEM;
    return NULL;
  }
  *t = (task_sum){.task = id};
  return t;
}

static uint64_t clip(uint64_t w0, uint64_t w1, uint64_t s, uint64_t e) {
  uint64_t a = s > w0 ? s : w0, b = e < w1 ? e : w1;
  return b > a ? b - a : 0;
}

static int in_window(uint64_t w0, uint64_t w1, uint64_t s, uint64_t e) {
  return s < e ? s < w1 && e > w0 : s >= w0 && s < w1; /* (as st_in_window) */
}

typedef struct aopen {
  uint64_t start, task;
  uint32_t key;
} aopen;

/* One thread's pass: the window [w0, w1) (w1 UINT64_MAX: to the end), we
 * the window's end at most the trace's (what tasks are clipped to). */
typedef struct apass {
  vs_index *x;
  size_t ti;
  apart *a;
  int sel, counters; /* sel: the thread is selected; counters: count counter samples */
  uint64_t w0, w1, we, t1;
  uint64_t task; /* current (TASK_SWITCH) */
  aopen stack[VS_MAX_DEPTH];
  size_t depth, extra;
  int band; /* a blocking span was met: the derived state band runs from it */
  uint64_t at;
  size_t hint;
  int (*fn)(void *arg, const vs_item *it); /* also given each region, as vs__decode's (or NULL) */
  void *fn_arg;
} apass;

static int point_in(const apass *p, uint64_t ts) { /* (as analyses.c's) */
  return ts >= p->w0 && (ts < p->we || (ts == p->we && p->we == p->t1));
}

static void state_add(apass *p, int st, uint64_t s, uint64_t e) {
  p->a->state[st] += clip(p->w0, p->w1, s, e);
}

/* A blocking span of the thread (as index_build.c's finish_states derives
 * the band: running between spans, from the first span on). */
static void block(apass *p, uint64_t s, uint64_t e, int st) {
  if (!p->band) {
    p->band = 1;
    p->at = s;
    p->a->has_states = 1;
  }
  if (s > p->at)
    state_add(p, VX_ST_RUNNING, p->at, s);
  if (e > p->at) {
    state_add(p, st, s > p->at ? s : p->at, e);
    p->at = e;
  }
}

/* A blocking span is a direct child of the region open around it: its
 * time in the window is not that region's self time (as the full index's
 * child_time; scale_stats.c sees the regions only). */
static void child_span(apass *p, uint64_t s, uint64_t e) {
  if (!p->depth || p->extra)
    return;
  const aopen *o = &p->stack[p->depth - 1];
  uint64_t d = clip(p->w0, p->w1, s > o->start ? s : o->start, e);
  if (!d)
    return;
  apart *a = p->a;
  uint32_t *v = vh_get(&a->fmap, o->key);
  if (!v) {
    vs_self_fix *f = VH_PUSH(a->fix, a->nfix, a->cap_fix);
    if (!f || vh_put(&a->fmap, o->key, (uint32_t)a->nfix)) {
      a->err = CTRACE_ENOMEM;
      return;
    }
    *f = (vs_self_fix){.key = o->key};
    v = vh_get(&a->fmap, o->key);
  }
  a->fix[*v - 1].ns += d;
}

static void on_wait(apass *p, uint64_t s, uint64_t e, unsigned kind, uint64_t object) {
  apart *a = p->a;
  block(p, s, e, VX_ST_LOCK);
  child_span(p, s, e);
  if (!in_window(p->w0, p->w1, s, e))
    return;
  a->window_events++;
  uint64_t k = ctrace__mix64(kind, object);
  uint32_t *v;
  while ((v = vh_get(&a->wmap, k)) &&
         (a->waits[*v - 1].kind != kind || a->waits[*v - 1].object != object))
    k = ctrace__mix64(k, 1);
  if (!v) {
    wait_row *w = VH_PUSH(a->waits, a->nwaits, a->cap_waits);
    if (!w || vh_put(&a->wmap, k, (uint32_t)a->nwaits)) {
      a->err = CTRACE_ENOMEM;
      return;
    }
    *w = (wait_row){.kind = kind, .object = object};
    v = vh_get(&a->wmap, k);
  }
  wait_row *w = &a->waits[*v - 1];
  uint64_t d = clip(p->w0, p->w1, s, e);
  w->count++;
  w->total += d;
  w->max = d > w->max ? d : w->max;
}

static void on_syscall(apass *p, uint64_t s, uint64_t e, long nr, int64_t ret) {
  apart *a = p->a;
  block(p, s, e, nr == 35 || nr == 230 ? VX_ST_SLEEP : VX_ST_SYSCALL); /* (nanosleeps) */
  child_span(p, s, e);
  if (!in_window(p->w0, p->w1, s, e))
    return;
  a->window_events++;
  uint32_t *v = vh_get(&a->smap, (uint64_t)nr);
  if (!v) {
    sys_row *r = VH_PUSH(a->sys, a->nsys, a->cap_sys);
    if (!r || vh_put(&a->smap, (uint64_t)nr, (uint32_t)a->nsys)) {
      a->err = CTRACE_ENOMEM;
      return;
    }
    *r = (sys_row){.nr = nr};
    v = vh_get(&a->smap, (uint64_t)nr);
  }
  sys_row *r = &a->sys[*v - 1];
  uint64_t d = clip(p->w0, p->w1, s, e);
  r->calls++;
  r->errors += ret < 0;
  r->total += d;
  r->max = d > r->max ? d : r->max;
}

/* A region [s, e) of the thread, at depth p->depth, ended (open: still
 * open where decoding stopped; ended 0: its thread's events ran out first:
 * the full index keeps it as unfinished, of no task). */
static void region_done(apass *p, const aopen *o, uint64_t e, int ended, int open) {
  apart *a = p->a;
  if (p->fn) { /* (vs__decode's items for scale_stats.c's regions) */
    vs_item it = {(uint32_t)p->depth, o->start, e > o->start ? e - o->start : 0, o->key, 1, open};
    if (p->fn(p->fn_arg, &it))
      a->err = CTRACE_ENOMEM;
  }
  if (p->sel && in_window(p->w0, p->w1, o->start, e)) {
    a->regions++;
    a->window_events++;
  }
  if (!ended || !o->task)
    return;
  uint64_t d = clip(p->w0, p->we, o->start, e);
  if (!d && !(e == o->start && point_in(p, o->start)))
    return;
  task_sum *t = sum_of(a, o->task);
  if (!t)
    return;
  t->regions++;
  t->region_time += d;
  if (a->ntregs >= KEEP_MARKS)
    return;
  treg_mark *m = VH_PUSH(a->tregs, a->ntregs, a->cap_tregs);
  if (!m) {
    a->err = CTRACE_ENOMEM;
    return;
  }
  *m = (treg_mark){o->task, o->start, d, o->key, (uint32_t)p->ti};
}

static void task_mark_add(apass *p, const rd_event *ev, int begin) {
  apart *a = p->a;
  task_mark *m = VH_PUSH(a->tasks, a->ntasks, a->cap_tasks);
  if (!m) {
    a->err = CTRACE_ENOMEM;
    return;
  }
  *m = (task_mark){ev->arg[0],      ev->ts,         begin ? ev->arg[2] : 0,
                   (uint32_t)p->ti, (uint8_t)begin, (uint8_t)p->sel};
}

static void log_add(apass *p, const rd_event *ev) {
  apart *a = p->a;
  if (!ev->arg[0] || !point_in(p, ev->ts))
    return;
  task_sum *t = sum_of(a, ev->arg[0]);
  if (!t || (t->logs++, a->nlogs >= KEEP_MARKS))
    return;
  log_mark *m = VH_PUSH(a->logs, a->nlogs, a->cap_logs);
  char *msg = m ? strndup(ev->str ? ev->str : "", ev->str_len) : NULL;
  if (!msg) {
    if (m)
      a->nlogs--;
    a->err = CTRACE_ENOMEM;
    return;
  }
  *m = (log_mark){ev->arg[0], ev->ts, ev->arg[1], msg};
}

/* A point of the thread's row (an instant, a log, a marked drop, ...). */
static void point(apass *p, uint64_t ts, uint64_t dropped) {
  if (p->sel && ts >= p->w0 && ts < p->w1) {
    p->a->window_events++;
    p->a->window_dropped += dropped;
  }
}

static void counter(apass *p, uint64_t ts, unsigned samples) {
  if (p->counters && ts >= p->w0 && ts < p->w1)
    p->a->window_events += samples;
}

static uint64_t span_start(apass *p, const rd_event *ev) { /* (as native_events.c's before) */
  return ev->arg[1] <= ev->tick ? rd_tick_to_ns(p->x->tr, ev->tick - ev->arg[1], &p->hint) : ev->ts;
}

static void on_region(apass *p, const rd_event *ev) {
  if (ev->type == CTRACE_FMT_EV_REGION_END || ev->type == CTRACE_FMT_EV_GC_END) {
    if (p->extra)
      p->extra--;
    else if (p->depth) {
      p->depth--;
      region_done(p, &p->stack[p->depth], ev->ts, 1, 0);
    }
    return;
  }
  if (p->depth == VS_MAX_DEPTH) {
    p->extra++;
    return;
  }
  uint64_t task = ev->type == CTRACE_FMT_EV_GC_BEGIN ? 0 : p->task;
  p->stack[p->depth++] = (aopen){ev->ts, task, VS_KEY(ev->type, ev->arg[0])};
}

static void on_event(apass *p, const rd_event *ev) {
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
  case CTRACE_FMT_EV_GC_BEGIN:
  case CTRACE_FMT_EV_REGION_END:
  case CTRACE_FMT_EV_GC_END: on_region(p, ev); break;
  case CTRACE_FMT_EV_SYSCALL:
    if (p->sel)
      on_syscall(p, span_start(p, ev), ev->ts, (long)ev->arg[0], ctrace_fmt_unzigzag(ev->arg[3]));
    break;
  case CTRACE_FMT_EV_WAIT:
    if (p->sel)
      on_wait(p, span_start(p, ev), ev->ts, (unsigned)ev->arg[0], ev->arg[2]);
    break;
  case CTRACE_FMT_EV_TASK_BEGIN:
  case CTRACE_FMT_EV_TASK_END: task_mark_add(p, ev, ev->type == CTRACE_FMT_EV_TASK_BEGIN); break;
  case CTRACE_FMT_EV_TASK_SWITCH: p->task = ev->arg[0]; break;
  case CTRACE_FMT_EV_LOG:
    log_add(p, ev);
    point(p, ev->ts, 0);
    break;
  case CTRACE_FMT_EV_DROPPED:
    point(p, ev->ts, ev->arg[0] > UINT32_MAX ? UINT32_MAX : ev->arg[0]);
    break;
  case CTRACE_FMT_EV_INSTANT:
  case CTRACE_FMT_EV_THREAD_CREATE:
  case CTRACE_FMT_EV_THREAD_START:
  case CTRACE_FMT_EV_THREAD_EXIT:
  case CTRACE_FMT_EV_SCHED_BLOCK: point(p, ev->ts, 0); break;
  case CTRACE_FMT_EV_COUNTER: counter(p, ev->ts, 1); break;
  case CTRACE_FMT_EV_HEAP:
  case CTRACE_FMT_EV_HEAP_SET: counter(p, ev->ts, 2); break; /* (two counters each) */
  default: break;
  }
}

/* After the window: a blocking span recorded there (at its end) may have
 * begun inside it. @return 1 to go on (a span that began inside). */
static int after_window(apass *p, const rd_event *ev) {
  if (ev->type != CTRACE_FMT_EV_SYSCALL && ev->type != CTRACE_FMT_EV_WAIT)
    return 0;
  uint64_t s = span_start(p, ev);
  if (s >= p->w1)
    return 0;
  on_event(p, ev);
  return 1;
}

/* Thread ti's figures for the window, from the batches it touches. */
static int thread_pass(apass *p) {
  const vs_thread *t = &p->x->threads[p->ti];
  size_t lo = vs__first_batch(t, p->w0);
  if (t->kernel || lo == t->nbatches)
    return 0;
  const vs_batch *b = &t->batches[lo];
  for (uint32_t i = 0; i < b->npre; i++)
    if (t->pre[b->pre + i].type == CTRACE_FMT_EV_TASK_SWITCH)
      p->task = t->pre[b->pre + i].arg0;
  for (uint32_t i = 0; i < b->npre; i++) { /* (open regions: the task current then, a guess) */
    const vs_pre *r = &t->pre[b->pre + i];
    if (r->type != CTRACE_FMT_EV_TASK_SWITCH && p->depth < VS_MAX_DEPTH)
      p->stack[p->depth++] =
          (aopen){r->ts, r->type == CTRACE_FMT_EV_GC_BEGIN ? 0 : p->task, VS_KEY(r->type, r->arg0)};
  }
  rd_stream *s = rd_stream_open_at(p->x->tr, t->rd, lo, RD_STREAM_OWN);
  if (!s)
    return CTRACE_ENOMEM;
  rd_event ev;
  int r, past = 0;
  uint64_t last = p->w0;
  while (!p->a->err && (r = rd_stream_next(s, &ev)) == 1) {
    if (ev.ts >= p->w1) {
      past = 1;
      if (!after_window(p, &ev))
        break;
      continue;
    }
    last = ev.ts;
    on_event(p, &ev);
  }
  rd_stream_close(s);
  while (p->depth) { /* open past the window (ended later), or to the thread's end */
    p->depth--;
    region_done(p, &p->stack[p->depth], past ? p->w1 : last, past, 1);
  }
  return r < 0 ? r : p->a->err;
}

typedef struct apool {
  vs_index *x;
  uint64_t w0, w1;
  const char *thread;
  apart *per;
  uint8_t *done; /* per thread: passed already (with vs_compute_stats's regions) */
  _Atomic size_t next;
  _Atomic int err;
} apool;

/* Thread i's pass over the pool's window. @return 0 or CTRACE_E*. */
static int pass_thread(apool *q, size_t i, int (*fn)(void *, const vs_item *), void *fn_arg) {
  vs_thread_facts f;
  if (vs_thread_info(q->x, i, &f))
    return 0;
  uint64_t t1 = vs_t1(q->x);
  apass p = {.x = q->x,
             .ti = i,
             .a = &q->per[i],
             .counters = !q->thread,
             .w0 = q->w0,
             .w1 = q->w1,
             .we = q->w1 < t1 ? q->w1 : t1,
             .t1 = t1,
             .fn = fn,
             .fn_arg = fn_arg};
  p.sel = !q->thread || !strcmp(f.name, q->thread);
  q->done[i] = 1;
  return thread_pass(&p);
}

static void *worker(void *arg) {
  apool *q = arg;
  for (size_t i; (i = atomic_fetch_add(&q->next, 1)) < q->x->nthreads && !atomic_load(&q->err);) {
    int r = q->done[i] ? 0 : pass_thread(q, i, NULL, NULL);
    if (r)
      atomic_store(&q->err, r);
  }
  return NULL;
}

/* vs_compute_stats's decoder (vs__decoder): the thread's pass, which also
 * gives its regions to vs_compute_stats. */
static int joint_decode(void *self, vs_index *x, size_t thread, uint64_t t0, uint64_t t_stop,
                        uint64_t open_end, int (*fn)(void *arg, const vs_item *it), void *arg) {
  (void)x, (void)t0, (void)t_stop, (void)open_end; /* (the pool's window: [t0, t_stop + 1)) */
  return pass_thread(self, thread, fn, arg);
}

/* ---- Merged ---------------------------------------------------------------------------- */

/* A copy of s kept by out. NULL when out of memory. */
static const char *keep(vs_analyses *out, const char *s, size_t n) {
  char **k = VH_PUSH(out->strings, out->nstrings, out->cap_strings);
  if (!k)
    return NULL;
  if (!(*k = strndup(s, n)))
    out->nstrings--;
  return *k;
}

/* String id of the trace, kept (NULL when out of memory). */
static const char *keep_string(vs_analyses *out, vs_index *x, uint64_t id, const char *empty) {
  size_t n = 0;
  pthread_mutex_lock(&x->lock);
  const char *s = rd_string(x->tr, id, &n);
  const char *k = n || !empty ? keep(out, s ? s : "", n) : keep(out, empty, strlen(empty));
  pthread_mutex_unlock(&x->lock);
  return k;
}

/* The selected threads (not the kernel's), their regions and states. */
static int merge_threads(vs_index *x, const char *thread, apart *per, vs_analyses *out) {
  size_t n = x->nthreads;
  out->tracks = calloc(n ? n : 1, sizeof *out->tracks);
  out->r.threads = calloc(n ? n : 1, sizeof *out->r.threads);
  if (!out->tracks || !out->r.threads)
    return CTRACE_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    vs_thread_facts f;
    if (vs_thread_info(x, i, &f) || f.kernel || (thread && strcmp(f.name, thread)))
      continue;
    vx_track *tk = &out->tracks[out->r.nthreads];
    st_thread *th = &out->r.threads[out->r.nthreads++];
    *tk = (vx_track){.kind = VX_THREAD, .pid = rd_pid(x->tr), .sort = (int)f.serial};
    tk->tid = f.tid ? f.tid : (int)(1000000000u + f.serial);
    if (!(tk->name = (char *)keep(out, f.name, strlen(f.name))))
      return CTRACE_ENOMEM;
    th->track = tk;
    th->has_states = per[i].has_states;
    th->derived = per[i].has_states;
    th->regions = per[i].regions;
    memcpy(th->state, per[i].state, sizeof th->state);
    out->r.has_sched |= th->has_states;
    out->r.window_events += per[i].window_events;
    out->r.window_dropped += per[i].window_dropped;
  }
  out->r.derived_only = out->r.has_sched; /* (no kernel stream through the scale index) */
  qsort(out->r.threads, out->r.nthreads, sizeof *out->r.threads, st__cmp_thread);
  return 0;
}

/* Waits by (name, object), syscalls by name (names of several kinds or
 * numbers may be one, as the full index's labels are). */
static int merge_waits(vs_index *x, apart *per, vs_analyses *out) {
  st_report *r = &out->r;
  size_t cap = 0;
  vh_map m = {0};
  int err = 0;
  for (size_t i = 0; !err && i < x->nthreads; i++)
    for (size_t j = 0; !err && j < per[i].nwaits; j++) {
      const wait_row *w = &per[i].waits[j];
      const char *name = te_wait_name(w->kind);
      uint64_t k = ctrace__mix64(ctrace__fnv1a(name, strlen(name), 7), w->object);
      uint32_t *v;
      while ((v = vh_get(&m, k)) &&
             (strcmp(r->blocks[*v - 1].name, name) || r->blocks[*v - 1].object != w->object))
        k = ctrace__mix64(k, 1);
      if (!v) {
        st_block *b = VH_PUSH(r->blocks, r->nblocks, cap);
        if (!b || vh_put(&m, k, (uint32_t)r->nblocks)) {
          err = CTRACE_ENOMEM;
          break;
        }
        *b = (st_block){.name = name, .object = w->object};
        v = vh_get(&m, k);
      }
      st_block *b = &r->blocks[*v - 1];
      b->count += w->count;
      b->total += w->total;
      b->max = w->max > b->max ? w->max : b->max;
    }
  vh_free(&m);
  if (r->nblocks > 1)
    qsort(r->blocks, r->nblocks, sizeof *r->blocks, st__cmp_block);
  return err;
}

static int merge_syscalls(vs_index *x, apart *per, vs_analyses *out) {
  st_report *r = &out->r;
  size_t cap = 0;
  for (size_t i = 0; i < x->nthreads; i++)
    for (size_t j = 0; j < per[i].nsys; j++) {
      const sys_row *s = &per[i].sys[j];
      char buf[32];
      const char *name = s->nr >= 0 ? te_syscall_name(s->nr) : NULL;
      if (!name) {
        snprintf(buf, sizeof buf, "syscall %ld", s->nr);
        name = buf;
      }
      size_t g = 0;
      while (g < r->nsyscalls && strcmp(r->syscalls[g].name, name))
        g++;
      if (g == r->nsyscalls) {
        st_syscall *n = VH_PUSH(r->syscalls, r->nsyscalls, cap);
        if (!n || !(name = keep(out, name, strlen(name))))
          return CTRACE_ENOMEM;
        *n = (st_syscall){.name = name};
      }
      st_syscall *o = &r->syscalls[g];
      o->calls += s->calls;
      o->errors += s->errors;
      o->total += s->total;
      o->max = s->max > o->max ? s->max : o->max;
    }
  if (r->nsyscalls > 1)
    qsort(r->syscalls, r->nsyscalls, sizeof *r->syscalls, st__cmp_syscall);
  return 0;
}

/* The threads' span children by region name (vs_analyses_fix_self). */
static int merge_fix(vs_index *x, apart *per, vs_analyses *out) {
  for (size_t i = 0; i < x->nthreads; i++)
    for (size_t j = 0; j < per[i].nfix; j++) {
      vs_label_facts l;
      vs_label(x, per[i].fix[j].key, &l);
      size_t g = 0;
      while (g < out->nfix && strcmp(out->fix[g].name, l.name))
        g++;
      if (g == out->nfix) {
        vs_self_fix *f = VH_PUSH(out->fix, out->nfix, out->cap_fix);
        if (!f || !(f->name = keep(out, l.name, strlen(l.name)))) {
          if (f)
            out->nfix--;
          return CTRACE_ENOMEM;
        }
        f->ns = 0;
      }
      out->fix[g].ns += per[i].fix[j].ns;
    }
  return 0;
}

void vs_analyses_fix_self(const vs_analyses *a, st_region *regions, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t g = 0; g < a->nfix; g++)
      if (!strcmp(a->fix[g].name, regions[i].name))
        regions[i].self -= a->fix[g].ns < regions[i].self ? a->fix[g].ns : regions[i].self;
}

/* ---- Tasks: begins and ends paired across threads ------------------------------------ */

typedef struct tref {
  uint64_t id, start, end, dur, name; /* end UINT64_MAX: none met; name: string id */
  uint32_t thread, end_thread, group;
  int before; /* its begin precedes the batches decoded: named BEFORE */
} tref;

#define BEFORE "(begun before the window)"

typedef struct tmerge {
  vs_index *x;
  vs_analyses *out;
  uint64_t w0, we, t1;
  tref *refs;
  size_t n, cap;
  vh_map ids;   /* task id -> ref index + 1 */
  vh_map names; /* name string id + 1 -> group index + 1 (0: BEFORE's) */
  qt_dist *durs;
  size_t gcap;
} tmerge;

static int cmp_ref(const void *a, const void *b) {
  const tref *x = a, *y = b;
  if (x->dur != y->dur)
    return x->dur > y->dur ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Every begin of a selected thread a ref; each end closes its begin's. An
 * end without one (whose begin precedes the batches the window touches)
 * is a task begun before the window, unless a thread is chosen (its begin
 * could be another thread's). */
static int pair_tasks(tmerge *m, apart *per, const char *thread) {
  for (size_t i = 0; i < m->x->nthreads; i++)
    for (size_t j = 0; j < per[i].ntasks; j++) {
      const task_mark *k = &per[i].tasks[j];
      if (!k->begin || !k->sel)
        continue;
      tref *r = VH_PUSH(m->refs, m->n, m->cap);
      if (!r || vh_put(&m->ids, k->id, (uint32_t)m->n))
        return CTRACE_ENOMEM;
      *r = (tref){k->id, k->ts, UINT64_MAX, 0, k->name, k->thread, UINT32_MAX, 0, 0};
    }
  for (size_t i = 0; i < m->x->nthreads; i++)
    for (size_t j = 0; j < per[i].ntasks; j++) {
      const task_mark *k = &per[i].tasks[j];
      if (k->begin)
        continue;
      uint32_t *v = vh_get(&m->ids, k->id);
      if (v && m->refs[*v - 1].end == UINT64_MAX && m->refs[*v - 1].start <= k->ts) {
        m->refs[*v - 1].end = k->ts;
        m->refs[*v - 1].end_thread = k->thread;
        continue;
      }
      if (v || thread || m->w0 <= vs_t0(m->x) || k->ts <= m->w0)
        continue;
      tref *r = VH_PUSH(m->refs, m->n, m->cap);
      if (!r || vh_put(&m->ids, k->id, (uint32_t)m->n))
        return CTRACE_ENOMEM;
      *r = (tref){k->id, m->w0, k->ts, 0, 0, UINT32_MAX, k->thread, 0, 1};
    }
  return 0;
}

/* The group of ref r's name (made if new). @return its index, or -1. */
static long group_of(tmerge *m, const tref *r) {
  uint64_t key = r->before ? 0 : r->name + 1;
  uint32_t *v = vh_get(&m->names, key);
  if (v)
    return (long)*v - 1;
  st_report *rep = &m->out->r;
  const char *name = r->before ? BEFORE : keep_string(m->out, m->x, r->name, "");
  if (!name)
    return -1;
  size_t g = 0; /* (another string of the same text: the same group) */
  while (g < rep->ntask_groups && strcmp(rep->task_groups[g].name, name))
    g++;
  if (g == rep->ntask_groups) {
    size_t cap = m->gcap;
    st_task_group *q = VH_PUSH(rep->task_groups, rep->ntask_groups, m->gcap);
    if (!q)
      return -1;
    if (m->gcap != cap) {
      qt_dist *d = realloc(m->durs, m->gcap * sizeof *d);
      if (!d)
        return -1;
      m->durs = d;
    }
    memset(&m->durs[g], 0, sizeof m->durs[g]);
    *q = (st_task_group){.name = name, .min = UINT64_MAX};
  }
  if (vh_put(&m->names, key, (uint32_t)g + 1))
    return -1;
  return (long)g;
}

/* The refs in the window, each counted in its group; the others dropped. */
static int count_tasks(tmerge *m) {
  size_t kept = 0;
  for (size_t i = 0; i < m->n; i++) {
    tref r = m->refs[i];
    uint64_t e = r.end == UINT64_MAX || r.end > m->we ? m->we : r.end;
    int in = r.start < e
                 ? e > m->w0
                 : r.start >= m->w0 && (r.start < m->we || (r.start == m->we && m->we == m->t1));
    if (r.start > m->we || !in)
      continue;
    long g = group_of(m, &r);
    if (g < 0 || qt_dist_add(&m->durs[g], r.dur = clip(m->w0, m->we, r.start, e)))
      return CTRACE_ENOMEM;
    r.group = (uint32_t)g;
    st_task_group *q = &m->out->r.task_groups[g];
    q->count++;
    if (r.end == UINT64_MAX && m->we < m->t1)
      r.end = m->we; /* (its end is past the batches decoded: not known to be unfinished) */
    q->unfinished += r.end == UINT64_MAX;
    q->total += r.dur;
    q->min = r.dur < q->min ? r.dur : q->min;
    q->max = r.dur > q->max ? r.dur : q->max;
    m->refs[kept++] = r;
  }
  m->n = kept;
  for (size_t g = 0; g < m->out->r.ntask_groups; g++) {
    st_task_group *q = &m->out->r.task_groups[g];
    q->p50 = qt_dist_percentile(&m->durs[g], 50);
    q->p90 = qt_dist_percentile(&m->durs[g], 90);
    q->p99 = qt_dist_percentile(&m->durs[g], 99);
    q->estimated = qt_dist_estimated(&m->durs[g]);
  }
  return 0;
}

static const char *thread_name(vs_index *x, uint32_t i) {
  vs_thread_facts f;
  return i != UINT32_MAX && !vs_thread_info(x, i, &f) ? f.name : NULL;
}

/* The longest ST_TASKS become r.tasks; every ref found again by its id. */
static int keep_longest(tmerge *m) {
  st_report *r = &m->out->r;
  qsort(m->refs, m->n, sizeof *m->refs, cmp_ref);
  size_t keep_n = m->n < ST_TASKS ? m->n : ST_TASKS;
  r->tasks = calloc(keep_n ? keep_n : 1, sizeof *r->tasks);
  m->out->vtasks = calloc(keep_n ? keep_n : 1, sizeof *m->out->vtasks);
  if (!r->tasks || !m->out->vtasks)
    return CTRACE_ENOMEM;
  for (size_t i = 0; i < keep_n; i++) {
    const tref *f = &m->refs[i];
    vx_task *k = &m->out->vtasks[i];
    *k = (vx_task){.start = f->start,
                   .end = f->end,
                   .id = f->id,
                   .thread = f->thread,
                   .end_thread = f->end_thread};
    r->tasks[r->ntasks++] = (st_task){.task = k,
                                      .name = r->task_groups[f->group].name,
                                      .thread = thread_name(m->x, f->thread),
                                      .end_thread = thread_name(m->x, f->end_thread),
                                      .dur = f->dur};
  }
  vh_free(&m->ids);
  memset(&m->ids, 0, sizeof m->ids);
  for (size_t i = 0; i < m->n; i++)
    if (vh_put(&m->ids, m->refs[i].id, (uint32_t)i + 1))
      return CTRACE_ENOMEM;
  return 0;
}

/* Logs and regions of the tasks in the window: counted per group, kept
 * for the longest (what the threads kept of them one by one). */
static int task_parts(tmerge *m, apart *per) {
  st_report *r = &m->out->r;
  for (size_t i = 0; i < m->x->nthreads; i++)
    for (size_t j = 0; j < per[i].nsums; j++) {
      const task_sum *t = &per[i].sums[j];
      uint32_t *v = vh_get(&m->ids, t->task);
      if (!v)
        continue;
      st_task_group *q = &r->task_groups[m->refs[*v - 1].group];
      q->logs += t->logs;
      q->regions += t->regions;
      q->region_time += t->region_time;
      if (*v - 1 < r->ntasks)
        r->tasks[*v - 1].regions_total += t->regions;
    }
  for (size_t i = 0; i < m->x->nthreads; i++) {
    for (size_t j = 0; j < per[i].nlogs; j++) {
      log_mark *l = &per[i].logs[j];
      uint32_t *v = vh_get(&m->ids, l->task);
      if (!v || *v - 1 >= r->ntasks)
        continue;
      st_task *k = &r->tasks[*v - 1];
      st_log *n = realloc(k->logs, (k->nlogs + 1) * sizeof *n);
      const char *cat = keep_string(m->out, m->x, l->cat, "log");
      char **own = VH_PUSH(m->out->strings, m->out->nstrings, m->out->cap_strings);
      if (n)
        k->logs = n;
      if (!n || !cat || !own)
        return CTRACE_ENOMEM;
      *own = l->msg; /* (now the report's) */
      k->logs[k->nlogs++] = (st_log){l->ts, cat, l->msg};
      l->msg = NULL;
    }
    for (size_t j = 0; j < per[i].ntregs; j++) {
      const treg_mark *g = &per[i].tregs[j];
      uint32_t *v = vh_get(&m->ids, g->task);
      if (!v || *v - 1 >= r->ntasks)
        continue;
      st_task *k = &r->tasks[*v - 1];
      vs_label_facts lf;
      vs_label(m->x, g->key, &lf);
      st_task_region *n = realloc(k->regions, (k->nregions + 1) * sizeof *n);
      const char *name = keep(m->out, lf.name, strlen(lf.name));
      if (n)
        k->regions = n;
      if (!n || !name)
        return CTRACE_ENOMEM;
      k->regions[k->nregions++] =
          (st_task_region){name, thread_name(m->x, g->thread), g->start, g->dur};
    }
  }
  return 0;
}

static int merge_tasks(vs_index *x, uint64_t w0, uint64_t w1, const char *thread, apart *per,
                       vs_analyses *out) {
  uint64_t t1 = vs_t1(x);
  tmerge m = {.x = x, .out = out, .w0 = w0, .we = w1 < t1 ? w1 : t1, .t1 = t1};
  int r = pair_tasks(&m, per, thread);
  if (!r)
    r = count_tasks(&m);
  if (!r && m.n)
    r = keep_longest(&m);
  if (!r && m.n)
    r = task_parts(&m, per);
  for (size_t g = 0; m.durs && g < out->r.ntask_groups; g++)
    qt_dist_free(&m.durs[g]);
  free(m.durs);
  free(m.refs);
  vh_free(&m.ids);
  vh_free(&m.names);
  if (!r)
    st__sort_tasks(&out->r);
  return r;
}

/* ---- The whole ------------------------------------------------------------------------ */

/* The threads not passed yet (all, or with `thread`, the others), then
 * the parts merged into out. @return 0 or CTRACE_E* with err. */
static int finish(apool *q, vs_analyses *out, char *err, size_t errlen) {
  vs_index *x = q->x;
  pthread_t tid[2];
  int started = 0;
  for (; started < 2; started++)
    if (pthread_create(&tid[started], NULL, worker, q))
      break;
  if (!started)
    worker(q);
  for (int i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  int r = atomic_load(&q->err);
  if (!r)
    r = merge_threads(x, q->thread, q->per, out);
  if (!r)
    r = merge_waits(x, q->per, out);
  if (!r)
    r = merge_syscalls(x, q->per, out);
  if (!r)
    r = merge_tasks(x, q->w0, q->w1, q->thread, q->per, out);
  if (!r)
    r = merge_fix(x, q->per, out);
  if (r) {
    snprintf(err, errlen, "%s", r == CTRACE_ENOMEM ? "out of memory" : ctrace_strerror(r));
    vs_analyses_free(out);
  }
  return r;
}

static void pool_free(apool *q) {
  for (size_t i = 0; q->per && i < q->x->nthreads; i++)
    apart_free(&q->per[i]);
  free(q->per);
  free(q->done);
}

int vs_compute_analyses(vs_index *x, uint64_t w0, uint64_t w1, const char *thread, vs_analyses *out,
                        char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  apool q = {.x = x, .w0 = w0, .w1 = w1, .thread = thread};
  q.per = calloc(x->nthreads + 1, sizeof *q.per);
  q.done = calloc(x->nthreads + 1, 1);
  int r = q.per && q.done ? finish(&q, out, err, errlen) : CTRACE_ENOMEM;
  if (!q.per || !q.done)
    snprintf(err, errlen, "out of memory");
  pool_free(&q);
  return r;
}

int vs_compute_stats_analyses(vs_index *x, uint64_t w0, uint64_t w1, const char *thread,
                              vs_stats *stats, vs_analyses *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  apool q = {.x = x, .w0 = w0, .w1 = w1, .thread = thread};
  q.per = calloc(x->nthreads + 1, sizeof *q.per);
  q.done = calloc(x->nthreads + 1, 1);
  vs__decoder dec = {joint_decode, &q};
  int r = CTRACE_ENOMEM;
  if (!q.per || !q.done)
    snprintf(err, errlen, "out of memory");
  else if (!(r = vs__compute_stats_with(x, w0, w1, thread, &dec, stats, err, errlen)) &&
           (r = finish(&q, out, err, errlen)))
    vs_stats_free(stats);
  pool_free(&q);
  return r;
}

void vs_analyses_free(vs_analyses *a) {
  if (!a)
    return;
  for (size_t i = 0; i < a->r.ntasks; i++) {
    free(a->r.tasks[i].logs);
    free(a->r.tasks[i].regions);
  }
  free(a->r.tasks);
  free(a->r.task_groups);
  free(a->r.threads);
  free(a->r.blocks);
  free(a->r.syscalls);
  free(a->tracks);
  free(a->vtasks);
  free(a->fix);
  for (size_t i = 0; i < a->nstrings; i++)
    free(a->strings[i]);
  free(a->strings);
  memset(a, 0, sizeof *a);
}

void vs_analyses_report(const vs_analyses *a, st_report *r) {
  r->processes = 1; /* (one ctrace file) */
  r->threads = a->r.threads;
  r->nthreads = a->r.nthreads;
  r->has_sched = a->r.has_sched;
  r->derived_only = a->r.derived_only;
  r->blocks = a->r.blocks;
  r->nblocks = a->r.nblocks;
  r->syscalls = a->r.syscalls;
  r->nsyscalls = a->r.nsyscalls;
  r->task_groups = a->r.task_groups;
  r->ntask_groups = a->r.ntask_groups;
  r->tasks = a->r.tasks;
  r->ntasks = a->r.ntasks;
  r->window_events = a->r.window_events;
  r->window_dropped = a->r.window_dropped;
}
