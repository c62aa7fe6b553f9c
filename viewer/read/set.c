/* A set of traces read as one typed event stream (read.h): finding what
 * each path is, what the traces share (threads' processes, the tracers'
 * own work), and handing each source to its decoder. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read.h"
#include "read_internal.h"
#include "common.h"

enum { SRC_NATIVE, SRC_KERNEL, SRC_CTF, SRC_LIVE, SRC_JSON };

struct te_set_ctx {
  vh_map tid_pid;  /* tid -> pid: ctrace traces' threads first, then the kernel's K_TASK */
  vh_map declared; /* tids a ctrace trace declares */
  rd_span *spans;  /* the tracers' own work, of every ctrace trace */
  size_t nspans, cap_spans;
  te_source *srcs;
  size_t n;
};

struct te_set {
  te_set_ctx c;
  int borrowed; /* trs[0] is the caller's (te_set_of_trace) */
  char **paths;
  int *kind;    /* SRC_* */
  int *threads; /* SRC_NATIVE and SRC_KERNEL: the trace has threads besides a kernel stream */
  rd_trace **trs;
  struct ctf_stats *ctf; /* per source (LTTng) */
  int read;
};

/* ---- What the decoders share -------------------------------------------------------- */

int te__tid_pid(const te_set_ctx *c, int tid, int def) {
  uint32_t *p = vh_get((vh_map *)&c->tid_pid, (uint64_t)(uint32_t)tid);
  return p ? (int)*p : def;
}

void te__tid_claim(te_set_ctx *c, int tid, int pid) {
  if (!vh_get(&c->tid_pid, (uint64_t)(uint32_t)tid))
    vh_put(&c->tid_pid, (uint64_t)(uint32_t)tid, (uint32_t)pid);
}

int te__tid_known(const te_set_ctx *c, int tid) {
  return vh_get((vh_map *)&c->declared, (uint64_t)(uint32_t)tid) != NULL;
}

const char *te__process_of(const te_set_ctx *c, int pid) {
  for (size_t i = 0; i < c->n; i++)
    if (c->srcs[i].pid == pid && c->srcs[i].native && strcmp(c->srcs[i].format, "ctrace-kernel"))
      return c->srcs[i].process;
  return NULL;
}

int te__spans_cover(const te_set_ctx *c, int tid, uint64_t ns) {
  return rd_spans_cover(c->spans, c->nspans, tid, ns);
}

void te__spans_exec(te_set_ctx *c, int tid, uint64_t ns) {
  rd_spans_exec(c->spans, c->nspans, tid, ns);
}

/* ---- Opening ---------------------------------------------------------------------------- */

static int is_live_url(const char *p) {
  return !strncmp(p, "net://", 6) || !strncmp(p, "net4://", 7) || !strncmp(p, "net6://", 7);
}

/* What a file is: SRC_NATIVE (a ctrace trace), SRC_JSON, or -1 with a
 * message (as the viewer has always said it). */
static int sniff_file(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s: not a regular file", path);
    close(fd);
    return -1;
  }
  char head[16] = {0};
  ssize_t n = pread(fd, head, sizeof head, 0);
  close(fd);
  if (n >= CTRACE_FMT_MAGIC_LEN && memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN) == 0)
    return SRC_NATIVE;
  size_t k = 0;
  while (k < (size_t)(n > 0 ? n : 0) &&
         (head[k] == ' ' || head[k] == '\n' || head[k] == '\r' || head[k] == '\t'))
    k++;
  if (n <= 0 || k >= (size_t)n || (head[k] != '{' && head[k] != '[')) {
    snprintf(err, errlen, "%s: %s", path,
             n <= 0 ? "empty file" : "neither a ctrace trace nor Chrome trace-event JSON");
    return -1;
  }
  return SRC_JSON;
}

/* A ctrace trace: its threads (tid -> pid) and the tracer's spans join the
 * set's; a trace with no thread but the kernel's is a kernel stream. */
static int adopt_native(te_set *s, size_t i) {
  rd_trace *tr = s->trs[i];
  te_source *src = &s->c.srcs[i];
  int kernel = 0;
  for (size_t t = 0; t < rd_thread_count(tr); t++) {
    const rd_thread *th = rd_thread_get(tr, t);
    if (th->kernel) {
      kernel = 1;
      continue;
    }
    s->threads[i] = 1;
    if (th->tid > 0) {
      te__tid_claim(&s->c, th->tid, rd_pid(tr));
      vh_put(&s->c.declared, (uint64_t)(uint32_t)th->tid, 1);
    }
  }
  s->kind[i] = kernel ? SRC_KERNEL : SRC_NATIVE;
  src->format = kernel && !s->threads[i] ? "ctrace-kernel" : "ctrace";
  src->native = tr;
  src->pid = rd_pid(tr);
  src->process = rd_process_name(tr);
  src->capture = *rd_capture_get(tr);
  const rd_span *sp;
  size_t nsp = rd_tracer_spans(tr, &sp);
  for (size_t k = 0; k < nsp; k++) {
    rd_span *d = VH_PUSH(s->c.spans, s->c.nspans, s->c.cap_spans);
    if (!d)
      return -1;
    *d = sp[k];
  }
  return 0;
}

static int open_native(te_set *s, size_t i, unsigned flags, char *err, size_t errlen) {
  char msg[600];
  int r = rd_open(s->paths[i], flags & TE_NO_CRC ? RD_OPEN_NO_CRC : 0, &s->trs[i], msg, sizeof msg);
  if (r) {
    snprintf(err, errlen, "%s: %s", s->paths[i], msg);
    return -1;
  }
  if (adopt_native(s, i)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return 0;
}

static int open_one(te_set *s, size_t i, unsigned flags, char *err, size_t errlen) {
  const char *p = s->paths[i];
  te_source *src = &s->c.srcs[i];
  src->path = p;
  src->process = "";
  struct stat st;
  if (is_live_url(p)) {
    s->kind[i] = SRC_LIVE;
    src->format = "lttng-live";
    return 0;
  }
  if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
    s->kind[i] = SRC_CTF;
    src->format = "lttng-ctf";
    return 0;
  }
  if (flags & TE_CTRACE_ONLY)
    return open_native(s, i, flags, err, errlen);
  int k = sniff_file(p, err, errlen);
  if (k < 0)
    return -1;
  if (k == SRC_NATIVE)
    return open_native(s, i, flags, err, errlen);
  s->kind[i] = SRC_JSON;
  src->format = "chrome-json";
  return 0;
}

te_set *te_set_open(char *const *paths, size_t n, unsigned flags, char *err, size_t errlen) {
  te_set *s = calloc(1, sizeof *s);
  if (s) {
    s->c.n = n;
    s->c.srcs = calloc(n ? n : 1, sizeof *s->c.srcs);
    s->paths = calloc(n ? n : 1, sizeof *s->paths);
    s->kind = calloc(n ? n : 1, sizeof *s->kind);
    s->threads = calloc(n ? n : 1, sizeof *s->threads);
    s->trs = calloc(n ? n : 1, sizeof *s->trs);
    s->ctf = calloc(n ? n : 1, sizeof *s->ctf);
  }
  if (!s || !s->c.srcs || !s->paths || !s->kind || !s->threads || !s->trs || !s->ctf) {
    te_set_close(s);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    if (!(s->paths[i] = strdup(paths[i]))) {
      snprintf(err, errlen, "out of memory");
      te_set_close(s);
      return NULL;
    }
    if (open_one(s, i, flags, err, errlen)) {
      te_set_close(s);
      return NULL;
    }
  }
  /* A stop span "to the end" ends where the next image on that thread
   * (after an exec) starts its own. */
  rd_spans_clip(s->c.spans, s->c.nspans);
  return s;
}

void te_set_close(te_set *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->c.n; i++) {
    if (s->trs && !s->borrowed)
      rd_close(s->trs[i]);
    if (s->ctf)
      ctf_stats_free(&s->ctf[i]);
    if (s->paths)
      free(s->paths[i]);
  }
  free(s->trs);
  free(s->ctf);
  free(s->paths);
  free(s->kind);
  free(s->threads);
  free(s->c.srcs);
  free(s->c.spans);
  vh_free(&s->c.tid_pid);
  vh_free(&s->c.declared);
  free(s);
}

te_set *te_set_of_trace(rd_trace *tr, const char *name) {
  te_set *s = calloc(1, sizeof *s);
  if (s) {
    s->c.n = 1;
    s->borrowed = 1;
    s->c.srcs = calloc(1, sizeof *s->c.srcs);
    s->paths = calloc(1, sizeof *s->paths);
    s->kind = calloc(1, sizeof *s->kind);
    s->threads = calloc(1, sizeof *s->threads);
    s->trs = calloc(1, sizeof *s->trs);
    s->ctf = calloc(1, sizeof *s->ctf);
  }
  if (!s || !s->c.srcs || !s->paths || !s->kind || !s->threads || !s->trs || !s->ctf ||
      !(s->paths[0] = strdup(name))) {
    te_set_close(s);
    return NULL;
  }
  s->trs[0] = tr;
  s->c.srcs[0].path = s->paths[0];
  s->c.srcs[0].process = "";
  if (adopt_native(s, 0)) {
    te_set_close(s);
    return NULL;
  }
  rd_spans_clip(s->c.spans, s->c.nspans);
  return s;
}

size_t te_set_count(const te_set *s) { return s->c.n; }
const te_source *te_set_source(const te_set *s, size_t i) { return &s->c.srcs[i]; }

/* ---- Reading -------------------------------------------------------------------------- */

static int whole_file(const char *path, char **text, size_t *len, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -errno;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *p = malloc(n + 1);
  while (p && got < n) {
    ssize_t r = pread(fd, p + got, n - got, (off_t)got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  if (!p || got != n) {
    free(p);
    snprintf(err, errlen, "%s: cannot read", path);
    return p ? -EIO : CTRACE_ENOMEM;
  }
  p[n] = '\0';
  *text = p;
  *len = n;
  return 0;
}

static int read_json(te_set *s, size_t i, te_handler fn, void *arg, char *err, size_t errlen) {
  char *text = NULL;
  size_t len = 0;
  int r = whole_file(s->paths[i], &text, &len, err, errlen);
  if (r)
    return r;
  char why[1024];
  r = te_json_read(text, len, &s->c.srcs[i], fn, arg, why, sizeof why);
  if (r && why[0])
    snprintf(err, errlen, "%s: %s", s->paths[i], why);
  free(text);
  return r;
}

/* A ctrace trace: the kernel's stream first (as it has always been
 * exported), then the threads' own events. */
static int read_native(te_set *s, size_t i, te_handler fn, void *arg) {
  te_source *src = &s->c.srcs[i];
  rd_trace *tr = s->trs[i];
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = TE_SOURCE_BEGIN;
  int r = fn(arg, src, &ev);
  if (!r && s->kind[i] == SRC_KERNEL)
    r = te__kernel_read(&s->c, tr, src, fn, arg);
  if (!r && s->threads[i])
    r = te__native_read(&s->c, tr, src, fn, arg);
  src->complete = rd_complete(tr);
  src->dropped = rd_dropped_reported(tr);
  src->problem = rd_problem(tr);
  src->problem_kind = rd_problem_kind_of(tr);
  ev.type = TE_SOURCE_END;
  return r ? r : fn(arg, src, &ev);
}

int te_set_read(te_set *s, te_handler fn, void *arg, char *err, size_t errlen) {
  if (s->read) {
    snprintf(err, errlen, "a set is read once");
    return CTRACE_EINVAL;
  }
  s->read = 1;
  err[0] = '\0';
  for (size_t i = 0; i < s->c.n; i++) {
    int r;
    char why[1024];
    switch (s->kind[i]) {
    case SRC_NATIVE:
    case SRC_KERNEL: r = read_native(s, i, fn, arg); break;
    case SRC_JSON: r = read_json(s, i, fn, arg, err, errlen); break;
    default:
      why[0] = '\0';
      r = te__ctf_read(s->paths[i], &s->c.srcs[i], &s->ctf[i], fn, arg, why, sizeof why);
      if (r && why[0])
        snprintf(err, errlen, "%s: %s", s->paths[i], why);
      break;
    }
    if (r) {
      if (!err[0])
        snprintf(err, errlen, "%s: %s", s->paths[i], ctrace_strerror(r));
      return r;
    }
  }
  return 0;
}

int te_set_read_one(te_set *s, size_t i, te_handler fn, void *arg, char *err, size_t errlen) {
  err[0] = '\0';
  if (i >= s->c.n || (s->kind[i] != SRC_NATIVE && s->kind[i] != SRC_KERNEL)) {
    snprintf(err, errlen, "source %zu: not a ctrace file of the set", i);
    return CTRACE_EINVAL;
  }
  int r = read_native(s, i, fn, arg);
  if (r)
    snprintf(err, errlen, "%s: %s", s->paths[i], ctrace_strerror(r));
  return r;
}

/* ---- FILE.kernel beside FILE ---------------------------------------------------------- */

char **te_paths_with_kernel(char *const *paths, size_t n, size_t *nout, int **added) {
  char **all = calloc(2 * n + 1, sizeof *all);
  int *add = calloc(2 * n + 1, sizeof *add);
  if (!all || !add) {
    free(all);
    free(add);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    all[k++] = paths[i];
    char kp[PATH_MAX];
    snprintf(kp, sizeof kp, "%s.kernel", paths[i]);
    int given = 0;
    for (size_t j = 0; j < n; j++)
      given |= !strcmp(paths[j], kp);
    struct stat st;
    if (!given && stat(paths[i], &st) == 0 && !S_ISDIR(st.st_mode) && access(kp, R_OK) == 0) {
      if (!(all[k] = strdup(kp))) {
        te_paths_free(all, k, add);
        return NULL;
      }
      add[k++] = 1;
    }
  }
  *nout = k;
  *added = add;
  return all;
}

void te_paths_free(char **all, size_t n, int *added) {
  for (size_t i = 0; all && added && i < n; i++)
    if (added[i])
      free(all[i]);
  free(all);
  free(added);
}

/* ---- Names ----------------------------------------------------------------------------- */

long te_syscall_nr(const char *name) {
  for (long nr = 0; nr < 512; nr++) {
    const char *n = te_syscall_name(nr);
    if (n && !strcmp(n, name))
      return nr;
  }
  return -1;
}
