/* Go's net/http/pprof paths over a running process (ctrace view --pid;
 * docs/viewer-api.md): /debug/pprof/ (an index page), profile?seconds=N (a
 * CPU profile of the next N seconds), block and mutex (blocking and
 * contended-lock profiles), trace?seconds=N (a ctrace trace of the next N
 * seconds), threads (every thread's stack now; goroutine is the same) and
 * cmdline. The process is reached through the providers that
 * viewer/cli hands the view (rt_pprof, server.h: the control socket and
 * perf live there); what they capture is read and encoded here with
 * viewer/analysis's profiles, so that `go tool pprof
 * http://HOST:PORT/debug/pprof/profile?seconds=5` works as on a Go server.
 *
 * Handlers run on the thread pool (http.c), so a request that waits its N
 * seconds holds one worker, never the loop; the providers answer 409 to a
 * second capture of a kind while one runs. Errors are text, as Go's are. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis.h"
#include "server_internal.h"

#define PPROF_DEFAULT_SECONDS 30.0 /* profile?seconds=, as Go's default */
#define PPROF_MAX_FILES 256        /* files of block/mutex without seconds */

/* ---- Answers ---------------------------------------------------------------------------- */

/* r becomes a text answer (Go's pprof errors are text). */
static void respond_text(rt_response *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_text(rt_response *r, int status, const char *type, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0) {
    r->status = 500;
    return;
  }
  r->status = status;
  r->content_type = type;
  r->body = s;
  r->len = (size_t)n;
}

static void respond_err(rt_response *r, int status, const char *msg) {
  respond_text(r, status, "text/plain; charset=utf-8", "%s\n", msg);
}

/* A gzipped profile (or a trace), as Go serves them: a download named name. */
static void respond_file(rt_response *r, unsigned char *body, size_t len, const char *name) {
  r->status = 200;
  r->content_type = "application/octet-stream";
  r->body = (char *)body;
  r->len = len;
  snprintf(r->headers, sizeof r->headers, "Content-Disposition: attachment; filename=\"%s\"\r\n",
           name);
}

/* ?seconds=: a number of seconds, more than 0 and at most max; def when
 * absent (0: absent is allowed and *out is 0). @return 0, or -1 with r
 * answered 400 naming it. */
static int seconds_param(const rt_context *ctx, const char *q, double def, double *out,
                         rt_response *r) {
  char buf[64], msg[200];
  int has = rt__query_get(q, "seconds", buf, sizeof buf);
  double max = ctx->pprof->max_seconds;
  if (has == 0) {
    *out = def;
    return 0;
  }
  char *end = buf;
  double v = has > 0 ? strtod(buf, &end) : NAN;
  if (has < 0 || end == buf || *end || !(v > 0) || v > max) {
    snprintf(msg, sizeof msg, "bad seconds=%s: a number of seconds, more than 0 and at most %g",
             has > 0 ? buf : "(malformed)", max);
    respond_err(r, 400, msg);
    return -1;
  }
  *out = v;
  return 0;
}

/* ---- /debug/pprof/: the index page ------------------------------------------------------ */

typedef struct pprof_entry {
  const char *name, *what;
  int slot; /* 0: always; 2: threads slot set */
} pprof_entry;

/* As Go's index: one line on each, in name order. threads is listed when
 * its provider exists (rt_pprof's slot). */
static const pprof_entry entries[] = {
    {"allocs",
     "A sampling of all memory allocations since the view attached (needs the preload: ctrace "
     "run)",
     0},
    {"block",
     "Where threads blocked on synchronization (locks, condition variables, semaphores, joins): "
     "the next seconds=N, or since the view attached",
     0},
    {"cmdline", "The command line of the process, its arguments separated by NUL bytes", 0},
    {"heap",
     "A sampling of memory allocations of live objects, now (of those allocated since the view "
     "attached; needs the preload: ctrace run)",
     0},
    {"mutex",
     "Where threads waited for contended locks (mutexes, rwlocks): the next seconds=N, "
     "or since the view attached",
     0},
    {"profile",
     "CPU profile of every thread of the process over the next seconds=N (default 30). After "
     "you get the profile file, use the go tool pprof command to investigate it",
     0},
    {"threads",
     "Stack traces of every thread of the process, now (debug=1: as text, like goroutine?debug=2; "
     "goroutine is the same)",
     2},
    {"trace",
     "A ctrace trace of the next seconds=N (default 1): open it with ctrace view, ctrace info", 0},
};

static int listed(const rt_pprof *pp, const pprof_entry *e) {
  return e->slot == 0 || (e->slot == 2 && pp->threads);
}

static void pprof_index(const rt_context *ctx, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  char *s = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&s, &n);
  if (!f) {
    respond_err(r, 500, "out of memory");
    return;
  }
  fprintf(f,
          "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>/debug/pprof/</title>"
          "<style>.profile-name{display:inline-block;width:6rem}</style></head><body>\n"
          "/debug/pprof/ of process %d<br>\n<p>Set debug=1 as a query parameter to export in "
          "legacy text format</p>\n<br>\nTypes of profiles available:\n<table>\n"
          "<thead><td>Count</td><td>Profile</td></thead>\n",
          pp->pid);
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
    if (listed(pp, &entries[i]))
      fprintf(f, "<tr><td></td><td><a href=\"%s%s\">%s</a></td></tr>\n", entries[i].name,
              strcmp(entries[i].name, "threads") ? "" : "?debug=1", entries[i].name);
  fprintf(f, "</table>\n<a href=\"profile?seconds=30\">full CPU profile</a>\n<br>\n"
             "<p>\nProfile Descriptions:\n<ul>\n");
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
    if (listed(pp, &entries[i]))
      fprintf(f, "<li><div class=profile-name>%s: </div> %s</li>\n", entries[i].name,
              entries[i].what);
  fprintf(f, "</ul>\n</p>\n<p><a href=\"/\">the timeline</a></p>\n</body></html>\n");
  if (fclose(f) != 0) {
    free(s);
    respond_err(r, 500, "out of memory");
    return;
  }
  r->status = 200;
  r->content_type = "text/html; charset=utf-8";
  r->body = s;
  r->len = n;
}

/* ---- profile: CPU ----------------------------------------------------------------------- */

/* The st_options of [t0, t1) (CLOCK_MONOTONIC ns) over x. */
static st_options window_of(const vx_index *x, uint64_t t0, uint64_t t1) {
  st_options o = {0};
  uint64_t x0 = vx_t0(x);
  o.since = t0 > x0 ? t0 - x0 : 0;
  o.until = t1 > x0 ? t1 - x0 : 1;
  return o;
}

static void pprof_profile(const rt_context *ctx, const char *q, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  double sec;
  char kpath[4096], err[1024];
  uint64_t t0, t1;
  if (seconds_param(ctx, q, PPROF_DEFAULT_SECONDS, &sec, r))
    return;
  int st = pp->cpu(pp->arg, sec, &t0, &t1, kpath, sizeof kpath, err, sizeof err);
  if (st) {
    respond_err(r, st, err);
    return;
  }
  char *paths[1] = {kpath};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x) {
    respond_err(r, 500, err);
    return;
  }
  cp_options o = {.w = window_of(x, t0, t1), .symbols = ctx->symbols};
  cp_profile p = {0};
  unsigned char *gz = NULL;
  size_t len = 0;
  int bad;
  if (!vx_cpu(x).samples || t0 > vx_t1(x)) {
    /* not a single sample in the window (threads that did not run): an
     * empty profile, as Go gives for an idle program */
    p.info.hz = pp->cpu_hz;
    p.info.period_ns = 1000000000u / (pp->cpu_hz ? pp->cpu_hz : 1);
    p.t0 = t0;
    p.t1 = t1;
    bad = cp_encode_pprof(&p, &gz, &len, err, sizeof err);
  } else {
    bad = cp_compute(x, &o, &p, err, sizeof err) || cp_encode_pprof(&p, &gz, &len, err, sizeof err);
  }
  if (bad) {
    cp_free(&p);
    vx_free(x);
    respond_err(r, 500, err);
    return;
  }
  cp_free(&p);
  vx_free(x);
  respond_file(r, gz, len, "profile");
  /* (the samples are in the view's own trace too: the page shows them) */
  size_t hl = strlen(r->headers);
  snprintf(r->headers + hl, sizeof r->headers - hl, "X-Ctrace-Window: %" PRIu64 " %" PRIu64 "\r\n",
           t0, t1);
}

/* ---- block and mutex: from the trace -------------------------------------------------------- */

/* 1 if a sample's event (its leaf frame) is a wait for a lock. */
static int lock_wait(const pf_profile *p, const pf_sample *s) {
  if (!s->n)
    return 0;
  const char *name = p->strings[p->frames[p->stack[s->first]].name];
  return !strcmp(name, "mutex wait") || !strncmp(name, "rwlock ", 7);
}

/* Keeps the samples of lock waits only (mutex), their totals with them,
 * and says so in the profile's comment. */
static void keep_lock_waits(pf_profile *p) {
  char *c = strdup("ctrace view --pid: time threads waited for contended locks (mutexes, rwlocks), "
                   "by the stack of regions they waited in");
  if (c) {
    free(p->strings[PF_STR_COMMENT]);
    p->strings[PF_STR_COMMENT] = c;
  }
  size_t k = 0;
  p->count = p->delay = 0;
  for (size_t i = 0; i < p->nsamples; i++)
    if (lock_wait(p, &p->samples[i])) {
      p->samples[k++] = p->samples[i];
      p->count += p->samples[i].count;
      p->delay += p->samples[i].delay;
    }
  p->nsamples = k;
}

/* The files of the profile into paths (free them): a trace of the next
 * `sec` seconds, or (sec 0) every file since the view attached. @return
 * how many, or -1 with r answered. */
static int trace_files(const rt_pprof *pp, double sec, char **paths, rt_response *r) {
  char err[1024], path[4096];
  size_t n = 0;
  int st = sec > 0 ? pp->trace(pp->arg, sec, path, sizeof path, err, sizeof err)
                   : pp->files(pp->arg, paths, PPROF_MAX_FILES, &n, err, sizeof err);
  if (!st && sec > 0 && !(paths[n++] = strdup(path))) {
    st = 500;
    snprintf(err, sizeof err, "out of memory");
  }
  if (st) {
    respond_err(r, st, err);
    return -1;
  }
  return (int)n;
}

/* The index of trace_files's files. @return it, or NULL with r answered. */
static vx_index *trace_index(const rt_pprof *pp, double sec, rt_response *r) {
  char err[1024];
  char *paths[PPROF_MAX_FILES];
  int n = trace_files(pp, sec, paths, r);
  if (n < 0)
    return NULL;
  vx_index *x = vx_build(paths, (size_t)n, err, sizeof err);
  for (int i = 0; i < n; i++)
    free(paths[i]);
  if (!x)
    respond_err(r, 500, err);
  return x;
}

static void pprof_blocking(const rt_context *ctx, const char *q, int mutex, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  double sec;
  char err[1024];
  if (seconds_param(ctx, q, 0, &sec, r))
    return;
  vx_index *x = trace_index(pp, sec, r);
  if (!x)
    return;
  st_options o = {0};
  pf_profile p;
  unsigned char *gz = NULL;
  size_t len = 0;
  if (pf_compute(x, PF_SYNC, &o, &p, err, sizeof err)) {
    vx_free(x);
    respond_err(r, 500, err);
    return;
  }
  if (mutex)
    keep_lock_waits(&p);
  int bad = pf_encode_pprof(&p, &gz, &len, err, sizeof err);
  pf_free(&p);
  vx_free(x);
  if (bad)
    respond_err(r, 500, err);
  else
    respond_file(r, gz, len, mutex ? "mutex" : "block");
}

/* ---- heap, allocs ----------------------------------------------------------------------------- */

/* The heap profile of everything recorded since the view attached: what
 * was allocated, and what of it is in use now (the recording's end), as
 * `ctrace pprof --type heap|allocs` makes it. */
static void pprof_heap(const rt_context *ctx, int allocs, rt_response *r) {
  char err[1024];
  vx_index *x = trace_index(ctx->pprof, 0, r);
  if (!x)
    return;
  cp_options o = {.heap = allocs ? CP_HEAP_ALLOCS : CP_HEAP_INUSE, .symbols = ctx->symbols};
  cp_profile p;
  unsigned char *gz = NULL;
  size_t len = 0;
  int st = 0;
  if (!vx_heap(x).samples) {
    st = 503;
    snprintf(err, sizeof err,
             "process %d recorded no heap samples since the view attached: they are taken by "
             "libctrace-preload.so's malloc wrappers (start it with ctrace run --control PATH, "
             "or LD_PRELOAD=libctrace-preload.so; CTRACE_HEAP_RATE=0 turns them off)",
             ctx->pprof->pid);
  } else if (cp_compute(x, &o, &p, err, sizeof err)) {
    st = 500;
  } else {
    st = cp_encode_pprof(&p, &gz, &len, err, sizeof err) ? 500 : 0;
    cp_free(&p);
  }
  vx_free(x);
  if (st)
    respond_err(r, st, err);
  else
    respond_file(r, gz, len, allocs ? "allocs" : "heap");
}

/* ---- trace, cmdline ------------------------------------------------------------------------- */

/* The whole file into *out (free it). @return 0, or -errno. */
static int slurp(const char *path, unsigned char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    int e = errno;
    if (fd >= 0)
      close(fd);
    return -e;
  }
  unsigned char *b = malloc(st.st_size ? (size_t)st.st_size : 1);
  size_t got = 0;
  while (b && got < (size_t)st.st_size) {
    ssize_t k = read(fd, b + got, (size_t)st.st_size - got);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(fd);
  if (!b)
    return -ENOMEM;
  *out = b;
  *len = got;
  return 0;
}

static void pprof_trace(const rt_context *ctx, const char *q, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  double sec;
  char path[4096], err[4200], name[64];
  if (seconds_param(ctx, q, 1, &sec, r))
    return;
  int st = pp->trace(pp->arg, sec, path, sizeof path, err, sizeof err);
  if (st) {
    respond_err(r, st, err);
    return;
  }
  unsigned char *b = NULL;
  size_t len = 0;
  int e = slurp(path, &b, &len);
  if (e) {
    snprintf(err, sizeof err, "cannot read the trace %s: %s", path, strerror(-e));
    respond_err(r, 500, err);
    return;
  }
  snprintf(name, sizeof name, "trace-%d.ctrace", pp->pid);
  respond_file(r, b, len, name);
}

static void pprof_cmdline(const rt_context *ctx, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  size_t n = pp->cmdline_len;
  if (n && pp->cmdline[n - 1] == '\0')
    n--; /* (NUL between the arguments, as Go joins os.Args) */
  char *b = malloc(n ? n : 1);
  if (!b) {
    respond_err(r, 500, "out of memory");
    return;
  }
  memcpy(b, pp->cmdline, n);
  r->status = 200;
  r->content_type = "text/plain; charset=utf-8";
  r->body = b;
  r->len = n;
}

/* ---- threads: every thread's stack ---------------------------------------------------------- */

static void pprof_threads(const rt_context *ctx, const char *q, rt_response *r) {
  const rt_pprof *pp = ctx->pprof;
  uint64_t debug;
  char err[1024], buf[64];
  if (rt__query_u64(q, "debug", 0, &debug) || debug > 2) {
    snprintf(buf, sizeof buf, "%s", "(malformed)");
    rt__query_get(q, "debug", buf, sizeof buf);
    snprintf(err, sizeof err, "bad debug=%s: 0 (a pprof profile), 1 or 2 (text)", buf);
    respond_err(r, 400, err);
    return;
  }
  char *body = NULL;
  size_t len = 0;
  int st = pp->threads(pp->arg, (int)debug, &body, &len, err, sizeof err);
  if (st) {
    respond_err(r, st, err);
    return;
  }
  if (debug) {
    r->status = 200;
    r->content_type = "text/plain; charset=utf-8";
    r->body = body;
    r->len = len;
  } else {
    respond_file(r, (unsigned char *)body, len, "threads");
  }
}

/* ---- Dispatch ---------------------------------------------------------------------------------- */

void rt__debug_pprof(const rt_context *ctx, const char *path, const char *q, rt_response *r) {
  if (!ctx->pprof) {
    respond_err(r, 404, "no process attached: /debug/pprof/ is served by ctrace view --pid PID");
    return;
  }
  const char *name = path + strlen("/debug/pprof");
  if (!*name || !strcmp(name, "/"))
    pprof_index(ctx, r);
  else if (!strcmp(name, "/profile"))
    pprof_profile(ctx, q, r);
  else if (!strcmp(name, "/block"))
    pprof_blocking(ctx, q, 0, r);
  else if (!strcmp(name, "/mutex"))
    pprof_blocking(ctx, q, 1, r);
  else if (!strcmp(name, "/trace"))
    pprof_trace(ctx, q, r);
  else if (!strcmp(name, "/cmdline"))
    pprof_cmdline(ctx, r);
  else if (!strcmp(name, "/heap") || !strcmp(name, "/allocs"))
    pprof_heap(ctx, name[1] == 'a', r);
  else if ((!strcmp(name, "/threads") || !strcmp(name, "/goroutine")) && ctx->pprof->threads)
    pprof_threads(ctx, q, r);
  else
    respond_text(r, 404, "text/plain; charset=utf-8", "Unknown profile: %s\n",
                 *name == '/' ? name + 1 : name);
}
