/* `ctrace view TRACE...`, `--follow TRACE...`, `--lttng-live URL`: the
 * viewer's options, then the view itself (server.h: sv_view). */
#define _GNU_SOURCE
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "read.h"
#include "server.h"

static const char usage[] =
    "usage: ctrace view TRACE... [--host 127.0.0.1] [--port 8080]\n"
    "       ctrace view --follow TRACE... [--port 8080]\n"
    "       ctrace view --lttng-live net://RELAYD/host/HOST/SESSION [--port 8080]\n"
    "       ctrace view --pid PID [--socket PATH] [--port 8080]\n"
    "       ctrace view TRACE [--index auto|full|scale]\n"
    "       ctrace view BASE... --compare NEW... [--port 8080]\n"
    "  Serves the timeline of ctrace traces, Chrome trace-event JSON files or\n"
    "  LTTng trace directories. --follow shows traces still being written\n"
    "  (ctrace run --view does that for the program it runs); --lttng-live\n"
    "  follows a live LTTng session through lttng-relayd. Either way the\n"
    "  page's timeline grows as events arrive (pushed over /api/events).\n"
    "  --pid attaches to a running process through its control socket (as\n"
    "  ctrace record --pid): its live timeline, and Go's /debug/pprof/ paths\n"
    "  (go tool pprof http://127.0.0.1:PORT/debug/pprof/profile?seconds=5).\n"
    "  --socket PATH the process's control socket (default: its CTRACE_CONTROL)\n"
    "  --host ADDR  address to listen on (default 127.0.0.1: this machine only)\n"
    "  --port N     port (default 8080; 0 picks a free one)\n"
    "  --compare NEW...  two runs side by side: NEW's timeline under BASE's,\n"
    "               aligned at their starts, and ctrace diff's table of the two\n"
    "               (the Analyses panel's Compare tab; every file after it up to\n"
    "               the next option is NEW's)\n"
    "  --index HOW  full: index every event in memory (about 18 bytes each;\n"
    "               every panel); scale: TRACE.idx, made once by one pass and\n"
    "               reused, in bounded memory (one ctrace file and its\n"
    "               FILE.kernel's states; the timeline's regions, instants,\n"
    "               states, counters and arrows, search, and the Analyses'\n"
    "               threads, regions, tasks, waits and system calls); auto\n"
    "               (default): scale for a ctrace file of\n"
    "               $CTRACE_SCALE_MIB (default 32) MiB or more, else full. With\n"
    "               --follow, one ctrace file is followed through a scale index\n"
    "               kept in memory (scale: from the start; auto: once it passes\n"
    "               that size), which grows in bounded memory however long the\n"
    "               program runs\n";

/* ---- ctrace view ----------------------------------------------------------------------------- */

/* ctrace view's options, as each step leaves them for the next. */
typedef struct view_state {
  sv_options v;  /* what sv_view is given */
  char **traces; /* TRACE... (in argv) */
  size_t ntraces;
  int pid;           /* --pid PID (0: none) */
  const char *index; /* --index auto|full|scale */
  const char *sock;  /* --socket PATH */
  char **compare;    /* --compare NEW... (taken out of argv before the options) */
  size_t ncompare;
  int has_compare;
} view_state;

/* Takes --compare NEW... out of argv (the files after it, up to the next
 * option) into s->compare (into: room for argc). @return the new argc. */
static int view_take_compare(int argc, char **argv, view_state *s, char **into) {
  int out = 0;
  s->compare = into;
  for (int i = 0; i < argc; i++) {
    if (i > 0 && !strcmp(argv[i], "--compare")) {
      s->has_compare = 1;
      while (i + 1 < argc && argv[i + 1][0] != '-')
        into[s->ncompare++] = argv[++i];
      continue;
    }
    argv[out++] = argv[i];
  }
  return out;
}

/* The options, into s. @return -1 to go on, 0 after --help, or 2 with a
 * message printed. */
static int view_parse(int argc, char **argv, view_state *s) {
  enum { O_RUN_FD = 1000, O_PID, O_SOCKET, O_INDEX };
  static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"lttng-live", required_argument, NULL, 'L'},
                                       {"follow", no_argument, NULL, 'F'},
                                       {"pid", required_argument, NULL, O_PID},
                                       {"socket", required_argument, NULL, O_SOCKET},
                                       {"index", required_argument, NULL, O_INDEX},
                                       /* (internal: ctrace run --view's socket) */
                                       {"run-fd", required_argument, NULL, O_RUN_FD},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  sv_options *v = &s->v;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'H': v->host = optarg; break;
    case 'F': v->follow = 1; break;
    case O_RUN_FD: v->run_fd = atoi(optarg); break;
    case O_SOCKET: s->sock = optarg; break;
    case O_INDEX:
      if (strcmp(optarg, "auto") && strcmp(optarg, "full") && strcmp(optarg, "scale")) {
        fprintf(stderr, "ctrace view: --index %s: auto, full or scale\n%s", optarg, usage);
        return 2;
      }
      s->index = optarg;
      break;
    case O_PID:
      if ((s->pid = cc_parse_pid(optarg)) < 0) {
        fprintf(stderr, "ctrace view: --pid %s: not a process id\n%s", optarg, usage);
        return 2;
      }
      break;
    case 'L':
      if (strncmp(optarg, "net://", 6) && strncmp(optarg, "net4://", 7) &&
          strncmp(optarg, "net6://", 7)) {
        fprintf(stderr,
                "ctrace view: --lttng-live %s: not an LTTng live URL "
                "(net://RELAYD/host/HOST/SESSION)\n%s",
                optarg, usage);
        return 2;
      }
      v->lttng_live = optarg;
      break;
    case 'p': {
      char *end;
      long p = strtol(optarg, &end, 10);
      if (*end || end == optarg || p < 0 || p > 65535) {
        fprintf(stderr, "ctrace view: --port %s: not a port number (0..65535)\n%s", optarg, usage);
        return 2;
      }
      v->port = (int)p;
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    case ':': /* (the leading ':' of the option string: a value is missing) */
      fprintf(stderr, "ctrace view: option '%s' needs a value\n%s", argv[optind - 1], usage);
      return 2;
    default:
      fprintf(stderr, "ctrace view: unknown option '%s'\n%s", argv[optind - 1], usage);
      return 2;
    }
  }
  s->traces = argv + optind;
  s->ntraces = optind < argc ? (size_t)(argc - optind) : 0;
  return -1;
}

/* One TRACE of --follow: a file, written or to be written in a directory
 * that exists. @return 0, or 2 with a message printed. */
static int view_check_follow(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    fprintf(stderr,
            "ctrace view: --follow %s: a directory (an LTTng trace?); --follow takes "
            "ctrace files being written, --lttng-live URL follows an LTTng session\n%s",
            path, usage);
    return 2;
  }
  /* a file not written yet is waited for, but only in a directory that exists */
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  if (stat(dirname(dir), &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "ctrace view: --follow %s: no directory %s to write it in\n", path,
            dirname(strcpy(dir, path)));
    return 2;
  }
  return 0;
}

/* What the options must say together: --lttng-live alone, else TRACEs,
 * and --follow's in directories that exist. @return -1 to go on, or 2
 * with a message printed. */
static int view_check(const view_state *s) {
  if (s->has_compare && (!s->ncompare || s->pid > 0 || s->v.follow || s->v.lttng_live ||
                         (s->index && !strcmp(s->index, "scale")))) {
    fprintf(stderr,
            "ctrace view: --compare takes the NEW traces after it, and goes with BASE "
            "traces that are not a --pid, followed live, nor read through the scale index\n%s",
            usage);
    return 2;
  }
  if (s->pid > 0 && (s->ntraces || s->v.follow || s->v.lttng_live)) {
    fprintf(stderr,
            "ctrace view: --pid is viewed on its own (no TRACE, --follow or "
            "--lttng-live with it)\n%s",
            usage);
    return 2;
  }
  if (s->sock && s->pid <= 0) {
    fprintf(stderr, "ctrace view: --socket goes with --pid PID\n%s", usage);
    return 2;
  }
  if (s->pid > 0)
    return -1;
  if (s->v.lttng_live && (s->ntraces || s->v.follow)) {
    fprintf(stderr,
            "ctrace view: --lttng-live is viewed on its own (no TRACE or --follow with "
            "it)\n%s",
            usage);
    return 2;
  }
  if (!s->v.lttng_live && !s->ntraces) {
    fprintf(stderr, "ctrace view: missing TRACE\n%s", usage);
    return 2;
  }
  for (size_t i = 0; s->v.follow && i < s->ntraces; i++)
    if (view_check_follow(s->traces[i]))
      return 2;
  return -1;
}

/* BASE (s->v.paths) beside NEW, each with its FILE.kernel. */
static int view_compare(view_state *s) {
  size_t n;
  int *added;
  char **all = cli_with_kernel("view", s->compare, s->ncompare, &n, &added);
  if (!all) {
    fprintf(stderr, "ctrace view: out of memory\n");
    return 1;
  }
  s->v.compare = all;
  s->v.ncompare = n;
  int status = sv_view(&s->v);
  te_paths_free(all, n, added);
  return status;
}

/* The view (sv_view) until it stops. @return its exit code. */
static int view_run(view_state *s) {
  if (s->pid > 0)
    return ctrace_view_pid(&s->v, s->pid, s->sock);
  if (s->v.follow || s->v.lttng_live) {
    s->v.follow_scale = !s->index || !strcmp(s->index, "auto") ? 0
                        : !strcmp(s->index, "scale")           ? 1
                                                               : -1;
    s->v.paths = s->traces;
    s->v.npaths = s->ntraces;
    return sv_view(&s->v);
  }
  /* `ctrace run` writes the kernel's events beside the trace: FILE.kernel
   * goes with FILE unless given already. */
  size_t n;
  int *added;
  char **all = cli_with_kernel("view", s->traces, s->ntraces, &n, &added);
  if (!all) {
    fprintf(stderr, "ctrace view: out of memory\n");
    return 1;
  }
  s->v.paths = all;
  s->v.npaths = n;
  if (s->ncompare) {
    int status = view_compare(s);
    te_paths_free(all, n, added);
    return status;
  }
  int scale = cli_scale("view", s->index, all, n);
  if (scale < 0) {
    te_paths_free(all, n, added);
    return 2;
  }
  s->v.scale = scale;
  int status = sv_view(&s->v);
  te_paths_free(all, n, added);
  return status;
}

int ctrace_cmd_view(int argc, char **argv) {
  view_state s = {.v = {.host = "127.0.0.1", .port = 8080, .run_fd = -1}};
  char **compare = malloc((size_t)argc * sizeof *compare);
  if (!compare) {
    fprintf(stderr, "ctrace view: out of memory\n");
    return 1;
  }
  argc = view_take_compare(argc, argv, &s, compare);
  int code = view_parse(argc, argv, &s);
  if (code < 0)
    code = view_check(&s);
  if (code < 0)
    code = view_run(&s);
  free(compare);
  return code;
}
