/* The tools' exporters (viewer/export): traces in other tools' formats,
 * from the typed event stream (read.h). Today Chrome trace-event JSON
 * (chrome_json.c). */
#ifndef CTRACE_EXPORT_H
#define CTRACE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "read.h"

/* Chrome trace-event JSON (object form) of a set of traces (read.h): what
 * Perfetto UI, chrome://tracing and speedscope load. The events are written
 * as they are read, by hand, one per line (memory stays flat however long
 * the trace); otherData describes where they came from. */

/* Where the JSON goes: 0, or a negative error that stops the export. */
typedef int (*cj_sink)(void *arg, const char *data, size_t len);

typedef struct cj_stats {
  uint64_t events_read;    /* trace events decoded */
  uint64_t json_events;    /* objects written to traceEvents */
  uint64_t dropped;        /* events the tracer dropped (marked + reported) */
  uint64_t unmatched_ends; /* region ends with no open region (after drops) */
  uint64_t open_regions;   /* regions never closed (truncated trace) */
  uint64_t flow_anchors;   /* 1 ns slices added so a flow point binds */
} cj_stats;

/* A sink that write(2)s all of it to *(int *)fd, retrying on EINTR. */
int cj_fd_sink(void *fd, const char *data, size_t len);

/* Writes the traces of the set (read once: te_set_read) as one JSON
 * through sink: the processes of one run, ctrace run's FILE.kernel, or one
 * LTTng trace. @return 0, or the sink's error or the reader's, with a
 * message in err. Problems of a trace itself (truncation, corruption) are
 * not errors here: they go into otherData and the sources' te_source. */
int cj_export(te_set *set, cj_sink sink, void *arg, cj_stats *stats, char *err, size_t errlen);

#endif /* CTRACE_EXPORT_H */
