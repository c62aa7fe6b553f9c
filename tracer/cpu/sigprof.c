/* CPU samples by SIGPROF timers, where perf_event_open is refused
 * (kernel.perf_event_paranoid = 3, a seccomp filter): the process samples
 * itself with POSIX timers, one per thread, on that thread's CPU clock
 * (timer_create on CLOCK_THREAD_CPUTIME_ID's clock of another thread: the
 * kernel's per-thread clock id of the tid), each sending SIGPROF to its own
 * thread (SIGEV_THREAD_ID) every period of that thread's CPU time.
 *
 * The handler only copies: the interrupted registers (from the ucontext)
 * and the top of the stack above the interrupted rsp (up to 16 KiB, as
 * perf's samples; read with process_vm_readv on this process, page by page,
 * which stops at the first unmapped page instead of faulting: the end of
 * the thread's stack), into its thread's ring. No lock, no allocation, no
 * call into libc beyond clock_gettime, sched_getcpu and a system call;
 * errno is kept. Each thread's ring (a slot, mmapped by the sampler's
 * thread) has one writer, the handler on that thread (SIGPROF does not
 * nest in itself), and one reader, the sampler's thread, which unwinds the
 * copies with tracer/capture's unwinder (ctrace__self_samples) in time
 * order every ~10 ms and creates the timers of threads started since (read
 * from /proc/self/task: a thread that lives less than a poll is missed).
 *
 * The kernel checks CPU timers at its tick (CONFIG_HZ, 250 on Debian): a
 * faster rate arrives as fewer signals that count the periods they missed
 * (si_overrun). A signal's stack then stands for 1 + overrun periods, and is
 * written as that many samples, one period apart before the signal.
 *
 * A signal can still be pending when its timer is deleted (the kernel
 * delivers it), so the handler stays installed once set, and acts only on a
 * timer of the session that runs (its generation, in the top 16 bits of
 * the value the timer carries, beside its slot's address); stopping waits
 * for the handlers inside before freeing. A program that has a SIGPROF
 * handler of its own is not sampled this way (said). */
#define _GNU_SOURCE
#include "sigprof.h"
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define SP_RING_BYTES (256u * 1024) /* per thread: >= 10 ms of full copies at 999 Hz */
#define SP_STACK_BYTES (16u * 1024) /* stack copied per sample, at most (as perf's) */
#define SP_WEIGHT_MAX 64            /* periods one signal stands for, at most */
#define SP_MAGIC 0x637472616365ull  /* a slot's first word */
#define SP_GEN(v) ((uint32_t)((uintptr_t)(v) >> 48))
#define SP_PTR_MASK ((((uintptr_t)1) << 48) - 1)

/* One sample in a ring (8-byte aligned). */
typedef struct sp_rec {
  uint32_t size;      /* bytes of the record; 0: none more before the ring's end */
  uint32_t stack_len; /* bytes of stack[] */
  int32_t cpu;
  uint32_t weight; /* 1 + the timer's overruns */
  uint64_t ns;     /* CLOCK_MONOTONIC */
  uint64_t regs[CTRACE__SELF_NREGS];
  unsigned char stack[];
} sp_rec;

typedef struct sp_slot {
  uint64_t magic;
  int tid;
  int seen; /* the scan that saw tid last */
  timer_t timer;
  uint64_t head;         /* written by the thread's handler (release) */
  uint64_t tail;         /* written by the sampler's thread (release) */
  uint64_t dropped;      /* periods the ring had no room for (handler) */
  uint64_t dropped_seen; /* (the reader's) */
  uint64_t taken;        /* (the reader's) where its tail goes once delivered */
  struct sp_slot *next;
  _Alignas(64) unsigned char ring[SP_RING_BYTES];
} sp_slot;

typedef struct sp_ref { /* a record to deliver */
  uint64_t ns;
  const sp_slot *slot;
  const sp_rec *rec;
} sp_ref;

struct sp_sampler {
  uint64_t period_ns;
  uint32_t gen;
  int scan, self_tid;
  sp_slot *slots; /* live threads */
  sp_slot *dead;  /* gone at the last scan: unmapped at the next */
  sp_ref *refs;
  size_t nrefs, refs_cap;
  ctrace__self_samples *ss;
  uint64_t last_ns;
};

/* The handler's view (it may run at any time, on any thread). */
static uint32_t active_gen; /* the generation of the session that samples; 0: none */
static int inflight;        /* handlers past their first step */
static int self_pid;
static uint32_t last_gen;
static int handler_set;

/* ---- The handler ------------------------------------------------------------------ */

/* One sample into s's ring, or counted as dropped when it is full. */
static void take(sp_slot *s, const siginfo_t *si, const ucontext_t *uc) {
  uint32_t weight = 1 + (si->si_overrun > 0 ? (uint32_t)si->si_overrun : 0);
  if (weight > SP_WEIGHT_MAX)
    weight = SP_WEIGHT_MAX;
  const uint64_t need = sizeof(sp_rec) + SP_STACK_BYTES;
  uint64_t head = s->head, tail = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
  uint64_t off = head % SP_RING_BYTES, to_end = SP_RING_BYTES - off;
  uint64_t pad = to_end < need ? to_end : 0;
  if (SP_RING_BYTES - (head - tail) < pad + need) {
    __atomic_add_fetch(&s->dropped, weight, __ATOMIC_RELAXED);
    return;
  }
  if (pad) { /* (to_end >= 8: records are 8-byte aligned) */
    ((sp_rec *)(void *)(s->ring + off))->size = 0;
    head += pad;
    off = 0;
  }
  sp_rec *r = (sp_rec *)(void *)(s->ring + off);
  ctrace__take_regs(r->regs, uc);
  r->stack_len = ctrace__copy_own_stack(self_pid, r->stack, r->regs[7], SP_STACK_BYTES);
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  r->ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  r->cpu = sched_getcpu();
  r->weight = weight;
  r->size = (uint32_t)((sizeof *r + r->stack_len + 7) & ~(size_t)7);
  __atomic_store_n(&s->head, head + r->size, __ATOMIC_RELEASE);
}

static void on_sigprof(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  int saved = errno;
  __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  uint32_t gen = __atomic_load_n(&active_gen, __ATOMIC_SEQ_CST);
  uintptr_t v = (uintptr_t)si->si_value.sival_ptr;
  if (gen && si->si_code == SI_TIMER && SP_GEN(v) == gen) {
    sp_slot *s = (sp_slot *)(v & SP_PTR_MASK);
    if (__atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) == SP_MAGIC) /* (its set-up before) */
      take(s, si, uc);
  }
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  errno = saved;
}

/* ---- Threads and their timers ----------------------------------------------------- */

/* The kernel's clock id of thread tid's CPU time (CPUCLOCK_SCHED, per
 * thread: what pthread_getcpuclockid gives, from a tid). */
static clockid_t thread_clock(int tid) { return (clockid_t)((~(unsigned)tid << 3) | 6u); }

/* A slot and a running timer for thread tid. @return the slot, or NULL
 * (the thread is gone, or no memory or timer: it is not sampled). */
static sp_slot *arm(sp_sampler *s, int tid, int *err) {
  sp_slot *slot =
      mmap(NULL, sizeof *slot, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (slot == MAP_FAILED) {
    *err = errno;
    return NULL;
  }
  slot->tid = tid;
  slot->seen = s->scan;
  __atomic_store_n(&slot->magic, SP_MAGIC, __ATOMIC_RELEASE); /* (the handler's acquire) */
  struct sigevent ev;
  memset(&ev, 0, sizeof ev);
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGPROF;
  ev.sigev_value.sival_ptr = (void *)((uintptr_t)slot | (uintptr_t)s->gen << 48);
  ev._sigev_un._tid = tid;
  struct itimerspec it;
  it.it_interval.tv_sec = (time_t)(s->period_ns / 1000000000u);
  it.it_interval.tv_nsec = (long)(s->period_ns % 1000000000u);
  it.it_value = it.it_interval;
  if (timer_create(thread_clock(tid), &ev, &slot->timer) != 0) {
    *err = errno;
    munmap(slot, sizeof *slot);
    return NULL;
  }
  if (timer_settime(slot->timer, 0, &it, NULL) != 0) {
    *err = errno;
    timer_delete(slot->timer);
    munmap(slot, sizeof *slot);
    return NULL;
  }
  slot->next = s->slots;
  s->slots = slot;
  return slot;
}

static sp_slot *slot_of(sp_sampler *s, int tid) {
  for (sp_slot *slot = s->slots; slot; slot = slot->next)
    if (slot->tid == tid)
      return slot;
  return NULL;
}

static void free_list(sp_slot *slot) {
  while (slot) {
    sp_slot *next = slot->next;
    munmap(slot, sizeof *slot);
    slot = next;
  }
}

/* Timers for the threads not met before; the slots of those gone move to
 * s->dead (their timers deleted). @return threads armed, or -errno of the
 * first failure when none was (and *first_err is set). */
static int scan(sp_sampler *s, int *first_err) {
  s->scan++;
  DIR *d = opendir("/proc/self/task");
  if (!d) {
    *first_err = errno;
    return -1;
  }
  int armed = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    char *end;
    long tid = strtol(de->d_name, &end, 10);
    if (tid <= 0 || *end || tid == s->self_tid)
      continue;
    sp_slot *slot = slot_of(s, (int)tid);
    if (slot)
      slot->seen = s->scan;
    else if (arm(s, (int)tid, first_err))
      armed++;
  }
  closedir(d);
  for (sp_slot **p = &s->slots; *p;) {
    sp_slot *slot = *p;
    if (slot->seen == s->scan && slot->tid != s->self_tid) {
      p = &slot->next;
      continue;
    }
    timer_delete(slot->timer);
    *p = slot->next;
    slot->next = s->dead;
    s->dead = slot;
  }
  return armed;
}

/* ---- Delivering ------------------------------------------------------------------- */

static int ref_cmp(const void *a, const void *b) {
  const sp_ref *x = a, *y = b;
  return x->ns < y->ns ? -1 : x->ns > y->ns;
}

/* The records of slot's ring up to its head (acquired), into s->refs;
 * slot->taken: the position after them. */
static void collect(sp_sampler *s, sp_slot *slot) {
  uint64_t head = __atomic_load_n(&slot->head, __ATOMIC_ACQUIRE), pos = slot->tail;
  while (pos < head) {
    const sp_rec *r = (const sp_rec *)(const void *)(slot->ring + pos % SP_RING_BYTES);
    if (r->size == 0) { /* (the rest of the ring is padding) */
      pos += SP_RING_BYTES - pos % SP_RING_BYTES;
      continue;
    }
    if (s->nrefs == s->refs_cap) {
      size_t cap = s->refs_cap ? 2 * s->refs_cap : 256;
      sp_ref *q = realloc(s->refs, cap * sizeof *q);
      if (!q)
        break; /* (delivered next time) */
      s->refs = q;
      s->refs_cap = cap;
    }
    s->refs[s->nrefs++] = (sp_ref){r->ns, slot, r};
    pos += r->size;
  }
  slot->taken = pos;
}

typedef struct weigh_ctx { /* emits a sample once per period it stands for */
  void (*emit)(void *arg, const ctrace__kevent *ev);
  void *arg;
  uint32_t weight;
  uint64_t period_ns, after_ns;
} weigh_ctx;

static void weigh(void *arg, const ctrace__kevent *ev) {
  weigh_ctx *w = arg;
  if (ev->kind != CTRACE__K_SAMPLE || w->weight <= 1) {
    w->emit(w->arg, ev);
    return;
  }
  ctrace__kevent e = *ev;
  for (uint32_t k = w->weight; k-- > 0;) {
    uint64_t back = (uint64_t)k * w->period_ns;
    e.ns = ev->ns > back && ev->ns - back > w->after_ns ? ev->ns - back : ev->ns;
    w->emit(w->arg, &e);
  }
}

/* Every record of every ring (the live threads' and those gone), in time
 * order, then the rings emptied. */
static void deliver(sp_sampler *s, void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  s->nrefs = 0;
  uint64_t lost = 0;
  for (int pass = 0; pass < 2; pass++)
    for (sp_slot *slot = pass ? s->dead : s->slots; slot; slot = slot->next) {
      collect(s, slot);
      uint64_t dropped = __atomic_load_n(&slot->dropped, __ATOMIC_RELAXED);
      lost += dropped - slot->dropped_seen;
      slot->dropped_seen = dropped;
    }
  if (s->nrefs > 1)
    qsort(s->refs, s->nrefs, sizeof *s->refs, ref_cmp);
  for (size_t i = 0; i < s->nrefs; i++) {
    const sp_rec *r = s->refs[i].rec;
    ctrace__self_sample smp;
    smp.ns = r->ns;
    smp.tid = s->refs[i].slot->tid;
    smp.cpu = r->cpu;
    memcpy(smp.regs, r->regs, sizeof smp.regs);
    smp.stack = r->stack;
    smp.stack_len = r->stack_len;
    weigh_ctx w = {emit, arg, r->weight, s->period_ns, s->last_ns};
    ctrace__self_samples_add(s->ss, &smp, weigh, &w);
    if (r->ns > s->last_ns)
      s->last_ns = r->ns;
  }
  for (int pass = 0; pass < 2; pass++) /* (delivered: their room is the handlers' again) */
    for (sp_slot *slot = pass ? s->dead : s->slots; slot; slot = slot->next)
      __atomic_store_n(&slot->tail, slot->taken, __ATOMIC_RELEASE);
  if (lost) {
    ctrace__kevent e;
    memset(&e, 0, sizeof e);
    e.kind = CTRACE__K_LOST;
    e.ns = s->last_ns;
    e.pid = self_pid;
    e.cpu = -1;
    e.lost = lost;
    emit(arg, &e);
  }
}

/* ---- Open, poll, close ------------------------------------------------------------ */

/* Our handler for SIGPROF (once; it stays), unless the program has one.
 * @return 0, or -1 with why. */
static int set_handler(char *why, size_t whylen) {
  struct sigaction old;
  if (sigaction(SIGPROF, NULL, &old) != 0) {
    snprintf(why, whylen, "sigaction(SIGPROF): %s", strerror(errno));
    return -1;
  }
  int ours = (old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigprof;
  if (!ours &&
      (old.sa_flags & SA_SIGINFO || (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))) {
    snprintf(why, whylen, "SIGPROF is the program's own (it has a handler installed)");
    return -1;
  }
  if (ours && handler_set)
    return 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigprof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGPROF, &sa, NULL) != 0) {
    snprintf(why, whylen, "sigaction(SIGPROF): %s", strerror(errno));
    return -1;
  }
  handler_set = 1;
  return 0;
}

sp_sampler *sp_open(unsigned hz, char *why, size_t whylen) {
#if !defined(__x86_64__)
  (void)hz;
  snprintf(why, whylen, "SIGPROF samples: call stacks are unwound on x86-64 only");
  return NULL;
#else
  sp_sampler *s = calloc(1, sizeof *s);
  if (!s || !(s->ss = ctrace__self_samples_new(1000000000u / hz))) {
    free(s);
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  s->period_ns = 1000000000u / hz;
  if (set_handler(why, whylen) != 0) {
    ctrace__self_samples_free(s->ss);
    free(s);
    return NULL;
  }
  self_pid = (int)getpid();
  last_gen = last_gen % 0xffff + 1; /* 1..0xffff */
  s->gen = last_gen;
  __atomic_store_n(&active_gen, s->gen, __ATOMIC_SEQ_CST);
  int err = 0;
  if (scan(s, &err) <= 0) {
    snprintf(why, whylen, "timer_create(CLOCK_THREAD_CPUTIME_ID of each thread, SIGPROF): %s",
             strerror(err ? err : ESRCH));
    sp_close(s, NULL, NULL);
    return NULL;
  }
  return s;
#endif
}

void sp_poll(sp_sampler *s, void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  if (!s->self_tid) /* (the sampler's own thread: never a timer) */
    s->self_tid = (int)syscall(SYS_gettid);
  free_list(s->dead);
  s->dead = NULL;
  int err;
  scan(s, &err);
  deliver(s, emit, arg);
}

static void no_emit(void *arg, const ctrace__kevent *ev) {
  (void)arg;
  (void)ev;
}

void sp_close(sp_sampler *s, void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  if (!s)
    return;
  __atomic_store_n(&active_gen, 0, __ATOMIC_SEQ_CST); /* (signals still pending do nothing) */
  for (sp_slot *slot = s->slots; slot; slot = slot->next)
    timer_delete(slot->timer);
  while (__atomic_load_n(&inflight, __ATOMIC_SEQ_CST)) /* (a handler copying: µs) */
    sched_yield();
  deliver(s, emit ? emit : no_emit, arg);
  free_list(s->slots);
  free_list(s->dead);
  free(s->refs);
  ctrace__self_samples_free(s->ss);
  free(s);
}
