/* Threads in known places, for `ctrace stacks PID` (tests/test_stacks.c):
 * "spinner" spins in spin_here(), "holder" holds a mutex and a rwlock (to
 * write) while it sleeps in hold_and_sleep(), "waiter" waits for that
 * mutex in wait_for_lock(), "reader" for the rwlock in wait_to_read(),
 * "napper" sleeps in nap(). The spinner's count goes into the file given
 * (argv[1], every 5 ms by the main thread, as text) so that a test sees
 * the program making progress; "ready" on stdout once every thread is in
 * place. Runs until killed, or argv[2] seconds (default 60). Built with
 * libctrace (its control socket) and without (for the preload). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef WITH_CTRACE
#include <ctrace/ctrace.h>
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static unsigned long count;
static int holding, started;
static volatile int stop;

static void pause_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) /* (a signal: the rest of it) */
    ;
}

__attribute__((noinline)) static void spin_here(void) {
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
    for (int i = 0; i < 1000; i++)
      __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
  __asm__ volatile("" ::: "memory"); /* (no tail call) */
}

__attribute__((noinline)) static void hold_and_sleep(void) {
  pthread_mutex_lock(&mu);
  pthread_rwlock_wrlock(&rw);
  __atomic_store_n(&holding, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
    pause_ms(1000); /* (long: a test finds it in clock_nanosleep, not between two) */
  pthread_rwlock_unlock(&rw);
  pthread_mutex_unlock(&mu);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void wait_for_lock(void) {
  while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
    pause_ms(1);
  __atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void wait_to_read(void) {
  while (!__atomic_load_n(&holding, __ATOMIC_ACQUIRE))
    pause_ms(1);
  __atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
  pthread_rwlock_rdlock(&rw);
  pthread_rwlock_unlock(&rw);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void nap(void) {
  __atomic_add_fetch(&started, 1, __ATOMIC_RELEASE);
  while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
    pause_ms(1000);
  __asm__ volatile("" ::: "memory");
}

static void *run(void *arg) {
  const char *name = arg;
  pthread_setname_np(pthread_self(), name);
  if (!strcmp(name, "spinner"))
    spin_here();
  else if (!strcmp(name, "holder"))
    hold_and_sleep();
  else if (!strcmp(name, "waiter"))
    wait_for_lock();
  else if (!strcmp(name, "reader"))
    wait_to_read();
  else
    nap();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: stackprog COUNT_FILE [SECONDS]\n");
    return 2;
  }
#ifdef WITH_CTRACE
  if (!ctrace_version()) /* (libctrace, and its control socket, are linked) */
    return 1;
#endif
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return 1;
  long ms = (argc > 2 ? atol(argv[2]) : 60) * 1000;
  static const char *names[] = {"spinner", "holder", "waiter", "reader", "napper"};
  pthread_t t[5];
  for (int i = 0; i < 5; i++)
    pthread_create(&t[i], NULL, run, (void *)names[i]);
  while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < 3)
    pause_ms(1);
  pause_ms(20); /* (the waiters into the locks) */
  printf("ready\n");
  fflush(stdout);
  for (long k = 0; k < ms / 5; k++) {
    char b[32];
    int n = snprintf(b, sizeof b, "%020lu\n", __atomic_load_n(&count, __ATOMIC_RELAXED));
    if (pwrite(fd, b, (size_t)n, 0) != n)
      return 1;
    pause_ms(5);
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < 5; i++)
    pthread_join(t[i], NULL);
  close(fd);
  return 0;
}
