/* The routes' timeline (docs/viewer-api.md): /api/slices, a window of
 * every track (slices by depth, scheduler runs, thread states, instants,
 * CPU samples, counters, tasks, flows) at the level of detail of its pixels, and
 * /api/search, the earliest slices whose names hold a text.
 *
 * Level of detail (/api/slices): for a window [t0, t1] drawn on px pixels
 * the bucket is w = (t1 - t0) / px. Per thread and depth, a slice at least
 * w long is returned as is; among shorter ones only the longest per bucket
 * is, with the number it stands for (as Perfetto's slice mipmap does).
 * Slices at one depth do not overlap, so the answer holds at most ~2 px
 * slices per depth however many the window contains. Counters give
 * min / max / last per bucket, instants and CPU samples one per bucket.
 * Region depths, work-item runs, state bands and counters with many items
 * in the window are answered from their time pyramids (viewer/analysis's
 * pyramid.c, vx_lane_window and vx_counter_window): the work is bounded by
 * the pixels, not by the items. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server_internal.h"

#define MAX_PX 20000
#define MAX_FLOWS 4000
#define MAX_SEARCH 1000

/* ---- Building the events ------------------------------------------------------------------ */

/* The windowed answers hold tens of thousands of objects, so they are built
 * the cheap way cJSON allows: constant keys (…CS), string values that point
 * into the index (…Reference: the index outlives the answer), and
 * microsecond times as raw number text, which cJSON would otherwise print
 * with sprintf and check with sscanf, twice per event. */
#define ADD_STR_REF(o, k, v) cJSON_AddItemToObjectCS((o), (k), cJSON_CreateStringReference(v))
/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *u64_digits(char *end, uint64_t v) {
  do
    *--end = (char)('0' + v % 10);
  while (v /= 10);
  return end;
}

#define ADD_NUM(o, k, v) add_num((o), (k), (double)(v))

/* Numbers as raw text too: cJSON 1.7 prints every number with "%1.15g"
 * and checks it with sscanf. Integers (the usual case) print exactly. */
static void add_num(cJSON *o, const char *key, double v) {
  char b[40];
  if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    char *end = b + sizeof b - 1, *p;
    *end = '\0';
    p = u64_digits(end, (uint64_t)fabs(v));
    if (v < 0)
      *--p = '-';
    cJSON_AddItemToObjectCS(o, key, cJSON_CreateRaw(p));
    return;
  }
  if (isfinite(v))
    snprintf(b, sizeof b, "%.17g", v);
  else
    snprintf(b, sizeof b, "null");
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateRaw(b));
}

/* ns as microseconds with nanosecond decimals: 1234567 -> 1234.567 */
static void add_us(cJSON *o, const char *key, uint64_t ns) {
  char b[32], *end = b + sizeof b - 1;
  *end = '\0';
  unsigned frac = (unsigned)(ns % 1000);
  *--end = (char)('0' + frac % 10);
  *--end = (char)('0' + frac / 10 % 10);
  *--end = (char)('0' + frac / 100);
  *--end = '.';
  cJSON_AddItemToObjectCS(o, key, cJSON_CreateRaw(u64_digits(end, ns / 1000)));
}

static void add_common(cJSON *e, const char *ph, const vx_track *t, uint64_t ts) {
  ADD_STR_REF(e, "ph", ph);
  ADD_NUM(e, "pid", t->pid);
  ADD_NUM(e, "tid", t->tid);
  add_us(e, "ts", ts);
}

/* ---- /api/slices ------------------------------------------------------------------------------ */

typedef struct window {
  uint64_t t0, t1, w;
  const uint8_t *want; /* tracks asked for (NULL: all) */
} window;

static void emit_slice(cJSON *evs, const vx_index *x, const vx_track *t, size_t depth,
                       const vx_slice *s, size_t idx, uint64_t merged) {
  const vx_label *l = vx_label_get(x, s->label);
  cJSON *e = cJSON_CreateObject();
  add_common(e, "X", t, s->start);
  add_us(e, "dur", s->dur);
  ADD_STR_REF(e, "name", l->name);
  ADD_STR_REF(e, "cat", l->cat);
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  char id[64];
  snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, depth, idx);
  cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
  ADD_NUM(a, "track", t->id);
  ADD_NUM(a, "depth", depth);
  if (merged > 1)
    ADD_NUM(a, "merged", merged);
  cJSON_AddItemToArray(evs, e);
}

static void emit_instant(cJSON *evs, const vx_index *x, const vx_track *t, size_t i,
                         uint64_t merged) {
  const vx_instant *in = &t->inst[i];
  const vx_label *l = vx_label_get(x, in->label);
  cJSON *e = cJSON_CreateObject();
  add_common(e, "i", t, in->ts);
  ADD_STR_REF(e, "s", "t");
  ADD_STR_REF(e, "name", l->name);
  ADD_STR_REF(e, "cat", l->cat);
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  char id[48];
  snprintf(id, sizeof id, "i.%u.%zu", t->id, i);
  cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
  ADD_NUM(a, "track", t->id);
  if (merged > 1)
    ADD_NUM(a, "merged", merged);
  if (!strcmp(l->cat, "ctrace"))
    ADD_NUM(a, "dropped", in->extra);
  cJSON_AddItemToArray(evs, e);
}

static void emit_run(cJSON *evs, const vx_index *x, const vx_track *t, const vx_slice *s,
                     size_t idx, uint64_t merged) {
  const vx_label *l = vx_label_get(x, s->label);
  cJSON *e = cJSON_CreateObject();
  add_common(e, "X", t, s->start);
  add_us(e, "dur", s->dur);
  ADD_STR_REF(e, "name", l->name);
  ADD_STR_REF(e, "cat", "sched");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  char id[64];
  snprintf(id, sizeof id, "g.%u.%zu", t->id, idx);
  cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
  ADD_NUM(a, "track", t->id);
  ADD_STR_REF(a, "lane", "sched");
  if (merged > 1)
    ADD_NUM(a, "merged", merged);
  cJSON_AddItemToArray(evs, e);
}

/* A lane's marks (vx_lane_emit): a region depth's slices, the runs of
 * user-level items, or the state band. */
typedef struct lane_out {
  cJSON *evs;
  const vx_index *x;
  const vx_track *t;
  int lane; /* a depth, VX_LANE_RUNS or VX_LANE_STATES */
} lane_out;

static void emit_state(cJSON *evs, const vx_track *t, const vx_state *s, size_t idx,
                       uint64_t merged);

static void lane_emit(void *ctx, size_t i, uint64_t merged) {
  const lane_out *o = ctx;
  if (o->lane == VX_LANE_STATES)
    emit_state(o->evs, o->t, &o->t->states[i], i, merged);
  else if (o->lane == VX_LANE_RUNS)
    emit_run(o->evs, o->x, o->t, &o->t->runs[i], i, merged);
  else
    emit_slice(o->evs, o->x, o->t, (size_t)o->lane, &o->t->depth[o->lane][i], i, merged);
}

/* Non-overlapping items sorted by start (a region depth, the runs of
 * user-level items, the state band): each at least a bucket long, else
 * the longest per bucket with how many it stands for. A window of many
 * items is answered from the lane's time pyramid (vx_lane_window). */
static void window_lane(cJSON *evs, const vx_index *x, const vx_track *t, int lane,
                        const window *win, uint64_t px) {
  lane_out o = {evs, x, t, lane};
  vx_lane_window(x, t, lane, win->t0, win->t1, win->w, px, lane_emit, &o);
}

const char *rt__state_name(int st) {
  static const char *const names[VX_ST_COUNT_] = {"?",    "running",  "runnable", "syscall",
                                                  "lock", "sleeping", "blocked"};
  return st > 0 && st < VX_ST_COUNT_ ? names[st] : "?";
}

static void emit_state(cJSON *evs, const vx_track *t, const vx_state *s, size_t idx,
                       uint64_t merged) {
  cJSON *e = cJSON_CreateObject();
  add_common(e, "X", t, s->start);
  add_us(e, "dur", s->end - s->start);
  ADD_STR_REF(e, "name", rt__state_name(s->state));
  ADD_STR_REF(e, "cat", "state");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  char id[64];
  snprintf(id, sizeof id, "st.%u.%zu", t->id, idx);
  cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
  ADD_NUM(a, "track", t->id);
  ADD_STR_REF(a, "lane", "state");
  if (s->cpu != 0xffff)
    ADD_NUM(a, "cpu", s->cpu);
  if (s->derived)
    cJSON_AddItemToObjectCS(a, "derived", cJSON_CreateTrue());
  if (merged > 1)
    ADD_NUM(a, "merged", merged);
  cJSON_AddItemToArray(evs, e);
}

/* A CPU sample (cat "sample", lane "samples"): the first of its bucket on
 * the thread, with how many it stands for. */
static void emit_sample(cJSON *evs, const vx_track *t, size_t i, uint64_t merged) {
  const vx_cpu_sample *c = &t->cpu[i];
  cJSON *e = cJSON_CreateObject();
  add_common(e, "X", t, c->ts);
  add_us(e, "dur", 0);
  ADD_STR_REF(e, "name", "cpu sample");
  ADD_STR_REF(e, "cat", "sample");
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  char id[48];
  snprintf(id, sizeof id, "sm.%u.%zu", t->id, i);
  cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
  ADD_NUM(a, "track", t->id);
  ADD_STR_REF(a, "lane", "samples");
  if (merged > 1)
    ADD_NUM(a, "merged", merged);
  if (c->flags & VX_CPU_PARTIAL)
    cJSON_AddItemToObjectCS(a, "partial", cJSON_CreateTrue());
  cJSON_AddItemToArray(evs, e);
}

/* Points of a thread (its instants, or its CPU samples): the first per
 * bucket, and how many it stands for. */
static void window_points(cJSON *evs, const vx_index *x, const vx_track *t, const window *win,
                          int samples) {
  size_t n = samples ? t->ncpu : t->ninst, lo = 0, hi = n;
#define TS(i) (samples ? t->cpu[i].ts : t->inst[i].ts)
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (TS(mid) < win->t0)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t cur = UINT64_MAX, merged = 0;
  size_t first = 0;
  for (size_t i = lo; i <= n; i++) {
    int end = i == n || TS(i) > win->t1;
    uint64_t b = end ? UINT64_MAX : (TS(i) - win->t0) / win->w;
    if (merged && (end || b != cur)) {
      if (samples)
        emit_sample(evs, t, first, merged);
      else
        emit_instant(evs, x, t, first, merged);
      merged = 0;
    }
    if (end)
      break;
    if (!merged) {
      cur = b;
      first = i;
    }
    merged++;
  }
#undef TS
}

static void window_thread(cJSON *evs, const vx_index *x, const vx_track *t, const window *win,
                          uint64_t px) {
  for (size_t d = 0; d < t->depths; d++)
    window_lane(evs, x, t, (int)d, win, px);
  window_lane(evs, x, t, VX_LANE_RUNS, win, px);
  window_lane(evs, x, t, VX_LANE_STATES, win, px);
  window_points(evs, x, t, win, 0);
  window_points(evs, x, t, win, 1);
}

typedef struct counter_out {
  cJSON *evs;
  const vx_track *t;
} counter_out;

static void emit_counter(void *ctx, uint64_t ts, double mn, double mx, double last) {
  const counter_out *o = ctx;
  cJSON *e = cJSON_CreateObject();
  ADD_STR_REF(e, "ph", "C");
  ADD_NUM(e, "pid", o->t->pid);
  add_us(e, "ts", ts);
  ADD_STR_REF(e, "name", o->t->name);
  cJSON *a = cJSON_CreateObject();
  cJSON_AddItemToObjectCS(e, "args", a);
  ADD_NUM(a, "value", last);
  ADD_NUM(a, "min", mn);
  ADD_NUM(a, "max", mx);
  ADD_NUM(a, "track", o->t->id);
  cJSON_AddItemToArray(o->evs, e);
}

/* Per bucket min / max / last, the value in force at t0 first; a window of
 * many samples from the counter's pyramid (vx_counter_window). */
static void window_counter(cJSON *evs, const vx_index *x, const vx_track *t, const window *win,
                           uint64_t px) {
  counter_out o = {evs, t};
  vx_counter_window(x, t, win->t0, win->t1, win->w, px, emit_counter, &o);
}

static void emit_task(cJSON *evs, const vx_index *x, const vx_track *t, size_t i, uint64_t merged) {
  const vx_task *k = &t->tasks[i];
  const vx_label *l = vx_label_get(x, k->label);
  char id[48], hex[24];
  snprintf(id, sizeof id, "t.%u.%zu", t->id, i);
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->id);
  for (int end = 0; end < 2; end++) {
    cJSON *e = cJSON_CreateObject();
    const vx_track *th =
        vx_track_get(x, end && k->end_thread != UINT32_MAX ? k->end_thread : k->thread);
    uint64_t ts = end ? (k->end == UINT64_MAX ? vx_t1(x) : k->end) : k->start;
    add_common(e, end ? "e" : "b", th ? th : t, ts);
    ADD_STR_REF(e, "name", l->name);
    ADD_STR_REF(e, "cat", "task");
    cJSON_AddItemToObjectCS(e, "id", cJSON_CreateString(hex));
    cJSON *a = cJSON_CreateObject();
    cJSON_AddItemToObjectCS(e, "args", a);
    cJSON_AddItemToObjectCS(a, "id", cJSON_CreateString(id));
    ADD_NUM(a, "lane", k->lane);
    ADD_NUM(a, "track", t->id);
    if (merged > 1)
      ADD_NUM(a, "merged", merged);
    if (k->end == UINT64_MAX)
      cJSON_AddItemToObjectCS(a, "unfinished", cJSON_CreateTrue());
    cJSON_AddItemToArray(evs, e);
  }
}

static void window_tasks(cJSON *evs, const vx_index *x, const vx_track *t, const window *win) {
  /* per lane: the current bucket's longest task */
  uint64_t cur[64], best_dur[64], merged[64];
  size_t best[64];
  for (int l = 0; l < 64; l++)
    cur[l] = UINT64_MAX, merged[l] = 0;
  for (size_t i = 0; i < t->ntasks && t->tasks[i].start <= win->t1; i++) {
    const vx_task *k = &t->tasks[i];
    uint64_t end = k->end == UINT64_MAX ? vx_t1(x) : k->end;
    if (end < win->t0)
      continue;
    unsigned l = k->lane < 64 ? k->lane : 63;
    uint64_t dur = end - k->start;
    if (dur >= win->w) {
      emit_task(evs, x, t, i, 1);
      continue;
    }
    uint64_t b = k->start <= win->t0 ? 0 : (k->start - win->t0) / win->w;
    if (b != cur[l]) {
      if (merged[l])
        emit_task(evs, x, t, best[l], merged[l]);
      cur[l] = b;
      best[l] = i;
      best_dur[l] = dur;
      merged[l] = 1;
    } else {
      merged[l]++;
      if (dur > best_dur[l])
        best[l] = i, best_dur[l] = dur;
    }
  }
  for (int l = 0; l < 64; l++)
    if (merged[l])
      emit_task(evs, x, t, best[l], merged[l]);
}

/* Flows with an end in the window. Zoomed out there may be far more than
 * can be told apart: at most one per two pixels is sent, evenly sampled
 * (window.flows says how many there are). */
static int flow_in(const vx_flow *f, const window *win) {
  int a = f->from_ts >= win->t0 && f->from_ts <= win->t1;
  int b = f->to_ts >= win->t0 && f->to_ts <= win->t1;
  return (a || b) && (!win->want || win->want[f->from_track] || win->want[f->to_track]);
}

static void window_flows(cJSON *evs, cJSON *win_obj, const vx_index *x, const window *win,
                         uint64_t px) {
  size_t n, in = 0;
  const vx_flow *f = vx_flows(x, &n);
  for (size_t i = 0; i < n; i++)
    in += flow_in(&f[i], win);
  size_t cap = px / 2 < MAX_FLOWS ? (size_t)(px / 2) : MAX_FLOWS;
  if (cap == 0)
    cap = 1;
  size_t shown = 0, seen = 0;
  for (size_t i = 0; i < n && shown < cap; i++) {
    if (!flow_in(&f[i], win))
      continue;
    /* the k-th of `in` is sent when k * cap / in reaches a new integer */
    size_t k = seen++;
    if (in > cap && (k * cap) / in == ((k + 1) * cap) / in)
      continue;
    shown++;
    char hex[24];
    snprintf(hex, sizeof hex, "0x%" PRIx64, f[i].id);
    for (int end = 0; end < 2; end++) {
      const vx_track *t = vx_track_get(x, end ? f[i].to_track : f[i].from_track);
      cJSON *e = cJSON_CreateObject();
      add_common(e, end ? "f" : "s", t, end ? f[i].to_ts : f[i].from_ts);
      ADD_STR_REF(e, "name", "flow");
      ADD_STR_REF(e, "cat", "flow");
      cJSON_AddItemToObjectCS(e, "id", cJSON_CreateString(hex));
      if (end)
        ADD_STR_REF(e, "bp", "e");
      cJSON *ar = cJSON_CreateObject();
      cJSON_AddItemToObjectCS(e, "args", ar);
      uint16_t d = end ? f[i].to_depth : f[i].from_depth;
      ADD_NUM(ar, "depth", d == 0xffff ? -1 : d);
      ADD_NUM(ar, "track", t->id);
      cJSON_AddItemToArray(evs, e);
    }
  }
  cJSON_AddNumberToObject(win_obj, "flows", (double)in);
  cJSON_AddNumberToObject(win_obj, "flows_sent", (double)shown);
  cJSON_AddBoolToObject(win_obj, "flows_truncated", in > shown);
}

/* Parses t0, t1, px (and tracks); sends 400 and returns -1 if bad. */
static int parse_window(const rt_context *ctx, const char *q, window *win, uint64_t *px,
                        uint8_t **want, rt_response *r) {
  const vx_index *x = ctx->index;
  if (rt__query_u64(q, "t0", vx_t0(x), &win->t0) || rt__query_u64(q, "t1", vx_t1(x), &win->t1) ||
      rt__query_u64(q, "px", 1000, px)) {
    rt__respond_error(r, 400, "t0, t1 and px must be unsigned integers (ns, ns, pixels)");
    return -1;
  }
  if (win->t1 < win->t0 || *px == 0 || *px > MAX_PX) {
    rt__respond_error(r, 400, "need t0 <= t1 and 1 <= px <= 20000");
    return -1;
  }
  win->w = (win->t1 - win->t0) / *px;
  if (win->w == 0)
    win->w = 1;
  *want = NULL;
  char list[4096];
  int has = rt__query_get(q, "tracks", list, sizeof list);
  if (has < 0) {
    rt__respond_error(r, 400, "tracks: a comma-separated list of track ids");
    return -1;
  }
  if (has > 0) {
    *want = calloc(vx_track_count(x) + 1, 1);
    if (!*want) {
      rt__respond_error(r, 500, "out of memory");
      return -1;
    }
    for (char *p = list; *p;) {
      char *end;
      unsigned long id = strtoul(p, &end, 10);
      if (end == p || id >= vx_track_count(x) || (*end && *end != ',')) {
        free(*want);
        *want = NULL;
        rt__respond_error(r, 400, "tracks: unknown track id");
        return -1;
      }
      (*want)[id] = 1;
      p = *end ? end + 1 : end;
    }
  }
  win->want = *want;
  return 0;
}

void rt__api_slices(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  window win;
  uint64_t px;
  uint8_t *want;
  if (parse_window(ctx, q, &win, &px, &want, r))
    return;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "displayTimeUnit", "ns");
  cJSON *evs = cJSON_AddArrayToObject(o, "traceEvents");
  for (size_t i = 0; i < vx_track_count(x); i++) {
    if (want && !want[i])
      continue;
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD)
      window_thread(evs, x, t, &win, px);
    else if (t->kind == VX_COUNTER)
      window_counter(evs, x, t, &win, px);
    else
      window_tasks(evs, x, t, &win);
  }
  cJSON *w = cJSON_AddObjectToObject(o, "window");
  cJSON_AddNumberToObject(w, "t0", (double)win.t0);
  cJSON_AddNumberToObject(w, "t1", (double)win.t1);
  cJSON_AddNumberToObject(w, "px", (double)px);
  cJSON_AddNumberToObject(w, "bucket_ns", (double)win.w);
  window_flows(evs, w, x, &win, px);
  free(want);
  rt__respond_json(r, 200, o);
}

/* ---- /api/search ------------------------------------------------------------------------------ */

typedef struct hit {
  uint64_t start, dur;
  uint32_t track, label;
  size_t depth, idx;
} hit;

static int cmp_hit(const void *a, const void *b) {
  const hit *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Keeps the `limit` earliest hits: a max-heap on start. */
static void heap_offer(hit *h, size_t *n, size_t limit, hit v) {
  size_t i;
  if (*n < limit) {
    i = (*n)++;
    while (i > 0 && h[(i - 1) / 2].start < v.start) {
      h[i] = h[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    h[i] = v;
    return;
  }
  if (v.start >= h[0].start)
    return;
  i = 0; /* replace the root and sift down */
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    uint64_t ms = v.start;
    if (l < *n && h[l].start > ms)
      m = l, ms = h[l].start;
    if (r < *n && h[r].start > ms)
      m = r;
    if (m == i)
      break;
    h[i] = h[m];
    i = m;
  }
  h[i] = v;
}

/* The distinct names that hold text (o.names: at most 100), and which
 * labels match (match[label] = 1). */
static void search_names(cJSON *o, const vx_index *x, const char *text, uint8_t *match) {
  cJSON *names = cJSON_AddArrayToObject(o, "names");
  int names_truncated = 0;
  size_t nl = vx_label_count(x);
  for (size_t i = 1; i < nl; i++) {
    const char *name = vx_label_get(x, (uint32_t)i)->name;
    if (!strcasestr(name, text))
      continue;
    match[i] = 1;
    int dup = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, names) dup |= !strcmp(e->valuestring, name);
    if (!dup && cJSON_GetArraySize(names) < 100)
      cJSON_AddItemToArray(names, cJSON_CreateString(name));
    else if (!dup)
      names_truncated = 1;
  }
  cJSON_AddBoolToObject(o, "names_truncated", names_truncated);
}

/* The `limit` earliest slices of a matching label, sorted by start, into
 * hits; *total counts them all. @return how many hits there are. */
static size_t search_hits(const vx_index *x, const uint8_t *match, hit *hits, size_t limit,
                          uint64_t *total) {
  size_t nl = vx_label_count(x), nh = 0;
  for (size_t ti = 0; ti < vx_track_count(x); ti++) {
    const vx_track *t = vx_track_get(x, ti);
    if (t->kind != VX_THREAD)
      continue;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t i = 0; i < t->ndepth[d]; i++) {
        const vx_slice *s = &t->depth[d][i];
        if (s->label < nl && match[s->label]) {
          (*total)++;
          heap_offer(hits, &nh, limit, (hit){s->start, s->dur, t->id, s->label, d, i});
        }
      }
  }
  if (nh)
    qsort(hits, nh, sizeof *hits, cmp_hit);
  return nh;
}

static cJSON *search_result(const vx_index *x, const hit *h) {
  const vx_track *t = vx_track_get(x, h->track);
  cJSON *e = cJSON_CreateObject();
  char id[64];
  snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, h->depth, h->idx);
  cJSON_AddStringToObject(e, "id", id);
  cJSON_AddStringToObject(e, "name", vx_label_get(x, h->label)->name);
  cJSON_AddNumberToObject(e, "track", t->id);
  cJSON_AddNumberToObject(e, "pid", t->pid);
  cJSON_AddNumberToObject(e, "tid", t->tid);
  cJSON_AddStringToObject(e, "thread", t->name);
  cJSON_AddNumberToObject(e, "start", (double)h->start);
  cJSON_AddNumberToObject(e, "dur", (double)h->dur);
  cJSON_AddNumberToObject(e, "depth", (double)h->depth);
  return e;
}

void rt__api_search(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  char text[256];
  uint64_t limit;
  if (rt__query_get(q, "q", text, sizeof text) <= 0 || !text[0]) {
    rt__respond_error(r, 400, "q (the text to find) is required");
    return;
  }
  if (rt__query_u64(q, "limit", 200, &limit) || limit == 0 || limit > MAX_SEARCH) {
    rt__respond_error(r, 400, "limit must be 1..1000");
    return;
  }
  uint8_t *match = calloc(vx_label_count(x) + 1, 1);
  hit *hits = malloc(limit * sizeof *hits);
  if (!match || !hits) {
    free(match);
    free(hits);
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "q", text);
  search_names(o, x, text, match);
  uint64_t total = 0;
  size_t nh = search_hits(x, match, hits, (size_t)limit, &total);
  cJSON_AddNumberToObject(o, "total", (double)total);
  cJSON *res = cJSON_AddArrayToObject(o, "results");
  for (size_t i = 0; i < nh; i++)
    cJSON_AddItemToArray(res, search_result(x, &hits[i]));
  free(hits);
  free(match);
  rt__respond_json(r, 200, o);
}
