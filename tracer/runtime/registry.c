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

/* ---- Interned strings and call stacks ------------------------------------------ */
/* One lock-free open-addressing table of byte strings, backed by a bump
 * arena, both mapped on first use. Strings and the heap samples' call
 * stacks (arrays of addresses) each have one. */
typedef struct intern_table {
  uint32_t slots_n;   /* capacity (a power of two) */
  size_t arena_bytes; /* bytes for entries */
  uint32_t max_len;   /* longer inputs are cut */
  _Atomic(ctrace__string *) *slots;
  uint8_t *arena;
  _Atomic size_t arena_used;
  _Atomic uint32_t used;
  _Atomic uint32_t next_id;
  _Atomic(ctrace__string *) head;
  pthread_once_t once;
} intern_table;

static intern_table strings = {1u << 18, 32u << 20, CTRACE__INTERN_MAX, .next_id = 1,
                               .once = PTHREAD_ONCE_INIT};
static intern_table stacks = {1u << 16, 16u << 20, CTRACE__STACK_MAX * 8, .next_id = 1,
                              .once = PTHREAD_ONCE_INIT};

static void table_map(intern_table *t) {
  size_t slots_bytes = t->slots_n * sizeof *t->slots;
  void *s = mmap(NULL, slots_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void *a = mmap(NULL, t->arena_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (s == MAP_FAILED || a == MAP_FAILED) {
    if (s != MAP_FAILED)
      munmap(s, slots_bytes);
    if (a != MAP_FAILED)
      munmap(a, t->arena_bytes);
    return; /* slots stays NULL: interning fails, events are counted as dropped */
  }
  t->arena = a;
  t->slots = s; /* published by pthread_once */
}

static void strings_map(void) { table_map(&strings); }
static void stacks_map(void) { table_map(&stacks); }

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = ctrace__fnv1a(s, n, n);
  return h ^ (h >> 29);
}

static ctrace__string *arena_alloc(intern_table *t, size_t len) {
  size_t need = (sizeof(ctrace__string) + len + 1 + 7) & ~(size_t)7;
  size_t off = atomic_fetch_add_explicit(&t->arena_used, need, memory_order_relaxed);
  if (off + need > t->arena_bytes)
    return NULL;
  return (ctrace__string *)(t->arena + off);
}

static ctrace__string *entry_new(intern_table *t, const char *s, size_t len, uint64_t h) {
  if (atomic_load_explicit(&t->used, memory_order_relaxed) >= t->slots_n / 2)
    return NULL; /* keep probes short */
  ctrace__string *e = arena_alloc(t, len);
  if (!e)
    return NULL;
  e->len = (uint32_t)len;
  e->hash = h;
  memcpy(e->text, s, len);
  e->text[len] = '\0';
  /* The id is taken before publishing, so readers of the slot see it; an
   * entry that loses every race leaves a gap in the ids. */
  e->id = atomic_fetch_add_explicit(&t->next_id, 1, memory_order_relaxed);
  return e;
}

static void list_push(intern_table *t, ctrace__string *e) {
  atomic_fetch_add_explicit(&t->used, 1, memory_order_relaxed);
  ctrace__string *head = atomic_load_explicit(&t->head, memory_order_relaxed);
  do
    e->next = head;
  while (!atomic_compare_exchange_weak_explicit(&t->head, &head, e, memory_order_release,
                                                memory_order_relaxed));
}

static uint32_t table_intern(intern_table *t, void (*map)(void), const char *s, size_t len) {
  if (len > t->max_len)
    len = t->max_len;
  pthread_once(&t->once, map);
  if (!t->slots)
    return 0;
  uint64_t h = hash_bytes(s, len);
  uint32_t mask = t->slots_n - 1;
  ctrace__string *mine = NULL;
  for (uint32_t i = (uint32_t)h & mask, probes = 0; probes < t->slots_n;
       i = (i + 1) & mask, probes++) {
    ctrace__string *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
    if (!e) {
      if (!mine && !(mine = entry_new(t, s, len, h)))
        return 0;
      ctrace__string *expected = NULL;
      if (atomic_compare_exchange_strong_explicit(&t->slots[i], &expected, mine,
                                                  memory_order_acq_rel, memory_order_acquire)) {
        list_push(t, mine);
        return mine->id;
      }
      e = expected; /* lost the slot: compare with the winner */
    }
    if (e->hash == h && e->len == len && memcmp(e->text, s, len) == 0)
      return e->id; /* `mine`, if allocated, stays unused in the arena */
  }
  return 0;
}

uint32_t ctrace__intern(const char *s, size_t len) {
  return table_intern(&strings, strings_map, s, len);
}

ctrace__string *ctrace__strings_head(void) {
  return atomic_load_explicit(&strings.head, memory_order_acquire);
}

uint32_t ctrace__stack_intern(const uint64_t *pcs, unsigned n) {
  if (n == 0)
    return 0;
  return table_intern(&stacks, stacks_map, (const char *)pcs, (size_t)n * sizeof *pcs);
}

ctrace__string *ctrace__stacks_head(void) {
  return atomic_load_explicit(&stacks.head, memory_order_acquire);
}
