/* The scale index (viewer/analysis/scale_*.c): TRACE.idx built, reused,
 * found stale when the trace was replaced, rebuilt when corrupt or cut;
 * and its windows against the full index's slices of the same trace, on a
 * written trace small enough to compare exactly: regions nested three
 * deep, batches cut every few hundred events (so regions span batches and
 * the snapshots matter), one region open across the whole thread. */
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
enum { SITE_OUTER = 1, SITE_MID = 2, SITE_LEAF = 3, SITE_MARK = 4, STR_DYN = 7 };
#define THREADS 3

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* Per thread: "life" open from start to end; then `n` outer regions,
 * each with 1..3 mids, each with 0..2 leaves (some named by a string),
 * and now and then an instant. Seeds differ per version. */
static void write_trace(const char *path, int n, uint64_t seed) {
  synth *s = synth_new(321, "scaled", T0, 0);
  synth_site(s, SITE_OUTER, CTRACE_FMT_SITE_REGION, "outer", "s.c", 10, "run");
  synth_site(s, SITE_MID, CTRACE_FMT_SITE_REGION, "mid", "s.c", 20, "step");
  synth_site(s, SITE_LEAF, CTRACE_FMT_SITE_REGION, "leaf", "s.c", 30, "leaf");
  synth_site(s, SITE_MARK, CTRACE_FMT_SITE_INSTANT, "mark", "s.c", 40, "run");
  synth_string(s, STR_DYN, "dynamic");
  synth_site(s, 5, CTRACE_FMT_SITE_REGION, "life", "s.c", 5, "main");
  for (uint32_t th = 1; th <= THREADS; th++) {
    char name[16];
    snprintf(name, sizeof name, "worker-%u", th);
    synth_thread(s, th, 4000 + (int)th, name);
  }
  uint64_t now[THREADS + 1], r = seed;
  for (int th = 1; th <= THREADS; th++) {
    now[th] = T0 + 10 + (uint64_t)th;
    SYNTH_EV(s, (uint32_t)th, now[th], CTRACE_FMT_EV_REGION_BEGIN, 5);
  }
  for (int i = 0; i < n; i++) {
    for (uint32_t th = 1; th <= THREADS; th++) {
      uint64_t t = now[th] + 1 + lcg(&r) % 5000;
      SYNTH_EV(s, th, t, CTRACE_FMT_EV_REGION_BEGIN, SITE_OUTER);
      int mids = 1 + (int)(lcg(&r) % 3);
      for (int m = 0; m < mids; m++) {
        t += 1 + lcg(&r) % 300;
        SYNTH_EV(s, th, t, CTRACE_FMT_EV_REGION_BEGIN, SITE_MID);
        int leaves = (int)(lcg(&r) % 3);
        for (int k = 0; k < leaves; k++) {
          t += 1 + lcg(&r) % 100;
          if (lcg(&r) % 4 == 0)
            SYNTH_EV(s, th, t, CTRACE_FMT_EV_REGION_BEGIN_STR, STR_DYN);
          else
            SYNTH_EV(s, th, t, CTRACE_FMT_EV_REGION_BEGIN, SITE_LEAF);
          t += 1 + lcg(&r) % (lcg(&r) % 50 == 0 ? 200000 : 400);
          SYNTH_EV0(s, th, t, CTRACE_FMT_EV_REGION_END);
        }
        t += 1 + lcg(&r) % 200;
        SYNTH_EV0(s, th, t, CTRACE_FMT_EV_REGION_END);
      }
      if (lcg(&r) % 10 == 0)
        SYNTH_EV(s, th, t + 1, CTRACE_FMT_EV_INSTANT, SITE_MARK);
      t += 2 + lcg(&r) % 100;
      SYNTH_EV0(s, th, t, CTRACE_FMT_EV_REGION_END);
      now[th] = t;
    }
    if (i % 37 == 36)
      synth_cut(s); /* (every thread's batch ends here) */
  }
  uint64_t end = 0;
  for (int th = 1; th <= THREADS; th++)
    end = now[th] > end ? now[th] : end;
  for (uint32_t th = 1; th <= THREADS; th++)
    SYNTH_EV0(s, th, end + th, CTRACE_FMT_EV_REGION_END); /* life ends */
  synth_write(s, path);
  synth_free(s);
}

typedef struct got {
  vs_item *it;
  size_t n, cap;
} got;

static void collect(void *arg, const vs_item *it) {
  got *g = arg;
  if (g->n == g->cap) {
    g->cap = g->cap ? g->cap * 2 : 1024;
    g->it = realloc(g->it, g->cap * sizeof *g->it);
  }
  g->it[g->n++] = *it;
}

/* The full index's track of thread tid. */
static const vx_track *full_track(const vx_index *fx, int tid) {
  for (size_t i = 0; i < vx_track_count(fx); i++) {
    const vx_track *t = vx_track_get(fx, i);
    if (t->kind == VX_THREAD && t->tid == tid)
      return t;
  }
  return NULL;
}

static size_t thread_of(vs_index *x, int tid) {
  for (size_t i = 0; i < vs_thread_count(x); i++) {
    vs_thread_facts f;
    if (!vs_thread_info(x, i, &f) && f.tid == tid)
      return i;
  }
  return SIZE_MAX;
}

/* At one ns per pixel every region in [a, b] comes one by one (decoded):
 * exactly the full index's slices that overlap it, with their names;
 * those still going at b are marked open and start where they start. */
static int compare_decoded(vs_index *x, const vx_index *fx, int tid, uint64_t a, uint64_t b) {
  const vx_track *t = full_track(fx, tid);
  ASSERT(t);
  got g = {0};
  ASSERT_EQ(vs_window(x, thread_of(x, tid), a, b, 1, collect, &g), 0);
  size_t want = 0;
  for (size_t d = 0; d < t->depths; d++)
    for (size_t i = 0; i < t->ndepth[d]; i++) {
      const vx_slice *s = &t->depth[d][i];
      if (s->start > b || s->start + s->dur < a)
        continue;
      want++;
      size_t k = 0;
      while (k < g.n && !(g.it[k].depth == d && g.it[k].start == s->start))
        k++;
      if (k == g.n)
        TEST_FAIL("thread %d [%" PRIu64 ", %" PRIu64 "]: region at %" PRIu64 " depth %zu missing",
                  tid, a, b, s->start, d);
      vs_label_facts l;
      vs_label(x, g.it[k].key, &l);
      ASSERT_STR_EQ(l.name, vx_label_get(fx, s->label)->name);
      if (s->start + s->dur <= b)
        ASSERT_UEQ(g.it[k].dur, s->dur);
      else
        ASSERT(g.it[k].open || g.it[k].dur == s->dur);
      ASSERT_UEQ(g.it[k].merged, 1);
    }
  size_t regions = 0;
  for (size_t k = 0; k < g.n; k++)
    regions += g.it[k].depth != VS_INSTANTS_DEPTH;
  ASSERT_UEQ(regions, want);
  free(g.it);
  return 0;
}

/* Coarse windows from the levels: per depth, the merged counts add up to
 * the regions of the whole trace, and the longest region is shown whole. */
static int compare_levels(vs_index *x, const vx_index *fx, int tid) {
  const vx_track *t = full_track(fx, tid);
  got g = {0};
  uint64_t t0 = vs_t0(x), t1 = vs_t1(x);
  ASSERT_EQ(vs_window(x, thread_of(x, tid), t0, t1, (t1 - t0) / 300 + 1, collect, &g), 0);
  for (size_t d = 0; d < t->depths; d++) {
    uint64_t sum = 0, longest = 0, shown = 0;
    for (size_t i = 0; i < t->ndepth[d]; i++)
      longest = t->depth[d][i].dur > longest ? t->depth[d][i].dur : longest;
    for (size_t k = 0; k < g.n; k++)
      if (g.it[k].depth == d) {
        sum += g.it[k].merged;
        shown = g.it[k].dur > shown ? g.it[k].dur : shown;
      }
    ASSERT_UEQ(sum, t->ndepth[d]);
    ASSERT_UEQ(shown, longest);
  }
  free(g.it);
  return 0;
}

static vx_index *full_index(const char *path) {
  char err[512];
  char *paths[] = {(char *)path};
  vx_index *fx = vx_build(paths, 1, err, sizeof err);
  if (!fx)
    fprintf(stderr, "vx_build: %s\n", err);
  return fx;
}

TEST_IMPL(scale_windows) {
  const char *path = test_tmp_path("scale-win.ctrace");
  char idx[4200];
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  write_trace(path, 3000, 42);
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  vx_index *fx = full_index(path);
  ASSERT(fx);
  ASSERT_UEQ(vs_events(x), vx_events(fx));
  ASSERT_UEQ(vs_t0(x), vx_t0(fx));
  ASSERT_UEQ(vs_t1(x), vx_t1(fx));
  uint64_t span = vs_t1(x) - vs_t0(x), r = 7;
  for (int tid = 4001; tid <= 4000 + THREADS; tid++) {
    vs_thread_facts f;
    ASSERT_EQ(vs_thread_info(x, thread_of(x, tid), &f), 0);
    char want[16];
    snprintf(want, sizeof want, "worker-%d", tid - 4000);
    ASSERT_STR_EQ(f.name, want);
    ASSERT_UEQ(f.slices, full_track(fx, tid)->slices);
    if (compare_levels(x, fx, tid))
      return 1;
    for (int k = 0; k < 40; k++) { /* windows anywhere, of every size */
      uint64_t len = 1 + lcg(&r) % (span >> (lcg(&r) % 16));
      uint64_t a = vs_t0(x) + lcg(&r) % (span - len + 1);
      if (compare_decoded(x, fx, tid, a, a + len))
        return 1;
    }
    if (compare_decoded(x, fx, tid, vs_t0(x), vs_t1(x)))
      return 1;
  }
  /* Lanes made coarser where they hold few items a bucket (here: past 64
   * buckets): windows answer the same (decoding more of them). */
  char idx2[4200];
  const char *path2 = test_tmp_path("scale-win-coarse.ctrace");
  snprintf(idx2, sizeof idx2, "%s.idx", path2);
  unlink(idx2);
  write_trace(path2, 3000, 42);
  setenv("CTRACE_SCALE_LANE_MIN", "64", 1);
  vs_index *x2 = vs_open(path2, NULL, NULL, err, sizeof err);
  unsetenv("CTRACE_SCALE_LANE_MIN");
  ASSERT(x2);
  struct stat a, b;
  ASSERT_EQ(stat(idx, &a), 0);
  ASSERT_EQ(stat(idx2, &b), 0);
  ASSERT(b.st_size < a.st_size / 2); /* (the coarser index is smaller) */
  for (int tid = 4001; tid <= 4000 + THREADS; tid++) {
    if (compare_levels(x2, fx, tid))
      return 1;
    for (int k = 0; k < 20; k++) {
      uint64_t len = 1 + lcg(&r) % (span >> (lcg(&r) % 16));
      uint64_t a0 = vs_t0(x2) + lcg(&r) % (span - len + 1);
      if (compare_decoded(x2, fx, tid, a0, a0 + len))
        return 1;
    }
  }
  vs_close(x2);
  /* A region found again by its start. */
  const vx_track *t = full_track(fx, 4002);
  const vx_slice *s = &t->depth[2][t->ndepth[2] / 2];
  vs_item it;
  ASSERT_EQ(vs_find(x, thread_of(x, 4002), 2, s->start, &it), 0);
  ASSERT_UEQ(it.dur, s->dur);
  ASSERT_EQ(vs_find(x, thread_of(x, 4002), 2, s->start + 1, &it), CTRACE_ENOENT);
  vx_free(fx);
  vs_close(x);
  return 0;
}

/* A live index (vs_live_open) of a trace appended in pieces (cut
 * anywhere, even inside a record), grown after each: it holds every event
 * the file holds so far (each batch fed once), and once the trace is whole
 * it answers as the full index does, at every zoom. With lanes made
 * coarser early (CTRACE_SCALE_LANE_MIN) it answers the same, holding less. */
static int live_grown(const char *whole, const char *path, size_t step, uint64_t *bytes) {
  size_t len;
  char *data = test_read_file(whole, &len);
  ASSERT(data != NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  size_t at = CTRACE_FMT_FILE_HEADER_SIZE;
  ASSERT_EQ(write(fd, data, at), (ssize_t)at);
  char err[1200];
  vs_index *x = vs_live_open(path, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_live_open: %s", err);
  ASSERT_EQ(vs_live(x), 1);
  int grown = 0;
  while (at < len) {
    size_t n = at + step <= len ? step : len - at;
    ASSERT_EQ(write(fd, data + at, n), (ssize_t)n);
    at += n;
    int all = at == len || grown % 2; /* (settled batches only, every other time) */
    if (vs_live_more(x, all, err, sizeof err))
      TEST_FAIL("vs_live_more at byte %zu: %s", at, err);
    grown++;
    vx_index *probe = full_index(path);
    if (all && probe)
      ASSERT_UEQ(vs_events(x), vx_events(probe)); /* nothing lost, nothing twice */
    vx_free(probe);
  }
  close(fd);
  free(data);
  ASSERT(grown > 3);
  vx_index *fx = full_index(path);
  ASSERT(fx);
  ASSERT_UEQ(vs_events(x), vx_events(fx));
  ASSERT_UEQ(vs_t0(x), vx_t0(fx));
  ASSERT_UEQ(vs_t1(x), vx_t1(fx));
  uint64_t span = vs_t1(x) - vs_t0(x), r = 11;
  for (int tid = 4001; tid <= 4000 + THREADS; tid++) {
    vs_thread_facts f;
    ASSERT_EQ(vs_thread_info(x, thread_of(x, tid), &f), 0);
    ASSERT_UEQ(f.slices, full_track(fx, tid)->slices);
    if (compare_levels(x, fx, tid))
      return 1;
    for (int k = 0; k < 20; k++) {
      uint64_t l = 1 + lcg(&r) % (span >> (lcg(&r) % 16));
      uint64_t a = vs_t0(x) + lcg(&r) % (span - l + 1);
      if (compare_decoded(x, fx, tid, a, a + l))
        return 1;
    }
  }
  *bytes = vs_live_bytes(x);
  vx_free(fx);
  vs_close(x);
  return 0;
}

/* While it grows, a region still open (each thread's "life") shows in
 * coarse windows to the end so far, marked open. */
static int live_open_shown(const char *whole, const char *path) {
  size_t len;
  char *data = test_read_file(whole, &len);
  ASSERT(data != NULL);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  ASSERT_EQ(write(fd, data, len / 2), (ssize_t)(len / 2));
  close(fd);
  free(data);
  char err[1200];
  vs_index *x = vs_live_open(path, err, sizeof err);
  ASSERT(x != NULL);
  ASSERT_EQ(vs_live_more(x, 1, err, sizeof err), 0);
  got g = {0};
  uint64_t t0 = vs_t0(x), t1 = vs_t1(x);
  ASSERT(t1 > t0);
  ASSERT_EQ(vs_window(x, thread_of(x, 4001), t0, t1, (t1 - t0) / 100 + 1, collect, &g), 0);
  int life = 0;
  for (size_t k = 0; k < g.n; k++)
    if (g.it[k].depth == 0 && g.it[k].open) {
      vs_label_facts l;
      vs_label(x, g.it[k].key, &l);
      ASSERT_STR_EQ(l.name, "life");
      ASSERT(g.it[k].start + g.it[k].dur == t1);
      life++;
    }
  ASSERT_EQ(life, 1);
  free(g.it);
  vs_close(x);
  return 0;
}

TEST_IMPL(scale_live) {
  const char *whole = test_tmp_path("live-whole.ctrace"), *path = test_tmp_path("live.ctrace");
  write_trace(whole, 2000, 5);
  struct stat st;
  ASSERT_EQ(stat(whole, &st), 0);
  uint64_t fine, coarse;
  if (live_grown(whole, path, (size_t)st.st_size / 9 + 1, &fine))
    return 1;
  setenv("CTRACE_SCALE_LANE_MIN", "64", 1);
  int bad = live_grown(whole, path, 4093, &coarse);
  unsetenv("CTRACE_SCALE_LANE_MIN");
  if (bad)
    return 1;
  ASSERT(coarse < fine);
  if (live_open_shown(whole, path))
    return 1;
  /* A file that is not a trace yet cannot be opened; one cut shorter is
   * said to be another. */
  char err[1200];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  close(fd);
  ASSERT(vs_live_open(path, err, sizeof err) == NULL);
  size_t len;
  char *data = test_read_file(whole, &len);
  ASSERT(data != NULL);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_EQ(write(fd, data, len / 2), (ssize_t)(len / 2));
  vs_index *x = vs_live_open(path, err, sizeof err);
  ASSERT(x != NULL);
  ASSERT_EQ(vs_live_more(x, 0, err, sizeof err), 0);
  ASSERT_EQ(ftruncate(fd, (off_t)(len / 4)), 0);
  ASSERT(vs_live_more(x, 0, err, sizeof err) < 0);
  ASSERT(strstr(err, "became shorter") != NULL);
  close(fd);
  free(data);
  vs_close(x);
  return 0;
}

static void flip_byte(const char *path, off_t at) {
  int fd = open(path, O_RDWR);
  unsigned char c;
  ASSERT_EQ(pread(fd, &c, 1, at), 1);
  c ^= 0x5a;
  ASSERT_EQ(pwrite(fd, &c, 1, at), 1);
  close(fd);
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

TEST_IMPL(scale_index_file) {
  const char *path = test_tmp_path("scale-file.ctrace");
  char idx[4200];
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  write_trace(path, 400, 1);
  vs_index *x = open_ok(path, "built ");
  ASSERT(!vs_reused(x));
  uint64_t events = vs_events(x);
  vs_close(x);
  struct stat st;
  ASSERT_EQ(stat(idx, &st), 0);
  x = open_ok(path, "reused ");
  ASSERT(vs_reused(x));
  ASSERT_UEQ(vs_events(x), events);
  vs_close(x);
  /* Replaced by a longer trace: stale, rebuilt, and its events counted. */
  write_trace(path, 500, 2);
  x = open_ok(path, "stale: the trace grew");
  ASSERT(vs_events(x) > events);
  events = vs_events(x);
  vs_close(x);
  /* Written again, the same bytes: replaced all the same (its mtime). */
  write_trace(path, 500, 2);
  x = open_ok(path, "stale: the trace was replaced or rewritten");
  vs_close(x);
  /* A byte of its tables changed: corrupt, rebuilt, and the same. */
  ASSERT_EQ(stat(idx, &st), 0);
  flip_byte(idx, st.st_size - 100);
  x = open_ok(path, "corrupt");
  ASSERT_UEQ(vs_events(x), events);
  vs_close(x);
  x = open_ok(path, "reused ");
  vs_close(x);
  /* Cut short: rebuilt. */
  ASSERT_EQ(truncate(idx, st.st_size / 2), 0);
  x = open_ok(path, "corrupt");
  vs_close(x);
  ASSERT_EQ(truncate(idx, 10), 0);
  x = open_ok(path, "corrupt");
  vs_close(x);
  /* Not an index at all. */
  test_write_file(idx, "hello, world, this is not an index file at all", 46);
  x = open_ok(path, "corrupt");
  vs_close(x);
  /* Where the trace's folder cannot hold it (here: a file in the way of the
   * temporary file), the cache directory does. */
  char cache[4200];
  snprintf(cache, sizeof cache, "%s", test_tmp_path("scale-cache"));
  setenv("XDG_CACHE_HOME", cache, 1);
  unlink(idx);
  ASSERT_EQ(mkdir(idx, 0755), 0); /* (a directory named TRACE.idx) */
  x = open_ok(path, "scale-cache/ctrace/");
  ASSERT_CONTAINS(vs_index_path(x), cache);
  vs_close(x);
  x = open_ok(path, "reused ");
  ASSERT_CONTAINS(vs_index_path(x), cache);
  vs_close(x);
  rmdir(idx);
  unsetenv("XDG_CACHE_HOME");
  return 0;
}

TEST_IMPL(scale_bad_trace) {
  char err[512];
  vs_index *x = vs_open(test_tmp_path("no-such.ctrace"), NULL, NULL, err, sizeof err);
  ASSERT(!x);
  ASSERT_CONTAINS(err, "no-such.ctrace");
  const char *path = test_tmp_path("not-a-trace.ctrace");
  test_write_file(path, "{\"traceEvents\": []}", 19);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(!x);
  ASSERT(err[0]);
  return 0;
}

/* GET path?query through the routes (as the HTTP server calls them), the
 * answer parsed; *status its status. */
static cJSON *get(vs_index *x, char *const *paths, const char *path, const char *query,
                  int *status) {
  char e[8];
  vx_index *empty = vx_build(NULL, 0, e, sizeof e);
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = empty;
  ctx.scale = x;
  ctx.paths = paths;
  ctx.npaths = 1;
  rt_request req = {"GET", path, query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  *status = r.status;
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("%s?%s: not JSON: %.300s", path, query, text);
  free(text);
  free(r.body);
  vx_free(empty);
  return o;
}

TEST_IMPL(scale_routes) {
  const char *path = test_tmp_path("scale-routes.ctrace");
  write_trace(path, 2000, 9);
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  char *paths[] = {(char *)path};
  int st;
  cJSON *m = get(x, paths, "/api/meta", "", &st);
  ASSERT_EQ(st, 200);
  const cJSON *tracks = cJSON_GetObjectItem(m, "tracks");
  ASSERT_EQ(cJSON_GetArraySize(tracks), THREADS);
  ASSERT_STR_EQ(cJSON_GetObjectItem(cJSON_GetArrayItem(tracks, 0), "name")->valuestring,
                "worker-1");
  ASSERT_UEQ((uint64_t)cJSON_GetObjectItem(m, "events")->valuedouble, vs_events(x));
  ASSERT_CONTAINS(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "scale"), "how")->valuestring,
                  "built");
  cJSON_Delete(m);
  /* The whole trace at 500 px: per track and depth at most ~2 a pixel, and
   * the merged counts add up to every region. */
  cJSON *w = get(x, paths, "/api/slices", "px=500", &st);
  ASSERT_EQ(st, 200);
  const cJSON *evs = cJSON_GetObjectItem(w, "traceEvents");
  double merged = 0;
  char id[96] = "";
  const cJSON *e;
  cJSON_ArrayForEach(e, evs) {
    if (strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, "X"))
      continue;
    const cJSON *a = cJSON_GetObjectItem(e, "args");
    const cJSON *mg = cJSON_GetObjectItem(a, "merged");
    merged += mg ? mg->valuedouble : 1;
    if (!id[0] && !mg && cJSON_GetObjectItem(a, "depth")->valuedouble == 1)
      snprintf(id, sizeof id, "id=%s", cJSON_GetObjectItem(a, "id")->valuestring);
  }
  uint64_t regions = 0;
  for (size_t i = 0; i < vs_thread_count(x); i++) {
    vs_thread_facts f;
    vs_thread_info(x, i, &f);
    regions += f.slices;
  }
  ASSERT_UEQ((uint64_t)merged, regions);
  ASSERT(cJSON_GetArraySize(evs) <= (int)(THREADS * 5 * 500 * 2));
  cJSON_Delete(w);
  /* A region of it, found again. */
  ASSERT(id[0]);
  cJSON *s = get(x, paths, "/api/slice", id, &st);
  ASSERT_EQ(st, 200);
  ASSERT_STR_EQ(cJSON_GetObjectItem(s, "name")->valuestring, "outer");
  ASSERT_STR_EQ(cJSON_GetObjectItem(s, "file")->valuestring, "s.c");
  cJSON_Delete(s);
  s = get(x, paths, "/api/slice", "id=z.0.1.5", &st);
  ASSERT_EQ(st, 404);
  cJSON_Delete(s);
  s = get(x, paths, "/api/slice", "id=s.0.1.5", &st);
  ASSERT_EQ(st, 400);
  cJSON_Delete(s);
  s = get(x, paths, "/api/slices", "t0=9&t1=1", &st);
  ASSERT_EQ(st, 400);
  cJSON_Delete(s);
  /* The Analyses' regions of a window, as ctrace stats's. */
  s = get(x, paths, "/api/analysis", "top=0", &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(s, "regions")), 5);
  ASSERT(cJSON_GetObjectItem(s, "scale"));
  cJSON_Delete(s);
  s = get(x, paths, "/api/analysis", "sort=bogus", &st);
  ASSERT_EQ(st, 400);
  cJSON_Delete(s);
  /* What it does not answer yet is said, not answered empty. */
  s = get(x, paths, "/api/cpu", "", &st);
  ASSERT_EQ(st, 501);
  ASSERT_CONTAINS(cJSON_GetObjectItem(s, "error")->valuestring, "--index full");
  cJSON_Delete(s);
  vs_close(x);
  return 0;
}

/* ctrace stats's regions through the scale index equal st_compute's over
 * the full index, exactly (fewer than 4096 regions of a name: exact
 * percentiles on both sides), for the whole trace and for windows. */
static int compare_stats(vs_index *x, const vx_index *fx, uint64_t since, uint64_t until,
                         const char *thread) {
  st_options o = {thread, since, until};
  st_report r;
  char err[512];
  ASSERT_EQ(st_compute(fx, &o, &r, err, sizeof err), 0);
  vs_stats s;
  uint64_t w0 = vs_t0(x) + since, w1 = until ? vs_t0(x) + until : UINT64_MAX;
  ASSERT_EQ(vs_compute_stats(x, w0, w1, thread, &s, err, sizeof err), 0);
  ASSERT_UEQ(s.nregions, r.nregions);
  for (size_t i = 0; i < r.nregions; i++) {
    const st_region *a = &r.regions[i], *b = NULL;
    for (size_t k = 0; k < s.nregions; k++)
      if (!strcmp(s.regions[k].name, a->name))
        b = &s.regions[k];
    if (!b)
      TEST_FAIL("region %s missing", a->name);
    ASSERT_UEQ(b->count, a->count);
    ASSERT_UEQ(b->total, a->total);
    ASSERT_UEQ(b->self, a->self);
    ASSERT_UEQ(b->min, a->min);
    ASSERT_UEQ(b->max, a->max);
    ASSERT_UEQ(b->p50, a->p50);
    ASSERT_UEQ(b->p90, a->p90);
    ASSERT_UEQ(b->p99, a->p99);
    ASSERT_EQ(b->estimated, a->estimated);
  }
  uint64_t regions = 0;
  for (size_t i = 0; i < r.nthreads; i++)
    regions += r.threads[i].regions;
  uint64_t mine = 0;
  for (size_t i = 0; i < vs_thread_count(x); i++)
    mine += s.thread_regions[i];
  ASSERT_UEQ(mine, regions);
  vs_stats_free(&s);
  st_free(&r);
  return 0;
}

TEST_IMPL(scale_stats) {
  const char *path = test_tmp_path("scale-stats.ctrace");
  write_trace(path, 500, 5); /* (under 4096 regions a name: exact percentiles) */
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  vx_index *fx = full_index(path);
  ASSERT(fx);
  if (compare_stats(x, fx, 0, 0, NULL) || compare_stats(x, fx, 0, 0, "worker-2"))
    return 1;
  uint64_t span = vs_t1(x) - vs_t0(x), r = 3;
  for (int k = 0; k < 30; k++) {
    uint64_t len = 1 + lcg(&r) % (span >> (lcg(&r) % 10));
    uint64_t a = lcg(&r) % (span - len + 1);
    if (compare_stats(x, fx, a, a + len, NULL))
      return 1;
  }
  vx_free(fx);
  vs_close(x);
  /* More than 4096 regions of a name: the same sketch on both sides. */
  write_trace(path, 2500, 6);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x);
  fx = full_index(path);
  ASSERT(fx);
  vs_stats s;
  ASSERT_EQ(vs_compute_stats(x, 0, UINT64_MAX, NULL, &s, err, sizeof err), 0);
  int estimated = 0;
  for (size_t i = 0; i < s.nregions; i++)
    estimated |= s.regions[i].estimated;
  ASSERT(estimated);
  vs_stats_free(&s);
  if (compare_stats(x, fx, 0, 0, NULL))
    return 1;
  vx_free(fx);
  vs_close(x);
  return 0;
}

/* The commands: ctrace stats --index scale (and auto past CTRACE_SCALE_MIB),
 * and --index's errors. */
TEST_IMPL(scale_cli) {
  const char *path = test_tmp_path("scale-cli.ctrace");
  write_trace(path, 300, 11);
  char *argv[] = {(char *)test_ctrace_bin, "stats", "--index", "scale", (char *)path, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace stats --index scale: %d\n%s%s", p.status, p.out, p.err);
  ASSERT_CONTAINS(p.out, "read through its scale index");
  ASSERT_CONTAINS(p.out, "worker-3");
  ASSERT_CONTAINS(p.out, "top regions by total (5 of 5");
  ASSERT_CONTAINS(p.out, "not computed through the scale index yet");
  /* auto: the trace is small, so full, unless CTRACE_SCALE_MIB says 0 */
  char *auto_argv[] = {(char *)test_ctrace_bin, "stats", (char *)path, NULL};
  test_proc_free(&p);
  p = test_run(auto_argv, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT(!strstr(p.out, "scale index"));
  char *env0[] = {"CTRACE_SCALE_MIB=0", NULL};
  test_proc_free(&p);
  p = test_run(auto_argv, env0);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "read through its scale index (reused");
  char *json_argv[] = {(char *)test_ctrace_bin,
                       "stats",
                       "--json",
                       "--index",
                       "scale",
                       "--since",
                       "1ms",
                       (char *)path,
                       NULL};
  test_proc_free(&p);
  p = test_run(json_argv, NULL);
  ASSERT_EQ(p.status, 0);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "regions")) == 5);
  ASSERT(cJSON_GetObjectItem(j, "scale"));
  cJSON_Delete(j);
  /* bad values */
  char *bad[] = {(char *)test_ctrace_bin, "stats", "--index", "huge", (char *)path, NULL};
  test_proc_free(&p);
  p = test_run(bad, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--index huge: auto, full or scale");
  const char *json = test_tmp_path("scale-cli.json");
  test_write_file(json, "{\"traceEvents\": []}", 19);
  char *notours[] = {(char *)test_ctrace_bin, "stats", "--index", "scale", (char *)json, NULL};
  test_proc_free(&p);
  p = test_run(notours, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "not a ctrace file");
  const char *missing = test_tmp_path("scale-missing.ctrace");
  char *gone[] = {(char *)test_ctrace_bin, "stats", "--index", "scale", (char *)missing, NULL};
  test_proc_free(&p);
  p = test_run(gone, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "scale-missing.ctrace: No such file or directory");
  char *view[] = {(char *)test_ctrace_bin, "view", "--index", "scale", (char *)json, NULL};
  test_proc_free(&p);
  p = test_run(view, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "ctrace view: --index scale takes one ctrace file alone");
  char *late[] = {
      (char *)test_ctrace_bin, "stats", "--index", "scale", "--since", "100s", (char *)path, NULL};
  test_proc_free(&p);
  p = test_run(late, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "the window starts after the trace ends");
  /* A big `ctrace run` trace (FILE.kernel beside it) is read without it, and
   * said so. */
  char kernel[4200];
  snprintf(kernel, sizeof kernel, "%s.kernel", path);
  test_write_file(kernel, "not read", 8);
  char *run[] = {(char *)test_ctrace_bin, "stats", "--index", "scale", (char *)path, NULL};
  test_proc_free(&p);
  p = test_run(run, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, ".kernel: not read through the scale index");
  ASSERT_CONTAINS(p.out, "outer");
  unlink(kernel);
  /* Several big traces are indexed whole, and that is said. */
  char *two[] = {(char *)test_ctrace_bin, "stats", (char *)path, (char *)path, NULL};
  char *small[] = {"CTRACE_SCALE_MIB=0.001", NULL};
  test_proc_free(&p);
  p = test_run(two, small);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, "2 traces of 0 MiB are indexed whole, in memory");
  test_proc_free(&p);
  return 0;
}

/* ---- A `ctrace run` trace's FILE.kernel: the threads' states ---- */

/* FILE.kernel of write_trace's threads: each switched in and out (runnable
 * or blocked) in turn over [a, b] on CPU 0 or 1, and a thread only the
 * kernel knows. */
static void write_kernel(const char *path, uint64_t a, uint64_t b) {
  synth *k = synth_new(321, "kernel (ctrace run)", T0, 1);
  synth_capture(k, CTRACE_FMT_CAP_WRAPPERS, CTRACE_FMT_CAP_KERNEL, 0, 1, "");
  for (int tid = 4001; tid <= 4000 + THREADS; tid++)
    SYNTH_EV(k, 0, a, CTRACE_FMT_EV_K_TASK, (uint64_t)tid, 321);
  static const int kinds[4] = {CTRACE_FMT_SWITCH_IN, CTRACE_FMT_SWITCH_OUT_PREEMPT,
                               CTRACE_FMT_SWITCH_IN, CTRACE_FMT_SWITCH_OUT};
  int step[THREADS + 1] = {0};
  for (int i = 0; i < 600; i++) {
    uint64_t t = a + (b - a) / 601 * (uint64_t)(i + 1);
    int th = 1 + i % THREADS;
    SYNTH_EV(k, 0, t, CTRACE_FMT_EV_K_SWITCH, (uint64_t)(4000 + th), (uint64_t)(i % 2),
             (uint64_t)kinds[step[th]++ % 4]);
    if (i % 50 == 0)
      SYNTH_EV(k, 0, t, CTRACE_FMT_EV_K_SWITCH, 99, 0, CTRACE_FMT_SWITCH_IN);
  }
  synth_write(k, path);
  synth_free(k);
}

/* Thread tid's states at 1 ns a pixel: the full index's, one by one. */
static int compare_states(vs_index *x, const vx_index *fx, int tid) {
  const vx_track *t = full_track(fx, tid);
  ASSERT(t && t->nstates > 100);
  got g = {0};
  ASSERT_EQ(vs_window(x, thread_of(x, tid), vs_t0(x), vs_t1(x), 1, collect, &g), 0);
  size_t k = 0;
  for (size_t i = 0; i < g.n; i++) {
    if (g.it[i].depth != VS_STATES_DEPTH)
      continue;
    ASSERT(k < t->nstates);
    const vx_state *s = &t->states[k++];
    vs_label_facts l;
    vs_label(x, g.it[i].key, &l);
    ASSERT_UEQ(g.it[i].start, s->start);
    ASSERT_UEQ(g.it[i].dur, s->end - s->start);
    ASSERT_EQ(l.cpu, s->cpu == 0xffff ? -1 : (int)s->cpu);
    ASSERT_STR_EQ(l.cat, "state");
    ASSERT_STR_EQ(l.name, s->state == VX_ST_RUNNING    ? "running"
                          : s->state == VX_ST_RUNNABLE ? "runnable"
                                                       : "blocked");
  }
  ASSERT_UEQ(k, t->nstates);
  vs_thread_facts f;
  ASSERT_EQ(vs_thread_info(x, thread_of(x, tid), &f), 0);
  ASSERT_UEQ(f.states, t->nstates);
  /* Coarse: per pixel the longest, standing for all. */
  g.n = 0;
  uint64_t w = (vs_t1(x) - vs_t0(x)) / 50 + 1, sum = 0, longest = 0, shown = 0;
  ASSERT_EQ(vs_window(x, thread_of(x, tid), vs_t0(x), vs_t1(x), w, collect, &g), 0);
  for (size_t i = 0; i < g.n; i++)
    if (g.it[i].depth == VS_STATES_DEPTH) {
      sum += g.it[i].merged;
      shown = g.it[i].dur > shown ? g.it[i].dur : shown;
    }
  for (size_t i = 0; i < t->nstates; i++)
    longest = t->states[i].end - t->states[i].start > longest
                  ? t->states[i].end - t->states[i].start
                  : longest;
  ASSERT_UEQ(sum, t->nstates);
  ASSERT_UEQ(shown, longest);
  free(g.it);
  return 0;
}

TEST_IMPL(scale_states) {
  const char *path = test_tmp_path("scale-states.ctrace");
  char kpath[4200], idx[4200];
  snprintf(kpath, sizeof kpath, "%s.kernel", path);
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  write_trace(path, 400, 9);
  vx_index *plain = full_index(path);
  ASSERT(plain);
  uint64_t a = vx_t0(plain), b = vx_t1(plain);
  vx_free(plain);
  write_kernel(kpath, a, b);
  char err[1200];
  char *both[2] = {(char *)path, kpath};
  vx_index *fx = vx_build(both, 2, err, sizeof err);
  if (!fx)
    TEST_FAIL("vx_build: %s", err);
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  for (int tid = 4001; tid <= 4000 + THREADS; tid++)
    if (compare_states(x, fx, tid))
      return 1;
  /* Through the routes: the state band's marks, and one's details. */
  int status;
  size_t th = thread_of(x, 4002);
  char q[256];
  snprintf(q, sizeof q, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=20000&tracks=%zu", vs_t0(x), vs_t1(x),
           th);
  cJSON *o = get(x, both, "/api/slices", q, &status);
  ASSERT_EQ(status, 200);
  const char *sid = NULL;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "traceEvents")) {
    const cJSON *args = cJSON_GetObjectItem(e, "args");
    const cJSON *lane = cJSON_GetObjectItem(args, "lane");
    if (cJSON_IsString(lane) && !strcmp(lane->valuestring, "state") && !sid)
      sid = cJSON_GetObjectItem(args, "id")->valuestring;
  }
  ASSERT(sid != NULL);
  snprintf(q, sizeof q, "id=%s", sid);
  cJSON *d = get(x, both, "/api/slice", q, &status);
  ASSERT_EQ(status, 200);
  ASSERT_STR_EQ(cJSON_GetObjectItem(d, "kind")->valuestring, "state");
  cJSON_Delete(d);
  cJSON_Delete(o);
  vs_close(x);
  vx_free(fx);
  /* Reused while both are unchanged; stale when FILE.kernel changes or goes. */
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x && vs_reused(x));
  vs_close(x);
  write_kernel(kpath, a + 1000, b);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x && !vs_reused(x));
  ASSERT_CONTAINS(vs_how(x), "the FILE.kernel beside the trace changed");
  vs_close(x);
  unlink(kpath);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x && !vs_reused(x));
  ASSERT_CONTAINS(vs_how(x), "the FILE.kernel it read is gone");
  vs_thread_facts f;
  ASSERT_EQ(vs_thread_info(x, thread_of(x, 4001), &f), 0);
  ASSERT_UEQ(f.states, 0);
  vs_close(x);
  /* A FILE.kernel that cannot be read: the index without states, said. */
  test_write_file(kpath, "garbage!", 8);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x != NULL);
  ASSERT_CONTAINS(vs_how(x), "states left out");
  vs_close(x);
  /* Past CTRACE_SCALE_STATES_MAX states held, they are merged into buckets:
   * at 1 ns a pixel each mark then stands for the states of its bucket (all
   * counted), the longest shown whole. */
  write_kernel(kpath, a, b);
  fx = vx_build(both, 2, err, sizeof err);
  ASSERT(fx);
  setenv("CTRACE_SCALE_STATES_MAX", "64", 1);
  x = vs_open(path, NULL, NULL, err, sizeof err);
  unsetenv("CTRACE_SCALE_STATES_MAX");
  ASSERT(x != NULL);
  for (int tid = 4001; tid <= 4000 + THREADS; tid++) {
    const vx_track *t = full_track(fx, tid);
    got g = {0};
    ASSERT_EQ(vs_window(x, thread_of(x, tid), vs_t0(x), vs_t1(x), 1, collect, &g), 0);
    uint64_t sum = 0, marks = 0, longest = 0, shown = 0;
    for (size_t i = 0; i < g.n; i++)
      if (g.it[i].depth == VS_STATES_DEPTH) {
        sum += g.it[i].merged;
        marks++;
        shown = g.it[i].dur > shown ? g.it[i].dur : shown;
      }
    for (size_t i = 0; i < t->nstates; i++)
      if (t->states[i].end - t->states[i].start > longest)
        longest = t->states[i].end - t->states[i].start;
    ASSERT_UEQ(sum, t->nstates);
    ASSERT(marks < t->nstates); /* (merged) */
    ASSERT_UEQ(shown, longest);
    vs_thread_facts tf;
    ASSERT_EQ(vs_thread_info(x, thread_of(x, tid), &tf), 0);
    ASSERT_UEQ(tf.states, t->nstates);
    free(g.it);
  }
  vs_close(x);
  vx_free(fx);
  unlink(kpath);
  return 0;
}
