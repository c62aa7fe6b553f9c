/* The process: how the wrappers find the functions they wrap, the marker
 * that tells the runtime the wrappers are loaded, and exec, after which the
 * program that runs is another one: the trace of what ran before is
 * finished first, and the new image (which loads the wrappers again from
 * LD_PRELOAD) is told to write its own file. fork is the runtime's business
 * (session.c, pthread_atfork), so that instrumented programs follow their
 * children without the wrappers too; vfork is made a fork (below). */
#define _GNU_SOURCE
#include <alloca.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload.h"

/* Looked up by the runtime (dlsym) to know that the wrappers are there. */
__attribute__((visibility("default"))) const int ctrace_preload_present = 1;

void *ctrace__preload_resolve(const char *name) {
  void *p = dlsym(RTLD_NEXT, name);
  if (!p) {
    char msg[160];
    int n = snprintf(msg, sizeof msg,
                     "ctrace: preload: cannot find %s in the libraries after "
                     "libctrace-preload.so\n",
                     name);
    syscall(SYS_write, 2, msg, (size_t)(n > 0 ? n : 0)); /* not the write wrapper */
    abort();
  }
  return p;
}

void *ctrace__preload_real[PL_FN_COUNT];

static const char *const fn_names[PL_FN_COUNT] = {
#define PL_FN_NAME(name) #name,
    PL_FUNCTIONS(PL_FN_NAME)
#undef PL_FN_NAME
};

void *ctrace__preload_resolve_fn(int i) {
  void *p = ctrace__preload_resolve(fn_names[i]);
  __atomic_store_n(&ctrace__preload_real[i], p, __ATOMIC_RELAXED);
  return p;
}

/* Called by the runtime before it dlopens anything (tracer/runtime/lttng.c). */
__attribute__((visibility("default"))) void ctrace_preload_resolve_all(void) {
  ctrace__preload_heap_resolve();
  for (int i = 0; i < PL_FN_COUNT; i++)
    if (!__atomic_load_n(&ctrace__preload_real[i], __ATOMIC_RELAXED))
      ctrace__preload_resolve_fn(i);
}

extern char **environ;

/* The environment for the new image: the same, with CTRACE_EXECED=1 so it
 * writes FILE.PID rather than over this process's FILE. NULL on failure
 * (the caller then passes envp unchanged). */
static char **exec_env(char *const envp[]) {
  static char spans[64 + 8 * CTRACE__INHERITED_SPANS * 48]; /* (exec replaces it all) */
  size_t n = 0;
  while (envp && envp[n])
    n++;
  char **e = NULL;
  ctrace__enter();
  e = malloc((n + 3) * sizeof *e);
  ctrace__leave();
  if (!e)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(envp[i], "CTRACE_EXECED=", 14) != 0 &&
        strncmp(envp[i], "CTRACE_EXEC_SPANS=", 18) != 0)
      e[k++] = envp[i];
  e[k++] = (char *)"CTRACE_EXECED=1";
  strcpy(spans, "CTRACE_EXEC_SPANS=");
  ctrace__exec_spans(spans + 18, sizeof spans - 18);
  if (spans[18])
    e[k++] = spans;
  e[k] = NULL;
  return e;
}

/* Before an exec: finish the trace. After a failed one: trace on, in a new
 * file (this file was finished). */
static int before_exec(void) {
  if (!ctrace_active() || ctrace__tls.guard)
    return 0;
  int e = errno;
  ctrace_stop();
  errno = e;
  return 1;
}

static void after_failed_exec(int was_tracing) {
  if (was_tracing) {
    int e = errno;
    ctrace__restart_after_exec_failure();
    errno = e;
  }
}

/* vfork: the child would run on this process's memory, and what the
 * wrappers do in it before exec (the exec wrapper finishes the trace!)
 * would happen to the parent's session and buffers, and no fork handler
 * runs. It is a fork instead: the same for what vfork allows the child to
 * do (exec or _exit), at the cost of copying the page tables. (dash, for
 * one, runs every command through vfork.) posix_spawn clones internally
 * and runs no wrapper before its exec. */
pid_t vfork(void) { return fork(); }

/* _exit and _Exit skip the atexit handlers and destructors that finish the
 * trace: finish it here (exit() itself calls the real _exit internally). */
void _exit(int status) {
  REAL(void, _exit, (int));
  ctrace__stop_before_exit();
  real__exit(status);
  __builtin_unreachable();
}

void _Exit(int status) {
  REAL(void, _Exit, (int));
  ctrace__stop_before_exit();
  real__Exit(status);
  __builtin_unreachable();
}

int execve(const char *path, char *const argv[], char *const envp[]) {
  REAL(int, execve, (const char *, char *const[], char *const[]));
  int was = before_exec();
  char **env = was ? exec_env(envp) : NULL;
  int r = real_execve(path, argv, env ? env : envp);
  int e = errno;
  ctrace__enter();
  free(env);
  ctrace__leave();
  after_failed_exec(was);
  errno = e;
  return r;
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvpe(const char *file, char *const argv[], char *const envp[]) {
  REAL(int, execvpe, (const char *, char *const[], char *const[]));
  int was = before_exec();
  char **env = was ? exec_env(envp) : NULL;
  int r = real_execvpe(file, argv, env ? env : envp);
  int e = errno;
  ctrace__enter();
  free(env);
  ctrace__leave();
  after_failed_exec(was);
  errno = e;
  return r;
}

int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* execl, execlp, execle: glibc turns them into execve internally, which no
 * wrapper sees; they are rebuilt here on the wrappers above. */
#define ARGV_FROM_VA(first, ap, argv, with_env, envp) \
  do {                                                \
    size_t n_ = 1;                                    \
    va_list c_;                                       \
    va_copy(c_, ap);                                  \
    while (va_arg(c_, char *))                        \
      n_++;                                           \
    va_end(c_);                                       \
    argv = alloca((n_ + 1) * sizeof(char *));         \
    argv[0] = (char *)(first);                        \
    for (size_t i_ = 1; i_ <= n_; i_++)               \
      argv[i_] = va_arg(ap, char *);                  \
    if (with_env)                                     \
      envp = va_arg(ap, char **);                     \
  } while (0)

int execl(const char *path, const char *arg, ...) {
  char **argv, **envp = environ;
  va_list ap;
  va_start(ap, arg);
  ARGV_FROM_VA(arg, ap, argv, 0, envp);
  va_end(ap);
  return execve(path, argv, envp);
}

int execlp(const char *file, const char *arg, ...) {
  char **argv, **envp = environ;
  va_list ap;
  va_start(ap, arg);
  ARGV_FROM_VA(arg, ap, argv, 0, envp);
  va_end(ap);
  return execvpe(file, argv, envp);
}

int execle(const char *path, const char *arg, ...) {
  char **argv, **envp = environ;
  va_list ap;
  va_start(ap, arg);
  ARGV_FROM_VA(arg, ap, argv, 1, envp);
  va_end(ap);
  return execve(path, argv, envp);
}
