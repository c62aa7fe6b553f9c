/* Every thread's call stack, now: the control socket's `stacks` command
 * (common.h has the reply), for `ctrace stacks PID` (viewer/cli/stacks.c),
 * which unwinds and names what this sends. Like Go's goroutine?debug=2,
 * without stopping the process: each thread is interrupted once, for the
 * microseconds its copy takes.
 *
 * The control thread lists the threads (/proc/self/task), reads what the
 * kernel says of each before touching it (name, state, the system call it
 * is blocked in, wchan), then sends each of the program's threads a
 * real-time signal (rt_tgsigqueueinfo, carrying the thread's slot). The
 * handler copies the interrupted registers (from the ucontext) and the top
 * of the stack above rsp (up to STK_MAX bytes, with process_vm_readv page by
 * page, which stops at the first unmapped page, the end of the thread's
 * stack, instead of faulting) into that slot, mmapped beforehand: no lock,
 * no allocation, nothing but system calls and clock_gettime; errno kept.
 * The signal is one that has no handler in the process (SIGRTMAX-3 down),
 * the handler is installed only while capturing, and the previous
 * disposition is restored after: first SIG_IGN, which discards a signal
 * still pending (a thread that did not answer), then the old one, once no
 * handler runs (the same in-flight count and generation as
 * tracer/cpu/sigprof.c).
 *
 * A thread that blocks the signal is not sent it (a pending signal left
 * behind would kill the process once the default disposition is back); a
 * thread that does not answer within ANSWER_MS (stopped, or it blocked the
 * signal since) is not waited for. Of those, one blocked in a system call
 * still has its stack: rsp and rip from /proc/self/task/TID/syscall (the
 * other registers unknown: the unwinding may stop early) and the stack
 * copied by the control thread. The tracer's own threads (ctrace-*) are
 * listed as such, without a stack.
 *
 * Like any signal, this one makes the system calls that a handled signal
 * interrupts whatever SA_RESTART says (nanosleep, poll, epoll_wait, ...)
 * return EINTR in the threads blocked in one; the others are restarted.
 *
 * What a thread waits on (a mutex, a condition variable, ...) is known
 * under the preload: its lock wrappers publish the current wait in a
 * per-thread slot of the registry below (ctrace__wait_begin/end), and a
 * mutex's holder is glibc's __data.__owner (a rwlock's writer, its
 * __cur_writer). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define STK_MAX CTRACE__OWN_STACK_MAX /* stack copied per thread, at most */
#define STK_MIN (16u * 1024)          /* ... at least, however many threads */
#define STK_TOTAL (32u << 20)         /* all copies together, at most */
#define MAX_THREADS 8192              /* threads listed, at most */
#define ANSWER_MS 200                 /* a thread's time to answer */
#define SEND_MS 10000                 /* the client's time to read the reply */
#define NREGS CTRACE__NREGS
#define REG_SP 7

/* ---- The wait registry (for the preload's lock wrappers) -------------------------- */

/* A thread's current wait: a slot taken at its first wait, given back at
 * its exit (a key's destructor). Written by its thread only; read, racily
 * and harmlessly, by the control thread. A full table: the thread's waits
 * are not told. */
#define WAIT_SLOTS 1024
typedef struct wait_slot {
  int tid;         /* 0: free (taken by CAS) */
  uint32_t kind;   /* CTRACE_FMT_WAIT_*; 0: not waiting */
  uint64_t object; /* the object waited on */
  uint64_t since;  /* CLOCK_MONOTONIC ns */
} wait_slot;

static wait_slot wait_slots[WAIT_SLOTS];
static __thread wait_slot *my_wait_slot __attribute__((tls_model("initial-exec")));
static pthread_key_t wait_key;
static pthread_once_t wait_once = PTHREAD_ONCE_INIT;
static int wait_key_ok;

static void wait_slot_release(void *p) {
  wait_slot *s = p;
  __atomic_store_n(&s->kind, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&s->tid, 0, __ATOMIC_RELEASE);
}

static void wait_key_init(void) {
  wait_key_ok = pthread_key_create(&wait_key, wait_slot_release) == 0;
}

/* The calling thread's slot (taken at the first call), or NULL. */
static wait_slot *wait_slot_mine(void) {
  wait_slot *s = my_wait_slot;
  if (CTRACE__LIKELY(s != NULL))
    return s;
  pthread_once(&wait_once, wait_key_init);
  if (!wait_key_ok || my_wait_slot == (wait_slot *)1)
    return NULL;
  int tid = ctrace__tid();
  for (int i = 0; i < WAIT_SLOTS; i++) {
    int free_tid = 0;
    if (__atomic_load_n(&wait_slots[i].tid, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&wait_slots[i].tid, &free_tid, tid, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED)) {
      if (pthread_setspecific(wait_key, &wait_slots[i]) != 0) {
        wait_slot_release(&wait_slots[i]);
        break;
      }
      return my_wait_slot = &wait_slots[i];
    }
  }
  my_wait_slot = (wait_slot *)1; /* (full: never again on this thread) */
  return NULL;
}

void ctrace__wait_begin(unsigned kind, const void *object) {
  wait_slot *s = wait_slot_mine();
  if (!s || s == (wait_slot *)1)
    return;
  __atomic_store_n(&s->object, (uint64_t)(uintptr_t)object, __ATOMIC_RELAXED);
  __atomic_store_n(&s->since, ctrace__mono_ns(), __ATOMIC_RELAXED);
  __atomic_store_n(&s->kind, kind, __ATOMIC_RELEASE); /* (object and since before) */
}

void ctrace__wait_end(void) {
  wait_slot *s = my_wait_slot;
  if (s && s != (wait_slot *)1)
    __atomic_store_n(&s->kind, 0, __ATOMIC_RELAXED);
}

/* ---- What the handler fills --------------------------------------------------------- */

typedef struct stk_slot {
  int tid;
  int done; /* 1 once the handler filled it (release) */
  uint32_t len;
  uint32_t pad;
  uint64_t t_in, t_out; /* CLOCK_MONOTONIC ns: the handler's entry and exit */
  uint64_t regs[NREGS];
  unsigned char *stack; /* cap bytes */
} stk_slot;

static struct { /* the handler's view */
  uint32_t gen; /* of the capture running; 0: none */
  int inflight; /* handlers past their first step */
  int pid;
  stk_slot *slots;
  size_t n;
  uint32_t cap;
  uint32_t last_gen;
  size_t bytes; /* of the slots' mapping */
} stk;

static uint64_t mono_ns_raw(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  int saved = errno;
  __atomic_add_fetch(&stk.inflight, 1, __ATOMIC_SEQ_CST);
  uint32_t gen = __atomic_load_n(&stk.gen, __ATOMIC_SEQ_CST);
  uint64_t v = (uint64_t)(uintptr_t)si->si_value.sival_ptr;
  if (gen && si->si_code == SI_QUEUE && si->si_pid == stk.pid && (uint32_t)(v >> 32) == gen &&
      (uint32_t)v < stk.n) {
    stk_slot *s = &stk.slots[(uint32_t)v];
    if (s->tid == (int)syscall(SYS_gettid) && !__atomic_load_n(&s->done, __ATOMIC_RELAXED)) {
      s->t_in = mono_ns_raw();
#if defined(__x86_64__)
      ctrace__take_regs(s->regs, uc);
      s->len = ctrace__copy_own_stack(stk.pid, s->stack, s->regs[REG_SP], stk.cap);
#else
      (void)uc;
#endif
      s->t_out = mono_ns_raw();
      __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    }
  }
  __atomic_sub_fetch(&stk.inflight, 1, __ATOMIC_SEQ_CST);
  errno = saved;
}

/* ---- What /proc says ------------------------------------------------------------------ */

typedef struct thr {
  int tid;
  char name[64];
  char state;  /* R, S, D, T, t, Z ... */
  char how;    /* 's' signal, 'p' /proc's rsp and rip, 0 none */
  int tracer;  /* one of the tracer's threads */
  int blocked; /* it blocks the signal */
  int sent;    /* the signal went */
  char syscall[256];
  char wchan[64];
  const char *note; /* why there is no stack */
  uint32_t wait_kind;
  uint64_t wait_obj, wait_since;
  int holder;
} thr;

/* The first line of path into b (without its newline). @return its length, or -1. */
static int read_line(const char *path, char *b, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n;
  do
    n = read(fd, b, len - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0)
    return -1;
  b[n] = '\0';
  b[strcspn(b, "\n")] = '\0';
  return (int)strlen(b);
}

/* The thread's state letter (stat's third field: after the last ')'). */
static char read_state(int tid) {
  char p[64], b[512];
  snprintf(p, sizeof p, "/proc/self/task/%d/stat", tid);
  if (read_line(p, b, sizeof b) < 0)
    return '?';
  char *rp = strrchr(b, ')');
  return rp && rp[1] == ' ' && rp[2] ? rp[2] : '?';
}

/* Whether the thread blocks signal sig (status's SigBlk). */
static int blocks(int tid, int sig) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/self/task/%d/status", tid);
  FILE *f = fopen(p, "re");
  if (!f)
    return 0;
  unsigned long long mask = 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "SigBlk:\t%llx", &mask) == 1;
  fclose(f);
  return found && (mask >> (sig - 1)) & 1;
}

static int is_tracer(int tid, const char *name) {
  if (!strncmp(name, "ctrace-", 7))
    return 1;
  int n = __atomic_load_n(&ctrace__own_ntids, __ATOMIC_ACQUIRE);
  for (int i = 0; i < n && i < CTRACE__OWN_TIDS; i++)
    if (ctrace__own_tids[i] == tid)
      return 1;
  return 0;
}

/* The holder of a glibc mutex (its __data.__owner, a tid) or rwlock (its
 * writer, __data.__cur_writer; readers are not known), read without
 * trusting that the memory is still mapped. @return 0 unknown. */
static int holder_of(unsigned kind, uint64_t obj) {
  union {
    pthread_mutex_t m;
    pthread_rwlock_t rw;
  } copy;
  size_t n = kind == CTRACE_FMT_WAIT_MUTEX ? sizeof copy.m : sizeof copy.rw;
  struct iovec local = {&copy, n}, remote = {(void *)(uintptr_t)obj, n};
  if (syscall(SYS_process_vm_readv, stk.pid, &local, 1, &remote, 1, 0) != (long)n)
    return 0;
  int tid = kind == CTRACE_FMT_WAIT_MUTEX ? copy.m.__data.__owner : copy.rw.__data.__cur_writer;
  return tid > 0 ? tid : 0;
}

/* What every thread of the process is, before any is signalled. @return
 * their number (in *out, malloc'd), or -errno. */
static int list_threads(thr **out, int sig) {
  DIR *d = opendir("/proc/self/task");
  if (!d)
    return -errno;
  thr *t = NULL;
  size_t n = 0, cap = 0;
  int self = ctrace__tid();
  struct dirent *de;
  while ((de = readdir(d)) && n < MAX_THREADS) {
    char *end;
    long tid = strtol(de->d_name, &end, 10);
    if (tid <= 0 || *end)
      continue;
    thr *x = VH_PUSH(t, n, cap);
    if (!x)
      break;
    memset(x, 0, sizeof *x);
    x->tid = (int)tid;
    char p[64];
    snprintf(p, sizeof p, "/proc/self/task/%ld/comm", tid);
    if (read_line(p, x->name, sizeof x->name) < 0)
      snprintf(x->name, sizeof x->name, "?");
    for (char *c = x->name; *c; c++)
      if ((unsigned char)*c < 0x20 || *c == 0x7f)
        *c = '?';
    x->state = read_state(x->tid);
    snprintf(p, sizeof p, "/proc/self/task/%ld/syscall", tid);
    if (read_line(p, x->syscall, sizeof x->syscall) < 0)
      x->syscall[0] = '\0';
    snprintf(p, sizeof p, "/proc/self/task/%ld/wchan", tid);
    if (read_line(p, x->wchan, sizeof x->wchan) <= 0 || !strcmp(x->wchan, "0"))
      x->wchan[0] = '\0';
    x->tracer = x->tid == self || is_tracer(x->tid, x->name);
    x->blocked = !x->tracer && sig > 0 && blocks(x->tid, sig);
  }
  closedir(d);
  *out = t;
  return (int)n;
}

/* The current waits of the registry, onto the threads. */
static void read_waits(thr *t, int n) {
  uint64_t now = ctrace__mono_ns();
  for (int i = 0; i < WAIT_SLOTS; i++) {
    int tid = __atomic_load_n(&wait_slots[i].tid, __ATOMIC_ACQUIRE);
    uint32_t kind = tid ? __atomic_load_n(&wait_slots[i].kind, __ATOMIC_ACQUIRE) : 0;
    if (!kind)
      continue;
    for (int k = 0; k < n; k++)
      if (t[k].tid == tid) {
        t[k].wait_kind = kind;
        t[k].wait_obj = __atomic_load_n(&wait_slots[i].object, __ATOMIC_RELAXED);
        uint64_t since = __atomic_load_n(&wait_slots[i].since, __ATOMIC_RELAXED);
        t[k].wait_since = now > since ? now - since : 0;
        if (kind == CTRACE_FMT_WAIT_MUTEX || kind == CTRACE_FMT_WAIT_RWLOCK_READ ||
            kind == CTRACE_FMT_WAIT_RWLOCK_WRITE)
          t[k].holder = holder_of(kind, t[k].wait_obj);
      }
  }
}

/* ---- Capturing ------------------------------------------------------------------------- */

/* A real-time signal without a handler in the process (SIGRTMAX-3 down to
 * SIGRTMIN+2), our handler installed on it; *old: what was there. @return
 * the signal, or -1 when every one has a handler. */
static int arm(struct sigaction *old) {
  for (int sig = SIGRTMAX - 3; sig >= SIGRTMIN + 2; sig--) {
    if (sigaction(sig, NULL, old) != 0 || (old->sa_flags & SA_SIGINFO) ||
        old->sa_handler != SIG_DFL)
      continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0)
      return sig;
  }
  return -1;
}

/* The handler off: signals still pending are discarded (SIG_IGN), the
 * handlers inside finish, the old disposition comes back. */
static void disarm(int sig, const struct sigaction *old) {
  __atomic_store_n(&stk.gen, 0, __ATOMIC_SEQ_CST);
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(sig, &ign, NULL);
  while (__atomic_load_n(&stk.inflight, __ATOMIC_SEQ_CST)) /* (a handler copying: µs) */
    sched_yield();
  sigaction(sig, old, NULL);
}

/* Signals every thread that may take it; waits up to ANSWER_MS for them. */
static void signal_all(thr *t, int n, int sig) {
  siginfo_t si;
  for (int i = 0; i < n; i++) {
    if (t[i].tracer || t[i].blocked)
      continue;
    memset(&si, 0, sizeof si);
    si.si_signo = sig;
    si.si_code = SI_QUEUE;
    si.si_pid = stk.pid;
    si.si_uid = getuid();
    si.si_value.sival_ptr = (void *)(uintptr_t)((uint64_t)stk.gen << 32 | (uint32_t)i);
    t[i].sent = syscall(SYS_rt_tgsigqueueinfo, stk.pid, t[i].tid, sig, &si) == 0;
    if (!t[i].sent)
      t[i].note = errno == ESRCH ? "exited" : "the signal could not be sent";
  }
  uint64_t until = ctrace__mono_ns() + ANSWER_MS * 1000000ull;
  for (;;) {
    int waiting = 0;
    for (int i = 0; i < n && !waiting; i++)
      waiting = t[i].sent && !__atomic_load_n(&stk.slots[i].done, __ATOMIC_ACQUIRE);
    if (!waiting || ctrace__mono_ns() >= until)
      break;
    struct timespec ts = {0, 50000};
    nanosleep(&ts, NULL);
  }
}

/* A thread without an answer, blocked in a system call: rsp and rip from
 * /proc (its other registers unknown), the stack copied from here. */
static void from_proc(thr *t, stk_slot *s) {
  unsigned long long v[9];
  long nr;
  if (sscanf(t->syscall, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &v[0], &v[1], &v[2],
             &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
    return;
  memset(s->regs, 0, sizeof s->regs);
  s->regs[REG_SP] = v[6];
  s->regs[NREGS - 1] = v[7];
  s->len = ctrace__copy_own_stack(stk.pid, s->stack, v[6], stk.cap);
  t->how = 'p';
}

/* Registers and stacks of every thread that answers, by signal sig (-1:
 * none free). @return 0, or -1 with why. */
static int capture(thr *t, int n, int sig, const struct sigaction *old, uint64_t *window_ns,
                   char *why, size_t whylen) {
  uint32_t cap = STK_TOTAL / (uint32_t)(n ? n : 1);
  cap = cap > STK_MAX ? STK_MAX : cap < STK_MIN ? STK_MIN : cap & ~4095u;
  size_t bytes = (size_t)n * (sizeof(stk_slot) + cap);
  bytes = bytes ? bytes : 1;
  void *area = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) {
    snprintf(why, whylen, "mmap of %zu bytes: %s", bytes, strerror(errno));
    return -1;
  }
  stk.slots = area;
  stk.bytes = bytes;
  stk.n = (size_t)n;
  stk.cap = cap;
  for (int i = 0; i < n; i++) {
    stk.slots[i].tid = t[i].tid;
    stk.slots[i].stack = (unsigned char *)area + (size_t)n * sizeof(stk_slot) + (size_t)i * cap;
  }
  uint64_t t0 = ctrace__mono_ns();
  if (sig > 0) {
    stk.last_gen = stk.last_gen % 0x7fffffff + 1;
    __atomic_store_n(&stk.gen, stk.last_gen, __ATOMIC_SEQ_CST);
    signal_all(t, n, sig);
    disarm(sig, old);
  }
  *window_ns = ctrace__mono_ns() - t0;
  for (int i = 0; i < n; i++) {
    if (t[i].tracer) {
      t[i].note = "the tracer's own thread";
    } else if (__atomic_load_n(&stk.slots[i].done, __ATOMIC_ACQUIRE)) {
      t[i].how = 's';
    } else {
      if (!t[i].note)
        t[i].note = sig < 0        ? "no free real-time signal to interrupt it with"
                    : t[i].blocked ? "it blocks the signal"
                                   : "it did not answer within 200 ms (stopped?)";
      if (t[i].syscall[0] >= '0' && t[i].syscall[0] <= '9')
        from_proc(&t[i], &stk.slots[i]);
    }
  }
  return 0;
}

/* ---- The reply ----------------------------------------------------------------------------- */

typedef struct out {
  char *b;
  size_t n, cap;
  int failed;
} out;

static void put(out *o, const void *p, size_t n) {
  if (o->failed)
    return;
  if (vh_reserve((void **)&o->b, &o->cap, o->n + n + 1, 1)) {
    o->failed = 1;
    return;
  }
  memcpy(o->b + o->n, p, n);
  o->n += n;
}

static void putf(out *o, const char *fmt, ...) CTRACE__PRINTF(2, 3);
static void putf(out *o, const char *fmt, ...) {
  char b[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > 0)
    put(o, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

/* The code mappings (executable, with a file or [vdso]) of /proc/self/maps. */
static void put_maps(out *o) {
  FILE *f = fopen("/proc/self/maps", "re");
  if (!f)
    return;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    unsigned long long start, end, off;
    char perms[8];
    int pos = -1;
    if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %*u %n", &start, &end, perms, &off, &pos) < 4 ||
        pos < 0 || strlen(perms) < 3 || perms[2] != 'x')
      continue;
    char *name = line + pos;
    name[strcspn(name, "\n")] = '\0';
    if (name[0] && (name[0] == '/' || !strcmp(name, "[vdso]")))
      putf(o, "map %llx %llx %llx %s\n", start, end, off, name);
  }
  free(line);
  fclose(f);
}

static void put_thread(out *o, const thr *t, const stk_slot *s) {
  putf(o, "thread %d\nname %s\nstate %c\n", t->tid, t->name, t->state);
  if (t->tracer)
    putf(o, "tracer 1\n");
  if (t->syscall[0])
    putf(o, "syscall %s\n", t->syscall);
  if (t->wchan[0])
    putf(o, "wchan %s\n", t->wchan);
  if (t->wait_kind)
    putf(o, "wait %u %llx %llu %d\n", t->wait_kind, (unsigned long long)t->wait_obj,
         (unsigned long long)t->wait_since, t->holder);
  if (t->note)
    putf(o, "note %s\n", t->note);
  if (!t->how)
    return;
  if (t->how == 's')
    putf(o, "paused_ns %llu\n", (unsigned long long)(s->t_out - s->t_in));
  putf(o, "regs %s", t->how == 's' ? "signal" : "proc");
  for (int i = 0; i < NREGS; i++)
    putf(o, " %llx", (unsigned long long)s->regs[i]);
  putf(o, "\nstack %u\n", s->len);
  put(o, s->stack, s->len);
  put(o, "\n", 1);
}

/* All of o to fd, within SEND_MS. */
static void send_all(int fd, const out *o) {
  uint64_t until = ctrace__mono_ns() + SEND_MS * 1000000ull;
  size_t off = 0;
  while (off < o->n) {
    ssize_t w = send(fd, o->b + off, o->n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR)
      continue;
    uint64_t now = ctrace__mono_ns();
    if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || now >= until)
      return;
    struct pollfd pf = {fd, POLLOUT, 0};
    poll(&pf, 1, (int)((until - now) / 1000000u) + 1);
  }
}

static void reply_error(int fd, const char *why) {
  out o = {0};
  putf(&o, "error: stacks: %s\n", why);
  send_all(fd, &o);
  free(o.b);
}

void ctrace__stacks_serve(int fd) {
#if !defined(__x86_64__)
  reply_error(fd, "thread stacks are taken on x86-64 only");
#else
  char why[256];
  stk.pid = (int)getpid();
  struct sigaction old;
  int sig = arm(&old);
  thr *t = NULL;
  int n = list_threads(&t, sig);
  if (n < 0) {
    if (sig > 0)
      disarm(sig, &old);
    snprintf(why, sizeof why, "/proc/self/task: %s", strerror(-n));
    reply_error(fd, why);
    return;
  }
  uint64_t window = 0;
  if (capture(t, n, sig, &old, &window, why, sizeof why) != 0) {
    if (sig > 0)
      disarm(sig, &old);
    free(t);
    reply_error(fd, why);
    return;
  }
  read_waits(t, n);
  uint64_t max = 0, total = 0;
  for (int i = 0; i < n; i++)
    if (t[i].how == 's') {
      uint64_t d = stk.slots[i].t_out - stk.slots[i].t_in;
      total += d;
      max = d > max ? d : max;
    }
  out o = {0};
  putf(&o,
       "ok stacks pid=%d threads=%d signal=%d window_ns=%llu paused_max_ns=%llu "
       "paused_total_ns=%llu\n",
       stk.pid, n, sig, (unsigned long long)window, (unsigned long long)max,
       (unsigned long long)total);
  put_maps(&o);
  for (int i = 0; i < n; i++)
    put_thread(&o, &t[i], &stk.slots[i]);
  putf(&o, "end\n");
  if (o.failed) {
    free(o.b);
    reply_error(fd, "out of memory");
  } else {
    send_all(fd, &o);
    free(o.b);
  }
  munmap(stk.slots, stk.bytes);
  stk.slots = NULL;
  stk.n = 0;
  free(t);
#endif
}
