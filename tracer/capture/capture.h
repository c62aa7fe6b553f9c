/* What `ctrace run` records beside the preloaded wrappers (tracer/capture):
 * the kernel's events of the traced process, through perf_event_open
 * (perf.c), and the file they go to, FILE.kernel, a ctrace trace of its own
 * (kernel_trace.c). Used by the `ctrace` command, never by libctrace. */
#ifndef CTRACE_CAPTURE_H
#define CTRACE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Kernel events (perf.c) --------------------------------------------------------
 *
 * Kernel events of the traced process through perf_event_open(2), read by
 * `ctrace run`'s capture loop (cli/run.c): context switches of every thread (scheduling: when a
 * thread ran, on which CPU, and whether it left the CPU preempted or
 * blocked) and, where the kernel allows it, every system call
 * (raw_syscalls:sys_enter / sys_exit tracepoints: the "complete" syscall
 * mode, which also sees the calls glibc makes internally).
 *
 * One event per CPU (pid = 0, cpu = c, inherit = 1: threads created later
 * are covered; inherit with cpu = -1 cannot be mmapped), each with a ring
 * buffer. Timestamps are CLOCK_MONOTONIC ns (use_clockid). Unprivileged
 * (perf_event_paranoid = 2) context switches need exclude_kernel = 1;
 * tracepoints need root and tracefs (mounted here if it is not).
 */

enum {
  CTRACE__K_SWITCH_IN = 1,          /* tid starts running on cpu */
  CTRACE__K_SWITCH_OUT = 2,         /* tid leaves cpu: blocked (sleep, I/O, lock) */
  CTRACE__K_SWITCH_OUT_PREEMPT = 3, /* tid leaves cpu still runnable (preempted) */
  CTRACE__K_SYS_ENTER = 4,          /* tid enters syscall nr (args[0..1] = first two args) */
  CTRACE__K_SYS_EXIT = 5,           /* tid leaves syscall nr with ret */
  CTRACE__K_LOST = 6,               /* the kernel lost `lost` records on cpu (ring full) */
  CTRACE__K_EXIT = 7,               /* tid exits (with context switches) */
};

typedef struct ctrace__kevent {
  uint64_t ns; /* CLOCK_MONOTONIC */
  int kind;    /* CTRACE__K_* */
  int pid, tid, cpu;
  long nr;          /* syscall number (SYS_ENTER / SYS_EXIT) */
  long ret;         /* SYS_EXIT */
  uint64_t args[2]; /* SYS_ENTER: first two arguments */
  uint64_t lost;    /* K_LOST */
} ctrace__kevent;

typedef struct ctrace__perf ctrace__perf;

#define CTRACE__PERF_SCHED 0x1    /* context switches */
#define CTRACE__PERF_SYSCALLS 0x2 /* raw_syscalls tracepoints (complete mode) */

/* Opens what `want` asks for that the kernel allows. Never fails as a
 * whole: *got says what was opened, and `why` (if not NULL) explains what
 * was not ("perf_event_open(context switches): Permission denied
 * (perf_event_paranoid=3)"). Returns NULL only when nothing was opened. */
ctrace__perf *ctrace__perf_open(unsigned want, unsigned *got, char *why, size_t whylen);

/* The same for another process and every process it starts (the
 * launcher, before its child execs): records of the whole tree are kept. */
ctrace__perf *ctrace__perf_open_pid(int pid, unsigned want, unsigned *got, char *why,
                                    size_t whylen);

/* Delivers, in time order, every record of this process (pid == getpid())
 * older than `up_to_ns` that has not been delivered yet; newer records stay
 * buffered (rings of different CPUs are read at different moments, so a
 * watermark a few ms in the past keeps the merged order right). Records of
 * other processes (children that inherited the events) are dropped.
 * Returns the number delivered. Called from one thread (the writer). */
size_t ctrace__perf_drain(ctrace__perf *p, uint64_t up_to_ns,
                          void (*emit)(void *arg, const ctrace__kevent *ev), void *arg);

/* Closes the events and frees everything. Accepts NULL. */
void ctrace__perf_close(ctrace__perf *p);

/* ---- FILE.kernel (kernel_trace.c) --------------------------------------------------- */

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

#endif /* CTRACE_CAPTURE_H */
