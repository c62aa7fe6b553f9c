/* The routes' description of what is viewed (docs/viewer-api.md):
 * /api/meta (the traces, their sources and tracks, the live state), and
 * for a live view its Server-Sent Events: /api/events opens the stream,
 * rt_live_event is what is written to it on every change. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctrace/ctrace.h"
#include "read.h"
#include "server_internal.h"

/* ---- /api/meta ------------------------------------------------------------------------------ */

/* A source: its trace, what it holds, and how it was captured. */
static cJSON *meta_source(const rt_context *ctx, const vx_source *s) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddStringToObject(j, "path", s->path);
  cJSON_AddStringToObject(j, "format", s->format);
  cJSON_AddNumberToObject(j, "pid", s->pid);
  cJSON_AddStringToObject(j, "process", s->process ? s->process : "");
  cJSON_AddBoolToObject(j, "complete", s->complete);
  cJSON_AddNumberToObject(j, "events", (double)s->events);
  cJSON_AddNumberToObject(j, "dropped", (double)s->dropped);
  /* While following, a trace without its END record yet, or with its
   * last record cut at the end, is one being written: not a problem. */
  int writing = ctx->live && !strcmp(ctx->live, "following") && rt_still_writing(s);
  cJSON_AddBoolToObject(j, "writing", writing);
  if (s->problem && !writing)
    cJSON_AddStringToObject(j, "problem", s->problem);
  else
    cJSON_AddNullToObject(j, "problem");
  if (s->cap_present) {
    static const char *const modes[] = {"off", "wrappers", "kernel"};
    cJSON *c = cJSON_AddObjectToObject(j, "capture");
    cJSON_AddStringToObject(c, "syscalls", modes[s->cap_syscalls % 3]);
    cJSON_AddStringToObject(c, "sched", modes[s->cap_sched % 3]);
    cJSON_AddBoolToObject(c, "heap", s->cap_heap);
    cJSON_AddBoolToObject(c, "locks", s->cap_locks);
    cJSON_AddStringToObject(c, "note", s->cap_why ? s->cap_why : "");
  }
  return j;
}

void rt__meta_live(cJSON *o, const rt_context *ctx) {
  cJSON *l = cJSON_AddObjectToObject(o, "live");
  cJSON_AddStringToObject(l, "state", ctx->live);
  cJSON_AddNumberToObject(l, "generation", (double)ctx->generation);
  cJSON_AddStringToObject(l, "mode", ctx->live_mode ? ctx->live_mode : "lttng-live");
  if (ctx->live_problem)
    cJSON_AddStringToObject(l, "problem", ctx->live_problem);
  else
    cJSON_AddNullToObject(l, "problem");
}

/* A track: a thread, a counter or a process's tasks, and its sizes. */
static cJSON *meta_track(const vx_track *t) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "id", t->id);
  cJSON_AddStringToObject(j, "kind",
                          t->kind == VX_THREAD    ? "thread"
                          : t->kind == VX_COUNTER ? "counter"
                                                  : "tasks");
  cJSON_AddNumberToObject(j, "pid", t->pid);
  cJSON_AddStringToObject(j, "name", t->name);
  cJSON_AddNumberToObject(j, "sort", t->sort);
  if (t->kind == VX_THREAD) {
    cJSON_AddNumberToObject(j, "tid", t->tid);
    cJSON_AddNumberToObject(j, "depth", (double)t->depths);
    cJSON_AddNumberToObject(j, "slices", (double)t->slices);
    cJSON_AddNumberToObject(j, "instants", (double)t->ninst);
    cJSON_AddNumberToObject(j, "sched_runs", (double)t->nruns);
    cJSON_AddNumberToObject(j, "states", (double)t->nstates);
    if (t->ncpu)
      cJSON_AddNumberToObject(j, "cpu_samples", (double)t->ncpu);
  } else if (t->kind == VX_COUNTER) {
    cJSON_AddNumberToObject(j, "samples", (double)t->nsamples);
    cJSON_AddNumberToObject(j, "min", t->nsamples ? t->min : 0);
    cJSON_AddNumberToObject(j, "max", t->nsamples ? t->max : 0);
  } else {
    cJSON_AddNumberToObject(j, "tasks", (double)t->ntasks);
    cJSON_AddNumberToObject(j, "lanes", t->lanes);
  }
  return j;
}

void rt__api_meta(const rt_context *ctx, rt_response *r) {
  const vx_index *x = ctx->index;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "version", ctrace_version());
  cJSON *srcs = cJSON_AddArrayToObject(o, "sources");
  for (size_t i = 0; i < vx_source_count(x); i++)
    cJSON_AddItemToArray(srcs, meta_source(ctx, vx_source_get(x, i)));
  cJSON_AddNumberToObject(o, "t0", (double)vx_t0(x));
  cJSON_AddNumberToObject(o, "t1", (double)vx_t1(x));
  cJSON_AddNumberToObject(o, "events", (double)vx_events(x));
  if (ctx->live)
    rt__meta_live(o, ctx);
  cJSON_AddBoolToObject(o, "compare", ctx->diff_json != NULL); /* /api/diff answers */
  if (ctx->pprof) { /* ctrace view --pid: the process behind /debug/pprof/ */
    cJSON *pp = cJSON_AddObjectToObject(o, "pprof");
    cJSON_AddNumberToObject(pp, "pid", ctx->pprof->pid);
    cJSON_AddNumberToObject(pp, "max_seconds", ctx->pprof->max_seconds);
  }
  cJSON_AddNumberToObject(o, "dropped", (double)vx_dropped(x));
  cJSON_AddNumberToObject(o, "index_bytes", (double)vx_memory(x));
  cJSON *procs = cJSON_AddArrayToObject(o, "processes");
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "pid", s->pid);
    cJSON_AddStringToObject(p, "name", s->process ? s->process : "");
    cJSON_AddItemToArray(procs, p);
  }
  vx_cpu_info cpu = vx_cpu(x);
  if (cpu.samples) {
    cJSON *c = cJSON_AddObjectToObject(o, "cpu");
    cJSON_AddNumberToObject(c, "hz", cpu.hz);
    cJSON_AddNumberToObject(c, "period_ns", (double)cpu.period_ns);
    cJSON_AddNumberToObject(c, "samples", (double)cpu.samples);
    cJSON_AddNumberToObject(c, "partial", (double)cpu.partial);
  }
  cJSON *tracks = cJSON_AddArrayToObject(o, "tracks");
  for (size_t i = 0; i < vx_track_count(x); i++)
    cJSON_AddItemToArray(tracks, meta_track(vx_track_get(x, i)));
  rt__respond_json(r, 200, o);
}

/* ---- Live view ----------------------------------------------------------------------------------- */

int rt_still_writing(const vx_source *s) {
  return !s->complete && s->problem &&
         (s->problem_kind == RD_PROBLEM_NO_END || s->problem_kind == RD_PROBLEM_TRUNCATED);
}

char *rt_live_event(const rt_context *ctx, size_t *len) {
  rt__install_hooks(); /* (orders the hooks' setup before any use) */
  const vx_index *x = ctx->index;
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddNumberToObject(o, "generation", (double)ctx->generation);
  cJSON_AddStringToObject(o, "state", ctx->live ? ctx->live : "static");
  cJSON_AddStringToObject(o, "mode", ctx->live_mode ? ctx->live_mode : "lttng-live");
  if (ctx->scale) { /* (a followed trace read through a live scale index) */
    vs_index *sx = ctx->scale;
    cJSON_AddNumberToObject(o, "t0", (double)vs_t0(sx));
    cJSON_AddNumberToObject(o, "t1", (double)vs_t1(sx));
    cJSON_AddNumberToObject(o, "events", (double)vs_events(sx));
    cJSON_AddNumberToObject(o, "tracks", (double)vs_thread_count(sx));
    cJSON_AddNumberToObject(o, "sources", 1);
    cJSON_AddBoolToObject(o, "scale", 1);
  } else {
    cJSON_AddNumberToObject(o, "t0", x ? (double)vx_t0(x) : 0);
    cJSON_AddNumberToObject(o, "t1", x ? (double)vx_t1(x) : 0);
    cJSON_AddNumberToObject(o, "events", x ? (double)vx_events(x) : 0);
    cJSON_AddNumberToObject(o, "tracks", x ? (double)vx_track_count(x) : 0);
    cJSON_AddNumberToObject(o, "sources", x ? (double)vx_source_count(x) : 0);
  }
  char *data = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!data)
    return NULL;
  /* (the JSON has no newline, so it is one data: line) */
  size_t cap = strlen(data) + 64;
  char *out = malloc(cap);
  if (out) {
    int n =
        snprintf(out, cap, "id: %" PRIu64 "\nevent: update\ndata: %s\n\n", ctx->generation, data);
    *len = (size_t)n;
  }
  free(data);
  return out;
}

void rt__api_events(const rt_context *ctx, rt_response *r) {
  if (!ctx->live) {
    rt__respond_error(r, 404,
                      "/api/events: this trace is not live (ctrace view --follow TRACE, "
                      "ctrace run --view or ctrace view --lttng-live URL push updates)");
    return;
  }
  r->status = 200;
  r->content_type = "text/event-stream";
  r->events = 1;
}
