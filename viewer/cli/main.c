/* The `ctrace` command: a table of subcommands, one file each (cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctrace/ctrace.h"

static int cmd_version(int argc, char **argv) {
  (void)argc;
  (void)argv;
  printf("ctrace %s\n", ctrace_version());
  return 0;
}

static const struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage; /* its line in `ctrace help` */
} commands[] = {
    {"run", ctrace_cmd_run, "run [-o FILE] -- PROG ARGS    record a program (no rebuild needed)"},
    {"record", ctrace_cmd_record,
     "record --pid PID --seconds N -o FILE  trace a running process for N s (its\n"
     "                                control socket: CTRACE_CONTROL, run --control)"},
    {"dump", ctrace_cmd_dump,
     "dump PID [-o FILE]            dump a running process's flight recorder"},
    {"view", ctrace_cmd_view,
     "view TRACE... [--port N]      serve the timeline in the browser (http://127.0.0.1:8080/)"},
    {"export", ctrace_cmd_export,
     "export TRACE... [-o FILE.json] Chrome trace-event JSON for Perfetto / chrome://tracing"},
    {"info", ctrace_cmd_info,
     "info TRACE                    what a trace holds, and whether it is complete"},
    {"stats", ctrace_cmd_stats,
     "stats TRACE... [--json]       threads, top regions, blocking, syscalls, heap (--help)"},
    {"diff", ctrace_cmd_diff,
     "diff BASE... -- NEW... [--json] what got slower; exit 1 if something regressed (--help)"},
    {"pprof", ctrace_cmd_pprof,
     "pprof --type T TRACE... [-o F] profiles for pprof: cpu|heap|allocs|sync|syscall|sched|io "
     "(--help)"},
    {"top", ctrace_cmd_top,
     "top TRACE... [--lines] [--region R] where the CPU time went (ctrace run --cpu-hz N) "
     "(--help)"},
    {"leaks", ctrace_cmd_leaks,
     "leaks TRACE... [--at T]        what was still allocated at exit, by call stack (--help)"},
    {"why", ctrace_cmd_why,
     "why TRACE... --region NAME    the critical path of a region or --task ID across threads "
     "(--help)"},
    {"list", ctrace_cmd_list,
     "list TRACE... REGEX           a function's source with its CPU samples per line (--help)"},
    {"stacks", ctrace_cmd_stacks,
     "stacks PID [--json]           every thread's call stack of a running process, now "
     "(--help)"},
    {"version", cmd_version, "version                       print the version"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
  fputs("usage: ctrace COMMAND [ARGS]\ncommands:\n", f);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %s\n", commands[i].usage);
  fputs("Record a program linked with libctrace: CTRACE_OUT=trace.ctrace ./prog\n", f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (!strcmp(cmd, commands[i].name))
      return commands[i].run(argc - 1, argv + 1);
  if (!strcmp(cmd, "--version"))
    return cmd_version(argc - 1, argv + 1);
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "ctrace: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
