/* pipeline: a small multi-threaded program instrumented with every ctrace
 * API. A producer makes items, W workers process them, a writer thread
 * writes the results; two bounded queues connect them.
 *
 *   CTRACE_OUT=pipeline.ctrace ./build/samples/pipeline [-n ITEMS] [-w WORKERS] [-o FILE]
 *   ./build/ctrace export pipeline.ctrace -o pipeline.json
 *
 * Each item is a task (created by the producer, ended by the writer) with
 * a log line from its worker, and two flow arrows: producer -> worker ->
 * writer. The event counts are exact functions of ITEMS and WORKERS (the
 * round-trip test checks them), except the "queue full" instants. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ctrace/ctrace.h>

#define QUEUE_CAP 16

typedef struct item {
  int index;     /* -1: no more items */
  uint64_t task; /* ctrace task of this item */
  uint32_t data[1024];
  uint32_t checksum;
} item;

typedef struct queue {
  item *slots[QUEUE_CAP];
  int head, len;
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
} queue;

static queue work_q, out_q;
static int n_items = 2000, n_workers = 4;
static FILE *out_file;
static uint64_t run_task;

static void queue_init(queue *q) {
  memset(q, 0, sizeof *q);
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
}

/* Each queue's depth is a counter; both ends record it. */
static void record_depth(queue *q, int len) {
  if (q == &work_q)
    CTRACE_COUNTER("work_queue_depth", len);
  else
    CTRACE_COUNTER("out_queue_depth", len);
}

static void queue_push(queue *q, item *it) {
  CTRACE_SCOPE("queue_push");
  pthread_mutex_lock(&q->mu);
  if (q->len == QUEUE_CAP)
    CTRACE_INSTANT("queue full");
  while (q->len == QUEUE_CAP)
    pthread_cond_wait(&q->not_full, &q->mu);
  q->slots[(q->head + q->len) % QUEUE_CAP] = it;
  q->len++;
  record_depth(q, q->len);
  pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->mu);
}

static item *queue_pop(queue *q) {
  CTRACE_SCOPE("queue_pop");
  pthread_mutex_lock(&q->mu);
  while (q->len == 0)
    pthread_cond_wait(&q->not_empty, &q->mu);
  item *it = q->slots[q->head];
  q->head = (q->head + 1) % QUEUE_CAP;
  q->len--;
  record_depth(q, q->len);
  pthread_cond_signal(&q->not_full);
  pthread_mutex_unlock(&q->mu);
  return it;
}

static uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  return x ^ (x >> 16);
}

/* ---- Producer ------------------------------------------------------------- */
static void *producer(void *arg) {
  (void)arg;
  ctrace_thread_set_name("producer");
  for (int i = 0; i < n_items; i++) {
    item *it = malloc(sizeof *it);
    if (!it)
      abort();
    {
      CTRACE_SCOPE("produce");
      it->index = i;
      it->task = ctrace_task_begin("item", run_task);
      for (int k = 0; k < 1024; k++)
        it->data[k] = mix((uint32_t)(i * 1024 + k));
      ctrace_flow_begin((uint64_t)i * 2 + 1); /* arrow to the worker */
    }
    queue_push(&work_q, it);
  }
  for (int w = 0; w < n_workers; w++) {
    item *stop = calloc(1, sizeof *stop);
    if (!stop)
      abort();
    stop->index = -1;
    queue_push(&work_q, stop);
  }
  return NULL;
}

/* ---- Workers ---------------------------------------------------------------- */
static void parse(item *it) {
  CTRACE_REGION_BEGIN("parse");
  for (int r = 0; r < 4; r++)
    for (int k = 0; k < 1024; k++)
      it->data[k] = mix(it->data[k] + (uint32_t)r);
  CTRACE_REGION_END();
}

static void transform(item *it) {
  static const char *const kinds[] = {"scale", "rotate", "blur"};
  char name[32];
  snprintf(name, sizeof name, "transform:%s", kinds[it->index % 3]);
  ctrace_region_begin_dyn(name); /* a name built at run time */
  int rounds = 4 + 4 * (it->index % 3);
  for (int r = 0; r < rounds; r++)
    for (int k = 1; k < 1024; k++)
      it->data[k] = mix(it->data[k] ^ it->data[k - 1]);
  ctrace_region_end();
}

static void *worker(void *arg) {
  char name[32];
  snprintf(name, sizeof name, "worker-%d", (int)(intptr_t)arg);
  ctrace_thread_set_name(name);
  for (;;) {
    item *it = queue_pop(&work_q);
    if (it->index < 0) {
      queue_push(&out_q, it); /* tell the writer this worker is done */
      break;
    }
    uint64_t outer = ctrace_task_switch(it->task); /* "process" belongs to the item */
    {
      CTRACE_SCOPE("process");
      ctrace_flow_end((uint64_t)it->index * 2 + 1);
      parse(it);
      transform(it);
      uint32_t sum = 0;
      for (int k = 0; k < 1024; k++)
        sum = mix(sum ^ it->data[k]);
      it->checksum = sum;
      ctrace_log(it->task, "worker", "item %d checksum %08x on %s", it->index, sum, name);
      ctrace_flow_begin((uint64_t)it->index * 2 + 2); /* arrow to the writer */
    }
    ctrace_task_switch(outer);
    queue_push(&out_q, it);
  }
  return NULL;
}

/* ---- Writer ------------------------------------------------------------------ */
static void *writer(void *arg) {
  (void)arg;
  ctrace_thread_set_name("writer");
  int done = 0, written = 0;
  while (done < n_workers) {
    item *it = queue_pop(&out_q);
    if (it->index < 0) {
      done++;
      free(it);
      continue;
    }
    {
      CTRACE_SCOPE("write");
      ctrace_flow_end((uint64_t)it->index * 2 + 2);
      fprintf(out_file, "%d %08x\n", it->index, it->checksum);
      ctrace_task_end(it->task);
    }
    if (++written % 100 == 0)
      CTRACE_INSTANT("checkpoint");
    free(it);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *out_path = "/dev/null";
  int c;
  while ((c = getopt(argc, argv, "n:w:o:h")) != -1) {
    switch (c) {
    case 'n': n_items = atoi(optarg); break;
    case 'w': n_workers = atoi(optarg); break;
    case 'o': out_path = optarg; break;
    default: fprintf(stderr, "usage: %s [-n ITEMS] [-w WORKERS] [-o FILE]\n", argv[0]); return 2;
    }
  }
  if (n_items < 0 || n_workers < 1 || n_workers > 64) {
    fprintf(stderr, "pipeline: need ITEMS >= 0 and 1 <= WORKERS <= 64\n");
    return 2;
  }
  if (!(out_file = fopen(out_path, "w"))) {
    perror(out_path);
    return 1;
  }
  ctrace_thread_set_name("main");
  if (!ctrace_active())
    fprintf(stderr, "pipeline: tracing is off (set CTRACE_OUT=FILE to record)\n");

  run_task = ctrace_task_begin("pipeline run", 0);
  ctrace_log(run_task, "main", "%d items, %d workers", n_items, n_workers);
  queue_init(&work_q);
  queue_init(&out_q);
  pthread_t prod, wr, workers[64];
  {
    CTRACE_SCOPE("start threads");
    pthread_create(&prod, NULL, producer, NULL);
    for (int w = 0; w < n_workers; w++)
      pthread_create(&workers[w], NULL, worker, (void *)(intptr_t)w);
    pthread_create(&wr, NULL, writer, NULL);
  }
  {
    CTRACE_SCOPE("join");
    pthread_join(prod, NULL);
    for (int w = 0; w < n_workers; w++)
      pthread_join(workers[w], NULL);
    pthread_join(wr, NULL);
  }
  ctrace_task_end(run_task);
  fclose(out_file);
  printf("pipeline: %d items through %d workers\n", n_items, n_workers);
  return 0;
}
