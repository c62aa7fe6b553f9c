/* Context switches and system calls of the traced process (capture.h's
 * CTRACE__PERF_SCHED and CTRACE__PERF_SYSCALLS): their events and how
 * their records read; perf.c opens the rings and delivers the records.
 *
 *   - sched: a PERF_COUNT_SW_DUMMY event with context_switch = 1, which
 *     emits only PERF_RECORD_SWITCH side-band records (and EXIT: task = 1);
 *   - syscalls: raw_syscalls:sys_enter and raw_syscalls:sys_exit
 *     tracepoints, sample_period = 1, PERF_SAMPLE_RAW payload decoded with
 *     the offsets of the tracepoint's format file.
 */
#define _GNU_SOURCE
#include "perf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

/* Data pages of each ring (a power of 2; one more page holds the header).
 * 64 pages = 256 KiB hold ~8000 switch records (32 bytes each): two
 * threads ping-ponging on one CPU (270k switches/s, 540k records/s)
 * lost none with a drain every 10 ms. */
#ifndef CTRACE__PERF_RING_PAGES
#define CTRACE__PERF_RING_PAGES 64
#endif
/* Data pages of each syscall tracepoint ring (two per CPU): sys_enter
 * records are 104 bytes, sys_exit 64. Measured with two threads calling
 * getppid() in a loop (1.4M calls/s) and a drain every 10 ms: 128 pages
 * lost 21% of the records, 256 pages 0.3%, 512 pages none. */
#ifndef CTRACE__PERF_SYS_RING_PAGES
#define CTRACE__PERF_SYS_RING_PAGES 256
#endif

/* ---- Opening --------------------------------------------------------------------- */

int pr_sched_open(open_ctx *c) {
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_SOFTWARE;
  a.config = PERF_COUNT_SW_DUMMY;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
  a.sample_id_all = 1;
  a.context_switch = 1;
  a.task = 1; /* exit records: a thread's last switch-out is not reported */
  a.inherit = 1;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  /* Unprivileged (perf_event_paranoid = 2) only user-space events are
   * allowed: without this the open fails with EACCES. Switch records are
   * side-band and come either way. */
  a.exclude_kernel = geteuid() != 0;
  a.exclude_hv = 1;
  return pr_open_rings(c, &a, RING_SCHED, CTRACE__PERF_RING_PAGES, "context switches", "");
}

/* Finds `name` in a tracepoint format file, whose field lines read
 * "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;".
 * `fmt` is modified (lines are cut). @return 0 or -1. */
static int tp_find(char *fmt, const char *name, tp_field *f) {
  size_t nl = strlen(name);
  char *save = NULL;
  for (char *line = strtok_r(fmt, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *decl = strstr(line, "field:");
    if (!decl)
      continue;
    decl += 6;
    char *semi = strchr(decl, ';');
    if (!semi)
      continue;
    char *end = memchr(decl, '[', (size_t)(semi - decl));
    if (!end)
      end = semi;
    char *start = end;
    while (start > decl && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
      start--;
    if ((size_t)(end - start) != nl || memcmp(start, name, nl) != 0)
      continue;
    char *o = strstr(semi, "offset:"), *s = strstr(semi, "size:"), *sg = strstr(semi, "signed:");
    if (!o || !s)
      return -1;
    f->off = (uint32_t)strtoul(o + 7, NULL, 10);
    f->size = (uint32_t)strtoul(s + 5, NULL, 10);
    f->is_signed = sg && sg[7] == '1';
    return 0;
  }
  return -1;
}

/* Reads the id and the fields of raw_syscalls:<event> from tracefs at
 * `dir`. @return 0, or -1 with `why` filled. */
static int tp_load(open_ctx *c, const char *dir, const char *event, const char *f1, tp_field *t1,
                   const char *f2, tp_field *t2, uint64_t *id) {
  char path[256], buf[8192];
  snprintf(path, sizeof path, "%s/events/raw_syscalls/%s/id", dir, event);
  ssize_t n = pr_read_small(path, buf, sizeof buf);
  if (n == -ENOENT) {
    pr_why_add(c->why, c->whylen,
               "complete syscalls: no raw_syscalls tracepoints in %s (kernel without "
               "CONFIG_FTRACE_SYSCALLS?)",
               dir);
    return -1;
  }
  if (n < 0) {
    if (geteuid() != 0)
      pr_why_add(c->why, c->whylen,
                 "complete syscalls: needs root (perf_event_open on tracepoints)");
    else
      pr_why_add(c->why, c->whylen, "complete syscalls: %s: %s", path, strerror((int)-n));
    return -1;
  }
  char *end = NULL;
  *id = strtoull(buf, &end, 10);
  if (end == buf) {
    pr_why_add(c->why, c->whylen, "complete syscalls: %s: not a number", path);
    return -1;
  }
  snprintf(path, sizeof path, "%s/events/raw_syscalls/%s/format", dir, event);
  n = pr_read_small(path, buf, sizeof buf);
  if (n < 0) {
    pr_why_add(c->why, c->whylen, "complete syscalls: %s: %s", path, strerror((int)-n));
    return -1;
  }
  char copy[sizeof buf];
  memcpy(copy, buf, (size_t)n + 1);
  if (tp_find(buf, f1, t1) != 0 || tp_find(copy, f2, t2) != 0) {
    pr_why_add(c->why, c->whylen, "complete syscalls: %s: no field %s or %s", path, f1, f2);
    return -1;
  }
  return 0;
}

static int is_word_size(uint32_t s) { return s == 4 || s == 8; }

/* The tracefs directory (holding events/), mounting it if needed. */
static const char *tracefs_find(open_ctx *c) {
  static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
  char path[64];
  int denied = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
      snprintf(path, sizeof path, "%s/events", dirs[i]);
      if (access(path, F_OK) == 0)
        return dirs[i];
      denied |= errno == EACCES;
    }
    if (attempt == 1)
      break;
    if (denied || geteuid() != 0) {
      pr_why_add(c->why, c->whylen,
                 "complete syscalls: needs root (perf_event_open on tracepoints)");
      return NULL;
    }
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) != 0) {
      pr_why_add(c->why, c->whylen, "complete syscalls: tracefs not mounted and mount failed: %s",
                 strerror(errno));
      return NULL;
    }
  }
  pr_why_add(c->why, c->whylen,
             "complete syscalls: tracefs mounted on /sys/kernel/tracing has no events/");
  return NULL;
}

int pr_syscalls_open(open_ctx *c) {
  ctrace__perf *p = c->p;
  const char *dir = tracefs_find(c);
  if (!dir)
    return -1;
  uint64_t enter_id, exit_id;
  if (tp_load(c, dir, "sys_enter", "id", &p->enter_id, "args", &p->enter_args, &enter_id) != 0 ||
      tp_load(c, dir, "sys_exit", "id", &p->exit_id, "ret", &p->exit_ret, &exit_id) != 0)
    return -1;
  if (!is_word_size(p->enter_id.size) || !is_word_size(p->exit_id.size) ||
      !is_word_size(p->exit_ret.size) || p->enter_args.size % 6 != 0 ||
      !is_word_size(p->enter_args.size / 6)) {
    pr_why_add(c->why, c->whylen,
               "complete syscalls: unexpected field sizes in %s/events/raw_syscalls", dir);
    return -1;
  }
  struct perf_event_attr a;
  memset(&a, 0, sizeof a);
  a.size = sizeof a;
  a.type = PERF_TYPE_TRACEPOINT;
  a.sample_period = 1;
  a.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
  a.sample_id_all = 1;
  a.inherit = 1;
  a.use_clockid = 1;
  a.clockid = CLOCK_MONOTONIC;
  /* Not exclude_kernel: tracepoints fire in the kernel, it would hide them all. */
  size_t first = p->nrings;
  a.config = enter_id;
  if (pr_open_rings(c, &a, RING_SYS_ENTER, CTRACE__PERF_SYS_RING_PAGES, "complete syscalls",
                    "(raw_syscalls:sys_enter)") != 0)
    return -1;
  a.config = exit_id;
  if (pr_open_rings(c, &a, RING_SYS_EXIT, CTRACE__PERF_SYS_RING_PAGES, "complete syscalls",
                    "(raw_syscalls:sys_exit)") != 0) {
    while (p->nrings > first)
      pr_ring_unmap(&p->rings[--p->nrings]);
    return -1;
  }
  return 0;
}

/* ---- Reading --------------------------------------------------------------------- */

/* A field of a RAW payload as a signed value (sign-extended when the field
 * is signed and 4 bytes wide). @return 0, or -1 if out of bounds. */
static int raw_field(const unsigned char *raw, uint32_t rawlen, const tp_field *f, uint32_t index,
                     uint32_t width, uint64_t *out) {
  uint64_t off = (uint64_t)f->off + (uint64_t)index * width;
  if (off + width > rawlen)
    return -1;
  if (width == 8)
    *out = rd64(raw + off);
  else if (f->is_signed)
    *out = (uint64_t)(int64_t)(int32_t)rd32(raw + off);
  else
    *out = rd32(raw + off);
  return 0;
}

/* A raw_syscalls:sys_enter or sys_exit sample: pid, tid | time | cpu, res
 * | raw size | raw data. */
static void parse_syscall(ctrace__perf *p, const perf_ring *r, const unsigned char *rec,
                          uint32_t size) {
  struct perf_event_header h;
  memcpy(&h, rec, sizeof h);
  if (r->kind == RING_SCHED || size < sizeof h + 28) {
    p->malformed += r->kind != RING_SCHED;
    return;
  }
  const unsigned char *b = rec + sizeof h;
  int pid = (int)rd32(b);
  if (pid != p->pid && !p->tree)
    return;
  uint32_t rawlen = rd32(b + 24);
  const unsigned char *raw = b + 28;
  if ((uint64_t)rawlen > size - sizeof h - 28) {
    p->malformed++;
    return;
  }
  uint64_t nr, a0 = 0, a1 = 0, ret = 0;
  if (r->kind == RING_SYS_ENTER) {
    uint32_t w = p->enter_args.size / 6;
    if (raw_field(raw, rawlen, &p->enter_id, 0, p->enter_id.size, &nr) != 0 ||
        raw_field(raw, rawlen, &p->enter_args, 0, w, &a0) != 0 ||
        raw_field(raw, rawlen, &p->enter_args, 1, w, &a1) != 0) {
      p->malformed++;
      return;
    }
  } else if (raw_field(raw, rawlen, &p->exit_id, 0, p->exit_id.size, &nr) != 0 ||
             raw_field(raw, rawlen, &p->exit_ret, 0, p->exit_ret.size, &ret) != 0) {
    p->malformed++;
    return;
  }
  ctrace__kevent *e = pr_new_event(p, 0, pid, (int)rd32(b + 4), rd64(b + 8), (int)rd32(b + 16));
  if (!e)
    return;
  e->nr = (long)nr;
  if (r->kind == RING_SYS_ENTER) {
    e->kind = CTRACE__K_SYS_ENTER;
    e->args[0] = a0;
    e->args[1] = a1;
  } else {
    e->kind = CTRACE__K_SYS_EXIT;
    e->ret = (long)ret;
  }
}

/* The records of the context-switch and tracepoint rings. */
void pr_sched_parse(ctrace__perf *p, const perf_ring *r, const unsigned char *rec, uint32_t size) {
  struct perf_event_header h;
  memcpy(&h, rec, sizeof h);
  switch (h.type) {
  case PERF_RECORD_SWITCH:
  case PERF_RECORD_SWITCH_CPU_WIDE: {
    if (size < sizeof h + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *id = rec + size - SAMPLE_ID_LEN;
    int pid = (int)rd32(id);
    if (pid != p->pid && !p->tree)
      return;
    ctrace__kevent *e =
        pr_new_event(p, 0, pid, (int)rd32(id + 4), rd64(id + 8), (int)rd32(id + 16));
    if (!e)
      return;
    if (!(h.misc & PERF_RECORD_MISC_SWITCH_OUT))
      e->kind = CTRACE__K_SWITCH_IN;
    else if (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
      e->kind = CTRACE__K_SWITCH_OUT_PREEMPT;
    else
      e->kind = CTRACE__K_SWITCH_OUT;
    return;
  }
  case PERF_RECORD_EXIT: {
    /* pid, ppid, tid, ptid, time | sample_id */
    if (size < sizeof h + 24 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *b = rec + sizeof h, *id = rec + size - SAMPLE_ID_LEN;
    int pid = (int)rd32(b);
    if (pid != p->pid && !p->tree)
      return;
    pr_new_event(p, CTRACE__K_EXIT, pid, (int)rd32(b + 8), rd64(id + 8), (int)rd32(id + 16));
    return;
  }
  case PERF_RECORD_LOST: {
    /* Whatever process overflowed the ring, what was lost may be ours:
     * always delivered. */
    if (size < sizeof h + 16 + SAMPLE_ID_LEN) {
      p->malformed++;
      return;
    }
    const unsigned char *id = rec + size - SAMPLE_ID_LEN;
    ctrace__kevent *e =
        pr_new_event(p, CTRACE__K_LOST, (int)rd32(id), (int)rd32(id + 4), rd64(id + 8), r->cpu);
    if (e)
      e->lost = rd64(rec + sizeof h + 8);
    return;
  }
  case PERF_RECORD_SAMPLE: parse_syscall(p, r, rec, size); return;
  default: /* THROTTLE, UNTHROTTLE, ...: skipped by their size */ return;
  }
}
