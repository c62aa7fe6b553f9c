/* The LTTng-UST tracepoint provider `ctrace`: one tracepoint per ctrace
 * event kind, fired next to the native event when an LTTng session has it
 * enabled (tracer/runtime/lttng.c; docs/lttng.md lists the events and fields).
 *
 * Every event carries the process and thread ids (`pid`, `tid`), so a trace
 * recorded without `lttng add-context` still says whose event it is. Names
 * travel as strings (LTTng has no table of our call sites). Durations of
 * the complete spans (syscall, wait) are in nanoseconds and end at the
 * event's own timestamp.
 *
 * Compiled three ways: in tracer/runtime/lttng.c with LTTNG_UST_TRACEPOINT_DEFINE
 * and dynamic linkage (libctrace defines the tracepoints but does not link
 * liblttng-ust), in tracer/lttng/probes.c with LTTNG_UST_TRACEPOINT_CREATE_PROBES
 * (libctrace-lttng.so, loaded only where LTTng runs), and plainly where
 * events fire. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER ctrace

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "tracepoints.h"

#if !defined(CTRACE_LTTNG_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define CTRACE_LTTNG_TP_H
/* clang-format off */ /* (tables laid out by hand) */

#include <stdint.h>

#include <lttng/tracepoint.h>

/* Who: every event's first two fields. */
#define CTRACE__TP_WHO_ARGS int32_t, pid, int32_t, tid
#define CTRACE__TP_WHO_FIELDS                                                  \
  lttng_ust_field_integer(int32_t, pid, pid) lttng_ust_field_integer(int32_t, tid, tid)

/* Regions: site is the call site's id in the native trace (0 for a name
 * built at run time). */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, region_begin,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint32_t, site, const char *,
                                             name),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint32_t, site, site)
                                                       lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, region_end, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS))

/* Tasks and logs. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, task_begin,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, task, uint64_t, parent,
                                             const char *, name),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, task, task)
                                                       lttng_ust_field_integer(uint64_t, parent,
                                                                               parent)
                                                           lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, task_end, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, task),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, task, task)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, task_switch,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, task),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, task, task)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, log,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, task, const char *,
                                             category, const char *, message),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, task, task)
                                                       lttng_ust_field_string(category, category)
                                                           lttng_ust_field_string(message,
                                                                                  message)))

/* Counters, instants, flows, thread names. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, counter,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint32_t, site, const char *,
                                             name, int64_t, value),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint32_t, site, site)
                                                       lttng_ust_field_string(name, name)
                                                           lttng_ust_field_integer(int64_t, value,
                                                                                   value)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, instant,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint32_t, site, const char *,
                                             name),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint32_t, site, site)
                                                       lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, flow_begin, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, flow_end, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, thread_name,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, const char *, name),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_string(name, name)))

/* Memory managers. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, gc_begin, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, const char *, kind),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_string(kind, kind)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, gc_end, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, heap,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, int64_t, live, uint64_t,
                                             allocated, uint8_t, peak),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(int64_t, live, live)
                                                       lttng_ust_field_integer(uint64_t, allocated,
                                                                               allocated)
                                                           lttng_ust_field_integer(uint8_t, peak,
                                                                                   peak)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, heap_set,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, live, uint64_t, goal),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, live, live)
                                                       lttng_ust_field_integer(uint64_t, goal,
                                                                               goal)))

/* User-level scheduling. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, sched_create,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id, const char *, name),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)
                                                       lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, sched_run, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, sched_block,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, const char *, reason),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_string(reason, reason)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, sched_unblock,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, sched_end, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, id),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, id, id)))

/* From the preload wrappers: complete spans that end now. */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, syscall,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, int64_t, nr, uint64_t,
                                             duration_ns, uint64_t, arg, int64_t, ret),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(int64_t, nr, nr)
                                                       lttng_ust_field_integer(uint64_t,
                                                                               duration_ns,
                                                                               duration_ns)
                                                           lttng_ust_field_integer(uint64_t, arg,
                                                                                   arg)
                                                               lttng_ust_field_integer(int64_t,
                                                                                       ret, ret)))

/* kind: 1 mutex, 2 condvar, 3 rwlock read, 4 rwlock write, 5 semaphore,
 * 6 join; waker_tid: the thread that released the object during the wait
 * (0 = unknown; known only while a native trace is written too). */
LTTNG_UST_TRACEPOINT_EVENT(ctrace, wait,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint8_t, kind, uint64_t,
                                             duration_ns, uint64_t, object, int32_t, waker_tid),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint8_t, kind, kind)
                                                       lttng_ust_field_integer(uint64_t,
                                                                               duration_ns,
                                                                               duration_ns)
                                                           lttng_ust_field_integer_hex(
                                                               uint64_t, object, object)
                                                               lttng_ust_field_integer(
                                                                   int32_t, waker_tid,
                                                                   waker_tid)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, thread_create,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, flow),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, flow, flow)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, thread_start,
                           LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS, uint64_t, flow),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS
                                                   lttng_ust_field_integer(uint64_t, flow, flow)))

LTTNG_UST_TRACEPOINT_EVENT(ctrace, thread_exit, LTTNG_UST_TP_ARGS(CTRACE__TP_WHO_ARGS),
                           LTTNG_UST_TP_FIELDS(CTRACE__TP_WHO_FIELDS))

/* clang-format on */
#endif /* CTRACE_LTTNG_TP_H */

#include <lttng/tracepoint-event.h>
