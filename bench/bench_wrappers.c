/* What an interposed call costs, in a program that knows nothing of ctrace
 * (not linked with it): bench/run_overhead.sh runs it plainly, under a
 * do-nothing forwarding shim (bench/forward_shim.c) and under `ctrace run`.
 *
 *   bench_wrappers [-p PAIRS]
 *
 * For each call it alternates a block of calls through the name the program
 * links (write, pthread_mutex_lock...: the wrapper, when one is preloaded)
 * with a block of the same calls through libc's own function (found with
 * dlsym in libc.so.6), PAIRS times, and prints one line per call:
 *
 *   call=NAME libc_ns=X added_ns=D
 *
 * X is the median time of a libc call, D the median over the pairs of the
 * per-call difference between the two blocks. Blocks next to each other in
 * time share the machine's state (frequency, neighbours, a VM's exits), so
 * the difference stays meaningful where a system call alone varies by
 * +-50 ns from block to block; run plainly, D is the noise floor (~0).
 *
 *   write      write(2) of 1 byte to /dev/null
 *   read0      read(2) of 0 bytes from /dev/zero
 *   mutex      pthread_mutex_lock + unlock, uncontended (one pair per call)
 *   malloc     malloc(64) + free (one pair per call)
 *   write_tsc  (x86) libc's write between two TSC reads against libc's write
 *              alone: what timing a system call costs here at the least,
 *              whoever does it */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* libc's own functions, past any preloaded wrapper. */
static ssize_t (*libc_write)(int, const void *, size_t);
static ssize_t (*libc_read)(int, void *, size_t);
static int (*libc_lock)(pthread_mutex_t *);
static int (*libc_unlock)(pthread_mutex_t *);
static void *(*libc_malloc)(size_t);
static void (*libc_free)(void *);

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int null_fd, zero_fd;
static void *volatile keep;
static volatile uint64_t tsc_sink;
static char byte = 'x';

/* One block of each call, as linked (wrapped) or through libc (direct). */
static void write_wrapped(int n) {
  for (int i = 0; i < n; i++)
    if (write(null_fd, &byte, 1) != 1)
      abort();
}
static void write_direct(int n) {
  for (int i = 0; i < n; i++)
    if (libc_write(null_fd, &byte, 1) != 1)
      abort();
}
static void read_wrapped(int n) {
  for (int i = 0; i < n; i++)
    if (read(zero_fd, &byte, 0) != 0)
      abort();
}
static void read_direct(int n) {
  for (int i = 0; i < n; i++)
    if (libc_read(zero_fd, &byte, 0) != 0)
      abort();
}
static void mutex_wrapped(int n) {
  for (int i = 0; i < n; i++) {
    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
  }
}
static void mutex_direct(int n) {
  for (int i = 0; i < n; i++) {
    libc_lock(&mu);
    libc_unlock(&mu);
  }
}
static void malloc_wrapped(int n) {
  for (int i = 0; i < n; i++) {
    keep = malloc(64);
    free(keep);
  }
}
static void malloc_direct(int n) {
  for (int i = 0; i < n; i++) {
    keep = libc_malloc(64);
    libc_free(keep);
  }
}
#if defined(__x86_64__) || defined(__i386__)
static void write_timed(int n) {
  for (int i = 0; i < n; i++) {
    uint64_t t0 = __rdtsc();
    if (libc_write(null_fd, &byte, 1) != 1)
      abort();
    tsc_sink = __rdtsc() - t0;
  }
}
#endif

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Alternates `pairs` blocks of `block` calls of each; prints the medians. */
static void measure(const char *name, void (*wrapped)(int), void (*direct)(int), int pairs,
                    int block) {
  double *base = malloc((size_t)pairs * sizeof *base), *diff = malloc((size_t)pairs * sizeof *diff);
  if (!base || !diff)
    abort();
  wrapped(block); /* warm up: wrappers resolved, caches and allocator warm */
  direct(block);
  for (int p = 0; p < pairs; p++) {
    uint64_t t0 = now_ns();
    direct(block);
    uint64_t t1 = now_ns();
    wrapped(block);
    uint64_t t2 = now_ns();
    base[p] = (double)(t1 - t0) / block;
    diff[p] = ((double)(t2 - t1) - (double)(t1 - t0)) / block;
  }
  qsort(base, (size_t)pairs, sizeof *base, by_value);
  qsort(diff, (size_t)pairs, sizeof *diff, by_value);
  printf("call=%s libc_ns=%.2f added_ns=%.2f\n", name, base[pairs / 2], diff[pairs / 2]);
  free(base);
  free(diff);
}

static void *libc_fn(void *libc, const char *name) {
  void *f = dlsym(libc, name);
  if (!f) {
    fprintf(stderr, "bench_wrappers: libc.so.6 has no %s\n", name);
    exit(1);
  }
  return f;
}

int main(int argc, char **argv) {
  int pairs = 2000;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-p") && i + 1 < argc) {
      pairs = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_wrappers [-p PAIRS]\n");
      return 2;
    }
  }
  if (pairs < 10) {
    fprintf(stderr, "bench_wrappers: -p must be at least 10\n");
    return 2;
  }
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (!libc) {
    fprintf(stderr, "bench_wrappers: %s\n", dlerror());
    return 1;
  }
  libc_write = (ssize_t(*)(int, const void *, size_t))libc_fn(libc, "write");
  libc_read = (ssize_t(*)(int, void *, size_t))libc_fn(libc, "read");
  libc_lock = (int (*)(pthread_mutex_t *))libc_fn(libc, "pthread_mutex_lock");
  libc_unlock = (int (*)(pthread_mutex_t *))libc_fn(libc, "pthread_mutex_unlock");
  libc_malloc = (void *(*)(size_t))libc_fn(libc, "malloc");
  libc_free = (void (*)(void *))libc_fn(libc, "free");
  null_fd = open("/dev/null", O_WRONLY);
  zero_fd = open("/dev/zero", O_RDONLY);
  if (null_fd < 0 || zero_fd < 0) {
    perror("bench_wrappers: open");
    return 1;
  }
  measure("write", write_wrapped, write_direct, pairs, 200);
  measure("read0", read_wrapped, read_direct, pairs, 200);
  measure("mutex", mutex_wrapped, mutex_direct, pairs, 4000);
  measure("malloc", malloc_wrapped, malloc_direct, pairs, 4000);
#if defined(__x86_64__) || defined(__i386__)
  measure("write_tsc", write_timed, write_direct, pairs, 200);
#endif
  return 0;
}
