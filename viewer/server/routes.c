/* HTTP routes of the viewer: static files and the JSON API (see
 * docs/viewer-api.md). This file is the routes' front: rt_handle's
 * dispatch, the request helpers every endpoint uses (query strings, JSON
 * answers and errors, the per-request arena of cJSON), the static files of
 * web/ and the /api/trace.json stream. The endpoints are one file per
 * group: routes_meta.c (/api/meta, the live view's /api/events),
 * routes_timeline.c (/api/slices, /api/search), routes_details.c
 * (/api/slice), routes_analysis.c (/api/analysis, /api/pprof),
 * routes_cpu.c (/api/cpu), routes_heap.c (/api/heap), routes_source.c
 * (/api/source), routes_why.c (/api/why), compare.c (/api/diff),
 * routes_pprof.c (/debug/pprof/,
 * ctrace view --pid). Every JSON
 * answer is built with cJSON, except the bulk /api/trace.json stream,
 * which is the exporter's. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "read.h"
#include "server_internal.h"

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

static __thread arena_block *arena; /* blocks in use, newest first */
static __thread arena_block *spare; /* blocks kept from the last handler */
static __thread int arena_on;       /* in a handler */

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

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

void rt__install_hooks(void) {
  pthread_once(&hooks_once, install_hooks); /* (orders the hooks' setup before any use) */
}

/* ---- Responses -------------------------------------------------------------------- */

void rt__respond_json(rt_response *r, int status, cJSON *obj) {
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

void rt__respond_error(rt_response *r, int status, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "status", status);
  cJSON_AddStringToObject(o, "error", msg);
  rt__respond_json(r, status, o);
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
int rt__query_get(const char *q, const char *key, char *buf, size_t cap) {
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
int rt__query_u64(const char *q, const char *key, uint64_t def, uint64_t *out) {
  char buf[32];
  int r = rt__query_get(q, key, buf, sizeof buf);
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
  if (fd < 0 ||
      (n == CTRACE_FMT_MAGIC_LEN && !memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN))) {
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
    rt__respond_error(r, 404,
                      "the web UI was not found (web/ next to the ctrace binary); "
                      "set CTRACE_WEB_DIR");
    return;
  }
  if (!strcmp(path, "/"))
    path = "/index.html";
  if (path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") || strstr(path, "//") ||
      strchr(path, '\\') || (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/..")) ||
      (strlen(path) >= 2 && !strcmp(path + strlen(path) - 2, "/."))) {
    rt__respond_error(r, 404, "not found");
    return;
  }
  char full[PATH_MAX], real[PATH_MAX];
  if ((size_t)snprintf(full, sizeof full, "%s%s", ctx->web_root, path) >= sizeof full ||
      !realpath(full, real)) {
    rt__respond_error(r, 404, "not found");
    return;
  }
  size_t rl = strlen(ctx->web_root);
  struct stat st;
  if (strncmp(real, ctx->web_root, rl) != 0 || real[rl] != '/' || stat(real, &st) != 0 ||
      !S_ISREG(st.st_mode) || st.st_size > (64 << 20)) {
    rt__respond_error(r, 404, "not found");
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
    rt__respond_error(r, 500, "cannot read the file");
    return;
  }
  r->status = 200;
  r->content_type = mime_type(real);
  r->body = body;
  r->len = got;
  r->cacheable = 1;
}

/* ---- Dispatch ----------------------------------------------------------------------------------- */

static void handle(const rt_context *ctx, const rt_request *req, rt_response *r);

void rt_handle(const rt_context *ctx, const rt_request *req, rt_response *r) {
  rt__install_hooks();
  arena_on = 1;
  handle(ctx, req, r);
  arena_release();
}

static void handle(const rt_context *ctx, const rt_request *req, rt_response *r) {
  memset(r, 0, sizeof *r);
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    r->allow = "GET, HEAD";
    rt__respond_error(r, 405, "method not allowed: use GET");
    return;
  }
  const char *p = req->path, *q = req->query ? req->query : "";
  if (ctx->scale && !strncmp(p, "/api/", 5) && strcmp(p, "/api/trace.json")) {
    if (!strcmp(p, "/api/meta"))
      rt__scale_meta(ctx, r);
    else if (!strcmp(p, "/api/slices"))
      rt__scale_slices(ctx, q, r);
    else if (!strcmp(p, "/api/slice"))
      rt__scale_slice(ctx, q, r);
    else if (!strcmp(p, "/api/analysis"))
      rt__scale_analysis(ctx, q, r);
    else if (!strcmp(p, "/api/events"))
      rt__api_events(ctx, r);
    else if (!strcmp(p, "/api/search"))
      rt__scale_search(ctx, q, r);
    else
      rt__respond_error(r, 501,
                        "not answered yet for a trace opened with the scale index (the timeline "
                        "and its regions are); ctrace view --index full TRACE indexes it whole, "
                        "in memory (about 18 bytes per event)");
    return;
  }
  if (!strcmp(p, "/api/meta"))
    rt__api_meta(ctx, r);
  else if (!strcmp(p, "/api/slices"))
    rt__api_slices(ctx, q, r);
  else if (!strcmp(p, "/api/slice"))
    rt__api_slice(ctx, q, r);
  else if (!strcmp(p, "/api/search"))
    rt__api_search(ctx, q, r);
  else if (!strcmp(p, "/api/analysis"))
    rt__api_analysis(ctx, q, r);
  else if (!strcmp(p, "/api/pprof"))
    rt__api_pprof(ctx, q, r);
  else if (!strcmp(p, "/api/cpu"))
    rt__api_cpu(ctx, q, r);
  else if (!strcmp(p, "/api/heap"))
    rt__api_heap(ctx, q, r);
  else if (!strcmp(p, "/api/source"))
    rt__api_source(ctx, q, r);
  else if (!strcmp(p, "/api/why"))
    rt__api_why(ctx, q, r);
  else if (!strcmp(p, "/api/diff"))
    rt__api_diff(ctx, r);
  else if (!strcmp(p, "/api/events"))
    rt__api_events(ctx, r);
  else if (!strcmp(p, "/api/trace.json")) {
    uint64_t src;
    if (rt__query_u64(q, "source", 0, &src) || src >= ctx->npaths) {
      rt__respond_error(r, 400, "source: the index of a trace in /api/meta's sources");
      return;
    }
    r->status = 200;
    r->content_type = "application/json";
    r->stream = stream_trace;
    r->stream_path = ctx->paths[src];
  } else if (!strncmp(p, "/debug/pprof", 12))
    rt__debug_pprof(ctx, p, q, r);
  else if (!strncmp(p, "/api/", 5))
    rt__respond_error(r, 404, "no such API");
  else
    static_file(ctx, p, r);
}
