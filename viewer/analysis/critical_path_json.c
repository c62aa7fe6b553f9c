/* A critical path (critical_path.c) as words and as JSON: what `ctrace why`
 * prints and what the viewer's /api/why answers. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis.h"

void cr_thread_text(const vx_index *x, uint32_t track, char *buf, size_t n) {
  const vx_track *t = vx_track_get(x, track);
  snprintf(buf, n, "%s (%d)", t->name && t->name[0] ? t->name : "thread", t->tid);
}

const char *cr_region_name(const vx_index *x, uint32_t label) {
  const vx_label *l = label == UINT32_MAX ? NULL : vx_label_get(x, label);
  return l && l->name ? l->name : "(no region)";
}

void cr_state_text(const cr_segment *s, char *buf, size_t n) {
  const char *name = cr_state_name((cr_state)s->state);
  const char *sys = s->state == CR_SYSCALL && s->nr != UINT32_MAX ? vx_syscall_name(s->nr) : NULL;
  if (sys)
    snprintf(buf, n, "%s %s", name, sys);
  else if (s->state == CR_LOCK && s->nr != UINT32_MAX && s->nr)
    snprintf(buf, n, "%s (%s)", name, vx_wait_name(s->nr));
  else
    snprintf(buf, n, "%s", name);
}

void cr_via_text(const vx_index *x, const cr_segment *s, char *buf, size_t n) {
  char to[96] = "";
  if (s->to != UINT32_MAX)
    cr_thread_text(x, s->to, to, sizeof to);
  switch (s->via) {
  case CR_VIA_TARGET: snprintf(buf, n, "-"); break;
  case CR_VIA_RELEASE:
    snprintf(buf, n, "%s 0x%" PRIx64 " released for %s%s", vx_wait_name(s->nr), s->object, to,
             s->release_known ? "" : " (release time not recorded)");
    break;
  case CR_VIA_FLOW: snprintf(buf, n, "flow to %s", to); break;
  case CR_VIA_UNBLOCK: snprintf(buf, n, "work item unblocked for %s", to); break;
  case CR_VIA_CREATE: snprintf(buf, n, "created %s", to); break;
  case CR_VIA_TASK: snprintf(buf, n, "task continued on %s", to); break;
  default: snprintf(buf, n, "?");
  }
}

static void add_thread(cJSON *o, const vx_index *x, uint32_t track) {
  const vx_track *t = vx_track_get(x, track);
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "thread", t->name ? t->name : "");
  cJSON_AddNumberToObject(o, "track", track);
}

static cJSON *segment_json(const vx_index *x, const cr_segment *s) {
  char state[64], via[256];
  cr_state_text(s, state, sizeof state);
  cr_via_text(x, s, via, sizeof via);
  cJSON *o = cJSON_CreateObject();
  add_thread(o, x, s->track);
  cJSON_AddStringToObject(o, "state", state);
  cJSON_AddStringToObject(o, "region", s->region == UINT32_MAX ? "" : cr_region_name(x, s->region));
  cJSON_AddNumberToObject(o, "start_ns", (double)s->start);
  cJSON_AddNumberToObject(o, "dur_ns", (double)s->dur);
  cJSON_AddStringToObject(o, "via", s->via == CR_VIA_TARGET ? "" : via);
  if (s->state == CR_RUNNABLE) {
    cJSON *r = cJSON_AddArrayToObject(o, "ran");
    for (int k = 0; k < 3 && s->ran[k] != UINT32_MAX; k++)
      cJSON_AddItemToArray(r, cJSON_CreateNumber(vx_track_get(x, s->ran[k])->tid));
  }
  return o;
}

cJSON *cr_json(const vx_index *x, const cr_target *t, size_t instances, uint64_t total,
               const cr_path *p, const cr_fold_row *rows, size_t nrows) {
  cJSON *root = cJSON_CreateObject();
  cJSON *tg = cJSON_AddObjectToObject(root, "target");
  cJSON_AddStringToObject(tg, "name", cr_region_name(x, t->label));
  add_thread(tg, x, t->track);
  cJSON_AddNumberToObject(tg, "start_ns", (double)t->start);
  cJSON_AddNumberToObject(tg, "dur_ns", (double)t->dur);
  if (t->task)
    cJSON_AddNumberToObject(tg, "task", (double)t->task);
  if (instances > 1) {
    cJSON_AddNumberToObject(tg, "instances", (double)instances);
    cJSON_AddNumberToObject(tg, "total_ns", (double)total);
  }
  cJSON *path = cJSON_AddArrayToObject(root, "path");
  for (size_t i = 0; i < p->n; i++)
    cJSON_AddItemToArray(path, segment_json(x, &p->seg[i]));
  cJSON *by = cJSON_AddArrayToObject(root, "by_region");
  for (size_t i = 0; i < nrows; i++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(by, o);
    add_thread(o, x, rows[i].track);
    cJSON_AddStringToObject(o, "region",
                            rows[i].region == UINT32_MAX ? "" : cr_region_name(x, rows[i].region));
    cJSON_AddNumberToObject(o, "dur_ns", (double)rows[i].dur);
    cJSON_AddNumberToObject(o, "share", total ? (double)rows[i].dur / (double)total : 0.0);
  }
  cJSON_AddNumberToObject(root, "missing_edges", p->missing_edges);
  cJSON_AddBoolToObject(root, "scheduler_data", p->sched);
  /* cJSON's adders fail quietly when out of memory: a check at the end */
  if (!cJSON_GetObjectItem(root, "scheduler_data")) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}
