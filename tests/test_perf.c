/* Kernel events through perf_event_open (tracer/perf.c): context switches
 * with the right kinds and CLOCK_MONOTONIC times, exact syscall counts and
 * arguments, messages when the kernel refuses, records of children
 * filtered out, bounded pending memory.
 *
 * Tests that need the syscall tracepoints (root) say "skipped" otherwise.
 * They are timed to survive TSan and a 2-CPU VM: sleeps are 20 ms, spins
 * are measured in wall time, and the drains run concurrently with the
 * threads under test, as the writer thread would. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "test.h"

#define MS 1000000ull

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* Everything the drains delivered, checked on the way: time order across
 * calls, and below `limit` when set. */
typedef struct kbuf {
  ctrace__kevent *ev;
  size_t n, cap;
  uint64_t last_ns;
  uint64_t limit; /* 0: none */
  uint64_t lost;
} kbuf;

static void kbuf_emit(void *arg, const ctrace__kevent *e) {
  kbuf *b = arg;
  if (e->ns < b->last_ns)
    TEST_FAIL("out of order: %" PRIu64 " after %" PRIu64 " (kind %d)", e->ns, b->last_ns, e->kind);
  if (b->limit && e->ns >= b->limit)
    TEST_FAIL("delivered %" PRIu64 " >= watermark %" PRIu64, e->ns, b->limit);
  b->last_ns = e->ns;
  if (e->kind == CTRACE__K_LOST)
    b->lost += e->lost;
  if (b->n == b->cap) {
    b->cap = b->cap ? 2 * b->cap : 4096;
    b->ev = realloc(b->ev, b->cap * sizeof *b->ev);
    ASSERT(b->ev);
  }
  b->ev[b->n++] = *e;
}

/* Drains every 10 ms, 5 ms behind the clock, until *done; then once more
 * for everything. */
static void collect_until(ctrace__perf *p, kbuf *b, atomic_int *done) {
  while (!atomic_load(done)) {
    size_t before = b->n;
    ASSERT_EQ(ctrace__perf_drain(p, now_ns() - 5 * MS, kbuf_emit, b), b->n - before);
    sleep_ms(10);
  }
}

static void collect_rest(ctrace__perf *p, kbuf *b) {
  sleep_ms(10);
  size_t before = b->n;
  ASSERT_EQ(ctrace__perf_drain(p, UINT64_MAX, kbuf_emit, b), b->n - before);
  ASSERT_UEQ(b->lost, 0);
}

static int is_root(const char *test) {
  if (geteuid() == 0)
    return 1;
  fprintf(stderr, "%s: skipped (the syscall tracepoints need root)\n", test);
  return 0;
}

static ctrace__perf *open_or_fail(unsigned want) {
  unsigned got = 0;
  char why[512];
  ctrace__perf *p = ctrace__perf_open(want, &got, why, sizeof why);
  if (!p || got != want)
    TEST_FAIL("ctrace__perf_open(%u): got %u: %s", want, got, why);
  return p;
}

/* ---- perf_switches ----------------------------------------------------------- */

#define SLEEPS 5

typedef struct sleeper {
  atomic_int done;
  int tid;
  uint64_t before[SLEEPS], after[SLEEPS];
} sleeper;

static void *sleeper_main(void *arg) {
  sleeper *s = arg;
  s->tid = gettid();
  for (int i = 0; i < SLEEPS; i++) {
    s->before[i] = now_ns();
    struct timespec ts = {0, 20 * (long)MS};
    nanosleep(&ts, NULL);
    s->after[i] = now_ns();
  }
  atomic_store(&s->done, 1);
  return NULL;
}

typedef struct spinner {
  int cpu;
  pthread_barrier_t *start;
  int tid;
  uint64_t pinned_ns;
} spinner;

static void *spinner_main(void *arg) {
  spinner *s = arg;
  s->tid = gettid();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(s->cpu, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
  s->pinned_ns = now_ns(); /* from here on, every record is on s->cpu */
  pthread_barrier_wait(s->start);
  uint64_t end = now_ns() + 200 * MS;
  while (now_ns() < end)
    ;
  return NULL;
}

TEST_IMPL(perf_switches) {
  ctrace__perf *p = open_or_fail(CTRACE__PERF_SCHED);
  kbuf b = {0};

  /* A thread that sleeps 5 x 20 ms, drained while it runs. */
  sleeper s;
  memset(&s, 0, sizeof s);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, sleeper_main, &s), 0);
  collect_until(p, &b, &s.done);
  pthread_join(t, NULL);

  /* Two threads spinning 200 ms on one CPU: they must preempt each other. */
  cpu_set_t mine;
  ASSERT_EQ(sched_getaffinity(0, sizeof mine, &mine), 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &mine))
    cpu++;
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, 2);
  spinner sp[2] = {{cpu, &start, 0, 0}, {cpu, &start, 0, 0}};
  pthread_t st[2];
  for (int i = 0; i < 2; i++)
    ASSERT_EQ(pthread_create(&st[i], NULL, spinner_main, &sp[i]), 0);
  for (int i = 0; i < 2; i++)
    pthread_join(st[i], NULL);
  pthread_barrier_destroy(&start);
  collect_rest(p, &b);

  /* The sleeper, strictly alternating in/out. Each sleep, as the thread
   * timed it with clock_gettime(CLOCK_MONOTONIC), holds exactly one
   * blocking switch-out followed by a switch-in >= 20 ms later, and the
   * thread was off the CPU for all of that window but its few
   * microseconds of work (2 ms allowed). The window, not a fixed 22 ms,
   * bounds the gap: wake-up latency is the machine's, not ours (the test
   * must pass while other tests load the 2 CPUs). */
  int pid = getpid(), last_kind = 0, exits = 0;
  int blocking[SLEEPS] = {0};
  uint64_t out_ns = 0, off[SLEEPS] = {0}, gaps[SLEEPS] = {0}, off_total = 0, windows = 0;
  for (size_t i = 0; i < b.n; i++) {
    const ctrace__kevent *e = &b.ev[i];
    ASSERT_EQ(e->pid, pid);
    if (e->tid != s.tid)
      continue;
    ASSERT_EQ(exits, 0); /* the exit record is the thread's last */
    if (e->kind == CTRACE__K_EXIT) {
      exits++;
      continue;
    }
    ASSERT(e->kind == CTRACE__K_SWITCH_IN || e->kind == CTRACE__K_SWITCH_OUT ||
           e->kind == CTRACE__K_SWITCH_OUT_PREEMPT);
    int in = e->kind == CTRACE__K_SWITCH_IN;
    if (last_kind)
      ASSERT_NE(in, last_kind == CTRACE__K_SWITCH_IN);
    if (in && out_ns) {
      for (int k = 0; k < SLEEPS; k++) {
        if (out_ns < s.before[k] || e->ns > s.after[k])
          continue;
        off[k] += e->ns - out_ns;
        if (last_kind == CTRACE__K_SWITCH_OUT && e->ns - out_ns >= 10 * MS) {
          blocking[k]++;
          gaps[k] = e->ns - out_ns;
        }
      }
    }
    if (!in)
      out_ns = e->ns;
    last_kind = e->kind;
  }
  ASSERT_EQ(exits, 1); /* it was joined before the drain */
  for (int k = 0; k < SLEEPS; k++) {
    uint64_t window = s.after[k] - s.before[k];
    ASSERT_EQ(blocking[k], 1);
    ASSERT_UGE(gaps[k], 19 * MS + 500000);
    ASSERT_UGE(gaps[k] + 2 * MS, window);
    ASSERT_UGE(off[k] + 2 * MS, window);
    ASSERT_ULE(off[k], window);
    off_total += off[k];
    windows += window;
  }
  ASSERT_UGE(off_total, 100 * MS);
  ASSERT_UGE(off_total + 2 * MS, windows);

  /* The spinners: preempted (still runnable) several times each, always
   * on their CPU once pinned. */
  for (int k = 0; k < 2; k++) {
    int preempted = 0, ins = 0;
    for (size_t i = 0; i < b.n; i++) {
      const ctrace__kevent *e = &b.ev[i];
      if (e->tid != sp[k].tid || e->ns <= sp[k].pinned_ns)
        continue;
      ASSERT_EQ(e->cpu, cpu);
      preempted += e->kind == CTRACE__K_SWITCH_OUT_PREEMPT;
      ins += e->kind == CTRACE__K_SWITCH_IN;
    }
    ASSERT_GE(preempted, 3);
    ASSERT_GE(ins, preempted);
  }
  ctrace__perf_close(p);
  free(b.ev);
  return 0;
}

/* ---- perf_syscalls ----------------------------------------------------------- */

#define WRITES 1000
#define GETPIDS 37

typedef struct writer {
  atomic_int done;
  int fd, tid;
  uint64_t t0, t1;
  char buf[256];
} writer;

static size_t write_size(int i) { return 1 + (size_t)(i * 7) % 200; }

static void *writer_main(void *arg) {
  writer *w = arg;
  w->tid = gettid();
  w->t0 = now_ns();
  for (int i = 0; i < WRITES; i++) {
    ASSERT_EQ(write(w->fd, w->buf, write_size(i)), write_size(i));
    if (i % 27 == 0 && i / 27 < GETPIDS)
      syscall(SYS_getpid);
  }
  w->t1 = now_ns();
  atomic_store(&w->done, 1);
  return NULL;
}

TEST_IMPL(perf_syscalls) {
  if (!is_root("perf_syscalls"))
    return 0;
  ctrace__perf *p = open_or_fail(CTRACE__PERF_SYSCALLS);
  kbuf b = {0};
  writer w;
  memset(&w, 0, sizeof w);
  w.fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(w.fd, 0);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, writer_main, &w), 0);
  collect_until(p, &b, &w.done);
  pthread_join(t, NULL);

  /* The watermark holds back what is newer: 10 getppid() after t_cut stay
   * pending until the next drain. */
  sleep_ms(5);
  uint64_t cut = now_ns();
  for (int i = 0; i < 10; i++)
    syscall(SYS_getppid);
  b.limit = cut;
  ctrace__perf_drain(p, cut, kbuf_emit, &b);
  b.limit = 0;
  size_t after_cut = b.n;
  collect_rest(p, &b);
  int main_tid = gettid(), getppids = 0;
  for (size_t i = after_cut; i < b.n; i++)
    getppids +=
        b.ev[i].tid == main_tid && b.ev[i].kind == CTRACE__K_SYS_ENTER && b.ev[i].nr == SYS_getppid;
  ASSERT_EQ(getppids, 10);

  /* The writer's calls: enter/exit pairs with the same number (its first
   * record may be the exit of clone, its last the enter of exit). */
  int pid = getpid(), writes = 0, write_exits = 0, getpids = 0, getpid_exits = 0, any_write = 0;
  int in_call = 0, first = 1;
  const ctrace__kevent *enter = NULL;
  for (size_t i = 0; i < b.n; i++) {
    const ctrace__kevent *e = &b.ev[i];
    ASSERT_EQ(e->pid, pid);
    if (e->tid != w.tid)
      continue;
    if (e->kind == CTRACE__K_SYS_ENTER) {
      ASSERT(!in_call);
      in_call = 1;
      enter = e;
      if (e->nr == SYS_write) {
        any_write++;
        if (e->args[0] == (uint64_t)w.fd && e->args[1] == (uint64_t)(uintptr_t)w.buf) {
          ASSERT(e->ns > w.t0 && e->ns < w.t1);
          writes++;
        }
      }
      getpids += e->nr == SYS_getpid;
    } else {
      ASSERT_EQ(e->kind, CTRACE__K_SYS_EXIT);
      if (!in_call) {
        ASSERT(first);
      } else {
        ASSERT_EQ(e->nr, enter->nr);
        ASSERT(e->ns >= enter->ns);
        if (e->nr == SYS_write && enter->args[0] == (uint64_t)w.fd) {
          ASSERT_EQ(e->ret, write_size(write_exits));
          write_exits++;
        }
        if (e->nr == SYS_getpid) {
          ASSERT_EQ(e->ret, pid);
          getpid_exits++;
        }
      }
      in_call = 0;
    }
    first = 0;
  }
  ASSERT_EQ(writes, WRITES);
  ASSERT_EQ(any_write, WRITES);
  ASSERT_EQ(write_exits, WRITES);
  ASSERT_EQ(getpids, GETPIDS);
  ASSERT_EQ(getpid_exits, GETPIDS);
  close(w.fd);
  ctrace__perf_close(p);
  free(b.ev);
  return 0;
}

/* ---- perf_unprivileged_message ----------------------------------------------- */

static void unprivileged_child(void) {
  /* As nobody: context switches work with exclude_kernel (paranoid <= 2),
   * the tracepoints are refused with a message that says why. */
  ASSERT_EQ(setgroups(0, NULL), 0);
  ASSERT_EQ(setresgid(65534, 65534, 65534), 0);
  ASSERT_EQ(setresuid(65534, 65534, 65534), 0);
  char para[16] = "?";
  FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
  if (f) {
    if (!fgets(para, sizeof para, f))
      strcpy(para, "?");
    fclose(f);
  }
  unsigned got = 99;
  char why[512];
  ctrace__perf *p =
      ctrace__perf_open(CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS, &got, why, sizeof why);
  if (atoi(para) >= 3) {
    ASSERT(!p);
    ASSERT_EQ(got, 0);
    ASSERT_CONTAINS(why, "context switches: perf_event_open: Permission denied");
    _exit(0);
  }
  ASSERT(p);
  ASSERT_EQ(got, CTRACE__PERF_SCHED);
  ASSERT_STR_EQ(why, "complete syscalls: needs root (perf_event_open on tracepoints)");
  sleep_ms(20);
  kbuf b = {0};
  ctrace__perf_drain(p, UINT64_MAX, kbuf_emit, &b);
  int tid = gettid(), outs = 0, ins = 0;
  for (size_t i = 0; i < b.n; i++) {
    outs += b.ev[i].tid == tid && b.ev[i].kind == CTRACE__K_SWITCH_OUT;
    ins += b.ev[i].tid == tid && b.ev[i].kind == CTRACE__K_SWITCH_IN;
  }
  ASSERT_GE(outs, 1);
  ASSERT_GE(ins, 1);
  ctrace__perf_close(p);
  free(b.ev);
  _exit(0);
}

TEST_IMPL(perf_unprivileged_message) {
  char why[512], para[16] = "?";
  unsigned got = 99;
  FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "r");
  ASSERT(f);
  ASSERT(fgets(para, sizeof para, f));
  fclose(f);
  para[strcspn(para, "\n")] = '\0';

  /* Nothing asked, nothing opened. */
  ASSERT(!ctrace__perf_open(0, &got, why, sizeof why));
  ASSERT_EQ(got, 0);

  /* The test hook: perf_event_open fails with EACCES, as it does for an
   * unprivileged user with kernel.perf_event_paranoid = 3. */
  setenv("CTRACE__TEST_PERF_FAIL", "1", 1);
  got = 99;
  ctrace__perf *p =
      ctrace__perf_open(CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS, &got, why, sizeof why);
  ASSERT(!p);
  ASSERT_EQ(got, 0);
  char want[256];
  snprintf(want, sizeof want,
           "context switches: perf_event_open: Permission denied (kernel.perf_event_paranoid = "
           "%s; run as root or lower it)",
           para);
  ASSERT_CONTAINS(why, want);
  if (geteuid() == 0)
    ASSERT_CONTAINS(why, "; complete syscalls: perf_event_open(raw_syscalls:sys_enter): "
                         "Permission denied");
  else
    ASSERT_CONTAINS(why, "; complete syscalls: needs root");
  /* A short buffer is cut, terminated; NULL got and why are accepted. */
  char small[20];
  memset(small, 'x', sizeof small);
  ASSERT(!ctrace__perf_open(CTRACE__PERF_SCHED, &got, small, sizeof small));
  ASSERT_EQ(strlen(small), sizeof small - 1);
  ASSERT(!memcmp(small, "context switches: ", 18));
  ASSERT(!ctrace__perf_open(CTRACE__PERF_SCHED, NULL, NULL, 0));
  unsetenv("CTRACE__TEST_PERF_FAIL");

  /* For real, as an unprivileged user. */
  if (geteuid() != 0) {
    fprintf(stderr, "perf_unprivileged_message: the setuid part is skipped (not root)\n");
    return 0;
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    unprivileged_child();
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  return 0;
}

/* ---- perf_filter ------------------------------------------------------------- */

/* A child makes syscalls and sleeps; the parent's drain must show none of
 * it. Twice: as the kernel does it (inherit_thread: the child has no
 * events), then with the children inheriting the events (the test hook,
 * as on kernels before 5.13), where the drain's pid filter drops them. */
static void filter_once(int inherit_all) {
  int root = geteuid() == 0;
  if (inherit_all)
    setenv("CTRACE__TEST_PERF_INHERIT_ALL", "1", 1);
  ctrace__perf *p = open_or_fail(CTRACE__PERF_SCHED | (root ? CTRACE__PERF_SYSCALLS : 0));
  unsetenv("CTRACE__TEST_PERF_INHERIT_ALL");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    for (int i = 0; i < 200; i++)
      syscall(SYS_getppid);
    for (int i = 0; i < 3; i++)
      sleep_ms(5);
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 0; i < 50; i++)
    syscall(SYS_getppid);
  kbuf b = {0};
  collect_rest(p, &b);
  int pid = getpid(), tid = gettid(), getppids = 0, outs = 0;
  for (size_t i = 0; i < b.n; i++) {
    const ctrace__kevent *e = &b.ev[i];
    ASSERT_EQ(e->pid, pid);
    ASSERT_NE(e->tid, child);
    getppids += e->tid == tid && e->kind == CTRACE__K_SYS_ENTER && e->nr == SYS_getppid;
    outs += e->tid == tid && e->kind == CTRACE__K_SWITCH_OUT;
  }
  ASSERT_EQ(getppids, root ? 50 : 0);
  ASSERT_GE(outs, 1); /* waitpid blocked */
  ctrace__perf_close(p);
  free(b.ev);
}

TEST_IMPL(perf_filter) {
  filter_once(0);
  filter_once(1);
  return 0;
}

/* ---- perf_pending_cap -------------------------------------------------------- */

TEST_IMPL(perf_pending_cap) {
  if (!is_root("perf_pending_cap"))
    return 0;
  /* With room for 64 pending records, a drain whose watermark keeps
   * everything still delivers all but the newest 64, oldest first. */
  setenv("CTRACE__TEST_PERF_PENDING_MAX", "64", 1);
  ctrace__perf *p = open_or_fail(CTRACE__PERF_SYSCALLS);
  unsetenv("CTRACE__TEST_PERF_PENDING_MAX");
  for (int i = 0; i < 500; i++)
    syscall(SYS_getppid);
  kbuf b = {0};
  size_t d1 = ctrace__perf_drain(p, 0, kbuf_emit, &b);
  ASSERT_EQ(d1, b.n);
  ASSERT_GE(d1, 2 * 500 - 64);
  size_t d2 = ctrace__perf_drain(p, UINT64_MAX, kbuf_emit, &b); /* order checked across */
  ASSERT_GE(d2, 64);
  ASSERT_UEQ(b.lost, 0);
  int tid = gettid(), enters = 0, exits = 0;
  for (size_t i = 0; i < b.n; i++) {
    enters +=
        b.ev[i].tid == tid && b.ev[i].kind == CTRACE__K_SYS_ENTER && b.ev[i].nr == SYS_getppid;
    exits += b.ev[i].tid == tid && b.ev[i].kind == CTRACE__K_SYS_EXIT && b.ev[i].nr == SYS_getppid;
  }
  ASSERT_EQ(enters, 500);
  ASSERT_EQ(exits, 500);
  ctrace__perf_close(p);
  free(b.ev);
  return 0;
}

/* ---- perf_ring_wrap ---------------------------------------------------------- */

/* More syscall records than a ring holds, read as they come: the rings
 * wrap (sys_enter records are 104 bytes, so some straddle the end of the
 * data area: their arguments are checked) and nothing is lost. The thread makes its calls in batches
 * and waits for a drain after each, so no ring can overflow. */
#define WRAP_BATCH 2000
#define WRAP_BATCHES 15
#define WRAP_ARG0 0x123456789abcdef0ul
#define WRAP_ARG1 0xfedcba9800000000ul

typedef struct wrapper {
  atomic_int done;
  atomic_int drains;
  int tid;
} wrapper;

static void *wrapper_main(void *arg) {
  wrapper *w = arg;
  w->tid = gettid();
  for (int k = 0; k < WRAP_BATCHES; k++) {
    int seen = atomic_load(&w->drains);
    for (int i = 0; i < WRAP_BATCH; i++) /* the kernel records 6 registers as args */
      syscall(SYS_getppid, WRAP_ARG0, WRAP_ARG1 + (unsigned)i);
    while (atomic_load(&w->drains) < seen + 2) /* a drain began after the batch */
      sleep_ms(1);
  }
  atomic_store(&w->done, 1);
  return NULL;
}

TEST_IMPL(perf_ring_wrap) {
  if (!is_root("perf_ring_wrap"))
    return 0;
  ctrace__perf *p = open_or_fail(CTRACE__PERF_SYSCALLS);
  kbuf b = {0};
  wrapper w;
  memset(&w, 0, sizeof w);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, NULL, wrapper_main, &w), 0);
  while (!atomic_load(&w.done)) {
    ctrace__perf_drain(p, now_ns() - 5 * MS, kbuf_emit, &b);
    atomic_fetch_add(&w.drains, 1);
    sleep_ms(2);
  }
  pthread_join(t, NULL);
  collect_rest(p, &b);
  int enters = 0, exits = 0;
  for (size_t i = 0; i < b.n; i++) {
    const ctrace__kevent *e = &b.ev[i];
    if (e->tid != w.tid || e->nr != SYS_getppid)
      continue;
    if (e->kind == CTRACE__K_SYS_ENTER) {
      ASSERT_UEQ(e->args[0], WRAP_ARG0);
      ASSERT_UEQ(e->args[1], WRAP_ARG1 + (unsigned)(enters % WRAP_BATCH));
      enters++;
    }
    if (e->kind == CTRACE__K_SYS_EXIT) {
      ASSERT_EQ(e->ret, getppid());
      exits++;
    }
  }
  ASSERT_EQ(enters, WRAP_BATCH * WRAP_BATCHES);
  ASSERT_EQ(exits, WRAP_BATCH * WRAP_BATCHES);
  ctrace__perf_close(p);
  free(b.ev);
  return 0;
}

/* ---- perf_open_pid ----------------------------------------------------------- */

/* The launcher's way: events opened on a child that waits, then runs;
 * the drain shows the child and what it forks, never the caller. */
TEST_IMPL(perf_open_pid) {
  int root = geteuid() == 0;
  int go[2], report[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(report), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char c;
    close(go[1]);
    close(report[0]);
    if (read(go[0], &c, 1) != 1) /* blocks: the events get opened meanwhile */
      _exit(2);
    for (int i = 0; i < 100; i++)
      syscall(SYS_getppid);
    pid_t g = fork();
    if (g == 0) {
      for (int i = 0; i < 50; i++)
        syscall(SYS_getppid);
      _exit(0);
    }
    if (g < 0 || waitpid(g, NULL, 0) != g || write(report[1], &g, sizeof g) != sizeof g)
      _exit(3);
    _exit(0);
  }
  close(go[0]);
  close(report[1]);
  unsigned want = CTRACE__PERF_SCHED | (root ? CTRACE__PERF_SYSCALLS : 0), got = 0;
  char why[512];
  ctrace__perf *p = ctrace__perf_open_pid(child, want, &got, why, sizeof why);
  if (!p || got != want)
    TEST_FAIL("ctrace__perf_open_pid: got %u: %s", got, why);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  pid_t grandchild = 0;
  ASSERT_EQ(read(report[0], &grandchild, sizeof grandchild), sizeof grandchild);
  int status;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 0; i < 20; i++) /* ours: must not show */
    syscall(SYS_getppid);
  kbuf b = {0};
  collect_rest(p, &b);
  int child_calls = 0, grandchild_calls = 0, child_switches = 0;
  for (size_t i = 0; i < b.n; i++) {
    const ctrace__kevent *e = &b.ev[i];
    ASSERT(e->pid == child || e->pid == grandchild);
    int call = e->kind == CTRACE__K_SYS_ENTER && e->nr == SYS_getppid;
    child_calls += call && e->pid == child && e->tid == child;
    grandchild_calls += call && e->pid == grandchild;
    child_switches += e->pid == child && e->kind <= CTRACE__K_SWITCH_OUT_PREEMPT;
  }
  ASSERT_EQ(child_calls, root ? 100 : 0);
  ASSERT_EQ(grandchild_calls, root ? 50 : 0);
  ASSERT_GE(child_switches, 2); /* woken by our write, blocked in waitpid */
  /* A process that does not exist. */
  got = 99;
  ASSERT(!ctrace__perf_open_pid(child, want, &got, why, sizeof why));
  ASSERT_EQ(got, 0);
  ASSERT_CONTAINS(why, "No such process");
  ctrace__perf_close(p);
  free(b.ev);
  close(go[1]);
  close(report[0]);
  return 0;
}
