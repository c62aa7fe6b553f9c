/* Call sites and interned strings: what events refer to by small ids.
 *
 * Sites are the static ctrace_site structs of the macros; the first use
 * gives one an id (a CAS on site->id, so racing threads agree) and pushes it
 * on a list the writer walks to write DEF_SITE records. Names built at run
 * time (ctrace_region_begin_dyn, task names, log categories) are copied once
 * into a lock-free open-addressing table backed by a bump arena; both are
 * mapped lazily and never freed, so ids stay valid across sessions.
 *
 * Readers tolerate a DEF that follows its first use (a thread that lost the
 * id race may record before the winner has pushed the site). */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

/* ---- Sites ---------------------------------------------------------------------- */
static _Atomic uint32_t next_site_id = 1;
static _Atomic(ctrace_site *) sites_head;

uint32_t ctrace__site_register(ctrace_site *site) {
  uint32_t id = __atomic_load_n(&site->id, __ATOMIC_ACQUIRE);
  if (id)
    return id;
  uint32_t mine = atomic_fetch_add_explicit(&next_site_id, 1, memory_order_relaxed);
  uint32_t expected = 0;
  if (!__atomic_compare_exchange_n(&site->id, &expected, mine, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE))
    return expected; /* another thread registered it first */
  ctrace_site *head = atomic_load_explicit(&sites_head, memory_order_relaxed);
  do
    site->next = head;
  while (!atomic_compare_exchange_weak_explicit(&sites_head, &head, site, memory_order_release,
                                                memory_order_relaxed));
  return mine;
}

ctrace_site *ctrace__sites_head(void) {
  return atomic_load_explicit(&sites_head, memory_order_acquire);
}

/* ---- Interned strings ------------------------------------------------------------- */
#define INTERN_SLOTS (1u << 18)            /* table capacity (power of two) */
#define INTERN_MAX_USED (INTERN_SLOTS / 2) /* keep probes short */
#define INTERN_ARENA (32u << 20)           /* bytes for entries */

static _Atomic(ctrace__string *) *slots; /* INTERN_SLOTS entries, lazily mapped */
static uint8_t *arena;
static _Atomic size_t arena_used;
static _Atomic uint32_t strings_used;
static _Atomic uint32_t next_string_id = 1;
static _Atomic(ctrace__string *) strings_head;
static pthread_once_t intern_once = PTHREAD_ONCE_INIT;

static void intern_map(void) {
  void *s = mmap(NULL, INTERN_SLOTS * sizeof *slots, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void *a = mmap(NULL, INTERN_ARENA, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (s == MAP_FAILED || a == MAP_FAILED) {
    if (s != MAP_FAILED)
      munmap(s, INTERN_SLOTS * sizeof *slots);
    if (a != MAP_FAILED)
      munmap(a, INTERN_ARENA);
    return; /* slots stays NULL: interning fails, events are counted as dropped */
  }
  arena = a;
  slots = s; /* published by pthread_once */
}

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = ctrace__fnv1a(s, n, n);
  return h ^ (h >> 29);
}

static ctrace__string *arena_alloc(size_t len) {
  size_t need = (sizeof(ctrace__string) + len + 1 + 7) & ~(size_t)7;
  size_t off = atomic_fetch_add_explicit(&arena_used, need, memory_order_relaxed);
  if (off + need > INTERN_ARENA)
    return NULL;
  return (ctrace__string *)(arena + off);
}

uint32_t ctrace__intern(const char *s, size_t len) {
  if (len > CTRACE__INTERN_MAX)
    len = CTRACE__INTERN_MAX;
  pthread_once(&intern_once, intern_map);
  if (!slots)
    return 0;
  uint64_t h = hash_bytes(s, len);
  ctrace__string *mine = NULL;
  for (uint32_t i = (uint32_t)h & (INTERN_SLOTS - 1), probes = 0; probes < INTERN_SLOTS;
       i = (i + 1) & (INTERN_SLOTS - 1), probes++) {
    ctrace__string *e = atomic_load_explicit(&slots[i], memory_order_acquire);
    if (!e) {
      if (!mine) {
        if (atomic_load_explicit(&strings_used, memory_order_relaxed) >= INTERN_MAX_USED)
          return 0;
        if (!(mine = arena_alloc(len)))
          return 0;
        mine->len = (uint32_t)len;
        mine->hash = h;
        memcpy(mine->text, s, len);
        mine->text[len] = '\0';
        /* The id is taken before publishing, so readers of the slot see it;
         * an entry that loses every race leaves a gap in the ids. */
        mine->id = atomic_fetch_add_explicit(&next_string_id, 1, memory_order_relaxed);
      }
      ctrace__string *expected = NULL;
      if (atomic_compare_exchange_strong_explicit(&slots[i], &expected, mine, memory_order_acq_rel,
                                                  memory_order_acquire)) {
        atomic_fetch_add_explicit(&strings_used, 1, memory_order_relaxed);
        ctrace__string *head = atomic_load_explicit(&strings_head, memory_order_relaxed);
        do
          mine->next = head;
        while (!atomic_compare_exchange_weak_explicit(&strings_head, &head, mine,
                                                      memory_order_release, memory_order_relaxed));
        return mine->id;
      }
      e = expected; /* lost the slot: compare with the winner */
    }
    if (e->hash == h && e->len == len && memcmp(e->text, s, len) == 0)
      return e->id; /* `mine`, if allocated, stays unused in the arena */
  }
  return 0;
}

ctrace__string *ctrace__strings_head(void) {
  return atomic_load_explicit(&strings_head, memory_order_acquire);
}
