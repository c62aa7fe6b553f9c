/* CPU samples a process takes of itself (capture.h's ctrace__self_*): the
 * registers and the copy of the top of the stack of an interrupted thread,
 * taken by a signal handler in the process (tracer/cpu's SIGPROF timers)
 * rather than by the kernel, unwound with the same libdw unwinder as perf's
 * samples (unwind.c) and handed on as K_MAPPING and K_SAMPLE events, for
 * FILE.kernel (kernel_trace.c).
 *
 * The process's code mappings come from /proc/self/maps: read at the first
 * sample, and again when a sample's pc (or a return address its walk
 * reached) is in no mapping read so far: a dlopen since. Each mapping is
 * emitted (K_MAPPING, at the sample's time) before the first sample that
 * may need it. A pc in anonymous code (a JIT) is in no mapping however
 * often /proc is read: a new read happens at most every RESCAN_NS. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "unwind.h"

_Static_assert(CTRACE__SELF_NREGS == CTRACE__UW_NREGS, "the same registers as perf's samples");

#define RESCAN_NS 10000000u /* /proc/self/maps read again at most every 10 ms */

typedef struct self_map {
  uint64_t start, end, offset;
  char *path;
} self_map;

struct ctrace__self_samples {
  int pid;
  uint64_t period_ns;
  ctrace__unwinder *uw;
  self_map *maps; /* every mapping emitted, in /proc's order */
  size_t nmaps, cap;
  uint64_t last_scan; /* ns of the sample that read /proc last (0: never) */
  uint64_t pcs[CTRACE__STACK_MAX];
};

ctrace__self_samples *ctrace__self_samples_new(uint64_t period_ns) {
  ctrace__self_samples *s = calloc(1, sizeof *s);
  if (!s || !(s->uw = ctrace__unwinder_new())) {
    free(s);
    return NULL;
  }
  s->pid = (int)getpid();
  s->period_ns = period_ns;
  return s;
}

void ctrace__self_samples_free(ctrace__self_samples *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nmaps; i++)
    free(s->maps[i].path);
  free(s->maps);
  ctrace__unwinder_free(s->uw);
  free(s);
}

/* Is pc in a mapping emitted? */
static int mapped(const ctrace__self_samples *s, uint64_t pc) {
  for (size_t i = 0; i < s->nmaps; i++)
    if (pc >= s->maps[i].start && pc < s->maps[i].end)
      return 1;
  return 0;
}

static int known(const ctrace__self_samples *s, const ctrace__uw_mapping *m) {
  for (size_t i = 0; i < s->nmaps; i++)
    if (s->maps[i].start == m->start && s->maps[i].end == m->end &&
        s->maps[i].offset == m->offset && !strcmp(s->maps[i].path, m->path))
      return 1;
  return 0;
}

typedef struct emit_to {
  void (*emit)(void *arg, const ctrace__kevent *ev);
  void *arg;
  uint64_t ns;
} emit_to;

/* A mapping of /proc/self/maps not emitted yet: to the unwinder, kept,
 * and emitted as K_MAPPING. */
static void new_mapping(ctrace__self_samples *s, const ctrace__uw_mapping *m, const emit_to *to) {
  if (known(s, m))
    return;
  if (s->nmaps == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    self_map *q = realloc(s->maps, cap * sizeof *q);
    if (!q)
      return;
    s->maps = q;
    s->cap = cap;
  }
  char *path = strdup(m->path);
  if (!path)
    return;
  s->maps[s->nmaps++] = (self_map){m->start, m->end, m->offset, path};
  char id[CTRACE__UW_BUILD_ID_HEX + 1] = "";
  ctrace__unwinder_map(s->uw, s->pid, m, 0, id);
  ctrace__kevent e;
  memset(&e, 0, sizeof e);
  e.kind = CTRACE__K_MAPPING;
  e.ns = to->ns;
  e.pid = e.tid = s->pid;
  e.cpu = -1;
  e.start = m->start;
  e.end = m->end;
  e.offset = m->offset;
  e.path = m->path;
  e.build_id = id;
  to->emit(to->arg, &e);
}

typedef struct scan_ctx {
  ctrace__self_samples *s;
  const emit_to *to;
} scan_ctx;

static void scanned_mapping(void *arg, const ctrace__uw_mapping *m) {
  scan_ctx *c = arg;
  new_mapping(c->s, m, c->to);
}

/* Reads /proc/self/maps: its executable file mappings not emitted yet. */
static void scan_maps(ctrace__self_samples *s, const emit_to *to) {
  s->last_scan = to->ns ? to->ns : 1;
  scan_ctx c = {s, to};
  ctrace__proc_maps(0, scanned_mapping, &c);
}

/* Whether /proc/self/maps may be read again for a pc in no mapping. */
static int may_rescan(const ctrace__self_samples *s, uint64_t ns) {
  return !s->last_scan || ns >= s->last_scan + RESCAN_NS;
}

static unsigned unwind(ctrace__self_samples *s, const ctrace__self_sample *smp, unsigned *flags) {
  ctrace__uw_sample u;
  u.pid = s->pid;
  u.tid = smp->tid;
  memcpy(u.regs, smp->regs, sizeof u.regs);
  u.stack = smp->stack;
  u.stack_len = smp->stack_len;
  *flags = smp->stack_len ? 0 : CTRACE__SAMPLE_PARTIAL;
  return ctrace__unwinder_unwind(s->uw, &u, s->pcs, CTRACE__STACK_MAX, flags);
}

void ctrace__self_samples_add(ctrace__self_samples *s, const ctrace__self_sample *smp,
                              void (*emit)(void *arg, const ctrace__kevent *ev), void *arg) {
  emit_to to = {emit, arg, smp->ns};
  if (!s->last_scan || (!mapped(s, smp->regs[CTRACE__UW_REG_IP]) && may_rescan(s, smp->ns)))
    scan_maps(s, &to);
  unsigned flags = 0, n = unwind(s, smp, &flags);
  if ((flags & CTRACE__SAMPLE_PARTIAL) && n < CTRACE__STACK_MAX && !mapped(s, s->pcs[n - 1]) &&
      may_rescan(s, smp->ns)) { /* the walk ended in code mapped since: again */
    scan_maps(s, &to);
    n = unwind(s, smp, &flags);
  }
  ctrace__kevent e;
  memset(&e, 0, sizeof e);
  e.kind = CTRACE__K_SAMPLE;
  e.ns = smp->ns;
  e.pid = s->pid;
  e.tid = smp->tid;
  e.cpu = smp->cpu;
  e.pcs = s->pcs;
  e.npcs = n;
  e.sample_flags = flags;
  e.period_ns = s->period_ns;
  emit(arg, &e);
}
