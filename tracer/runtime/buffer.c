/* The chunk pool: all event memory of a session, mapped once at start and
 * bounded by the cap ($CTRACE_BUFFER_MB). Threads take chunks and the writer
 * gives them back, both lock-free: untouched chunks are handed out by an
 * atomic bump index, returned ones are kept on an index stack (internal.h). Returned chunks are reused first (LIFO), so
 * the pages that are touched stay few when the writer keeps up. */
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>

#include "internal.h"

static uint8_t *pool_mem; /* nchunks * CTRACE__CHUNK_SIZE bytes */
static size_t pool_mem_size;
static ctrace__chunk *chunks; /* nchunks descriptors */
static size_t nchunks;
static _Atomic size_t bump; /* chunks [0, bump) have been handed out once */
static ctrace__istack free_chunks;

/* Descriptors and memory are both mapped untouched (zero pages): a
 * descriptor is set up when its chunk is first handed out, so starting a
 * session costs no page faults for chunks it never uses (each fault is
 * several microseconds on a VM; 2048 descriptors were 64 pages). */
int ctrace__pool_init(size_t cap_bytes) {
  size_t n = cap_bytes / CTRACE__CHUNK_SIZE;
  if (n < 4)
    n = 4;
  if (n > UINT32_MAX - 1)
    return -EINVAL;
  if (pool_mem && n != nchunks) {
    munmap(pool_mem, pool_mem_size);
    munmap(chunks, nchunks * sizeof *chunks);
    pool_mem = NULL;
    chunks = NULL;
  }
  if (!pool_mem) {
    size_t size = n * CTRACE__CHUNK_SIZE;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (m == MAP_FAILED)
      return -errno;
    void *d = mmap(NULL, n * sizeof *chunks, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (d == MAP_FAILED) {
      munmap(m, size);
      return -ENOMEM;
    }
    pool_mem = m;
    pool_mem_size = size;
    chunks = d;
    nchunks = n;
  }
  atomic_store(&bump, 0);
  atomic_store(&free_chunks.top, 0);
  free_chunks.base = (char *)chunks;
  free_chunks.stride = sizeof *chunks;
  free_chunks.link = offsetof(ctrace__chunk, free_next);
  return 0;
}

static void chunk_reset(ctrace__chunk *c) {
  atomic_store_explicit(&c->head, 0, memory_order_relaxed);
  atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
}

ctrace__chunk *ctrace__pool_get(void) {
  uint32_t f = ctrace__istack_pop(&free_chunks);
  if (f != UINT32_MAX) {
    chunk_reset(&chunks[f]);
    return &chunks[f];
  }
  if (atomic_load_explicit(&bump, memory_order_relaxed) >= nchunks)
    return NULL;
  size_t i = atomic_fetch_add_explicit(&bump, 1, memory_order_relaxed);
  if (i >= nchunks)
    return NULL;
  chunk_reset(&chunks[i]); /* (a descriptor of an earlier session's) */
  chunks[i].base_tick = 0;
  chunks[i].data = pool_mem + i * CTRACE__CHUNK_SIZE;
  return &chunks[i];
}

void ctrace__pool_put(ctrace__chunk *c) {
  ctrace__istack_push(&free_chunks, (uint32_t)(c - chunks));
}

void ctrace__pool_release_memory(void) {
  if (pool_mem)
    madvise(pool_mem, pool_mem_size, MADV_DONTNEED);
}

size_t ctrace__pool_chunks(void) { return nchunks; }
