/* Chrome trace-event JSON (object form) from a ctrace trace: what Perfetto
 * UI, chrome://tracing and speedscope load. The event stream is formatted
 * by hand and streamed (memory stays flat); the metadata and otherData
 * objects are built with cJSON. */
#ifndef CTRACE_VIEWER_CHROME_JSON_H
#define CTRACE_VIEWER_CHROME_JSON_H

#include <stdint.h>

#include "reader.h"

/* Where the JSON goes: 0, or a negative error that stops the export. */
typedef int (*cj_sink)(void *arg, const char *data, size_t len);

typedef struct cj_stats {
  uint64_t events_read;     /* trace events decoded */
  uint64_t json_events;     /* objects written to traceEvents */
  uint64_t dropped;         /* events the tracer dropped (marked + reported) */
  uint64_t unmatched_ends;  /* region ends with no open region (after drops) */
  uint64_t open_regions;    /* regions never closed (truncated trace) */
  uint64_t flow_anchors;    /* 1 ns slices added so a flow point binds */
} cj_stats;

/* Writes the trace as JSON to fd. @return 0, or -errno on a write error,
 * with a message in err. Problems of the trace itself (truncation,
 * corruption) are not errors here: they go into otherData and rd_problem. */
int cj_export(rd_trace *tr, int fd, cj_stats *stats, char *err, size_t errlen);

/* write(2) all of p, retrying on EINTR. @return 0 or -errno. */
int cj_write_all(int fd, const char *p, size_t n);


/* Several traces (the processes of one run, ctrace run's FILE.kernel) as
 * one JSON, through a sink. */
int cj_export_many(rd_trace *const *trs, size_t n, cj_sink sink, void *arg, cj_stats *stats,
                   char *err, size_t errlen);

/* The same, writing through a sink (the viewer streams it to a socket). */
int cj_export_sink(rd_trace *tr, cj_sink sink, void *arg, cj_stats *stats, char *err,
                   size_t errlen);

#endif /* CTRACE_VIEWER_CHROME_JSON_H */
