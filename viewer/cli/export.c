/* `ctrace export TRACE... [-o FILE.json] [--strict] [--debug-dir DIR]`:
 * Chrome trace-event JSON of ctrace traces (FILE.kernel with FILE) or of
 * one LTTng trace directory (export.h); the CPU samples' frames named by
 * viewer/analysis's symbolizer (cp_namer), handed to the exporter as its
 * namer. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "export.h"

/* An LTTng trace is a directory (of CTF traces); ours are files. */
static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char export_usage[] =
    "usage: ctrace export TRACE... [-o FILE.json] [--strict] [--debug-dir DIR]\n"
    "  Writes Chrome trace-event JSON (Perfetto UI, chrome://tracing, speedscope).\n"
    "  Several traces (the processes of one run) make one timeline; FILE.kernel\n"
    "  (ctrace run's kernel events) goes with FILE by itself. TRACE may also be an\n"
    "  LTTng trace directory (the session's output), exported on its own.\n"
    "  CPU samples (ctrace run --cpu-hz N) go in stackFrames and samples.\n"
    "  -o FILE          output file (default: stdout; '-' is stdout)\n"
    "  --strict         exit 1 if the trace is not complete (truncated, corrupt, events\n"
    "                   dropped)\n"
    "  --debug-dir DIR  also look for debug information there, to name the samples' frames\n";

/* ---- The samples' names: viewer/analysis's symbolizer as the exporter's namer ---- */

static int name_frames(void *arg, int pid, uint64_t pc, int is_return, cj_frame *out, size_t max) {
  cp_frame_name f[64];
  size_t n = cp_namer_frames(arg, pid, pc, is_return, f, max < 64 ? max : 64);
  if (!n)
    return CTRACE_ENOMEM;
  for (size_t i = 0; i < n; i++)
    out[i] = (cj_frame){f[i].name, f[i].module};
  return (int)n;
}

/* What could not be symbolized, once per file. */
static void namer_report(const cp_namer *nm) {
  for (const char *l = cp_namer_problems(nm); l && *l;) {
    const char *e = strchr(l, '\n');
    int len = e ? (int)(e - l) : (int)strlen(l);
    fprintf(stderr, "ctrace export: warning: %.*s\n", len, l);
    l = e ? e + 1 : l + len;
  }
}

/* What the traces say of themselves once written: warnings, and whether
 * --strict fails. */
static int export_report(te_set *set, const cj_stats *st, const char *first, int strict) {
  const te_source *src = te_set_source(set, 0);
  int incomplete = 0;
  if (src->ctf) {
    if (src->ctf->discarded)
      fprintf(stderr,
              "ctrace export: %s: warning: LTTng discarded %" PRIu64 " events while "
              "recording (its buffers were full; marked in the timeline)\n",
              first, src->ctf->discarded);
    if (src->ctf->discarded_packets)
      fprintf(stderr, "ctrace export: %s: warning: %" PRIu64 " packets were lost\n", first,
              src->ctf->discarded_packets);
    return strict && (src->ctf->discarded || src->ctf->discarded_packets);
  }
  /* The problem may have been found while decoding (opening warned about
   * the framing already; a stream error shows up only now). */
  if (st->dropped)
    fprintf(stderr,
            "ctrace export: %s: warning: %" PRIu64 " events were dropped while "
            "recording (marked in the timeline)\n",
            first, st->dropped);
  for (size_t k = 0; k < te_set_count(set); k++)
    incomplete |= !te_set_source(set, k)->complete;
  return strict && (incomplete || st->dropped);
}

/* The traces given (with FILE.kernel beside each FILE), or one LTTng
 * directory alone. @return the set, or NULL with the message printed. */
static te_set *export_open(char **paths, int n) {
  for (int i = 0; i < n; i++)
    if (is_dir(paths[i]) && n > 1) {
      fprintf(stderr,
              "ctrace export: %s: an LTTng trace directory is exported on its own "
              "(one TRACE)\n",
              paths[i]);
      return NULL;
    }
  size_t nall;
  int *added;
  char **all = te_paths_with_kernel(paths, (size_t)n, &nall, &added);
  if (!all) {
    fprintf(stderr, "ctrace export: out of memory\n");
    return NULL;
  }
  char err[1200];
  te_set *set = te_set_open(all, nall, TE_CTRACE_ONLY, err, sizeof err);
  if (!set)
    fprintf(stderr, "ctrace export: %s\n", err);
  for (size_t i = 0; set && i < nall; i++) {
    const te_source *src = te_set_source(set, i);
    if (src->native && rd_problem(src->native))
      fprintf(stderr, "ctrace export: %s: warning: %s\n", src->path, rd_problem(src->native));
  }
  te_paths_free(all, nall, added);
  return set;
}

/* A namer for the set's samples, or NULL when it has none (or memory ran
 * out: the frames are then addresses, said on stderr). */
static cp_namer *export_namer(te_set *set, const char *const *dirs, size_t ndirs) {
  int samples = 0;
  for (size_t i = 0; i < te_set_count(set); i++) {
    const te_source *src = te_set_source(set, i);
    samples |= src->native && rd_sampling(src->native, NULL, NULL);
  }
  cp_namer *nm = samples ? cp_namer_new(set, dirs, ndirs) : NULL;
  if (samples && !nm)
    fprintf(stderr, "ctrace export: out of memory for the symbols: frames are addresses\n");
  return nm;
}

/* The set exported into out. @return 0, or 1 with the message printed. */
static int export_write(te_set *set, const char *out, const char *const *dirs, size_t ndirs,
                        cj_stats *st) {
  int fd = 1;
  if (strcmp(out, "-") != 0 &&
      (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    fprintf(stderr, "ctrace export: cannot create %s: %s\n", out, strerror(errno));
    return 1;
  }
  cp_namer *nm = export_namer(set, dirs, ndirs);
  cj_options o = {.namer = nm ? name_frames : NULL, .namer_arg = nm};
  char err[1200];
  int r = cj_export_with(set, &o, cj_fd_sink, &fd, st, err, sizeof err);
  if (nm)
    namer_report(nm);
  cp_namer_free(nm);
  if (fd != 1 && close(fd) != 0 && !r) {
    r = -errno;
    snprintf(err, sizeof err, "%s: closing failed: %s", out, strerror(errno));
  }
  if (!r)
    return 0;
  /* (the reader's messages name their trace; a write error names the output) */
  if (strncmp(err, "write failed", 12) == 0)
    fprintf(stderr, "ctrace export: %s: %s\n", out, err);
  else
    fprintf(stderr, "ctrace export: %s\n", err);
  return 1;
}

int ctrace_cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"strict", no_argument, NULL, 's'},
                                       {"debug-dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = "-", *dirs[16];
  size_t ndirs = 0;
  int strict = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 's': strict = 1; break;
    case 'd':
      if (ndirs == sizeof dirs / sizeof dirs[0]) {
        fprintf(stderr, "ctrace export: at most %zu --debug-dir\n", sizeof dirs / sizeof dirs[0]);
        return 2;
      }
      dirs[ndirs++] = optarg;
      break;
    case 'h': fputs(export_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace export: option %s needs a %s\n%s", argv[optind - 1],
              optopt == 'd' ? "directory" : "file name", export_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace export: unknown option '%s'\n%s", argv[optind - 1], export_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace export: missing TRACE\n%s", export_usage);
    return 2;
  }
  for (int i = optind; i < argc; i++)
    if (is_dir(argv[i]) && argc - optind > 1) {
      fprintf(stderr,
              "ctrace export: %s: an LTTng trace directory is exported on its own "
              "(one TRACE)\n",
              argv[i]);
      return 2;
    }
  te_set *set = export_open(argv + optind, argc - optind);
  if (!set)
    return 1;
  cj_stats st;
  int status = export_write(set, out, dirs, ndirs, &st);
  if (!status)
    status = export_report(set, &st, argv[optind], strict);
  te_set_close(set);
  return status;
}
