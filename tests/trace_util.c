#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "read.h"
#include "test.h"
#include "trace_util.h"

static void th_push(tthread *th, const rd_event *ev) {
  if (th->n == th->cap) {
    th->cap = th->cap ? th->cap * 2 : 256;
    th->ev = realloc(th->ev, th->cap * sizeof *th->ev);
    if (!th->ev)
      abort();
  }
  tev *e = &th->ev[th->n++];
  e->ts = ev->ts;
  e->tick = ev->tick;
  e->type = ev->type;
  memcpy(e->arg, ev->arg, sizeof e->arg);
  e->str = ev->str ? strndup(ev->str, ev->str_len) : NULL;
  e->thread = ev->thread;
  if (ev->type == CTRACE_FMT_EV_THREAD_NAME)
    snprintf(th->name, sizeof th->name, "%.*s", (int)ev->str_len, ev->str);
}

static ttrace *load(rd_trace *tr) {
  ttrace *t = calloc(1, sizeof *t);
  t->tr = tr;
  t->nth = rd_thread_count(tr);
  t->th = calloc(t->nth + 1, sizeof *t->th);
  for (size_t i = 0; i < t->nth; i++) {
    tthread *th = &t->th[i];
    th->info = rd_thread_get(tr, i);
    snprintf(th->name, sizeof th->name, "%s", th->info->name);
    rd_stream *s = rd_stream_open(tr, i);
    rd_event ev;
    int r;
    while ((r = rd_stream_next(s, &ev)) == 1)
      th_push(th, &ev);
    if (r < 0)
      t->stream_errors++;
    rd_stream_close(s);
  }
  rd_merge *m = rd_merge_open(tr);
  ASSERT(m != NULL);
  size_t cap = 0;
  rd_event ev;
  while (rd_merge_next(m, &ev) == 1) {
    if (t->nmerged == cap) {
      cap = cap ? cap * 2 : 1024;
      t->merged = realloc(t->merged, cap * sizeof *t->merged);
    }
    tev *e = &t->merged[t->nmerged++];
    e->ts = ev.ts;
    e->type = ev.type;
    memcpy(e->arg, ev.arg, sizeof e->arg);
    e->str = NULL;
    e->thread = ev.thread;
  }
  rd_merge_close(m);
  return t;
}

ttrace *tt_load(const char *path) {
  rd_trace *tr;
  char err[600];
  int r = rd_open(path, 0, &tr, err, sizeof err);
  if (r)
    TEST_FAIL("rd_open %s: %s (%s)", path, err, ctrace_err_name(r));
  return load(tr);
}

ttrace *tt_load_mem(const void *data, size_t len, int *err, char *msg, size_t msglen) {
  rd_trace *tr;
  int r = rd_open_mem(data, len, 0, &tr, msg, msglen);
  if (err)
    *err = r;
  return r ? NULL : load(tr);
}

void tt_free(ttrace *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->nth; i++) {
    for (size_t k = 0; k < t->th[i].n; k++)
      free(t->th[i].ev[k].str);
    free(t->th[i].ev);
  }
  free(t->th);
  free(t->merged);
  rd_close(t->tr);
  free(t);
}

tthread *tt_thread(ttrace *t, const char *name) {
  for (size_t i = 0; i < t->nth; i++)
    if (strcmp(t->th[i].name, name) == 0)
      return &t->th[i];
  return NULL;
}

const char *tt_site_name(ttrace *t, uint64_t id) { return rd_site_get(t->tr, id)->name; }

size_t tt_count(const tthread *th, unsigned type) {
  size_t n = 0;
  for (size_t i = 0; i < th->n; i++)
    n += th->ev[i].type == type;
  return n;
}

cJSON *tt_json_file(const char *path) {
  size_t len;
  char *s = test_read_file(path, &len);
  const char *end = NULL;
  /* len + 1: cJSON wants to see the terminating NUL itself. */
  cJSON *root = cJSON_ParseWithLengthOpts(s, len + 1, &end, 1);
  if (!root)
    TEST_FAIL("%s: JSON does not parse near byte %zu", path, end ? (size_t)(end - s) : 0);
  free(s);
  return root;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

size_t tt_json_count(cJSON *root, const char *ph, const char *name, int64_t tid) {
  size_t n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "traceEvents")) {
    const char *p = jstr(e, "ph"), *nm = jstr(e, "name");
    if (!p || strcmp(p, ph) != 0)
      continue;
    if (name && (!nm || strcmp(nm, name) != 0))
      continue;
    if (tid >= 0 && cJSON_GetObjectItemCaseSensitive(e, "tid")->valuedouble != (double)tid)
      continue;
    n++;
  }
  return n;
}

typedef struct open_b {
  double tid;
  const char **name;
  int depth, cap;
} open_b;

int tt_json_check_structure(cJSON *root) {
  int problems = 0;
  open_b *stacks = NULL;
  int nstacks = 0;
  /* flows: id -> +1 for s, -1 for f; tasks: cat/id -> name */
  cJSON *flows = cJSON_CreateObject(), *tasks = cJSON_CreateObject();
  double last_ts = -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "traceEvents")) {
    const char *ph = jstr(e, "ph"), *name = jstr(e, "name");
    if (!ph || !name) {
      printf("event without ph or name\n");
      problems++;
      continue;
    }
    if (strcmp(ph, "M") == 0)
      continue;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(e, "ts");
    if (!cJSON_IsNumber(ts) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "pid")) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "tid"))) {
      printf("event %s without numeric ts/pid/tid\n", name);
      problems++;
      continue;
    }
    if (ts->valuedouble + 0.0005 < last_ts) {
      printf("events not in time order: %.3f after %.3f\n", ts->valuedouble, last_ts);
      problems++;
    }
    last_ts = ts->valuedouble;
    double tid = cJSON_GetObjectItemCaseSensitive(e, "tid")->valuedouble;
    if (strcmp(ph, "B") == 0 || strcmp(ph, "E") == 0) {
      int k;
      for (k = 0; k < nstacks && stacks[k].tid != tid; k++)
        ;
      if (k == nstacks) {
        stacks = realloc(stacks, (size_t)(nstacks + 1) * sizeof *stacks);
        stacks[nstacks] = (open_b){tid, NULL, 0, 0};
        nstacks++;
      }
      open_b *s = &stacks[k];
      if (ph[0] == 'B') {
        if (s->depth == s->cap) {
          s->cap = s->cap ? s->cap * 2 : 16;
          s->name = realloc(s->name, (size_t)s->cap * sizeof *s->name);
        }
        s->name[s->depth++] = name;
      } else if (s->depth == 0) {
        printf("E %s on tid %.0f with no open B\n", name, tid);
        problems++;
      } else {
        s->depth--;
        if (strcmp(s->name[s->depth], name) != 0) {
          printf("E %s closes B %s on tid %.0f\n", name, s->name[s->depth], tid);
          problems++;
        }
      }
    } else if (strcmp(ph, "s") == 0 || strcmp(ph, "f") == 0) {
      const char *id = jstr(e, "id");
      if (!id) {
        printf("flow without string id\n");
        problems++;
        continue;
      }
      cJSON *c = cJSON_GetObjectItemCaseSensitive(flows, id);
      if (!c)
        c = cJSON_AddNumberToObject(flows, id, 0);
      cJSON_SetNumberValue(c, c->valuedouble + (ph[0] == 's' ? 1 : -1));
      if (ph[0] == 'f' && !jstr(e, "bp")) {
        printf("flow end %s without bp\n", id);
        problems++;
      }
    } else if (strcmp(ph, "b") == 0 || strcmp(ph, "e") == 0) {
      const char *id = jstr(e, "id"), *cat = jstr(e, "cat");
      if (!id || !cat) {
        printf("async event without id or cat\n");
        problems++;
        continue;
      }
      char key[256];
      snprintf(key, sizeof key, "%s/%s", cat, id);
      cJSON *c = cJSON_GetObjectItemCaseSensitive(tasks, key);
      if (ph[0] == 'b') {
        if (c) {
          printf("task %s begun twice\n", key);
          problems++;
        } else {
          cJSON_AddStringToObject(tasks, key, name);
        }
      } else if (!c) {
        printf("task %s ends without begin\n", key);
        problems++;
      } else {
        if (strcmp(c->valuestring, name) != 0) {
          printf("task %s: e name %s != b name %s\n", key, name, c->valuestring);
          problems++;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(tasks, key);
      }
    }
  }
  const cJSON *f;
  cJSON_ArrayForEach(f, flows) {
    if (f->valuedouble != 0) {
      printf("flow %s unbalanced (%+.0f)\n", f->string, f->valuedouble);
      problems++;
    }
  }
  for (int k = 0; k < nstacks; k++) {
    if (stacks[k].depth) {
      printf("tid %.0f: %d regions never closed\n", stacks[k].tid, stacks[k].depth);
      problems++;
    }
    free(stacks[k].name);
  }
  free(stacks);
  if (cJSON_GetArraySize(tasks)) {
    printf("%d tasks never ended\n", cJSON_GetArraySize(tasks));
    problems++;
  }
  cJSON_Delete(flows);
  cJSON_Delete(tasks);
  return problems;
}

int tt_export(rd_trace *tr, int fd, cj_stats *stats, char *err, size_t errlen) {
  te_set *set = te_set_of_trace(tr, "trace.ctrace");
  ASSERT(set != NULL);
  int r = cj_export(set, cj_fd_sink, &fd, stats, err, errlen);
  te_set_close(set);
  return r;
}
