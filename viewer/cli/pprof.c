/* `ctrace pprof --type T TRACE... [-o FILE]`: a CPU or heap profile, or a blocking profile (analysis.h)
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
    "usage: ctrace pprof --type cpu|heap|allocs|sync|syscall|sched|io TRACE...\n"
    "                    [-o FILE.pb.gz] [--thread NAME] [--since T] [--until T]\n"
    "                    [--at T] [--region NAME] [--debug-dir DIR]\n"
    "  A blocking profile in pprof's format (go tool pprof, pprof -http), like\n"
    "  go tool trace's: each event's stack is the regions it happened in, under\n"
    "  its thread; values are [contentions (count), delay (ns)].\n"
    "  --type cpu       CPU samples with their call stacks (ctrace run --cpu-hz N):\n"
    "                   samples/count and cpu/nanoseconds, functions, files and lines\n"
    "                   from the binaries' debug information (--debug-dir DIR: also there)\n"
    "                   --region NAME: only samples taken inside that region\n"
    "  --type heap      the heap samples (ctrace run; --heap-rate BYTES), as Go's heap\n"
    "                   profile: alloc_objects, alloc_space (allocated in the window),\n"
    "                   inuse_objects, inuse_space (in use at its end: --at T), scaled\n"
    "                   for sampling; pprof shows inuse_space first (-sample_index=...)\n"
    "         allocs    the same, alloc_space first\n"
    "  --at T           heap: in use at T (the same as --until T; default: the end)\n"
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

/* ---- ctrace pprof ---------------------------------------------------------------------------- */

/* ctrace pprof, from its options to its report: what each step leaves
 * for the next. */
typedef struct pprof_state {
  st_options o;            /* --thread, --since, --until */
  pf_type type;            /* --type */
  int cpu;                 /* --type cpu */
  cpu_args ca;             /* its options */
  cp_profile cp;           /* its profile (owned) */
  int has_type, has_until; /* --type and --until were given */
  const char *out;         /* -o FILE, else def_out */
  char def_out[32];        /* TYPE.pb.gz */
  char **traces;           /* TRACE... (in argv) */
  size_t ntraces;          /* their count */
  vx_index *x;             /* the traces indexed (owned) */
  pf_profile p;            /* the profile (owned) */
  unsigned char *gz;       /* the profile in pprof's format, gzipped (owned) */
  size_t len;              /* its size */
  char err[1024];          /* what failed */
} pprof_state;

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int pprof_parse(int argc, char **argv, pprof_state *s) {
  static const struct option opts[] = {
      {"type", required_argument, NULL, 'y'},   {"output", required_argument, NULL, 'o'},
      {"thread", required_argument, NULL, 't'}, {"since", required_argument, NULL, 'a'},
      {"until", required_argument, NULL, 'b'},  {"at", required_argument, NULL, 'A'},
      {"region", required_argument, NULL, 'r'}, {"debug-dir", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
    int r = cpu_option(&s->ca, c, optarg, "pprof", pprof_usage); /* (cpu's copy) */
    if (r > 0)
      return r;
    switch (c) {
    case 'r':
    case 'd': break; /* (cpu only: checked below) */
    case 'y':
      if (!strcmp(optarg, "cpu") || !strcmp(optarg, "heap") || !strcmp(optarg, "allocs")) {
        s->cpu = s->has_type = 1;
        s->ca.o.heap = optarg[0] == 'h' ? CP_HEAP_INUSE : optarg[0] == 'a' ? CP_HEAP_ALLOCS : 0;
        break;
      }
      if (pf_type_parse(optarg, &s->type)) {
        fprintf(stderr,
                "ctrace pprof: --type is cpu, heap, allocs, sync, syscall, sched or io, not "
                "'%s'\n%s",
                optarg, pprof_usage);
        return 2;
      }
      s->has_type = 1;
      break;
    case 'o': s->out = optarg; break;
    case 't': s->o.thread = optarg; break;
    case 'a':
    case 'b':
    case 'A': /* --at: the same as --until */
      if (st_parse_time(optarg, c == 'a' ? &s->o.since : &s->o.until)) {
        fprintf(stderr,
                "ctrace pprof: --%s wants seconds after the trace's start (0.5, 20ms), "
                "not '%s'\n%s",
                c == 'a'   ? "since"
                : c == 'A' ? "at"
                           : "until",
                optarg, pprof_usage);
        return 2;
      }
      s->has_until |= c != 'a';
      break;
    case 'h': fputs(pprof_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace pprof: option '%s' needs a value\n%s", argv[optind - 1], pprof_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace pprof: unknown option '%s'\n%s", argv[optind - 1], pprof_usage);
      return 2;
    }
  }
  s->traces = argv + optind;
  s->ntraces = optind < argc ? (size_t)(argc - optind) : 0;
  return -1;
}

/* What the options must say together; the default output. @return -1 to
 * go on, or 2 with a message printed. */
static int pprof_check(pprof_state *s) {
  if (!s->has_type) {
    fprintf(stderr,
            "ctrace pprof: missing --type (cpu, heap, allocs, sync, syscall, sched or io)\n%s",
            pprof_usage);
    return 2;
  }
  if (!s->cpu && (s->ca.o.region || s->ca.ndirs)) {
    fprintf(stderr, "ctrace pprof: --%s is for --type cpu, heap or allocs\n%s",
            s->ca.o.region ? "region" : "debug-dir", pprof_usage);
    return 2;
  }
  if (!s->ntraces) {
    fprintf(stderr, "ctrace pprof: missing TRACE\n%s", pprof_usage);
    return 2;
  }
  if (s->has_until && s->o.until <= s->o.since) {
    fprintf(stderr, "ctrace pprof: --until must be after --since\n%s", pprof_usage);
    return 2;
  }
  const char *kind = s->ca.o.heap == CP_HEAP_INUSE    ? "heap"
                     : s->ca.o.heap == CP_HEAP_ALLOCS ? "allocs"
                     : s->cpu                         ? "cpu"
                                                      : pf_type_name(s->type);
  snprintf(s->def_out, sizeof s->def_out, "%s.pb.gz", kind);
  if (!s->out)
    s->out = s->def_out;
  return -1;
}

/* The traces (and their FILE.kernel) opened and indexed, the profile
 * computed, each trace's problem said. @return 0, or 1 with a message
 * printed. */
static int pprof_compute(pprof_state *s) {
  if (!(s->x = cli_index("pprof", s->traces, s->ntraces)))
    return 1;
  if (pf_compute(s->x, s->type, &s->o, &s->p, s->err, sizeof s->err)) {
    fprintf(stderr, "ctrace pprof: %s\n", s->err);
    return 1;
  }
  for (size_t i = 0; i < vx_source_count(s->x); i++) {
    const vx_source *src = vx_source_get(s->x, i);
    if (src->problem)
      fprintf(stderr, "ctrace pprof: %s: warning: %s\n", src->path, src->problem);
  }
  return 0;
}

/* s->gz written to s->out. @return the stream the report goes to (stderr
 * when the profile itself went to stdout), or NULL with a message. */
static FILE *pprof_put(pprof_state *s) {
  if (write_file(s->out, s->gz, s->len)) {
    fprintf(stderr, "ctrace pprof: cannot write %s: %s\n", s->out, strerror(errno));
    return NULL;
  }
  return !strcmp(s->out, "-") ? stderr : stdout;
}

/* The profile encoded and written to s->out, or why there is none.
 * @return 0, or 1 with a message printed. */
static int pprof_write(pprof_state *s) {
  if (!s->p.nsamples) {
    char where[400] = "";
    if (s->o.thread)
      snprintf(where, sizeof where, " of the threads named '%s'", s->o.thread);
    fprintf(stderr, "ctrace pprof: %s%s in %s%s%s\n", nothing[s->type], where, s->traces[0],
            s->o.since || s->o.until ? " (in the window)" : "", not_recorded(s->x, s->type));
    return 1;
  }
  if (pf_encode_pprof(&s->p, &s->gz, &s->len, s->err, sizeof s->err)) {
    fprintf(stderr, "ctrace pprof: %s\n", s->err);
    return 1;
  }
  FILE *f = pprof_put(s);
  if (!f)
    return 1;
  char d[32];
  fprintf(f, "wrote %s: %zu samples (%" PRIu64 " events), %s delay\n",
          f == stderr ? "stdout" : s->out, s->p.nsamples, s->p.count,
          st_fmt_dur(d, sizeof d, s->p.delay));
  return 0;
}

/* --type cpu: the CPU profile computed, encoded and written. @return 0,
 * or 1 with a message printed. */
static int pprof_cpu(pprof_state *s) {
  if (cpu_compute("pprof", s->traces, s->ntraces, &s->ca, &s->x, &s->cp))
    return 1;
  if (cp_encode_pprof(&s->cp, &s->gz, &s->len, s->err, sizeof s->err)) {
    fprintf(stderr, "ctrace pprof: %s\n", s->err);
    return 1;
  }
  FILE *f = pprof_put(s);
  if (!f)
    return 1;
  if (s->cp.heap) {
    const double *v = s->cp.heap_total;
    fprintf(f,
            "wrote %s: %" PRIu64 " heap samples (one every %" PRIu64 " bytes), %zu stacks: "
            "%.0f bytes in %.0f objects in use, %.0f bytes in %.0f objects allocated\n",
            f == stderr ? "stdout" : s->out, s->cp.samples, s->cp.heap_info.rate, s->cp.nstacks,
            v[CP_INUSE_SPACE], v[CP_INUSE_OBJECTS], v[CP_ALLOC_SPACE], v[CP_ALLOC_OBJECTS]);
    return 0;
  }
  fprintf(f,
          "wrote %s: %" PRIu64 " CPU samples at %u Hz (%.2f s of CPU), %zu stacks, %zu "
          "locations\n",
          f == stderr ? "stdout" : s->out, s->cp.samples, s->cp.info.hz,
          (double)(s->cp.samples * s->cp.info.period_ns) / 1e9, s->cp.nstacks, s->cp.nlocs);
  return 0;
}

int ctrace_cmd_pprof(int argc, char **argv) {
  pprof_state s;
  memset(&s, 0, sizeof s);
  int code = pprof_parse(argc, argv, &s);
  if (code < 0)
    code = pprof_check(&s);
  if (code >= 0)
    return code;
  s.ca.o.w = s.o;
  int status = s.cpu ? pprof_cpu(&s) : pprof_compute(&s) || pprof_write(&s) ? 1 : 0;
  free(s.gz);
  cp_free(&s.cp);
  pf_free(&s.p);
  vx_free(s.x);
  return status;
}
