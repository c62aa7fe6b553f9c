/* `ctrace stats TRACE...`: the analyses of analysis.h as a terminal report
 * or one JSON object. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static const char stats_usage[] =
    "usage: ctrace stats TRACE... [--top N] [--sort total|self|count|p99] [--thread NAME]\n"
    "                    [--since T] [--until T] [--json]\n"
    "  A terminal report: threads (time per state), top regions, tasks, work\n"
    "  items, blocking waits, syscalls, heap and who allocated, GC-like phases'\n"
    "  minimum mutator utilization, dropped events. FILE.kernel (ctrace run's\n"
    "  kernel events) goes with FILE by itself.\n"
    "  --top N         rows shown per table (default 20; 0: all)\n"
    "  --sort KEY      order of the regions: total (default), self, count, p99\n"
    "  --thread NAME   only the threads of this name\n"
    "  --since T       window start, seconds after the trace's start (0.5, 20ms, 300us)\n"
    "  --until T       window end, the same way\n"
    "  --json          the same as one JSON object (times in ns)\n";

int ctrace_cmd_stats(int argc, char **argv) {
  static const struct option opts[] = {{"top", required_argument, NULL, 'n'},
                                       {"sort", required_argument, NULL, 's'},
                                       {"thread", required_argument, NULL, 't'},
                                       {"since", required_argument, NULL, 'a'},
                                       {"until", required_argument, NULL, 'b'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  st_options o = {0};
  st_sort_key key = ST_SORT_TOTAL;
  size_t top = 20;
  int json = 0, has_until = 0, c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'n': {
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (!*optarg || *end || errno || optarg[0] == '-') {
        fprintf(stderr, "ctrace stats: --top wants a count, not '%s'\n%s", optarg, stats_usage);
        return 2;
      }
      top = (size_t)v;
      break;
    }
    case 's':
      if (st_sort_parse(optarg, &key)) {
        fprintf(stderr, "ctrace stats: --sort is total, self, count or p99, not '%s'\n%s",
                optarg, stats_usage);
        return 2;
      }
      break;
    case 't': o.thread = optarg; break;
    case 'a':
    case 'b':
      if (st_parse_time(optarg, c == 'a' ? &o.since : &o.until)) {
        fprintf(stderr, "ctrace stats: --%s wants seconds after the trace's start (0.5, 20ms), "
                        "not '%s'\n%s", c == 'a' ? "since" : "until", optarg, stats_usage);
        return 2;
      }
      has_until |= c == 'b';
      break;
    case 'j': json = 1; break;
    case 'h': fputs(stats_usage, stdout); return 0;
    default:
      if (optopt)
        fprintf(stderr, "ctrace stats: option '%s' needs a value\n%s", argv[optind - 1],
                stats_usage);
      else
        fprintf(stderr, "ctrace stats: unknown option '%s'\n%s", argv[optind - 1], stats_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace stats: missing TRACE\n%s", stats_usage);
    return 2;
  }
  if (has_until && o.until <= o.since) {
    fprintf(stderr, "ctrace stats: --until must be after --since\n%s", stats_usage);
    return 2;
  }
  size_t n = 0, given = (size_t)(argc - optind);
  int *added = NULL;
  char **paths = cli_with_kernel("stats", argv + optind, given, &n, &added);
  if (!paths) {
    fprintf(stderr, "ctrace stats: out of memory\n");
    return 1;
  }
  char err[1024] = "";
  int status = 0;
  vx_index *x = vx_build(paths, n, err, sizeof err);
  st_report r;
  if (!x) {
    fprintf(stderr, "ctrace stats: %s\n", err[0] ? err : "indexing failed");
    status = 1;
  } else if (st_compute(x, &o, &r, err, sizeof err)) {
    fprintf(stderr, "ctrace stats: %s\n", err);
    status = 1;
  } else {
    for (size_t i = 0; i < vx_source_count(x); i++) {
      const vx_source *s = vx_source_get(x, i);
      if (s->problem)
        fprintf(stderr, "ctrace stats: %s: warning: %s\n", s->path, s->problem);
    }
    st_sort(&r, key);
    int w = json ? st_print_json(stdout, x, &r, top, key) : st_print_text(stdout, x, &r, top, key);
    if (w) {
      fprintf(stderr, "ctrace stats: writing the report failed: %s\n", strerror(errno));
      status = 1;
    }
    st_free(&r);
  }
  vx_free(x);
  te_paths_free(paths, n, added);
  return status;
}
