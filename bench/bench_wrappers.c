/* The cost of calls that the `ctrace run` wrappers see, in a program that
 * knows nothing of ctrace (not linked with it): bench/run_overhead.sh runs
 * it plainly and under `ctrace run` and takes the difference.
 *
 *   bench_wrappers [-n CALLS] [--idle-thread]
 *
 * --idle-thread starts a thread that only sleeps, as the tracer's writer
 * does most of the time: the kernel treats the file table of a process
 * with more than one thread differently (fd lookups take a reference), so
 * this separates the cost of being multi-threaded from the wrappers'.
 *
 * Prints one line per call, "call=NAME ns=X", X the best of 5 passes of
 * CALLS calls each (the best pass is the one least disturbed by the rest
 * of the machine):
 *   write   write(2) of 1 byte to /dev/null (returns at once)
 *   mutex   pthread_mutex_lock + unlock, uncontended (one pair per call)
 *   malloc  malloc(64) + free (one pair per call)
 *   read0   read(2) of 0 bytes from /dev/zero
 *   write_tsc  write as above with a TSC read just before and just after
 *           (x86 only): the least that timing a system call costs here,
 *           whoever does it */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int null_fd, zero_fd;
static void *volatile keep;

static void *idle(void *arg) {
  (void)arg;
  for (;;)
    pause();
  return NULL;
}

static void do_write(long n) {
  char c = 'x';
  for (long i = 0; i < n; i++)
    if (write(null_fd, &c, 1) != 1)
      abort();
}

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static volatile uint64_t tsc_sink;
static void do_write_tsc(long n) {
  char c = 'x';
  for (long i = 0; i < n; i++) {
    uint64_t t0 = __rdtsc();
    if (write(null_fd, &c, 1) != 1)
      abort();
    tsc_sink = __rdtsc() - t0;
  }
}
#define WRITE_TSC {"write_tsc", do_write_tsc},
#else
#define WRITE_TSC
#endif

static void do_read0(long n) {
  char c;
  for (long i = 0; i < n; i++)
    if (read(zero_fd, &c, 0) != 0)
      abort();
}

static void do_mutex(long n) {
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
  }
}

static void do_malloc(long n) {
  for (long i = 0; i < n; i++) {
    void *p = malloc(64);
    keep = p;
    free(p);
  }
}

static double best_ns(void (*fn)(long), long n) {
  double best = 1e30;
  fn(n / 10); /* warm up: wrappers resolved, caches and allocator warm */
  for (int pass = 0; pass < 5; pass++) {
    uint64_t t0 = now_ns();
    fn(n);
    double ns = (double)(now_ns() - t0) / (double)n;
    if (ns < best)
      best = ns;
  }
  return best;
}

int main(int argc, char **argv) {
  long n = 2000000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      n = strtol(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--idle-thread")) {
      pthread_t t;
      if (pthread_create(&t, NULL, idle, NULL) != 0) {
        fprintf(stderr, "bench_wrappers: cannot start a thread\n");
        return 1;
      }
    } else {
      fprintf(stderr, "usage: bench_wrappers [-n CALLS] [--idle-thread]\n");
      return 2;
    }
  }
  if (n < 10) {
    fprintf(stderr, "bench_wrappers: -n must be at least 10\n");
    return 2;
  }
  null_fd = open("/dev/null", O_WRONLY);
  zero_fd = open("/dev/zero", O_RDONLY);
  if (null_fd < 0 || zero_fd < 0) {
    perror("bench_wrappers: open");
    return 1;
  }
  static const struct {
    const char *name;
    void (*fn)(long);
  } calls[] = {{"write", do_write},
               WRITE_TSC{"read0", do_read0},
               {"mutex", do_mutex},
               {"malloc", do_malloc}};
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
    printf("call=%s ns=%.2f\n", calls[i].name, best_ns(calls[i].fn, n));
  return 0;
}
