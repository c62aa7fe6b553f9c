/* LTTng traces (CTF, read through libbabeltrace2): what the reader behind a
 * set's LTTng sources (ctf.c, te__ctf_read in events_internal.h) counted,
 * for `ctrace info` and the exporter's otherData. The events themselves
 * come as typed events (events.h), mapped as the native events of the same
 * kind: docs/lttng.md ("Reading LTTng traces") has the mapping. */
#ifndef CTRACE_VIEWER_CTF_H
#define CTRACE_VIEWER_CTF_H

#include <stddef.h>
#include <stdint.h>

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
  uint64_t discarded;         /* events LTTng discarded (its buffers were full) */
  uint64_t discarded_packets; /* packets lost (e.g. by a live session) */
  uint64_t first_ns, last_ns; /* CLOCK_MONOTONIC time of the first and last event */
  size_t ntraces;             /* CTF traces found under the directory */
  char **paths;               /* ... their directories (ntraces), sorted */
  ctf_count *by_name;         /* events per name, sorted by name */
  size_t nnames;
  ctf_process *procs; /* by order of their first event */
  size_t nprocs;
  int kernel; /* a kernel trace was among them */
} ctf_stats;

/* Whether this build reads CTF at all (libbabeltrace2 was found). */
int ctf_supported(void);

void ctf_stats_free(ctf_stats *stats);

#endif /* CTRACE_VIEWER_CTF_H */
