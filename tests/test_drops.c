/* When the writer cannot keep up and the memory cap is reached, events are
 * dropped and counted, never silently: the count returned by the API, the
 * DROPPED events in the trace, the END record and the export all agree
 * with what was attempted minus what was recorded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "export.h"
#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

#define DROP_EVENTS 2000000 /* per thread; 1 MiB holds far fewer */

static void *drop_main(void *arg) {
  (void)arg;
  for (int i = 0; i < DROP_EVENTS / 2; i++) {
    CTRACE_REGION_BEGIN("r");
    CTRACE_REGION_END();
  }
  return NULL;
}

TEST_IMPL(drops_counted) {
  const char *path = test_tmp_path("drops.ctrace");
  /* A writer that sleeps for 10 s (test hook) and a 1 MiB cap: the
   * threads must run out of memory. ctrace_stop() wakes the writer. */
  setenv("CTRACE__TEST_WRITER_DELAY_MS", "10000", 1);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  o.buffer_mb = 1;
  ASSERT_EQ(ctrace_start(&o), 0);
  unsetenv("CTRACE__TEST_WRITER_DELAY_MS");
  pthread_t workers[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&workers[i], NULL, drop_main, NULL);
  for (int i = 0; i < 2; i++)
    pthread_join(workers[i], NULL);
  ASSERT_EQ(ctrace_stop(), CTRACE_ELOST);
  uint64_t dropped = ctrace_dropped_events();
  ASSERT_GT(dropped, 0);
  ASSERT_LT(dropped, 2 * DROP_EVENTS);

  ttrace *t = tt_load(path);
  ASSERT_EQ(t->stream_errors, 0);
  ASSERT_UEQ(rd_dropped_reported(t->tr), dropped);
  uint64_t recorded = 0, marked = 0, reported = 0;
  for (size_t i = 0; i < t->nth; i++) {
    tthread *th = &t->th[i];
    reported += th->info->dropped;
    for (size_t k = 0; k < th->n; k++) {
      if (th->ev[k].type == CTRACE_FMT_EV_DROPPED)
        marked += th->ev[k].arg[0];
      else
        recorded++;
    }
  }
  /* Nothing vanished: every attempted event was either recorded or counted. */
  ASSERT_UEQ(recorded + dropped, 2 * DROP_EVENTS);
  ASSERT_UEQ(reported, dropped);
  ASSERT_ULE(marked, dropped); /* the rest are reported at the end */

  /* The export tells the same number, and marks it on the threads. */
  const char *json = test_tmp_path("drops.json");
  int fd = open(json, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cj_stats st;
  char err[256];
  ASSERT_EQ(tt_export(t->tr, fd, &st, err, sizeof err), 0);
  close(fd);
  ASSERT_UEQ(st.dropped, dropped);
  cJSON *root = tt_json_file(json);
  cJSON *od = cJSON_GetObjectItem(root, "otherData");
  ASSERT_EQ(cJSON_GetObjectItem(od, "dropped_events")->valuedouble, (double)dropped);
  size_t markers = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "traceEvents")) {
    const cJSON *cat = cJSON_GetObjectItem(e, "cat");
    if (cat && !strcmp(cat->valuestring, "ctrace"))
      markers++;
  }
  ASSERT_GE(markers, 1);
  cJSON_Delete(root);

  /* `ctrace export --strict` fails on it, and says why. */
  char *argv[] = {
      (char *)test_ctrace_bin, "export", "--strict", (char *)path, "-o", "/dev/null", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "events were dropped");
  test_proc_free(&p);
  tt_free(t);
  return 0;
}

static void *few_main(void *arg) {
  (void)arg;
  ctrace_thread_set_name("latecomer");
  for (int i = 0; i < 50; i++) {
    CTRACE_REGION_BEGIN("r");
    CTRACE_REGION_END();
  }
  return NULL;
}

/* A thread that starts once all memory is taken never gets a chunk: it is
 * in the trace all the same, with all its events counted as its drops. */
TEST_IMPL(drops_chunkless_thread) {
  const char *path = test_tmp_path("chunkless.ctrace");
  setenv("CTRACE__TEST_WRITER_DELAY_MS", "10000", 1);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  o.buffer_mb = 1;
  ASSERT_EQ(ctrace_start(&o), 0);
  unsetenv("CTRACE__TEST_WRITER_DELAY_MS");
  pthread_t a, b;
  pthread_create(&a, NULL, drop_main, NULL); /* takes every chunk */
  pthread_join(a, NULL);
  pthread_create(&b, NULL, few_main, NULL);
  pthread_join(b, NULL);
  ASSERT_EQ(ctrace_stop(), CTRACE_ELOST);
  uint64_t dropped = ctrace_dropped_events();
  ttrace *t = tt_load(path);
  uint64_t reported = 0, recorded = 0;
  int latecomer = 0;
  for (size_t i = 0; i < t->nth; i++) {
    reported += t->th[i].info->dropped;
    recorded += t->th[i].n;
    if (t->th[i].n == 0 && t->th[i].info->dropped == 101) /* name + 100 region events */
      latecomer = 1;
    printf("thread %d: %zu events, %" PRIu64 " dropped\n", t->th[i].info->tid, t->th[i].n,
           t->th[i].info->dropped);
  }
  ASSERT(latecomer);
  ASSERT_UEQ(recorded + dropped, DROP_EVENTS + 101); /* nothing vanished */
  ASSERT_UEQ(reported, dropped);
  ASSERT_UEQ(rd_dropped_reported(t->tr), dropped);
  tt_free(t);
  return 0;
}
