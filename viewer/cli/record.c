/* `ctrace record --pid PID [--seconds N] [-o FILE] [--socket PATH]
 * [--cpu-hz N]`: traces a running process for N seconds through its
 * control socket (control_client.c). The trace is written by the process
 * itself, so FILE is made absolute here and must be writable by the
 * process's user. With --cpu-hz, ctrace record samples the process's
 * threads meanwhile and writes FILE.kernel itself (record_cpu.c). */
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
#include "read.h"

static const char record_usage[] =
    "usage: ctrace record --pid PID [--seconds N] [-o FILE] [--socket PATH] [--cpu-hz N]\n"
    "  Traces a running process for N seconds (default 5) into FILE (default\n"
    "  PID.ctrace), through its control socket: the process must run with\n"
    "  CTRACE_CONTROL=PATH and libctrace loaded (linked, or by ctrace run --control).\n"
    "  The process writes FILE itself. ^C stops the recording early.\n"
    "  --socket PATH     the socket (default: CTRACE_CONTROL from the process's\n"
    "                    environment, %p replaced by PID)\n"
    "  --cpu-hz N        also CPU samples with call stacks, N per second of each\n"
    "                    thread's CPU time (0..10000, default 0), of every thread\n"
    "                    of the process, into FILE.kernel (ctrace top, ctrace view);\n"
    "                    the process must be yours (or ctrace run by root)\n";

#define RECORD_CPU_HZ_MAX 10000 /* (as ctrace run --cpu-hz) */

/* ---- ctrace record ------------------------------------------------------------------------------ */

/* Events in the trace and the time they span. @return 0, or -1 with err. */
static int count_events(const char *path, uint64_t *events, double *span, int *complete, char *err,
                        size_t errlen) {
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
  int pid;                           /* --pid PID, or PID */
  double seconds;                    /* --seconds N */
  const char *out, *sock;            /* -o FILE, --socket PATH */
  char file[PATH_MAX];               /* FILE, cc_absolute; at the end as the process named it */
  cc_lines l;                        /* the connection, and what was read ahead on it */
  unsigned long long bytes, dropped; /* as the process reported them */
  double took;                       /* seconds from the start to the end of the recording */
  unsigned cpu_hz;                   /* --cpu-hz N (0: no samples) */
  record_cpu *cpu;                   /* the samples, with --cpu-hz */
} record_state;

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int record_parse(int argc, char **argv, record_state *s) {
  enum { O_PID = 1000, O_SECONDS, O_SOCKET, O_CPU_HZ };
  static const struct option opts[] = {{"pid", required_argument, NULL, O_PID},
                                       {"seconds", required_argument, NULL, O_SECONDS},
                                       {"output", required_argument, NULL, 'o'},
                                       {"socket", required_argument, NULL, O_SOCKET},
                                       {"cpu-hz", required_argument, NULL, O_CPU_HZ},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  memset(s, 0, sizeof *s);
  s->pid = -1;
  s->seconds = 5;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
    switch (c) {
    case O_PID:
      if ((s->pid = cc_parse_pid(optarg)) < 0) {
        fprintf(stderr, "ctrace record: --pid %s: not a process id\n%s", optarg, record_usage);
        return 2;
      }
      break;
    case O_SECONDS: {
      char *end;
      s->seconds = strtod(optarg, &end);
      if (end == optarg || *end || !(s->seconds > 0) || s->seconds > CTRACE__CONTROL_MAX_SECONDS) {
        fprintf(stderr,
                "ctrace record: --seconds %s: a number of seconds, more than 0 and at "
                "most %g\n%s",
                optarg, CTRACE__CONTROL_MAX_SECONDS, record_usage);
        return 2;
      }
      break;
    }
    case O_CPU_HZ: {
      char *end;
      errno = 0;
      long hz = strtol(optarg, &end, 10);
      if (end == optarg || *end || errno || hz < 0 || hz > RECORD_CPU_HZ_MAX) {
        fprintf(stderr, "ctrace record: --cpu-hz %s: not samples per second (0..%d)\n%s", optarg,
                RECORD_CPU_HZ_MAX, record_usage);
        return 2;
      }
      s->cpu_hz = (unsigned)hz;
      break;
    }
    case 'o': s->out = optarg; break;
    case O_SOCKET: s->sock = optarg; break;
    case 'h': fputs(record_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace record: option needs an argument: '%s'\n%s", argv[optind - 1],
              record_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace record: unknown option '%s'\n%s", argv[optind - 1], record_usage);
      return 2;
    }
  }
  if (optind < argc && s->pid < 0 && (s->pid = cc_parse_pid(argv[optind])) > 0)
    optind++; /* (ctrace record PID, as ctrace dump PID) */
  if (s->pid < 0 || optind < argc) {
    fprintf(stderr, "ctrace record: %s\n%s",
            s->pid < 0 ? "missing --pid PID" : "too many arguments", record_usage);
    return 2;
  }
  return -1;
}

/* FILE made cc_absolute (the process writes it), the sampling events
 * attached with --cpu-hz (first: a process that may not be sampled is
 * refused before anything starts), and the process's control socket
 * connected (s->l.fd). @return 0, or 1 with a message printed. */
static int record_connect(record_state *s) {
  if (!cc_proc_alive(s->pid)) {
    fprintf(stderr, "ctrace record: no such process: %d\n", s->pid);
    return 1;
  }
  if (s->cpu_hz && !(s->cpu = record_cpu_open(s->pid, s->cpu_hz)))
    return 1;
  char path[PATH_MAX], defname[64];
  if (cc_find_socket("record", s->pid, s->sock, path, sizeof path))
    return 1;
  const char *out = s->out;
  if (!out) {
    snprintf(defname, sizeof defname, "%d.ctrace", s->pid);
    out = defname;
  }
  cc_absolute(out, s->file, sizeof s->file);
  if (!s->cpu) { /* an earlier FILE.kernel beside FILE would be read with it */
    char kpath[PATH_MAX + 16];
    snprintf(kpath, sizeof kpath, "%s.kernel", s->file);
    unlink(kpath);
  }
  int fd = cc_connect_to("record", s->pid, path);
  if (fd < 0)
    return 1;
  s->l.fd = fd;
  return 0;
}

/* Asks for the recording and reads the answer. @return 0 when the process
 * has started it, or 1 with a message printed (the connection closed). */
static int record_start(record_state *s) {
  char cmd[PATH_MAX + 64], line[PATH_MAX + 1024];
  if (record_cpu_start(s->cpu, s->file)) {
    close(s->l.fd);
    return 1;
  }
  snprintf(cmd, sizeof cmd, "record %.17g %s\n", s->seconds, s->file);
  cc_send_line(s->l.fd, cmd); /* (if refused, the reply is there to read all the same) */
  int r = cc_next_line(&s->l, line, sizeof line, cc_mono_ms() + 10000);
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
  sa.sa_handler = cc_on_interrupt;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  uint64_t t0 = cc_mono_ms(), deadline = t0 + (uint64_t)(s->seconds * 1000) + 60000;
  int done = 0;
  char line[PATH_MAX + 1024];
  while (!done) {
    /* (with samples, a turn every 20 ms to read them) */
    uint64_t turn = s->cpu ? cc_mono_ms() + 20 : deadline;
    int r = cc_next_line(&s->l, line, sizeof line, turn < deadline ? turn : deadline);
    if (r == -ETIMEDOUT && turn < deadline) {
      record_cpu_poll(s->cpu);
      continue;
    }
    if (r == -EINTR) {
      cc_send_line(s->l.fd, "stop\n");
      continue;
    }
    if (r == -ETIMEDOUT) {
      fprintf(stderr,
              "ctrace record: timeout: process %d did not end the recording within "
              "%g s\n",
              s->pid, s->seconds + 60);
      break;
    }
    if (r <= 0) {
      fprintf(stderr,
              "ctrace record: process %d closed the connection before the recording "
              "ended (%s); %s may be incomplete\n",
              s->pid, cc_proc_alive(s->pid) ? "it is still running" : "it exited", s->file);
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
  s->took = (double)(cc_mono_ms() - t0) / 1e3;
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
  if (record_connect(&s) || record_start(&s)) {
    record_cpu_close(s.cpu);
    return 1;
  }
  code = record_wait(&s);
  if (!code)
    code = record_report(&s);
  /* (the samples of a recording that went wrong are kept all the same) */
  if (record_cpu_finish(s.cpu, s.file[0] ? s.file : NULL) && !code)
    code = 1;
  record_cpu_close(s.cpu);
  return code;
}
