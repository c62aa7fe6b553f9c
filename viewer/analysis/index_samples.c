/* CPU samples in the index: each thread's samples (vx_track.cpu), and what
 * names their addresses later (symbols.c): the stacks, copied out of the
 * traces and given index-wide ids (a stack of one trace keeps one id), and
 * the code mappings of every process, and the kernel functions the
 * recording machine named (DEF_KSYM). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "index_internal.h"

typedef struct cpu_stack {
  size_t at; /* in pool */
  unsigned n;
  int pid;
} cpu_stack;

struct vx_cpu_store {
  vx_cpu_info info;
  char *method;
  cpu_stack *stacks; /* by id - 1 */
  size_t nstacks, cap_stacks;
  uint64_t *pool;
  size_t pool_len, pool_cap;
  vh_map ids; /* mix(source, the trace's stack id) -> index id */
  vx_mapping *maps;
  size_t nmaps, cap_maps;
  vx_ksym *ksyms;
  size_t nksyms, cap_ksyms;
};

static struct vx_cpu_store *store(vx_index *x) {
  if (!x->cpu)
    x->cpu = calloc(1, sizeof *x->cpu);
  return x->cpu;
}

int vx__cpu_source(vx_index *x, uint32_t source, const te_source *src) {
  (void)source;
  if (!src->native)
    return 0;
  uint64_t period = 0;
  const char *method = NULL;
  unsigned hz = rd_sampling(src->native, &period, &method);
  const rd_mapping *m;
  size_t nm = rd_mappings(src->native, &m);
  const rd_ksym *ks;
  size_t nk = rd_kernel_symbols(src->native, &ks);
  if (!hz && !nm)
    return 0;
  struct vx_cpu_store *c = store(x);
  if (!c)
    return -1;
  if (hz && !c->info.hz) {
    c->info.hz = hz;
    c->info.period_ns = period;
    if (method && !(c->method = strdup(method)))
      return -1;
    c->info.method = c->method;
  }
  if (vh_reserve((void **)&c->maps, &c->cap_maps, c->nmaps + nm, sizeof *c->maps))
    return -1;
  for (size_t i = 0; i < nm; i++) {
    vx_mapping *v = &c->maps[c->nmaps];
    *v = (vx_mapping){m[i].pid,    m[i].start,        m[i].end,
                      m[i].offset, strdup(m[i].path), strdup(m[i].build_id)};
    if (!v->path || !v->build_id) {
      free((char *)v->path);
      free((char *)v->build_id);
      return -1;
    }
    c->nmaps++;
  }
  if (vh_reserve((void **)&c->ksyms, &c->cap_ksyms, c->nksyms + nk, sizeof *c->ksyms))
    return -1;
  for (size_t i = 0; i < nk; i++) {
    vx_ksym *v = &c->ksyms[c->nksyms];
    *v = (vx_ksym){ks[i].start, ks[i].size, strdup(ks[i].name), strdup(ks[i].module)};
    if (!v->name || !v->module) {
      free((char *)v->name);
      free((char *)v->module);
      return -1;
    }
    c->nksyms++;
  }
  return 0;
}

/* The index id of stack `stack` of source `source` (pcs, n of process
 * pid), copied in the first time. @return the id (0: an empty stack), or
 * UINT32_MAX out of memory. */
uint32_t vx__stack_id(vx_index *x, uint32_t source, uint32_t stack, const uint64_t *pcs, unsigned n,
                      int pid) {
  struct vx_cpu_store *c = store(x);
  if (!c)
    return UINT32_MAX;
  if (n == 0 || !pcs)
    return 0;
  uint64_t key = ctrace__mix64(source, stack);
  uint32_t *v = vh_get(&c->ids, key);
  if (v)
    return *v;
  if (vh_reserve((void **)&c->stacks, &c->cap_stacks, c->nstacks + 1, sizeof *c->stacks) ||
      vh_reserve((void **)&c->pool, &c->pool_cap, c->pool_len + n, sizeof *c->pool))
    return UINT32_MAX;
  memcpy(c->pool + c->pool_len, pcs, (size_t)n * sizeof *c->pool);
  c->stacks[c->nstacks] = (cpu_stack){c->pool_len, n, pid};
  c->pool_len += n;
  uint32_t id = (uint32_t)++c->nstacks;
  return vh_put(&c->ids, key, id) == 0 ? id : UINT32_MAX;
}

int vx__cpu_sample(vx_index *x, uint32_t source, vx_track *t, const te_event *ev) {
  struct vx_cpu_store *c = store(x);
  if (!c || vh_reserve((void **)&t->cpu, &t->cap_cpu, t->ncpu + 1, sizeof *t->cpu))
    return -1;
  uint32_t id =
      vx__stack_id(x, source, ev->u.sample.stack, ev->u.sample.pcs, ev->u.sample.n, ev->pid);
  if (id == UINT32_MAX)
    return -1;
  uint32_t flags = ev->flags & TE_F_PARTIAL ? VX_CPU_PARTIAL : 0;
  t->cpu[t->ncpu++] = (vx_cpu_sample){ev->ts, id, flags};
  c->info.samples++;
  c->info.partial += flags != 0;
  if (!c->info.period_ns && ev->u.sample.period)
    c->info.period_ns = ev->u.sample.period;
  return 0;
}

void vx__cpu_free(vx_index *x) {
  struct vx_cpu_store *c = x->cpu;
  if (!c)
    return;
  free(c->method);
  free(c->stacks);
  free(c->pool);
  vh_free(&c->ids);
  for (size_t i = 0; i < c->nmaps; i++) {
    free((char *)c->maps[i].path);
    free((char *)c->maps[i].build_id);
  }
  free(c->maps);
  for (size_t i = 0; i < c->nksyms; i++) {
    free((char *)c->ksyms[i].name);
    free((char *)c->ksyms[i].module);
  }
  free(c->ksyms);
  free(c);
  x->cpu = NULL;
}

vx_cpu_info vx_cpu(const vx_index *x) {
  vx_cpu_info none = {0};
  return x->cpu ? x->cpu->info : none;
}

const uint64_t *vx_stack(const vx_index *x, uint32_t stack, unsigned *n, int *pid) {
  const struct vx_cpu_store *c = x->cpu;
  if (!c || stack == 0 || stack > c->nstacks) {
    *n = 0;
    if (pid)
      *pid = 0;
    return NULL;
  }
  const cpu_stack *s = &c->stacks[stack - 1];
  *n = s->n;
  if (pid)
    *pid = s->pid;
  return c->pool + s->at;
}

size_t vx_stack_count(const vx_index *x) { return x->cpu ? x->cpu->nstacks : 0; }

size_t vx_mapping_count(const vx_index *x) { return x->cpu ? x->cpu->nmaps : 0; }

const vx_mapping *vx_mapping_get(const vx_index *x, size_t i) {
  return x->cpu && i < x->cpu->nmaps ? &x->cpu->maps[i] : NULL;
}

size_t vx_ksym_count(const vx_index *x) { return x->cpu ? x->cpu->nksyms : 0; }

const vx_ksym *vx_ksym_get(const vx_index *x, size_t i) {
  return x->cpu && i < x->cpu->nksyms ? &x->cpu->ksyms[i] : NULL;
}
