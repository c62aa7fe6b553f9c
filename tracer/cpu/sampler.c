/* libctrace-cpu.so: a program linked with libctrace sampling itself
 * (cpu_module.h). The samples are taken as `ctrace record --pid --cpu-hz`
 * takes another process's (tracer/capture/perf_attach.c): a task-clock
 * sampling event on every thread the process has, on each CPU, inherited
 * by the threads they start later; the registers and the top of the user
 * stack of each sample are unwound here with libdw (unwind.c), on the
 * sampler's own thread, and written into FILE.kernel beside the trace
 * (kernel_trace.c): the file `ctrace run --cpu-hz` writes, which every
 * reader takes with FILE. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cpu_module.h"

/* Before perf's own method (ctrace__perf_cpu_method): who sampled. */
#define METHOD_SELF "the process sampling itself (libctrace-cpu.so): "

struct ctrace__cpu_sampler {
  unsigned hz;
  ctrace__perf *perf;
  kt_writer *kt;
  uint64_t last_cut;
  char kpath[PATH_MAX];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* This process's command line (NULs as spaces), for FILE.kernel. */
static void self_cmdline(char *out, size_t len) {
  out[0] = '\0';
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, out, len - 1);
  close(fd);
  if (n <= 0)
    return;
  out[n] = '\0';
  while (n > 0 && out[n - 1] == '\0')
    n--;
  for (ssize_t i = 0; i < n; i++)
    if (out[i] == '\0')
      out[i] = ' ';
}

static ctrace__cpu_sampler *sampler_open(unsigned hz, const char *kpath, char *why, size_t whylen) {
  ctrace__cpu_sampler *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  s->hz = hz;
  snprintf(s->kpath, sizeof s->kpath, "%s", kpath);
  ctrace__perf_set_cpu_hz(hz);
  unsigned got = 0;
  char pwhy[1024];
  s->perf = ctrace__perf_attach((int)getpid(), CTRACE__PERF_CPU, &got, pwhy, sizeof pwhy);
  if (!s->perf || !(got & CTRACE__PERF_CPU)) {
    snprintf(why, whylen, "%s", pwhy);
    ctrace__perf_close(s->perf);
    free(s);
    return NULL;
  }
  char cmdline[4096], err[600];
  self_cmdline(cmdline, sizeof cmdline);
  s->kt = kt_open(kpath, (int)getpid(), cmdline, 0, 0, "", err, sizeof err);
  if (!s->kt) {
    snprintf(why, whylen, "%s", err);
    ctrace__perf_close(s->perf);
    free(s);
    return NULL;
  }
  char method[512];
  snprintf(method, sizeof method, METHOD_SELF "%s", ctrace__perf_cpu_method(s->perf));
  kt_sampling(s->kt, hz, 1000000000u / hz, method);
  s->last_cut = now_ns();
  return s;
}

static void sampler_poll(ctrace__cpu_sampler *s) {
  uint64_t now = now_ns();
  ctrace__perf_drain(s->perf, now - 20000000u, kt_event, s->kt); /* 20 ms watermark */
  if (now - s->last_cut > 100000000u) {                          /* (a killed process loses less) */
    kt_cut(s->kt);
    s->last_cut = now;
  }
}

static int sampler_close(ctrace__cpu_sampler *s, char *msg, size_t msglen) {
  msg[0] = '\0';
  ctrace__perf_drain(s->perf, UINT64_MAX, kt_event, s->kt);
  ctrace__perf_close(s->perf); /* (sampling stops here) */
  uint64_t sw, sc, lost;
  kt_counts(s->kt, &sw, &sc, &lost);
  int r = kt_close(s->kt);
  if (r)
    snprintf(msg, msglen, "writing %s failed: %s", s->kpath, strerror(-r));
  else if (lost)
    snprintf(msg, msglen, "the kernel lost %llu CPU samples (its buffers were full)",
             (unsigned long long)lost);
  free(s);
  return r ? -1 : 0;
}

static const ctrace__cpu_module module = {CTRACE__CPU_MODULE_ABI, sizeof(ctrace__cpu_module),
                                          sampler_open, sampler_poll, sampler_close};

const ctrace__cpu_module *ctrace_cpu_module_open(uint32_t abi) {
  return abi == CTRACE__CPU_MODULE_ABI ? &module : NULL;
}
