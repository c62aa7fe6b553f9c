/* The routes of a trace opened with the scale index (analysis.h: vs_*;
 * `ctrace view` chooses it for big traces): /api/meta, /api/slices and
 * /api/slice answered from the index file and the batches a window
 * touches, in the same JSON as the full index's (docs/viewer-api.md).
 * A region's id is z.THREAD.DEPTH.START: found again by decoding from the
 * batch holding its start. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctrace/ctrace.h"
#include "server_internal.h"

#define MAX_PX 20000

void rt__scale_meta(const rt_context *ctx, rt_response *r) {
  vs_index *x = ctx->scale;
  rd_trace *tr = vs_trace(x);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "version", ctrace_version());
  cJSON *srcs = cJSON_AddArrayToObject(o, "sources");
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "path", ctx->paths[0]);
  cJSON_AddStringToObject(s, "format", "ctrace");
  cJSON_AddNumberToObject(s, "pid", rd_pid(tr));
  cJSON_AddStringToObject(s, "process", rd_process_name(tr) ? rd_process_name(tr) : "");
  cJSON_AddBoolToObject(s, "complete", rd_complete(tr));
  cJSON_AddNumberToObject(s, "events", (double)vs_events(x));
  cJSON_AddNumberToObject(s, "dropped", (double)rd_dropped_reported(tr));
  /* A followed trace without its END record yet is being written: not a problem. */
  int writing = ctx->live && !strcmp(ctx->live, "following") && !rd_complete(tr);
  cJSON_AddBoolToObject(s, "writing", writing);
  if (rd_problem(tr) && !writing)
    cJSON_AddStringToObject(s, "problem", rd_problem(tr));
  else
    cJSON_AddNullToObject(s, "problem");
  cJSON_AddItemToArray(srcs, s);
  cJSON_AddNumberToObject(o, "t0", (double)vs_t0(x));
  cJSON_AddNumberToObject(o, "t1", (double)vs_t1(x));
  cJSON_AddNumberToObject(o, "events", (double)vs_events(x));
  cJSON_AddNumberToObject(o, "dropped", (double)rd_dropped_reported(tr));
  cJSON_AddNumberToObject(o, "index_bytes", (double)vs_file_bytes(x));
  cJSON *sc = cJSON_AddObjectToObject(o, "scale");
  cJSON_AddStringToObject(sc, "index", vs_index_path(x));
  cJSON_AddStringToObject(sc, "how", vs_how(x));
  cJSON_AddStringToObject(sc, "answers",
                          "/api/meta, /api/slices (threads and counters), /api/slice, "
                          "/api/analysis, /api/search");
  cJSON_AddBoolToObject(sc, "live", vs_live(x));
  if (ctx->live)
    rt__meta_live(o, ctx);
  cJSON *procs = cJSON_AddArrayToObject(o, "processes");
  cJSON *p = cJSON_CreateObject();
  cJSON_AddNumberToObject(p, "pid", rd_pid(tr));
  cJSON_AddStringToObject(p, "name", rd_process_name(tr) ? rd_process_name(tr) : "");
  cJSON_AddItemToArray(procs, p);
  cJSON *tracks = cJSON_AddArrayToObject(o, "tracks");
  for (size_t i = 0; i < vs_thread_count(x); i++) {
    vs_thread_facts f;
    if (vs_thread_info(x, i, &f) || f.kernel)
      continue;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)i);
    cJSON_AddStringToObject(j, "kind", "thread");
    cJSON_AddNumberToObject(j, "pid", rd_pid(tr));
    cJSON_AddStringToObject(j, "name", f.name[0] ? f.name : "thread");
    cJSON_AddNumberToObject(j, "sort", f.serial);
    cJSON_AddNumberToObject(j, "tid", f.tid);
    cJSON_AddNumberToObject(j, "depth", f.depth);
    cJSON_AddNumberToObject(j, "slices", (double)f.slices);
    cJSON_AddNumberToObject(j, "instants", (double)f.instants);
    cJSON_AddNumberToObject(j, "sched_runs", 0);
    cJSON_AddNumberToObject(j, "states", (double)f.states);
    cJSON_AddItemToArray(tracks, j);
  }
  rt__scale_counter_tracks(tracks, x, rd_pid(tr));
  rt__respond_json(r, 200, o);
}

/* Labels met in one answer, named once. */
#define NAMES 512
typedef struct emit_ctx {
  vs_index *x;
  rt_jw *w;
  int pid, tid;
  size_t track;
  uint64_t n; /* events written */
  uint32_t keys[NAMES];
  vs_label_facts *names; /* [NAMES] */
  unsigned char used[NAMES];
} emit_ctx;

static const vs_label_facts *name_of(emit_ctx *c, uint32_t key) {
  size_t h = (key * 2654435761u) % NAMES;
  for (size_t i = 0; i < NAMES; i++, h = (h + 1) % NAMES) {
    if (!c->used[h]) {
      c->used[h] = 1;
      c->keys[h] = key;
      vs_label(c->x, key, &c->names[h]);
      return &c->names[h];
    }
    if (c->keys[h] == key)
      return &c->names[h];
  }
  return &c->names[(key * 2654435761u) % NAMES]; /* (full: an answer of 512+ names) */
}

/* One event, as the full index's windows write it (docs/viewer-api.md),
 * straight into the text: a window holds tens of thousands. */
static void emit_item(void *arg, const vs_item *it) {
  emit_ctx *c = arg;
  rt_jw *w = c->w;
  const vs_label_facts *l = name_of(c, it->key);
  int inst = it->depth == VS_INSTANTS_DEPTH, state = it->depth == VS_STATES_DEPTH;
  rt__jw_lit(w, c->n++ ? ",{\"ph\":" : "{\"ph\":");
  rt__jw_lit(w, inst ? "\"i\",\"s\":\"t\"" : "\"X\"");
  rt__jw_lit(w, ",\"pid\":");
  rt__jw_u64(w, (uint64_t)c->pid);
  rt__jw_lit(w, ",\"tid\":");
  rt__jw_u64(w, (uint64_t)c->tid);
  rt__jw_lit(w, ",\"ts\":");
  rt__jw_us(w, it->start);
  if (!inst) {
    rt__jw_lit(w, ",\"dur\":");
    rt__jw_us(w, it->dur);
  }
  rt__jw_lit(w, ",\"name\":");
  rt__jw_str(w, l->name);
  rt__jw_lit(w, ",\"cat\":");
  rt__jw_str(w, l->cat);
  rt__jw_lit(w, inst ? ",\"args\":{\"id\":\"zi." : ",\"args\":{\"id\":\"z.");
  rt__jw_u64(w, c->track);
  if (!inst) {
    rt__jw_lit(w, ".");
    rt__jw_u64(w, it->depth);
  }
  rt__jw_lit(w, ".");
  rt__jw_u64(w, it->start);
  rt__jw_lit(w, "\",\"track\":");
  rt__jw_u64(w, c->track);
  if (state) { /* (the state band, as the full index's: lane "state", its CPU) */
    rt__jw_lit(w, ",\"lane\":\"state\"");
    if (l->cpu >= 0) {
      rt__jw_lit(w, ",\"cpu\":");
      rt__jw_u64(w, (uint64_t)l->cpu);
    }
  } else if (!inst) {
    rt__jw_lit(w, ",\"depth\":");
    rt__jw_u64(w, it->depth);
  }
  if (it->merged > 1) {
    rt__jw_lit(w, ",\"merged\":");
    rt__jw_u64(w, it->merged);
  }
  if (it->open)
    rt__jw_lit(w, ",\"open\":true");
  rt__jw_lit(w, "}}");
}

int rt__scale_wanted(const char *list, int has, size_t i) {
  if (has <= 0)
    return 1;
  char key[24];
  snprintf(key, sizeof key, "%zu", i);
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    if (n == strlen(key) && !strncmp(p, key, n))
      return 1;
    p += n + (p[n] == ',');
  }
  return 0;
}

void rt__scale_slices(const rt_context *ctx, const char *q, rt_response *r) {
  vs_index *x = ctx->scale;
  uint64_t t0, t1, px;
  if (rt__query_u64(q, "t0", vs_t0(x), &t0) || rt__query_u64(q, "t1", vs_t1(x), &t1) ||
      rt__query_u64(q, "px", 1000, &px)) {
    rt__respond_error(r, 400, "t0, t1 and px must be unsigned integers (ns, ns, pixels)");
    return;
  }
  if (t1 < t0 || px == 0 || px > MAX_PX) {
    rt__respond_error(r, 400, "need t0 <= t1 and 1 <= px <= 20000");
    return;
  }
  char list[4096];
  int has = rt__query_get(q, "tracks", list, sizeof list);
  if (has < 0) {
    rt__respond_error(r, 400, "tracks: a comma-separated list of track ids");
    return;
  }
  uint64_t bucket = (t1 - t0) / px ? (t1 - t0) / px : 1;
  rt_jw w = {0};
  emit_ctx c = {
      .x = x, .w = &w, .pid = rd_pid(vs_trace(x)), .names = calloc(NAMES, sizeof *c.names)};
  if (!c.names) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__jw_lit(&w, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
  for (size_t i = 0; i < vs_thread_count(x); i++) {
    vs_thread_facts f;
    if (vs_thread_info(x, i, &f) || f.kernel || !rt__scale_wanted(list, has, i))
      continue;
    c.tid = f.tid;
    c.track = i;
    int e = vs_window(x, i, t0, t1, bucket, emit_item, &c);
    if (e == CTRACE_ENOMEM) { /* (a batch that does not decode: what came before it is shown, and
                                 /api/meta's problem says why) */
      free(w.buf);
      free(c.names);
      char m[200];
      snprintf(m, sizeof m, "thread %zu: %s", i, ctrace_strerror(e));
      rt__respond_error(r, 500, m);
      return;
    }
  }
  rt__scale_counter_slices(x, t0, t1, bucket, list, has, &w, &c.n);
  rt_scale_flows fl;
  rt__scale_flows(ctx, &w, t0, t1, px, list, has, c.n, &fl);
  rt__jw_lit(&w, "],\"window\":{\"t0\":");
  rt__jw_u64(&w, t0);
  rt__jw_lit(&w, ",\"t1\":");
  rt__jw_u64(&w, t1);
  rt__jw_lit(&w, ",\"px\":");
  rt__jw_u64(&w, px);
  rt__jw_lit(&w, ",\"bucket_ns\":");
  rt__jw_u64(&w, bucket);
  rt__scale_flows_window(&w, &fl);
  rt__jw_lit(&w, "}}");
  free(c.names);
  rt__jw_respond(&w, r);
}

void rt__scale_slice(const rt_context *ctx, const char *q, rt_response *r) {
  vs_index *x = ctx->scale;
  char id[96];
  size_t track;
  unsigned depth;
  uint64_t start;
  if (rt__query_get(q, "id", id, sizeof id) <= 0 ||
      sscanf(id, "z.%zu.%u.%" SCNu64, &track, &depth, &start) != 3) {
    rt__respond_error(r, 400, "id: z.TRACK.DEPTH.START, as /api/slices gives");
    return;
  }
  vs_item it;
  vs_thread_facts f;
  if (vs_thread_info(x, track, &f) || vs_find(x, track, depth, start, &it)) {
    rt__respond_error(r, 404, "no such slice");
    return;
  }
  vs_label_facts l;
  vs_label(x, it.key, &l);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  if (depth == VS_STATES_DEPTH) { /* a state: as the full index's details of one */
    cJSON_AddStringToObject(o, "kind", "state");
    cJSON_AddStringToObject(o, "name", l.name);
    cJSON_AddStringToObject(o, "cat", "state");
    cJSON_AddNumberToObject(o, "pid", rd_pid(vs_trace(x)));
    cJSON_AddNumberToObject(o, "tid", f.tid);
    cJSON_AddStringToObject(o, "thread", f.name);
    cJSON_AddNumberToObject(o, "start", (double)it.start);
    cJSON_AddNumberToObject(o, "dur", (double)it.dur);
    cJSON_AddNullToObject(o, "site");
    cJSON *a = cJSON_AddObjectToObject(o, "args");
    if (l.cpu >= 0)
      cJSON_AddNumberToObject(a, "cpu", l.cpu);
    cJSON_AddStringToObject(a, "from", "context switches (perf_event_open), FILE.kernel");
    rt__respond_json(r, 200, o);
    return;
  }
  cJSON_AddStringToObject(o, "kind", "slice");
  cJSON_AddStringToObject(o, "name", l.name);
  cJSON_AddStringToObject(o, "cat", l.cat);
  cJSON_AddNumberToObject(o, "pid", rd_pid(vs_trace(x)));
  cJSON_AddNumberToObject(o, "tid", f.tid);
  cJSON_AddStringToObject(o, "thread", f.name);
  cJSON_AddNumberToObject(o, "start", (double)it.start);
  cJSON_AddNumberToObject(o, "dur", (double)it.dur);
  cJSON_AddNumberToObject(o, "depth", depth);
  cJSON_AddBoolToObject(o, "unfinished", it.open);
  if (l.file[0]) {
    cJSON_AddStringToObject(o, "file", l.file);
    cJSON_AddNumberToObject(o, "line", l.line);
    cJSON_AddStringToObject(o, "func", l.func);
  }
  rt__respond_json(r, 200, o);
}

/* /api/analysis through the scale index: the threads', regions', tasks',
 * blocking, syscalls' and window's parts of st_json (vs_compute_stats_analyses:
 * one pass over the window's batches), the other parts empty, and "scale"
 * saying which are computed. */
void rt__scale_analysis(const rt_context *ctx, const char *q, rt_response *r) {
  vs_index *x = ctx->scale;
  char thread[256], err[256];
  uint64_t top;
  st_sort_key key;
  st_options o;
  if (rt__analysis_query(q, vs_t0(x), vs_t1(x), &o, thread, sizeof thread, &top, &key, r))
    return;
  uint64_t w0 = vs_t0(x) + o.since, w1 = o.until ? vs_t0(x) + o.until : UINT64_MAX;
  vs_stats s;
  vs_analyses a;
  if (vs_compute_stats_analyses(x, w0, w1, o.thread, &s, &a, err, sizeof err)) {
    rt__respond_error(r, 500, err);
    return;
  }
  st_report rep;
  memset(&rep, 0, sizeof rep);
  vs_analyses_report(&a, &rep);
  rep.t0 = w0;
  rep.t1 = w1 < vs_t1(x) ? w1 : vs_t1(x);
  rep.trace_t0 = vs_t0(x);
  rep.trace_t1 = vs_t1(x);
  rep.windowed = o.since || o.until;
  rep.thread = o.thread;
  rep.events = vs_events(x);
  rep.regions = s.regions;
  rep.nregions = s.nregions;
  vs_analyses_fix_self(&a, rep.regions, rep.nregions);
  st_sort(&rep, key);
  cJSON *root = st_json(ctx->index, &rep, (size_t)top, key); /* (the empty index: no sources) */
  if (root) {
    cJSON *sc = cJSON_AddObjectToObject(root, "scale");
    cJSON_AddStringToObject(sc, "how", vs_how(x));
    cJSON_AddStringToObject(sc, "computed", "threads,regions,tasks,blocking,syscalls,window");
  }
  vs_stats_free(&s);
  vs_analyses_free(&a);
  if (!root) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__respond_json(r, 200, root);
}
