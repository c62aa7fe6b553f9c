/* A steady stream of events for the live view's test: `ticker SECONDS
 * PERIOD_US` records a "tick" region and a "ticks" counter every PERIOD_US
 * microseconds for SECONDS seconds. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include <ctrace/ctrace.h>

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 3.0;
  long period_us = argc > 2 ? atol(argv[2]) : 1000;
  struct timespec start, now, pause = {0, period_us * 1000};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0;; i++) {
    {
      CTRACE_SCOPE("tick");
      CTRACE_COUNTER("ticks", i);
    }
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 >=
        seconds)
      break;
  }
  return 0;
}
