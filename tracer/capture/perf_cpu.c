/* CPU samples of the traced process with their call stacks (capture.h's
 * CTRACE__PERF_CPU): the sampling event, how its records read, and their
 * delivery through the unwinder; perf.c opens the rings and orders the
 * records.
 *
 * One PERF_COUNT_SW_TASK_CLOCK sampling event per CPU (open_cpu() says why
 * each field) whose samples carry the user registers and a copy of the top
 * of the user stack, and whose side-band records say what code each
 * process maps (MMAP2, with build ids), when it execs (COMM) and forks
 * (FORK).
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
 * Where the kernel allows kernel samples (root, or kernel.perf_event_
 * paranoid <= 1), a sample taken in the kernel (a system call, a page
 * fault) also carries the kernel's own call chain (PERF_SAMPLE_CALLCHAIN,
 * exclude_callchain_user: the user part is unwound from the stack copy):
 * those frames come first in the sample's stack, innermost first, then
 * the user frames, within CTRACE__STACK_MAX (kernel_trace.c names them).
 *
 * Test hook (environment, read when opening):
 *   CTRACE__TEST_PERF_STACK_BYTES=N  the user stack copied per CPU sample
 *                                    (a multiple of 8): a short copy cuts
 *                                    the walks (CTRACE__SAMPLE_PARTIAL).
 */
#define _GNU_SOURCE
#include "perf_internal.h"
#include "ctrace/format.h"

#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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

/* A K_SAMPLE's payload (a blob's data). */
typedef struct sample_payload {
  uint64_t regs[CTRACE__UW_NREGS]; /* DWARF numbering (unwind.h) */
  uint32_t has_regs;               /* 0: no 64-bit user registers (kernel thread, 32-bit task) */
  uint32_t stack_len;
  uint32_t nkernel; /* kernel frames, innermost first, at the start of data */
  uint32_t pad;
  unsigned char data[]; /* nkernel u64 addresses, then the stack copy from regs[SP] up */
} sample_payload;

static const unsigned char *payload_stack(const sample_payload *sp) {
  return sp->data + 8 * (size_t)sp->nkernel;
}

/* ---- Opening --------------------------------------------------------------------- */

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

/* Whether the kernel lets this process sample the kernel: root, or
 * kernel.perf_event_paranoid <= 1. */
static int kernel_allowed(void) {
  char buf[32];
  const char *v = pr_sysctl_text("/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf);
  return geteuid() == 0 || (v[0] != '?' && atoi(v) <= 1);
}

const char *ctrace__perf_cpu_method(const ctrace__perf *p) {
  return p && p->kchain ? "perf task-clock; user stacks unwound from their DWARF CFI (elfutils "
                          "libdw); kernel frames from the kernel's call chains"
                        : "perf task-clock; user stacks unwound from their DWARF CFI (elfutils "
                          "libdw); no kernel frames (they need root or "
                          "kernel.perf_event_paranoid <= 1)";
}

/* The CPU-sample events: a task-clock sampling event per CPU.
 *   - PERF_COUNT_SW_TASK_CLOCK: CPU time of the thread, whatever the CPU
 *     model (an hrtimer; no PMU needed, works in VMs); freq = hz is turned
 *     by the kernel into a fixed period of 1e9 / hz ns of CPU time.
 *   - sample_type: who, when, where, the period, the user registers and
 *     the user stack (DWARF unwinding in the launcher: Debian's code has no
 *     frame pointers, so PERF_SAMPLE_CALLCHAIN would give the leaf and
 *     garbage; it is not asked for).
 *   - exclude_kernel unless kernel samples are allowed (kernel_allowed:
 *     paranoid 2 refuses them to users): then CPU time spent in system
 *     calls and faults is sampled too, with the user stack that made the
 *     call and, PERF_SAMPLE_CALLCHAIN with exclude_callchain_user, the
 *     kernel's frames (the kernel's own unwinder: ORC or frame pointers).
 *   - mmap2 + build_id: every executable mapping (exec'd image, ld.so,
 *     libraries, dlopen, the vDSO) with its path and build id (Linux >=
 *     5.12; without it, retried without: no build ids); comm + comm_exec:
 *     exec; task: fork (a child starts with its parent's mappings) and
 *     exit.
 * @return 0, or -1 with `why` filled. */
static int open_cpu(open_ctx *c, unsigned hz) {
#if !defined(__x86_64__)
  (void)hz;
  pr_why_add(c->why, c->whylen, "cpu samples: call stacks are unwound on x86-64 only");
  return -1;
#else
  char buf[32];
  long max = atol(pr_sysctl_text("/proc/sys/kernel/perf_event_max_sample_rate", buf, sizeof buf));
  if (max > 0 && hz > (unsigned long)max) {
    pr_why_add(c->why, c->whylen,
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
  a.exclude_kernel = 1;
  a.exclude_hv = 1;
  if (kernel_allowed()) {
    a.exclude_kernel = 0;
    a.sample_type |= PERF_SAMPLE_CALLCHAIN;
    a.exclude_callchain_user = 1;
  }
  if (c->attach) /* a thread may be covered twice (perf_attach.c): which event wrote a record */
    a.sample_type |= PERF_SAMPLE_IDENTIFIER;
  c->p->ident = c->attach;
  size_t keep = c->why ? strnlen(c->why, c->whylen) : 0;
  c->p->kchain = !a.exclude_kernel;
  if (pr_open_rings(c, &a, RING_CPU, CTRACE__PERF_CPU_RING_PAGES, "cpu samples", "") == 0)
    return 0;
  if (c->p->kchain && (c->err == EACCES || c->err == EPERM)) { /* (an LSM, a capability) */
    if (c->why && c->whylen)
      c->why[keep < c->whylen ? keep : c->whylen - 1] = '\0';
    a.exclude_kernel = 1;
    a.sample_type &= ~(uint64_t)PERF_SAMPLE_CALLCHAIN;
    a.exclude_callchain_user = 0;
    c->p->kchain = 0;
    if (pr_open_rings(c, &a, RING_CPU, CTRACE__PERF_CPU_RING_PAGES, "cpu samples", "") == 0)
      return 0;
  }
  if (c->err != EINVAL)
    return -1;
  if (c->why && c->whylen) /* a kernel before 5.12: no build ids in MMAP2 */
    c->why[keep < c->whylen ? keep : c->whylen - 1] = '\0';
  a.build_id = 0;
  return pr_open_rings(c, &a, RING_CPU, CTRACE__PERF_CPU_RING_PAGES, "cpu samples", "");
#endif
}

typedef struct queue_ctx {
  ctrace__perf *p;
  int pid;
  uint64_t ns;
} queue_ctx;

static void queue_mapping(void *arg, const ctrace__uw_mapping *m) {
  queue_ctx *q = arg;
  pr_new_mapping(q->p, PK_HELD, q->pid, q->pid, q->ns, -1, m, strlen(m->path));
}

static uint64_t mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pr_cpu_open(open_ctx *c) {
  ctrace__perf *p = c->p;
  unsigned hz = cpu_hz;
  p->period_ns = 1000000000u / hz;
  /* The mappings that exist now are stamped before the first sample can be. */
  queue_ctx q = {p, p->pid, mono_now()};
  size_t first = p->nrings;
  if (open_cpu(c, hz) != 0)
    return -1;
  p->uw = ctrace__unwinder_new();
  if (!p->uw) {
    pr_why_add(c->why, c->whylen, "cpu samples: out of memory (or libelf too old)");
    while (p->nrings > first)
      pr_ring_unmap(&p->rings[--p->nrings]);
    return -1;
  }
  int n = ctrace__proc_maps(p->pid, queue_mapping, &q);
  if (n < 0)
    pr_why_add(c->why, c->whylen, "cpu samples: /proc/%d/maps: %s", p->pid, strerror(-n));
  return 0;
}

/* ---- Reading --------------------------------------------------------------------- */

/* The kernel frames of a call chain (chain[0..n): PERF_CONTEXT_KERNEL, then
 * the kernel's addresses, innermost first; empty for a sample taken in user
 * mode), into out[CTRACE__STACK_MAX]. @return how many. */
static unsigned kernel_frames(const unsigned char *chain, uint64_t n, uint64_t *out) {
  unsigned k = 0;
  for (uint64_t i = 0; i < n && k < CTRACE__STACK_MAX; i++) {
    uint64_t ip = rd64(chain + 8 * i);
    if (ip >= (uint64_t)PERF_CONTEXT_MAX) { /* a context marker */
      if (ip != (uint64_t)PERF_CONTEXT_KERNEL)
        break; /* (user or guest frames: not asked for) */
      continue;
    }
    if (ip < CTRACE_FMT_KERNEL_ADDR_MIN)
      break;
    out[k++] = ip;
  }
  return k;
}

/* A sample: [id |] pid, tid | time | cpu, res | period | [nr, ips[nr] |]
 * abi, regs[17] | size, data[size], dyn_size (id with p->ident, the call
 * chain with p->kchain). b: after the header; end: the record's end. */
static void parse_sample(ctrace__perf *p, const unsigned char *b, const unsigned char *end) {
  uint64_t id = 0;
  if (p->ident && end - b >= 8) {
    id = rd64(b);
    b += 8;
  }
  if (end - b < 40) {
    p->malformed++;
    return;
  }
  int pid = (int)rd32(b);
  if (pid != p->pid && !p->tree)
    return;
  int tid = (int)rd32(b + 4), cpu = (int)rd32(b + 16);
  if (!pr_attach_keep(p, tid, id))
    return;
  uint64_t ns = rd64(b + 8), period = rd64(b + 24);
  const unsigned char *q = b + 32, *chain = NULL, *regs = NULL;
  uint64_t nchain = 0;
  if (p->kchain) {
    nchain = rd64(q); /* (room for it and abi after it) */
    if (end - q < 16 || nchain > (uint64_t)(end - q - 16) / 8) {
      p->malformed++;
      return;
    }
    chain = q + 8;
    q = chain + 8 * nchain;
  }
  uint64_t abi = rd64(q);
  q += 8;
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
  uint64_t kips[CTRACE__STACK_MAX];
  unsigned nk = kernel_frames(chain, nchain, kips);
  pevent *pe = pr_new_pevent(p, CTRACE__K_SAMPLE, pid, tid, ns, cpu,
                             sizeof(sample_payload) + 8 * (size_t)nk + (size_t)dyn);
  if (!pe)
    return;
  pe->e.period_ns = period ? period : p->period_ns;
  sample_payload *sp = (sample_payload *)pe->b->data;
  sp->has_regs = regs && abi == PERF_SAMPLE_REGS_ABI_64;
  sp->stack_len = (uint32_t)dyn;
  sp->nkernel = nk;
#if defined(__x86_64__)
  for (unsigned i = 0; sp->has_regs && i < CTRACE__UW_NREGS; i++)
    sp->regs[rec_to_dwarf[i]] = rd64(regs + 8 * i);
#endif
  memcpy(sp->data, kips, 8 * (size_t)nk);
  memcpy(sp->data + 8 * (size_t)nk, stack, (size_t)dyn);
}

void pr_cpu_parse(ctrace__perf *p, const perf_ring *r, const unsigned char *rec, uint32_t size) {
  struct perf_event_header h;
  memcpy(&h, rec, sizeof h);
  const unsigned char *b = rec + sizeof h, *end = rec + size;
  /* (non-sample records) the sample_id trailer: pid, tid | time | cpu, res
   * [| id with p->ident]; idl its length */
  const size_t idl = SAMPLE_ID_LEN + (p->ident ? 8 : 0);
  const unsigned char *id = size >= sizeof h + idl ? rec + size - idl : b;
  uint64_t ident = p->ident && size >= sizeof h + idl ? rd64(end - 8) : 0;
  switch (h.type) {
  case PERF_RECORD_SAMPLE: parse_sample(p, b, end); return;
  case PERF_RECORD_MMAP2: {
    /* pid, tid | addr | len | pgoff | maj, min, ino, ino_gen or build id |
     * prot, flags | filename | sample_id */
    if ((size_t)(end - b) < 64 + idl) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b);
    if ((pid != p->pid && !p->tree) || !(rd32(b + 56) & PROT_EXEC) ||
        !pr_attach_keep(p, (int)rd32(b + 4), ident))
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
    pr_new_mapping(p, CTRACE__K_MAPPING, pid, (int)rd32(b + 4), rd64(id + 8), (int)rd32(id + 16),
                   &m, namelen);
    return;
  }
  case PERF_RECORD_COMM: {
    /* pid, tid | comm | sample_id: an exec when flagged so (not prctl) */
    if ((size_t)(end - b) < 8 + idl) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b);
    if ((h.misc & PERF_RECORD_MISC_COMM_EXEC) && (pid == p->pid || p->tree) &&
        pr_attach_keep(p, (int)rd32(b + 4), ident))
      pr_new_event(p, PK_EXEC, pid, (int)rd32(b + 4), rd64(id + 8), (int)rd32(id + 16));
    return;
  }
  case PERF_RECORD_FORK:
  case PERF_RECORD_EXIT: {
    /* pid, ppid, tid, ptid, time | sample_id */
    if ((size_t)(end - b) < 24 + idl) {
      p->malformed++;
      return;
    }
    int pid = (int)rd32(b), ppid = (int)rd32(b + 4), tid = (int)rd32(b + 8);
    if ((pid != p->pid && !p->tree) || !pr_attach_keep(p, tid, ident))
      return;
    if (h.type == PERF_RECORD_FORK && pid != ppid) { /* a process, not a thread */
      ctrace__kevent *e = pr_new_event(p, PK_FORK, pid, tid, rd64(id + 8), (int)rd32(id + 16));
      if (e)
        e->nr = ppid;
    } else if (h.type == PERF_RECORD_EXIT && pid == tid) { /* (K_EXIT comes from RING_SCHED) */
      pr_new_event(p, PK_GONE, pid, tid, rd64(id + 8), (int)rd32(id + 16));
    }
    return;
  }
  case PERF_RECORD_LOST: {
    if (size < sizeof h + 16 + idl) {
      p->malformed++;
      return;
    }
    ctrace__kevent *e =
        pr_new_event(p, CTRACE__K_LOST, (int)rd32(id), (int)rd32(id + 4), rd64(id + 8), r->cpu);
    if (e)
      e->lost = rd64(rec + sizeof h + 8);
    return;
  }
  default: /* THROTTLE, UNTHROTTLE, ...: skipped by their size */ return;
  }
}

/* ---- Delivering ------------------------------------------------------------------ */

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
  pr_emit(c, &e);
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

/* A sample: the mappings that /proc listed at the open (or now, for a
 * process met without its fork) first, then its stack, unwound. */
static void deliver_sample(ctrace__perf *p, ctrace__kevent *e, const sample_payload *sp,
                           emit_ctx *c) {
  if (!ctrace__unwinder_known(p->uw, e->pid)) {
    /* Its fork record was lost, or it came before: what /proc says now. */
    fallback_ctx f = {p->uw, c};
    if (ctrace__proc_maps(e->pid, fallback_mapping, &f) <= 0)
      ctrace__unwinder_exec(p->uw, e->pid); /* gone: known, with no mappings */
  }
  ctrace__unwinder_release(p->uw, e->pid, emit_mapping, c); /* (from the open's /proc) */
  e->pcs = p->pcs;
  unsigned nk = sp->nkernel; /* (kernel frames first) */
  memcpy(p->pcs, sp->data, 8 * (size_t)nk);
  if (!c->emit) { /* (counted only: not worth a walk) */
    e->npcs = 0;
  } else if (sp->has_regs && nk < CTRACE__STACK_MAX) {
    ctrace__uw_sample s;
    s.pid = e->pid;
    s.tid = e->tid;
    memcpy(s.regs, sp->regs, sizeof s.regs);
    s.stack = payload_stack(sp);
    s.stack_len = sp->stack_len;
    e->npcs = nk + ctrace__unwinder_unwind(p->uw, &s, p->pcs + nk, CTRACE__STACK_MAX - nk,
                                           &e->sample_flags);
  } else {
    e->npcs = nk;
    e->sample_flags |= CTRACE__SAMPLE_PARTIAL;
  }
  pr_emit(c, e);
}

int pr_cpu_deliver(ctrace__perf *p, pevent *pe, emit_ctx *c) {
  ctrace__kevent *e = &pe->e;
  switch (e->kind) {
  case CTRACE__K_MAPPING:
  case PK_HELD: {
    const char *path = (const char *)pe->b->data;
    ctrace__uw_mapping m = {e->start, e->end, e->offset, path, path + strlen(path) + 1};
    char id[CTRACE__UW_BUILD_ID_HEX + 1];
    ctrace__unwinder_map(p->uw, e->pid, &m, e->kind == PK_HELD, id);
    if (e->kind == CTRACE__K_MAPPING) {
      ctrace__kevent shown = *e;
      shown.path = path;
      shown.build_id = id;
      pr_emit(c, &shown);
    }
    return 1;
  }
  case CTRACE__K_SAMPLE: deliver_sample(p, e, (const sample_payload *)pe->b->data, c); return 1;
  case PK_EXEC:
    ctrace__unwinder_exec(p->uw, e->pid);
    e->kind = CTRACE__K_EXEC;
    pr_emit(c, e);
    return 1;
  case PK_FORK:
    ctrace__unwinder_fork(p->uw, (int)e->nr, e->pid);
    ctrace__unwinder_mappings(p->uw, e->pid, emit_mapping, c);
    return 1;
  case PK_GONE: ctrace__unwinder_exit(p->uw, e->pid); return 1;
  default: return 0;
  }
}
