/* Trace reader: see read.h. Every length, id and offset that comes from
 * the file is checked before use; the fuzzer (tests/fuzz) holds us to it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common.h"
#include "native_samples.h"
#include "read.h"

#define RD_MAX_ID CTRACE_FMT_MAX_ID
#define RD_MAX_THREADS CTRACE_FMT_MAX_THREADS

typedef struct rd_batch {
  uint64_t offset; /* of the payload */
  uint32_t stored;
  uint32_t raw;
  uint64_t base_tick;
  uint8_t codec;
  uint8_t kernel; /* CTRACE_FMT_RF_KERNEL: ticks are CLOCK_MONOTONIC ns */
} rd_batch;

typedef struct rd_thread_impl {
  rd_thread pub;
  rd_batch *batches;
  size_t cap;
} rd_thread_impl;

typedef struct rd_str {
  char *s;
  uint32_t len;
  uint32_t id;
  int defined; /* 0: a placeholder for an id never defined */
} rd_str;

typedef struct rd_clock_pt {
  uint64_t tick;
  uint64_t mono;
  double slope; /* ns per tick from this point to the next (or extrapolated) */
} rd_clock_pt;

struct rd_trace {
  int fd; /* -1 for memory */
  const uint8_t *mem;
  uint64_t size;
  unsigned flags;

  unsigned minor;
  uint32_t file_flags; /* CTRACE_FMT_FF_* */
  int clock;
  char *clock_why; /* DEF_CLOCK's (NULL: the trace does not say) */
  int pid;
  uint64_t hz;
  uint64_t start_real;
  char *proc_name;
  char *cmdline;

  rd_thread_impl *threads;
  size_t nthreads, cap_threads;
  uint32_t *serial_map; /* open addressing: serial -> index + 1 */
  size_t serial_cap;

  /* Sites and strings in dense arrays, found by id through a map: ids come
   * from the file, so nothing here is sized by an id's value. */
  rd_site *sites;
  size_t nsites, cap_sites;
  vh_map site_map;
  rd_str *strs;
  size_t nstrs, cap_strs;
  vh_map str_map;

  rd_clock_pt *clock_pts;
  size_t nclock, cap_clock;

  size_t nbatches;
  rd_capture cap;
  char *cap_why;
  rd_samples *samples; /* CPU-profile definitions (native_samples.c), or NULL */
  rd_span spans[64];   /* the tracer's own work (DEF_TRACER_SPAN) */
  size_t nspans;
  int has_end;
  uint64_t dropped_end;
  uint64_t dropped_thread_end;
  uint64_t valid;        /* bytes valid */
  size_t nrec;           /* records read (rd_refresh goes on from valid) */
  uint64_t clock_off[2]; /* the last two CLOCK records' offsets, latest first (0: none) */
  pthread_mutex_t problem_lock;
  char problem[512];
  rd_problem_kind problem_kind; /* of problem (RD_PROBLEM_NONE while it is "") */

  ZSTD_DCtx *dctx;
  uint8_t *rbuf; /* payload read buffer */
  size_t rbuf_cap;
};

/* ---- Small helpers -------------------------------------------------------------- */

static void fmt(char *buf, size_t cap, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t cap, const char *f, ...) {
  if (!buf || !cap)
    return;
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, cap, f, ap);
  va_end(ap);
}

static void note_problem(rd_trace *tr, rd_problem_kind kind, const char *f, ...)
    __attribute__((format(printf, 3, 4)));
static void note_problem(rd_trace *tr, rd_problem_kind kind, const char *f, ...) {
  pthread_mutex_lock(&tr->problem_lock); /* (streams of their own may fail on two threads) */
  if (!tr->problem[0]) {                 /* keep the first */
    tr->problem_kind = kind;
    va_list ap;
    va_start(ap, f);
    vsnprintf(tr->problem, sizeof tr->problem, f, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&tr->problem_lock);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q)
    return -ENOMEM;
  memset((char *)q + *cap * elem, 0, (n - *cap) * elem);
  *p = q;
  *cap = n;
  return 0;
}

/* A new site entry for id (no name yet); NULL on failure. */
static rd_site *site_new(rd_trace *tr, uint32_t id) {
  if (grow((void **)&tr->sites, &tr->cap_sites, tr->nsites + 1, sizeof *tr->sites) ||
      vh_put(&tr->site_map, id, (uint32_t)tr->nsites))
    return NULL;
  rd_site *s = &tr->sites[tr->nsites];
  memset(s, 0, sizeof *s);
  s->id = id;
  s->index = (uint32_t)tr->nsites++;
  return s;
}

static rd_str *str_new(rd_trace *tr, uint32_t id) {
  if (grow((void **)&tr->strs, &tr->cap_strs, tr->nstrs + 1, sizeof *tr->strs) ||
      vh_put(&tr->str_map, id, (uint32_t)tr->nstrs))
    return NULL;
  rd_str *s = &tr->strs[tr->nstrs++];
  s->s = NULL;
  s->len = 0;
  s->id = id;
  s->defined = 0;
  return s;
}

static int read_at(rd_trace *tr, uint64_t off, void *buf, size_t n) {
  if (off > tr->size || n > tr->size - off)
    return CTRACE_ETRUNC;
  if (tr->mem) {
    memcpy(buf, tr->mem + off, n);
    return 0;
  }
  uint8_t *p = buf;
  while (n) {
    ssize_t k = pread(tr->fd, p, n, (off_t)off);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (k == 0)
      return CTRACE_ETRUNC;
    p += k;
    off += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

static char *dup_bytes(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, p, n);
    s[n] = '\0';
  }
  return s;
}

/* ---- Threads ------------------------------------------------------------------------ */

static size_t serial_slot(const rd_trace *tr, uint32_t serial) {
  return (serial * 2654435761u) & (tr->serial_cap - 1);
}

/* Index of the thread with this serial, creating it; SIZE_MAX on failure. */
static size_t thread_index(rd_trace *tr, uint32_t serial, int create) {
  if (tr->serial_cap) {
    for (size_t i = serial_slot(tr, serial);; i = (i + 1) & (tr->serial_cap - 1)) {
      uint32_t v = tr->serial_map[i];
      if (!v)
        break;
      if (tr->threads[v - 1].pub.serial == serial)
        return v - 1;
    }
  }
  if (!create || tr->nthreads >= RD_MAX_THREADS)
    return SIZE_MAX;
  if ((tr->nthreads + 1) * 2 > tr->serial_cap) { /* rehash */
    size_t cap = tr->serial_cap ? tr->serial_cap * 2 : 64;
    uint32_t *m = calloc(cap, sizeof *m);
    if (!m)
      return SIZE_MAX;
    free(tr->serial_map);
    tr->serial_map = m;
    tr->serial_cap = cap;
    for (size_t k = 0; k < tr->nthreads; k++) {
      size_t i = serial_slot(tr, tr->threads[k].pub.serial);
      while (m[i])
        i = (i + 1) & (cap - 1);
      m[i] = (uint32_t)k + 1;
    }
  }
  if (grow((void **)&tr->threads, &tr->cap_threads, tr->nthreads + 1, sizeof *tr->threads))
    return SIZE_MAX;
  size_t idx = tr->nthreads++;
  rd_thread_impl *t = &tr->threads[idx];
  memset(t, 0, sizeof *t);
  t->pub.serial = serial;
  t->pub.name = "";
  size_t i = serial_slot(tr, serial);
  while (tr->serial_map[i])
    i = (i + 1) & (tr->serial_cap - 1);
  tr->serial_map[i] = (uint32_t)idx + 1;
  return idx;
}

/* ---- Definitions ------------------------------------------------------------------------ */

typedef struct cur {
  const uint8_t *p, *end;
  int bad;
} cur;

static uint64_t cur_varint(cur *c) {
  uint64_t v = 0;
  const uint8_t *q = c->bad ? NULL : ctrace_fmt_get_varint(c->p, c->end, &v);
  if (!q) {
    c->bad = 1;
    return 0;
  }
  c->p = q;
  return v;
}

static char *cur_str(cur *c) {
  uint64_t n = cur_varint(c);
  if (c->bad || n > (uint64_t)(c->end - c->p)) {
    c->bad = 1;
    return NULL;
  }
  char *s = dup_bytes(c->p, (size_t)n);
  if (!s)
    c->bad = 1;
  c->p += n;
  return s;
}

static int def_site(rd_trace *tr, cur *c) {
  uint64_t id = cur_varint(c), kind = cur_varint(c), line = cur_varint(c);
  char *name = cur_str(c), *file = cur_str(c), *func = cur_str(c);
  if (c->bad || id == 0 || id >= RD_MAX_ID || line > UINT32_MAX) {
    free(name), free(file), free(func);
    return -1;
  }
  if (vh_get(&tr->site_map, id)) { /* a second definition keeps the first */
    free(name), free(file), free(func);
    return 0;
  }
  rd_site *s = site_new(tr, (uint32_t)id);
  if (!s) {
    free(name), free(file), free(func);
    return -1;
  }
  s->kind = (uint32_t)kind;
  s->line = (uint32_t)line;
  s->name = name;
  s->file = file;
  s->func = func;
  s->defined = 1;
  return 0;
}

static int def_string(rd_trace *tr, cur *c) {
  uint64_t id = cur_varint(c);
  uint64_t n = cur_varint(c);
  if (c->bad || id == 0 || id >= RD_MAX_ID || n > (uint64_t)(c->end - c->p))
    return -1;
  if (!vh_get(&tr->str_map, id)) { /* a second definition keeps the first */
    rd_str *st = str_new(tr, (uint32_t)id);
    if (!st || !(st->s = dup_bytes(c->p, (size_t)n)))
      return -1;
    st->len = (uint32_t)n;
    st->defined = 1;
  }
  c->p += n;
  return 0;
}

static int def_thread(rd_trace *tr, cur *c, int end) {
  uint64_t serial = cur_varint(c), v = cur_varint(c);
  char *name = end ? NULL : cur_str(c);
  if (c->bad || serial == 0 || serial > UINT32_MAX) {
    free(name);
    return -1;
  }
  size_t i = thread_index(tr, (uint32_t)serial, 1);
  if (i == SIZE_MAX) {
    free(name);
    return -1;
  }
  rd_thread *t = &tr->threads[i].pub;
  if (end) {
    t->ended = 1;
    t->dropped = v;
    tr->dropped_thread_end += v;
  } else {
    if (t->defined)
      free((char *)t->name);
    t->tid = (int)v;
    t->name = name;
    t->defined = 1;
  }
  return 0;
}

static int parse_defs(rd_trace *tr, const uint8_t *p, size_t n, char *why, size_t whylen) {
  cur c = {p, p + n, 0};
  while (c.p < c.end) {
    unsigned kind = *c.p++;
    uint64_t len = cur_varint(&c);
    if (c.bad || len > (uint64_t)(c.end - c.p)) {
      fmt(why, whylen, "definition of kind %u at payload byte %zu overruns the record", kind,
          (size_t)(c.p - p));
      return -1;
    }
    cur body = {c.p, c.p + len, 0};
    int r = 0;
    switch (kind) {
    case CTRACE_FMT_DEF_PROCESS: {
      uint64_t pid = cur_varint(&body);
      char *name = cur_str(&body), *cmd = cur_str(&body);
      if (body.bad) {
        free(name), free(cmd);
        r = -1;
      } else {
        free(tr->proc_name);
        free(tr->cmdline);
        tr->pid = (int)pid;
        tr->proc_name = name;
        tr->cmdline = cmd;
      }
      break;
    }
    case CTRACE_FMT_DEF_SITE: r = def_site(tr, &body); break;
    case CTRACE_FMT_DEF_STRING: r = def_string(tr, &body); break;
    case CTRACE_FMT_DEF_THREAD: r = def_thread(tr, &body, 0); break;
    case CTRACE_FMT_DEF_THREAD_END: r = def_thread(tr, &body, 1); break;
    case CTRACE_FMT_DEF_CAPTURE: {
      uint64_t v[4];
      for (int i = 0; i < 4; i++)
        v[i] = cur_varint(&body);
      char *note = cur_str(&body);
      if (body.bad) {
        free(note);
        r = -1;
      } else {
        tr->cap.syscalls = (int)v[0];
        tr->cap.sched = (int)v[1];
        tr->cap.heap = (int)v[2];
        tr->cap.locks = (int)v[3];
        tr->cap.present = 1;
        free(tr->cap_why);
        tr->cap_why = note;
        tr->cap.why = note;
      }
      break;
    }
    case CTRACE_FMT_DEF_CLOCK: {
      cur_varint(&body); /* (the kind: the file header's) */
      char *said = cur_str(&body);
      if (body.bad) {
        free(said);
        r = -1;
      } else {
        free(tr->clock_why);
        tr->clock_why = said;
      }
      break;
    }
    case CTRACE_FMT_DEF_TRACER_SPAN: {
      uint64_t tid = cur_varint(&body), from = cur_varint(&body), to = cur_varint(&body);
      uint64_t whole = cur_varint(&body);
      if (body.bad || tid > INT32_MAX || whole > 1) {
        r = -1;
      } else if (tr->nspans < 64) {
        tr->spans[tr->nspans].tid = (int)tid;
        tr->spans[tr->nspans].from = from;
        tr->spans[tr->nspans].to = to ? to : UINT64_MAX;
        tr->spans[tr->nspans].whole = (int)whole;
        tr->nspans++;
      }
      break;
    }
    case CTRACE_FMT_DEF_SAMPLING:
    case CTRACE_FMT_DEF_MAPPING:
    case CTRACE_FMT_DEF_STACK:
    case CTRACE_FMT_DEF_KSYM:
    case CTRACE_FMT_DEF_HEAP_SAMPLING:
      r = rd__samples_def(&tr->samples, kind, body.p, (size_t)(body.end - body.p));
      break;
    default: break; /* a newer minor version's definition: skip */
    }
    if (r) {
      fmt(why, whylen, "malformed definition of kind %u at payload byte %zu", kind,
          (size_t)(c.p - p));
      return -1;
    }
    c.p += len;
  }
  return 0;
}

static int parse_end(rd_trace *tr, const uint8_t *p, size_t n) {
  cur c = {p, p + n, 0};
  cur_varint(&c); /* end tick */
  uint64_t dropped = cur_varint(&c), pairs = cur_varint(&c);
  for (uint64_t i = 0; !c.bad && i < pairs; i++) {
    uint64_t serial = cur_varint(&c), d = cur_varint(&c);
    if (c.bad || serial == 0 || serial > UINT32_MAX)
      return -1;
    size_t k = thread_index(tr, (uint32_t)serial, 1);
    if (k == SIZE_MAX)
      return -1;
    tr->threads[k].pub.dropped = d;
  }
  if (c.bad)
    return -1;
  tr->has_end = 1;
  tr->dropped_end = dropped;
  return 0;
}

/* ---- Clock ---------------------------------------------------------------------------- */

static int add_clock(rd_trace *tr, uint64_t tick, uint64_t mono) {
  if (tr->nclock) {
    rd_clock_pt *last = &tr->clock_pts[tr->nclock - 1];
    if (tick <= last->tick || mono <= last->mono)
      return -1; /* must increase */
  }
  if (grow((void **)&tr->clock_pts, &tr->cap_clock, tr->nclock + 1, sizeof *tr->clock_pts))
    return -1;
  tr->clock_pts[tr->nclock].tick = tick;
  tr->clock_pts[tr->nclock].mono = mono;
  tr->nclock++;
  return 0;
}

static void finish_clock(rd_trace *tr) {
  double nominal =
      tr->clock == CTRACE_FMT_CLOCK_MONOTONIC || tr->hz == 0 ? 1.0 : 1e9 / (double)tr->hz;
  for (size_t i = 0; i < tr->nclock; i++) {
    rd_clock_pt *a = &tr->clock_pts[i];
    if (tr->clock == CTRACE_FMT_CLOCK_MONOTONIC)
      a->slope = 1.0;
    else if (i + 1 < tr->nclock)
      a->slope = (double)(a[1].mono - a->mono) / (double)(a[1].tick - a->tick);
    else
      a->slope = i ? a[-1].slope : nominal;
  }
}

uint64_t rd_tick_to_ns(const rd_trace *tr, uint64_t tick, size_t *hint) {
  if (tr->clock == CTRACE_FMT_CLOCK_MONOTONIC || tr->nclock == 0)
    return tick;
  const rd_clock_pt *p = tr->clock_pts;
  size_t n = tr->nclock, i = hint && *hint < n ? *hint : 0;
  while (i + 1 < n && tick >= p[i + 1].tick)
    i++;
  while (i > 0 && tick < p[i].tick)
    i--;
  if (hint)
    *hint = i;
  double d = tick >= p[i].tick ? (double)(tick - p[i].tick) * p[i].slope
                               : -(double)(p[i].tick - tick) * p[i].slope;
  double ns = (double)p[i].mono + d;
  return ns <= 0 ? 0 : (uint64_t)(ns + 0.5);
}

/* ---- Opening: the one pass over the records ------------------------------------------------ */

static int decode_payload(ZSTD_DCtx *dctx, unsigned codec, const uint8_t *in, size_t stored,
                          uint8_t *out, size_t raw, char *why, size_t whylen) {
  if (codec == CTRACE_FMT_CODEC_NONE) {
    if (stored != raw) {
      fmt(why, whylen, "uncompressed payload of %zu bytes claims %zu", stored, raw);
      return -1;
    }
    memcpy(out, in, raw);
    return 0;
  }
  size_t n = ZSTD_decompressDCtx(dctx, out, raw, in, stored);
  if (ZSTD_isError(n)) {
    fmt(why, whylen, "zstd: %s", ZSTD_getErrorName(n));
    return -1;
  }
  if (n != raw) {
    fmt(why, whylen, "decompressed to %zu bytes, header says %zu", n, raw);
    return -1;
  }
  return 0;
}

/* The file header: checks it and takes the process's facts and the first
 * clock point from it. @return 0 with *hsize (where the records begin), or
 * a negative CTRACE_E* with a message in err. */
static int scan_file_header(rd_trace *tr, uint32_t *hsize, char *err, size_t errlen) {
  uint8_t fh[CTRACE_FMT_FILE_HEADER_SIZE];
  if (tr->size == 0) {
    fmt(err, errlen, "empty file (0 bytes): not a ctrace trace");
    return CTRACE_EFORMAT;
  }
  size_t have = tr->size < sizeof fh ? (size_t)tr->size : sizeof fh;
  int r = read_at(tr, 0, fh, have);
  if (r) {
    fmt(err, errlen, "cannot read the file header: %s", ctrace_strerror(r));
    return r;
  }
  size_t cmp = have < CTRACE_FMT_MAGIC_LEN ? have : CTRACE_FMT_MAGIC_LEN;
  if (memcmp(fh, CTRACE_FMT_MAGIC, cmp) != 0) {
    fmt(err, errlen, "not a ctrace trace: bad magic at byte 0");
    return CTRACE_EFORMAT;
  }
  if (have < sizeof fh) {
    fmt(err, errlen, "trace truncated at byte %zu: file header incomplete (%zu of %d bytes)", have,
        have, CTRACE_FMT_FILE_HEADER_SIZE);
    return CTRACE_ETRUNC;
  }
  /* The version first: another major version may lay its header out
   * differently, so its CRC means nothing to us. */
  unsigned major = ctrace_fmt_get_u16(fh + CTRACE_FMT_FH_VERSION_MAJOR);
  if (major != CTRACE_FMT_VERSION_MAJOR) {
    fmt(err, errlen, "trace format version %u.%u is not supported (this reader reads %d.x)", major,
        ctrace_fmt_get_u16(fh + CTRACE_FMT_FH_VERSION_MINOR), CTRACE_FMT_VERSION_MAJOR);
    return CTRACE_EVERSION;
  }
  if (!(tr->flags & RD_OPEN_NO_CRC) &&
      ctrace_fmt_get_u32(fh + CTRACE_FMT_FH_CRC) != ctrace_fmt_crc32c(0, fh, CTRACE_FMT_FH_CRC)) {
    fmt(err, errlen, "file header corrupt: checksum mismatch (bytes 0..63)");
    return CTRACE_ECORRUPT;
  }
  tr->minor = ctrace_fmt_get_u16(fh + CTRACE_FMT_FH_VERSION_MINOR);
  tr->file_flags = ctrace_fmt_get_u32(fh + CTRACE_FMT_FH_FLAGS);
  *hsize = ctrace_fmt_get_u32(fh + CTRACE_FMT_FH_HEADER_SIZE);
  tr->clock = (int)ctrace_fmt_get_u32(fh + CTRACE_FMT_FH_CLOCK);
  tr->pid = (int)ctrace_fmt_get_u32(fh + CTRACE_FMT_FH_PID);
  tr->hz = ctrace_fmt_get_u64(fh + CTRACE_FMT_FH_TICKS_PER_SEC);
  uint64_t t0 = ctrace_fmt_get_u64(fh + CTRACE_FMT_FH_START_TICK);
  uint64_t m0 = ctrace_fmt_get_u64(fh + CTRACE_FMT_FH_START_MONO);
  tr->start_real = ctrace_fmt_get_u64(fh + CTRACE_FMT_FH_START_REAL);
  if (*hsize < CTRACE_FMT_FILE_HEADER_SIZE || *hsize > CTRACE_FMT_FILE_HEADER_MAX ||
      (tr->clock != CTRACE_FMT_CLOCK_TSC && tr->clock != CTRACE_FMT_CLOCK_MONOTONIC) ||
      (tr->clock == CTRACE_FMT_CLOCK_TSC && tr->hz == 0)) {
    fmt(err, errlen, "file header corrupt: header size %u, clock %d, %" PRIu64 " ticks/s", *hsize,
        tr->clock, tr->hz);
    return CTRACE_ECORRUPT;
  }
  add_clock(tr, t0, m0);
  return 0;
}

/* The pass over the records after the file header, one record at a time.
 * Each step below returns 0 to go on, or the code of the problem it noted
 * (rd_problem), which ends the pass there. */
typedef struct rd_scan {
  rd_trace *tr;
  uint64_t off;                             /* of the current record */
  size_t nrec;                              /* its index: records read before it */
  uint8_t h[CTRACE_FMT_RECORD_HEADER_SIZE]; /* its header... */
  uint32_t stored, raw_size;                /* ...and what it says */
  unsigned type, codec;
  uint8_t *raw; /* decoded payload of a DEFS, CLOCK or END record */
  size_t raw_cap;
  char why[200]; /* what is wrong with the current record's content */
} rd_scan;

/* Reads the current record's header and checks its sync word and sizes,
 * and that its payload is in the file. */
static int rec_header(rd_scan *sc) {
  rd_trace *tr = sc->tr;
  uint64_t off = sc->off, left = tr->size - off;
  if (left < sizeof sc->h) {
    note_problem(tr, RD_PROBLEM_TRUNCATED,
                 "trace truncated at byte %" PRIu64 ": record %zu "
                 "at byte %" PRIu64 " has only %" PRIu64 " of its %d header bytes",
                 tr->size, sc->nrec, off, left, CTRACE_FMT_RECORD_HEADER_SIZE);
    return CTRACE_ETRUNC;
  }
  int r = read_at(tr, off, sc->h, sizeof sc->h);
  if (r) {
    note_problem(tr, RD_PROBLEM_IO, "read error at byte %" PRIu64 ": %s", off, ctrace_strerror(r));
    return r;
  }
  sc->stored = ctrace_fmt_get_u32(sc->h + CTRACE_FMT_RH_STORED_SIZE);
  sc->raw_size = ctrace_fmt_get_u32(sc->h + CTRACE_FMT_RH_RAW_SIZE);
  sc->type = sc->h[CTRACE_FMT_RH_TYPE];
  sc->codec = sc->h[CTRACE_FMT_RH_CODEC];
  if (ctrace_fmt_get_u32(sc->h + CTRACE_FMT_RH_SYNC) != CTRACE_FMT_RECORD_SYNC) {
    note_problem(tr, RD_PROBLEM_CORRUPT,
                 "record %zu at byte %" PRIu64 " is corrupt: bad sync "
                 "word",
                 sc->nrec, off);
    return CTRACE_ECORRUPT;
  }
  if (sc->stored > CTRACE_FMT_RECORD_MAX_STORED || sc->raw_size > CTRACE_FMT_RECORD_MAX_RAW ||
      sc->codec > CTRACE_FMT_CODEC_ZSTD) {
    note_problem(tr, RD_PROBLEM_CORRUPT,
                 "record %zu at byte %" PRIu64 " is corrupt: %u stored "
                 "/ %u raw bytes, codec %u",
                 sc->nrec, off, sc->stored, sc->raw_size, sc->codec);
    return CTRACE_ECORRUPT;
  }
  if (left - sizeof sc->h < sc->stored) {
    note_problem(tr, RD_PROBLEM_TRUNCATED,
                 "trace truncated at byte %" PRIu64 ": record %zu at "
                 "byte %" PRIu64 " needs %u payload bytes, %" PRIu64 " remain",
                 tr->size, sc->nrec, off, sc->stored, left - sizeof sc->h);
    return CTRACE_ETRUNC;
  }
  return 0;
}

/* Loads the current record's payload (as stored) into tr->rbuf and checks
 * its CRC. */
static int rec_payload(rd_scan *sc) {
  rd_trace *tr = sc->tr;
  if (sc->stored > tr->rbuf_cap) {
    uint8_t *b = realloc(tr->rbuf, sc->stored);
    if (!b) {
      note_problem(tr, RD_PROBLEM_NOMEM, "out of memory at byte %" PRIu64, sc->off);
      return CTRACE_ENOMEM;
    }
    tr->rbuf = b;
    tr->rbuf_cap = sc->stored;
  }
  int r = read_at(tr, sc->off + sizeof sc->h, tr->rbuf, sc->stored);
  if (r) {
    note_problem(tr, RD_PROBLEM_IO, "read error at byte %" PRIu64 ": %s", sc->off,
                 ctrace_strerror(r));
    return r;
  }
  if (!(tr->flags & RD_OPEN_NO_CRC)) {
    uint32_t want = ctrace_fmt_get_u32(sc->h + CTRACE_FMT_RH_CRC);
    uint32_t got = ctrace_fmt_record_crc(sc->h, tr->rbuf, sc->stored);
    if (want != got) {
      note_problem(tr, RD_PROBLEM_CORRUPT,
                   "record %zu at byte %" PRIu64 " is corrupt: checksum "
                   "mismatch (stored %08x, computed %08x)",
                   sc->nrec, sc->off, want, got);
      return CTRACE_ECORRUPT;
    }
  }
  return 0;
}

/* The current record's content is bad (sc->why says how). */
static int rec_bad(rd_scan *sc, rd_problem_kind kind) {
  note_problem(sc->tr, kind, "record %zu at byte %" PRIu64 " is corrupt: %s", sc->nrec, sc->off,
               sc->why);
  return CTRACE_ECORRUPT;
}

/* A BATCH record: indexed in its thread's list, decoded only when streamed. */
static int rec_batch(rd_scan *sc) {
  rd_trace *tr = sc->tr;
  uint32_t serial = ctrace_fmt_get_u32(sc->h + CTRACE_FMT_RH_THREAD);
  int kernel = (ctrace_fmt_get_u16(sc->h + CTRACE_FMT_RH_FLAGS) & CTRACE_FMT_RF_KERNEL) != 0;
  /* Thread 0 is the kernel stream, and only it. */
  size_t ti = serial || kernel ? thread_index(tr, serial, 1) : SIZE_MAX;
  if (ti != SIZE_MAX && (serial == 0) != kernel)
    ti = SIZE_MAX;
  if (ti != SIZE_MAX && kernel && !tr->threads[ti].pub.kernel) {
    tr->threads[ti].pub.kernel = 1;
    tr->threads[ti].pub.name = "kernel";
  }
  if (ti == SIZE_MAX || (sc->codec == CTRACE_FMT_CODEC_NONE && sc->stored != sc->raw_size)) {
    fmt(sc->why, sizeof sc->why, "batch of thread %u is malformed", serial);
    return rec_bad(sc, RD_PROBLEM_CORRUPT);
  }
  rd_thread_impl *t = &tr->threads[ti];
  if (grow((void **)&t->batches, &t->cap, t->pub.nbatches + 1, sizeof *t->batches)) {
    fmt(sc->why, sizeof sc->why, "out of memory");
    return rec_bad(sc, RD_PROBLEM_NOMEM);
  }
  rd_batch *b = &t->batches[t->pub.nbatches++];
  b->offset = sc->off + sizeof sc->h;
  b->stored = sc->stored;
  b->raw = sc->raw_size;
  b->codec = (uint8_t)sc->codec;
  b->kernel = (uint8_t)kernel;
  b->base_tick = ctrace_fmt_get_u64(sc->h + CTRACE_FMT_RH_BASE_TICK);
  t->pub.raw_bytes += sc->raw_size;
  tr->nbatches++;
  return 0;
}

/* A DEFS, CLOCK or END record: decoded and taken in now. */
static int rec_meta(rd_scan *sc) {
  rd_trace *tr = sc->tr;
  uint32_t rawn = sc->raw_size;
  if (rawn > sc->raw_cap) {
    uint8_t *b = realloc(sc->raw, rawn);
    if (!b) {
      note_problem(tr, RD_PROBLEM_NOMEM, "out of memory at byte %" PRIu64, sc->off);
      return CTRACE_ENOMEM;
    }
    sc->raw = b;
    sc->raw_cap = rawn;
  }
  uint8_t *raw = sc->raw;
  int bad = 0;
  if (decode_payload(tr->dctx, sc->codec, tr->rbuf, sc->stored, raw, rawn, sc->why, sizeof sc->why))
    bad = 1;
  else if (sc->type == CTRACE_FMT_REC_DEFS)
    bad = parse_defs(tr, raw, rawn, sc->why, sizeof sc->why) != 0;
  else if (sc->type == CTRACE_FMT_REC_CLOCK) {
    if (rawn != CTRACE_FMT_CLOCK_PAYLOAD) {
      bad = 1;
      fmt(sc->why, sizeof sc->why, "clock record of %u bytes", rawn);
    } else if (add_clock(tr, ctrace_fmt_get_u64(raw), ctrace_fmt_get_u64(raw + 8))) {
      bad = 1;
      fmt(sc->why, sizeof sc->why, "clock sync point goes backwards");
    } else {
      tr->clock_off[1] = tr->clock_off[0];
      tr->clock_off[0] = sc->off;
    }
  } else if (parse_end(tr, raw, rawn)) {
    bad = 1;
    fmt(sc->why, sizeof sc->why, "malformed end record");
  }
  return bad ? rec_bad(sc, RD_PROBLEM_CORRUPT) : 0;
}

/* The current record by its type. */
static int rec_dispatch(rd_scan *sc) {
  sc->why[0] = '\0';
  switch (sc->type) {
  case CTRACE_FMT_REC_BATCH: return rec_batch(sc);
  case CTRACE_FMT_REC_DEFS:
  case CTRACE_FMT_REC_CLOCK:
  case CTRACE_FMT_REC_END: return rec_meta(sc);
  default: return 0; /* a newer minor version's record: skipped */
  }
}

/* After the last record read: what is valid, the clock, and whether the
 * trace can be opened at all (stop: the code that ended the pass, or 0). */
static int scan_finish(rd_scan *sc, int stop, char *err, size_t errlen) {
  rd_trace *tr = sc->tr;
  free(sc->raw);
  sc->raw = NULL;
  tr->valid = sc->off;
  tr->nrec = sc->nrec;
  finish_clock(tr);
  if (stop && tr->nbatches == 0) {
    fmt(err, errlen, "%s; no events could be read", tr->problem);
    return stop;
  }
  if (!stop && !tr->has_end)
    note_problem(tr, RD_PROBLEM_NO_END,
                 "trace has no end record: the program did not stop "
                 "tracing (killed or still running?); read %zu records up to byte %" PRIu64,
                 sc->nrec, sc->off);
  return 0;
}

static int scan(rd_trace *tr, char *err, size_t errlen) {
  uint32_t hsize;
  int r = scan_file_header(tr, &hsize, err, errlen);
  if (r)
    return r;
  if (hsize > tr->size) {
    fmt(err, errlen, "trace truncated at byte %" PRIu64 ": file header claims %u bytes", tr->size,
        hsize);
    return CTRACE_ETRUNC;
  }
  rd_scan sc = {.tr = tr, .off = hsize};
  int stop = 0; /* the code of the first problem: where reading stopped */
  while (sc.off < tr->size) {
    if ((stop = rec_header(&sc)) || (stop = rec_payload(&sc)) || (stop = rec_dispatch(&sc)))
      break;
    sc.off += sizeof sc.h + sc.stored;
    sc.nrec++;
  }
  return scan_finish(&sc, stop, err, errlen);
}

static int open_common(rd_trace *tr, rd_trace **out, char *err, size_t errlen) {
  tr->dctx = ZSTD_createDCtx();
  if (!tr->dctx) {
    rd_close(tr);
    fmt(err, errlen, "out of memory");
    return CTRACE_ENOMEM;
  }
  int r = scan(tr, err, errlen);
  if (r) {
    rd_close(tr);
    return r;
  }
  *out = tr;
  return 0;
}

int rd_open(const char *path, unsigned flags, rd_trace **out, char *err, size_t errlen) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    fmt(err, errlen, "cannot open: %s", strerror(e));
    return -e;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = S_ISDIR(st.st_mode) ? EISDIR : errno ? errno : EINVAL;
    fmt(err, errlen, "not a regular file: %s", strerror(e));
    close(fd);
    return -e;
  }
  rd_trace *tr = calloc(1, sizeof *tr);
  if (!tr) {
    close(fd);
    return CTRACE_ENOMEM;
  }
  pthread_mutex_init(&tr->problem_lock, NULL);
  tr->fd = fd;
  tr->size = (uint64_t)st.st_size;
  tr->flags = flags;
  return open_common(tr, out, err, errlen);
}

int rd_open_mem(const void *data, size_t len, unsigned flags, rd_trace **out, char *err,
                size_t errlen) {
  *out = NULL;
  rd_trace *tr = calloc(1, sizeof *tr);
  if (!tr)
    return CTRACE_ENOMEM;
  pthread_mutex_init(&tr->problem_lock, NULL);
  static const uint8_t empty[1];
  tr->fd = -1;
  tr->mem = data ? data : empty;
  tr->size = len;
  tr->flags = flags;
  return open_common(tr, out, err, errlen);
}

void rd_close(rd_trace *tr) {
  if (!tr)
    return;
  pthread_mutex_destroy(&tr->problem_lock);
  if (tr->fd >= 0)
    close(tr->fd);
  for (size_t i = 0; i < tr->nthreads; i++) {
    free(tr->threads[i].batches);
    if (tr->threads[i].pub.defined)
      free((char *)tr->threads[i].pub.name);
  }
  free(tr->threads);
  free(tr->serial_map);
  for (size_t i = 0; i < tr->nsites; i++) {
    free((char *)tr->sites[i].name); /* defined sites and placeholders */
    if (tr->sites[i].defined) {
      free((char *)tr->sites[i].file);
      free((char *)tr->sites[i].func);
    }
  }
  free(tr->sites);
  vh_free(&tr->site_map);
  for (size_t i = 0; i < tr->nstrs; i++)
    free(tr->strs[i].s);
  free(tr->strs);
  vh_free(&tr->str_map);
  free(tr->clock_pts);
  free(tr->proc_name);
  free(tr->cmdline);
  free(tr->cap_why);
  free(tr->clock_why);
  rd__samples_free(tr->samples);
  free(tr->rbuf);
  ZSTD_freeDCtx(tr->dctx);
  free(tr);
}

/* ---- Accessors ----------------------------------------------------------------------------- */
const char *rd_problem(const rd_trace *tr) { return tr->problem[0] ? tr->problem : NULL; }
rd_problem_kind rd_problem_kind_of(const rd_trace *tr) {
  return tr->problem[0] ? tr->problem_kind : RD_PROBLEM_NONE;
}
uint64_t rd_valid_bytes(const rd_trace *tr) { return tr->valid; }
uint64_t rd_file_size(const rd_trace *tr) { return tr->size; }
int rd_complete(const rd_trace *tr) { return tr->has_end && !tr->problem[0]; }
int rd_pid(const rd_trace *tr) { return tr->pid; }
const char *rd_process_name(const rd_trace *tr) { return tr->proc_name ? tr->proc_name : ""; }
const char *rd_command_line(const rd_trace *tr) { return tr->cmdline ? tr->cmdline : ""; }
int rd_clock_kind(const rd_trace *tr) { return tr->clock; }
const char *rd_clock_why(const rd_trace *tr) { return tr->clock_why; }
unsigned rd_format_minor(const rd_trace *tr) { return tr->minor; }
uint32_t rd_file_flags(const rd_trace *tr) { return tr->file_flags; }
uint64_t rd_start_ns(const rd_trace *tr) { return tr->nclock ? tr->clock_pts[0].mono : 0; }
uint64_t rd_start_real_ns(const rd_trace *tr) { return tr->start_real; }
size_t rd_clock_points(const rd_trace *tr) { return tr->nclock; }
uint64_t rd_dropped_reported(const rd_trace *tr) {
  return tr->has_end ? tr->dropped_end : tr->dropped_thread_end;
}
size_t rd_thread_count(const rd_trace *tr) { return tr->nthreads; }
const rd_thread *rd_thread_get(const rd_trace *tr, size_t i) {
  return i < tr->nthreads ? &tr->threads[i].pub : NULL;
}
size_t rd_batch_count(const rd_trace *tr) { return tr->nbatches; }
const rd_capture *rd_capture_get(const rd_trace *tr) { return &tr->cap; }

size_t rd_tracer_spans(const rd_trace *tr, const rd_span **spans) {
  *spans = tr->spans;
  return tr->nspans;
}

void rd_spans_clip(rd_span *spans, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (spans[i].whole || spans[i].to != UINT64_MAX)
      continue;
    for (size_t j = 0; j < n; j++)
      if (j != i && spans[j].tid == spans[i].tid && spans[j].from > spans[i].from &&
          spans[j].from - 1 < spans[i].to)
        spans[i].to = spans[j].from - 1;
  }
}

void rd_spans_exec(rd_span *spans, size_t n, int tid, uint64_t ns) {
  for (size_t i = 0; i < n; i++)
    if (spans[i].tid == tid && !spans[i].whole && spans[i].from <= ns && spans[i].to >= ns)
      spans[i].to = ns ? ns - 1 : 0;
}

int rd_spans_cover(const rd_span *spans, size_t n, int tid, uint64_t ns) {
  for (size_t i = 0; i < n; i++)
    if (spans[i].tid == tid && (spans[i].whole || (ns >= spans[i].from && ns <= spans[i].to)))
      return spans[i].whole ? 2 : 1;
  return 0;
}

const rd_site *rd_site_get(rd_trace *tr, uint64_t id) {
  static const rd_site invalid = {0, 0, 0, 0, UINT32_MAX, "site#invalid", "", ""};
  if (id == 0 || id >= RD_MAX_ID)
    return &invalid;
  uint32_t *i = vh_get(&tr->site_map, id);
  if (i)
    return &tr->sites[*i];
  /* Referenced but never defined: remember a placeholder (freed in close). */
  char buf[32];
  snprintf(buf, sizeof buf, "site#%" PRIu64, id);
  char *name = strdup(buf);
  rd_site *s = name ? site_new(tr, (uint32_t)id) : NULL;
  if (!s) {
    free(name);
    return &invalid;
  }
  s->name = name;
  s->file = "";
  s->func = "";
  return s;
}

uint32_t rd_string_index(rd_trace *tr, uint64_t id) {
  if (id == 0 || id >= RD_MAX_ID)
    return UINT32_MAX;
  uint32_t *i = vh_get(&tr->str_map, id);
  if (i)
    return *i;
  /* Never defined: remember a placeholder. */
  char buf[32];
  int n = snprintf(buf, sizeof buf, "string#%" PRIu64, id);
  char *copy = strdup(buf);
  rd_str *st = copy ? str_new(tr, (uint32_t)id) : NULL;
  if (!st) {
    free(copy);
    return UINT32_MAX;
  }
  st->s = copy;
  st->len = (uint32_t)n;
  return (uint32_t)(tr->nstrs - 1);
}

const char *rd_string(rd_trace *tr, uint64_t id, size_t *len) {
  const char *r = "";
  size_t n = 0;
  if (id != 0) {
    uint32_t i = rd_string_index(tr, id);
    if (i == UINT32_MAX) {
      r = "string#invalid";
      n = strlen(r);
    } else {
      r = tr->strs[i].s;
      n = tr->strs[i].len;
    }
  }
  if (len)
    *len = n;
  return r;
}

size_t rd_site_count(const rd_trace *tr) { return tr->nsites; }
const rd_site *rd_site_at(const rd_trace *tr, size_t i) {
  return i < tr->nsites ? &tr->sites[i] : NULL;
}
size_t rd_string_count(const rd_trace *tr) { return tr->nstrs; }
const char *rd_string_at(const rd_trace *tr, size_t i, uint64_t *id, size_t *len) {
  if (i >= tr->nstrs || !tr->strs[i].defined)
    return NULL;
  *id = tr->strs[i].id;
  *len = tr->strs[i].len;
  return tr->strs[i].s;
}

/* ---- Streams -------------------------------------------------------------------------------- */

struct rd_stream {
  rd_trace *tr;
  size_t thread;
  size_t batch; /* next batch to load */
  uint8_t *buf;
  size_t cap;
  const uint8_t *p, *end;
  uint64_t tick;
  size_t hint;
  int failed;
  ZSTD_DCtx *dctx; /* RD_STREAM_OWN: its own decoder and read buffer */
  uint8_t *rbuf;
  size_t rbuf_cap;
  size_t stop;    /* rd_stream_stop_at's batch + 1 (0: none) */
  uint64_t bytes; /* decoded bytes of the batches loaded */
};

rd_stream *rd_stream_open_at(rd_trace *tr, size_t thread, size_t batch, unsigned flags) {
  if (thread >= tr->nthreads || batch > tr->threads[thread].pub.nbatches)
    return NULL;
  rd_stream *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->tr = tr;
  s->thread = thread;
  s->batch = batch;
  if ((flags & RD_STREAM_OWN) && !(s->dctx = ZSTD_createDCtx())) {
    free(s);
    return NULL;
  }
  return s;
}

rd_stream *rd_stream_open(rd_trace *tr, size_t thread) {
  return rd_stream_open_at(tr, thread, 0, 0);
}

size_t rd_stream_batch(const rd_stream *s) { return s->batch ? s->batch - 1 : 0; }

void rd_stream_close(rd_stream *s) {
  if (s) {
    free(s->buf);
    free(s->rbuf);
    ZSTD_freeDCtx(s->dctx);
    free(s);
  }
}

static int stream_fail(rd_stream *s, const rd_batch *b, rd_problem_kind kind, const char *why,
                       uint64_t at) {
  rd_thread *t = &s->tr->threads[s->thread].pub;
  note_problem(s->tr, kind,
               "thread %u (tid %d): batch at byte %" PRIu64 " is corrupt: %s at "
               "payload byte %" PRIu64 "; its later events are missing",
               t->serial, t->tid, b->offset - CTRACE_FMT_RECORD_HEADER_SIZE, why, at);
  s->failed = 1;
  return CTRACE_ECORRUPT;
}

static int load_batch(rd_stream *s) {
  rd_trace *tr = s->tr;
  rd_thread_impl *t = &tr->threads[s->thread];
  const rd_batch *b = &t->batches[s->batch];
  if (b->raw > s->cap) {
    uint8_t *nb = realloc(s->buf, b->raw);
    if (!nb)
      return stream_fail(s, b, RD_PROBLEM_NOMEM, "out of memory", 0);
    s->buf = nb;
    s->cap = b->raw;
  }
  uint8_t **rbuf = s->dctx ? &s->rbuf : &tr->rbuf;
  size_t *rcap = s->dctx ? &s->rbuf_cap : &tr->rbuf_cap;
  if (b->stored > *rcap) {
    uint8_t *nb = realloc(*rbuf, b->stored);
    if (!nb)
      return stream_fail(s, b, RD_PROBLEM_NOMEM, "out of memory", 0);
    *rbuf = nb;
    *rcap = b->stored;
  }
  int r = read_at(tr, b->offset, *rbuf, b->stored);
  if (r)
    return stream_fail(s, b, RD_PROBLEM_IO, ctrace_strerror(r), 0);
  char why[200];
  if (decode_payload(s->dctx ? s->dctx : tr->dctx, b->codec, *rbuf, b->stored, s->buf, b->raw, why,
                     sizeof why))
    return stream_fail(s, b, RD_PROBLEM_DECODE, why, 0);
  s->p = s->buf;
  s->end = s->buf + b->raw;
  s->tick = b->base_tick;
  s->batch++;
  s->bytes += b->raw;
  return 0;
}

int rd_stream_next(rd_stream *s, rd_event *ev) {
  if (s->failed)
    return CTRACE_ECORRUPT;
  rd_thread_impl *t = &s->tr->threads[s->thread];
  while (s->p == s->end) {
    if (s->batch >= t->pub.nbatches || (s->stop && s->batch + 1 >= s->stop))
      return 0;
    int r = load_batch(s);
    if (r)
      return r;
  }
  const rd_batch *b = &t->batches[s->batch - 1];
  unsigned type = 0;
  uint64_t delta, slen;
  const uint8_t *str;
  const uint8_t *p = ctrace_fmt_decode_event(s->p, s->end, &type, &delta, ev->arg, &str, &slen);
  if (!p) {
    char why[64];
    unsigned nvar, nstr;
    ctrace_fmt_event_shape(type, &nvar, &nstr);
    snprintf(why, sizeof why, nvar == 0xff ? "unknown event type %u" : "truncated event (type %u)",
             type);
    return stream_fail(s, b, RD_PROBLEM_DECODE, why, (uint64_t)(s->p - s->buf));
  }
  ev->str = (const char *)str;
  ev->str_len = (uint32_t)slen;
  if (s->tick + delta < s->tick)
    return stream_fail(s, b, RD_PROBLEM_DECODE, "timestamp overflows", (uint64_t)(s->p - s->buf));
  s->tick += delta;
  s->p = p;
  ev->type = (uint8_t)type;
  ev->tick = s->tick;
  ev->ts = b->kernel ? s->tick : rd_tick_to_ns(s->tr, s->tick, &s->hint);
  ev->thread = (uint32_t)s->thread;
  return 1;
}

/* ---- Merge ------------------------------------------------------------------------------------- */

typedef struct rd_merge_src {
  rd_stream *s;
  rd_event ev;
  uint64_t seq;
} rd_merge_src;

struct rd_merge {
  rd_merge_src *src;
  size_t *heap;   /* indices into src */
  size_t n;       /* sources still in the heap */
  size_t nsrc;    /* sources (one per thread) */
  size_t pending; /* source popped last time: advance before the next pop */
  int has_pending;
  uint64_t seq;
};

static int src_less(const rd_merge *m, size_t a, size_t b) {
  const rd_event *x = &m->src[a].ev, *y = &m->src[b].ev;
  if (x->ts != y->ts)
    return x->ts < y->ts;
  if (x->thread != y->thread)
    return x->thread < y->thread;
  return m->src[a].seq < m->src[b].seq;
}

static void sift_down(rd_merge *m, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, min = i;
    if (l < m->n && src_less(m, m->heap[l], m->heap[min]))
      min = l;
    if (r < m->n && src_less(m, m->heap[r], m->heap[min]))
      min = r;
    if (min == i)
      return;
    size_t tmp = m->heap[i];
    m->heap[i] = m->heap[min];
    m->heap[min] = tmp;
    i = min;
  }
}

rd_merge *rd_merge_open(rd_trace *tr) {
  rd_merge *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  size_t n = tr->nthreads;
  m->src = calloc(n ? n : 1, sizeof *m->src);
  m->heap = calloc(n ? n : 1, sizeof *m->heap);
  if (!m->src || !m->heap) {
    rd_merge_close(m);
    return NULL;
  }
  m->nsrc = n;
  for (size_t i = 0; i < n; i++) {
    rd_merge_src *src = &m->src[i];
    if (!(src->s = rd_stream_open(tr, i))) {
      rd_merge_close(m);
      return NULL;
    }
    if (rd_stream_next(src->s, &src->ev) == 1) {
      src->seq = m->seq++;
      m->heap[m->n++] = i;
    }
  }
  for (size_t i = m->n / 2; i-- > 0;)
    sift_down(m, i);
  return m;
}

int rd_merge_next(rd_merge *m, rd_event *ev) {
  if (m->has_pending) {
    /* Advance the stream whose event the caller has consumed. */
    rd_merge_src *src = &m->src[m->pending];
    m->has_pending = 0;
    if (rd_stream_next(src->s, &src->ev) == 1) {
      src->seq = m->seq++;
      m->heap[0] = m->pending;
    } else {
      m->heap[0] = m->heap[--m->n];
    }
    if (m->n)
      sift_down(m, 0);
  }
  if (m->n == 0)
    return 0;
  size_t top = m->heap[0];
  *ev = m->src[top].ev;
  m->pending = top;
  m->has_pending = 1;
  return 1;
}

void rd_merge_close(rd_merge *m) {
  if (!m)
    return;
  if (m->src)
    for (size_t i = 0; i < m->nsrc; i++)
      rd_stream_close(m->src[i].s);
  free(m->src);
  free(m->heap);
  free(m);
}

unsigned rd_sampling(const rd_trace *tr, uint64_t *period_ns, const char **method) {
  return rd__samples_rate(tr->samples, period_ns, method);
}

size_t rd_mappings(const rd_trace *tr, const rd_mapping **out) {
  return rd__samples_mappings(tr->samples, out);
}

const uint64_t *rd_stack(const rd_trace *tr, uint32_t id, unsigned *n) {
  return rd__samples_stack(tr->samples, id, n);
}

uint64_t rd_heap_sampling(const rd_trace *tr, const char **method) {
  return rd__samples_heap_rate(tr->samples, method);
}

size_t rd_kernel_symbols(const rd_trace *tr, const rd_ksym **out) {
  return rd__samples_ksyms(tr->samples, out);
}

/* ---- A file still being written (rd_refresh) -------------------------------------------------- */

/* The slopes of the clock's last points (the earlier ones do not change). */
static void finish_clock_from(rd_trace *tr, size_t from) {
  double nominal =
      tr->clock == CTRACE_FMT_CLOCK_MONOTONIC || tr->hz == 0 ? 1.0 : 1e9 / (double)tr->hz;
  for (size_t i = from; i < tr->nclock; i++) {
    rd_clock_pt *a = &tr->clock_pts[i];
    if (tr->clock == CTRACE_FMT_CLOCK_MONOTONIC)
      a->slope = 1.0;
    else if (i + 1 < tr->nclock)
      a->slope = (double)(a[1].mono - a->mono) / (double)(a[1].tick - a->tick);
    else
      a->slope = i ? a[-1].slope : nominal;
  }
}

int rd_refresh(rd_trace *tr) {
  if (tr->fd < 0 || tr->has_end)
    return 0;
  struct stat st;
  if (fstat(tr->fd, &st) != 0)
    return -errno;
  uint64_t size = (uint64_t)st.st_size;
  if (size < tr->size)
    return CTRACE_ECORRUPT; /* cut shorter: not the file that was read */
  rd_problem_kind kind = rd_problem_kind_of(tr);
  if (size == tr->size || (kind != RD_PROBLEM_NONE && kind != RD_PROBLEM_NO_END &&
                           kind != RD_PROBLEM_TRUNCATED && kind != RD_PROBLEM_DECODE))
    return 0; /* nothing new, or the pass stopped at damage that stays */
  if (kind == RD_PROBLEM_NO_END || kind == RD_PROBLEM_TRUNCATED) {
    pthread_mutex_lock(&tr->problem_lock); /* (said of the end, which moved) */
    tr->problem[0] = '\0';
    tr->problem_kind = RD_PROBLEM_NONE;
    pthread_mutex_unlock(&tr->problem_lock);
  }
  tr->size = size;
  size_t nrec = tr->nrec, nclock = tr->nclock;
  rd_scan sc = {.tr = tr, .off = tr->valid, .nrec = tr->nrec};
  int stop = 0;
  while (sc.off < tr->size) {
    if ((stop = rec_header(&sc)) || (stop = rec_payload(&sc)) || (stop = rec_dispatch(&sc)))
      break;
    sc.off += sizeof sc.h + sc.stored;
    sc.nrec++;
  }
  free(sc.raw);
  tr->valid = sc.off;
  tr->nrec = sc.nrec;
  finish_clock_from(tr, nclock ? nclock - 1 : 0);
  if (!stop && !tr->has_end)
    note_problem(tr, RD_PROBLEM_NO_END,
                 "trace has no end record: the program did not stop "
                 "tracing (killed or still running?); read %zu records up to byte %" PRIu64,
                 sc.nrec, sc.off);
  return tr->nrec > nrec;
}

uint64_t rd_settled(const rd_trace *tr) {
  if (tr->has_end)
    return UINT64_MAX;
  return tr->clock_off[1];
}

size_t rd_batches_before(const rd_trace *tr, size_t thread, uint64_t offset) {
  if (thread >= tr->nthreads)
    return 0;
  const rd_thread_impl *t = &tr->threads[thread];
  size_t lo = 0, hi = t->pub.nbatches;
  while (lo < hi) { /* (offsets grow in file order) */
    size_t mid = lo + (hi - lo) / 2;
    if (t->batches[mid].offset < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void rd_stream_stop_at(rd_stream *s, size_t batch) { s->stop = batch + 1; }
uint64_t rd_stream_bytes(const rd_stream *s) { return s->bytes; }

int rd_fstat(const rd_trace *tr, struct stat *st) {
  if (tr->fd < 0)
    return -EINVAL;
  return fstat(tr->fd, st) == 0 ? 0 : -errno;
}
