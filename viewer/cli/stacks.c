/* `ctrace stacks PID [--json] [--socket PATH] [--debug-dir DIR]`: every
 * thread's call stack of a running process, now, with the thread's name
 * and what it is doing, like Go's goroutine?debug=2 (cli.h's
 * cli_stacks_*, which the viewer's /debug/pprof/threads serves too).
 *
 * The process's control socket (common.h: `stacks`) sends each thread's
 * registers and the top of its stack, what the kernel says of it (state,
 * system call, wchan), the wait the preload's lock wrappers know of, and
 * the process's code mappings (tracer/runtime/stacks.c); here the copies
 * are unwound (tracer/capture's ctrace__stacks_*, libdw) and named as
 * `ctrace top` names samples (viewer/analysis: cp_compute_stacks, inlined
 * frames and file:line included). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "capture.h"
#include "cli.h"
#include "common.h"
#include "ctrace/format.h"

#define REPLY_MS 30000 /* the whole reply, at most */

typedef struct st_thread_now {
  int tid;
  char name[64];
  char state; /* the kernel's letter (R running, S sleeping, D disk, T stopped ...) */
  int tracer; /* one of the tracer's threads */
  long nr;    /* the system call it is blocked in; -1 none (running), -2 not known */
  uint64_t args[6];
  char wchan[64];
  char *note;         /* why it has no stack, or NULL */
  unsigned wait_kind; /* CTRACE_FMT_WAIT_* (the preload's wrappers), 0 none */
  uint64_t wait_obj, wait_ns;
  int holder;         /* a mutex's holder (tid), 0 unknown */
  uint64_t paused_ns; /* how long its copy took (the signal's handler) */
  char how;           /* 's' signal, 'p' rsp and rip from /proc, 0 no stack */
  unsigned flags;     /* CTRACE__SAMPLE_PARTIAL */
  uint64_t *pcs;
  unsigned npcs;
} st_thread_now;

struct cli_stacks {
  int pid;
  int signal;
  uint64_t window_ns, paused_max_ns, paused_total_ns;
  st_thread_now *threads;
  size_t nthreads, cap_threads;
  vx_mapping *maps;
  size_t nmaps, cap_maps;
  ctrace__stacks *uw;
  cp_profile prof; /* prof.stacks[i]: threads[i]'s */
};

void cli_stacks_free(cli_stacks *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nthreads; i++) {
    free(s->threads[i].note);
    free(s->threads[i].pcs);
  }
  free(s->threads);
  for (size_t i = 0; i < s->nmaps; i++) {
    free((char *)s->maps[i].path);
    free((char *)s->maps[i].build_id);
  }
  free(s->maps);
  ctrace__stacks_free(s->uw);
  cp_free(&s->prof);
  free(s);
}

/* ---- The reply -------------------------------------------------------------------------- */

/* Everything the process sends, until it closes, into *buf. @return 0, or
 * -1 with err. */
static int read_all(int fd, char **buf, size_t *len, char *err, size_t errlen) {
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  uint64_t until = cc_mono_ms() + REPLY_MS;
  while (b) {
    if (n + 1 == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb)
        free(b);
      b = nb;
      if (!b)
        break;
    }
    uint64_t now = cc_mono_ms();
    struct pollfd pf = {fd, POLLIN, 0};
    if (now >= until || poll(&pf, 1, (int)(until - now)) == 0) {
      snprintf(err, errlen, "the process did not finish its reply within %d s", REPLY_MS / 1000);
      free(b);
      return -1;
    }
    ssize_t r = read(fd, b + n, cap - n - 1);
    if (r < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (r < 0) {
      snprintf(err, errlen, "reading the reply: %s", strerror(errno));
      free(b);
      return -1;
    }
    if (r == 0) {
      b[n] = '\0';
      *buf = b;
      *len = n;
      return 0;
    }
    n += (size_t)r;
  }
  snprintf(err, errlen, "out of memory");
  return -1;
}

static int add_map(cli_stacks *s, const char *line) {
  unsigned long long start, end, off;
  int pos = -1;
  if (sscanf(line, "%llx %llx %llx %n", &start, &end, &off, &pos) < 3 || pos < 0)
    return 0;
  vx_mapping *m = VH_PUSH(s->maps, s->nmaps, s->cap_maps);
  if (!m)
    return -1;
  char id[65] = ""; /* (capture.h: ctrace__stacks_map) */
  *m = (vx_mapping){s->pid, start, end, off, strdup(line + pos), NULL};
  if (!m->path)
    return -1;
  if (!s->uw && !(s->uw = ctrace__stacks_new(s->pid)))
    return -1;
  ctrace__stacks_map(s->uw, start, end, off, m->path, id);
  return (m->build_id = strdup(id)) ? 0 : -1;
}

/* "regs signal|proc R0..R16", then "stack LEN" and LEN bytes at *p:
 * unwound into t. @return 0, or -1 (memory, or a malformed reply). */
static int take_stack(cli_stacks *s, st_thread_now *t, const char *regs, const char **p,
                      const char *end) {
  ctrace__self_sample smp;
  memset(&smp, 0, sizeof smp);
  smp.tid = t->tid;
  const char *q = regs + strcspn(regs, " ");
  t->how = !strncmp(regs, "signal", 6) ? 's' : 'p';
  for (int i = 0; i < CTRACE__SELF_NREGS; i++) {
    char *e;
    smp.regs[i] = strtoull(q, &e, 16);
    if (e == q)
      return -1;
    q = e;
  }
  unsigned len;
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  if (!nl || sscanf(*p, "stack %u", &len) != 1 || (size_t)(end - nl - 1) < len)
    return -1;
  smp.stack = (const unsigned char *)nl + 1;
  smp.stack_len = len;
  *p = nl + 1 + len + (nl + 1 + len < end); /* (and its newline) */
  if (!(t->pcs = malloc(CTRACE__STACK_MAX * sizeof *t->pcs)))
    return -1;
  if (!s->uw && !(s->uw = ctrace__stacks_new(s->pid)))
    return -1;
  t->npcs = ctrace__stacks_unwind(s->uw, &smp, t->pcs, CTRACE__STACK_MAX, &t->flags);
  return 0;
}

/* One "key value" line of thread t. */
static int thread_line(st_thread_now *t, const char *key, const char *val) {
  if (!strcmp(key, "name"))
    snprintf(t->name, sizeof t->name, "%s", val);
  else if (!strcmp(key, "state"))
    t->state = val[0];
  else if (!strcmp(key, "tracer"))
    t->tracer = 1;
  else if (!strcmp(key, "wchan"))
    snprintf(t->wchan, sizeof t->wchan, "%s", val);
  else if (!strcmp(key, "note"))
    return (t->note = strdup(val)) ? 0 : -1;
  else if (!strcmp(key, "paused_ns"))
    t->paused_ns = strtoull(val, NULL, 10);
  else if (!strcmp(key, "wait"))
    sscanf(val, "%u %" SCNx64 " %" SCNu64 " %d", &t->wait_kind, &t->wait_obj, &t->wait_ns,
           &t->holder);
  else if (!strcmp(key, "syscall")) {
    unsigned long long a[6];
    if (!strcmp(val, "running"))
      t->nr = -1;
    else if (sscanf(val, "%ld %llx %llx %llx %llx %llx %llx", &t->nr, &a[0], &a[1], &a[2], &a[3],
                    &a[4], &a[5]) == 7)
      for (int i = 0; i < 6; i++)
        t->args[i] = a[i];
  }
  return 0;
}

/* The header line's numbers. */
static void header(cli_stacks *s, const char *line) {
  const char *p;
  if ((p = strstr(line, " signal=")))
    s->signal = atoi(p + 8);
  if ((p = strstr(line, " window_ns=")))
    s->window_ns = strtoull(p + 11, NULL, 10);
  if ((p = strstr(line, " paused_max_ns=")))
    s->paused_max_ns = strtoull(p + 15, NULL, 10);
  if ((p = strstr(line, " paused_total_ns=")))
    s->paused_total_ns = strtoull(p + 17, NULL, 10);
}

/* The reply b[0..n) into s. @return 0, or -1 with err. */
static int parse(cli_stacks *s, const char *b, size_t n, char *err, size_t errlen) {
  const char *p = b, *end = b + n;
  st_thread_now *t = NULL;
  int ended = 0, bad = 0;
  char line[4096];
  while (p < end && !ended && !bad) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
    if (!strncmp(line, "stack ", 6)) { /* (only after a regs line, which takes it) */
      bad = 1;
      break;
    }
    const char *next = nl ? nl + 1 : end;
    char *val = line + strcspn(line, " ");
    if (*val)
      *val++ = '\0';
    if (p == b) {
      if (!strcmp(line, "error:")) {
        snprintf(err, errlen, "the process answered: %s", val);
        return -1;
      }
      bad = strcmp(line, "ok") || strncmp(val, "stacks", 6);
      header(s, val);
    } else if (!strcmp(line, "map")) {
      bad = add_map(s, val) != 0;
    } else if (!strcmp(line, "thread")) {
      if (!(t = VH_PUSH(s->threads, s->nthreads, s->cap_threads)))
        bad = 1;
      else
        *t = (st_thread_now){.tid = atoi(val), .nr = -2};
    } else if (!strcmp(line, "end")) {
      ended = 1;
    } else if (t && !strcmp(line, "regs")) {
      p = next;
      bad = take_stack(s, t, val, &p, end) != 0;
      continue;
    } else if (t) {
      bad = thread_line(t, line, val) != 0;
    }
    p = next;
  }
  if (bad || !ended) {
    snprintf(err, errlen, "%s",
             bad ? "the process's reply is malformed (or out of memory)"
                 : "the reply ended early (the process exited?)");
    return -1;
  }
  return 0;
}

/* The threads' stacks named (prof.stacks[i] is threads[i]'s). */
static int name_all(cli_stacks *s, const char *const *dirs, size_t ndirs, char *err,
                    size_t errlen) {
  cp_raw_stack *raw = calloc(s->nthreads ? s->nthreads : 1, sizeof *raw);
  if (!raw) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < s->nthreads; i++)
    raw[i] = (cp_raw_stack){s->threads[i].pcs, s->threads[i].npcs, 1};
  cp_options o;
  memset(&o, 0, sizeof o);
  o.debug_dirs = dirs;
  o.ndebug_dirs = ndirs;
  int r = cp_compute_stacks(s->pid, s->maps, s->nmaps, raw, s->nthreads, &o, &s->prof, err, errlen);
  free(raw);
  return r;
}

static int capture(int pid, const char *socket, const char *const *dirs, size_t ndirs,
                   cli_stacks **out, char *err, size_t errlen) {
  *out = NULL;
  if (pid <= 0) {
    snprintf(err, errlen, "bad process id %d", pid);
    return -1;
  }
  if (!cc_proc_alive(pid)) {
    snprintf(err, errlen, "no process %d (it exited, or never was)", pid);
    return -1;
  }
  char path[PATH_MAX];
  if (cc_find_socket_e(pid, socket, path, sizeof path, err, errlen))
    return -1;
  int fd = cc_connect_e(pid, path, err, errlen);
  if (fd < 0)
    return -1;
  char *b = NULL;
  size_t n = 0;
  int r = cc_send_line(fd, "stacks\n") == 0 ? 0 : -1;
  if (r)
    snprintf(err, errlen, "sending the command to %s: %s", path, strerror(errno));
  else
    r = read_all(fd, &b, &n, err, errlen);
  close(fd);
  cli_stacks *s = r ? NULL : calloc(1, sizeof *s);
  if (!r && !s)
    snprintf(err, errlen, "out of memory");
  if (s) {
    s->pid = pid;
    r = parse(s, b, n, err, errlen);
    if (!r)
      r = name_all(s, dirs, ndirs, err, errlen);
  }
  free(b);
  if (r || !s) {
    cli_stacks_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

int cli_stacks_capture_at(int pid, const char *socket, cli_stacks **out, char *err, size_t errlen) {
  return capture(pid, socket, NULL, 0, out, err, errlen);
}

int cli_stacks_capture(int pid, cli_stacks **out, char *err, size_t errlen) {
  return capture(pid, NULL, NULL, 0, out, err, errlen);
}

/* ---- Text ---------------------------------------------------------------------------------- */

static const char *wait_name(unsigned kind) {
  switch (kind) {
  case CTRACE_FMT_WAIT_MUTEX: return "mutex";
  case CTRACE_FMT_WAIT_COND: return "condition variable";
  case CTRACE_FMT_WAIT_RWLOCK_READ: return "rwlock (to read)";
  case CTRACE_FMT_WAIT_RWLOCK_WRITE: return "rwlock (to write)";
  case CTRACE_FMT_WAIT_SEM: return "semaphore";
  case CTRACE_FMT_WAIT_JOIN: return "thread join";
  default: return "object";
  }
}

static const st_thread_now *thread_of(const cli_stacks *s, int tid) {
  for (size_t i = 0; i < s->nthreads; i++)
    if (s->threads[i].tid == tid)
      return &s->threads[i];
  return NULL;
}

/* Whether system call name's first argument is a file descriptor. */
static int fd_call(const char *name) {
  static const char *const calls[] = {
      "read",      "write",   "pread64",    "pwrite64",    "readv",   "writev",  "recvfrom",
      "sendto",    "recvmsg", "sendmsg",    "accept",      "accept4", "connect", "fsync",
      "fdatasync", "close",   "epoll_wait", "epoll_pwait", "flock",   "ioctl",   "fcntl"};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    if (!strcmp(name, calls[i]))
      return 1;
  return 0;
}

/* What thread t is doing, for its header: "running", "in syscall
 * read(fd 3)", "waiting on mutex 0x... held by thread T "N", 12 ms". */
static void doing(const cli_stacks *s, const st_thread_now *t, char *b, size_t len) {
  if (t->tracer) {
    snprintf(b, len, "the tracer's own thread");
  } else if (t->wait_kind) {
    int k = snprintf(b, len, "waiting on %s 0x%" PRIx64, wait_name(t->wait_kind), t->wait_obj);
    const st_thread_now *h = t->holder ? thread_of(s, t->holder) : NULL;
    if (t->holder && k > 0 && (size_t)k < len)
      k += snprintf(b + k, len - (size_t)k, " held by thread %d%s%s%s", t->holder, h ? " \"" : "",
                    h ? h->name : "", h ? "\"" : "");
    if (k > 0 && (size_t)k < len)
      snprintf(b + k, len - (size_t)k, ", %" PRIu64 " ms", t->wait_ns / 1000000);
  } else if (t->state == 'R' || (t->nr == -1 && t->state != 'T' && t->state != 't')) {
    snprintf(b, len, "running");
  } else if (t->nr >= 0) {
    const char *name = vx_syscall_name(t->nr);
    char num[32];
    if (!name)
      snprintf(num, sizeof num, "#%ld", t->nr), name = num;
    if (fd_call(name))
      snprintf(b, len, "in syscall %s(fd %d)", name, (int)t->args[0]);
    else if (!strcmp(name, "futex"))
      snprintf(b, len, "in syscall futex(0x%" PRIx64 ")", t->args[0]);
    else
      snprintf(b, len, "in syscall %s", name);
  } else {
    snprintf(b, len, "%s",
             t->state == 'T'   ? "stopped"
             : t->state == 't' ? "stopped by a debugger"
             : t->state == 'Z' ? "exited (zombie)"
             : t->state == 'D' ? "in the kernel, uninterruptible"
                               : "sleeping");
  }
}

/* Its frames, innermost first: "function()" then "\tfile:line". */
static void frames_text(const cli_stacks *s, size_t i, FILE *out) {
  const st_thread_now *t = &s->threads[i];
  const cp_profile *p = &s->prof;
  if (!t->how) {
    fprintf(out, "\t(no stack: %s)\n", t->note ? t->note : "not taken");
    return;
  }
  if (t->how == 'p' && t->note) /* (not signalled: only rsp and rip) */
    fprintf(out, "\t(%s: from its system call's rsp and rip)\n", t->note);
  const cp_stack *st = &p->stacks[i];
  for (size_t k = 0; k < st->n; k++) {
    uint32_t li = p->stack_locs[st->first + k];
    const cp_location *loc = &p->locs[li];
    for (size_t f = 0; f < loc->n; f++) {
      const cp_line *l = &p->lines[loc->first + f];
      char name[300];
      if (l->function)
        snprintf(name, sizeof name, "%s", l->function);
      else
        cp_location_name(p, li, name, sizeof name);
      fprintf(out, "%s()%s\n", name, f + 1 < loc->n ? " (inlined)" : "");
      if (l->file && l->line)
        fprintf(out, "\t%s:%d\n", l->file, l->line);
      else
        fprintf(out, "\t%s\n",
                l->function ? (cp_location_name(p, li, name, sizeof name), name)
                            : "(no line information)");
    }
  }
  if (t->flags & CTRACE__SAMPLE_PARTIAL)
    fprintf(out, "...\t(not unwound further%s)\n",
            t->how == 'p' ? ": only rsp and rip were known" : "");
}

void cli_stacks_text(const cli_stacks *s, FILE *out) {
  for (size_t i = 0; i < s->nthreads; i++) {
    const st_thread_now *t = &s->threads[i];
    char what[512];
    doing(s, t, what, sizeof what);
    fprintf(out, "%sthread %d \"%s\" [%s]:\n", i ? "\n" : "", t->tid, t->name, what);
    frames_text(s, i, out);
  }
}

/* ---- JSON and pprof ------------------------------------------------------------------- */

static cJSON *frames_json(const cli_stacks *s, size_t i) {
  const cp_profile *p = &s->prof;
  const cp_stack *st = &p->stacks[i];
  cJSON *a = cJSON_CreateArray();
  for (size_t k = 0; a && s->threads[i].how && k < st->n; k++) {
    uint32_t li = p->stack_locs[st->first + k];
    const cp_location *loc = &p->locs[li];
    const char *module = "";
    if (loc->mapping) {
      const char *path = p->maps[loc->mapping - 1].path, *base = strrchr(path, '/');
      module = base ? base + 1 : path;
    }
    for (size_t f = 0; f < loc->n; f++) {
      const cp_line *l = &p->lines[loc->first + f];
      char name[300], addr[32];
      if (l->function)
        snprintf(name, sizeof name, "%s", l->function);
      else
        cp_location_name(p, li, name, sizeof name);
      snprintf(addr, sizeof addr, "0x%" PRIx64, loc->addr);
      cJSON *fr = cJSON_CreateObject();
      cJSON_AddItemToArray(a, fr);
      cJSON_AddStringToObject(fr, "function", name);
      if (l->file)
        cJSON_AddStringToObject(fr, "file", l->file);
      else
        cJSON_AddNullToObject(fr, "file");
      cJSON_AddNumberToObject(fr, "line", l->line);
      cJSON_AddBoolToObject(fr, "inlined", f + 1 < loc->n);
      cJSON_AddStringToObject(fr, "module", module);
      cJSON_AddStringToObject(fr, "address", addr);
    }
  }
  return a;
}

static cJSON *thread_json(const cli_stacks *s, size_t i) {
  const st_thread_now *t = &s->threads[i];
  cJSON *o = cJSON_CreateObject();
  char b[512], st[2] = {t->state, 0};
  doing(s, t, b, sizeof b);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "name", t->name);
  cJSON_AddStringToObject(o, "status", b);
  cJSON_AddStringToObject(o, "state", st);
  cJSON_AddBoolToObject(o, "tracer", t->tracer);
  const char *sc = t->nr >= 0 ? vx_syscall_name(t->nr) : NULL;
  if (sc)
    cJSON_AddStringToObject(o, "syscall", sc);
  else
    cJSON_AddNullToObject(o, "syscall");
  if (t->wchan[0])
    cJSON_AddStringToObject(o, "wchan", t->wchan);
  if (t->wait_kind) {
    cJSON *w = cJSON_AddObjectToObject(o, "wait");
    snprintf(b, sizeof b, "0x%" PRIx64, t->wait_obj);
    cJSON_AddStringToObject(w, "kind", wait_name(t->wait_kind));
    cJSON_AddStringToObject(w, "object", b);
    cJSON_AddNumberToObject(w, "ns", (double)t->wait_ns);
    cJSON_AddNumberToObject(w, "holder", t->holder);
  }
  cJSON_AddNumberToObject(o, "paused_ns", (double)t->paused_ns);
  cJSON_AddStringToObject(o, "registers",
                          t->how == 's'   ? "signal"
                          : t->how == 'p' ? "proc"
                                          : "none");
  cJSON_AddBoolToObject(o, "partial", (t->flags & CTRACE__SAMPLE_PARTIAL) != 0);
  if (t->note)
    cJSON_AddStringToObject(o, "note", t->note);
  cJSON_AddItemToObject(o, "frames", frames_json(s, i));
  return o;
}

int cli_stacks_json(const cli_stacks *s, FILE *out) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return -1;
  cJSON_AddNumberToObject(root, "pid", s->pid);
  cJSON_AddNumberToObject(root, "signal", s->signal);
  /* How long the process was interrupted: the capture from the first
   * signal to the last answer, and each thread's own pause. */
  cJSON_AddNumberToObject(root, "window_ns", (double)s->window_ns);
  cJSON_AddNumberToObject(root, "paused_max_ns", (double)s->paused_max_ns);
  cJSON_AddNumberToObject(root, "paused_total_ns", (double)s->paused_total_ns);
  cJSON *a = cJSON_AddArrayToObject(root, "threads");
  for (size_t i = 0; a && i < s->nthreads; i++)
    cJSON_AddItemToArray(a, thread_json(s, i));
  if (s->prof.problems && s->prof.problems[0])
    cJSON_AddStringToObject(root, "problems", s->prof.problems);
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text)
    return -1;
  int r = fprintf(out, "%s\n", text) < 0 ? -1 : 0;
  free(text);
  return r;
}

/* Whether two stacks name the same locations. */
static int same_stack(const cp_profile *p, const cp_stack *a, const cp_stack *b) {
  return a->n == b->n &&
         !memcmp(&p->stack_locs[a->first], &p->stack_locs[b->first], a->n * sizeof(uint32_t));
}

int cli_stacks_pprof(const cli_stacks *s, FILE *out) {
  cp_profile merged = s->prof; /* (shares everything but the stacks: not freed) */
  merged.stacks = calloc(s->prof.nstacks ? s->prof.nstacks : 1, sizeof *merged.stacks);
  if (!merged.stacks)
    return -1;
  merged.nstacks = 0;
  for (size_t i = 0; i < s->prof.nstacks; i++) {
    if (s->threads[i].tracer) /* (Go's profile counts the program's goroutines) */
      continue;
    size_t k = 0;
    while (k < merged.nstacks && !same_stack(&s->prof, &merged.stacks[k], &s->prof.stacks[i]))
      k++;
    if (k == merged.nstacks)
      merged.stacks[merged.nstacks++] = s->prof.stacks[i];
    else
      merged.stacks[k].count += s->prof.stacks[i].count;
  }
  unsigned char *gz = NULL;
  size_t len = 0;
  char err[256];
  int r = cp_encode_pprof(&merged, &gz, &len, err, sizeof err);
  free(merged.stacks);
  if (!r && fwrite(gz, 1, len, out) != len)
    r = -1;
  free(gz);
  return r;
}

/* ---- The command ------------------------------------------------------------------------ */

static const char usage_text[] =
    "usage: ctrace stacks PID [--json | --pprof FILE] [--socket PATH] [--debug-dir DIR]...\n"
    "Every thread's call stack of a running process, now, with its name and what it\n"
    "is doing (running; in syscall X; waiting on mutex 0x... held by thread T, under\n"
    "ctrace run's wrappers), like Go's goroutine?debug=2. Each thread is interrupted\n"
    "once, for microseconds (a signal: a nanosleep, poll or epoll_wait it is blocked\n"
    "in returns EINTR, as with any signal).\n"
    "The process needs a control socket: start it with CTRACE_CONTROL=/tmp/ctrace-%p.sock\n"
    "(linked with libctrace, or with LD_PRELOAD=libctrace-preload.so), or with\n"
    "ctrace run --control PATH [--no-record] -- PROG.\n"
    "  --json            one JSON document (with how long the process was interrupted)\n"
    "  --pprof FILE      a pprof profile instead (threads/count, one sample per distinct\n"
    "                    stack: Go's goroutine profile; `go tool pprof -traces FILE`)\n"
    "  --socket PATH     the control socket (default: the process's CTRACE_CONTROL)\n"
    "  --debug-dir DIR   look for debug information in DIR first (repeatable)\n";

int ctrace_cmd_stacks(int argc, char **argv) {
  static const struct option opts[] = {
      {"json", no_argument, NULL, 'j'},        {"socket", required_argument, NULL, 's'},
      {"pprof", required_argument, NULL, 'p'}, {"debug-dir", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
  int json = 0, c;
  const char *socket = NULL, *pprof = NULL, *dirs[16];
  size_t ndirs = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    if (c == 'j')
      json = 1;
    else if (c == 's')
      socket = optarg;
    else if (c == 'p')
      pprof = optarg;
    else if (c == 'd' && ndirs < 16)
      dirs[ndirs++] = optarg;
    else if (c == 'h') {
      fputs(usage_text, stdout);
      return 0;
    } else {
      fputs(usage_text, stderr);
      return 2;
    }
  }
  if (json && pprof) {
    fprintf(stderr, "ctrace stacks: --json or --pprof, not both\n%s", usage_text);
    return 2;
  }
  if (optind != argc - 1) {
    fprintf(stderr, "ctrace stacks: %s\n%s", optind < argc ? "one PID only" : "missing PID",
            usage_text);
    return 2;
  }
  int pid = cc_parse_pid(argv[optind]);
  if (pid < 0) {
    fprintf(stderr, "ctrace stacks: '%s' is not a process id (a number > 0)\n", argv[optind]);
    return 2;
  }
  cli_stacks *s;
  char err[PATH_MAX + 512];
  if (capture(pid, socket, dirs, ndirs, &s, err, sizeof err)) {
    fprintf(stderr, "ctrace stacks: %s\n", err);
    return 1;
  }
  int r = 0;
  if (pprof) {
    FILE *f = fopen(pprof, "wbe");
    if (!f) {
      fprintf(stderr, "ctrace stacks: cannot create %s: %s\n", pprof, strerror(errno));
      cli_stacks_free(s);
      return 1;
    }
    r = cli_stacks_pprof(s, f);
    if (fclose(f) != 0)
      r = -1;
  } else if (json)
    r = cli_stacks_json(s, stdout);
  else
    cli_stacks_text(s, stdout);
  if (!json && !pprof && s->prof.problems && s->prof.problems[0])
    fprintf(stderr, "ctrace stacks: %s", s->prof.problems);
  cli_stacks_free(s);
  if (r || fflush(stdout) != 0) {
    fprintf(stderr, "ctrace stacks: writing the output failed\n");
    return 1;
  }
  return 0;
}
