/* `ctrace diff` (viewer/analysis/diff.c, viewer/cli/diff.c): the tests'
 * p-values against hand-computed ones; two synthetic traces with exact
 * times (tests/synth_trace.c) where one region is 50% slower over 40
 * instances, one is the same with noise, and one has 3 noisy instances
 * that differ a lot: only the first is flagged, through the command with
 * its exit status, its JSON, --metric and --threshold; its usage errors;
 * and a program recorded twice by libctrace (tests/progs/diff_prog.c),
 * the same and with one region made slower. */
#define _GNU_SOURCE
#include <math.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "quantile.h"
#include "synth_trace.h"
#include "test.h"

#define US 1000ull
#define T0 1000000000ull

/* ---- The tests' p-values ---------------------------------------------------------------- */

static int close_to(double got, double want) { return fabs(got - want) <= 1e-9 * fabs(want); }

#define ASSERT_CLOSE(got, want)                                             \
  do {                                                                      \
    double g_ = (got), w_ = (want);                                         \
    if (!close_to(g_, w_))                                                  \
      TEST_FAIL("%s: got %.12g, expected %.12g (%s)", #got, g_, w_, #want); \
  } while (0)

TEST_IMPL(diff_tests_known_answers) {
  int exact;
  double u;
  /* 3 against 3, all of b above: U = 9 of 9, the most extreme of C(6,3) =
   * 20 orders: two-sided 2/20; never below 0.01 (df_min_p). */
  qt_run a3[] = {{1, 1}, {2, 1}, {3, 1}}, b3[] = {{4, 1}, {5, 1}, {6, 1}};
  ASSERT_CLOSE(df_mann_whitney(a3, 3, b3, 3, &exact, &u), 0.1);
  ASSERT_EQ(exact, 1);
  ASSERT_CLOSE(u, 9);
  ASSERT_CLOSE(df_min_p(3, 3), 0.1);
  ASSERT_CLOSE(df_min_p(5, 5), 2.0 / 252);
  /* b = {4, 5} among a = {1, 3, 6}: U = pairs b > a (4>1, 4>3, 5>1, 5>3)
   * = 4 of 6. Over the C(5,2) = 10 orders U is 0,1,2,2,3,3,4,4,5,6:
   * P(U >= 4) = 4/10, P(U <= 4) = 8/10, p = 2 x 0.4 */
  qt_run a5[] = {{1, 1}, {3, 1}, {6, 1}}, b5[] = {{4, 1}, {5, 1}};
  ASSERT_CLOSE(df_mann_whitney(a5, 3, b5, 2, &exact, &u), 0.8);
  ASSERT_CLOSE(u, 4);
  /* 10 against 10, apart: 2 / C(20,10) */
  qt_run a10[10], b10[10];
  for (int i = 0; i < 10; i++) {
    a10[i] = (qt_run){(uint64_t)i, 1};
    b10[i] = (qt_run){(uint64_t)(100 + i), 1};
  }
  ASSERT_CLOSE(df_mann_whitney(a10, 10, b10, 10, &exact, NULL), 2.0 / 184756);
  ASSERT_EQ(exact, 1);
  /* Ties: a = 1 x5, 2 x5; b = 2 x5, 3 x5. Midranks: 1 -> 3, 2 -> 10.5, 3
   * -> 18; R_b = 5 x 10.5 + 5 x 18 = 142.5, U_b = 142.5 - 55 = 87.5, mean
   * 50; tie term 120 + 990 + 120 = 1230; var = 100/12 x (21 - 1230/380);
   * z = (37.5 - 0.5) / sqrt(var), p = erfc(z / sqrt 2) (= 0.00236). */
  qt_run at[] = {{1, 5}, {2, 5}}, bt[] = {{2, 5}, {3, 5}};
  double var = 100.0 / 12 * (21 - 1230.0 / 380);
  ASSERT_CLOSE(df_mann_whitney(at, 2, bt, 2, &exact, &u), erfc(37 / sqrt(var) / sqrt(2)));
  ASSERT_EQ(exact, 0);
  ASSERT_CLOSE(u, 87.5);
  ASSERT(fabs(erfc(37 / sqrt(var) / sqrt(2)) - 0.00236) < 0.00001);
  /* all equal: nothing to tell apart */
  qt_run same[] = {{7, 30}};
  ASSERT_CLOSE(df_mann_whitney(same, 1, same, 1, NULL, NULL), 1);
  /* Poisson: given n, Binomial(n, 1/2); 3 vs 1: 2 x (1 + 4)/16 */
  /* exceedances: 1 new above the 1 base: 1/2; 2 against 2, none above
   * the base's max: P(the largest of 4 is a base) = 1/2; 40 against 40,
   * all above the base's max: 1 / C(80,40) */
  ASSERT_CLOSE(df_exceed(1, 1, 1, 1), 0.5);
  ASSERT_CLOSE(df_exceed(2, 2, 2, 1), 0.5);
  ASSERT_CLOSE(df_exceed(40, 40, 40, 40), exp(-(lgamma(81) - 2 * lgamma(41))));
  ASSERT_CLOSE(df_exceed(40, 40, 40, 0), 1);
  ASSERT_CLOSE(df_poisson(3, 1), 10.0 / 16);
  ASSERT_CLOSE(df_poisson(0, 10), 2.0 / 1024);
  ASSERT_CLOSE(df_poisson(40, 40), 1);
  ASSERT(df_poisson(40, 80) < 0.001);
  ASSERT(df_poisson(40, 44) > 0.5);
  return 0;
}

/* ---- Two synthetic traces ---------------------------------------------------------------- */

enum { SITE_SLOW = 1, SITE_STEADY, SITE_FEW, SITE_GONE, SITE_FRESH, SITE_TAIL };
enum { STR_REQUEST = 1 };
enum { MAIN = 1, IO = 2 };

/* Noise: a fixed permutation of -5..5 steps. */
static int64_t noise(int i, int seed) { return (int64_t)((i * 7 + seed * 3) % 11) - 5; }

/* The trace: 40 rounds on "main" of "slow" (slow_us + noise x 10 us),
 * "steady" (500 us + noise x 5 us, the noise differing by side), the first
 * 3 of "few" (few[i] us), "tail" (300 us + i x 10 ns, the new ones 200 ns
 * longer; the last one an outlier: 306 us, new 900 us), one of gone (base)
 * or fresh (new); on "io" 40
 * mutex waits of 30 us, read() calls of 20 us and tasks "request" of 100
 * us. */
static void write_trace(const char *path, uint64_t slow_us, int seed, const uint64_t few[3],
                        int is_new) {
  synth *s = synth_new(100, "synth", T0, 0);
  synth_capture(s, CTRACE_FMT_CAP_WRAPPERS, 0, 0, 1, "");
  synth_site(s, SITE_SLOW, CTRACE_FMT_SITE_REGION, "slow", "d.c", 1, "f");
  synth_site(s, SITE_STEADY, CTRACE_FMT_SITE_REGION, "steady", "d.c", 2, "f");
  synth_site(s, SITE_FEW, CTRACE_FMT_SITE_REGION, "few", "d.c", 3, "f");
  synth_site(s, SITE_GONE, CTRACE_FMT_SITE_REGION, "gone", "d.c", 4, "f");
  synth_site(s, SITE_FRESH, CTRACE_FMT_SITE_REGION, "fresh", "d.c", 5, "f");
  synth_site(s, SITE_TAIL, CTRACE_FMT_SITE_REGION, "tail", "d.c", 6, "f");
  synth_string(s, STR_REQUEST, "request");
  synth_thread(s, MAIN, 101, "main");
  synth_thread(s, IO, 102, "io");
  uint64_t t = T0 + 10 * US, io = T0 + 10 * US;
  for (int i = 0; i < 40; i++) {
    uint64_t d[4] = {slow_us * US + (uint64_t)(noise(i, 0) * 10 * (int64_t)US),
                     500 * US + (uint64_t)(noise(i, seed) * 5 * (int64_t)US),
                     i < 3 ? few[i] * US : 0,
                     i < 39   ? 300 * US + (uint64_t)i * 10 + (is_new ? 200 : 0)
                     : is_new ? 900 * US
                              : 306 * US};
    unsigned site[4] = {SITE_SLOW, SITE_STEADY, SITE_FEW, SITE_TAIL};
    for (int k = 0; k < 4; k++) {
      if (!d[k])
        continue;
      SYNTH_EV(s, MAIN, t, CTRACE_FMT_EV_REGION_BEGIN, site[k]);
      SYNTH_EV0(s, MAIN, t + d[k], CTRACE_FMT_EV_REGION_END);
      t += d[k] + 10 * US;
    }
    SYNTH_EV(s, IO, io, CTRACE_FMT_EV_TASK_BEGIN, (uint64_t)i + 1, 0, STR_REQUEST);
    SYNTH_EV(s, IO, io + 40 * US, CTRACE_FMT_EV_WAIT, CTRACE_FMT_WAIT_MUTEX, 30 * US, 0xabc, 0, 0);
    SYNTH_EV(s, IO, io + 70 * US, CTRACE_FMT_EV_SYSCALL, 0 /* read */, 20 * US, 3,
             ctrace_fmt_zigzag(10));
    SYNTH_EV(s, IO, io + 100 * US, CTRACE_FMT_EV_TASK_END, (uint64_t)i + 1);
    io += 200 * US;
  }
  SYNTH_EV(s, MAIN, t, CTRACE_FMT_EV_REGION_BEGIN, is_new ? SITE_FRESH : SITE_GONE);
  SYNTH_EV0(s, MAIN, t + 50 * US, CTRACE_FMT_EV_REGION_END);
  synth_write(s, path);
  synth_free(s);
}

static const uint64_t few_base[3] = {100, 300, 200}, few_new[3] = {900, 1200, 700};

static const char *base_path, *new_path;

static void write_pair(void) {
  base_path = test_tmp_path("diff_base.ctrace");
  new_path = test_tmp_path("diff_new.ctrace");
  write_trace(base_path, 1000, 1, few_base, 0);
  write_trace(new_path, 1500, 2, few_new, 1);
}

static test_proc run_diff(const char *const *args) {
  char *argv[16] = {(char *)test_ctrace_bin, "diff"};
  size_t n = 2;
  for (; *args && n < 15; args++)
    argv[n++] = (char *)*args;
  argv[n] = NULL;
  return test_run(argv, NULL);
}

static const cJSON *row_named(const cJSON *root, const char *name, const char *kind) {
  const cJSON *r;
  cJSON_ArrayForEach(r, cJSON_GetObjectItem(root, "regions")) {
    if (!strcmp(cJSON_GetObjectItem(r, "name")->valuestring, name) &&
        !strcmp(cJSON_GetObjectItem(r, "kind")->valuestring, kind))
      return r;
  }
  TEST_FAIL("no %s '%s' in the diff", kind, name);
}

static double side_num(const cJSON *row, const char *side, const char *key) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(row, side), key)->valuedouble;
}

static int is_true(const cJSON *row, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItem(row, key));
}

TEST_IMPL(diff_synth_flags_slow_only) {
  write_pair();
  test_proc p = run_diff((const char *[]){base_path, "--", new_path, "--json", NULL});
  if (p.status != 1)
    TEST_FAIL("exit %d, expected 1\n%s%s", p.status, p.out, p.err);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "metric")->valuestring, "p50");
  const cJSON *reg = cJSON_GetObjectItem(j, "regressed");
  ASSERT_EQ(cJSON_GetArraySize(reg), 1);
  ASSERT_STR_EQ(cJSON_GetArrayItem(reg, 0)->valuestring, "slow");
  /* slow: the same noise on both sides, shifted by 500 us: first row */
  const cJSON *slow = row_named(j, "slow", "region");
  ASSERT(slow == cJSON_GetArrayItem(cJSON_GetObjectItem(j, "regions"), 0));
  double b50 = side_num(slow, "base", "p50_ns"), n50 = side_num(slow, "new", "p50_ns");
  ASSERT_CLOSE(n50 - b50, 500.0 * US);
  ASSERT_CLOSE(cJSON_GetObjectItem(slow, "delta_pct")->valuedouble, 500.0 * US / b50 * 100);
  ASSERT_CLOSE(side_num(slow, "base", "count"), 40);
  ASSERT_CLOSE(side_num(slow, "new", "total_ns") - side_num(slow, "base", "total_ns"),
               40 * 500.0 * US);
  /* 40 against 40 apart: far below 0.01 */
  ASSERT(cJSON_GetObjectItem(slow, "p_value")->valuedouble < 1e-9);
  ASSERT(is_true(slow, "significant") && is_true(slow, "regressed"));
  /* steady: same values, noise in another order: no regression */
  const cJSON *steady = row_named(j, "steady", "region");
  ASSERT(!is_true(steady, "regressed"));
  ASSERT(fabs(cJSON_GetObjectItem(steady, "delta_pct")->valuedouble) < 10);
  /* few: +300% at p50, but 3 against 3 cannot be significant */
  const cJSON *few = row_named(j, "few", "region");
  ASSERT_CLOSE(side_num(few, "base", "p50_ns"), 200.0 * US);
  ASSERT_CLOSE(side_num(few, "new", "p50_ns"), 900.0 * US);
  ASSERT(is_true(few, "too_few") && !is_true(few, "significant") && !is_true(few, "regressed"));
  ASSERT(cJSON_IsNull(cJSON_GetObjectItem(few, "p_value")));
  /* tail: its bulk 200 ns later, significant but far below 10% */
  const cJSON *tail = row_named(j, "tail", "region");
  ASSERT(is_true(tail, "significant") && !is_true(tail, "regressed"));
  /* waits, syscalls, tasks matched by name, unchanged */
  const char *kinds[][2] = {{"mutex wait", "wait"}, {"read", "syscall"}, {"request", "task"}};
  for (int k = 0; k < 3; k++) {
    const cJSON *r = row_named(j, kinds[k][0], kinds[k][1]);
    ASSERT_CLOSE(side_num(r, "base", "count"), 40);
    ASSERT_CLOSE(side_num(r, "new", "count"), 40);
    ASSERT_CLOSE(cJSON_GetObjectItem(r, "delta_pct")->valuedouble, 0);
    ASSERT(!is_true(r, "regressed") && !is_true(r, "significant"));
  }
  ASSERT_CLOSE(side_num(row_named(j, "request", "task"), "new", "p50_ns"), 100.0 * US);
  /* one side only: listed, never regressed */
  const cJSON *gone = row_named(j, "gone", "region"), *fresh = row_named(j, "fresh", "region");
  ASSERT_STR_EQ(cJSON_GetObjectItem(gone, "status")->valuestring, "removed");
  ASSERT_STR_EQ(cJSON_GetObjectItem(fresh, "status")->valuestring, "added");
  ASSERT_CLOSE(side_num(gone, "new", "count"), 0);
  ASSERT_CLOSE(side_num(fresh, "base", "count"), 0);
  ASSERT(!is_true(fresh, "regressed") && !is_true(gone, "regressed"));
  cJSON_Delete(j);
  test_proc_free(&p);

  /* the table: options before the files, the regression first */
  p = run_diff((const char *[]){"--threshold", "20", base_path, "--", new_path, NULL});
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.out, "REGRESSED");
  ASSERT_CONTAINS(p.out, "too few instances");
  ASSERT_CONTAINS(p.out, "added");
  /* line 1 says what was compared, line 2 is the header, line 3 the first row */
  const char *row = strchr(strchr(p.out, '\n') + 1, '\n') + 1;
  char kind[16], name[16];
  ASSERT_EQ(sscanf(row, "%15s %15s", kind, name), 2);
  ASSERT_STR_EQ(kind, "region");
  ASSERT_STR_EQ(name, "slow");
  ASSERT(strstr(row, "REGRESSED") < strchr(row, '\n'));
  test_proc_free(&p);
  /* the other way round: an improvement, exit 0 */
  p = run_diff((const char *[]){new_path, "--", base_path, NULL});
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "improved");
  test_proc_free(&p);
  /* a trace against itself */
  p = run_diff((const char *[]){base_path, "--", base_path, NULL});
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "0 regressed");
  test_proc_free(&p);
  return 0;
}

/* The exit status of diff base -- new with options. */
static int diff_status(const char *const *opts) {
  const char *args[12] = {base_path, "--", new_path};
  size_t n = 3;
  for (; *opts; opts++)
    args[n++] = *opts;
  args[n] = NULL;
  test_proc p = run_diff(args);
  int st = p.status;
  if (st == 2)
    fprintf(stderr, "%s", p.err);
  test_proc_free(&p);
  return st;
}

TEST_IMPL(diff_synth_metric_threshold) {
  write_pair();
  /* +50% at p50 and p99 (p99 of 40 is the 40th: base 1050, new 1550 us) */
  ASSERT_EQ(diff_status((const char *[]){"--metric", "p99", NULL}), 1);
  /* "tail": its bulk 200 ns later (the U test: significant) and its new
   * outlier 900 us (p99 +194%), but one instance above the base's p99
   * tells nothing of the tail: not a p99 regression */
  test_proc p =
      run_diff((const char *[]){"--metric", "p99", "--json", base_path, "--", new_path, NULL});
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  const cJSON *tail = row_named(j, "tail", "region");
  ASSERT(cJSON_GetObjectItem(tail, "delta_pct")->valuedouble > 190);
  ASSERT_CLOSE(cJSON_GetObjectItem(tail, "p_value")->valuedouble, 0.5);
  ASSERT(!is_true(tail, "significant") && !is_true(tail, "regressed"));
  ASSERT(is_true(row_named(j, "slow", "region"), "regressed"));
  cJSON_Delete(j);
  test_proc_free(&p);
  ASSERT_EQ(diff_status((const char *[]){"--threshold", "49", NULL}), 1);
  ASSERT_EQ(diff_status((const char *[]){"--threshold=60", NULL}), 0);
  ASSERT_EQ(diff_status((const char *[]){"--metric=p99", "--threshold", "60", NULL}), 0);
  /* --min-change: slow's p50 moved by 500 us */
  ASSERT_EQ(diff_status((const char *[]){"--min-change", "400us", NULL}), 1);
  ASSERT_EQ(diff_status((const char *[]){"--min-change=0.6ms", NULL}), 0);
  /* total: +50% by the durations' test (the counts are equal) */
  ASSERT_EQ(diff_status((const char *[]){"--metric", "total", NULL}), 1);
  /* count: every count is the same (fresh/gone are on one side only) */
  ASSERT_EQ(diff_status((const char *[]){"--metric", "count", NULL}), 0);
  /* the report says what it used */
  p = run_diff((const char *[]){"--metric", "total", "--json", base_path, "--", new_path,
                                "--threshold", "25", NULL});
  j = cJSON_Parse(p.out);
  ASSERT(j);
  ASSERT_STR_EQ(cJSON_GetObjectItem(j, "metric")->valuestring, "total");
  ASSERT_CLOSE(cJSON_GetObjectItem(j, "threshold_pct")->valuedouble, 25);
  const cJSON *slow = row_named(j, "slow", "region");
  double want = (side_num(slow, "new", "total_ns") - side_num(slow, "base", "total_ns")) /
                side_num(slow, "base", "total_ns") * 100;
  ASSERT_CLOSE(cJSON_GetObjectItem(slow, "delta_pct")->valuedouble, want);
  ASSERT(is_true(slow, "regressed"));
  cJSON_Delete(j);
  test_proc_free(&p);
  return 0;
}

/* ctrace diff ARGS fails with exit 2 and a message holding `want`. */
static void expect_usage(const char *const *args, const char *want) {
  test_proc p = run_diff(args);
  if (p.status != 2 || !strstr(p.err, want))
    TEST_FAIL("ctrace diff %s...: exit %d, stderr \"%s\"; expected 2 and \"%s\"", args[0], p.status,
              p.err, want);
  test_proc_free(&p);
}

TEST_IMPL(diff_cli_errors) {
  write_pair();
  expect_usage((const char *[]){base_path, "--", new_path, "--bogus", NULL}, "'--bogus'");
  expect_usage((const char *[]){base_path, new_path, NULL}, "missing '--'");
  expect_usage((const char *[]){base_path, "--", NULL}, "no new trace");
  expect_usage((const char *[]){"--", new_path, NULL}, "no base trace");
  expect_usage((const char *[]){base_path, "--", new_path, "--metric", "p42", NULL}, "'p42'");
  expect_usage((const char *[]){base_path, "--", new_path, "--threshold", "lots", NULL}, "'lots'");
  expect_usage((const char *[]){base_path, "--", new_path, "--threshold", NULL}, "needs a value");
  expect_usage((const char *[]){base_path, "--", new_path, "--min-change", "soon", NULL}, "'soon'");
  const char *missing = test_tmp_path("diff_missing.ctrace");
  unlink(missing);
  expect_usage((const char *[]){base_path, "--", missing, NULL}, missing);
  const char *junk = test_tmp_path("diff_junk.ctrace");
  test_write_file(junk, "not a trace at all\n", 19);
  expect_usage((const char *[]){junk, "--", new_path, NULL}, junk);
  return 0;
}

/* 5000 instances of "many" (over QT_EXACT_MAX: percentiles and ranks from
 * the sketch) of base_us + (i mod 100) x 100 ns, and 3000 of "mixed"
 * (exact) in base, 5000 (estimated) in new, of 50 us + (i mod 7) x 1001 ns. */
static void write_many(const char *path, uint64_t base_us, int mixed_n) {
  synth *s = synth_new(100, "many", T0, 0);
  synth_site(s, 1, CTRACE_FMT_SITE_REGION, "many", "m.c", 1, "f");
  synth_site(s, 2, CTRACE_FMT_SITE_REGION, "mixed", "m.c", 2, "f");
  synth_thread(s, MAIN, 101, "main");
  uint64_t t = T0 + 10 * US;
  for (int i = 0; i < 5000; i++) {
    uint64_t d = base_us * US + (uint64_t)(i % 100) * 100;
    SYNTH_EV(s, MAIN, t, CTRACE_FMT_EV_REGION_BEGIN, 1);
    SYNTH_EV0(s, MAIN, t + d, CTRACE_FMT_EV_REGION_END);
    t += d + US;
    if (i < mixed_n) {
      SYNTH_EV(s, MAIN, t, CTRACE_FMT_EV_REGION_BEGIN, 2);
      SYNTH_EV0(s, MAIN, t + 50 * US + (uint64_t)(i % 7) * 1001, CTRACE_FMT_EV_REGION_END);
      t += 60 * US;
    }
  }
  synth_write(s, path);
  synth_free(s);
}

TEST_IMPL(diff_synth_estimated) {
  const char *a = test_tmp_path("diff_many_a.ctrace"), *b = test_tmp_path("diff_many_b.ctrace");
  write_many(a, 100, 3000);
  write_many(b, 120, 5000);
  test_proc p = run_diff((const char *[]){a, "--", b, "--json", NULL});
  if (p.status != 1)
    TEST_FAIL("exit %d, expected 1\n%s%s", p.status, p.out, p.err);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  const cJSON *many = row_named(j, "many", "region");
  ASSERT(is_true(cJSON_GetObjectItem(many, "new"), "percentiles_estimated"));
  /* p50: the value of rank 2500, 100 us + 49 x 100 ns, within 0.4% */
  double b50 = side_num(many, "base", "p50_ns");
  ASSERT(fabs(b50 - 104900) <= 104900 / 256.0);
  ASSERT(is_true(many, "regressed"));
  ASSERT(cJSON_GetObjectItem(many, "p_value")->valuedouble < 1e-9);
  /* mixed: one side exact, one estimated, alike: ranked in the same
   * buckets (unbucketed, each exact 51001 would rank above the sketch's
   * bucket 50944..51199 of it), nothing to tell apart */
  const cJSON *mixed = row_named(j, "mixed", "region");
  ASSERT_CLOSE(side_num(mixed, "base", "count"), 3000);
  ASSERT(!cJSON_GetObjectItem(cJSON_GetObjectItem(mixed, "base"), "percentiles_estimated"));
  ASSERT(cJSON_GetObjectItem(mixed, "p_value")->valuedouble > 0.5);
  ASSERT(!is_true(mixed, "significant"));
  cJSON_Delete(j);
  test_proc_free(&p);
  return 0;
}

/* ---- A program recorded twice ------------------------------------------------------------ */

/* diff_prog recorded into path by libctrace (CTRACE_OUT), slowed or not. */
static void record(const char *path, int slow) {
  char out[600];
  snprintf(out, sizeof out, "CTRACE_OUT=%s", path);
  char *env[] = {out, slow ? "DIFF_SLOW=1" : NULL, NULL};
  char *argv[] = {TEST_PROGS_DIR "/diff_prog", NULL};
  test_proc p = test_run(argv, env);
  if (p.status)
    TEST_FAIL("diff_prog exited %d: %s", p.status, p.err);
  test_proc_free(&p);
}

TEST_IMPL(diff_recorded_runs) {
  const char *a = test_tmp_path("diff_run_a.ctrace"), *b = test_tmp_path("diff_run_b.ctrace"),
             *slow = test_tmp_path("diff_run_slow.ctrace");
  record(a, 0);
  record(b, 0);
  record(slow, 1);
  /* the same program twice: nothing regressed */
  test_proc p = run_diff((const char *[]){a, "--", b, "--json", NULL});
  if (p.status != 0)
    TEST_FAIL("same program twice: exit %d\n%s%s", p.status, p.out, p.err);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(j, "regressed")), 0);
  ASSERT_CLOSE(side_num(row_named(j, "steady", "region"), "new", "count"), 40);
  cJSON_Delete(j);
  test_proc_free(&p);
  /* "slowed" spun 600 us instead of 300: flagged, "steady" not */
  p = run_diff((const char *[]){a, "--", slow, "--json", NULL});
  if (p.status != 1)
    TEST_FAIL("slowed region: exit %d\n%s%s", p.status, p.out, p.err);
  j = cJSON_Parse(p.out);
  ASSERT(j);
  const cJSON *reg = cJSON_GetObjectItem(j, "regressed");
  ASSERT_EQ(cJSON_GetArraySize(reg), 1);
  ASSERT_STR_EQ(cJSON_GetArrayItem(reg, 0)->valuestring, "slowed");
  const cJSON *slowed = row_named(j, "slowed", "region");
  /* spinning to a deadline: at least the time asked */
  ASSERT(side_num(slowed, "new", "p50_ns") >= 600.0 * US);
  ASSERT(side_num(slowed, "base", "p50_ns") >= 300.0 * US);
  ASSERT(!is_true(row_named(j, "steady", "region"), "regressed"));
  cJSON_Delete(j);
  test_proc_free(&p);
  return 0;
}
