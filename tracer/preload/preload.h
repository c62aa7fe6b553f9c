/* This file is private to libctrace-preload.so, the wrappers `ctrace run`
 * preloads into programs that were never built with ctrace. They interpose
 * libc's functions, call the real ones (dlsym RTLD_NEXT) and record what
 * happened through the runtime's internal calls (tracer/internal.h).
 *
 * Rules every wrapper keeps: call straight through when tracing is off or
 * when the calling thread is inside the tracer (ctrace__tls.guard: the
 * writer thread, a thread registering, a wrapper's own work); preserve
 * errno; never allocate on its own path except through the real allocator;
 * never change what the program sees (return values, errno, output). */
#ifndef CTRACE_PRELOAD_H
#define CTRACE_PRELOAD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>

#include "../internal.h"

/* The next definition of `name` (libc's, or an allocator's the program
 * brought). Aborts with a message if there is none: a wrapper cannot work
 * without the function it wraps. */
void *ctrace__preload_resolve(const char *name);

#define REAL(ret, name, params)                                                \
  static ret(*real_##name) params;                                             \
  if (CTRACE__UNLIKELY(!real_##name))                                          \
    real_##name = (ret(*) params)ctrace__preload_resolve(#name)

/* The session clock without a call (it is the TSC almost always). */
static inline uint64_t pl_now(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (CTRACE__LIKELY(ctrace__clock_tsc))
    return __rdtsc();
#endif
  return ctrace__now();
}

/* Record this call? Tracing on, this kind captured by the wrappers, and the
 * thread not inside the tracer. */
static inline int pl_on(int what) {
  return __atomic_load_n(&ctrace__active, __ATOMIC_RELAXED) && what &&
         !ctrace__tls.guard;
}

/* heap.c: a thread that ends flushes its heap counts. */
void ctrace__preload_heap_thread_end(void);

#define PL_SYSCALLS (ctrace__capture_state.syscalls == CTRACE_FMT_CAP_WRAPPERS)
#define PL_LOCKS (ctrace__capture_state.locks)
#define PL_HEAP (ctrace__capture_state.heap)

#endif /* CTRACE_PRELOAD_H */
