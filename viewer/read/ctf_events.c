/* LTTng traces (CTF) as typed events (read.h, te__ctf_read): the reader
 * behind a set's LTTng sources. Built alone as libctrace-ctf.so, the one
 * part of ctrace that links libbabeltrace2, and loaded by ctf_load.c when
 * an LTTng trace is first read (ctf_module.h).
 *
 * A babeltrace2 graph reads them: one src.ctf.fs per trace directory found
 * under the given one, all into a flt.utils.muxer (time order), into a
 * simple sink of our own that maps each message to the typed events the
 * native event of the same kind gives (docs/lttng.md has the table):
 *
 *   ctrace:*                 the native events, one for one
 *   lttng_ust_libc:*         a heap counter per process {live, allocated}
 *   lttng_ust_pthread:*      "mutex wait"s where another thread released
 *                            the mutex between the request and the
 *                            acquisition, with who released it
 *   sched_switch & co.       thread states, and syscall_entry/exit_* as
 *   (kernel)                 system calls
 *   discarded events         dropped events, counted per process
 *
 * Times are the raw value of the event's clock (LTTng's monotonic clock,
 * CLOCK_MONOTONIC) in ns, not babeltrace2's ns from origin, so that they
 * line up with native traces. Who: the events' own pid/tid fields
 * (ctrace:*), else the vpid/vtid (or pid/tid) contexts, else the trace's
 * environment (per-process buffers name the process), else, in the
 * kernel, the thread the last sched_switch put on the event's CPU. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <babeltrace2/babeltrace.h>

#include "common.h"
#include "ctf_module.h"
#include "ctrace/ctrace.h"
#include "read.h"
#include "read_internal.h"

/* What the tools give the module (ctf_module.h): kept from CTF_MODULE_ENTRY
 * on, before any read. */
static const ctf_host *host;

/* ---- What we read: event kinds and the payload fields each needs ---------------- */

enum {
  K_OTHER = 0,
  /* ctrace:* (tracer/lttng/tracepoints.h) */
  K_REGION_BEGIN,
  K_REGION_END,
  K_TASK_BEGIN,
  K_TASK_END,
  K_LOG,
  K_COUNTER,
  K_INSTANT,
  K_FLOW_BEGIN,
  K_FLOW_END,
  K_THREAD_NAME,
  K_GC_BEGIN,
  K_GC_END,
  K_HEAP,
  K_HEAP_SET,
  K_SCHED_CREATE,
  K_SCHED_RUN,
  K_SCHED_BLOCK,
  K_SCHED_UNBLOCK,
  K_SCHED_END,
  K_SYSCALL,
  K_WAIT,
  K_THREAD_CREATE,
  K_THREAD_START,
  K_THREAD_EXIT,
  K_TASK_SWITCH,
  /* lttng_ust_libc:* (liblttng-ust-libc-wrapper.so) */
  K_MALLOC,
  K_CALLOC,
  K_REALLOC,
  K_FREE,
  K_MEMALIGN,
  K_POSIX_MEMALIGN,
  /* lttng_ust_pthread:* (liblttng-ust-pthread-wrapper.so) */
  K_LOCK_REQ,
  K_LOCK_ACQ,
  K_UNLOCK,
  /* the kernel (lttng-modules) */
  K_SCHED_SWITCH,
  K_PROCESS_FORK,
  K_PROCESS_EXIT,
  K_STATEDUMP,
  K_SYS_ENTRY,
  K_SYS_EXIT,
  K_COUNT_
};

#define MAX_FIELDS 5

static const struct kind_def {
  const char *name;
  const char *fields[MAX_FIELDS];
} kinds[K_COUNT_] = {
    [K_REGION_BEGIN] = {"ctrace:region_begin", {"site", "name"}},
    [K_REGION_END] = {"ctrace:region_end", {NULL}},
    [K_TASK_BEGIN] = {"ctrace:task_begin", {"task", "parent", "name"}},
    [K_TASK_END] = {"ctrace:task_end", {"task"}},
    [K_LOG] = {"ctrace:log", {"task", "category", "message"}},
    [K_COUNTER] = {"ctrace:counter", {"site", "name", "value"}},
    [K_INSTANT] = {"ctrace:instant", {"site", "name"}},
    [K_FLOW_BEGIN] = {"ctrace:flow_begin", {"id"}},
    [K_FLOW_END] = {"ctrace:flow_end", {"id"}},
    [K_THREAD_NAME] = {"ctrace:thread_name", {"name"}},
    [K_GC_BEGIN] = {"ctrace:gc_begin", {"kind"}},
    [K_GC_END] = {"ctrace:gc_end", {NULL}},
    [K_HEAP] = {"ctrace:heap", {"live", "allocated", "peak"}},
    [K_HEAP_SET] = {"ctrace:heap_set", {"live", "goal"}},
    [K_SCHED_CREATE] = {"ctrace:sched_create", {"id", "name"}},
    [K_SCHED_RUN] = {"ctrace:sched_run", {"id"}},
    [K_SCHED_BLOCK] = {"ctrace:sched_block", {"reason"}},
    [K_SCHED_UNBLOCK] = {"ctrace:sched_unblock", {"id"}},
    [K_SCHED_END] = {"ctrace:sched_end", {"id"}},
    [K_SYSCALL] = {"ctrace:syscall", {"nr", "duration_ns", "arg", "ret"}},
    [K_WAIT] = {"ctrace:wait", {"kind", "duration_ns", "object", "waker_tid"}},
    [K_THREAD_CREATE] = {"ctrace:thread_create", {"flow"}},
    [K_THREAD_START] = {"ctrace:thread_start", {"flow"}},
    [K_THREAD_EXIT] = {"ctrace:thread_exit", {NULL}},
    [K_TASK_SWITCH] = {"ctrace:task_switch", {"task"}},
    [K_MALLOC] = {"lttng_ust_libc:malloc", {"size", "ptr"}},
    [K_CALLOC] = {"lttng_ust_libc:calloc", {"nmemb", "size", "ptr"}},
    [K_REALLOC] = {"lttng_ust_libc:realloc", {"in_ptr", "size", "ptr"}},
    [K_FREE] = {"lttng_ust_libc:free", {"ptr"}},
    [K_MEMALIGN] = {"lttng_ust_libc:memalign", {"size", "ptr"}},
    [K_POSIX_MEMALIGN] = {"lttng_ust_libc:posix_memalign", {"size", "out_ptr", "result"}},
    [K_LOCK_REQ] = {"lttng_ust_pthread:pthread_mutex_lock_req", {"mutex"}},
    [K_LOCK_ACQ] = {"lttng_ust_pthread:pthread_mutex_lock_acq", {"mutex", "status"}},
    [K_UNLOCK] = {"lttng_ust_pthread:pthread_mutex_unlock", {"mutex", "status"}},
    [K_SCHED_SWITCH] = {"sched_switch",
                        {"prev_tid", "prev_state", "next_tid", "prev_comm", "next_comm"}},
    [K_PROCESS_FORK] = {"sched_process_fork", {"child_tid", "child_pid", "child_comm"}},
    [K_PROCESS_EXIT] = {"sched_process_exit", {"tid"}},
    [K_STATEDUMP] = {"lttng_statedump_process_state", {"tid", "pid", "name"}},
    [K_SYS_ENTRY] = {NULL, {NULL}}, /* syscall_entry_NAME: its first integer argument */
    [K_SYS_EXIT] = {NULL, {"ret"}}, /* syscall_exit_NAME */
};

/* What we know of an event class (looked up once, by its address). */
typedef struct evclass {
  uint8_t kind;
  int16_t f[MAX_FIELDS];           /* payload member index of kinds[kind].fields[i], or -1 */
  int16_t pid, tid;                /* payload members pid/tid (ctrace:*), or -1 */
  int16_t cx_pid, cx_tid, cx_name; /* common context: vpid (pid), vtid (tid), procname */
  int16_t first_int;               /* syscall_entry_*: first integer member (the fd, ...) */
  long sysnr;                      /* syscall events: the number, or -1 */
  uint32_t sysname;                /* syscall events: interned name */
  uint32_t name;                   /* interned event name */
  uint64_t count;
} evclass;

/* ---- Interned strings -------------------------------------------------------------- */

typedef struct strtab {
  char **s; /* [0] unused: id 0 is "none" */
  uint32_t *len;
  uint32_t *next; /* chain of ids with the same hash */
  size_t n, cap;
  vh_map ix; /* hash -> first id */
} strtab;

/* The id of s[0..n) (added if new), or 0 when out of memory. */
static uint32_t intern(strtab *t, const char *s, size_t n) {
  uint64_t h = ctrace__fnv1a(s, n, 0);
  uint32_t *head = vh_get(&t->ix, h);
  for (uint32_t id = head ? *head : 0; id; id = t->next[id])
    if (t->len[id] == n && memcmp(t->s[id], s, n) == 0)
      return id;
  if (t->n + 1 >= t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    char **ns = realloc(t->s, cap * sizeof *ns);
    if (ns)
      t->s = ns;
    uint32_t *nl = ns ? realloc(t->len, cap * sizeof *nl) : NULL;
    if (nl)
      t->len = nl;
    uint32_t *nn = nl ? realloc(t->next, cap * sizeof *nn) : NULL;
    if (!nn)
      return 0;
    t->next = nn;
    t->cap = cap;
    if (!t->n)
      t->n = 1;
  }
  char *copy = strndup(s, n);
  if (!copy)
    return 0;
  uint32_t id = (uint32_t)t->n++;
  t->s[id] = copy;
  t->len[id] = (uint32_t)n;
  t->next[id] = head ? *head : 0;
  if (vh_put(&t->ix, h, id))
    return 0;
  return id;
}

static uint32_t intern_c(strtab *t, const char *s) { return intern(t, s, strlen(s)); }

static void strtab_free(strtab *t) {
  for (size_t i = 1; i < t->n; i++)
    free(t->s[i]);
  free(t->s);
  free(t->len);
  free(t->next);
  vh_free(&t->ix);
}

/* ---- State ------------------------------------------------------------------------- */

typedef struct rentry {
  uint32_t name;
  uint8_t is_gc;
} rentry;

typedef struct cthread {
  int pid, tid;
  uint8_t pid_guessed; /* kernel only: pid = tid until a process claims it */
  uint8_t named_by_ctrace;
  uint8_t announced; /* its M thread_name was written */
  uint8_t state_row; /* its kernel state row was named */
  uint32_t name;     /* the name written (interned), 0 = "thread N" */
  uint32_t sort;
  rentry *stack;
  size_t depth, cap;
  uint64_t last_ts;
  uint64_t run_item;
  uint64_t task; /* current task (ctrace:task_switch): its regions name it */
  /* lttng_ust_pthread: the lock it asked for */
  uint64_t lock_obj, lock_ts;
  int lock_owner; /* who held lock_obj when this thread asked for it */
  /* kernel: its system call, and its scheduling state */
  uint32_t sys_class; /* evclass index + 1 of the pending syscall_entry, 0 none */
  uint64_t sys_ts, sys_arg;
  uint64_t k_since;
  int8_t k_on;   /* -1 unseen, 0 off, 1 on a CPU, 2 exited */
  uint8_t k_off; /* off because preempted */
  uint16_t k_cpu;
  uint32_t comm; /* the kernel's name for it (sched_switch, statedump) */
} cthread;

typedef struct cheap {
  int64_t live, peak;
  uint64_t allocated;
  uint64_t last_emit, last_ts;
  int dirty, last_tid;
  vh_map ptrs; /* block address -> index in sizes */
  uint64_t *sizes;
  size_t nsizes, cap_sizes;
  uint32_t *free_slots;
  size_t nfree, cap_free;
} cheap;

typedef struct cproc {
  int pid;
  uint32_t name;      /* best name so far (interned), 0 none */
  uint32_t written;   /* the name its M process_name says */
  uint8_t main_named; /* the name came from its main thread or the trace environment */
  uint8_t announced;  /* its M process_name was written */
  uint64_t events, discarded;
  uint32_t threads;
  cheap *heap;
} cproc;

typedef struct cmutex {
  uint64_t addr;
  int pid, tid; /* who released it last */
  uint64_t ts;
  int owner; /* who holds it (0: free, as far as the events say) */
} cmutex;

typedef struct ctrace_info {
  const bt_trace *trace;
  int kernel;
  int vpid; /* per-process buffers: the process, else 0 */
  uint32_t procname;
} ctrace_info;

typedef struct conv {
  te_handler fn;
  void *arg;
  te_source *src;
  int err; /* the handler's error: stops the graph */
  ctf_stats st;
  const char *dir;
  char **paths;
  size_t npaths;
  strtab strs;
  evclass *classes;
  size_t nclasses, cap_classes;
  vh_map class_of; /* event class address -> index */
  cthread *threads;
  size_t nthreads, cap_threads;
  vh_map thread_of; /* tid -> index */
  cproc *procs;
  size_t nprocs, cap_procs;
  vh_map proc_of; /* pid -> index */
  vh_map tid_pid; /* tid -> pid, as the kernel's statedump and forks say */
  vh_map tasks;   /* open task id -> name */
  vh_map items;   /* user-level item id -> name */
  cmutex *mutexes;
  size_t nmutexes, cap_mutexes;
  vh_map mutex_of; /* hash(pid, address) -> index */
  ctrace_info *tinfo;
  size_t ntinfo, cap_tinfo;
  vh_map stream_pid; /* stream address -> pid of its last event */
  int *cpu_tid;      /* kernel: the thread on each CPU */
  size_t ncpus;
  uint64_t last_ts;
  int failed; /* out of memory in the sink */
  int live;   /* an lttng-live URL */
} conv;

#define GROW VH_PUSH

/* ---- Emitting typed events ----------------------------------------------------------- */

static void emit(conv *c, te_event *ev) {
  if (!c->err && !c->failed)
    c->err = c->fn(c->arg, c->src, ev);
}

static te_event ev_at(uint8_t type, int pid, int tid, uint64_t ts) {
  te_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = type;
  ev.pid = pid;
  ev.tid = tid;
  ev.ts = ts;
  return ev;
}

static te_event tev(const cthread *t, uint8_t type, uint64_t ts) {
  te_event ev = ev_at(type, t->pid, t->tid, ts);
  ev.depth = (uint16_t)(t->depth < 0xfff0 ? t->depth : 0xfff0);
  return ev;
}

/* An interned string (id 0: ""). */
static const char *str_of(const conv *c, uint32_t id) {
  return id && id < c->strs.n ? c->strs.s[id] : "";
}

static void flow_point(conv *c, const cthread *t, uint64_t ts, uint64_t id, int begin, int kind) {
  te_event ev = tev(t, TE_FLOW, ts);
  ev.u.flow.id = id;
  ev.u.flow.kind = (uint8_t)kind;
  if (!begin)
    ev.flags |= TE_F_FLOW_END;
  emit(c, &ev);
}

static void write_instant(conv *c, const cthread *t, uint64_t ts, const char *name,
                          const char *cat) {
  te_label l = {name, cat, NULL, NULL, 0, 0};
  te_event ev = tev(t, TE_INSTANT, ts);
  ev.label = &l;
  emit(c, &ev);
}

/* A system call from start to end; name: te_syscall_name(nr), else the
 * kernel's name for it (interned), else "syscall NR". */
static void write_syscall(conv *c, const cthread *t, uint64_t start, uint64_t end, long nr,
                          uint32_t name, uint64_t arg, int64_t ret, int kernel) {
  te_event ev = tev(t, TE_SYSCALL, start);
  ev.dur = end > start ? end - start : 0;
  ev.u.syscall.nr = nr;
  ev.u.syscall.name = name ? str_of(c, name) : NULL;
  ev.u.syscall.arg = arg;
  ev.u.syscall.ret = ret;
  if (kernel)
    ev.flags |= TE_F_KERNEL;
  emit(c, &ev);
}

/* A wait of kind (CTRACE_FMT_WAIT_*) from start to end, and who released
 * it at wake_ts (if a waker is known). */
static void write_wait(conv *c, const cthread *t, uint64_t start, uint64_t end, unsigned kind,
                       uint64_t object, const cthread *waker, uint64_t wake_ts) {
  te_event ev = tev(t, TE_WAIT, start);
  ev.dur = end > start ? end - start : 0;
  ev.u.wait.kind = kind;
  ev.u.wait.object = object;
  if (waker) {
    ev.u.wait.waker_pid = waker->pid;
    ev.u.wait.waker_tid = waker->tid;
    ev.u.wait.release_ts = wake_ts;
    ev.flags |= TE_F_RELEASE;
  }
  emit(c, &ev);
}

/* ---- Processes and threads --------------------------------------------------------- */

static cproc *proc_get(conv *c, int pid) {
  uint32_t *i = vh_get(&c->proc_of, (uint64_t)(uint32_t)pid);
  if (i)
    return &c->procs[*i];
  cproc *p = GROW(c->procs, c->nprocs, c->cap_procs);
  if (!p) {
    c->failed = 1;
    return NULL;
  }
  memset(p, 0, sizeof *p);
  p->pid = pid;
  if (vh_put(&c->proc_of, (uint64_t)(uint32_t)pid, (uint32_t)(c->nprocs - 1))) {
    c->nprocs--;
    c->failed = 1;
    return NULL;
  }
  return p;
}

static void proc_write_name(conv *c, cproc *p) {
  te_event ev = ev_at(TE_PROCESS, p->pid, 0, c->last_ts);
  ev.u.thread.name = p->name ? c->strs.s[p->name] : NULL;
  emit(c, &ev);
  p->written = p->name;
}

/* A process gets its M process_name once it has something to show. */
static void proc_announce(conv *c, int pid) {
  uint32_t *i = vh_get(&c->proc_of, (uint64_t)(uint32_t)pid);
  if (i && !c->procs[*i].announced) {
    c->procs[*i].announced = 1;
    proc_write_name(c, &c->procs[*i]);
  }
}

/* A better name for process p (main: from its main thread or the trace's
 * environment); its M process_name is written again if it changes. */
static void proc_name(conv *c, cproc *p, uint32_t name, int is_main) {
  if (!name || (p->main_named && !is_main) || name == p->name)
    return;
  p->name = name;
  p->main_named |= (uint8_t)is_main;
  if (p->announced && p->written != name)
    proc_write_name(c, p);
}

static void thread_announce(conv *c, cthread *t) {
  proc_announce(c, t->pid);
  te_event ev = ev_at(TE_THREAD, t->pid, t->tid, c->last_ts);
  ev.u.thread.name = t->name ? str_of(c, t->name) : NULL;
  if (!t->announced) {
    ev.flags |= TE_F_SORT;
    ev.u.thread.sort = (int)t->sort;
  }
  emit(c, &ev);
  t->announced = 1;
}

/* The thread tid of process pid (pid 0: unknown, the kernel's view). */
static cthread *thread_get(conv *c, int pid, int tid) {
  uint32_t *i = vh_get(&c->thread_of, (uint64_t)(uint32_t)tid);
  if (i) {
    cthread *t = &c->threads[*i];
    if (!pid || t->pid == pid)
      return t;
    if (t->pid_guessed) { /* the kernel saw it first: now we know its process */
      t->pid = pid;
      t->pid_guessed = 0;
      cproc *p = proc_get(c, pid);
      if (p)
        t->sort = ++p->threads;
      return t;
    }
    /* else the tid was reused by another process: a new thread */
  }
  int guessed = 0;
  if (!pid) {
    uint32_t *k = vh_get(&c->tid_pid, (uint64_t)(uint32_t)tid);
    pid = k ? (int)*k : tid; /* (a thread whose process is unknown: its own) */
    guessed = !k;
  }
  cthread *t = GROW(c->threads, c->nthreads, c->cap_threads);
  if (!t) {
    c->failed = 1;
    return NULL;
  }
  memset(t, 0, sizeof *t);
  t->pid = pid;
  t->tid = tid;
  t->pid_guessed = (uint8_t)guessed;
  t->k_on = -1;
  if (vh_put(&c->thread_of, (uint64_t)(uint32_t)tid, (uint32_t)(c->nthreads - 1))) {
    c->nthreads--;
    c->failed = 1;
    return NULL;
  }
  cproc *p = proc_get(c, pid);
  if (p)
    t->sort = ++p->threads;
  return t;
}

/* The thread's name is name (procname or ctrace's): written when it
 * changes. A procname equal to the process's is no name of its own. */
static void thread_name(conv *c, cthread *t, uint32_t name, int from_ctrace) {
  if (from_ctrace)
    t->named_by_ctrace = 1;
  else if (t->named_by_ctrace)
    name = t->name;
  else {
    uint32_t *pi = vh_get(&c->proc_of, (uint64_t)(uint32_t)t->pid);
    if (pi && c->procs[*pi].name == name && t->tid != t->pid)
      name = 0;
  }
  if (!t->announced || name != t->name) {
    t->name = name;
    thread_announce(c, t);
  }
}

/* ---- Reading fields ---------------------------------------------------------------- */

static const bt_field *member(const bt_field *st, int idx) {
  return st && idx >= 0 ? bt_field_structure_borrow_member_field_by_index_const(st, (uint64_t)idx)
                        : NULL;
}

static int is_int(const bt_field *f) {
  bt_field_class_type t = bt_field_get_class_type(f);
  return bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_INTEGER);
}

static int64_t fint(const bt_field *f) {
  if (!f)
    return 0;
  bt_field_class_type t = bt_field_get_class_type(f);
  if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER))
    return bt_field_integer_signed_get_value(f);
  if (bt_field_class_type_is(t, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER))
    return (int64_t)bt_field_integer_unsigned_get_value(f);
  return 0;
}

static const char *fstr(const bt_field *f, size_t *n) {
  if (!f || bt_field_get_class_type(f) != BT_FIELD_CLASS_TYPE_STRING) {
    *n = 0;
    return "";
  }
  *n = bt_field_string_get_length(f);
  return bt_field_string_get_value(f);
}

/* Index of member name in a structure field class, or -1. */
static int16_t member_index(const bt_field_class *fc, const char *name) {
  if (!fc || bt_field_class_get_type(fc) != BT_FIELD_CLASS_TYPE_STRUCTURE)
    return -1;
  uint64_t n = bt_field_class_structure_get_member_count(fc);
  for (uint64_t i = 0; i < n && i < INT16_MAX; i++) {
    const bt_field_class_structure_member *m =
        bt_field_class_structure_borrow_member_by_index_const(fc, i);
    if (!strcmp(bt_field_class_structure_member_get_name(m), name))
      return (int16_t)i;
  }
  return -1;
}

/* x86-64 number of a system call name, or -1. */
static long syscall_nr(const char *name) { return host->syscall_nr(name); }

static const ctrace_info *trace_info(conv *c, const bt_trace *tr) {
  for (size_t i = 0; i < c->ntinfo; i++)
    if (c->tinfo[i].trace == tr)
      return &c->tinfo[i];
  ctrace_info *ti = GROW(c->tinfo, c->ntinfo, c->cap_tinfo);
  if (!ti) {
    c->failed = 1;
    return NULL;
  }
  memset(ti, 0, sizeof *ti);
  ti->trace = tr;
  const bt_value *v = bt_trace_borrow_environment_entry_value_by_name_const(tr, "domain");
  ti->kernel = v && bt_value_is_string(v) && !strcmp(bt_value_string_get(v), "kernel");
  if (ti->kernel)
    c->st.kernel = 1;
  v = bt_trace_borrow_environment_entry_value_by_name_const(tr, "vpid");
  if (v && bt_value_is_signed_integer(v))
    ti->vpid = (int)bt_value_integer_signed_get(v);
  v = bt_trace_borrow_environment_entry_value_by_name_const(tr, "procname");
  if (v && bt_value_is_string(v))
    ti->procname = intern_c(&c->strs, bt_value_string_get(v));
  return ti;
}

static evclass *class_get(conv *c, const bt_event_class *ec, const ctrace_info *ti) {
  uint32_t *i = vh_get(&c->class_of, (uint64_t)(uintptr_t)ec);
  if (i)
    return &c->classes[*i];
  evclass *k = GROW(c->classes, c->nclasses, c->cap_classes);
  if (!k || vh_put(&c->class_of, (uint64_t)(uintptr_t)ec, (uint32_t)(c->nclasses - 1))) {
    c->failed = 1;
    return NULL;
  }
  memset(k, 0, sizeof *k);
  const char *name = bt_event_class_get_name(ec);
  if (!name)
    name = "";
  k->name = intern_c(&c->strs, name);
  k->sysnr = -1;
  for (int j = 1; j < K_COUNT_; j++)
    if (kinds[j].name && !strcmp(kinds[j].name, name) &&
        (j < K_SCHED_SWITCH ? !ti->kernel : ti->kernel))
      k->kind = (uint8_t)j;
  if (ti->kernel && !k->kind) {
    const char *s = NULL;
    if (!strncmp(name, "syscall_entry_", 14))
      k->kind = K_SYS_ENTRY, s = name + 14;
    else if (!strncmp(name, "syscall_exit_", 13))
      k->kind = K_SYS_EXIT, s = name + 13;
    if (s) {
      k->sysnr = syscall_nr(s);
      k->sysname = intern_c(&c->strs, s);
    }
  }
  const bt_field_class *pl = bt_event_class_borrow_payload_field_class_const(ec);
  for (int j = 0; j < MAX_FIELDS; j++)
    k->f[j] = kinds[k->kind].fields[j] ? member_index(pl, kinds[k->kind].fields[j]) : -1;
  k->pid = k->kind >= K_REGION_BEGIN && k->kind <= K_THREAD_EXIT ? member_index(pl, "pid") : -1;
  k->tid = k->pid >= 0 ? member_index(pl, "tid") : -1;
  k->first_int = -1;
  if (k->kind == K_SYS_ENTRY && pl) {
    uint64_t n = bt_field_class_structure_get_member_count(pl);
    for (uint64_t j = 0; j < n && j < INT16_MAX; j++) {
      const bt_field_class *m = bt_field_class_structure_member_borrow_field_class_const(
          bt_field_class_structure_borrow_member_by_index_const(pl, j));
      if (bt_field_class_type_is(bt_field_class_get_type(m), BT_FIELD_CLASS_TYPE_INTEGER)) {
        k->first_int = (int16_t)j;
        break;
      }
    }
  }
  const bt_stream_class *sc = bt_event_class_borrow_stream_class_const(ec);
  const bt_field_class *cx = bt_stream_class_borrow_event_common_context_field_class_const(sc);
  k->cx_pid = member_index(cx, "vpid");
  if (k->cx_pid < 0)
    k->cx_pid = member_index(cx, "pid");
  k->cx_tid = member_index(cx, "vtid");
  if (k->cx_tid < 0)
    k->cx_tid = member_index(cx, "tid");
  k->cx_name = member_index(cx, "procname");
  return k;
}

/* ---- The heap (lttng_ust_libc) --------------------------------------------------------- */

static cheap *heap_of(conv *c, cproc *p) {
  if (!p->heap && !(p->heap = calloc(1, sizeof *p->heap)))
    c->failed = 1;
  return p->heap;
}

static void heap_add(conv *c, cheap *h, uint64_t ptr, uint64_t size) {
  if (!ptr)
    return;
  uint32_t *old = vh_get(&h->ptrs, ptr);
  if (old) { /* (its free was not seen) */
    h->live -= (int64_t)h->sizes[*old];
    h->sizes[*old] = size;
  } else {
    uint32_t slot;
    if (h->nfree) {
      slot = h->free_slots[--h->nfree];
    } else {
      uint64_t *s = GROW(h->sizes, h->nsizes, h->cap_sizes);
      if (!s) {
        c->failed = 1;
        return;
      }
      slot = (uint32_t)(h->nsizes - 1);
    }
    h->sizes[slot] = size;
    if (vh_put(&h->ptrs, ptr, slot)) {
      c->failed = 1;
      return;
    }
  }
  h->live += (int64_t)size;
  h->allocated += size;
}

static void heap_del(conv *c, cheap *h, uint64_t ptr) {
  uint32_t slot;
  if (!ptr || !vh_del(&h->ptrs, ptr, &slot))
    return; /* allocated before the trace began */
  h->live -= (int64_t)h->sizes[slot];
  uint32_t *f = GROW(h->free_slots, h->nfree, h->cap_free);
  if (f)
    *f = slot;
  else
    c->failed = 1;
}

static void heap_write(conv *c, int pid, int tid, cheap *h, uint64_t ts) {
  te_event ev = ev_at(TE_HEAP, pid, tid, ts);
  ev.u.heap.live = h->live;
  ev.u.heap.allocated = h->allocated;
  emit(c, &ev);
  h->last_emit = ts;
  h->dirty = 0;
}

/* As the native wrappers do: at most one sample per 100 us (per process
 * here), plus every new peak; the last one at the end. */
static void heap_event(conv *c, const evclass *k, const bt_field *pl, cthread *t, uint64_t ts) {
  uint32_t *pi = vh_get(&c->proc_of, (uint64_t)(uint32_t)t->pid);
  cheap *h = pi ? heap_of(c, &c->procs[*pi]) : NULL;
  if (!h)
    return;
  uint64_t a = (uint64_t)fint(member(pl, k->f[0])), b = (uint64_t)fint(member(pl, k->f[1])),
           d = (uint64_t)fint(member(pl, k->f[2]));
  switch (k->kind) {
  case K_MALLOC: heap_add(c, h, b, a); break;     /* size, ptr */
  case K_CALLOC: heap_add(c, h, d, a * b); break; /* nmemb, size, ptr */
  case K_REALLOC:                                 /* in_ptr, size, ptr */
    if (d || !b)
      heap_del(c, h, a);
    heap_add(c, h, d, b);
    break;
  case K_FREE: heap_del(c, h, a); break;        /* ptr */
  case K_MEMALIGN: heap_add(c, h, b, a); break; /* size, ptr */
  case K_POSIX_MEMALIGN:                        /* size, out_ptr, result */
    if (!d)
      heap_add(c, h, b, a);
    break;
  default: break;
  }
  h->last_ts = ts;
  h->last_tid = t->tid;
  if (h->live > h->peak || ts - h->last_emit >= 100000) {
    if (h->live > h->peak)
      h->peak = h->live;
    heap_write(c, t->pid, t->tid, h, ts);
  } else {
    h->dirty = 1;
  }
}

/* ---- Locks (lttng_ust_pthread) --------------------------------------------------------- */

static cmutex *mutex_get(conv *c, int pid, uint64_t addr, int create) {
  uint64_t key = (addr * 0x9e3779b97f4a7c15ull) ^ (uint64_t)(uint32_t)pid;
  uint32_t *i = vh_get(&c->mutex_of, key);
  if (i)
    return c->mutexes[*i].addr == addr && c->mutexes[*i].pid == pid ? &c->mutexes[*i] : NULL;
  if (!create)
    return NULL;
  cmutex *m = GROW(c->mutexes, c->nmutexes, c->cap_mutexes);
  if (!m || vh_put(&c->mutex_of, key, (uint32_t)(c->nmutexes - 1))) {
    c->failed = 1;
    return NULL;
  }
  memset(m, 0, sizeof *m);
  m->addr = addr;
  m->pid = pid;
  return m;
}

/* A lock waited for if another thread released it after the request: the
 * request and the acquisition are one "mutex wait", with the arrow from
 * the last release. (pthread_cond_wait re-takes its mutex inside glibc,
 * unseen: the holder is not known, only the releases.) */
static void lock_event(conv *c, const evclass *k, const bt_field *pl, cthread *t, uint64_t ts) {
  uint64_t addr = (uint64_t)fint(member(pl, k->f[0]));
  int64_t status = fint(member(pl, k->f[1]));
  if (k->kind == K_LOCK_REQ) {
    cmutex *m = mutex_get(c, t->pid, addr, 1);
    t->lock_obj = addr;
    t->lock_ts = ts;
    t->lock_owner = m ? m->owner : 0;
    return;
  }
  if (k->kind == K_UNLOCK) {
    cmutex *m = status ? NULL : mutex_get(c, t->pid, addr, 1);
    if (m) {
      m->tid = t->tid;
      m->ts = ts;
      if (m->owner == t->tid)
        m->owner = 0;
    }
    return;
  }
  /* K_LOCK_ACQ */
  if (t->lock_obj != addr || !t->lock_ts) {
    t->lock_obj = 0;
    return;
  }
  uint64_t start = t->lock_ts;
  int owner = t->lock_owner;
  t->lock_obj = t->lock_ts = 0;
  t->lock_owner = 0;
  cmutex *m = status ? NULL : mutex_get(c, t->pid, addr, 1);
  if (!m)
    return;
  /* Contended: another thread released it meanwhile, or held it when we
   * asked (the wrapper records an unlock after it, so the released thread's
   * acquisition can come first: the release is then taken as now). */
  int released = m->tid != t->tid && m->ts >= start;
  int held = owner && owner != t->tid;
  m->owner = t->tid;
  if (!released && !held)
    return; /* it was free */
  int waker = released ? m->tid : owner;
  uint32_t *wi = vh_get(&c->thread_of, (uint64_t)(uint32_t)waker);
  const cthread *w = wi && c->threads[*wi].pid == t->pid ? &c->threads[*wi] : NULL;
  write_wait(c, t, start, ts, CTRACE_FMT_WAIT_MUTEX, addr, w, released ? m->ts : ts);
}

/* ---- The kernel -------------------------------------------------------------------------- */

/* A thread's scheduler state over [start, end) (TE_ST_*; flags TE_F_*). */
static void write_state(conv *c, cthread *t, uint64_t start, uint64_t end, int state, int cpu,
                        uint16_t flags) {
  if (!t->state_row) {
    proc_announce(c, t->pid);
    t->state_row = 1;
  }
  te_event ev = ev_at(TE_STATE, t->pid, t->tid, start);
  ev.dur = end > start ? end - start : 0;
  ev.u.state.state = (uint8_t)state;
  ev.u.state.cpu = cpu;
  ev.flags = flags;
  emit(c, &ev);
}

/* A thread the kernel names: its own row gets the kernel's name unless
 * something better names it. */
static cthread *kthread(conv *c, int tid, uint32_t comm) {
  cthread *t = thread_get(c, 0, tid);
  if (t && comm && !t->comm) {
    t->comm = comm;
    if (t->pid_guessed || t->tid == t->pid) {
      cproc *p = proc_get(c, t->pid);
      if (p && t->tid == t->pid)
        proc_name(c, p, comm, 1);
    }
  }
  return t;
}

static int cpu_of(const bt_event *ev) {
  const bt_packet *pk = bt_event_borrow_packet_const(ev);
  const bt_field *ctx = pk ? bt_packet_borrow_context_field_const(pk) : NULL;
  const bt_field *f =
      ctx ? bt_field_structure_borrow_member_field_by_name_const(ctx, "cpu_id") : NULL;
  return f && is_int(f) ? (int)fint(f) : -1;
}

static void set_cpu_tid(conv *c, int cpu, int tid) {
  if (cpu < 0 || cpu > 65535)
    return;
  if ((size_t)cpu >= c->ncpus) {
    size_t n = (size_t)cpu + 1;
    int *p = realloc(c->cpu_tid, n * sizeof *p);
    if (!p) {
      c->failed = 1;
      return;
    }
    for (size_t i = c->ncpus; i < n; i++)
      p[i] = -1;
    c->cpu_tid = p;
    c->ncpus = n;
  }
  c->cpu_tid[cpu] = tid;
}

static uint32_t comm_of(conv *c, const bt_field *f) {
  size_t n;
  const char *s = fstr(f, &n);
  return n ? intern(&c->strs, s, n) : 0;
}

/* TASK_REPORT_MAX (0x100 since Linux 4.14) or 0 (TASK_RUNNING): preempted. */
static int preempted(int64_t prev_state) { return prev_state == 0 || (prev_state & 0x100); }

static void kernel_event(conv *c, const evclass *k, const bt_event *ev, const bt_field *pl,
                         const bt_field *cx, uint64_t ts) {
  int cpu = cpu_of(ev);
  switch (k->kind) {
  case K_SCHED_SWITCH: {
    int prev = (int)fint(member(pl, k->f[0])), next = (int)fint(member(pl, k->f[2]));
    if (prev > 0) { /* (0: the idle task) */
      cthread *t = kthread(c, prev, comm_of(c, member(pl, k->f[3])));
      if (t && t->k_on != 2) {
        if (t->k_on == 1)
          write_state(c, t, t->k_since, ts, TE_ST_RUNNING, t->k_cpu, 0);
        t->k_on = 0;
        t->k_off = (uint8_t)preempted(fint(member(pl, k->f[1])));
        t->k_since = ts;
      }
    }
    if (next > 0) {
      cthread *t = kthread(c, next, comm_of(c, member(pl, k->f[4])));
      if (t && t->k_on != 2) {
        if (t->k_on == 0)
          write_state(c, t, t->k_since, ts, t->k_off ? TE_ST_RUNNABLE : TE_ST_OFF, -1, 0);
        t->k_on = 1;
        t->k_cpu = (uint16_t)(cpu < 0 ? 0 : cpu);
        t->k_since = ts;
      }
    }
    set_cpu_tid(c, cpu, next);
    return;
  }
  case K_PROCESS_FORK:
  case K_STATEDUMP: {
    int tid = (int)fint(member(pl, k->f[0])), pid = (int)fint(member(pl, k->f[1]));
    if (tid > 0 && pid > 0 && vh_put(&c->tid_pid, (uint64_t)(uint32_t)tid, (uint32_t)pid))
      c->failed = 1;
    if (tid > 0 && pid > 0) {
      cthread *t = thread_get(c, pid, tid);
      uint32_t comm = comm_of(c, member(pl, k->f[2]));
      if (t && comm && !t->comm)
        t->comm = comm;
      if (t && comm && tid == pid) {
        cproc *p = proc_get(c, pid);
        if (p)
          proc_name(c, p, comm, 1);
      }
    }
    return;
  }
  case K_PROCESS_EXIT: {
    int tid = (int)fint(member(pl, k->f[0]));
    uint32_t *i = tid > 0 ? vh_get(&c->thread_of, (uint64_t)(uint32_t)tid) : NULL;
    if (i) {
      cthread *t = &c->threads[*i];
      if (t->k_on == 1) /* its last switch-out does not come */
        write_state(c, t, t->k_since, ts, TE_ST_RUNNING, t->k_cpu, TE_F_AT_EXIT);
      t->k_on = 2;
    }
    return;
  }
  default: break;
  }
  /* System calls: on the thread of the context, else the CPU's. */
  int tid = k->cx_tid >= 0                       ? (int)fint(member(cx, k->cx_tid))
            : cpu >= 0 && (size_t)cpu < c->ncpus ? c->cpu_tid[cpu]
                                                 : -1;
  if (tid <= 0)
    return;
  int pid = k->cx_pid >= 0 ? (int)fint(member(cx, k->cx_pid)) : 0;
  cthread *t = thread_get(c, pid, tid);
  if (!t)
    return;
  if (k->kind == K_SYS_ENTRY) {
    t->sys_class = (uint32_t)(k - c->classes) + 1;
    t->sys_ts = ts;
    t->sys_arg = (uint64_t)fint(member(pl, k->first_int));
    return;
  }
  const evclass *entry = t->sys_class ? &c->classes[t->sys_class - 1] : NULL;
  t->sys_class = 0;
  if (!entry || entry->sysname != k->sysname)
    return; /* its entry was not seen */
  if (!t->announced)
    thread_name(c, t, t->comm, 0);
  write_syscall(c, t, t->sys_ts, ts, k->sysnr, k->sysname, t->sys_arg, fint(member(pl, k->f[0])),
                1);
}

/* ---- ctrace:* -------------------------------------------------------------------------- */

static void push_region(conv *c, cthread *t, uint32_t name, int is_gc) {
  if (t->depth == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    rentry *s = realloc(t->stack, cap * sizeof *s);
    if (!s) {
      c->failed = 1;
      return;
    }
    t->stack = s;
    t->cap = cap;
  }
  t->stack[t->depth].name = name;
  t->stack[t->depth].is_gc = (uint8_t)is_gc;
  t->depth++;
}

static void end_run(conv *c, cthread *t, uint64_t ts) {
  if (!t->run_item)
    return;
  uint32_t *name = vh_get(&c->items, t->run_item);
  te_event ev = tev(t, TE_ITEM_STOP, ts);
  ev.u.item.id = t->run_item;
  ev.u.item.name = name ? str_of(c, *name) : NULL;
  t->run_item = 0;
  emit(c, &ev);
}

/* Labels of regions: by their interned name (a key of their own), and of
 * GC-like phases (by name and cat). */
static te_label region_label(const conv *c, uint32_t name, int is_gc) {
  if (is_gc)
    return (te_label){name ? str_of(c, name) : "gc", "gc", NULL, NULL, 0, 0};
  return (te_label){str_of(c, name), "region", NULL, NULL, 0, name * 2u + 1u};
}

/* ctrace:region_* and gc_*, instants, counters, flows. */
static void on_region(conv *c, const evclass *k, const bt_field *f[4], cthread *t, uint64_t ts) {
  size_t n;
  const char *s;
  te_label l;
  te_event ev;
  switch (k->kind) {
  case K_REGION_BEGIN:
  case K_GC_BEGIN: {
    int gc = k->kind == K_GC_BEGIN;
    s = fstr(gc ? f[0] : f[1], &n);
    uint32_t name = n || !gc ? intern(&c->strs, s, n) : 0;
    ev = tev(t, TE_BEGIN, ts);
    l = region_label(c, name, gc);
    ev.label = &l;
    ev.task = gc ? 0 : t->task;
    emit(c, &ev);
    push_region(c, t, name, gc);
    break;
  }
  case K_REGION_END:
  case K_GC_END: {
    if (t->depth == 0) {
      c->src->unmatched_ends++;
      break;
    }
    rentry e = t->stack[--t->depth];
    ev = tev(t, TE_END, ts);
    l = region_label(c, e.name, e.is_gc);
    ev.label = &l;
    emit(c, &ev);
    break;
  }
  case K_COUNTER:
    ev = tev(t, TE_COUNTER, ts);
    ev.u.counter.name = fstr(f[1], &n);
    ev.u.counter.ivalue = fint(f[2]);
    ev.u.counter.value = (double)ev.u.counter.ivalue;
    emit(c, &ev);
    break;
  case K_INSTANT: write_instant(c, t, ts, fstr(f[1], &n), "instant"); break;
  case K_FLOW_BEGIN:
  case K_FLOW_END:
    flow_point(c, t, ts, (uint64_t)fint(f[0]), k->kind == K_FLOW_BEGIN, TE_FLOW_USER);
    break;
  default: break;
  }
}

/* ctrace:task_*, log, thread_name. */
static void on_task(conv *c, const evclass *k, const bt_field *f[4], cthread *t, uint64_t ts) {
  size_t n;
  const char *s;
  te_event ev;
  switch (k->kind) {
  case K_TASK_BEGIN: {
    uint64_t id = (uint64_t)fint(f[0]);
    s = fstr(f[2], &n);
    if (vh_put(&c->tasks, id, intern(&c->strs, s, n)))
      c->failed = 1;
    ev = tev(t, TE_TASK_BEGIN, ts);
    ev.u.task_ev.id = id;
    ev.u.task_ev.parent = (uint64_t)fint(f[1]);
    ev.u.task_ev.name = s;
    emit(c, &ev);
    break;
  }
  case K_TASK_END: {
    uint32_t name = 0;
    ev = tev(t, TE_TASK_END, ts);
    ev.u.task_ev.id = (uint64_t)fint(f[0]);
    vh_del(&c->tasks, ev.u.task_ev.id, &name);
    ev.u.task_ev.name = name ? str_of(c, name) : NULL;
    emit(c, &ev);
    break;
  }
  case K_TASK_SWITCH: t->task = (uint64_t)fint(f[0]); break;
  case K_LOG:
    ev = tev(t, TE_LOG, ts);
    ev.task = (uint64_t)fint(f[0]);
    s = fstr(f[1], &n);
    ev.u.log.category = n ? s : "log";
    ev.u.log.message = fstr(f[2], &ev.u.log.len);
    emit(c, &ev);
    break;
  case K_THREAD_NAME:
    s = fstr(f[0], &n);
    thread_name(c, t, intern(&c->strs, s, n), 1);
    break;
  default: break;
  }
}

/* ctrace:syscall, wait, thread_*, heap, heap_set: what the wrappers saw. */
static void on_capture(conv *c, const evclass *k, const bt_field *f[4], cthread *t, uint64_t ts) {
  te_event ev;
  switch (k->kind) {
  case K_SYSCALL: {
    uint64_t dur = (uint64_t)fint(f[1]);
    write_syscall(c, t, dur <= ts ? ts - dur : 0, ts, (long)fint(f[0]), 0, (uint64_t)fint(f[2]),
                  fint(f[3]), 0);
    break;
  }
  case K_WAIT: {
    uint64_t dur = (uint64_t)fint(f[1]);
    int waker_tid = (int)fint(f[3]);
    uint32_t *wi = waker_tid ? vh_get(&c->thread_of, (uint64_t)(uint32_t)waker_tid) : NULL;
    cthread wk = {.pid = t->pid, .tid = waker_tid};
    if (wi && c->threads[*wi].pid == t->pid)
      wk = c->threads[*wi];
    write_wait(c, t, dur <= ts ? ts - dur : 0, ts, (unsigned)fint(f[0]), (uint64_t)fint(f[2]),
               waker_tid ? &wk : NULL, ts);
    break;
  }
  case K_THREAD_CREATE:
    write_instant(c, t, ts, "thread create", "thread");
    flow_point(c, t, ts, (uint64_t)fint(f[0]), 1, TE_FLOW_THREAD);
    break;
  case K_THREAD_START:
    flow_point(c, t, ts, (uint64_t)fint(f[0]), 0, TE_FLOW_THREAD);
    write_instant(c, t, ts, "thread start", "thread");
    break;
  case K_THREAD_EXIT:
    end_run(c, t, ts);
    write_instant(c, t, ts, "thread exit", "thread");
    break;
  case K_HEAP:
    ev = tev(t, TE_HEAP, ts);
    ev.u.heap.live = fint(f[0]);
    ev.u.heap.allocated = (uint64_t)fint(f[1]);
    emit(c, &ev);
    break;
  case K_HEAP_SET:
    ev = tev(t, TE_HEAP_SET, ts);
    ev.u.heap_set.live = (uint64_t)fint(f[0]);
    ev.u.heap_set.goal = (uint64_t)fint(f[1]);
    emit(c, &ev);
    break;
  default: break;
  }
}

/* ctrace:sched_*: user-level work items. */
static void on_item(conv *c, const evclass *k, const bt_field *f[4], cthread *t, uint64_t ts) {
  size_t n;
  const char *s;
  switch (k->kind) {
  case K_SCHED_CREATE:
    s = fstr(f[1], &n);
    if (vh_put(&c->items, (uint64_t)fint(f[0]), intern(&c->strs, s, n)))
      c->failed = 1;
    break;
  case K_SCHED_RUN: {
    end_run(c, t, ts);
    uint64_t id = (uint64_t)fint(f[0]);
    t->run_item = id ? id : 1;
    uint32_t *name = vh_get(&c->items, t->run_item);
    te_event ev = tev(t, TE_ITEM_RUN, ts);
    ev.u.item.id = t->run_item;
    ev.u.item.name = name ? str_of(c, *name) : NULL;
    emit(c, &ev);
    flow_point(c, t, ts, TE_UNBLOCK_ID(t->run_item), 0, TE_FLOW_UNBLOCK);
    break;
  }
  case K_SCHED_BLOCK:
    end_run(c, t, ts);
    s = fstr(f[0], &n);
    write_instant(c, t, ts, n ? s : "blocked", "sched");
    break;
  case K_SCHED_UNBLOCK:
    flow_point(c, t, ts, TE_UNBLOCK_ID((uint64_t)fint(f[0])), 1, TE_FLOW_UNBLOCK);
    break;
  case K_SCHED_END: {
    uint64_t id = (uint64_t)fint(f[0]);
    if (t->run_item == id || !id)
      end_run(c, t, ts);
    break;
  }
  default: break;
  }
}

static void ctrace_event(conv *c, const evclass *k, const bt_field *pl, cthread *t, uint64_t ts) {
  const bt_field *f[4] = {member(pl, k->f[0]), member(pl, k->f[1]), member(pl, k->f[2]),
                          member(pl, k->f[3])};
  switch (k->kind) {
  case K_REGION_BEGIN:
  case K_REGION_END:
  case K_GC_BEGIN:
  case K_GC_END:
  case K_COUNTER:
  case K_INSTANT:
  case K_FLOW_BEGIN:
  case K_FLOW_END: on_region(c, k, f, t, ts); break;
  case K_TASK_BEGIN:
  case K_TASK_END:
  case K_TASK_SWITCH:
  case K_LOG:
  case K_THREAD_NAME: on_task(c, k, f, t, ts); break;
  case K_SCHED_CREATE:
  case K_SCHED_RUN:
  case K_SCHED_BLOCK:
  case K_SCHED_UNBLOCK:
  case K_SCHED_END: on_item(c, k, f, t, ts); break;
  default: on_capture(c, k, f, t, ts); break;
  }
}

/* ---- Messages ------------------------------------------------------------------------ */

static uint64_t snapshot_ns(const bt_clock_snapshot *cs) {
  uint64_t v = bt_clock_snapshot_get_value(cs);
  uint64_t f = bt_clock_class_get_frequency(bt_clock_snapshot_borrow_clock_class_const(cs));
  if (f == 1000000000u || f == 0)
    return v;
  return (uint64_t)((unsigned __int128)v * 1000000000u / f);
}

static void on_event(conv *c, const bt_message *msg) {
  const bt_event *ev = bt_message_event_borrow_event_const(msg);
  uint64_t ts = c->last_ts;
  if (bt_message_event_borrow_stream_class_default_clock_class_const(msg))
    ts = snapshot_ns(bt_message_event_borrow_default_clock_snapshot_const(msg));
  c->last_ts = ts;
  if (!c->st.events_read++)
    c->st.first_ns = ts;
  c->st.last_ns = ts;
  const bt_stream *stream = bt_event_borrow_stream_const(ev);
  const ctrace_info *ti = trace_info(c, bt_stream_borrow_trace_const(stream));
  evclass *k = ti ? class_get(c, bt_event_borrow_class_const(ev), ti) : NULL;
  if (!k)
    return;
  k->count++;
  const bt_field *pl = bt_event_borrow_payload_field_const(ev);
  const bt_field *cx = bt_event_borrow_common_context_field_const(ev);
  if (ti->kernel) {
    if (k->kind)
      kernel_event(c, k, ev, pl, cx, ts);
    return;
  }
  /* Who: the event's own fields, the contexts, the trace's environment. */
  int pid = 0, tid = 0;
  if (k->pid >= 0 && k->tid >= 0) {
    pid = (int)fint(member(pl, k->pid));
    tid = (int)fint(member(pl, k->tid));
  }
  if (!pid && k->cx_pid >= 0)
    pid = (int)fint(member(cx, k->cx_pid));
  if (!tid && k->cx_tid >= 0)
    tid = (int)fint(member(cx, k->cx_tid));
  if (!pid)
    pid = ti->vpid;
  if (!tid)
    tid = pid;
  if (!pid)
    return; /* nobody's */
  if (vh_put(&c->stream_pid, (uint64_t)(uintptr_t)stream, (uint32_t)pid))
    c->failed = 1;
  cthread *t = thread_get(c, pid, tid);
  cproc *p = t ? proc_get(c, pid) : NULL;
  if (!p)
    return;
  p->events++;
  t->last_ts = ts;
  /* Names: the procname context (a thread's own comm), else the trace's. */
  uint32_t pname = 0;
  if (k->cx_name >= 0) {
    size_t n;
    const char *s = fstr(member(cx, k->cx_name), &n);
    pname = n ? intern(&c->strs, s, n) : 0;
  }
  if (ti->procname)
    proc_name(c, p, ti->procname, 1);
  if (pname)
    proc_name(c, p, pname, tid == pid);
  if (!t->announced || (pname && pname != t->name && !t->named_by_ctrace))
    thread_name(c, t, pname, 0);
  if (k->kind >= K_REGION_BEGIN && k->kind <= K_THREAD_EXIT)
    ctrace_event(c, k, pl, t, ts);
  else if (k->kind >= K_MALLOC && k->kind <= K_POSIX_MEMALIGN)
    heap_event(c, k, pl, t, ts);
  else if (k->kind >= K_LOCK_REQ && k->kind <= K_UNLOCK)
    lock_event(c, k, pl, t, ts);
}

/* Discarded events or packets: an instant in the process the stream
 * belongs to (per-process buffers), else in the process of the stream's
 * last event (per-user buffers are shared: LTTng does not say whose). */
static void on_discarded(conv *c, const bt_message *msg, int packets) {
  uint64_t n = 0;
  const bt_stream *stream;
  uint64_t since = c->last_ts, ts = c->last_ts;
  bt_property_availability avail;
  if (packets) {
    avail = bt_message_discarded_packets_get_count(msg, &n);
    stream = bt_message_discarded_packets_borrow_stream_const(msg);
    if (bt_stream_class_discarded_packets_have_default_clock_snapshots(
            bt_stream_borrow_class_const(stream))) {
      since = snapshot_ns(
          bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const(msg));
      ts = snapshot_ns(bt_message_discarded_packets_borrow_end_default_clock_snapshot_const(msg));
    }
  } else {
    avail = bt_message_discarded_events_get_count(msg, &n);
    stream = bt_message_discarded_events_borrow_stream_const(msg);
    if (bt_stream_class_discarded_events_have_default_clock_snapshots(
            bt_stream_borrow_class_const(stream))) {
      since = snapshot_ns(
          bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const(msg));
      ts = snapshot_ns(bt_message_discarded_events_borrow_end_default_clock_snapshot_const(msg));
    }
  }
  if (avail != BT_PROPERTY_AVAILABILITY_AVAILABLE)
    n = 0; /* some, number unknown */
  const ctrace_info *ti = trace_info(c, bt_stream_borrow_trace_const(stream));
  uint32_t *sp = vh_get(&c->stream_pid, (uint64_t)(uintptr_t)stream);
  int pid = ti && ti->vpid ? ti->vpid : sp ? (int)*sp : 0;
  cproc *p = pid ? proc_get(c, pid) : NULL;
  if (packets)
    c->st.discarded_packets += n;
  else {
    c->st.discarded += n;
    if (p)
      p->discarded += n;
  }
  if (p)
    proc_announce(c, pid);
  te_event ev = ev_at(TE_DROPPED, pid, 0, ts);
  ev.flags = TE_F_PROCESS;
  ev.u.drop.kind = packets ? TE_DROP_LTTNG_PACKETS : TE_DROP_LTTNG;
  ev.u.drop.n = n;
  ev.u.drop.since = since;
  const char *sname = bt_stream_get_name(stream);
  ev.u.drop.stream = sname ? sname : "?";
  ev.u.drop.shared = !(ti && ti->vpid);
  emit(c, &ev);
}

static bt_graph_simple_sink_component_consume_func_status consume(bt_message_iterator *it,
                                                                  void *data) {
  conv *c = data;
  bt_message_array_const msgs;
  uint64_t n;
  switch (bt_message_iterator_next(it, &msgs, &n)) {
  case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK: break;
  case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
  case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
  case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
  default: return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
  }
  for (uint64_t i = 0; i < n; i++) {
    if (!c->err && !c->failed) {
      switch (bt_message_get_type(msgs[i])) {
      case BT_MESSAGE_TYPE_EVENT: on_event(c, msgs[i]); break;
      case BT_MESSAGE_TYPE_DISCARDED_EVENTS: on_discarded(c, msgs[i], 0); break;
      case BT_MESSAGE_TYPE_DISCARDED_PACKETS: on_discarded(c, msgs[i], 1); break;
      default: break;
      }
    }
    bt_message_put_ref(msgs[i]);
  }
  if (c->err || c->failed)
    return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
  return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

/* ---- Finding the traces -------------------------------------------------------------- */

static int add_path(conv *c, const char *p) {
  size_t cap = c->npaths;
  char **np = realloc(c->paths, (cap + 1) * sizeof *np);
  if (!np)
    return -1;
  c->paths = np;
  if (!(c->paths[c->npaths] = strdup(p)))
    return -1;
  c->npaths++;
  return 0;
}

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every directory under dir that holds a `metadata` file (as babeltrace2's
 * discovery does: a trace's own subdirectories are not searched). Symbolic
 * links are not followed. @return 0, or -errno for dir itself. */
static int find_traces(conv *c, const char *dir, int depth) {
  char p[4096];
  struct stat st;
  if (snprintf(p, sizeof p, "%s/metadata", dir) < (int)sizeof p && stat(p, &st) == 0 &&
      S_ISREG(st.st_mode))
    return add_path(c, dir) ? -ENOMEM : 0;
  DIR *d = opendir(dir);
  if (!d)
    return -errno;
  struct dirent *e;
  char **subs = NULL;
  size_t nsubs = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
      continue;
    if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
      continue;
    if (lstat(p, &st) || !S_ISDIR(st.st_mode))
      continue;
    char **ns = realloc(subs, (nsubs + 1) * sizeof *ns);
    if (!ns)
      break;
    subs = ns;
    if ((subs[nsubs] = strdup(p)))
      nsubs++;
  }
  closedir(d);
  if (nsubs > 1)
    qsort(subs, nsubs, sizeof *subs, cmp_path);
  for (size_t i = 0; i < nsubs; i++) {
    if (depth < 16)
      find_traces(c, subs[i], depth + 1);
    free(subs[i]);
  }
  free(subs);
  return 0;
}

/* ---- The graph ------------------------------------------------------------------------ */

/* babeltrace2's reasons, innermost first: "why; because ...". Takes (and
 * clears) the thread's error. */
static void take_bt_error(char *out, size_t outlen) {
  const bt_error *e = bt_current_thread_take_error();
  if (!e)
    return;
  uint64_t n = bt_error_get_cause_count(e);
  size_t len = strlen(out);
  /* The first causes are the deepest (the reader's own words). */
  for (uint64_t i = 0; i < n && i < 3 && len + 4 < outlen; i++) {
    const char *m = bt_error_cause_get_message(bt_error_borrow_cause_by_index(e, i));
    if (!m || !*m)
      continue;
    len += (size_t)snprintf(out + len, outlen - len, "%s%s", len ? ": " : "", m);
    if (len >= outlen)
      len = outlen - 1;
  }
  bt_error_release(e);
}

static int ctf_fail(char *err, size_t errlen, int code, const char *what) {
  snprintf(err, errlen, "%s", what);
  size_t l = strlen(err);
  if (l + 3 < errlen) {
    char why[1024] = "";
    take_bt_error(why, sizeof why);
    if (why[0])
      snprintf(err + l, errlen - l, ": %s", why);
  }
  return code;
}

static int cmp_count(const void *a, const void *b) {
  return strcmp(((const ctf_count *)a)->name, ((const ctf_count *)b)->name);
}

/* What is still open at the end; the counts and processes for stats. */
static void finish(conv *c) {
  for (size_t i = 0; i < c->nthreads; i++) {
    cthread *t = &c->threads[i];
    end_run(c, t, t->last_ts);
    c->src->open_regions += t->depth;
  }
  for (size_t i = 0; i < c->nprocs; i++) {
    cheap *h = c->procs[i].heap;
    if (h && h->dirty)
      heap_write(c, c->procs[i].pid, h->last_tid, h, h->last_ts);
  }
  /* events by name (classes of several traces may share one) */
  ctf_count *bn = calloc(c->nclasses ? c->nclasses : 1, sizeof *bn);
  size_t nb = 0;
  for (size_t i = 0; bn && i < c->nclasses; i++) {
    const char *name = c->classes[i].name ? c->strs.s[c->classes[i].name] : "";
    size_t j = 0;
    while (j < nb && strcmp(bn[j].name, name))
      j++;
    if (j == nb && (bn[nb].name = strdup(name)))
      nb++;
    if (j < nb)
      bn[j].n += c->classes[i].count;
  }
  if (nb)
    qsort(bn, nb, sizeof *bn, cmp_count);
  c->st.by_name = bn;
  c->st.nnames = nb;
  c->st.procs = calloc(c->nprocs ? c->nprocs : 1, sizeof *c->st.procs);
  for (size_t i = 0; c->st.procs && i < c->nprocs; i++) {
    if (!c->procs[i].announced)
      continue; /* (known from the kernel's statedump only) */
    ctf_process *p = &c->st.procs[c->st.nprocs];
    p->pid = c->procs[i].pid;
    p->name = strdup(c->procs[i].name ? c->strs.s[c->procs[i].name] : "");
    p->events = c->procs[i].events;
    p->threads = c->procs[i].threads;
    p->discarded = c->procs[i].discarded;
    if (p->name)
      c->st.nprocs++;
  }
}

static void conv_free(conv *c) {
  for (size_t i = 0; i < c->nthreads; i++)
    free(c->threads[i].stack);
  free(c->threads);
  for (size_t i = 0; i < c->nprocs; i++) {
    cheap *h = c->procs[i].heap;
    if (h) {
      vh_free(&h->ptrs);
      free(h->sizes);
      free(h->free_slots);
      free(h);
    }
  }
  free(c->procs);
  for (size_t i = 0; i < c->npaths; i++)
    free(c->paths[i]);
  free(c->paths);
  free(c->classes);
  free(c->mutexes);
  free(c->tinfo);
  free(c->cpu_tid);
  vh_free(&c->class_of);
  vh_free(&c->thread_of);
  vh_free(&c->proc_of);
  vh_free(&c->tid_pid);
  vh_free(&c->tasks);
  vh_free(&c->items);
  vh_free(&c->mutex_of);
  vh_free(&c->stream_pid);
  strtab_free(&c->strs);
}

/* LTTng writes the metadata packetized: packets of a 37-byte header (magic
 * 0x75d11d57, uuid, checksum, content and packet sizes in bits, ...) and
 * TSDL text. babeltrace2 2.0 loops forever on a last packet cut short, so
 * the packets are walked here first. @return 0, or CTRACE_ECORRUPT with
 * err saying where. Text metadata (no magic) is left to babeltrace2. */
static int check_metadata(const char *trace, char *err, size_t errlen) {
  char path[4200];
  snprintf(path, sizeof path, "%s/metadata", trace);
  FILE *f = fopen(path, "re");
  if (!f)
    return 0; /* (babeltrace2 says why) */
  unsigned char h[37];
  long off = 0;
  int r = 0;
  for (;;) {
    size_t n = fread(h, 1, sizeof h, f);
    if (n == 0)
      break;
    uint32_t magic =
        (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    if (off == 0 && magic != 0x75d11d57u)
      break; /* text metadata */
    uint32_t content = 0, packet = 0;
    if (n == sizeof h) {
      memcpy(&content, h + 24, 4); /* (little-endian: what x86 LTTng writes) */
      memcpy(&packet, h + 28, 4);
    }
    if (n < sizeof h || magic != 0x75d11d57u || packet % 8 || packet / 8 < sizeof h ||
        content > packet) {
      snprintf(err, errlen, "%s: metadata packet at byte %ld is damaged or cut short", path, off);
      r = CTRACE_ECORRUPT;
      break;
    }
    long next = off + (long)(packet / 8);
    if (fseek(f, next, SEEK_SET) != 0 || (fseek(f, 0, SEEK_END) == 0 && ftell(f) < next)) {
      snprintf(err, errlen,
               "%s: metadata truncated: the packet at byte %ld needs %u bytes, "
               "%ld remain",
               path, off, packet / 8, ftell(f) - off);
      r = CTRACE_ECORRUPT;
      break;
    }
    fseek(f, next, SEEK_SET);
    off = next;
  }
  fclose(f);
  return r;
}

/* babeltrace2's graph as the steps of run_graph build it. */
typedef struct graph {
  const bt_plugin *ctf, *utils;        /* the plugins (references) */
  bt_graph *g;                         /* (a reference) */
  const bt_component_class_source *fs; /* src.ctf.fs, or src.ctf.lttng-live (borrowed) */
  const bt_component_filter *mux;      /* the muxer in g (borrowed) */
} graph;

/* The plugins found; the graph made of the muxer into our sink. @return 0,
 * or an error with a message. */
static int graph_build(conv *c, graph *gr, char *err, size_t errlen) {
  if (bt_plugin_find("ctf", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &gr->ctf) !=
          BT_PLUGIN_FIND_STATUS_OK ||
      bt_plugin_find("utils", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &gr->utils) !=
          BT_PLUGIN_FIND_STATUS_OK)
    return ctf_fail(err, errlen, CTRACE_EFORMAT,
                    "babeltrace2's ctf and utils plugins were not found (package babeltrace2)");
  gr->fs =
      bt_plugin_borrow_source_component_class_by_name_const(gr->ctf, c->live ? "lttng-live" : "fs");
  const bt_component_class_filter *muxer =
      bt_plugin_borrow_filter_component_class_by_name_const(gr->utils, "muxer");
  if (!gr->fs || !muxer || !(gr->g = bt_graph_create(0)))
    return ctf_fail(err, errlen, CTRACE_ENOMEM, "cannot set up babeltrace2's graph");
  const bt_component_sink *sink;
  if (bt_graph_add_filter_component(gr->g, muxer, "muxer", NULL, BT_LOGGING_LEVEL_NONE, &gr->mux) !=
          BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
      bt_graph_add_simple_sink_component(gr->g, "ctrace", NULL, consume, NULL, c, &sink) !=
          BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
      bt_graph_connect_ports(gr->g,
                             bt_component_filter_borrow_output_port_by_index_const(gr->mux, 0),
                             bt_component_sink_borrow_input_port_by_index_const(sink, 0),
                             NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK)
    return ctf_fail(err, errlen, CTRACE_ENOMEM, "cannot set up babeltrace2's graph");
  return 0;
}

/* The source of the i-th trace (its parameters: the input, and for a live
 * session, fail if it is not there), its ports into the muxer's free ones.
 * @return 0, or an error with a message. */
static int graph_add_source(conv *c, graph *gr, size_t i, char *err, size_t errlen) {
  bt_value *params, *inputs;
  int r = 0;
  if (!(params = bt_value_map_create()) ||
      bt_value_map_insert_empty_array_entry(params, "inputs", &inputs) ||
      bt_value_array_append_string_element(inputs, c->paths[i]) ||
      (c->live && bt_value_map_insert_string_entry(params, "session-not-found-action", "fail"))) {
    r = ctf_fail(err, errlen, CTRACE_ENOMEM, "out of memory");
    goto out;
  }
  char name[32];
  snprintf(name, sizeof name, "ctf-%zu", i);
  const bt_component_source *src;
  if (bt_graph_add_source_component(gr->g, gr->fs, name, params, BT_LOGGING_LEVEL_NONE, &src) !=
      BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
    char what[4200];
    snprintf(what, sizeof what,
             c->live ? "%s: babeltrace2 cannot follow this live session"
                     : "%s: babeltrace2 cannot read this CTF trace",
             c->paths[i]);
    r = ctf_fail(err, errlen, CTRACE_EFORMAT, what);
    goto out;
  }
  bt_value_put_ref(params);
  params = NULL;
  for (uint64_t k = 0; k < bt_component_source_get_output_port_count(src); k++) {
    uint64_t free_port = bt_component_filter_get_input_port_count(gr->mux) - 1;
    if (bt_graph_connect_ports(
            gr->g, bt_component_source_borrow_output_port_by_index_const(src, k),
            bt_component_filter_borrow_input_port_by_index_const(gr->mux, free_port),
            NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
      r = ctf_fail(err, errlen, CTRACE_ENOMEM, "cannot connect babeltrace2's components");
      goto out;
    }
  }
out:
  bt_value_put_ref(params);
  return r;
}

/* One source per trace, after their metadata is checked (check_metadata).
 * @return 0, or an error with a message. */
static int graph_add_sources(conv *c, graph *gr, char *err, size_t errlen) {
  int r;
  for (size_t i = 0; !c->live && i < c->npaths; i++)
    if ((r = check_metadata(c->paths[i], err, errlen)) != 0)
      return r;
  for (size_t i = 0; i < c->npaths; i++)
    if ((r = graph_add_source(c, gr, i, err, errlen)) != 0)
      return r;
  return 0;
}

/* The graph run to its end: the handler's error, out of memory, or a
 * trace it cannot decode stop it. @return 0, or an error with a message. */
static int graph_run(conv *c, graph *gr, char *err, size_t errlen) {
  for (;;) {
    bt_graph_run_status s = bt_graph_run(gr->g);
    if (s == BT_GRAPH_RUN_STATUS_AGAIN) {
      usleep(c->live ? 10000 : 1000);
      continue;
    }
    if (s == BT_GRAPH_RUN_STATUS_OK)
      return 0;
    if (c->err) {
      bt_current_thread_clear_error();
      snprintf(err, errlen, "%s", host->error_text(c->err));
      return c->err;
    }
    if (c->failed || s == BT_GRAPH_RUN_STATUS_MEMORY_ERROR)
      return ctf_fail(err, errlen, CTRACE_ENOMEM, "out of memory");
    char what[128];
    snprintf(what, sizeof what, "cannot decode the trace after %" PRIu64 " events",
             c->st.events_read);
    return ctf_fail(err, errlen, CTRACE_ECORRUPT, what);
  }
}

/* Builds and runs src.ctf.fs (one per trace), or src.ctf.lttng-live for a
 * net:// URL, -> flt.utils.muxer -> us. */
static int run_graph(conv *c, char *err, size_t errlen) {
  graph gr = {0};
  bt_current_thread_clear_error();
  int r = graph_build(c, &gr, err, errlen);
  if (!r)
    r = graph_add_sources(c, &gr, err, errlen);
  if (!r)
    r = graph_run(c, &gr, err, errlen);
  bt_graph_put_ref(gr.g); /* (finalizes the components) */
  bt_plugin_put_ref(gr.ctf);
  bt_plugin_put_ref(gr.utils);
  return r;
}

/* Where the traces are: a live URL, or the directories under dir that
 * hold a `metadata` file. @return 0 or an error with a message. */
static int locate(conv *c, const char *dir, char *err, size_t errlen) {
  struct stat st;
  int r = 0;
  if (!strncmp(dir, "net://", 6) || !strncmp(dir, "net4://", 7) || !strncmp(dir, "net6://", 7)) {
    c->live = 1; /* an LTTng live session through lttng-relayd */
    if (add_path(c, dir)) {
      r = CTRACE_ENOMEM;
      snprintf(err, errlen, "out of memory");
    }
  } else if (stat(dir, &st) != 0) {
    r = errno == ENOENT ? CTRACE_ENOENT : -errno;
    snprintf(err, errlen, "cannot open: %s", strerror(errno));
  } else if (!S_ISDIR(st.st_mode)) {
    r = CTRACE_EFORMAT;
    snprintf(err, errlen, "not a directory (an LTTng trace is a directory of CTF files)");
  } else if ((r = find_traces(c, dir, 0)) != 0) {
    snprintf(err, errlen, "cannot read the directory: %s", strerror(-r));
  } else if (!c->npaths) {
    r = CTRACE_EFORMAT;
    snprintf(err, errlen, "no CTF trace in this directory (no `metadata` file below it)");
  }
  return r;
}

/* The source as the index and the exporter see it, from what was counted. */
static void describe(const ctf_stats *st, te_source *src) {
  src->events = st->events_read;
  src->dropped = st->discarded;
  src->complete = !st->discarded && !st->discarded_packets;
  src->pid = st->nprocs == 1 ? st->procs[0].pid : 0;
  src->process = st->nprocs == 1 && st->procs[0].name ? st->procs[0].name : "";
}

/* te__ctf_read's contract (read_internal.h): ctf_load.c calls it through
 * the pointer CTF_MODULE_ENTRY gives. */
static int ctf_read(const char *dir, te_source *src, ctf_stats *stats, te_handler fn, void *arg,
                    char *err, size_t errlen) {
  conv *c = calloc(1, sizeof *c);
  memset(stats, 0, sizeof *stats);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return CTRACE_ENOMEM;
  }
  c->dir = dir;
  c->fn = fn;
  c->arg = arg;
  c->src = src;
  src->ctf = stats;
  int r = locate(c, dir, err, errlen);
  c->st.ntraces = c->npaths;
  te_event ev = ev_at(TE_SOURCE_BEGIN, 0, 0, 0);
  if (!r)
    r = fn(arg, src, &ev);
  if (!r)
    r = run_graph(c, err, errlen);
  if (!r) {
    finish(c);
    if (c->err)
      r = c->err;
    else if (c->failed) {
      r = CTRACE_ENOMEM;
      snprintf(err, errlen, "out of memory");
    }
  }
  /* The stats (and the paths found) go to the caller. */
  c->st.paths = c->paths;
  c->paths = NULL;
  c->npaths = 0;
  *stats = c->st;
  memset(&c->st, 0, sizeof c->st);
  describe(stats, src);
  if (!r) {
    ev.type = TE_SOURCE_END;
    r = fn(arg, src, &ev);
  }
  conv_free(c);
  free(c);
  return r;
}

/* ---- The module's entry ---------------------------------------------------------- */

/* CTF_MODULE_ENTRY (ctf_module.h): the one symbol the module exports. */
__attribute__((visibility("default"))) ctf_read_fn ctrace_ctf_module_open(const ctf_host *h) {
  if (h->abi != CTF_MODULE_ABI || h->event_size != sizeof(te_event) ||
      h->source_size != sizeof(te_source) || h->stats_size != sizeof(ctf_stats))
    return NULL;
  host = h;
  return ctf_read;
}
