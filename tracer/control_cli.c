/* `ctrace record` and `ctrace dump`: the client of the control socket
 * (tracer/control.h, served by tracer/control.c in the traced process).
 *
 * ctrace record --pid PID [--seconds N] [-o FILE] [--socket PATH]
 * ctrace dump --pid PID [-o FILE] [--socket PATH]   (or: ctrace dump PID)
 *
 * The socket is --socket, else the CTRACE_CONTROL of the process's
 * environment (/proc/PID/environ, readable by its user and root), with %p
 * replaced by PID. Root asking about another user's process connects with
 * that user's uid (seteuid), as the process accepts only its own user. The
 * trace is written by the process itself, so FILE is made absolute here
 * and must be writable by the process's user. `dump` without a socket
 * sends SIGUSR2, on which a process in flight mode writes its flight dump
 * (only to a process that catches SIGUSR2: to others it would be fatal). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "control.h"
#include "flight.h"
#include "reader.h"

static const char record_usage[] =
    "usage: ctrace record --pid PID [--seconds N] [-o FILE] [--socket PATH]\n"
    "  Traces a running process for N seconds (default 5) into FILE (default\n"
    "  PID.ctrace), through its control socket: the process must run with\n"
    "  CTRACE_CONTROL=PATH and libctrace loaded (linked, or by ctrace run --control).\n"
    "  The process writes FILE itself. ^C stops the recording early.\n"
    "  --socket PATH     the socket (default: CTRACE_CONTROL from the process's\n"
    "                    environment, %p replaced by PID)\n";

static const char dump_usage[] =
    "usage: ctrace dump --pid PID [-o FILE] [--socket PATH]   (or: ctrace dump PID)\n"
    "  Dumps the flight recorder's ring of a running process: through its control\n"
    "  socket if it has one (to FILE, or its default flight dump path), else by\n"
    "  sending it SIGUSR2 (then to its default path).\n";

/* ---- The process -------------------------------------------------------------------------- */

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_pid(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  return errno || end == s || *end || v <= 0 || v > INT32_MAX ? -1 : (int)v;
}

/* Name's value in /proc/PID/environ (the environment the process started
 * with). @return 1 found, 0 not there, -errno if unreadable. */
static int proc_env(int pid, const char *name, char *out, size_t len) {
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
static long proc_euid(int pid) {
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
static int proc_catches(int pid, int sig) {
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

static int proc_alive(int pid) { return kill(pid, 0) == 0 || errno == EPERM; }

/* PATH with %p replaced by pid (%% by %), as the process expanded it. */
static void expand(const char *spec, int pid, char *out, size_t len) {
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

/* The process's control socket: --socket, else its CTRACE_CONTROL. 0, or
 * 1 with a message printed. */
static int find_socket(const char *cmd, int pid, const char *given, char *out, size_t len) {
  if (given) {
    expand(given, pid, out, len);
    return 0;
  }
  char spec[PATH_MAX];
  int r = proc_env(pid, CTRACE__CONTROL_ENV, spec, sizeof spec);
  if (r < 0) {
    fprintf(stderr, "ctrace %s: cannot read the environment of process %d (/proc/%d/environ: "
                    "%s)%s; give the socket with --socket PATH\n", cmd, pid, pid, strerror(-r),
            r == -EACCES ? ": another user's process" : "");
    return 1;
  }
  if (r == 0 || !spec[0]) {
    fprintf(stderr, "ctrace %s: process %d has no control socket: it was not started with "
                    "%s=PATH (e.g. ctrace run --control PATH --no-record -- PROG)\n",
            cmd, pid, CTRACE__CONTROL_ENV);
    return 1;
  }
  expand(spec, pid, out, len);
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

/* Connects to the process's socket (with its uid when we are root and it
 * is not), and checks that the process listening is pid. @return the fd,
 * or -1 with a message printed. */
static int connect_to(const char *cmd, int pid, const char *path) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) {
    fprintf(stderr, "ctrace %s: %s: too long for a unix socket path\n", cmd, path);
    return -1;
  }
  snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "ctrace %s: socket: %s\n", cmd, strerror(errno));
    return -1;
  }
  long uid = proc_euid(pid);
  int as_target = geteuid() == 0 && uid > 0;
  if (as_target && seteuid((uid_t)uid) != 0) {
    fprintf(stderr, "ctrace %s: cannot take uid %ld of process %d: %s\n", cmd, uid, pid,
            strerror(errno));
    close(fd);
    return -1;
  }
  int r = connect(fd, (struct sockaddr *)&a, sizeof a), e = errno;
  if (as_target && seteuid(0) != 0) {
    fprintf(stderr, "ctrace %s: cannot return to uid 0: %s\n", cmd, strerror(errno));
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
    fprintf(stderr, "ctrace %s: cannot connect to %s: %s\n", cmd, path, why);
    close(fd);
    return -1;
  }
  struct ucred uc;
  socklen_t l = sizeof uc;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) == 0 && uc.pid != pid) {
    fprintf(stderr, "ctrace %s: %s is the control socket of process %d, not of %d\n", cmd, path,
            (int)uc.pid, pid);
    close(fd);
    return -1;
  }
  return fd;
}

void ctrace__control_cleanup(const char *spec, int pid) {
  char path[PATH_MAX];
  expand(spec, pid, path, sizeof path);
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

typedef struct lines {
  int fd;
  char buf[PATH_MAX + 1024];
  size_t len;
} lines;

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) {
  if (interrupted) { /* a second ^C: the process ends the recording by itself */
    signal(sig, SIG_DFL);
    raise(sig);
  }
  interrupted = 1;
}

/* The next reply line into out (without its newline). @return 1, 0 at
 * end of stream, -ETIMEDOUT past deadline_ms, -EINTR on ^C (once), or
 * -errno. */
static int next_line(lines *l, char *out, size_t len, uint64_t deadline_ms) {
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
    uint64_t now = mono_ms();
    if (now >= deadline_ms)
      return -ETIMEDOUT;
    struct pollfd pf = {l->fd, POLLIN, 0};
    int r = poll(&pf, 1, (int)(deadline_ms - now));
    if (r < 0 && errno == EINTR) {
      if (interrupted == 1) {
        interrupted = 2;
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

static int send_line(int fd, const char *line) {
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

static void absolute(const char *path, char *out, size_t len) {
  char cwd[PATH_MAX];
  if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
    snprintf(out, len, "%s", path);
  else
    if (snprintf(out, len, "%s/%s", cwd, path) >= (int)len)
      snprintf(out, len, "%s", path);
}

/* ---- ctrace record ------------------------------------------------------------------------------ */

/* Events in the trace and the time they span. @return 0, or -1 with err. */
static int count_events(const char *path, uint64_t *events, double *span, int *complete,
                        char *err, size_t errlen) {
  rd_trace *tr;
  if (rd_open(path, 0, &tr, err, errlen))
    return -1;
  rd_merge *m = rd_merge_open(tr);
  uint64_t n = 0, first = 0, last = 0;
  rd_event ev;
  while (m && rd_merge_next(m, &ev) == 1) {
    if (!n++)
      first = ev.ts;
    last = ev.ts;
  }
  rd_merge_close(m);
  *events = n;
  *span = n ? (double)(last - first) / 1e9 : 0;
  *complete = rd_complete(tr);
  if (rd_problem(tr))
    snprintf(err, errlen, "%s", rd_problem(tr));
  rd_close(tr);
  return 0;
}

/* ctrace record, from its options to its report: what each step leaves
 * for the next. */
typedef struct record_state {
  int pid;                /* --pid PID, or PID */
  double seconds;         /* --seconds N */
  const char *out, *sock; /* -o FILE, --socket PATH */
  char file[PATH_MAX];    /* FILE, absolute; at the end as the process named it */
  lines l;                /* the connection, and what was read ahead on it */
  unsigned long long bytes, dropped; /* as the process reported them */
  double took;            /* seconds from the start to the end of the recording */
} record_state;

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int record_parse(int argc, char **argv, record_state *s) {
  enum { O_PID = 1000, O_SECONDS, O_SOCKET };
  static const struct option opts[] = {{"pid", required_argument, NULL, O_PID},
                                       {"seconds", required_argument, NULL, O_SECONDS},
                                       {"output", required_argument, NULL, 'o'},
                                       {"socket", required_argument, NULL, O_SOCKET},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  memset(s, 0, sizeof *s);
  s->pid = -1;
  s->seconds = 5;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_PID:
      if ((s->pid = parse_pid(optarg)) < 0) {
        fprintf(stderr, "ctrace record: --pid %s: not a process id\n%s", optarg, record_usage);
        return 2;
      }
      break;
    case O_SECONDS: {
      char *end;
      s->seconds = strtod(optarg, &end);
      if (end == optarg || *end || !(s->seconds > 0) ||
          s->seconds > CTRACE__CONTROL_MAX_SECONDS) {
        fprintf(stderr, "ctrace record: --seconds %s: a number of seconds, more than 0 and at "
                        "most %g\n%s", optarg, CTRACE__CONTROL_MAX_SECONDS, record_usage);
        return 2;
      }
      break;
    }
    case 'o': s->out = optarg; break;
    case O_SOCKET: s->sock = optarg; break;
    case 'h': fputs(record_usage, stdout); return 0;
    default:
      fprintf(stderr, "ctrace record: %s '%s'\n%s",
              optopt ? "option needs an argument:" : "unknown option", argv[optind - 1],
              record_usage);
      return 2;
    }
  }
  if (optind < argc && s->pid < 0 && (s->pid = parse_pid(argv[optind])) > 0)
    optind++; /* (ctrace record PID, as ctrace dump PID) */
  if (s->pid < 0 || optind < argc) {
    fprintf(stderr, "ctrace record: %s\n%s",
            s->pid < 0 ? "missing --pid PID" : "too many arguments", record_usage);
    return 2;
  }
  return -1;
}

/* FILE made absolute (the process writes it) and the process's control
 * socket connected (s->l.fd). @return 0, or 1 with a message printed. */
static int record_connect(record_state *s) {
  if (!proc_alive(s->pid)) {
    fprintf(stderr, "ctrace record: no such process: %d\n", s->pid);
    return 1;
  }
  char path[PATH_MAX], defname[64];
  if (find_socket("record", s->pid, s->sock, path, sizeof path))
    return 1;
  const char *out = s->out;
  if (!out) {
    snprintf(defname, sizeof defname, "%d.ctrace", s->pid);
    out = defname;
  }
  absolute(out, s->file, sizeof s->file);
  int fd = connect_to("record", s->pid, path);
  if (fd < 0)
    return 1;
  s->l.fd = fd;
  return 0;
}

/* Asks for the recording and reads the answer. @return 0 when the process
 * has started it, or 1 with a message printed (the connection closed). */
static int record_start(record_state *s) {
  char cmd[PATH_MAX + 64], line[PATH_MAX + 1024];
  snprintf(cmd, sizeof cmd, "record %.17g %s\n", s->seconds, s->file);
  send_line(s->l.fd, cmd); /* (if refused, the reply is there to read all the same) */
  int r = next_line(&s->l, line, sizeof line, mono_ms() + 10000);
  if (r != 1 || strncmp(line, "ok ", 3) != 0) {
    if (r == 1 && !strncmp(line, "error: ", 7))
      fprintf(stderr, "ctrace record: process %d: %s\n", s->pid, line + 7);
    else if (r == 1)
      fprintf(stderr, "ctrace record: process %d: unexpected reply '%s'\n", s->pid, line);
    else if (r == -ETIMEDOUT)
      fprintf(stderr, "ctrace record: timeout: process %d did not answer within 10 s\n", s->pid);
    else
      fprintf(stderr, "ctrace record: process %d closed the connection without an answer%s%s\n",
              s->pid, r ? ": " : "", r ? strerror(-r) : "");
    close(s->l.fd);
    return 1;
  }
  fprintf(stderr, "ctrace record: recording process %d for %g s into %s\n", s->pid, s->seconds,
          s->file);
  return 0;
}

/* Waits for the process's "done PATH BYTES DROPPED" (into s->file, bytes,
 * dropped, took), then closes the connection. @return 0 when done, or 1
 * with a message printed. */
static int record_wait(record_state *s) {
  /* ^C: the process stops the recording (the trace is complete), then we
   * report as usual; a second ^C leaves at once (the process, seeing us
   * gone, stops the recording too). */
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  uint64_t t0 = mono_ms(), deadline = t0 + (uint64_t)(s->seconds * 1000) + 60000;
  int done = 0;
  char line[PATH_MAX + 1024];
  while (!done) {
    int r = next_line(&s->l, line, sizeof line, deadline);
    if (r == -EINTR) {
      send_line(s->l.fd, "stop\n");
      continue;
    }
    if (r == -ETIMEDOUT) {
      fprintf(stderr, "ctrace record: timeout: process %d did not end the recording within "
                      "%g s\n", s->pid, s->seconds + 60);
      break;
    }
    if (r <= 0) {
      fprintf(stderr, "ctrace record: process %d closed the connection before the recording "
                      "ended (%s); %s may be incomplete\n", s->pid,
              proc_alive(s->pid) ? "it is still running" : "it exited", s->file);
      break;
    }
    if (!strncmp(line, "note: ", 6)) {
      fprintf(stderr, "ctrace record: %s\n", line);
    } else if (!strncmp(line, "error: ", 7)) {
      fprintf(stderr, "ctrace record: process %d: %s\n", s->pid, line + 7);
      break;
    } else if (!strncmp(line, "done ", 5)) {
      /* done PATH BYTES DROPPED: PATH may hold spaces, the numbers not */
      char *last = strrchr(line, ' ');
      *last = '\0';
      char *mid = strrchr(line, ' ');
      if (mid && mid > line + 4 && sscanf(mid + 1, "%llu", &s->bytes) == 1 &&
          sscanf(last + 1, "%llu", &s->dropped) == 1) {
        *mid = '\0';
        if (snprintf(s->file, sizeof s->file, "%s", line + 5) >= (int)sizeof s->file)
          s->file[0] = '\0';
        done = 1;
      } else {
        *last = ' '; /* (the whole reply in the message) */
        fprintf(stderr, "ctrace record: process %d: unexpected reply '%s'\n", s->pid, line);
        break;
      }
    }
  }
  s->took = (double)(mono_ms() - t0) / 1e3;
  close(s->l.fd);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  return done ? 0 : 1;
}

/* What the process wrote, read back. @return 0, or 1 if it cannot be read. */
static int record_report(const record_state *s) {
  uint64_t events = 0;
  double span = 0;
  int complete = 0;
  char err[1024] = "";
  if (count_events(s->file, &events, &span, &complete, err, sizeof err) != 0) {
    fprintf(stderr, "ctrace record: process %d wrote %s (%llu bytes), which cannot be read: %s\n",
            s->pid, s->file, s->bytes, err);
    return 1;
  }
  printf("recorded %.2f s of %d to %s: %" PRIu64 " events, %llu dropped\n", s->took, s->pid,
         s->file, events, s->dropped);
  if (!complete && err[0])
    fprintf(stderr, "ctrace record: warning: %s\n", err);
  return 0;
}

/* ctrace record: options, connect, the exchange, the report. */
int ctrace_cmd_record(int argc, char **argv) {
  record_state s;
  int code = record_parse(argc, argv, &s);
  if (code >= 0)
    return code;
  if (record_connect(&s) || record_start(&s) || record_wait(&s))
    return 1;
  return record_report(&s);
}

/* ---- ctrace dump ---------------------------------------------------------------------------------- */

/* ctrace dump's options, and where the process's dumps go by default. */
typedef struct dump_state {
  int pid;                /* --pid PID, or PID */
  const char *out, *sock; /* -o FILE, --socket PATH */
  char dflt[PATH_MAX];    /* the process's flight dump path, or "" */
} dump_state;

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int dump_parse(int argc, char **argv, dump_state *s) {
  enum { O_PID = 1000, O_SOCKET };
  static const struct option opts[] = {{"pid", required_argument, NULL, O_PID},
                                       {"output", required_argument, NULL, 'o'},
                                       {"socket", required_argument, NULL, O_SOCKET},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  s->pid = -1;
  s->out = s->sock = NULL;
  s->dflt[0] = '\0';
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_PID:
      if ((s->pid = parse_pid(optarg)) < 0) {
        fprintf(stderr, "ctrace dump: --pid %s: not a process id\n%s", optarg, dump_usage);
        return 2;
      }
      break;
    case 'o': s->out = optarg; break;
    case O_SOCKET: s->sock = optarg; break;
    case 'h': fputs(dump_usage, stdout); return 0;
    default:
      fprintf(stderr, "ctrace dump: %s '%s'\n%s",
              optopt ? "option needs an argument:" : "unknown option", argv[optind - 1],
              dump_usage);
      return 2;
    }
  }
  if (optind < argc && s->pid < 0 && (s->pid = parse_pid(argv[optind])) > 0)
    optind++;
  if (s->pid < 0 || optind < argc) {
    fprintf(stderr, "ctrace dump: %s\n%s", s->pid < 0 ? "missing PID" : "too many arguments",
            dump_usage);
    return 2;
  }
  return -1;
}

/* Through the control socket: "dump [FILE]", answered "ok [PATH]".
 * @return 0, or 1 with a message printed. */
static int dump_by_socket(const dump_state *s) {
  char path[PATH_MAX], file[PATH_MAX];
  if (find_socket("dump", s->pid, s->sock, path, sizeof path))
    return 1;
  int fd = connect_to("dump", s->pid, path);
  if (fd < 0)
    return 1;
  char cmd[PATH_MAX + 16], line[PATH_MAX + 1024];
  if (s->out) {
    absolute(s->out, file, sizeof file);
    snprintf(cmd, sizeof cmd, "dump %s\n", file);
  } else {
    snprintf(cmd, sizeof cmd, "dump\n");
  }
  lines l = {.fd = fd};
  send_line(fd, cmd);
  int r = next_line(&l, line, sizeof line, mono_ms() + 30000);
  close(fd);
  if (r == 1 && (!strcmp(line, "ok") || !strncmp(line, "ok ", 3))) {
    printf("dumped the flight recorder of %d to %s\n", s->pid,
           line[2] ? line + 3
                   : s->dflt[0] ? s->dflt : "its default flight dump path");
    return 0;
  }
  if (r == 1 && !strncmp(line, "error: ", 7))
    fprintf(stderr, "ctrace dump: process %d: %s\n", s->pid, line + 7);
  else if (r == -ETIMEDOUT)
    fprintf(stderr, "ctrace dump: timeout: process %d did not answer within 30 s\n", s->pid);
  else
    fprintf(stderr, "ctrace dump: process %d: %s\n", s->pid,
            r == 1 ? line : "closed the connection without an answer");
  return 1;
}

/* After SIGUSR2 (sent at since, ms of CLOCK_REALTIME): the dump, looked
 * for at base and its numbered followers for 5 s. @return 0, or 1 with a
 * message printed. */
static int dump_await(const dump_state *s, const char *base, uint64_t since) {
  for (uint64_t until = mono_ms() + 5000; mono_ms() < until;) {
    for (int n = 1, missing = 0; missing < 16; n++) {
      char p[PATH_MAX + 32];
      ctrace__flight_nth_path(p, sizeof p, base, (uint32_t)n);
      struct stat st;
      if (stat(p, &st) != 0) {
        missing++;
        continue;
      }
      missing = 0;
      if ((uint64_t)st.st_mtim.tv_sec * 1000 + (uint64_t)st.st_mtim.tv_nsec / 1000000 >= since) {
        struct timespec ts = {0, 50000000}; /* (let it finish) */
        nanosleep(&ts, NULL);
        printf("dumped the flight recorder of %d to %s (SIGUSR2)\n", s->pid, p);
        return 0;
      }
    }
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "ctrace dump: sent SIGUSR2 to %d, but no dump appeared at %s (or its "
                  "numbered followers) within 5 s: is it in flight mode (CTRACE_MODE=flight)?\n",
          s->pid, base);
  return 1;
}

/* Without a control socket: SIGUSR2, only to a process that catches it.
 * @return 0, or 1 or 2 with a message printed. */
static int dump_by_signal(dump_state *s) {
  if (s->out) {
    fprintf(stderr, "ctrace dump: -o needs the process's control socket (process %d has none: "
                    "on SIGUSR2 it writes to its own flight dump path)\n", s->pid);
    return 2;
  }
  if (!proc_catches(s->pid, SIGUSR2)) {
    fprintf(stderr, "ctrace dump: process %d has no control socket and does not catch SIGUSR2 "
                    "(it is not in flight mode): not sending a signal that would end it\n",
            s->pid);
    return 1;
  }
  /* Where it goes: FILE (relative to its working directory), then FILE-2...
   * as the runtime numbers them (tracer/flight.c). */
  char base[PATH_MAX];
  if (!s->dflt[0])
    snprintf(s->dflt, sizeof s->dflt, "ctrace-flight-%d.ctrace", s->pid);
  if (s->dflt[0] == '/') {
    snprintf(base, sizeof base, "%s", s->dflt);
  } else {
    char cwdlink[64], cwd[PATH_MAX];
    snprintf(cwdlink, sizeof cwdlink, "/proc/%d/cwd", s->pid);
    ssize_t n = readlink(cwdlink, cwd, sizeof cwd - 1);
    cwd[n > 0 ? n : 0] = '\0';
    if (n <= 0 || snprintf(base, sizeof base, "%s/%s", cwd, s->dflt) >= (int)sizeof base)
      snprintf(base, sizeof base, "%s", s->dflt);
  }
  struct timespec sent;
  clock_gettime(CLOCK_REALTIME, &sent);
  if (kill(s->pid, SIGUSR2) != 0) {
    fprintf(stderr, "ctrace dump: kill %d SIGUSR2: %s\n", s->pid, strerror(errno));
    return 1;
  }
  /* The dump is written by the process's writer within its 10 ms cycle:
   * the file changed since the signal names it. */
  uint64_t since = (uint64_t)sent.tv_sec * 1000 + (uint64_t)sent.tv_nsec / 1000000 - 20;
  return dump_await(s, base, since);
}

/* ctrace dump: options, then through the control socket if the process
 * has one, else by SIGUSR2. */
int ctrace_cmd_dump(int argc, char **argv) {
  dump_state s;
  int code = dump_parse(argc, argv, &s);
  if (code >= 0)
    return code;
  if (!proc_alive(s.pid)) {
    fprintf(stderr, "ctrace dump: no such process: %d\n", s.pid);
    return 1;
  }
  /* Where a dump without a path goes: the process's flight dump path. */
  if (proc_env(s.pid, "CTRACE_FLIGHT_OUT", s.dflt, sizeof s.dflt) != 1 || !s.dflt[0])
    if (proc_env(s.pid, "CTRACE_OUT", s.dflt, sizeof s.dflt) != 1)
      s.dflt[0] = '\0';
  char spec[PATH_MAX];
  if (s.sock || proc_env(s.pid, CTRACE__CONTROL_ENV, spec, sizeof spec) == 1)
    return dump_by_socket(&s);
  return dump_by_signal(&s);
}
