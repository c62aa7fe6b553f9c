/* `ctrace view --pid PID`: the live timeline of a running process and Go's
 * /debug/pprof/ paths over it (viewer/server/routes_pprof.c). This file is
 * the capture side the server is handed as callbacks (rt_pprof), since
 * viewer/server may not use tracer/capture nor the control socket's
 * client:
 *
 * - the timeline: from the moment it attaches, the view has the process
 *   record (the control socket's `record`, as ctrace record --pid) into
 *   DIR/live.ctrace, a directory of its own, and follows it (server.c's
 *   --follow machinery). A trace of the next N seconds (/debug/pprof/trace,
 *   and block and mutex with seconds=N) cuts that recording into segments:
 *   the running one is stopped, DIR/live.ctrace.K records the N seconds,
 *   then DIR/live.ctrace.K+1 goes on; the timeline follows them all (the
 *   few milliseconds between two segments are not recorded). One such
 *   trace at a time: another is refused (409) while one records.
 * - CPU profiles (/debug/pprof/profile?seconds=N): the process's threads
 *   are sampled for N seconds as ctrace record --pid --cpu-hz does
 *   (tracer/capture: perf_attach, unwinding), into DIR/live.ctrace.kernel,
 *   which the timeline shows too; one profile at a time (else 409).
 * - every thread's stack now (/debug/pprof/threads): ctrace stacks's
 *   capture (stacks.c), as a pprof or as its text.
 *
 * The directory is removed when the view stops (^C); the process's
 * recording stops with it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "common.h"
#include "server.h"

#define VP_CPU_HZ 99          /* samples per second of each thread's CPU time (Go: 100) */
#define VP_MAX_SECONDS 3600.0 /* the longest ?seconds= */
#define VP_MAX_SEGMENTS 250   /* segments of the live recording (the timeline follows 256 files) */
#define VP_REPLY_MS 10000     /* for the process to answer a command */

/* The attached process (one per `ctrace view --pid`). `mu` guards the
 * connection that records and the busy flags; a capture that holds a flag
 * owns what it names (the recording's segments, or the perf events and
 * FILE.kernel) until it clears it. */
typedef struct view_pid {
  int pid;
  char sock[PATH_MAX];
  char dir[PATH_MAX];
  char base[PATH_MAX + 32];  /* DIR/live.ctrace */
  char kpath[PATH_MAX + 48]; /* DIR/live.ctrace.kernel */
  char cmdline[8192];        /* /proc/PID/cmdline */
  size_t cmdline_len;
  pthread_mutex_t mu;
  cc_lines conn; /* the running segment's recording (fd -1: none) */
  char *segs[VP_MAX_SEGMENTS];
  size_t nsegs;
  int tracing, sampling, closing;
  kt_writer *kt; /* FILE.kernel, open from the first profile to the end */
  rt_pprof pp;
} view_pid;

static void vp_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void vp_err(char *err, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, len, fmt, ap);
  va_end(ap);
}

/* ---- The recording, in segments ------------------------------------------------------------ */

/* Starts segment path (mu held). @return 0, or 502 with err. */
static int seg_start(view_pid *v, const char *path, char *err, size_t errlen) {
  char cmd[PATH_MAX + 64], line[PATH_MAX + 1024];
  int fd = cc_connect_to("view", v->pid, v->sock);
  if (fd < 0) {
    vp_err(err, errlen, "cannot connect to process %d's control socket %s (%s)", v->pid, v->sock,
           cc_proc_alive(v->pid) ? "said on the view's stderr" : "the process has exited");
    return 502;
  }
  memset(&v->conn, 0, sizeof v->conn);
  v->conn.fd = fd;
  snprintf(cmd, sizeof cmd, "record %.17g %s\n", CTRACE__CONTROL_MAX_SECONDS, path);
  cc_send_line(fd, cmd);
  int r = cc_next_line(&v->conn, line, sizeof line, cc_mono_ms() + VP_REPLY_MS);
  if (r == 1 && !strncmp(line, "ok ", 3))
    return 0;
  vp_err(err, errlen, "process %d did not start recording: %s", v->pid,
         r == 1            ? line
         : r == -ETIMEDOUT ? "no answer within 10 s"
                           : "the connection closed");
  close(fd);
  v->conn.fd = -1;
  return 502;
}

/* Ends the running segment (mu held): its file is then whole. */
static void seg_stop(view_pid *v) {
  if (v->conn.fd < 0)
    return;
  char line[PATH_MAX + 1024];
  cc_send_line(v->conn.fd, "stop\n");
  uint64_t deadline = cc_mono_ms() + VP_REPLY_MS;
  while (cc_next_line(&v->conn, line, sizeof line, deadline) == 1 && strncmp(line, "done ", 5))
    ; /* ("note: ..." lines) */
  close(v->conn.fd);
  v->conn.fd = -1;
}

/* The running segment ends and the next begins; *path (if not NULL): the
 * new one's. @return 0, or an HTTP status with err. */
static int seg_next(view_pid *v, char *path, size_t cap, char *err, size_t errlen) {
  pthread_mutex_lock(&v->mu);
  int st = 0;
  if (v->closing || v->nsegs == VP_MAX_SEGMENTS) {
    vp_err(err, errlen,
           v->closing ? "the view is stopping" : "%d traces taken already: restart the view",
           VP_MAX_SEGMENTS);
    st = 503;
  }
  char p[sizeof v->base + 16];
  snprintf(p, sizeof p, "%s.%zu", v->base, v->nsegs);
  if (!st) {
    seg_stop(v);
    st = seg_start(v, p, err, errlen);
  }
  if (!st && !(v->segs[v->nsegs] = strdup(p))) {
    vp_err(err, errlen, "out of memory");
    st = 500;
  }
  if (!st)
    v->nsegs++;
  pthread_mutex_unlock(&v->mu);
  if (!st && path)
    snprintf(path, cap, "%s", p);
  return st;
}

/* Takes (1) or gives back (0) a busy flag. @return 0, or 409 with err. */
static int vp_claim(view_pid *v, int *flag, int take, const char *what, char *err, size_t errlen) {
  pthread_mutex_lock(&v->mu);
  int st = 0;
  if (take && *flag) {
    vp_err(err, errlen, "%s of process %d is being taken already: try again when it is done", what,
           v->pid);
    st = 409;
  } else {
    *flag = take;
  }
  pthread_mutex_unlock(&v->mu);
  return st;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* rt_pprof.trace: a segment of the next `seconds`. */
static int vp_trace(void *arg, double seconds, char *path, size_t cap, char *err, size_t errlen) {
  view_pid *v = arg;
  int st =
      vp_claim(v, &v->tracing, 1, "a trace (trace, block or mutex with seconds=N)", err, errlen);
  if (st)
    return st;
  st = seg_next(v, path, cap, err, errlen);
  if (!st) {
    sleep_s(seconds);
    st = seg_next(v, NULL, 0, err, errlen); /* (path is whole now) */
  }
  vp_claim(v, &v->tracing, 0, NULL, NULL, 0);
  return st;
}

/* rt_pprof.files: the segments recorded so far. */
static int vp_files(void *arg, char **paths, size_t cap, size_t *n, char *err, size_t errlen) {
  view_pid *v = arg;
  int st = 0;
  *n = 0;
  pthread_mutex_lock(&v->mu);
  for (size_t i = 0; i < v->nsegs && i < cap && !st; i++) {
    struct stat sb;
    if (stat(v->segs[i], &sb) != 0)
      continue; /* (not created yet) */
    if (!(paths[*n] = strdup(v->segs[i])))
      st = 500;
    else
      ++*n;
  }
  pthread_mutex_unlock(&v->mu);
  if (!st && !*n) {
    vp_err(err, errlen, "nothing recorded yet");
    st = 503;
  } else if (st) {
    vp_err(err, errlen, "out of memory");
  }
  return st;
}

/* ---- CPU samples ------------------------------------------------------------------------------ */

typedef struct vp_window {
  kt_writer *kt;
  uint64_t t0, t1;
} vp_window;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ctrace__perf_drain's callback: the samples of the window (and the rest:
 * mappings). */
static void keep_event(void *arg, const ctrace__kevent *ev) {
  vp_window *w = arg;
  if (ev->kind == CTRACE__K_SAMPLE && (ev->ns < w->t0 || ev->ns > w->t1))
    return;
  kt_event(w->kt, ev);
}

/* FILE.kernel, opened at the first profile (sampling held). @return 0, or
 * 500 with err. */
static int vp_kernel_file(view_pid *v, const ctrace__perf *perf, char *err, size_t errlen) {
  if (v->kt)
    return 0;
  char cmd[sizeof v->cmdline];
  memcpy(cmd, v->cmdline, sizeof cmd);
  for (size_t i = 0; i + 1 < v->cmdline_len; i++)
    if (!cmd[i])
      cmd[i] = ' ';
  cmd[v->cmdline_len ? v->cmdline_len - 1 : 0] = '\0';
  char e[600];
  v->kt = kt_open(v->kpath, v->pid, cmd, 0, 0, "", e, sizeof e);
  if (!v->kt) {
    vp_err(err, errlen, "cannot write the samples: %s", e);
    return 500;
  }
  kt_sampling(v->kt, VP_CPU_HZ, 1000000000u / VP_CPU_HZ, ctrace__perf_cpu_method(perf));
  return 0;
}

/* rt_pprof.cpu: the process's threads sampled for `seconds`. */
static int vp_cpu(void *arg, double seconds, uint64_t *t0, uint64_t *t1, char *kpath, size_t cap,
                  char *err, size_t errlen) {
  view_pid *v = arg;
  int st = vp_claim(v, &v->sampling, 1, "a CPU profile", err, errlen);
  if (st)
    return st;
  char why[1024] = "";
  unsigned got = 0;
  ctrace__perf_set_cpu_hz(VP_CPU_HZ);
  ctrace__perf *perf = ctrace__perf_attach(v->pid, CTRACE__PERF_CPU, &got, why, sizeof why);
  if (!perf || !(got & CTRACE__PERF_CPU)) {
    vp_err(err, errlen, "cannot sample process %d: %s", v->pid, why);
    st = cc_proc_alive(v->pid) ? 503 : 502;
  }
  if (!st)
    st = vp_kernel_file(v, perf, err, errlen);
  if (!st) {
    vp_window w = {v->kt, now_ns(), 0};
    uint64_t end = w.t0 + (uint64_t)(seconds * 1e9), cut = w.t0;
    for (uint64_t now = w.t0; now < end; now = now_ns()) {
      sleep_s(end - now < 20000000u ? (double)(end - now) / 1e9 : 0.02);
      w.t1 = now = now_ns();                                     /* (no sample is newer than now) */
      ctrace__perf_drain(perf, now - 20000000u, keep_event, &w); /* 20 ms watermark */
      if (now - cut > 100000000u) {
        kt_cut(v->kt);
        cut = now;
      }
    }
    w.t1 = now_ns();
    ctrace__perf_drain(perf, w.t1 + 1, keep_event, &w);
    kt_cut(v->kt);
    *t0 = w.t0;
    *t1 = w.t1;
    snprintf(kpath, cap, "%s", v->kpath);
  }
  ctrace__perf_close(perf);
  vp_claim(v, &v->sampling, 0, NULL, NULL, 0);
  return st;
}

/* ---- Every thread's stack, now ---------------------------------------------------------------- */

/* rt_pprof.threads: `ctrace stacks PID` (stacks.c) through the control
 * socket: debug 0 its pprof (gzipped), else its text. */
static int vp_threads(void *arg, int debug, char **body, size_t *len, char *err, size_t errlen) {
  view_pid *v = arg;
  cli_stacks *s = NULL;
  *body = NULL;
  *len = 0;
  if (cli_stacks_capture_at(v->pid, v->sock, &s, err, errlen))
    return 502;
  FILE *f = open_memstream(body, len);
  int bad = !f;
  if (f && debug)
    cli_stacks_text(s, f);
  else if (f)
    bad = cli_stacks_pprof(s, f) != 0;
  if (f && fclose(f) != 0)
    bad = 1;
  cli_stacks_free(s);
  if (bad) {
    free(*body);
    *body = NULL;
    vp_err(err, errlen, "out of memory");
    return 500;
  }
  return 0;
}

/* ---- Attaching, serving, leaving -------------------------------------------------------------- */

/* The process, its socket, the directory, and the first segment. @return
 * 0, or 1 with a message printed. */
static int vp_attach(view_pid *v, int pid, const char *sock) {
  v->pid = pid;
  v->conn.fd = -1;
  pthread_mutex_init(&v->mu, NULL);
  if (!cc_proc_alive(pid)) {
    fprintf(stderr, "ctrace view: no such process: %d\n", pid);
    return 1;
  }
  if (cc_find_socket("view", pid, sock, v->sock, sizeof v->sock))
    return 1;
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, v->cmdline, sizeof v->cmdline) : -1;
  if (fd >= 0)
    close(fd);
  v->cmdline_len = n > 0 ? (size_t)n : 0;
  const char *tmp = getenv("TMPDIR");
  snprintf(v->dir, sizeof v->dir, "%s/ctrace-view-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp", pid);
  if (!mkdtemp(v->dir)) {
    fprintf(stderr, "ctrace view: cannot make a directory %s: %s\n", v->dir, strerror(errno));
    return 1;
  }
  struct stat st;
  snprintf(path, sizeof path, "/proc/%d", pid);
  if (geteuid() == 0 && stat(path, &st) == 0 && st.st_uid != 0 &&
      chown(v->dir, st.st_uid, (gid_t)-1) != 0) /* (the process writes there) */
    fprintf(stderr, "ctrace view: warning: %s: %s\n", v->dir, strerror(errno));
  snprintf(v->base, sizeof v->base, "%s/live.ctrace", v->dir);
  snprintf(v->kpath, sizeof v->kpath, "%s.kernel", v->base);
  char err[1024];
  pthread_mutex_lock(&v->mu);
  int r = seg_start(v, v->base, err, sizeof err);
  if (!r && !(v->segs[v->nsegs++] = strdup(v->base)))
    r = 500;
  pthread_mutex_unlock(&v->mu);
  if (r) {
    fprintf(stderr, "ctrace view: %s\n", r == 500 ? "out of memory" : err);
    rmdir(v->dir);
    return 1;
  }
  fprintf(stderr, "ctrace view: attached to process %d: recording into %s\n", pid, v->dir);
  return 0;
}

/* The recording stopped, FILE.kernel closed, the directory removed. */
static void vp_leave(view_pid *v) {
  pthread_mutex_lock(&v->mu);
  v->closing = 1;
  seg_stop(v);
  for (size_t i = 0; i < v->nsegs; i++) {
    unlink(v->segs[i]);
    free(v->segs[i]);
  }
  v->nsegs = 0;
  pthread_mutex_unlock(&v->mu);
  /* (a profile still sampling on the thread pool keeps its FILE.kernel:
   * left to the exit) */
  if (vp_claim(v, &v->sampling, 1, "", NULL, 0) == 0 && v->kt) {
    kt_close(v->kt);
    v->kt = NULL;
  }
  unlink(v->kpath);
  rmdir(v->dir);
}

int ctrace_view_pid(struct sv_options *o, int pid, const char *sock) {
  static view_pid v; /* (static: requests on the thread pool may outlive sv_view) */
  if (vp_attach(&v, pid, sock))
    return 1;
  v.pp = (rt_pprof){.arg = &v,
                    .pid = pid,
                    .cmdline = v.cmdline,
                    .cmdline_len = v.cmdline_len,
                    .max_seconds = VP_MAX_SECONDS,
                    .cpu_hz = VP_CPU_HZ,
                    .cpu = vp_cpu,
                    .trace = vp_trace,
                    .files = vp_files,
                    .threads = vp_threads};
  /* (a profile and a trace may wait their seconds on the thread pool at
   * once: room for them beside the timeline's requests) */
  setenv("UV_THREADPOOL_SIZE", "8", 0);
  char *paths[1] = {v.base};
  o->paths = paths;
  o->npaths = 1;
  o->follow = 1;
  o->pprof = &v.pp;
  int code = sv_view(o);
  vp_leave(&v);
  return code;
}
