/* `ctrace pprof --type T TRACE... [-o FILE]`: a blocking profile (analysis.h)
 * as a gzipped pprof file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "common.h"

static const char pprof_usage[] =
    "usage: ctrace pprof --type sync|syscall|sched|io TRACE... [-o FILE.pb.gz]\n"
    "                    [--thread NAME] [--since T] [--until T]\n"
    "  A blocking profile in pprof's format (go tool pprof, pprof -http), like\n"
    "  go tool trace's: each event's stack is the regions it happened in, under\n"
    "  its thread; values are [contentions (count), delay (ns)].\n"
    "  --type sync      lock, condvar, rwlock, semaphore and join waits\n"
    "         syscall   system calls\n"
    "         sched     runnable, waiting for a CPU (needs the kernel's context switches)\n"
    "         io        system calls that wait on file descriptors (read, write, poll, ...)\n"
    "  -o FILE          output (default TYPE.pb.gz; '-' is stdout)\n"
    "  --thread NAME    only the threads of this name\n"
    "  --since T        window start, seconds after the trace's start (0.5, 20ms, 300us)\n"
    "  --until T        window end, the same way\n"
    "  FILE.kernel (ctrace run's kernel events) goes with FILE by itself.\n";

static const char *const nothing[PF_TYPE_COUNT_] = {
    "no lock, condvar, rwlock, semaphore or join waits",
    "no system calls",
    "no runnable time (no thread was preempted)",
    "no I/O system calls (read, write, poll, ...)",
};

/* Why a profile may be empty: the trace says it did not record that kind. */
static const char *not_recorded(const vx_index *x, pf_type t) {
  int declared = 0, recorded = 0;
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    declared |= s->cap_present;
    recorded |= s->cap_present && (t == PF_SYNC ? s->cap_locks : s->cap_syscalls);
  }
  if (!declared || recorded || t == PF_SCHED)
    return "";
  return t == PF_SYNC ? " (the trace did not record lock waits: record with ctrace run)"
                      : " (the trace did not record system calls: record with ctrace run)";
}

static const char *fmt_ns(char *buf, size_t n, uint64_t ns) {
  if (ns < 1000)
    snprintf(buf, n, "%" PRIu64 " ns", ns);
  else if (ns < 1000000)
    snprintf(buf, n, "%.2f us", (double)ns / 1e3);
  else if (ns < 1000000000)
    snprintf(buf, n, "%.2f ms", (double)ns / 1e6);
  else
    snprintf(buf, n, "%.3f s", (double)ns / 1e9);
  return buf;
}

static int write_file(const char *path, const unsigned char *p, size_t n) {
  int fd = !strcmp(path, "-") ? 1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      if (fd != 1)
        close(fd);
      errno = e;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return fd != 1 && close(fd) ? -1 : 0;
}

int ctrace_cmd_pprof(int argc, char **argv) {
  static const struct option opts[] = {{"type", required_argument, NULL, 'y'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"thread", required_argument, NULL, 't'},
                                       {"since", required_argument, NULL, 'a'},
                                       {"until", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  st_options o = {0};
  pf_type type = PF_SYNC;
  int has_type = 0, has_until = 0, c;
  const char *out = NULL;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'y':
      if (pf_type_parse(optarg, &type)) {
        fprintf(stderr, "ctrace pprof: --type is sync, syscall, sched or io, not '%s'\n%s",
                optarg, pprof_usage);
        return 2;
      }
      has_type = 1;
      break;
    case 'o': out = optarg; break;
    case 't': o.thread = optarg; break;
    case 'a':
    case 'b':
      if (st_parse_time(optarg, c == 'a' ? &o.since : &o.until)) {
        fprintf(stderr, "ctrace pprof: --%s wants seconds after the trace's start (0.5, 20ms), "
                        "not '%s'\n%s", c == 'a' ? "since" : "until", optarg, pprof_usage);
        return 2;
      }
      has_until |= c == 'b';
      break;
    case 'h': fputs(pprof_usage, stdout); return 0;
    default:
      if (optopt)
        fprintf(stderr, "ctrace pprof: option '%s' needs a value\n%s", argv[optind - 1],
                pprof_usage);
      else
        fprintf(stderr, "ctrace pprof: unknown option '%s'\n%s", argv[optind - 1], pprof_usage);
      return 2;
    }
  }
  if (!has_type) {
    fprintf(stderr, "ctrace pprof: missing --type (sync, syscall, sched or io)\n%s", pprof_usage);
    return 2;
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace pprof: missing TRACE\n%s", pprof_usage);
    return 2;
  }
  if (has_until && o.until <= o.since) {
    fprintf(stderr, "ctrace pprof: --until must be after --since\n%s", pprof_usage);
    return 2;
  }
  char def_out[32];
  snprintf(def_out, sizeof def_out, "%s.pb.gz", pf_type_name(type));
  if (!out)
    out = def_out;
  size_t n = 0, given = (size_t)(argc - optind);
  int *added = NULL;
  char **paths = cli_with_kernel("pprof", argv + optind, given, &n, &added);
  if (!paths) {
    fprintf(stderr, "ctrace pprof: out of memory\n");
    return 1;
  }
  char err[1024] = "";
  int status = 1;
  vx_index *x = vx_build(paths, n, err, sizeof err);
  pf_profile p = {0};
  unsigned char *gz = NULL;
  size_t len = 0;
  if (!x) {
    fprintf(stderr, "ctrace pprof: %s\n", err[0] ? err : "indexing failed");
  } else if (pf_compute(x, type, &o, &p, err, sizeof err)) {
    fprintf(stderr, "ctrace pprof: %s\n", err);
  } else {
    for (size_t i = 0; i < vx_source_count(x); i++) {
      const vx_source *s = vx_source_get(x, i);
      if (s->problem)
        fprintf(stderr, "ctrace pprof: %s: warning: %s\n", s->path, s->problem);
    }
    char where[400] = "";
    if (o.thread)
      snprintf(where, sizeof where, " of the threads named '%s'", o.thread);
    if (!p.nsamples) {
      fprintf(stderr, "ctrace pprof: %s%s in %s%s%s\n", nothing[type], where, paths[0],
              o.since || o.until ? " (in the window)" : "", not_recorded(x, type));
    } else if (pf_encode_pprof(&p, &gz, &len, err, sizeof err)) {
      fprintf(stderr, "ctrace pprof: %s\n", err);
    } else if (write_file(out, gz, len)) {
      fprintf(stderr, "ctrace pprof: cannot write %s: %s\n", out, strerror(errno));
    } else {
      char d[32];
      fprintf(strcmp(out, "-") ? stdout : stderr, "wrote %s: %zu samples (%" PRIu64
              " events), %s delay\n", strcmp(out, "-") ? out : "stdout", p.nsamples, p.count,
              fmt_ns(d, sizeof d, p.delay));
      status = 0;
    }
  }
  free(gz);
  pf_free(&p);
  vx_free(x);
  te_paths_free(paths, n, added);
  return status;
}
