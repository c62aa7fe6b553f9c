/* CPU samples of a program linked with libctrace, taken by the program
 * itself: CTRACE_CPU_HZ=N, or ctrace_options.cpu_hz (which wins when not 0,
 * as the other options do over their variables).
 *
 * libctrace never links the unwinder (libdw) nor tracer/capture: they are
 * in a module, libctrace-cpu.so (tracer/cpu, cpu_module.h), loaded at the
 * first session that asks for samples. Where it is looked for, in order:
 *   $CTRACE_CPU_MODULE    when set and not empty, the only place tried
 *   libctrace's own directory (the build tree, the install's libdir)
 *   its name alone        (dlopen's own search: LD_LIBRARY_PATH, ld.so.cache)
 * The module samples every thread of the process into FILE.kernel beside
 * the session's FILE (FILE.PID.kernel beside FILE.PID); its thread here,
 * "ctrace-cpu", reads and unwinds the samples every 10 ms and is one of the
 * tracer's own (its samples are the tracer's CPU cost, as the writer's).
 * Sampling stops at ctrace_stop, or at exit (atexit) when the program does
 * not stop the session.
 *
 * No samples are taken here when the session is a flight recorder, a
 * forked child's (its file is created later, if ever), or one that
 * `ctrace record` asked for; nor under `ctrace run`, whose launcher samples
 * the process and writes FILE.kernel itself (it sets
 * CTRACE__CPU_SAMPLER=launcher), unless the kernel refused it its events:
 * then it sets CTRACE__CPU_SAMPLER=self and CTRACE_CPU_HZ, and the program
 * samples itself (by SIGPROF timers, tracer/cpu/sigprof.c, where perf is
 * refused to it too).
 * When samples cannot be taken (no module, the kernel refuses), stderr and
 * the trace's capture note (ctrace info) say why, and tracing goes on. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu_module.h"
#include "internal.h"

#define CPU_HZ_MAX 10000 /* as `ctrace run --cpu-hz` */

static pthread_mutex_t cpu_mu = PTHREAD_MUTEX_INITIALIZER;
static ctrace__cpu_module *mod;      /* loaded (under cpu_mu) */
static ctrace__cpu_sampler *sampler; /* sampling (under cpu_mu) */
static pthread_t poller;
static int stopping; /* (atomic) the poller ends */
static char sampler_kpath[PATH_MAX];
static char close_msg[600]; /* the poller's, once it closed the sampler */

int ctrace__cpu_options(ctrace_options *o) {
  if (o->cpu_hz > CPU_HZ_MAX)
    return CTRACE_EINVAL;
  const char *v = getenv("CTRACE_CPU_HZ");
  if (o->cpu_hz || !v || !*v)
    return 0;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || n < 0 || n > CPU_HZ_MAX) {
    fprintf(stderr, "ctrace: CTRACE_CPU_HZ=%s is not a number in 0..%d\n", v, CPU_HZ_MAX);
    return CTRACE_EINVAL;
  }
  o->cpu_hz = (uint32_t)n;
  return 0;
}

/* Appends "; " (after the first), head and text to why (cut to fit). */
static void why_add2(char *why, size_t len, const char *head, const char *text) {
  size_t n = strnlen(why, len);
  if (n + 3 >= len)
    return;
  if (n) {
    memcpy(why + n, "; ", 2);
    n += 2;
  }
  for (const char *s = head; s; s = s == head ? text : NULL) {
    size_t t = strlen(s);
    if (t > len - 1 - n)
      t = len - 1 - n; /* (cut) */
    memcpy(why + n, s, t);
    n += t;
  }
  why[n] = '\0';
}

static void why_add(char *why, size_t len, const char *text) { why_add2(why, len, text, ""); }

/* Tries the module at path. @return its table, or NULL with a note in why. */
static ctrace__cpu_module *try_path(const char *path, char *why, size_t len) {
  char note[700];
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    e = e ? e : "unknown error";
    /* (dlerror names the file it could not open: the module or a library it needs) */
    if (!strncmp(e, path, strlen(path)))
      snprintf(note, sizeof note, "%s", e);
    else
      snprintf(note, sizeof note, "%s: %s", path, e);
    why_add(why, len, note);
    return NULL;
  }
  ctrace__cpu_module_open_fn entry =
      (ctrace__cpu_module_open_fn)(uintptr_t)dlsym(h, CTRACE__CPU_MODULE_ENTRY);
  ctrace__cpu_module *m = entry ? entry(CTRACE__CPU_MODULE_ABI) : NULL;
  if (!m || m->size < sizeof *m) {
    snprintf(note, sizeof note, "%s: %s", path,
             entry ? "of another ctrace build"
                   : "no " CTRACE__CPU_MODULE_ENTRY " (not ctrace's module)");
    why_add(why, len, note);
    dlclose(h);
    return NULL;
  }
  return m;
}

/* The module (see the top), or NULL with every place tried and why. */
static ctrace__cpu_module *load_module(char *why, size_t len) {
  const char *env = getenv("CTRACE_CPU_MODULE");
  if (env && *env) {
    ctrace__cpu_module *m = try_path(env, why, len);
    if (!m)
      why_add(why, len, "(from CTRACE_CPU_MODULE)");
    else
      m->own_thread = ctrace__own_tid_add;
    return m;
  }
  Dl_info info;
  if (dladdr((void *)load_module, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%.*s/" CTRACE__CPU_MODULE_FILE,
                     (int)(strrchr(info.dli_fname, '/') - info.dli_fname), info.dli_fname);
    ctrace__cpu_module *m = n > 0 && (size_t)n < sizeof p ? try_path(p, why, len) : NULL;
    if (m)
      m->own_thread = ctrace__own_tid_add;
    if (m)
      return m;
  }
  ctrace__cpu_module *m = try_path(CTRACE__CPU_MODULE_FILE, why, len);
  if (!m)
    why_add(why, len, "(CTRACE_CPU_MODULE may name it)");
  if (m)
    m->own_thread = ctrace__own_tid_add; /* (the sampler's threads are the tracer's) */
  return m;
}

/* The sampler's thread: polls every 10 ms, and closes the sampler when
 * told to stop (so that every thread the module starts, even to close its
 * events, has this thread's name: the tracer's, see own_thread). */
static void *poll_main(void *arg) {
  ctrace__cpu_sampler *s = arg;
  ctrace__tls.guard = 1; /* never records */
  prctl(PR_SET_NAME, CTRACE__CPU_THREAD_NAME, 0, 0, 0);
  ctrace__own_tid_add(ctrace__tid());
  while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
    mod->poll(s);
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  if (mod->close(s, close_msg, sizeof close_msg) != 0 && !close_msg[0])
    snprintf(close_msg, sizeof close_msg, "cannot finish the file");
  return NULL;
}

/* Starts the poller thread, all signals blocked (they are the program's). */
static int start_poller(ctrace__cpu_sampler *s) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  __atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
  ctrace__tls.guard++; /* (thread creation is not the program's) */
  int r = pthread_create(&poller, NULL, poll_main, s);
  ctrace__tls.guard--;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return r;
}

static void stop_locked(void) {
  if (!sampler)
    return;
  __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
  pthread_join(poller, NULL); /* (it closed the sampler) */
  if (close_msg[0])
    fprintf(stderr, "ctrace: CPU samples (%s): %s\n", sampler_kpath, close_msg);
  sampler = NULL;
}

static void at_exit(void) {
  pthread_mutex_lock(&cpu_mu);
  stop_locked();
  pthread_mutex_unlock(&cpu_mu);
}

static void fork_child(void) {
  /* The poller is the parent's; its events and file too (left alone). */
  pthread_mutex_init(&cpu_mu, NULL);
  sampler = NULL;
}

static void register_once(void) {
  pthread_atfork(NULL, NULL, fork_child);
  atexit(at_exit);
}

/* The sampler on FILE.kernel. Under cpu_mu. @return 0, or -1 with why. */
static int start_locked(unsigned hz, const char *path, char *why, size_t len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_once);
  if (!mod && !(mod = load_module(why, len))) {
    char *tried = strdup(why);
    why[0] = '\0';
    why_add2(why, len, "cannot load the CPU sampler " CTRACE__CPU_MODULE_FILE ": ",
             tried ? tried : "");
    free(tried);
    return -1;
  }
  snprintf(sampler_kpath, sizeof sampler_kpath, "%s.kernel", path);
  int guard = ctrace__tls.guard;
  ctrace__tls.guard = 1;
  sampler = mod->open(hz, sampler_kpath, why, len);
  ctrace__tls.guard = guard;
  if (!sampler)
    return -1;
  close_msg[0] = '\0';
  int r = start_poller(sampler);
  if (r) {
    char msg[256];
    mod->close(sampler, msg, sizeof msg);
    sampler = NULL;
    unlink(sampler_kpath);
    snprintf(why, len, "cannot start its thread: %s", strerror(r));
    return -1;
  }
  return 0;
}

void ctrace__cpu_start(unsigned hz, const char *path, int flight, int on_demand) {
  const char *by = getenv("CTRACE__CPU_SAMPLER"); /* "launcher", or "self" (see the top) */
  int launcher = by && *by && strcmp(by, "self") != 0;
  if (launcher || on_demand || !path || flight) {
    if (hz && flight && !launcher)
      why_add(ctrace__capture_state.why, sizeof ctrace__capture_state.why,
              "CPU samples: not taken in flight mode by libctrace (ctrace run --flight SPAN "
              "--cpu-hz N takes them)");
    return; /* (a forked child's session: its file comes later, if ever) */
  }
  char kpath[PATH_MAX];
  struct stat st;
  if (!hz) { /* an earlier session's samples would be read with this FILE */
    if (snprintf(kpath, sizeof kpath, "%s.kernel", path) < (int)sizeof kpath &&
        stat(kpath, &st) == 0 && S_ISREG(st.st_mode))
      unlink(kpath);
    return;
  }
  char why[1500] = "";
  pthread_mutex_lock(&cpu_mu);
  stop_locked(); /* (none: sessions do not overlap) */
  int r = start_locked(hz, path, why, sizeof why);
  pthread_mutex_unlock(&cpu_mu);
  if (r == 0)
    return;
  fprintf(stderr, "ctrace: no CPU samples at %u Hz: %s; tracing goes on without them\n", hz, why);
  why_add2(ctrace__capture_state.why, sizeof ctrace__capture_state.why, "CPU samples: ", why);
}

void ctrace__cpu_stop(void) {
  pthread_mutex_lock(&cpu_mu);
  stop_locked();
  pthread_mutex_unlock(&cpu_mu);
}
