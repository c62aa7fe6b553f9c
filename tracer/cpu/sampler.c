/* libctrace-cpu.so: a program linked with libctrace sampling itself
 * (cpu_module.h). The samples are taken as `ctrace record --pid --cpu-hz`
 * takes another process's (tracer/capture/perf_attach.c): a task-clock
 * sampling event on every thread the process has, on each CPU, inherited
 * by the threads they start later; the registers and the top of the user
 * stack of each sample are unwound here with libdw (unwind.c), on the
 * sampler's own thread, and written into FILE.kernel beside the trace
 * (kernel_trace.c): the file `ctrace run --cpu-hz` writes, which every
 * reader takes with FILE.
 *
 * Where perf_event_open is refused (kernel.perf_event_paranoid = 3, a
 * seccomp filter), by SIGPROF timers on each thread's CPU clock instead
 * (sigprof.c): the threads' signal handlers copy the registers and the top
 * of the stack, unwound here the same way (tracer/capture's
 * ctrace__self_samples); DEF_SAMPLING's method and DEF_CAPTURE's note say
 * so, and why perf could not be used. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "common.h"
#include "cpu_module.h"
#include "sigprof.h"

/* Before perf's own method (ctrace__perf_cpu_method): who sampled. */
#define METHOD_SELF "the process sampling itself (libctrace-cpu.so): "
#define METHOD_SIGPROF                                                                  \
  "SIGPROF timers on each thread's CPU clock (perf_event_open refused); user stacks "   \
  "copied by the signal handler and unwound from their DWARF CFI (elfutils libdw); no " \
  "kernel frames"

struct ctrace__cpu_sampler {
  unsigned hz;
  ctrace__perf *perf; /* perf's samples, or */
  sp_sampler *sp;     /* SIGPROF timers' */
  kt_writer *kt;
  vh_map threads; /* tids met in the samples: 1 the program's, 2 the sampler's */
  uint64_t last_cut;
  char kpath[PATH_MAX];
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* perf's events on every thread, else SIGPROF timers. @return 0, or -1
 * with why (both refused). perf_why: why perf was not used ("" if it is). */
static int start_sampling(ctrace__cpu_sampler *s, char *perf_why, size_t plen, char *why,
                          size_t whylen) {
  ctrace__perf_set_cpu_hz(s->hz);
  unsigned got = 0;
  s->perf = ctrace__perf_attach((int)getpid(), CTRACE__PERF_CPU, &got, perf_why, plen);
  if (s->perf && (got & CTRACE__PERF_CPU)) {
    perf_why[0] = '\0';
    return 0;
  }
  ctrace__perf_close(s->perf);
  s->perf = NULL;
  char sp_why[512] = "";
  if ((s->sp = sp_open(s->hz, sp_why, sizeof sp_why)))
    return 0;
  snprintf(why, whylen, "%s; and no SIGPROF timers: %s", perf_why, sp_why);
  return -1;
}

static ctrace__cpu_sampler *sampler_open(unsigned hz, const char *kpath, char *why, size_t whylen) {
  ctrace__cpu_sampler *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  s->hz = hz;
  snprintf(s->kpath, sizeof s->kpath, "%s", kpath);
  char perf_why[1024] = "", note[1200] = "", method[512];
  if (start_sampling(s, perf_why, sizeof perf_why, why, whylen) != 0) {
    free(s);
    return NULL;
  }
  if (s->sp)
    snprintf(note, sizeof note, "CPU samples by SIGPROF timers: %s", perf_why);
  char cmdline[4096], err[600];
  ctrace__proc_cmdline(0, cmdline, sizeof cmdline);
  s->kt = kt_open(kpath, (int)getpid(), cmdline, 0, 0, note, err, sizeof err);
  if (!s->kt) {
    snprintf(why, whylen, "%s", err);
    ctrace__perf_close(s->perf);
    sp_close(s->sp, NULL, NULL);
    free(s);
    return NULL;
  }
  snprintf(method, sizeof method, METHOD_SELF "%s",
           s->sp ? METHOD_SIGPROF : ctrace__perf_cpu_method(s->perf));
  kt_sampling(s->kt, hz, 1000000000u / hz, method);
  s->last_cut = now_ns();
  return s;
}

static ctrace__cpu_module module;

/* Is thread tid one of the sampler's (named so: its comm is inherited)? */
static int sampler_thread(int tid) {
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, comm, sizeof comm - 1);
  close(fd);
  if (n <= 0)
    return 0;
  comm[n] = '\0';
  comm[strcspn(comm, "\n")] = '\0';
  return !strcmp(comm, CTRACE__CPU_THREAD_NAME);
}

/* kt_event, telling libctrace of the sampler's threads as they are met. */
static void to_file(void *arg, const ctrace__kevent *ev) {
  ctrace__cpu_sampler *s = arg;
  if (ev->kind == CTRACE__K_SAMPLE && module.own_thread && ev->tid > 0 &&
      !vh_get(&s->threads, (uint64_t)ev->tid)) {
    int own = sampler_thread(ev->tid);
    vh_put(&s->threads, (uint64_t)ev->tid, own ? 2 : 1); /* (no memory: asked again) */
    if (own)
      module.own_thread(ev->tid);
  }
  kt_event(s->kt, ev);
}

static void sampler_poll(ctrace__cpu_sampler *s) {
  uint64_t now = now_ns();
  if (s->sp)
    sp_poll(s->sp, to_file, s);
  else
    ctrace__perf_drain(s->perf, now - 20000000u, to_file, s); /* 20 ms watermark */
  if (now - s->last_cut > 100000000u) {                       /* (a killed process loses less) */
    kt_cut(s->kt);
    s->last_cut = now;
  }
}

static int sampler_close(ctrace__cpu_sampler *s, char *msg, size_t msglen) {
  msg[0] = '\0';
  if (s->sp) {
    sp_close(s->sp, to_file, s); /* (sampling stops here) */
  } else {
    ctrace__perf_drain(s->perf, UINT64_MAX, to_file, s);
    ctrace__perf_close(s->perf); /* (sampling stops here) */
  }
  uint64_t sw, sc, lost;
  kt_counts(s->kt, &sw, &sc, &lost);
  int r = kt_close(s->kt);
  if (r)
    snprintf(msg, msglen, "writing %s failed: %s", s->kpath, strerror(-r));
  else if (lost)
    snprintf(msg, msglen, "the kernel lost %llu CPU samples (its buffers were full)",
             (unsigned long long)lost);
  vh_free(&s->threads);
  free(s);
  return r ? -1 : 0;
}

static ctrace__cpu_module module = {CTRACE__CPU_MODULE_ABI, sizeof(ctrace__cpu_module),
                                    sampler_open,           NULL,
                                    sampler_poll,           sampler_close};

ctrace__cpu_module *ctrace_cpu_module_open(uint32_t abi) {
  return abi == CTRACE__CPU_MODULE_ABI ? &module : NULL;
}
