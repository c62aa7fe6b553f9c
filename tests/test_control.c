/* The control socket (tracer/control.c) and its client, `ctrace record` and
 * `ctrace dump` (viewer/cli/record.c, dump.c), against real processes: programs
 * that run a few seconds with CTRACE_CONTROL set and are not tracing
 * (tests/progs/busy_for.c, linked with libctrace or under the preload).
 * The traces recorded are read back with the reader. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "trace_util.h"

extern char **environ;

#define NOBODY 65534

static const char *prog(const char *name) {
  static char buf[4][1024];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", TEST_PROGS_DIR, name);
  return b;
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* ---- Processes in the background ---------------------------------------------------- */

/* The environment: ours, without CTRACE_* (the test decides), plus env. */
static char **make_env(char *const env[]) {
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
    if (strncmp(environ[i], "CTRACE_", 7) != 0 || !strncmp(environ[i], "CTRACE_LTTNG=", 13))
      e[k++] = environ[i];
  return e;
}

/* Starts argv with env added, stdout and stderr into log. */
static pid_t spawn_bg(char *const argv[], char *const env[], const char *log) {
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(fd >= 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fd, 1);
  posix_spawn_file_actions_adddup2(&fa, fd, 2);
  char **e = make_env(env);
  pid_t pid;
  int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, e);
  posix_spawn_file_actions_destroy(&fa);
  free(e);
  close(fd);
  if (r)
    TEST_FAIL("cannot run %s: %s", argv[0], strerror(r));
  return pid;
}

/* Its exit status (128 + signal), within ms; else it is killed and the
 * test fails. */
static int wait_exit(pid_t pid, int ms) {
  uint64_t until = mono_ms() + (uint64_t)ms;
  for (;;) {
    int st;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    ASSERT(r == 0);
    if (mono_ms() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      TEST_FAIL("process %d did not exit within %d ms", (int)pid, ms);
    }
    sleep_ms(10);
  }
}

/* Waits until path is a socket (the process's constructor made it). */
static void wait_socket(const char *path, pid_t pid, const char *log) {
  uint64_t until = mono_ms() + 10000;
  struct stat st;
  while (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid)
      TEST_FAIL("process %d exited before making %s: %s", (int)pid, path,
                test_read_file(log, NULL));
    if (mono_ms() > until)
      TEST_FAIL("no socket at %s after 10 s: %s", path, test_read_file(log, NULL));
    sleep_ms(5);
  }
}

/* ---- Talking to the socket directly ------------------------------------------------------------ */

static int sock_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* (A process that refuses the peer replies and closes at once: the send
 * may then fail with EPIPE, and the reply is still there to read.) */
static void send_all(int fd, const char *s, size_t n) {
  while (n) {
    ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
    if (w <= 0) {
      ASSERT(errno == EPIPE || errno == ECONNRESET);
      return;
    }
    s += w;
    n -= (size_t)w;
  }
}

/* Reads until the first newline (or EOF) within ms; returns what came. */
static char *read_line(int fd, int ms) {
  static char b[8192];
  size_t n = 0;
  uint64_t until = mono_ms() + (uint64_t)ms;
  while (n < sizeof b - 1 && !memchr(b, '\n', n)) {
    int left = (int)(until - mono_ms());
    struct pollfd pf = {fd, POLLIN, 0};
    if (left <= 0 || poll(&pf, 1, left) <= 0)
      TEST_FAIL("no reply line within %d ms (got \"%.*s\")", ms, (int)n, b);
    ssize_t r = read(fd, b + n, 1); /* (one byte at a time: stop at the line) */
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  b[n] = '\0';
  return b;
}

/* One command on a new connection; the reply's first line. */
static char *command(const char *path, const char *line) {
  int fd = sock_connect(path);
  if (fd < 0)
    TEST_FAIL("connect %s: %s", path, strerror(-fd));
  send_all(fd, line, strlen(line));
  char *r = read_line(fd, 10000);
  close(fd);
  return r;
}

/* The pid in a status reply ("ok pid=N ..."). */
static int status_pid(const char *path) {
  char *r = command(path, "status\n");
  int pid = 0;
  if (sscanf(r, "ok pid=%d", &pid) != 1)
    TEST_FAIL("status: \"%s\"", r);
  return pid;
}

/* ---- The traces ----------------------------------------------------------------------------------- */

typedef struct span_info {
  double seconds; /* first to last event */
  size_t events, regions, syscalls, waits;
} span_info;

static span_info trace_span(const char *path) {
  ttrace *t = tt_load(path);
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(t->stream_errors, 0);
  span_info s = {0};
  s.events = t->nmerged;
  ASSERT(t->nmerged > 0);
  s.seconds = (double)(t->merged[t->nmerged - 1].ts - t->merged[0].ts) / 1e9;
  for (size_t i = 0; i < t->nmerged; i++) {
    s.regions += t->merged[i].type == CTRACE_FMT_EV_REGION_BEGIN;
    s.syscalls += t->merged[i].type == CTRACE_FMT_EV_SYSCALL;
    s.waits += t->merged[i].type == CTRACE_FMT_EV_WAIT;
  }
  tt_free(t);
  return s;
}

static test_proc ctrace_cmd(char *const args[]) {
  char *argv[16];
  int n = 0;
  argv[n++] = (char *)test_ctrace_bin;
  for (int i = 0; args[i] && n < 15; i++)
    argv[n++] = args[i];
  argv[n] = NULL;
  return test_run(argv, NULL);
}

/* `ctrace record --pid PID --seconds S -o OUT`: checks its report. */
static void record(int pid, const char *seconds, const char *out) {
  char pids[16];
  snprintf(pids, sizeof pids, "%d", pid);
  char *args[] = {"record", "--pid", pids, "--seconds", (char *)seconds, "-o", (char *)out, NULL};
  test_proc p = ctrace_cmd(args);
  if (p.status != 0)
    TEST_FAIL("ctrace record: status %d: %s%s", p.status, p.out, p.err);
  char want[4096];
  snprintf(want, sizeof want, " of %d to %s: ", pid, out);
  ASSERT_CONTAINS(p.out, "recorded ");
  ASSERT_CONTAINS(p.out, want);
  ASSERT_CONTAINS(p.out, " events, 0 dropped");
  test_proc_free(&p);
}

/* ---- Tests ------------------------------------------------------------------------------------------ */

/* A library-linked program that does not trace: `ctrace record --seconds
 * 1` gets a complete trace of about 1 s, and the program carries on and
 * exits 0; its socket is 0600 and goes away at exit. */
TEST_IMPL(control_record) {
  char sock[800], out[800], log[800], env_ctl[1024];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("rec.sock"));
  snprintf(out, sizeof out, "%s", test_tmp_path("rec.ctrace"));
  snprintf(log, sizeof log, "%s", test_tmp_path("rec.log"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {(char *)prog("busy_for"), "4", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  wait_socket(sock, pid, log);
  struct stat st;
  ASSERT_EQ(lstat(sock, &st), 0);
  ASSERT(S_ISSOCK(st.st_mode));
  ASSERT_EQ(st.st_mode & 07777, 0600);
  ASSERT_EQ(st.st_uid, geteuid());

  char want[64];
  snprintf(want, sizeof want, "ok pid=%d tracing=no ", (int)pid);
  ASSERT_CONTAINS(command(sock, "status\n"), want);
  ASSERT(access(out, F_OK) != 0); /* it does not trace by itself */

  uint64_t t0 = mono_ms();
  record(pid, "1", out);
  uint64_t took = mono_ms() - t0;
  ASSERT_GE(took, 950);
  ASSERT_LE(took, 3000);
  span_info s = trace_span(out);
  fprintf(stderr, "control_record: %zu events over %.3f s, %zu rounds; ctrace record took %d ms\n",
          s.events, s.seconds, s.regions, (int)took);
  ASSERT(s.seconds >= 0.8 && s.seconds <= 1.3);
  ASSERT_GT(s.regions, 200); /* two threads, a round every ~0.6 ms */

  /* Still running, not tracing, and a second record works too. */
  ASSERT_EQ(kill(pid, 0), 0);
  snprintf(want, sizeof want, "ok pid=%d tracing=no ", (int)pid);
  ASSERT_CONTAINS(command(sock, "status\n"), want);
  char out2[800];
  snprintf(out2, sizeof out2, "%s", test_tmp_path("rec2.ctrace"));
  record(pid, "0.5", out2);
  s = trace_span(out2);
  ASSERT(s.seconds >= 0.35 && s.seconds <= 0.8);

  ASSERT_EQ(wait_exit(pid, 10000), 0);
  char *l = test_read_file(log, NULL);
  ASSERT_CONTAINS(l, "rounds ");
  ASSERT(!strstr(l, "ctrace:")); /* nothing to complain about */
  free(l);
  ASSERT(lstat(sock, &st) != 0 && errno == ENOENT); /* removed at exit */
  return 0;
}

/* Bad commands get an error line, and the process serves the next one and
 * keeps running; `stop` from another connection ends a recording early;
 * `ctrace record`'s own errors. */
TEST_IMPL(control_errors) {
  char sock[800], out[800], log[800], env_ctl[1024];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("err.sock"));
  snprintf(out, sizeof out, "%s", test_tmp_path("err.ctrace"));
  snprintf(log, sizeof log, "%s", test_tmp_path("err.log"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {(char *)prog("busy_for"), "10", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  wait_socket(sock, pid, log);

  /* A connection that never sends its command is timed out (5 s): opened
   * now, read at the end. */
  int idle = sock_connect(sock);
  ASSERT(idle >= 0);
  uint64_t idle_t0 = mono_ms();

  ASSERT_STR_EQ(command(sock, "bogus\n"),
                "error: unknown command 'bogus' (record, stop, dump, status, stacks)\n");
  ASSERT_CONTAINS(command(sock, "status\n"), "ok pid=");
  ASSERT_STR_EQ(command(sock, "\n"), "error: empty command (record, stop, dump, status, stacks)\n");
  ASSERT_STR_EQ(command(sock, "recordx 1 /tmp/x\n"),
                "error: unknown command 'recordx' (record, stop, dump, status, stacks)\n");
  ASSERT_CONTAINS(command(sock, "record abc /tmp/x\n"),
                  "error: record: SECONDS must be a number of seconds");
  ASSERT_CONTAINS(command(sock, "record -1 /tmp/x\n"), "error: record: SECONDS");
  ASSERT_STR_EQ(command(sock, "record 1\n"), "error: record: missing PATH (record SECONDS PATH)\n");
  ASSERT_STR_EQ(command(sock, "stop\n"), "error: not recording\n");
  ASSERT_CONTAINS(command(sock, "record 1 /nonexistent-dir/x.ctrace\n"),
                  "error: cannot trace to /nonexistent-dir/x.ctrace: no such file or directory");
  /* A line past the limit. */
  char *big = malloc(6000);
  memset(big, 'x', 5999);
  big[5999] = '\n';
  int fd = sock_connect(sock);
  ASSERT(fd >= 0);
  send_all(fd, big, 4095); /* the limit: the reply comes without a newline */
  ASSERT_STR_EQ(read_line(fd, 10000), "error: command line too long (at most 4095 bytes)\n");
  close(fd);
  free(big);
  /* A command without newline, the client's side shut: taken as it is. */
  fd = sock_connect(sock);
  send_all(fd, "status", 6);
  shutdown(fd, SHUT_WR);
  ASSERT_CONTAINS(read_line(fd, 10000), "ok pid=");
  close(fd);
  /* Binary garbage is shown tamed. */
  ASSERT_STR_EQ(command(sock, "\x01\x02zz\n"),
                "error: unknown command '??zz' (record, stop, dump, status, stacks)\n");

  /* A recording, ended early by `stop` on another connection; meanwhile a
   * second record is refused. */
  int rec = sock_connect(sock);
  ASSERT(rec >= 0);
  char line[1000];
  snprintf(line, sizeof line, "record 30 %s\n", out);
  send_all(rec, line, strlen(line));
  char want[1000];
  snprintf(want, sizeof want, "ok %s\n", out);
  ASSERT_STR_EQ(read_line(rec, 10000), want);
  snprintf(want, sizeof want, "error: already tracing to %s (a record of 30 s; `stop` ends it)\n",
           out);
  ASSERT_STR_EQ(command(sock, "record 1 /tmp/other.ctrace\n"), want);
  ASSERT_CONTAINS(command(sock, "status\n"), " tracing=record ");
  sleep_ms(300);
  char *done = command(sock, "stop\n");
  snprintf(want, sizeof want, "done %s ", out);
  ASSERT(!strncmp(done, want, strlen(want)));
  ASSERT(strstr(done, " 0\n")); /* nothing dropped */
  ASSERT_STR_EQ(read_line(rec, 10000), "note: stopped early by a `stop` command\n");
  ASSERT(!strncmp(read_line(rec, 10000), want, strlen(want)));
  close(rec);
  span_info s = trace_span(out);
  ASSERT(s.seconds >= 0.2 && s.seconds <= 1.0);

  /* A recording whose client goes away ends then, complete. */
  rec = sock_connect(sock);
  send_all(rec, line, strlen(line));
  snprintf(want, sizeof want, "ok %s\n", out);
  ASSERT_STR_EQ(read_line(rec, 10000), want);
  sleep_ms(200);
  close(rec);
  sleep_ms(300);
  ASSERT_CONTAINS(command(sock, "status\n"), " tracing=no ");
  s = trace_span(out);
  ASSERT(s.seconds >= 0.1 && s.seconds <= 0.6);

  /* ^C on `ctrace record`: the recording stops there, complete. */
  char clilog[800];
  snprintf(clilog, sizeof clilog, "%s", test_tmp_path("cli.log"));
  char pid_s[16];
  snprintf(pid_s, sizeof pid_s, "%d", (int)pid);
  char *cli[] = {
      (char *)test_ctrace_bin, "record", "--pid", pid_s, "--seconds", "30", "-o", out, NULL};
  pid_t cp = spawn_bg(cli, NULL, clilog);
  uint64_t c0 = mono_ms();
  while (!strstr(command(sock, "status\n"), " tracing=record ")) {
    ASSERT(mono_ms() - c0 < 10000);
    sleep_ms(20);
  }
  sleep_ms(400);
  kill(cp, SIGINT);
  ASSERT_EQ(wait_exit(cp, 10000), 0);
  char *cl = test_read_file(clilog, NULL);
  ASSERT_CONTAINS(cl, "ctrace record: note: stopped early by the client\n");
  ASSERT_CONTAINS(cl, "recorded ");
  ASSERT_CONTAINS(cl, " events, 0 dropped\n");
  free(cl);
  s = trace_span(out);
  ASSERT(s.seconds >= 0.3 && s.seconds <= 1.5);

  /* The idle connection got its timeout. */
  ASSERT_STR_EQ(read_line(idle, 10000), "error: timeout: no command line within 5000 ms\n");
  uint64_t idle_ms = mono_ms() - idle_t0;
  ASSERT(idle_ms >= 4900);
  close(idle);

  /* `ctrace record`'s errors. */
  char pids[16], self[16];
  snprintf(pids, sizeof pids, "%d", (int)pid);
  snprintf(self, sizeof self, "%d", (int)getpid());
  char *no_pid[] = {"record", "--seconds", "1", NULL};
  test_proc p = ctrace_cmd(no_pid);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "ctrace record: missing --pid PID");
  test_proc_free(&p);
  char *bad_secs[] = {"record", "--pid", pids, "--seconds", "0", NULL};
  p = ctrace_cmd(bad_secs);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--seconds 0: a number of seconds, more than 0");
  test_proc_free(&p);
  char *gone[] = {"record", "--pid", "2147483647", "--seconds", "1", NULL};
  p = ctrace_cmd(gone);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "ctrace record: no such process: 2147483647");
  test_proc_free(&p);
  char *no_socket[] = {"record", "--pid", self, "--seconds", "1", NULL};
  p = ctrace_cmd(no_socket);
  ASSERT_EQ(p.status, 1);
  char msg[2048];
  snprintf(msg, sizeof msg,
           "ctrace record: process %s has no control socket: it was not started "
           "with CTRACE_CONTROL=PATH",
           self);
  ASSERT_CONTAINS(p.err, msg);
  test_proc_free(&p);
  char *missing[] = {"record", "--pid", pids, "--socket", "/nonexistent/x.sock", NULL};
  p = ctrace_cmd(missing);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "cannot connect to /nonexistent/x.sock: the socket does not exist");
  test_proc_free(&p);
  char *wrong[] = {"record", "--pid", self, "--socket", sock, NULL};
  p = ctrace_cmd(wrong);
  ASSERT_EQ(p.status, 1);
  snprintf(msg, sizeof msg, "%s is the control socket of process %d, not of %s", sock, (int)pid,
           self);
  ASSERT_CONTAINS(p.err, msg);
  test_proc_free(&p);
  char *bad_out[] = {"record", "--pid", pids, "--seconds", "1", "-o", "/nonexistent/t.ctrace",
                     NULL};
  p = ctrace_cmd(bad_out);
  ASSERT_EQ(p.status, 1);
  snprintf(msg, sizeof msg,
           "ctrace record: process %d: cannot trace to /nonexistent/t.ctrace: "
           "no such file or directory",
           (int)pid);
  ASSERT_CONTAINS(p.err, msg);
  test_proc_free(&p);

  /* After all that, a normal record, and a normal exit. */
  ASSERT_EQ(kill(pid, 0), 0);
  record(pid, "0.3", out);
  ASSERT_EQ(wait_exit(pid, 15000), 0);
  char *l = test_read_file(log, NULL);
  ASSERT_CONTAINS(l, "rounds ");
  free(l);
  /* Once it is gone. */
  char *dead[] = {"record", "--pid", pids, "--socket", sock, NULL};
  p = ctrace_cmd(dead);
  ASSERT_EQ(p.status, 1);
  snprintf(msg, sizeof msg, "ctrace record: no such process: %d", (int)pid);
  ASSERT_CONTAINS(p.err, msg);
  test_proc_free(&p);
  struct stat st;
  ASSERT(lstat(sock, &st) != 0); /* the socket went with it */
  return 0;
}

/* Under the preload, with no ctrace in the program: the wrappers record
 * when a record starts (system calls, lock waits), by `ctrace run
 * --control --no-record` and by LD_PRELOAD alone. */
TEST_IMPL(control_preload) {
  for (int round = 0; round < 2; round++) {
    char sock[800], out[800], log[800], env_ctl[1024], env_pre[900];
    snprintf(sock, sizeof sock, "%s", test_tmp_path(round ? "pre1.sock" : "pre0.sock"));
    snprintf(out, sizeof out, "%s", test_tmp_path(round ? "pre1.ctrace" : "pre0.ctrace"));
    snprintf(log, sizeof log, "%s", test_tmp_path(round ? "pre1.log" : "pre0.log"));
    snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
    snprintf(env_pre, sizeof env_pre, "LD_PRELOAD=%s", PRELOAD_LIB);
    pid_t pid;
    if (round == 0) {
      char *argv[] = {(char *)test_ctrace_bin,        "run", "--control", sock, "--no-record", "--",
                      (char *)prog("busy_for_plain"), "3",   NULL};
      pid = spawn_bg(argv, NULL, log);
    } else {
      char *argv[] = {(char *)prog("busy_for_plain"), "3", NULL};
      char *env[] = {env_ctl, env_pre, NULL};
      pid = spawn_bg(argv, env, log);
    }
    wait_socket(sock, pid, log);
    int target = status_pid(sock); /* (under ctrace run, its child) */
    ASSERT_CONTAINS(command(sock, "status\n"), " wrappers=yes ");
    record(target, "1", out);
    ttrace *t = tt_load(out);
    const rd_capture *cap = rd_capture_get(t->tr);
    ASSERT(cap->present);
    ASSERT_EQ(cap->syscalls, CTRACE_FMT_CAP_WRAPPERS);
    ASSERT(cap->locks);
    ASSERT(cap->heap);
    tt_free(t);
    span_info s = trace_span(out);
    fprintf(stderr, "control_preload (%s): %zu events over %.3f s: %zu system calls, %zu waits\n",
            round ? "LD_PRELOAD" : "ctrace run --control", s.events, s.seconds, s.syscalls,
            s.waits);
    ASSERT(s.seconds >= 0.8 && s.seconds <= 1.3);
    ASSERT_GT(s.syscalls, 200); /* the writes and nanosleeps */
    ASSERT_GT(s.waits, 10);     /* the mutex, held 200 us in turns: often contended */
    ASSERT_EQ(kill(target, 0), 0);
    ASSERT_EQ(wait_exit(pid, 10000), 0);
    char *l = test_read_file(log, NULL);
    ASSERT_CONTAINS(l, "rounds ");
    ASSERT(!strstr(l, "ctrace: ")); /* (ctrace run says nothing either: no trace of its own) */
    free(l);
    struct stat st;
    ASSERT(lstat(sock, &st) != 0);
  }
  char *argv[] = {(char *)test_ctrace_bin, "run", "--no-record", "--", "true", NULL};
  test_proc p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--no-record needs --control PATH");
  test_proc_free(&p);
  return 0;
}

/* Who may connect. The socket is 0600: another user cannot even connect;
 * and the process checks the peer (SO_PEERCRED): root, who passes the
 * file's mode, is refused by a process of another user. Root's `ctrace
 * record` takes the process's uid to connect. */
static void nobody_connects(const char *sock, int pid) {
  ASSERT_EQ(setgroups(0, NULL), 0);
  ASSERT_EQ(setresgid(NOBODY, NOBODY, NOBODY), 0);
  ASSERT_EQ(setresuid(NOBODY, NOBODY, NOBODY), 0);
  int fd = sock_connect(sock);
  ASSERT_EQ(fd, -EACCES);
  char pids[16];
  snprintf(pids, sizeof pids, "%d", pid);
  char *args[] = {"record", "--pid", pids, "--seconds", "1", NULL};
  test_proc p = ctrace_cmd(args);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "cannot read the environment of process");
  ASSERT_CONTAINS(p.err, "another user's process; give the socket with --socket PATH");
  test_proc_free(&p);
  char *args2[] = {"record", "--pid", pids, "--seconds", "1", "--socket", (char *)sock, NULL};
  p = ctrace_cmd(args2);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "permission denied: the socket belongs to another user");
  test_proc_free(&p);
  _exit(0);
}

TEST_IMPL(control_peer) {
  if (geteuid() != 0) {
    fprintf(stderr, "control_peer: skipped: needs root (to run a client and a process as "
                    "another user, nobody)\n");
    return 0;
  }
  /* A process of root's, in a directory anyone may enter: nobody meets
   * the socket's mode. */
  char dir[256];
  snprintf(dir, sizeof dir, "/tmp/ctrace-control-%d-root", (int)getpid());
  ASSERT(mkdir(dir, 0755) == 0 || errno == EEXIST);
  ASSERT_EQ(chmod(dir, 0755), 0);
  char sock[400], log[800], env_ctl[500];
  snprintf(sock, sizeof sock, "%s/s.sock", dir);
  snprintf(log, sizeof log, "%s", test_tmp_path("peer-root.log"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {(char *)prog("busy_for"), "4", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  wait_socket(sock, pid, log);
  pid_t c = fork();
  ASSERT(c >= 0);
  if (c == 0)
    nobody_connects(sock, pid);
  int st;
  ASSERT_EQ(waitpid(c, &st, 0), c);
  ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  ASSERT_CONTAINS(command(sock, "status\n"), "ok pid="); /* root, its owner, may */
  ASSERT_EQ(wait_exit(pid, 10000), 0);
  rmdir(dir);

  /* A process of nobody's, in nobody's directory: root connects, and is
   * refused by the process itself. */
  snprintf(dir, sizeof dir, "/tmp/ctrace-control-%d-nobody", (int)getpid());
  ASSERT(mkdir(dir, 0700) == 0 || errno == EEXIST);
  ASSERT_EQ(chown(dir, NOBODY, NOBODY), 0);
  snprintf(sock, sizeof sock, "%s/s.sock", dir);
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  snprintf(log, sizeof log, "%s", test_tmp_path("peer-nobody.log"));
  int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT(logfd >= 0);
  char **e = make_env(env);
  pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    dup2(logfd, 1);
    dup2(logfd, 2);
    if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
        setresuid(NOBODY, NOBODY, NOBODY))
      _exit(99);
    execve(argv[0], argv, e);
    _exit(98);
  }
  free(e);
  close(logfd);
  wait_socket(sock, pid, log);
  struct stat sst;
  ASSERT_EQ(lstat(sock, &sst), 0);
  ASSERT_EQ(sst.st_uid, NOBODY);
  ASSERT_EQ(sst.st_mode & 07777, 0600);
  ASSERT_STR_EQ(command(sock, "status\n"),
                "error: permission denied: peer uid 0 is not the owner (uid 65534)\n");
  /* ctrace record as root: connects as nobody; nobody's process writes. */
  char out[400];
  snprintf(out, sizeof out, "%s/t.ctrace", dir);
  record(pid, "0.5", out);
  ASSERT_EQ(lstat(out, &sst), 0);
  ASSERT_EQ(sst.st_uid, NOBODY);
  span_info s = trace_span(out);
  ASSERT(s.seconds >= 0.35 && s.seconds <= 0.8);
  ASSERT_EQ(wait_exit(pid, 10000), 0);
  unlink(out);
  rmdir(dir);
  return 0;
}

/* The socket's file: never replaces what is not a socket, nor a socket
 * another process listens on (silently); refuses a directory others may
 * write to;
 * replaces one left by a killed process; %p is the pid. In every case the
 * program runs on (without a socket) and exits 0. */
static char *run_expect(const char *spec, const char *name, const char *needle) {
  char log[800], env_ctl[1024];
  snprintf(log, sizeof log, "%s", test_tmp_path(name));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", spec);
  char *argv[] = {(char *)prog("busy_for"), "0.2", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  ASSERT_EQ(wait_exit(pid, 10000), 0);
  char *l = test_read_file(log, NULL);
  ASSERT_CONTAINS(l, needle);
  ASSERT_CONTAINS(l, "rounds ");
  return l;
}

TEST_IMPL(control_socket_files) {
  /* Not a socket: left alone. */
  char file[800];
  snprintf(file, sizeof file, "%s", test_tmp_path("plain-file"));
  test_write_file(file, "keep", 4);
  char want[4096];
  snprintf(want, sizeof want,
           "ctrace: CTRACE_CONTROL=%s: %s exists and is not a socket: not "
           "replacing it; no control socket\n",
           file, file);
  free(run_expect(file, "f1.log", want));
  char *kept = test_read_file(file, NULL);
  ASSERT_STR_EQ(kept, "keep");
  free(kept);

  /* A directory others may write to (not sticky). */
  char dir[800], sock[900];
  snprintf(dir, sizeof dir, "%s", test_tmp_path("open-dir"));
  ASSERT(mkdir(dir, 0777) == 0 || errno == EEXIST);
  ASSERT_EQ(chmod(dir, 0777), 0);
  snprintf(sock, sizeof sock, "%s/s.sock", dir);
  snprintf(want, sizeof want, "directory %s is writable by others (mode 777, not sticky)", dir);
  free(run_expect(sock, "f2.log", want));
  ASSERT(access(sock, F_OK) != 0);
  ASSERT_EQ(chmod(dir, 0700), 0);

  /* A socket another process listens on: the second one goes without. */
  snprintf(sock, sizeof sock, "%s", test_tmp_path("shared.sock"));
  char log[800], env_ctl[1024];
  snprintf(log, sizeof log, "%s", test_tmp_path("f3.log"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {(char *)prog("busy_for"), "3", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t first = spawn_bg(argv, env, log);
  wait_socket(sock, first, log);
  char *l = run_expect(sock, "f4.log", "rounds "); /* (silently: its parent's, most likely) */
  ASSERT(!strstr(l, "ctrace"));
  free(l);
  ASSERT_EQ(status_pid(sock), first); /* the first one's, still */

  /* Killed: its socket stays, the next process replaces it. */
  kill(first, SIGKILL);
  ASSERT_EQ(wait_exit(first, 5000), 128 + SIGKILL);
  struct stat st;
  ASSERT_EQ(lstat(sock, &st), 0);
  pid_t next = spawn_bg(argv, env, log);
  uint64_t until = mono_ms() + 10000;
  int got = 0;
  while (mono_ms() < until && got != next) {
    int fd = sock_connect(sock);
    if (fd >= 0) {
      close(fd);
      got = status_pid(sock);
    }
    sleep_ms(10);
  }
  ASSERT_EQ(got, next);
  ASSERT_EQ(kill(next, SIGTERM), 0);
  wait_exit(next, 5000);

  /* %p: the pid; the client expands it too. */
  char spec[900], path[900], out[800];
  snprintf(spec, sizeof spec, "%s", test_tmp_path("p-%p.sock"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", spec);
  char *env2[] = {env_ctl, NULL};
  pid_t p = spawn_bg(argv, env2, log);
  snprintf(path, sizeof path, "%s", test_tmp_path(""));
  snprintf(path + strlen(path), sizeof path - strlen(path), "p-%d.sock", (int)p);
  wait_socket(path, p, log);
  snprintf(out, sizeof out, "%s", test_tmp_path("p.ctrace"));
  record(p, "0.3", out);
  ASSERT_EQ(wait_exit(p, 10000), 0);
  ASSERT(access(path, F_OK) != 0);
  return 0;
}

/* Waits for a file to exist (a dump asked by a signal). */
static void wait_file(const char *path, int ms) {
  uint64_t until = mono_ms() + (uint64_t)ms;
  while (access(path, F_OK) != 0) {
    if (mono_ms() > until)
      TEST_FAIL("no %s after %d ms", path, ms);
    sleep_ms(10);
  }
  sleep_ms(100); /* (written in one go by the writer; let it finish) */
}

/* `dump`: the flight recorder's. A process that is not in flight mode gets
 * ctrace_flight_dump's error and runs on; one in flight mode dumps where
 * asked, or to its default path (the reply names it); without a socket
 * `ctrace dump` sends SIGUSR2, but never to a process that does not catch
 * it. */
TEST_IMPL(control_dump) {
  char sock[800], out[800], log[800], env_ctl[1024];
  snprintf(sock, sizeof sock, "%s", test_tmp_path("dump.sock"));
  snprintf(out, sizeof out, "%s", test_tmp_path("dump.ctrace"));
  snprintf(log, sizeof log, "%s", test_tmp_path("dump.log"));
  snprintf(env_ctl, sizeof env_ctl, "CTRACE_CONTROL=%s", sock);
  char *argv[] = {(char *)prog("busy_for"), "4", NULL};
  char *env[] = {env_ctl, NULL};
  pid_t pid = spawn_bg(argv, env, log);
  wait_socket(sock, pid, log);
  char pids[16];
  snprintf(pids, sizeof pids, "%d", (int)pid);
  char want[2048];
  /* Not tracing at all. */
  snprintf(want, sizeof want, "ctrace dump: process %d: dump: %s", (int)pid,
           ctrace_strerror(CTRACE_ENOTACTIVE));
  char *dump[] = {"dump", "--pid", pids, NULL};
  test_proc p = ctrace_cmd(dump);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, want);
  test_proc_free(&p);
  /* Recording to a file (a record in progress). */
  int rec = sock_connect(sock);
  char line[1000];
  snprintf(line, sizeof line, "record 30 %s\n", out);
  send_all(rec, line, strlen(line));
  ASSERT(!strncmp(read_line(rec, 10000), "ok ", 3));
  char *short_form[] = {"dump", pids, "-o", (char *)test_tmp_path("d.ctrace"), NULL};
  p = ctrace_cmd(short_form);
  ASSERT_EQ(p.status, 1);
  snprintf(want, sizeof want, "ctrace dump: process %d: dump: %s", (int)pid,
           ctrace_strerror(CTRACE_ENOTFLIGHT));
  ASSERT_CONTAINS(p.err, want);
  test_proc_free(&p);
  ASSERT(!strncmp(command(sock, "stop\n"), "done ", 5));
  close(rec);
  ASSERT_EQ(kill(pid, 0), 0);
  ASSERT_EQ(wait_exit(pid, 10000), 0);

  /* No socket, no flight mode: no signal. */
  char self[16];
  snprintf(self, sizeof self, "%d", (int)getpid());
  char *nosock[] = {"dump", self, NULL};
  p = ctrace_cmd(nosock);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "has no control socket and does not catch SIGUSR2 (it is not in "
                         "flight mode): not sending a signal that would end it");
  test_proc_free(&p);
  char *nosock_o[] = {"dump", self, "-o", "x.ctrace", NULL};
  p = ctrace_cmd(nosock_o);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "-o needs the process's control socket");
  test_proc_free(&p);
  char *usage[] = {"dump", NULL};
  p = ctrace_cmd(usage);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "ctrace dump: missing PID");
  test_proc_free(&p);

  /* In flight mode, with a socket: `record` is refused, `dump` writes. */
  char fl_out[800], env_mode[] = "CTRACE_MODE=flight", env_fo[1024], d1[800];
  snprintf(fl_out, sizeof fl_out, "%s", test_tmp_path("fl.ctrace"));
  snprintf(env_fo, sizeof env_fo, "CTRACE_FLIGHT_OUT=%s", fl_out);
  snprintf(d1, sizeof d1, "%s", test_tmp_path("fl-asked.ctrace"));
  char *env_fl[] = {env_ctl, env_mode, env_fo, NULL};
  pid = spawn_bg(argv, env_fl, log);
  wait_socket(sock, pid, log);
  snprintf(pids, sizeof pids, "%d", (int)pid);
  snprintf(want, sizeof want, " tracing=flight left=0.000 wrappers=no path=%s\n", fl_out);
  ASSERT_CONTAINS(command(sock, "status\n"), want);
  char *rec_args[] = {"record", "--pid", pids, "--seconds", "1", "-o", out, NULL};
  p = ctrace_cmd(rec_args);
  ASSERT_EQ(p.status, 1);
  snprintf(want, sizeof want,
           "ctrace record: process %d: already tracing: the flight recorder "
           "records (dumps go to %s; `dump` writes one)",
           (int)pid, fl_out);
  ASSERT_CONTAINS(p.err, want);
  test_proc_free(&p);
  sleep_ms(500);
  char *dump_o[] = {"dump", "--pid", pids, "-o", d1, NULL};
  p = ctrace_cmd(dump_o);
  ASSERT_EQ(p.status, 0);
  snprintf(want, sizeof want, "dumped the flight recorder of %d to %s\n", (int)pid, d1);
  ASSERT_STR_EQ(p.out, want);
  test_proc_free(&p);
  span_info s = trace_span(d1);
  ASSERT_GT(s.regions, 100);
  p = ctrace_cmd(dump); /* to its default path: CTRACE_FLIGHT_OUT */
  ASSERT_EQ(p.status, 0);
  snprintf(want, sizeof want, "dumped the flight recorder of %d to %s\n", (int)pid, fl_out);
  ASSERT_STR_EQ(p.out, want);
  test_proc_free(&p);
  s = trace_span(fl_out);
  ASSERT_GT(s.regions, 100);
  ASSERT_EQ(wait_exit(pid, 10000), 0);

  /* In flight mode without a socket: SIGUSR2, and the dump appears at the
   * path `ctrace dump` names. */
  unlink(fl_out);
  char *env_sig[] = {env_mode, env_fo, NULL};
  pid = spawn_bg(argv, env_sig, log);
  snprintf(pids, sizeof pids, "%d", (int)pid);
  uint64_t until = mono_ms() + 10000; /* (the handler is set as tracing starts) */
  for (;;) {
    char st[64], b[4096] = "";
    snprintf(st, sizeof st, "/proc/%d/status", (int)pid);
    FILE *f = fopen(st, "re");
    ASSERT(f);
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    char *cgt = strstr(b, "SigCgt:");
    unsigned long long mask = 0;
    if (cgt && sscanf(cgt, "SigCgt:\t%llx", &mask) == 1 && (mask >> (SIGUSR2 - 1) & 1))
      break;
    ASSERT(mono_ms() < until);
    sleep_ms(10);
  }
  sleep_ms(300);
  p = ctrace_cmd(dump);
  ASSERT_EQ(p.status, 0);
  snprintf(want, sizeof want, "dumped the flight recorder of %d to %s (SIGUSR2)\n", (int)pid,
           fl_out);
  ASSERT_STR_EQ(p.out, want);
  test_proc_free(&p);
  wait_file(fl_out, 5000);
  s = trace_span(fl_out);
  ASSERT_GT(s.regions, 100);
  /* The second goes to FILE-2 (fl-2.ctrace): the one named. */
  p = ctrace_cmd(dump);
  ASSERT_EQ(p.status, 0);
  char fl2[800];
  snprintf(fl2, sizeof fl2, "%s", test_tmp_path("fl-2.ctrace"));
  snprintf(want, sizeof want, "dumped the flight recorder of %d to %s (SIGUSR2)\n", (int)pid, fl2);
  ASSERT_STR_EQ(p.out, want);
  test_proc_free(&p);
  wait_file(fl2, 5000);
  s = trace_span(fl2);
  ASSERT_GT(s.regions, 100);
  ASSERT_EQ(wait_exit(pid, 10000), 0);
  return 0;
}
