/* /api/search and the arrows of /api/slices through the scale index
 * (viewer/analysis/scale_search.c, scale_flows.c, routes_scale_search.c)
 * against the full index's answers on the same written trace, small
 * enough to compare exactly: three threads of regions three deep (one
 * named by a string, one rare), "life" open across each thread, batches
 * cut every few iterations, and arrows from each thread to the next one's
 * later iteration. Every timestamp is 4k + thread: no two threads' events
 * tie, so both sides order their matches alike. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server.h"
#include "synth_trace.h"
#include "test.h"

#define T0 1000000000ull
#define THREADS 3
enum { S_OUTER = 1, S_MID = 2, S_LEAF = 3, S_RARE = 4, S_LIFE = 5, S_MARK = 6, STR_DYN = 7 };

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

/* The next time of thread th after t: 4k + th, at least 4 later. */
static uint64_t later(uint64_t t, uint64_t by, uint32_t th) {
  uint64_t n = (t + 4 * (by + 1)) & ~3ull;
  return n + th;
}

/* Thread th's iteration i, from base: an outer region with mids and
 * leaves; its arrow to thread th + 1 (sent inside a mid) and the end of
 * the arrow thread th - 1 sent the iteration before. */
static uint64_t iteration(synth *s, uint32_t th, uint64_t t, int i, uint64_t *r) {
  t = later(t, lcg(r) % 200, th);
  SYNTH_EV(s, th, t, CTRACE_FMT_EV_REGION_BEGIN, S_OUTER);
  if (th > 1 && i > 0)
    SYNTH_EV(s, th, t = later(t, 1, th), CTRACE_FMT_EV_FLOW_END,
             ((uint64_t)(th - 1) << 32) | (i - 1));
  int mids = 1 + (int)(lcg(r) % 3);
  for (int m = 0; m < mids; m++) {
    SYNTH_EV(s, th, t = later(t, lcg(r) % 50, th), CTRACE_FMT_EV_REGION_BEGIN, S_MID);
    if (m == 0 && th < THREADS)
      SYNTH_EV(s, th, t = later(t, 1, th), CTRACE_FMT_EV_FLOW_BEGIN, ((uint64_t)th << 32) | i);
    for (int k = (int)(lcg(r) % 3); k > 0; k--) {
      uint64_t kind = lcg(r) % 4;
      if (kind == 0)
        SYNTH_EV(s, th, t = later(t, 3, th), CTRACE_FMT_EV_REGION_BEGIN_STR, STR_DYN);
      else
        SYNTH_EV(s, th, t = later(t, 3, th), CTRACE_FMT_EV_REGION_BEGIN,
                 i % 97 == 13 && k == 1 ? S_RARE : S_LEAF);
      SYNTH_EV0(s, th, t = later(t, lcg(r) % (lcg(r) % 40 == 0 ? 5000 : 60), th),
                CTRACE_FMT_EV_REGION_END);
    }
    SYNTH_EV0(s, th, t = later(t, lcg(r) % 30, th), CTRACE_FMT_EV_REGION_END);
  }
  if (lcg(r) % 10 == 0)
    SYNTH_EV(s, th, t = later(t, 1, th), CTRACE_FMT_EV_INSTANT, S_MARK);
  SYNTH_EV0(s, th, t = later(t, lcg(r) % 20, th), CTRACE_FMT_EV_REGION_END);
  return t;
}

static void write_trace(const char *path, int n, uint64_t seed) {
  synth *s = synth_new(77, "searched", T0, 0);
  synth_site(s, S_OUTER, CTRACE_FMT_SITE_REGION, "outer", "q.c", 10, "run");
  synth_site(s, S_MID, CTRACE_FMT_SITE_REGION, "mid", "q.c", 20, "step");
  synth_site(s, S_LEAF, CTRACE_FMT_SITE_REGION, "leaf", "q.c", 30, "leaf");
  synth_site(s, S_RARE, CTRACE_FMT_SITE_REGION, "rare_leaf", "q.c", 35, "leaf");
  synth_site(s, S_LIFE, CTRACE_FMT_SITE_REGION, "life", "q.c", 5, "main");
  synth_site(s, S_MARK, CTRACE_FMT_SITE_INSTANT, "mark", "q.c", 40, "run");
  synth_string(s, STR_DYN, "dynamic");
  uint64_t now[THREADS + 1], r = seed;
  for (uint32_t th = 1; th <= THREADS; th++) {
    char name[16];
    snprintf(name, sizeof name, "worker-%u", th);
    synth_thread(s, th, 5000 + (int)th, name);
    now[th] = later(T0, 2, th);
    SYNTH_EV(s, th, now[th], CTRACE_FMT_EV_REGION_BEGIN, S_LIFE);
  }
  for (int i = 0; i < n; i++) {
    uint64_t base = now[1];
    for (uint32_t th = 2; th <= THREADS; th++)
      base = now[th] > base ? now[th] : base;
    for (uint32_t th = 1; th <= THREADS; th++) /* (iterations start together: arrows go forward) */
      now[th] = iteration(s, th, base, i, &r);
    if (i % 23 == 22)
      synth_cut(s);
  }
  for (uint32_t th = 1; th <= THREADS; th++)
    SYNTH_EV0(s, th, later(now[th], 1, th), CTRACE_FMT_EV_REGION_END);
  synth_write(s, path);
  synth_free(s);
}

/* GET path?query of the scale index's routes (x) or the full index's (fx). */
static cJSON *get(vs_index *x, vx_index *fx, const char *path, const char *path_q,
                  const char *query, int *status) {
  char e[8];
  vx_index *empty = x ? vx_build(NULL, 0, e, sizeof e) : NULL;
  char *paths[] = {(char *)path};
  rt_context ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.index = x ? empty : fx;
  ctx.scale = x;
  ctx.paths = paths;
  ctx.npaths = 1;
  rt_request req = {"GET", path_q, query};
  rt_response r;
  rt_handle(&ctx, &req, &r);
  *status = r.status;
  char *text = strndup(r.body, r.len);
  cJSON *o = cJSON_Parse(text);
  if (!o)
    TEST_FAIL("%s?%s: not JSON: %.300s", path_q, query, text);
  free(text);
  free(r.body);
  vx_free(empty);
  return o;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  if (!v || !cJSON_IsNumber(v))
    TEST_FAIL("no number \"%s\"", k);
  return v->valuedouble;
}

static int is_true(const cJSON *o, const char *k) {
  return cJSON_IsTrue(cJSON_GetObjectItem(o, k));
}

/* Search results of both sides, one by one: name, thread, start, dur, depth. */
static int same_result(const cJSON *a, const cJSON *b) {
  ASSERT_STR_EQ(cJSON_GetObjectItem(a, "name")->valuestring,
                cJSON_GetObjectItem(b, "name")->valuestring);
  ASSERT_EQ((int)num(a, "tid"), (int)num(b, "tid"));
  ASSERT_STR_EQ(cJSON_GetObjectItem(a, "thread")->valuestring,
                cJSON_GetObjectItem(b, "thread")->valuestring);
  ASSERT_UEQ((uint64_t)num(a, "start"), (uint64_t)num(b, "start"));
  ASSERT_UEQ((uint64_t)num(a, "dur"), (uint64_t)num(b, "dur"));
  ASSERT_UEQ((uint64_t)num(a, "depth"), (uint64_t)num(b, "depth"));
  ASSERT(!cJSON_GetObjectItem(a, "open"));
  return 0;
}

/* q through both indexes (limit 1000): the same matches, in the same
 * order, the same total, and names. */
static int compare_search(vs_index *x, vx_index *fx, const char *path, const char *q) {
  char query[300];
  snprintf(query, sizeof query, "q=%s&limit=1000", q);
  int st, fst;
  cJSON *a = get(x, NULL, path, "/api/search", query, &st);
  cJSON *b = get(NULL, fx, path, "/api/search", query, &fst);
  ASSERT_EQ(st, 200);
  ASSERT_EQ(fst, 200);
  const cJSON *ra = cJSON_GetObjectItem(a, "results"), *rb = cJSON_GetObjectItem(b, "results");
  if (cJSON_GetArraySize(ra) != cJSON_GetArraySize(rb))
    TEST_FAIL("q=%s: %d results, the full index %d", q, cJSON_GetArraySize(ra),
              cJSON_GetArraySize(rb));
  for (int i = 0; i < cJSON_GetArraySize(ra); i++)
    if (same_result(cJSON_GetArrayItem(ra, i), cJSON_GetArrayItem(rb, i)))
      TEST_FAIL("q=%s: result %d differs", q, i);
  if (cJSON_GetArraySize(ra) < 1000) { /* all found: the whole trace searched */
    ASSERT(is_true(a, "complete"));
    ASSERT(!is_true(a, "truncated"));
    ASSERT(num(a, "searched_until") > (double)vs_t1(x));
  }
  if (is_true(a, "complete"))
    ASSERT_UEQ((uint64_t)num(a, "total"), (uint64_t)num(b, "total"));
  /* names: the region names (the full index's also name instants) */
  const cJSON *na = cJSON_GetObjectItem(a, "names"), *n;
  cJSON_ArrayForEach(n, na) {
    int in = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(b, "names")) in |=
        !strcmp(m->valuestring, n->valuestring);
    if (!in)
      TEST_FAIL("q=%s: name %s is not the full index's", q, n->valuestring);
  }
  /* Each result is found again by its id. */
  if (cJSON_GetArraySize(ra)) {
    char id[120];
    snprintf(id, sizeof id, "id=%s",
             cJSON_GetObjectItem(cJSON_GetArrayItem(ra, 0), "id")->valuestring);
    cJSON *s = get(x, NULL, path, "/api/slice", id, &st);
    ASSERT_EQ(st, 200);
    ASSERT_UEQ((uint64_t)num(s, "dur"), (uint64_t)num(cJSON_GetArrayItem(ra, 0), "dur"));
    cJSON_Delete(s);
  }
  cJSON_Delete(a);
  cJSON_Delete(b);
  return 0;
}

static vs_index *open_both(const char *path, vx_index **fx) {
  char idx[4200], err[512];
  snprintf(idx, sizeof idx, "%s.idx", path);
  unlink(idx);
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  char *paths[] = {(char *)path};
  *fx = vx_build(paths, 1, err, sizeof err);
  if (!*fx)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

TEST_IMPL(scale_search_exact) {
  const char *path = test_tmp_path("scale-search.ctrace");
  write_trace(path, 150, 3);
  vx_index *fx;
  vs_index *x = open_both(path, &fx);
  const char *qs[] = {"outer", "LEAF", "dyn", "rare", "life", "i", "e"};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
    if (compare_search(x, fx, path, qs[i]))
      return 1;
  /* A name nothing holds: an empty answer, complete, nothing decoded. */
  int st;
  cJSON *a = get(x, NULL, path, "/api/search", "q=no+such+region", &st);
  ASSERT_EQ(st, 200);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(a, "results")), 0);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(a, "names")), 0);
  ASSERT_UEQ((uint64_t)num(a, "total"), 0);
  ASSERT(is_true(a, "complete"));
  ASSERT_UEQ((uint64_t)num(a, "events_decoded"), 0);
  cJSON_Delete(a);
  /* "mark" is an instant: not a region name, not searched (as the full index). */
  a = get(x, NULL, path, "/api/search", "q=mark", &st);
  ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(a, "results")), 0);
  cJSON_Delete(a);
  /* Bad queries: 400 with what is wrong. */
  const char *bad[][2] = {{"", "q (the text to find) is required"},
                          {"q=", "q (the text to find) is required"},
                          {"q=outer&limit=0", "limit must be 1..1000"},
                          {"q=outer&limit=1001", "limit must be 1..1000"},
                          {"q=outer&from=-5", "from must be an unsigned integer"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    a = get(x, NULL, path, "/api/search", bad[i][0], &st);
    ASSERT_EQ(st, 400);
    ASSERT_CONTAINS(cJSON_GetObjectItem(a, "error")->valuestring, bad[i][1]);
    cJSON_Delete(a);
  }
  vx_free(fx);
  vs_close(x);
  return 0;
}

/* With a budget of a few hundred events a search, q page by page from
 * where each answer stopped (`from` = searched_until) finds every match
 * the full index has, in order, once each; pages stop for the budget
 * (truncated) or the limit. */
static int search_pages(vs_index *x, vx_index *fx, const char *path, const char *q, int limit) {
  char query[300];
  snprintf(query, sizeof query, "q=%s&limit=1000", q);
  int st;
  cJSON *full = get(NULL, fx, path, "/api/search", query, &st);
  const cJSON *want = cJSON_GetObjectItem(full, "results");
  ASSERT((uint64_t)num(full, "total") == (uint64_t)cJSON_GetArraySize(want)); /* (all listed) */
  int got = 0, pages = 0, truncated = 0, cut = 0;
  uint64_t from = vs_t0(x);
  while (from <= vs_t1(x)) {
    snprintf(query, sizeof query, "q=%s&limit=%d&from=%" PRIu64, q, limit, from);
    cJSON *a = get(x, NULL, path, "/api/search", query, &st);
    ASSERT_EQ(st, 200);
    const cJSON *res = cJSON_GetObjectItem(a, "results"), *e;
    ASSERT(cJSON_GetArraySize(res) <= limit);
    cJSON_ArrayForEach(e, res) {
      ASSERT(got < cJSON_GetArraySize(want));
      if (same_result(e, cJSON_GetArrayItem(want, got)))
        TEST_FAIL("q=%s page %d: match %d differs", q, pages, got);
      ASSERT(num(e, "start") >= (double)from && num(e, "start") < num(a, "searched_until"));
      got++;
    }
    truncated += is_true(a, "truncated");
    cut += cJSON_GetArraySize(res) == limit;
    uint64_t next = (uint64_t)num(a, "searched_until");
    ASSERT(next > from);
    from = next;
    pages++;
    cJSON_Delete(a);
  }
  ASSERT_EQ(got, cJSON_GetArraySize(want));
  ASSERT(pages > 3);
  ASSERT(truncated > 0);
  ASSERT(cut > 0 || limit > got);
  cJSON_Delete(full);
  return 0;
}

TEST_IMPL(scale_search_continue) {
  const char *path = test_tmp_path("scale-search-pages.ctrace");
  write_trace(path, 120, 8);
  vx_index *fx;
  vs_index *x = open_both(path, &fx);
  setenv("CTRACE_SCALE_SEARCH_EVENTS", "400", 1);
  int r = search_pages(x, fx, path, "outer", 7) || search_pages(x, fx, path, "rare", 1000) ||
          search_pages(x, fx, path, "life", 2);
  unsetenv("CTRACE_SCALE_SEARCH_EVENTS");
  vx_free(fx);
  vs_close(x);
  return r;
}

/* The arrows of an /api/slices answer: each is its "s" then its "f". */
typedef struct arrow {
  char id[40];
  double ts[2];
  int tid[2], depth[2], have;
} arrow;

static int arrows_of(const cJSON *w, arrow *out, int cap) {
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(w, "traceEvents")) {
    const char *ph = cJSON_GetObjectItem(e, "ph")->valuestring;
    if (strcmp(ph, "s") && strcmp(ph, "f"))
      continue;
    int end = ph[0] == 'f';
    if (!end) {
      if (n == cap)
        TEST_FAIL("more than %d arrows", cap);
      memset(&out[n], 0, sizeof out[n]);
      snprintf(out[n++].id, sizeof out[0].id, "%s", cJSON_GetObjectItem(e, "id")->valuestring);
    }
    ASSERT(n > 0);
    arrow *a = &out[n - 1];
    ASSERT_STR_EQ(a->id, cJSON_GetObjectItem(e, "id")->valuestring);
    ASSERT(!(a->have & 1 << end));
    a->ts[end] = num(e, "ts");
    a->tid[end] = (int)num(e, "tid");
    a->depth[end] = (int)num(cJSON_GetObjectItem(e, "args"), "depth");
    a->have |= 1 << end;
  }
  return n;
}

/* Window [a, b]: every arrow the scale index sends is the full index's,
 * end for end; every one of the full index's with both ends in the range
 * it decoded (window.flows_from, flows_to) is sent. */
static int compare_flows(vs_index *x, vx_index *fx, const char *path, uint64_t a, uint64_t b,
                         int *seen, int *beyond) {
  char query[200];
  snprintf(query, sizeof query, "t0=%" PRIu64 "&t1=%" PRIu64 "&px=20000", a, b);
  int st;
  cJSON *w = get(x, NULL, path, "/api/slices", query, &st);
  cJSON *fw = get(NULL, fx, path, "/api/slices", query, &st);
  static arrow mine[3000], full[3000];
  int n = arrows_of(w, mine, 3000), fn = arrows_of(fw, full, 3000);
  const cJSON *win = cJSON_GetObjectItem(w, "window");
  ASSERT(!cJSON_GetObjectItem(win, "flows_omitted"));
  ASSERT_EQ((int)num(win, "flows_sent"), n);
  double from = num(win, "flows_from"), to = num(win, "flows_to");
  ASSERT(from <= (double)a && to >= (double)b);
  for (int i = 0; i < n; i++) {
    int k = 0;
    while (k < fn &&
           !(!strcmp(full[k].id, mine[i].id) && fabs(mine[i].ts[0] - full[k].ts[0]) < 1e-4 &&
             fabs(mine[i].ts[1] - full[k].ts[1]) < 1e-4))
      k++;
    if (k == fn)
      TEST_FAIL("[%" PRIu64 ", %" PRIu64 "]: arrow %s is not the full index's", a, b, mine[i].id);
    ASSERT_EQ(mine[i].have, 3);
    for (int e = 0; e < 2; e++) {
      ASSERT_EQ(mine[i].tid[e], full[k].tid[e]);
      ASSERT_EQ(mine[i].depth[e], full[k].depth[e]);
    }
    *beyond += mine[i].ts[0] * 1000 < (double)a || mine[i].ts[1] * 1000 > (double)b;
  }
  for (int k = 0; k < fn; k++) {
    if (full[k].ts[0] * 1000 < from || full[k].ts[1] * 1000 > to)
      continue;
    int i = 0;
    while (i < n &&
           !(!strcmp(full[k].id, mine[i].id) && fabs(mine[i].ts[0] - full[k].ts[0]) < 1e-4))
      i++;
    if (i == n)
      TEST_FAIL("[%" PRIu64 ", %" PRIu64 "]: arrow %s missing", a, b, full[k].id);
  }
  *seen += n;
  cJSON_Delete(w);
  cJSON_Delete(fw);
  return 0;
}

TEST_IMPL(scale_search_flows) {
  const char *path = test_tmp_path("scale-flows.ctrace");
  write_trace(path, 300, 5);
  vx_index *fx;
  vs_index *x = open_both(path, &fx);
  uint64_t span = vs_t1(x) - vs_t0(x), r = 11;
  int seen = 0, beyond = 0;
  if (compare_flows(x, fx, path, vs_t0(x), vs_t1(x), &seen, &beyond))
    return 1;
  ASSERT(seen > 500); /* (the whole trace: every arrow) */
  /* Windows anywhere; decoding whole batches around them as far as 2000
   * events allow, so the range decoded is sometimes wider than the window,
   * sometimes not the whole trace. */
  setenv("CTRACE_SCALE_FLOW_EVENTS", "2000", 1);
  for (int k = 0; k < 40; k++) {
    uint64_t len = 1 + lcg(&r) % (span >> (4 + lcg(&r) % 8));
    uint64_t a = vs_t0(x) + lcg(&r) % (span - len + 1);
    if (compare_flows(x, fx, path, a, a + len, &seen, &beyond))
      return 1;
  }
  unsetenv("CTRACE_SCALE_FLOW_EVENTS");
  ASSERT(beyond > 0); /* (arrows with an end outside the window were found) */
  /* Wider than the events allowed: said, not sent. */
  setenv("CTRACE_SCALE_FLOW_EVENTS", "100", 1);
  int st;
  cJSON *w = get(x, NULL, path, "/api/slices", "px=2000", &st);
  unsetenv("CTRACE_SCALE_FLOW_EVENTS");
  ASSERT_EQ(st, 200);
  const cJSON *win = cJSON_GetObjectItem(w, "window");
  ASSERT_CONTAINS(cJSON_GetObjectItem(win, "flows_omitted")->valuestring, "zoom in");
  ASSERT_EQ((int)num(win, "flows_sent"), 0);
  arrow none[4];
  ASSERT_EQ(arrows_of(w, none, 4), 0);
  cJSON_Delete(w);
  vx_free(fx);
  vs_close(x);
  return 0;
}

/* The other arrows: a thread made (THREAD_CREATE -> THREAD_START), a work
 * item made runnable (SCHED_UNBLOCK -> its next SCHED_RUN), a mutex
 * released (WAIT's waker and release -> the wait's end), every few hundred
 * ns over two threads, inside regions. Compared end for end (not by id: a
 * wake's id is the full index's count). */
static void write_arrows_trace(const char *path, int n) {
  synth *s = synth_new(78, "arrows", T0, 0);
  synth_site(s, S_OUTER, CTRACE_FMT_SITE_REGION, "outer", "a.c", 1, "run");
  synth_string(s, STR_DYN, "item");
  synth_thread(s, 1, 6001, "maker");
  synth_thread(s, 2, 6002, "waiter");
  uint64_t t = T0 + 8;
  SYNTH_EV(s, 1, t, CTRACE_FMT_EV_THREAD_CREATE, 99);
  SYNTH_EV(s, 2, t + 2, CTRACE_FMT_EV_THREAD_START, 99, 1);
  SYNTH_EV(s, 1, t + 3, CTRACE_FMT_EV_SCHED_CREATE, 1, STR_DYN);
  for (int i = 0; i < n; i++) {
    t += 400;
    SYNTH_EV(s, 1, t, CTRACE_FMT_EV_REGION_BEGIN, S_OUTER);
    SYNTH_EV(s, 2, t + 1, CTRACE_FMT_EV_REGION_BEGIN, S_OUTER);
    SYNTH_EV(s, 1, t + 10, CTRACE_FMT_EV_SCHED_UNBLOCK, 1);
    SYNTH_EV(s, 2, t + 20, CTRACE_FMT_EV_SCHED_RUN, 1);
    SYNTH_EV(s, 2, t + 30, CTRACE_FMT_EV_SCHED_END, 1);
    /* thread 2 waits [t + 40, t + 90] for the mutex thread 1 releases at t + 80 */
    SYNTH_EV(s, 1, t + 80, CTRACE_FMT_EV_REGION_END);
    SYNTH_EV(s, 2, t + 90, CTRACE_FMT_EV_WAIT, CTRACE_FMT_WAIT_MUTEX, 50, 0xabc, 1, 10);
    SYNTH_EV(s, 2, t + 100, CTRACE_FMT_EV_REGION_END);
    if (i % 9 == 8)
      synth_cut(s);
  }
  synth_write(s, path);
  synth_free(s);
}

/* Same ends (ts, tid, depth) on both sides, whatever the ids. */
static int same_arrows(const arrow *a, int n, const arrow *b, int bn) {
  ASSERT_EQ(n, bn);
  for (int i = 0; i < n; i++) {
    int k = 0;
    while (k < bn &&
           !(fabs(a[i].ts[0] - b[k].ts[0]) < 1e-4 && fabs(a[i].ts[1] - b[k].ts[1]) < 1e-4 &&
             a[i].tid[0] == b[k].tid[0] && a[i].tid[1] == b[k].tid[1]))
      k++;
    if (k == bn)
      TEST_FAIL("arrow %s (%.3f us) is not the full index's", a[i].id, a[i].ts[0]);
    ASSERT_EQ(a[i].depth[0], b[k].depth[0]);
    ASSERT_EQ(a[i].depth[1], b[k].depth[1]);
  }
  return 0;
}

TEST_IMPL(scale_search_arrow_kinds) {
  const char *path = test_tmp_path("scale-arrows.ctrace");
  write_arrows_trace(path, 60);
  vx_index *fx;
  vs_index *x = open_both(path, &fx);
  int st;
  cJSON *w = get(x, NULL, path, "/api/slices", "px=20000", &st);
  cJSON *fw = get(NULL, fx, path, "/api/slices", "px=20000", &st);
  static arrow mine[400], full[400];
  int n = arrows_of(w, mine, 400), fn = arrows_of(fw, full, 400);
  ASSERT_EQ(fn, 1 + 60 + 60); /* (the thread, the item's runs, the wakes) */
  if (same_arrows(mine, n, full, fn))
    return 1;
  cJSON_Delete(w);
  cJSON_Delete(fw);
  vx_free(fx);
  vs_close(x);
  return 0;
}
