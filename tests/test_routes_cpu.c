/* The viewer's /api/cpu (viewer/server/routes_cpu.c): the pipeline sample
 * recorded with `ctrace run --cpu-hz 999`, its CPU samples asked for
 * through the routes (rt_handle, as the HTTP server calls it) and the call
 * tree checked: the counts add up, the workers' function is under the
 * threads' start, a region and a window keep fewer samples, bad
 * parameters are named, and a trace without samples says how to get them. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "server.h"
#include "test.h"

/* `ctrace run [--cpu-hz 999] -o out -- cmd...`; 0, or 1 when CPU samples
 * were asked for and this machine refuses them (said on stdout). */
static int record(const char *out, int cpu, char *const cmd[]) {
  char *argv[32] = {(char *)test_ctrace_bin, "run"};
  int n = 2;
  if (cpu) {
    argv[n++] = "--cpu-hz";
    argv[n++] = "999";
  }
  argv[n++] = "-o";
  argv[n++] = (char *)out;
  argv[n++] = "--";
  for (int i = 0; cmd[i] && n < 30; i++)
    argv[n++] = cmd[i];
  argv[n] = NULL;
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace run failed (%d): %s", p.status, p.err);
  int refused = cpu && strstr(p.err, "no CPU samples") != NULL;
  if (refused)
    printf("CPU samples refused here: %s", p.err);
  test_proc_free(&p);
  return refused;
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

/* GET /api/cpu?query: the status in *status, the answer parsed (cJSON_Delete it). */
static cJSON *get(vx_index *x, const char *query, int *status) {
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x;
  rt_request req = {"GET", "/api/cpu", query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  *status = r.status;
  ASSERT(r.body != NULL);
  ASSERT_STR_EQ(r.content_type, "application/json");
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("/api/cpu?%s: not JSON: %.300s", query, text);
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

/* Checks that every node's total is its self plus its children's totals,
 * children largest first; adds the totals of the nodes named `name` whose
 * ancestors include one named `under` to *found. @return the nodes. */
static size_t check_node(const cJSON *n, const char *name, const char *under, int seen_under,
                         uint64_t *found) {
  const char *nm = str(n, "name");
  ASSERT(nm != NULL);
  uint64_t total = (uint64_t)num(n, "total"), self = (uint64_t)num(n, "self"), sum = 0;
  const cJSON *kids = cJSON_GetObjectItemCaseSensitive(n, "children");
  ASSERT(cJSON_IsArray(kids));
  if (!strcmp(nm, name) && seen_under)
    *found += total;
  seen_under |= !strcmp(nm, under);
  size_t count = 1;
  double prev = -1;
  const cJSON *c;
  cJSON_ArrayForEach(c, kids) {
    double t = num(c, "total");
    if (strcmp(str(c, "name"), "(other)")) { /* (other) comes last, whatever its size */
      ASSERT(prev < 0 || t <= prev);
      prev = t;
    }
    sum += (uint64_t)t;
    count += check_node(c, name, under, seen_under, found);
  }
  if (total != self + sum)
    TEST_FAIL("node %s: total %" PRIu64 " != self %" PRIu64 " + children %" PRIu64, nm, total, self,
              sum);
  return count;
}

/* The samples of an answer that must be a 200 with a consistent tree. */
static uint64_t samples_of(vx_index *x, const char *query, uint64_t *worker) {
  int status;
  cJSON *o = get(x, query, &status);
  if (status != 200)
    TEST_FAIL("/api/cpu?%s: HTTP %d: %s", query, status, str(o, "error"));
  uint64_t samples = (uint64_t)num(o, "samples");
  ASSERT_EQ(num(o, "hz"), 999);
  ASSERT(num(o, "period_ns") > 0);
  const cJSON *root = cJSON_GetObjectItemCaseSensitive(o, "root");
  ASSERT_STR_EQ(str(root, "name"), "all");
  ASSERT_UEQ((uint64_t)num(root, "total"), samples);
  ASSERT_EQ(num(root, "self"), 0);
  uint64_t found = 0;
  size_t nodes = check_node(root, "worker", "start_thread", 0, &found);
  printf("/api/cpu?%s: %" PRIu64 " samples, %zu nodes, worker %" PRIu64 "\n", query, samples, nodes,
         found);
  if (worker)
    *worker = found;
  cJSON_Delete(o);
  return samples;
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

/* tid of the thread track named name (0: none). */
static int tid_of(const vx_index *x, const char *name) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD && !strcmp(t->name, name))
      return t->tid;
  }
  return 0;
}

TEST_IMPL(cpu_profile_api) {
  const char *out = test_tmp_path("apicpu.ctrace");
  char *cmd[] = {(char *)test_pipeline_bin, "-n", "20000", "-w", "2", NULL};
  if (record(out, 1, cmd))
    return 0;
  vx_index *x = index_of(out);
  uint64_t worker = 0, all = samples_of(x, "", &worker);
  ASSERT(all > 100);
  /* the workers' loop (with transform's work under it) is most of the CPU */
  ASSERT_UGE(worker * 4, all);
  char q[256];
  /* inside `process` regions only: fewer */
  uint64_t inside = samples_of(x, "region=process", NULL);
  ASSERT(inside > 0 && inside < all);
  /* the first half of the trace, one worker thread (by name, by tid) */
  uint64_t t0 = vx_t0(x), mid = t0 + (vx_t1(x) - t0) / 2;
  snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64, t0, mid);
  uint64_t half = samples_of(x, q, NULL);
  ASSERT(half > 0 && half < all);
  uint64_t one = samples_of(x, "thread=worker-0", NULL);
  ASSERT(one > 0 && one < all);
  snprintf(q, sizeof q, "tid=%d", tid_of(x, "worker-0"));
  ASSERT_UEQ(samples_of(x, q, NULL), one);
  /* bad parameters, named */
  expect_error(x, "t0=abc", 400, "t0");
  expect_error(x, "t0=-5", 400, "t0");
  snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64, mid, t0);
  expect_error(x, q, 400, "t1");
  expect_error(x, "tid=x", 400, "tid");
  expect_error(x, "tid=1", 400, "tid");
  expect_error(x, "region=proces", 400, "no region named 'proces'");
  expect_error(x, "thread=nobody", 400, "no thread named 'nobody'");
  vx_free(x);
  /* a trace without samples: 404, saying how to record them */
  const char *plain = test_tmp_path("apinocpu.ctrace");
  char *tru[] = {"/bin/true", NULL};
  record(plain, 0, tru);
  x = index_of(plain);
  expect_error(x, "", 404,
               "the traces hold no CPU samples (record them with ctrace run --cpu-hz N)");
  vx_free(x);
  return 0;
}
