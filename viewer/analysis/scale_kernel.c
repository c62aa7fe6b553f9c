/* The scale index's thread states (scale_internal.h: vs__states): the
 * kernel's stream beside a `ctrace run` trace (FILE.kernel) read alone,
 * as typed events (read.h: te_set_read_one; its context switches become
 * TE_STATE spans: running on a CPU, runnable, off CPU), into a lane per
 * thread of the trace whose every state is its own entry at level 0
 * (switches are few beside a program's events: a window at any zoom is
 * answered from the levels, never by decoding the kernel's stream). Off-CPU
 * time is "blocked" here: the full index refines it by the wrappers' spans
 * (in a system call, on a lock, sleeping), which this pass does not read. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "scale_internal.h"

typedef struct kstates {
  vs_entry *e;
  size_t n, cap;
} kstates;

typedef struct kpass {
  vs_index *x;
  kstates *per; /* per thread of x */
  vh_map tid;   /* tid -> thread index + 1 */
  uint64_t end; /* the latest time seen (what "to the end" ends at) */
  uint64_t unknown;
  int err;
} kpass;

static int on_event(void *arg, const te_source *src, const te_event *ev) {
  (void)src;
  kpass *k = arg;
  if (ev->type != TE_STATE)
    return 0;
  int to_end = (ev->flags & TE_F_TO_END) != 0;
  uint64_t stop = to_end ? 0 : ev->ts + ev->dur;
  if (stop > k->end)
    k->end = stop;
  if (ev->ts > k->end)
    k->end = ev->ts;
  uint32_t *ti = vh_get(&k->tid, (uint64_t)(uint32_t)ev->tid);
  if (!ti) {
    k->unknown++; /* (a thread only the kernel knows: no row here) */
    return 0;
  }
  kstates *s = &k->per[*ti - 1];
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256;
    vs_entry *e = realloc(s->e, cap * sizeof *e);
    if (!e)
      return CTRACE_ENOMEM;
    s->e = e;
    s->cap = cap;
  }
  int cpu = ev->u.state.cpu >= 0 && ev->u.state.cpu < (1 << 20) ? ev->u.state.cpu + 1 : 0;
  uint32_t id = (uint32_t)(ev->u.state.state & 7) | (uint32_t)cpu << 3;
  /* dur UINT64_MAX: to the end, known once the stream is read */
  s->e[s->n++] = (vs_entry){ev->ts, to_end ? UINT64_MAX : ev->dur, VS_KEY(VS_KEY_STATE, id), 1};
  return 0;
}

static int by_start(const void *a, const void *b) {
  const vs_entry *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* Thread i's states, ended and in order, as a lane appended to its own. */
static int thread_states(kpass *k, vs_out *out, size_t i) {
  kstates *s = &k->per[i];
  vs_thread *th = &k->x->threads[i];
  size_t m = 0;
  for (size_t j = 0; j < s->n; j++) { /* (empty spans are no state, as the full index has it) */
    vs_entry e = s->e[j];
    if (e.dur == UINT64_MAX)
      e.dur = k->end > e.start ? k->end - e.start : 0;
    if (e.dur)
      s->e[m++] = e;
  }
  if (!m)
    return 0;
  qsort(s->e, m, sizeof *s->e, by_start); /* (they come as they end) */
  vs_lane *l = realloc(th->lanes_tmp, (th->nlanes + 1) * sizeof *l);
  if (!l)
    return CTRACE_ENOMEM;
  th->lanes_tmp = l;
  vs_lane *lane = &l[th->nlanes++];
  memset(lane, 0, sizeof *lane);
  lane->thread = (uint32_t)i;
  lane->depth = VS_LANE_STATES;
  lane->items = m;
  lane->nlevels = vs__write_levels(out, s->e, m, 0, lane);
  return out->err;
}

int vs__states(vs_index *x, vs_out *out, char *err, size_t errlen) {
  if (!x->kernel)
    return 0;
  char *paths[2] = {x->path, x->kernel};
  te_set *set = te_set_open(paths, 2, 0, err, errlen);
  if (!set)
    return CTRACE_EFORMAT;
  kpass k = {.x = x, .per = calloc(x->nthreads ? x->nthreads : 1, sizeof *k.per)};
  int r = k.per ? 0 : CTRACE_ENOMEM;
  for (size_t i = 0; !r && i < x->nthreads; i++)
    if (!x->threads[i].kernel &&
        vh_put(&k.tid, (uint64_t)(uint32_t)x->threads[i].tid, (uint32_t)i + 1))
      r = CTRACE_ENOMEM;
  if (!r)
    r = te_set_read_one(set, 1, on_event, &k, err, errlen);
  if (k.end < x->t1)
    k.end = x->t1;
  for (size_t i = 0; !r && i < x->nthreads; i++)
    r = thread_states(&k, out, i);
  if (r && !err[0])
    snprintf(err, errlen, "%s: %s", x->kernel, ctrace_strerror(r));
  for (size_t i = 0; k.per && i < x->nthreads; i++)
    free(k.per[i].e);
  free(k.per);
  vh_free(&k.tid);
  te_set_close(set);
  return r;
}
