/* LTTng traces (CTF, read through libbabeltrace2) as Chrome trace-event
 * JSON, mapped exactly like chrome_json.c maps a native trace of the same
 * run, so that `ctrace export`, `ctrace info` and the viewer's index treat
 * both alike. docs/lttng.md ("Reading LTTng traces") has the mapping.
 *
 * The JSON is streamed (memory stays flat but for what is open: regions,
 * tasks, the heap's live blocks) and written one trace event per line: the
 * index (index.c) parses it line by line. */
#ifndef CTRACE_VIEWER_CTF_H
#define CTRACE_VIEWER_CTF_H

#include <stddef.h>
#include <stdint.h>

#include "chrome_json.h" /* cj_sink */

typedef struct ctf_count {
  char *name; /* event name, "provider:event" */
  uint64_t n;
} ctf_count;

typedef struct ctf_process {
  int pid;
  char *name;     /* procname (LTTng's context or trace environment), or "" */
  uint64_t events;
  uint32_t threads;
  uint64_t discarded; /* events LTTng discarded that are attributed to it */
} ctf_process;

typedef struct ctf_stats {
  uint64_t events_read;       /* CTF events decoded */
  uint64_t json_events;       /* objects written to traceEvents */
  uint64_t discarded;         /* events LTTng discarded (its buffers were full) */
  uint64_t discarded_packets; /* packets lost (e.g. by a live session) */
  uint64_t unmatched_ends;    /* region ends with no open region */
  uint64_t open_regions;      /* regions never closed */
  uint64_t flow_anchors;      /* 1 ns slices added so a flow point binds */
  uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC time of the first and last event */
  size_t ntraces;             /* CTF traces found under the directory */
  ctf_count *by_name;         /* events per name, sorted by name */
  size_t nnames;
  ctf_process *procs; /* by order of their first event */
  size_t nprocs;
  int kernel; /* a kernel trace was among them */
} ctf_stats;

/* Whether this build reads CTF at all (libbabeltrace2 was found). */
int ctf_supported(void);

/* Writes the LTTng traces under dir (the session's output directory, or any
 * directory below which babeltrace2 finds CTF traces: every directory that
 * holds a `metadata` file) as Chrome trace-event JSON through sink. dir
 * may also be an LTTng live URL (net://RELAYD/host/HOST/SESSION): the call
 * then follows the session through lttng-relayd, handing the sink what
 * arrives as it arrives, until the session is destroyed. stats
 * (if not NULL) is filled in any case; free it with ctf_stats_free.
 * @return 0, or a negative CTRACE_E* with a message in err naming the
 * problem (not the path; callers prefix it): CTRACE_ENOENT (no such
 * directory), CTRACE_EFORMAT (no CTF trace there, or metadata babeltrace2
 * rejects), CTRACE_ECORRUPT (a stream that cannot be decoded; what came
 * before it was written), -ENOTSUP (built without babeltrace2), or the
 * sink's own error. Not thread-safe against itself in one thread only
 * (babeltrace2 keeps its error per thread): call it from any number of
 * threads at once. */
int ctf_to_json(const char *dir, cj_sink sink, void *arg, ctf_stats *stats, char *err,
                size_t errlen);

void ctf_stats_free(ctf_stats *stats);

#endif /* CTRACE_VIEWER_CTF_H */
