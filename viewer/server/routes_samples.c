/* The CPU samples in the routes' details (docs/viewer-api.md): what
 * /api/slice says of one sample of the timeline (sm.TRACK.INDEX: its
 * thread, time and call stack, named), and the on-CPU samples of a region
 * slice (how many, and the functions they were in). Both are CPU profiles
 * of the thread over a window (viewer/analysis: cp_compute with one track):
 * one sample's window is its own nanosecond. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server_internal.h"

#define SLICE_TOP 8 /* functions listed in a slice's "cpu": where its samples were */

/* The profile of t's samples in [t0, t1). @return 0, or -1 with err set. */
static int thread_profile(const rt_context *ctx, const vx_track *t, uint64_t t0, uint64_t t1,
                          cp_profile *p, char *err, size_t errlen) {
  const vx_index *x = ctx->index;
  uint64_t base = vx_t0(x);
  cp_options o = {.track = t, .symbols = ctx->symbols}; /* (the view's: read once) */
  o.w.since = t0 > base ? t0 - base : 0;
  o.w.until = t1 > base ? t1 - base : 1;
  if (o.w.until <= o.w.since)
    o.w.until = o.w.since + 1;
  return cp_compute(x, &o, p, err, errlen);
}

/* One frame: its function (or module+offset), file and line, inlined. */
static cJSON *frame_json(const cp_profile *p, uint32_t loc, size_t k) {
  const cp_location *l = &p->locs[loc];
  const cp_line *ln = &p->lines[l->first + k];
  cJSON *f = cJSON_CreateObject();
  if (ln->function) {
    cJSON_AddStringToObject(f, "name", ln->function);
  } else {
    char name[256];
    cp_location_name(p, loc, name, sizeof name);
    cJSON_AddStringToObject(f, "name", name);
  }
  if (ln->file)
    cJSON_AddStringToObject(f, "file", ln->file);
  if (ln->line)
    cJSON_AddNumberToObject(f, "line", ln->line);
  if (k + 1 < l->n)
    cJSON_AddBoolToObject(f, "inlined", 1);
  char addr[32];
  snprintf(addr, sizeof addr, "0x%" PRIx64, l->addr);
  cJSON_AddStringToObject(f, "addr", addr);
  if (l->mapping)
    cJSON_AddStringToObject(f, "module", p->maps[l->mapping - 1].path);
  return f;
}

void rt__sample_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_cpu_sample *s = &t->cpu[i];
  cp_profile p;
  char err[512];
  if (thread_profile(ctx, t, s->ts, s->ts + 1, &p, err, sizeof err)) {
    rt__respond_error(r, 500, err);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "sm.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "sample");
  cJSON_AddStringToObject(o, "name", "cpu sample");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->ts);
  cJSON_AddNumberToObject(o, "period_ns", (double)p.info.period_ns);
  cJSON_AddBoolToObject(o, "partial", (s->flags & VX_CPU_PARTIAL) != 0);
  /* The sample's stack: innermost first, one frame per inlined call. At
   * the same nanosecond the thread has one sample, so one stack. */
  cJSON *stack = cJSON_AddArrayToObject(o, "stack");
  for (size_t k = 0; p.nstacks && k < p.stacks[0].n; k++) {
    uint32_t loc = p.stack_locs[p.stacks[0].first + k];
    for (size_t f = 0; f < p.locs[loc].n; f++)
      cJSON_AddItemToArray(stack, frame_json(&p, loc, f));
  }
  if (p.problems && p.problems[0])
    cJSON_AddStringToObject(o, "problems", p.problems);
  cp_free(&p);
  rt__respond_json(r, 200, o);
}

void rt__slice_cpu(cJSON *o, const rt_context *ctx, const vx_track *t, uint64_t start,
                   uint64_t dur) {
  if (!t->ncpu)
    return;
  cp_profile p;
  char err[512];
  if (thread_profile(ctx, t, start, start + (dur ? dur : 1), &p, err, sizeof err)) {
    cJSON_AddStringToObject(o, "cpu_error", err);
    return;
  }
  cJSON *c = cJSON_AddObjectToObject(o, "cpu");
  cJSON_AddNumberToObject(c, "samples", (double)p.samples);
  cJSON_AddNumberToObject(c, "partial", (double)p.partial);
  cJSON_AddNumberToObject(c, "period_ns", (double)p.info.period_ns);
  cJSON *top = cp_top_json(&p, SLICE_TOP, 1);
  if (top)
    cJSON_AddItemToObject(c, "top", top);
  cp_free(&p);
}
