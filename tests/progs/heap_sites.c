/* Allocations of known sites and sizes, for the heap-profile tests:
 *   keep_big:   KEEP_N blocks of 4096 bytes, kept to the end (a leak)
 *   churn_small: CHURN_N blocks of 64 bytes, each freed at once
 *   keep_grown:  blocks grown by realloc from 100 to 1000 bytes, kept
 *   calloc_kept: calloc(10, 100) blocks, kept
 * Usage: heap_sites [CHURN] (default CHURN_N: how many churn_small). Prints
 * "done" when everything was allocated; 50 ms pass between keep_big's
 * loop and the next. Functions are noinline and do work
 * after their calls so that every frame shows in the stacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP_N 2000
#define CHURN_N 200000
#define GROWN_N 1000
#define CALLOC_N 1000

static void *kept[KEEP_N + GROWN_N + CALLOC_N];
static volatile unsigned long sink;

__attribute__((noinline)) static void *keep_big(void) {
  char *p = malloc(4096);
  if (p)
    p[0] = 1;
  sink += (unsigned long)p;
  return p;
}

__attribute__((noinline)) static void churn_small(void) {
  char *p = malloc(64);
  if (p)
    p[0] = 2;
  sink += (unsigned long)p;
  free(p);
}

__attribute__((noinline)) static void *keep_grown(void) {
  char *p = malloc(100);
  char *q = p ? realloc(p, 1000) : NULL;
  if (!q)
    free(p);
  sink += (unsigned long)q;
  return q;
}

__attribute__((noinline)) static void *calloc_kept(void) {
  char *p = calloc(10, 100);
  sink += (unsigned long)p;
  return p;
}

int main(int argc, char **argv) {
  long churn = argc > 1 ? atol(argv[1]) : CHURN_N;
  size_t k = 0;
  for (long i = 0; i < churn; i++)
    churn_small();
  for (int i = 0; i < KEEP_N; i++)
    kept[k++] = keep_big();
  usleep(50000); /* a quiet 50 ms between the phases, for the tests' --at */
  for (int i = 0; i < GROWN_N; i++)
    kept[k++] = keep_grown();
  for (int i = 0; i < CALLOC_N; i++)
    kept[k++] = calloc_kept();
  printf("done %zu\n", k);
  fflush(stdout);
  sink += k;
  return 0;
}
