/* The CPU samples of a Chrome JSON export (cj_samples.h).
 *
 * A sample's stack (addresses, innermost first) becomes a chain of stack
 * frames from the outermost: per address, the frames the namer gives it
 * (inlined calls each their own frame), outermost first. A frame is
 * interned by (parent, name, category): each distinct one is written once,
 * as Catapult reads them ("stackFrames": {"ID": {"name", "category",
 * "parent"}}). A stack is named once per (source, pid, stack id).
 *
 * Memory: the frames and their strings grow with the distinct stacks. The
 * samples themselves must wait until traceEvents is written, and the set
 * is read once, so each is kept as a few varints (tid, time and frame as
 * deltas, CPU): about 6 bytes a sample, a tenth of its JSON. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cj_samples.h"
#include "common.h"
#include "ctrace/format.h"

#define CJS_MAX_INLINE 64 /* frames of one address (inlining depth) */

typedef struct cjs_node {
  uint32_t parent; /* node id (1-based); 0: a root */
  uint32_t name, cat;
} cjs_node;

struct cj_samples {
  cj_namer namer;
  void *namer_arg;
  char *pool; /* strings, each with its NUL */
  size_t pool_len, pool_cap;
  size_t *str_off;
  size_t nstr, cap_str;
  vh_map str_of;   /* hash -> string index (probed) */
  cjs_node *nodes; /* node id i + 1 is nodes[i] */
  size_t nnodes, cap_nodes;
  vh_map node_of; /* hash -> node index (probed) */
  vh_map leaf_of; /* (source, pid, stack) -> its leaf node id */
  uint8_t *buf;   /* the samples, as varints */
  size_t len, cap;
  int64_t prev_tid, prev_ts, prev_sf;
  uint64_t n, partial;
  cj_frame frames[CJS_MAX_INLINE];
};

cj_samples *cjs_new(const cj_options *o) {
  cj_samples *s = calloc(1, sizeof *s);
  if (s && o) {
    s->namer = o->namer;
    s->namer_arg = o->namer_arg;
  }
  return s;
}

void cjs_free(cj_samples *s) {
  if (!s)
    return;
  free(s->pool);
  free(s->str_off);
  vh_free(&s->str_of);
  free(s->nodes);
  vh_free(&s->node_of);
  vh_free(&s->leaf_of);
  free(s->buf);
  free(s);
}

void cjs_counts(const cj_samples *s, uint64_t *samples, uint64_t *partial, uint64_t *frames) {
  *samples = s->n;
  *partial = s->partial;
  *frames = s->nnodes;
}

/* ---- Interning --------------------------------------------------------------------- */

/* The index of string str (added the first time). @return 0 or -1 (memory). */
static int str_id(cj_samples *s, const char *str, uint32_t *id) {
  size_t n = strlen(str);
  uint64_t k = ctrace__fnv1a(str, n, 0);
  for (uint32_t *v; (v = vh_get(&s->str_of, k)); k = ctrace__mix64(k, 1))
    if (!strcmp(s->pool + s->str_off[*v], str)) {
      *id = *v;
      return 0;
    }
  if (s->nstr >= UINT32_MAX ||
      vh_reserve((void **)&s->pool, &s->pool_cap, s->pool_len + n + 1, 1) ||
      vh_reserve((void **)&s->str_off, &s->cap_str, s->nstr + 1, sizeof *s->str_off) ||
      vh_put(&s->str_of, k, (uint32_t)s->nstr))
    return -1;
  memcpy(s->pool + s->pool_len, str, n + 1);
  s->str_off[s->nstr] = s->pool_len;
  s->pool_len += n + 1;
  *id = (uint32_t)s->nstr++;
  return 0;
}

/* The id of frame (name, category) under parent (added the first time).
 * @return 0 or -1 (memory). */
static int node_id(cj_samples *s, uint32_t parent, const cj_frame *f, uint32_t *id) {
  cjs_node nd = {.parent = parent};
  if (str_id(s, f->name ? f->name : "?", &nd.name) ||
      str_id(s, f->category ? f->category : "", &nd.cat))
    return -1;
  uint64_t k = ctrace__mix64(ctrace__mix64(parent, nd.name), nd.cat);
  for (uint32_t *v; (v = vh_get(&s->node_of, k)); k = ctrace__mix64(k, 1)) {
    const cjs_node *o = &s->nodes[*v];
    if (o->parent == parent && o->name == nd.name && o->cat == nd.cat) {
      *id = *v + 1;
      return 0;
    }
  }
  if (s->nnodes >= UINT32_MAX - 1 ||
      vh_reserve((void **)&s->nodes, &s->cap_nodes, s->nnodes + 1, sizeof *s->nodes) ||
      vh_put(&s->node_of, k, (uint32_t)s->nnodes))
    return -1;
  s->nodes[s->nnodes++] = nd;
  *id = (uint32_t)s->nnodes;
  return 0;
}

/* ---- Naming a stack --------------------------------------------------------------------- */

/* The frames of address pc under *parent; *parent becomes the innermost. */
static int add_pc(cj_samples *s, int pid, uint64_t pc, int is_return, uint32_t *parent) {
  char hex[24];
  int nf = s->namer ? s->namer(s->namer_arg, pid, pc, is_return, s->frames, CJS_MAX_INLINE) : 0;
  if (nf < 0)
    return nf;
  if (nf == 0) { /* no namer: the address */
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)pc);
    s->frames[0] = (cj_frame){hex, ""};
    nf = 1;
  }
  if (nf > CJS_MAX_INLINE)
    nf = CJS_MAX_INLINE;
  for (int i = nf; i-- > 0;)
    if (node_id(s, *parent, &s->frames[i], parent))
      return CTRACE_ENOMEM;
  return 0;
}

/* The leaf frame of the sample's stack, named and interned. */
static int leaf_of(cj_samples *s, uint32_t source, const te_event *ev, uint32_t *leaf) {
  /* (the key is exact: source < 2^10, pid < 2^22, stack id < 2^32) */
  int cache = source < 1024 && ev->pid >= 0 && ev->pid < (1 << 22);
  uint64_t key = (uint64_t)ev->u.sample.stack | (uint64_t)ev->pid << 32 | (uint64_t)source << 54;
  uint32_t *v = cache ? vh_get(&s->leaf_of, key) : NULL;
  if (v) {
    *leaf = *v;
    return 0;
  }
  const uint64_t *pcs = ev->u.sample.pcs;
  unsigned n = pcs ? ev->u.sample.n : 0;
  uint32_t parent = 0;
  int r = n ? 0 : add_pc(s, ev->pid, 0, 0, &parent); /* no frame at all: one saying so */
  for (unsigned i = n; !r && i-- > 0;)
    r = add_pc(s, ev->pid, pcs[i], i > 0, &parent);
  if (r)
    return r;
  if (cache && vh_put(&s->leaf_of, key, parent))
    return CTRACE_ENOMEM;
  *leaf = parent;
  return 0;
}

/* ---- The samples --------------------------------------------------------------------- */

static void put_varint(cj_samples *s, uint64_t v) {
  uint8_t *p = ctrace_fmt_put_varint(s->buf + s->len, v);
  s->len = (size_t)(p - s->buf);
}

int cjs_add(cj_samples *s, uint32_t source, const te_event *ev) {
  uint32_t sf;
  int r = leaf_of(s, source, ev, &sf);
  if (r)
    return r;
  if (vh_reserve((void **)&s->buf, &s->cap, s->len + 4 * 10, 1))
    return CTRACE_ENOMEM;
  put_varint(s, ctrace_fmt_zigzag((int64_t)ev->tid - s->prev_tid));
  put_varint(s, ctrace_fmt_zigzag((int64_t)(ev->ts - (uint64_t)s->prev_ts)));
  put_varint(s, ctrace_fmt_zigzag((int64_t)sf - s->prev_sf));
  put_varint(s, (uint64_t)(ev->u.sample.cpu >= 0 ? ev->u.sample.cpu + 1 : 0));
  s->prev_tid = ev->tid;
  s->prev_ts = (int64_t)ev->ts;
  s->prev_sf = sf;
  s->n++;
  s->partial += (ev->flags & TE_F_PARTIAL) != 0;
  return 0;
}

static void write_frames(const cj_samples *s, ob *o) {
  ob_lit(o, ",\n\"stackFrames\":{");
  for (size_t i = 0; i < s->nnodes; i++) {
    const cjs_node *nd = &s->nodes[i];
    const char *cat = s->pool + s->str_off[nd->cat];
    if (i)
      ob_lit(o, ",");
    ob_lit(o, "\n\"");
    ob_u64(o, i + 1);
    ob_lit(o, "\":{\"name\":");
    ob_cstr(o, s->pool + s->str_off[nd->name]);
    if (cat[0]) {
      ob_lit(o, ",\"category\":");
      ob_cstr(o, cat);
    }
    if (nd->parent) {
      ob_lit(o, ",\"parent\":\"");
      ob_u64(o, nd->parent);
      ob_lit(o, "\"");
    }
    ob_lit(o, "}");
  }
  ob_lit(o, "\n}");
}

void cjs_write(const cj_samples *s, ob *o) {
  if (!s->n)
    return;
  write_frames(s, o);
  ob_lit(o, ",\n\"samples\":[");
  const uint8_t *p = s->buf, *end = s->buf + s->len;
  int64_t tid = 0, ts = 0, sf = 0;
  for (uint64_t i = 0; i < s->n; i++) {
    uint64_t v[4];
    for (int k = 0; k < 4 && p; k++)
      p = ctrace_fmt_get_varint(p, end, &v[k]);
    if (!p) /* (written by cjs_add: never short) */
      break;
    tid += ctrace_fmt_unzigzag(v[0]);
    ts += ctrace_fmt_unzigzag(v[1]);
    sf += ctrace_fmt_unzigzag(v[2]);
    if (i)
      ob_lit(o, ",");
    ob_lit(o, "\n{");
    if (v[3]) {
      ob_lit(o, "\"cpu\":");
      ob_u64(o, v[3] - 1);
      ob_lit(o, ",");
    }
    ob_lit(o, "\"tid\":");
    ob_i64(o, tid);
    ob_lit(o, ",\"ts\":");
    ob_us(o, (uint64_t)ts);
    ob_lit(o, ",\"name\":\"cpu\",\"sf\":\"");
    ob_i64(o, sf);
    ob_lit(o, "\",\"weight\":1}");
  }
  ob_lit(o, "\n]");
}
