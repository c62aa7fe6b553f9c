/* `ctrace dump --pid PID [-o FILE] [--socket PATH]` (or `ctrace dump PID`):
 * dumps a running process's flight recorder, through its control socket
 * (control_client.c), or, without one, by sending SIGUSR2, on which a
 * process in flight mode writes its flight dump (only to a process that
 * catches SIGUSR2: to others it would be fatal). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common.h"

static const char dump_usage[] =
    "usage: ctrace dump --pid PID [-o FILE] [--socket PATH]   (or: ctrace dump PID)\n"
    "  Dumps the flight recorder's ring of a running process: through its control\n"
    "  socket if it has one (to FILE, or its default flight dump path), else by\n"
    "  sending it SIGUSR2 (then to its default path).\n";

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
  while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_PID:
      if ((s->pid = cc_parse_pid(optarg)) < 0) {
        fprintf(stderr, "ctrace dump: --pid %s: not a process id\n%s", optarg, dump_usage);
        return 2;
      }
      break;
    case 'o': s->out = optarg; break;
    case O_SOCKET: s->sock = optarg; break;
    case 'h': fputs(dump_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace dump: option needs an argument: '%s'\n%s", argv[optind - 1],
              dump_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace dump: unknown option '%s'\n%s", argv[optind - 1], dump_usage);
      return 2;
    }
  }
  if (optind < argc && s->pid < 0 && (s->pid = cc_parse_pid(argv[optind])) > 0)
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
  if (cc_find_socket("dump", s->pid, s->sock, path, sizeof path))
    return 1;
  int fd = cc_connect_to("dump", s->pid, path);
  if (fd < 0)
    return 1;
  char cmd[PATH_MAX + 16], line[PATH_MAX + 1024];
  if (s->out) {
    cc_absolute(s->out, file, sizeof file);
    snprintf(cmd, sizeof cmd, "dump %s\n", file);
  } else {
    snprintf(cmd, sizeof cmd, "dump\n");
  }
  cc_lines l = {.fd = fd};
  cc_send_line(fd, cmd);
  int r = cc_next_line(&l, line, sizeof line, cc_mono_ms() + 30000);
  close(fd);
  if (r == 1 && (!strcmp(line, "ok") || !strncmp(line, "ok ", 3))) {
    printf("dumped the flight recorder of %d to %s\n", s->pid,
           line[2]      ? line + 3
           : s->dflt[0] ? s->dflt
                        : "its default flight dump path");
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
  for (uint64_t until = cc_mono_ms() + 5000; cc_mono_ms() < until;) {
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
  fprintf(stderr,
          "ctrace dump: sent SIGUSR2 to %d, but no dump appeared at %s (or its "
          "numbered followers) within 5 s: is it in flight mode (CTRACE_MODE=flight)?\n",
          s->pid, base);
  return 1;
}

/* Without a control socket: SIGUSR2, only to a process that catches it.
 * @return 0, or 1 or 2 with a message printed. */
static int dump_by_signal(dump_state *s) {
  if (s->out) {
    fprintf(stderr,
            "ctrace dump: -o needs the process's control socket (process %d has none: "
            "on SIGUSR2 it writes to its own flight dump path)\n",
            s->pid);
    return 2;
  }
  if (!cc_proc_catches(s->pid, SIGUSR2)) {
    fprintf(stderr,
            "ctrace dump: process %d has no control socket and does not catch SIGUSR2 "
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
  if (!cc_proc_alive(s.pid)) {
    fprintf(stderr, "ctrace dump: no such process: %d\n", s.pid);
    return 1;
  }
  /* Where a dump without a path goes: the process's flight dump path. */
  if (cc_proc_env(s.pid, "CTRACE_FLIGHT_OUT", s.dflt, sizeof s.dflt) != 1 || !s.dflt[0])
    if (cc_proc_env(s.pid, "CTRACE_OUT", s.dflt, sizeof s.dflt) != 1)
      s.dflt[0] = '\0';
  char spec[PATH_MAX];
  if (s.sock || cc_proc_env(s.pid, CTRACE__CONTROL_ENV, spec, sizeof spec) == 1)
    return dump_by_socket(&s);
  return dump_by_signal(&s);
}
