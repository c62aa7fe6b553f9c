/* `ctrace run`: the launcher.
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
 * is asked) and no FILE.kernel is recorded, but with --cpu-hz the samples
 * of the last SPAN are kept here and written beside each dump
 * (run_flight.c). */
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

#include "capture.h"
#include "cli.h"
#include "common.h"
#include "ctrace/ctrace.h"

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
    "  --heap-rate BYTES heap profile: an allocation sampled, with its call stack, on\n"
    "                    average every BYTES allocated (default 524288; 1: every one;\n"
    "                    0: none): ctrace pprof --type heap|allocs, ctrace leaks\n"
    "  --no-follow       do not trace forked or exec'd children\n"
    "  --cpu-hz N        CPU samples with call stacks, N a second per thread (0: none;\n"
    "                    default 0), into FILE.kernel: ctrace top, ctrace pprof --type cpu\n"
    "                    (with --flight: into DUMP.kernel beside each dump); where\n"
    "                    perf_event_open is refused, PROG samples itself (SIGPROF)\n"
    "  --flight SPAN     flight recorder: keep only the last SPAN (30s, 500ms) or at\n"
    "                    most SPAN bytes (256MB, 64KiB), or both (30s,256MB), in\n"
    "                    memory; FILE is written only on SIGUSR2 (ctrace dump PID),\n"
    "                    ctrace_flight_dump() or a crash; later dumps FILE-2...\n"
    "  --view [--port N] show the trace live in the browser while PROG runs (ctrace\n"
    "                    view --follow on port N, default 8080; 0: any free one); when\n"
    "                    PROG exits the view stays until Ctrl+C (not after a SIGTERM\n"
    "                    that was passed on to PROG)\n"
    "  --control PATH    PROG listens on a control socket at PATH (%p: its pid) for\n"
    "                    ctrace record / ctrace dump (CTRACE_CONTROL=PATH)\n"
    "  --no-record       with --control: do not trace from the start; only when\n"
    "                    `ctrace record --pid PID` asks\n";

/* ---- Finding things --------------------------------------------------------------- */

/* libctrace-preload.so next to the binary (build tree), in ../lib (the
 * install prefix), or $CTRACE_PRELOAD. */
static char *find_preload(void) {
  const char *env = getenv("CTRACE_PRELOAD");
  if (env && *env)
    return access(env, R_OK) == 0 ? realpath(env, NULL) : NULL;
  char *dir = ctrace__exe_dir();
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

/* ---- Options ------------------------------------------------------------------------ */

/* Steps of `ctrace run` return this to go on, else the exit status. */
enum { RUN_GO_ON = -1 };

/* FILE made absolute (the child's CTRACE_OUT): a cwd and a relative path. */
#define RUN_ABS_MAX (2 * PATH_MAX + 2)

/* ctrace run's options, as given. */
typedef struct run_opts {
  const char *out, *sysmode;
  int syscalls, sched, heap, locks, follow;
  const char *control; /* --control PATH */
  int record;          /* not --no-record */
  int view, view_port;
  const char *flight; /* --flight SPAN */
  unsigned cpu_hz;    /* --cpu-hz N: CPU samples per second and thread (0: none) */
  long heap_rate;     /* --heap-rate BYTES: heap profile sampling (-1: the default) */
  char **prog_argv;   /* PROG ARGS..., in argv */
} run_opts;

#define CTRACE_RUN_CPU_HZ_MAX 10000 /* (the kernel's own cap is lower where it is busy) */

/* arg, the value of option opt, as a whole number in [0, max]; else -1
 * with a message naming the option and what it wants. */
static long run_number(const char *opt, const char *arg, long max, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (*end || end == arg || errno || v < 0 || v > max) {
    fprintf(stderr, "ctrace run: %s %s: not %s (0..%ld)\n%s", opt, arg, what, max, run_usage);
    return -1;
  }
  return v;
}

/* run_parse's options without a letter. */
enum {
  O_SYSCALLS = 1000,
  O_NO_SYSCALLS,
  O_NO_SCHED,
  O_NO_HEAP,
  O_NO_LOCKS,
  O_NO_FOLLOW,
  O_CONTROL,
  O_NO_RECORD
};
enum { O_VIEW = 1100, O_PORT }; /* --view [--port N]: the live view (viewer/run_view.c) */
enum { O_FLIGHT = 1200 };       /* --flight SPAN: the flight recorder (tracer/flight.c) */
enum { O_CPU_HZ = 1300 };       /* --cpu-hz N: CPU samples with call stacks */
enum { O_HEAP_RATE = 1400 };    /* --heap-rate BYTES: heap profile samples */

/* An option of run_parse that takes a value (its code c, its value arg),
 * into o. @return 0 taken, 2 a bad value (said), -1 not one of these. */
static int run_value_option(run_opts *o, int c, const char *arg) {
  switch (c) {
  case O_SYSCALLS:
    if (strcmp(arg, "auto") && strcmp(arg, "kernel") && strcmp(arg, "preload")) {
      fprintf(stderr, "ctrace run: --syscalls=%s: use auto, kernel or preload\n%s", arg, run_usage);
      return 2;
    }
    o->sysmode = arg;
    break;
  case O_FLIGHT: {
    uint64_t ms, bytes;
    if (ctrace__flight_parse(arg, &ms, &bytes) != 0) {
      fprintf(stderr, "ctrace run: --flight %s: " CTRACE__FLIGHT_SYNTAX "\n%s", arg, run_usage);
      return 2;
    }
    o->flight = arg;
    break;
  }
  case O_PORT:
    if ((o->view_port = (int)run_number("--port", arg, 65535, "a port number")) < 0)
      return 2;
    break;
  case O_CPU_HZ: {
    long hz = run_number("--cpu-hz", arg, CTRACE_RUN_CPU_HZ_MAX, "samples per second");
    if (hz < 0)
      return 2;
    o->cpu_hz = (unsigned)hz;
    break;
  }
  case O_HEAP_RATE:
    if ((o->heap_rate = run_number("--heap-rate", arg, 1L << 40, "a number of bytes")) < 0)
      return 2;
    break;
  default: return -1;
  }
  return 0;
}

/* The options up to PROG, into o. @return RUN_GO_ON, 0 after --help, or 2
 * with a message printed. */
static int run_parse(int argc, char **argv, run_opts *o) {
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
                                       {"cpu-hz", required_argument, NULL, O_CPU_HZ},
                                       {"heap-rate", required_argument, NULL, O_HEAP_RATE},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  *o = (run_opts){.sysmode = "preload",
                  .syscalls = 1,
                  .sched = 1,
                  .heap = 1,
                  .locks = 1,
                  .follow = 1,
                  .record = 1,
                  .view_port = -1,
                  .heap_rate = -1};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:o:h", opts, NULL)) != -1) {
    int r = run_value_option(o, c, optarg);
    if (r >= 0) {
      if (r)
        return r;
      continue;
    }
    switch (c) {
    case 'o': o->out = optarg; break;
    case O_NO_SYSCALLS: o->syscalls = 0; break;
    case O_NO_SCHED: o->sched = 0; break;
    case O_NO_HEAP: o->heap = 0; break;
    case O_NO_LOCKS: o->locks = 0; break;
    case O_NO_FOLLOW: o->follow = 0; break;
    case O_CONTROL: o->control = optarg; break;
    case O_NO_RECORD: o->record = 0; break;
    case O_VIEW: o->view = 1; break;
    case 'h': fputs(run_usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace run: option needs a value: '%s'\n%s", argv[optind - 1], run_usage);
      return 2;
    default:
      fprintf(stderr, "ctrace run: unknown option '%s'\n%s", argv[optind - 1], run_usage);
      return 2;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "ctrace run: missing PROG (ctrace run [options] -- PROG ARGS...)\n%s",
            run_usage);
    return 2;
  }
  o->prog_argv = argv + optind;
  return RUN_GO_ON;
}

/* The options that do not go together. @return RUN_GO_ON, or 2 with a
 * message printed. */
static int run_check(const run_opts *o) {
  if (!o->record && !o->control) {
    fprintf(stderr,
            "ctrace run: --no-record needs --control PATH (else nothing could start "
            "the recording)\n%s",
            run_usage);
    return 2;
  }
  if (o->cpu_hz && !o->record) {
    fprintf(stderr,
            "ctrace run: --cpu-hz with --no-record: ask for the samples when a recording is "
            "started, with it: ctrace record --pid PID --cpu-hz N (it samples every thread of "
            "the process while it records)\n%s",
            run_usage);
    return 2;
  }
  if (o->flight && (o->view || !o->record || !strcmp(o->sysmode, "kernel"))) {
    fprintf(stderr,
            "ctrace run: --flight keeps the events in PROG's memory until a dump: "
            "not with %s\n%s",
            o->view      ? "--view"
            : !o->record ? "--no-record"
                         : "--syscalls=kernel (FILE.kernel)",
            run_usage);
    return 2;
  }
  if (o->view_port >= 0 && !o->view) {
    fprintf(stderr, "ctrace run: --port goes with --view\n%s", run_usage);
    return 2;
  }
  return RUN_GO_ON;
}
/* ---- Running ------------------------------------------------------------------------ */

typedef struct child_setup {
  int syscalls_kernel, sched_kernel;
  unsigned cpu_self_hz; /* perf refused: PROG's libctrace samples itself (SIGPROF timers) */
  char why[400];
} child_setup;

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t forward_sig;
static volatile sig_atomic_t terminated; /* a SIGTERM or SIGHUP was passed on to PROG */
static void on_forward(int sig) {
  forward_sig = sig;
  terminated = 1;
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

/* One `ctrace run`: what each step leaves for the next. */
typedef struct run_state {
  run_opts o;
  char *prog, *preload;      /* PROG's path, libctrace-preload.so's: owned */
  char outbuf[PATH_MAX];     /* the default FILE (o.out then points here) */
  char abs_out[RUN_ABS_MAX]; /* FILE, absolute */
  char abs_control[PATH_MAX + 2];
  ctrace_run_view rv;              /* --view */
  pid_t pid;                       /* PROG's */
  child_setup cs;                  /* what the child is told before it execs */
  ctrace__perf *perf;              /* PROG's kernel events, or NULL */
  char aside[2][RUN_ABS_MAX + 48]; /* an earlier run's FILE, FILE.kernel, renamed: see set_aside */
  kt_writer *kt;                   /* FILE.kernel, while perf (not --flight) */
  ctrace_run_flight *fl;           /* --flight --cpu-hz: the samples kept for the dumps */
  int cpu_sampled;                 /* the CPU samples asked for are being taken */
  char kpath[RUN_ABS_MAX + 16];
  int status; /* PROG's, from waitpid */
} run_state;

/* PROG and libctrace-preload.so found, FILE chosen, and the paths the
 * child is given made absolute. @return RUN_GO_ON, or the exit status
 * with a message printed. */
static int run_prepare(run_state *s) {
  run_opts *o = &s->o;
  char **prog_argv = o->prog_argv;
  s->prog = find_program(prog_argv[0]);
  if (!s->prog) {
    int e = errno;
    fprintf(stderr, "ctrace run: %s: %s\n", prog_argv[0],
            e == ENOENT ? "command not found" : strerror(e));
    return e == ENOENT ? 127 : 126;
  }
  int st = is_static(s->prog, 0);
  if (st == 1) {
    fprintf(stderr,
            "ctrace run: %s is statically linked: the dynamic loader never runs in it, "
            "so the recording wrappers (LD_PRELOAD) cannot be loaded. Link it "
            "dynamically, or build it with ctrace (CTRACE_OUT=FILE %s).\n",
            s->prog, prog_argv[0]);
    return 2;
  }
  s->preload = find_preload();
  if (!s->preload) {
    fprintf(stderr,
            "ctrace run: libctrace-preload.so not found next to %s or in ../lib; set "
            "CTRACE_PRELOAD\n",
            "the ctrace binary");
    return 1;
  }
  if (!o->out) {
    const char *base = strrchr(prog_argv[0], '/');
    snprintf(s->outbuf, sizeof s->outbuf, "%s.ctrace", base ? base + 1 : prog_argv[0]);
    o->out = s->outbuf;
  }
  /* The child's environment gets an absolute path: PROG may chdir. */
  if (o->out[0] == '/')
    snprintf(s->abs_out, sizeof s->abs_out, "%s", o->out);
  else {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
      fprintf(stderr, "ctrace run: getcwd: %s\n", strerror(errno));
      return 1;
    }
    snprintf(s->abs_out, sizeof s->abs_out, "%s/%s", cwd, o->out);
  }
  s->abs_control[0] = '\0';
  if (o->control) {
    char cwd[PATH_MAX];
    if (o->control[0] == '/' || !getcwd(cwd, sizeof cwd))
      snprintf(s->abs_control, sizeof s->abs_control, "%s", o->control);
    else
      snprintf(s->abs_control, sizeof s->abs_control, "%.*s/%s", PATH_MAX / 2, cwd, o->control);
  }
  return RUN_GO_ON;
}

/* An earlier run's FILE and FILE.kernel are renamed out of the way before
 * PROG starts (~20 us each) and removed once it is on its way (remove_aside,
 * while it execs): removing a file that holds data takes ~0.3 ms on this
 * kind of disk (ext4 mounted with discard), and both would be removed on
 * the way to PROG's first instruction (FILE truncated by the runtime,
 * FILE.kernel by the launcher). The new names are hidden (.ctrace-old-*),
 * so that FILE* never matches one left by a launcher that was killed. */
static void set_aside(run_state *s) {
  s->aside[0][0] = s->aside[1][0] = '\0';
  if (!s->o.record || s->o.flight)
    return;
  const char *slash = strrchr(s->abs_out, '/'); /* (abs_out is absolute) */
  for (int i = 0; i < 2; i++) {
    char from[sizeof s->aside[0]];
    snprintf(from, sizeof from, "%s%s", s->abs_out, i ? ".kernel" : "");
    int n = snprintf(s->aside[i], sizeof s->aside[i], "%.*s/.ctrace-old-%d-%s",
                     (int)(slash - s->abs_out), s->abs_out, (int)getpid(), i ? "kernel" : "trace");
    if (n < 0 || (size_t)n >= sizeof s->aside[i] || rename(from, s->aside[i]) != 0)
      s->aside[i][0] = '\0'; /* (none there: the usual case) */
  }
}

static void remove_aside(run_state *s) {
  for (int i = 0; i < 2; i++)
    if (s->aside[i][0]) {
      unlink(s->aside[i]);
      s->aside[i][0] = '\0';
    }
}

/* The child: waits on the pipe until the launcher has opened its kernel
 * events (what it got comes through the pipe), then execs PROG with the
 * environment that loads and sets up the recording wrappers. */
static _Noreturn void run_child(const run_state *s, const int go[2]) {
  const run_opts *o = &s->o;
  close(go[1]);
  child_setup cs;
  if (read(go[0], &cs, sizeof cs) != sizeof cs)
    _exit(127); /* the launcher died */
  char ld[PATH_MAX * 3];
  const char *old = getenv("LD_PRELOAD");
  snprintf(ld, sizeof ld, "%s%s%s", s->preload, old && *old ? ":" : "", old && *old ? old : "");
  setenv("LD_PRELOAD", ld, 1);
  if (o->record)
    setenv("CTRACE_OUT", s->abs_out, 1);
  else
    unsetenv("CTRACE_OUT"); /* (ctrace record starts it) */
  if (o->control)
    setenv(CTRACE__CONTROL_ENV, s->abs_control, 1);
  unsetenv("CTRACE_EXECED");
  setenv("CTRACE_FOLLOW", o->follow ? "1" : "0", 1);
  if (o->flight) { /* events stay in memory; dumps go to FILE */
    setenv("CTRACE_MODE", "flight", 1);
    setenv("CTRACE_FLIGHT", o->flight, 1);
    setenv("CTRACE_FLIGHT_OUT", s->abs_out, 1);
  }
  if (o->syscalls)
    setenv("CTRACE_SYSCALLS", cs.syscalls_kernel ? "kernel" : "preload", 1);
  else
    unsetenv("CTRACE_SYSCALLS");
  setenv("CTRACE_SCHED", cs.sched_kernel ? "kernel" : o->sched ? "wrappers" : "off", 1);
  setenv("CTRACE_HEAP", o->heap ? "1" : "0", 1);
  if (o->heap_rate >= 0) {
    char rate[24];
    snprintf(rate, sizeof rate, "%ld", o->heap_rate);
    setenv("CTRACE_HEAP_RATE", rate, 1);
  }
  setenv("CTRACE_LOCKS", o->locks ? "1" : "0", 1);
  /* CPU samples are the launcher's (FILE.kernel is its file): PROG's
   * libctrace takes none of its own, whatever CTRACE_CPU_HZ says; unless
   * the kernel refused the launcher's perf events: then PROG's libctrace
   * samples itself (SIGPROF timers where perf is refused) into FILE.kernel */
  setenv("CTRACE__CPU_SAMPLER", cs.cpu_self_hz ? "self" : "launcher", 1);
  if (cs.cpu_self_hz) {
    char hz[16];
    snprintf(hz, sizeof hz, "%u", cs.cpu_self_hz);
    setenv("CTRACE_CPU_HZ", hz, 1);
  }
  if (cs.why[0])
    setenv("CTRACE_CAPTURE_WHY", cs.why, 1);
  else
    unsetenv("CTRACE_CAPTURE_WHY");
  execv(s->prog, o->prog_argv);
  int e = errno; /* (fprintf may change it) */
  fprintf(stderr, "ctrace run: %s: %s\n", s->prog, strerror(e));
  _exit(e == ENOENT ? 127 : 126);
}

/* Kernel events of the child, opened before it execs: s->perf and s->kt
 * (FILE.kernel), and in s->cs what the kernel records for it. @return
 * RUN_GO_ON, or 1 with a message printed (the child killed). */
static int run_open_kernel(run_state *s) {
  const run_opts *o = &s->o;
  child_setup *cs = &s->cs;
  memset(cs, 0, sizeof *cs);
  /* No FILE.kernel without --record (sessions come and go); a flight
   * recorder keeps only a window: of the kernel's events, the samples. */
  unsigned cpu = o->cpu_hz ? CTRACE__PERF_CPU : 0;
  unsigned want =
      !o->record ? 0
      : o->flight
          ? cpu
          : (o->sched ? CTRACE__PERF_SCHED : 0) |
                (o->syscalls && strcmp(o->sysmode, "preload") ? CTRACE__PERF_SYSCALLS : 0) | cpu;
  if (o->cpu_hz)
    ctrace__perf_set_cpu_hz(o->cpu_hz);
  unsigned got = 0;
  s->perf = want ? ctrace__perf_open_pid(s->pid, want, &got, cs->why, sizeof cs->why) : NULL;
  if (!strcmp(o->sysmode, "kernel") && o->syscalls && !(got & CTRACE__PERF_SYSCALLS)) {
    fprintf(stderr, "ctrace run: --syscalls=kernel: %s\n", cs->why);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    ctrace__perf_close(s->perf);
    s->perf = NULL;
    return 1;
  }
  cs->syscalls_kernel = (got & CTRACE__PERF_SYSCALLS) != 0;
  cs->sched_kernel = (got & CTRACE__PERF_SCHED) != 0;
  s->cpu_sampled = (got & CTRACE__PERF_CPU) != 0;
  /* Nothing of perf's (no FILE.kernel of the launcher's): PROG samples
   * itself, by SIGPROF timers if perf is refused there too. */
  cs->cpu_self_hz = o->cpu_hz && !s->perf && !o->flight ? o->cpu_hz : 0;
  if (cs->cpu_self_hz)
    fprintf(stderr,
            "ctrace run: --cpu-hz %u: the launcher may not sample (%s): PROG samples itself "
            "(its libctrace; SIGPROF timers where perf is refused)\n",
            o->cpu_hz, cs->why);
  else if (o->cpu_hz && !s->cpu_sampled)
    fprintf(stderr, "ctrace run: --cpu-hz %u: no CPU samples: %s\n", o->cpu_hz, cs->why);
  snprintf(s->kpath, sizeof s->kpath, "%s.kernel", s->abs_out);
  s->kt = NULL;
  if (!s->perf || o->flight)
    unlink(s->kpath); /* a stale one from an earlier run would be shown */
  return RUN_GO_ON;
}

/* FILE.kernel, opened while PROG execs (its events wait in the kernel's
 * buffers meanwhile). Should that fail (the directory was writable a moment
 * ago), PROG has been told that the kernel records its switches: they are
 * lost, and the message says so. */
static void run_open_kernel_file(run_state *s) {
  if (!s->perf)
    return;
  const run_opts *o = &s->o;
  char cmdline[4096] = "", err[600];
  for (int i = 0; o->prog_argv[i]; i++)
    snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), "%s%s", i ? " " : "",
             o->prog_argv[i]);
  if (o->flight) {
    s->fl = ctrace_run_flight_start(s->abs_out, o->flight, s->pid, cmdline, o->cpu_hz, s->cs.why);
    if (!s->fl) {
      ctrace__perf_close(s->perf);
      s->perf = NULL;
    }
    return;
  }
  s->kt = kt_open(s->kpath, s->pid, cmdline, s->cs.syscalls_kernel, s->cs.sched_kernel, s->cs.why,
                  err, sizeof err);
  if (s->kt && s->cpu_sampled)
    kt_sampling(s->kt, o->cpu_hz, 1000000000u / o->cpu_hz, ctrace__perf_cpu_method(s->perf));
  if (!s->kt) {
    fprintf(stderr, "ctrace run: cannot record kernel events (the context switches are lost): %s\n",
            err);
    ctrace__perf_close(s->perf);
    s->perf = NULL;
  }
}

/* PROG forked, held on a pipe until its kernel events are open, then let
 * go to exec. @return RUN_GO_ON, or 1 with a message printed. */
static int run_spawn(run_state *s) {
  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    fprintf(stderr, "ctrace run: pipe: %s\n", strerror(errno));
    return 1;
  }
  s->pid = fork();
  if (s->pid < 0) {
    fprintf(stderr, "ctrace run: fork: %s\n", strerror(errno));
    return 1;
  }
  if (s->pid == 0)
    run_child(s, go);
  close(go[0]);
  if (s->o.flight) {
    char second[sizeof s->abs_out + 16];
    ctrace__flight_nth_path(second, sizeof second, s->o.out, 2);
    fprintf(stderr,
            "ctrace run: flight recorder (%s): dumps go to %s, then %s... on "
            "`kill -USR2 %d` (ctrace dump %d) or a crash\n",
            s->o.flight, s->o.out, second, (int)s->pid, (int)s->pid);
  }
  int code = run_open_kernel(s);
  if (code != RUN_GO_ON)
    return code;
  if (write(go[1], &s->cs, sizeof s->cs) != sizeof s->cs) {
    fprintf(stderr, "ctrace run: cannot start the child: %s\n", strerror(errno));
    return 1;
  }
  close(go[1]);
  run_open_kernel_file(s);
  remove_aside(s);
  return RUN_GO_ON;
}

/* Wait for PROG, recording its kernel events meanwhile (into s->status).
 * ^C and ^\ go to the whole process group: PROG gets them; SIGTERM and
 * SIGHUP are passed on. */
static void run_capture(run_state *s) {
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_forward;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  s->status = 0;
  uint64_t last_cut = mono_ns();
  /* A pidfd becomes readable when PROG exits: no polling delay. */
  int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
  for (;;) {
    pid_t r = waitpid(s->pid, &s->status, WNOHANG);
    if (r == s->pid)
      break;
    if (r < 0 && errno != EINTR) {
      fprintf(stderr, "ctrace run: waitpid: %s\n", strerror(errno));
      break;
    }
    if (forward_sig) {
      kill(s->pid, forward_sig);
      forward_sig = 0;
    }
    if (s->fl) {
      ctrace_run_flight_poll(s->fl, s->perf);
    } else if (s->perf) {
      uint64_t now = mono_ns();
      ctrace__perf_drain(s->perf, now - 20000000u, kt_event, s->kt); /* 20 ms watermark */
      if (now - last_cut > 100000000u) {
        kt_cut(s->kt);
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
}

/* PROG is gone: its last kernel events into FILE.kernel, which is closed;
 * into kinfo what it holds, for the report. */
static void run_close_kernel(run_state *s, char *kinfo, size_t len) {
  ctrace__perf_drain(s->perf, UINT64_MAX, kt_event, s->kt);
  uint64_t sw, sc, lost;
  kt_counts(s->kt, &sw, &sc, &lost);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  size_t nstacks = 0;
  uint64_t samples = kt_samples(s->kt, &nstacks);
  char cpu[96] = "";
  if (s->cpu_sampled)
    snprintf(cpu, sizeof cpu, ", %llu CPU samples (%zu distinct stacks)",
             (unsigned long long)samples, nstacks);
  snprintf(kinfo, len,
           " and .kernel (%llu switch records, %llu system calls%s; %.2f s of CPU to record them)",
           (unsigned long long)sw, (unsigned long long)sc, cpu,
           (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  int r = kt_close(s->kt);
  ctrace__perf_close(s->perf); /* (waits ~1 RCU grace period with --syscalls=kernel) */
  s->perf = NULL;
  if (r)
    fprintf(stderr, "ctrace run: writing %s failed: %s\n", s->kpath, strerror(-r));
  if (lost)
    fprintf(stderr,
            "ctrace run: the kernel lost %llu records (its buffers were full); the "
            "trace marks where\n",
            (unsigned long long)lost);
}

/* After PROG: FILE.kernel closed, what was recorded reported, --view
 * finished. @return PROG's exit status (128 + the signal that killed it). */
static int run_finish(run_state *s) {
  const run_opts *o = &s->o;
  int code;
  if (WIFEXITED(s->status))
    code = WEXITSTATUS(s->status);
  else if (WIFSIGNALED(s->status)) {
    code = 128 + WTERMSIG(s->status);
    fprintf(stderr, "ctrace run: %s was killed by signal %d (%s)\n", o->prog_argv[0],
            WTERMSIG(s->status), strsignal(WTERMSIG(s->status)));
  } else {
    code = 1;
  }
  char kinfo[256] = "";
  if (s->fl) {
    ctrace_run_flight_finish(s->fl, s->perf);
    s->fl = NULL;
    ctrace__perf_close(s->perf);
    s->perf = NULL;
  } else if (s->perf) {
    run_close_kernel(s, kinfo, sizeof kinfo);
  } else if (s->cs.cpu_self_hz) {
    snprintf(kinfo, sizeof kinfo, " and .kernel (PROG's own CPU samples)");
  }
  /* What was not captured is in the trace too (DEF_CAPTURE). */
  if (s->cs.why[0])
    fprintf(stderr, "ctrace run: note: %s\n", s->cs.why);
  if (o->control)
    ctrace__control_cleanup(s->abs_control, s->pid);
  if (o->flight)
    flight_report(o->out);
  else if (o->record)
    fprintf(stderr, "ctrace run: trace: %s%s (view: ctrace view %s*)\n", o->out, kinfo, o->out);
  if (o->view)
    code = ctrace_run_view_finish(&s->rv, code, o->prog_argv[0], !terminated);
  return code;
}

/* ctrace run: the steps in order, each going on only after RUN_GO_ON. */
int ctrace_cmd_run(int argc, char **argv) {
  run_state s = {.rv = {.pid = -1, .fd = -1}};
  int code = run_parse(argc, argv, &s.o);
  if (code == RUN_GO_ON)
    code = run_check(&s.o);
  if (code == RUN_GO_ON)
    code = run_prepare(&s);
  if (code == RUN_GO_ON)
    set_aside(&s);
  /* --view: the viewer serves before PROG starts. */
  if (code == RUN_GO_ON && s.o.view &&
      ctrace_run_view_start(&s.rv, s.abs_out, s.o.view_port >= 0 ? s.o.view_port : 8080) != 0)
    code = 1;
  if (code == RUN_GO_ON)
    code = run_spawn(&s);
  if (code == RUN_GO_ON) {
    run_capture(&s);
    code = run_finish(&s);
  }
  remove_aside(&s); /* (when PROG did not start) */
  free(s.prog);
  free(s.preload);
  return code;
}

/* ---- Dispatch --------------------------------------------------------------------------- */
