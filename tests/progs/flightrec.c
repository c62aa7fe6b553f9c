/* The flight recorder's test program (tests/test_flight.c), run with
 * CTRACE_MODE=flight:
 *
 *   flightrec dump SECONDS PATH    records for SECONDS, then ctrace_flight_dump(PATH)
 *   flightrec signal SECONDS       records for SECONDS (the test sends SIGUSR2)
 *   flightrec segv SECONDS         records, then writes through a bad pointer
 *   flightrec abort SECONDS        records, then abort()
 *   flightrec overflow SECONDS     records, then overflows its stack
 *   flightrec many SECONDS PATH    records as fast as it can, 2 threads, then dumps
 *   flightrec thread-segv SECONDS  a second thread records and crashes
 *   flightrec fork-segv SECONDS    a forked child records and crashes (`child=PID`)
 *
 * Every ~1 ms (`many`: always) it records a "tick" region with a "seq"
 * counter numbering the iterations, so a dump shows whether anything is
 * missing in the middle. It prints, on stdout, flushed, `ready`, then
 * `dump_ns=N` (CLOCK_MONOTONIC at the dump call) or `crash_ns=N` (just
 * after the "crash marker" instant, just before crashing), and for dumps
 * the recorder's figures (`stats ...`). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ctrace/ctrace.h>

#include "internal.h" /* ctrace__flight_stats_get */

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record_for(double seconds, long pause_ns) {
  static __thread int64_t i; /* (numbers every iteration of the thread's life) */
  uint64_t end = mono() + (uint64_t)(seconds * 1e9);
  struct timespec pause = {0, pause_ns};
  for (; mono() < end; i++) {
    CTRACE_SCOPE("tick");
    CTRACE_COUNTER("seq", i);
    if (pause_ns)
      nanosleep(&pause, NULL);
  }
}

static void print_stats(void) {
  ctrace__flight_stats st;
  int r = ctrace__flight_stats_get(&st);
  printf("stats r=%d window_ms=%llu cap=%llu defs=%llu ring=%llu records=%llu peak=%llu "
         "alloc=%llu evicted=%llu dumps=%llu\n",
         r, (unsigned long long)st.window_ms, (unsigned long long)st.cap_bytes,
         (unsigned long long)st.defs_bytes, (unsigned long long)st.ring_bytes,
         (unsigned long long)st.ring_records, (unsigned long long)st.peak_bytes,
         (unsigned long long)st.ring_alloc, (unsigned long long)st.evicted_records,
         (unsigned long long)st.dumps);
}

/* Unmapped, and not NULL (UBSan would stop a null store itself). */
static volatile int *volatile nowhere = (volatile int *)16;

static void crash_marker(void) {
  CTRACE_INSTANT("crash marker");
  printf("crash_ns=%llu\n", (unsigned long long)mono());
  fflush(stdout);
}

static volatile int forever = 1;

static int deep(int n) { /* never returns: the stack overflows */
  volatile char pad[4096];
  pad[0] = (char)n;
  if (forever)
    return deep(n + 1) + pad[0];
  return pad[0];
}

static void *fast(void *arg) {
  record_for(*(double *)arg, 0);
  return NULL;
}

static void *crasher(void *arg) {
  ctrace_thread_set_name("crasher");
  record_for(*(double *)arg, 1000000);
  crash_marker();
  *nowhere = 1;
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: flightrec MODE SECONDS [PATH]\n");
    return 2;
  }
  const char *mode = argv[1];
  double seconds = atof(argv[2]);
  printf("ready\n");
  fflush(stdout);
  if (!strcmp(mode, "dump") || !strcmp(mode, "many")) {
    if (argc < 4)
      return 2;
    if (!strcmp(mode, "many")) {
      pthread_t t;
      pthread_create(&t, NULL, fast, &seconds);
      record_for(seconds, 0);
      pthread_join(t, NULL);
    } else {
      record_for(seconds, 1000000);
    }
    uint64_t at = mono();
    int r = ctrace_flight_dump(argv[3]);
    uint64_t took = mono() - at;
    printf("dump_ns=%llu dump_r=%d took_ns=%llu\n", (unsigned long long)at, r,
           (unsigned long long)took);
    print_stats();
    /* Recording goes on after a dump, and a second one works. */
    record_for(0.05, 1000000);
    char second[4200];
    snprintf(second, sizeof second, "%s.second", argv[3]);
    printf("second_r=%d\n", ctrace_flight_dump(second));
    return r ? 1 : 0;
  }
  if (!strcmp(mode, "signal")) {
    record_for(seconds, 1000000);
    print_stats();
    return 0;
  }
  if (!strcmp(mode, "fork-segv")) {
    record_for(0.2, 1000000);
    pid_t pid = fork();
    if (pid == 0) {
      record_for(seconds, 1000000);
      crash_marker();
      *nowhere = 1;
      _exit(3);
    }
    printf("child=%d\n", (int)pid);
    fflush(stdout);
    int st;
    waitpid(pid, &st, 0);
    printf("child_status=%d\n", WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
    return 0;
  }
  if (!strcmp(mode, "thread-segv")) {
    pthread_t t;
    pthread_create(&t, NULL, crasher, &seconds);
    record_for(seconds + 5, 1000000); /* (the crash ends it) */
    return 3;
  }
  record_for(seconds, 1000000);
  crash_marker();
  if (!strcmp(mode, "segv"))
    *nowhere = 1;
  else if (!strcmp(mode, "abort"))
    abort();
  else if (!strcmp(mode, "overflow"))
    return deep(0);
  return 3; /* unknown mode, or survived the crash */
}
