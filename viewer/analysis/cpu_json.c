/* A CPU profile's tables as JSON (analysis.h: cp_top_json, cp_json):
 * the functions by samples (what `ctrace top` prints) and the samples per
 * innermost region, for `ctrace stats --json` and the viewer. */
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "analysis.h"

cJSON *cp_top_json(const cp_profile *p, size_t top, int flat_only) {
  cJSON *a = cJSON_CreateArray();
  cp_top_row *rows = NULL;
  size_t n = p->samples ? cp_top(p, 0, 0, &rows) : 0;
  if (!a || n == (size_t)-1) {
    cJSON_Delete(a);
    return NULL;
  }
  /* (rows are by flat, largest first: those with none are callers only) */
  for (size_t k = 0; k < n && k < top && (!flat_only || rows[k].flat); k++) {
    cJSON *f = cJSON_CreateObject();
    cJSON_AddItemToArray(a, f);
    if (rows[k].name) {
      cJSON_AddStringToObject(f, "name", rows[k].name);
    } else {
      char name[320];
      cp_location_name(p, rows[k].loc, name, sizeof name);
      cJSON_AddStringToObject(f, "name", name);
    }
    if (rows[k].file)
      cJSON_AddStringToObject(f, "file", rows[k].file);
    if (rows[k].line)
      cJSON_AddNumberToObject(f, "line", rows[k].line);
    cJSON_AddNumberToObject(f, "flat", (double)rows[k].flat);
    cJSON_AddNumberToObject(f, "cum", (double)rows[k].cum);
  }
  free(rows);
  return a;
}

cJSON *cp_json(const vx_index *x, const st_options *o, const cp_profile *p, size_t top) {
  cJSON *c = cJSON_CreateObject();
  if (!c)
    return NULL;
  cJSON_AddNumberToObject(c, "hz", p->info.hz);
  cJSON_AddNumberToObject(c, "period_ns", (double)p->info.period_ns);
  cJSON_AddNumberToObject(c, "samples", (double)p->samples);
  cJSON_AddNumberToObject(c, "partial", (double)p->partial);
  cJSON_AddNumberToObject(c, "cpu_ns", (double)(p->samples * p->info.period_ns));
  cJSON *t = cp_top_json(p, top, 0);
  cp_region_row *reg = NULL;
  size_t nr = cp_regions(x, o, &reg);
  if (!t || nr == (size_t)-1) {
    cJSON_Delete(t);
    cJSON_Delete(c);
    return NULL;
  }
  cJSON_AddItemToObject(c, "functions", t);
  cJSON *r = cJSON_AddArrayToObject(c, "regions");
  for (size_t i = 0; i < nr && i < top; i++) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddItemToArray(r, e);
    if (reg[i].name)
      cJSON_AddStringToObject(e, "name", reg[i].name);
    else
      cJSON_AddNullToObject(e, "name");
    cJSON_AddNumberToObject(e, "samples", (double)reg[i].samples);
  }
  free(reg);
  if (p->problems && p->problems[0])
    cJSON_AddStringToObject(c, "problems", p->problems);
  return c;
}
