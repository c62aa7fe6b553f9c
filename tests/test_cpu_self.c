/* CPU samples of a program linked with libctrace, taken by the program
 * itself (tracer/runtime/cpu.c loading libctrace-cpu.so, tracer/cpu):
 * tests/progs/cpu_burn.c built as cpu_burn_lib (hot_a 7 units of work of
 * every 10, hot_b 3, under middle, outer and main; no frame pointers),
 * started by ctrace_start with cpu_hz, or at load by CTRACE_OUT with
 * CTRACE_CPU_HZ. `ctrace top FILE` names the functions with their shares
 * and whole stacks, `ctrace info FILE.kernel` says how they were taken. A
 * module that cannot be loaded is said, and the program traces without
 * samples; an old-size ctrace_options has no cpu_hz; under `ctrace run`
 * the launcher alone samples. */
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "test.h"

#define BURN_LIB TEST_PROGS_DIR "/cpu_burn_lib"

/* The flat% and cum% of function name in `ctrace top` output; 0 if it is
 * not there. */
static int top_row(const char *out, const char *name, double *flat, double *cum) {
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    double f, fp, sp, c, cp;
    char fn[256];
    if (sscanf(l, "%lfs %lf%% %lf%% %lfs %lf%% %255s", &f, &fp, &sp, &c, &cp, fn) == 6 &&
        !strcmp(fn, name)) {
      *flat = fp;
      *cum = cp;
      return 1;
    }
  }
  return 0;
}

/* The k_sample count of `ctrace info FILE.kernel`, which must say how the
 * samples were taken (method). */
static unsigned long kernel_samples(const char *out, const char *method) {
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  char *info[] = {(char *)test_ctrace_bin, "info", kernel, NULL};
  test_proc p = test_run(info, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, method);
  const char *ks = strstr(p.out, "k_sample");
  ASSERT(ks != NULL);
  unsigned long n = strtoul(ks + strlen("k_sample"), NULL, 10);
  test_proc_free(&p);
  return n;
}

/* ThreadSanitizer defers a signal to its thread's next call into it and
 * then gives the handler the registers saved when the signal came, while
 * the stack has moved on: SIGPROF's stack copies are not those registers'
 * there, and only the sampled functions (flat) are right. */
#if defined(__SANITIZE_THREAD__)
#define SIGPROF_STACKS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SIGPROF_STACKS 0
#endif
#endif
#ifndef SIGPROF_STACKS
#define SIGPROF_STACKS 1
#endif

/* Samples of ~700 ms of CPU at 999 Hz that must be delivered (the tracer's
 * threads take theirs). Under TSan the process's own drain is slow and its
 * rings overflow: a CI run delivered 217 and counted 461 lost. */
#if SIGPROF_STACKS
#define SELF_MIN_SAMPLES 300
#else
#define SELF_MIN_SAMPLES 100
#endif

/* hot_a and hot_b with their shares (7 : 3) in `ctrace top FILE`, and
 * (stacks) every hot sample unwound through middle, outer and main. */
static void check_profile_of(const char *out, int stacks) {
  /* (the program's thread: in sanitized builds the tracer's threads, e.g.
   * the one reading /proc/kallsyms, take much of the CPU time burnt) */
  char *top[] = {(char *)test_ctrace_bin, "top", (char *)out, "-n", "0", "--thread",
                 "cpu_burn_lib",          NULL};
  test_proc p = test_run(top, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  double af, ac, bf, bc, mf, mc, of, oc, nf, nc;
  ASSERT(top_row(p.out, "hot_a", &af, &ac));
  ASSERT(top_row(p.out, "hot_b", &bf, &bc));
  ASSERT(af + bf > 50);
  ASSERT(af / (af + bf) > 0.58 && af / (af + bf) < 0.82);
  if (!stacks) {
    test_proc_free(&p);
    return;
  }
  ASSERT(top_row(p.out, "middle", &mf, &mc));
  ASSERT(top_row(p.out, "outer", &of, &oc));
  ASSERT(top_row(p.out, "main", &nf, &nc));
  ASSERT(mc >= af + bf - 2);
  ASSERT(oc >= mc - 1);
  ASSERT(nc >= oc - 1);
  ASSERT(mf < 5);
  test_proc_free(&p);
  /* the tracer's threads (the writer, the sampler's): named so, if sampled */
  char *tracer[] = {(char *)test_ctrace_bin,      "top", (char *)out, "--thread",
                    "ctrace writer (the tracer)", NULL};
  p = test_run(tracer, NULL);
  printf("the tracer's threads (%d): %s%s", p.status, p.out, p.err);
  test_proc_free(&p);
}

static void check_profile(const char *out) { check_profile_of(out, 1); }

#define SELF_METHOD "the process sampling itself (libctrace-cpu.so)"

/* Runs cpu_burn_lib; 1 when this machine refuses CPU samples (said). */
static int burn(char *const argv[], char *const env[]) {
  test_proc p = test_run(argv, env);
  printf("%s%s", p.out, p.err);
  fflush(stdout); /* (before an abort) */
  ASSERT_EQ(p.status, 0);
  int refused = strstr(p.err, "no CPU samples") != NULL;
  if (refused)
    printf("CPU samples refused here: %s", p.err);
  test_proc_free(&p);
  return refused;
}

TEST_IMPL(cpu_self_api) {
  const char *out = test_tmp_path("self_api.ctrace");
  char *argv[] = {BURN_LIB, "700", "api", "999", (char *)out, NULL};
  char *env[] = {"CTRACE_OUT=", "CTRACE_CPU_HZ=", NULL};
  if (burn(argv, env))
    return 0;
  ASSERT_GT(kernel_samples(out, SELF_METHOD), SELF_MIN_SAMPLES);
  check_profile(out);
  return 0;
}

TEST_IMPL(cpu_self_env) {
  const char *out = test_tmp_path("self_env.ctrace");
  char var[1100];
  snprintf(var, sizeof var, "CTRACE_OUT=%s", out);
  char *argv[] = {BURN_LIB, "700", NULL};
  char *env[] = {var, "CTRACE_CPU_HZ=999", NULL};
  if (burn(argv, env))
    return 0;
  ASSERT_GT(kernel_samples(out, SELF_METHOD), SELF_MIN_SAMPLES);
  check_profile(out);
  /* and without CTRACE_CPU_HZ: no samples, and the earlier FILE.kernel is
   * gone (it would be read with the new FILE) */
  char *off[] = {var, "CTRACE_CPU_HZ=", NULL};
  char *shortrun[] = {BURN_LIB, "50", NULL};
  ASSERT_EQ(burn(shortrun, off), 0);
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  ASSERT(access(kernel, F_OK) != 0);
  /* a malformed rate is said, and the trace does not start */
  char *bad[] = {var, "CTRACE_CPU_HZ=lots", NULL};
  test_proc p = test_run(shortrun, bad);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, "CTRACE_CPU_HZ=lots is not a number in 0..10000");
  test_proc_free(&p);
  return 0;
}

/* No module: said (where it was looked for), and the program runs and
 * traces without samples; the trace's capture note says why too. */
TEST_IMPL(cpu_self_no_module) {
  const char *out = test_tmp_path("self_nomod.ctrace");
  char var[1100];
  snprintf(var, sizeof var, "CTRACE_OUT=%s", out);
  char *argv[] = {BURN_LIB, "100", NULL};
  char *env[] = {var, "CTRACE_CPU_HZ=99", "CTRACE_CPU_MODULE=/nonexistent/libctrace-cpu.so", NULL};
  test_proc p = test_run(argv, env);
  printf("%s", p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "hot_a=");
  ASSERT_CONTAINS(p.err, "ctrace: no CPU samples at 99 Hz: cannot load the CPU sampler "
                         "libctrace-cpu.so: /nonexistent/libctrace-cpu.so: ");
  ASSERT_CONTAINS(p.err, "(from CTRACE_CPU_MODULE); tracing goes on without them");
  test_proc_free(&p);
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  ASSERT(access(kernel, F_OK) != 0);
  char *info[] = {(char *)test_ctrace_bin, "info", (char *)out, NULL};
  p = test_run(info, NULL);
  printf("%s", p.out);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "CPU samples: cannot load the CPU sampler libctrace-cpu.so");
  test_proc_free(&p);
  return 0;
}

/* ctrace_options of the size before cpu_hz: the field is not read (no
 * samples, no module loaded); a rate above 10000 is refused. */
TEST_IMPL(cpu_self_old_options) {
  const char *out = test_tmp_path("self_old.ctrace");
  unsetenv("CTRACE_CPU_HZ");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.cpu_hz = 20000;
  o.path = out;
  ASSERT_EQ(ctrace_start(&o), CTRACE_EINVAL);
  o.struct_size = (uint32_t)offsetof(ctrace_options, cpu_hz);
  o.cpu_hz = 999; /* (beyond struct_size: not read) */
  ASSERT_EQ(ctrace_start(&o), 0);
  usleep(50000);
  ASSERT_EQ(ctrace_stop(), 0);
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  ASSERT(access(kernel, F_OK) != 0);
  char *maps = test_read_file("/proc/self/maps", NULL);
  ASSERT(strstr(maps, "libctrace-cpu.so") == NULL);
  ASSERT(strstr(maps, "libdw") == NULL); /* (nor the unwinder: never in libctrace) */
  free(maps);
  return 0;
}

/* Under `ctrace run --cpu-hz`, the launcher samples: the program's own
 * CTRACE_CPU_HZ (or cpu_hz) does not start a second sampler. */
TEST_IMPL(run_cpu_self_launcher) {
  const char *out = test_tmp_path("self_run.ctrace");
  char *argv[] = {(char *)test_ctrace_bin,
                  "run",
                  "--cpu-hz",
                  "999",
                  "-o",
                  (char *)out,
                  "--",
                  BURN_LIB,
                  "400",
                  NULL};
  char *env[] = {"CTRACE_CPU_HZ=999", NULL};
  test_proc p = test_run(argv, env);
  printf("%s", p.err);
  ASSERT_EQ(p.status, 0);
  int refused = strstr(p.err, "no CPU samples") != NULL;
  test_proc_free(&p);
  if (refused)
    return 0;
  unsigned long n = kernel_samples(out, "perf task-clock; user stacks");
  ASSERT(n > 250 && n < 600); /* one sampler's ~400, not two's */
  check_profile(out);
  return 0;
}

/* ---- SIGPROF timers, where perf_event_open is refused ------------------------------- */

#define SIGPROF_METHOD "SIGPROF timers on each thread's CPU clock (perf_event_open refused)"

/* perf refused (the test hook, as paranoid 3 or seccomp would): the
 * process samples itself by SIGPROF timers, with the same shares and
 * whole stacks; FILE.kernel says how, and why not perf. */
TEST_IMPL(cpu_self_sigprof) {
  const char *out = test_tmp_path("self_sigprof.ctrace");
  char var[1100];
  snprintf(var, sizeof var, "CTRACE_OUT=%s", out);
  char *argv[] = {BURN_LIB, "700", NULL};
  char *env[] = {var, "CTRACE_CPU_HZ=999", "CTRACE__TEST_PERF_FAIL=1", NULL};
  ASSERT_EQ(burn(argv, env), 0);
  /* ~700 (each signal stands for the periods it missed: the kernel checks
   * CPU timers at its tick, 250 Hz on Debian's kernels) */
  ASSERT_GT(kernel_samples(out, SIGPROF_METHOD), 300);
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  char *info[] = {(char *)test_ctrace_bin, "info", kernel, NULL};
  test_proc p = test_run(info, NULL);
  ASSERT_CONTAINS(p.out, "CPU samples by SIGPROF timers: cpu samples: perf_event_open: "
                         "Permission denied");
  test_proc_free(&p);
  check_profile_of(out, SIGPROF_STACKS);
  return 0;
}

/* A program with a SIGPROF handler of its own keeps it: no timers, said. */
static void own_prof(int sig) { (void)sig; }

TEST_IMPL(cpu_self_sigprof_taken) {
  const char *out = test_tmp_path("self_taken.ctrace");
  signal(SIGPROF, own_prof);
  setenv("CTRACE__TEST_PERF_FAIL", "1", 1);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = out;
  o.cpu_hz = 99;
  ASSERT_EQ(ctrace_start(&o), 0); /* (and stderr says why there are no samples) */
  ASSERT_EQ(ctrace_stop(), 0);
  unsetenv("CTRACE__TEST_PERF_FAIL");
  struct sigaction sa;
  ASSERT_EQ(sigaction(SIGPROF, NULL, &sa), 0);
  ASSERT(sa.sa_handler == own_prof);
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  ASSERT(access(kernel, F_OK) != 0);
  char *info[] = {(char *)test_ctrace_bin, "info", (char *)out, NULL};
  test_proc p = test_run(info, NULL);
  printf("%s", p.out);
  ASSERT_CONTAINS(p.out, "and no SIGPROF timers: SIGPROF is the program's own");
  test_proc_free(&p);
  return 0;
}

/* `ctrace run --cpu-hz` where the launcher's perf_event_open is refused:
 * PROG's preloaded libctrace samples itself, threads started later too
 * (cpu_threads: burners under burner -> outer -> middle -> hot_a / hot_b). */
TEST_IMPL(run_cpu_sigprof) {
  const char *out = test_tmp_path("run_sigprof.ctrace");
  char *argv[] = {(char *)test_ctrace_bin,       "run", "--cpu-hz", "999", "-o", (char *)out, "--",
                  TEST_PROGS_DIR "/cpu_threads", "1",   "3",        NULL};
  char *env[] = {"CTRACE__TEST_PERF_FAIL=1", NULL};
  test_proc p = test_run(argv, env);
  printf("%s", p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, "PROG samples itself");
  ASSERT_CONTAINS(p.err, "and .kernel (PROG's own CPU samples)");
  test_proc_free(&p);
  /* (3 burners for 1 s of wall time: as many samples as the machine gives them CPU) */
  ASSERT_GT(kernel_samples(out, SIGPROF_METHOD), 100);
  char *top[] = {(char *)test_ctrace_bin, "top", (char *)out, "--thread", "burn-1", NULL};
  p = test_run(top, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  double af, ac, bf, bc, mc, mf, uf, uc;
  ASSERT(top_row(p.out, "hot_a", &af, &ac));
  ASSERT(top_row(p.out, "hot_b", &bf, &bc));
  ASSERT(top_row(p.out, "middle", &mf, &mc));
  ASSERT(top_row(p.out, "burner", &uf, &uc));
  ASSERT(af / (af + bf) > 0.58 && af / (af + bf) < 0.82);
  ASSERT(mc >= af + bf - 2);
  ASSERT(uc >= mc - 1);
  test_proc_free(&p);
  return 0;
}
