/* A long-running program for `ctrace view --pid` (tests/test_view_pid.c):
 * CPU time in a known function, lock contention and condition-variable
 * waits, and a counter it publishes, all at once.
 *
 * pprof_target SECONDS: for SECONDS of wall time,
 *   - thread "burn" runs burn_loop -> pprof_hot (all its CPU time);
 *   - threads "lock-1" and "lock-2" take one mutex in turn, each keeping it
 *     ~2 ms, so that the other waits for it (mutex contention);
 *   - thread "cond" waits on a condition variable that main signals every
 *     20 ms (blocking that is not a lock);
 *   - main prints "tick N" every 20 ms (the counter: it must keep growing
 *     while the view profiles the program), and each tick cache_grow
 *     allocates 256 KiB into a ring of 16 blocks, freeing the oldest (the
 *     heap profile: 4 MiB in use, 12.8 MB allocated a second).
 * First it prints "ready PID" once every thread runs. Built -O2 -g without
 * sanitizers (like cpu_threads.c): it is what is sampled; the control
 * socket of the preload records it. Built WITH_CTRACE (pprof_target_lib,
 * for sanitizer builds) it links libctrace, whose control socket records
 * it, and marks each tick and each time a lock is held with a region (the
 * wrappers' events are not there then). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef WITH_CTRACE
#include <ctrace/ctrace.h>
#else
#define CTRACE_REGION_BEGIN(name) ((void)0)
#define CTRACE_REGION_END() ((void)0)
#endif

#if defined(__clang__)
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

static volatile uint64_t sink;
static double deadline;
static atomic_int started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static uint64_t signals; /* (guarded by cmu) */

KEEP uint64_t pprof_hot(uint64_t x);
KEEP void *burn_loop(void *arg);
KEEP void cache_grow(void);

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(double ms) {
  struct timespec ts = {(time_t)(ms / 1000),
                        (long)((ms - 1000 * (double)(time_t)(ms / 1000)) * 1e6)};
  nanosleep(&ts, NULL);
}

KEEP uint64_t pprof_hot(uint64_t x) {
  for (long i = 0; i < 20000; i++)
    x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  return x;
}

KEEP void *burn_loop(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "burn");
  atomic_fetch_add(&started, 1);
  uint64_t x = 1;
  while (now_s() < deadline) {
    x = pprof_hot(x);
    sink = x;
  }
  return NULL;
}

KEEP void cache_grow(void) {
  static char *ring[16];
  static unsigned next;
  free(ring[next % 16]);
  ring[next % 16] = malloc(256 << 10);
  if (ring[next % 16])
    ring[next % 16][0] = (char)next;
  next++;
}

static void *locker(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "lock-%d", (int)(intptr_t)arg);
  pthread_setname_np(pthread_self(), name);
  atomic_fetch_add(&started, 1);
  while (now_s() < deadline) {
    pthread_mutex_lock(&lock);
    CTRACE_REGION_BEGIN("hold");
    sleep_ms(2);
    CTRACE_REGION_END();
    pthread_mutex_unlock(&lock);
    sleep_ms(0.2);
  }
  return NULL;
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "cond");
  atomic_fetch_add(&started, 1);
  pthread_mutex_lock(&cmu);
  uint64_t seen = signals;
  while (now_s() < deadline) {
    while (signals == seen && now_s() < deadline) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&cv, &cmu, &ts);
    }
    seen = signals;
  }
  pthread_mutex_unlock(&cmu);
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  deadline = now_s() + seconds;
  pthread_t t[4];
  pthread_create(&t[0], NULL, burn_loop, NULL);
  pthread_create(&t[1], NULL, locker, (void *)(intptr_t)1);
  pthread_create(&t[2], NULL, locker, (void *)(intptr_t)2);
  pthread_create(&t[3], NULL, waiter, NULL);
  while (atomic_load(&started) < 4)
    sleep_ms(1);
  printf("ready %d\n", (int)getpid());
  fflush(stdout);
  for (uint64_t n = 1; now_s() < deadline; n++) {
    CTRACE_REGION_BEGIN("tick");
    sleep_ms(20);
    CTRACE_REGION_END();
    pthread_mutex_lock(&cmu);
    signals++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cmu);
    cache_grow();
    printf("tick %llu\n", (unsigned long long)n);
    fflush(stdout);
  }
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  return 0;
}
