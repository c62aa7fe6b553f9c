/* `ctrace view BASE... --compare NEW...`: the two sets indexed side by side
 * (the new one's times shifted so that both begin together, its processes
 * named "new: ..." and the base's "base: ...", its pids moved apart where
 * they collide), and `ctrace diff`'s report of the two (analysis.h:
 * df_compute), kept as JSON text for /api/diff. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "server_internal.h"

/* Whether pid is one of x's processes. */
static int has_pid(const vx_index *x, int pid) {
  for (size_t i = 0; i < vx_source_count(x); i++)
    if (vx_source_get(x, i)->pid == pid)
      return 1;
  for (size_t i = 0; i < vx_track_count(x); i++)
    if (vx_track_get(x, i)->pid == pid)
      return 1;
  return 0;
}

/* Any process of nx that bx has too. */
static int pids_collide(const vx_index *bx, const vx_index *nx) {
  for (size_t i = 0; i < vx_track_count(nx); i++)
    if (vx_track_get(nx, i)->pid && has_pid(bx, vx_track_get(nx, i)->pid))
      return 1;
  return 0;
}

/* The diff's report as JSON text, or NULL with v->err. */
static char *diff_text(view *v, const vx_index *bx, const vx_index *nx) {
  df_options o = {.metric = DF_P50, .threshold_pct = DF_THRESHOLD, .alpha = DF_ALPHA};
  df_report r;
  memset(&r, 0, sizeof r);
  if (df_compute(bx, nx, &o, &r, v->err, sizeof v->err))
    return NULL;
  cJSON *j = df_json(&r);
  df_free(&r);
  char *s = j ? cJSON_PrintUnformatted(j) : NULL;
  cJSON_Delete(j);
  if (!s)
    snprintf(v->err, sizeof v->err, "comparing the traces: out of memory");
  return s;
}

int sv__compare_build(view *v) {
  vx_index *bx = vx_build(v->paths, v->nbase, v->err, sizeof v->err);
  vx_index *nx =
      bx ? vx_build(v->paths + v->nbase, v->npaths - v->nbase, v->err, sizeof v->err) : NULL;
  vx_align *a = nx ? calloc(v->npaths, sizeof *a) : NULL;
  char *diff = a ? diff_text(v, bx, nx) : NULL;
  if (diff) {
    int64_t shift = (int64_t)(vx_t0(bx) - vx_t0(nx));
    int pid_add = pids_collide(bx, nx) ? 1 << 22 : 0; /* (above any pid Linux gives) */
    for (size_t i = 0; i < v->npaths; i++)
      a[i] = i < v->nbase ? (vx_align){0, 0, "base: "} : (vx_align){shift, pid_add, "new: "};
    v->first = vx_build_aligned(v->paths, v->npaths, a, v->err, sizeof v->err);
  } else if (nx && !a) {
    snprintf(v->err, sizeof v->err, "out of memory");
  }
  if (v->first)
    v->ctx.diff_json = diff;
  else
    cJSON_free(diff);
  free(a);
  vx_free(bx);
  vx_free(nx);
  return v->first ? 0 : -1;
}

void rt__api_diff(const rt_context *ctx, rt_response *r) {
  if (!ctx->diff_json) {
    rt__respond_error(r, 404, "not a comparison: ctrace view BASE... --compare NEW... shows one");
    return;
  }
  cJSON *j = cJSON_Parse(ctx->diff_json);
  if (!j) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__respond_json(r, 200, j);
}
