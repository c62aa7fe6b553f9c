/* FILE.kernel of a flight recorder (`ctrace run --flight SPAN --cpu-hz N`):
 * the launcher keeps the kernel events it is given (CPU samples, lost
 * records) in memory, the last window of them, and writes them as a
 * FILE.kernel (kernel_trace.c's format) beside each dump PROG takes.
 *
 * Events are kept small (kf_ev: a sample is its thread, time, flags and
 * the id of its stack) in a circular array. The oldest are forgotten once
 * older than the window, which ends at the latest event kept (as the
 * runtime's flight recorder does: tracer/runtime/flight.c), or to keep the
 * array under the byte cap. Stacks are interned (stack_intern.c) and kept
 * for the life of the store, and so is every code mapping (few, and any
 * sample kept may need any of them): a dump is a fresh kt_writer fed the
 * mappings, then the events kept, so every stack and mapping a sample
 * of the dump names is defined in the dump, whenever it was first seen.
 * One thread (the launcher's capture loop). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "stack_intern.h"

typedef struct kf_ev {
  uint64_t ns;
  uint64_t lost;  /* K_LOST */
  uint32_t stack; /* K_SAMPLE: the stack's id in the store's table */
  int32_t pid, tid, cpu;
  uint16_t kind, flags;
} kf_ev;

typedef struct kf_map {
  int pid;
  uint64_t start, end, offset;
  char *path, *build_id;
} kf_map;

struct kf_store {
  int pid;
  char *cmdline, *why;
  uint64_t window_ns; /* 0: no time limit */
  size_t max_evs;     /* 0: no cap */
  unsigned hz;
  uint64_t period_ns;
  char *method;
  kf_ev *evs; /* circular: evs[(head + i) % cap], i < len */
  size_t head, len, cap;
  uint64_t newest;
  uint64_t forgotten, nomem;
  si_table *stacks;
  kf_map *maps;
  size_t nmaps, maps_cap;
};

kf_store *kf_new(int pid, const char *cmdline, uint64_t window_ms, uint64_t max_bytes,
                 const char *why) {
  kf_store *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->pid = pid;
  f->cmdline = strdup(cmdline ? cmdline : "");
  f->why = strdup(why ? why : "");
  f->window_ns = window_ms * 1000000u;
  f->max_evs = max_bytes ? (size_t)(max_bytes / sizeof(kf_ev)) + 1 : 0;
  f->stacks = si_new();
  if (!f->cmdline || !f->why || !f->stacks) {
    kf_free(f);
    return NULL;
  }
  return f;
}

void kf_free(kf_store *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->nmaps; i++) {
    free(f->maps[i].path);
    free(f->maps[i].build_id);
  }
  free(f->maps);
  free(f->evs);
  si_free(f->stacks);
  free(f->cmdline);
  free(f->why);
  free(f->method);
  free(f);
}

void kf_sampling(kf_store *f, unsigned hz, uint64_t period_ns, const char *method) {
  f->hz = hz;
  f->period_ns = period_ns;
  free(f->method);
  f->method = strdup(method);
}

/* Forgets the events older than the window and those beyond the cap. */
static void forget(kf_store *f) {
  while (f->len > 0) {
    const kf_ev *e = &f->evs[f->head];
    int old = f->window_ns && e->ns + f->window_ns < f->newest;
    int over = f->max_evs && f->len > f->max_evs;
    if (!old && !over)
      break;
    f->head = (f->head + 1) % f->cap;
    f->len--;
    f->forgotten++;
  }
}

/* Room for one more event (the array doubles, up to the cap). NULL: out of
 * memory (counted). */
static kf_ev *slot(kf_store *f) {
  if (f->len == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 4096;
    kf_ev *n = malloc(cap * sizeof *n);
    if (!n) {
      f->nomem++;
      return NULL;
    }
    for (size_t i = 0; i < f->len; i++) /* unrolled into order */
      n[i] = f->evs[(f->head + i) % f->cap];
    free(f->evs);
    f->evs = n;
    f->cap = cap;
    f->head = 0;
  }
  return &f->evs[(f->head + f->len++) % f->cap];
}

static void keep_mapping(kf_store *f, const ctrace__kevent *ev) {
  if (f->nmaps == f->maps_cap) {
    size_t cap = f->maps_cap ? f->maps_cap * 2 : 64;
    kf_map *m = realloc(f->maps, cap * sizeof *m);
    if (!m) {
      f->nomem++;
      return;
    }
    f->maps = m;
    f->maps_cap = cap;
  }
  kf_map *m = &f->maps[f->nmaps];
  m->pid = ev->pid;
  m->start = ev->start;
  m->end = ev->end;
  m->offset = ev->offset;
  m->path = strdup(ev->path ? ev->path : "");
  m->build_id = strdup(ev->build_id ? ev->build_id : "");
  if (!m->path || !m->build_id) {
    free(m->path);
    free(m->build_id);
    f->nomem++;
    return;
  }
  f->nmaps++;
}

void kf_event(void *arg, const ctrace__kevent *ev) {
  kf_store *f = arg;
  if (ev->kind == CTRACE__K_MAPPING) {
    keep_mapping(f, ev);
    return;
  }
  if (ev->kind != CTRACE__K_SAMPLE && ev->kind != CTRACE__K_LOST)
    return; /* (a flight recorder's launcher opens the CPU samples alone) */
  uint32_t stack = 0;
  if (ev->kind == CTRACE__K_SAMPLE) {
    int is_new;
    unsigned n = ev->npcs < CTRACE__STACK_MAX ? ev->npcs : CTRACE__STACK_MAX;
    stack = si_intern(f->stacks, ev->pcs, n, &is_new);
  }
  if (ev->ns > f->newest)
    f->newest = ev->ns;
  forget(f);
  kf_ev *e = slot(f);
  if (!e)
    return;
  *e = (kf_ev){ev->ns,
               ev->lost,
               stack,
               ev->pid,
               ev->tid,
               ev->cpu,
               (uint16_t)ev->kind,
               (uint16_t)ev->sample_flags};
  forget(f); /* (the cap) */
}

/* The kept events as kernel events, into k. @return the samples. */
static uint64_t replay(const kf_store *f, kt_writer *k) {
  uint64_t samples = 0;
  for (size_t i = 0; i < f->nmaps; i++) {
    const kf_map *m = &f->maps[i];
    ctrace__kevent e = {.kind = CTRACE__K_MAPPING, .pid = m->pid, .tid = m->pid, .cpu = -1};
    e.start = m->start;
    e.end = m->end;
    e.offset = m->offset;
    e.path = m->path;
    e.build_id = m->build_id;
    kt_event(k, &e);
  }
  for (size_t i = 0; i < f->len; i++) {
    const kf_ev *s = &f->evs[(f->head + i) % f->cap];
    ctrace__kevent e = {.ns = s->ns, .kind = s->kind, .pid = s->pid, .tid = s->tid, .cpu = s->cpu};
    e.lost = s->lost;
    e.sample_flags = s->flags;
    e.period_ns = f->period_ns;
    if (s->kind == CTRACE__K_SAMPLE) {
      e.pcs = si_stack(f->stacks, s->stack, &e.npcs);
      samples++;
    }
    kt_event(k, &e);
  }
  return samples;
}

int kf_dump(const kf_store *f, const char *path, uint64_t *samples, char *err, size_t errlen) {
  kt_writer *k = kt_open(path, f->pid, f->cmdline, 0, 0, f->why, err, errlen);
  if (!k)
    return -1;
  if (f->method)
    kt_sampling(k, f->hz, f->period_ns, f->method);
  if (f->nomem) { /* (what the window forgot is outside the dump, as PROG's own events) */
    ctrace__kevent e = {.kind = CTRACE__K_LOST, .pid = f->pid, .cpu = -1, .lost = f->nomem};
    e.ns = f->len ? f->evs[f->head].ns : f->newest;
    kt_event(k, &e);
  }
  uint64_t n = replay(f, k);
  if (samples)
    *samples = n;
  int r = kt_close(k);
  if (r) {
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
    return -1;
  }
  return 0;
}
