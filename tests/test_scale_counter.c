/* The scale index's counters (viewer/analysis/scale_counter*.c): per name
 * from every thread, their windows against the full index's
 * (vx_counter_window) on a written trace with exact times, at windows on
 * the grid of 4^k ns (where neither index's buckets straddle a pixel, so
 * both must give each pixel's own min, max and last): the whole trace, a
 * mid zoom, and finer than level 0 (decoded); the same through /api/meta
 * and /api/slices; an index of the version before counters rebuilt; a
 * counters table changed found corrupt. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server.h"
#include "synth_trace.h"
#include "test.h"

#define T0 1000000000ull
enum { SITE_WORK = 1, SITE_DEPTH_A = 10, SITE_DEPTH_B = 11, SITE_RATE = 12, SITE_RARE = 13 };

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

static uint64_t zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

/* Three threads: "depth" from threads 1 and 2 (two sites of that name;
 * now and then both at the same ns), "rate" dense on thread 3 with the heap
 * now and then, "rare" a few times; regions between, batches cut often. */
static void write_trace(const char *path, int n, uint64_t seed) {
  synth *s = synth_new(77, "counted", T0, 0);
  synth_site(s, SITE_WORK, CTRACE_FMT_SITE_REGION, "work", "c.c", 1, "run");
  synth_site(s, SITE_DEPTH_A, CTRACE_FMT_SITE_COUNTER, "depth", "c.c", 10, "push");
  synth_site(s, SITE_DEPTH_B, CTRACE_FMT_SITE_COUNTER, "depth", "c.c", 11, "pop");
  synth_site(s, SITE_RATE, CTRACE_FMT_SITE_COUNTER, "rate", "c.c", 12, "tick");
  synth_site(s, SITE_RARE, CTRACE_FMT_SITE_COUNTER, "rare", "c.c", 13, "tick");
  for (uint32_t th = 1; th <= 3; th++) {
    char name[16];
    snprintf(name, sizeof name, "w%u", th);
    synth_thread(s, th, 700 + (int)th, name);
  }
  uint64_t t = T0 + 100, r = seed, live = 1000, alloc = 0;
  int64_t depth = 0;
  for (int i = 0; i < n; i++) {
    t += 1 + lcg(&r) % (i % 5000 < 100 ? 20000 : 200); /* (now and then a sparse stretch) */
    SYNTH_EV(s, 1, t, CTRACE_FMT_EV_REGION_BEGIN, SITE_WORK);
    depth += (int64_t)(lcg(&r) % 7) - 3;
    SYNTH_EV(s, 1, t + 1, CTRACE_FMT_EV_COUNTER, SITE_DEPTH_A, zz(depth));
    uint64_t t2 = lcg(&r) % 4 == 0 ? t + 1 : t + 1 + lcg(&r) % 50;
    SYNTH_EV(s, 2, t2, CTRACE_FMT_EV_COUNTER, SITE_DEPTH_B, zz(-depth - (int64_t)(lcg(&r) % 3)));
    SYNTH_EV0(s, 1, t + 2, CTRACE_FMT_EV_REGION_END);
    for (int k = 0; k < 3; k++)
      SYNTH_EV(s, 3, t + 3 + (uint64_t)k * 20, CTRACE_FMT_EV_COUNTER, SITE_RATE,
               zz((int64_t)(lcg(&r) % 1000)));
    if (i % 97 == 0) {
      live += lcg(&r) % 4096;
      alloc += 4096;
      SYNTH_EV(s, 3, t + 70, CTRACE_FMT_EV_HEAP, zz((int64_t)live), alloc, 0, 64);
    }
    if (i % 1999 == 0)
      SYNTH_EV(s, 2, t + 80, CTRACE_FMT_EV_COUNTER, SITE_RARE, zz(i));
    t += 100;
    if (i % 53 == 52)
      synth_cut(s);
  }
  synth_write(s, path);
  synth_free(s);
}

/* Marks, as both indexes give them. */
typedef struct mark {
  uint64_t ts;
  double mn, mx, last;
} mark;

typedef struct marks {
  mark *m;
  size_t n, cap;
} marks;

static void collect(void *arg, uint64_t ts, double mn, double mx, double last) {
  marks *g = arg;
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 256;
    g->m = realloc(g->m, g->cap * sizeof *g->m);
  }
  g->m[g->n++] = (mark){ts, mn, mx, last};
}

static const vx_track *full_counter(const vx_index *fx, const char *name) {
  for (size_t i = 0; i < vx_track_count(fx); i++) {
    const vx_track *t = vx_track_get(fx, i);
    if (t->kind == VX_COUNTER && !strcmp(t->name, name))
      return t;
  }
  return NULL;
}

static vx_index *full_index(const char *path) {
  char err[512];
  char *paths[] = {(char *)path};
  vx_index *fx = vx_build(paths, 1, err, sizeof err);
  if (!fx)
    TEST_FAIL("vx_build: %s", err);
  return fx;
}

/* Counter i's window [t0, t0 + px * w] from both, mark by mark. */
static int same_window(vs_index *x, const vx_index *fx, size_t i, uint64_t t0, uint64_t w,
                       uint64_t px) {
  vs_counter_facts f;
  ASSERT_EQ(vs_counter_info(x, i, &f), 0);
  const vx_track *t = full_counter(fx, f.name);
  if (!t)
    TEST_FAIL("counter %s: not in the full index", f.name);
  marks a = {0}, b = {0};
  uint64_t t1 = t0 + px * w;
  ASSERT_EQ(vs_counter_window(x, i, t0, t1, w, collect, &a), 0);
  vx_counter_window(fx, t, t0, t1, w, px, collect, &b);
  for (size_t k = 0; k < a.n && k < b.n; k++)
    if (a.m[k].ts != b.m[k].ts || a.m[k].mn != b.m[k].mn || a.m[k].mx != b.m[k].mx ||
        a.m[k].last != b.m[k].last)
      TEST_FAIL("%s [%" PRIu64 " +%" PRIu64 " x %" PRIu64 "] mark %zu: scale (%" PRIu64
                " %g %g %g), full (%" PRIu64 " %g %g %g)",
                f.name, t0, w, px, k, a.m[k].ts, a.m[k].mn, a.m[k].mx, a.m[k].last, b.m[k].ts,
                b.m[k].mn, b.m[k].mx, b.m[k].last);
  if (a.n != b.n)
    TEST_FAIL("%s [%" PRIu64 " +%" PRIu64 " x %" PRIu64 "]: %zu marks, the full index %zu", f.name,
              t0, w, px, a.n, b.n);
  ASSERT(a.n > 0);
  free(a.m);
  free(b.m);
  return 0;
}

/* The windows of every counter at w = 4^k ns (t0 on that grid) covering
 * from the fraction `at` of the trace. */
static int same_at(vs_index *x, const vx_index *fx, uint64_t w, uint64_t px, double at) {
  uint64_t span = vs_t1(x) - vs_t0(x);
  uint64_t t0 = (vs_t0(x) + (uint64_t)(at * (double)span)) / w * w;
  for (size_t i = 0; i < vs_counter_count(x); i++)
    if (same_window(x, fx, i, t0, w, px))
      return -1;
  return 0;
}

static vs_index *open_ok(const char *path, const char *how) {
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  if (!strstr(vs_how(x), how))
    TEST_FAIL("vs_how: \"%s\", wanted \"%s\"", vs_how(x), how);
  return x;
}

static size_t counter_named(vs_index *x, const char *name) {
  for (size_t i = 0; i < vs_counter_count(x); i++) {
    vs_counter_facts f;
    if (!vs_counter_info(x, i, &f) && !strcmp(f.name, name))
      return i;
  }
  return SIZE_MAX;
}

TEST_IMPL(scale_counter_windows) {
  const char *path = test_tmp_path("scale-counter.ctrace");
  char idx[4200];
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  write_trace(path, 20000, 5);
  setenv("CTRACE_SCALE_LANE_MIN", "512", 1); /* (level 0 made coarser: finer windows decoded) */
  vs_index *x = open_ok(path, "built ");
  unsetenv("CTRACE_SCALE_LANE_MIN");
  vx_index *fx = full_index(path);
  /* One counter per name, all samples of each, min and max as the full index's. */
  ASSERT_UEQ(vs_counter_count(x), 5); /* depth, heap allocated, heap live, rare, rate */
  for (size_t i = 0; i < vs_counter_count(x); i++) {
    vs_counter_facts f;
    ASSERT_EQ(vs_counter_info(x, i, &f), 0);
    const vx_track *t = full_counter(fx, f.name);
    ASSERT(t);
    ASSERT_UEQ(f.samples, t->nsamples);
    ASSERT(f.min == t->min && f.max == t->max);
  }
  ASSERT_UEQ(vs_counter_info(x, counter_named(x, "depth"), &(vs_counter_facts){0}), 0);
  vs_counter_facts depth;
  vs_counter_info(x, counter_named(x, "depth"), &depth);
  ASSERT_UEQ(depth.samples, 40000); /* (both sites, both threads) */
  /* The whole trace on the grid (levels), a mid zoom (levels, the ends cut
   * buckets), and finer than any level 0 (decoded), at a few places. */
  uint64_t span = vs_t1(x) - vs_t0(x), whole = 1;
  while (whole * 1000 < span)
    whole *= 4;
  ASSERT_EQ(same_at(x, fx, whole, 1001, 0), 0);
  ASSERT_EQ(same_at(x, fx, whole / 16, 800, 0.3), 0);
  ASSERT_EQ(same_at(x, fx, 256, 2000, 0.5), 0);
  ASSERT_EQ(same_at(x, fx, 64, 1000, 0.71), 0);
  ASSERT_EQ(same_at(x, fx, 1, 3000, 0.2), 0);
  ASSERT_EQ(same_at(x, fx, 16, 100, 0.999), 0);
  /* Off the grid (buckets may straddle pixels): the extremes and the last
   * value are still the samples'. */
  for (size_t i = 0; i < vs_counter_count(x); i++) {
    vs_counter_facts f;
    vs_counter_info(x, i, &f);
    const vx_track *t = full_counter(fx, f.name);
    marks a = {0};
    ASSERT_EQ(vs_counter_window(x, i, vs_t0(x), vs_t1(x), span / 777 + 1, collect, &a), 0);
    double mn = a.m[0].mn, mx = a.m[0].mx;
    for (size_t k = 1; k < a.n; k++) {
      mn = a.m[k].mn < mn ? a.m[k].mn : mn;
      mx = a.m[k].mx > mx ? a.m[k].mx : mx;
      ASSERT(a.m[k].ts > a.m[k - 1].ts);
    }
    ASSERT(mn == t->min && mx == t->max);
    ASSERT(a.m[a.n - 1].last == t->samples[t->nsamples - 1].value);
    free(a.m);
  }
  /* Reused, the same. */
  vs_close(x);
  x = open_ok(path, "reused ");
  ASSERT_EQ(same_at(x, fx, whole / 4, 1000, 0.1), 0);
  ASSERT_EQ(same_at(x, fx, 4, 1000, 0.6), 0);
  vs_close(x);
  /* Built at the default sizes (level 0 as fine as 2^shift0), the same. */
  unlink(idx);
  x = open_ok(path, "built ");
  ASSERT_EQ(same_at(x, fx, whole, 1001, 0), 0);
  ASSERT_EQ(same_at(x, fx, 64, 1000, 0.4), 0);
  vs_close(x);
  vx_free(fx);
  return 0;
}

/* The offset of the first `name` (NUL-terminated) in the file, or -1. */
static long find_name(const char *file, const char *name) {
  FILE *f = fopen(file, "rb");
  ASSERT(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  char *b = malloc((size_t)n);
  fseek(f, 0, SEEK_SET);
  ASSERT_EQ(fread(b, 1, (size_t)n, f), n);
  fclose(f);
  const char *p = memmem(b, (size_t)n, name, strlen(name) + 1);
  long at = p ? (long)(p - b) : -1;
  free(b);
  return at;
}

static void write_at(const char *file, long at, const void *p, size_t n) {
  int fd = open(file, O_RDWR);
  ASSERT(fd >= 0);
  ASSERT_EQ(pwrite(fd, p, n, at), (ssize_t)n);
  close(fd);
}

TEST_IMPL(scale_counter_file) {
  const char *path = test_tmp_path("scale-counter-file.ctrace");
  char idx[4200];
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  write_trace(path, 1000, 8);
  vs_index *x = open_ok(path, "built ");
  size_t n = vs_counter_count(x);
  ASSERT_UEQ(n, 5);
  vs_close(x);
  /* An index of version 3 (before counters): rebuilt, not an error. */
  uint32_t v3 = 3;
  write_at(idx, 8, &v3, sizeof v3); /* (the version follows the 8-byte magic) */
  x = open_ok(path, "rebuilt ");
  ASSERT_CONTAINS(vs_how(x), "version");
  ASSERT_UEQ(vs_counter_count(x), n);
  vs_close(x);
  x = open_ok(path, "reused ");
  vs_close(x);
  /* A counter's name changed: its tables' hash says so, rebuilt. */
  long at = find_name(idx, "rate");
  ASSERT(at > 0);
  write_at(idx, at, "RATE", 4);
  x = open_ok(path, "corrupt");
  ASSERT(counter_named(x, "rate") != SIZE_MAX);
  vs_close(x);
  /* Read without the hash (as the fuzzer does): a counter's levels
   * pointing outside the file, or none, are refused by name. The table
   * entry: name[256], samples, min, max, part0, nparts, nlevels, shift,
   * then per level its offset and count. */
  at = find_name(idx, "rate");
  char err[512];
  uint64_t far = 1ull << 40;
  write_at(idx, at + 256 + 24 + 16, &far, sizeof far); /* level 0's offset */
  x = vs_open_unchecked(path, idx, err, sizeof err);
  ASSERT(!x);
  ASSERT_CONTAINS(err, "corrupt: counter");
  uint32_t zero = 0;
  write_at(idx, at + 256 + 24 + 8, &zero, sizeof zero); /* nlevels */
  x = vs_open_unchecked(path, idx, err, sizeof err);
  ASSERT(!x);
  ASSERT_CONTAINS(err, "corrupt: counter");
  x = open_ok(path, "corrupt");
  ASSERT_UEQ(vs_counter_count(x), n);
  vs_close(x);
  return 0;
}

/* GET path?query through the routes, with the scale index x or (x NULL)
 * the full index fx; the answer parsed. */
static cJSON *get(vs_index *x, vx_index *fx, char *const *paths, const char *path,
                  const char *query) {
  char e[8];
  vx_index *empty = x ? vx_build(NULL, 0, e, sizeof e) : NULL;
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x ? empty : fx;
  ctx.scale = x;
  ctx.paths = paths;
  ctx.npaths = 1;
  rt_request req = {"GET", path, query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  char *text = strndup(r.body, r.len);
  if (r.status != 200)
    TEST_FAIL("%s?%s: %d %.300s", path, query, r.status, text);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("%s?%s: not JSON: %.300s", path, query, text);
  free(text);
  free(r.body);
  vx_free(empty);
  return o;
}

/* The id of the counter track `name` in a /api/meta answer (-1: none). */
static int track_id(const cJSON *meta, const char *name, const cJSON **out) {
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(meta, "tracks")) {
    if (!strcmp(cJSON_GetObjectItem(t, "kind")->valuestring, "counter") &&
        !strcmp(cJSON_GetObjectItem(t, "name")->valuestring, name)) {
      *out = t;
      return cJSON_GetObjectItem(t, "id")->valueint;
    }
  }
  return -1;
}

/* The "C" events of an answer as text without args.track. */
static char *c_events(cJSON *o) {
  cJSON *evs = cJSON_GetObjectItem(o, "traceEvents"), *keep = cJSON_CreateArray(), *e;
  cJSON_ArrayForEach(e, evs) {
    if (strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, "C"))
      continue;
    cJSON *c = cJSON_Duplicate(e, 1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(c, "args"), "track");
    cJSON_AddItemToArray(keep, c);
  }
  char *s = cJSON_PrintUnformatted(keep);
  cJSON_Delete(keep);
  return s;
}

TEST_IMPL(scale_counter_routes) {
  const char *path = test_tmp_path("scale-counter-routes.ctrace");
  write_trace(path, 5000, 3);
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  vx_index *fx = full_index(path);
  char *paths[] = {(char *)path};
  cJSON *sm = get(x, NULL, paths, "/api/meta", ""), *fm = get(NULL, fx, paths, "/api/meta", "");
  ASSERT_CONTAINS(cJSON_GetObjectItem(cJSON_GetObjectItem(sm, "scale"), "answers")->valuestring,
                  "counters");
  const char *names[] = {"depth", "rate", "rare", "heap live bytes", "heap allocated bytes"};
  uint64_t span = vs_t1(x) - vs_t0(x), w = 1;
  while (w * 500 < span)
    w *= 4;
  for (size_t k = 0; k < 5; k++) {
    const cJSON *st, *ft;
    int sid = track_id(sm, names[k], &st), fid = track_id(fm, names[k], &ft);
    ASSERT(sid >= 0 && fid >= 0);
    ASSERT_EQ(sid, (int)vs_thread_count(x) + (int)counter_named(x, names[k]));
    const char *same[] = {"pid", "sort", "samples", "min", "max"};
    for (size_t j = 0; j < 5; j++)
      if (cJSON_GetObjectItem(st, same[j])->valuedouble !=
          cJSON_GetObjectItem(ft, same[j])->valuedouble)
        TEST_FAIL("%s: meta %s differs", names[k], same[j]);
    /* Two windows on the grid, only this track: the same "C" events. */
    for (int zoom = 0; zoom < 2; zoom++) {
      uint64_t ww = zoom ? 16 : w, t0 = (vs_t0(x) + span / 3 * (uint64_t)zoom) / ww * ww;
      char q[200], *a, *b;
      snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=500&tracks=%d", t0, t0 + 500 * ww,
               sid);
      cJSON *so = get(x, NULL, paths, "/api/slices", q);
      snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=500&tracks=%d", t0, t0 + 500 * ww,
               fid);
      cJSON *fo = get(NULL, fx, paths, "/api/slices", q);
      a = c_events(so);
      b = c_events(fo);
      if (strcmp(a, b))
        TEST_FAIL("%s zoom %d: scale %.400s\nfull %.400s", names[k], zoom, a, b);
      ASSERT(strlen(a) > 10);
      free(a);
      free(b);
      cJSON_Delete(so);
      cJSON_Delete(fo);
    }
  }
  cJSON_Delete(sm);
  cJSON_Delete(fm);
  vx_free(fx);
  vs_close(x);
  return 0;
}
