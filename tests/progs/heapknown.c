/* Allocates 64 blocks of 1 MiB, then frees 32 of them, printing the bytes
 * the allocator really gave (malloc_usable_size): the heap counter `ctrace
 * run` records must move by exactly these amounts. The phases are marked
 * with ctrace regions (this test program links libctrace). */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ctrace/ctrace.h>

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

int main(void) {
  void *blocks[64];
  size_t allocated = 0, freed = 0;
  pause_us(1000);
  CTRACE_REGION_BEGIN("allocate");
  for (int i = 0; i < 64; i++) {
    blocks[i] = malloc(1 << 20);
    allocated += malloc_usable_size(blocks[i]);
    ((char *)blocks[i])[0] = 1;
  }
  CTRACE_REGION_END();
  pause_us(1000);
  CTRACE_REGION_BEGIN("free");
  for (int i = 0; i < 32; i++) {
    pause_us(200); /* each free is then due to be recorded (one per 100 us) */
    freed += malloc_usable_size(blocks[i]);
    free(blocks[i]);
  }
  CTRACE_REGION_END();
  printf("allocated %zu freed %zu\n", allocated, freed);
  for (int i = 32; i < 64; i++)
    free(blocks[i]);
  return 0;
}
