/* /api/search and the arrows of /api/slices for a trace opened with the
 * scale index (analysis.h: vs_search, vs_window_flows): the same JSON as
 * the full index's (routes_timeline.c), with what a bounded search adds
 * (where it stopped, whether it saw the whole trace) and, for windows too
 * wide to decode, that the arrows were left out (docs/viewer-api.md). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server_internal.h"

#define MAX_SEARCH 1000
#define MAX_FLOWS 4000
#define FLOW_EVENTS 500000ull /* events decoded for a window's arrows (CTRACE_SCALE_FLOW_EVENTS) */

/* ---- /api/search ---------------------------------------------------------------------------- */

static cJSON *search_result(vs_index *x, const vs_hit *h) {
  vs_thread_facts f;
  vs_label_facts l;
  vs_thread_info(x, h->thread, &f);
  vs_label(x, h->key, &l);
  cJSON *e = cJSON_CreateObject();
  char id[96];
  snprintf(id, sizeof id, "z.%" PRIu32 ".%" PRIu32 ".%" PRIu64, h->thread, h->depth, h->start);
  cJSON_AddStringToObject(e, "id", id);
  cJSON_AddStringToObject(e, "name", l.name);
  cJSON_AddNumberToObject(e, "track", h->thread);
  cJSON_AddNumberToObject(e, "pid", rd_pid(vs_trace(x)));
  cJSON_AddNumberToObject(e, "tid", f.tid);
  cJSON_AddStringToObject(e, "thread", f.name);
  cJSON_AddNumberToObject(e, "start", (double)h->start);
  cJSON_AddNumberToObject(e, "dur", (double)h->dur);
  cJSON_AddNumberToObject(e, "depth", h->depth);
  if (h->open)
    cJSON_AddBoolToObject(e, "open", 1);
  return e;
}

void rt__scale_search(const rt_context *ctx, const char *q, rt_response *r) {
  vs_index *x = ctx->scale;
  char text[256], err[256];
  uint64_t limit, from;
  if (rt__query_get(q, "q", text, sizeof text) <= 0 || !text[0]) {
    rt__respond_error(r, 400, "q (the text to find) is required");
    return;
  }
  if (rt__query_u64(q, "limit", 200, &limit) || limit == 0 || limit > MAX_SEARCH) {
    rt__respond_error(r, 400, "limit must be 1..1000");
    return;
  }
  if (rt__query_u64(q, "from", vs_t0(x), &from)) {
    rt__respond_error(r, 400, "from must be an unsigned integer (ns: where to search on from)");
    return;
  }
  vs_search_opts o = {text, (size_t)limit, from, 0};
  vs_search_result s;
  if (vs_search(x, &o, &s, err, sizeof err)) {
    rt__respond_error(r, 500, err);
    return;
  }
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "q", text);
  cJSON_AddNumberToObject(a, "total", (double)s.total);
  cJSON *names = cJSON_AddArrayToObject(a, "names");
  for (size_t i = 0; i < s.nnames; i++)
    cJSON_AddItemToArray(names, cJSON_CreateString(s.names[i]));
  cJSON_AddBoolToObject(a, "names_truncated", s.names_truncated);
  cJSON *res = cJSON_AddArrayToObject(a, "results");
  for (size_t i = 0; i < s.nhits; i++)
    cJSON_AddItemToArray(res, search_result(x, &s.hits[i]));
  cJSON_AddNumberToObject(a, "from", (double)from);
  cJSON_AddNumberToObject(a, "searched_until", (double)s.searched_until);
  cJSON_AddNumberToObject(a, "counted_until", (double)s.counted_until);
  cJSON_AddBoolToObject(a, "complete", s.complete);
  cJSON_AddBoolToObject(a, "truncated", s.truncated);
  cJSON_AddNumberToObject(a, "events_decoded", (double)s.events);
  vs_search_free(&s);
  rt__respond_json(r, 200, a);
}

/* ---- Arrows of a window --------------------------------------------------------------------- */

static uint64_t flow_budget(void) {
  const char *e = getenv("CTRACE_SCALE_FLOW_EVENTS");
  return e && *e ? strtoull(e, NULL, 10) : FLOW_EVENTS;
}

static int flow_in(const vx_flow *f, uint64_t t0, uint64_t t1, const uint8_t *want) {
  int a = f->from_ts >= t0 && f->from_ts <= t1, b = f->to_ts >= t0 && f->to_ts <= t1;
  return (a || b) && (!want || want[f->from_track] || want[f->to_track]);
}

static void flow_end(rt_jw *w, vs_index *x, const vx_flow *f, int end, int first) {
  vs_thread_facts t;
  uint32_t track = end ? f->to_track : f->from_track;
  uint16_t d = end ? f->to_depth : f->from_depth;
  vs_thread_info(x, track, &t);
  rt__jw_lit(w, first ? "{\"ph\":" : ",{\"ph\":");
  rt__jw_lit(w, end ? "\"f\"" : "\"s\"");
  rt__jw_lit(w, ",\"pid\":");
  rt__jw_u64(w, (uint64_t)rd_pid(vs_trace(x)));
  rt__jw_lit(w, ",\"tid\":");
  rt__jw_u64(w, (uint64_t)t.tid);
  rt__jw_lit(w, ",\"ts\":");
  rt__jw_us(w, end ? f->to_ts : f->from_ts);
  char hex[24];
  snprintf(hex, sizeof hex, "0x%" PRIx64, f->id);
  rt__jw_lit(w, ",\"name\":\"flow\",\"cat\":\"flow\",\"id\":");
  rt__jw_str(w, hex);
  if (end)
    rt__jw_lit(w, ",\"bp\":\"e\"");
  rt__jw_lit(w, ",\"args\":{\"depth\":");
  if (d == 0xffff)
    rt__jw_lit(w, "-1");
  else
    rt__jw_u64(w, d);
  rt__jw_lit(w, ",\"track\":");
  rt__jw_u64(w, track);
  rt__jw_lit(w, "}}");
}

void rt__scale_flows(const rt_context *ctx, rt_jw *w, uint64_t t0, uint64_t t1, uint64_t px,
                     const char *tracks, int has, uint64_t written, rt_scale_flows *out) {
  vs_index *x = ctx->scale;
  memset(out, 0, sizeof *out);
  uint64_t budget = flow_budget(), cost = vs_window_events(x, t0, t1, budget);
  if (cost > budget) {
    out->omitted = 1;
    out->cost = cost;
    return;
  }
  vx_flow *f;
  size_t n;
  uint8_t *want = NULL;
  if (has > 0 && !(want = calloc(vs_thread_count(x) + 1, 1))) {
    out->failed = 1;
    return;
  }
  for (const char *p = tracks; want && *p;) {
    char *end;
    unsigned long id = strtoul(p, &end, 10);
    if (end != p && id < vs_thread_count(x))
      want[id] = 1;
    p = *end ? end + 1 : end;
  }
  vs_flows_reach(x, t0, t1, budget, &out->from, &out->to);
  if (vs_window_flows(x, out->from, out->to, &f, &n)) {
    free(want);
    out->failed = 1;
    return;
  }
  size_t in = 0, cap = px / 2 < MAX_FLOWS ? (size_t)(px / 2) : MAX_FLOWS, seen = 0;
  for (size_t i = 0; i < n; i++)
    in += flow_in(&f[i], t0, t1, want);
  cap = cap ? cap : 1;
  for (size_t i = 0; i < n && out->sent < cap; i++) {
    if (!flow_in(&f[i], t0, t1, want))
      continue;
    size_t k = seen++; /* the k-th of `in` is sent when k * cap / in reaches a new integer */
    if (in > cap && (k * cap) / in == ((k + 1) * cap) / in)
      continue;
    out->sent++;
    flow_end(w, x, &f[i], 0, !written++);
    flow_end(w, x, &f[i], 1, 0);
  }
  out->in = in;
  free(f);
  free(want);
}

void rt__scale_flows_window(rt_jw *w, const rt_scale_flows *fl) {
  rt__jw_lit(w, ",\"flows\":");
  rt__jw_u64(w, fl->in);
  rt__jw_lit(w, ",\"flows_sent\":");
  rt__jw_u64(w, fl->sent);
  rt__jw_lit(w, fl->in > fl->sent ? ",\"flows_truncated\":true" : ",\"flows_truncated\":false");
  if (fl->omitted) {
    rt__jw_lit(w, ",\"flows_omitted\":");
    char why[160];
    snprintf(why, sizeof why,
             "zoom in: the window's batches hold over %" PRIu64
             " events, arrows are found up to that many",
             flow_budget());
    rt__jw_str(w, why);
  } else if (fl->failed) {
    rt__jw_lit(w,
               ",\"flows_omitted\":\"the window's batches could not be decoded (or no memory)\"");
  } else { /* (both ends of an arrow sent lie in the range decoded) */
    rt__jw_lit(w, ",\"flows_from\":");
    rt__jw_u64(w, fl->from);
    rt__jw_lit(w, ",\"flows_to\":");
    rt__jw_u64(w, fl->to);
  }
}
