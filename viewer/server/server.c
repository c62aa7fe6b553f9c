/* `ctrace view TRACE... [--host H] [--port P]`: indexes the traces on the
 * thread pool, then serves the timeline (http.c, routes.c) until SIGINT or
 * SIGTERM. A trace that cannot be read is reported and the command exits 1
 * before it listens.
 *
 * Live views: the index is rebuilt whole on the thread pool as the trace
 * grows and swapped in on the loop (http_swap_index: requests in flight
 * keep the index they started with); ctx.generation counts the rebuilds,
 * ctx.live says "following" then "ended", and every swap or change of
 * state is pushed to the page's /api/events streams (http_notify).
 *   --follow TRACE...  native traces being written (follow.c), and
 *                      ctrace run --view's socket;
 *   --lttng-live URL   an LTTng live session through lttng-relayd (live.c).
 * This file is the view itself: the loop, the first index, listening, and
 * swapping in the indexes the followers build. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common.h"
#include "read.h"
#include "server_internal.h"

/* ---- The index ------------------------------------------------------------------------- */

double sv__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The scale index's pass, on stderr as its threads are done. */
static void scale_progress(void *arg, uint64_t done) {
  (void)arg;
  fprintf(stderr, "ctrace view: indexing: %" PRIu64 " events read\n", done);
}

static void build(uv_work_t *w) {
  view *v = w->data;
  double t = sv__now_ms();
  if (v->scale) {
    v->ctx.scale = vs_open(v->paths[0], scale_progress, v, v->err, sizeof v->err);
    char e[8];
    v->first = v->ctx.scale ? vx_build(NULL, 0, e, sizeof e) : NULL;
  } else if (v->fw.on && sv__follow_scale_first(v)) {
    /* (a followed trace due a scale index: v->ctx.scale) */
  } else if (v->lv.url) {
    v->first = vx_build_log(v->lv.log, 1, v->err, sizeof v->err); /* its beginning */
  } else if (v->nbase) {
    sv__compare_build(v);
  } else {
    v->first = vx_build(v->paths, v->npaths, v->err, sizeof v->err);
  }
  if (!v->first && v->fw.on) {
    /* Not readable yet (a first record still being written): an empty
     * timeline until the next rebuild. */
    char e[8];
    v->first = vx_build(NULL, 0, e, sizeof e);
    v->npaths = 0;
  }
  v->build_ms = sv__now_ms() - t;
}

void sv__swap_in(view *v, vx_index *next, size_t npaths) {
  v->ctx.npaths = npaths;
  v->ctx.generation++;
  http_swap_index(&v->http, next);
  http_notify(&v->http);
}

void sv__set_state(view *v, const char *state) {
  v->ctx.live = state;
  http_notify(&v->http);
}

/* ---- Serving ---------------------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int sig) {
  view *v = s->data;
  fprintf(stderr, "ctrace view: %s, stopping\n", strsignal(sig));
  uv_stop(v->loop);
}

/* web/ next to the binary (build tree), in the install prefix, or
 * $CTRACE_WEB_DIR; its realpath, or NULL. */
static char *find_web_root(void) {
  const char *env = getenv("CTRACE_WEB_DIR");
  if (env && *env)
    return realpath(env, NULL);
  char *exe = ctrace__exe_dir();
  static const char *const rel[] = {"/web", "/../share/ctrace/web", "/../web"};
  for (size_t i = 0; exe && i < sizeof rel / sizeof rel[0]; i++) {
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s%s/index.html", exe, rel[i]);
    if (access(p, R_OK) == 0) {
      free(exe);
      p[strlen(p) - strlen("/index.html")] = '\0';
      return realpath(p, NULL);
    }
  }
  free(exe);
  return NULL;
}

/* What the first index holds, on stderr: its sources' problems (not those
 * of traces still being written, when following) and its size. */
static void report_first(view *v) {
  if (v->ctx.scale) {
    vs_index *x = v->ctx.scale;
    fprintf(stderr,
            "ctrace view: scale index: %s: %" PRIu64 " events in %.0f ms (index file %.1f MiB, "
            "%.1f bytes/event)\n",
            vs_how(x), vs_events(x), v->build_ms, (double)vs_file_bytes(x) / 1048576.0,
            vs_events(x) ? (double)vs_file_bytes(x) / (double)vs_events(x) : 0.0);
    if (rd_problem(vs_trace(x)))
      fprintf(stderr, "ctrace view: %s: warning: %s\n", v->paths[0], rd_problem(vs_trace(x)));
    return;
  }
  for (size_t i = 0; i < vx_source_count(v->first); i++) {
    const vx_source *s = vx_source_get(v->first, i);
    if (s->problem && !(v->fw.on && rt_still_writing(s)))
      fprintf(stderr, "ctrace view: %s: warning: %s\n", s->path, s->problem);
  }
  fprintf(stderr,
          "ctrace view: indexed %" PRIu64 " events from %zu file%s in %.0f ms (%.1f MiB, "
          "%.1f bytes/event)\n",
          vx_events(v->first), v->npaths, v->npaths == 1 ? "" : "s", v->build_ms,
          (double)vx_memory(v->first) / 1048576.0,
          vx_events(v->first) ? (double)vx_memory(v->first) / (double)vx_events(v->first) : 0.0);
}

/* Listens, and prints "timeline: URL" (into url) once serving. @return 0,
 * or 1 (said on stderr, the loop stopped) when the port cannot be had. */
static int listen_and_say(view *v, char *url, size_t cap) {
  int port = 0;
  int r = http_listen(&v->http, v->loop, &v->ctx, v->host, v->port, &port);
  if (r) {
    fprintf(stderr, "ctrace view: cannot listen on %s:%d: %s\n", v->host, v->port, uv_strerror(r));
    v->status = 1;
    uv_stop(v->loop);
    return 1;
  }
  if (!v->ctx.web_root)
    fprintf(stderr, "ctrace view: warning: web/ not found next to the binary; the API works, "
                    "the page does not (set CTRACE_WEB_DIR)\n");
  const char *shown = strchr(v->host, ':') ? "[%s]" : "%s";
  char host[128];
  snprintf(host, sizeof host, shown, v->host);
  snprintf(url, cap, "http://%s:%d/", host, port);
  printf("timeline: %s\n", url);
  fflush(stdout);
  return 0;
}

/* The first index is built (loop thread): serve it, then follow. */
static void built(uv_work_t *w, int status) {
  view *v = w->data;
  if (status < 0 || !v->first) {
    fprintf(stderr, "ctrace view: %s\n", v->err[0] ? v->err : "indexing failed");
    v->status = 1;
    uv_stop(v->loop);
    return;
  }
  v->ctx.index = v->first;
  v->ctx.npaths = v->npaths;
  if (v->fw.on)
    sv__follow_first(v);
  report_first(v);
  char url[200];
  if (listen_and_say(v, url, sizeof url))
    return;
  if (v->lv.url)
    sv__live_start(v);
  else if (v->fw.on)
    sv__follow_start(v, url);
}

int sv_view(const sv_options *o) {
  static view v; /* (static: a live session's thread may outlive the loop) */
  memset(&v, 0, sizeof v);
  v.host = o->host ? o->host : "127.0.0.1";
  v.port = o->port;
  v.fw.run_fd = o->run_fd;
  v.fw.on = o->follow;
  v.scale = o->scale;
  v.lv.url = o->lttng_live;
  signal(SIGPIPE, SIG_IGN); /* a client that goes away is an error code, not a signal */
  if (v.lv.url && sv__live_log(&v.lv)) {
    fprintf(stderr, "ctrace view: out of memory\n");
    return 1;
  }
  if (v.fw.on) {
    /* What exists of the traces now; more as they appear (follow.c). */
    if (sv__follow_init(&v, o)) {
      fprintf(stderr, "ctrace view: out of memory\n");
      return 1;
    }
  } else if (o->ncompare) {
    /* BASE... then NEW...: one list, the sources' order (left to the exit) */
    char **all = malloc((o->npaths + o->ncompare) * sizeof *all);
    if (!all) {
      fprintf(stderr, "ctrace view: out of memory\n");
      return 1;
    }
    memcpy(all, o->paths, o->npaths * sizeof *all);
    memcpy(all + o->npaths, o->compare, o->ncompare * sizeof *all);
    v.paths = all;
    v.npaths = o->npaths + o->ncompare;
    v.nbase = o->npaths;
  } else {
    v.paths = v.lv.url ? (char *const *)&v.lv.url : o->paths;
    v.npaths = v.lv.url ? 1 : o->npaths;
  }
  v.loop = uv_default_loop();
  char *web = find_web_root();
  v.ctx.web_root = web;
  v.ctx.paths = v.paths;
  v.ctx.npaths = v.npaths;
  v.ctx.symbols = cp_symbols_new(NULL, 0); /* (NULL: each request names with its own) */
  v.ctx.pprof = o->pprof;
  uv_signal_init(v.loop, &v.sigint);
  uv_signal_init(v.loop, &v.sigterm);
  v.sigint.data = v.sigterm.data = &v;
  uv_signal_start(&v.sigint, on_signal, SIGINT);
  uv_signal_start(&v.sigterm, on_signal, SIGTERM);
  v.work.data = &v;
  uv_queue_work(v.loop, &v.work, build, built);
  uv_run(v.loop, UV_RUN_DEFAULT);
  /* Requests may still read the index on the thread pool, or a --follow
   * rebuild still grow it there (stopped by a signal meanwhile): then it is
   * left to the exit. */
  if (!v.http.holds && !v.fw.busy) {
    vx_free(v.ctx.index ? v.ctx.index : v.first);
    vs_close(v.ctx.scale);
    cp_symbols_free(v.ctx.symbols);
  }
  free(web);
  /* (v.fw's paths and problem texts are left to the exit: requests may
   * still be reading them on the thread pool) */
  return v.status;
}
