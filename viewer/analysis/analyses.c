/* The analyses of `ctrace stats` beyond regions, waits and syscalls
 * (analysis.h): tasks, user-level work items (the goroutine analysis), the
 * minimum mutator utilization curve of the GC-like phases, and the heap
 * over time with the regions that allocated most. Each reads the index
 * once for the window [w0, w1) and the selected threads; durations are
 * clipped to it (w1 is at most the trace's end), and a point at the
 * trace's very end belongs to a window reaching it. */
#define _GNU_SOURCE
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "analysis.h"
#include "quantile.h"

static uint64_t clip2(uint64_t w0, uint64_t w1, uint64_t s, uint64_t e) {
  return st_clip(&(st_window){w0, w1}, s, e);
}

static int point_in(const st_report *r, uint64_t w0, uint64_t w1, uint64_t ts) {
  return ts >= w0 && (ts < w1 || (ts == w1 && w1 == r->trace_t1));
}

/* Rows of one name (a name may have several labels: one per call site or
 * per trace file): name -> row index + 1, probing past hash clashes. */
typedef struct by_name {
  vh_map map;
} by_name;

static uint64_t name_hash(const char *s, uint64_t salt) {
  return ctrace__fnv1a(s, strlen(s), salt);
}

/* The row of name among rows[0..n) (each row's name at offset `off` of a
 * `size`-byte struct), or 0 if none yet; *key gets the key to put it at. */
static uint32_t row_of(by_name *b, const void *rows, size_t size, size_t off, const char *name,
                       uint64_t *key) {
  uint64_t k = name_hash(name, 0);
  uint32_t *v;
  for (uint64_t salt = 1; (v = vh_get(&b->map, k)); salt++) {
    const char *have = *(const char *const *)((const char *)rows + (*v - 1) * size + off);
    if (!strcmp(have, name))
      return *v;
    k = name_hash(name, salt);
  }
  *key = k;
  return 0;
}

static int picked(const vx_track *t, const st_options *o) {
  return t->kind == VX_THREAD && (!o->thread || strcmp(t->name, o->thread) == 0);
}

/* First state whose end is after a: a band's states do not overlap, so
 * their ends are sorted as their starts are. */
static size_t state_lower(const vx_track *t, uint64_t a) {
  size_t lo = 0, hi = t->nstates;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->states[mid].end <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void st__state_split(const vx_track *t, uint64_t a, uint64_t b, uint64_t out[VX_ST_COUNT_]) {
  uint64_t known = 0;
  for (size_t i = state_lower(t, a); i < t->nstates && t->states[i].start < b; i++) {
    const vx_state *s = &t->states[i];
    uint64_t d = clip2(a, b, s->start, s->end);
    if (s->state < VX_ST_COUNT_ && d) {
      out[s->state] += d;
      known += d;
    }
  }
  out[0] += b > a && b - a > known ? b - a - known : 0;
}

/* ---- Tasks ------------------------------------------------------------------------- */

typedef struct task_ref {
  const vx_task *task;
  const vx_track *track; /* the process's task track */
  uint64_t dur;
  uint32_t group;
} task_ref;

static int cmp_ref_dur(const void *a, const void *b) {
  const task_ref *x = a, *y = b;
  if (x->dur != y->dur)
    return x->dur > y->dur ? -1 : 1;
  return x->task->id < y->task->id ? -1 : x->task->id > y->task->id;
}

static int cmp_group(const void *a, const void *b) {
  const st_task_group *x = a, *y = b;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  return strcmp(x->name, y->name);
}

static const char *track_name(const vx_index *x, uint32_t i) {
  return i < vx_track_count(x) ? vx_track_get(x, i)->name : NULL;
}

static uint64_t task_key(uint64_t id, int pid) {
  uint64_t h = (id ^ ((uint64_t)(uint32_t)pid << 40)) * 0x9e3779b97f4a7c15ull;
  return (h ^ (h >> 31)) | 1;
}

static int cmp_log(const void *a, const void *b) {
  const st_log *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_task_region(const void *a, const void *b) {
  const st_task_region *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* The thread a task began on is selected (always, without --thread). */
static int task_picked(const vx_index *x, const vx_task *k, const st_options *o) {
  if (!o->thread)
    return 1;
  const char *n = track_name(x, k->thread);
  return n && !strcmp(n, o->thread);
}

/* What the steps of st__tasks share. */
typedef struct tasks_pass {
  const vx_index *x;
  const st_options *o;
  uint64_t w0, w1;
  st_report *r;
  task_ref *refs; /* the tasks of the selection in the window */
  size_t n, cap;
  vh_map ids; /* hash(id, pid) -> ref index + 1 */
} tasks_pass;

/* The tasks in the window into refs, each counted in the group of its
 * name (r->task_groups). @return 0, or -1 when out of memory. */
static int collect_tasks(tasks_pass *p) {
  const vx_index *x = p->x;
  st_report *r = p->r;
  uint64_t w0 = p->w0, w1 = p->w1;
  by_name names = {{0}};
  size_t gcap = 0;
  int ok = 1;
  for (size_t i = 0; ok && i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_TASKS)
      continue;
    for (size_t j = 0; ok && j < t->ntasks && t->tasks[j].start <= w1; j++) {
      const vx_task *k = &t->tasks[j];
      uint64_t end = k->end == UINT64_MAX || k->end > w1 ? w1 : k->end;
      if (!(k->start < end ? end > w0 : point_in(r, w0, w1, k->start)) || !task_picked(x, k, p->o))
        continue;
      const char *name = vx_label_get(x, k->label)->name;
      uint64_t key = 0;
      uint32_t g = row_of(&names, r->task_groups, sizeof *r->task_groups,
                          offsetof(st_task_group, name), name, &key);
      if (!g) {
        st_task_group *q = VH_PUSH(r->task_groups, r->ntask_groups, gcap);
        ok = q && !vh_put(&names.map, key, (uint32_t)r->ntask_groups);
        if (!ok)
          break;
        memset(q, 0, sizeof *q);
        q->name = name;
        q->min = UINT64_MAX;
        g = (uint32_t)r->ntask_groups;
      }
      task_ref *ref = VH_PUSH(p->refs, p->n, p->cap);
      if (!(ok = ref != NULL))
        break;
      *ref = (task_ref){k, t, clip2(w0, w1, k->start, end), g - 1};
      st_task_group *q = &r->task_groups[g - 1];
      q->count++;
      q->unfinished += k->end == UINT64_MAX;
      q->total += ref->dur;
      q->min = ref->dur < q->min ? ref->dur : q->min;
      q->max = ref->dur > q->max ? ref->dur : q->max;
    }
  }
  vh_free(&names.map);
  return ok ? 0 : -1;
}

/* Percentiles per group: exact up to QT_EXACT_MAX tasks, estimated beyond
 * (quantile.h). @return 0, or -1 when out of memory. */
static int group_percentiles(tasks_pass *p) {
  st_report *r = p->r;
  qt_dist *d = calloc(r->ntask_groups, sizeof *d);
  int ok = d != NULL;
  for (size_t i = 0; ok && i < p->n; i++)
    ok = qt_dist_add(&d[p->refs[i].group], p->refs[i].dur) == 0;
  for (size_t g = 0; ok && g < r->ntask_groups; g++) {
    st_task_group *q = &r->task_groups[g];
    q->p50 = qt_dist_percentile(&d[g], 50);
    q->p90 = qt_dist_percentile(&d[g], 90);
    q->p99 = qt_dist_percentile(&d[g], 99);
    q->estimated = qt_dist_estimated(&d[g]);
  }
  for (size_t g = 0; d && g < r->ntask_groups; g++)
    qt_dist_free(&d[g]);
  free(d);
  return ok ? 0 : -1;
}

/* refs longest first; the first ST_TASKS of them become r->tasks, and
 * every ref is found by its (id, pid) in ids. @return 0, or -1 when out of
 * memory. */
static int keep_longest(tasks_pass *p) {
  const vx_index *x = p->x;
  st_report *r = p->r;
  qsort(p->refs, p->n, sizeof *p->refs, cmp_ref_dur);
  size_t keep = p->n < ST_TASKS ? p->n : ST_TASKS;
  if (!(r->tasks = calloc(keep, sizeof *r->tasks)))
    return -1;
  for (size_t i = 0; i < keep; i++) {
    const vx_task *k = p->refs[i].task;
    st_task *s = &r->tasks[r->ntasks++];
    s->task = k;
    s->name = vx_label_get(x, k->label)->name;
    s->thread = track_name(x, k->thread);
    s->end_thread = track_name(x, k->end_thread);
    s->dur = p->refs[i].dur;
  }
  for (size_t i = 0; i < p->n; i++)
    if (vh_put(&p->ids, task_key(p->refs[i].task->id, p->refs[i].track->pid), (uint32_t)i + 1))
      return -1;
  return 0;
}

/* The ref of task `id` of process pid, or NULL when it is not one of the
 * selection in the window (or on a rare hash clash); *idx gets its index. */
static const task_ref *ref_of(tasks_pass *p, uint64_t id, int pid, size_t *idx) {
  uint32_t *v = vh_get(&p->ids, task_key(id, pid));
  const task_ref *ref = v ? &p->refs[*v - 1] : NULL;
  if (!ref || ref->task->id != id || ref->track->pid != pid)
    return NULL;
  *idx = *v - 1;
  return ref;
}

/* Logs in the window: counted per task name, kept for the longest
 * (refs are now longest first: the first ntasks are r->tasks). @return 0,
 * or -1 when out of memory. */
static int task_logs(tasks_pass *p) {
  const vx_index *x = p->x;
  st_report *r = p->r;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD)
      continue;
    for (size_t j = 0; j < t->ninst; j++) {
      const vx_instant *in = &t->inst[j];
      if (!point_in(r, p->w0, p->w1, in->ts) || !in->extra ||
          strcmp(vx_label_get(x, in->label)->cat, "log"))
        continue;
      uint64_t task = 0;
      const char *msg = vx_log_message(x, in->extra, &task);
      if (!msg || !task)
        continue;
      size_t idx;
      const task_ref *ref = ref_of(p, task, t->pid, &idx);
      if (!ref)
        continue; /* not a task of the selection in the window (or a rare hash clash) */
      r->task_groups[ref->group].logs++;
      if (idx < r->ntasks) {
        st_task *k = &r->tasks[idx];
        st_log *l = realloc(k->logs, (k->nlogs + 1) * sizeof *l);
        if (!l)
          return -1;
        k->logs = l;
        l[k->nlogs++] = (st_log){in->ts, vx_label_get(x, in->label)->name, msg};
      }
    }
  }
  return 0;
}

/* Regions under the tasks (ctrace_task_switch). @return 0, or -1 when out
 * of memory. */
static int task_regions(tasks_pass *p) {
  const vx_index *x = p->x;
  st_report *r = p->r;
  size_t ntr;
  const vx_task_region *tr = vx_task_regions(x, &ntr);
  for (size_t i = 0; i < ntr; i++) {
    uint64_t d = clip2(p->w0, p->w1, tr[i].start, tr[i].start + tr[i].dur);
    if (!d && !(tr[i].dur == 0 && point_in(r, p->w0, p->w1, tr[i].start)))
      continue;
    size_t idx;
    const task_ref *ref = ref_of(p, tr[i].task, tr[i].pid, &idx);
    if (!ref)
      continue;
    r->task_groups[ref->group].regions++;
    r->task_groups[ref->group].region_time += d;
    if (idx >= r->ntasks)
      continue;
    st_task *k = &r->tasks[idx];
    k->regions_total++;
    st_task_region *g = realloc(k->regions, (k->nregions + 1) * sizeof *g);
    if (!g)
      return -1;
    k->regions = g;
    g[k->nregions++] = (st_task_region){vx_label_get(x, tr[i].label)->name,
                                        track_name(x, tr[i].track), tr[i].start, d};
  }
  return 0;
}

/* The longest tasks' logs and regions in time order (the first
 * ST_TASK_REGIONS regions kept), the groups by total time. */
void st__sort_tasks(st_report *r) {
  for (size_t i = 0; i < r->ntasks; i++) {
    st_task *p = &r->tasks[i];
    if (p->nlogs > 1) /* gathered thread by thread: in time order */
      qsort(p->logs, p->nlogs, sizeof *p->logs, cmp_log);
    if (p->nregions > 1)
      qsort(p->regions, p->nregions, sizeof *p->regions, cmp_task_region);
    if (p->nregions > ST_TASK_REGIONS)
      p->nregions = ST_TASK_REGIONS;
  }
  if (r->ntask_groups > 1)
    qsort(r->task_groups, r->ntask_groups, sizeof *r->task_groups, cmp_group);
}

int st__tasks(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r) {
  tasks_pass p = {.x = x, .o = o, .w0 = w0, .w1 = w1, .r = r};
  int ok = collect_tasks(&p) == 0;
  if (ok && p.n)
    ok = group_percentiles(&p) == 0 && keep_longest(&p) == 0 && task_logs(&p) == 0 &&
         task_regions(&p) == 0;
  vh_free(&p.ids);
  free(p.refs);
  if (ok)
    st__sort_tasks(r);
  return ok ? 0 : -1;
}

/* ---- Work items ------------------------------------------------------------------------ */

static int cmp_item(const void *a, const void *b) {
  const st_item *x = a, *y = b;
  if (x->run != y->run)
    return x->run > y->run ? -1 : 1;
  return strcmp(x->name, y->name);
}

/* The run of t starting exactly at ts, or NULL (runs are sorted). */
static const vx_slice *run_at(const vx_track *t, uint64_t ts) {
  size_t lo = 0, hi = t->nruns;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->runs[mid].start < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < t->nruns && t->runs[lo].start == ts ? &t->runs[lo] : NULL;
}

int st__items(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r) {
  size_t nt = vx_track_count(x), cap = 0;
  by_name by = {{0}};
  int ok = 1;
  for (size_t i = 0; ok && i < nt; i++) {
    const vx_track *t = vx_track_get(x, i);
    if (!picked(t, o))
      continue;
    for (size_t j = 0; ok && j < t->nruns; j++) {
      const vx_slice *s = &t->runs[j];
      uint64_t e = s->start + s->dur;
      if (s->start > w1)
        break;
      if (!(s->dur ? e > w0 && s->start < w1 : point_in(r, w0, w1, s->start)))
        continue;
      const char *name = vx_label_get(x, s->label)->name;
      uint64_t key = 0;
      uint32_t v = row_of(&by, r->items, sizeof *r->items, offsetof(st_item, name), name, &key);
      if (!v) {
        st_item *p = VH_PUSH(r->items, r->nitems, cap);
        ok = p && !vh_put(&by.map, key, (uint32_t)r->nitems);
        if (!ok)
          break;
        memset(p, 0, sizeof *p);
        p->label = s->label;
        p->name = name;
        v = (uint32_t)r->nitems;
      }
      st_item *p = &r->items[v - 1];
      uint64_t a = s->start > w0 ? s->start : w0, b = e < w1 ? e : w1;
      p->runs++;
      p->run += b > a ? b - a : 0;
      if (b > a)
        st__state_split(t, a, b, p->state);
    }
  }
  /* Unblock -> run arrows: the wait before a run (SCHED_UNBLOCK's flow
   * ends exactly where the item's next run starts). */
  size_t nf;
  const vx_flow *f = vx_flows(x, &nf);
  for (size_t i = 0; ok && r->nitems && i < nf; i++) {
    if (f[i].kind != VX_FLOW_UNBLOCK || f[i].to_track >= nt || f[i].to_ts < f[i].from_ts)
      continue;
    const vx_track *t = vx_track_get(x, f[i].to_track);
    if (!picked(t, o) || !t->nruns)
      continue;
    const vx_slice *s = run_at(t, f[i].to_ts);
    uint64_t key;
    uint32_t v = s ? row_of(&by, r->items, sizeof *r->items, offsetof(st_item, name),
                            vx_label_get(x, s->label)->name, &key)
                   : 0;
    uint64_t d = clip2(w0, w1, f[i].from_ts, f[i].to_ts);
    if (v && (d || point_in(r, w0, w1, f[i].to_ts))) {
      r->items[v - 1].wait += d;
      r->items[v - 1].waits++;
    }
  }
  vh_free(&by.map);
  if (ok && r->nitems > 1)
    qsort(r->items, r->nitems, sizeof *r->items, cmp_item);
  return ok ? 0 : -1;
}

/* ---- Minimum mutator utilization ------------------------------------------------------- */

typedef struct edge {
  uint64_t ts;
  int dg; /* +1 a phase starts, -1 one ends */
  int dp; /* +1 a thread starts, -1 one ends */
} edge;

typedef struct gc_span {
  uint64_t a, b;
} gc_span;

static int cmp_edge(const void *a, const void *b) {
  const edge *x = a, *y = b;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return (x->dg + x->dp) - (y->dg + y->dp); /* ends before starts at one instant */
}

static int cmp_span(const void *a, const void *b) {
  const gc_span *x = a, *y = b;
  return x->a < y->a ? -1 : x->a > y->a;
}

/* The utilization as steps: from ts[i] to ts[i+1] it is u[i]; cum[i] is
 * its integral from ts[0] to ts[i]. */
typedef struct steps {
  uint64_t *ts;
  double *u, *cum;
  size_t n; /* breakpoints, ts[0] = w0 ... ts[n-1] = w1 */
} steps;

/* The integral up to t, moving *k forward (t never decreases between calls
 * with the same k). */
static double cum_at(const steps *s, size_t *k, uint64_t t) {
  while (*k + 1 < s->n && s->ts[*k + 1] <= t)
    (*k)++;
  return s->cum[*k] + s->u[*k] * (double)(t - s->ts[*k]);
}

/* Least mean utilization over windows of width w in [ts[0], ts[n-1]]: the
 * integral over a sliding window is piecewise linear in its start, so its
 * minimum lies where the start or the end meets a breakpoint. */
static double mmu_for(const steps *s, uint64_t w) {
  uint64_t lo = s->ts[0], hi = s->ts[s->n - 1] - w;
  double best = INFINITY;
  for (int pass = 0; pass < 2; pass++) {
    size_t ka = 0, kb = 0;
    for (size_t i = 0; i < s->n; i++) {
      uint64_t st = pass == 0 ? s->ts[i] : s->ts[i] >= lo + w ? s->ts[i] - w : lo;
      if (st > hi)
        break;
      double m = cum_at(s, &kb, st + w) - cum_at(s, &ka, st);
      if (m < best)
        best = m;
    }
  }
  double v = round(best / (double)w * 1e12) / 1e12; /* without the sums' rounding noise */
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/* From a thread's first to its last event (of any kind). @return 0 if it
 * has none. */
static int thread_span(const vx_track *t, uint64_t *a, uint64_t *b) {
  uint64_t lo = UINT64_MAX, hi = 0;
#define SPAN(s, e) \
  do {             \
    if ((s) < lo)  \
      lo = (s);    \
    if ((e) > hi)  \
      hi = (e);    \
  } while (0)
  if (t->depths && t->ndepth[0]) /* depth 0 holds the others; its ends are sorted */
    SPAN(t->depth[0][0].start,
         t->depth[0][t->ndepth[0] - 1].start + t->depth[0][t->ndepth[0] - 1].dur);
  for (size_t i = 0; i < t->ninst; i++)
    SPAN(t->inst[i].ts, t->inst[i].ts);
  if (t->nstates)
    SPAN(t->states[0].start, t->states[t->nstates - 1].end);
  if (t->nruns)
    SPAN(t->runs[0].start, t->runs[t->nruns - 1].start + t->runs[t->nruns - 1].dur);
  if (t->nallocs)
    SPAN(t->allocs[0].ts, t->allocs[t->nallocs - 1].ts);
#undef SPAN
  *a = lo;
  *b = hi;
  return lo <= hi;
}

/* What the steps of st__mmu share. */
typedef struct mmu_pass {
  const vx_index *x;
  const st_options *o;
  uint64_t w0, w1;
  uint8_t *gc; /* per label: of cat "gc" */
  gc_span *sp; /* one thread's phases in the window */
  size_t csp;
  edge *e; /* where the phases and the threads of P start and end */
  size_t ne, ce;
  uint64_t phases, gctime;
  unsigned threads;
  vh_map gc_pids; /* pid + 1 of the threads with phases */
} mmu_pass;

/* The phases of thread t in the window as edges. @return 0, or -1 when out
 * of memory. */
static int thread_phases(mmu_pass *m, const vx_track *t) {
  size_t nsp = 0;
  for (size_t d = 0; d < t->depths; d++)
    for (size_t j = vx_slice_lower(t->depth[d], t->ndepth[d], m->w0);
         j < t->ndepth[d] && t->depth[d][j].start < m->w1; j++) {
      const vx_slice *s = &t->depth[d][j];
      if (!m->gc[s->label] || !clip2(m->w0, m->w1, s->start, s->start + s->dur))
        continue;
      gc_span *p = VH_PUSH(m->sp, nsp, m->csp);
      if (!p)
        return -1;
      p->a = s->start > m->w0 ? s->start : m->w0;
      p->b = s->start + s->dur < m->w1 ? s->start + s->dur : m->w1;
    }
  if (!nsp)
    return 0;
  if (vh_put(&m->gc_pids, (uint64_t)(uint32_t)t->pid + 1, 1))
    return -1;
  gc_span *sp = m->sp;
  qsort(sp, nsp, sizeof *sp, cmp_span);
  /* nested phases on one thread count once */
  for (size_t j = 0; j < nsp;) {
    uint64_t a = sp[j].a, b = sp[j].b;
    for (j++; j < nsp && sp[j].a <= b; j++)
      b = sp[j].b > b ? sp[j].b : b;
    edge *p = VH_PUSH(m->e, m->ne, m->ce), *q = p ? VH_PUSH(m->e, m->ne, m->ce) : NULL;
    if (!q)
      return -1;
    p = &m->e[m->ne - 2];
    *p = (edge){a, +1, 0};
    *q = (edge){b, -1, 0};
    m->phases++;
    m->gctime += b - a;
  }
  return 0;
}

/* The phases of the selected threads, from the slices of cat "gc".
 * @return 0, or -1 when out of memory. */
static int phase_edges(mmu_pass *m) {
  size_t nl = vx_label_count(m->x);
  if (!(m->gc = calloc(nl ? nl : 1, 1)))
    return -1;
  int any = 0, ok = 1;
  for (size_t l = 0; l < nl; l++)
    any |= m->gc[l] = !strcmp(vx_label_get(m->x, (uint32_t)l)->cat, "gc");
  for (size_t i = 0; any && ok && i < vx_track_count(m->x); i++) {
    const vx_track *t = vx_track_get(m->x, i);
    if (picked(t, m->o))
      ok = thread_phases(m, t) == 0;
  }
  free(m->sp);
  free(m->gc);
  return ok ? 0 : -1;
}

/* P: the threads of those processes alive at each instant. @return 0, or
 * -1 when out of memory. */
static int thread_edges(mmu_pass *m) {
  for (size_t i = 0; i < vx_track_count(m->x); i++) {
    const vx_track *t = vx_track_get(m->x, i);
    uint64_t a, b;
    if (!picked(t, m->o) || !vh_get(&m->gc_pids, (uint64_t)(uint32_t)t->pid + 1) ||
        !thread_span(t, &a, &b))
      continue;
    a = a > m->w0 ? a : m->w0;
    b = b < m->w1 ? b : m->w1;
    if (b <= a)
      continue;
    edge *p = VH_PUSH(m->e, m->ne, m->ce), *q = p ? VH_PUSH(m->e, m->ne, m->ce) : NULL;
    if (!q)
      return -1;
    m->e[m->ne - 2] = (edge){a, 0, +1};
    m->e[m->ne - 1] = (edge){b, 0, -1};
    m->threads++;
  }
  return 0;
}

/* The utilization steps of the sorted edges over [w0, w1] (s has room for
 * ne + 2 breakpoints). */
static void utilization(const mmu_pass *m, steps *s) {
  int g = 0, np = 0;
  s->ts[0] = m->w0;
  s->cum[0] = 0;
  s->n = 1;
  for (size_t i = 0; i <= m->ne; i++) {
    uint64_t ts = i < m->ne ? m->e[i].ts : m->w1;
    size_t k = s->n - 1;
    s->u[k] = np <= 0 ? 1.0 : (double)(np - (g < np ? g : np)) / (double)np;
    if (ts > s->ts[k]) {
      s->ts[s->n] = ts;
      s->cum[s->n] = s->cum[k] + s->u[k] * (double)(ts - s->ts[k]);
      s->n++;
    }
    if (i < m->ne) {
      g += m->e[i].dg;
      np += m->e[i].dp;
    }
  }
  s->u[s->n - 1] = 1;
}

/* The curve: widths of 1 us, then 4 per decade, up to the whole window.
 * @return 0, or -1 when out of memory. */
static int mmu_curve(st_mmu *mu, const steps *s, uint64_t w0, uint64_t w1) {
  uint64_t span = w1 - w0;
  size_t cap = 0;
  for (int k = 0;; k++) {
    double wd = round(1000.0 * pow(10.0, k / 4.0));
    uint64_t w = wd < (double)span ? (uint64_t)wd : span;
    st_mmu_point *p = VH_PUSH(mu->curve, mu->ncurve, cap);
    if (!p)
      return -1;
    p->window = w;
    p->mmu = mmu_for(s, w);
    if (w == span)
      return 0;
  }
}

int st__mmu(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r) {
  if (w1 <= w0)
    return 0;
  mmu_pass m = {.x = x, .o = o, .w0 = w0, .w1 = w1};
  int ok = phase_edges(&m) == 0;
  if (ok && m.ne)
    ok = thread_edges(&m) == 0;
  vh_free(&m.gc_pids);
  if (!ok || !m.ne) {
    free(m.e);
    return ok ? 0 : -1;
  }
  qsort(m.e, m.ne, sizeof *m.e, cmp_edge);
  size_t ne = m.ne;
  steps s = {malloc((ne + 2) * sizeof *s.ts), malloc((ne + 2) * sizeof *s.u),
             malloc((ne + 2) * sizeof *s.cum), 0};
  r->mmu = calloc(1, sizeof *r->mmu);
  ok = s.ts && s.u && s.cum && r->mmu;
  if (ok) {
    utilization(&m, &s);
    r->mmu->threads = m.threads;
    r->mmu->phases = m.phases;
    r->mmu->gc = m.gctime;
    ok = mmu_curve(r->mmu, &s, w0, w1) == 0;
  }
  free(s.ts);
  free(s.u);
  free(s.cum);
  free(m.e);
  return ok ? 0 : -1;
}

/* ---- Heap over time; who allocated ----------------------------------------------------- */

/* The value of a counter holding at t (its last sample at or before t),
 * moving *k forward; NAN before the first sample. */
static double value_at(const vx_track *c, size_t *k, uint64_t t) {
  while (*k < c->nsamples && c->samples[*k].ts <= t)
    (*k)++;
  return *k ? c->samples[*k - 1].value : NAN;
}

static const vx_track *counter_of(const vx_index *x, int pid, const char *name) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_COUNTER && t->pid == pid && !strcmp(t->name, name))
      return t;
  }
  return NULL;
}

int st__heap_series(const vx_index *x, uint64_t w0, uint64_t w1, st_report *r) {
  const st_heap *best = NULL;
  for (size_t i = 0; i < r->nheaps; i++)
    if (!best || r->heaps[i].peak > best->peak)
      best = &r->heaps[i];
  if (!best || w1 <= w0)
    return 0;
  st_heap_series *h = r->series = calloc(1, sizeof *h);
  if (!h)
    return -1;
  const vx_track *live = best->track;
  const vx_track *all = counter_of(x, live->pid, "heap allocated bytes");
  h->pid = live->pid;
  h->peak = best->peak;
  uint64_t span = w1 - w0, n = span < ST_SERIES ? span : ST_SERIES;
  size_t kl = 0, ka = 0, j = 0;
  double prev = all ? value_at(all, &ka, w0) : NAN;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t a = w0 + span * i / n, b = w0 + span * (i + 1) / n;
    /* the most live bytes in the step: the value holding at a, and every
     * sample inside */
    double v = value_at(live, &kl, a);
    while (j < live->nsamples && live->samples[j].ts <= a)
      j++;
    for (; j < live->nsamples && live->samples[j].ts < b; j++)
      if (isnan(v) || live->samples[j].value > v)
        v = live->samples[j].value;
    double now = all ? value_at(all, &ka, b) : NAN;
    h->ts[h->n] = a - w0;
    h->live[h->n] = v;
    h->rate[h->n] = isnan(prev) || isnan(now) ? NAN : (now - prev) * 1e9 / (double)(b - a);
    if (!isnan(now))
      prev = now;
    h->n++;
  }
  return 0;
}

static int cmp_alloc(const void *a, const void *b) {
  const st_alloc *x = a, *y = b;
  if (x->bytes != y->bytes)
    return x->bytes > y->bytes ? -1 : 1;
  return strcmp(x->name, y->name);
}

int st__allocs(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r) {
  size_t nt = vx_track_count(x), cap = 0;
  vh_map by = {0}; /* label + 2 (1: no region) -> index + 1 */
  int ok = 1;
  for (size_t i = 0; ok && i < nt; i++) {
    const vx_track *t = vx_track_get(x, i);
    if (!picked(t, o))
      continue;
    for (size_t j = 0; ok && j < t->nallocs; j++) {
      const vx_alloc *s = &t->allocs[j];
      if (!point_in(r, w0, w1, s->ts))
        continue;
      int64_t l = s->label == UINT32_MAX ? -1 : (int64_t)s->label;
      uint32_t *v = vh_get(&by, (uint64_t)(l + 2));
      if (!v) {
        st_alloc *p = VH_PUSH(r->allocs, r->nallocs, cap);
        ok = p && !vh_put(&by, (uint64_t)(l + 2), (uint32_t)r->nallocs);
        if (!ok)
          break;
        p->name = l < 0 ? "(no region)" : vx_label_get(x, (uint32_t)l)->name;
        p->bytes = 0;
        p->samples = 0;
        v = vh_get(&by, (uint64_t)(l + 2));
      }
      r->allocs[*v - 1].bytes += (double)s->bytes;
      r->allocs[*v - 1].samples++;
    }
  }
  vh_free(&by);
  /* labels of one name (call sites) make one row */
  if (ok && r->nallocs > 1) {
    size_t k = 0;
    for (size_t i = 0; i < r->nallocs; i++) {
      size_t j = 0;
      while (j < k && strcmp(r->allocs[j].name, r->allocs[i].name))
        j++;
      if (j < k) {
        r->allocs[j].bytes += r->allocs[i].bytes;
        r->allocs[j].samples += r->allocs[i].samples;
      } else {
        r->allocs[k++] = r->allocs[i];
      }
    }
    r->nallocs = k;
    qsort(r->allocs, r->nallocs, sizeof *r->allocs, cmp_alloc);
  }
  return ok ? 0 : -1;
}
