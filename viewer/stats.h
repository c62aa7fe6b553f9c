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
typedef struct st_region {
  uint32_t label;
  const char *name;
  uint64_t count, total, self, min, max, p50, p90, p99;
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
} st_report;

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

#endif /* CTRACE_VIEWER_STATS_H */
