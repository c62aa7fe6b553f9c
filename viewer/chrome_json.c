/* Chrome trace-event JSON export: see chrome_json.h.
 *
 * Mapping (docs/format.md has the table): regions -> B/E with the name on
 * both and the call site in args; tasks -> async b/e (cat "task", id);
 * logs and instants -> i (thread scope); counters -> C; flows -> s/f with
 * "bp":"e". A flow point outside any region gets a 1 ns slice to bind to,
 * since Perfetto and Catapult drop unbound flow points. Dropped events
 * become an instant on their thread and a count in otherData. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "chrome_json.h"
#include "hashmap.h"
#include "index.h" /* vx_syscall_name */
#include "json_out.h"

/* ---- Output ------------------------------------------------------------------ */

int cj_write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* The sink of cj_export(): write(2) to an fd. */
static int fd_sink(void *arg, const char *p, size_t n) { return cj_write_all(*(int *)arg, p, n); }

/* ---- Per-site JSON fragments, built once ---------------------------------------------- */
typedef struct frag {
  char *name; /* "name":"...","cat":"..." */
  size_t name_len;
  char *args; /* ,"args":{"file":...,"line":N,"func":...} */
  size_t args_len;
} frag;

typedef struct exporter {
  /* the whole output */
  ob o;
  cj_stats st;
  int first;
  vh_map tid_pid;   /* every thread of every trace: tid -> pid (kernel events) */
  rd_span *spans;   /* the tracers' own work (their syscalls are left out) */
  size_t nspans, cap_spans;
  vh_map state_rows; /* tids whose state row has its name already */
  /* the trace being written */
  rd_trace *tr;
  int pid;
  frag *sites;
  size_t nsites;
  frag *strs;
  size_t nstrs;
  struct tstate *threads;
  vh_map tasks;   /* open tasks: id -> name string id */
  vh_map serials; /* thread serial -> index (wakers) */
  vh_map items;   /* user-level item id -> name string id */
} exporter;

typedef struct rstack_entry {
  uint64_t id;
  uint8_t is_str; /* id is a string id (dynamic name, GC kind), else a site id */
  uint8_t is_gc;
} rstack_entry;

typedef struct tstate {
  int tid;
  rstack_entry *stack;
  size_t depth, cap;
  uint64_t last_ts;
  uint64_t dropped_marked;
  int any;
  uint64_t run_item; /* the user-level item it runs (0: none) */
  uint64_t task;     /* current task (TASK_SWITCH): regions name it in args */
  /* kernel rows: on a CPU since, or off since */
  uint64_t k_since;
  int k_on;
  uint16_t k_cpu;
  uint8_t k_off;
} tstate;

static char *render(void (*fn)(ob *, const void *, const char *), const void *arg,
                    const char *extra, size_t *len) {
  /* Render into a memory-only ob (no fd): a fragment longer than the
   * buffer fails and the caller falls back to a placeholder. */
  ob o = {.sink = NULL, .cap = 1 << 16};
  o.p = malloc(o.cap);
  if (!o.p)
    return NULL;
  fn(&o, arg, extra);
  if (o.err || o.len >= o.cap) {
    free(o.p);
    return NULL;
  }
  *len = o.len;
  return o.p;
}

/* "name":"..." and, for all but regions (the bulk: B/E stay short),
 * ,"cat":"..." */
static void render_site_name(ob *o, const void *arg, const char *cat) {
  const rd_site *s = arg;
  ob_lit(o, "\"name\":");
  ob_cstr(o, s->name);
  if (strcmp(cat, "region") != 0) {
    ob_lit(o, ",\"cat\":\"");
    ob_mem(o, cat, strlen(cat));
    ob_lit(o, "\"");
  }
}

static void render_site_args(ob *o, const void *arg, const char *unused) {
  (void)unused;
  const rd_site *s = arg;
  ob_lit(o, ",\"args\":{\"file\":");
  ob_cstr(o, s->file);
  ob_lit(o, ",\"line\":");
  ob_u64(o, s->line);
  ob_lit(o, ",\"func\":");
  ob_cstr(o, s->func);
  ob_lit(o, "}");
}

static const char *site_cat(uint32_t kind) {
  switch (kind) {
  case CTRACE_FMT_SITE_COUNTER: return "counter";
  case CTRACE_FMT_SITE_INSTANT: return "instant";
  default: return "region";
  }
}

#define NONE_NAME "\"name\":\"?\""
static const frag none_frag = {(char *)NONE_NAME, sizeof NONE_NAME - 1, NULL, 0};

/* Entry idx of a growable fragment cache (zeroed when new), or NULL. */
static frag *frag_slot(frag **arr, size_t *n, size_t idx) {
  if (idx >= *n) {
    size_t cap = *n ? *n : 64;
    while (cap <= idx)
      cap *= 2;
    frag *f = realloc(*arr, cap * sizeof *f);
    if (!f)
      return NULL;
    memset(f + *n, 0, (cap - *n) * sizeof *f);
    *arr = f;
    *n = cap;
  }
  return &(*arr)[idx];
}

/* Cached by the site's dense index: memory follows the number of sites. */
static const frag *site_frag(exporter *x, uint64_t site_id) {
  const frag *none = &none_frag;
  const rd_site *s = rd_site_get(x->tr, site_id);
  size_t id = s->index;
  if (id == UINT32_MAX)
    return none;
  frag *f = frag_slot(&x->sites, &x->nsites, id);
  if (!f)
    return none;
  if (!f->name) {
    f->name = render(render_site_name, s, site_cat(s->kind), &f->name_len);
    if (s->file[0] || s->line)
      f->args = render(render_site_args, s, NULL, &f->args_len);
    if (!f->name)
      return none;
  }
  return f;
}

static void render_str_name(ob *o, const void *arg, const char *unused) {
  (void)unused;
  ob_lit(o, "\"name\":");
  ob_cstr(o, (const char *)arg);
}

/* "name":"<string>" (dynamic region names) */
static const frag *str_frag(exporter *x, uint64_t str_id) {
  const frag *none = &none_frag;
  size_t id = rd_string_index(x->tr, str_id);
  if (id == UINT32_MAX)
    return none;
  frag *f = frag_slot(&x->strs, &x->nstrs, id);
  if (!f)
    return none;
  if (!f->name) {
    const char *s = rd_string(x->tr, str_id, NULL);
    if (!(f->name = render(render_str_name, s, "region", &f->name_len)))
      return none;
  }
  return f;
}

/* ---- Events ---------------------------------------------------------------------------------------- */

/* {"ph":"X","pid":P,"tid":T,"ts":ts  -- the caller appends the rest and "}" */
static void ev_open(exporter *x, char ph, const tstate *t, uint64_t ts) {
  ob_event_open(&x->o, &x->first, ph, x->pid, t->tid, ts);
  x->st.json_events++;
}

static void push_region(tstate *t, uint64_t id, int is_str, int is_gc) {
  if (t->depth == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    rstack_entry *s = realloc(t->stack, cap * sizeof *s);
    if (!s)
      return; /* depth stays: a later end then counts as unmatched */
    t->stack = s;
    t->cap = cap;
  }
  t->stack[t->depth].id = id;
  t->stack[t->depth].is_str = (uint8_t)is_str;
  t->stack[t->depth].is_gc = (uint8_t)is_gc;
  t->depth++;
}

static void write_flow(exporter *x, tstate *t, const rd_event *ev, int begin) {
  ob *o = &x->o;
  if (t->depth == 0) {
    /* Nothing to bind to: give the point a 1 ns slice of its own. */
    ev_open(x, 'X', t, ev->ts);
    ob_lit(o, ",\"dur\":0.001,\"name\":\"flow\",\"cat\":\"flow\"}");
    x->st.flow_anchors++;
  }
  ev_open(x, begin ? 's' : 'f', t, ev->ts);
  ob_lit(o, ",\"name\":\"flow\",\"cat\":\"flow\",\"id\":\"");
  ob_hex(o, ev->arg[0]);
  ob_lit(o, "\"");
  if (!begin)
    ob_lit(o, ",\"bp\":\"e\"");
  ob_lit(o, "}");
}

static void write_thread_name(exporter *x, const tstate *t, const char *name, size_t n) {
  ob *o = &x->o;
  if (x->first)
    x->first = 0;
  else
    ob_lit(o, ",\n");
  ob_lit(o, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":");
  ob_u64(o, (uint64_t)x->pid);
  ob_lit(o, ",\"tid\":");
  ob_i64(o, t->tid);
  ob_lit(o, ",\"args\":{\"name\":");
  ob_str(o, name, n);
  ob_lit(o, "}}");
  x->st.json_events++;
}

static void write_dropped(exporter *x, tstate *t, uint64_t ts, uint64_t n, uint64_t since,
                          int marked) {
  ob *o = &x->o;
  ev_open(x, 'i', t, ts);
  ob_lit(o, ",\"s\":\"t\",\"name\":\"ctrace: ");
  ob_u64(o, n);
  ob_lit(o, " events dropped\",\"cat\":\"ctrace\",\"args\":{\"dropped\":");
  ob_u64(o, n);
  if (marked) {
    ob_lit(o, ",\"since_ts\":");
    ob_us(o, since);
  } else {
    ob_lit(o, ",\"note\":\"reported at stop; where in the thread is unknown\"");
  }
  ob_lit(o, "}}");
  x->st.dropped += n;
}

/* A 1 ns slice at ts so that a flow point there has something to bind to. */
static void flow_anchor(exporter *x, const tstate *t, uint64_t ts) {
  ev_open(x, 'X', t, ts);
  ob_lit(&x->o, ",\"dur\":0.001,\"name\":\"flow\",\"cat\":\"flow\"}");
  x->st.flow_anchors++;
}

static void flow_point(exporter *x, const tstate *t, uint64_t ts, uint64_t id, int begin,
                       int anchor) {
  if (anchor)
    flow_anchor(x, t, ts);
  ev_open(x, begin ? 's' : 'f', t, ts);
  ob_lit(&x->o, ",\"name\":\"flow\",\"cat\":\"flow\",\"id\":\"");
  ob_hex(&x->o, id);
  ob_lit(&x->o, "\"");
  if (!begin)
    ob_lit(&x->o, ",\"bp\":\"e\"");
  ob_lit(&x->o, "}");
}

static void write_instant(exporter *x, const tstate *t, uint64_t ts, const char *name,
                          const char *cat) {
  ev_open(x, 'i', t, ts);
  ob_lit(&x->o, ",\"s\":\"t\",\"name\":");
  ob_cstr(&x->o, name);
  ob_lit(&x->o, ",\"cat\":\"");
  ob_mem(&x->o, cat, strlen(cat));
  ob_lit(&x->o, "\"}");
}

/* A system call as a complete slice from start to end. */
static void write_syscall(exporter *x, const tstate *t, uint64_t start, uint64_t end, long nr,
                          uint64_t arg, int64_t ret, int kernel) {
  ob *o = &x->o;
  ev_open(x, 'X', t, start);
  ob_lit(o, ",\"dur\":");
  ob_us(o, end > start ? end - start : 0);
  ob_lit(o, ",\"name\":");
  const char *n = vx_syscall_name(nr);
  if (n)
    ob_cstr(o, n);
  else {
    ob_lit(o, "\"syscall ");
    ob_i64(o, nr);
    ob_lit(o, "\"");
  }
  ob_syscall_args(o, nr, arg, ret, kernel);
}


static uint64_t before(exporter *x, const rd_event *ev, uint64_t ticks) {
  return ticks <= ev->tick ? rd_tick_to_ns(x->tr, ev->tick - ticks, NULL) : ev->ts;
}

/* The user-level item thread t runs ends at ts. */
static void end_run(exporter *x, tstate *t, uint64_t ts) {
  if (!t->run_item)
    return;
  uint32_t *name = vh_get(&x->items, t->run_item);
  ev_open(x, 'e', t, ts);
  ob_lit(&x->o, ",\"name\":");
  if (name) {
    size_t n;
    const char *s = rd_string(x->tr, *name, &n);
    ob_str(&x->o, s, n);
  } else {
    ob_lit(&x->o, "\"item\"");
  }
  ob_lit(&x->o, ",\"cat\":\"sched\",\"id\":\"");
  ob_hex(&x->o, t->run_item);
  ob_lit(&x->o, "\"}");
  t->run_item = 0;
}

/* Events of `ctrace run`'s wrappers and of the GC and scheduling APIs. */
static void write_capture_event(exporter *x, tstate *t, const rd_event *ev) {
  ob *o = &x->o;
  switch (ev->type) {
  case CTRACE_FMT_EV_SYSCALL:
    write_syscall(x, t, before(x, ev, ev->arg[1]), ev->ts, (long)ev->arg[0], ev->arg[2],
                  ctrace_fmt_unzigzag(ev->arg[3]), 0);
    break;
  case CTRACE_FMT_EV_WAIT: {
    uint64_t start = before(x, ev, ev->arg[1]);
    uint32_t *w = ev->arg[3] ? vh_get(&x->serials, ev->arg[3]) : NULL;
    ev_open(x, 'X', t, start);
    ob_lit(o, ",\"dur\":");
    ob_us(o, ev->ts - start);
    ob_lit(o, ",\"name\":");
    ob_cstr(o, vx_wait_name((unsigned)ev->arg[0]));
    ob_lit(o, ",\"cat\":\"wait\",\"args\":{\"object\":\"");
    ob_hex(o, ev->arg[2]);
    ob_lit(o, "\"");
    if (w) {
      ob_lit(o, ",\"released_by_tid\":");
      ob_i64(o, x->threads[*w].tid);
    }
    ob_lit(o, "}}");
    if (w && ev->arg[4] <= ev->tick) { /* the arrow from the release */
      uint64_t id = (1ull << 62) | x->st.json_events;
      flow_point(x, &x->threads[*w], before(x, ev, ev->arg[4]), id, 1, 1);
      flow_point(x, t, ev->ts, id, 0, 0);
    }
    break;
  }
  case CTRACE_FMT_EV_THREAD_CREATE:
    write_instant(x, t, ev->ts, "thread create", "thread");
    flow_point(x, t, ev->ts, ev->arg[0], 1, t->depth == 0);
    break;
  case CTRACE_FMT_EV_THREAD_START:
    flow_point(x, t, ev->ts, ev->arg[0], 0, t->depth == 0);
    write_instant(x, t, ev->ts, "thread start", "thread");
    break;
  case CTRACE_FMT_EV_THREAD_EXIT:
    end_run(x, t, ev->ts);
    write_instant(x, t, ev->ts, "thread exit", "thread");
    break;
  case CTRACE_FMT_EV_HEAP:
    ev_open(x, 'C', t, ev->ts);
    ob_lit(o, ",\"name\":\"heap\",\"cat\":\"heap\",\"args\":{\"live\":");
    ob_i64(o, ctrace_fmt_unzigzag(ev->arg[0]));
    ob_lit(o, ",\"allocated\":");
    ob_u64(o, ev->arg[1]);
    ob_lit(o, "}}");
    break;
  case CTRACE_FMT_EV_HEAP_SET:
    ev_open(x, 'C', t, ev->ts);
    ob_lit(o, ",\"name\":\"heap (program)\",\"cat\":\"heap\",\"args\":{\"live\":");
    ob_u64(o, ev->arg[0]);
    ob_lit(o, ",\"goal\":");
    ob_u64(o, ev->arg[1]);
    ob_lit(o, "}}");
    break;
  case CTRACE_FMT_EV_GC_BEGIN: {
    size_t n;
    const char *kind = rd_string(x->tr, ev->arg[0], &n);
    ev_open(x, 'B', t, ev->ts);
    ob_lit(o, ",\"name\":");
    ob_str(o, n ? kind : "gc", n ? n : 2);
    ob_lit(o, ",\"cat\":\"gc\"}");
    push_region(t, ev->arg[0], 1, 1);
    break;
  }
  case CTRACE_FMT_EV_GC_END: {
    if (t->depth == 0) {
      x->st.unmatched_ends++;
      break;
    }
    rstack_entry e = t->stack[--t->depth];
    size_t n;
    const char *kind = e.is_str ? rd_string(x->tr, e.id, &n) : NULL;
    ev_open(x, 'E', t, ev->ts);
    ob_lit(o, ",\"name\":");
    if (kind && n)
      ob_str(o, kind, n);
    else
      ob_lit(o, "\"gc\"");
    ob_lit(o, ",\"cat\":\"gc\"}");
    break;
  }
  case CTRACE_FMT_EV_SCHED_CREATE:
    vh_put(&x->items, ev->arg[0], (uint32_t)ev->arg[1]);
    break;
  case CTRACE_FMT_EV_SCHED_RUN: {
    end_run(x, t, ev->ts);
    t->run_item = ev->arg[0] ? ev->arg[0] : 1;
    uint32_t *name = vh_get(&x->items, t->run_item);
    ev_open(x, 'b', t, ev->ts);
    ob_lit(o, ",\"name\":");
    if (name) {
      size_t n;
      const char *s = rd_string(x->tr, *name, &n);
      ob_str(o, s, n);
    } else {
      ob_lit(o, "\"item\"");
    }
    ob_lit(o, ",\"cat\":\"sched\",\"id\":\"");
    ob_hex(o, t->run_item);
    ob_lit(o, "\"}");
    /* the arrow from whatever unblocked it */
    flow_point(x, t, ev->ts, (1ull << 61) | t->run_item, 0, t->depth == 0);
    break;
  }
  case CTRACE_FMT_EV_SCHED_BLOCK: {
    end_run(x, t, ev->ts);
    size_t n;
    const char *why = rd_string(x->tr, ev->arg[0], &n);
    ev_open(x, 'i', t, ev->ts);
    ob_lit(o, ",\"s\":\"t\",\"name\":");
    ob_str(o, n ? why : "blocked", n ? n : 7);
    ob_lit(o, ",\"cat\":\"sched\"}");
    break;
  }
  case CTRACE_FMT_EV_SCHED_UNBLOCK:
    flow_point(x, t, ev->ts, (1ull << 61) | ev->arg[0], 1, t->depth == 0);
    break;
  case CTRACE_FMT_EV_SCHED_END:
    if (t->run_item == ev->arg[0] || !ev->arg[0])
      end_run(x, t, ev->ts);
    break;
  default:
    break;
  }
}

static void write_event(exporter *x, const rd_event *ev) {
  ob *o = &x->o;
  tstate *t = &x->threads[ev->thread];
  t->last_ts = ev->ts;
  t->any = 1;
  switch (ev->type) {
  case CTRACE_FMT_EV_REGION_BEGIN:
  case CTRACE_FMT_EV_REGION_BEGIN_STR: {
    int is_str = ev->type == CTRACE_FMT_EV_REGION_BEGIN_STR;
    const frag *f = is_str ? str_frag(x, ev->arg[0]) : site_frag(x, ev->arg[0]);
    ev_open(x, 'B', t, ev->ts);
    ob_lit(o, ",");
    ob_mem(o, f->name, f->name_len);
    if (f->args && t->task) { /* ...,"func":"f"} + ,"task":N} */
      ob_mem(o, f->args, f->args_len - 1);
      ob_lit(o, ",\"task\":");
      ob_u64(o, t->task);
      ob_lit(o, "}");
    } else if (f->args) {
      ob_mem(o, f->args, f->args_len);
    } else if (t->task) {
      ob_lit(o, ",\"args\":{\"task\":");
      ob_u64(o, t->task);
      ob_lit(o, "}");
    }
    ob_lit(o, "}");
    push_region(t, ev->arg[0], is_str, 0);
    break;
  }
  case CTRACE_FMT_EV_REGION_END: {
    if (t->depth == 0) {
      x->st.unmatched_ends++;
      break;
    }
    rstack_entry e = t->stack[--t->depth];
    const frag *f = e.is_str ? str_frag(x, e.id) : site_frag(x, e.id);
    ev_open(x, 'E', t, ev->ts);
    ob_lit(o, ",");
    ob_mem(o, f->name, f->name_len);
    if (e.is_gc)
      ob_lit(o, ",\"cat\":\"gc\"");
    ob_lit(o, "}");
    break;
  }
  case CTRACE_FMT_EV_TASK_BEGIN: {
    vh_put(&x->tasks, ev->arg[0], (uint32_t)ev->arg[2]);
    ev_open(x, 'b', t, ev->ts);
    ob_lit(o, ",\"name\":");
    size_t n;
    const char *s = rd_string(x->tr, ev->arg[2], &n);
    ob_str(o, s, n);
    ob_lit(o, ",\"cat\":\"task\",\"id\":\"");
    ob_hex(o, ev->arg[0]);
    ob_lit(o, "\",\"args\":{\"task\":");
    ob_u64(o, ev->arg[0]);
    ob_lit(o, ",\"parent\":");
    ob_u64(o, ev->arg[1]);
    ob_lit(o, "}}");
    break;
  }
  case CTRACE_FMT_EV_TASK_END: {
    uint32_t name = 0;
    vh_del(&x->tasks, ev->arg[0], &name);
    ev_open(x, 'e', t, ev->ts);
    ob_lit(o, ",\"name\":");
    if (name) {
      size_t n;
      const char *s = rd_string(x->tr, name, &n);
      ob_str(o, s, n);
    } else {
      ob_lit(o, "\"task#");
      ob_u64(o, ev->arg[0]);
      ob_lit(o, "\"");
    }
    ob_lit(o, ",\"cat\":\"task\",\"id\":\"");
    ob_hex(o, ev->arg[0]);
    ob_lit(o, "\"}");
    break;
  }
  case CTRACE_FMT_EV_LOG: {
    size_t n;
    const char *cat = rd_string(x->tr, ev->arg[1], &n);
    ev_open(x, 'i', t, ev->ts);
    ob_lit(o, ",\"s\":\"t\",\"name\":");
    if (n)
      ob_str(o, cat, n);
    else
      ob_lit(o, "\"log\"");
    ob_lit(o, ",\"cat\":\"log\",\"args\":{\"message\":");
    ob_str(o, ev->str, ev->str_len);
    if (ev->arg[0]) {
      ob_lit(o, ",\"task\":");
      ob_u64(o, ev->arg[0]);
    }
    if (ev->arg[2] & CTRACE_FMT_LOG_FLAG_CUT)
      ob_lit(o, ",\"cut\":true");
    ob_lit(o, "}}");
    break;
  }
  case CTRACE_FMT_EV_COUNTER: {
    const rd_site *s = rd_site_get(x->tr, ev->arg[0]);
    ev_open(x, 'C', t, ev->ts);
    ob_lit(o, ",\"name\":");
    ob_cstr(o, s->name);
    ob_lit(o, ",\"cat\":\"counter\",\"args\":{\"value\":");
    ob_i64(o, ctrace_fmt_unzigzag(ev->arg[1]));
    ob_lit(o, "}}");
    break;
  }
  case CTRACE_FMT_EV_INSTANT: {
    const frag *f = site_frag(x, ev->arg[0]);
    ev_open(x, 'i', t, ev->ts);
    ob_lit(o, ",\"s\":\"t\",");
    ob_mem(o, f->name, f->name_len);
    if (f->args)
      ob_mem(o, f->args, f->args_len);
    ob_lit(o, "}");
    break;
  }
  case CTRACE_FMT_EV_FLOW_BEGIN:
  case CTRACE_FMT_EV_FLOW_END:
    write_flow(x, t, ev, ev->type == CTRACE_FMT_EV_FLOW_BEGIN);
    break;
  case CTRACE_FMT_EV_TASK_SWITCH:
    t->task = ev->arg[0];
    break;
  case CTRACE_FMT_EV_THREAD_NAME:
    write_thread_name(x, t, ev->str, ev->str_len);
    break;
  case CTRACE_FMT_EV_SYSCALL:
  case CTRACE_FMT_EV_WAIT:
  case CTRACE_FMT_EV_THREAD_CREATE:
  case CTRACE_FMT_EV_THREAD_START:
  case CTRACE_FMT_EV_THREAD_EXIT:
  case CTRACE_FMT_EV_HEAP:
  case CTRACE_FMT_EV_HEAP_SET:
  case CTRACE_FMT_EV_GC_BEGIN:
  case CTRACE_FMT_EV_GC_END:
  case CTRACE_FMT_EV_SCHED_CREATE:
  case CTRACE_FMT_EV_SCHED_RUN:
  case CTRACE_FMT_EV_SCHED_BLOCK:
  case CTRACE_FMT_EV_SCHED_UNBLOCK:
  case CTRACE_FMT_EV_SCHED_END:
    write_capture_event(x, t, ev);
    break;
  case CTRACE_FMT_EV_DROPPED: {
    uint64_t since = ev->ts;
    /* arg[1] is the span in ticks; convert through the clock. */
    if (ev->arg[1] <= ev->tick)
      since = rd_tick_to_ns(x->tr, ev->tick - ev->arg[1], NULL);
    write_dropped(x, t, ev->ts, ev->arg[0], since, 1);
    t->dropped_marked += ev->arg[0];
    break;
  }
  default:
    break;
  }
}

/* ---- Metadata (cJSON) --------------------------------------------------------------------------- */

static void write_cjson(exporter *x, cJSON *obj) {
  char *s = cJSON_PrintUnformatted(obj);
  if (s) {
    if (x->first)
      x->first = 0;
    else
      ob_lit(&x->o, ",\n");
    ob_mem(&x->o, s, strlen(s));
    x->st.json_events++;
    cJSON_free(s);
  } else {
    x->o.err = -ENOMEM;
  }
  cJSON_Delete(obj);
}

static cJSON *meta(exporter *x, const char *what, int tid, const char *key, cJSON *val) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddStringToObject(m, "ph", "M");
  cJSON_AddStringToObject(m, "name", what);
  cJSON_AddNumberToObject(m, "pid", x->pid);
  cJSON_AddNumberToObject(m, "tid", tid);
  cJSON *args = cJSON_AddObjectToObject(m, "args");
  cJSON_AddItemToObject(args, key, val);
  return m;
}

static void write_metadata(exporter *x) {
  rd_trace *tr = x->tr;
  char pname[256];
  snprintf(pname, sizeof pname, "%s (pid %d)",
           rd_process_name(tr)[0] ? rd_process_name(tr) : "process", x->pid);
  write_cjson(x, meta(x, "process_name", 0, "name", cJSON_CreateString(pname)));
  for (size_t i = 0; i < rd_thread_count(tr); i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    if (th->kernel)
      continue;
    char name[128];
    if (th->name[0])
      snprintf(name, sizeof name, "%s", th->name);
    else
      snprintf(name, sizeof name, "thread %d", x->threads[i].tid);
    write_cjson(x, meta(x, "thread_name", x->threads[i].tid, "name", cJSON_CreateString(name)));
    write_cjson(x, meta(x, "thread_sort_index", x->threads[i].tid, "sort_index",
                        cJSON_CreateNumber(th->serial)));
  }
}

static void write_other_data(exporter *x, rd_trace *const *trs, size_t n, int complete) {
  rd_trace *tr = x->tr;
  cJSON *od = cJSON_CreateObject();
  cJSON_AddStringToObject(od, "producer", "ctrace");
  cJSON_AddStringToObject(od, "ctrace_version", ctrace_version());
  char v[32];
  snprintf(v, sizeof v, "%d.%u", CTRACE_FMT_VERSION_MAJOR, rd_format_minor(tr));
  cJSON_AddStringToObject(od, "trace_format", v);
  cJSON_AddStringToObject(od, "clock", rd_clock_kind(tr) == CTRACE_FMT_CLOCK_TSC
                                           ? "tsc (mapped to CLOCK_MONOTONIC)"
                                           : "CLOCK_MONOTONIC");
  cJSON_AddStringToObject(od, "timestamps", "CLOCK_MONOTONIC microseconds");
  cJSON_AddNumberToObject(od, "clock_sync_points", (double)rd_clock_points(tr));
  cJSON_AddNumberToObject(od, "start_realtime_ns", (double)rd_start_real_ns(tr));
  cJSON_AddNumberToObject(od, "pid", x->pid);
  cJSON_AddStringToObject(od, "process", rd_process_name(tr));
  cJSON_AddStringToObject(od, "command_line", rd_command_line(tr));
  cJSON_AddNumberToObject(od, "events", (double)x->st.events_read);
  cJSON_AddNumberToObject(od, "dropped_events", (double)x->st.dropped);
  cJSON *by = cJSON_AddObjectToObject(od, "dropped_events_by_tid");
  for (size_t i = 0; i < rd_thread_count(tr); i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    uint64_t d = th->dropped > x->threads[i].dropped_marked ? th->dropped
                                                             : x->threads[i].dropped_marked;
    if (d) {
      char k[24];
      snprintf(k, sizeof k, "%d", x->threads[i].tid);
      cJSON_AddNumberToObject(by, k, (double)d);
    }
  }
  cJSON_AddBoolToObject(od, "complete", complete);
  if (rd_problem(tr))
    cJSON_AddStringToObject(od, "problem", rd_problem(tr));
  cJSON *all = cJSON_AddArrayToObject(od, "traces");
  for (size_t k = 0; k < n; k++) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "pid", rd_pid(trs[k]));
    cJSON_AddStringToObject(j, "process", rd_process_name(trs[k]));
    cJSON_AddBoolToObject(j, "complete", rd_complete(trs[k]));
    if (rd_problem(trs[k]))
      cJSON_AddStringToObject(j, "problem", rd_problem(trs[k]));
    const rd_capture *c = rd_capture_get(trs[k]);
    if (c->present) {
      static const char *const modes[] = {"off", "wrappers", "kernel"};
      cJSON *cj = cJSON_AddObjectToObject(j, "capture");
      cJSON_AddStringToObject(cj, "syscalls", modes[c->syscalls % 3]);
      cJSON_AddStringToObject(cj, "sched", modes[c->sched % 3]);
      cJSON_AddBoolToObject(cj, "heap", c->heap);
      cJSON_AddBoolToObject(cj, "locks", c->locks);
      if (c->why && c->why[0])
        cJSON_AddStringToObject(cj, "note", c->why);
    }
    cJSON_AddItemToArray(all, j);
  }
  if (x->st.unmatched_ends)
    cJSON_AddNumberToObject(od, "unmatched_region_ends", (double)x->st.unmatched_ends);
  if (x->st.open_regions)
    cJSON_AddNumberToObject(od, "regions_never_closed", (double)x->st.open_regions);
  char *s = cJSON_PrintUnformatted(od);
  if (s) {
    ob_lit(&x->o, ",\n\"otherData\":");
    ob_mem(&x->o, s, strlen(s));
    cJSON_free(s);
  } else {
    x->o.err = -ENOMEM;
  }
  cJSON_Delete(od);
}

int cj_export(rd_trace *tr, int fd, cj_stats *stats, char *err, size_t errlen) {
  return cj_export_sink(tr, fd_sink, &fd, stats, err, errlen);
}

int cj_export_sink(rd_trace *tr, cj_sink sink, void *arg, cj_stats *stats, char *err,
                   size_t errlen) {
  return cj_export_many(&tr, 1, sink, arg, stats, err, errlen);
}

static int is_kernel_trace(rd_trace *tr, int *any_thread) {
  int k = 0;
  *any_thread = 0;
  for (size_t i = 0; i < rd_thread_count(tr); i++) {
    if (rd_thread_get(tr, i)->kernel)
      k = 1;
    else
      *any_thread = 1;
  }
  return k;
}

/* One trace's threads and events. */
static void export_trace(exporter *x, rd_trace *tr) {
  x->tr = tr;
  x->pid = rd_pid(tr);
  size_t nt = rd_thread_count(tr);
  x->threads = calloc(nt ? nt : 1, sizeof *x->threads);
  rd_merge *m = rd_merge_open(tr);
  if (!x->threads || !m) {
    free(x->threads);
    x->threads = NULL;
    rd_merge_close(m);
    x->o.err = -ENOMEM;
    return;
  }
  for (size_t i = 0; i < nt; i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    /* A thread never defined (its DEF was lost) still needs its own row. */
    x->threads[i].tid = th->tid ? th->tid : (int)(1000000000u + th->serial);
    vh_put(&x->serials, th->serial, (uint32_t)i);
  }
  write_metadata(x);
  rd_event ev;
  while (rd_merge_next(m, &ev) == 1) {
    x->st.events_read++;
    if (rd_thread_get(tr, ev.thread)->kernel)
      continue; /* kernel events: export_kernel */
    write_event(x, &ev);
    if (x->o.err)
      break;
  }
  rd_merge_close(m);
  /* Drops the tracer reported but no DROPPED event marks (the thread never
   * got memory again before the end): one instant at its last event. */
  uint64_t dropped_before = x->st.dropped;
  for (size_t i = 0; i < nt; i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    tstate *t = &x->threads[i];
    end_run(x, t, t->last_ts);
    if (th->dropped > t->dropped_marked)
      write_dropped(x, t, t->last_ts ? t->last_ts : rd_start_ns(tr),
                    th->dropped - t->dropped_marked, 0, 0);
    x->st.open_regions += t->depth;
  }
  /* Drops on threads that never got memory to record anything: they have
   * no row; the total still tells them (process-wide instant). */
  uint64_t reported = rd_dropped_reported(tr), here = x->st.dropped - dropped_before;
  if (reported > here) {
    uint64_t n = reported - here, last = rd_start_ns(tr);
    for (size_t i = 0; i < nt; i++)
      if (x->threads[i].last_ts > last)
        last = x->threads[i].last_ts;
    tstate proc = {.tid = 0};
    ev_open(x, 'i', &proc, last);
    ob_lit(&x->o, ",\"s\":\"p\",\"name\":\"ctrace: ");
    ob_u64(&x->o, n);
    ob_lit(&x->o, " events dropped on threads with no other events\",\"cat\":\"ctrace\","
                  "\"args\":{\"dropped\":");
    ob_u64(&x->o, n);
    ob_lit(&x->o, "}}");
    x->st.dropped += n;
  }
}

/* The per-trace state, after its otherData was written. */
static void trace_done(exporter *x) {
  size_t nt = x->tr ? rd_thread_count(x->tr) : 0;
  for (size_t i = 0; x->threads && i < nt; i++)
    free(x->threads[i].stack);
  free(x->threads);
  x->threads = NULL;
  for (size_t i = 0; i < x->nsites; i++) {
    free(x->sites[i].name);
    free(x->sites[i].args);
  }
  free(x->sites);
  x->sites = NULL;
  x->nsites = 0;
  for (size_t i = 0; i < x->nstrs; i++)
    free(x->strs[i].name);
  free(x->strs);
  x->strs = NULL;
  x->nstrs = 0;
  vh_free(&x->tasks);
  vh_free(&x->serials);
  vh_free(&x->items);
}

/* A thread's scheduler state as a slice on its own row beside the thread
 * (states do not nest with regions): tid + 10^9, named "<tid> state". */
static void write_state(exporter *x, int tid, uint64_t start, uint64_t end, const char *state,
                        int cpu) {
  uint32_t *pid = vh_get(&x->tid_pid, (uint64_t)tid);
  int p = pid ? (int)*pid : x->pid;
  tstate row = {.tid = 1000000000 + tid};
  if (!vh_get(&x->state_rows, (uint64_t)tid)) {
    vh_put(&x->state_rows, (uint64_t)tid, 1);
    int keep = x->pid;
    x->pid = p;
    char name[64];
    snprintf(name, sizeof name, "tid %d state", tid);
    write_cjson(x, meta(x, "thread_name", row.tid, "name", cJSON_CreateString(name)));
    x->pid = keep;
  }
  int keep = x->pid;
  x->pid = p;
  ev_open(x, 'X', &row, start);
  x->pid = keep;
  ob_state_rest(&x->o, start, end, state, cpu);
}

/* ctrace run's FILE.kernel: context switches as state rows, system calls as
 * slices on the threads they belong to (by tid), the tracer's own left out. */
static void export_kernel(exporter *x, rd_trace *tr) {
  x->tr = tr;
  x->pid = rd_pid(tr);
  vh_map st = {0};
  tstate *ks = NULL;
  size_t nks = 0, cks = 0;
  rd_merge *m = rd_merge_open(tr);
  rd_event ev;
  while (m && rd_merge_next(m, &ev) == 1) {
    x->st.events_read++;
    if (!rd_thread_get(tr, ev.thread)->kernel)
      continue;
    int tid = (int)ev.arg[0];
    if (ev.type == CTRACE_FMT_EV_K_LOST) {
      tstate proc = {.tid = 0};
      ev_open(x, 'i', &proc, ev.ts);
      ob_lit(&x->o, ",\"s\":\"p\",\"name\":\"kernel lost records\",\"cat\":\"ctrace\","
                    "\"args\":{\"lost\":");
      ob_u64(&x->o, ev.arg[1]);
      ob_lit(&x->o, "}}");
      continue;
    }
    if (ev.type == CTRACE_FMT_EV_K_TASK) {
      if (!vh_get(&x->tid_pid, (uint64_t)tid) && ev.arg[1] <= INT32_MAX)
        vh_put(&x->tid_pid, (uint64_t)tid, (uint32_t)ev.arg[1]);
      continue;
    }
    if (rd_spans_cover(x->spans, x->nspans, tid, 0) == 2)
      continue; /* the tracer's writer thread */
    if (ev.type == CTRACE_FMT_EV_K_EXIT) {
      uint32_t *i = vh_get(&st, (uint64_t)tid);
      if (i && ks[*i].k_on == 1) /* its last switch-out is not reported */
        write_state(x, tid, ks[*i].k_since, ev.ts, "running", ks[*i].k_cpu);
      if (i)
        ks[*i].k_on = 2; /* gone */
      continue;
    }
    if (ev.type == CTRACE_FMT_EV_K_SYSCALL) {
      uint64_t start = ev.ts > ev.arg[2] ? ev.ts - ev.arg[2] : 0;
      if ((ev.arg[1] == SYS_execve || ev.arg[1] == SYS_execveat) && ev.arg[4] == 0)
        rd_spans_exec(x->spans, x->nspans, tid, start);
      if (rd_spans_cover(x->spans, x->nspans, tid, start))
        continue;
      uint32_t *pid = vh_get(&x->tid_pid, (uint64_t)tid);
      int keep = x->pid;
      x->pid = pid ? (int)*pid : keep;
      tstate t = {.tid = tid};
      write_syscall(x, &t, start, ev.ts, (long)ev.arg[1], ev.arg[3],
                    ctrace_fmt_unzigzag(ev.arg[4]), 1);
      x->pid = keep;
      uint32_t *i = vh_get(&st, (uint64_t)tid);
      if (i && (ev.arg[1] == SYS_exit || ev.arg[1] == SYS_exit_group)) {
        if (ks[*i].k_on == 1) /* its last switch-out is not reported */
          write_state(x, tid, ks[*i].k_since, ev.ts, "running", ks[*i].k_cpu);
        ks[*i].k_on = 2; /* gone */
      }
    } else if (ev.type == CTRACE_FMT_EV_K_SWITCH) {
      uint32_t *i = vh_get(&st, (uint64_t)tid);
      if (i && ks[*i].k_on == 2)
        continue;
      if (!i) {
        if (nks == cks) {
          cks = cks ? cks * 2 : 64;
          tstate *p = realloc(ks, cks * sizeof *p);
          if (!p)
            break;
          ks = p;
        }
        memset(&ks[nks], 0, sizeof ks[nks]);
        ks[nks].k_on = -1;
        vh_put(&st, (uint64_t)tid, (uint32_t)nks);
        i = vh_get(&st, (uint64_t)tid);
        nks++;
      }
      tstate *s = &ks[*i];
      if (ev.arg[2] == CTRACE_FMT_SWITCH_IN) {
        if (s->k_on == 0)
          write_state(x, tid, s->k_since, ev.ts, s->k_off ? "runnable" : "off cpu", -1);
        s->k_on = 1;
        s->k_cpu = (uint16_t)ev.arg[1];
      } else {
        if (s->k_on == 1)
          write_state(x, tid, s->k_since, ev.ts, "running", s->k_cpu);
        s->k_on = 0;
        s->k_off = ev.arg[2] == CTRACE_FMT_SWITCH_OUT_PREEMPT;
      }
      s->k_since = ev.ts;
    }
    if (x->o.err)
      break;
  }
  rd_merge_close(m);
  free(ks);
  vh_free(&st);
}

int cj_export_many(rd_trace *const *trs, size_t n, cj_sink sink, void *arg, cj_stats *stats,
                   char *err, size_t errlen) {
  exporter x = {.first = 1};
  x.o.sink = sink;
  x.o.arg = arg;
  x.o.cap = 1 << 20;
  x.o.p = malloc(x.o.cap);
  if (!x.o.p || n == 0) {
    free(x.o.p);
    snprintf(err, errlen, n ? "out of memory" : "no trace");
    return CTRACE_ENOMEM;
  }
  /* Every thread's process (kernel events name threads only), and the
   * tracers' own work. */
  for (size_t k = 0; k < n; k++) {
    for (size_t i = 0; i < rd_thread_count(trs[k]); i++) {
      const rd_thread *th = rd_thread_get(trs[k], i);
      if (!th->kernel && th->tid > 0)
        vh_put(&x.tid_pid, (uint64_t)th->tid, (uint32_t)rd_pid(trs[k]));
    }
    const rd_span *sp;
    size_t ns = rd_tracer_spans(trs[k], &sp);
    for (size_t i = 0; i < ns; i++) {
      if (x.nspans == x.cap_spans) {
        x.cap_spans = x.cap_spans ? x.cap_spans * 2 : 16;
        rd_span *p = realloc(x.spans, x.cap_spans * sizeof *p);
        if (!p)
          break;
        x.spans = p;
      }
      x.spans[x.nspans++] = sp[i];
    }
  }
  rd_spans_clip(x.spans, x.nspans);
  ob_lit(&x.o, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
  int complete = 1;
  for (size_t k = 0; k < n && !x.o.err; k++) {
    int threads;
    if (is_kernel_trace(trs[k], &threads)) {
      export_kernel(&x, trs[k]);
      if (!threads) {
        complete &= rd_complete(trs[k]);
        continue;
      }
    }
    export_trace(&x, trs[k]);
    complete &= rd_complete(trs[k]);
    if (k + 1 < n)
      trace_done(&x);
  }
  ob_lit(&x.o, "\n]");
  /* otherData describes the first trace, and lists them all. */
  rd_trace *first = trs[0];
  for (size_t k = 0; k < n; k++) {
    int threads;
    if (!is_kernel_trace(trs[k], &threads) || threads) {
      first = trs[k];
      break;
    }
  }
  if (x.tr != first || !x.threads) { /* (a kernel-only export has none) */
    trace_done(&x);
    x.tr = first;
    x.pid = rd_pid(first);
    size_t nt = rd_thread_count(first);
    x.threads = calloc(nt ? nt : 1, sizeof *x.threads);
    for (size_t i = 0; x.threads && i < nt; i++)
      x.threads[i].tid = rd_thread_get(first, i)->tid;
  }
  write_other_data(&x, trs, n, complete);
  ob_lit(&x.o, "}\n");
  ob_flush(&x.o);
  int werr = x.o.err;
  if (werr)
    snprintf(err, errlen, "write failed: %s", strerror(-werr));
  trace_done(&x);
  vh_free(&x.tid_pid);
  vh_free(&x.state_rows);
  free(x.spans);
  free(x.o.p);
  if (stats)
    *stats = x.st;
  return werr;
}
