/* Kernel events of the traced process through perf_event_open(2): context
 * switches, the raw_syscalls tracepoints and CPU samples with their call
 * stacks (see capture.h).
 *
 * Layout: one event per (kind, CPU), each with its own mmapped ring:
 *   - sched: a PERF_COUNT_SW_DUMMY event with context_switch = 1, which
 *     emits only PERF_RECORD_SWITCH side-band records;
 *   - syscalls: raw_syscalls:sys_enter and raw_syscalls:sys_exit
 *     tracepoints, sample_period = 1, PERF_SAMPLE_RAW payload decoded with
 *     the offsets of the tracepoint's format file;
 *   - cpu: a PERF_COUNT_SW_TASK_CLOCK sampling event (open_cpu() says why
 *     each field) whose samples carry the user registers and a copy of the
 *     top of the user stack, and whose side-band records say what code each
 *     process maps (MMAP2, with build ids), when it execs (COMM) and forks
 *     (FORK).
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
 * early and counted (`early`). Buffers only grow (doubling). Samples and
 * mappings carry a payload (the stack copy, the path) in a buffer of a
 * small free list, reused: nothing is allocated per record once it holds
 * buffers large enough.
 *
 * CPU samples are unwound when delivered, not when read: in time order,
 * after every mapping, exec and fork of the process older than them,
 * whatever ring (CPU) each came on (unwind.c keeps each process's mappings
 * and its Dwfl). A process whose mappings existed before the events were
 * opened (the target itself, or this process) is read from /proc/PID/maps
 * at open; those mappings are delivered (as K_MAPPING, with the time of
 * the sample) before its first sample, and never if it execs first: the
 * launcher's child shows only the program's mappings, not the launcher's
 * that it ran between fork and exec. A process met without its fork record
 * (lost) is read from /proc at its first sample.
 *
 * Test hooks (environment, read when opening):
 *   CTRACE__TEST_PERF_FAIL=1         every perf_event_open "fails" with EACCES;
 *   CTRACE__TEST_PERF_INHERIT_ALL=1  no inherit_thread: children inherit the
 *                                    events (as on kernels < 5.13), so the
 *                                    pid filter of the drain is exercised;
 *   CTRACE__TEST_PERF_PENDING_MAX=N  the pending cap, in records;
 *   CTRACE__TEST_PERF_STACK_BYTES=N  the user stack copied per CPU sample
 *                                    (a multiple of 8): a short copy cuts
 *                                    the walks (CTRACE__SAMPLE_PARTIAL).
 */
#define _GNU_SOURCE
#include "capture.h"
#include "unwind.h"

#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif
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
/* Data pages of each CPU-sample ring. A sample is ~16.6 KB (the stack copy
 * takes its full size in the ring, however little of it is used); a CPU
 * gives at most hz samples a second, whatever the threads on it (task
 * clock), so 128 pages (512 KiB, 31 samples) hold 31 ms of samples at
 * 999 Hz: three drains' worth at `ctrace run`'s 10 ms. */
#ifndef CTRACE__PERF_CPU_RING_PAGES
#define CTRACE__PERF_CPU_RING_PAGES 128
#endif
/* User stack copied per sample (PERF_SAMPLE_STACK_USER), from the stack
 * pointer up. 16 KiB: perf's default of 8 KiB cuts walks short under a
 * frame holding a PATH_MAX buffer or two (common; `ctrace run`'s own child
 * has 12 KiB of them); the kernel copies only what lies below the stack's
 * top, the payload kept keeps only that, but the ring reserves the full
 * size per sample. */
#ifndef CTRACE__PERF_STACK_BYTES
#define CTRACE__PERF_STACK_BYTES 16384
#endif
/* Spare payload buffers kept for reuse. */
#define CTRACE__PERF_POOL 256
/* Records kept between drains at most (72 bytes each, twice, plus keys). */
#ifndef CTRACE__PERF_PENDING_MAX
#define CTRACE__PERF_PENDING_MAX (1u << 17)
#endif

enum { RING_SCHED, RING_SYS_ENTER, RING_SYS_EXIT, RING_CPU };

/* Pending records that are not delivered as such: they update the
 * unwinder's view of a process, in time order with its samples. */
enum {
  PK_EXEC = -1, /* pid exec'd: its mappings are gone (delivered as K_EXEC) */
  PK_FORK = -2, /* pid was forked from process nr: it has its mappings */
  PK_GONE = -3, /* pid's main thread exited */
  PK_HELD = -4, /* a mapping of pid that /proc listed at the open: shown
                 * (as K_MAPPING) only if pid is sampled before it execs */
};

/* A record's payload: a sample's registers and stack, or a mapping's path
 * and build id ("path\0hex\0": K_MAPPING, PK_HELD). */
typedef struct blob {
  size_t cap; /* bytes of data */
  uint64_t data[];
} blob;

typedef struct sample_payload {
  uint64_t regs[CTRACE__UW_NREGS]; /* DWARF numbering (unwind.h) */
  uint32_t has_regs;               /* 0: no 64-bit user registers (kernel thread, 32-bit task) */
  uint32_t stack_len;
  unsigned char stack[]; /* from regs[SP] up */
} sample_payload;

typedef struct pevent {
  ctrace__kevent e;
  blob *b; /* K_SAMPLE, K_MAPPING, PK_HELD: the payload; else NULL */
} pevent;

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
  pevent *ev, *ev2;
  pkey *keys, *keys2;
  size_t *runs; /* cap + 1 */
  size_t n, cap;
  size_t pending_max;

  uint64_t early;     /* delivered before the watermark: pending was full */
  uint64_t nomem;     /* dropped: buffer growth failed; reported as K_LOST */
  uint64_t malformed; /* records that did not parse (never seen) */
  uint64_t lost_ns;   /* time of the last delivered record (for nomem) */

  /* CPU samples. */
  ctrace__unwinder *uw;
  uint64_t period_ns; /* 1e9 / hz */
  blob *pool[CTRACE__PERF_POOL];
  size_t npool;
  uint64_t pcs[CTRACE__STACK_MAX]; /* the stack of the sample being delivered */

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

static uint64_t mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
  int err; /* errno of open_rings' failure */
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
      c->err = e;
      if (e == EACCES || e == EPERM)
        why_add(c->why, c->whylen,
                "%s: perf_event_open%s: %s (kernel.perf_event_paranoid = %s; %s)", what, event_name,
                strerror(e), paranoid_text(pbuf, sizeof pbuf),
                kind == RING_SCHED || kind == RING_CPU ? "run as root or lower it" : "needs root");
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
      c->err = e;
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
    c->err = ENODEV;
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

/* ---- CPU samples --------------------------------------------------------------- */

static unsigned cpu_hz = 99; /* ctrace__perf_set_cpu_hz (read by the opens) */

void ctrace__perf_set_cpu_hz(unsigned hz) { cpu_hz = hz ? hz : 99; }

#if defined(__x86_64__)
/* The user registers sampled: the 16 general-purpose ones and rip. An
 * unwinder needs rip and rsp for the first frame, rbp for functions that
 * keep their frame in it, and any callee-saved register (rbx, rbp,
 * r12-r15) that a caller's CFI may name (stack realignment in main uses
 * rbp or r10 as its CFA base): all 17 cost 136 bytes of a 16 KiB sample.
 * The record lists them by increasing bit (AX BX CX DX SI DI BP SP IP
 * R8..R15); rec_to_dwarf[] is where each goes in DWARF numbering. */
#define CPU_REGS_MASK                                                                     \
  ((1ull << PERF_REG_X86_AX) | (1ull << PERF_REG_X86_BX) | (1ull << PERF_REG_X86_CX) |    \
   (1ull << PERF_REG_X86_DX) | (1ull << PERF_REG_X86_SI) | (1ull << PERF_REG_X86_DI) |    \
   (1ull << PERF_REG_X86_BP) | (1ull << PERF_REG_X86_SP) | (1ull << PERF_REG_X86_IP) |    \
   (1ull << PERF_REG_X86_R8) | (1ull << PERF_REG_X86_R9) | (1ull << PERF_REG_X86_R10) |   \
   (1ull << PERF_REG_X86_R11) | (1ull << PERF_REG_X86_R12) | (1ull << PERF_REG_X86_R13) | \
   (1ull << PERF_REG_X86_R14) | (1ull << PERF_REG_X86_R15))
static const unsigned char rec_to_dwarf[CTRACE__UW_NREGS] = {
    0 /* ax */, 3 /* bx */, 2 /* cx */,  1 /* dx */, 4 /* si */, 5 /* di */,
    6 /* bp */, 7 /* sp */, 16 /* ip */, 8,          9,          10,
    11,         12,         13,          14,         15 /* r8..r15 */};
_Static_assert(__builtin_popcountll(CPU_REGS_MASK) == CTRACE__UW_NREGS,
               "one DWARF slot per register");
#endif

/* The CPU-sample events: a task-clock sampling event per CPU.
 *   - PERF_COUNT_SW_TASK_CLOCK: CPU time of the thread, whatever the CPU
 *     model (an hrtimer; no PMU needed, works in VMs); freq = hz is turned
 *     by the kernel into a fixed period of 1e9 / hz ns of CPU time.
 *   - sample_type: who, when, where, the period, the user registers and
 *     the user stack (DWARF unwinding in the launcher: Debian's code has no
 *     frame pointers, so PERF_SAMPLE_CALLCHAIN would give the leaf and
 *     garbage; it is not asked for).
 *   - exclude_kernel only when not root (paranoid 2 refuses it otherwise):
 *     as root, CPU time spent in system calls is sampled too, with the
 *     user stack that made the call.
 *   - mmap2 + build_id: every executable mapping (exec'd image, ld.so,
 *     libraries, dlopen, the vDSO) with its path and build id (Linux >=
 *     5.12; without it, retried without: no build ids); comm + comm_exec:
 *     exec; task: fork (a child starts with its parent's mappings) and
 *     exit.
 * @return 0, or -1 with `why` filled. */
static int open_cpu(open_ctx *c, unsigned hz) {
#if !defined(__x86_64__)
  (void)hz;
  why_add(c->why, c->whylen, "cpu samples: call stacks are unwound on x86-64 only");
  return -1;
#else
  char buf[32];
  long max = atol(sysctl_text("/proc/sys/kernel/perf_event_max_sample_rate", buf, sizeof buf));
  if (max > 0 && hz > (unsigned long)max) {
    why_add(c->why, c->whylen,
            "cpu samples: %u Hz is above kernel.perf_event_max_sample_rate = %ld", hz, max);
    return -1;
  }
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_TASK_CLOCK;
  a.freq = 1;
  a.sample_freq = hz;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
                  PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
  a.sample_regs_user = CPU_REGS_MASK;
  a.sample_stack_user = CTRACE__PERF_STACK_BYTES;
  const char *v = getenv("CTRACE__TEST_PERF_STACK_BYTES");
  if (v && atoi(v) > 0)
    a.sample_stack_user = (uint32_t)atoi(v) & ~7u;
  a.sample_id_all = 1;
  a.mmap = 1;
  a.mmap2 = 1;
  a.build_id = 1;
  a.comm = 1;
  a.comm_exec = 1;
  a.task = 1;
  a.inherit = 1;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  a.exclude_kernel = geteuid() != 0;
  a.exclude_hv = 1;
  size_t keep = c->why ? strnlen(c->why, c->whylen) : 0;
  if (open_rings(c, &a, RING_CPU, CTRACE__PERF_CPU_RING_PAGES, "cpu samples", "") == 0)
    return 0;
  if (c->err != EINVAL)
    return -1;
  if (c->why && c->whylen) /* a kernel before 5.12: no build ids in MMAP2 */
    c->why[keep < c->whylen ? keep : c->whylen - 1] = '\0';
  a.build_id = 0;
  return open_rings(c, &a, RING_CPU, CTRACE__PERF_CPU_RING_PAGES, "cpu samples", "");
#endif
}

/* Calls fn for each executable file mapping listed in /proc/PID/maps.
 * @return their number, or -errno. */
static int proc_maps(int pid, void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return -errno;
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long long start, end, off;
    char perms[8];
    int pos = -1;
    if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &off, &pos) < 4 ||
        pos < 0 || strlen(perms) < 3 || perms[2] != 'x')
      continue;
    char *name = line + pos;
    name[strcspn(name, "\n")] = '\0';
    if (!name[0]) /* anonymous code (a JIT): nothing to unwind it with */
      continue;
    ctrace__uw_mapping m = {start, end, off, name, ""};
    fn(arg, &m);
    n++;
  }
  free(line);
  fclose(f);
  return n;
}

static ctrace__kevent *new_mapping(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns,
                                   int cpu, const ctrace__uw_mapping *m, size_t pathlen);

typedef struct queue_ctx {
  ctrace__perf *p;
  int pid;
  uint64_t ns;
} queue_ctx;

static void queue_mapping(void *arg, const ctrace__uw_mapping *m) {
  queue_ctx *q = arg;
  new_mapping(q->p, PK_HELD, q->pid, q->pid, q->ns, -1, m, strlen(m->path));
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

  const unsigned known = CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS | CTRACE__PERF_CPU;
  if (want & ~known)
    why_add(why, whylen, "perf: unknown request bits 0x%x", want);
  if (!(want & known))
    return NULL;

  ctrace__perf *p = calloc(1, sizeof *p);
  if (p)
    p->rings = calloc(4 * (size_t)c.ncpu, sizeof *p->rings);
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
  if (want & CTRACE__PERF_CPU) {
    unsigned hz = cpu_hz;
    p->period_ns = 1000000000u / hz;
    /* The mappings that exist now are stamped before the first sample can be. */
    queue_ctx q = {p, p->pid, mono_now()};
    size_t first = p->nrings;
    if (open_cpu(&c, hz) == 0) {
      p->uw = ctrace__unwinder_new();
      if (!p->uw) {
        why_add(why, whylen, "cpu samples: out of memory (or libelf too old)");
        while (p->nrings > first)
          ring_unmap(&p->rings[--p->nrings]);
      } else {
        int n = proc_maps(p->pid, queue_mapping, &q);
        if (n < 0)
          why_add(why, whylen, "cpu samples: /proc/%d/maps: %s", p->pid, strerror(-n));
        ok |= CTRACE__PERF_CPU;
      }
    }
  }
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
static pevent *pending_slot(ctrace__perf *p) {
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
  pevent *pe = &p->ev[p->n++];
  pe->b = NULL;
  return pe;
}

/* A payload buffer of at least len bytes, from the free list when it has
 * one (grown if needed). NULL if memory ran out (counted in nomem). */
static blob *blob_get(ctrace__perf *p, size_t len) {
  blob *b = p->npool ? p->pool[--p->npool] : NULL;
  if (!b || b->cap < len) {
    size_t cap = len < 512 ? 512 : len;
    blob *q = realloc(b, sizeof *b + cap);
    if (!q) {
      free(b);
      p->nomem++;
      return NULL;
    }
    b = q;
    b->cap = cap;
  }
  return b;
}

static void blob_put(ctrace__perf *p, blob *b) {
  if (b && p->npool < CTRACE__PERF_POOL)
    p->pool[p->npool++] = b;
  else
    free(b);
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

/* A new pending event, zeroed but for who, when and where, with a payload
 * of `len` bytes when len > 0 (NULL: memory ran out, counted in nomem). */
static pevent *new_pevent(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu,
                          size_t len) {
  blob *b = NULL;
  if (len > 0 && !(b = blob_get(p, len)))
    return NULL;
  pevent *pe = pending_slot(p);
  if (!pe) {
    blob_put(p, b);
    return NULL;
  }
  ctrace__kevent *e = &pe->e;
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->pid = pid;
  e->tid = tid;
  e->ns = ns;
  e->cpu = cpu;
  pe->b = b;
  return pe;
}

static ctrace__kevent *new_event(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns,
                                 int cpu) {
  pevent *pe = new_pevent(p, kind, pid, tid, ns, cpu, 0);
  return pe ? &pe->e : NULL;
}

/* A pending K_MAPPING (or PK_HELD) of m (path: pathlen bytes, not
 * terminated). */
static ctrace__kevent *new_mapping(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns,
                                   int cpu, const ctrace__uw_mapping *m, size_t pathlen) {
  size_t idlen = strlen(m->build_id);
  pevent *pe = new_pevent(p, kind, pid, tid, ns, cpu, pathlen + idlen + 2);
  if (!pe)
    return NULL;
  char *d = (char *)pe->b->data;
  memcpy(d, m->path, pathlen);
  d[pathlen] = '\0';
  memcpy(d + pathlen + 1, m->build_id, idlen + 1);
  pe->e.start = m->start;
  pe->e.end = m->end;
  pe->e.offset = m->offset;
  return &pe->e;
}

/* The records of the CPU-sample rings. */
static void parse_cpu_record(ctrace__perf *p, const perf_ring *r, const unsigned char *rec,
                             uint32_t size) {
  struct perf_event_header h;
  memcpy(&h, rec, sizeof h);
  const unsigned char *b = rec + sizeof h, *end = rec + size;
  const unsigned char *id = rec + size - SAMPLE_ID_LEN; /* (non-sample records) */
  switch (h.type) {
  case PERF_RECORD_SAMPLE: {
    /* pid, tid | time | cpu, res | period | abi, regs[17] | size, data[size], dyn_size */
    if (end - b < 40) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b);
    if (pid != p->pid && !p->tree)
      return;
    int tid = (int)rd32(b + 4), cpu = (int)rd32(b + 16);
    uint64_t ns = rd64(b + 8), period = rd64(b + 24), abi = rd64(b + 32);
    const unsigned char *q = b + 40, *regs = NULL;
    size_t nregs = abi != PERF_SAMPLE_REGS_ABI_NONE ? CTRACE__UW_NREGS : 0;
    if ((size_t)(end - q) < 8 * nregs + 8) {
      p->malformed++;
      return;
    }
    if (nregs) {
      regs = q;
      q += 8 * nregs;
    }
    uint64_t ssize = rd64(q), dyn = 0;
    const unsigned char *stack = q + 8;
    if (ssize > 0) {
      if ((uint64_t)(end - stack) < ssize + 8) {
        p->malformed++;
        return;
      }
      dyn = rd64(stack + ssize);
      if (dyn > ssize)
        dyn = ssize;
    }
    pevent *pe =
        new_pevent(p, CTRACE__K_SAMPLE, pid, tid, ns, cpu, sizeof(sample_payload) + (size_t)dyn);
    if (!pe)
      return;
    pe->e.period_ns = period ? period : p->period_ns;
    sample_payload *sp = (sample_payload *)pe->b->data;
    sp->has_regs = regs && abi == PERF_SAMPLE_REGS_ABI_64;
    sp->stack_len = (uint32_t)dyn;
#if defined(__x86_64__)
    for (unsigned i = 0; sp->has_regs && i < CTRACE__UW_NREGS; i++)
      sp->regs[rec_to_dwarf[i]] = rd64(regs + 8 * i);
#endif
    memcpy(sp->stack, stack, (size_t)dyn);
    return;
  }
  case PERF_RECORD_MMAP2: {
    /* pid, tid | addr | len | pgoff | maj, min, ino, ino_gen or build id |
     * prot, flags | filename | sample_id */
    if (end - b < 64 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b);
    if ((pid != p->pid && !p->tree) || !(rd32(b + 56) & PROT_EXEC))
      return;
    char idhex[2 * 20 + 1] = "";
    if (h.misc & PERF_RECORD_MISC_MMAP_BUILD_ID) {
      static const char digits[] = "0123456789abcdef";
      unsigned n = b[32] < 20 ? b[32] : 20;
      for (unsigned i = 0; i < n; i++) {
        idhex[2 * i] = digits[b[36 + i] >> 4];
        idhex[2 * i + 1] = digits[b[36 + i] & 15];
      }
      idhex[2 * n] = '\0';
    }
    const char *name = (const char *)b + 64;
    size_t namelen = strnlen(name, (size_t)(id - (const unsigned char *)name));
    ctrace__uw_mapping m = {rd64(b + 8), rd64(b + 8) + rd64(b + 16), rd64(b + 24), name, idhex};
    new_mapping(p, CTRACE__K_MAPPING, pid, (int)rd32(b + 4), rd64(id + 8), (int)rd32(id + 16), &m,
                namelen);
    return;
  }
  case PERF_RECORD_COMM: {
    /* pid, tid | comm | sample_id: an exec when flagged so (not prctl) */
    if (end - b < 8 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b);
    if ((h.misc & PERF_RECORD_MISC_COMM_EXEC) && (pid == p->pid || p->tree))
      new_event(p, PK_EXEC, pid, (int)rd32(b + 4), rd64(id + 8), (int)rd32(id + 16));
    return;
  }
  case PERF_RECORD_FORK:
  case PERF_RECORD_EXIT: {
    /* pid, ppid, tid, ptid, time | sample_id */
    if (end - b < 24 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b), ppid = (int)rd32(b + 4), tid = (int)rd32(b + 8);
    if (pid != p->pid && !p->tree)
      return;
    if (h.type == PERF_RECORD_FORK && pid != ppid) { /* a process, not a thread */
      ctrace__kevent *e = new_event(p, PK_FORK, pid, tid, rd64(id + 8), (int)rd32(id + 16));
      if (e)
        e->nr = ppid;
    } else if (h.type == PERF_RECORD_EXIT && pid == tid) { /* (K_EXIT comes from RING_SCHED) */
      new_event(p, PK_GONE, pid, tid, rd64(id + 8), (int)rd32(id + 16));
    }
    return;
  }
  case PERF_RECORD_LOST: {
    if (size < sizeof h + 16 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    ctrace__kevent *e =
        new_event(p, CTRACE__K_LOST, (int)rd32(id), (int)rd32(id + 4), rd64(id + 8), r->cpu);
    if (e)
      e->lost = rd64(rec + sizeof h + 8);
    return;
  }
  default: /* THROTTLE, UNTHROTTLE, ...: skipped by their size */ return;
  }
}

static void parse_record(ctrace__perf *p, const perf_ring *r, const unsigned char *rec,
                         uint32_t size) {
  if (r->kind == RING_CPU) {
    parse_cpu_record(p, r, rec, size);
    return;
  }
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

typedef struct emit_ctx {
  void (*emit)(void *arg, const ctrace__kevent *ev);
  void *arg;
  int pid;
  uint64_t ns;
  size_t n; /* events emitted */
} emit_ctx;

static void emit_one(emit_ctx *c, const ctrace__kevent *e) {
  if (c->emit)
    c->emit(c->arg, e);
  c->n++;
}

/* Emits m as a K_MAPPING of c->pid at c->ns (after fork or from /proc). */
static void emit_mapping(void *arg, const ctrace__uw_mapping *m) {
  emit_ctx *c = arg;
  ctrace__kevent e;
  memset(&e, 0, sizeof e);
  e.kind = CTRACE__K_MAPPING;
  e.ns = c->ns;
  e.pid = e.tid = c->pid;
  e.cpu = -1;
  e.start = m->start;
  e.end = m->end;
  e.offset = m->offset;
  e.path = m->path;
  e.build_id = m->build_id;
  emit_one(c, &e);
}

typedef struct fallback_ctx {
  ctrace__unwinder *uw;
  emit_ctx *c;
} fallback_ctx;

static void fallback_mapping(void *arg, const ctrace__uw_mapping *m) {
  fallback_ctx *f = arg;
  char id[CTRACE__UW_BUILD_ID_HEX + 1];
  ctrace__unwinder_map(f->uw, f->c->pid, m, 0, id);
  ctrace__uw_mapping with_id = *m;
  with_id.build_id = id;
  emit_mapping(f->c, &with_id);
}

/* Delivers one pending record (internal ones update the unwinder and emit
 * what follows from them) and recycles its payload. */
static void deliver(ctrace__perf *p, pevent *pe, emit_ctx *c) {
  ctrace__kevent *e = &pe->e;
  c->pid = e->pid;
  c->ns = e->ns;
  switch (e->kind) {
  case CTRACE__K_MAPPING:
  case PK_HELD: {
    const char *path = (const char *)pe->b->data;
    ctrace__uw_mapping m = {e->start, e->end, e->offset, path, path + strlen(path) + 1};
    char id[CTRACE__UW_BUILD_ID_HEX + 1];
    ctrace__unwinder_map(p->uw, e->pid, &m, e->kind == PK_HELD, id);
    e->path = path;
    e->build_id = id;
    if (e->kind == CTRACE__K_MAPPING)
      emit_one(c, e);
    break;
  }
  case CTRACE__K_SAMPLE: {
    if (!ctrace__unwinder_known(p->uw, e->pid)) {
      /* Its fork record was lost, or it came before: what /proc says now. */
      fallback_ctx f = {p->uw, c};
      if (proc_maps(e->pid, fallback_mapping, &f) <= 0)
        ctrace__unwinder_exec(p->uw, e->pid); /* gone: known, with no mappings */
    }
    ctrace__unwinder_release(p->uw, e->pid, emit_mapping, c); /* (from the open's /proc) */
    const sample_payload *sp = (const sample_payload *)pe->b->data;
    e->pcs = p->pcs;
    if (!c->emit) { /* (counted only: not worth a walk) */
      e->npcs = 0;
    } else if (sp->has_regs) {
      ctrace__uw_sample s;
      s.pid = e->pid;
      s.tid = e->tid;
      memcpy(s.regs, sp->regs, sizeof s.regs);
      s.stack = sp->stack;
      s.stack_len = sp->stack_len;
      e->npcs = ctrace__unwinder_unwind(p->uw, &s, p->pcs, CTRACE__STACK_MAX, &e->sample_flags);
    } else {
      e->npcs = 0;
      e->sample_flags |= CTRACE__SAMPLE_PARTIAL;
    }
    emit_one(c, e);
    break;
  }
  case PK_EXEC:
    ctrace__unwinder_exec(p->uw, e->pid);
    e->kind = CTRACE__K_EXEC;
    emit_one(c, e);
    break;
  case PK_FORK:
    ctrace__unwinder_fork(p->uw, (int)e->nr, e->pid);
    ctrace__unwinder_mappings(p->uw, e->pid, emit_mapping, c);
    break;
  case PK_GONE: ctrace__unwinder_exit(p->uw, e->pid); break;
  default: emit_one(c, e);
  }
  blob_put(p, pe->b);
  pe->b = NULL;
}

size_t ctrace__perf_drain(ctrace__perf *p, uint64_t up_to_ns,
                          void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  if (!p)
    return 0;
  for (size_t i = 0; i < p->nrings; i++)
    ring_read(p, &p->rings[i]);
  size_t n = p->n, d = 0;
  emit_ctx c = {emit, arg, 0, 0, 0};
  if (n > 0) {
    for (size_t i = 0; i < n; i++) {
      p->keys[i].ns = p->ev[i].e.ns;
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
      deliver(p, &p->ev[k[i].idx], &c);
    if (d > 0)
      p->lost_ns = k[d - 1].ns;
    for (size_t i = d; i < n; i++) /* the rest, in order, for next time */
      p->ev2[i - d] = p->ev[k[i].idx];
    pevent *t = p->ev;
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
    emit_one(&c, &e);
  }
  return c.n;
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
  for (size_t i = 0; i < p->n; i++)
    free(p->ev[i].b);
  for (size_t i = 0; i < p->npool; i++)
    free(p->pool[i]);
  ctrace__unwinder_free(p->uw);
  free(p->ev);
  free(p->ev2);
  free(p->keys);
  free(p->keys2);
  free(p->runs);
  free(p);
}
