/* libctrace-lttng.so: the probes of the `ctrace` LTTng-UST tracepoint
 * provider (tracepoints.h). Linked with liblttng-ust, and loaded by
 * libctrace (runtime/lttng.c) only where LTTng is in use, so that programs
 * that never meet an LTTng session daemon carry none of it. */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#include "tracepoints.h"
