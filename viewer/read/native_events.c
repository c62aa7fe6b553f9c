/* ctrace files as typed events (read.h): the decoder behind te_set_read for
 * a trace's own events, one handler per event family (regions, tasks and
 * logs, capture, scheduling of work items). The kernel's stream of `ctrace
 * run` (FILE.kernel) is kernel_events.c's.
 *
 * What the format leaves implicit is made explicit here, once, for every
 * consumer: which region an end closes, the task a region begins under
 * (TASK_SWITCH), the work item a thread runs until it stops, when a span
 * began (its start is a tick delta before the event), who released a lock,
 * and what was lost where. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "read_internal.h"
#include "common.h"

/* ---- Labels: one per call site and per interned string, kept for the source ---- */

/* Label keys: sites and region names (strings) in two spaces. */
#define KEY_SITE(i) ((uint32_t)(i)*2u + 1u)
#define KEY_STR(i) ((uint32_t)(i)*2u + 2u)

typedef struct nlabel {
  te_label l;
  char *owned[4]; /* name, cat is static, file, func */
} nlabel;

typedef struct open_entry {
  uint32_t kind; /* OPEN_SITE, OPEN_STR, OPEN_GC */
  uint64_t id;   /* site id, string id, or the GC kind's string id */
} open_entry;

enum { OPEN_SITE, OPEN_STR, OPEN_GC };

typedef struct nthread {
  int tid;
  open_entry *stack;
  size_t depth, cap;
  uint64_t last_ts;
  uint64_t dropped_marked;
  uint64_t run_item; /* the user-level item it runs (0: none) */
  uint64_t task;     /* current task (TASK_SWITCH): regions begun now belong to it */
} nthread;

typedef struct ndec {
  te_set_ctx *ctx;
  rd_trace *tr;
  te_source *src;
  te_handler fn;
  void *arg;
  int pid;
  nthread *threads;
  size_t nthreads;
  nlabel *sites; /* by rd_site index */
  size_t nsites;
  nlabel *strs; /* by string index (dynamic region names) */
  size_t nstrs;
  vh_map tasks;                       /* open task id -> its name's string id */
  vh_map serials;                     /* thread serial -> index (wakers) */
  vh_map items;                       /* work item id -> its name's string id */
  char name[CTRACE_FMT_NAME_MAX + 1]; /* a thread name being handed out */
  int err;
} ndec;

static nlabel *label_slot(nlabel **arr, size_t *n, size_t idx) {
  if (idx >= *n) {
    size_t cap = *n ? *n : 64;
    while (cap <= idx)
      cap *= 2;
    nlabel *p = realloc(*arr, cap * sizeof *p);
    if (!p)
      return NULL;
    memset(p + *n, 0, (cap - *n) * sizeof *p);
    *arr = p;
    *n = cap;
  }
  return &(*arr)[idx];
}

static const char *site_cat(uint32_t kind) {
  switch (kind) {
  case CTRACE_FMT_SITE_COUNTER: return "counter";
  case CTRACE_FMT_SITE_INSTANT: return "instant";
  default: return "region";
  }
}

static const te_label unknown_label = {"?", "region", NULL, NULL, 0, 0};

/* The label of a call site (rd_site_get's pointer lasts one call: copied). */
static const te_label *site_label(ndec *d, uint64_t id) {
  const rd_site *s = rd_site_get(d->tr, id);
  if (s->index == UINT32_MAX)
    return &unknown_label;
  nlabel *n = label_slot(&d->sites, &d->nsites, s->index);
  if (!n)
    return &unknown_label;
  if (!n->l.name) {
    n->owned[0] = strdup(s->name);
    n->owned[2] = strdup(s->file ? s->file : "");
    n->owned[3] = strdup(s->func ? s->func : "");
    if (!n->owned[0] || !n->owned[2] || !n->owned[3]) {
      for (int i = 0; i < 4; i++)
        free(n->owned[i]), n->owned[i] = NULL;
      return &unknown_label;
    }
    n->l = (te_label){n->owned[0], site_cat(s->kind), n->owned[2],
                      n->owned[3], s->line,           KEY_SITE(s->index)};
  }
  return &n->l;
}

/* The label of a region named at run time (an interned string). */
static const te_label *str_label(ndec *d, uint64_t id) {
  uint32_t i = rd_string_index(d->tr, id);
  if (i == UINT32_MAX)
    return &unknown_label;
  nlabel *n = label_slot(&d->strs, &d->nstrs, i);
  if (!n)
    return &unknown_label;
  if (!n->l.name) {
    if (!(n->owned[0] = strdup(rd_string(d->tr, id, NULL))))
      return &unknown_label;
    n->l = (te_label){n->owned[0], "region", NULL, NULL, 0, KEY_STR(i)};
  }
  return &n->l;
}

/* A GC-like phase: named by its kind, or "gc"; known by name (key 0). The
 * string lives in d->name until the next call. */
static te_label gc_label(ndec *d, uint64_t kind) {
  size_t n;
  const char *s = rd_string(d->tr, kind, &n);
  snprintf(d->name, sizeof d->name, "%.*s", (int)n, n ? s : "gc");
  return (te_label){d->name, "gc", NULL, NULL, 0, 0};
}

static const te_label *open_label(ndec *d, const open_entry *e, te_label *scratch) {
  if (e->kind == OPEN_SITE)
    return site_label(d, e->id);
  if (e->kind == OPEN_STR)
    return str_label(d, e->id);
  *scratch = gc_label(d, e->id);
  return scratch;
}

/* ---- Emitting ------------------------------------------------------------------------ */

static void emit(ndec *d, te_event *ev) {
  if (!d->err)
    d->err = d->fn(d->arg, d->src, ev);
}

static te_event ev_at(const ndec *d, const nthread *t, uint8_t type, uint64_t ts) {
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.pid = d->pid;
  ev.tid = t->tid;
  ev.ts = ts;
  ev.depth = (uint16_t)(t->depth < 0xfff0 ? t->depth : 0xfff0);
  return ev;
}

static void emit_instant(ndec *d, const nthread *t, uint64_t ts, const char *name,
                         const char *cat) {
  te_label l = {name, cat, NULL, NULL, 0, 0};
  te_event ev = ev_at(d, t, TE_INSTANT, ts);
  ev.label = &l;
  emit(d, &ev);
}

static void emit_flow(ndec *d, const nthread *t, uint64_t ts, uint64_t id, int kind, int end) {
  te_event ev = ev_at(d, t, TE_FLOW, ts);
  ev.u.flow.id = id;
  ev.u.flow.kind = (uint8_t)kind;
  if (end)
    ev.flags |= TE_F_FLOW_END;
  emit(d, &ev);
}

/* A string of the trace, NUL-terminated in d->name (names are short). */
static const char *str_copy(ndec *d, uint64_t id, size_t *len) {
  size_t n;
  const char *s = rd_string(d->tr, id, &n);
  snprintf(d->name, sizeof d->name, "%.*s", (int)n, s);
  if (len)
    *len = n;
  return d->name;
}

/* The work item thread t runs stops at ts. */
static void item_stop(ndec *d, nthread *t, uint64_t ts) {
  if (!t->run_item)
    return;
  te_event ev = ev_at(d, t, TE_ITEM_STOP, ts);
  uint32_t *name = vh_get(&d->items, t->run_item);
  ev.u.item.id = t->run_item;
  ev.u.item.name = name ? str_copy(d, *name, NULL) : NULL;
  t->run_item = 0;
  emit(d, &ev);
}

/* The time `ticks` before the event (a span's start), through the clock. */
static uint64_t before(const ndec *d, const rd_event *ev, uint64_t ticks) {
  return ticks <= ev->tick ? rd_tick_to_ns(d->tr, ev->tick - ticks, NULL) : ev->ts;
}

static void push(ndec *d, nthread *t, uint32_t kind, uint64_t id) {
  if (t->depth == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    open_entry *s = realloc(t->stack, cap * sizeof *s);
    if (!s) {
      d->err = CTRACE_ENOMEM;
      return;
    }
    t->stack = s;
    t->cap = cap;
  }
  t->stack[t->depth++] = (open_entry){kind, id};
}

/* ---- One handler per family --------------------------------------------------------- */

static void on_region(ndec *d, nthread *t, const rd_event *ev) {
  te_label scratch;
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR: {
    uint32_t kind = ev->type == CTRACE_FMT_EV_REGION_BEGIN ? OPEN_SITE : OPEN_STR;
    te_event e = ev_at(d, t, TE_BEGIN, ev->ts);
    open_entry o = {kind, ev->arg[0]};
    e.label = open_label(d, &o, &scratch);
    e.task = t->task;
    emit(d, &e);
    push(d, t, kind, ev->arg[0]);
    break;
  }
  case CTRACE_FMT_EV_GC_BEGIN: {
    te_event e = ev_at(d, t, TE_BEGIN, ev->ts);
    scratch = gc_label(d, ev->arg[0]);
    e.label = &scratch;
    emit(d, &e);
    push(d, t, OPEN_GC, ev->arg[0]);
    break;
  }
  case CTRACE_FMT_EV_REGION_END:
  case CTRACE_FMT_EV_GC_END: {
    if (t->depth == 0) {
      d->src->unmatched_ends++;
      break;
    }
    open_entry o = t->stack[--t->depth];
    te_event e = ev_at(d, t, TE_END, ev->ts);
    e.label = open_label(d, &o, &scratch);
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_INSTANT: {
    te_event e = ev_at(d, t, TE_INSTANT, ev->ts);
    e.label = site_label(d, ev->arg[0]);
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_COUNTER: {
    te_event e = ev_at(d, t, TE_COUNTER, ev->ts);
    const rd_site *s = rd_site_get(d->tr, ev->arg[0]);
    snprintf(d->name, sizeof d->name, "%s", s->name);
    e.u.counter.name = d->name;
    e.u.counter.ivalue = ctrace_fmt_unzigzag(ev->arg[1]);
    e.u.counter.value = (double)e.u.counter.ivalue;
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_FLOW_BEGIN:
  case CTRACE_FMT_EV_FLOW_END:
    emit_flow(d, t, ev->ts, ev->arg[0], TE_FLOW_USER, ev->type == CTRACE_FMT_EV_FLOW_END);
    break;
  default: break;
  }
}

static void on_task(ndec *d, nthread *t, const rd_event *ev) {
  switch (ev->type) {
  case CTRACE_FMT_EV_TASK_BEGIN: {
    vh_put(&d->tasks, ev->arg[0], (uint32_t)ev->arg[2]);
    te_event e = ev_at(d, t, TE_TASK_BEGIN, ev->ts);
    e.u.task_ev.id = ev->arg[0];
    e.u.task_ev.parent = ev->arg[1];
    e.u.task_ev.name = str_copy(d, ev->arg[2], NULL);
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_TASK_END: {
    uint32_t name = 0;
    int known = vh_del(&d->tasks, ev->arg[0], &name);
    te_event e = ev_at(d, t, TE_TASK_END, ev->ts);
    e.u.task_ev.id = ev->arg[0];
    e.u.task_ev.name = known && name ? str_copy(d, name, NULL) : NULL;
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_TASK_SWITCH: t->task = ev->arg[0]; break;
  case CTRACE_FMT_EV_LOG: {
    te_event e = ev_at(d, t, TE_LOG, ev->ts);
    size_t n;
    const char *cat = str_copy(d, ev->arg[1], &n);
    e.u.log.category = n ? cat : "log";
    e.u.log.message = ev->str;
    e.u.log.len = ev->str_len;
    e.task = ev->arg[0];
    if (ev->arg[2] & CTRACE_FMT_LOG_FLAG_CUT)
      e.flags |= TE_F_CUT;
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_THREAD_NAME: {
    te_event e = ev_at(d, t, TE_THREAD, ev->ts);
    snprintf(d->name, sizeof d->name, "%.*s", (int)ev->str_len, ev->str);
    e.u.thread.name = d->name;
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_DROPPED: {
    te_event e = ev_at(d, t, TE_DROPPED, ev->ts);
    e.u.drop.kind = TE_DROP_MARKED;
    e.u.drop.n = ev->arg[0];
    e.u.drop.since = before(d, ev, ev->arg[1]);
    t->dropped_marked += ev->arg[0];
    emit(d, &e);
    break;
  }
  default: break;
  }
}

/* What `ctrace run`'s wrappers record: system calls, waits, threads, heap. */
static void on_capture(ndec *d, nthread *t, const rd_event *ev) {
  switch (ev->type) {
  case CTRACE_FMT_EV_SYSCALL: {
    uint64_t start = before(d, ev, ev->arg[1]);
    te_event e = ev_at(d, t, TE_SYSCALL, start);
    e.dur = ev->ts > start ? ev->ts - start : 0;
    e.u.syscall.nr = (long)ev->arg[0];
    e.u.syscall.arg = ev->arg[2];
    e.u.syscall.ret = ctrace_fmt_unzigzag(ev->arg[3]);
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_WAIT: {
    uint64_t start = before(d, ev, ev->arg[1]);
    te_event e = ev_at(d, t, TE_WAIT, start);
    e.dur = ev->ts > start ? ev->ts - start : 0;
    e.u.wait.kind = (unsigned)ev->arg[0];
    e.u.wait.object = ev->arg[2];
    uint32_t *w = ev->arg[3] ? vh_get(&d->serials, ev->arg[3]) : NULL;
    if (w) {
      e.u.wait.waker_pid = d->pid;
      e.u.wait.waker_tid = d->threads[*w].tid;
      if (ev->arg[4] <= ev->tick) {
        e.flags |= TE_F_RELEASE;
        e.u.wait.release_ts = before(d, ev, ev->arg[4]);
      }
    }
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_THREAD_CREATE:
    emit_instant(d, t, ev->ts, "thread create", "thread");
    emit_flow(d, t, ev->ts, ev->arg[0], TE_FLOW_THREAD, 0);
    break;
  case CTRACE_FMT_EV_THREAD_START:
    emit_flow(d, t, ev->ts, ev->arg[0], TE_FLOW_THREAD, 1);
    emit_instant(d, t, ev->ts, "thread start", "thread");
    break;
  case CTRACE_FMT_EV_THREAD_EXIT:
    item_stop(d, t, ev->ts);
    emit_instant(d, t, ev->ts, "thread exit", "thread");
    break;
  case CTRACE_FMT_EV_HEAP: {
    te_event e = ev_at(d, t, TE_HEAP, ev->ts);
    e.u.heap.live = ctrace_fmt_unzigzag(ev->arg[0]);
    e.u.heap.allocated = ev->arg[1];
    e.u.heap.thread_bytes = ev->arg[3];
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_HEAP_SET: {
    te_event e = ev_at(d, t, TE_HEAP_SET, ev->ts);
    e.u.heap_set.live = ev->arg[0];
    e.u.heap_set.goal = ev->arg[1];
    emit(d, &e);
    break;
  }
  case CTRACE_FMT_EV_HEAP_SAMPLE:
  case CTRACE_FMT_EV_HEAP_FREE: {
    int alloc = ev->type == CTRACE_FMT_EV_HEAP_SAMPLE;
    te_event e = ev_at(d, t, alloc ? TE_HEAP_SAMPLE : TE_HEAP_FREE, ev->ts);
    e.u.heap_sample.addr = ev->arg[0];
    if (alloc) {
      e.u.heap_sample.bytes = ev->arg[1];
      e.u.heap_sample.stack = (uint32_t)ev->arg[2];
      e.u.heap_sample.pcs = rd_stack(d->tr, e.u.heap_sample.stack, &e.u.heap_sample.n);
      e.u.heap_sample.rate = rd_heap_sampling(d->tr, NULL);
      if (!e.u.heap_sample.rate)
        e.u.heap_sample.rate = 1; /* (no DEF_HEAP_SAMPLING: taken as unsampled) */
    }
    emit(d, &e);
    break;
  }
  default: break;
  }
}

/* User-level work items (ctrace_sched_*): runs on threads, and the arrow
 * from whoever unblocked one to its next run. */
static void on_item(ndec *d, nthread *t, const rd_event *ev) {
  switch (ev->type) {
  case CTRACE_FMT_EV_SCHED_CREATE: vh_put(&d->items, ev->arg[0], (uint32_t)ev->arg[1]); break;
  case CTRACE_FMT_EV_SCHED_RUN: {
    item_stop(d, t, ev->ts);
    t->run_item = ev->arg[0] ? ev->arg[0] : 1;
    te_event e = ev_at(d, t, TE_ITEM_RUN, ev->ts);
    uint32_t *name = vh_get(&d->items, t->run_item);
    e.u.item.id = t->run_item;
    e.u.item.name = name ? str_copy(d, *name, NULL) : NULL;
    emit(d, &e);
    emit_flow(d, t, ev->ts, TE_UNBLOCK_ID(t->run_item), TE_FLOW_UNBLOCK, 1);
    break;
  }
  case CTRACE_FMT_EV_SCHED_BLOCK: {
    item_stop(d, t, ev->ts);
    size_t n;
    const char *why = str_copy(d, ev->arg[0], &n);
    emit_instant(d, t, ev->ts, n ? why : "blocked", "sched");
    break;
  }
  case CTRACE_FMT_EV_SCHED_UNBLOCK:
    emit_flow(d, t, ev->ts, TE_UNBLOCK_ID(ev->arg[0]), TE_FLOW_UNBLOCK, 0);
    break;
  case CTRACE_FMT_EV_SCHED_END:
    if (t->run_item == ev->arg[0] || !ev->arg[0])
      item_stop(d, t, ev->ts);
    break;
  default: break;
  }
}

static void on_event(ndec *d, const rd_event *ev) {
  nthread *t = &d->threads[ev->thread];
  t->last_ts = ev->ts;
  te__span_note(d->src, ev->ts);
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
  case CTRACE_FMT_EV_REGION_END:
  case CTRACE_FMT_EV_GC_BEGIN:
  case CTRACE_FMT_EV_GC_END:
  case CTRACE_FMT_EV_INSTANT:
  case CTRACE_FMT_EV_COUNTER:
  case CTRACE_FMT_EV_FLOW_BEGIN:
  case CTRACE_FMT_EV_FLOW_END: on_region(d, t, ev); break;
  case CTRACE_FMT_EV_TASK_BEGIN:
  case CTRACE_FMT_EV_TASK_END:
  case CTRACE_FMT_EV_TASK_SWITCH:
  case CTRACE_FMT_EV_LOG:
  case CTRACE_FMT_EV_THREAD_NAME:
  case CTRACE_FMT_EV_DROPPED: on_task(d, t, ev); break;
  case CTRACE_FMT_EV_SCHED_CREATE:
  case CTRACE_FMT_EV_SCHED_RUN:
  case CTRACE_FMT_EV_SCHED_BLOCK:
  case CTRACE_FMT_EV_SCHED_UNBLOCK:
  case CTRACE_FMT_EV_SCHED_END: on_item(d, t, ev); break;
  default: on_capture(d, t, ev); break;
  }
}

/* ---- A trace: its process and threads, its events, what stayed open --------------- */

static void announce(ndec *d) {
  nthread none = {0};
  te_event e = ev_at(d, &none, TE_PROCESS, rd_start_ns(d->tr));
  e.u.thread.name = rd_process_name(d->tr);
  emit(d, &e);
  for (size_t i = 0; i < d->nthreads; i++) {
    const rd_thread *th = rd_thread_get(d->tr, i);
    if (th->kernel)
      continue;
    e = ev_at(d, &d->threads[i], TE_THREAD, rd_start_ns(d->tr));
    e.flags = TE_F_SORT;
    e.u.thread.name = th->name[0] ? th->name : NULL;
    e.u.thread.sort = (int)th->serial;
    emit(d, &e);
  }
}

/* Runs still going and drops no event marks, at each thread's last event;
 * then drops on threads that never recorded (process-wide). */
static void finish(ndec *d) {
  uint64_t here = 0;
  for (size_t i = 0; i < d->nthreads; i++) {
    const rd_thread *th = rd_thread_get(d->tr, i);
    nthread *t = &d->threads[i];
    if (th->kernel)
      continue;
    item_stop(d, t, t->last_ts);
    here += t->dropped_marked;
    if (th->dropped > t->dropped_marked) {
      te_event e = ev_at(d, t, TE_DROPPED, t->last_ts ? t->last_ts : rd_start_ns(d->tr));
      e.u.drop.kind = TE_DROP_AT_STOP;
      e.u.drop.n = th->dropped - t->dropped_marked;
      here += e.u.drop.n;
      emit(d, &e);
    }
    d->src->open_regions += t->depth;
  }
  uint64_t reported = rd_dropped_reported(d->tr);
  if (reported > here) {
    uint64_t last = rd_start_ns(d->tr);
    for (size_t i = 0; i < d->nthreads; i++)
      if (d->threads[i].last_ts > last)
        last = d->threads[i].last_ts;
    nthread none = {0};
    te_event e = ev_at(d, &none, TE_DROPPED, last);
    e.flags = TE_F_PROCESS;
    e.u.drop.kind = TE_DROP_NO_THREAD;
    e.u.drop.n = reported - here;
    emit(d, &e);
  }
}

static void ndec_free(ndec *d) {
  for (size_t i = 0; i < d->nthreads; i++)
    free(d->threads[i].stack);
  free(d->threads);
  for (size_t i = 0; i < d->nsites; i++)
    for (int k = 0; k < 4; k++)
      free(d->sites[i].owned[k]);
  free(d->sites);
  for (size_t i = 0; i < d->nstrs; i++)
    free(d->strs[i].owned[0]);
  free(d->strs);
  vh_free(&d->tasks);
  vh_free(&d->serials);
  vh_free(&d->items);
}

int te__native_read(te_set_ctx *ctx, rd_trace *tr, te_source *src, te_handler fn, void *arg) {
  ndec d = {.ctx = ctx, .tr = tr, .src = src, .fn = fn, .arg = arg, .pid = rd_pid(tr)};
  d.nthreads = rd_thread_count(tr);
  d.threads = calloc(d.nthreads ? d.nthreads : 1, sizeof *d.threads);
  rd_merge *m = d.threads ? rd_merge_open(tr) : NULL;
  if (!m) {
    free(d.threads);
    return CTRACE_ENOMEM;
  }
  for (size_t i = 0; i < d.nthreads; i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    /* A thread never defined (its DEF was lost) still needs its own row. */
    d.threads[i].tid = th->tid ? th->tid : (int)(1000000000u + th->serial);
    vh_put(&d.serials, th->serial, (uint32_t)i);
  }
  announce(&d);
  rd_event ev;
  int r;
  while (!d.err && (r = rd_merge_next(m, &ev)) == 1) {
    src->events++;
    if (!rd_thread_get(tr, ev.thread)->kernel)
      on_event(&d, &ev);
  }
  rd_merge_close(m);
  if (!d.err)
    finish(&d);
  ndec_free(&d);
  return d.err;
}

/* ---- A trace still being written, read as it grows (te_grow) ------------------------ */

struct te_grow {
  rd_trace *tr; /* NULL until the file could be opened */
  char *path;
  te_source src;
  ndec d;
  size_t *next;  /* per thread: its next batch to read */
  uint8_t *dead; /* per thread: its stream failed (its later events are missing) */
  size_t nknown; /* threads announced */
  int begun, ended;
  uint64_t bytes, events;
};

te_grow *te_grow_open(const char *path) {
  te_grow *g = calloc(1, sizeof *g);
  if (!g || !(g->path = strdup(path))) {
    free(g);
    return NULL;
  }
  g->src.path = g->path;
  g->src.format = "ctrace";
  g->src.process = "";
  return g;
}

void te_grow_close(te_grow *g) {
  if (!g)
    return;
  if (g->tr)
    ndec_free(&g->d);
  rd_close(g->tr);
  free(g->next);
  free(g->dead);
  free(g->path);
  free(g);
}

const te_source *te_grow_source(const te_grow *g) { return &g->src; }
uint64_t te_grow_bytes(const te_grow *g) { return g->bytes; }
uint64_t te_grow_events(const te_grow *g) { return g->events; }
int te_grow_ended(const te_grow *g) { return g->ended; }

/* The file, once it can be read; its source begins. */
static int grow_begin(te_grow *g, te_handler fn, void *arg, char *err, size_t errlen) {
  char msg[600];
  int r = rd_open(g->path, 0, &g->tr, msg, sizeof msg);
  if (r) {
    snprintf(err, errlen, "%s: %s", g->path, msg);
    return r;
  }
  g->d = (ndec){.tr = g->tr, .src = &g->src, .fn = fn, .arg = arg, .pid = rd_pid(g->tr)};
  g->src.native = g->tr;
  g->src.pid = rd_pid(g->tr);
  g->src.process = rd_process_name(g->tr);
  g->src.capture = *rd_capture_get(g->tr);
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TE_SOURCE_BEGIN;
  g->begun = 1;
  if ((r = fn(arg, &g->src, &ev)))
    return r;
  nthread none = {0};
  ev = ev_at(&g->d, &none, TE_PROCESS, rd_start_ns(g->tr));
  ev.u.thread.name = rd_process_name(g->tr);
  emit(&g->d, &ev);
  return g->d.err;
}

/* Threads the file has now: rows for those that can be named (in order). */
static int grow_threads(te_grow *g, int all, char *err, size_t errlen) {
  ndec *d = &g->d;
  size_t n = rd_thread_count(g->tr);
  if (n > d->nthreads) {
    nthread *t = realloc(d->threads, n * sizeof *t);
    size_t *next = realloc(g->next, n * sizeof *next);
    uint8_t *dead = realloc(g->dead, n);
    if (t)
      d->threads = t;
    if (next)
      g->next = next;
    if (dead)
      g->dead = dead;
    if (!t || !next || !dead)
      return CTRACE_ENOMEM;
    memset(t + d->nthreads, 0, (n - d->nthreads) * sizeof *t);
    memset(next + d->nthreads, 0, (n - d->nthreads) * sizeof *next);
    memset(dead + d->nthreads, 0, n - d->nthreads);
    d->nthreads = n;
  }
  uint64_t settled = rd_settled(g->tr);
  for (; g->nknown < n; g->nknown++) {
    size_t i = g->nknown;
    const rd_thread *th = rd_thread_get(g->tr, i);
    if (th->kernel) {
      snprintf(err, errlen, "%s: a kernel stream (its events are read whole)", g->path);
      return CTRACE_EFORMAT;
    }
    if (!th->defined && !all && !rd_batches_before(g->tr, i, settled))
      break; /* its definition is still to come */
    d->threads[i].tid = th->tid ? th->tid : (int)(1000000000u + th->serial);
    if (vh_put(&d->serials, th->serial, (uint32_t)i))
      return CTRACE_ENOMEM;
    te_event e = ev_at(d, &d->threads[i], TE_THREAD, rd_start_ns(g->tr));
    e.flags = TE_F_SORT;
    e.u.thread.name = th->name[0] ? th->name : NULL;
    e.u.thread.sort = (int)th->serial;
    emit(d, &e);
  }
  return d->err;
}

typedef struct grow_src {
  rd_stream *s;
  rd_event ev;
  size_t thread;
} grow_src;

static int grow_less(const grow_src *a, const grow_src *b) {
  return a->ev.ts != b->ev.ts ? a->ev.ts < b->ev.ts : a->thread < b->thread;
}

static void grow_sift(grow_src *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && grow_less(&h[l], &h[m]))
      m = l;
    if (r < n && grow_less(&h[r], &h[m]))
      m = r;
    if (m == i)
      return;
    grow_src t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

/* Every thread's batches from where it stopped up to lim[i], in time
 * order (ties by thread, as rd_merge). */
static int grow_merge(te_grow *g, const size_t *lim) {
  ndec *d = &g->d;
  grow_src *h = calloc(g->nknown ? g->nknown : 1, sizeof *h);
  if (!h)
    return CTRACE_ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < g->nknown; i++) {
    if (g->dead[i] || lim[i] <= g->next[i])
      continue;
    rd_stream *s = rd_stream_open_at(g->tr, i, g->next[i], 0);
    if (!s) {
      d->err = CTRACE_ENOMEM;
      break;
    }
    rd_stream_stop_at(s, lim[i]);
    h[n] = (grow_src){s, {0}, i};
    int r = rd_stream_next(s, &h[n].ev);
    if (r == 1) {
      n++;
      continue;
    }
    g->dead[i] |= r < 0;
    g->next[i] = lim[i];
    g->bytes += rd_stream_bytes(s);
    rd_stream_close(s);
  }
  for (size_t i = n / 2; i-- > 0;)
    grow_sift(h, n, i);
  while (n && !d->err) {
    grow_src *top = &h[0];
    g->events++;
    g->src.events++;
    on_event(d, &top->ev);
    int r = rd_stream_next(top->s, &top->ev);
    if (r != 1) {
      g->dead[top->thread] |= r < 0;
      g->next[top->thread] = lim[top->thread];
      g->bytes += rd_stream_bytes(top->s);
      rd_stream_close(top->s);
      h[0] = h[--n];
    }
    grow_sift(h, n, 0);
  }
  for (size_t i = 0; i < n; i++)
    rd_stream_close(h[i].s);
  free(h);
  return d->err;
}

int te_grow_read(te_grow *g, int all, te_handler fn, void *arg, char *err, size_t errlen) {
  err[0] = '\0';
  if (g->ended)
    return 0;
  int r;
  if (!g->tr && (r = grow_begin(g, fn, arg, err, errlen)))
    return r;
  g->d.fn = fn;
  g->d.arg = arg;
  struct stat now, was;
  if (stat(g->path, &now) == 0 && rd_fstat(g->tr, &was) == 0 &&
      (now.st_ino != was.st_ino || now.st_dev != was.st_dev)) {
    snprintf(err, errlen, "%s: replaced by another file: read whole", g->path);
    return CTRACE_EFORMAT;
  }
  if ((r = rd_refresh(g->tr)) < 0) {
    snprintf(err, errlen, "%s: the file was cut shorter or cannot be read (%s): read whole",
             g->path, ctrace_strerror(r));
    return CTRACE_EFORMAT;
  }
  if ((r = grow_threads(g, all, err, errlen)))
    return r;
  uint64_t settled = all ? UINT64_MAX : rd_settled(g->tr);
  size_t *lim = calloc(g->nknown ? g->nknown : 1, sizeof *lim);
  if (!lim)
    return CTRACE_ENOMEM;
  int whole = g->nknown == rd_thread_count(g->tr) && settled == UINT64_MAX;
  for (size_t i = 0; i < g->nknown; i++) {
    lim[i] = settled == UINT64_MAX ? rd_thread_get(g->tr, i)->nbatches
                                   : rd_batches_before(g->tr, i, settled);
    whole &= g->dead[i] || lim[i] == rd_thread_get(g->tr, i)->nbatches;
  }
  r = grow_merge(g, lim);
  free(lim);
  g->src.complete = rd_complete(g->tr);
  g->src.dropped = rd_dropped_reported(g->tr);
  g->src.problem = rd_problem(g->tr);
  g->src.problem_kind = rd_problem_kind_of(g->tr);
  g->src.process = rd_process_name(g->tr);
  g->src.pid = rd_pid(g->tr);
  if (r || !whole || rd_settled(g->tr) != UINT64_MAX)
    return r;
  /* Its END record came and every event was read: the source ends. */
  finish(&g->d);
  if (g->d.err)
    return g->d.err;
  g->ended = 1;
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TE_SOURCE_END;
  return fn(arg, &g->src, &ev);
}
