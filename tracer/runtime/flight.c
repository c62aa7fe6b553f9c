/* The flight recorder (CTRACE_MODE=flight, `ctrace run --flight`): events
 * stay in memory, the last window of them, and are written only when a
 * dump is asked: ctrace_flight_dump(), SIGUSR2, or a crash.
 *
 * The writer thread works as in file mode (it compresses the threads'
 * chunks into BATCH records every cycle) but hands each finished record to
 * this file instead of the trace file. Definitions (DEFS: process, sites,
 * strings, threads, capture) are kept whole: any batch may need any of
 * them. BATCH and CLOCK records go to a ring: one circular byte buffer,
 * grown by doubling up to the byte cap, and an index of its records (size
 * and the tick of its last event). The writer forgets the oldest records
 * once their last event is older than the window (which ends at the latest
 * event recorded, so that a crash after a quiet while still leaves the
 * events before it; plus one cut period, flush_ms/2, so that the batch
 * holding the window's first events stays), or to keep definitions and
 * ring under the byte cap. A batch covers at most one cut period of its
 * thread, so a dump starts at most about two cut periods before the
 * window.
 *
 * A dump is written by the writer after a cut (so it holds what every
 * thread published up to the request): file header (flag
 * CTRACE_FMT_FF_FLIGHT), the definitions, the ring in order, a CLOCK and
 * an END record, all with write(2) from memory already formatted, so the
 * same code serves the crash path.
 *
 * Signals. SIGUSR2 only counts a request; the writer sees it within its
 * 10 ms cycle. A crash (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE; on a
 * signal stack that each recording thread gets, so a stack overflow works
 * too) asks the writer for a dump and waits for it, polling an atomic with
 * nanosleep. If the writer is the thread that crashed, or does not take the
 * request within 2 s (stuck, e.g. on a lock the crashed thread held), the
 * handler writes the store itself, with the events the threads published
 * since the last cut as uncompressed batches. Then the previous handler is
 * put back and the signal re-raised (a fault simply happens again), so the
 * process dies as it would have, core dump included. Everything the
 * handlers do is async-signal-safe: atomics, open/write/close, nanosleep,
 * sigaction, raise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

_Atomic int ctrace__flight_on;

typedef struct fl_rec {
  uint32_t size; /* bytes in the ring, header included */
  uint32_t type;
  uint64_t last_tick;
} fl_rec;

enum { CRASH_IDLE, CRASH_ASKED, CRASH_WRITING, CRASH_DONE, CRASH_ABANDONED };

#define RING_FIRST (1u << 20) /* first ring allocation (or the cap, if smaller) */

static struct {
  uint64_t window_ticks; /* 0: no time limit; else the window plus one cut period */
  uint64_t window_ms;
  uint64_t max_bytes;
  /* The store, owned by the writer. `busy` is 1 while the writer changes
   * it: a crash handler that writes the store itself (the writer crashed,
   * or does not answer) skips it then. seq_cst: the handler may run on
   * another thread. */
  _Atomic int busy;
  uint8_t *defs;
  size_t defs_len, defs_cap;
  uint8_t *ring;
  size_t ring_cap, ring_head, ring_len;
  fl_rec *idx;
  size_t idx_cap, idx_head, idx_len;
  uint64_t clock_tick, clock_mono; /* the newest CLOCK record kept */
  uint64_t newest;                 /* the latest event tick of any batch so far */
  /* The heads of the site and string lists the writer has defined up to
   * (a crash handler that writes the dump itself defines the newer ones). */
  _Atomic(ctrace_site *) sites_seen;
  _Atomic(ctrace__string *) strings_seen;
  /* Figures, written by the writer, read by anyone (relaxed). */
  _Atomic uint64_t st_defs, st_ring, st_records, st_peak, st_alloc, st_evicted, st_dumps;
  /* Requests. sig_asked counts SIGUSR2s; the writer remembers how many it
   * served. crash: CRASH_*; the handler asks, the writer claims (CAS
   * ASKED -> WRITING) and answers DONE, or the handler gives up on it
   * (CAS ASKED -> ABANDONED) and writes itself. */
  _Atomic uint64_t sig_asked;
  uint64_t sig_seen;
  _Atomic int crash;
  _Atomic int crash_sig;
  _Atomic uint32_t numbered; /* default-path dumps so far (FILE, FILE-2, ...) */
  /* $CTRACE__TEST_FLIGHT_STUCK_WRITER=1: tests make the writer stall when
   * a crash asks, so that the crashed thread writes the dump itself. */
  int test_stuck_writer;
} fl;

/* ---- Settings --------------------------------------------------------------------------- */

int ctrace__flight_options(ctrace_options *o) {
  if (!o->mode) {
    const char *m = getenv("CTRACE_MODE");
    if (!m || !*m || !strcmp(m, "file"))
      o->mode = CTRACE_MODE_FILE;
    else if (!strcmp(m, "flight"))
      o->mode = CTRACE_MODE_FLIGHT;
    else {
      fprintf(stderr, "ctrace: CTRACE_MODE=%s: use file or flight; tracing is off\n", m);
      return CTRACE_EINVAL;
    }
  }
  if (o->mode != CTRACE_MODE_FLIGHT) {
    if (o->mode != CTRACE_MODE_FILE)
      return CTRACE_EINVAL;
    const char *f = getenv("CTRACE_FLIGHT");
    if (f && *f && !getenv("CTRACE_MODE"))
      fprintf(stderr, "ctrace: CTRACE_FLIGHT is set but CTRACE_MODE is not flight: recording "
                      "to a file\n");
    return 0;
  }
  if (!o->flight_window_ms && !o->flight_bytes) {
    const char *f = getenv("CTRACE_FLIGHT");
    uint64_t ms = 0, bytes = 0;
    if (f && *f && ctrace__flight_parse(f, &ms, &bytes) != 0) {
      fprintf(stderr, "ctrace: CTRACE_FLIGHT=%s: " CTRACE__FLIGHT_SYNTAX "; tracing is off\n", f);
      return CTRACE_EINVAL;
    }
    o->flight_window_ms = (uint32_t)ms;
    o->flight_bytes = bytes;
    if (!ms && !bytes)
      o->flight_window_ms = 30000;
  }
  if (o->flight_bytes && o->flight_bytes < (64u << 10))
    return CTRACE_EINVAL;
  if (!o->flight_bytes)
    o->flight_bytes = 256u << 20; /* a window alone: still bounded */
  return 0;
}

/* The store's memory, given back (by the writer at stop, or by the next
 * session's start). */
void ctrace__flight_free(void) {
  atomic_store(&fl.busy, 1);
  free(fl.defs);
  free(fl.ring);
  free(fl.idx);
  fl.defs = fl.ring = NULL;
  fl.idx = NULL;
  fl.defs_len = fl.defs_cap = fl.ring_cap = fl.ring_head = fl.ring_len = 0;
  fl.idx_cap = fl.idx_head = fl.idx_len = 0;
  atomic_store_explicit(&fl.st_defs, 0, memory_order_relaxed);
  atomic_store_explicit(&fl.st_ring, 0, memory_order_relaxed);
  atomic_store_explicit(&fl.st_records, 0, memory_order_relaxed);
  atomic_store_explicit(&fl.st_alloc, 0, memory_order_relaxed);
  atomic_store(&fl.busy, 0);
}

void ctrace__flight_fork_reset(void) {
  atomic_store(&ctrace__flight_on, 0); /* (the handlers stay installed: they are ours) */
  fl.defs = fl.ring = NULL;
  fl.idx = NULL;
  fl.defs_len = fl.defs_cap = fl.ring_cap = fl.ring_head = fl.ring_len = 0;
  fl.idx_cap = fl.idx_head = fl.idx_len = 0;
  atomic_store(&fl.busy, 0);
}

int ctrace__flight_init(ctrace__session *s, const char *given_path, int child) {
  char base[CTRACE__PATH_MAX];
  const char *b = given_path;
  if (!b && child && s->flight_base[0])
    b = s->flight_base; /* a forked child: its parent's */
  if (!b || !*b)
    b = getenv("CTRACE_FLIGHT_OUT");
  if (!b || !*b)
    b = getenv("CTRACE_OUT");
  if (b && *b)
    snprintf(base, sizeof base, "%s", b);
  else
    snprintf(base, sizeof base, "ctrace-flight-%d.ctrace", (int)getpid());
  if (child) /* forked, or exec'd by a traced process */
    snprintf(base + strlen(base), sizeof base - strlen(base), ".%d", (int)getpid());
  /* Absolute: the program may chdir before it dumps. */
  if (base[0] == '/') {
    memcpy(s->flight_base, base, sizeof base);
  } else {
    char cwd[CTRACE__PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
      return -errno;
    if ((size_t)snprintf(s->flight_base, sizeof s->flight_base, "%s/%s", cwd, base) >=
        sizeof s->flight_base)
      return -ENAMETOOLONG;
  }
  ctrace__flight_free();
  fl.window_ms = s->flight_window_ms;
  /* One cut period more than the window: a batch that ends just before
   * the window may be all that holds its first events. */
  fl.window_ticks =
      s->flight_window_ms ? (s->flight_window_ms + s->flush_ms / 2) * (s->ticks_per_sec / 1000) : 0;
  fl.newest = 0;
  fl.max_bytes = s->flight_bytes;
  fl.clock_tick = s->start.tick;
  fl.clock_mono = s->start.mono_ns;
  fl.sig_seen = atomic_load(&fl.sig_asked);
  atomic_store(&fl.crash, CRASH_IDLE);
  atomic_store(&fl.numbered, 0);
  atomic_store(&fl.st_peak, 0);
  atomic_store(&fl.st_evicted, 0);
  atomic_store(&fl.st_dumps, 0);
  const char *stuck = getenv("CTRACE__TEST_FLIGHT_STUCK_WRITER");
  fl.test_stuck_writer = stuck && !strcmp(stuck, "1");
  return 0;
}

/* ---- The store (writer only) -------------------------------------------------------------- */

static void stats_update(void) {
  atomic_store_explicit(&fl.st_defs, fl.defs_len, memory_order_relaxed);
  atomic_store_explicit(&fl.st_ring, fl.ring_len, memory_order_relaxed);
  atomic_store_explicit(&fl.st_records, fl.idx_len, memory_order_relaxed);
  atomic_store_explicit(&fl.st_alloc, fl.ring_cap, memory_order_relaxed);
  uint64_t held = fl.defs_len + fl.ring_len;
  if (held > atomic_load_explicit(&fl.st_peak, memory_order_relaxed))
    atomic_store_explicit(&fl.st_peak, held, memory_order_relaxed);
}

/* Forgets the oldest record of the ring. */
static void ring_pop(void) {
  const fl_rec *r = &fl.idx[fl.idx_head];
  fl.ring_head = (fl.ring_head + r->size) % fl.ring_cap;
  fl.ring_len -= r->size;
  fl.idx_head = (fl.idx_head + 1) % fl.idx_cap;
  if (--fl.idx_len == 0)
    fl.ring_head = fl.idx_head = 0;
  atomic_fetch_add_explicit(&fl.st_evicted, 1, memory_order_relaxed);
}

/* A ring of at least `need` bytes (need <= max_bytes), the records in
 * order from offset 0. @return 0 or -1 (no memory). */
static int ring_grow(size_t need) {
  size_t cap = fl.ring_cap ? fl.ring_cap : RING_FIRST;
  while (cap < need)
    cap *= 2;
  if (cap > fl.max_bytes)
    cap = (size_t)fl.max_bytes;
  uint8_t *m = malloc(cap);
  if (!m)
    return -1;
  size_t first =
      fl.ring_len < fl.ring_cap - fl.ring_head ? fl.ring_len : fl.ring_cap - fl.ring_head;
  if (fl.ring_len) {
    memcpy(m, fl.ring + fl.ring_head, first);
    memcpy(m + first, fl.ring, fl.ring_len - first);
  }
  free(fl.ring);
  fl.ring = m;
  fl.ring_cap = cap;
  fl.ring_head = 0;
  return 0;
}

static int idx_grow(void) {
  size_t cap = fl.idx_cap ? fl.idx_cap * 2 : 1024;
  fl_rec *m = malloc(cap * sizeof *m);
  if (!m)
    return -1;
  for (size_t i = 0; i < fl.idx_len; i++)
    m[i] = fl.idx[(fl.idx_head + i) % fl.idx_cap];
  free(fl.idx);
  fl.idx = m;
  fl.idx_cap = cap;
  fl.idx_head = 0;
  return 0;
}

static void ring_put(unsigned type, const uint8_t *rec, size_t len, uint64_t last_tick) {
  while (fl.idx_len && fl.defs_len + fl.ring_len + len > fl.max_bytes)
    ring_pop();
  if (fl.defs_len + len > fl.max_bytes) { /* definitions fill the cap */
    atomic_fetch_add_explicit(&fl.st_evicted, 1, memory_order_relaxed);
    return;
  }
  if (fl.ring_cap - fl.ring_len < len && ring_grow(fl.ring_len + len) != 0) {
    while (fl.idx_len && fl.ring_cap - fl.ring_len < len)
      ring_pop();
    if (fl.ring_cap - fl.ring_len < len) {
      atomic_fetch_add_explicit(&fl.st_evicted, 1, memory_order_relaxed);
      return;
    }
  }
  if (fl.idx_len == fl.idx_cap && idx_grow() != 0) {
    atomic_fetch_add_explicit(&fl.st_evicted, 1, memory_order_relaxed);
    return;
  }
  size_t at = (fl.ring_head + fl.ring_len) % fl.ring_cap;
  size_t first = len < fl.ring_cap - at ? len : fl.ring_cap - at;
  memcpy(fl.ring + at, rec, first);
  memcpy(fl.ring, rec + first, len - first);
  fl.ring_len += len;
  fl_rec *r = &fl.idx[(fl.idx_head + fl.idx_len++) % fl.idx_cap];
  r->size = (uint32_t)len;
  r->type = type;
  r->last_tick = last_tick;
  if (type == CTRACE_FMT_REC_BATCH && last_tick > fl.newest)
    fl.newest = last_tick;
  if (type == CTRACE_FMT_REC_CLOCK &&
      len == CTRACE_FMT_RECORD_HEADER_SIZE + CTRACE_FMT_CLOCK_PAYLOAD) {
    fl.clock_tick = ctrace_fmt_get_u64(rec + CTRACE_FMT_RECORD_HEADER_SIZE);
    fl.clock_mono = ctrace_fmt_get_u64(rec + CTRACE_FMT_RECORD_HEADER_SIZE + 8);
  }
}

void ctrace__flight_take(unsigned type, const uint8_t *rec, size_t len, uint64_t last_tick) {
  atomic_store(&fl.busy, 1);
  if (type == CTRACE_FMT_REC_DEFS) {
    if (fl.defs_len + len > fl.defs_cap) {
      size_t cap = fl.defs_cap ? fl.defs_cap : 65536;
      while (cap < fl.defs_len + len)
        cap *= 2;
      uint8_t *m = realloc(fl.defs, cap);
      if (!m) { /* (a dump then lacks these definitions: placeholders) */
        atomic_store(&fl.busy, 0);
        return;
      }
      fl.defs = m;
      fl.defs_cap = cap;
    }
    memcpy(fl.defs + fl.defs_len, rec, len);
    fl.defs_len += len;
    while (fl.idx_len && fl.defs_len + fl.ring_len > fl.max_bytes)
      ring_pop();
  } else if (type == CTRACE_FMT_REC_BATCH || type == CTRACE_FMT_REC_CLOCK) {
    ring_put(type, rec, len, last_tick);
  } /* END: a dump writes its own */
  stats_update();
  atomic_store(&fl.busy, 0);
}

/* The window ends at the latest event, not now: a program that crashes
 * after a quiet while still leaves its last events. */
void ctrace__flight_defined(ctrace_site *sites, ctrace__string *strings) {
  atomic_store_explicit(&fl.sites_seen, sites, memory_order_release);
  atomic_store_explicit(&fl.strings_seen, strings, memory_order_release);
}

void ctrace__flight_evict(void) {
  if (!fl.window_ticks || fl.newest < fl.window_ticks)
    return;
  atomic_store(&fl.busy, 1);
  while (fl.idx_len && fl.idx[fl.idx_head].last_tick < fl.newest - fl.window_ticks)
    ring_pop();
  stats_update();
  atomic_store(&fl.busy, 0);
}

int ctrace__flight_stats_get(ctrace__flight_stats *st) {
  memset(st, 0, sizeof *st);
  if (!atomic_load(&ctrace__flight_on))
    return CTRACE_ENOTFLIGHT;
  st->window_ms = fl.window_ms;
  st->cap_bytes = fl.max_bytes;
  st->defs_bytes = atomic_load_explicit(&fl.st_defs, memory_order_relaxed);
  st->ring_bytes = atomic_load_explicit(&fl.st_ring, memory_order_relaxed);
  st->ring_records = atomic_load_explicit(&fl.st_records, memory_order_relaxed);
  st->peak_bytes = atomic_load_explicit(&fl.st_peak, memory_order_relaxed);
  st->ring_alloc = atomic_load_explicit(&fl.st_alloc, memory_order_relaxed);
  st->evicted_records = atomic_load_explicit(&fl.st_evicted, memory_order_relaxed);
  st->dumps = atomic_load_explicit(&fl.st_dumps, memory_order_relaxed);
  return 0;
}

/* ---- Writing a dump (async-signal-safe from here on) ------------------------------------------ */

/* An uncompressed record: header into h, for a payload of n bytes. */
static void record_header(uint8_t h[CTRACE_FMT_RECORD_HEADER_SIZE], unsigned type, uint32_t thread,
                          uint64_t base_tick, const uint8_t *payload, size_t n) {
  memset(h, 0, CTRACE_FMT_RECORD_HEADER_SIZE);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_SYNC, CTRACE_FMT_RECORD_SYNC);
  h[CTRACE_FMT_RH_TYPE] = (uint8_t)type;
  h[CTRACE_FMT_RH_CODEC] = CTRACE_FMT_CODEC_NONE;
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_STORED_SIZE, (uint32_t)n);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_RAW_SIZE, (uint32_t)n);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_THREAD, thread);
  ctrace_fmt_put_u64(h + CTRACE_FMT_RH_BASE_TICK, base_tick);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC, ctrace_fmt_record_crc(h, payload, n));
}

static int write_record(int fd, unsigned type, uint32_t thread, uint64_t base_tick,
                        const uint8_t *payload, size_t n) {
  uint8_t h[CTRACE_FMT_RECORD_HEADER_SIZE];
  record_header(h, type, thread, base_tick, payload, n);
  int r = ctrace__write_all(fd, h, sizeof h);
  return r ? r : ctrace__write_all(fd, payload, n);
}

/* Definitions the writer may not have written yet (crash path): every
 * thread of the session (before the store's, whose later DEF_THREADs
 * carry the names threads gave themselves: the last one counts), and the
 * sites and strings registered since the writer's last pass (all: without
 * the store). */
#define DEFS_BUF 16384

static int defs_put(int fd, uint8_t *b, size_t *len, unsigned kind, const uint8_t *body, size_t n) {
  int r = 0;
  if (*len + 1 + CTRACE_FMT_VARINT_MAX + n > DEFS_BUF && *len) {
    r = write_record(fd, CTRACE_FMT_REC_DEFS, 0, 0, b, *len);
    *len = 0;
  }
  if (1 + CTRACE_FMT_VARINT_MAX + n > DEFS_BUF)
    return r; /* (cannot be: bodies are under 4 KiB) */
  b[(*len)++] = (uint8_t)kind;
  *len = (size_t)(ctrace_fmt_put_varint(b + *len, n) - b);
  memcpy(b + *len, body, n);
  *len += n;
  return r;
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (n > max)
    n = max;
  p = ctrace_fmt_put_varint(p, n);
  memcpy(p, s, n);
  return p + n;
}

static int write_new_defs(int fd, uint32_t gen, int all) {
  uint8_t b[DEFS_BUF], body[4096];
  size_t len = 0;
  int r = 0;
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t && !r;
       t = atomic_load_explicit(&t->next, memory_order_relaxed)) {
    if (atomic_load_explicit(&t->registered, memory_order_acquire) != gen)
      continue;
    uint8_t *p = ctrace_fmt_put_varint(body, t->serial);
    p = ctrace_fmt_put_varint(p, (uint64_t)t->tid);
    p = put_str(p, t->name, CTRACE_FMT_NAME_MAX);
    r = defs_put(fd, b, &len, CTRACE_FMT_DEF_THREAD, body, (size_t)(p - body));
  }
  ctrace_site *seen = all ? NULL : atomic_load_explicit(&fl.sites_seen, memory_order_acquire);
  for (ctrace_site *s = ctrace__sites_head(); s && s != seen && !r; s = s->next) {
    uint8_t *p = ctrace_fmt_put_varint(body, __atomic_load_n(&s->id, __ATOMIC_RELAXED));
    p = ctrace_fmt_put_varint(p, s->kind);
    p = ctrace_fmt_put_varint(p, s->line);
    p = put_str(p, s->name, 1000);
    p = put_str(p, s->file, 1000);
    p = put_str(p, s->func, 1000);
    r = defs_put(fd, b, &len, CTRACE_FMT_DEF_SITE, body, (size_t)(p - body));
  }
  ctrace__string *sseen = all ? NULL : atomic_load_explicit(&fl.strings_seen, memory_order_acquire);
  for (ctrace__string *s = ctrace__strings_head(); s && s != sseen && !r; s = s->next) {
    uint8_t *p = ctrace_fmt_put_varint(body, s->id);
    size_t n = s->len < sizeof body - 32 ? s->len : sizeof body - 32;
    p = ctrace_fmt_put_varint(p, n);
    memcpy(p, s->text, n);
    r = defs_put(fd, b, &len, CTRACE_FMT_DEF_STRING, body, (size_t)(p + n - body));
  }
  if (!r && len)
    r = write_record(fd, CTRACE_FMT_REC_DEFS, 0, 0, b, len);
  return r;
}

/* What the threads published since the writer's last cut, as raw
 * batches: only when the writer did not cut for this dump (crash path). */
static int write_pending(int fd, uint32_t gen) {
  int r = 0;
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t && !r;
       t = atomic_load_explicit(&t->next, memory_order_relaxed)) {
    if (atomic_load_explicit(&t->registered, memory_order_acquire) != gen)
      continue;
    ctrace__chunk *c = t->wchunk;
    uint32_t tail = t->wtail;
    uint64_t tick = t->wtick;
    for (int hops = 0; c && hops < (1 << 16) && !r; hops++) {
      ctrace__chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
      uint32_t head = atomic_load_explicit(&c->head, memory_order_acquire);
      if (head > tail && head <= CTRACE__CHUNK_SIZE)
        r = write_record(fd, CTRACE_FMT_REC_BATCH, t->serial, tick, c->data + tail, head - tail);
      if (!next)
        break;
      tick = next->base_tick;
      c = next;
      tail = 0;
    }
  }
  return r;
}

/* The END record: now, the session's drops, and the drops of the threads
 * alive (as the writer's write_end; at most as many as fit). */
static int write_end(int fd, uint32_t gen) {
  uint8_t b[4096], pairs[4096 - 32];
  uint8_t *p = pairs, *pend = pairs + sizeof pairs - 2 * CTRACE_FMT_VARINT_MAX;
  uint64_t n = 0;
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t && p < pend;
       t = atomic_load_explicit(&t->next, memory_order_relaxed)) {
    uint64_t d = atomic_load_explicit(&t->dropped, memory_order_relaxed);
    if (d && atomic_load_explicit(&t->registered, memory_order_acquire) == gen) {
      p = ctrace_fmt_put_varint(p, t->serial);
      p = ctrace_fmt_put_varint(p, d);
      n++;
    }
  }
  uint8_t *q = b;
  q = ctrace_fmt_put_varint(q, ctrace__ticks());
  q = ctrace_fmt_put_varint(q, atomic_load(&ctrace__dropped_total));
  q = ctrace_fmt_put_varint(q, n);
  memcpy(q, pairs, (size_t)(p - pairs));
  q += p - pairs;
  return write_record(fd, CTRACE_FMT_REC_END, 0, 0, b, (size_t)(q - b));
}

/* The whole dump into fd. store: write the store (0 when it is being
 * changed); pending: add what was published since the last cut. */
static int write_dump(int fd, const ctrace__session *s, int store, int pending) {
  uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE];
  ctrace__file_header(h, s, CTRACE_FMT_FF_FLIGHT);
  int r = ctrace__write_all(fd, h, sizeof h);
  if (!r && pending)
    r = write_new_defs(fd, s->gen, !store); /* (all of them without the store) */
  uint64_t last_tick = s->start.tick, last_mono = s->start.mono_ns;
  if (!r && store) {
    r = ctrace__write_all(fd, fl.defs, fl.defs_len);
    size_t first =
        fl.ring_len < fl.ring_cap - fl.ring_head ? fl.ring_len : fl.ring_cap - fl.ring_head;
    if (!r && fl.ring_len)
      r = ctrace__write_all(fd, fl.ring + fl.ring_head, first);
    if (!r && fl.ring_len > first)
      r = ctrace__write_all(fd, fl.ring, fl.ring_len - first);
    last_tick = fl.clock_tick;
    last_mono = fl.clock_mono;
  }
  if (!r && pending)
    r = write_pending(fd, s->gen);
  if (!r) { /* a sync point at the end (they must increase) */
    ctrace__clock_point cp;
    ctrace__clock_sync(&cp);
    if (cp.tick > last_tick && cp.mono_ns > last_mono) {
      uint8_t c[CTRACE_FMT_CLOCK_PAYLOAD];
      ctrace_fmt_put_u64(c, cp.tick);
      ctrace_fmt_put_u64(c + 8, cp.mono_ns);
      ctrace_fmt_put_u64(c + 16, cp.real_ns);
      r = write_record(fd, CTRACE_FMT_REC_CLOCK, 0, 0, c, sizeof c);
    }
  }
  if (!r)
    r = write_end(fd, s->gen);
  return r;
}

/* Opens and writes one dump. @return 0 or -errno. */
static int dump_to(const ctrace__session *s, const char *path, char *chosen, size_t len, int store,
                   int pending) {
  char def[CTRACE__PATH_MAX];
  if (!path) {
    ctrace__flight_nth_path(def, sizeof def, s->flight_base, atomic_fetch_add(&fl.numbered, 1) + 1);
    path = def;
  }
  if (chosen && len) {
    size_t n = strlen(path) < len - 1 ? strlen(path) : len - 1;
    memcpy(chosen, path, n);
    chosen[n] = '\0';
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  int r = write_dump(fd, s, store, pending);
  if (close(fd) != 0 && !r)
    r = -errno;
  if (!r)
    atomic_fetch_add_explicit(&fl.st_dumps, 1, memory_order_relaxed);
  return r;
}

/* A line on stderr without stdio (its lock may be held by a crashed thread). */
static void say(const char *a, const char *b, const char *c) {
  char line[CTRACE__PATH_MAX + 256];
  size_t n = 0;
  const char *parts[] = {"ctrace: flight recorder: ", a, b, c, "\n"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    for (const char *q = parts[i]; q && *q && n < sizeof line; q++)
      line[n++] = *q;
  if (write(2, line, n) < 0) {
  }
}

int ctrace__flight_write(const ctrace__session *s, const char *path, char *chosen, size_t len,
                         const char *why) {
  char buf[CTRACE__PATH_MAX];
  if (!chosen) {
    chosen = buf;
    len = sizeof buf;
  }
  int r = dump_to(s, path, chosen, len, 1, 0);
  if (why)
    say(why, r ? ": cannot write " : ": wrote ", chosen);
  return r;
}

unsigned ctrace__flight_asked(void) {
  unsigned a = 0;
  uint64_t n = atomic_load(&fl.sig_asked);
  if (n != fl.sig_seen) {
    fl.sig_seen = n;
    a |= CTRACE__FLIGHT_ASK_SIGNAL;
  }
  if (fl.test_stuck_writer && atomic_load(&fl.crash) == CRASH_ASKED) {
    struct timespec ts = {10, 0}; /* (the test hook: a writer that does not answer) */
    nanosleep(&ts, NULL);
  }
  int expect = CRASH_ASKED;
  if (atomic_compare_exchange_strong(&fl.crash, &expect, CRASH_WRITING))
    a |= CTRACE__FLIGHT_ASK_CRASH;
  return a;
}

void ctrace__flight_crash_done(void) { atomic_store(&fl.crash, CRASH_DONE); }

static const char *signal_text(int sig);
const char *ctrace__flight_crash_text(void) { return signal_text(atomic_load(&fl.crash_sig)); }

/* ---- Signals ------------------------------------------------------------------------------------ */

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE};
static struct sigaction old_action[NSIG]; /* written before the handler is installed */
static int installed[NSIG];

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void on_usr2(int sig, siginfo_t *si, void *uc) {
  int saved = errno;
  if (atomic_load(&ctrace__flight_on))
    atomic_fetch_add(&fl.sig_asked, 1); /* the writer sees it within a cycle */
  const struct sigaction *o = &old_action[sig];
  if (o->sa_flags & SA_SIGINFO) {
    if (o->sa_sigaction)
      o->sa_sigaction(sig, si, uc);
  } else if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
    o->sa_handler(sig);
  }
  errno = saved;
}

static const char *signal_text(int sig) {
  switch (sig) {
  case SIGSEGV: return "crash (SIGSEGV)";
  case SIGBUS: return "crash (SIGBUS)";
  case SIGABRT: return "crash (SIGABRT)";
  case SIGILL: return "crash (SIGILL)";
  case SIGFPE: return "crash (SIGFPE)";
  default: return "crash";
  }
}

/* The dump of a crash: by the writer if it answers, else by this thread. */
static void crash_dump(int sig) {
  const ctrace__session *s = &ctrace__session_state;
  if (ctrace__tid() != s->writer_tid) {
    atomic_store(&fl.crash_sig, sig);
    atomic_store(&fl.crash, CRASH_ASKED);
    for (long waited = 0;; waited++) {
      int st = atomic_load(&fl.crash);
      if (st == CRASH_DONE)
        return;
      if (st == CRASH_ASKED && waited >= 2000) { /* 2 s: the writer is stuck */
        int expect = CRASH_ASKED;
        if (atomic_compare_exchange_strong(&fl.crash, &expect, CRASH_ABANDONED))
          break;
      }
      if (waited >= 30000) /* writing for 28 s: let the process die */
        return;
      sleep_ms(1);
    }
  }
  if (!atomic_load(&ctrace__flight_on))
    return;
  int store = !atomic_load(&fl.busy);
  char path[CTRACE__PATH_MAX];
  int r = dump_to(s, NULL, path, sizeof path, store, 1);
  say(signal_text(sig),
      r       ? ": cannot write "
      : store ? ": wrote (by the crashed thread) "
              : ": wrote (recent events only) ",
      path);
}

static void on_crash(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  int saved = errno;
  static _Atomic int first;
  static _Atomic int finished;
  if (atomic_load(&ctrace__flight_on)) {
    if (!atomic_exchange(&first, 1)) {
      crash_dump(sig);
      atomic_store(&finished, 1);
    } else {
      /* Another thread is dumping: let it finish (bounded) before this
       * signal kills the process. */
      for (int i = 0; i < 30000 && !atomic_load(&finished); i++)
        sleep_ms(1);
    }
  }
  /* As if we had never been here: the previous action, and the signal
   * again. A fault (si_code > 0) happens again when this returns; a sent
   * signal (kill, raise, abort) is sent again, and stays pending until
   * this handler returns. */
  sigaction(sig, &old_action[sig], NULL);
  if (!si || si->si_code <= 0)
    raise(sig);
  errno = saved;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags) {
  if (installed[sig])
    return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fn;
  sa.sa_flags = SA_SIGINFO | flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, NULL, &old_action[sig]) != 0)
    return;
  if (sigaction(sig, &sa, NULL) == 0)
    installed[sig] = 1;
}

void ctrace__flight_begin(void) {
  install(SIGUSR2, on_usr2, SA_RESTART);
  for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
    install(crash_signals[i], on_crash, SA_ONSTACK | SA_RESTART);
  atomic_store(&ctrace__flight_on, 1);
  ctrace__flight_thread_start(); /* the starting thread's signal stack */
}

void ctrace__flight_end(void) {
  atomic_store(&ctrace__flight_on, 0);
  for (int sig = 1; sig < NSIG; sig++) {
    if (!installed[sig])
      continue;
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        (cur.sa_sigaction == on_usr2 || cur.sa_sigaction == on_crash))
      sigaction(sig, &old_action[sig], NULL); /* (the program's own, if it replaced ours) */
    installed[sig] = 0;
  }
}

/* ---- Signal stacks ------------------------------------------------------------------------------ */

#define ALTSTACK_SIZE (64u * 1024u)
#define ALTSTACK_GUARD 4096u

void ctrace__flight_thread_start(void) {
  if (!atomic_load_explicit(&ctrace__flight_on, memory_order_relaxed) || ctrace__tls.altstack)
    return;
  stack_t cur;
  if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE))
    return; /* the thread has one (the program's, a sanitizer's) */
  uint8_t *m = mmap(NULL, ALTSTACK_SIZE + ALTSTACK_GUARD, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    return;
  mprotect(m, ALTSTACK_GUARD, PROT_NONE); /* an overflow of the handler faults */
  stack_t ss = {.ss_sp = m + ALTSTACK_GUARD, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    munmap(m, ALTSTACK_SIZE + ALTSTACK_GUARD);
    return;
  }
  ctrace__tls.altstack = m;
}

void ctrace__flight_thread_exit(void) {
  uint8_t *m = ctrace__tls.altstack;
  if (!m)
    return;
  stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
  if (sigaltstack(&ss, NULL) == 0) /* (fails while running on it: then kept) */
    munmap(m, ALTSTACK_SIZE + ALTSTACK_GUARD);
  ctrace__tls.altstack = NULL;
}
