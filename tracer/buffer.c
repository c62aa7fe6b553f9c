/* The chunk pool: all event memory of a session, mapped once at start and
 * bounded by the cap ($CTRACE_BUFFER_MB). Threads take chunks and the writer
 * gives them back, both lock-free: untouched chunks are handed out by an
 * atomic bump index, returned ones are kept on a Treiber stack whose head
 * carries a tag against ABA. Returned chunks are reused first (LIFO), so
 * the pages that are touched stay few when the writer keeps up. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "internal.h"

static uint8_t *pool_mem;        /* nchunks * CTRACE__CHUNK_SIZE bytes */
static size_t pool_mem_size;
static ctrace__chunk *chunks;    /* nchunks descriptors */
static size_t nchunks;
static _Atomic size_t bump;      /* chunks [0, bump) have been handed out once */
/* Free stack: low 32 bits = index + 1 of the top chunk (0 = empty), high 32
 * bits = a tag bumped on every pop so a stale CAS fails (ABA). */
static _Atomic uint64_t free_top;

int ctrace__pool_init(size_t cap_bytes) {
  size_t n = cap_bytes / CTRACE__CHUNK_SIZE;
  if (n < 4)
    n = 4;
  if (n > UINT32_MAX - 1)
    return -EINVAL;
  if (pool_mem && n != nchunks) {
    munmap(pool_mem, pool_mem_size);
    free(chunks);
    pool_mem = NULL;
    chunks = NULL;
  }
  if (!pool_mem) {
    size_t size = n * CTRACE__CHUNK_SIZE;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
      return -errno;
    if (posix_memalign((void **)&chunks, 128, n * sizeof *chunks) != 0) {
      munmap(m, size);
      return -ENOMEM;
    }
    pool_mem = m;
    pool_mem_size = size;
    nchunks = n;
  }
  for (size_t i = 0; i < n; i++) {
    atomic_init(&chunks[i].head, 0);
    atomic_init(&chunks[i].free_next, 0);
    atomic_init(&chunks[i].next, NULL);
    chunks[i].base_tick = 0;
    chunks[i].data = pool_mem + i * CTRACE__CHUNK_SIZE;
  }
  atomic_store(&bump, 0);
  atomic_store(&free_top, 0);
  return 0;
}

static void chunk_reset(ctrace__chunk *c) {
  atomic_store_explicit(&c->head, 0, memory_order_relaxed);
  atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
}

ctrace__chunk *ctrace__pool_get(void) {
  uint64_t top = atomic_load_explicit(&free_top, memory_order_acquire);
  while ((uint32_t)top != 0) {
    ctrace__chunk *c = &chunks[(uint32_t)top - 1];
    /* May read a link that is stale because c was popped meanwhile; the tag
     * in `top` makes the CAS below fail in that case. */
    uint32_t next = atomic_load_explicit(&c->free_next, memory_order_relaxed);
    uint64_t want = ((top >> 32) + 1) << 32 | next;
    if (atomic_compare_exchange_weak_explicit(&free_top, &top, want, memory_order_acquire,
                                              memory_order_acquire)) {
      chunk_reset(c);
      return c;
    }
  }
  if (atomic_load_explicit(&bump, memory_order_relaxed) >= nchunks)
    return NULL;
  size_t i = atomic_fetch_add_explicit(&bump, 1, memory_order_relaxed);
  if (i >= nchunks)
    return NULL;
  chunk_reset(&chunks[i]);
  return &chunks[i];
}

void ctrace__pool_put(ctrace__chunk *c) {
  uint32_t idx = (uint32_t)(c - chunks) + 1;
  uint64_t top = atomic_load_explicit(&free_top, memory_order_relaxed);
  do
    atomic_store_explicit(&c->free_next, (uint32_t)top, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&free_top, &top, (top & ~0xffffffffull) | idx,
                                                memory_order_release, memory_order_relaxed));
}

void ctrace__pool_release_memory(void) {
  if (pool_mem)
    madvise(pool_mem, pool_mem_size, MADV_DONTNEED);
}

size_t ctrace__pool_chunks(void) { return nchunks; }
