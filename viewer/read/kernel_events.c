/* The kernel's stream of `ctrace run` (FILE.kernel, read.h) as typed events:
 * context switches become thread states (running, runnable, off CPU, and
 * what a thread's exit or its process's ends), system calls become calls
 * placed inside the regions that hold them, with the tracer's own work left
 * out, and a thread only the kernel knows gets a row of its own. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "common.h"
#include "read_internal.h"

typedef struct kthread {
  int tid, pid;
  int on;         /* 1 on a CPU, 0 off, -1 not seen yet, 2 exited */
  uint64_t since; /* when it went on or off */
  int cpu;
  uint8_t off_state; /* TE_ST_RUNNABLE or TE_ST_OFF */
} kthread;

typedef struct kdec {
  te_set_ctx *ctx;
  rd_trace *tr;
  te_source *src;
  te_handler fn;
  void *arg;
  int pid;
  kthread *ks;
  size_t nks, cap_ks;
  vh_map kt;   /* tid -> index in ks */
  vh_map seen; /* tids announced (TE_THREAD, implicit) */
  int err;
} kdec;

static void kemit(kdec *k, te_event *ev) {
  if (!k->err)
    k->err = k->fn(k->arg, k->src, ev);
}

static te_event kev(kdec *k, uint8_t type, int tid, uint64_t ts) {
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.pid = te__tid_pid(k->ctx, tid, k->pid);
  ev.tid = tid;
  ev.ts = ts;
  return ev;
}

/* A thread that only the kernel knows gets a row: named "tid N", or its
 * process's name when it is the process's main thread. */
static void kannounce(kdec *k, int tid) {
  if (te__tid_known(k->ctx, tid) || vh_get(&k->seen, (uint64_t)(uint32_t)tid))
    return;
  vh_put(&k->seen, (uint64_t)(uint32_t)tid, 1);
  te_event ev = kev(k, TE_THREAD, tid, 0);
  char name[64];
  snprintf(name, sizeof name, "tid %d", tid);
  const char *proc = tid == ev.pid ? te__process_of(k->ctx, ev.pid) : NULL;
  ev.flags = TE_F_IMPLICIT | TE_F_SORT;
  ev.u.thread.name = proc ? proc : name;
  ev.u.thread.sort = tid;
  kemit(k, &ev);
}

/* The tracer's own writer thread (compressing and writing the trace), whose
 * CPU samples are kept: the tracer's CPU cost, on a thread named so. */
#define TRACER_THREAD "ctrace writer (the tracer)"
static void kannounce_tracer(kdec *k, int tid) {
  if (te__tid_known(k->ctx, tid) || vh_get(&k->seen, (uint64_t)(uint32_t)tid))
    return;
  vh_put(&k->seen, (uint64_t)(uint32_t)tid, 1);
  te_event ev = kev(k, TE_THREAD, tid, 0);
  ev.flags = TE_F_IMPLICIT | TE_F_SORT;
  ev.u.thread.name = TRACER_THREAD;
  ev.u.thread.sort = tid;
  kemit(k, &ev);
}

static kthread *kthread_of(kdec *k, int tid, int create) {
  uint32_t *i = vh_get(&k->kt, (uint64_t)(uint32_t)tid);
  if (i)
    return &k->ks[*i];
  if (!create)
    return NULL;
  kthread *t = VH_PUSH(k->ks, k->nks, k->cap_ks);
  if (!t || vh_put(&k->kt, (uint64_t)(uint32_t)tid, (uint32_t)(k->nks - 1))) {
    k->err = CTRACE_ENOMEM;
    return NULL;
  }
  *t = (kthread){.tid = tid, .pid = te__tid_pid(k->ctx, tid, k->pid), .on = -1, .cpu = -1};
  return t;
}

static void kstate(kdec *k, const kthread *t, uint64_t end, int state, int cpu, uint16_t flags) {
  te_event ev = kev(k, TE_STATE, t->tid, t->since);
  ev.pid = t->pid;
  ev.dur = end > t->since ? end - t->since : 0;
  ev.u.state.state = (uint8_t)state;
  ev.u.state.cpu = cpu;
  ev.flags = flags;
  kemit(k, &ev);
}

/* The state a thread is in, ended at ns (by flags' reason). */
static void kclose(kdec *k, kthread *t, uint64_t ns, uint16_t flags) {
  if (t->on == 1)
    kstate(k, t, ns, TE_ST_RUNNING, t->cpu, flags);
  else if (t->on == 0)
    kstate(k, t, ns, t->off_state, -1, flags);
  t->on = 2; /* gone: later switches of the tid are ignored */
}

/* exit (the thread) or exit_group (every thread of its process). */
static void kexit(kdec *k, int tid, int group, uint64_t ns) {
  kthread *t = kthread_of(k, tid, 0);
  if (!t)
    return;
  int pid = t->pid;
  kclose(k, t, ns, TE_F_AT_EXIT);
  for (size_t i = 0; group && i < k->nks; i++)
    if (k->ks[i].pid == pid && k->ks[i].tid != tid && k->ks[i].on != 2)
      kclose(k, &k->ks[i], ns, TE_F_GROUP_EXIT);
}

static void kswitch(kdec *k, const rd_event *ev, int tid) {
  kannounce(k, tid);
  kthread *t = kthread_of(k, tid, 1);
  if (!t || t->on == 2)
    return;
  if (ev->arg[2] == CTRACE_FMT_SWITCH_IN) {
    if (t->on == 0)
      kstate(k, t, ev->ts, t->off_state, -1, 0);
    t->on = 1;
    t->cpu = (int)ev->arg[1];
  } else {
    if (t->on == 1)
      kstate(k, t, ev->ts, TE_ST_RUNNING, t->cpu, 0);
    t->on = 0;
    t->off_state = ev->arg[2] == CTRACE_FMT_SWITCH_OUT_PREEMPT ? TE_ST_RUNNABLE : TE_ST_OFF;
  }
  t->since = ev->ts;
}

static void ksyscall(kdec *k, const rd_event *ev, int tid) {
  uint64_t start = ev->ts > ev->arg[2] ? ev->ts - ev->arg[2] : 0;
  kannounce(k, tid);
  if ((ev->arg[1] == SYS_execve || ev->arg[1] == SYS_execveat) && ev->arg[4] == 0)
    te__spans_exec(k->ctx, tid, start);
  if (te__spans_cover(k->ctx, tid, start))
    return; /* the tracer's own (starting, writing, stopping) */
  te_event e = kev(k, TE_SYSCALL, tid, start);
  e.dur = ev->ts - start;
  e.flags = TE_F_KERNEL;
  e.depth = TE_DEPTH_INSIDE;
  e.u.syscall.nr = (long)ev->arg[1];
  e.u.syscall.arg = ev->arg[3];
  e.u.syscall.ret = ctrace_fmt_unzigzag(ev->arg[4]);
  kemit(k, &e);
  if (ev->arg[1] == SYS_exit || ev->arg[1] == SYS_exit_group)
    kexit(k, tid, ev->arg[1] == SYS_exit_group, ev->ts);
}

/* A CPU sample: its stack's addresses come from the trace's definitions. */
static void ksample(kdec *k, const rd_event *ev, int tid) {
  kannounce(k, tid);
  te_event e = kev(k, TE_SAMPLE, tid, ev->ts);
  uint64_t period = 0;
  rd_sampling(k->tr, &period, NULL);
  e.u.sample.stack = ev->arg[1] <= UINT32_MAX ? (uint32_t)ev->arg[1] : 0;
  e.u.sample.pcs = rd_stack(k->tr, e.u.sample.stack, &e.u.sample.n);
  e.u.sample.period = period;
  const kthread *t = kthread_of(k, tid, 0); /* (on a CPU since a switch in) */
  e.u.sample.cpu = t && t->on == 1 ? t->cpu : -1;
  if (ev->arg[2] & CTRACE_FMT_SAMPLE_PARTIAL)
    e.flags |= TE_F_PARTIAL;
  kemit(k, &e);
}

static void kevent(kdec *k, const rd_event *ev) {
  int tid = (int)ev->arg[0];
  switch (ev->type) {
  case CTRACE_FMT_EV_K_LOST: {
    te_event e = kev(k, TE_DROPPED, 0, ev->ts);
    e.pid = k->pid;
    e.flags = TE_F_PROCESS;
    e.u.drop.kind = TE_DROP_KERNEL;
    e.u.drop.n = ev->arg[1];
    kemit(k, &e);
    return;
  }
  case CTRACE_FMT_EV_K_TASK:
    if (ev->arg[1] <= INT32_MAX)
      te__tid_claim(k->ctx, tid, (int)ev->arg[1]);
    return;
  default: break;
  }
  if (te__spans_cover(k->ctx, tid, 0) == 2) { /* the tracer's writer thread: */
    if (ev->type == CTRACE_FMT_EV_K_SAMPLE) { /* its CPU time is the tracer's cost */
      kannounce_tracer(k, tid);
      ksample(k, ev, tid);
    }
    return; /* (its switches and system calls are the tracer's own work) */
  }
  if (ev->type != CTRACE_FMT_EV_K_EXIT)
    te__span_note(k->src, ev->ts); /* (the tracer's own calls too: they are in the trace) */
  if (ev->type == CTRACE_FMT_EV_K_EXIT) {
    kexit(k, tid, 0, ev->ts);
  } else if (ev->type == CTRACE_FMT_EV_K_SYSCALL) {
    ksyscall(k, ev, tid);
  } else if (ev->type == CTRACE_FMT_EV_K_SWITCH) {
    kswitch(k, ev, tid);
  } else if (ev->type == CTRACE_FMT_EV_K_SAMPLE) {
    ksample(k, ev, tid);
  }
}

int te__kernel_read(te_set_ctx *ctx, rd_trace *tr, te_source *src, te_handler fn, void *arg) {
  kdec k = {.ctx = ctx, .tr = tr, .src = src, .fn = fn, .arg = arg, .pid = rd_pid(tr)};
  rd_merge *m = rd_merge_open(tr);
  if (!m)
    return CTRACE_ENOMEM;
  rd_event ev;
  while (!k.err && rd_merge_next(m, &ev) == 1) {
    src->events++;
    if (rd_thread_get(tr, ev.thread)->kernel)
      kevent(&k, &ev);
  }
  rd_merge_close(m);
  /* Still on or off at the end: to the end of the trace. */
  for (size_t i = 0; !k.err && i < k.nks; i++)
    if (k.ks[i].on == 0 || k.ks[i].on == 1)
      kstate(&k, &k.ks[i], k.ks[i].since, k.ks[i].on == 1 ? TE_ST_RUNNING : k.ks[i].off_state,
             k.ks[i].on == 1 ? k.ks[i].cpu : -1, TE_F_TO_END);
  free(k.ks);
  vh_free(&k.kt);
  vh_free(&k.seen);
  return k.err;
}
