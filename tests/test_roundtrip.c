/* Record -> file -> reader -> JSON, in one process, with every API and
 * exact expectations: each thread's events in order, with their arguments,
 * names and call sites; timestamps on CLOCK_MONOTONIC; the merged order;
 * the Chrome JSON's structure. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

#define ROUNDS 1000
#define CLOCK_CHECKS 8

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static pthread_barrier_t handoff;
static uint64_t shared_task;
static uint64_t clock_before[CLOCK_CHECKS], clock_after[CLOCK_CHECKS];

static void *alpha_main(void *arg) {
  (void)arg;
  ctrace_thread_set_name("alpha");
  for (int i = 0; i < ROUNDS; i++) {
    CTRACE_REGION_BEGIN("outer");
    CTRACE_COUNTER("i", i - 500);
    {
      CTRACE_SCOPE("inner");
      CTRACE_INSTANT("tick");
    }
    char name[16];
    snprintf(name, sizeof name, "dyn-%d", i % 5);
    ctrace_region_begin_dyn(name);
    ctrace_region_end();
    CTRACE_REGION_END();
  }
  /* Instants bracketed by clock reads, spread over ~350 ms so that several
   * clock sync points lie between them. */
  for (int k = 0; k < CLOCK_CHECKS; k++) {
    clock_before[k] = mono();
    CTRACE_INSTANT("clockcheck");
    clock_after[k] = mono();
    usleep(50000);
  }
  CTRACE_REGION_BEGIN("send");
  shared_task = ctrace_task_begin("job", 0);
  ctrace_flow_begin(42);
  CTRACE_REGION_END();
  pthread_barrier_wait(&handoff);
  return NULL;
}

static void *beta_main(void *arg) {
  (void)arg;
  ctrace_thread_set_name("beta");
  pthread_barrier_wait(&handoff);
  CTRACE_REGION_BEGIN("receive");
  ctrace_flow_end(42);
  ctrace_log(shared_task, "net", "hello %d", 7);
  char big[2000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  ctrace_log(0, NULL, "%s", big);
  ctrace_task_end(shared_task);
  CTRACE_REGION_END();
  ctrace_flow_begin(99); /* outside any region: the export anchors it */
  ctrace_flow_end(99);
  return NULL;
}

static void expect(const tev *e, unsigned type, uint64_t a0, uint64_t a1) {
  ASSERT_EQ(e->type, type);
  ASSERT_UEQ(e->arg[0], a0);
  ASSERT_UEQ(e->arg[1], a1);
}

TEST_IMPL(roundtrip) {
  const char *path = test_tmp_path("roundtrip.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  ASSERT_EQ(ctrace_start(&o), 0);
  ASSERT(ctrace_active());
  ctrace_thread_set_name("rt-main");
  pthread_barrier_init(&handoff, NULL, 2);
  pthread_t a, b;
  pthread_create(&a, NULL, alpha_main, NULL);
  pthread_create(&b, NULL, beta_main, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  ASSERT_EQ(ctrace_stop(), 0);
  ASSERT(!ctrace_active());

  ttrace *t = tt_load(path);
  ASSERT(rd_problem(t->tr) == NULL);
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(t->stream_errors, 0);
  ASSERT_EQ(rd_pid(t->tr), getpid());
  ASSERT_GE(rd_clock_points(t->tr), 4); /* ~400 ms at one point per 50 ms */
  tthread *al = tt_thread(t, "alpha"), *be = tt_thread(t, "beta"), *mn = tt_thread(t, "rt-main");
  ASSERT(al && be && mn);
  ASSERT(al->info->ended && be->info->ended); /* exited threads were closed */
  ASSERT(al->info->tid != be->info->tid);

  /* alpha: exactly the sequence it recorded. */
  size_t k = 0;
  expect(&al->ev[k++], CTRACE_FMT_EV_THREAD_NAME, 0, 0);
  ASSERT_STR_EQ(al->ev[0].str, "alpha");
  uint64_t outer = 0, inner = 0, tick = 0, ctr = 0, dyn[5] = {0};
  for (int i = 0; i < ROUNDS; i++) {
    const tev *e = &al->ev[k];
    ASSERT_EQ(e[0].type, CTRACE_FMT_EV_REGION_BEGIN);
    ASSERT_EQ(e[1].type, CTRACE_FMT_EV_COUNTER);
    ASSERT_EQ(ctrace_fmt_unzigzag(e[1].arg[1]), i - 500);
    ASSERT_EQ(e[2].type, CTRACE_FMT_EV_REGION_BEGIN);
    ASSERT_EQ(e[3].type, CTRACE_FMT_EV_INSTANT);
    ASSERT_EQ(e[4].type, CTRACE_FMT_EV_REGION_END);
    ASSERT_EQ(e[5].type, CTRACE_FMT_EV_REGION_BEGIN_STR);
    ASSERT_EQ(e[6].type, CTRACE_FMT_EV_REGION_END);
    ASSERT_EQ(e[7].type, CTRACE_FMT_EV_REGION_END);
    if (i == 0) {
      outer = e[0].arg[0], ctr = e[1].arg[0], inner = e[2].arg[0], tick = e[3].arg[0];
      ASSERT_STR_EQ(tt_site_name(t, outer), "outer");
      ASSERT_STR_EQ(tt_site_name(t, ctr), "i");
      ASSERT_STR_EQ(tt_site_name(t, inner), "inner");
      ASSERT_STR_EQ(tt_site_name(t, tick), "tick");
      const rd_site *s = rd_site_get(t->tr, outer);
      ASSERT_STR_EQ(s->func, "alpha_main");
      ASSERT_CONTAINS(s->file, "test_roundtrip.c");
      ASSERT_GT(s->line, 0);
      ASSERT_EQ(s->kind, CTRACE_FMT_SITE_REGION);
      ASSERT_EQ(rd_site_get(t->tr, ctr)->kind, CTRACE_FMT_SITE_COUNTER);
      ASSERT_EQ(rd_site_get(t->tr, tick)->kind, CTRACE_FMT_SITE_INSTANT);
    }
    ASSERT_UEQ(e[0].arg[0], outer);
    ASSERT_UEQ(e[1].arg[0], ctr);
    ASSERT_UEQ(e[2].arg[0], inner);
    ASSERT_UEQ(e[3].arg[0], tick);
    /* Dynamic names are interned: the same name, the same id. */
    char name[16];
    snprintf(name, sizeof name, "dyn-%d", i % 5);
    ASSERT_STR_EQ(rd_string(t->tr, e[5].arg[0], NULL), name);
    if (i < 5)
      dyn[i] = e[5].arg[0];
    else
      ASSERT_UEQ(e[5].arg[0], dyn[i % 5]);
    for (int j = 1; j < 8; j++)
      ASSERT_UGE(e[j].ts, e[j - 1].ts);
    k += 8;
  }
  /* The clock: each instant lies between the CLOCK_MONOTONIC reads around
   * it (2 us of slack for the TSC -> monotonic mapping). */
  for (int c = 0; c < CLOCK_CHECKS; c++) {
    const tev *e = &al->ev[k++];
    expect(e, CTRACE_FMT_EV_INSTANT, e->arg[0], 0);
    ASSERT_STR_EQ(tt_site_name(t, e->arg[0]), "clockcheck");
    ASSERT_UGE(e->ts + 2000, clock_before[c]);
    ASSERT_ULE(e->ts, clock_after[c] + 2000);
  }
  ASSERT_EQ(al->ev[k].type, CTRACE_FMT_EV_REGION_BEGIN);
  ASSERT_STR_EQ(tt_site_name(t, al->ev[k].arg[0]), "send");
  k++;
  const tev *tb = &al->ev[k++];
  expect(tb, CTRACE_FMT_EV_TASK_BEGIN, shared_task, 0);
  ASSERT_STR_EQ(rd_string(t->tr, tb->arg[2], NULL), "job");
  expect(&al->ev[k++], CTRACE_FMT_EV_FLOW_BEGIN, 42, 0);
  expect(&al->ev[k++], CTRACE_FMT_EV_REGION_END, 0, 0);
  ASSERT_EQ(k, al->n);

  /* beta */
  k = 0;
  expect(&be->ev[k++], CTRACE_FMT_EV_THREAD_NAME, 0, 0);
  ASSERT_EQ(be->ev[k].type, CTRACE_FMT_EV_REGION_BEGIN);
  ASSERT_STR_EQ(tt_site_name(t, be->ev[k].arg[0]), "receive");
  k++;
  expect(&be->ev[k++], CTRACE_FMT_EV_FLOW_END, 42, 0);
  const tev *lg = &be->ev[k++];
  ASSERT_EQ(lg->type, CTRACE_FMT_EV_LOG);
  ASSERT_UEQ(lg->arg[0], shared_task);
  ASSERT_STR_EQ(rd_string(t->tr, lg->arg[1], NULL), "net");
  ASSERT_UEQ(lg->arg[2], 0);
  ASSERT_STR_EQ(lg->str, "hello 7");
  lg = &be->ev[k++];
  ASSERT_EQ(lg->type, CTRACE_FMT_EV_LOG);
  ASSERT_UEQ(lg->arg[0], 0);
  ASSERT_STR_EQ(rd_string(t->tr, lg->arg[1], NULL), "");
  ASSERT_UEQ(lg->arg[2], CTRACE_FMT_LOG_FLAG_CUT);
  ASSERT_EQ(strlen(lg->str), CTRACE_FMT_LOG_MAX);
  expect(&be->ev[k++], CTRACE_FMT_EV_TASK_END, shared_task, 0);
  expect(&be->ev[k++], CTRACE_FMT_EV_REGION_END, 0, 0);
  expect(&be->ev[k++], CTRACE_FMT_EV_FLOW_BEGIN, 99, 0);
  expect(&be->ev[k++], CTRACE_FMT_EV_FLOW_END, 99, 0);
  ASSERT_EQ(k, be->n);
  /* The flow's end comes after its beginning, across threads. */
  ASSERT_UGE(be->ev[2].ts, al->ev[al->n - 2].ts);

  /* main thread: only its name. */
  ASSERT_EQ(mn->n, 1);

  /* Merged: every event once, time-ordered. */
  size_t total = 0;
  for (size_t i = 0; i < t->nth; i++)
    total += t->th[i].n;
  ASSERT_EQ(t->nmerged, total);
  for (size_t i = 1; i < t->nmerged; i++)
    ASSERT_UGE(t->merged[i].ts, t->merged[i - 1].ts);

  /* Chrome JSON: parses, nests, pairs flows and tasks; names and args. */
  const char *json = test_tmp_path("roundtrip.json");
  int fd = open(json, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cj_stats st;
  char err[256];
  ASSERT_EQ(tt_export(t->tr, fd, &st, err, sizeof err), 0);
  close(fd);
  ASSERT_UEQ(st.events_read, total);
  ASSERT_UEQ(st.dropped, 0);
  ASSERT_UEQ(st.unmatched_ends, 0);
  ASSERT_UEQ(st.flow_anchors, 2); /* flow 99, both ends outside regions */
  cJSON *root = tt_json_file(json);
  ASSERT_EQ(tt_json_check_structure(root), 0);
  int64_t atid = al->info->tid, btid = be->info->tid;
  ASSERT_EQ(tt_json_count(root, "B", "outer", atid), ROUNDS);
  ASSERT_EQ(tt_json_count(root, "E", "outer", atid), ROUNDS);
  ASSERT_EQ(tt_json_count(root, "B", "inner", atid), ROUNDS);
  ASSERT_EQ(tt_json_count(root, "B", "dyn-3", atid), ROUNDS / 5);
  ASSERT_EQ(tt_json_count(root, "C", "i", atid), ROUNDS);
  ASSERT_EQ(tt_json_count(root, "i", "tick", atid), ROUNDS);
  ASSERT_EQ(tt_json_count(root, "b", "job", atid), 1);
  ASSERT_EQ(tt_json_count(root, "e", "job", btid), 1);
  ASSERT_EQ(tt_json_count(root, "s", "flow", -1), 2);
  ASSERT_EQ(tt_json_count(root, "f", "flow", -1), 2);
  ASSERT_EQ(tt_json_count(root, "X", "flow", btid), 2);
  ASSERT_EQ(tt_json_count(root, "i", "net", btid), 1);
  ASSERT_EQ(tt_json_count(root, "M", "thread_name", -1), 3 + 3); /* defs + renames */
  /* Call site and counter value in args; the thread's name. */
  const cJSON *e;
  int seen_outer = 0, seen_ctr = 0, seen_alpha = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "traceEvents")) {
    const char *ph = cJSON_GetObjectItem(e, "ph")->valuestring;
    const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
    cJSON *args = cJSON_GetObjectItem(e, "args");
    if (!seen_outer && !strcmp(ph, "B") && !strcmp(name, "outer")) {
      ASSERT_CONTAINS(cJSON_GetObjectItem(args, "file")->valuestring, "test_roundtrip.c");
      ASSERT_STR_EQ(cJSON_GetObjectItem(args, "func")->valuestring, "alpha_main");
      seen_outer = 1;
    }
    if (!seen_ctr && !strcmp(ph, "C")) {
      ASSERT_EQ(cJSON_GetObjectItem(args, "value")->valuedouble, -500);
      seen_ctr = 1;
    }
    if (!strcmp(ph, "M") && !strcmp(name, "thread_name") &&
        !strcmp(cJSON_GetObjectItem(args, "name")->valuestring, "alpha"))
      seen_alpha = 1;
  }
  ASSERT(seen_outer && seen_ctr && seen_alpha);
  cJSON *od = cJSON_GetObjectItem(root, "otherData");
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(od, "complete")));
  ASSERT_EQ(cJSON_GetObjectItem(od, "dropped_events")->valuedouble, 0);
  ASSERT_EQ(cJSON_GetObjectItem(od, "events")->valuedouble, (double)total);
  cJSON_Delete(root);
  tt_free(t);
  return 0;
}
