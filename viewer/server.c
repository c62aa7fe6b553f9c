/* `ctrace view TRACE... [--host H] [--port P]`: indexes the traces on the
 * thread pool, then serves the timeline (http.c, routes.c) until SIGINT or
 * SIGTERM. A trace that cannot be read is reported and the command exits 1
 * before it listens. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "commands.h"
#include "ctf.h"
#include "http.h"

/* --lttng-live URL: a thread follows the session (ctf.c) into a growing
 * JSON text; every 250 ms, if it grew, the index is rebuilt from it on the
 * thread pool and swapped in on the loop (where requests are served), so
 * the timeline grows while the program runs. */
typedef struct live {
  const char *url;
  uv_thread_t thread;
  uv_mutex_t mu;
  char *buf; /* the JSON so far (guarded by mu) */
  size_t len, cap;
  int done;  /* the session ended (or failed: err) */
  int rc;
  char err[1024];
  char state[1100];
  size_t built_len; /* what the current index holds (loop thread) */
  int built_done;
  int busy;          /* a rebuild is queued */
  uv_timer_t timer;
  uv_work_t work;
  vx_index *next;
  size_t next_len;
  int next_done;
  char next_err[1024];
} live;

typedef struct view {
  uv_loop_t *loop;
  char *const *paths;
  size_t npaths;
  const char *host;
  int port;
  vx_index *index;
  char err[1024];
  double build_ms;
  rt_context ctx;
  http_server http;
  uv_work_t work;
  uv_signal_t sigint, sigterm;
  int status;
  live lv;
} view;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* web/ next to the binary (build tree), in the install prefix, or
 * $CTRACE_WEB_DIR; its realpath, or NULL. */
static char *find_web_root(void) {
  const char *env = getenv("CTRACE_WEB_DIR");
  if (env && *env)
    return realpath(env, NULL);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash)
    return NULL;
  *slash = '\0';
  static const char *const rel[] = {"/web", "/../share/ctrace/web", "/../web"};
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s%s/index.html", exe, rel[i]);
    if (access(p, R_OK) == 0) {
      p[strlen(p) - strlen("/index.html")] = '\0';
      return realpath(p, NULL);
    }
  }
  return NULL;
}

static void build(uv_work_t *w) {
  view *v = w->data;
  double t = now_ms();
  static char empty[] = "{\"traceEvents\":[]}";
  v->index = v->lv.url ? vx_build_json(v->lv.url, empty, sizeof empty - 1, v->err, sizeof v->err)
                       : vx_build(v->paths, v->npaths, v->err, sizeof v->err);
  v->build_ms = now_ms() - t;
}

/* ---- Live ----------------------------------------------------------------------------- */

static int live_sink(void *arg, const char *p, size_t n) {
  live *l = arg;
  uv_mutex_lock(&l->mu);
  int r = 0;
  if (l->len + n + 8 > l->cap) {
    size_t cap = l->cap ? l->cap : 1 << 20;
    while (cap < l->len + n + 8)
      cap *= 2;
    char *q = realloc(l->buf, cap);
    if (q) {
      l->buf = q;
      l->cap = cap;
    } else {
      r = -ENOMEM;
    }
  }
  if (!r) {
    memcpy(l->buf + l->len, p, n);
    l->len += n;
  }
  uv_mutex_unlock(&l->mu);
  return r;
}

static void live_follow(void *arg) {
  live *l = arg;
  char err[1024] = "";
  ctf_stats st;
  int r = ctf_to_json(l->url, live_sink, l, &st, err, sizeof err);
  ctf_stats_free(&st);
  uv_mutex_lock(&l->mu);
  l->rc = r;
  snprintf(l->err, sizeof l->err, "%s", err);
  l->done = 1;
  uv_mutex_unlock(&l->mu);
}

/* The JSON so far, closed after its last whole event (events are one per
 * line, each after ",\n"); or all of it once the session has ended. */
static void live_rebuild(uv_work_t *w) {
  view *v = w->data;
  live *l = &v->lv;
  uv_mutex_lock(&l->mu);
  size_t len = l->len;
  int done = l->done && !l->rc;
  char *text = malloc(len + 8);
  if (text)
    memcpy(text, l->buf, len);
  uv_mutex_unlock(&l->mu);
  l->next = NULL;
  l->next_len = len;
  l->next_done = done;
  if (!text) {
    snprintf(l->next_err, sizeof l->next_err, "out of memory");
    return;
  }
  size_t n = len;
  if (!done) {
    while (n && text[n - 1] != '\n')
      n--;
    while (n && (text[n - 1] == '\n' || text[n - 1] == ','))
      n--;
    if (!n) { /* nothing yet: not even the header */
      free(text);
      snprintf(l->next_err, sizeof l->next_err, "no event yet");
      return;
    }
    memcpy(text + n, "\n]}", 4);
    n += 3;
  }
  text[n] = '\0';
  l->next = vx_build_json(l->url, text, n, l->next_err, sizeof l->next_err);
  free(text);
}

static void live_timer(uv_timer_t *t);

static void live_rebuilt(uv_work_t *w, int status) {
  view *v = w->data;
  live *l = &v->lv;
  l->busy = 0;
  if (status == 0 && l->next) {
    vx_free(v->index);
    v->index = v->ctx.index = l->next;
    v->ctx.generation++;
    l->built_len = l->next_len;
    l->built_done = l->next_done;
  }
  l->next = NULL;
}

static void live_timer(uv_timer_t *t) {
  view *v = t->data;
  live *l = &v->lv;
  uv_mutex_lock(&l->mu);
  size_t len = l->len;
  int done = l->done, rc = l->rc;
  if (done)
    snprintf(l->state, sizeof l->state, rc ? "failed: %s" : "ended", l->err);
  uv_mutex_unlock(&l->mu);
  v->ctx.live = l->state;
  if (done && rc && !l->built_len) { /* nothing ever came: a bad URL, no relay daemon */
    fprintf(stderr, "ctrace view: %s: %s\n", l->url, l->err);
    v->status = 1;
    uv_stop(v->loop);
    return;
  }
  if (done && rc) {
    static int said;
    if (!said++)
      fprintf(stderr, "ctrace view: %s: stopped following: %s\n", l->url, l->err);
  }
  if (!l->busy && (len != l->built_len || (done && !rc && !l->built_done))) {
    l->busy = 1;
    l->work.data = v;
    uv_queue_work(v->loop, &l->work, live_rebuild, live_rebuilt);
  }
}

static void on_signal(uv_signal_t *s, int sig) {
  view *v = s->data;
  fprintf(stderr, "ctrace view: %s, stopping\n", strsignal(sig));
  uv_stop(v->loop);
}

static void built(uv_work_t *w, int status) {
  view *v = w->data;
  if (status < 0 || !v->index) {
    fprintf(stderr, "ctrace view: %s\n", v->err[0] ? v->err : "indexing failed");
    v->status = 1;
    uv_stop(v->loop);
    return;
  }
  for (size_t i = 0; i < vx_source_count(v->index); i++) {
    const vx_source *s = vx_source_get(v->index, i);
    if (s->problem)
      fprintf(stderr, "ctrace view: %s: warning: %s\n", s->path, s->problem);
  }
  fprintf(stderr, "ctrace view: indexed %" PRIu64 " events from %zu file%s in %.0f ms (%.1f MiB, "
          "%.1f bytes/event)\n",
          vx_events(v->index), v->npaths, v->npaths == 1 ? "" : "s", v->build_ms,
          (double)vx_memory(v->index) / 1048576.0,
          vx_events(v->index) ? (double)vx_memory(v->index) / (double)vx_events(v->index) : 0.0);
  v->ctx.index = v->index;
  int port = 0;
  int r = http_listen(&v->http, v->loop, &v->ctx, v->host, v->port, &port);
  if (r) {
    fprintf(stderr, "ctrace view: cannot listen on %s:%d: %s\n", v->host, v->port, uv_strerror(r));
    v->status = 1;
    uv_stop(v->loop);
    return;
  }
  if (!v->ctx.web_root)
    fprintf(stderr, "ctrace view: warning: web/ not found next to the binary; the API works, "
                    "the page does not (set CTRACE_WEB_DIR)\n");
  const char *shown = strchr(v->host, ':') ? "[%s]" : "%s";
  char host[128];
  snprintf(host, sizeof host, shown, v->host);
  printf("timeline: http://%s:%d/\n", host, port);
  fflush(stdout);
  if (v->lv.url) {
    live *l = &v->lv;
    snprintf(l->state, sizeof l->state, "following");
    v->ctx.live = l->state;
    fprintf(stderr, "ctrace view: following %s (the timeline grows as events arrive)\n", l->url);
    uv_mutex_init(&l->mu);
    if (uv_thread_create(&l->thread, live_follow, l)) {
      fprintf(stderr, "ctrace view: cannot start following %s\n", l->url);
      v->status = 1;
      uv_stop(v->loop);
      return;
    }
    uv_timer_init(v->loop, &l->timer);
    l->timer.data = v;
    uv_timer_start(&l->timer, live_timer, 250, 250);
  }
}

static const char usage[] =
    "usage: ctrace view TRACE... [--host 127.0.0.1] [--port 8080]\n"
    "       ctrace view --lttng-live net://RELAYD/host/HOST/SESSION [--port 8080]\n"
    "  Serves the timeline of ctrace traces, Chrome trace-event JSON files or\n"
    "  LTTng trace directories; --lttng-live follows a live LTTng session\n"
    "  through lttng-relayd, the timeline growing as its events arrive.\n"
    "  --host ADDR  address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N     port (default 8080; 0 picks a free one)\n";

int ctrace_cmd_view(int argc, char **argv) {
  static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"lttng-live", required_argument, NULL, 'L'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  static view v; /* (static: a live session's thread may outlive the loop) */
  memset(&v, 0, sizeof v);
  v.host = "127.0.0.1";
  v.port = 8080;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'H': v.host = optarg; break;
    case 'L':
      if (strncmp(optarg, "net://", 6) && strncmp(optarg, "net4://", 7) &&
          strncmp(optarg, "net6://", 7)) {
        fprintf(stderr, "ctrace view: --lttng-live %s: not an LTTng live URL "
                        "(net://RELAYD/host/HOST/SESSION)\n%s", optarg, usage);
        return 2;
      }
      v.lv.url = optarg;
      break;
    case 'p': {
      char *end;
      long p = strtol(optarg, &end, 10);
      if (*end || end == optarg || p < 0 || p > 65535) {
        fprintf(stderr, "ctrace view: --port %s: not a port number (0..65535)\n%s", optarg, usage);
        return 2;
      }
      v.port = (int)p;
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    default:
      if (optopt == 'H' || optopt == 'p' || optopt == 'L' || (optind > 0 && argv[optind - 1][0] == '-' &&
                                             argv[optind - 1][1] == '-' && !optopt))
        fprintf(stderr, "ctrace view: '%s' needs a value or is unknown\n%s", argv[optind - 1],
                usage);
      else
        fprintf(stderr, "ctrace view: unknown option '%s'\n%s", argv[optind - 1], usage);
      return 2;
    }
  }
  if (v.lv.url && optind < argc) {
    fprintf(stderr, "ctrace view: --lttng-live is viewed on its own (no TRACE with it)\n%s",
            usage);
    return 2;
  }
  if (!v.lv.url && optind >= argc) {
    fprintf(stderr, "ctrace view: missing TRACE\n%s", usage);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a client that goes away is an error code, not a signal */
  v.paths = v.lv.url ? (char *const *)&v.lv.url : argv + optind;
  v.npaths = v.lv.url ? 1 : (size_t)(argc - optind);
  /* `ctrace run` writes the kernel's events beside the trace: FILE.kernel
   * goes with FILE unless given already. */
  char **all = calloc(2 * v.npaths + 1, sizeof *all);
  size_t n = 0;
  for (size_t i = 0; all && i < v.npaths; i++) {
    all[n++] = v.paths[i];
    char k[PATH_MAX];
    snprintf(k, sizeof k, "%s.kernel", v.paths[i]);
    int given = 0;
    for (size_t j = 0; j < v.npaths; j++)
      given |= !strcmp(v.paths[j], k);
    if (!given && access(k, R_OK) == 0) {
      all[n++] = strdup(k);
      fprintf(stderr, "ctrace view: with %s (the kernel's events of the same run)\n", k);
    }
  }
  if (all) {
    v.paths = all;
    v.npaths = n;
  }
  v.loop = uv_default_loop();
  char *web = find_web_root();
  v.ctx.web_root = web;
  v.ctx.paths = v.paths;
  v.ctx.npaths = v.npaths;
  uv_signal_init(v.loop, &v.sigint);
  uv_signal_init(v.loop, &v.sigterm);
  v.sigint.data = v.sigterm.data = &v;
  uv_signal_start(&v.sigint, on_signal, SIGINT);
  uv_signal_start(&v.sigterm, on_signal, SIGTERM);
  v.work.data = &v;
  uv_queue_work(v.loop, &v.work, build, built);
  uv_run(v.loop, UV_RUN_DEFAULT);
  vx_free(v.index);
  free(web);
  if (all) {
    for (size_t i = 0; i < n; i++)
      if (all[i] != argv[optind + 0] && strstr(all[i], ".kernel")) {
        int given = 0;
        for (int j = optind; j < argc; j++)
          given |= all[i] == argv[j];
        if (!given)
          free(all[i]);
      }
    free(all);
  }
  return v.status;
}
