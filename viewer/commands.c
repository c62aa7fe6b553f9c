/* `ctrace export` and `ctrace info`, of ctrace traces and of LTTng trace
 * directories (ctf.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chrome_json.h"
#include "commands.h"
#include "ctf.h"
#include "events.h"
#include "reader.h"

/* An LTTng trace is a directory (of CTF traces); ours are files. */
static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_trace(const char *cmd, const char *path, rd_trace **tr) {
  char err[600];
  int r = rd_open(path, 0, tr, err, sizeof err);
  if (r) {
    fprintf(stderr, "ctrace %s: %s: %s\n", cmd, path, err);
    return 1;
  }
  if (rd_problem(*tr))
    fprintf(stderr, "ctrace %s: %s: warning: %s\n", cmd, path, rd_problem(*tr));
  return 0;
}


static const char export_usage[] =
    "usage: ctrace export TRACE... [-o FILE.json] [--strict]\n"
    "  Writes Chrome trace-event JSON (Perfetto UI, chrome://tracing, speedscope).\n"
    "  Several traces (the processes of one run) make one timeline; FILE.kernel\n"
    "  (ctrace run's kernel events) goes with FILE by itself. TRACE may also be an\n"
    "  LTTng trace directory (the session's output), exported on its own.\n"
    "  -o FILE    output file (default: stdout; '-' is stdout)\n"
    "  --strict   exit 1 if the trace is not complete (truncated, corrupt, events dropped)\n";

/* What the traces say of themselves once written: warnings, and whether
 * --strict fails. */
static int export_report(te_set *set, const cj_stats *st, const char *first, int strict) {
  const te_source *src = te_set_source(set, 0);
  int incomplete = 0;
  if (src->ctf) {
    if (src->ctf->discarded)
      fprintf(stderr, "ctrace export: %s: warning: LTTng discarded %" PRIu64 " events while "
              "recording (its buffers were full; marked in the timeline)\n", first,
              src->ctf->discarded);
    if (src->ctf->discarded_packets)
      fprintf(stderr, "ctrace export: %s: warning: %" PRIu64 " packets were lost\n", first,
              src->ctf->discarded_packets);
    return strict && (src->ctf->discarded || src->ctf->discarded_packets);
  }
  /* The problem may have been found while decoding (opening warned about
   * the framing already; a stream error shows up only now). */
  if (st->dropped)
    fprintf(stderr, "ctrace export: %s: warning: %" PRIu64 " events were dropped while "
            "recording (marked in the timeline)\n", first, st->dropped);
  for (size_t k = 0; k < te_set_count(set); k++)
    incomplete |= !te_set_source(set, k)->complete;
  return strict && (incomplete || st->dropped);
}

/* The traces given (with FILE.kernel beside each FILE), or one LTTng
 * directory alone. @return the set, or NULL with the message printed. */
static te_set *export_open(char **paths, int n) {
  for (int i = 0; i < n; i++)
    if (is_dir(paths[i]) && n > 1) {
      fprintf(stderr, "ctrace export: %s: an LTTng trace directory is exported on its own "
                      "(one TRACE)\n", paths[i]);
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

int ctrace_cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"strict", no_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = "-";
  int strict = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case 's': strict = 1; break;
    case 'h': fputs(export_usage, stdout); return 0;
    default:
      if (optopt == 'o')
        fprintf(stderr, "ctrace export: option -o needs a file name\n%s", export_usage);
      else
        fprintf(stderr, "ctrace export: unknown option '%s'\n%s", argv[optind - 1],
                export_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace export: missing TRACE\n%s", export_usage);
    return 2;
  }
  for (int i = optind; i < argc; i++)
    if (is_dir(argv[i]) && argc - optind > 1) {
      fprintf(stderr, "ctrace export: %s: an LTTng trace directory is exported on its own "
                      "(one TRACE)\n", argv[i]);
      return 2;
    }
  te_set *set = export_open(argv + optind, argc - optind);
  if (!set)
    return 1;
  int fd = 1;
  if (strcmp(out, "-") != 0 &&
      (fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
    fprintf(stderr, "ctrace export: cannot create %s: %s\n", out, strerror(errno));
    te_set_close(set);
    return 1;
  }
  cj_stats st;
  char err[1200];
  int r = cj_export(set, cj_fd_sink, &fd, &st, err, sizeof err);
  if (fd != 1 && close(fd) != 0 && !r) {
    r = -errno;
    snprintf(err, sizeof err, "%s: closing failed: %s", out, strerror(errno));
  }
  int status = 0;
  if (r) {
    /* (the reader's messages name their trace; a write error names the output) */
    if (strncmp(err, "write failed", 12) == 0)
      fprintf(stderr, "ctrace export: %s: %s\n", out, err);
    else
      fprintf(stderr, "ctrace export: %s\n", err);
    status = 1;
  } else {
    status = export_report(set, &st, argv[optind], strict);
  }
  te_set_close(set);
  return status;
}

static const char info_usage[] = "usage: ctrace info TRACE\n"
                                 "  Prints what a trace holds: process, threads, events, "
                                 "drops, and whether it is complete.\n"
                                 "  TRACE may be an LTTng trace directory.\n";

static int count_only(void *arg, const te_source *src, const te_event *ev) {
  (void)arg;
  (void)src;
  (void)ev;
  return 0;
}

/* `ctrace info DIR`: an LTTng trace, read through the converter. */
static int info_ctf(const char *dir) {
  char *paths[1] = {(char *)dir}, err[1200];
  te_set *set = te_set_open(paths, 1, 0, err, sizeof err);
  int r = set ? te_set_read(set, count_only, NULL, err, sizeof err) : -1;
  if (r) {
    fprintf(stderr, "ctrace info: %s\n", err);
    te_set_close(set);
    return 1;
  }
  const ctf_stats *st = te_set_source(set, 0)->ctf;
  printf("trace:     %s (LTTng, %zu CTF trace%s%s)\n", dir, st->ntraces, st->ntraces == 1 ? "" : "s",
         st->kernel ? ", with the kernel's" : "");
  printf("span:      %.6f s\n", st->events_read ? (double)(st->last_ns - st->first_ns) / 1e9 : 0.0);
  printf("events:    %" PRIu64 "\n", st->events_read);
  for (size_t i = 0; i < st->nnames; i++)
    printf("  %-40s %" PRIu64 "\n", st->by_name[i].name, st->by_name[i].n);
  printf("processes: %zu\n", st->nprocs);
  for (size_t i = 0; i < st->nprocs; i++) {
    const ctf_process *p = &st->procs[i];
    printf("  pid %-8d %-20s %4u thread%s %10" PRIu64 " events", p->pid, p->name[0] ? p->name : "-",
           p->threads, p->threads == 1 ? " " : "s", p->events);
    if (p->discarded)
      printf("  %" PRIu64 " discarded", p->discarded);
    printf("\n");
  }
  printf("dropped:   %" PRIu64 " (events LTTng discarded: its buffers were full)\n", st->discarded);
  if (st->discarded_packets)
    printf("lost:      %" PRIu64 " packets\n", st->discarded_packets);
  printf("complete:  %s\n", st->discarded || st->discarded_packets ? "no" : "yes");
  te_set_close(set);
  return 0;
}

int ctrace_cmd_info(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    if (argc == 2 && strcmp(argv[1], "--help") == 0) {
      fputs(info_usage, stdout);
      return 0;
    }
    fprintf(stderr, "ctrace info: %s\n%s", argc < 2 ? "missing TRACE" : "bad arguments",
            info_usage);
    return 2;
  }
  if (is_dir(argv[1]))
    return info_ctf(argv[1]);
  rd_trace *tr;
  if (open_trace("info", argv[1], &tr))
    return 1;
  size_t nt = rd_thread_count(tr);
  uint64_t *counts = calloc(nt ? nt : 1, sizeof *counts);
  uint64_t *dropped = calloc(nt ? nt : 1, sizeof *dropped);
  char(*names)[CTRACE_FMT_NAME_MAX + 1] = calloc(nt ? nt : 1, sizeof *names);
  uint64_t by_type[CTRACE_FMT_EV_COUNT_] = {0};
  uint64_t total = 0, first = 0, last = 0;
  rd_merge *m = counts && dropped && names ? rd_merge_open(tr) : NULL;
  if (!m) {
    fprintf(stderr, "ctrace info: out of memory\n");
    free(counts);
    free(dropped);
    free(names);
    rd_close(tr);
    return 1;
  }
  rd_event ev;
  while (rd_merge_next(m, &ev) == 1) {
    if (!total)
      first = ev.ts;
    last = ev.ts;
    total++;
    counts[ev.thread]++;
    if (ev.type < CTRACE_FMT_EV_COUNT_)
      by_type[ev.type]++;
    if (ev.type == CTRACE_FMT_EV_DROPPED)
      dropped[ev.thread] += ev.arg[0];
    if (ev.type == CTRACE_FMT_EV_THREAD_NAME)
      snprintf(names[ev.thread], sizeof names[0], "%.*s", (int)ev.str_len, ev.str);
  }
  rd_merge_close(m);
  printf("trace:     %s (%" PRIu64 " bytes, format %d.%u)\n", argv[1], rd_file_size(tr),
         CTRACE_FMT_VERSION_MAJOR, rd_format_minor(tr));
  if (rd_file_flags(tr) & CTRACE_FMT_FF_FLIGHT)
    printf("recorded:  by the flight recorder: a dump of the last window, not the whole run\n");
  printf("process:   %s (pid %d): %s\n", rd_process_name(tr), rd_pid(tr), rd_command_line(tr));
  printf("clock:     %s, %zu sync points\n",
         rd_clock_kind(tr) == CTRACE_FMT_CLOCK_TSC ? "tsc" : "monotonic", rd_clock_points(tr));
  printf("span:      %.6f s\n", total ? (double)(last - first) / 1e9 : 0.0);
  printf("events:    %" PRIu64 " in %zu batches\n", total, rd_batch_count(tr));
  for (unsigned t = 1; t < CTRACE_FMT_EV_COUNT_; t++)
    if (by_type[t])
      printf("  %-18s %" PRIu64 "\n", ctrace_fmt_event_name(t), by_type[t]);
  uint64_t dtotal = 0;
  printf("threads:   %zu\n", nt);
  for (size_t i = 0; i < nt; i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    uint64_t d = th->dropped > dropped[i] ? th->dropped : dropped[i];
    dtotal += d;
    const char *name = names[i][0] ? names[i] : th->name[0] ? th->name : "-";
    printf("  tid %-8d %-20s %10" PRIu64 " events%s", th->tid, name, counts[i],
           th->ended ? "  (exited)" : "");
    if (d)
      printf("  %" PRIu64 " dropped", d);
    printf("\n");
  }
  const rd_capture *cap = rd_capture_get(tr);
  if (cap->present) {
    static const char *const modes[] = {"off", "wrappers", "kernel"};
    printf("capture:   syscalls %s, sched %s, heap %s, locks %s%s%s\n", modes[cap->syscalls % 3],
           modes[cap->sched % 3], cap->heap ? "on" : "off", cap->locks ? "on" : "off",
           cap->why && cap->why[0] ? "; " : "", cap->why ? cap->why : "");
  }
  const rd_span *sp;
  size_t nsp = rd_tracer_spans(tr, &sp);
  for (size_t i = 0; i < nsp; i++) {
    if (sp[i].whole)
      printf("tracer:    tid %d (the whole thread)\n", sp[i].tid);
    else if (sp[i].to == UINT64_MAX)
      printf("tracer:    tid %d from %.6f s to the end\n", sp[i].tid,
             (double)(int64_t)(sp[i].from - rd_start_ns(tr)) / 1e9);
    else
      printf("tracer:    tid %d from %.6f s for %.6f s\n", sp[i].tid,
             (double)(int64_t)(sp[i].from - rd_start_ns(tr)) / 1e9,
             (double)(sp[i].to - sp[i].from) / 1e9);
  }
  printf("dropped:   %" PRIu64 "\n", dtotal);
  printf("complete:  %s\n", rd_complete(tr) ? "yes" : "no");
  if (rd_problem(tr))
    printf("problem:   %s\n", rd_problem(tr));
  free(counts);
  free(dropped);
  free(names);
  rd_close(tr);
  return 0;
}
