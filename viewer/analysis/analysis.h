/* The tools' analyses (viewer/analysis): the index of a set of traces
 * (index.c, built from typed events by index_build.c), what `ctrace stats`
 * and the viewer's Analyses panel compute over it (stats.c, analyses.c),
 * `ctrace diff`'s comparison of two (diff.c), and the blocking profiles
 * (profile.c, pprof's profile.proto). Knows
 * nothing of HTTP or of the command line. */
#ifndef CTRACE_ANALYSIS_H
#define CTRACE_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "read.h"

/* ==== The index ==================================================================== */

/* The viewer's in-memory index of one or more traces (ctrace files or Chrome
 * trace-event JSON): complete slices per thread and depth, counters,
 * instants, tasks and flows, in compact arrays sorted by time, so that a
 * window of the timeline can be answered at screen resolution without
 * touching events outside it. Built once (vx_build), then read-only: any
 * number of threads may query it at once.
 *
 * Times are CLOCK_MONOTONIC nanoseconds for ctrace traces and microseconds
 * x 1000 for JSON imports. */

typedef struct vx_index vx_index;

/* What a slice, instant or counter is called and where it comes from. */
typedef struct vx_label {
  const char *name;
  const char *cat;  /* "region", "instant", "log", "counter", "ctrace", or the JSON's cat */
  const char *file; /* call site, or NULL */
  const char *func;
  uint32_t line;
} vx_label;

typedef struct vx_slice {
  uint64_t start;
  uint64_t dur;
  uint32_t label;
  uint32_t args; /* 1-based index of a JSON args string, 0 = none */
} __attribute__((packed)) vx_slice;

typedef struct vx_instant {
  uint64_t ts;
  uint32_t label;
  uint32_t extra; /* log: 1-based message index; drop marker: count (capped) */
} vx_instant;

typedef struct vx_sample {
  uint64_t ts;
  double value;
} vx_sample;

/* What a thread allocated since its previous HEAP event, and the region
 * it was in then (innermost open one; UINT32_MAX: none). */
typedef struct vx_alloc {
  uint64_t ts;
  uint64_t bytes;
  uint32_t label;
  uint32_t pad;
} vx_alloc;

/* A region that began while a task was its thread's current one
 * (ctrace_task_switch; from Chrome JSON: a slice with args.task). */
typedef struct vx_task_region {
  uint64_t task;
  uint64_t start, dur;
  int pid;
  uint32_t track;
  uint32_t label;
  uint32_t pad;
} vx_task_region;

typedef struct vx_task {
  uint64_t start, end; /* end == UINT64_MAX: never ended */
  uint64_t id, parent;
  uint32_t label;
  uint32_t thread;     /* track that began it */
  uint32_t end_thread; /* track that ended it (UINT32_MAX if none) */
  uint16_t lane;       /* row within the process's task track */
  uint16_t pad;
} vx_task;

typedef struct vx_flow {
  uint64_t id;
  uint64_t from_ts, to_ts;
  uint32_t from_track, to_track;
  uint16_t from_depth, to_depth; /* region depth at each end (0xffff: none) */
  uint8_t kind;                  /* VX_FLOW_* */
} vx_flow;

/* What an arrow stands for. */
enum {
  VX_FLOW_USER = 0,   /* ctrace_flow_begin/end, or a JSON flow */
  VX_FLOW_THREAD = 1, /* a thread created -> it starts */
  VX_FLOW_WAKE = 2,   /* a release -> the waiter wakes */
  VX_FLOW_UNBLOCK = 3 /* a work item made runnable -> its next run */
};

enum { VX_THREAD = 1, VX_COUNTER = 2, VX_TASKS = 3 };

/* Thread states (the band under each thread, from context switches or, if
 * the kernel did not allow those, from the wrappers' spans alone). */
enum {
  VX_ST_RUNNING = 1,  /* on a CPU (cpu) */
  VX_ST_RUNNABLE = 2, /* preempted, waiting for a CPU */
  VX_ST_SYSCALL = 3,  /* blocked in a system call */
  VX_ST_LOCK = 4,     /* blocked on a lock, condvar, semaphore, join */
  VX_ST_SLEEP = 5,    /* sleeping (nanosleep & co.) */
  VX_ST_BLOCKED = 6,  /* off CPU, reason unknown */
  VX_ST_COUNT_
};

typedef struct vx_state {
  uint64_t start, end;
  uint8_t state;   /* VX_ST_* */
  uint8_t derived; /* 1: from the wrappers' spans, not from the scheduler */
  uint16_t cpu;    /* VX_ST_RUNNING with scheduler data; else 0xffff */
  uint32_t pad;
} vx_state;

/* What a syscall or wait slice holds besides its name and time (the
 * slice's args field is VX_ARGS_INFO | index). */
#define VX_ARGS_INFO 0x80000000u
typedef struct vx_info {
  uint32_t nr; /* syscall number, or the wait kind (CTRACE_FMT_WAIT_*) */
  uint8_t is_wait;
  uint8_t kernel; /* from the kernel (complete mode), not a wrapper */
  uint16_t pad;
  uint64_t arg;   /* fd / the object waited on */
  int64_t ret;    /* syscall: result or -errno */
  uint32_t waker; /* wait: the track that released the object, or UINT32_MAX */
  uint32_t pad2;
} vx_info;

/* A CPU sample on a thread (FILE.kernel of `ctrace run --cpu-hz N`): its
 * time, and its call stack (vx_stack). */
typedef struct vx_cpu_sample {
  uint64_t ts;
  uint32_t stack; /* vx_stack's id (0: no frame) */
  uint32_t flags; /* VX_CPU_PARTIAL */
} vx_cpu_sample;
#define VX_CPU_PARTIAL 0x1 /* the stack was not unwound to its outermost frame */

typedef struct vx_track {
  int kind;
  uint32_t id;
  int pid, tid;
  char *name;
  int sort;
  /* VX_THREAD */
  vx_slice **depth; /* per depth, sorted by start (and by end) */
  size_t *ndepth;
  size_t depths;
  vx_instant *inst;
  size_t ninst;
  uint64_t slices;
  vx_slice *runs; /* user-level items (ctrace_sched_*) run on it, label = the item */
  size_t nruns;
  vx_state *states; /* the state band, sorted */
  size_t nstates;
  vx_alloc *allocs; /* what this thread allocated, by HEAP event */
  size_t nallocs;
  vx_cpu_sample *cpu; /* its CPU samples, by time */
  size_t ncpu;
  /* VX_COUNTER */
  vx_sample *samples;
  size_t nsamples;
  double min, max;
  /* VX_TASKS: tasks of the process, sorted by start */
  vx_task *tasks;
  size_t ntasks;
  unsigned lanes;
  size_t cap_inst, cap_samples, cap_tasks, cap_runs, cap_states, cap_allocs, cap_cpu; /* internal */
  vx_state *blocks; /* internal, while building: the wrappers' blocking spans */
  size_t nblocks, cap_blocks;
} vx_track;

typedef struct vx_source {
  char *path;
  const char *format; /* "ctrace", "ctrace-kernel" (ctrace run's FILE.kernel), "chrome-json"
                         "lttng-ctf" (an LTTng trace directory) or "lttng-live" */
  int cap_present;    /* the trace says what it captured: */
  int cap_syscalls, cap_sched, cap_heap, cap_locks; /* CTRACE_FMT_CAP_* / 0-1 */
  char *cap_why;
  int pid;
  char *process;
  int complete;
  char *problem;                /* reader's message, or NULL */
  rd_problem_kind problem_kind; /* RD_PROBLEM_* */
  uint64_t events;
  uint64_t dropped;
} vx_source;

/* Builds the index of these files (each a ctrace trace, a FILE.kernel, an
 * LTTng trace directory or a Chrome JSON file: read.h's te_set).
 * @return NULL and a message naming the file and the problem. */
vx_index *vx_build(char *const *paths, size_t n, char *err, size_t errlen);
/* The same with each path's times shifted and its processes renamed
 * (`ctrace view BASE --compare NEW`: two runs side by side, aligned at
 * their starts): align[i] for paths[i] (one source per path). pid_add
 * moves a path's pids apart from the other side's when they collide. */
typedef struct vx_align {
  int64_t shift;      /* ns added to every time */
  int pid_add;        /* added to every pid (0: none) */
  const char *prefix; /* before the process's name ("new: "), or NULL */
} vx_align;
vx_index *vx_build_aligned(char *const *paths, size_t n, const vx_align *align, char *err,
                           size_t errlen);
/* The same of the first n events of an event log (the LTTng live view's
 * growing trace; a source not ended yet is indexed as it stands). */
vx_index *vx_build_log(const te_log *log, size_t n, char *err, size_t errlen);
void vx_free(vx_index *x);
/* snprintf into an error buffer (the viewer's messages). */
void vx_errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

size_t vx_track_count(const vx_index *x);
const vx_track *vx_track_get(const vx_index *x, size_t i);

/* CPU samples (index_samples.c): how they were taken (hz 0: the traces
 * have none), the stacks (addresses, innermost first, of process *pid),
 * and the code mapped in each process, as the traces recorded it. */
typedef struct vx_cpu_info {
  unsigned hz;
  uint64_t period_ns; /* CPU time a sample stands for */
  const char *method; /* NULL: not said */
  uint64_t samples, partial;
} vx_cpu_info;
typedef struct vx_mapping {
  int pid;
  uint64_t start, end, offset; /* [start, end) maps the file from offset */
  const char *path, *build_id; /* build_id: hex, "" unknown */
} vx_mapping;
/* A kernel function that kernel frames (addresses >= CTRACE_FMT_KERNEL_
 * ADDR_MIN) are in, as the recording machine named it (rd_ksym). */
typedef struct vx_ksym {
  uint64_t start, size;
  const char *name, *module; /* module: "" the kernel itself */
} vx_ksym;
vx_cpu_info vx_cpu(const vx_index *x);
const uint64_t *vx_stack(const vx_index *x, uint32_t stack, unsigned *n, int *pid);
size_t vx_stack_count(const vx_index *x); /* ids are 1..count */

/* Heap samples (index_heap.c): every sampled allocation (ctrace run
 * --heap-rate), in time order per trace, with when its block was freed
 * (UINT64_MAX: not freed in the traces), the weight that scales it to the
 * allocations it stands for, and its call stack (vx_stack's id). */
typedef struct vx_heap_sample {
  uint64_t ts, freed;
  uint64_t bytes; /* asked of the allocator */
  double weight;  /* 1 / (1 - exp(-bytes / rate)); 1 at rate 1 */
  uint32_t stack;
  uint32_t track; /* the thread that allocated (vx_track_get) */
} vx_heap_sample;
typedef struct vx_heap_info {
  uint64_t rate; /* mean bytes between samples (1: every allocation; 0: no samples) */
  uint64_t samples, frees;
  uint64_t unseen_frees; /* a sampled address allocated again without a free seen */
} vx_heap_info;
size_t vx_heap_samples(const vx_index *x, const vx_heap_sample **out);
vx_heap_info vx_heap(const vx_index *x);
/* Go's scale of a sample of `bytes` at `rate`. */
double vx_heap_weight(uint64_t bytes, uint64_t rate);
size_t vx_mapping_count(const vx_index *x);
const vx_mapping *vx_mapping_get(const vx_index *x, size_t i);
size_t vx_ksym_count(const vx_index *x);
const vx_ksym *vx_ksym_get(const vx_index *x, size_t i);
size_t vx_source_count(const vx_index *x);
const vx_source *vx_source_get(const vx_index *x, size_t i);
const vx_label *vx_label_get(const vx_index *x, uint32_t label);
size_t vx_label_count(const vx_index *x);
const char *vx_log_message(const vx_index *x, uint32_t msg, uint64_t *task);
const char *vx_args(const vx_index *x, uint32_t args);        /* JSON text or NULL */
const vx_info *vx_info_get(const vx_index *x, uint32_t args); /* or NULL */
/* Name of a syscall number (x86-64) or NULL. */
const char *vx_syscall_name(long nr);
/* The slice name of a wait of CTRACE_FMT_WAIT_* kind ("mutex wait", ...). */
const char *vx_wait_name(unsigned kind);
const vx_flow *vx_flows(const vx_index *x, size_t *n); /* sorted by from_ts */
uint64_t vx_t0(const vx_index *x);
uint64_t vx_t1(const vx_index *x);
uint64_t vx_events(const vx_index *x);  /* events indexed */
uint64_t vx_dropped(const vx_index *x); /* events the tracers dropped */
/* The label of the markers of dropped events on threads (their instants'
 * extra: how many). */
uint32_t vx_drop_label(const vx_index *x);
size_t vx_memory(const vx_index *x); /* bytes held by the index */
/* Regions of tasks, in the order they ended. */
const vx_task_region *vx_task_regions(const vx_index *x, size_t *n);
/* The task with this id (in any process), or NULL. */
const vx_task *vx_task_find(const vx_index *x, uint64_t id, int pid);

/* First index in a[0..n) whose end (start + dur) is >= t: slices at one
 * depth do not overlap, so their ends are sorted too. */
size_t vx_slice_lower(const vx_slice *a, size_t n, uint64_t t);

/* ==== Statistics and analyses ========================================================= */

/* The numbers behind `ctrace stats`
 * (issue 6): per-thread state times, region statistics (count, total,
 * self, percentiles), blocking waits, system calls and the heap, computed
 * from the viewer's index (above), optionally for some threads and a
 * time window only; and their printers, as an aligned text report or as
 * one JSON object. All times are nanoseconds. */

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

/* What a slice of label l is to the statistics: a system call (cat
 * "syscall"), a blocking wait (cat "wait"), or else a region. */
enum { ST_KIND_REGION, ST_KIND_SYSCALL, ST_KIND_WAIT };
int st_label_kind(const vx_label *l);

typedef enum { ST_SORT_TOTAL, ST_SORT_SELF, ST_SORT_COUNT, ST_SORT_P99 } st_sort_key;
/* The key named s ("total", "self", "count", "p99"). @return 0, or -1. */
int st_sort_parse(const char *s, st_sort_key *key);

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
 * of the slices at or below it; exact up to 4096 slices, beyond that
 * estimated within 1/256 of it (quantile.h: memory does not grow with the
 * count). */
#define ST_HIST 48 /* latency buckets: [2^k, 2^(k+1)) ns; bucket 0 also holds 0 */
typedef struct st_region {
  uint32_t label;
  const char *name;
  uint64_t count, total, self, min, max, p50, p90, p99;
  uint64_t state[VX_ST_COUNT_]; /* where its time went: VX_ST_*; [0] no state known */
  uint64_t hist[ST_HIST];
  int estimated; /* p50/p90/p99 are estimates (more than 4096 slices), else exact */
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
  int estimated;                 /* as st_region's */
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
  unsigned threads;    /* threads counted in P at some time */
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
  uint64_t t0, t1; /* the window (absolute, index times) */
  uint64_t trace_t0, trace_t1;
  int windowed;       /* --since or --until given */
  const char *thread; /* only threads of this name (st_options.thread), or NULL */
  uint64_t events, dropped;
  size_t processes;
  int has_sched;    /* some thread has a state band */
  int derived_only; /* ... and every one is estimated from the wrappers */
  st_thread *threads;
  size_t nthreads;
  st_region *regions; /* in the order of st_sort (by total at first) */
  size_t nregions;
  st_block *blocks; /* by total, largest first */
  size_t nblocks;
  st_syscall *syscalls; /* by total, largest first */
  size_t nsyscalls;
  st_heap *heaps;
  size_t nheaps;
  uint64_t window_events;     /* slices, instants and samples of the selection in the window */
  uint64_t window_dropped;    /* drops marked in the window */
  st_task_group *task_groups; /* by total, largest first */
  size_t ntask_groups;
  st_task *tasks; /* the longest (ST_TASKS at most), longest first */
  size_t ntasks;
  st_item *items; /* by run time, largest first */
  size_t nitems;
  st_mmu *mmu;            /* NULL: no GC-like phases */
  st_heap_series *series; /* NULL: no heap counter */
  st_alloc *allocs;       /* by bytes, largest first */
  size_t nallocs;
  /* The blocking profiles (below), by pf_type; an entry whose `type` is
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

/* The report's orders (qsort comparators, stats.c), one for st_compute and
 * the scale index's report (scale_analyses.c) alike: threads by process,
 * then as the timeline orders them; blocks (then by name and object) and
 * system calls by total, largest first, then by name. */
int st__cmp_thread(const void *a, const void *b);  /* st_thread */
int st__cmp_block(const void *a, const void *b);   /* st_block */
int st__cmp_syscall(const void *a, const void *b); /* st_syscall */
/* The tasks' order (analyses.c): the longest tasks' logs and regions in
 * time order (the first ST_TASK_REGIONS regions kept), the groups by total
 * time, largest first. */
void st__sort_tasks(st_report *r);

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
/* Their regions' table alone (st_print_text's, st_json's "regions"): also
 * what ctrace stats prints of a trace opened through its scale index. */
void st_print_regions(FILE *f, const st_report *r, size_t top, st_sort_key key);
void st_json_regions(struct cJSON *root, const st_report *r, size_t top, st_sort_key key);
/* The threads' table, and the tasks', blocking and syscalls' tables, of
 * st_print_text; their JSON (threads, tasks, blocking, syscalls): what ctrace
 * stats prints of them through the scale index (vs_compute_analyses). */
void st_print_threads(FILE *f, const st_report *r);
void st_print_parts(FILE *f, const st_report *r, size_t top);
void st_json_parts(struct cJSON *root, const st_report *r, size_t top);

/* A duration in a unit that keeps 3-4 significant digits ("12.34 ms") into
 * buf. @return buf. */
const char *st_fmt_dur(char *buf, size_t n, uint64_t ns);

/* Seconds, or with a unit (s, ms, us, ns), into ns (the commands' --since
 * and --until). @return 0 or -1. */
int st_parse_time(const char *s, uint64_t *ns);

/* ==== Blocking profiles ================================================================ */

/* Blocking profiles, like `go tool
 * trace`'s: where threads waited on synchronization (lock, condvar,
 * rwlock, semaphore, join), in system calls, in the I/O ones among them, or
 * for a CPU (runnable -> running), aggregated by call site and written as
 * a pprof profile (profile.proto, gzipped) for `ctrace pprof` and the
 * viewer's /api/pprof.
 *
 * A trace holds no return addresses: the call site of a blocking event is
 * its stack of enclosing regions on its thread. A sample's stack, leaf
 * first: the event ("mutex wait", the syscall's name, or "runnable"), each
 * enclosing region innermost to outermost (its call site's file and line
 * when the trace has them), then "thread NAME". Each sample counts the
 * events with that stack (and, for waits, that object) and their time
 * within the window (ns), like Go's block profile [contentions, delay]. */

typedef enum pf_type {
  PF_SYNC,    /* slices of cat "wait" */
  PF_SYSCALL, /* slices of cat "syscall" */
  PF_SCHED,   /* VX_ST_RUNNABLE intervals of the state bands */
  PF_IO,      /* system calls that wait on file descriptors (read, poll, fsync, ...) */
  PF_TYPE_COUNT_
} pf_type;

/* "sync", "syscall", "sched", "io". */
const char *pf_type_name(pf_type t);
/* The type of that name. @return 0, or -1 if s names none. */
int pf_type_parse(const char *s, pf_type *t);
/* 1 if a system call of this name waits on a file descriptor (PF_IO). */
int pf_is_io_syscall(const char *name);

/* One frame of a stack; strings are indexes into pf_profile.strings. */
typedef struct pf_frame {
  uint32_t name;
  uint32_t file; /* 0: unknown */
  uint32_t line; /* 0: unknown */
} pf_frame;

typedef struct pf_sample {
  size_t first, n;     /* its stack: pf_profile.stack[first .. first + n), leaf first */
  uint64_t object;     /* PF_SYNC: the object waited on; 0 when unknown (and other types) */
  uint32_t object_str; /* its "0x..." in strings, or 0 */
  uint64_t count;      /* events */
  uint64_t delay;      /* their time within the window, ns */
} pf_sample;

/* Fixed entries of pf_profile.strings (the pprof string table). */
enum {
  PF_STR_EMPTY = 0, /* "" */
  PF_STR_CONTENTIONS,
  PF_STR_COUNT,
  PF_STR_DELAY,
  PF_STR_NANOSECONDS,
  PF_STR_OBJECT,
  PF_STR_MAPPING, /* the mapping's file name: "ctrace regions" */
  PF_STR_COMMENT, /* what the profile holds */
  PF_STR_FIXED_
};

typedef struct pf_profile {
  pf_type type;
  uint64_t t0, t1;    /* the window (index times: CLOCK_MONOTONIC ns, JSON: us x 1000) */
  int64_t time_nanos; /* wall clock (ns since 1970) at t0, 0 when unknown */
  char **strings;     /* strings[0] is "" (owned) */
  size_t nstrings;
  pf_frame *frames; /* distinct frames */
  size_t nframes;
  uint32_t *stack; /* frame indexes of every sample's stack */
  size_t nstack;
  pf_sample *samples; /* one per distinct (stack, object), by delay, largest first */
  size_t nsamples;
  uint64_t count, delay;                                  /* over all samples */
  size_t cap_strings, cap_frames, cap_stack, cap_samples; /* internal */
} pf_profile;

/* Computes the profile of this type over the threads and window of o (as
 * `ctrace stats` takes them) into *out (pf_free it). No event of the type
 * is not an error (nsamples is 0).
 * @return 0, or -1 with a message in err: no thread of that name, an empty
 * window, PF_SCHED without scheduler data in the trace; CTRACE_ENOMEM when
 * out of memory. */
int pf_compute(const vx_index *x, pf_type type, const st_options *o, pf_profile *out, char *err,
               size_t errlen);
/* gzip (RFC 1952) of in[0..n) into *out (free it): pprof files are
 * gzipped. @return 0, or -1 out of memory. */
int pf_gzip(const uint8_t *in, size_t n, unsigned char **out, size_t *len);
/* Frees what pf_compute allocated; accepts a zeroed profile. */
void pf_free(pf_profile *p);

/* The profile as a gzipped pprof Profile message into *gz (malloc'd, the
 * caller frees it), *len bytes. @return 0, or -1 with a message in err. */
int pf_encode_pprof(const pf_profile *p, unsigned char **gz, size_t *len, char *err, size_t errlen);

/* The first `top` samples (0: all) as a JSON array: [{"stack": [root
 * first: "thread T", "outer", "inner", "mutex wait"], "count": N,
 * "total_ns": N, "object": "0x..." (waits on a known object)}], or NULL
 * when out of memory. */
struct cJSON;
struct cJSON *pf_json(const pf_profile *p, size_t top);

/* ==== CPU profiles ====================================================================== */

/* The CPU samples of a window, threads and region (cpu_profile.c), their
 * stacks named with the binaries' symbols and debug information
 * (symbols.c), for `ctrace top`, `ctrace pprof --type cpu` (cpu_pprof.c)
 * and the viewer. */
typedef struct cp_symbols cp_symbols;
typedef struct cp_options {
  st_options w;          /* --thread, --since, --until */
  const char *region;    /* only samples taken inside a region of this name on their thread */
  const vx_track *track; /* only this thread's samples (NULL: any; with w.thread, both apply) */
  const char *const *debug_dirs; /* --debug-dir, searched before the standard places */
  size_t ndebug_dirs;
  cp_symbols *symbols; /* names the stacks (with its own debug directories); NULL: a table
                          of the profile's own */
  int heap;            /* CP_HEAP_*: a heap profile of the heap samples instead (0: CPU) */
} cp_options;
/* Heap profiles: allocations in the window ([since, until)), and the
 * blocks still in use at its end (allocated before it, whenever, and not
 * freed by then), scaled for sampling as Go does. The kinds differ only in
 * the sample type a pprof client shows first. */
#define CP_HEAP_INUSE 1  /* `ctrace pprof --type heap`: inuse_space first */
#define CP_HEAP_ALLOCS 2 /* `--type allocs`: alloc_space first */

/* A symbolizer kept across profiles (the viewer keeps one per view), so
 * that the binaries' symbols and debug information are read once, not at
 * every profile. A profile made with it (cp_options.symbols) names its
 * stacks with its table, which holds the mappings of the index asked
 * about: an index whose mappings extend those the table has (the same
 * trace, or a live one that grew) adds the new ones; one whose mappings are
 * only a part of them (an older index of a live view) gets a table of its
 * own; one whose mappings differ replaces the table (the old one is freed
 * with the last profile using it). Thread-safe: profiles computed at once
 * take turns naming their stacks. @return NULL when out of memory (the
 * strings are copied). */
cp_symbols *cp_symbols_new(const char *const *debug_dirs, size_t ndirs);
/* Frees s; every profile made with it must be freed first. NULL is fine. */
void cp_symbols_free(cp_symbols *s);
/* Tables s has made so far (1 while the mappings only grew; tests). */
unsigned cp_symbols_tables(cp_symbols *s);

/* One frame of a location (several when calls were inlined there). */
typedef struct cp_line {
  const char *function; /* NULL: not known (then module+0xOFFSET names it) */
  const char *file;     /* NULL: not known */
  int line, func_line;
} cp_line;

/* A distinct (process, address) in the samples' stacks. */
typedef struct cp_location {
  uint64_t addr;
  uint32_t mapping; /* 1-based in cp_profile.maps; 0: in no recorded mapping */
  uint64_t module_offset;
  size_t first, n; /* its frames: cp_profile.lines[first .. first + n), innermost first */
  int pid;
  /* In the file's own addresses (as objdump shows them; 0 unknown): the
   * instruction looked up (addr, or addr - 1 for a return address), and
   * the out-of-line function holding it. */
  uint64_t file_addr, func_start, func_size;
  int ret; /* addr is a return address (file_addr is of the call, addr - 1) */
} cp_location;

/* A recorded mapping that a sample's address fell in. */
typedef struct cp_mapping {
  uint64_t start, end, offset;
  const char *path, *build_id;
  int has_functions, has_lines;
} cp_mapping;

/* A distinct stack of the counted samples, leaf first. */
typedef struct cp_stack {
  size_t first, n; /* cp_profile.stack_locs[first .. first + n): location indexes */
  uint64_t count;  /* samples (heap: those counted in any of heap[]) */
  double heap[4];  /* heap profiles: CP_ALLOC_OBJECTS..CP_INUSE_SPACE, scaled */
} cp_stack;
enum { CP_ALLOC_OBJECTS, CP_ALLOC_SPACE, CP_INUSE_OBJECTS, CP_INUSE_SPACE };

typedef struct cp_profile {
  int heap;                  /* CP_HEAP_* (0: CPU) */
  vx_heap_info heap_info;    /* heap profiles: how the samples were taken */
  double heap_total[4];      /* the stacks' heap[] summed */
  vx_cpu_info info;          /* how the samples were taken */
  uint64_t t0, t1;           /* the window */
  uint64_t samples, partial; /* counted; of which not unwound to their end */
  cp_location *locs;
  size_t nlocs;
  cp_line *lines;
  size_t nlines;
  cp_mapping *maps;
  size_t nmaps;
  cp_stack *stacks;
  size_t nstacks;
  uint32_t *stack_locs;
  size_t nstack_locs;
  char *problems;        /* what could not be symbolized and why ("" none) */
  struct sym_table *sym; /* (owns the names) */
  cp_symbols *shared;    /* sym is this one's (counted), or NULL: the profile's own */
  /* pprof's one sample type instead of samples/count and cpu/nanoseconds
   * (cp_compute_stacks: "threads", "count"); NULL: a CPU profile. */
  const char *sample_type, *sample_unit;
} cp_profile;

/* Computes the profile of x's samples selected by o into *out (cp_free it).
 * @return 0, or -1 with a message in err: the traces hold no CPU samples,
 * no thread or region of that name (naming the nearest), out of memory. */
int cp_compute(const vx_index *x, const cp_options *o, cp_profile *out, char *err, size_t errlen);
void cp_free(cp_profile *p); /* accepts a zeroed profile */

/* The same of stacks given rather than of an index's samples (`ctrace
 * stacks`: every thread's stack now, unwound by the caller), of process
 * pid whose code maps[0..nmaps) maps (their pid field unused): stacks[i]
 * becomes out->stacks[i] (none merged; one with no pc is one location,
 * "[stack not unwound]"), named with the symbols of o->debug_dirs and the
 * standard places (o's other fields unused). @return 0, or -1 with a
 * message (out of memory). */
typedef struct cp_raw_stack {
  const uint64_t *pcs; /* innermost first: the pc, then each caller's return address */
  unsigned n;
  uint64_t count;
} cp_raw_stack;
int cp_compute_stacks(int pid, const vx_mapping *maps, size_t nmaps, const cp_raw_stack *stacks,
                      size_t n, const cp_options *o, cp_profile *out, char *err, size_t errlen);

/* What `ctrace top` prints: per function (or per source line), the samples
 * where it is the leaf (flat) and those where it is anywhere on the stack
 * (cum), largest flat first (or cum, by_cum). */
typedef struct cp_top_row {
  const char *name; /* the function; NULL unknown: cp_location_name(loc) names it */
  const char *file; /* NULL unknown */
  int line;         /* by_line: the line; else the function's first line (0 unknown) */
  uint32_t loc;     /* a location where it was seen */
  uint64_t flat, cum;
} cp_top_row;
/* "libfoo.so+0x1234" for a location in a mapping, "[unknown 0x...]" outside
 * every mapping, "[stack not unwound]" for a sample with no frame. */
void cp_location_name(const cp_profile *p, uint32_t loc, char *buf, size_t len);
/* The same for an address (cpu_names.c): path NULL outside every mapping. */
void cp_address_name(const char *path, uint64_t module_offset, uint64_t addr, char *buf,
                     size_t len);
/* @return the rows in *rows (free it), or (size_t)-1 out of memory. */
size_t cp_top(const cp_profile *p, int by_line, int by_cum, cp_top_row **rows);

/* What `ctrace list` shows of one function: its samples per source line
 * (arrays indexed by line number, nlines long), flat and cum. */
typedef struct cp_list_fn {
  const char *name, *file;
  int first_line, last_line; /* its declaration's (or first sampled) line .. last sampled */
  uint64_t flat, cum;
  uint64_t *line_flat, *line_cum;
  size_t nlines;
} cp_list_fn;
/* The functions whose names match the extended regular expression
 * pattern, in *out (cp_list_free). @return their count, or (size_t)-1 with
 * a message (a bad expression, out of memory). */
size_t cp_list(const cp_profile *p, const char *pattern, cp_list_fn **out, char *err,
               size_t errlen);
void cp_list_free(cp_list_fn *f, size_t n);

/* `ctrace list --asm`: the machine code of function name (or, where it
 * was only inlined, of the function it was inlined into: *container), each
 * instruction with its samples and its innermost source frame (another
 * function where code was inlined), disassembled with capstone from the
 * binary the trace names. */
typedef struct cp_insn {
  uint64_t addr;  /* in the file's own addresses */
  char text[128]; /* mnemonic and operands (cut at 80 characters) */
  uint64_t flat, cum;
  const char *function, *file; /* innermost frame (NULL unknown) */
  int line;
} cp_insn;
/* @return the count in *out (free it), or (size_t)-1 with a message (not
 * sampled out of line, the binary cannot be read, out of memory). */
size_t cp_disasm(cp_profile *p, const char *name, const char **container, cp_insn **out, char *err,
                 size_t errlen);

/* The samples of the threads and window of o by the innermost region open
 * on their thread (name NULL: outside every region), most first: `ctrace
 * stats`'s on-CPU time per region. @return the rows in *rows (free it),
 * or (size_t)-1 (out of memory, an empty window). */
typedef struct cp_region_row {
  const char *name;
  uint64_t samples;
} cp_region_row;
size_t cp_regions(const vx_index *x, const st_options *o, cp_region_row **rows);

/* The tables as JSON (cpu_json.c). cp_top_json: the first `top` functions
 * of cp_top (by flat samples; flat_only: only those with flat samples), as
 * [{"name", "file", "line", "flat", "cum"}]. cp_json: `ctrace stats
 * --json`'s "cpu": {"hz", "period_ns", "samples", "partial", "cpu_ns",
 * "functions": cp_top_json, "regions": [{"name" (null: outside every
 * region), "samples"}] (cp_regions of x and o), "problems"}. NULL when out
 * of memory. */
struct cJSON *cp_top_json(const cp_profile *p, size_t top, int flat_only);
struct cJSON *cp_json(const vx_index *x, const st_options *o, const cp_profile *p, size_t top);

/* The profile in pprof's format (profile.proto, gzipped): sample types
 * samples/count and cpu/nanoseconds (or p's one sample_type, each stack's
 * count its value). @return 0, or -1 with a message. */
int cp_encode_pprof(const cp_profile *p, unsigned char **gz, size_t *len, char *err, size_t errlen);

/* Sampled addresses named one at a time (cpu_names.c), for what streams
 * the samples rather than indexing them (`ctrace export`): the mappings
 * recorded in a set's ctrace traces (open: te_set_open), symbolized as
 * cp_compute does. Not thread-safe. */
typedef struct cp_namer cp_namer;
typedef struct cp_frame_name {
  const char *name;   /* the function, or cp_address_name's module+0xOFFSET */
  const char *module; /* the binary's file name; "" outside every mapping */
} cp_frame_name;
/* @return the namer, or NULL when out of memory. */
cp_namer *cp_namer_new(te_set *set, const char *const *debug_dirs, size_t ndirs);
void cp_namer_free(cp_namer *n); /* accepts NULL */
/* The frames at address pc of process pid (a return address when
 * is_return: the call at pc - 1 is looked up), innermost (most inlined)
 * first, at most max into out; pc 0: a sample with no frame at all. The
 * strings are valid until the next call. @return the count (>= 1 when max
 * is), 0 when out of memory. */
size_t cp_namer_frames(cp_namer *n, int pid, uint64_t pc, int is_return, cp_frame_name *out,
                       size_t max);
/* What could not be symbolized so far ("" or one line per problem). */
const char *cp_namer_problems(const cp_namer *n);

/* ==== The scale index: traces of any size (scale_*.c) ====================================
 * For a ctrace file too big to index whole in memory: one pass (two
 * threads) writes TRACE.idx (or, where the trace's folder is read-only, a
 * file in $XDG_CACHE_HOME/ctrace), memory-mapped and reused by later opens
 * while the trace is unchanged: per thread, its batches' time ranges and
 * the regions open at each, and per depth a pyramid of time buckets (the
 * count and the longest region of each), and per counter one of its
 * samples' min, max and last value. A window is answered from the
 * coarsest level finer than its pixels, or by decoding only the batches it
 * touches. docs/format.md, "The index file". */
typedef struct vs_index vs_index;
/* Called as threads are done: events read so far (from the pass's threads). */
typedef void (*vs_progress)(void *arg, uint64_t events_done);
/* Opens TRACE's index, reusing it or (re)building it. NULL with err. */
vs_index *vs_open(const char *trace, vs_progress progress, void *arg, char *err, size_t errlen);
void vs_close(vs_index *x); /* accepts NULL */
/* For fuzzing the index file's reader: idx read for trace without checking
 * that it was made from it, nor its tables' hash (every offset and count
 * is still checked). NULL with err. */
vs_index *vs_open_unchecked(const char *trace, const char *idx, char *err, size_t errlen);
/* How it was had: "reused PATH", "built PATH", "rebuilt PATH (stale: the
 * trace grew)", "rebuilt PATH (corrupt: ...)". */
const char *vs_how(const vs_index *x);
int vs_reused(const vs_index *x);
const char *vs_index_path(const vs_index *x);
rd_trace *vs_trace(vs_index *x);
uint64_t vs_t0(const vs_index *x);
uint64_t vs_t1(const vs_index *x);
uint64_t vs_events(const vs_index *x);
uint64_t vs_file_bytes(const vs_index *x); /* the index file's size */
size_t vs_thread_count(const vs_index *x);
typedef struct vs_thread_facts {
  int tid, kernel;
  uint32_t serial, depth;
  const char *name;
  uint64_t events, slices, instants;
  uint64_t states; /* its scheduler states, from FILE.kernel beside the trace */
} vs_thread_facts;
int vs_thread_info(vs_index *x, size_t i, vs_thread_facts *f);
/* A region (or, depth VS_INSTANTS_DEPTH, an instant) as a window shows it:
 * with the number of items it stands for (merged) and whether it was still
 * open where decoding stopped (open). */
#define VS_INSTANTS_DEPTH 0xffffu
#define VS_STATES_DEPTH 0xfffeu /* a scheduler state (key: vs_label's cat "state", cpu) */
typedef struct vs_item {
  uint32_t depth;
  uint64_t start, dur;
  uint32_t key; /* vs_label */
  uint64_t merged;
  int open;
} vs_item;
typedef void (*vs_emit)(void *arg, const vs_item *it);
/* Thread i's regions and instants in [t0, t1] at pixel width w ns: per
 * pixel and depth the longest, with merged; those of a pixel or more one by
 * one. @return 0 or CTRACE_E*. Safe on several threads at once. */
int vs_window(vs_index *x, size_t thread, uint64_t t0, uint64_t t1, uint64_t w, vs_emit fn,
              void *arg);
/* The region of thread i at depth that starts at start. @return 0,
 * CTRACE_ENOENT. */
int vs_find(vs_index *x, size_t thread, uint32_t depth, uint64_t start, vs_item *out);
typedef struct vs_label_facts {
  char name[256], file[256], func[128];
  unsigned line;
  const char *cat;
  int cpu; /* a state's (cat "state"): the CPU it ran on, or -1 */
} vs_label_facts;
void vs_label(vs_index *x, uint32_t key, vs_label_facts *out);
/* The scale index of a trace still being written (scale_live.c), kept in
 * memory (never in a file) and grown by each vs_live_more() with what the
 * file appended: its threads' settled batches (rd_settled; all of them when
 * `all`: the file is quiet). Its memory stays bounded however long the
 * trace runs: per lane of a thread at most about 2^20 buckets a level
 * (finer windows decode the batches they touch). The caller orders updates
 * and queries (a lock). vs_open's accessors, vs_window and vs_find answer as
 * for an index file; regions still open show to the end so far (open 1).
 * vs_live_open: NULL with err (the file cannot be read yet). vs_live_more:
 * 0, or CTRACE_E* with err (what was read until then stays). */
vs_index *vs_live_open(const char *trace, char *err, size_t errlen);
int vs_live_more(vs_index *x, int all, char *err, size_t errlen);
int vs_live(const vs_index *x);            /* 1: made by vs_live_open */
uint64_t vs_live_bytes(const vs_index *x); /* the memory its tables hold */
/* Counters (scale_counter*.c), as the full index's tracks of kind counter:
 * one per name (a COUNTER site's, or a heap series of `ctrace run`), in
 * name order, with its samples from every thread. */
size_t vs_counter_count(const vs_index *x);
typedef struct vs_counter_facts {
  const char *name;
  uint64_t samples;
  double min, max; /* (0, 0: no samples) */
} vs_counter_facts;
int vs_counter_info(const vs_index *x, size_t i, vs_counter_facts *f); /* -1: no such */
/* A counter's mark: from time ts (its first piece's; t0 for the value in
 * force at t0) the min, max and last value (vx_counter_emit's). */
typedef void (*vs_counter_emit)(void *arg, uint64_t ts, double min, double max, double last);
/* Counter i's marks in [t0, t1] at w ns per pixel, in time order, the
 * value in force at t0 first: per pixel, the pieces whose first sample is
 * in it, from the coarsest level of buckets of 4^k <= w ns (the buckets
 * the window's ends cut from finer ones, down to level 0), or, finer than
 * the counter's level 0, its samples decoded. @return 0 or CTRACE_E*.
 * Safe on several threads at once. */
int vs_counter_window(vs_index *x, size_t i, uint64_t t0, uint64_t t1, uint64_t w,
                      vs_counter_emit emit, void *arg);
/* ctrace stats's regions of a window [w0, w1) (scale_stats.c): per region
 * name as st_compute's (regions overlapping it, durations clipped to it;
 * `label` is only an index), and per thread (vs_thread_count) its regions
 * there; only threads named `thread` when not NULL. Decodes the batches
 * the window touches. @return 0 or CTRACE_E* with err. */
typedef struct vs_stats {
  st_region *regions;
  size_t nregions;
  uint64_t *thread_regions;
} vs_stats;
int vs_compute_stats(vs_index *x, uint64_t w0, uint64_t w1, const char *thread, vs_stats *out,
                     char *err, size_t errlen);
void vs_stats_free(vs_stats *s);
/* /api/search through the scale index (scale_search.c): the regions whose
 * names hold text (case-insensitive), the `limit` earliest that start at
 * or after `from`, found by decoding batches in rounds until limit + 1 are
 * had, the trace ends, or `budget` events (0: $CTRACE_SCALE_SEARCH_EVENTS,
 * else 10M) were decoded. Hits sorted by start, thread, depth. */
typedef struct vs_search_opts {
  const char *text;
  size_t limit;
  uint64_t from, budget;
} vs_search_opts;
typedef struct vs_hit {
  uint64_t start, dur;
  uint32_t thread, depth, key;
  int open; /* its end not reached (dur: to where decoding stopped) */
} vs_hit;
typedef struct vs_search_result {
  vs_hit *hits; /* every match in [from, searched_until), at most limit */
  size_t nhits;
  uint64_t searched_until; /* go on from here for the next ones */
  uint64_t total;          /* matches in [from, counted_until) */
  uint64_t counted_until;  /* past t1: searched to the end */
  int complete;            /* total counts every match from `from` on */
  int truncated;           /* the budget stopped it before limit matches and the end */
  uint64_t events;         /* decoded */
  char **names;            /* the region names that hold text (at most 100) */
  size_t nnames;
  int names_truncated;
} vs_search_result;
int vs_search(vs_index *x, const vs_search_opts *o, vs_search_result *out, char *err,
              size_t errlen);
void vs_search_free(vs_search_result *s);
/* The arrows of a window (scale_flows.c): the flow events of every
 * thread's batches touching [t0, t1] paired by kind and id (an arrow
 * whose other end lies outside them is not found), sorted by from_ts;
 * tracks are thread indexes. vs_window_events: how many events those
 * batches hold (what decoding them costs; counting stops once past
 * enough). @return 0 or CTRACE_E*. */
uint64_t vs_window_events(vs_index *x, uint64_t t0, uint64_t t1, uint64_t enough);
/* The widest [*a, *b] around [t0, t1] (the same margin each side, within
 * the trace) whose batches hold at most budget events. */
void vs_flows_reach(vs_index *x, uint64_t t0, uint64_t t1, uint64_t budget, uint64_t *a,
                    uint64_t *b);
int vs_window_flows(vs_index *x, uint64_t t0, uint64_t t1, vx_flow **out, size_t *n);
/* The parts of st_report that come from each thread's own events, over a
 * window [w0, w1) (scale_analyses.c): threads (regions; time per state
 * derived from the wrappers' blocking spans), blocks, syscalls,
 * task_groups and tasks, window_events and window_dropped; only threads
 * named `thread` when not NULL. Decodes the batches the window touches on
 * two workers and merges the threads' figures. The whole trace gives what
 * st_compute gives; in a window, what the decoded batches cannot see
 * differs: a task that began before them is counted from the window's
 * start in a group "(begun before the window)" (without `thread`), one
 * with neither end in them is missed, one not ended in them before the trace's end is not
 * called unfinished; a region open at their start is taken as begun under the task
 * current there; the running time before a thread's first blocking span
 * in them is not counted. Memory grows with the names, the threads and the
 * tasks in the window; of the logs and regions of tasks, each thread keeps
 * the first 2^18 one by one (what the longest tasks list), their counts
 * whole. @return 0 or CTRACE_E* with err. */
/* A region name's time in system calls and waits directly under it. */
typedef struct vs_self_fix {
  const char *name;
  uint32_t key; /* (per thread: its label key) */
  uint64_t ns;
} vs_self_fix;
typedef struct vs_analyses {
  st_report r;      /* the parts above (vs_analyses_report copies them) */
  vs_self_fix *fix; /* what vs_analyses_fix_self takes off */
  size_t nfix, cap_fix;
  /* (owned storage the parts point into) */
  vx_track *tracks; /* the threads' rows: kind, pid, tid, name, sort */
  vx_task *vtasks;
  char **strings;
  size_t nstrings, cap_strings;
} vs_analyses;
int vs_compute_analyses(vs_index *x, uint64_t w0, uint64_t w1, const char *thread, vs_analyses *out,
                        char *err, size_t errlen);
void vs_analyses_free(vs_analyses *a); /* accepts NULL */
/* vs_compute_stats and vs_compute_analyses in one pass over each thread's
 * batches (what ctrace stats and /api/analysis use). @return 0 (both
 * filled) or CTRACE_E* with err (neither). */
int vs_compute_stats_analyses(vs_index *x, uint64_t w0, uint64_t w1, const char *thread,
                              vs_stats *stats, vs_analyses *out, char *err, size_t errlen);
/* Points r's parts at a's (r must then not be st_free'd; a outlives it). */
void vs_analyses_report(const vs_analyses *a, st_report *r);
/* Takes the time of system calls and waits directly under each region off
 * its self time (vs_compute_stats's regions see the regions only), as
 * st_compute's self is. */
void vs_analyses_fix_self(const vs_analyses *a, st_region *regions, size_t n);

/* ==== Windows of a lane at screen resolution (pyramid.c) ============================== */

/* A lane of non-overlapping items sorted by start (a region depth, the
 * scheduler runs, the state band): item i's start, dur and label. */
typedef struct vx_lane_src {
  const void *items;
  size_t n;
  void (*get)(const void *items, size_t i, uint64_t *start, uint64_t *dur, uint32_t *label);
} vx_lane_src;

/* Called per mark of a window, in start order: item idx of the lane,
 * standing for `merged` items (1: itself). */
typedef void (*vx_lane_emit)(void *ctx, size_t idx, uint64_t merged);

/* A lane's time pyramid (pyramid.h, private): per power-of-4 bucket width,
 * how many items start in each bucket and the longest of them. */
typedef struct vx_pyr vx_pyr;

/* The marks of the items of src in [t0, t1] (end >= t0, start <= t1) at
 * w ns per pixel over px pixels: every item at least w long on its own,
 * and of the shorter ones per pixel the longest, with how many it stands
 * for; the merged counts add up to the items in the window. When the
 * window holds at most 4 * px items (or p is NULL, or holds other than
 * src->n items, or has no level at most w wide) the items are walked one
 * by one, as the timeline always did; else p's coarsest level of buckets
 * at most w wide answers, finer levels and single items only at the
 * window's two ends and beside items at least w long (at most ~2 marks per
 * pixel plus the long items). p is only read.
 * @return -1 when the items were walked, else the level's exponent e (its
 * buckets 4^e ns wide). */
int vx_pyr_window(const vx_pyr *p, const vx_lane_src *src, uint64_t t0, uint64_t t1, uint64_t w,
                  uint64_t px, vx_lane_emit emit, void *ctx);

/* A thread's lanes for vx_lane_window: a region depth (0, 1, ...) or these. */
#define VX_LANE_RUNS (-1)   /* t->runs */
#define VX_LANE_STATES (-2) /* t->states (dur = end - start) */

/* vx_pyr_window over a lane of thread track t of x, with the lane's pyramid,
 * built at the first window that needs one and extended when the lane
 * grew; the pyramids belong to x (freed by vx_free). Thread-safe: any
 * number of threads may ask at once (a lock guards the pyramids).
 * @return as vx_pyr_window (-1 also when out of memory: then walked). */
int vx_lane_window(const vx_index *x, const vx_track *t, int lane, uint64_t t0, uint64_t t1,
                   uint64_t w, uint64_t px, vx_lane_emit emit, void *ctx);

/* A counter's mark per pixel: from time ts (the first sample's, t0 for the
 * value in force at t0) the minimum, maximum and last value. */
typedef void (*vx_counter_emit)(void *ctx, uint64_t ts, double min, double max, double last);
/* The marks of counter track t of x in [t0, t1] (the value in force at t0
 * first) at w ns per pixel over px pixels, in time order: per pixel that
 * samples start in, the min, max and last of its samples. A window of
 * many samples is answered from the counter's pyramid (made at the first
 * window that needs it, extended as it grew; freed with x): then a mark
 * stands for the buckets of 4^k <= w ns whose first sample is in its
 * pixel. Thread-safe. @return -1 when walked, else the level's exponent. */
int vx_counter_window(const vx_index *x, const vx_track *t, uint64_t t0, uint64_t t1, uint64_t w,
                      uint64_t px, vx_counter_emit emit, void *ctx);

/* ==== A growing index (index_build.c) ================================================== */

/* The index of ctrace traces still being written (`ctrace view --follow`),
 * grown by what each file appended instead of built again: each
 * vx_grow_more() reads only the records added since the last one and adds
 * them to the same index (vx_grow_index), which then answers as vx_build
 * of the same bytes would (a region still open shows as unfinished up to
 * its thread's last event, until its end comes; the files' events are
 * taken up to what rd_settled says, or all of them when `all`).
 *
 * The index changes in place: whoever reads it while vx_grow_more runs
 * must hold a lock that vx_grow_more is called under. What can change for
 * a reader between two calls: counts grow (arrays may move when they
 * grow); the last slice at a depth of a thread, and its last run, may be
 * an unfinished one that is replaced at the same place (same start); new
 * tracks, labels and sources are appended. Not in start order: a counter's
 * samples, the arrows (vx_flows) and a process's tasks (with their lanes)
 * are kept sorted, so one from a thread whose events came later goes
 * before others already there.
 *
 * Only ctrace files of a program's threads grow so: JSON, LTTng traces and
 * kernel streams (FILE.kernel) are built whole (vx_grow_open fails, or
 * vx_grow_more says VX_GROW_WHOLE). */
typedef struct vx_grow vx_grow;
#define VX_GROW_WHOLE 1 /* vx_grow_more: this set cannot grow: build it whole (vx_build) */
/* NULL with a message: a file is not a ctrace trace, or out of memory. */
vx_grow *vx_grow_open(char *const *paths, size_t n, char *err, size_t errlen);
/* Reads what paths[0..n) appended (paths: the open's, and files found
 * since after them). @return 0; VX_GROW_WHOLE (the set cannot grow, or
 * out of memory: the index must not be used any more); or a negative error
 * with a message naming the file (one that cannot be read yet: the others
 * grew, and the index is whole as it stands). */
int vx_grow_more(vx_grow *g, char *const *paths, size_t n, int all, char *err, size_t errlen);
vx_index *vx_grow_index(const vx_grow *g);
/* Decoded bytes of every batch read so far (each is read once), and in
 * *events (if not NULL) the records' events. */
uint64_t vx_grow_decoded(const vx_grow *g, uint64_t *events);
/* free_index 0: the index stays the caller's (vx_free). */
void vx_grow_close(vx_grow *g, int free_index);

/* ==== The critical path of a region or a task (critical_path.c) ==============
 *
 * `ctrace why`: what a region instance (or a task) waited on, across
 * threads. Walking back from the target's end on its thread: a wait on a
 * lock, condition variable, semaphore or join goes to the thread that
 * released it (the WAIT event's waker: the arrow VX_FLOW_WAKE) at the
 * release, and what that thread did before it is walked back in turn; the
 * time from the release to the waiter's wake-up is the waiter's ("woken");
 * time a thread was runnable, in a system call, asleep or blocked for an
 * unknown reason is its own, from the state band (the scheduler's, or the
 * wrappers' spans without it); idle time between a thread's regions goes to
 * the thread that sent the arrow (ctrace_flow, a work item's unblock, the
 * thread's creation) the next region received, or, for a task, to the
 * thread where the task's previous region ran. The segments partition the
 * target's [start, end) exactly. */

typedef enum cr_state {
  CR_RUNNING = 1, /* on a CPU (scheduler data) */
  CR_RUNNABLE,    /* preempted or woken, waiting for a CPU */
  CR_SYSCALL,     /* in a system call (the kernel) */
  CR_SLEEP,       /* nanosleep & co. */
  CR_LOCK,        /* waiting on a lock, condvar, ... whose releaser is not known */
  CR_WOKEN,       /* released, not yet running again (the wake-up latency) */
  CR_BLOCKED,     /* off CPU, reason unknown */
  CR_UNKNOWN,     /* inside a region, no scheduler data: running or runnable */
  CR_IDLE,        /* between regions, no scheduler data, no arrow explains it */
  CR_CUT          /* not followed further (the path's depth or size limit) */
} cr_state;
const char *cr_state_name(cr_state s);

typedef enum cr_via {
  CR_VIA_TARGET = 0, /* the target's own thread */
  CR_VIA_RELEASE,    /* released what the next thread waited on (info: wait kind, object) */
  CR_VIA_FLOW,       /* a ctrace_flow arrow to the next thread */
  CR_VIA_UNBLOCK,    /* a work item unblocked, run next there */
  CR_VIA_CREATE,     /* created the next thread */
  CR_VIA_TASK        /* the task's previous region ran here */
} cr_via;

typedef struct cr_segment {
  uint64_t start, dur;
  uint32_t track;         /* vx_track_get */
  uint32_t region;        /* label of the innermost region open then; UINT32_MAX: none */
  uint32_t to;            /* via != CR_VIA_TARGET: the track this thread's work led to */
  uint32_t nr;            /* CR_SYSCALL: syscall number (UINT32_MAX: unknown); CR_VIA_RELEASE:
                       the wait kind (CTRACE_FMT_WAIT_*); CR_LOCK: the wait kind */
  uint64_t object;        /* CR_VIA_RELEASE, CR_LOCK: the object waited on */
  uint32_t ran[3];        /* CR_RUNNABLE: the threads that ran most meanwhile (UINT32_MAX: none) */
  uint8_t state;          /* cr_state */
  uint8_t via;            /* cr_via: how the walk came to this thread */
  uint16_t release_known; /* CR_VIA_RELEASE: the release's time was recorded */
} cr_segment;

/* What is walked: a region instance or a task, [start, start + dur) on
 * track (for a task: the thread that ended it, or began it when it did not
 * end). */
typedef struct cr_target {
  uint32_t track;
  uint32_t label; /* region's label, or the task's */
  uint64_t start, dur;
  uint64_t task; /* a task's id; 0: a region */
} cr_target;

typedef struct cr_path {
  cr_segment *seg; /* in time order; their durations add up to the target's */
  size_t n;
  unsigned cut;           /* walks cut at the depth or size limit */
  unsigned missing_edges; /* waits whose releaser was not recorded */
  int sched;              /* the walked threads had scheduler data (runnable known) */
} cr_path;

typedef struct cr_graph cr_graph;
/* The arrows of x by destination, for any number of walks. NULL: out of memory. */
cr_graph *cr_graph_new(const vx_index *x);
void cr_graph_free(cr_graph *g);
/* The instances of the region called name that ended (not those a
 * truncated trace left open), by start. @return how many (0: none), or -1
 * out of memory. */
long cr_find_region(const vx_index *x, const char *name, cr_target **out);
/* The task with this id (in any process). @return 0, or -1 with a message. */
int cr_find_task(const vx_index *x, uint64_t id, cr_target *t, char *err, size_t errlen);
/* A task of the index as a target. */
cr_target cr_task_target(const vx_index *x, const vx_task *k);
/* A slice at depth d of thread track tr as a target. */
cr_target cr_slice_target(uint32_t tr, const vx_slice *s);
/* Walks t's critical path into p (cr_path_free). @return 0, or -1 out of memory. */
int cr_walk(const cr_graph *g, const cr_target *t, cr_path *p);
void cr_path_free(cr_path *p);

/* The path's time folded by (thread, innermost region), largest first. */
typedef struct cr_fold_row {
  uint32_t track, region; /* region UINT32_MAX: none */
  uint64_t dur;
} cr_fold_row;
/* Adds p's segments to the rows (*rows grown with realloc; sorted by
 * cr_fold_sort). @return 0, or -1 out of memory. */
int cr_fold_add(const cr_path *p, cr_fold_row **rows, size_t *n);
void cr_fold_sort(cr_fold_row *rows, size_t n);

/* What `ctrace why --json` and the viewer's /api/why say
 * (critical_path_json.c): {"target": {"name", "tid", "thread", "track",
 * "start_ns", "dur_ns", ["task"], ["instances", "total_ns"]}, "path":
 * [{"tid", "thread", "track", "state", "region", "start_ns", "dur_ns",
 * "via", ["ran"]}...], "by_region": [{"tid", "thread", "track", "region",
 * "dur_ns", "share"}...], "missing_edges", "scheduler_data"}; instances > 1
 * for a fold over several (total: their durations). NULL: out of memory. */
struct cJSON;
struct cJSON *cr_json(const vx_index *x, const cr_target *t, size_t instances, uint64_t total,
                      const cr_path *p, const cr_fold_row *rows, size_t nrows);
/* A segment's state ("syscall read", "waiting (mutex wait)") and how the
 * walk came to its thread ("mutex wait 0x.. released for main (12)"; "-"
 * on the target's own thread). */
void cr_state_text(const cr_segment *s, char *buf, size_t n);
void cr_via_text(const vx_index *x, const cr_segment *s, char *buf, size_t n);
/* "name (tid)" of a track; the name of a region label ("(no region)"). */
void cr_thread_text(const vx_index *x, uint32_t track, char *buf, size_t n);
const char *cr_region_name(const vx_index *x, uint32_t label);
/* ==== Comparing two sets of traces (diff.c) ============================================= */

/* `ctrace diff BASE... -- NEW...`: the regions, tasks, waits and system
 * calls of two indexes matched by kind and name, with their count, total,
 * p50 and p99 on each side, and whether the chosen metric got worse by more
 * than a threshold with a difference that the instances' spread makes
 * significant:
 * - p50, p99: a two-sided Mann-Whitney U test of the two sides' durations
 *   (exact when both have at most DF_EXACT_MAX instances and no tie, else
 *   the normal approximation with tie and continuity corrections); a
 *   regression also needs the new durations to be the larger (U). p99
 *   also needs its tail to have moved: of the side with the larger p99,
 *   the instances above the other side's p99, against their exact
 *   distribution when both sides are alike (df_exceed); p is the larger
 *   of the two (both must be below alpha). A shift of the bulk too small
 *   to matter (the U test finds 0.1 us in 300 us) with one slow outlier
 *   on the new side is not a p99 regression.
 * - count: the two counts as Poisson counts of equal exposure (the same
 *   workload): given their sum n, the new one is Binomial(n, 1/2) (exact).
 * - total: both tests, Bonferroni-combined (p = 2 x the smaller, at most
 *   1); a regression needs the significant one to point up.
 * Functions, when the traces hold CPU samples (cp_top: count = the
 * samples where the function is on the stack, total = their CPU time,
 * no percentiles): only count and total are tested, by the Poisson test
 * alone (when both sides sampled at one period).
 * Sides with too few instances for any p below alpha (2 / C(m+n, m) >
 * alpha: 3 against 3 can never be) are not tested. Durations are of whole
 * slices (tasks: those that ended). Knows nothing of the command line. */
typedef enum { DF_P50, DF_P99, DF_TOTAL, DF_COUNT } df_metric;
typedef enum { DF_REGION, DF_TASK, DF_WAIT, DF_SYSCALL, DF_FUNCTION } df_kind;
typedef enum { DF_BOTH, DF_ADDED, DF_REMOVED } df_presence; /* ADDED: only in the new traces */
#define DF_EXACT_MAX 20 /* instances per side for the exact U distribution */

/* "p50", "p99", "total", "count" <-> the metric. @return 0, or -1 for another name. */
int df_metric_parse(const char *s, df_metric *m);
const char *df_metric_name(df_metric m);
const char *df_kind_name(df_kind k); /* "region", "task", "wait", "syscall", "function" */

#define DF_THRESHOLD 10.0 /* ctrace diff's default --threshold */
#define DF_ALPHA 0.01     /* the tests' level */
typedef struct df_options {
  df_metric metric;
  double threshold_pct;   /* a regression is a change above this many percent */
  uint64_t min_change_ns; /* ... and (durations) above this many ns (0: any) */
  double alpha;           /* the tests' level (DF_ALPHA when 0) */
} df_options;

typedef struct df_side {
  uint64_t count, total, p50, p99; /* ns; percentiles as st_region's (nearest rank) */
  int estimated;                   /* p50/p99 from the sketch (more than 4096 instances) */
} df_side;

typedef struct df_row {
  char *name; /* owned */
  df_kind kind;
  df_presence presence;
  df_side base, next;
  double delta_pct; /* the metric's change: (next - base) / base x 100; NAN when base's is 0 */
  double p_value;   /* NAN: not tested (one side only, or too few instances) */
  int too_few;      /* not tested: too few instances for a p below alpha */
  int significant;  /* p_value < alpha, either way */
  int regressed;    /* significant, worse, and delta_pct > threshold */
  int improved;     /* significant, better, and delta_pct < -threshold */
} df_row;

typedef struct df_report {
  df_options o; /* as used (defaults filled in) */
  df_row *rows; /* the regressed first, then by delta_pct (largest first), added and removed last */
  size_t nrows, nregressed;
} df_report;

/* Compares next against base into *r (df_free it). @return 0, or -1 with a
 * message (out of memory, CPU samples that cannot be profiled). */
int df_compute(const vx_index *base, const vx_index *next, const df_options *o, df_report *r,
               char *err, size_t errlen);
void df_free(df_report *r); /* accepts a zeroed report */

/* The report as an aligned table (per row: base -> new and the change of
 * count, total, p50, p99; p; a verdict), regressions first; the first
 * `top` rows (0: all), every regression at least. @return 0, or -1 when
 * writing failed. */
int df_print_text(FILE *f, const df_report *r, size_t top);
/* {"metric", "threshold_pct", "min_change_ns", "alpha", "regions": [{"name", "kind", "status",
 * "base": {"count", "total_ns", "p50_ns", "p99_ns"}, "new": {...}, "delta_pct",
 * "p_value", "significant", "regressed", ...}], "regressed": [names]};
 * NULL when out of memory. */
struct cJSON *df_json(const df_report *r);

/* The tests. df_mann_whitney: the two-sided p of the U test of a against
 * b, runs of ascending values (quantile.h's qt_run: a value and how many
 * times it occurs); *exact (if not NULL) 1 when from the exact
 * distribution; *u (if not NULL) U of b, the pairs (a_i, b_j) with b_j >
 * a_i, ties counting 1/2; 1 when either is empty. df_poisson: the
 * two-sided p that counts a and b come from one rate. df_exceed: below.
 * df_min_p: the least
 * p the U test can give m against n instances. */
struct qt_run;
double df_mann_whitney(const struct qt_run *a, size_t na, const struct qt_run *b, size_t nb,
                       int *exact, double *u);
double df_poisson(uint64_t a, uint64_t b);
/* P(X >= x), X the number of m new values above the k-th smallest of n
 * base values when all n + m come from one distribution (no ties). */
double df_exceed(uint64_t n, uint64_t k, uint64_t m, uint64_t x);
double df_min_p(uint64_t m, uint64_t n);

#endif /* CTRACE_ANALYSIS_H */
