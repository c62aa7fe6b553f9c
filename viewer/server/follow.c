/* `ctrace view --follow TRACE...`: native traces still being written.
 * Their sizes are polled every 100 ms, with FILE.kernel and the FILE.PID
 * of children as they appear; when something grew, the index grows by
 * what was appended (vx_grow, on the thread pool, under the write side of
 * ctx.lock once it is served), or where the files cannot grow so (a
 * kernel stream, JSON) is rebuilt whole; either takes at most about half
 * of one core, and is swapped in (sv__swap_in). An update that fails
 * leaves the previous index served and says why (ctx.live_problem). The
 * trace has ended when every file has its END record, or nothing grew for
 * a while and its writers are gone; before saying so, one last update
 * takes every batch (a growing index waits for a batch's definitions and
 * clock points: rd_settled).
 *
 * ctrace run --view: the launcher's socket (run_fd) gets the URL once
 * serving, and says when the run is over (or closes): what the files hold
 * then is the whole trace. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "ctrace/format.h"
#include "server_internal.h"

#define FOLLOW_POLL_MS 100
#define FOLLOW_QUIET_MS 2000           /* no growth for this long and their writers gone: ended */
#define FOLLOW_FULL_EVENTS 16000000ull /* (auto) then a scale index */

/* ---- What to follow -------------------------------------------------------------------- */

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
      if (!d1 ||
          (q[d1] && (q[d1] != '.' || !q[d1 + 1] || q[d1 + 1 + strspn(q + d1 + 1, "0123456789")])))
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, n);
      follow_add(f, p, 1);
    }
    closedir(d);
  }
}

int sv__follow_init(view *v, const sv_options *o) {
  follow *f = &v->fw;
  f->bases = o->paths;
  f->nbases = o->npaths;
  f->scale_want = o->follow_scale;
  f->dir_mtime = calloc(f->nbases ? f->nbases : 1, sizeof *f->dir_mtime);
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  f->start_real = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9;
  if (!f->dir_mtime)
    return -1;
  follow_discover(f);
  v->paths = f->paths;
  v->npaths = f->npaths;
  return 0;
}

/* ---- Rebuilding the index (thread pool, then loop) --------------------------------------- */

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
  fprintf(stderr,
          "ctrace view: cannot index the trace yet (still serving the previous state): "
          "%s\n",
          why);
  if (f->nproblems < FOLLOW_MAX_PROBLEMS) {
    char *p = strdup(why);
    if (p) {
      f->problems[f->nproblems++] = p;
      v->ctx.live_problem = p;
    }
  }
}

void sv__follow_first(view *v) {
  follow *f = &v->fw;
  f->all_done = 1; /* (the first index holds every byte there was) */
  f->tried_n = v->npaths;
  for (size_t i = 0; i < f->tried_n; i++) {
    struct stat st;
    f->tried[i] = f->size[i] = stat(f->paths[i], &st) == 0 ? (int64_t)st.st_size : -1;
  }
  if (v->err[0])
    follow_problem(v, v->err);
}

/* The growing index takes what the files appended. @return 0, or -1 when
 * they cannot grow so (built whole from now on). */
static int follow_grow(follow *f) {
  if (!f->grow && !(f->grow = vx_grow_open(f->paths, f->next_n, f->next_err, sizeof f->next_err))) {
    f->grow_whole = 1; /* (JSON: built whole) */
    return -1;
  }
  if (f->grow_served)
    uv_rwlock_wrlock(&f->lock);
  f->next_rc =
      vx_grow_more(f->grow, f->paths, f->next_n, f->next_all, f->next_err, sizeof f->next_err);
  if (f->grow_served)
    uv_rwlock_wrunlock(&f->lock);
  return f->next_rc == VX_GROW_WHOLE ? -1 : 0;
}

/* ---- Through a scale index kept in memory --------------------------------------------------- */

/* Whether the followed files are due a live scale index: one ctrace file
 * (what is joined later, FILE.kernel or a child's, is then left out), with
 * --index scale, or by default once it passes $CTRACE_SCALE_MIB MiB or the
 * full index holds FOLLOW_FULL_EVENTS (12 to 19 bytes each: the file may
 * hold many more events per byte than that size says). */
static int follow_scale_due(const follow *f, size_t n, const int64_t *size) {
  if (f->scale)
    return 1;
  if (f->scale_want < 0 || n != 1)
    return 0;
  const char *mib = getenv("CTRACE_SCALE_MIB");
  double min = mib && *mib ? atof(mib) : 32.0;
  uint64_t full = f->grow ? vx_events(vx_grow_index(f->grow)) : 0;
  if (!f->scale_want && (double)size[0] < min * 1048576.0 && full < FOLLOW_FULL_EVENTS)
    return 0;
  char head[CTRACE_FMT_MAGIC_LEN];
  int fd = open(f->paths[0], O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, head, sizeof head) : -1;
  if (fd >= 0)
    close(fd);
  return got == CTRACE_FMT_MAGIC_LEN && !memcmp(head, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
}

/* The scale index takes what the file appended (under the write side of
 * the lock once served). next_rc: 0, or an error with next_err. */
static void follow_scale_grow(follow *f) {
  f->took_scale = 1;
  if (!f->scale && !(f->scale = vs_live_open(f->paths[0], f->next_err, sizeof f->next_err))) {
    f->next_rc = -1;
    return;
  }
  if (f->scale_served)
    uv_rwlock_wrlock(&f->lock);
  f->next_rc = vs_live_more(f->scale, f->next_all, f->next_err, sizeof f->next_err);
  if (f->scale_served)
    uv_rwlock_wrunlock(&f->lock);
}

int sv__follow_scale_first(view *v) {
  follow *f = &v->fw;
  int64_t size[FOLLOW_MAX_FILES];
  for (size_t i = 0; i < f->npaths; i++) {
    struct stat st;
    size[i] = stat(f->paths[i], &st) == 0 ? (int64_t)st.st_size : -1;
  }
  if (!follow_scale_due(f, f->npaths, size))
    return 0;
  f->next_all = 0;
  follow_scale_grow(f);
  if (!f->scale)
    return 0; /* (not readable yet: the full index's way says why) */
  if (f->next_rc)
    snprintf(v->err, sizeof v->err, "%s", f->next_err);
  f->scale_served = 1; /* (from when it is served: before any update) */
  f->grow_whole = 1;
  v->ctx.scale = f->scale;
  char e[8];
  v->first = vx_build(NULL, 0, e, sizeof e);
  return 1;
}

/* The scale index made: served from now on in place of the full index,
 * which is let go. */
static void follow_scale_serve(view *v) {
  follow *f = &v->fw;
  f->scale_served = 1;
  v->ctx.scale = f->scale;
  fprintf(stderr,
          "ctrace view: %s is big: followed from now on through a scale index kept in memory "
          "(%" PRIu64 " events, %.1f MiB), which answers the timeline's regions and instants "
          "(not the other panels)\n",
          f->paths[0], vs_events(f->scale), (double)vs_live_bytes(f->scale) / 1048576.0);
  if (f->grow) /* (a served one is freed when swapped out) */
    vx_grow_close(f->grow, !f->grow_served);
  f->grow = NULL;
  f->grow_whole = 1;
  char e[8];
  vx_index *empty = vx_build(NULL, 0, e, sizeof e);
  sv__swap_in(v, empty ? empty : v->ctx.index, 1);
}

static void follow_scale_built(view *v) {
  follow *f = &v->fw;
  if (f->npaths > 1 && !f->kernel_said++)
    fprintf(stderr,
            "ctrace view: %s and the files after it are not shown: a scale index reads "
            "one trace file\n",
            f->paths[1]);
  if (!f->scale) {
    follow_problem(v, f->next_err[0] ? f->next_err : "cannot read the trace yet");
    http_notify(&v->http);
    return;
  }
  follow_problem(v, f->next_rc ? f->next_err : NULL);
  if (!f->scale_served) {
    follow_scale_serve(v);
    return;
  }
  v->ctx.generation++;
  http_notify(&v->http);
}

/* ---- Building or growing the index ---------------------------------------------------------- */

static void follow_build(uv_work_t *w) {
  view *v = w->data;
  follow *f = &v->fw;
  double t = sv__now_ms();
  f->next_err[0] = '\0';
  f->next = NULL;
  f->took_scale = 0;
  if (follow_scale_due(f, f->next_n, f->tried)) {
    follow_scale_grow(f);
    f->next_ms = sv__now_ms() - t;
    return;
  }
  if (f->grow_whole || follow_grow(f) != 0) {
    f->next_err[0] = '\0';
    f->next = vx_build(f->paths, f->next_n, f->next_err, sizeof f->next_err);
  }
  f->next_ms = sv__now_ms() - t;
}

/* The growing index after an update: served (the first time, in place of
 * the index built whole), or given up for good (VX_GROW_WHOLE). @return 1
 * if the update was the growing index's. */
static int follow_grown(view *v) {
  follow *f = &v->fw;
  if (!f->grow)
    return 0;
  if (f->next_rc == VX_GROW_WHOLE || f->next) { /* (built whole instead) */
    fprintf(stderr, "ctrace view: the index is built whole at each update from now on%s%s\n",
            f->next_rc == VX_GROW_WHOLE && f->next_err[0] ? ": " : "",
            f->next_rc == VX_GROW_WHOLE ? f->next_err : "");
    vx_grow_close(f->grow, !f->grow_served); /* (a served one is freed when swapped out) */
    f->grow = NULL;
    f->grow_whole = 1;
    return 0;
  }
  follow_problem(v, f->next_rc ? f->next_err : NULL);
  f->grow_served = 1;
  sv__swap_in(v, vx_grow_index(f->grow), f->next_n);
  return 1;
}

static void follow_built(uv_work_t *w, int status) {
  view *v = w->data;
  follow *f = &v->fw;
  f->busy = 0;
  /* Rebuilding takes at most about half of one core; growing costs what
   * was appended, and waiting would only leave more for the next update. */
  f->next_ok_ms = sv__now_ms() + ((f->grow && !f->next) || f->took_scale ? 0 : f->next_ms);
  if (f->took_scale) {
    if (status == 0)
      follow_scale_built(v);
    return;
  }
  if (status == 0 && follow_grown(v))
    return;
  if (status == 0 && f->next) {
    follow_problem(v, NULL);
    sv__swap_in(v, f->next, f->next_n);
  } else if (status == 0) {
    follow_problem(v, f->next_err[0] ? f->next_err : "indexing failed");
    http_notify(&v->http);
  }
  f->next = NULL;
}

/* ---- Polling: growth, and the end ---------------------------------------------------------- */

static void follow_end(view *v) {
  follow *f = &v->fw;
  f->ended = 1;
  uv_timer_stop(&f->timer);
  const vx_index *x = v->ctx.index;
  if (v->ctx.scale) {
    rd_trace *tr = vs_trace(v->ctx.scale);
    fprintf(stderr,
            "ctrace view: the trace ended: %" PRIu64 " events; still serving the timeline\n",
            vs_events(v->ctx.scale));
    if (rd_problem(tr))
      fprintf(stderr, "ctrace view: %s: warning: %s\n", v->ctx.paths[0], rd_problem(tr));
    sv__set_state(v, "ended");
    return;
  }
  fprintf(stderr,
          "ctrace view: the trace ended: %" PRIu64 " events from %zu file%s; still "
          "serving the timeline\n",
          vx_events(x), v->ctx.npaths, v->ctx.npaths == 1 ? "" : "s");
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    if (s->problem)
      fprintf(stderr, "ctrace view: %s: warning: %s\n", s->path, s->problem);
  }
  sv__set_state(v, "ended");
}

/* The trace is whole: every file has its END record (or the run is over,
 * or nothing grew for a while and the processes writing are gone). */
static int follow_finished(view *v, double now) {
  follow *f = &v->fw;
  if (f->run_over)
    return 1;
  const vx_index *x = v->ctx.index;
  size_t ns = v->ctx.scale ? 1 : vx_source_count(x);
  if (!ns)
    return 0; /* nothing written yet */
  int writing = 0, alive = 0;
  for (size_t i = 0; i < ns; i++) {
    int pid;
    if (v->ctx.scale) { /* (no update runs meanwhile: read without the lock) */
      rd_trace *tr = vs_trace(v->ctx.scale);
      writing |= !rd_complete(tr);
      pid = rd_pid(tr);
    } else {
      const vx_source *s = vx_source_get(x, i);
      writing |= rt_still_writing(s);
      pid = s->pid;
    }
    if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM))
      alive = 1;
  }
  if (!writing)
    return now - f->grew_ms >= 3 * FOLLOW_POLL_MS;
  return !alive && now - f->grew_ms >= FOLLOW_QUIET_MS;
}

/* An update on the thread pool: the index grows, or is built again. */
static void follow_update(view *v, int all) {
  follow *f = &v->fw;
  f->busy = 1;
  f->next_n = f->npaths;
  f->tried_n = f->npaths;
  f->next_all = all;
  f->all_done = all;
  memcpy(f->tried, f->size, f->npaths * sizeof *f->size);
  f->work.data = v;
  if (uv_queue_work(v->loop, &f->work, follow_build, follow_built) != 0)
    f->busy = 0;
}

static void follow_tick(uv_timer_t *t) {
  view *v = t->data;
  follow *f = &v->fw;
  if (f->ended)
    return;
  follow_discover(f);
  double now = sv__now_ms();
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
    follow_update(v, f->run_over);
    return;
  }
  /* Quiet, or over: what the growing index left for its definitions and
   * clock points comes now (once), before the end is said. */
  if ((!f->grow_whole || f->scale) && !f->all_done &&
      (f->run_over || now - f->grew_ms >= 2 * FOLLOW_POLL_MS)) {
    follow_update(v, 1);
    return;
  }
  if (follow_finished(v, now))
    follow_end(v);
}

/* ---- ctrace run --view's socket ------------------------------------------------------------- */

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

/* ---- Starting ------------------------------------------------------------------------------ */

void sv__follow_start(view *v, const char *url) {
  follow *f = &v->fw;
  v->ctx.live = "following";
  v->ctx.live_mode = "follow";
  for (size_t i = 0; i < f->nbases; i++)
    fprintf(stderr, "ctrace view: following %s (the timeline grows as it is written)\n",
            f->bases[i]);
  f->grew_ms = sv__now_ms();
  /* Writers first: requests that keep coming must not hold an update off
   * (no one takes the read side twice). (uv_rwlock_t is pthread's here.) */
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  if (pthread_rwlock_init(&f->lock, &attr) == 0)
    v->ctx.lock = &f->lock;
  else
    f->grow_whole = 1; /* (no lock: built whole, as swapped indexes need none) */
  pthread_rwlockattr_destroy(&attr);
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
