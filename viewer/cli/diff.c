/* `ctrace diff BASE... -- NEW...`: what got slower between two sets of
 * traces (analysis.h: df_compute), as a table or JSON; exits 1 when
 * something regressed, so that CI can gate on a trace. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "cli.h"

static const char diff_usage[] =
    "usage: ctrace diff BASE... -- NEW... [--metric p50|p99|total|count]\n"
    "                   [--threshold PCT] [--min-change T] [--top N] [--json]\n"
    "  Matches the regions, tasks, waits and system calls of two runs by name\n"
    "  (and the functions of their CPU samples, by samples) and prints, largest\n"
    "  regression first, their count, total, p50 and p99 before -> after.\n"
    "  Each side may be several files (FILE, FILE.kernel, FILE.PID);\n"
    "  FILE.kernel goes with FILE by itself. Options may come before or\n"
    "  after the files.\n"
    "  --metric M      what a regression is of: p50 (default), p99, total, count\n"
    "  --threshold PCT the change that counts, in percent (default 10)\n"
    "  --min-change T  ... and, for durations, at least this long (default 0;\n"
    "                  1us, 0.5ms): two runs of one program can differ by\n"
    "                  100 ns or more in sub-microsecond regions\n"
    "  --top N         rows shown (default 50, every regression at least; 0: all)\n"
    "  --json          the same as one JSON object, every row (times in ns)\n"
    "  A change is a regression only when it is significant given the\n"
    "  instances' spread (alpha 0.01): a Mann-Whitney U test of the durations\n"
    "  (p50, p99; p99 also a test of its tail), a Poisson test of the counts\n"
    "  (count; functions' samples), both (total).\n"
    "  Exit status: 0 nothing regressed, 1 something did, 2 bad usage or a\n"
    "  trace that cannot be read.\n";

/* What the command line says. */
typedef struct diff_args {
  df_options o;
  int json;
  size_t top;     /* --top */
  char **side[2]; /* BASE..., NEW... (pointers into argv) */
  size_t n[2];
  int split; /* the `--` was seen */
} diff_args;

static int usage_error(const char *fmt, const char *what) {
  fputs("ctrace diff: ", stderr);
  fprintf(stderr, fmt, what);
  fprintf(stderr, "\n%s", diff_usage);
  return 2;
}

/* An option's value: after '=' or the next argument. NULL when missing. */
static const char *value_of(int argc, char **argv, int *i, const char *eq) {
  if (eq)
    return eq + 1;
  return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Takes argv[*i], an option. @return -1 taken, 0 after --help, 2 bad. */
static int take_option(int argc, char **argv, int *i, diff_args *a) {
  const char *arg = argv[*i], *eq = strchr(arg, '=');
  size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
  if (!strncmp(arg, "--json", len) && len == 6 && !eq) {
    a->json = 1;
    return -1;
  }
  if ((len == 6 && !strncmp(arg, "--help", len)) || !strcmp(arg, "-h")) {
    fputs(diff_usage, stdout);
    return 0;
  }
  int metric = len == 8 && !strncmp(arg, "--metric", len);
  int thresh = len == 11 && !strncmp(arg, "--threshold", len);
  int mchange = len == 12 && !strncmp(arg, "--min-change", len);
  int top = len == 5 && !strncmp(arg, "--top", len);
  if (!metric && !thresh && !mchange && !top)
    return usage_error("unknown option '%s'", arg);
  const char *v = value_of(argc, argv, i, eq);
  if (!v)
    return usage_error("option '%s' needs a value", metric   ? "--metric"
                                                    : thresh ? "--threshold"
                                                    : top    ? "--top"
                                                             : "--min-change");
  if (top) {
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-')
      return usage_error("--top wants a count, not '%s'", v);
    a->top = (size_t)n;
  }
  if (mchange && st_parse_time(v, &a->o.min_change_ns))
    return usage_error("--min-change wants a duration (1us, 0.5ms, 200ns), not '%s'", v);
  if (metric && df_metric_parse(v, &a->o.metric))
    return usage_error("--metric is p50, p99, total or count, not '%s'", v);
  if (thresh) {
    char *end;
    errno = 0;
    double t = strtod(v, &end);
    if (end == v || (*end && strcmp(end, "%")) || errno || !isfinite(t) || t < 0)
      return usage_error("--threshold wants a percentage (10, 2.5), not '%s'", v);
    a->o.threshold_pct = t;
  }
  return -1;
}

/* argv into a. @return -1 to go on, 0 after --help, or 2 with a message. */
static int diff_parse(int argc, char **argv, diff_args *a) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (!strcmp(arg, "--") && !a->split) {
      a->split = 1;
      continue;
    }
    if (arg[0] == '-' && arg[1]) {
      int r = take_option(argc, argv, &i, a);
      if (r >= 0)
        return r;
      continue;
    }
    if (!a->side[a->split])
      a->side[a->split] = calloc((size_t)argc, sizeof *a->side[0]);
    if (!a->side[a->split]) {
      fputs("ctrace diff: out of memory\n", stderr);
      return 2;
    }
    a->side[a->split][a->n[a->split]++] = argv[i];
  }
  if (!a->split)
    return usage_error("%s", "missing '--' between the base traces and the new ones");
  if (!a->n[0] || !a->n[1])
    return usage_error("no %s trace given", !a->n[0] ? "base" : "new");
  return -1;
}

/* Each side's files must be readable before indexing: a clear message
 * naming the file. @return -1 to go on, or 2 with a message. */
static int check_files(const diff_args *a) {
  for (int s = 0; s < 2; s++)
    for (size_t i = 0; i < a->n[s]; i++)
      if (access(a->side[s][i], R_OK)) {
        fprintf(stderr, "ctrace diff: %s trace %s: %s\n", s ? "new" : "base", a->side[s][i],
                strerror(errno));
        return 2;
      }
  return -1;
}

static int print_report(const diff_args *a, const df_report *r) {
  if (!a->json)
    return df_print_text(stdout, r, a->top);
  cJSON *j = df_json(r);
  char *s = j ? cJSON_Print(j) : NULL;
  cJSON_Delete(j);
  if (!s)
    return -1;
  puts(s);
  cJSON_free(s);
  return fflush(stdout) || ferror(stdout) ? -1 : 0;
}

int ctrace_cmd_diff(int argc, char **argv) {
  diff_args a = {.o = {.metric = DF_P50, .threshold_pct = DF_THRESHOLD, .alpha = DF_ALPHA},
                 .top = 50};
  int rc = diff_parse(argc, argv, &a);
  if (rc < 0)
    rc = check_files(&a);
  vx_index *x[2] = {NULL, NULL};
  for (int s = 0; rc < 0 && s < 2; s++)
    if (!(x[s] = cli_index("diff", a.side[s], a.n[s])))
      rc = 2; /* (cli_index named the file and the problem) */
  if (rc < 0) {
    df_report r;
    char err[256];
    if (df_compute(x[0], x[1], &a.o, &r, err, sizeof err)) {
      fprintf(stderr, "ctrace diff: %s\n", err);
      rc = 2;
    } else {
      rc = print_report(&a, &r) ? 2 : r.nregressed ? 1 : 0;
      if (rc == 2)
        fprintf(stderr, "ctrace diff: cannot write the report: %s\n", strerror(errno));
      df_free(&r);
    }
  }
  vx_free(x[0]);
  vx_free(x[1]);
  free(a.side[0]);
  free(a.side[1]);
  return rc;
}
