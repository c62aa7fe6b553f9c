/* The scale index's thread states (scale_internal.h: vs__states): the
 * kernel's stream beside a `ctrace run` trace (FILE.kernel) read alone,
 * as typed events (read.h: te_set_read_one; its context switches become
 * TE_STATE spans: running on a CPU, runnable, off CPU), into a lane per
 * thread of the trace whose every state is its own entry at level 0
 * (switches are few beside a program's events: a window at any zoom is
 * answered from the levels, never by decoding the kernel's stream); the
 * lane's shift is that of the first level above it, less 2, chosen so that
 * level holds at most a quarter of the states (exact_shift). What the pass
 * holds is bounded: past VS_STATES_MAX states, every thread's are merged
 * into buckets (the longest of each, with how many), made coarser as
 * needed, and level 0 holds those. Off-CPU
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
  unsigned shift; /* merged: its entries are buckets of 2^shift ns */
  int merged;
} kstates;

typedef struct kpass {
  vs_index *x;
  kstates *per; /* per thread of x */
  vh_map tid;   /* tid -> thread index + 1 */
  uint64_t end; /* the latest time seen (what "to the end" ends at) */
  uint64_t unknown;
  size_t total, max; /* entries held, and at most (VS_STATES_MAX) */
} kpass;

#define VS_STATES_MAX (1u << 22) /* entries of 24 bytes held while reading: 96 MiB */

static int by_start(const void *a, const void *b) {
  const vs_entry *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* s's entries in order, those of no time dropped, merged into buckets of
 * 2^s->shift ns when s->merged. */
static void settle(kstates *s) {
  size_t m = 0;
  for (size_t j = 0; j < s->n; j++)
    if (s->e[j].dur)
      s->e[m++] = s->e[j];
  qsort(s->e, m, sizeof *s->e, by_start); /* (they come as they end) */
  s->n = s->merged ? vs__merge_level(s->e, m, s->shift) : m;
}

/* Past k->max entries: every thread's made coarser (4 times a step) until
 * all hold at most half of it. A window finer than a thread's buckets then
 * shows the longest state of each with how many it stands for. */
static void coarsen(kpass *k) {
  int changed = 1;
  while (k->total > k->max / 2 && changed) {
    k->total = 0;
    changed = 0;
    for (size_t i = 0; i < k->x->nthreads; i++) {
      kstates *s = &k->per[i];
      if (s->n && s->shift + 2 < 64) {
        s->shift = s->merged ? s->shift + 2 : 10; /* (from 1 us buckets) */
        s->merged = changed = 1;
      }
      settle(s);
      k->total += s->n;
    }
  }
}

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
  if (++k->total > k->max)
    coarsen(k);
  return 0;
}

/* Buckets of 2^shift ns that e[0..n) (sorted) start in. */
static size_t buckets(const vs_entry *e, size_t n, unsigned shift) {
  size_t b = n > 0;
  for (size_t i = 1; i < n; i++)
    b += e[i].start >> shift != e[i - 1].start >> shift;
  return b;
}

/* The shift given to a lane whose level 0 holds every item as it is: level
 * 1 merges them at this + 2, the first at which that leaves at most a
 * quarter of them (below it, levels would each hold about as many: a
 * window finer than level 1's buckets takes level 0, exact). */
static unsigned exact_shift(const vs_entry *e, size_t n) {
  unsigned s = 0;
  while (s + 4 < 64 && buckets(e, n, s + 2) > n / 4)
    s += 2;
  return s;
}

/* Thread i's states, ended and in order, as a lane appended to its own. */
static int thread_states(kpass *k, vs_out *out, size_t i) {
  kstates *s = &k->per[i];
  vs_thread *th = &k->x->threads[i];
  for (size_t j = 0; j < s->n; j++)
    if (s->e[j].dur == UINT64_MAX)
      s->e[j].dur = k->end > s->e[j].start ? k->end - s->e[j].start : 0;
  settle(s);
  if (!s->n)
    return 0;
  uint64_t items = 0;
  for (size_t j = 0; j < s->n; j++)
    items += s->e[j].count;
  vs_lane *l = realloc(th->lanes_tmp, (th->nlanes + 1) * sizeof *l);
  if (!l)
    return CTRACE_ENOMEM;
  th->lanes_tmp = l;
  vs_lane *lane = &l[th->nlanes++];
  memset(lane, 0, sizeof *lane);
  lane->thread = (uint32_t)i;
  lane->depth = VS_LANE_STATES;
  lane->items = items;
  unsigned shift = s->merged ? s->shift : exact_shift(s->e, s->n);
  lane->nlevels = vs__write_levels(out, s->e, s->n, shift, lane);
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
  const char *mx = getenv("CTRACE_SCALE_STATES_MAX"); /* (for tests) */
  k.max = mx && *mx ? (size_t)strtoull(mx, NULL, 10) : VS_STATES_MAX;
  if (k.max < 64)
    k.max = 64;
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
