/* The control socket's client side (common.h has the protocol, the
 * runtime's control.c serves it in the traced process): finding a
 * process's socket, connecting as its user, and reading its reply lines.
 * Shared by `ctrace record` (record.c) and `ctrace dump` (dump.c).
 *
 * The socket is --socket, else the CTRACE_CONTROL of the process's
 * environment (/proc/PID/environ, readable by its user and root), with %p
 * replaced by PID. Root asking about another user's process connects with
 * that user's uid (seteuid), as the process accepts only its own user. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"

/* ---- The process -------------------------------------------------------------------------- */

uint64_t cc_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int cc_parse_pid(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return errno || end == s || *end || v <= 0 || v > INT32_MAX ? -1 : (int)v;
}

/* Name's value in /proc/PID/environ (the environment the process started
 * with). @return 1 found, 0 not there, -errno if unreadable. */
int cc_proc_env(int pid, const char *name, char *out, size_t len) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/environ", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  for (ssize_t r; b && (r = read(fd, b + n, cap - n - 1)) != 0;) {
    if (r < 0) {
      int e = errno;
      if (e == EINTR)
        continue;
      free(b);
      close(fd);
      return -e;
    }
    n += (size_t)r;
    if (n + 1 == cap) {
      char *nb = realloc(b, cap *= 2);
      if (!nb)
        free(b);
      b = nb;
    }
  }
  close(fd);
  if (!b)
    return -ENOMEM;
  b[n] = '\0';
  size_t nl = strlen(name);
  int found = 0;
  for (size_t i = 0; i < n && !found; i += strlen(b + i) + 1)
    if (!strncmp(b + i, name, nl) && b[i + nl] == '=') {
      snprintf(out, len, "%s", b + i + nl + 1);
      found = 1;
    }
  free(b);
  return found;
}

/* The process's effective uid (/proc/PID/status), or -1. */
static long cc_proc_euid(int pid) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  FILE *f = fopen(p, "re");
  if (!f)
    return -1;
  long uid = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "Uid:\t%*u\t%ld", &uid) == 1)
      break;
  fclose(f);
  return uid;
}

/* Whether the process catches SIGUSR2 (/proc/PID/status SigCgt). */
int cc_proc_catches(int pid, int sig) {
  char p[64], line[256];
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  FILE *f = fopen(p, "re");
  if (!f)
    return 0;
  unsigned long long mask = 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "SigCgt:\t%llx", &mask) == 1;
  fclose(f);
  return found && (mask >> (sig - 1)) & 1;
}

int cc_proc_alive(int pid) { return kill(pid, 0) == 0 || errno == EPERM; }

/* PATH with %p replaced by pid (%% by %), as the process expanded it. */
static void cc_expand(const char *spec, int pid, char *out, size_t len) {
  size_t k = 0;
  for (const char *p = spec; *p && k + 12 < len; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      k += (size_t)snprintf(out + k, len - k, "%d", pid);
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      out[k++] = '%';
      p++;
    } else {
      out[k++] = *p;
    }
  }
  out[k] = '\0';
}

int cc_find_socket_e(int pid, const char *given, char *out, size_t len, char *err, size_t errlen) {
  if (given) {
    cc_expand(given, pid, out, len);
    return 0;
  }
  char spec[PATH_MAX];
  int r = cc_proc_env(pid, CTRACE__CONTROL_ENV, spec, sizeof spec);
  if (r < 0) {
    snprintf(err, errlen,
             "cannot read the environment of process %d (/proc/%d/environ: "
             "%s)%s; give the socket with --socket PATH",
             pid, pid, strerror(-r), r == -EACCES ? ": another user's process" : "");
    return 1;
  }
  if (r == 0 || !spec[0]) {
    snprintf(err, errlen,
             "process %d has no control socket: it was not started with "
             "%s=PATH (e.g. ctrace run --control PATH --no-record -- PROG)",
             pid, CTRACE__CONTROL_ENV);
    return 1;
  }
  cc_expand(spec, pid, out, len);
  if (out[0] != '/') { /* relative to the process's working directory */
    char cwdlink[64], cwd[PATH_MAX], rel[PATH_MAX];
    snprintf(cwdlink, sizeof cwdlink, "/proc/%d/cwd", pid);
    ssize_t n = readlink(cwdlink, cwd, sizeof cwd - 1);
    if (n > 0) {
      cwd[n] = '\0';
      snprintf(rel, sizeof rel, "%s", out);
      if (snprintf(out, len, "%s/%s", cwd, rel) >= (int)len)
        snprintf(out, len, "%s", rel); /* (too long: connect says so) */
    }
  }
  return 0;
}

int cc_find_socket(const char *cmd, int pid, const char *given, char *out, size_t len) {
  char err[PATH_MAX + 256];
  int r = cc_find_socket_e(pid, given, out, len, err, sizeof err);
  if (r)
    fprintf(stderr, "ctrace %s: %s\n", cmd, err);
  return r;
}

int cc_connect_e(int pid, const char *path, char *err, size_t errlen) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) {
    snprintf(err, errlen, "%s: too long for a unix socket path", path);
    return -1;
  }
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  long uid = cc_proc_euid(pid);
  int as_target = geteuid() == 0 && uid > 0;
  if (as_target && seteuid((uid_t)uid) != 0) {
    snprintf(err, errlen, "cannot take uid %ld of process %d: %s", uid, pid, strerror(errno));
    close(fd);
    return -1;
  }
  int r = connect(fd, (struct sockaddr *)&a, sizeof a), e = errno;
  if (as_target && seteuid(0) != 0) {
    snprintf(err, errlen, "cannot return to uid 0: %s", strerror(errno));
    close(fd);
    return -1;
  }
  if (r != 0) {
    const char *why = e == ENOENT ? "the socket does not exist (the process did not create it: "
                                    "its stderr says why; or it exited)"
                      : e == ECONNREFUSED ? "connection refused: nothing listens there (the "
                                            "process is gone, or it is not the one that made it)"
                      : e == EACCES || e == EPERM
                          ? "permission denied: the socket belongs to another user"
                          : strerror(e);
    snprintf(err, errlen, "cannot connect to %s: %s", path, why);
    close(fd);
    return -1;
  }
  struct ucred uc;
  socklen_t l = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid != pid) {
    snprintf(err, errlen, "%s is the control socket of process %d, not of %d", path, (int)uc.pid,
             pid);
    close(fd);
    return -1;
  }
  return fd;
}

int cc_connect_to(const char *cmd, int pid, const char *path) {
  char err[PATH_MAX + 256];
  int fd = cc_connect_e(pid, path, err, sizeof err);
  if (fd < 0)
    fprintf(stderr, "ctrace %s: %s\n", cmd, err);
  return fd;
}

void ctrace__control_cleanup(const char *spec, int pid) {
  char path[PATH_MAX];
  cc_expand(spec, pid, path, sizeof path);
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
    return;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  if (len >= sizeof a.sun_path)
    return;
  memcpy(a.sun_path, path, len + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno == ECONNREFUSED)
    unlink(path);
  close(fd);
}

/* ---- Lines ------------------------------------------------------------------------------------- */

volatile sig_atomic_t cc_interrupted;
void cc_on_interrupt(int sig) {
  if (cc_interrupted) { /* a second ^C: the process ends the recording by itself */
    signal(sig, SIG_DFL);
    raise(sig);
  }
  cc_interrupted = 1;
}

/* The next reply line into out (without its newline). @return 1, 0 at
 * end of stream, -ETIMEDOUT past deadline_ms, -EINTR on ^C (once), or
 * -errno. */
int cc_next_line(cc_lines *l, char *out, size_t len, uint64_t deadline_ms) {
  for (;;) {
    char *nl = memchr(l->buf, '\n', l->len);
    if (nl) {
      size_t n = (size_t)(nl - l->buf);
      snprintf(out, len, "%.*s", (int)n, l->buf);
      memmove(l->buf, nl + 1, l->len - n - 1);
      l->len -= n + 1;
      return 1;
    }
    if (l->len == sizeof l->buf) { /* (a line longer than any reply) */
      snprintf(out, len, "%.*s", (int)l->len, l->buf);
      l->len = 0;
      return 1;
    }
    uint64_t now = cc_mono_ms();
    if (now >= deadline_ms)
      return -ETIMEDOUT;
    struct pollfd pf = {l->fd, POLLIN, 0};
    int r = poll(&pf, 1, (int)(deadline_ms - now));
    if (r < 0 && errno == EINTR) {
      if (cc_interrupted == 1) {
        cc_interrupted = 2;
        return -EINTR;
      }
      continue;
    }
    if (r <= 0)
      continue;
    ssize_t n = read(l->fd, l->buf + l->len, sizeof l->buf - l->len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == ECONNRESET ? 0 : -errno;
    if (n == 0) {
      if (!l->len)
        return 0;
      snprintf(out, len, "%.*s", (int)l->len, l->buf); /* a last line without newline */
      l->len = 0;
      return 1;
    }
    l->len += (size_t)n;
  }
}

int cc_send_line(int fd, const char *line) {
  size_t n = strlen(line), off = 0;
  while (off < n) {
    ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    off += (size_t)w;
  }
  return 0;
}

void cc_absolute(const char *path, char *out, size_t len) {
  char cwd[PATH_MAX];
  if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
    snprintf(out, len, "%s", path);
  else if (snprintf(out, len, "%s/%s", cwd, path) >= (int)len)
    snprintf(out, len, "%s", path);
}
