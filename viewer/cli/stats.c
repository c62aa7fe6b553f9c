/* `ctrace stats TRACE...`: the analyses of analysis.h as a terminal report
 * or one JSON object. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "cli.h"
#include "read.h"

static const char stats_usage[] =
    "usage: ctrace stats TRACE... [--top N] [--sort total|self|count|p99] [--thread NAME]\n"
    "                    [--since T] [--until T] [--json] [--index auto|full|scale]\n"
    "  A terminal report: threads (time per state), top regions, tasks, work\n"
    "  items, blocking waits, syscalls, heap and who allocated, GC-like phases'\n"
    "  minimum mutator utilization, dropped events. FILE.kernel (ctrace run's\n"
    "  kernel events) goes with FILE by itself.\n"
    "  --top N         rows shown per table (default 20; 0: all)\n"
    "  --sort KEY      order of the regions: total (default), self, count, p99\n"
    "  --thread NAME   only the threads of this name\n"
    "  --since T       window start, seconds after the trace's start (0.5, 20ms, 300us)\n"
    "  --until T       window end, the same way\n"
    "  --json          the same as one JSON object (times in ns)\n" CLI_INDEX_USAGE
    "                  (through it: the threads and the regions only)\n";

/* ---- ctrace stats ---------------------------------------------------------------------------- */

/* ctrace stats, from its options to its report: what each step leaves
 * for the next. */
typedef struct stats_state {
  st_options o;        /* --thread, --since, --until */
  st_sort_key key;     /* --sort */
  size_t top;          /* --top */
  int json, has_until; /* --json; --until was given */
  const char *index;   /* --index */
  char **traces;       /* TRACE... (in argv) */
  size_t ntraces;      /* their count */
  vx_index *x;         /* the traces indexed (owned) */
  char err[1024];      /* what failed */
} stats_state;

/* --top's value. @return 0, or -1 if it is not a count. */
static int parse_top(const char *arg, size_t *top) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (!*arg || *end || errno || arg[0] == '-')
    return -1;
  *top = (size_t)v;
  return 0;
}

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int stats_parse(int argc, char **argv, stats_state *s) {
  static const struct option opts[] = {{"top", required_argument, NULL, 'n'},
                                       {"sort", required_argument, NULL, 's'},
                                       {"thread", required_argument, NULL, 't'},
                                       {"since", required_argument, NULL, 'a'},
                                       {"until", required_argument, NULL, 'b'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"index", required_argument, NULL, 'I'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'n':
      if (parse_top(optarg, &s->top)) {
        fprintf(stderr, "ctrace stats: --top wants a count, not '%s'\n%s", optarg, stats_usage);
        return 2;
      }
      break;
    case 's':
      if (st_sort_parse(optarg, &s->key)) {
        fprintf(stderr, "ctrace stats: --sort is total, self, count or p99, not '%s'\n%s", optarg,
                stats_usage);
        return 2;
      }
      break;
    case 't': s->o.thread = optarg; break;
    case 'a':
    case 'b':
      if (st_parse_time(optarg, c == 'a' ? &s->o.since : &s->o.until)) {
        fprintf(stderr,
                "ctrace stats: --%s wants seconds after the trace's start (0.5, 20ms), "
                "not '%s'\n%s",
                c == 'a' ? "since" : "until", optarg, stats_usage);
        return 2;
      }
      s->has_until |= c == 'b';
      break;
    case 'j': s->json = 1; break;
    case 'I':
      if (strcmp(optarg, "auto") && strcmp(optarg, "full") && strcmp(optarg, "scale")) {
        fprintf(stderr, "ctrace stats: --index %s: auto, full or scale\n%s", optarg, stats_usage);
        return 2;
      }
      s->index = optarg;
      break;
    case 'h': fputs(stats_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace stats: option '%s' needs a value\n%s", argv[optind - 1], stats_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace stats: unknown option '%s'\n%s", argv[optind - 1], stats_usage);
      return 2;
    }
  }
  s->traces = argv + optind;
  s->ntraces = optind < argc ? (size_t)(argc - optind) : 0;
  return -1;
}

/* What the options must say together. @return -1 to go on, or 2 with a
 * message printed. */
static int stats_check(const stats_state *s) {
  if (!s->ntraces) {
    fprintf(stderr, "ctrace stats: missing TRACE\n%s", stats_usage);
    return 2;
  }
  if (s->has_until && s->o.until <= s->o.since) {
    fprintf(stderr, "ctrace stats: --until must be after --since\n%s", stats_usage);
    return 2;
  }
  return -1;
}

/* With CPU samples (ctrace run --cpu-hz): their profile over the window
 * and threads asked for. @return 0, or -1 (none, or said on stderr). */
static int stats_cpu_profile(stats_state *s, cp_profile *p) {
  if (!vx_cpu(s->x).samples)
    return -1;
  cp_options o = {.w = s->o};
  char err[400];
  if (cp_compute(s->x, &o, p, err, sizeof err)) {
    fprintf(stderr, "ctrace stats: CPU samples: %s\n", err);
    return -1;
  }
  return 0;
}

/* The top functions, and the samples per innermost region (text). */
static void stats_cpu_text(stats_state *s, const cp_profile *p, FILE *f) {
  size_t top = s->top ? s->top : SIZE_MAX; /* (--top 0: all) */
  cp_top_row *rows;
  size_t n = cp_top(p, 0, 0, &rows);
  uint64_t total = p->samples ? p->samples : 1;
  fprintf(f, "\nCPU samples: %" PRIu64 " at %u Hz (%.2f s of CPU); top functions (ctrace top):\n",
          p->samples, p->info.hz, (double)(p->samples * p->info.period_ns) / 1e9);
  fprintf(f, "  %6s %6s  %s\n", "flat%", "cum%", "function");
  for (size_t i = 0; n != (size_t)-1 && i < n && i < top && i < 10; i++) {
    char name[320];
    if (rows[i].name)
      snprintf(name, sizeof name, "%s", rows[i].name);
    else
      cp_location_name(p, rows[i].loc, name, sizeof name);
    fprintf(f, "  %5.1f%% %5.1f%%  %s\n", 100.0 * (double)rows[i].flat / (double)total,
            100.0 * (double)rows[i].cum / (double)total, name);
  }
  if (n != (size_t)-1)
    free(rows);
  cp_region_row *reg;
  size_t nr = cp_regions(s->x, &s->o, &reg);
  if (nr == (size_t)-1 || !nr)
    return;
  fprintf(f, "on-CPU samples by innermost region:\n  %10s %6s  %s\n", "samples", "share", "region");
  for (size_t i = 0; i < nr && i < top; i++)
    fprintf(f, "  %10" PRIu64 " %5.1f%%  %s\n", reg[i].samples,
            100.0 * (double)reg[i].samples / (double)total,
            reg[i].name ? reg[i].name : "(outside every region)");
  free(reg);
}

/* The report as one JSON object, with "cpu" (cp_json) when the traces
 * hold CPU samples. @return 0, or -1 (memory, or writing failed). */
static int stats_json(stats_state *s, const st_report *r, FILE *f) {
  cJSON *root = st_json(s->x, r, s->top, s->key);
  cp_profile p;
  if (root && !stats_cpu_profile(s, &p)) {
    cJSON *c = cp_json(s->x, &s->o, &p, s->top ? s->top : SIZE_MAX);
    cp_free(&p);
    if (!c || !cJSON_AddItemToObject(root, "cpu", c)) {
      cJSON_Delete(c);
      cJSON_Delete(root);
      return -1;
    }
  }
  char *text = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text)
    return -1;
  fputs(text, f);
  fputc('\n', f);
  cJSON_free(text);
  return fflush(f) || ferror(f) ? -1 : 0;
}

/* The traces (and their FILE.kernel) opened and indexed, the report
 * computed and printed. @return 0, or 1 with a message printed. */
static int stats_report(stats_state *s) {
  size_t n;
  int *added;
  char **all = te_paths_with_kernel(s->traces, s->ntraces, &n, &added);
  int scale = all ? cli_scale("stats", s->index, all, n) : 0;
  if (all)
    te_paths_free(all, n, added);
  if (scale < 0)
    return 2;
  if (scale)
    return cli_stats_scale(s->traces[0], &s->o, s->top, s->key, s->json);
  if (!(s->x = cli_index("stats", s->traces, s->ntraces)))
    return 1;
  st_report r;
  if (st_compute(s->x, &s->o, &r, s->err, sizeof s->err)) {
    fprintf(stderr, "ctrace stats: %s\n", s->err);
    return 1;
  }
  st_sort(&r, s->key);
  int status = 0;
  if (s->json ? stats_json(s, &r, stdout) : st_print_text(stdout, s->x, &r, s->top, s->key)) {
    fprintf(stderr, "ctrace stats: writing the report failed: %s\n", strerror(errno));
    status = 1;
  }
  cp_profile p;
  if (!s->json && !stats_cpu_profile(s, &p)) {
    stats_cpu_text(s, &p, stdout);
    cp_free(&p);
  }
  st_free(&r);
  return status;
}

int ctrace_cmd_stats(int argc, char **argv) {
  stats_state s = {.key = ST_SORT_TOTAL, .top = 20};
  int code = stats_parse(argc, argv, &s);
  if (code < 0)
    code = stats_check(&s);
  if (code >= 0)
    return code;
  int status = stats_report(&s);
  vx_free(s.x);
  return status;
}
