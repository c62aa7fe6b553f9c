/* Blocking profiles (analysis.h): one pass over the chosen threads' slices
 * (or state bands, for sched) of the window; each event's stack of
 * enclosing regions is found by binary search at each depth above it, and
 * events with the same stack (and object) add up in one sample. Then the
 * pprof encoding: protoc-c's Profile message (profile.proto), gzipped with
 * zlib. And `ctrace pprof`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"
#include "common.h"
#include "analysis.h"
#include "profile.pb-c.h"

/* ---- Types ---------------------------------------------------------------------------- */

static const char *const type_names[PF_TYPE_COUNT_] = {"sync", "syscall", "sched", "io"};

const char *pf_type_name(pf_type t) { return t < PF_TYPE_COUNT_ ? type_names[t] : "?"; }

int pf_type_parse(const char *s, pf_type *t) {
  for (int i = 0; i < PF_TYPE_COUNT_; i++)
    if (!strcmp(s, type_names[i])) {
      *t = (pf_type)i;
      return 0;
    }
  return -1;
}

/* System calls that wait on a file descriptor: reads and writes of files,
 * pipes and sockets, socket setup, readiness waits, copies between
 * descriptors, syncs to storage and asynchronous I/O completion. By the
 * name vx_syscall_name gives (and the names traces from elsewhere use). */
int pf_is_io_syscall(const char *name) {
  static const char *const io[] = {
      "read",
      "write",
      "pread64",
      "pwrite64",
      "pread",
      "pwrite",
      "readv",
      "writev",
      "preadv",
      "pwritev",
      "preadv2",
      "pwritev2",
      "recv",
      "recvfrom",
      "recvmsg",
      "recvmmsg",
      "send",
      "sendto",
      "sendmsg",
      "sendmmsg",
      "accept",
      "accept4",
      "connect",
      "poll",
      "ppoll",
      "select",
      "pselect6",
      "pselect",
      "epoll_wait",
      "epoll_pwait",
      "epoll_pwait2",
      "sendfile",
      "sendfile64",
      "splice",
      "tee",
      "vmsplice",
      "copy_file_range",
      "fsync",
      "fdatasync",
      "sync_file_range",
      "syncfs",
      "msync",
      "io_getevents",
      "io_pgetevents",
      "io_uring_enter",
  };
  for (size_t i = 0; i < sizeof io / sizeof *io; i++)
    if (!strcmp(name, io[i]))
      return 1;
  return 0;
}

/* ---- Building ------------------------------------------------------------------------- */

static uint64_t hash_str(const char *s) { return ctrace__mix64(ctrace__fnv1a(s, strlen(s), 0), 0); }

typedef struct builder {
  const vx_index *x;
  pf_profile *p;
  vh_map strs, frames, samples; /* hash -> index, probing past collisions */
  uint8_t *want;                /* per label: an event of the profile's type */
  uint8_t *region;              /* per label: a region (not a syscall or wait) */
  uint32_t *label_frame;        /* per label: its frame, or UINT32_MAX */
  uint32_t *buf;                /* the stack being built */
  size_t cap_buf;
} builder;

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_len(const unsigned char *p) {
  unsigned c = p[0], lo = 0x80, hi = 0xbf;
  size_t n;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    lo = c == 0xe0 ? 0xa0 : lo;
    hi = c == 0xed ? 0x9f : hi;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    lo = c == 0xf0 ? 0x90 : lo;
    hi = c == 0xf4 ? 0x8f : hi;
  } else {
    return 0;
  }
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

static int intern_valid(builder *b, const char *s, uint32_t *out);

/* The index of s in p->strings, added if new; proto3 strings must be
 * UTF-8, so bytes that are not become '?'. @return 0 or -1. */
static int intern(builder *b, const char *s, uint32_t *out) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, k;
  while (u[i] && (k = utf8_len(u + i)))
    i += k;
  if (!u[i])
    return intern_valid(b, s, out);
  char *c = strdup(s);
  if (!c)
    return -1;
  for (u = (const unsigned char *)c; u[i]; i += k)
    if (!(k = utf8_len(u + i))) {
      c[i] = '?';
      k = 1;
    }
  int r = intern_valid(b, c, out);
  free(c);
  return r;
}

static int intern_valid(builder *b, const char *s, uint32_t *out) {
  pf_profile *p = b->p;
  uint64_t k = hash_str(s);
  uint32_t *v;
  while ((v = vh_get(&b->strs, k)) && strcmp(p->strings[*v], s))
    k = ctrace__mix64(k, 1);
  if (v) {
    *out = *v;
    return 0;
  }
  char **slot = VH_PUSH(p->strings, p->nstrings, p->cap_strings);
  if (!slot)
    return -1;
  if (!(*slot = strdup(s))) {
    p->nstrings--;
    return -1;
  }
  *out = (uint32_t)(p->nstrings - 1);
  return vh_put(&b->strs, k, *out);
}

static int frame_eq(const pf_frame *a, const pf_frame *b) {
  return a->name == b->name && a->file == b->file && a->line == b->line;
}

static int intern_frame(builder *b, const char *name, const char *file, uint32_t line,
                        uint32_t *out) {
  pf_frame f = {0, 0, line};
  if (intern(b, name, &f.name) || (file && file[0] && intern(b, file, &f.file)))
    return -1;
  pf_profile *p = b->p;
  uint64_t k = ctrace__mix64(f.name, ctrace__mix64(f.file, f.line));
  uint32_t *v;
  while ((v = vh_get(&b->frames, k)) && !frame_eq(&p->frames[*v], &f))
    k = ctrace__mix64(k, 1);
  if (v) {
    *out = *v;
    return 0;
  }
  pf_frame *n = VH_PUSH(p->frames, p->nframes, p->cap_frames);
  if (!n)
    return -1;
  *n = f;
  *out = (uint32_t)(p->nframes - 1);
  return vh_put(&b->frames, k, *out);
}

static int label_frame(builder *b, uint32_t label, uint32_t *out) {
  if (b->label_frame[label] == UINT32_MAX) {
    const vx_label *l = vx_label_get(b->x, label);
    if (intern_frame(b, l->name, l->file, l->file ? l->line : 0, &b->label_frame[label]))
      return -1;
  }
  *out = b->label_frame[label];
  return 0;
}

static uint64_t slice_end(const vx_slice *s) { return s->start + s->dur; }

/* The slice of a[0..n) that holds [lo, hi] (start <= lo, end >= hi), or
 * NULL. Slices at one depth do not overlap; a neighbour may end at lo. */
static const vx_slice *holding(const vx_slice *a, size_t n, uint64_t lo, uint64_t hi) {
  for (size_t i = vx_slice_lower(a, n, lo); i < n && a[i].start <= lo; i++)
    if (slice_end(&a[i]) >= hi)
      return &a[i];
  return NULL;
}

/* One event of thread t with leaf frame `leaf`: its stack is the regions
 * at depths [0, depth) that hold [lo, hi], then the thread's frame. */
static int add_event(builder *b, const vx_track *t, uint32_t thread_frame, uint32_t leaf,
                     size_t depth, uint64_t lo, uint64_t hi, uint64_t object, uint64_t delay) {
  pf_profile *p = b->p;
  if (depth + 2 > b->cap_buf) {
    size_t cap = depth + 16;
    uint32_t *nb = realloc(b->buf, cap * sizeof *nb);
    if (!nb)
      return -1;
    b->buf = nb;
    b->cap_buf = cap;
  }
  size_t n = 0;
  b->buf[n++] = leaf;
  for (size_t d = depth; d-- > 0;) {
    const vx_slice *s = holding(t->depth[d], t->ndepth[d], lo, hi);
    if (!s || !b->region[s->label]) /* (a syscall a kernel one is nested in) */
      continue;
    if (label_frame(b, s->label, &b->buf[n++]))
      return -1;
  }
  b->buf[n++] = thread_frame;
  uint64_t k = ctrace__mix64(object, n);
  for (size_t i = 0; i < n; i++)
    k = ctrace__mix64(k, b->buf[i]);
  uint32_t *v;
  while ((v = vh_get(&b->samples, k))) {
    const pf_sample *s = &p->samples[*v];
    if (s->n == n && s->object == object &&
        !memcmp(&p->stack[s->first], b->buf, n * sizeof *b->buf))
      break;
    k = ctrace__mix64(k, 1);
  }
  if (!v) {
    while (p->nstack + n > p->cap_stack) {
      size_t cap = p->cap_stack ? 2 * p->cap_stack : 256;
      uint32_t *ns = realloc(p->stack, cap * sizeof *ns);
      if (!ns)
        return -1;
      p->stack = ns;
      p->cap_stack = cap;
    }
    pf_sample *s = VH_PUSH(p->samples, p->nsamples, p->cap_samples);
    if (!s)
      return -1;
    memset(s, 0, sizeof *s);
    s->first = p->nstack;
    s->n = n;
    s->object = object;
    memcpy(&p->stack[p->nstack], b->buf, n * sizeof *b->buf);
    p->nstack += n;
    if (object) {
      char hex[24];
      snprintf(hex, sizeof hex, "0x%" PRIx64, object);
      if (intern(b, hex, &s->object_str))
        return -1;
    }
    if (vh_put(&b->samples, k, (uint32_t)(p->nsamples - 1)))
      return -1;
    v = vh_get(&b->samples, k);
  }
  pf_sample *s = &p->samples[*v];
  s->count++;
  s->delay += delay;
  p->count++;
  p->delay += delay;
  return 0;
}

static int thread_frame(builder *b, const vx_track *t, uint32_t *out) {
  char name[512];
  if (!t->name[0]) /* unnamed */
    snprintf(name, sizeof name, "thread %d", t->tid);
  else if (!strncmp(t->name, "thread ", 7)) /* "thread TID" already */
    snprintf(name, sizeof name, "%s", t->name);
  else
    snprintf(name, sizeof name, "thread %s", t->name);
  return intern_frame(b, name, NULL, 0, out);
}

static int profile_slices(builder *b, const vx_track *t, const st_window *w) {
  uint32_t tf;
  if (thread_frame(b, t, &tf))
    return -1;
  for (size_t d = 0; d < t->depths; d++) {
    const vx_slice *s = t->depth[d];
    size_t n = t->ndepth[d];
    for (size_t i = vx_slice_lower(s, n, w->w0); i < n && s[i].start < w->w1; i++) {
      uint64_t e = slice_end(&s[i]);
      if (!b->want[s[i].label] || !st_in_window(w, s[i].start, e))
        continue;
      uint64_t object = 0;
      if (b->p->type == PF_SYNC) {
        const vx_info *in = vx_info_get(b->x, s[i].args);
        object = in ? in->arg : 0;
      }
      uint32_t leaf;
      if (label_frame(b, s[i].label, &leaf) ||
          add_event(b, t, tf, leaf, d, s[i].start, e, object, st_clip(w, s[i].start, e)))
        return -1;
    }
  }
  return 0;
}

/* Runnable intervals: the stack is the regions open where the interval
 * (clipped to the window) starts. */
static int profile_states(builder *b, const vx_track *t, const st_window *w, uint32_t leaf) {
  uint32_t tf = 0;
  int have_tf = 0;
  for (size_t i = 0; i < t->nstates; i++) {
    const vx_state *s = &t->states[i];
    if (s->start >= w->w1)
      break;
    if (s->state != VX_ST_RUNNABLE || !st_in_window(w, s->start, s->end))
      continue;
    if (!have_tf && thread_frame(b, t, &tf))
      return -1;
    have_tf = 1;
    uint64_t at = s->start > w->w0 ? s->start : w->w0;
    if (add_event(b, t, tf, leaf, t->depths, at, at + 1, 0, st_clip(w, s->start, s->end)))
      return -1;
  }
  return 0;
}

/* Wall-clock time at t of the first ctrace trace among the sources (its
 * file header's clock sync point), or 0. */
static int64_t wall_at(const vx_index *x, uint64_t t) {
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *src = vx_source_get(x, i);
    if (strcmp(src->format, "ctrace") && strcmp(src->format, "ctrace-kernel"))
      continue;
    uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE];
    int fd = open(src->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = pread(fd, h, sizeof h, 0);
    close(fd);
    if (n != (ssize_t)sizeof h || memcmp(h, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN))
      continue;
    uint64_t mono = ctrace_fmt_get_u64(h + CTRACE_FMT_FH_START_MONO);
    uint64_t real = ctrace_fmt_get_u64(h + CTRACE_FMT_FH_START_REAL);
    int64_t wall = (int64_t)real + ((int64_t)t - (int64_t)mono);
    return wall > 0 ? wall : 0;
  }
  return 0;
}

/* Samples by delay, then count, largest first; then by stack (root first)
 * and object, so that the order does not depend on the hash. */
static int cmp_sample(const void *a, const void *c, void *arg) {
  const pf_sample *x = a, *y = c;
  const pf_profile *p = arg;
  if (x->delay != y->delay)
    return x->delay > y->delay ? -1 : 1;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  for (size_t i = 0; i < x->n && i < y->n; i++) {
    const pf_frame *f = &p->frames[p->stack[x->first + x->n - 1 - i]];
    const pf_frame *g = &p->frames[p->stack[y->first + y->n - 1 - i]];
    int r = strcmp(p->strings[f->name], p->strings[g->name]);
    if (!r)
      r = strcmp(p->strings[f->file], p->strings[g->file]);
    if (!r)
      r = (f->line > g->line) - (f->line < g->line);
    if (r)
      return r;
  }
  if (x->n != y->n)
    return x->n < y->n ? -1 : 1;
  return (x->object > y->object) - (x->object < y->object);
}

static const char *const comments[PF_TYPE_COUNT_] = {
    "ctrace pprof --type sync: time blocked on locks, condvars, rwlocks, semaphores and joins, "
    "by the stack of regions they happened in",
    "ctrace pprof --type syscall: time in system calls, by the stack of regions they were made in",
    "ctrace pprof --type sched: time runnable but not running (preempted, waiting for a CPU), "
    "by the stack of regions open when it began",
    "ctrace pprof --type io: time in system calls that wait on file descriptors, by the stack of "
    "regions they were made in",
};

int pf_compute(const vx_index *x, pf_type type, const st_options *o, pf_profile *out, char *err,
               size_t errlen) {
  memset(out, 0, sizeof *out);
  out->type = type;
  if (type >= PF_TYPE_COUNT_) {
    vx_errf(err, errlen, "unknown profile type %d", (int)type);
    return -1;
  }
  uint64_t tx1 = vx_t1(x);
  st_window w;
  if (st_window_of(x, o, &w, err, errlen))
    return -1;
  out->t0 = w.w0;
  out->t1 = w.w1 < tx1 ? w.w1 : tx1;
  if (out->t1 < out->t0)
    out->t1 = out->t0;
  size_t nt = vx_track_count(x), nl = vx_label_count(x), nsel = 0;
  int sched = 0;
  for (size_t i = 0; i < nt; i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD)
      continue;
    nsel += !o->thread || !strcmp(t->name, o->thread);
    sched |= t->nstates && !t->states[0].derived;
  }
  if (o->thread && !nsel) {
    vx_errf(err, errlen, "no thread named '%s' in the trace", o->thread);
    return -1;
  }
  if (type == PF_SCHED && !sched) {
    vx_errf(err, errlen,
            "no scheduler data in this trace: record with ctrace run where "
            "perf_event_open is allowed");
    return -1;
  }

  builder b = {.x = x, .p = out};
  b.want = calloc(nl ? nl : 1, 1);
  b.region = calloc(nl ? nl : 1, 1);
  b.label_frame = malloc((nl ? nl : 1) * sizeof *b.label_frame);
  int ok = b.want && b.region && b.label_frame;
  static const char *const fixed[PF_STR_FIXED_] = {
      "", "contentions", "count", "delay", "nanoseconds", "object", "ctrace regions", NULL};
  for (int i = 0; ok && i < PF_STR_FIXED_; i++) {
    uint32_t id;
    ok = intern(&b, i == PF_STR_COMMENT ? comments[type] : fixed[i], &id) == 0 && id == (uint32_t)i;
  }
  for (size_t l = 0; ok && l < nl; l++) {
    const vx_label *lb = vx_label_get(x, (uint32_t)l);
    int sys = !strcmp(lb->cat, "syscall"), wait = !strcmp(lb->cat, "wait");
    b.region[l] = !sys && !wait;
    b.want[l] = type == PF_SYNC      ? wait
                : type == PF_SYSCALL ? sys
                : type == PF_IO      ? sys && pf_is_io_syscall(lb->name)
                                     : 0;
    b.label_frame[l] = UINT32_MAX;
  }
  uint32_t runnable = 0;
  if (ok && type == PF_SCHED)
    ok = intern_frame(&b, "runnable", NULL, 0, &runnable) == 0;
  for (size_t i = 0; ok && i < nt; i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD || (o->thread && strcmp(t->name, o->thread)))
      continue;
    ok = (type == PF_SCHED ? profile_states(&b, t, &w, runnable) : profile_slices(&b, t, &w)) == 0;
  }
  if (ok && out->nsamples > 1)
    qsort_r(out->samples, out->nsamples, sizeof *out->samples, cmp_sample, out);
  if (ok)
    out->time_nanos = wall_at(x, out->t0);
  free(b.want);
  free(b.region);
  free(b.label_frame);
  free(b.buf);
  vh_free(&b.strs);
  vh_free(&b.frames);
  vh_free(&b.samples);
  if (!ok) {
    pf_free(out);
    vx_errf(err, errlen, "out of memory while computing the profile");
    return CTRACE_ENOMEM;
  }
  return 0;
}

void pf_free(pf_profile *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->nstrings; i++)
    free(p->strings[i]);
  free(p->strings);
  free(p->frames);
  free(p->stack);
  free(p->samples);
  memset(p, 0, sizeof *p);
}

/* ---- pprof ---------------------------------------------------------------------------- */

typedef Perftools__Profiles__Profile PProfile;
typedef Perftools__Profiles__ValueType PValueType;
typedef Perftools__Profiles__Sample PSample;
typedef Perftools__Profiles__Label PLabel;
typedef Perftools__Profiles__Mapping PMapping;
typedef Perftools__Profiles__Location PLocation;
typedef Perftools__Profiles__Line PLine;
typedef Perftools__Profiles__Function PFunction;

int pf_gzip(const uint8_t *in, size_t n, unsigned char **out, size_t *len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return -1;
  size_t cap = deflateBound(&z, (uLong)n) + 64;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    deflateEnd(&z);
    return -1;
  }
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  int r = deflate(&z, Z_FINISH);
  size_t got = cap - z.avail_out;
  deflateEnd(&z);
  if (r != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  *len = got;
  return 0;
}

/* The Profile message being built: protobuf-c structs that point into
 * these arrays (one element per frame, per sample, per stack entry). */
typedef struct pprof_msg {
  const pf_profile *p;
  PFunction *fun, **funp; /* one per distinct (name, file) */
  size_t nfun;
  uint64_t *fun_of;       /* per frame: its function's id */
  PLocation *loc, **locp; /* one per frame */
  PLine *line, **linep;
  PSample *smp, **smpp; /* one per sample */
  PLabel *lab, **labp;  /* per sample: its object, if any */
  int64_t *values;      /* per sample: [count, delay] */
  uint64_t *locids;     /* per stack entry: its location's id */
  vh_map byname;        /* ctrace__mix64(name, file) -> index in fun */
  int has_files, has_lines;
} pprof_msg;

/* @return 0, or -1 when out of memory. */
static int pprof_alloc(pprof_msg *m) {
  const pf_profile *p = m->p;
  size_t nf = p->nframes;
  m->fun = calloc(nf ? nf : 1, sizeof *m->fun);
  m->funp = calloc(nf ? nf : 1, sizeof *m->funp);
  m->fun_of = calloc(nf ? nf : 1, sizeof *m->fun_of);
  m->loc = calloc(nf ? nf : 1, sizeof *m->loc);
  m->locp = calloc(nf ? nf : 1, sizeof *m->locp);
  m->line = calloc(nf ? nf : 1, sizeof *m->line);
  m->linep = calloc(nf ? nf : 1, sizeof *m->linep);
  m->smp = calloc(p->nsamples ? p->nsamples : 1, sizeof *m->smp);
  m->smpp = calloc(p->nsamples ? p->nsamples : 1, sizeof *m->smpp);
  m->lab = calloc(p->nsamples ? p->nsamples : 1, sizeof *m->lab);
  m->labp = calloc(p->nsamples ? p->nsamples : 1, sizeof *m->labp);
  m->values = calloc(2 * (p->nsamples ? p->nsamples : 1), sizeof *m->values);
  m->locids = calloc(p->nstack ? p->nstack : 1, sizeof *m->locids);
  int ok = m->fun && m->funp && m->fun_of && m->loc && m->locp && m->line && m->linep && m->smp &&
           m->smpp && m->lab && m->labp && m->values && m->locids;
  return ok ? 0 : -1;
}

static void pprof_free(pprof_msg *m) {
  vh_free(&m->byname);
  free(m->fun);
  free(m->funp);
  free(m->fun_of);
  free(m->loc);
  free(m->locp);
  free(m->line);
  free(m->linep);
  free(m->smp);
  free(m->smpp);
  free(m->lab);
  free(m->labp);
  free(m->values);
  free(m->locids);
}

/* Functions: one per distinct (name, file); locations: one per frame.
 * @return 0, or -1 when out of memory. */
static int pprof_locations(pprof_msg *m) {
  const pf_profile *p = m->p;
  for (size_t i = 0; i < p->nframes; i++) {
    const pf_frame *f = &p->frames[i];
    m->has_files |= f->file != 0;
    m->has_lines |= f->line != 0;
    uint64_t k = ctrace__mix64(f->name, f->file);
    uint32_t *v;
    while ((v = vh_get(&m->byname, k)) &&
           (m->fun[*v].name != f->name || m->fun[*v].filename != f->file))
      k = ctrace__mix64(k, 1);
    if (!v) {
      PFunction *fn = &m->fun[m->nfun];
      perftools__profiles__function__init(fn);
      fn->id = m->nfun + 1;
      fn->name = f->name;
      fn->system_name = f->name;
      fn->filename = f->file;
      fn->start_line = f->line;
      m->funp[m->nfun] = fn;
      int ok = vh_put(&m->byname, k, (uint32_t)m->nfun) == 0;
      v = vh_get(&m->byname, k);
      m->nfun++;
      if (!ok)
        return -1;
    }
    m->fun_of[i] = m->fun[*v].id;
    perftools__profiles__line__init(&m->line[i]);
    m->line[i].function_id = m->fun_of[i];
    m->line[i].line = f->line;
    m->linep[i] = &m->line[i];
    perftools__profiles__location__init(&m->loc[i]);
    m->loc[i].id = i + 1;
    m->loc[i].mapping_id = 1;
    m->loc[i].n_line = 1;
    m->loc[i].line = &m->linep[i];
    m->locp[i] = &m->loc[i];
  }
  return 0;
}

/* Samples: their stacks as location ids, [count, delay], the object as a
 * label. */
static void pprof_samples(pprof_msg *m) {
  const pf_profile *p = m->p;
  for (size_t i = 0; i < p->nstack; i++)
    m->locids[i] = (uint64_t)p->stack[i] + 1;
  for (size_t i = 0; i < p->nsamples; i++) {
    const pf_sample *s = &p->samples[i];
    PSample *smp = &m->smp[i];
    perftools__profiles__sample__init(smp);
    smp->n_location_id = s->n;
    smp->location_id = &m->locids[s->first];
    m->values[2 * i] = (int64_t)s->count;
    m->values[2 * i + 1] = (int64_t)s->delay;
    smp->n_value = 2;
    smp->value = &m->values[2 * i];
    if (s->object_str) {
      perftools__profiles__label__init(&m->lab[i]);
      m->lab[i].key = PF_STR_OBJECT;
      m->lab[i].str = s->object_str;
      m->labp[i] = &m->lab[i];
      smp->n_label = 1;
      smp->label = &m->labp[i];
    }
    m->smpp[i] = smp;
  }
}

/* The Profile message around the arrays, packed and gzipped into *gz.
 * @return 0, or -1 when out of memory. */
static int pprof_pack(const pprof_msg *m, unsigned char **gz, size_t *len) {
  const pf_profile *p = m->p;
  PValueType vt[2], period;
  PValueType *vtp[2] = {&vt[0], &vt[1]};
  perftools__profiles__value_type__init(&vt[0]);
  vt[0].type = PF_STR_CONTENTIONS;
  vt[0].unit = PF_STR_COUNT;
  perftools__profiles__value_type__init(&vt[1]);
  vt[1].type = PF_STR_DELAY;
  vt[1].unit = PF_STR_NANOSECONDS;
  perftools__profiles__value_type__init(&period);
  period.type = PF_STR_DELAY;
  period.unit = PF_STR_NANOSECONDS;
  PMapping map;
  PMapping *mapp = &map;
  perftools__profiles__mapping__init(&map);
  map.id = 1;
  map.filename = PF_STR_MAPPING;
  map.has_functions = 1; /* nothing to symbolize */
  map.has_filenames = m->has_files;
  map.has_line_numbers = m->has_lines;
  int64_t comment = PF_STR_COMMENT;
  PProfile pr;
  perftools__profiles__profile__init(&pr);
  pr.n_sample_type = 2;
  pr.sample_type = vtp;
  pr.n_sample = p->nsamples;
  pr.sample = m->smpp;
  pr.n_mapping = 1;
  pr.mapping = &mapp;
  pr.n_location = p->nframes;
  pr.location = m->locp;
  pr.n_function = m->nfun;
  pr.function = m->funp;
  pr.n_string_table = p->nstrings;
  pr.string_table = p->strings;
  pr.time_nanos = p->time_nanos;
  pr.duration_nanos = (int64_t)(p->t1 - p->t0);
  pr.period_type = &period;
  pr.period = 1;
  pr.n_comment = 1;
  pr.comment = &comment;
  pr.default_sample_type = PF_STR_DELAY;
  size_t n = perftools__profiles__profile__get_packed_size(&pr);
  uint8_t *raw = malloc(n ? n : 1);
  int ok = raw && perftools__profiles__profile__pack(&pr, raw) == n && !pf_gzip(raw, n, gz, len);
  free(raw);
  return ok ? 0 : -1;
}

int pf_encode_pprof(const pf_profile *p, unsigned char **gz, size_t *len, char *err,
                    size_t errlen) {
  *gz = NULL;
  *len = 0;
  if (p->nstrings < PF_STR_FIXED_) {
    vx_errf(err, errlen, "not a computed profile");
    return -1;
  }
  if (p->nstack > UINT32_MAX / 2 || p->nstrings > 0x7fffffff) {
    vx_errf(err, errlen, "the profile is too large to encode");
    return -1;
  }
  pprof_msg m = {.p = p};
  int ok = pprof_alloc(&m) == 0 && pprof_locations(&m) == 0;
  if (ok)
    pprof_samples(&m);
  ok = ok && pprof_pack(&m, gz, len) == 0;
  pprof_free(&m);
  if (!ok) {
    vx_errf(err, errlen, "out of memory while encoding the profile");
    return -1;
  }
  return 0;
}

/* ---- JSON ----------------------------------------------------------------------------- */

cJSON *pf_json(const pf_profile *p, size_t top) {
  cJSON *arr = cJSON_CreateArray();
  size_t n = top && top < p->nsamples ? top : p->nsamples;
  for (size_t i = 0; arr && i < n; i++) {
    const pf_sample *s = &p->samples[i];
    cJSON *o = cJSON_CreateObject(), *st = o ? cJSON_AddArrayToObject(o, "stack") : NULL;
    if (!st) {
      cJSON_Delete(o);
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, o);
    for (size_t j = s->n; j-- > 0;)
      cJSON_AddItemToArray(st,
                           cJSON_CreateString(p->strings[p->frames[p->stack[s->first + j]].name]));
    cJSON_AddNumberToObject(o, "count", (double)s->count);
    cJSON_AddNumberToObject(o, "total_ns", (double)s->delay);
    if (s->object_str)
      cJSON_AddStringToObject(o, "object", p->strings[s->object_str]);
  }
  return arr;
}
