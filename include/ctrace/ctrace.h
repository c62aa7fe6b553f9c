/* ctrace: execution tracer for C programs.
 *
 * This is the one header an application includes. Everything in it is
 * stable API except what is marked "internal, do not use".
 *
 *   #include <ctrace/ctrace.h>
 *
 *   void parse(void) {
 *     CTRACE_SCOPE("parse");          // region until the end of the block
 *     ...
 *   }
 *
 * Tracing starts with ctrace_start(), or by itself when the environment
 * variable CTRACE_OUT names a file as the library loads (it then stops at
 * exit). With CTRACE_CONTROL=PATH a process listens on a unix socket there
 * and traces when asked (`ctrace record --pid PID --seconds N`: README,
 * "Tracing a running process"). Recording calls never block, lock,
 * allocate or make a system call; when the in-memory buffers are full the
 * event is dropped and counted, and the count is written into the trace.
 *
 * Compile with -DCTRACE_DISABLE to turn every macro into nothing.
 */
#ifndef CTRACE_CTRACE_H
#define CTRACE_CTRACE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CTRACE_VERSION_MAJOR 0
#define CTRACE_VERSION_MINOR 1
#define CTRACE_VERSION_PATCH 0

#if defined(__GNUC__)
#define CTRACE_API __attribute__((visibility("default")))
#define CTRACE__PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CTRACE__LIKELY(x) __builtin_expect(!!(x), 1)
#define CTRACE__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define CTRACE_API
#define CTRACE__PRINTF(f, a)
#define CTRACE__LIKELY(x) (x)
#define CTRACE__UNLIKELY(x) (x)
#endif

/* ---- Errors ----------------------------------------------------------------
 * Functions that can fail return 0 or a negative code. System errors are
 * -errno (CTRACE_EIO == -EIO, ...); ctrace's own codes are below -4000.
 * ctrace_strerror() and ctrace_err_name() know every code. */
/* clang-format off */
#define CTRACE_ERRNO_MAP(XX)                                                   \
  XX(EINVAL, -EINVAL, "invalid argument")                                      \
  XX(ENOMEM, -ENOMEM, "out of memory")                                         \
  XX(EIO, -EIO, "input/output error")                                          \
  XX(ENOENT, -ENOENT, "no such file or directory")                             \
  XX(EBUSY, -EBUSY, "tracing is already active")                               \
  XX(ENOSPC, -ENOSPC, "no space left on device")                               \
  XX(ENOTACTIVE, -4001, "tracing is not active")                               \
  XX(ELOST, -4002, "events were dropped: the writer could not keep up")        \
  XX(ECOMPRESS, -4003, "compression failed")                                   \
  XX(EFORMAT, -4004, "not a ctrace trace file")                                \
  XX(EVERSION, -4005, "unsupported trace format version")                      \
  XX(ETRUNC, -4006, "trace truncated")                                         \
  XX(ECORRUPT, -4007, "trace corrupt")                                         \
  XX(EFORK, -4008, "tracing was inherited across fork and is off in the child") \
  XX(ENOTFLIGHT, -4009, "tracing is not in flight-recorder mode")

typedef enum ctrace_errno {
#define CTRACE__ERR_ENUM(name, value, text) CTRACE_##name = (value),
  CTRACE_ERRNO_MAP(CTRACE__ERR_ENUM)
#undef CTRACE__ERR_ENUM
  CTRACE__ERRNO_END = 0 /* internal, do not use */
} ctrace_errno;
/* clang-format on */

/*! ctrace_strerror() : a human readable message for any error code this
 *  library returns (ctrace or -errno). @return a static string; never NULL. */
CTRACE_API const char *ctrace_strerror(int err);

/*! ctrace_err_name() : the code's symbolic name ("CTRACE_ELOST", "EACCES").
 *  @return a static string; never NULL. */
CTRACE_API const char *ctrace_err_name(int err);

/*! ctrace_version() : the library version, "MAJOR.MINOR.PATCH". */
CTRACE_API const char *ctrace_version(void);

/* ---- Session ------------------------------------------------------------- */

/* Options for ctrace_start(). Set struct_size = sizeof(ctrace_options), or
 * start from CTRACE_OPTIONS_INIT. Zero means "default" for every field.
 * Fields are only ever added at the end (the struct_size tells which exist). */
typedef struct ctrace_options {
  uint32_t struct_size; /* sizeof(ctrace_options) */
  uint32_t buffer_mb;   /* memory cap for buffered events; 0 = $CTRACE_BUFFER_MB or 64 */
  const char *path;     /* trace file; NULL = $CTRACE_OUT or "ctrace.out" */
  uint32_t flush_ms;    /* longest time an event stays in memory; 0 = 100 */
  int32_t zstd_level;   /* 0 = 1; negative levels are faster, larger */
  uint32_t flags;       /* CTRACE_OPT_* */
  uint32_t reserved_;   /* must be 0 */
  /* Added with the flight recorder; a smaller struct_size leaves them 0. */
  uint32_t mode;             /* CTRACE_MODE_*; 0 = $CTRACE_MODE, else FILE */
  uint32_t flight_window_ms; /* FLIGHT: keep at least the last N ms of events */
  uint64_t flight_bytes;     /* FLIGHT: keep at most N bytes (definitions included).
                                Both 0 = $CTRACE_FLIGHT, else 30 s; a window
                                alone is capped at 256 MiB; bytes alone: no
                                time limit. In FLIGHT mode `path` is where
                                dumps go (see ctrace_flight_dump) */
  /* Added with CPU samples; a smaller struct_size leaves it 0. */
  uint32_t cpu_hz;     /* CPU samples per second of each thread's CPU time, with
                      call stacks, into FILE.kernel beside the trace file
                      (ctrace top, ctrace view); 0 = $CTRACE_CPU_HZ, else
                      off. At most 10000. Needs libctrace-cpu.so beside
                      libctrace and perf_event_open; without them the
                      session starts and stderr says why there are none */
  uint32_t reserved2_; /* must be 0 */
} ctrace_options;

#define CTRACE_OPT_CLOCK_MONOTONIC 0x1u /* clock_gettime instead of the TSC */

/* clang-format off */
#define CTRACE_MODE_FILE 1u   /* stream every event to the trace file (the default) */
#define CTRACE_MODE_FLIGHT 2u /* flight recorder: keep the last window in memory,
                                 write it only when asked (ctrace_flight_dump,
                                 SIGUSR2) or when the program crashes */
/* clang-format on */

#define CTRACE_OPTIONS_INIT \
  { sizeof(ctrace_options), 0, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

/*! ctrace_start() : opens the trace file and starts recording on every
 *  thread (in flight-recorder mode, opens no file: events stay in memory
 *  until ctrace_flight_dump). opts may be NULL (defaults, see ctrace_options).
 *  @return 0, CTRACE_EBUSY if already recording, -errno if the file cannot
 *  be created, CTRACE_EINVAL for bad options. Thread-safe. */
CTRACE_API int ctrace_start(const ctrace_options *opts);

/*! ctrace_stop() : stops recording, writes everything still buffered and
 *  closes the file. @return 0; CTRACE_ELOST if any event was dropped (the
 *  trace is still complete and records how many, and where); -errno or
 *  CTRACE_ECOMPRESS if writing failed; CTRACE_ENOTACTIVE if not recording. */
CTRACE_API int ctrace_stop(void);

/*! ctrace_flush() : writes every event recorded so far (by any thread) to the
 *  file and returns when it is there. @return 0, an error as ctrace_stop(),
 *  or CTRACE_ENOTACTIVE. Blocks; do not call from a signal handler. */
CTRACE_API int ctrace_flush(void);

/*! ctrace_flight_dump() : in flight-recorder mode (CTRACE_MODE=flight),
 *  writes the window held in memory as a complete trace file: everything
 *  recorded up to the call, by every thread, going back at least the
 *  window (or as far as the byte cap allows). Recording goes on; dump as
 *  often as you like. path NULL: the session's dump path (the options'
 *  path, else $CTRACE_FLIGHT_OUT, else $CTRACE_OUT, else
 *  ctrace-flight-PID.ctrace), numbered from the second dump on: FILE,
 *  FILE-2, ... (before a ".ctrace" suffix: x.ctrace, x-2.ctrace). The file
 *  is replaced if it exists.
 *  @return 0; CTRACE_ENOTACTIVE if not recording; CTRACE_ENOTFLIGHT if
 *  recording to a file instead; -errno if the file cannot be written.
 *  Blocks until the file is written; thread-safe; do not call from a
 *  signal handler (raise SIGUSR2 there instead: it dumps to the default
 *  path). */
CTRACE_API int ctrace_flight_dump(const char *path);

/*! ctrace_active() : nonzero while recording. Async-signal-safe. */
CTRACE_API int ctrace_active(void);

/*! ctrace_dropped_events() : events dropped so far in this session (all
 *  threads) because the buffers were full. Async-signal-safe. */
CTRACE_API uint64_t ctrace_dropped_events(void);

/* ---- Call sites (internal, do not use) ------------------------------------
 * Every macro owns one static ctrace_site: the name and source location are
 * written to the trace once; events carry only the small id. */
typedef struct ctrace_site {
  const char *name;
  const char *file;
  const char *func;
  uint32_t line;
  uint32_t kind; /* CTRACE__SITE_* */
  uint32_t id;   /* 0 until first used; set atomically by the library */
  uint32_t reserved_;
  struct ctrace_site *next; /* library's list of registered sites */
} ctrace_site;

#define CTRACE__SITE_REGION 1u
#define CTRACE__SITE_COUNTER 2u
#define CTRACE__SITE_INSTANT 3u

/* internal, do not use: nonzero while recording (read relaxed by the macros). */
extern CTRACE_API int ctrace__active;

/* ---- Recording ------------------------------------------------------------
 * All recording functions are thread-safe, never block, never allocate and
 * make no system call (a thread's first event allocates its buffer). They do
 * nothing when tracing is off. */

/*! ctrace_region_begin() : opens a region with a static call site; use the
 *  CTRACE_REGION_BEGIN / CTRACE_SCOPE macros rather than calling this. */
CTRACE_API void ctrace_region_begin(ctrace_site *site);

/*! ctrace_region_begin_dyn() : opens a region whose name is built at run
 *  time. The name is copied (interned); the caller keeps ownership. */
CTRACE_API void ctrace_region_begin_dyn(const char *name);

/*! ctrace_region_end() : closes the innermost open region of this thread. */
CTRACE_API void ctrace_region_end(void);

/*! ctrace_task_begin() : starts a task, an operation that may span threads
 *  (like Go's trace.NewTask). parent is an enclosing task or 0. The name is
 *  copied. @return the task id (never 0), also when tracing is off. */
CTRACE_API uint64_t ctrace_task_begin(const char *name, uint64_t parent);

/*! ctrace_task_end() : ends a task, on any thread. 0 is ignored. */
CTRACE_API void ctrace_task_end(uint64_t task);

/*! ctrace_task_switch() : makes task (0: none) the calling thread's current
 *  task and returns the previous one; regions that begin while a task is
 *  current belong to it (like Go's trace.WithRegion under a task's
 *  context): the viewer lists them with the task. Restore the previous
 *  task with another call when done. */
CTRACE_API uint64_t ctrace_task_switch(uint64_t task);

/*! ctrace_log() : attaches a printf-formatted message to a task (0 = none),
 *  under a category (copied; NULL = ""). Messages longer than 1023 bytes
 *  are cut (the trace marks the cut). */
CTRACE_API void ctrace_log(uint64_t task, const char *category, const char *fmt, ...)
    CTRACE__PRINTF(3, 4);

/*! ctrace_counter() : records a counter value; use CTRACE_COUNTER. */
CTRACE_API void ctrace_counter(ctrace_site *site, int64_t value);

/*! ctrace_instant() : records a point in time; use CTRACE_INSTANT. */
CTRACE_API void ctrace_instant(ctrace_site *site);

/*! ctrace_flow_begin() / ctrace_flow_end() : an arrow from the point where
 *  flow_begin(id) is called to the point where flow_end(id) is called,
 *  usually on another thread. Ids are chosen by the caller. */
CTRACE_API void ctrace_flow_begin(uint64_t id);
CTRACE_API void ctrace_flow_end(uint64_t id);

/*! ctrace_thread_set_name() : names the calling thread in the trace (does
 *  not rename the OS thread). Names longer than 63 bytes are cut. */
CTRACE_API void ctrace_thread_set_name(const char *name);

/* ---- Memory managers (the GC-like part) --------------------------------------
 * For programs with their own allocators, pools or collectors; `ctrace run`
 * records malloc & co. by itself. */

/*! ctrace_gc_begin() : a collection, sweep, compaction or arena-reset phase
 *  starts on this thread (kind: "mark", "sweep", "arena reset"...; copied).
 *  Phases are shown on the process's GC track and give the minimum mutator
 *  utilization. End it with ctrace_gc_end() on the same thread. */
CTRACE_API void ctrace_gc_begin(const char *kind);
CTRACE_API void ctrace_gc_end(void);

/*! ctrace_heap_set() : the program's own view of its heap: live bytes and
 *  the goal (the size at which it collects), as counters. */
CTRACE_API void ctrace_heap_set(uint64_t live_bytes, uint64_t goal_bytes);

/* ---- User-level scheduling (coroutines, fibers, work items) -----------------
 * Shown like Go's goroutines: each id gets its own track with the intervals
 * it ran (and on which thread), why it blocked, and an arrow from whatever
 * unblocked it to where it ran next. Ids are the caller's (nonzero). */

/*! ctrace_sched_create() : a work item exists (name copied). */
CTRACE_API void ctrace_sched_create(uint64_t id, const char *name);
/*! ctrace_sched_run() : this thread now runs item id (until it blocks, ends,
 *  or the thread runs another). */
CTRACE_API void ctrace_sched_run(uint64_t id);
/*! ctrace_sched_block() : the item this thread runs blocks (reason copied). */
CTRACE_API void ctrace_sched_block(const char *reason);
/*! ctrace_sched_unblock() : item id may run again (called by whoever woke it). */
CTRACE_API void ctrace_sched_unblock(uint64_t id);
/*! ctrace_sched_end() : item id is done. */
CTRACE_API void ctrace_sched_end(uint64_t id);

/* internal, do not use: CTRACE_SCOPE's begin and end. */
static inline int ctrace__scope_begin(ctrace_site *site) {
  if (CTRACE__LIKELY(!__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)))
    return 0;
  ctrace_region_begin(site);
  return 1;
}
static inline void ctrace__scope_end(int *begun) {
  if (*begun)
    ctrace_region_end();
}

/* ---- Macros ---------------------------------------------------------------- */
#define CTRACE__CAT2(a, b) a##b
#define CTRACE__CAT(a, b) CTRACE__CAT2(a, b)
#define CTRACE__SITE_INIT(name, kind) \
  { (name), __FILE__, __func__, __LINE__, (kind), 0, 0, 0 }

#if defined(CTRACE_DISABLE)

/* Arguments are not evaluated (like assert), yet still "used" so that a
 * variable or function that only feeds a macro gives no warning (gcc's
 * -Wunused, clang's -Wunneeded-internal-declaration). */
#define CTRACE_REGION_BEGIN(name) ((void)sizeof(name))
#define CTRACE_REGION_END() ((void)0)
#define CTRACE_SCOPE(name) ((void)sizeof(name))
#define CTRACE_COUNTER(name, value) ((void)sizeof(name), (void)(0 && (value)))
#define CTRACE_INSTANT(name) ((void)sizeof(name))

#else

/*! CTRACE_REGION_BEGIN(name) : opens a region named by a string literal (or
 *  any string that outlives tracing). Regions nest on one thread and must be
 *  closed on the thread that opened them, with CTRACE_REGION_END(). */
#define CTRACE_REGION_BEGIN(name)                                                    \
  do {                                                                               \
    static ctrace_site ctrace__site_ = CTRACE__SITE_INIT(name, CTRACE__SITE_REGION); \
    if (CTRACE__UNLIKELY(__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)))        \
      ctrace_region_begin(&ctrace__site_);                                           \
  } while (0)

/*! CTRACE_REGION_END() : closes the innermost region of this thread. */
#define CTRACE_REGION_END()                                                   \
  do {                                                                        \
    if (CTRACE__UNLIKELY(__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED))) \
      ctrace_region_end();                                                    \
  } while (0)

/*! CTRACE_SCOPE(name) : a region from here to the end of the enclosing
 *  block. A scope that began while tracing was off records no end either. */
#ifdef __cplusplus
} /* extern "C" */
struct ctrace__scope_guard { /* internal, do not use */
  int begun;
  explicit ctrace__scope_guard(ctrace_site *s) : begun(ctrace__scope_begin(s)) {}
  ~ctrace__scope_guard() { ctrace__scope_end(&begun); }
  ctrace__scope_guard(const ctrace__scope_guard &) = delete;
  ctrace__scope_guard &operator=(const ctrace__scope_guard &) = delete;
};
extern "C" {
#define CTRACE_SCOPE(name)                                   \
  static ctrace_site CTRACE__CAT(ctrace__ssite_, __LINE__) = \
      CTRACE__SITE_INIT(name, CTRACE__SITE_REGION);          \
  ctrace__scope_guard CTRACE__CAT(ctrace__scope_, __LINE__)(&CTRACE__CAT(ctrace__ssite_, __LINE__))
#else
#define CTRACE_SCOPE(name)                                                                        \
  static ctrace_site CTRACE__CAT(ctrace__ssite_, __LINE__) =                                      \
      CTRACE__SITE_INIT(name, CTRACE__SITE_REGION);                                               \
  __attribute__((cleanup(ctrace__scope_end), unused)) int CTRACE__CAT(ctrace__scope_, __LINE__) = \
      ctrace__scope_begin(&CTRACE__CAT(ctrace__ssite_, __LINE__))
#endif

/*! CTRACE_COUNTER(name, value) : records an int64_t counter value; the
 *  timeline draws one track per counter name. */
#define CTRACE_COUNTER(name, value)                                                   \
  do {                                                                                \
    static ctrace_site ctrace__site_ = CTRACE__SITE_INIT(name, CTRACE__SITE_COUNTER); \
    if (CTRACE__UNLIKELY(__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)))         \
      ctrace_counter(&ctrace__site_, (int64_t)(value));                               \
  } while (0)

/*! CTRACE_INSTANT(name) : records a point in time on this thread. */
#define CTRACE_INSTANT(name)                                                          \
  do {                                                                                \
    static ctrace_site ctrace__site_ = CTRACE__SITE_INIT(name, CTRACE__SITE_INSTANT); \
    if (CTRACE__UNLIKELY(__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)))         \
      ctrace_instant(&ctrace__site_);                                                 \
  } while (0)

#endif /* CTRACE_DISABLE */

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CTRACE_CTRACE_H */
