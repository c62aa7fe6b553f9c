/* `ctrace top`'s table (analysis.h: cp_top): per function, or per source
 * line, the samples where it was running (flat: the innermost frame of the
 * leaf address) and those where it was on the stack at all (cum: counted
 * once per sample however often it recurs), like pprof's top. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "common.h"

typedef struct top_row {
  cp_top_row r;
  uint32_t loc;     /* a location it was seen at (names an unknown function) */
  size_t last_seen; /* the stack that last added to cum, + 1 */
} top_row;

typedef struct top_build {
  const cp_profile *p;
  int by_line;
  top_row *rows;
  size_t n, cap;
  vh_map index; /* key -> row + 1 */
} top_build;

/* A frame without a function name is one row per address. */
static uint64_t row_key(const top_build *b, const cp_line *l, uint32_t loc) {
  uint64_t k = l->function
                   ? ctrace__mix64((uint64_t)(uintptr_t)l->function, (uint64_t)(uintptr_t)l->file)
                   : ctrace__mix64(0x5eed, loc);
  return b->by_line ? ctrace__mix64(k, (uint64_t)l->line) : k;
}

static int row_is(const top_build *b, const top_row *t, const cp_line *l, uint32_t loc) {
  if (t->r.name != l->function || t->r.file != l->file || (b->by_line && t->r.line != l->line))
    return 0;
  return l->function || t->loc == loc;
}

/* The row of frame l of location loc. @return its index, or SIZE_MAX. */
static size_t row_of(top_build *b, const cp_line *l, uint32_t loc) {
  uint64_t k = row_key(b, l, loc);
  uint32_t *v;
  while ((v = vh_get(&b->index, k)) && !row_is(b, &b->rows[*v - 1], l, loc))
    k = ctrace__mix64(k, 1);
  if (v)
    return *v - 1;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    top_row *r = realloc(b->rows, cap * sizeof *r);
    if (!r)
      return SIZE_MAX;
    b->rows = r;
    b->cap = cap;
  }
  top_row *t = &b->rows[b->n];
  memset(t, 0, sizeof *t);
  t->r.name = l->function;
  t->r.file = l->file;
  t->r.line = b->by_line ? l->line : l->func_line;
  t->loc = loc;
  if (vh_put(&b->index, k, (uint32_t)(b->n + 1)))
    return SIZE_MAX;
  return b->n++;
}

static int by_flat(const void *a, const void *c) {
  const cp_top_row *x = a, *y = c;
  if (x->flat != y->flat)
    return x->flat > y->flat ? -1 : 1;
  return x->cum > y->cum ? -1 : x->cum < y->cum;
}

static int by_cum(const void *a, const void *c) {
  const cp_top_row *x = a, *y = c;
  if (x->cum != y->cum)
    return x->cum > y->cum ? -1 : 1;
  return x->flat > y->flat ? -1 : x->flat < y->flat;
}

/* Adds stack s (index si) to the rows. @return 0, or -1 out of memory. */
static int add_stack(top_build *b, const cp_stack *s, size_t si) {
  const cp_profile *p = b->p;
  for (size_t k = 0; k < s->n; k++) {
    uint32_t loc = p->stack_locs[s->first + k];
    const cp_location *l = &p->locs[loc];
    for (size_t f = 0; f < l->n; f++) {
      size_t r = row_of(b, &p->lines[l->first + f], loc);
      if (r == SIZE_MAX)
        return -1;
      if (k == 0 && f == 0)
        b->rows[r].r.flat += s->count;
      if (b->rows[r].last_seen != si + 1) {
        b->rows[r].last_seen = si + 1;
        b->rows[r].r.cum += s->count;
      }
    }
  }
  return 0;
}

size_t cp_top(const cp_profile *p, int by_line, int cum_first, cp_top_row **rows) {
  top_build b = {.p = p, .by_line = by_line};
  int ok = 1;
  for (size_t i = 0; ok && i < p->nstacks; i++)
    ok = add_stack(&b, &p->stacks[i], i) == 0;
  vh_free(&b.index);
  cp_top_row *out = ok ? malloc((b.n ? b.n : 1) * sizeof *out) : NULL;
  if (!out) {
    free(b.rows);
    return (size_t)-1;
  }
  for (size_t i = 0; i < b.n; i++) {
    out[i] = b.rows[i].r;
    out[i].loc = b.rows[i].loc;
  }
  free(b.rows);
  qsort(out, b.n, sizeof *out, cum_first ? by_cum : by_flat);
  *rows = out;
  return b.n;
}

void cp_location_name(const cp_profile *p, uint32_t loc, char *buf, size_t len) {
  const cp_location *l = &p->locs[loc];
  cp_address_name(l->mapping ? p->maps[l->mapping - 1].path : NULL, l->module_offset, l->addr, buf,
                  len);
}
