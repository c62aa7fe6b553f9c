/* The test runner's helpers (libuv style): every test is a function
 * registered in test_list.h and run by `runner NAME` (one ctest test each).
 * ASSERT_* print both values and abort, in every build type. */
#ifndef CTRACE_TESTS_TEST_H
#define CTRACE_TESTS_TEST_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEST_IMPL(name) int test_##name(void)
#define TEST_DECLARE(name) int test_##name(void);

#define TEST_FAIL(...)                              \
  do {                                              \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__);                   \
    fputc('\n', stderr);                            \
    abort();                                        \
  } while (0)

#define ASSERT(expr)                            \
  do {                                          \
    if (!(expr))                                \
      TEST_FAIL("assertion failed: %s", #expr); \
  } while (0)

#define ASSERT_OP(a, op, b, type, pfmt)                                \
  do {                                                                 \
    type a_ = (type)(a), b_ = (type)(b);                               \
    if (!(a_ op b_))                                                   \
      TEST_FAIL("%s %s %s: %" pfmt " vs %" pfmt, #a, #op, #b, a_, b_); \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_OP(a, ==, b, int64_t, PRId64)
#define ASSERT_NE(a, b) ASSERT_OP(a, !=, b, int64_t, PRId64)
#define ASSERT_LT(a, b) ASSERT_OP(a, <, b, int64_t, PRId64)
#define ASSERT_LE(a, b) ASSERT_OP(a, <=, b, int64_t, PRId64)
#define ASSERT_GT(a, b) ASSERT_OP(a, >, b, int64_t, PRId64)
#define ASSERT_GE(a, b) ASSERT_OP(a, >=, b, int64_t, PRId64)
#define ASSERT_UEQ(a, b) ASSERT_OP(a, ==, b, uint64_t, PRIu64)
#define ASSERT_ULE(a, b) ASSERT_OP(a, <=, b, uint64_t, PRIu64)
#define ASSERT_UGE(a, b) ASSERT_OP(a, >=, b, uint64_t, PRIu64)

#define ASSERT_STR_EQ(a, b)                                                                    \
  do {                                                                                         \
    const char *a_ = (a), *b_ = (b);                                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                     \
      TEST_FAIL("%s == %s: \"%s\" vs \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
  } while (0)

#define ASSERT_CONTAINS(hay, needle)                                                 \
  do {                                                                               \
    const char *h_ = (hay), *n_ = (needle);                                          \
    if (!h_ || !strstr(h_, n_))                                                      \
      TEST_FAIL("%s does not contain \"%s\": \"%s\"", #hay, n_, h_ ? h_ : "(null)"); \
  } while (0)

/* ---- util.c ---------------------------------------------------------------- */

/* A fresh path in the test's scratch directory ($TMPDIR or /tmp). */
const char *test_tmp_path(const char *name);

typedef struct test_proc {
  int status; /* exit code, or 128 + signal */
  char *out;  /* captured stdout (NUL-terminated) */
  char *err;  /* captured stderr */
} test_proc;

/* Runs argv with extra environment entries ("K=V", NULL-terminated; may be
 * NULL), captures output. Aborts if it cannot be started. */
test_proc test_run(char *const argv[], char *const env[]);
void test_proc_free(test_proc *p);

/* go (for `go tool pprof`), from PATH or Debian's golang-go; NULL when not
 * installed. */
const char *test_go_bin(void);

/* Whole file into memory (NUL-terminated); aborts on error. */
char *test_read_file(const char *path, size_t *len);
void test_write_file(const char *path, const void *data, size_t len);

/* Paths of built programs and source data, from CMake. */
extern const char *test_ctrace_bin;
extern const char *test_pipeline_bin;
extern const char *test_data_dir;

#endif
