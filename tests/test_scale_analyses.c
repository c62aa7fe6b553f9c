/* The parts of `ctrace stats` computed through the scale index from each
 * thread's events (viewer/analysis/scale_analyses.c: vs_compute_analyses)
 * against the full index's st_compute of the same trace: threads (regions,
 * time per state), blocking waits, system calls, tasks with their logs and
 * regions, what the window holds, the regions' self time less the calls
 * and waits under them. On a written trace with every kind of
 * event, batches cut often (so spans and regions cross batches and
 * windows), tasks begun on one thread and ended on another; and on traces
 * recorded by `ctrace run` (a mutex wait, system calls; the pipeline
 * sample's tasks and condvar waits). Exact for the whole trace; for
 * windows, the parts a window's batches always see (analysis.h says what
 * they cannot). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "synth_trace.h"
#include "test.h"

#define T0 1000000000ull
#define THREADS 3
enum {
  SITE_WORK = 1,
  SITE_MARK = 2,
  SITE_GAUGE = 3,
  SITE_INNER = 4,
  STR_ITEM = 5,
  STR_JOB = 6,
  STR_CAT = 7
};

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

typedef struct gen {
  synth *s;
  uint64_t t, r, last[THREADS + 1];
  uint64_t open[64]; /* tasks begun and not ended */
  size_t nopen;
  uint64_t next_task;
} gen;

/* A blocking span of thread th ending now, begun after its last event. */
static void span(gen *g, uint32_t th) {
  uint64_t dur = g->t - g->last[th] - 1 - lcg(&g->r) % 3;
  if (lcg(&g->r) % 2) {
    static const uint64_t nr[] = {0, 1, 35, 230, 999};
    int64_t ret = lcg(&g->r) % 5 == 0 ? -11 : 8;
    SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_SYSCALL, nr[lcg(&g->r) % 5], dur, 3,
             ctrace_fmt_zigzag(ret));
  } else {
    static const uint64_t obj[] = {0, 0x1000, 0x2000};
    SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_WAIT, 1 + lcg(&g->r) % 6, dur, obj[lcg(&g->r) % 3], 0,
             0);
  }
}

/* A region of th, under an open task now and then, with a call inside
 * (and now and then a region inside it, around the call). */
static void region(gen *g, uint32_t th) {
  uint64_t task = g->nopen && lcg(&g->r) % 2 ? g->open[lcg(&g->r) % g->nopen] : 0;
  if (task)
    SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_TASK_SWITCH, task);
  SYNTH_EV(g->s, th, g->t + 1, CTRACE_FMT_EV_REGION_BEGIN, SITE_WORK);
  int inner = lcg(&g->r) % 2;
  if (inner)
    SYNTH_EV(g->s, th, g->t + 3, CTRACE_FMT_EV_REGION_BEGIN, SITE_INNER);
  SYNTH_EV(g->s, th, g->t + 9, CTRACE_FMT_EV_SYSCALL, 1, 4, 3, ctrace_fmt_zigzag(8));
  if (inner)
    SYNTH_EV0(g->s, th, g->t + 11 + lcg(&g->r) % 50, CTRACE_FMT_EV_REGION_END);
  g->t += 70 + lcg(&g->r) % 3000;
  SYNTH_EV0(g->s, th, g->t, CTRACE_FMT_EV_REGION_END);
  if (task)
    SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_TASK_SWITCH, 0);
}

static void step(gen *g, uint32_t th) {
  switch (lcg(&g->r) % 9) {
  case 0:
  case 1: span(g, th); break;
  case 2:
  case 3: region(g, th); break;
  case 4:
    if (g->nopen < 64) {
      g->open[g->nopen++] = ++g->next_task;
      SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_TASK_BEGIN, g->next_task, 0,
               lcg(&g->r) % 3 ? STR_ITEM : STR_JOB);
    }
    break;
  case 5:
    if (g->nopen) { /* (often on another thread than it began on) */
      size_t k = lcg(&g->r) % g->nopen;
      SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_TASK_END, g->open[k]);
      g->open[k] = g->open[--g->nopen];
    }
    break;
  case 6: {
    char msg[32];
    snprintf(msg, sizeof msg, "note %" PRIu64, g->t);
    SYNTH_LOG(g->s, th, g->t, g->nopen ? g->open[lcg(&g->r) % g->nopen] : 0,
              lcg(&g->r) % 2 ? STR_CAT : 0, msg);
    break;
  }
  case 7:
    SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_INSTANT, SITE_MARK);
    SYNTH_EV(g->s, th, g->t + 1, CTRACE_FMT_EV_COUNTER, SITE_GAUGE, ctrace_fmt_zigzag(7));
    g->t++;
    break;
  default:
    if (lcg(&g->r) % 8 == 0)
      SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_DROPPED, 3, 10);
    else
      SYNTH_EV(g->s, th, g->t, CTRACE_FMT_EV_HEAP, ctrace_fmt_zigzag(4096), 8192, 0, 64);
  }
  g->last[th] = g->t;
}

static void write_trace(const char *path, int steps, uint64_t seed) {
  gen g = {.s = synth_new(77, "tasks", T0, 0), .t = T0 + 10, .r = seed};
  synth_site(g.s, SITE_WORK, CTRACE_FMT_SITE_REGION, "work", "w.c", 1, "work");
  synth_site(g.s, SITE_MARK, CTRACE_FMT_SITE_INSTANT, "mark", "w.c", 2, "work");
  synth_site(g.s, SITE_GAUGE, CTRACE_FMT_SITE_COUNTER, "gauge", "w.c", 3, "work");
  synth_site(g.s, SITE_INNER, CTRACE_FMT_SITE_REGION, "inner", "w.c", 4, "work");
  synth_string(g.s, STR_ITEM, "item");
  synth_string(g.s, STR_JOB, "job");
  synth_string(g.s, STR_CAT, "worker");
  for (uint32_t th = 1; th <= THREADS; th++) {
    char name[16];
    snprintf(name, sizeof name, "t%u", th);
    synth_thread(g.s, th, 500 + (int)th, name);
    g.last[th] = g.t;
  }
  for (int i = 0; i < steps; i++) {
    g.t += 1 + lcg(&g.r) % 2000;
    step(&g, 1 + (uint32_t)(lcg(&g.r) % THREADS));
    if (i == steps / 2)
      synth_event(g.s, 2, ++g.t, CTRACE_FMT_EV_THREAD_NAME, NULL, 0, "renamed");
    if (i % 53 == 52)
      synth_cut(g.s);
  }
  synth_write(g.s, path);
  synth_free(g.s);
}

static vx_index *full_index(const char *path) {
  char err[512];
  char *paths[] = {(char *)path};
  vx_index *fx = vx_build(paths, 1, err, sizeof err);
  if (!fx)
    fprintf(stderr, "vx_build: %s\n", err);
  return fx;
}

static int same_threads(const st_report *a, const st_report *b, int states) {
  ASSERT_UEQ(b->nthreads, a->nthreads);
  for (size_t i = 0; i < a->nthreads; i++) {
    const st_thread *p = &a->threads[i], *q = &b->threads[i];
    ASSERT_STR_EQ(q->track->name, p->track->name);
    ASSERT_EQ(q->track->tid, p->track->tid);
    ASSERT_UEQ(q->regions, p->regions);
    if (!states)
      continue;
    ASSERT_EQ(q->has_states, p->has_states);
    for (int s = 0; s < VX_ST_COUNT_; s++)
      ASSERT_UEQ(q->state[s], p->state[s]);
  }
  if (states)
    ASSERT_EQ(b->has_sched, a->has_sched);
  return 0;
}

static int same_waits_and_calls(const st_report *a, const st_report *b) {
  ASSERT_UEQ(b->nblocks, a->nblocks);
  for (size_t i = 0; i < a->nblocks; i++) {
    ASSERT_STR_EQ(b->blocks[i].name, a->blocks[i].name);
    ASSERT_UEQ(b->blocks[i].object, a->blocks[i].object);
    ASSERT_UEQ(b->blocks[i].count, a->blocks[i].count);
    ASSERT_UEQ(b->blocks[i].total, a->blocks[i].total);
    ASSERT_UEQ(b->blocks[i].max, a->blocks[i].max);
  }
  ASSERT_UEQ(b->nsyscalls, a->nsyscalls);
  for (size_t i = 0; i < a->nsyscalls; i++) {
    ASSERT_STR_EQ(b->syscalls[i].name, a->syscalls[i].name);
    ASSERT_UEQ(b->syscalls[i].calls, a->syscalls[i].calls);
    ASSERT_UEQ(b->syscalls[i].errors, a->syscalls[i].errors);
    ASSERT_UEQ(b->syscalls[i].total, a->syscalls[i].total);
    ASSERT_UEQ(b->syscalls[i].max, a->syscalls[i].max);
  }
  ASSERT_UEQ(b->window_events, a->window_events);
  ASSERT_UEQ(b->window_dropped, a->window_dropped);
  return 0;
}

static int same_task(const st_task *p, const st_task *q) {
  ASSERT_UEQ(q->task->id, p->task->id);
  ASSERT_UEQ(q->task->start, p->task->start);
  ASSERT_EQ(q->task->end == UINT64_MAX, p->task->end == UINT64_MAX);
  ASSERT_STR_EQ(q->name, p->name);
  ASSERT_UEQ(q->dur, p->dur);
  ASSERT_STR_EQ(q->thread ? q->thread : "-", p->thread ? p->thread : "-");
  ASSERT_STR_EQ(q->end_thread ? q->end_thread : "-", p->end_thread ? p->end_thread : "-");
  ASSERT_UEQ(q->nlogs, p->nlogs);
  for (size_t j = 0; j < p->nlogs; j++) {
    ASSERT_UEQ(q->logs[j].ts, p->logs[j].ts);
    ASSERT_STR_EQ(q->logs[j].category, p->logs[j].category);
    ASSERT_STR_EQ(q->logs[j].message, p->logs[j].message);
  }
  ASSERT_UEQ(q->regions_total, p->regions_total);
  ASSERT_UEQ(q->nregions, p->nregions);
  for (size_t j = 0; j < p->nregions; j++) {
    ASSERT_STR_EQ(q->regions[j].name, p->regions[j].name);
    ASSERT_STR_EQ(q->regions[j].thread, p->regions[j].thread);
    ASSERT_UEQ(q->regions[j].start, p->regions[j].start);
    ASSERT_UEQ(q->regions[j].dur, p->regions[j].dur);
  }
  return 0;
}

static int same_tasks(const st_report *a, const st_report *b) {
  ASSERT_UEQ(b->ntask_groups, a->ntask_groups);
  for (size_t i = 0; i < a->ntask_groups; i++) {
    const st_task_group *p = &a->task_groups[i], *q = &b->task_groups[i];
    ASSERT_STR_EQ(q->name, p->name);
    ASSERT_UEQ(q->count, p->count);
    ASSERT_UEQ(q->unfinished, p->unfinished);
    ASSERT_UEQ(q->total, p->total);
    ASSERT_UEQ(q->min, p->min);
    ASSERT_UEQ(q->max, p->max);
    ASSERT_UEQ(q->p50, p->p50);
    ASSERT_UEQ(q->p90, p->p90);
    ASSERT_UEQ(q->p99, p->p99);
    ASSERT_UEQ(q->logs, p->logs);
    ASSERT_UEQ(q->regions, p->regions);
    ASSERT_UEQ(q->region_time, p->region_time);
  }
  ASSERT_UEQ(b->ntasks, a->ntasks);
  for (size_t i = 0; i < a->ntasks; i++)
    if (same_task(&a->tasks[i], &b->tasks[i]))
      return 1;
  return 0;
}

/* The regions through the scale index in the same pass as the rest
 * (vs_compute_stats_analyses), their self time less the system calls and
 * waits under them (vs_analyses_fix_self), are st_compute's; and the rest
 * is vs_compute_analyses's alone. */
static int same_regions(vs_index *x, const vs_analyses *alone, uint64_t w0, uint64_t w1,
                        const char *thread, const st_report *r) {
  vs_stats s;
  vs_analyses a;
  char err[512];
  ASSERT_EQ(vs_compute_stats_analyses(x, w0, w1, thread, &s, &a, err, sizeof err), 0);
  if (same_threads(&alone->r, &a.r, 1) || same_waits_and_calls(&alone->r, &a.r) ||
      same_tasks(&alone->r, &a.r))
    return 1;
  vs_analyses_fix_self(&a, s.regions, s.nregions);
  ASSERT_UEQ(s.nregions, r->nregions);
  for (size_t i = 0; i < r->nregions; i++) {
    const st_region *b = NULL;
    for (size_t k = 0; k < s.nregions; k++)
      if (!strcmp(s.regions[k].name, r->regions[i].name))
        b = &s.regions[k];
    ASSERT(b);
    ASSERT_UEQ(b->count, r->regions[i].count);
    ASSERT_UEQ(b->total, r->regions[i].total);
    ASSERT_UEQ(b->self, r->regions[i].self);
    ASSERT_UEQ(b->min, r->regions[i].min);
    ASSERT_UEQ(b->max, r->regions[i].max);
    ASSERT_UEQ(b->p99, r->regions[i].p99);
  }
  uint64_t regions = 0, mine = 0;
  for (size_t i = 0; i < r->nthreads; i++)
    regions += r->threads[i].regions;
  for (size_t i = 0; i < vs_thread_count(x); i++)
    mine += s.thread_regions[i];
  ASSERT_UEQ(mine, regions);
  vs_stats_free(&s);
  vs_analyses_free(&a);
  return 0;
}

/* The full index's report and the scale index's parts, for a window
 * (since, until: ns after the first event; 0, 0: the whole trace). */
static int compare(vs_index *x, const vx_index *fx, uint64_t since, uint64_t until,
                   const char *thread) {
  st_options o = {thread, since, until};
  st_report r;
  char err[512];
  ASSERT_EQ(st_compute(fx, &o, &r, err, sizeof err), 0);
  ASSERT_UEQ(vs_t0(x), vx_t0(fx));
  vs_analyses a;
  uint64_t w0 = vs_t0(x) + since, w1 = until ? vs_t0(x) + until : UINT64_MAX;
  ASSERT_EQ(vs_compute_analyses(x, w0, w1, thread, &a, err, sizeof err), 0);
  int whole = !since && !until;
  int bad = same_threads(&r, &a.r, whole) || same_waits_and_calls(&r, &a.r) ||
            (whole && same_tasks(&r, &a.r)) || same_regions(x, &a, w0, w1, thread, &r);
  if (bad)
    fprintf(stderr, "  (window %" PRIu64 " .. %" PRIu64 " ns, thread %s)\n", since, until,
            thread ? thread : "(all)");
  vs_analyses_free(&a);
  st_free(&r);
  return bad;
}

static int compare_trace(const char *path, const char *thread, int windows) {
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  if (!x)
    TEST_FAIL("vs_open: %s", err);
  vx_index *fx = full_index(path);
  ASSERT(fx);
  int bad = compare(x, fx, 0, 0, NULL) || (thread && compare(x, fx, 0, 0, thread));
  uint64_t span = vs_t1(x) - vs_t0(x), r = 9;
  for (int k = 0; !bad && k < windows; k++) {
    uint64_t len = 1 + lcg(&r) % (span >> (lcg(&r) % 8));
    uint64_t a = lcg(&r) % (span - len + 1);
    bad = compare(x, fx, a, a + len, k % 3 ? NULL : thread);
  }
  vx_free(fx);
  vs_close(x);
  return bad;
}

TEST_IMPL(scale_analyses_synth) {
  const char *path = test_tmp_path("scale-analyses.ctrace");
  write_trace(path, 6000, 3);
  /* the trace has all the parts */
  char err[512];
  vs_index *x = vs_open(path, NULL, NULL, err, sizeof err);
  ASSERT(x);
  vs_analyses a;
  ASSERT_EQ(vs_compute_analyses(x, 0, UINT64_MAX, NULL, &a, err, sizeof err), 0);
  ASSERT_GT(a.r.nblocks, 6);
  ASSERT_UEQ(a.r.nsyscalls, 5);
  ASSERT_UEQ(a.r.ntask_groups, 2);
  ASSERT_UEQ(a.r.ntasks, ST_TASKS);
  ASSERT_GT(a.r.window_dropped, 0);
  int ended_elsewhere = 0;
  for (size_t i = 0; i < a.r.ntasks; i++)
    ended_elsewhere |=
        a.r.tasks[i].end_thread && strcmp(a.r.tasks[i].end_thread, a.r.tasks[i].thread);
  ASSERT(ended_elsewhere);
  vs_analyses_free(&a);
  vs_close(x);
  return compare_trace(path, "renamed", 40);
}

/* `ctrace stats --index scale` prints (and --json gives) the parts. */
TEST_IMPL(scale_analyses_cli) {
  const char *path = test_tmp_path("scale-analyses-cli.ctrace");
  write_trace(path, 800, 5);
  char *argv[] = {(char *)test_ctrace_bin, "stats", "--index", "scale", (char *)path, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace stats --index scale: %d\n%s%s", p.status, p.out, p.err);
  ASSERT_CONTAINS(p.out, "time per state, estimated from the wrappers' blocking spans");
  ASSERT_CONTAINS(p.out, "tasks by name (2 of 2");
  ASSERT_CONTAINS(p.out, "top blocking: waits by kind and object");
  ASSERT_CONTAINS(p.out, "mutex wait");
  ASSERT_CONTAINS(p.out, "syscalls (5)");
  ASSERT_CONTAINS(p.out, "nanosleep");
  ASSERT_CONTAINS(p.out, "not computed through the scale index yet: work items");
  test_proc_free(&p);
  char *jargv[] = {(char *)test_ctrace_bin,
                   "stats",
                   "--index",
                   "scale",
                   "--json",
                   "--since",
                   "1ms",
                   (char *)path,
                   NULL};
  p = test_run(jargv, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "\"blocking\":{\"by\":\"kind and object\"");
  ASSERT_CONTAINS(p.out, "\"syscalls\":[{\"name\":");
  ASSERT_CONTAINS(p.out, "\"tasks\":{\"by_name\":[");
  ASSERT_CONTAINS(p.out, "\"scheduling\":\"wrappers\"");
  test_proc_free(&p);
  return 0;
}

/* Records prog under `ctrace run` into out. */
static int record(const char *out, char *const cmd[]) {
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)test_ctrace_bin;
  argv[n++] = "run";
  argv[n++] = "-o";
  argv[n++] = (char *)out;
  argv[n++] = "--";
  for (int i = 0; cmd[i] && n < 15; i++)
    argv[n++] = cmd[i];
  argv[n] = NULL;
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace run %s: %d\n%s", cmd[0], p.status, p.err);
  test_proc_free(&p);
  return 0;
}

/* Real traces: contend's mutex wait and nanosleeps; the pipeline sample's
 * tasks (begun by the producer, ended by the writer), logs, condvar waits
 * and writes, under `ctrace run`. */
TEST_IMPL(run_scale_analyses) {
  char prog[1100];
  snprintf(prog, sizeof prog, "%s/contend", TEST_PROGS_DIR);
  const char *out = test_tmp_path("scale-contend.ctrace");
  char *contend[] = {prog, NULL};
  if (record(out, contend) || compare_trace(out, "waiter", 20))
    return 1;
  char err[512];
  vs_index *x = vs_open(out, NULL, NULL, err, sizeof err);
  ASSERT(x);
  vs_analyses a;
  ASSERT_EQ(vs_compute_analyses(x, 0, UINT64_MAX, NULL, &a, err, sizeof err), 0);
  int mutex = 0;
  for (size_t i = 0; i < a.r.nblocks; i++)
    mutex += !strcmp(a.r.blocks[i].name, "mutex wait") && a.r.blocks[i].object;
  ASSERT_EQ(mutex, 1);
  ASSERT_GT(a.r.nsyscalls, 0); /* (the holder's nanosleep) */
  vs_analyses_free(&a);
  vs_close(x);
  out = test_tmp_path("scale-pipeline.ctrace");
  char *pipeline[] = {(char *)test_pipeline_bin, "-n", "300", "-w", "3", NULL};
  if (record(out, pipeline) || compare_trace(out, "producer", 20))
    return 1;
  x = vs_open(out, NULL, NULL, err, sizeof err);
  ASSERT(x);
  ASSERT_EQ(vs_compute_analyses(x, 0, UINT64_MAX, NULL, &a, err, sizeof err), 0);
  int items = 0;
  for (size_t i = 0; i < a.r.ntask_groups; i++)
    items += !strcmp(a.r.task_groups[i].name, "item") && a.r.task_groups[i].count == 300 &&
             a.r.task_groups[i].logs == 300;
  ASSERT_EQ(items, 1);
  vs_analyses_free(&a);
  vs_close(x);
  return 0;
}
