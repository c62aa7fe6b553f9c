/* A tiny writer of valid ctrace files with exact timestamps, for tests that
 * need what only a real trace carries (docs/format.md): thread-state bands
 * from a FILE.kernel companion, work-item runs, log-to-task links,
 * per-thread heap allocations. The clock is CLOCK_MONOTONIC (1 tick = 1 ns,
 * 1e9 ticks/s), so every event's tick is its index time.
 *
 * Usage: synth_new, the definitions (any order), the events (each
 * thread's in time order; threads may interleave), synth_write, synth_free.
 * Records: file header, one DEFS (process, capture, sites, strings,
 * threads), the BATCH records (raw codec) in the order they were opened,
 * a CLOCK, END. Errors (an event out of order, a wrong argument count)
 * abort the test. */
#ifndef CTRACE_TESTS_SYNTH_TRACE_H
#define CTRACE_TESTS_SYNTH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/format.h"

typedef struct synth synth;

/* A trace of process pid, its first sync point at tick `start` (no event
 * may come before it). kernel: a FILE.kernel (`ctrace run`'s companion):
 * only K_* events, on serial 0, in batches flagged CTRACE_FMT_RF_KERNEL. */
synth *synth_new(int pid, const char *process, uint64_t start, int kernel);
void synth_free(synth *s);

void synth_thread(synth *s, uint32_t serial, int tid, const char *name);
void synth_site(synth *s, uint32_t id, unsigned kind, const char *name, const char *file,
                unsigned line, const char *func);
void synth_string(synth *s, uint32_t id, const char *text);
/* DEF_CAPTURE (CTRACE_FMT_CAP_* modes). */
void synth_capture(synth *s, unsigned syscalls, unsigned sched, unsigned heap, unsigned locks,
                   const char *why);
/* Events dropped in the session (END's total; its per-thread list stays
 * empty). */
void synth_end_dropped(synth *s, uint64_t total);
/* Heap profiles: DEF_HEAP_SAMPLING, a DEF_MAPPING of this process (no
 * build id), a DEF_STACK (ids 1, 2, ... in order). */
void synth_heap_sampling(synth *s, uint64_t rate, const char *method);
void synth_mapping(synth *s, uint64_t start, uint64_t end, uint64_t offset, const char *path);
void synth_stack(synth *s, uint32_t id, const uint64_t *pcs, unsigned n);

/* One event of thread `serial` (0 and the K_* events in a kernel trace) at
 * tick ts: nargs varints (as many as the event's shape has) and, for LOG
 * and THREAD_NAME, str. REGION_BEGIN with a site below 64 and REGION_END
 * with a delta below 128 take the compact forms, as the tracer writes
 * them. */
void synth_event(synth *s, uint32_t serial, uint64_t ts, unsigned type, const uint64_t *args,
                 size_t nargs, const char *str);
/* Ends every thread's current batch: later events go into new BATCH
 * records (whose base tick is the thread's previous event). */
void synth_cut(synth *s);
/* Events written so far. */
uint64_t synth_events(const synth *s);
/* Writes the file (aborts the test on error). */
void synth_write(synth *s, const char *path);

/* SYNTH_EV(s, serial, ts, CTRACE_FMT_EV_X, arg, ...): an event with
 * varint arguments; SYNTH_EV0 one without. */
#define SYNTH_EV(s, serial, ts, type, ...)                                  \
  synth_event((s), (serial), (ts), (type), (const uint64_t[]){__VA_ARGS__}, \
              sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t), NULL)
#define SYNTH_EV0(s, serial, ts, type) synth_event((s), (serial), (ts), (type), NULL, 0, NULL)
/* LOG(task, category string id, flags; message). */
#define SYNTH_LOG(s, serial, ts, task, cat, msg)                                               \
  synth_event((s), (serial), (ts), CTRACE_FMT_EV_LOG, (const uint64_t[]){(task), (cat), 0}, 3, \
              (msg))

#endif
