/* Truncated and corrupt traces: read up to the last good record, say where
 * and why, never crash, never return an event that was not recorded. Every
 * cut length and a bit flip in every byte of a real trace. */
#define _GNU_SOURCE
#include <pthread.h>

#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

/* Every cut and every byte, but under ThreadSanitizer (40 times slower
 * here: ~150 s for each test on the CI machine, over 300 s when it is
 * loaded) every 4th, starting at a different offset for cuts and flips. */
#if defined(__SANITIZE_THREAD__)
#define STRIDE 4
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRIDE 4
#endif
#endif
#ifndef STRIDE
#define STRIDE 1
#endif

static void *small_main(void *arg) {
  int id = (int)(intptr_t)arg;
  char name[16];
  snprintf(name, sizeof name, "t%d", id);
  ctrace_thread_set_name(name);
  for (int i = 0; i < 300; i++) {
    CTRACE_REGION_BEGIN("work");
    CTRACE_COUNTER("v", i * (id + 1));
    if (i % 50 == 0) {
      ctrace_log(0, "c", "message %d of thread %d", i, id);
      ctrace_flush(); /* several batches per thread */
    }
    CTRACE_REGION_END();
  }
  return NULL;
}

static char *make_trace(size_t *len) {
  const char *path = test_tmp_path("small.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  ASSERT_EQ(ctrace_start(&o), 0);
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, small_main, (void *)(intptr_t)i);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  ASSERT_EQ(ctrace_stop(), 0);
  return test_read_file(path, len);
}

/* Every thread of `got` holds a prefix of the same thread of `ref`. */
static void assert_prefix(ttrace *ref, ttrace *got) {
  for (size_t i = 0; i < got->nth; i++) {
    const tthread *g = &got->th[i];
    const tthread *r = NULL;
    for (size_t j = 0; j < ref->nth; j++)
      if (ref->th[j].info->serial == g->info->serial)
        r = &ref->th[j];
    ASSERT(r != NULL || g->n == 0);
    if (!r)
      continue;
    ASSERT_LE(g->n, r->n);
    for (size_t k = 0; k < g->n; k++) {
      ASSERT_EQ(g->ev[k].type, r->ev[k].type);
      ASSERT_UEQ(g->ev[k].arg[0], r->ev[k].arg[0]);
      ASSERT_UEQ(g->ev[k].arg[1], r->ev[k].arg[1]);
      /* Times may shift slightly when later clock points are cut off,
       * never by more than the extrapolation error over 100 ms. */
      uint64_t a = g->ev[k].ts, b = r->ev[k].ts;
      ASSERT_ULE(a > b ? a - b : b - a, 100000);
    }
  }
}

TEST_IMPL(corrupt_truncated) {
  size_t len;
  char *data = make_trace(&len);
  ttrace *ref = tt_load_mem(data, len, NULL, NULL, 0);
  ASSERT(ref && rd_complete(ref->tr));
  size_t total = 0;
  for (size_t i = 0; i < ref->nth; i++)
    total += ref->th[i].n;
  ASSERT_GT(rd_batch_count(ref->tr), 6);
  int readable = 0, failed = 0;
  for (size_t cut = 0; cut < len; cut += STRIDE) {
    char msg[600] = "";
    int err = 0;
    ttrace *t = tt_load_mem(data, cut, &err, msg, sizeof msg);
    if (!t) {
      ASSERT_LT(err, 0);
      ASSERT(msg[0] != '\0');
      if (cut == 0)
        ASSERT_CONTAINS(msg, "empty file");
      else if (cut >= 8)
        ASSERT_CONTAINS(msg, "truncated at byte");
      failed++;
      continue;
    }
    readable++;
    ASSERT(!rd_complete(t->tr));
    ASSERT(rd_problem(t->tr) != NULL);
    ASSERT(strstr(rd_problem(t->tr), "truncated at byte") ||
           strstr(rd_problem(t->tr), "no end record"));
    ASSERT_ULE(rd_valid_bytes(t->tr), cut);
    ASSERT_EQ(t->stream_errors, 0);
    assert_prefix(ref, t);
    tt_free(t);
  }
  printf("%zu cuts (every %d): %d readable prefixes, %d with nothing to read; %zu events in all\n",
         len, STRIDE, readable, failed, total);
  ASSERT_GT(readable, 0);
  tt_free(ref);
  free(data);
  return 0;
}

TEST_IMPL(corrupt_bitflips) {
  size_t len;
  char *data = make_trace(&len);
  ttrace *ref = tt_load_mem(data, len, NULL, NULL, 0);
  ASSERT(ref);
  char *copy = malloc(len);
  int detected_open = 0, detected_problem = 0;
  for (size_t i = STRIDE / 2; i < len; i += STRIDE) {
    memcpy(copy, data, len);
    copy[i] ^= (char)(1u << (i / STRIDE % 8)); /* (each bit in turn) */
    char msg[600] = "";
    int err = 0;
    ttrace *t = tt_load_mem(copy, len, &err, msg, sizeof msg);
    if (!t) {
      ASSERT(msg[0] != '\0');
      detected_open++;
      continue;
    }
    /* Every byte is under a CRC: a flip is always found. */
    if (!rd_problem(t->tr))
      TEST_FAIL("flip of byte %zu not detected", i);
    ASSERT(strstr(rd_problem(t->tr), "corrupt") || strstr(rd_problem(t->tr), "truncated"));
    detected_problem++;
    assert_prefix(ref, t);
    tt_free(t);
  }
  printf("%zu bytes, flips in every %d: %d unreadable, %d read up to the damage\n", len, STRIDE,
         detected_open, detected_problem);
  free(copy);
  tt_free(ref);
  free(data);
  return 0;
}

/* The fuzzer's view: without CRCs, random damage reaches the decoders; they
 * must fail cleanly (the fuzz target runs this at scale). */
TEST_IMPL(corrupt_no_crc) {
  size_t len;
  char *data = make_trace(&len);
  char *copy = malloc(len);
  unsigned seed = 12345;
  for (int round = 0; round < 3000; round++) {
    memcpy(copy, data, len);
    for (int k = 0; k < 1 + round % 4; k++) {
      seed = seed * 1103515245u + 12345u;
      copy[(seed >> 8) % len] = (char)(seed >> 20);
    }
    rd_trace *tr;
    char msg[600];
    if (rd_open_mem(copy, len, RD_OPEN_NO_CRC, &tr, msg, sizeof msg) != 0)
      continue;
    rd_merge *m = rd_merge_open(tr);
    rd_event ev;
    while (rd_merge_next(m, &ev) == 1) {
      rd_site_get(tr, ev.arg[0]);
      rd_string(tr, ev.arg[0], NULL);
    }
    rd_merge_close(m);
    rd_close(tr);
  }
  free(copy);
  free(data);
  return 0;
}

/* The kind rd_problem_kind_of() gives must say what rd_problem()'s message
 * says. @return the kind. */
static rd_problem_kind assert_kind_matches(const rd_trace *tr) {
  const char *p = rd_problem(tr);
  rd_problem_kind k = rd_problem_kind_of(tr);
  if (!p)
    ASSERT_EQ(k, RD_PROBLEM_NONE);
  else if (strstr(p, "no end record"))
    ASSERT_EQ(k, RD_PROBLEM_NO_END);
  else if (strstr(p, "truncated at byte"))
    ASSERT_EQ(k, RD_PROBLEM_TRUNCATED);
  else if (strstr(p, "out of memory"))
    ASSERT_EQ(k, RD_PROBLEM_NOMEM);
  else if (strstr(p, "read error"))
    ASSERT_EQ(k, RD_PROBLEM_IO);
  else if (strstr(p, "): batch at byte")) /* a stream's */
    ASSERT_EQ(k, RD_PROBLEM_DECODE);
  else if (strstr(p, "is corrupt"))
    ASSERT_EQ(k, RD_PROBLEM_CORRUPT);
  else
    TEST_FAIL("problem of kind %d not recognised: %s", (int)k, p);
  return k;
}

/* Every event of every thread, to the end or the first error. */
static void stream_all(rd_trace *tr) {
  rd_merge *m = rd_merge_open(tr);
  ASSERT(m != NULL);
  rd_event ev;
  while (rd_merge_next(m, &ev) == 1)
    ;
  rd_merge_close(m);
}

TEST_IMPL(corrupt_problem_kinds) {
  static const struct {
    const char *file;
    rd_problem_kind kind;
  } cases[] = {
      {"good.ctrace", RD_PROBLEM_NONE},        {"record-cut.ctrace", RD_PROBLEM_TRUNCATED},
      {"killed.ctrace", RD_PROBLEM_NO_END},    {"batch-bitflip.ctrace", RD_PROBLEM_CORRUPT},
      {"bad-sync.ctrace", RD_PROBLEM_CORRUPT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char path[1024], msg[600] = "";
    snprintf(path, sizeof path, "%s/%s", test_data_dir, cases[i].file);
    rd_trace *tr;
    if (rd_open(path, 0, &tr, msg, sizeof msg) != 0)
      TEST_FAIL("%s: %s", cases[i].file, msg);
    if (rd_problem_kind_of(tr) != cases[i].kind)
      TEST_FAIL("%s: kind %d, not %d (%s)", cases[i].file, (int)rd_problem_kind_of(tr),
                (int)cases[i].kind, rd_problem(tr) ? rd_problem(tr) : "no problem");
    assert_kind_matches(tr);
    ASSERT_EQ(rd_complete(tr), cases[i].kind == RD_PROBLEM_NONE);
    stream_all(tr); /* the first problem's kind stays */
    ASSERT_EQ(rd_problem_kind_of(tr), cases[i].kind);
    rd_close(tr);
  }

  /* A zstd batch whose header claims one byte more than its frame holds,
   * under a CRC that matches: it opens, and fails to decode when streamed. */
  {
    char path[1024], msg[600] = "";
    snprintf(path, sizeof path, "%s/good.ctrace", test_data_dir);
    size_t len;
    uint8_t *data = (uint8_t *)test_read_file(path, &len);
    ASSERT(data != NULL);
    size_t off = ctrace_fmt_get_u32(data + CTRACE_FMT_FH_HEADER_SIZE);
    uint8_t *h = NULL;
    while (!h && off + CTRACE_FMT_RECORD_HEADER_SIZE <= len) {
      uint8_t *r = data + off;
      if (r[CTRACE_FMT_RH_TYPE] == CTRACE_FMT_REC_BATCH &&
          r[CTRACE_FMT_RH_CODEC] == CTRACE_FMT_CODEC_ZSTD)
        h = r;
      off += CTRACE_FMT_RECORD_HEADER_SIZE + ctrace_fmt_get_u32(r + CTRACE_FMT_RH_STORED_SIZE);
    }
    ASSERT(h != NULL);
    uint32_t stored = ctrace_fmt_get_u32(h + CTRACE_FMT_RH_STORED_SIZE);
    uint32_t raw = ctrace_fmt_get_u32(h + CTRACE_FMT_RH_RAW_SIZE);
    ctrace_fmt_put_u32(h + CTRACE_FMT_RH_RAW_SIZE, raw + 1);
    ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC,
                       ctrace_fmt_record_crc(h, h + CTRACE_FMT_RECORD_HEADER_SIZE, stored));
    rd_trace *tr;
    ASSERT_EQ(rd_open_mem(data, len, 0, &tr, msg, sizeof msg), 0);
    ASSERT_EQ(rd_problem_kind_of(tr), RD_PROBLEM_NONE);
    stream_all(tr);
    ASSERT_EQ(rd_problem_kind_of(tr), RD_PROBLEM_DECODE);
    assert_kind_matches(tr);
    ASSERT_CONTAINS(rd_problem(tr), "decompressed to");
    rd_close(tr);
    free(data);
  }

  /* Every cut and every bit flip of a fresh trace: the kind agrees with the
   * message, and both kinds of cut are seen. */
  size_t len;
  char *data = make_trace(&len);
  char *copy = malloc(len);
  int seen[RD_PROBLEM_NOMEM + 1] = {0};
  for (size_t i = 0; i < 2 * len; i++) {
    size_t n = len;
    memcpy(copy, data, len);
    if (i < len)
      n = i; /* a cut */
    else
      copy[i - len] ^= (char)(1u << (i % 8));
    rd_trace *tr;
    char msg[600];
    if (rd_open_mem(copy, n, 0, &tr, msg, sizeof msg) != 0)
      continue;
    seen[assert_kind_matches(tr)]++;
    rd_close(tr);
  }
  printf("kinds: %d none, %d no end, %d truncated, %d corrupt\n", seen[RD_PROBLEM_NONE],
         seen[RD_PROBLEM_NO_END], seen[RD_PROBLEM_TRUNCATED], seen[RD_PROBLEM_CORRUPT]);
  ASSERT_GT(seen[RD_PROBLEM_NO_END], 0);
  ASSERT_GT(seen[RD_PROBLEM_TRUNCATED], 0);
  ASSERT_GT(seen[RD_PROBLEM_CORRUPT], 0);
  free(copy);
  free(data);
  return 0;
}
