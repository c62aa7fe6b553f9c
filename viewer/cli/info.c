/* `ctrace info TRACE`: what a trace holds (process, threads, events, drops)
 * and whether it is complete; of a ctrace file as it is on disk, or of an
 * LTTng trace directory as the reader counted it. */
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

#include "cli.h"
#include "read.h"

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

static const char info_usage[] = "usage: ctrace info TRACE\n"
                                 "  Prints what a trace holds: process, threads, events, "
                                 "drops, and whether it is complete.\n"
                                 "  TRACE may be an LTTng trace directory.\n";

/* ---- ctrace info DIR: an LTTng trace --------------------------------------------------------- */

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
  printf("trace:     %s (LTTng, %zu CTF trace%s%s)\n", dir, st->ntraces,
         st->ntraces == 1 ? "" : "s", st->kernel ? ", with the kernel's" : "");
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

/* ---- ctrace info FILE: a ctrace trace -------------------------------------------------------- */

/* What info_count counts in a ctrace trace, for the steps that print it. */
typedef struct info_state {
  const char *path;                       /* FILE */
  rd_trace *tr;                           /* (owned) */
  size_t nt;                              /* its threads */
  uint64_t *counts;                       /* events per thread */
  uint64_t *dropped;                      /* dropped events per thread, as the events say */
  char (*names)[CTRACE_FMT_NAME_MAX + 1]; /* per thread, its last name event's */
  uint64_t by_type[CTRACE_FMT_EV_COUNT_]; /* events per type */
  uint64_t total, first, last;            /* events, the first one's and the last's time */
} info_state;

/* The events, counted per thread and type. @return 0, or 1 with a message
 * printed. */
static int info_count(info_state *s) {
  size_t nt = s->nt;
  s->counts = calloc(nt ? nt : 1, sizeof *s->counts);
  s->dropped = calloc(nt ? nt : 1, sizeof *s->dropped);
  s->names = calloc(nt ? nt : 1, sizeof *s->names);
  rd_merge *m = s->counts && s->dropped && s->names ? rd_merge_open(s->tr) : NULL;
  if (!m) {
    fprintf(stderr, "ctrace info: out of memory\n");
    return 1;
  }
  rd_event ev;
  while (rd_merge_next(m, &ev) == 1) {
    if (!s->total)
      s->first = ev.ts;
    s->last = ev.ts;
    s->total++;
    s->counts[ev.thread]++;
    if (ev.type < CTRACE_FMT_EV_COUNT_)
      s->by_type[ev.type]++;
    if (ev.type == CTRACE_FMT_EV_DROPPED)
      s->dropped[ev.thread] += ev.arg[0];
    if (ev.type == CTRACE_FMT_EV_THREAD_NAME)
      snprintf(s->names[ev.thread], sizeof s->names[0], "%.*s", (int)ev.str_len, ev.str);
  }
  rd_merge_close(m);
  return 0;
}

/* The file, the process, the clock; the events and how many of each type. */
static void info_print_header(const info_state *s) {
  rd_trace *tr = s->tr;
  printf("trace:     %s (%" PRIu64 " bytes, format %d.%u)\n", s->path, rd_file_size(tr),
         CTRACE_FMT_VERSION_MAJOR, rd_format_minor(tr));
  if (rd_file_flags(tr) & CTRACE_FMT_FF_FLIGHT)
    printf("recorded:  by the flight recorder: a dump of the last window, not the whole run\n");
  printf("process:   %s (pid %d): %s\n", rd_process_name(tr), rd_pid(tr), rd_command_line(tr));
  printf("clock:     %s, %zu sync points\n",
         rd_clock_kind(tr) == CTRACE_FMT_CLOCK_TSC ? "tsc" : "monotonic", rd_clock_points(tr));
  if (rd_clock_why(tr))
    printf("           %s\n", rd_clock_why(tr));
  printf("span:      %.6f s\n", s->total ? (double)(s->last - s->first) / 1e9 : 0.0);
  printf("events:    %" PRIu64 " in %zu batches\n", s->total, rd_batch_count(tr));
  for (unsigned t = 1; t < CTRACE_FMT_EV_COUNT_; t++)
    if (s->by_type[t])
      printf("  %-18s %" PRIu64 "\n", ctrace_fmt_event_name(t), s->by_type[t]);
}

/* The threads, with their events and drops. @return the drops of all. */
static uint64_t info_print_threads(const info_state *s) {
  uint64_t dtotal = 0;
  printf("threads:   %zu\n", s->nt);
  for (size_t i = 0; i < s->nt; i++) {
    const rd_thread *th = rd_thread_get(s->tr, i);
    uint64_t d = th->dropped > s->dropped[i] ? th->dropped : s->dropped[i];
    dtotal += d;
    const char *name = s->names[i][0] ? s->names[i] : th->name[0] ? th->name : "-";
    printf("  tid %-8d %-20s %10" PRIu64 " events%s", th->tid, name, s->counts[i],
           th->ended ? "  (exited)" : "");
    if (d)
      printf("  %" PRIu64 " dropped", d);
    printf("\n");
  }
  return dtotal;
}

/* What the trace captured, and when the tracer did its own work (its
 * start, its writer thread, its stop). */
static void info_print_capture(const info_state *s) {
  rd_trace *tr = s->tr;
  const rd_capture *cap = rd_capture_get(tr);
  if (cap->present) {
    static const char *const modes[] = {"off", "wrappers", "kernel"};
    printf("capture:   syscalls %s, sched %s, heap %s, locks %s%s%s\n", modes[cap->syscalls % 3],
           modes[cap->sched % 3], cap->heap ? "on" : "off", cap->locks ? "on" : "off",
           cap->why && cap->why[0] ? "; " : "", cap->why ? cap->why : "");
  }
  uint64_t period;
  const char *method;
  unsigned hz = rd_sampling(tr, &period, &method);
  const rd_mapping *maps;
  size_t nmaps = rd_mappings(tr, &maps);
  const rd_ksym *ksyms;
  size_t nksyms = rd_kernel_symbols(tr, &ksyms);
  if (hz)
    printf("samples:   CPU at %u Hz (%.3f ms of CPU each), %s; %zu code mappings, %zu kernel "
           "functions named\n",
           hz, (double)period / 1e6, method ? method : "method not recorded", nmaps, nksyms);
  uint64_t heap_rate = rd_heap_sampling(tr, &method);
  if (heap_rate == 1)
    printf("samples:   heap, every allocation, %s; %zu code mappings\n",
           method ? method : "method not recorded", nmaps);
  else if (heap_rate)
    printf("samples:   heap, one every %" PRIu64 " bytes allocated on average, %s; %zu code "
           "mappings\n",
           heap_rate, method ? method : "method not recorded", nmaps);
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
}

/* `ctrace info FILE`: a ctrace trace as it is on disk. */
static int info_native(const char *path) {
  info_state s = {.path = path};
  if (open_trace("info", path, &s.tr))
    return 1;
  s.nt = rd_thread_count(s.tr);
  int status = info_count(&s);
  if (!status) {
    info_print_header(&s);
    uint64_t dtotal = info_print_threads(&s);
    info_print_capture(&s);
    printf("dropped:   %" PRIu64 "\n", dtotal);
    printf("complete:  %s\n", rd_complete(s.tr) ? "yes" : "no");
    if (rd_problem(s.tr))
      printf("problem:   %s\n", rd_problem(s.tr));
  }
  free(s.counts);
  free(s.dropped);
  free(s.names);
  rd_close(s.tr);
  return status;
}

/* ---- ctrace info ----------------------------------------------------------------------------- */

int ctrace_cmd_info(int argc, char **argv) {
  if (argc != 2 || argv[1][0] == '-') {
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
      fputs(info_usage, stdout);
      return 0;
    }
    fprintf(stderr, "ctrace info: %s\n%s", argc < 2 ? "missing TRACE" : "bad arguments",
            info_usage);
    return 2;
  }
  return is_dir(argv[1]) ? info_ctf(argv[1]) : info_native(argv[1]);
}
