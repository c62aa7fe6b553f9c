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
  uint32_t drop_label; /* dropped-events markers */
};

#endif /* CTRACE_VIEWER_INDEX_INTERNAL_H */
