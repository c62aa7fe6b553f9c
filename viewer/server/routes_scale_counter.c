/* The counters of a trace opened with the scale index (analysis.h:
 * vs_counter_*): /api/meta's tracks of kind counter and /api/slices's "C"
 * marks, in the same JSON as the full index's (routes_meta.c's meta_track,
 * routes_timeline.c's emit_counter; docs/viewer-api.md). A counter's track
 * id is the number of threads plus its index. */
#define _GNU_SOURCE
#include <stdio.h>

#include <cjson/cJSON.h>

#include "server_internal.h"

void rt__scale_counter_tracks(cJSON *tracks, vs_index *x, int pid) {
  for (size_t i = 0; i < vs_counter_count(x); i++) {
    vs_counter_facts f;
    if (vs_counter_info(x, i, &f))
      continue;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)(vs_thread_count(x) + i));
    cJSON_AddStringToObject(j, "kind", "counter");
    cJSON_AddNumberToObject(j, "pid", pid);
    cJSON_AddStringToObject(j, "name", f.name);
    cJSON_AddNumberToObject(j, "sort", 1000);
    cJSON_AddNumberToObject(j, "samples", (double)f.samples);
    cJSON_AddNumberToObject(j, "min", f.min);
    cJSON_AddNumberToObject(j, "max", f.max);
    cJSON_AddItemToArray(tracks, j);
  }
}

typedef struct cmark {
  rt_jw *w;
  int pid;
  const char *name;
  size_t track;
  uint64_t *n;
} cmark;

static void emit_mark(void *arg, uint64_t ts, double mn, double mx, double last) {
  cmark *c = arg;
  rt_jw *w = c->w;
  rt__jw_lit(w, (*c->n)++ ? ",{\"ph\":\"C\",\"pid\":" : "{\"ph\":\"C\",\"pid\":");
  rt__jw_num(w, c->pid);
  rt__jw_lit(w, ",\"ts\":");
  rt__jw_us(w, ts);
  rt__jw_lit(w, ",\"name\":");
  rt__jw_str(w, c->name);
  rt__jw_lit(w, ",\"args\":{\"value\":");
  rt__jw_num(w, last);
  rt__jw_lit(w, ",\"min\":");
  rt__jw_num(w, mn);
  rt__jw_lit(w, ",\"max\":");
  rt__jw_num(w, mx);
  rt__jw_lit(w, ",\"track\":");
  rt__jw_u64(w, c->track);
  rt__jw_lit(w, "}}");
}

void rt__scale_counter_slices(vs_index *x, uint64_t t0, uint64_t t1, uint64_t w, const char *list,
                              int has, rt_jw *jw, uint64_t *n) {
  for (size_t i = 0; i < vs_counter_count(x); i++) {
    vs_counter_facts f;
    size_t track = vs_thread_count(x) + i;
    if (vs_counter_info(x, i, &f) || !rt__scale_wanted(list, has, track))
      continue;
    cmark c = {jw, rd_pid(vs_trace(x)), f.name, track, n};
    /* (a batch that does not decode: the marks before it are shown, and
     * /api/meta's problem says why) */
    vs_counter_window(x, i, t0, t1, w, emit_mark, &c);
  }
}
