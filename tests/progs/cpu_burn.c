/* CPU time in known functions, for the CPU-sample tests
 * (tests/test_cpu_samples.c): main -> outer -> middle -> hot_a (7 units of
 * work of every 10) and -> hot_b (3 units), each caller with work after
 * its call (no tail call: the caller's frame stays). Built -O2 -g without
 * frame pointers (Debian's default, tests/CMakeLists.txt): only the
 * .eh_frame CFI can unwind it.
 *
 * cpu_burn MS [fork]: burns MS ms of its own CPU time (whatever the load of
 * the machine, so the number of samples is known), then prints
 * "PID main=ADDR outer=ADDR middle=ADDR hot_a=ADDR hot_b=ADDR" with the
 * run-time addresses of its functions. With "fork", a child forked first
 * (it does not exec: it runs its parent's mappings) does the same. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each function stays a function of its own: not inlined, not cloned,
 * not folded with its twin (GCC's noipa implies noclone and no_icf). */
#if defined(__clang__)
#define KEEP __attribute__((noinline))
#else
#define KEEP __attribute__((noipa))
#endif

#define UNIT 2000 /* iterations of a unit of work (~2-3 us) */

static volatile uint64_t sink;

KEEP uint64_t hot_a(uint64_t x, int units);
KEEP uint64_t hot_b(uint64_t x, int units);
KEEP uint64_t middle(uint64_t x);
KEEP uint64_t outer(uint64_t x, int rounds);

/* The same dependent chain in both: a unit costs the same in each. */
KEEP uint64_t hot_a(uint64_t x, int units) {
  for (long i = 0; i < (long)units * UNIT; i++)
    x = (x ^ (x >> 29)) * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  return x;
}

KEEP uint64_t hot_b(uint64_t x, int units) {
  for (long i = 0; i < (long)units * UNIT; i++)
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;
  return x;
}

KEEP uint64_t middle(uint64_t x) {
  x = hot_a(x, 7);
  sink = x; /* after each call: neither is a tail call */
  x = hot_b(x ^ sink, 3);
  sink = x;
  return x + 1;
}

KEEP uint64_t outer(uint64_t x, int rounds) {
  for (int r = 0; r < rounds; r++)
    x = middle(x + (uint64_t)r);
  sink = x;
  return x * 3;
}

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Built with WITH_CTRACE (cpu_burn_lib: linked with libctrace, sampling
 * itself, tests/test_cpu_self.c): CTRACE_OUT starts the trace at load (and
 * CTRACE_CPU_HZ its samples), or "cpu_burn_lib MS api HZ FILE" calls
 * ctrace_start with cpu_hz = HZ and path FILE, and ctrace_stop at the end.
 * (Here, below the hot functions: tests look for their lines.) */
#if defined(WITH_CTRACE)
#include "ctrace/ctrace.h"
#endif

int main(int argc, char **argv) {
  double ms = argc > 1 ? atof(argv[1]) : 500;
  int forked = argc > 2 && !strcmp(argv[2], "fork");
#if defined(WITH_CTRACE)
  int api = argc > 4 && !strcmp(argv[2], "api");
  if (api) {
    ctrace_options o = CTRACE_OPTIONS_INIT;
    o.cpu_hz = (uint32_t)atoi(argv[3]);
    o.path = argv[4];
    int r = ctrace_start(&o);
    if (r) {
      fprintf(stderr, "ctrace_start: %s\n", ctrace_strerror(r));
      return 1;
    }
  }
#endif
  pid_t child = forked ? fork() : -1;
  if (forked && child < 0) {
    perror("fork");
    return 1;
  }
  uint64_t x = (uint64_t)getpid();
  double start = cpu_ms();
  while (cpu_ms() - start < ms)
    x = outer(x, 10);
  sink = x;
  char line[256];
  int n = snprintf(line, sizeof line,
                   "%d main=%#" PRIxPTR " outer=%#" PRIxPTR " middle=%#" PRIxPTR " hot_a=%#" PRIxPTR
                   " hot_b=%#" PRIxPTR "\n",
                   (int)getpid(), (uintptr_t)main, (uintptr_t)outer, (uintptr_t)middle,
                   (uintptr_t)hot_a, (uintptr_t)hot_b);
  if (write(1, line, (size_t)n) != n) /* one write: the two processes' lines stay whole */
    return 1;
#if defined(WITH_CTRACE)
  if (api && ctrace_stop() != 0)
    return 1;
#endif
  if (child > 0) {
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return 1;
  }
  return 0;
}
