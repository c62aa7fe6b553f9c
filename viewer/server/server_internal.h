/* This file is private to the viewer's server (viewer/server): what its
 * files share. The routes (routes.c and one routes_*.c per endpoint group)
 * share the request helpers and each group's handler; the view (server.c,
 * live.c, follow.c) shares its state, the `view` struct. */
#ifndef CTRACE_VIEWER_SERVER_INTERNAL_H
#define CTRACE_VIEWER_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "read.h"
#include "server.h"

/* ==== Routes ============================================================================ */

/* ---- Request helpers (routes.c) ---------------------------------------------------------- */

/* cJSON's hooks: the per-request arena of handlers (installed once, on
 * whichever thread comes first; the once orders the setup before any use). */
void rt__install_hooks(void);

/* r becomes a `status` answer with obj printed as its body (500 if it
 * cannot be printed). Takes obj (freed, or released with the arena). */
void rt__respond_json(rt_response *r, int status, cJSON *obj);

/* r becomes a `status` answer {"status": status, "error": msg}. */
void rt__respond_error(rt_response *r, int status, const char *msg);

/* The value of key in a query string q, decoded ('+' is a space), into
 * buf. @return 1 if found, 0 if absent, -1 if malformed or longer than cap. */
int rt__query_get(const char *q, const char *key, char *buf, size_t cap);

/* An unsigned integer parameter, def if absent. @return 0, or -1 on a
 * malformed value. */
int rt__query_u64(const char *q, const char *key, uint64_t def, uint64_t *out);

/* ---- The endpoints: each fills r for its query q (errors are 4xx/5xx answers) ---------- */

/* /api/diff: ctrace diff's report of a comparison, or 404 (compare.c). */
void rt__api_diff(const rt_context *ctx, rt_response *r);

/* /api/why?id=: the critical path of a slice or a task (routes_why.c). */
void rt__api_why(const rt_context *ctx, const char *q, rt_response *r);

/* /api/meta: the traces, their sources, tracks and the live state (routes_meta.c). */
void rt__api_meta(const rt_context *ctx, rt_response *r);
/* o.live: the live view's state (ctx->live set). */
void rt__meta_live(cJSON *o, const rt_context *ctx);

/* /api/events: the connection becomes a Server-Sent Events stream; 404 if
 * the view is not live (routes_meta.c). */
void rt__api_events(const rt_context *ctx, rt_response *r);

/* /api/slices: a window of every track, level of detail per pixel
 * (routes_timeline.c). */
void rt__api_slices(const rt_context *ctx, const char *q, rt_response *r);

/* /api/search: the earliest slices whose names hold q (routes_timeline.c). */
void rt__api_search(const rt_context *ctx, const char *q, rt_response *r);

/* /api/slice?id=: the details of one slice, instant, task, state or
 * scheduler run (routes_details.c). */
void rt__api_slice(const rt_context *ctx, const char *q, rt_response *r);
/* json_fast.c: an answer's JSON text written as it goes, without cJSON
 * (rt__jw_*: raw text, a literal, an integer, a number, ns as microseconds with
 * nanosecond decimals (1234567 -> 1234.567), an escaped string), then
 * handed over as the answer (or a 500 if memory ran out). */
typedef struct rt_jw {
  char *buf;
  size_t len, cap;
  int failed;
} rt_jw;
void rt__jw_raw(rt_jw *w, const char *s, size_t n);
void rt__jw_lit(rt_jw *w, const char *s);
void rt__jw_u64(rt_jw *w, uint64_t v);
void rt__jw_us(rt_jw *w, uint64_t ns);
/* A number as routes_timeline.c's add_num writes it: an integer exactly,
 * else "%.17g" ("null" if not finite). */
void rt__jw_num(rt_jw *w, double v);
void rt__jw_str(rt_jw *w, const char *s);
void rt__jw_respond(rt_jw *w, rt_response *r);
/* routes_analysis.c: /api/analysis's query (t0, t1, top, thread, sort)
 * into o (thread: its buffer of cap bytes). @return 0, or -1 with a 400
 * answered. */
int rt__analysis_query(const char *q, uint64_t tx0, uint64_t tx1, st_options *o, char *thread,
                       size_t cap, uint64_t *top, st_sort_key *key, rt_response *r);
void rt__scale_analysis(const rt_context *ctx, const char *q, rt_response *r);
/* routes_scale.c: the same three of a trace opened with the scale index. */
void rt__scale_meta(const rt_context *ctx, rt_response *r);
void rt__scale_slices(const rt_context *ctx, const char *q, rt_response *r);
void rt__scale_slice(const rt_context *ctx, const char *q, rt_response *r);
/* routes_scale_search.c: /api/search through the scale index, and a
 * window's arrows: written into w's traceEvents (written: the events
 * before them), then their window fields (flows, flows_sent,
 * flows_truncated; flows_omitted when the window is too wide to decode). */
void rt__scale_search(const rt_context *ctx, const char *q, rt_response *r);
typedef struct rt_scale_flows {
  uint64_t in, sent, cost;
  uint64_t from, to; /* the range decoded (around the window) */
  int omitted, failed;
} rt_scale_flows;
void rt__scale_flows(const rt_context *ctx, rt_jw *w, uint64_t t0, uint64_t t1, uint64_t px,
                     const char *tracks, int has, uint64_t written, rt_scale_flows *out);
void rt__scale_flows_window(rt_jw *w, const rt_scale_flows *fl);
/* routes_scale_counter.c: the counters as /api/meta's tracks of kind
 * counter (ids after the threads'), and their "C" marks of a window, *n
 * the events written before (and counted on), for the tracks in list
 * (has: rt__query_get's answer). */
void rt__scale_counter_tracks(cJSON *tracks, vs_index *x, int pid);
void rt__scale_counter_slices(vs_index *x, uint64_t t0, uint64_t t1, uint64_t w, const char *list,
                              int has, rt_jw *jw, uint64_t *n);
/* Whether track i is in the tracks=ID,ID... list (has: the list was given). */
int rt__scale_wanted(const char *list, int has, size_t i);

/* /api/analysis: ctrace stats's report of a window (routes_analysis.c). */
void rt__api_analysis(const rt_context *ctx, const char *q, rt_response *r);

/* /api/pprof: a blocking profile of a window, gzipped pprof (routes_analysis.c). */
void rt__api_pprof(const rt_context *ctx, const char *q, rt_response *r);

/* /api/cpu: the CPU samples of a window as a top-down call tree (routes_cpu.c). */
void rt__api_cpu(const rt_context *ctx, const char *q, rt_response *r);

/* The CPU profile of the samples query q selects (t0, t1, thread or tid,
 * region, as /api/cpu takes them) into *p (cp_free it), named with
 * ctx->symbols. @return 0, or -1 with r answered (400 naming a bad
 * parameter, 404 without samples). */
int rt__cpu_profile(const rt_context *ctx, const char *q, cp_profile *p, rt_response *r);

/* The top-down call tree of p's stacks as /api/cpu's "root" (routes_cpu.c):
 * {"name", "file", "line", "inlined", "total", "self", "children"}, each
 * stack weighing `value` (RT_TREE_COUNT: its count; else a cp_stack.heap
 * index, rounded), with "objects" per node when `objects` is a heap index
 * (RT_TREE_NONE: none). NULL when out of memory. */
#define RT_TREE_COUNT (-1)
#define RT_TREE_NONE (-2)
cJSON *rt__call_tree_json(const cp_profile *p, int value, int objects);

/* /api/heap: the heap profile in use at an instant, or allocated in a
 * range, as a call tree in bytes (routes_heap.c). */
void rt__api_heap(const rt_context *ctx, const char *q, rt_response *r);

/* /api/source?fn=: a sampled function's source lines (and instructions)
 * with their samples (routes_source.c). */
void rt__api_source(const rt_context *ctx, const char *q, rt_response *r);

/* /api/slice's CPU samples (routes_samples.c): the details of sample i of
 * thread t (its stack, named), and a slice's on-CPU samples on t in
 * [start, start + dur) added to its details o as "cpu" (nothing when t has
 * no samples). */
void rt__sample_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r);
void rt__slice_cpu(cJSON *o, const rt_context *ctx, const vx_track *t, uint64_t start,
                   uint64_t dur);

/* /debug/pprof/...: Go's net/http/pprof paths over a running process's
 * providers (ctx->pprof; 404 without them) (routes_pprof.c). */
void rt__debug_pprof(const rt_context *ctx, const char *path, const char *q, rt_response *r);

/* The name of a thread state (VX_ST_*), "?" if unknown (routes_timeline.c;
 * the details use it too). */
const char *rt__state_name(int st);

/* ==== The view ============================================================================ */

/* --lttng-live URL (live.c): a thread follows the session (a set of one
 * live source, read.h) into a growing event log; every 250 ms, if it grew,
 * the index is rebuilt from it on the thread pool and swapped in on the
 * loop (where requests are served), so the timeline grows while the
 * program runs. */
typedef struct live {
  const char *url;
  uv_thread_t thread;
  uv_mutex_t mu;
  te_log *log; /* what arrived (appends and its count guarded by mu) */
  size_t len;  /* events in it (guarded by mu) */
  int done;    /* the session ended (or failed: err) */
  int rc;
  char err[1024];
  char state[1100]; /* "failed: WHY", written once before ctx.live points to it */
  int said;         /* the end was announced */
  size_t built_len; /* what the current index holds (loop thread) */
  int built_done;
  int busy; /* a rebuild is queued */
  uv_timer_t timer;
  uv_work_t work;
  vx_index *next;
  size_t next_len;
  int next_done;
  char next_err[1024];
} live;

/* --follow TRACE... (follow.c): native traces that are still being written. */
#define FOLLOW_MAX_FILES 256
#define FOLLOW_MAX_PROBLEMS 64

typedef struct follow {
  int on;
  char *const *bases; /* the TRACE arguments */
  size_t nbases;
  struct timespec *dir_mtime; /* per base: its directory when last scanned for children */
  /* What is followed, in the order found: the bases, FILE.kernel, children's
   * FILE.PID. Append-only (ctx.paths points here; an index built from the
   * first n serves them as its sources 0..n-1); the strings live to the end. */
  char *paths[FOLLOW_MAX_FILES];
  size_t npaths;
  int full_said;
  int64_t size[FOLLOW_MAX_FILES];  /* at the last poll (-1: gone) */
  int64_t tried[FOLLOW_MAX_FILES]; /* when the latest rebuild began */
  size_t tried_n;
  double start_real; /* CLOCK_REALTIME s when following began (children older are stale) */
  double grew_ms;    /* last time a file changed size */
  double next_ok_ms; /* no rebuild before (a rebuild takes at most half the time) */
  int busy;
  int ended;
  /* ctrace run --view: a socket to the launcher (--run-fd): the URL is
   * written to it once serving; "the run is over" (or EOF) comes back. */
  int run_fd;
  uv_pipe_t run_pipe;
  int run_open, run_over;
  char run_buf[64];
  uv_timer_t timer;
  uv_work_t work;
  vx_index *next;
  size_t next_n;
  double next_ms;
  char next_err[1024];
  /* The index grows (vx_grow) rather than being built again, while the
   * files allow (grow_whole: they do not, built whole from then on); its
   * index is served once grow_served, and grows under lock's write side
   * (ctx.lock). next_all: the update takes every batch (the files are
   * quiet or the run is over); all_done: the last one did, nothing since. */
  vx_grow *grow;
  int grow_whole, grow_served, next_all, next_rc, all_done;
  uv_rwlock_t lock;
  /* A single ctrace file is followed through a scale index kept in memory
   * (vs_live_*) once due (scale_want: sv_options.follow_scale): scale, once
   * made; served (ctx.scale) from scale_served on, when the full index is
   * let go; took_scale: the latest update was the scale index's. */
  int scale_want, scale_served, took_scale, kernel_said;
  vs_index *scale;
  /* Texts ctx.live_problem has pointed to (a request may still read one). */
  char *problems[FOLLOW_MAX_PROBLEMS];
  size_t nproblems;
} follow;

/* One `ctrace view` (server.c): one, static, per process. Its fields are
 * the loop thread's, except where live.c says otherwise. */
typedef struct view {
  uv_loop_t *loop;
  char *const *paths;
  size_t npaths;
  const char *host;
  int port;
  char err[1024];
  double build_ms;
  vx_index *first; /* the first index (built before listening) */
  int scale;       /* sv_options.scale */
  size_t nbase;    /* --compare: paths[0..nbase) the base, the rest the new traces (0: none) */
  rt_context ctx;
  http_server http;
  uv_work_t work;
  uv_signal_t sigint, sigterm;
  int status;
  live lv;
  follow fw;
} view;

/* ---- server.c ------------------------------------------------------------------------------ */

/* CLOCK_MONOTONIC in milliseconds. */
double sv__now_ms(void);

/* A new index (loop thread): served from now on (npaths of ctx.paths),
 * pushed to the page. */
void sv__swap_in(view *v, vx_index *next, size_t npaths);

/* ctx.live becomes state (text that never changes), pushed to the page. */
void sv__set_state(view *v, const char *state);

/* ---- compare.c: ctrace view BASE --compare NEW --------------------------------------------- */

/* The first index of a comparison (v->first: both sets, aligned at their
 * starts) and the diff's JSON (ctx.diff_json). @return 0, or -1 with v->err. */
int sv__compare_build(view *v);

/* ---- live.c: --lttng-live ------------------------------------------------------------------ */

/* The log begins with the live source, so that even an empty view says
 * what it follows. @return 0, or -1 when out of memory. */
int sv__live_log(live *l);

/* Once serving: starts the thread that follows the session and the timer
 * that rebuilds the index (on failure: says so and stops the loop). */
void sv__live_start(view *v);

/* ---- follow.c: --follow, and ctrace run --view's socket -------------------------------------- */

/* Sets up following o's paths: what exists of them now (more as they
 * appear). @return 0, or -1 when out of memory. */
int sv__follow_init(view *v, const sv_options *o);

/* The first index was built from the files found so far: they are what
 * was tried (and v->err, if set, why it failed). */
void sv__follow_first(view *v);
/* The first index of a followed trace that is due a scale index (thread
 * pool, before serving): made and grown into ctx.scale, v->first empty.
 * @return 1 if so, 0 if the full index is to be built. */
int sv__follow_scale_first(view *v);

/* Once serving at url: polls the files, rebuilds the index as they grow,
 * and tells ctrace run --view (run_fd) the URL. */
void sv__follow_start(view *v, const char *url);

#endif /* CTRACE_VIEWER_SERVER_INTERNAL_H */
