/* Builds the viewer's index (index.h) from ctrace traces, through the
 * reader's merged stream, and from Chrome trace-event JSON, through cJSON. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctf.h"
#include "hashmap.h"
#include "index.h"
#include "reader.h"

#define VX_UNFINISHED UINT32_MAX /* vx_slice.args: the region never ended */
#define MAX_LANES 32

struct vx_index {
  vx_track *tracks;
  size_t ntracks, cap_tracks;
  vx_label *labels;
  size_t nlabels, cap_labels;
  char **msgs;
  uint64_t *msg_task;
  size_t nmsgs, cap_msgs, cap_msg_task;
  char **args;
  size_t nargs, cap_args;
  vx_flow *flows;
  size_t nflows, cap_flows;
  vx_source *sources;
  size_t nsources;
  uint64_t t0, t1, events, dropped;
  vx_info *infos; /* syscall and wait details (vx_slice.args = VX_ARGS_INFO | i) */
  size_t ninfos, cap_infos;
  rd_span *spans; /* the tracers' own work, from every ctrace source */
  size_t nspans, cap_spans;
  char **kernel_paths; /* sources with a kernel stream, attached at the end */
  size_t nkernel, cap_kernel;
  vx_task_region *tregs;
  size_t ntregs, cap_tregs;
};

/* ---- Small containers ----------------------------------------------------------- */

#define VPUSH VH_PUSH

static uint64_t hash_str(const char *s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  return h | 1; /* never 0 */
}

void vx_errf(char *err, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(err, n, f, ap);
  va_end(ap);
}

/* ---- Building blocks -------------------------------------------------------------------- */

static uint32_t add_label(vx_index *x, const char *name, const char *cat, const char *file,
                          const char *func, uint32_t line) {
  vx_label *l = VPUSH(x->labels, x->nlabels, x->cap_labels);
  if (!l)
    return 0;
  l->name = strdup(name ? name : "");
  l->cat = strdup(cat ? cat : "");
  l->file = file && *file ? strdup(file) : NULL;
  l->func = func && *func ? strdup(func) : NULL;
  l->line = line;
  return (uint32_t)(x->nlabels - 1);
}

/* Label for (name, cat) without a site, deduplicated through m. */
static uint32_t named_label(vx_index *x, vh_map *m, const char *name, const char *cat) {
  uint64_t k = hash_str(name, hash_str(cat, 7));
  uint32_t *v = vh_get(m, k);
  if (v && strcmp(x->labels[*v].name, name) == 0 && strcmp(x->labels[*v].cat, cat) == 0)
    return *v;
  uint32_t l = add_label(x, name, cat, NULL, NULL, 0);
  if (!v)
    vh_put(m, k, l);
  return l;
}

static uint32_t new_track(vx_index *x, int kind, int pid, int tid, const char *name, int sort) {
  vx_track *t = VPUSH(x->tracks, x->ntracks, x->cap_tracks);
  if (!t)
    return UINT32_MAX;
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->id = (uint32_t)(x->ntracks - 1);
  t->pid = pid;
  t->tid = tid;
  t->name = strdup(name ? name : "");
  t->sort = sort;
  t->min = INFINITY;
  t->max = -INFINITY;
  return t->id;
}

static int add_slice(vx_track *t, size_t depth, uint64_t start, uint64_t end, uint32_t label,
                     uint32_t args) {
  if (depth >= t->depths) {
    size_t nd = depth + 1;
    vx_slice **d = realloc(t->depth, nd * sizeof *d);
    if (!d)
      return -1;
    t->depth = d;
    size_t *n = realloc(t->ndepth, nd * 2 * sizeof *n); /* counts, then capacities */
    if (!n)
      return -1;
    /* move capacities up */
    for (size_t i = t->depths; i-- > 0;)
      n[nd + i] = n[t->depths + i];
    for (size_t i = t->depths; i < nd; i++) {
      d[i] = NULL;
      n[i] = 0;
      n[nd + i] = 0;
    }
    t->ndepth = n;
    t->depths = nd;
  }
  size_t *cap = &t->ndepth[t->depths + depth];
  vx_slice *s = VPUSH(t->depth[depth], t->ndepth[depth], *cap);
  if (!s)
    return -1;
  s->start = start;
  s->dur = end > start ? end - start : 0;
  s->label = label;
  s->args = args;
  t->slices++;
  return 0;
}

typedef struct open_region {
  uint64_t start;
  uint32_t label;
  uint32_t args;
  uint64_t task; /* the thread's current task when it began (0: none) */
} open_region;

typedef struct build_thread {
  open_region *stack;
  size_t depth, cap;
  uint64_t last_ts;
  uint64_t task; /* current task (TASK_SWITCH) */
} build_thread;

static int push_open(build_thread *b, uint64_t start, uint32_t label, uint32_t args) {
  open_region *o = VPUSH(b->stack, b->depth, b->cap);
  if (!o)
    return -1;
  o->start = start;
  o->label = label;
  o->args = args;
  o->task = b->task;
  return 0;
}

static int add_task_region(vx_index *x, uint64_t task, const vx_track *t, uint32_t ti,
                           uint32_t label, uint64_t start, uint64_t end) {
  vx_task_region *r = VPUSH(x->tregs, x->ntregs, x->cap_tregs);
  if (!r)
    return -1;
  *r = (vx_task_region){task, start, end > start ? end - start : 0, t->pid, ti, label, 0};
  return 0;
}

static int add_instant(vx_track *t, uint64_t ts, uint32_t label, uint32_t extra) {
  vx_instant *i = VPUSH(t->inst, t->ninst, t->cap_inst);
  if (!i)
    return -1;
  i->ts = ts;
  i->label = label;
  i->extra = extra;
  return 0;
}

/* Closes what is still open on a thread at its last event (a truncated
 * trace); such slices are marked unfinished. */
static void close_open(vx_track *t, build_thread *b) {
  while (b->depth) {
    open_region *o = &b->stack[--b->depth];
    add_slice(t, b->depth, o->start, b->last_ts, o->label, VX_UNFINISHED);
  }
}

static int add_sample(vx_track *c, uint64_t ts, double v) {
  vx_sample *p = VPUSH(c->samples, c->nsamples, c->cap_samples);
  if (!p)
    return -1;
  p->ts = ts;
  p->value = v;
  if (v < c->min)
    c->min = v;
  if (v > c->max)
    c->max = v;
  return 0;
}

static void note_time(vx_index *x, uint64_t t) {
  if (t < x->t0)
    x->t0 = t;
  if (t > x->t1)
    x->t1 = t;
}

/* Tasks of a process: lanes by greedy packing, in start order. */
static int cmp_task(const void *a, const void *b) {
  const vx_task *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static void assign_lanes(vx_track *t) {
  if (t->ntasks)
    qsort(t->tasks, t->ntasks, sizeof *t->tasks, cmp_task);
  uint64_t lane_end[MAX_LANES];
  unsigned lanes = 0;
  for (size_t i = 0; i < t->ntasks; i++) {
    vx_task *k = &t->tasks[i];
    unsigned l = 0;
    while (l < lanes && lane_end[l] > k->start)
      l++;
    if (l == lanes) {
      if (lanes < MAX_LANES)
        lanes++;
      else
        l = MAX_LANES - 1; /* overflow: they overlap in the last lane */
    }
    lane_end[l] = k->end;
    k->lane = (uint16_t)l;
  }
  t->lanes = lanes;
}

/* ---- ctrace traces --------------------------------------------------------------------------- */

typedef struct ct_build {
  vx_index *x;
  rd_trace *tr;
  int pid;
  uint32_t *track_of;  /* reader thread -> track */
  build_thread *bt;    /* per reader thread */
  uint32_t *site_label;  /* by rd_site index (+1, 0 = none yet) */
  size_t nsite_label;
  uint32_t *str_label;   /* by rd string index: region names */
  size_t nstr_label;
  vh_map named;        /* (name, cat) -> label */
  vh_map counters;     /* hash(name) -> counter track */
  vh_map tasks;        /* task id -> index in the tasks track (+1 for open) */
  vh_map flows;        /* flow id -> pending index in pend */
  vx_flow *pend;
  size_t npend, cap_pend;
  uint32_t tasks_track;
  uint32_t drop_label;
  vh_map serial_track; /* thread serial -> track (wakers) */
  vh_map items;        /* user-level item id -> its name's label */
  vh_map unblocked;    /* item id -> pending flow index in pend (its next run ends it) */
  uint64_t *run_item;  /* per reader thread: the item it runs (0: none) */
  uint64_t *run_start;
  uint32_t *run_label;
  vh_map pending_flows; /* internal flows (thread create, unblock) by id */
} ct_build;

static uint32_t *grow_u32(uint32_t **a, size_t *n, size_t idx) {
  if (idx >= *n) {
    size_t c = *n ? *n : 64;
    while (c <= idx)
      c *= 2;
    uint32_t *p = realloc(*a, c * sizeof *p);
    if (!p)
      return NULL;
    memset(p + *n, 0, (c - *n) * sizeof *p);
    *a = p;
    *n = c;
  }
  return &(*a)[idx];
}

static uint32_t site_label(ct_build *b, uint64_t id) {
  const rd_site *s = rd_site_get(b->tr, id);
  if (s->index == UINT32_MAX)
    return named_label(b->x, &b->named, s->name, "region");
  uint32_t *slot = grow_u32(&b->site_label, &b->nsite_label, s->index);
  if (!slot)
    return 0;
  if (!*slot) {
    const char *cat = s->kind == CTRACE_FMT_SITE_COUNTER   ? "counter"
                      : s->kind == CTRACE_FMT_SITE_INSTANT ? "instant"
                                                           : "region";
    *slot = add_label(b->x, s->name, cat, s->file, s->func, s->line) + 1;
  }
  return *slot - 1;
}

static uint32_t str_label(ct_build *b, uint64_t id) {
  uint32_t i = rd_string_index(b->tr, id);
  size_t n;
  const char *s = rd_string(b->tr, id, &n);
  if (i == UINT32_MAX)
    return named_label(b->x, &b->named, s, "region");
  uint32_t *slot = grow_u32(&b->str_label, &b->nstr_label, i);
  if (!slot)
    return 0;
  if (!*slot)
    *slot = add_label(b->x, s, "region", NULL, NULL, 0) + 1;
  return *slot - 1;
}

static uint32_t counter_track(ct_build *b, const char *name) {
  uint64_t k = hash_str(name, 11);
  uint32_t *v = vh_get(&b->counters, k);
  if (v && strcmp(b->x->tracks[*v].name, name) == 0)
    return *v;
  uint32_t t = new_track(b->x, VX_COUNTER, b->pid, 0, name, 1000);
  if (t != UINT32_MAX && !v)
    vh_put(&b->counters, k, t);
  return t;
}

static uint32_t add_message(vx_index *x, const char *s, size_t n, uint64_t task) {
  char **m = VPUSH(x->msgs, x->nmsgs, x->cap_msgs);
  if (!m)
    return 0;
  *m = strndup(s, n);
  size_t nt = x->nmsgs - 1;
  uint64_t *t = VPUSH(x->msg_task, nt, x->cap_msg_task);
  if (t)
    *t = task;
  return (uint32_t)x->nmsgs; /* 1-based */
}


static uint32_t add_info(vx_index *x, const vx_info *in) {
  vx_info *p = VPUSH(x->infos, x->ninfos, x->cap_infos);
  if (!p)
    return 0;
  *p = *in;
  return VX_ARGS_INFO | (uint32_t)(x->ninfos - 1);
}

static int add_block(vx_track *t, uint64_t start, uint64_t end, int state) {
  vx_state *b = VPUSH(t->blocks, t->nblocks, t->cap_blocks);
  if (!b)
    return -1;
  b->start = start;
  b->end = end;
  b->state = (uint8_t)state;
  b->derived = 1;
  b->cpu = 0xffff;
  return 0;
}

static int syscall_state(long nr) {
  return nr == 35 || nr == 230 ? VX_ST_SLEEP : VX_ST_SYSCALL; /* nanosleep, clock_nanosleep */
}

static uint32_t syscall_label(vx_index *x, vh_map *named, long nr) {
  const char *n = vx_syscall_name(nr);
  char buf[32];
  if (!n) {
    snprintf(buf, sizeof buf, "syscall %ld", nr);
    n = buf;
  }
  return named_label(x, named, n, "syscall");
}

/* A flow from (track, ts) to (track, ts), by the tracer's own id. */
static int add_flow(vx_index *x, uint64_t id, uint32_t from, uint64_t from_ts, uint16_t from_depth,
                    uint32_t to, uint64_t to_ts, uint16_t to_depth, uint8_t kind) {
  vx_flow *f = VPUSH(x->flows, x->nflows, x->cap_flows);
  if (!f)
    return -1;
  memset(f, 0, sizeof *f);
  f->kind = kind;
  f->id = id;
  f->from_ts = from_ts;
  f->from_track = from;
  f->from_depth = from_depth;
  f->to_ts = to_ts;
  f->to_track = to;
  f->to_depth = to_depth;
  return 0;
}

/* Ends the user-level item thread `th` runs (if any) at ts. */
static int end_run(ct_build *b, uint32_t th, uint64_t ts) {
  if (!b->run_item[th])
    return 0;
  vx_track *t = &b->x->tracks[b->track_of[th]];
  vx_slice *s = VPUSH(t->runs, t->nruns, t->cap_runs);
  b->run_item[th] = 0;
  if (!s)
    return -1;
  s->start = b->run_start[th];
  s->dur = ts > s->start ? ts - s->start : 0;
  s->label = b->run_label[th];
  s->args = 0;
  return 0;
}

static int ct_event(ct_build *b, const rd_event *ev) {
  vx_index *x = b->x;
  uint32_t ti = b->track_of[ev->thread];
  vx_track *t = &x->tracks[ti];
  build_thread *bt = &b->bt[ev->thread];
  bt->last_ts = ev->ts;
  note_time(x, ev->ts);
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
    return push_open(bt, ev->ts, site_label(b, ev->arg[0]), 0);
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
    return push_open(bt, ev->ts, str_label(b, ev->arg[0]), 0);
  case CTRACE_FMT_EV_REGION_END:
    if (bt->depth) {
      open_region *o = &bt->stack[--bt->depth];
      if (o->task && add_task_region(x, o->task, t, ti, o->label, o->start, ev->ts))
        return -1;
      return add_slice(t, bt->depth, o->start, ev->ts, o->label, o->args);
    }
    return 0;
  case CTRACE_FMT_EV_TASK_SWITCH:
    bt->task = ev->arg[0];
    return 0;
  case CTRACE_FMT_EV_INSTANT:
    return add_instant(t, ev->ts, site_label(b, ev->arg[0]), 0);
  case CTRACE_FMT_EV_LOG: {
    size_t n;
    const char *cat = rd_string(b->tr, ev->arg[1], &n);
    uint32_t l = named_label(x, &b->named, n ? cat : "log", "log");
    return add_instant(t, ev->ts, l, add_message(x, ev->str, ev->str_len, ev->arg[0]));
  }
  case CTRACE_FMT_EV_DROPPED:
    x->dropped += ev->arg[0];
    return add_instant(t, ev->ts, b->drop_label,
                       ev->arg[0] > UINT32_MAX ? UINT32_MAX : (uint32_t)ev->arg[0]);
  case CTRACE_FMT_EV_COUNTER: {
    uint32_t ct = counter_track(b, rd_site_get(b->tr, ev->arg[0])->name);
    if (ct == UINT32_MAX)
      return -1;
    return add_sample(&x->tracks[ct], ev->ts, (double)ctrace_fmt_unzigzag(ev->arg[1]));
  }
  case CTRACE_FMT_EV_TASK_BEGIN: {
    vx_track *tt = &x->tracks[b->tasks_track];
    vx_task *k = VPUSH(tt->tasks, tt->ntasks, tt->cap_tasks);
    if (!k)
      return -1;
    memset(k, 0, sizeof *k);
    k->start = ev->ts;
    k->end = UINT64_MAX;
    k->id = ev->arg[0];
    k->parent = ev->arg[1];
    size_t n;
    const char *name = rd_string(b->tr, ev->arg[2], &n);
    k->label = named_label(x, &b->named, name, "task");
    k->thread = ti;
    k->end_thread = UINT32_MAX;
    return vh_put(&b->tasks, ev->arg[0], (uint32_t)(tt->ntasks - 1));
  }
  case CTRACE_FMT_EV_TASK_END: {
    uint32_t *i = vh_get(&b->tasks, ev->arg[0]);
    if (i) {
      vx_task *k = &x->tracks[b->tasks_track].tasks[*i];
      k->end = ev->ts;
      k->end_thread = ti;
      vh_del(&b->tasks, ev->arg[0], NULL);
    }
    return 0;
  }
  case CTRACE_FMT_EV_FLOW_BEGIN: {
    vx_flow *f = VPUSH(b->pend, b->npend, b->cap_pend);
    if (!f)
      return -1;
    f->id = ev->arg[0];
    f->from_ts = ev->ts;
    f->from_track = ti;
    f->from_depth = bt->depth ? (uint16_t)(bt->depth - 1) : 0xffff;
    return vh_put(&b->flows, ev->arg[0], (uint32_t)(b->npend - 1));
  }
  case CTRACE_FMT_EV_FLOW_END: {
    uint32_t *i = vh_get(&b->flows, ev->arg[0]);
    if (!i)
      return 0; /* its beginning was not recorded */
    vx_flow *f = VPUSH(x->flows, x->nflows, x->cap_flows);
    if (!f)
      return -1;
    *f = b->pend[*i];
    f->kind = VX_FLOW_USER;
    f->to_ts = ev->ts;
    f->to_track = ti;
    f->to_depth = bt->depth ? (uint16_t)(bt->depth - 1) : 0xffff;
    vh_del(&b->flows, ev->arg[0], NULL);
    return 0;
  }
  case CTRACE_FMT_EV_THREAD_NAME:
    free(t->name);
    t->name = strndup(ev->str, ev->str_len);
    return t->name ? 0 : -1;
  case CTRACE_FMT_EV_SYSCALL: {
    /* A complete span: it began `duration` ticks before the event. */
    uint64_t start = ev->arg[1] <= ev->tick ? rd_tick_to_ns(b->tr, ev->tick - ev->arg[1], NULL)
                                            : ev->ts;
    vx_info in = {.nr = (uint32_t)ev->arg[0], .arg = ev->arg[2],
                  .ret = ctrace_fmt_unzigzag(ev->arg[3]), .waker = UINT32_MAX};
    if (add_block(t, start, ev->ts, syscall_state((long)ev->arg[0])))
      return -1;
    return add_slice(t, bt->depth, start, ev->ts, syscall_label(x, &b->named, (long)ev->arg[0]),
                     add_info(x, &in));
  }
  case CTRACE_FMT_EV_WAIT: {
    uint64_t start = ev->arg[1] <= ev->tick ? rd_tick_to_ns(b->tr, ev->tick - ev->arg[1], NULL)
                                            : ev->ts;
    vx_info in = {.nr = (uint32_t)ev->arg[0], .is_wait = 1, .arg = ev->arg[2],
                  .waker = UINT32_MAX};
    uint32_t *w = ev->arg[3] ? vh_get(&b->serial_track, ev->arg[3]) : NULL;
    if (w && ev->arg[4] <= ev->tick) {
      in.waker = *w;
      /* the arrow from the release to the wake */
      uint64_t rel = rd_tick_to_ns(b->tr, ev->tick - ev->arg[4], NULL);
      if (add_flow(x, (1ull << 62) | x->nflows, *w, rel, 0xffff, ti, ev->ts,
                   (uint16_t)bt->depth, VX_FLOW_WAKE))
        return -1;
    }
    if (add_block(t, start, ev->ts, VX_ST_LOCK))
      return -1;
    return add_slice(t, bt->depth, start, ev->ts,
                     named_label(x, &b->named, vx_wait_name((unsigned)ev->arg[0]), "wait"),
                     add_info(x, &in));
  }
  case CTRACE_FMT_EV_THREAD_CREATE: {
    vx_flow *f = VPUSH(b->pend, b->npend, b->cap_pend);
    if (!f || vh_put(&b->pending_flows, ev->arg[0], (uint32_t)(b->npend - 1)))
      return -1;
    f->id = ev->arg[0];
    f->from_ts = ev->ts;
    f->from_track = ti;
    f->from_depth = bt->depth ? (uint16_t)(bt->depth - 1) : 0xffff;
    return add_instant(t, ev->ts, named_label(x, &b->named, "thread create", "thread"), 0);
  }
  case CTRACE_FMT_EV_THREAD_START: {
    uint32_t i;
    if (vh_del(&b->pending_flows, ev->arg[0], &i) &&
        add_flow(x, ev->arg[0], b->pend[i].from_track, b->pend[i].from_ts, b->pend[i].from_depth,
                 ti, ev->ts, 0xffff, VX_FLOW_THREAD))
      return -1;
    return add_instant(t, ev->ts, named_label(x, &b->named, "thread start", "thread"), 0);
  }
  case CTRACE_FMT_EV_THREAD_EXIT:
    return add_instant(t, ev->ts, named_label(x, &b->named, "thread exit", "thread"), 0);
  case CTRACE_FMT_EV_HEAP: {
    uint32_t live = counter_track(b, "heap live bytes"), all = counter_track(b, "heap allocated bytes");
    if (live == UINT32_MAX || all == UINT32_MAX)
      return -1;
    if (ev->arg[3]) { /* what this thread allocated: charged to its open region */
      vx_alloc *a = VPUSH(t->allocs, t->nallocs, t->cap_allocs);
      if (!a)
        return -1;
      a->ts = ev->ts;
      a->bytes = ev->arg[3];
      a->label = bt->depth ? bt->stack[bt->depth - 1].label : UINT32_MAX;
      a->pad = 0;
    }
    return add_sample(&x->tracks[live], ev->ts, (double)ctrace_fmt_unzigzag(ev->arg[0])) ||
           add_sample(&x->tracks[all], ev->ts, (double)ev->arg[1]);
  }
  case CTRACE_FMT_EV_HEAP_SET: {
    uint32_t live = counter_track(b, "heap live bytes (program)"),
             goal = counter_track(b, "heap goal bytes (program)");
    if (live == UINT32_MAX || goal == UINT32_MAX)
      return -1;
    return add_sample(&x->tracks[live], ev->ts, (double)ev->arg[0]) ||
           add_sample(&x->tracks[goal], ev->ts, (double)ev->arg[1]);
  }
  case CTRACE_FMT_EV_GC_BEGIN: {
    size_t n;
    const char *kind = rd_string(b->tr, ev->arg[0], &n);
    return push_open(bt, ev->ts, named_label(x, &b->named, n ? kind : "gc", "gc"), 0);
  }
  case CTRACE_FMT_EV_GC_END:
    if (bt->depth) {
      open_region *o = &bt->stack[--bt->depth];
      return add_slice(t, bt->depth, o->start, ev->ts, o->label, o->args);
    }
    return 0;
  case CTRACE_FMT_EV_SCHED_CREATE: {
    size_t n;
    const char *name = rd_string(b->tr, ev->arg[1], &n);
    return vh_put(&b->items, ev->arg[0], named_label(x, &b->named, name, "sched"));
  }
  case CTRACE_FMT_EV_SCHED_RUN: {
    if (end_run(b, ev->thread, ev->ts))
      return -1;
    uint32_t *l = vh_get(&b->items, ev->arg[0]);
    char buf[40];
    snprintf(buf, sizeof buf, "item %" PRIu64, ev->arg[0]);
    b->run_item[ev->thread] = ev->arg[0] ? ev->arg[0] : 1;
    b->run_start[ev->thread] = ev->ts;
    b->run_label[ev->thread] = l ? *l : named_label(x, &b->named, buf, "sched");
    uint32_t i;
    if (vh_del(&b->unblocked, ev->arg[0], &i) &&
        add_flow(x, (1ull << 61) | ev->arg[0], b->pend[i].from_track, b->pend[i].from_ts,
                 b->pend[i].from_depth, ti, ev->ts, 0xffff, VX_FLOW_UNBLOCK))
      return -1;
    return 0;
  }
  case CTRACE_FMT_EV_SCHED_BLOCK: {
    size_t n;
    const char *why = rd_string(b->tr, ev->arg[0], &n);
    if (end_run(b, ev->thread, ev->ts))
      return -1;
    return add_instant(t, ev->ts, named_label(x, &b->named, n ? why : "blocked", "sched"), 0);
  }
  case CTRACE_FMT_EV_SCHED_UNBLOCK: {
    vx_flow *f = VPUSH(b->pend, b->npend, b->cap_pend);
    if (!f)
      return -1;
    f->id = ev->arg[0];
    f->from_ts = ev->ts;
    f->from_track = ti;
    f->from_depth = bt->depth ? (uint16_t)(bt->depth - 1) : 0xffff;
    return vh_put(&b->unblocked, ev->arg[0], (uint32_t)(b->npend - 1));
  }
  case CTRACE_FMT_EV_SCHED_END:
    if (b->run_item[ev->thread] == ev->arg[0] || !ev->arg[0])
      return end_run(b, ev->thread, ev->ts);
    return 0;
  default:
    return 0; /* K_* events: attached at the end (attach_kernel) */
  }
}

static int load_ctrace(vx_index *x, const char *path, char *err, size_t errlen) {
  rd_trace *tr;
  char msg[600];
  int r = rd_open(path, 0, &tr, msg, sizeof msg);
  if (r) {
    vx_errf(err, errlen, "%s: %s", path, msg);
    return -1;
  }
  vx_source *src = &x->sources[x->nsources++];
  src->path = strdup(path);
  src->format = "ctrace";
  src->pid = rd_pid(tr);
  src->process = strdup(rd_process_name(tr));
  const rd_capture *cap = rd_capture_get(tr);
  src->cap_present = cap->present;
  src->cap_syscalls = cap->syscalls;
  src->cap_sched = cap->sched;
  src->cap_heap = cap->heap;
  src->cap_locks = cap->locks;
  src->cap_why = cap->why && cap->why[0] ? strdup(cap->why) : NULL;
  const rd_span *sp;
  size_t nsp = rd_tracer_spans(tr, &sp);
  for (size_t i = 0; i < nsp; i++) {
    rd_span *d = VPUSH(x->spans, x->nspans, x->cap_spans);
    if (d)
      *d = sp[i];
  }
  ct_build b = {.x = x, .tr = tr, .pid = rd_pid(tr)};
  size_t nt = rd_thread_count(tr);
  b.track_of = calloc(nt ? nt : 1, sizeof *b.track_of);
  b.bt = calloc(nt ? nt : 1, sizeof *b.bt);
  b.run_item = calloc(nt ? nt : 1, sizeof *b.run_item);
  b.run_start = calloc(nt ? nt : 1, sizeof *b.run_start);
  b.run_label = calloc(nt ? nt : 1, sizeof *b.run_label);
  int ok = b.track_of && b.bt && b.run_item && b.run_start && b.run_label;
  int has_kernel = 0, has_threads = 0;
  for (size_t i = 0; ok && i < nt; i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    if (th->kernel) { /* not a thread: attached to the threads at the end */
      has_kernel = 1;
      b.track_of[i] = UINT32_MAX;
      continue;
    }
    has_threads = 1;
    int tid = th->tid ? th->tid : (int)(1000000000u + th->serial);
    ok = (b.track_of[i] = new_track(x, VX_THREAD, b.pid, tid, th->name, (int)th->serial)) !=
         UINT32_MAX && vh_put(&b.serial_track, th->serial, b.track_of[i]) == 0;
  }
  if (has_kernel) {
    char **kp = VPUSH(x->kernel_paths, x->nkernel, x->cap_kernel);
    if (kp)
      *kp = strdup(path);
    if (!has_threads)
      src->format = "ctrace-kernel";
  }
  if (ok)
    ok = (b.tasks_track = new_track(x, VX_TASKS, b.pid, 0, "tasks", 999)) != UINT32_MAX;
  b.drop_label = add_label(x, "ctrace: events dropped", "ctrace", NULL, NULL, 0);
  rd_merge *m = ok ? rd_merge_open(tr) : NULL;
  rd_event ev;
  uint64_t events = 0;
  while (m && rd_merge_next(m, &ev) == 1) {
    events++;
    if (b.track_of[ev.thread] == UINT32_MAX)
      continue; /* a kernel event: attach_kernel */
    if (ct_event(&b, &ev)) {
      ok = 0;
      break;
    }
  }
  rd_merge_close(m);
  for (size_t i = 0; ok && i < nt; i++)
    if (b.track_of[i] != UINT32_MAX) {
      close_open(&x->tracks[b.track_of[i]], &b.bt[i]);
      end_run(&b, (uint32_t)i, b.bt[i].last_ts);
    }
  /* Drops told at stop that no DROPPED event marks. */
  uint64_t marked = 0;
  for (size_t i = 0; i < nt; i++) {
    if (b.track_of[i] == UINT32_MAX)
      continue;
    const vx_track *t = &x->tracks[b.track_of[i]];
    for (size_t k = 0; k < t->ninst; k++)
      if (t->inst[k].label == b.drop_label)
        marked += t->inst[k].extra;
  }
  if (rd_dropped_reported(tr) > marked)
    x->dropped += rd_dropped_reported(tr) - marked;
  if (ok)
    assign_lanes(&x->tracks[b.tasks_track]);
  src->events = events;
  src->complete = rd_complete(tr);
  src->dropped = rd_dropped_reported(tr);
  src->problem = rd_problem(tr) ? strdup(rd_problem(tr)) : NULL;
  x->events += events;
  for (size_t i = 0; i < nt; i++)
    free(b.bt[i].stack);
  free(b.bt);
  free(b.track_of);
  free(b.run_item);
  free(b.run_start);
  free(b.run_label);
  vh_free(&b.serial_track);
  vh_free(&b.items);
  vh_free(&b.unblocked);
  vh_free(&b.pending_flows);
  free(b.site_label);
  free(b.str_label);
  free(b.pend);
  vh_free(&b.named);
  vh_free(&b.counters);
  vh_free(&b.tasks);
  vh_free(&b.flows);
  rd_close(tr);
  if (!ok)
    vx_errf(err, errlen, "%s: out of memory while indexing", path);
  return ok ? 0 : -1;
}

/* ---- Chrome trace-event JSON --------------------------------------------------------------- */

typedef struct js_interval {
  uint64_t start, end;
  uint32_t label, args;
} js_interval;

typedef struct js_thread {
  int pid, tid;
  uint32_t track;
  js_interval *iv;
  size_t niv, cap;
  open_region *stack; /* B/E */
  size_t depth, scap;
} js_thread;

/* A JSON slice whose args name a task ("task": N, as `ctrace export`
 * writes for regions under ctrace_task_switch) belongs to it. */
static int js_task_region(vx_index *x, const js_thread *t, uint32_t args, uint32_t label,
                          uint64_t start, uint64_t end) {
  const char *a = args && args <= x->nargs ? x->args[args - 1] : NULL;
  const char *p = a ? strstr(a, "\"task\":") : NULL;
  uint64_t task = p ? strtoull(p + 7, NULL, 0) : 0;
  return task ? add_task_region(x, task, &x->tracks[t->track], t->track, label, start, end) : 0;
}

typedef struct js_build {
  vx_index *x;
  js_thread *th;
  size_t nth, cap_th;
  vh_map thread_of; /* hash(pid, tid) -> index */
  vh_map named;
  vh_map counters; /* hash(pid, name) -> track */
  vh_map tasks_track; /* pid -> track */
  vh_map open_tasks;  /* hash(cat, id, pid) -> task index + track... */
  vh_map flows;
  vx_flow *pend;
  size_t npend, cap_pend;
} js_build;

static uint64_t ts_ns(double us) {
  if (!(us > 0))
    return 0;
  double ns = us * 1000.0 + 0.5;
  return ns >= 1.8e19 ? UINT64_MAX / 2 : (uint64_t)ns;
}

static js_thread *js_thread_get(js_build *b, int pid, int tid) {
  uint64_t k = ((uint64_t)(uint32_t)pid << 32 | (uint32_t)tid) + 1;
  uint32_t *v = vh_get(&b->thread_of, k);
  if (v)
    return &b->th[*v];
  js_thread *t = VPUSH(b->th, b->nth, b->cap_th);
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  t->pid = pid;
  t->tid = tid;
  char name[32];
  snprintf(name, sizeof name, "thread %d", tid);
  t->track = new_track(b->x, VX_THREAD, pid, tid, name, tid);
  if (t->track == UINT32_MAX || vh_put(&b->thread_of, k, (uint32_t)(b->nth - 1)))
    return NULL;
  return t;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsNumber(v))
    return v->valuedouble;
  if (cJSON_IsString(v)) /* some producers quote pid/tid/ts */
    return strtod(v->valuestring, NULL);
  return def;
}

static uint32_t js_args(vx_index *x, const cJSON *e) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(e, "args");
  if (!a || (cJSON_IsObject(a) && !a->child))
    return 0;
  char **s = VPUSH(x->args, x->nargs, x->cap_args);
  if (!s)
    return 0;
  *s = cJSON_PrintUnformatted(a);
  return (uint32_t)x->nargs;
}

static uint32_t js_tasks_track(js_build *b, int pid) {
  uint32_t *v = vh_get(&b->tasks_track, (uint64_t)(uint32_t)pid + 1);
  if (v)
    return *v;
  uint32_t t = new_track(b->x, VX_TASKS, pid, 0, "tasks", 999);
  if (t != UINT32_MAX)
    vh_put(&b->tasks_track, (uint64_t)(uint32_t)pid + 1, t);
  return t;
}

static int js_event(js_build *b, const cJSON *e) {
  vx_index *x = b->x;
  const char *ph = jstr(e, "ph");
  if (!ph || !ph[0])
    return 0;
  const char *name = jstr(e, "name");
  if (!name)
    name = "";
  const char *cat = jstr(e, "cat");
  int pid = (int)jnum(e, "pid", 0), tid = (int)jnum(e, "tid", 0);
  uint64_t ts = ts_ns(jnum(e, "ts", 0));
  if (ph[0] == 'M') {
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args");
    int of_thread = !strcmp(name, "thread_name") || !strcmp(name, "thread_sort_index");
    js_thread *t = of_thread ? js_thread_get(b, pid, tid) : NULL; /* (a process's: no row) */
    if (of_thread && !t)
      return -1;
    if (!strcmp(name, "thread_name") && jstr(args, "name")) {
      free(x->tracks[t->track].name);
      x->tracks[t->track].name = strdup(jstr(args, "name"));
    } else if (!strcmp(name, "thread_sort_index")) {
      x->tracks[t->track].sort = (int)jnum(args, "sort_index", 0);
    } else if (!strcmp(name, "process_name") && jstr(args, "name")) {
      vx_source *src = &x->sources[x->nsources - 1];
      if (!src->process || !src->process[0]) {
        free(src->process);
        src->process = strdup(jstr(args, "name"));
        src->pid = pid;
      }
    }
    return 0;
  }
  x->events++;
  note_time(x, ts);
  switch (ph[0]) {
  case 'B': {
    js_thread *t = js_thread_get(b, pid, tid);
    open_region *o = t ? VPUSH(t->stack, t->depth, t->scap) : NULL;
    if (!o)
      return -1;
    o->start = ts;
    o->label = named_label(x, &b->named, name, cat ? cat : "region");
    o->args = js_args(x, e);
    return 0;
  }
  case 'E': {
    js_thread *t = js_thread_get(b, pid, tid);
    if (!t)
      return -1;
    if (!t->depth)
      return 0;
    open_region o = t->stack[--t->depth];
    js_interval *iv = VPUSH(t->iv, t->niv, t->cap);
    if (!iv)
      return -1;
    *iv = (js_interval){o.start, ts, o.label, o.args};
    note_time(x, ts);
    return js_task_region(x, t, o.args, o.label, o.start, ts);
  }
  case 'X': {
    js_thread *t = js_thread_get(b, pid, tid);
    if (!t)
      return -1;
    js_interval *iv = VPUSH(t->iv, t->niv, t->cap);
    if (!iv)
      return -1;
    uint64_t end = ts + ts_ns(jnum(e, "dur", 0));
    *iv = (js_interval){ts, end, named_label(x, &b->named, name, cat ? cat : "region"),
                        js_args(x, e)};
    note_time(x, end);
    return js_task_region(x, t, iv->args, iv->label, ts, end);
  }
  case 'i':
  case 'I':
  case 'n':
  case 'R': {
    js_thread *t = js_thread_get(b, pid, tid);
    if (!t)
      return -1;
    return add_instant(&x->tracks[t->track], ts,
                       named_label(x, &b->named, name, cat ? cat : "instant"), 0);
  }
  case 'C': {
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(e, "args"), *a;
    cJSON_ArrayForEach(a, args) {
      if (!cJSON_IsNumber(a))
        continue;
      char cname[512];
      if (cJSON_GetArraySize(args) == 1 && !strcmp(a->string, "value"))
        snprintf(cname, sizeof cname, "%s", name);
      else
        snprintf(cname, sizeof cname, "%s %s", name, a->string);
      uint64_t k = hash_str(cname, (uint64_t)(uint32_t)pid);
      uint32_t *v = vh_get(&b->counters, k);
      uint32_t ti;
      if (v && !strcmp(x->tracks[*v].name, cname) && x->tracks[*v].pid == pid) {
        ti = *v;
      } else {
        ti = new_track(x, VX_COUNTER, pid, 0, cname, 1000);
        if (ti == UINT32_MAX)
          return -1;
        if (!v)
          vh_put(&b->counters, k, ti);
      }
      if (add_sample(&x->tracks[ti], ts, a->valuedouble))
        return -1;
    }
    return 0;
  }
  case 'b':
  case 'e':
  case 'S':
  case 'F': {
    const char *ids = jstr(e, "id");
    double idn = jnum(e, "id", 0);
    char key[600];
    snprintf(key, sizeof key, "%s|%s|%d", cat ? cat : "", ids ? ids : "", pid);
    uint64_t k = hash_str(key, ids ? 0 : (uint64_t)idn);
    uint32_t tt = js_tasks_track(b, pid);
    if (tt == UINT32_MAX)
      return -1;
    vx_track *t = &x->tracks[tt];
    js_thread *th = js_thread_get(b, pid, tid);
    if (!th)
      return -1;
    if (ph[0] == 'b' || ph[0] == 'S') {
      vx_task *task = VPUSH(t->tasks, t->ntasks, t->cap_tasks);
      if (!task)
        return -1;
      memset(task, 0, sizeof *task);
      task->start = ts;
      task->end = UINT64_MAX;
      task->id = ids ? strtoull(ids, NULL, 0) : (uint64_t)idn;
      task->label = named_label(x, &b->named, name, "task");
      task->thread = th->track;
      task->end_thread = UINT32_MAX;
      return vh_put(&b->open_tasks, k, (uint32_t)(t->ntasks - 1));
    }
    uint32_t *i = vh_get(&b->open_tasks, k);
    if (i) {
      t->tasks[*i].end = ts;
      t->tasks[*i].end_thread = th->track;
      vh_del(&b->open_tasks, k, NULL);
    }
    return 0;
  }
  case 's':
  case 'f':
  case 't': {
    const char *ids = jstr(e, "id");
    uint64_t id = ids ? hash_str(ids, 3) : (uint64_t)jnum(e, "id", 0) + 1;
    js_thread *th = js_thread_get(b, pid, tid);
    if (!th)
      return -1;
    if (ph[0] == 's') {
      vx_flow *f = VPUSH(b->pend, b->npend, b->cap_pend);
      if (!f)
        return -1;
      memset(f, 0, sizeof *f);
      f->id = ids ? strtoull(ids, NULL, 0) : (uint64_t)jnum(e, "id", 0);
      f->from_ts = ts;
      f->from_track = th->track;
      f->from_depth = th->depth ? (uint16_t)(th->depth - 1) : 0xffff;
      return vh_put(&b->flows, id, (uint32_t)(b->npend - 1));
    }
    if (ph[0] == 'f') {
      uint32_t *i = vh_get(&b->flows, id);
      if (!i)
        return 0;
      vx_flow *f = VPUSH(x->flows, x->nflows, x->cap_flows);
      if (!f)
        return -1;
      *f = b->pend[*i];
      f->kind = VX_FLOW_USER;
      f->to_ts = ts;
      f->to_track = th->track;
      f->to_depth = th->depth ? (uint16_t)(th->depth - 1) : 0xffff;
      vh_del(&b->flows, id, NULL);
    }
    return 0;
  }
  default:
    x->events--; /* not something we show */
    return 0;
  }
}

static int cmp_iv(const void *a, const void *b) {
  const js_interval *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return x->end > y->end ? -1 : x->end < y->end; /* longer (outer) first */
}

/* Nesting of complete intervals: sorted by start (outer first), depth is
 * the number of enclosing intervals still open. */
static int js_finish_thread(vx_index *x, js_thread *t) {
  for (size_t d = t->depth; d-- > 0;) { /* B without E: until the thread's last event */
    js_interval *iv = VPUSH(t->iv, t->niv, t->cap);
    if (!iv)
      return -1;
    *iv = (js_interval){t->stack[d].start, x->t1, t->stack[d].label, VX_UNFINISHED};
  }
  if (t->niv)
    qsort(t->iv, t->niv, sizeof *t->iv, cmp_iv);
  uint64_t *ends = malloc((t->niv + 1) * sizeof *ends);
  if (!ends)
    return -1;
  size_t depth = 0;
  vx_track *tr = &x->tracks[t->track];
  for (size_t i = 0; i < t->niv; i++) {
    while (depth && ends[depth - 1] <= t->iv[i].start)
      depth--;
    if (add_slice(tr, depth, t->iv[i].start, t->iv[i].end, t->iv[i].label, t->iv[i].args)) {
      free(ends);
      return -1;
    }
    ends[depth++] = t->iv[i].end;
  }
  free(ends);
  return 0;
}

/* Line and column of byte off in s. */
static void line_col(const char *s, size_t off, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && s[i]; i++) {
    if (s[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

static int load_json(vx_index *x, const char *path, const char *text, size_t len, char *err,
                     size_t errlen) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 0);
  if (!root) {
    size_t off = end ? (size_t)(end - text) : 0, line, col;
    line_col(text, off, &line, &col);
    vx_errf(err, errlen, "%s: malformed JSON at line %zu, column %zu (byte %zu)", path, line, col,
         off);
    return -1;
  }
  const cJSON *evs = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
  if (!cJSON_IsArray(evs)) {
    vx_errf(err, errlen, "%s: JSON has no traceEvents array (not a Chrome trace-event file)",
         path);
    cJSON_Delete(root);
    return -1;
  }
  vx_source *src = &x->sources[x->nsources++];
  src->path = strdup(path);
  src->format = "chrome-json";
  src->process = strdup("");
  src->complete = 1;
  js_build b = {.x = x};
  uint64_t before = x->events;
  size_t first_track = x->ntracks;
  int ok = 1;
  const cJSON *e;
  size_t i = 0;
  cJSON_ArrayForEach(e, evs) {
    if (cJSON_IsObject(e) && js_event(&b, e)) {
      ok = 0;
      break;
    }
    i++;
  }
  for (size_t k = 0; ok && k < b.nth; k++)
    ok = js_finish_thread(x, &b.th[k]) == 0;
  for (size_t k = first_track; ok && k < x->ntracks; k++)
    if (x->tracks[k].kind == VX_TASKS)
      assign_lanes(&x->tracks[k]);
  src->events = x->events - before;
  for (size_t k = 0; k < b.nth; k++) {
    free(b.th[k].iv);
    free(b.th[k].stack);
  }
  free(b.th);
  free(b.pend);
  vh_free(&b.thread_of);
  vh_free(&b.named);
  vh_free(&b.counters);
  vh_free(&b.tasks_track);
  vh_free(&b.open_tasks);
  vh_free(&b.flows);
  cJSON_Delete(root);
  if (!ok)
    vx_errf(err, errlen, "%s: out of memory while indexing", path);
  return ok ? 0 : -1;
}

/* ---- Kernel events and thread states -------------------------------------------------------- */

typedef struct ktid {
  uint32_t track;
  int on;         /* 1 on a CPU, 0 off, -1 not seen yet, 2 exited */
  uint64_t since; /* when it went on or off */
  uint16_t cpu;
  uint8_t off_state;
} ktid;

static int add_state(vx_track *t, uint64_t start, uint64_t end, int state, uint16_t cpu,
                     int derived) {
  if (end <= start)
    return 0;
  vx_state *s = VPUSH(t->states, t->nstates, t->cap_states);
  if (!s)
    return -1;
  s->start = start;
  s->end = end;
  s->state = (uint8_t)state;
  s->derived = (uint8_t)derived;
  s->cpu = cpu;
  s->pad = 0;
  return 0;
}

/* The region depth at ns on t: how many slices at consecutive depths from
 * 0 contain it (a kernel syscall goes inside the innermost). */
static size_t depth_at(const vx_track *t, uint64_t ns) {
  size_t d = 0;
  while (d < t->depths) {
    const vx_slice *a = t->depth[d];
    size_t n = t->ndepth[d], i = vx_slice_lower(a, n, ns);
    if (i >= n || a[i].start > ns)
      break;
    d++;
  }
  return d;
}

static int cmp_slice(const void *a, const void *b) {
  const vx_slice *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_state(const void *a, const void *b) {
  const vx_state *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

typedef struct kcall {
  uint32_t track, depth;
  uint64_t start, end;
  uint32_t label, args;
} kcall;

/* A thread's exit (exit) or its whole process's (exit_group): its last
 * switch-out is not reported, so its state ends here, and later switches
 * of the tid are ignored. */
static int kernel_exit(vx_index *x, ktid *kt, size_t nkt, vh_map *ks, int tid, int group,
                       uint64_t ns) {
  uint32_t *ki = vh_get(ks, (uint64_t)tid);
  int pid = ki ? x->tracks[kt[*ki].track].pid : -1;
  for (size_t i = 0; i < nkt; i++) {
    if (!(ki && i == *ki) && !(group && x->tracks[kt[i].track].pid == pid))
      continue;
    vx_track *t = &x->tracks[kt[i].track];
    if (kt[i].on == 1 && add_state(t, kt[i].since, ns, VX_ST_RUNNING, kt[i].cpu, 0))
      return -1;
    if (kt[i].on == 0 && add_state(t, kt[i].since, ns, kt[i].off_state, 0xffff, 0))
      return -1;
    kt[i].on = 2;
  }
  return 0;
}

/* Attaches the kernel streams (ctrace run's FILE.kernel) to the threads, by
 * thread id: context switches become the state band, system calls become
 * slices inside the regions they happened in. The tracer's own threads
 * and work are left out. */
static int attach_kernel(vx_index *x, char *err, size_t errlen) {
  vh_map tids = {0}, ks = {0}, named = {0}, kpid = {0};
  ktid *kt = NULL;
  size_t nkt = 0, ckt = 0;
  kcall *calls = NULL;
  size_t ncalls = 0, ccalls = 0;
  int ok = 1;
  for (size_t i = 0; i < x->ntracks; i++)
    if (x->tracks[i].kind == VX_THREAD && x->tracks[i].tid > 0 && !vh_get(&tids, (uint64_t)x->tracks[i].tid))
      vh_put(&tids, (uint64_t)x->tracks[i].tid, (uint32_t)i);
  for (size_t k = 0; ok && k < x->nkernel; k++) {
    rd_trace *tr;
    char msg[600];
    if (rd_open(x->kernel_paths[k], 0, &tr, msg, sizeof msg)) {
      vx_errf(err, errlen, "%s: %s", x->kernel_paths[k], msg);
      ok = 0;
      break;
    }
    rd_merge *m = rd_merge_open(tr);
    rd_event ev;
    while (ok && m && rd_merge_next(m, &ev) == 1) {
      if (!rd_thread_get(tr, ev.thread)->kernel)
        continue;
      int tid = (int)ev.arg[0];
      if (ev.type == CTRACE_FMT_EV_K_LOST) {
        x->dropped += ev.arg[1];
        continue;
      }
      if (ev.type == CTRACE_FMT_EV_K_TASK) {
        if (ev.arg[1] <= INT32_MAX && vh_put(&kpid, (uint64_t)tid, (uint32_t)ev.arg[1]))
          ok = 0;
        continue;
      }
      if (rd_spans_cover(x->spans, x->nspans, tid, 0) == 2)
        continue; /* the tracer's writer thread */
      if (ev.type == CTRACE_FMT_EV_K_EXIT) {
        if (vh_get(&ks, (uint64_t)tid))
          ok = kernel_exit(x, kt, nkt, &ks, tid, 0, ev.ts) == 0;
        continue;
      }
      uint32_t *tk = vh_get(&tids, (uint64_t)tid);
      if (!tk) { /* a thread that never recorded anything itself */
        char name[64];
        uint32_t *kp = vh_get(&kpid, (uint64_t)tid);
        int pid = kp ? (int)*kp : rd_pid(tr);
        snprintf(name, sizeof name, "tid %d", tid);
        for (size_t i = 0; tid == pid && i < x->nsources; i++)
          if (x->sources[i].pid == pid && strcmp(x->sources[i].format, "ctrace-kernel") &&
              x->sources[i].process)
            snprintf(name, sizeof name, "%s", x->sources[i].process); /* its main thread */
        uint32_t nt = new_track(x, VX_THREAD, pid, tid, name, tid);
        if (nt == UINT32_MAX || vh_put(&tids, (uint64_t)tid, nt)) {
          ok = 0;
          break;
        }
        tk = vh_get(&tids, (uint64_t)tid);
      }
      vx_track *t = &x->tracks[*tk];
      note_time(x, ev.ts);
      if (ev.type == CTRACE_FMT_EV_K_SWITCH) {
        uint32_t *ki = vh_get(&ks, (uint64_t)tid);
        if (!ki) {
          ktid *n = VPUSH(kt, nkt, ckt);
          if (!n || vh_put(&ks, (uint64_t)tid, (uint32_t)(nkt - 1))) {
            ok = 0;
            break;
          }
          n->track = *tk;
          n->on = -1;
          ki = vh_get(&ks, (uint64_t)tid);
        }
        ktid *s = &kt[*ki];
        if (s->on == 2)
          continue; /* exited */
        if (ev.arg[2] == CTRACE_FMT_SWITCH_IN) {
          if (s->on == 0)
            ok = add_state(t, s->since, ev.ts, s->off_state, 0xffff, 0) == 0;
          s->on = 1;
          s->cpu = (uint16_t)ev.arg[1];
        } else {
          if (s->on == 1)
            ok = add_state(t, s->since, ev.ts, VX_ST_RUNNING, s->cpu, 0) == 0;
          s->on = 0;
          s->off_state = ev.arg[2] == CTRACE_FMT_SWITCH_OUT_PREEMPT ? VX_ST_RUNNABLE : VX_ST_BLOCKED;
        }
        s->since = ev.ts;
      } else if (ev.type == CTRACE_FMT_EV_K_SYSCALL) {
        uint64_t start = ev.ts > ev.arg[2] ? ev.ts - ev.arg[2] : 0;
        if ((ev.arg[1] == SYS_execve || ev.arg[1] == SYS_execveat) && ev.arg[4] == 0)
          rd_spans_exec(x->spans, x->nspans, tid, start);
        if (rd_spans_cover(x->spans, x->nspans, tid, start))
          continue; /* the tracer's own (starting, writing, stopping) */
        vx_info in = {.nr = (uint32_t)ev.arg[1], .kernel = 1, .arg = ev.arg[3],
                      .ret = ctrace_fmt_unzigzag(ev.arg[4]), .waker = UINT32_MAX};
        kcall *c = VPUSH(calls, ncalls, ccalls);
        if (!c || add_block(t, start, ev.ts, syscall_state((long)ev.arg[1]))) {
          ok = 0;
          break;
        }
        c->track = *tk;
        c->start = start;
        c->end = ev.ts;
        c->label = syscall_label(x, &named, (long)ev.arg[1]);
        c->args = add_info(x, &in);
        if (ev.arg[1] == SYS_exit || ev.arg[1] == SYS_exit_group)
          ok = kernel_exit(x, kt, nkt, &ks, tid, ev.arg[1] == SYS_exit_group, ev.ts) == 0;
      }
    }
    rd_merge_close(m);
    rd_close(tr);
  }
  /* Still on or off at the end of the trace. */
  for (size_t i = 0; ok && i < nkt; i++) {
    vx_track *t = &x->tracks[kt[i].track];
    if (kt[i].on == 1)
      ok = add_state(t, kt[i].since, x->t1, VX_ST_RUNNING, kt[i].cpu, 0) == 0;
    else if (kt[i].on == 0)
      ok = add_state(t, kt[i].since, x->t1, kt[i].off_state, 0xffff, 0) == 0;
  }
  /* Kernel syscalls into the regions (depth from the regions only: they
   * were all built above), then each touched depth sorted again. */
  for (size_t i = 0; i < ncalls; i++) /* all before any is added: */
    calls[i].depth = (uint32_t)depth_at(&x->tracks[calls[i].track], calls[i].start);
  for (size_t i = 0; ok && i < ncalls; i++) /* added ones are unsorted */
    ok = add_slice(&x->tracks[calls[i].track], calls[i].depth, calls[i].start, calls[i].end,
                   calls[i].label, calls[i].args) == 0;
  if (ncalls)
    for (size_t i = 0; i < x->ntracks; i++)
      for (size_t d = 0; d < x->tracks[i].depths; d++)
        if (x->tracks[i].ndepth[d] > 1)
          qsort(x->tracks[i].depth[d], x->tracks[i].ndepth[d], sizeof(vx_slice), cmp_slice);
  free(kt);
  free(calls);
  vh_free(&tids);
  vh_free(&ks);
  vh_free(&named);
  vh_free(&kpid);
  if (!ok && !err[0])
    vx_errf(err, errlen, "out of memory while attaching kernel events");
  return ok ? 0 : -1;
}

/* The state band: off-CPU intervals get the reason from the blocking
 * spans (syscall, lock, sleep) that cover them; a thread without scheduler
 * data gets its band from the blocking spans alone (derived). */
static void finish_states(vx_index *x) {
  for (size_t i = 0; i < x->ntracks; i++) {
    vx_track *t = &x->tracks[i];
    if (t->kind != VX_THREAD)
      continue;
    if (t->nblocks > 1)
      qsort(t->blocks, t->nblocks, sizeof *t->blocks, cmp_state);
    if (t->nstates) {
      qsort(t->states, t->nstates, sizeof *t->states, cmp_state);
      size_t k = 0;
      for (size_t j = 0; j < t->nstates; j++) {
        vx_state *s = &t->states[j];
        if (s->state != VX_ST_BLOCKED)
          continue;
        while (k < t->nblocks && t->blocks[k].end < s->start)
          k++;
        /* the block that covers the middle of this off-CPU time */
        uint64_t mid = s->start + (s->end - s->start) / 2;
        for (size_t q = k; q < t->nblocks && t->blocks[q].start <= mid; q++)
          if (t->blocks[q].end >= mid) {
            s->state = t->blocks[q].state;
            break;
          }
      }
    } else if (t->nblocks) {
      /* Derived: between blocking spans the thread ran, as far as we know. */
      uint64_t at = t->blocks[0].start;
      for (size_t j = 0; j < t->nblocks; j++) {
        vx_state *bk = &t->blocks[j];
        if (bk->start > at)
          add_state(t, at, bk->start, VX_ST_RUNNING, 0xffff, 1);
        if (bk->end > at) {
          add_state(t, bk->start > at ? bk->start : at, bk->end, bk->state, 0xffff, 1);
          at = bk->end;
        }
      }
    }
    free(t->blocks);
    t->blocks = NULL;
    t->nblocks = t->cap_blocks = 0;
  }
}

/* ---- Entry points ------------------------------------------------------------------------- */

typedef struct membuf {
  char *p;
  size_t len, cap;
} membuf;

static int mem_sink(void *arg, const char *p, size_t n) {
  membuf *m = arg;
  if (m->len + n + 1 > m->cap) {
    size_t cap = m->cap ? m->cap : 1 << 20;
    while (cap < m->len + n + 1)
      cap *= 2;
    char *q = realloc(m->p, cap);
    if (!q)
      return CTRACE_ENOMEM;
    m->p = q;
    m->cap = cap;
  }
  memcpy(m->p + m->len, p, n);
  m->len += n;
  m->p[m->len] = '\0';
  return 0;
}

/* An LTTng trace directory: converted (ctf.c) and indexed like the JSON it
 * becomes. What LTTng discarded counts as dropped. */
static int load_ctf(vx_index *x, const char *path, char *err, size_t errlen) {
  membuf m = {0};
  ctf_stats st;
  char why[1024];
  int r = ctf_to_json(path, mem_sink, &m, &st, why, sizeof why);
  if (r) {
    vx_errf(err, errlen, "%s: %s", path, why);
  } else if (load_json(x, path, m.p ? m.p : "{}", m.p ? m.len : 2, err, errlen) == 0) {
    vx_source *src = &x->sources[x->nsources - 1];
    src->format = "lttng-ctf";
    free(src->process);
    src->process = strdup(st.nprocs == 1 && st.procs[0].name ? st.procs[0].name : "");
    src->pid = st.nprocs == 1 ? st.procs[0].pid : 0;
    src->dropped = st.discarded;
    src->complete = !st.discarded && !st.discarded_packets;
  } else {
    r = -1;
  }
  ctf_stats_free(&st);
  free(m.p);
  return r ? -1 : 0;
}

static int load_file(vx_index *x, const char *path, char *err, size_t errlen) {
  struct stat dst;
  if (stat(path, &dst) == 0 && S_ISDIR(dst.st_mode))
    return load_ctf(x, path, err, errlen);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    vx_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    vx_errf(err, errlen, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  char head[16] = {0};
  ssize_t n = pread(fd, head, sizeof head, 0);
  if (n >= CTRACE_FMT_MAGIC_LEN && memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN) == 0) {
    close(fd);
    return load_ctrace(x, path, err, errlen);
  }
  size_t k = 0;
  while (k < (size_t)(n > 0 ? n : 0) && (head[k] == ' ' || head[k] == '\n' || head[k] == '\r' ||
                                          head[k] == '\t'))
    k++;
  if (n <= 0 || k >= (size_t)n || (head[k] != '{' && head[k] != '[')) {
    close(fd);
    vx_errf(err, errlen, "%s: %s", path,
         n <= 0 ? "empty file" : "neither a ctrace trace nor Chrome trace-event JSON");
    return -1;
  }
  size_t len = (size_t)st.st_size;
  char *text = malloc(len + 1);
  size_t got = 0;
  while (text && got < len) {
    ssize_t r = pread(fd, text + got, len - got, (off_t)got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  if (!text || got != len) {
    free(text);
    vx_errf(err, errlen, "%s: cannot read", path);
    return -1;
  }
  text[len] = '\0';
  int r = load_json(x, path, text, len, err, errlen);
  free(text);
  return r;
}

static int cmp_flow(const void *a, const void *b) {
  const vx_flow *x = a, *y = b;
  return x->from_ts < y->from_ts ? -1 : x->from_ts > y->from_ts;
}

/* The files, or (text != NULL) one Chrome JSON text named `name`. */
static vx_index *build(char *const *paths, size_t n, const char *name, const char *text,
                       size_t len, char *err, size_t errlen) {
  vx_index *x = calloc(1, sizeof *x);
  if (!x || !(x->sources = calloc(n ? n : 1, sizeof *x->sources))) {
    free(x);
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  x->t0 = UINT64_MAX;
  add_label(x, "?", "", NULL, NULL, 0); /* label 0: fallback */
  if (text && load_json(x, name, text, len, err, errlen)) {
    vx_free(x);
    return NULL;
  }
  if (text && !strncmp(name, "net", 3) && strstr(name, "://"))
    x->sources[0].format = "lttng-live";
  for (size_t i = 0; !text && i < n; i++)
    if (load_file(x, paths[i], err, errlen)) {
      vx_free(x);
      return NULL;
    }
  rd_spans_clip(x->spans, x->nspans);
  if (x->nkernel && attach_kernel(x, err, errlen)) {
    vx_free(x);
    return NULL;
  }
  finish_states(x);
  if (x->t0 == UINT64_MAX)
    x->t0 = x->t1 = 0;
  if (x->nflows)
    qsort(x->flows, x->nflows, sizeof *x->flows, cmp_flow);
  return x;
}

vx_index *vx_build(char *const *paths, size_t n, char *err, size_t errlen) {
  return build(paths, n, NULL, NULL, 0, err, errlen);
}

vx_index *vx_build_json(const char *name, const char *text, size_t len, char *err,
                        size_t errlen) {
  return build(NULL, 1, name, text, len, err, errlen);
}

void vx_free(vx_index *x) {
  if (!x)
    return;
  for (size_t i = 0; i < x->ntracks; i++) {
    vx_track *t = &x->tracks[i];
    free(t->name);
    for (size_t d = 0; d < t->depths; d++)
      free(t->depth[d]);
    free(t->depth);
    free(t->ndepth);
    free(t->inst);
    free(t->samples);
    free(t->tasks);
    free(t->runs);
    free(t->states);
    free(t->allocs);
    free(t->blocks);
  }
  free(x->tracks);
  for (size_t i = 0; i < x->nlabels; i++) {
    free((char *)x->labels[i].name);
    free((char *)x->labels[i].cat);
    free((char *)x->labels[i].file);
    free((char *)x->labels[i].func);
  }
  free(x->labels);
  for (size_t i = 0; i < x->nmsgs; i++)
    free(x->msgs[i]);
  free(x->msgs);
  free(x->msg_task);
  for (size_t i = 0; i < x->nargs; i++)
    cJSON_free(x->args[i]);
  free(x->args);
  free(x->flows);
  free(x->tregs);
  for (size_t i = 0; i < x->nsources; i++) {
    free(x->sources[i].path);
    free(x->sources[i].process);
    free(x->sources[i].problem);
    free(x->sources[i].cap_why);
  }
  free(x->infos);
  free(x->spans);
  for (size_t i = 0; i < x->nkernel; i++)
    free(x->kernel_paths[i]);
  free(x->kernel_paths);
  free(x->sources);
  free(x);
}

size_t vx_track_count(const vx_index *x) { return x->ntracks; }
const vx_track *vx_track_get(const vx_index *x, size_t i) {
  return i < x->ntracks ? &x->tracks[i] : NULL;
}
size_t vx_source_count(const vx_index *x) { return x->nsources; }
const vx_source *vx_source_get(const vx_index *x, size_t i) {
  return i < x->nsources ? &x->sources[i] : NULL;
}
const vx_label *vx_label_get(const vx_index *x, uint32_t l) {
  return &x->labels[l < x->nlabels ? l : 0];
}
size_t vx_label_count(const vx_index *x) { return x->nlabels; }
const char *vx_log_message(const vx_index *x, uint32_t msg, uint64_t *task) {
  if (msg == 0 || msg > x->nmsgs)
    return NULL;
  if (task)
    *task = x->msg_task[msg - 1];
  return x->msgs[msg - 1];
}
const char *vx_args(const vx_index *x, uint32_t a) {
  return a && a != VX_UNFINISHED && !(a & VX_ARGS_INFO) && a <= x->nargs ? x->args[a - 1] : NULL;
}
const vx_info *vx_info_get(const vx_index *x, uint32_t a) {
  return a != VX_UNFINISHED && (a & VX_ARGS_INFO) && (a & ~VX_ARGS_INFO) < x->ninfos
             ? &x->infos[a & ~VX_ARGS_INFO]
             : NULL;
}
const vx_flow *vx_flows(const vx_index *x, size_t *n) {
  *n = x->nflows;
  return x->flows;
}
uint64_t vx_t0(const vx_index *x) { return x->t0; }
uint64_t vx_t1(const vx_index *x) { return x->t1; }
uint64_t vx_events(const vx_index *x) { return x->events; }
uint64_t vx_dropped(const vx_index *x) { return x->dropped; }

size_t vx_memory(const vx_index *x) {
  size_t m = sizeof *x + x->cap_tracks * sizeof *x->tracks + x->cap_labels * sizeof *x->labels +
             x->cap_infos * sizeof *x->infos +
             x->cap_flows * sizeof *x->flows + x->cap_msgs * sizeof(char *) +
             x->cap_args * sizeof(char *);
  for (size_t i = 0; i < x->ntracks; i++) {
    const vx_track *t = &x->tracks[i];
    for (size_t d = 0; d < t->depths; d++)
      m += t->ndepth[t->depths + d] * sizeof(vx_slice);
    m += t->cap_inst * sizeof(vx_instant) + t->cap_samples * sizeof(vx_sample) +
         t->cap_tasks * sizeof(vx_task) + t->cap_runs * sizeof(vx_slice) +
         t->cap_states * sizeof(vx_state) + t->cap_allocs * sizeof(vx_alloc);
  }
  return m;
}

const vx_task_region *vx_task_regions(const vx_index *x, size_t *n) {
  *n = x->ntregs;
  return x->tregs;
}

const vx_task *vx_task_find(const vx_index *x, uint64_t id, int pid) {
  for (size_t i = 0; i < x->ntracks; i++) {
    const vx_track *t = &x->tracks[i];
    if (t->kind != VX_TASKS || t->pid != pid)
      continue;
    for (size_t k = 0; k < t->ntasks; k++)
      if (t->tasks[k].id == id)
        return &t->tasks[k];
  }
  return NULL;
}

size_t vx_slice_lower(const vx_slice *a, size_t n, uint64_t t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].start + a[mid].dur < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
