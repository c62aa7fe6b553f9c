/* The background writer: one thread per session that turns what the
 * recording threads published into records of the trace file.
 *
 * Every cycle (10 ms, or at once for a flush or stop) it writes the
 * definitions that appeared since the last cycle (sites, strings, threads),
 * then, for each thread, every finished chunk as a BATCH record; every
 * flush_ms/2 it also cuts the part of each thread's current chunk published
 * so far, and writes a clock sync point. So no event waits in memory longer
 * than ~flush_ms and a killed process leaves a trace that ends at most that
 * long before it died. Only the writer walks the thread list and unlinks
 * (frees) the state of threads that exited.
 *
 * In flight mode (flight.c) the same records go to the flight recorder's
 * memory instead of the file, and the writer also writes the dumps that
 * ctrace_flight_dump, SIGUSR2 and crashes ask for, each after a cut.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "internal.h"

typedef struct wbuf {
  uint8_t *p;
  size_t len;
  size_t cap;
} wbuf;

typedef struct writer {
  ctrace__session *s;
  ZSTD_CCtx *cctx;
  wbuf out;                /* records not yet written to the file */
  wbuf defs;               /* DEFS payload being built */
  wbuf scratch;            /* one definition's body */
  wbuf stage;              /* a thread's events gathered into one batch (file mode) */
  uint64_t stage_tick;     /* the tick the staged events' deltas count from */
  ctrace_site *sites_seen; /* list heads already written */
  ctrace__string *strings_seen;
  ctrace__string *stacks_seen; /* heap samples' stacks already written */
  unsigned long long maps_gen; /* the loader's count when mappings were last written */
  uint64_t *maps_written;      /* the starts of the mappings written */
  size_t nmaps, cap_maps;
  int heap_rate_written;
  int process_written;
  int capture_written;
  int own_written; /* ctrace__own_tids declared so far */
  int has_batches; /* a BATCH was emitted: a lazy file must exist now */
  uint64_t last_cut_ns;
  int err; /* first error; later data is discarded */
} writer;

/* ---- Buffers ----------------------------------------------------------------- */
static int wbuf_reserve(wbuf *b, size_t more) {
  if (b->len + more <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more)
    cap *= 2;
  uint8_t *p = realloc(b->p, cap);
  if (!p)
    return -ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

static void wbuf_varint(wbuf *b, uint64_t v) {
  if (wbuf_reserve(b, CTRACE_FMT_VARINT_MAX) == 0)
    b->len = (size_t)(ctrace_fmt_put_varint(b->p + b->len, v) - b->p);
}

static void wbuf_str(wbuf *b, const char *s) {
  size_t n = s ? strlen(s) : 0;
  wbuf_varint(b, n);
  if (n && wbuf_reserve(b, n) == 0) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
  }
}

static void set_err(writer *w, int err) {
  if (!w->err)
    w->err = err;
}

/* ---- Records ------------------------------------------------------------------- */

/* Appends one record to w->out; compresses the payload when that helps.
 * In flight mode the record goes to the flight recorder's store instead;
 * last_tick is the tick of its last event (BATCH) or its tick (CLOCK). */
static void emit_rec(writer *w, unsigned type, uint32_t thread, uint64_t base_tick,
                     const uint8_t *raw, size_t raw_len, uint64_t last_tick) {
  if (raw_len > CTRACE_FMT_RECORD_MAX_RAW) {
    set_err(w, -EINVAL);
    return;
  }
  size_t bound = ZSTD_compressBound(raw_len);
  if (wbuf_reserve(&w->out, CTRACE_FMT_RECORD_HEADER_SIZE + bound) != 0) {
    set_err(w, -ENOMEM);
    return;
  }
  uint8_t *h = w->out.p + w->out.len;
  uint8_t *payload = h + CTRACE_FMT_RECORD_HEADER_SIZE;
  unsigned codec = CTRACE_FMT_CODEC_NONE;
  size_t stored = raw_len;
  if (raw_len >= 64) {
    size_t n = ZSTD_compressCCtx(w->cctx, payload, bound, raw, raw_len, w->s->zstd_level);
    if (ZSTD_isError(n)) {
      fprintf(stderr, "ctrace: zstd: %s\n", ZSTD_getErrorName(n));
      set_err(w, CTRACE_ECOMPRESS);
      return;
    }
    if (n < raw_len) {
      codec = CTRACE_FMT_CODEC_ZSTD;
      stored = n;
    }
  }
  if (codec == CTRACE_FMT_CODEC_NONE && raw_len)
    memcpy(payload, raw, raw_len);
  memset(h, 0, CTRACE_FMT_RECORD_HEADER_SIZE);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_SYNC, CTRACE_FMT_RECORD_SYNC);
  h[CTRACE_FMT_RH_TYPE] = (uint8_t)type;
  h[CTRACE_FMT_RH_CODEC] = (uint8_t)codec;
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_STORED_SIZE, (uint32_t)stored);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_RAW_SIZE, (uint32_t)raw_len);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_THREAD, thread);
  ctrace_fmt_put_u64(h + CTRACE_FMT_RH_BASE_TICK, base_tick);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC, ctrace_fmt_record_crc(h, payload, stored));
  if (w->s->flight) /* (w->out stays empty) */
    ctrace__flight_take(type, h, CTRACE_FMT_RECORD_HEADER_SIZE + stored, last_tick);
  else
    w->out.len += CTRACE_FMT_RECORD_HEADER_SIZE + stored;
}

static void emit(writer *w, unsigned type, uint32_t thread, uint64_t base_tick, const uint8_t *raw,
                 size_t raw_len) {
  emit_rec(w, type, thread, base_tick, raw, raw_len, 0);
}

static int write_header(ctrace__session *s, int fd);

static void out_flush(writer *w) {
  ctrace__session *s = w->s;
  if (s->flight)
    return; /* nothing is written but dumps */
  if (s->fd < 0 && s->lazy_base) {
    if (!w->has_batches)
      return; /* nothing but definitions yet: keep them, create no file */
    char *chosen = NULL;
    int fd = ctrace__open_child_file(s->lazy_base, &chosen);
    int r = fd < 0 ? fd : write_header(s, fd);
    if (r) {
      set_err(w, r);
      if (fd >= 0)
        close(fd);
      free(chosen);
    } else {
      s->fd = fd;
      free(s->path);
      s->path = chosen;
    }
    free(s->lazy_base);
    s->lazy_base = NULL;
  }
  if (w->out.len && !w->err) {
    int r = ctrace__write_all(w->s->fd, w->out.p, w->out.len);
    if (r)
      set_err(w, r);
    else
      w->s->bytes_written += w->out.len;
  }
  w->out.len = 0;
}

/* ---- Definitions ------------------------------------------------------------------ */
static void defs_flush(writer *w);

/* Appends the scratch buffer to the DEFS payload as one definition. */
static void def_add(writer *w, unsigned kind) {
  if (wbuf_reserve(&w->defs, 1 + CTRACE_FMT_VARINT_MAX + w->scratch.len) != 0) {
    set_err(w, -ENOMEM);
    return;
  }
  w->defs.p[w->defs.len++] = (uint8_t)kind;
  wbuf_varint(&w->defs, w->scratch.len);
  memcpy(w->defs.p + w->defs.len, w->scratch.p, w->scratch.len);
  w->defs.len += w->scratch.len;
  w->scratch.len = 0;
  /* Keep records far below the readers' 16 MiB limit: a session that
   * starts late re-sends every site and string the process has. */
  if (w->defs.len >= (1u << 20))
    defs_flush(w);
}

static void defs_flush(writer *w) {
  if (w->defs.len)
    emit(w, CTRACE_FMT_REC_DEFS, 0, 0, w->defs.p, w->defs.len);
  w->defs.len = 0;
}

static void read_small_file(const char *path, char *buf, size_t cap, char nul_to) {
  buf[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n <= 0)
    return;
  while (n > 0 && (buf[n - 1] == '\0' || buf[n - 1] == '\n'))
    n--;
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == '\0')
      buf[i] = nul_to;
  buf[n] = '\0';
}

static void defs_process(writer *w) {
  char comm[64], cmdline[4096];
  read_small_file("/proc/self/comm", comm, sizeof comm, ' ');
  read_small_file("/proc/self/cmdline", cmdline, sizeof cmdline, ' ');
  wbuf_varint(&w->scratch, (uint64_t)getpid());
  wbuf_str(&w->scratch, comm);
  wbuf_str(&w->scratch, cmdline);
  def_add(w, CTRACE_FMT_DEF_PROCESS);
  wbuf_varint(&w->scratch, (uint64_t)w->s->clock_kind);
  wbuf_str(&w->scratch, w->s->clock_why);
  def_add(w, CTRACE_FMT_DEF_CLOCK);
}

static void def_span(writer *w, int tid, uint64_t from, uint64_t to, int whole) {
  wbuf_varint(&w->scratch, (uint64_t)tid);
  wbuf_varint(&w->scratch, from);
  wbuf_varint(&w->scratch, to);
  wbuf_varint(&w->scratch, (uint64_t)whole);
  def_add(w, CTRACE_FMT_DEF_TRACER_SPAN);
}

/* What was captured besides the program's events, and the tracer's own
 * work (its system calls are not the program's). */
static void defs_capture(writer *w) {
  const ctrace__capture *c = &ctrace__capture_state;
  wbuf_varint(&w->scratch, (uint64_t)c->syscalls);
  wbuf_varint(&w->scratch, (uint64_t)c->sched);
  wbuf_varint(&w->scratch, (uint64_t)c->heap);
  wbuf_varint(&w->scratch, (uint64_t)c->locks);
  wbuf_str(&w->scratch, c->why);
  def_add(w, CTRACE_FMT_DEF_CAPTURE);
  ctrace__session *s = w->s;
  def_span(w, s->span_tid, s->span_from, s->span_to, 0);
  def_span(w, s->writer_tid, s->span_from, 0, 1);
  for (int i = 0; i < s->ninherited; i++)
    def_span(w, s->inherited[i].tid, s->inherited[i].from, s->inherited[i].to,
             s->inherited[i].whole);
}

static void defs_sites(writer *w) {
  ctrace_site *head = ctrace__sites_head();
  for (ctrace_site *s = head; s && s != w->sites_seen; s = s->next) {
    wbuf_varint(&w->scratch, __atomic_load_n(&s->id, __ATOMIC_RELAXED));
    wbuf_varint(&w->scratch, s->kind);
    wbuf_varint(&w->scratch, s->line);
    wbuf_str(&w->scratch, s->name);
    wbuf_str(&w->scratch, s->file);
    wbuf_str(&w->scratch, s->func);
    def_add(w, CTRACE_FMT_DEF_SITE);
  }
  w->sites_seen = head;
}

static void defs_strings(writer *w) {
  ctrace__string *head = ctrace__strings_head();
  for (ctrace__string *s = head; s && s != w->strings_seen; s = s->next) {
    wbuf_varint(&w->scratch, s->id);
    wbuf_varint(&w->scratch, s->len);
    if (wbuf_reserve(&w->scratch, s->len) == 0) {
      memcpy(w->scratch.p + w->scratch.len, s->text, s->len);
      w->scratch.len += s->len;
    }
    def_add(w, CTRACE_FMT_DEF_STRING);
  }
  w->strings_seen = head;
}

/* ---- Heap profiles: the rate, the code mappings and the samples' stacks ---------- */
static int map_written(writer *w, uint64_t start) {
  for (size_t i = 0; i < w->nmaps; i++)
    if (w->maps_written[i] == start)
      return 1;
  if (w->nmaps == w->cap_maps) {
    size_t cap = w->cap_maps ? 2 * w->cap_maps : 64;
    uint64_t *m = realloc(w->maps_written, cap * sizeof *m);
    if (!m)
      return 1; /* (not written: its samples stay unnamed) */
    w->maps_written = m;
    w->cap_maps = cap;
  }
  w->maps_written[w->nmaps++] = start;
  return 0;
}

static void def_mapping(void *ctx, uint64_t start, uint64_t end, uint64_t offset, const char *path,
                        const char *build_id) {
  writer *w = ctx;
  if (map_written(w, start))
    return;
  wbuf_varint(&w->scratch, (uint64_t)getpid());
  wbuf_varint(&w->scratch, start);
  wbuf_varint(&w->scratch, end);
  wbuf_varint(&w->scratch, offset);
  wbuf_str(&w->scratch, path);
  wbuf_str(&w->scratch, build_id);
  def_add(w, CTRACE_FMT_DEF_MAPPING);
}

static int stack_by_id(const void *a, const void *b) {
  uint32_t x = (*(ctrace__string *const *)a)->id, y = (*(ctrace__string *const *)b)->id;
  return x < y ? -1 : x > y;
}

static void def_stack(writer *w, const ctrace__string *s) {
  unsigned n = s->len / 8;
  wbuf_varint(&w->scratch, s->id);
  wbuf_varint(&w->scratch, n);
  for (unsigned i = 0; i < n; i++) {
    uint64_t pc;
    memcpy(&pc, s->text + 8 * i, sizeof pc);
    wbuf_varint(&w->scratch, pc);
  }
  def_add(w, CTRACE_FMT_DEF_STACK);
}

static void defs_heap(writer *w) {
  uint64_t rate = atomic_load_explicit(&ctrace__heap_rate, memory_order_acquire);
  if (rate && !w->heap_rate_written) {
    wbuf_varint(&w->scratch, rate);
    wbuf_str(&w->scratch, ctrace__heap_method);
    def_add(w, CTRACE_FMT_DEF_HEAP_SAMPLING);
    w->heap_rate_written = 1;
  }
  ctrace__string *head = ctrace__stacks_head();
  if (head == w->stacks_seen)
    return;
  /* New stacks: first any code loaded since the mappings were written. */
  if (!w->nmaps || ctrace__mappings_each(NULL, NULL) != w->maps_gen)
    w->maps_gen = ctrace__mappings_each(def_mapping, w);
  /* The list is newest first; readers want the ids in increasing order. */
  size_t k = 0;
  for (ctrace__string *s = head; s && s != w->stacks_seen; s = s->next)
    k++;
  ctrace__string **order = malloc(k * sizeof *order);
  if (!order) {
    set_err(w, -ENOMEM);
    return;
  }
  k = 0;
  for (ctrace__string *s = head; s && s != w->stacks_seen; s = s->next)
    order[k++] = s;
  qsort(order, k, sizeof *order, stack_by_id);
  for (size_t j = 0; j < k; j++)
    def_stack(w, order[j]);
  free(order);
  w->stacks_seen = head;
}

static void def_thread(writer *w, ctrace__thread *t) {
  wbuf_varint(&w->scratch, t->serial);
  wbuf_varint(&w->scratch, (uint64_t)t->tid);
  wbuf_str(&w->scratch, t->name);
  def_add(w, CTRACE_FMT_DEF_THREAD);
  t->wdefined = w->s->gen;
}

static void def_thread_end(writer *w, ctrace__thread *t) {
  wbuf_varint(&w->scratch, t->serial);
  wbuf_varint(&w->scratch, atomic_load_explicit(&t->dropped, memory_order_relaxed));
  def_add(w, CTRACE_FMT_DEF_THREAD_END);
}

/* ---- Threads ------------------------------------------------------------------------ */

/* Batches: in file mode a thread's consecutive chunks are gathered into one
 * batch of up to STAGE_MAX bytes: one zstd call and one record instead of
 * eight (bench_record: the writer's CPU per event went from ~2.0 to ~1.2
 * ns; 1 MiB measured no better). The flight recorder keeps one batch per
 * chunk (it evicts by batch). */
#define STAGE_MAX (256u * 1024u)

static void stage_flush(writer *w, ctrace__thread *t, uint64_t last_tick) {
  if (w->stage.len) {
    emit_rec(w, CTRACE_FMT_REC_BATCH, t->serial, w->stage_tick, w->stage.p, w->stage.len,
             last_tick);
    w->has_batches = 1;
    w->stage.len = 0;
  }
}

/* Events [from, to) of chunk c (ticks counted from t->wtick), into the
 * thread's batch; last_tick: the tick of the last of them. */
static void emit_batch(writer *w, ctrace__thread *t, ctrace__chunk *c, uint32_t from, uint32_t to,
                       uint64_t last_tick) {
  if (to <= from)
    return;
  if (w->s->flight || (!w->stage.len && to - from >= STAGE_MAX)) {
    emit_rec(w, CTRACE_FMT_REC_BATCH, t->serial, t->wtick, c->data + from, to - from, last_tick);
    w->has_batches = 1;
    return;
  }
  if (w->stage.len + (to - from) > STAGE_MAX)
    stage_flush(w, t, t->wtick);
  if (!w->stage.len)
    w->stage_tick = t->wtick;
  if (wbuf_reserve(&w->stage, to - from) != 0) {
    stage_flush(w, t, t->wtick);
    emit_rec(w, CTRACE_FMT_REC_BATCH, t->serial, t->wtick, c->data + from, to - from, last_tick);
    w->has_batches = 1;
    return;
  }
  memcpy(w->stage.p + w->stage.len, c->data + from, to - from);
  w->stage.len += to - from;
}

/* Flight mode: a THREAD_NAME event is in a batch that the ring will
 * forget, and the thread would lose its name in later dumps: the name is
 * defined again (DEF_THREAD), once per change. */
static void def_thread_named(writer *w, ctrace__thread *t, const uint8_t *name, uint64_t n) {
  if (n > CTRACE_FMT_NAME_MAX)
    n = CTRACE_FMT_NAME_MAX;
  if (strlen(t->wname) == n && !memcmp(t->wname, name, n))
    return;
  memcpy(t->wname, name, n);
  t->wname[n] = '\0';
  wbuf_varint(&w->scratch, t->serial);
  wbuf_varint(&w->scratch, (uint64_t)t->tid);
  wbuf_str(&w->scratch, t->wname);
  def_add(w, CTRACE_FMT_DEF_THREAD);
}

/* Walks the events of t in [p, end) from tick: @return the last one's
 * tick. names: also keep the thread's name (def_thread_named). */
static uint64_t walk_events(writer *w, ctrace__thread *t, const uint8_t *p, const uint8_t *end,
                            uint64_t tick, int names) {
  while (p < end) {
    unsigned type = 0;
    uint64_t delta, args[CTRACE_FMT_EVENT_MAX_VARINTS], slen;
    const uint8_t *str;
    if (!(p = ctrace_fmt_decode_event(p, end, &type, &delta, args, &str, &slen))) {
      fprintf(stderr, "ctrace: internal error: bad event (type %u) in thread %u's buffer\n", type,
              t->serial);
      set_err(w, CTRACE_ECORRUPT);
      break;
    }
    tick += delta;
    if (type == CTRACE_FMT_EV_THREAD_NAME && names)
      def_thread_named(w, t, str, slen);
  }
  return tick;
}

/* Writes what t published; with cut, also the unfinished part of its
 * current chunk. */
static void drain_thread(writer *w, ctrace__thread *t, int cut) {
  for (;;) {
    ctrace__chunk *c = t->wchunk;
    /* Flight mode: names done = the even count seen before the head (its
     * events are below it: acquire); a THREAD_NAME below the head makes
     * the count seen after it move (walk). */
    uint32_t done = atomic_load_explicit(&t->names, memory_order_acquire) & ~1u;
    ctrace__chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
    uint32_t head = atomic_load_explicit(&c->head, memory_order_acquire);
    int walk = w->s->flight && atomic_load_explicit(&t->names, memory_order_relaxed) != t->wnames;
    if (next) { /* sealed: head is final; the next chunk's base is its last tick */
      if (walk) /* (for its names only) */
        walk_events(w, t, c->data + t->wtail, c->data + head, t->wtick, 1);
      emit_batch(w, t, c, t->wtail, head, next->base_tick);
      t->wchunk = next;
      t->wtail = 0;
      t->wtick = next->base_tick;
      ctrace__pool_put(c);
      continue;
    }
    if (cut && head > t->wtail) {
      /* The next batch starts mid-chunk: its base is the tick of the last
       * event written, found by walking the deltas of this one. */
      uint64_t tick = walk_events(w, t, c->data + t->wtail, c->data + head, t->wtick, walk);
      emit_batch(w, t, c, t->wtail, head, tick);
      t->wtick = tick;
      t->wtail = head;
    }
    stage_flush(w, t, t->wtick);
    if (cut) /* walked up to the head */
      t->wnames = done;
    return;
  }
}

/* Removes t (the writer's `prev`'s successor, or the head) from the list. */
static void unlink_thread(ctrace__thread *prev, ctrace__thread *t) {
  ctrace__thread *next = atomic_load_explicit(&t->next, memory_order_relaxed);
  if (!prev) {
    ctrace__thread *expect = t;
    if (atomic_compare_exchange_strong(&ctrace__threads, &expect, next))
      return;
    /* New threads were pushed in front: find t's predecessor. */
    prev = atomic_load_explicit(&ctrace__threads, memory_order_acquire);
    while (atomic_load_explicit(&prev->next, memory_order_relaxed) != t)
      prev = atomic_load_explicit(&prev->next, memory_order_relaxed);
  }
  atomic_store_explicit(&prev->next, next, memory_order_relaxed);
}

/* One pass over the thread list: definitions of new threads, batches,
 * and the end of threads that exited. */
static void drain_threads(writer *w, int cut) {
  uint32_t gen = w->s->gen;
  ctrace__thread *prev = NULL;
  ctrace__thread *t = atomic_load_explicit(&ctrace__threads, memory_order_acquire);
  while (t) {
    ctrace__thread *next = atomic_load_explicit(&t->next, memory_order_relaxed);
    /* Acquire: after `exited`, t's last head and next are visible; after
     * `registered`, its wchunk/wtick/tid/name are. */
    int exited = atomic_load_explicit(&t->exited, memory_order_acquire);
    int mine = atomic_load_explicit(&t->registered, memory_order_acquire) == gen;
    /* A thread that tried to record in this session but never got a chunk
     * (memory at its cap) is declared all the same: its drops are its own. */
    int chunkless = !mine && atomic_load_explicit(&t->tried, memory_order_acquire) == gen;
    if (chunkless && t->wdefined != gen &&
        atomic_load_explicit(&t->dropped, memory_order_relaxed)) {
      def_thread(w, t);
      defs_flush(w);
    }
    if (mine) {
      if (t->wdefined != gen) {
        t->wname[0] = '\0';
        def_thread(w, t);
        defs_flush(w); /* the thread's DEF precedes its first batch */
      }
      drain_thread(w, t, cut || exited);
    }
    if (exited) {
      if (mine) {
        if (t->renamed) /* named by someone else while it ran */
          def_thread(w, t);
        if (t->renamed && t->wname[0]) { /* flight: the name it gave itself stays */
          char keep[sizeof t->wname];
          memcpy(keep, t->wname, sizeof keep);
          t->wname[0] = '\0';
          def_thread_named(w, t, (const uint8_t *)keep, strlen(keep));
        }
        def_thread_end(w, t);
        ctrace__pool_put(t->wchunk);
      } else if (chunkless && t->wdefined == gen) {
        def_thread_end(w, t);
      }
      unlink_thread(prev, t);
      ctrace__thread_free(t);
    } else {
      prev = t;
    }
    t = next;
  }
}

/* ---- The writer thread ---------------------------------------------------------------- */

static void write_clock(writer *w) {
  ctrace__clock_point cp;
  ctrace__clock_sync(&cp);
  uint8_t b[CTRACE_FMT_CLOCK_PAYLOAD];
  ctrace_fmt_put_u64(b, cp.tick);
  ctrace_fmt_put_u64(b + 8, cp.mono_ns);
  ctrace_fmt_put_u64(b + 16, cp.real_ns);
  emit_rec(w, CTRACE_FMT_REC_CLOCK, 0, 0, b, sizeof b, cp.tick);
}

static void cycle(writer *w, int cut, int span_set) {
  if (!w->process_written) {
    defs_process(w);
    w->process_written = 1;
  }
  if (!w->capture_written && span_set) {
    defs_capture(w);
    w->capture_written = 1;
  }
  if (w->capture_written) /* the tracer's threads, as they appear */
    for (int n = __atomic_load_n(&ctrace__own_ntids, __ATOMIC_ACQUIRE); w->own_written < n;
         w->own_written++)
      if (ctrace__own_tids[w->own_written] != w->s->writer_tid &&
          ctrace__own_pids[w->own_written] == (int)getpid())
        def_span(w, ctrace__own_tids[w->own_written], w->s->span_from, 0, 1);
  defs_sites(w);
  defs_strings(w);
  defs_heap(w);
  defs_flush(w);
  if (w->s->flight)
    ctrace__flight_defined(w->sites_seen, w->strings_seen);
  drain_threads(w, cut);
  defs_heap(w); /* stacks first used by what was just drained */
  defs_flush(w);
  if (cut && (w->s->fd >= 0 || w->has_batches)) /* no clock for a file not yet created */
    write_clock(w);
  out_flush(w);
  if (w->s->flight)
    ctrace__flight_evict();
}

/* Flight mode: the dumps asked since the last cycle, after it (a cut).
 * api: ctrace_flight_dump's (result under s->mu). */
static void flight_dumps(writer *w, int api, const char *api_path, unsigned asked) {
  ctrace__session *s = w->s;
  if (asked & CTRACE__FLIGHT_ASK_CRASH) {
    ctrace__flight_write(s, NULL, NULL, 0, ctrace__flight_crash_text());
    ctrace__flight_crash_done();
  }
  if (asked & CTRACE__FLIGHT_ASK_SIGNAL)
    ctrace__flight_write(s, NULL, NULL, 0, "SIGUSR2");
  if (api) {
    char chosen[CTRACE__PATH_MAX];
    int r = ctrace__flight_write(s, api_path, chosen, sizeof chosen, NULL);
    pthread_mutex_lock(&s->mu);
    s->dump_result = r;
    memcpy(s->dump_chosen, chosen, sizeof chosen);
    pthread_mutex_unlock(&s->mu);
  }
}

static void write_end(writer *w) {
  /* Per-thread drop totals of threads still alive (exited ones had a
   * DEF_THREAD_END), so drops that no DROPPED event marks are still told. */
  wbuf *b = &w->scratch;
  b->len = 0;
  wbuf_varint(b, ctrace__ticks());
  wbuf_varint(b, atomic_load(&ctrace__dropped_total));
  size_t n = 0;
  wbuf pairs = {0};
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t;
       t = atomic_load_explicit(&t->next, memory_order_relaxed)) {
    uint64_t d = atomic_load_explicit(&t->dropped, memory_order_relaxed);
    if (d && (atomic_load_explicit(&t->registered, memory_order_acquire) == w->s->gen ||
              (atomic_load_explicit(&t->tried, memory_order_acquire) == w->s->gen &&
               t->wdefined == w->s->gen))) {
      wbuf_varint(&pairs, t->serial);
      wbuf_varint(&pairs, d);
      n++;
    }
  }
  wbuf_varint(b, n);
  if (pairs.len && wbuf_reserve(b, pairs.len) == 0) {
    memcpy(b->p + b->len, pairs.p, pairs.len);
    b->len += pairs.len;
  }
  free(pairs.p);
  emit(w, CTRACE_FMT_REC_END, 0, 0, b->p, b->len);
  b->len = 0;
}

/* At the end: threads still alive may have been renamed by others since
 * they were defined; their name is in /proc. */
static void rename_live(writer *w) {
  uint32_t gen = w->s->gen;
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t;
       t = atomic_load_explicit(&t->next, memory_order_relaxed)) {
    if (atomic_load_explicit(&t->registered, memory_order_acquire) != gen ||
        atomic_load_explicit(&t->exited, memory_order_acquire))
      continue;
    char path[64], name[sizeof t->name];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", t->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    ssize_t n = read(fd, name, sizeof name - 1);
    close(fd);
    if (n <= 0)
      continue;
    while (n > 0 && name[n - 1] == '\n')
      n--;
    name[n] = '\0';
    if (strcmp(name, t->name) != 0) {
      memcpy(t->name, name, (size_t)n + 1); /* the thread never writes it again */
      def_thread(w, t);
    }
  }
}

/* The writer thread's setup: it never records, and takes no signal but a
 * crash (in flight mode: a crash of the writer itself still dumps, see
 * flight.c). */
static void writer_thread_init(ctrace__session *s) {
  sigset_t all;
  sigfillset(&all);
  if (s->flight) {
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGABRT);
  }
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  ctrace__tls.guard = 1; /* the writer never records */
  pthread_setname_np(pthread_self(), "ctrace-writer");
  s->writer_tid = (int)syscall(SYS_gettid);
}

/* What the session asked of the writer, taken under s->mu at the top of a
 * cycle. */
typedef struct writer_asks {
  int stop;              /* ctrace_stop */
  uint64_t flush, dump;  /* the requests' counts, done once the cycle is */
  int api_dump;          /* ctrace_flight_dump waits for a dump */
  const char *dump_path; /* its path (the caller's, valid until dump_done) */
  unsigned fasked;       /* CTRACE__FLIGHT_ASK_* (signal, crash) */
  int asked;             /* any of them: a cut now */
  int span_set;          /* the start span is known (start() set it) */
} writer_asks;

/* Waits up to 10 ms for a request, then takes what was asked. */
static void writer_wait(writer *w, writer_asks *a) {
  ctrace__session *s = w->s;
  pthread_mutex_lock(&s->mu);
  if (!s->stop_req && s->flush_req == s->flush_done && s->dump_req == s->dump_done) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 10 * 1000000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
  }
  a->stop = s->stop_req;
  a->flush = s->flush_req;
  a->dump = s->dump_req;
  a->api_dump = a->dump != s->dump_done;
  a->dump_path = s->dump_path;
  a->fasked = s->flight ? ctrace__flight_asked() : 0;
  a->asked = a->stop || a->flush != s->flush_done || a->api_dump || a->fasked;
  a->span_set = s->span_to != 0;
  pthread_mutex_unlock(&s->mu);
}

/* The last cycle, for ctrace_stop: everything recorded goes out, then the
 * stop span and the END record; the file is closed and the memory freed. */
static void writer_stop(writer *w, const writer_asks *a) {
  ctrace__session *s = w->s;
  /* Send every thread to its slow path, where it sees tracing is off
   * (see the race note in thread.c), then drain twice: threads that
   * registered during the first pass get their batches in the second. */
  for (ctrace__thread *t = atomic_load(&ctrace__threads); t;
       t = atomic_load_explicit(&t->next, memory_order_relaxed))
    atomic_store(&t->limit, 0);
  cycle(w, 1, 1);
  cycle(w, 1, 1);
  if (s->flight) /* a crash while stopping */
    flight_dumps(w, a->api_dump, a->dump_path, a->fasked | ctrace__flight_asked());
  rename_live(w);
  /* The stop span ends here: what ctrace_stop does after this is
   * waiting in the join (begun before), and the rest (close, frees) is
   * done on this thread, below. Then the program's own calls follow
   * (its exit, stdio's last flush). */
  s->stop_to = ctrace__mono_ns();
  def_span(w, s->stop_tid, s->stop_from, s->stop_to, 0);
  defs_flush(w);
  write_end(w);
  out_flush(w);
  if (s->fd >= 0 && close(s->fd) != 0 && !w->err)
    w->err = -errno;
  s->fd = -1;
  ctrace__pool_release_memory();
  if (s->flight)
    ctrace__flight_free();
  ZSTD_freeCCtx(w->cctx);
  w->cctx = NULL;
}

/* Tells the waiters (flush, dump, stop) that their request is done, and
 * the session the first error. */
static void writer_done(writer *w, const writer_asks *a) {
  ctrace__session *s = w->s;
  pthread_mutex_lock(&s->mu);
  if (w->err && !s->error)
    s->error = w->err;
  s->flush_done = a->flush;
  s->dump_done = a->dump;
  pthread_cond_broadcast(&s->done_cv);
  pthread_mutex_unlock(&s->mu);
}

static void *writer_main(void *arg) {
  writer *w = arg;
  ctrace__session *s = w->s;
  writer_thread_init(s);

  uint64_t cut_every = s->flush_ms * 1000000ull / 2;
  if (cut_every < 1000000)
    cut_every = 1000000;
  w->last_cut_ns = ctrace__mono_ns();
  uint64_t delay_until = s->writer_delay_ms ? w->last_cut_ns + s->writer_delay_ms * 1000000ull : 0;
  for (;;) {
    writer_asks a;
    writer_wait(w, &a);
    uint64_t now = ctrace__mono_ns();
    if (delay_until && now < delay_until && !a.asked)
      continue; /* test hook: a writer that cannot keep up */
    int cut = a.asked || now - w->last_cut_ns >= cut_every;
    if (a.stop) {
      writer_stop(w, &a);
    } else {
      cycle(w, cut, a.span_set);
      if (a.api_dump || a.fasked)
        flight_dumps(w, a.api_dump, a.dump_path, a.fasked);
    }
    if (cut)
      w->last_cut_ns = now;
    writer_done(w, &a);
    if (a.stop)
      break;
  }
  free(w->out.p);
  free(w->defs.p);
  free(w->scratch.p);
  free(w->stage.p);
  free(w->maps_written);
  free(w);
  return NULL;
}

/* ---- Start, stop, flush -------------------------------------------------------------------- */

void ctrace__file_header(uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE], const ctrace__session *s,
                         uint32_t flags) {
  memset(h, 0, CTRACE_FMT_FILE_HEADER_SIZE);
  memcpy(h + CTRACE_FMT_FH_MAGIC, CTRACE_FMT_MAGIC, CTRACE_FMT_MAGIC_LEN);
  ctrace_fmt_put_u16(h + CTRACE_FMT_FH_VERSION_MAJOR, CTRACE_FMT_VERSION_MAJOR);
  ctrace_fmt_put_u16(h + CTRACE_FMT_FH_VERSION_MINOR, CTRACE_FMT_VERSION_MINOR);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_HEADER_SIZE, CTRACE_FMT_FILE_HEADER_SIZE);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_CLOCK, (uint32_t)s->clock_kind);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_PID, (uint32_t)getpid());
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_TICKS_PER_SEC, s->ticks_per_sec);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_TICK, s->start.tick);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_MONO, s->start.mono_ns);
  ctrace_fmt_put_u64(h + CTRACE_FMT_FH_START_REAL, s->start.real_ns);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_FLAGS, flags);
  ctrace_fmt_put_u32(h + CTRACE_FMT_FH_CRC, ctrace_fmt_crc32c(0, h, CTRACE_FMT_FH_CRC));
}

static int write_header(ctrace__session *s, int fd) {
  uint8_t h[CTRACE_FMT_FILE_HEADER_SIZE];
  ctrace__file_header(h, s, 0);
  int r = ctrace__write_all(fd, h, sizeof h);
  if (!r)
    s->bytes_written = sizeof h;
  return r;
}

int ctrace__writer_start(ctrace__session *s) {
  int r = s->fd >= 0 ? write_header(s, s->fd) : 0; /* else: lazy, at the first event */
  if (r)
    return r;

  writer *w = calloc(1, sizeof *w);
  if (!w)
    return -ENOMEM;
  w->s = s;
  if (!(w->cctx = ZSTD_createCCtx())) {
    free(w);
    return -ENOMEM;
  }
  s->stop_req = 0;
  s->flush_req = s->flush_done = 0;
  s->dump_req = s->dump_done = 0;
  s->error = 0;
  r = pthread_create(&s->writer, NULL, writer_main, w);
  if (r) {
    ZSTD_freeCCtx(w->cctx);
    free(w);
    return -r;
  }
  return 0;
}

int ctrace__writer_stop(ctrace__session *s) {
  pthread_mutex_lock(&s->mu);
  s->stop_req = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->writer, NULL); /* it freed itself, closed the file */
  return s->error;
}

int ctrace__writer_flush(ctrace__session *s) {
  pthread_mutex_lock(&s->mu);
  uint64_t want = ++s->flush_req;
  pthread_cond_signal(&s->cv);
  while (s->flush_done < want && !s->stop_req)
    pthread_cond_wait(&s->done_cv, &s->mu);
  int err = s->error;
  pthread_mutex_unlock(&s->mu);
  return err;
}

int ctrace__writer_dump(ctrace__session *s, const char *path, char *chosen, size_t len) {
  pthread_mutex_lock(&s->mu);
  uint64_t want = ++s->dump_req;
  s->dump_path = path;
  s->dump_result = -EINTR; /* (if stopped first) */
  pthread_cond_signal(&s->cv);
  while (s->dump_done < want && !s->stop_req)
    pthread_cond_wait(&s->done_cv, &s->mu);
  int r = s->dump_done >= want ? s->dump_result : CTRACE_ENOTACTIVE;
  if (chosen && len)
    snprintf(chosen, len, "%s", r ? "" : s->dump_chosen);
  pthread_mutex_unlock(&s->mu);
  return r;
}
