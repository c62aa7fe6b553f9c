/* libFuzzer target for the scale index file's reader (viewer/analysis/
 * scale_file.c) and what answers from it (scale_query.c, scale_stats.c,
 * scale_counter_query.c):
 * any bytes as TRACE.idx of a fixed trace (FUZZ_TRACE) must be refused
 * with a reason or answer windows, a region and the stats without a crash,
 * a leak or undefined behaviour. The index is read unchecked (its hash and
 * the trace's identity are not asked), so mutations reach every table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "analysis.h"

static void nothing(void *arg, const vs_item *it) {
  (void)arg;
  (void)it;
}

static void no_mark(void *arg, uint64_t ts, double mn, double mx, double last) {
  (void)arg, (void)ts, (void)mn, (void)mx, (void)last;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/tmp/ctrace-fuzz-index-%d.idx", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f)
    return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  char err[512];
  vs_index *x = vs_open_unchecked(FUZZ_TRACE, path, err, sizeof err);
  if (x) {
    uint64_t t0 = vs_t0(x), t1 = vs_t1(x), span = t1 - t0;
    for (size_t i = 0; i < vs_thread_count(x); i++) {
      vs_thread_facts tf;
      vs_thread_info(x, i, &tf);
      vs_window(x, i, t0, t1, span / 500 + 1, nothing, NULL);                      /* the levels */
      vs_window(x, i, t0 + span / 3, t0 + span / 3 + span / 50, 1, nothing, NULL); /* decoded */
      vs_item it;
      vs_find(x, i, 1, t0 + span / 2, &it);
    }
    for (size_t i = 0; i < vs_counter_count(x); i++) {
      vs_counter_facts cf;
      vs_counter_info(x, i, &cf);
      vs_counter_window(x, i, t0, t1, span / 500 + 1, no_mark, NULL);
      vs_counter_window(x, i, t0 + span / 3, t0 + span / 3 + span / 50, 1, no_mark, NULL);
    }
    vs_stats s;
    if (!vs_compute_stats(x, t0, t1, NULL, &s, err, sizeof err))
      vs_stats_free(&s);
    vs_close(x);
  }
  unlink(path);
  return 0;
}
