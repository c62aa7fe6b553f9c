/* The critical path of a region instance or a task (analysis.h, "The
 * critical path"): the target's [start, end) walked back from its end,
 * split into segments on whichever thread the time depended on. */
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "ctrace/format.h"

#define CR_MAX_DEPTH 256     /* threads followed in a chain */
#define CR_MAX_SEGS 4000000u /* segments in one path */
#define NONE UINT32_MAX

typedef struct cr_edge {
  uint64_t to_ts, from_ts;
  uint32_t to, from;
  uint8_t kind; /* VX_FLOW_* */
} cr_edge;

struct cr_graph {
  const vx_index *x;
  cr_edge *e; /* by (to, to_ts) */
  size_t n;
  size_t *first;  /* per track: its first edge; [ntracks] = n */
  uint8_t *sched; /* per track: has states from the scheduler */
};

const char *cr_state_name(cr_state s) {
  switch (s) {
  case CR_RUNNING: return "running";
  case CR_RUNNABLE: return "runnable";
  case CR_SYSCALL: return "syscall";
  case CR_SLEEP: return "sleeping";
  case CR_LOCK: return "waiting";
  case CR_WOKEN: return "woken";
  case CR_BLOCKED: return "blocked";
  case CR_UNKNOWN: return "running?";
  case CR_IDLE: return "idle";
  case CR_CUT: return "not followed";
  }
  return "?";
}

static int edge_cmp(const void *a, const void *b) {
  const cr_edge *x = a, *y = b;
  if (x->to != y->to)
    return x->to < y->to ? -1 : 1;
  return x->to_ts < y->to_ts ? -1 : x->to_ts > y->to_ts;
}

cr_graph *cr_graph_new(const vx_index *x) {
  cr_graph *g = calloc(1, sizeof *g);
  size_t nt = vx_track_count(x), nf;
  const vx_flow *f = vx_flows(x, &nf);
  if (!g || !(g->first = calloc(nt + 1, sizeof *g->first)) || !(g->sched = calloc(nt + 1, 1)) ||
      !(g->e = malloc((nf ? nf : 1) * sizeof *g->e))) {
    cr_graph_free(g);
    return NULL;
  }
  g->x = x;
  for (size_t i = 0; i < nf; i++)
    if (f[i].to_track < nt && f[i].from_track < nt && f[i].from_track != f[i].to_track)
      g->e[g->n++] = (cr_edge){f[i].to_ts, f[i].from_ts, f[i].to_track, f[i].from_track, f[i].kind};
  qsort(g->e, g->n, sizeof *g->e, edge_cmp);
  for (size_t i = 0, k = 0; i <= nt; i++) {
    while (k < g->n && g->e[k].to < i)
      k++;
    g->first[i] = k;
  }
  for (size_t i = 0; i < nt; i++) {
    const vx_track *t = vx_track_get(x, i);
    for (size_t k = 0; k < t->nstates && !g->sched[i]; k++)
      g->sched[i] = !t->states[k].derived;
  }
  return g;
}

void cr_graph_free(cr_graph *g) {
  if (!g)
    return;
  free(g->e);
  free(g->first);
  free(g->sched);
  free(g);
}

/* ---- What a thread was doing just before ts ----------------------------------------- */

/* The slice at depth d containing the instant before ts, or NULL. */
static const vx_slice *slice_before(const vx_track *t, size_t d, uint64_t ts) {
  size_t i = vx_slice_lower(t->depth[d], t->ndepth[d], ts);
  return i < t->ndepth[d] && t->depth[d][i].start < ts ? &t->depth[d][i] : NULL;
}

static const vx_info *info_of(const vx_index *x, const vx_slice *s) {
  return s->args & VX_ARGS_INFO ? vx_info_get(x, s->args) : NULL;
}

/* The wait (lock, condvar, join...) the thread was in just before ts. */
static const vx_slice *wait_before(const vx_index *x, const vx_track *t, uint64_t ts) {
  for (size_t d = t->depths; d-- > 0;) {
    const vx_slice *s = slice_before(t, d, ts);
    const vx_info *in = s ? info_of(x, s) : NULL;
    if (in && in->is_wait)
      return s;
  }
  return NULL;
}

/* The innermost region open just before ts (not a syscall or a wait). */
static uint32_t region_before(const vx_index *x, const vx_track *t, uint64_t ts) {
  for (size_t d = t->depths; d-- > 0;) {
    const vx_slice *s = slice_before(t, d, ts);
    if (s && !info_of(x, s))
      return s->label;
  }
  return NONE;
}

/* The syscall slice just before ts, or NULL. */
static const vx_info *syscall_before(const vx_index *x, const vx_track *t, uint64_t ts) {
  for (size_t d = t->depths; d-- > 0;) {
    const vx_slice *s = slice_before(t, d, ts);
    const vx_info *in = s ? info_of(x, s) : NULL;
    if (in && !in->is_wait)
      return in;
  }
  return NULL;
}

/* First state whose end is >= ts. */
static size_t state_lower(const vx_track *t, uint64_t ts) {
  size_t lo = 0, hi = t->nstates;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->states[mid].end < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static const vx_state *state_before(const vx_track *t, uint64_t ts) {
  size_t i = state_lower(t, ts);
  return i < t->nstates && t->states[i].start < ts ? &t->states[i] : NULL;
}

static uint64_t max64(uint64_t a, uint64_t b) { return a > b ? a : b; }

/* Where what the thread was doing just before ts began: the latest start
 * or end of a slice or a state before ts, and not before lo. */
static uint64_t segment_start(const vx_track *t, uint64_t ts, uint64_t lo) {
  uint64_t a = lo;
  for (size_t d = 0; d < t->depths; d++) {
    size_t i = vx_slice_lower(t->depth[d], t->ndepth[d], ts);
    if (i < t->ndepth[d] && t->depth[d][i].start < ts)
      a = max64(a, t->depth[d][i].start);
    if (i > 0)
      a = max64(a, t->depth[d][i - 1].start + t->depth[d][i - 1].dur);
  }
  size_t i = state_lower(t, ts);
  if (i < t->nstates && t->states[i].start < ts)
    a = max64(a, t->states[i].start);
  if (i > 0)
    a = max64(a, t->states[i - 1].end);
  return a < ts ? a : lo;
}

/* The threads that ran most in [a, b) other than tr, into ran[3]. */
static void who_ran(const vx_index *x, uint32_t tr, uint64_t a, uint64_t b, uint32_t ran[3]) {
  uint64_t best[3] = {0, 0, 0};
  ran[0] = ran[1] = ran[2] = NONE;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (i == tr || t->kind != VX_THREAD)
      continue;
    uint64_t on = 0;
    for (size_t k = state_lower(t, a + 1); k < t->nstates && t->states[k].start < b; k++)
      if (t->states[k].state == VX_ST_RUNNING) {
        uint64_t s = max64(t->states[k].start, a), e = t->states[k].end < b ? t->states[k].end : b;
        on += e > s ? e - s : 0;
      }
    for (int j = 0; j < 3 && on; j++)
      if (on > best[j]) {
        for (int m = 2; m > j; m--) {
          best[m] = best[m - 1];
          ran[m] = ran[m - 1];
        }
        best[j] = on;
        ran[j] = (uint32_t)i;
        break;
      }
  }
}

/* ---- The walk --------------------------------------------------------------------- */

/* How the walk came to a thread: appended to each of its segments. */
typedef struct cr_arrival {
  uint8_t via;
  uint32_t to, nr;
  uint64_t object;
  uint16_t release_known;
} cr_arrival;

typedef struct walk {
  const cr_graph *g;
  const vx_index *x;
  cr_path *p;
  size_t cap;
  int oom;
  const cr_target *target;
  const vx_task_region *treg; /* the task's regions (a task target) */
  size_t ntreg;
} walk;

static cr_segment *push(walk *w, uint32_t tr, uint8_t state, uint64_t a, uint64_t b,
                        const cr_arrival *via) {
  if (b <= a || w->oom)
    return NULL;
  cr_path *p = w->p;
  if (p->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 64;
    cr_segment *s = realloc(p->seg, cap * sizeof *s);
    if (!s) {
      w->oom = 1;
      return NULL;
    }
    p->seg = s;
    w->cap = cap;
  }
  const vx_track *t = vx_track_get(w->x, tr);
  cr_segment *s = &p->seg[p->n++];
  *s = (cr_segment){.start = a,
                    .dur = b - a,
                    .track = tr,
                    .region = region_before(w->x, t, b),
                    .to = via->to,
                    .nr = via->nr,
                    .object = via->object,
                    .ran = {NONE, NONE, NONE},
                    .state = state,
                    .via = via->via,
                    .release_known = via->release_known};
  return s;
}

static void walk_thread(walk *w, uint32_t tr, uint64_t hi, uint64_t lo, const cr_arrival *via,
                        unsigned depth);

/* The arrow into tr that ends at to_ts (a wait's wake-up), or NULL. */
static const cr_edge *edge_at(const cr_graph *g, uint32_t tr, uint64_t to_ts, uint8_t kind) {
  for (size_t k = g->first[tr]; k < g->first[tr + 1] && g->e[k].to_ts <= to_ts; k++)
    if (g->e[k].to_ts == to_ts && g->e[k].kind == kind)
      return &g->e[k];
  return NULL;
}

/* The thread waited in ws just before t: the releaser's time, then the
 * wake-up. @return where the wait began (not before lo). */
static uint64_t on_wait(walk *w, uint32_t tr, const vx_slice *ws, uint64_t t, uint64_t lo,
                        const cr_arrival *via, unsigned depth) {
  const vx_info *in = info_of(w->x, ws);
  uint64_t a = max64(ws->start, lo), end = ws->start + ws->dur;
  const cr_edge *e = edge_at(w->g, tr, end, VX_FLOW_WAKE);
  uint32_t from = e ? e->from : in->waker;
  if (from == NONE || from == tr || from >= vx_track_count(w->x)) {
    cr_segment *s = push(w, tr, CR_LOCK, a, t, via);
    if (s) {
      s->nr = in->nr;
      s->object = in->arg;
    }
    w->p->missing_edges++;
    return a;
  }
  uint64_t r = e ? e->from_ts : end;
  r = r < a ? a : r > t ? t : r;
  push(w, tr, CR_WOKEN, r, t, via);
  cr_arrival next = {CR_VIA_RELEASE, tr, in->nr, in->arg, e != NULL};
  walk_thread(w, from, r, a, &next, depth + 1);
  return a;
}

/* The end of the latest region of the target task on another thread in
 * (lo, t], or 0. */
static uint64_t task_before(const walk *w, uint32_t tr, uint64_t lo, uint64_t t, uint32_t *on) {
  uint64_t best = 0;
  for (size_t i = 0; i < w->ntreg; i++) {
    uint64_t e = w->treg[i].start + w->treg[i].dur;
    if (w->treg[i].track != tr && e > lo && e <= t && e > best) {
      best = e;
      *on = w->treg[i].track;
    }
  }
  return best;
}

/* The thread was in no region over [g, t) and nothing says what it did:
 * the arrow that the work after it received, or the task's previous
 * region elsewhere, explains it. @return g. */
static uint64_t on_gap(walk *w, uint32_t tr, uint64_t g, uint64_t t, const cr_arrival *via,
                       unsigned depth) {
  const vx_track *trk = vx_track_get(w->x, tr);
  /* The work after the gap: the outermost region starting at t (an arrow
   * it received from inside it counts), else the instant t. */
  uint64_t limit = t;
  if (trk->depths) {
    size_t i = vx_slice_lower(trk->depth[0], trk->ndepth[0], t);
    if (i < trk->ndepth[0] && trk->depth[0][i].start == t)
      limit = t + trk->depth[0][i].dur;
  }
  const cr_edge *e = NULL;
  for (size_t k = w->g->first[tr]; k < w->g->first[tr + 1]; k++) {
    const cr_edge *c = &w->g->e[k];
    if (c->to_ts < g || c->kind == VX_FLOW_WAKE)
      continue;
    if (c->to_ts > limit)
      break;
    e = c; /* the first to arrive */
    break;
  }
  if (e && e->from_ts > g && e->from_ts < t) {
    static const uint8_t via_of[] = {[VX_FLOW_USER] = CR_VIA_FLOW,
                                     [VX_FLOW_THREAD] = CR_VIA_CREATE,
                                     [VX_FLOW_UNBLOCK] = CR_VIA_UNBLOCK};
    push(w, tr, CR_WOKEN, e->from_ts, t, via);
    cr_arrival next = {via_of[e->kind < 4 ? e->kind : 0], tr, 0, 0, 1};
    walk_thread(w, e->from, e->from_ts, g, &next, depth + 1);
    return g;
  }
  uint32_t on = NONE;
  uint64_t te = w->target->task ? task_before(w, tr, g, t, &on) : 0;
  if (te) {
    push(w, tr, CR_WOKEN, te, t, via);
    cr_arrival next = {CR_VIA_TASK, tr, 0, 0, 1};
    walk_thread(w, on, te, g, &next, depth + 1);
    return g;
  }
  push(w, tr, CR_IDLE, g, t, via);
  return g;
}

static uint8_t state_of(uint8_t vx) {
  switch (vx) {
  case VX_ST_RUNNING: return CR_RUNNING;
  case VX_ST_RUNNABLE: return CR_RUNNABLE;
  case VX_ST_SYSCALL: return CR_SYSCALL;
  case VX_ST_SLEEP: return CR_SLEEP;
  case VX_ST_LOCK: return CR_LOCK;
  default: return CR_BLOCKED;
  }
}

/* Attributes [lo, hi) of thread tr, walking back from hi. */
static void walk_thread(walk *w, uint32_t tr, uint64_t hi, uint64_t lo, const cr_arrival *via,
                        unsigned depth) {
  const vx_track *t = vx_track_get(w->x, tr);
  uint64_t ts = hi;
  while (ts > lo && !w->oom) {
    if (depth > CR_MAX_DEPTH || w->p->n >= CR_MAX_SEGS) {
      push(w, tr, CR_CUT, lo, ts, via);
      w->p->cut++;
      return;
    }
    const vx_slice *ws = wait_before(w->x, t, ts);
    if (ws) {
      ts = on_wait(w, tr, ws, ts, lo, via, depth);
      continue;
    }
    uint64_t a = segment_start(t, ts, lo);
    const vx_state *st = state_before(t, ts);
    if (st) {
      cr_segment *s = push(w, tr, state_of(st->state), a, ts, via);
      if (s && s->state == CR_RUNNABLE)
        who_ran(w->x, tr, a, ts, s->ran);
      if (s && s->state == CR_SYSCALL) {
        const vx_info *in = syscall_before(w->x, t, ts);
        s->nr = in ? in->nr : NONE;
      }
      ts = a;
    } else if (region_before(w->x, t, ts) != NONE) {
      push(w, tr, CR_UNKNOWN, a, ts, via);
      ts = a;
    } else {
      ts = on_gap(w, tr, a, ts, via, depth);
    }
  }
}

/* Joins neighbours that say the same (a run of slices under one region). */
static void merge(cr_path *p) {
  size_t o = 0;
  for (size_t i = 0; i < p->n; i++) {
    cr_segment *s = &p->seg[i], *q = o ? &p->seg[o - 1] : NULL;
    if (q && q->track == s->track && q->state == s->state && q->region == s->region &&
        q->via == s->via && q->to == s->to && q->nr == s->nr && q->object == s->object &&
        q->start + q->dur == s->start && s->state != CR_RUNNABLE) {
      q->dur += s->dur;
      continue;
    }
    p->seg[o++] = *s;
  }
  p->n = o;
}

int cr_walk(const cr_graph *g, const cr_target *t, cr_path *p) {
  memset(p, 0, sizeof *p);
  walk w = {.g = g, .x = g->x, .p = p, .target = t};
  vx_task_region *mine = NULL;
  if (t->task) {
    size_t n;
    const vx_task_region *all = vx_task_regions(g->x, &n);
    if (n && !(mine = malloc(n * sizeof *mine)))
      return -1;
    for (size_t i = 0; i < n; i++)
      if (all[i].task == t->task)
        mine[w.ntreg++] = all[i];
    w.treg = mine;
  }
  cr_arrival own = {CR_VIA_TARGET, NONE, NONE, 0, 0};
  walk_thread(&w, t->track, t->start + t->dur, t->start, &own, 0);
  free(mine);
  if (w.oom) {
    cr_path_free(p);
    return -1;
  }
  for (size_t i = 0, j = p->n; i + 1 < j; i++, j--) { /* walked back: time order */
    cr_segment s = p->seg[i];
    p->seg[i] = p->seg[j - 1];
    p->seg[j - 1] = s;
  }
  merge(p);
  p->sched = g->sched[t->track];
  return 0;
}

void cr_path_free(cr_path *p) {
  free(p->seg);
  memset(p, 0, sizeof *p);
}

/* ---- Targets ------------------------------------------------------------------------ */

static int target_cmp(const void *a, const void *b) {
  const cr_target *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

long cr_find_region(const vx_index *x, const char *name, cr_target **out) {
  size_t n = 0, cap = 0;
  cr_target *r = NULL;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD)
      continue;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t k = 0; k < t->ndepth[d]; k++) {
        const vx_slice *s = &t->depth[d][k];
        const vx_label *l = vx_label_get(x, s->label);
        if (s->args == UINT32_MAX /* unfinished */ || info_of(x, s) || !l || !l->name ||
            strcmp(l->name, name) != 0)
          continue;
        if (n == cap) {
          cap = cap ? 2 * cap : 16;
          cr_target *m = realloc(r, cap * sizeof *m);
          if (!m) {
            free(r);
            return -1;
          }
          r = m;
        }
        r[n++] = cr_slice_target((uint32_t)i, s);
      }
  }
  if (n)
    qsort(r, n, sizeof *r, target_cmp);
  *out = r;
  return (long)n;
}

cr_target cr_task_target(const vx_index *x, const vx_task *k) {
  uint64_t end = k->end == UINT64_MAX ? vx_t1(x) : k->end;
  uint32_t on = k->end_thread != UINT32_MAX ? k->end_thread : k->thread;
  return (cr_target){on, k->label, k->start, end > k->start ? end - k->start : 0, k->id};
}

cr_target cr_slice_target(uint32_t tr, const vx_slice *s) {
  return (cr_target){tr, s->label, s->start, s->dur, 0};
}

int cr_find_task(const vx_index *x, uint64_t id, cr_target *t, char *err, size_t errlen) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *tr = vx_track_get(x, i);
    if (tr->kind != VX_TASKS)
      continue;
    for (size_t k = 0; k < tr->ntasks; k++)
      if (tr->tasks[k].id == id) {
        *t = cr_task_target(x, &tr->tasks[k]);
        return 0;
      }
  }
  vx_errf(err, errlen, "no task %llu in the traces", (unsigned long long)id);
  return -1;
}

/* ---- Folding ------------------------------------------------------------------------ */

int cr_fold_add(const cr_path *p, cr_fold_row **rows, size_t *n) {
  for (size_t i = 0; i < p->n; i++) {
    const cr_segment *s = &p->seg[i];
    size_t k = 0;
    while (k < *n && ((*rows)[k].track != s->track || (*rows)[k].region != s->region))
      k++;
    if (k == *n) {
      cr_fold_row *m = realloc(*rows, (*n + 1) * sizeof *m);
      if (!m)
        return -1;
      *rows = m;
      m[(*n)++] = (cr_fold_row){s->track, s->region, 0};
    }
    (*rows)[k].dur += s->dur;
  }
  return 0;
}

static int fold_cmp(const void *a, const void *b) {
  const cr_fold_row *x = a, *y = b;
  if (x->dur != y->dur)
    return x->dur > y->dur ? -1 : 1;
  if (x->track != y->track)
    return x->track < y->track ? -1 : 1;
  return x->region < y->region ? -1 : x->region > y->region;
}

void cr_fold_sort(cr_fold_row *rows, size_t n) {
  if (n)
    qsort(rows, n, sizeof *rows, fold_cmp);
}
