/* A CPU or heap profile in pprof's format (analysis.h: cp_encode_pprof):
 * profile.proto, gzipped, as `go tool pprof` reads it. Sample types
 * samples/count and cpu/nanoseconds (CPU), or Go's four of a heap profile
 * (alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes, period space/bytes = the sampling rate); one Location per distinct address with
 * one Line per frame (inlined calls innermost first); Functions by (name,
 * file); Mappings with their file offsets and build ids, so that pprof's
 * -list and -disasm can find the binaries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "common.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile PProfile;
typedef Perftools__Profiles__ValueType PValueType;
typedef Perftools__Profiles__Sample PSample;
typedef Perftools__Profiles__Mapping PMapping;
typedef Perftools__Profiles__Location PLocation;
typedef Perftools__Profiles__Line PLine;
typedef Perftools__Profiles__Function PFunction;

/* The message being built: protobuf-c structs pointing into these arrays. */
typedef struct cpu_msg {
  const cp_profile *p;
  char **strs; /* the string table (index 0: "") */
  size_t nstrs, cap_strs;
  vh_map str_index; /* hash -> index + 1 */
  PFunction *fun, **funp;
  size_t nfun;
  vh_map fun_index; /* mix(name, file) -> index + 1 */
  PLocation *loc, **locp;
  PLine *line, **linep;
  PMapping *map, **mapp;
  PSample *smp, **smpp;
  int64_t *values;
  uint64_t *locids;
  uint64_t *map_id; /* per cp mapping: its id in the message (the executable's is 1) */
  char **owned;     /* strings made here (names of unknown functions) */
  size_t nowned;
} cpu_msg;

/* The index of string s in the table (added once). @return -1 out of memory. */
static int64_t str(cpu_msg *m, const char *s) {
  if (!s || !*s)
    return 0;
  uint64_t k = ctrace__fnv1a(s, strlen(s), 0);
  uint32_t *v;
  while ((v = vh_get(&m->str_index, k)) && strcmp(m->strs[*v - 1], s))
    k = ctrace__mix64(k, 1);
  if (v)
    return (int64_t)*v - 1;
  if (m->nstrs == m->cap_strs) {
    size_t cap = m->cap_strs ? m->cap_strs * 2 : 256;
    char **n = realloc(m->strs, cap * sizeof *n);
    if (!n)
      return -1;
    m->strs = n;
    m->cap_strs = cap;
  }
  m->strs[m->nstrs] = (char *)s;
  if (vh_put(&m->str_index, k, (uint32_t)(m->nstrs + 1)))
    return -1;
  return (int64_t)m->nstrs++;
}

static int alloc_msg(cpu_msg *m) {
  const cp_profile *p = m->p;
  size_t nl = p->nlines ? p->nlines : 1, nloc = p->nlocs ? p->nlocs : 1;
  size_t nm = p->nmaps ? p->nmaps : 1, ns = p->nstacks ? p->nstacks : 1;
  m->fun = calloc(nl, sizeof *m->fun);
  m->funp = calloc(nl, sizeof *m->funp);
  m->loc = calloc(nloc, sizeof *m->loc);
  m->locp = calloc(nloc, sizeof *m->locp);
  m->line = calloc(nl, sizeof *m->line);
  m->linep = calloc(nl, sizeof *m->linep);
  m->map = calloc(nm, sizeof *m->map);
  m->mapp = calloc(nm, sizeof *m->mapp);
  m->smp = calloc(ns, sizeof *m->smp);
  m->smpp = calloc(ns, sizeof *m->smpp);
  m->values = calloc(4 * ns, sizeof *m->values);
  m->locids = calloc(p->nstack_locs ? p->nstack_locs : 1, sizeof *m->locids);
  m->owned = calloc(nloc, sizeof *m->owned);
  m->map_id = calloc(nm + 1, sizeof *m->map_id);
  m->strs = calloc(256, sizeof *m->strs);
  m->cap_strs = 256;
  if (!(m->fun && m->funp && m->loc && m->locp && m->line && m->linep && m->map && m->mapp &&
        m->smp && m->smpp && m->values && m->locids && m->owned && m->strs && m->map_id))
    return -1;
  m->strs[m->nstrs++] = "";
  return 0;
}

static void free_msg(cpu_msg *m) {
  for (size_t i = 0; i < m->nowned; i++)
    free(m->owned[i]);
  free(m->owned);
  free(m->map_id);
  free(m->strs);
  vh_free(&m->str_index);
  vh_free(&m->fun_index);
  free(m->fun);
  free(m->funp);
  free(m->loc);
  free(m->locp);
  free(m->line);
  free(m->linep);
  free(m->map);
  free(m->mapp);
  free(m->smp);
  free(m->smpp);
  free(m->values);
  free(m->locids);
}

/* Whether a mapping is a program rather than a library or the kernel's
 * ([vdso]): pprof takes the first mapping for the main binary. */
static int is_program(const cp_mapping *cm) {
  const char *base = strrchr(cm->path, '/');
  base = base ? base + 1 : cm->path;
  return base[0] != '[' && !strstr(base, ".so");
}

/* The main binary: of the programs mapped, the one most samples ran in
 * (a traced process may be sampled before its exec, in the launcher's
 * image; and a shell's children are programs too). */
static size_t main_mapping(const cp_profile *p) {
  uint64_t *weight = calloc(p->nmaps ? p->nmaps : 1, sizeof *weight);
  size_t best = 0;
  if (!weight)
    return 0;
  for (size_t i = 0; i < p->nstacks; i++)
    for (size_t k = 0; k < p->stacks[i].n; k++) {
      uint32_t map = p->locs[p->stack_locs[p->stacks[i].first + k]].mapping;
      if (map)
        weight[map - 1] += p->stacks[i].count;
    }
  for (size_t i = 0; i < p->nmaps; i++)
    if (is_program(&p->maps[i]) && (!is_program(&p->maps[best]) || weight[i] > weight[best]))
      best = i;
  free(weight);
  return best;
}

static int add_mappings(cpu_msg *m) {
  const cp_profile *p = m->p;
  size_t main = main_mapping(p);
  for (size_t i = 0, next = 2; i < p->nmaps; i++)
    m->map_id[i] = i == main ? 1 : next++;
  for (size_t i = 0; i < p->nmaps; i++) {
    const cp_mapping *cm = &p->maps[i];
    PMapping *pm = &m->map[m->map_id[i] - 1];
    perftools__profiles__mapping__init(pm);
    pm->id = m->map_id[i];
    pm->memory_start = cm->start;
    pm->memory_limit = cm->end;
    pm->file_offset = cm->offset;
    int64_t f = str(m, cm->path), b = str(m, cm->build_id);
    if (f < 0 || b < 0)
      return -1;
    pm->filename = f;
    pm->build_id = b;
    pm->has_functions = cm->has_functions;
    pm->has_filenames = cm->has_lines;
    pm->has_line_numbers = cm->has_lines;
    pm->has_inline_frames = cm->has_lines;
    m->mapp[m->map_id[i] - 1] = pm;
  }
  return 0;
}

/* The function (name, file) of a frame; name: the frame's, or the
 * location's own (an unknown function). @return its id, or 0 (memory). */
static uint64_t function(cpu_msg *m, const char *name, const cp_line *l) {
  int64_t n = str(m, name), f = str(m, l->file);
  if (n < 0 || f < 0)
    return 0;
  uint64_t k = ctrace__mix64((uint64_t)n, (uint64_t)f);
  uint32_t *v;
  while ((v = vh_get(&m->fun_index, k)) &&
         (m->fun[*v - 1].name != n || m->fun[*v - 1].filename != f))
    k = ctrace__mix64(k, 1);
  if (v)
    return m->fun[*v - 1].id;
  PFunction *fn = &m->fun[m->nfun];
  perftools__profiles__function__init(fn);
  fn->id = m->nfun + 1;
  fn->name = n;
  fn->system_name = n;
  fn->filename = f;
  fn->start_line = l->func_line;
  m->funp[m->nfun] = fn;
  if (vh_put(&m->fun_index, k, (uint32_t)(m->nfun + 1)))
    return 0;
  return (uint64_t)++m->nfun;
}

static int add_locations(cpu_msg *m) {
  const cp_profile *p = m->p;
  for (size_t i = 0; i < p->nlocs; i++) {
    const cp_location *cl = &p->locs[i];
    const char *unknown = NULL;
    for (size_t k = 0; k < cl->n && !unknown; k++)
      if (!p->lines[cl->first + k].function) {
        char buf[300];
        cp_location_name(p, (uint32_t)i, buf, sizeof buf);
        if (!(unknown = m->owned[m->nowned++] = strdup(buf)))
          return -1;
      }
    for (size_t k = 0; k < cl->n; k++) {
      const cp_line *l = &p->lines[cl->first + k];
      PLine *pl = &m->line[cl->first + k];
      perftools__profiles__line__init(pl);
      if (!(pl->function_id = function(m, l->function ? l->function : unknown, l)))
        return -1;
      pl->line = l->line;
      m->linep[cl->first + k] = pl;
    }
    PLocation *loc = &m->loc[i];
    perftools__profiles__location__init(loc);
    loc->id = i + 1;
    loc->mapping_id = cl->mapping ? m->map_id[cl->mapping - 1] : 0;
    loc->address = cl->addr;
    loc->n_line = cl->n;
    loc->line = &m->linep[cl->first];
    m->locp[i] = loc;
  }
  return 0;
}

static void add_samples(cpu_msg *m) {
  const cp_profile *p = m->p;
  for (size_t i = 0; i < p->nstack_locs; i++)
    m->locids[i] = (uint64_t)p->stack_locs[i] + 1;
  for (size_t i = 0; i < p->nstacks; i++) {
    const cp_stack *s = &p->stacks[i];
    PSample *smp = &m->smp[i];
    perftools__profiles__sample__init(smp);
    smp->n_location_id = s->n;
    smp->location_id = &m->locids[s->first];
    int64_t *v = &m->values[4 * i];
    if (p->heap) { /* alloc_objects, alloc_space, inuse_objects, inuse_space */
      for (int k = 0; k < 4; k++)
        v[k] = (int64_t)(s->heap[k] + 0.5);
      smp->n_value = 4;
    } else {
      v[0] = (int64_t)s->count;
      v[1] = (int64_t)(s->count * p->info.period_ns);
      smp->n_value = p->sample_type ? 1 : 2; /* (one count per stack, e.g. threads/count) */
    }
    smp->value = v;
    m->smpp[i] = smp;
  }
}

/* The sample types, the period and the comment of a CPU profile (2 types),
 * a heap profile (Go's 4) or a profile of one count per stack (its
 * sample_type, e.g. threads/count). @return how many types, or -1 (memory). */
static int value_types(cpu_msg *m, PValueType vt[4], PValueType *period, char *text, size_t textlen,
                       int64_t *comment, int64_t *dflt) {
  const cp_profile *p = m->p;
  static const char *const cpu[][2] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  static const char *const heap[][2] = {{"alloc_objects", "count"},
                                        {"alloc_space", "bytes"},
                                        {"inuse_objects", "count"},
                                        {"inuse_space", "bytes"}};
  int n = p->heap ? 4 : p->sample_type ? 1 : 2;
  for (int i = 0; i < n; i++) {
    perftools__profiles__value_type__init(&vt[i]);
    vt[i].type = str(m, p->heap ? heap[i][0] : p->sample_type ? p->sample_type : cpu[i][0]);
    vt[i].unit = str(m, p->heap ? heap[i][1] : p->sample_type ? p->sample_unit : cpu[i][1]);
    if (vt[i].type < 0 || vt[i].unit < 0)
      return -1;
  }
  perftools__profiles__value_type__init(period);
  if (p->heap) {
    period->type = str(m, "space");
    period->unit = str(m, "bytes");
    snprintf(text, textlen, "ctrace: heap samples, one every %llu bytes on average (%s)",
             (unsigned long long)p->heap_info.rate, "scaled by 1/(1-exp(-size/rate))");
    *dflt = p->heap == CP_HEAP_ALLOCS ? vt[1].type : vt[3].type;
  } else if (p->sample_type) {
    period->type = vt[0].type;
    period->unit = vt[0].unit;
    snprintf(text, textlen, "ctrace: %s now", p->sample_type);
    *dflt = vt[0].type;
  } else {
    period->type = vt[1].type;
    period->unit = vt[1].unit;
    snprintf(text, textlen, "ctrace: %u Hz CPU samples (%s)", p->info.hz,
             p->info.method ? p->info.method : "method not recorded");
    *dflt = vt[1].type;
  }
  *comment = str(m, text);
  return period->type < 0 || period->unit < 0 || *comment < 0 ? -1 : n;
}

static int pack(cpu_msg *m, unsigned char **gz, size_t *len) {
  const cp_profile *p = m->p;
  PValueType vt[4], period, *vtp[4] = {&vt[0], &vt[1], &vt[2], &vt[3]};
  int64_t s_comment, s_default;
  char comment[240]; /* (the string table points to it until packed) */
  int ntypes = value_types(m, vt, &period, comment, sizeof comment, &s_comment, &s_default);
  if (ntypes < 0)
    return -1;
  PProfile pr;
  perftools__profiles__profile__init(&pr);
  pr.n_sample_type = (size_t)ntypes;
  pr.sample_type = vtp;
  pr.n_sample = p->nstacks;
  pr.sample = m->smpp;
  pr.n_mapping = p->nmaps;
  pr.mapping = m->mapp;
  pr.n_location = p->nlocs;
  pr.location = m->locp;
  pr.n_function = m->nfun;
  pr.function = m->funp;
  pr.n_string_table = m->nstrs;
  pr.string_table = m->strs;
  pr.duration_nanos = (int64_t)(p->t1 - p->t0);
  pr.period_type = &period;
  pr.period = p->heap          ? (int64_t)p->heap_info.rate
              : p->sample_type ? 1
                               : (int64_t)p->info.period_ns;
  pr.n_comment = 1;
  pr.comment = &s_comment;
  pr.default_sample_type = s_default;
  size_t n = perftools__profiles__profile__get_packed_size(&pr);
  uint8_t *raw = malloc(n ? n : 1);
  int ok = raw && perftools__profiles__profile__pack(&pr, raw) == n && !pf_gzip(raw, n, gz, len);
  free(raw);
  return ok ? 0 : -1;
}

int cp_encode_pprof(const cp_profile *p, unsigned char **gz, size_t *len, char *err,
                    size_t errlen) {
  *gz = NULL;
  *len = 0;
  cpu_msg m = {.p = p};
  int ok = alloc_msg(&m) == 0 && add_mappings(&m) == 0 && add_locations(&m) == 0;
  if (ok) {
    add_samples(&m);
    ok = pack(&m, gz, len) == 0;
  }
  free_msg(&m);
  if (!ok) {
    vx_errf(err, errlen, "out of memory while encoding the profile");
    return -1;
  }
  return 0;
}
