/* The `ctrace` command: `ctrace run` (the launcher) here, the viewer's
 * commands (export, info, view) in viewer/commands.c and server.c, `ctrace
 * record` and `ctrace dump` (the control socket's client) in control_cli.c.
 *
 * ctrace run [-o FILE] [--no-syscalls] [--no-sched] [--no-heap] [--no-locks]
 *            [--no-follow] [--syscalls=preload|kernel|auto]
 *            [--control PATH [--no-record]] -- PROG ARGS...
 *
 * The child is started stopped on a pipe; the launcher opens the kernel
 * events of the child (context switches; and with --syscalls=kernel or
 * auto, every system call) before the child execs PROG with
 * LD_PRELOAD=libctrace-preload.so and CTRACE_OUT=FILE, so nothing PROG does
 * is missed; it then writes those events to FILE.kernel while PROG runs,
 * and exits with PROG's status. With --flight SPAN, PROG runs the flight
 * recorder instead (CTRACE_MODE=flight: FILE is written only when a dump
 * is asked) and no FILE.kernel is recorded. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "flight.h"
#include "ctrace/ctrace.h"
#include "kernel_trace.h"

static const char run_usage[] =
    "usage: ctrace run [-o FILE] [options] -- PROG ARGS...\n"
    "  Runs PROG (never built with ctrace) and records what its threads do:\n"
    "  system calls, waits on locks, heap, thread lifecycle, and when they ran.\n"
    "  -o FILE           the trace (default PROG.ctrace); children write FILE.PID,\n"
    "                    kernel events go to FILE.kernel\n"
    "  --syscalls=MODE   preload (default): the blocking families, by the wrappers;\n"
    "                    kernel: every system call, from the raw_syscalls tracepoints\n"
    "                    (root or perf_event_paranoid <= 1; costs about 1.2 us per\n"
    "                    call); auto: kernel when allowed, else preload\n"
    "  --no-syscalls --no-sched --no-heap --no-locks  leave those out\n"
    "  --no-follow       do not trace forked or exec'd children\n"
    "  --flight SPAN     flight recorder: keep only the last SPAN (30s, 500ms) or at\n"
    "                    most SPAN bytes (256MB, 64KiB), or both (30s,256MB), in\n"
    "                    memory; FILE is written only on SIGUSR2 (ctrace dump PID),\n"
    "                    ctrace_flight_dump() or a crash; later dumps FILE-2...\n"
    "  --view [--port N] show the trace live in the browser while PROG runs (ctrace\n"
    "                    view --follow on port N, default 8080; 0: any free one); when\n"
    "                    PROG exits the view stays until Ctrl+C\n"
    "  --control PATH    PROG listens on a control socket at PATH (%p: its pid) for\n"
    "                    ctrace record / ctrace dump (CTRACE_CONTROL=PATH)\n"
    "  --no-record       with --control: do not trace from the start; only when\n"
    "                    `ctrace record --pid PID` asks\n";

/* ---- Finding things --------------------------------------------------------------- */

static char *dir_of_self(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash)
    *slash = '\0';
  return strdup(exe);
}

/* libctrace-preload.so next to the binary (build tree), in ../lib (the
 * install prefix), or $CTRACE_PRELOAD. */
static char *find_preload(void) {
  const char *env = getenv("CTRACE_PRELOAD");
  if (env && *env)
    return access(env, R_OK) == 0 ? realpath(env, NULL) : NULL;
  char *dir = dir_of_self();
  if (!dir)
    return NULL;
  static const char *const rel[] = {"/libctrace-preload.so", "/../lib/libctrace-preload.so",
                                    "/../lib/x86_64-linux-gnu/libctrace-preload.so"};
  char p[PATH_MAX + 64];
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    snprintf(p, sizeof p, "%s%s", dir, rel[i]);
    if (access(p, R_OK) == 0) {
      free(dir);
      return realpath(p, NULL);
    }
  }
  free(dir);
  return NULL;
}

/* PROG as execvp would find it; NULL with errno set. */
static char *find_program(const char *prog) {
  if (strchr(prog, '/')) {
    if (access(prog, F_OK) != 0)
      return NULL;
    return strdup(prog);
  }
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  char buf[PATH_MAX];
  int found_noexec = 0;
  for (const char *p = path; *p;) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", prog);
    struct stat st;
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(buf, X_OK) == 0)
        return strdup(buf);
      found_noexec = 1;
    }
    p = colon ? colon + 1 : p + n;
  }
  errno = found_noexec ? EACCES : ENOENT;
  return NULL;
}

/* 1 if path is an ELF executable without a program interpreter (static:
 * the dynamic loader, and so LD_PRELOAD, never runs), 0 if dynamic or a
 * script whose interpreter is dynamic, -1 if unreadable. For a script
 * (#!), its interpreter is checked. */
static int is_static(const char *path, int depth) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  unsigned char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n < 4)
    return 0;
  if (buf[0] == '#' && buf[1] == '!' && depth < 4) {
    char interp[PATH_MAX];
    size_t i = 2, k = 0;
    while (i < (size_t)n && (buf[i] == ' ' || buf[i] == '\t'))
      i++;
    while (i < (size_t)n && buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
           k < sizeof interp - 1)
      interp[k++] = (char)buf[i++];
    interp[k] = '\0';
    return k ? is_static(interp, depth + 1) : 0;
  }
  if (memcmp(buf, ELFMAG, SELFMAG) != 0 || buf[EI_CLASS] != ELFCLASS64 ||
      (size_t)n < sizeof(Elf64_Ehdr))
    return 0; /* not an ELF64 file: let exec decide */
  Elf64_Ehdr eh;
  memcpy(&eh, buf, sizeof eh);
  if (eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > (uint64_t)n) {
    /* program headers beyond the first page: read them */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    int dyn = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
      Elf64_Phdr ph;
      if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != sizeof ph)
        break;
      dyn |= ph.p_type == PT_INTERP;
    }
    close(fd);
    return !dyn;
  }
  for (unsigned i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, buf + eh.e_phoff + i * sizeof ph, sizeof ph);
    if (ph.p_type == PT_INTERP)
      return 0;
  }
  return 1;
}

/* ---- Running ------------------------------------------------------------------------ */

typedef struct child_setup {
  int syscalls_kernel, sched_kernel;
  char why[400];
} child_setup;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t forward_sig;
static void on_forward(int sig) { forward_sig = sig; }

/* Closing the last perf fds of a tracepoint waits for the kernel to
 * unregister it (RCU grace periods: 35-50 ms each here, nearly 0.1 s in
 * all). FILE.kernel is complete by now: a forked process holds the fds,
 * this one closes its own (not the last: no wait) and returns PROG's
 * status at once; the closer closes the last ones when it sees this
 * process gone (EOF on a pipe). It keeps nothing else of ours open: it
 * must not hold a caller's pipe on stdout or stderr. */
static void close_in_background(ctrace__perf *perf) {
  int gone[2];
  pid_t c = pipe2(gone, O_CLOEXEC) == 0 ? fork() : -1;
  if (c == 0) {
    close(gone[1]);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++)
      if (null >= 0)
        dup2(null, fd);
    char b;
    while (read(gone[0], &b, 1) < 0 && errno == EINTR) {
    }
    ctrace__perf_close(perf);
    _exit(0);
  }
  ctrace__perf_close(perf);
  if (c > 0)
    close(gone[0]); /* gone[1] closes as this process exits */
}

/* --flight, at the end: the dumps PROG left. */
static void flight_report(const char *file) {
  char p[PATH_MAX + 32];
  int n = 0;
  for (; n < 100000; n++) {
    ctrace__flight_nth_path(p, sizeof p, file, (uint32_t)(n + 1));
    if (access(p, F_OK) != 0)
      break;
  }
  if (!n)
    fprintf(stderr, "ctrace run: flight recorder: no dump was taken\n");
  else if (n == 1)
    fprintf(stderr, "ctrace run: flight recorder dump: %s (view: ctrace view %s)\n", file, file);
  else {
    ctrace__flight_nth_path(p, sizeof p, file, (uint32_t)n);
    fprintf(stderr, "ctrace run: flight recorder dumps: %s ... %s (%d)\n", file, p, n);
  }
}

static int cmd_run(int argc, char **argv) {
  enum { O_SYSCALLS = 1000, O_NO_SYSCALLS, O_NO_SCHED, O_NO_HEAP, O_NO_LOCKS, O_NO_FOLLOW,
         O_CONTROL, O_NO_RECORD };
  enum { O_VIEW = 1100, O_PORT }; /* --view [--port N]: the live view (viewer/run_view.c) */
  enum { O_FLIGHT = 1200 };       /* --flight SPAN: the flight recorder (tracer/flight.c) */
  static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                       {"syscalls", required_argument, NULL, O_SYSCALLS},
                                       {"no-syscalls", no_argument, NULL, O_NO_SYSCALLS},
                                       {"no-sched", no_argument, NULL, O_NO_SCHED},
                                       {"no-heap", no_argument, NULL, O_NO_HEAP},
                                       {"no-locks", no_argument, NULL, O_NO_LOCKS},
                                       {"no-follow", no_argument, NULL, O_NO_FOLLOW},
                                       {"control", required_argument, NULL, O_CONTROL},
                                       {"no-record", no_argument, NULL, O_NO_RECORD},
                                       {"view", no_argument, NULL, O_VIEW},
                                       {"port", required_argument, NULL, O_PORT},
                                       {"flight", required_argument, NULL, O_FLIGHT},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL, *sysmode = "preload";
  int syscalls = 1, sched = 1, heap = 1, locks = 1, follow = 1, c;
  const char *control = NULL; /* --control PATH */
  int record = 1;             /* not --no-record */
  int view = 0, view_port = -1;
  const char *flight = NULL; /* --flight SPAN */
  ctrace_run_view rv = {.pid = -1, .fd = -1};
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
    switch (c) {
    case 'o': out = optarg; break;
    case O_SYSCALLS:
      if (strcmp(optarg, "auto") && strcmp(optarg, "kernel") && strcmp(optarg, "preload")) {
        fprintf(stderr, "ctrace run: --syscalls=%s: use auto, kernel or preload\n%s", optarg,
                run_usage);
        return 2;
      }
      sysmode = optarg;
      break;
    case O_NO_SYSCALLS: syscalls = 0; break;
    case O_NO_SCHED: sched = 0; break;
    case O_NO_HEAP: heap = 0; break;
    case O_NO_LOCKS: locks = 0; break;
    case O_NO_FOLLOW: follow = 0; break;
    case O_CONTROL: control = optarg; break;
    case O_NO_RECORD: record = 0; break;
    case O_VIEW: view = 1; break;
    case O_FLIGHT: {
      uint64_t ms, bytes;
      if (ctrace__flight_parse(optarg, &ms, &bytes) != 0) {
        fprintf(stderr, "ctrace run: --flight %s: " CTRACE__FLIGHT_SYNTAX "\n%s", optarg,
                run_usage);
        return 2;
      }
      flight = optarg;
      break;
    }
    case O_PORT: {
      char *end;
      long p = strtol(optarg, &end, 10);
      if (*end || end == optarg || p < 0 || p > 65535) {
        fprintf(stderr, "ctrace run: --port %s: not a port number (0..65535)\n%s", optarg,
                run_usage);
        return 2;
      }
      view_port = (int)p;
      break;
    }
    case 'h': fputs(run_usage, stdout); return 0;
    default:
      fprintf(stderr, "ctrace run: %s '%s'\n%s",
              optopt == 'o' ? "option needs a file name:" : "unknown option", argv[optind - 1],
              run_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace run: missing PROG (ctrace run [options] -- PROG ARGS...)\n%s",
            run_usage);
    return 2;
  }
  if (!record && !control) {
    fprintf(stderr, "ctrace run: --no-record needs --control PATH (else nothing could start "
                    "the recording)\n%s", run_usage);
    return 2;
  }
  if (flight && (view || !record || !strcmp(sysmode, "kernel"))) {
    fprintf(stderr, "ctrace run: --flight keeps the events in PROG's memory until a dump: "
                    "not with %s\n%s",
            view ? "--view" : !record ? "--no-record" : "--syscalls=kernel (FILE.kernel)",
            run_usage);
    return 2;
  }
  if (view_port >= 0 && !view) {
    fprintf(stderr, "ctrace run: --port goes with --view\n%s", run_usage);
    return 2;
  }
  char **prog_argv = argv + optind;
  char *prog = find_program(prog_argv[0]);
  if (!prog) {
    int e = errno;
    fprintf(stderr, "ctrace run: %s: %s\n", prog_argv[0],
            e == ENOENT ? "command not found" : strerror(e));
    return e == ENOENT ? 127 : 126;
  }
  int st = is_static(prog, 0);
  if (st == 1) {
    fprintf(stderr, "ctrace run: %s is statically linked: the dynamic loader never runs in it, "
                    "so the recording wrappers (LD_PRELOAD) cannot be loaded. Link it "
                    "dynamically, or build it with ctrace (CTRACE_OUT=FILE %s).\n",
            prog, prog_argv[0]);
    free(prog);
    return 2;
  }
  char *preload = find_preload();
  if (!preload) {
    fprintf(stderr, "ctrace run: libctrace-preload.so not found next to %s or in ../lib; set "
                    "CTRACE_PRELOAD\n", "the ctrace binary");
    free(prog);
    return 1;
  }
  char outbuf[PATH_MAX];
  if (!out) {
    const char *base = strrchr(prog_argv[0], '/');
    snprintf(outbuf, sizeof outbuf, "%s.ctrace", base ? base + 1 : prog_argv[0]);
    out = outbuf;
  }
  /* The child's environment gets an absolute path: PROG may chdir. */
  char abs_out[2 * PATH_MAX + 2];
  if (out[0] == '/')
    snprintf(abs_out, sizeof abs_out, "%s", out);
  else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
      fprintf(stderr, "ctrace run: getcwd: %s\n", strerror(errno));
      return 1;
    }
    snprintf(abs_out, sizeof abs_out, "%s/%s", cwd, out);
  }
  char abs_control[PATH_MAX + 2] = "";
  if (control) {
    char cwd[PATH_MAX];
    if (control[0] == '/' || !getcwd(cwd, sizeof cwd))
      snprintf(abs_control, sizeof abs_control, "%s", control);
    else
      snprintf(abs_control, sizeof abs_control, "%.*s/%s", PATH_MAX / 2, cwd, control);
  }
  /* --view: the viewer serves before PROG starts. */
  if (view && ctrace_run_view_start(&rv, abs_out, view_port >= 0 ? view_port : 8080) != 0)
    return 1;

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    fprintf(stderr, "ctrace run: pipe: %s\n", strerror(errno));
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "ctrace run: fork: %s\n", strerror(errno));
    return 1;
  }
  if (pid == 0) {
    close(go[1]);
    child_setup cs;
    if (read(go[0], &cs, sizeof cs) != sizeof cs)
      _exit(127); /* the launcher died */
    char ld[PATH_MAX * 3];
    const char *old = getenv("LD_PRELOAD");
    snprintf(ld, sizeof ld, "%s%s%s", preload, old && *old ? ":" : "", old && *old ? old : "");
    setenv("LD_PRELOAD", ld, 1);
    if (record)
      setenv("CTRACE_OUT", abs_out, 1);
    else
      unsetenv("CTRACE_OUT"); /* (ctrace record starts it) */
    if (control)
      setenv(CTRACE__CONTROL_ENV, abs_control, 1);
    unsetenv("CTRACE_EXECED");
    setenv("CTRACE_FOLLOW", follow ? "1" : "0", 1);
    if (flight) { /* events stay in memory; dumps go to FILE */
      setenv("CTRACE_MODE", "flight", 1);
      setenv("CTRACE_FLIGHT", flight, 1);
      setenv("CTRACE_FLIGHT_OUT", abs_out, 1);
    }
    if (syscalls)
      setenv("CTRACE_SYSCALLS", cs.syscalls_kernel ? "kernel" : "preload", 1);
    else
      unsetenv("CTRACE_SYSCALLS");
    setenv("CTRACE_SCHED", cs.sched_kernel ? "kernel" : sched ? "wrappers" : "off", 1);
    setenv("CTRACE_HEAP", heap ? "1" : "0", 1);
    setenv("CTRACE_LOCKS", locks ? "1" : "0", 1);
    if (cs.why[0])
      setenv("CTRACE_CAPTURE_WHY", cs.why, 1);
    else
      unsetenv("CTRACE_CAPTURE_WHY");
    execv(prog, prog_argv);
    fprintf(stderr, "ctrace run: %s: %s\n", prog, strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  close(go[0]);
  if (flight) {
    char second[sizeof abs_out + 16];
    ctrace__flight_nth_path(second, sizeof second, out, 2);
    fprintf(stderr, "ctrace run: flight recorder (%s): dumps go to %s, then %s... on "
                    "`kill -USR2 %d` (ctrace dump %d) or a crash\n",
            flight, out, second, (int)pid, (int)pid);
  }

  /* Kernel events of the child, opened before it execs. */
  child_setup cs;
  memset(&cs, 0, sizeof cs);
  unsigned want = !record || flight ? 0 /* (no FILE.kernel: sessions come and go, or
                                            a flight recorder keeps only a window) */
                  : (sched ? CTRACE__PERF_SCHED : 0) |
                        (syscalls && strcmp(sysmode, "preload") ? CTRACE__PERF_SYSCALLS : 0);
  unsigned got = 0;
  ctrace__perf *perf = want ? ctrace__perf_open_pid(pid, want, &got, cs.why, sizeof cs.why) : NULL;
  if (!strcmp(sysmode, "kernel") && syscalls && !(got & CTRACE__PERF_SYSCALLS)) {
    fprintf(stderr, "ctrace run: --syscalls=kernel: %s\n", cs.why);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ctrace__perf_close(perf);
    return 1;
  }
  cs.syscalls_kernel = (got & CTRACE__PERF_SYSCALLS) != 0;
  cs.sched_kernel = (got & CTRACE__PERF_SCHED) != 0;
  char kpath[sizeof abs_out + 16];
  snprintf(kpath, sizeof kpath, "%s.kernel", abs_out);
  kt_writer *kt = NULL;
  if (perf) {
    char cmdline[4096] = "", err[600];
    for (int i = 0; prog_argv[i]; i++)
      snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), "%s%s",
               i ? " " : "", prog_argv[i]);
    kt = kt_open(kpath, pid, cmdline, cs.syscalls_kernel, cs.sched_kernel, cs.why, err, sizeof err);
    if (!kt) {
      fprintf(stderr, "ctrace run: cannot record kernel events: %s\n", err);
      ctrace__perf_close(perf);
      perf = NULL;
      cs.syscalls_kernel = cs.sched_kernel = 0;
    }
  } else {
    unlink(kpath); /* a stale one from an earlier run would be shown */
  }
  if (write(go[1], &cs, sizeof cs) != sizeof cs) {
    fprintf(stderr, "ctrace run: cannot start the child: %s\n", strerror(errno));
    return 1;
  }
  close(go[1]);

  /* Wait for PROG, recording its kernel events meanwhile. ^C and ^\ go to
   * the whole process group: PROG gets them; SIGTERM and SIGHUP are
   * passed on. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_forward;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  int status = 0;
  uint64_t last_cut = mono_ns();
  /* A pidfd becomes readable when PROG exits: no polling delay. */
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid)
      break;
    if (r < 0 && errno != EINTR) {
      fprintf(stderr, "ctrace run: waitpid: %s\n", strerror(errno));
      break;
    }
    if (forward_sig) {
      kill(pid, forward_sig);
      forward_sig = 0;
    }
    if (perf) {
      uint64_t now = mono_ns();
      ctrace__perf_drain(perf, now - 20000000u, kt_event, kt); /* 20 ms watermark */
      if (now - last_cut > 100000000u) {
        kt_cut(kt);
        last_cut = now;
      }
    }
    if (pidfd >= 0) {
      struct pollfd pf = {.fd = pidfd, .events = POLLIN};
      poll(&pf, 1, 10); /* (a forwarded signal interrupts it) */
    } else {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  int code;
  if (WIFEXITED(status))
    code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
    fprintf(stderr, "ctrace run: %s was killed by signal %d (%s)\n", prog_argv[0],
            WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    code = 1;
  }
  char kinfo[160] = "";
  if (perf) {
    ctrace__perf_drain(perf, UINT64_MAX, kt_event, kt);
    uint64_t sw, sc, lost;
    kt_counts(kt, &sw, &sc, &lost);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snprintf(kinfo, sizeof kinfo,
             " and .kernel (%llu switch records, %llu system calls; %.2f s of CPU to record them)",
             (unsigned long long)sw, (unsigned long long)sc,
             (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    int r = kt_close(kt);
    close_in_background(perf);
    if (r)
      fprintf(stderr, "ctrace run: writing %s failed: %s\n", kpath, strerror(-r));
    if (lost)
      fprintf(stderr, "ctrace run: the kernel lost %llu records (its buffers were full); the "
                      "trace marks where\n", (unsigned long long)lost);
  }
  /* What was not captured is in the trace too (DEF_CAPTURE). */
  if (cs.why[0])
    fprintf(stderr, "ctrace run: note: %s\n", cs.why);
  if (control)
    ctrace__control_cleanup(abs_control, pid);
  if (flight)
    flight_report(out);
  else if (record)
    fprintf(stderr, "ctrace run: trace: %s%s (view: ctrace view %s*)\n", out, kinfo, out);
  if (view)
    code = ctrace_run_view_finish(&rv, code, prog_argv[0]);
  free(prog);
  free(preload);
  return code;
}

/* ---- Dispatch --------------------------------------------------------------------------- */

static const char usage[] =
    "usage: ctrace COMMAND [ARGS]\n"
    "commands:\n"
    "  run [-o FILE] -- PROG ARGS    record a program (no rebuild needed)\n"
    "  record --pid PID --seconds N -o FILE  trace a running process for N s (its\n"
    "                                control socket: CTRACE_CONTROL, run --control)\n"
    "  dump PID [-o FILE]            dump a running process's flight recorder\n"
    "  view TRACE... [--port N]      serve the timeline in the browser (http://127.0.0.1:8080/)\n"
    "  export TRACE... [-o FILE.json] Chrome trace-event JSON for Perfetto / chrome://tracing\n"
    "  info TRACE                    what a trace holds, and whether it is complete\n"
    "  stats TRACE... [--json]       threads, top regions, blocking, syscalls, heap (--help)\n"
    "  pprof --type T TRACE... [-o F] blocking profile for pprof: sync|syscall|sched|io (--help)\n"
    "  version                       print the version\n"
    "Record a program linked with libctrace: CTRACE_OUT=trace.ctrace ./prog\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "record") == 0)
    return ctrace_cmd_record(argc - 1, argv + 1);
  if (strcmp(cmd, "dump") == 0)
    return ctrace_cmd_dump(argc - 1, argv + 1);
  if (strcmp(cmd, "export") == 0)
    return ctrace_cmd_export(argc - 1, argv + 1);
  if (strcmp(cmd, "info") == 0)
    return ctrace_cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "view") == 0)
    return ctrace_cmd_view(argc - 1, argv + 1);
  if (strcmp(cmd, "stats") == 0)
    return ctrace_cmd_stats(argc - 1, argv + 1);
  if (strcmp(cmd, "pprof") == 0)
    return ctrace_cmd_pprof(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("ctrace %s\n", ctrace_version());
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  fprintf(stderr, "ctrace: unknown command '%s'\n%s", cmd, usage);
  return 2;
}
