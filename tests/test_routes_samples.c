/* The CPU samples on the viewer's timeline (viewer/server/routes_samples.c,
 * routes_timeline.c, routes_meta.c), through the routes (rt_handle, as the
 * HTTP server calls it), on the committed recorded trace
 * tests/data/samples.ctrace.kernel (cpu_burn at 999 Hz; 1003 samples), so
 * that it runs in every build, sanitizers included: /api/meta says how many
 * samples each thread has and they add up; /api/slices's sample marks, at a
 * resolution where no two share a bucket, are every sample, one by one,
 * and fewer merged ones cover the same count when zoomed out; each
 * sample's details (/api/slice?id=sm.TRACK.INDEX) carry its time and a
 * stack whose innermost frame is at the sample's first address; bad ids
 * are 404s. The browser test (tests/browser/samples.test.mjs) checks the
 * names and a region's on-CPU samples on a fresh recording. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server.h"
#include "test.h"

static vx_index *recorded(void) {
  char path[1024], err[1024];
  snprintf(path, sizeof path, "%s/samples.ctrace.kernel", test_data_dir);
  char *paths[1] = {path};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build %s: %s", path, err);
  return x;
}

/* GET path?query: the status in *status, the answer parsed. */
static cJSON *get(vx_index *x, const char *path, const char *query, int *status) {
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x;
  rt_request req = {"GET", path, query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  *status = r.status;
  ASSERT(r.body != NULL);
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("%s?%s: not JSON: %.300s", path, query, text);
  free(text);
  free(r.body);
  return o;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("no number '%s' in %s", key, cJSON_PrintUnformatted(o));
  return v->valuedouble;
}

/* The sample marks of /api/slices?t0&t1&px (all tracks): how many marks,
 * how many samples they stand for, and the ids of the first ones. */
static size_t marks(vx_index *x, uint64_t t0, uint64_t t1, int px, uint64_t *samples,
                    char ids[][48], size_t nids) {
  char q[160];
  snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=%d", t0, t1, px);
  int st;
  cJSON *o = get(x, "/api/slices", q, &st);
  ASSERT_EQ(st, 200);
  size_t n = 0;
  *samples = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "traceEvents")) {
    const cJSON *cat = cJSON_GetObjectItem(e, "cat");
    if (!cJSON_IsString(cat) || strcmp(cat->valuestring, "sample"))
      continue;
    const cJSON *a = cJSON_GetObjectItem(e, "args");
    ASSERT_STR_EQ(cJSON_GetObjectItem(a, "lane")->valuestring, "samples");
    const cJSON *m = cJSON_GetObjectItem(a, "merged");
    *samples += m ? (uint64_t)m->valuedouble : 1;
    if (n < nids)
      snprintf(ids[n], 48, "%s", cJSON_GetObjectItem(a, "id")->valuestring);
    n++;
  }
  cJSON_Delete(o);
  return n;
}

TEST_IMPL(samples_timeline_api) {
  vx_index *x = recorded();
  int st;
  cJSON *meta = get(x, "/api/meta", "", &st);
  ASSERT_EQ(st, 200);
  const cJSON *cpu = cJSON_GetObjectItem(meta, "cpu");
  ASSERT(cpu);
  ASSERT_EQ((uint64_t)num(cpu, "samples"), 1003);
  ASSERT_EQ((uint64_t)num(cpu, "hz"), 999);
  uint64_t per_track = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(meta, "tracks")) {
    const cJSON *n = cJSON_GetObjectItem(t, "cpu_samples");
    per_track += n ? (uint64_t)n->valuedouble : 0;
  }
  ASSERT_EQ(per_track, 1003);
  uint64_t t0 = (uint64_t)num(meta, "t0"), t1 = (uint64_t)num(meta, "t1");
  cJSON_Delete(meta);

  /* Every sample, one mark each, in windows of 10 ms at 1 us buckets. */
  uint64_t total = 0;
  size_t nmarks = 0;
  static char ids[2048][48];
  for (uint64_t w = t0; w <= t1; w += 10000000) {
    uint64_t got;
    size_t n =
        marks(x, w, w + 10000000 - 1, 10000, &got, ids + nmarks, nmarks < 2048 ? 2048 - nmarks : 0);
    ASSERT_EQ(got, n); /* none merged at 1 us */
    nmarks += n;
    total += got;
  }
  ASSERT_EQ(total, 1003);
  /* The whole trace on 50 px: fewer marks, the same samples. */
  uint64_t whole;
  size_t coarse = marks(x, t0, t1, 50, &whole, NULL, 0);
  ASSERT_EQ(whole, 1003);
  ASSERT_LE(coarse, 50 * 2);

  /* Each sample's details: its time inside the trace, a stack (frames are
   * addresses or names: the binaries no longer match), ids round-trip. */
  size_t stacks = 0, frames = 0;
  for (size_t i = 0; i < nmarks && i < 2048; i += 7) {
    char q[80];
    snprintf(q, sizeof q, "id=%s", ids[i]);
    cJSON *d = get(x, "/api/slice", q, &st);
    ASSERT_EQ(st, 200);
    ASSERT_STR_EQ(cJSON_GetObjectItem(d, "kind")->valuestring, "sample");
    ASSERT_STR_EQ(cJSON_GetObjectItem(d, "id")->valuestring, ids[i]);
    uint64_t ts = (uint64_t)num(d, "start");
    ASSERT_UGE(ts, t0);
    ASSERT_ULE(ts, t1);
    ASSERT_EQ((uint64_t)num(d, "period_ns"), 1001001);
    const cJSON *s = cJSON_GetObjectItem(d, "stack");
    ASSERT(cJSON_IsArray(s));
    int n = cJSON_GetArraySize(s);
    stacks += n > 0;
    frames += (size_t)n;
    const cJSON *f;
    cJSON_ArrayForEach(f, s) {
      ASSERT(cJSON_IsString(cJSON_GetObjectItem(f, "name")));
      ASSERT(cJSON_IsString(cJSON_GetObjectItem(f, "addr")));
    }
    cJSON_Delete(d);
  }
  ASSERT_GT(stacks, 0);
  printf("%zu sample marks at 1 us, %zu at 50 px; %zu details with stacks, %zu frames\n", nmarks,
         coarse, stacks, frames);

  static const char *const bad[] = {"id=sm.0.999999", "id=sm.99999.0", "id=sm.0", "id=sm.x.1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cJSON *d = get(x, "/api/slice", bad[i], &st);
    ASSERT_EQ(st, 404);
    cJSON_Delete(d);
  }
  vx_free(x);
  return 0;
}
