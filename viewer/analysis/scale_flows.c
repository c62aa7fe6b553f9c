/* The arrows of a window through the scale index (analysis.h:
 * vs_window_flows): every thread's batches that the window touches are
 * decoded (two workers over the threads), when they hold at most a given
 * number of events; the flow events met there (the program's flows,
 * creator -> new thread, unblock -> a work item's next run, a lock's
 * release -> the waiter's wake) are paired by
 * kind and id as the full index pairs them (an end goes with the latest
 * begin before it), each end with the depth of the region it is in. The
 * range decoded is widened around the window as far as the events allow,
 * so arrows with one end in the window are found; one whose other end
 * lies farther is not. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "scale_internal.h"

#define UNBLOCK_ID(id) ((1ull << 61) | (uint64_t)(id)) /* (as the reader's TE_UNBLOCK_ID) */

typedef struct fend {
  uint64_t id, ts;
  uint32_t thread;
  uint16_t depth; /* of the region it binds to (0xffff: none) */
  uint8_t kind;   /* VX_FLOW_* */
  uint8_t end;
} fend;

typedef struct fends {
  fend *e;
  size_t n, cap;
  int err;
} fends;

static void add_end(fends *f, uint64_t id, uint64_t ts, uint32_t th, uint16_t depth, int kind,
                    int end) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 256;
    fend *e = realloc(f->e, cap * sizeof *e);
    if (!e) {
      f->err = CTRACE_ENOMEM;
      return;
    }
    f->e = e;
    f->cap = cap;
  }
  f->e[f->n++] = (fend){id, ts, th, depth, (uint8_t)kind, (uint8_t)end};
}

/* Bound to the innermost open region, except the ends of thread starts
 * and work-item runs (the row itself, as the full index does). */
static uint16_t bind(size_t depth, int kind, int end) {
  return depth && (!end || kind == VX_FLOW_USER) ? (uint16_t)(depth - 1) : 0xffff;
}

/* The threads by serial (a WAIT names the thread that released it so). */
typedef struct serial_ix {
  uint32_t serial, thread;
} serial_ix;

static int cmp_serial(const void *a, const void *b) {
  const serial_ix *x = a, *y = b;
  return x->serial < y->serial ? -1 : x->serial > y->serial;
}

/* A wait released by another thread (`ctrace run`'s wrappers): an arrow
 * from the release, on the waker's row, to the wait's end, at the depth
 * of the wait's slice (as the full index's VX_FLOW_WAKE; its id is made
 * from the waiter and the time, not the full index's count). */
static void wake(vs_index *x, const serial_ix *ser, uint32_t ti, size_t depth, const rd_event *ev,
                 fends *f) {
  serial_ix key = {(uint32_t)ev->arg[3], 0};
  const serial_ix *w = ev->arg[3] ? bsearch(&key, ser, x->nthreads, sizeof *ser, cmp_serial) : NULL;
  if (!w || ev->arg[4] > ev->tick)
    return;
  uint64_t id = 1ull << 62 | ctrace__mix64(ti, ev->ts) >> 2;
  uint64_t release = rd_tick_to_ns(x->tr, ev->tick - ev->arg[4], NULL);
  add_end(f, id, release, w->thread, 0xffff, VX_FLOW_WAKE, 0);
  add_end(f, id, ev->ts, ti, (uint16_t)(depth < 0xfff0 ? depth : 0xfff0), VX_FLOW_WAKE, 1);
}

/* Thread ti's flow ends in [its first batch touching t0, t1]. */
static int thread_ends(vs_index *x, const serial_ix *ser, uint32_t ti, uint64_t t0, uint64_t t1,
                       fends *f) {
  const vs_thread *t = &x->threads[ti];
  size_t lo = vs__first_batch(t, t0);
  if (t->kernel || lo == t->nbatches)
    return 0;
  const vs_batch *b = &t->batches[lo];
  size_t depth = 0;
  for (uint32_t i = 0; i < b->npre; i++)
    depth += t->pre[b->pre + i].type != CTRACE_FMT_EV_TASK_SWITCH;
  rd_stream *s = rd_stream_open_at(x->tr, t->rd, lo, RD_STREAM_OWN);
  if (!s)
    return CTRACE_ENOMEM;
  rd_event ev;
  int r;
  while (!f->err && (r = rd_stream_next(s, &ev)) == 1 && ev.ts <= t1) {
    uint64_t a = ev.arg[0];
    switch (ev.type) {
    case CTRACE_FMT_EV_REGION_BEGIN:
    case CTRACE_FMT_EV_REGION_BEGIN_STR:
    case CTRACE_FMT_EV_GC_BEGIN: depth++; break;
    case CTRACE_FMT_EV_REGION_END:
    case CTRACE_FMT_EV_GC_END: depth -= depth > 0; break;
    case CTRACE_FMT_EV_FLOW_BEGIN:
    case CTRACE_FMT_EV_FLOW_END:
      add_end(f, a, ev.ts, ti, bind(depth, VX_FLOW_USER, ev.type == CTRACE_FMT_EV_FLOW_END),
              VX_FLOW_USER, ev.type == CTRACE_FMT_EV_FLOW_END);
      break;
    case CTRACE_FMT_EV_THREAD_CREATE:
    case CTRACE_FMT_EV_THREAD_START: {
      int end = ev.type == CTRACE_FMT_EV_THREAD_START;
      add_end(f, a, ev.ts, ti, bind(depth, VX_FLOW_THREAD, end), VX_FLOW_THREAD, end);
      break;
    }
    case CTRACE_FMT_EV_SCHED_UNBLOCK:
      add_end(f, UNBLOCK_ID(a), ev.ts, ti, bind(depth, VX_FLOW_UNBLOCK, 0), VX_FLOW_UNBLOCK, 0);
      break;
    case CTRACE_FMT_EV_SCHED_RUN:
      add_end(f, UNBLOCK_ID(a ? a : 1), ev.ts, ti, 0xffff, VX_FLOW_UNBLOCK, 1);
      break;
    case CTRACE_FMT_EV_WAIT: wake(x, ser, ti, depth, &ev, f); break;
    default: break;
    }
  }
  rd_stream_close(s);
  return f->err ? f->err : r < 0 ? r : 0;
}

typedef struct fpool {
  vs_index *x;
  serial_ix *ser;
  uint64_t t0, t1;
  fends *per; /* per thread */
  _Atomic size_t next;
  _Atomic int err;
} fpool;

static void *flows_worker(void *arg) {
  fpool *p = arg;
  for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->x->nthreads && !atomic_load(&p->err);) {
    int r = thread_ends(p->x, p->ser, (uint32_t)i, p->t0, p->t1, &p->per[i]);
    if (r)
      atomic_store(&p->err, r);
  }
  return NULL;
}

static int cmp_end(const void *a, const void *b) {
  const fend *x = a, *y = b;
  if (x->kind != y->kind)
    return x->kind < y->kind ? -1 : 1;
  if (x->id != y->id)
    return x->id < y->id ? -1 : 1;
  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1; /* (a begin before an end at the same ns) */
  return x->thread < y->thread ? -1 : x->thread > y->thread;
}

static int cmp_flow(const void *a, const void *b) {
  const vx_flow *x = a, *y = b;
  return x->from_ts < y->from_ts ? -1 : x->from_ts > y->from_ts;
}

/* Per kind and id, in time order: an end makes an arrow from the latest
 * begin still waiting. Sorted by their starts. */
static int pair_ends(fend *e, size_t n, vx_flow **out, size_t *nout) {
  qsort(e, n, sizeof *e, cmp_end);
  vx_flow *fl = malloc((n / 2 + 1) * sizeof *fl);
  if (!fl)
    return CTRACE_ENOMEM;
  size_t k = 0;
  const fend *wait = NULL;
  for (size_t i = 0; i < n; i++) {
    if (wait && (wait->kind != e[i].kind || wait->id != e[i].id))
      wait = NULL;
    if (!e[i].end) {
      wait = &e[i];
      continue;
    }
    if (!wait)
      continue;
    memset(&fl[k], 0, sizeof fl[k]);
    fl[k++] = (vx_flow){wait->id,    wait->ts,    e[i].ts,    wait->thread,
                        e[i].thread, wait->depth, e[i].depth, wait->kind};
    wait = NULL;
  }
  qsort(fl, k, sizeof *fl, cmp_flow);
  *out = fl;
  *nout = k;
  return 0;
}

uint64_t vs_window_events(vs_index *x, uint64_t t0, uint64_t t1, uint64_t enough) {
  uint64_t n = 0;
  for (size_t i = 0; i < x->nthreads && n <= enough; i++) {
    const vs_thread *t = &x->threads[i];
    for (size_t k = vs__first_batch(t, t0); !t->kernel && k < t->nbatches && n <= enough; k++) {
      if (t->batches[k].first > t1)
        break;
      n += t->batches[k].events;
    }
  }
  return n;
}

void vs_flows_reach(vs_index *x, uint64_t t0, uint64_t t1, uint64_t budget, uint64_t *a,
                    uint64_t *b) {
  uint64_t lo = 0, hi = x->t1 - x->t0; /* the widest margin within budget */
  while (lo < hi) {
    uint64_t m = lo + (hi - lo + 1) / 2;
    uint64_t ma = t0 > x->t0 + m ? t0 - m : x->t0, mb = t1 + m < x->t1 ? t1 + m : x->t1;
    if (vs_window_events(x, ma, mb, budget) <= budget)
      lo = m;
    else
      hi = m - 1;
  }
  *a = t0 > x->t0 + lo ? t0 - lo : x->t0;
  *b = t1 + lo < x->t1 ? t1 + lo : x->t1;
  if (*a > t0)
    *a = t0;
  if (*b < t1)
    *b = t1;
}

int vs_window_flows(vs_index *x, uint64_t t0, uint64_t t1, vx_flow **out, size_t *n) {
  *out = NULL;
  *n = 0;
  fpool p = {.x = x, .t0 = t0, .t1 = t1, .per = calloc(x->nthreads + 1, sizeof *p.per)};
  p.ser = malloc((x->nthreads + 1) * sizeof *p.ser);
  if (!p.per || !p.ser) {
    free(p.per);
    free(p.ser);
    return CTRACE_ENOMEM;
  }
  for (size_t i = 0; i < x->nthreads; i++)
    p.ser[i] = (serial_ix){x->threads[i].serial, (uint32_t)i};
  qsort(p.ser, x->nthreads, sizeof *p.ser, cmp_serial);
  pthread_t tid[2];
  int started = 0;
  for (; started < 2; started++)
    if (pthread_create(&tid[started], NULL, flows_worker, &p))
      break;
  if (!started)
    flows_worker(&p);
  for (int i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  int r = atomic_load(&p.err);
  size_t total = 0;
  for (size_t i = 0; i < x->nthreads; i++)
    total += p.per[i].n;
  fend *all = r ? NULL : malloc((total + 1) * sizeof *all);
  if (!r && !all)
    r = CTRACE_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < x->nthreads; i++) {
    if (all && p.per[i].n)
      memcpy(all + k, p.per[i].e, p.per[i].n * sizeof *all);
    k += p.per[i].n;
    free(p.per[i].e);
  }
  free(p.per);
  free(p.ser);
  if (!r)
    r = pair_ends(all, total, out, n);
  free(all);
  return r;
}
