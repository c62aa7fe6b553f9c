/* Two threads and one mutex: "holder" takes it and keeps it 30 ms,
 * "waiter" asks for it meanwhile and waits. Not built with ctrace: `ctrace
 * run` must show the wait on "waiter" and the arrow from "holder".
 * `contend MS` first sleeps MS ms (a tracer that registers with a daemon
 * at start-up, like LTTng-UST, is then surely recording). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int held;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

static void *holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "holder");
  pthread_mutex_lock(&mu);
  atomic_store(&held, 1);
  sleep_ms(30);
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void *waiter(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "waiter");
  while (!atomic_load(&held))
    sleep_ms(1);
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1)
    sleep_ms(atoi(argv[1]));
  pthread_t a, b;
  pthread_create(&a, NULL, holder, NULL);
  pthread_create(&b, NULL, waiter, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  puts("contend: done");
  return 0;
}
