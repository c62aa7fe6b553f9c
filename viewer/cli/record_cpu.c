/* `ctrace record --pid PID --cpu-hz N`: CPU samples of a process that runs
 * already, taken by ctrace record itself while the process writes its
 * trace (record.c). The events are attached to every thread of the process
 * before the recording is asked for (tracer/capture/perf_attach.c: so
 * that a process ctrace may not sample is refused before anything starts),
 * read and unwound here every 20 ms, and written as FILE.kernel beside the
 * FILE the process writes, which the readers take with it (ctrace top,
 * view, info...). Samples from before the recording was asked for, or after
 * the process said it ended, are left out; the events are closed when it
 * ends. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"

struct record_cpu {
  int pid;
  unsigned hz;
  ctrace__perf *perf;
  kt_writer *kt;
  char kpath[PATH_MAX + 16]; /* FILE.kernel, as FILE was asked for */
  char why[1024];            /* what perf could not do (into FILE.kernel) */
  uint64_t t0, t1;           /* CLOCK_MONOTONIC ns: the samples kept */
  uint64_t last_cut, outside;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

record_cpu *record_cpu_open(int pid, unsigned hz) {
  record_cpu *rc = calloc(1, sizeof *rc);
  if (!rc) {
    fprintf(stderr, "ctrace record: out of memory\n");
    return NULL;
  }
  rc->pid = pid;
  rc->hz = hz;
  ctrace__perf_set_cpu_hz(hz);
  unsigned got = 0;
  rc->perf = ctrace__perf_attach(pid, CTRACE__PERF_CPU, &got, rc->why, sizeof rc->why);
  if (!rc->perf || !(got & CTRACE__PERF_CPU)) {
    fprintf(stderr, "ctrace record: --cpu-hz %u: cannot sample process %d: %s\n", hz, pid, rc->why);
    record_cpu_close(rc);
    return NULL;
  }
  return rc;
}

int record_cpu_start(record_cpu *rc, const char *file) {
  if (!rc)
    return 0;
  char cmdline[4096], err[600];
  ctrace__proc_cmdline(rc->pid, cmdline, sizeof cmdline);
  snprintf(rc->kpath, sizeof rc->kpath, "%s.kernel", file);
  rc->kt = kt_open(rc->kpath, rc->pid, cmdline, 0, 0, rc->why, err, sizeof err);
  if (!rc->kt) {
    fprintf(stderr, "ctrace record: --cpu-hz: cannot write the samples: %s\n", err);
    return 1;
  }
  kt_sampling(rc->kt, rc->hz, 1000000000u / rc->hz, ctrace__perf_cpu_method(rc->perf));
  rc->t0 = rc->last_cut = now_ns();
  return 0;
}

/* ctrace__perf_drain's callback: the samples of the recording's time. */
static void keep_event(void *arg, const ctrace__kevent *ev) {
  record_cpu *rc = arg;
  if (ev->kind == CTRACE__K_SAMPLE && (ev->ns < rc->t0 || (rc->t1 && ev->ns > rc->t1))) {
    rc->outside++;
    return;
  }
  kt_event(rc->kt, ev);
}

void record_cpu_poll(record_cpu *rc) {
  if (!rc || !rc->kt)
    return;
  uint64_t now = now_ns();
  ctrace__perf_drain(rc->perf, now - 20000000u, keep_event, rc); /* 20 ms watermark */
  if (now - rc->last_cut > 100000000u) {
    kt_cut(rc->kt);
    rc->last_cut = now;
  }
}

int record_cpu_finish(record_cpu *rc, const char *file) {
  if (!rc || !rc->kt)
    return 0;
  rc->t1 = now_ns();
  ctrace__perf_drain(rc->perf, rc->t1 + 1, keep_event, rc);
  ctrace__perf_close(rc->perf); /* (sampling stops with the recording) */
  rc->perf = NULL;
  size_t nstacks = 0;
  uint64_t samples = kt_samples(rc->kt, &nstacks), sw, sc, lost;
  kt_counts(rc->kt, &sw, &sc, &lost);
  int r = kt_close(rc->kt), code = 0;
  rc->kt = NULL;
  char kpath[sizeof rc->kpath + 8];
  snprintf(kpath, sizeof kpath, "%s%s", file ? file : rc->kpath, file ? ".kernel" : "");
  if (r) {
    fprintf(stderr, "ctrace record: writing %s failed: %s\n", rc->kpath, strerror(-r));
    code = 1;
  } else if (strcmp(kpath, rc->kpath) != 0 && rename(rc->kpath, kpath) != 0) {
    /* (the process wrote FILE elsewhere than asked) */
    fprintf(stderr, "ctrace record: cannot move %s to %s: %s\n", rc->kpath, kpath, strerror(errno));
    snprintf(kpath, sizeof kpath, "%s", rc->kpath);
  }
  printf("and %llu CPU samples at %u Hz (%zu distinct stacks) to %s\n", (unsigned long long)samples,
         rc->hz, nstacks, kpath);
  if (lost)
    fprintf(stderr, "ctrace record: the kernel lost %llu samples (its buffers were full)\n",
            (unsigned long long)lost);
  return code;
}

void record_cpu_close(record_cpu *rc) {
  if (!rc)
    return;
  if (rc->kt) { /* (the recording never started: no FILE.kernel) */
    kt_close(rc->kt);
    unlink(rc->kpath);
  }
  ctrace__perf_close(rc->perf);
  free(rc);
}
