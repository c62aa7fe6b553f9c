/* What `ctrace run` records beside the preloaded wrappers (tracer/capture):
 * the kernel's events of the traced process, through perf_event_open
 * (perf.c, perf_sched.c, perf_cpu.c), and the file they go to,
 * FILE.kernel, a ctrace trace of its own (kernel_trace.c). Used by the `ctrace` command, never by libctrace. */
#ifndef CTRACE_CAPTURE_H
#define CTRACE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Kernel events (perf*.c) --------------------------------------------------------
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
 * buffer; for a process that runs already, one per thread and CPU writing
 * into one ring per CPU (ctrace__perf_attach). Timestamps are CLOCK_MONOTONIC ns (use_clockid). Unprivileged
 * (perf_event_paranoid = 2) context switches need exclude_kernel = 1;
 * tracepoints need root and tracefs (mounted here if it is not).
 *
 * CPU samples (x86-64): task-clock samples carrying the user registers and
 * stack, unwound in the drain with libdw (unwind.c) from the .eh_frame of
 * the code mapped. Every K_SAMPLE comes after the K_MAPPINGs that cover its
 * pcs (a process's mappings at the open, and a forked child's inherited
 * ones, are delivered just before its first sample, or at the fork) and
 * after the K_EXEC that made older mappings of its pid stale.
 */

enum {
  CTRACE__K_SWITCH_IN = 1,          /* tid starts running on cpu */
  CTRACE__K_SWITCH_OUT = 2,         /* tid leaves cpu: blocked (sleep, I/O, lock) */
  CTRACE__K_SWITCH_OUT_PREEMPT = 3, /* tid leaves cpu still runnable (preempted) */
  CTRACE__K_SYS_ENTER = 4,          /* tid enters syscall nr (args[0..1] = first two args) */
  CTRACE__K_SYS_EXIT = 5,           /* tid leaves syscall nr with ret */
  CTRACE__K_LOST = 6,               /* the kernel lost `lost` records on cpu (ring full) */
  CTRACE__K_EXIT = 7,               /* tid exits (with context switches) */
  CTRACE__K_SAMPLE = 8,             /* tid was on cpu: a CPU-time sample and its call stack */
  CTRACE__K_MAPPING = 9,            /* pid mapped code: [start, end) is path from offset */
  CTRACE__K_EXEC = 10,              /* pid exec'd: its earlier K_MAPPINGs are gone */
};
/* K_SAMPLE flags. */
#define CTRACE__SAMPLE_PARTIAL 0x1 /* the unwinding stopped before the outermost frame */

typedef struct ctrace__kevent {
  uint64_t ns; /* CLOCK_MONOTONIC */
  int kind;    /* CTRACE__K_* */
  int pid, tid, cpu;
  long nr;          /* syscall number (SYS_ENTER / SYS_EXIT) */
  long ret;         /* SYS_EXIT */
  uint64_t args[2]; /* SYS_ENTER: first two arguments */
  uint64_t lost;    /* K_LOST */
  /* K_SAMPLE: the call stack, innermost first: the sampled instruction's
   * address, then each caller's return address (as found on the stack: a
   * symbolizer looks up pc - 1 for those). Kernel frames (addresses >=
   * CTRACE_FMT_KERNEL_ADDR_MIN, where the kernel allows them) come before
   * the user frames of the same stack. Valid during the callback only. */
  const uint64_t *pcs;
  unsigned npcs;         /* 0..CTRACE__STACK_MAX */
  unsigned sample_flags; /* CTRACE__SAMPLE_* */
  uint64_t period_ns;    /* CPU time the sample stands for (1e9 / hz) */
  /* K_MAPPING (pid: the process): code of path, bytes [offset, offset +
   * end - start) of the file, at [start, end); build_id in hex ("" when the
   * kernel did not give one). Valid during the callback only. */
  uint64_t start, end, offset;
  const char *path;
  const char *build_id;
} ctrace__kevent;
#define CTRACE__STACK_MAX 127 /* frames kept of a sample's stack */

typedef struct ctrace__perf ctrace__perf;

#define CTRACE__PERF_SCHED 0x1    /* context switches */
#define CTRACE__PERF_SYSCALLS 0x2 /* raw_syscalls tracepoints (complete mode) */
#define CTRACE__PERF_CPU 0x4      /* CPU samples with call stacks (ctrace__perf_set_cpu_hz) */
/* The sampling rate for CTRACE__PERF_CPU (task-clock, per thread), for the
 * opens that follow; default 99. */
void ctrace__perf_set_cpu_hz(unsigned hz);

/* Opens what `want` asks for that the kernel allows. Never fails as a
 * whole: *got says what was opened, and `why` (if not NULL) explains what
 * was not ("perf_event_open(context switches): Permission denied
 * (perf_event_paranoid=3)"). Returns NULL only when nothing was opened. */
ctrace__perf *ctrace__perf_open(unsigned want, unsigned *got, char *why, size_t whylen);

/* The same for another process and every process it starts (the
 * launcher, before its child execs): records of the whole tree are kept. */
ctrace__perf *ctrace__perf_open_pid(int pid, unsigned want, unsigned *got, char *why,
                                    size_t whylen);

/* CPU samples (want: CTRACE__PERF_CPU; nothing else is taken of a running
 * process) of every thread of process pid, which runs already (`ctrace
 * record --pid`), and of the threads they start later; not of the
 * processes it forks. One event per thread and CPU, the threads read from
 * /proc/PID/task until they stop changing (perf_attach.c); its code
 * mappings from /proc/PID/maps, later ones as they are mapped. The caller
 * must be allowed to ptrace pid (its user, or root): another user's
 * process fails saying so, as does a process that has exited. */
ctrace__perf *ctrace__perf_attach(int pid, unsigned want, unsigned *got, char *why, size_t whylen);
/* Of ctrace__perf_attach: the threads attached at the open, and the
 * records dropped because their thread was covered twice (its own event
 * and one it inherited while the threads were attached) and kept from the
 * other. Zeros for other opens. */
void ctrace__perf_attached(const ctrace__perf *p, unsigned *threads, uint64_t *dups);

/* Delivers, in time order, every record of this process (pid == getpid())
 * older than `up_to_ns` that has not been delivered yet; newer records stay
 * buffered (rings of different CPUs are read at different moments, so a
 * watermark a few ms in the past keeps the merged order right). Records of
 * other processes (children that inherited the events) are dropped.
 * Returns the number delivered. Called from one thread (the writer). */
size_t ctrace__perf_drain(ctrace__perf *p, uint64_t up_to_ns,
                          void (*emit)(void *arg, const ctrace__kevent *ev), void *arg);

/* How p takes its CPU samples, for kt_sampling's method: whether kernel
 * frames are recorded (root, or kernel.perf_event_paranoid <= 1) or why
 * not. A static string; NULL p gives the latter. */
const char *ctrace__perf_cpu_method(const ctrace__perf *p);

/* Closes the events and frees everything. Accepts NULL. */
void ctrace__perf_close(ctrace__perf *p);

/* ---- CPU samples a process takes of itself (self_samples.c) -------------------------
 *
 * For a sampler inside the process (tracer/cpu's SIGPROF timers, where
 * perf_event_open is refused): each sample is the registers of the
 * interrupted thread and a copy of the top of its stack, unwound here as
 * perf's are (unwind.c), with the process's code mappings from
 * /proc/self/maps (read at the first sample and again when a pc is in none
 * read so far). One thread uses a ctrace__self_samples. */

typedef struct ctrace__self_samples ctrace__self_samples;

/* Registers in DWARF numbering (x86-64): rax rdx rcx rbx rsi rdi rbp rsp
 * r8..r15, then 16 = the interrupted rip. */
#define CTRACE__SELF_NREGS 17
typedef struct ctrace__self_sample {
  uint64_t ns; /* CLOCK_MONOTONIC */
  int tid, cpu;
  uint64_t regs[CTRACE__SELF_NREGS];
  const unsigned char *stack; /* a copy of the stack from regs[7] (rsp) up */
  size_t stack_len;
} ctrace__self_sample;

/* Samples of this process, each standing for period_ns of CPU time. NULL:
 * out of memory. */
ctrace__self_samples *ctrace__self_samples_new(uint64_t period_ns);
/* Unwinds one sample and emits it (K_SAMPLE), after the K_MAPPINGs of the
 * code mapped since the last it emitted. In time order, best (FILE.kernel
 * writes an older one at the time of the one before). */
void ctrace__self_samples_add(ctrace__self_samples *s, const ctrace__self_sample *smp,
                              void (*emit)(void *arg, const ctrace__kevent *ev), void *arg);
/* Accepts NULL. */
void ctrace__self_samples_free(ctrace__self_samples *s);

/* ---- Stacks a process copied of itself (stacks_unwind.c) ---------------------------
 *
 * `ctrace stacks PID`: each thread's registers and the top of its stack, as
 * the process's control socket sent them (tracer/runtime/stacks.c), unwound
 * as the samples above, with the code mappings the process listed. One
 * thread uses a ctrace__stacks. */

typedef struct ctrace__stacks ctrace__stacks;
/* Stacks of process pid. NULL: out of memory. */
ctrace__stacks *ctrace__stacks_new(int pid);
/* The process maps path from offset at [start, end) (all mappings before
 * the first unwind). Its build id, read from the file, goes into
 * build_id_out (65 bytes: 64 hex digits at most; "" unknown; may be
 * NULL). */
void ctrace__stacks_map(ctrace__stacks *s, uint64_t start, uint64_t end, uint64_t offset,
                        const char *path, char *build_id_out);
/* Walks one thread's copy (smp's ns and cpu unused): pcs[0] the
 * interrupted pc, then each caller's return address, at most max.
 * CTRACE__SAMPLE_PARTIAL in *flags when the walk stopped before the
 * outermost frame. @return the number of pcs (>= 1). */
unsigned ctrace__stacks_unwind(ctrace__stacks *s, const ctrace__self_sample *smp, uint64_t *pcs,
                               unsigned max, unsigned *flags);
/* Accepts NULL. */
void ctrace__stacks_free(ctrace__stacks *s);

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
/* DEF_SAMPLING: CPU samples are taken at hz, each standing for period_ns
 * of CPU time, by method ("perf task-clock, DWARF unwinding (libdw)"). */
void kt_sampling(kt_writer *k, unsigned hz, uint64_t period_ns, const char *method);
/* CPU samples written, and in *stacks (if not NULL) their distinct stacks. */
uint64_t kt_samples(const kt_writer *k, size_t *stacks);

/* ---- FILE.kernel of a flight recorder (kernel_flight.c) ----------------------------- */

typedef struct kf_store kf_store;

/* A store of the kernel events of process pid for a flight recorder: the
 * CPU samples (and K_LOST) of the last window_ms (0: no time limit), at
 * most about max_bytes of them in memory (0: no cap), with every stack and
 * code mapping they may name. NULL: out of memory. */
kf_store *kf_new(int pid, const char *cmdline, uint64_t window_ms, uint64_t max_bytes,
                 const char *why);
/* As kt_sampling, for every dump. */
void kf_sampling(kf_store *f, unsigned hz, uint64_t period_ns, const char *method);
/* ctrace__perf_drain's callback (arg: the kf_store). */
void kf_event(void *arg, const ctrace__kevent *ev);
/* Writes what the store holds as a FILE.kernel at path; *samples: how many
 * samples. @return 0, or -1 with a message in err. */
int kf_dump(const kf_store *f, const char *path, uint64_t *samples, char *err, size_t errlen);
/* Frees everything. Accepts NULL. */
void kf_free(kf_store *f);

/* Process pid's command line (0: this process's), NULs as spaces, into
 * out (empty when it cannot be read), in proc.c. */
void ctrace__proc_cmdline(int pid, char *out, size_t len);

#endif /* CTRACE_CAPTURE_H */
