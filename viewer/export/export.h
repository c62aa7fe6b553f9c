/* The tools' exporters (viewer/export): traces in other tools' formats,
 * from the typed event stream (read.h). Today Chrome trace-event JSON
 * (chrome_json.c; its CPU samples: cj_samples.c). */
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
  uint64_t samples;        /* CPU samples written to "samples" */
  uint64_t partial;        /* of which not unwound to their outermost frame */
  uint64_t stack_frames;   /* distinct (parent, frame) written to "stackFrames" */
} cj_stats;

/* A sink that write(2)s all of it to *(int *)fd, retrying on EINTR. */
int cj_fd_sink(void *fd, const char *data, size_t len);

/* Writes the traces of the set (read once: te_set_read) as one JSON
 * through sink: the processes of one run, ctrace run's FILE.kernel, or one
 * LTTng trace. @return 0, or the sink's error or the reader's, with a
 * message in err. Problems of a trace itself (truncation, corruption) are
 * not errors here: they go into otherData and the sources' te_source. */
int cj_export(te_set *set, cj_sink sink, void *arg, cj_stats *stats, char *err, size_t errlen);

/* ---- CPU samples ------------------------------------------------------------------ */

/* The CPU samples of `ctrace run --cpu-hz N` (TE_SAMPLE) go after
 * otherData as "stackFrames" (each distinct (parent, frame) once, ids as
 * strings) and "samples" ({"cpu", "tid", "ts", "name":"cpu", "sf",
 * "weight":1}), as Catapult imports them (Perfetto skips both). A trace
 * without samples is written as without this. Names come from a namer,
 * which the caller supplies: the exporter reads traces, it does not
 * symbolize them (viewer/cli/export.c wires viewer/analysis's in). */

/* One frame at a sampled address. */
typedef struct cj_frame {
  const char *name;     /* the function, or how the namer shows an address */
  const char *category; /* the binary's file name ("": not known) */
} cj_frame;

/* The frames at address pc of process pid, innermost (most inlined) first,
 * at most max into out; is_return: pc is a return address (the call is at
 * pc - 1); pc 0: a sample whose stack could not be read at all. The
 * strings need to last until the next call only. @return the count
 * (1..max), or a negative error (CTRACE_ENOMEM) that stops the export. */
typedef int (*cj_namer)(void *arg, int pid, uint64_t pc, int is_return, cj_frame *out, size_t max);

typedef struct cj_options {
  cj_namer namer; /* NULL: a frame is its address in hex ("0x4011d6") */
  void *namer_arg;
} cj_options;

/* cj_export with options (o NULL: cj_export's defaults). */
int cj_export_with(te_set *set, const cj_options *o, cj_sink sink, void *arg, cj_stats *stats,
                   char *err, size_t errlen);

#endif /* CTRACE_EXPORT_H */
