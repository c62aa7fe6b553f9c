/* LTTng-UST inside the runtime: CTRACE__TP(name, args...) fires the
 * tracepoint ctrace:name (tracer/lttng/tracepoints.h) when an LTTng session
 * has it enabled. Costs one test of a bit that is already in a register (the
 * macros just read ctrace__active) while LTTng does not record ctrace
 * events; nothing at all in builds without CTRACE_WITH_LTTNG. When the bit
 * is set, the call goes through libctrace's copy of the table of
 * libctrace-lttng.so (tracer/runtime/lttng.c), whose function tests whether
 * that tracepoint is enabled. Include only from the runtime's own files. */
#ifndef CTRACE_LTTNG_H
#define CTRACE_LTTNG_H

#include "internal.h"

#if defined(CTRACE_WITH_LTTNG)
#include "tracepoints.h"

/* The process id for the events (set at load and after fork). */
extern CTRACE__HIDDEN int ctrace__lttng_pid;
/* libctrace-lttng.so's functions, copied when it is loaded; each tp_* is
 * NULL until then (read and written atomically: the bit that lets a thread
 * in is read relaxed, so it does not order the table before it). */
extern CTRACE__HIDDEN ctrace_lttng_probes ctrace__lttng_tp;

/* (args: the call's parenthesized arguments) */
#define CTRACE__TP_CALL(name, args)                                       \
  do {                                                                    \
    if (CTRACE__UNLIKELY(CTRACE__LTTNG_ON())) {                           \
      __typeof__(ctrace__lttng_tp.tp_##name) tp_fn_ =                     \
          __atomic_load_n(&ctrace__lttng_tp.tp_##name, __ATOMIC_RELAXED); \
      if (tp_fn_)                                                         \
        tp_fn_ args;                                                      \
    }                                                                     \
  } while (0)
#define CTRACE__TP(name, ...) CTRACE__TP_CALL(name, (ctrace__lttng_pid, ctrace__tid(), __VA_ARGS__))
#define CTRACE__TP0(name) CTRACE__TP_CALL(name, (ctrace__lttng_pid, ctrace__tid()))
#else
#define CTRACE__TP(name, ...) ((void)0)
#define CTRACE__TP0(name) ((void)0)
#endif

#endif /* CTRACE_LTTNG_H */
