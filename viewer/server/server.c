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
 *   --follow TRACE...  native traces being written: their sizes are polled
 *                      every 100 ms, with FILE.kernel and the FILE.PID of
 *                      children as they appear;
 *   --lttng-live URL   an LTTng live session through lttng-relayd. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "read.h"
#include "ctrace/format.h"
#include "server.h"

/* --lttng-live URL: a thread follows the session (a set of one live
 * source, read.h) into a growing event log; every 250 ms, if it grew,
 * the index is rebuilt from it on the thread pool and swapped in on the
 * loop (where requests are served), so the timeline grows while the
 * program runs. */
typedef struct live {
  const char *url;
  uv_thread_t thread;
  uv_mutex_t mu;
  te_log *log; /* what arrived (appends and its count guarded by mu) */
  size_t len;  /* events in it (guarded by mu) */
  int done;  /* the session ended (or failed: err) */
  int rc;
  char err[1024];
  char state[1100]; /* "failed: WHY", written once before ctx.live points to it */
  int said;         /* the end was announced */
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

/* --follow TRACE...: native traces that are still being written. */
#define FOLLOW_POLL_MS 100
#define FOLLOW_MAX_FILES 256
#define FOLLOW_QUIET_MS 2000 /* no growth for this long and their writers gone: ended */
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
  /* Texts ctx.live_problem has pointed to (a request may still read one). */
  char *problems[FOLLOW_MAX_PROBLEMS];
  size_t nproblems;
} follow;

typedef struct view {
  uv_loop_t *loop;
  char *const *paths;
  size_t npaths;
  const char *host;
  int port;
  char err[1024];
  double build_ms;
  vx_index *first; /* the first index (built before listening) */
  rt_context ctx;
  http_server http;
  uv_work_t work;
  uv_signal_t sigint, sigterm;
  int status;
  live lv;
  follow fw;
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
  if (v->lv.url)
    v->first = vx_build_log(v->lv.log, 1, v->err, sizeof v->err); /* its beginning */
  else
    v->first = vx_build(v->paths, v->npaths, v->err, sizeof v->err);
  if (!v->first && v->fw.on) {
    /* Not readable yet (a first record still being written): an empty
     * timeline until the next rebuild. */
    char e[8];
    v->first = vx_build(NULL, 0, e, sizeof e);
    v->npaths = 0;
  }
  v->build_ms = now_ms() - t;
}

/* A new index (loop thread): served from now on, pushed to the page. */
static void swap_in(view *v, vx_index *next, size_t npaths) {
  v->ctx.npaths = npaths;
  v->ctx.generation++;
  http_swap_index(&v->http, next);
  http_notify(&v->http);
}

static void set_state(view *v, const char *state) {
  v->ctx.live = state;
  http_notify(&v->http);
}

/* ---- LTTng live ---------------------------------------------------------------------- */

/* The live thread's handler: every event into the log (its beginning is
 * there already: live_start). */
static int live_event(void *arg, const te_source *src, const te_event *ev) {
  live *l = arg;
  if (ev->type == TE_SOURCE_BEGIN)
    return 0;
  uv_mutex_lock(&l->mu);
  int r = te_log_append(l->log, src, ev);
  if (!r)
    l->len = te_log_count(l->log);
  uv_mutex_unlock(&l->mu);
  return r;
}

static void live_follow(void *arg) {
  live *l = arg;
  char err[1024] = "";
  char *paths[1] = {(char *)l->url};
  te_set *set = te_set_open(paths, 1, 0, err, sizeof err);
  int r = set ? te_set_read(set, live_event, l, err, sizeof err) : CTRACE_EINVAL;
  te_set_close(set);
  uv_mutex_lock(&l->mu);
  l->rc = r;
  snprintf(l->err, sizeof l->err, "%s", err);
  l->done = 1;
  uv_mutex_unlock(&l->mu);
}

/* The events so far (a reader may read the first len while the live thread
 * appends after them). */
static void live_rebuild(uv_work_t *w) {
  view *v = w->data;
  live *l = &v->lv;
  uv_mutex_lock(&l->mu);
  size_t len = l->len;
  int done = l->done && !l->rc;
  uv_mutex_unlock(&l->mu);
  l->next_len = len;
  l->next_done = done;
  l->next = vx_build_log(l->log, len, l->next_err, sizeof l->next_err);
}

static void live_rebuilt(uv_work_t *w, int status) {
  view *v = w->data;
  live *l = &v->lv;
  l->busy = 0;
  if (status == 0 && l->next) {
    l->built_len = l->next_len;
    l->built_done = l->next_done;
    swap_in(v, l->next, 1);
  }
  l->next = NULL;
}

static void live_timer(uv_timer_t *t) {
  view *v = t->data;
  live *l = &v->lv;
  uv_mutex_lock(&l->mu);
  size_t len = l->len;
  int done = l->done, rc = l->rc;
  char err[sizeof l->err];
  memcpy(err, l->err, sizeof err);
  uv_mutex_unlock(&l->mu);
  if (done && rc && !l->built_len) { /* nothing ever came: a bad URL, no relay daemon */
    fprintf(stderr, "ctrace view: %s: %s\n", l->url, err);
    v->status = 1;
    uv_stop(v->loop);
    return;
  }
  if (done && rc && !l->said) {
    l->said = 1;
    fprintf(stderr, "ctrace view: %s: stopped following: %s\n", l->url, err);
    snprintf(l->state, sizeof l->state, "failed: %s", err);
    set_state(v, l->state);
  }
  if (!l->busy && (len != l->built_len || (done && !rc && !l->built_done))) {
    l->busy = 1;
    l->work.data = v;
    uv_queue_work(v->loop, &l->work, live_rebuild, live_rebuilt);
  } else if (!l->busy && done && !rc && l->built_done && !l->said) {
    /* "ended" once the index holds the whole session */
    l->said = 1;
    set_state(v, "ended");
    uv_timer_stop(&l->timer);
  }
}

/* The log begins with the live source, so that even an empty view says
 * what it follows. @return 0, or -1 when out of memory. */
static int live_log(live *l) {
  if (!(l->log = te_log_new()))
    return -1;
  te_source src = {.path = l->url, .format = "lttng-live", .process = ""};
  te_event ev = {.type = TE_SOURCE_BEGIN};
  if (te_log_append(l->log, &src, &ev))
    return -1;
  l->len = 1;
  return 0;
}

static void live_start(view *v) {
  live *l = &v->lv;
  v->ctx.live = "following";
  v->ctx.live_mode = "lttng-live";
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

/* ---- Following native traces (--follow) ------------------------------------------------ */

static int listed(const follow *f, const char *path) {
  for (size_t i = 0; i < f->npaths; i++)
    if (!strcmp(f->paths[i], path))
      return 1;
  return 0;
}

/* Starts following path once it holds a whole file header (a JSON file:
 * once it is not empty). fresh: only if it was written since following
 * began (a child's file left by an earlier run is not this run's). */
static void follow_add(follow *f, const char *path, int fresh) {
  if (listed(f, path))
    return;
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
    return;
  if (fresh && (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9 < f->start_real - 1.0)
    return;
  char head[CTRACE_FMT_MAGIC_LEN];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, head, sizeof head) : -1;
  if (fd >= 0)
    close(fd);
  int native = n == CTRACE_FMT_MAGIC_LEN && !memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
  if (native && st.st_size < CTRACE_FMT_FILE_HEADER_SIZE)
    return; /* its header is being written */
  if (f->npaths == FOLLOW_MAX_FILES) {
    if (!f->full_said++)
      fprintf(stderr, "ctrace view: following %d files already: %s and later ones are left out\n",
              FOLLOW_MAX_FILES, path);
    return;
  }
  char *p = strdup(path);
  if (!p)
    return;
  f->size[f->npaths] = -1;
  f->paths[f->npaths++] = p;
  if (f->npaths > 1)
    fprintf(stderr, "ctrace view: following %s too\n", path);
}

/* What to follow: each TRACE, its FILE.kernel (ctrace run's kernel events)
 * and its children's FILE.PID and FILE.PID.N (looked for when the
 * directory changed). */
static void follow_discover(follow *f) {
  for (size_t i = 0; i < f->nbases; i++) {
    const char *b = f->bases[i];
    follow_add(f, b, 0);
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s.kernel", b);
    follow_add(f, p, 0);
    char dcopy[PATH_MAX], bcopy[PATH_MAX];
    snprintf(dcopy, sizeof dcopy, "%s", b);
    snprintf(bcopy, sizeof bcopy, "%s", b);
    const char *dir = dirname(dcopy), *base = basename(bcopy);
    struct stat st;
    if (stat(dir, &st) != 0 || (st.st_mtim.tv_sec == f->dir_mtime[i].tv_sec &&
                                st.st_mtim.tv_nsec == f->dir_mtime[i].tv_nsec))
      continue;
    f->dir_mtime[i] = st.st_mtim;
    DIR *d = opendir(dir);
    if (!d)
      continue;
    size_t bl = strlen(base);
    for (struct dirent *e; (e = readdir(d));) {
      const char *n = e->d_name;
      if (strncmp(n, base, bl) || n[bl] != '.')
        continue;
      /* base.PID or base.PID.N */
      const char *q = n + bl + 1;
      size_t d1 = strspn(q, "0123456789");
      if (!d1 || (q[d1] && (q[d1] != '.' || !q[d1 + 1] ||
                            q[d1 + 1 + strspn(q + d1 + 1, "0123456789")])))
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, n);
      follow_add(f, p, 1);
    }
    closedir(d);
  }
}

/* Publishes why the latest rebuild failed (NULL: it did not). */
static void follow_problem(view *v, const char *why) {
  follow *f = &v->fw;
  if (!why) {
    v->ctx.live_problem = NULL;
    return;
  }
  if (v->ctx.live_problem && !strcmp(v->ctx.live_problem, why))
    return;
  for (size_t i = 0; i < f->nproblems; i++)
    if (!strcmp(f->problems[i], why)) {
      v->ctx.live_problem = f->problems[i];
      return;
    }
  fprintf(stderr, "ctrace view: cannot index the trace yet (still serving the previous state): "
                  "%s\n", why);
  if (f->nproblems < FOLLOW_MAX_PROBLEMS) {
    char *p = strdup(why);
    if (p) {
      f->problems[f->nproblems++] = p;
      v->ctx.live_problem = p;
    }
  }
}

static void follow_build(uv_work_t *w) {
  view *v = w->data;
  follow *f = &v->fw;
  double t = now_ms();
  f->next_err[0] = '\0';
  f->next = vx_build(f->paths, f->next_n, f->next_err, sizeof f->next_err);
  f->next_ms = now_ms() - t;
}

static void follow_built(uv_work_t *w, int status) {
  view *v = w->data;
  follow *f = &v->fw;
  f->busy = 0;
  /* Rebuilding takes at most about half of one core. */
  f->next_ok_ms = now_ms() + f->next_ms;
  if (status == 0 && f->next) {
    follow_problem(v, NULL);
    swap_in(v, f->next, f->next_n);
  } else if (status == 0) {
    follow_problem(v, f->next_err[0] ? f->next_err : "indexing failed");
    http_notify(&v->http);
  }
  f->next = NULL;
}

static void follow_end(view *v) {
  follow *f = &v->fw;
  f->ended = 1;
  uv_timer_stop(&f->timer);
  const vx_index *x = v->ctx.index;
  fprintf(stderr, "ctrace view: the trace ended: %" PRIu64 " events from %zu file%s; still "
                  "serving the timeline\n",
          vx_events(x), v->ctx.npaths, v->ctx.npaths == 1 ? "" : "s");
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    if (s->problem)
      fprintf(stderr, "ctrace view: %s: warning: %s\n", s->path, s->problem);
  }
  set_state(v, "ended");
}

/* The trace is whole: every file has its END record (or the run is over,
 * or nothing grew for a while and the processes writing are gone). */
static int follow_finished(view *v, double now) {
  follow *f = &v->fw;
  if (f->run_over)
    return 1;
  const vx_index *x = v->ctx.index;
  size_t ns = vx_source_count(x);
  if (!ns)
    return 0; /* nothing written yet */
  int writing = 0, alive = 0;
  for (size_t i = 0; i < ns; i++) {
    const vx_source *s = vx_source_get(x, i);
    writing |= rt_still_writing(s);
    if (s->pid > 0 && (kill(s->pid, 0) == 0 || errno == EPERM))
      alive = 1;
  }
  if (!writing)
    return now - f->grew_ms >= 3 * FOLLOW_POLL_MS;
  return !alive && now - f->grew_ms >= FOLLOW_QUIET_MS;
}

static void follow_tick(uv_timer_t *t) {
  view *v = t->data;
  follow *f = &v->fw;
  if (f->ended)
    return;
  follow_discover(f);
  double now = now_ms();
  int changed = f->npaths != f->tried_n;
  for (size_t i = 0; i < f->npaths; i++) {
    struct stat st;
    int64_t sz = stat(f->paths[i], &st) == 0 ? (int64_t)st.st_size : -1;
    if (sz != f->size[i])
      f->grew_ms = now;
    f->size[i] = sz;
    if (i < f->tried_n && sz != f->tried[i])
      changed = 1;
  }
  if (f->busy)
    return;
  if (changed) {
    if (now < f->next_ok_ms)
      return;
    f->busy = 1;
    f->next_n = f->npaths;
    f->tried_n = f->npaths;
    memcpy(f->tried, f->size, f->npaths * sizeof *f->size);
    f->work.data = v;
    if (uv_queue_work(v->loop, &f->work, follow_build, follow_built) != 0)
      f->busy = 0;
    return;
  }
  if (follow_finished(v, now))
    follow_end(v);
}

static void run_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  view *v = h->data;
  *b = uv_buf_init(v->fw.run_buf, sizeof v->fw.run_buf);
}

/* The launcher says the run is over (or is gone): what the files hold now
 * is the whole trace. */
static void run_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)b;
  view *v = st->data;
  follow *f = &v->fw;
  if (n == 0)
    return;
  f->run_over = 1; /* ("end\n", or EOF) */
  if (n < 0 && f->run_open) {
    f->run_open = 0;
    uv_close((uv_handle_t *)&f->run_pipe, NULL);
  }
  follow_tick(&f->timer); /* (at once: no need to wait for the next poll) */
}

static void follow_start(view *v, const char *url) {
  follow *f = &v->fw;
  v->ctx.live = "following";
  v->ctx.live_mode = "follow";
  for (size_t i = 0; i < f->nbases; i++)
    fprintf(stderr, "ctrace view: following %s (the timeline grows as it is written)\n",
            f->bases[i]);
  f->grew_ms = now_ms();
  uv_timer_init(v->loop, &f->timer);
  f->timer.data = v;
  uv_timer_start(&f->timer, follow_tick, FOLLOW_POLL_MS, FOLLOW_POLL_MS);
  if (f->run_fd >= 0) {
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", url);
    if (write(f->run_fd, line, (size_t)n) != n)
      f->run_over = 1; /* the launcher is gone */
    if (uv_pipe_init(v->loop, &f->run_pipe, 0) == 0 && uv_pipe_open(&f->run_pipe, f->run_fd) == 0) {
      f->run_pipe.data = v;
      f->run_open = 1;
      uv_read_start((uv_stream_t *)&f->run_pipe, run_alloc, run_read);
    }
  }
}

/* ---- Serving ---------------------------------------------------------------------------- */

static void on_signal(uv_signal_t *s, int sig) {
  view *v = s->data;
  fprintf(stderr, "ctrace view: %s, stopping\n", strsignal(sig));
  uv_stop(v->loop);
}

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
  if (v->fw.on) {
    follow *f = &v->fw;
    f->tried_n = v->npaths;
    for (size_t i = 0; i < f->tried_n; i++) {
      struct stat st;
      f->tried[i] = f->size[i] = stat(f->paths[i], &st) == 0 ? (int64_t)st.st_size : -1;
    }
    if (v->err[0])
      follow_problem(v, v->err);
  }
  for (size_t i = 0; i < vx_source_count(v->first); i++) {
    const vx_source *s = vx_source_get(v->first, i);
    if (s->problem && !(v->fw.on && rt_still_writing(s)))
      fprintf(stderr, "ctrace view: %s: warning: %s\n", s->path, s->problem);
  }
  fprintf(stderr, "ctrace view: indexed %" PRIu64 " events from %zu file%s in %.0f ms (%.1f MiB, "
          "%.1f bytes/event)\n",
          vx_events(v->first), v->npaths, v->npaths == 1 ? "" : "s", v->build_ms,
          (double)vx_memory(v->first) / 1048576.0,
          vx_events(v->first) ? (double)vx_memory(v->first) / (double)vx_events(v->first) : 0.0);
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
  char host[128], url[200];
  snprintf(host, sizeof host, shown, v->host);
  snprintf(url, sizeof url, "http://%s:%d/", host, port);
  printf("timeline: %s\n", url);
  fflush(stdout);
  if (v->lv.url)
    live_start(v);
  else if (v->fw.on)
    follow_start(v, url);
}

int sv_view(const sv_options *o) {
  static view v; /* (static: a live session's thread may outlive the loop) */
  memset(&v, 0, sizeof v);
  v.host = o->host ? o->host : "127.0.0.1";
  v.port = o->port;
  v.fw.run_fd = o->run_fd;
  v.fw.on = o->follow;
  v.lv.url = o->lttng_live;
  signal(SIGPIPE, SIG_IGN); /* a client that goes away is an error code, not a signal */
  if (v.lv.url && live_log(&v.lv)) {
    fprintf(stderr, "ctrace view: out of memory\n");
    return 1;
  }
  if (v.fw.on) {
    /* What exists of the traces now; more as they appear (follow_discover). */
    v.fw.bases = o->paths;
    v.fw.nbases = o->npaths;
    v.fw.dir_mtime = calloc(v.fw.nbases ? v.fw.nbases : 1, sizeof *v.fw.dir_mtime);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    v.fw.start_real = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
    if (!v.fw.dir_mtime) {
      fprintf(stderr, "ctrace view: out of memory\n");
      return 1;
    }
    follow_discover(&v.fw);
    v.paths = v.fw.paths;
    v.npaths = v.fw.npaths;
  } else {
    v.paths = v.lv.url ? (char *const *)&v.lv.url : o->paths;
    v.npaths = v.lv.url ? 1 : o->npaths;
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
  if (!v.http.holds) /* (else requests still read it on the thread pool: left to the exit) */
    vx_free(v.ctx.index ? v.ctx.index : v.first);
  free(web);
  /* (v.fw's paths and problem texts are left to the exit: requests may
   * still be reading them on the thread pool) */
  return v.status;
}
