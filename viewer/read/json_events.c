/* Chrome trace-event JSON as typed events (read.h: te_json_read).
 *
 * The file is parsed whole by cJSON, then its traceEvents (or the bare
 * array) are streamed in the file's order. Times are the JSON's
 * microseconds x 1000, rounded (negative: 0). pid, tid, ts, dur and
 * numeric fields may be numbers or numeric strings.
 *
 * Mapping (ph, then cat and name where they matter):
 *   M thread_name        TE_THREAD (name); "tid N state" on tid 10^9 + N: skipped
 *   M thread_sort_index  TE_THREAD, TE_F_SORT (sort; name: the one seen so far)
 *   M process_name       TE_PROCESS; the first names the source (src->process, pid)
 *   B / E                TE_BEGIN (label, args, args.task) / TE_END (label NULL); an
 *                        E with no B open on its thread counts in src->unmatched_ends,
 *                        the B never ended in src->open_regions
 *   X                    TE_SLICE (label, args, args.task), except ctrace's own:
 *     cat syscall, args.nr     TE_SYSCALL (nr, arg, return or -errno of error,
 *                              TE_F_KERNEL if recorded_by "kernel")
 *     cat wait                 TE_WAIT (kind by name, object, released_by_tid)
 *     cat state, tid >= 10^9   TE_STATE of tid - 10^9 (running, runnable, off cpu; cpu)
 *     cat flow, name flow, dur <= 1 ns: the exporter's flow anchor, skipped
 *   i I n R              TE_INSTANT, except:
 *     cat log, args.message    TE_LOG (category = name, task, TE_F_CUT)
 *     cat ctrace, args.dropped, .packets, or "kernel lost records" with args.lost:
 *                              TE_DROPPED, of the kind the exporter wrote (marked with
 *                              since_ts, at stop, on no thread, the kernel's, LTTng's
 *                              events or packets); s "p": process-wide
 *   C                    TE_COUNTER per numeric member of args ("NAME KEY", or NAME
 *                        alone for a lone "value"), except cat heap:
 *     name heap                TE_HEAP (live, allocated)
 *     name "heap (program)"    TE_HEAP_SET (live, goal)
 *   b S / e F            cat sched: TE_ITEM_RUN / TE_ITEM_STOP; else TE_TASK_BEGIN
 *                        (args.parent) / TE_TASK_END
 *   s / f                TE_FLOW (TE_FLOW_USER; f: TE_F_FLOW_END; depth: the
 *                        thread's open B regions); t: counted, not emitted
 * Other phases are ignored and not counted. Async and flow ids: a number,
 * or a string read by strtoull(s, NULL, 0) when that takes all of it, else
 * its FNV-1a hash (never 0).
 *
 * src->process points into the parsed JSON: valid until TE_SOURCE_END has
 * been handled (copy it there); te_json_read sets it back to "" before it
 * returns. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"
#include "read.h"
#include "common.h"

/* clang-format off */
#define STATE_TID_BASE 1000000000 /* chrome_json.c's state rows: tid + 10^9 */
#define ERR_UNKNOWN 4095 /* -ret of an error whose name is not known ("?"): no
                            errno has this number, so it is written back as "?" */
/* clang-format on */

/* ---- Names ----------------------------------------------------------------------------- */

/* The CTRACE_FMT_WAIT_* named name, or 0 (unknown: named "wait"). */
static unsigned jr_wait_kind(const char *name) {
  for (unsigned k = CTRACE_FMT_WAIT_MUTEX; k <= CTRACE_FMT_WAIT_JOIN; k++)
    if (!strcmp(te_wait_name(k), name))
      return k;
  return 0;
}

/* errno names ("EAGAIN") to numbers: glibc only maps the other way. */
typedef struct errname {
  const char *name;
  int nr;
} errname;
static errname errnames[256];
static size_t nerrnames;
static pthread_once_t errnames_once = PTHREAD_ONCE_INIT;

static void errnames_init(void) {
  for (int i = 1; i <= ERR_UNKNOWN && nerrnames < sizeof errnames / sizeof errnames[0]; i++) {
    const char *n = strerrorname_np(i);
    if (n)
      errnames[nerrnames++] = (errname){n, i};
  }
}

/* The errno named name, or ERR_UNKNOWN. */
static int errno_of(const char *name) {
  pthread_once(&errnames_once, errnames_init);
  for (size_t i = 0; i < nerrnames; i++)
    if (!strcmp(errnames[i].name, name))
      return errnames[i].nr;
  return ERR_UNKNOWN;
}

/* ---- Values ------------------------------------------------------------------------------ */

static uint64_t ts_ns(double us) {
  if (!(us > 0))
    return 0;
  double ns = us * 1000.0 + 0.5;
  return ns >= 1.8e19 ? UINT64_MAX / 2 : (uint64_t)ns;
}

static const cJSON *jget(const cJSON *o, const char *k) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double def) {
  const cJSON *v = jget(o, k);
  if (cJSON_IsNumber(v))
    return v->valuedouble;
  if (cJSON_IsString(v)) /* some producers quote pid/tid/ts */
    return strtod(v->valuestring, NULL);
  return def;
}

/* Conversions that saturate instead of being undefined (NaN: 0). */
static int to_int(double d) {
  if (d > -2147483649.0 && d < 2147483648.0)
    return (int)d;
  return d > 0 ? INT_MAX : d < 0 ? INT_MIN : 0;
}

static int64_t to_i64(double d) {
  if (d >= 9223372036854775808.0)
    return INT64_MAX;
  if (d >= -9223372036854775808.0)
    return (int64_t)d;
  return d < 0 ? INT64_MIN : 0;
}

/* Negative values as their two's complement (as strtoull reads "-1"). */
static uint64_t to_u64(double d) {
  if (d >= 0)
    return d < 18446744073709551616.0 ? (uint64_t)d : UINT64_MAX;
  return (uint64_t)to_i64(d);
}

static int whole_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 0);
  if (!s[0] || *end || errno == ERANGE)
    return 0;
  *out = n;
  return 1;
}

/* A number, or a string that is one (as strtoull reads it, all of it); else 0. */
static uint64_t jid_num(const cJSON *o, const char *k) {
  const cJSON *v = jget(o, k);
  uint64_t n;
  if (cJSON_IsNumber(v))
    return to_u64(v->valuedouble);
  if (cJSON_IsString(v) && whole_u64(v->valuestring, &n))
    return n;
  return 0;
}

static uint64_t fnv1a(const char *s) { return ctrace__fnv1a(s, strlen(s), 0); }

/* An async or flow event's id: see the top of the file. */
static uint64_t jid(const cJSON *e) {
  const cJSON *v = jget(e, "id");
  uint64_t n;
  if (cJSON_IsString(v))
    return whole_u64(v->valuestring, &n) ? n : fnv1a(v->valuestring);
  return cJSON_IsNumber(v) ? to_u64(v->valuedouble) : 0;
}

/* ---- The reader ---------------------------------------------------------------------------- */

typedef struct jr_thread {
  int pid, tid;
  size_t depth;     /* open B regions */
  const char *name; /* its thread_name so far (cJSON's), or NULL */
} jr_thread;

typedef struct jr {
  te_source *src;
  te_handler fn;
  void *arg;
  jr_thread *th;
  size_t nth, cap_th;
  vh_map thread_of; /* (pid, tid) -> index in th */
  char *name;       /* counter names "NAME KEY" */
  size_t cap_name;
  int oom; /* the reader (not the handler) ran out of memory */
} jr;

static int nomem(jr *r) {
  r->oom = 1;
  return CTRACE_ENOMEM;
}

static jr_thread *jr_thread_get(jr *r, int pid, int tid) {
  uint64_t k = (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
  uint32_t *v = vh_get(&r->thread_of, k);
  if (v)
    return &r->th[*v];
  if (r->nth >= UINT32_MAX)
    return NULL;
  jr_thread *t = VH_PUSH(r->th, r->nth, r->cap_th);
  if (!t || vh_put(&r->thread_of, k, (uint32_t)(r->nth - 1)))
    return NULL;
  *t = (jr_thread){.pid = pid, .tid = tid};
  return t;
}

static int emit(jr *r, const te_event *ev) { return r->fn(r->arg, r->src, ev); }

/* args as JSON text in *out (NULL when absent or {}): cJSON_free it. */
static int print_args(const cJSON *args, char **out) {
  *out = NULL;
  if (!args || (cJSON_IsObject(args) && !args->child))
    return 0;
  *out = cJSON_PrintUnformatted(args);
  return *out ? 0 : CTRACE_ENOMEM;
}

/* TE_BEGIN or TE_SLICE: label, args and task from the event. */
static int emit_region(jr *r, te_event *ev, const char *name, const char *cat, const cJSON *args) {
  te_label l = {.name = name, .cat = cat ? cat : "region"};
  char *a;
  if (print_args(args, &a))
    return nomem(r);
  ev->label = &l;
  ev->args = a;
  ev->task = jid_num(args, "task");
  ev->depth = TE_DEPTH_NEST;
  int rc = emit(r, ev);
  cJSON_free(a);
  return rc;
}

static int jr_meta(jr *r, te_event *ev, const char *name, const cJSON *args) {
  const char *s = jstr(args, "name");
  if (!strcmp(name, "thread_name") && s) {
    if (ev->tid >= STATE_TID_BASE) { /* the exporter's state row: not a thread */
      char row[64];
      snprintf(row, sizeof row, "tid %d state", ev->tid - STATE_TID_BASE);
      if (!strcmp(s, row))
        return 0;
    }
    jr_thread *t = jr_thread_get(r, ev->pid, ev->tid);
    if (!t)
      return nomem(r);
    t->name = s;
    ev->type = TE_THREAD;
    ev->u.thread.name = s;
    return emit(r, ev);
  }
  if (!strcmp(name, "thread_sort_index")) {
    jr_thread *t = jr_thread_get(r, ev->pid, ev->tid);
    if (!t)
      return nomem(r);
    ev->type = TE_THREAD;
    ev->flags = TE_F_SORT;
    ev->u.thread.name = t->name;
    /* (a negative index comes as its two's complement: (int)sort gives it back) */
    ev->u.thread.sort = to_int(jnum(args, "sort_index", 0));
    return emit(r, ev);
  }
  if (!strcmp(name, "process_name") && s) {
    if (!r->src->process || !r->src->process[0]) {
      r->src->process = s;
      r->src->pid = ev->pid;
    }
    ev->type = TE_PROCESS;
    ev->u.thread.name = s;
    return emit(r, ev);
  }
  return 0;
}

/* X: a slice, or one of the typed shapes ctrace's exporter writes. */
static int jr_complete(jr *r, te_event *ev, const char *name, const char *cat, const cJSON *args,
                       uint64_t dur) {
  ev->dur = dur;
  const cJSON *nr = jget(args, "nr");
  if (cat && !strcmp(cat, "syscall") && cJSON_IsNumber(nr)) {
    ev->type = TE_SYSCALL;
    ev->depth = TE_DEPTH_NEST;
    long n = (long)to_i64(nr->valuedouble);
    ev->u.syscall.nr = n;
    ev->u.syscall.name = te_syscall_name(n) ? NULL : name;
    ev->u.syscall.arg = to_u64(jnum(args, "arg", 0));
    const cJSON *ret = jget(args, "return");
    const char *error = jstr(args, "error");
    if (cJSON_IsNumber(ret)) {
      int64_t v = to_i64(ret->valuedouble);
      ev->u.syscall.ret = v == INT64_MIN ? -INT64_MAX : v; /* (consumers negate it) */
    } else if (error) {
      ev->u.syscall.ret = -errno_of(error);
    }
    const char *by = jstr(args, "recorded_by");
    if (by && !strcmp(by, "kernel"))
      ev->flags |= TE_F_KERNEL;
    return emit(r, ev);
  }
  if (cat && !strcmp(cat, "wait")) {
    ev->type = TE_WAIT;
    ev->depth = TE_DEPTH_NEST;
    ev->u.wait.kind = jr_wait_kind(name);
    const cJSON *obj = jget(args, "object");
    if (cJSON_IsString(obj))
      ev->u.wait.object = strtoull(obj->valuestring, NULL, 16);
    else if (cJSON_IsNumber(obj))
      ev->u.wait.object = to_u64(obj->valuedouble);
    ev->u.wait.waker_tid = to_int(jnum(args, "released_by_tid", 0));
    ev->u.wait.waker_pid = ev->pid;
    return emit(r, ev);
  }
  if (cat && !strcmp(cat, "state") && ev->tid >= STATE_TID_BASE) {
    uint8_t st = !strcmp(name, "running")    ? TE_ST_RUNNING
                 : !strcmp(name, "runnable") ? TE_ST_RUNNABLE
                 : !strcmp(name, "off cpu")  ? TE_ST_OFF
                                             : 0;
    if (!st)
      return 0;
    ev->type = TE_STATE;
    ev->tid -= STATE_TID_BASE;
    ev->u.state.state = st;
    ev->u.state.cpu = to_int(jnum(args, "cpu", -1));
    return emit(r, ev);
  }
  ev->type = TE_SLICE;
  return emit_region(r, ev, name, cat, args);
}

/* The exporter's drop markers (chrome_json.c's write_dropped), each of its
 * kinds: 1 and ev filled, or 0 if args are not one of them. */
static int jr_drop(te_event *ev, const cJSON *e, const char *name, const cJSON *args,
                   const cJSON *dropped) {
  const cJSON *lost = jget(args, "lost"), *packets = jget(args, "packets");
  const char *scope = jstr(e, "s"), *by = jstr(args, "by"), *note = jstr(args, "note");
  if (cJSON_IsNumber(dropped))
    ev->u.drop.n = to_u64(dropped->valuedouble);
  else if (cJSON_IsNumber(packets))
    ev->u.drop.n = to_u64(packets->valuedouble);
  else if (cJSON_IsNumber(lost) && !strcmp(name, "kernel lost records"))
    ev->u.drop.n = to_u64(lost->valuedouble);
  else
    return 0;
  ev->type = TE_DROPPED;
  ev->u.drop.since = ts_ns(jnum(args, "since_ts", 0));
  if (by && !strcmp(by, "lttng")) {
    ev->u.drop.kind = cJSON_IsNumber(packets) ? TE_DROP_LTTNG_PACKETS : TE_DROP_LTTNG;
    ev->u.drop.stream = jstr(args, "stream");
    ev->u.drop.shared = note && strstr(note, "shared") != NULL;
  } else if (cJSON_IsNumber(lost)) {
    ev->u.drop.kind = TE_DROP_KERNEL;
  } else if (strstr(name, "on threads with no other events")) {
    ev->u.drop.kind = TE_DROP_NO_THREAD;
  } else if (note && jget(args, "since_ts") == NULL) {
    ev->u.drop.kind = TE_DROP_AT_STOP; /* "reported at stop; where in the thread is unknown" */
  } else {
    ev->u.drop.kind = TE_DROP_MARKED;
  }
  if (scope && !strcmp(scope, "p")) {
    ev->flags |= TE_F_PROCESS;
    ev->tid = 0;
  }
  return 1;
}

/* i, I, n, R: an instant, a log message or a drop count. */
static int jr_instant(jr *r, te_event *ev, const cJSON *e, const char *name, const char *cat,
                      const cJSON *args) {
  const char *msg = jstr(args, "message");
  const cJSON *dropped = jget(args, "dropped");
  if (cat && !strcmp(cat, "log") && msg) {
    ev->type = TE_LOG;
    ev->u.log.category = name;
    ev->u.log.message = msg;
    ev->u.log.len = strlen(msg);
    ev->task = jid_num(args, "task");
    if (cJSON_IsTrue(jget(args, "cut")))
      ev->flags |= TE_F_CUT;
    return emit(r, ev);
  }
  if (cat && !strcmp(cat, "ctrace") && jr_drop(ev, e, name, args, dropped))
    return emit(r, ev);
  te_label l = {.name = name, .cat = cat ? cat : "instant"};
  ev->type = TE_INSTANT;
  ev->label = &l;
  return emit(r, ev);
}

/* C: heap, heap_set or one counter per numeric member. */
static int jr_counter(jr *r, te_event *ev, const char *name, const char *cat, const cJSON *args) {
  if (cat && !strcmp(cat, "heap") && !strcmp(name, "heap")) {
    ev->type = TE_HEAP;
    ev->u.heap.live = to_i64(jnum(args, "live", 0));
    ev->u.heap.allocated = to_u64(jnum(args, "allocated", 0));
    return emit(r, ev);
  }
  if (cat && !strcmp(cat, "heap") && !strcmp(name, "heap (program)")) {
    ev->type = TE_HEAP_SET;
    ev->u.heap_set.live = to_u64(jnum(args, "live", 0));
    ev->u.heap_set.goal = to_u64(jnum(args, "goal", 0));
    return emit(r, ev);
  }
  if (!cJSON_IsObject(args))
    return 0;
  int lone = cJSON_GetArraySize(args) == 1;
  const cJSON *a;
  cJSON_ArrayForEach(a, args) {
    if (!cJSON_IsNumber(a))
      continue;
    const char *cname = name;
    if (!lone || strcmp(a->string, "value")) {
      size_t n = strlen(name) + strlen(a->string) + 2;
      if (n > r->cap_name) {
        char *p = realloc(r->name, n);
        if (!p)
          return nomem(r);
        r->name = p;
        r->cap_name = n;
      }
      snprintf(r->name, n, "%s %s", name, a->string);
      cname = r->name;
    }
    ev->type = TE_COUNTER;
    ev->u.counter.name = cname;
    ev->u.counter.value = a->valuedouble;
    ev->u.counter.ivalue = to_i64(a->valuedouble);
    int rc = emit(r, ev);
    if (rc)
      return rc;
  }
  return 0;
}

static int jr_event(jr *r, const cJSON *e) {
  const char *ph = jstr(e, "ph");
  if (!ph || !ph[0])
    return 0;
  const char *name = jstr(e, "name");
  if (!name)
    name = "";
  const char *cat = jstr(e, "cat");
  const cJSON *args = jget(e, "args");
  te_event ev = {0};
  ev.pid = to_int(jnum(e, "pid", 0));
  ev.tid = to_int(jnum(e, "tid", 0));
  ev.ts = ts_ns(jnum(e, "ts", 0));
  switch (ph[0]) {
  case 'M': return jr_meta(r, &ev, name, args);
  case 'B': {
    r->src->events++;
    jr_thread *t = jr_thread_get(r, ev.pid, ev.tid);
    if (!t)
      return nomem(r);
    t->depth++;
    ev.type = TE_BEGIN;
    return emit_region(r, &ev, name, cat, args);
  }
  case 'E': {
    r->src->events++;
    jr_thread *t = jr_thread_get(r, ev.pid, ev.tid);
    if (!t)
      return nomem(r);
    if (t->depth)
      t->depth--;
    else
      r->src->unmatched_ends++;
    ev.type = TE_END;
    ev.depth = TE_DEPTH_NEST;
    return emit(r, &ev);
  }
  case 'X': {
    uint64_t dur = ts_ns(jnum(e, "dur", 0));
    if (cat && !strcmp(cat, "flow") && !strcmp(name, "flow") && dur <= 1)
      return 0; /* the exporter's anchor for a flow point outside any region */
    r->src->events++;
    return jr_complete(r, &ev, name, cat, args, dur);
  }
  case 'i':
  case 'I':
  case 'n':
  case 'R': r->src->events++; return jr_instant(r, &ev, e, name, cat, args);
  case 'C': r->src->events++; return jr_counter(r, &ev, name, cat, args);
  case 'b':
  case 'S':
  case 'e':
  case 'F': {
    r->src->events++;
    int begin = ph[0] == 'b' || ph[0] == 'S';
    uint64_t id = jid(e);
    if (cat && !strcmp(cat, "sched")) {
      ev.type = begin ? TE_ITEM_RUN : TE_ITEM_STOP;
      ev.u.item.id = id;
      ev.u.item.name = name;
    } else {
      ev.type = begin ? TE_TASK_BEGIN : TE_TASK_END;
      ev.u.task_ev.id = id;
      ev.u.task_ev.parent = begin ? jid_num(args, "parent") : 0;
      ev.u.task_ev.name = name;
    }
    return emit(r, &ev);
  }
  case 's':
  case 'f': {
    r->src->events++;
    jr_thread *t = jr_thread_get(r, ev.pid, ev.tid);
    if (!t)
      return nomem(r);
    ev.type = TE_FLOW;
    ev.flags = ph[0] == 'f' ? TE_F_FLOW_END : 0;
    ev.depth = t->depth < TE_DEPTH_INSIDE ? (uint16_t)t->depth : TE_DEPTH_INSIDE - 1;
    ev.u.flow.id = jid(e);
    ev.u.flow.kind = TE_FLOW_USER;
    return emit(r, &ev);
  }
  case 't':
    r->src->events++; /* (a flow's middle: counted, as the index does, not shown) */
    return 0;
  default: return 0;
  }
}

/* Line and column of byte off in s. */
static void line_col(const char *s, size_t off, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && s[i]; i++) {
    if (s[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

int te_json_read(const char *text, size_t len, te_source *src, te_handler fn, void *arg, char *err,
                 size_t errlen) {
  src->format = "chrome-json";
  src->complete = 1;
  src->process = "";
  src->pid = 0;
  src->events = 0;
  src->unmatched_ends = 0;
  src->open_regions = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 0);
  if (!root) {
    size_t off = end ? (size_t)(end - text) : 0, line, col;
    line_col(text, off, &line, &col);
    if (err && errlen)
      snprintf(err, errlen, "malformed JSON at line %zu, column %zu (byte %zu)", line, col, off);
    return CTRACE_EFORMAT;
  }
  const cJSON *evs =
      cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
  if (!cJSON_IsArray(evs)) {
    if (err && errlen)
      snprintf(err, errlen, "JSON has no traceEvents array (not a Chrome trace-event file)");
    cJSON_Delete(root);
    return CTRACE_EFORMAT;
  }
  jr r = {.src = src, .fn = fn, .arg = arg};
  te_event ev = {.type = TE_SOURCE_BEGIN};
  int rc = emit(&r, &ev);
  const cJSON *e;
  cJSON_ArrayForEach(e, evs) {
    if (rc)
      break;
    if (cJSON_IsObject(e))
      rc = jr_event(&r, e);
  }
  if (!rc) {
    for (size_t i = 0; i < r.nth; i++)
      src->open_regions += r.th[i].depth;
    ev = (te_event){.type = TE_SOURCE_END};
    rc = emit(&r, &ev);
  }
  if (r.oom && err && errlen)
    snprintf(err, errlen, "out of memory while reading JSON");
  /* src->process pointed into the parsed JSON, which goes now: the
   * handler had it until TE_SOURCE_END. */
  src->process = "";
  free(r.th);
  free(r.name);
  vh_free(&r.thread_of);
  cJSON_Delete(root);
  return rc;
}
