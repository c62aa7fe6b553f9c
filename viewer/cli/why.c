/* `ctrace why TRACE... (--region NAME [--slowest | --nth K | --all] | --task ID)
 * [--json] [-n N]`: the critical path of a region instance or a task across
 * threads (analysis.h, critical_path.c), as segments in time order and
 * folded by thread and region. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"
#include "ctrace/format.h"

static const char why_usage[] =
    "usage: ctrace why TRACE... (--region NAME [--slowest | --nth K | --all] | --task ID)\n"
    "                  [--json] [-n N]\n"
    "  Why a region instance or a task took as long as it did: its critical path,\n"
    "  walked back from its end through what it waited on, across threads: a lock,\n"
    "  condition variable, semaphore or join to the thread that released it and what\n"
    "  that thread was doing; runnable time to CPU contention (who ran meanwhile);\n"
    "  a system call to the kernel; idle time between regions to the thread whose\n"
    "  arrow (ctrace_flow, a work item's unblock, thread creation) the next region\n"
    "  received. Prints the segments, which add up to the target's duration, then\n"
    "  the same folded by thread and region, largest first.\n"
    "  --region NAME  the region's instances: --slowest (default), --nth K (the\n"
    "                 K-th to begin, from 1), or --all (folded over every instance;\n"
    "                 the path printed is the slowest's)\n"
    "  --task ID      a task (ctrace_task_begin), from its beginning to its end\n"
    "  --json         one JSON object: target, path, by_region\n"
    "  -n N           at most N segments and N folded rows printed (default 40; 0: all)\n";

typedef struct why_args {
  const char *region;
  uint64_t task;
  int has_task, all, json;
  long nth; /* 0: the slowest */
  long top;
} why_args;

static int parse_u64(const char *s, uint64_t *v) {
  char *end;
  if (!*s || *s == '-')
    return -1;
  unsigned long long x = strtoull(s, &end, 0);
  if (*end)
    return -1;
  *v = x;
  return 0;
}

static int why_parse(int argc, char **argv, why_args *a) {
  static const struct option opts[] = {
      {"region", required_argument, NULL, 'r'}, {"task", required_argument, NULL, 'T'},
      {"slowest", no_argument, NULL, 's'},      {"nth", required_argument, NULL, 'k'},
      {"all", no_argument, NULL, 'a'},          {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  a->top = 40;
  int c, picks = 0;
  uint64_t v;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': a->region = optarg; break;
    case 'T':
      if (parse_u64(optarg, &v)) {
        fprintf(stderr, "ctrace why: --task %s: not a task id\n%s", optarg, why_usage);
        return 2;
      }
      a->task = v;
      a->has_task = 1;
      break;
    case 's': picks++; break;
    case 'a':
      a->all = 1;
      picks++;
      break;
    case 'k':
      if (parse_u64(optarg, &v) || v == 0 || v > 1u << 30) {
        fprintf(stderr, "ctrace why: --nth %s: not a number from 1\n%s", optarg, why_usage);
        return 2;
      }
      a->nth = (long)v;
      picks++;
      break;
    case 'j': a->json = 1; break;
    case 'n':
      if (parse_u64(optarg, &v) || v > 1u << 30) {
        fprintf(stderr, "ctrace why: -n %s: not a count\n%s", optarg, why_usage);
        return 2;
      }
      a->top = (long)v;
      break;
    case 'h': fputs(why_usage, stdout); return -1;
    case ':':
      fprintf(stderr, "ctrace why: option '%s' needs a value\n%s", argv[optind - 1], why_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace why: unknown option '%s'\n%s", argv[optind - 1], why_usage);
      return 2;
    }
  }
  const char *bad = NULL;
  if (!a->region == !a->has_task)
    bad = "give either --region NAME or --task ID";
  else if (picks > 1)
    bad = "--slowest, --nth and --all: at most one";
  else if (picks && !a->region)
    bad = "--slowest, --nth and --all choose among a region's instances (--region NAME)";
  else if (optind >= argc)
    bad = "missing TRACE";
  if (bad) {
    fprintf(stderr, "ctrace why: %s\n%s", bad, why_usage);
    return 2;
  }
  return 0;
}

/* ---- Text ------------------------------------------------------------------------- */

static void fmt_ms(char *b, size_t n, uint64_t ns) {
  double ms = (double)ns / 1e6;
  snprintf(b, n, ms >= 100 ? "%.1f ms" : ms >= 1 ? "%.2f ms" : "%.3f ms", ms);
}

static void ran_text(const vx_index *x, const cr_segment *s, char *b, size_t n) {
  b[0] = '\0';
  if (s->state == CR_RUNNABLE && s->ran[0] == UINT32_MAX)
    snprintf(b, n, "no traced thread ran meanwhile: other processes did");
  for (int i = 0; i < 3 && s->ran[i] != UINT32_MAX; i++) {
    char t[96];
    cr_thread_text(x, s->ran[i], t, sizeof t);
    size_t l = strlen(b);
    snprintf(b + l, n - l, "%s%s", i ? ", " : "ran meanwhile: ", t);
  }
}

static void print_path(const vx_index *x, const cr_target *t, const cr_path *p, long top) {
  printf("%12s %10s  %-22s %-16s %-20s %s\n", "start", "time", "thread", "state", "region",
         "how the path came to this thread");
  for (size_t i = 0; i < p->n && (top == 0 || (long)i < top); i++) {
    const cr_segment *s = &p->seg[i];
    char st[32], dur[32], th[96], state[64], via[256], ran[320];
    fmt_ms(st, sizeof st, s->start - t->start);
    fmt_ms(dur, sizeof dur, s->dur);
    cr_thread_text(x, s->track, th, sizeof th);
    cr_state_text(s, state, sizeof state);
    cr_via_text(x, s, via, sizeof via);
    ran_text(x, s, ran, sizeof ran);
    printf("+%11s %10s  %-22s %-16s %-20s %s%s%s\n", st, dur, th, state,
           cr_region_name(x, s->region), ran[0] && s->via == CR_VIA_TARGET ? "" : via,
           ran[0] && s->via != CR_VIA_TARGET ? "; " : "", ran);
  }
  if (top && (long)p->n > top)
    printf("(%zu more segments: -n 0 shows all)\n", p->n - (size_t)top);
}

static void print_fold(const vx_index *x, const cr_fold_row *rows, size_t n, uint64_t total,
                       long top) {
  printf("%7s %10s  %-22s %s\n", "share", "time", "thread", "region");
  for (size_t i = 0; i < n && (top == 0 || (long)i < top); i++) {
    char dur[32], th[96];
    fmt_ms(dur, sizeof dur, rows[i].dur);
    cr_thread_text(x, rows[i].track, th, sizeof th);
    printf("%6.1f%% %10s  %-22s %s\n", total ? 100.0 * (double)rows[i].dur / (double)total : 0.0,
           dur, th, cr_region_name(x, rows[i].region));
  }
  if (top && (long)n > top)
    printf("(%zu more rows: -n 0 shows all)\n", n - (size_t)top);
}

static void print_notes(const vx_index *x, const cr_path *p) {
  int unknown = 0, idle = 0;
  for (size_t i = 0; i < p->n; i++) {
    unknown |= p->seg[i].state == CR_UNKNOWN;
    idle |= p->seg[i].state == CR_IDLE;
  }
  if (unknown)
    printf("note: no scheduler data on some threads: 'running?' is running or runnable "
           "(ctrace run records context switches where perf is allowed)\n");
  if (idle)
    printf("note: 'idle' is time between regions that no recorded arrow or wait explains\n");
  if (p->missing_edges)
    printf("note: %u waits whose releaser was not recorded ('waiting'): the lock wrappers "
           "of ctrace run record it\n",
           p->missing_edges);
  if (p->cut)
    printf("note: the path was cut %u times (chains deeper than the walk follows)\n", p->cut);
  (void)x;
}

static int print_json(const vx_index *x, const cr_target *t, size_t instances, uint64_t total,
                      const cr_path *p, const cr_fold_row *rows, size_t nrows) {
  cJSON *root = cr_json(x, t, instances, total, p, rows, nrows);
  char *s = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!s) {
    fprintf(stderr, "ctrace why: out of memory\n");
    return 1;
  }
  puts(s);
  cJSON_free(s);
  return 0;
}

/* ---- The command -------------------------------------------------------------------- */

/* The targets asked for: one, or every instance with --all. */
static int pick_targets(const vx_index *x, const why_args *a, cr_target **out, size_t *n,
                        size_t *shown) {
  if (a->has_task) {
    char err[256];
    *out = malloc(sizeof **out);
    if (!*out || cr_find_task(x, a->task, *out, err, sizeof err)) {
      fprintf(stderr, "ctrace why: %s\n", *out ? err : "out of memory");
      return 1;
    }
    *n = 1;
    *shown = 0;
    return 0;
  }
  long k = cr_find_region(x, a->region, out);
  if (k < 0) {
    fprintf(stderr, "ctrace why: out of memory\n");
    return 1;
  }
  if (k == 0) {
    fprintf(stderr, "ctrace why: no region called '%s' that ended in the traces\n", a->region);
    return 1;
  }
  if (a->nth > k) {
    fprintf(stderr, "ctrace why: --nth %ld: region '%s' has %ld instances\n", a->nth, a->region, k);
    return 1;
  }
  *n = (size_t)k;
  size_t slow = 0;
  for (size_t i = 1; i < *n; i++)
    if ((*out)[i].dur > (*out)[slow].dur)
      slow = i;
  *shown = a->nth ? (size_t)a->nth - 1 : slow;
  return 0;
}

static int why_report(const vx_index *x, const why_args *a) {
  cr_target *targets = NULL;
  size_t n = 0, shown = 0, nrows = 0;
  int status = pick_targets(x, a, &targets, &n, &shown);
  cr_graph *g = status ? NULL : cr_graph_new(x);
  cr_path shown_path = {0}, p;
  cr_fold_row *rows = NULL;
  uint64_t total = 0;
  if (!status && !g)
    status = 1;
  for (size_t i = 0; !status && i < n; i++) {
    if (!a->all && i != shown)
      continue;
    if (cr_walk(g, &targets[i], &p) || cr_fold_add(&p, &rows, &nrows)) {
      status = 1;
      break;
    }
    total += targets[i].dur;
    if (i == shown)
      shown_path = p;
    else
      cr_path_free(&p);
  }
  if (status && g)
    fprintf(stderr, "ctrace why: out of memory\n");
  if (!status) {
    cr_fold_sort(rows, nrows);
    const cr_target *t = &targets[shown];
    const char *name = cr_region_name(x, t->label);
    if (a->json) {
      status = print_json(x, t, a->all ? n : 1, total, &shown_path, rows, nrows);
    } else {
      char dur[32], th[96], at[32];
      fmt_ms(dur, sizeof dur, t->dur);
      fmt_ms(at, sizeof at, t->start - vx_t0(x));
      cr_thread_text(x, t->track, th, sizeof th);
      if (t->task)
        printf("task %" PRIu64 " \"%s\" ended on %s: %s, from +%s\n", t->task, name, th, dur, at);
      else
        printf("region \"%s\" on %s: %s, from +%s (%s of %zu)\n", name, th, dur, at,
               a->nth ? "as asked" : "the slowest", n);
      printf("\ncritical path, %zu segments:\n", shown_path.n);
      print_path(x, t, &shown_path, a->top);
      if (a->all) {
        fmt_ms(dur, sizeof dur, total);
        printf("\nby thread and region, over all %zu instances (%s):\n", n, dur);
      } else {
        printf("\nby thread and region:\n");
      }
      print_fold(x, rows, nrows, total, a->top);
      print_notes(x, &shown_path);
    }
  }
  cr_path_free(&shown_path);
  free(rows);
  free(targets);
  cr_graph_free(g);
  return status;
}

int ctrace_cmd_why(int argc, char **argv) {
  why_args a;
  int r = why_parse(argc, argv, &a);
  if (r)
    return r < 0 ? 0 : r;
  vx_index *x = cli_index("why", argv + optind, (size_t)(argc - optind));
  if (!x)
    return 1;
  int status = why_report(x, &a);
  vx_free(x);
  return status;
}
