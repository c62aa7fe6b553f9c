/* A process killed with SIGKILL leaves a readable trace that reaches to
 * within ~flush_ms (100 ms) of its death. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

TEST_IMPL(killed_process) {
  const char *path = test_tmp_path("killed.ctrace");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    ctrace_options o = CTRACE_OPTIONS_INIT;
    o.path = path;
    if (ctrace_start(&o) != 0)
      _exit(3);
    ctrace_thread_set_name("doomed");
    if (write(ready[1], "x", 1) != 1)
      _exit(4);
    for (uint64_t i = 0;; i++) { /* ~one event per 10 us until killed */
      CTRACE_COUNTER("alive", (int64_t)i);
      struct timespec ts = {0, 10000};
      nanosleep(&ts, NULL);
    }
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  usleep(400000);
  uint64_t killed_at = mono();
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

  ttrace *t = tt_load(path);
  ASSERT(!rd_complete(t->tr));
  ASSERT_CONTAINS(rd_problem(t->tr), "no end record");
  tthread *th = tt_thread(t, "doomed");
  ASSERT(th != NULL);
  ASSERT_GT(th->n, 1000);
  /* Values are consecutive: nothing missing in the middle. */
  for (size_t k = 2; k < th->n; k++)
    ASSERT_EQ(ctrace_fmt_unzigzag(th->ev[k].arg[1]), ctrace_fmt_unzigzag(th->ev[k - 1].arg[1]) + 1);
  uint64_t last = th->ev[th->n - 1].ts;
  printf("last event %.1f ms before the kill\n", (double)(killed_at - last) / 1e6);
  ASSERT_ULE(last, killed_at);
  ASSERT_UGE(last + 150000000u, killed_at); /* 100 ms flush + scheduling slack */

  /* The CLI reads it, warns, and exits 0 (something could be read). */
  char *argv[] = {(char *)test_ctrace_bin, "export", (char *)path, "-o", "/dev/null", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.err, "warning: trace has no end record");
  test_proc_free(&p);
  tt_free(t);
  return 0;
}
