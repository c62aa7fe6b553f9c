/* `ctrace leaks TRACE... [--at T] [-n N] [--thread NAME] [--debug-dir DIR]`:
 * what was still allocated when the program exited (or at --at T), by call
 * stack, estimated from the heap samples (ctrace run --heap-rate) the way
 * Go scales them, largest first: the leak view of a heap profile. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static const char leaks_usage[] =
    "usage: ctrace leaks TRACE... [--at T] [-n N] [--thread NAME] [--debug-dir DIR]\n"
    "  What was still allocated at the end of the trace (when the program exited),\n"
    "  by call stack, largest first, from the heap samples of ctrace run (one every\n"
    "  --heap-rate bytes allocated, 512 KiB by default; estimated bytes and objects,\n"
    "  scaled for sampling as Go does; exact with --heap-rate 1).\n"
    "  --at T           what was in use at T, seconds after the trace's start (0.5, 20ms)\n"
    "  -n N             the first N stacks (default 10; 0: all)\n"
    "  --thread NAME    only blocks allocated by the threads of this name\n"
    "  --debug-dir DIR  also look for debug information there\n";

static int by_inuse(const void *a, const void *b) {
  double x = (*(const cp_stack *const *)a)->heap[CP_INUSE_SPACE];
  double y = (*(const cp_stack *const *)b)->heap[CP_INUSE_SPACE];
  return x < y ? 1 : x > y ? -1 : 0;
}

static void print_bytes(char *buf, size_t n, double b) {
  if (b >= 1 << 20)
    snprintf(buf, n, "%.1f MiB", b / (1 << 20));
  else if (b >= 1 << 10)
    snprintf(buf, n, "%.1f KiB", b / (1 << 10));
  else
    snprintf(buf, n, "%.0f B", b);
}

/* One stack's frames, innermost first, each inlined call its own line;
 * the first after `head` (the stack's numbers). */
static void print_stack(const cp_profile *p, const cp_stack *s, const char *head) {
  for (size_t k = 0; k < s->n; k++) {
    const cp_location *l = &p->locs[p->stack_locs[s->first + k]];
    for (size_t i = 0; i < l->n; i++) {
      const cp_line *ln = &p->lines[l->first + i];
      char name[256];
      if (ln->function)
        snprintf(name, sizeof name, "%s", ln->function);
      else
        cp_location_name(p, p->stack_locs[s->first + k], name, sizeof name);
      const char *file = ln->file ? strrchr(ln->file, '/') : NULL;
      file = file ? file + 1 : ln->file;
      printf("%-26s  %s", head, name);
      if (file && ln->line > 0)
        printf(" %s:%d%s", file, ln->line, i + 1 < l->n ? " (inlined)" : "");
      putchar('\n');
      head = "";
    }
  }
}

static int leaks_report(const cp_profile *p, const cpu_args *a, long top) {
  const cp_stack **order = malloc((p->nstacks ? p->nstacks : 1) * sizeof *order);
  if (!order) {
    fprintf(stderr, "ctrace leaks: out of memory\n");
    return 1;
  }
  size_t n = 0;
  for (size_t i = 0; i < p->nstacks; i++)
    if (p->stacks[i].heap[CP_INUSE_OBJECTS] > 0)
      order[n++] = &p->stacks[i];
  qsort(order, n, sizeof *order, by_inuse);
  char total[32];
  print_bytes(total, sizeof total, p->heap_total[CP_INUSE_SPACE]);
  printf("%s in %.0f objects still allocated %s, from %zu call stacks (%" PRIu64
         " heap samples, one every %" PRIu64 " bytes allocated%s)\n",
         total, p->heap_total[CP_INUSE_OBJECTS],
         a->o.w.until ? "at --at" : "at the end of the trace", n, p->samples, p->heap_info.rate,
         p->heap_info.rate > 1 ? ": estimates" : ": exact");
  if (n)
    printf("%14s %10s %-1s  stack, innermost first\n", "bytes", "objects", "");
  for (size_t i = 0; i < n && (top == 0 || (long)i < top); i++) {
    char b[32];
    print_bytes(b, sizeof b, order[i]->heap[CP_INUSE_SPACE]);
    char head[48];
    snprintf(head, sizeof head, "%14s %10.0f", b, order[i]->heap[CP_INUSE_OBJECTS]);
    print_stack(p, order[i], head);
  }
  if (top && (long)n > top)
    printf("(%zu more stacks: -n 0 shows all)\n", n - (size_t)top);
  free(order);
  return 0;
}

int ctrace_cmd_leaks(int argc, char **argv) {
  static const struct option opts[] = {{"at", required_argument, NULL, 'A'},
                                       {"thread", required_argument, NULL, 't'},
                                       {"debug-dir", required_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  cpu_args a;
  memset(&a, 0, sizeof a);
  a.o.heap = CP_HEAP_INUSE;
  long top = 10;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":n:h", opts, NULL)) != -1) {
    int r = cpu_option(&a, c, optarg, "leaks", leaks_usage);
    if (r > 0)
      return r;
    if (r == 0)
      continue;
    char *end;
    switch (c) {
    case 'n':
      top = strtol(optarg, &end, 10);
      if (*end || end == optarg || top < 0) {
        fprintf(stderr, "ctrace leaks: -n %s: not a count\n%s", optarg, leaks_usage);
        return 2;
      }
      break;
    case 'h': fputs(leaks_usage, stdout); return 0;
    case ':':
      fprintf(stderr, "ctrace leaks: option '%s' needs a value\n%s", argv[optind - 1], leaks_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace leaks: unknown option '%s'\n%s", argv[optind - 1], leaks_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace leaks: missing TRACE\n%s", leaks_usage);
    return 2;
  }
  vx_index *x = NULL;
  cp_profile p;
  memset(&p, 0, sizeof p);
  int status = cpu_compute("leaks", argv + optind, (size_t)(argc - optind), &a, &x, &p);
  if (!status)
    status = leaks_report(&p, &a, top);
  cp_free(&p);
  vx_free(x);
  return status;
}
