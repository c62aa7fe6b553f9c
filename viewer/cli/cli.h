/* This file is private to the `ctrace` command (viewer/cli): one file per
 * subcommand, dispatched by main.c's table. Each command takes the
 * arguments after its name and returns the process's exit status: 0 ok, 1
 * the trace, the program or the output failed, 2 usage. */
#ifndef CTRACE_CLI_H
#define CTRACE_CLI_H

int ctrace_cmd_run(int argc, char **argv);    /* run.c */
int ctrace_cmd_record(int argc, char **argv); /* record.c: the control socket's client */
int ctrace_cmd_dump(int argc, char **argv);   /* dump.c */
int ctrace_cmd_view(int argc, char **argv);   /* view.c */
int ctrace_cmd_export(int argc, char **argv); /* export.c */
int ctrace_cmd_info(int argc, char **argv);   /* info.c */
int ctrace_cmd_stats(int argc, char **argv);  /* stats.c */
int ctrace_cmd_diff(int argc, char **argv);   /* diff.c: exit 1 means regressed, 2 usage */
int ctrace_cmd_pprof(int argc, char **argv);  /* pprof.c */
int ctrace_cmd_top(int argc, char **argv);    /* top.c */
int ctrace_cmd_leaks(int argc, char **argv);  /* leaks.c */
int ctrace_cmd_list(int argc, char **argv);   /* list.c */
int ctrace_cmd_stacks(int argc, char **argv); /* stacks.c */
int ctrace_cmd_why(int argc, char **argv);    /* why.c: the critical path */

/* ---- Shared by the commands (args.c) ----------------------------------------------- */

#include <stddef.h>

/* paths, each followed by its FILE.kernel where that exists and is not
 * given (te_paths_with_kernel), saying so on stderr ("ctrace CMD: with
 * X.kernel ..."). Free with te_paths_free(all, *nout, *added). NULL when out
 * of memory. */
char **cli_with_kernel(const char *cmd, char **paths, size_t n, size_t *nout, int **added);

/* The traces and their FILE.kernel indexed (analysis.h: vx_build), for the
 * commands that analyse them; a trace read only in part (truncated) is
 * said on stderr ("ctrace CMD: FILE: warning: ..."). @return the index, or
 * NULL with a message printed ("ctrace CMD: ..."). */
struct vx_index;
struct vx_index *cli_index(const char *cmd, char **traces, size_t n);

/* Whether the traces (FILE.kernel added) are read through the scale index
 * (analysis.h: vs_open), by --index HOW (NULL: "auto"): "full" never;
 * "scale" for one ctrace file (and its FILE.kernel, left out and said so);
 * "auto" for one such of $CTRACE_SCALE_MIB (default 32) MiB or more.
 * @return 1, 0, or -1 with a message printed ("ctrace CMD: --index scale
 * takes ..."). */
int cli_scale(const char *cmd, const char *how, char *const *paths, size_t n);
/* The --index option's text for usages. */
#define CLI_INDEX_USAGE                                                            \
  "  --index HOW     full: every event indexed in memory (about 18 bytes each);\n" \
  "                  scale: TRACE.idx, made by one pass and reused, in bounded\n"  \
  "                  memory (one ctrace file alone); auto (default): scale for\n"  \
  "                  a ctrace file of $CTRACE_SCALE_MIB (default 32) MiB or more\n"

#include "analysis.h"

/* ctrace stats of one trace through its scale index (stats_scale.c): its
 * threads and regions in the window of o. @return 0, or 1 with a message
 * printed. */
int cli_stats_scale(const char *trace, const st_options *o, size_t top, st_sort_key key, int json);

/* ---- CPU profiles: what top and pprof --type cpu share (top.c) -------------------- */

#include "analysis.h"

/* --thread, --region, --since, --until, --debug-dir as they were given. */
typedef struct cpu_args {
  cp_options o;
  const char *dirs[16];
  size_t ndirs;
} cpu_args;
/* Takes option c ('t' thread, 'r' region, 'a' since, 'b' until, 'A' at, 'd'
 * debug-dir) with its value. @return 0 taken, 2 bad value (message
 * printed), -1 not one of these. */
int cpu_option(cpu_args *a, int c, const char *arg, const char *cmd, const char *usage);
/* The traces indexed into *x and their profile into *p (both to free, also
 * on failure). @return 0, or 1 with a message printed. */
int cpu_compute(const char *cmd, char **traces, size_t n, const cpu_args *a, struct vx_index **x,
                cp_profile *p);

/* ---- The control socket's client (control_client.c) ------------------------------- */

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* `ctrace run --control`, once PROG exited: removes the socket (PATH, %p
 * being pid) if it is still there and nobody listens (PROG was killed). */
void ctrace__control_cleanup(const char *spec, int pid);

uint64_t cc_mono_ms(void);       /* CLOCK_MONOTONIC, ms */
int cc_parse_pid(const char *s); /* a pid > 0, or -1 */
int cc_proc_alive(int pid);      /* 1 if the process exists (ours or not) */
/* Name's value in /proc/PID/environ (the environment the process started
 * with). @return 1 found, 0 not there, -errno if unreadable. */
int cc_proc_env(int pid, const char *name, char *out, size_t len);
/* Whether the process catches sig (/proc/PID/status SigCgt). */
int cc_proc_catches(int pid, int sig);
/* The process's control socket: given (--socket), else its CTRACE_CONTROL
 * (%p replaced). 0, or 1 with a message printed ("ctrace CMD: ..."). */
int cc_find_socket(const char *cmd, int pid, const char *given, char *out, size_t len);
/* Connects to the process's socket (with its uid when we are root and it
 * is not), and checks that the process listening is pid. @return the fd,
 * or -1 with a message printed. */
int cc_connect_to(const char *cmd, int pid, const char *path);

/* The same, the message into err instead of printed (without "ctrace
 * CMD: "). */
int cc_find_socket_e(int pid, const char *given, char *out, size_t len, char *err, size_t errlen);
int cc_connect_e(int pid, const char *path, char *err, size_t errlen);

/* Reply lines of one connection. */
typedef struct cc_lines {
  int fd;
  char buf[PATH_MAX + 1024];
  size_t len;
} cc_lines;
/* The next reply line into out (without its newline). @return 1, 0 at
 * end of stream, -ETIMEDOUT past deadline_ms, -EINTR on ^C (once: see
 * cc_on_interrupt), or -errno. */
int cc_next_line(cc_lines *l, char *out, size_t len, uint64_t deadline_ms);
int cc_send_line(int fd, const char *line); /* 0 or -errno */
/* path made absolute (the traced process writes it, from its own cwd). */
void cc_absolute(const char *path, char *out, size_t len);
/* The SIGINT handler of `ctrace record`: the first ^C sets cc_interrupted
 * (cc_next_line then returns -EINTR once), a second one kills us. */
extern volatile sig_atomic_t cc_interrupted;
void cc_on_interrupt(int sig);

/* `ctrace record --pid PID --cpu-hz N` (record_cpu.c): the process's CPU
 * samples, taken by ctrace record, into FILE.kernel. In this order: */
typedef struct record_cpu record_cpu;
/* Attaches the sampling events to every thread of pid. NULL with a message
 * printed ("ctrace record: --cpu-hz N: cannot sample process PID: why"). */
record_cpu *record_cpu_open(int pid, unsigned hz);
/* Creates FILE.kernel beside file; samples are kept from now on. @return
 * 0, or 1 with a message printed. */
int record_cpu_start(record_cpu *rc, const char *file);
/* Reads and writes what the events gave (every ~20 ms while recording). */
void record_cpu_poll(record_cpu *rc);
/* The recording ended: the last samples, the events closed, FILE.kernel
 * finished beside file (where the process wrote it; NULL: where it was
 * made) and reported on stdout. @return 0, or 1 with a message printed. */
int record_cpu_finish(record_cpu *rc, const char *file);
/* Frees rc (NULL too); FILE.kernel, if not finished, is removed. */
void record_cpu_close(record_cpu *rc);

/* ---- Every thread's stack, now (stacks.c) ----------------------------------------
 *
 * `ctrace stacks PID` and the viewer's /debug/pprof/threads: the control
 * socket's `stacks` (each thread interrupted for microseconds), unwound and
 * named here. */
#include <stdio.h>
typedef struct cli_stacks cli_stacks;
/* Every thread of process pid, through its control socket (its
 * CTRACE_CONTROL; root connects with the process's uid). @return 0, or -1
 * with a message in err (no such process, no control socket and how to get
 * one, another user's, exited, out of memory). */
int cli_stacks_capture(int pid, cli_stacks **out, char *err, size_t errlen);
/* The same through socket (NULL: the process's CTRACE_CONTROL; %p is pid). */
int cli_stacks_capture_at(int pid, const char *socket, cli_stacks **out, char *err, size_t errlen);
/* The text `ctrace stacks` prints (Go's goroutine?debug=2): per thread a
 * header, thread TID "NAME" [what it does], then its frames, innermost
 * first, with file:line. */
void cli_stacks_text(const cli_stacks *s, FILE *out);
/* The same as one JSON document (`--json`), with how long the process was
 * interrupted. @return 0, or -1 out of memory. */
int cli_stacks_json(const cli_stacks *s, FILE *out);
/* A pprof profile (profile.proto, gzipped; Go's goroutine profile): one
 * sample per distinct stack, sample type threads/count. @return 0, or -1
 * (out of memory, write error). */
int cli_stacks_pprof(const cli_stacks *s, FILE *out);
void cli_stacks_free(cli_stacks *s); /* accepts NULL */

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
 * shows the trace as ended, and (linger) keeps it serving until SIGINT,
 * SIGTERM or SIGHUP, then stops it; without linger (ctrace run itself was
 * told to terminate, and passed it on to PROG) stops it at once.
 * @return code. */
int ctrace_run_view_finish(ctrace_run_view *rv, int code, const char *prog, int linger);

/* `ctrace view --pid PID` (view_pid.c): attaches to the process through
 * its control socket (sock, or its CTRACE_CONTROL), serves o's view of its
 * live recording with /debug/pprof/ (o's paths, follow and pprof are set
 * here), and stops the recording when the view stops. @return the exit
 * status (1 with a message printed when it cannot attach). */
struct sv_options;
int ctrace_view_pid(struct sv_options *o, int pid, const char *sock);

/* `ctrace run --flight SPAN --cpu-hz N` (run_flight.c): the CPU samples of
 * the last SPAN kept by the launcher, written as DUMP.kernel beside each
 * dump PROG writes (FILE, FILE-2...: abs_out's names). */
typedef struct ctrace_run_flight ctrace_run_flight;
struct ctrace__perf; /* (capture.h) */
/* @return the store, or NULL with a message printed (no samples then). */
ctrace_run_flight *ctrace_run_flight_start(const char *abs_out, const char *spec, int pid,
                                           const char *cmdline, unsigned hz, const char *why);
/* Writes DUMP.kernel for each dump PROG closed since the last call (the
 * samples drained from perf first). Accepts NULL. */
void ctrace_run_flight_poll(ctrace_run_flight *f, struct ctrace__perf *perf);
/* PROG is gone: the last samples, the last dumps, and the store freed.
 * Accepts NULL. */
void ctrace_run_flight_finish(ctrace_run_flight *f, struct ctrace__perf *perf);

#endif /* CTRACE_CLI_H */
