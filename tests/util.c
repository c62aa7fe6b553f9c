/* Helpers for tests: scratch paths, subprocesses with captured output,
 * files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

extern char **environ;

const char *test_ctrace_bin = CTRACE_BIN;
const char *test_pipeline_bin = PIPELINE_BIN;
const char *test_data_dir = TEST_DATA_DIR;

const char *test_tmp_path(const char *name) {
  static char dir[512];
  static char buf[8][768];
  static int n;
  if (!dir[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ctrace-test-%d", t && *t ? t : "/tmp", (int)getpid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      TEST_FAIL("mkdir %s: %s", dir, strerror(errno));
  }
  char *b = buf[n++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", dir, name);
  return b;
}

static void append(char **buf, size_t *len, size_t *cap, const char *p, size_t n) {
  if (*len + n + 1 > *cap) {
    while (*len + n + 1 > *cap)
      *cap = *cap ? *cap * 2 : 4096;
    *buf = realloc(*buf, *cap);
    if (!*buf)
      abort();
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  (*buf)[*len] = '\0';
}

test_proc test_run(char *const argv[], char *const env[]) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    TEST_FAIL("pipe: %s", strerror(errno));
  size_t ne = 0, nx = 0;
  while (environ[ne])
    ne++;
  while (env && env[nx])
    nx++;
  char **envp = calloc(ne + nx + 1, sizeof *envp);
  size_t k = 0;
  for (size_t i = 0; i < nx; i++)
    envp[k++] = env[i];
  for (size_t i = 0; i < ne; i++) { /* skip variables the caller overrides */
    int skip = 0;
    for (size_t j = 0; j < nx && !skip; j++) {
      size_t l = strcspn(env[j], "=");
      skip = strncmp(environ[i], env[j], l) == 0 && environ[i][l] == '=';
    }
    if (!skip)
      envp[k++] = environ[i];
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  pid_t pid;
  int r = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  if (r)
    TEST_FAIL("cannot run %s: %s", argv[0], strerror(r));
  close(out[1]);
  close(err[1]);
  test_proc p = {0, NULL, NULL};
  size_t ol = 0, oc = 0, el = 0, ec = 0;
  append(&p.out, &ol, &oc, "", 0);
  append(&p.err, &el, &ec, "", 0);
  struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !fds[i].revents)
        continue;
      char b[65536];
      ssize_t n = read(fds[i].fd, b, sizeof b);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      } else if (i == 0) {
        append(&p.out, &ol, &oc, b, (size_t)n);
      } else {
        append(&p.err, &el, &ec, b, (size_t)n);
      }
    }
  }
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
    ;
  p.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return p;
}

void test_proc_free(test_proc *p) {
  free(p->out);
  free(p->err);
}

char *test_read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    TEST_FAIL("open %s: %s", path, strerror(errno));
  struct stat st;
  fstat(fd, &st);
  char *b = malloc((size_t)st.st_size + 1);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
    if (n <= 0)
      TEST_FAIL("read %s: %s", path, strerror(errno));
    got += (size_t)n;
  }
  b[got] = '\0';
  close(fd);
  if (len)
    *len = got;
  return b;
}

void test_write_file(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, data, len) != (ssize_t)len)
    TEST_FAIL("write %s: %s", path, strerror(errno));
  close(fd);
}
