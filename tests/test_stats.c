/* `ctrace stats` (viewer/analysis/stats.c) on a synthetic Chrome JSON trace whose
 * every number is known: thread A has "outer" 0..100 us holding "inner"
 * 10..40 and 50..60 us, a read() 20..24 us inside the first inner and a
 * failing read() 70..72 us directly in outer; thread B has three "work"
 * regions of 10, 20 and 30 us and three mutex waits on two objects; a heap
 * counter goes 100, 300, 200 bytes. */
#include <cjson/cJSON.h>

#include "analysis.h"
#include "test.h"

static const char trace_json[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"A\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":2,\"args\":{\"name\":\"B\"}},\n"
    "{\"ph\":\"X\",\"name\":\"outer\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":100},\n"
    "{\"ph\":\"X\",\"name\":\"inner\",\"pid\":1,\"tid\":1,\"ts\":10,\"dur\":30},\n"
    "{\"ph\":\"X\",\"name\":\"inner\",\"pid\":1,\"tid\":1,\"ts\":50,\"dur\":10},\n"
    "{\"ph\":\"X\",\"name\":\"read\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":20,\"dur\":4,"
    "\"args\":{\"nr\":0,\"return\":5}},\n"
    "{\"ph\":\"X\",\"name\":\"read\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":70,\"dur\":2,"
    "\"args\":{\"nr\":0,\"error\":\"EAGAIN\"}},\n"
    "{\"ph\":\"B\",\"name\":\"work\",\"pid\":1,\"tid\":2,\"ts\":0},\n"
    "{\"ph\":\"E\",\"pid\":1,\"tid\":2,\"ts\":10},\n"
    "{\"ph\":\"B\",\"name\":\"work\",\"pid\":1,\"tid\":2,\"ts\":20},\n"
    "{\"ph\":\"E\",\"pid\":1,\"tid\":2,\"ts\":40},\n"
    "{\"ph\":\"X\",\"name\":\"work\",\"pid\":1,\"tid\":2,\"ts\":50,\"dur\":30},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":2,\"ts\":100,"
    "\"dur\":5,\"args\":{\"object\":\"0x10\"}},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":2,\"ts\":110,"
    "\"dur\":7,\"args\":{\"object\":\"0x10\"}},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":2,\"ts\":120,"
    "\"dur\":1,\"args\":{\"object\":\"0x20\"}},\n"
    "{\"ph\":\"C\",\"name\":\"heap live bytes\",\"pid\":1,\"ts\":0,\"args\":{\"value\":100}},\n"
    "{\"ph\":\"C\",\"name\":\"heap live bytes\",\"pid\":1,\"ts\":50,\"args\":{\"value\":300}},\n"
    "{\"ph\":\"C\",\"name\":\"heap live bytes\",\"pid\":1,\"ts\":90,\"args\":{\"value\":200}}\n"
    "]}\n";

static const char *write_trace(void) {
  const char *path = test_tmp_path("stats.json");
  test_write_file(path, trace_json, strlen(trace_json));
  return path;
}

static vx_index *build_index(void) {
  char err[512];
  char *paths[] = {(char *)write_trace()};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

static const st_region *region(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->nregions; i++)
    if (!strcmp(r->regions[i].name, name))
      return &r->regions[i];
  TEST_FAIL("no region '%s' in the report", name);
}

static const st_thread *thread(const st_report *r, const char *name) {
  for (size_t i = 0; i < r->nthreads; i++)
    if (!strcmp(r->threads[i].track->name, name))
      return &r->threads[i];
  TEST_FAIL("no thread '%s' in the report", name);
}

#define US 1000u

TEST_IMPL(stats_known_answers) {
  vx_index *x = build_index();
  st_options o = {0};
  st_report r;
  char err[256];
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), 0);
  ASSERT_UEQ(r.trace_t1 - r.trace_t0, 121 * US);
  ASSERT_UEQ(r.processes, 1);
  ASSERT_UEQ(r.nthreads, 2);
  /* JSON: no scheduler data, so a band derived from the waits and system
   * calls, as for a trace of the wrappers alone: B waits 5 + 7 + 1 us on
   * locks and runs otherwise from its first wait to its last */
  ASSERT_EQ(r.has_sched, 1);
  ASSERT_EQ(r.derived_only, 1);
  ASSERT_UEQ(thread(&r, "B")->state[VX_ST_LOCK], 13 * US);
  ASSERT_UEQ(thread(&r, "B")->state[VX_ST_RUNNING], (121 - 100 - 13) * US);
  ASSERT_UEQ(thread(&r, "A")->state[VX_ST_SYSCALL], 6 * US);
  ASSERT_UEQ(thread(&r, "A")->regions, 3);
  ASSERT_UEQ(thread(&r, "B")->regions, 3);

  ASSERT_UEQ(r.nregions, 3);
  const st_region *g = region(&r, "outer");
  ASSERT_UEQ(g->count, 1);
  ASSERT_UEQ(g->total, 100 * US);
  ASSERT_UEQ(g->self, 58 * US); /* 100 - inner 30 - inner 10 - read 2 */
  ASSERT_UEQ(g->min, 100 * US);
  ASSERT_UEQ(g->p50, 100 * US);
  ASSERT_UEQ(g->max, 100 * US);
  g = region(&r, "inner");
  ASSERT_UEQ(g->count, 2);
  ASSERT_UEQ(g->total, 40 * US);
  ASSERT_UEQ(g->self, 36 * US); /* the read inside the first one */
  ASSERT_UEQ(g->min, 10 * US);
  ASSERT_UEQ(g->p50, 10 * US);
  ASSERT_UEQ(g->p99, 30 * US);
  ASSERT_UEQ(g->max, 30 * US);
  g = region(&r, "work");
  ASSERT_UEQ(g->count, 3);
  ASSERT_UEQ(g->total, 60 * US);
  ASSERT_UEQ(g->self, 60 * US);
  ASSERT_UEQ(g->min, 10 * US);
  ASSERT_UEQ(g->p50, 20 * US);
  ASSERT_UEQ(g->p90, 30 * US);
  ASSERT_UEQ(g->max, 30 * US);

  /* sorting: by total at first, then as asked */
  ASSERT_STR_EQ(r.regions[0].name, "outer");
  ASSERT_STR_EQ(r.regions[1].name, "work");
  ASSERT_STR_EQ(r.regions[2].name, "inner");
  st_sort(&r, ST_SORT_COUNT);
  ASSERT_STR_EQ(r.regions[0].name, "work");
  ASSERT_STR_EQ(r.regions[2].name, "outer");
  st_sort(&r, ST_SORT_SELF);
  ASSERT_STR_EQ(r.regions[0].name, "work");
  ASSERT_STR_EQ(r.regions[1].name, "outer");

  /* waits by object, largest total first */
  ASSERT_UEQ(r.nblocks, 2);
  ASSERT_STR_EQ(r.blocks[0].name, "mutex wait");
  ASSERT_UEQ(r.blocks[0].object, 0x10);
  ASSERT_UEQ(r.blocks[0].count, 2);
  ASSERT_UEQ(r.blocks[0].total, 12 * US);
  ASSERT_UEQ(r.blocks[0].max, 7 * US);
  ASSERT_UEQ(r.blocks[1].object, 0x20);
  ASSERT_UEQ(r.blocks[1].total, 1 * US);

  ASSERT_UEQ(r.nsyscalls, 1);
  ASSERT_STR_EQ(r.syscalls[0].name, "read");
  ASSERT_UEQ(r.syscalls[0].calls, 2);
  ASSERT_UEQ(r.syscalls[0].errors, 1);
  ASSERT_UEQ(r.syscalls[0].total, 6 * US);
  ASSERT_UEQ(r.syscalls[0].max, 4 * US);

  ASSERT_UEQ(r.nheaps, 1);
  ASSERT(r.heaps[0].peak == 300);
  ASSERT(r.heaps[0].final == 200);

  /* the text report holds the tables */
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ASSERT(f);
  ASSERT_EQ(st_print_text(f, x, &r, 20, ST_SORT_SELF), 0);
  fclose(f);
  ASSERT_CONTAINS(text, "estimated from the wrappers' blocking spans");
  ASSERT_CONTAINS(text, "top regions by self (3 of 3");
  ASSERT_CONTAINS(text, "0x10");
  ASSERT_CONTAINS(text, "peak");
  free(text);
  st_free(&r);
  vx_free(x);
  return 0;
}

TEST_IMPL(stats_window_thread) {
  vx_index *x = build_index();
  st_report r;
  char err[256];
  /* 15..55 us: slices clipped to it */
  st_options o = {.since = 15 * US, .until = 55 * US};
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), 0);
  const st_region *g = region(&r, "outer");
  ASSERT_UEQ(g->total, 40 * US);
  ASSERT_UEQ(g->self, 10 * US); /* 40 - inner 25 - inner 5 */
  g = region(&r, "inner");
  ASSERT_UEQ(g->count, 2);
  ASSERT_UEQ(g->total, 30 * US);
  ASSERT_UEQ(g->self, 26 * US);
  ASSERT_UEQ(g->min, 5 * US);
  g = region(&r, "work"); /* 0..10 is outside */
  ASSERT_UEQ(g->count, 2);
  ASSERT_UEQ(g->total, 25 * US);
  ASSERT_UEQ(r.nblocks, 0);
  ASSERT_UEQ(r.syscalls[0].calls, 1);
  ASSERT(r.heaps[0].peak == 300);
  ASSERT(r.heaps[0].final == 300);
  st_free(&r);

  /* one thread */
  o = (st_options){.thread = "B"};
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), 0);
  ASSERT_UEQ(r.nthreads, 1);
  ASSERT_UEQ(r.nregions, 1);
  ASSERT_STR_EQ(r.regions[0].name, "work");
  ASSERT_UEQ(r.nblocks, 2);
  ASSERT_UEQ(r.nsyscalls, 0);
  st_free(&r);

  o = (st_options){.thread = "nope"};
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "no thread named 'nope'");
  o = (st_options){.since = 1000000 * US};
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "after the trace ends");
  vx_free(x);
  return 0;
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("no number '%s' in the JSON", k);
  return v->valuedouble;
}

TEST_IMPL(stats_cli_json) {
  const char *path = write_trace();
  char *argv[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--json", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  cJSON *root = cJSON_Parse(p.out);
  ASSERT(root);
  ASSERT_EQ(jnum(root, "events"), 16);
  ASSERT_EQ(jnum(root, "span_ns"), 121 * US);
  const cJSON *regs = cJSON_GetObjectItemCaseSensitive(root, "regions");
  ASSERT_EQ(cJSON_GetArraySize(regs), 3);
  const cJSON *g = cJSON_GetArrayItem(regs, 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(g, "name")->valuestring, "outer");
  ASSERT_EQ(jnum(g, "total_ns"), 100 * US);
  ASSERT_EQ(jnum(g, "self_ns"), 58 * US);
  g = cJSON_GetArrayItem(regs, 1);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(g, "name")->valuestring, "work");
  ASSERT_EQ(jnum(g, "p50_ns"), 20 * US);
  ASSERT_EQ(jnum(g, "mean_ns"), 20 * US);
  const cJSON *sys = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "syscalls"), 0);
  ASSERT_EQ(jnum(sys, "errors"), 1);
  const cJSON *blk = cJSON_GetObjectItemCaseSensitive(root, "blocking");
  const cJSON *w = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(blk, "waits"), 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(w, "object")->valuestring, "0x10");
  ASSERT_EQ(jnum(w, "total_ns"), 12 * US);
  const cJSON *heap = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "heap"), 0);
  ASSERT_EQ(jnum(heap, "peak_bytes"), 300);
  ASSERT_EQ(jnum(heap, "final_bytes"), 200);
  cJSON_Delete(root);
  test_proc_free(&p);

  /* --sort, --top, --thread, --since/--until together */
  char *argv2[] = {(char *)test_ctrace_bin,
                   "stats",
                   (char *)path,
                   "--json",
                   "--sort",
                   "count",
                   "--top",
                   "1",
                   "--thread",
                   "A",
                   "--since",
                   "15us",
                   "--until",
                   "0.000055",
                   NULL};
  p = test_run(argv2, NULL);
  ASSERT_EQ(p.status, 0);
  root = cJSON_Parse(p.out);
  ASSERT(root);
  regs = cJSON_GetObjectItemCaseSensitive(root, "regions");
  ASSERT_EQ(cJSON_GetArraySize(regs), 1);
  g = cJSON_GetArrayItem(regs, 0);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(g, "name")->valuestring, "inner");
  ASSERT_EQ(jnum(g, "total_ns"), 30 * US);
  ASSERT_EQ(jnum(root, "regions_total"), 2);
  cJSON_Delete(root);
  test_proc_free(&p);

  /* the text report */
  char *argv3[] = {(char *)test_ctrace_bin, "stats", (char *)path, NULL};
  p = test_run(argv3, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "top regions by total (3 of 3");
  ASSERT_CONTAINS(p.out, "  outer ");
  test_proc_free(&p);
  return 0;
}

TEST_IMPL(stats_cli_errors) {
  const char *path = write_trace();
  char *missing[] = {(char *)test_ctrace_bin, "stats", "/nonexistent/t.ctrace", NULL};
  test_proc p = test_run(missing, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "/nonexistent/t.ctrace: cannot open");
  test_proc_free(&p);
  char *sort[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--sort", "bogus", NULL};
  p = test_run(sort, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--sort is total, self, count or p99, not 'bogus'");
  test_proc_free(&p);
  char *top[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--top", "x", NULL};
  p = test_run(top, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--top wants a count");
  test_proc_free(&p);
  char *since[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--since", "-1", NULL};
  p = test_run(since, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--since wants seconds");
  test_proc_free(&p);
  char *until[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--until", "0", NULL};
  p = test_run(until, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--until must be after --since");
  test_proc_free(&p);
  char *none[] = {(char *)test_ctrace_bin, "stats", NULL};
  p = test_run(none, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing TRACE");
  test_proc_free(&p);
  char *bogus[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--bogus", NULL};
  p = test_run(bogus, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "unknown option '--bogus'");
  test_proc_free(&p);
  char *thr[] = {(char *)test_ctrace_bin, "stats", (char *)path, "--thread", "nope", NULL};
  p = test_run(thr, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no thread named 'nope'");
  test_proc_free(&p);
  return 0;
}
