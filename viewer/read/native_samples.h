/* This file is private to the reader (viewer/read): the CPU-profile
 * definitions of a ctrace file, which native_reader.c hands to
 * native_samples.c as it scans the file. */
#ifndef CTRACE_VIEWER_NATIVE_SAMPLES_H
#define CTRACE_VIEWER_NATIVE_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* native_samples.c: the CPU-profile definitions of a ctrace file, kept
 * beside its reader (created on the first). @return 0, or -1 when the
 * definition is malformed or memory ran out. */
int rd__samples_def(rd_samples **s, unsigned kind, const uint8_t *p, size_t n);
void rd__samples_free(rd_samples *s); /* accepts NULL */
unsigned rd__samples_rate(const rd_samples *s, uint64_t *period_ns, const char **method);
size_t rd__samples_mappings(const rd_samples *s, const rd_mapping **out);
const uint64_t *rd__samples_stack(const rd_samples *s, uint32_t id, unsigned *n);
size_t rd__samples_ksyms(const rd_samples *s, const rd_ksym **out);
uint64_t rd__samples_heap_rate(const rd_samples *s, const char **method);

#endif /* CTRACE_VIEWER_NATIVE_SAMPLES_H */
