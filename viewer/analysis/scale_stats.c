/* `ctrace stats` of a trace opened through its scale index (analysis.h:
 * vs_compute_stats): per region name, the count, total, self, min, max and
 * percentiles of the regions that overlap a window (durations clipped to
 * it, as st_compute does), and per thread its regions; computed by
 * decoding only the batches the window touches, each thread on one of two
 * workers, in memory that grows with the names, not with the events
 * (quantile.h: exact percentiles up to QT_EXACT_MAX regions a name). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "quantile.h"
#include "scale_internal.h"

typedef struct kstat {
  uint32_t key;
  uint64_t count, total, self, min, max;
  qt_dist durs;
} kstat;

/* One thread's figures, by label key (a small open-addressing table). */
typedef struct tstats {
  kstat *k;
  size_t n, cap; /* cap: a power of two */
  uint64_t regions;
  int err;
} tstats;

static kstat *kstat_of(tstats *t, uint32_t key) {
  if (2 * (t->n + 1) > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    kstat *k = calloc(cap, sizeof *k);
    if (!k)
      return NULL;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->k[i].count)
        continue;
      size_t h = ctrace__mix64(t->k[i].key, 0) & (cap - 1);
      while (k[h].count)
        h = (h + 1) & (cap - 1);
      k[h] = t->k[i];
    }
    free(t->k);
    t->k = k;
    t->cap = cap;
  }
  size_t h = ctrace__mix64(key, 0) & (t->cap - 1);
  while (t->k[h].count && t->k[h].key != key)
    h = (h + 1) & (t->cap - 1);
  if (!t->k[h].count) {
    t->k[h].key = key;
    t->n++;
  }
  return &t->k[h];
}

static uint64_t clip(uint64_t w0, uint64_t w1, uint64_t s, uint64_t e) {
  uint64_t a = s > w0 ? s : w0, b = e < w1 ? e : w1;
  return b > a ? b - a : 0;
}

/* One thread's pass over a window: its figures, and per depth the time of
 * the open region's direct children (for self). */
typedef struct tpass {
  tstats *t;
  uint64_t w0, w1;
  uint64_t child[VS_MAX_DEPTH];
} tpass;

/* A region [start, start + dur) ended (or was cut where decoding stopped). */
static int region(void *arg, const vs_item *it) {
  tpass *p = arg;
  if (it->depth == VS_LANE_INSTANTS || it->depth >= VS_MAX_DEPTH)
    return 0;
  uint64_t s = it->start, e = it->start + it->dur, ch = p->child[it->depth];
  p->child[it->depth] = 0;
  if (s < e ? !(s < p->w1 && e > p->w0) : !(s >= p->w0 && s < p->w1))
    return 0; /* (as st_in_window) */
  uint64_t dur = clip(p->w0, p->w1, s, e);
  if (it->depth)
    p->child[it->depth - 1] += dur;
  kstat *k = kstat_of(p->t, it->key);
  if (!k || qt_dist_add(&k->durs, dur)) {
    p->t->err = CTRACE_ENOMEM;
    return 1;
  }
  if (!k->count || dur < k->min)
    k->min = dur;
  if (dur > k->max)
    k->max = dur;
  k->count++;
  k->total += dur;
  k->self += dur - (ch < dur ? ch : dur);
  p->t->regions++;
  return 0;
}

/* Thread th's regions overlapping [w0, w1): those still open there end
 * at w1 (or at the thread's last event). */
static int thread_stats(vs_index *x, size_t th, uint64_t w0, uint64_t w1, tstats *t,
                        const vs__decoder *dec) {
  tpass p = {t, w0, w1, {0}};
  int r = dec ? dec->decode(dec->self, x, th, w0, w1 - 1, w1, region, &p)
              : vs__decode(x, &x->threads[th], w0, w1 - 1, w1, region, &p);
  return t->err ? t->err : r;
}

typedef struct spool {
  vs_index *x;
  const vs__decoder *dec;
  uint64_t w0, w1;
  const char *thread;
  tstats *per; /* per thread */
  _Atomic size_t next;
  _Atomic int err;
} spool;

static void *stats_worker(void *arg) {
  spool *p = arg;
  for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->x->nthreads && !atomic_load(&p->err);) {
    vs_thread_facts f;
    if (p->thread && (vs_thread_info(p->x, i, &f) || strcmp(f.name, p->thread)))
      continue;
    int r = thread_stats(p->x, i, p->w0, p->w1, &p->per[i], p->dec);
    if (r)
      atomic_store(&p->err, r);
  }
  return NULL;
}

/* The threads' figures merged by region name into out->regions. */
static int merge_names(vs_index *x, tstats *per, vs_stats *out) {
  size_t cap = 0;
  qt_dist *durs = NULL;
  for (size_t i = 0; i < x->nthreads; i++)
    for (size_t j = 0; j < per[i].cap; j++) {
      kstat *k = &per[i].k[j];
      if (!k->count)
        continue;
      vs_label_facts l;
      vs_label(x, k->key, &l);
      size_t g = 0;
      while (g < out->nregions && strcmp(out->regions[g].name, l.name))
        g++;
      if (g == out->nregions) {
        if (g == cap) {
          cap = cap ? cap * 2 : 16;
          st_region *nr = realloc(out->regions, cap * sizeof *nr);
          qt_dist *nd = realloc(durs, cap * sizeof *nd);
          if (nr)
            out->regions = nr;
          if (nd)
            durs = nd;
          if (!nr || !nd)
            return CTRACE_ENOMEM;
        }
        memset(&out->regions[g], 0, sizeof out->regions[g]);
        memset(&durs[g], 0, sizeof durs[g]);
        out->regions[g].name = strdup(l.name);
        out->regions[g].label = (uint32_t)g;
        out->nregions++;
      }
      st_region *o = &out->regions[g];
      if (!o->count || k->min < o->min)
        o->min = k->min;
      if (k->max > o->max)
        o->max = k->max;
      o->count += k->count;
      o->total += k->total;
      o->self += k->self;
      if (qt_dist_merge(&durs[g], &k->durs))
        return CTRACE_ENOMEM;
    }
  for (size_t g = 0; g < out->nregions; g++) {
    st_region *o = &out->regions[g];
    o->p50 = qt_dist_percentile(&durs[g], 50);
    o->p90 = qt_dist_percentile(&durs[g], 90);
    o->p99 = qt_dist_percentile(&durs[g], 99);
    o->estimated = qt_dist_estimated(&durs[g]);
    qt_dist_hist_log2(&durs[g], o->hist, ST_HIST);
    qt_dist_free(&durs[g]);
  }
  free(durs);
  return 0;
}

int vs_compute_stats(vs_index *x, uint64_t w0, uint64_t w1, const char *thread, vs_stats *out,
                     char *err, size_t errlen) {
  return vs__compute_stats_with(x, w0, w1, thread, NULL, out, err, errlen);
}

int vs__compute_stats_with(vs_index *x, uint64_t w0, uint64_t w1, const char *thread,
                           const vs__decoder *dec, vs_stats *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  spool p = {.x = x,
             .dec = dec,
             .w0 = w0,
             .w1 = w1,
             .thread = thread,
             .per = calloc(x->nthreads + 1, sizeof *p.per)};
  out->thread_regions = calloc(x->nthreads + 1, sizeof *out->thread_regions);
  if (!p.per || !out->thread_regions) {
    free(p.per);
    snprintf(err, errlen, "out of memory");
    return CTRACE_ENOMEM;
  }
  pthread_t tid[2];
  int started = 0;
  for (; started < 2; started++)
    if (pthread_create(&tid[started], NULL, stats_worker, &p))
      break;
  if (!started)
    stats_worker(&p);
  for (int i = 0; i < started; i++)
    pthread_join(tid[i], NULL);
  int r = atomic_load(&p.err);
  for (size_t i = 0; i < x->nthreads; i++)
    out->thread_regions[i] = p.per[i].regions;
  if (!r)
    r = merge_names(x, p.per, out);
  for (size_t i = 0; i < x->nthreads; i++) {
    for (size_t j = 0; j < p.per[i].cap; j++)
      qt_dist_free(&p.per[i].k[j].durs);
    free(p.per[i].k);
  }
  free(p.per);
  if (r) {
    snprintf(err, errlen, "%s", r == CTRACE_ENOMEM ? "out of memory" : ctrace_strerror(r));
    vs_stats_free(out);
  }
  return r;
}

void vs_stats_free(vs_stats *s) {
  for (size_t i = 0; i < s->nregions; i++)
    free((char *)s->regions[i].name);
  free(s->regions);
  free(s->thread_regions);
  memset(s, 0, sizeof *s);
}
