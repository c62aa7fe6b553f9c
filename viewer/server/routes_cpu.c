/* The route of the CPU samples (docs/viewer-api.md): /api/cpu, the CPU
 * profile of a window (viewer/analysis: cp_compute) as a top-down call
 * tree for the web UI's flame graph. The tree's root stands for every
 * sample; below it the outermost frames, and under each frame what it
 * called (frames inlined into a function are nodes of their own, marked
 * so). Nodes of less than 0.1% of the samples are folded into one
 * "(other)" child per parent, which bounds the answer. The same tree
 * weighs a heap profile's stacks by their bytes (rt__call_tree_json:
 * /api/heap, routes_heap.c). */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "common.h"
#include "server_internal.h"

/* A node of the call tree; nodes[0] is the root. */
typedef struct cpu_node {
  const char *name, *file; /* file NULL: not known */
  int line;                /* the function's first line (0: not known) */
  int inlined;
  uint32_t parent, child, next; /* first child, next sibling (0: none) */
  uint64_t total, self;
  uint64_t objects; /* heap: the objects of total (the tree's `objects` value) */
} cpu_node;

typedef struct cpu_tree {
  cpu_node *nodes;
  size_t n, cap;
  uint32_t *slot;     /* open addressing: node index (0: empty), keyed by parent and name */
  size_t nslot;       /* a power of two */
  char **loc_name;    /* per location: its name when made here (cp_location_name) */
  int value, objects; /* what a stack weighs: RT_TREE_COUNT or a cp_stack.heap index */
} cpu_tree;

static uint64_t node_hash(uint32_t parent, const char *name, const char *file, int inlined) {
  uint64_t h = ctrace__mix64(ctrace__fnv1a(name, strlen(name), parent), (uint64_t)inlined);
  return file ? ctrace__mix64(h, ctrace__fnv1a(file, strlen(file), 0)) : h;
}

static int same_node(const cpu_node *a, uint32_t parent, const char *name, const char *file,
                     int inlined) {
  return a->parent == parent && a->inlined == inlined && !strcmp(a->name, name) &&
         (a->file == file || (a->file && file && !strcmp(a->file, file)));
}

/* Doubles the hash table. @return 0, or -1 out of memory. */
static int grow_slots(cpu_tree *t) {
  size_t n = t->nslot ? t->nslot * 2 : 1024;
  uint32_t *s = calloc(n, sizeof *s);
  if (!s)
    return -1;
  for (size_t i = 1; i < t->n; i++) {
    const cpu_node *a = &t->nodes[i];
    size_t k = node_hash(a->parent, a->name, a->file, a->inlined) & (n - 1);
    while (s[k])
      k = (k + 1) & (n - 1);
    s[k] = (uint32_t)i;
  }
  free(t->slot);
  t->slot = s;
  t->nslot = n;
  return 0;
}

/* The child of parent for this frame, made the first time. @return its
 * index, or 0 out of memory. */
static uint32_t child_of(cpu_tree *t, uint32_t parent, const char *name, const char *file, int line,
                         int inlined) {
  if ((t->n + 1) * 2 > t->nslot && grow_slots(t))
    return 0;
  size_t k = node_hash(parent, name, file, inlined) & (t->nslot - 1);
  for (; t->slot[k]; k = (k + 1) & (t->nslot - 1))
    if (same_node(&t->nodes[t->slot[k]], parent, name, file, inlined))
      return t->slot[k];
  if (t->n == t->cap) {
    size_t cap = t->cap * 2;
    cpu_node *nodes = realloc(t->nodes, cap * sizeof *nodes);
    if (!nodes)
      return 0;
    t->nodes = nodes;
    t->cap = cap;
  }
  uint32_t i = (uint32_t)t->n++;
  t->nodes[i] = (cpu_node){name, file, line, inlined, parent, 0, t->nodes[parent].child, 0, 0, 0};
  t->nodes[parent].child = i;
  t->slot[k] = i;
  return i;
}

/* The name of location loc's frame f: its function, or what
 * cp_location_name calls the location (made once). NULL out of memory. */
static const char *frame_name(cpu_tree *t, const cp_profile *p, uint32_t loc, const cp_line *f) {
  if (f->function)
    return f->function;
  if (!t->loc_name[loc]) {
    char buf[512];
    cp_location_name(p, loc, buf, sizeof buf);
    t->loc_name[loc] = strdup(buf);
  }
  return t->loc_name[loc];
}

/* What stack s weighs as value v: its count, or its heap value rounded. */
static uint64_t weight(const cp_stack *s, int v) {
  if (v < 0)
    return v == RT_TREE_COUNT ? s->count : 0;
  return s->heap[v] > 0 ? (uint64_t)llround(s->heap[v]) : 0;
}

/* Adds stack s (leaf first) from its outermost frame in. @return 0 or -1. */
static int add_stack(cpu_tree *t, const cp_profile *p, const cp_stack *s) {
  uint32_t at = 0;
  uint64_t w = weight(s, t->value), objs = weight(s, t->objects);
  if (!w && !objs)
    return 0; /* (a heap stack of the other kind only) */
  t->nodes[0].total += w;
  t->nodes[0].objects += objs;
  for (size_t i = s->n; i-- > 0;) {
    uint32_t loc = p->stack_locs[s->first + i];
    const cp_location *l = &p->locs[loc];
    for (size_t k = l->n; k-- > 0;) { /* the function, then what was inlined into it */
      const cp_line *f = &p->lines[l->first + k];
      const char *name = frame_name(t, p, loc, f);
      if (!name)
        return -1;
      int line = f->func_line > 0 ? f->func_line : f->line;
      if (!(at = child_of(t, at, name, f->file, line, k + 1 < l->n)))
        return -1;
      t->nodes[at].total += w;
      t->nodes[at].objects += objs;
    }
  }
  t->nodes[at].self += w;
  return 0;
}

static void tree_free(cpu_tree *t, size_t nlocs) {
  for (size_t i = 0; t->loc_name && i < nlocs; i++)
    free(t->loc_name[i]);
  free(t->loc_name);
  free(t->slot);
  free(t->nodes);
}

/* The call tree of p's stacks, each weighing value (and objects).
 * @return 0, or -1 out of memory. */
static int tree_build(cpu_tree *t, const cp_profile *p, int value, int objects) {
  memset(t, 0, sizeof *t);
  t->value = value;
  t->objects = objects;
  if (!(t->loc_name = calloc(p->nlocs ? p->nlocs : 1, sizeof *t->loc_name)) ||
      !(t->nodes = malloc(256 * sizeof *t->nodes)) || grow_slots(t))
    return -1;
  t->cap = 256;
  t->n = 1;
  t->nodes[0] = (cpu_node){"all", NULL, 0, 0, 0, 0, 0, 0, 0, 0};
  for (size_t i = 0; i < p->nstacks; i++)
    if (add_stack(t, p, &p->stacks[i]))
      return -1;
  return 0;
}

/* ---- The answer ------------------------------------------------------------------------ */

static int by_total(const void *a, const void *b) {
  const cpu_node *x = *(const cpu_node *const *)a, *y = *(const cpu_node *const *)b;
  if (x->total != y->total)
    return x->total > y->total ? -1 : 1;
  return strcmp(x->name, y->name);
}

static cJSON *node_json(const cpu_tree *t, const cpu_node *a, uint64_t all);

/* a's children, largest first; those under 0.1% of all samples folded
 * into one "(other)". */
static cJSON *children_json(const cpu_tree *t, const cpu_node *a, uint64_t all) {
  size_t n = 0;
  for (uint32_t c = a->child; c; c = t->nodes[c].next)
    n++;
  cJSON *arr = cJSON_CreateArray();
  const cpu_node **kids = malloc((n ? n : 1) * sizeof *kids);
  if (!arr || !kids) {
    free(kids);
    return arr;
  }
  n = 0;
  for (uint32_t c = a->child; c; c = t->nodes[c].next)
    kids[n++] = &t->nodes[c];
  qsort(kids, n, sizeof *kids, by_total);
  uint64_t other = 0, other_objects = 0, folded = 0, small = 0;
  for (size_t i = 0; i < n; i++)
    small += kids[i]->total * 1000 < all;
  for (size_t i = 0; i < n; i++) {
    if (small > 1 && kids[i]->total * 1000 < all) { /* (one alone stays itself) */
      other += kids[i]->total;
      other_objects += kids[i]->objects;
      folded++;
    } else {
      cJSON_AddItemToArray(arr, node_json(t, kids[i], all));
    }
  }
  free(kids);
  if (folded) { /* (other) is its own self: totals still add up */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", "(other)");
    cJSON_AddNumberToObject(o, "total", (double)other);
    cJSON_AddNumberToObject(o, "self", (double)other);
    if (t->objects != RT_TREE_NONE)
      cJSON_AddNumberToObject(o, "objects", (double)other_objects);
    cJSON_AddNumberToObject(o, "folded", (double)folded);
    cJSON_AddItemToObject(o, "children", cJSON_CreateArray());
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

static cJSON *node_json(const cpu_tree *t, const cpu_node *a, uint64_t all) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", a->name);
  if (a->file)
    cJSON_AddStringToObject(o, "file", a->file);
  if (a->line > 0)
    cJSON_AddNumberToObject(o, "line", a->line);
  if (a->inlined)
    cJSON_AddBoolToObject(o, "inlined", 1);
  cJSON_AddNumberToObject(o, "total", (double)a->total);
  cJSON_AddNumberToObject(o, "self", (double)a->self);
  if (t->objects != RT_TREE_NONE)
    cJSON_AddNumberToObject(o, "objects", (double)a->objects);
  cJSON_AddItemToObject(o, "children", children_json(t, a, all));
  return o;
}

cJSON *rt__call_tree_json(const cp_profile *p, int value, int objects) {
  cpu_tree t;
  cJSON *root = NULL;
  if (!tree_build(&t, p, value, objects))
    root = node_json(&t, &t.nodes[0], t.nodes[0].total);
  tree_free(&t, p->nlocs);
  return root;
}

/* The answer: how the samples were taken, their counts and the tree. */
static cJSON *profile_json(const vx_index *x, const cp_profile *p, cJSON *tree) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "hz", p->info.hz);
  cJSON_AddNumberToObject(o, "period_ns", (double)p->info.period_ns);
  if (p->info.method)
    cJSON_AddStringToObject(o, "method", p->info.method);
  cJSON_AddNumberToObject(o, "samples", (double)p->samples);
  cJSON_AddNumberToObject(o, "partial", (double)p->partial);
  cJSON *w = cJSON_AddObjectToObject(o, "window");
  cJSON_AddNumberToObject(w, "t0", (double)p->t0);
  cJSON_AddNumberToObject(w, "t1", (double)p->t1);
  cJSON_AddNumberToObject(w, "since_ns", (double)(p->t0 - vx_t0(x)));
  cJSON_AddNumberToObject(w, "until_ns", (double)(p->t1 - vx_t0(x)));
  if (p->problems && *p->problems)
    cJSON_AddStringToObject(o, "problems", p->problems);
  cJSON_AddItemToObject(o, "root", tree);
  return o;
}

/* ---- /api/cpu ---------------------------------------------------------------------------- */

/* The thread name that tid=N stands for (cp_options select threads by
 * name): 0, or -1 with r answered (no such thread, or its name is shared
 * by other threads, which could not be told apart). */
static int thread_of_tid(const vx_index *x, uint64_t tid, const char **name, rt_response *r) {
  const vx_track *hit = NULL;
  size_t same = 0;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD && (uint64_t)t->tid == tid)
      hit = t;
  }
  if (!hit) {
    rt__respond_error(r, 400, "tid: no thread of that id in the trace");
    return -1;
  }
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    same += t->kind == VX_THREAD && !strcmp(t->name, hit->name);
  }
  if (same > 1) {
    char msg[512];
    snprintf(msg, sizeof msg,
             "tid: thread %" PRIu64 " shares its name '%s' with %zu other threads; CPU profiles "
             "select threads by name (thread=NAME)",
             tid, hit->name, same - 1);
    rt__respond_error(r, 400, msg);
    return -1;
  }
  *name = hit->name;
  return 0;
}

/* The query's options (the window as /api/analysis takes it), the
 * strings in thread and region (256 bytes each). @return 0, or -1 with r
 * answered (400 naming the parameter). */
static int cpu_query(const vx_index *x, const char *q, cp_options *o, char *thread, char *region,
                     rt_response *r) {
  uint64_t t0, t1, tid = 0, tx0 = vx_t0(x), tx1 = vx_t1(x);
  char tidbuf[32];
  if (rt__query_u64(q, "t0", tx0, &t0)) {
    rt__respond_error(r, 400, "t0 must be an unsigned integer (ns)");
    return -1;
  }
  if (rt__query_u64(q, "t1", tx1, &t1) || t1 < t0) {
    rt__respond_error(r, 400, "t1 must be an unsigned integer (ns), t0 <= t1");
    return -1;
  }
  int has_thread = rt__query_get(q, "thread", thread, 256);
  int has_region = rt__query_get(q, "region", region, 256);
  int has_tid = rt__query_get(q, "tid", tidbuf, sizeof tidbuf);
  if (has_thread < 0 || has_region < 0) {
    rt__respond_error(
        r, 400, has_thread < 0 ? "thread: malformed or too long" : "region: malformed or too long");
    return -1;
  }
  if (has_tid < 0 || rt__query_u64(q, "tid", 0, &tid)) {
    rt__respond_error(r, 400, "tid must be a thread id (an unsigned integer)");
    return -1;
  }
  memset(o, 0, sizeof *o);
  o->w.thread = has_thread > 0 ? thread : NULL;
  o->region = has_region > 0 ? region : NULL;
  if (has_tid > 0 && thread_of_tid(x, tid, &o->w.thread, r))
    return -1;
  o->w.since = t0 > tx0 ? t0 - tx0 : 0; /* from the trace's first event, clamped to it */
  o->w.until = t1 > tx0 ? t1 - tx0 : 1;
  if (t1 >= tx1 && t0 <= tx0)
    o->w.since = o->w.until = 0; /* the whole trace */
  return 0;
}

int rt__cpu_profile(const rt_context *ctx, const char *q, cp_profile *p, rt_response *r) {
  const vx_index *x = ctx->index;
  char thread[256], region[256], err[1024];
  cp_options o;
  if (cpu_query(x, q, &o, thread, region, r))
    return -1;
  if (!vx_cpu(x).samples) {
    rt__respond_error(r, 404,
                      "the traces hold no CPU samples (record them with ctrace run --cpu-hz N)");
    return -1;
  }
  o.symbols = ctx->symbols; /* (the view's: debug information read once) */
  if (cp_compute(x, &o, p, err, sizeof err)) {
    rt__respond_error(r, 400, err);
    return -1;
  }
  return 0;
}

void rt__api_cpu(const rt_context *ctx, const char *q, rt_response *r) {
  const vx_index *x = ctx->index;
  cp_profile p;
  if (rt__cpu_profile(ctx, q, &p, r))
    return;
  cJSON *tree = rt__call_tree_json(&p, RT_TREE_COUNT, RT_TREE_NONE), *root = NULL;
  if (tree)
    root = profile_json(x, &p, tree);
  cp_free(&p);
  if (!root) {
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  rt__respond_json(r, 200, root);
}
