/* Per-thread state: registration on a thread's first event, the slow path
 * that moves a thread to a new chunk (or drops and counts the event), and
 * the exit destructor that hands the last chunk to the writer. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

ctrace__thread ctrace__no_thread; /* limit 0: every event takes the slow path */
__thread ctrace__tls_block ctrace__tls __attribute__((
    tls_model("initial-exec"), visibility("default"))) = {&ctrace__no_thread, 0, 0, 0, NULL, 0};
_Atomic(ctrace__thread *) ctrace__threads;

static _Atomic uint32_t next_serial = 1;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_err;

static void thread_exit(void *arg) {
  ctrace__thread *t = arg;
  ctrace__tls.thread = &ctrace__no_thread; /* a later destructor that records re-registers */
  ctrace__flight_thread_exit();            /* its signal stack, if flight.c gave it one */
  /* Its name now (pthread_setname_np may have come from another thread):
   * the writer defines the thread again if it changed. */
  char name[sizeof t->name] = {0};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strcmp(name, t->name) != 0) {
    memcpy(t->name, name, sizeof name);
    t->renamed = 1;
  }
  /* Everything this thread published (head, next) happens-before the
   * writer's acquire load of `exited`, so the writer may finish the chunk
   * and free the struct. */
  atomic_store_explicit(&t->exited, 1, memory_order_release);
}

/* Thread states live in one mapping made at the first ctrace_start(), so
 * that registering a thread never calls malloc: the first event of a thread
 * may come from a signal handler (or, with the preload wrappers, from inside
 * malloc). Free slots are an index stack (internal.h), as in buffer.c. */
#define THREAD_SLOTS (1u << 16) /* threads with state at once */
static ctrace__thread *slots;
static _Atomic uint32_t slots_bump;
static ctrace__istack slots_free = {0, NULL, sizeof(ctrace__thread),
                                    offsetof(ctrace__thread, free_next)};

static void exit_key_create(void) {
  exit_key_err = pthread_key_create(&exit_key, thread_exit);
  void *m = mmap(NULL, (size_t)THREAD_SLOTS * sizeof(ctrace__thread), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED)
    exit_key_err = exit_key_err ? exit_key_err : errno;
  else
    slots_free.base = (char *)(slots = m);
}

int ctrace__thread_init(void) {
  pthread_once(&exit_key_once, exit_key_create);
  return -exit_key_err;
}

static ctrace__thread *slot_get(void) {
  uint32_t i = ctrace__istack_pop(&slots_free);
  if (i == UINT32_MAX)
    i = atomic_fetch_add_explicit(&slots_bump, 1, memory_order_relaxed);
  return i < THREAD_SLOTS ? &slots[i] : NULL;
}

void ctrace__thread_fork_reset(void) {
  atomic_store(&ctrace__threads, NULL);
  atomic_store(&slots_bump, 0);
  atomic_store(&slots_free.top, 0);
  ctrace__tls.thread = &ctrace__no_thread;
  ctrace__tls.guard = 0;
  ctrace__tls.nest = 0;
}

void ctrace__thread_free(ctrace__thread *t) {
  ctrace__istack_push(&slots_free, (uint32_t)(t - slots));
}

/* Starts writing into chunk c: it follows the thread's previous event. */
static void use_chunk(ctrace__thread *t, ctrace__chunk *c) {
  c->base_tick = t->last_tick;
  t->cur = c;
  t->pos = c->data;
  t->base = c->data;
  t->pub = &c->head;
  atomic_store_explicit(&t->limit, (uintptr_t)(c->data + CTRACE__CHUNK_SIZE), memory_order_relaxed);
}

/* The calling thread's state, created on its first event ever. It stays on
 * the thread list, across sessions, until the thread exits. */
static ctrace__thread *thread_create(void) {
  ctrace__thread *t = slots ? slot_get() : NULL;
  if (!t)
    return NULL;
  memset(t, 0, sizeof *t);
  t->serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
  t->tid = (int)syscall(SYS_gettid);
  /* prctl rather than pthread_getname_np, which opens /proc: the tracer's
   * own system calls would show among the program's. */
  if (prctl(PR_GET_NAME, t->name, 0, 0, 0) != 0)
    t->name[0] = '\0';
  ctrace__thread *head = atomic_load_explicit(&ctrace__threads, memory_order_relaxed);
  do
    atomic_store_explicit(&t->next, head, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&ctrace__threads, &head, t, memory_order_release,
                                                memory_order_relaxed));
  ctrace__tls.thread = t;
  pthread_setspecific(exit_key, t);
  return t;
}

void ctrace__thread_count_drop(ctrace__thread *t) {
  if (t->drop_pending++ == 0)
    t->drop_first_tick = ctrace__ticks();
  atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ctrace__dropped_total, 1, memory_order_relaxed);
}

/* Writes the DROPPED event that tells the reader how many events are
 * missing, and since when. The chunk is new, so it fits. */
void ctrace__thread_write_dropped(ctrace__thread *t) {
  uint64_t now = ctrace__ticks();
  uint64_t d = now > t->last_tick ? now - t->last_tick : 0;
  uint64_t span = now > t->drop_first_tick ? now - t->drop_first_tick : 0;
  uint8_t *p = t->pos;
  *p++ = CTRACE_FMT_EV_DROPPED;
  p = ctrace_fmt_put_varint(p, d);
  p = ctrace_fmt_put_varint(p, t->drop_pending);
  p = ctrace_fmt_put_varint(p, span);
  if (d)
    t->last_tick = now;
  t->pos = p;
  atomic_store_explicit(t->pub, (uint32_t)(p - t->base), memory_order_release);
  t->drop_pending = 0;
}

ctrace__thread *ctrace__thread_slow(size_t need) {
  ctrace__tls_block *tls = &ctrace__tls;
  if (tls->guard || !CTRACE__ACTIVE()) {
    /* A signal handler's event while this thread was in here (setting up
     * its state or a chunk): lost, so counted. (Other guarded threads, the
     * tracer's own, never record and count nothing.) */
    if (tls->slow && CTRACE__ACTIVE())
      atomic_fetch_add_explicit(&ctrace__dropped_total, 1, memory_order_relaxed);
    return NULL;
  }
  tls->guard = 1;
  tls->slow = 1;
  int saved_errno = errno; /* the wrappers' callers see theirs: only here can it change */
  uint32_t gen = atomic_load(&ctrace__gen);
  ctrace__thread *t = tls->thread == &ctrace__no_thread ? NULL : tls->thread;
  ctrace__thread *ret = NULL;
  if (!t && !(t = thread_create())) {
    atomic_fetch_add_explicit(&ctrace__dropped_total, 1, memory_order_relaxed);
    goto out;
  }
  if (t->gen != gen) { /* first event of this thread in this session */
    t->gen = gen;
    t->cur = NULL;
    t->drop_pending = 0;
    atomic_store_explicit(&t->dropped, 0, memory_order_relaxed);
    atomic_store_explicit(&t->limit, 0, memory_order_relaxed);
    t->last_tick = ctrace__ticks();
    atomic_store_explicit(&t->tried, gen, memory_order_release);
    ctrace__flight_thread_start(); /* flight mode: a signal stack for crash dumps */
  }
  if ((uintptr_t)t->pos + need > atomic_load_explicit(&t->limit, memory_order_relaxed) ||
      t->cur == NULL) {
    ctrace__chunk *c = ctrace__pool_get();
    if (!c) {
      ctrace__thread_count_drop(t);
      goto out;
    }
    ctrace__chunk *old = t->cur;
    use_chunk(t, c);
    if (old) { /* seals old: its head is final once the writer sees next */
      atomic_store_explicit(&old->next, c, memory_order_release);
    } else { /* the thread's first chunk in this session */
      t->wchunk = c;
      t->wtail = 0;
      t->wtick = c->base_tick;
      /* Publishes wchunk/wtick/tid/name to this session's writer. */
      atomic_store_explicit(&t->registered, gen, memory_order_release);
    }
  }
  /* A stop may race with the limit just stored: the stop stores active = 0
   * and then limit = 0; we stored the limit and then load active; with
   * seq_cst one of us sees the other, so the limit ends up 0. */
  atomic_thread_fence(memory_order_seq_cst);
  if (!CTRACE__ACTIVE() || atomic_load(&ctrace__gen) != gen) {
    atomic_store(&t->limit, 0);
    goto out;
  }
  if (t->drop_pending)
    ctrace__thread_write_dropped(t);
  ret = t;
out:
  errno = saved_errno;
  tls->guard = 0; /* (then slow: a signal in between finds the way open) */
  atomic_signal_fence(memory_order_seq_cst);
  tls->slow = 0;
  return ret;
}
