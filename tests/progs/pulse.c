/* The live view's browser test: `pulse SECONDS PERIOD_MS [STATUS]` records
 * a "tick" region every PERIOD_MS milliseconds on its main thread for
 * SECONDS seconds; halfway through it starts a thread named "late" that
 * records "late tick" regions at the same pace (a row that appears while
 * the page follows). Exits with STATUS (default 0). With PULSE_TICKS_FILE
 * set, it writes there how many "tick" and "late tick" regions it recorded
 * (the test checks the page holds every one). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ctrace/ctrace.h>

static atomic_int stop;
static atomic_long late_ticks;
static long period_ms = 100;

static void pause_period(void) {
  struct timespec p = {period_ms / 1000, (period_ms % 1000) * 1000000L};
  nanosleep(&p, NULL);
}

static void *late(void *arg) {
  (void)arg;
  ctrace_thread_set_name("late");
  while (!atomic_load(&stop)) {
    { CTRACE_SCOPE("late tick"); }
    atomic_fetch_add(&late_ticks, 1);
    pause_period();
  }
  return NULL;
}

static double since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 5.0;
  period_ms = argc > 2 ? atol(argv[2]) : 100;
  int status = argc > 3 ? atoi(argv[3]) : 0;
  if (period_ms < 1)
    period_ms = 1;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pthread_t th;
  int started = 0;
  long i;
  for (i = 0; since(&start) < seconds; i++) {
    {
      CTRACE_SCOPE("tick");
      CTRACE_COUNTER("ticks", i);
    }
    if (!started && since(&start) >= seconds / 2)
      started = pthread_create(&th, NULL, late, NULL) == 0;
    pause_period();
  }
  atomic_store(&stop, 1);
  if (started)
    pthread_join(th, NULL);
  const char *count = getenv("PULSE_TICKS_FILE");
  FILE *f = count ? fopen(count, "w") : NULL;
  if (f) {
    fprintf(f, "%ld\n", i + atomic_load(&late_ticks));
    fclose(f);
  }
  return status;
}
