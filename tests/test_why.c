/* ctrace why: the critical path of a region or a task (critical_path.c).
 * Synthetic traces with exact times give exact segments; a program run
 * under ctrace run (tests/progs/why_chain.c) gives the same shape within
 * what the machine's timing allows. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "synth_trace.h"
#include "test.h"

#define T0 1000000000ull
#define US 1000ull
#define T(us) (T0 + (uint64_t)(us)*US)

enum { S_REQUEST = 1, S_PARSE, S_REPLY, S_HOLD, S_SLOW, S_WORK, S_OWN, S_COMPUTE, S_TAIL };
static const char *const site_names[] = {"",     "request", "parse", "reply",   "hold",
                                         "slow", "work",    "own",   "compute", "tail"};

static synth *synth_threads(const char *path_name, int kernel_sched) {
  (void)path_name;
  synth *s = synth_new(100, "why", T0, 0);
  for (unsigned i = 1; i < sizeof site_names / sizeof *site_names; i++)
    synth_site(s, i, CTRACE_FMT_SITE_REGION, site_names[i], "why.c", i, "f");
  synth_thread(s, 1, 101, "main");
  synth_thread(s, 2, 102, "worker");
  synth_thread(s, 3, 103, "third");
  synth_capture(s, CTRACE_FMT_CAP_WRAPPERS,
                kernel_sched ? CTRACE_FMT_CAP_KERNEL : CTRACE_FMT_CAP_WRAPPERS, 0, 1, "");
  return s;
}

static void region(synth *s, uint32_t th, uint32_t site, uint64_t a, uint64_t b) {
  SYNTH_EV(s, th, T(a), CTRACE_FMT_EV_REGION_BEGIN, site);
  SYNTH_EV0(s, th, T(b), CTRACE_FMT_EV_REGION_END);
}

/* A wait [a, b) on obj, released by serial `by` at `rel` (0: no waker). */
static void wait_ev(synth *s, uint32_t th, unsigned kind, uint64_t a, uint64_t b, uint64_t obj,
                    uint32_t by, uint64_t rel) {
  SYNTH_EV(s, th, T(b), CTRACE_FMT_EV_WAIT, kind, (b - a) * US, obj, by, by ? (b - rel) * US : 0);
}

static vx_index *build(const char *name, const char *kernel) {
  char *paths[2] = {(char *)test_tmp_path(name), kernel ? (char *)kernel : NULL};
  char p0[1100];
  snprintf(p0, sizeof p0, "%s", paths[0]);
  paths[0] = p0;
  char err[512] = "";
  vx_index *x = vx_build(paths, kernel ? 2 : 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

/* The path of the only (or slowest) instance of region `name`. */
static cr_path walk_region(const vx_index *x, const char *name, cr_target *t) {
  cr_target *all;
  long n = cr_find_region(x, name, &all);
  ASSERT_GT(n, 0);
  *t = all[0];
  free(all);
  cr_graph *g = cr_graph_new(x);
  ASSERT(g);
  cr_path p;
  ASSERT_EQ(cr_walk(g, t, &p), 0);
  cr_graph_free(g);
  uint64_t sum = 0; /* the segments partition the target */
  for (size_t i = 0; i < p.n; i++) {
    ASSERT_EQ(p.seg[i].start, i ? p.seg[i - 1].start + p.seg[i - 1].dur : t->start);
    sum += p.seg[i].dur;
  }
  ASSERT_UEQ(sum, t->dur);
  return p;
}

static const char *tname(const vx_index *x, uint32_t tr) { return vx_track_get(x, tr)->name; }
static const char *rname(const vx_index *x, uint32_t l) {
  return l == UINT32_MAX ? "-" : vx_label_get(x, l)->name;
}

/* Segment i is (thread, state, region, [a, b) in us after T0). */
static void seg_is(const vx_index *x, const cr_path *p, size_t i, const char *th, cr_state st,
                   const char *reg, uint64_t a, uint64_t b) {
  ASSERT(i < p->n);
  const cr_segment *s = &p->seg[i];
  printf("  seg %zu: %s %s %s [%llu, %llu)\n", i, tname(x, s->track), cr_state_name(s->state),
         rname(x, s->region), (unsigned long long)((s->start - T0) / US),
         (unsigned long long)((s->start + s->dur - T0) / US));
  ASSERT_STR_EQ(tname(x, s->track), th);
  ASSERT_STR_EQ(cr_state_name(s->state), cr_state_name(st));
  ASSERT_STR_EQ(rname(x, s->region), reg);
  ASSERT_UEQ(s->start, T(a));
  ASSERT_UEQ(s->dur, (b - a) * US);
}

/* main's request waits for a mutex that worker holds through a slow
 * region: most of the request is worker's "slow". */
TEST_IMPL(why_lock_holder) {
  synth *s = synth_threads("lock", 0);
  SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_REQUEST);
  region(s, 1, S_PARSE, 0, 10);
  wait_ev(s, 1, CTRACE_FMT_WAIT_MUTEX, 10, 130, 0xabc, 2, 125);
  region(s, 1, S_REPLY, 130, 160);
  SYNTH_EV0(s, 1, T(160), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, T(5), CTRACE_FMT_EV_REGION_BEGIN, S_HOLD);
  region(s, 2, S_SLOW, 20, 120);
  SYNTH_EV0(s, 2, T(125), CTRACE_FMT_EV_REGION_END);
  synth_write(s, test_tmp_path("lock.ctrace"));
  synth_free(s);
  vx_index *x = build("lock.ctrace", NULL);
  cr_target t;
  cr_path p = walk_region(x, "request", &t);
  ASSERT_UEQ(p.n, 6);
  seg_is(x, &p, 0, "main", CR_UNKNOWN, "parse", 0, 10);
  seg_is(x, &p, 1, "worker", CR_UNKNOWN, "hold", 10, 20);
  seg_is(x, &p, 2, "worker", CR_UNKNOWN, "slow", 20, 120);
  seg_is(x, &p, 3, "worker", CR_UNKNOWN, "hold", 120, 125);
  seg_is(x, &p, 4, "main", CR_WOKEN, "request", 125, 130);
  seg_is(x, &p, 5, "main", CR_UNKNOWN, "reply", 130, 160);
  ASSERT_EQ(p.seg[2].via, CR_VIA_RELEASE);
  ASSERT_EQ(p.seg[2].nr, CTRACE_FMT_WAIT_MUTEX);
  ASSERT_UEQ(p.seg[2].object, 0xabc);
  ASSERT_STR_EQ(tname(x, p.seg[2].to), "main");
  ASSERT_EQ(p.seg[0].via, CR_VIA_TARGET);
  ASSERT_EQ(p.missing_edges, 0);
  cr_fold_row *rows = NULL;
  size_t n = 0;
  ASSERT_EQ(cr_fold_add(&p, &rows, &n), 0);
  cr_fold_sort(rows, n);
  ASSERT_UEQ(n, 5);
  ASSERT_STR_EQ(rname(x, rows[0].region), "slow");
  ASSERT_UEQ(rows[0].dur, 100 * US);
  ASSERT_STR_EQ(rname(x, rows[1].region), "reply");
  ASSERT_STR_EQ(rname(x, rows[2].region), "hold");
  ASSERT_UEQ(rows[2].dur, 15 * US); /* both of worker's "hold" pieces */
  free(rows);
  cr_path_free(&p);
  vx_free(x);
  return 0;
}

/* A chain of three threads: main waits for worker, which waits for third
 * (a condition variable third signals after computing). */
TEST_IMPL(why_chain_of_three) {
  synth *s = synth_threads("chain", 0);
  SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_REQUEST);
  wait_ev(s, 1, CTRACE_FMT_WAIT_MUTEX, 0, 90, 0x1, 2, 88);
  region(s, 1, S_TAIL, 90, 100);
  SYNTH_EV0(s, 1, T(100), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_WORK);
  wait_ev(s, 2, CTRACE_FMT_WAIT_COND, 10, 60, 0x2, 3, 58);
  region(s, 2, S_OWN, 60, 88);
  SYNTH_EV0(s, 2, T(88), CTRACE_FMT_EV_REGION_END);
  region(s, 3, S_COMPUTE, 0, 58);
  synth_write(s, test_tmp_path("chain.ctrace"));
  synth_free(s);
  vx_index *x = build("chain.ctrace", NULL);
  cr_target t;
  cr_path p = walk_region(x, "request", &t);
  ASSERT_UEQ(p.n, 6);
  seg_is(x, &p, 0, "worker", CR_UNKNOWN, "work", 0, 10);
  seg_is(x, &p, 1, "third", CR_UNKNOWN, "compute", 10, 58);
  seg_is(x, &p, 2, "worker", CR_WOKEN, "work", 58, 60);
  seg_is(x, &p, 3, "worker", CR_UNKNOWN, "own", 60, 88);
  seg_is(x, &p, 4, "main", CR_WOKEN, "request", 88, 90);
  seg_is(x, &p, 5, "main", CR_UNKNOWN, "tail", 90, 100);
  ASSERT_EQ(p.seg[1].via, CR_VIA_RELEASE);
  ASSERT_EQ(p.seg[1].nr, CTRACE_FMT_WAIT_COND);
  ASSERT_STR_EQ(tname(x, p.seg[1].to), "worker");
  ASSERT_STR_EQ(tname(x, p.seg[3].to), "main");
  cr_path_free(&p);
  vx_free(x);
  return 0;
}

/* A wait whose releaser was not recorded stays on the waiter, counted. */
TEST_IMPL(why_missing_edge) {
  synth *s = synth_threads("noedge", 0);
  SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_REQUEST);
  wait_ev(s, 1, CTRACE_FMT_WAIT_SEM, 5, 50, 0x9, 0, 0);
  SYNTH_EV0(s, 1, T(60), CTRACE_FMT_EV_REGION_END);
  region(s, 2, S_SLOW, 0, 50);
  synth_write(s, test_tmp_path("noedge.ctrace"));
  synth_free(s);
  vx_index *x = build("noedge.ctrace", NULL);
  cr_target t;
  cr_path p = walk_region(x, "request", &t);
  ASSERT_UEQ(p.n, 3);
  seg_is(x, &p, 0, "main", CR_UNKNOWN, "request", 0, 5);
  seg_is(x, &p, 1, "main", CR_LOCK, "request", 5, 50);
  seg_is(x, &p, 2, "main", CR_UNKNOWN, "request", 50, 60);
  ASSERT_EQ(p.seg[1].nr, CTRACE_FMT_WAIT_SEM);
  ASSERT_EQ(p.missing_edges, 1);
  cr_path_free(&p);
  vx_free(x);
  return 0;
}

/* CPU contention: main is preempted while worker and third run; runnable
 * time names who ran. Scheduler data from a FILE.kernel. */
TEST_IMPL(why_cpu_contention) {
  synth *s = synth_threads("cpu", 1);
  SYNTH_EV(s, 1, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_REQUEST);
  SYNTH_EV0(s, 1, T(100), CTRACE_FMT_EV_REGION_END);
  region(s, 2, S_SLOW, 0, 100);
  region(s, 3, S_COMPUTE, 0, 100);
  synth_write(s, test_tmp_path("cpu.ctrace"));
  synth_free(s);
  synth *k = synth_new(100, "kernel (ctrace run)", T0, 1);
  synth_capture(k, CTRACE_FMT_CAP_WRAPPERS, CTRACE_FMT_CAP_KERNEL, 0, 1, "");
  enum { IN = CTRACE_FMT_SWITCH_IN, PRE = CTRACE_FMT_SWITCH_OUT_PREEMPT };
  for (int tid = 101; tid <= 103; tid++)
    SYNTH_EV(k, 0, T(0), CTRACE_FMT_EV_K_TASK, (uint64_t)tid, 100);
  SYNTH_EV(k, 0, T(0), CTRACE_FMT_EV_K_SWITCH, 101, 0, IN);
  SYNTH_EV(k, 0, T(0), CTRACE_FMT_EV_K_SWITCH, 103, 1, IN);
  SYNTH_EV(k, 0, T(30), CTRACE_FMT_EV_K_SWITCH, 101, 0, PRE);
  SYNTH_EV(k, 0, T(30), CTRACE_FMT_EV_K_SWITCH, 102, 0, IN);
  SYNTH_EV(k, 0, T(70), CTRACE_FMT_EV_K_SWITCH, 102, 0, PRE);
  SYNTH_EV(k, 0, T(70), CTRACE_FMT_EV_K_SWITCH, 101, 0, IN);
  SYNTH_EV(k, 0, T(90), CTRACE_FMT_EV_K_SWITCH, 103, 1, PRE);
  synth_write(k, test_tmp_path("cpu.ctrace.kernel"));
  synth_free(k);
  char kp[1100];
  snprintf(kp, sizeof kp, "%s", test_tmp_path("cpu.ctrace.kernel"));
  vx_index *x = build("cpu.ctrace", kp);
  cr_target t;
  cr_path p = walk_region(x, "request", &t);
  ASSERT_UEQ(p.n, 3);
  seg_is(x, &p, 0, "main", CR_RUNNING, "request", 0, 30);
  seg_is(x, &p, 1, "main", CR_RUNNABLE, "request", 30, 70);
  seg_is(x, &p, 2, "main", CR_RUNNING, "request", 70, 100);
  /* Both ran all 40 us of it: worker on main's CPU, third on the other. */
  ASSERT(p.seg[1].ran[0] != UINT32_MAX && p.seg[1].ran[1] != UINT32_MAX);
  int w = 0, th = 0;
  for (int i = 0; i < 2; i++) {
    w += !strcmp(tname(x, p.seg[1].ran[i]), "worker");
    th += !strcmp(tname(x, p.seg[1].ran[i]), "third");
  }
  ASSERT(w == 1 && th == 1);
  ASSERT_EQ(p.sched, 1);
  cr_path_free(&p);
  vx_free(x);
  return 0;
}

/* A task handed from a producer to a consumer by a flow: the consumer's
 * idle time before its region goes to the producer's work. */
TEST_IMPL(why_task_flow) {
  synth *s = synth_threads("flow", 0);
  synth_string(s, 50, "job");
  SYNTH_EV(s, 2, T(0), CTRACE_FMT_EV_TASK_BEGIN, 7, 0, 50);
  SYNTH_EV(s, 2, T(0), CTRACE_FMT_EV_REGION_BEGIN, S_COMPUTE);
  SYNTH_EV(s, 2, T(30), CTRACE_FMT_EV_FLOW_BEGIN, 77);
  SYNTH_EV0(s, 2, T(30), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 1, T(35), CTRACE_FMT_EV_REGION_BEGIN, S_REPLY);
  SYNTH_EV(s, 1, T(36), CTRACE_FMT_EV_FLOW_END, 77);
  SYNTH_EV0(s, 1, T(60), CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 1, T(60), CTRACE_FMT_EV_TASK_END, 7);
  synth_write(s, test_tmp_path("flow.ctrace"));
  synth_free(s);
  vx_index *x = build("flow.ctrace", NULL);
  cr_target t;
  char err[256];
  ASSERT_EQ(cr_find_task(x, 7, &t, err, sizeof err), 0);
  ASSERT_STR_EQ(tname(x, t.track), "main");
  ASSERT_UEQ(t.start, T(0));
  ASSERT_UEQ(t.dur, 60 * US);
  cr_graph *g = cr_graph_new(x);
  cr_path p;
  ASSERT_EQ(cr_walk(g, &t, &p), 0);
  ASSERT_UEQ(p.n, 3);
  seg_is(x, &p, 0, "worker", CR_UNKNOWN, "compute", 0, 30);
  seg_is(x, &p, 1, "main", CR_WOKEN, "-", 30, 35);
  seg_is(x, &p, 2, "main", CR_UNKNOWN, "reply", 35, 60);
  ASSERT_EQ(p.seg[0].via, CR_VIA_FLOW);
  ASSERT_NE(cr_find_task(x, 8, &t, err, sizeof err), 0);
  ASSERT_CONTAINS(err, "no task 8");
  cr_path_free(&p);
  cr_graph_free(g);
  vx_free(x);
  return 0;
}

/* ---- The command ---------------------------------------------------------------------- */

static test_proc why(const char *args) {
  char cmd[2400];
  snprintf(cmd, sizeof cmd, "%s why %s", test_ctrace_bin, args);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  test_proc p = test_run(argv, NULL);
  printf("$ ctrace why %s -> %d\n%s%s", args, p.status, p.out, p.err);
  return p;
}

TEST_IMPL(why_cli) {
  /* the lock scenario's trace, written by why_lock_holder's steps */
  synth *s = synth_threads("lock", 0);
  for (int i = 0; i < 3; i++) { /* three requests: 160, 60, 110 us */
    uint64_t o = (uint64_t)i * 1000, len = i == 0 ? 160 : i == 1 ? 60 : 110;
    SYNTH_EV(s, 1, T(o), CTRACE_FMT_EV_REGION_BEGIN, S_REQUEST);
    wait_ev(s, 1, CTRACE_FMT_WAIT_MUTEX, o + 10, o + len - 20, 0xabc, 2, o + len - 25);
    SYNTH_EV0(s, 1, T(o + len), CTRACE_FMT_EV_REGION_END);
    region(s, 2, S_SLOW, o + 5, o + len - 25);
  }
  const char *path = test_tmp_path("cli.ctrace");
  synth_write(s, path);
  synth_free(s);
  char args[1400];
  snprintf(args, sizeof args, "%s --region request --json", path);
  test_proc p = why(args);
  ASSERT_EQ(p.status, 0);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  cJSON *tg = cJSON_GetObjectItem(j, "target");
  ASSERT_STR_EQ(cJSON_GetObjectItem(tg, "name")->valuestring, "request");
  ASSERT_EQ(cJSON_GetObjectItem(tg, "tid")->valueint, 101);
  ASSERT_EQ(cJSON_GetObjectItem(tg, "dur_ns")->valuedouble, 160000.0); /* the slowest */
  double sum = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "path")) {
    ASSERT(cJSON_GetObjectItem(e, "via") && cJSON_GetObjectItem(e, "state"));
    sum += cJSON_GetObjectItem(e, "dur_ns")->valuedouble;
  }
  ASSERT_EQ(sum, 160000.0);
  cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "by_region"), 0);
  ASSERT_STR_EQ(cJSON_GetObjectItem(top, "thread")->valuestring, "worker");
  ASSERT_STR_EQ(cJSON_GetObjectItem(top, "region")->valuestring, "slow");
  ASSERT_EQ(cJSON_GetObjectItem(top, "dur_ns")->valuedouble, 125000.0); /* 10..135 */
  cJSON_Delete(j);
  test_proc_free(&p);

  snprintf(args, sizeof args, "%s --region request --nth 2", path);
  p = why(args);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "0.060 ms");
  ASSERT_CONTAINS(p.out, "worker (102)");
  ASSERT_CONTAINS(p.out, "mutex wait 0xabc released for main (101)");
  test_proc_free(&p);

  snprintf(args, sizeof args, "%s --region request --all --json", path);
  p = why(args);
  ASSERT_EQ(p.status, 0);
  j = cJSON_Parse(p.out);
  ASSERT(j);
  tg = cJSON_GetObjectItem(j, "target");
  ASSERT_EQ(cJSON_GetObjectItem(tg, "instances")->valueint, 3);
  ASSERT_EQ(cJSON_GetObjectItem(tg, "total_ns")->valuedouble, 330000.0);
  sum = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "by_region")) sum +=
      cJSON_GetObjectItem(e, "dur_ns")->valuedouble;
  ASSERT_EQ(sum, 330000.0);
  cJSON_Delete(j);
  test_proc_free(&p);

  /* Errors: named, exit 2 for usage, 1 for what the traces lack. */
  static const struct {
    const char *args;
    int status;
    const char *says;
  } bad[] = {{"%s", 2, "either --region NAME or --task ID"},
             {"%s --region a --task 1", 2, "either --region NAME or --task ID"},
             {"%s --region request --nth 0", 2, "--nth 0"},
             {"%s --region request --all --slowest", 2, "at most one"},
             {"%s --task x", 2, "--task x: not a task id"},
             {"--region request", 2, "missing TRACE"},
             {"%s --region nosuch", 1, "no region called 'nosuch'"},
             {"%s --region request --nth 4", 1, "has 3 instances"},
             {"%s --task 5", 1, "no task 5"},
             {"%s.missing --region request", 1, ".missing"},
             {"%s --region request --bogus", 2, "unknown option '--bogus'"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(args, sizeof args, bad[i].args, path);
    p = why(args);
    ASSERT_EQ(p.status, bad[i].status);
    ASSERT_CONTAINS(p.err, bad[i].says);
    test_proc_free(&p);
  }
  return 0;
}

/* ---- A recorded program ---------------------------------------------------------------- */

static cJSON *why_json(const char *trace, const char *region) {
  char args[1400];
  snprintf(args, sizeof args, "%s --region %s --json", trace, region);
  test_proc p = why(args);
  ASSERT_EQ(p.status, 0);
  cJSON *j = cJSON_Parse(p.out);
  ASSERT(j);
  test_proc_free(&p);
  double sum = 0,
         dur = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "target"), "dur_ns")->valuedouble;
  cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "path")) sum +=
      cJSON_GetObjectItem(e, "dur_ns")->valuedouble;
  ASSERT_EQ(sum, dur);
  return j;
}

/* tests/progs/why_chain under ctrace run: "request" waits on a mutex that
 * "holder" keeps through its 60 ms "slow_io"; "consume" waits on a
 * condition variable that "producer" signals after its ~40 ms "compute". */
TEST_IMPL(run_why_chain) {
  const char *out = test_tmp_path("why_chain.ctrace");
  char bin[1024];
  snprintf(bin, sizeof bin, "%s/why_chain", TEST_PROGS_DIR);
  char *argv[] = {(char *)test_ctrace_bin, "run", "-o", (char *)out, "--", bin, NULL};
  test_proc p = test_run(argv, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  static const struct {
    const char *region, *thread, *cause;
  } want[] = {{"request", "holder", "slow_io"}, {"consume", "producer", "compute"}};
  for (size_t i = 0; i < 2; i++) {
    cJSON *j = why_json(out, want[i].region);
    cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "by_region"), 0);
    ASSERT(top);
    ASSERT_STR_EQ(cJSON_GetObjectItem(top, "thread")->valuestring, want[i].thread);
    ASSERT_STR_EQ(cJSON_GetObjectItem(top, "region")->valuestring, want[i].cause);
    /* The wait is most of the target (the program makes it so); how much
     * depends on the machine. */
    ASSERT(cJSON_GetObjectItem(top, "share")->valuedouble > 0.5);
    cJSON_Delete(j);
  }
  return 0;
}

/* why_chain contend under ctrace run: main's "crunch" spins for 60 ms of
 * CPU beside three spinning hogs (more runnable threads than CPUs here):
 * part of its path is runnable, and the hogs are named as who ran then. */
TEST_IMPL(run_why_contention) {
  const char *out = test_tmp_path("why_contend.ctrace");
  char bin[1024];
  snprintf(bin, sizeof bin, "%s/why_chain", TEST_PROGS_DIR);
  char *argv[] = {(char *)test_ctrace_bin, "run", "-o", (char *)out, "--", bin, "contend", NULL};
  test_proc p = test_run(argv, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  cJSON *j = why_json(out, "crunch");
  if (!cJSON_IsTrue(cJSON_GetObjectItem(j, "scheduler_data"))) {
    printf("no scheduler data here (perf refused): runnable time cannot be told\n");
    cJSON_Delete(j);
    return 0;
  }
  double dur = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "target"), "dur_ns")->valuedouble;
  double runnable = 0;
  int named_hog = 0;
  cJSON *e, *tid;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "path")) {
    if (strcmp(cJSON_GetObjectItem(e, "state")->valuestring, "runnable") != 0)
      continue;
    runnable += cJSON_GetObjectItem(e, "dur_ns")->valuedouble;
    cJSON_ArrayForEach(tid, cJSON_GetObjectItem(e, "ran")) named_hog = 1;
  }
  printf("crunch: %.1f ms, %.1f ms of it runnable\n", dur / 1e6, runnable / 1e6);
  /* five spinning threads on this machine's CPUs: main waits for one a
   * good part of the time (two CPUs: 60%; at least a fifth asked) */
  ASSERT(runnable > 0.2 * dur);
  ASSERT(named_hog); /* who ran meanwhile: the traced hogs */
  cJSON_Delete(j);
  return 0;
}
