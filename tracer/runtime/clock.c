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
 * this process may run on, each time between two reads on the first CPU:
 * where the first CPU's TSC was at that instant (interpolated between its
 * two reads, ~0.1 ms apart, so the rate's error does not matter) must be
 * within CTRACE__TSC_SKEW_NS of the other CPU's. Afterwards the writer's
 * clock sync points (every cut) keep mapping ticks to CLOCK_MONOTONIC,
 * piecewise, so a drift of the rate is corrected too. */

#define TSC_MAX_CPUS 16 /* CPUs checked at most, spread over the mask */

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

/* A read of the TSC on `cpu` (the thread moved there); err -1 if it cannot
 * run there. */
static int tsc_read_on(int cpu, tsc_sample *s) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one))
    return -1;
  *s = tsc_read();
  return 0;
}

/* How far (ns) s's TSC is from the first CPU's at the same instant, given
 * the first CPU's reads a before it and b after it. */
static uint64_t tsc_skew(const tsc_sample *a, const tsc_sample *s, const tsc_sample *b) {
  double f = (double)(int64_t)(s->mono - a->mono) / (double)(int64_t)(b->mono - a->mono);
  double want = (double)a->tick + f * (double)(int64_t)(b->tick - a->tick);
  double ns_per_tick = (double)(int64_t)(b->mono - a->mono) / (double)(int64_t)(b->tick - a->tick);
  double d = ((double)s->tick - want) * ns_per_tick;
  uint64_t skew = (uint64_t)(d < 0 ? -d : d), err = a->err + s->err + b->err;
  return skew > err ? skew - err : 0;
}

/* The CPUs to check: all of the mask's, or TSC_MAX_CPUS spread over it. */
static int tsc_cpus(const cpu_set_t *mask, int *cpus, int *total) {
  int all[CPU_SETSIZE], n = 0;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, mask))
      all[n++] = c;
  *total = n;
  int k = n < TSC_MAX_CPUS ? n : TSC_MAX_CPUS;
  for (int i = 0; i < k; i++)
    cpus[i] = all[k > 1 ? (int)((int64_t)i * (n - 1) / (k - 1)) : 0];
  return k;
}

/* 0 when the TSC agrees with CLOCK_MONOTONIC on the CPUs of the process's
 * affinity mask (restored after), else -1 with why. */
static int tsc_check(char *why, size_t n) {
  cpu_set_t mask;
  int cpus[TSC_MAX_CPUS], total = 0;
  if (sched_getaffinity(0, sizeof mask, &mask)) {
    snprintf(why, n, "cannot read the CPUs this process runs on");
    return -1;
  }
  int ncpu = tsc_cpus(&mask, cpus, &total), rc = 0, worst_cpu = cpus[0];
  uint64_t worst = 0;
  tsc_sample a, s, b;
  if (ncpu == 0 || tsc_read_on(cpus[0], &a)) {
    snprintf(why, n, "cannot run on the CPUs of its own affinity mask");
    sched_setaffinity(0, sizeof mask, &mask);
    return -1;
  }
  /* Tests plant a skew on the last CPU checked (the fall-back path). */
  const char *plant = getenv("CTRACE__TEST_TSC_SKEW_NS");
  uint64_t planted = plant ? strtoull(plant, NULL, 10) : 0;
  uint64_t err = 0;
  /* Each other CPU between two reads on the first (one CPU: itself). */
  for (int i = ncpu > 1 ? 1 : 0; i < ncpu; i++) {
    if (tsc_read_on(cpus[i], &s) || tsc_read_on(cpus[0], &b))
      continue; /* (not allowed there after all: it will not run there either) */
    uint64_t skew = tsc_skew(&a, &s, &b) + (i == ncpu - 1 ? planted : 0);
    if (a.err + s.err + b.err > err)
      err = a.err + s.err + b.err;
    if (skew > worst)
      worst = skew, worst_cpu = cpus[i];
    if (skew > (uint64_t)CTRACE__TSC_SKEW_NS) {
      snprintf(why, n, "the TSC of CPU %d is %.1f us off CLOCK_MONOTONIC (over %.1f us)", cpus[i],
               (double)skew / 1e3, CTRACE__TSC_SKEW_NS / 1e3);
      rc = -1;
      break;
    }
    a = b;
  }
  sched_setaffinity(0, sizeof mask, &mask);
  if (!rc) {
    char checked[64], off[96];
    if (ncpu < total)
      snprintf(checked, sizeof checked, "%d of %d CPUs", ncpu, total);
    else
      snprintf(checked, sizeof checked, "%d CPU%s", ncpu, ncpu == 1 ? "" : "s");
    if (worst)
      snprintf(off, sizeof off, "%" PRIu64 " ns at most (CPU %d)", worst, worst_cpu);
    else
      snprintf(off, sizeof off, "the reads' own +-%" PRIu64 " ns", err);
    snprintf(why, n, "%s checked, within %s of CLOCK_MONOTONIC", checked, off);
  }
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
