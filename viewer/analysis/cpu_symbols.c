/* A symbolizer kept across profiles (analysis.h: cp_symbols): one symbol
 * table (symbols.c) that profile after profile names stacks with, so that
 * the binaries' symbols, line tables and functions are read once per view,
 * not once per request (the viewer's /api/cpu re-read them every time).
 *
 * The table holds the mappings of the indexes it served, in their order; a
 * copy of each is kept here to tell whether the next index's mappings
 * extend them (then the new ones are added: a live trace that grew), are a
 * part of them (an older index still answering a request: a table of its
 * own, as cp_compute makes without cp_symbols) or differ (the table is
 * replaced; the old one lives on until the last profile naming with it is
 * freed, since the profile's names point into it). The kernel functions
 * recorded are added the same way (a live trace's grow). One mutex orders
 * everything: symbols.c is not thread-safe, so profiles take turns naming. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "common.h"
#include "symbols.h"

/* A replaced table still named with by profiles. */
typedef struct retired {
  sym_table *t;
  size_t refs;
} retired;

/* What a mapping is, as compared (the index's own strings are freed with it). */
typedef struct map_copy {
  int pid;
  uint64_t start, end, offset;
  char *path, *build_id;
} map_copy;

struct cp_symbols {
  pthread_mutex_t mu;
  char **dirs;
  size_t ndirs;
  sym_table *cur;  /* NULL until first used */
  size_t cur_refs; /* profiles naming with cur */
  map_copy *maps;  /* cur's mappings, in the order added */
  size_t nmaps, cap_maps;
  size_t nksyms; /* the index's kernel functions cur has (the first ones) */
  retired *old;
  size_t nold, cap_old;
  unsigned tables;
};

cp_symbols *cp_symbols_new(const char *const *debug_dirs, size_t ndirs) {
  cp_symbols *s = calloc(1, sizeof *s);
  if (!s || !(s->dirs = calloc(ndirs ? ndirs : 1, sizeof *s->dirs))) {
    free(s);
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  for (; s->ndirs < ndirs; s->ndirs++)
    if (!(s->dirs[s->ndirs] = strdup(debug_dirs[s->ndirs]))) {
      cp_symbols_free(s);
      return NULL;
    }
  return s;
}

static void maps_clear(cp_symbols *s) {
  for (size_t i = 0; i < s->nmaps; i++) {
    free(s->maps[i].path);
    free(s->maps[i].build_id);
  }
  s->nmaps = 0;
}

void cp_symbols_free(cp_symbols *s) {
  if (!s)
    return;
  sym_free(s->cur);
  for (size_t i = 0; i < s->nold; i++)
    sym_free(s->old[i].t);
  free(s->old);
  maps_clear(s);
  free(s->maps);
  for (size_t i = 0; i < s->ndirs; i++)
    free(s->dirs[i]);
  free(s->dirs);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

unsigned cp_symbols_tables(cp_symbols *s) {
  pthread_mutex_lock(&s->mu);
  unsigned n = s->tables;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static int same_mapping(const map_copy *c, const vx_mapping *m) {
  return c->pid == m->pid && c->start == m->start && c->end == m->end && c->offset == m->offset &&
         !strcmp(c->path, m->path) && !strcmp(c->build_id, m->build_id);
}

/* A new current table (the old one retired, or freed if nobody names with
 * it). @return 0, or -1 out of memory (nothing changed). */
static int replace(cp_symbols *s) {
  sym_table *t = sym_new((const char *const *)s->dirs, s->ndirs);
  if (!t)
    return -1;
  if (s->cur && s->cur_refs) {
    retired *r = VH_PUSH(s->old, s->nold, s->cap_old);
    if (!r) {
      sym_free(t);
      return -1;
    }
    *r = (retired){s->cur, s->cur_refs};
  } else {
    sym_free(s->cur);
  }
  s->cur = t;
  s->cur_refs = 0;
  s->tables++;
  maps_clear(s);
  s->nksyms = 0;
  return 0;
}

/* x's mappings from the nmaps-th on, into the current table. @return 0,
 * or -1 out of memory. */
static int extend(cp_symbols *s, const vx_index *x) {
  size_t n = vx_mapping_count(x);
  if (n > s->nmaps && vh_reserve((void **)&s->maps, &s->cap_maps, n, sizeof *s->maps))
    return -1;
  while (s->nmaps < n) {
    const vx_mapping *m = vx_mapping_get(x, s->nmaps);
    map_copy *c = &s->maps[s->nmaps];
    *c = (map_copy){m->pid, m->start, m->end, m->offset, strdup(m->path), strdup(m->build_id)};
    if (!c->path || !c->build_id ||
        sym_add_mapping(s->cur, m->pid, m->start, m->end, m->offset, m->path, m->build_id) ==
            CTRACE_ENOMEM) {
      free(c->path);
      free(c->build_id);
      return -1; /* (the table has what it has: the next index compares with that) */
    }
    s->nmaps++;
  }
  for (; s->nksyms < vx_ksym_count(x); s->nksyms++) {
    const vx_ksym *k = vx_ksym_get(x, s->nksyms);
    if (sym_add_kernel_symbol(s->cur, k->start, k->size, k->name, k->module) == CTRACE_ENOMEM)
      return -1;
  }
  return 0;
}

sym_table *cp__symbols_take(cp_symbols *s, const vx_index *x, int *own) {
  pthread_mutex_lock(&s->mu);
  size_t n = vx_mapping_count(x), same = 0;
  while (same < n && same < s->nmaps && same_mapping(&s->maps[same], vx_mapping_get(x, same)))
    same++;
  *own = 0;
  if (s->cur && same == n && n < s->nmaps) { /* an older index of a live trace */
    *own = 1;
    sym_table *t = sym_new((const char *const *)s->dirs, s->ndirs);
    if (!t)
      pthread_mutex_unlock(&s->mu);
    return t;
  }
  if ((!s->cur || same < s->nmaps) && replace(s)) {
    pthread_mutex_unlock(&s->mu);
    return NULL;
  }
  if (extend(s, x)) {
    pthread_mutex_unlock(&s->mu);
    return NULL;
  }
  s->cur_refs++;
  return s->cur;
}

void cp__symbols_lock(cp_symbols *s) { pthread_mutex_lock(&s->mu); }

void cp__symbols_unlock(cp_symbols *s) { pthread_mutex_unlock(&s->mu); }

void cp__symbols_release(cp_symbols *s, sym_table *t) {
  pthread_mutex_lock(&s->mu);
  if (t == s->cur) {
    s->cur_refs--;
  } else {
    for (size_t i = 0; i < s->nold; i++)
      if (s->old[i].t == t && !--s->old[i].refs) {
        sym_free(t);
        s->old[i] = s->old[--s->nold];
        break;
      }
  }
  pthread_mutex_unlock(&s->mu);
}
