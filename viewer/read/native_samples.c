/* The CPU-profile definitions of a ctrace file (FILE.kernel of `ctrace run
 * --cpu-hz N`): DEF_SAMPLING, DEF_MAPPING, DEF_STACK and DEF_KSYM, taken in
 * while native_reader.c scans the file (rd__samples_def) and answered
 * through read.h (rd_sampling, rd_mappings, rd_stack, rd_kernel_symbols). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctrace/format.h"
#include "native_samples.h"

struct rd_samples {
  uint64_t heap_rate; /* DEF_HEAP_SAMPLING */
  char *heap_method;
  unsigned hz;
  uint64_t period_ns;
  char *method;
  rd_mapping *maps;
  size_t nmaps, cap_maps;
  /* Stacks by id - 1 (ids are dense from 1 as the writer hands them out):
   * where each starts in the pool, and its length. */
  struct {
    size_t at;
    unsigned n;
  } * stacks;
  size_t nstacks, cap_stacks;
  uint64_t *pool;
  size_t pool_len, pool_cap;
  rd_ksym *ksyms;
  size_t nksyms, cap_ksyms;
};

/* A definition body being read. */
typedef struct body {
  const uint8_t *p, *end;
  int bad;
} body;

static uint64_t get_varint(body *b) {
  uint64_t v = 0;
  const uint8_t *p = b->bad ? NULL : ctrace_fmt_get_varint(b->p, b->end, &v);
  if (!p) {
    b->bad = 1;
    return 0;
  }
  b->p = p;
  return v;
}

/* A string as a new C string (NULL: bad or out of memory, b->bad set). */
static char *get_str(body *b) {
  uint64_t n = get_varint(b);
  if (b->bad || n > (uint64_t)(b->end - b->p)) {
    b->bad = 1;
    return NULL;
  }
  char *s = malloc(n + 1);
  if (!s) {
    b->bad = 1;
    return NULL;
  }
  memcpy(s, b->p, n);
  s[n] = '\0';
  b->p += n;
  return s;
}

static int def_sampling(rd_samples *s, body *b) {
  uint64_t hz = get_varint(b), period = get_varint(b);
  char *method = get_str(b);
  if (b->bad || hz == 0 || hz > 1000000 || period == 0) {
    free(method);
    return -1;
  }
  free(s->method);
  s->hz = (unsigned)hz;
  s->period_ns = period;
  s->method = method;
  return 0;
}

static int def_heap_sampling(rd_samples *s, body *b) {
  uint64_t rate = get_varint(b);
  char *method = get_str(b);
  if (b->bad || rate == 0) {
    free(method);
    return -1;
  }
  free(s->heap_method);
  s->heap_rate = rate;
  s->heap_method = method;
  return 0;
}

static int def_mapping(rd_samples *s, body *b) {
  uint64_t pid = get_varint(b), start = get_varint(b), end = get_varint(b), off = get_varint(b);
  char *path = get_str(b), *bid = get_str(b);
  if (b->bad || pid == 0 || pid > INT32_MAX || end <= start ||
      vh_reserve((void **)&s->maps, &s->cap_maps, s->nmaps + 1, sizeof *s->maps)) {
    free(path);
    free(bid);
    return -1;
  }
  s->maps[s->nmaps++] = (rd_mapping){(int)pid, start, end, off, path, bid};
  return 0;
}

static int def_stack(rd_samples *s, body *b) {
  uint64_t id = get_varint(b), n = get_varint(b);
  /* Ids increase, each once: anything else is damage. A process's ids may
   * skip a few (an entry that lost its race for a slot): those have no
   * frames. */
  if (b->bad || id <= s->nstacks || id - s->nstacks > 4096 || n == 0 || n > 1024 ||
      vh_reserve((void **)&s->stacks, &s->cap_stacks, id, sizeof *s->stacks) ||
      vh_reserve((void **)&s->pool, &s->pool_cap, s->pool_len + n, sizeof *s->pool))
    return -1;
  while (s->nstacks + 1 < id) {
    s->stacks[s->nstacks].at = s->pool_len;
    s->stacks[s->nstacks++].n = 0;
  }
  for (uint64_t i = 0; i < n; i++)
    s->pool[s->pool_len + i] = get_varint(b);
  if (b->bad)
    return -1;
  s->stacks[s->nstacks].at = s->pool_len;
  s->stacks[s->nstacks].n = (unsigned)n;
  s->pool_len += n;
  s->nstacks++;
  return 0;
}

static int def_ksym(rd_samples *s, body *b) {
  uint64_t start = get_varint(b), size = get_varint(b);
  char *name = get_str(b), *module = get_str(b);
  if (b->bad || start < CTRACE_FMT_KERNEL_ADDR_MIN || size == 0 || start + size < start ||
      !name[0] || vh_reserve((void **)&s->ksyms, &s->cap_ksyms, s->nksyms + 1, sizeof *s->ksyms)) {
    free(name);
    free(module);
    return -1;
  }
  s->ksyms[s->nksyms++] = (rd_ksym){start, size, name, module};
  return 0;
}

int rd__samples_def(rd_samples **sp, unsigned kind, const uint8_t *p, size_t n) {
  if (!*sp && !(*sp = calloc(1, sizeof **sp)))
    return -1;
  body b = {p, p + n, 0};
  switch (kind) {
  case CTRACE_FMT_DEF_SAMPLING: return def_sampling(*sp, &b);
  case CTRACE_FMT_DEF_MAPPING: return def_mapping(*sp, &b);
  case CTRACE_FMT_DEF_STACK: return def_stack(*sp, &b);
  case CTRACE_FMT_DEF_KSYM: return def_ksym(*sp, &b);
  case CTRACE_FMT_DEF_HEAP_SAMPLING: return def_heap_sampling(*sp, &b);
  default: return 0;
  }
}

void rd__samples_free(rd_samples *s) {
  if (!s)
    return;
  free(s->method);
  free(s->heap_method);
  for (size_t i = 0; i < s->nmaps; i++) {
    free((char *)s->maps[i].path);
    free((char *)s->maps[i].build_id);
  }
  free(s->maps);
  free(s->stacks);
  free(s->pool);
  for (size_t i = 0; i < s->nksyms; i++) {
    free((char *)s->ksyms[i].name);
    free((char *)s->ksyms[i].module);
  }
  free(s->ksyms);
  free(s);
}

unsigned rd__samples_rate(const rd_samples *s, uint64_t *period_ns, const char **method) {
  if (period_ns)
    *period_ns = s ? s->period_ns : 0;
  if (method)
    *method = s && s->method ? s->method : NULL;
  return s ? s->hz : 0;
}

size_t rd__samples_mappings(const rd_samples *s, const rd_mapping **out) {
  *out = s ? s->maps : NULL;
  return s ? s->nmaps : 0;
}

size_t rd__samples_ksyms(const rd_samples *s, const rd_ksym **out) {
  *out = s ? s->ksyms : NULL;
  return s ? s->nksyms : 0;
}

uint64_t rd__samples_heap_rate(const rd_samples *s, const char **method) {
  if (method)
    *method = s ? s->heap_method : NULL;
  return s ? s->heap_rate : 0;
}

const uint64_t *rd__samples_stack(const rd_samples *s, uint32_t id, unsigned *n) {
  if (!s || id == 0 || id > s->nstacks || s->stacks[id - 1].n == 0) {
    *n = 0;
    return NULL;
  }
  *n = s->stacks[id - 1].n;
  return s->pool + s->stacks[id - 1].at;
}
