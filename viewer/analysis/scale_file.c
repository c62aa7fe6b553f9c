/* The scale index's file (docs/format.md, "The index file"): written once
 * by the pass (scale_build.c) into a temporary file renamed into place,
 * then memory-mapped; read again by the next open after checking that it
 * is whole and belongs to this trace as it is now (size, mtime, inode and
 * a hash of its first 64 KiB; a trace that grew or was replaced is
 * stale). Layout: a header at 0, then 8-byte aligned arrays (each thread's
 * batches, snapshots and levels, the counters' parts and levels), then the
 * threads', lanes', counters' and parts' tables; the header holds a hash of
 * itself and of those tables. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "scale_internal.h"

#define VS_MAGIC "CTRIDX01"
/* 1: before lanes had their own shift; 2: before FILE.kernel's states; 3: before counters */
#define VS_VERSION 4u
#define VS_HEAD_BYTES 4096u
#define VS_HASHED_HEAD (64u * 1024u)

typedef struct vs_header {
  char magic[8];
  uint32_t version, header_size;
  uint64_t file_size;
  uint64_t trace_size, trace_mtime_ns, trace_ino, trace_dev, trace_head;
  uint64_t t0, t1, events;
  uint32_t shift0, pad;
  uint64_t kernel_size, kernel_mtime_ns, kernel_ino; /* FILE.kernel's, read (0s: none) */
  uint64_t nthreads, threads_off, nlanes, lanes_off;
  uint64_t ncounters, counters_off, ncparts, cparts_off;
  uint64_t hash; /* of this header (hash = 0) and the four tables */
} vs_header;

uint64_t vs__append(vs_out *out, const void *p, size_t n) {
  pthread_mutex_lock(&out->lock);
  uint64_t off = (out->off + 7) & ~7ull;
  out->off = off + n;
  pthread_mutex_unlock(&out->lock);
  const char *c = p;
  uint64_t at = off;
  while (n) {
    ssize_t k = pwrite(out->fd, c, n, (off_t)at);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      out->err = k < 0 ? -errno : -EIO;
      return off;
    }
    c += k;
    at += (uint64_t)k;
    n -= (size_t)k;
  }
  return off;
}

/* What identifies FILE.kernel as it is now (0s: none read). */
static void kernel_identity(const vs_index *x, vs_header *h) {
  struct stat st;
  h->kernel_size = h->kernel_mtime_ns = h->kernel_ino = 0;
  if (!x->kernel || stat(x->kernel, &st))
    return;
  h->kernel_size = (uint64_t)st.st_size;
  h->kernel_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
  h->kernel_ino = (uint64_t)st.st_ino;
}

/* What identifies the trace as it is now. */
static int trace_identity(const char *path, vs_header *h) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st)) {
    int e = -errno;
    if (fd >= 0)
      close(fd);
    return e;
  }
  h->trace_size = (uint64_t)st.st_size;
  h->trace_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
  h->trace_ino = (uint64_t)st.st_ino;
  h->trace_dev = (uint64_t)st.st_dev;
  static char head[VS_HASHED_HEAD];
  ssize_t n = pread(fd, head, sizeof head, 0);
  close(fd);
  h->trace_head = ctrace__fnv1a(head, n > 0 ? (size_t)n : 0, 0x5ca1e);
  return 0;
}

static uint64_t tables_hash(const vs_header *h, const void *threads, const void *lanes,
                            const void *counters, const void *cparts) {
  vs_header c = *h;
  c.hash = 0;
  uint64_t v = ctrace__fnv1a(&c, sizeof c, 0x1d3);
  v = ctrace__fnv1a(threads, h->nthreads * sizeof(vs_thread), v);
  v = ctrace__fnv1a(lanes, h->nlanes * sizeof(vs_lane), v);
  v = ctrace__fnv1a(counters, h->ncounters * sizeof(vs_counter), v);
  return ctrace__fnv1a(cparts, h->ncparts * sizeof(vs_cpart), v);
}

static int in_file(uint64_t off, uint64_t n, uint64_t elem, uint64_t size) {
  return off <= size && (elem == 0 || n <= (size - off) / elem) && off % 8 == 0;
}

/* The counters' and their parts' tables (copied), every level checked to
 * lie inside the mapping. */
static int attach_counters(vs_index *x, const vs_header *h, char *why, size_t whylen) {
  const uint8_t *m = x->map;
  x->counters = malloc((h->ncounters ? h->ncounters : 1) * sizeof *x->counters);
  x->cparts = malloc((h->ncparts ? h->ncparts : 1) * sizeof *x->cparts);
  if (!x->counters || !x->cparts) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  memcpy(x->counters, m + h->counters_off, h->ncounters * sizeof *x->counters);
  memcpy(x->cparts, m + h->cparts_off, h->ncparts * sizeof *x->cparts);
  x->ncounters = h->ncounters;
  x->ncparts = x->cap_cparts = h->ncparts;
  for (size_t i = 0; i < x->ncparts; i++) {
    const vs_cpart *p = &x->cparts[i];
    if (p->thread >= x->nthreads || p->kind > VS_CK_SET_GOAL || p->counter >= x->ncounters) {
      snprintf(why, whylen, "corrupt: counter part %zu", i);
      return -1;
    }
  }
  for (size_t i = 0; i < x->ncounters; i++) {
    vs_counter *c = &x->counters[i];
    c->name[sizeof c->name - 1] = '\0';
    if (c->part0 > x->ncparts || c->nparts == 0 || c->nparts > x->ncparts - c->part0 ||
        c->nlevels == 0 || c->nlevels > VS_MAX_LEVELS || c->shift > 62 ||
        c->shift + 2 * (c->nlevels - 1) > 62) {
      snprintf(why, whylen, "corrupt: counter %zu", i);
      return -1;
    }
    for (uint32_t k = 0; k < c->nlevels; k++) {
      if (!in_file(c->lv[k].off, c->lv[k].n, sizeof(vs_cbucket), x->map_len)) {
        snprintf(why, whylen, "corrupt: counter %zu level %u is outside the file", i, k);
        return -1;
      }
      c->lv[k].b = (const vs_cbucket *)(m + c->lv[k].off);
    }
  }
  return 0;
}

/* Pointers into the mapping, every array checked to lie inside it. */
static int attach(vs_index *x, const vs_header *h, char *why, size_t whylen) {
  const uint8_t *m = x->map;
  uint64_t size = x->map_len;
  x->threads = malloc((h->nthreads ? h->nthreads : 1) * sizeof *x->threads);
  x->lanes = malloc((h->nlanes ? h->nlanes : 1) * sizeof *x->lanes);
  if (!x->threads || !x->lanes) {
    snprintf(why, whylen, "out of memory");
    return -1;
  }
  memcpy(x->threads, m + h->threads_off, h->nthreads * sizeof *x->threads);
  memcpy(x->lanes, m + h->lanes_off, h->nlanes * sizeof *x->lanes);
  x->nthreads = h->nthreads;
  x->nlanes = h->nlanes;
  for (size_t i = 0; i < x->nthreads; i++) {
    vs_thread *t = &x->threads[i];
    if (!in_file(t->batches_off, t->nbatches, sizeof(vs_batch), size) ||
        !in_file(t->pre_off, t->npre, sizeof(vs_pre), size) || t->lane0 > x->nlanes ||
        t->nlanes > x->nlanes - t->lane0 || t->rd >= rd_thread_count(x->tr) ||
        t->nbatches != rd_thread_get(x->tr, t->rd)->nbatches) {
      snprintf(why, whylen, "corrupt: thread %zu's tables point outside the file", i);
      return -1;
    }
    t->batches = (const vs_batch *)(m + t->batches_off);
    t->pre = (const vs_pre *)(m + t->pre_off);
    for (size_t b = 0; b < t->nbatches; b++)
      if (t->batches[b].pre > t->npre || t->batches[b].npre > t->npre - t->batches[b].pre) {
        snprintf(why, whylen, "corrupt: thread %zu batch %zu's snapshot is outside it", i, b);
        return -1;
      }
    t->lanes_tmp = NULL;
    t->name[sizeof t->name - 1] = '\0';
    if (t->shift_min > 62) {
      snprintf(why, whylen, "corrupt: thread %zu's shift", i);
      return -1;
    }
  }
  for (size_t i = 0; i < x->nlanes; i++) {
    vs_lane *l = &x->lanes[i];
    if (l->thread >= x->nthreads || l->nlevels == 0 || l->nlevels > VS_MAX_LEVELS ||
        l->shift > 62) {
      snprintf(why, whylen, "corrupt: lane %zu", i);
      return -1;
    }
    for (uint32_t k = 0; k < l->nlevels; k++) {
      if (!in_file(l->lv[k].off, l->lv[k].n, sizeof(vs_entry), size)) {
        snprintf(why, whylen, "corrupt: lane %zu level %u is outside the file", i, k);
        return -1;
      }
      l->lv[k].e = (const vs_entry *)(m + l->lv[k].off);
    }
  }
  return attach_counters(x, h, why, whylen);
}

void vs__unmap(vs_index *x) {
  if (x->map)
    munmap(x->map, x->map_len);
  x->map = NULL;
  free(x->threads);
  free(x->lanes);
  free(x->counters);
  free(x->cparts);
  x->threads = NULL;
  x->lanes = NULL;
  x->counters = NULL;
  x->cparts = NULL;
  x->nthreads = x->nlanes = x->ncounters = x->ncparts = x->cap_cparts = 0;
}

int vs__load(vs_index *x, const char *path, unsigned flags, char *why, size_t whylen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whylen, errno == ENOENT ? "none" : "unreadable: %s", strerror(errno));
    return -1;
  }
  struct stat st;
  vs_header h;
  if (fstat(fd, &st) || (uint64_t)st.st_size < VS_HEAD_BYTES ||
      pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
    close(fd);
    snprintf(why, whylen, "corrupt: truncated (%lld bytes)", (long long)st.st_size);
    return -1;
  }
  vs_header now = {0};
  int r = trace_identity(x->path, &now);
  kernel_identity(x, &now);
  if (memcmp(h.magic, VS_MAGIC, 8) || h.version != VS_VERSION || h.header_size != sizeof h) {
    close(fd);
    snprintf(why, whylen, "corrupt or of another version: not a version-%u index", VS_VERSION);
    return -1;
  }
  if (h.file_size != (uint64_t)st.st_size) {
    close(fd);
    snprintf(why, whylen, "corrupt: %lld bytes, its header says %" PRIu64, (long long)st.st_size,
             h.file_size);
    return -1;
  }
  if (flags & VS_LOAD_UNCHECKED)
    r = 0, now = h;
  if (r || h.trace_size != now.trace_size || h.trace_mtime_ns != now.trace_mtime_ns ||
      h.trace_ino != now.trace_ino || h.trace_dev != now.trace_dev ||
      h.trace_head != now.trace_head) {
    close(fd);
    snprintf(why, whylen, "stale: the trace %s since it was made",
             h.trace_size < now.trace_size    ? "grew"
             : h.trace_size != now.trace_size ? "changed size"
                                              : "was replaced or rewritten");
    return -1;
  }
  if (h.kernel_size != now.kernel_size || h.kernel_mtime_ns != now.kernel_mtime_ns ||
      h.kernel_ino != now.kernel_ino) {
    close(fd);
    snprintf(why, whylen, "stale: %s since it was made",
             !now.kernel_size ? "the FILE.kernel it read is gone"
             : !h.kernel_size ? "a FILE.kernel appeared beside the trace"
                              : "the FILE.kernel beside the trace changed");
    return -1;
  }
  x->map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (x->map == MAP_FAILED) {
    x->map = NULL;
    snprintf(why, whylen, "cannot be mapped: %s", strerror(errno));
    return -1;
  }
  x->map_len = (size_t)st.st_size;
  uint64_t size = x->map_len;
  if (!in_file(h.threads_off, h.nthreads, sizeof(vs_thread), size) ||
      !in_file(h.lanes_off, h.nlanes, sizeof(vs_lane), size) ||
      !in_file(h.counters_off, h.ncounters, sizeof(vs_counter), size) ||
      !in_file(h.cparts_off, h.ncparts, sizeof(vs_cpart), size) ||
      (!(flags & VS_LOAD_UNCHECKED) &&
       tables_hash(&h, (uint8_t *)x->map + h.threads_off, (uint8_t *)x->map + h.lanes_off,
                   (uint8_t *)x->map + h.counters_off,
                   (uint8_t *)x->map + h.cparts_off) != h.hash) ||
      h.shift0 > 62 || h.t1 < h.t0) {
    vs__unmap(x);
    snprintf(why, whylen, "corrupt: its tables do not match their hash");
    return -1;
  }
  x->t0 = h.t0;
  x->t1 = h.t1;
  x->events = h.events;
  x->shift0 = h.shift0;
  if (attach(x, &h, why, whylen)) {
    vs__unmap(x);
    return -1;
  }
  return 0;
}

static int write_tables(vs_index *x, vs_out *out, vs_header *h) {
  h->nthreads = x->nthreads;
  h->threads_off = vs__append(out, x->threads, x->nthreads * sizeof *x->threads);
  h->nlanes = x->nlanes;
  h->lanes_off = vs__append(out, x->lanes, x->nlanes * sizeof *x->lanes);
  h->ncounters = x->ncounters;
  h->counters_off = vs__append(out, x->counters, x->ncounters * sizeof *x->counters);
  h->ncparts = x->ncparts;
  h->cparts_off = vs__append(out, x->cparts, x->ncparts * sizeof *x->cparts);
  h->file_size = out->off;
  h->t0 = x->t0;
  h->t1 = x->t1;
  h->events = x->events;
  h->shift0 = x->shift0;
  h->hash = tables_hash(h, x->threads, x->lanes, x->counters, x->cparts);
  if (out->err)
    return out->err;
  if (pwrite(out->fd, h, sizeof *h, 0) != (ssize_t)sizeof *h)
    return -errno;
  return ftruncate(out->fd, (off_t)out->off) ? -errno : 0;
}

int vs__make(vs_index *x, const char *path, vs_progress progress, void *arg, char *err,
             size_t errlen) {
  vs_header h = {0};
  memcpy(h.magic, VS_MAGIC, 8);
  h.version = VS_VERSION;
  h.header_size = sizeof h;
  int r = trace_identity(x->path, &h);
  if (r) {
    snprintf(err, errlen, "%s: %s", x->path, strerror(-r));
    return r;
  }
  kernel_identity(x, &h);
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
  vs_out out = {.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644),
                .off = VS_HEAD_BYTES};
  if (out.fd < 0) {
    r = -errno;
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    return r;
  }
  /* The counters' parts until merged: deleted now, gone when closed. */
  char parts[4300];
  snprintf(parts, sizeof parts, "%s.parts", tmp);
  vs_out scratch = {.fd = open(parts, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
  if (scratch.fd < 0) {
    r = -errno;
    snprintf(err, errlen, "cannot create %s: %s", parts, strerror(errno));
    close(out.fd);
    unlink(tmp);
    return r;
  }
  unlink(parts);
  out.scratch = &scratch;
  pthread_mutex_init(&scratch.lock, NULL);
  pthread_mutex_init(&out.lock, NULL);
  r = vs__build(x, &out, progress, arg);
  close(scratch.fd);
  pthread_mutex_destroy(&scratch.lock);
  if (!r)
    r = write_tables(x, &out, &h);
  close(out.fd);
  pthread_mutex_destroy(&out.lock);
  if (!r && rename(tmp, path))
    r = -errno;
  if (r) {
    unlink(tmp);
    snprintf(err, errlen, "cannot write the index %s: %s", path, ctrace_strerror(r));
    return r;
  }
  vs__unmap(x); /* (the mapped tables replace what the pass made) */
  char why[256];
  if (vs__load(x, path, 0, why, sizeof why)) {
    snprintf(err, errlen, "the index %s just written: %s", path, why);
    return CTRACE_ECORRUPT;
  }
  return 0;
}
