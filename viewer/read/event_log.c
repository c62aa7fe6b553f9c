/* An event log (read.h): typed events kept in memory, to be read again; the
 * LTTng live view keeps what arrives in one. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "read.h"

/* Events in chunks that never move (their table is fixed: no realloc under
 * a reader), their strings in an arena of chunks that never move either,
 * and a copy of the source as it was at each TE_SOURCE_BEGIN and _END. */
#define LOG_CHUNK 4096
#define LOG_CHUNKS 65536 /* at most 268M events */
#define LOG_SOURCES TE_LOG_MAX_SOURCES
#define ARENA_CHUNK (1u << 20)

typedef struct log_entry {
  te_event ev;
  te_label label;
  uint32_t src; /* index in sources */
} log_entry;

struct te_log {
  log_entry *chunks[LOG_CHUNKS];
  size_t nchunks;
  size_t n;
  char **arena;
  size_t narena, cap_arena, arena_used;
  te_source srcs[LOG_SOURCES]; /* never changed once written */
  size_t nsrcs;
};

te_log *te_log_new(void) { return calloc(1, sizeof(te_log)); }

void te_log_free(te_log *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->nchunks; i++)
    free(l->chunks[i]);
  for (size_t i = 0; i < l->narena; i++)
    free(l->arena[i]);
  free(l->arena);
  free(l);
}

size_t te_log_count(const te_log *l) { return l->n; }

/* A copy of s[0..n) and a NUL in the arena, or NULL. */
static const char *keep(te_log *l, const char *s, size_t n) {
  if (!s)
    return NULL;
  if (n + 1 > ARENA_CHUNK)
    n = ARENA_CHUNK - 1;
  if (!l->narena || l->arena_used + n + 1 > ARENA_CHUNK) {
    char **a = VH_PUSH(l->arena, l->narena, l->cap_arena);
    if (!a || !(*a = malloc(ARENA_CHUNK))) {
      if (a)
        l->narena--;
      return NULL;
    }
    l->arena_used = 0;
  }
  char *p = l->arena[l->narena - 1] + l->arena_used;
  memcpy(p, s, n);
  p[n] = '\0';
  l->arena_used += n + 1;
  return p;
}

static const char *keep_c(te_log *l, const char *s) { return s ? keep(l, s, strlen(s)) : NULL; }

/* The union's strings, by type. */
static int keep_strings(te_log *l, te_event *e) {
  const char **s = NULL, **s2 = NULL;
  switch (e->type) {
  case TE_PROCESS:
  case TE_THREAD: s = &e->u.thread.name; break;
  case TE_LOG:
    s = &e->u.log.category;
    if (!(e->u.log.message = keep(l, e->u.log.message, e->u.log.len)) && e->u.log.len)
      return -1;
    break;
  case TE_COUNTER: s = &e->u.counter.name; break;
  case TE_TASK_BEGIN:
  case TE_TASK_END: s = &e->u.task_ev.name; break;
  case TE_SYSCALL: s = &e->u.syscall.name; break;
  case TE_ITEM_RUN:
  case TE_ITEM_STOP: s = &e->u.item.name; break;
  case TE_DROPPED: s = &e->u.drop.stream; break;
  default: break;
  }
  if (e->args)
    s2 = &e->args;
  if (s && *s && !(*s = keep_c(l, *s)))
    return -1;
  if (s2 && !(*s2 = keep_c(l, *s2)))
    return -1;
  return 0;
}

/* A copy of the source at its beginning and end (and at the first event). */
static int keep_source(te_log *l, const te_source *src, const te_event *ev) {
  if (l->nsrcs && ev->type != TE_SOURCE_BEGIN && ev->type != TE_SOURCE_END)
    return 0;
  if (l->nsrcs == LOG_SOURCES)
    return -1;
  te_source *d = &l->srcs[l->nsrcs];
  *d = *src;
  d->path = keep_c(l, src->path);
  d->process = keep_c(l, src->process ? src->process : "");
  d->problem = keep_c(l, src->problem);
  d->native = NULL;
  d->ctf = NULL;
  l->nsrcs++;
  return 0;
}

int te_log_append(te_log *l, const te_source *src, const te_event *ev) {
  if (l->n == l->nchunks * LOG_CHUNK) {
    if (l->nchunks == LOG_CHUNKS ||
        !(l->chunks[l->nchunks] = malloc(LOG_CHUNK * sizeof(log_entry))))
      return CTRACE_ENOMEM;
    l->nchunks++;
  }
  if (keep_source(l, src, ev))
    return CTRACE_ENOMEM;
  log_entry *e = &l->chunks[l->n / LOG_CHUNK][l->n % LOG_CHUNK];
  e->ev = *ev;
  e->src = (uint32_t)(l->nsrcs - 1);
  if (ev->label) {
    e->label = *ev->label;
    if (!(e->label.name = keep_c(l, ev->label->name)) ||
        !(e->label.cat = keep_c(l, ev->label->cat)) ||
        (ev->label->file && !(e->label.file = keep_c(l, ev->label->file))) ||
        (ev->label->func && !(e->label.func = keep_c(l, ev->label->func))))
      return CTRACE_ENOMEM;
    e->ev.label = &e->label;
  }
  if (keep_strings(l, &e->ev))
    return CTRACE_ENOMEM;
  l->n++;
  return 0;
}

int te_log_read(const te_log *l, size_t n, te_handler fn, void *arg) {
  for (size_t i = 0; i < n; i++) {
    const log_entry *e = &l->chunks[i / LOG_CHUNK][i % LOG_CHUNK];
    int r = fn(arg, &l->srcs[e->src], &e->ev);
    if (r)
      return r;
  }
  return 0;
}
