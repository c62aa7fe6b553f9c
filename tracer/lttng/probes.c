/* libctrace-lttng.so: the LTTng-UST provider `ctrace` (provider.h), its
 * tracepoints and their probes, and the table of functions through which
 * libctrace fires them (ctrace_lttng_probes, tracepoints.h). Linked with
 * liblttng-ust, and loaded by libctrace (tracer/runtime/lttng.c) only where
 * LTTng is in use, so that programs that never meet an LTTng session daemon
 * load nothing of LTTng's: not even the tracepoints' registration, which
 * dlopens liblttng-ust-tracepoint wherever a tracepoint is defined. */
#define LTTNG_UST_TRACEPOINT_DEFINE
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
/* Defined and fired here alone: nothing of the provider is exported. */
#define LTTNG_UST_TRACEPOINT_HIDDEN_DEFINITION
#define LTTNG_UST_TRACEPOINT_PROVIDER_HIDDEN_DEFINITION
#include "provider.h"

#include "tracepoints.h"

/* tp_NAME(pid, tid, args...): fires ctrace:NAME if it is enabled. */
#define CTRACE__TP_FUNCTION(name, args, fields)                            \
  static void tp_##name(int32_t pid, int32_t tid CTRACE__TP_PARAMS args) { \
    lttng_ust_tracepoint(ctrace, name, pid, tid CTRACE__TP_ARGS args);     \
  }
CTRACE_TP_LIST(CTRACE__TP_FUNCTION)

/* Is any ctrace:* tracepoint enabled? (libctrace's watcher asks every 100 ms) */
#define CTRACE__TP_ENABLED(name, args, fields) || lttng_ust_tracepoint_enabled(ctrace, name)
static int any_enabled(void) { return 0 CTRACE_TP_LIST(CTRACE__TP_ENABLED); }

#define CTRACE__TP_ENTRY(name, args, fields) .tp_##name = tp_##name,
__attribute__((visibility("default")))
const ctrace_lttng_probes CTRACE__LTTNG_PROBES = {.struct_size = sizeof(ctrace_lttng_probes),
                                                  .any_enabled = any_enabled,
                                                  CTRACE_TP_LIST(CTRACE__TP_ENTRY)};
