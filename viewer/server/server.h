/* The tools' server (viewer/server): the viewer's HTTP server (libuv and
 * http-parser, http.c), its routes over the index (routes.c, and one
 * routes_*.c per group of endpoints), and the view itself, live or not
 * (server.c; live.c follows an LTTng live session, follow.c traces being
 * written). Its files share server_internal.h. */
#ifndef CTRACE_SERVER_H
#define CTRACE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "analysis.h"

/* ==== Routes ============================================================================ */

/* The viewer's HTTP routes: static files of web/ and the JSON API over the
 * index (docs/viewer-api.md). Handlers run on libuv's thread pool; they
 * only read the index, so any number may run at once. */

struct rt_pprof;

typedef struct rt_context {
  vx_index *index;
  char *const *paths; /* the traces being viewed */
  size_t npaths;
  const char *web_root; /* realpath of web/, or NULL if not found */
  /* Live view (ctrace view --follow or --lttng-live): the index is rebuilt
   * as events arrive; `generation` counts the rebuilds, `live` is
   * "following", "ended" or "failed: WHY" (NULL: not live). A request is
   * answered from a copy of this struct made when it arrived (http.c), so
   * the loop may swap the index meanwhile; `live` and `problem` point to
   * text that never changes once published. */
  const char *live;
  uint64_t generation;
  const char *live_mode;    /* "follow" (native files being written) or "lttng-live" */
  const char *live_problem; /* why the latest rebuild failed (the previous index is
                               still served), or NULL */
  /* Names the CPU samples' stacks for every request (the view's, kept for
   * as long as it serves: debug information is read once, and again only
   * for mappings a live trace adds); NULL: each request reads its own. */
  cp_symbols *symbols;
  /* ctrace view --pid: what /debug/pprof/ asks of the running process
   * (routes_pprof.c); NULL: those paths are 404. */
  const struct rt_pprof *pprof;
  /* A growing index (ctrace view --follow: vx_grow) changes in place under
   * this lock's write side: /api/ requests read the index under its read
   * side (http.c). NULL: the index never changes. */
  uv_rwlock_t *lock;
  /* A trace too big to index whole: its scale index (routes_scale.c
   * answers /api/meta, /api/slices and /api/slice; index is then empty). */
  vs_index *scale;
  /* ctrace view BASE --compare NEW: ctrace diff's report as JSON text
   * (/api/diff), or NULL. */
  char *diff_json;
} rt_context;

/* ---- /debug/pprof/: a running process's profiles (ctrace view --pid) ------------------ */

/* What the capture side (viewer/cli/view_pid.c: the control socket, perf)
 * offers the /debug/pprof/ routes. Every callback runs on a thread-pool
 * worker and may take as long as it was asked for (seconds); it returns 0,
 * or an HTTP status (400 a bad value, 409 busy, 502 the process failed,
 * 503 not allowed here) with a message in err. Thread-safe. */
typedef struct rt_pprof {
  void *arg;
  int pid;
  const char *cmdline; /* the process's arguments, each followed by a NUL */
  size_t cmdline_len;
  double max_seconds; /* the longest ?seconds= taken */
  unsigned cpu_hz;    /* the CPU profiles' samples per second of a thread's CPU time */
  /* CPU samples of the process's threads over the next `seconds`, added to
   * the FILE.kernel written into `kpath`; [*t0, *t1) the time they cover
   * (CLOCK_MONOTONIC ns). */
  int (*cpu)(void *arg, double seconds, uint64_t *t0, uint64_t *t1, char *kpath, size_t cap,
             char *err, size_t errlen);
  /* A trace of the next `seconds` (a finished ctrace file) into path. */
  int (*trace)(void *arg, double seconds, char *path, size_t cap, char *err, size_t errlen);
  /* Every file recorded since the view attached, into paths[0 .. *n) (at
   * most cap; malloc'd strings: free them). */
  int (*files)(void *arg, char **paths, size_t cap, size_t *n, char *err, size_t errlen);
  /* Every thread's stack now (ctrace stacks): debug 0 a gzipped pprof
   * (threads/count, Go's goroutine profile), else text; *body malloc'd. */
  int (*threads)(void *arg, int debug, char **body, size_t *len, char *err, size_t errlen);
} rt_pprof;

typedef struct rt_request {
  const char *method; /* "GET", "HEAD", ... */
  const char *path;   /* decoded path, without the query */
  const char *query;  /* raw query string (after '?'), or "" */
} rt_request;

typedef struct rt_response {
  int status;
  const char *content_type;
  char *body; /* malloc'd, or NULL */
  size_t len;
  const char *allow; /* for 405 */
  char headers[256]; /* more header lines, each ending in "\r\n" ("": none) */
  int cacheable;     /* static file: may be cached by the browser */
  /* Streamed body: called on a worker thread with a sink; NULL if body. */
  int (*stream)(const rt_context *ctx, const char *path, int (*sink)(void *, const char *, size_t),
                void *arg);
  const char *stream_path; /* what to stream */
  /* /api/events: the connection becomes a Server-Sent Events stream that
   * http.c keeps open and writes to when the live index changes. */
  int events;
} rt_response;

/* Fills resp for req. Never fails: errors become 4xx/5xx responses. */
void rt_handle(const rt_context *ctx, const rt_request *req, rt_response *resp);

/* The live view's state as one Server-Sent Event: "id: GENERATION",
 * "event: update" and JSON data {generation, state, mode, t0, t1, events,
 * tracks, sources}. malloc'd (length in *len), or NULL. Called on the loop
 * thread, which owns ctx. */
char *rt_live_event(const rt_context *ctx, size_t *len);

/* 1 if a source's problem only says it is still being written (no END
 * record yet, or its last record cut at the end of the file). */
int rt_still_writing(const vx_source *s);

/* Percent-decodes s (in place); 0, or -1 if malformed (bad %XX or NUL). */
int rt_url_decode(char *s);

/* ==== The HTTP server ==================================================================== */

/* HTTP/1.1 server of the viewer, on one libuv loop thread: requests parsed
 * with http-parser (keep-alive, pipelining), answers computed by routes.c
 * on the thread pool, bodies sent with Content-Length or chunked, zstd
 * encoded when the client accepts it. */

#define HTTP_MAX_HEADERS (16u << 10) /* bytes of request line + headers: else 431 */
#define HTTP_MAX_URL (8u << 10)      /* else 414 */
#define HTTP_MAX_BODY (64u << 10)    /* a GET has no business with more: else 413 */

#define HTTP_MAX_EVENT_CLIENTS 32u        /* /api/events streams open at once: beyond, 503 */
#define HTTP_EVENTS_HEARTBEAT_MS 15000    /* a comment line on every stream this often */
#define HTTP_EVENTS_RETRY_MS 2000         /* the reconnection delay suggested to clients */
#define HTTP_EVENTS_MAX_QUEUED (1u << 20) /* bytes unsent to a stream: beyond, it is dropped */

struct http_conn;
struct http_hold;

typedef struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  rt_context *ctx;
  unsigned connections; /* open now */
  unsigned long requests;
  /* /api/events streams (a list through their conns) and their heartbeat */
  struct http_conn *events;
  unsigned nevents;
  uv_timer_t heartbeat;
  unsigned heartbeat_ms;
  /* Indexes that requests in flight still read (the live view swaps in
   * new ones meanwhile): each freed after the last of them. */
  struct http_hold *holds;
} http_server;

/* Binds host:port (port 0 = any free port) and starts accepting.
 * @return 0 or a libuv error; *bound_port is the port in use. */
int http_listen(http_server *s, uv_loop_t *loop, rt_context *ctx, const char *host, int port,
                int *bound_port);

/* The live view has a new index (loop thread). Requests being answered
 * keep reading the one they started with, freed (vx_free) after the last
 * of them; new requests get `next`. The caller updates ctx's other fields
 * (generation, npaths, live) before, then calls http_notify(). */
void http_swap_index(http_server *s, vx_index *next);

/* Sends the live state (rt_live_event) to every /api/events stream. */
void http_notify(http_server *s);

/* The response for one request, as bytes (status line, headers, body);
 * zstd: the body is zstd-encoded (for a stream: will be). */
char *http_render(const rt_response *resp, int head_only, int keep_alive, int zstd,
                  double handler_ms, size_t *len);

/* Feeds raw request bytes through the parser and the routes, the way a
 * connection does, without sockets (fuzz target, tests). Returns the
 * number of responses produced. */
int http_feed_for_test(rt_context *ctx, const char *data, size_t len);

/* ==== The view ============================================================================ */

/* What `ctrace view` shows. */
typedef struct sv_options {
  char *const *paths; /* the traces (FILE.kernel beside FILE: the caller adds it), or
                             with follow, the files to follow as they appear */
  size_t npaths;
  const char *host;       /* address to listen on */
  int port;               /* 0: any free port */
  int follow;             /* the traces are being written: follow them */
  const char *lttng_live; /* or a live LTTng session's URL (net://...), alone */
  int run_fd;             /* `ctrace run --view`'s socket (the URL goes there), or -1 */
  const rt_pprof *pprof;  /* ctrace view --pid: /debug/pprof/ of the process (or NULL) */
  int scale;              /* 1: paths[0] alone through the scale index (analysis.h: vs_open) */
  char *const *compare;   /* --compare: the new traces (FILE.kernel added), beside paths */
  size_t ncompare;
  /* With follow: 1 (--index scale) a single ctrace file is followed through
   * a scale index kept in memory (analysis.h: vs_live_open); 0 (auto) once
   * it passes $CTRACE_SCALE_MIB (default 32) MiB; -1 (--index full) never. */
  int follow_scale;
} sv_options;

/* Indexes the traces, prints "timeline: URL" once serving, and serves the
 * timeline and the API until SIGINT or SIGTERM (or, for ctrace run --view,
 * until told the run is over and then stopped). @return the exit status: 0,
 * or 1 when a trace cannot be read or the port cannot be had (said on
 * stderr). */
int sv_view(const sv_options *o);

#endif /* CTRACE_SERVER_H */
