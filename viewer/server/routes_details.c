/* The routes' details (docs/viewer-api.md): /api/slice?id=, everything
 * about one item of the timeline, named by the id /api/slices gave it:
 * a slice (s.TRACK.DEPTH.INDEX), an instant or log line (i.TRACK.INDEX), a
 * task (t.TRACK.INDEX), a scheduler run (g.TRACK.INDEX), a thread state
 * (st.TRACK.INDEX) or a CPU sample (sm.TRACK.INDEX, routes_samples.c). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server_internal.h"

/* ---- /api/slice?id= : details ---------------------------------------------------------------- */

static const char *thread_name(const vx_index *x, uint32_t track) {
  const vx_track *t = vx_track_get(x, track);
  return t ? t->name : "";
}

static void add_site(cJSON *o, const vx_label *l) {
  if (l->file) {
    cJSON *s = cJSON_AddObjectToObject(o, "site");
    cJSON_AddStringToObject(s, "file", l->file);
    cJSON_AddNumberToObject(s, "line", l->line);
    cJSON_AddStringToObject(s, "func", l->func ? l->func : "");
  } else {
    cJSON_AddNullToObject(o, "site");
  }
}

static void add_args_json(cJSON *o, const char *json) {
  cJSON *a = json ? cJSON_Parse(json) : NULL;
  if (a)
    cJSON_AddItemToObject(o, "args", a);
  else
    cJSON_AddObjectToObject(o, "args");
}

/* Self time (the duration minus that of the children, at depth d + 1),
 * the number of children, and the parent (at depth d - 1) of slice s. */
static void slice_family(cJSON *o, const vx_index *x, const vx_track *t, size_t d,
                         const vx_slice *s) {
  uint64_t children = 0, nchildren = 0, end = s->start + s->dur;
  if (d + 1 < t->depths) {
    const vx_slice *c = t->depth[d + 1];
    size_t n = t->ndepth[d + 1];
    for (size_t k = vx_slice_lower(c, n, s->start); k < n && c[k].start < end; k++)
      if (c[k].start >= s->start) {
        children += c[k].dur;
        nchildren++;
      }
  }
  cJSON_AddNumberToObject(o, "self", (double)(s->dur > children ? s->dur - children : 0));
  cJSON_AddNumberToObject(o, "children", (double)nchildren);
  if (d > 0) {
    const vx_slice *p = t->depth[d - 1];
    size_t n = t->ndepth[d - 1], k = vx_slice_lower(p, n, s->start);
    if (k < n && p[k].start <= s->start) {
      char id[64];
      snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, d - 1, k);
      cJSON_AddStringToObject(o, "parent", id);
      cJSON_AddStringToObject(o, "parent_name", vx_label_get(x, p[k].label)->name);
    }
  }
}

/* The args of a recorded call: a wait (its object, who released it) or a
 * system call (its name, argument and result). */
static void info_args(cJSON *o, const vx_index *x, const vx_info *in) {
  cJSON *a = cJSON_AddObjectToObject(o, "args");
  if (in->is_wait) {
    char obj[32];
    snprintf(obj, sizeof obj, "0x%" PRIx64, in->arg);
    cJSON_AddStringToObject(a, "object", obj);
    const vx_track *w = in->waker != UINT32_MAX ? vx_track_get(x, in->waker) : NULL;
    if (w) {
      cJSON_AddStringToObject(a, "released by", w->name);
      cJSON_AddNumberToObject(a, "released by tid", w->tid);
    } else {
      cJSON_AddStringToObject(a, "released by", "unknown");
    }
  } else {
    const char *n = vx_syscall_name(in->nr);
    cJSON_AddStringToObject(a, "syscall", n ? n : "?");
    cJSON_AddNumberToObject(a, "nr", in->nr);
    cJSON_AddNumberToObject(a, "arg", (double)(int64_t)in->arg);
    if (in->ret < 0) {
      const char *e = strerrorname_np((int)-in->ret);
      cJSON_AddStringToObject(a, "error", e ? e : "?");
    } else {
      cJSON_AddNumberToObject(a, "return", (double)in->ret);
    }
    cJSON_AddStringToObject(a, "recorded by", in->kernel ? "kernel" : "wrapper");
  }
}

static void slice_details(const rt_context *ctx, const vx_track *t, size_t d, size_t i,
                          rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_slice *s = &t->depth[d][i];
  const vx_label *l = vx_label_get(x, s->label);
  cJSON *o = cJSON_CreateObject();
  char id[64];
  snprintf(id, sizeof id, "s.%u.%zu.%zu", t->id, d, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "slice");
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "cat", l->cat);
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)s->dur);
  cJSON_AddNumberToObject(o, "depth", (double)d);
  cJSON_AddBoolToObject(o, "unfinished", s->args == UINT32_MAX);
  slice_family(o, x, t, d, s);
  add_site(o, l);
  rt__slice_cpu(o, ctx, t, s->start, s->dur);
  const vx_info *in = vx_info_get(x, s->args);
  if (in)
    info_args(o, x, in);
  else
    add_args_json(o, vx_args(x, s->args));
  rt__respond_json(r, 200, o);
}

static void run_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_slice *s = &t->runs[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "g.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "sched");
  cJSON_AddStringToObject(o, "name", vx_label_get(ctx->index, s->label)->name);
  cJSON_AddStringToObject(o, "cat", "sched");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)s->dur);
  cJSON_AddNullToObject(o, "site");
  cJSON_AddObjectToObject(o, "args");
  rt__respond_json(r, 200, o);
}

static void state_details(const vx_track *t, size_t i, rt_response *r) {
  const vx_state *s = &t->states[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "st.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "state");
  cJSON_AddStringToObject(o, "name", rt__state_name(s->state));
  cJSON_AddStringToObject(o, "cat", "state");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)s->start);
  cJSON_AddNumberToObject(o, "dur", (double)(s->end - s->start));
  cJSON_AddNullToObject(o, "site");
  cJSON *a = cJSON_AddObjectToObject(o, "args");
  if (s->cpu != 0xffff)
    cJSON_AddNumberToObject(a, "cpu", s->cpu);
  cJSON_AddStringToObject(a, "from",
                          s->derived ? "the wrappers' spans (no scheduler data)"
                                     : "context switches (perf_event_open)");
  rt__respond_json(r, 200, o);
}

static void instant_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_instant *in = &t->inst[i];
  const vx_label *l = vx_label_get(x, in->label);
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "i.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", !strcmp(l->cat, "log") ? "log" : "instant");
  cJSON_AddStringToObject(o, "name", l->name);
  cJSON_AddStringToObject(o, "cat", l->cat);
  cJSON_AddNumberToObject(o, "pid", t->pid);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name);
  cJSON_AddNumberToObject(o, "start", (double)in->ts);
  cJSON_AddNumberToObject(o, "dur", 0);
  add_site(o, l);
  cJSON *args = cJSON_AddObjectToObject(o, "args");
  uint64_t task = 0;
  const char *msg = !strcmp(l->cat, "log") ? vx_log_message(x, in->extra, &task) : NULL;
  if (msg)
    cJSON_AddStringToObject(args, "message", msg);
  if (!strcmp(l->cat, "ctrace"))
    cJSON_AddNumberToObject(args, "dropped", in->extra);
  if (task) {
    cJSON *tk = cJSON_AddObjectToObject(o, "task");
    char hex[24];
    snprintf(hex, sizeof hex, "0x%" PRIx64, task);
    cJSON_AddStringToObject(tk, "id", hex);
    const vx_task *k = vx_task_find(x, task, t->pid);
    cJSON_AddStringToObject(tk, "name", k ? vx_label_get(x, k->label)->name : "");
  }
  rt__respond_json(r, 200, o);
}

static void task_details(const rt_context *ctx, const vx_track *t, size_t i, rt_response *r) {
  const vx_index *x = ctx->index;
  const vx_task *k = &t->tasks[i];
  cJSON *o = cJSON_CreateObject();
  char id[48];
  snprintf(id, sizeof id, "t.%u.%zu", t->id, i);
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "kind", "task");
  cJSON_AddStringToObject(o, "name", vx_label_get(x, k->label)->name);
  cJSON_AddStringToObject(o, "cat", "task");
  cJSON_AddNumberToObject(o, "pid", t->pid);
  char hex[24];
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->id);
  cJSON_AddStringToObject(o, "task", hex); /* strings: ids may exceed 2^53 */
  snprintf(hex, sizeof hex, "0x%" PRIx64, k->parent);
  if (k->parent)
    cJSON_AddStringToObject(o, "parent_task", hex);
  else
    cJSON_AddNullToObject(o, "parent_task");
  cJSON_AddNumberToObject(o, "start", (double)k->start);
  int open = k->end == UINT64_MAX;
  cJSON_AddNumberToObject(o, "dur",
                          open ? (double)(vx_t1(x) - k->start) : (double)(k->end - k->start));
  cJSON_AddBoolToObject(o, "unfinished", open);
  cJSON_AddStringToObject(o, "thread", thread_name(x, k->thread));
  cJSON_AddStringToObject(o, "end_thread",
                          k->end_thread == UINT32_MAX ? "" : thread_name(x, k->end_thread));
  cJSON_AddNumberToObject(o, "lane", k->lane);
  cJSON_AddObjectToObject(o, "args");
  cJSON_AddNullToObject(o, "site");
  rt__respond_json(r, 200, o);
}

void rt__api_slice(const rt_context *ctx, const char *q, rt_response *r) {
  char id[96];
  if (rt__query_get(q, "id", id, sizeof id) <= 0) {
    rt__respond_error(r, 400, "id is required");
    return;
  }
  unsigned track;
  size_t a, b;
  char kind;
  int n;
  if (!strncmp(id, "st.", 3) || !strncmp(id, "sm.", 3)) { /* st. / sm.TRACK.INDEX */
    n = sscanf(id + 3, "%u.%zu", &track, &a) + 1;
    kind = id[1] == 't' ? 'S' : 'M';
  } else {
    n = sscanf(id, "%c.%u.%zu.%zu", &kind, &track, &a, &b);
  }
  const vx_track *t = n >= 3 ? vx_track_get(ctx->index, track) : NULL;
  if (t && kind == 's' && n == 4 && t->kind == VX_THREAD && a < t->depths && b < t->ndepth[a])
    slice_details(ctx, t, a, b, r);
  else if (t && kind == 'i' && n == 3 && t->kind == VX_THREAD && a < t->ninst)
    instant_details(ctx, t, a, r);
  else if (t && kind == 't' && n == 3 && t->kind == VX_TASKS && a < t->ntasks)
    task_details(ctx, t, a, r);
  else if (t && kind == 'g' && n == 3 && t->kind == VX_THREAD && a < t->nruns)
    run_details(ctx, t, a, r);
  else if (t && kind == 'S' && n == 3 && t->kind == VX_THREAD && a < t->nstates)
    state_details(t, a, r);
  else if (t && kind == 'M' && n == 3 && t->kind == VX_THREAD && a < t->ncpu)
    rt__sample_details(ctx, t, a, r);
  else
    rt__respond_error(r, 404, "no such slice");
}
