/* Concurrency: 4 threads recording hard at once (run it under TSan), and
 * threads that come and go while the writer works. Nothing may be lost or
 * reordered within a thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

#define STRESS_THREADS 4
#define STRESS_ROUNDS 200000 /* per thread; 4 events each */

static void *stress_main(void *arg) {
  int id = (int)(intptr_t)arg;
  char name[16];
  snprintf(name, sizeof name, "stress-%d", id);
  ctrace_thread_set_name(name);
  for (int i = 0; i < STRESS_ROUNDS; i++) {
    CTRACE_REGION_BEGIN("round");
    CTRACE_COUNTER("seq", (int64_t)id * 1000000000 + i);
    if (i % 1000 == 0) {
      char dyn[16];
      snprintf(dyn, sizeof dyn, "k%d", i % 7000);
      ctrace_region_begin_dyn(dyn); /* interning from 4 threads at once */
      ctrace_region_end();
    }
    ctrace_flow_begin((uint64_t)id << 32 | (uint64_t)i);
    CTRACE_REGION_END();
  }
  return NULL;
}

static void *churn_main(void *arg) {
  int i = (int)(intptr_t)arg;
  CTRACE_REGION_BEGIN("short-lived");
  CTRACE_COUNTER("churn", i);
  CTRACE_REGION_END();
  return NULL;
}

TEST_IMPL(stress_threads) {
  const char *path = test_tmp_path("stress.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  o.buffer_mb = 256; /* TSan slows the writer down; this test is not about drops */
  ASSERT_EQ(ctrace_start(&o), 0);
  pthread_t workers[STRESS_THREADS];
  for (int i = 0; i < STRESS_THREADS; i++)
    pthread_create(&workers[i], NULL, stress_main, (void *)(intptr_t)i);
  /* Meanwhile: 200 threads that record three events and exit, 8 at a time. */
  for (int i = 0; i < 200; i += 8) {
    pthread_t c[8];
    for (int j = 0; j < 8; j++)
      pthread_create(&c[j], NULL, churn_main, (void *)(intptr_t)(i + j));
    for (int j = 0; j < 8; j++)
      pthread_join(c[j], NULL);
  }
  ASSERT_EQ(ctrace_flush(), 0); /* a flush while threads record */
  for (int i = 0; i < STRESS_THREADS; i++)
    pthread_join(workers[i], NULL);
  ASSERT_EQ(ctrace_stop(), 0);
  ASSERT_UEQ(ctrace_dropped_events(), 0);

  ttrace *t = tt_load(path);
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(t->stream_errors, 0);
  int churned = 0;
  int64_t churn_sum = 0;
  for (size_t i = 0; i < t->nth; i++) {
    tthread *th = &t->th[i];
    if (!strncmp(th->name, "stress-", 7)) {
      int id = atoi(th->name + 7);
      ASSERT_EQ(th->n, 1 + (size_t)STRESS_ROUNDS * 4 + 2 * (STRESS_ROUNDS / 1000));
      size_t k = 1;
      for (int r = 0; r < STRESS_ROUNDS; r++) {
        ASSERT_EQ(th->ev[k].type, CTRACE_FMT_EV_REGION_BEGIN);
        ASSERT_EQ(th->ev[k + 1].type, CTRACE_FMT_EV_COUNTER);
        ASSERT_EQ(ctrace_fmt_unzigzag(th->ev[k + 1].arg[1]), (int64_t)id * 1000000000 + r);
        k += 2;
        if (r % 1000 == 0) {
          ASSERT_EQ(th->ev[k].type, CTRACE_FMT_EV_REGION_BEGIN_STR);
          char dyn[16];
          snprintf(dyn, sizeof dyn, "k%d", r % 7000);
          ASSERT_STR_EQ(rd_string(t->tr, th->ev[k].arg[0], NULL), dyn);
          k += 2;
        }
        ASSERT_EQ(th->ev[k].type, CTRACE_FMT_EV_FLOW_BEGIN);
        ASSERT_UEQ(th->ev[k].arg[0], (uint64_t)id << 32 | (uint64_t)r);
        ASSERT_EQ(th->ev[k + 1].type, CTRACE_FMT_EV_REGION_END);
        k += 2;
        ASSERT_UGE(th->ev[k - 1].ts, th->ev[k - 4].ts);
      }
    } else if (th->n == 3 && th->ev[1].type == CTRACE_FMT_EV_COUNTER) {
      ASSERT_STR_EQ(tt_site_name(t, th->ev[1].arg[0]), "churn");
      ASSERT(th->info->ended);
      churn_sum += ctrace_fmt_unzigzag(th->ev[1].arg[1]);
      churned++;
    }
  }
  ASSERT_EQ(churned, 200);
  ASSERT_EQ(churn_sum, 199 * 200 / 2); /* each of 0..199 exactly once */
  tt_free(t);
  return 0;
}

/* Signal handlers that record while the thread is in the middle of an
 * event: the interrupted stream stays intact, and every handler event is
 * either recorded or counted as dropped. */
static volatile sig_atomic_t handled;
static void on_signal(int sig) {
  (void)sig;
  int saved = errno;
  CTRACE_INSTANT("in handler");
  handled++;
  errno = saved;
}

static _Atomic int target_done;
static void *sig_target(void *arg) {
  (void)arg;
  ctrace_thread_set_name("signalled");
  for (int i = 0; i < 2000000; i++) {
    CTRACE_REGION_BEGIN("busy");
    CTRACE_COUNTER("k", i);
    CTRACE_REGION_END();
  }
  target_done = 1;
  return NULL;
}

/* cpu_hz: the session also samples the process at that rate (SIGPROF
 * timers, stress_signals_sigprof). */
static void signals_run(const char *path, unsigned cpu_hz) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  o.buffer_mb = 256;
  o.cpu_hz = cpu_hz;
  ASSERT_EQ(ctrace_start(&o), 0);
  pthread_t th;
  pthread_create(&th, NULL, sig_target, NULL);
  int sent = 0;
  while (!target_done) {
    if (pthread_kill(th, SIGUSR1) == 0)
      sent++;
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
  }
  pthread_join(th, NULL);
  int r = ctrace_stop();
  ASSERT(r == 0 || r == CTRACE_ELOST);
  ttrace *t = tt_load(path);
  ASSERT_EQ(t->stream_errors, 0);
  tthread *tt = tt_thread(t, "signalled");
  ASSERT(tt != NULL);
  /* A signal that lands after the thread's exit destructor records under a
   * fresh state (same tid): count handler events on every thread. */
  size_t in_handler = 0, busy = 0, counters = 0;
  for (size_t i = 0; i < t->nth; i++)
    if (&t->th[i] != tt)
      in_handler += tt_count(&t->th[i], CTRACE_FMT_EV_INSTANT);
  int64_t next = 0;
  for (size_t k = 0; k < tt->n; k++) {
    const tev *e = &tt->ev[k];
    if (e->type == CTRACE_FMT_EV_INSTANT)
      in_handler++;
    else if (e->type == CTRACE_FMT_EV_REGION_BEGIN)
      busy++;
    else if (e->type == CTRACE_FMT_EV_COUNTER) {
      ASSERT_EQ(ctrace_fmt_unzigzag(e->arg[1]), next); /* none lost, none garbled */
      next++;
      counters++;
    }
  }
  ASSERT_EQ(busy, 2000000);
  ASSERT_EQ(counters, 2000000);
  printf("%d signals sent, %d handled, %zu recorded in the handler, %" PRIu64 " dropped\n", sent,
         (int)handled, in_handler, ctrace_dropped_events());
  ASSERT_GT(handled, 100);
  ASSERT_UEQ(in_handler + ctrace_dropped_events(), (uint64_t)handled);
  ASSERT_ULE(tt->info->dropped, ctrace_dropped_events());
  tt_free(t);
}

TEST_IMPL(stress_signals) {
  signals_run(test_tmp_path("signals.ctrace"), 0);
  return 0;
}

/* The same while the process samples itself by SIGPROF timers at their
 * highest rate (perf refused by the test hook): a SIGPROF landing anywhere,
 * in the middle of an event or of the SIGUSR1 handler's, changes nothing
 * of the stream, and the signalled thread has its samples. */
TEST_IMPL(stress_signals_sigprof) {
  const char *path = test_tmp_path("signals_prof.ctrace");
  setenv("CTRACE__TEST_PERF_FAIL", "1", 1);
  signals_run(path, 10000);
  unsetenv("CTRACE__TEST_PERF_FAIL");
  char kernel[1100], top[1400];
  snprintf(kernel, sizeof kernel, "%s.kernel", path);
  ttrace *k = tt_load(kernel);
  ASSERT(rd_complete(k->tr));
  ASSERT_EQ(k->stream_errors, 0);
  size_t samples = 0;
  for (size_t i = 0; i < k->nth; i++)
    samples += tt_count(&k->th[i], CTRACE_FMT_EV_K_SAMPLE);
  tt_free(k);
  printf("%zu CPU samples\n", samples);
  ASSERT_GT(samples, 100);
#if defined(__SANITIZE_THREAD__)
  return 0; /* (TSan defers signals: the stacks copied are not the registers') */
#endif
  snprintf(top, sizeof top, "%s top %s --thread signalled -n 0", test_ctrace_bin, path);
  char *argv[] = {"/bin/sh", "-c", top, NULL};
  test_proc p = test_run(argv, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "sig_target");
  test_proc_free(&p);
  return 0;
}
