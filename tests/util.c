/* Helpers for tests: scratch paths, subprocesses with captured output,
 * files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
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
    /* a fresh directory: a runner of an earlier build may have had this
     * pid and left its files behind */
    snprintf(dir, sizeof dir, "%s/ctrace-test-%d-XXXXXX", t && *t ? t : "/tmp", (int)getpid());
    if (!mkdtemp(dir))
      TEST_FAIL("mkdtemp %s: %s", dir, strerror(errno));
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

/* ---- A child that does not finish ---------------------------------------------------------
 * test_run gives a child TEST_RUN_SECONDS (default 100, under ctest's 300)
 * to close its output. Past that it says what every process involved is
 * doing (the child's descendants and whoever holds the output pipes: per
 * thread its state, kernel wait channel, system call and, as root, kernel
 * stack), kills them and fails: a hang is explained, not a timeout. */

static long read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, cap - 1);
  close(fd);
  if (n < 0)
    n = 0;
  buf[n] = '\0';
  for (ssize_t i = 0; i < n; i++)
    if (buf[i] == '\0')
      buf[i] = ' ';
  return n;
}

static pid_t ppid_of(pid_t p) {
  char path[64], b[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
  if (read_small(path, b, sizeof b) <= 0)
    return -1;
  char *e = strrchr(b, ')'); /* comm may hold spaces */
  int pp = -1;
  if (e)
    sscanf(e + 1, " %*c %d", &pp);
  return pp;
}

static int holds_inode(pid_t p, ino_t ino) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/fd", (int)p);
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d))) {
    char path[320];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    found = e->d_name[0] != '.' && stat(path, &st) == 0 && st.st_ino == ino;
  }
  closedir(d);
  return found;
}

static void describe_process(pid_t p) {
  char path[640], b[4096];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)p);
  read_small(path, b, sizeof b);
  fprintf(stderr, "  process %d: %s\n", (int)p, b);
  snprintf(path, sizeof path, "/proc/%d/task", (int)p);
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char comm[64] = "", wchan[128] = "", sc[128] = "", stat[1024] = "";
    char base[320];
    snprintf(base, sizeof base, "/proc/%d/task/%s", (int)p, e->d_name);
    snprintf(path, sizeof path, "%s/comm", base);
    read_small(path, comm, sizeof comm);
    comm[strcspn(comm, "\n")] = '\0';
    snprintf(path, sizeof path, "%s/wchan", base);
    read_small(path, wchan, sizeof wchan);
    snprintf(path, sizeof path, "%s/syscall", base);
    read_small(path, sc, sizeof sc);
    sc[strcspn(sc, " \n")] = '\0';
    snprintf(path, sizeof path, "%s/stat", base);
    read_small(path, stat, sizeof stat);
    char *r = strrchr(stat, ')');
    fprintf(stderr, "    thread %s (%s): state %c, wchan %s, syscall %s\n", e->d_name, comm,
            r && r[1] ? r[2] : '?', wchan[0] ? wchan : "-", sc[0] ? sc : "-");
    snprintf(path, sizeof path, "%s/stack", base);
    if (read_small(path, b, sizeof b) > 0)
      for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n"))
        fprintf(stderr, "      %s\n", line);
  }
  if (d)
    closedir(d);
}

static void explain_hang(pid_t child, int pipe_fd, char *const argv[], int seconds) {
  fprintf(stderr, "test_run: %s", argv[0]);
  for (int i = 1; argv[i]; i++)
    fprintf(stderr, " %s", argv[i]);
  fprintf(stderr, "\n  has not closed its output after %d s; the processes involved:\n", seconds);
  struct stat ps;
  ino_t ino = fstat(pipe_fd, &ps) == 0 ? ps.st_ino : 0;
  pid_t involved[256];
  int n = 0;
  involved[n++] = child;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < 256) {
    pid_t p = (pid_t)atoi(e->d_name);
    if (p <= 0 || p == child || p == getpid())
      continue;
    int mine = 0; /* a descendant of the child? */
    for (pid_t q = ppid_of(p), hops = 0; q > 1 && hops < 64 && !mine; q = ppid_of(q), hops++)
      mine = q == child;
    if (mine || (ino && holds_inode(p, ino)))
      involved[n++] = p;
  }
  if (d)
    closedir(d);
  for (int i = 0; i < n; i++)
    describe_process(involved[i]);
  for (int i = 0; i < n; i++)
    kill(involved[i], SIGKILL);
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
  const char *limit = getenv("TEST_RUN_SECONDS");
  int seconds = limit && atoi(limit) > 0 ? atoi(limit) : 100;
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (open_fds) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left = (long)seconds * 1000 -
                ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
    if (left <= 0) {
      explain_hang(pid, fds[0].fd >= 0 ? fds[0].fd : fds[1].fd, argv, seconds);
      TEST_FAIL("%s did not finish within %d s (what it was doing is above)", argv[0], seconds);
    }
    if (poll(fds, 2, (int)left) < 0 && errno != EINTR)
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

/* go, from PATH or Debian's golang-go; NULL when not installed. */
const char *test_go_bin(void) {
  static const char *const places[] = {"/usr/bin/go", "/usr/lib/go/bin/go",
                                       "/usr/lib/go-1.19/bin/go", "/usr/local/go/bin/go"};
  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
    if (access(places[i], X_OK) == 0)
      return places[i];
  return NULL;
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
