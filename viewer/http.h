/* HTTP/1.1 server of the viewer, on one libuv loop thread: requests parsed
 * with http-parser (keep-alive, pipelining), answers computed by routes.c
 * on the thread pool, bodies sent with Content-Length or chunked, zstd
 * encoded when the client accepts it. */
#ifndef CTRACE_VIEWER_HTTP_H
#define CTRACE_VIEWER_HTTP_H

#include <uv.h>

#include "routes.h"

#define HTTP_MAX_HEADERS (16u << 10) /* bytes of request line + headers: else 431 */
#define HTTP_MAX_URL (8u << 10)      /* else 414 */
#define HTTP_MAX_BODY (64u << 10)    /* a GET has no business with more: else 413 */

#define HTTP_MAX_EVENT_CLIENTS 32u     /* /api/events streams open at once: beyond, 503 */
#define HTTP_EVENTS_HEARTBEAT_MS 15000 /* a comment line on every stream this often */
#define HTTP_EVENTS_RETRY_MS 2000      /* the reconnection delay suggested to clients */
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

#endif /* CTRACE_VIEWER_HTTP_H */
