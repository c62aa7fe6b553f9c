/* Exact answers of the analyses of `ctrace stats` (viewer/analysis/stats.c,
 * viewer/analyses.c) on real ctrace files written by tests/synth_trace.c:
 * what the Chrome JSON importer cannot carry (thread-state bands from a
 * FILE.kernel, work-item runs, log-to-task links, per-thread heap
 * allocations).
 *
 * The scenario (times in us after the trace's first event, T0 = 1 s of
 * CLOCK_MONOTONIC; "+100" = 100 ns later):
 *
 * Process 100 "synth" (synth.ctrace), threads "main" (serial 1, tid 101)
 * and "worker" (serial 2, tid 102):
 *   main    0  SCHED_CREATE item 7 "fetch"
 *           5  TASK_BEGIN 1 "request"      6 LOG task 1 net "got request"
 *           7  LOG task 0 misc             8 LOG task 99 (no such task) misc
 *          10  region "work" (site 1) .. 115
 *      12+100  HEAP live 1000 alloc 1000 (this thread: 1000)
 *          20  SCHED_RUN 7 .. 45 SCHED_BLOCK "io wait"
 *          30  TASK_BEGIN 2 "request" .. 50 TASK_END 2
 *      35+100  HEAP live 3000 alloc 3000 (2000)
 *          40  LOG task 2 net "small"
 *          50  SCHED_UNBLOCK 8
 *      59..71  WAIT mutex 0xabc (released by worker at 68)
 *      61+100  HEAP live 5000 alloc 6000 (2500)   (inside the wait: charged to "work")
 *          62  LOG task 1 net "replied"
 *          75  LOG task 3 net "queued"
 *      79..91  SYSCALL read
 *     100..110 SYSCALL nanosleep
 *         112  SCHED_RUN 7 .. 125 SCHED_END 7
 *     116+100  HEAP live 4500 alloc 6300 (300)    (no region open)
 *     118..140 region "work" (site 1)
 *     155..165 GC "collection", holding GC "arena reset" 156..157
 *         180  DROPPED 3
 *     190+100  HEAP live 3000 alloc 6900 (0: nothing allocated)
 *         200  INSTANT "mark" (the trace's last event)
 *   worker  1..13  six "short" regions (site 4) of 0, 1, 3, 1023, 1024, 4096 ns
 *           2  SCHED_CREATE item 8 "parse"
 *          30  SCHED_RUN 8 .. 40 SCHED_BLOCK "io wait"; 55 SCHED_RUN 8 .. 58 SCHED_END 8
 *      33..38  region "load" (site 3); HEAP at 36+100: live 2500 alloc 3500 (500)
 *          60  LOG task 1 db "query done"     65 TASK_END 1
 *          70  TASK_BEGIN 3 "request" (never ends)
 *          80  TASK_BEGIN 4 "flush" .. 90 TASK_END 4; 85 LOG task 4 io "flushing"
 *         100  SCHED_UNBLOCK 7; DROPPED 5
 *     150..160 GC "collection"; HEAP at 155+100: live 4000 alloc 6400 (100)
 *     168..172 region "load" (dynamic name); HEAP at 170+100: live 4200 alloc 6900 (500)
 * Process 200 "other" (other.ctrace): thread "other" (tid 201), region "solo" 40..60.
 * synth.ctrace.kernel (pid 100): context switches of tid 101:
 *   in 20, out preempted 40, in 50, out 60, in 70, out 80, in 90, out 100, in 110, out 120,
 *   in 130 (running to the trace's end, 200);
 * and of tid 109 (no events of its own: K_TASK puts it in process 100):
 *   in 10, out preempted 20, in 30, K_EXIT 50.
 *
 * So main's state band: 20..40 running, 40..50 runnable, 50..60 running,
 * 60..70 off cpu under the mutex wait (lock), 70..80 running, 80..90 under
 * read (syscall), 90..100 running, 100..110 under nanosleep (sleep),
 * 110..120 running, 120..130 off cpu with no span (blocked), 130..200
 * running; nothing before 20 (unknown). worker has no band at all.
 *
 * Every check is soft (CHECK_*): a test prints every discrepancy, then
 * fails if there was one. */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "analysis.h"
#include "synth_trace.h"
#include "trace_util.h"
#include "test.h"

#define T0 1000000000ull
#define US 1000ull
#define T(us) (T0 + (uint64_t)(us)*US) /* absolute tick of a time in us */

/* ---- Soft checks ---------------------------------------------------------------------- */

static int failures;

static void check_u(const char *file, int line, const char *what, uint64_t got, uint64_t want) {
  if (got != want) {
    fprintf(stderr, "%s:%d: %s: got %" PRIu64 ", expected %" PRIu64 "\n", file, line, what, got,
            want);
    failures++;
  }
}

static void check_d(const char *file, int line, const char *what, double got, double want) {
  if (!(fabs(got - want) <= 1e-12 * (fabs(want) > 1 ? fabs(want) : 1))) {
    fprintf(stderr, "%s:%d: %s: got %.15g, expected %.15g\n", file, line, what, got, want);
    failures++;
  }
}

static void check_s(const char *file, int line, const char *what, const char *got,
                    const char *want) {
  if (!got || !want ? got != want : strcmp(got, want) != 0) {
    fprintf(stderr, "%s:%d: %s: got \"%s\", expected \"%s\"\n", file, line, what,
            got ? got : "(null)", want ? want : "(null)");
    failures++;
  }
}

#define CHECK_U(a, b) check_u(__FILE__, __LINE__, #a, (uint64_t)(a), (uint64_t)(b))
#define CHECK_D(a, b) check_d(__FILE__, __LINE__, #a, (double)(a), (double)(b))
#define CHECK_S(a, b) check_s(__FILE__, __LINE__, #a, (a), (b))

static int done(void) {
  if (failures)
    TEST_FAIL("%d value(s) differ from the hand-computed answers (listed above)", failures);
  return 0;
}

/* ---- The scenario ------------------------------------------------------------------------ */

enum {
  S_REQUEST = 1,
  S_FLUSH,
  S_NET,
  S_DB,
  S_IO,
  S_COLLECTION,
  S_ARENA,
  S_FETCH,
  S_PARSE,
  S_IOWAIT,
  S_LOAD,
  S_MISC
};
enum { SITE_WORK = 1, SITE_LOAD = 3, SITE_SHORT = 4, SITE_MARK = 5 };
enum { MAIN = 1, WORKER = 2 };

static uint64_t events_written;

static void write_main(const char *path) {
  synth *s = synth_new(100, "synth", T0, 0);
  synth_capture(s, CTRACE_FMT_CAP_WRAPPERS, CTRACE_FMT_CAP_KERNEL, 1, 1, "");
  synth_site(s, SITE_WORK, CTRACE_FMT_SITE_REGION, "work", "a.c", 10, "run");
  synth_site(s, SITE_LOAD, CTRACE_FMT_SITE_REGION, "load", "a.c", 30, "load");
  synth_site(s, SITE_SHORT, CTRACE_FMT_SITE_REGION, "short", "a.c", 40, "tiny");
  synth_site(s, SITE_MARK, CTRACE_FMT_SITE_INSTANT, "mark", "a.c", 50, "run");
  static const char *const strs[] = {NULL,      "request",    "flush",       "net",   "db",
                                     "io",      "collection", "arena reset", "fetch", "parse",
                                     "io wait", "load",       "misc"};
  for (uint32_t i = 1; i < sizeof strs / sizeof *strs; i++)
    synth_string(s, i, strs[i]);
  synth_thread(s, MAIN, 101, "main");
  synth_thread(s, WORKER, 102, "worker");
  synth_end_dropped(s, 8); /* both DROPPED events: 3 + 5 */

  /* main, first batch */
  SYNTH_EV(s, MAIN, T(0), CTRACE_FMT_EV_SCHED_CREATE, 7, S_FETCH);
  SYNTH_EV(s, MAIN, T(5), CTRACE_FMT_EV_TASK_BEGIN, 1, 0, S_REQUEST);
  SYNTH_LOG(s, MAIN, T(6), 1, S_NET, "got request");
  SYNTH_LOG(s, MAIN, T(7), 0, S_MISC, "no task");
  SYNTH_LOG(s, MAIN, T(8), 99, S_MISC, "unknown task");
  SYNTH_EV(s, MAIN, T(10), CTRACE_FMT_EV_REGION_BEGIN, SITE_WORK);
  SYNTH_EV(s, MAIN, T(12) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(1000), 1000,
           CTRACE_FMT_HEAP_PEAK, 1000);
  SYNTH_EV(s, MAIN, T(20), CTRACE_FMT_EV_SCHED_RUN, 7);
  SYNTH_EV(s, MAIN, T(30), CTRACE_FMT_EV_TASK_BEGIN, 2, 1, S_REQUEST);
  SYNTH_EV(s, MAIN, T(35) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(3000), 3000,
           CTRACE_FMT_HEAP_PEAK, 2000);
  SYNTH_LOG(s, MAIN, T(40), 2, S_NET, "small");
  SYNTH_EV(s, MAIN, T(45), CTRACE_FMT_EV_SCHED_BLOCK, S_IOWAIT);
  SYNTH_EV(s, MAIN, T(50), CTRACE_FMT_EV_TASK_END, 2);
  SYNTH_EV(s, MAIN, T(50), CTRACE_FMT_EV_SCHED_UNBLOCK, 8);
  /* worker, first batch */
  for (int i = 0; i < 6; i++) {
    static const uint64_t at[] = {1, 3, 4, 5, 7, 9}, dur[] = {0, 1, 3, 1023, 1024, 4096};
    SYNTH_EV(s, WORKER, T(at[i]), CTRACE_FMT_EV_REGION_BEGIN, SITE_SHORT);
    SYNTH_EV0(s, WORKER, T(at[i]) + dur[i], CTRACE_FMT_EV_REGION_END);
    if (i == 0)
      SYNTH_EV(s, WORKER, T(2), CTRACE_FMT_EV_SCHED_CREATE, 8, S_PARSE);
  }
  SYNTH_EV(s, WORKER, T(30), CTRACE_FMT_EV_SCHED_RUN, 8);
  SYNTH_EV(s, WORKER, T(33), CTRACE_FMT_EV_REGION_BEGIN, SITE_LOAD);
  SYNTH_EV(s, WORKER, T(36) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(2500), 3500, 0, 500);
  SYNTH_EV0(s, WORKER, T(38), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, WORKER, T(40), CTRACE_FMT_EV_SCHED_BLOCK, S_IOWAIT);
  SYNTH_EV(s, WORKER, T(55), CTRACE_FMT_EV_SCHED_RUN, 8);
  SYNTH_EV(s, WORKER, T(58), CTRACE_FMT_EV_SCHED_END, 8);
  SYNTH_LOG(s, WORKER, T(60), 1, S_DB, "query done");
  SYNTH_EV(s, WORKER, T(65), CTRACE_FMT_EV_TASK_END, 1);
  synth_cut(s); /* the rest in second batches (base tick: the thread's previous event) */

  /* main: the mutex wait 59..71, woken by worker (serial 2) at 68 */
  SYNTH_EV(s, MAIN, T(61) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(5000), 6000,
           CTRACE_FMT_HEAP_PEAK, 2500);
  SYNTH_LOG(s, MAIN, T(62), 1, S_NET, "replied");
  SYNTH_EV(s, MAIN, T(71), CTRACE_FMT_EV_WAIT, CTRACE_FMT_WAIT_MUTEX, 12 * US, 0xabc, WORKER,
           3 * US);
  SYNTH_LOG(s, MAIN, T(75), 3, S_NET, "queued");
  SYNTH_EV(s, MAIN, T(91), CTRACE_FMT_EV_SYSCALL, 0 /* read */, 12 * US, 3, ctrace_fmt_zigzag(100));
  SYNTH_EV(s, MAIN, T(110), CTRACE_FMT_EV_SYSCALL, 35 /* nanosleep */, 10 * US, 10 * US, 0);
  SYNTH_EV(s, MAIN, T(112), CTRACE_FMT_EV_SCHED_RUN, 7);
  SYNTH_EV0(s, MAIN, T(115), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, MAIN, T(116) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(4500), 6300, 0, 300);
  SYNTH_EV(s, MAIN, T(118), CTRACE_FMT_EV_REGION_BEGIN, SITE_WORK);
  SYNTH_EV(s, MAIN, T(125), CTRACE_FMT_EV_SCHED_END, 7);
  SYNTH_EV0(s, MAIN, T(140), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, MAIN, T(155), CTRACE_FMT_EV_GC_BEGIN, S_COLLECTION);
  SYNTH_EV(s, MAIN, T(156), CTRACE_FMT_EV_GC_BEGIN, S_ARENA);
  SYNTH_EV0(s, MAIN, T(157), CTRACE_FMT_EV_GC_END);
  SYNTH_EV0(s, MAIN, T(165), CTRACE_FMT_EV_GC_END);
  SYNTH_EV(s, MAIN, T(180), CTRACE_FMT_EV_DROPPED, 3, 1 * US);
  SYNTH_EV(s, MAIN, T(190) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(3000), 6900, 0, 0);
  SYNTH_EV(s, MAIN, T(200), CTRACE_FMT_EV_INSTANT, SITE_MARK);
  /* worker */
  SYNTH_EV(s, WORKER, T(70), CTRACE_FMT_EV_TASK_BEGIN, 3, 0, S_REQUEST);
  SYNTH_EV(s, WORKER, T(80), CTRACE_FMT_EV_TASK_BEGIN, 4, 0, S_FLUSH);
  SYNTH_LOG(s, WORKER, T(85), 4, S_IO, "flushing");
  SYNTH_EV(s, WORKER, T(90), CTRACE_FMT_EV_TASK_END, 4);
  SYNTH_EV(s, WORKER, T(100), CTRACE_FMT_EV_SCHED_UNBLOCK, 7);
  SYNTH_EV(s, WORKER, T(100), CTRACE_FMT_EV_DROPPED, 5, 2 * US);
  SYNTH_EV(s, WORKER, T(150), CTRACE_FMT_EV_GC_BEGIN, S_COLLECTION);
  SYNTH_EV(s, WORKER, T(155) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(4000), 6400, 0, 100);
  SYNTH_EV0(s, WORKER, T(160), CTRACE_FMT_EV_GC_END);
  SYNTH_EV(s, WORKER, T(168), CTRACE_FMT_EV_REGION_BEGIN_STR, S_LOAD);
  SYNTH_EV(s, WORKER, T(170) + 100, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(4200), 6900, 0, 500);
  SYNTH_EV0(s, WORKER, T(172), CTRACE_FMT_EV_REGION_END);
  synth_write(s, path);
  events_written += synth_events(s);
  synth_free(s);
}

static void write_other(const char *path) {
  synth *s = synth_new(200, "other", T0, 0);
  synth_site(s, 1, CTRACE_FMT_SITE_REGION, "solo", "b.c", 1, "main");
  synth_thread(s, 1, 201, "other");
  SYNTH_EV(s, 1, T(40), CTRACE_FMT_EV_REGION_BEGIN, 1);
  SYNTH_EV0(s, 1, T(60), CTRACE_FMT_EV_REGION_END);
  synth_write(s, path);
  events_written += synth_events(s);
  synth_free(s);
}

static void write_kernel(const char *path) {
  synth *s = synth_new(100, "kernel (ctrace run)", T0, 1);
  synth_capture(s, CTRACE_FMT_CAP_WRAPPERS, CTRACE_FMT_CAP_KERNEL, 1, 1, "");
  enum {
    IN = CTRACE_FMT_SWITCH_IN,
    OUT = CTRACE_FMT_SWITCH_OUT,
    PRE = CTRACE_FMT_SWITCH_OUT_PREEMPT
  };
  SYNTH_EV(s, 0, T(10), CTRACE_FMT_EV_K_TASK, 109, 100);
  SYNTH_EV(s, 0, T(10), CTRACE_FMT_EV_K_SWITCH, 109, 2, IN);
  SYNTH_EV(s, 0, T(20), CTRACE_FMT_EV_K_TASK, 101, 100);
  SYNTH_EV(s, 0, T(20), CTRACE_FMT_EV_K_SWITCH, 101, 1, IN);
  SYNTH_EV(s, 0, T(20), CTRACE_FMT_EV_K_SWITCH, 109, 2, PRE);
  SYNTH_EV(s, 0, T(30), CTRACE_FMT_EV_K_SWITCH, 109, 2, IN);
  SYNTH_EV(s, 0, T(40), CTRACE_FMT_EV_K_SWITCH, 101, 1, PRE);
  SYNTH_EV(s, 0, T(50), CTRACE_FMT_EV_K_SWITCH, 101, 1, IN);
  SYNTH_EV(s, 0, T(50), CTRACE_FMT_EV_K_EXIT, 109);
  synth_cut(s);
  static const unsigned sw[][2] = {{60, OUT},  {70, IN},  {80, OUT},  {90, IN},
                                   {100, OUT}, {110, IN}, {120, OUT}, {130, IN}};
  for (size_t i = 0; i < sizeof sw / sizeof *sw; i++)
    SYNTH_EV(s, 0, T(sw[i][0]), CTRACE_FMT_EV_K_SWITCH, 101, 1, sw[i][1]);
  synth_write(s, path);
  events_written += synth_events(s);
  synth_free(s);
}

static vx_index *build_scenario(void) {
  char *paths[3] = {strdup(test_tmp_path("synth.ctrace")), strdup(test_tmp_path("other.ctrace")),
                    strdup(test_tmp_path("synth.ctrace.kernel"))};
  ASSERT(paths[0] && paths[1] && paths[2]);
  events_written = 0;
  write_main(paths[0]);
  write_other(paths[1]);
  write_kernel(paths[2]);
  char err[512] = "";
  vx_index *x = vx_build(paths, 3, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  for (int i = 0; i < 3; i++)
    free(paths[i]);
  ASSERT_UEQ(vx_source_count(x), 3);
  for (size_t i = 0; i < 3; i++) {
    const vx_source *src = vx_source_get(x, i);
    if (src->problem)
      TEST_FAIL("%s: %s", src->path, src->problem);
    ASSERT(src->complete);
  }
  return x;
}

static st_report compute(const vx_index *x, st_options o) {
  st_report r;
  char err[256];
  if (st_compute(x, &o, &r, err, sizeof err))
    TEST_FAIL("st_compute: %s", err);
  return r;
}

/* ---- Finders ---------------------------------------------------------------------------- */

/* The region of this name (and this total, when several have the name). */
static const st_region *region(const st_report *r, const char *name, uint64_t total) {
  for (size_t i = 0; i < r->nregions; i++)
    if (!strcmp(r->regions[i].name, name) && (!total || r->regions[i].total == total))
      return &r->regions[i];
  TEST_FAIL("no region '%s' (total %" PRIu64 ") in the report", name, total);
}

static const st_thread *thread(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->nthreads; i++)
    if (!strcmp(r->threads[i].track->name, name))
      return &r->threads[i];
  TEST_FAIL("no thread '%s' in the report", name);
}

static const st_task_group *group(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->ntask_groups; i++)
    if (!strcmp(r->task_groups[i].name, name))
      return &r->task_groups[i];
  TEST_FAIL("no task group '%s' in the report", name);
}

static const st_item *item(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->nitems; i++)
    if (!strcmp(r->items[i].name, name))
      return &r->items[i];
  TEST_FAIL("no work item '%s' in the report", name);
}

static const st_alloc *alloc(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->nallocs; i++)
    if (!strcmp(r->allocs[i].name, name))
      return &r->allocs[i];
  TEST_FAIL("no allocating region '%s' in the report", name);
}

static void check_states(const char *file, int line, const char *what, const uint64_t *got,
                         uint64_t unknown, uint64_t running, uint64_t runnable, uint64_t syscall,
                         uint64_t lock, uint64_t sleep, uint64_t blocked) {
  const uint64_t want[VX_ST_COUNT_] = {unknown, running, runnable, syscall, lock, sleep, blocked};
  static const char *const names[VX_ST_COUNT_] = {"unknown", "running", "runnable", "syscall",
                                                  "lock",    "sleep",   "blocked"};
  for (int k = 0; k < VX_ST_COUNT_; k++) {
    char w[128];
    snprintf(w, sizeof w, "%s.state[%s]", what, names[k]);
    check_u(file, line, w, got[k], want[k]);
  }
}
/* CHECK_STATES(array, unknown, running, runnable, syscall, lock, sleep, blocked), in us */
#define CHECK_STATES(a, u, rn, rb, sc, lk, sl, bl)                                               \
  check_states(__FILE__, __LINE__, #a, (a), (u)*US, (rn)*US, (rb)*US, (sc)*US, (lk)*US, (sl)*US, \
               (bl)*US)

/* ---- The trace as indexed --------------------------------------------------------------- */

TEST_IMPL(analyses_synth_trace) {
  /* the writer against docs/format.md's worked example: one BATCH of
   * thread 1 from tick 999 000 000: region at site 3 (+200), counter at
   * site 5 = -300 (+45), region end (+90) */
  {
    synth *s = synth_new(1, "example", 999000000, 0);
    synth_thread(s, 1, 1, "t");
    SYNTH_EV(s, 1, 999000200, CTRACE_FMT_EV_REGION_BEGIN, 3);
    SYNTH_EV(s, 1, 999000245, CTRACE_FMT_EV_COUNTER, 5, ctrace_fmt_zigzag(-300));
    SYNTH_EV0(s, 1, 999000335, CTRACE_FMT_EV_REGION_END);
    const char *path = test_tmp_path("example.ctrace");
    synth_write(s, path);
    synth_free(s);
    static const uint8_t want[] = {0x43, 0x54, 0x52, 0x4b, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
                                   0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xe9, 0x5a,
                                   0x04, 0xcf, 0xc0, 0x87, 0x8b, 0x3b, 0x00, 0x00, 0x00, 0x00, 0x43,
                                   0xc8, 0x01, 0x07, 0x2d, 0x05, 0xd7, 0x04, 0xda};
    size_t len;
    char *data = test_read_file(path, &len);
    ASSERT(memmem(data, len, want, sizeof want) != NULL);
    free(data);
  }

  vx_index *x = build_scenario();
  const vx_source *k = vx_source_get(x, 2);
  ASSERT_STR_EQ(k->format, "ctrace-kernel");
  ASSERT_EQ(k->cap_sched, CTRACE_FMT_CAP_KERNEL);
  ASSERT_STR_EQ(vx_source_get(x, 0)->process, "synth");
  ASSERT_EQ(vx_source_get(x, 1)->pid, 200);
  CHECK_U(vx_t0(x), T(0));
  CHECK_U(vx_t1(x), T(200));
  CHECK_U(vx_events(x), events_written); /* main 33 + worker 34, other 2, kernel 17 */
  CHECK_U(events_written, 86);
  CHECK_U(vx_dropped(x), 8);

  st_report r = compute(x, (st_options){0});
  CHECK_U(r.trace_t1 - r.trace_t0, 200 * US);
  CHECK_U(r.processes, 2);
  CHECK_U(r.has_sched, 1);
  CHECK_U(r.derived_only, 0);
  /* by pid, then serial (ctrace threads) or tid (kernel-only ones) */
  ASSERT_UEQ(r.nthreads, 4);
  CHECK_S(r.threads[0].track->name, "main");
  CHECK_S(r.threads[1].track->name, "worker");
  CHECK_S(r.threads[2].track->name, "tid 109");
  CHECK_S(r.threads[3].track->name, "other");
  CHECK_U(r.threads[2].track->pid, 100); /* from K_TASK */

  /* main: running 20..40, 50..60, 70..80, 90..100, 110..120, 130..200 =
   * 20+10+10+10+10+70 = 130; the rest as listed at the top */
  const st_thread *t = thread(&r, "main");
  CHECK_U(t->has_states, 1);
  CHECK_U(t->derived, 0);
  CHECK_STATES(t->state, 0, 130, 10, 10, 10, 10, 10);
  CHECK_U(t->regions, 4); /* work x2, collection, arena reset */
  t = thread(&r, "worker");
  CHECK_U(t->has_states, 0);
  CHECK_U(t->regions, 9); /* short x6, load, collection, load */
  /* tid 109: running 10..20 and 30..50 (its exit), runnable 20..30 */
  t = thread(&r, "tid 109");
  CHECK_U(t->has_states, 1);
  CHECK_STATES(t->state, 0, 30, 10, 0, 0, 0, 0);
  CHECK_U(t->regions, 0);

  /* the wrappers' spans: read 79..91, nanosleep 100..110, one mutex wait */
  ASSERT_UEQ(r.nsyscalls, 2);
  CHECK_S(r.syscalls[0].name, "read");
  CHECK_U(r.syscalls[0].total, 12 * US);
  CHECK_S(r.syscalls[1].name, "nanosleep");
  CHECK_U(r.syscalls[1].total, 10 * US);
  ASSERT_UEQ(r.nblocks, 1);
  CHECK_S(r.blocks[0].name, "mutex wait");
  CHECK_U(r.blocks[0].object, 0xabc);
  CHECK_U(r.blocks[0].total, 12 * US);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Regions: by state, histogram ------------------------------------------------------- */

TEST_IMPL(analyses_regions) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  /* by total: work 127, collection 20 = solo 20 (by name), short 6.147,
   * load 5, load 4, arena reset 1 */
  ASSERT_UEQ(r.nregions, 7);
  static const char *const order[] = {"work", "collection", "solo",       "short",
                                      "load", "load",       "arena reset"};
  for (size_t i = 0; i < 7; i++)
    CHECK_S(r.regions[i].name, order[i]);

  /* work: 10..115 (105 us) and 118..140 (22 us) */
  const st_region *g = region(&r, "work", 0);
  CHECK_U(g->count, 2);
  CHECK_U(g->total, 127 * US);
  CHECK_U(g->self, 93 * US); /* 105 - wait 12 - read 12 - nanosleep 10 = 71, + 22 */
  CHECK_U(g->min, 22 * US);
  CHECK_U(g->max, 105 * US);
  CHECK_U(g->p50, 22 * US);  /* rank ceil(0.5 * 2) = 1 */
  CHECK_U(g->p90, 105 * US); /* rank 2 */
  CHECK_U(g->p99, 105 * US);
  /* 10..115: unknown 10..20 (10), running 20..40, 50..60, 70..80, 90..100,
   * 110..115 (55), runnable 40..50, lock 60..70, syscall 80..90, sleep
   * 100..110; 118..140: running 118..120 and 130..140 (12), blocked
   * 120..130. Running 55 + 12 = 67. */
  CHECK_STATES(g->state, 10, 67, 10, 10, 10, 10, 10);
  /* 22000 ns in [2^14, 2^15), 105000 in [2^16, 2^17) */
  for (unsigned b = 0; b < ST_HIST; b++)
    CHECK_U(g->hist[b], b == 14 || b == 16);

  /* short: 0, 1, 3, 1023, 1024, 4096 ns on worker, which has no states */
  g = region(&r, "short", 0);
  CHECK_U(g->count, 6);
  CHECK_U(g->total, 6147);
  CHECK_U(g->self, 6147);
  CHECK_U(g->min, 0);
  CHECK_U(g->max, 4096);
  CHECK_U(g->p50, 3);    /* rank ceil(3) = 3 of 0 1 3 1023 1024 4096 */
  CHECK_U(g->p90, 4096); /* rank ceil(5.4) = 6 */
  CHECK_U(g->p99, 4096);
  CHECK_U(g->state[0], 6147); /* all unknown (the 0 ns one adds nothing) */
  for (int k = 1; k < VX_ST_COUNT_; k++)
    CHECK_U(g->state[k], 0);
  /* 0 and 1 in bucket 0, 3 in [2, 4), 1023 in [512, 1024), 1024 in [1024,
   * 2048), 4096 in [4096, 8192) */
  for (unsigned b = 0; b < ST_HIST; b++)
    CHECK_U(g->hist[b], b == 0 ? 2 : b == 1 || b == 9 || b == 10 || b == 12 ? 1 : 0);

  /* collection: main 155..165 (holds arena reset 156..157, running), worker
   * 150..160 (no states) */
  g = region(&r, "collection", 0);
  CHECK_U(g->count, 2);
  CHECK_U(g->total, 20 * US);
  CHECK_U(g->self, 19 * US);
  CHECK_STATES(g->state, 10, 10, 0, 0, 0, 0, 0);
  CHECK_U(g->hist[13], 2); /* 10000 in [8192, 16384) */
  g = region(&r, "arena reset", 0);
  CHECK_STATES(g->state, 0, 1, 0, 0, 0, 0, 0);
  /* the site "load" and the dynamic "load" are two labels */
  CHECK_U(region(&r, "load", 5 * US)->count, 1);
  CHECK_U(region(&r, "load", 4 * US)->count, 1);
  g = region(&r, "solo", 0);
  CHECK_STATES(g->state, 20, 0, 0, 0, 0, 0, 0);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Tasks -------------------------------------------------------------------------------- */

TEST_IMPL(analyses_tasks) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  /* request: 1 (5..65, main -> worker) 60, 2 (30..50) 20, 3 (70.., never
   * ends) to the window's end 200: 130. Total 210. */
  ASSERT_UEQ(r.ntask_groups, 2);
  CHECK_S(r.task_groups[0].name, "request");
  CHECK_S(r.task_groups[1].name, "flush");
  const st_task_group *g = group(&r, "request");
  CHECK_U(g->count, 3);
  CHECK_U(g->unfinished, 1);
  /* the unfinished task 3 lasts to the window's end, 200 */
  CHECK_U(g->total, 210 * US);
  CHECK_U(g->min, 20 * US);
  CHECK_U(g->p50, 60 * US);  /* rank 2 of 20 60 130 */
  CHECK_U(g->p90, 130 * US); /* rank ceil(2.7) = 3 */
  CHECK_U(g->p99, 130 * US);
  CHECK_U(g->max, 130 * US);
  /* logs: task 1 at 6, 60, 62; task 2 at 40; task 3 at 75 (not the ones of
   * task 0 or of the unknown task 99) */
  CHECK_U(g->logs, 5);
  g = group(&r, "flush");
  CHECK_U(g->count, 1);
  CHECK_U(g->unfinished, 0);
  CHECK_U(g->total, 10 * US);
  CHECK_U(g->min, 10 * US);
  CHECK_U(g->p50, 10 * US);
  CHECK_U(g->p99, 10 * US);
  CHECK_U(g->max, 10 * US);
  CHECK_U(g->logs, 1);

  /* the longest: 3 (130), 1 (60), 2 (20), 4 (10) */
  ASSERT_UEQ(r.ntasks, 4);
  static const uint64_t ids[] = {3, 1, 2, 4}, durs[] = {130, 60, 20, 10};
  static const char *const from[] = {"worker", "main", "main", "worker"};
  static const char *const to[] = {NULL, "worker", "main", "worker"};
  for (size_t i = 0; i < 4; i++) {
    CHECK_U(r.tasks[i].task->id, ids[i]);
    CHECK_U(r.tasks[i].dur, durs[i] * US);
    CHECK_S(r.tasks[i].thread, from[i]);
    CHECK_S(r.tasks[i].end_thread, to[i]);
    CHECK_S(r.tasks[i].name, ids[i] == 4 ? "flush" : "request");
  }
  CHECK_U(r.tasks[0].task->end, UINT64_MAX);
  CHECK_U(r.tasks[1].task->start, T(5));
  CHECK_U(r.tasks[1].task->parent, 0);
  CHECK_U(r.tasks[2].task->parent, 1);
  /* their logs, in time order (gathered thread by thread: main's 6 and 62,
   * worker's 60) */
  static const struct {
    uint64_t task, ts;
    const char *cat, *msg;
  } logs[] = {{3, 75, "net", "queued"},  {1, 6, "net", "got request"}, {1, 60, "db", "query done"},
              {1, 62, "net", "replied"}, {2, 40, "net", "small"},      {4, 85, "io", "flushing"}};
  size_t li = 0;
  for (size_t i = 0; i < 4; i++) {
    size_t n = 0;
    for (size_t k = 0; k < sizeof logs / sizeof *logs; k++)
      n += logs[k].task == r.tasks[i].task->id;
    CHECK_U(r.tasks[i].nlogs, n);
    for (size_t k = 0; k < n && k < r.tasks[i].nlogs; k++, li++) {
      CHECK_U(r.tasks[i].logs[k].ts, T(logs[li].ts));
      CHECK_S(r.tasks[i].logs[k].category, logs[li].cat);
      CHECK_S(r.tasks[i].logs[k].message, logs[li].msg);
    }
  }
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Work items ------------------------------------------------------------------------- */

TEST_IMPL(analyses_items) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  ASSERT_UEQ(r.nitems, 2);
  CHECK_S(r.items[0].name, "fetch"); /* by run time */
  CHECK_S(r.items[1].name, "parse");
  /* fetch on main: 20..45 (25: running 20..40, runnable 40..45) and
   * 112..125 (13: running 112..120, blocked 120..125); unblocked on worker
   * at 100, ran at 112: waited 12. (The mutex wait's arrow, worker 68 ->
   * main 71, is no unblock: no run starts at 71.) */
  const st_item *m = item(&r, "fetch");
  CHECK_U(m->runs, 2);
  CHECK_U(m->run, 38 * US);
  CHECK_U(m->wait, 12 * US);
  CHECK_U(m->waits, 1);
  CHECK_STATES(m->state, 0, 28, 5, 0, 0, 0, 5);
  /* parse on worker (no states): 30..40 and 55..58; unblocked on main at
   * 50, ran at 55 */
  m = item(&r, "parse");
  CHECK_U(m->runs, 2);
  CHECK_U(m->run, 13 * US);
  CHECK_U(m->wait, 5 * US);
  CHECK_U(m->waits, 1);
  CHECK_STATES(m->state, 13, 0, 0, 0, 0, 0, 0);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Minimum mutator utilization ------------------------------------------------------- */

/* The curve's widths: round(1000 * 10^(k/4)) ns. */
static const uint64_t widths[] = {1000,  1778,  3162,  5623,   10000,
                                  17783, 31623, 56234, 100000, 177828};

TEST_IMPL(analyses_mmu) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  ASSERT(r.mmu);
  /* P: main, worker and tid 109 (process 100 has phases); not "other"
   * (process 200 has none). Phases: worker 150..160, main 155..165 (with
   * arena reset nested: one phase). */
  CHECK_U(r.mmu->threads, 3);
  CHECK_U(r.mmu->phases, 2);
  CHECK_U(r.mmu->gc, 20 * US);
  /* g (threads in a phase): 1 on 150..155, 2 on 155..160, 1 on 160..165;
   * P (threads alive): main 0..200 and worker 1..172 (tid 109 ended at 50),
   * so 1 - u = g/P is 0.5, 1, 0.5 there. The most of it a window of width w
   * holds: w for w <= 5 us; 5 + (w - 5)/2 us up to 15 us; 10 us beyond.
   * mmu = 1 - that / w. */
  ASSERT_UGE(r.mmu->ncurve, 11);
  CHECK_U(r.mmu->ncurve, 11);
  for (size_t k = 0; k < 10 && k < r.mmu->ncurve; k++) {
    uint64_t w = widths[k];
    double lost = w <= 5000 ? (double)w : w <= 15000 ? 2500.0 + (double)w / 2 : 10000.0;
    CHECK_U(r.mmu->curve[k].window, w);
    CHECK_D(r.mmu->curve[k].mmu, 1 - lost / (double)w);
  }
  CHECK_D(r.mmu->curve[0].mmu, 0);
  CHECK_D(r.mmu->curve[4].mmu, 0.25); /* 10 us: 1 - 7.5/10 */
  CHECK_D(r.mmu->curve[8].mmu, 0.9);  /* 100 us: 1 - 10/100 */
  /* the last width is the window's length, 200 us: 1 - 10/200 */
  CHECK_U(r.mmu->curve[r.mmu->ncurve - 1].window, 200 * US);
  CHECK_D(r.mmu->curve[r.mmu->ncurve - 1].mmu, 0.95);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Heap ------------------------------------------------------------------------------- */

/* The point of a series at ts (relative ns), or NAN. */
static double series_at(const st_heap_series *h, const double *v, uint64_t ts) {
  for (size_t i = 0; i < h->n; i++)
    if (h->ts[i] == ts)
      return v[i];
  return NAN;
}

TEST_IMPL(analyses_heap) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  /* live: 1000 3000 2500 5000 4500 4000 4200 3000 */
  ASSERT_UEQ(r.nheaps, 1);
  CHECK_S(r.heaps[0].track->name, "heap live bytes");
  CHECK_U(r.heaps[0].track->pid, 100);
  CHECK_D(r.heaps[0].peak, 5000);
  CHECK_D(r.heaps[0].final, 3000);

  /* who allocated: work 1000 + 2000 + 2500 (the last inside the mutex
   * wait, charged to the region around it); load: 500 (site) + 500
   * (dynamic name: one row by name); (no region): 300 at 116; collection
   * (a GC phase) 100; the HEAP at 190 allocated nothing. */
  ASSERT_UEQ(r.nallocs, 4);
  static const struct {
    const char *name;
    double bytes;
    uint64_t samples;
  } want[] = {
      {"work", 5500, 3}, {"load", 1000, 2}, {"(no region)", 300, 1}, {"collection", 100, 1}};
  for (size_t i = 0; i < 4; i++) {
    CHECK_S(r.allocs[i].name, want[i].name);
    CHECK_D(r.allocs[i].bytes, want[i].bytes);
    CHECK_U(r.allocs[i].samples, want[i].samples);
  }

  /* the series: 400 steps of 500 ns from 0 */
  ASSERT(r.series);
  const st_heap_series *h = r.series;
  CHECK_U(h->pid, 100);
  CHECK_D(h->peak, 5000);
  CHECK_U(h->n, ST_SERIES);
  CHECK_U(h->ts[1], 500);
  CHECK_U(!!isnan(h->live[23]), 1);            /* 11.5..12: nothing yet */
  CHECK_D(series_at(h, h->live, 12000), 1000); /* 12.1 */
  CHECK_D(series_at(h, h->live, 35000), 3000); /* 35.1 */
  CHECK_D(series_at(h, h->live, 36000), 3000); /* 3000 holds, 2500 at 36.1 */
  CHECK_D(series_at(h, h->live, 36500), 2500);
  CHECK_D(series_at(h, h->live, 60500), 2500);
  CHECK_D(series_at(h, h->live, 61000), 5000); /* the peak at 61.1 */
  CHECK_D(series_at(h, h->live, 199000), 3000);
  /* rate: allocated bytes in the step / 500 ns */
  CHECK_D(series_at(h, h->rate, 35000), 2000 * 1e9 / 500);
  CHECK_D(series_at(h, h->rate, 35500), 0);
  CHECK_D(series_at(h, h->rate, 36000), 500 * 1e9 / 500);
  CHECK_D(series_at(h, h->rate, 61000), 2500 * 1e9 / 500);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- A window: 30..158 us ----------------------------------------------------------------- */

TEST_IMPL(analyses_window) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){.since = 30 * US, .until = 158 * US});
  CHECK_U(r.t0, T(30));
  CHECK_U(r.t1, T(158));
  CHECK_U(r.windowed, 1);
  CHECK_U(r.events, events_written);
  CHECK_U(r.dropped, 8);
  /* counters: the 5 HEAP events at 35.1 .. 155.1, twice (live, allocated);
   * main: slices work, work, collection, wait, read, nanosleep, arena reset
   * (7) and instants at 40 (log), 45 (sched block), 62, 75 (logs) (4);
   * worker: load, collection (2) and instants at 40 (block), 60, 85 (logs),
   * 100 (dropped) (4); other: solo (1). 10 + 11 + 6 + 1 = 28. */
  CHECK_U(r.window_events, 28);
  CHECK_U(r.window_dropped, 5); /* worker's at 100; not main's at 180 */

  /* main's states, clipped: running 30..40, 50..60, 70..80, 90..100,
   * 110..120, 130..158 = 10*5 + 28 = 78 */
  CHECK_STATES(thread(&r, "main")->state, 0, 78, 10, 10, 10, 10, 10);
  CHECK_STATES(thread(&r, "tid 109")->state, 0, 20, 0, 0, 0, 0, 0); /* 30..50 */

  /* regions: work 30..115 (85) and 118..140 (22); collection 155..158 (3,
   * holding arena reset) and 150..158 (8); solo 20; load 5; arena reset 1;
   * short and the dynamic load are outside */
  ASSERT_UEQ(r.nregions, 5);
  const st_region *g = region(&r, "work", 0);
  CHECK_U(g->count, 2);
  CHECK_U(g->total, 107 * US);
  CHECK_U(g->self, 73 * US); /* 85 - 34 + 22 */
  CHECK_U(g->min, 22 * US);
  CHECK_U(g->max, 85 * US);
  CHECK_U(g->p50, 22 * US);
  CHECK_U(g->p90, 85 * US);
  /* 30..115: running 30..40, 50..60, 70..80, 90..100, 110..115 (45) and
   * the rest as before; 118..140: running 12, blocked 10 */
  CHECK_STATES(g->state, 0, 57, 10, 10, 10, 10, 10);
  for (unsigned b = 0; b < ST_HIST; b++)
    CHECK_U(g->hist[b], b == 14 || b == 16); /* 22000 and 85000 */
  g = region(&r, "collection", 0);
  CHECK_U(g->count, 2);
  CHECK_U(g->total, 11 * US);
  CHECK_U(g->self, 10 * US); /* 3 - 1 + 8 */
  CHECK_U(g->min, 3 * US);
  CHECK_U(g->max, 8 * US);
  CHECK_STATES(g->state, 8, 3, 0, 0, 0, 0, 0);
  CHECK_U(g->hist[11], 1); /* 3000 in [2048, 4096) */
  CHECK_U(g->hist[12], 1); /* 8000 in [4096, 8192) */

  /* tasks: 1 30..65 (35), 2 30..50 (20), 3 70..158 (88, unfinished), 4 10 */
  const st_task_group *tg = group(&r, "request");
  CHECK_U(tg->count, 3);
  CHECK_U(tg->unfinished, 1);
  CHECK_U(tg->total, 143 * US);
  CHECK_U(tg->min, 20 * US);
  CHECK_U(tg->p50, 35 * US);
  CHECK_U(tg->p90, 88 * US);
  CHECK_U(tg->max, 88 * US);
  CHECK_U(tg->logs, 4); /* 40, 60, 62, 75; not 6 */
  CHECK_U(group(&r, "flush")->logs, 1);
  ASSERT_UEQ(r.ntasks, 4);
  CHECK_U(r.tasks[0].task->id, 3);
  CHECK_U(r.tasks[0].dur, 88 * US);
  CHECK_U(r.tasks[1].task->id, 1);
  CHECK_U(r.tasks[1].dur, 35 * US);
  CHECK_U(r.tasks[1].nlogs, 2);
  if (r.tasks[1].nlogs == 2) { /* in time order */
    CHECK_U(r.tasks[1].logs[0].ts, T(60));
    CHECK_S(r.tasks[1].logs[0].message, "query done");
    CHECK_U(r.tasks[1].logs[1].ts, T(62));
    CHECK_S(r.tasks[1].logs[1].message, "replied");
  }

  /* items: fetch 30..45 (15: running 10, runnable 5) + 112..125 (13);
   * parse 30..40 + 55..58; the waits are inside */
  const st_item *m = item(&r, "fetch");
  CHECK_U(m->runs, 2);
  CHECK_U(m->run, 28 * US);
  CHECK_U(m->wait, 12 * US);
  CHECK_U(m->waits, 1);
  CHECK_STATES(m->state, 0, 18, 5, 0, 0, 0, 5);
  m = item(&r, "parse");
  CHECK_U(m->runs, 2);
  CHECK_U(m->run, 13 * US);
  CHECK_U(m->wait, 5 * US);
  CHECK_U(m->waits, 1);

  /* mmu: phases clipped to 150..158 (worker) and 155..158 (main): g = 1 on
   * 150..155, 2 on 155..158, 11 us in all; P = 2 then (main, worker), so
   * 1 - u is 0.5 then 1; a window of width w holds at most w (w <= 3 us),
   * 3 + (w - 3)/2 us (w <= 8 us, ending at 158), 5.5 us */
  ASSERT(r.mmu);
  CHECK_U(r.mmu->threads, 3);
  CHECK_U(r.mmu->phases, 2);
  CHECK_U(r.mmu->gc, 11 * US);
  CHECK_U(r.mmu->ncurve, 10); /* 1 us .. 100 us, then the window, 128 us */
  for (size_t k = 0; k < r.mmu->ncurve && k < 10; k++) {
    uint64_t w = k < 9 ? widths[k] : 128 * US;
    double lost = w <= 3000 ? (double)w : w <= 8000 ? 1500.0 + (double)w / 2 : 5500.0;
    CHECK_U(r.mmu->curve[k].window, w);
    CHECK_D(r.mmu->curve[k].mmu, 1 - lost / (double)w);
  }

  /* heap: 1000 holds at 30, then 3000 2500 5000 4500 4000 */
  ASSERT_UEQ(r.nheaps, 1);
  CHECK_D(r.heaps[0].peak, 5000);
  CHECK_D(r.heaps[0].final, 4000);
  ASSERT(r.series);
  CHECK_D(r.series->peak, 5000);
  CHECK_U(r.series->n, ST_SERIES);
  CHECK_U(r.series->ts[1], 320); /* 128 us / 400 */
  /* 35.1 work 2000, 36.1 load 500, 61.1 work 2500, 116.1 none 300, 155.1
   * collection 100 */
  ASSERT_UEQ(r.nallocs, 4);
  CHECK_S(r.allocs[0].name, "work");
  CHECK_D(r.allocs[0].bytes, 4500);
  CHECK_U(r.allocs[0].samples, 2);
  CHECK_D(alloc(&r, "load")->bytes, 500);
  CHECK_D(alloc(&r, "(no region)")->bytes, 300);
  CHECK_D(alloc(&r, "collection")->bytes, 100);
  st_free(&r);

  /* a window with no phase: no curve */
  r = compute(x, (st_options){.since = 20 * US, .until = 140 * US});
  CHECK_U(r.mmu == NULL, 1);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- One thread: "worker" ------------------------------------------------------------------ */

TEST_IMPL(analyses_thread) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){.thread = "worker"});
  ASSERT_UEQ(r.nthreads, 1);
  /* worker's slices (9) and instants (40 block, 60 and 85 logs, 100
   * dropped); no counters with a thread */
  CHECK_U(r.window_events, 13);
  CHECK_U(r.window_dropped, 5);
  ASSERT_UEQ(r.nregions, 4); /* short, collection, load, load */
  const st_region *g = region(&r, "collection", 0);
  CHECK_U(g->count, 1);
  CHECK_U(g->total, 10 * US);
  CHECK_STATES(g->state, 10, 0, 0, 0, 0, 0, 0);

  /* tasks begun on worker: 3 (its log is on main: counted all the same)
   * and 4 */
  ASSERT_UEQ(r.ntask_groups, 2);
  const st_task_group *tg = group(&r, "request");
  CHECK_U(tg->count, 1);
  CHECK_U(tg->unfinished, 1);
  CHECK_U(tg->logs, 1);
  CHECK_U(group(&r, "flush")->count, 1);
  ASSERT_UEQ(r.ntasks, 2);
  CHECK_U(r.tasks[0].task->id, 3);
  CHECK_U(r.tasks[0].nlogs, 1);
  CHECK_U(r.tasks[1].task->id, 4);

  /* items run on worker: parse only */
  ASSERT_UEQ(r.nitems, 1);
  CHECK_S(r.items[0].name, "parse");
  CHECK_U(r.items[0].run, 13 * US);
  CHECK_U(r.items[0].wait, 5 * US);

  /* mmu: P = 1 (worker), its phase 150..160: nothing left in windows up to
   * 10 us, then 1 - 10/w */
  ASSERT(r.mmu);
  CHECK_U(r.mmu->threads, 1);
  CHECK_U(r.mmu->phases, 1);
  CHECK_U(r.mmu->gc, 10 * US);
  for (size_t k = 0; k < 10 && k < r.mmu->ncurve; k++) {
    uint64_t w = widths[k], gt = w <= 10000 ? w : 10000;
    CHECK_U(r.mmu->curve[k].window, w);
    CHECK_D(r.mmu->curve[k].mmu, (double)(w - gt) / (double)w);
  }

  /* allocations on worker only: load 1000 (2), collection 100 */
  ASSERT_UEQ(r.nallocs, 2);
  CHECK_S(r.allocs[0].name, "load");
  CHECK_D(r.allocs[0].bytes, 1000);
  CHECK_U(r.allocs[0].samples, 2);
  CHECK_S(r.allocs[1].name, "collection");
  CHECK_D(r.allocs[1].bytes, 100);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- The same through st_json (the viewer's /api/analysis) ------------------------------- */

static const cJSON *jget(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!v)
    TEST_FAIL("no '%s' in the JSON", k);
  return v;
}

static double jnum_(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("'%s' is not a number", k);
  return v->valuedouble;
}

static const char *js(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jat(const cJSON *a, int i) {
  const cJSON *v = cJSON_GetArrayItem(a, i);
  if (!v)
    TEST_FAIL("no item %d in the JSON array", i);
  return v;
}

TEST_IMPL(analyses_json) {
  vx_index *x = build_scenario();
  st_report r = compute(x, (st_options){0});
  cJSON *root = st_json(x, &r, 0, ST_SORT_TOTAL);
  ASSERT(root);
  CHECK_S(js(root, "scheduling"), "kernel");
  CHECK_D(jnum_(root, "span_ns"), 200 * US);
  CHECK_D(jnum_(jget(root, "window"), "until_ns"), 200 * US);
  /* counters 8 + 8; main 7 slices, 9 instants (logs at 6 7 8 40 62 75, block,
   * dropped, mark); worker 9 slices, 4 instants; other 1 */
  CHECK_D(jnum_(jget(root, "window"), "events"), 46);
  CHECK_D(jnum_(jget(root, "window"), "dropped"), 8);

  const cJSON *th = jat(jget(root, "threads"), 0);
  CHECK_S(js(th, "name"), "main");
  CHECK_D(jnum_(th, "running_ns"), 130 * US);
  CHECK_D(jnum_(th, "locks_ns"), 10 * US);
  CHECK_D(jnum_(th, "offcpu_ns"), 10 * US);

  const cJSON *g = jat(jget(root, "regions"), 0);
  CHECK_S(js(g, "name"), "work");
  CHECK_D(jnum_(g, "mean_ns"), 63500);
  const cJSON *hist = jget(g, "hist");
  CHECK_U(cJSON_GetArraySize(hist), 2);
  CHECK_D(jnum_(jat(hist, 0), "lo_ns"), 16384);
  CHECK_D(jnum_(jat(hist, 0), "hi_ns"), 32768);
  CHECK_D(jnum_(jat(hist, 1), "lo_ns"), 65536);
  CHECK_D(jnum_(jat(hist, 1), "count"), 1);
  const cJSON *bs = jget(g, "by_state");
  CHECK_D(jnum_(bs, "unknown_ns"), 10 * US);
  CHECK_D(jnum_(bs, "running_ns"), 67 * US);
  CHECK_D(jnum_(bs, "runnable_ns"), 10 * US);
  CHECK_D(jnum_(bs, "syscalls_ns"), 10 * US);
  CHECK_D(jnum_(bs, "locks_ns"), 10 * US);
  CHECK_D(jnum_(bs, "sleeping_ns"), 10 * US);
  CHECK_D(jnum_(bs, "offcpu_ns"), 10 * US);
  g = jat(jget(root, "regions"), 3);
  CHECK_S(js(g, "name"), "short");
  hist = jget(g, "hist");
  CHECK_U(cJSON_GetArraySize(hist), 5);
  CHECK_D(jnum_(jat(hist, 0), "lo_ns"), 0);
  CHECK_D(jnum_(jat(hist, 0), "hi_ns"), 2);
  CHECK_D(jnum_(jat(hist, 0), "count"), 2);

  const cJSON *tk = jget(root, "tasks");
  const cJSON *bn = jat(jget(tk, "by_name"), 0);
  CHECK_S(js(bn, "name"), "request");
  CHECK_D(jnum_(bn, "count"), 3);
  CHECK_D(jnum_(bn, "unfinished"), 1);
  CHECK_D(jnum_(bn, "logs"), 5);
  CHECK_D(jnum_(bn, "p50_ns"), 60 * US);
  const cJSON *lg = jget(tk, "longest");
  CHECK_U(cJSON_GetArraySize(lg), 4);
  const cJSON *t1 = jat(lg, 1);
  CHECK_D(jnum_(t1, "id"), 1);
  CHECK_D(jnum_(t1, "start_ns"), 5 * US);
  CHECK_D(jnum_(t1, "dur_ns"), 60 * US);
  CHECK_S(js(t1, "thread"), "main");
  CHECK_S(js(t1, "end_thread"), "worker");
  CHECK_U(cJSON_IsFalse(jget(t1, "unfinished")), 1);
  CHECK_U(cJSON_IsTrue(jget(jat(lg, 0), "unfinished")), 1);
  const cJSON *tl = jget(t1, "logs");
  CHECK_U(cJSON_GetArraySize(tl), 3);
  CHECK_D(jnum_(jat(tl, 0), "ts_ns"), 6 * US);
  CHECK_S(js(jat(tl, 0), "category"), "net");
  CHECK_S(js(jat(tl, 0), "message"), "got request");
  CHECK_D(jnum_(jat(tl, 1), "ts_ns"), 60 * US);

  const cJSON *it = jat(jget(root, "items"), 0);
  CHECK_S(js(it, "name"), "fetch");
  CHECK_D(jnum_(it, "runs"), 2);
  CHECK_D(jnum_(it, "run_ns"), 38 * US);
  CHECK_D(jnum_(it, "wait_ns"), 12 * US);
  CHECK_D(jnum_(it, "waits"), 1);
  CHECK_D(jnum_(jget(it, "by_state"), "running_ns"), 28 * US);
  CHECK_D(jnum_(jget(it, "by_state"), "offcpu_ns"), 5 * US);

  const cJSON *mmu = jget(root, "mmu");
  CHECK_D(jnum_(mmu, "threads"), 3);
  CHECK_D(jnum_(mmu, "phases"), 2);
  CHECK_D(jnum_(mmu, "gc_ns"), 20 * US);
  const cJSON *pt = jat(jget(mmu, "curve"), 4);
  CHECK_D(jnum_(pt, "window_ns"), 10000);
  CHECK_D(jnum_(pt, "mmu"), 0.25);

  const cJSON *hs = jget(root, "heap_series");
  CHECK_D(jnum_(hs, "pid"), 100);
  CHECK_D(jnum_(hs, "peak_bytes"), 5000);
  const cJSON *live = jget(hs, "live");
  /* unknown values are left out: the first point is at 12 us */
  CHECK_U(cJSON_GetArraySize(live), ST_SERIES - 24);
  CHECK_D(cJSON_GetArrayItem(jat(live, 0), 0)->valuedouble, 12000);
  CHECK_D(cJSON_GetArrayItem(jat(live, 0), 1)->valuedouble, 1000);
  const cJSON *ta = jget(hs, "top_allocating");
  CHECK_U(cJSON_GetArraySize(ta), 4);
  CHECK_S(js(jat(ta, 0), "region"), "work");
  CHECK_D(jnum_(jat(ta, 0), "bytes"), 5500);
  CHECK_D(jnum_(jat(ta, 0), "samples"), 3);
  CHECK_S(js(jat(ta, 2), "region"), "(no region)");
  const cJSON *hp = jat(jget(root, "heap"), 0);
  CHECK_D(jnum_(hp, "peak_bytes"), 5000);
  CHECK_D(jnum_(hp, "final_bytes"), 3000);
  cJSON_Delete(root);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Two processes with tasks and items of the same names --------------------------------- */

/* Process 100 (p1.ctrace), thread "a":
 *    0  SCHED_CREATE 5 "job"; TASK_BEGIN 1 "request" .. 20 TASK_END 1
 *   10  LOG task 1 net "p1 log"
 *   25..30  WAIT condvar, released by thread "a2" (serial 2, no events) at 28
 *   30  SCHED_RUN 5 .. 40 SCHED_END 5 (never unblocked: no wait)
 *   50  HEAP live 100 (allocated 100)                    (no region)
 *   60  region "outer" .. 70, holding "inner" 62 .. 66
 *   64  HEAP live 300 (200)                              (inner)
 *   66  HEAP live 350 (50), just after inner's end        (outer)
 *   70  HEAP live 375 (25), just after outer's end        (no region)
 *  100  INSTANT "mark"
 * Process 200 (p2.ctrace), thread "b":
 *    5  SCHED_CREATE 5 "job"; TASK_BEGIN 1 "request" .. 45 TASK_END 1
 *   15, 16  LOG task 1 db "p2 log one", "p2 log two"
 *   50  SCHED_RUN 5 .. 80 SCHED_END 5
 *   90  HEAP live 1000 (1000)                            (no region)
 * Task and item ids are the processes' own (both 1, both 5). */
static vx_index *build_processes(void) {
  char *paths[2] = {strdup(test_tmp_path("p1.ctrace")), strdup(test_tmp_path("p2.ctrace"))};
  ASSERT(paths[0] && paths[1]);
  enum { REQ = 1, JOB, NET, DB };
  for (int p = 0; p < 2; p++) {
    synth *s = synth_new(p ? 200 : 100, p ? "p2" : "p1", T0, 0);
    synth_string(s, REQ, "request");
    synth_string(s, JOB, "job");
    synth_string(s, NET, "net");
    synth_string(s, DB, "db");
    synth_site(s, 1, CTRACE_FMT_SITE_REGION, "outer", "c.c", 1, "f");
    synth_site(s, 2, CTRACE_FMT_SITE_REGION, "inner", "c.c", 2, "f");
    synth_site(s, 3, CTRACE_FMT_SITE_INSTANT, "mark", "c.c", 3, "f");
    synth_thread(s, 1, p ? 21 : 11, p ? "b" : "a");
    if (!p)
      synth_thread(s, 2, 12, "a2"); /* no events: only a waker */
    if (!p) {
      SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_SCHED_CREATE, 5, JOB);
      SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_TASK_BEGIN, 1, 0, REQ);
      SYNTH_LOG(s, 1, T(10), 1, NET, "p1 log");
      SYNTH_EV(s, 1, T(20), CTRACE_FMT_EV_TASK_END, 1);
      /* a condvar wait 25..30, released by "a2" at 28, then the run */
      SYNTH_EV(s, 1, T(30), CTRACE_FMT_EV_WAIT, CTRACE_FMT_WAIT_COND, 5 * US, 0x10, 2, 2 * US);
      SYNTH_EV(s, 1, T(30), CTRACE_FMT_EV_SCHED_RUN, 5);
      SYNTH_EV(s, 1, T(40), CTRACE_FMT_EV_SCHED_END, 5);
      SYNTH_EV(s, 1, T(50), CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(100), 100, 1, 100);
      SYNTH_EV(s, 1, T(60), CTRACE_FMT_EV_REGION_BEGIN, 1);
      SYNTH_EV(s, 1, T(62), CTRACE_FMT_EV_REGION_BEGIN, 2);
      SYNTH_EV(s, 1, T(64), CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(300), 300, 1, 200);
      SYNTH_EV0(s, 1, T(66), CTRACE_FMT_EV_REGION_END);
      SYNTH_EV(s, 1, T(66), CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(350), 350, 1, 50);
      SYNTH_EV0(s, 1, T(70), CTRACE_FMT_EV_REGION_END);
      SYNTH_EV(s, 1, T(70), CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(375), 375, 1, 25);
      SYNTH_EV(s, 1, T(100), CTRACE_FMT_EV_INSTANT, 3);
    } else {
      SYNTH_EV(s, 1, T(5), CTRACE_FMT_EV_SCHED_CREATE, 5, JOB);
      SYNTH_EV(s, 1, T(5), CTRACE_FMT_EV_TASK_BEGIN, 1, 0, REQ);
      SYNTH_LOG(s, 1, T(15), 1, DB, "p2 log one");
      SYNTH_LOG(s, 1, T(16), 1, DB, "p2 log two");
      SYNTH_EV(s, 1, T(45), CTRACE_FMT_EV_TASK_END, 1);
      SYNTH_EV(s, 1, T(50), CTRACE_FMT_EV_SCHED_RUN, 5);
      SYNTH_EV(s, 1, T(80), CTRACE_FMT_EV_SCHED_END, 5);
      SYNTH_EV(s, 1, T(90), CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(1000), 1000, 1, 1000);
    }
    synth_write(s, paths[p]);
    synth_free(s);
  }
  char err[512] = "";
  vx_index *x = vx_build(paths, 2, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  free(paths[0]);
  free(paths[1]);
  for (size_t i = 0; i < vx_source_count(x); i++)
    if (vx_source_get(x, i)->problem)
      TEST_FAIL("%s: %s", vx_source_get(x, i)->path, vx_source_get(x, i)->problem);
  return x;
}

TEST_IMPL(analyses_processes) {
  vx_index *x = build_processes();
  st_report r = compute(x, (st_options){0});
  CHECK_U(r.processes, 2);
  CHECK_U(r.has_sched, 1); /* a's band, derived from its wait */
  CHECK_U(r.derived_only, 1);

  /* Tasks "of one name" (analysis.h): one row, request: 20 (p1) and 40 (p2);
   * logs: 1 of p1's task, 2 of p2's (the name's label is per source file:
   * rows go by name). */
  CHECK_U(r.ntask_groups, 1);
  for (size_t i = 0; i < r.ntask_groups; i++) {
    const st_task_group *g = &r.task_groups[i];
    if (r.ntask_groups == 1) {
      CHECK_U(g->count, 2);
      CHECK_U(g->total, 60 * US);
      CHECK_U(g->logs, 3);
    } else { /* at the least, each row's logs are its own tasks' */
      CHECK_U(g->logs, g->total == 20 * US ? 1 : 2);
    }
  }
  /* the longest know their own process's task (both ids are 1) */
  ASSERT_UEQ(r.ntasks, 2);
  CHECK_U(r.tasks[0].dur, 40 * US);
  CHECK_S(r.tasks[0].thread, "b");
  CHECK_U(r.tasks[0].nlogs, 2);
  CHECK_U(r.tasks[1].dur, 20 * US);
  CHECK_U(r.tasks[1].nlogs, 1);
  if (r.tasks[1].nlogs == 1)
    CHECK_S(r.tasks[1].logs[0].message, "p1 log");

  /* Work items "of one name": job ran 30..40 (p1) and 50..80 (p2). */
  CHECK_U(r.nitems, 1);
  if (r.nitems >= 1) {
    CHECK_S(r.items[0].name, "job");
    CHECK_U(r.items[0].runs, 2);
    CHECK_U(r.items[0].run, 40 * US);
  }
  /* No SCHED_UNBLOCK at all: no waits, though the condvar wait's waker
   * arrow (a2 at 28 -> a at 30) ends exactly where a run starts. */
  for (size_t i = 0; i < r.nitems; i++) {
    CHECK_U(r.items[i].waits, 0);
    CHECK_U(r.items[i].wait, 0);
  }

  /* who allocated: (no region) 100 (p1 at 50) + 25 (p1 at 70, after outer
   * ended) + 1000 (p2) = 1125; inner 200 (nested: the innermost); outer 50
   * (at 66, after inner ended at the same tick: the index charges the
   * region open when the event is read, not one found by time). */
  ASSERT_UGE(r.nallocs, 1);
  CHECK_S(r.allocs[0].name, "(no region)");
  CHECK_D(alloc(&r, "(no region)")->bytes, 1125);
  CHECK_U(alloc(&r, "(no region)")->samples, 3);
  CHECK_D(alloc(&r, "inner")->bytes, 200);
  CHECK_U(alloc(&r, "inner")->samples, 1);
  CHECK_D(alloc(&r, "outer")->bytes, 50);

  /* heaps: one counter per process; the series follows the highest peak */
  CHECK_U(r.nheaps, 2);
  ASSERT(r.series);
  CHECK_U(r.series->pid, 200);
  CHECK_D(r.series->peak, 1000);
  st_free(&r);
  vx_free(x);
  return done();
}

/* ---- Regions under tasks (ctrace_task_switch) ------------------------------------------ */

/* Process 100, task 1 "req" begun by a at 0, ended by b at 80:
 *   a  5 TASK_SWITCH 1; "parse" 10..20; 25 TASK_SWITCH 0; "other" 30..40
 *   b  50 TASK_SWITCH 1; "db" 55..70 holding "query" 60..65; 75 TASK_SWITCH 0
 * So req's regions: parse (a, 10, 10 us), db (b, 55, 15 us), query (b, 60,
 * 5 us): 3, 30 us; "other" is not one. The same after `ctrace export` and
 * back (regions name their task in args). */
static const char *write_task_regions(void) {
  const char *path = test_tmp_path("tregs.ctrace");
  synth *s = synth_new(100, "tregs", T0, 0);
  synth_string(s, 1, "req");
  synth_site(s, 1, CTRACE_FMT_SITE_REGION, "parse", "t.c", 1, "f");
  synth_site(s, 2, CTRACE_FMT_SITE_REGION, "other", "t.c", 2, "f");
  synth_site(s, 3, CTRACE_FMT_SITE_REGION, "db", "t.c", 3, "f");
  synth_site(s, 4, CTRACE_FMT_SITE_REGION, "query", "t.c", 4, "f");
  synth_thread(s, 1, 101, "a");
  synth_thread(s, 2, 102, "b");
  SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_TASK_BEGIN, 1, 0, 1);
  SYNTH_EV(s, 1, T(5), CTRACE_FMT_EV_TASK_SWITCH, 1);
  SYNTH_EV(s, 1, T(10), CTRACE_FMT_EV_REGION_BEGIN, 1);
  SYNTH_EV0(s, 1, T(20), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 1, T(25), CTRACE_FMT_EV_TASK_SWITCH, 0);
  SYNTH_EV(s, 1, T(30), CTRACE_FMT_EV_REGION_BEGIN, 2);
  SYNTH_EV0(s, 1, T(40), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, T(50), CTRACE_FMT_EV_TASK_SWITCH, 1);
  SYNTH_EV(s, 2, T(55), CTRACE_FMT_EV_REGION_BEGIN, 3);
  SYNTH_EV(s, 2, T(60), CTRACE_FMT_EV_REGION_BEGIN, 4);
  SYNTH_EV0(s, 2, T(65), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV0(s, 2, T(70), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, T(75), CTRACE_FMT_EV_TASK_SWITCH, 0);
  SYNTH_EV(s, 2, T(80), CTRACE_FMT_EV_TASK_END, 1);
  synth_write(s, path);
  synth_free(s);
  return path;
}

static void check_task_regions(vx_index *x) {
  st_report r = compute(x, (st_options){0});
  ASSERT_UEQ(r.ntask_groups, 1);
  CHECK_U(r.task_groups[0].regions, 3);
  CHECK_U(r.task_groups[0].region_time, 30 * US);
  ASSERT_UEQ(r.ntasks, 1);
  CHECK_U(r.tasks[0].regions_total, 3);
  ASSERT_UEQ(r.tasks[0].nregions, 3);
  static const struct {
    const char *name, *thread;
    uint64_t start, dur;
  } want[] = {{"parse", "a", 10, 10}, {"db", "b", 55, 15}, {"query", "b", 60, 5}};
  for (size_t i = 0; i < 3; i++) {
    CHECK_S(r.tasks[0].regions[i].name, want[i].name);
    CHECK_S(r.tasks[0].regions[i].thread, want[i].thread);
    CHECK_U(r.tasks[0].regions[i].start, T(want[i].start));
    CHECK_U(r.tasks[0].regions[i].dur, want[i].dur * US);
  }
  st_free(&r);
  /* the window 0..58 us: parse, and db clipped to 55..58 */
  r = compute(x, (st_options){.until = 58 * US});
  ASSERT_UEQ(r.ntask_groups, 1);
  CHECK_U(r.task_groups[0].regions, 2);
  CHECK_U(r.task_groups[0].region_time, 13 * US);
  st_free(&r);
}

TEST_IMPL(analyses_task_regions) {
  char *paths[1] = {strdup(write_task_regions())};
  char err[512] = "";
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  check_task_regions(x);
  vx_free(x);
  /* through Chrome JSON */
  rd_trace *tr;
  ASSERT_EQ(rd_open(paths[0], 0, &tr, err, sizeof err), 0);
  const char *json = test_tmp_path("tregs.json");
  int fd = open(json, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT(fd >= 0);
  ASSERT_EQ(tt_export(tr, fd, NULL, err, sizeof err), 0);
  close(fd);
  rd_close(tr);
  free(paths[0]);
  paths[0] = strdup(json);
  x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  check_task_regions(x);
  vx_free(x);
  free(paths[0]);
  return done();
}
