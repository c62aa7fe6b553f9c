/* The trace reader: decodes a ctrace file (docs/format.md) into per-thread
 * event streams and one time-ordered stream (k-way merge).
 *
 * rd_open() makes one pass over the file: it checks every record's framing
 * and CRC, loads the definitions and clock sync points, and indexes the
 * event batches without decoding them. Streams then decode one batch at a
 * time, so memory stays flat however long the trace. A file that is cut
 * short or corrupt is read up to its last good record and rd_problem() says
 * where and why; rd_open() fails only when nothing could be read.
 *
 * Not thread-safe: one rd_trace and its streams belong to one thread.
 */
#ifndef CTRACE_VIEWER_READER_H
#define CTRACE_VIEWER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"

typedef struct rd_trace rd_trace;
typedef struct rd_stream rd_stream;
typedef struct rd_merge rd_merge;

typedef struct rd_site {
  uint32_t id;
  uint32_t kind; /* CTRACE_FMT_SITE_* */
  uint32_t line;
  int defined;   /* 0: referenced but never defined (placeholder name) */
  uint32_t index; /* dense: 0, 1, 2... in order of first sight (for caches) */
  const char *name;
  const char *file;
  const char *func;
} rd_site;

typedef struct rd_thread {
  uint32_t serial;   /* unique in the process */
  int tid;           /* kernel thread id (0 if never defined) */
  const char *name;  /* name when it first recorded ("" if none) */
  int defined;       /* DEF_THREAD seen */
  int ended;         /* DEF_THREAD_END seen: the thread exited */
  int kernel;        /* the kernel stream (serial 0): K_* events, by tid */
  uint64_t dropped;  /* dropped events per THREAD_END / END (0 if unknown) */
  size_t nbatches;
  uint64_t raw_bytes; /* decoded size of its batches */
} rd_thread;

/* DEF_CAPTURE: what was recorded besides the program's own events. */
typedef struct rd_capture {
  int present;  /* the trace says (ctrace run, or CTRACE_* settings) */
  int syscalls; /* CTRACE_FMT_CAP_* */
  int sched;
  int heap, locks;
  const char *why; /* what could not be captured ("" or NULL) */
} rd_capture;

typedef struct rd_span {
  int tid;
  int whole; /* the thread is the tracer's (its writer) */
  uint64_t from, to;
} rd_span;

typedef struct rd_event {
  uint64_t ts;     /* CLOCK_MONOTONIC nanoseconds */
  uint64_t tick;   /* the raw timestamp, in clock ticks */
  uint32_t thread; /* index for rd_thread_get() */
  uint8_t type;    /* CTRACE_FMT_EV_* */
  uint64_t arg[CTRACE_FMT_EVENT_MAX_VARINTS];
  const char *str; /* the string argument; valid until the next call on the stream */
  uint32_t str_len;
} rd_event;

#define RD_OPEN_NO_CRC 0x1 /* skip CRC checks (fuzzing only) */

/* Opens a trace file. On failure returns a negative CTRACE_E* / -errno and
 * writes a message naming what and where into err. */
int rd_open(const char *path, unsigned flags, rd_trace **out, char *err, size_t errlen);
/* Same over a buffer the caller keeps alive until rd_close(). */
int rd_open_mem(const void *data, size_t len, unsigned flags, rd_trace **out, char *err,
                size_t errlen);
void rd_close(rd_trace *tr); /* accepts NULL */

/* A message if the file was not read to a clean end: truncated, corrupt, no
 * END record, or a stream that failed to decode (see rd_stream_next). */
const char *rd_problem(const rd_trace *tr);

/* What kind of problem rd_problem() reports (the first one noted). */
typedef enum rd_problem_kind {
  RD_PROBLEM_NONE = 0,  /* the file was read to a clean end */
  RD_PROBLEM_NO_END,    /* no END record: the writer did not finish (still writing, or killed) */
  RD_PROBLEM_TRUNCATED, /* the last record is cut short at the end of the file */
  RD_PROBLEM_CORRUPT,   /* a record failed its checks (sync word, sizes, checksum, content) */
  RD_PROBLEM_DECODE,    /* a thread's batch failed to decode while streaming */
  RD_PROBLEM_IO,        /* a read error */
  RD_PROBLEM_NOMEM      /* out of memory */
} rd_problem_kind;

/* The kind of the problem rd_problem() reports; RD_PROBLEM_NONE if none.
 * Like rd_problem(), it may change from NONE once streams are read. */
rd_problem_kind rd_problem_kind_of(const rd_trace *tr);
/* Byte offset up to which the file was valid. */
uint64_t rd_valid_bytes(const rd_trace *tr);
uint64_t rd_file_size(const rd_trace *tr);
int rd_complete(const rd_trace *tr); /* END record present and nothing lost */

int rd_pid(const rd_trace *tr);
const char *rd_process_name(const rd_trace *tr);
const char *rd_command_line(const rd_trace *tr);
int rd_clock_kind(const rd_trace *tr);
unsigned rd_format_minor(const rd_trace *tr);
/* The file header's CTRACE_FMT_FF_* flags (CTRACE_FMT_FF_FLIGHT: a flight
 * recorder's dump, the last window of a longer session). */
uint32_t rd_file_flags(const rd_trace *tr);
uint64_t rd_start_ns(const rd_trace *tr);      /* CLOCK_MONOTONIC at start */
uint64_t rd_start_real_ns(const rd_trace *tr); /* CLOCK_REALTIME at start */
size_t rd_clock_points(const rd_trace *tr);
/* Dropped events the writer reported at stop (END record), or the sum of
 * exited threads' counts when there is no END record. */
uint64_t rd_dropped_reported(const rd_trace *tr);

const rd_capture *rd_capture_get(const rd_trace *tr);
/* 1 if a system call of tid at ns was the tracer's own work (its start,
 * its writer thread, its stop), not the program's. */
/* 2 if the thread is the tracer's (whole), 1 if ns is in one of its
 * spans, else 0. */
int rd_spans_cover(const rd_span *spans, size_t n, int tid, uint64_t ns);
/* Spans of several traces: a stop span "to the end" ends where the next
 * image on that thread (after an exec) starts its own. */
void rd_spans_clip(rd_span *spans, size_t n);
/* A successful execve of tid that started at ns ends its spans there (what
 * follows is the new image's). */
void rd_spans_exec(rd_span *spans, size_t n, int tid, uint64_t ns);
/* All of them. */
size_t rd_tracer_spans(const rd_trace *tr, const rd_span **spans);

size_t rd_thread_count(const rd_trace *tr);
const rd_thread *rd_thread_get(const rd_trace *tr, size_t i);
size_t rd_batch_count(const rd_trace *tr);

/* A site by id; undefined ids get a placeholder ("site#12"), never NULL.
 * The pointer is valid until the next rd_site_get() call. Memory grows with
 * the number of distinct ids, never with their values. */
const rd_site *rd_site_get(rd_trace *tr, uint64_t id);
/* An interned string by id; unknown ids give "string#12". 0 gives "". The
 * pointer is valid until the next rd_string*() call. */
const char *rd_string(rd_trace *tr, uint64_t id, size_t *len);
/* Dense index of a string id (for caches), UINT32_MAX for 0 or invalid. */
uint32_t rd_string_index(rd_trace *tr, uint64_t id);

/* CLOCK_MONOTONIC ns of a tick (piecewise linear over the sync points). */
uint64_t rd_tick_to_ns(const rd_trace *tr, uint64_t tick, size_t *hint);

/* Events of thread i in recording order. */
rd_stream *rd_stream_open(rd_trace *tr, size_t thread);
/* @return 1 and fills ev, 0 at the end, or a negative error (the stream
 * then stops; rd_problem() describes it). */
int rd_stream_next(rd_stream *s, rd_event *ev);
void rd_stream_close(rd_stream *s);

/* Every thread's events in time order (ties: by thread, then recording
 * order). Same return values as rd_stream_next; an error in one thread's
 * stream ends that stream only (and is reported through rd_problem). */
rd_merge *rd_merge_open(rd_trace *tr);
int rd_merge_next(rd_merge *m, rd_event *ev);
void rd_merge_close(rd_merge *m);

#endif /* CTRACE_VIEWER_READER_H */
