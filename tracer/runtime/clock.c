/* Timestamps: the invariant TSC when the CPU has one and the kernel trusts
 * it (its clocksource is "tsc"), else clock_gettime(CLOCK_MONOTONIC).
 * Events store ticks; the writer records clock sync points (tick, monotonic
 * ns, realtime ns) so the reader can map ticks to CLOCK_MONOTONIC exactly
 * enough to line up with perf and LTTng. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "internal.h"

int ctrace__clock_tsc;

__attribute__((noinline)) uint64_t ctrace__mono_ticks(void) { return ctrace__mono_ns(); }

static int tsc_is_invariant(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u)
    return 0;
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  return (d >> 8) & 1; /* "Invariant TSC" */
#else
  return 0;
#endif
}

/* The kernel only keeps "tsc" as its clocksource while it finds the TSC
 * synchronised across CPUs and stable; that is the guarantee we need. */
static int kernel_trusts_tsc(void) {
  FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
  if (!f)
    return 0;
  char buf[32] = {0};
  int ok = fgets(buf, sizeof buf, f) != NULL && strncmp(buf, "tsc", 3) == 0 &&
           (buf[3] == '\n' || buf[3] == '\0');
  fclose(f);
  return ok;
}

int ctrace__clock_init(int force_mono) {
  const char *env = getenv("CTRACE_CLOCK");
  int tsc;
  if (force_mono || (env && strcmp(env, "monotonic") == 0))
    tsc = 0;
  else if (env && strcmp(env, "tsc") == 0)
    tsc = tsc_is_invariant();
  else
    tsc = tsc_is_invariant() && kernel_trusts_tsc();
  ctrace__clock_tsc = tsc;
  return tsc ? CTRACE_FMT_CLOCK_TSC : CTRACE_FMT_CLOCK_MONOTONIC;
}

void ctrace__clock_sync(ctrace__clock_point *p) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 5; i++) {
    uint64_t m1 = ctrace__mono_ns();
    uint64_t t = ctrace__ticks();
    uint64_t m2 = ctrace__mono_ns();
    if (m2 - m1 < best) {
      best = m2 - m1;
      p->tick = t;
      p->mono_ns = m1 + (m2 - m1) / 2;
    }
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t real = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  /* Realtime was read a little after mono_ns; step it back by that much. */
  p->real_ns = real - (ctrace__mono_ns() - p->mono_ns);
}

uint64_t ctrace__clock_estimate_hz(const ctrace__clock_point *start) {
  if (!ctrace__clock_tsc)
    return 1000000000u;
  ctrace__clock_point now;
  do
    ctrace__clock_sync(&now);
  while (now.mono_ns - start->mono_ns < 200000);
  return (uint64_t)((double)(now.tick - start->tick) * 1e9 /
                    (double)(now.mono_ns - start->mono_ns));
}
