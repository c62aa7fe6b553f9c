/* `ctrace list TRACE... REGEX [--thread NAME] [--region NAME] [--since T]
 * [--until T] [--debug-dir DIR]`: like pprof's list, the source of each
 * function whose name matches REGEX with the CPU samples' flat and cum per
 * line, read from the files the debug information names. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "cli.h"

static const char list_usage[] =
    "usage: ctrace list TRACE... REGEX [--asm] [--thread NAME] [--region NAME]\n"
    "                   [--since T] [--until T] [--debug-dir DIR]\n"
    "  Like pprof's list: the source of each function whose name matches REGEX (an\n"
    "  extended regular expression), with the CPU samples of ctrace run --cpu-hz N\n"
    "  per line: flat (the line was running) and cum (it was on the stack).\n"
    "  --asm   the machine code instead (capstone), each instruction with its samples,\n"
    "          under the source line it came from (and the function, where inlined)\n"
    "  The other options select samples as ctrace top's do.\n";

/* One value column: "." for none, else seconds. */
static void col(char *buf, size_t len, uint64_t n, uint64_t period) {
  if (n)
    snprintf(buf, len, "%.2fs", (double)(n * period) / 1e9);
  else
    snprintf(buf, len, ".");
}

/* The function's lines from first_line - 1 (its declaration) to its last
 * sampled line + 1, with their counts; lines without source are shown by
 * number only, and a file that cannot be read is said once. */
static void print_fn(const cp_profile *p, const cp_list_fn *f) {
  uint64_t period = p->info.period_ns;
  char a[32], b[32];
  printf("ROUTINE ======================== %s in %s\n", f->name, f->file ? f->file : "?");
  col(a, sizeof a, f->flat, period);
  col(b, sizeof b, f->cum, period);
  printf("%10s %10s (flat, cum) %.2f%% of Total\n", a, b,
         100.0 * (double)f->cum / (double)(p->samples ? p->samples : 1));
  FILE *src = f->file ? fopen(f->file, "r") : NULL;
  if (f->file && !src)
    printf("  (the source is not here: %s; the lines with samples follow)\n", f->file);
  int from = f->first_line > 1 ? f->first_line : 1, to = f->last_line + 1;
  char *line = NULL;
  size_t cap = 0;
  int no = 0;
  while (src && no < from - 1 && getline(&line, &cap, src) >= 0)
    no++;
  for (int l = from; l <= to; l++) {
    int have = src && getline(&line, &cap, src) >= 0;
    uint64_t fl = (size_t)l < f->nlines ? f->line_flat[l] : 0;
    uint64_t cu = (size_t)l < f->nlines ? f->line_cum[l] : 0;
    if (!have && !fl && !cu)
      continue;
    col(a, sizeof a, fl, period);
    col(b, sizeof b, cu, period);
    if (have) {
      line[strcspn(line, "\n")] = '\0';
      printf("%10s %10s %5d: %s\n", a, b, l, line);
    } else {
      printf("%10s %10s %5d\n", a, b, l);
    }
  }
  free(line);
  if (src)
    fclose(src);
}

/* The function's instructions under their source lines. @return 0, or 1
 * with a message printed. */
static int print_asm(cp_profile *p, const cp_list_fn *f) {
  char err[600];
  cp_insn *ins;
  const char *in_fn = NULL;
  size_t n = cp_disasm(p, f->name, &in_fn, &ins, err, sizeof err);
  if (n == (size_t)-1) {
    fprintf(stderr, "ctrace list: --asm: %s\n", err);
    return 1;
  }
  uint64_t period = p->info.period_ns;
  char a[32], b[32];
  if (strcmp(in_fn, f->name))
    printf("ROUTINE ======================== %s, inlined into %s (%zu instructions of %s)\n",
           f->name, in_fn, n, in_fn);
  else
    printf("ROUTINE ======================== %s (%zu instructions)\n", f->name, n);
  const char *last_file = NULL, *last_fn = NULL;
  int last_line = -1;
  for (size_t i = 0; i < n; i++) {
    const cp_insn *in = &ins[i];
    if (in->file != last_file || in->line != last_line || in->function != last_fn) {
      int other = in->function && strcmp(in->function, in_fn);
      printf("%21s %s:%d%s%s%s\n", "", in->file ? in->file : "?", in->line,
             other ? " (inlined " : "", other ? in->function : "", other ? ")" : "");
      last_file = in->file;
      last_line = in->line;
      last_fn = in->function;
    }
    col(a, sizeof a, in->flat, period);
    col(b, sizeof b, in->cum, period);
    printf("%10s %10s   %8llx: %s\n", a, b, (unsigned long long)in->addr, in->text);
  }
  free(ins);
  return 0;
}

int ctrace_cmd_list(int argc, char **argv) {
  static const struct option opts[] = {{"thread", required_argument, NULL, 't'},
                                       {"region", required_argument, NULL, 'r'},
                                       {"since", required_argument, NULL, 'a'},
                                       {"until", required_argument, NULL, 'b'},
                                       {"debug-dir", required_argument, NULL, 'd'},
                                       {"asm", no_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  cpu_args a;
  memset(&a, 0, sizeof a);
  int c, asm_view = 0;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    int r = cpu_option(&a, c, optarg, "list", list_usage);
    if (r > 0)
      return r;
    if (r == 0)
      continue;
    if (c == 's') {
      asm_view = 1;
      continue;
    }
    if (c == 'h') {
      fputs(list_usage, stdout);
      return 0;
    }
    fprintf(stderr, "ctrace list: %s '%s'\n%s",
            c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1], list_usage);
    return 2;
  }
  if (argc - optind < 2) {
    fprintf(stderr, "ctrace list: needs TRACE... and a REGEX\n%s", list_usage);
    return 2;
  }
  const char *pattern = argv[argc - 1];
  struct vx_index *x = NULL;
  cp_profile p;
  memset(&p, 0, sizeof p);
  int code = cpu_compute("list", argv + optind, (size_t)(argc - 1 - optind), &a, &x, &p);
  cp_list_fn *fns = NULL;
  size_t n = 0;
  if (!code) {
    char err[400];
    n = cp_list(&p, pattern, &fns, err, sizeof err);
    if (n == (size_t)-1) {
      fprintf(stderr, "ctrace list: %s\n", err);
      code = 2;
      n = 0;
    } else if (!n) {
      fprintf(stderr, "ctrace list: no sampled function matches '%s'\n", pattern);
      code = 1;
    }
  }
  if (!code) {
    printf("Total: %.2fs (%" PRIu64 " samples at %u Hz)\n",
           (double)(p.samples * p.info.period_ns) / 1e9, p.samples, p.info.hz);
    for (size_t i = 0; i < n && !code; i++) {
      if (asm_view)
        code = print_asm(&p, &fns[i]);
      else
        print_fn(&p, &fns[i]);
    }
  }
  cp_list_free(fns, n);
  cp_free(&p);
  vx_free(x);
  return code;
}
