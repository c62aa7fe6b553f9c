/* An allocation-heavy loop for bench/heap.sh: what heap profiling costs a
 * program that was never built with ctrace (not linked with it), run
 * plainly and under `ctrace run --heap-rate R`.
 *
 *   bench_heap [-t THREADS] [-n PAIRS] [-b BLOCKS] [-s BYTES]
 *
 * Each of THREADS threads (default 1) does PAIRS (default 10000000)
 * malloc(BYTES)+free pairs (default 64 bytes), in BLOCKS blocks (default
 * 50) timed one by one after a warm-up block, all threads starting
 * together. Prints one line:
 *
 *   threads=T bytes=S pairs=N ns_per_pair=X min_ns_per_pair=Y
 *
 * X is the median over every thread's blocks of the thread CPU time per
 * pair (a block the machine slowed down does not move it), Y the fastest
 * block. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long pairs = 10000000, blocks = 50;
static size_t bytes = 64;
static double *block_ns; /* threads x blocks */
static pthread_barrier_t start;

/* The thread's CPU time: a block is not charged for the time the thread
 * waited for a CPU (the machine is shared). */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void loop(long n) {
  void *volatile keep; /* the pair is not optimised away */
  for (long i = 0; i < n; i++) {
    keep = malloc(bytes);
    free(keep);
  }
}

static void *worker(void *arg) {
  double *out = arg;
  long per = pairs / blocks;
  loop(per); /* warm-up: wrappers resolved, allocator's caches filled */
  pthread_barrier_wait(&start);
  for (long b = 0; b < blocks; b++) {
    uint64_t t0 = now_ns();
    loop(per);
    out[b] = (double)(now_ns() - t0) / (double)per;
  }
  return NULL;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static long arg_long(const char *opt, const char *s, long min) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < min) {
    fprintf(stderr, "bench_heap: %s %s: expected a number >= %ld\n", opt, s, min);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  long threads = 1;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) {
      fprintf(stderr, "usage: bench_heap [-t THREADS] [-n PAIRS] [-b BLOCKS] [-s BYTES]\n");
      return 2;
    }
    const char *opt = argv[i], *v = argv[++i];
    if (!strcmp(opt, "-t"))
      threads = arg_long(opt, v, 1);
    else if (!strcmp(opt, "-n"))
      pairs = arg_long(opt, v, 1);
    else if (!strcmp(opt, "-b"))
      blocks = arg_long(opt, v, 1);
    else if (!strcmp(opt, "-s"))
      bytes = (size_t)arg_long(opt, v, 1);
    else {
      fprintf(stderr, "bench_heap: unknown option %s\n", opt);
      return 2;
    }
  }
  if (pairs < blocks) {
    fprintf(stderr, "bench_heap: -n %ld is less than -b %ld (a pair per block at least)\n", pairs,
            blocks);
    return 2;
  }
  block_ns = calloc((size_t)(threads * blocks), sizeof *block_ns);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  if (!block_ns || !tid || pthread_barrier_init(&start, NULL, (unsigned)threads)) {
    fprintf(stderr, "bench_heap: out of memory\n");
    return 1;
  }
  for (long t = 0; t < threads; t++)
    if (pthread_create(&tid[t], NULL, worker, block_ns + t * blocks)) {
      fprintf(stderr, "bench_heap: pthread_create failed\n");
      return 1;
    }
  for (long t = 0; t < threads; t++)
    pthread_join(tid[t], NULL);
  size_t n = (size_t)(threads * blocks);
  qsort(block_ns, n, sizeof *block_ns, by_value);
  printf("threads=%ld bytes=%zu pairs=%ld ns_per_pair=%.3f min_ns_per_pair=%.3f\n", threads, bytes,
         pairs / blocks * blocks,
         n % 2 ? block_ns[n / 2] : (block_ns[n / 2 - 1] + block_ns[n / 2]) / 2, block_ns[0]);
  free(tid);
  free(block_ns);
  return 0;
}
