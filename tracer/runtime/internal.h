/* This file is private to the ctrace runtime (tracer/). Nothing here is API.
 *
 * Architecture, in one paragraph: every thread that records owns a
 * ctrace__thread and writes encoded events (docs/format.md) into the chunk it
 * holds, publishing the chunk's fill level with a release store after every
 * event. Chunks come from one fixed pool (the memory cap). A background
 * writer thread (writer.c) polls every thread: it compresses what was
 * published, appends it to the file as BATCH records, and returns finished
 * chunks to the pool. When the pool is empty a thread drops events, counts
 * them, and writes a DROPPED event once it gets a chunk again.
 */
#ifndef CTRACE_TRACER_INTERNAL_H
#define CTRACE_TRACER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "common.h"
#include "ctrace/ctrace.h"
#include "ctrace/format.h"

#define CTRACE__HIDDEN __attribute__((visibility("hidden")))
/* Internal, but exported: the preload wrappers (libctrace-preload.so) and
 * tests call these. Not API: may change with any version. */
#define CTRACE__EXPORT __attribute__((visibility("default")))

/* ctrace__active (declared in ctrace.h) is a plain int for C++ users of the
 * header; the library only touches it through these. */
/* Threads that are the tracer's, not the program's: the LTTng watcher
 * (tracer/runtime/lttng.c) and the threads of libraries the tracer loads
 * (liblttng-ust's listeners, created while the creating thread is inside
 * the tracer: the preload's pthread_create). The writer declares them as
 * whole tracer spans, so their system calls and scheduling are not shown
 * as the program's. A full table drops the rest. */
#define CTRACE__OWN_TIDS 16
extern CTRACE__HIDDEN int ctrace__own_tids[CTRACE__OWN_TIDS];
extern CTRACE__HIDDEN int
    ctrace__own_pids[CTRACE__OWN_TIDS]; /* (a forked child drops the parent's) */
extern CTRACE__HIDDEN int ctrace__own_ntids;
CTRACE__EXPORT void ctrace__own_tid_add(int tid);
/* Its bits: a native session records (CTRACE__ON_NATIVE), an LTTng session
 * has one of the ctrace:* tracepoints enabled (CTRACE__ON_LTTNG, kept by
 * tracer/runtime/lttng.c). The public macros call in when any bit is set. */
#define CTRACE__ON_NATIVE 1
#define CTRACE__ON_LTTNG 2
#define CTRACE__ACTIVE() (__atomic_load_n(&ctrace__active, __ATOMIC_SEQ_CST) & CTRACE__ON_NATIVE)
#define CTRACE__ACTIVE_RELAXED() \
  (__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED) & CTRACE__ON_NATIVE)
#define CTRACE__LTTNG_ON() (__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED) & CTRACE__ON_LTTNG)
/* Anything to record: native or LTTng. */
#define CTRACE__ANY_ON() __atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)

/* ---- clock.c ---------------------------------------------------------------- */

/* Nonzero when ticks are TSC cycles; else CLOCK_MONOTONIC ns. Written by
 * ctrace_start() before tracing is enabled, read-only while tracing. */
extern CTRACE__EXPORT int ctrace__clock_tsc;

static inline uint64_t ctrace__mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Out of line, so the TSC fast path needs no stack frame (exported: the
 * preload wrappers inline the fast path). */
CTRACE__EXPORT uint64_t ctrace__mono_ticks(void);

/* The timestamp of an event, in ticks of the session clock. */
static inline uint64_t ctrace__ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (CTRACE__LIKELY(ctrace__clock_tsc))
    return __rdtsc();
#endif
  return ctrace__mono_ticks();
}

typedef struct ctrace__clock_point {
  uint64_t tick;
  uint64_t mono_ns;
  uint64_t real_ns;
} ctrace__clock_point;

/* Chooses the clock: the TSC when it is invariant and keeps time with
 * CLOCK_MONOTONIC on every CPU of the process (the kernel's clocksource, or
 * checked here: within CTRACE__TSC_SKEW_NS), unless force_mono or
 * $CTRACE_CLOCK says otherwise. why gets the choice and its reason ("tsc:
 * ..." / "monotonic: ..."). @return the clock kind. */
#define CTRACE__TSC_SKEW_NS 1000.0
CTRACE__HIDDEN int ctrace__clock_init(int force_mono, char *why, size_t n);
/* Reads tick, CLOCK_MONOTONIC and CLOCK_REALTIME at (nearly) one instant. */
CTRACE__HIDDEN void ctrace__clock_sync(ctrace__clock_point *p);
/* Ticks per second, measured over ~200 us from `start` (header estimate). */
CTRACE__HIDDEN uint64_t ctrace__clock_estimate_hz(const ctrace__clock_point *start);

/* ---- Index stacks: the free lists of both pools ------------------------------
 * A lock-free (Treiber) stack of the elements of an array, linked by index
 * + 1 through an _Atomic uint32_t field of each element. The top word holds
 * a tag in its high half, bumped by every pop, so a pop that read a stale
 * link fails its CAS (ABA). */
typedef struct ctrace__istack {
  _Atomic uint64_t top; /* tag << 32 | (index + 1); 0 = empty */
  char *base;           /* the array */
  size_t stride;        /* sizeof an element */
  size_t link;          /* offsetof the element's _Atomic uint32_t link */
} ctrace__istack;

static inline _Atomic uint32_t *ctrace__istack_link(const ctrace__istack *s, uint32_t i) {
  return (_Atomic uint32_t *)(s->base + (size_t)i * s->stride + s->link);
}

/* The index of a popped element, or UINT32_MAX if the stack is empty. */
static inline uint32_t ctrace__istack_pop(ctrace__istack *s) {
  uint64_t top = atomic_load_explicit(&s->top, memory_order_acquire);
  while ((uint32_t)top != 0) {
    uint32_t i = (uint32_t)top - 1;
    /* May be stale if i was popped meanwhile; then the tag fails the CAS. */
    uint32_t next = atomic_load_explicit(ctrace__istack_link(s, i), memory_order_relaxed);
    if (atomic_compare_exchange_weak_explicit(&s->top, &top, ((top >> 32) + 1) << 32 | next,
                                              memory_order_acquire, memory_order_acquire))
      return i;
  }
  return UINT32_MAX;
}

static inline void ctrace__istack_push(ctrace__istack *s, uint32_t i) {
  uint64_t top = atomic_load_explicit(&s->top, memory_order_relaxed);
  do
    atomic_store_explicit(ctrace__istack_link(s, i), (uint32_t)top, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&s->top, &top, (top & ~0xffffffffull) | (i + 1),
                                                memory_order_release, memory_order_relaxed));
}

/* ---- buffer.c: the chunk pool ------------------------------------------------ */

#define CTRACE__CHUNK_SIZE (32u * 1024u)

typedef struct ctrace__chunk {
  /* Bytes of data[] the owner has published: stored with release after each
   * event, loaded with acquire by the writer, which then reads data[0..head). */
  _Atomic uint32_t head;
  /* Pool free-list link (index + 1, 0 = end); only meaningful while free. */
  _Atomic uint32_t free_next;
  /* Set once by the owner, with release, when it moves to its next chunk;
   * after the writer loads it (acquire) non-NULL, head is final. */
  _Atomic(struct ctrace__chunk *) next;
  /* Tick the first event's delta counts from; written before the chunk is
   * made visible to the writer (through a prior chunk's next, or the
   * thread's registration). */
  uint64_t base_tick;
  uint8_t *data;
  /* Each descriptor on its own cache lines: two threads publishing heads
   * of neighbouring chunks must not share a line. */
} __attribute__((aligned(128))) ctrace__chunk;

/* Maps the pool for `cap_bytes` of chunks (re-used if the size matches).
 * @return 0 or -errno. Not thread-safe: called by ctrace_start(). */
CTRACE__HIDDEN int ctrace__pool_init(size_t cap_bytes);
/* A free chunk (head 0, next NULL), or NULL when the cap is reached. Lock-free. */
CTRACE__HIDDEN ctrace__chunk *ctrace__pool_get(void);
/* Returns a chunk to the pool. Lock-free. */
CTRACE__HIDDEN void ctrace__pool_put(ctrace__chunk *c);
/* Gives the pool's memory back to the OS (after a session). */
CTRACE__HIDDEN void ctrace__pool_release_memory(void);
CTRACE__HIDDEN size_t ctrace__pool_chunks(void);

/* ---- thread.c: per-thread state ------------------------------------------------ */

typedef struct ctrace__thread {
  /* -- Owned by the recording thread (the hot fields, one cache line) -- */
  uint8_t *pos;          /* next byte to write in cur->data */
  uint8_t *base;         /* cur->data */
  _Atomic uint32_t *pub; /* &cur->head */
  /* End of cur->data; an event is written only if it fits below it. Stored
   * as 0 by the writer when a session stops so that the next event takes
   * the slow path (relaxed: the slow path re-checks under seq_cst). */
  _Atomic uintptr_t limit;
  uint64_t last_tick;    /* tick of the last event written */
  ctrace__chunk *cur;    /* chunk being written */
  uint64_t drop_pending; /* dropped since the last DROPPED event */
  uint64_t drop_first_tick;
  uint32_t gen;    /* session the thread is registered in */
  uint32_t serial; /* unique per process, never reused */

  /* -- Shared -- */
  _Atomic uint64_t dropped; /* total dropped this session (writer reads) */
  /* Session generation, stored with release once the fields the writer uses
   * (wchunk, wtick, tid, name) are set: the writer reads them only after an
   * acquire load of `registered` equal to its session. */
  _Atomic uint32_t registered;
  /* The session in which the thread tried to record, chunk or not: a thread
   * that never got a chunk (all memory in use) is still declared, with its
   * drops. Stored with release after `dropped` was reset. */
  _Atomic uint32_t tried;
  _Atomic int exited; /* release by the thread's exit destructor */
  /* Twice the THREAD_NAME events this thread wrote (ever): + 1 before it
   * writes one (relaxed: the head's release orders it), + 1 with release
   * once it is published. The flight recorder's writer walks the thread's
   * batches for its name only while this differs from wnames. */
  _Atomic uint32_t names;
  _Atomic(struct ctrace__thread *) next; /* global thread list (push at head) */
  int tid;
  char name[CTRACE_FMT_NAME_MAX + 1];
  int renamed; /* name changed at exit (read by the writer after `exited`) */

  /* -- Owned by the writer once registered -- */
  ctrace__chunk *wchunk;               /* oldest chunk not fully written */
  uint32_t wtail;                      /* bytes of wchunk already written */
  uint64_t wtick;                      /* tick at wchunk->data[wtail] */
  uint32_t wdefined;                   /* session in which its DEF_THREAD was written */
  char wname[CTRACE_FMT_NAME_MAX + 1]; /* flight: last THREAD_NAME defined (writer.c) */
  uint32_t wnames;            /* flight: `names` (even) whose events the writer has walked */
  _Atomic uint32_t free_next; /* slot free list (thread.c) */
} __attribute__((aligned(64))) ctrace__thread;

typedef struct ctrace__tls_block {
  /* ctrace__no_thread until the thread records: a struct whose limit is 0,
   * so the fast path needs no NULL test. */
  ctrace__thread *thread;
  int guard; /* nonzero while inside the tracer: never record */
  /* Events being written on this thread: 1 inside an event, 2 if a signal
   * handler records while the thread was writing one (that nested event is
   * dropped and counted, as it cannot be written in the middle of another).
   * Changed only by CTRACE__NEST_INC/DEC, single instructions, so a signal
   * sees it either before or after. */
  int nest;
  int tid;        /* this thread's id, once asked (ctrace__tid); reset after fork */
  void *altstack; /* the signal stack flight.c gave this thread (crash dumps) */
  /* 1 while this thread is in ctrace__thread_slow: an event a signal handler
   * records meanwhile cannot go in, and is counted as dropped. */
  int slow;
} ctrace__tls_block;

#if defined(__x86_64__) || defined(__i386__)
#define CTRACE__NEST_INC(x) __asm__ volatile("incl %0" : "+m"(x)::"memory")
#define CTRACE__NEST_DEC(x) __asm__ volatile("decl %0" : "+m"(x)::"memory")
#else /* best effort elsewhere: a compiler barrier around a plain increment */
#define CTRACE__NEST_INC(x) \
  (atomic_signal_fence(memory_order_seq_cst), (x)++, atomic_signal_fence(memory_order_seq_cst))
#define CTRACE__NEST_DEC(x) \
  (atomic_signal_fence(memory_order_seq_cst), (x)--, atomic_signal_fence(memory_order_seq_cst))
#endif

/* Exported (initial-exec) so that the preload wrappers test `guard`
 * without a call. */
extern __thread ctrace__tls_block ctrace__tls
    __attribute__((tls_model("initial-exec"), visibility("default")));

/* This thread's kernel id, without a system call after the first. */
static inline int ctrace__tid(void) {
  int t = ctrace__tls.tid;
  if (CTRACE__UNLIKELY(!t))
    t = ctrace__tls.tid = (int)syscall(SYS_gettid);
  return t;
}

extern CTRACE__HIDDEN ctrace__thread ctrace__no_thread;

/* Head of the list of every thread that ever recorded (and has not been
 * reaped by a writer). Threads push with release; the writer walks. */
extern CTRACE__HIDDEN _Atomic(ctrace__thread *) ctrace__threads;

/* Slow path of every event: registers the thread or moves it to a new
 * chunk so that `need` bytes fit. @return the thread, or NULL if the event
 * must not be recorded (tracing off, inside the tracer) or was dropped
 * (then counted). */
CTRACE__EXPORT ctrace__thread *ctrace__thread_slow(size_t need);
/* An event begun by a signal handler inside another one: counted as
 * dropped (record_fast.h). */
CTRACE__EXPORT void ctrace__ev_nested(void);
/* Counts one dropped event on t (and in the session total). */
CTRACE__HIDDEN void ctrace__thread_count_drop(ctrace__thread *t);
/* Writes t's pending drop count as a DROPPED event; needs 31 bytes of room. */
CTRACE__HIDDEN void ctrace__thread_write_dropped(ctrace__thread *t);
/* Returns the state of a thread that exited (writer only). */
CTRACE__HIDDEN void ctrace__thread_free(ctrace__thread *t);
/* Creates the exit-destructor key and maps the thread states. Called from ctrace_start. */
CTRACE__HIDDEN int ctrace__thread_init(void);

/* ---- registry.c: call sites and interned strings ------------------------------ */

/* Registers a site on first use. @return its id (>= 1). Lock-free. */
CTRACE__HIDDEN uint32_t ctrace__site_register(ctrace_site *site);
/* Head of the list of registered sites (push at head, with release). */
CTRACE__HIDDEN ctrace_site *ctrace__sites_head(void);

typedef struct ctrace__string {
  uint32_t id;
  uint32_t len;
  uint64_t hash;
  struct ctrace__string *next; /* list of all interned strings */
  char text[];                 /* len bytes + NUL */
} ctrace__string;

#define CTRACE__INTERN_MAX 1023 /* longer strings are cut */
/* Interns len bytes of s. @return the string id (>= 1), or 0 if the table
 * is full (the caller drops the event and counts it). Lock-free. */
CTRACE__HIDDEN uint32_t ctrace__intern(const char *s, size_t len);
CTRACE__HIDDEN ctrace__string *ctrace__strings_head(void);
/* The call stacks of heap samples, interned the same way (an entry's text
 * holds len / 8 addresses): the id (>= 1) a DEF_STACK gives it, or 0 when
 * n is 0 or the table is full. At most CTRACE__STACK_MAX addresses are kept. */
#define CTRACE__STACK_MAX 64
CTRACE__EXPORT uint32_t ctrace__stack_intern(const uint64_t *pcs, unsigned n);
CTRACE__HIDDEN ctrace__string *ctrace__stacks_head(void);

/* ---- record.c: what the preload wrappers record ---------------------------------- */
/* None of these changes errno (the slow path, where a chunk or a thread
 * slot is set up, restores it). */

/* Ticks now (the session's clock). */
CTRACE__EXPORT uint64_t ctrace__now(void);
/* Nonzero while this thread is inside the tracer (or is the writer): a
 * wrapper then calls straight through. */
CTRACE__EXPORT int ctrace__in_tracer(void);
/* Enters / leaves the tracer on this thread (a wrapper's own work, e.g. its
 * allocations, is then never recorded). */
CTRACE__EXPORT void ctrace__enter(void);
CTRACE__EXPORT void ctrace__leave(void);
/* A system call that started at `start` (ticks) and returned now. */
CTRACE__EXPORT void ctrace__syscall(long nr, uint64_t start, uint64_t arg, int64_t ret);
/* The syscall tracepoint (ctrace:syscall) of ctrace__syscall_fast. */
CTRACE__EXPORT void ctrace__lttng_syscall(long nr, uint64_t start, uint64_t now, uint64_t arg,
                                          int64_t ret);
/* A wait of `kind` (CTRACE_FMT_WAIT_*) on obj that started at `start`. The
 * waker is looked up in the release table (ctrace__release). */
CTRACE__EXPORT void ctrace__wait(unsigned kind, uint64_t start, const void *obj);
/* This thread releases obj now (unlock, signal, post, exit): a waiter that
 * wakes on obj draws an arrow from here. Lock-free, one store. */
CTRACE__EXPORT void ctrace__release(const void *obj);
/* Thread lifecycle: creation (returns the flow id to pass to the new
 * thread), start in the new thread, exit. */
CTRACE__EXPORT uint64_t ctrace__thread_created(void);
CTRACE__EXPORT void ctrace__thread_started(uint64_t flow, uint32_t creator);
CTRACE__EXPORT void ctrace__thread_exiting(void);
/* Ticks per second of the session clock (estimate). */
CTRACE__EXPORT uint64_t ctrace__ticks_per_sec(void);
/* This thread's serial (0 if it never recorded). */
CTRACE__EXPORT uint32_t ctrace__serial(void);
/* Process-wide heap: live bytes and bytes allocated so far. */
/* by_thread: bytes the calling thread allocated since its previous call. */
CTRACE__EXPORT void ctrace__heap(int64_t live, uint64_t allocated, int peak, uint64_t by_thread);
/* Heap profiles (the preload's sampler): the mean bytes between samples
 * (0: none) and how stacks are taken, said once; a sampled block (its
 * address, the bytes asked, its call stack: the first address inside the
 * call to the allocator, then return addresses) @return 1 if recorded
 * (a session records natively); and the free of a sampled block. */
extern CTRACE__HIDDEN _Atomic uint64_t ctrace__heap_rate;
extern CTRACE__HIDDEN const char *ctrace__heap_method;
CTRACE__EXPORT void ctrace__heap_sampling(uint64_t rate, const char *method);
CTRACE__EXPORT int ctrace__heap_sample(const void *addr, uint64_t bytes, const uint64_t *pcs,
                                       unsigned n);
CTRACE__EXPORT void ctrace__heap_free_sample(const void *addr);
/* The code mapped into the process (mappings.c): fn is called for each
 * executable segment of each loaded object with a file ([start, end) maps
 * path from offset; build_id hex or ""). fn NULL only counts. @return the
 * loader's count of objects added and removed: it changes when the list
 * does. */
typedef void (*ctrace__mapping_fn)(void *ctx, uint64_t start, uint64_t end, uint64_t offset,
                                   const char *path, const char *build_id);
CTRACE__HIDDEN unsigned long long ctrace__mappings_each(ctrace__mapping_fn fn, void *ctx);

/* What the session captures; set by ctrace_start from the environment
 * ($CTRACE_SYSCALLS=off|preload|complete|auto, $CTRACE_SCHED=0|1,
 * $CTRACE_HEAP=0|1, $CTRACE_LOCKS=0|1) and what the kernel allows. Read by
 * the wrappers (relaxed) to know what to record. */
typedef struct ctrace__capture {
  int syscalls;  /* CTRACE_FMT_CAP_*: WRAPPERS = the preload wrappers record */
  int sched;     /* KERNEL: perf context switches; WRAPPERS: derived; OFF */
  int heap;      /* 1: malloc & co. are recorded */
  int locks;     /* 1: pthread waits are recorded */
  char why[256]; /* what could not be captured, and why */
} ctrace__capture;
extern CTRACE__EXPORT ctrace__capture ctrace__capture_state;

/* ---- writer.c -------------------------------------------------------------------- */

#define CTRACE__INHERITED_SPANS 16
#define CTRACE__PATH_MAX 4096

typedef struct ctrace__session {
  int fd;          /* -1 until created (lazy) */
  char *path;      /* the file written (NULL until created) */
  char *lazy_base; /* create FILE.PID from this base at the first event */
  uint32_t buffer_mb;
  uint32_t gen;
  uint32_t flush_ms;
  int zstd_level;
  int clock_kind;
  char clock_why[256]; /* why this clock (ctrace__clock_init), written as DEF_CLOCK */
  uint64_t ticks_per_sec;
  ctrace__clock_point start;

  pthread_t writer;
  pthread_mutex_t mu;
  pthread_cond_t cv;        /* writer wakes: stop or flush asked */
  pthread_cond_t done_cv;   /* flush callers wake */
  int stop_req;             /* under mu */
  uint64_t flush_req;       /* under mu */
  uint64_t flush_done;      /* under mu */
  int error;                /* first write/compress error, under mu */
  uint64_t bytes_written;   /* writer only */
  uint64_t writer_delay_ms; /* $CTRACE__TEST_WRITER_DELAY_MS: tests force drops */
  /* The tracer's own work, so that readers can leave its system calls out
   * of the program's (DEF_TRACER_SPAN): ctrace_start on span_tid, the
   * writer thread, ctrace_stop on stop_tid. CLOCK_MONOTONIC ns. */
  int span_tid;
  uint64_t span_from, span_to;
  int writer_tid;
  int stop_tid;
  /* Flight recorder (flight.c): records go to memory, and to a file only
   * when a dump is asked. Set by ctrace_start, read-only while tracing. */
  int flight;
  uint64_t flight_window_ms;          /* 0: no time limit */
  uint64_t flight_bytes;              /* the cap of what is kept (definitions included) */
  char flight_base[CTRACE__PATH_MAX]; /* default dump path (absolute) */
  /* ctrace_flight_dump's request, under mu: the writer cuts, writes the
   * dump to dump_path (NULL: the next default path), sets dump_result and
   * the path it wrote (dump_chosen), and dump_done = dump_req. */
  uint64_t dump_req, dump_done;
  const char *dump_path;
  int dump_result;
  char dump_chosen[CTRACE__PATH_MAX];
  uint64_t stop_from, stop_to;
  /* Spans of a process image before an exec whose trace was never created
   * (a lazy child that recorded nothing): its writer thread and start/stop
   * work are still the tracer's. From $CTRACE_EXEC_SPANS. */
  struct {
    int tid, whole;
    uint64_t from, to;
  } inherited[CTRACE__INHERITED_SPANS];
  int ninherited;
} ctrace__session;

extern CTRACE__HIDDEN ctrace__session ctrace__session_state;
/* Current session generation (0 = none yet); read by threads' slow path. */
extern CTRACE__HIDDEN _Atomic uint32_t ctrace__gen;
/* Dropped events this session, all threads. */
extern CTRACE__HIDDEN _Atomic uint64_t ctrace__dropped_total;

/* session.c: a session in FILE.PID (fork, exec); lazy: the file is created
 * at the first event. The exec wrappers restart tracing after a failed exec. */
CTRACE__EXPORT int ctrace__start_child(const ctrace_options *opts, int lazy);
CTRACE__EXPORT void ctrace__restart_after_exec_failure(void);
/* The _exit wrappers: finish the trace as exit() would have (skipped when
 * the session is busy, e.g. _exit from a signal handler that interrupted
 * ctrace_stop). */
CTRACE__EXPORT void ctrace__stop_before_exit(void);
/* After ctrace_stop before an exec: the spans the next image must write
 * for this one ("tid,from,to,whole;..."), or "" when this image's file
 * has them. */
CTRACE__EXPORT void ctrace__exec_spans(char *buf, size_t len);
/* Creates FILE.PID (or FILE.PID.N) exclusively. @return the fd or -errno. */
CTRACE__HIDDEN int ctrace__open_child_file(const char *base, char **chosen);
/* thread.c: after fork, only the calling thread exists: forget the others. */
CTRACE__HIDDEN void ctrace__thread_fork_reset(void);

/* Writes the file header and starts the writer thread. @return 0 or -errno. */
CTRACE__HIDDEN int ctrace__writer_start(ctrace__session *s);
/* Asks the writer to finish (final drain, END record), joins it. @return
 * the first error the writer met, or 0. */
CTRACE__HIDDEN int ctrace__writer_stop(ctrace__session *s);
/* Wakes the writer and waits until everything recorded before the call is
 * in the file. @return the writer's error or 0. */
CTRACE__HIDDEN int ctrace__writer_flush(ctrace__session *s);

/* ---- control.c: the control socket ($CTRACE_CONTROL, common.h) ----------- */

/* Removes the socket (before _exit, where no destructor runs). Async-signal-
 * safe; does nothing in a process that does not own it. */
CTRACE__HIDDEN void ctrace__control_exit(void);
/* session.c, for control.c: starts a session as ctrace_start does, with the
 * wrappers' kinds on unless the environment turns them off; *gen gets its
 * generation (0 on failure). */
CTRACE__HIDDEN int ctrace__start_on_demand(const ctrace_options *opts, uint32_t *gen);
/* The current session's generation (it changes at every start; the
 * preload's heap counts start again). */
CTRACE__EXPORT uint32_t ctrace__session_gen(void);
/* Whether a session records (0 no, 1 to a file, 2 flight recorder), and
 * its file or flight dump path ("" if none), read under the session lock. */
CTRACE__HIDDEN int ctrace__session_describe(char *path, size_t len);

/* ---- stacks.c: the control socket's `stacks` ---------------------------------- */

/* Replies to `stacks` on fd (common.h): every thread's state, registers
 * and stack, each thread interrupted by a signal once. The control
 * thread's. */
CTRACE__HIDDEN void ctrace__stacks_serve(int fd);
/* The calling thread waits on object (CTRACE_FMT_WAIT_* kind) from now /
 * no more: the preload's lock wrappers tell `stacks` (a per-thread slot,
 * a few stores; tracing or not). */
CTRACE__EXPORT void ctrace__wait_begin(unsigned kind, const void *object);
CTRACE__EXPORT void ctrace__wait_end(void);

/* Writes the file header: what ctrace_start writes, with `flags`
 * (CTRACE_FMT_FF_*). Async-signal-safe. */
CTRACE__HIDDEN void ctrace__file_header(uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE],
                                        const ctrace__session *s, uint32_t flags);
/* Flight mode: asks the writer for a dump (after a cut) and waits for it.
 * path NULL: the next default path. chosen (may be NULL) gets the path
 * written. @return 0 or -errno. */
CTRACE__HIDDEN int ctrace__writer_dump(ctrace__session *s, const char *path, char *chosen,
                                       size_t len);

/* ---- flight.c: the flight recorder -----------------------------------------------------
 * In flight mode the writer still compresses every chunk into records, but
 * hands them to flight.c instead of the file: definitions are kept whole,
 * BATCH and CLOCK records go to a ring that forgets the oldest once they
 * are older than the window or the cap is reached. A dump writes a file
 * header, the definitions, the ring, a CLOCK and an END record. */

/* Nonzero while a flight session records (read by the signal handlers and
 * by threads as they register). */
extern CTRACE__HIDDEN _Atomic int ctrace__flight_on;

/* (ctrace__flight_parse, CTRACE_FLIGHT's syntax: common.h, common/flight_spec.c) */
/* ctrace_start: resolves the mode and the flight settings from the options
 * and the environment into o (mode, flight_window_ms, flight_bytes),
 * printing what is wrong with a variable. @return 0 or CTRACE_EINVAL. */
CTRACE__HIDDEN int ctrace__flight_options(ctrace_options *o);
/* ctrace_start in flight mode, before the writer starts: the dump path
 * (given, or from the environment; child: + ".PID") and an empty store.
 * @return 0 or -errno. */
CTRACE__HIDDEN int ctrace__flight_init(ctrace__session *s, const char *given_path, int child);
/* After the writer started / before it stops: SIGUSR2 and the crash
 * handlers (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE), previous ones
 * chained; flight_on. */
CTRACE__HIDDEN void ctrace__flight_begin(void);
CTRACE__HIDDEN void ctrace__flight_end(void);
/* Writer: one finished record (header and payload) of the given type;
 * last_tick is the tick of its last event (BATCH) or its tick (CLOCK). */
CTRACE__HIDDEN void ctrace__flight_take(unsigned type, const uint8_t *rec, size_t len,
                                        uint64_t last_tick);
/* Writer: the heads of the site and string lists it has defined up to. */
CTRACE__HIDDEN void ctrace__flight_defined(ctrace_site *sites, ctrace__string *strings);
/* Writer: forgets the records older than the window (which ends at the
 * latest event kept). */
CTRACE__HIDDEN void ctrace__flight_evict(void);
/* Writer: dumps asked by a signal: FLIGHT_ASK_SIGNAL (SIGUSR2, since the
 * last call), FLIGHT_ASK_CRASH (a crash handler waits; claimed by this
 * call: answer with ctrace__flight_crash_done). */
#define CTRACE__FLIGHT_ASK_SIGNAL 1u
#define CTRACE__FLIGHT_ASK_CRASH 2u
CTRACE__HIDDEN unsigned ctrace__flight_asked(void);
CTRACE__HIDDEN void ctrace__flight_crash_done(void);
CTRACE__HIDDEN const char *ctrace__flight_crash_text(void); /* "crash (SIGSEGV)" */
/* Writer: writes a dump of what is kept to path (NULL: the next default
 * path); the path written goes to chosen. why (NULL for
 * ctrace_flight_dump) is printed to stderr with the path. @return 0 or
 * -errno. */
CTRACE__HIDDEN int ctrace__flight_write(const ctrace__session *s, const char *path, char *chosen,
                                        size_t len, const char *why);
/* Writer, at stop: gives the store's memory back. */
CTRACE__HIDDEN void ctrace__flight_free(void);
/* In a forked child: forgets the parent's store (its writer may have been
 * changing it: not freed, only dropped) and stops answering signals until
 * the child's own session begins. */
CTRACE__HIDDEN void ctrace__flight_fork_reset(void);
/* thread.c: a thread registers in a session / exits: in flight mode it
 * gets (gives back) a signal stack, so that a stack overflow still dumps. */
CTRACE__HIDDEN void ctrace__flight_thread_start(void);
CTRACE__HIDDEN void ctrace__flight_thread_exit(void);

/* session.c: ctrace_flight_dump, telling the path written (for the
 * control socket's `dump`). @return as ctrace_flight_dump. */
CTRACE__HIDDEN int ctrace__flight_dump_path(const char *path, char *chosen, size_t len);

/* ---- cpu.c: CPU samples of the process itself (libctrace-cpu.so) ---------------- */

/* Fills o->cpu_hz from $CTRACE_CPU_HZ when 0. @return 0 or CTRACE_EINVAL
 * (said on stderr for the variable). */
CTRACE__HIDDEN int ctrace__cpu_options(ctrace_options *o);
/* A session starts writing path (NULL: no file yet): samples at hz into
 * path.kernel, or why not in the capture note. */
CTRACE__HIDDEN void ctrace__cpu_start(unsigned hz, const char *path, int flight, int on_demand);
/* ctrace_stop: sampling stops, path.kernel is finished. */
CTRACE__HIDDEN void ctrace__cpu_stop(void);

/* What the flight recorder holds (tests, bench/bench_record). */
typedef struct ctrace__flight_stats {
  uint64_t window_ms, cap_bytes; /* the settings */
  uint64_t defs_bytes;           /* definitions kept */
  uint64_t ring_bytes;           /* BATCH and CLOCK records kept */
  uint64_t ring_records;
  uint64_t peak_bytes;      /* highest defs_bytes + ring_bytes after a change */
  uint64_t ring_alloc;      /* memory of the ring (grows up to the cap) */
  uint64_t evicted_records; /* forgotten: older than the window, or over the cap */
  uint64_t dumps;           /* dumps written */
} ctrace__flight_stats;
/* @return 0, or CTRACE_ENOTFLIGHT when no flight session records. */
CTRACE__EXPORT int ctrace__flight_stats_get(ctrace__flight_stats *st);

#endif /* CTRACE_TRACER_INTERNAL_H */
