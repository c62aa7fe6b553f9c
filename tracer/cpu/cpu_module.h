/* What libctrace (tracer/runtime/cpu.c) and its CPU sampler,
 * libctrace-cpu.so (tracer/cpu/sampler.c), hand each other.
 *
 * A program linked with libctrace takes CPU samples of itself when asked
 * (CTRACE_CPU_HZ=N, ctrace_options.cpu_hz): libctrace loads the module at
 * that start, from its own directory (or $CTRACE_CPU_MODULE), and calls
 * CTRACE__CPU_MODULE_ENTRY once. The module links tracer/capture (perf,
 * the libdw unwinder, FILE.kernel's writer), which libctrace never does:
 * a program that does not sample loads none of it. This header includes
 * nothing of either side: only plain C types cross it. */
#ifndef CTRACE_CPU_MODULE_H
#define CTRACE_CPU_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/ctrace.h"

#define CTRACE__CPU_MODULE_FILE "libctrace-cpu.so"
#define CTRACE__CPU_MODULE_ENTRY "ctrace_cpu_module_open"
#define CTRACE__CPU_THREAD_NAME "ctrace-cpu" /* the sampler's thread (and its threads') */

/* The release, and the revision of this interface in its low byte (bump it
 * when ctrace__cpu_module changes): a module of another build is refused. */
#define CTRACE__CPU_MODULE_ABI                                                   \
  ((uint32_t)CTRACE_VERSION_MAJOR << 24 | (uint32_t)CTRACE_VERSION_MINOR << 16 | \
   (uint32_t)CTRACE_VERSION_PATCH << 8 | 2u)

typedef struct ctrace__cpu_sampler ctrace__cpu_sampler;

/* The module's functions. One sampler at a time; open on the thread that
 * starts the session, poll and close on the sampler's own thread (which
 * libctrace starts, names CTRACE__CPU_THREAD_NAME and joins), never two at
 * once. */
typedef struct ctrace__cpu_module {
  uint32_t abi;  /* CTRACE__CPU_MODULE_ABI */
  uint32_t size; /* sizeof(ctrace__cpu_module) */
  /* Starts sampling every thread of this process (those it has, and those
   * they start later) at hz samples per second of each thread's CPU time,
   * into kpath (FILE.kernel; replaced). NULL, with the reason in why, when
   * the kernel refuses or the file cannot be written (nothing left open). */
  ctrace__cpu_sampler *(*open)(unsigned hz, const char *kpath, char *why, size_t whylen);
  /* own_thread (set before open; may be NULL): called with each thread the
   * samples meet that is the sampler's own (named CTRACE__CPU_THREAD_NAME:
   * its thread, and those that thread starts: e.g. the one reading
   * /proc/kallsyms), once each: the tracer's threads, not the program's. */
  void (*own_thread)(int tid);
  /* Reads, unwinds and writes the samples taken up to a few ms ago (call
   * every ~20 ms). */
  void (*poll)(ctrace__cpu_sampler *s);
  /* Stops sampling, writes every sample left and finishes the file; frees
   * s. @return 0, or -1 with the reason in msg (the file may be
   * incomplete). msg also says, on success, what was lost ("" if nothing). */
  int (*close)(ctrace__cpu_sampler *s, char *msg, size_t msglen);
} ctrace__cpu_module;

/* The module's one exported function (CTRACE__CPU_MODULE_ENTRY). @return its
 * table (own_thread is the caller's to set), or NULL when abi is not the
 * module's. */
typedef ctrace__cpu_module *(*ctrace__cpu_module_open_fn)(uint32_t abi);
CTRACE_API ctrace__cpu_module *ctrace_cpu_module_open(uint32_t abi);

#endif /* CTRACE_CPU_MODULE_H */
