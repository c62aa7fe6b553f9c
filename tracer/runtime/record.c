/* The recording API, on the fast path of record_fast.h (ev_open, ev_head,
 * varint arguments, ev_close): no lock, no allocation, no system call. */
#include <stdarg.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "lttng.h"
#include "record_fast.h"

int ctrace__active;
int ctrace__own_tids[CTRACE__OWN_TIDS];
int ctrace__own_pids[CTRACE__OWN_TIDS];
int ctrace__own_ntids;

void ctrace__own_tid_add(int tid) {
  static atomic_flag busy = ATOMIC_FLAG_INIT; /* (rare: thread starts; no wrapped lock) */
  while (atomic_flag_test_and_set_explicit(&busy, memory_order_acquire))
    sched_yield();
  int n = __atomic_load_n(&ctrace__own_ntids, __ATOMIC_RELAXED), known = 0, k = 0;
  int pid = (int)getpid();
  for (int i = 0; i < n; i++) /* the parent's (before a fork) go */
    if (ctrace__own_pids[i] == pid) {
      ctrace__own_pids[k] = pid;
      ctrace__own_tids[k] = ctrace__own_tids[i];
      known |= ctrace__own_tids[k++] == tid;
    }
  n = k;
  if (!known && n < CTRACE__OWN_TIDS) {
    ctrace__own_tids[n] = tid;
    ctrace__own_pids[n] = pid;
    n++;
  }
  __atomic_store_n(&ctrace__own_ntids, n, __ATOMIC_RELEASE);
  atomic_flag_clear_explicit(&busy, memory_order_release);
}

/* A signal handler recorded while this thread was writing an event. */
__attribute__((cold)) void ctrace__ev_nested(void) {
  ctrace__thread *t = ctrace__tls.thread;
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  if (t != &ctrace__no_thread) {
    atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ctrace__dropped_total, 1, memory_order_relaxed);
  } else if (ctrace__tls.slow) {
    /* The outer event is registering this thread (a signal handler's event
     * in thread_create: under TSan, at its gettid or prctl, where pending
     * signals are delivered): no state to count it on yet, so the total. */
    atomic_fetch_add_explicit(&ctrace__dropped_total, 1, memory_order_relaxed);
  }
}

static inline uint8_t *put_str(uint8_t *p, const char *s, size_t n) {
  p = ctrace_fmt_put_varint(p, n);
  memcpy(p, s, n);
  return p + n;
}

/* An event with only varint arguments (up to CTRACE_FMT_EVENT_MAX_VARINTS). */
static inline void ev_varints5(unsigned type, unsigned n, uint64_t a0, uint64_t a1, uint64_t a2,
                               uint64_t a3, uint64_t a4) {
  ctrace__thread *t = ev_open(EV_MAX_FIXED);
  if (CTRACE__UNLIKELY(!t))
    return;
  uint8_t *p = ev_head(t, type);
  if (n > 0)
    p = ctrace_fmt_put_varint(p, a0);
  if (n > 1)
    p = ctrace_fmt_put_varint(p, a1);
  if (n > 2)
    p = ctrace_fmt_put_varint(p, a2);
  if (n > 3)
    p = ctrace_fmt_put_varint(p, a3);
  if (n > 4)
    p = ctrace_fmt_put_varint(p, a4);
  ev_close(t, p);
}

static inline void ev_varints(unsigned type, unsigned n, uint64_t a0, uint64_t a1, uint64_t a2) {
  ev_varints5(type, n, a0, a1, a2, 0, 0);
}

static inline uint32_t site_id(ctrace_site *site) {
  uint32_t id = __atomic_load_n(&site->id, __ATOMIC_RELAXED);
  if (CTRACE__UNLIKELY(id == 0))
    id = ctrace__site_register(site);
  return id;
}

/* An event whose string could not be interned (table full) is dropped and
 * counted like any other, and the DROPPED event is written right away. If
 * even that does not fit, the slow path has counted this event already. */
static void drop_one(void) {
  ctrace__thread *t = ev_open(EV_MAX_FIXED);
  if (t) {
    ctrace__thread_count_drop(t);
    ctrace__thread_write_dropped(t);
    ev_end();
  }
}

void ctrace_region_begin(ctrace_site *site) {
  uint32_t id = site_id(site);
  CTRACE__TP(region_begin, id, site->name);
  ctrace__thread *t = ev_open(1 + 2 * CTRACE_FMT_VARINT_MAX);
  if (CTRACE__UNLIKELY(!t))
    return;
  uint8_t *p;
  if (CTRACE__LIKELY(id < 64)) { /* compact form: the site id in the type byte */
    uint64_t d = ev_delta(t);
    p = t->pos;
    *p++ = (uint8_t)(CTRACE_FMT_SHORT_BEGIN | id);
    p = ctrace_fmt_put_varint(p, d);
  } else {
    p = ev_head(t, CTRACE_FMT_EV_REGION_BEGIN);
    p = ctrace_fmt_put_varint(p, id);
  }
  ev_close(t, p);
}

void ctrace_region_end(void) {
  CTRACE__TP0(region_end);
  ctrace__thread *t = ev_open(1 + CTRACE_FMT_VARINT_MAX);
  if (CTRACE__UNLIKELY(!t))
    return;
  uint64_t d = ev_delta(t);
  uint8_t *p = t->pos;
  if (CTRACE__LIKELY(d < 128)) { /* compact form: the delta in the type byte */
    *p++ = (uint8_t)(CTRACE_FMT_SHORT_END | d);
  } else {
    *p++ = CTRACE_FMT_EV_REGION_END;
    p = ctrace_fmt_put_varint(p, d);
  }
  ev_close(t, p);
}

void ctrace_region_begin_dyn(const char *name) {
  if (!name)
    name = "";
  CTRACE__TP(region_begin, 0, name);
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  uint32_t id = ctrace__intern(name, strlen(name));
  if (!id) {
    drop_one();
    return;
  }
  ev_varints(CTRACE_FMT_EV_REGION_BEGIN_STR, 1, id, 0, 0);
}

static _Atomic uint64_t next_task = 1;

uint64_t ctrace_task_begin(const char *name, uint64_t parent) {
  uint64_t task = atomic_fetch_add_explicit(&next_task, 1, memory_order_relaxed);
  if (!name)
    name = "";
  CTRACE__TP(task_begin, task, parent, name);
  if (!CTRACE__ACTIVE_RELAXED())
    return task;
  uint32_t id = ctrace__intern(name, strlen(name));
  if (!id)
    drop_one();
  else
    ev_varints(CTRACE_FMT_EV_TASK_BEGIN, 3, task, parent, id);
  return task;
}

void ctrace_task_end(uint64_t task) {
  if (task == 0)
    return;
  CTRACE__TP(task_end, task);
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  ev_varints(CTRACE_FMT_EV_TASK_END, 1, task, 0, 0);
}

static __thread uint64_t current_task __attribute__((tls_model("initial-exec")));

uint64_t ctrace_task_switch(uint64_t task) {
  uint64_t prev = current_task;
  current_task = task;
  CTRACE__TP(task_switch, task);
  if (CTRACE__ACTIVE_RELAXED() && task != prev)
    ev_varints(CTRACE_FMT_EV_TASK_SWITCH, 1, task, 0, 0);
  return prev;
}

void ctrace_log(uint64_t task, const char *category, const char *fmt, ...) {
  if (!CTRACE__ANY_ON())
    return;
  if (!category)
    category = "";
  char msg[CTRACE_FMT_LOG_MAX + 1];
  va_list ap;
  va_start(ap, fmt);
  int n = fmt ? vsnprintf(msg, sizeof msg, fmt, ap) : 0;
  va_end(ap);
  if (n < 0)
    msg[0] = '\0';
  CTRACE__TP(log, task, category, msg);
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  uint32_t cat = ctrace__intern(category, strlen(category));
  if (!cat) {
    drop_one();
    return;
  }
  unsigned flags = 0;
  if (n < 0)
    n = 0;
  if (n > CTRACE_FMT_LOG_MAX) {
    n = CTRACE_FMT_LOG_MAX;
    flags |= CTRACE_FMT_LOG_FLAG_CUT;
  }
  ctrace__thread *t = ev_open(EV_MAX_FIXED + CTRACE_FMT_VARINT_MAX + (size_t)n);
  if (CTRACE__UNLIKELY(!t))
    return;
  uint8_t *p = ev_head(t, CTRACE_FMT_EV_LOG);
  p = ctrace_fmt_put_varint(p, task);
  p = ctrace_fmt_put_varint(p, cat);
  p = ctrace_fmt_put_varint(p, flags);
  p = put_str(p, msg, (size_t)n);
  ev_close(t, p);
}

void ctrace_counter(ctrace_site *site, int64_t value) {
  uint32_t id = site_id(site);
  CTRACE__TP(counter, id, site->name, value);
  ev_varints(CTRACE_FMT_EV_COUNTER, 2, id, ctrace_fmt_zigzag(value), 0);
}

void ctrace_instant(ctrace_site *site) {
  uint32_t id = site_id(site);
  CTRACE__TP(instant, id, site->name);
  ev_varints(CTRACE_FMT_EV_INSTANT, 1, id, 0, 0);
}

void ctrace_flow_begin(uint64_t id) {
  CTRACE__TP(flow_begin, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_FLOW_BEGIN, 1, id, 0, 0);
}

void ctrace_flow_end(uint64_t id) {
  CTRACE__TP(flow_end, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_FLOW_END, 1, id, 0, 0);
}

void ctrace_thread_set_name(const char *name) {
  if (!name)
    name = "";
  CTRACE__TP(thread_name, name);
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  size_t n = strnlen(name, CTRACE_FMT_NAME_MAX);
  ctrace__thread *t = ev_open(EV_MAX_FIXED + CTRACE_FMT_VARINT_MAX + n);
  if (!t)
    return;
  /* Odd while the event is being written, even once it is published: the
   * flight recorder's writer looks for names in this thread's batches only
   * when this moves (writer.c, drain_thread). */
  atomic_store_explicit(&t->names, atomic_load_explicit(&t->names, memory_order_relaxed) + 1,
                        memory_order_relaxed); /* (ordered by the head's release) */
  uint8_t *p = ev_head(t, CTRACE_FMT_EV_THREAD_NAME);
  p = put_str(p, name, n);
  ev_close(t, p);
  atomic_store_explicit(&t->names, atomic_load_explicit(&t->names, memory_order_relaxed) + 1,
                        memory_order_release);
}

/* ---- Memory managers ----------------------------------------------------------- */

/* Interns a name for an event; 0 (and the event dropped and counted) if
 * the table is full. */
static uint32_t name_id(const char *s) {
  uint32_t id = ctrace__intern(s ? s : "", s ? strlen(s) : 0);
  if (!id)
    drop_one();
  return id;
}

void ctrace_gc_begin(const char *kind) {
  CTRACE__TP(gc_begin, kind ? kind : "");
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  uint32_t id = name_id(kind);
  if (id)
    ev_varints(CTRACE_FMT_EV_GC_BEGIN, 1, id, 0, 0);
}

void ctrace_gc_end(void) {
  CTRACE__TP0(gc_end);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_GC_END, 0, 0, 0, 0);
}

void ctrace_heap_set(uint64_t live_bytes, uint64_t goal_bytes) {
  CTRACE__TP(heap_set, live_bytes, goal_bytes);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_HEAP_SET, 2, live_bytes, goal_bytes, 0);
}

/* ---- User-level scheduling -------------------------------------------------------- */

void ctrace_sched_create(uint64_t id, const char *name) {
  CTRACE__TP(sched_create, id, name ? name : "");
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  uint32_t n = name_id(name);
  if (n)
    ev_varints(CTRACE_FMT_EV_SCHED_CREATE, 2, id, n, 0);
}

void ctrace_sched_run(uint64_t id) {
  CTRACE__TP(sched_run, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_SCHED_RUN, 1, id, 0, 0);
}

void ctrace_sched_block(const char *reason) {
  CTRACE__TP(sched_block, reason ? reason : "");
  if (!CTRACE__ACTIVE_RELAXED())
    return;
  uint32_t n = name_id(reason);
  if (n)
    ev_varints(CTRACE_FMT_EV_SCHED_BLOCK, 1, n, 0, 0);
}

void ctrace_sched_unblock(uint64_t id) {
  CTRACE__TP(sched_unblock, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_SCHED_UNBLOCK, 1, id, 0, 0);
}

void ctrace_sched_end(uint64_t id) {
  CTRACE__TP(sched_end, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_SCHED_END, 1, id, 0, 0);
}

/* ---- For the preload wrappers -------------------------------------------------------- */

uint64_t ctrace__now(void) { return ctrace__ticks(); }
uint64_t ctrace__ticks_per_sec(void) { return ctrace__session_state.ticks_per_sec; }

int ctrace__in_tracer(void) { return ctrace__tls.guard; }
void ctrace__enter(void) { ctrace__tls.guard++; }
void ctrace__leave(void) { ctrace__tls.guard--; }

uint32_t ctrace__serial(void) {
  ctrace__thread *t = ctrace__tls.thread;
  return t == &ctrace__no_thread ? 0 : t->serial;
}

void ctrace__syscall(long nr, uint64_t start, uint64_t arg, int64_t ret) {
  ctrace__syscall_fast(nr, start, arg, ret);
}

/* Ticks of the session clock as nanoseconds (LTTng's durations). */
static uint64_t ticks_ns(uint64_t d) {
  uint64_t hz = ctrace__session_state.ticks_per_sec;
  if (!ctrace__clock_tsc || !hz)
    return d; /* the clock is CLOCK_MONOTONIC: ticks are ns */
  return (uint64_t)((unsigned __int128)d * 1000000000u / hz);
}

void ctrace__lttng_syscall(long nr, uint64_t start, uint64_t now, uint64_t arg, int64_t ret) {
  CTRACE__TP(syscall, nr, ticks_ns(now > start ? now - start : 0), arg, ret);
  (void)nr, (void)start, (void)now, (void)arg, (void)ret, (void)ticks_ns;
}

/* The thread id of a (16-bit) serial from the release table, or 0. */
static int tid_of_serial(uint64_t serial) {
  for (ctrace__thread *t = atomic_load_explicit(&ctrace__threads, memory_order_acquire); t;
       t = atomic_load_explicit(&t->next, memory_order_relaxed))
    if ((t->serial & 0xffff) == serial)
      return t->tid;
  return 0;
}

/* Who released what, last: a slot per hashed object, one 64-bit word
 *   serial (16 bits) | tag of the object (8 bits) | time (40 bits, ticks
 *   since the session started / 64: 8 hours at 2.5 GHz)
 * written with one relaxed store by the releaser, read by a waiter when it
 * wakes. A collision or a wrapped serial only loses (or, rarely, misplaces)
 * an arrow; it is a hint, checked against the tag and the wait's interval. */
#define RELEASE_SLOTS 4096u
static _Atomic uint64_t release_table[RELEASE_SLOTS];

static inline uint64_t obj_hash(const void *obj) {
  uint64_t a = (uint64_t)(uintptr_t)obj;
  a ^= a >> 29;
  a *= 0x9e3779b97f4a7c15ull;
  return a ^ (a >> 32);
}

void ctrace__release(const void *obj) {
  ctrace__thread *t = ctrace__tls.thread;
  if (t == &ctrace__no_thread || !CTRACE__ACTIVE_RELAXED())
    return;
  uint64_t h = obj_hash(obj);
  uint64_t since = (ctrace__ticks() - ctrace__session_state.start.tick) >> 6;
  uint64_t v =
      (uint64_t)(t->serial & 0xffff) << 48 | (h >> 56) << 40 | (since & ((1ull << 40) - 1));
  atomic_store_explicit(&release_table[h & (RELEASE_SLOTS - 1)], v, memory_order_relaxed);
}

void ctrace__wait(unsigned kind, uint64_t start, const void *obj) {
  uint64_t now = ctrace__ticks();
  uint64_t h = obj_hash(obj);
  uint64_t v = atomic_load_explicit(&release_table[h & (RELEASE_SLOTS - 1)], memory_order_relaxed);
  uint64_t waker = 0, back = 0;
  uint64_t base = ctrace__session_state.start.tick;
  uint64_t rel = base + ((v & ((1ull << 40) - 1)) << 6);
  /* Released by someone else, during this wait (64-tick granularity). */
  if (v && ((v >> 40) & 0xff) == (h >> 56) && rel + 64 >= start && rel <= now + 64 &&
      (v >> 48) != (ctrace__serial() & 0xffff)) {
    waker = v >> 48;
    back = now > rel ? now - rel : 0;
  }
  CTRACE__TP(wait, (uint8_t)kind, ticks_ns(now > start ? now - start : 0), (uint64_t)(uintptr_t)obj,
             waker ? tid_of_serial(waker) : 0);
  (void)tid_of_serial;
  ev_span(CTRACE_FMT_EV_WAIT, 5, start, now, kind, (uint64_t)(uintptr_t)obj, waker, back);
}

static _Atomic uint64_t next_internal_flow = 1;

uint64_t ctrace__thread_created(void) {
  /* Internal flows have the top bit set, out of the way of the program's. */
  uint64_t id =
      (1ull << 63) | atomic_fetch_add_explicit(&next_internal_flow, 1, memory_order_relaxed);
  CTRACE__TP(thread_create, id);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_THREAD_CREATE, 1, id, 0, 0);
  return id;
}

void ctrace__thread_started(uint64_t flow, uint32_t creator) {
  CTRACE__TP(thread_start, flow);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_THREAD_START, 2, flow, creator, 0);
}

void ctrace__thread_exiting(void) {
  CTRACE__TP0(thread_exit);
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_THREAD_EXIT, 0, 0, 0, 0);
}

void ctrace__heap(int64_t live, uint64_t allocated, int peak, uint64_t by_thread) {
  CTRACE__TP(heap, live, allocated, (uint8_t)(peak != 0));
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints5(CTRACE_FMT_EV_HEAP, 4, ctrace_fmt_zigzag(live), allocated,
                peak ? CTRACE_FMT_HEAP_PEAK : 0, by_thread, 0);
}

/* Heap profiles: the preload's sampler (tracer/preload/heap_sample.c) says
 * its rate once, then records each sampled block with its call stack and
 * the free of each sampled block. */
_Atomic uint64_t ctrace__heap_rate;
const char *ctrace__heap_method = "";

void ctrace__heap_sampling(uint64_t rate, const char *method) {
  ctrace__heap_method = method;
  atomic_store_explicit(&ctrace__heap_rate, rate, memory_order_release);
}

int ctrace__heap_sample(const void *addr, uint64_t bytes, const uint64_t *pcs, unsigned n) {
  if (!CTRACE__ACTIVE_RELAXED())
    return 0;
  uint32_t stack = ctrace__stack_intern(pcs, n < CTRACE__STACK_MAX ? n : CTRACE__STACK_MAX);
  ev_varints(CTRACE_FMT_EV_HEAP_SAMPLE, 3, (uint64_t)(uintptr_t)addr, bytes, stack);
  return 1;
}

void ctrace__heap_free_sample(const void *addr) {
  if (CTRACE__ACTIVE_RELAXED())
    ev_varints(CTRACE_FMT_EV_HEAP_FREE, 1, (uint64_t)(uintptr_t)addr, 0, 0);
}
