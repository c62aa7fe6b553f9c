/* The `ctrace` command: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "ctrace/ctrace.h"

static const char usage[] =
    "usage: ctrace COMMAND [ARGS]\n"
    "commands:\n"
    "  export TRACE [-o FILE.json]   Chrome trace-event JSON for Perfetto / chrome://tracing\n"
    "  info TRACE                    what a trace holds, and whether it is complete\n"
    "  view TRACE... [--port N]      serve the timeline in the browser (http://127.0.0.1:8080/)\n"
    "  version                       print the version\n"
    "Record a program linked with libctrace: CTRACE_OUT=trace.ctrace ./prog\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "export") == 0)
    return ctrace_cmd_export(argc - 1, argv + 1);
  if (strcmp(cmd, "info") == 0)
    return ctrace_cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "view") == 0)
    return ctrace_cmd_view(argc - 1, argv + 1);
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
