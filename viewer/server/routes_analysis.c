/* The routes' analyses of a window (docs/viewer-api.md): /api/analysis,
 * ctrace stats's report as JSON, and /api/pprof, a blocking profile as
 * gzipped pprof (both computed by viewer/analysis). */
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server_internal.h"

/* ---- /api/analysis: ctrace stats's report (analysis.h) of a window --------------------------- */

int rt__analysis_query(const char *q, uint64_t tx0, uint64_t tx1, st_options *o, char *thread,
                       size_t cap, uint64_t *top, st_sort_key *key, rt_response *r) {
  uint64_t t0, t1;
  char sort[16];
  int has_thread = rt__query_get(q, "thread", thread, cap);
  int has_sort = rt__query_get(q, "sort", sort, sizeof sort);
  if (rt__query_u64(q, "t0", tx0, &t0) || rt__query_u64(q, "t1", tx1, &t1) || t1 < t0) {
    rt__respond_error(r, 400, "t0 and t1 must be unsigned integers (ns), t0 <= t1");
    return -1;
  }
  if (rt__query_u64(q, "top", 50, top)) {
    rt__respond_error(r, 400, "top must be an unsigned integer (0: all)");
    return -1;
  }
  if (has_thread < 0 || has_sort < 0) {
    rt__respond_error(r, 400, "thread or sort: malformed or too long");
    return -1;
  }
  *key = ST_SORT_TOTAL;
  if (has_sort > 0) {
    static const char *const names[] = {"total", "self", "count", "p99"};
    size_t k = 0;
    while (k < 4 && strcmp(sort, names[k]))
      k++;
    if (k == 4) {
      rt__respond_error(r, 400, "sort must be total, self, count or p99");
      return -1;
    }
    *key = (st_sort_key)k;
  }
  memset(o, 0, sizeof *o);
  o->thread = has_thread > 0 ? thread : NULL;
  /* st_options counts from the trace's first event; a window outside the
   * trace is clamped to it */
  o->since = t0 > tx0 ? t0 - tx0 : 0;
  o->until = t1 > tx0 ? t1 - tx0 : 1;
  if (t1 >= tx1 && t0 <= tx0)
    o->since = o->until = 0; /* the whole trace */
  return 0;
}

void rt__api_analysis(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  char thread[256], err[256];
  uint64_t top;
  st_sort_key key;
  st_options o;
  if (rt__analysis_query(q, vx_t0(x), vx_t1(x), &o, thread, sizeof thread, &top, &key, r))
    return;
  st_report rep;
  if (st_compute(x, &o, &rep, err, sizeof err)) {
    rt__respond_error(r, 400, err);
    return;
  }
  st_sort(&rep, key);
  cJSON *root = st_json(x, &rep, (size_t)top, key);
  st_free(&rep);
  if (!root) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__respond_json(r, 200, root);
}

/* ---- /api/pprof: a blocking profile of a window, gzipped pprof (analysis.h) ------------------ */

void rt__api_pprof(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  uint64_t t0, t1, tx0 = vx_t0(x), tx1 = vx_t1(x);
  char type[16], thread[256], err[256];
  int has_type = rt__query_get(q, "type", type, sizeof type);
  int has_thread = rt__query_get(q, "thread", thread, sizeof thread);
  pf_type ty;
  if (has_type <= 0 || pf_type_parse(type, &ty)) {
    rt__respond_error(r, 400, "type must be sync, syscall, sched or io");
    return;
  }
  if (rt__query_u64(q, "t0", tx0, &t0) || rt__query_u64(q, "t1", tx1, &t1) || t1 < t0) {
    rt__respond_error(r, 400, "t0 and t1 must be unsigned integers (ns), t0 <= t1");
    return;
  }
  if (has_thread < 0) {
    rt__respond_error(r, 400, "thread: malformed or too long");
    return;
  }
  st_options o = {0}; /* as /api/analysis: from the trace's first event, clamped to it */
  o.thread = has_thread > 0 ? thread : NULL;
  o.since = t0 > tx0 ? t0 - tx0 : 0;
  o.until = t1 > tx0 ? t1 - tx0 : 1;
  if (t1 >= tx1 && t0 <= tx0)
    o.since = o.until = 0;
  pf_profile p;
  unsigned char *gz;
  size_t len;
  if (pf_compute(x, ty, &o, &p, err, sizeof err)) {
    rt__respond_error(r, 400, err);
    return;
  }
  if (pf_encode_pprof(&p, &gz, &len, err, sizeof err)) {
    pf_free(&p);
    rt__respond_error(r, 500, err);
    return;
  }
  pf_free(&p);
  r->status = 200;
  r->content_type = "application/octet-stream";
  r->body = (char *)gz;
  r->len = len;
}
