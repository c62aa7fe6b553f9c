/* A tiny ctrace file writer for tests (synth_trace.h), after docs/format.md:
 * the shared constants, varints, zigzag and CRC-32C of
 * include/ctrace/format.h, no compression. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth_trace.h"
#include "test.h"

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void buf_put(buf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n)
      cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q)
      TEST_FAIL("synth: out of memory");
    b->p = q;
    b->cap = cap;
  }
  if (n)
    memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void buf_byte(buf *b, uint8_t v) { buf_put(b, &v, 1); }

static void buf_varint(buf *b, uint64_t v) {
  uint8_t tmp[CTRACE_FMT_VARINT_MAX];
  buf_put(b, tmp, (size_t)(ctrace_fmt_put_varint(tmp, v) - tmp));
}

static void buf_str(buf *b, const char *s) {
  size_t n = s ? strlen(s) : 0;
  buf_varint(b, n);
  buf_put(b, s, n);
}

typedef struct sy_batch {
  uint32_t serial;
  uint64_t base;
  buf data;
} sy_batch;

typedef struct sy_thread {
  uint32_t serial;
  int started;   /* has had an event */
  uint64_t last; /* tick of its last event */
  size_t open;   /* its batch being filled, or SIZE_MAX */
} sy_thread;

struct synth {
  int pid, kernel;
  char *process;
  uint64_t start, dropped, events, last_tick;
  buf defs; /* DEFS payload but the process, written first */
  int has_capture;
  buf capture;
  sy_batch *batches;
  size_t nbatches;
  sy_thread *threads;
  size_t nthreads;
};

synth *synth_new(int pid, const char *process, uint64_t start, int kernel) {
  synth *s = calloc(1, sizeof *s);
  if (!s || !(s->process = strdup(process ? process : "")))
    TEST_FAIL("synth: out of memory");
  s->pid = pid;
  s->start = start;
  s->kernel = kernel;
  s->last_tick = start;
  return s;
}

void synth_free(synth *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nbatches; i++)
    free(s->batches[i].data.p);
  free(s->batches);
  free(s->threads);
  free(s->defs.p);
  free(s->capture.p);
  free(s->process);
  free(s);
}

static void def(buf *to, unsigned kind, const buf *body) {
  buf_byte(to, (uint8_t)kind);
  buf_varint(to, body->n);
  buf_put(to, body->p, body->n);
}

void synth_thread(synth *s, uint32_t serial, int tid, const char *name) {
  if (!serial)
    TEST_FAIL("synth: thread serial 0");
  buf b = {0};
  buf_varint(&b, serial);
  buf_varint(&b, (uint64_t)tid);
  buf_str(&b, name);
  def(&s->defs, CTRACE_FMT_DEF_THREAD, &b);
  free(b.p);
}

void synth_site(synth *s, uint32_t id, unsigned kind, const char *name, const char *file,
                unsigned line, const char *func) {
  if (!id || id >= CTRACE_FMT_MAX_ID)
    TEST_FAIL("synth: site id %u", id);
  buf b = {0};
  buf_varint(&b, id);
  buf_varint(&b, kind);
  buf_varint(&b, line);
  buf_str(&b, name);
  buf_str(&b, file);
  buf_str(&b, func);
  def(&s->defs, CTRACE_FMT_DEF_SITE, &b);
  free(b.p);
}

void synth_string(synth *s, uint32_t id, const char *text) {
  if (!id || id >= CTRACE_FMT_MAX_ID)
    TEST_FAIL("synth: string id %u", id);
  buf b = {0};
  buf_varint(&b, id);
  buf_str(&b, text);
  def(&s->defs, CTRACE_FMT_DEF_STRING, &b);
  free(b.p);
}

void synth_capture(synth *s, unsigned syscalls, unsigned sched, unsigned heap, unsigned locks,
                   const char *why) {
  s->capture.n = 0;
  buf_varint(&s->capture, syscalls);
  buf_varint(&s->capture, sched);
  buf_varint(&s->capture, heap);
  buf_varint(&s->capture, locks);
  buf_str(&s->capture, why);
  s->has_capture = 1;
}

void synth_end_dropped(synth *s, uint64_t total) { s->dropped = total; }

void synth_heap_sampling(synth *s, uint64_t rate, const char *method) {
  buf b = {0};
  buf_varint(&b, rate);
  buf_str(&b, method);
  def(&s->defs, CTRACE_FMT_DEF_HEAP_SAMPLING, &b);
  free(b.p);
}

void synth_mapping(synth *s, uint64_t start, uint64_t end, uint64_t offset, const char *path) {
  buf b = {0};
  buf_varint(&b, (uint64_t)s->pid);
  buf_varint(&b, start);
  buf_varint(&b, end);
  buf_varint(&b, offset);
  buf_str(&b, path);
  buf_str(&b, "");
  def(&s->defs, CTRACE_FMT_DEF_MAPPING, &b);
  free(b.p);
}

void synth_stack(synth *s, uint32_t id, const uint64_t *pcs, unsigned n) {
  buf b = {0};
  buf_varint(&b, id);
  buf_varint(&b, n);
  for (unsigned i = 0; i < n; i++)
    buf_varint(&b, pcs[i]);
  def(&s->defs, CTRACE_FMT_DEF_STACK, &b);
  free(b.p);
}

static sy_thread *thread_of(synth *s, uint32_t serial) {
  for (size_t i = 0; i < s->nthreads; i++)
    if (s->threads[i].serial == serial)
      return &s->threads[i];
  sy_thread *t = realloc(s->threads, (s->nthreads + 1) * sizeof *t);
  if (!t)
    TEST_FAIL("synth: out of memory");
  s->threads = t;
  t = &t[s->nthreads++];
  memset(t, 0, sizeof *t);
  t->serial = serial;
  t->open = SIZE_MAX;
  return t;
}

void synth_event(synth *s, uint32_t serial, uint64_t ts, unsigned type, const uint64_t *args,
                 size_t nargs, const char *str) {
  unsigned nvar, nstr;
  ctrace_fmt_event_shape(type, &nvar, &nstr);
  if (nvar == 0xff)
    TEST_FAIL("synth: unknown event type %u", type);
  if (nargs != nvar || (nstr != 0) != (str != NULL))
    TEST_FAIL("synth: event %s takes %u varints and %u strings, given %zu and %d",
              ctrace_fmt_event_name(type), nvar, nstr, nargs, str != NULL);
  int kev = type >= CTRACE_FMT_EV_K_SWITCH && type <= CTRACE_FMT_EV_K_EXIT;
  if (kev != s->kernel || (serial == 0) != s->kernel)
    TEST_FAIL("synth: %s event on serial %u in a %s trace", ctrace_fmt_event_name(type), serial,
              s->kernel ? "kernel" : "program");
  if (ts < s->start)
    TEST_FAIL("synth: event at tick %" PRIu64 " before the start %" PRIu64, ts, s->start);
  sy_thread *t = thread_of(s, serial);
  if (t->started && ts < t->last)
    TEST_FAIL("synth: thread %u goes back in time: %" PRIu64 " after %" PRIu64, serial, ts,
              t->last);
  if (t->open == SIZE_MAX) {
    sy_batch *b = realloc(s->batches, (s->nbatches + 1) * sizeof *b);
    if (!b)
      TEST_FAIL("synth: out of memory");
    s->batches = b;
    b = &b[s->nbatches];
    memset(b, 0, sizeof *b);
    b->serial = serial;
    b->base = t->started ? t->last : s->start; /* the previous event, or the start */
    t->open = s->nbatches++;
  }
  buf *d = &s->batches[t->open].data;
  /* the first event of a batch counts from its base tick, the others
   * from the event before */
  uint64_t delta = ts - (d->n ? t->last : s->batches[t->open].base);
  if (type == CTRACE_FMT_EV_REGION_BEGIN && args[0] < 64) {
    buf_byte(d, (uint8_t)(CTRACE_FMT_SHORT_BEGIN | args[0]));
    buf_varint(d, delta);
  } else if (type == CTRACE_FMT_EV_REGION_END && delta < 128) {
    buf_byte(d, (uint8_t)(CTRACE_FMT_SHORT_END | delta));
  } else {
    buf_byte(d, (uint8_t)type);
    buf_varint(d, delta);
    for (size_t i = 0; i < nargs; i++)
      buf_varint(d, args[i]);
    if (nstr)
      buf_str(d, str);
  }
  t->started = 1;
  t->last = ts;
  if (ts > s->last_tick)
    s->last_tick = ts;
  s->events++;
}

void synth_cut(synth *s) {
  for (size_t i = 0; i < s->nthreads; i++)
    s->threads[i].open = SIZE_MAX;
}

uint64_t synth_events(const synth *s) { return s->events; }

static void put_record(FILE *f, const char *path, unsigned type, unsigned flags, uint32_t thread,
                       uint64_t base, const uint8_t *payload, size_t n) {
  uint8_t h[CTRACE_FMT_RECORD_HEADER_SIZE] = {0};
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_SYNC, CTRACE_FMT_RECORD_SYNC);
  h[CTRACE_FMT_RH_TYPE] = (uint8_t)type;
  h[CTRACE_FMT_RH_CODEC] = CTRACE_FMT_CODEC_NONE;
  ctrace_fmt_put_u16(h + CTRACE_FMT_RH_FLAGS, (uint16_t)flags);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_STORED_SIZE, (uint32_t)n);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_RAW_SIZE, (uint32_t)n);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_THREAD, thread);
  ctrace_fmt_put_u64(h + CTRACE_FMT_RH_BASE_TICK, base);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC, ctrace_fmt_record_crc(h, payload, n));
  if (fwrite(h, 1, sizeof h, f) != sizeof h || (n && fwrite(payload, 1, n, f) != n))
    TEST_FAIL("synth: writing %s failed", path);
}

void synth_write(synth *s, const char *path) {
  FILE *f = fopen(path, "wb");
  if (!f)
    TEST_FAIL("synth: cannot create %s", path);
  uint8_t fh[CTRACE_FMT_FILE_HEADER_SIZE] = {0};
  memcpy(fh + CTRACE_FMT_FH_MAGIC, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
  ctrace_fmt_put_u16(fh + CTRACE_FMT_FH_VERSION_MAJOR, CTRACE_FMT_VERSION_MAJOR);
  ctrace_fmt_put_u16(fh + CTRACE_FMT_FH_VERSION_MINOR, CTRACE_FMT_VERSION_MINOR);
  ctrace_fmt_put_u32(fh + CTRACE_FMT_FH_HEADER_SIZE, CTRACE_FMT_FILE_HEADER_SIZE);
  ctrace_fmt_put_u32(fh + CTRACE_FMT_FH_CLOCK, CTRACE_FMT_CLOCK_MONOTONIC);
  ctrace_fmt_put_u32(fh + CTRACE_FMT_FH_PID, (uint32_t)s->pid);
  ctrace_fmt_put_u64(fh + CTRACE_FMT_FH_TICKS_PER_SEC, 1000000000ull);
  ctrace_fmt_put_u64(fh + CTRACE_FMT_FH_START_TICK, s->start);
  ctrace_fmt_put_u64(fh + CTRACE_FMT_FH_START_MONO, s->start);
  ctrace_fmt_put_u64(fh + CTRACE_FMT_FH_START_REAL, 1700000000000000000ull + s->start);
  ctrace_fmt_put_u32(fh + CTRACE_FMT_FH_FLAGS, 0);
  ctrace_fmt_put_u32(fh + CTRACE_FMT_FH_CRC, ctrace_fmt_crc32c(0, fh, CTRACE_FMT_FH_CRC));
  if (fwrite(fh, 1, sizeof fh, f) != sizeof fh)
    TEST_FAIL("synth: writing %s failed", path);

  /* DEFS: the process first, then what was defined, in that order. */
  buf defs = {0}, body = {0};
  buf_varint(&body, (uint64_t)s->pid);
  buf_str(&body, s->process);
  buf_str(&body, s->process);
  def(&defs, CTRACE_FMT_DEF_PROCESS, &body);
  if (s->has_capture)
    def(&defs, CTRACE_FMT_DEF_CAPTURE, &s->capture);
  buf_put(&defs, s->defs.p, s->defs.n);
  put_record(f, path, CTRACE_FMT_REC_DEFS, 0, 0, 0, defs.p, defs.n);
  free(defs.p);
  free(body.p);

  for (size_t i = 0; i < s->nbatches; i++) {
    const sy_batch *b = &s->batches[i];
    if (b->data.n > CTRACE_FMT_RECORD_MAX_RAW)
      TEST_FAIL("synth: batch too large");
    put_record(f, path, CTRACE_FMT_REC_BATCH, s->kernel ? CTRACE_FMT_RF_KERNEL : 0, b->serial,
               b->base, b->data.p, b->data.n);
  }

  /* A sync point after the last event (ticks are ns: the same instant). */
  uint8_t clk[CTRACE_FMT_CLOCK_PAYLOAD];
  ctrace_fmt_put_u64(clk, s->last_tick + 1);
  ctrace_fmt_put_u64(clk + 8, s->last_tick + 1);
  ctrace_fmt_put_u64(clk + 16, 1700000000000000000ull + s->last_tick + 1);
  put_record(f, path, CTRACE_FMT_REC_CLOCK, 0, 0, 0, clk, sizeof clk);

  buf end = {0};
  buf_varint(&end, s->last_tick + 1);
  buf_varint(&end, s->dropped);
  buf_varint(&end, 0);
  put_record(f, path, CTRACE_FMT_REC_END, 0, 0, 0, end.p, end.n);
  free(end.p);
  if (fclose(f) != 0)
    TEST_FAIL("synth: closing %s failed", path);
}
