/* Kernel events of the traced process through perf_event_open(2): context
 * switches, the raw_syscalls tracepoints and CPU samples with their call
 * stacks (see capture.h). This file is the core the three share: opening
 * and mapping the rings, reading them, ordering and delivering the records.
 * What each kind of event is and how its records read: perf_sched.c
 * (context switches, system calls) and perf_cpu.c (CPU samples);
 * perf_internal.h joins them.
 *
 * Layout: one event per (kind, CPU), each with its own mmapped ring. All
 * are pid = 0 (this process), cpu = c, inherit = 1 so threads created
 * later are covered. inherit_thread = 1 (Linux >= 5.13) keeps the events out
 * of fork()ed children; on older kernels children inherit them too and
 * their records, which land in our rings, are dropped by pid in the drain.
 *
 * ctrace__perf_open_pid (the `ctrace run` launcher) attaches the same
 * events to another process instead, typically a child that has not
 * exec'd yet, and follows its whole tree: its threads and the processes it
 * forks inherit the events (no inherit_thread), and the drain keeps the
 * records of all of them.
 *
 * The drain (writer thread only) copies every new record of every ring
 * into `ev`, sorts the pending records by time (stable) with a natural
 * merge sort of (ns, index) keys, delivers those older than the watermark
 * and keeps the rest, in order, for the next call. Pending records are
 * capped (CTRACE__PERF_PENDING_MAX): beyond it the oldest are delivered
 * early and counted (`early`). Buffers only grow (doubling). Samples and
 * mappings carry a payload (the stack copy, the path) in a buffer of a
 * small free list, reused: nothing is allocated per record once it holds
 * buffers large enough.
 *
 * Test hooks (environment, read when opening):
 *   CTRACE__TEST_PERF_FAIL=1         every perf_event_open "fails" with EACCES;
 *   CTRACE__TEST_PERF_INHERIT_ALL=1  no inherit_thread: children inherit the
 *                                    events (as on kernels < 5.13), so the
 *                                    pid filter of the drain is exercised;
 *   CTRACE__TEST_PERF_PENDING_MAX=N  the pending cap, in records;
 *   (perf_cpu.c reads CTRACE__TEST_PERF_STACK_BYTES).
 */
#define _GNU_SOURCE
#include "perf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Records kept between drains at most (72 bytes each, twice, plus keys). */
#ifndef CTRACE__PERF_PENDING_MAX
#define CTRACE__PERF_PENDING_MAX (1u << 17)
#endif

/* ---- Messages ---------------------------------------------------------------- */

void pr_why_add(char *why, size_t whylen, const char *fmt, ...) {
  if (!why || whylen == 0)
    return;
  size_t len = strnlen(why, whylen);
  if (len >= whylen - 1)
    return;
  if (len > 0) {
    snprintf(why + len, whylen - len, "; ");
    len = strnlen(why, whylen);
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why + len, whylen - len, fmt, ap);
  va_end(ap);
}

ssize_t pr_read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t len = 0;
  while (len < cap - 1) {
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0)
      break;
    len += (size_t)r;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

const char *pr_sysctl_text(const char *path, char *buf, size_t cap) {
  ssize_t n = pr_read_small(path, buf, cap);
  if (n <= 0)
    return "?";
  while (n > 0 && isspace((unsigned char)buf[n - 1]))
    buf[--n] = '\0';
  return buf;
}

static const char *paranoid_text(char *buf, size_t cap) {
  return pr_sysctl_text("/proc/sys/kernel/perf_event_paranoid", buf, cap);
}

/* ---- Opening ----------------------------------------------------------------- */

int pr_event_open(open_ctx *c, struct perf_event_attr *attr, int target, int cpu) {
  if (c->test_fail) {
    errno = EACCES;
    return -1;
  }
  for (;;) {
    attr->inherit_thread = (unsigned)c->inherit_thread;
    long fd = syscall(SYS_perf_event_open, attr, target, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd >= 0)
      return (int)fd;
    /* Kernels before 5.13 do not know inherit_thread (a reserved bit). */
    if ((errno == EINVAL || errno == E2BIG) && c->inherit_thread) {
      c->inherit_thread = 0;
      continue;
    }
    return -1;
  }
}

void pr_ring_unmap(perf_ring *r) {
  if (r->meta)
    munmap(r->meta, r->map_len);
  if (r->fd >= 0)
    close(r->fd);
  r->meta = NULL;
  r->fd = -1;
}

void pr_open_failed(open_ctx *c, int e, int kind, const char *what, const char *event_name,
                    int target, int cpu) {
  char pbuf[32];
  c->err = e;
  if (e == EACCES || e == EPERM)
    pr_why_add(c->why, c->whylen, "%s: perf_event_open%s: %s (kernel.perf_event_paranoid = %s; %s)",
               what, event_name, strerror(e), paranoid_text(pbuf, sizeof pbuf),
               kind == RING_SCHED || kind == RING_CPU ? "run as root or lower it" : "needs root");
  else if (e == ESRCH)
    pr_why_add(c->why, c->whylen, "%s: perf_event_open%s: process %d: %s", what, event_name, target,
               strerror(e));
  else
    pr_why_add(c->why, c->whylen, "%s: perf_event_open%s on cpu %d: %s", what, event_name, cpu,
               strerror(e));
}

int pr_map_ring(open_ctx *c, int fd, int cpu, int kind, unsigned pages, const char *what) {
  ctrace__perf *p = c->p;
  void *m = MAP_FAILED;
  size_t len = 0;
  for (unsigned n = pages;; n /= 2) {
    len = (1 + (size_t)n) * c->page;
    m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED || (errno != EPERM && errno != ENOMEM) ||
        n / 2 < CTRACE__PERF_RING_MIN_PAGES)
      break;
  }
  if (m == MAP_FAILED) {
    int e = errno;
    c->err = e;
    char mbuf[32];
    pr_why_add(c->why, c->whylen,
               "%s: mmap of a %zu KiB ring: %s (kernel.perf_event_mlock_kb = %s)", what, len / 1024,
               strerror(e),
               pr_sysctl_text("/proc/sys/kernel/perf_event_mlock_kb", mbuf, sizeof mbuf));
    close(fd);
    return -1;
  }
  perf_ring *r = &p->rings[p->nrings++];
  memset(r, 0, sizeof *r);
  r->fd = fd;
  r->cpu = cpu;
  r->kind = kind;
  r->meta = m;
  r->map_len = len;
  /* data_offset / data_size exist since Linux 4.1; before, data follows
   * the first page. */
  uint64_t off = r->meta->data_offset ? r->meta->data_offset : c->page;
  uint64_t size = r->meta->data_size ? r->meta->data_size : len - c->page;
  r->data = (const unsigned char *)m + off;
  r->size = size;
  r->tail = r->meta->data_tail;
  return 0;
}

int pr_open_rings(open_ctx *c, struct perf_event_attr *attr, int kind, unsigned pages,
                  const char *what, const char *event_name) {
  if (c->attach)
    return pr_attach_rings(c, attr, kind, pages, what, event_name);
  ctrace__perf *p = c->p;
  size_t first = p->nrings;
  for (int cpu = 0; cpu < c->ncpu; cpu++) {
    int fd = pr_event_open(c, attr, c->target, cpu);
    if (fd < 0) {
      int e = errno;
      if (e == ENODEV) /* offline CPU */
        continue;
      pr_open_failed(c, e, kind, what, event_name, c->target, cpu);
      goto fail;
    }
    if (pr_map_ring(c, fd, cpu, kind, pages, what) != 0)
      goto fail;
  }
  if (p->nrings == first) {
    c->err = ENODEV;
    pr_why_add(c->why, c->whylen, "%s: no CPU accepted the event", what);
    return -1;
  }
  return 0;
fail:
  while (p->nrings > first)
    pr_ring_unmap(&p->rings[--p->nrings]);
  return -1;
}

/* What ctrace__perf_open, _open_pid and _attach share: pid <= 0 this
 * process; else pid and, with attach = 0, the processes it forks later
 * (a child not exec'd yet: only pid's own thread is covered), or with
 * attach = 1 every thread pid has (perf_attach.c) and those they start. */
static ctrace__perf *perf_open(int pid, int attach, unsigned want, unsigned *got, char *why,
                               size_t whylen) {
  if (got)
    *got = 0;
  if (why && whylen)
    why[0] = '\0';
  open_ctx c;
  memset(&c, 0, sizeof c);
  c.why = why;
  c.whylen = whylen;
  const char *v = getenv("CTRACE__TEST_PERF_FAIL");
  c.test_fail = v && *v && strcmp(v, "0") != 0;
  v = getenv("CTRACE__TEST_PERF_INHERIT_ALL");
  c.inherit_thread = !(v && *v && strcmp(v, "0") != 0) && (pid <= 0 || attach);
  c.target = pid > 0 ? pid : 0;
  c.attach = attach;
  long page = sysconf(_SC_PAGESIZE);
  c.page = page > 0 ? (size_t)page : 4096;
  long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  c.ncpu = ncpu > 0 ? (int)ncpu : 1;

  const unsigned known =
      attach ? CTRACE__PERF_CPU : CTRACE__PERF_SCHED | CTRACE__PERF_SYSCALLS | CTRACE__PERF_CPU;
  if (want & ~known)
    pr_why_add(why, whylen, "perf: %s 0x%x",
               attach ? "only CPU samples are taken of a running process, not"
                      : "unknown request bits",
               want & ~known);
  if (!(want & known))
    return NULL;

  ctrace__perf *p = calloc(1, sizeof *p);
  if (p)
    p->rings = calloc(4 * (size_t)c.ncpu, sizeof *p->rings);
  if (!p || !p->rings) {
    free(p);
    pr_why_add(why, whylen, "perf: out of memory");
    return NULL;
  }
  c.p = p;
  p->pid = pid > 0 ? pid : (int)getpid();
  p->tree = pid > 0 && !attach;
  p->pending_max = CTRACE__PERF_PENDING_MAX;
  v = getenv("CTRACE__TEST_PERF_PENDING_MAX");
  if (v && atol(v) > 0)
    p->pending_max = (size_t)atol(v);

  unsigned ok = 0;
  if ((want & known & CTRACE__PERF_SCHED) && pr_sched_open(&c) == 0)
    ok |= CTRACE__PERF_SCHED;
  if ((want & known & CTRACE__PERF_SYSCALLS) && pr_syscalls_open(&c) == 0)
    ok |= CTRACE__PERF_SYSCALLS;
  if ((want & CTRACE__PERF_CPU) && pr_cpu_open(&c) == 0)
    ok |= CTRACE__PERF_CPU;
  if (got)
    *got = ok;
  if (!ok) {
    ctrace__perf_close(p);
    return NULL;
  }
  return p;
}

/* Like ctrace__perf_open, for process `pid` and the processes it forks
 * later (pid <= 0: this process only, as ctrace__perf_open). Meant for a
 * child of the caller opened before it execs: threads that exist already
 * (other than pid itself) are not covered. Unprivileged, the caller must be
 * allowed to ptrace pid (same user). The drain delivers the records of pid
 * and of its descendants. */
ctrace__perf *ctrace__perf_open_pid(int pid, unsigned want, unsigned *got, char *why,
                                    size_t whylen) {
  return perf_open(pid, 0, want, got, why, whylen);
}

ctrace__perf *ctrace__perf_attach(int pid, unsigned want, unsigned *got, char *why, size_t whylen) {
  if (pid <= 0) {
    if (got)
      *got = 0;
    if (why && whylen)
      snprintf(why, whylen, "perf: attach: %d is not a process id", pid);
    return NULL;
  }
  return perf_open(pid, 1, want, got, why, whylen);
}

ctrace__perf *ctrace__perf_open(unsigned want, unsigned *got, char *why, size_t whylen) {
  return perf_open(0, 0, want, got, why, whylen);
}

/* ---- Reading ----------------------------------------------------------------- */

/* Room for one more pending record (amortised doubling). NULL if memory
 * ran out: the record is counted in nomem. */
static pevent *pending_slot(ctrace__perf *p) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 4096;
    /* Each array is kept when its realloc succeeds; cap moves only when
     * all did, so a partial failure loses nothing. */
    void *q;
    if ((q = realloc(p->ev, cap * sizeof *p->ev)))
      p->ev = q;
    if (q && (q = realloc(p->ev2, cap * sizeof *p->ev2)))
      p->ev2 = q;
    if (q && (q = realloc(p->keys, cap * sizeof *p->keys)))
      p->keys = q;
    if (q && (q = realloc(p->keys2, cap * sizeof *p->keys2)))
      p->keys2 = q;
    if (q && (q = realloc(p->runs, (cap + 1) * sizeof *p->runs)))
      p->runs = q;
    if (!q) {
      p->nomem++;
      return NULL;
    }
    p->cap = cap;
  }
  pevent *pe = &p->ev[p->n++];
  pe->b = NULL;
  return pe;
}

/* A payload buffer of at least len bytes, from the free list when it has
 * one (grown if needed). NULL if memory ran out (counted in nomem). */
static blob *blob_get(ctrace__perf *p, size_t len) {
  blob *b = p->npool ? p->pool[--p->npool] : NULL;
  if (!b || b->cap < len) {
    size_t cap = len < 512 ? 512 : len;
    blob *q = realloc(b, sizeof *b + cap);
    if (!q) {
      free(b);
      p->nomem++;
      return NULL;
    }
    b = q;
    b->cap = cap;
  }
  return b;
}

static void blob_put(ctrace__perf *p, blob *b) {
  if (b && p->npool < CTRACE__PERF_POOL)
    p->pool[p->npool++] = b;
  else
    free(b);
}

pevent *pr_new_pevent(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu,
                      size_t len) {
  blob *b = NULL;
  if (len > 0 && !(b = blob_get(p, len)))
    return NULL;
  pevent *pe = pending_slot(p);
  if (!pe) {
    blob_put(p, b);
    return NULL;
  }
  ctrace__kevent *e = &pe->e;
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->pid = pid;
  e->tid = tid;
  e->ns = ns;
  e->cpu = cpu;
  pe->b = b;
  return pe;
}

ctrace__kevent *pr_new_event(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu) {
  pevent *pe = pr_new_pevent(p, kind, pid, tid, ns, cpu, 0);
  return pe ? &pe->e : NULL;
}

ctrace__kevent *pr_new_mapping(ctrace__perf *p, int kind, int pid, int tid, uint64_t ns, int cpu,
                               const ctrace__uw_mapping *m, size_t pathlen) {
  size_t idlen = strlen(m->build_id);
  pevent *pe = pr_new_pevent(p, kind, pid, tid, ns, cpu, pathlen + idlen + 2);
  if (!pe)
    return NULL;
  char *d = (char *)pe->b->data;
  memcpy(d, m->path, pathlen);
  d[pathlen] = '\0';
  memcpy(d + pathlen + 1, m->build_id, idlen + 1);
  pe->e.start = m->start;
  pe->e.end = m->end;
  pe->e.offset = m->offset;
  return &pe->e;
}

static void parse_record(ctrace__perf *p, const perf_ring *r, const unsigned char *rec,
                         uint32_t size) {
  if (r->kind == RING_CPU)
    pr_cpu_parse(p, r, rec, size);
  else
    pr_sched_parse(p, r, rec, size);
}

/* Copies len bytes at ring offset `pos` (which may wrap) into dst. */
static void ring_copy(const perf_ring *r, uint64_t pos, void *dst, size_t len) {
  uint64_t off = pos & (r->size - 1);
  size_t first = (size_t)(r->size - off) < len ? (size_t)(r->size - off) : len;
  memcpy(dst, r->data + off, first);
  memcpy((unsigned char *)dst + first, r->data, len - first);
}

static void ring_read(ctrace__perf *p, perf_ring *r) {
  /* Acquire: pairs with the kernel's barrier before it publishes
   * data_head, so the records below it are complete. */
  uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = r->tail;
  while (head - tail >= sizeof(struct perf_event_header)) {
    struct perf_event_header h;
    ring_copy(r, tail, &h, sizeof h);
    if (h.size < sizeof h || h.size > head - tail) { /* cannot happen: resync */
      p->malformed++;
      tail = head;
      break;
    }
    uint64_t off = tail & (r->size - 1);
    const unsigned char *rec = r->data + off;
    if (off + h.size > r->size) { /* wraps around the end of the data area */
      ring_copy(r, tail, p->tmp, h.size);
      rec = p->tmp;
    }
    parse_record(p, r, rec, h.size);
    tail += h.size;
  }
  /* Release: our reads of the records happen before the kernel may
   * overwrite them. */
  __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
  r->tail = tail;
}

static int key_lt(const pkey *a, const pkey *b) {
  return a->ns < b->ns || (a->ns == b->ns && a->idx < b->idx);
}

/* Sorts keys[0..n) (natural merge sort: pending records are a few sorted
 * runs, the leftover plus one per ring). @return the sorted array (keys or
 * keys2). */
static pkey *sort_keys(ctrace__perf *p, size_t n) {
  pkey *src = p->keys, *dst = p->keys2;
  size_t *runs = p->runs, nr = 0;
  runs[nr++] = 0;
  for (size_t i = 1; i < n; i++)
    if (key_lt(&src[i], &src[i - 1]))
      runs[nr++] = i;
  runs[nr] = n; /* run k is [runs[k], runs[k + 1]) */
  while (nr > 1) {
    size_t out = 0;
    for (size_t k = 0; k < nr; k += 2) {
      size_t a = runs[k], m = runs[k + 1];
      size_t e = k + 2 <= nr ? runs[k + 2] : m;
      size_t i = a, j = m, o = a;
      while (i < m && j < e)
        dst[o++] = key_lt(&src[j], &src[i]) ? src[j++] : src[i++];
      while (i < m)
        dst[o++] = src[i++];
      while (j < e)
        dst[o++] = src[j++];
      runs[out++] = a;
    }
    runs[out] = n;
    nr = out;
    pkey *t = src;
    src = dst;
    dst = t;
  }
  return src;
}

void pr_emit(emit_ctx *c, const ctrace__kevent *e) {
  if (c->emit)
    c->emit(c->arg, e);
  c->n++;
}

/* Delivers one pending record (those of the CPU-sample rings through
 * perf_cpu.c) and recycles its payload. */
static void deliver(ctrace__perf *p, pevent *pe, emit_ctx *c) {
  c->pid = pe->e.pid;
  c->ns = pe->e.ns;
  if (!pr_cpu_deliver(p, pe, c))
    pr_emit(c, &pe->e);
  blob_put(p, pe->b);
  pe->b = NULL;
}

size_t ctrace__perf_drain(ctrace__perf *p, uint64_t up_to_ns,
                          void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  if (!p)
    return 0;
  for (size_t i = 0; i < p->nrings; i++)
    ring_read(p, &p->rings[i]);
  size_t n = p->n, d = 0;
  emit_ctx c = {emit, arg, 0, 0, 0};
  if (n > 0) {
    for (size_t i = 0; i < n; i++) {
      p->keys[i].ns = p->ev[i].e.ns;
      p->keys[i].idx = i;
    }
    pkey *k = sort_keys(p, n);
    size_t lo = 0, hi = n; /* first key with ns >= up_to_ns */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (k[mid].ns < up_to_ns)
        lo = mid + 1;
      else
        hi = mid;
    }
    d = lo;
    if (n - d > p->pending_max) { /* bounded memory: the oldest go now */
      p->early += n - d - p->pending_max;
      d = n - p->pending_max;
    }
    for (size_t i = 0; i < d; i++)
      deliver(p, &p->ev[k[i].idx], &c);
    if (d > 0)
      p->lost_ns = k[d - 1].ns;
    for (size_t i = d; i < n; i++) /* the rest, in order, for next time */
      p->ev2[i - d] = p->ev[k[i].idx];
    pevent *t = p->ev;
    p->ev = p->ev2;
    p->ev2 = t;
    p->n = n - d;
  }
  if (p->nomem > 0 && (d > 0 || p->n == 0)) {
    ctrace__kevent e;
    memset(&e, 0, sizeof e);
    e.kind = CTRACE__K_LOST;
    e.ns = p->lost_ns;
    e.pid = p->pid;
    e.cpu = -1;
    e.lost = p->nomem;
    p->nomem = 0;
    pr_emit(&c, &e);
  }
  return c.n;
}

static void *ring_unmap_thread(void *r) {
  pr_ring_unmap(r);
  return NULL;
}

/* Closing the last event of a tracepoint waits for the kernel to unregister
 * it (RCU grace periods: 15-25 ms each on the VMs measured, once per
 * tracepoint when closed one after the other): the tracepoints' rings are
 * closed on threads of their own, all at once, and waited for, so the wait
 * is about one grace period and nothing is left running after. Context
 * switch events close at once. */
void ctrace__perf_close(ctrace__perf *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->ntfds; i++) /* (before the rings they write into) */
    close(p->tfds[i]);
  free(p->tfds);
  vh_free(&p->owner_of);
  vh_free(&p->kept_from);
  pthread_t th[64];
  size_t nth = 0;
  for (size_t i = 0; i < p->nrings; i++) {
    perf_ring *r = &p->rings[i];
    if (r->kind == RING_SCHED || nth == sizeof th / sizeof th[0] ||
        pthread_create(&th[nth], NULL, ring_unmap_thread, r) != 0)
      pr_ring_unmap(r);
    else
      nth++;
  }
  for (size_t i = 0; i < nth; i++)
    pthread_join(th[i], NULL);
  free(p->rings);
  for (size_t i = 0; i < p->n; i++)
    free(p->ev[i].b);
  for (size_t i = 0; i < p->npool; i++)
    free(p->pool[i]);
  ctrace__unwinder_free(p->uw);
  free(p->ev);
  free(p->ev2);
  free(p->keys);
  free(p->keys2);
  free(p->runs);
  free(p);
}
