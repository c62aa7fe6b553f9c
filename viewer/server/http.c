/* HTTP/1.1 over libuv: see server.h.
 *
 * A connection reads, parses one request (http-parser is paused at the end
 * of each message, so pipelined requests wait their turn), stops reading,
 * computes the answer on the thread pool, writes it, and then goes on with
 * the next request if the connection is kept alive. A streamed answer
 * (/api/trace.json) is produced by a pool thread into a socketpair, already
 * framed as chunks (and zstd compressed); the loop copies it to the client
 * one write at a time, so a slow client slows the producer, and a client
 * that goes away makes its next write fail (EPIPE) and it stops.
 *
 * A request is answered from a copy of the context made when it arrived,
 * holding the index it names: the live view swaps in new indexes on the
 * loop (http_swap_index) while older ones are still read, and frees each
 * after its last reader.
 *
 * /api/events (Server-Sent Events): the headers, a retry hint and the
 * current state are written, then the connection stays open without a
 * length (the body ends when it closes); http_notify() writes an event to
 * every such stream from the loop, a timer writes a comment line now and
 * then so that proxies and clients see it alive, and what the client sends
 * is read only to notice that it went away. At most HTTP_MAX_EVENT_CLIENTS
 * at once: beyond, 503. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <zstd.h>

#include "ctrace/ctrace.h"
#include "common.h"
#include "server.h"

/* ---- Request parsing (no I/O) -------------------------------------------------------- */

enum { H_NONE, H_ACCEPT_ENCODING, H_CONNECTION };

typedef struct req_parser {
  http_parser p;
  char url[HTTP_MAX_URL + 1];
  size_t url_len;
  char field[32];
  size_t field_len;
  int field_long;
  int cur;
  char ae[256];
  size_t ae_len;
  size_t header_bytes, body_bytes;
  int error_status; /* set by a callback that stopped the parser */
  int complete;
} req_parser;

static int on_message_begin(http_parser *p) {
  req_parser *rp = p->data;
  rp->url_len = 0;
  rp->field_len = 0;
  rp->field_long = 0;
  rp->cur = H_NONE;
  rp->ae_len = 0;
  rp->header_bytes = 0;
  rp->body_bytes = 0;
  rp->complete = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  req_parser *rp = p->data;
  if (rp->url_len + n > HTTP_MAX_URL) {
    rp->error_status = 414;
    return 1;
  }
  memcpy(rp->url + rp->url_len, at, n);
  rp->url_len += n;
  rp->header_bytes += n;
  return 0;
}

static int count_header(req_parser *rp, size_t n) {
  rp->header_bytes += n;
  if (rp->header_bytes > HTTP_MAX_HEADERS) {
    rp->error_status = 431;
    return 1;
  }
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  req_parser *rp = p->data;
  if (count_header(rp, n))
    return 1;
  if (rp->cur != -1) { /* a new field begins (after a value) */
    rp->field_len = 0;
    rp->field_long = 0;
  }
  rp->cur = -1; /* in a field name */
  if (rp->field_len + n >= sizeof rp->field)
    rp->field_long = 1;
  else {
    memcpy(rp->field + rp->field_len, at, n);
    rp->field_len += n;
  }
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  req_parser *rp = p->data;
  if (count_header(rp, n))
    return 1;
  if (rp->cur == -1) { /* first piece of this value: which header is it? */
    rp->field[rp->field_len] = '\0';
    rp->cur = H_NONE;
    if (!rp->field_long && !strcasecmp(rp->field, "accept-encoding"))
      rp->cur = H_ACCEPT_ENCODING;
  }
  if (rp->cur == H_ACCEPT_ENCODING) {
    size_t room = sizeof rp->ae - 1 - rp->ae_len;
    size_t k = n < room ? n : room;
    memcpy(rp->ae + rp->ae_len, at, k);
    rp->ae_len += k;
    rp->ae[rp->ae_len] = '\0';
  }
  return 0;
}

static int on_headers_complete(http_parser *p) {
  req_parser *rp = p->data;
  if (p->content_length != ULLONG_MAX && p->content_length > HTTP_MAX_BODY) {
    rp->error_status = 413;
    return -1; /* an error: 1 and 2 would mean "no body" to http-parser */
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t n) {
  (void)at;
  req_parser *rp = p->data;
  rp->body_bytes += n;
  if (rp->body_bytes > HTTP_MAX_BODY) {
    rp->error_status = 413;
    return 1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  req_parser *rp = p->data;
  rp->complete = 1;
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void rp_init(req_parser *rp) {
  memset(rp, 0, sizeof *rp);
  http_parser_init(&rp->p, HTTP_REQUEST);
  rp->p.data = rp;
}

/* Parses data; *used is set to the bytes consumed. @return 1 when a whole
 * request is ready, 0 when more bytes are needed, or an HTTP error status. */
static int rp_execute(req_parser *rp, const char *data, size_t len, size_t *used) {
  if (HTTP_PARSER_ERRNO(&rp->p) == HPE_PAUSED)
    http_parser_pause(&rp->p, 0);
  *used = http_parser_execute(&rp->p, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&rp->p);
  if (rp->complete && (e == HPE_PAUSED || e == HPE_OK)) {
    rp->complete = 0;
    return 1;
  }
  if (e == HPE_OK || e == HPE_PAUSED)
    return 0;
  if (rp->error_status)
    return rp->error_status;
  if (e == HPE_HEADER_OVERFLOW)
    return 431;
  return 400;
}

/* Accept-Encoding lists zstd with a non-zero q. */
static int accepts_zstd(const char *ae) {
  for (const char *p = ae; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    size_t n = strcspn(p, ",");
    if (n >= 4 && !strncasecmp(p, "zstd", 4) && (n == 4 || p[4] == ';' || p[4] == ' ')) {
      const char *q = memmem(p, n, "q=", 2);
      return !q || strtod(q + 2, NULL) > 0;
    }
    p += n;
  }
  return 0;
}

/* The request's method, path (decoded) and query. 0, or 400. */
static int rp_request(req_parser *rp, rt_request *req, char *path, size_t cap) {
  rp->url[rp->url_len] = '\0';
  req->method = http_method_str((enum http_method)rp->p.method);
  char *q = strchr(rp->url, '?');
  size_t pl = q ? (size_t)(q - rp->url) : rp->url_len;
  if (pl >= cap)
    return 414;
  memcpy(path, rp->url, pl);
  path[pl] = '\0';
  req->query = q ? q + 1 : "";
  /* An absolute-form URL ("http://host/path") is allowed by HTTP/1.1. */
  if (!strncasecmp(path, "http://", 7)) {
    char *slash = strchr(path + 7, '/');
    memmove(path, slash ? slash : "/", strlen(slash ? slash : "/") + 1);
  }
  if (path[0] != '/' || rt_url_decode(path) != 0)
    return 400;
  req->path = path;
  return 0;
}

/* ---- Responses ----------------------------------------------------------------------- */

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Error";
  }
}

static int compressible(const char *type) {
  return type && (strstr(type, "json") || strstr(type, "text/") || strstr(type, "svg"));
}

/* Replaces the body by its zstd encoding when the client accepts it and it
 * is worth it; returns 1 if it did. */
static int encode_body(rt_response *resp, int accept_zstd) {
  if (!accept_zstd || resp->stream || !resp->body || resp->len < 1024 ||
      !compressible(resp->content_type))
    return 0;
  size_t bound = ZSTD_compressBound(resp->len);
  char *z = malloc(bound);
  size_t n = z ? ZSTD_compress(z, bound, resp->body, resp->len, 1) : 0;
  if (!z || ZSTD_isError(n) || n >= resp->len) {
    free(z);
    return 0;
  }
  free(resp->body);
  resp->body = z;
  resp->len = n;
  return 1;
}

char *http_render(const rt_response *resp, int head_only, int keep_alive, int zstd,
                  double handler_ms, size_t *len) {
  const char *body = resp->body;
  size_t blen = resp->body ? resp->len : 0;
  char head[1024];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\n"
                    "Server: ctrace/%s\r\n"
                    "Content-Type: %s\r\n"
                    "Cache-Control: %s\r\n"
                    "Vary: Accept-Encoding\r\n"
                    "X-Content-Type-Options: nosniff\r\n"
                    "Server-Timing: handler;dur=%.3f\r\n"
                    "Connection: %s\r\n",
                    resp->status, reason(resp->status), ctrace_version(),
                    resp->content_type ? resp->content_type : "application/octet-stream",
                    resp->cacheable ? "no-cache" : "no-store", handler_ms,
                    keep_alive ? "keep-alive" : "close");
  if (zstd)
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Encoding: zstd\r\n");
  if (resp->allow)
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Allow: %s\r\n", resp->allow);
  if (resp->headers[0])
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "%s", resp->headers);
  if (resp->stream)
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Transfer-Encoding: chunked\r\n\r\n");
  else
    hl += snprintf(head + hl, sizeof head - (size_t)hl, "Content-Length: %zu\r\n\r\n", blen);
  size_t total = (size_t)hl + (head_only || resp->stream ? 0 : blen);
  char *out = malloc(total);
  if (out) {
    memcpy(out, head, (size_t)hl);
    if (!head_only && !resp->stream && blen)
      memcpy(out + hl, body, blen);
    *len = total;
  }
  return out;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- Connections ----------------------------------------------------------------------- */

typedef struct http_conn conn;
struct http_conn {
  uv_tcp_t tcp;
  http_server *srv;
  req_parser rp;
  char *in;
  size_t in_len, in_off, in_cap;
  int refs;    /* the handle, plus work in flight, plus the stream pipe */
  int closing; /* the client is gone or we are closing */
  int busy;    /* a request is being answered */
  int keep_alive, head_only, accept_zstd;
  char path[HTTP_MAX_URL + 1];
  rt_request req;
  rt_response resp;
  double handler_ms;
  uv_work_t work;
  char *out;
  uv_write_t wr;
  /* streaming */
  int sv[2];
  uv_pipe_t pipe;
  uv_work_t stream_work;
  /* Set by the producer before it closes its end of the socketpair, read
   * by the loop at EOF: the close orders them, atomics tell TSan so. */
  _Atomic int stream_status;
  char *chunk;
  size_t out_len; /* bytes rendered by work_run */
  int pipe_open;
  uv_shutdown_t shut;
  uv_timer_t linger;
  /* the request's view of the context (its index held until answered) */
  rt_context snap;
  vx_index *held;
  /* an /api/events stream: in srv->events */
  int events;
  conn *ev_prev, *ev_next;
};

/* ---- Indexes held by requests ------------------------------------------------------------ */

typedef struct http_hold {
  vx_index *index;
  unsigned refs;
  struct http_hold *next;
} http_hold;

static void index_hold(conn *c) {
  http_server *s = c->srv;
  vx_index *x = s->ctx->index;
  http_hold *h = s->holds;
  while (h && h->index != x)
    h = h->next;
  if (!h) {
    if (!(h = calloc(1, sizeof *h))) {
      c->held = NULL; /* (out of memory: not held; only a swap meanwhile would matter) */
      return;
    }
    h->index = x;
    h->next = s->holds;
    s->holds = h;
  }
  h->refs++;
  c->held = x;
}

static void index_release(conn *c) {
  http_server *s = c->srv;
  vx_index *x = c->held;
  if (!x)
    return;
  c->held = NULL;
  for (http_hold **p = &s->holds; *p; p = &(*p)->next) {
    http_hold *h = *p;
    if (h->index != x)
      continue;
    if (--h->refs == 0) {
      *p = h->next;
      free(h);
      if (x != s->ctx->index)
        vx_free(x); /* swapped out meanwhile: this was its last reader */
    }
    return;
  }
}

void http_swap_index(http_server *s, vx_index *next) {
  vx_index *old = s->ctx->index;
  s->ctx->index = next;
  if (!old || old == next)
    return;
  for (http_hold *h = s->holds; h; h = h->next)
    if (h->index == old)
      return; /* freed by its last reader */
  vx_free(old);
}

static void conn_unref(conn *c);
static void conn_continue(conn *c);

static void on_close(uv_handle_t *h) { conn_unref(h->data); }

static void events_unlink(conn *c);

static void conn_unref(conn *c) {
  if (--c->refs > 0)
    return;
  index_release(c);
  events_unlink(c);
  c->srv->connections--;
  free(c->in);
  free(c->out);
  free(c->chunk);
  free(c->resp.body);
  free(c);
}

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  events_unlink(c);
  if (c->pipe_open) {
    c->pipe_open = 0;
    uv_close((uv_handle_t *)&c->pipe, on_close); /* the producer then fails on EPIPE */
  }
  uv_close((uv_handle_t *)&c->tcp, on_close);
}

/* Lingering close: after the last answer, stop sending (FIN), and read and
 * drop what the client still sends for up to 2 s, so that closing with
 * unread input does not reset the connection (and destroy the answer) before
 * the client has read it. */
static void linger_timeout(uv_timer_t *t) {
  conn *c = t->data;
  uv_close((uv_handle_t *)t, on_close);
  conn_close(c);
}

static void linger_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  static char sink[16384]; /* loop thread only */
  (void)h;
  *b = uv_buf_init(sink, sizeof sink);
}

static void linger_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0) {
    conn *c = st->data;
    uv_timer_stop(&c->linger);
    linger_timeout(&c->linger);
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn *c = req->data;
  if (status < 0 || c->closing) {
    conn_close(c);
  } else {
    uv_timer_init(c->srv->loop, &c->linger);
    c->linger.data = c;
    c->refs++;
    uv_timer_start(&c->linger, linger_timeout, 2000, 0);
    uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, linger_read);
  }
  conn_unref(c);
}

static void conn_finish(conn *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->shut.data = c;
  c->refs++;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    conn_close(c);
    conn_unref(c);
  }
}

static void on_written(uv_write_t *w, int status) {
  conn *c = w->data;
  free(c->out);
  c->out = NULL;
  free(c->resp.body);
  c->resp.body = NULL;
  if (status < 0 || c->closing) {
    conn_close(c);
    conn_unref(c);
    return;
  }
  c->busy = 0;
  if (!c->keep_alive)
    conn_finish(c);
  else
    conn_continue(c);
  conn_unref(c);
}

static void send_bytes(conn *c, char *bytes, size_t len) {
  c->out = bytes;
  uv_buf_t b = uv_buf_init(bytes, (unsigned)len);
  c->wr.data = c;
  c->refs++;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
    c->out = NULL;
    free(bytes);
    conn_close(c);
    conn_unref(c);
  }
}

/* An error found by the parser (or a refusal): answer it and close. */
static void send_error_msg(conn *c, int status, const char *msg) {
  rt_response r;
  memset(&r, 0, sizeof r);
  char body[256];
  snprintf(body, sizeof body, "{\"status\":%d,\"error\":\"%s\"}", status, msg);
  r.status = status;
  r.content_type = "application/json";
  r.body = strdup(body);
  r.len = strlen(body);
  c->keep_alive = 0;
  c->busy = 1;
  size_t len;
  char *out = http_render(&r, 0, 0, 0, 0, &len);
  free(r.body);
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (out)
    send_bytes(c, out, len);
  else
    conn_close(c);
}

static void send_error(conn *c, int status) { send_error_msg(c, status, reason(status)); }

/* ---- Streamed answers ------------------------------------------------------------------- */

typedef struct stream_sink {
  int fd;
  ZSTD_CCtx *z;
  char *zbuf;
  size_t zcap;
} stream_sink;

static int write_chunk(int fd, const char *p, size_t n) {
  if (!n)
    return 0;
  char head[24];
  int hl = snprintf(head, sizeof head, "%zx\r\n", n);
  int r = ctrace__write_all(fd, head, (size_t)hl);
  if (!r)
    r = ctrace__write_all(fd, p, n);
  if (!r)
    r = ctrace__write_all(fd, "\r\n", 2);
  return r;
}

static int zstd_push(stream_sink *s, const char *p, size_t n, ZSTD_EndDirective end) {
  ZSTD_inBuffer in = {p, n, 0};
  for (;;) {
    ZSTD_outBuffer out = {s->zbuf, s->zcap, 0};
    size_t left = ZSTD_compressStream2(s->z, &out, &in, end);
    if (ZSTD_isError(left))
      return CTRACE_ECOMPRESS;
    int r = write_chunk(s->fd, s->zbuf, out.pos);
    if (r)
      return r;
    if (end == ZSTD_e_continue ? in.pos == in.size : left == 0)
      return 0;
  }
}

static int sink_write(void *arg, const char *p, size_t n) {
  stream_sink *s = arg;
  return s->z ? zstd_push(s, p, n, ZSTD_e_continue) : write_chunk(s->fd, p, n);
}

static void stream_run(uv_work_t *w) {
  conn *c = w->data;
  stream_sink s = {c->sv[1], NULL, NULL, 0};
  if (c->accept_zstd) {
    s.z = ZSTD_createCCtx();
    s.zcap = ZSTD_CStreamOutSize();
    s.zbuf = malloc(s.zcap);
    if (s.z)
      ZSTD_CCtx_setParameter(s.z, ZSTD_c_compressionLevel, 1);
  }
  int r = (c->accept_zstd && (!s.z || !s.zbuf))
              ? CTRACE_ENOMEM
              : c->resp.stream(&c->snap, c->resp.stream_path, sink_write, &s);
  if (!r && s.z)
    r = zstd_push(&s, NULL, 0, ZSTD_e_end);
  if (!r)
    r = ctrace__write_all(s.fd, "0\r\n\r\n", 5);
  atomic_store_explicit(&c->stream_status, r, memory_order_release);
  close(c->sv[1]); /* EOF for the loop */
  ZSTD_freeCCtx(s.z);
  free(s.zbuf);
}

static void stream_done(uv_work_t *w, int status) {
  (void)status;
  conn_unref(w->data);
}

static void pipe_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  conn *c = h->data;
  if (!c->chunk)
    c->chunk = malloc(1 << 16);
  *b = uv_buf_init(c->chunk, c->chunk ? 1 << 16 : 0);
}

static void pipe_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void stream_written(uv_write_t *w, int status) {
  conn *c = w->data;
  if (status < 0 || c->closing) {
    conn_close(c);
  } else if (c->pipe_open) {
    uv_read_start((uv_stream_t *)&c->pipe, pipe_alloc, pipe_read);
  }
  conn_unref(c);
}

static void pipe_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  conn *c = st->data;
  if (n == 0)
    return;
  if (n < 0) { /* the producer is done: the whole answer has been sent */
    c->pipe_open = 0;
    uv_close((uv_handle_t *)&c->pipe, on_close);
    c->busy = 0;
    if (atomic_load_explicit(&c->stream_status, memory_order_acquire))
      conn_close(c);
    else if (!c->keep_alive)
      conn_finish(c);
    else
      conn_continue(c);
    return;
  }
  /* One write in flight at a time: the producer waits on a full pipe. */
  uv_read_stop(st);
  uv_buf_t out = uv_buf_init(c->chunk, (unsigned)n);
  c->wr.data = c;
  c->refs++;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &out, 1, stream_written) < 0) {
    conn_close(c);
    conn_unref(c);
  }
}

static void start_stream(conn *c) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c->sv) != 0 ||
      uv_pipe_init(c->srv->loop, &c->pipe, 0) != 0) {
    conn_close(c);
    return;
  }
  c->pipe.data = c;
  uv_pipe_open(&c->pipe, c->sv[0]);
  c->pipe_open = 1;
  c->refs++; /* the pipe handle */
  c->stream_work.data = c;
  c->refs++; /* the producer */
  if (uv_queue_work(c->srv->loop, &c->stream_work, stream_run, stream_done) != 0) {
    close(c->sv[1]);
    c->refs--;
  }
  uv_read_start((uv_stream_t *)&c->pipe, pipe_alloc, pipe_read);
}

/* ---- /api/events: Server-Sent Events ------------------------------------------------------ */

typedef struct ev_write {
  uv_write_t req;
  conn *c;
  char data[];
} ev_write;

static void events_unlink(conn *c) {
  if (!c->events)
    return;
  c->events = 0;
  http_server *s = c->srv;
  if (c->ev_prev)
    c->ev_prev->ev_next = c->ev_next;
  else
    s->events = c->ev_next;
  if (c->ev_next)
    c->ev_next->ev_prev = c->ev_prev;
  c->ev_prev = c->ev_next = NULL;
  if (--s->nevents == 0)
    uv_timer_stop(&s->heartbeat);
}

static void ev_written(uv_write_t *req, int status) {
  ev_write *w = (ev_write *)req;
  conn *c = w->c;
  free(w);
  if (status < 0)
    conn_close(c); /* the client is gone */
  conn_unref(c);
}

/* Queues bytes on a stream; a client that reads nothing while events pile
 * up is dropped rather than buffered without end. */
static void events_write(conn *c, const char *p, size_t n) {
  if (c->closing)
    return;
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > HTTP_EVENTS_MAX_QUEUED) {
    conn_close(c);
    return;
  }
  ev_write *w = malloc(sizeof *w + n);
  if (!w) {
    conn_close(c);
    return;
  }
  memcpy(w->data, p, n);
  w->c = c;
  c->refs++;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, ev_written) < 0) {
    free(w);
    conn_close(c);
    conn_unref(c);
  }
}

/* What the client sends on a stream is dropped; EOF or an error means it
 * went away. */
static void events_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n < 0)
    conn_close(st->data);
}

static void heartbeat(uv_timer_t *t) {
  http_server *s = t->data;
  for (conn *c = s->events, *next; c; c = next) {
    next = c->ev_next; /* (a failed write unlinks c) */
    events_write(c, ": keep-alive\n\n", 14);
  }
}

static void events_start(conn *c) {
  http_server *s = c->srv;
  if (s->nevents >= HTTP_MAX_EVENT_CLIENTS) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "too many /api/events streams open (%u): close one, or poll /api/meta",
             HTTP_MAX_EVENT_CLIENTS);
    send_error_msg(c, 503, msg);
    return;
  }
  size_t elen = 0;
  if (s->ctx->lock)
    uv_rwlock_rdlock(s->ctx->lock);
  char *ev = rt_live_event(s->ctx, &elen);
  if (s->ctx->lock)
    uv_rwlock_rdunlock(s->ctx->lock);
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "HTTP/1.1 200 OK\r\n"
                    "Server: ctrace/%s\r\n"
                    "Content-Type: text/event-stream\r\n"
                    "Cache-Control: no-store\r\n"
                    "X-Content-Type-Options: nosniff\r\n"
                    "X-Accel-Buffering: no\r\n"
                    "Connection: close\r\n\r\n"
                    "retry: %d\n\n",
                    ctrace_version(), HTTP_EVENTS_RETRY_MS);
  c->events = 1;
  c->ev_prev = NULL;
  c->ev_next = s->events;
  if (s->events)
    s->events->ev_prev = c;
  s->events = c;
  if (s->nevents++ == 0)
    uv_timer_start(&s->heartbeat, heartbeat, s->heartbeat_ms, s->heartbeat_ms);
  events_write(c, head, (size_t)hl);
  if (ev)
    events_write(c, ev, elen);
  free(ev);
  if (!c->closing)
    uv_read_start((uv_stream_t *)&c->tcp, linger_alloc, events_read);
}

void http_notify(http_server *s) {
  if (!s->events)
    return;
  size_t len = 0;
  if (s->ctx->lock)
    uv_rwlock_rdlock(s->ctx->lock);
  char *ev = rt_live_event(s->ctx, &len);
  if (s->ctx->lock)
    uv_rwlock_rdunlock(s->ctx->lock);
  if (!ev)
    return;
  for (conn *c = s->events, *next; c; c = next) {
    next = c->ev_next;
    events_write(c, ev, len);
  }
  free(ev);
}

/* ---- Answering a request ------------------------------------------------------------------ */

static void work_run(uv_work_t *w) {
  conn *c = w->data;
  double t = now_ms();
  /* A growing index is read while it does not grow: the API's requests
   * (files and /debug/pprof/, which may take seconds, do not read it). */
  uv_rwlock_t *lock = c->snap.lock && !strncmp(c->req.path, "/api/", 5) ? c->snap.lock : NULL;
  if (lock)
    uv_rwlock_rdlock(lock);
  rt_handle(&c->snap, &c->req, &c->resp);
  if (lock)
    uv_rwlock_rdunlock(lock);
  /* Server-Timing covers the answer and its encoding. */
  int zstd = c->resp.stream ? c->accept_zstd : encode_body(&c->resp, c->accept_zstd);
  c->handler_ms = now_ms() - t;
  size_t len = 0;
  c->out = http_render(&c->resp, c->head_only, c->keep_alive, zstd, c->handler_ms, &len);
  c->out_len = len;
}

static void stream_headers_written(uv_write_t *w, int status) {
  conn *c = w->data;
  free(c->out);
  c->out = NULL;
  if (status < 0 || c->closing)
    conn_close(c);
  else
    start_stream(c);
  conn_unref(c);
}

static void events_start(conn *c);

static void work_done(uv_work_t *w, int status) {
  conn *c = w->data;
  c->srv->requests++;
  index_release(c); /* (a stream reads files by name, not the index) */
  if (status >= 0 && !c->closing && c->out && c->resp.events && !c->head_only) {
    free(c->out);
    c->out = NULL;
    events_start(c);
    conn_unref(c);
    return;
  }
  if (status < 0 || c->closing || !c->out) {
    free(c->out);
    c->out = NULL;
    conn_close(c);
    conn_unref(c);
    return;
  }
  char *out = c->out;
  c->out = NULL;
  if (c->resp.stream && !c->head_only) {
    /* Headers first; the body follows from the producer once they are out. */
    c->out = out;
    uv_buf_t b = uv_buf_init(out, (unsigned)c->out_len);
    c->wr.data = c;
    c->refs++;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, stream_headers_written) < 0) {
      conn_close(c);
      conn_unref(c);
    }
    conn_unref(c);
    return;
  }
  send_bytes(c, out, c->out_len);
  conn_unref(c);
}

static void dispatch(conn *c) {
  int st = rp_request(&c->rp, &c->req, c->path, sizeof c->path);
  if (st) {
    send_error(c, st);
    return;
  }
  c->busy = 1;
  c->keep_alive = http_should_keep_alive(&c->rp.p);
  c->head_only = c->rp.p.method == HTTP_HEAD;
  c->accept_zstd = accepts_zstd(c->rp.ae);
  free(c->resp.body);
  memset(&c->resp, 0, sizeof c->resp);
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->snap = *c->srv->ctx; /* what this request sees, whatever the loop swaps in meanwhile */
  index_hold(c);
  c->work.data = c;
  c->refs++;
  if (uv_queue_work(c->srv->loop, &c->work, work_run, work_done) != 0) {
    c->refs--;
    index_release(c);
    send_error(c, 503);
  }
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void alloc_in(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  conn *c = h->data;
  if (c->in_cap - c->in_len < 4096) {
    if (c->in_off) { /* drop what was parsed */
      memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
      c->in_len -= c->in_off;
      c->in_off = 0;
    }
    if (c->in_cap - c->in_len < 4096) {
      size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
      char *p = realloc(c->in, cap);
      if (!p) {
        *b = uv_buf_init(NULL, 0);
        return;
      }
      c->in = p;
      c->in_cap = cap;
    }
  }
  *b = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

/* Parses what has arrived; answers a request if one is complete. */
static void conn_continue(conn *c) {
  if (c->closing || c->busy)
    return;
  size_t used = 0;
  int r = rp_execute(&c->rp, c->in + c->in_off, c->in_len - c->in_off, &used);
  c->in_off += used;
  if (r == 1) {
    dispatch(c);
    return;
  }
  if (r > 1) {
    send_error(c, r);
    return;
  }
  /* A request bigger than any we accept cannot be buffered forever. */
  if (c->in_len - c->in_off > HTTP_MAX_HEADERS + HTTP_MAX_BODY + 4096) {
    send_error(c, 431);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_in, on_read);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  conn *c = st->data;
  if (n < 0) {
    conn_close(c); /* EOF or error: the client is gone */
    return;
  }
  c->in_len += (size_t)n;
  conn_continue(c);
}

static void on_connection(uv_stream_t *server, int status) {
  http_server *s = server->data;
  if (status < 0)
    return;
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->srv = s;
  c->refs = 1;
  rp_init(&c->rp);
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  s->connections++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, alloc_in, on_read);
}

int http_listen(http_server *s, uv_loop_t *loop, rt_context *ctx, const char *host, int port,
                int *bound_port) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->ctx = ctx;
  http_parser_set_max_header_size(HTTP_MAX_HEADERS);
  s->heartbeat_ms = HTTP_EVENTS_HEARTBEAT_MS;
  const char *hb = getenv("CTRACE_EVENTS_HEARTBEAT_MS"); /* (tests) */
  if (hb && atoi(hb) > 0)
    s->heartbeat_ms = (unsigned)atoi(hb);
  uv_timer_init(loop, &s->heartbeat);
  s->heartbeat.data = s;
  struct sockaddr_storage addr;
  int r = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr)
                            : uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
  if (r)
    return r;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  if ((r = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0)) ||
      (r = uv_listen((uv_stream_t *)&s->listener, 256, on_connection)))
    return r;
  struct sockaddr_storage got;
  int len = sizeof got;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
  *bound_port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                : ((struct sockaddr_in *)&got)->sin_port);
  return 0;
}

/* ---- Without sockets (fuzzing) ------------------------------------------------------------- */

int http_feed_for_test(rt_context *ctx, const char *data, size_t len) {
  req_parser rp;
  rp_init(&rp);
  size_t off = 0;
  int responses = 0;
  while (off < len) {
    size_t used = 0;
    int r = rp_execute(&rp, data + off, len - off, &used);
    off += used;
    if (r == 0 && used == 0)
      break;
    if (r > 1) { /* the error answer, then the connection would close */
      responses++;
      break;
    }
    if (r == 1) {
      rt_request req;
      char path[HTTP_MAX_URL + 1];
      rt_response resp;
      memset(&resp, 0, sizeof resp);
      if (rp_request(&rp, &req, path, sizeof path) == 0) {
        rt_handle(ctx, &req, &resp);
        if (resp.stream) /* not streamed here: the exporter has its own fuzzer */
          resp.stream = NULL;
      } else {
        resp.status = 400;
      }
      size_t n;
      int zstd = encode_body(&resp, accepts_zstd(rp.ae));
      free(http_render(&resp, rp.p.method == HTTP_HEAD, 1, zstd, 0, &n));
      free(resp.body);
      responses++;
      if (!http_should_keep_alive(&rp.p))
        break;
    }
  }
  return responses;
}
