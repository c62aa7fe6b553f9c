/* This file is private to tracer/capture: what the three parts of the
 * kernel events (capture.h's ctrace__perf_*) share.
 *
 *   perf.c        the core: opening one event per CPU and mapping its ring,
 *                 reading the rings into pending records, ordering them by
 *                 time and delivering them (ctrace__perf_open_pid, _drain,
 *                 _close);
 *   perf_sched.c  context switches and the raw_syscalls tracepoints: their
 *                 events and the parsing of their records;
 *   perf_cpu.c    CPU samples: the task-clock sampling event, its records
 *                 (samples, MMAP2, COMM, FORK, EXIT) and their delivery
 *                 through the unwinder (unwind.h);
 *   perf_attach.c a process that runs already (ctrace__perf_attach): an
 *                 event on each of its threads on each CPU, funnelled into
 *                 one ring per CPU, and the records of a thread seen
 *                 through two events kept from one.
 *
 * Names here are pr_* ("perf rings"). One thread (the caller of
 * ctrace__perf_drain) uses a ctrace__perf at a time. */
#ifndef CTRACE_CAPTURE_PERF_INTERNAL_H
#define CTRACE_CAPTURE_PERF_INTERNAL_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "capture.h"
#include "common.h"
#include "unwind.h"

/* A ring that cannot be mapped (mlock limit of unprivileged users) is
 * retried at half the size, down to this. */
#define CTRACE__PERF_RING_MIN_PAGES 8
/* Spare payload buffers kept for reuse. */
#define CTRACE__PERF_POOL 256

enum { RING_SCHED, RING_SYS_ENTER, RING_SYS_EXIT, RING_CPU };

/* Pending records that are not delivered as such: they update the
 * unwinder's view of a process, in time order with its samples
 * (perf_cpu.c). */
enum {
  PK_EXEC = -1, /* pid exec'd: its mappings are gone (delivered as K_EXEC) */
  PK_FORK = -2, /* pid was forked from process nr: it has its mappings */
  PK_GONE = -3, /* pid's main thread exited */
  PK_HELD = -4, /* a mapping of pid that /proc listed at the open: shown
                 * (as K_MAPPING) only if pid is sampled before it execs */
};

/* A record's payload: a sample's registers and stack, or a mapping's path
 * and build id ("path\0hex\0": K_MAPPING, PK_HELD). */
typedef struct blob {
  size_t cap; /* bytes of data */
  uint64_t data[];
} blob;

typedef struct pevent {
  ctrace__kevent e;
  blob *b; /* K_SAMPLE, K_MAPPING, PK_HELD: the payload; else NULL */
} pevent;

typedef struct perf_ring {
  int fd;
  int cpu;
  int kind;                          /* RING_* */
  struct perf_event_mmap_page *meta; /* the mapping starts here */
  size_t map_len;
  const unsigned char *data; /* data area: size bytes, a power of 2 */
  uint64_t size;
  uint64_t tail; /* our copy of meta->data_tail (only we write it) */
} perf_ring;

/* A field of a tracepoint's RAW payload (perf_sched.c). */
typedef struct tp_field {
  uint32_t off, size;
  int is_signed;
} tp_field;

/* A sort key: time, then arrival order (so any order of keys is stable). */
typedef struct pkey {
  uint64_t ns;
  uint64_t idx;
} pkey;

struct ctrace__perf {
  int pid;  /* the traced process (getpid() at open, or open_pid's pid) */
  int tree; /* open_pid: records of pid's descendants are kept too */
  perf_ring *rings;
  size_t nrings;
  tp_field enter_id, enter_args, exit_id, exit_ret; /* RAW payload fields */

  /* Pending records (not delivered yet), in arrival order until sorted;
   * ev2, keys2 and runs are scratch space of the same capacity. */
  pevent *ev, *ev2;
  pkey *keys, *keys2;
  size_t *runs; /* cap + 1 */
  size_t n, cap;
  size_t pending_max;

  uint64_t early;     /* delivered before the watermark: pending was full */
  uint64_t nomem;     /* dropped: buffer growth failed; reported as K_LOST */
  uint64_t malformed; /* records that did not parse (never seen) */
  uint64_t lost_ns;   /* time of the last delivered record (for nomem) */

  /* CPU samples. */
  ctrace__unwinder *uw;
  uint64_t period_ns; /* 1e9 / hz */
  int kchain;         /* samples carry the kernel's call chain (kernel frames) */
  blob *pool[CTRACE__PERF_POOL];
  size_t npool;
  uint64_t pcs[CTRACE__STACK_MAX]; /* the stack of the sample being delivered */

  /* A running process (ctrace__perf_attach, perf_attach.c). */
  int *tfds; /* its threads' events beyond each CPU's first: they write
              * into that CPU's ring (PERF_EVENT_IOC_SET_OUTPUT) */
  size_t ntfds, tfds_cap;
  int ident;        /* the CPU rings' records carry PERF_SAMPLE_IDENTIFIER */
  vh_map owner_of;  /* event id -> the thread it was opened on */
  vh_map kept_from; /* tid -> the owner whose records of it are kept */
  unsigned threads; /* threads attached */
  uint64_t dups;    /* records dropped: their thread is kept from another event */

  _Alignas(8) unsigned char tmp[65536]; /* a record that wraps the ring end */
};

/* ---- Opening (perf.c) ------------------------------------------------------------ */

/* One ctrace__perf_open_pid call: what every event's open needs. */
typedef struct open_ctx {
  ctrace__perf *p;
  int target;         /* perf_event_open's pid: 0 (this process) or a pid */
  int test_fail;      /* CTRACE__TEST_PERF_FAIL */
  int inherit_thread; /* cleared when the kernel rejects it */
  int attach;         /* ctrace__perf_attach: every thread of target */
  size_t page;
  int ncpu;
  char *why;
  size_t whylen;
  int err; /* errno of pr_open_rings' failure */
} open_ctx;

/* Appends a message to `why`, after "; " if it holds one already. */
void pr_why_add(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads a small file into buf (NUL-terminated). @return its length or -errno. */
ssize_t pr_read_small(const char *path, char *buf, size_t cap);
/* The value of a sysctl file as text ("?" if unreadable). */
const char *pr_sysctl_text(const char *path, char *buf, size_t cap);

/* Opens one event per CPU of `kind` and maps its ring (pages data pages,
 * fewer if the mlock limit says so); with c->attach, through
 * pr_attach_rings. On failure closes what this call opened, explains in
 * `why` (prefixed by `what`) and returns -1. */
int pr_open_rings(open_ctx *c, struct perf_event_attr *attr, int kind, unsigned pages,
                  const char *what, const char *event_name);
/* perf_event_open(attr) on thread or process target (0: this one) and
 * cpu. @return the fd, or -1 with errno. */
int pr_event_open(open_ctx *c, struct perf_event_attr *attr, int target, int cpu);
/* Maps fd's ring as the next of c->p->rings. @return 0, or -1 with `why`
 * filled and fd closed. */
int pr_map_ring(open_ctx *c, int fd, int cpu, int kind, unsigned pages, const char *what);
/* Explains in `why` that perf_event_open failed with errno e. */
void pr_open_failed(open_ctx *c, int e, int kind, const char *what, const char *event_name,
                    int target, int cpu);
/* pr_open_rings for every thread of the running process c->target
 * (perf_attach.c). */
int pr_attach_rings(open_ctx *c, struct perf_event_attr *attr, int kind, unsigned pages,
                    const char *what, const char *event_name);
/* Unmaps and closes one ring. */
void pr_ring_unmap(perf_ring *r);

/* The events of each part, for what `want` asks. @return 0, or -1 with
 * c->why filled (nothing of that part left open). */
int pr_sched_open(open_ctx *c);    /* context switches (perf_sched.c) */
int pr_syscalls_open(open_ctx *c); /* raw_syscalls tracepoints (perf_sched.c) */
int pr_cpu_open(open_ctx *c);      /* CPU samples and the unwinder (perf_cpu.c) */

/* ---- Reading (perf.c) ------------------------------------------------------------ */

/* The sample_id trailer of non-sample records: pid, tid, time, cpu, res. */
#define SAMPLE_ID_LEN 24

static inline uint64_t rd64(const unsigned char *b) {
  uint64_t v;
  memcpy(&v, b, 8);
  return v;
}

static inline uint32_t rd32(const unsigned char *b) {
  uint32_t v;
  memcpy(&v, b, 4);
  return v;
}

/* A new pending event, zeroed but for who, when and where, with a payload
 * of `len` bytes when len > 0 (NULL: memory ran out, counted in nomem). */
pevent *pr_new_pevent(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu,
                      size_t len);
/* The same without a payload. */
ctrace__kevent *pr_new_event(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu);
/* A pending K_MAPPING (or PK_HELD) of m (path: pathlen bytes, not
 * terminated). */
ctrace__kevent *pr_new_mapping(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu,
                               const ctrace__uw_mapping *m, size_t pathlen);

/* The records of each kind of ring, into pending events. */
void pr_sched_parse(ctrace__perf *p, const perf_ring *r, const unsigned char *rec, uint32_t size);
void pr_cpu_parse(ctrace__perf *p, const perf_ring *r, const unsigned char *rec, uint32_t size);

/* With p->ident: whether a record of thread tid from the event whose id
 * is id is kept (a thread covered by two events, its own and one it
 * inherited, is kept from the first one seen). Always 1 otherwise. */
int pr_attach_keep(ctrace__perf *p, int tid, uint64_t id);

/* ---- Delivering (perf.c) --------------------------------------------------------- */

typedef struct emit_ctx {
  void (*emit)(void *arg, const ctrace__kevent *ev);
  void *arg;
  int pid;
  uint64_t ns;
  size_t n; /* events emitted */
} emit_ctx;

/* Hands e to the drain's callback (if any) and counts it. */
void pr_emit(emit_ctx *c, const ctrace__kevent *e);
/* Delivers a pending record of the CPU-sample rings (K_MAPPING, K_SAMPLE
 * and the PK_* ones): updates the unwinder, unwinds a sample, emits what
 * follows. @return 0 if pe is not one of those. */
int pr_cpu_deliver(ctrace__perf *p, pevent *pe, emit_ctx *c);

#endif /* CTRACE_CAPTURE_PERF_INTERNAL_H */
