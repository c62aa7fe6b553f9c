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

#endif
