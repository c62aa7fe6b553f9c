/* LTTng-UST inside the runtime: CTRACE__TP(name, args...) fires the
 * tracepoint ctrace:name (tracer/lttng/tracepoints.h) when an LTTng session has it
 * enabled. Costs one test of a bit that is already in a register (the
 * macros just read ctrace__active) while LTTng does not record ctrace
 * events; nothing at all in builds without CTRACE_WITH_LTTNG. Include only
 * from the runtime's own files (the tracepoint structures are hidden). */
#ifndef CTRACE_LTTNG_H
#define CTRACE_LTTNG_H

#include "internal.h"

#if defined(CTRACE_WITH_LTTNG)
#include "tracepoints.h"

/* The process id for the events (set at load and after fork). */
extern CTRACE__HIDDEN int ctrace__lttng_pid;

#define CTRACE__TP(name, ...)                                                               \
  do {                                                                                      \
    if (CTRACE__UNLIKELY(CTRACE__LTTNG_ON()) && lttng_ust_tracepoint_enabled(ctrace, name)) \
      lttng_ust_do_tracepoint(ctrace, name, ctrace__lttng_pid, ctrace__tid(), __VA_ARGS__); \
  } while (0)
#define CTRACE__TP0(name)                                                                   \
  do {                                                                                      \
    if (CTRACE__UNLIKELY(CTRACE__LTTNG_ON()) && lttng_ust_tracepoint_enabled(ctrace, name)) \
      lttng_ust_do_tracepoint(ctrace, name, ctrace__lttng_pid, ctrace__tid());              \
  } while (0)
#else
#define CTRACE__TP(name, ...) ((void)0)
#define CTRACE__TP0(name) ((void)0)
#endif

#endif /* CTRACE_LTTNG_H */
