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

static void *(*real_malloc_fn)(size_t);
static void (*real_free_fn)(void *);

/* The wrapper's own small allocation goes to the real allocator directly,
 * inside the tracer so it is not counted as the program's. */
static void *own_alloc(size_t n) {
  if (!real_malloc_fn)
    real_malloc_fn = (void *(*)(size_t))ctrace__preload_resolve("malloc");
  ctrace__enter();
  void *p = real_malloc_fn(n);
  ctrace__leave();
  return p;
}

static void own_free(void *p) {
  if (!real_free_fn)
    real_free_fn = (void (*)(void *))ctrace__preload_resolve("free");
  ctrace__enter();
  real_free_fn(p);
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

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
  REAL(int, pthread_create, (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *));
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
