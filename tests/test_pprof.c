/* Blocking profiles and `ctrace pprof` (viewer/analysis/profile.c) on traces whose
 * every number is known.
 *
 * The Chrome JSON trace (us): thread A has "serve" 0..100 holding "parse"
 * 10..40 (mutex waits on 0x10 at 12..15 and 30..32, a read 20..24), a
 * mutex wait on 0x20 at 45..46, "flush" 50..80 (write 55..61, poll 62..70,
 * nanosleep 71..73) and a write 90..91. Thread B has "work" 0..60 (a
 * condvar wait on 0x30 at 5..25, a read 30..33), then outside any region a
 * mutex wait on 0x10 at 70..77 and a nanosleep 80..90.
 *
 * Scheduling (runnable time) needs the kernel's context switches, which
 * JSON cannot carry: the test records its own regions with libctrace and
 * writes FILE.kernel beside it with switches at known offsets inside them
 * (tracer/kernel_trace.c, what `ctrace run` uses). */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "capture.h"
#include "ctrace/ctrace.h"
#include "analysis.h"
#include "profile.pb-c.h"
#include "test.h"

#define US 1000u

static const char trace_json[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"A\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":2,\"args\":{\"name\":\"B\"}},\n"
    "{\"ph\":\"X\",\"name\":\"serve\",\"pid\":1,\"tid\":1,\"ts\":0,\"dur\":100},\n"
    "{\"ph\":\"X\",\"name\":\"parse\",\"pid\":1,\"tid\":1,\"ts\":10,\"dur\":30},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":1,\"ts\":12,"
    "\"dur\":3,\"args\":{\"object\":\"0x10\"}},\n"
    "{\"ph\":\"X\",\"name\":\"read\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":20,\"dur\":4,"
    "\"args\":{\"nr\":0,\"return\":5}},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":1,\"ts\":30,"
    "\"dur\":2,\"args\":{\"object\":\"0x10\"}},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":1,\"ts\":45,"
    "\"dur\":1,\"args\":{\"object\":\"0x20\"}},\n"
    "{\"ph\":\"X\",\"name\":\"flush\",\"pid\":1,\"tid\":1,\"ts\":50,\"dur\":30},\n"
    "{\"ph\":\"X\",\"name\":\"write\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":55,\"dur\":6,"
    "\"args\":{\"nr\":1,\"return\":100}},\n"
    "{\"ph\":\"X\",\"name\":\"poll\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":62,\"dur\":8,"
    "\"args\":{\"nr\":7,\"return\":1}},\n"
    "{\"ph\":\"X\",\"name\":\"nanosleep\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":71,"
    "\"dur\":2,\"args\":{\"nr\":35,\"return\":0}},\n"
    "{\"ph\":\"X\",\"name\":\"write\",\"cat\":\"syscall\",\"pid\":1,\"tid\":1,\"ts\":90,\"dur\":1,"
    "\"args\":{\"nr\":1,\"return\":10}},\n"
    "{\"ph\":\"B\",\"name\":\"work\",\"pid\":1,\"tid\":2,\"ts\":0},\n"
    "{\"ph\":\"X\",\"name\":\"condvar wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":2,\"ts\":5,"
    "\"dur\":20,\"args\":{\"object\":\"0x30\"}},\n"
    "{\"ph\":\"X\",\"name\":\"read\",\"cat\":\"syscall\",\"pid\":1,\"tid\":2,\"ts\":30,\"dur\":3,"
    "\"args\":{\"nr\":0,\"return\":1}},\n"
    "{\"ph\":\"E\",\"pid\":1,\"tid\":2,\"ts\":60},\n"
    "{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\",\"pid\":1,\"tid\":2,\"ts\":70,"
    "\"dur\":7,\"args\":{\"object\":\"0x10\"}},\n"
    "{\"ph\":\"X\",\"name\":\"nanosleep\",\"cat\":\"syscall\",\"pid\":1,\"tid\":2,\"ts\":80,"
    "\"dur\":10,\"args\":{\"nr\":35,\"return\":0}}\n"
    "]}\n";

static const char *write_trace(void) {
  const char *path = test_tmp_path("pprof.json");
  test_write_file(path, trace_json, strlen(trace_json));
  return path;
}

static vx_index *build(char **paths, size_t n) {
  char err[512];
  vx_index *x = vx_build(paths, n, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

/* The stack of sample i, root first, joined by ';' (as pprof's -traces
 * and flame graph tools write them). */
static const char *stack_of(const pf_profile *p, size_t i) {
  static char buf[1024];
  const pf_sample *s = &p->samples[i];
  size_t k = 0;
  buf[0] = '\0';
  for (size_t j = s->n; j-- > 0;)
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", j + 1 < s->n ? ";" : "",
                          p->strings[p->frames[p->stack[s->first + j]].name]);
  return buf;
}

typedef struct want {
  const char *stack; /* root first, ';'-joined */
  uint64_t count, delay;
  const char *object; /* or NULL */
} want;

static void check(const pf_profile *p, const want *w, size_t n) {
  for (size_t i = 0; i < p->nsamples && i < n; i++) {
    ASSERT_STR_EQ(stack_of(p, i), w[i].stack);
    ASSERT_UEQ(p->samples[i].count, w[i].count);
    ASSERT_UEQ(p->samples[i].delay, w[i].delay);
    if (w[i].object)
      ASSERT_STR_EQ(p->strings[p->samples[i].object_str], w[i].object);
    else
      ASSERT_UEQ(p->samples[i].object_str, 0);
  }
  ASSERT_UEQ(p->nsamples, n);
  uint64_t c = 0, d = 0;
  for (size_t i = 0; i < n; i++) {
    c += w[i].count;
    d += w[i].delay;
  }
  ASSERT_UEQ(p->count, c);
  ASSERT_UEQ(p->delay, d);
}

static const want sync_all[] = {
    {"thread B;work;condvar wait", 1, 20 * US, "0x30"},
    {"thread B;mutex wait", 1, 7 * US, "0x10"},
    {"thread A;serve;parse;mutex wait", 2, 5 * US, "0x10"},
    {"thread A;serve;mutex wait", 1, 1 * US, "0x20"},
};

static const want syscall_all[] = {
    {"thread B;nanosleep", 1, 10 * US, NULL},
    {"thread A;serve;flush;poll", 1, 8 * US, NULL},
    {"thread A;serve;flush;write", 1, 6 * US, NULL},
    {"thread A;serve;parse;read", 1, 4 * US, NULL},
    {"thread B;work;read", 1, 3 * US, NULL},
    {"thread A;serve;flush;nanosleep", 1, 2 * US, NULL},
    {"thread A;serve;write", 1, 1 * US, NULL},
};

TEST_IMPL(pprof_known_answers) {
  char *paths[] = {(char *)write_trace()};
  vx_index *x = build(paths, 1);
  st_options o = {0};
  pf_profile p;
  char err[256];

  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), 0);
  check(&p, sync_all, 4);
  ASSERT_UEQ(p.t1 - p.t0, 100 * US);
  ASSERT_EQ(p.time_nanos, 0); /* JSON: no wall clock */
  ASSERT_STR_EQ(p.strings[0], "");
  pf_free(&p);

  ASSERT_EQ(pf_compute(x, PF_SYSCALL, &o, &p, err, sizeof err), 0);
  check(&p, syscall_all, 7);
  pf_free(&p);

  static const want io_all[] = {
      {"thread A;serve;flush;poll", 1, 8 * US, NULL},
      {"thread A;serve;flush;write", 1, 6 * US, NULL},
      {"thread A;serve;parse;read", 1, 4 * US, NULL},
      {"thread B;work;read", 1, 3 * US, NULL},
      {"thread A;serve;write", 1, 1 * US, NULL},
  };
  ASSERT_EQ(pf_compute(x, PF_IO, &o, &p, err, sizeof err), 0);
  check(&p, io_all, 5);
  pf_free(&p);

  /* 22..65 us: durations clipped; equal delays by count, then by stack */
  o = (st_options){.since = 22 * US, .until = 65 * US};
  static const want sync_win[] = {
      {"thread B;work;condvar wait", 1, 3 * US, "0x30"},
      {"thread A;serve;parse;mutex wait", 1, 2 * US, "0x10"},
      {"thread A;serve;mutex wait", 1, 1 * US, "0x20"},
  };
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), 0);
  check(&p, sync_win, 3);
  ASSERT_UEQ(p.t1 - p.t0, 43 * US);
  pf_free(&p);
  static const want io_win[] = {
      {"thread A;serve;flush;write", 1, 6 * US, NULL},
      {"thread A;serve;flush;poll", 1, 3 * US, NULL},
      {"thread B;work;read", 1, 3 * US, NULL},
      {"thread A;serve;parse;read", 1, 2 * US, NULL},
  };
  ASSERT_EQ(pf_compute(x, PF_IO, &o, &p, err, sizeof err), 0);
  check(&p, io_win, 4);
  pf_free(&p);

  /* one thread */
  o = (st_options){.thread = "B"};
  static const want sys_b[] = {
      {"thread B;nanosleep", 1, 10 * US, NULL},
      {"thread B;work;read", 1, 3 * US, NULL},
  };
  ASSERT_EQ(pf_compute(x, PF_SYSCALL, &o, &p, err, sizeof err), 0);
  check(&p, sys_b, 2);
  pf_free(&p);

  /* nothing of the kind is no error; the errors are */
  o = (st_options){.since = 78 * US, .until = 79 * US};
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), 0);
  ASSERT_UEQ(p.nsamples, 0);
  pf_free(&p);
  o = (st_options){0};
  ASSERT_EQ(pf_compute(x, PF_SCHED, &o, &p, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "no scheduler data in this trace: record with ctrace run where "
                       "perf_event_open is allowed");
  o = (st_options){.thread = "nope"};
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "no thread named 'nope'");
  o = (st_options){.since = 1000 * US};
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), -1);
  ASSERT_CONTAINS(err, "after the trace ends");

  /* the JSON for the viewer: root first */
  o = (st_options){0};
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), 0);
  cJSON *j = pf_json(&p, 2);
  ASSERT(j);
  ASSERT_EQ(cJSON_GetArraySize(j), 2);
  const cJSON *s0 = cJSON_GetArrayItem(j, 0);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(s0, "stack");
  ASSERT_EQ(cJSON_GetArraySize(st), 3);
  ASSERT_STR_EQ(cJSON_GetArrayItem(st, 0)->valuestring, "thread B");
  ASSERT_STR_EQ(cJSON_GetArrayItem(st, 2)->valuestring, "condvar wait");
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(s0, "count")->valuedouble, 1);
  ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(s0, "total_ns")->valuedouble, 20 * US);
  ASSERT_STR_EQ(cJSON_GetObjectItemCaseSensitive(s0, "object")->valuestring, "0x30");
  cJSON_Delete(j);
  j = pf_json(&p, 0);
  ASSERT_EQ(cJSON_GetArraySize(j), 4);
  cJSON_Delete(j);
  pf_free(&p);
  vx_free(x);

  /* names that are not UTF-8 (proto3 strings must be): bytes become '?' */
  static const char bad[] =
      "{\"traceEvents\":[{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,"
      "\"args\":{\"name\":\"A\xff\"}},{\"ph\":\"X\",\"name\":\"r\xc3\xa9gion \xe0\x80\",\"pid\":1,"
      "\"tid\":1,\"ts\":0,\"dur\":10},{\"ph\":\"X\",\"name\":\"mutex wait\",\"cat\":\"wait\","
      "\"pid\":1,\"tid\":1,\"ts\":1,\"dur\":2}]}";
  const char *bad_path = test_tmp_path("bad.json");
  FILE *bf = fopen(bad_path, "w");
  ASSERT(bf && fwrite(bad, 1, sizeof bad - 1, bf) == sizeof bad - 1 && fclose(bf) == 0);
  char *bad_paths[1] = {(char *)bad_path};
  x = vx_build(bad_paths, 1, err, sizeof err);
  ASSERT(x);
  ASSERT_EQ(pf_compute(x, PF_SYNC, &o, &p, err, sizeof err), 0);
  static const want utf8[] = {{"thread A?;r\xc3\xa9gion ??;mutex wait", 1, 2 * US, NULL}};
  check(&p, utf8, 1);
  pf_free(&p);
  vx_free(x);
  return 0;
}

/* ---- The pprof file, decoded again ------------------------------------------------------ */

static uint8_t *gunzip(const uint8_t *in, size_t n, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  ASSERT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK); /* gzip only */
  size_t cap = 1 << 16, len = 0;
  uint8_t *out = malloc(cap);
  ASSERT(out);
  z.next_in = (Bytef *)(uintptr_t)in;
  z.avail_in = (uInt)n;
  int r;
  do {
    if (len == cap) {
      cap *= 2;
      out = realloc(out, cap);
      ASSERT(out);
    }
    z.next_out = out + len;
    z.avail_out = (uInt)(cap - len);
    r = inflate(&z, Z_NO_FLUSH);
    ASSERT(r == Z_OK || r == Z_STREAM_END);
    len = cap - z.avail_out;
  } while (r != Z_STREAM_END);
  ASSERT_EQ(z.avail_in, 0);
  inflateEnd(&z);
  *out_len = len;
  return out;
}

typedef Perftools__Profiles__Profile PProfile;

static const char *pstr(const PProfile *pr, int64_t i) {
  ASSERT(i >= 0 && (size_t)i < pr->n_string_table);
  return pr->string_table[i];
}

static const Perftools__Profiles__Location *ploc(const PProfile *pr, uint64_t id) {
  ASSERT(id != 0);
  for (size_t i = 0; i < pr->n_location; i++)
    if (pr->location[i]->id == id)
      return pr->location[i];
  TEST_FAIL("no location %" PRIu64, id);
}

static const Perftools__Profiles__Function *pfun(const PProfile *pr, uint64_t id) {
  ASSERT(id != 0);
  for (size_t i = 0; i < pr->n_function; i++)
    if (pr->function[i]->id == id)
      return pr->function[i];
  TEST_FAIL("no function %" PRIu64, id);
}

/* Sample i's stack through its locations and functions, root first. */
static const char *pstack(const PProfile *pr, size_t i) {
  static char buf[1024];
  const Perftools__Profiles__Sample *s = pr->sample[i];
  size_t k = 0;
  buf[0] = '\0';
  for (size_t j = s->n_location_id; j-- > 0;) {
    const Perftools__Profiles__Location *l = ploc(pr, s->location_id[j]);
    ASSERT_UEQ(l->n_line, 1);
    ASSERT_UEQ(l->mapping_id, 1);
    const Perftools__Profiles__Function *f = pfun(pr, l->line[0]->function_id);
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", j + 1 < s->n_location_id ? ";" : "",
                          pstr(pr, f->name));
  }
  return buf;
}

static PProfile *read_pprof(const char *path) {
  size_t n, raw_len;
  char *gz = test_read_file(path, &n);
  ASSERT(n > 18 && (uint8_t)gz[0] == 0x1f && (uint8_t)gz[1] == 0x8b); /* gzip */
  uint8_t *raw = gunzip((const uint8_t *)gz, n, &raw_len);
  PProfile *pr = perftools__profiles__profile__unpack(NULL, raw_len, raw);
  ASSERT(pr);
  free(raw);
  free(gz);
  return pr;
}

/* The samples as `want`, and the structure pprof checks: ids nonzero and
 * unique, every reference resolves, two values per sample. */
static void check_pprof(const PProfile *pr, const want *w, size_t n) {
  ASSERT(pr->n_string_table > 0);
  ASSERT_STR_EQ(pr->string_table[0], "");
  ASSERT_UEQ(pr->n_sample_type, 2);
  ASSERT_STR_EQ(pstr(pr, pr->sample_type[0]->type), "contentions");
  ASSERT_STR_EQ(pstr(pr, pr->sample_type[0]->unit), "count");
  ASSERT_STR_EQ(pstr(pr, pr->sample_type[1]->type), "delay");
  ASSERT_STR_EQ(pstr(pr, pr->sample_type[1]->unit), "nanoseconds");
  ASSERT(pr->period_type);
  ASSERT_STR_EQ(pstr(pr, pr->period_type->type), "delay");
  ASSERT_STR_EQ(pstr(pr, pr->period_type->unit), "nanoseconds");
  ASSERT_EQ(pr->period, 1);
  ASSERT_UEQ(pr->n_mapping, 1);
  ASSERT_UEQ(pr->mapping[0]->id, 1);
  ASSERT(pr->mapping[0]->has_functions);
  for (size_t i = 0; i < pr->n_location; i++)
    for (size_t j = 0; j < i; j++)
      ASSERT(pr->location[i]->id != pr->location[j]->id);
  for (size_t i = 0; i < pr->n_function; i++) {
    for (size_t j = 0; j < i; j++)
      ASSERT(pr->function[i]->id != pr->function[j]->id);
    pstr(pr, pr->function[i]->name);
    pstr(pr, pr->function[i]->filename);
  }
  ASSERT_UEQ(pr->n_sample, n);
  for (size_t i = 0; i < n; i++) {
    const Perftools__Profiles__Sample *s = pr->sample[i];
    ASSERT_STR_EQ(pstack(pr, i), w[i].stack);
    ASSERT_UEQ(s->n_value, 2);
    ASSERT_EQ(s->value[0], (int64_t)w[i].count);
    ASSERT_EQ(s->value[1], (int64_t)w[i].delay);
    if (w[i].object) {
      ASSERT_UEQ(s->n_label, 1);
      ASSERT_STR_EQ(pstr(pr, s->label[0]->key), "object");
      ASSERT_STR_EQ(pstr(pr, s->label[0]->str), w[i].object);
    } else {
      ASSERT_UEQ(s->n_label, 0);
    }
  }
}

/* protoc's own decoder accepts the file (the message as profile.proto
 * declares it); skipped with a note without protoc. */
static void protoc_decodes(const char *gz_path) {
  if (access("/usr/bin/protoc", X_OK) != 0) {
    fprintf(stderr, "note: protoc not found (apt-get install protobuf-compiler): the "
                    "protoc --decode check is skipped\n");
    return;
  }
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "gzip -dc '%s' | /usr/bin/protoc --decode=perftools.profiles.Profile "
           "--proto_path='%s/../../viewer/analysis' profile.proto",
           gz_path, test_data_dir);
  char *argv[] = {"/bin/sh", "-c", cmd, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status)
    TEST_FAIL("protoc --decode failed (%d): %s", p.status, p.err);
  ASSERT_CONTAINS(p.out, "string_table: \"contentions\"");
  ASSERT_CONTAINS(p.out, "string_table: \"condvar wait\"");
  ASSERT_CONTAINS(p.out, "duration_nanos: 100000");
  test_proc_free(&p);
}

TEST_IMPL(pprof_cli_decode) {
  const char *path = write_trace();
  const char *out = test_tmp_path("sync.pb.gz");
  char *argv[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sync", (char *)path, "-o", (char *)out, NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  char line[1024];
  snprintf(line, sizeof line, "wrote %s: 4 samples (5 events), 33.00 us delay\n", out);
  ASSERT_STR_EQ(p.out, line);
  test_proc_free(&p);
  PProfile *pr = read_pprof(out);
  check_pprof(pr, sync_all, 4);
  ASSERT_EQ(pr->duration_nanos, 100 * US);
  ASSERT_EQ(pr->time_nanos, 0);
  ASSERT_UEQ(pr->n_comment, 1);
  ASSERT_CONTAINS(pstr(pr, pr->comment[0]), "--type sync");
  ASSERT_STR_EQ(pstr(pr, pr->default_sample_type), "delay");
  /* frames are shared: "thread A", "serve", "parse", "mutex wait" are one
   * location each, however many samples hold them */
  ASSERT_UEQ(pr->n_location, 7); /* thread A, thread B, serve, parse, work, mutex, condvar */
  ASSERT_UEQ(pr->n_function, 7);
  perftools__profiles__profile__free_unpacked(pr, NULL);
  protoc_decodes(out);

  /* syscalls of thread B in a window, by the default name TYPE.pb.gz in
   * the working directory */
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && exec '%s' pprof --type syscall --thread B "
           "--since 0 --until 100us '%s'",
           test_tmp_path("."), test_ctrace_bin, path);
  char *sh[] = {"/bin/sh", "-c", cmd, NULL};
  p = test_run(sh, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_STR_EQ(p.out, "wrote syscall.pb.gz: 2 samples (2 events), 13.00 us delay\n");
  test_proc_free(&p);
  static const want sys_b[] = {
      {"thread B;nanosleep", 1, 10 * US, NULL},
      {"thread B;work;read", 1, 3 * US, NULL},
  };
  pr = read_pprof(test_tmp_path("syscall.pb.gz"));
  check_pprof(pr, sys_b, 2);
  perftools__profiles__profile__free_unpacked(pr, NULL);
  return 0;
}

TEST_IMPL(pprof_cli_errors) {
  const char *path = write_trace();
  const char *out = test_tmp_path("x.pb.gz");
  char *bad[] = {(char *)test_ctrace_bin, "pprof", "--type", "locks", (char *)path, NULL};
  test_proc p = test_run(bad, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--type is cpu, heap, allocs, sync, syscall, sched or io, not 'locks'");
  test_proc_free(&p);
  char *none[] = {(char *)test_ctrace_bin, "pprof", (char *)path, NULL};
  p = test_run(none, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing --type");
  test_proc_free(&p);
  char *notrace[] = {(char *)test_ctrace_bin, "pprof", "--type", "io", NULL};
  p = test_run(notrace, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing TRACE");
  test_proc_free(&p);
  char *missing[] = {(char *)test_ctrace_bin, "pprof", "--type", "io",
                     "/nonexistent/t.ctrace", NULL};
  p = test_run(missing, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "/nonexistent/t.ctrace: cannot open");
  test_proc_free(&p);
  char *sched[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sched", (char *)path, "-o", (char *)out, NULL};
  p = test_run(sched, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "ctrace pprof: no scheduler data in this trace: record with ctrace run "
                         "where perf_event_open is allowed");
  test_proc_free(&p);
  char *empty[] = {(char *)test_ctrace_bin,
                   "pprof",
                   "--type",
                   "sync",
                   (char *)path,
                   "--since",
                   "78us",
                   "--until",
                   "79us",
                   "-o",
                   (char *)out,
                   NULL};
  p = test_run(empty, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no lock, condvar, rwlock, semaphore or join waits in ");
  ASSERT_CONTAINS(p.err, "(in the window)");
  test_proc_free(&p);
  ASSERT(access(out, F_OK) != 0); /* nothing written */
  char *thr[] = {(char *)test_ctrace_bin,
                 "pprof",
                 "--type",
                 "sync",
                 (char *)path,
                 "--thread",
                 "nope",
                 "-o",
                 (char *)out,
                 NULL};
  p = test_run(thr, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no thread named 'nope'");
  test_proc_free(&p);
  char *unw[] = {(char *)test_ctrace_bin,    "pprof", "--type", "sync", (char *)path, "-o",
                 "/nonexistent/dir/x.pb.gz", NULL};
  p = test_run(unw, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "cannot write /nonexistent/dir/x.pb.gz: No such file or directory");
  test_proc_free(&p);
  char *until[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sync", (char *)path, "--until", "0", NULL};
  p = test_run(until, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--until must be after --since");
  test_proc_free(&p);
  char *since[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sync", (char *)path, "--since", "soon", NULL};
  p = test_run(since, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--since wants seconds");
  test_proc_free(&p);
  char *bogus[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sync", (char *)path, "--bogus", NULL};
  p = test_run(bogus, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "unknown option '--bogus'");
  test_proc_free(&p);
  return 0;
}

/* ---- Scheduling: runnable time, from context switches ----------------------------------- */

static void sleep_ms(int ms) {
  struct timespec ts = {0, ms * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

static const vx_slice *slice_named(const vx_index *x, const vx_track *t, size_t d,
                                   const char *name) {
  ASSERT(d < t->depths);
  for (size_t i = 0; i < t->ndepth[d]; i++)
    if (!strcmp(vx_label_get(x, t->depth[d][i].label)->name, name))
      return &t->depth[d][i];
  TEST_FAIL("no slice '%s' at depth %zu", name, d);
}

static const vx_track *track_of(const vx_index *x, int tid) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD && t->tid == tid)
      return t;
  }
  TEST_FAIL("no track of tid %d", tid);
}

static void kswitch(kt_writer *k, int kind, uint64_t ns, int tid) {
  ctrace__kevent ev = {.ns = ns, .kind = kind, .pid = getpid(), .tid = tid, .cpu = 1};
  kt_event(k, &ev);
}

TEST_IMPL(pprof_sched) {
  /* the program's regions, recorded for real */
  const char *path = test_tmp_path("sched.ctrace");
  ctrace_options opts = CTRACE_OPTIONS_INIT;
  opts.path = path;
  ASSERT_EQ(ctrace_start(&opts), 0);
  ctrace_thread_set_name("sched-main");
  CTRACE_REGION_BEGIN("outer");
  CTRACE_REGION_BEGIN("inner");
  sleep_ms(3);
  CTRACE_REGION_END();
  sleep_ms(3);
  CTRACE_REGION_END();
  sleep_ms(1);
  ASSERT_EQ(ctrace_stop(), 0);
  int tid = (int)syscall(SYS_gettid);
  char *paths[2] = {(char *)path, NULL};
  vx_index *x = build(paths, 1);
  const vx_track *t = track_of(x, tid);
  vx_slice outer = *slice_named(x, t, 0, "outer"), inner = *slice_named(x, t, 1, "inner");
  vx_free(x);
  uint64_t s0 = outer.start, e0 = outer.start + outer.dur, s1 = inner.start,
           e1 = inner.start + inner.dur;
  ASSERT(s1 + 5000 < e1 && e1 + 1000 < e0);

  /* the kernel's view of it: preempted twice in inner (300 + 200 ns),
   * blocked once (not runnable), preempted in outer (50 ns) and after
   * it (700 ns) */
  char kpath[1024], err[512];
  snprintf(kpath, sizeof kpath, "%s.kernel", path);
  kt_writer *k = kt_open(kpath, getpid(), "test", 0, 1, NULL, err, sizeof err);
  if (!k)
    TEST_FAIL("kt_open: %s", err);
  kswitch(k, CTRACE__K_SWITCH_IN, s0 - 1000, tid);
  kswitch(k, CTRACE__K_SWITCH_OUT_PREEMPT, s1 + 1000, tid);
  kswitch(k, CTRACE__K_SWITCH_IN, s1 + 1300, tid);
  kswitch(k, CTRACE__K_SWITCH_OUT_PREEMPT, s1 + 2000, tid);
  kswitch(k, CTRACE__K_SWITCH_IN, s1 + 2200, tid);
  kswitch(k, CTRACE__K_SWITCH_OUT, s1 + 3000, tid);
  kswitch(k, CTRACE__K_SWITCH_IN, s1 + 4000, tid);
  kswitch(k, CTRACE__K_SWITCH_OUT_PREEMPT, e1 + 100, tid);
  kswitch(k, CTRACE__K_SWITCH_IN, e1 + 150, tid);
  kswitch(k, CTRACE__K_SWITCH_OUT_PREEMPT, e0 + 500, tid);
  kswitch(k, CTRACE__K_SWITCH_IN, e0 + 1200, tid);
  ASSERT_EQ(kt_close(k), 0);

  paths[1] = kpath;
  x = build(paths, 2);
  t = track_of(x, tid);
  ASSERT_UEQ(slice_named(x, t, 0, "outer")->start, s0); /* the same times */
  ASSERT_UEQ(slice_named(x, t, 1, "inner")->start, s1);
  st_options o = {0};
  pf_profile p;
  ASSERT_EQ(pf_compute(x, PF_SCHED, &o, &p, err, sizeof err), 0);
  static const want all[] = {
      {"thread sched-main;runnable", 1, 700, NULL},
      {"thread sched-main;outer;inner;runnable", 2, 500, NULL},
      {"thread sched-main;outer;runnable", 1, 50, NULL},
  };
  check(&p, all, 3);
  ASSERT(p.time_nanos > 1600000000ll * 1000000000ll); /* a wall clock time: after 2020 */
  /* regions carry their call sites */
  const pf_frame *f = &p.frames[p.stack[p.samples[1].first + 1]];
  ASSERT_STR_EQ(p.strings[f->name], "inner");
  ASSERT_CONTAINS(p.strings[f->file], "test_pprof.c");
  ASSERT(f->line > 0);
  pf_free(&p);

  /* a window from inside the first preemption to inside the third */
  uint64_t tx0 = vx_t0(x);
  o = (st_options){.since = s1 + 1100 - tx0, .until = e1 + 125 - tx0};
  static const want win[] = {
      {"thread sched-main;outer;inner;runnable", 2, 400, NULL},
      {"thread sched-main;outer;runnable", 1, 25, NULL},
  };
  ASSERT_EQ(pf_compute(x, PF_SCHED, &o, &p, err, sizeof err), 0);
  check(&p, win, 2);
  pf_free(&p);
  vx_free(x);

  /* the command finds FILE.kernel by itself */
  const char *out = test_tmp_path("sched.pb.gz");
  char *argv[] = {
      (char *)test_ctrace_bin, "pprof", "--type", "sched", (char *)path, "-o", (char *)out, NULL};
  test_proc pr = test_run(argv, NULL);
  ASSERT_EQ(pr.status, 0);
  ASSERT_CONTAINS(pr.err, "with ");
  ASSERT_CONTAINS(pr.err, "sched.ctrace.kernel");
  ASSERT_CONTAINS(pr.out, "3 samples (4 events), 1.25 us delay");
  test_proc_free(&pr);
  PProfile *pp = read_pprof(out);
  check_pprof(pp, all, 3);
  ASSERT(pp->time_nanos > 1600000000ll * 1000000000ll);
  /* the region's function has its file, its location the line */
  const Perftools__Profiles__Location *l = ploc(pp, pp->sample[1]->location_id[1]);
  const Perftools__Profiles__Function *fn = pfun(pp, l->line[0]->function_id);
  ASSERT_STR_EQ(pstr(pp, fn->name), "inner");
  ASSERT_CONTAINS(pstr(pp, fn->filename), "test_pprof.c");
  ASSERT(l->line[0]->line > 0);
  ASSERT(pp->mapping[0]->has_filenames && pp->mapping[0]->has_line_numbers);
  perftools__profiles__profile__free_unpacked(pp, NULL);
  return 0;
}
