/* Kernel events of the traced process through perf_event_open(2): context
 * switches and the raw_syscalls tracepoints (see capture.h).
 *
 * Layout: one event per (kind, CPU), each with its own mmapped ring:
 *   - sched: a PERF_COUNT_SW_DUMMY event with context_switch = 1, which
 *     emits only PERF_RECORD_SWITCH side-band records;
 *   - syscalls: raw_syscalls:sys_enter and raw_syscalls:sys_exit
 *     tracepoints, sample_period = 1, PERF_SAMPLE_RAW payload decoded with
 *     the offsets of the tracepoint's format file.
 * All are pid = 0 (this process), cpu = c, inherit = 1 so threads created
 * later are covered. inherit_thread = 1 (Linux >= 5.13) keeps the events out
 * of fork()ed children; on older kernels children inherit them too and
 * their records, which land in our rings, are dropped by pid in the drain.
 *
 * ctrace__perf_open_pid (the `ctrace run` launcher) attaches the same
 * events to another process instead, typically a child that has not
 * exec'd yet, and follows its whole tree: its threads and the processes it
 * forks inherit the events (no inherit_thread), and the drain keeps the
 * records of all of them.
 *
 * The drain (writer thread only) copies every new record of every ring
 * into `ev`, sorts the pending records by time (stable) with a natural
 * merge sort of (ns, index) keys, delivers those older than the watermark
 * and keeps the rest, in order, for the next call. Pending records are
 * capped (CTRACE__PERF_PENDING_MAX): beyond it the oldest are delivered
 * early and counted (`early`). Buffers only grow (doubling); nothing is
 * allocated per record.
 *
 * Test hooks (environment, read when opening):
 *   CTRACE__TEST_PERF_FAIL=1         every perf_event_open "fails" with EACCES;
 *   CTRACE__TEST_PERF_INHERIT_ALL=1  no inherit_thread: children inherit the
 *                                    events (as on kernels < 5.13), so the
 *                                    pid filter of the drain is exercised;
 *   CTRACE__TEST_PERF_PENDING_MAX=N  the pending cap, in records.
 */
#define _GNU_SOURCE
#include "capture.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Data pages of each ring (a power of 2; one more page holds the header).
 * 64 pages = 256 KiB hold ~8000 switch records (32 bytes each): two
 * threads ping-ponging on one CPU (270k switches/s, 540k records/s)
 * lost none with a drain every 10 ms. */
#ifndef CTRACE__PERF_RING_PAGES
#define CTRACE__PERF_RING_PAGES 64
#endif
/* Data pages of each syscall tracepoint ring (two per CPU): sys_enter
 * records are 104 bytes, sys_exit 64. Measured with two threads calling
 * getppid() in a loop (1.4M calls/s) and a drain every 10 ms: 128 pages
 * lost 21% of the records, 256 pages 0.3%, 512 pages none. */
#ifndef CTRACE__PERF_SYS_RING_PAGES
#define CTRACE__PERF_SYS_RING_PAGES 256
#endif
/* A ring that cannot be mapped (mlock limit of unprivileged users) is
 * retried at half the size, down to this. */
#define CTRACE__PERF_RING_MIN_PAGES 8
/* Records kept between drains at most (72 bytes each, twice, plus keys). */
#ifndef CTRACE__PERF_PENDING_MAX
#define CTRACE__PERF_PENDING_MAX (1u << 17)
#endif

enum { RING_SCHED, RING_SYS_ENTER, RING_SYS_EXIT };

typedef struct perf_ring {
  int fd;
  int cpu;
  int kind;                          /* RING_* */
  struct perf_event_mmap_page *meta; /* the mapping starts here */
  size_t map_len;
  const unsigned char *data; /* data area: size bytes, a power of 2 */
  uint64_t size;
  uint64_t tail; /* our copy of meta->data_tail (only we write it) */
} perf_ring;

typedef struct tp_field {
  uint32_t off, size;
  int is_signed;
} tp_field;

/* A sort key: time, then arrival order (so any order of keys is stable). */
typedef struct pkey {
  uint64_t ns;
  uint64_t idx;
} pkey;

struct ctrace__perf {
  int pid;  /* the traced process (getpid() at open, or open_pid's pid) */
  int tree; /* open_pid: records of pid's descendants are kept too */
  perf_ring *rings;
  size_t nrings;
  tp_field enter_id, enter_args, exit_id, exit_ret; /* RAW payload fields */

  /* Pending records (not delivered yet), in arrival order until sorted;
   * ev2, keys2 and runs are scratch space of the same capacity. */
  ctrace__kevent *ev, *ev2;
  pkey *keys, *keys2;
  size_t *runs; /* cap + 1 */
  size_t n, cap;
  size_t pending_max;

  uint64_t early;     /* delivered before the watermark: pending was full */
  uint64_t nomem;     /* dropped: buffer growth failed; reported as K_LOST */
  uint64_t malformed; /* records that did not parse (never seen) */
  uint64_t lost_ns;   /* time of the last delivered record (for nomem) */

  _Alignas(8) unsigned char tmp[65536]; /* a record that wraps the ring end */
};

/* ---- Messages ---------------------------------------------------------------- */

/* Appends a message to `why`, after "; " if it holds one already. */
static void why_add(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_add(char *why, size_t whylen, const char *fmt, ...) {
  if (!why || whylen == 0)
    return;
  size_t len = strnlen(why, whylen);
  if (len >= whylen - 1)
    return;
  if (len > 0) {
    snprintf(why + len, whylen - len, "; ");
    len = strnlen(why, whylen);
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why + len, whylen - len, fmt, ap);
  va_end(ap);
}

/* Reads a small file into buf (NUL-terminated). @return its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t len = 0;
  while (len < cap - 1) {
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

/* The value of a sysctl file as text ("?" if unreadable). */
static const char *sysctl_text(const char *path, char *buf, size_t cap) {
  ssize_t n = read_small(path, buf, cap);
  if (n <= 0)
    return "?";
  while (n > 0 && isspace((unsigned char)buf[n - 1]))
    buf[--n] = '\0';
  return buf;
}

static const char *paranoid_text(char *buf, size_t cap) {
  return sysctl_text("/proc/sys/kernel/perf_event_paranoid", buf, cap);
}

/* ---- Opening ----------------------------------------------------------------- */

typedef struct open_ctx {
  ctrace__perf *p;
  int target;         /* perf_event_open's pid: 0 (this process) or a pid */
  int test_fail;      /* CTRACE__TEST_PERF_FAIL */
  int inherit_thread; /* cleared when the kernel rejects it */
  size_t page;
  int ncpu;
  char *why;
  size_t whylen;
} open_ctx;

static int perf_event_open_fd(open_ctx *c, struct perf_event_attr *attr, int cpu) {
  if (c->test_fail) {
    errno = EACCES;
    return -1;
  }
  for (;;) {
    attr->inherit_thread = (unsigned)c->inherit_thread;
    long fd = syscall(SYS_perf_event_open, attr, c->target, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0)
      return (int)fd;
    /* Kernels before 5.13 do not know inherit_thread (a reserved bit). */
    if ((errno == EINVAL || errno == E2BIG) && c->inherit_thread) {
      c->inherit_thread = 0;
      continue;
    }
    return -1;
  }
}

static void ring_unmap(perf_ring *r) {
  if (r->meta)
    munmap(r->meta, r->map_len);
  if (r->fd >= 0)
    close(r->fd);
  r->meta = NULL;
  r->fd = -1;
}

/* Opens one event per CPU of `kind` and maps its ring. On failure closes
 * what this call opened, explains in `why` (prefixed by `what`) and
 * returns -1. */
static int open_rings(open_ctx *c, struct perf_event_attr *attr, int kind, unsigned pages,
                      const char *what, const char *event_name) {
  ctrace__perf *p = c->p;
  size_t first = p->nrings;
  char pbuf[32];
  for (int cpu = 0; cpu < c->ncpu; cpu++) {
    int fd = perf_event_open_fd(c, attr, cpu);
    if (fd < 0) {
      int e = errno;
      if (e == ENODEV) /* offline CPU */
        continue;
      if (e == EACCES || e == EPERM)
        why_add(c->why, c->whylen,
                "%s: perf_event_open%s: %s (kernel.perf_event_paranoid = %s; %s)", what, event_name,
                strerror(e), paranoid_text(pbuf, sizeof pbuf),
                kind == RING_SCHED ? "run as root or lower it" : "needs root");
      else if (e == ESRCH)
        why_add(c->why, c->whylen, "%s: perf_event_open%s: process %d: %s", what, event_name,
                c->target, strerror(e));
      else
        why_add(c->why, c->whylen, "%s: perf_event_open%s on cpu %d: %s", what, event_name, cpu,
                strerror(e));
      goto fail;
    }
    void *m = MAP_FAILED;
    size_t len = 0;
    for (unsigned n = pages;; n /= 2) {
      len = (1 + (size_t)n) * c->page;
      m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED || (errno != EPERM && errno != ENOMEM) ||
          n / 2 < CTRACE__PERF_RING_MIN_PAGES)
        break;
    }
    if (m == MAP_FAILED) {
      int e = errno;
      char mbuf[32];
      why_add(c->why, c->whylen, "%s: mmap of a %zu KiB ring: %s (kernel.perf_event_mlock_kb = %s)",
              what, len / 1024, strerror(e),
              sysctl_text("/proc/sys/kernel/perf_event_mlock_kb", mbuf, sizeof mbuf));
      close(fd);
      goto fail;
    }
    perf_ring *r = &p->rings[p->nrings++];
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->cpu = cpu;
    r->kind = kind;
    r->meta = m;
    r->map_len = len;
    /* data_offset / data_size exist since Linux 4.1; before, data follows
     * the first page. */
    uint64_t off = r->meta->data_offset ? r->meta->data_offset : c->page;
    uint64_t size = r->meta->data_size ? r->meta->data_size : len - c->page;
    r->data = (const unsigned char *)m + off;
    r->size = size;
    r->tail = r->meta->data_tail;
  }
  if (p->nrings == first) {
    why_add(c->why, c->whylen, "%s: no CPU accepted the event", what);
    return -1;
  }
  return 0;
fail:
  while (p->nrings > first)
    ring_unmap(&p->rings[--p->nrings]);
  return -1;
}

static int open_sched(open_ctx *c) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_DUMMY;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
  a.sample_id_all = 1;
  a.context_switch = 1;
  a.task = 1; /* exit records: a thread's last switch-out is not reported */
  a.inherit = 1;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  /* Unprivileged (perf_event_paranoid = 2) only user-space events are
   * allowed: without this the open fails with EACCES. Switch records are
   * side-band and come either way. */
  a.exclude_kernel = geteuid() != 0;
  a.exclude_hv = 1;
  return open_rings(c, &a, RING_SCHED, CTRACE__PERF_RING_PAGES, "context switches", "");
}

/* Finds `name` in a tracepoint format file, whose field lines read
 * "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;".
 * `fmt` is modified (lines are cut). @return 0 or -1. */
static int tp_find(char *fmt, const char *name, tp_field *f) {
  size_t nl = strlen(name);
  char *save = NULL;
  for (char *line = strtok_r(fmt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *decl = strstr(line, "field:");
    if (!decl)
      continue;
    decl += 6;
    char *semi = strchr(decl, ';');
    if (!semi)
      continue;
    char *end = memchr(decl, '[', (size_t)(semi - decl));
    if (!end)
      end = semi;
    char *start = end;
    while (start > decl && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
      start--;
    if ((size_t)(end - start) != nl || memcmp(start, name, nl) != 0)
      continue;
    char *o = strstr(semi, "offset:"), *s = strstr(semi, "size:"), *sg = strstr(semi, "signed:");
    if (!o || !s)
      return -1;
    f->off = (uint32_t)strtoul(o + 7, NULL, 10);
    f->size = (uint32_t)strtoul(s + 5, NULL, 10);
    f->is_signed = sg && sg[7] == '1';
    return 0;
  }
  return -1;
}

/* Reads the id and the fields of raw_syscalls:<event> from tracefs at
 * `dir`. @return 0, or -1 with `why` filled. */
static int tp_load(open_ctx *c, const char *dir, const char *event, const char *f1, tp_field *t1,
                   const char *f2, tp_field *t2, uint64_t *id) {
  char path[256], buf[8192];
  snprintf(path, sizeof path, "%s/events/raw_syscalls/%s/id", dir, event);
  ssize_t n = read_small(path, buf, sizeof buf);
  if (n == -ENOENT) {
    why_add(c->why, c->whylen,
            "complete syscalls: no raw_syscalls tracepoints in %s (kernel without "
            "CONFIG_FTRACE_SYSCALLS?)",
            dir);
    return -1;
  }
  if (n < 0) {
    if (geteuid() != 0)
      why_add(c->why, c->whylen, "complete syscalls: needs root (perf_event_open on tracepoints)");
    else
      why_add(c->why, c->whylen, "complete syscalls: %s: %s", path, strerror((int)-n));
    return -1;
  }
  char *end = NULL;
  *id = strtoull(buf, &end, 10);
  if (end == buf) {
    why_add(c->why, c->whylen, "complete syscalls: %s: not a number", path);
    return -1;
  }
  snprintf(path, sizeof path, "%s/events/raw_syscalls/%s/format", dir, event);
  n = read_small(path, buf, sizeof buf);
  if (n < 0) {
    why_add(c->why, c->whylen, "complete syscalls: %s: %s", path, strerror((int)-n));
    return -1;
  }
  char copy[sizeof buf];
  memcpy(copy, buf, (size_t)n + 1);
  if (tp_find(buf, f1, t1) != 0 || tp_find(copy, f2, t2) != 0) {
    why_add(c->why, c->whylen, "complete syscalls: %s: no field %s or %s", path, f1, f2);
    return -1;
  }
  return 0;
}

static int is_word_size(uint32_t s) { return s == 4 || s == 8; }

/* The tracefs directory (holding events/), mounting it if needed. */
static const char *tracefs_find(open_ctx *c) {
  static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  char path[64];
  int denied = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
      snprintf(path, sizeof path, "%s/events", dirs[i]);
      if (access(path, F_OK) == 0)
        return dirs[i];
      denied |= errno == EACCES;
    }
    if (attempt == 1)
      break;
    if (denied || geteuid() != 0) {
      why_add(c->why, c->whylen, "complete syscalls: needs root (perf_event_open on tracepoints)");
      return NULL;
    }
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0) {
      why_add(c->why, c->whylen, "complete syscalls: tracefs not mounted and mount failed: %s",
              strerror(errno));
      return NULL;
    }
  }
  why_add(c->why, c->whylen,
          "complete syscalls: tracefs mounted on /sys/kernel/tracing has no events/");
  return NULL;
}

static int open_syscalls(open_ctx *c) {
  ctrace__perf *p = c->p;
  const char *dir = tracefs_find(c);
  if (!dir)
    return -1;
  uint64_t enter_id, exit_id;
  if (tp_load(c, dir, "sys_enter", "id", &p->enter_id, "args", &p->enter_args, &enter_id) != 0 ||
      tp_load(c, dir, "sys_exit", "id", &p->exit_id, "ret", &p->exit_ret, &exit_id) != 0)
    return -1;
  if (!is_word_size(p->enter_id.size) || !is_word_size(p->exit_id.size) ||
      !is_word_size(p->exit_ret.size) || p->enter_args.size % 6 != 0 ||
      !is_word_size(p->enter_args.size / 6)) {
    why_add(c->why, c->whylen,
            "complete syscalls: unexpected field sizes in %s/events/raw_syscalls", dir);
    return -1;
  }
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_TRACEPOINT;
  a.sample_period = 1;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
  a.sample_id_all = 1;
  a.inherit = 1;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  /* Not exclude_kernel: tracepoints fire in the kernel, it would hide them all. */
  size_t first = p->nrings;
  a.config = enter_id;
  if (open_rings(c, &a, RING_SYS_ENTER, CTRACE__PERF_SYS_RING_PAGES, "complete syscalls",
                 "(raw_syscalls:sys_enter)") != 0)
    return -1;
  a.config = exit_id;
  if (open_rings(c, &a, RING_SYS_EXIT, CTRACE__PERF_SYS_RING_PAGES, "complete syscalls",
                 "(raw_syscalls:sys_exit)") != 0) {
    while (p->nrings > first)
      ring_unmap(&p->rings[--p->nrings]);
    return -1;
  }
  return 0;
}

/* Like ctrace__perf_open, for process `pid` and the processes it forks
 * later (pid <= 0: this process only, as ctrace__perf_open). Meant for a
 * child of the caller opened before it execs: threads that exist already
 * (other than pid itself) are not covered. Unprivileged, the caller must be
 * allowed to ptrace pid (same user). The drain delivers the records of pid
 * and of its descendants. */
ctrace__perf *ctrace__perf_open_pid(int pid, unsigned want, unsigned *got, char *why,
                                    size_t whylen) {
  if (got)
    *got = 0;
  if (why && whylen)
    why[0] = '\0';
  open_ctx c;
  memset(&c, 0, sizeof c);
  c.why = why;
  c.whylen = whylen;
  const char *v = getenv("CTRACE__TEST_PERF_FAIL");
  c.test_fail = v && *v && strcmp(v, "0") != 0;
  v = getenv("CTRACE__TEST_PERF_INHERIT_ALL");
  c.inherit_thread = !(v && *v && strcmp(v, "0") != 0) && pid <= 0;
  c.target = pid > 0 ? pid : 0;
  long page = sysconf(_SC_PAGESIZE);
  c.page = page > 0 ? (size_t)page : 4096;
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  c.ncpu = ncpu > 0 ? (int)ncpu : 1;

  if (want & ~(unsigned)(CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS))
    why_add(why, whylen, "perf: unknown request bits 0x%x", want);
  if (!(want & (CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS)))
    return NULL;

  ctrace__perf *p = calloc(1, sizeof *p);
  if (p)
    p->rings = calloc(3 * (size_t)c.ncpu, sizeof *p->rings);
  if (!p || !p->rings) {
    free(p);
    why_add(why, whylen, "perf: out of memory");
    return NULL;
  }
  c.p = p;
  p->pid = pid > 0 ? pid : (int)getpid();
  p->tree = pid > 0;
  p->pending_max = CTRACE__PERF_PENDING_MAX;
  v = getenv("CTRACE__TEST_PERF_PENDING_MAX");
  if (v && atol(v) > 0)
    p->pending_max = (size_t)atol(v);

  unsigned ok = 0;
  if ((want & CTRACE__PERF_SCHED) && open_sched(&c) == 0)
    ok |= CTRACE__PERF_SCHED;
  if ((want & CTRACE__PERF_SYSCALLS) && open_syscalls(&c) == 0)
    ok |= CTRACE__PERF_SYSCALLS;
  if (got)
    *got = ok;
  if (!ok) {
    ctrace__perf_close(p);
    return NULL;
  }
  return p;
}

ctrace__perf *ctrace__perf_open(unsigned want, unsigned *got, char *why, size_t whylen) {
  return ctrace__perf_open_pid(0, want, got, why, whylen);
}

/* ---- Reading ----------------------------------------------------------------- */

/* Room for one more pending record (amortised doubling). NULL if memory
 * ran out: the record is counted in nomem. */
static ctrace__kevent *pending_slot(ctrace__perf *p) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4096;
    /* Each array is kept when its realloc succeeds; cap moves only when
     * all did, so a partial failure loses nothing. */
    void *q;
    if ((q = realloc(p->ev, cap * sizeof *p->ev)))
      p->ev = q;
    if (q && (q = realloc(p->ev2, cap * sizeof *p->ev2)))
      p->ev2 = q;
    if (q && (q = realloc(p->keys, cap * sizeof *p->keys)))
      p->keys = q;
    if (q && (q = realloc(p->keys2, cap * sizeof *p->keys2)))
      p->keys2 = q;
    if (q && (q = realloc(p->runs, (cap + 1) * sizeof *p->runs)))
      p->runs = q;
    if (!q) {
      p->nomem++;
      return NULL;
    }
    p->cap = cap;
  }
  return &p->ev[p->n++];
}

static uint64_t rd64(const unsigned char *b) {
  uint64_t v;
  memcpy(&v, b, 8);
  return v;
}

static uint32_t rd32(const unsigned char *b) {
  uint32_t v;
  memcpy(&v, b, 4);
  return v;
}

/* A field of a RAW payload as a signed value (sign-extended when the field
 * is signed and 4 bytes wide). @return 0, or -1 if out of bounds. */
static int raw_field(const unsigned char *raw, uint32_t rawlen, const tp_field *f, uint32_t index,
                     uint32_t width, uint64_t *out) {
  uint64_t off = (uint64_t)f->off + (uint64_t)index * width;
  if (off + width > rawlen)
    return -1;
  if (width == 8)
    *out = rd64(raw + off);
  else if (f->is_signed)
    *out = (uint64_t)(int64_t)(int32_t)rd32(raw + off);
  else
    *out = rd32(raw + off);
  return 0;
}

/* The sample_id trailer of non-sample records: pid, tid, time, cpu, res. */
#define SAMPLE_ID_LEN 24

/* A new pending event, zeroed but for who, when and where (NULL: the
 * pending set is full, counted there). */
static ctrace__kevent *new_event(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns,
                                 int cpu) {
  ctrace__kevent *e = pending_slot(p);
  if (e) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->pid = pid;
    e->tid = tid;
    e->ns = ns;
    e->cpu = cpu;
  }
  return e;
}

static void parse_record(ctrace__perf *p, const perf_ring *r, const unsigned char *rec,
                         uint32_t size) {
  struct perf_event_header h;
  memcpy(&h, rec, sizeof h);
  switch (h.type) {
  case PERF_RECORD_SWITCH:
  case PERF_RECORD_SWITCH_CPU_WIDE: {
    if (size < sizeof h + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *id = rec + size - SAMPLE_ID_LEN;
    int pid = (int)rd32(id);
    if (pid != p->pid && !p->tree)
      return;
    ctrace__kevent *e = new_event(p, 0, pid, (int)rd32(id + 4), rd64(id + 8), (int)rd32(id + 16));
    if (!e)
      return;
    if (!(h.misc & PERF_RECORD_MISC_SWITCH_OUT))
      e->kind = CTRACE__K_SWITCH_IN;
    else if (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
      e->kind = CTRACE__K_SWITCH_OUT_PREEMPT;
    else
      e->kind = CTRACE__K_SWITCH_OUT;
    return;
  }
  case PERF_RECORD_EXIT: {
    /* pid, ppid, tid, ptid, time | sample_id */
    if (size < sizeof h + 24 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *b = rec + sizeof h, *id = rec + size - SAMPLE_ID_LEN;
    int pid = (int)rd32(b);
    if (pid != p->pid && !p->tree)
      return;
    new_event(p, CTRACE__K_EXIT, pid, (int)rd32(b + 8), rd64(id + 8), (int)rd32(id + 16));
    return;
  }
  case PERF_RECORD_LOST: {
    /* Whatever process overflowed the ring, what was lost may be ours:
     * always delivered. */
    if (size < sizeof h + 16 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *id = rec + size - SAMPLE_ID_LEN;
    ctrace__kevent *e =
        new_event(p, CTRACE__K_LOST, (int)rd32(id), (int)rd32(id + 4), rd64(id + 8), r->cpu);
    if (e)
      e->lost = rd64(rec + sizeof h + 8);
    return;
  }
  case PERF_RECORD_SAMPLE: {
    /* pid, tid | time | cpu, res | raw size | raw data */
    if (r->kind == RING_SCHED || size < sizeof h + 28) {
      p->malformed += r->kind != RING_SCHED;
      return;
    }
    const unsigned char *b = rec + sizeof h;
    int pid = (int)rd32(b);
    if (pid != p->pid && !p->tree)
      return;
    uint32_t rawlen = rd32(b + 24);
    const unsigned char *raw = b + 28;
    if ((uint64_t)rawlen > size - sizeof h - 28) {
      p->malformed++;
      return;
    }
    uint64_t nr, a0 = 0, a1 = 0, ret = 0;
    if (r->kind == RING_SYS_ENTER) {
      uint32_t w = p->enter_args.size / 6;
      if (raw_field(raw, rawlen, &p->enter_id, 0, p->enter_id.size, &nr) != 0 ||
          raw_field(raw, rawlen, &p->enter_args, 0, w, &a0) != 0 ||
          raw_field(raw, rawlen, &p->enter_args, 1, w, &a1) != 0) {
        p->malformed++;
        return;
      }
    } else if (raw_field(raw, rawlen, &p->exit_id, 0, p->exit_id.size, &nr) != 0 ||
               raw_field(raw, rawlen, &p->exit_ret, 0, p->exit_ret.size, &ret) != 0) {
      p->malformed++;
      return;
    }
    ctrace__kevent *e = new_event(p, 0, pid, (int)rd32(b + 4), rd64(b + 8), (int)rd32(b + 16));
    if (!e)
      return;
    e->nr = (long)nr;
    if (r->kind == RING_SYS_ENTER) {
      e->kind = CTRACE__K_SYS_ENTER;
      e->args[0] = a0;
      e->args[1] = a1;
    } else {
      e->kind = CTRACE__K_SYS_EXIT;
      e->ret = (long)ret;
    }
    return;
  }
  default: /* THROTTLE, UNTHROTTLE, ...: skipped by their size */ return;
  }
}

/* Copies len bytes at ring offset `pos` (which may wrap) into dst. */
static void ring_copy(const perf_ring *r, uint64_t pos, void *dst, size_t len) {
  uint64_t off = pos & (r->size - 1);
  size_t first = (size_t)(r->size - off) < len ? (size_t)(r->size - off) : len;
  memcpy(dst, r->data + off, first);
  memcpy((unsigned char *)dst + first, r->data, len - first);
}

static void ring_read(ctrace__perf *p, perf_ring *r) {
  /* Acquire: pairs with the kernel's barrier before it publishes
   * data_head, so the records below it are complete. */
  uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = r->tail;
  while (head - tail >= sizeof(struct perf_event_header)) {
    struct perf_event_header h;
    ring_copy(r, tail, &h, sizeof h);
    if (h.size < sizeof h || h.size > head - tail) { /* cannot happen: resync */
      p->malformed++;
      tail = head;
      break;
    }
    uint64_t off = tail & (r->size - 1);
    const unsigned char *rec = r->data + off;
    if (off + h.size > r->size) { /* wraps around the end of the data area */
      ring_copy(r, tail, p->tmp, h.size);
      rec = p->tmp;
    }
    parse_record(p, r, rec, h.size);
    tail += h.size;
  }
  /* Release: our reads of the records happen before the kernel may
   * overwrite them. */
  __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
  r->tail = tail;
}

static int key_lt(const pkey *a, const pkey *b) {
  return a->ns < b->ns || (a->ns == b->ns && a->idx < b->idx);
}

/* Sorts keys[0..n) (natural merge sort: pending records are a few sorted
 * runs, the leftover plus one per ring). @return the sorted array (keys or
 * keys2). */
static pkey *sort_keys(ctrace__perf *p, size_t n) {
  pkey *src = p->keys, *dst = p->keys2;
  size_t *runs = p->runs, nr = 0;
  runs[nr++] = 0;
  for (size_t i = 1; i < n; i++)
    if (key_lt(&src[i], &src[i - 1]))
      runs[nr++] = i;
  runs[nr] = n; /* run k is [runs[k], runs[k + 1]) */
  while (nr > 1) {
    size_t out = 0;
    for (size_t k = 0; k < nr; k += 2) {
      size_t a = runs[k], m = runs[k + 1];
      size_t e = k + 2 <= nr ? runs[k + 2] : m;
      size_t i = a, j = m, o = a;
      while (i < m && j < e)
        dst[o++] = key_lt(&src[j], &src[i]) ? src[j++] : src[i++];
      while (i < m)
        dst[o++] = src[i++];
      while (j < e)
        dst[o++] = src[j++];
      runs[out++] = a;
    }
    runs[out] = n;
    nr = out;
    pkey *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

size_t ctrace__perf_drain(ctrace__perf *p, uint64_t up_to_ns,
                          void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  if (!p)
    return 0;
  for (size_t i = 0; i < p->nrings; i++)
    ring_read(p, &p->rings[i]);
  size_t n = p->n, d = 0;
  if (n > 0) {
    for (size_t i = 0; i < n; i++) {
      p->keys[i].ns = p->ev[i].ns;
      p->keys[i].idx = i;
    }
    pkey *k = sort_keys(p, n);
    size_t lo = 0, hi = n; /* first key with ns >= up_to_ns */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (k[mid].ns < up_to_ns)
        lo = mid + 1;
      else
        hi = mid;
    }
    d = lo;
    if (n - d > p->pending_max) { /* bounded memory: the oldest go now */
      p->early += n - d - p->pending_max;
      d = n - p->pending_max;
    }
    for (size_t i = 0; i < d; i++)
      if (emit)
        emit(arg, &p->ev[k[i].idx]);
    if (d > 0)
      p->lost_ns = k[d - 1].ns;
    for (size_t i = d; i < n; i++) /* the rest, in order, for next time */
      p->ev2[i - d] = p->ev[k[i].idx];
    ctrace__kevent *t = p->ev;
    p->ev = p->ev2;
    p->ev2 = t;
    p->n = n - d;
  }
  if (p->nomem > 0 && (d > 0 || p->n == 0)) {
    ctrace__kevent e;
    memset(&e, 0, sizeof e);
    e.kind = CTRACE__K_LOST;
    e.ns = p->lost_ns;
    e.pid = p->pid;
    e.cpu = -1;
    e.lost = p->nomem;
    p->nomem = 0;
    if (emit)
      emit(arg, &e);
    d++;
  }
  return d;
}

static void *ring_unmap_thread(void *r) {
  ring_unmap(r);
  return NULL;
}

/* Closing the last event of a tracepoint waits for the kernel to unregister
 * it (RCU grace periods: 15-25 ms each on the VMs measured, once per
 * tracepoint when closed one after the other): the tracepoints' rings are
 * closed on threads of their own, all at once, and waited for, so the wait
 * is about one grace period and nothing is left running after. Context
 * switch events close at once. */
void ctrace__perf_close(ctrace__perf *p) {
  if (!p)
    return;
  pthread_t th[64];
  size_t nth = 0;
  for (size_t i = 0; i < p->nrings; i++) {
    perf_ring *r = &p->rings[i];
    if (r->kind == RING_SCHED || nth == sizeof th / sizeof th[0] ||
        pthread_create(&th[nth], NULL, ring_unmap_thread, r) != 0)
      ring_unmap(r);
    else
      nth++;
  }
  for (size_t i = 0; i < nth; i++)
    pthread_join(th[i], NULL);
  free(p->rings);
  free(p->ev);
  free(p->ev2);
  free(p->keys);
  free(p->keys2);
  free(p->runs);
  free(p);
}
