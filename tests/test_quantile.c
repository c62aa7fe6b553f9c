/* The percentile sketch (viewer/analysis/quantile.c) against the exact
 * nearest-rank percentiles of sorted values, on random and adversarial
 * distributions; merging equals adding; and `ctrace stats` on a trace
 * whose region and task names cross QT_EXACT_MAX instances. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "analysis.h"
#include "quantile.h"
#include "test.h"

/* splitmix64: a fixed sequence, so a failure repeats. */
static uint64_t next(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

enum { N = 20000 };

/* Distribution d, value i of n. */
static uint64_t draw(int d, size_t i, size_t n, uint64_t *rng) {
  uint64_t r = next(rng);
  switch (d) {
  case 0: return r % 1000000;                           /* uniform, 0 .. 1 ms */
  case 1: return r >> (r & 63);                         /* log-uniform over all of uint64_t */
  case 2: return r % 300;                               /* small: buckets of width 1 and 2 */
  case 3: return 123456789;                             /* one value */
  case 4: return i % 2 ? 1 : 10000000000000ull;         /* two spikes, 1 ns and 10^13 ns */
  case 5: return (1ull << (r % 64)) - (r >> 63);        /* powers of two and one below */
  case 6: return i < n - 3 ? 1000 : UINT64_MAX - i % 2; /* a tail at the very top */
  case 7: return ((i * 7919) % n) * 1000 + 999;         /* a ramp, each bucket's last value */
  default: return 0;
  }
}

/* |est - exact| <= exact / 256, without overflow. */
static int within(uint64_t est, uint64_t exact) {
  uint64_t d = est > exact ? est - exact : exact - est;
  return d <= exact / 256;
}

static void check_sketch(const qt_sketch *s, uint64_t *v, size_t n, int d) {
  qsort(v, n, sizeof *v, cmp_u64);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += v[i];
  ASSERT_UEQ(s->count, n);
  ASSERT_UEQ(s->min, v[0]);
  ASSERT_UEQ(s->max, v[n - 1]);
  ASSERT_UEQ(s->sum, sum);
  for (unsigned p = 0; p <= 100; p++) {
    uint64_t exact = v[qt_rank(n, p) - 1], est = qt_quantile(s, p);
    if (!within(est, exact))
      TEST_FAIL("distribution %d, p%u of %zu: estimate %" PRIu64 ", exact %" PRIu64, d, p, n, est,
                exact);
  }
  /* the log2 histogram is exact */
  uint64_t want[ST_HIST] = {0}, got[ST_HIST] = {0};
  for (size_t i = 0; i < n; i++) {
    unsigned b = v[i] ? 63u - (unsigned)__builtin_clzll(v[i]) : 0;
    want[b < ST_HIST ? b : ST_HIST - 1]++;
  }
  qt_hist_log2(s, got, ST_HIST);
  for (unsigned b = 0; b < ST_HIST; b++)
    ASSERT_UEQ(got[b], want[b]);
}

TEST_IMPL(quantile_sketch_error) {
  uint64_t *v = malloc(N * sizeof *v);
  ASSERT(v);
  for (int d = 0; d < 8; d++) {
    static const size_t sizes[] = {1, 2, 99, 100, 101, N};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
      size_t n = sizes[k];
      uint64_t rng = (uint64_t)d * 1000 + k;
      qt_sketch s = {0};
      for (size_t i = 0; i < n; i++) {
        v[i] = draw(d, i, n, &rng);
        ASSERT_EQ(qt_add(&s, v[i]), 0);
      }
      check_sketch(&s, v, n, d);
      qt_free(&s);
    }
  }
  /* values below 256 have a bucket each: exact */
  qt_sketch s = {0};
  for (uint64_t i = 0; i < 256; i++)
    ASSERT_EQ(qt_add(&s, i), 0);
  for (unsigned p = 1; p <= 100; p++)
    ASSERT_UEQ(qt_quantile(&s, p), qt_rank(256, p) - 1);
  qt_free(&s);
  ASSERT_UEQ(qt_quantile(&s, 50), 0); /* empty */
  free(v);
  return 0;
}

static void same_sketch(const qt_sketch *a, const qt_sketch *b) {
  ASSERT_UEQ(a->count, b->count);
  ASSERT_UEQ(a->sum, b->sum);
  ASSERT_UEQ(a->min, b->min);
  ASSERT_UEQ(a->max, b->max);
  for (unsigned k = 0; k < QT_CHUNKS; k++) {
    ASSERT_EQ(!a->chunk[k], !b->chunk[k]);
    for (unsigned i = 0; a->chunk[k] && i < 1u << QT_SUB_BITS; i++)
      ASSERT_UEQ(a->chunk[k][i], b->chunk[k][i]);
  }
}

/* Merging the sketches of parts = one sketch of everything, whatever the
 * split (empty parts included). */
TEST_IMPL(quantile_sketch_merge) {
  for (int d = 0; d < 8; d++) {
    uint64_t rng = 77 + (uint64_t)d, split = 5;
    qt_sketch all = {0}, part[5] = {{0}}, merged = {0};
    for (size_t i = 0; i < N; i++) {
      uint64_t x = draw(d, i, N, &rng);
      ASSERT_EQ(qt_add(&all, x), 0);
      size_t p = next(&split) % 4; /* part 4 stays empty */
      ASSERT_EQ(qt_add(&part[p], x), 0);
    }
    for (size_t p = 5; p-- > 0;)
      ASSERT_EQ(qt_merge(&merged, &part[p]), 0);
    same_sketch(&merged, &all);
    for (unsigned p = 0; p <= 100; p++)
      ASSERT_UEQ(qt_quantile(&merged, p), qt_quantile(&all, p));
    qt_free(&all);
    qt_free(&merged);
    for (size_t p = 0; p < 5; p++)
      qt_free(&part[p]);
  }
  return 0;
}

/* qt_dist: exact up to QT_EXACT_MAX values, a sketch from the one after;
 * merging parts (each under the limit, together over it) equals adding. */
TEST_IMPL(quantile_dist_exact_then_estimated) {
  uint64_t *v = malloc((QT_EXACT_MAX + 1) * sizeof *v), rng = 3;
  ASSERT(v);
  qt_dist d = {0};
  for (size_t i = 0; i < QT_EXACT_MAX; i++) {
    v[i] = next(&rng) % 100000000;
    ASSERT_EQ(qt_dist_add(&d, v[i]), 0);
  }
  qsort(v, QT_EXACT_MAX, sizeof *v, cmp_u64);
  ASSERT_EQ(qt_dist_estimated(&d), 0);
  for (unsigned p = 0; p <= 100; p++)
    ASSERT_UEQ(qt_dist_percentile(&d, p), v[qt_rank(QT_EXACT_MAX, p) - 1]);
  ASSERT_EQ(qt_dist_add(&d, 5), 0); /* one more: estimates */
  ASSERT_EQ(qt_dist_estimated(&d), 1);
  ASSERT_UEQ(qt_dist_count(&d), QT_EXACT_MAX + 1);
  v[QT_EXACT_MAX] = 5;
  qsort(v, QT_EXACT_MAX + 1, sizeof *v, cmp_u64);
  for (unsigned p = 0; p <= 100; p++)
    ASSERT(within(qt_dist_percentile(&d, p), v[qt_rank(QT_EXACT_MAX + 1, p) - 1]));
  uint64_t h[ST_HIST] = {0}, hw[ST_HIST] = {0};
  qt_dist_hist_log2(&d, h, ST_HIST);
  for (size_t i = 0; i <= QT_EXACT_MAX; i++)
    hw[63 - __builtin_clzll(v[i] | 1)]++;
  for (unsigned b = 0; b < ST_HIST; b++)
    ASSERT_UEQ(h[b], hw[b]);

  /* three parts of 3000: merged, as if added one by one */
  qt_dist parts[3] = {{0}}, merged = {0}, one = {0};
  for (size_t i = 0; i < 9000; i++) {
    uint64_t x = next(&rng) % 1000000;
    ASSERT_EQ(qt_dist_add(&parts[i / 3000], x), 0);
    ASSERT_EQ(qt_dist_add(&one, x), 0);
  }
  ASSERT_EQ(qt_dist_merge(&merged, &parts[0]), 0);
  ASSERT_EQ(qt_dist_estimated(&merged), 0);
  ASSERT_EQ(qt_dist_merge(&merged, &parts[1]), 0);
  ASSERT_EQ(qt_dist_estimated(&merged), 1);
  ASSERT_EQ(qt_dist_merge(&merged, &parts[2]), 0);
  same_sketch(merged.s, one.s);
  /* a sketch into an exact one */
  qt_dist small = {0};
  ASSERT_EQ(qt_dist_add(&small, 7), 0);
  ASSERT_EQ(qt_dist_merge(&small, &one), 0);
  ASSERT_EQ(qt_dist_add(&one, 7), 0);
  same_sketch(small.s, one.s);
  for (size_t i = 0; i < 3; i++)
    qt_dist_free(&parts[i]);
  qt_dist_free(&merged);
  qt_dist_free(&one);
  qt_dist_free(&small);
  qt_dist_free(&d);
  free(v);
  return 0;
}

/* ---- ctrace stats across the limit --------------------------------------------------- */

/* Thread 1: "few" QT_EXACT_MAX times (exact), "many" QT_EXACT_MAX + 1
 * times (estimated), durations i*37 % 1000 + 1 us; tasks "job" of the
 * "many" regions' durations, one after another. */
static const char *write_big_trace(void) {
  size_t cap = 400 * (3 * QT_EXACT_MAX + 8), len = 0;
  char *j = malloc(cap);
  ASSERT(j);
  len += (size_t)snprintf(j + len, cap - len, "{\"traceEvents\":[\n");
  uint64_t ts = 0;
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < QT_EXACT_MAX + (size_t)k; i++) {
      uint64_t dur = (i * 37) % 1000 + 1;
      len += (size_t)snprintf(j + len, cap - len,
                              "{\"ph\":\"X\",\"name\":\"%s\",\"pid\":1,\"tid\":1,\"ts\":%" PRIu64
                              ",\"dur\":%" PRIu64 "},\n",
                              k ? "many" : "few", ts, dur);
      if (k)
        len += (size_t)snprintf(
            j + len, cap - len,
            "{\"ph\":\"b\",\"name\":\"job\",\"id\":%zu,\"pid\":1,\"tid\":1,\"ts\":%" PRIu64 "},\n"
            "{\"ph\":\"e\",\"name\":\"job\",\"id\":%zu,\"pid\":1,\"tid\":1,\"ts\":%" PRIu64 "},\n",
            i + 1, ts, i + 1, ts + dur);
      ts += dur + 1;
    }
  len += (size_t)snprintf(j + len, cap - len,
                          "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,"
                          "\"args\":{\"name\":\"T\"}}\n]}\n");
  ASSERT(len < cap);
  const char *path = test_tmp_path("quantile.json");
  test_write_file(path, j, len);
  free(j);
  return path;
}

/* The durations (ns) of `count` regions as write_big_trace makes them,
 * sorted. */
static uint64_t *big_durations(size_t count) {
  uint64_t *v = malloc(count * sizeof *v);
  ASSERT(v);
  for (size_t i = 0; i < count; i++)
    v[i] = ((i * 37) % 1000 + 1) * 1000;
  qsort(v, count, sizeof *v, cmp_u64);
  return v;
}

static const cJSON *row(const cJSON *rows, const char *name) {
  const cJSON *o;
  cJSON_ArrayForEach(o, rows) {
    if (!strcmp(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, name))
      return o;
  }
  TEST_FAIL("no row '%s'", name);
}

static uint64_t jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("no number '%s'", k);
  return (uint64_t)v->valuedouble;
}

static void check_stats_json(const char *out) {
  uint64_t *few = big_durations(QT_EXACT_MAX), *many = big_durations(QT_EXACT_MAX + 1);
  cJSON *root = cJSON_Parse(out);
  ASSERT(root);
  const cJSON *regs = cJSON_GetObjectItemCaseSensitive(root, "regions");
  const cJSON *f = row(regs, "few"), *m = row(regs, "many");
  ASSERT_UEQ(jnum(f, "count"), QT_EXACT_MAX);
  ASSERT(!cJSON_GetObjectItemCaseSensitive(f, "percentiles_estimated"));
  ASSERT(!cJSON_GetObjectItemCaseSensitive(f, "percentiles_rel_error"));
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "percentiles_estimated")));
  ASSERT(cJSON_GetObjectItemCaseSensitive(m, "percentiles_rel_error")->valuedouble == 1.0 / 256);
  static const char *const keys[] = {"p50_ns", "p90_ns", "p99_ns"};
  static const unsigned ps[] = {50, 90, 99};
  for (int k = 0; k < 3; k++) {
    ASSERT_UEQ(jnum(f, keys[k]), few[qt_rank(QT_EXACT_MAX, ps[k]) - 1]);
    ASSERT(within(jnum(m, keys[k]), many[qt_rank(QT_EXACT_MAX + 1, ps[k]) - 1]));
  }
  ASSERT_UEQ(jnum(m, "min_ns"), many[0]);
  ASSERT_UEQ(jnum(m, "max_ns"), many[QT_EXACT_MAX]);
  /* the histogram stays exact: 1..1000 us fall in log2 buckets 9..19 */
  uint64_t hist = 0;
  const cJSON *h;
  cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(m, "hist")) {
    uint64_t lo = jnum(h, "lo_ns"), hi = jnum(h, "hi_ns"), want = 0;
    for (size_t i = 0; i <= QT_EXACT_MAX; i++)
      want += many[i] >= lo && many[i] < hi;
    ASSERT_UEQ(jnum(h, "count"), want);
    hist += want;
  }
  ASSERT_UEQ(hist, QT_EXACT_MAX + 1);
  const cJSON *job = cJSON_GetArrayItem(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "tasks"), "by_name"),
      0);
  ASSERT_UEQ(jnum(job, "count"), QT_EXACT_MAX + 1);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(job, "percentiles_estimated")));
  ASSERT(within(jnum(job, "p90_ns"), many[qt_rank(QT_EXACT_MAX + 1, 90) - 1]));
  cJSON_Delete(root);
  free(few);
  free(many);
}

TEST_IMPL(stats_percentiles_estimated) {
  const char *path = write_big_trace();
  char *argv[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--json", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  check_stats_json(p.out);
  test_proc_free(&p);

  char *text[] = {(char *)test_ctrace_bin, "stats", (char *)path, NULL};
  p = test_run(text, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "p50/p90/p99 of regions with more than 4096 instances are estimates "
                         "within 0.4%\n");
  ASSERT_CONTAINS(p.out, "p50/p90/p99 of tasks with more than 4096 instances are estimates "
                         "within 0.4%\n");
  test_proc_free(&p);

  /* a window of the "few" regions alone (they end where "many" begin):
   * exact, no footnote */
  uint64_t few_end = 0;
  for (size_t i = 0; i < QT_EXACT_MAX; i++)
    few_end += (i * 37) % 1000 + 2;
  char until[32];
  snprintf(until, sizeof until, "%" PRIu64 "us", few_end);
  char *win[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--until", until, NULL};
  p = test_run(win, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "few");
  ASSERT(!strstr(p.out, "many"));
  ASSERT(!strstr(p.out, "estimate"));
  test_proc_free(&p);
  return 0;
}
