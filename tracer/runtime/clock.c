/* Timestamps: the invariant TSC when the CPU has one and it keeps time with
 * CLOCK_MONOTONIC on every CPU here (the kernel's clocksource, or checked at
 * start), else clock_gettime(CLOCK_MONOTONIC).
 * Events store ticks; the writer records clock sync points (tick, monotonic
 * ns, realtime ns) so the reader can map ticks to CLOCK_MONOTONIC exactly
 * enough to line up with perf and LTTng. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sched.h>
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

/* The kernel's clocksource ("tsc", "kvm-clock", ...) into buf; "" if unknown. */
static void kernel_clocksource(char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
  if (!f)
    return;
  if (fgets(buf, (int)n, f))
    buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* ---- Checking the TSC where the kernel does not use it ---------------------------------
 * Cloud VMs run kvm-clock (or hyperv_clocksource...) while their CPUs say the
 * TSC is invariant: the kernel keeps its own clock for live migration's sake,
 * but the TSC is usable and 2.5x cheaper to read than clock_gettime there.
 * Before trusting it, the TSC is read beside CLOCK_MONOTONIC on every CPU
 * this process may run on: each CPU's TSC, mapped through one rate, must
 * agree with CLOCK_MONOTONIC within CTRACE__TSC_SKEW_NS. Afterwards the
 * writer's clock sync points (every cut) keep mapping ticks to
 * CLOCK_MONOTONIC, piecewise, so a drift of the rate is corrected too. */

#define TSC_RATE_NS 1000000u /* the rate is measured over 1 ms */
#define TSC_MAX_CPUS 1024    /* CPUs checked at most */

typedef struct tsc_sample {
  uint64_t tick, mono; /* the TSC and CLOCK_MONOTONIC at (nearly) one instant */
  uint64_t err;        /* +- ns of that instant (half the read's window) */
} tsc_sample;

/* The best of 7 reads of the TSC between two of CLOCK_MONOTONIC. */
static tsc_sample tsc_read(void) {
  tsc_sample best = {0, 0, UINT64_MAX};
#if defined(__x86_64__) || defined(__i386__)
  for (int i = 0; i < 7; i++) {
    uint64_t m1 = ctrace__mono_ns(), t = __rdtsc(), m2 = ctrace__mono_ns();
    if ((m2 - m1) / 2 < best.err)
      best = (tsc_sample){t, m1 + (m2 - m1) / 2, (m2 - m1) / 2};
  }
#endif
  return best;
}

static int pin(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(0, sizeof one, &one);
}

/* How far (ns) CPU cpu's TSC is from where the rate measured on the first
 * CPU puts it; or -1 if the thread cannot run there. */
static int64_t tsc_skew(int cpu, const tsc_sample *ref, double ns_per_tick, uint64_t *err) {
  if (pin(cpu))
    return -1;
  tsc_sample s = tsc_read();
  double want = (double)ref->tick + (double)(int64_t)(s.mono - ref->mono) / ns_per_tick;
  *err = s.err + ref->err;
  int64_t d = (int64_t)(((double)s.tick - want) * ns_per_tick);
  return d < 0 ? -d : d;
}

/* 0 when the TSC agrees with CLOCK_MONOTONIC on every CPU of the process's
 * affinity mask (restored after), else -1 with why. */
static int tsc_check(char *why, size_t n) {
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask)) {
    snprintf(why, n, "cannot read the CPUs this process runs on");
    return -1;
  }
  int cpus[TSC_MAX_CPUS], ncpu = 0;
  for (int c = 0; c < CPU_SETSIZE && ncpu < TSC_MAX_CPUS; c++)
    if (CPU_ISSET(c, &mask))
      cpus[ncpu++] = c;
  if (ncpu == 0 || pin(cpus[0])) {
    snprintf(why, n, "cannot run on the CPUs of its own affinity mask");
    sched_setaffinity(0, sizeof mask, &mask);
    return -1;
  }
  /* The rate, on the first CPU, over 1 ms. */
  tsc_sample a = tsc_read(), b;
  do
    b = tsc_read();
  while (b.mono - a.mono < TSC_RATE_NS);
  double ns_per_tick = (double)(b.mono - a.mono) / (double)(b.tick - a.tick);
  int rc = 0;
  uint64_t worst = 0;
  int worst_cpu = cpus[0];
  /* Tests plant a skew on the last CPU checked (the fall-back path). */
  const char *plant = getenv("CTRACE__TEST_TSC_SKEW_NS");
  uint64_t planted = plant ? strtoull(plant, NULL, 10) : 0;
  /* Every CPU, then the first again (the rate over the whole check). */
  for (int i = 1; i <= ncpu && !rc; i++) {
    int cpu = cpus[i % ncpu];
    uint64_t err;
    int64_t d = tsc_skew(cpu, &b, ns_per_tick, &err);
    if (d < 0)
      continue; /* (not allowed there after all: it will not run there either) */
    uint64_t skew = (uint64_t)d > err ? (uint64_t)d - err : 0;
    if (i == ncpu)
      skew += planted;
    if (skew > worst)
      worst = skew, worst_cpu = cpu;
    if (skew > CTRACE__TSC_SKEW_NS) {
      snprintf(why, n, "the TSC of CPU %d is %.1f us off CLOCK_MONOTONIC (over %.1f us)", cpu,
               (double)skew / 1e3, CTRACE__TSC_SKEW_NS / 1e3);
      rc = -1;
    }
  }
  sched_setaffinity(0, sizeof mask, &mask);
  if (!rc)
    snprintf(why, n, "%d CPU%s checked, within %" PRIu64 " ns of CLOCK_MONOTONIC (CPU %d)", ncpu,
             ncpu == 1 ? "" : "s", worst, worst_cpu);
  return rc;
}

/* tsc_check once per process: a session started again, or a child after
 * fork, runs on the same CPUs (its answer is kept across fork too). Called
 * under the session mutex. */
static int tsc_checked(char *why, size_t n) {
  static int done, rc;
  static char said[200];
  if (!done) {
    rc = tsc_check(said, sizeof said);
    done = 1;
  }
  snprintf(why, n, "%s", said);
  return rc;
}

int ctrace__clock_init(int force_mono, char *why, size_t n) {
  const char *env = getenv("CTRACE_CLOCK");
  char src[64], check[200];
  int tsc = 0;
  kernel_clocksource(src, sizeof src);
  if (force_mono) {
    snprintf(why, n, "monotonic: asked for (CTRACE_OPT_CLOCK_MONOTONIC)");
  } else if (env && strcmp(env, "monotonic") == 0) {
    snprintf(why, n, "monotonic: asked for (CTRACE_CLOCK=monotonic)");
  } else if (!tsc_is_invariant()) {
    snprintf(why, n, "monotonic: the CPU's TSC is not invariant (CPUID 0x80000007)");
  } else if (env && strcmp(env, "tsc") == 0) {
    tsc = 1;
    snprintf(why, n, "tsc: asked for (CTRACE_CLOCK=tsc), not checked");
  } else if (!strcmp(src, "tsc")) {
    tsc = 1;
    snprintf(why, n, "tsc: invariant, and the kernel's clocksource");
  } else if (tsc_checked(check, sizeof check) == 0) {
    tsc = 1;
    snprintf(why, n, "tsc: invariant (the kernel uses %s): %s", src[0] ? src : "another clock",
             check);
  } else {
    snprintf(why, n, "monotonic: the TSC is invariant but %s", check);
  }
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
