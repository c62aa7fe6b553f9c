/* The kernel's functions (ksyms.h), read from /proc/kallsyms at the first
 * kernel frame of a CPU sample, so that FILE.kernel can name its kernel
 * frames itself (DEF_KSYM): the reading machine may not be this one, and
 * the kernel hides its addresses from unprivileged readers.
 *
 * Reading the file takes ~80 ms of kernel time (120k symbols here): too
 * long for the launcher's drain, whose CPU-sample rings hold ~31 ms at
 * 999 Hz. It is read in a thread of its own, once per process; the
 * writers name the frames they met meanwhile once it is done (kernel_trace.c).
 *
 * kallsyms gives no sizes: a function ends where the next symbol (of any
 * type: text, data, or a marker such as _etext) starts, as perf takes it;
 * the last symbol names nothing. Several names at one address: the first
 * text one is kept, a global one (T, W) before a local one.
 *
 * Test hook (environment, read when loading):
 *   CTRACE__TEST_KALLSYMS=PATH  read PATH instead of /proc/kallsyms. */
#define _GNU_SOURCE
#include "ksyms.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrace/format.h"

typedef struct ks_ent {
  uint64_t addr;
  uint32_t name, module; /* offsets into the names */
  uint8_t text;          /* 0 not a function; 1 local (t); 2 global (T, W, w) */
} ks_ent;

struct ks_table {
  ks_ent *e; /* sorted by address, one per address */
  size_t n;
  char *names;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int requested, state = KS_LOADING;
static ks_table *table;
static char why_not[200];

/* ---- Reading --------------------------------------------------------------------- */

typedef struct loader {
  ks_ent *e;
  size_t n, cap;
  char *names;
  size_t len, cap_names;
  uint32_t last_module; /* the previous line's module (lines of a module are together) */
  size_t nonzero;
} loader;

/* s[0..n) and a NUL into the names. @return its offset, or UINT32_MAX (memory). */
static uint32_t add_name(loader *l, const char *s, size_t n) {
  if (l->len + n + 1 > l->cap_names) {
    size_t cap = l->cap_names ? l->cap_names * 2 : 1u << 20;
    while (cap < l->len + n + 1)
      cap *= 2;
    char *p = cap <= UINT32_MAX ? realloc(l->names, cap) : NULL;
    if (!p)
      return UINT32_MAX;
    l->names = p;
    l->cap_names = cap;
  }
  memcpy(l->names + l->len, s, n);
  l->names[l->len + n] = '\0';
  uint32_t at = (uint32_t)l->len;
  l->len += n + 1;
  return at;
}

/* One line: "ADDR TYPE NAME[\t[MODULE]]". @return 0, or -1 (memory). */
static int add_line(loader *l, char *line) {
  char *end;
  unsigned long long addr = strtoull(line, &end, 16);
  if (end == line || end[0] != ' ' || !end[1] || end[2] != ' ')
    return 0;
  char type = end[1];
  char *name = end + 3, *mod = strchr(name, '\t');
  size_t nlen = mod ? (size_t)(mod - name) : strcspn(name, "\n");
  if (addr)
    l->nonzero++;
  if (addr < CTRACE_FMT_KERNEL_ADDR_MIN || !nlen) /* per-CPU offsets ('A'), or hidden */
    return 0;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 65536;
    ks_ent *e = realloc(l->e, cap * sizeof *e);
    if (!e)
      return -1;
    l->e = e;
    l->cap = cap;
  }
  ks_ent *x = &l->e[l->n];
  x->addr = addr;
  x->text = type == 't' ? 1 : (type == 'T' || type == 'W' || type == 'w') ? 2 : 0;
  x->module = 0; /* (offset 0: the "" added first) */
  if (mod && mod[1] == '[') {
    char *m = mod + 2;
    size_t mlen = strcspn(m, "]");
    if (l->last_module && !strncmp(l->names + l->last_module, m, mlen) &&
        !l->names[l->last_module + mlen])
      x->module = l->last_module;
    else if ((x->module = l->last_module = add_name(l, m, mlen)) == UINT32_MAX)
      return -1;
  }
  if ((x->name = add_name(l, name, nlen)) == UINT32_MAX)
    return -1;
  l->n++;
  return 0;
}

static int by_addr(const void *a, const void *b) {
  const ks_ent *x = a, *y = b;
  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  if (x->text != y->text) /* the better name first: global, local, not a function */
    return x->text > y->text ? -1 : 1;
  return x->name < y->name ? -1 : x->name > y->name; /* (file order) */
}

/* @return the table, or NULL with why_not filled. */
static ks_table *load(void) {
  const char *path = getenv("CTRACE__TEST_KALLSYMS");
  if (!path || !path[0])
    path = "/proc/kallsyms";
  FILE *f = fopen(path, "re");
  if (!f) {
    snprintf(why_not, sizeof why_not, "%s: %s", path, strerror(errno));
    return NULL;
  }
  loader l = {0};
  char *line = NULL;
  size_t cap = 0;
  int bad = add_name(&l, "", 0) == UINT32_MAX;
  while (!bad && getline(&line, &cap, f) > 0)
    bad = add_line(&l, line) != 0;
  free(line);
  fclose(f);
  ks_table *t = bad ? NULL : calloc(1, sizeof *t);
  if (!t || !l.n) {
    if (bad || !t)
      snprintf(why_not, sizeof why_not, "%s: out of memory", path);
    else if (!l.nonzero)
      snprintf(why_not, sizeof why_not,
               "%s hides its addresses (kernel.kptr_restrict; root sees them)", path);
    else
      snprintf(why_not, sizeof why_not, "%s lists no kernel functions", path);
    free(t);
    free(l.e);
    free(l.names);
    return NULL;
  }
  qsort(l.e, l.n, sizeof *l.e, by_addr);
  size_t n = 0;
  for (size_t i = 0; i < l.n; i++) /* one per address: the first (best) */
    if (!n || l.e[n - 1].addr != l.e[i].addr)
      l.e[n++] = l.e[i];
  t->e = l.e;
  t->n = n;
  t->names = l.names;
  return t;
}

static void *loader_main(void *arg) {
  (void)arg;
  ks_table *t = load();
  pthread_mutex_lock(&mu);
  table = t;
  state = t ? KS_READY : KS_FAILED;
  pthread_cond_broadcast(&done);
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* ---- Asking ---------------------------------------------------------------------- */

void ks_request(void) {
  pthread_mutex_lock(&mu);
  if (!requested) {
    requested = 1;
    pthread_t th;
    pthread_attr_t a;
    int ok = pthread_attr_init(&a) == 0;
    int started = ok && pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&th, &a, loader_main, NULL) == 0;
    if (ok)
      pthread_attr_destroy(&a);
    if (!started) {
      state = KS_FAILED;
      snprintf(why_not, sizeof why_not, "cannot start a thread to read /proc/kallsyms");
    }
  }
  pthread_mutex_unlock(&mu);
}

int ks_state(int wait, const ks_table **t, const char **why) {
  pthread_mutex_lock(&mu);
  while (wait && requested && state == KS_LOADING)
    pthread_cond_wait(&done, &mu);
  int s = requested ? state : KS_FAILED;
  if (t)
    *t = s == KS_READY ? table : NULL;
  if (why)
    *why = s == KS_FAILED ? (requested ? why_not : "not asked for") : "";
  pthread_mutex_unlock(&mu);
  return s;
}

long ks_find(const ks_table *t, uint64_t addr, ks_sym *out) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) { /* the first symbol above addr */
    size_t mid = lo + (hi - lo) / 2;
    if (t->e[mid].addr <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || lo == t->n || !t->e[lo - 1].text)
    return -1; /* (below the first, past the last: no end known) */
  const ks_ent *e = &t->e[lo - 1];
  *out = (ks_sym){e->addr, t->e[lo].addr - e->addr, t->names + e->name, t->names + e->module};
  return (long)(lo - 1);
}

size_t ks_count(const ks_table *t) { return t->n; }
