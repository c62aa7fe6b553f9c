/* `ctrace run --view`: the launcher's side of the live view. The viewer is
 * this binary again (`ctrace view --follow FILE --run-fd N`), started before
 * PROG in a process group of its own (a ^C meant for PROG does not stop
 * it), killed if the launcher dies (PR_SET_PDEATHSIG). They talk over a
 * socketpair: the viewer writes its URL once it serves, the launcher
 * writes "end" once the run is over (PROG exited, FILE.kernel closed); each
 * sees EOF if the other goes away. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define VIEW_START_TIMEOUT_MS 20000

int ctrace_run_view_start(ctrace_run_view *rv, const char *trace, int port) {
  memset(rv, 0, sizeof *rv);
  rv->pid = -1;
  rv->fd = -1;
  /* What an earlier run left would be shown until this one rewrites it. */
  char k[4200];
  snprintf(k, sizeof k, "%s.kernel", trace);
  unlink(trace);
  unlink(k);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    fprintf(stderr, "ctrace run: --view: socketpair: %s\n", strerror(errno));
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "ctrace run: --view: fork: %s\n", strerror(errno));
    close(sv[0]);
    close(sv[1]);
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(1);          /* the launcher died already */
    int fd = dup(sv[1]); /* (without FD_CLOEXEC: the viewer keeps it) */
    char port_s[16], fd_s[16];
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(fd_s, sizeof fd_s, "%d", fd);
    char *argv[] = {"ctrace", "view",     "--follow", (char *)trace, "--port",
                    port_s,   "--run-fd", fd_s,       NULL};
    execv("/proc/self/exe", argv);
    fprintf(stderr, "ctrace run: --view: cannot start the viewer: %s\n", strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  rv->pid = pid;
  rv->fd = sv[0];
  /* Its URL, once it serves (PROG starts then: nothing it does is missed). */
  size_t got = 0;
  int waited = 0;
  while (got < sizeof rv->url - 1 && waited < VIEW_START_TIMEOUT_MS) {
    struct pollfd p = {.fd = rv->fd, .events = POLLIN};
    int r = poll(&p, 1, 100);
    waited += 100;
    if (r < 0 && errno != EINTR)
      break;
    if (r <= 0)
      continue;
    ssize_t n = read(rv->fd, rv->url + got, sizeof rv->url - 1 - got);
    if (n <= 0)
      break;
    got += (size_t)n;
    rv->url[got] = '\0';
    if (strchr(rv->url, '\n'))
      break;
  }
  char *nl = strchr(rv->url, '\n');
  if (!nl) {
    fprintf(stderr, "ctrace run: --view: the viewer did not start%s\n",
            waited >= VIEW_START_TIMEOUT_MS ? " (no answer in 20 s)" : "");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    close(rv->fd);
    rv->fd = -1;
    rv->pid = -1;
    return -1;
  }
  *nl = '\0';
  return 0;
}

static volatile sig_atomic_t stop_sig;
static void on_stop(int sig) { stop_sig = sig; }

int ctrace_run_view_finish(ctrace_run_view *rv, int code, const char *prog, int linger) {
  if (rv->pid <= 0)
    return code;
  if (!linger) /* (the launcher was told to terminate: the view goes with it) */
    stop_sig = SIGTERM;
  /* (MSG_NOSIGNAL: a viewer that is gone is no reason to die) */
  if (send(rv->fd, "end\n", 4, MSG_NOSIGNAL) != 4 && errno != EPIPE && errno != ECONNRESET)
    fprintf(stderr, "ctrace run: --view: %s\n", strerror(errno));
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  sigprocmask(SIG_BLOCK, &block, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  if (linger)
    fprintf(stderr,
            "ctrace run: %s exited (status %d); the live view stays at %s until "
            "Ctrl+C (SIGINT) or SIGTERM\n",
            prog, code, rv->url);
  /* Until a signal, or the viewer exits (EOF on the socket). */
  sigset_t wait_mask = old;
  sigdelset(&wait_mask, SIGINT);
  sigdelset(&wait_mask, SIGTERM);
  sigdelset(&wait_mask, SIGHUP);
  while (!stop_sig) {
    struct pollfd p = {.fd = rv->fd, .events = POLLIN};
    int r = ppoll(&p, 1, NULL, &wait_mask);
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0) {
      char b[64];
      ssize_t n = read(rv->fd, b, sizeof b);
      if (n <= 0)
        break; /* the viewer is gone */
    }
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (stop_sig)
    kill(rv->pid, SIGTERM);
  int st;
  while (waitpid(rv->pid, &st, 0) < 0 && errno == EINTR) {
  }
  close(rv->fd);
  rv->fd = -1;
  rv->pid = -1;
  return code;
}
