/* This file is private to ctrace: the control socket's protocol, shared by
 * the server in libctrace (control.c) and its client, the `ctrace record`
 * and `ctrace dump` commands (control_cli.c). Nothing here is API.
 *
 * A process started with CTRACE_CONTROL=PATH (PATH may hold %p, replaced by
 * the pid) listens on a unix stream socket there, mode 0600. A client
 * connects, sends one command line, and reads reply lines:
 *
 *   record SECONDS PATH  ->  "ok PATH", then, when SECONDS have passed, the
 *                            client hung up or sent "stop", or a `stop`
 *                            came on another connection:
 *                            "done PATH BYTES DROPPED"
 *                            ("note: ..." lines may come before it)
 *   stop                 ->  "done PATH BYTES DROPPED" (the recording that
 *                            `record` started ends now)
 *   dump [PATH]          ->  "ok PATH" (ctrace_flight_dump; without PATH
 *                            to the process's next default dump path, the
 *                            one written is in the reply)
 *   status               ->  "ok pid=N tracing=no|file|record|flight left=S
 *                            wrappers=yes|no path=PATH" (left: seconds of
 *                            the record to go; path: the trace, or where
 *                            flight dumps go)
 *   anything else        ->  "error: ..." (the connection closes; the
 *                            process carries on)
 *
 * Every failure is one line "error: TEXT". A peer whose uid is not the
 * process's effective uid is refused ("error: permission denied: ..."),
 * root included: root's `ctrace record` takes the target's uid to connect. */
#ifndef CTRACE_TRACER_CONTROL_H
#define CTRACE_TRACER_CONTROL_H

#define CTRACE__CONTROL_LINE_MAX 4096  /* a command line, newline included */
#define CTRACE__CONTROL_READ_MS 5000   /* to send the command, once connected */
#define CTRACE__CONTROL_MAX_SECONDS 86400.0
#define CTRACE__CONTROL_CONNS 8        /* connections served at once */
#define CTRACE__CONTROL_ENV "CTRACE_CONTROL"

/* control_cli.c: `ctrace record` and `ctrace dump` (the arguments after the
 * command's name; the exit status: 0 ok, 1 failed, 2 usage). */
int ctrace_cmd_record(int argc, char **argv);
int ctrace_cmd_dump(int argc, char **argv);
/* `ctrace run --control`, once PROG exited: removes the socket (PATH, %p
 * being pid) if it is still there and nobody listens (PROG was killed). */
void ctrace__control_cleanup(const char *spec, int pid);

#endif /* CTRACE_TRACER_CONTROL_H */
