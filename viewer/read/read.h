/* The tools' reader (viewer/read): every trace ctrace reads, as one typed
 * event stream that every consumer reads alike (the exporter, the index and
 * its analyses). Three parts:
 *
 *   1. ctrace files, as they are on disk (native_reader.c: rd_*);
 *   2. typed events (te_*): a set of traces read source by source, whatever
 *      their format (set.c; native_events.c, kernel_events.c, ctf_events.c,
 *      json_events.c decode each format), and an event log (event_log.c);
 *   3. what the LTTng reader counted (ctf_stats).
 */
#ifndef CTRACE_READ_H
#define CTRACE_READ_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"

/* ==== 1. ctrace files ==================================================================== */

/* The trace reader: decodes a ctrace file (docs/format.md) into per-thread
 * event streams and one time-ordered stream (k-way merge).
 *
 * rd_open() makes one pass over the file: it checks every record's framing
 * and CRC, loads the definitions and clock sync points, and indexes the
 * event batches without decoding them. Streams then decode one batch at a
 * time, so memory stays flat however long the trace. A file that is cut
 * short or corrupt is read up to its last good record and rd_problem() says
 * where and why; rd_open() fails only when nothing could be read.
 *
 * Not thread-safe: one rd_trace and its streams belong to one thread.
 */

typedef struct rd_trace rd_trace;
typedef struct rd_stream rd_stream;
typedef struct rd_merge rd_merge;
typedef struct rd_samples rd_samples; /* (native_samples.c) */

typedef struct rd_site {
  uint32_t id;
  uint32_t kind; /* CTRACE_FMT_SITE_* */
  uint32_t line;
  int defined;    /* 0: referenced but never defined (placeholder name) */
  uint32_t index; /* dense: 0, 1, 2... in order of first sight (for caches) */
  const char *name;
  const char *file;
  const char *func;
} rd_site;

typedef struct rd_thread {
  uint32_t serial;  /* unique in the process */
  int tid;          /* kernel thread id (0 if never defined) */
  const char *name; /* name when it first recorded ("" if none) */
  int defined;      /* DEF_THREAD seen */
  int ended;        /* DEF_THREAD_END seen: the thread exited */
  int kernel;       /* the kernel stream (serial 0): K_* events, by tid */
  uint64_t dropped; /* dropped events per THREAD_END / END (0 if unknown) */
  size_t nbatches;
  uint64_t raw_bytes; /* decoded size of its batches */
} rd_thread;

/* DEF_CAPTURE: what was recorded besides the program's own events. */
typedef struct rd_capture {
  int present;  /* the trace says (ctrace run, or CTRACE_* settings) */
  int syscalls; /* CTRACE_FMT_CAP_* */
  int sched;
  int heap, locks;
  const char *why; /* what could not be captured ("" or NULL) */
} rd_capture;

typedef struct rd_span {
  int tid;
  int whole; /* the thread is the tracer's (its writer) */
  uint64_t from, to;
} rd_span;

typedef struct rd_event {
  uint64_t ts;     /* CLOCK_MONOTONIC nanoseconds */
  uint64_t tick;   /* the raw timestamp, in clock ticks */
  uint32_t thread; /* index for rd_thread_get() */
  uint8_t type;    /* CTRACE_FMT_EV_* */
  uint64_t arg[CTRACE_FMT_EVENT_MAX_VARINTS];
  const char *str; /* the string argument; valid until the next call on the stream */
  uint32_t str_len;
} rd_event;

#define RD_OPEN_NO_CRC 0x1 /* skip CRC checks (fuzzing only) */

/* Opens a trace file. On failure returns a negative CTRACE_E* / -errno and
 * writes a message naming what and where into err. */
int rd_open(const char *path, unsigned flags, rd_trace **out, char *err, size_t errlen);
/* Same over a buffer the caller keeps alive until rd_close(). */
int rd_open_mem(const void *data, size_t len, unsigned flags, rd_trace **out, char *err,
                size_t errlen);
void rd_close(rd_trace *tr); /* accepts NULL */

/* A message if the file was not read to a clean end: truncated, corrupt, no
 * END record, or a stream that failed to decode (see rd_stream_next). */
const char *rd_problem(const rd_trace *tr);

/* What kind of problem rd_problem() reports (the first one noted). */
typedef enum rd_problem_kind {
  RD_PROBLEM_NONE = 0,  /* the file was read to a clean end */
  RD_PROBLEM_NO_END,    /* no END record: the writer did not finish (still writing, or killed) */
  RD_PROBLEM_TRUNCATED, /* the last record is cut short at the end of the file */
  RD_PROBLEM_CORRUPT,   /* a record failed its checks (sync word, sizes, checksum, content) */
  RD_PROBLEM_DECODE,    /* a thread's batch failed to decode while streaming */
  RD_PROBLEM_IO,        /* a read error */
  RD_PROBLEM_NOMEM      /* out of memory */
} rd_problem_kind;

/* The kind of the problem rd_problem() reports; RD_PROBLEM_NONE if none.
 * Like rd_problem(), it may change from NONE once streams are read. */
rd_problem_kind rd_problem_kind_of(const rd_trace *tr);
/* Byte offset up to which the file was valid. */
uint64_t rd_valid_bytes(const rd_trace *tr);
uint64_t rd_file_size(const rd_trace *tr);
int rd_complete(const rd_trace *tr); /* END record present and nothing lost */

int rd_pid(const rd_trace *tr);
const char *rd_process_name(const rd_trace *tr);
const char *rd_command_line(const rd_trace *tr);
int rd_clock_kind(const rd_trace *tr);
/* Why the tracer chose its clock ("tsc: invariant ...", "monotonic: ..."),
 * or NULL when the trace does not say (traces before DEF_CLOCK). */
const char *rd_clock_why(const rd_trace *tr);

/* CPU samples (FILE.kernel of `ctrace run --cpu-hz N`): the rate (0: the
 * trace has none), the CPU time each stands for and how they were taken
 * (NULL: not said). */
unsigned rd_sampling(const rd_trace *tr, uint64_t *period_ns, const char **method);
/* Code mapped in the traced processes, as recorded: what symbolizes the
 * samples' addresses. */
typedef struct rd_mapping {
  int pid;
  uint64_t start, end, offset; /* [start, end) maps the file from offset */
  const char *path;
  const char *build_id; /* hex; "" not known */
} rd_mapping;
size_t rd_mappings(const rd_trace *tr, const rd_mapping **out);
/* The addresses of stack id, innermost first (the sampled instruction, then
 * return addresses; kernel frames, at CTRACE_FMT_KERNEL_ADDR_MIN and up,
 * before the user ones), in *n; NULL and 0 for id 0 or an unknown id. */
const uint64_t *rd_stack(const rd_trace *tr, uint32_t id, unsigned *n);
/* Heap profiles: the mean bytes between two sampled allocations (1: each
 * one; 0: the trace has no heap samples) and how their stacks were taken
 * (NULL: not said). */
uint64_t rd_heap_sampling(const rd_trace *tr, const char **method);
/* The kernel functions the stacks' kernel frames are in, as the recording
 * machine's /proc/kallsyms named them (DEF_KSYM), in the order recorded. */
typedef struct rd_ksym {
  uint64_t start, size; /* [start, start + size) */
  const char *name;
  const char *module; /* "" the kernel itself */
} rd_ksym;
size_t rd_kernel_symbols(const rd_trace *tr, const rd_ksym **out);
unsigned rd_format_minor(const rd_trace *tr);
/* The file header's CTRACE_FMT_FF_* flags (CTRACE_FMT_FF_FLIGHT: a flight
 * recorder's dump, the last window of a longer session). */
uint32_t rd_file_flags(const rd_trace *tr);
uint64_t rd_start_ns(const rd_trace *tr);      /* CLOCK_MONOTONIC at start */
uint64_t rd_start_real_ns(const rd_trace *tr); /* CLOCK_REALTIME at start */
size_t rd_clock_points(const rd_trace *tr);
/* Dropped events the writer reported at stop (END record), or the sum of
 * exited threads' counts when there is no END record. */
uint64_t rd_dropped_reported(const rd_trace *tr);

const rd_capture *rd_capture_get(const rd_trace *tr);
/* 1 if a system call of tid at ns was the tracer's own work (its start,
 * its writer thread, its stop), not the program's. */
/* 2 if the thread is the tracer's (whole), 1 if ns is in one of its
 * spans, else 0. */
int rd_spans_cover(const rd_span *spans, size_t n, int tid, uint64_t ns);
/* Spans of several traces: a stop span "to the end" ends where the next
 * image on that thread (after an exec) starts its own. */
void rd_spans_clip(rd_span *spans, size_t n);
/* A successful execve of tid that started at ns ends its spans there (what
 * follows is the new image's). */
void rd_spans_exec(rd_span *spans, size_t n, int tid, uint64_t ns);
/* All of them. */
size_t rd_tracer_spans(const rd_trace *tr, const rd_span **spans);

size_t rd_thread_count(const rd_trace *tr);
const rd_thread *rd_thread_get(const rd_trace *tr, size_t i);
size_t rd_batch_count(const rd_trace *tr);

/* A site by id; undefined ids get a placeholder ("site#12"), never NULL.
 * The pointer is valid until the next rd_site_get() call. Memory grows with
 * the number of distinct ids, never with their values. */
const rd_site *rd_site_get(rd_trace *tr, uint64_t id);
/* An interned string by id; unknown ids give "string#12". 0 gives "". The
 * pointer is valid until the next rd_string*() call. */
const char *rd_string(rd_trace *tr, uint64_t id, size_t *len);
/* Dense index of a string id (for caches), UINT32_MAX for 0 or invalid. */
uint32_t rd_string_index(rd_trace *tr, uint64_t id);
/* The sites and strings known so far, by dense index (for matching names
 * once rather than per event): NULL past the end; rd_string_at also NULL
 * for a placeholder (an id never defined), else its id and length. */
size_t rd_site_count(const rd_trace *tr);
const rd_site *rd_site_at(const rd_trace *tr, size_t i);
size_t rd_string_count(const rd_trace *tr);
const char *rd_string_at(const rd_trace *tr, size_t i, uint64_t *id, size_t *len);

/* CLOCK_MONOTONIC ns of a tick (piecewise linear over the sync points). */
uint64_t rd_tick_to_ns(const rd_trace *tr, uint64_t tick, size_t *hint);

/* Events of thread i in recording order. */
rd_stream *rd_stream_open(rd_trace *tr, size_t thread);
/* The same from the thread's batch `batch` on (0 .. rd_thread.nbatches;
 * its first event's tick is the batch's base). Streams share the trace's
 * decoder unless opened with RD_STREAM_OWN: such streams have their own and
 * may be read on different threads at once (each stream on one thread;
 * nothing else may use the trace meanwhile except rd_tick_to_ns and other
 * RD_STREAM_OWN streams). NULL: no such thread or batch, or no memory. */
#define RD_STREAM_OWN 0x1
rd_stream *rd_stream_open_at(rd_trace *tr, size_t thread, size_t batch, unsigned flags);
/* The thread's batch (0-based) that the last event read came from. */
size_t rd_stream_batch(const rd_stream *s);
/* @return 1 and fills ev, 0 at the end, or a negative error (the stream
 * then stops; rd_problem() describes it). */
int rd_stream_next(rd_stream *s, rd_event *ev);
void rd_stream_close(rd_stream *s);

/* Every thread's events in time order (ties: by thread, then recording
 * order). Same return values as rd_stream_next; an error in one thread's
 * stream ends that stream only (and is reported through rd_problem). */
rd_merge *rd_merge_open(rd_trace *tr);
int rd_merge_next(rd_merge *m, rd_event *ev);
void rd_merge_close(rd_merge *m);

/* ==== 3. What the LTTng reader counted (ctf_events.c) ==================================== */

/* LTTng traces (CTF, read through libbabeltrace2): what the reader behind a
 * set's LTTng sources (ctf_events.c, te__ctf_read in read_internal.h) counted,
 * for `ctrace info` and the exporter's otherData. The events themselves
 * come as typed events (below), mapped as the native events of the same
 * kind: docs/lttng.md ("Reading LTTng traces") has the mapping. */

typedef struct ctf_count {
  char *name; /* event name, "provider:event" */
  uint64_t n;
} ctf_count;

typedef struct ctf_process {
  int pid;
  char *name; /* procname (LTTng's context or trace environment), or "" */
  uint64_t events;
  uint32_t threads;
  uint64_t discarded; /* events LTTng discarded that are attributed to it */
} ctf_process;

typedef struct ctf_stats {
  uint64_t events_read;       /* CTF events decoded */
  uint64_t discarded;         /* events LTTng discarded (its buffers were full) */
  uint64_t discarded_packets; /* packets lost (e.g. by a live session) */
  uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC time of the first and last event */
  size_t ntraces;             /* CTF traces found under the directory */
  char **paths;               /* ... their directories (ntraces), sorted */
  ctf_count *by_name;         /* events per name, sorted by name */
  size_t nnames;
  ctf_process *procs; /* by order of their first event */
  size_t nprocs;
  int kernel; /* a kernel trace was among them */
} ctf_stats;

/* Whether this build reads CTF at all (libbabeltrace2 was found). */
int ctf_supported(void);

void ctf_stats_free(ctf_stats *stats);

/* ==== 2. Typed events ===================================================================== */

/* Typed trace events: what every input (ctrace files and their FILE.kernel,
 * LTTng's CTF traces, Chrome trace-event JSON) is read into, and what every
 * consumer (the Chrome JSON exporter, the viewer's index and through it the
 * analyses) reads. One struct per event, never text: a consumer does not
 * know which format an event came from, only what it says.
 *
 * A set (te_set) is the traces of one view or one export: opened together,
 * because a kernel stream needs the other traces' threads (whose process a
 * tid is, which work was the tracer's own). te_set_read() then streams every
 * source's events, source by source in the order given, to a handler.
 *
 * Times are CLOCK_MONOTONIC nanoseconds for ctrace and LTTng traces, and
 * the JSON's microseconds x 1000 for Chrome JSON. Strings and labels an
 * event points to are valid during the handler's call only, unless said. */

typedef enum te_type {
  TE_SOURCE_BEGIN = 1, /* a source starts (te_source says which) */
  TE_SOURCE_END,       /* it ended: its te_source now has its counts and problem */
  TE_PROCESS,          /* a process's name: pid, name (NULL: unknown); again if it changes */
  TE_THREAD,           /* a thread's name: pid, tid, name (NULL: unnamed), sort (TE_F_SORT);
                          again when renamed; TE_F_IMPLICIT: known only from the kernel,
                          the source does not declare it (name is a suggestion) */
  TE_BEGIN,            /* a region or GC-like phase begins on the thread: label, task */
  TE_END,              /* the innermost open one ends: label (of the one that ends; NULL
                          when the source does not say: Chrome JSON) */
  TE_SLICE,            /* a complete slice [ts, ts + dur): label, args, task */
  TE_INSTANT,          /* label; TE_F_PROCESS: process-wide */
  TE_LOG,              /* log: category, message, task, cut */
  TE_COUNTER,          /* counter: name, value */
  TE_HEAP,             /* heap: live, allocated, thread_bytes */
  TE_HEAP_SET,         /* heap_set: the program's own numbers, live and goal */
  TE_TASK_BEGIN,       /* task: id, parent, name */
  TE_TASK_END,         /* task: id, name (NULL when its beginning was not seen) */
  TE_FLOW,             /* flow: an arrow's end (TE_F_FLOW_END) or start, id and kind */
  TE_SYSCALL,          /* syscall: [ts, ts + dur), nr, name, arg, ret; TE_F_KERNEL */
  TE_WAIT,             /* wait: [ts, ts + dur) blocked on a lock, condvar, join...; who released */
  TE_STATE,            /* state: the thread's scheduler state over [ts, ts + dur) */
  TE_ITEM_RUN,         /* item: a user-level work item starts running on the thread */
  TE_ITEM_STOP,        /* item: it stops running there */
  TE_DROPPED,          /* dropped: events the tracer lost, and how it knows */
  TE_SAMPLE,           /* sample: the thread was on a CPU at ts, with this call stack
                          (TE_F_PARTIAL: not unwound to its outermost frame) */
  TE_HEAP_SAMPLE,      /* heap_sample: a sampled allocation, with its call stack */
  TE_HEAP_FREE,        /* heap_sample (addr only): a sampled block is freed */
  TE_TYPE_COUNT_
} te_type;

/* te_event.flags */
#define TE_F_SORT 0x1        /* TE_THREAD: sort is set (the thread's first announcement) */
#define TE_F_IMPLICIT 0x2    /* TE_THREAD: not declared by its source (see above) */
#define TE_F_PROCESS 0x4     /* TE_INSTANT, TE_DROPPED: process-wide, on no thread (tid 0) */
#define TE_F_KERNEL 0x8      /* TE_SYSCALL: recorded by the kernel, not a wrapper */
#define TE_F_FLOW_END 0x10   /* TE_FLOW: the arrow's end (else its start) */
#define TE_F_RELEASE 0x20    /* TE_WAIT: wait.release_ts is known (an arrow can be drawn) */
#define TE_F_AT_EXIT 0x40    /* TE_STATE: ended by the thread's own exit */
#define TE_F_GROUP_EXIT 0x80 /* TE_STATE: ended because its whole process exited */
#define TE_F_TO_END 0x100    /* TE_STATE: still so at the end of the source (dur unknown) */
#define TE_F_CUT 0x200       /* TE_LOG: the message was cut to the format's limit */
#define TE_F_PARTIAL 0x400   /* TE_SAMPLE: the stack was not unwound to its end */

/* Where a slice goes among the thread's others (te_event.depth). */
/* clang-format off */
#define TE_DEPTH_NEST 0xffffu   /* not known: nest it by time among the thread's slices of
                                   its source (Chrome JSON) */
#define TE_DEPTH_INSIDE 0xfffeu /* inside whatever regions hold it, once all are known (the
                                   kernel's system calls) */
/* clang-format on */

/* What a slice or an instant is called and where it comes from. */
typedef struct te_label {
  const char *name;
  const char *cat;  /* "region", "instant", "gc", "thread", "sched", or a JSON's own */
  const char *file; /* call site ("" or NULL: none) */
  const char *func;
  uint32_t line;
  uint32_t key; /* nonzero: the same key is the same label for the whole source (a call
                       site, or an interned name); 0: known by name and cat only */
} te_label;

/* What an arrow stands for (TE_FLOW). */
typedef enum te_flow_kind {
  TE_FLOW_USER = 0,   /* the program's own (ctrace_flow_*, a JSON flow) */
  TE_FLOW_THREAD = 1, /* a thread created -> it starts */
  TE_FLOW_UNBLOCK = 3 /* a work item made runnable -> its next run */
} te_flow_kind;

/* Scheduler states (TE_STATE). */
typedef enum te_state {
  TE_ST_RUNNING = 1,  /* on a CPU */
  TE_ST_RUNNABLE = 2, /* preempted, waiting for a CPU */
  TE_ST_OFF = 6       /* off CPU, blocked (why is not said) */
} te_state;

/* How a TE_DROPPED knows. */
typedef enum te_drop_kind {
  TE_DROP_MARKED = 1,   /* a DROPPED event on the thread: n lost since `since` */
  TE_DROP_AT_STOP,      /* the thread's count at stop that no event marks (where: unknown) */
  TE_DROP_NO_THREAD,    /* lost on threads that never recorded anything (process-wide) */
  TE_DROP_KERNEL,       /* the kernel lost n records (its ring buffer was full) */
  TE_DROP_LTTNG,        /* LTTng discarded n events (0: some) between since and ts */
  TE_DROP_LTTNG_PACKETS /* LTTng lost n whole packets (0: some) */
} te_drop_kind;

typedef struct te_event {
  uint8_t type;          /* TE_* */
  uint16_t flags;        /* TE_F_* */
  uint16_t depth;        /* open regions on the thread when it happened: TE_BEGIN, TE_SLICE,
                     TE_SYSCALL, TE_WAIT (the depth it goes at), TE_FLOW (0: outside any),
                     or TE_DEPTH_* */
  int pid, tid;          /* tid 0: the process's (TE_F_PROCESS) */
  uint64_t ts;           /* when it happened, or began */
  uint64_t dur;          /* TE_SLICE, TE_SYSCALL, TE_WAIT, TE_STATE */
  const te_label *label; /* TE_BEGIN, TE_END, TE_SLICE, TE_INSTANT */
  const char *args;      /* TE_BEGIN, TE_SLICE: the JSON object of a JSON event's args, or NULL */
  uint64_t task;         /* TE_BEGIN, TE_SLICE, TE_LOG: the task it belongs to (0: none) */
  union {
    struct {
      const char *name;
      int sort;
    } thread; /* TE_PROCESS, TE_THREAD */
    struct {
      const char *category, *message;
      size_t len;
    } log;
    struct {
      const char *name;
      double value;
      int64_t ivalue;
    } counter; /* ivalue: value as
                                                              an integer, when it is one */
    struct {
      int64_t live;
      uint64_t allocated, thread_bytes;
    } heap; /* thread_bytes: what
                                   this thread allocated since its previous TE_HEAP */
    struct {
      uint64_t live, goal;
    } heap_set;
    struct {
      uint64_t id, parent;
      const char *name;
    } task_ev; /* TE_TASK_BEGIN, TE_TASK_END */
    struct {
      uint64_t id;
      uint8_t kind;
    } flow; /* te_flow_kind */
    struct {
      long nr;
      const char *name;
      uint64_t arg;
      int64_t ret;
    } syscall; /* name: the
                                   source's own name when te_syscall_name(nr) has none, else
                                   NULL; nr -1: not known */
    struct {
      unsigned kind;
      uint64_t object;
      int waker_pid, waker_tid;
      uint64_t release_ts;
    } wait; /* kind: CTRACE_FMT_WAIT_* (0: not known); waker_tid 0: who released it is
                 not known */
    struct {
      uint8_t state;
      int cpu;
    } state; /* te_state; cpu -1: not known */
    struct {
      uint64_t id;
      const char *name;
    } item; /* name NULL: never named */
    struct {
      uint8_t kind;
      uint64_t n, since;
      const char *stream;
      int shared;
    } drop;
    /* since 0: unknown; stream, shared: LTTng's (shared: per-user buffers, whose
           events they were is not known) */
    struct {
      const uint64_t *pcs; /* innermost first: the sampled instruction, then return
                              addresses (te_source's native trace owns them) */
      unsigned n;
      uint32_t stack;  /* its id in the trace (0: empty) */
      uint64_t period; /* CPU ns the sample stands for */
      int cpu;         /* the CPU it ran on (its last switch in), -1 not known */
    } sample;
    struct {
      uint64_t addr;       /* the block (TE_HEAP_FREE: only this) */
      uint64_t bytes;      /* asked of the allocator */
      const uint64_t *pcs; /* innermost first: an address inside the call to the
                              allocator, then return addresses */
      unsigned n;
      uint32_t stack; /* its id in the trace (0: none) */
      uint64_t rate;  /* mean bytes between samples (1: every allocation) */
    } heap_sample;
  } u;
} te_event;

/* A source: one trace file, one LTTng trace directory or live session, or
 * one Chrome JSON file. Fields marked (end) are final at TE_SOURCE_END. */
typedef struct te_source {
  const char *path;
  const char *format;  /* "ctrace", "ctrace-kernel" (ctrace run's FILE.kernel), "lttng-ctf",
                           "lttng-live", "chrome-json" */
  int pid;             /* its process (0: several or unknown) (end) */
  const char *process; /* its name ("" unknown) (end; Chrome JSON's is valid until its
                           TE_SOURCE_END returns: copy it) */
  rd_capture capture;  /* what was recorded besides the program's own events */
  uint64_t events;     /* events read from it (end) */
  uint64_t dropped;    /* events its tracer lost, as it reported them (end) */
  int complete;        /* read to its end, nothing lost (end) */
  const char *problem; /* why not, or NULL (end) */
  rd_problem_kind problem_kind; /* RD_PROBLEM_* (end) */
  uint64_t first_ts, last_ts;   /* the span of what it recorded, when it says (end; 0 0: from
                                 the events) */
  uint64_t unmatched_ends;      /* region ends with no open region (end) */
  uint64_t open_regions;        /* regions never closed (end) */
  rd_trace *native;             /* ctrace files: the reader, for what only they say (file layout,
                           clock, command line); NULL for the others */
  const ctf_stats *ctf;         /* LTTng: what the converter counted (end), else NULL */
} te_source;

/* The handler: 0 to go on, or a negative error that stops te_set_read. */
typedef int (*te_handler)(void *arg, const te_source *src, const te_event *ev);

typedef struct te_set te_set;

/* te_set_open flags */
#define TE_CTRACE_ONLY 0x1 /* files must be ctrace traces (no Chrome JSON): `ctrace export` */
#define TE_NO_CRC 0x2      /* skip the ctrace files' checksums (fuzzing) */

/* Opens the traces of paths (each a ctrace file, a FILE.kernel, an LTTng
 * trace directory or live URL (net://...), or a Chrome JSON file; the kind
 * is found from the content). ctrace files are opened and checked here;
 * LTTng traces and JSON are read by te_set_read. @return the set, or NULL
 * with a message naming the file and the problem in err. */
te_set *te_set_open(char *const *paths, size_t n, unsigned flags, char *err, size_t errlen);
void te_set_close(te_set *s); /* accepts NULL */
/* A set of one ctrace trace already open (the set does not close it): for
 * traces read from memory (rd_open_mem). @return NULL when out of memory. */
te_set *te_set_of_trace(rd_trace *tr, const char *name);

/* The sources, in the order they will be read. Valid until te_set_close. */
size_t te_set_count(const te_set *s);
const te_source *te_set_source(const te_set *s, size_t i);

/* paths, each followed by its FILE.kernel (ctrace run's kernel events) where
 * that exists and is not among paths already. *added[i] (malloc'd array of
 * *nout) says which were added. @return the new array (the added strings
 * malloc'd; free with te_paths_free), or NULL when out of memory. */
char **te_paths_with_kernel(char *const *paths, size_t n, size_t *nout, int **added);
void te_paths_free(char **all, size_t n, int *added);

/* Streams every source's events to fn, TE_SOURCE_BEGIN ... TE_SOURCE_END
 * for each. Once per set. @return 0, the handler's error, or a negative
 * CTRACE_E* with a message in err naming the source (an LTTng trace that
 * cannot be read: CTRACE_ENOENT, CTRACE_EFORMAT, CTRACE_ECORRUPT; JSON that
 * does not parse: CTRACE_EFORMAT). A ctrace file cut short or corrupt is
 * not an error: its events up to the damage come, and its te_source says
 * what happened. */
int te_set_read(te_set *s, te_handler fn, void *arg, char *err, size_t errlen);
/* Streams source i's events alone, a ctrace file or a FILE.kernel (which
 * needs only what the set's other traces declare: their threads), instead
 * of te_set_read: the scale index reads the kernel's stream so. @return as
 * te_set_read (CTRACE_EINVAL: i is not such a source). */
int te_set_read_one(te_set *s, size_t i, te_handler fn, void *arg, char *err, size_t errlen);

/* Names: of an x86-64 system call (NULL if unknown), of a wait kind
 * ("mutex wait", ...), and the number of a system call's name (-1). */
const char *te_syscall_name(long nr);
const char *te_wait_name(unsigned kind);
long te_syscall_nr(const char *name);

/* ---- The readers behind a set (te_set_read calls them) ---------------------------- */

/* Chrome trace-event JSON (text[len] == '\0', the object form with
 * traceEvents or a bare array) as typed events, in the file's order, to fn.
 * src is filled as it goes (format "chrome-json", complete 1, pid and
 * process from the first process_name metadata, events: the trace events
 * of a kind ctrace shows). What ctrace's own exporter writes comes back
 * typed (system calls, waits, thread states, heap, logs, drops, work items,
 * a region's task): see json_events.c for the mapping.
 * @return 0, the handler's error, or CTRACE_EFORMAT with a message naming
 * where (malformed JSON: line, column and byte; no traceEvents array), or
 * CTRACE_ENOMEM. */
int te_json_read(const char *text, size_t len, te_source *src, te_handler fn, void *arg, char *err,
                 size_t errlen);

/* ---- An event log: events kept in memory, to be read again ------------------------ */
/* The LTTng live view keeps what arrived in one, and indexes it again as it
 * grows. Appending copies the event and its strings; events already in the
 * log never move, so a reader may read the first n while a writer appends
 * after them (the caller orders the two: a reader reads only a count it
 * was given after the appends it covers). */
typedef struct te_log te_log;
#define TE_LOG_MAX_SOURCES 64 /* sources one log holds */
te_log *te_log_new(void);
void te_log_free(te_log *l); /* accepts NULL */
/* Appends ev (of src: its source is kept once per change). @return 0 or CTRACE_ENOMEM. */
int te_log_append(te_log *l, const te_source *src, const te_event *ev);
size_t te_log_count(const te_log *l);
/* Streams the first n events to fn. @return 0 or the handler's error. */
int te_log_read(const te_log *l, size_t n, te_handler fn, void *arg);

/* ==== 4. Traces still being written ======================================================= */

/* A ctrace file that grows while it is read (`ctrace view --follow`):
 * rd_refresh() reads the records appended since rd_open() or the last
 * refresh (a record still being written at the end is simply not there
 * yet), adding their batches, definitions and clock points. @return 1 if
 * records were added, 0 if none (or the file ended, or its pass stopped at
 * damage), or a negative error (the file became shorter: it is not the
 * one that was read). */
int rd_refresh(rd_trace *tr);
/* The offset before which the file's batches are settled: every
 * definition they use is in the file and their times will not change as
 * clock points come (batches before the second-to-last CLOCK record: a
 * cycle's sites are defined in the next one). UINT64_MAX once the END
 * record is there. */
uint64_t rd_settled(const rd_trace *tr);
/* How many of thread i's batches begin before byte offset. */
size_t rd_batches_before(const rd_trace *tr, size_t thread, uint64_t offset);
/* The stream reads its thread's batches before `batch` only. */
void rd_stream_stop_at(rd_stream *s, size_t batch);
/* Decoded bytes of the batches the stream has loaded. */
uint64_t rd_stream_bytes(const rd_stream *s);
/* fstat of the file being read (to tell whether its path now names
 * another). @return 0, or a negative errno (-EINVAL: read from memory). */
struct stat;
int rd_fstat(const rd_trace *tr, struct stat *st);

/* A ctrace trace of a program's threads read as typed events as it grows
 * (native_events.c): each te_grow_read() streams what was appended since
 * the last one, its threads' settled batches (rd_settled; all of them when
 * `all`: the file is quiet) merged in time order, to fn: the events of
 * different threads come in time order within one read only. The first
 * read begins the source (TE_SOURCE_BEGIN); the read that reaches the END
 * record ends it (TE_SOURCE_END). Between reads, te_grow_source() says
 * what the source is so far (events, problem). */
typedef struct te_grow te_grow;
te_grow *te_grow_open(const char *path); /* NULL: out of memory */
/* @return 0, the handler's error, or a negative CTRACE_E* with a message
 * in err: the file cannot be opened yet; or CTRACE_EFORMAT, it cannot be
 * read so (it holds a kernel stream, or was cut shorter or replaced: read
 * it whole). */
int te_grow_read(te_grow *g, int all, te_handler fn, void *arg, char *err, size_t errlen);
const te_source *te_grow_source(const te_grow *g);
uint64_t te_grow_bytes(const te_grow *g);  /* decoded bytes of the batches read so far */
uint64_t te_grow_events(const te_grow *g); /* records' events decoded so far */
int te_grow_ended(const te_grow *g);       /* TE_SOURCE_END was sent */
void te_grow_close(te_grow *g);            /* accepts NULL */

#endif /* CTRACE_READ_H */
