/* The viewer-side subcommands of the `ctrace` command (tracer/launcher.c
 * dispatches). Each takes the arguments after its name and returns the
 * process exit status: 0 ok, 1 the trace or the output failed, 2 usage. */
#ifndef CTRACE_VIEWER_COMMANDS_H
#define CTRACE_VIEWER_COMMANDS_H

int ctrace_cmd_export(int argc, char **argv);
int ctrace_cmd_info(int argc, char **argv);
int ctrace_cmd_view(int argc, char **argv); /* server.c */
int ctrace_cmd_stats(int argc, char **argv); /* stats.c */
int ctrace_cmd_pprof(int argc, char **argv); /* profile.c */

/* `ctrace run --view` (run_view.c): the live viewer of the trace being
 * written, a child process (`ctrace view --follow`). */
typedef struct ctrace_run_view {
  int pid; /* the viewer's, or -1 */
  int fd;  /* socket to it */
  char url[256];
} ctrace_run_view;
/* Starts the viewer on trace (an absolute path; it and trace.kernel, left
 * by an earlier run, are removed first) and waits until it serves.
 * @return 0, or -1 with a message printed. */
int ctrace_run_view_start(ctrace_run_view *rv, const char *trace, int port);
/* The run is over (PROG exited with `code`): tells the viewer, which then
 * shows the trace as ended, and keeps it serving until SIGINT, SIGTERM or
 * SIGHUP (then stops it). @return code. */
int ctrace_run_view_finish(ctrace_run_view *rv, int code, const char *prog);

#endif
