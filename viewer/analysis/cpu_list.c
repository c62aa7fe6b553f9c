/* `ctrace list`'s numbers (analysis.h: cp_list): for each function whose
 * name matches a regular expression, the samples per source line, flat
 * (the line was running: the innermost frame of the leaf address) and cum
 * (the line was on the stack: counted once per sample), like pprof's list.
 * A function inlined elsewhere counts there too, at its own lines. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "common.h"

typedef struct list_build {
  const cp_profile *p;
  cp_list_fn *fns;
  size_t n, cap;
  vh_map index; /* mix(name, file) -> fn + 1 */
  size_t *seen; /* per fn: the stack that last added to its cum, + 1 */
  size_t seen_cap;
} list_build;

/* The function of frame l, if its name matches (added the first time).
 * @return its index, SIZE_MAX - 1 when it does not match, SIZE_MAX out of
 * memory. */
static size_t fn_of(list_build *b, const regex_t *re, const cp_line *l) {
  if (!l->function)
    return SIZE_MAX - 1;
  uint64_t k = ctrace__mix64((uint64_t)(uintptr_t)l->function, (uint64_t)(uintptr_t)l->file);
  uint32_t *v = vh_get(&b->index, k);
  if (v)
    return *v - 1; /* (names and files are interned: pointers say it) */
  if (regexec(re, l->function, 0, NULL, 0) != 0)
    return SIZE_MAX - 1;
  if (vh_reserve((void **)&b->fns, &b->cap, b->n + 1, sizeof *b->fns))
    return SIZE_MAX;
  cp_list_fn *f = &b->fns[b->n];
  memset(f, 0, sizeof *f);
  f->name = l->function;
  f->file = l->file;
  f->first_line = l->func_line;
  if (vh_put(&b->index, k, (uint32_t)(b->n + 1)) ||
      vh_reserve((void **)&b->seen, &b->seen_cap, b->n + 1, sizeof *b->seen))
    return SIZE_MAX;
  b->seen[b->n] = 0;
  return b->n++;
}

/* Line `line` of f, the per-line arrays grown to hold it. @return 0, -1. */
static int add_line(cp_list_fn *f, int line, uint64_t flat, uint64_t cum) {
  if (line <= 0)
    return 0;
  if ((size_t)line >= f->nlines) {
    size_t n = (size_t)line + 16;
    uint64_t *a = realloc(f->line_flat, n * sizeof *a), *c;
    if (!a)
      return -1;
    f->line_flat = a;
    if (!(c = realloc(f->line_cum, n * sizeof *c)))
      return -1;
    f->line_cum = c;
    memset(a + f->nlines, 0, (n - f->nlines) * sizeof *a);
    memset(c + f->nlines, 0, (n - f->nlines) * sizeof *c);
    f->nlines = n;
  }
  f->line_flat[line] += flat;
  f->line_cum[line] += cum;
  if (!f->last_line || line > f->last_line)
    f->last_line = line;
  if (!f->first_line || line < f->first_line)
    f->first_line = line;
  return 0;
}

/* Stack s (index si) into the functions. @return 0, or -1 out of memory. */
static int add_stack(list_build *b, const regex_t *re, const cp_stack *s, size_t si) {
  const cp_profile *p = b->p;
  for (size_t k = 0; k < s->n; k++) {
    const cp_location *l = &p->locs[p->stack_locs[s->first + k]];
    for (size_t fi = 0; fi < l->n; fi++) {
      const cp_line *ln = &p->lines[l->first + fi];
      size_t f = fn_of(b, re, ln);
      if (f == SIZE_MAX)
        return -1;
      if (f == SIZE_MAX - 1)
        continue;
      cp_list_fn *fn = &b->fns[f];
      int leaf = k == 0 && fi == 0, first = b->seen[f] != si + 1;
      /* cum: once per sample for the function; per line, each frame at it
       * (a recursive call at one line counts twice there) */
      if (first) {
        b->seen[f] = si + 1;
        fn->cum += s->count;
      }
      if (leaf)
        fn->flat += s->count;
      if (add_line(fn, ln->line, leaf ? s->count : 0, s->count))
        return -1;
    }
  }
  return 0;
}

size_t cp_list(const cp_profile *p, const char *pattern, cp_list_fn **out, char *err,
               size_t errlen) {
  regex_t re;
  int rc = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB);
  if (rc) {
    char why[200];
    regerror(rc, &re, why, sizeof why);
    vx_errf(err, errlen, "'%s' is not a regular expression: %s", pattern, why);
    return (size_t)-1;
  }
  list_build b = {.p = p};
  int ok = 1;
  for (size_t i = 0; ok && i < p->nstacks; i++)
    ok = add_stack(&b, &re, &p->stacks[i], i) == 0;
  regfree(&re);
  vh_free(&b.index);
  free(b.seen);
  if (!ok) {
    cp_list_free(b.fns, b.n);
    vx_errf(err, errlen, "out of memory");
    return (size_t)-1;
  }
  *out = b.fns;
  return b.n;
}

void cp_list_free(cp_list_fn *f, size_t n) {
  for (size_t i = 0; f && i < n; i++) {
    free(f[i].line_flat);
    free(f[i].line_cum);
  }
  free(f);
}
