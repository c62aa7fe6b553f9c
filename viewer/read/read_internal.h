/* This file is private to the reader (viewer/read): what a set (set.c)
 * shares with the decoders of each format while it is read. */
#ifndef CTRACE_VIEWER_EVENTS_INTERNAL_H
#define CTRACE_VIEWER_EVENTS_INTERNAL_H

#include "read.h"

/* The arrow from whoever unblocked work item `id` to its next run. */
#define TE_UNBLOCK_ID(id) ((1ull << 61) | (uint64_t)(id))

/* The set being read, as the decoders see it. */
typedef struct te_set_ctx te_set_ctx;

/* The process of thread tid: the ctrace trace that declares it, else what
 * the kernel said (K_TASK), else `def`. */
int te__tid_pid(const te_set_ctx *c, int tid, int def);
/* The kernel says tid belongs to pid (kept unless tid's process is known). */
void te__tid_claim(te_set_ctx *c, int tid, int pid);
/* 1 if a ctrace trace of the set declares thread tid. */
int te__tid_known(const te_set_ctx *c, int tid);
/* The name of process pid from a ctrace trace of the set that records it
 * (not a kernel stream), or NULL. */
const char *te__process_of(const te_set_ctx *c, int pid);
/* The tracers' own work (rd_spans_* over every trace of the set). */
int te__spans_cover(const te_set_ctx *c, int tid, uint64_t ns);
void te__spans_exec(te_set_ctx *c, int tid, uint64_t ns);

/* ts joins the span of what src recorded (first_ts .. last_ts). */
static inline void te__span_note(te_source *src, uint64_t ts) {
  if (!src->first_ts || ts < src->first_ts)
    src->first_ts = ts;
  if (ts > src->last_ts)
    src->last_ts = ts;
}

/* The decoders: one ctrace trace's own events (threads), and its kernel
 * stream. @return 0, the handler's error, or CTRACE_ENOMEM. */
int te__native_read(te_set_ctx *c, rd_trace *tr, te_source *src, te_handler fn, void *arg);
int te__kernel_read(te_set_ctx *c, rd_trace *tr, te_source *src, te_handler fn, void *arg);

/* ctf_events.c: the LTTng traces under dir, or a live session's URL (net://...), as
 * typed events. src->ctf is filled at the end (stats, owned by the caller:
 * ctf_stats_free). @return 0, the handler's error, or CTRACE_ENOENT,
 * CTRACE_EFORMAT, CTRACE_ECORRUPT, CTRACE_ENOMEM, -ENOTSUP with a message in
 * err (not naming dir: the caller prefixes it). */
struct ctf_stats;
int te__ctf_read(const char *dir, te_source *src, struct ctf_stats *stats, te_handler fn, void *arg,
                 char *err, size_t errlen);

#endif /* CTRACE_VIEWER_EVENTS_INTERNAL_H */
