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
#include <stdatomic.h>
#include <stdint.h>

#include "record_fast.h" /* the runtime's fast path and the state it reads */

/* Every function a wrapper passes on to. They are looked up all at once
 * (ctrace_preload_resolve_all) before the runtime dlopens anything, else on
 * first use: a lookup (dlsym) needs the loader's lock, which dlopen holds
 * while the library it loads starts, and that library's threads call
 * wrapped functions (liblttng-ust's listener threads connect, lock, poll). */
/* clang-format off */
#define PL_FUNCTIONS(X) \
  X(pthread_mutex_lock) X(pthread_mutex_trylock) X(pthread_mutex_timedlock) \
  X(pthread_mutex_unlock) X(pthread_cond_wait) X(pthread_cond_timedwait) \
  X(pthread_cond_signal) X(pthread_cond_broadcast) X(pthread_rwlock_unlock) \
  X(sem_wait) X(sem_trywait) X(sem_timedwait) X(sem_post) X(pthread_join) \
  X(_exit) X(_Exit) X(execve) X(execvpe) X(read) X(write) X(pread) X(pread64) \
  X(pwrite) X(pwrite64) X(readv) X(writev) X(recv) X(recvfrom) X(recvmsg) \
  X(send) X(sendto) X(sendmsg) X(accept) X(accept4) X(connect) X(poll) \
  X(ppoll) X(select) X(pselect) X(epoll_wait) X(epoll_pwait) X(open) \
  X(open64) X(openat) X(openat64) X(creat) X(close) X(fsync) X(fdatasync) \
  X(nanosleep) X(clock_nanosleep) X(sleep) X(usleep) X(wait) X(waitpid) \
  X(wait4) X(waitid) X(pthread_create) X(pthread_exit) X(pthread_setname_np) \
  X(pthread_rwlock_rdlock) X(pthread_rwlock_tryrdlock) \
  X(pthread_rwlock_wrlock) X(pthread_rwlock_trywrlock) X(malloc) X(free)
/* clang-format on */

enum {
#define PL_FN_ENUM(name) PL_FN_##name,
  PL_FUNCTIONS(PL_FN_ENUM)
#undef PL_FN_ENUM
      PL_FN_COUNT
};

extern void *ctrace__preload_real[PL_FN_COUNT];

/* The next definition of function `i` (libc's, or an allocator's the
 * program brought), stored for the next call. Aborts with a message if
 * there is none: a wrapper cannot work without the function it wraps. */
void *ctrace__preload_resolve_fn(int i);
/* The same by name, for heap.c's own table. */
void *ctrace__preload_resolve(const char *name);
/* heap.c: looks malloc & co. up. */
void ctrace__preload_heap_resolve(void);

static inline void *pl_real(int i) {
  void *p = __atomic_load_n(&ctrace__preload_real[i], __ATOMIC_RELAXED);
  return CTRACE__LIKELY(p != NULL) ? p : ctrace__preload_resolve_fn(i);
}

/* real_NAME: the function NAME wraps. */
#define REAL(ret, name, params) ret(*real_##name) params = (ret(*) params)pl_real(PL_FN_##name)

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
  return __atomic_load_n(&ctrace__active, __ATOMIC_RELAXED) && what && !ctrace__tls.guard;
}

/* heap_sample.c: heap profiles. An allocation of `asked` bytes at p whose
 * thread's countdown ran out: sampled (unless it is the thread's first,
 * which only draws); @return the bytes until the next sample. The free
 * of p: recorded if p was sampled (look only once something was, and only
 * if p's filter slot counts a sampled block in use: pl_heap_maybe_sampled). */
__attribute__((visibility("hidden"))) int64_t ctrace__preload_heap_sample(void *p, size_t asked);
__attribute__((visibility("hidden"))) void ctrace__preload_heap_freed(void *p);
extern __attribute__((visibility("hidden"))) _Atomic int ctrace__preload_heap_sampled_any;
#define PL_HEAP_MARKS (1u << 20)
extern
    __attribute__((visibility("hidden"))) _Atomic uint8_t ctrace__preload_heap_marks[PL_HEAP_MARKS];

/* p's slot in the filter: blocks are 16-byte aligned, so the blocks of a
 * 16 MiB stretch of heap each have their own (two instructions, no
 * multiply: every free asks). */
static inline uint32_t pl_heap_mark(const void *p) {
  return (uint32_t)((uintptr_t)p >> 4) & (PL_HEAP_MARKS - 1);
}

/* 0 if p is surely not a sampled block in use: what every free asks. */
static inline int pl_heap_maybe_sampled(const void *p) {
  return atomic_load_explicit(&ctrace__preload_heap_sampled_any, memory_order_relaxed) &&
         atomic_load_explicit(&ctrace__preload_heap_marks[pl_heap_mark(p)], memory_order_acquire);
}

/* heap.c: a thread that ends flushes its heap counts. */
void ctrace__preload_heap_thread_end(void);

#define PL_SYSCALLS (ctrace__capture_state.syscalls == CTRACE_FMT_CAP_WRAPPERS)
#define PL_LOCKS (ctrace__capture_state.locks)
#define PL_HEAP (ctrace__capture_state.heap)

#endif /* CTRACE_PRELOAD_H */
