/* `ctrace top TRACE... [--cum] [--lines] [-n N] [--thread NAME]
 * [--region NAME] [--since T] [--until T] [--debug-dir DIR]`: the CPU
 * samples' functions (or source lines), like pprof's top: flat, flat%,
 * sum%, cum, cum%. Also the CPU profile's shared steps (cli.h: cpu_*) that
 * `ctrace pprof --type cpu` takes too. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static const char top_usage[] =
    "usage: ctrace top TRACE... [--cum] [--lines] [-n N] [--thread NAME] [--region NAME]\n"
    "                  [--since T] [--until T] [--debug-dir DIR]\n"
    "  Where the CPU time went, from the CPU samples of ctrace run --cpu-hz N, like\n"
    "  pprof's top: per function, the samples where it was running (flat) and those\n"
    "  where it was on the stack (cum), with their shares and the running sum.\n"
    "  --cum            sort by cum (default: flat)\n"
    "  --lines          per source line instead of per function\n"
    "  -n N             the first N rows (default 20; 0: all)\n"
    "  --thread NAME    only the threads of this name\n"
    "  --region NAME    only samples taken inside a region of this name on their thread\n"
    "  --since T, --until T  the window, seconds after the trace's start (0.5, 20ms)\n"
    "  --debug-dir DIR  also look for debug information there (DIR/.build-id/xx/yyyy.debug)\n"
    "  FILE.kernel (where ctrace run writes the samples) goes with FILE by itself.\n";

int cpu_option(cpu_args *a, int c, const char *arg, const char *cmd, const char *usage) {
  switch (c) {
  case 't': a->o.w.thread = arg; return 0;
  case 'r': a->o.region = arg; return 0;
  case 'd':
    if (a->ndirs == sizeof a->dirs / sizeof a->dirs[0]) {
      fprintf(stderr, "ctrace %s: at most %zu --debug-dir\n", cmd,
              sizeof a->dirs / sizeof a->dirs[0]);
      return 2;
    }
    a->dirs[a->ndirs++] = arg;
    a->o.debug_dirs = a->dirs;
    a->o.ndebug_dirs = a->ndirs;
    return 0;
  case 'a':
  case 'b':
  case 'A': /* --at: the same as --until, named as given */
    if (st_parse_time(arg, c == 'a' ? &a->o.w.since : &a->o.w.until)) {
      fprintf(stderr,
              "ctrace %s: --%s wants seconds after the trace's start (0.5, 20ms), not '%s'\n%s",
              cmd,
              c == 'a'   ? "since"
              : c == 'A' ? "at"
                         : "until",
              arg, usage);
      return 2;
    }
    return 0;
  default: return -1;
  }
}

int cpu_compute(const char *cmd, char **traces, size_t n, const cpu_args *a, struct vx_index **x,
                cp_profile *p) {
  char err[1024];
  if (!(*x = cli_index(cmd, traces, n)))
    return 1;
  if (cp_compute(*x, &a->o, p, err, sizeof err)) {
    fprintf(stderr, "ctrace %s: %s\n", cmd, err);
    return 1;
  }
  /* What could not be named, once per file. */
  for (const char *l = p->problems; l && *l;) {
    const char *e = strchr(l, '\n');
    int len = e ? (int)(e - l) : (int)strlen(l);
    fprintf(stderr, "ctrace %s: warning: %.*s\n", cmd, len, l);
    l = e ? e + 1 : l + len;
  }
  if (!p->samples) {
    fprintf(stderr, "ctrace %s: no %s samples%s%s%s%s%s\n", cmd, a->o.heap ? "heap" : "CPU",
            a->o.w.thread ? " of the threads named " : "", a->o.w.thread ? a->o.w.thread : "",
            a->o.region ? " inside region " : "", a->o.region ? a->o.region : "",
            a->o.w.since || a->o.w.until ? " in the window" : "");
    return 1;
  }
  return 0;
}

/* The rows, printed like pprof's top. */
static void print_top(const cp_profile *p, const cp_top_row *rows, size_t n, size_t show,
                      int by_line) {
  uint64_t total = p->samples, period = p->info.period_ns, sum = 0;
  printf("%" PRIu64 " samples at %u Hz (%.2f s of CPU)%s", total, p->info.hz,
         (double)(total * period) / 1e9, p->partial ? "" : "\n");
  if (p->partial)
    printf("; %" PRIu64 " (%.1f%%) not unwound to their outermost frame\n", p->partial,
           100.0 * (double)p->partial / (double)total);
  printf("%10s %6s %6s %10s %6s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
         by_line ? "function file:line" : "function");
  for (size_t i = 0; i < n && (!show || i < show); i++) {
    const cp_top_row *r = &rows[i];
    sum += r->flat;
    char name[320];
    if (r->name)
      snprintf(name, sizeof name, "%s", r->name);
    else
      cp_location_name(p, r->loc, name, sizeof name);
    char where[400] = "";
    if (by_line && r->file)
      snprintf(where, sizeof where, " %s:%d", r->file, r->line);
    printf("%10.2fs %5.1f%% %5.1f%% %10.2fs %5.1f%%  %s%s\n", (double)(r->flat * period) / 1e9,
           100.0 * (double)r->flat / (double)total, 100.0 * (double)sum / (double)total,
           (double)(r->cum * period) / 1e9, 100.0 * (double)r->cum / (double)total, name, where);
  }
}

int ctrace_cmd_top(int argc, char **argv) {
  static const struct option opts[] = {{"cum", no_argument, NULL, 'c'},
                                       {"lines", no_argument, NULL, 'l'},
                                       {"thread", required_argument, NULL, 't'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"since", required_argument, NULL, 'a'},
                                       {"until", required_argument, NULL, 'b'},
                                       {"debug-dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  cpu_args a;
  memset(&a, 0, sizeof a);
  int cum = 0, lines = 0, c;
  long show = 20;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
    int r = cpu_option(&a, c, optarg, "top", top_usage);
    if (r >= 0) {
      if (r)
        return r;
      continue;
    }
    char *end;
    switch (c) {
    case 'c': cum = 1; break;
    case 'l': lines = 1; break;
    case 'n':
      show = strtol(optarg, &end, 10);
      if (*end || end == optarg || show < 0) {
        fprintf(stderr, "ctrace top: -n wants a count (0: all), not '%s'\n%s", optarg, top_usage);
        return 2;
      }
      break;
    case 'h': fputs(top_usage, stdout); return 0;
    case ':':
      fprintf(stderr, "ctrace top: option '%s' needs a value\n%s", argv[optind - 1], top_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace top: unknown option '%s'\n%s", argv[optind - 1], top_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace top: missing TRACE\n%s", top_usage);
    return 2;
  }
  struct vx_index *x = NULL;
  cp_profile p;
  memset(&p, 0, sizeof p);
  int code = cpu_compute("top", argv + optind, (size_t)(argc - optind), &a, &x, &p);
  if (!code) {
    cp_top_row *rows;
    size_t n = cp_top(&p, lines, cum, &rows);
    if (n == (size_t)-1) {
      fprintf(stderr, "ctrace top: out of memory\n");
      code = 1;
    } else {
      print_top(&p, rows, n, (size_t)show, lines);
      free(rows);
    }
  }
  cp_free(&p);
  vx_free(x);
  return code;
}
