/* This file is private to the viewer. The numbers behind `ctrace stats`
 * (issue 6): per-thread state times, region statistics (count, total,
 * self, percentiles), blocking waits, system calls and the heap, computed
 * from the viewer's index (index.h), optionally for some threads and a
 * time window only; and their printers, as an aligned text report or as
 * one JSON object. All times are nanoseconds. */
#ifndef CTRACE_VIEWER_STATS_H
#define CTRACE_VIEWER_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "index.h"

/* What to look at. Zero-initialised: every thread, the whole trace. */
typedef struct st_options {
  const char *thread; /* only threads of this name (NULL: all) */
  uint64_t since;     /* window start, ns after the trace's first event */
  uint64_t until;     /* window end, ns after the first event; 0: the end */
} st_options;

/* The window of st_options in index times: [w0, w1), w1 UINT64_MAX when
 * it runs to the end. What every analysis (stats, analyses, profile)
 * counts within. */
typedef struct st_window {
  uint64_t w0, w1;
} st_window;

/* The window of o over x. @return 0, or -1 with a message in err (empty,
 * or starting after the trace ends). */
int st_window_of(const vx_index *x, const st_options *o, st_window *w, char *err, size_t errlen);

/* The part of [s, e) within w. */
static inline uint64_t st_clip(const st_window *w, uint64_t s, uint64_t e) {
  uint64_t a = s > w->w0 ? s : w->w0, b = e < w->w1 ? e : w->w1;
  return b > a ? b - a : 0;
}

/* A slice counts if it overlaps the window (an instant-long one: if it
 * lies in it). */
static inline int st_in_window(const st_window *w, uint64_t s, uint64_t e) {
  return s < e ? s < w->w1 && e > w->w0 : s >= w->w0 && s < w->w1;
}

/* Nearest rank: the value at rank ceil(p/100 * n) of the sorted v[0..n),
 * n > 0; and the comparison that sorts v. */
uint64_t st_percentile(const uint64_t *v, size_t n, unsigned p);
int st_cmp_u64(const void *a, const void *b);

typedef enum { ST_SORT_TOTAL, ST_SORT_SELF, ST_SORT_COUNT, ST_SORT_P99 } st_sort_key;

typedef struct st_thread {
  const vx_track *track;
  uint64_t state[VX_ST_COUNT_]; /* time in each VX_ST_* within the window */
  int has_states;               /* the trace has a state band for it */
  int derived;                  /* ... estimated from the wrappers' spans only */
  uint64_t regions;             /* region slices (not syscalls or waits) */
} st_thread;

/* Region slices of one label. Self is the total minus the time of the
 * direct children on the same thread (nested regions, syscalls, waits).
 * Percentiles are nearest-rank: the smallest duration with at least p%
 * of the slices at or below it. */
#define ST_HIST 48 /* latency buckets: [2^k, 2^(k+1)) ns; bucket 0 also holds 0 */
typedef struct st_region {
  uint32_t label;
  const char *name;
  uint64_t count, total, self, min, max, p50, p90, p99;
  uint64_t state[VX_ST_COUNT_]; /* where its time went: VX_ST_*; [0] no state known */
  uint64_t hist[ST_HIST];
} st_region;

/* Waits (lock, condvar, join, ...) of one kind on one object; object 0
 * when the trace does not say which (then by kind only). */
typedef struct st_block {
  const char *name;
  uint64_t object;
  uint64_t count, total, max;
} st_block;

typedef struct st_syscall {
  const char *name;
  uint64_t calls, errors, total, max; /* errors: calls that returned < 0 */
} st_syscall;

typedef struct st_heap {
  const vx_track *track; /* the "heap live bytes" counter */
  double peak, final;
} st_heap;

/* Tasks (ctrace_task_begin/end) of one name (in any process), overlapping
 * the window; an unfinished one lasts to the window's end. Durations are
 * clipped to the window like regions'. */
typedef struct st_task_group {
  const char *name;
  uint64_t count, unfinished, total, min, max, p50, p90, p99, logs;
  uint64_t regions, region_time; /* regions that began under its tasks (ctrace_task_switch) */
} st_task_group;

typedef struct st_log {
  uint64_t ts;
  const char *category, *message;
} st_log;

typedef struct st_task_region {
  const char *name, *thread;
  uint64_t start, dur; /* dur clipped to the window */
} st_task_region;

/* One of the longest tasks, with its logs and its regions (in the window,
 * in time order; the first ST_TASK_REGIONS regions). */
#define ST_TASK_REGIONS 100
typedef struct st_task {
  const vx_task *task;
  const char *name, *thread, *end_thread;
  uint64_t dur;
  st_log *logs;
  size_t nlogs;
  st_task_region *regions;
  size_t nregions, regions_total;
} st_task;

/* User-level work items of one name, in any process (ctrace_sched_*, the goroutine
 * analysis): their runs on threads, where that time went by the running
 * thread's state, and how long they waited from being unblocked to
 * running. */
typedef struct st_item {
  uint32_t label;
  const char *name;
  uint64_t runs, run, wait, waits;
  uint64_t state[VX_ST_COUNT_];
} st_item;

/* Minimum mutator utilization from the GC-like phases (ctrace_gc_begin):
 * at any instant, utilization is 1 - g/P, g the threads in a phase and P
 * the threads of the processes that have phases alive then (from their
 * first to their last event); mmu is the least mean utilization over any
 * window of that width inside the analysed window. */
typedef struct st_mmu_point {
  uint64_t window;
  double mmu;
} st_mmu_point;

typedef struct st_mmu {
  unsigned threads; /* threads counted in P at some time */
  uint64_t phases, gc; /* phases (per thread, nested ones merged) and their time */
  st_mmu_point *curve;
  size_t ncurve;
} st_mmu;

/* Bytes allocated while a region was the innermost open one of the thread
 * (HEAP events' per-thread figure; "(no region)" outside any). */
typedef struct st_alloc {
  const char *name;
  double bytes;
  uint64_t samples;
} st_alloc;

/* The heap over time of one process (the one with the highest peak):
 * live bytes (max per step) and the allocation rate, in ST_SERIES steps
 * over the window. */
#define ST_SERIES 400
typedef struct st_heap_series {
  int pid;
  size_t n; /* points */
  uint64_t ts[ST_SERIES];
  double live[ST_SERIES], rate[ST_SERIES]; /* bytes; bytes/s (NaN: no allocated counter) */
  double peak;
} st_heap_series;

typedef struct st_report {
  uint64_t t0, t1;      /* the window (absolute, index times) */
  uint64_t trace_t0, trace_t1;
  int windowed;         /* --since or --until given */
  const char *thread;   /* only threads of this name (st_options.thread), or NULL */
  uint64_t events, dropped;
  size_t processes;
  int has_sched;        /* some thread has a state band */
  int derived_only;     /* ... and every one is estimated from the wrappers */
  st_thread *threads;
  size_t nthreads;
  st_region *regions;   /* in the order of st_sort (by total at first) */
  size_t nregions;
  st_block *blocks;     /* by total, largest first */
  size_t nblocks;
  st_syscall *syscalls; /* by total, largest first */
  size_t nsyscalls;
  st_heap *heaps;
  size_t nheaps;
  uint64_t window_events;  /* slices, instants and samples of the selection in the window */
  uint64_t window_dropped; /* drops marked in the window */
  st_task_group *task_groups; /* by total, largest first */
  size_t ntask_groups;
  st_task *tasks; /* the longest (ST_TASKS at most), longest first */
  size_t ntasks;
  st_item *items; /* by run time, largest first */
  size_t nitems;
  st_mmu *mmu;    /* NULL: no GC-like phases */
  st_heap_series *series; /* NULL: no heap counter */
  st_alloc *allocs; /* by bytes, largest first */
  size_t nallocs;
  /* The blocking profiles (profile.h), by pf_type; an entry whose `type` is
   * -1 could not be made (no scheduler data for "sched"). */
  struct pf_profile *profiles;
} st_report;
#define ST_TASKS 20

/* Computes the report of x for o into *r (st_free it).
 * @return 0, or -1 with a message in err (no such thread, empty window,
 * out of memory). */
int st_compute(const vx_index *x, const st_options *o, st_report *r, char *err, size_t errlen);
/* Sorts r->regions by key, largest first (ties by name). */
void st_sort(st_report *r, st_sort_key key);
void st_free(st_report *r);

/* The report as text: header, threads, the first `top` regions, blocking,
 * syscalls, heap. @return 0, or -1 when writing failed. */
int st_print_text(FILE *f, const vx_index *x, const st_report *r, size_t top, st_sort_key key);
/* The same as one JSON object (cJSON), newline-terminated. */
int st_print_json(FILE *f, const vx_index *x, const st_report *r, size_t top, st_sort_key key);

/* Between stats.c and analyses.c: each fills its part of r for the window
 * [w0, w1); 0, or -1 when out of memory. */
void st__state_split(const vx_track *t, uint64_t a, uint64_t b, uint64_t out[VX_ST_COUNT_]);
int st__tasks(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r);
int st__items(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r);
int st__mmu(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r);
int st__heap_series(const vx_index *x, uint64_t w0, uint64_t w1, st_report *r); /* after heaps */
int st__allocs(const vx_index *x, const st_options *o, uint64_t w0, uint64_t w1, st_report *r);

/* The JSON object of st_print_json (NULL when out of memory); the viewer's
 * /api/analysis answers with it. */
struct cJSON;
struct cJSON *st_json(const vx_index *x, const st_report *r, size_t top, st_sort_key key);

/* Seconds, or with a unit (s, ms, us, ns), into ns (the commands' --since
 * and --until). @return 0 or -1. */
int st_parse_time(const char *s, uint64_t *ns);
/* The paths and, beside each, its FILE.kernel unless given already (as
 * `ctrace view` does; "ctrace CMD: with FILE.kernel" on stderr).
 * @return the array (the added paths allocated), or NULL. */
char **st_with_kernel(const char *cmd, char **paths, size_t n, size_t *nout);
/* Frees what st_with_kernel returned (given: the paths it was given). */
void st_paths_free(char **all, size_t n, char **given, size_t ngiven);

#endif /* CTRACE_VIEWER_STATS_H */
