/* Steady work for SECONDS (argv[1], default 4), then exit 0: two threads
 * take turns on a mutex (holding it 200 us, so the other one waits), sleep
 * 300 us and write a byte to /dev/null, each turn a "round" region. Built
 * twice (tests/CMakeLists.txt): busy_for links libctrace (WITH_CTRACE),
 * busy_for_plain has never heard of ctrace (for the preload). Neither
 * traces by itself: the control socket starts and stops it
 * (tests/test_control.c). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifdef WITH_CTRACE
#include <ctrace/ctrace.h>
#else
#define CTRACE_SCOPE(name)
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double seconds = 4;
static int null_fd;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg) {
  long *rounds = arg;
  double end = now_s() + seconds;
  while (now_s() < end) {
    CTRACE_SCOPE("round");
    pthread_mutex_lock(&mu);
    struct timespec hold = {0, 200000}, rest = {0, 300000};
    nanosleep(&hold, NULL);
    pthread_mutex_unlock(&mu);
    nanosleep(&rest, NULL);
    if (write(null_fd, "x", 1) != 1)
      abort();
    ++*rounds;
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1)
    seconds = atof(argv[1]);
  null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    return 1;
  long a = 0, b = 0;
  pthread_t t;
  pthread_create(&t, NULL, work, &b);
  work(&a);
  pthread_join(t, NULL);
  printf("rounds %ld %ld\n", a, b);
  return 0;
}
