/* The session API's contract: errors, restart, flush, fork. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "test.h"
#include "trace_util.h"

TEST_IMPL(api_errors) {
  ASSERT_STR_EQ(ctrace_strerror(0), "success");
  ASSERT_STR_EQ(ctrace_strerror(CTRACE_ELOST), "events were dropped: the writer could not keep up");
  ASSERT_STR_EQ(ctrace_strerror(-EACCES), strerror(EACCES));
  ASSERT_STR_EQ(ctrace_err_name(CTRACE_ETRUNC), "CTRACE_ETRUNC");
  ASSERT_STR_EQ(ctrace_err_name(CTRACE_EINVAL), "CTRACE_EINVAL");
  ASSERT_STR_EQ(ctrace_err_name(-EACCES), "EACCES");
  ASSERT_STR_EQ(ctrace_strerror(-999999), "unknown error");
  ASSERT_EQ(CTRACE_EIO, -EIO);
  char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", CTRACE_VERSION_MAJOR, CTRACE_VERSION_MINOR,
           CTRACE_VERSION_PATCH);
  ASSERT_STR_EQ(ctrace_version(), v);

  ASSERT_EQ(ctrace_stop(), CTRACE_ENOTACTIVE);
  ASSERT_EQ(ctrace_flush(), CTRACE_ENOTACTIVE);
  ctrace_options bad = CTRACE_OPTIONS_INIT;
  bad.struct_size = 4;
  ASSERT_EQ(ctrace_start(&bad), CTRACE_EINVAL);
  bad = (ctrace_options)CTRACE_OPTIONS_INIT;
  bad.zstd_level = 99;
  ASSERT_EQ(ctrace_start(&bad), CTRACE_EINVAL);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = "/nonexistent-dir/x.ctrace";
  ASSERT_EQ(ctrace_start(&o), -ENOENT);
  ASSERT(!ctrace_active());
  setenv("CTRACE_BUFFER_MB", "lots", 1);
  o.path = test_tmp_path("api.ctrace");
  ASSERT_EQ(ctrace_start(&o), CTRACE_EINVAL); /* and it says so on stderr */
  unsetenv("CTRACE_BUFFER_MB");
  ASSERT_EQ(ctrace_start(&o), 0);
  ASSERT_EQ(ctrace_start(&o), CTRACE_EBUSY);
  ASSERT_EQ(ctrace_stop(), 0);
  /* Recording calls are no-ops when off; a task id is still handed out. */
  CTRACE_REGION_BEGIN("off");
  ASSERT_NE(ctrace_task_begin("t", 0), 0);
  ctrace_region_end();
  ctrace_log(0, "c", "x");
  return 0;
}

/* Two sessions from one process, the same threads in both; a flush makes
 * events readable while tracing goes on. */
TEST_IMPL(api_restart_and_flush) {
  const char *p1 = test_tmp_path("s1.ctrace"), *p2 = test_tmp_path("s2.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  for (int s = 0; s < 2; s++) {
    o.path = s ? p2 : p1;
    ASSERT_EQ(ctrace_start(&o), 0);
    ctrace_thread_set_name(s ? "second" : "first");
    for (int i = 0; i < 100 + s; i++) {
      CTRACE_REGION_BEGIN("loop");
      CTRACE_REGION_END();
    }
    ASSERT_EQ(ctrace_flush(), 0);
    /* Mid-session: the file already holds every event so far. */
    ttrace *t = tt_load(o.path);
    ASSERT(!rd_complete(t->tr));
    tthread *th = tt_thread(t, s ? "second" : "first");
    ASSERT(th != NULL);
    ASSERT_EQ(th->n, 1 + 2 * (100 + s));
    tt_free(t);
    CTRACE_INSTANT("after flush");
    ASSERT_EQ(ctrace_stop(), 0);
    t = tt_load(o.path);
    ASSERT(rd_complete(t->tr));
    th = tt_thread(t, s ? "second" : "first");
    ASSERT_EQ(th->n, 2 + 2 * (100 + s));
    ASSERT_EQ(t->nth, 1);
    /* Sites registered in session 1 are defined again in session 2. */
    ASSERT_STR_EQ(tt_site_name(t, th->ev[1].arg[0]), "loop");
    ASSERT(rd_site_get(t->tr, th->ev[1].arg[0])->defined);
    tt_free(t);
  }
  return 0;
}

/* A forked child writes its own trace, FILE.PID, and leaves the parent's
 * whole; with CTRACE_FOLLOW=0 it does not trace. A child that records
 * nothing leaves no file. */
TEST_IMPL(api_fork) {
  const char *path = test_tmp_path("fork.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  ASSERT_EQ(ctrace_start(&o), 0);
  CTRACE_REGION_BEGIN("before fork");
  /* A child that records, and stops tracing properly. */
  pid_t pid = fork();
  if (pid == 0) {
    int ok = ctrace_active();
    CTRACE_REGION_BEGIN("in child");
    CTRACE_REGION_END();
    ok = ok && ctrace_stop() == 0;
    _exit(ok ? 0 : 1);
  }
  int st;
  waitpid(pid, &st, 0);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* A child that records nothing: no file. */
  pid_t quiet = fork();
  if (quiet == 0)
    _exit(ctrace_stop() == 0 ? 0 : 1);
  waitpid(quiet, &st, 0);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* CTRACE_FOLLOW=0: the child does not trace. */
  setenv("CTRACE_FOLLOW", "0", 1);
  ASSERT_EQ(ctrace_stop(), 0);
  ASSERT_EQ(ctrace_start(&o), 0); /* restarts the parent (FILE again) with follow off */
  unsetenv("CTRACE_FOLLOW");
  CTRACE_REGION_BEGIN("before fork");
  pid_t nofollow = fork();
  if (nofollow == 0)
    _exit(!ctrace_active() && ctrace_stop() == CTRACE_EFORK ? 0 : 1);
  waitpid(nofollow, &st, 0);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CTRACE_REGION_END();
  ASSERT_EQ(ctrace_stop(), 0);

  ttrace *t = tt_load(path);
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(t->nth, 1);
  ASSERT_EQ(t->th[0].n, 2);
  ASSERT_STR_EQ(tt_site_name(t, t->th[0].ev[0].arg[0]), "before fork");
  tt_free(t);
  char child[1024];
  snprintf(child, sizeof child, "%s.%d", path, (int)pid);
  t = tt_load(child);
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(rd_pid(t->tr), pid);
  ASSERT_EQ(t->nth, 1);
  ASSERT_EQ(t->th[0].n, 2);
  ASSERT_STR_EQ(tt_site_name(t, t->th[0].ev[0].arg[0]), "in child");
  tt_free(t);
  snprintf(child, sizeof child, "%s.%d", path, (int)quiet);
  ASSERT(access(child, F_OK) != 0); /* nothing recorded, no file */
  snprintf(child, sizeof child, "%s.%d", path, (int)nofollow);
  ASSERT(access(child, F_OK) != 0);
  return 0;
}
