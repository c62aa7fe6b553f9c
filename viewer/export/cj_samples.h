/* This file is private to viewer/export: the CPU samples of a Chrome JSON
 * export (cj_samples.c), gathered while chrome_json.c streams the trace's
 * events and written after them ("stackFrames" and "samples"). */
#ifndef CTRACE_VIEWER_CJ_SAMPLES_H
#define CTRACE_VIEWER_CJ_SAMPLES_H

#include <stdint.h>

#include "export.h"
#include "json_out.h"
#include "read.h"

typedef struct cj_samples cj_samples;

/* Samples named by o's namer (o NULL or no namer: addresses in hex).
 * @return NULL when out of memory. */
cj_samples *cjs_new(const cj_options *o);
void cjs_free(cj_samples *s); /* accepts NULL */

/* A TE_SAMPLE of the set's source number `source` (stack ids are the
 * source's own): its stack named and its frames interned the first time,
 * the sample kept (a few bytes). @return 0, or a negative error (the
 * namer's, CTRACE_ENOMEM). */
int cjs_add(cj_samples *s, uint32_t source, const te_event *ev);

/* What was gathered: samples, of which partial, and distinct frames. */
void cjs_counts(const cj_samples *s, uint64_t *samples, uint64_t *partial, uint64_t *frames);

/* ,"stackFrames":{...},"samples":[...] into o; nothing without samples. */
void cjs_write(const cj_samples *s, ob *o);

#endif /* CTRACE_VIEWER_CJ_SAMPLES_H */
