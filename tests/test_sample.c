/* The sample program end to end, as a user runs it: CTRACE_OUT=... pipeline,
 * then `ctrace export`, then the JSON parsed with cJSON. Every count is an
 * exact function of the item and worker counts. */
#include "test.h"
#include "trace_util.h"

#define ITEMS 600
#define WORKERS 3

TEST_IMPL(sample_pipeline) {
  const char *trace = test_tmp_path("pipeline.ctrace");
  const char *json = test_tmp_path("pipeline.json");
  char env_out[600];
  snprintf(env_out, sizeof env_out, "CTRACE_OUT=%s", trace);
  char *env[] = {env_out, NULL};
  char *argv[] = {(char *)test_pipeline_bin, "-n", "600", "-w", "3", NULL};
  test_proc p = test_run(argv, env);
  if (p.status)
    TEST_FAIL("pipeline exited %d: %s", p.status, p.err);
  ASSERT_CONTAINS(p.out, "600 items through 3 workers");
  test_proc_free(&p);

  char *ex[] = {(char *)test_ctrace_bin, "export", (char *)trace, "-o", (char *)json, NULL};
  p = test_run(ex, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_STR_EQ(p.err, ""); /* a complete trace: no warning */
  test_proc_free(&p);

  const int N = ITEMS, W = WORKERS;
  cJSON *root = tt_json_file(json);
  ASSERT_EQ(tt_json_check_structure(root), 0);
  static const struct {
    const char *ph, *name;
    int count;
  } want[] = {
      {"B", "produce", ITEMS},
      {"B", "process", ITEMS},
      {"B", "parse", ITEMS},
      {"B", "transform:scale", ITEMS / 3},
      {"B", "transform:rotate", ITEMS / 3},
      {"B", "transform:blur", ITEMS / 3},
      {"B", "write", ITEMS},
      {"B", "queue_push", 2 * (ITEMS + WORKERS)},
      {"B", "queue_pop", 2 * (ITEMS + WORKERS)},
      {"E", "queue_pop", 2 * (ITEMS + WORKERS)},
      {"B", "start threads", 1},
      {"B", "join", 1},
      {"C", "work_queue_depth", 2 * (ITEMS + WORKERS)},
      {"C", "out_queue_depth", 2 * (ITEMS + WORKERS)},
      {"b", "item", ITEMS},
      {"e", "item", ITEMS},
      {"b", "pipeline run", 1},
      {"e", "pipeline run", 1},
      {"i", "worker", ITEMS},
      {"i", "main", 1},
      {"i", "checkpoint", ITEMS / 100},
      {"s", "flow", 2 * ITEMS},
      {"f", "flow", 2 * ITEMS},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    size_t got = tt_json_count(root, want[i].ph, want[i].name, -1);
    if ((int)got != want[i].count)
      TEST_FAIL("%s %s: %zu events, want %d", want[i].ph, want[i].name, got, want[i].count);
  }
  (void)N, (void)W;
  /* Threads named by the program: main, producer, writer, worker-0..2. */
  const char *names[] = {"main", "producer", "writer", "worker-0", "worker-1", "worker-2"};
  for (size_t i = 0; i < 6; i++) {
    int found = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "traceEvents")) {
      if (!strcmp(cJSON_GetObjectItem(e, "ph")->valuestring, "M") &&
          !strcmp(cJSON_GetObjectItem(e, "name")->valuestring, "thread_name") &&
          !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "args"), "name")->valuestring,
                  names[i]))
        found = 1;
    }
    if (!found)
      TEST_FAIL("no thread named %s", names[i]);
  }
  /* Workers log on their item's task. */
  const cJSON *e;
  int logs = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(root, "traceEvents")) {
    if (strcmp(cJSON_GetObjectItem(e, "name")->valuestring, "worker") != 0)
      continue;
    cJSON *args = cJSON_GetObjectItem(e, "args");
    ASSERT(cJSON_GetObjectItem(args, "task") != NULL);
    ASSERT_CONTAINS(cJSON_GetObjectItem(args, "message")->valuestring, "checksum");
    logs++;
  }
  ASSERT_EQ(logs, ITEMS);
  cJSON *od = cJSON_GetObjectItem(root, "otherData");
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(od, "complete")));
  ASSERT_STR_EQ(cJSON_GetObjectItem(od, "process")->valuestring, "pipeline");
  cJSON_Delete(root);

  /* `ctrace info` agrees. */
  char *info[] = {(char *)test_ctrace_bin, "info", (char *)trace, NULL};
  p = test_run(info, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "complete:  yes");
  ASSERT_CONTAINS(p.out, "dropped:   0");
  ASSERT_CONTAINS(p.out, "worker-2");
  test_proc_free(&p);
  return 0;
}
