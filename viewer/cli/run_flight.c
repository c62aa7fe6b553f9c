/* `ctrace run --flight SPAN --cpu-hz N`: the CPU samples of a flight
 * recorder. PROG keeps its own events and writes its dumps itself (FILE,
 * then FILE-2...: tracer/runtime/flight.c); the samples are the
 * launcher's (perf, unwound here), kept in a store of the same window
 * (kernel_flight.c), and written as DUMP.kernel beside each dump, which
 * the readers take with it. The launcher sees a dump when PROG closes it
 * (inotify, IN_CLOSE_WRITE on FILE's directory, read at every turn of the
 * capture loop, and once more after PROG exits: a crash's dump). Dumps
 * written elsewhere (`ctrace dump -o OTHER`) get no samples. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "cli.h"
#include "common.h"

struct ctrace_run_flight {
  kf_store *kf;
  int ino;                 /* inotify descriptor, watching dir */
  char dir[PATH_MAX];      /* FILE's directory */
  char base[NAME_MAX + 1]; /* FILE's name: the first dump */
  size_t stem;             /* base[0..stem) + "-N" + base + stem: the later ones */
  unsigned dumps;
};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where FILE's directory and name part, and how its later dumps are
 * named (ctrace__flight_nth_path). */
static void split_names(ctrace_run_flight *f, const char *abs_out) {
  const char *slash = strrchr(abs_out, '/'); /* (absolute: there is one) */
  snprintf(f->dir, sizeof f->dir, "%.*s", slash == abs_out ? 1 : (int)(slash - abs_out), abs_out);
  snprintf(f->base, sizeof f->base, "%s", slash + 1);
  char two[PATH_MAX + 32];
  ctrace__flight_nth_path(two, sizeof two, f->base, 2);
  size_t i = 0;
  while (f->base[i] && f->base[i] == two[i])
    i++;
  f->stem = two[i] == '-' ? i : SIZE_MAX; /* (SIZE_MAX: too long, always FILE) */
}

/* Whether name (in dir) is one of PROG's dumps. */
static int is_dump(const ctrace_run_flight *f, const char *name) {
  if (!strcmp(name, f->base))
    return 1;
  if (f->stem == SIZE_MAX || strncmp(name, f->base, f->stem) || name[f->stem] != '-' ||
      !isdigit((unsigned char)name[f->stem + 1]))
    return 0;
  const char *p = name + f->stem + 1;
  while (isdigit((unsigned char)*p))
    p++;
  return !strcmp(p, f->base + f->stem);
}

ctrace_run_flight *ctrace_run_flight_start(const char *abs_out, const char *spec, int pid,
                                           const char *cmdline, unsigned hz, const char *why) {
  uint64_t window_ms = 0, bytes = 0;
  ctrace_run_flight *f = calloc(1, sizeof *f);
  if (!f || ctrace__flight_parse(spec, &window_ms, &bytes) != 0 ||
      !(f->kf = kf_new(pid, cmdline, window_ms, bytes, why))) {
    fprintf(stderr, "ctrace run: --cpu-hz with --flight: out of memory: no CPU samples\n");
    free(f);
    return NULL;
  }
  kf_sampling(f->kf, hz, 1000000000u / hz,
              "perf task-clock; user stacks unwound from their DWARF CFI (elfutils libdw)");
  split_names(f, abs_out);
  f->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (f->ino < 0 || inotify_add_watch(f->ino, f->dir, IN_CLOSE_WRITE) < 0) {
    fprintf(stderr,
            "ctrace run: --cpu-hz with --flight: cannot watch %s for dumps (inotify: %s): "
            "no CPU samples\n",
            f->dir, strerror(errno));
    if (f->ino >= 0)
      close(f->ino);
    kf_free(f->kf);
    free(f);
    return NULL;
  }
  return f;
}

/* The samples up to now into DUMP.kernel. */
static void write_kernel(ctrace_run_flight *f, ctrace__perf *perf, const char *name) {
  ctrace__perf_drain(perf, now_ns(), kf_event, f->kf);
  char path[PATH_MAX + NAME_MAX + 16], err[600];
  snprintf(path, sizeof path, "%s/%s.kernel", f->dir, name);
  uint64_t n = 0;
  if (kf_dump(f->kf, path, &n, err, sizeof err) != 0) {
    fprintf(stderr, "ctrace run: flight recorder: CPU samples of %s not written: %s\n", name, err);
    return;
  }
  fprintf(stderr, "ctrace run: flight recorder: %s: %llu CPU samples\n", path,
          (unsigned long long)n);
  f->dumps++;
}

/* The dumps PROG closed since the last call. */
static void read_dumps(ctrace_run_flight *f, ctrace__perf *perf) {
  _Alignas(struct inotify_event) char buf[8192];
  for (;;) {
    ssize_t n = read(f->ino, buf, sizeof buf);
    if (n <= 0)
      return; /* (EAGAIN: nothing more now) */
    for (char *p = buf; p < buf + n;) {
      const struct inotify_event *ev = (const struct inotify_event *)p;
      if (ev->len && is_dump(f, ev->name))
        write_kernel(f, perf, ev->name);
      p += sizeof *ev + ev->len;
    }
  }
}

void ctrace_run_flight_poll(ctrace_run_flight *f, ctrace__perf *perf) {
  if (!f)
    return;
  /* 20 ms watermark: as run.c's drain into FILE.kernel. */
  ctrace__perf_drain(perf, now_ns() - 20000000u, kf_event, f->kf);
  read_dumps(f, perf);
}

void ctrace_run_flight_finish(ctrace_run_flight *f, ctrace__perf *perf) {
  if (!f)
    return;
  ctrace__perf_drain(perf, UINT64_MAX, kf_event, f->kf);
  read_dumps(f, perf); /* (a dump PROG wrote as it died) */
  close(f->ino);
  kf_free(f->kf);
  free(f);
}
