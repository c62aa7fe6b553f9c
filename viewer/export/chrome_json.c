/* Chrome trace-event JSON export: see export.h.
 *
 * Mapping (docs/format.md has the table): regions -> B/E with the name on
 * both and the call site in args; tasks -> async b/e (cat "task", id);
 * logs and instants -> i (thread scope); counters -> C; flows -> s/f with
 * "bp":"e". A flow point outside any region gets a 1 ns slice to bind to,
 * since Perfetto and Catapult drop unbound flow points. Dropped events
 * become an instant on their thread and a count in otherData. Thread
 * states go on a row of their own beside each thread ("tid N state"):
 * they do not nest with regions. CPU samples: cj_samples.c, written after
 * otherData; a sampled thread the trace does not name is named then, so
 * that Catapult finds the thread of each sample. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "export.h"
#include "read.h"
#include "cj_samples.h"
#include "common.h"
#include "json_out.h"

/* ---- Output ------------------------------------------------------------------ */

int cj_fd_sink(void *arg, const char *p, size_t n) { return ctrace__write_all(*(int *)arg, p, n); }

/* ---- State ------------------------------------------------------------------------- */

/* A label's JSON, rendered once per source: "name":"..." (and ,"cat":"..."
 * but for regions), and ,"args":{"file":..,"line":N,"func":.. without the
 * closing brace (a task may follow). */
typedef struct frag {
  char *name;
  size_t name_len;
  char *args;
  size_t args_len;
} frag;

typedef struct exporter {
  ob o;
  cj_stats st;
  int first;
  frag *frags; /* by label key, for the source being read */
  size_t nfrags;
  vh_map state_rows; /* tids whose state row has its name already */
  /* otherData: the first ctrace source that has threads, and what was
   * marked dropped on its threads */
  const te_source *main;
  vh_map marked; /* tid -> events marked dropped (main's) */
  int complete;
  /* CPU samples */
  cj_samples *samples;
  uint32_t source;  /* the source being read: its number in the set */
  int named_frames; /* a namer names the frames (else they are addresses) */
  vh_map named;     /* tids with a thread_name written */
  vh_map implicit;  /* tid -> the reader's name for it (implicit_names) + 1 */
  char **implicit_names;
  size_t nimplicit, cap_implicit;
} exporter;

/* ---- Writing ----------------------------------------------------------------------- */

/* {"ph":"X","pid":P,"tid":T,"ts":ts  -- the caller appends the rest and "}" */
static void ev_open(exporter *x, char ph, int pid, int tid, uint64_t ts) {
  ob_event_open(&x->o, &x->first, ph, pid, tid, ts);
  x->st.json_events++;
}

/* {"ph":"M","name":what,"pid":P,"tid":T,"args":{"key":  -- the caller ends it */
static void meta_open(exporter *x, const char *what, int pid, int tid, const char *key) {
  ob *o = &x->o;
  if (x->first)
    x->first = 0;
  else
    ob_lit(o, ",\n");
  ob_lit(o, "{\"ph\":\"M\",\"name\":\"");
  ob_mem(o, what, strlen(what));
  ob_lit(o, "\",\"pid\":");
  ob_i64(o, pid);
  ob_lit(o, ",\"tid\":");
  ob_i64(o, tid);
  ob_lit(o, ",\"args\":{\"");
  ob_mem(o, key, strlen(key));
  ob_lit(o, "\":");
  x->st.json_events++;
}

static void render_name(ob *o, const te_label *l) {
  ob_lit(o, "\"name\":");
  ob_cstr(o, l->name);
  if (strcmp(l->cat, "region") != 0) {
    ob_lit(o, ",\"cat\":\"");
    ob_mem(o, l->cat, strlen(l->cat));
    ob_lit(o, "\"");
  }
}

static void render_args(ob *o, const te_label *l) {
  ob_lit(o, ",\"args\":{\"file\":");
  ob_cstr(o, l->file ? l->file : "");
  ob_lit(o, ",\"line\":");
  ob_u64(o, l->line);
  ob_lit(o, ",\"func\":");
  ob_cstr(o, l->func ? l->func : "");
}

/* s rendered into a buffer of its own (a fragment), or NULL. */
static char *render(void (*fn)(ob *, const te_label *), const te_label *l, size_t *len) {
  ob o = {.sink = NULL, .cap = 1 << 16};
  if (!(o.p = malloc(o.cap)))
    return NULL;
  fn(&o, l);
  if (o.err || o.len >= o.cap) {
    free(o.p);
    return NULL;
  }
  *len = o.len;
  return o.p;
}

static int has_site(const te_label *l) { return (l->file && l->file[0]) || l->line; }

/* The label's fragments: cached by key, rendered now for keyless labels. */
static const frag *frag_of(exporter *x, const te_label *l, frag *tmp) {
  frag *f = tmp;
  if (l->key) {
    if (l->key >= x->nfrags) {
      size_t cap = x->nfrags ? x->nfrags : 64;
      while (cap <= l->key)
        cap *= 2;
      frag *p = realloc(x->frags, cap * sizeof *p);
      if (p) {
        memset(p + x->nfrags, 0, (cap - x->nfrags) * sizeof *p);
        x->frags = p;
        x->nfrags = cap;
      }
    }
    if (l->key < x->nfrags)
      f = &x->frags[l->key];
  }
  if (!f->name) {
    f->name = render(render_name, l, &f->name_len);
    f->args = has_site(l) ? render(render_args, l, &f->args_len) : NULL;
  }
  return f;
}

static void frag_release(exporter *x, frag *tmp) {
  if (tmp >= x->frags && tmp < x->frags + x->nfrags)
    return;
  free(tmp->name);
  free(tmp->args);
}

/* ,"name":...[,"args":{...[,"task":N]}] then "}" */
static void write_label(exporter *x, const te_label *l, uint64_t task, int with_args) {
  ob *o = &x->o;
  frag tmp = {0};
  const frag *f = frag_of(x, l, &tmp);
  ob_lit(o, ",");
  if (f->name)
    ob_mem(o, f->name, f->name_len);
  else
    ob_lit(o, "\"name\":\"?\"");
  if (with_args && f->args) {
    ob_mem(o, f->args, f->args_len);
    if (task) {
      ob_lit(o, ",\"task\":");
      ob_u64(o, task);
    }
    ob_lit(o, "}");
  } else if (with_args && task) {
    ob_lit(o, ",\"args\":{\"task\":");
    ob_u64(o, task);
    ob_lit(o, "}");
  }
  ob_lit(o, "}");
  frag_release(x, &tmp);
}

/* A 1 ns slice at ts so that a flow point there has something to bind to. */
static void flow_anchor(exporter *x, int pid, int tid, uint64_t ts) {
  ev_open(x, 'X', pid, tid, ts);
  ob_lit(&x->o, ",\"dur\":0.001,\"name\":\"flow\",\"cat\":\"flow\"}");
  x->st.flow_anchors++;
}

static void flow_point(exporter *x, int pid, int tid, uint64_t ts, uint64_t id, int begin,
                       int anchor) {
  if (anchor)
    flow_anchor(x, pid, tid, ts);
  ev_open(x, begin ? 's' : 'f', pid, tid, ts);
  ob_lit(&x->o, ",\"name\":\"flow\",\"cat\":\"flow\",\"id\":\"");
  ob_hex(&x->o, id);
  ob_lit(&x->o, "\"");
  if (!begin)
    ob_lit(&x->o, ",\"bp\":\"e\"");
  ob_lit(&x->o, "}");
}

/* ---- Events, one writer per family ----------------------------------------------------- */

/* The reader's name for a thread the trace does not name, kept for when it
 * has samples (sample_thread). */
static void keep_implicit(exporter *x, const te_event *ev) {
  uint64_t tid = (uint64_t)(uint32_t)ev->tid;
  if (!ev->u.thread.name)
    return;
  char *name = strdup(ev->u.thread.name);
  char **slot = name ? VH_PUSH(x->implicit_names, x->nimplicit, x->cap_implicit) : NULL;
  if (slot)
    *slot = name;
  else
    free(name);
  if (!slot || vh_put(&x->implicit, tid, (uint32_t)x->nimplicit))
    x->o.err = -ENOMEM;
}

static void write_thread(exporter *x, const te_event *ev) {
  if (ev->flags & TE_F_IMPLICIT) { /* the kernel's guess at a name: not the trace's */
    if (!vh_get(&x->named, (uint64_t)(uint32_t)ev->tid))
      keep_implicit(x, ev);
    return;
  }
  if (vh_put(&x->named, (uint64_t)(uint32_t)ev->tid, 1))
    x->o.err = -ENOMEM;
  meta_open(x, "thread_name", ev->pid, ev->tid, "name");
  if (ev->u.thread.name) {
    ob_cstr(&x->o, ev->u.thread.name);
  } else {
    ob_lit(&x->o, "\"thread ");
    ob_i64(&x->o, ev->tid);
    ob_lit(&x->o, "\"");
  }
  ob_lit(&x->o, "}}");
  if (ev->flags & TE_F_SORT) {
    meta_open(x, "thread_sort_index", ev->pid, ev->tid, "sort_index");
    ob_i64(&x->o, ev->u.thread.sort);
    ob_lit(&x->o, "}}");
  }
}

static void write_process(exporter *x, const te_event *ev) {
  char buf[300];
  const char *name = ev->u.thread.name;
  snprintf(buf, sizeof buf, "%s (pid %d)", name && name[0] ? name : "process", ev->pid);
  meta_open(x, "process_name", ev->pid, 0, "name");
  ob_cstr(&x->o, buf);
  ob_lit(&x->o, "}}");
}

static void write_slice_event(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  switch (ev->type) {
  case TE_BEGIN:
    ev_open(x, 'B', ev->pid, ev->tid, ev->ts);
    write_label(x, ev->label, ev->task, 1);
    break;
  case TE_END:
    ev_open(x, 'E', ev->pid, ev->tid, ev->ts);
    write_label(x, ev->label, 0, 0);
    break;
  case TE_SLICE:
    ev_open(x, 'X', ev->pid, ev->tid, ev->ts);
    ob_lit(o, ",\"dur\":");
    ob_us(o, ev->dur);
    write_label(x, ev->label, ev->task, 1);
    break;
  case TE_INSTANT:
    ev_open(x, 'i', ev->pid, ev->tid, ev->ts);
    if (ev->flags & TE_F_PROCESS)
      ob_lit(o, ",\"s\":\"p\"");
    else
      ob_lit(o, ",\"s\":\"t\"");
    write_label(x, ev->label, 0, 1);
    break;
  case TE_LOG:
    ev_open(x, 'i', ev->pid, ev->tid, ev->ts);
    ob_lit(o, ",\"s\":\"t\",\"name\":");
    ob_cstr(o, ev->u.log.category);
    ob_lit(o, ",\"cat\":\"log\",\"args\":{\"message\":");
    ob_str(o, ev->u.log.message, ev->u.log.len);
    if (ev->task) {
      ob_lit(o, ",\"task\":");
      ob_u64(o, ev->task);
    }
    if (ev->flags & TE_F_CUT)
      ob_lit(o, ",\"cut\":true");
    ob_lit(o, "}}");
    break;
  case TE_FLOW:
    flow_point(x, ev->pid, ev->tid, ev->ts, ev->u.flow.id, !(ev->flags & TE_F_FLOW_END),
               ev->depth == 0);
    break;
  default: break;
  }
}

static void write_counter_event(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  ev_open(x, 'C', ev->pid, ev->tid, ev->ts);
  switch (ev->type) {
  case TE_COUNTER:
    ob_lit(o, ",\"name\":");
    ob_cstr(o, ev->u.counter.name);
    ob_lit(o, ",\"cat\":\"counter\",\"args\":{\"value\":");
    ob_i64(o, ev->u.counter.ivalue);
    break;
  case TE_HEAP:
    ob_lit(o, ",\"name\":\"heap\",\"cat\":\"heap\",\"args\":{\"live\":");
    ob_i64(o, ev->u.heap.live);
    ob_lit(o, ",\"allocated\":");
    ob_u64(o, ev->u.heap.allocated);
    break;
  default: /* TE_HEAP_SET */
    ob_lit(o, ",\"name\":\"heap (program)\",\"cat\":\"heap\",\"args\":{\"live\":");
    ob_u64(o, ev->u.heap_set.live);
    ob_lit(o, ",\"goal\":");
    ob_u64(o, ev->u.heap_set.goal);
    break;
  }
  ob_lit(o, "}}");
}

/* Tasks and work items: async b/e. */
static void write_async(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  int begin = ev->type == TE_TASK_BEGIN || ev->type == TE_ITEM_RUN;
  int task = ev->type == TE_TASK_BEGIN || ev->type == TE_TASK_END;
  const char *name = task ? ev->u.task_ev.name : ev->u.item.name;
  uint64_t id = task ? ev->u.task_ev.id : ev->u.item.id;
  ev_open(x, begin ? 'b' : 'e', ev->pid, ev->tid, ev->ts);
  ob_lit(o, ",\"name\":");
  if (name) {
    ob_cstr(o, name);
  } else if (task) {
    ob_lit(o, "\"task#");
    ob_u64(o, id);
    ob_lit(o, "\"");
  } else {
    ob_lit(o, "\"item\"");
  }
  if (task)
    ob_lit(o, ",\"cat\":\"task\",\"id\":\"");
  else
    ob_lit(o, ",\"cat\":\"sched\",\"id\":\"");
  ob_hex(o, id);
  ob_lit(o, "\"");
  if (ev->type == TE_TASK_BEGIN) {
    ob_lit(o, ",\"args\":{\"task\":");
    ob_u64(o, id);
    ob_lit(o, ",\"parent\":");
    ob_u64(o, ev->u.task_ev.parent);
    ob_lit(o, "}");
  }
  ob_lit(o, "}");
}

static void write_syscall(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  ev_open(x, 'X', ev->pid, ev->tid, ev->ts);
  ob_lit(o, ",\"dur\":");
  ob_us(o, ev->dur);
  ob_lit(o, ",\"name\":");
  long nr = ev->u.syscall.nr;
  const char *n = nr >= 0 ? te_syscall_name(nr) : NULL;
  if (n || ev->u.syscall.name) {
    ob_cstr(o, n ? n : ev->u.syscall.name);
  } else {
    ob_lit(o, "\"syscall ");
    ob_i64(o, nr);
    ob_lit(o, "\"");
  }
  ob_syscall_args(o, nr, ev->u.syscall.arg, ev->u.syscall.ret, ev->flags & TE_F_KERNEL);
}

/* A wait, and the arrow from the release that ended it. */
static void write_wait(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  ev_open(x, 'X', ev->pid, ev->tid, ev->ts);
  ob_lit(o, ",\"dur\":");
  ob_us(o, ev->dur);
  ob_lit(o, ",\"name\":");
  ob_cstr(o, te_wait_name(ev->u.wait.kind));
  ob_lit(o, ",\"cat\":\"wait\",\"args\":{\"object\":\"");
  ob_hex(o, ev->u.wait.object);
  ob_lit(o, "\"");
  if (ev->u.wait.waker_tid) {
    ob_lit(o, ",\"released_by_tid\":");
    ob_i64(o, ev->u.wait.waker_tid);
  }
  ob_lit(o, "}}");
  if (ev->u.wait.waker_tid && (ev->flags & TE_F_RELEASE)) {
    uint64_t id = (1ull << 62) | x->st.json_events;
    flow_point(x, ev->u.wait.waker_pid, ev->u.wait.waker_tid, ev->u.wait.release_ts, id, 1, 1);
    flow_point(x, ev->pid, ev->tid, ev->ts + ev->dur, id, 0, 0);
  }
}

/* A thread's scheduler state, on its state row (tid + 10^9, "tid N state"). */
static void write_state(exporter *x, const te_event *ev) {
  if ((ev->flags & (TE_F_TO_END | TE_F_GROUP_EXIT)) ||
      ((ev->flags & TE_F_AT_EXIT) && ev->u.state.state != TE_ST_RUNNING))
    return; /* (only what the kernel said ended, and a thread's last run) */
  int row = 1000000000 + ev->tid;
  if (!vh_get(&x->state_rows, (uint64_t)(uint32_t)ev->tid)) {
    vh_put(&x->state_rows, (uint64_t)(uint32_t)ev->tid, 1);
    char name[64];
    snprintf(name, sizeof name, "tid %d state", ev->tid);
    meta_open(x, "thread_name", ev->pid, row, "name");
    ob_cstr(&x->o, name);
    ob_lit(&x->o, "}}");
  }
  const char *st = ev->u.state.state == TE_ST_RUNNING    ? "running"
                   : ev->u.state.state == TE_ST_RUNNABLE ? "runnable"
                                                         : "off cpu";
  ev_open(x, 'X', ev->pid, row, ev->ts);
  ob_state_rest(&x->o, ev->ts, ev->ts + ev->dur, st, ev->u.state.cpu);
}

static void write_lttng_drop(exporter *x, const te_event *ev) {
  ob *o = &x->o;
  int packets = ev->u.drop.kind == TE_DROP_LTTNG_PACKETS;
  ob_lit(o, ",\"s\":\"p\",\"name\":\"ctrace: ");
  if (ev->u.drop.n)
    ob_u64(o, ev->u.drop.n);
  else
    ob_lit(o, "some");
  if (packets)
    ob_lit(o, " packets lost\",\"cat\":\"ctrace\",\"args\":{\"packets\":");
  else
    ob_lit(o, " events dropped\",\"cat\":\"ctrace\",\"args\":{\"dropped\":");
  ob_u64(o, ev->u.drop.n);
  ob_lit(o, ",\"since_ts\":");
  ob_us(o, ev->u.drop.since);
  ob_lit(o, ",\"by\":\"lttng\",\"stream\":");
  ob_cstr(o, ev->u.drop.stream ? ev->u.drop.stream : "?");
  ob_lit(o, ",\"note\":\"");
  if (packets)
    ob_lit(o, "LTTng lost whole packets of this stream");
  else if (!ev->u.drop.shared)
    ob_lit(o, "LTTng discarded them: the process's ring buffer was full");
  else
    ob_lit(o, "LTTng discarded them: the ring buffer (shared by the user's processes) was "
              "full; whose they were is not known");
  ob_lit(o, "\"}}");
}

static void write_dropped(exporter *x, const te_source *src, const te_event *ev) {
  ob *o = &x->o;
  uint64_t n = ev->u.drop.n;
  ev_open(x, 'i', ev->pid, ev->tid, ev->ts);
  switch (ev->u.drop.kind) {
  case TE_DROP_MARKED:
  case TE_DROP_AT_STOP:
    ob_lit(o, ",\"s\":\"t\",\"name\":\"ctrace: ");
    ob_u64(o, n);
    ob_lit(o, " events dropped\",\"cat\":\"ctrace\",\"args\":{\"dropped\":");
    ob_u64(o, n);
    if (ev->u.drop.kind == TE_DROP_MARKED) {
      ob_lit(o, ",\"since_ts\":");
      ob_us(o, ev->u.drop.since);
      if (src == x->main) {
        uint32_t *m = vh_get(&x->marked, (uint64_t)(uint32_t)ev->tid);
        vh_put(&x->marked, (uint64_t)(uint32_t)ev->tid, (uint32_t)((m ? *m : 0) + n));
      }
    } else {
      ob_lit(o, ",\"note\":\"reported at stop; where in the thread is unknown\"");
    }
    ob_lit(o, "}}");
    x->st.dropped += n;
    break;
  case TE_DROP_NO_THREAD:
    ob_lit(o, ",\"s\":\"p\",\"name\":\"ctrace: ");
    ob_u64(o, n);
    ob_lit(o, " events dropped on threads with no other events\",\"cat\":\"ctrace\","
              "\"args\":{\"dropped\":");
    ob_u64(o, n);
    ob_lit(o, "}}");
    x->st.dropped += n;
    break;
  case TE_DROP_KERNEL:
    ob_lit(o, ",\"s\":\"p\",\"name\":\"kernel lost records\",\"cat\":\"ctrace\","
              "\"args\":{\"lost\":");
    ob_u64(o, n);
    ob_lit(o, "}}");
    break;
  default: write_lttng_drop(x, ev); break;
  }
}

/* A sample's thread gets a name where the trace gave it none: Catapult
 * drops the samples of a thread it has not seen. */
static void sample_thread(exporter *x, const te_event *ev) {
  uint64_t tid = (uint64_t)(uint32_t)ev->tid;
  if (vh_get(&x->named, tid))
    return;
  uint32_t *i = vh_get(&x->implicit, tid);
  meta_open(x, "thread_name", ev->pid, ev->tid, "name");
  if (i) {
    ob_cstr(&x->o, x->implicit_names[*i - 1]);
  } else {
    ob_lit(&x->o, "\"tid ");
    ob_i64(&x->o, ev->tid);
    ob_lit(&x->o, "\"");
  }
  ob_lit(&x->o, "}}");
  if (vh_put(&x->named, tid, 1))
    x->o.err = -ENOMEM;
}

static int on_sample(exporter *x, const te_event *ev) {
  sample_thread(x, ev);
  int r = cjs_add(x->samples, x->source, ev);
  return r ? r : x->o.err;
}

static int on_event(void *arg, const te_source *src, const te_event *ev) {
  exporter *x = arg;
  switch (ev->type) {
  case TE_SOURCE_BEGIN:
    if (!x->main && src->native && strcmp(src->format, "ctrace-kernel"))
      x->main = src;
    break;
  case TE_SAMPLE: return on_sample(x, ev);
  case TE_SOURCE_END:
    x->source++;
    x->st.events_read += src->events;
    x->st.unmatched_ends += src->unmatched_ends;
    x->st.open_regions += src->open_regions;
    x->complete &= src->complete;
    for (size_t i = 0; i < x->nfrags; i++) { /* keys are the source's own */
      free(x->frags[i].name);
      free(x->frags[i].args);
    }
    free(x->frags);
    x->frags = NULL;
    x->nfrags = 0;
    break;
  case TE_PROCESS: write_process(x, ev); break;
  case TE_THREAD: write_thread(x, ev); break;
  case TE_COUNTER:
  case TE_HEAP:
  case TE_HEAP_SET: write_counter_event(x, ev); break;
  case TE_TASK_BEGIN:
  case TE_TASK_END:
  case TE_ITEM_RUN:
  case TE_ITEM_STOP: write_async(x, ev); break;
  case TE_SYSCALL: write_syscall(x, ev); break;
  case TE_WAIT: write_wait(x, ev); break;
  case TE_STATE: write_state(x, ev); break;
  case TE_DROPPED: write_dropped(x, src, ev); break;
  default: write_slice_event(x, ev); break;
  }
  return x->o.err;
}

/* ---- otherData ------------------------------------------------------------------------ */

/* What became of the CPU samples (only when there were some). */
static void other_data_samples(exporter *x, te_set *set, cJSON *od) {
  cJSON *c = cJSON_AddObjectToObject(od, "cpu_samples");
  unsigned hz = 0;
  for (size_t k = 0; !hz && k < te_set_count(set); k++) {
    const te_source *s = te_set_source(set, k);
    hz = s->native ? rd_sampling(s->native, NULL, NULL) : 0;
  }
  cJSON_AddNumberToObject(c, "hz", hz);
  cJSON_AddNumberToObject(c, "samples", (double)x->st.samples);
  cJSON_AddNumberToObject(c, "partial", (double)x->st.partial);
  cJSON_AddNumberToObject(c, "stack_frames", (double)x->st.stack_frames);
  cJSON_AddStringToObject(c, "frames", x->named_frames ? "symbols" : "addresses");
  cJSON_AddStringToObject(c, "note",
                          "partial: the stack was not unwound to its outermost frame (its "
                          "frames found are kept); in stackFrames and samples, after otherData");
}

/* ctrace traces: the first one that has threads, and every trace's state. */
static cJSON *other_data_ctrace(exporter *x, te_set *set) {
  rd_trace *tr = x->main->native;
  cJSON *od = cJSON_CreateObject();
  cJSON_AddStringToObject(od, "producer", "ctrace");
  cJSON_AddStringToObject(od, "ctrace_version", ctrace_version());
  char v[32];
  snprintf(v, sizeof v, "%d.%u", CTRACE_FMT_VERSION_MAJOR, rd_format_minor(tr));
  cJSON_AddStringToObject(od, "trace_format", v);
  cJSON_AddStringToObject(od, "clock",
                          rd_clock_kind(tr) == CTRACE_FMT_CLOCK_TSC
                              ? "tsc (mapped to CLOCK_MONOTONIC)"
                              : "CLOCK_MONOTONIC");
  cJSON_AddStringToObject(od, "timestamps", "CLOCK_MONOTONIC microseconds");
  cJSON_AddNumberToObject(od, "clock_sync_points", (double)rd_clock_points(tr));
  cJSON_AddNumberToObject(od, "start_realtime_ns", (double)rd_start_real_ns(tr));
  cJSON_AddNumberToObject(od, "pid", rd_pid(tr));
  cJSON_AddStringToObject(od, "process", rd_process_name(tr));
  cJSON_AddStringToObject(od, "command_line", rd_command_line(tr));
  cJSON_AddNumberToObject(od, "events", (double)x->st.events_read);
  cJSON_AddNumberToObject(od, "dropped_events", (double)x->st.dropped);
  cJSON *by = cJSON_AddObjectToObject(od, "dropped_events_by_tid");
  for (size_t i = 0; i < rd_thread_count(tr); i++) {
    const rd_thread *th = rd_thread_get(tr, i);
    int tid = th->tid ? th->tid : (int)(1000000000u + th->serial);
    uint32_t *m = vh_get(&x->marked, (uint64_t)(uint32_t)tid);
    uint64_t d = m && *m > th->dropped ? *m : th->dropped;
    if (d) {
      char k[24];
      snprintf(k, sizeof k, "%d", tid);
      cJSON_AddNumberToObject(by, k, (double)d);
    }
  }
  cJSON_AddBoolToObject(od, "complete", x->complete);
  if (rd_problem(tr))
    cJSON_AddStringToObject(od, "problem", rd_problem(tr));
  cJSON *all = cJSON_AddArrayToObject(od, "traces");
  for (size_t k = 0; k < te_set_count(set); k++) {
    const te_source *s = te_set_source(set, k);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "pid", s->pid);
    cJSON_AddStringToObject(j, "process", s->process);
    cJSON_AddBoolToObject(j, "complete", s->complete);
    if (s->problem)
      cJSON_AddStringToObject(j, "problem", s->problem);
    const rd_capture *c = &s->capture;
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
  if (x->st.samples)
    other_data_samples(x, set, od);
  return od;
}

/* An LTTng trace: what the converter counted. */
static cJSON *other_data_ctf(exporter *x, const te_source *src) {
  const ctf_stats *st = src->ctf;
  cJSON *od = cJSON_CreateObject();
  cJSON_AddStringToObject(od, "producer", "ctrace");
  cJSON_AddStringToObject(od, "ctrace_version", ctrace_version());
  cJSON_AddStringToObject(od, "source", "lttng-ctf");
  cJSON_AddStringToObject(od, "path", src->path);
  cJSON *tr = cJSON_AddArrayToObject(od, "ctf_traces");
  for (size_t i = 0; i < st->ntraces; i++)
    cJSON_AddItemToArray(tr, cJSON_CreateString(st->paths[i]));
  cJSON_AddStringToObject(od, "clock", "LTTng's monotonic clock (raw value: CLOCK_MONOTONIC)");
  cJSON_AddStringToObject(od, "timestamps", "CLOCK_MONOTONIC microseconds");
  cJSON_AddNumberToObject(od, "events", (double)st->events_read);
  cJSON_AddNumberToObject(od, "dropped_events", (double)st->discarded);
  cJSON_AddNumberToObject(od, "discarded_packets", (double)st->discarded_packets);
  cJSON *by = cJSON_AddObjectToObject(od, "dropped_events_by_pid");
  for (size_t i = 0; i < st->nprocs; i++)
    if (st->procs[i].discarded) {
      char k[24];
      snprintf(k, sizeof k, "%d", st->procs[i].pid);
      cJSON_AddNumberToObject(by, k, (double)st->procs[i].discarded);
    }
  cJSON_AddBoolToObject(od, "complete", !st->discarded && !st->discarded_packets);
  cJSON *procs = cJSON_AddArrayToObject(od, "processes");
  for (size_t i = 0; i < st->nprocs; i++) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "pid", st->procs[i].pid);
    cJSON_AddStringToObject(p, "process", st->procs[i].name);
    cJSON_AddNumberToObject(p, "threads", st->procs[i].threads);
    cJSON_AddNumberToObject(p, "events", (double)st->procs[i].events);
    cJSON_AddItemToArray(procs, p);
  }
  cJSON *counts = cJSON_AddObjectToObject(od, "event_counts");
  for (size_t i = 0; i < st->nnames; i++)
    cJSON_AddNumberToObject(counts, st->by_name[i].name, (double)st->by_name[i].n);
  if (x->st.unmatched_ends)
    cJSON_AddNumberToObject(od, "unmatched_region_ends", (double)x->st.unmatched_ends);
  if (x->st.open_regions)
    cJSON_AddNumberToObject(od, "regions_never_closed", (double)x->st.open_regions);
  return od;
}

static void write_other_data(exporter *x, te_set *set) {
  const te_source *first = te_set_source(set, 0);
  if (!x->main) /* only kernel streams: the first describes them */
    x->main = first->native ? first : NULL;
  cJSON *od = x->main      ? other_data_ctrace(x, set)
              : first->ctf ? other_data_ctf(x, first)
                           : cJSON_CreateObject();
  char *s = od ? cJSON_PrintUnformatted(od) : NULL;
  if (s) {
    ob_lit(&x->o, ",\n\"otherData\":");
    ob_mem(&x->o, s, strlen(s));
    cJSON_free(s);
  } else {
    x->o.err = -ENOMEM;
  }
  cJSON_Delete(od);
}

/* ---- The export ----------------------------------------------------------------------- */

/* What the exporter holds, freed. */
static void exporter_free(exporter *x) {
  for (size_t i = 0; i < x->nfrags; i++) {
    free(x->frags[i].name);
    free(x->frags[i].args);
  }
  free(x->frags);
  vh_free(&x->state_rows);
  vh_free(&x->marked);
  vh_free(&x->named);
  vh_free(&x->implicit);
  for (size_t i = 0; i < x->nimplicit; i++)
    free(x->implicit_names[i]);
  free(x->implicit_names);
  cjs_free(x->samples);
  free(x->o.p);
}

int cj_export_with(te_set *set, const cj_options *opt, cj_sink sink, void *arg, cj_stats *stats,
                   char *err, size_t errlen) {
  exporter x = {.first = 1, .complete = 1};
  x.o.sink = sink;
  x.o.arg = arg;
  x.o.cap = 1 << 20;
  x.o.p = malloc(x.o.cap);
  x.samples = cjs_new(opt);
  x.named_frames = opt && opt->namer;
  if (!x.o.p || !x.samples || !te_set_count(set)) {
    snprintf(err, errlen, x.o.p && x.samples ? "no trace" : "out of memory");
    exporter_free(&x);
    return CTRACE_ENOMEM;
  }
  ob_lit(&x.o, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
  char why[1024] = "";
  int r = te_set_read(set, on_event, &x, why, sizeof why);
  cjs_counts(x.samples, &x.st.samples, &x.st.partial, &x.st.stack_frames);
  if (r && !x.o.err) {
    snprintf(err, errlen, "%s", why[0] ? why : "out of memory while naming the samples' stacks");
  } else if (!r) {
    ob_lit(&x.o, "\n]");
    write_other_data(&x, set);
    cjs_write(x.samples, &x.o);
    ob_lit(&x.o, "}\n");
    ob_flush(&x.o);
  }
  if (x.o.err) {
    r = x.o.err;
    snprintf(err, errlen, "write failed: %s", strerror(-r));
  }
  exporter_free(&x);
  if (stats)
    *stats = x.st;
  return r;
}

int cj_export(te_set *set, cj_sink sink, void *arg, cj_stats *stats, char *err, size_t errlen) {
  return cj_export_with(set, NULL, sink, arg, stats, err, errlen);
}
