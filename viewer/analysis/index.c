/* The viewer's index (analysis.h): what a built index answers. Building it
 * from typed events is index_build.c's job. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "index_internal.h"

void vx_errf(char *err, size_t n, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(err, n, f, ap);
  va_end(ap);
}

void vx_free(vx_index *x) {
  if (!x)
    return;
  for (size_t i = 0; i < x->ntracks; i++) {
    vx_track *t = &x->tracks[i];
    free(t->name);
    for (size_t d = 0; d < t->depths; d++)
      free(t->depth[d]);
    free(t->depth);
    free(t->ndepth);
    free(t->inst);
    free(t->samples);
    free(t->tasks);
    free(t->runs);
    free(t->states);
    free(t->allocs);
    free(t->blocks);
    free(t->cpu);
  }
  free(x->tracks);
  for (size_t i = 0; i < x->nlabels; i++) {
    free((char *)x->labels[i].name);
    free((char *)x->labels[i].cat);
    free((char *)x->labels[i].file);
    free((char *)x->labels[i].func);
  }
  free(x->labels);
  for (size_t i = 0; i < x->nmsgs; i++)
    free(x->msgs[i]);
  free(x->msgs);
  free(x->msg_task);
  for (size_t i = 0; i < x->nargs; i++)
    free(x->args[i]);
  free(x->args);
  free(x->flows);
  free(x->tregs);
  for (size_t i = 0; i < x->nsources; i++) {
    free(x->sources[i].path);
    free(x->sources[i].process);
    free(x->sources[i].problem);
    free(x->sources[i].cap_why);
  }
  free(x->infos);
  vx__cpu_free(x);
  vx__heap_free(x);
  vx__pyr_free(x); /* the pyramids of its lanes belong to this index */
  free(x->sources);
  free(x);
}

size_t vx_track_count(const vx_index *x) { return x->ntracks; }
const vx_track *vx_track_get(const vx_index *x, size_t i) {
  return i < x->ntracks ? &x->tracks[i] : NULL;
}
size_t vx_source_count(const vx_index *x) { return x->nsources; }
const vx_source *vx_source_get(const vx_index *x, size_t i) {
  return i < x->nsources ? &x->sources[i] : NULL;
}
const vx_label *vx_label_get(const vx_index *x, uint32_t l) {
  return &x->labels[l < x->nlabels ? l : 0];
}
size_t vx_label_count(const vx_index *x) { return x->nlabels; }
const char *vx_log_message(const vx_index *x, uint32_t msg, uint64_t *task) {
  if (msg == 0 || msg > x->nmsgs)
    return NULL;
  if (task)
    *task = x->msg_task[msg - 1];
  return x->msgs[msg - 1];
}
const char *vx_args(const vx_index *x, uint32_t a) {
  return a && a != VX_UNFINISHED && !(a & VX_ARGS_INFO) && a <= x->nargs ? x->args[a - 1] : NULL;
}
const vx_info *vx_info_get(const vx_index *x, uint32_t a) {
  return a != VX_UNFINISHED && (a & VX_ARGS_INFO) && (a & ~VX_ARGS_INFO) < x->ninfos
             ? &x->infos[a & ~VX_ARGS_INFO]
             : NULL;
}
const vx_flow *vx_flows(const vx_index *x, size_t *n) {
  *n = x->nflows;
  return x->flows;
}
uint64_t vx_t0(const vx_index *x) { return x->t0; }
uint64_t vx_t1(const vx_index *x) { return x->t1; }
uint64_t vx_events(const vx_index *x) { return x->events; }
uint64_t vx_dropped(const vx_index *x) { return x->dropped; }
uint32_t vx_drop_label(const vx_index *x) { return x->drop_label; }

size_t vx_memory(const vx_index *x) {
  size_t m = sizeof *x + x->cap_tracks * sizeof *x->tracks + x->cap_labels * sizeof *x->labels +
             x->cap_infos * sizeof *x->infos + x->cap_flows * sizeof *x->flows +
             x->cap_msgs * sizeof(char *) + x->cap_args * sizeof(char *);
  for (size_t i = 0; i < x->ntracks; i++) {
    const vx_track *t = &x->tracks[i];
    for (size_t d = 0; d < t->depths; d++)
      m += t->ndepth[t->depths + d] * sizeof(vx_slice);
    m += t->cap_inst * sizeof(vx_instant) + t->cap_samples * sizeof(vx_sample) +
         t->cap_tasks * sizeof(vx_task) + t->cap_runs * sizeof(vx_slice) +
         t->cap_states * sizeof(vx_state) + t->cap_allocs * sizeof(vx_alloc);
  }
  return m;
}

const vx_task_region *vx_task_regions(const vx_index *x, size_t *n) {
  *n = x->ntregs;
  return x->tregs;
}

const vx_task *vx_task_find(const vx_index *x, uint64_t id, int pid) {
  for (size_t i = 0; i < x->ntracks; i++) {
    const vx_track *t = &x->tracks[i];
    if (t->kind != VX_TASKS || t->pid != pid)
      continue;
    for (size_t k = 0; k < t->ntasks; k++)
      if (t->tasks[k].id == id)
        return &t->tasks[k];
  }
  return NULL;
}

size_t vx_slice_lower(const vx_slice *a, size_t n, uint64_t t) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (a[mid].start + a[mid].dur < t)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
