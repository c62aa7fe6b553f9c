/* The viewer's HTTP routes: static files of web/ and the JSON API over the
 * index (docs/viewer-api.md). Handlers run on libuv's thread pool; they
 * only read the index, so any number may run at once. */
#ifndef CTRACE_VIEWER_ROUTES_H
#define CTRACE_VIEWER_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"

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
  const char *live_mode; /* "follow" (native files being written) or "lttng-live" */
  const char *live_problem; /* why the latest rebuild failed (the previous index is
                               still served), or NULL */
} rt_context;

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
  int cacheable;     /* static file: may be cached by the browser */
  /* Streamed body: called on a worker thread with a sink; NULL if body. */
  int (*stream)(const rt_context *ctx, const char *path,
                int (*sink)(void *, const char *, size_t), void *arg);
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

#endif /* CTRACE_VIEWER_ROUTES_H */
