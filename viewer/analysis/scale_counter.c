/* The scale index's counters (scale_internal.h, docs/format.md "The index
 * file"): in the pass, each thread's samples per kind and site (COUNTER
 * events of a site, the heap series of HEAP and HEAP_SET) into a level 0 of
 * time buckets, written to a scratch file when the thread is done (a
 * part); after every
 * thread, the parts grouped by name into counters, as the full index keys
 * them (index_build.c: per process and name), merged into one level 0 and
 * the levels above it (each bucket four of the level below), appended to
 * the file. Memory: a thread's parts (at most VS_CTHREAD_BUCKETS buckets,
 * made coarser past that) and one counter's level 0 at a time (at most
 * ~2^20 buckets, the trace's span at the shift, and at most its parts'). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "scale_internal.h"

/* ---- The pass: a thread's parts ------------------------------------------------------------ */

typedef struct tpart {
  uint32_t kind;
  uint64_t site;
  vs_cbucket *b;
  size_t n, cap;
  unsigned shift;
  uint64_t items;
} tpart;

struct vs_cthread {
  tpart *p;
  size_t n, cap;
  size_t buckets; /* of all its parts */
  vh_map by_key;  /* kind and site -> index in p */
};

size_t vs__csamples_of(const rd_event *ev, vs_csample_of out[2]) {
  switch (ev->type) {
  case CTRACE_FMT_EV_COUNTER:
    out[0] = (vs_csample_of){VS_CK_SITE, ev->arg[0], (double)ctrace_fmt_unzigzag(ev->arg[1])};
    return 1;
  case CTRACE_FMT_EV_HEAP: /* (as native_events.c reads it: live signed, allocated not) */
    out[0] = (vs_csample_of){VS_CK_HEAP_LIVE, 0, (double)ctrace_fmt_unzigzag(ev->arg[0])};
    out[1] = (vs_csample_of){VS_CK_HEAP_ALLOC, 0, (double)ev->arg[1]};
    return 2;
  case CTRACE_FMT_EV_HEAP_SET:
    out[0] = (vs_csample_of){VS_CK_SET_LIVE, 0, (double)ev->arg[0]};
    out[1] = (vs_csample_of){VS_CK_SET_GOAL, 0, (double)ev->arg[1]};
    return 2;
  default: return 0;
  }
}

/* b's samples after a's (a later thread's, or later in the same one). */
static void combine(vs_cbucket *a, const vs_cbucket *b) {
  if (!a->count) {
    *a = *b;
    return;
  }
  a->first = b->first < a->first ? b->first : a->first;
  a->min = b->min < a->min ? b->min : a->min;
  a->max = b->max > a->max ? b->max : a->max;
  if (b->last >= a->last) {
    a->last = b->last;
    a->value = b->value;
  }
  a->count += b->count;
}

/* Buckets of b[0..n) (in time order) at a shift 2 more. @return the new n. */
static size_t merge_buckets(vs_cbucket *b, size_t n, unsigned shift) {
  size_t m = 0; /* in place: m <= i */
  for (size_t i = 0; i < n; i++) {
    if (m && b[m - 1].first >> shift == b[i].first >> shift)
      combine(&b[m - 1], &b[i]);
    else
      b[m++] = b[i];
  }
  return m;
}

static tpart *part_of(vs_cthread *ct, uint32_t kind, uint64_t site) {
  uint64_t key = site * 8 + kind;
  uint32_t *v = vh_get(&ct->by_key, key);
  if (v)
    return &ct->p[*v];
  tpart *p = VH_PUSH(ct->p, ct->n, ct->cap);
  if (!p || vh_put(&ct->by_key, key, (uint32_t)(ct->n - 1)))
    return NULL;
  *p = (tpart){.kind = kind, .site = site};
  return p;
}

static int add_sample(vs_cthread *ct, tpart *p, uint64_t ts, double v, unsigned shift0,
                      size_t lane_min, uint64_t events) {
  if (!p->items++)
    p->shift = (shift0 + 1) & ~1u; /* (even: the full index's grid of 4^k ns) */
  int sparse = p->n >= lane_min && p->n * VS_LANE_RATIO > events;
  int over = ct->buckets > VS_CTHREAD_BUCKETS && p->n >= VS_CPART_MIN;
  if ((sparse || over) && p->shift + 2 < 63) {
    size_t was = p->n;
    p->shift += 2; /* too fine for what it holds */
    p->n = merge_buckets(p->b, p->n, p->shift);
    ct->buckets -= was - p->n;
  }
  vs_cbucket s = {ts, ts, 1, v, v, v};
  if (p->n && (p->b[p->n - 1].first >> p->shift == ts >> p->shift || ts < p->b[p->n - 1].first)) {
    vs_cbucket *b = &p->b[p->n - 1];
    s.first = b->first; /* (an earlier time than its bucket's: kept in it) */
    s.last = ts > b->last ? ts : b->last;
    combine(b, &s);
    return 0;
  }
  vs_cbucket *b = VH_PUSH(p->b, p->n, p->cap);
  if (!b)
    return CTRACE_ENOMEM;
  *b = s;
  ct->buckets++;
  return 0;
}

int vs__counter_event(vs_cthread **ct, const rd_event *ev, unsigned shift0, size_t lane_min,
                      uint64_t events) {
  vs_csample_of s[2];
  size_t n = vs__csamples_of(ev, s);
  if (!n)
    return 0;
  if (!*ct && !(*ct = calloc(1, sizeof **ct)))
    return CTRACE_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    tpart *p = part_of(*ct, s[i].kind, s[i].site);
    if (!p || add_sample(*ct, p, ev->ts, s[i].value, shift0, lane_min, events))
      return CTRACE_ENOMEM;
  }
  return 0;
}

int vs__counter_thread_end(vs_index *x, vs_out *out, size_t ti, vs_cthread *ct, int err) {
  if (!ct)
    return err;
  vs_out *dst = out->scratch ? out->scratch : out; /* (none: the index file itself) */
  for (size_t i = 0; i < ct->n && !err; i++) {
    tpart *p = &ct->p[i];
    vs_cpart c = {(uint32_t)ti, p->kind, p->site, 0, p->n, p->items, p->shift, 0};
    c.off = vs__append(dst, p->b, p->n * sizeof *p->b);
    pthread_mutex_lock(&out->lock);
    vs_cpart *slot = VH_PUSH(x->cparts, x->ncparts, x->cap_cparts);
    if (slot)
      *slot = c;
    pthread_mutex_unlock(&out->lock);
    err = !slot ? CTRACE_ENOMEM : dst->err;
  }
  for (size_t i = 0; i < ct->n; i++)
    free(ct->p[i].b);
  free(ct->p);
  vh_free(&ct->by_key);
  free(ct);
  return err;
}

/* ---- After the pass: counters ------------------------------------------------------------- */

static const char *part_name(vs_index *x, const vs_cpart *p) {
  switch (p->kind) {
  case VS_CK_HEAP_LIVE: return "heap live bytes";
  case VS_CK_HEAP_ALLOC: return "heap allocated bytes";
  case VS_CK_SET_LIVE: return "heap live bytes (program)";
  case VS_CK_SET_GOAL: return "heap goal bytes (program)";
  default: return rd_site_get(x->tr, p->site)->name; /* (the workers are done) */
  }
}

typedef struct named {
  char name[256];
  uint32_t thread;
  size_t part;
} named;

static int by_name(const void *a, const void *b) {
  const named *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c                        ? c
         : x->thread != y->thread ? (x->thread < y->thread ? -1 : 1)
                                  : (x->part < y->part ? -1 : x->part > y->part);
}

/* A part read back from the scratch file, a few buckets at a time. */
#define CURSOR_BUCKETS 128
typedef struct cursor {
  const vs_cpart *p;
  uint64_t next; /* its next bucket not in buf */
  size_t k, n;   /* buf[k..n): read, not merged yet */
  vs_cbucket buf[CURSOR_BUCKETS];
} cursor;

/* Its current bucket (NULL: none left), read if needed. @return 0 or -errno. */
static int cur_peek(cursor *c, int fd, const vs_cbucket **out) {
  *out = NULL;
  if (c->k == c->n && c->next < c->p->n) {
    size_t k = c->p->n - c->next < CURSOR_BUCKETS ? (size_t)(c->p->n - c->next) : CURSOR_BUCKETS;
    ssize_t got =
        pread(fd, c->buf, k * sizeof *c->buf, (off_t)(c->p->off + c->next * sizeof *c->buf));
    if (got != (ssize_t)(k * sizeof *c->buf))
      return got < 0 ? -errno : -EIO;
    c->next += k;
    c->k = 0, c->n = k;
  }
  if (c->k < c->n)
    *out = &c->buf[c->k];
  return 0;
}

/* The parts ps[0..n) (each in time order) merged into one level 0 at shift
 * s in *out (malloc'd, *nout buckets): the bucket of the earliest time
 * first, of the same bucket the earlier thread's first (so that, at the
 * same ns, the later thread's value is the last, as rd_merge orders
 * them). @return 0 or CTRACE_E*. */
static int merge_parts(const vs_cpart *ps, uint32_t n, int fd, unsigned s, vs_cbucket **out,
                       size_t *nout) {
  cursor *cs = calloc(n, sizeof *cs);
  if (!cs)
    return CTRACE_ENOMEM;
  for (uint32_t i = 0; i < n; i++)
    cs[i].p = &ps[i];
  size_t cap = 0;
  int r = 0;
  for (;;) {
    const vs_cbucket *best = NULL, *b;
    uint32_t bi = 0;
    for (uint32_t i = 0; i < n && !r; i++)
      if (!(r = cur_peek(&cs[i], fd, &b)) && b && (!best || b->first >> s < best->first >> s))
        best = b, bi = i;
    if (r || !best)
      break;
    if (*nout && (*out)[*nout - 1].first >> s == best->first >> s)
      combine(&(*out)[*nout - 1], best);
    else {
      vs_cbucket *o = VH_PUSH(*out, *nout, cap);
      if (!o) {
        r = CTRACE_ENOMEM;
        break;
      }
      *o = *best;
    }
    cs[bi].k++;
  }
  free(cs);
  return r;
}

/* Level 0 in b[0..n) at c->shift: it and the levels above appended. */
static void write_levels(vs_out *out, vs_counter *c, vs_cbucket *b, size_t n) {
  unsigned shift = c->shift;
  uint32_t k = 0;
  for (;;) {
    c->lv[k].n = n;
    c->lv[k].off = vs__append(out, b, n * sizeof *b);
    k++;
    if (n <= 1 || k == VS_MAX_LEVELS || shift + 2 > 62)
      break;
    shift += 2;
    n = merge_buckets(b, n, shift);
  }
  c->nlevels = k;
}

/* Counter c of parts x->cparts[c->part0...]: merged, its levels written. */
static int build_one(vs_index *x, vs_out *out, vs_counter *c) {
  const vs_cpart *ps = &x->cparts[c->part0];
  unsigned s = 0;
  for (uint32_t i = 0; i < c->nparts; i++)
    s = ps[i].shift > s ? ps[i].shift : s;
  c->shift = s;
  vs_cbucket *b = NULL;
  size_t n = 0;
  const vs_out *scratch = out->scratch ? out->scratch : out;
  int r = merge_parts(ps, c->nparts, scratch->fd, s, &b, &n);
  if (!r && n) {
    c->min = b[0].min, c->max = b[0].max;
    for (size_t i = 0; i < n; i++) {
      c->samples += b[i].count;
      c->min = b[i].min < c->min ? b[i].min : c->min;
      c->max = b[i].max > c->max ? b[i].max : c->max;
    }
    write_levels(out, c, b, n);
  }
  free(b);
  return r ? r : out->err;
}

int vs__counter_build(vs_index *x, vs_out *out) {
  x->counters = NULL;
  x->ncounters = 0;
  if (!x->ncparts)
    return 0;
  named *nm = calloc(x->ncparts, sizeof *nm);
  vs_cpart *sorted = calloc(x->ncparts, sizeof *sorted);
  x->counters = calloc(x->ncparts, sizeof *x->counters); /* (at most one each) */
  int r = !nm || !sorted || !x->counters ? CTRACE_ENOMEM : 0;
  for (size_t i = 0; i < x->ncparts && !r; i++) {
    snprintf(nm[i].name, sizeof nm[i].name, "%s", part_name(x, &x->cparts[i]));
    nm[i].thread = x->cparts[i].thread;
    nm[i].part = i;
  }
  if (!r)
    qsort(nm, x->ncparts, sizeof *nm, by_name);
  for (size_t i = 0; i < x->ncparts && !r; i++) {
    sorted[i] = x->cparts[nm[i].part];
    if (!i || strcmp(nm[i].name, nm[i - 1].name)) {
      vs_counter *c = &x->counters[x->ncounters++];
      snprintf(c->name, sizeof c->name, "%s", nm[i].name);
      c->part0 = (uint32_t)i;
    }
    sorted[i].counter = (uint32_t)(x->ncounters - 1);
    x->counters[x->ncounters - 1].nparts++;
  }
  if (!r)
    memcpy(x->cparts, sorted, x->ncparts * sizeof *sorted);
  for (size_t i = 0; i < x->ncounters && !r; i++)
    r = build_one(x, out, &x->counters[i]);
  free(nm);
  free(sorted);
  return r;
}
