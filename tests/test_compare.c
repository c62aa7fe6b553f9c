/* Two runs side by side (`ctrace view BASE --compare NEW`): the index of
 * both with the new one's times shifted, its pids moved and its process
 * renamed (vx_build_aligned), exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "synth_trace.h"
#include "test.h"

#define T0 1000000000ull
#define US 1000ull

/* A run of process 100 starting at `start`: n regions "work" of len us. */
static void write_run(const char *path, uint64_t start, int n, uint64_t len) {
  synth *s = synth_new(100, "app", start, 0);
  synth_site(s, 1, CTRACE_FMT_SITE_REGION, "work", "a.c", 1, "f");
  synth_thread(s, 1, 101, "main");
  for (int i = 0; i < n; i++) {
    SYNTH_EV(s, 1, start + (uint64_t)i * 1000 * US, CTRACE_FMT_EV_REGION_BEGIN, 1);
    SYNTH_EV0(s, 1, start + (uint64_t)i * 1000 * US + len * US, CTRACE_FMT_EV_REGION_END);
  }
  synth_write(s, path);
  synth_free(s);
}

TEST_IMPL(compare_aligned_index) {
  char base[1100], next[1100];
  snprintf(base, sizeof base, "%s", test_tmp_path("base.ctrace"));
  snprintf(next, sizeof next, "%s", test_tmp_path("new.ctrace"));
  write_run(base, T0, 3, 100);
  write_run(next, T0 + 5000000000ull, 3, 150); /* 5 s later, same pid */
  char *paths[2] = {base, next};
  vx_align a[2] = {{0, 0, "base: "}, {-5000000000ll, 1 << 22, "new: "}};
  char err[512] = "";
  vx_index *x = vx_build_aligned(paths, 2, a, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build_aligned: %s", err);
  ASSERT_UEQ(vx_source_count(x), 2);
  ASSERT_STR_EQ(vx_source_get(x, 0)->process, "base: app");
  ASSERT_STR_EQ(vx_source_get(x, 1)->process, "new: app");
  ASSERT_EQ(vx_source_get(x, 1)->pid, 100 + (1 << 22));
  const vx_track *b = NULL, *n = NULL;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD && t->pid == 100)
      b = t;
    if (t->kind == VX_THREAD && t->pid == 100 + (1 << 22))
      n = t;
  }
  ASSERT(b && n && b != n); /* two threads, not one merged */
  ASSERT_UEQ(b->ndepth[0], 3);
  ASSERT_UEQ(n->ndepth[0], 3);
  for (size_t i = 0; i < 3; i++) {
    ASSERT_UEQ(n->depth[0][i].start, b->depth[0][i].start); /* aligned at the start */
    ASSERT_UEQ(b->depth[0][i].dur, 100 * US);
    ASSERT_UEQ(n->depth[0][i].dur, 150 * US);
  }
  ASSERT_UEQ(vx_t0(x), T0);
  ASSERT_UEQ(vx_t1(x), T0 + 2000 * US + 150 * US);
  vx_free(x);
  return 0;
}

/* ctrace view --compare's mistakes: named, exit 2; an unreadable side: 1. */
TEST_IMPL(compare_view_errors) {
  char base[1100];
  snprintf(base, sizeof base, "%s", test_tmp_path("base.ctrace"));
  write_run(base, T0, 3, 100);
  static const struct {
    const char *args;
    int status;
    const char *says;
  } bad[] = {{"%s --compare", 2, "--compare takes the NEW traces after it"},
             {"%s --compare %s --follow", 2, "--compare takes the NEW traces"},
             {"%s --compare %s --index scale", 2, "nor read through the scale index"},
             {"--pid 1 --compare %s", 2, "--compare takes the NEW traces"},
             {"%s --compare %s.missing --port 0", 1, ".missing: cannot open"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char args[3000], cmd[3400];
    snprintf(args, sizeof args, bad[i].args, base, base);
    snprintf(cmd, sizeof cmd, "%s view %s", test_ctrace_bin, args);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    test_proc p = test_run(argv, NULL);
    printf("$ ctrace view %s -> %d\n%s", args, p.status, p.err);
    ASSERT_EQ(p.status, bad[i].status);
    ASSERT_CONTAINS(p.err, bad[i].says);
    test_proc_free(&p);
  }
  return 0;
}
