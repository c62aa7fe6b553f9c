/* CPU profiles end to end: `ctrace run --cpu-hz` records a program of
 * known shape (tests/progs/cpu_burn.c: hot_a does 7 units of work of every
 * 10, hot_b 3, both under middle, outer and main, built without frame
 * pointers), `ctrace top` names its functions with their shares,
 * `ctrace pprof --type cpu` writes a profile that `go tool pprof` (Debian's
 * golang-go) reads with -top, -list and -traces, and --region keeps the
 * samples taken inside a region of the instrumented pipeline sample. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "test.h"

#define BURN TEST_PROGS_DIR "/cpu_burn"

/* `ctrace run --cpu-hz 999 -o out -- cmd...`; 0, or 1 when this machine
 * refuses CPU samples (said on stdout: the rest cannot be checked). */
static int record(const char *out, char *const cmd[]) {
  char *argv[32] = {(char *)test_ctrace_bin, "run", "--cpu-hz", "999", "-o", (char *)out, "--"};
  int n = 7;
  for (int i = 0; cmd[i] && n < 30; i++)
    argv[n++] = cmd[i];
  argv[n] = NULL;
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace run --cpu-hz failed (%d): %s", p.status, p.err);
  int refused = strstr(p.err, "no CPU samples") != NULL;
  if (refused)
    printf("CPU samples refused here: %s", p.err);
  else
    ASSERT_CONTAINS(p.err, "CPU samples (");
  test_proc_free(&p);
  return refused;
}

/* The flat% and cum% of function name in `ctrace top` output; 0 if it is
 * not there. */
static int top_row(const char *out, const char *name, double *flat, double *cum) {
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    double f, fp, sp, c, cp;
    char fn[256];
    if (sscanf(l, "%lfs %lf%% %lf%% %lfs %lf%% %255s", &f, &fp, &sp, &c, &cp, fn) == 6 &&
        !strcmp(fn, name)) {
      *flat = fp;
      *cum = cp;
      return 1;
    }
  }
  return 0;
}

TEST_IMPL(cpu_profile_top) {
  const char *out = test_tmp_path("burn.ctrace");
  char *cmd[] = {BURN, "700", NULL};
  if (record(out, cmd))
    return 0;
  char *top[] = {(char *)test_ctrace_bin, "top", (char *)out, "-n", "0", NULL};
  test_proc p = test_run(top, NULL);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  double af, ac, bf, bc, mf, mc, of, oc, nf, nc;
  ASSERT(top_row(p.out, "hot_a", &af, &ac));
  ASSERT(top_row(p.out, "hot_b", &bf, &bc));
  ASSERT(top_row(p.out, "middle", &mf, &mc));
  ASSERT(top_row(p.out, "outer", &of, &oc));
  ASSERT(top_row(p.out, "main", &nf, &nc));
  /* 7 : 3 of the work; ~700 samples, so +-10 points is several sigmas */
  ASSERT(af > 58 && af < 82);
  ASSERT(bf > 18 && bf < 42);
  /* every hot sample unwound through its callers, without frame pointers */
  ASSERT(mc >= af + bf - 2);
  ASSERT(oc >= mc - 1);
  ASSERT(nc >= oc - 1);
  ASSERT(mf < 5);
  test_proc_free(&p);
  /* per line: the hot loops' lines of cpu_burn.c */
  char *lines[] = {(char *)test_ctrace_bin, "top", "--lines", (char *)out, NULL};
  p = test_run(lines, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "hot_a ");
  ASSERT_CONTAINS(p.out, "cpu_burn.c:");
  test_proc_free(&p);
  /* list: hot_a's source, its loop body the line with the most samples */
  char *list[] = {(char *)test_ctrace_bin, "list", (char *)out, "^hot_a$", NULL};
  p = test_run(list, NULL);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  ASSERT_CONTAINS(p.out, "ROUTINE ======================== hot_a in ");
  const char *body = strstr(p.out, "x = (x ^ (x >> 29))");
  ASSERT(body != NULL);
  const char *row = body;
  while (row > p.out && row[-1] != '\n')
    row--;
  double secs = 0;
  ASSERT_EQ(sscanf(row, "%lfs", &secs), 1);
  ASSERT(secs > 0.2); /* most of hot_a's ~0.5 s */
  test_proc_free(&p);
  /* --asm: hot_a's instructions (capstone) under their source lines, the
   * samples on the loop's instructions */
  char *asmv[] = {(char *)test_ctrace_bin, "list", "--asm", (char *)out, "^hot_a$", NULL};
  p = test_run(asmv, NULL);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  ASSERT_CONTAINS(p.out, "ROUTINE ======================== hot_a (");
  ASSERT_CONTAINS(p.out, "cpu_burn.c:43\n");
  ASSERT_CONTAINS(p.out, "imul ");
  double on_insns = 0;
  for (const char *l = p.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    double f;
    unsigned long long at;
    if (sscanf(l, "%lfs %*s %llx:", &f, &at) == 2)
      on_insns += f;
  }
  ASSERT(on_insns > 0.3); /* hot_a's ~0.5 s, on its own instructions */
  test_proc_free(&p);
  char *nomatch[] = {(char *)test_ctrace_bin, "list", (char *)out, "^no_such_fn$", NULL};
  p = test_run(nomatch, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no sampled function matches '^no_such_fn$'");
  test_proc_free(&p);
  char *badre[] = {(char *)test_ctrace_bin, "list", (char *)out, "hot_a(", NULL};
  p = test_run(badre, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "is not a regular expression");
  test_proc_free(&p);
  return 0;
}

/* `go tool pprof -disasm` on a non-PIE build of cpu_burn: hot_a's
 * instructions, most of its samples on them. (Go 1.19's own pprof does not
 * relocate the addresses of PIE programs and shared libraries: "no matches"
 * there, whatever the profile says; `ctrace list --asm` and upstream pprof
 * read those.) */
static void go_disasm(const char *go) {
  const char *out = test_tmp_path("gpnp.ctrace");
  char *cmd[] = {BURN "_nopie", "300", NULL};
  if (record(out, cmd))
    return;
  char pb[1100];
  snprintf(pb, sizeof pb, "%s.pb.gz", out);
  char *pprof[] = {(char *)test_ctrace_bin, "pprof", "--type", "cpu", (char *)out, "-o", pb, NULL};
  test_proc p = test_run(pprof, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  char *dis[] = {(char *)go, "tool", "pprof", "-disasm", "hot_a", pb, NULL};
  p = test_run(dis, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "ROUTINE ======================== hot_a");
  ASSERT_CONTAINS(p.out, "IMULQ");
  /* the routine's flat, in ms: most of the samples are in hot_a */
  const char *r = strstr(p.out, "ROUTINE ======================== hot_a");
  char *unit;
  double flat = strtod(strchr(r, '\n') + 1, &unit);
  flat *= *unit == 's' ? 1000 : !strncmp(unit, "ms", 2) ? 1 : 0.001;
  ASSERT_GT(flat, 100);
  test_proc_free(&p);
}

TEST_IMPL(cpu_profile_go_pprof) {
  const char *go = test_go_bin();
  if (!go)
    TEST_FAIL("go tool pprof is needed (apt-get install golang-go)");
  const char *out = test_tmp_path("gp.ctrace");
  char *cmd[] = {BURN, "400", NULL};
  if (record(out, cmd))
    return 0;
  char pb[1100];
  snprintf(pb, sizeof pb, "%s.pb.gz", out);
  char *pprof[] = {(char *)test_ctrace_bin, "pprof", "--type", "cpu", (char *)out, "-o", pb, NULL};
  test_proc p = test_run(pprof, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "CPU samples at 999 Hz");
  test_proc_free(&p);
  char *gotop[] = {(char *)go, "tool", "pprof", "-top", pb, NULL};
  p = test_run(gotop, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "File: cpu_burn");
  ASSERT_CONTAINS(p.out, "Type: cpu");
  ASSERT_CONTAINS(p.out, "hot_a");
  ASSERT_CONTAINS(p.out, "hot_b");
  test_proc_free(&p);
  /* -list finds the source through the debug info's file and line (run
   * from the trace's directory: pprof first tries the file's path relative
   * to its working directory, and ctest's has a progs/ of its own) */
  char sh[2400];
  snprintf(sh, sizeof sh, "cd \"$(dirname '%s')\" && exec '%s' tool pprof -list '^hot_a$' '%s'", pb,
           go, pb);
  char *golist[] = {"/bin/sh", "-c", sh, NULL};
  p = test_run(golist, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "ROUTINE ======================== hot_a in ");
  ASSERT_CONTAINS(p.out, "cpu_burn.c");
  ASSERT_CONTAINS(p.out, "x = (x ^ (x >> 29))");
  test_proc_free(&p);
  /* -traces: whole stacks, leaf first */
  char *gotraces[] = {(char *)go, "tool", "pprof", "-traces", pb, NULL};
  p = test_run(gotraces, NULL);
  ASSERT_EQ(p.status, 0);
  const char *a = strstr(p.out, "hot_a\n");
  ASSERT(a != NULL);
  const char *m = strstr(a, "middle\n"), *o = strstr(a, "outer\n"), *n = strstr(a, "main\n");
  ASSERT(m && o && n && m < o && o < n);
  test_proc_free(&p);
  go_disasm(go);
  return 0;
}

/* perf's samples of a symbol in `perf report --stdio -q --sort sym -F
 * sample,sym` lines ("   336  [.] hot_a"), and of all symbols (sym NULL). */
static double perf_samples(const char *out, const char *sym) {
  double n = 0;
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    double count;
    char kind[8], name[128];
    if (sscanf(l, " %lf %7s %127s", &count, kind, name) == 3 && (!sym || !strcmp(name, sym)))
      n += count;
  }
  return n;
}

/* How far two shares (%) of n1 and n2 samples may be apart: 2 points, and
 * 4 standard deviations of the difference of two sampled shares. */
static double share_bound(double pct, double n1, double n2) {
  double p = pct / 100;
  return 2 + 4 * 100 * sqrt(p * (1 - p) * (1 / n1 + 1 / n2));
}

/* perf as a second opinion: `perf record -F 999` and `ctrace run --cpu-hz
 * 999` on the same program (two runs: perf 6.1's report aborts on a
 * recording of ctrace run itself, in its build-id code) give hot_a and
 * hot_b the same shares of the CPU within 2 points plus 4 standard
 * deviations of two sampled shares' difference (~8.7 points at ~1500
 * samples each: a loaded CI machine put two runs 6 points apart). Where
 * perf is not installed or may not record, said and not checked. */
TEST_IMPL(cpu_profile_vs_perf) {
  static const char *const places[] = {"/usr/bin/perf", "/usr/sbin/perf", "/usr/local/bin/perf"};
  const char *perf = NULL;
  for (size_t i = 0; i < sizeof places / sizeof *places && !perf; i++)
    if (access(places[i], X_OK) == 0)
      perf = places[i];
  if (!perf) {
    printf("skipped: no perf here (apt-get install linux-perf)\n");
    return 0;
  }
  const char *data = test_tmp_path("burn.perf.data");
  char *rec[] = {(char *)perf, "record", "-q", "-F",   "999", "-o",
                 (char *)data, "--",     BURN, "1500", NULL};
  test_proc p = test_run(rec, NULL);
  if (p.status != 0) {
    printf("skipped: perf record failed here (%d): %s\n", p.status, p.err);
    test_proc_free(&p);
    return 0;
  }
  test_proc_free(&p);
  char *rep[] = {(char *)perf, "report", "-i", (char *)data, "--stdio", "-q",
                 "--sort",     "sym",    "-F", "sample,sym", NULL};
  p = test_run(rep, NULL);
  ASSERT_EQ(p.status, 0);
  double perf_n = perf_samples(p.out, NULL);
  ASSERT_GT(perf_n, 0);
  double perf_a = 100 * perf_samples(p.out, "hot_a") / perf_n;
  double perf_b = 100 * perf_samples(p.out, "hot_b") / perf_n;
  test_proc_free(&p);
  const char *out = test_tmp_path("vsperf.ctrace");
  char *cmd[] = {BURN, "1500", NULL};
  if (record(out, cmd))
    return 0;
  char *top[] = {(char *)test_ctrace_bin, "top", (char *)out, NULL};
  p = test_run(top, NULL);
  ASSERT_EQ(p.status, 0);
  double a_flat, a_cum, b_flat, b_cum, n = strtod(p.out, NULL);
  ASSERT(top_row(p.out, "hot_a", &a_flat, &a_cum));
  ASSERT(top_row(p.out, "hot_b", &b_flat, &b_cum));
  test_proc_free(&p);
  double bound_a = share_bound(a_flat, perf_n, n), bound_b = share_bound(b_flat, perf_n, n);
  printf("hot_a: perf %.2f%% of %.0f samples, ctrace %.2f%% of %.0f (bound %.1f points); "
         "hot_b: perf %.2f%%, ctrace %.2f%% (bound %.1f)\n",
         perf_a, perf_n, a_flat, n, bound_a, perf_b, b_flat, bound_b);
  fflush(stdout);
  ASSERT_GT(perf_a, 0);
  ASSERT_GT(perf_b, 0);
  ASSERT_GT(n, 0);
  ASSERT_LT(perf_a > a_flat ? perf_a - a_flat : a_flat - perf_a, bound_a);
  ASSERT_LT(perf_b > b_flat ? perf_b - b_flat : b_flat - perf_b, bound_b);
  return 0;
}

TEST_IMPL(cpu_profile_region) {
  const char *out = test_tmp_path("plcpu.ctrace");
  char *cmd[] = {(char *)test_pipeline_bin, "-n", "6000", "-w", "2", NULL};
  if (record(out, cmd))
    return 0;
  char *all[] = {(char *)test_ctrace_bin, "top", (char *)out, NULL};
  test_proc p = test_run(all, NULL);
  ASSERT_EQ(p.status, 0);
  unsigned long total = strtoul(p.out, NULL, 10);
  test_proc_free(&p);
  /* every sample recorded is counted: those of the tracer's own writer
   * thread too (its CPU cost), on a thread named so */
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  char *info[] = {(char *)test_ctrace_bin, "info", kernel, NULL};
  p = test_run(info, NULL);
  ASSERT_EQ(p.status, 0);
  const char *ks = strstr(p.out, "k_sample");
  ASSERT(ks != NULL);
  ASSERT_EQ(strtoul(ks + strlen("k_sample"), NULL, 10), total);
  test_proc_free(&p);
  char *tracer[] = {(char *)test_ctrace_bin,      "top", (char *)out, "--thread",
                    "ctrace writer (the tracer)", NULL};
  p = test_run(tracer, NULL);
  printf("the tracer's writer (%d): %s%s", p.status, p.out, p.err); /* (a fast one: none) */
  test_proc_free(&p);
  /* inside `process`: its own work (transform's mix), fewer samples */
  char *in[] = {(char *)test_ctrace_bin, "top", (char *)out, "--region", "process", NULL};
  p = test_run(in, NULL);
  ASSERT_EQ(p.status, 0);
  printf("all: %lu samples; in process:\n%s", total, p.out);
  unsigned long inside = strtoul(p.out, NULL, 10);
  ASSERT(inside > 0 && inside < total);
  double f, c;
  ASSERT(top_row(p.out, "transform", &f, &c));
  ASSERT(c > 50);
  ASSERT(!top_row(p.out, "producer", &f, &c)); /* (the producer thread's own loop) */
  test_proc_free(&p);
  /* ctrace stats: the top functions and the samples per innermost region */
  char *stats[] = {(char *)test_ctrace_bin, "stats", (char *)out, NULL};
  p = test_run(stats, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "top functions (ctrace top):");
  const char *by_region = strstr(p.out, "on-CPU samples by innermost region:");
  ASSERT(by_region != NULL);
  ASSERT(strstr(by_region, "transform:") != NULL);
  test_proc_free(&p);
  /* a region that is not there: an error naming the nearest */
  char *bad[] = {(char *)test_ctrace_bin, "top", (char *)out, "--region", "proces", NULL};
  p = test_run(bad, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no region named 'proces' in the trace; regions: 'process'");
  test_proc_free(&p);
  /* a trace without samples says how to get them */
  const char *plain = test_tmp_path("nocpu.ctrace");
  char *norec[] = {(char *)test_ctrace_bin, "run", "-o", (char *)plain, "--", "/bin/true", NULL};
  p = test_run(norec, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  char *none[] = {(char *)test_ctrace_bin, "top", (char *)plain, NULL};
  p = test_run(none, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "hold no CPU samples (record them with ctrace run --cpu-hz N");
  test_proc_free(&p);
  return 0;
}

/* A committed FILE.kernel with 1003 samples of cpu_burn (tests/data):
 * top, pprof --type cpu and list --asm read it in every build, sanitizers
 * included (the tests above record, which sanitizer builds cannot). Its
 * binaries were those of the build that recorded it: where they are not on
 * disk (or another build is), names give way to module+0xOFF and a
 * warning names the binary, never a wrong name. */
/* `ctrace stats --json` of the recorded trace: its "cpu" object counts
 * every sample, its functions' flat samples add up to them (--top 0: all
 * of them listed), and so do its regions'. */
static void stats_json_cpu(const char *trace, int named) {
  char *argv[] = {(char *)test_ctrace_bin, "stats", "--json", "--top", "0", (char *)trace, NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  cJSON *root = cJSON_Parse(p.out);
  ASSERT(root);
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(root, "cpu");
  ASSERT(cpu);
  ASSERT_EQ(cJSON_GetObjectItem(cpu, "samples")->valuedouble, 1003);
  ASSERT_EQ(cJSON_GetObjectItem(cpu, "hz")->valuedouble, 999);
  double flat = 0, regions = 0, hot_a = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(cpu, "functions")) {
    flat += cJSON_GetObjectItem(e, "flat")->valuedouble;
    ASSERT_LE(cJSON_GetObjectItem(e, "flat")->valuedouble,
              cJSON_GetObjectItem(e, "cum")->valuedouble);
    if (!strcmp(cJSON_GetObjectItem(e, "name")->valuestring, "hot_a"))
      hot_a = cJSON_GetObjectItem(e, "flat")->valuedouble;
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(cpu, "regions")) regions +=
      cJSON_GetObjectItem(e, "samples")->valuedouble;
  ASSERT_EQ(flat, 1003);
  ASSERT_EQ(regions, 1003);
  if (named) /* (the binaries of the recording still match) */
    ASSERT_GT(hot_a, 500);
  cJSON_Delete(root);
  test_proc_free(&p);
}

/* The row of function name in ctrace diff --json's output (NULL: none). */
static const cJSON *diff_function(const cJSON *root, const char *name) {
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(root, "regions")) {
    if (!strcmp(cJSON_GetObjectItem(r, "kind")->valuestring, "function") &&
        !strcmp(cJSON_GetObjectItem(r, "name")->valuestring, name))
      return r;
  }
  return NULL;
}

/* ctrace diff a -- b --json --metric metric: its exit status, and its
 * report parsed into *root. */
static int diff_json(const char *a, const char *b, const char *metric, cJSON **root) {
  char *argv[] = {(char *)test_ctrace_bin, "diff", (char *)a, "--", (char *)b, "--json", "--metric",
                  (char *)metric,          NULL};
  test_proc p = test_run(argv, NULL);
  int st = p.status;
  ASSERT(st == 0 || st == 1);
  *root = cJSON_Parse(p.out);
  ASSERT(*root);
  test_proc_free(&p);
  return st;
}

/* ctrace diff of CPU samples (viewer/analysis/diff.c): the functions of
 * cpu_burn burning 300 ms against the same and against 600 ms. Functions
 * have samples, not durations: tested on count and total only (Poisson). */
TEST_IMPL(cpu_profile_diff) {
  const char *a = test_tmp_path("diff_burn_a.ctrace"), *b = test_tmp_path("diff_burn_b.ctrace"),
             *c = test_tmp_path("diff_burn_c.ctrace");
  char *c300[] = {BURN, "300", NULL}, *c600[] = {BURN, "600", NULL};
  if (record(a, c300) || record(b, c300) || record(c, c600))
    return 0;
  cJSON *j;
  diff_json(a, b, "total", &j); /* (other functions may differ: not checked) */
  for (const char *const *f = (const char *const[]){"hot_a", "hot_b", "outer", NULL}; *f; f++) {
    const cJSON *r = diff_function(j, *f);
    if (!r)
      TEST_FAIL("no function %s in the diff", *f);
    ASSERT(cJSON_GetObjectItem(r, "base")->child); /* has its counts */
    ASSERT(!cJSON_IsTrue(cJSON_GetObjectItem(r, "regressed")));
  }
  cJSON_Delete(j);
  ASSERT_EQ(diff_json(a, c, "total", &j), 1);
  for (const char *const *f = (const char *const[]){"hot_a", "hot_b", "outer", NULL}; *f; f++) {
    const cJSON *r = diff_function(j, *f);
    ASSERT(r && cJSON_IsTrue(cJSON_GetObjectItem(r, "regressed")));
    /* twice the CPU time: about +100% (seen up to +162% over runs of
     * 300 ms: a part of the samples of one run can be lost or cut short) */
    double d = cJSON_GetObjectItem(r, "delta_pct")->valuedouble;
    if (!(d > 30 && d < 300))
      TEST_FAIL("%s: %+.1f%%, expected about +100%%", *f, d);
  }
  cJSON_Delete(j);
  /* no durations: not tested on p50 */
  diff_json(a, c, "p50", &j);
  const cJSON *r = diff_function(j, "hot_a");
  ASSERT(r && cJSON_IsNull(cJSON_GetObjectItem(r, "p_value")));
  ASSERT(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "new"), "p50_ns")));
  ASSERT(!cJSON_IsTrue(cJSON_GetObjectItem(r, "regressed")));
  cJSON_Delete(j);
  return 0;
}

TEST_IMPL(profile_recorded_trace) {
  char trace[1024], pb[1100];
  snprintf(trace, sizeof trace, "%s/samples.ctrace.kernel", test_data_dir);
  snprintf(pb, sizeof pb, "%s", test_tmp_path("rec.pb.gz"));
  char *top[] = {(char *)test_ctrace_bin, "top", trace, NULL};
  test_proc p = test_run(top, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "1003 samples at 999 Hz (1.00 s of CPU)");
  int named = strstr(p.out, " hot_a\n") != NULL;
  if (!named)
    ASSERT_CONTAINS(p.err, "cpu_burn");
  printf("%s%s", p.out, p.err);
  test_proc_free(&p);
  char *pprof[] = {(char *)test_ctrace_bin, "pprof", "--type", "cpu", trace, "-o", pb, NULL};
  p = test_run(pprof, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "1003 CPU samples at 999 Hz");
  test_proc_free(&p);
  char *asmv[] = {(char *)test_ctrace_bin, "list", "--asm", trace, "^hot_a$", NULL};
  p = test_run(asmv, NULL);
  if (named) {
    ASSERT_EQ(p.status, 0);
    ASSERT_CONTAINS(p.out, "imul ");
  } else {
    ASSERT_EQ(p.status, 1); /* no function of that name: said */
    ASSERT_CONTAINS(p.err, "no sampled function matches");
  }
  test_proc_free(&p);
  stats_json_cpu(trace, named);
  return 0;
}
