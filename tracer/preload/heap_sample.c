/* Heap profiles: allocations sampled by bytes, each with its call stack,
 * and the frees of the sampled blocks, so that what is in use is known at
 * every instant (`ctrace pprof --type heap`, `ctrace leaks`).
 *
 * The statistics are Go's runtime's: each thread counts down the bytes
 * asked of the allocator, and the allocation that reaches zero is sampled;
 * the next distance is drawn from an exponential distribution whose mean
 * is the rate (CTRACE_HEAP_RATE, default 512 KiB; 1: every allocation; 0:
 * none), so that an allocation of s bytes is sampled with probability
 * 1 - exp(-s / rate) whatever the others around it, and the tools scale a
 * sample by the inverse of that.
 *
 * A sampled allocation's stack is taken on the spot with libunwind's
 * unw_backtrace (the frames of these wrappers left out), inside the
 * runtime's guard so that whatever libunwind allocates is neither counted
 * nor sampled. Sampled addresses go into a lock-free set, which each free
 * consults (through a one-load filter, inlined in heap.c's free) to record
 * the free of a sampled block: the block is removed before the allocator
 * can hand its address out again. The filter counts the sampled blocks in
 * the set under each of its slots, so a slot is clear again once they are
 * freed: a loop that reuses a sampled block's address (malloc/free of one
 * size) is not left probing the set on every free. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <link.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "preload.h"

#define DEFAULT_RATE (512u << 10)
#define SKIP_MAX 8 /* frames of ours at most, above the allocation's caller */

static uint64_t rate;      /* 0: off */
static int configured;     /* rate read from the environment */
static _Atomic int inited; /* the set is mapped */

/* ---- The set of sampled blocks (addresses, open addressing) ---------------------- */
#define SET_SLOTS (1u << 22)        /* 32 MiB of address space, touched as used */
#define SET_MAX (SET_SLOTS / 4 * 3) /* keep probes short */
#define TOMB 1u                     /* a removed block (no address is 1) */
#define MARK_STUCK 255              /* a filter count that reached it stays */

static _Atomic uintptr_t *set;
static _Atomic uint32_t set_used;
static _Atomic uint64_t untracked; /* samples not taken: the set was full */
_Atomic uint8_t ctrace__preload_heap_marks[PL_HEAP_MARKS];

static inline uint64_t addr_hash(uintptr_t a) {
  uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 31);
}

/* The filter count of a's slot, one up or down; a count that reaches
 * MARK_STUCK stays there (its slot always passes: only slower). */
static void mark_change(uintptr_t a, int up) {
  _Atomic uint8_t *m = &ctrace__preload_heap_marks[pl_heap_mark((const void *)a)];
  uint8_t c = atomic_load_explicit(m, memory_order_relaxed);
  while (c != MARK_STUCK && (up || c != 0) &&
         !atomic_compare_exchange_weak_explicit(m, &c, (uint8_t)(up ? c + 1 : c - 1),
                                                memory_order_release, memory_order_relaxed)) {
  }
}

static int set_insert(uintptr_t a) {
  if (atomic_load_explicit(&set_used, memory_order_relaxed) >= SET_MAX)
    return 0;
  uint64_t h = addr_hash(a);
  for (uint32_t i = (uint32_t)h & (SET_SLOTS - 1), probes = 0; probes < SET_SLOTS;
       i = (i + 1) & (SET_SLOTS - 1), probes++) {
    uintptr_t cur = atomic_load_explicit(&set[i], memory_order_relaxed);
    while (cur == 0 || cur == TOMB) {
      if (atomic_compare_exchange_weak_explicit(&set[i], &cur, a, memory_order_release,
                                                memory_order_relaxed)) {
        if (cur == 0)
          atomic_fetch_add_explicit(&set_used, 1, memory_order_relaxed);
        mark_change(a, 1);
        return 1;
      }
    }
  }
  return 0;
}

/* Removes a, @return 1 if it was a sampled block. */
static int set_remove(uintptr_t a) {
  if (!atomic_load_explicit(&ctrace__preload_heap_marks[pl_heap_mark((const void *)a)],
                            memory_order_acquire))
    return 0;
  uint64_t h = addr_hash(a);
  for (uint32_t i = (uint32_t)h & (SET_SLOTS - 1), probes = 0; probes < SET_SLOTS;
       i = (i + 1) & (SET_SLOTS - 1), probes++) {
    uintptr_t cur = atomic_load_explicit(&set[i], memory_order_acquire);
    if (cur == 0)
      return 0;
    if (cur == a) {
      if (!atomic_compare_exchange_strong_explicit(&set[i], &cur, TOMB, memory_order_relaxed,
                                                   memory_order_relaxed))
        return 0;
      mark_change(a, 0);
      return 1;
    }
  }
  return 0;
}

/* ---- Our own code, left out of the stacks ---------------------------------------------- */
static uintptr_t own_lo, own_hi; /* the executable segment of this library */

static int find_own(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t me = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && me >= lo && me < hi) {
      own_lo = lo;
      own_hi = hi;
      return 1;
    }
  }
  return 0;
}

/* ---- Setup ------------------------------------------------------------------------------- */
static void configure(void) {
  const char *e = getenv("CTRACE_HEAP_RATE");
  char *end = NULL;
  unsigned long long r = DEFAULT_RATE;
  if (e && *e) {
    r = strtoull(e, &end, 10);
    if (*end || e[0] == '-')
      r = DEFAULT_RATE; /* (ctrace run checks the option; a bad variable keeps the default) */
  }
  rate = r;
  configured = 1;
}

static int init_once(void) {
  static _Atomic int busy;
  if (atomic_load_explicit(&inited, memory_order_acquire))
    return 1;
  if (atomic_exchange(&busy, 1))
    return 0; /* another thread is at it: this sample is skipped */
  void *m = mmap(NULL, SET_SLOTS * sizeof *set, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m != MAP_FAILED) {
    set = m;
    dl_iterate_phdr(find_own, (void *)(uintptr_t)&find_own);
    ctrace__heap_sampling(rate, "LD_PRELOAD malloc wrappers; stacks by libunwind's unw_backtrace");
    atomic_store_explicit(&inited, 1, memory_order_release);
  }
  return m != MAP_FAILED;
}

/* ---- Per thread ------------------------------------------------------------------------------ */
typedef struct sample_tls {
  uint64_t rng;
  int seeded;
} sample_tls;

static __thread sample_tls st __attribute__((tls_model("initial-exec")));

static uint64_t next_distance(void) {
  if (rate <= 1)
    return 0;
  st.rng ^= st.rng >> 12; /* xorshift64* */
  st.rng ^= st.rng << 25;
  st.rng ^= st.rng >> 27;
  uint64_t x = st.rng * 0x2545f4914f6cdd1dull;
  double u = ((double)(x >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
  return (uint64_t)(-log(u) * (double)rate);
}

/* The stack of the allocation being sampled, without our frames; the first
 * address is moved inside the call to the allocator. @return the count. */
static unsigned take_stack(uint64_t *pcs) {
  void *raw[CTRACE__STACK_MAX + SKIP_MAX];
  int n = unw_backtrace(raw, (int)(sizeof raw / sizeof *raw));
  int i = 0;
  while (i < n && i < SKIP_MAX && (uintptr_t)raw[i] >= own_lo && (uintptr_t)raw[i] < own_hi)
    i++;
  unsigned k = 0;
  for (; i < n && k < CTRACE__STACK_MAX; i++)
    pcs[k++] = (uint64_t)(uintptr_t)raw[i];
  if (k)
    pcs[0] -= 1;
  return k;
}

_Atomic int ctrace__preload_heap_sampled_any;

int64_t ctrace__preload_heap_sample(void *p, size_t asked) {
  if (!configured)
    configure();
  if (!rate)
    return INT64_MAX;               /* off */
  int due = st.seeded || rate <= 1; /* a thread's first call only draws */
  if (!st.seeded) {
    st.rng = (uint64_t)(uintptr_t)&st ^ pl_now() ^ 0x2545f4914f6cdd1dull;
    st.seeded = 1;
  }
  int64_t next = (int64_t)next_distance();
  if (!due || !init_once())
    return next;
  uint64_t pcs[CTRACE__STACK_MAX];
  ctrace__enter(); /* libunwind's own allocations: neither counted nor sampled */
  unsigned n = take_stack(pcs);
  ctrace__leave(); /* (recording needs it off: a thread's first event sets the thread up) */
  if (!set_insert((uintptr_t)p))
    atomic_fetch_add_explicit(&untracked, 1, memory_order_relaxed);
  else {
    atomic_store_explicit(&ctrace__preload_heap_sampled_any, 1, memory_order_relaxed);
    if (!ctrace__heap_sample(p, asked, pcs, n))
      set_remove((uintptr_t)p);
  }
  return next;
}

void ctrace__preload_heap_freed(void *p) {
  if (set_remove((uintptr_t)p))
    ctrace__heap_free_sample(p);
}
