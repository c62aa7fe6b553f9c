/* Sessions: ctrace_start / ctrace_stop / ctrace_flush, options and
 * environment, start at load when $CTRACE_OUT is set, and the processes a
 * traced process makes. Starting and stopping are serialised by one mutex;
 * recording never touches it.
 *
 * Files: the first process to trace to FILE holds an flock on it while it
 * writes. Its children write FILE.PID: a fork()ed child (the runtime
 * restarts in it from pthread_atfork, but creates its file only once it has
 * something to write, so a fork that execs at once leaves no empty file),
 * and an exec'd program that inherits CTRACE_OUT and finds FILE locked by
 * its parent. A process that execs itself (the preload's exec wrappers
 * finish the trace first) is told so with CTRACE_EXECED=1 and writes
 * FILE.PID too (FILE.PID.N if taken). CTRACE_FOLLOW=0 keeps children from
 * tracing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

ctrace__session ctrace__session_state = {.fd = -1};
ctrace__capture ctrace__capture_state;
_Atomic uint32_t ctrace__gen;
_Atomic uint64_t ctrace__dropped_total;

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static int auto_started;
static int forked_child; /* tracing was inherited across fork() and is off here */
static int follow = 1;   /* children trace ($CTRACE_FOLLOW) */
static char *root_path;  /* FILE, which children name theirs after */

static uint64_t mono_now(void) { return ctrace__mono_ns(); }

int ctrace_active(void) { return CTRACE__ACTIVE_RELAXED(); }

uint64_t ctrace_dropped_events(void) {
  return atomic_load_explicit(&ctrace__dropped_total, memory_order_relaxed);
}

/* ---- Options ------------------------------------------------------------------------ */

/* A positive integer from the environment, or def; 0 on a malformed value
 * (reported). */
static long env_long(const char *name, long def, long max) {
  const char *v = getenv(name);
  if (!v || !*v)
    return def;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || n <= 0 || n > max) {
    fprintf(stderr, "ctrace: %s=%s is not a number in 1..%ld\n", name, v, max);
    return 0;
  }
  return n;
}

/* ---- Files --------------------------------------------------------------------------- */

/* Opens FILE for the process tracing first: truncated, and flock'ed so that
 * a program exec'd by it knows it is a child. -EWOULDBLOCK if another live
 * process holds it. */
static int open_root(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
  }
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0) {
    int e = errno; /* (a pipe or /dev/null is written as it is) */
    close(fd);
    return -e;
  }
  return fd;
}

int ctrace__open_child_file(const char *base, char **chosen) {
  char path[PATH_MAX];
  for (int n = 0; n < 1000; n++) {
    if (n == 0)
      snprintf(path, sizeof path, "%s.%d", base, (int)getpid());
    else
      snprintf(path, sizeof path, "%s.%d.%d", base, (int)getpid(), n);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      *chosen = strdup(path);
      return fd;
    }
    if (errno != EEXIST)
      return -errno;
  }
  return -EEXIST;
}

/* ---- Capture settings ----------------------------------------------------------------- */

static int env_is(const char *name, const char *value) {
  const char *v = getenv(name);
  return v && !strcmp(v, value);
}

/* A session the control socket starts (control.c, `record`), on this
 * thread: its generation is stored here, and the wrappers, when loaded,
 * record every kind the environment does not turn off (a process started
 * with LD_PRELOAD alone has none of `ctrace run`'s settings). */
static __thread uint32_t *on_demand_gen;

static void on_demand_capture(ctrace__capture *c, int wrappers) {
  *on_demand_gen = ctrace__session_state.gen;
  if (!wrappers)
    return;
  if (!getenv("CTRACE_SYSCALLS"))
    c->syscalls = CTRACE_FMT_CAP_WRAPPERS;
  if (!getenv("CTRACE_SCHED"))
    c->sched = CTRACE_FMT_CAP_WRAPPERS;
  if (!getenv("CTRACE_HEAP"))
    c->heap = 1;
  if (!getenv("CTRACE_LOCKS"))
    c->locks = 1;
}

/* What this session records besides the program's own events, from the
 * environment `ctrace run` sets, and what is possible: the wrappers'
 * kinds only with libctrace-preload.so loaded. */
static void capture_setup(void) {
  ctrace__capture *c = &ctrace__capture_state;
  int wrappers = dlsym(RTLD_DEFAULT, "ctrace_preload_present") != NULL;
  memset(c, 0, sizeof *c);
  if (env_is("CTRACE_SYSCALLS", "kernel"))
    c->syscalls = CTRACE_FMT_CAP_KERNEL; /* the launcher records them */
  else if (env_is("CTRACE_SYSCALLS", "preload") && wrappers)
    c->syscalls = CTRACE_FMT_CAP_WRAPPERS;
  if (env_is("CTRACE_SCHED", "kernel"))
    c->sched = CTRACE_FMT_CAP_KERNEL;
  else if (env_is("CTRACE_SCHED", "wrappers") && wrappers)
    c->sched = CTRACE_FMT_CAP_WRAPPERS;
  c->heap = env_is("CTRACE_HEAP", "1") && wrappers;
  c->locks = env_is("CTRACE_LOCKS", "1") && wrappers;
  const char *why = getenv("CTRACE_CAPTURE_WHY");
  if (why)
    snprintf(c->why, sizeof c->why, "%s", why);
  if (!wrappers && (getenv("CTRACE_SYSCALLS") || getenv("CTRACE_HEAP")))
    snprintf(c->why + strlen(c->why), sizeof c->why - strlen(c->why), "%s%s", c->why[0] ? "; " : "",
             "the wrappers (libctrace-preload.so) are not loaded");
  if (on_demand_gen)
    on_demand_capture(c, wrappers);
}

/* ---- Sessions ------------------------------------------------------------------------------ */

static void init_sync(ctrace__session *s);

static void start_span(uint64_t from) {
  ctrace__session *s = &ctrace__session_state;
  s->span_tid = (int)syscall(SYS_gettid);
  s->span_from = from;
  s->span_to = mono_now();
}

static void fork_child(void) {
  ctrace__session *s = &ctrace__session_state;
  ctrace__tls.tid = 0; /* this thread's id is the child's pid now */
  pthread_mutex_init(&session_mu, NULL);
  init_sync(s);
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  /* The writer thread does not exist here and the file is the parent's. */
  __atomic_fetch_and(&ctrace__active, ~CTRACE__ON_NATIVE, __ATOMIC_SEQ_CST);
  if (s->fd >= 0)
    close(s->fd); /* our copy; the parent's lock stays */
  s->fd = -1;
  ctrace__thread_fork_reset();
  forked_child = 1;
  if (!follow || !root_path)
    return;
  /* A new session of our own, in FILE.PID, created when there is an event. */
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.buffer_mb = s->buffer_mb;
  o.flush_ms = s->flush_ms;
  o.zstd_level = s->zstd_level;
  o.flags = s->clock_kind == CTRACE_FMT_CLOCK_MONOTONIC ? CTRACE_OPT_CLOCK_MONOTONIC : 0;
  o.mode = s->flight ? CTRACE_MODE_FLIGHT : CTRACE_MODE_FILE;
  o.flight_window_ms = (uint32_t)s->flight_window_ms;
  o.flight_bytes = s->flight_bytes;
  if (s->flight)
    ctrace__flight_fork_reset(); /* the parent's store is not the child's */
  if (ctrace__start_child(&o, 1) == 0)
    forked_child = 0;
}

/* The session's locks and condition variables (again in a forked child:
 * the parent's may have been held by a thread the child does not have). */
static void init_sync(ctrace__session *s) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the writer's timed waits */
  pthread_cond_init(&s->cv, &ca);
  pthread_cond_init(&s->done_cv, &ca);
  pthread_condattr_destroy(&ca);
}

static void session_init_once(void) {
  init_sync(&ctrace__session_state);
  pthread_atfork(NULL, NULL, fork_child);
}

/* What start() works out before the session takes it over. */
typedef struct start_req {
  ctrace_options o;       /* checked, with every default filled in */
  const char *given_path; /* the path asked for, NULL if none (flight: the dump path) */
  int flight;             /* CTRACE_MODE_FLIGHT */
  int child;              /* write FILE.PID (may become 1 in start_file) */
  int lazy;               /* create it at the first event */
  int fd;                 /* the file, -1 if none yet */
  char *chosen;           /* its path (owned; moves to the session), NULL if none */
  const char *base;       /* what FILE.PID is named after */
  uint64_t t_begin;       /* when start() began: the start span's beginning */
} start_req;

/* Checks opts (NULL: the defaults) into q->o and fills in what they leave
 * unset, from the environment or the defaults. @return 0 or CTRACE_E*. */
static int start_options(const ctrace_options *opts, start_req *q) {
  ctrace_options *o = &q->o;
  if (opts) {
    if (opts->struct_size < offsetof(ctrace_options, flags) + sizeof(uint32_t) ||
        opts->struct_size > 4096)
      return CTRACE_EINVAL;
    memcpy(o, opts, opts->struct_size < sizeof *o ? opts->struct_size : sizeof *o);
    if (o->zstd_level < -131072 || o->zstd_level > 22 || o->flush_ms > 60000 ||
        o->buffer_mb > 1u << 20)
      return CTRACE_EINVAL;
  }
  if (ctrace__cpu_options(o))
    return CTRACE_EINVAL;
  q->given_path = o->path && *o->path ? o->path : NULL;
  int fr = ctrace__flight_options(o);
  if (fr)
    return fr;
  q->flight = o->mode == CTRACE_MODE_FLIGHT;
  if (!o->path || !*o->path)
    o->path = getenv("CTRACE_OUT");
  if (!o->path || !*o->path)
    o->path = q->flight ? "ctrace-flight.ctrace" : "ctrace.out";
  if (!o->buffer_mb && !(o->buffer_mb = (uint32_t)env_long("CTRACE_BUFFER_MB", 64, 1 << 20)))
    return CTRACE_EINVAL;
  if (!o->flush_ms)
    o->flush_ms = 100;
  if (!o->zstd_level) {
    const char *lv = getenv("CTRACE_ZSTD_LEVEL");
    o->zstd_level = lv && *lv ? atoi(lv) : 1;
    if (o->zstd_level < -131072 || o->zstd_level > 22 || o->zstd_level == 0)
      o->zstd_level = 1;
  }
  return 0;
}

/* Opens the session's file: FILE for the first process (FILE.PID if a
 * parent holds FILE: q->child becomes 1), FILE.PID for a child; none yet
 * when lazy or in flight mode (no file until a dump). Under session_mu.
 * @return 0, or a negative error (nothing left open). */
static int start_file(start_req *q) {
  const char *path = q->o.path;
  if (!q->child && !root_path)
    root_path = strdup(path);
  q->base = q->child && root_path ? root_path : path;
  q->fd = -1;
  q->chosen = NULL;
  if (!q->child && !q->flight) {
    q->fd = open_root(path);
    if (q->fd >= 0)
      q->chosen = strdup(path);
    else if (q->fd != -EWOULDBLOCK)
      return q->fd;
    else if (!follow) /* FILE is our parent's: a child, and children do not trace */
      return CTRACE_EFORK;
    else {
      q->child = 1;
      q->base = path;
    }
  }
  if (q->child && !q->lazy && !q->flight &&
      (q->fd = ctrace__open_child_file(q->base, &q->chosen)) < 0)
    return q->fd;
  return 0;
}

/* The session's settings, file and clock, from q. Under session_mu.
 * @return 0, or an error of the flight recorder's setup. */
static int start_settings(ctrace__session *s, start_req *q) {
  const ctrace_options *o = &q->o;
  free(s->path);
  s->path = q->chosen;
  q->chosen = NULL; /* (the session's now) */
  free(s->lazy_base);
  s->lazy_base = q->lazy && !q->flight ? strdup(q->base) : NULL;
  s->fd = q->fd;
  s->flight = q->flight;
  s->flight_window_ms = o->flight_window_ms;
  s->flight_bytes = o->flight_bytes;
  s->buffer_mb = o->buffer_mb;
  s->flush_ms = o->flush_ms;
  s->zstd_level = o->zstd_level;
  s->writer_delay_ms = (uint64_t)env_long("CTRACE__TEST_WRITER_DELAY_MS", 0, 3600000);
  s->clock_kind =
      ctrace__clock_init(o->flags & CTRACE_OPT_CLOCK_MONOTONIC, s->clock_why, sizeof s->clock_why);
  ctrace__clock_sync(&s->start);
  s->ticks_per_sec = ctrace__clock_estimate_hz(&s->start);
  if (q->flight)
    return ctrace__flight_init(s, q->given_path, q->child);
  return 0;
}

/* Starts the writer, then recording: the new generation is published and
 * the threads' flag turned on last. Under session_mu. @return 0 or an
 * error (the file is closed). */
static int start_recording(ctrace__session *s, const start_req *q) {
  s->gen = atomic_load(&ctrace__gen) + 1;
  atomic_store(&ctrace__dropped_total, 0);
  capture_setup();
  ctrace__cpu_start(q->o.cpu_hz, s->path, q->flight, on_demand_gen != NULL);
  s->span_to = 0; /* the writer defines the start span once it is set */
  int r = ctrace__writer_start(s);
  if (r) {
    ctrace__cpu_stop();
    if (q->fd >= 0)
      close(q->fd);
    s->fd = -1;
    return r;
  }
  /* The start span ends here: the header and the writer thread are the
   * tracer's too. */
  pthread_mutex_lock(&s->mu);
  start_span(q->t_begin);
  pthread_mutex_unlock(&s->mu);
  atomic_store(&ctrace__gen, s->gen);
  forked_child = 0;
  if (q->flight)
    ctrace__flight_begin(); /* SIGUSR2 and the crash handlers */
  __atomic_fetch_or(&ctrace__active, CTRACE__ON_NATIVE, __ATOMIC_SEQ_CST);
  return 0;
}

/* Starts a session. child: write FILE.PID (the base is root_path, or the
 * path asked for); lazy: create it at the first event (forked children). */
static int start(const ctrace_options *opts, int child, int lazy) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, session_init_once);
  start_req q = {.o = CTRACE_OPTIONS_INIT, .child = child, .lazy = lazy, .fd = -1};
  q.t_begin = mono_now();
  int r = start_options(opts, &q);
  if (r)
    return r;

  follow = !env_is("CTRACE_FOLLOW", "0");
  pthread_mutex_lock(&session_mu);
  ctrace__session *s = &ctrace__session_state;
  if (CTRACE__ACTIVE()) {
    r = CTRACE_EBUSY;
    goto out;
  }
  if ((r = ctrace__thread_init()) || (r = ctrace__pool_init((size_t)q.o.buffer_mb << 20)) ||
      (r = start_file(&q)) || (r = start_settings(s, &q)))
    goto out;
  r = start_recording(s, &q);
out:
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace_start(const ctrace_options *opts) { return start(opts, 0, 0); }

int ctrace__start_on_demand(const ctrace_options *opts, uint32_t *gen) {
  uint32_t g = 0;
  on_demand_gen = &g;
  int r = start(opts, 0, 0);
  on_demand_gen = NULL;
  *gen = r ? 0 : g;
  return r;
}

uint32_t ctrace__session_gen(void) { return atomic_load(&ctrace__gen); }

int ctrace__session_describe(char *path, size_t len) {
  pthread_mutex_lock(&session_mu);
  const ctrace__session *s = &ctrace__session_state;
  int on = !CTRACE__ACTIVE() ? 0 : s->flight ? 2 : 1;
  snprintf(path, len, "%s",
           !on            ? ""
           : on == 2      ? s->flight_base
           : s->path      ? s->path
           : s->lazy_base ? s->lazy_base
                          : "");
  pthread_mutex_unlock(&session_mu);
  return on;
}

int ctrace__start_child(const ctrace_options *opts, int lazy) { return start(opts, 1, lazy); }

void ctrace__restart_after_exec_failure(void) {
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = root_path;
  start(&o, 1, 0);
}

int ctrace_stop(void) {
  pthread_mutex_lock(&session_mu);
  ctrace__session *s = &ctrace__session_state;
  int r;
  if (!CTRACE__ACTIVE()) {
    r = forked_child ? CTRACE_EFORK : CTRACE_ENOTACTIVE;
    pthread_mutex_unlock(&session_mu);
    return r;
  }
  __atomic_fetch_and(&ctrace__active, ~CTRACE__ON_NATIVE, __ATOMIC_SEQ_CST);
  if (s->flight)
    ctrace__flight_end(); /* the previous handlers back */
  s->stop_tid = (int)syscall(SYS_gettid);
  s->stop_from = mono_now();
  ctrace__cpu_stop();         /* (its last samples: before the writer's end) */
  r = ctrace__writer_stop(s); /* (closes the file, releases the pool) */
  if (!r && atomic_load(&ctrace__dropped_total))
    r = CTRACE_ELOST;
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace_flush(void) {
  pthread_mutex_lock(&session_mu);
  int r = CTRACE__ACTIVE() ? ctrace__writer_flush(&ctrace__session_state) : CTRACE_ENOTACTIVE;
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace__flight_dump_path(const char *path, char *chosen, size_t len) {
  pthread_mutex_lock(&session_mu);
  ctrace__session *s = &ctrace__session_state;
  int r = !CTRACE__ACTIVE() ? CTRACE_ENOTACTIVE
          : !s->flight      ? CTRACE_ENOTFLIGHT
                            : ctrace__writer_dump(s, path && *path ? path : NULL, chosen, len);
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace_flight_dump(const char *path) { return ctrace__flight_dump_path(path, NULL, 0); }

/* ---- Across exec ------------------------------------------------------------------------------- */

void ctrace__exec_spans(char *buf, size_t len) {
  ctrace__session *s = &ctrace__session_state;
  buf[0] = 0;
  if (!s->lazy_base || !s->writer_tid)
    return; /* this image's file was created and has its spans */
  size_t n = 0;
#define EXEC_SPAN(tid, from, to, whole)                                   \
  if (n < len)                                                            \
  n += (size_t)snprintf(buf + n, len - n, "%d,%llu,%llu,%d;", (int)(tid), \
                        (unsigned long long)(from), (unsigned long long)(to), (whole))
  EXEC_SPAN(s->span_tid, s->span_from, s->span_to, 0);
  EXEC_SPAN(s->writer_tid, s->span_from, 0, 1);
  EXEC_SPAN(s->stop_tid, s->stop_from, s->stop_to, 0);
  int k = 3;
  for (int i = 0; i < s->ninherited && k < CTRACE__INHERITED_SPANS; i++, k++)
    EXEC_SPAN(s->inherited[i].tid, s->inherited[i].from, s->inherited[i].to, s->inherited[i].whole);
  /* The tracer's other threads here (LTTng's), whole. */
  for (int i = 0, own = __atomic_load_n(&ctrace__own_ntids, __ATOMIC_ACQUIRE);
       i < own && k < CTRACE__INHERITED_SPANS; i++)
    if (ctrace__own_pids[i] == (int)getpid()) {
      EXEC_SPAN(ctrace__own_tids[i], s->span_from, 0, 1);
      k++;
    }
#undef EXEC_SPAN
  if (n >= len)
    buf[0] = 0; /* cut: better none than a wrong one */
}

static void inherit_spans(const char *v) {
  ctrace__session *s = &ctrace__session_state;
  s->ninherited = 0;
  while (v && *v && s->ninherited < CTRACE__INHERITED_SPANS) {
    int tid, whole, used = 0;
    unsigned long long from, to;
    if (sscanf(v, "%d,%llu,%llu,%d;%n", &tid, &from, &to, &whole, &used) != 4 || !used ||
        tid <= 0 || (whole != 0 && whole != 1))
      break;
    s->inherited[s->ninherited].tid = tid;
    s->inherited[s->ninherited].from = from;
    s->inherited[s->ninherited].to = to;
    s->inherited[s->ninherited].whole = whole;
    s->ninherited++;
    v += used;
  }
}

/* ---- Start at load, stop at exit ----------------------------------------------------------- */

__attribute__((constructor)) static void auto_start(void) {
  const char *out = getenv("CTRACE_OUT");
  const char *mode = getenv("CTRACE_MODE"); /* flight: starts without CTRACE_OUT too */
  if ((!out || !*out) && (!mode || !*mode || !strcmp(mode, "file")))
    return;
  follow = !env_is("CTRACE_FOLLOW", "0");
  /* CTRACE_EXECED=1: this process traced before it exec'd this program
   * (the preload's exec wrappers set it): its FILE is finished, write
   * FILE.PID. The variable is ours: take it away again. */
  int execed = env_is("CTRACE_EXECED", "1");
  if (execed)
    unsetenv("CTRACE_EXECED");
  if (execed)
    inherit_spans(getenv("CTRACE_EXEC_SPANS"));
  unsetenv("CTRACE_EXEC_SPANS");
  if (out && *out)
    root_path = strdup(out);
  int r = execed ? ctrace__start_child(NULL, 0) : ctrace_start(NULL);
  if (r == CTRACE_EFORK)
    return; /* a child of a traced process, and children are not followed */
  if (r && (!out || !*out))
    fprintf(stderr, "ctrace: cannot start the flight recorder: %s\n", ctrace_strerror(r));
  else if (r)
    fprintf(stderr, "ctrace: cannot trace to %s: %s\n", out, ctrace_strerror(r));
  else
    auto_started = 1;
}

static void stop_and_report(int (*stop)(void)) {
  const char *path = ctrace__session_state.path;
  if (ctrace__session_state.flight)
    path = "(the flight recorder's dumps)";
  int r = stop();
  if (r == CTRACE_ELOST)
    fprintf(stderr,
            "ctrace: %llu events were dropped (the writer could not keep up); the trace "
            "%s marks where. Raise CTRACE_BUFFER_MB to keep them.\n",
            (unsigned long long)ctrace_dropped_events(), path ? path : "");
  else if (r && r != CTRACE_ENOTACTIVE)
    fprintf(stderr, "ctrace: writing %s failed: %s\n", path ? path : "", ctrace_strerror(r));
}

__attribute__((destructor)) static void auto_stop(void) {
  if (auto_started && CTRACE__ACTIVE())
    stop_and_report(ctrace_stop);
}

static int stop_unless_busy(void) {
  if (pthread_mutex_trylock(&session_mu) != 0)
    return CTRACE_ENOTACTIVE;
  pthread_mutex_unlock(&session_mu); /* (a start or stop may begin here: it is checked again) */
  return ctrace_stop();
}

void ctrace__stop_before_exit(void) {
  ctrace__control_exit(); /* (the destructors that remove the socket will not run) */
  if (CTRACE__ACTIVE() && !ctrace__tls.guard)
    stop_and_report(stop_unless_busy);
}
