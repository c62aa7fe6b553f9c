/* The session clock (tracer/runtime/clock.c): whatever clock a session
 * chooses, every event's time, mapped by the reader to CLOCK_MONOTONIC,
 * lies within 1 us of CLOCK_MONOTONIC read beside it, on threads that
 * migrate between CPUs for several seconds; and the trace says which clock
 * was chosen and why. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

#define SLACK_NS 1000 /* the goal: within 1 us */

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static atomic_int stop;

/* CLOCK_MONOTONIC before and after an event, as two counters whose values
 * are those readings: the first counter's event happened between them.
 * Every 2000 pairs the thread moves to another CPU. */
static void *bracket(void *arg) {
  int id = (int)(intptr_t)arg, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  char name[16];
  snprintf(name, sizeof name, "bracket-%d", id);
  ctrace_thread_set_name(name);
  for (long i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
    uint64_t before = mono();
    CTRACE_COUNTER("before", (int64_t)before);
    CTRACE_COUNTER("after", (int64_t)mono());
    if (i % 2000 == 0 && ncpu > 1) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET((int)((i / 2000 + id) % ncpu), &one);
      sched_setaffinity(0, sizeof one, &one); /* (a CPU that is offline: stays put) */
      sched_yield();
    }
  }
  return NULL;
}

/* Records `seconds` of bracketed events on `nthreads` threads with the
 * clock the session chooses (clock_env: $CTRACE_CLOCK, or NULL), then checks
 * every event. @return the events checked. */
static size_t check_clock(const char *path, const char *clock_env, int nthreads, double seconds,
                          int want_tsc) {
  if (clock_env)
    setenv("CTRACE_CLOCK", clock_env, 1);
  else
    unsetenv("CTRACE_CLOCK");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  ASSERT_EQ(ctrace_start(&o), 0);
  unsetenv("CTRACE_CLOCK");
  atomic_store(&stop, 0);
  pthread_t th[16];
  for (int i = 0; i < nthreads; i++)
    ASSERT_EQ(pthread_create(&th[i], NULL, bracket, (void *)(intptr_t)i), 0);
  struct timespec d = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&d, NULL);
  atomic_store(&stop, 1);
  for (int i = 0; i < nthreads; i++)
    pthread_join(th[i], NULL);
  ASSERT_EQ(ctrace_stop(), 0);

  ttrace *t = tt_load(path);
  const char *why = rd_clock_why(t->tr);
  fprintf(stderr, "%s: clock %s (%s), %zu sync points\n", clock_env ? clock_env : "auto",
          rd_clock_kind(t->tr) == CTRACE_FMT_CLOCK_TSC ? "tsc" : "monotonic", why ? why : "?",
          rd_clock_points(t->tr));
  ASSERT(why != NULL);
  if (want_tsc >= 0)
    ASSERT_EQ(rd_clock_kind(t->tr) == CTRACE_FMT_CLOCK_TSC, want_tsc);
  size_t checked = 0;
  int64_t worst_early = 0, worst_late = 0;
  for (size_t k = 0; k < t->nth; k++) {
    tthread *h = &t->th[k];
    for (size_t i = 0; i + 1 < h->n; i++) {
      const tev *a = &h->ev[i], *b = &h->ev[i + 1];
      if (a->type != CTRACE_FMT_EV_COUNTER || b->type != CTRACE_FMT_EV_COUNTER ||
          strcmp(tt_site_name(t, a->arg[0]), "before") ||
          strcmp(tt_site_name(t, b->arg[0]), "after"))
        continue;
      int64_t lo = ctrace_fmt_unzigzag(a->arg[1]), hi = ctrace_fmt_unzigzag(b->arg[1]);
      /* the first event happened between the two readings (the second
       * counter's own time comes after its value was read: not bracketed) */
      for (const tev *e = a; e < b; e++) {
        int64_t early = lo - (int64_t)e->ts, late = (int64_t)e->ts - hi;
        if (early > worst_early)
          worst_early = early;
        if (late > worst_late)
          worst_late = late;
        if (early > SLACK_NS || late > SLACK_NS) {
          for (size_t q = i >= 4 ? i - 4 : 0; q < i + 6 && q < h->n; q++)
            fprintf(stderr, "  %zu: type %u tick %" PRIu64 " ts %" PRIu64 " value %" PRId64 "\n", q,
                    h->ev[q].type, h->ev[q].tick, h->ev[q].ts,
                    ctrace_fmt_unzigzag(h->ev[q].arg[1]));
          TEST_FAIL("%s: thread %s: event %zu at %" PRIu64 " ns, CLOCK_MONOTONIC read %" PRId64
                    " before it and %" PRId64 " after: %" PRId64 " ns outside (> %d)",
                    clock_env ? clock_env : "auto", h->name, i, e->ts, lo, hi,
                    early > late ? early : late, SLACK_NS);
        }
      }
      checked++;
      i++;
    }
  }
  fprintf(stderr,
          "  %zu pairs on %d migrating threads; worst: %" PRId64 " ns early, %" PRId64
          " ns late (the read itself included)\n",
          checked, nthreads, worst_early, worst_late);
  tt_free(t);
  ASSERT_GT(checked, 10000);
  return checked;
}

TEST_IMPL(clock_tracks_monotonic) {
  int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  int threads = ncpu + 1 < 16 ? ncpu + 1 : 16;
  /* The session's own choice (on a VM whose kernel uses kvm-clock: the TSC,
   * checked at start), then each clock forced. */
  check_clock(test_tmp_path("clock-auto.ctrace"), NULL, threads, 3.0, -1);
  check_clock(test_tmp_path("clock-mono.ctrace"), "monotonic", threads, 1.0, 0);
  check_clock(test_tmp_path("clock-tsc.ctrace"), "tsc", threads, 1.0, -1);
  return 0;
}

/* The clock a session started in a child process chooses with
 * CTRACE__TEST_TSC_SKEW_NS=plant (the check runs once per process), into
 * why; @return its kind. */
static int clock_with_skew(const char *path, const char *plant, char *why, size_t n) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("CTRACE__TEST_TSC_SKEW_NS", plant, 1);
    unsetenv("CTRACE_CLOCK");
    ctrace_options o = CTRACE_OPTIONS_INIT;
    o.path = path;
    if (ctrace_start(&o) != 0)
      _exit(3);
    CTRACE_INSTANT("one");
    _exit(ctrace_stop() == 0 ? 0 : 4);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ttrace *t = tt_load(path);
  const char *said = rd_clock_why(t->tr);
  ASSERT(said != NULL);
  snprintf(why, n, "%s", said);
  int kind = rd_clock_kind(t->tr);
  size_t instants = 0;
  for (size_t i = 0; i < t->nmerged; i++)
    instants += t->merged[i].type == CTRACE_FMT_EV_INSTANT;
  ASSERT_EQ(instants, 1);
  tt_free(t);
  fprintf(stderr, "planted %s ns: %s\n", plant, why);
  return kind;
}

/* A TSC off CLOCK_MONOTONIC on one CPU by more than 1 us (planted: added to
 * what the check measures) makes the automatic choice fall back to
 * CLOCK_MONOTONIC, and the trace says why; a skew under it keeps the TSC. */
TEST_IMPL(clock_skew_falls_back) {
  char why[256], src[64] = "";
  FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
  if (f) {
    if (fgets(src, sizeof src, f))
      src[strcspn(src, "\n")] = '\0';
    fclose(f);
  }
  int kind = clock_with_skew(test_tmp_path("skew-small.ctrace"), "100", why, sizeof why);
  if (strstr(why, "not invariant") || !strcmp(src, "tsc")) {
    /* No check here: the CPU has no invariant TSC, or the kernel runs on it. */
    fprintf(stderr, "SKIP: the TSC is not checked here (clocksource %s)\n", src);
    return 0;
  }
  ASSERT_EQ(kind, CTRACE_FMT_CLOCK_TSC);
  ASSERT(strstr(why, "CPUs checked") || strstr(why, "CPU checked"));
  kind = clock_with_skew(test_tmp_path("skew-big.ctrace"), "5000", why, sizeof why);
  ASSERT_EQ(kind, CTRACE_FMT_CLOCK_MONOTONIC);
  ASSERT(strncmp(why, "monotonic: the TSC is invariant but the TSC of CPU ", 51) == 0);
  ASSERT(strstr(why, "off CLOCK_MONOTONIC (over 1.0 us)") != NULL);
  return 0;
}
