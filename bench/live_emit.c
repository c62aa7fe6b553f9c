/* live_emit: a program that records about RATE events a second for
 * SECONDS seconds, for bench/live.sh (a live view following it): THREADS
 * threads, each a loop of requests (a region with two nested ones), a
 * counter every 16 requests, an instant every 256, paced every 10 ms so
 * the rate holds steady.
 *
 *   CTRACE_OUT=FILE live_emit RATE SECONDS [THREADS]    (default 1000000 60 2) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ctrace/ctrace.h>

static double rate = 1e6, seconds = 60;
static int threads = 2;
volatile int emit_spin; /* work the compiler cannot remove */

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void request(long i) {
  CTRACE_SCOPE("request");
  {
    CTRACE_SCOPE("parse");
    emit_spin++;
  }
  {
    CTRACE_SCOPE("handle");
    emit_spin++;
  }
  if (i % 16 == 0)
    CTRACE_COUNTER("queue", i % 1000);
  if (i % 256 == 0)
    CTRACE_INSTANT("mark");
}

static void *run(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "emit-%d", (int)(intptr_t)arg);
  ctrace_thread_set_name(name);
  double per_request = 6.0 * threads / rate; /* (6 events a request, counters aside) */
  double start = now_s(), due = start;
  for (long i = 0;;) {
    double now = now_s();
    if (now - start >= seconds)
      break;
    for (; due <= now; due += per_request)
      request(i++);
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1)
    rate = atof(argv[1]);
  if (argc > 2)
    seconds = atof(argv[2]);
  if (argc > 3)
    threads = atoi(argv[3]);
  if (rate <= 0 || seconds <= 0 || threads < 1 || threads > 64) {
    fprintf(stderr, "usage: live_emit RATE SECONDS [THREADS]\n");
    return 2;
  }
  int r = ctrace_start(NULL); /* (into $CTRACE_OUT; already started by it, if set) */
  if (r && r != CTRACE_EBUSY) {
    fprintf(stderr, "live_emit: ctrace_start: %s\n", ctrace_strerror(r));
    return 1;
  }
  pthread_t th[64];
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, run, (void *)(intptr_t)i);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  return ctrace_stop() ? 1 : 0;
}
