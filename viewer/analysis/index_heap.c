/* Heap samples in the index (vx_heap_*): every sampled allocation of the
 * traces, in the order read (time order within a trace), with the time
 * its block was freed when a HEAP_FREE said so, the weight that scales it
 * to what it stands for (Go's: 1 / (1 - exp(-bytes / rate)), 1 at rate
 * 1), and its stack in the index's table (index_samples.c). A free of an
 * address that no sample holds (a block of before the session, or one
 * freed twice) is ignored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "index_internal.h"

struct vx_heap_store {
  vx_heap_sample *samples;
  size_t n, cap;
  vh_map live; /* mix(source, address) -> sample index + 1, while not freed */
  vx_heap_info info;
};

static struct vx_heap_store *heap_store(vx_index *x) {
  if (!x->heap)
    x->heap = calloc(1, sizeof *x->heap);
  return x->heap;
}

double vx_heap_weight(uint64_t bytes, uint64_t rate) {
  if (rate <= 1 || bytes == 0)
    return 1.0;
  return 1.0 / -expm1(-(double)bytes / (double)rate);
}

static int on_alloc(vx_index *x, struct vx_heap_store *h, uint32_t source, const vx_track *t,
                    const te_event *ev) {
  uint32_t stack = vx__stack_id(x, source, ev->u.heap_sample.stack, ev->u.heap_sample.pcs,
                                ev->u.heap_sample.n, ev->pid);
  if (stack == UINT32_MAX ||
      vh_reserve((void **)&h->samples, &h->cap, h->n + 1, sizeof *h->samples))
    return -1;
  uint64_t rate = ev->u.heap_sample.rate;
  h->samples[h->n] = (vx_heap_sample){.ts = ev->ts,
                                      .freed = UINT64_MAX,
                                      .bytes = ev->u.heap_sample.bytes,
                                      .weight = vx_heap_weight(ev->u.heap_sample.bytes, rate),
                                      .stack = stack,
                                      .track = (uint32_t)(t - x->tracks)};
  if (!h->info.rate)
    h->info.rate = rate;
  h->info.samples++;
  /* A block at an address still held was freed unseen: the new one wins. */
  uint64_t key = ctrace__mix64(source, ev->u.heap_sample.addr);
  uint32_t old;
  if (vh_del(&h->live, key, &old))
    h->info.unseen_frees++;
  return vh_put(&h->live, key, (uint32_t)++h->n);
}

int vx__heap_event(vx_index *x, uint32_t source, const vx_track *t, const te_event *ev) {
  struct vx_heap_store *h = heap_store(x);
  if (!h)
    return -1;
  if (ev->type == TE_HEAP_SAMPLE)
    return on_alloc(x, h, source, t, ev);
  uint32_t i;
  if (vh_del(&h->live, ctrace__mix64(source, ev->u.heap_sample.addr), &i)) {
    h->samples[i - 1].freed = ev->ts;
    h->info.frees++;
  }
  return 0;
}

void vx__heap_free(vx_index *x) {
  if (!x->heap)
    return;
  free(x->heap->samples);
  vh_free(&x->heap->live);
  free(x->heap);
  x->heap = NULL;
}

size_t vx_heap_samples(const vx_index *x, const vx_heap_sample **out) {
  *out = x->heap ? x->heap->samples : NULL;
  return x->heap ? x->heap->n : 0;
}

vx_heap_info vx_heap(const vx_index *x) {
  vx_heap_info none = {0};
  return x->heap ? x->heap->info : none;
}
