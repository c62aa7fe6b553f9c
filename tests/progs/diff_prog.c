/* Known work for `ctrace diff`'s recorded test (tests/test_diff.c): 40
 * rounds, each a "steady" region spinning 300 us and a "slowed" region
 * spinning 300 us, or 600 us when DIFF_SLOW is set in the environment.
 * Spinning to a deadline on CLOCK_MONOTONIC (not sleeping) keeps the
 * durations close to the asked ones on a loaded machine. Links libctrace:
 * CTRACE_OUT=FILE records it. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <time.h>

#include <ctrace/ctrace.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void spin_us(double us) {
  double end = now_us() + us;
  while (now_us() < end) {
  }
}

int main(void) {
  double slowed = getenv("DIFF_SLOW") ? 600 : 300;
  for (int i = 0; i < 40; i++) {
    CTRACE_REGION_BEGIN("steady");
    spin_us(300);
    CTRACE_REGION_END();
    CTRACE_REGION_BEGIN("slowed");
    spin_us(slowed);
    CTRACE_REGION_END();
  }
  return 0;
}
