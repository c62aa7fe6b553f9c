/* CPU samples of a flight recorder: `ctrace run --flight SPAN --cpu-hz N`
 * keeps the samples of the last SPAN in the launcher and writes them as
 * DUMP.kernel beside each dump PROG writes (viewer/cli/run_flight.c,
 * tracer/capture/kernel_flight.c). cpu_burn (tests/progs/cpu_burn.c: hot_a
 * 7 units of work of every 10, hot_b 3, under middle, outer and main) is
 * dumped twice by SIGUSR2; the second dump comes long after every stack and
 * mapping was first seen, so its samples only name them if the dump
 * defines them again. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#define BURN TEST_PROGS_DIR "/cpu_burn"

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

/* Reads fd until `until` is in buf (or EOF). @return the bytes in buf. */
static size_t read_until(int fd, char *buf, size_t cap, size_t n, const char *until) {
  while (n + 1 < cap && !strstr(buf, until)) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
    buf[n] = '\0';
  }
  return n;
}

/* `ctrace top DUMP`: hot_a and hot_b in their shares, every sample of them
 * unwound through middle, outer and main. @return the samples. */
static unsigned check_top(const char *dump) {
  char *top[] = {(char *)test_ctrace_bin, "top", (char *)dump, "-n", "0", NULL};
  test_proc p = test_run(top, NULL);
  printf("ctrace top %s:\n%s%s", dump, p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, ".kernel");
  unsigned samples = 0;
  ASSERT(sscanf(p.out, "%u samples", &samples) == 1);
  double af, ac, bf, bc, mf, mc, nf, nc;
  ASSERT(top_row(p.out, "hot_a", &af, &ac));
  ASSERT(top_row(p.out, "hot_b", &bf, &bc));
  ASSERT(top_row(p.out, "middle", &mf, &mc));
  ASSERT(top_row(p.out, "main", &nf, &nc));
  ASSERT(af > bf);           /* 7 : 3 of the work */
  ASSERT(mc >= af + bf - 2); /* stacks complete: the hot samples under middle ... */
  ASSERT(nc >= mc - 1);      /* ... and main */
  test_proc_free(&p);
  return samples;
}

TEST_IMPL(cpu_profile_flight) {
  char out[800], out2[800], k1[820], k2[820];
  snprintf(out, sizeof out, "%s", test_tmp_path("flight-cpu.ctrace"));
  snprintf(out2, sizeof out2, "%s", test_tmp_path("flight-cpu-2.ctrace"));
  snprintf(k1, sizeof k1, "%s.kernel", out);
  snprintf(k2, sizeof k2, "%s.kernel", out2);
  int errp[2];
  ASSERT_EQ(pipe2(errp, O_CLOEXEC), 0);
  pid_t run = fork();
  ASSERT(run >= 0);
  if (run == 0) {
    dup2(errp[1], 2);
    char *argv[] = {(char *)test_ctrace_bin,
                    "run",
                    "--flight",
                    "300ms",
                    "--cpu-hz",
                    "999",
                    "-o",
                    out,
                    "--",
                    BURN,
                    "2500",
                    NULL};
    execv(argv[0], argv);
    _exit(127);
  }
  close(errp[1]);
  char err[16384] = "";
  size_t n = read_until(errp[0], err, sizeof err, 0, "kill -USR2 ");
  const char *at = strstr(err, "kill -USR2 ");
  ASSERT(at != NULL);
  int burn = atoi(at + strlen("kill -USR2 "));
  ASSERT(burn > 0);
  /* Two dumps, the second ~1.8 s into the run: the window (300 ms) has
   * long forgotten the samples that first named each stack and mapping. */
  usleep(1000000);
  ASSERT_EQ(kill(burn, SIGUSR2), 0);
  usleep(800000);
  ASSERT_EQ(kill(burn, SIGUSR2), 0);
  n = read_until(errp[0], err, sizeof err, n, "\x01"); /* (to EOF) */
  close(errp[0]);
  int st;
  while (waitpid(run, &st, 0) < 0 && errno == EINTR) {
  }
  printf("%s", err);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (strstr(err, "no CPU samples")) {
    printf("CPU samples refused here: the rest cannot be checked\n");
    return 0;
  }
  ASSERT_CONTAINS(err, k1);
  ASSERT_CONTAINS(err, k2);
  ASSERT(access(k1, R_OK) == 0);
  ASSERT(access(k2, R_OK) == 0);
  check_top(out);
  unsigned s2 = check_top(out2);
  /* One thread: at most one sample per ms of its CPU time in the window
   * (300 ms, the last event's end of it), not the whole run's. */
  ASSERT(s2 <= 300 + 30);
  return 0;
}
