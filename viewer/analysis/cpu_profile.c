/* CPU profiles (analysis.h: cp_*): the samples of the index that a window,
 * a thread name and a region select, their distinct stacks counted, each
 * address named once with the binaries' symbols (symbols.c), and the
 * per-function table `ctrace top` prints. */
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "common.h"
#include "symbols.h"

/* What the steps share. */
typedef struct cp_build {
  const vx_index *x;
  const cp_options *o;
  cp_profile *p;
  st_window w;
  uint8_t *region_label; /* per label: 1 when it is o->region (NULL: no region asked) */
  uint64_t *counts;      /* per index stack id (0: empty stacks) */
  double (*heapv)[4];    /* heap profiles: per index stack id, cp_stack.heap */
  vh_map loc_of;         /* mix(pid, address, return) -> location index + 1 */
  uint32_t *map_of;      /* per symbols mapping id: cp mapping + 1 (0: not yet) */
  size_t nmap_of;
  size_t cap_locs, cap_lines, cap_stacks, cap_stack_locs, cap_maps;
} cp_build;

/* ---- Which samples ---------------------------------------------------------------------- */

/* The labels named o->region; or an error naming the region names nearest
 * to it (those that contain it or that it contains, else the first few). */
static int region_labels(cp_build *b, char *err, size_t errlen) {
  const char *want = b->o->region;
  size_t nl = vx_label_count(b->x), found = 0;
  if (!(b->region_label = calloc(nl ? nl : 1, 1)))
    return -1;
  for (size_t l = 0; l < nl; l++)
    if (!strcmp(vx_label_get(b->x, (uint32_t)l)->name, want)) {
      b->region_label[l] = 1;
      found++;
    }
  if (found)
    return 0;
  char near[600] = "";
  size_t len = 0, shown = 0;
  for (int pass = 0; pass < 2 && shown < 8; pass++)
    for (size_t l = 0; l < nl && shown < 8; l++) {
      const vx_label *lb = vx_label_get(b->x, (uint32_t)l);
      if (strcmp(lb->cat, "region") || !lb->name[0])
        continue;
      int close = strstr(lb->name, want) || strstr(want, lb->name);
      if (pass == 0 ? !close : close)
        continue;
      len += (size_t)snprintf(near + len, len < sizeof near ? sizeof near - len : 0, "%s'%s'",
                              shown ? ", " : "", lb->name);
      shown++;
    }
  vx_errf(err, errlen, "no region named '%s' in the trace%s%s", want,
          shown ? "; regions: " : " (it has no regions)", near);
  return -1;
}

/* Whether thread t was inside a region of the asked name at ts. */
static int in_region(const cp_build *b, const vx_track *t, uint64_t ts) {
  for (size_t d = 0; d < t->depths; d++) {
    const vx_slice *a = t->depth[d];
    size_t n = t->ndepth[d], i = vx_slice_lower(a, n, ts);
    if (i >= n || a[i].start > ts)
      return 0; /* nothing open at this depth: none deeper either */
    if (b->region_label[a[i].label])
      return 1;
  }
  return 0;
}

/* Counts the selected samples by stack. @return 0, or -1 with err set. */
static int select_samples(cp_build *b, char *err, size_t errlen) {
  const vx_index *x = b->x;
  const char *thread = b->o->w.thread;
  size_t nthreads = 0;
  if (!(b->counts = calloc(vx_stack_count(x) + 1, sizeof *b->counts)))
    return -1;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD || (thread && strcmp(t->name, thread)) ||
        (b->o->track && t != b->o->track))
      continue;
    nthreads++;
    for (size_t k = 0; k < t->ncpu; k++) {
      const vx_cpu_sample *s = &t->cpu[k];
      if (s->ts < b->w.w0 || s->ts >= b->w.w1 || (b->region_label && !in_region(b, t, s->ts)))
        continue;
      b->counts[s->stack]++;
      b->p->samples++;
      b->p->partial += (s->flags & VX_CPU_PARTIAL) != 0;
    }
  }
  if (thread && !nthreads) {
    vx_errf(err, errlen, "no thread named '%s' in the trace", thread);
    return -1;
  }
  return 0;
}

/* Heap profiles: per stack, the allocations of the window and the blocks
 * in use at its end. @return 0, or -1 with err set. */
static int select_heap(cp_build *b, char *err, size_t errlen) {
  const vx_index *x = b->x;
  const char *thread = b->o->w.thread;
  size_t nthreads = 0;
  if (!(b->counts = calloc(vx_stack_count(x) + 1, sizeof *b->counts)) ||
      !(b->heapv = calloc(vx_stack_count(x) + 1, sizeof *b->heapv)))
    return -1;
  uint8_t *chosen = calloc(vx_track_count(x) + 1, 1);
  if (!chosen)
    return -1;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    chosen[i] = t->kind == VX_THREAD && (!thread || !strcmp(t->name, thread)) &&
                (!b->o->track || t == b->o->track);
    nthreads += chosen[i];
  }
  const vx_heap_sample *hs;
  size_t n = vx_heap_samples(x, &hs);
  for (size_t i = 0; i < n; i++) {
    const vx_heap_sample *s = &hs[i];
    if (!chosen[s->track] || s->ts >= b->w.w1)
      continue;
    const vx_track *t = vx_track_get(x, s->track);
    if (b->region_label && !in_region(b, t, s->ts))
      continue;
    int alloc = s->ts >= b->w.w0, inuse = s->freed >= b->w.w1 || s->freed == UINT64_MAX;
    if (!alloc && !inuse)
      continue;
    double *v = b->heapv[s->stack];
    if (alloc) {
      v[CP_ALLOC_OBJECTS] += s->weight;
      v[CP_ALLOC_SPACE] += s->weight * (double)s->bytes;
    }
    if (inuse) {
      v[CP_INUSE_OBJECTS] += s->weight;
      v[CP_INUSE_SPACE] += s->weight * (double)s->bytes;
    }
    b->counts[s->stack]++;
    b->p->samples++;
  }
  free(chosen);
  if (thread && !nthreads) {
    vx_errf(err, errlen, "no thread named '%s' in the trace", thread);
    return -1;
  }
  return 0;
}

/* ---- Naming addresses ------------------------------------------------------------------- */

/* The cp mapping of symbols mapping id (added the first time). @return
 * its 1-based index, 0 for none, or UINT32_MAX out of memory. */
static uint32_t mapping_of(cp_build *b, int id) {
  cp_profile *p = b->p;
  if (id <= 0)
    return 0;
  if ((size_t)id >= b->nmap_of) {
    size_t n = (size_t)id * 2;
    uint32_t *m = realloc(b->map_of, n * sizeof *m);
    if (!m)
      return UINT32_MAX;
    memset(m + b->nmap_of, 0, (n - b->nmap_of) * sizeof *m);
    b->map_of = m;
    b->nmap_of = n;
  }
  if (b->map_of[id])
    return b->map_of[id];
  const sym_mapping *sm = sym_mapping_info(p->sym, id);
  if (!sm)
    return 0;
  if (vh_reserve((void **)&p->maps, &b->cap_maps, p->nmaps + 1, sizeof *p->maps))
    return UINT32_MAX;
  p->maps[p->nmaps++] = (cp_mapping){sm->start,
                                     sm->end,
                                     sm->offset,
                                     sm->path,
                                     sm->build_id,
                                     sm->has_functions,
                                     sm->has_lines && sm->usable};
  return b->map_of[id] = (uint32_t)p->nmaps;
}

/* The location of address addr of pid (a return address when ret),
 * named the first time. @return its index, or SIZE_MAX out of memory. */
static size_t location(cp_build *b, int pid, uint64_t addr, int ret) {
  cp_profile *p = b->p;
  uint64_t key = ctrace__mix64(ctrace__mix64((uint64_t)(uint32_t)pid, addr), (uint64_t)ret);
  uint32_t *v = vh_get(&b->loc_of, key);
  if (v)
    return *v - 1;
  const sym_frame *f;
  size_t nf = sym_lookup(p->sym, pid, addr, ret, &f);
  if (!nf || vh_reserve((void **)&p->locs, &b->cap_locs, p->nlocs + 1, sizeof *p->locs) ||
      vh_reserve((void **)&p->lines, &b->cap_lines, p->nlines + nf, sizeof *p->lines))
    return SIZE_MAX;
  uint32_t map = mapping_of(b, f[0].mapping);
  if (map == UINT32_MAX)
    return SIZE_MAX;
  p->locs[p->nlocs] = (cp_location){.addr = addr,
                                    .mapping = map,
                                    .module_offset = f[0].module_offset,
                                    .first = p->nlines,
                                    .n = nf,
                                    .pid = pid,
                                    .file_addr = f[0].file_addr,
                                    .func_start = f[0].func_start,
                                    .func_size = f[0].func_size,
                                    .ret = ret};
  for (size_t i = 0; i < nf; i++)
    p->lines[p->nlines++] = (cp_line){f[i].function, f[i].file, f[i].line, f[i].func_line};
  if (vh_put(&b->loc_of, key, (uint32_t)(p->nlocs + 1)))
    return SIZE_MAX;
  return p->nlocs++;
}

/* The counted stacks as lists of locations. @return 0 or -1 (memory). */
static int name_stacks(cp_build *b) {
  cp_profile *p = b->p;
  const vx_index *x = b->x;
  for (uint32_t id = 0; id <= vx_stack_count(x); id++) {
    if (!b->counts[id])
      continue;
    int pid = 0;
    unsigned n = 0;
    const uint64_t *pcs = vx_stack(x, id, &n, &pid);
    if (vh_reserve((void **)&p->stacks, &b->cap_stacks, p->nstacks + 1, sizeof *p->stacks) ||
        vh_reserve((void **)&p->stack_locs, &b->cap_stack_locs, p->nstack_locs + (n ? n : 1),
                   sizeof *p->stack_locs))
      return -1;
    cp_stack *s = &p->stacks[p->nstacks++];
    s->first = p->nstack_locs;
    s->count = b->counts[id];
    memset(s->heap, 0, sizeof s->heap);
    for (int k = 0; b->heapv && k < 4; k++)
      p->heap_total[k] += s->heap[k] = b->heapv[id][k];
    if (n == 0) { /* not unwound at all: one location that says so */
      size_t l = location(b, 0, 0, 0);
      if (l == SIZE_MAX)
        return -1;
      p->stack_locs[p->nstack_locs++] = (uint32_t)l;
    }
    for (unsigned i = 0; i < n; i++) {
      size_t l = location(b, pid, pcs[i], i > 0);
      if (l == SIZE_MAX)
        return -1;
      p->stack_locs[p->nstack_locs++] = (uint32_t)l;
    }
    s->n = p->nstack_locs - s->first;
  }
  return 0;
}

/* Every recorded mapping into the symbol table, in the trace's order, and
 * the kernel functions recorded. */
static int add_mappings(cp_build *b) {
  for (size_t i = 0; i < vx_mapping_count(b->x); i++) {
    const vx_mapping *m = vx_mapping_get(b->x, i);
    int r = sym_add_mapping(b->p->sym, m->pid, m->start, m->end, m->offset, m->path, m->build_id);
    if (r == CTRACE_ENOMEM)
      return -1;
  }
  for (size_t i = 0; i < vx_ksym_count(b->x); i++) {
    const vx_ksym *k = vx_ksym_get(b->x, i);
    if (sym_add_kernel_symbol(b->p->sym, k->start, k->size, k->name, k->module) == CTRACE_ENOMEM)
      return -1;
  }
  return 0;
}

/* The stacks named with a table of the profile's own, or o->symbols's
 * (taken, locked while naming). @return 0, or -1 out of memory. */
static int name_all(cp_build *b) {
  cp_profile *p = b->p;
  int own = 1, r;
  if (b->o->symbols) {
    if (!(p->sym = cp__symbols_take(b->o->symbols, b->x, &own)))
      return -1;
    if (!own)
      p->shared = b->o->symbols;
  } else if (!(p->sym = sym_new(b->o->debug_dirs, b->o->ndebug_dirs))) {
    return -1;
  }
  r = (own && add_mappings(b)) || name_stacks(b) || !(p->problems = strdup(sym_problems(p->sym)));
  if (b->o->symbols)
    cp__symbols_unlock(b->o->symbols);
  return r ? -1 : 0;
}

int cp_compute(const vx_index *x, const cp_options *o, cp_profile *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->info = vx_cpu(x);
  out->heap = o->heap;
  out->heap_info = vx_heap(x);
  if (o->heap && !out->heap_info.samples) {
    vx_errf(err, errlen,
            "the traces hold no heap samples (ctrace run records them, one every 512 KiB "
            "allocated by default: --heap-rate BYTES; a program linked with libctrace needs "
            "libctrace-preload.so loaded)");
    return -1;
  }
  if (!o->heap && !out->info.samples) {
    vx_errf(err, errlen,
            "the traces hold no CPU samples (record them with ctrace run --cpu-hz N; "
            "they go to FILE.kernel, read with FILE)");
    return -1;
  }
  cp_build b = {.x = x, .o = o, .p = out};
  int r = st_window_of(x, &o->w, &b.w, err, errlen);
  if (!r && o->region)
    r = region_labels(&b, err, errlen);
  if (!r)
    r = o->heap ? select_heap(&b, err, errlen) : select_samples(&b, err, errlen);
  if (!r) {
    out->t0 = b.w.w0;
    out->t1 = b.w.w1 < vx_t1(x) ? b.w.w1 : vx_t1(x);
    r = name_all(&b);
    if (r)
      vx_errf(err, errlen, "out of memory while naming the samples' stacks");
  }
  free(b.region_label);
  free(b.counts);
  free(b.heapv);
  free(b.map_of);
  vh_free(&b.loc_of);
  if (r)
    cp_free(out);
  return r;
}

void cp_free(cp_profile *p) {
  free(p->locs);
  free(p->lines);
  free(p->maps);
  free(p->stacks);
  free(p->stack_locs);
  free(p->problems);
  if (p->shared)
    cp__symbols_release(p->shared, p->sym);
  else
    sym_free(p->sym);
  memset(p, 0, sizeof *p);
}

/* The given stacks, one cp_stack each. @return 0 or -1 (memory). */
static int name_raw(cp_build *b, int pid, const cp_raw_stack *stacks, size_t n) {
  cp_profile *p = b->p;
  for (size_t i = 0; i < n; i++) {
    const cp_raw_stack *r = &stacks[i];
    if (vh_reserve((void **)&p->stacks, &b->cap_stacks, p->nstacks + 1, sizeof *p->stacks) ||
        vh_reserve((void **)&p->stack_locs, &b->cap_stack_locs, p->nstack_locs + (r->n ? r->n : 1),
                   sizeof *p->stack_locs))
      return -1;
    cp_stack *s = &p->stacks[p->nstacks++];
    s->first = p->nstack_locs;
    s->count = r->count;
    p->samples += r->count;
    for (unsigned k = 0; k < (r->n ? r->n : 1); k++) {
      size_t l = r->n ? location(b, pid, r->pcs[k], k > 0) : location(b, 0, 0, 0);
      if (l == SIZE_MAX)
        return -1;
      p->stack_locs[p->nstack_locs++] = (uint32_t)l;
    }
    s->n = p->nstack_locs - s->first;
  }
  return 0;
}

int cp_compute_stacks(int pid, const vx_mapping *maps, size_t nmaps, const cp_raw_stack *stacks,
                      size_t n, const cp_options *o, cp_profile *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->sample_type = "threads";
  out->sample_unit = "count";
  cp_build b = {.o = o, .p = out};
  int r = !(out->sym = sym_new(o->debug_dirs, o->ndebug_dirs));
  for (size_t i = 0; i < nmaps && !r; i++)
    r = sym_add_mapping(out->sym, pid, maps[i].start, maps[i].end, maps[i].offset, maps[i].path,
                        maps[i].build_id) == CTRACE_ENOMEM;
  if (!r)
    r = name_raw(&b, pid, stacks, n) || !(out->problems = strdup(sym_problems(out->sym)));
  free(b.map_of);
  vh_free(&b.loc_of);
  if (r) {
    vx_errf(err, errlen, "out of memory while naming the stacks");
    cp_free(out);
    return -1;
  }
  return 0;
}

/* ---- Samples by region ------------------------------------------------------------------ */

/* The innermost region open on t at ts, or UINT32_MAX. */
static uint32_t innermost(const vx_track *t, uint64_t ts) {
  uint32_t label = UINT32_MAX;
  for (size_t d = 0; d < t->depths; d++) {
    const vx_slice *a = t->depth[d];
    size_t n = t->ndepth[d], i = vx_slice_lower(a, n, ts);
    if (i >= n || a[i].start > ts)
      break;
    label = a[i].label;
  }
  return label;
}

static int by_samples(const void *a, const void *b) {
  const cp_region_row *x = a, *y = b;
  return x->samples > y->samples ? -1 : x->samples < y->samples;
}

size_t cp_regions(const vx_index *x, const st_options *o, cp_region_row **rows) {
  st_window w;
  char err[200];
  size_t nl = vx_label_count(x), n = 0;
  uint64_t *count = calloc(nl + 1, sizeof *count); /* [nl]: outside any region */
  if (!count || st_window_of(x, o, &w, err, sizeof err)) {
    free(count);
    return (size_t)-1;
  }
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD || (o->thread && strcmp(t->name, o->thread)))
      continue;
    for (size_t k = 0; k < t->ncpu; k++)
      if (t->cpu[k].ts >= w.w0 && t->cpu[k].ts < w.w1) {
        uint32_t l = innermost(t, t->cpu[k].ts);
        count[l < nl ? l : nl]++;
      }
  }
  cp_region_row *r = calloc(nl + 1, sizeof *r);
  if (!r) {
    free(count);
    return (size_t)-1;
  }
  /* labels of one name (a region from several sites) add up */
  for (size_t l = 0; l <= nl; l++) {
    if (!count[l])
      continue;
    const char *name = l < nl ? vx_label_get(x, (uint32_t)l)->name : NULL;
    size_t j = 0;
    while (j < n && !(name ? r[j].name && !strcmp(r[j].name, name) : !r[j].name))
      j++;
    if (j == n)
      r[n++].name = name;
    r[j].samples += count[l];
  }
  free(count);
  qsort(r, n, sizeof *r, by_samples);
  *rows = r;
  return n;
}
