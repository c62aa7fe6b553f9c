/* Known causal chains for ctrace why (tests/test_why.c), linked with
 * libctrace and run under ctrace run (whose lock wrappers record who
 * released what):
 * - "holder" takes a mutex and keeps it through its region "slow_io" (a
 *   60 ms sleep); main's region "request" asks for the mutex meanwhile;
 * - "producer" computes for ~40 ms in its region "compute", then signals a
 *   condition variable that main waits on in its region "consume".
 * `why_chain contend`: CPU contention instead: main's region "crunch" needs
 * 60 ms of CPU while three threads "hog-1".."hog-3" spin, five runnable
 * threads for the machine's cores (two in CI): main waits for a CPU. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctrace/ctrace.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int held, started;
static int ready;
static volatile unsigned sink;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "holder");
  pthread_mutex_lock(&mu);
  atomic_store(&held, 1);
  CTRACE_REGION_BEGIN("slow_io");
  sleep_ms(60);
  CTRACE_REGION_END();
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void *producer(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "producer");
  while (!atomic_load(&started))
    sleep_ms(1);
  CTRACE_REGION_BEGIN("compute");
  for (uint64_t end = now_ns() + 40000000u; now_ns() < end;)
    for (int i = 0; i < 1000; i++)
      sink += (unsigned)i;
  CTRACE_REGION_END();
  pthread_mutex_lock(&cv_mu);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&cv_mu);
  return NULL;
}

static atomic_int hogs_stop;

static void *hog(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "hog-%d", (int)(intptr_t)arg);
  pthread_setname_np(pthread_self(), name);
  while (!atomic_load_explicit(&hogs_stop, memory_order_relaxed))
    for (int i = 0; i < 1000; i++)
      sink += (unsigned)i;
  return NULL;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int contend(void) {
  pthread_t h[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&h[i], NULL, hog, (void *)(intptr_t)(i + 1));
  sleep_ms(20); /* (the hogs are running) */
  CTRACE_REGION_BEGIN("crunch");
  for (uint64_t end = cpu_ns() + 60000000u; cpu_ns() < end;)
    for (int i = 0; i < 1000; i++)
      sink += (unsigned)i;
  CTRACE_REGION_END();
  atomic_store(&hogs_stop, 1);
  for (int i = 0; i < 3; i++)
    pthread_join(h[i], NULL);
  puts("why_chain: done");
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "contend"))
    return contend();
  pthread_t h, p;
  pthread_create(&h, NULL, holder, NULL);
  while (!atomic_load(&held))
    sleep_ms(1);
  CTRACE_REGION_BEGIN("request");
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  CTRACE_REGION_END();
  pthread_join(h, NULL);

  pthread_create(&p, NULL, producer, NULL);
  CTRACE_REGION_BEGIN("consume");
  atomic_store(&started, 1);
  pthread_mutex_lock(&cv_mu);
  while (!ready)
    pthread_cond_wait(&cv, &cv_mu);
  pthread_mutex_unlock(&cv_mu);
  CTRACE_REGION_END();
  pthread_join(p, NULL);
  puts("why_chain: done");
  return 0;
}
