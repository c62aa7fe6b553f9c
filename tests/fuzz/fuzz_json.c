/* libFuzzer target for the Chrome JSON reader (te_json_read): any bytes
 * must give a clean error or events whose every field can be read, never a
 * crash, a leak or undefined behaviour. Inputs are read twice: to the end,
 * and with a handler that fails partway (the stop paths free as much). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "read.h"

typedef struct fz {
  size_t n, fail_at;
  uint64_t sum; /* what the handler read, so that nothing is optimised away */
} fz;

static uint64_t str(const char *s) { return s ? strlen(s) + (uint8_t)s[0] : 1; }

#define CHECK(c)        \
  do {                  \
    if (!(c))           \
      __builtin_trap(); \
  } while (0)

static int touch(void *arg, const te_source *src, const te_event *ev) {
  fz *f = arg;
  CHECK(ev->type >= TE_SOURCE_BEGIN && ev->type < TE_TYPE_COUNT_);
  CHECK((f->n == 0) == (ev->type == TE_SOURCE_BEGIN));
  f->n++;
  uint64_t s = str(src->path) + str(src->format) + str(src->process) + (uint64_t)src->pid +
               src->events + src->dropped + (uint64_t)src->complete + str(src->problem);
  s += ev->flags + ev->depth + (uint64_t)ev->pid + (uint64_t)ev->tid + ev->ts + ev->dur +
       str(ev->args) + ev->task;
  if (ev->label)
    s += str(ev->label->name) + str(ev->label->cat) + str(ev->label->file) + str(ev->label->func) +
         ev->label->line + ev->label->key;
  switch (ev->type) {
  case TE_BEGIN:
  case TE_SLICE:
  case TE_INSTANT: CHECK(ev->label && ev->label->name && ev->label->cat); break;
  case TE_PROCESS:
  case TE_THREAD: s += str(ev->u.thread.name) + ev->u.thread.sort; break;
  case TE_LOG:
    CHECK(ev->u.log.category && ev->u.log.message);
    for (size_t i = 0; i < ev->u.log.len; i++)
      s += (uint8_t)ev->u.log.message[i];
    s += str(ev->u.log.category);
    break;
  case TE_COUNTER:
    CHECK(ev->u.counter.name);
    s += str(ev->u.counter.name) + (uint64_t)ev->u.counter.ivalue + (ev->u.counter.value > 0);
    break;
  case TE_HEAP:
    s += (uint64_t)ev->u.heap.live + ev->u.heap.allocated + ev->u.heap.thread_bytes;
    break;
  case TE_HEAP_SET: s += ev->u.heap_set.live + ev->u.heap_set.goal; break;
  case TE_TASK_BEGIN:
  case TE_TASK_END:
    CHECK(ev->u.task_ev.name);
    s += ev->u.task_ev.id + ev->u.task_ev.parent + str(ev->u.task_ev.name);
    break;
  case TE_FLOW:
    CHECK(ev->depth < TE_DEPTH_INSIDE);
    s += ev->u.flow.id + ev->u.flow.kind;
    break;
  case TE_SYSCALL:
    s += (uint64_t)ev->u.syscall.nr + str(ev->u.syscall.name) + ev->u.syscall.arg +
         (uint64_t)ev->u.syscall.ret;
    break;
  case TE_WAIT:
    s += ev->u.wait.kind + ev->u.wait.object + (uint64_t)ev->u.wait.waker_pid +
         (uint64_t)ev->u.wait.waker_tid + ev->u.wait.release_ts;
    break;
  case TE_STATE:
    CHECK(ev->u.state.state == TE_ST_RUNNING || ev->u.state.state == TE_ST_RUNNABLE ||
          ev->u.state.state == TE_ST_OFF);
    s += ev->u.state.state + (uint64_t)ev->u.state.cpu;
    break;
  case TE_ITEM_RUN:
  case TE_ITEM_STOP: s += ev->u.item.id + str(ev->u.item.name); break;
  case TE_DROPPED:
    s += ev->u.drop.kind + ev->u.drop.n + ev->u.drop.since + str(ev->u.drop.stream) +
         (uint64_t)ev->u.drop.shared;
    break;
  default: break;
  }
  f->sum += s;
  return f->fail_at && f->n == f->fail_at ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1); /* te_json_read wants text[len] == '\0' */
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char err[256];
  fz f = {0};
  te_source src = {.path = "fuzz.json"};
  int r = te_json_read(text, size, &src, touch, &f, err, sizeof err);
  CHECK(r == 0 || r < 0);
  if (r == 0 && f.n > 2) { /* again, failing halfway */
    fz g = {.fail_at = 1 + f.n / 2};
    te_source src2 = {.path = "fuzz.json"};
    CHECK(te_json_read(text, size, &src2, touch, &g, err, sizeof err) == -1);
    CHECK(g.n == g.fail_at);
  }
  free(text);
  return 0;
}
