/* `ctrace view --pid PID` (viewer/cli/view_pid.c, viewer/server/routes_pprof.c):
 * Go's /debug/pprof/ paths over a running process, read by real clients
 * (`go tool pprof`, a raw HTTP/1.1 client, `ctrace info`).
 *
 * pprof_target (tests/progs/pprof_target.c: a thread burning CPU in
 * pprof_hot, two taking one mutex in turn, one waiting on a condition
 * variable, main printing "tick N" every 20 ms) runs under the preload
 * with a control socket. Checked: the index page lists the paths; cmdline
 * is the arguments NUL-separated; `go tool pprof -top` of profile?seconds=2
 * puts pprof_hot first; mutex holds the lock waits only, block the
 * condition waits too; trace?seconds=1 is a file ctrace info reads; bad
 * seconds are 400 naming the parameter; a second capture of a kind while
 * one runs is 409, and the server answers meanwhile; the program's counter
 * keeps growing throughout and it outlives the view, whose directory is
 * removed. And a process without a control socket is refused, saying how
 * to start one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

/* In sanitizer builds the wrappers cannot be preloaded into the program:
 * there it links libctrace (pprof_target_lib), whose control socket
 * records it, and the trace holds no lock waits (the wrappers record them). */
#ifdef VIEW_PID_LINKED
#define TARGET TEST_PROGS_DIR "/pprof_target_lib"
#define PRELOADED 0
#else
#define TARGET TEST_PROGS_DIR "/pprof_target"
#define PRELOADED 1
#endif

extern char **environ;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* ---- The program, and the view ------------------------------------------------------------- */

/* pprof_target SECONDS, with a control socket at sock (NULL: none) under
 * the preload, its output into log. */
static pid_t spawn_target(const char *seconds, const char *sock, const char *log) {
  char env_ctl[900], env_pre[900];
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock ? sock : "");
  snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", PRELOAD_LIB);
  size_t ne = 0;
  while (environ[ne])
    ne++;
  char **env = calloc(ne + 3, sizeof *env);
  ASSERT(env);
  size_t k = 0;
  if (sock)
    env[k++] = env_ctl;
  if (sock && PRELOADED)
    env[k++] = env_pre;
  for (size_t i = 0; i < ne; i++)
    if ((strncmp(environ[i], "CTRACE_", 7) || !strncmp(environ[i], "CTRACE_LTTNG=", 13)) &&
        strncmp(environ[i], "LD_PRELOAD=", 11))
      env[k++] = environ[i];
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_adddup2(&fa, fd, 2);
  char *argv[] = {TARGET, (char *)seconds, NULL};
  pid_t pid;
  int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
  posix_spawn_file_actions_destroy(&fa);
  close(fd);
  free(env);
  if (r)
    TEST_FAIL("cannot run %s: %s", argv[0], strerror(r));
  for (int i = 0; i < 1000; i++) {
    struct stat st;
    char *l = test_read_file(log, NULL);
    int ready = strstr(l, "ready ") != NULL;
    free(l);
    if (ready && (!sock || (lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode))))
      return pid;
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
      TEST_FAIL("pprof_target exited before it was ready: %s", test_read_file(log, NULL));
    sleep_ms(10);
  }
  TEST_FAIL("pprof_target not ready after 10 s: %s", test_read_file(log, NULL));
}

/* The program's counter: the last "tick N" it printed. */
static long last_tick(const char *log) {
  char *l = test_read_file(log, NULL);
  long n = 0;
  for (const char *p = l; (p = strstr(p, "tick ")); p += 5)
    n = atol(p + 5);
  free(l);
  return n;
}

typedef struct viewer {
  pid_t pid;
  int port;
  char err[800]; /* its stderr */
} viewer;

/* `ctrace view --pid PID --port 0`, once it says its URL. */
static void view_start(viewer *v, pid_t target) {
  snprintf(v->err, sizeof v->err, "%s", test_tmp_path("view.err"));
  int fds[2];
  ASSERT(pipe(fds) == 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* (a failed test aborts: the server goes with it) */
    int e = open(v->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fds[1], 1);
    dup2(e, 2);
    close(fds[0]);
    close(fds[1]);
    char spid[32];
    snprintf(spid, sizeof spid, "%d", (int)target);
    execl(test_ctrace_bin, test_ctrace_bin, "view", "--pid", spid, "--port", "0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char out[512];
  size_t n = 0;
  ssize_t k;
  const char *at = NULL;
  while (n + 1 < sizeof out && (k = read(fds[0], out + n, sizeof out - 1 - n)) > 0) {
    n += (size_t)k;
    out[n] = '\0';
    if ((at = strstr(out, "timeline: http://127.0.0.1:")) && strchr(at, '\n'))
      break;
  }
  close(fds[0]);
  if (!at)
    TEST_FAIL("ctrace view --pid said no URL: %.*s; stderr: %s", (int)n, out,
              test_read_file(v->err, NULL));
  v->pid = pid;
  v->port = atoi(at + strlen("timeline: http://127.0.0.1:"));
}

/* Stops the view; its directory (named on its stderr) must be gone. */
static void view_stop(viewer *v) {
  ASSERT_EQ(kill(v->pid, SIGTERM), 0);
  int st;
  ASSERT_EQ(waitpid(v->pid, &st, 0), v->pid);
  char *e = test_read_file(v->err, NULL);
  printf("view's stderr:\n%s", e);
  ASSERT(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0); /* (a sanitizer's report makes it non-zero) */
  const char *d = strstr(e, "recording into ");
  ASSERT(d != NULL);
  char dir[600];
  ASSERT_EQ(sscanf(d + strlen("recording into "), "%599s", dir), 1);
  struct stat sb;
  ASSERT(stat(dir, &sb) != 0 && errno == ENOENT);
  free(e);
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

/* Sends GET path on a fresh connection. @return the socket. */
static int http_send(const viewer *v, const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)v->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  char req[1200];
  int len = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  ASSERT(write(fd, req, (size_t)len) == len);
  return fd;
}

/* The answer on fd: its status, headers (into head, if not NULL) and body
 * (malloc'd, NUL-terminated; its length in *len). */
static char *http_read(int fd, int *status, char *head, size_t headcap, size_t *len) {
  size_t n = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  ssize_t k;
  while ((k = read(fd, buf + n, cap - n - 1)) > 0)
    if ((n += (size_t)k) + 1 == cap)
      ASSERT((buf = realloc(buf, cap *= 2)) != NULL);
  close(fd);
  buf[n] = '\0';
  ASSERT(sscanf(buf, "HTTP/1.1 %d", status) == 1);
  char *body = strstr(buf, "\r\n\r\n");
  ASSERT(body != NULL);
  if (head)
    snprintf(head, headcap, "%.*s", (int)(body - buf), buf);
  body += 4;
  size_t bl = n - (size_t)(body - buf);
  char *out = malloc(bl + 1);
  memcpy(out, body, bl);
  out[bl] = '\0';
  free(buf);
  if (len)
    *len = bl;
  return out;
}

static char *http_get(const viewer *v, const char *path, int *status, size_t *len) {
  return http_read(http_send(v, path), status, NULL, 0, len);
}

static void expect_status(const viewer *v, const char *path, int want, const char *text) {
  int st;
  char *b = http_get(v, path, &st, NULL);
  printf("GET %s: %d %s", path, st, b);
  ASSERT_EQ(st, want);
  ASSERT_CONTAINS(b, text);
  free(b);
}

/* ---- go tool pprof ------------------------------------------------------------------------ */

/* `go tool pprof -top http://127.0.0.1:PORT/debug/pprof/WHAT`: its output. */
static char *go_pprof_top(const viewer *v, const char *what) {
  char url[300], tmp[800], home[820];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/debug/pprof/%s", v->port, what);
  snprintf(tmp, sizeof tmp, "PPROF_TMPDIR=%s", test_tmp_path("pprof"));
  snprintf(home, sizeof home, "HOME=%s", test_tmp_path(""));
  const char *go = test_go_bin();
  if (!go)
    TEST_FAIL("go tool pprof is needed (apt-get install golang-go)");
  char *argv[] = {(char *)go, "tool", "pprof", "-top", url, NULL};
  char *env[] = {tmp, home, NULL};
  test_proc p = test_run(argv, env);
  printf("go tool pprof -top %s:\n%s%s", url, p.out, p.err);
  if (p.status != 0)
    TEST_FAIL("go tool pprof exited %d", p.status);
  char *out = strdup(p.out);
  test_proc_free(&p);
  return out;
}

/* The function of the first row of a -top table (the most flat time). */
static void first_row(const char *top, char *name, size_t len) {
  const char *h = strstr(top, "flat  flat%");
  ASSERT(h != NULL);
  const char *row = strchr(h, '\n');
  ASSERT(row != NULL);
  char fn[256] = "";
  ASSERT_EQ(sscanf(row + 1, "%*s %*s %*s %*s %*s %255s", fn), 1);
  snprintf(name, len, "%s", fn);
}

/* ---- The tests ---------------------------------------------------------------------------- */

/* The index, cmdline, bad parameters, a CPU profile by go tool pprof, two
 * profiles at once. */
TEST_IMPL(view_pid_pprof) {
  char sock[800], log[800];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("vp.sock"));
  snprintf(log, sizeof log, "%s", test_tmp_path("vp.log"));
  pid_t pid = spawn_target("60", sock, log);
  viewer v;
  view_start(&v, pid);
  long tick0 = last_tick(log);
  int st;
  size_t len;
  char *b = http_get(&v, "/debug/pprof/", &st, NULL);
  ASSERT_EQ(st, 200);
  const char *paths[] = {"href=\"profile\"", "href=\"block\"",   "href=\"mutex\"",
                         "href=\"trace\"",   "href=\"cmdline\"", "href=\"threads?debug=1\"",
                         "href=\"heap\"",    "href=\"allocs\""};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    ASSERT_CONTAINS(b, paths[i]);
  free(b);
  b = http_get(&v, "/debug/pprof/cmdline", &st, &len);
  ASSERT_EQ(st, 200);
  const char want[] = TARGET "\0"
                             "60";
  ASSERT_EQ(len, sizeof want - 1);
  ASSERT(!memcmp(b, want, len));
  free(b);
  expect_status(&v, "/debug/pprof/profile?seconds=abc", 400, "seconds=abc");
  expect_status(&v, "/debug/pprof/profile?seconds=-1", 400, "seconds=-1");
  expect_status(&v, "/debug/pprof/profile?seconds=100000", 400, "at most 3600");
  expect_status(&v, "/debug/pprof/trace?seconds=0", 400, "seconds=0");
  expect_status(&v, "/debug/pprof/mutex?seconds=x", 400, "seconds=x");
  expect_status(&v, "/debug/pprof/nosuch", 404, "Unknown profile: nosuch");
  expect_status(&v, "/debug/pprof/threads?debug=x", 400, "debug=x");
  /* every thread's stack, now (ctrace stacks): as text, and as a pprof */
  expect_status(&v, "/debug/pprof/threads?debug=1", 200, "\"burn\"");
  expect_status(&v, "/debug/pprof/threads?debug=1", 200, "burn_loop()");
  char *threads = go_pprof_top(&v, "threads");
  ASSERT_CONTAINS(threads, "Type: threads");
  ASSERT_CONTAINS(threads, "burn_loop");
  free(threads);
  /* go tool pprof, as against a Go server */
  char *top = go_pprof_top(&v, "profile?seconds=2");
  char fn[256];
  first_row(top, fn, sizeof fn);
  ASSERT_STR_EQ(fn, "pprof_hot");
  ASSERT_CONTAINS(top, "burn_loop");
  free(top);
  /* the heap since the view attached: cache_grow's ring, under the preload;
   * a program without it is told why there is none */
  if (PRELOADED) {
    char *heap = go_pprof_top(&v, "heap");
    ASSERT_CONTAINS(heap, "Type: inuse_space");
    ASSERT_CONTAINS(heap, "cache_grow");
    free(heap);
    char *allocs = go_pprof_top(&v, "allocs");
    ASSERT_CONTAINS(allocs, "Type: alloc_space");
    ASSERT_CONTAINS(allocs, "cache_grow");
    free(allocs);
  } else {
    expect_status(&v, "/debug/pprof/heap", 503, "recorded no heap samples");
  }
  /* two at once: the second is refused while the first samples, and the
   * server answers meanwhile */
  int a = http_send(&v, "/debug/pprof/profile?seconds=1.5");
  sleep_ms(300);
  expect_status(&v, "/debug/pprof/profile?seconds=1", 409, "being taken already");
  expect_status(&v, "/debug/pprof/cmdline", 200, "pprof_target");
  char head[2048];
  b = http_read(a, &st, head, sizeof head, &len);
  ASSERT_EQ(st, 200);
  ASSERT_CONTAINS(head, "Content-Disposition: attachment");
  ASSERT(len > 2 && (unsigned char)b[0] == 0x1f && (unsigned char)b[1] == 0x8b); /* gzip */
  free(b);
  long tick1 = last_tick(log);
  printf("the program's counter: %ld, then %ld\n", tick0, tick1);
  ASSERT_GT(tick1, tick0 + 50); /* (~4 s at one per 20 ms) */
  view_stop(&v);
  sleep_ms(200);
  ASSERT_GT(last_tick(log), tick1);
  ASSERT_EQ(kill(pid, 0), 0); /* it outlives the view */
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return 0;
}

/* block and mutex by go tool pprof, a trace ctrace info reads, one trace
 * at a time. */
TEST_IMPL(view_pid_trace) {
  char sock[800], log[800], out[800];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("vt.sock"));
  snprintf(log, sizeof log, "%s", test_tmp_path("vt.log"));
  snprintf(out, sizeof out, "%s", test_tmp_path("vt.ctrace"));
  pid_t pid = spawn_target("60", sock, log);
  viewer v;
  view_start(&v, pid);
  long tick0 = last_tick(log);
  char *top = go_pprof_top(&v, "mutex?seconds=1");
  char fn[256];
  if (PRELOADED) {
    first_row(top, fn, sizeof fn);
    ASSERT_STR_EQ(fn, "mutex");
    ASSERT_CONTAINS(top, "thread lock-1");
    /* (in the rows; the profile's comment names them) */
    ASSERT(!strstr(strstr(top, "flat  flat%"), "condvar wait"));
  }
  ASSERT_CONTAINS(top, "contended locks");
  free(top);
  top = go_pprof_top(&v, "block?seconds=1");
  if (PRELOADED) {
    ASSERT_CONTAINS(top, "condvar wait");
    ASSERT_CONTAINS(top, "mutex wait");
    ASSERT_CONTAINS(top, "thread cond");
  }
  free(top);
  top = go_pprof_top(&v, "block"); /* (since the view attached) */
  if (PRELOADED)
    ASSERT_CONTAINS(top, "condvar wait");
  free(top);
  /* a trace of the next second, downloaded; a second one meanwhile is refused */
  int a = http_send(&v, "/debug/pprof/trace?seconds=1");
  sleep_ms(300);
  expect_status(&v, "/debug/pprof/mutex?seconds=1", 409, "being taken already");
  int st;
  size_t len;
  char head[2048];
  char *b = http_read(a, &st, head, sizeof head, &len);
  ASSERT_EQ(st, 200);
  ASSERT_CONTAINS(head, "Content-Disposition: attachment");
  test_write_file(out, b, len);
  free(b);
  char *info[] = {(char *)test_ctrace_bin, "info", out, NULL};
  test_proc p = test_run(info, NULL);
  printf("%s%s", p.out, p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "pprof_target");
  ASSERT_CONTAINS(p.out, "tid "); /* (its threads) */
  if (PRELOADED)
    ASSERT_CONTAINS(p.out, "wait");
  double span = 0;
  const char *sp = strstr(p.out, "span:");
  ASSERT(sp && sscanf(sp + 5, "%lf", &span) == 1);
  ASSERT(span > 0.8 && span < 1.5); /* (the second asked for, not the whole attachment) */
  test_proc_free(&p);
  long tick1 = last_tick(log);
  printf("the program's counter: %ld, then %ld\n", tick0, tick1);
  ASSERT_GT(tick1, tick0 + 50);
  view_stop(&v);
  ASSERT_EQ(kill(pid, 0), 0);
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return 0;
}

/* A process without a control socket, one that is gone, and --pid with a
 * TRACE. */
TEST_IMPL(view_pid_errors) {
  char log[800], spid[32];
  snprintf(log, sizeof log, "%s", test_tmp_path("ve.log"));
  pid_t pid = spawn_target("20", NULL, log);
  snprintf(spid, sizeof spid, "%d", (int)pid);
  char *argv[] = {(char *)test_ctrace_bin, "view", "--pid", spid, "--port", "0", NULL};
  test_proc p = test_run(argv, NULL);
  printf("%s", p.err);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "has no control socket");
  ASSERT_CONTAINS(p.err, "ctrace run --control");
  test_proc_free(&p);
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  p = test_run(argv, NULL); /* (reaped: no such process now) */
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "no such process");
  test_proc_free(&p);
  char *both[] = {(char *)test_ctrace_bin, "view", "--pid", spid, "x.ctrace", NULL};
  p = test_run(both, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--pid is viewed on its own");
  test_proc_free(&p);
  return 0;
}
