/* te_json_read (viewer/read/json_events.c): Chrome trace-event JSON as typed
 * events. Each test reads a JSON literal through a handler that records
 * every event (with copies of its strings) and checks them one by one:
 * type, pid, tid, ts, flags, then what the type carries. */
#include <limits.h>

#include <cjson/cJSON.h>

#include "ctrace/ctrace.h"
#include "ctrace/format.h"
#include "read.h"
#include "test.h"

typedef struct rec {
  te_event ev; /* its strings replaced by the copies below */
  te_label lab;
  int has_label;
  char *s[3];
} rec;

typedef struct recorder {
  rec *r;
  size_t n, cap;
  size_t fail_at; /* the handler fails on this event (1-based; 0: never) */
  const te_source *src;
  /* the source as TE_SOURCE_END has it */
  int ended;
  char process[128];
  int pid, complete;
  uint64_t events, unmatched_ends, open_regions;
  const char *format;
} recorder;

#define FAIL_RC (-1234)

static char *dup0(const char *s) {
  if (!s)
    return NULL;
  char *d = strdup(s);
  ASSERT(d);
  return d;
}

static int rec_fn(void *arg, const te_source *src, const te_event *ev) {
  recorder *rc = arg;
  ASSERT(src);
  if (!rc->src)
    rc->src = src;
  ASSERT(rc->src == src); /* the same te_source each time */
  ASSERT(ev->type >= TE_SOURCE_BEGIN && ev->type < TE_TYPE_COUNT_);
  ASSERT(!rc->ended);
  if (rc->n == 0)
    ASSERT_EQ(ev->type, TE_SOURCE_BEGIN);
  else
    ASSERT_NE(ev->type, TE_SOURCE_BEGIN);
  if (ev->type == TE_SOURCE_END) {
    rc->ended = 1;
    snprintf(rc->process, sizeof rc->process, "%s", src->process);
    rc->pid = src->pid;
    rc->complete = src->complete;
    rc->events = src->events;
    rc->unmatched_ends = src->unmatched_ends;
    rc->open_regions = src->open_regions;
    rc->format = src->format;
  }
  if (rc->n == rc->cap) {
    rc->cap = rc->cap ? rc->cap * 2 : 64;
    rc->r = realloc(rc->r, rc->cap * sizeof *rc->r);
    ASSERT(rc->r);
  }
  rec *r = &rc->r[rc->n++];
  memset(r, 0, sizeof *r);
  r->ev = *ev;
  if (ev->label) {
    r->has_label = 1;
    r->lab = *ev->label;
    r->lab.name = r->s[0] = dup0(ev->label->name);
    r->lab.cat = r->s[1] = dup0(ev->label->cat);
    r->ev.label = NULL; /* at() points it at lab */
  }
  r->ev.args = r->s[2] = dup0(ev->args);
  switch (ev->type) {
  case TE_PROCESS:
  case TE_THREAD: r->ev.u.thread.name = r->s[0] = dup0(ev->u.thread.name); break;
  case TE_LOG:
    r->ev.u.log.category = r->s[0] = dup0(ev->u.log.category);
    ASSERT(ev->u.log.message);
    r->s[1] = malloc(ev->u.log.len + 1);
    ASSERT(r->s[1]);
    memcpy(r->s[1], ev->u.log.message, ev->u.log.len);
    r->s[1][ev->u.log.len] = 0;
    r->ev.u.log.message = r->s[1];
    break;
  case TE_COUNTER: r->ev.u.counter.name = r->s[0] = dup0(ev->u.counter.name); break;
  case TE_TASK_BEGIN:
  case TE_TASK_END: r->ev.u.task_ev.name = r->s[0] = dup0(ev->u.task_ev.name); break;
  case TE_SYSCALL: r->ev.u.syscall.name = r->s[0] = dup0(ev->u.syscall.name); break;
  case TE_ITEM_RUN:
  case TE_ITEM_STOP: r->ev.u.item.name = r->s[0] = dup0(ev->u.item.name); break;
  case TE_DROPPED: r->ev.u.drop.stream = r->s[0] = dup0(ev->u.drop.stream); break;
  default: break;
  }
  return rc->fail_at && rc->n == rc->fail_at ? FAIL_RC : 0;
}

static void rec_free(recorder *rc) {
  for (size_t i = 0; i < rc->n; i++)
    for (int k = 0; k < 3; k++)
      free(rc->r[i].s[k]);
  free(rc->r);
  memset(rc, 0, sizeof *rc);
}

static const te_event *at(recorder *rc, size_t i) {
  rec *r = &rc->r[i];
  if (r->has_label)
    r->ev.label = &r->lab;
  return &r->ev;
}

/* The next recorded event, which must have this type, pid, tid, ts and flags. */
static const te_event *next_ev(recorder *rc, size_t *i, int type, int pid, int tid, uint64_t ts,
                               unsigned flags, int line) {
  if (*i >= rc->n)
    TEST_FAIL("line %d: no event %zu (%zu recorded)", line, *i, rc->n);
  const te_event *e = at(rc, (*i)++);
  if (e->type != type || e->pid != pid || e->tid != tid || e->ts != ts || e->flags != flags)
    TEST_FAIL("line %d: event %zu is type %d pid %d tid %d ts %" PRIu64 " flags %#x; expected "
              "type %d pid %d tid %d ts %" PRIu64 " flags %#x",
              line, *i - 1, e->type, e->pid, e->tid, e->ts, e->flags, type, pid, tid, ts, flags);
  return e;
}
#define NEXT(type, pid, tid, ts, flags) next_ev(&rc, &i, type, pid, tid, ts, flags, __LINE__)

static void check_label(const te_event *e, const char *name, const char *cat) {
  ASSERT(e->label);
  ASSERT_STR_EQ(e->label->name, name);
  ASSERT_STR_EQ(e->label->cat, cat);
  ASSERT_EQ(e->label->key, 0);
}

static int read_json(const char *json, recorder *rc, te_source *src, char *err, size_t errlen) {
  memset(src, 0, sizeof *src);
  src->path = "test.json";
  return te_json_read(json, strlen(json), src, rec_fn, rc, err, errlen);
}

/* 64-bit FNV-1a with the low bit set (never 0), as common.h's. */
static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
  return h | 1;
}

/* ---- Plain Chrome JSON: metadata, regions, instants, counters, async, flows ---------- */

static const char events_json[] =
    "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":10,\"tid\":0,\"args\":{\"name\":\"app (pid "
    "10)\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":10,\"tid\":11,\"args\":{\"name\":\"main\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":10,\"tid\":11,\"args\":{\"sort_index\":3}"
    "},\n"
    "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":10,\"tid\":12,\"args\":{\"sort_index\":-"
    "2}},\n"
    "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":20,\"args\":{\"name\":\"other\"}},\n"
    "{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":10,\"args\":{\"sort_index\":1}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":10,\"tid\":13},\n"
    "{\"ph\":\"B\",\"name\":\"outer\",\"pid\":10,\"tid\":11,\"ts\":1.5,"
    "\"args\":{\"file\":\"a.c\",\"line\":7,\"func\":\"f\",\"task\":42}},\n"
    "{\"ph\":\"B\",\"pid\":10,\"tid\":11,\"ts\":2.0004,\"cat\":\"gc\"},\n"
    "{\"ph\":\"s\",\"name\":\"flow\",\"cat\":\"flow\",\"id\":\"0x2a\",\"pid\":10,\"tid\":11,\"ts\":"
    "2.5},\n"
    "{\"ph\":\"E\",\"pid\":10,\"tid\":11,\"ts\":3},\n"
    "{\"ph\":\"t\",\"id\":\"0x2a\",\"pid\":10,\"tid\":11,\"ts\":3.2},\n"
    "{\"ph\":\"s\",\"id\":\"0x2b\",\"pid\":10,\"tid\":11,\"ts\":3.5},\n"
    "{\"ph\":\"E\",\"name\":\"outer\",\"pid\":10,\"tid\":11,\"ts\":4},\n"
    "{\"ph\":\"E\",\"pid\":10,\"tid\":11,\"ts\":4.5},\n"
    "{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"flow\",\"cat\":\"flow\",\"id\":42,\"pid\":\"10\","
    "\"tid\":\"12\",\"ts\":\"5\"},\n"
    "{\"ph\":\"X\",\"name\":\"work\",\"pid\":10,\"tid\":12,\"ts\":-3,\"dur\":2.25,\"args\":{}},\n"
    "{\"ph\":\"X\",\"name\":\"str task\",\"cat\":\"io\",\"pid\":10,\"tid\":12,\"ts\":6,\"dur\":1,"
    "\"args\":{\"task\":\"0x10\",\"n\":[1,2]}},\n"
    "{\"ph\":\"i\",\"name\":\"tick\",\"s\":\"p\",\"pid\":10,\"tid\":11,\"ts\":7},\n"
    "{\"ph\":\"I\",\"name\":\"mark\",\"cat\":\"user\",\"pid\":10,\"tid\":11,\"ts\":7.0},\n"
    "{\"ph\":\"n\",\"name\":\"async "
    "mark\",\"cat\":\"a\",\"id\":1,\"pid\":10,\"tid\":11,\"ts\":7.25},\n"
    "{\"ph\":\"R\",\"name\":\"nav\",\"pid\":10,\"tid\":11,\"ts\":7.5},\n"
    "{\"ph\":\"C\",\"name\":\"queue\",\"pid\":10,\"tid\":11,\"ts\":8,\"args\":{\"value\":5}},\n"
    "{\"ph\":\"C\",\"name\":\"mem\",\"pid\":10,\"ts\":9,\"args\":{\"rss\":1.5,\"note\":\"x\","
    "\"swap\":-2}},\n"
    "{\"ph\":\"C\",\"name\":\"cpu\",\"pid\":10,\"ts\":9,\"args\":{\"value\":1,\"other\":2}},\n"
    "{\"ph\":\"C\",\"name\":\"arr\",\"pid\":10,\"ts\":9,\"args\":[1,2]},\n"
    "{\"ph\":\"b\",\"name\":\"request\",\"cat\":\"task\",\"id\":\"0x7\",\"pid\":10,\"tid\":11,"
    "\"ts\":10,\"args\":{\"task\":7,\"parent\":3}},\n"
    "{\"ph\":\"e\",\"name\":\"request\",\"cat\":\"task\",\"id\":\"0x7\",\"pid\":10,\"tid\":12,"
    "\"ts\":11},\n"
    "{\"ph\":\"S\",\"name\":\"legacy\",\"id\":\"req-1\",\"pid\":10,\"tid\":11,\"ts\":12},\n"
    "{\"ph\":\"F\",\"name\":\"legacy\",\"id\":\"req-1\",\"pid\":10,\"tid\":11,\"ts\":13},\n"
    "{\"ph\":\"b\",\"name\":\"num\",\"id\":5,\"pid\":10,\"tid\":11,\"ts\":14,\"args\":{\"parent\":"
    "\"9\"}},\n"
    "{\"ph\":\"P\",\"name\":\"sample\",\"pid\":10,\"tid\":11,\"ts\":15},\n"
    "{\"ph\":\"O\",\"name\":\"obj\",\"id\":\"0x1\",\"pid\":10,\"ts\":15},\n"
    "{\"ph\":\"\",\"pid\":10},\n"
    "{\"name\":\"no ph\"},\n"
    "42, \"x\", [1], null,\n"
    "{\"ph\":\"X\",\"name\":\"big\",\"pid\":1e300,\"tid\":-1e300,\"ts\":1e300,\"dur\":\"nan\"}\n"
    "],\"otherData\":{\"producer\":\"test\"}}\n";

TEST_IMPL(json_read_events) {
  recorder rc = {0};
  te_source src;
  char err[256] = "";
  ASSERT_EQ(read_json(events_json, &rc, &src, err, sizeof err), 0);
  ASSERT_STR_EQ(err, "");
  ASSERT(rc.src == &src);
  ASSERT(rc.ended);
  ASSERT_STR_EQ(rc.format, "chrome-json");
  ASSERT_EQ(rc.complete, 1);
  ASSERT_STR_EQ(rc.process, "app (pid 10)"); /* the first process_name */
  ASSERT_EQ(rc.pid, 10);
  /* B B s E t s E E f X X i I n R C C C C b e S F b X; not M, P, O or nameless phases */
  ASSERT_UEQ(rc.events, 25);
  ASSERT_UEQ(src.events, 25);
  ASSERT_UEQ(rc.unmatched_ends, 1); /* the E at 4.5 */
  ASSERT_UEQ(rc.open_regions, 0);
  ASSERT_STR_EQ(src.format, "chrome-json");
  ASSERT_STR_EQ(src.path, "test.json");
  ASSERT_STR_EQ(src.process, ""); /* it pointed into the freed JSON */

  size_t i = 0;
  const te_event *e = NEXT(TE_SOURCE_BEGIN, 0, 0, 0, 0);
  ASSERT(!e->label && !e->args);
  e = NEXT(TE_PROCESS, 10, 0, 0, 0);
  ASSERT_STR_EQ(e->u.thread.name, "app (pid 10)");
  e = NEXT(TE_THREAD, 10, 11, 0, 0);
  ASSERT_STR_EQ(e->u.thread.name, "main");
  e = NEXT(TE_THREAD, 10, 11, 0, TE_F_SORT);
  ASSERT_STR_EQ(e->u.thread.name, "main"); /* the name seen so far */
  ASSERT_EQ(e->u.thread.sort, 3);
  e = NEXT(TE_THREAD, 10, 12, 0, TE_F_SORT);
  ASSERT(!e->u.thread.name);
  ASSERT_EQ((int)e->u.thread.sort, -2);
  e = NEXT(TE_PROCESS, 20, 0, 0, 0); /* announced, but the source stays pid 10's */
  ASSERT_STR_EQ(e->u.thread.name, "other");

  e = NEXT(TE_BEGIN, 10, 11, 1500, 0);
  check_label(e, "outer", "region");
  ASSERT(!e->label->file && !e->label->func && !e->label->line);
  ASSERT_STR_EQ(e->args, "{\"file\":\"a.c\",\"line\":7,\"func\":\"f\",\"task\":42}");
  ASSERT_UEQ(e->task, 42);
  ASSERT_EQ(e->depth, TE_DEPTH_NEST);
  e = NEXT(TE_BEGIN, 10, 11, 2000, 0); /* 2.0004 us: 2000.4 ns, rounded */
  check_label(e, "", "gc");
  ASSERT(!e->args);
  ASSERT_UEQ(e->task, 0);
  e = NEXT(TE_FLOW, 10, 11, 2500, 0);
  ASSERT_UEQ(e->u.flow.id, 42);
  ASSERT_EQ(e->u.flow.kind, TE_FLOW_USER);
  ASSERT_EQ(e->depth, 2); /* inside outer and the gc region */
  e = NEXT(TE_END, 10, 11, 3000, 0);
  ASSERT(!e->label);
  ASSERT_EQ(e->depth, TE_DEPTH_NEST);
  e = NEXT(TE_FLOW, 10, 11, 3500, 0); /* (the t between: counted, not sent) */
  ASSERT_UEQ(e->u.flow.id, 43);
  ASSERT_EQ(e->depth, 1);
  e = NEXT(TE_END, 10, 11, 4000, 0);
  e = NEXT(TE_END, 10, 11, 4500, 0);              /* unmatched: sent, the consumer ignores it */
  e = NEXT(TE_FLOW, 10, 12, 5000, TE_F_FLOW_END); /* pid, tid and ts as strings */
  ASSERT_UEQ(e->u.flow.id, 42);                   /* the number 42 is "0x2a" */
  ASSERT_EQ(e->depth, 0);

  e = NEXT(TE_SLICE, 10, 12, 0, 0); /* ts -3: 0 */
  check_label(e, "work", "region");
  ASSERT_UEQ(e->dur, 2250);
  ASSERT(!e->args); /* {} */
  ASSERT_UEQ(e->task, 0);
  ASSERT_EQ(e->depth, TE_DEPTH_NEST);
  e = NEXT(TE_SLICE, 10, 12, 6000, 0);
  check_label(e, "str task", "io");
  ASSERT_UEQ(e->dur, 1000);
  ASSERT_STR_EQ(e->args, "{\"task\":\"0x10\",\"n\":[1,2]}");
  ASSERT_UEQ(e->task, 16);

  e = NEXT(TE_INSTANT, 10, 11, 7000, 0); /* "s":"p" on an instant: still the thread's */
  check_label(e, "tick", "instant");
  e = NEXT(TE_INSTANT, 10, 11, 7000, 0);
  check_label(e, "mark", "user");
  e = NEXT(TE_INSTANT, 10, 11, 7250, 0);
  check_label(e, "async mark", "a");
  e = NEXT(TE_INSTANT, 10, 11, 7500, 0);
  check_label(e, "nav", "instant");

  e = NEXT(TE_COUNTER, 10, 11, 8000, 0);
  ASSERT_STR_EQ(e->u.counter.name, "queue"); /* a lone "value" */
  ASSERT(e->u.counter.value == 5.0);
  ASSERT_EQ(e->u.counter.ivalue, 5);
  e = NEXT(TE_COUNTER, 10, 0, 9000, 0);
  ASSERT_STR_EQ(e->u.counter.name, "mem rss");
  ASSERT(e->u.counter.value == 1.5);
  ASSERT_EQ(e->u.counter.ivalue, 1);
  e = NEXT(TE_COUNTER, 10, 0, 9000, 0); /* (note: not a number) */
  ASSERT_STR_EQ(e->u.counter.name, "mem swap");
  ASSERT(e->u.counter.value == -2.0);
  ASSERT_EQ(e->u.counter.ivalue, -2);
  e = NEXT(TE_COUNTER, 10, 0, 9000, 0);
  ASSERT_STR_EQ(e->u.counter.name, "cpu value"); /* "value" among others */
  ASSERT_EQ(e->u.counter.ivalue, 1);
  e = NEXT(TE_COUNTER, 10, 0, 9000, 0);
  ASSERT_STR_EQ(e->u.counter.name, "cpu other");
  ASSERT_EQ(e->u.counter.ivalue, 2);
  /* (args as an array: no series) */

  e = NEXT(TE_TASK_BEGIN, 10, 11, 10000, 0);
  ASSERT_UEQ(e->u.task_ev.id, 7);
  ASSERT_UEQ(e->u.task_ev.parent, 3);
  ASSERT_STR_EQ(e->u.task_ev.name, "request");
  e = NEXT(TE_TASK_END, 10, 12, 11000, 0);
  ASSERT_UEQ(e->u.task_ev.id, 7);
  ASSERT_STR_EQ(e->u.task_ev.name, "request");
  e = NEXT(TE_TASK_BEGIN, 10, 11, 12000, 0);
  ASSERT_UEQ(e->u.task_ev.id, fnv1a("req-1")); /* not a number: hashed */
  ASSERT_UEQ(e->u.task_ev.id, 0xfddbeef2b6ce4891ull);
  ASSERT_UEQ(e->u.task_ev.parent, 0);
  e = NEXT(TE_TASK_END, 10, 11, 13000, 0);
  ASSERT_UEQ(e->u.task_ev.id, fnv1a("req-1"));
  e = NEXT(TE_TASK_BEGIN, 10, 11, 14000, 0);
  ASSERT_UEQ(e->u.task_ev.id, 5);
  ASSERT_UEQ(e->u.task_ev.parent, 9);
  ASSERT_STR_EQ(e->u.task_ev.name, "num");

  /* Out of range numbers saturate (pid, tid, ts) or are 0 (dur "nan"). */
  e = NEXT(TE_SLICE, INT_MAX, INT_MIN, UINT64_MAX / 2, 0);
  ASSERT_UEQ(e->dur, 0);
  NEXT(TE_SOURCE_END, 0, 0, 0, 0);
  ASSERT_EQ(i, rc.n);
  rec_free(&rc);

  /* The bare array form; no process_name; regions never closed. */
  ASSERT_EQ(read_json("[{\"ph\":\"i\",\"name\":\"x\",\"pid\":1,\"tid\":2,\"ts\":1},\n"
                      " {\"ph\":\"B\",\"name\":\"a\",\"pid\":1,\"tid\":2,\"ts\":2},\n"
                      " {\"ph\":\"B\",\"name\":\"b\",\"pid\":1,\"tid\":3,\"ts\":2},\n"
                      " {\"ph\":\"B\",\"name\":\"c\",\"pid\":1,\"tid\":3,\"ts\":3}]",
                      &rc, &src, err, sizeof err),
            0);
  i = 0;
  NEXT(TE_SOURCE_BEGIN, 0, 0, 0, 0);
  check_label(NEXT(TE_INSTANT, 1, 2, 1000, 0), "x", "instant");
  check_label(NEXT(TE_BEGIN, 1, 2, 2000, 0), "a", "region");
  check_label(NEXT(TE_BEGIN, 1, 3, 2000, 0), "b", "region");
  check_label(NEXT(TE_BEGIN, 1, 3, 3000, 0), "c", "region");
  NEXT(TE_SOURCE_END, 0, 0, 0, 0);
  ASSERT_EQ(i, rc.n);
  ASSERT_STR_EQ(rc.process, "");
  ASSERT_EQ(rc.pid, 0);
  ASSERT_UEQ(rc.events, 4);
  ASSERT_UEQ(rc.unmatched_ends, 0);
  ASSERT_UEQ(rc.open_regions, 3);
  rec_free(&rc);

  /* No events at all. */
  ASSERT_EQ(read_json("{\"traceEvents\":[]}", &rc, &src, err, sizeof err), 0);
  ASSERT_EQ(rc.n, 2);
  ASSERT_UEQ(src.events, 0);
  rec_free(&rc);
  return 0;
}

/* ---- What ctrace's exporter writes (viewer/chrome_json.c) comes back typed ------------ */

static const char typed_json[] =
    "{\"traceEvents\":[\n"
    "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":7,\"tid\":0,\"args\":{\"name\":\"srv (pid "
    "7)\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":7,\"tid\":1000000008,\"args\":{\"name\":\"tid "
    "8 state\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":7,\"tid\":1000000003,"
    "\"args\":{\"name\":\"thread 1000000003\"}},\n"
    "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":7,\"tid\":1000000009,\"args\":{\"name\":\"tid "
    "8 state\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":1,\"dur\":0.5,\"name\":\"read\",\"cat\":\"syscall\","
    "\"args\":{\"nr\":0,\"arg\":3,\"error\":\"EAGAIN\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":2,\"dur\":0.25,\"name\":\"syscall "
    "999\",\"cat\":\"syscall\","
    "\"args\":{\"nr\":999,\"arg\":-1,\"return\":5,\"recorded_by\":\"kernel\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":2.5,\"dur\":0.1,\"name\":\"write\",\"cat\":"
    "\"syscall\","
    "\"args\":{\"nr\":1,\"arg\":1,\"error\":\"?\",\"recorded_by\":\"wrapper\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":2.75,\"dur\":0,\"name\":\"mine\",\"cat\":\"syscall\","
    "\"args\":{\"nr\":\"1\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":3,\"dur\":2,\"name\":\"mutex wait\",\"cat\":\"wait\","
    "\"args\":{\"object\":\"0x7f00aa\",\"released_by_tid\":9}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":5,\"dur\":1,\"name\":\"join\",\"cat\":\"wait\","
    "\"args\":{\"object\":\"0x0\"}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":6,\"dur\":1,\"name\":\"spin "
    "wait\",\"cat\":\"wait\"},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":1000000008,\"ts\":1,\"dur\":3,\"name\":\"running\",\"cat\":"
    "\"state\","
    "\"args\":{\"cpu\":3}},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":1000000008,\"ts\":4,\"dur\":1,\"name\":\"runnable\",\"cat\":"
    "\"state\"},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":1000000008,\"ts\":5,\"dur\":2,\"name\":\"off "
    "cpu\",\"cat\":\"state\"},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":1000000008,\"ts\":7,\"dur\":1,\"name\":\"zombie\",\"cat\":"
    "\"state\"},\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":8,\"dur\":1,\"name\":\"running\",\"cat\":\"state\"},"
    "\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":9,\"dur\":0.001,\"name\":\"flow\",\"cat\":\"flow\"},"
    "\n"
    "{\"ph\":\"X\",\"pid\":7,\"tid\":8,\"ts\":9,\"dur\":0.002,\"name\":\"flow\",\"cat\":\"flow\"},"
    "\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":7,\"tid\":8,\"ts\":10,\"name\":\"net\",\"cat\":\"log\","
    "\"args\":{\"message\":\"hello\",\"task\":5,\"cut\":true}},\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":7,\"tid\":8,\"ts\":10.5,\"name\":\"log\",\"cat\":\"log\","
    "\"args\":{\"message\":\"plain\",\"cut\":false}},\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":7,\"tid\":8,\"ts\":11,\"name\":\"odd\",\"cat\":\"log\","
    "\"args\":{\"message\":7}},\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":7,\"tid\":8,\"ts\":12,\"name\":\"ctrace: 4 events dropped\","
    "\"cat\":\"ctrace\",\"args\":{\"dropped\":4,\"since_ts\":11.5}},\n"
    "{\"ph\":\"i\",\"s\":\"p\",\"pid\":7,\"tid\":5,\"ts\":13,\"name\":\"ctrace: 2 events dropped "
    "on "
    "threads with no other events\",\"cat\":\"ctrace\",\"args\":{\"dropped\":2}},\n"
    "{\"ph\":\"i\",\"s\":\"p\",\"pid\":7,\"tid\":0,\"ts\":14,\"name\":\"kernel lost records\","
    "\"cat\":\"ctrace\",\"args\":{\"lost\":3}},\n"
    "{\"ph\":\"i\",\"s\":\"t\",\"pid\":7,\"tid\":8,\"ts\":14.1,\"name\":\"ctrace: 6 events "
    "dropped\","
    "\"cat\":\"ctrace\",\"args\":{\"dropped\":6,\"note\":\"reported at stop; where in the thread "
    "is unknown\"}},\n"
    "{\"ph\":\"i\",\"pid\":7,\"tid\":0,\"ts\":14.2,\"s\":\"p\",\"name\":\"ctrace: 2 packets lost\","
    "\"cat\":\"ctrace\",\"args\":{\"packets\":2,\"since_ts\":14.15,\"by\":\"lttng\",\"stream\":"
    "\"chan_0\",\"note\":\"LTTng lost whole packets of this stream\"}},\n"
    "{\"ph\":\"i\",\"pid\":7,\"tid\":0,\"ts\":14.3,\"s\":\"p\",\"name\":\"ctrace: some events "
    "dropped\","
    "\"cat\":\"ctrace\",\"args\":{\"dropped\":0,\"since_ts\":14.25,\"by\":\"lttng\",\"stream\":"
    "\"chan_1\",\"note\":\"LTTng discarded them: the ring buffer (shared by the user's processes) "
    "was full; whose they were is not known\"}},\n"
    "{\"ph\":\"C\",\"pid\":7,\"tid\":8,\"ts\":15,\"name\":\"heap\",\"cat\":\"heap\","
    "\"args\":{\"live\":-100,\"allocated\":4096}},\n"
    "{\"ph\":\"C\",\"pid\":7,\"tid\":8,\"ts\":16,\"name\":\"heap (program)\",\"cat\":\"heap\","
    "\"args\":{\"live\":1000,\"goal\":2000}},\n"
    "{\"ph\":\"C\",\"pid\":7,\"tid\":8,\"ts\":17,\"name\":\"heap\",\"cat\":\"mem\",\"args\":{"
    "\"live\":1}},\n"
    "{\"ph\":\"b\",\"pid\":7,\"tid\":8,\"ts\":18,\"name\":\"job "
    "1\",\"cat\":\"sched\",\"id\":\"0x1f\"},\n"
    "{\"ph\":\"e\",\"pid\":7,\"tid\":8,\"ts\":19,\"name\":\"job "
    "1\",\"cat\":\"sched\",\"id\":\"0x1f\"},\n"
    "{\"ph\":\"B\",\"pid\":7,\"tid\":8,\"ts\":20,\"name\":\"step\","
    "\"args\":{\"file\":\"s.c\",\"line\":3,\"func\":\"g\",\"task\":12}},\n"
    "{\"ph\":\"E\",\"pid\":7,\"tid\":8,\"ts\":21,\"name\":\"step\"}\n"
    "]}";

TEST_IMPL(json_read_typed) {
  recorder rc = {0};
  te_source src;
  char err[256] = "";
  ASSERT_EQ(read_json(typed_json, &rc, &src, err, sizeof err), 0);
  ASSERT_STR_EQ(rc.process, "srv (pid 7)");
  ASSERT_EQ(rc.pid, 7);
  /* 4 syscall-like, 3 waits, 5 states, 1 flow slice (not the anchor), 9 i, 3 C, b e, B E */
  ASSERT_UEQ(rc.events, 29);

  size_t i = 0;
  NEXT(TE_SOURCE_BEGIN, 0, 0, 0, 0);
  ASSERT_STR_EQ(NEXT(TE_PROCESS, 7, 0, 0, 0)->u.thread.name, "srv (pid 7)");
  /* "tid 8 state" on 10^9 + 8: a state row, no thread; a thread never
   * defined (10^9 + serial) and a mismatched name are threads */
  ASSERT_STR_EQ(NEXT(TE_THREAD, 7, 1000000003, 0, 0)->u.thread.name, "thread 1000000003");
  ASSERT_STR_EQ(NEXT(TE_THREAD, 7, 1000000009, 0, 0)->u.thread.name, "tid 8 state");

  const te_event *e = NEXT(TE_SYSCALL, 7, 8, 1000, 0);
  ASSERT_UEQ(e->dur, 500);
  ASSERT_EQ(e->u.syscall.nr, 0);
  ASSERT(!e->u.syscall.name); /* known: the consumer names it */
  ASSERT_UEQ(e->u.syscall.arg, 3);
  ASSERT_EQ(e->u.syscall.ret, -11); /* -EAGAIN */
  ASSERT_EQ(e->depth, TE_DEPTH_NEST);
  ASSERT(!e->label && !e->args);
  e = NEXT(TE_SYSCALL, 7, 8, 2000, TE_F_KERNEL);
  ASSERT_UEQ(e->dur, 250);
  ASSERT_EQ(e->u.syscall.nr, 999);
  ASSERT_STR_EQ(e->u.syscall.name, "syscall 999");
  ASSERT_UEQ(e->u.syscall.arg, UINT64_MAX); /* -1 as written */
  ASSERT_EQ(e->u.syscall.ret, 5);
  e = NEXT(TE_SYSCALL, 7, 8, 2500, 0);
  ASSERT_UEQ(e->dur, 100);
  ASSERT_EQ(e->u.syscall.nr, 1);
  ASSERT_EQ(e->u.syscall.ret, -4095); /* "?": an error with no name */
  e = NEXT(TE_SLICE, 7, 8, 2750, 0);  /* nr not a number: a plain slice */
  check_label(e, "mine", "syscall");
  ASSERT_STR_EQ(e->args, "{\"nr\":\"1\"}");

  e = NEXT(TE_WAIT, 7, 8, 3000, 0);
  ASSERT_UEQ(e->dur, 2000);
  ASSERT_EQ(e->u.wait.kind, CTRACE_FMT_WAIT_MUTEX);
  ASSERT_UEQ(e->u.wait.object, 0x7f00aa);
  ASSERT_EQ(e->u.wait.waker_tid, 9);
  ASSERT_EQ(e->u.wait.waker_pid, 7);
  ASSERT_UEQ(e->u.wait.release_ts, 0);
  ASSERT_EQ(e->depth, TE_DEPTH_NEST);
  e = NEXT(TE_WAIT, 7, 8, 5000, 0);
  ASSERT_EQ(e->u.wait.kind, CTRACE_FMT_WAIT_JOIN);
  ASSERT_UEQ(e->u.wait.object, 0);
  ASSERT_EQ(e->u.wait.waker_tid, 0);
  e = NEXT(TE_WAIT, 7, 8, 6000, 0);
  ASSERT_EQ(e->u.wait.kind, 0); /* not a kind ctrace names: unknown ("wait") */

  e = NEXT(TE_STATE, 7, 8, 1000, 0);
  ASSERT_UEQ(e->dur, 3000);
  ASSERT_EQ(e->u.state.state, TE_ST_RUNNING);
  ASSERT_EQ(e->u.state.cpu, 3);
  e = NEXT(TE_STATE, 7, 8, 4000, 0);
  ASSERT_EQ(e->u.state.state, TE_ST_RUNNABLE);
  ASSERT_EQ(e->u.state.cpu, -1);
  e = NEXT(TE_STATE, 7, 8, 5000, 0);
  ASSERT_UEQ(e->dur, 2000);
  ASSERT_EQ(e->u.state.state, TE_ST_OFF);
  /* zombie: skipped; a state slice on a real tid: a slice */
  check_label(NEXT(TE_SLICE, 7, 8, 8000, 0), "running", "state");
  /* the 1 ns flow anchor: skipped; 2 ns is someone's slice */
  e = NEXT(TE_SLICE, 7, 8, 9000, 0);
  check_label(e, "flow", "flow");
  ASSERT_UEQ(e->dur, 2);

  e = NEXT(TE_LOG, 7, 8, 10000, TE_F_CUT);
  ASSERT_STR_EQ(e->u.log.category, "net");
  ASSERT_STR_EQ(e->u.log.message, "hello");
  ASSERT_EQ(e->u.log.len, 5);
  ASSERT_UEQ(e->task, 5);
  e = NEXT(TE_LOG, 7, 8, 10500, 0);
  ASSERT_STR_EQ(e->u.log.category, "log");
  ASSERT_STR_EQ(e->u.log.message, "plain");
  ASSERT_UEQ(e->task, 0);
  check_label(NEXT(TE_INSTANT, 7, 8, 11000, 0), "odd", "log");
  e = NEXT(TE_DROPPED, 7, 8, 12000, 0);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_MARKED);
  ASSERT_UEQ(e->u.drop.n, 4);
  ASSERT_UEQ(e->u.drop.since, 11500);
  e = NEXT(TE_DROPPED, 7, 0, 13000, TE_F_PROCESS);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_NO_THREAD);
  ASSERT_UEQ(e->u.drop.n, 2);
  ASSERT_UEQ(e->u.drop.since, 0);
  e = NEXT(TE_DROPPED, 7, 0, 14000, TE_F_PROCESS);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_KERNEL);
  ASSERT_UEQ(e->u.drop.n, 3);
  e = NEXT(TE_DROPPED, 7, 8, 14100, 0);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_AT_STOP);
  ASSERT_UEQ(e->u.drop.n, 6);
  e = NEXT(TE_DROPPED, 7, 0, 14200, TE_F_PROCESS);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_LTTNG_PACKETS);
  ASSERT_UEQ(e->u.drop.n, 2);
  ASSERT_UEQ(e->u.drop.since, 14150);
  ASSERT_STR_EQ(e->u.drop.stream, "chan_0");
  ASSERT_EQ(e->u.drop.shared, 0);
  e = NEXT(TE_DROPPED, 7, 0, 14300, TE_F_PROCESS);
  ASSERT_EQ(e->u.drop.kind, TE_DROP_LTTNG);
  ASSERT_UEQ(e->u.drop.n, 0);
  ASSERT_EQ(e->u.drop.shared, 1);

  e = NEXT(TE_HEAP, 7, 8, 15000, 0);
  ASSERT_EQ(e->u.heap.live, -100);
  ASSERT_UEQ(e->u.heap.allocated, 4096);
  ASSERT_UEQ(e->u.heap.thread_bytes, 0);
  e = NEXT(TE_HEAP_SET, 7, 8, 16000, 0);
  ASSERT_UEQ(e->u.heap_set.live, 1000);
  ASSERT_UEQ(e->u.heap_set.goal, 2000);
  e = NEXT(TE_COUNTER, 7, 8, 17000, 0);
  ASSERT_STR_EQ(e->u.counter.name, "heap live");
  ASSERT_EQ(e->u.counter.ivalue, 1);

  e = NEXT(TE_ITEM_RUN, 7, 8, 18000, 0);
  ASSERT_UEQ(e->u.item.id, 0x1f);
  ASSERT_STR_EQ(e->u.item.name, "job 1");
  e = NEXT(TE_ITEM_STOP, 7, 8, 19000, 0);
  ASSERT_UEQ(e->u.item.id, 0x1f);
  ASSERT_STR_EQ(e->u.item.name, "job 1");

  e = NEXT(TE_BEGIN, 7, 8, 20000, 0); /* a region under a task */
  check_label(e, "step", "region");
  ASSERT_UEQ(e->task, 12);
  ASSERT_STR_EQ(e->args, "{\"file\":\"s.c\",\"line\":3,\"func\":\"g\",\"task\":12}");
  e = NEXT(TE_END, 7, 8, 21000, 0);
  ASSERT(!e->label);
  ASSERT_UEQ(e->task, 0);
  NEXT(TE_SOURCE_END, 0, 0, 0, 0);
  ASSERT_EQ(i, rc.n);
  rec_free(&rc);
  return 0;
}

/* ---- Errors: malformed JSON, no traceEvents, the handler's error ---------------------- */

static void expect_error(const char *json, size_t len, const char *msg) {
  recorder rc = {0};
  te_source src = {.path = "bad.json"};
  char err[256] = "";
  ASSERT_EQ(te_json_read(json, len, &src, rec_fn, &rc, err, sizeof err), CTRACE_EFORMAT);
  ASSERT_STR_EQ(err, msg);
  ASSERT_EQ(rc.n, 0); /* nothing reached the handler */
  ASSERT_STR_EQ(src.process, "");
  /* and with no room for a message */
  ASSERT_EQ(te_json_read(json, len, &src, rec_fn, &rc, NULL, 0), CTRACE_EFORMAT);
  rec_free(&rc);
}

/* Fails on event k (1-based): te_json_read returns the handler's error and
 * sends nothing after it. */
static void expect_stop(const char *json, size_t k) {
  recorder rc = {.fail_at = k};
  te_source src;
  char err[64] = "untouched";
  ASSERT_EQ(read_json(json, &rc, &src, err, sizeof err), FAIL_RC);
  ASSERT_EQ(rc.n, k);
  ASSERT_STR_EQ(err, "untouched");
  ASSERT_STR_EQ(src.process, "");
  rec_free(&rc);
}

TEST_IMPL(json_read_errors) {
  static const char bad[] = "{\"traceEvents\": [\n"
                            "  {\"ph\": \"B\", \"ts\": 1},\n"
                            "  {\"ph\": \"E\", \"ts\": 2,}\n"
                            "]}\n";
  /* the trailing comma: line 3 (cJSON stops just past the "}" after it) */
  expect_error(bad, strlen(bad), "malformed JSON at line 3, column 24 (byte 65)");
  expect_error("", 0, "malformed JSON at line 1, column 1 (byte 0)");
  expect_error("{\"traceEvents\": [1, 2", 21, "malformed JSON at line 1, column 22 (byte 21)");
  static const char *const no_array[] = {"{\"events\": []}", "{\"traceEvents\": {}}", "42",
                                         "\"traceEvents\"", "null"};
  for (size_t k = 0; k < sizeof no_array / sizeof no_array[0]; k++)
    expect_error(no_array[k], strlen(no_array[k]),
                 "JSON has no traceEvents array (not a Chrome trace-event file)");

  /* The handler's error stops the read where it happened, whichever event
   * it is: the first, a region (its args freed), one series of a counter
   * with several (events_json's "mem rss": "mem swap" never comes), the
   * last (TE_SOURCE_END). */
  static const char *const inputs[] = {events_json, typed_json};
  for (size_t in = 0; in < 2; in++) {
    recorder rc = {0};
    te_source src;
    ASSERT_EQ(read_json(inputs[in], &rc, &src, NULL, 0), 0);
    size_t n = rc.n;
    ASSERT_GE(n, 30);
    rec_free(&rc);
    for (size_t k = 1; k <= n; k++)
      expect_stop(inputs[in], k);
  }
  return 0;
}

/* ---- ctrace export's own JSON, read back: every shape it writes comes back typed ---- */

/* How many of the JSON's events have each "ph cat" of keys ("-": no cat);
 * *meta: the M events, *all: every event. */
static void count_json(const char *text, const char *const *keys, size_t nkeys, size_t *n,
                       size_t *meta, size_t *all) {
  cJSON *root = cJSON_Parse(text);
  ASSERT(root);
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "traceEvents")) {
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(e, "ph");
    const cJSON *cat = cJSON_GetObjectItemCaseSensitive(e, "cat");
    char k[64];
    snprintf(k, sizeof k, "%s %s", ph->valuestring, cJSON_IsString(cat) ? cat->valuestring : "-");
    for (size_t j = 0; j < nkeys; j++)
      if (!strcmp(keys[j], k))
        n[j]++;
    *meta += ph->valuestring[0] == 'M';
    (*all)++;
  }
  cJSON_Delete(root);
}

static void export_and_read(const char *name, int kernel) {
  char trace[4096], ktrace[4096 + 8], json_path[4096];
  snprintf(trace, sizeof trace, "%s/../golden/data/%s.ctrace", test_data_dir, name);
  snprintf(ktrace, sizeof ktrace, "%s.kernel", trace);
  snprintf(json_path, sizeof json_path, "%s", test_tmp_path("json_read_export.json"));
  char *with_kernel[] = {(char *)test_ctrace_bin, "export", trace, ktrace, "-o", json_path, NULL};
  char *alone[] = {(char *)test_ctrace_bin, "export", trace, "-o", json_path, NULL};
  test_proc p = test_run(kernel ? with_kernel : alone, NULL);
  if (p.status != 0)
    TEST_FAIL("ctrace export %s: %d: %s", name, p.status, p.err);
  test_proc_free(&p);
  size_t len;
  char *text = test_read_file(json_path, &len);

  static const char *const keys[] = {"X syscall", "X wait",   "X state", "X flow", "C heap",
                                     "b sched",   "e sched",  "s flow",  "f flow", "i log",
                                     "b task",    "e task",   "B -",     "E -",    "B gc",
                                     "E gc",      "C counter"};
  enum {
    K_SYS,
    K_WAIT,
    K_STATE,
    K_ANCHOR,
    K_HEAP,
    K_RUN,
    K_STOP,
    K_FS,
    K_FF,
    K_LOG,
    K_TB,
    K_TE,
    K_B,
    K_E,
    K_GCB,
    K_GCE,
    K_COUNTER,
    K_N
  };
  size_t want[K_N] = {0}, meta = 0, all = 0;
  count_json(text, keys, K_N, want, &meta, &all);

  recorder rc = {0};
  te_source src = {.path = json_path};
  char err[256];
  ASSERT_EQ(te_json_read(text, len, &src, rec_fn, &rc, err, sizeof err), 0);
  size_t got[TE_TYPE_COUNT_] = {0};
  for (size_t i = 0; i < rc.n; i++) {
    const te_event *e = at(&rc, i);
    got[e->type]++;
    if (e->label) /* nothing typed is left as a plain slice or instant */
      ASSERT(strcmp(e->label->cat, "syscall") && strcmp(e->label->cat, "wait") &&
             strcmp(e->label->cat, "state") && strcmp(e->label->cat, "flow") &&
             strcmp(e->label->cat, "log") && strcmp(e->label->cat, "heap"));
    if (e->type == TE_STATE)
      ASSERT(e->tid > 0 && e->tid < 1000000000);
    if (e->type == TE_THREAD && e->u.thread.name)
      ASSERT(!strstr(e->u.thread.name, " state"));
  }
  ASSERT_EQ(got[TE_SYSCALL], want[K_SYS]);
  ASSERT_EQ(got[TE_WAIT], want[K_WAIT]);
  ASSERT_EQ(got[TE_STATE], want[K_STATE]);
  ASSERT_EQ(got[TE_SLICE], 0); /* every X of the export is typed, or an anchor */
  ASSERT_EQ(got[TE_HEAP] + got[TE_HEAP_SET], want[K_HEAP]);
  ASSERT_EQ(got[TE_ITEM_RUN], want[K_RUN]);
  ASSERT_EQ(got[TE_ITEM_STOP], want[K_STOP]);
  ASSERT_EQ(got[TE_FLOW], want[K_FS] + want[K_FF]);
  ASSERT_EQ(got[TE_LOG], want[K_LOG]);
  ASSERT_EQ(got[TE_TASK_BEGIN], want[K_TB]);
  ASSERT_EQ(got[TE_TASK_END], want[K_TE]);
  ASSERT_EQ(got[TE_COUNTER], want[K_COUNTER]);
  ASSERT_EQ(got[TE_BEGIN], want[K_B] + want[K_GCB]);
  ASSERT_EQ(got[TE_END], want[K_E] + want[K_GCE]);
  ASSERT_GT(got[TE_FLOW], 0);
  ASSERT_GT(got[TE_THREAD], 0);
  ASSERT_EQ(got[TE_PROCESS], 1);
  ASSERT_CONTAINS(rc.process, " (pid ");
  ASSERT_GT(rc.pid, 0);
  /* events: all but the metadata and the anchors, one each (no counter has
   * several series here) */
  ASSERT_UEQ(rc.events, all - meta - want[K_ANCHOR]);
  ASSERT_UEQ(rc.events, rc.n - 2 - got[TE_THREAD] - got[TE_PROCESS]);
  rec_free(&rc);
  free(text);
}

TEST_IMPL(json_read_export) {
  export_and_read("workpool", 1);
  export_and_read("pipeline", 1);
  export_and_read("contend", 0);
  return 0;
}
