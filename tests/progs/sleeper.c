/* A thread that sleeps 5 times 20 ms (nanosleep), and spins a little in
 * between. It prints how long each sleep took by its own clock: the
 * off-CPU intervals in the trace must match those (+-1 ms). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static volatile unsigned long sink;
static uint64_t slept[5];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *run(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "sleeper");
  for (int i = 0; i < 5; i++) {
    struct timespec ts = {0, 20000000};
    uint64_t t0 = now_ns();
    nanosleep(&ts, NULL);
    slept[i] = now_ns() - t0;
    for (unsigned long k = 0; k < 2000000; k++)
      sink += k;
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, run, NULL);
  pthread_join(t, NULL);
  for (int i = 0; i < 5; i++)
    printf("slept %" PRIu64 "\n", slept[i]);
  return 0;
}
