/* gen_trace: writes a synthetic trace of about N events with the real
 * tracer, shaped like a busy program: 4 threads, each a loop of requests
 * (a region 3 deep), a counter every 64 events, an instant every 1000,
 * a task per 100 requests, flows between threads, a "checkpoint" region
 * per 100000 requests. For the viewer's
 * benchmark (bench/viewer.sh).
 *
 *   gen_trace OUT.ctrace [EVENTS]      (default 10000000) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <ctrace/ctrace.h>

#define THREADS 4
static long per_thread;
/* work the compiler cannot remove: each thread its own (a shared one is a
 * data race), unsigned (it wraps) */
static _Thread_local volatile unsigned gen_spin;

static void *run(void *arg) {
  int id = (int)(intptr_t)arg;
  char name[16];
  snprintf(name, sizeof name, "gen-%d", id);
  ctrace_thread_set_name(name);
  long events = 0;
  uint64_t task = 0;
  for (long i = 0; events < per_thread; i++) {
    if (i % 100 == 0) {
      if (task)
        ctrace_task_end(task);
      task = ctrace_task_begin("batch", 0);
      events += 2;
    }
    CTRACE_REGION_BEGIN("request");
    CTRACE_REGION_BEGIN("decode");
    CTRACE_REGION_END();
    CTRACE_REGION_BEGIN("handle");
    for (int k = 0; k < 3; k++) {
      CTRACE_REGION_BEGIN("step");
      for (int s = 0; s < 50 + (int)(i % 7) * 20; s++)
        gen_spin += (unsigned)s;
      CTRACE_REGION_END();
    }
    CTRACE_REGION_END();
    CTRACE_REGION_BEGIN("encode");
    CTRACE_REGION_END();
    CTRACE_REGION_END();
    events += 14;
    if (i % 4 == 0) {
      CTRACE_COUNTER("inflight", (int64_t)(i % 37));
      events++;
    }
    if (i % 70 == 0) {
      CTRACE_INSTANT("tick");
      events++;
    }
    if (i % 100000 == 99999) { /* a rare region (the scale benchmark searches for it) */
      CTRACE_REGION_BEGIN("checkpoint");
      CTRACE_REGION_END();
      events += 2;
    }
    if (i % 50 == 0) { /* an arrow to the next thread's same request */
      ctrace_flow_begin(((uint64_t)id << 40) | (uint64_t)i);
      events++;
    }
    if (i % 50 == 0 && id > 0) {
      ctrace_flow_end(((uint64_t)(id - 1) << 40) | (uint64_t)i);
      events++;
    }
  }
  if (task)
    ctrace_task_end(task);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gen_trace OUT.ctrace [EVENTS]\n");
    return 2;
  }
  long total = argc > 2 ? atol(argv[2]) : 10000000;
  per_thread = total / THREADS;
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = argv[1];
  o.buffer_mb = 512;
  int r = ctrace_start(&o);
  if (r) {
    fprintf(stderr, "gen_trace: %s\n", ctrace_strerror(r));
    return 1;
  }
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    pthread_create(&t[i], NULL, run, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  r = ctrace_stop();
  printf("gen_trace: %s: about %ld events, %s\n", argv[1], per_thread * THREADS,
         r ? ctrace_strerror(r) : "complete");
  return r ? 1 : 0;
}
