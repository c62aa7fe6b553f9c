/* `ctrace stats TRACE` of a trace read through its scale index (cli.h:
 * cli_stats_scale; analysis.h: vs_open, vs_compute_stats_analyses): the header, the threads
 * with their regions and states, the regions' table, the tasks, blocking
 * waits and system calls of `ctrace stats` (one pass over the window's batches), in memory
 * that does not grow with the trace; what it does not compute yet is said
 * at the end. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "cli.h"
#include "read.h"

static const char not_yet[] =
    "work items, the heap, GC-like phases, blocking profiles and CPU samples";

/* The window of o over the trace. @return 0, or -1 with err. */
static int window_of(vs_index *x, const st_options *o, uint64_t *w0, uint64_t *w1, char *err,
                     size_t errlen) {
  uint64_t t0 = vs_t0(x), t1 = vs_t1(x);
  *w0 = t0 + o->since;
  *w1 = o->until ? t0 + o->until : UINT64_MAX;
  if (o->until && o->until <= o->since) {
    snprintf(err, errlen, "the window is empty: --until must be after --since");
    return -1;
  }
  if (o->since && *w0 >= t1) {
    snprintf(err, errlen, "the window starts after the trace ends (the trace lasts %.6f s)",
             (double)(t1 - t0) / 1e9);
    return -1;
  }
  return 0;
}

static void print_text(FILE *f, vs_index *x, const char *trace, const st_options *o, st_report *r,
                       size_t top, st_sort_key key) {
  rd_trace *tr = vs_trace(x);
  fprintf(f, "sources:   %s (ctrace, %s pid %d), read through its scale index (%s)\n", trace,
          rd_process_name(tr) ? rd_process_name(tr) : "?", rd_pid(tr), vs_how(x));
  fprintf(f, "span:      %.6f s\n", (double)(vs_t1(x) - vs_t0(x)) / 1e9);
  if (o->since || o->until)
    fprintf(f, "window:    %.6f s to %.6f s\n", (double)o->since / 1e9,
            (double)(r->t1 - vs_t0(x)) / 1e9);
  fprintf(f, "events:    %" PRIu64, vs_events(x));
  if (o->since || o->until || o->thread)
    fprintf(f, " (%" PRIu64 " in the window%s)", r->window_events, o->thread ? " and threads" : "");
  fprintf(f, "\ndropped:   %" PRIu64 "\n", rd_dropped_reported(tr));
  st_print_threads(f, r);
  st_print_regions(f, r, top, key);
  st_print_parts(f, r, top);
  fprintf(f,
          "\nnot computed through the scale index yet: %s (ctrace stats --index full TRACE "
          "indexes the trace whole, in memory)\n",
          not_yet);
}

static int print_json(FILE *f, vs_index *x, const char *trace, st_report *r, size_t top,
                      st_sort_key key) {
  cJSON *root = cJSON_CreateObject();
  cJSON *sc = cJSON_AddObjectToObject(root, "scale");
  cJSON_AddStringToObject(sc, "trace", trace);
  cJSON_AddStringToObject(sc, "index", vs_index_path(x));
  cJSON_AddStringToObject(sc, "how", vs_how(x));
  cJSON_AddStringToObject(sc, "not_computed", not_yet);
  cJSON *w = cJSON_AddObjectToObject(root, "window");
  cJSON_AddNumberToObject(w, "t0", (double)r->t0);
  cJSON_AddNumberToObject(w, "t1", (double)r->t1);
  cJSON_AddNumberToObject(w, "events", (double)r->window_events);
  cJSON_AddNumberToObject(w, "dropped", (double)r->window_dropped);
  cJSON_AddNumberToObject(root, "events", (double)vs_events(x));
  cJSON_AddStringToObject(root, "scheduling", r->has_sched ? "wrappers" : "none");
  st_json_parts(root, r, top);
  st_json_regions(root, r, top, key);
  char *text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (!text)
    return -1;
  fputs(text, f);
  fputc('\n', f);
  cJSON_free(text);
  return 0;
}

int cli_stats_scale(const char *trace, const st_options *o, size_t top, st_sort_key key, int json) {
  char err[1024];
  vs_index *x = vs_open(trace, NULL, NULL, err, sizeof err);
  if (!x) {
    fprintf(stderr, "ctrace stats: %s\n", err);
    return 1;
  }
  if (rd_problem(vs_trace(x)))
    fprintf(stderr, "ctrace stats: %s: warning: %s\n", trace, rd_problem(vs_trace(x)));
  uint64_t w0, w1;
  vs_stats s;
  vs_analyses a;
  if (window_of(x, o, &w0, &w1, err, sizeof err) ||
      vs_compute_stats_analyses(x, w0, w1, o->thread, &s, &a, err, sizeof err)) {
    fprintf(stderr, "ctrace stats: %s\n", err);
    vs_close(x);
    return 1;
  }
  st_report r;
  memset(&r, 0, sizeof r);
  vs_analyses_report(&a, &r);
  r.t0 = w0;
  r.t1 = w1 < vs_t1(x) ? w1 : vs_t1(x);
  r.regions = s.regions;
  r.nregions = s.nregions;
  vs_analyses_fix_self(&a, r.regions, r.nregions);
  st_sort(&r, key);
  int bad = json ? print_json(stdout, x, trace, &r, top, key)
                 : (print_text(stdout, x, trace, o, &r, top, key), 0);
  if (bad || fflush(stdout) || ferror(stdout)) {
    fprintf(stderr, "ctrace stats: writing the report failed: %s\n", strerror(errno));
    bad = 1;
  }
  vs_stats_free(&s);
  vs_analyses_free(&a);
  vs_close(x);
  return bad ? 1 : 0;
}
