/* This file is private to the `ctrace` command: see kernel_trace.c. */
#ifndef CTRACE_TRACER_KERNEL_TRACE_H
#define CTRACE_TRACER_KERNEL_TRACE_H

#include "perf.h"

typedef struct kt_writer kt_writer;

/* Creates path as a kernel-events trace of process pid. NULL and a message
 * in err on failure. */
kt_writer *kt_open(const char *path, int pid, const char *cmdline, int syscalls, int sched,
                   const char *why, char *err, size_t errlen);
/* ctrace__perf_drain's callback (arg: the kt_writer). */
void kt_event(void *arg, const ctrace__kevent *ev);
/* Writes what is buffered (call every ~100 ms: a killed launcher loses less). */
void kt_cut(kt_writer *k);
/* Finishes the file (END record). @return 0 or -errno. Accepts NULL. */
int kt_close(kt_writer *k);
void kt_counts(const kt_writer *k, uint64_t *switches, uint64_t *syscalls, uint64_t *lost);

#endif
