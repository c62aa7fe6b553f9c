/* CPU time spent in system calls, for the kernel-frames test
 * (tests/test_cpu_kernel.c): main -> pump -> pull_zeros reads /dev/zero
 * 64 KiB at a time (the kernel zeroes the buffer: most of the time is the
 * kernel's), and pump -> pipe_trip writes 4 KiB into a pipe and reads it
 * back, until MS ms of the process's CPU time are spent. Each caller has
 * work after its call (no tail call). Built -O2 -g without frame pointers,
 * as cpu_burn.
 *
 * sys_burn MS: burns MS ms of CPU time, then prints "calls=N". */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__clang__)
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

static volatile uint64_t sink;
static char buf[64 << 10];

KEEP long pull_zeros(int fd) {
  long n = read(fd, buf, sizeof buf);
  sink += (uint64_t)buf[n > 0 ? n - 1 : 0];
  return n;
}

KEEP long pipe_trip(const int p[2]) {
  long n = write(p[1], buf, 4096);
  if (n > 0)
    n = read(p[0], buf, (size_t)n);
  sink += (uint64_t)n;
  return n;
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Three reads of /dev/zero for each pipe round trip. */
KEEP uint64_t pump(int zero, const int p[2], double ms) {
  uint64_t calls = 0;
  double end = cpu_ms() + ms;
  while (cpu_ms() < end) {
    for (int i = 0; i < 3; i++)
      if (pull_zeros(zero) > 0)
        calls++;
    if (pipe_trip(p) > 0)
      calls++;
  }
  sink += calls;
  return calls;
}

int main(int argc, char **argv) {
  double ms = argc > 1 ? atof(argv[1]) : 500;
  int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC), p[2];
  if (zero < 0 || pipe(p) != 0) {
    perror("sys_burn: /dev/zero or pipe");
    return 1;
  }
  uint64_t calls = pump(zero, p, ms);
  printf("calls=%llu\n", (unsigned long long)calls);
  return calls ? 0 : 1;
}
