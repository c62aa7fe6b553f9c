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

typedef struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  rt_context *ctx;
  unsigned connections; /* open now */
  unsigned long requests;
} http_server;

/* Binds host:port (port 0 = any free port) and starts accepting.
 * @return 0 or a libuv error; *bound_port is the port in use. */
int http_listen(http_server *s, uv_loop_t *loop, rt_context *ctx, const char *host, int port,
                int *bound_port);

/* The response for one request, as bytes (status line, headers, body);
 * zstd: the body is zstd-encoded (for a stream: will be). */
char *http_render(const rt_response *resp, int head_only, int keep_alive, int zstd,
                  double handler_ms, size_t *len);

/* Feeds raw request bytes through the parser and the routes, the way a
 * connection does, without sockets (fuzz target, tests). Returns the
 * number of responses produced. */
int http_feed_for_test(rt_context *ctx, const char *data, size_t len);

#endif /* CTRACE_VIEWER_HTTP_H */
