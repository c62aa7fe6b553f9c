/* The tracepoints of the LTTng-UST provider `ctrace`, listed once: one per
 * ctrace event kind, fired next to the native event when an LTTng session
 * has it enabled (docs/lttng.md lists the events and fields).
 *
 * Every event carries the process and thread ids (`pid`, `tid`), so a trace
 * recorded without `lttng add-context` still says whose event it is. Names
 * travel as strings (LTTng has no table of our call sites). Durations of
 * the complete spans (syscall, wait) are in nanoseconds and end at the
 * event's own timestamp.
 *
 * Nothing here includes LTTng: libctrace includes this header, and neither
 * defines nor registers a tracepoint. libctrace-lttng.so (probes.c, linked
 * with liblttng-ust and loaded only where LTTng runs) defines the events
 * from CTRACE_TP_LIST (provider.h), one function per event that fires it,
 * and exports them in a ctrace_lttng_probes table; libctrace copies the
 * table when it loads the library and calls through it
 * (tracer/runtime/lttng.h). */
#ifndef CTRACE_LTTNG_TRACEPOINTS_H
#define CTRACE_LTTNG_TRACEPOINTS_H

#include <stdint.h>

/* X(name, (type, arg, ...), fields) for each tracepoint: its arguments after
 * pid and tid, as LTTng's "type, name" pairs (at most 4), and its fields
 * after pid and tid, in LTTng-UST's field macros (only provider.h expands
 * them).
 *
 * Regions: site is the call site's id in the native trace (0 for a name
 * built at run time). wait's kind: 1 mutex, 2 condvar, 3 rwlock read,
 * 4 rwlock write, 5 semaphore, 6 join; waker_tid: the thread that released
 * the object during the wait (0 = unknown; known only while a native trace
 * is written too). syscall and wait come from the preload wrappers: complete
 * spans that end now. */
/* clang-format off */ /* (a table laid out by hand) */
#define CTRACE_TP_LIST(X)                                                                        \
  X(region_begin, (uint32_t, site, const char *, name),                                          \
    lttng_ust_field_integer(uint32_t, site, site) lttng_ust_field_string(name, name))            \
  X(region_end, (), )                                                                            \
  X(task_begin, (uint64_t, task, uint64_t, parent, const char *, name),                          \
    lttng_ust_field_integer(uint64_t, task, task)                                                \
    lttng_ust_field_integer(uint64_t, parent, parent) lttng_ust_field_string(name, name))        \
  X(task_end, (uint64_t, task), lttng_ust_field_integer(uint64_t, task, task))                   \
  X(task_switch, (uint64_t, task), lttng_ust_field_integer(uint64_t, task, task))                \
  X(log, (uint64_t, task, const char *, category, const char *, message),                        \
    lttng_ust_field_integer(uint64_t, task, task) lttng_ust_field_string(category, category)     \
    lttng_ust_field_string(message, message))                                                    \
  X(counter, (uint32_t, site, const char *, name, int64_t, value),                               \
    lttng_ust_field_integer(uint32_t, site, site) lttng_ust_field_string(name, name)             \
    lttng_ust_field_integer(int64_t, value, value))                                              \
  X(instant, (uint32_t, site, const char *, name),                                               \
    lttng_ust_field_integer(uint32_t, site, site) lttng_ust_field_string(name, name))            \
  X(flow_begin, (uint64_t, id), lttng_ust_field_integer(uint64_t, id, id))                       \
  X(flow_end, (uint64_t, id), lttng_ust_field_integer(uint64_t, id, id))                         \
  X(thread_name, (const char *, name), lttng_ust_field_string(name, name))                       \
  X(gc_begin, (const char *, kind), lttng_ust_field_string(kind, kind))                          \
  X(gc_end, (), )                                                                                \
  X(heap, (int64_t, live, uint64_t, allocated, uint8_t, peak),                                   \
    lttng_ust_field_integer(int64_t, live, live)                                                 \
    lttng_ust_field_integer(uint64_t, allocated, allocated)                                      \
    lttng_ust_field_integer(uint8_t, peak, peak))                                                \
  X(heap_set, (uint64_t, live, uint64_t, goal),                                                  \
    lttng_ust_field_integer(uint64_t, live, live) lttng_ust_field_integer(uint64_t, goal, goal)) \
  X(sched_create, (uint64_t, id, const char *, name),                                            \
    lttng_ust_field_integer(uint64_t, id, id) lttng_ust_field_string(name, name))                \
  X(sched_run, (uint64_t, id), lttng_ust_field_integer(uint64_t, id, id))                        \
  X(sched_block, (const char *, reason), lttng_ust_field_string(reason, reason))                 \
  X(sched_unblock, (uint64_t, id), lttng_ust_field_integer(uint64_t, id, id))                    \
  X(sched_end, (uint64_t, id), lttng_ust_field_integer(uint64_t, id, id))                        \
  X(syscall, (int64_t, nr, uint64_t, duration_ns, uint64_t, arg, int64_t, ret),                  \
    lttng_ust_field_integer(int64_t, nr, nr)                                                     \
    lttng_ust_field_integer(uint64_t, duration_ns, duration_ns)                                  \
    lttng_ust_field_integer(uint64_t, arg, arg) lttng_ust_field_integer(int64_t, ret, ret))      \
  X(wait, (uint8_t, kind, uint64_t, duration_ns, uint64_t, object, int32_t, waker_tid),          \
    lttng_ust_field_integer(uint8_t, kind, kind)                                                 \
    lttng_ust_field_integer(uint64_t, duration_ns, duration_ns)                                  \
    lttng_ust_field_integer_hex(uint64_t, object, object)                                        \
    lttng_ust_field_integer(int32_t, waker_tid, waker_tid))                                      \
  X(thread_create, (uint64_t, flow), lttng_ust_field_integer(uint64_t, flow, flow))              \
  X(thread_start, (uint64_t, flow), lttng_ust_field_integer(uint64_t, flow, flow))               \
  X(thread_exit, (), )

/* A list of "type, name" pairs, each form after a comma (pid and tid come
 * first) or nothing for no pairs: CTRACE__TP_PARAMS(uint32_t, site) is
 * `, uint32_t site`, CTRACE__TP_ARGS `, site`, CTRACE__TP_PAIRS
 * `, uint32_t, site`. */
#define CTRACE__TP_PARAMS(...) CTRACE__TP_EACH(CTRACE__TP_PARAMS_, __VA_ARGS__)
#define CTRACE__TP_ARGS(...) CTRACE__TP_EACH(CTRACE__TP_ARGS_, __VA_ARGS__)
#define CTRACE__TP_PAIRS(...) CTRACE__TP_EACH(CTRACE__TP_PAIRS_, __VA_ARGS__)

#define CTRACE__TP_EACH(form, ...) CTRACE__TP_CAT(form, CTRACE__TP_NPAIRS(__VA_ARGS__))(__VA_ARGS__)
#define CTRACE__TP_CAT(a, b) CTRACE__TP_CAT_(a, b)
#define CTRACE__TP_CAT_(a, b) a##b
/* (no arguments is one empty argument: 0) */
#define CTRACE__TP_NPAIRS(...) CTRACE__TP_NPAIRS_(__VA_ARGS__, 4, 4, 3, 3, 2, 2, 1, 0, 0)
#define CTRACE__TP_NPAIRS_(a1, a2, a3, a4, a5, a6, a7, a8, n, ...) n

#define CTRACE__TP_PARAMS_0()
#define CTRACE__TP_PARAMS_1(t1, a1) , t1 a1
#define CTRACE__TP_PARAMS_2(t1, a1, t2, a2) , t1 a1, t2 a2
#define CTRACE__TP_PARAMS_3(t1, a1, t2, a2, t3, a3) , t1 a1, t2 a2, t3 a3
#define CTRACE__TP_PARAMS_4(t1, a1, t2, a2, t3, a3, t4, a4) , t1 a1, t2 a2, t3 a3, t4 a4
#define CTRACE__TP_ARGS_0()
#define CTRACE__TP_ARGS_1(t1, a1) , a1
#define CTRACE__TP_ARGS_2(t1, a1, t2, a2) , a1, a2
#define CTRACE__TP_ARGS_3(t1, a1, t2, a2, t3, a3) , a1, a2, a3
#define CTRACE__TP_ARGS_4(t1, a1, t2, a2, t3, a3, t4, a4) , a1, a2, a3, a4
#define CTRACE__TP_PAIRS_0()
#define CTRACE__TP_PAIRS_1(...) , __VA_ARGS__
#define CTRACE__TP_PAIRS_2(...) , __VA_ARGS__
#define CTRACE__TP_PAIRS_3(...) , __VA_ARGS__
#define CTRACE__TP_PAIRS_4(...) , __VA_ARGS__
/* clang-format on */

/* What libctrace-lttng.so exports as CTRACE__LTTNG_PROBES: tp_NAME
 * fires ctrace:NAME if a session has it enabled (else returns at once);
 * any_enabled() is nonzero while a session has any ctrace:* enabled. */
#define CTRACE__TP_MEMBER(name, args, fields) \
  void (*tp_##name)(int32_t pid, int32_t tid CTRACE__TP_PARAMS args);
typedef struct ctrace_lttng_probes {
  uint32_t struct_size; /* sizeof: libctrace refuses a table of another build */
  int (*any_enabled)(void);
  CTRACE_TP_LIST(CTRACE__TP_MEMBER)
} ctrace_lttng_probes;
#undef CTRACE__TP_MEMBER

/* The table's symbol, and its name for dlsym. */
#define CTRACE__LTTNG_PROBES ctrace__lttng_probes
#define CTRACE__LTTNG_PROBES_NAME CTRACE__TP_STR(CTRACE__LTTNG_PROBES)
#define CTRACE__TP_STR(x) CTRACE__TP_STR_(x)
#define CTRACE__TP_STR_(x) #x

#endif /* CTRACE_LTTNG_TRACEPOINTS_H */
