/* This file is private to the scale index (scale_build.c, scale_file.c,
 * scale_query.c, scale_counter*.c): its layout in memory, which is also its layout in the
 * index file (TRACE.idx, docs/format.md "The index file"): every array
 * below is a run of the file, memory-mapped once built. */
#ifndef CTRACE_VIEWER_SCALE_INTERNAL_H
#define CTRACE_VIEWER_SCALE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"
#include "read.h"

#define VS_MAX_LEVELS 32
#define VS_MAX_DEPTH 256         /* deeper regions are summarised at this depth */
#define VS_LANE_INSTANTS 0xffffu /* vs_lane.depth of a thread's instants */
#define VS_LANE_STATES 0xfffeu   /* ... of its scheduler states (FILE.kernel's) */
#define VS_BUCKETS_SHIFT 20      /* level 0 has at most ~2^20 buckets over the span */
/* A lane's level 0 is made 4 times coarser while it has more than
 * VS_LANE_MIN buckets (CTRACE_SCALE_LANE_MIN, for tests) and fewer than
 * VS_LANE_RATIO items a bucket: the file stays small with many threads,
 * and a window decoded holds at most about VS_LANE_RATIO items a pixel. */
#define VS_LANE_MIN 65536
#define VS_LANE_RATIO 16

/* A label: the begin event's type (REGION_BEGIN: a site id; REGION_BEGIN_STR:
 * a string id; GC_BEGIN: a phase kind; INSTANT: a site id) and its id. */
#define VS_KEY_IDS 0x3ffffffu /* ids past 2^26 - 1 share that one ("?") */
#define VS_KEY(type, id) \
  ((uint32_t)(type) << 26 | (uint32_t)((id) < VS_KEY_IDS ? (id) : VS_KEY_IDS))
#define VS_KEY_TYPE(k) ((unsigned)((k) >> 26))
/* A state's label: VS_KEY(VS_KEY_STATE, VX_ST_* | (cpu + 1) << 3) (cpu + 1:
 * 0 when not known). */
#define VS_KEY_STATE 62u
#define VS_KEY_ID(k) ((k)&VS_KEY_IDS)

/* One bucket of a level: how many items start in it, and the longest. */
typedef struct vs_entry {
  uint64_t start, dur;
  uint32_t key;
  uint32_t count; /* (saturates) */
} vs_entry;

typedef struct vs_level {
  uint64_t off; /* in the file (entries) */
  uint64_t n;
  const vs_entry *e;
} vs_level;

/* One lane: a thread's regions at one depth, or its instants. */
typedef struct vs_lane {
  uint32_t thread; /* index in vs_index.threads */
  uint32_t depth;  /* VS_LANE_INSTANTS: instants */
  uint64_t items;
  uint32_t nlevels;
  uint32_t shift; /* level k: buckets of 2^(shift + 2k) ns */
  vs_level lv[VS_MAX_LEVELS];
} vs_lane;

/* A raw event replayed before a batch's first event (the regions open
 * when it begins, outermost first). */
typedef struct vs_pre {
  uint64_t ts, tick, arg0;
  uint32_t type, pad;
} vs_pre;

typedef struct vs_batch {
  uint64_t first, last; /* ns of its first and last events (0, 0: none) */
  uint64_t events;
  uint64_t pre; /* first vs_pre of its snapshot, in the thread's */
  uint32_t npre, pad;
} vs_batch;

typedef struct vs_thread {
  uint32_t rd; /* rd_thread_get index */
  int32_t tid;
  uint32_t serial, kernel;
  uint64_t events, first; /* first: its first event's ns */
  uint64_t nbatches, batches_off;
  uint64_t npre, pre_off;
  uint32_t lane0, nlanes; /* its lanes, depth order, instants last */
  uint32_t maxdepth;
  uint32_t shift_min;      /* its lanes' finest shift: windows of finer pixels are decoded */
  char name[64];           /* its last THREAD_NAME ("": the name it first recorded with) */
  const vs_batch *batches; /* (pointers: set when mapped; garbage in the file) */
  const vs_pre *pre;
  vs_lane *lanes_tmp; /* while building */
} vs_thread;

/* ---- Counters (scale_counter.c): per counter (a name, as the full index
 * keys them in a process: COUNTER sites of that name, or one of the heap
 * series) a pyramid of time buckets over its samples from every thread,
 * on the grid of 4^k ns from 0 (level 0: 2^shift ns, shift even), each
 * bucket its samples' first and last times, count, min, max and the value
 * of its last (in the order the full index reads them: time, then thread,
 * then recording order). */
enum { VS_CK_SITE, VS_CK_HEAP_LIVE, VS_CK_HEAP_ALLOC, VS_CK_SET_LIVE, VS_CK_SET_GOAL };
/* A thread's parts, in the pass, are made coarser past this many buckets
 * in all (48 MiB), each down to VS_CPART_MIN buckets. */
#define VS_CTHREAD_BUCKETS (1u << 20)
#define VS_CPART_MIN 256

typedef struct vs_cbucket {
  uint64_t first, last; /* ns of its first and last samples */
  uint64_t count;
  double min, max, value; /* value: its last sample's */
} vs_cbucket;

typedef struct vs_clevel {
  uint64_t off; /* in the file (buckets) */
  uint64_t n;
  const vs_cbucket *b;
} vs_clevel;

/* One thread's samples of one kind (and site): its level 0 as the pass
 * made it (off: in vs_out.scratch, gone once the counters are built). */
typedef struct vs_cpart {
  uint32_t thread, kind; /* VS_CK_* */
  uint64_t site;         /* VS_CK_SITE: the COUNTER events' site id */
  uint64_t off, n, items;
  uint32_t shift, counter; /* counter: its index in vs_index.counters */
} vs_cpart;

typedef struct vs_counter {
  char name[256];
  uint64_t samples;
  double min, max;
  uint32_t part0, nparts;  /* its parts, in thread order */
  uint32_t nlevels, shift; /* level k: buckets of 2^(shift + 2k) ns */
  vs_clevel lv[VS_MAX_LEVELS];
} vs_counter;

/* A sample an event gives: of kind (and site), value. */
typedef struct vs_csample_of {
  uint32_t kind;
  uint64_t site;
  double value;
} vs_csample_of;

/* A thread's counters while the pass reads it (scale_counter.c). */
typedef struct vs_cthread vs_cthread;

struct vs_index {
  rd_trace *tr;         /* the trace, for names and for decoding windows */
  pthread_mutex_t lock; /* rd_site_get / rd_string and the shared decoder */
  char *path, *idx_path;
  char *kernel;          /* FILE.kernel beside the trace, read for the states (or NULL) */
  char kernel_note[512]; /* why its states are not shown, when they are not ("") */
  uint64_t t0, t1, events;
  unsigned shift0;
  vs_thread *threads;
  size_t nthreads;
  vs_lane *lanes;
  size_t nlanes;
  void *map; /* the index file, mapped */
  size_t map_len;
  vs_counter *counters;
  size_t ncounters;
  vs_cpart *cparts; /* (while building: appended by the workers under vs_out.lock) */
  size_t ncparts, cap_cparts;
  int reused;           /* 1: read from an index file made before */
  struct vs_live *live; /* a trace being written, indexed in memory as it grows (scale_live.c) */
  char why[1024];       /* why it was (re)built: "none", "stale: ...", "corrupt: ..." */
};

/* The first of thread t's batches that ends at or after ns (t->nbatches:
 * none): where decoding a window that starts at ns begins. */
static inline size_t vs__first_batch(const vs_thread *t, uint64_t ns) {
  size_t lo = 0, hi = t->nbatches;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->batches[mid].last < ns)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* scale_query.c: thread t's regions and instants from its batches that
 * [t0, t_stop] touches, with the regions open at the first replayed; fn
 * gets each region as it ends (depth, start, dur, key; merged 1) and each
 * instant (depth VS_LANE_INSTANTS), then those still open when decoding
 * stopped (open 1): to open_end if an event past t_stop was met, else to
 * the thread's last event. fn returns nonzero to stop. @return 0 or
 * CTRACE_E*. */
int vs__decode(vs_index *x, const vs_thread *t, uint64_t t0, uint64_t t_stop, uint64_t open_end,
               int (*fn)(void *arg, const vs_item *it), void *arg);

/* scale_build.c: one thread's pass, event by event, in recording order.
 * The file's pass runs it from the thread's first event to its last; a
 * live index (scale_live.c) keeps it between updates and feeds it what was
 * appended. */
typedef struct vs_grow_lvl { /* a lane's level 0 as it is made */
  vs_entry *e;
  size_t n, cap;
  unsigned shift; /* of its buckets (0 until its first item: then shift0) */
  uint64_t items;
} vs_grow_lvl;

typedef struct vs_open_reg {
  uint64_t start;
  uint32_t key;
  vs_pre ev;
} vs_open_reg;

typedef struct vs_pass {
  vs_index *x;
  struct vs_out *out;
  vs_thread *th;
  unsigned shift0;
  size_t lane_min; /* VS_LANE_MIN (SIZE_MAX: never made coarser in place) */
  int live;        /* batches come as they are appended: p->b grows */
  vs_open_reg *stack;
  size_t depth, cap;
  vs_pre last_switch;
  int have_switch;
  vs_grow_lvl *lanes; /* per depth; the instants' at VS_MAX_DEPTH */
  size_t nlanes;
  vs_batch *b;
  size_t nb, cap_b; /* (live: batches met so far) */
  size_t cur;       /* the batch of the last event (SIZE_MAX: none yet) */
  vs_pre *pre;
  size_t npre, cap_pre;
  uint64_t last_ts;
  vs_cthread *ct; /* its counters (scale_counter.c; not in a live index) */
  int err;
} vs_pass;

/* One event of batch bi of p's thread. */
void vs__pass_next(vs_pass *p, size_t bi, const rd_event *ev);
/* Frees what p holds (not p). */
void vs__pass_free(vs_pass *p);
/* Buckets of e[0..n) at a shift 2 more, merged in place: each of 4.
 * @return the new n. */
size_t vs__merge_level(vs_entry *e, size_t n, unsigned shift);
/* vs_compute_stats with another decoder of each selected thread's window
 * (vs__decode's contract, with its own state `self`): scale_analyses.c's,
 * which gathers the rest of ctrace stats in the same pass. */
typedef struct vs__decoder {
  int (*decode)(void *self, vs_index *x, size_t thread, uint64_t t0, uint64_t t_stop,
                uint64_t open_end, int (*fn)(void *arg, const vs_item *it), void *arg);
  void *self;
} vs__decoder;
int vs__compute_stats_with(vs_index *x, uint64_t w0, uint64_t w1, const char *thread,
                           const vs__decoder *dec, vs_stats *out, char *err, size_t errlen);

/* The index file being written: arrays are appended (8-byte aligned) by
 * both workers; the header goes at offset 0 last. */
typedef struct vs_out {
  int fd;
  uint64_t off;
  pthread_mutex_t lock;
  int err;
  struct vs_out
      *scratch; /* the counters' parts until merged (a file already deleted; NULL: here) */
} vs_out;
/* Appends n bytes. @return their offset (errors: out->err set). */
uint64_t vs__append(vs_out *out, const void *p, size_t n);

/* scale_build.c: level 0 e[0..n) of buckets of 2^shift ns and the levels
 * above it (each merged in place into e), appended to out, into lane's
 * levels and shift. Stops at one bucket. @return the number of levels. */
uint32_t vs__write_levels(vs_out *out, vs_entry *e, size_t n, unsigned shift, vs_lane *lane);
/* scale_kernel.c: the threads' scheduler states from FILE.kernel (x->kernel),
 * a lane of depth VS_LANE_STATES per thread that has any (every state its
 * own entry at level 0), appended to out and to the threads' lanes_tmp
 * (after vs__build's workers, before their lanes are gathered).
 * @return 0 or CTRACE_E* with err. */
int vs__states(vs_index *x, vs_out *out, char *err, size_t errlen);

/* scale_build.c: the pass over the trace: fills threads (their batches,
 * snapshots and lanes appended to out), lanes, t0, t1, events, shift0.
 * @return 0 or CTRACE_E*. */
int vs__build(vs_index *x, vs_out *out, vs_progress progress, void *arg);
/* scale_counter.c: the samples ev gives (COUNTER: 1, HEAP and HEAP_SET:
 * 2, others 0) into out. */
size_t vs__csamples_of(const rd_event *ev, vs_csample_of out[2]);
/* The pass: ev (any event; the thread's events-th) into the thread's
 * counters (*ct made at its first sample), level 0 at 2^(shift0 rounded up
 * to even) ns, coarser while it has more than lane_min buckets and the
 * thread fewer than VS_LANE_RATIO events a bucket (a window finer than
 * level 0 decodes the thread's events: at most about that many a pixel).
 * @return 0 or CTRACE_ENOMEM. */
int vs__counter_event(vs_cthread **ct, const rd_event *ev, unsigned shift0, size_t lane_min,
                      uint64_t events);
/* Thread ti read (err: 0, or why it failed): its parts appended to
 * out->scratch and x->cparts unless err; ct freed (NULL accepted). @return err or
 * CTRACE_E*. */
int vs__counter_thread_end(vs_index *x, vs_out *out, size_t ti, vs_cthread *ct, int err);
/* After every thread: the parts grouped into counters by name, each
 * counter's levels appended, x->counters filled. @return 0 or CTRACE_E*. */
int vs__counter_build(vs_index *x, vs_out *out);
/* The samples of counter c in [a, b] decoded from its threads' batches,
 * in the full index's order, each to fn. @return 0 or CTRACE_E*. */
int vs__counter_decode(vs_index *x, const vs_counter *c, uint64_t a, uint64_t b,
                       void (*fn)(void *arg, uint64_t ts, double v), void *arg);

/* scale_file.c: maps an index file and checks it against the trace.
 * @return 0, or -1 with why ("stale: the trace grew", "corrupt: ..."). */
#define VS_LOAD_UNCHECKED 0x1 /* (fuzzing: neither the trace's identity nor the hash) */
int vs__load(vs_index *x, const char *path, unsigned flags, char *why, size_t whylen);
void vs__unmap(vs_index *x); /* (and frees the tables) */
/* Builds and writes the index file at path (a temporary file renamed),
 * then maps it. @return 0 or a negative CTRACE_E* or -errno, with err. */
int vs__make(vs_index *x, const char *path, vs_progress progress, void *arg, char *err,
             size_t errlen);

/* scale_live.c: a live index's regions still open on thread i, as a
 * window shows them (open 1, to the trace's end so far), outermost first.
 * @return how many (at most cap). */
size_t vs__live_open(const vs_index *x, size_t thread, vs_item *out, size_t cap);
void vs__live_free(vs_index *x); /* (its passes and levels; the tables are vs__unmap's) */

#endif /* CTRACE_VIEWER_SCALE_INTERNAL_H */
