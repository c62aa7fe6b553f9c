/* Syscall wrappers (preload mode): the blocking families, each recorded as
 * a complete span with its number, the most useful argument (the fd, the
 * sleep length, the pid waited for), and its result or -errno. In the
 * complete mode (raw_syscalls tracepoints) the kernel's records are used
 * instead and these call straight through. glibc's internal calls (stdio's
 * writes, sleep's nanosleep...) never reach a wrapper: see `ctrace run`'s
 * notes and the complete mode. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "preload.h"

/* The body of a wrapper of `name` whose result is negative on error:
 * `real_call` is the call, `nr` its syscall, `arg` the argument recorded. */
#define SPAN(type, nr, arg, real_call)                                                        \
  do {                                                                                        \
    if (!pl_on(PL_SYSCALLS))                                                                  \
      return real_call;                                                                       \
    uint64_t t0_ = pl_now();                                                                  \
    type r_ = real_call;                                                                      \
    /* inline, and it leaves errno alone */                                                   \
    ctrace__syscall_fast((nr), t0_, (uint64_t)(arg), r_ < 0 ? -(int64_t)errno : (int64_t)r_); \
    return r_;                                                                                \
  } while (0)

/* ---- read / write -------------------------------------------------------------- */
ssize_t read(int fd, void *buf, size_t n) {
  REAL(ssize_t, read, (int, void *, size_t));
  SPAN(ssize_t, SYS_read, fd, real_read(fd, buf, n));
}
ssize_t write(int fd, const void *buf, size_t n) {
  REAL(ssize_t, write, (int, const void *, size_t));
  SPAN(ssize_t, SYS_write, fd, real_write(fd, buf, n));
}
ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  REAL(ssize_t, pread, (int, void *, size_t, off_t));
  SPAN(ssize_t, SYS_pread64, fd, real_pread(fd, buf, n, off));
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off) {
  REAL(ssize_t, pread64, (int, void *, size_t, off_t));
  SPAN(ssize_t, SYS_pread64, fd, real_pread64(fd, buf, n, off));
}
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
  SPAN(ssize_t, SYS_pwrite64, fd, real_pwrite(fd, buf, n, off));
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t));
  SPAN(ssize_t, SYS_pwrite64, fd, real_pwrite64(fd, buf, n, off));
}
ssize_t readv(int fd, const struct iovec *iov, int n) {
  REAL(ssize_t, readv, (int, const struct iovec *, int));
  SPAN(ssize_t, SYS_readv, fd, real_readv(fd, iov, n));
}
ssize_t writev(int fd, const struct iovec *iov, int n) {
  REAL(ssize_t, writev, (int, const struct iovec *, int));
  SPAN(ssize_t, SYS_writev, fd, real_writev(fd, iov, n));
}

/* ---- sockets -------------------------------------------------------------------- */
ssize_t recv(int fd, void *buf, size_t n, int flags) {
  REAL(ssize_t, recv, (int, void *, size_t, int));
  SPAN(ssize_t, SYS_recvfrom, fd, real_recv(fd, buf, n, flags));
}
ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *a, socklen_t *al) {
  REAL(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *));
  SPAN(ssize_t, SYS_recvfrom, fd, real_recvfrom(fd, buf, n, flags, a, al));
}
ssize_t recvmsg(int fd, struct msghdr *m, int flags) {
  REAL(ssize_t, recvmsg, (int, struct msghdr *, int));
  SPAN(ssize_t, SYS_recvmsg, fd, real_recvmsg(fd, m, flags));
}
ssize_t send(int fd, const void *buf, size_t n, int flags) {
  REAL(ssize_t, send, (int, const void *, size_t, int));
  SPAN(ssize_t, SYS_sendto, fd, real_send(fd, buf, n, flags));
}
ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *a,
               socklen_t al) {
  REAL(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t));
  SPAN(ssize_t, SYS_sendto, fd, real_sendto(fd, buf, n, flags, a, al));
}
ssize_t sendmsg(int fd, const struct msghdr *m, int flags) {
  REAL(ssize_t, sendmsg, (int, const struct msghdr *, int));
  SPAN(ssize_t, SYS_sendmsg, fd, real_sendmsg(fd, m, flags));
}
int accept(int fd, struct sockaddr *a, socklen_t *al) {
  REAL(int, accept, (int, struct sockaddr *, socklen_t *));
  SPAN(int, SYS_accept, fd, real_accept(fd, a, al));
}
int accept4(int fd, struct sockaddr *a, socklen_t *al, int flags) {
  REAL(int, accept4, (int, struct sockaddr *, socklen_t *, int));
  SPAN(int, SYS_accept4, fd, real_accept4(fd, a, al, flags));
}
int connect(int fd, const struct sockaddr *a, socklen_t al) {
  REAL(int, connect, (int, const struct sockaddr *, socklen_t));
  SPAN(int, SYS_connect, fd, real_connect(fd, a, al));
}

/* ---- waiting for fds -------------------------------------------------------------- */
int poll(struct pollfd *fds, nfds_t n, int timeout) {
  REAL(int, poll, (struct pollfd *, nfds_t, int));
  SPAN(int, SYS_poll, n, real_poll(fds, n, timeout));
}
int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *t, const sigset_t *m) {
  REAL(int, ppoll, (struct pollfd *, nfds_t, const struct timespec *, const sigset_t *));
  SPAN(int, SYS_ppoll, n, real_ppoll(fds, n, t, m));
}
int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) {
  REAL(int, select, (int, fd_set *, fd_set *, fd_set *, struct timeval *));
  SPAN(int, SYS_select, n, real_select(n, r, w, e, t));
}
int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t, const sigset_t *m) {
  REAL(int, pselect,
       (int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *));
  SPAN(int, SYS_pselect6, n, real_pselect(n, r, w, e, t, m));
}
int epoll_wait(int fd, struct epoll_event *ev, int n, int timeout) {
  REAL(int, epoll_wait, (int, struct epoll_event *, int, int));
  SPAN(int, SYS_epoll_wait, fd, real_epoll_wait(fd, ev, n, timeout));
}
int epoll_pwait(int fd, struct epoll_event *ev, int n, int timeout, const sigset_t *m) {
  REAL(int, epoll_pwait, (int, struct epoll_event *, int, int, const sigset_t *));
  SPAN(int, SYS_epoll_pwait, fd, real_epoll_pwait(fd, ev, n, timeout, m));
}

/* ---- files ----------------------------------------------------------------------------- */
/* open and openat take a mode only with O_CREAT / O_TMPFILE. */
static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  REAL(int, open, (const char *, int, ...));
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  SPAN(int, SYS_openat, AT_FDCWD, real_open(path, flags, mode));
}
int open64(const char *path, int flags, ...) {
  REAL(int, open64, (const char *, int, ...));
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  SPAN(int, SYS_openat, AT_FDCWD, real_open64(path, flags, mode));
}
int openat(int dir, const char *path, int flags, ...) {
  REAL(int, openat, (int, const char *, int, ...));
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  SPAN(int, SYS_openat, dir, real_openat(dir, path, flags, mode));
}
int openat64(int dir, const char *path, int flags, ...) {
  REAL(int, openat64, (int, const char *, int, ...));
  va_list ap;
  va_start(ap, flags);
  mode_t mode = mode_arg(flags, ap);
  va_end(ap);
  SPAN(int, SYS_openat, dir, real_openat64(dir, path, flags, mode));
}
int creat(const char *path, mode_t mode) {
  REAL(int, creat, (const char *, mode_t));
  SPAN(int, SYS_openat, AT_FDCWD, real_creat(path, mode));
}
int close(int fd) {
  REAL(int, close, (int));
  SPAN(int, SYS_close, fd, real_close(fd));
}
int fsync(int fd) {
  REAL(int, fsync, (int));
  SPAN(int, SYS_fsync, fd, real_fsync(fd));
}
int fdatasync(int fd) {
  REAL(int, fdatasync, (int));
  SPAN(int, SYS_fdatasync, fd, real_fdatasync(fd));
}

/* ---- sleeping --------------------------------------------------------------------------- */
static uint64_t ts_ns(const struct timespec *t) {
  return t ? (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec : 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem) {
  REAL(int, nanosleep, (const struct timespec *, struct timespec *));
  SPAN(int, SYS_nanosleep, ts_ns(req), real_nanosleep(req, rem));
}
/* clock_nanosleep returns the error number instead of setting errno. */
int clock_nanosleep(clockid_t c, int flags, const struct timespec *req, struct timespec *rem) {
  REAL(int, clock_nanosleep, (clockid_t, int, const struct timespec *, struct timespec *));
  if (!pl_on(PL_SYSCALLS))
    return real_clock_nanosleep(c, flags, req, rem);
  uint64_t t0 = pl_now();
  int r = real_clock_nanosleep(c, flags, req, rem);
  int e = errno;
  ctrace__syscall(SYS_clock_nanosleep, t0, ts_ns(req), r ? -(int64_t)r : 0);
  errno = e;
  return r;
}
/* sleep and usleep reach the kernel through glibc's internal nanosleep,
 * which no wrapper sees: they are wrapped themselves. */
unsigned sleep(unsigned s) {
  REAL(unsigned, sleep, (unsigned));
  if (!pl_on(PL_SYSCALLS))
    return real_sleep(s);
  uint64_t t0 = pl_now();
  unsigned r = real_sleep(s);
  int e = errno;
  ctrace__syscall(SYS_clock_nanosleep, t0, (uint64_t)s * 1000000000u, r);
  errno = e;
  return r;
}
int usleep(useconds_t us) {
  REAL(int, usleep, (useconds_t));
  SPAN(int, SYS_clock_nanosleep, (uint64_t)us * 1000u, real_usleep(us));
}

/* ---- waiting for children ------------------------------------------------------------------ */
pid_t wait(int *status) {
  REAL(pid_t, wait, (int *));
  SPAN(pid_t, SYS_wait4, -1, real_wait(status));
}
pid_t waitpid(pid_t pid, int *status, int options) {
  REAL(pid_t, waitpid, (pid_t, int *, int));
  SPAN(pid_t, SYS_wait4, pid, real_waitpid(pid, status, options));
}
pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  REAL(pid_t, wait4, (pid_t, int *, int, struct rusage *));
  SPAN(pid_t, SYS_wait4, pid, real_wait4(pid, status, options, ru));
}
int waitid(idtype_t type, id_t id, siginfo_t *info, int options) {
  REAL(int, waitid, (idtype_t, id_t, siginfo_t *, int));
  SPAN(int, SYS_waitid, id, real_waitid(type, id, info, options));
}
