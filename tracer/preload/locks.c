/* Blocking on pthread objects: a wait is recorded only when there was one
 * (the lock is tried first; an uncontended lock costs a trylock), as a span
 * on the waiting thread, with an arrow from the thread that last released
 * the object (unlock, signal, post, exit) to the one that woke. Releases
 * are one store into the runtime's release table (ctrace__release); an
 * unlock records one only when glibc's mutex word says others wait. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>

#include "preload.h"

#define WAIT_ON() pl_on(PL_LOCKS)

/* The current wait of the calling thread, for the control socket's
 * `stacks` ("waiting on mutex 0x... held by thread T"), tracing or not
 * (ctrace__wait_begin: tracer/runtime/stacks.c). A few stores, only when a
 * wait happens; not for the tracer's own calls. */
#define TOLD(kind, obj) (ctrace__tls.guard ? 0 : (ctrace__wait_begin(kind, obj), 1))
#define TOLD_END(told) ((told) ? ctrace__wait_end() : (void)0)

/* ---- mutexes ----------------------------------------------------------------------- */
int pthread_mutex_lock(pthread_mutex_t *m) {
  REAL(int, pthread_mutex_lock, (pthread_mutex_t *));
  REAL(int, pthread_mutex_trylock, (pthread_mutex_t *));
  int r = real_pthread_mutex_trylock(m);
  if (r != EBUSY)
    return r == 0 ? 0 : real_pthread_mutex_lock(m); /* odd types: no tracing */
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_MUTEX, m);
  uint64_t t0 = on ? pl_now() : 0;
  r = real_pthread_mutex_lock(m);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_MUTEX, t0, m);
  errno = e;
  return r;
}

int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t) {
  REAL(int, pthread_mutex_timedlock, (pthread_mutex_t *, const struct timespec *));
  REAL(int, pthread_mutex_trylock, (pthread_mutex_t *));
  int r = real_pthread_mutex_trylock(m);
  if (r != EBUSY)
    return r == 0 ? 0 : real_pthread_mutex_timedlock(m, t); /* odd types: no tracing */
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_MUTEX, m);
  uint64_t t0 = on ? pl_now() : 0;
  r = real_pthread_mutex_timedlock(m, t);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_MUTEX, t0, m);
  errno = e;
  return r;
}

int pthread_mutex_unlock(pthread_mutex_t *m) {
  REAL(int, pthread_mutex_unlock, (pthread_mutex_t *));
  /* glibc: __lock is 0 free, 1 held, 2 (or more) held with waiters. A racy
   * read, used only to decide whether an arrow may be needed. */
  if (WAIT_ON() && __atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) > 1) {
    /* Before the unlock: the woken waiter must find it. */
    int e = errno;
    ctrace__release(m);
    errno = e;
  }
  return real_pthread_mutex_unlock(m);
}

/* ---- condition variables ------------------------------------------------------------- */
int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  REAL(int, pthread_cond_wait, (pthread_cond_t *, pthread_mutex_t *));
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_COND, c);
  uint64_t t0 = on ? pl_now() : 0;
  int r = real_pthread_cond_wait(c, m);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_COND, t0, c);
  errno = e;
  return r;
}

int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t) {
  REAL(int, pthread_cond_timedwait, (pthread_cond_t *, pthread_mutex_t *, const struct timespec *));
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_COND, c);
  uint64_t t0 = on ? pl_now() : 0;
  int r = real_pthread_cond_timedwait(c, m, t);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_COND, t0, c);
  errno = e;
  return r;
}

int pthread_cond_signal(pthread_cond_t *c) {
  REAL(int, pthread_cond_signal, (pthread_cond_t *));
  if (WAIT_ON()) {
    int e = errno;
    ctrace__release(c);
    errno = e;
  }
  return real_pthread_cond_signal(c);
}

int pthread_cond_broadcast(pthread_cond_t *c) {
  REAL(int, pthread_cond_broadcast, (pthread_cond_t *));
  if (WAIT_ON()) {
    int e = errno;
    ctrace__release(c);
    errno = e;
  }
  return real_pthread_cond_broadcast(c);
}

/* ---- read-write locks --------------------------------------------------------------------- */
#define RWLOCK(name, tryname, kind)           \
  int name(pthread_rwlock_t *l) {             \
    REAL(int, name, (pthread_rwlock_t *));    \
    REAL(int, tryname, (pthread_rwlock_t *)); \
    int r = real_##tryname(l);                \
    if (r != EBUSY)                           \
      return r == 0 ? 0 : real_##name(l);     \
    int on = WAIT_ON(), told = TOLD(kind, l); \
    uint64_t t0 = on ? pl_now() : 0;          \
    r = real_##name(l);                       \
    int e = errno;                            \
    TOLD_END(told);                           \
    if (on)                                   \
      ctrace__wait(kind, t0, l);              \
    errno = e;                                \
    return r;                                 \
  }
RWLOCK(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock, CTRACE_FMT_WAIT_RWLOCK_READ)
RWLOCK(pthread_rwlock_wrlock, pthread_rwlock_trywrlock, CTRACE_FMT_WAIT_RWLOCK_WRITE)

int pthread_rwlock_unlock(pthread_rwlock_t *l) {
  REAL(int, pthread_rwlock_unlock, (pthread_rwlock_t *));
  if (WAIT_ON()) {
    int e = errno;
    ctrace__release(l);
    errno = e;
  }
  return real_pthread_rwlock_unlock(l);
}

/* ---- semaphores ------------------------------------------------------------------------------ */
int sem_wait(sem_t *s) {
  REAL(int, sem_wait, (sem_t *));
  REAL(int, sem_trywait, (sem_t *));
  if (real_sem_trywait(s) == 0)
    return 0;
  if (errno != EAGAIN)
    return real_sem_wait(s);
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_SEM, s);
  uint64_t t0 = on ? pl_now() : 0;
  int r = real_sem_wait(s);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_SEM, t0, s);
  errno = e;
  return r;
}

int sem_timedwait(sem_t *s, const struct timespec *t) {
  REAL(int, sem_timedwait, (sem_t *, const struct timespec *));
  REAL(int, sem_trywait, (sem_t *));
  if (real_sem_trywait(s) == 0)
    return 0;
  if (errno != EAGAIN)
    return real_sem_timedwait(s, t);
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_SEM, s);
  uint64_t t0 = on ? pl_now() : 0;
  int r = real_sem_timedwait(s, t);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_SEM, t0, s);
  errno = e;
  return r;
}

int sem_post(sem_t *s) {
  REAL(int, sem_post, (sem_t *));
  if (WAIT_ON()) {
    int e = errno;
    ctrace__release(s);
    errno = e;
  }
  return real_sem_post(s);
}

/* ---- join ---------------------------------------------------------------------------------------- */
/* The joined thread "releases" its pthread_t as it exits (threads.c). */
int pthread_join(pthread_t t, void **ret) {
  REAL(int, pthread_join, (pthread_t, void **));
  int on = WAIT_ON(), told = TOLD(CTRACE_FMT_WAIT_JOIN, (const void *)t);
  uint64_t t0 = on ? pl_now() : 0;
  int r = real_pthread_join(t, ret);
  int e = errno;
  TOLD_END(told);
  if (on)
    ctrace__wait(CTRACE_FMT_WAIT_JOIN, t0, (const void *)t);
  errno = e;
  return r;
}
