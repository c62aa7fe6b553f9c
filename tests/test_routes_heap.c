/* The viewer's /api/heap (viewer/server/routes_heap.c): heap_sites
 * (tests/progs/heap_sites.c) recorded with `ctrace run --heap-rate 1`, so
 * that every allocation is a sample and the values are exact, asked for
 * through the routes (rt_handle, as the HTTP server calls it): in the
 * 50 ms pause after keep_big's loop, what is in use is keep_big's 2000
 * blocks of 4096 bytes and nothing else; the whole trace allocated
 * churn_small's 1000 blocks of 64 bytes too, none of them still in use at
 * its end; the tree adds up; bad parameters are named; a trace without
 * heap samples says how to get them. heap_api_synth, in every build
 * (sanitizers included: the heap_run_* tests need the preload): a written
 * trace sampled at 1000 bytes, its estimates scaled as Go scales them. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server.h"
#include "synth_trace.h"
#include "test.h"

#define SITES TEST_PROGS_DIR "/heap_sites"

/* `ctrace run --heap-rate RATE -o out -- heap_sites 1000`. */
static void record(const char *out, const char *rate) {
  char *argv[] = {(char *)test_ctrace_bin,
                  "run",
                  "--heap-rate",
                  (char *)rate,
                  "-o",
                  (char *)out,
                  "--",
                  SITES,
                  "1000",
                  NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace run --heap-rate %s failed (%d): %s", rate, p.status, p.err);
  ASSERT_CONTAINS(p.out, "done 4000");
  test_proc_free(&p);
}

/* The trace and its FILE.kernel, indexed. */
static vx_index *index_of(const char *trace) {
  char kernel[1100], err[1024];
  snprintf(kernel, sizeof kernel, "%s.kernel", trace);
  char *paths[2] = {(char *)trace, kernel};
  vx_index *x = vx_build(paths, access(kernel, R_OK) == 0 ? 2 : 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

/* GET /api/heap?query: the status in *status, the answer parsed (cJSON_Delete it). */
static cJSON *get(vx_index *x, const char *query, int *status) {
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x;
  rt_request req = {"GET", "/api/heap", query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  *status = r.status;
  ASSERT(r.body != NULL);
  ASSERT_STR_EQ(r.content_type, "application/json");
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("/api/heap?%s: not JSON: %.300s", query, text);
  free(text);
  free(r.body);
  return o;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("no number '%s' in the answer", key);
  return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* What the sites weigh in a tree: per site, the bytes and objects of the
 * nodes named so under main. */
typedef struct sites {
  uint64_t bytes[4], objects[4];
} sites;
static const char *const SITE_NAMES[4] = {"keep_big", "churn_small", "keep_grown", "calloc_kept"};

/* Checks that every node's total is its self plus its children's totals
 * and its objects its children's objects (or more), children largest
 * first; adds the sites' nodes under main to *s. */
static void check_node(const cJSON *n, int under_main, sites *s) {
  const char *nm = str(n, "name");
  ASSERT(nm != NULL);
  uint64_t total = (uint64_t)num(n, "total"), self = (uint64_t)num(n, "self");
  uint64_t objects = (uint64_t)num(n, "objects"), sum = 0, sum_objects = 0;
  for (int i = 0; i < 4 && under_main; i++)
    if (!strcmp(nm, SITE_NAMES[i])) {
      s->bytes[i] += total;
      s->objects[i] += objects;
    }
  under_main |= !strcmp(nm, "main");
  const cJSON *kids = cJSON_GetObjectItemCaseSensitive(n, "children"), *c;
  ASSERT(cJSON_IsArray(kids));
  double prev = -1;
  cJSON_ArrayForEach(c, kids) {
    double t = num(c, "total");
    if (strcmp(str(c, "name"), "(other)")) {
      ASSERT(prev < 0 || t <= prev);
      prev = t;
    }
    sum += (uint64_t)t;
    sum_objects += (uint64_t)num(c, "objects");
    check_node(c, under_main, s);
  }
  if (total != self + sum)
    TEST_FAIL("node %s: total %" PRIu64 " != self %" PRIu64 " + children %" PRIu64, nm, total, self,
              sum);
  ASSERT_UGE(objects, sum_objects);
}

/* A 200 answer of that kind: its totals checked against the tree's root,
 * the sites in *s. @return the answer (cJSON_Delete it). */
static cJSON *profile(vx_index *x, const char *query, const char *kind, sites *s) {
  int status;
  cJSON *o = get(x, query, &status);
  if (status != 200)
    TEST_FAIL("/api/heap?%s: HTTP %d: %s", query, status, str(o, "error"));
  ASSERT_STR_EQ(str(o, "kind"), kind);
  ASSERT_STR_EQ(str(o, "unit"), "bytes");
  ASSERT_EQ(num(o, "rate"), 1);
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "estimated")));
  const cJSON *root = cJSON_GetObjectItemCaseSensitive(o, "root");
  ASSERT_STR_EQ(str(root, "name"), "all");
  ASSERT_EQ(num(root, "total"), num(o, "bytes"));
  ASSERT_EQ(num(root, "objects"), num(o, "objects"));
  ASSERT_EQ(num(root, "self"), 0);
  memset(s, 0, sizeof *s);
  check_node(root, 0, s);
  printf("/api/heap?%s: %.0f bytes in %.0f objects from %.0f samples; keep_big %" PRIu64
         ", churn_small %" PRIu64 ", keep_grown %" PRIu64 ", calloc_kept %" PRIu64 "\n",
         query, num(o, "bytes"), num(o, "objects"), num(o, "samples"), s->bytes[0], s->bytes[1],
         s->bytes[2], s->bytes[3]);
  return o;
}

/* A 4xx answer whose error holds want. */
static void expect_error(vx_index *x, const char *query, int want_status, const char *want) {
  int status;
  cJSON *o = get(x, query, &status);
  ASSERT_EQ(status, want_status);
  ASSERT_EQ(num(o, "status"), want_status);
  ASSERT(str(o, "error") != NULL);
  ASSERT_CONTAINS(str(o, "error"), want);
  cJSON_Delete(o);
}

/* An instant in the 50 ms pause: halfway between keep_big's last sample
 * (4096 bytes) and keep_grown's first (100 bytes, then its realloc to
 * 1000: the C library's start-up asks for 100 bytes too, and printf for
 * 4096 at the end). */
static uint64_t pause_of(const vx_index *x) {
  const vx_heap_sample *hs;
  size_t n = vx_heap_samples(x, &hs);
  uint64_t last_big = 0, first_grown = 0;
  for (size_t i = 0; i + 1 < n && !first_grown; i++)
    if (hs[i].bytes == 100 && hs[i + 1].bytes == 1000)
      first_grown = hs[i].ts;
  for (size_t i = 0; i < n; i++)
    if (hs[i].bytes == 4096 && hs[i].ts < first_grown && hs[i].ts > last_big)
      last_big = hs[i].ts;
  ASSERT(last_big && first_grown);
  ASSERT_UGE(first_grown - last_big, 40000000); /* the pause */
  return last_big + (first_grown - last_big) / 2;
}

TEST_IMPL(heap_run_api) {
  const char *out = test_tmp_path("apiheap.ctrace");
  record(out, "1");
  vx_index *x = index_of(out);
  uint64_t t0 = vx_t0(x), t1 = vx_t1(x), mid = pause_of(x);
  char q[256];
  sites s;
  /* in the pause: keep_big's blocks, and nothing else */
  snprintf(q, sizeof q, "at=%" PRIu64, mid);
  cJSON *o = profile(x, q, "inuse", &s);
  ASSERT_EQ(num(o, "bytes"), 2000 * 4096);
  ASSERT_EQ(num(o, "objects"), 2000);
  ASSERT_EQ(num(o, "samples"), 2000);
  ASSERT_EQ(num(o, "at"), (double)mid);
  ASSERT_UEQ(s.bytes[0], 2000 * 4096);
  ASSERT_UEQ(s.objects[0], 2000);
  ASSERT_UEQ(s.bytes[1] + s.bytes[2] + s.bytes[3], 0);
  cJSON_Delete(o);
  /* the whole trace allocated every site's blocks; at its end churn_small's are freed */
  snprintf(q, sizeof q, "from=%" PRIu64 "&to=%" PRIu64, t0, t1);
  o = profile(x, q, "allocated", &s);
  ASSERT_UEQ(s.bytes[0], 2000 * 4096);
  ASSERT_UEQ(s.bytes[1], 1000 * 64);
  ASSERT_UEQ(s.objects[1], 1000);
  ASSERT_UEQ(s.bytes[2], 1000 * (100 + 1000)); /* realloc: a new allocation */
  ASSERT_UEQ(s.bytes[3], 1000 * 10 * 100);
  ASSERT(num(o, "samples") >= 6000);
  ASSERT(num(o, "kept_bytes") >= 2000 * 4096 + 1000 * 1000 + 1000 * 1000);
  ASSERT(num(o, "kept_bytes") < num(o, "bytes") - 64000);
  cJSON_Delete(o);
  /* up to the pause: churn_small's and keep_big's allocations, keep_big's kept */
  snprintf(q, sizeof q, "from=%" PRIu64 "&to=%" PRIu64, t0, mid);
  o = profile(x, q, "allocated", &s);
  ASSERT_UEQ(s.bytes[0], 2000 * 4096);
  ASSERT_UEQ(s.bytes[1], 1000 * 64);
  ASSERT_UEQ(s.bytes[2] + s.bytes[3], 0);
  ASSERT_EQ(num(o, "kept_bytes"), 2000 * 4096);
  ASSERT_EQ(num(o, "kept_objects"), 2000);
  cJSON_Delete(o);
  /* bad parameters, named */
  expect_error(x, "", 400, "at=NS");
  expect_error(x, "at=abc", 400, "at must be");
  expect_error(x, "at=-5", 400, "at must be");
  expect_error(x, "at=5&from=1&to=9", 400, "not both");
  expect_error(x, "from=5", 400, "to must be");
  expect_error(x, "to=5", 400, "from must be");
  expect_error(x, "from=x&to=5", 400, "from must be");
  snprintf(q, sizeof q, "from=%" PRIu64 "&to=%" PRIu64, mid, t0);
  expect_error(x, q, 400, "to must be");
  snprintf(q, sizeof q, "at=%" PRIu64, t1 + 1000000000);
  expect_error(x, q, 400, "at: outside the trace");
  snprintf(q, sizeof q, "at=%" PRIu64 "&thread=nobody", mid);
  expect_error(x, q, 400, "no thread named 'nobody'");
  vx_free(x);
  /* a trace without heap samples: 404, saying how to record them */
  const char *none = test_tmp_path("apinoheap.ctrace");
  record(none, "0");
  x = index_of(none);
  snprintf(q, sizeof q, "at=%" PRIu64, vx_t1(x));
  expect_error(x, q, 404, "the trace holds no heap samples (ctrace run records them; --heap-rate)");
  vx_free(x);
  return 0;
}

/* ---- A written trace, in every build ------------------------------------------------------ */

#define HT0 1000000

/* Thread a allocates 100 B (stack 1, freed at +40) and 5000 B (stack 2,
 * kept), thread b 100 B (stack 1, freed at +60), a 300 B (stack 2, kept at
 * +50); one sample every 1000 bytes on average. */
static void write_synth(const char *path) {
  synth *s = synth_new(300, "heapy", HT0, 0);
  synth_thread(s, 1, 301, "a");
  synth_thread(s, 2, 302, "b");
  synth_heap_sampling(s, 1000, "synthetic");
  synth_mapping(s, 0x400000, 0x500000, 0, "/nonexistent/heapy");
  synth_stack(s, 1, (const uint64_t[]){0x401000, 0x402000}, 2);
  synth_stack(s, 2, (const uint64_t[]){0x403000, 0x402000}, 2);
  SYNTH_EV(s, 1, HT0 + 10, CTRACE_FMT_EV_HEAP_SAMPLE, 0x1000, 100, 1);
  SYNTH_EV(s, 1, HT0 + 20, CTRACE_FMT_EV_HEAP_SAMPLE, 0x2000, 5000, 2);
  SYNTH_EV(s, 2, HT0 + 30, CTRACE_FMT_EV_HEAP_SAMPLE, 0x3000, 100, 1);
  SYNTH_EV(s, 1, HT0 + 40, CTRACE_FMT_EV_HEAP_FREE, 0x1000);
  SYNTH_EV(s, 1, HT0 + 50, CTRACE_FMT_EV_HEAP_SAMPLE, 0x4000, 300, 2);
  SYNTH_EV(s, 2, HT0 + 60, CTRACE_FMT_EV_HEAP_FREE, 0x3000);
  synth_write(s, path);
  synth_free(s);
}

/* A 200 answer's number. */
static double answer_num(vx_index *x, const char *query, const char *key) {
  int status;
  cJSON *o = get(x, query, &status);
  if (status != 200)
    TEST_FAIL("/api/heap?%s: HTTP %d: %s", query, status, str(o, "error"));
  double v = num(o, key);
  cJSON_Delete(o);
  return v;
}

TEST_IMPL(heap_api_synth) {
  const char *path = test_tmp_path("apiheapsynth.ctrace");
  write_synth(path);
  vx_index *x = index_of(path);
  double w100 = 1 / -expm1(-0.1), w5000 = 1 / -expm1(-5.0), w300 = 1 / -expm1(-0.3);
  char q[128];
  /* in use at +35: a's 100 and 5000 B, b's 100 B; stack 1 rounded once */
  snprintf(q, sizeof q, "at=%d", HT0 + 35);
  int status;
  cJSON *o = get(x, q, &status);
  ASSERT_EQ(status, 200);
  ASSERT_STR_EQ(str(o, "kind"), "inuse");
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "estimated")));
  ASSERT_EQ(num(o, "rate"), 1000);
  ASSERT_EQ(num(o, "samples"), 3);
  ASSERT_EQ(num(o, "bytes"), llround(2 * 100 * w100) + llround(5000 * w5000));
  ASSERT_EQ(num(o, "objects"), llround(2 * w100) + llround(w5000));
  const cJSON *root = cJSON_GetObjectItemCaseSensitive(o, "root");
  ASSERT_EQ(num(root, "total"), num(o, "bytes"));
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "children")), 1);
  cJSON_Delete(o);
  /* allocated in [+25, +55): b's 100 B and a's 300 B, both still in use at +55 */
  snprintf(q, sizeof q, "from=%d&to=%d", HT0 + 25, HT0 + 55);
  ASSERT_EQ(answer_num(x, q, "bytes"), llround(100 * w100) + llround(300 * w300));
  ASSERT_EQ(answer_num(x, q, "kept_bytes"), llround(100 * w100 + 300 * w300));
  ASSERT_EQ(answer_num(x, q, "samples"), 2);
  /* to the end: b's block was freed at +60 */
  snprintf(q, sizeof q, "from=%d&to=%d", HT0 + 25, HT0 + 1000);
  ASSERT_EQ(answer_num(x, q, "kept_bytes"), llround(300 * w300));
  /* thread b alone, at +35: its 100 B */
  snprintf(q, sizeof q, "at=%d&thread=b", HT0 + 35);
  ASSERT_EQ(answer_num(x, q, "bytes"), llround(100 * w100));
  ASSERT_EQ(answer_num(x, q, "samples"), 1);
  snprintf(q, sizeof q, "from=%d&to=%d", HT0 + 100, HT0 + 200);
  expect_error(x, q, 400, "from: outside the trace");
  vx_free(x);
  return 0;
}
