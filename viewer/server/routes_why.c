/* The route of the critical path (docs/viewer-api.md): /api/why?id=, the
 * path of a slice (s.TRACK.DEPTH.INDEX) or a task (t.TRACK.INDEX) across
 * threads, as `ctrace why --json` prints it (viewer/analysis: cr_walk,
 * cr_json), each segment with its track so that the page can draw it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "server_internal.h"

/* The target named by id. @return 0, or -1 with r answered. */
static int target_of(const vx_index *x, const char *id, cr_target *t, rt_response *r) {
  unsigned track;
  size_t a, b;
  char kind, end;
  int n = sscanf(id, "%c.%u.%zu.%zu%c", &kind, &track, &a, &b, &end);
  const vx_track *tr = n >= 3 ? vx_track_get(x, track) : NULL;
  if (tr && kind == 's' && n == 4 && tr->kind == VX_THREAD && a < tr->depths && b < tr->ndepth[a]) {
    *t = cr_slice_target(track, &tr->depth[a][b]);
    return 0;
  }
  if (tr && kind == 't' && n == 3 && tr->kind == VX_TASKS && a < tr->ntasks) {
    *t = cr_task_target(x, &tr->tasks[a]);
    return 0;
  }
  rt__respond_error(r, 404,
                    "id: no such slice or task (s.TRACK.DEPTH.INDEX or t.TRACK.INDEX, as "
                    "/api/slices gives them)");
  return -1;
}

void rt__api_why(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  char id[96];
  int has = rt__query_get(q, "id", id, sizeof id);
  if (has <= 0) {
    rt__respond_error(r, 400, has < 0 ? "id: malformed or too long" : "id is required");
    return;
  }
  cr_target t;
  if (target_of(x, id, &t, r))
    return;
  cr_graph *g = cr_graph_new(x);
  cr_path p = {0};
  cr_fold_row *rows = NULL;
  size_t nrows = 0;
  cJSON *o = NULL;
  if (g && !cr_walk(g, &t, &p) && !cr_fold_add(&p, &rows, &nrows)) {
    cr_fold_sort(rows, nrows);
    o = cr_json(x, &t, 1, t.dur, &p, rows, nrows);
  }
  if (o) {
    cJSON_AddStringToObject(o, "id", id);
    rt__respond_json(r, 200, o);
  } else {
    rt__respond_error(r, 500, "out of memory");
  }
  free(rows);
  cr_path_free(&p);
  cr_graph_free(g);
}
