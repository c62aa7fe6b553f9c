/* CPU samples in `ctrace export`'s Chrome JSON: "stackFrames" + "samples"
 * (viewer/export/cj_samples.c), read back and checked strictly by what
 * Catapult's importer needs (trace_event_importer: every sample's thread
 * is a thread of traceEvents, its "sf" a frame, every frame's "parent" a
 * frame) and what Perfetto's JSON tokenizer needs (traceEvents first; the
 * keys after it are skipped as whole JSON values), plus what the frames
 * must say: interned, chains ending at roots, and the stacks of a program
 * of known shape (tests/progs/cpu_burn.c: hot_a under middle, outer, main).
 * No Catapult or Perfetto importer runs here (chrome://tracing is gone from
 * Chromium, neither is packaged), so this is the check. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "read.h"
#include "test.h"

#define BURN TEST_PROGS_DIR "/cpu_burn"

/* ---- Reading the JSON back -------------------------------------------------------- */

typedef struct sample_view {
  cJSON *root, *frames, *samples;
  size_t nframes, nsamples, partial;
} sample_view;

/* A frame by id (NULL: none). */
static cJSON *frame(const sample_view *v, const char *id) {
  return cJSON_GetObjectItemCaseSensitive(v->frames, id);
}

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Frames: ids are decimal strings; name, optional category and parent (an
 * existing frame); chains end at a root; each (parent, name, category)
 * once. */
static void check_frames(sample_view *v) {
  size_t n = (size_t)cJSON_GetArraySize(v->frames), k = 0;
  char **keys = calloc(n ? n : 1, sizeof *keys);
  ASSERT(keys);
  const cJSON *f;
  cJSON_ArrayForEach(f, v->frames) {
    ASSERT(cJSON_IsObject(f));
    ASSERT(f->string[0] && strspn(f->string, "0123456789") == strlen(f->string));
    const char *name = str_of(f, "name"), *cat = str_of(f, "category"),
               *parent = str_of(f, "parent");
    ASSERT(name && name[0]);
    const cJSON *it;
    cJSON_ArrayForEach(it, f) {
      ASSERT(!strcmp(it->string, "name") || !strcmp(it->string, "category") ||
             !strcmp(it->string, "parent"));
    }
    if (cJSON_GetObjectItemCaseSensitive(f, "category"))
      ASSERT(cat);
    if (cJSON_GetObjectItemCaseSensitive(f, "parent"))
      ASSERT(parent && frame(v, parent)); /* (Catapult throws on a missing parent) */
    size_t depth = 0;
    for (const cJSON *p = f; p; p = str_of(p, "parent") ? frame(v, str_of(p, "parent")) : NULL)
      ASSERT(++depth <= n); /* no cycle: the chain ends at a root */
    if (asprintf(&keys[k++], "%s\x01%s\x01%s", parent ? parent : "", name, cat ? cat : "") < 0)
      abort();
  }
  qsort(keys, k, sizeof *keys, cmp_str);
  for (size_t i = 1; i < k; i++)
    ASSERT(strcmp(keys[i - 1], keys[i]) != 0); /* interned: each frame once */
  for (size_t i = 0; i < k; i++)
    free(keys[i]);
  free(keys);
  v->nframes = n;
}

/* The threads Catapult makes from traceEvents: any event on a tid but the
 * process-wide metadata. */
static int has_thread(const cJSON *events, double tid) {
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    const char *ph = str_of(e, "ph"), *name = str_of(e, "name");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "tid");
    if (ph && cJSON_IsNumber(t) && t->valuedouble == tid &&
        (strcmp(ph, "M") || (name && !strncmp(name, "thread_", 7))))
      return 1;
  }
  return 0;
}

/* The span of traceEvents, in us. */
static void events_span(const cJSON *events, double *t0, double *t1) {
  *t0 = INFINITY;
  *t1 = -INFINITY;
  const cJSON *e;
  cJSON_ArrayForEach(e, events) {
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts"),
                *dur = cJSON_GetObjectItemCaseSensitive(e, "dur");
    if (!cJSON_IsNumber(ts))
      continue;
    double end = ts->valuedouble + (cJSON_IsNumber(dur) ? dur->valuedouble : 0);
    *t0 = ts->valuedouble < *t0 ? ts->valuedouble : *t0;
    *t1 = end > *t1 ? end : *t1;
  }
}

/* Samples: {"cpu"?, "tid", "ts", "name":"cpu", "sf", "weight":1}, each on a
 * thread of traceEvents, its frame there, in time order, inside the trace
 * (within 10 ms of its events: a thread can be sampled before its first
 * switch record). */
static void check_samples(sample_view *v, const cJSON *events) {
  double t0, t1, last = -INFINITY, seen_tid = -1;
  events_span(events, &t0, &t1);
  const cJSON *s;
  cJSON_ArrayForEach(s, v->samples) {
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(s, "tid"),
                *ts = cJSON_GetObjectItemCaseSensitive(s, "ts"),
                *w = cJSON_GetObjectItemCaseSensitive(s, "weight"),
                *cpu = cJSON_GetObjectItemCaseSensitive(s, "cpu");
    const char *sf = str_of(s, "sf"), *name = str_of(s, "name");
    ASSERT(cJSON_IsNumber(tid) && cJSON_IsNumber(ts) && cJSON_IsNumber(w));
    ASSERT(w->valuedouble == 1 && name && !strcmp(name, "cpu"));
    ASSERT(sf && frame(v, sf));
    ASSERT(!cpu || (cJSON_IsNumber(cpu) && cpu->valuedouble >= 0 &&
                    cpu->valuedouble < sysconf(_SC_NPROCESSORS_CONF) + 64));
    if (tid->valuedouble != seen_tid) { /* (a thread's samples mostly come together) */
      ASSERT(has_thread(events, tid->valuedouble));
      seen_tid = tid->valuedouble;
    }
    ASSERT(ts->valuedouble >= last); /* one kernel file: in time order */
    last = ts->valuedouble;
    ASSERT(ts->valuedouble >= t0 - 10000 && ts->valuedouble <= t1 + 10000);
    v->nsamples++;
  }
}

/* The export at path read back and checked; *v holds it (cJSON_Delete
 * v->root). The samples are in otherData's count. */
static void read_export(const char *path, sample_view *v) {
  memset(v, 0, sizeof *v);
  size_t len;
  char *text = test_read_file(path, &len);
  /* Perfetto reads traceEvents first and skips the keys after it */
  const char *te = strstr(text, "\"traceEvents\":["), *sf = strstr(text, "\n\"stackFrames\":{"),
             *sa = strstr(text, "\n\"samples\":[");
  ASSERT(te && sf && sa && te < sf && sf < sa);
  v->root = cJSON_ParseWithLength(text, len);
  free(text);
  ASSERT(v->root);
  const cJSON *events = cJSON_GetObjectItemCaseSensitive(v->root, "traceEvents");
  v->frames = cJSON_GetObjectItemCaseSensitive(v->root, "stackFrames");
  v->samples = cJSON_GetObjectItemCaseSensitive(v->root, "samples");
  ASSERT(cJSON_IsArray(events) && cJSON_IsObject(v->frames) && cJSON_IsArray(v->samples));
  check_frames(v);
  check_samples(v, events);
  const cJSON *od = cJSON_GetObjectItemCaseSensitive(v->root, "otherData");
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(od, "cpu_samples");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(cs, "samples"),
              *p = cJSON_GetObjectItemCaseSensitive(cs, "partial"),
              *f = cJSON_GetObjectItemCaseSensitive(cs, "stack_frames");
  ASSERT(cJSON_IsNumber(n) && cJSON_IsNumber(p) && cJSON_IsNumber(f));
  ASSERT_UEQ(n->valuedouble, v->nsamples);
  ASSERT_UEQ(f->valuedouble, v->nframes);
  v->partial = (size_t)p->valuedouble;
}

/* Leaf to root: the names of sample s's frames into names[0..max). */
static size_t chain(const sample_view *v, const cJSON *s, const char **names, size_t max) {
  size_t n = 0;
  for (const cJSON *f = frame(v, str_of(s, "sf")); f && n < max;
       f = str_of(f, "parent") ? frame(v, str_of(f, "parent")) : NULL)
    names[n++] = str_of(f, "name");
  return n;
}

/* `ctrace top TRACE -n 0`: its samples, partial count and output. */
static char *top_of(const char *trace, unsigned long *samples, unsigned long *partial) {
  char *argv[] = {(char *)test_ctrace_bin, "top", (char *)trace, "-n", "0", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  *samples = strtoul(p.out, NULL, 10);
  const char *semi = strstr(p.out, "; ");
  *partial = semi && strstr(semi, "not unwound") ? strtoul(semi + 2, NULL, 10) : 0;
  char *out = p.out;
  p.out = NULL;
  test_proc_free(&p);
  return out;
}

/* The flat% of top's row for function name (rows end with it), -1 none. */
static double top_flat(const char *top, const char *name) {
  char want[600];
  snprintf(want, sizeof want, "  %s\n", name);
  const char *at = strstr(top, want);
  if (!at)
    return -1;
  while (at > top && at[-1] != '\n')
    at--;
  double flat, pct;
  return sscanf(at, "%lfs %lf%%", &flat, &pct) == 2 ? pct : -1;
}

static void export_to(const char *trace, const char *json) {
  char *argv[] = {(char *)test_ctrace_bin, "export", (char *)trace, "-o", (char *)json, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status)
    TEST_FAIL("ctrace export %s: %d: %s", trace, p.status, p.err);
  test_proc_free(&p);
}

/* ---- The tests --------------------------------------------------------------------- */

/* cpu_burn recorded at 999 Hz: every sample exported, hot_a's stacks leaf
 * to root hot_a, middle, outer, main (its share as in ctrace top). */
TEST_IMPL(cpu_profile_export) {
  const char *out = test_tmp_path("cjburn.ctrace"), *json = test_tmp_path("cjburn.json");
  char *rec[16] = {(char *)test_ctrace_bin, "run", "--cpu-hz", "999", "-o", (char *)out, "--"};
  rec[7] = BURN;
  rec[8] = "500"; /* ms of CPU */
  test_proc p = test_run(rec, NULL);
  ASSERT_EQ(p.status, 0);
  if (strstr(p.err, "no CPU samples")) {
    printf("CPU samples refused here: %s", p.err);
    test_proc_free(&p);
    return 0;
  }
  test_proc_free(&p);
  export_to(out, json);
  sample_view v;
  read_export(json, &v);
  unsigned long samples, partial;
  free(top_of(out, &samples, &partial));
  printf("%zu samples (%zu partial), %zu frames; ctrace top: %lu (%lu)\n", v.nsamples, v.partial,
         v.nframes, samples, partial);
  ASSERT_UEQ(v.nsamples, samples);
  ASSERT_UEQ(v.partial, partial);
  size_t hot_a = 0, shaped = 0, with_cpu = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, v.samples) {
    const char *names[256];
    size_t n = chain(&v, s, names, 256);
    with_cpu += cJSON_GetObjectItemCaseSensitive(s, "cpu") != NULL;
    if (n && !strcmp(names[0], "hot_a")) {
      hot_a++;
      shaped += n >= 4 && !strcmp(names[1], "middle") && !strcmp(names[2], "outer") &&
                !strcmp(names[3], "main");
    }
  }
  printf("hot_a: %zu samples, %zu under middle/outer/main; %zu with a cpu\n", hot_a, shaped,
         with_cpu);
  ASSERT(hot_a > v.nsamples * 58 / 100 && hot_a < v.nsamples * 82 / 100); /* 7 units of 10 */
  ASSERT(shaped >= hot_a * 95 / 100);      /* unwound without frame pointers */
  ASSERT(with_cpu >= v.nsamples * 9 / 10); /* the switches say where it ran */
  cJSON_Delete(v.root);
  return 0;
}

/* The committed FILE.kernel (1003 samples of an older cpu_burn build):
 * where its binaries no longer match, frames are module+0xOFFSET, as in
 * ctrace top; each leaf is a function that top counts flat either way. */
TEST_IMPL(export_samples_recorded) {
  char trace[1024];
  snprintf(trace, sizeof trace, "%s/samples.ctrace.kernel", test_data_dir);
  const char *json = test_tmp_path("cjrec.json");
  export_to(trace, json);
  sample_view v;
  read_export(json, &v);
  unsigned long samples, partial;
  char *top = top_of(trace, &samples, &partial);
  ASSERT_UEQ(v.nsamples, 1003);
  ASSERT_UEQ(v.nsamples, samples);
  ASSERT_UEQ(v.partial, partial);
  const cJSON *s;
  size_t addressed = 0;
  cJSON_ArrayForEach(s, v.samples) {
    const char *names[256];
    ASSERT(chain(&v, s, names, 256) >= 1);
    ASSERT(top_flat(top, names[0]) > 0); /* the leaf is where top counts it */
    const char *plus = strstr(names[0], "+0x");
    if (plus) {
      addressed++;
      ASSERT(plus > names[0] && strspn(plus + 3, "0123456789abcdef") == strlen(plus + 3));
    }
  }
  printf("%zu samples, %zu with an address for a leaf\n", v.nsamples, addressed);
  free(top);
  cJSON_Delete(v.root);
  return 0;
}

static int no_namer_sink(void *fd, const char *p, size_t n) {
  return fwrite(p, 1, n, fd) == n ? 0 : -1;
}

/* The exporter without a namer (the viewer's /api/trace.json): frames are
 * addresses in hex, the structure the same. And a trace without samples
 * has neither key. */
TEST_IMPL(export_samples_no_namer) {
  char trace[1024], err[1200];
  snprintf(trace, sizeof trace, "%s/samples.ctrace.kernel", test_data_dir);
  char *paths[] = {trace};
  te_set *set = te_set_open(paths, 1, TE_CTRACE_ONLY, err, sizeof err);
  ASSERT(set);
  const char *json = test_tmp_path("cjraw.json");
  FILE *f = fopen(json, "w");
  ASSERT(f);
  cj_stats st;
  ASSERT_EQ(cj_export(set, no_namer_sink, f, &st, err, sizeof err), 0);
  fclose(f);
  te_set_close(set);
  ASSERT_UEQ(st.samples, 1003);
  sample_view v;
  read_export(json, &v);
  const cJSON *fr;
  cJSON_ArrayForEach(fr, v.frames) {
    const char *name = str_of(fr, "name");
    ASSERT(!strncmp(name, "0x", 2) && strspn(name + 2, "0123456789abcdef") == strlen(name + 2));
  }
  ASSERT_UEQ(st.stack_frames, v.nframes);
  cJSON_Delete(v.root);
  /* no samples: as before (tests/golden holds the bytes) */
  snprintf(trace, sizeof trace, "%s/good.ctrace", test_data_dir);
  const char *plain = test_tmp_path("cjplain.json");
  export_to(trace, plain);
  char *text = test_read_file(plain, NULL);
  ASSERT(!strstr(text, "stackFrames") && !strstr(text, "\"samples\"") &&
         !strstr(text, "cpu_samples"));
  free(text);
  return 0;
}
