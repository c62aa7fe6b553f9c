/* The route of the heap profiles (docs/viewer-api.md): /api/heap, what
 * the heap samples (ctrace run --heap-rate) say was in use at an instant
 * (?at=NS) or was allocated in a range (?from=NS&to=NS), as the same
 * top-down call tree as /api/cpu's (rt__call_tree_json), each node
 * weighing bytes, with its objects; scaled for sampling as Go scales them
 * (viewer/analysis: cp_compute with CP_HEAP_INUSE), exact at rate 1. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server_internal.h"

/* What a request asks: an instant (at) or a range [from, to), in index
 * times (absolute ns), and a thread name or none. */
typedef struct heap_query {
  int range;
  uint64_t at, from, to;
  char thread[256];
  int has_thread;
} heap_query;

/* The query's parameters. @return 0, or -1 with r answered (400 naming
 * the parameter). */
static int parse_query(const vx_index *x, const char *q, heap_query *h, rt_response *r) {
  char buf[32];
  uint64_t tx0 = vx_t0(x), tx1 = vx_t1(x);
  int has_at = rt__query_get(q, "at", buf, sizeof buf) != 0;
  int has_from = rt__query_get(q, "from", buf, sizeof buf) != 0;
  int has_to = rt__query_get(q, "to", buf, sizeof buf) != 0;
  memset(h, 0, sizeof *h);
  if (has_at == (has_from || has_to)) {
    rt__respond_error(r, 400,
                      has_at ? "at: give either at (an instant) or from and to (a range), not both"
                             : "at: give at=NS (in use at that instant) or from=NS&to=NS "
                               "(allocated in that range), in ns as /api/slices gives times");
    return -1;
  }
  if (has_at) {
    if (rt__query_u64(q, "at", 0, &h->at)) {
      rt__respond_error(r, 400, "at must be an unsigned integer (ns)");
      return -1;
    }
  } else if (!has_from || rt__query_u64(q, "from", 0, &h->from)) {
    rt__respond_error(r, 400, "from must be an unsigned integer (ns), with to");
    return -1;
  } else if (!has_to || rt__query_u64(q, "to", 0, &h->to) || h->to <= h->from) {
    rt__respond_error(r, 400, "to must be an unsigned integer (ns), from < to");
    return -1;
  }
  h->range = !has_at;
  uint64_t first = h->range ? h->from : h->at;
  if (first > tx1 || (h->range && h->to <= tx0)) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "%s: outside the trace, which runs from %" PRIu64 " to %" PRIu64 " ns",
             h->range ? (first > tx1 ? "from" : "to") : "at", tx0, tx1);
    rt__respond_error(r, 400, msg);
    return -1;
  }
  int t = rt__query_get(q, "thread", h->thread, sizeof h->thread);
  if (t < 0) {
    rt__respond_error(r, 400, "thread: malformed or too long");
    return -1;
  }
  h->has_thread = t > 0;
  return 0;
}

/* The profile's window: [trace start, at) for an instant (its in-use part
 * is what was in use at `at`), [from, to) for a range; the ends clamped to
 * the trace (st_options: 0 is its start, or its end for until). */
static void window_of(const vx_index *x, const heap_query *h, cp_options *o) {
  uint64_t tx0 = vx_t0(x), tx1 = vx_t1(x);
  uint64_t w0 = h->range ? h->from : tx0, w1 = h->range ? h->to : h->at;
  memset(o, 0, sizeof *o);
  o->heap = CP_HEAP_INUSE;
  o->w.thread = h->has_thread ? h->thread : NULL;
  o->w.since = w0 > tx0 ? w0 - tx0 : 0;
  o->w.until = w1 >= tx1 ? 0 : w1 > tx0 ? w1 - tx0 : 1;
  if (o->w.until && o->w.until <= o->w.since)
    o->w.until = o->w.since + 1;
}

/* The samples behind the answer's values, and for a range those of its
 * allocations still in use at its end (their blocks and bytes, scaled):
 * the samples of the threads selected, allocated in [w0, w1) (in use at
 * w1 only, for an instant: allocated before it and not freed by then). */
typedef struct heap_counts {
  uint64_t samples;
  double kept_objects, kept_bytes;
} heap_counts;

static heap_counts count_samples(const vx_index *x, const heap_query *h, const cp_profile *p) {
  heap_counts c = {0};
  const vx_heap_sample *hs;
  size_t n = vx_heap_samples(x, &hs);
  uint64_t w0 = h->range ? p->t0 : 0, w1 = p->t1 >= vx_t1(x) ? UINT64_MAX : p->t1;
  for (size_t i = 0; i < n; i++) {
    const vx_heap_sample *s = &hs[i];
    if (s->ts < w0 || s->ts >= w1 ||
        (h->has_thread && strcmp(vx_track_get(x, s->track)->name, h->thread)))
      continue;
    int inuse = s->freed == UINT64_MAX || s->freed >= w1;
    if (h->range || inuse)
      c.samples++;
    if (h->range && inuse) {
      c.kept_objects += s->weight;
      c.kept_bytes += s->weight * (double)s->bytes;
    }
  }
  return c;
}

static void add_rounded(cJSON *o, const char *key, double v) {
  cJSON_AddNumberToObject(o, key, v > 0 ? (double)llround(v) : 0);
}

/* The answer: what was asked, how the samples were taken, the totals and
 * the tree (taken). */
static cJSON *heap_json(const vx_index *x, const heap_query *h, const cp_profile *p,
                        const heap_counts *c, cJSON *tree) {
  cJSON *o = cJSON_CreateObject();
  uint64_t tx0 = vx_t0(x);
  cJSON_AddStringToObject(o, "kind", h->range ? "allocated" : "inuse");
  if (!h->range)
    cJSON_AddNumberToObject(o, "at", (double)(h->at < vx_t1(x) ? h->at : vx_t1(x)));
  cJSON *w = cJSON_AddObjectToObject(o, "window");
  cJSON_AddNumberToObject(w, "t0", (double)p->t0);
  cJSON_AddNumberToObject(w, "t1", (double)p->t1);
  cJSON_AddNumberToObject(w, "since_ns", (double)(p->t0 - tx0));
  cJSON_AddNumberToObject(w, "until_ns", (double)(p->t1 - tx0));
  cJSON_AddNumberToObject(o, "rate", (double)p->heap_info.rate);
  cJSON_AddBoolToObject(o, "estimated", p->heap_info.rate > 1);
  cJSON_AddNumberToObject(o, "samples", (double)c->samples);
  cJSON_AddStringToObject(o, "unit", "bytes");
  int obj = h->range ? CP_ALLOC_OBJECTS : CP_INUSE_OBJECTS;
  add_rounded(o, "bytes", p->heap_total[obj + 1]);
  add_rounded(o, "objects", p->heap_total[obj]);
  if (h->range) { /* of what the range allocated, what was still in use at its end */
    add_rounded(o, "kept_bytes", c->kept_bytes);
    add_rounded(o, "kept_objects", c->kept_objects);
  }
  if (p->problems && *p->problems)
    cJSON_AddStringToObject(o, "problems", p->problems);
  cJSON_AddItemToObject(o, "root", tree);
  return o;
}

void rt__api_heap(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  heap_query h;
  cp_options o;
  cp_profile p;
  char err[1024];
  if (parse_query(x, q, &h, r))
    return;
  if (!vx_heap(x).samples) {
    rt__respond_error(r, 404,
                      "the trace holds no heap samples (ctrace run records them; --heap-rate)");
    return;
  }
  window_of(x, &h, &o);
  o.symbols = ctx->symbols; /* (the view's: debug information read once) */
  if (cp_compute(x, &o, &p, err, sizeof err)) {
    rt__respond_error(r, 400, err);
    return;
  }
  heap_counts c = count_samples(x, &h, &p);
  int obj = h.range ? CP_ALLOC_OBJECTS : CP_INUSE_OBJECTS;
  cJSON *tree = rt__call_tree_json(&p, obj + 1, obj), *root = NULL;
  if (tree)
    root = heap_json(x, &h, &p, &c, tree);
  cp_free(&p);
  if (!root) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__respond_json(r, 200, root);
}
