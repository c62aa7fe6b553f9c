/* This file is private to the viewer. Blocking profiles, like `go tool
 * trace`'s: where threads waited on synchronization (lock, condvar,
 * rwlock, semaphore, join), in system calls, in the I/O ones among them, or
 * for a CPU (runnable -> running), aggregated by call site and written as
 * a pprof profile (profile.proto, gzipped) for `ctrace pprof` and the
 * viewer's /api/pprof.
 *
 * A trace holds no return addresses: the call site of a blocking event is
 * its stack of enclosing regions on its thread. A sample's stack, leaf
 * first: the event ("mutex wait", the syscall's name, or "runnable"), each
 * enclosing region innermost to outermost (its call site's file and line
 * when the trace has them), then "thread NAME". Each sample counts the
 * events with that stack (and, for waits, that object) and their time
 * within the window (ns), like Go's block profile [contentions, delay]. */
#ifndef CTRACE_VIEWER_PROFILE_H
#define CTRACE_VIEWER_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "index.h"
#include "stats.h"

typedef enum pf_type {
  PF_SYNC,    /* slices of cat "wait" */
  PF_SYSCALL, /* slices of cat "syscall" */
  PF_SCHED,   /* VX_ST_RUNNABLE intervals of the state bands */
  PF_IO,      /* system calls that wait on file descriptors (read, poll, fsync, ...) */
  PF_TYPE_COUNT_
} pf_type;

/* "sync", "syscall", "sched", "io". */
const char *pf_type_name(pf_type t);
/* The type of that name. @return 0, or -1 if s names none. */
int pf_type_parse(const char *s, pf_type *t);
/* 1 if a system call of this name waits on a file descriptor (PF_IO). */
int pf_is_io_syscall(const char *name);

/* One frame of a stack; strings are indexes into pf_profile.strings. */
typedef struct pf_frame {
  uint32_t name;
  uint32_t file; /* 0: unknown */
  uint32_t line; /* 0: unknown */
} pf_frame;

typedef struct pf_sample {
  size_t first, n; /* its stack: pf_profile.stack[first .. first + n), leaf first */
  uint64_t object; /* PF_SYNC: the object waited on; 0 when unknown (and other types) */
  uint32_t object_str; /* its "0x..." in strings, or 0 */
  uint64_t count;  /* events */
  uint64_t delay;  /* their time within the window, ns */
} pf_sample;

/* Fixed entries of pf_profile.strings (the pprof string table). */
enum {
  PF_STR_EMPTY = 0, /* "" */
  PF_STR_CONTENTIONS,
  PF_STR_COUNT,
  PF_STR_DELAY,
  PF_STR_NANOSECONDS,
  PF_STR_OBJECT,
  PF_STR_MAPPING, /* the mapping's file name: "ctrace regions" */
  PF_STR_COMMENT, /* what the profile holds */
  PF_STR_FIXED_
};

typedef struct pf_profile {
  pf_type type;
  uint64_t t0, t1;     /* the window (index times: CLOCK_MONOTONIC ns, JSON: us x 1000) */
  int64_t time_nanos;  /* wall clock (ns since 1970) at t0, 0 when unknown */
  char **strings;      /* strings[0] is "" (owned) */
  size_t nstrings;
  pf_frame *frames;    /* distinct frames */
  size_t nframes;
  uint32_t *stack;     /* frame indexes of every sample's stack */
  size_t nstack;
  pf_sample *samples;  /* one per distinct (stack, object), by delay, largest first */
  size_t nsamples;
  uint64_t count, delay; /* over all samples */
  size_t cap_strings, cap_frames, cap_stack, cap_samples; /* internal */
} pf_profile;

/* Computes the profile of this type over the threads and window of o (as
 * `ctrace stats` takes them) into *out (pf_free it). No event of the type
 * is not an error (nsamples is 0).
 * @return 0, or -1 with a message in err: no thread of that name, an empty
 * window, PF_SCHED without scheduler data in the trace; CTRACE_ENOMEM when
 * out of memory. */
int pf_compute(const vx_index *x, pf_type type, const st_options *o, pf_profile *out,
               char *err, size_t errlen);
/* Frees what pf_compute allocated; accepts a zeroed profile. */
void pf_free(pf_profile *p);

/* The profile as a gzipped pprof Profile message into *gz (malloc'd, the
 * caller frees it), *len bytes. @return 0, or -1 with a message in err. */
int pf_encode_pprof(const pf_profile *p, unsigned char **gz, size_t *len, char *err,
                    size_t errlen);

/* The first `top` samples (0: all) as a JSON array: [{"stack": [root
 * first: "thread T", "outer", "inner", "mutex wait"], "count": N,
 * "total_ns": N, "object": "0x..." (waits on a known object)}], or NULL
 * when out of memory. */
struct cJSON;
struct cJSON *pf_json(const pf_profile *p, size_t top);

#endif /* CTRACE_VIEWER_PROFILE_H */
