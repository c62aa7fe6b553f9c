/* This file is private to the viewer's index (index.c, index_build.c): the
 * index's own layout. */
#ifndef CTRACE_VIEWER_INDEX_INTERNAL_H
#define CTRACE_VIEWER_INDEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

#define VX_UNFINISHED UINT32_MAX /* vx_slice.args: the region never ended */

struct vx_index {
  vx_track *tracks;
  size_t ntracks, cap_tracks;
  vx_label *labels;
  size_t nlabels, cap_labels;
  char **msgs;
  uint64_t *msg_task;
  size_t nmsgs, cap_msgs, cap_msg_task;
  char **args; /* JSON args texts of JSON events (vx_slice.args: 1-based) */
  size_t nargs, cap_args;
  vx_flow *flows;
  size_t nflows, cap_flows;
  vx_source *sources;
  size_t nsources;
  uint64_t t0, t1, events, dropped;
  vx_info *infos; /* syscall and wait details (vx_slice.args = VX_ARGS_INFO | i) */
  size_t ninfos, cap_infos;
  vx_task_region *tregs;
  size_t ntregs, cap_tregs;
  uint32_t drop_label;        /* dropped-events markers */
  struct vx_cpu_store *cpu;   /* CPU samples' stacks and mappings (index_samples.c), or NULL */
  struct vx_heap_store *heap; /* heap samples (index_heap.c), or NULL */
  struct vx_pyr_store *pyr;   /* lanes' pyramids (pyramid.c), made at the first window; or NULL */
};

/* index_samples.c, called by index_build.c as sources and samples come,
 * and by vx_free. @return 0, or -1 out of memory. */
int vx__cpu_source(vx_index *x, uint32_t source, const te_source *src);
int vx__cpu_sample(vx_index *x, uint32_t source, vx_track *t, const te_event *ev);
void vx__cpu_free(vx_index *x);
/* The index id of a trace's stack (also the heap samples'), or 0 (empty)
 * or UINT32_MAX (out of memory). */
uint32_t vx__stack_id(vx_index *x, uint32_t source, uint32_t stack, const uint64_t *pcs, unsigned n,
                      int pid);
/* index_heap.c: a TE_HEAP_SAMPLE or TE_HEAP_FREE of track t. @return 0 or
 * -1 out of memory. */
int vx__heap_event(vx_index *x, uint32_t source, const vx_track *t, const te_event *ev);
void vx__heap_free(vx_index *x);
/* pyramid.c: frees the lanes' pyramids (vx_free). */
void vx__pyr_free(vx_index *x);

#endif /* CTRACE_VIEWER_INDEX_INTERNAL_H */
