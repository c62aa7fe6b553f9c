/* Heap profiles, recorded: `ctrace run --heap-rate` samples allocations
 * with their call stacks and records the frees of the sampled blocks
 * (tracer/preload/heap_sample.c). tests/progs/heap_sites.c allocates at
 * known sites and sizes: at rate 1 every allocation is a sample, so the
 * counts and the bytes still in use are known exactly (give or take the
 * few allocations of the C library itself: stdio's buffer). */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "synth_trace.h"
#include "test.h"
#include "trace_util.h"

#define SITES TEST_PROGS_DIR "/heap_sites"

/* What heap_sites allocates with CHURN churn_small calls. */
#define CHURN 1000
#define KEPT_BYTES (2000 * 4096 + 1000 * 1000 + 1000 * 10 * 100)
#define ALLOCS (CHURN + 2000 + 1000 * 2 + 1000) /* realloc: a free and an allocation */
#define FREES (CHURN + 1000)

static void run_sites(const char *out, const char *rate) {
  char *argv[] = {(char *)test_ctrace_bin,
                  "run",
                  "--heap-rate",
                  (char *)rate,
                  "-o",
                  (char *)out,
                  "--",
                  SITES,
                  "1000",
                  NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace run --heap-rate %s failed (%d): %s", rate, p.status, p.err);
  ASSERT_CONTAINS(p.out, "done 4000");
  test_proc_free(&p);
}

TEST_IMPL(heap_run_every) {
  const char *out = test_tmp_path("sites.ctrace");
  run_sites(out, "1");
  ttrace *t = tt_load(out);
  const char *method = NULL;
  ASSERT_EQ(rd_heap_sampling(t->tr, &method), 1);
  ASSERT(method && strstr(method, "unw_backtrace"));
  /* Each free names a block sampled before it; what is left is in use. */
  size_t nlive = 0, cap = 8192, allocs = 0, frees = 0;
  struct blk {
    uint64_t addr, bytes;
  } *live = malloc(cap * sizeof *live);
  ASSERT(live != NULL);
  for (size_t i = 0; i < t->nmerged; i++) {
    const tev *e = &t->merged[i];
    if (e->type == CTRACE_FMT_EV_HEAP_SAMPLE) {
      allocs++;
      unsigned n = 0;
      ASSERT(rd_stack(t->tr, (uint32_t)e->arg[2], &n) != NULL);
      ASSERT(n >= 3); /* the site, main, libc's start */
      if (nlive == cap) {
        cap *= 2;
        live = realloc(live, cap * sizeof *live);
        ASSERT(live != NULL);
      }
      live[nlive++] = (struct blk){e->arg[0], e->arg[1]};
    } else if (e->type == CTRACE_FMT_EV_HEAP_FREE) {
      frees++;
      size_t j = 0;
      while (j < nlive && live[j].addr != e->arg[0])
        j++;
      ASSERT(j < nlive);
      live[j] = live[--nlive];
    }
  }
  uint64_t bytes = 0;
  for (size_t j = 0; j < nlive; j++)
    bytes += live[j].bytes;
  printf("%zu allocations, %zu frees, %zu blocks of %llu bytes in use\n", allocs, frees, nlive,
         (unsigned long long)bytes);
  ASSERT(allocs >= ALLOCS && allocs <= ALLOCS + 20);
  ASSERT(frees >= FREES && frees <= FREES + 20);
  ASSERT(bytes >= KEPT_BYTES && bytes <= KEPT_BYTES + (64 << 10));
  const rd_mapping *maps;
  ASSERT(rd_mappings(t->tr, &maps) >= 2); /* heap_sites and libc at least */
  free(live);
  tt_free(t);
  return 0;
}

TEST_IMPL(heap_run_sampled) {
  /* At the default rate (512 KiB) about 10 MB allocated gives ~20 samples;
   * at 0 none, and no rate is said. */
  const char *out = test_tmp_path("sampled.ctrace");
  run_sites(out, "524288");
  ttrace *t = tt_load(out);
  ASSERT_EQ(rd_heap_sampling(t->tr, NULL), 524288);
  size_t allocs = 0;
  for (size_t i = 0; i < t->nmerged; i++)
    allocs += t->merged[i].type == CTRACE_FMT_EV_HEAP_SAMPLE;
  printf("%zu samples at 512 KiB\n", allocs);
  ASSERT(allocs >= 3 && allocs <= 80);
  tt_free(t);
  run_sites(out, "0");
  t = tt_load(out);
  ASSERT_EQ(rd_heap_sampling(t->tr, NULL), 0);
  for (size_t i = 0; i < t->nmerged; i++)
    ASSERT(t->merged[i].type != CTRACE_FMT_EV_HEAP_SAMPLE);
  tt_free(t);
  char *bad[] = {(char *)test_ctrace_bin, "run", "--heap-rate", "lots", "--", SITES, NULL};
  test_proc p = test_run(bad, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--heap-rate lots: not a number of bytes");
  test_proc_free(&p);
  return 0;
}

/* `go tool pprof ARGS... FILE` run and its output returned (NULL: no go here). */
static char *go_pprof(const char *const args[], const char *pb) {
  const char *go = test_go_bin();
  if (!go)
    return NULL;
  char *argv[16] = {(char *)go, "tool", "pprof"};
  int n = 3;
  for (int i = 0; args[i] && n < 14; i++)
    argv[n++] = (char *)args[i];
  argv[n++] = (char *)pb;
  argv[n] = NULL;
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("go tool pprof failed (%d): %s", p.status, p.err);
  char *out = p.out;
  p.out = NULL;
  test_proc_free(&p);
  return out;
}

/* The value go tool pprof -top -unit=B gives function fn (its flat
 * column), or -1 when it is not listed. */
static double top_flat(const char *out, const char *fn) {
  for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    char flat[32], name[128];
    if (sscanf(l, " %31s %*s %*s %*s %*s %127s", flat, name) == 2 && !strcmp(name, fn))
      return strtod(flat, NULL); /* (its unit, if any, follows the number) */
  }
  return -1;
}

static void pprof_heap(const char *trace, const char *type, const char *at, const char *pb) {
  char *argv[] = {
      (char *)test_ctrace_bin, "pprof",    "--type", (char *)type, (char *)trace, "-o", (char *)pb,
      at ? "--at" : NULL,      (char *)at, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace pprof --type %s failed (%d): %s", type, p.status, p.err);
  ASSERT_CONTAINS(p.out, "heap samples");
  test_proc_free(&p);
}

TEST_IMPL(heap_run_pprof) {
  const char *out = test_tmp_path("sites.ctrace"), *pb = test_tmp_path("heap.pb.gz");
  run_sites(out, "1");
  pprof_heap(out, "heap", NULL, pb);
  const char *inuse[] = {"-top", "-unit=B", "-sample_index=inuse_space", NULL};
  char *o = go_pprof(inuse, pb);
  if (!o) {
    printf("go is not installed: go tool pprof not tried\n");
    return 0;
  }
  printf("%s", o);
  ASSERT_CONTAINS(o, "Type: inuse_space");
  ASSERT_EQ(top_flat(o, "keep_big"), 2000 * 4096);
  ASSERT_EQ(top_flat(o, "keep_grown"), 1000 * 1000);
  ASSERT_EQ(top_flat(o, "calloc_kept"), 1000 * 1000);
  ASSERT_EQ(top_flat(o, "churn_small"), -1); /* all freed */
  free(o);
  const char *objs[] = {"-top", "-sample_index=alloc_objects", NULL};
  o = go_pprof(objs, pb);
  ASSERT_EQ(top_flat(o, "churn_small"), CHURN);
  ASSERT_EQ(top_flat(o, "keep_grown"), 2000); /* malloc, then realloc */
  free(o);
  /* allocs: the same values, alloc_space shown first */
  pprof_heap(out, "allocs", NULL, pb);
  const char *dflt[] = {"-top", "-unit=B", NULL};
  o = go_pprof(dflt, pb);
  ASSERT_CONTAINS(o, "Type: alloc_space");
  ASSERT_EQ(top_flat(o, "churn_small"), CHURN * 64);
  ASSERT_EQ(top_flat(o, "keep_grown"), 1000 * 1100);
  free(o);
  return 0;
}

/* The time, in seconds after the traces' start (FILE's or FILE.kernel's,
 * whichever began first: the tools' zero, give or take microseconds), of
 * the first sample of `bytes` bytes. */
static double first_sample(const char *trace, uint64_t bytes) {
  ttrace *t = tt_load(trace);
  uint64_t a = 0;
  for (size_t i = 0; i < t->nmerged && !a; i++)
    if (t->merged[i].type == CTRACE_FMT_EV_HEAP_SAMPLE && t->merged[i].arg[1] == bytes)
      a = t->merged[i].ts;
  ASSERT(a);
  uint64_t t0 = rd_start_ns(t->tr);
  tt_free(t);
  char kernel[4096];
  snprintf(kernel, sizeof kernel, "%s.kernel", trace);
  if (access(kernel, F_OK) == 0) {
    t = tt_load(kernel);
    if (rd_start_ns(t->tr) < t0)
      t0 = rd_start_ns(t->tr);
    tt_free(t);
  }
  return (double)(a - t0) / 1e9;
}

TEST_IMPL(heap_run_leaks) {
  const char *out = test_tmp_path("sites.ctrace");
  run_sites(out, "1");
  char *argv[] = {(char *)test_ctrace_bin, "leaks", (char *)out, NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  /* heap_sites's 4000 kept blocks, and where stdout is a file or a pipe,
   * stdio's buffer (malloc'd at the first printf, never freed) */
  double mib = 0, objects = 0;
  ASSERT_EQ(sscanf(p.out, "%lf MiB in %lf objects still allocated at the end of the trace", &mib,
                   &objects),
            2);
  ASSERT(mib > 9.69 && mib < 9.8);
  ASSERT(objects >= 4000 && objects <= 4002);
  ASSERT_CONTAINS(p.out, "exact");
  const char *big = strstr(p.out, "7.8 MiB       2000   keep_big heap_sites.c:");
  const char *grown = strstr(p.out, "976.6 KiB       1000   keep_grown heap_sites.c:");
  ASSERT(big && grown && big < grown); /* largest first */
  ASSERT(strstr(p.out, "churn_small") == NULL);
  test_proc_free(&p);
  /* --at: in the 50 ms after keep_big's loop, its 2000 blocks existed and
   * none of the later sites' */
  char at[32];
  snprintf(at, sizeof at, "%.9f", first_sample(out, 1000) - 0.025);
  char *mid[] = {(char *)test_ctrace_bin, "leaks", (char *)out, "--at", at, NULL};
  p = test_run(mid, NULL);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  ASSERT_CONTAINS(p.out, "7.8 MiB       2000   keep_big");
  ASSERT(strstr(p.out, "keep_grown") == NULL && strstr(p.out, "calloc_kept") == NULL);
  test_proc_free(&p);
  return 0;
}

TEST_IMPL(heap_run_estimates) {
  /* At 64 KiB, the scaled estimates come near the truth: keep_big's 8 MB in
   * use and the 10.4 MB allocated in all (~160 samples: within 35%, over
   * 4 standard deviations of the sampling error). */
  const char *out = test_tmp_path("est.ctrace"), *pb = test_tmp_path("est.pb.gz");
  run_sites(out, "65536");
  pprof_heap(out, "heap", NULL, pb);
  const char *inuse[] = {"-top", "-unit=B", "-sample_index=inuse_space", NULL};
  char *o = go_pprof(inuse, pb);
  if (!o)
    return 0;
  double big = top_flat(o, "keep_big");
  printf("keep_big in use: %.0f bytes estimated, 8192000 true\n", big);
  ASSERT(big > 0.65 * 8192000 && big < 1.35 * 8192000);
  free(o);
  /* Without samples: a clear error. */
  run_sites(out, "0");
  char *none[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "heap", (char *)out, "-o", (char *)pb, NULL};
  test_proc p = test_run(none, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "the traces hold no heap samples");
  test_proc_free(&p);
  char *leaks[] = {(char *)test_ctrace_bin, "leaks", (char *)out, "-n", "x", NULL};
  p = test_run(leaks, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "-n x: not a count");
  test_proc_free(&p);
  char *badat[] = {(char *)test_ctrace_bin, "leaks", (char *)out, "--at", "soon", NULL};
  p = test_run(badat, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--at wants seconds after the trace's start");
  test_proc_free(&p);
  return 0;
}

/* ---- The analysis, on a synthetic trace (every build, sanitizers included) ---------- */

/* Process 300 at rate 1000: thread a (tid 301) allocates 100 B at 0x1000
 * (stack 1) at +10 ns, 5000 B at 0x2000 (stack 2) at +20; thread b (302)
 * 100 B at 0x3000 (stack 1) at +30; 0x1000 is freed at +40; 0x9999, never
 * sampled, is freed at +45; 0x2000 is allocated again at +50 (its free
 * was not seen), 300 B, stack 2; b frees 0x3000 at +60. The mapping is of
 * a file that does not exist: frames are named module+0xOFFSET. */
#define HT0 1000000
static void write_heap_synth(const char *path) {
  synth *s = synth_new(300, "heapy", HT0, 0);
  synth_thread(s, 1, 301, "a");
  synth_thread(s, 2, 302, "b");
  synth_heap_sampling(s, 1000, "synthetic");
  synth_mapping(s, 0x400000, 0x500000, 0, "/nonexistent/heapy");
  synth_stack(s, 1, (const uint64_t[]){0x401000, 0x402000}, 2);
  synth_stack(s, 2, (const uint64_t[]){0x403000, 0x402000}, 2);
  SYNTH_EV(s, 1, HT0 + 10, CTRACE_FMT_EV_HEAP_SAMPLE, 0x1000, 100, 1);
  SYNTH_EV(s, 1, HT0 + 20, CTRACE_FMT_EV_HEAP_SAMPLE, 0x2000, 5000, 2);
  SYNTH_EV(s, 2, HT0 + 30, CTRACE_FMT_EV_HEAP_SAMPLE, 0x3000, 100, 1);
  SYNTH_EV(s, 1, HT0 + 40, CTRACE_FMT_EV_HEAP_FREE, 0x1000);
  SYNTH_EV(s, 1, HT0 + 45, CTRACE_FMT_EV_HEAP_FREE, 0x9999);
  SYNTH_EV(s, 1, HT0 + 50, CTRACE_FMT_EV_HEAP_SAMPLE, 0x2000, 300, 2);
  SYNTH_EV(s, 2, HT0 + 60, CTRACE_FMT_EV_HEAP_FREE, 0x3000);
  synth_write(s, path);
  synth_free(s);
}

/* The profile's stack whose innermost location is at addr. */
static const cp_stack *stack_at(const cp_profile *p, uint64_t addr) {
  for (size_t i = 0; i < p->nstacks; i++)
    if (p->locs[p->stack_locs[p->stacks[i].first]].addr == addr)
      return &p->stacks[i];
  return NULL;
}

/* The heap profile of [HT0 + since, HT0 + until) (0: the trace's own
 * start or end; the tools count from the index's first event). */
static void heap_profile(vx_index *x, const char *thread, uint64_t since, uint64_t until,
                         cp_profile *p) {
  cp_options o = {.heap = CP_HEAP_INUSE};
  o.w.thread = thread;
  o.w.since = since ? HT0 + since - vx_t0(x) : 0;
  o.w.until = until ? HT0 + until - vx_t0(x) : 0;
  char err[256];
  if (cp_compute(x, &o, p, err, sizeof err))
    TEST_FAIL("cp_compute: %s", err);
}

#define NEAR(a, b) ASSERT(fabs((double)(a) - (double)(b)) < 1e-6 * (fabs((double)(b)) + 1))

TEST_IMPL(heap_profile_synth) {
  const char *path = test_tmp_path("heap.ctrace");
  write_heap_synth(path);
  char err[256];
  char *paths[] = {(char *)path};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  ASSERT(x != NULL);
  vx_heap_info hi = vx_heap(x);
  ASSERT_EQ(hi.rate, 1000);
  ASSERT_EQ(hi.samples, 4);
  ASSERT_EQ(hi.frees, 2);        /* 0x9999 was never sampled: ignored */
  ASSERT_EQ(hi.unseen_frees, 1); /* 0x2000 allocated again */
  double w100 = 1 / -expm1(-100 / 1000.0), w5000 = 1 / -expm1(-5.0), w300 = 1 / -expm1(-0.3);
  NEAR(vx_heap_weight(100, 1000), w100);
  NEAR(vx_heap_weight(100, 1), 1);
  /* The whole trace: everything allocated; in use at the end, stack 2's
   * two blocks (the first's free unseen), nothing of stack 1. */
  cp_profile p;
  heap_profile(x, NULL, 0, 0, &p);
  ASSERT_EQ(p.samples, 4);
  const cp_stack *s1 = stack_at(&p, 0x401000), *s2 = stack_at(&p, 0x403000);
  ASSERT(s1 && s2);
  NEAR(s1->heap[CP_ALLOC_OBJECTS], 2 * w100);
  NEAR(s1->heap[CP_ALLOC_SPACE], 2 * 100 * w100);
  NEAR(s1->heap[CP_INUSE_OBJECTS], 0);
  NEAR(s2->heap[CP_ALLOC_SPACE], 5000 * w5000 + 300 * w300);
  NEAR(s2->heap[CP_INUSE_OBJECTS], w5000 + w300);
  NEAR(p.heap_total[CP_INUSE_SPACE], 5000 * w5000 + 300 * w300);
  /* pprof: four sample types, read back by go tool pprof where it runs */
  unsigned char *gz;
  size_t len;
  ASSERT_EQ(cp_encode_pprof(&p, &gz, &len, err, sizeof err), 0);
  ASSERT(len > 20);
  free(gz);
  cp_free(&p);
  /* In use at +35 ns (the window's end): 0x1000, 0x2000, 0x3000; allocated
   * in [0, 35): the same three. */
  heap_profile(x, NULL, 0, 35, &p);
  s1 = stack_at(&p, 0x401000);
  ASSERT(s1 != NULL);
  NEAR(s1->heap[CP_INUSE_OBJECTS], 2 * w100);
  NEAR(p.heap_total[CP_ALLOC_OBJECTS], 2 * w100 + w5000);
  cp_free(&p);
  /* Allocated in [+25, +55): only thread b's 100 B and a's 300 B; in use at
   * +55: a's 5000 B from before the window too. */
  heap_profile(x, NULL, 25, 55, &p);
  NEAR(p.heap_total[CP_ALLOC_SPACE], 100 * w100 + 300 * w300);
  NEAR(p.heap_total[CP_INUSE_SPACE], 100 * w100 + 5000 * w5000 + 300 * w300);
  cp_free(&p);
  /* Thread b alone. */
  heap_profile(x, "b", 0, 0, &p);
  ASSERT_EQ(p.samples, 1);
  NEAR(p.heap_total[CP_ALLOC_SPACE], 100 * w100);
  cp_free(&p);
  cp_options o = {.heap = CP_HEAP_INUSE};
  o.w.thread = "c";
  ASSERT_EQ(cp_compute(x, &o, &p, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "no thread named 'c'");
  vx_free(x);
  return 0;
}
