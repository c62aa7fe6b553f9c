/* The viewer's in-memory index of one or more traces (ctrace files or Chrome
 * trace-event JSON): complete slices per thread and depth, counters,
 * instants, tasks and flows, in compact arrays sorted by time, so that a
 * window of the timeline can be answered at screen resolution without
 * touching events outside it. Built once (vx_build), then read-only: any
 * number of threads may query it at once.
 *
 * Times are CLOCK_MONOTONIC nanoseconds for ctrace traces and microseconds
 * x 1000 for JSON imports. */
#ifndef CTRACE_VIEWER_INDEX_H
#define CTRACE_VIEWER_INDEX_H

#include <stddef.h>
#include <stdint.h>

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
  VX_FLOW_USER = 0,    /* ctrace_flow_begin/end, or a JSON flow */
  VX_FLOW_THREAD = 1,  /* a thread created -> it starts */
  VX_FLOW_WAKE = 2,    /* a release -> the waiter wakes */
  VX_FLOW_UNBLOCK = 3  /* a work item made runnable -> its next run */
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
  uint8_t state; /* VX_ST_* */
  uint8_t derived; /* 1: from the wrappers' spans, not from the scheduler */
  uint16_t cpu;    /* VX_ST_RUNNING with scheduler data; else 0xffff */
  uint32_t pad;
} vx_state;

/* What a syscall or wait slice holds besides its name and time (the
 * slice's args field is VX_ARGS_INFO | index). */
#define VX_ARGS_INFO 0x80000000u
typedef struct vx_info {
  uint32_t nr;      /* syscall number, or the wait kind (CTRACE_FMT_WAIT_*) */
  uint8_t is_wait;
  uint8_t kernel;   /* from the kernel (complete mode), not a wrapper */
  uint16_t pad;
  uint64_t arg;     /* fd / the object waited on */
  int64_t ret;      /* syscall: result or -errno */
  uint32_t waker;   /* wait: the track that released the object, or UINT32_MAX */
  uint32_t pad2;
} vx_info;

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
  vx_slice *runs;   /* user-level items (ctrace_sched_*) run on it, label = the item */
  size_t nruns;
  vx_state *states; /* the state band, sorted */
  size_t nstates;
  vx_alloc *allocs; /* what this thread allocated, by HEAP event */
  size_t nallocs;
  /* VX_COUNTER */
  vx_sample *samples;
  size_t nsamples;
  double min, max;
  /* VX_TASKS: tasks of the process, sorted by start */
  vx_task *tasks;
  size_t ntasks;
  unsigned lanes;
  size_t cap_inst, cap_samples, cap_tasks, cap_runs, cap_states, cap_allocs; /* internal */
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
  char *problem; /* reader's message, or NULL */
  int problem_kind; /* rd_problem_kind (reader.h): RD_PROBLEM_NO_END... */
  uint64_t events;
  uint64_t dropped;
} vx_source;

/* Builds the index of these files (each a ctrace trace, a FILE.kernel, an
 * LTTng trace directory or a Chrome JSON file: events.h's te_set).
 * @return NULL and a message naming the file and the problem. */
vx_index *vx_build(char *const *paths, size_t n, char *err, size_t errlen);
/* The same of the first n events of an event log (the LTTng live view's
 * growing trace; a source not ended yet is indexed as it stands). */
struct te_log;
vx_index *vx_build_log(const struct te_log *log, size_t n, char *err, size_t errlen);
void vx_free(vx_index *x);
/* snprintf into an error buffer (the viewer's messages). */
void vx_errf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

size_t vx_track_count(const vx_index *x);
const vx_track *vx_track_get(const vx_index *x, size_t i);
size_t vx_source_count(const vx_index *x);
const vx_source *vx_source_get(const vx_index *x, size_t i);
const vx_label *vx_label_get(const vx_index *x, uint32_t label);
size_t vx_label_count(const vx_index *x);
const char *vx_log_message(const vx_index *x, uint32_t msg, uint64_t *task);
const char *vx_args(const vx_index *x, uint32_t args); /* JSON text or NULL */
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
size_t vx_memory(const vx_index *x);    /* bytes held by the index */
/* Regions of tasks, in the order they ended. */
const vx_task_region *vx_task_regions(const vx_index *x, size_t *n);
/* The task with this id (in any process), or NULL. */
const vx_task *vx_task_find(const vx_index *x, uint64_t id, int pid);

/* First index in a[0..n) whose end (start + dur) is >= t: slices at one
 * depth do not overlap, so their ends are sorted too. */
size_t vx_slice_lower(const vx_slice *a, size_t n, uint64_t t);

#endif /* CTRACE_VIEWER_INDEX_H */
