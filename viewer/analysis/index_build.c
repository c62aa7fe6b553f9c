/* Builds the viewer's index (analysis.h) from typed events (read.h), from
 * whatever source they came: one handler per event family, what each
 * thread has open while the events come, and at the end what only the
 * whole picture allows (system calls the kernel saw placed inside the
 * regions that hold them, thread states to the end of the trace, the
 * state band's off-CPU reasons). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "read.h"
#include "common.h"
#include "index_internal.h"

#define VPUSH VH_PUSH
#define MAX_LANES 32

/* ---- Building blocks -------------------------------------------------------------------- */

static uint64_t hash_str(const char *s, uint64_t seed) { return ctrace__fnv1a(s, strlen(s), seed); }

/* A new label. @return its index, or UINT32_MAX when out of memory. */
static uint32_t add_label(vx_index *x, const char *name, const char *cat, const char *file,
                          const char *func, uint32_t line) {
  vx_label *l = VPUSH(x->labels, x->nlabels, x->cap_labels);
  if (!l)
    return UINT32_MAX;
  *l = (vx_label){strdup(name ? name : ""), strdup(cat ? cat : ""),
                  file && *file ? strdup(file) : NULL, func && *func ? strdup(func) : NULL, line};
  if (!l->name || !l->cat || (file && *file && !l->file) || (func && *func && !l->func)) {
    free((char *)l->name);
    free((char *)l->cat);
    free((char *)l->file);
    free((char *)l->func);
    x->nlabels--;
    return UINT32_MAX;
  }
  return (uint32_t)(x->nlabels - 1);
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
  if (!(t->name = strdup(name ? name : ""))) {
    x->ntracks--;
    return UINT32_MAX;
  }
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
    for (size_t i = t->depths; i-- > 0;) /* move capacities up */
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

static int add_instant(vx_track *t, uint64_t ts, uint32_t label, uint32_t extra) {
  vx_instant *i = VPUSH(t->inst, t->ninst, t->cap_inst);
  if (!i)
    return -1;
  i->ts = ts;
  i->label = label;
  i->extra = extra;
  return 0;
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

static int add_state(vx_track *t, uint64_t start, uint64_t end, int state, uint16_t cpu,
                     int derived) {
  if (end <= start)
    return 0;
  vx_state *s = VPUSH(t->states, t->nstates, t->cap_states);
  if (!s)
    return -1;
  *s = (vx_state){start, end, (uint8_t)state, (uint8_t)derived, cpu, 0};
  return 0;
}

/* A blocking span of the wrappers or the kernel: what an off-CPU time was. */
static int add_block(vx_track *t, uint64_t start, uint64_t end, int state) {
  vx_state *b = VPUSH(t->blocks, t->nblocks, t->cap_blocks);
  if (!b)
    return -1;
  *b = (vx_state){start, end, (uint8_t)state, 1, 0xffff, 0};
  return 0;
}

static uint32_t add_info(vx_index *x, const vx_info *in) {
  vx_info *p = VPUSH(x->infos, x->ninfos, x->cap_infos);
  if (!p)
    return 0;
  *p = *in;
  return VX_ARGS_INFO | (uint32_t)(x->ninfos - 1);
}

/* A JSON event's args, kept for its details (1-based; 0: none, or out of
 * memory: *failed). */
static uint32_t add_args(vx_index *x, const char *json, int *failed) {
  if (!json)
    return 0;
  char **s = VPUSH(x->args, x->nargs, x->cap_args);
  if (!s || !(*s = strdup(json))) {
    if (s)
      x->nargs--;
    *failed = 1;
    return 0;
  }
  return (uint32_t)x->nargs;
}

static uint32_t add_message(vx_index *x, const char *s, size_t n, uint64_t task) {
  char **m = VPUSH(x->msgs, x->nmsgs, x->cap_msgs);
  if (!m)
    return 0;
  *m = strndup(s ? s : "", n);
  size_t nt = x->nmsgs - 1;
  uint64_t *t = VPUSH(x->msg_task, nt, x->cap_msg_task);
  if (t)
    *t = task;
  return (uint32_t)x->nmsgs; /* 1-based */
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

static void place_lanes(vx_track *t);

static void assign_lanes(vx_track *t) {
  if (t->ntasks)
    qsort(t->tasks, t->ntasks, sizeof *t->tasks, cmp_task);
  place_lanes(t);
}

/* Lanes of t's tasks, sorted by start. */
static void place_lanes(vx_track *t) {
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

/* ---- The builder's state ------------------------------------------------------------ */

typedef struct open_region {
  uint64_t start;
  uint32_t label;
  uint32_t args;
  uint64_t task; /* the task it began under (0: none) */
  int nest;      /* its depth is found by time at the end (TE_DEPTH_NEST) */
} open_region;

typedef struct interval {
  uint64_t start, end;
  uint32_t label, args;
} interval;

/* What a thread track has open while its events come. */
typedef struct bthread {
  open_region *stack;
  size_t depth, cap;
  uint64_t last_ts;
  uint32_t source;   /* the source that last touched it, + 1 */
  uint64_t run_item; /* the work item running on it (0: none) */
  uint64_t run_start;
  uint32_t run_label;
  interval *iv; /* slices to nest by time (TE_DEPTH_NEST) */
  size_t niv, cap_iv;
  uint64_t st_at; /* growing: where its derived state band has got to */
  int st_begun;
} bthread;

/* A system call the kernel saw: placed once every region is known. */
typedef struct kcall {
  uint32_t track;
  uint64_t start, end;
  uint32_t label, args;
} kcall;

/* A task's end that came before its beginning (growing). */
struct tend {
  uint64_t ts;
  uint32_t thread;
};

typedef struct builder {
  vx_index *x;
  const te_source *src;
  uint32_t nsrc;    /* sources begun */
  int json;         /* the source is Chrome JSON (times noted at both ends) */
  uint64_t counted; /* events of the source so far (a live one says its count at its end) */
  bthread *bt;      /* per track */
  size_t nbt;
  vh_map threads;  /* (pid, tid) -> track */
  vh_map named;    /* hash(name, cat) -> label */
  uint32_t *keyed; /* the source's label keys -> label + 1 */
  size_t nkeyed;
  vh_map counters;    /* hash(name, pid) -> counter track */
  vh_map tasks_track; /* pid -> its tasks track */
  vh_map open_tasks;  /* hash(pid, id) -> task index in its track */
  vh_map pending;     /* hash(kind, pid, id) -> index in pend: arrows waiting for their end */
  vx_flow *pend;
  size_t npend, cap_pend;
  kcall *calls;
  size_t ncalls, cap_calls;
  vx_state *to_end; /* states that last to the end of the trace (track in pad) */
  size_t nto_end, cap_to_end;
  uint32_t drop_label;
  int failed;
  /* A growing index (vx_grow): events of different threads come in time
   * order within one read only, so what joins threads waits for its other
   * half either way, and what is shared is kept sorted as it comes. */
  int growing;
  uint32_t cur;     /* the source being read (0-based) */
  vh_map flow_ends; /* an arrow's end that came before its start -> index in ends */
  vx_flow *ends;
  size_t nends, cap_ends;
  vh_map task_ends; /* a task's end that came before its beginning -> index in tends */
  struct tend *tends;
  size_t ntends, cap_tends;
  uint64_t *ostart; /* open tasks' starts (open_tasks' values index it while growing) */
  size_t nostart, cap_ostart;
  uint8_t *lanes_dirty; /* by track: its tasks changed since the last publish */
  size_t nlanes_dirty;
} builder;

static uint64_t thread_key(int pid, int tid) {
  return ((uint64_t)(uint32_t)pid << 32 | (uint32_t)tid) + 1;
}

static bthread *bt_of(builder *b, uint32_t track) {
  if (track >= b->nbt) {
    size_t n = b->nbt ? b->nbt : 64;
    while (n <= track)
      n *= 2;
    bthread *p = realloc(b->bt, n * sizeof *p);
    if (!p) {
      b->failed = 1;
      return NULL;
    }
    memset(p + b->nbt, 0, (n - b->nbt) * sizeof *p);
    b->bt = p;
    b->nbt = n;
  }
  b->bt[track].source = b->nsrc;
  return &b->bt[track];
}

/* The track of thread (pid, tid): made, with a name, the first time. */
static uint32_t thread_track(builder *b, int pid, int tid, const char *name, int sort) {
  uint64_t k = thread_key(pid, tid);
  uint32_t *v = vh_get(&b->threads, k);
  if (v)
    return *v;
  char def[32];
  if (!name) {
    snprintf(def, sizeof def, "thread %d", tid);
    name = def;
  }
  uint32_t t = new_track(b->x, VX_THREAD, pid, tid, name, sort);
  if (t == UINT32_MAX || vh_put(&b->threads, k, t)) {
    b->failed = 1;
    return UINT32_MAX;
  }
  return t;
}

/* Label for (name, cat) without a site, deduplicated (0, the fallback, and
 * b->failed when out of memory). */
static uint32_t named_label(builder *b, const char *name, const char *cat) {
  vx_index *x = b->x;
  uint64_t k = hash_str(name, hash_str(cat, 7));
  uint32_t *v = vh_get(&b->named, k);
  if (v && strcmp(x->labels[*v].name, name) == 0 && strcmp(x->labels[*v].cat, cat) == 0)
    return *v;
  uint32_t l = add_label(x, name, cat, NULL, NULL, 0);
  if (l == UINT32_MAX) {
    b->failed = 1;
    return 0;
  }
  if (!v && vh_put(&b->named, k, l))
    b->failed = 1;
  return l;
}

/* The index's label of an event's: one per key of the source, else by name. */
static uint32_t label_of(builder *b, const te_label *l) {
  if (!l)
    return 0;
  if (!l->key)
    return named_label(b, l->name, l->cat);
  if (l->key >= b->nkeyed) {
    size_t n = b->nkeyed ? b->nkeyed : 256;
    while (n <= l->key)
      n *= 2;
    uint32_t *p = realloc(b->keyed, n * sizeof *p);
    if (!p)
      return named_label(b, l->name, l->cat);
    memset(p + b->nkeyed, 0, (n - b->nkeyed) * sizeof *p);
    b->keyed = p;
    b->nkeyed = n;
  }
  if (!b->keyed[l->key]) {
    uint32_t n = add_label(b->x, l->name, l->cat, l->file, l->func, l->line);
    if (n == UINT32_MAX) {
      b->failed = 1;
      return 0;
    }
    b->keyed[l->key] = n + 1;
  }
  return b->keyed[l->key] - 1;
}

static uint32_t counter_track(builder *b, int pid, const char *name) {
  uint64_t k = hash_str(name, (uint64_t)(uint32_t)pid);
  uint32_t *v = vh_get(&b->counters, k);
  if (v && !strcmp(b->x->tracks[*v].name, name) && b->x->tracks[*v].pid == pid)
    return *v;
  uint32_t t = new_track(b->x, VX_COUNTER, pid, 0, name, 1000);
  if (t == UINT32_MAX)
    b->failed = 1;
  else if (!v)
    vh_put(&b->counters, k, t);
  return t;
}

static uint32_t tasks_track(builder *b, int pid) {
  uint32_t *v = vh_get(&b->tasks_track, (uint64_t)(uint32_t)pid + 1);
  if (v)
    return *v;
  uint32_t t = new_track(b->x, VX_TASKS, pid, 0, "tasks", 999);
  if (t == UINT32_MAX || vh_put(&b->tasks_track, (uint64_t)(uint32_t)pid + 1, t))
    b->failed = 1;
  return t;
}

static int add_flow(vx_index *x, uint64_t id, uint32_t from, uint64_t from_ts, uint16_t from_depth,
                    uint32_t to, uint64_t to_ts, uint16_t to_depth, uint8_t kind) {
  vx_flow *f = VPUSH(x->flows, x->nflows, x->cap_flows);
  if (!f)
    return -1;
  memset(f, 0, sizeof *f);
  *f = (vx_flow){.id = id,
                 .from_ts = from_ts,
                 .to_ts = to_ts,
                 .from_track = from,
                 .to_track = to,
                 .from_depth = from_depth,
                 .to_depth = to_depth,
                 .kind = kind};
  return 0;
}

/* Growing: the last of n elements of `size` bytes (at most SETTLE_MAX),
 * sorted by the uint64_t at key_off, goes where its key puts it (after its
 * equals). */
#define SETTLE_MAX 64
_Static_assert(sizeof(vx_flow) <= SETTLE_MAX && sizeof(vx_sample) <= SETTLE_MAX, "settle_last");
static void settle_last(void *base, size_t n, size_t size, size_t key_off) {
  char *a = base, last[SETTLE_MAX];
  if (n < 2)
    return;
  uint64_t key, k;
  memcpy(&key, a + (n - 1) * size + key_off, sizeof key);
  memcpy(&k, a + (n - 2) * size + key_off, sizeof k);
  if (k <= key)
    return;
  size_t lo = 0, hi = n - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    memcpy(&k, a + mid * size + key_off, sizeof k);
    if (k <= key)
      lo = mid + 1;
    else
      hi = mid;
  }
  memcpy(last, a + (n - 1) * size, size);
  memmove(a + (lo + 1) * size, a + lo * size, (n - 1 - lo) * size);
  memcpy(a + lo * size, last, size);
}

/* The last arrow, by its start. */
static void settle_flow(vx_index *x) {
  settle_last(x->flows, x->nflows, sizeof *x->flows, offsetof(vx_flow, from_ts));
}

/* Where an event's track stands: its region depth as the index counts it
 * (the depth at which an arrow binds: the innermost open region). */
static uint16_t bind_depth(const bthread *t) {
  return t->depth ? (uint16_t)(t->depth - 1) : 0xffff;
}

/* ---- Slices ------------------------------------------------------------------------- */

/* A complete slice of thread track ti at the te event's depth: placed now,
 * kept to nest by time, or (the kernel's calls) placed at the end. */
static void place(builder *b, uint32_t ti, bthread *t, const te_event *ev, uint64_t start,
                  uint64_t end, uint32_t label, uint32_t args) {
  if (ev->depth == TE_DEPTH_NEST) {
    interval *iv = VPUSH(t->iv, t->niv, t->cap_iv);
    if (!iv)
      b->failed = 1;
    else
      *iv = (interval){start, end, label, args};
  } else if (ev->depth == TE_DEPTH_INSIDE) {
    kcall *c = VPUSH(b->calls, b->ncalls, b->cap_calls);
    if (!c)
      b->failed = 1;
    else
      *c = (kcall){ti, start, end, label, args};
  } else if (add_slice(&b->x->tracks[ti], t->depth, start, end, label, args)) {
    b->failed = 1;
  }
}

static void task_region(builder *b, uint32_t ti, uint64_t task, uint32_t label, uint64_t start,
                        uint64_t end) {
  vx_index *x = b->x;
  vx_task_region *r = VPUSH(x->tregs, x->ntregs, x->cap_tregs);
  if (!r) {
    b->failed = 1;
    return;
  }
  *r =
      (vx_task_region){task, start, end > start ? end - start : 0, x->tracks[ti].pid, ti, label, 0};
}

static void on_begin(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  open_region *o = VPUSH(t->stack, t->depth, t->cap);
  if (!o) {
    b->failed = 1;
    return;
  }
  *o = (open_region){ev->ts, label_of(b, ev->label), add_args(b->x, ev->args, &b->failed),
                     ev->label && !strcmp(ev->label->cat, "gc") ? 0 : ev->task,
                     ev->depth == TE_DEPTH_NEST};
  (void)ti;
}

static void on_end(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  if (!t->depth)
    return;
  open_region o = t->stack[--t->depth];
  if (o.task)
    task_region(b, ti, o.task, o.label, o.start, ev->ts);
  te_event at = *ev;
  at.depth = o.nest ? TE_DEPTH_NEST : 0;
  place(b, ti, t, &at, o.start, ev->ts, o.label, o.args);
}

static void on_slice(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  uint32_t label = label_of(b, ev->label);
  uint64_t end = ev->ts + ev->dur;
  if (ev->task)
    task_region(b, ti, ev->task, label, ev->ts, end);
  place(b, ti, t, ev, ev->ts, end, label, add_args(b->x, ev->args, &b->failed));
}

static int syscall_state(long nr) {
  return nr == 35 || nr == 230 ? VX_ST_SLEEP : VX_ST_SYSCALL; /* nanosleep, clock_nanosleep */
}

static void on_syscall(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  long nr = ev->u.syscall.nr;
  const char *n = nr >= 0 ? te_syscall_name(nr) : NULL;
  char buf[32];
  if (!n && !(n = ev->u.syscall.name)) {
    snprintf(buf, sizeof buf, "syscall %ld", nr);
    n = buf;
  }
  vx_info in = {.nr = (uint32_t)nr,
                .kernel = !!(ev->flags & TE_F_KERNEL),
                .arg = ev->u.syscall.arg,
                .ret = ev->u.syscall.ret,
                .waker = UINT32_MAX};
  uint64_t end = ev->ts + ev->dur;
  if (add_block(&b->x->tracks[ti], ev->ts, end, syscall_state(nr)))
    b->failed = 1;
  place(b, ti, t, ev, ev->ts, end, named_label(b, n, "syscall"), add_info(b->x, &in));
}

static void on_wait(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  vx_index *x = b->x;
  uint64_t end = ev->ts + ev->dur;
  vx_info in = {.nr = ev->u.wait.kind, .is_wait = 1, .arg = ev->u.wait.object, .waker = UINT32_MAX};
  if (ev->u.wait.waker_tid) {
    in.waker =
        thread_track(b, ev->u.wait.waker_pid, ev->u.wait.waker_tid, NULL, ev->u.wait.waker_tid);
    t = &b->bt[ti]; /* (the track array may have moved) */
    if (in.waker != UINT32_MAX && (ev->flags & TE_F_RELEASE)) {
      if (add_flow(x, (1ull << 62) | x->nflows, in.waker, ev->u.wait.release_ts, 0xffff, ti, end,
                   ev->depth < TE_DEPTH_INSIDE ? (uint16_t)t->depth : 0xffff, VX_FLOW_WAKE))
        b->failed = 1;
      else if (b->growing)
        settle_flow(x);
    }
  }
  if (add_block(&x->tracks[ti], ev->ts, end, VX_ST_LOCK))
    b->failed = 1;
  place(b, ti, t, ev, ev->ts, end, named_label(b, te_wait_name(ev->u.wait.kind), "wait"),
        add_info(x, &in));
}

/* ---- Instants, counters, tasks, arrows, work items ---------------------------------- */

static void on_point(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  vx_index *x = b->x;
  vx_track *tr = &x->tracks[ti];
  uint32_t l;
  switch (ev->type) {
  case TE_INSTANT:
    if (add_instant(tr, ev->ts, label_of(b, ev->label), 0))
      b->failed = 1;
    break;
  case TE_LOG:
    l = named_label(b, ev->u.log.category, "log");
    if (add_instant(tr, ev->ts, l, add_message(x, ev->u.log.message, ev->u.log.len, ev->task)))
      b->failed = 1;
    break;
  case TE_DROPPED:
    x->dropped += ev->u.drop.n;
    if (ev->u.drop.kind == TE_DROP_MARKED &&
        add_instant(tr, ev->ts, b->drop_label,
                    ev->u.drop.n > UINT32_MAX ? UINT32_MAX : (uint32_t)ev->u.drop.n))
      b->failed = 1;
    break;
  case TE_HEAP:
    if (ev->u.heap.thread_bytes) { /* what this thread allocated: charged to its open region */
      vx_alloc *a = VPUSH(tr->allocs, tr->nallocs, tr->cap_allocs);
      if (!a) {
        b->failed = 1;
        break;
      }
      *a = (vx_alloc){ev->ts, ev->u.heap.thread_bytes,
                      t->depth ? t->stack[t->depth - 1].label : UINT32_MAX, 0};
    }
    break;
  default: break;
  }
}

/* The last sample, by its time. */
static void settle_sample(vx_track *c) {
  settle_last(c->samples, c->nsamples, sizeof *c->samples, offsetof(vx_sample, ts));
}

static void sample(builder *b, int pid, const char *name, uint64_t ts, double v) {
  uint32_t c = counter_track(b, pid, name);
  if (c == UINT32_MAX || add_sample(&b->x->tracks[c], ts, v))
    b->failed = 1;
  else if (b->growing)
    settle_sample(&b->x->tracks[c]);
}

static void on_counter(builder *b, const te_event *ev) {
  switch (ev->type) {
  case TE_COUNTER: sample(b, ev->pid, ev->u.counter.name, ev->ts, ev->u.counter.value); break;
  case TE_HEAP:
    sample(b, ev->pid, "heap live bytes", ev->ts, (double)ev->u.heap.live);
    sample(b, ev->pid, "heap allocated bytes", ev->ts, (double)ev->u.heap.allocated);
    break;
  default: /* TE_HEAP_SET */
    sample(b, ev->pid, "heap live bytes (program)", ev->ts, (double)ev->u.heap_set.live);
    sample(b, ev->pid, "heap goal bytes (program)", ev->ts, (double)ev->u.heap_set.goal);
    break;
  }
}

/* ---- Tasks of a growing index: sorted by start as they come ---- */

static void lanes_dirty(builder *b, uint32_t track) {
  if (track >= b->nlanes_dirty) {
    size_t n = b->nlanes_dirty ? b->nlanes_dirty : 16;
    while (n <= track)
      n *= 2;
    uint8_t *p = realloc(b->lanes_dirty, n);
    if (!p) {
      b->failed = 1;
      return;
    }
    memset(p + b->nlanes_dirty, 0, n - b->nlanes_dirty);
    b->lanes_dirty = p;
    b->nlanes_dirty = n;
  }
  b->lanes_dirty[track] = 1;
}

/* The task of this start and id in t's sorted tasks, or NULL. */
static vx_task *grow_task_find(vx_track *t, uint64_t start, uint64_t id) {
  size_t lo = 0, hi = t->ntasks;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->tasks[mid].start < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < t->ntasks && t->tasks[lo].start == start; lo++)
    if (t->tasks[lo].id == id)
      return &t->tasks[lo];
  return NULL;
}

/* The task just pushed at the end of t's goes where its start puts it. */
static vx_task *grow_task_settle(vx_track *t) {
  size_t n = t->ntasks - 1, lo = 0, hi = n;
  vx_task k = t->tasks[n];
  if (!n || t->tasks[n - 1].start <= k.start)
    return &t->tasks[n];
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->tasks[mid].start <= k.start)
      lo = mid + 1;
    else
      hi = mid;
  }
  memmove(&t->tasks[lo + 1], &t->tasks[lo], (n - lo) * sizeof *t->tasks);
  t->tasks[lo] = k;
  return &t->tasks[lo];
}

static void grow_task_begin(builder *b, uint32_t tt, vx_task *k, uint64_t key) {
  vx_track *t = &b->x->tracks[tt];
  k = grow_task_settle(t);
  lanes_dirty(b, tt);
  uint32_t e;
  if (vh_del(&b->task_ends, key, &e)) { /* its end came first (another thread's) */
    k->end = b->tends[e].ts;
    k->end_thread = b->tends[e].thread;
    return;
  }
  uint64_t *o = VPUSH(b->ostart, b->nostart, b->cap_ostart);
  if (!o || vh_put(&b->open_tasks, key, (uint32_t)(b->nostart - 1))) {
    b->failed = 1;
    return;
  }
  *o = k->start;
}

static void grow_task_end(builder *b, uint32_t ti, const te_event *ev, uint64_t key) {
  uint32_t i, *tt = vh_get(&b->tasks_track, (uint64_t)(uint32_t)ev->pid + 1);
  vx_task *k = NULL;
  if (tt && vh_del(&b->open_tasks, key, &i) &&
      (k = grow_task_find(&b->x->tracks[*tt], b->ostart[i], ev->u.task_ev.id))) {
    k->end = ev->ts;
    k->end_thread = ti;
    lanes_dirty(b, *tt);
    return;
  }
  struct tend *e = VPUSH(b->tends, b->ntends, b->cap_tends); /* its beginning is to come */
  if (!e || vh_put(&b->task_ends, key, (uint32_t)(b->ntends - 1))) {
    b->failed = 1;
    return;
  }
  *e = (struct tend){ev->ts, ti};
}

static void on_task(builder *b, uint32_t ti, const te_event *ev) {
  vx_index *x = b->x;
  uint64_t key = ctrace__mix64((uint64_t)(uint32_t)ev->pid, ev->u.task_ev.id);
  if (ev->type == TE_TASK_END && b->growing) {
    grow_task_end(b, ti, ev, key);
    return;
  }
  uint32_t *known = vh_get(&b->tasks_track, (uint64_t)(uint32_t)ev->pid + 1);
  if (ev->type == TE_TASK_END && !known)
    return; /* no task of the process began */
  uint32_t tt = tasks_track(b, ev->pid);
  if (tt == UINT32_MAX)
    return;
  vx_track *t = &x->tracks[tt];
  if (ev->type == TE_TASK_BEGIN) {
    vx_task *k = VPUSH(t->tasks, t->ntasks, t->cap_tasks);
    if (!k || (!b->growing && vh_put(&b->open_tasks, key, (uint32_t)(t->ntasks - 1)))) {
      b->failed = 1;
      return;
    }
    *k = (vx_task){.start = ev->ts,
                   .end = UINT64_MAX,
                   .id = ev->u.task_ev.id,
                   .parent = ev->u.task_ev.parent,
                   .label = named_label(b, ev->u.task_ev.name ? ev->u.task_ev.name : "", "task"),
                   .thread = ti,
                   .end_thread = UINT32_MAX};
    if (b->growing)
      grow_task_begin(b, tt, k, key);
    return;
  }
  uint32_t i;
  if (vh_del(&b->open_tasks, key, &i)) {
    t->tasks[i].end = ev->ts;
    t->tasks[i].end_thread = ti;
  }
}

static uint8_t flow_kind(uint8_t k) {
  return k == TE_FLOW_THREAD    ? VX_FLOW_THREAD
         : k == TE_FLOW_UNBLOCK ? VX_FLOW_UNBLOCK
                                : VX_FLOW_USER;
}

/* An arrow's start waits for its end; the end makes the arrow. Thread
 * starts and work-item runs bind to the row itself, not a region. */
static void on_flow(builder *b, uint32_t ti, const bthread *t, const te_event *ev) {
  uint8_t kind = flow_kind(ev->u.flow.kind);
  uint64_t key = ctrace__mix64(ctrace__mix64(kind, (uint64_t)(uint32_t)ev->pid), ev->u.flow.id);
  uint32_t i;
  if (!(ev->flags & TE_F_FLOW_END)) {
    if (b->growing && vh_del(&b->flow_ends, key, &i)) { /* its end came first */
      const vx_flow *e = &b->ends[i];
      if (add_flow(b->x, ev->u.flow.id, ti, ev->ts, bind_depth(t), e->to_track, e->to_ts,
                   e->to_depth, kind))
        b->failed = 1;
      else
        settle_flow(b->x);
      return;
    }
    vx_flow *f = VPUSH(b->pend, b->npend, b->cap_pend);
    if (!f || vh_put(&b->pending, key, (uint32_t)(b->npend - 1))) {
      b->failed = 1;
      return;
    }
    *f = (vx_flow){.id = ev->u.flow.id,
                   .from_ts = ev->ts,
                   .from_track = ti,
                   .from_depth = bind_depth(t),
                   .kind = kind};
    return;
  }
  uint16_t to_depth = kind == VX_FLOW_USER ? bind_depth(t) : 0xffff;
  if (!vh_del(&b->pending, key, &i)) {
    if (!b->growing) /* its beginning was not recorded */
      return;
    vx_flow *e = VPUSH(b->ends, b->nends, b->cap_ends); /* (or is still to come) */
    if (!e || vh_put(&b->flow_ends, key, (uint32_t)(b->nends - 1)))
      b->failed = 1;
    else
      *e = (vx_flow){.to_ts = ev->ts, .to_track = ti, .to_depth = to_depth};
    return;
  }
  const vx_flow *p = &b->pend[i];
  if (add_flow(b->x, p->id, p->from_track, p->from_ts, p->from_depth, ti, ev->ts, to_depth, kind))
    b->failed = 1;
  else if (b->growing)
    settle_flow(b->x);
}

/* The work item track ti runs stops at ts: a run on its lane. */
static void end_run(builder *b, uint32_t ti, bthread *t, uint64_t ts) {
  if (!t->run_item)
    return;
  vx_track *tr = &b->x->tracks[ti];
  vx_slice *s = VPUSH(tr->runs, tr->nruns, tr->cap_runs);
  t->run_item = 0;
  if (!s) {
    b->failed = 1;
    return;
  }
  *s = (vx_slice){t->run_start, ts > t->run_start ? ts - t->run_start : 0, t->run_label, 0};
}

static void on_item(builder *b, uint32_t ti, bthread *t, const te_event *ev) {
  end_run(b, ti, t, ev->ts);
  if (ev->type != TE_ITEM_RUN)
    return;
  char buf[40];
  const char *name = ev->u.item.name;
  if (!name) {
    snprintf(buf, sizeof buf, "item %" PRIu64, ev->u.item.id);
    name = buf;
  }
  t->run_item = ev->u.item.id ? ev->u.item.id : 1;
  t->run_start = ev->ts;
  t->run_label = named_label(b, name, "sched");
}

static void on_state(builder *b, uint32_t ti, const te_event *ev) {
  vx_track *t = &b->x->tracks[ti];
  uint16_t cpu = ev->u.state.cpu >= 0 ? (uint16_t)ev->u.state.cpu : 0xffff;
  if (ev->flags & TE_F_TO_END) { /* to the end of the whole trace: at the end */
    vx_state *s = VPUSH(b->to_end, b->nto_end, b->cap_to_end);
    if (!s)
      b->failed = 1;
    else
      *s = (vx_state){ev->ts, 0, ev->u.state.state, 0, cpu, ti};
    return;
  }
  if (add_state(t, ev->ts, ev->ts + ev->dur, ev->u.state.state, cpu, 0))
    b->failed = 1;
}

/* ---- Sources -------------------------------------------------------------------------- */

/* What a source says of itself at its beginning (its path, format and
 * capture), into s. @return 0, or -1 out of memory. */
static int source_said(vx_source *s, const te_source *src) {
  s->path = strdup(src->path ? src->path : "");
  s->format = src->format;
  s->cap_present = src->capture.present;
  s->cap_syscalls = src->capture.syscalls;
  s->cap_sched = src->capture.sched;
  s->cap_heap = src->capture.heap;
  s->cap_locks = src->capture.locks;
  s->cap_why = src->capture.why && src->capture.why[0] ? strdup(src->capture.why) : NULL;
  return !s->path || (src->capture.why && src->capture.why[0] && !s->cap_why) ? -1 : 0;
}

static void source_begin(builder *b, const te_source *src) {
  vx_index *x = b->x;
  vx_source *s = &x->sources[x->nsources++];
  if (source_said(s, src))
    b->failed = 1;
  b->nsrc++;
  b->counted = 0;
  b->json = !strcmp(src->format, "chrome-json");
  if (vx__cpu_source(x, b->nsrc, src) != 0)
    b->failed = 1;
  if (b->nkeyed) /* keys are the source's own */
    memset(b->keyed, 0, b->nkeyed * sizeof *b->keyed);
}

static int cmp_iv(const void *a, const void *b) {
  const interval *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return x->end > y->end ? -1 : x->end < y->end; /* longer (outer) first */
}

/* Slices of unknown depth: sorted by start (outer first), a slice's depth
 * is the number of enclosing ones still open. */
static void nest_by_time(builder *b, vx_track *tr, bthread *t) {
  if (t->niv)
    qsort(t->iv, t->niv, sizeof *t->iv, cmp_iv);
  uint64_t *ends = malloc((t->niv + 1) * sizeof *ends);
  if (!ends) {
    b->failed = 1;
    return;
  }
  size_t depth = 0;
  for (size_t i = 0; i < t->niv; i++) {
    while (depth && ends[depth - 1] <= t->iv[i].start)
      depth--;
    if (add_slice(tr, depth, t->iv[i].start, t->iv[i].end, t->iv[i].label, t->iv[i].args))
      b->failed = 1;
    ends[depth++] = t->iv[i].end;
  }
  free(ends);
  free(t->iv);
  t->iv = NULL;
  t->niv = t->cap_iv = 0;
}

/* What the source left open on its threads: regions end at the thread's
 * last event (unfinished), or (nested by time) at the trace's end so far. */
static void finish_threads(builder *b) {
  vx_index *x = b->x;
  for (size_t i = 0; i < x->ntracks && i < b->nbt; i++) {
    bthread *t = &b->bt[i];
    if (t->source != b->nsrc || x->tracks[i].kind != VX_THREAD)
      continue;
    while (t->depth) {
      open_region *o = &t->stack[--t->depth];
      if (o->nest) {
        interval *iv = VPUSH(t->iv, t->niv, t->cap_iv);
        if (iv)
          *iv = (interval){o->start, x->t1, o->label, VX_UNFINISHED};
      } else if (add_slice(&x->tracks[i], t->depth, o->start, t->last_ts, o->label,
                           VX_UNFINISHED)) {
        b->failed = 1;
      }
    }
    end_run(b, (uint32_t)i, t, t->last_ts);
    if (t->niv)
      nest_by_time(b, &x->tracks[i], t);
  }
}

static void source_end(builder *b, const te_source *src) {
  vx_index *x = b->x;
  vx_source *s = &x->sources[x->nsources - 1];
  if (src->first_ts || src->last_ts) {
    note_time(x, src->first_ts);
    note_time(x, src->last_ts);
  }
  finish_threads(b);
  s->pid = src->pid;
  s->process = strdup(src->process ? src->process : "");
  s->events = src->events ? src->events : b->counted;
  s->dropped = src->dropped;
  s->complete = src->complete;
  s->problem = src->problem ? strdup(src->problem) : NULL;
  if (!s->process || (src->problem && !s->problem)) {
    b->failed = 1;
    if (!s->process)
      s->process = strdup(""); /* (vx_free and the error path read it) */
  }
  s->problem_kind = src->problem_kind;
  x->events += s->events;
}

/* ---- One event -------------------------------------------------------------------------- */

static void note(builder *b, const te_event *ev) {
  switch (ev->type) {
  case TE_SOURCE_BEGIN:
  case TE_SOURCE_END:
  case TE_PROCESS: return;
  case TE_THREAD: /* a rename is an event; a declaration is not */
    if (!b->json && !(ev->flags & (TE_F_SORT | TE_F_IMPLICIT)))
      note_time(b->x, ev->ts);
    return;
  case TE_DROPPED:
    if (ev->u.drop.kind == TE_DROP_MARKED || b->json)
      note_time(b->x, ev->ts);
    return;
  case TE_STATE: /* (the end a thread's exit gives is not a recorded time) */
    if (!(ev->flags & (TE_F_TO_END | TE_F_AT_EXIT | TE_F_GROUP_EXIT)))
      note_time(b->x, ev->ts + ev->dur);
    if (b->json)
      note_time(b->x, ev->ts);
    return;
  case TE_SLICE:
  case TE_SYSCALL:
  case TE_WAIT: /* (a span is recorded at its end) */
    note_time(b->x, ev->ts + ev->dur);
    if (b->json)
      note_time(b->x, ev->ts);
    return;
  default: note_time(b->x, ev->ts);
  }
}

static void grow_source_begin(builder *b, const te_source *src);
static void grow_source_end(builder *b, const te_source *src);

static int on_event(void *arg, const te_source *src, const te_event *ev) {
  builder *b = arg;
  b->src = src;
  note(b, ev);
  if (ev->type == TE_SOURCE_BEGIN) {
    if (b->growing)
      grow_source_begin(b, src);
    else
      source_begin(b, src);
    return b->failed ? CTRACE_ENOMEM : 0;
  }
  if (ev->type == TE_SOURCE_END) {
    if (b->growing)
      grow_source_end(b, src);
    else
      source_end(b, src);
    return b->failed ? CTRACE_ENOMEM : 0;
  }
  if (ev->type == TE_PROCESS)
    return 0; /* (the source says its process at its end) */
  if (ev->type != TE_THREAD)
    b->counted++;
  if (ev->type == TE_COUNTER || ev->type == TE_HEAP_SET ||
      (ev->type == TE_DROPPED && (ev->flags & TE_F_PROCESS))) {
    /* a process's: no thread row of its own, but its thread's last event */
    if (ev->type == TE_DROPPED)
      b->x->dropped += ev->u.drop.n;
    else
      on_counter(b, ev);
    uint32_t *v = vh_get(&b->threads, thread_key(ev->pid, ev->tid));
    bthread *t = v ? bt_of(b, *v) : NULL;
    if (t)
      t->last_ts = ev->ts;
    return b->failed ? CTRACE_ENOMEM : 0;
  }
  int sort = ev->type == TE_THREAD && (ev->flags & TE_F_SORT) ? ev->u.thread.sort : ev->tid;
  const char *name = ev->type == TE_THREAD ? (ev->u.thread.name ? ev->u.thread.name : "") : NULL;
  uint32_t ti = thread_track(b, ev->pid, ev->tid, name, sort);
  bthread *t = ti == UINT32_MAX ? NULL : bt_of(b, ti);
  if (!t)
    return CTRACE_ENOMEM;
  vx_track *tr = &b->x->tracks[ti];
  if (ev->type == TE_SLICE || ev->type == TE_SYSCALL || ev->type == TE_WAIT)
    t->last_ts = ev->ts + ev->dur; /* (a span is recorded at its end) */
  else if (ev->type != TE_THREAD && ev->type != TE_STATE)
    t->last_ts = ev->ts;
  switch (ev->type) {
  case TE_THREAD:
    if (ev->u.thread.name && strcmp(tr->name, ev->u.thread.name)) {
      char *n = strdup(ev->u.thread.name);
      if (!n)
        return CTRACE_ENOMEM;
      free(tr->name);
      tr->name = n;
    }
    if (ev->flags & TE_F_SORT)
      tr->sort = ev->u.thread.sort;
    break;
  case TE_BEGIN: on_begin(b, ti, t, ev); break;
  case TE_END: on_end(b, ti, t, ev); break;
  case TE_SLICE: on_slice(b, ti, t, ev); break;
  case TE_SYSCALL: on_syscall(b, ti, t, ev); break;
  case TE_WAIT: on_wait(b, ti, t, ev); break;
  case TE_STATE: on_state(b, ti, ev); break;
  case TE_HEAP:
    on_counter(b, ev);
    on_point(b, ti, t, ev);
    break;
  case TE_TASK_BEGIN:
  case TE_TASK_END: on_task(b, ti, ev); break;
  case TE_FLOW: on_flow(b, ti, t, ev); break;
  case TE_ITEM_RUN:
  case TE_ITEM_STOP: on_item(b, ti, t, ev); break;
  case TE_SAMPLE:
    if (vx__cpu_sample(b->x, b->nsrc, tr, ev) != 0)
      b->failed = 1;
    break;
  case TE_HEAP_SAMPLE:
  case TE_HEAP_FREE:
    if (vx__heap_event(b->x, b->nsrc, tr, ev) != 0)
      b->failed = 1;
    break;
  default: on_point(b, ti, t, ev); break;
  }
  return b->failed ? CTRACE_ENOMEM : 0;
}

/* ---- The end: what needs the whole picture ------------------------------------------- */

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

/* The kernel's system calls into the regions that hold them (depths from
 * the regions only: all are known now), then each depth sorted again. */
static void place_kernel_calls(builder *b) {
  vx_index *x = b->x;
  uint32_t *depth = malloc((b->ncalls + 1) * sizeof *depth);
  if (!depth) {
    b->failed = 1;
    return;
  }
  for (size_t i = 0; i < b->ncalls; i++) /* all before any is added */
    depth[i] = (uint32_t)depth_at(&x->tracks[b->calls[i].track], b->calls[i].start);
  for (size_t i = 0; i < b->ncalls; i++) {
    const kcall *c = &b->calls[i];
    if (add_slice(&x->tracks[c->track], depth[i], c->start, c->end, c->label, c->args))
      b->failed = 1;
  }
  free(depth);
  for (size_t i = 0; i < x->ntracks; i++)
    for (size_t d = 0; d < x->tracks[i].depths; d++)
      if (x->tracks[i].ndepth[d] > 1)
        qsort(x->tracks[i].depth[d], x->tracks[i].ndepth[d], sizeof(vx_slice), cmp_slice);
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

static int cmp_flow(const void *a, const void *b) {
  const vx_flow *x = a, *y = b;
  return x->from_ts < y->from_ts ? -1 : x->from_ts > y->from_ts;
}

static void finish(builder *b) {
  vx_index *x = b->x;
  if (b->ncalls)
    place_kernel_calls(b);
  for (size_t i = 0; i < b->nto_end; i++) { /* still on or off at the end of the trace */
    const vx_state *s = &b->to_end[i];
    if (add_state(&x->tracks[s->pad], s->start, x->t1, s->state, s->cpu, 0))
      b->failed = 1;
  }
  finish_states(x);
  for (size_t i = 0; i < x->ntracks; i++)
    if (x->tracks[i].kind == VX_TASKS)
      assign_lanes(&x->tracks[i]);
  if (x->t0 == UINT64_MAX)
    x->t0 = x->t1 = 0;
  if (x->nflows)
    qsort(x->flows, x->nflows, sizeof *x->flows, cmp_flow);
}

static void builder_free(builder *b) {
  for (size_t i = 0; i < b->nbt; i++) {
    free(b->bt[i].stack);
    free(b->bt[i].iv);
  }
  free(b->bt);
  free(b->keyed);
  free(b->pend);
  free(b->calls);
  free(b->to_end);
  vh_free(&b->threads);
  vh_free(&b->named);
  vh_free(&b->counters);
  vh_free(&b->tasks_track);
  vh_free(&b->open_tasks);
  vh_free(&b->pending);
  vh_free(&b->flow_ends);
  vh_free(&b->task_ends);
  free(b->ends);
  free(b->tends);
  free(b->ostart);
  free(b->lanes_dirty);
}

/* ---- Entry points ------------------------------------------------------------------------- */

static vx_index *index_new(size_t nsources, builder *b) {
  vx_index *x = calloc(1, sizeof *x);
  if (!x || !(x->sources = calloc(nsources ? nsources : 1, sizeof *x->sources))) {
    free(x);
    return NULL;
  }
  x->t0 = UINT64_MAX;
  memset(b, 0, sizeof *b);
  b->x = x;
  /* label 0: the fallback; then the markers of dropped events */
  if (add_label(x, "?", "", NULL, NULL, 0) != 0 ||
      (x->drop_label = add_label(x, "ctrace: events dropped", "ctrace", NULL, NULL, 0)) != 1) {
    vx_free(x);
    return NULL;
  }
  b->drop_label = x->drop_label;
  return x;
}

/* Ends a build: the index, or NULL with err (r: the read's error). */
static vx_index *index_done(builder *b, int r, const char *why, char *err, size_t errlen) {
  if (!r && !b->failed)
    finish(b);
  if (r || b->failed) {
    if (why && why[0])
      vx_errf(err, errlen, "%s", why);
    else
      vx_errf(err, errlen, "%s: out of memory while indexing",
              b->src && b->src->path ? b->src->path : "trace");
    builder_free(b);
    vx_free(b->x);
    return NULL;
  }
  builder_free(b);
  return b->x;
}

vx_index *vx_build(char *const *paths, size_t n, char *err, size_t errlen) {
  te_set *set = te_set_open(paths, n, 0, err, errlen);
  if (!set)
    return NULL;
  builder b;
  if (!index_new(n, &b)) {
    te_set_close(set);
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  char why[1200] = "";
  int r = te_set_read(set, on_event, &b, why, sizeof why);
  vx_index *x = index_done(&b, r, why, err, errlen);
  te_set_close(set);
  return x;
}

/* ---- Two sets side by side (vx_build_aligned) ------------------------------------------ */

typedef struct aligner {
  builder *b;
  const vx_align *a; /* per path */
  size_t n, cur;     /* sources so far (one per path) */
  te_source src;     /* the current source, its times and name as aligned */
  char process[320];
} aligner;

static int on_aligned(void *arg, const te_source *src, const te_event *ev) {
  aligner *al = arg;
  if (ev->type == TE_SOURCE_BEGIN)
    al->cur++;
  size_t i = al->cur ? al->cur - 1 : 0;
  const vx_align *a = &al->a[i < al->n ? i : al->n - 1];
  al->src = *src;
  if (src->first_ts || src->last_ts) {
    al->src.first_ts = src->first_ts + (uint64_t)a->shift;
    al->src.last_ts = src->last_ts + (uint64_t)a->shift;
  }
  al->src.pid = src->pid ? src->pid + a->pid_add : 0;
  if (a->prefix) {
    snprintf(al->process, sizeof al->process, "%s%s", a->prefix, src->process ? src->process : "");
    al->src.process = al->process;
  }
  te_event e = *ev;
  e.ts += (uint64_t)a->shift;
  if (e.pid)
    e.pid += a->pid_add;
  if (e.type == TE_WAIT) {
    if (e.u.wait.release_ts)
      e.u.wait.release_ts += (uint64_t)a->shift;
    if (e.u.wait.waker_pid)
      e.u.wait.waker_pid += a->pid_add;
  }
  if (e.type == TE_DROPPED && e.u.drop.since)
    e.u.drop.since += (uint64_t)a->shift;
  return on_event(al->b, &al->src, &e);
}

vx_index *vx_build_aligned(char *const *paths, size_t n, const vx_align *align, char *err,
                           size_t errlen) {
  te_set *set = te_set_open(paths, n, 0, err, errlen);
  if (!set)
    return NULL;
  builder b;
  if (!index_new(n, &b)) {
    te_set_close(set);
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  aligner al = {.b = &b, .a = align, .n = n};
  char why[1200] = "";
  int r = te_set_read(set, on_aligned, &al, why, sizeof why);
  vx_index *x = index_done(&b, r, why, err, errlen);
  te_set_close(set);
  return x;
}

vx_index *vx_build_log(const te_log *log, size_t n, char *err, size_t errlen) {
  builder b;
  if (!index_new(TE_LOG_MAX_SOURCES, &b)) {
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  int r = te_log_read(log, n, on_event, &b);
  if (!r && b.x->nsources && b.src && b.x->sources[b.x->nsources - 1].process == NULL)
    source_end(&b, b.src); /* a live source: not ended yet */
  return index_done(&b, r, NULL, err, errlen);
}

/* ---- A growing index (vx_grow) ------------------------------------------------------------ */

/* What one publish added that the next read takes back first: a region
 * still open shows as unfinished at its depth (the last slice there), a
 * work item still running as a run to its thread's last event. */
typedef struct tail {
  uint32_t track;
  uint32_t depth; /* UINT32_MAX: a run */
} tail;

struct vx_grow {
  builder b;
  te_grow **src;    /* per file */
  uint32_t **keyed; /* per file: its label keys (builder.keyed while it is read) */
  size_t *nkeyed;
  size_t n;
  tail *tails;
  size_t ntails, cap_tails;
  int t0_unset; /* the index had no time yet: t0 and t1 were published as 0 */
};

static void grow_source_begin(builder *b, const te_source *src) {
  vx_index *x = b->x;
  vx_source *s = &x->sources[b->cur];
  free(s->path);
  free(s->cap_why);
  if (source_said(s, src))
    b->failed = 1;
  b->json = 0;
  if (vx__cpu_source(x, b->nsrc, src) != 0)
    b->failed = 1;
}

/* What the source says of itself so far (its counts, its problem). */
static void grow_source_state(builder *b, size_t i, const te_source *src) {
  vx_source *s = &b->x->sources[i];
  if (src->first_ts || src->last_ts) {
    note_time(b->x, src->first_ts);
    note_time(b->x, src->last_ts);
  }
  free(s->process);
  free(s->problem);
  s->process = strdup(src->process ? src->process : "");
  s->problem = src->problem ? strdup(src->problem) : NULL;
  if (!s->process || (src->problem && !s->problem))
    b->failed = 1;
  s->pid = src->pid;
  s->events = src->events;
  s->dropped = src->dropped;
  s->complete = src->complete;
  s->problem_kind = src->problem_kind;
}

static void grow_source_end(builder *b, const te_source *src) {
  vx_source *s = &b->x->sources[b->cur];
  free(s->process);
  free(s->problem);
  s->process = s->problem = NULL;
  uint64_t events = b->x->events;
  size_t n = b->x->nsources;
  b->x->nsources = b->cur + 1; /* (source_end ends the last source) */
  source_end(b, src);
  b->x->nsources = n;
  b->x->events = events; /* (counted again at each publish) */
}

/* Takes back what the last publish added for the time being. */
static void grow_unpublish(vx_grow *g) {
  vx_index *x = g->b.x;
  for (size_t i = g->ntails; i-- > 0;) {
    vx_track *t = &x->tracks[g->tails[i].track];
    if (g->tails[i].depth == UINT32_MAX) {
      t->nruns--;
    } else {
      t->ndepth[g->tails[i].depth]--;
      t->slices--;
    }
  }
  g->ntails = 0;
  if (g->t0_unset) {
    x->t0 = UINT64_MAX;
    x->t1 = 0;
    g->t0_unset = 0;
  }
}

static void grow_tail(vx_grow *g, uint32_t track, uint32_t depth) {
  tail *p = VPUSH(g->tails, g->ntails, g->cap_tails);
  if (!p)
    g->b.failed = 1;
  else
    *p = (tail){track, depth};
}

/* Regions still open show as unfinished, up to their thread's last event;
 * a work item still running, as a run to there. */
static void grow_open_parts(vx_grow *g) {
  builder *b = &g->b;
  vx_index *x = b->x;
  for (size_t i = 0; i < x->ntracks && i < b->nbt; i++) {
    bthread *t = &b->bt[i];
    if (x->tracks[i].kind != VX_THREAD)
      continue;
    for (size_t d = 0; d < t->depth; d++) {
      const open_region *o = &t->stack[d];
      if (add_slice(&x->tracks[i], d, o->start, t->last_ts, o->label, VX_UNFINISHED))
        b->failed = 1;
      else
        grow_tail(g, (uint32_t)i, (uint32_t)d);
    }
    if (t->run_item) {
      vx_track *tr = &x->tracks[i];
      vx_slice *s = VPUSH(tr->runs, tr->nruns, tr->cap_runs);
      if (!s) {
        b->failed = 1;
        continue;
      }
      *s = (vx_slice){t->run_start, t->last_ts > t->run_start ? t->last_ts - t->run_start : 0,
                      t->run_label, 0};
      grow_tail(g, (uint32_t)i, UINT32_MAX);
    }
  }
}

/* The state band of threads without scheduler data, from the blocking
 * spans that came since the last publish (sorted among themselves), on
 * from where it had got to. */
static void grow_states(builder *b) {
  vx_index *x = b->x;
  for (size_t i = 0; i < x->ntracks && i < b->nbt; i++) {
    vx_track *t = &x->tracks[i];
    bthread *bt = &b->bt[i];
    if (t->kind != VX_THREAD || !t->nblocks)
      continue;
    if (t->nblocks > 1)
      qsort(t->blocks, t->nblocks, sizeof *t->blocks, cmp_state);
    uint64_t at = bt->st_begun ? bt->st_at : t->blocks[0].start;
    for (size_t j = 0; j < t->nblocks; j++) {
      vx_state *bk = &t->blocks[j];
      if (bk->start > at && add_state(t, at, bk->start, VX_ST_RUNNING, 0xffff, 1))
        b->failed = 1;
      if (bk->end > at) {
        if (add_state(t, bk->start > at ? bk->start : at, bk->end, bk->state, 0xffff, 1))
          b->failed = 1;
        at = bk->end;
      }
    }
    bt->st_at = at;
    bt->st_begun = 1;
    t->nblocks = 0;
  }
}

/* What the index shows between reads: the sources so far, what is still
 * open, the state bands, the tasks' lanes. */
static void grow_publish(vx_grow *g) {
  builder *b = &g->b;
  vx_index *x = b->x;
  x->events = 0;
  for (size_t i = 0; i < g->n; i++) {
    const te_source *src = te_grow_source(g->src[i]);
    if (x->sources[i].process && te_grow_ended(g->src[i]))
      ; /* (ended: source_end said it all) */
    else if (x->sources[i].format)
      grow_source_state(b, i, src);
    x->events += x->sources[i].events;
  }
  grow_open_parts(g);
  grow_states(b);
  for (size_t i = 0; i < b->nlanes_dirty && i < x->ntracks; i++)
    if (b->lanes_dirty[i]) {
      place_lanes(&x->tracks[i]);
      b->lanes_dirty[i] = 0;
    }
  if (x->t0 == UINT64_MAX) {
    x->t0 = x->t1 = 0;
    g->t0_unset = 1;
  }
}

/* Files the set has now: the new ones join as sources not yet begun. */
static int grow_files(vx_grow *g, char *const *paths, size_t n) {
  if (n <= g->n)
    return 0;
  vx_index *x = g->b.x;
  vx_source *s = realloc(x->sources, n * sizeof *s);
  if (s)
    x->sources = s;
  te_grow **src = realloc(g->src, n * sizeof *src);
  if (src)
    g->src = src;
  uint32_t **keyed = realloc(g->keyed, n * sizeof *keyed);
  if (keyed)
    g->keyed = keyed;
  size_t *nkeyed = realloc(g->nkeyed, n * sizeof *nkeyed);
  if (nkeyed)
    g->nkeyed = nkeyed;
  if (!s || !src || !keyed || !nkeyed)
    return -1;
  for (; g->n < n; g->n++) {
    size_t i = g->n;
    memset(&x->sources[i], 0, sizeof x->sources[i]);
    g->keyed[i] = NULL;
    g->nkeyed[i] = 0;
    if (!(g->src[i] = te_grow_open(paths[i])) || !(x->sources[i].path = strdup(paths[i])) ||
        !(x->sources[i].process = strdup("")))
      return -1;
    x->sources[i].format = "ctrace";
    x->nsources = i + 1;
  }
  return 0;
}

vx_grow *vx_grow_open(char *const *paths, size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    char head[CTRACE_FMT_MAGIC_LEN] = {0};
    FILE *f = fopen(paths[i], "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f)
      fclose(f);
    if (got != sizeof head || memcmp(head, CTRACE_FMT_MAGIC, sizeof head)) {
      vx_errf(err, errlen, "%s: not a ctrace trace: its index is built whole", paths[i]);
      return NULL;
    }
  }
  vx_grow *g = calloc(1, sizeof *g);
  if (!g || !index_new(0, &g->b)) {
    free(g);
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  g->b.growing = 1;
  g->b.x->nsources = 0;
  if (grow_files(g, paths, n)) {
    vx_grow_close(g, 1);
    vx_errf(err, errlen, "out of memory");
    return NULL;
  }
  return g;
}

/* One file's appended events. @return 0, VX_GROW_WHOLE, or a negative
 * error with the message in err. */
static int grow_read(vx_grow *g, size_t i, int all, char *err, size_t errlen) {
  builder *b = &g->b;
  b->cur = (uint32_t)i;
  b->nsrc = (uint32_t)i + 1;
  b->keyed = g->keyed[i];
  b->nkeyed = g->nkeyed[i];
  int r = te_grow_read(g->src[i], all, on_event, b, err, errlen);
  g->keyed[i] = b->keyed;
  g->nkeyed[i] = b->nkeyed;
  b->keyed = NULL;
  b->nkeyed = 0;
  if (b->failed) {
    vx_errf(err, errlen, "%s: out of memory while indexing", g->b.x->sources[i].path);
    return VX_GROW_WHOLE;
  }
  if (r == CTRACE_EFORMAT)
    return VX_GROW_WHOLE; /* a kernel stream (the file's magic was checked at open) */
  return r == CTRACE_ENOMEM ? VX_GROW_WHOLE : r;
}

int vx_grow_more(vx_grow *g, char *const *paths, size_t n, int all, char *err, size_t errlen) {
  err[0] = '\0';
  if (g->b.failed || grow_files(g, paths, n)) {
    vx_errf(err, errlen, "out of memory while indexing");
    return VX_GROW_WHOLE;
  }
  grow_unpublish(g);
  int rc = 0;
  for (size_t i = 0; i < g->n && rc != VX_GROW_WHOLE; i++) {
    char why[1200];
    int r = grow_read(g, i, all, why, sizeof why);
    if (r && (!rc || r == VX_GROW_WHOLE)) { /* (the others still grow) */
      rc = r;
      vx_errf(err, errlen, "%s", why[0] ? why : ctrace_strerror(r));
    }
  }
  grow_publish(g); /* (whole as it stands, even if it cannot grow further) */
  if (g->b.failed) {
    vx_errf(err, errlen, "out of memory while indexing");
    return VX_GROW_WHOLE;
  }
  return rc;
}

vx_index *vx_grow_index(const vx_grow *g) { return g->b.x; }

uint64_t vx_grow_decoded(const vx_grow *g, uint64_t *events) {
  uint64_t bytes = 0, n = 0;
  for (size_t i = 0; i < g->n; i++) {
    bytes += te_grow_bytes(g->src[i]);
    n += te_grow_events(g->src[i]);
  }
  if (events)
    *events = n;
  return bytes;
}

void vx_grow_close(vx_grow *g, int free_index) {
  if (!g)
    return;
  for (size_t i = 0; i < g->n; i++) {
    te_grow_close(g->src[i]);
    free(g->keyed[i]);
  }
  free(g->src);
  free(g->keyed);
  free(g->nkeyed);
  free(g->tails);
  vx_index *x = g->b.x;
  builder_free(&g->b);
  if (free_index)
    vx_free(x);
  free(g);
}
