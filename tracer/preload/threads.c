/* Thread lifecycle: creation (an arrow from the creating thread to the new
 * one), start, exit (which releases the thread's handle for a joiner), and
 * names given with pthread_setname_np to the calling thread (a name given
 * to another thread is read from /proc by the writer). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

typedef struct start_arg {
  void *(*fn)(void *);
  void *arg;
  uint64_t flow;
  uint32_t creator;
} start_arg;

/* The wrapper's own small allocation goes to the real allocator directly,
 * inside the tracer so it is not counted as the program's. */
static void *own_alloc(size_t n) {
  REAL(void *, malloc, (size_t));
  ctrace__enter();
  void *p = real_malloc(n);
  ctrace__leave();
  return p;
}

static void own_free(void *p) {
  REAL(void, free, (void *));
  ctrace__enter();
  real_free(p);
  ctrace__leave();
}

static void thread_ends(void) {
  ctrace__preload_heap_thread_end();
  ctrace__thread_exiting();
  ctrace__release((const void *)pthread_self());
}

static void *trampoline(void *p) {
  start_arg a = *(start_arg *)p;
  own_free(p);
  ctrace__thread_started(a.flow, a.creator);
  void *r = a.fn(a.arg);
  thread_ends();
  return r;
}

/* A thread created from inside the tracer (a library it loads starting
 * its own threads) is the tracer's: it never records, and is declared so. */
static void *own_trampoline(void *p) {
  start_arg a = *(start_arg *)p;
  own_free(p);
  ctrace__tls.guard = 1;
  ctrace__own_tid_add(ctrace__tid());
  return a.fn(a.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  REAL(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *));
  if (CTRACE__UNLIKELY(ctrace__tls.guard)) {
    start_arg *a = own_alloc(sizeof *a);
    if (!a)
      return real_pthread_create(t, attr, fn, arg);
    a->fn = fn;
    a->arg = arg;
    int r = real_pthread_create(t, attr, own_trampoline, a);
    if (r)
      own_free(a);
    return r;
  }
  if (!pl_on(1))
    return real_pthread_create(t, attr, fn, arg);
  start_arg *a = own_alloc(sizeof *a);
  if (!a)
    return real_pthread_create(t, attr, fn, arg);
  a->fn = fn;
  a->arg = arg;
  a->flow = ctrace__thread_created();
  a->creator = ctrace__serial();
  int r = real_pthread_create(t, attr, trampoline, a);
  if (r)
    own_free(a);
  return r;
}

void pthread_exit(void *ret) {
  REAL(void, pthread_exit, (void *));
  if (pl_on(1))
    thread_ends();
  real_pthread_exit(ret);
  __builtin_unreachable();
}

int pthread_setname_np(pthread_t t, const char *name) {
  REAL(int, pthread_setname_np, (pthread_t, const char *));
  int r = real_pthread_setname_np(t, name);
  if (r == 0 && pl_on(1) && pthread_equal(t, pthread_self())) {
    int e = errno;
    ctrace_thread_set_name(name);
    errno = e;
  }
  return r;
}
