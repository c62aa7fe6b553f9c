/* `ctrace view --lttng-live URL`: an LTTng live session through
 * lttng-relayd. A thread follows the session into a growing event log
 * (te_log); a timer on the loop rebuilds the index from what arrived every
 * 250 ms on the thread pool, and swaps it in (sv__swap_in); when the
 * session ends or fails, the state says so ("ended", "failed: WHY"). */
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "read.h"
#include "server_internal.h"

/* ---- The live thread ------------------------------------------------------------------- */

/* The live thread's handler: every event into the log (its beginning is
 * there already: sv__live_log). */
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

/* ---- Rebuilding the index (thread pool, then loop) --------------------------------------- */

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
    sv__swap_in(v, l->next, 1);
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
    sv__set_state(v, l->state);
  }
  if (!l->busy && (len != l->built_len || (done && !rc && !l->built_done))) {
    l->busy = 1;
    l->work.data = v;
    uv_queue_work(v->loop, &l->work, live_rebuild, live_rebuilt);
  } else if (!l->busy && done && !rc && l->built_done && !l->said) {
    /* "ended" once the index holds the whole session */
    l->said = 1;
    sv__set_state(v, "ended");
    uv_timer_stop(&l->timer);
  }
}

/* ---- Starting ------------------------------------------------------------------------------ */

int sv__live_log(live *l) {
  if (!(l->log = te_log_new()))
    return -1;
  te_source src = {.path = l->url, .format = "lttng-live", .process = ""};
  te_event ev = {.type = TE_SOURCE_BEGIN};
  if (te_log_append(l->log, &src, &ev))
    return -1;
  l->len = 1;
  return 0;
}

void sv__live_start(view *v) {
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
