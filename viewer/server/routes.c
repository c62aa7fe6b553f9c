/* HTTP routes of the viewer: static files and the JSON API (see
 * docs/viewer-api.md). Every JSON answer is built with cJSON, except the
 * bulk /api/trace.json stream, which is the exporter's.
 *
 * Level of detail (/api/slices): for a window [t0, t1] drawn on px pixels
 * the bucket is w = (t1 - t0) / px. Per thread and depth, a slice at least
 * w long is returned as is; among shorter ones only the longest per bucket
 * is, with the number it stands for (as Perfetto's slice mipmap does).
 * Slices at one depth do not overlap, so the answer holds at most ~2 px
 * slices per depth however many the window contains. Counters give
 * min / max / last per bucket, instants one per bucket. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "analysis.h"
#include "read.h"
#include "server.h"

#define MAX_PX 20000
#define MAX_FLOWS 4000
#define MAX_SEARCH 1000

/* ---- An arena for cJSON ---------------------------------------------------------------- */
/* A windowed answer is tens of thousands of small cJSON nodes, allocated
 * and freed together: while a handler runs, cJSON allocates from a
 * per-thread arena (installed with cJSON_InitHooks), released in one go at
 * the end. Outside handlers (and on other threads) the hooks are malloc
 * and free. Only the printed answer leaves the arena, copied. */
typedef struct arena_block {
  struct arena_block *prev;
  size_t used, cap;
  char data[];
} arena_block;

static __thread arena_block *arena;  /* blocks in use, newest first */
static __thread arena_block *spare;  /* blocks kept from the last handler */
static __thread int arena_on;        /* in a handler */

static void *hook_malloc(size_t n) {
  if (!arena_on)
    return malloc(n);
  n = (n + 15) & ~(size_t)15;
  if (!arena || arena->used + n > arena->cap) {
    size_t cap = n > (1u << 20) ? n : (1u << 20);
    arena_block *b;
    if (spare && spare->cap >= cap) { /* reuse: no page faults the second time */
      b = spare;
      spare = b->prev;
    } else if (!(b = malloc(sizeof *b + cap))) {
      return NULL;
    } else {
      b->cap = cap;
    }
    b->prev = arena;
    b->used = 0;
    arena = b;
  }
  void *p = arena->data + arena->used;
  arena->used += n;
  return p;
}

static int in_arena(const void *p) {
  for (arena_block *b = arena; b; b = b->prev)
    if ((const char *)p >= b->data && (const char *)p < b->data + b->cap)
      return 1;
  return 0;
}

static void hook_free(void *p) {
  if (p && !(arena_on && in_arena(p)))
    free(p);
}

/* Ends the handler's arena; keeps up to 32 MiB of blocks for the next. */
static void arena_release(void) {
  size_t kept = 0;
  for (arena_block *b = spare; b; b = b->prev)
    kept += b->cap;
  while (arena) {
    arena_block *b = arena;
    arena = b->prev;
    if (kept + b->cap <= (32u << 20)) {
      kept += b->cap;
      b->prev = spare;
      spare = b;
    } else {
      free(b);
    }
  }
  arena_on = 0;
}

static void install_hooks(void) {
  cJSON_Hooks h = {hook_malloc, hook_free};
  cJSON_InitHooks(&h);
}

/* ---- Responses -------------------------------------------------------------------- */

static void respond_json(rt_response *r, int status, cJSON *obj) {
  r->status = status;
  r->content_type = "application/json";
  char *text = cJSON_PrintUnformatted(obj);
  r->len = text ? strlen(text) : 0;
  if (text && arena_on) { /* the answer outlives the arena */
    r->body = malloc(r->len + 1);
    if (r->body)
      memcpy(r->body, text, r->len + 1);
  } else {
    r->body = text;
  }
  if (!r->body) {
    r->status = 500;
    r->len = 0;
  }
  if (!arena_on) /* in a handler the arena goes all at once */
    cJSON_Delete(obj);
}

static void respond_error(rt_response *r, int status, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "status", status);
  cJSON_AddStringToObject(o, "error", msg);
  respond_json(r, status, o);
}

/* ---- Query strings ------------------------------------------------------------------- */

int rt_url_decode(char *s) {
  char *w = s;
  for (char *p = s; *p; p++) {
    if (*p == '%') {
      if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
        return -1;
      char hex[3] = {p[1], p[2], 0};
      int c = (int)strtol(hex, NULL, 16);
      if (c == 0)
        return -1;
      *w++ = (char)c;
      p += 2;
    } else {
      *w++ = *p;
    }
  }
  *w = '\0';
  return 0;
}

/* Value of key in a query string, decoded ('+' is a space), into buf. */
static int query_get(const char *q, const char *key, char *buf, size_t cap) {
  size_t kl = strlen(key);
  for (const char *p = q; p && *p;) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
      size_t vl = len - kl - 1;
      if (vl >= cap)
        return -1;
      memcpy(buf, p + kl + 1, vl);
      buf[vl] = '\0';
      for (char *c = buf; *c; c++)
        if (*c == '+')
          *c = ' ';
      return rt_url_decode(buf) == 0 ? 1 : -1;
    }
    p = amp ? amp + 1 : NULL;
  }
  return 0;
}

/* An unsigned integer parameter; def if absent. -1 on a malformed value. */
static int query_u64(const char *q, const char *key, uint64_t def, uint64_t *out) {
  char buf[32];
  int r = query_get(q, key, buf, sizeof buf);
  if (r < 0)
    return -1;
  if (r == 0) {
    *out = def;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || end == buf || *end || buf[0] == '-')
    return -1;
  *out = v;
  return 0;
}

/* ---- Helpers ---------------------------------------------------------------------------- */

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

static const char *thread_name(const vx_index *x, uint32_t track) {
  const vx_track *t = vx_track_get(x, track);
  return t ? t->name : "";
}

/* ---- /api/meta ------------------------------------------------------------------------------ */

static void api_meta(const rt_context *ctx, rt_response *r) {
  const vx_index *x = ctx->index;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "version", ctrace_version());
  cJSON *srcs = cJSON_AddArrayToObject(o, "sources");
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "path", s->path);
    cJSON_AddStringToObject(j, "format", s->format);
    cJSON_AddNumberToObject(j, "pid", s->pid);
    cJSON_AddStringToObject(j, "process", s->process ? s->process : "");
    cJSON_AddBoolToObject(j, "complete", s->complete);
    cJSON_AddNumberToObject(j, "events", (double)s->events);
    cJSON_AddNumberToObject(j, "dropped", (double)s->dropped);
    /* While following, a trace without its END record yet, or with its
     * last record cut at the end, is one being written: not a problem. */
    int writing = ctx->live && !strcmp(ctx->live, "following") && rt_still_writing(s);
    cJSON_AddBoolToObject(j, "writing", writing);
    if (s->problem && !writing)
      cJSON_AddStringToObject(j, "problem", s->problem);
    else
      cJSON_AddNullToObject(j, "problem");
    if (s->cap_present) {
      static const char *const modes[] = {"off", "wrappers", "kernel"};
      cJSON *c = cJSON_AddObjectToObject(j, "capture");
      cJSON_AddStringToObject(c, "syscalls", modes[s->cap_syscalls % 3]);
      cJSON_AddStringToObject(c, "sched", modes[s->cap_sched % 3]);
      cJSON_AddBoolToObject(c, "heap", s->cap_heap);
      cJSON_AddBoolToObject(c, "locks", s->cap_locks);
      cJSON_AddStringToObject(c, "note", s->cap_why ? s->cap_why : "");
    }
    cJSON_AddItemToArray(srcs, j);
  }
  cJSON_AddNumberToObject(o, "t0", (double)vx_t0(x));
  cJSON_AddNumberToObject(o, "t1", (double)vx_t1(x));
  cJSON_AddNumberToObject(o, "events", (double)vx_events(x));
  if (ctx->live) {
    cJSON *l = cJSON_AddObjectToObject(o, "live");
    cJSON_AddStringToObject(l, "state", ctx->live);
    cJSON_AddNumberToObject(l, "generation", (double)ctx->generation);
    cJSON_AddStringToObject(l, "mode", ctx->live_mode ? ctx->live_mode : "lttng-live");
    if (ctx->live_problem)
      cJSON_AddStringToObject(l, "problem", ctx->live_problem);
    else
      cJSON_AddNullToObject(l, "problem");
  }
  cJSON_AddNumberToObject(o, "dropped", (double)vx_dropped(x));
  cJSON_AddNumberToObject(o, "index_bytes", (double)vx_memory(x));
  cJSON *procs = cJSON_AddArrayToObject(o, "processes");
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "pid", s->pid);
    cJSON_AddStringToObject(p, "name", s->process ? s->process : "");
    cJSON_AddItemToArray(procs, p);
  }
  cJSON *tracks = cJSON_AddArrayToObject(o, "tracks");
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", t->id);
    cJSON_AddStringToObject(j, "kind", t->kind == VX_THREAD    ? "thread"
                                       : t->kind == VX_COUNTER ? "counter"
                                                               : "tasks");
    cJSON_AddNumberToObject(j, "pid", t->pid);
    cJSON_AddStringToObject(j, "name", t->name);
    cJSON_AddNumberToObject(j, "sort", t->sort);
    if (t->kind == VX_THREAD) {
      cJSON_AddNumberToObject(j, "tid", t->tid);
      cJSON_AddNumberToObject(j, "depth", (double)t->depths);
      cJSON_AddNumberToObject(j, "slices", (double)t->slices);
      cJSON_AddNumberToObject(j, "instants", (double)t->ninst);
      cJSON_AddNumberToObject(j, "sched_runs", (double)t->nruns);
      cJSON_AddNumberToObject(j, "states", (double)t->nstates);
    } else if (t->kind == VX_COUNTER) {
      cJSON_AddNumberToObject(j, "samples", (double)t->nsamples);
      cJSON_AddNumberToObject(j, "min", t->nsamples ? t->min : 0);
      cJSON_AddNumberToObject(j, "max", t->nsamples ? t->max : 0);
    } else {
      cJSON_AddNumberToObject(j, "tasks", (double)t->ntasks);
      cJSON_AddNumberToObject(j, "lanes", t->lanes);
    }
    cJSON_AddItemToArray(tracks, j);
  }
  respond_json(r, 200, o);
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

/* Lanes of a thread besides its region depths. */
enum { LANE_REGION = 0, LANE_SCHED = 1 };

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

/* Non-overlapping slices sorted by start (a region depth, or the runs of
 * user-level items): each at least a bucket long, else the longest per
 * bucket with how many it stands for. */
static void window_lane(cJSON *evs, const vx_index *x, const vx_track *t, int lane, size_t d,
                        const vx_slice *a, size_t n, const window *win) {
  uint64_t cur = UINT64_MAX, merged = 0;
  size_t best = 0;
#define EMIT(i, m)                                                             \
  (lane == LANE_REGION ? emit_slice(evs, x, t, d, &a[i], i, m) : emit_run(evs, x, t, &a[i], i, m))
  for (size_t i = vx_slice_lower(a, n, win->t0); i < n && a[i].start <= win->t1; i++) {
    if (a[i].dur >= win->w) {
      if (merged)
        EMIT(best, merged);
      merged = 0;
      cur = UINT64_MAX;
      EMIT(i, 1);
      continue;
    }
    uint64_t b = a[i].start <= win->t0 ? 0 : (a[i].start - win->t0) / win->w;
    if (b != cur) {
      if (merged)
        EMIT(best, merged);
      cur = b;
      best = i;
      merged = 1;
    } else {
      merged++;
      if (a[i].dur > a[best].dur)
        best = i;
    }
  }
  if (merged)
    EMIT(best, merged);
#undef EMIT
}

static const char *state_name(int st) {
  static const char *const names[VX_ST_COUNT_] = {"?", "running", "runnable", "syscall",
                                                  "lock", "sleeping", "blocked"};
  return st > 0 && st < VX_ST_COUNT_ ? names[st] : "?";
}

static void emit_state(cJSON *evs, const vx_track *t, const vx_state *s, size_t idx,
                       uint64_t merged) {
  cJSON *e = cJSON_CreateObject();
  add_common(e, "X", t, s->start);
  add_us(e, "dur", s->end - s->start);
  ADD_STR_REF(e, "name", state_name(s->state));
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

static void window_states(cJSON *evs, const vx_track *t, const window *win) {
  const vx_state *a = t->states;
  size_t n = t->nstates, lo = 0, hi = n;
  while (lo < hi) { /* states do not overlap: ends are sorted */
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].end < win->t0)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t cur = UINT64_MAX, merged = 0;
  size_t best = 0;
  for (size_t i = lo; i < n && a[i].start <= win->t1; i++) {
    uint64_t dur = a[i].end - a[i].start;
    if (dur >= win->w) {
      if (merged)
        emit_state(evs, t, &a[best], best, merged);
      merged = 0;
      cur = UINT64_MAX;
      emit_state(evs, t, &a[i], i, 1);
      continue;
    }
    uint64_t b = a[i].start <= win->t0 ? 0 : (a[i].start - win->t0) / win->w;
    if (b != cur) {
      if (merged)
        emit_state(evs, t, &a[best], best, merged);
      cur = b;
      best = i;
      merged = 1;
    } else {
      merged++;
      if (dur > a[best].end - a[best].start)
        best = i;
    }
  }
  if (merged)
    emit_state(evs, t, &a[best], best, merged);
}

static void window_thread(cJSON *evs, const vx_index *x, const vx_track *t, const window *win) {
  for (size_t d = 0; d < t->depths; d++)
    window_lane(evs, x, t, LANE_REGION, d, t->depth[d], t->ndepth[d], win);
  window_lane(evs, x, t, LANE_SCHED, 0, t->runs, t->nruns, win);
  window_states(evs, t, win);
  /* Instants: the first per bucket, and how many it stands for. */
  size_t lo = 0, hi = t->ninst;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->inst[mid].ts < win->t0)
      lo = mid + 1;
    else
      hi = mid;
  }
  uint64_t cur = UINT64_MAX, merged = 0;
  size_t first = 0;
  for (size_t i = lo; i <= t->ninst; i++) {
    int end = i == t->ninst || t->inst[i].ts > win->t1;
    uint64_t b = end ? UINT64_MAX : (t->inst[i].ts - win->t0) / win->w;
    if (merged && (end || b != cur)) {
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
}

static void window_counter(cJSON *evs, const vx_track *t, const window *win) {
  size_t lo = 0, hi = t->nsamples;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->samples[mid].ts < win->t0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo > 0)
    lo--; /* the value in force when the window starts */
  uint64_t cur = UINT64_MAX;
  double mn = 0, mx = 0, lastv = 0;
  uint64_t ts = 0;
  int have = 0;
  for (size_t i = lo; i <= t->nsamples; i++) {
    int end = i == t->nsamples || t->samples[i].ts > win->t1;
    uint64_t b = 0;
    if (!end)
      b = t->samples[i].ts <= win->t0 ? 0 : (t->samples[i].ts - win->t0) / win->w;
    if (have && (end || b != cur)) {
      cJSON *e = cJSON_CreateObject();
      ADD_STR_REF(e, "ph", "C");
      ADD_NUM(e, "pid", t->pid);
      add_us(e, "ts", ts);
      ADD_STR_REF(e, "name", t->name);
      cJSON *a = cJSON_CreateObject();
      cJSON_AddItemToObjectCS(e, "args", a);
      ADD_NUM(a, "value", lastv);
      ADD_NUM(a, "min", mn);
      ADD_NUM(a, "max", mx);
      ADD_NUM(a, "track", t->id);
      cJSON_AddItemToArray(evs, e);
      have = 0;
    }
    if (end)
      break;
    double v = t->samples[i].value;
    if (!have) {
      cur = b;
      ts = t->samples[i].ts < win->t0 ? win->t0 : t->samples[i].ts;
      mn = mx = v;
      have = 1;
    }
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
    lastv = v;
  }
}

static void emit_task(cJSON *evs, const vx_index *x, const vx_track *t, size_t i,
                      uint64_t merged) {
  const vx_task *k = &t->tasks[i];
  const vx_label *l = vx_label_get(x, k->label);
  char id[48], hex[24];
  snprintf(id, sizeof id, "t.%u.%zu", t->id, i);
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->id);
  for (int end = 0; end < 2; end++) {
    cJSON *e = cJSON_CreateObject();
    const vx_track *th = vx_track_get(x, end && k->end_thread != UINT32_MAX ? k->end_thread
                                                                             : k->thread);
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
  if (query_u64(q, "t0", vx_t0(x), &win->t0) || query_u64(q, "t1", vx_t1(x), &win->t1) ||
      query_u64(q, "px", 1000, px)) {
    respond_error(r, 400, "t0, t1 and px must be unsigned integers (ns, ns, pixels)");
    return -1;
  }
  if (win->t1 < win->t0 || *px == 0 || *px > MAX_PX) {
    respond_error(r, 400, "need t0 <= t1 and 1 <= px <= 20000");
    return -1;
  }
  win->w = (win->t1 - win->t0) / *px;
  if (win->w == 0)
    win->w = 1;
  *want = NULL;
  char list[4096];
  int has = query_get(q, "tracks", list, sizeof list);
  if (has < 0) {
    respond_error(r, 400, "tracks: a comma-separated list of track ids");
    return -1;
  }
  if (has > 0) {
    *want = calloc(vx_track_count(x) + 1, 1);
    if (!*want) {
      respond_error(r, 500, "out of memory");
      return -1;
    }
    for (char *p = list; *p;) {
      char *end;
      unsigned long id = strtoul(p, &end, 10);
      if (end == p || id >= vx_track_count(x) || (*end && *end != ',')) {
        free(*want);
        *want = NULL;
        respond_error(r, 400, "tracks: unknown track id");
        return -1;
      }
      (*want)[id] = 1;
      p = *end ? end + 1 : end;
    }
  }
  win->want = *want;
  return 0;
}

static void api_slices(const rt_context *ctx, const char *q, rt_response *r) {
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
      window_thread(evs, x, t, &win);
    else if (t->kind == VX_COUNTER)
      window_counter(evs, t, &win);
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
  respond_json(r, 200, o);
}

/* ---- /api/slice?id= : details ---------------------------------------------------------------- */

static void add_site(cJSON *o, const vx_label *l) {
  if (l->file) {
    cJSON *s = cJSON_AddObjectToObject(o, "site");
    cJSON_AddStringToObject(s, "file", l->file);
    cJSON_AddNumberToObject(s, "line", l->line);
    cJSON_AddStringToObject(s, "func", l->func ? l->func : "");
  } else {
    cJSON_AddNullToObject(o, "site");
  }
}

static void add_args_json(cJSON *o, const char *json) {
  cJSON *a = json ? cJSON_Parse(json) : NULL;
  if (a)
    cJSON_AddItemToObject(o, "args", a);
  else
    cJSON_AddObjectToObject(o, "args");
}

static void slice_details(const rt_context *ctx, const vx_track *t, size_t d, size_t i,
                          rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_slice *s = &t->depth[d][i];
  const vx_label *l = vx_label_get(x, s->label);
  cJSON *o = cJSON_CreateObject();
  char id[64];
  snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, d, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "slice");
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "cat", l->cat);
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)s->dur);
  cJSON_AddNumberToObject(o, "depth", (double)d);
  cJSON_AddBoolToObject(o, "unfinished", s->args == UINT32_MAX);
  /* Self time: the duration minus that of the children (depth d + 1). */
  uint64_t children = 0, nchildren = 0, end = s->start + s->dur;
  if (d + 1 < t->depths) {
    const vx_slice *c = t->depth[d + 1];
    size_t n = t->ndepth[d + 1];
    for (size_t k = vx_slice_lower(c, n, s->start); k < n && c[k].start < end; k++)
      if (c[k].start >= s->start) {
        children += c[k].dur;
        nchildren++;
      }
  }
  cJSON_AddNumberToObject(o, "self", (double)(s->dur > children ? s->dur - children : 0));
  cJSON_AddNumberToObject(o, "children", (double)nchildren);
  if (d > 0) {
    const vx_slice *p = t->depth[d - 1];
    size_t n = t->ndepth[d - 1], k = vx_slice_lower(p, n, s->start);
    if (k < n && p[k].start <= s->start) {
      snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, d - 1, k);
      cJSON_AddStringToObject(o, "parent", id);
      cJSON_AddStringToObject(o, "parent_name", vx_label_get(x, p[k].label)->name);
    }
  }
  add_site(o, l);
  const vx_info *in = vx_info_get(x, s->args);
  if (in) {
    cJSON *a = cJSON_AddObjectToObject(o, "args");
    if (in->is_wait) {
      char obj[32];
      snprintf(obj, sizeof obj, "0x%" PRIx64, in->arg);
      cJSON_AddStringToObject(a, "object", obj);
      const vx_track *w = in->waker != UINT32_MAX ? vx_track_get(x, in->waker) : NULL;
      if (w) {
        cJSON_AddStringToObject(a, "released by", w->name);
        cJSON_AddNumberToObject(a, "released by tid", w->tid);
      } else {
        cJSON_AddStringToObject(a, "released by", "unknown");
      }
    } else {
      const char *n = vx_syscall_name(in->nr);
      cJSON_AddStringToObject(a, "syscall", n ? n : "?");
      cJSON_AddNumberToObject(a, "nr", in->nr);
      cJSON_AddNumberToObject(a, "arg", (double)(int64_t)in->arg);
      if (in->ret < 0) {
        const char *e = strerrorname_np((int)-in->ret);
        cJSON_AddStringToObject(a, "error", e ? e : "?");
      } else {
        cJSON_AddNumberToObject(a, "return", (double)in->ret);
      }
      cJSON_AddStringToObject(a, "recorded by", in->kernel ? "kernel" : "wrapper");
    }
  } else {
    add_args_json(o, vx_args(x, s->args));
  }
  respond_json(r, 200, o);
}

static void run_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_slice *s = &t->runs[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "g.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "sched");
  cJSON_AddStringToObject(o, "name", vx_label_get(ctx->index, s->label)->name);
  cJSON_AddStringToObject(o, "cat", "sched");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)s->dur);
  cJSON_AddNullToObject(o, "site");
  cJSON_AddObjectToObject(o, "args");
  respond_json(r, 200, o);
}

static void state_details(const vx_track *t, size_t i, rt_response *r) {
  const vx_state *s = &t->states[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "st.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "state");
  cJSON_AddStringToObject(o, "name", state_name(s->state));
  cJSON_AddStringToObject(o, "cat", "state");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)(s->end - s->start));
  cJSON_AddNullToObject(o, "site");
  cJSON *a = cJSON_AddObjectToObject(o, "args");
  if (s->cpu != 0xffff)
    cJSON_AddNumberToObject(a, "cpu", s->cpu);
  cJSON_AddStringToObject(a, "from", s->derived ? "the wrappers' spans (no scheduler data)"
                                                : "context switches (perf_event_open)");
  respond_json(r, 200, o);
}

static void instant_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_instant *in = &t->inst[i];
  const vx_label *l = vx_label_get(x, in->label);
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "i.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", !strcmp(l->cat, "log") ? "log" : "instant");
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "cat", l->cat);
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)in->ts);
  cJSON_AddNumberToObject(o, "dur", 0);
  add_site(o, l);
  cJSON *args = cJSON_AddObjectToObject(o, "args");
  uint64_t task = 0;
  const char *msg = !strcmp(l->cat, "log") ? vx_log_message(x, in->extra, &task) : NULL;
  if (msg)
    cJSON_AddStringToObject(args, "message", msg);
  if (!strcmp(l->cat, "ctrace"))
    cJSON_AddNumberToObject(args, "dropped", in->extra);
  if (task) {
    cJSON *tk = cJSON_AddObjectToObject(o, "task");
    char hex[24];
    snprintf(hex, sizeof hex, "0x%" PRIx64, task);
    cJSON_AddStringToObject(tk, "id", hex);
    const vx_task *k = vx_task_find(x, task, t->pid);
    cJSON_AddStringToObject(tk, "name", k ? vx_label_get(x, k->label)->name : "");
  }
  respond_json(r, 200, o);
}

static void task_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_task *k = &t->tasks[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "t.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "task");
  cJSON_AddStringToObject(o, "name", vx_label_get(x, k->label)->name);
  cJSON_AddStringToObject(o, "cat", "task");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  char hex[24];
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->id);
  cJSON_AddStringToObject(o, "task", hex); /* strings: ids may exceed 2^53 */
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->parent);
  if (k->parent)
    cJSON_AddStringToObject(o, "parent_task", hex);
  else
    cJSON_AddNullToObject(o, "parent_task");
  cJSON_AddNumberToObject(o, "start", (double)k->start);
  int open = k->end == UINT64_MAX;
  cJSON_AddNumberToObject(o, "dur", open ? (double)(vx_t1(x) - k->start) : (double)(k->end - k->start));
  cJSON_AddBoolToObject(o, "unfinished", open);
  cJSON_AddStringToObject(o, "thread", thread_name(x, k->thread));
  cJSON_AddStringToObject(o, "end_thread", k->end_thread == UINT32_MAX ? "" : thread_name(x, k->end_thread));
  cJSON_AddNumberToObject(o, "lane", k->lane);
  cJSON_AddObjectToObject(o, "args");
  cJSON_AddNullToObject(o, "site");
  respond_json(r, 200, o);
}

static void api_slice(const rt_context *ctx, const char *q, rt_response *r) {
  char id[96];
  if (query_get(q, "id", id, sizeof id) <= 0) {
    respond_error(r, 400, "id is required");
    return;
  }
  unsigned track;
  size_t a, b;
  char kind, kind2 = 0;
  int n;
  if (!strncmp(id, "st.", 3)) { /* st.TRACK.INDEX */
    kind2 = 'S';
    n = sscanf(id + 3, "%u.%zu", &track, &a) + 1;
    kind = 'S';
  } else {
    n = sscanf(id, "%c.%u.%zu.%zu", &kind, &track, &a, &b);
  }
  (void)kind2;
  const vx_track *t = n >= 3 ? vx_track_get(ctx->index, track) : NULL;
  if (t && kind == 's' && n == 4 && t->kind == VX_THREAD && a < t->depths && b < t->ndepth[a])
    slice_details(ctx, t, a, b, r);
  else if (t && kind == 'i' && n == 3 && t->kind == VX_THREAD && a < t->ninst)
    instant_details(ctx, t, a, r);
  else if (t && kind == 't' && n == 3 && t->kind == VX_TASKS && a < t->ntasks)
    task_details(ctx, t, a, r);
  else if (t && kind == 'g' && n == 3 && t->kind == VX_THREAD && a < t->nruns)
    run_details(ctx, t, a, r);
  else if (t && kind == 'S' && n == 3 && t->kind == VX_THREAD && a < t->nstates)
    state_details(t, a, r);
  else
    respond_error(r, 404, "no such slice");
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

static void api_search(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  char text[256];
  uint64_t limit;
  if (query_get(q, "q", text, sizeof text) <= 0 || !text[0]) {
    respond_error(r, 400, "q (the text to find) is required");
    return;
  }
  if (query_u64(q, "limit", 200, &limit) || limit == 0 || limit > MAX_SEARCH) {
    respond_error(r, 400, "limit must be 1..1000");
    return;
  }
  size_t nl = vx_label_count(x);
  uint8_t *match = calloc(nl + 1, 1);
  hit *hits = malloc(limit * sizeof *hits);
  if (!match || !hits) {
    free(match);
    free(hits);
    respond_error(r, 500, "out of memory");
    return;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "q", text);
  cJSON *names = cJSON_AddArrayToObject(o, "names");
  int names_truncated = 0;
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
  size_t nh = 0;
  uint64_t total = 0;
  for (size_t ti = 0; ti < vx_track_count(x); ti++) {
    const vx_track *t = vx_track_get(x, ti);
    if (t->kind != VX_THREAD)
      continue;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t i = 0; i < t->ndepth[d]; i++) {
        const vx_slice *s = &t->depth[d][i];
        if (s->label < nl && match[s->label]) {
          total++;
          heap_offer(hits, &nh, limit, (hit){s->start, s->dur, t->id, s->label, d, i});
        }
      }
  }
  if (nh)
    qsort(hits, nh, sizeof *hits, cmp_hit);
  cJSON_AddNumberToObject(o, "total", (double)total);
  cJSON *res = cJSON_AddArrayToObject(o, "results");
  for (size_t i = 0; i < nh; i++) {
    const vx_track *t = vx_track_get(x, hits[i].track);
    cJSON *e = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, hits[i].depth, hits[i].idx);
    cJSON_AddStringToObject(e, "id", id);
    cJSON_AddStringToObject(e, "name", vx_label_get(x, hits[i].label)->name);
    cJSON_AddNumberToObject(e, "track", t->id);
    cJSON_AddNumberToObject(e, "pid", t->pid);
    cJSON_AddNumberToObject(e, "tid", t->tid);
    cJSON_AddStringToObject(e, "thread", t->name);
    cJSON_AddNumberToObject(e, "start", (double)hits[i].start);
    cJSON_AddNumberToObject(e, "dur", (double)hits[i].dur);
    cJSON_AddNumberToObject(e, "depth", (double)hits[i].depth);
    cJSON_AddItemToArray(res, e);
  }
  free(hits);
  free(match);
  respond_json(r, 200, o);
}

/* ---- /api/analysis: ctrace stats's report (analysis.h) of a window --------------------------- */

static void api_analysis(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  uint64_t t0, t1, top, tx0 = vx_t0(x), tx1 = vx_t1(x);
  char thread[256], sort[16], err[256];
  int has_thread = query_get(q, "thread", thread, sizeof thread);
  int has_sort = query_get(q, "sort", sort, sizeof sort);
  if (query_u64(q, "t0", tx0, &t0) || query_u64(q, "t1", tx1, &t1) || t1 < t0) {
    respond_error(r, 400, "t0 and t1 must be unsigned integers (ns), t0 <= t1");
    return;
  }
  if (query_u64(q, "top", 50, &top)) {
    respond_error(r, 400, "top must be an unsigned integer (0: all)");
    return;
  }
  if (has_thread < 0 || has_sort < 0) {
    respond_error(r, 400, "thread or sort: malformed or too long");
    return;
  }
  st_sort_key key = ST_SORT_TOTAL;
  if (has_sort > 0) {
    static const char *const names[] = {"total", "self", "count", "p99"};
    size_t k = 0;
    while (k < 4 && strcmp(sort, names[k]))
      k++;
    if (k == 4) {
      respond_error(r, 400, "sort must be total, self, count or p99");
      return;
    }
    key = (st_sort_key)k;
  }
  st_options o = {0};
  o.thread = has_thread > 0 ? thread : NULL;
  /* st_options counts from the trace's first event; a window outside the
   * trace is clamped to it */
  o.since = t0 > tx0 ? t0 - tx0 : 0;
  o.until = t1 > tx0 ? t1 - tx0 : 1;
  if (t1 >= tx1 && t0 <= tx0)
    o.since = o.until = 0; /* the whole trace */
  st_report rep;
  if (st_compute(x, &o, &rep, err, sizeof err)) {
    respond_error(r, 400, err);
    return;
  }
  st_sort(&rep, key);
  cJSON *root = st_json(x, &rep, (size_t)top, key);
  st_free(&rep);
  if (!root) {
    respond_error(r, 500, "out of memory");
    return;
  }
  respond_json(r, 200, root);
}

/* ---- /api/pprof: a blocking profile of a window, gzipped pprof (analysis.h) ------------------ */

static void api_pprof(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  uint64_t t0, t1, tx0 = vx_t0(x), tx1 = vx_t1(x);
  char type[16], thread[256], err[256];
  int has_type = query_get(q, "type", type, sizeof type);
  int has_thread = query_get(q, "thread", thread, sizeof thread);
  pf_type ty;
  if (has_type <= 0 || pf_type_parse(type, &ty)) {
    respond_error(r, 400, "type must be sync, syscall, sched or io");
    return;
  }
  if (query_u64(q, "t0", tx0, &t0) || query_u64(q, "t1", tx1, &t1) || t1 < t0) {
    respond_error(r, 400, "t0 and t1 must be unsigned integers (ns), t0 <= t1");
    return;
  }
  if (has_thread < 0) {
    respond_error(r, 400, "thread: malformed or too long");
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
    respond_error(r, 400, err);
    return;
  }
  if (pf_encode_pprof(&p, &gz, &len, err, sizeof err)) {
    pf_free(&p);
    respond_error(r, 500, err);
    return;
  }
  pf_free(&p);
  r->status = 200;
  r->content_type = "application/octet-stream";
  r->body = (char *)gz;
  r->len = len;
}

/* ---- /api/trace.json: the whole trace, streamed ----------------------------------------------- */

static int stream_trace(const rt_context *ctx, const char *path,
                        int (*sink)(void *, const char *, size_t), void *arg) {
  (void)ctx;
  char head[8] = {0};
  struct stat st;
  int fd = -1;
  ssize_t n = 0;
  if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      return -errno;
    n = read(fd, head, sizeof head);
  }
  if (fd < 0 || (n == CTRACE_FMT_MAGIC_LEN && !memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN))) {
    /* a ctrace trace or an LTTng directory: exported */
    if (fd >= 0)
      close(fd);
    char err[1200], *paths[1] = {(char *)path};
    te_set *set = te_set_open(paths, 1, 0, err, sizeof err);
    if (!set)
      return CTRACE_EINVAL;
    cj_stats cs;
    int r = cj_export(set, sink, arg, &cs, err, sizeof err);
    te_set_close(set);
    return r;
  }
  /* A JSON trace is served as it is. */
  int r = 0;
  if (n > 0)
    r = sink(arg, head, (size_t)n);
  char buf[65536];
  while (!r && (n = read(fd, buf, sizeof buf)) > 0)
    r = sink(arg, buf, (size_t)n);
  if (!r && n < 0)
    r = -errno;
  close(fd);
  return r;
}

/* ---- Static files --------------------------------------------------------------------------- */

static const char *mime_type(const char *path) {
  const char *dot = strrchr(path, '.');
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript; charset=utf-8"},
               {".mjs", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},
               {".json", "application/json"},
               {".svg", "image/svg+xml"},
               {".png", "image/png"},
               {".ico", "image/x-icon"},
               {".txt", "text/plain; charset=utf-8"},
               {".map", "application/json"}};
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(dot, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

/* A file of web/: any path that is not plainly inside it (.., a symlink
 * out, a directory, a non-regular file) is "not found". */
static void static_file(const rt_context *ctx, const char *path, rt_response *r) {
  if (!ctx->web_root) {
    respond_error(r, 404, "the web UI was not found (web/ next to the ctrace binary); "
                          "set CTRACE_WEB_DIR");
    return;
  }
  if (!strcmp(path, "/"))
    path = "/index.html";
  if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") || strstr(path, "//") ||
      strchr(path, '\\') || (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")) ||
      (strlen(path) >= 2 && !strcmp(path + strlen(path) - 2, "/."))) {
    respond_error(r, 404, "not found");
    return;
  }
  char full[PATH_MAX], real[PATH_MAX];
  if ((size_t)snprintf(full, sizeof full, "%s%s", ctx->web_root, path) >= sizeof full ||
      !realpath(full, real)) {
    respond_error(r, 404, "not found");
    return;
  }
  size_t rl = strlen(ctx->web_root);
  struct stat st;
  if (strncmp(real, ctx->web_root, rl) != 0 || real[rl] != '/' || stat(real, &st) != 0 ||
      !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
    respond_error(r, 404, "not found");
    return;
  }
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  char *body = fd >= 0 ? malloc((size_t)st.st_size + 1) : NULL;
  size_t got = 0;
  while (body && got < (size_t)st.st_size) {
    ssize_t n = read(fd, body + got, (size_t)st.st_size - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  if (fd >= 0)
    close(fd);
  if (!body || got != (size_t)st.st_size) {
    free(body);
    respond_error(r, 500, "cannot read the file");
    return;
  }
  r->status = 200;
  r->content_type = mime_type(real);
  r->body = body;
  r->len = got;
  r->cacheable = 1;
}

/* ---- Live view ----------------------------------------------------------------------------------- */

int rt_still_writing(const vx_source *s) {
  return !s->complete && s->problem &&
         (s->problem_kind == RD_PROBLEM_NO_END || s->problem_kind == RD_PROBLEM_TRUNCATED);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

char *rt_live_event(const rt_context *ctx, size_t *len) {
  pthread_once(&hooks_once, install_hooks); /* (orders the hooks' setup before any use) */
  const vx_index *x = ctx->index;
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddNumberToObject(o, "generation", (double)ctx->generation);
  cJSON_AddStringToObject(o, "state", ctx->live ? ctx->live : "static");
  cJSON_AddStringToObject(o, "mode", ctx->live_mode ? ctx->live_mode : "lttng-live");
  cJSON_AddNumberToObject(o, "t0", x ? (double)vx_t0(x) : 0);
  cJSON_AddNumberToObject(o, "t1", x ? (double)vx_t1(x) : 0);
  cJSON_AddNumberToObject(o, "events", x ? (double)vx_events(x) : 0);
  cJSON_AddNumberToObject(o, "tracks", x ? (double)vx_track_count(x) : 0);
  cJSON_AddNumberToObject(o, "sources", x ? (double)vx_source_count(x) : 0);
  char *data = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!data)
    return NULL;
  /* (the JSON has no newline, so it is one data: line) */
  size_t cap = strlen(data) + 64;
  char *out = malloc(cap);
  if (out) {
    int n = snprintf(out, cap, "id: %" PRIu64 "\nevent: update\ndata: %s\n\n", ctx->generation, data);
    *len = (size_t)n;
  }
  free(data);
  return out;
}

static void api_events(const rt_context *ctx, rt_response *r) {
  if (!ctx->live) {
    respond_error(r, 404, "/api/events: this trace is not live (ctrace view --follow TRACE, "
                          "ctrace run --view or ctrace view --lttng-live URL push updates)");
    return;
  }
  r->status = 200;
  r->content_type = "text/event-stream";
  r->events = 1;
}

/* ---- Dispatch ----------------------------------------------------------------------------------- */

static void handle(const rt_context *ctx, const rt_request *req, rt_response *r);

void rt_handle(const rt_context *ctx, const rt_request *req, rt_response *r) {
  pthread_once(&hooks_once, install_hooks);
  arena_on = 1;
  handle(ctx, req, r);
  arena_release();
}

static void handle(const rt_context *ctx, const rt_request *req, rt_response *r) {
  memset(r, 0, sizeof *r);
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    r->allow = "GET, HEAD";
    respond_error(r, 405, "method not allowed: use GET");
    return;
  }
  const char *p = req->path, *q = req->query ? req->query : "";
  if (!strcmp(p, "/api/meta"))
    api_meta(ctx, r);
  else if (!strcmp(p, "/api/slices"))
    api_slices(ctx, q, r);
  else if (!strcmp(p, "/api/slice"))
    api_slice(ctx, q, r);
  else if (!strcmp(p, "/api/search"))
    api_search(ctx, q, r);
  else if (!strcmp(p, "/api/analysis"))
    api_analysis(ctx, q, r);
  else if (!strcmp(p, "/api/pprof"))
    api_pprof(ctx, q, r);
  else if (!strcmp(p, "/api/events"))
    api_events(ctx, r);
  else if (!strcmp(p, "/api/trace.json")) {
    uint64_t src;
    if (query_u64(q, "source", 0, &src) || src >= ctx->npaths) {
      respond_error(r, 400, "source: the index of a trace in /api/meta's sources");
      return;
    }
    r->status = 200;
    r->content_type = "application/json";
    r->stream = stream_trace;
    r->stream_path = ctx->paths[src];
  } else if (!strncmp(p, "/api/", 5))
    respond_error(r, 404, "no such API");
  else
    static_file(ctx, p, r);
}
