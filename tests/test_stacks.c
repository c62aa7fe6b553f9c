/* `ctrace stacks PID` (viewer/cli/stacks.c) against a real process whose
 * threads are in known places (tests/progs/stackprog.c): a spinner, a
 * mutex and rwlock holder sleeping, waiters for them, a napper; through its
 * control socket (tracer/runtime/stacks.c), linked with libctrace, and under
 * the preload (the waiters then wait on the locks held by the holder). The
 * process keeps making progress across the call. And the errors: no
 * socket, bad and gone pids. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

extern char **environ;

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* argv with our environment (without CTRACE_*) plus env; stdout and stderr
 * into log. */
static pid_t spawn_bg(char *const argv[], char *const env[], const char *log) {
  size_t ne = 0, nx = 0;
  while (environ[ne])
    ne++;
  while (env && env[nx])
    nx++;
  char **e = calloc(ne + nx + 1, sizeof *e);
  size_t k = 0;
  for (size_t i = 0; i < nx; i++)
    e[k++] = env[i];
  for (size_t i = 0; i < ne; i++)
    if ((strncmp(environ[i], "CTRACE_", 7) != 0 || !strncmp(environ[i], "CTRACE_LTTNG=", 13)) &&
        strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
      e[k++] = environ[i];
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_adddup2(&fa, fd, 2);
  pid_t pid;
  int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, e);
  posix_spawn_file_actions_destroy(&fa);
  free(e);
  close(fd);
  if (r)
    TEST_FAIL("cannot run %s: %s", argv[0], strerror(r));
  return pid;
}

static void stop(pid_t pid) {
  int st;
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
}

/* go, from PATH or Debian's golang-go; NULL when not installed. */
static const char *go_bin(void) {
  static const char *const places[] = {"/usr/bin/go", "/usr/lib/go/bin/go",
                                       "/usr/lib/go-1.19/bin/go", "/usr/local/go/bin/go"};
  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
    if (access(places[i], X_OK) == 0)
      return places[i];
  return NULL;
}

/* Waits for "ready" in log (every thread in place) and the socket. */
static void wait_ready(pid_t pid, const char *log, const char *sock) {
  uint64_t until = mono_ms() + 20000;
  for (;;) {
    char *l = test_read_file(log, NULL);
    struct stat st;
    int ready = strstr(l, "ready") && (!sock || (lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode)));
    int status;
    if (!ready && waitpid(pid, &status, WNOHANG) == pid)
      TEST_FAIL("the program exited before it was ready: %s", l);
    if (!ready && mono_ms() > until) {
      stop(pid);
      TEST_FAIL("the program was not ready after 20 s: %s", l);
    }
    free(l);
    if (ready)
      return;
    sleep_ms(10);
  }
}

static unsigned long long count_of(const char *file) {
  char *c = test_read_file(file, NULL);
  unsigned long long n = strtoull(c, NULL, 10);
  free(c);
  return n;
}

/* Thread NAME's block of the text: its header and its frames. */
static char *block(const char *out, const char *name) {
  char want[128];
  snprintf(want, sizeof want, " \"%s\" [", name);
  const char *b = strstr(out, want);
  if (!b)
    TEST_FAIL("no thread \"%s\" in:\n%s", name, out);
  while (b > out && b[-1] != '\n')
    b--;
  const char *e = strstr(b + 1, "\nthread ");
  size_t n = e ? (size_t)(e - b) : strlen(b);
  char *r = malloc(n + 1);
  memcpy(r, b, n);
  r[n] = '\0';
  return r;
}

/* The tid in "thread TID ..." of a block. */
static int tid_of(const char *blk) { return atoi(blk + strlen("thread ")); }

static void check_text(const char *out, int preload) {
  char *spin = block(out, "spinner"), *hold = block(out, "holder"), *wait = block(out, "waiter"),
       *nap = block(out, "napper"), *read = block(out, "reader");
  ASSERT_CONTAINS(spin, "[running]:");
  ASSERT_CONTAINS(spin, "spin_here()");
  ASSERT_CONTAINS(spin, "stackprog.c:");
  ASSERT_CONTAINS(hold, "[in syscall clock_nanosleep]:");
  ASSERT_CONTAINS(hold, "hold_and_sleep()");
  ASSERT_CONTAINS(nap, "[in syscall clock_nanosleep]:");
  ASSERT_CONTAINS(nap, "nap()");
  ASSERT_CONTAINS(wait, "wait_for_lock()");
  if (preload) {
    char want[128];
    snprintf(want, sizeof want, " held by thread %d \"holder\", ", tid_of(hold));
    ASSERT_CONTAINS(wait, "[waiting on mutex 0x");
    ASSERT_CONTAINS(wait, want);
    ASSERT_CONTAINS(read, "[waiting on rwlock (to read) 0x");
    ASSERT_CONTAINS(read, want);
  } else {
    ASSERT_CONTAINS(wait, "[in syscall futex(0x");
    ASSERT_CONTAINS(read, "[in syscall futex(0x");
  }
  ASSERT_CONTAINS(read, "wait_to_read()");
  ASSERT_CONTAINS(out, "\"ctrace-control\" [the tracer's own thread]:");
  free(spin), free(hold), free(wait), free(nap), free(read);
}

/* `ctrace stacks PID` of a running stackprog, and its --json: the known
 * frames and states, and the counter grows across the call. */
static void check_process(pid_t pid, const char *countf, int preload) {
  unsigned long long before = count_of(countf);
  char spid[32];
  snprintf(spid, sizeof spid, "%d", (int)pid);
  char *argv[] = {(char *)test_ctrace_bin, "stacks", spid, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    stop(pid);
  ASSERT_EQ(p.status, 0);
  printf("%s", p.out);
  check_text(p.out, preload);
  test_proc_free(&p);

  char *jargv[] = {(char *)test_ctrace_bin, "stacks", spid, "--json", NULL};
  p = test_run(jargv, NULL);
  ASSERT_EQ(p.status, 0);
  cJSON *root = cJSON_Parse(p.out);
  ASSERT(root);
  ASSERT_EQ(cJSON_GetObjectItem(root, "pid")->valueint, pid);
  double paused = cJSON_GetObjectItem(root, "paused_max_ns")->valuedouble;
  double window = cJSON_GetObjectItem(root, "window_ns")->valuedouble;
  fprintf(stderr, "stacks: each thread interrupted for at most %.0f us, %.1f ms in all\n",
          paused / 1e3, window / 1e6);
  ASSERT(paused > 0 && window >= paused);
  int seen = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "threads")) {
    const char *name = cJSON_GetObjectItem(t, "name")->valuestring;
    if (strcmp(name, "spinner"))
      continue;
    seen = 1;
    ASSERT_STR_EQ(cJSON_GetObjectItem(t, "status")->valuestring, "running");
    ASSERT_STR_EQ(cJSON_GetObjectItem(t, "registers")->valuestring, "signal");
    /* Innermost; under TSan anywhere below its runtime's frames (it runs
     * a handler deferred, from ProcessPendingSignals inside the atomic's
     * call, with the registers of then). */
    const cJSON *frames = cJSON_GetObjectItem(t, "frames");
#ifdef __SANITIZE_THREAD__
    int upto = cJSON_GetArraySize(frames);
#else
    int upto = 1;
#endif
    int at = -1;
    for (int k = 0; k < upto && k < cJSON_GetArraySize(frames) && at < 0; k++)
      if (!strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(frames, k), "function")->valuestring,
                  "spin_here"))
        at = k;
    if (at < 0)
      TEST_FAIL("spin_here is not the spinner's innermost frame: %s", cJSON_Print(frames));
  }
  ASSERT(seen);
  cJSON_Delete(root);
  test_proc_free(&p);

  /* --pprof: Go's goroutine profile, read by go tool pprof. */
  const char *pb = test_tmp_path("stk.pb.gz");
  char *pargv[] = {(char *)test_ctrace_bin, "stacks", spid, "--pprof", (char *)pb, NULL};
  p = test_run(pargv, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  const char *go = go_bin();
  if (!go)
    TEST_FAIL("go tool pprof is needed (apt-get install golang-go)");
  char *gargv[] = {(char *)go, "tool", "pprof", "-traces", (char *)pb, NULL};
  p = test_run(gargv, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "Type: threads");
  ASSERT_CONTAINS(p.out, "spin_here");
  ASSERT_CONTAINS(p.out, "wait_for_lock");
  ASSERT(!strstr(p.out, "ctrace-control")); /* (the program's threads only) */
  test_proc_free(&p);

  /* The program carries on: its spinner's count keeps growing. */
  uint64_t until = mono_ms() + 10000;
  while (count_of(countf) <= before && mono_ms() < until)
    sleep_ms(10);
  ASSERT_GT(count_of(countf), before);
  ASSERT_EQ(kill(pid, 0), 0);
}

TEST_IMPL(stacks_threads) {
  char sock[800], log[800], countf[800], env_ctl[900];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("stk.sock"));
  snprintf(log, sizeof log, "%s", test_tmp_path("stk.log"));
  snprintf(countf, sizeof countf, "%s", test_tmp_path("stk.count"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {TEST_PROGS_DIR "/stackprog", countf, "60", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  wait_ready(pid, log, sock);
  check_process(pid, countf, 0);
  stop(pid);
  return 0;
}

/* The child of pid (ctrace run's program), from /proc/PID/stat's ppid. */
static pid_t child_of(pid_t pid) {
  DIR *d = opendir("/proc");
  ASSERT(d);
  struct dirent *de;
  pid_t found = 0;
  while (!found && (de = readdir(d))) {
    char path[300], b[512];
    snprintf(path, sizeof path, "/proc/%s/stat", de->d_name);
    FILE *f = atoi(de->d_name) > 0 ? fopen(path, "re") : NULL;
    if (!f)
      continue;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    char *rp = strrchr(b, ')');
    int ppid = 0;
    if (rp && sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == pid)
      found = atoi(de->d_name);
  }
  closedir(d);
  ASSERT_GT(found, 0);
  return found;
}

/* Under the preload (ctrace run --control --no-record, and LD_PRELOAD):
 * the waiter waits on the mutex, held by the holder. */
TEST_IMPL(stacks_preload) {
  for (int round = 0; round < 2; round++) {
    char sock[800], log[800], countf[800], env_ctl[900], env_pre[900];
    snprintf(sock, sizeof sock, "%s", test_tmp_path(round ? "stkp1.sock" : "stkp0.sock"));
    snprintf(log, sizeof log, "%s", test_tmp_path(round ? "stkp1.log" : "stkp0.log"));
    snprintf(countf, sizeof countf, "%s", test_tmp_path(round ? "stkp1.count" : "stkp0.count"));
    snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", PRELOAD_LIB);
    pid_t pid, target;
    if (round == 0) {
      char *argv[] = {
          (char *)test_ctrace_bin,           "run",  "--control", sock, "--no-record", "--",
          TEST_PROGS_DIR "/stackprog_plain", countf, "60",        NULL};
      pid = spawn_bg(argv, NULL, log);
    } else {
      char *argv[] = {TEST_PROGS_DIR "/stackprog_plain", countf, "60", NULL};
      char *env[] = {env_ctl, env_pre, NULL};
      pid = spawn_bg(argv, env, log);
    }
    wait_ready(pid, log, sock);
    target = pid;
    if (round == 0) /* (ctrace run's child) */
      target = child_of(pid);
    check_process(target, countf, 1);
    if (target != pid) /* (ctrace run's child outlives a killed ctrace run) */
      kill(target, SIGKILL);
    stop(pid);
  }
  return 0;
}

static test_proc stacks_of(const char *arg, char *const env[]) {
  char *argv[] = {(char *)test_ctrace_bin, "stacks", (char *)arg, NULL};
  return test_run(argv, env);
}

TEST_IMPL(stacks_errors) {
  test_proc p = stacks_of("abc", NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "'abc' is not a process id");
  test_proc_free(&p);
  p = stacks_of("0", NULL);
  ASSERT_EQ(p.status, 2);
  test_proc_free(&p);
  char *none[] = {(char *)test_ctrace_bin, "stacks", NULL};
  p = test_run(none, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing PID");
  test_proc_free(&p);

  /* A process without a control socket: how to start one. */
  const char *log = test_tmp_path("stk_none.log"), *countf = test_tmp_path("stk_none.count");
  char *argv[] = {TEST_PROGS_DIR "/stackprog", (char *)countf, "60", NULL};
  pid_t pid = spawn_bg(argv, NULL, log);
  wait_ready(pid, log, NULL);
  char spid[32];
  snprintf(spid, sizeof spid, "%d", (int)pid);
  p = stacks_of(spid, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "has no control socket");
  ASSERT_CONTAINS(p.err, "CTRACE_CONTROL=PATH");
  ASSERT_CONTAINS(p.err, "ctrace run --control PATH");
  test_proc_free(&p);

  /* Gone: no such process. */
  stop(pid);
  p = stacks_of(spid, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no process ");
  test_proc_free(&p);
  return 0;
}
