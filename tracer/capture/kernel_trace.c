/* The kernel half of `ctrace run`: the launcher reads the traced process
 * tree's context switches and system calls (perf.c, opened on the child
 * before it execs, so nothing after exec is missed) and writes them into
 * FILE.kernel, a ctrace trace (docs/format.md) holding only kernel batches
 * (CTRACE_FMT_RF_KERNEL: K_SWITCH, K_SYSCALL, K_LOST, K_TASK, K_EXIT, in CLOCK_MONOTONIC
 * ns). Readers attach its events to the threads of the processes' own
 * traces by thread id.
 *
 * CPU samples (K_SAMPLE) carry their thread and the id of their call
 * stack; each distinct stack is written once, as a DEF_STACK, and each code
 * mapping of the processes as a DEF_MAPPING (with DEF_SAMPLING: the rate
 * and the method), in a DEFS record written before the batch whose events
 * use them.
 *
 * A stack's kernel frames (where the kernel gave them: CTRACE_FMT_KERNEL_
 * ADDR_MIN and up) are named here, from this machine's /proc/kallsyms
 * (ksyms.c, read in a thread of its own at the first kernel frame): a
 * DEF_KSYM for each kernel function a stack is in, the first time. Frames
 * met while the table is being read wait in kpend and are named once it is
 * (at a later sample, a cut or the close, which waits for it). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"
#include "capture.h"
#include "common.h"
#include "ksyms.h"
#include "stack_intern.h"

#define PENDING_SLOTS 4096 /* syscalls entered, not yet exited, by tid */
#define TASK_SLOTS 8192    /* tids whose K_TASK was written */
#define BATCH_BYTES (64u << 10)

typedef struct pending {
  int tid;
  long nr;
  uint64_t ns, arg;
} pending;

struct kt_writer {
  int fd;
  ZSTD_CCtx *z;
  uint8_t *raw; /* the batch being built */
  size_t len;
  uint64_t base, last; /* ns of the batch's base and of its last event */
  uint8_t *out;
  size_t out_cap;
  pending pend[PENDING_SLOTS];
  int tasks[TASK_SLOTS]; /* open addressing; full: K_TASK written again */
  uint64_t switches, syscalls, lost, samples;
  si_table *stacks; /* CPU samples' stacks, interned */
  uint8_t *defs;    /* definitions not written yet (DEF_STACK, DEF_MAPPING...) */
  size_t defs_len, defs_cap;
  /* Kernel frames: the addresses looked up (the instruction, or the call
   * of a return address) waiting for the kernel's symbols, and which of
   * them (ks_find's index) have their DEF_KSYM. */
  uint64_t *kpend;
  size_t nkpend, cap_kpend;
  uint8_t *ksym_done;
  uint64_t ksyms;  /* DEF_KSYMs written */
  int kernel_seen; /* a kernel frame was met: the symbols were asked for */
  int pid;         /* the launcher's child, PROG once it execs */
  int execed;      /* its execve returned: calls before are the launcher's */
  int err;
};

static uint64_t clock_ns(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_all(kt_writer *k, const void *p, size_t n) {
  const char *c = p;
  while (n && !k->err) {
    ssize_t w = write(k->fd, c, n);
    if (w < 0) {
      if (errno != EINTR)
        k->err = -errno;
      continue;
    }
    c += w;
    n -= (size_t)w;
  }
}

static void record(kt_writer *k, unsigned type, unsigned flags, uint64_t base, const uint8_t *raw,
                   size_t len) {
  size_t bound = ZSTD_compressBound(len);
  if (bound + CTRACE_FMT_RECORD_HEADER_SIZE > k->out_cap) {
    uint8_t *o = realloc(k->out, bound + CTRACE_FMT_RECORD_HEADER_SIZE);
    if (!o) {
      k->err = -ENOMEM;
      return;
    }
    k->out = o;
    k->out_cap = bound + CTRACE_FMT_RECORD_HEADER_SIZE;
  }
  uint8_t *h = k->out, *payload = h + CTRACE_FMT_RECORD_HEADER_SIZE;
  size_t stored = len;
  unsigned codec = CTRACE_FMT_CODEC_NONE;
  if (len >= 64) {
    size_t n = ZSTD_compressCCtx(k->z, payload, bound, raw, len, 1);
    if (!ZSTD_isError(n) && n < len) {
      stored = n;
      codec = CTRACE_FMT_CODEC_ZSTD;
    }
  }
  if (codec == CTRACE_FMT_CODEC_NONE && len)
    memcpy(payload, raw, len);
  memset(h, 0, CTRACE_FMT_RECORD_HEADER_SIZE);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_SYNC, CTRACE_FMT_RECORD_SYNC);
  h[CTRACE_FMT_RH_TYPE] = (uint8_t)type;
  h[CTRACE_FMT_RH_CODEC] = (uint8_t)codec;
  ctrace_fmt_put_u16(h + CTRACE_FMT_RH_FLAGS, (uint16_t)flags);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_STORED_SIZE, (uint32_t)stored);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_RAW_SIZE, (uint32_t)len);
  ctrace_fmt_put_u64(h + CTRACE_FMT_RH_BASE_TICK, base);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC, ctrace_fmt_record_crc(h, payload, stored));
  put_all(k, h, CTRACE_FMT_RECORD_HEADER_SIZE + stored);
}

/* The definitions gathered so far, as one DEFS record. */
static void flush_defs(kt_writer *k) {
  if (k->defs_len)
    record(k, CTRACE_FMT_REC_DEFS, 0, 0, k->defs, k->defs_len);
  k->defs_len = 0;
}

static void flush_batch(kt_writer *k) {
  flush_defs(k); /* (what the batch's events name comes first) */
  if (k->len)
    record(k, CTRACE_FMT_REC_BATCH, CTRACE_FMT_RF_KERNEL, k->base, k->raw, k->len);
  k->len = 0;
}

/* Appends a kernel event at ns with its varint arguments. */
static void append(kt_writer *k, unsigned type, uint64_t ns, const uint64_t *args, unsigned n) {
  if (k->len + 1 + (n + 1) * CTRACE_FMT_VARINT_MAX > BATCH_BYTES)
    flush_batch(k);
  if (k->len == 0)
    k->base = k->last = ns;
  uint8_t *p = k->raw + k->len;
  *p++ = (uint8_t)type;
  p = ctrace_fmt_put_varint(p, ns > k->last ? ns - k->last : 0);
  if (ns > k->last)
    k->last = ns;
  for (unsigned i = 0; i < n; i++)
    p = ctrace_fmt_put_varint(p, args[i]);
  k->len = (size_t)(p - k->raw);
}

/* A definition: kind, body length, body. */
static void def_add(uint8_t **p, unsigned kind, const uint8_t *body, size_t n) {
  *(*p)++ = (uint8_t)kind;
  *p = ctrace_fmt_put_varint(*p, n);
  memcpy(*p, body, n);
  *p += n;
}

static void def_str(uint8_t **p, const char *s) {
  size_t n = strlen(s);
  *p = ctrace_fmt_put_varint(*p, n);
  memcpy(*p, s, n);
  *p += n;
}

/* Room for a definition of up to n bytes in k->defs. @return where it
 * goes, or NULL (out of memory, noted in k->err). */
static uint8_t *defs_room(kt_writer *k, size_t n) {
  if (k->defs_len + n > k->defs_cap) {
    size_t cap = k->defs_cap ? k->defs_cap * 2 : 4096;
    while (cap < k->defs_len + n)
      cap *= 2;
    uint8_t *d = realloc(k->defs, cap);
    if (!d) {
      k->err = -ENOMEM;
      return NULL;
    }
    k->defs = d;
    k->defs_cap = cap;
  }
  return k->defs + k->defs_len;
}

/* Queues definition `kind` whose body is body[0..n). */
static void def_queue(kt_writer *k, unsigned kind, const uint8_t *body, size_t n) {
  uint8_t *p = defs_room(k, 1 + CTRACE_FMT_VARINT_MAX + n);
  if (!p)
    return;
  uint8_t *start = p;
  def_add(&p, kind, body, n);
  k->defs_len += (size_t)(p - start);
  if (k->defs_len > BATCH_BYTES)
    flush_defs(k);
}

/* DEF_STACK of id: the addresses, innermost first. */
static void def_stack(kt_writer *k, uint32_t id, const uint64_t *pcs, unsigned n) {
  uint8_t body[(2 + CTRACE__STACK_MAX) * CTRACE_FMT_VARINT_MAX], *b = body;
  b = ctrace_fmt_put_varint(b, id);
  b = ctrace_fmt_put_varint(b, n);
  for (unsigned i = 0; i < n; i++)
    b = ctrace_fmt_put_varint(b, pcs[i]);
  def_queue(k, CTRACE_FMT_DEF_STACK, body, (size_t)(b - body));
}

/* DEF_MAPPING of a K_MAPPING event. */
static void def_mapping(kt_writer *k, const ctrace__kevent *ev) {
  const char *path = ev->path ? ev->path : "", *bid = ev->build_id ? ev->build_id : "";
  size_t pl = strnlen(path, 4096), bl = strnlen(bid, 128);
  uint8_t body[6 * CTRACE_FMT_VARINT_MAX + 4096 + 128], *b = body;
  b = ctrace_fmt_put_varint(b, (uint64_t)ev->pid);
  b = ctrace_fmt_put_varint(b, ev->start);
  b = ctrace_fmt_put_varint(b, ev->end);
  b = ctrace_fmt_put_varint(b, ev->offset);
  b = ctrace_fmt_put_varint(b, pl);
  memcpy(b, path, pl);
  b += pl;
  b = ctrace_fmt_put_varint(b, bl);
  memcpy(b, bid, bl);
  b += bl;
  def_queue(k, CTRACE_FMT_DEF_MAPPING, body, (size_t)(b - body));
}

void kt_sampling(kt_writer *k, unsigned hz, uint64_t period_ns, const char *method) {
  size_t ml = strnlen(method, 400);
  uint8_t body[3 * CTRACE_FMT_VARINT_MAX + 400], *b = body;
  b = ctrace_fmt_put_varint(b, hz);
  b = ctrace_fmt_put_varint(b, period_ns);
  b = ctrace_fmt_put_varint(b, ml);
  memcpy(b, method, ml);
  b += ml;
  def_queue(k, CTRACE_FMT_DEF_SAMPLING, body, (size_t)(b - body));
}

/* DEF_KSYM of the kernel function holding a (once per function). */
static void def_ksym(kt_writer *k, const ks_table *t, uint64_t a) {
  ks_sym s;
  long i = ks_find(t, a, &s);
  if (i < 0 || (k->ksym_done[i / 8] & (1u << (i % 8))))
    return;
  k->ksym_done[i / 8] |= (uint8_t)(1u << (i % 8));
  size_t nl = strnlen(s.name, 512), ml = strnlen(s.module, 128);
  uint8_t body[4 * CTRACE_FMT_VARINT_MAX + 512 + 128], *b = body;
  b = ctrace_fmt_put_varint(b, s.start);
  b = ctrace_fmt_put_varint(b, s.size);
  b = ctrace_fmt_put_varint(b, nl);
  memcpy(b, s.name, nl);
  b += nl;
  b = ctrace_fmt_put_varint(b, ml);
  memcpy(b, s.module, ml);
  b += ml;
  def_queue(k, CTRACE_FMT_DEF_KSYM, body, (size_t)(b - body));
  k->ksyms++;
}

/* Names the kernel frames waiting, if the symbols are read (wait: until
 * they are); forgets them if they cannot be. */
static void name_kernel_frames(kt_writer *k, int wait) {
  if (!k->nkpend)
    return;
  const ks_table *t;
  int st = ks_state(wait, &t, NULL);
  if (st == KS_LOADING)
    return;
  if (st == KS_READY && !k->ksym_done && !(k->ksym_done = calloc(ks_count(t) / 8 + 1, 1)))
    k->err = -ENOMEM;
  for (size_t i = 0; st == KS_READY && k->ksym_done && i < k->nkpend; i++)
    def_ksym(k, t, k->kpend[i]);
  k->nkpend = 0;
}

/* The kernel frames of a new stack (the first ones), to be named. */
static void note_kernel_frames(kt_writer *k, const uint64_t *pcs, unsigned n) {
  for (unsigned i = 0; i < n && pcs[i] >= CTRACE_FMT_KERNEL_ADDR_MIN; i++) {
    if (!k->kernel_seen) {
      k->kernel_seen = 1;
      ks_request();
    }
    uint64_t *slot = VH_PUSH(k->kpend, k->nkpend, k->cap_kpend);
    if (!slot) {
      k->err = -ENOMEM;
      return;
    }
    *slot = i > 0 ? pcs[i] - 1 : pcs[i]; /* (a return address: its call) */
  }
  name_kernel_frames(k, 0);
}

/* A CPU sample: its stack interned (and defined the first time), the
 * event names it. */
static void kt_sample(kt_writer *k, const ctrace__kevent *ev) {
  unsigned n = ev->npcs < CTRACE__STACK_MAX ? ev->npcs : CTRACE__STACK_MAX;
  int is_new = 0;
  uint32_t id = k->stacks ? si_intern(k->stacks, ev->pcs, n, &is_new) : 0;
  if (is_new) {
    def_stack(k, id, ev->pcs, n);
    note_kernel_frames(k, ev->pcs, n);
  } else if (k->nkpend) {
    name_kernel_frames(k, 0);
  }
  uint64_t a[3] = {(uint64_t)ev->tid, id,
                   ev->sample_flags & CTRACE__SAMPLE_PARTIAL ? CTRACE_FMT_SAMPLE_PARTIAL : 0};
  append(k, CTRACE_FMT_EV_K_SAMPLE, ev->ns, a, 3);
  k->samples++;
}

kt_writer *kt_open(const char *path, int pid, const char *cmdline, int syscalls, int sched,
                   const char *why, char *err, size_t errlen) {
  kt_writer *k = calloc(1, sizeof *k);
  if (k)
    k->fd = -1; /* (kt_close below: no file yet) */
  if (!k || !(k->raw = malloc(BATCH_BYTES)) || !(k->z = ZSTD_createCCtx()) ||
      !(k->stacks = si_new())) {
    snprintf(err, errlen, "out of memory");
    kt_close(k);
    return NULL;
  }
  k->pid = pid;
  k->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (k->fd < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    kt_close(k);
    return NULL;
  }
  uint64_t mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);
  uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE] = {0};
  memcpy(h, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
  ctrace_fmt_put_u16(h + CTRACE_FMT_FH_VERSION_MAJOR, CTRACE_FMT_VERSION_MAJOR);
  ctrace_fmt_put_u16(h + CTRACE_FMT_FH_VERSION_MINOR, CTRACE_FMT_VERSION_MINOR);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_HEADER_SIZE, CTRACE_FMT_FILE_HEADER_SIZE);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_CLOCK, CTRACE_FMT_CLOCK_MONOTONIC);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_PID, (uint32_t)pid);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_TICKS_PER_SEC, 1000000000u);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_TICK, mono);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_MONO, mono);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_REAL, real);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_CRC, ctrace_fmt_crc32c(0, h, CTRACE_FMT_FH_CRC));
  put_all(k, h, sizeof h);
  /* DEF_PROCESS and DEF_CAPTURE: what this file is. */
  size_t wl = why ? strlen(why) : 0, cl = strlen(cmdline);
  if (wl > 400)
    wl = 400;
  if (cl > 3000)
    cl = 3000;
  uint8_t *defs = malloc(4096 + wl + cl), *body = malloc(4096 + wl + cl), *p = defs, *b;
  if (!defs || !body) {
    free(defs);
    free(body);
    snprintf(err, errlen, "out of memory");
    kt_close(k);
    return NULL;
  }
  b = body;
  b = ctrace_fmt_put_varint(b, (uint64_t)pid);
  def_str(&b, "kernel (ctrace run)");
  b = ctrace_fmt_put_varint(b, cl);
  memcpy(b, cmdline, cl);
  b += cl;
  def_add(&p, CTRACE_FMT_DEF_PROCESS, body, (size_t)(b - body));
  b = body;
  b = ctrace_fmt_put_varint(b, syscalls ? CTRACE_FMT_CAP_KERNEL : CTRACE_FMT_CAP_OFF);
  b = ctrace_fmt_put_varint(b, sched ? CTRACE_FMT_CAP_KERNEL : CTRACE_FMT_CAP_OFF);
  b = ctrace_fmt_put_varint(b, 0);
  b = ctrace_fmt_put_varint(b, 0);
  b = ctrace_fmt_put_varint(b, wl);
  memcpy(b, why ? why : "", wl);
  b += wl;
  def_add(&p, CTRACE_FMT_DEF_CAPTURE, body, (size_t)(b - body));
  free(body);
  record(k, CTRACE_FMT_REC_DEFS, 0, 0, defs, (size_t)(p - defs));
  free(defs);
  if (k->err) {
    snprintf(err, errlen, "%s: %s", path, strerror(-k->err));
    kt_close(k);
    return NULL;
  }
  return k;
}

/* K_TASK before a thread's first event: which process it is in. */
static void note_task(kt_writer *k, const ctrace__kevent *ev) {
  if (ev->tid <= 0 || ev->pid <= 0)
    return;
  unsigned h = (unsigned)ev->tid * 2654435761u;
  for (unsigned i = 0; i < 16; i++) {
    int *slot = &k->tasks[(h + i) % TASK_SLOTS];
    if (*slot == ev->tid)
      return;
    if (*slot == 0) {
      *slot = ev->tid;
      break;
    }
  }
  uint64_t a[2] = {(uint64_t)ev->tid, (uint64_t)ev->pid};
  append(k, CTRACE_FMT_EV_K_TASK, ev->ns, a, 2);
}

void kt_event(void *arg, const ctrace__kevent *ev) {
  kt_writer *k = arg;
  uint64_t a[5];
  pending *p;
  if (ev->kind != CTRACE__K_LOST && ev->kind != CTRACE__K_MAPPING)
    note_task(k, ev);
  switch (ev->kind) {
  case CTRACE__K_SWITCH_IN:
  case CTRACE__K_SWITCH_OUT:
  case CTRACE__K_SWITCH_OUT_PREEMPT:
    a[0] = (uint64_t)ev->tid;
    a[1] = (uint64_t)ev->cpu;
    a[2] = ev->kind == CTRACE__K_SWITCH_IN    ? CTRACE_FMT_SWITCH_IN
           : ev->kind == CTRACE__K_SWITCH_OUT ? CTRACE_FMT_SWITCH_OUT
                                              : CTRACE_FMT_SWITCH_OUT_PREEMPT;
    append(k, CTRACE_FMT_EV_K_SWITCH, ev->ns, a, 3);
    k->switches++;
    break;
  case CTRACE__K_SYS_ENTER:
    if ((ev->nr == SYS_exit || ev->nr == SYS_exit_group) && (k->execed || ev->tid != k->pid)) {
      /* These never return: recorded as they enter (duration 0). */
      a[0] = (uint64_t)ev->tid;
      a[1] = (uint64_t)ev->nr;
      a[2] = 0;
      a[3] = ev->args[0];
      a[4] = 0;
      append(k, CTRACE_FMT_EV_K_SYSCALL, ev->ns, a, 5);
      k->syscalls++;
      break;
    }
    p = &k->pend[(unsigned)ev->tid % PENDING_SLOTS];
    p->tid = ev->tid;
    p->nr = ev->nr;
    p->ns = ev->ns;
    p->arg = ev->args[0];
    break;
  case CTRACE__K_SYS_EXIT:
    p = &k->pend[(unsigned)ev->tid % PENDING_SLOTS];
    if (p->tid != ev->tid || p->nr != ev->nr)
      break; /* its entry was not seen (before the start, or lost) */
    if (!k->execed && ev->tid == k->pid) {
      /* The child waits for the go-ahead on a pipe, then execs PROG: the
       * calls before are the launcher's own. */
      if (ev->nr == SYS_execve || ev->nr == SYS_execveat) {
        k->execed = 1;
      } else {
        p->tid = 0;
        break;
      }
    }
    a[0] = (uint64_t)ev->tid;
    a[1] = (uint64_t)ev->nr;
    a[2] = ev->ns > p->ns ? ev->ns - p->ns : 0;
    a[3] = p->arg;
    a[4] = ctrace_fmt_zigzag(ev->ret);
    append(k, CTRACE_FMT_EV_K_SYSCALL, ev->ns, a, 5);
    p->tid = 0;
    k->syscalls++;
    break;
  case CTRACE__K_EXIT:
    a[0] = (uint64_t)ev->tid;
    append(k, CTRACE_FMT_EV_K_EXIT, ev->ns, a, 1);
    break;
  case CTRACE__K_SAMPLE: kt_sample(k, ev); break;
  case CTRACE__K_MAPPING: def_mapping(k, ev); break;
  case CTRACE__K_LOST:
    a[0] = (uint64_t)ev->cpu;
    a[1] = ev->lost;
    append(k, CTRACE_FMT_EV_K_LOST, ev->ns, a, 2);
    k->lost += ev->lost;
    break;
  default: break;
  }
}

void kt_cut(kt_writer *k) {
  name_kernel_frames(k, 0);
  flush_batch(k);
}

int kt_close(kt_writer *k) {
  if (!k)
    return 0;
  int r = 0;
  if (k->fd >= 0) {
    name_kernel_frames(k, 1);
    flush_batch(k);
    uint8_t end[3 * CTRACE_FMT_VARINT_MAX], *p = end;
    p = ctrace_fmt_put_varint(p, clock_ns(CLOCK_MONOTONIC));
    p = ctrace_fmt_put_varint(p, 0);
    p = ctrace_fmt_put_varint(p, 0);
    record(k, CTRACE_FMT_REC_END, 0, 0, end, (size_t)(p - end));
    r = k->err;
    if (close(k->fd) != 0 && !r)
      r = -errno;
  }
  ZSTD_freeCCtx(k->z);
  free(k->raw);
  free(k->out);
  free(k->defs);
  si_free(k->stacks);
  free(k->kpend);
  free(k->ksym_done);
  free(k);
  return r;
}

uint64_t kt_samples(const kt_writer *k, size_t *stacks) {
  if (stacks)
    *stacks = si_count(k->stacks);
  return k->samples;
}

void kt_counts(const kt_writer *k, uint64_t *switches, uint64_t *syscalls, uint64_t *lost) {
  *switches = k->switches;
  *syscalls = k->syscalls;
  *lost = k->lost;
}
