/* This file is private to tracer/cpu: CPU samples by SIGPROF timers
 * (sigprof.c), for sampler.c when perf_event_open is refused. */
#ifndef CTRACE_CPU_SIGPROF_H
#define CTRACE_CPU_SIGPROF_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"

typedef struct sp_sampler sp_sampler;

/* A timer on each thread's CPU clock (those this process has now; later
 * ones at each sp_poll) sending it SIGPROF every 1e9 / hz ns of its CPU
 * time. NULL, with the reason in why, when SIGPROF is the program's own
 * (a handler of its own is installed) or the timers are refused. */
sp_sampler *sp_open(unsigned hz, char *why, size_t whylen);
/* From the sampler's thread, every ~10 ms: timers for the threads started
 * since (not for the calling thread), and the samples taken since, in time
 * order, through emit (K_MAPPING, K_SAMPLE, K_LOST). */
void sp_poll(sp_sampler *s, void (*emit)(void *arg, const ctrace__kevent *ev), void *arg);
/* Stops every timer, emits the last samples, frees everything. */
void sp_close(sp_sampler *s, void (*emit)(void *arg, const ctrace__kevent *ev), void *arg);

#endif /* CTRACE_CPU_SIGPROF_H */
