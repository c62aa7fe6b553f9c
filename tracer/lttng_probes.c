/* libctrace-lttng.so: the probes of the `ctrace` LTTng-UST tracepoint
 * provider (tracer/lttng_tp.h). Linked with liblttng-ust, and loaded by
 * libctrace (tracer/lttng.c) only where LTTng is in use, so that programs
 * that never meet an LTTng session daemon carry none of it. */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "lttng_tp.h"
