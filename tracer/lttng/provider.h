/* The LTTng-UST provider `ctrace`: its events, from CTRACE_TP_LIST
 * (tracepoints.h), each with pid and tid first. Private to
 * libctrace-lttng.so: LTTng's tracepoint-event.h includes this file again
 * for each thing it generates (LTTNG_UST_TRACEPOINT_INCLUDE), and probes.c
 * includes it with LTTNG_UST_TRACEPOINT_DEFINE and
 * LTTNG_UST_TRACEPOINT_CREATE_PROBES. */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER ctrace

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "provider.h"

#if !defined(CTRACE_LTTNG_PROVIDER_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define CTRACE_LTTNG_PROVIDER_H

#include <lttng/tracepoint.h>

#include "tracepoints.h"

/* Each reading expands the list anew, with what LTTNG_UST_TRACEPOINT_EVENT
 * means in that reading. */
#define CTRACE__TP_EVENT(name, args, fields)                                             \
  LTTNG_UST_TRACEPOINT_EVENT(                                                            \
      ctrace, name, LTTNG_UST_TP_ARGS(int32_t, pid, int32_t, tid CTRACE__TP_PAIRS args), \
      LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(int32_t, pid, pid)                     \
                              lttng_ust_field_integer(int32_t, tid, tid) fields))
CTRACE_TP_LIST(CTRACE__TP_EVENT)

#endif /* CTRACE_LTTNG_PROVIDER_H */

#include <lttng/tracepoint-event.h>
