/* The heap, the GC-like part: malloc & co. keep the process's live heap
 * bytes and the bytes allocated so far, recorded as HEAP events by each
 * thread at most every 100 us (plus when the live size reaches a new peak),
 * so a malloc-heavy program pays little: the counting is thread-local and
 * only a flush touches shared atomics.
 *
 * Sizes are what the allocator really gives (malloc_usable_size), so a free
 * takes back exactly what its malloc added. The starting point is glibc's
 * own count at the first flush (mallinfo2), so blocks allocated before
 * tracing started are part of the live size rather than making it go
 * negative when freed.
 *
 * dlsym itself may allocate while the real functions are being looked up:
 * those few allocations come from a static bootstrap buffer, and are
 * recognised (and ignored) by free and realloc. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static size_t (*real_usable)(void *);

/* ---- Bootstrap ----------------------------------------------------------------------- */
static _Alignas(16) char boot[256 << 10];
static _Atomic size_t boot_used;
static _Atomic int resolving;

static void *boot_alloc(size_t n) {
  size_t need = (n + 16 + 15) & ~(size_t)15; /* a 16-byte header holds the size */
  size_t off = atomic_fetch_add(&boot_used, need);
  if (off + need > sizeof boot)
    return NULL;
  memcpy(boot + off, &n, sizeof n);
  return boot + off + 16;
}

static int in_boot(const void *p) {
  return (const char *)p >= boot && (const char *)p < boot + sizeof boot;
}

/* Looks the real functions up; 0 if this is a recursive call from inside
 * dlsym (the caller then uses the bootstrap buffer). */
static int resolve_all(void) {
  if (real_malloc)
    return 1;
  if (atomic_exchange(&resolving, 1))
    return 0;
  real_calloc = (void *(*)(size_t, size_t))ctrace__preload_resolve("calloc");
  real_realloc = (void *(*)(void *, size_t))ctrace__preload_resolve("realloc");
  real_free = (void (*)(void *))ctrace__preload_resolve("free");
  real_posix_memalign = (int (*)(void **, size_t, size_t))ctrace__preload_resolve("posix_memalign");
  real_aligned_alloc = (void *(*)(size_t, size_t))ctrace__preload_resolve("aligned_alloc");
  real_memalign = (void *(*)(size_t, size_t))ctrace__preload_resolve("memalign");
  real_usable = (size_t(*)(void *))ctrace__preload_resolve("malloc_usable_size");
  void *m = ctrace__preload_resolve("malloc");
  __atomic_store_n(&real_malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
  atomic_store(&resolving, 0);
  return 1;
}

void ctrace__preload_heap_resolve(void) { resolve_all(); }

/* ---- Accounting ---------------------------------------------------------------------- */
typedef struct heap_tls {
  int64_t delta;      /* live bytes changed by this thread, not yet flushed */
  uint64_t allocated; /* bytes allocated by this thread, not yet flushed */
  uint32_t calls;
  uint64_t last;       /* tick of this thread's last HEAP event */
  uint64_t unreported; /* bytes allocated by this thread since its last HEAP event */
  int64_t sample_left; /* bytes asked until the next heap-profile sample */
} heap_tls;

static __thread heap_tls hs __attribute__((tls_model("initial-exec")));
static _Atomic int64_t g_live;
static _Atomic uint64_t g_allocated;
static _Atomic int64_t g_peak = INT64_MIN;
static _Atomic uint32_t g_base_gen; /* the session whose starting point g_live has */

#define FLUSH_BYTES (256 << 10) /* check the clock past this much change */
#define PEAK_BYTES (1 << 20)    /* flush (and maybe record a peak) past this */

static void heap_flush(void) {
  uint64_t now = pl_now();
  uint64_t period = ctrace__ticks_per_sec() / 10000; /* 100 us */
  int due = now - hs.last >= period;
  if (!due && hs.delta < PEAK_BYTES && hs.delta > -PEAK_BYTES)
    return;
  /* The first flush of each session takes the starting point (a session
   * started on demand, by the control socket, follows others: what was
   * allocated and freed in between was not counted). */
  uint32_t gen = ctrace__session_gen(), seen = atomic_load(&g_base_gen);
  if (seen != gen && atomic_compare_exchange_strong(&g_base_gen, &seen, gen)) {
    ctrace__enter(); /* mallinfo2 may take arena locks; never record it */
    struct mallinfo2 mi = mallinfo2();
    ctrace__leave();
    /* What this thread counted already is in mallinfo's figure too. */
    atomic_fetch_add(&g_live, (int64_t)(mi.uordblks + mi.hblkhd) - hs.delta - atomic_load(&g_live));
    atomic_store(&g_allocated, 0);
    atomic_store(&g_peak, INT64_MIN);
  }
  int64_t live = atomic_fetch_add(&g_live, hs.delta) + hs.delta;
  uint64_t allocated = atomic_fetch_add(&g_allocated, hs.allocated) + hs.allocated;
  hs.unreported += hs.allocated;
  hs.delta = 0;
  hs.allocated = 0;
  int peak = 0;
  int64_t pk = atomic_load_explicit(&g_peak, memory_order_relaxed);
  while (live > pk)
    if (atomic_compare_exchange_weak(&g_peak, &pk, live)) {
      peak = 1;
      break;
    }
  if (due || peak) {
    ctrace__heap(live, allocated, peak, hs.unreported);
    hs.unreported = 0;
    hs.last = now;
  }
}

static inline int heap_on(void) { return pl_on(PL_HEAP); }

/* A thread that ends hands its unflushed change over (threads.c). */
void ctrace__preload_heap_thread_end(void) {
  if (heap_on() && (hs.delta || hs.allocated)) {
    hs.last = 0; /* due */
    heap_flush();
  }
}

static inline void account(int64_t delta, uint64_t allocated) {
  hs.delta += delta;
  hs.allocated += allocated;
  if ((++hs.calls & 63) == 0 || hs.delta >= FLUSH_BYTES || hs.delta <= -FLUSH_BYTES)
    heap_flush();
}

static inline void on_alloc(void *p, size_t asked) {
  if (p && heap_on()) {
    size_t n = real_usable(p);
    account((int64_t)n, n);
    if (CTRACE__UNLIKELY((hs.sample_left -= (int64_t)asked) < 0))
      hs.sample_left = ctrace__preload_heap_sample(p, asked);
  }
}

/* A block leaves: its free is recorded if it was sampled. */
static inline void on_free(void *p) {
  if (CTRACE__UNLIKELY(pl_heap_maybe_sampled(p)))
    ctrace__preload_heap_freed(p);
}

/* ---- The wrappers ------------------------------------------------------------------------ */
void *malloc(size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all())
    return boot_alloc(n);
  void *p = real_malloc(n);
  on_alloc(p, n);
  return p;
}

void *calloc(size_t k, size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all()) {
    if (n && k > SIZE_MAX / n)
      return NULL;
    return boot_alloc(k * n); /* static memory is zero */
  }
  void *p = real_calloc(k, n);
  on_alloc(p, k * n);
  return p;
}

void free(void *p) {
  if (!p || in_boot(p))
    return;
  if (CTRACE__UNLIKELY(!real_malloc) && (!resolve_all() || !real_free))
    return; /* freed during the lookup itself: leaked, harmlessly */
  if (heap_on())
    account(-(int64_t)real_usable(p), 0);
  on_free(p);
  real_free(p);
}

void *realloc(void *p, size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all())
    return boot_alloc(n); /* only during the lookup itself */
  if (p && in_boot(p)) {  /* moving out of the bootstrap buffer */
    size_t old;
    memcpy(&old, (char *)p - 16, sizeof old);
    void *q = malloc(n);
    if (q)
      memcpy(q, p, old < n ? old : n);
    return q;
  }
  int on = heap_on();
  size_t before = p && on ? real_usable(p) : 0;
  void *q = real_realloc(p, n);
  if (on && (q || n == 0)) {
    size_t after = q ? real_usable(q) : 0;
    account((int64_t)after - (int64_t)before, after > before ? after - before : 0);
  }
  /* For the heap profile, a block that moved or grew is a free of the old
   * one and an allocation of n bytes. */
  if (p && (q || n == 0))
    on_free(p);
  if (q && on && CTRACE__UNLIKELY((hs.sample_left -= (int64_t)n) < 0))
    hs.sample_left = ctrace__preload_heap_sample(q, n);
  return q;
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all())
    return ENOMEM;
  int r = real_posix_memalign(out, align, n);
  if (r == 0)
    on_alloc(*out, n);
  return r;
}

void *aligned_alloc(size_t align, size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all())
    return NULL;
  void *p = real_aligned_alloc(align, n);
  on_alloc(p, n);
  return p;
}

void *memalign(size_t align, size_t n) {
  if (CTRACE__UNLIKELY(!real_malloc) && !resolve_all())
    return NULL;
  void *p = real_memalign(align, n);
  on_alloc(p, n);
  return p;
}
