/* The control socket: tracing a running process on demand, as Go's
 * net/http/pprof serves /debug/pprof/trace?seconds=N.
 *
 * With CTRACE_CONTROL=PATH in its environment (%p in PATH is replaced by
 * the pid), a process that loads libctrace (linked, or through
 * libctrace-preload.so) listens on a unix stream socket at PATH from its
 * constructor on, and one thread of the tracer's ("ctrace-control") serves
 * the commands of the protocol (common.h): `record SECONDS PATH` starts a session
 * and stops it SECONDS later, `stop`, `dump [PATH]` (the flight recorder),
 * `status`. The thread never records and is declared in traces as the
 * tracer's (ctrace__own_tid_add), like the writer.
 *
 * Who may connect: the socket is created mode 0600 (bound under a
 * temporary name, chmod'ed, then renamed into place, so no umask of the
 * process is touched) in a directory that others cannot write to (or that
 * is sticky, like /tmp), and every connection's peer (SO_PEERCRED) must
 * have the process's effective uid: anyone else, root included, gets
 * "error: permission denied". Root's `ctrace record` connects with the
 * target's uid instead (viewer/cli/control_client.c). A file that is not a socket is
 * never replaced; a socket that another process listens on neither (a
 * child that inherited the variable goes without, silently: a program
 * must not see its output change; %p gives each process its own).
 * The socket is removed at exit (also at _exit under the preload, from
 * ctrace__stop_before_exit); one left by a killed process is replaced by
 * the next one that finds nobody listening.
 *
 * Under the preload, the wrappers' functions are looked up here, before
 * the thread starts (the deadlock lesson of tracer/runtime/lttng.c: a lazy lookup
 * needs the loader's lock). A forked child closes the inherited socket and
 * has no control thread; an exec'd program opens its own (with %p, at its
 * own path). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

typedef struct conn {
  int fd; /* -1: a free slot */
  size_t len;
  uint64_t deadline; /* CLOCK_MONOTONIC ns: the command must be in by then */
  char buf[CTRACE__CONTROL_LINE_MAX];
} conn;

static struct {
  /* Set by the constructor before the thread starts, read-only after. */
  pid_t pid;     /* the process that owns the socket (0: none) */
  int lfd, wake; /* listening socket; eventfd: the process exits */
  dev_t dev;     /* the socket file made, to remove only that one */
  ino_t ino;
  char path[SUN_PATH_MAX];
  int wrappers; /* libctrace-preload.so is loaded */

  pthread_mutex_t mu; /* quit and finished: the exit handshake */
  pthread_cond_t cv;
  int quit, finished;

  /* Set in the control thread only; read (relaxed) by a forked child's
   * handler to know it inherited an on-demand session. */
  _Atomic int recording;
  int inherited; /* (a forked child's) */

  /* The control thread's own. */
  conn conns[CTRACE__CONTROL_CONNS];
  int rec_fd; /* the client of the recording (-1 once it went away) */
  uint32_t rec_gen;
  uint64_t rec_start, rec_end;
  double rec_seconds;
  char rec_path[PATH_MAX];
} ctl = {.lfd = -1,
         .wake = -1,
         .mu = PTHREAD_MUTEX_INITIALIZER,
         .cv = PTHREAD_COND_INITIALIZER,
         .rec_fd = -1};

/* ---- Replies ------------------------------------------------------------------------- */

/* One line (or a few) to a client; never blocks, never raises SIGPIPE:
 * replies are short, and a client that does not read loses them. */
static void reply(int fd, const char *fmt, ...) CTRACE__PRINTF(2, 3);
static void reply(int fd, const char *fmt, ...) {
  char b[PATH_MAX + 512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (fd < 0 || n <= 0)
    return;
  size_t len = (size_t)n < sizeof b ? (size_t)n : sizeof b - 1, off = 0;
  while (off < len) {
    ssize_t w = send(fd, b + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    off += (size_t)w;
  }
}

static void conn_close(conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  c->len = 0;
}

/* ---- Recording ---------------------------------------------------------------------------- */

/* Ends the recording `record` started: stops the session (unless the
 * program, or an exec, stopped it already), tells the recording's client
 * ("note" lines first, if any, then "done PATH BYTES DROPPED") and writes
 * that last line into done (for a `stop` command's reply). */
static void finish_recording(const char *note, char *done, size_t donelen) {
  int r = 0, stopped_before = 0;
  /* (The generation is checked first: a session the program started after
   * ours ended is not ours to stop.) */
  if (ctrace__session_gen() == ctl.rec_gen && ctrace_active()) {
    r = ctrace_stop();
    if (r == CTRACE_ENOTACTIVE)
      stopped_before = 1, r = 0;
  } else {
    stopped_before = 1;
  }
  struct stat st;
  unsigned long long bytes = stat(ctl.rec_path, &st) == 0 ? (unsigned long long)st.st_size : 0;
  unsigned long long dropped = (unsigned long long)ctrace_dropped_events();
  char line[PATH_MAX + 128];
  snprintf(line, sizeof line, "done %s %llu %llu\n", ctl.rec_path, bytes, dropped);
  if (note)
    reply(ctl.rec_fd, "note: %s\n", note);
  if (stopped_before)
    reply(ctl.rec_fd,
          "note: the session had been stopped already (by the program, or an "
          "exec), after less than the %g s asked\n",
          ctl.rec_seconds);
  if (r && r != CTRACE_ELOST)
    reply(ctl.rec_fd, "error: writing %s failed: %s\n", ctl.rec_path, ctrace_strerror(r));
  else
    reply(ctl.rec_fd, "%s", line);
  if (ctl.rec_fd >= 0)
    close(ctl.rec_fd);
  ctl.rec_fd = -1;
  atomic_store_explicit(&ctl.recording, 0, memory_order_relaxed);
  if (done)
    snprintf(done, donelen, "%s", r && r != CTRACE_ELOST ? "" : line);
}

/* ---- Commands ---------------------------------------------------------------------------------- */

static const char commands[] = "record, stop, dump, status, stacks";

/* If a session records already, says so to fd. @return 1 if it does. */
static int already(int fd, char *cur, size_t len) {
  int on = ctrace__session_describe(cur, len);
  if (on == 2)
    reply(fd,
          "error: already tracing: the flight recorder records (dumps go to %s; `dump` "
          "writes one)\n",
          cur);
  else if (on)
    reply(fd, "error: already tracing to %s\n", cur[0] ? cur : "(a file not created yet)");
  return on != 0;
}

/* `record SECONDS PATH`: starts a session to PATH that ends SECONDS later
 * (or at `stop`, or when the client goes away). @return 1 if c became the
 * recording's client. */
static int cmd_record(conn *c, char *args) {
  char cur[PATH_MAX];
  char *end;
  errno = 0;
  double secs = strtod(args, &end);
  if (end == args || errno || !(secs > 0) || secs > CTRACE__CONTROL_MAX_SECONDS ||
      (*end != ' ' && *end != '\t' && *end)) {
    reply(c->fd,
          "error: record: SECONDS must be a number of seconds, more than 0 and at "
          "most %g (record SECONDS PATH)\n",
          CTRACE__CONTROL_MAX_SECONDS);
    return 0;
  }
  while (*end == ' ' || *end == '\t')
    end++;
  if (!*end) {
    reply(c->fd, "error: record: missing PATH (record SECONDS PATH)\n");
    return 0;
  }
  if (atomic_load_explicit(&ctl.recording, memory_order_relaxed)) {
    reply(c->fd, "error: already tracing to %s (a record of %g s; `stop` ends it)\n", ctl.rec_path,
          ctl.rec_seconds);
    return 0;
  }
  if (already(c->fd, cur, sizeof cur))
    return 0;
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = end;
  o.mode = CTRACE_MODE_FILE; /* (whatever $CTRACE_MODE says) */
  uint32_t gen;
  /* As a program thread would: the session's start is the tracer's
   * work anyway (its start span names this thread). */
  ctrace__tls.guard = 0;
  int r = ctrace__start_on_demand(&o, &gen);
  ctrace__tls.guard = 1;
  if (r == CTRACE_EBUSY && already(c->fd, cur, sizeof cur))
    return 0;
  if (r) {
    reply(c->fd, "error: cannot trace to %s: %s\n", end, ctrace_strerror(r));
    return 0;
  }
  snprintf(ctl.rec_path, sizeof ctl.rec_path, "%s", end);
  ctl.rec_gen = gen;
  ctl.rec_seconds = secs;
  ctl.rec_start = ctrace__mono_ns();
  ctl.rec_end = ctl.rec_start + (uint64_t)(secs * 1e9);
  ctl.rec_fd = c->fd;
  atomic_store_explicit(&ctl.recording, 1, memory_order_relaxed);
  reply(c->fd, "ok %s\n", ctl.rec_path);
  c->fd = -1; /* (now the recording's) */
  c->len = 0;
  return 1;
}

/* `stop`: ends the recording `record` started, early. */
static void cmd_stop(conn *c) {
  char cur[PATH_MAX];
  if (atomic_load_explicit(&ctl.recording, memory_order_relaxed)) {
    char done[PATH_MAX + 128];
    finish_recording("stopped early by a `stop` command", done, sizeof done);
    if (done[0])
      reply(c->fd, "%s", done);
    else
      reply(c->fd, "error: writing %s failed\n", ctl.rec_path);
  } else if (ctrace__session_describe(cur, sizeof cur)) {
    reply(c->fd,
          "error: not recording: the session that records (to %s) was not started "
          "by `record` (it stops with the process)\n",
          cur[0] ? cur : "a file not created yet");
  } else {
    reply(c->fd, "error: not recording\n");
  }
}

/* `dump [PATH]`: the flight recorder's window, to PATH or the next name. */
static void cmd_dump(conn *c, const char *args) {
  char chosen[PATH_MAX] = "";
  int r = ctrace__flight_dump_path(*args ? args : NULL, chosen, sizeof chosen);
  if (r)
    reply(c->fd, "error: dump: %s\n", ctrace_strerror(r));
  else
    reply(c->fd, "ok %s\n", chosen[0] ? chosen : args);
}

/* `status`: one line of key=value. */
static void cmd_status(conn *c) {
  char cur[PATH_MAX];
  int on = ctrace__session_describe(cur, sizeof cur);
  int rec = atomic_load_explicit(&ctl.recording, memory_order_relaxed);
  double left = 0;
  if (rec) {
    uint64_t now = ctrace__mono_ns();
    left = now < ctl.rec_end ? (double)(ctl.rec_end - now) / 1e9 : 0;
  }
  reply(c->fd, "ok pid=%d tracing=%s left=%.3f wrappers=%s path=%s\n", (int)getpid(),
        rec       ? "record"
        : on == 2 ? "flight"
        : on      ? "file"
                  : "no",
        left, ctl.wrappers ? "yes" : "no", on ? cur : "");
}

/* Anything else: named back (printable, at most 64 bytes of it). */
static void cmd_unknown(conn *c, const char *line) {
  if (!*line) {
    reply(c->fd, "error: empty command (%s)\n", commands);
    return;
  }
  char shown[68];
  size_t k = 0;
  for (; line[k] && k < 64; k++)
    shown[k] = line[k] >= 0x20 && line[k] < 0x7f ? line[k] : '?';
  shown[k] = '\0';
  reply(c->fd, "error: unknown command '%s%s' (%s)\n", shown, line[k] ? "..." : "", commands);
}

/* Handles one command line from c. @return 1 if c became the recording's
 * client (kept open), 0 if it is done (the caller closes it). */
static int handle(conn *c, char *line) {
  while (*line == ' ' || *line == '\t')
    line++;
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
    line[--n] = '\0';
  char *args = line + strcspn(line, " \t");
  if (*args)
    *args++ = '\0';
  while (*args == ' ' || *args == '\t')
    args++;

  if (!strcmp(line, "record"))
    return cmd_record(c, args);
  if (!strcmp(line, "stop"))
    cmd_stop(c);
  else if (!strcmp(line, "dump"))
    cmd_dump(c, args);
  else if (!strcmp(line, "status"))
    cmd_status(c);
  else if (!strcmp(line, "stacks"))
    ctrace__stacks_serve(c->fd);
  else
    cmd_unknown(c, line);
  return 0;
}

/* Reads what c sent; handles the command once its line is complete (or
 * the client shut its side). @return 1 if c stays open. */
static int conn_read(conn *c) {
  for (;;) {
    size_t room = sizeof c->buf - 1 - c->len;
    ssize_t n = room ? read(c->fd, c->buf + c->len, room) : 0;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK;
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    char *nl = memchr(c->buf, '\n', c->len);
    if (nl) {
      *nl = '\0';
      return handle(c, c->buf);
    }
    if (c->len >= sizeof c->buf - 1) {
      reply(c->fd, "error: command line too long (at most %d bytes)\n",
            CTRACE__CONTROL_LINE_MAX - 1);
      return 0;
    }
    if (n == 0) /* shut down without a newline: what came is the command */
      return c->len ? handle(c, c->buf) : 0;
  }
}

/* A new connection: its peer must be this process's user. */
static void accept_all(uint64_t now) {
  for (;;) {
    int fd = accept4(ctl.lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if (errno == EMFILE || errno == ENFILE) { /* the rest wait in the backlog */
        struct timespec ts = {0, 100000000};    /* (poll would say "ready" at once) */
        nanosleep(&ts, NULL);
      }
      return; /* EAGAIN */
    }
    struct ucred uc;
    socklen_t l = sizeof uc;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) != 0) {
      reply(fd, "error: permission denied: cannot read the peer's credentials: %s\n",
            strerror(errno));
      close(fd);
      continue;
    }
    if (uc.uid != geteuid()) {
      reply(fd, "error: permission denied: peer uid %u is not the owner (uid %u)\n",
            (unsigned)uc.uid, (unsigned)geteuid());
      close(fd);
      continue;
    }
    conn *c = NULL;
    for (int i = 0; i < CTRACE__CONTROL_CONNS && !c; i++)
      if (ctl.conns[i].fd < 0)
        c = &ctl.conns[i];
    if (!c) {
      reply(fd, "error: busy: %d connections are open already\n", CTRACE__CONTROL_CONNS);
      close(fd);
      continue;
    }
    c->fd = fd;
    c->len = 0;
    c->deadline = now + CTRACE__CONTROL_READ_MS * 1000000ull;
  }
}

static int quitting(void) {
  pthread_mutex_lock(&ctl.mu);
  int q = ctl.quit;
  pthread_mutex_unlock(&ctl.mu);
  return q;
}

/* The fds to wait on (who: -1 wake, -2 listen, -3 recording, else a conn's
 * index) and the poll timeout to the next deadline. @return their number. */
static int poll_set(struct pollfd *pf, int *who, uint64_t now, int *timeout) {
  int n = 0;
  uint64_t next = UINT64_MAX;
  pf[n] = (struct pollfd){ctl.wake, POLLIN, 0}, who[n++] = -1;
  pf[n] = (struct pollfd){ctl.lfd, POLLIN, 0}, who[n++] = -2;
  if (atomic_load_explicit(&ctl.recording, memory_order_relaxed)) {
    next = ctl.rec_end;
    if (ctl.rec_fd >= 0)
      pf[n] = (struct pollfd){ctl.rec_fd, POLLIN, 0}, who[n++] = -3;
  }
  for (int i = 0; i < CTRACE__CONTROL_CONNS; i++)
    if (ctl.conns[i].fd >= 0) {
      pf[n] = (struct pollfd){ctl.conns[i].fd, POLLIN, 0}, who[n++] = i;
      if (ctl.conns[i].deadline < next)
        next = ctl.conns[i].deadline;
    }
  *timeout = -1;
  if (next != UINT64_MAX)
    *timeout = next <= now ? 0 : (int)((next - now + 999999) / 1000000);
  return n;
}

/* The recording's client sent `stop`, or went away: the recording ends now
 * (^C on `ctrace record` leaves a complete trace). */
static void rec_client_ready(void) {
  char b[256];
  ssize_t r = read(ctl.rec_fd, b, sizeof b - 1);
  if (r < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (r > 0) {
    b[r] = '\0';
    if (!strstr(b, "stop"))
      return; /* (anything else is ignored while recording) */
    finish_recording("stopped early by the client", NULL, 0);
  } else {
    close(ctl.rec_fd);
    ctl.rec_fd = -1;
    finish_recording(NULL, NULL, 0);
  }
}

/* The recording's time is up; connections that sent no command in time
 * are closed. */
static void expire(uint64_t now) {
  if (atomic_load_explicit(&ctl.recording, memory_order_relaxed) && now >= ctl.rec_end)
    finish_recording(NULL, NULL, 0);
  for (int i = 0; i < CTRACE__CONTROL_CONNS; i++) {
    conn *c = &ctl.conns[i];
    if (c->fd >= 0 && now >= c->deadline) {
      reply(c->fd, "error: timeout: no command line within %d ms\n", CTRACE__CONTROL_READ_MS);
      conn_close(c);
    }
  }
}

/* One wait, and what it brought. */
static void serve_once(void) {
  struct pollfd pf[3 + CTRACE__CONTROL_CONNS];
  int who[3 + CTRACE__CONTROL_CONNS];
  int timeout;
  int n = poll_set(pf, who, ctrace__mono_ns(), &timeout);
  if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR) {
    struct timespec ts = {0, 10000000}; /* (cannot happen; never spin) */
    nanosleep(&ts, NULL);
  }
  uint64_t now = ctrace__mono_ns();
  for (int k = 0; k < n; k++) {
    if (!pf[k].revents)
      continue;
    if (who[k] == -1) {
      eventfd_t v;
      eventfd_read(ctl.wake, &v);
    } else if (who[k] == -2) {
      accept_all(now);
    } else if (who[k] == -3) {
      rec_client_ready();
    } else {
      conn *c = &ctl.conns[who[k]];
      if (c->fd >= 0 && !conn_read(c))
        conn_close(c);
    }
  }
  expire(now);
}

/* The process exits: the recording ends (a complete trace), every client
 * is told, and the exiting thread hears that this one is done (it removes
 * the socket). */
static void control_exiting(void) {
  if (atomic_load_explicit(&ctl.recording, memory_order_relaxed)) {
    char note[128];
    snprintf(note, sizeof note, "the process is exiting: recorded %.3f s of the %g s asked",
             (double)(ctrace__mono_ns() - ctl.rec_start) / 1e9, ctl.rec_seconds);
    finish_recording(note, NULL, 0);
  }
  for (int i = 0; i < CTRACE__CONTROL_CONNS; i++) {
    if (ctl.conns[i].fd >= 0)
      reply(ctl.conns[i].fd, "error: the process is exiting\n");
    conn_close(&ctl.conns[i]);
  }
  pthread_mutex_lock(&ctl.mu);
  ctl.finished = 1;
  pthread_cond_broadcast(&ctl.cv);
  pthread_mutex_unlock(&ctl.mu);
}

static void *control_main(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  ctrace__tls.guard = 1; /* never records; its calls pass the wrappers straight */
  prctl(PR_SET_NAME, "ctrace-control", 0, 0, 0);
  ctrace__own_tid_add(ctrace__tid());

  while (!quitting())
    serve_once();
  control_exiting();
  /* The process ends with this thread in it: an exiting thread would race
   * with the exit (LeakSanitizer took the dlerror buffer of its dlsym, freed
   * by the thread's exit, for a leak). */
  for (;;)
    pause(); /* (every signal is blocked: never returns) */
  return NULL;
}

/* ---- The socket --------------------------------------------------------------------------------- */

/* PATH with %p replaced by the pid (%% by %), made absolute (the process
 * may chdir before it exits and removes it). @return 0, or -1 with err. */
static int expand_path(const char *spec, char *out, size_t len, char *err, size_t errlen) {
  char b[PATH_MAX];
  size_t k = 0;
  for (const char *p = spec; *p && k < sizeof b - 16; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      k += (size_t)snprintf(b + k, sizeof b - k, "%d", (int)getpid());
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      b[k++] = '%';
      p++;
    } else {
      b[k++] = *p;
    }
  }
  b[k] = '\0';
  char full[2 * PATH_MAX + 2];
  if (b[0] == '/') {
    snprintf(full, sizeof full, "%s", b);
  } else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
      snprintf(err, errlen, "getcwd: %s", strerror(errno));
      return -1;
    }
    snprintf(full, sizeof full, "%s/%s", cwd, b);
  }
  /* The temporary name it is bound under is 24 bytes longer. */
  if (strlen(full) + 24 >= len) {
    snprintf(err, errlen, "the path is too long for a unix socket (%zu bytes, at most %zu)",
             strlen(full), len - 25);
    return -1;
  }
  snprintf(out, len, "%s", full);
  return 0;
}

/* The directory must not let others replace the socket. */
static int check_dir(const char *path, char *err, size_t errlen) {
  char dir[SUN_PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  struct stat st;
  if (stat(dir, &st) != 0) {
    snprintf(err, errlen, "directory %s: %s", dir, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a directory", dir);
    return -1;
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    snprintf(err, errlen, "directory %s belongs to uid %u: it could replace the socket", dir,
             (unsigned)st.st_uid);
    return -1;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
    snprintf(err, errlen,
             "directory %s is writable by others (mode %03o, not sticky): they "
             "could replace the socket",
             dir, (unsigned)(st.st_mode & 07777));
    return -1;
  }
  return 0;
}

static int try_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  int r = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : -errno;
  close(fd);
  return r;
}

/* Binds and listens at ctl.path. @return 0, -1 with err, or 1 if another
 * process listens there already. */
static int control_listen(char *err, size_t errlen) {
  const char *path = ctl.path;
  if (check_dir(path, err, errlen))
    return -1;
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      snprintf(err, errlen, "%s exists and is not a socket: not replacing it", path);
      return -1;
    }
    if (st.st_uid != geteuid()) {
      snprintf(err, errlen, "%s is a socket of uid %u", path, (unsigned)st.st_uid);
      return -1;
    }
    int r = try_connect(path);
    if (r == 0)
      return 1; /* another process listens there: most likely the one that
                   passed CTRACE_CONTROL on to this one (its child) */
    if (r != -ECONNREFUSED) {
      snprintf(err, errlen, "%s: %s", path, strerror(-r));
      return -1;
    }
    unlink(path); /* left by a process that is gone */
  } else if (errno != ENOENT) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    snprintf(err, errlen, "socket: %s", strerror(errno));
    return -1;
  }
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  const char *what = "bind";
  int n = snprintf(a.sun_path, sizeof a.sun_path, "%s.%d.tmp", path, (int)getpid());
  if (n < 0 || (size_t)n >= sizeof a.sun_path) {
    errno = ENAMETOOLONG;
    goto fail;
  }
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
    goto fail;
  what = "chmod";
  if (chmod(a.sun_path, 0600) != 0)
    goto fail_bound;
  what = "listen";
  if (listen(fd, 16) != 0)
    goto fail_bound;
  what = "rename";
  if (rename(a.sun_path, path) != 0)
    goto fail_bound;
  if (lstat(path, &st) == 0) {
    ctl.dev = st.st_dev;
    ctl.ino = st.st_ino;
  }
  ctl.lfd = fd;
  return 0;
fail_bound:;
  int e = errno;
  unlink(a.sun_path);
  errno = e;
fail:
  snprintf(err, errlen, "%s %s: %s", what, what[0] == 'r' ? path : a.sun_path, strerror(errno));
  close(fd);
  return -1;
}

void ctrace__control_exit(void) {
  if (!ctl.pid || ctl.pid != getpid())
    return;
  struct stat st;
  if (lstat(ctl.path, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
    unlink(ctl.path);
}

/* A forked child: the socket and the thread are the parent's. */
static void control_fork_child(void) {
  if (ctl.lfd >= 0)
    close(ctl.lfd);
  if (ctl.wake >= 0)
    close(ctl.wake);
  ctl.lfd = ctl.wake = -1;
  for (int i = 0; i < CTRACE__CONTROL_CONNS; i++)
    conn_close(&ctl.conns[i]); /* (copies: the parent's thread serves them) */
  if (ctl.rec_fd >= 0)
    close(ctl.rec_fd);
  ctl.rec_fd = -1;
  pthread_mutex_init(&ctl.mu, NULL);
  pthread_cond_init(&ctl.cv, NULL);
  /* A record in progress: its session restarts here in FILE.PID (session.c)
   * and is stopped at exit, below. */
  ctl.inherited = atomic_load_explicit(&ctl.recording, memory_order_relaxed);
}

__attribute__((constructor)) static void control_init(void) {
  const char *spec = getenv(CTRACE__CONTROL_ENV);
  if (!spec || !*spec)
    return;
  char err[PATH_MAX + 256];
  int r = expand_path(spec, ctl.path, sizeof ctl.path, err, sizeof err);
  if (!r)
    r = control_listen(err, sizeof err);
  if (r < 0)
    fprintf(stderr, "ctrace: %s=%s: %s; no control socket\n", CTRACE__CONTROL_ENV, spec, err);
  if (r) /* (1: in use; says nothing, the child of a process that has it would
            say it at every exec: give each its own with %p) */
    return;
  ctl.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ctl.wake < 0) {
    fprintf(stderr, "ctrace: %s: eventfd: %s; no control socket\n", CTRACE__CONTROL_ENV,
            strerror(errno));
    close(ctl.lfd);
    unlink(ctl.path);
    ctl.lfd = -1;
    return;
  }
  ctl.wrappers = dlsym(RTLD_DEFAULT, "ctrace_preload_present") != NULL;
  /* The wrappers look up what they wrap now, not lazily in the control
   * thread (see tracer/runtime/lttng.c). */
  void (*resolve_all)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "ctrace_preload_resolve_all");
  if (resolve_all)
    resolve_all();
  ctl.pid = getpid();
  for (int i = 0; i < CTRACE__CONTROL_CONNS; i++)
    ctl.conns[i].fd = -1;
  pthread_atfork(NULL, NULL, control_fork_child);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 256 * 1024);
  pthread_t t;
  ctrace__tls.guard++; /* (thread creation is not the program's) */
  r = pthread_create(&t, &a, control_main, NULL);
  ctrace__tls.guard--;
  pthread_attr_destroy(&a);
  if (r) {
    fprintf(stderr, "ctrace: %s: cannot start the control thread: %s\n", CTRACE__CONTROL_ENV,
            strerror(r));
    ctrace__control_exit();
    ctl.pid = 0;
  }
}

/* At exit: the control thread ends a recording in progress (so the trace
 * is complete and its client hears of it) and closes its connections; then
 * the socket goes. */
__attribute__((destructor)) static void control_fini(void) {
  if (ctl.pid && ctl.pid != getpid()) {
    if (ctl.inherited && ctrace_active())
      ctrace_stop(); /* a forked child's copy of a record */
    return;
  }
  if (!ctl.pid)
    return;
  ctrace__tls.guard++;
  pthread_mutex_lock(&ctl.mu);
  ctl.quit = 1;
  eventfd_write(ctl.wake, 1);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10; /* (a stop drains the buffers: well under that) */
  while (!ctl.finished)
    if (pthread_cond_timedwait(&ctl.cv, &ctl.mu, &until) == ETIMEDOUT)
      break;
  pthread_mutex_unlock(&ctl.mu);
  ctrace__control_exit();
  ctrace__tls.guard--;
}
