/* The scale index answering (analysis.h: vs_*): opening (an index file
 * reused, or the pass run and its file written, next to the trace or in
 * the cache directory), the window of a thread at a resolution (from the
 * coarsest level finer than a pixel, or by decoding only the batches the
 * window touches, with the regions open at the first one replayed), one
 * region found again, and the names of labels. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "scale_internal.h"

/* ---- Opening -------------------------------------------------------------------------------- */

/* $XDG_CACHE_HOME/ctrace (or ~/.cache/ctrace), made if missing, + a name
 * from the trace's real path. */
static int cache_path(const char *trace, char *out, size_t cap) {
  const char *base = getenv("XDG_CACHE_HOME");
  char dir[PATH_MAX];
  if (base && *base)
    snprintf(dir, sizeof dir, "%s/ctrace", base);
  else if (getenv("HOME"))
    snprintf(dir, sizeof dir, "%s/.cache/ctrace", getenv("HOME"));
  else
    return -1;
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", dir);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    mkdir(parent, 0755);
  }
  if (mkdir(dir, 0755) && errno != EEXIST)
    return -1;
  char *real = realpath(trace, NULL);
  const char *name = strrchr(trace, '/') ? strrchr(trace, '/') + 1 : trace;
  uint64_t h = ctrace__fnv1a(real ? real : trace, strlen(real ? real : trace), 0xcace);
  free(real);
  snprintf(out, cap, "%s/%.100s-%016" PRIx64 ".idx", dir, name, h);
  return 0;
}

void vs_close(vs_index *x) {
  if (!x)
    return;
  vs__live_free(x);
  vs__unmap(x);
  rd_close(x->tr);
  pthread_mutex_destroy(&x->lock);
  free(x->path);
  free(x->kernel);
  free(x->idx_path);
  free(x);
}

/* Builds the index at idx, saying why (what the load found). @return 0,
 * or -1 with err. */
static int make_at(vs_index *x, const char *idx, const char *found, vs_progress progress, void *arg,
                   char *err, size_t errlen) {
  if (vs__make(x, idx, progress, arg, err, errlen)) {
    vs__unmap(x); /* (the pass starts again from nothing) */
    return -1;
  }
  if (strcmp(found, "none"))
    snprintf(x->why, sizeof x->why, "rebuilt %.400s (%.200s)", idx, found);
  else
    snprintf(x->why, sizeof x->why, "built %.600s", idx);
  if (x->kernel_note[0]) /* (said with how it was had) */
    snprintf(x->why + strlen(x->why), sizeof x->why - strlen(x->why), "; %.380s", x->kernel_note);
  x->idx_path = strdup(idx);
  return 0;
}

/* Reuses the index next to the trace, or the cache's; else builds it next
 * to the trace, or where that cannot be written, in the cache. */
vs_index *vs_open(const char *path, vs_progress progress, void *arg, char *err, size_t errlen) {
  vs_index *x = calloc(1, sizeof *x);
  if (!x || !(x->path = strdup(path))) {
    free(x);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&x->lock, NULL);
  char e[400];
  if (rd_open(path, 0, &x->tr, e, sizeof e)) {
    snprintf(err, errlen, "%s: %s", path, e);
    vs_close(x);
    return NULL;
  }
  char next[PATH_MAX + 8], cached[PATH_MAX + 200];
  snprintf(next, sizeof next, "%s.kernel", path);
  struct stat kst;
  if (stat(next, &kst) == 0 && S_ISREG(kst.st_mode) && !(x->kernel = strdup(next))) {
    snprintf(err, errlen, "out of memory");
    vs_close(x);
    return NULL;
  }
  snprintf(next, sizeof next, "%s.idx", path);
  int have_cache = cache_path(path, cached, sizeof cached) == 0;
  char found[300], found_cache[300];
  const char *hit = NULL;
  if (!vs__load(x, next, 0, found, sizeof found))
    hit = next;
  else if (have_cache && !vs__load(x, cached, 0, found_cache, sizeof found_cache))
    hit = cached;
  if (hit) {
    x->reused = 1;
    snprintf(x->why, sizeof x->why, "reused %.900s", hit);
    x->idx_path = strdup(hit);
    return x;
  }
  char e1[400];
  if (!make_at(x, next, found, progress, arg, e1, sizeof e1))
    return x;
  if (have_cache && !make_at(x, cached, found, progress, arg, err, errlen)) {
    char note[sizeof x->why + sizeof e1 + 32];
    snprintf(note, sizeof note, "%s (next to the trace: %s)", x->why, e1);
    snprintf(x->why, sizeof x->why, "%.1000s", note);
    return x;
  }
  if (!have_cache)
    snprintf(err, errlen, "%s; and no cache directory ($XDG_CACHE_HOME or $HOME unset)", e1);
  vs_close(x);
  return NULL;
}

vs_index *vs_open_unchecked(const char *trace, const char *idx, char *err, size_t errlen) {
  vs_index *x = calloc(1, sizeof *x);
  if (!x || !(x->path = strdup(trace))) {
    free(x);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&x->lock, NULL);
  if (rd_open(trace, 0, &x->tr, err, errlen) || vs__load(x, idx, VS_LOAD_UNCHECKED, err, errlen)) {
    vs_close(x);
    return NULL;
  }
  return x;
}

const char *vs_how(const vs_index *x) { return x->why; }
int vs_reused(const vs_index *x) { return x->reused; }
const char *vs_index_path(const vs_index *x) { return x->idx_path; }
rd_trace *vs_trace(vs_index *x) { return x->tr; }
uint64_t vs_t0(const vs_index *x) { return x->t0; }
uint64_t vs_t1(const vs_index *x) { return x->t1; }
uint64_t vs_events(const vs_index *x) { return x->events; }
uint64_t vs_file_bytes(const vs_index *x) { return x->live ? vs_live_bytes(x) : x->map_len; }
size_t vs_thread_count(const vs_index *x) { return x->nthreads; }

int vs_thread_info(vs_index *x, size_t i, vs_thread_facts *f) {
  if (i >= x->nthreads)
    return -1;
  const vs_thread *t = &x->threads[i];
  memset(f, 0, sizeof *f);
  f->tid = t->tid;
  f->serial = t->serial;
  f->kernel = (int)t->kernel;
  f->events = t->events;
  f->depth = t->maxdepth;
  const rd_thread *rt = rd_thread_get(x->tr, t->rd);
  f->name = t->name[0] ? t->name : rt && rt->name ? rt->name : "";
  for (uint32_t k = 0; k < t->nlanes; k++) {
    const vs_lane *l = &x->lanes[t->lane0 + k];
    if (l->depth == VS_LANE_INSTANTS)
      f->instants += l->items;
    else if (l->depth == VS_LANE_STATES)
      f->states += l->items;
    else
      f->slices += l->items;
  }
  return 0;
}

/* ---- Names ---------------------------------------------------------------------------------- */

void vs_label(vs_index *x, uint32_t key, vs_label_facts *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&x->lock);
  unsigned type = VS_KEY_TYPE(key);
  uint64_t id = VS_KEY_ID(key);
  if (id == VS_KEY_IDS) {
    snprintf(out->name, sizeof out->name, "?");
    out->cat = "region";
    pthread_mutex_unlock(&x->lock);
    return;
  }
  size_t n = 0;
  const char *s;
  out->cpu = -1;
  if (type == VS_KEY_STATE) {
    static const char *const names[8] = {"?",    "running",  "runnable", "syscall",
                                         "lock", "sleeping", "blocked",  "?"};
    snprintf(out->name, sizeof out->name, "%s", names[id & 7]);
    out->cat = "state";
    out->cpu = (int)(id >> 3) - 1;
    pthread_mutex_unlock(&x->lock);
    return;
  }
  switch (type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_INSTANT: {
    const rd_site *st = rd_site_get(x->tr, id);
    snprintf(out->name, sizeof out->name, "%s", st->name);
    snprintf(out->file, sizeof out->file, "%s", st->file ? st->file : "");
    snprintf(out->func, sizeof out->func, "%s", st->func ? st->func : "");
    out->line = st->line;
    out->cat = type == CTRACE_FMT_EV_INSTANT ? "instant" : "region";
    break;
  }
  case CTRACE_FMT_EV_REGION_BEGIN_STR:
    s = rd_string(x->tr, id, &n);
    snprintf(out->name, sizeof out->name, "%.*s", (int)n, s);
    out->cat = "region";
    break;
  default: /* GC_BEGIN */
    s = rd_string(x->tr, id, &n);
    snprintf(out->name, sizeof out->name, "%.*s", (int)n, n ? s : "gc");
    out->cat = "gc";
    break;
  }
  pthread_mutex_unlock(&x->lock);
}

/* ---- Windows -------------------------------------------------------------------------------- */

/* Per pixel, the longest item and how many it stands for; items a pixel
 * wide or more one by one (what the full index's windows do). */
typedef struct merger {
  uint32_t depth;
  uint64_t cur, merged;
  vs_item best;
} merger;

typedef struct wctx {
  uint64_t t0, t1, w;
  vs_emit fn;
  void *arg;
  merger *m; /* per depth, the instants' last */
  size_t nm;
} wctx;

static void flush(wctx *c, merger *m) {
  if (m->merged) {
    m->best.merged = m->merged;
    c->fn(c->arg, &m->best);
  }
  m->merged = 0;
  m->cur = UINT64_MAX;
}

static void offer(wctx *c, merger *m, const vs_item *it) {
  if (it->start > c->t1 || it->start + it->dur < c->t0)
    return;
  if (it->dur >= c->w && it->dur) {
    flush(c, m);
    vs_item one = *it;
    c->fn(c->arg, &one);
    return;
  }
  uint64_t b = it->start <= c->t0 ? 0 : (it->start - c->t0) / c->w;
  if (b != m->cur) {
    flush(c, m);
    m->cur = b;
    m->best = *it;
    m->merged = it->merged;
  } else {
    m->merged += it->merged;
    if (it->dur > m->best.dur) {
      uint64_t keep = m->merged;
      m->best = *it;
      m->merged = keep;
    }
  }
}

/* First entry whose bucket may hold an item reaching t0. */
static size_t entry_lower(const vs_entry *e, size_t n, uint64_t t0) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (e[mid].start < t0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo ? lo - 1 : 0; /* (the one before may reach in) */
}

/* A live index's regions still open (vs__live_open) go after their
 * depth's entries: each began after every region of its depth ended. */
static void window_levels(vs_index *x, const vs_thread *t, wctx *c, int states_only) {
  vs_item open[64];
  size_t nopen = states_only ? 0 : vs__live_open(x, (size_t)(t - x->threads), open, 64);
  for (uint32_t k = 0; k < t->nlanes; k++) {
    const vs_lane *l = &x->lanes[t->lane0 + k];
    if (states_only && l->depth != VS_LANE_STATES)
      continue;
    uint32_t lv = 0;
    while (lv + 1 < l->nlevels && l->shift + 2 * (lv + 1) < 64 &&
           (1ull << (l->shift + 2 * (lv + 1))) <= c->w)
      lv++;
    const vs_entry *e = l->lv[lv].e;
    size_t n = l->lv[lv].n;
    merger m = {.depth = l->depth, .cur = UINT64_MAX};
    for (size_t i = entry_lower(e, n, c->t0); i < n && e[i].start <= c->t1; i++) {
      vs_item it = {l->depth, e[i].start, e[i].dur, e[i].key, e[i].count, 0};
      offer(c, &m, &it);
    }
    if (l->depth < nopen) {
      offer(c, &m, &open[l->depth]);
      open[l->depth].merged = 0; /* (offered) */
    }
    flush(c, &m);
  }
  for (size_t d = 0; d < nopen; d++) /* (depths with no region ended yet) */
    if (open[d].merged) {
      merger m = {.depth = (uint32_t)d, .cur = UINT64_MAX};
      offer(c, &m, &open[d]);
      flush(c, &m);
    }
}

typedef struct dec_open {
  uint64_t start;
  uint32_t key;
} dec_open;

int vs__decode(vs_index *x, const vs_thread *t, uint64_t t0, uint64_t t_stop, uint64_t open_end,
               int (*fn)(void *arg, const vs_item *it), void *arg) {
  size_t lo = vs__first_batch(t, t0);
  if (t->kernel || lo == t->nbatches)
    return 0;
  dec_open stack[VS_MAX_DEPTH];
  size_t depth = 0;
  const vs_batch *b = &t->batches[lo];
  for (uint32_t i = 0; i < b->npre; i++) {
    const vs_pre *p = &t->pre[b->pre + i];
    if (p->type != CTRACE_FMT_EV_TASK_SWITCH && depth < VS_MAX_DEPTH)
      stack[depth++] = (dec_open){p->ts, VS_KEY(p->type, p->arg0)};
  }
  rd_stream *s = rd_stream_open_at(x->tr, t->rd, lo, RD_STREAM_OWN);
  if (!s)
    return CTRACE_ENOMEM;
  rd_event ev;
  int r, stop = 0;
  uint64_t last = t0;
  size_t extra = 0; /* (deeper than VS_MAX_DEPTH: counted, not kept) */
  int past = 0;     /* stopped at an event after the window */
  while (!stop && (r = rd_stream_next(s, &ev)) == 1) {
    if (ev.ts > t_stop) {
      past = 1;
      break;
    }
    last = ev.ts;
    switch (ev.type) {
    case CTRACE_FMT_EV_REGION_BEGIN:
    case CTRACE_FMT_EV_REGION_BEGIN_STR:
    case CTRACE_FMT_EV_GC_BEGIN:
      if (depth < VS_MAX_DEPTH)
        stack[depth++] = (dec_open){ev.ts, VS_KEY(ev.type, ev.arg[0])};
      else
        extra++;
      break;
    case CTRACE_FMT_EV_REGION_END:
    case CTRACE_FMT_EV_GC_END:
      if (extra)
        extra--;
      else if (depth) {
        depth--;
        vs_item it = {(uint32_t)depth,
                      stack[depth].start,
                      ev.ts - stack[depth].start,
                      stack[depth].key,
                      1,
                      0};
        stop = fn(arg, &it);
      }
      break;
    case CTRACE_FMT_EV_INSTANT: {
      vs_item it = {VS_LANE_INSTANTS, ev.ts, 0, VS_KEY(ev.type, ev.arg[0]), 1, 0};
      stop = fn(arg, &it);
      break;
    }
    default: break;
    }
  }
  rd_stream_close(s);
  uint64_t end = past ? open_end : last;
  while (depth && !stop) { /* open past the window (or past the thread's end) */
    depth--;
    vs_item it = {(uint32_t)depth,
                  stack[depth].start,
                  end > stack[depth].start ? end - stack[depth].start : 0,
                  stack[depth].key,
                  1,
                  1};
    stop = fn(arg, &it);
  }
  return r < 0 ? r : 0;
}

static int decoded_item(void *arg, const vs_item *it) {
  wctx *c = arg;
  size_t i = it->depth == VS_LANE_INSTANTS ? c->nm - 1 : it->depth;
  if (i < c->nm)
    offer(c, &c->m[i], it);
  return 0;
}

int vs_window(vs_index *x, size_t thread, uint64_t t0, uint64_t t1, uint64_t w, vs_emit fn,
              void *arg) {
  if (thread >= x->nthreads)
    return CTRACE_EINVAL;
  const vs_thread *t = &x->threads[thread];
  wctx c = {t0, t1, w ? w : 1, fn, arg, NULL, 0};
  /* From the levels once the finest lane's are a pixel or finer (a lane made
   * coarser, one of few items, then shows a mark per bucket of it); finer,
   * decoded: a window then holds at most ~2^20 / px of the trace's span. */
  if (c.w >= 1ull << t->shift_min) {
    window_levels(x, t, &c, 0);
    return 0;
  }
  window_levels(x, t, &c, 1); /* (the states' lane: every state at level 0) */
  merger m[VS_MAX_DEPTH + 1];
  c.nm = VS_MAX_DEPTH + 1;
  c.m = m;
  for (size_t i = 0; i < c.nm; i++)
    m[i] = (merger){.depth = i == c.nm - 1 ? VS_LANE_INSTANTS : (uint32_t)i, .cur = UINT64_MAX};
  int r = vs__decode(x, t, t0, t1, t1, decoded_item, &c);
  for (size_t i = 0; i < c.nm; i++)
    flush(&c, &m[i]);
  return r;
}

/* ---- One region again ----------------------------------------------------------------------- */

typedef struct find {
  uint32_t depth;
  uint64_t start;
  vs_item found;
  int have;
} find;

static int find_item(void *arg, const vs_item *it) {
  find *f = arg;
  if (it->depth == f->depth && it->start == f->start) {
    f->found = *it;
    f->have = 1;
    return 1;
  }
  return 0;
}

/* A state: level 0 of the thread's states lane holds each. */
static int find_state(vs_index *x, const vs_thread *t, uint64_t start, vs_item *out) {
  for (uint32_t k = 0; k < t->nlanes; k++) {
    const vs_lane *l = &x->lanes[t->lane0 + k];
    if (l->depth != VS_LANE_STATES)
      continue;
    const vs_entry *e = l->lv[0].e;
    size_t i = entry_lower(e, l->lv[0].n, start);
    for (; i < l->lv[0].n && e[i].start <= start; i++)
      if (e[i].start == start) {
        *out = (vs_item){VS_STATES_DEPTH, e[i].start, e[i].dur, e[i].key, 1, 0};
        return 0;
      }
  }
  return CTRACE_ENOENT;
}

int vs_find(vs_index *x, size_t thread, uint32_t depth, uint64_t start, vs_item *out) {
  if (thread >= x->nthreads)
    return CTRACE_EINVAL;
  const vs_thread *t = &x->threads[thread];
  if (depth == VS_STATES_DEPTH)
    return find_state(x, t, start, out);
  find f = {depth, start, {0}, 0};
  /* From the batch holding its start, decoding until it ends (at most to
   * the trace's end). */
  int r = vs__decode(x, t, start, x->t1, x->t1, find_item, &f);
  if (r)
    return r;
  if (!f.have)
    return CTRACE_ENOENT;
  *out = f.found;
  return 0;
}
