/* Several threads burning CPU in known functions, for `ctrace record --pid
 * PID --cpu-hz N` (tests/test_cpu_record.c): a process that runs already,
 * with threads started before ctrace attaches to it.
 *
 * cpu_threads SECONDS [BURNERS]: BURNERS threads (default 3: main and
 * burners named "burn-1", "burn-2"...) run burner -> outer -> middle ->
 * hot_a (7 units of work of every 10) and -> hot_b (3 units) until SECONDS
 * of wall time have passed, and a thread "idle" sleeps meanwhile. Once
 * every thread runs it prints "ready PID burners=TID,TID,... idle=TID".
 * Built -O2 -g without frame pointers and without sanitizers, like
 * cpu_burn.c; it never calls libctrace (the control socket of the preload
 * or of a linked libctrace records it). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__clang__)
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

#define UNIT 2000 /* iterations of a unit of work (~2-3 us) */
#define MAX_BURNERS 16

static volatile uint64_t sink;
static double deadline;
static atomic_int started;
static int tids[MAX_BURNERS + 1];

KEEP uint64_t hot_a(uint64_t x, int units);
KEEP uint64_t hot_b(uint64_t x, int units);
KEEP uint64_t middle(uint64_t x);
KEEP uint64_t outer(uint64_t x, int rounds);
KEEP void *burner(void *arg);

KEEP uint64_t hot_a(uint64_t x, int units) {
  for (long i = 0; i < (long)units * UNIT; i++)
    x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  return x;
}

KEEP uint64_t hot_b(uint64_t x, int units) {
  for (long i = 0; i < (long)units * UNIT; i++)
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  return x;
}

KEEP uint64_t middle(uint64_t x) {
  x = hot_a(x, 7);
  sink = x; /* after each call: neither is a tail call */
  x = hot_b(x ^ sink, 3);
  sink = x;
  return x + 1;
}

KEEP uint64_t outer(uint64_t x, int rounds) {
  for (int r = 0; r < rounds; r++)
    x = middle(x + (uint64_t)r);
  sink = x;
  return x * 3;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

KEEP void *burner(void *arg) {
  int i = (int)(intptr_t)arg;
  tids[i] = (int)syscall(SYS_gettid);
  atomic_fetch_add(&started, 1);
  uint64_t x = (uint64_t)tids[i];
  while (now_s() < deadline)
    x = outer(x, 10);
  sink = x;
  return NULL;
}

static void *idle(void *arg) {
  tids[MAX_BURNERS] = (int)syscall(SYS_gettid);
  atomic_fetch_add(&started, 1);
  while (now_s() < deadline) {
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
  }
  (void)arg;
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 5;
  int n = argc > 2 ? atoi(argv[2]) : 3;
  if (n < 1 || n > MAX_BURNERS)
    return 2;
  deadline = now_s() + seconds;
  pthread_t th[MAX_BURNERS + 1];
  for (int i = 1; i < n; i++) {
    char name[16];
    snprintf(name, sizeof name, "burn-%d", i);
    if (pthread_create(&th[i], NULL, burner, (void *)(intptr_t)i) != 0)
      return 1;
    pthread_setname_np(th[i], name);
  }
  if (pthread_create(&th[0], NULL, idle, NULL) != 0)
    return 1;
  pthread_setname_np(th[0], "idle");
  tids[0] = (int)syscall(SYS_gettid);
  while (atomic_load(&started) < n) /* (n - 1 burners and idle) */
    sched_yield();
  char line[512];
  int len = snprintf(line, sizeof line, "ready %d burners=", (int)getpid());
  for (int i = 0; i < n; i++)
    len += snprintf(line + len, sizeof line - (size_t)len, "%s%d", i ? "," : "", tids[i]);
  len += snprintf(line + len, sizeof line - (size_t)len, " idle=%d\n", tids[MAX_BURNERS]);
  if (write(1, line, (size_t)len) != len)
    return 1;
  burner((void *)(intptr_t)0);
  for (int i = 1; i < n; i++)
    pthread_join(th[i], NULL);
  pthread_join(th[0], NULL);
  return 0;
}
