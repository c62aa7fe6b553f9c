/* workpool: a thread pool running many small work items, each a little
 * state machine that sometimes waits for (simulated) I/O: it blocks, an I/O
 * thread completes it some time later and puts it back on the run queue,
 * and whichever worker is free runs it next. With ctrace's user-level
 * scheduling API the timeline shows every item like a goroutine: where it
 * ran, why it blocked, and an arrow from what unblocked it to where it ran
 * next. It also has its own arena for item buffers, reset now and then: a
 * GC-like phase (ctrace_gc_begin/end) with the arena's size as the
 * program's heap counters (ctrace_heap_set).
 *
 *   CTRACE_OUT=workpool.ctrace ./build/samples/workpool [-n ITEMS] [-w WORKERS]
 *
 * Counts are exact: every item runs STEPS + 1 times and blocks STEPS times
 * (see the round-trip test). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#define STEPS 3            /* I/O waits per item */
#define ARENA (256u << 10) /* bytes; reset when 3/4 full */

typedef struct item {
  uint64_t id;
  int step;
  uint64_t io_done_ns; /* when its I/O completes */
  struct item *next;
} item;

typedef struct queue {
  item *head, *tail;
  int len;
  pthread_mutex_t mu;
  pthread_cond_t cv;
} queue;

static queue runq, ioq;
static int n_items = 500, n_workers = 3;
static int remaining;
static pthread_mutex_t remaining_mu = PTHREAD_MUTEX_INITIALIZER;

/* The arena, shared by the workers under its own lock. */
static struct {
  pthread_mutex_t mu;
  size_t used;
  unsigned resets;
  char mem[ARENA];
} arena = {.mu = PTHREAD_MUTEX_INITIALIZER};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void push(queue *q, item *it) {
  pthread_mutex_lock(&q->mu);
  it->next = NULL;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->len++;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* NULL when stop is set and the queue is empty. */
static item *pop(queue *q, const int *stop) {
  pthread_mutex_lock(&q->mu);
  while (!q->head && !*stop)
    pthread_cond_wait(&q->cv, &q->mu);
  item *it = q->head;
  if (it) {
    q->head = it->next;
    if (!q->head)
      q->tail = NULL;
    q->len--;
  }
  pthread_mutex_unlock(&q->mu);
  return it;
}

static void *arena_alloc(size_t n) {
  pthread_mutex_lock(&arena.mu);
  if (arena.used + n > ARENA * 3 / 4) {
    ctrace_gc_begin("arena reset");
    memset(arena.mem, 0, arena.used); /* the "collection" */
    arena.used = 0;
    arena.resets++;
    ctrace_gc_end();
  }
  void *p = arena.mem + arena.used;
  arena.used += n;
  ctrace_heap_set(arena.used, ARENA * 3 / 4);
  pthread_mutex_unlock(&arena.mu);
  return p;
}

static int workers_stop, io_stop;

static void *worker(void *arg) {
  char name[32];
  snprintf(name, sizeof name, "pool-%d", (int)(intptr_t)arg);
  ctrace_thread_set_name(name);
  item *it;
  while ((it = pop(&runq, &workers_stop))) {
    ctrace_sched_run(it->id);
    {
      CTRACE_SCOPE("step");
      char *buf = arena_alloc(256 + 64 * (size_t)it->step);
      for (int k = 0; k < 256; k++)
        buf[k] = (char)(it->id + (uint64_t)k);
    }
    if (it->step < STEPS) {
      it->step++;
      it->io_done_ns = now_ns() + 200000 + (it->id % 5) * 100000; /* 0.2 to 0.6 ms */
      ctrace_sched_block("io");
      push(&ioq, it);
    } else {
      ctrace_sched_end(it->id);
      free(it);
      pthread_mutex_lock(&remaining_mu);
      if (--remaining == 0) { /* the last item: let everyone go home */
        pthread_mutex_lock(&ioq.mu);
        io_stop = 1;
        pthread_cond_broadcast(&ioq.cv);
        pthread_mutex_unlock(&ioq.mu);
      }
      pthread_mutex_unlock(&remaining_mu);
    }
  }
  return NULL;
}

/* Completes I/O in order of submission once its time has come. */
static void *io_thread(void *arg) {
  (void)arg;
  ctrace_thread_set_name("io");
  item *it;
  while ((it = pop(&ioq, &io_stop))) {
    uint64_t now = now_ns();
    if (it->io_done_ns > now) {
      struct timespec ts = {0, (long)(it->io_done_ns - now)};
      nanosleep(&ts, NULL);
    }
    ctrace_sched_unblock(it->id);
    push(&runq, it);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "n:w:")) != -1) {
    switch (c) {
    case 'n': n_items = atoi(optarg); break;
    case 'w': n_workers = atoi(optarg); break;
    default: fprintf(stderr, "usage: %s [-n ITEMS] [-w WORKERS]\n", argv[0]); return 2;
    }
  }
  if (n_items < 1 || n_workers < 1 || n_workers > 64) {
    fprintf(stderr, "workpool: need ITEMS >= 1 and 1 <= WORKERS <= 64\n");
    return 2;
  }
  pthread_mutex_init(&runq.mu, NULL);
  pthread_cond_init(&runq.cv, NULL);
  pthread_mutex_init(&ioq.mu, NULL);
  pthread_cond_init(&ioq.cv, NULL);
  remaining = n_items;
  pthread_t w[64], io;
  pthread_create(&io, NULL, io_thread, NULL);
  for (int i = 0; i < n_workers; i++)
    pthread_create(&w[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < n_items; i++) {
    item *it = calloc(1, sizeof *it);
    if (!it)
      abort();
    it->id = (uint64_t)i + 1;
    char name[32];
    snprintf(name, sizeof name, "item %d", i + 1);
    ctrace_sched_create(it->id, name);
    push(&runq, it);
  }
  pthread_join(io, NULL);
  pthread_mutex_lock(&runq.mu);
  workers_stop = 1;
  pthread_cond_broadcast(&runq.cv);
  pthread_mutex_unlock(&runq.mu);
  for (int i = 0; i < n_workers; i++)
    pthread_join(w[i], NULL);
  printf("workpool: %d items x %d runs on %d workers, %u arena resets\n", n_items, STEPS + 1,
         n_workers, arena.resets);
  return 0;
}
