/* The fast path of every event, shared by the recording API (record.c) and
 * the preload wrappers (which inline it: no call between a system call's
 * return and its record). Every event follows one pattern:
 *
 *   t = ev_open(max_size)  -- the thread's state if max_size bytes fit in its
 *                             chunk, else the slow path (register, new chunk,
 *                             or drop-and-count)
 *   p = ev_head(t, type)   -- type byte and tick delta
 *   ... varint arguments ...
 *   ev_close(t, p)         -- publish the new fill level to the writer
 *
 * No lock, no allocation, no system call: a TSC read, a few stores, one
 * release store. errno is left alone (the slow path restores it). */
#ifndef CTRACE_RECORD_FAST_H
#define CTRACE_RECORD_FAST_H

#include "internal.h"

/* type, delta, and CTRACE_FMT_EVENT_MAX_VARINTS arguments */
#define EV_MAX_FIXED (1 + (1 + CTRACE_FMT_EVENT_MAX_VARINTS) * CTRACE_FMT_VARINT_MAX)

/* Starts an event of at most `need` bytes: the thread's state, or NULL if
 * the event is not to be written. After a non-NULL return the caller must
 * end with ev_close() (or ev_end()). */
static inline ctrace__thread *ev_open(size_t need) {
  ctrace__tls_block *tls = &ctrace__tls;
  CTRACE__NEST_INC(tls->nest);
  if (CTRACE__UNLIKELY(tls->nest != 1)) {
    ctrace__ev_nested();
    CTRACE__NEST_DEC(tls->nest);
    return NULL;
  }
  ctrace__thread *t = tls->thread;
  if (CTRACE__LIKELY((uintptr_t)t->pos + need <=
                     atomic_load_explicit(&t->limit, memory_order_relaxed)))
    return t;
  if (!(t = ctrace__thread_slow(need)))
    CTRACE__NEST_DEC(tls->nest);
  return t;
}

static inline void ev_end(void) { CTRACE__NEST_DEC(ctrace__tls.nest); }

/* Ticks from the thread's previous event to now. */
static inline uint64_t ev_delta_at(ctrace__thread *t, uint64_t now) {
  uint64_t d = now - t->last_tick;
  if (CTRACE__UNLIKELY((int64_t)d < 0))
    return 0; /* TSC read on another core a hair behind: keep the thread monotonic */
  t->last_tick = now;
  return d;
}

static inline uint64_t ev_delta(ctrace__thread *t) { return ev_delta_at(t, ctrace__ticks()); }

/* The type byte and the time: now, or (ev_head_at) a time already read. */
static inline uint8_t *ev_head_at(ctrace__thread *t, unsigned type, uint64_t now) {
  uint8_t *p = t->pos;
  *p++ = (uint8_t)type;
  return ctrace_fmt_put_varint(p, ev_delta_at(t, now));
}

static inline uint8_t *ev_head(ctrace__thread *t, unsigned type) {
  return ev_head_at(t, type, ctrace__ticks());
}

static inline void ev_close(ctrace__thread *t, uint8_t *p) {
  t->pos = p;
  /* Release: the event's bytes are visible to the writer before the head. */
  atomic_store_explicit(t->pub, (uint32_t)(p - t->base), memory_order_release);
  ev_end();
}

/* A complete span that ends at `now`: one clock read for its time and its
 * length. */
static inline void ev_span(unsigned type, unsigned n, uint64_t start, uint64_t now, uint64_t a0,
                           uint64_t a2, uint64_t a3, uint64_t a4) {
  ctrace__thread *t = ev_open(EV_MAX_FIXED);
  if (CTRACE__UNLIKELY(!t))
    return;
  uint8_t *p = ev_head_at(t, type, now);
  p = ctrace_fmt_put_varint(p, a0);
  p = ctrace_fmt_put_varint(p, now > start ? now - start : 0);
  p = ctrace_fmt_put_varint(p, a2);
  p = ctrace_fmt_put_varint(p, a3);
  if (n > 4)
    p = ctrace_fmt_put_varint(p, a4);
  ev_close(t, p);
}

/* ctrace__syscall, inline (and to LTTng when a session records it). */
static inline void ctrace__syscall_fast(long nr, uint64_t start, uint64_t arg, int64_t ret) {
  uint64_t now = ctrace__ticks();
  if (CTRACE__UNLIKELY(CTRACE__LTTNG_ON()))
    ctrace__lttng_syscall(nr, start, now, arg, ret);
  ev_span(CTRACE_FMT_EV_SYSCALL, 4, start, now, (uint64_t)nr, arg, ctrace_fmt_zigzag(ret), 0);
}

#endif /* CTRACE_RECORD_FAST_H */
