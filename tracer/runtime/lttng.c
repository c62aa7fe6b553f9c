/* LTTng-UST in the runtime (built with CTRACE_WITH_LTTNG).
 *
 * libctrace defines no tracepoint and does not link liblttng-ust: the
 * tracepoints of provider `ctrace` are defined, registered and fired in
 * libctrace-lttng.so (tracer/lttng/probes.c), which exports a table of
 * functions, one per tracepoint (ctrace_lttng_probes); libctrace copies it
 * when it loads the library and fires events through its copy
 * (CTRACE__TP, lttng.h). A program that never meets an LTTng session daemon
 * thus loads nothing of LTTng's: no library, thread or socket. Where one
 * runs (its application socket exists: the root daemon's in /var/run/lttng,
 * or the user's in $LTTNG_HOME or $HOME/.lttng), libctrace loads
 * libctrace-lttng.so from its own directory at load time; liblttng-ust then
 * registers the process with the daemon, which enables what sessions ask.
 * CTRACE_LTTNG=1 loads the probes in any case, CTRACE_LTTNG=0 never.
 *
 * The public macros call into the library only while ctrace__active is
 * non-zero. LTTng says nothing when a session enables or disables a
 * tracepoint, so a thread ("ctrace-lttng") asks the probes every 100 ms
 * whether any ctrace:* tracepoint is enabled and keeps the CTRACE__ON_LTTNG
 * bit of ctrace__active in step. The first look happens at load, after
 * liblttng-ust has registered (it waits for the daemon's enablers), so a
 * session started before the program sees its events from the start; one
 * enabled later, within 100 ms. */
#define _GNU_SOURCE
#include "lttng.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int ctrace__lttng_pid;

ctrace_lttng_probes ctrace__lttng_tp;

static int probes_loaded;

/* Sets or clears CTRACE__ON_LTTNG: is any ctrace:* tracepoint enabled? */
static void update(void) {
  if (ctrace__lttng_tp.any_enabled())
    __atomic_fetch_or(&ctrace__active, CTRACE__ON_LTTNG, __ATOMIC_SEQ_CST);
  else
    __atomic_fetch_and(&ctrace__active, ~CTRACE__ON_LTTNG, __ATOMIC_SEQ_CST);
}

static void *watch(void *arg) {
  (void)arg;
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  ctrace__tls.guard = 1; /* never records */
  prctl(PR_SET_NAME, "ctrace-lttng", 0, 0, 0);
  ctrace__own_tid_add(ctrace__tid());
  for (;;) {
    update();
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void start_watcher(void) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  pthread_t t;
  ctrace__tls.guard++; /* (thread creation is not the program's) */
  int r = pthread_create(&t, &a, watch, NULL);
  ctrace__tls.guard--;
  pthread_attr_destroy(&a);
  if (r)
    fprintf(stderr, "ctrace: LTTng: cannot start the watcher thread: %s\n", strerror(r));
}

static void fork_child(void) {
  ctrace__lttng_pid = (int)getpid();
  if (probes_loaded)
    start_watcher(); /* the parent's did not come along */
}

/* Does DIR hold the application socket of a session daemon that runs? A
 * daemon that was killed leaves its socket and pid file behind. */
static int daemon_in(const char *dir) {
  char p[PATH_MAX];
  if (!dir || !*dir || snprintf(p, sizeof p, "%s/lttng-ust-sock-8", dir) >= (int)sizeof p ||
      access(p, F_OK) != 0)
    return 0;
  snprintf(p, sizeof p, "%s/lttng-sessiond.pid", dir);
  FILE *f = fopen(p, "re");
  long pid = 0;
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Is an LTTng session daemon there to register with? root's, or the
 * user's ($LTTNG_HOME or $HOME, in .lttng). */
static int daemon_present(void) {
  if (daemon_in("/var/run/lttng"))
    return 1;
  const char *home = getenv("LTTNG_HOME");
  if (!home || !*home)
    home = getenv("HOME");
  char dir[PATH_MAX];
  return home && snprintf(dir, sizeof dir, "%s/.lttng", home) < (int)sizeof dir && daemon_in(dir);
}

/* libctrace-lttng.so from the directory libctrace was loaded from, else by
 * name from the library path. */
static void *load_probes(char *why, size_t whylen) {
  Dl_info info;
  void *h = NULL;
  if (dladdr((void *)load_probes, &info) && info.dli_fname) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", info.dli_fname);
    char *slash = strrchr(p, '/');
    if (slash && (size_t)(slash - p) + sizeof "/libctrace-lttng.so" <= sizeof p) {
      strcpy(slash, "/libctrace-lttng.so");
      h = dlopen(p, RTLD_NOW | RTLD_GLOBAL);
    }
  }
  if (!h)
    h = dlopen("libctrace-lttng.so", RTLD_NOW | RTLD_GLOBAL);
  if (!h)
    snprintf(why, whylen, "%s", dlerror());
  return h;
}

/* Copies the table of the probes H into ctrace__lttng_tp. @return 0, or -1
 * with the reason in why (a libctrace-lttng.so of another build). */
static int take_probes(void *h, char *why, size_t whylen) {
  const ctrace_lttng_probes *t = dlsym(h, CTRACE__LTTNG_PROBES_NAME);
  if (!t || t->struct_size != sizeof *t) {
    snprintf(why, whylen, "no " CTRACE__LTTNG_PROBES_NAME " of this libctrace's build in it");
    return -1;
  }
  /* (any_enabled is read by update(): here, and on the watcher thread,
   * started after this) */
  ctrace__lttng_tp.any_enabled = t->any_enabled;
#define CTRACE__TP_TAKE(name, args, fields) \
  __atomic_store_n(&ctrace__lttng_tp.tp_##name, t->tp_##name, __ATOMIC_RELAXED);
  CTRACE_TP_LIST(CTRACE__TP_TAKE)
#undef CTRACE__TP_TAKE
  return 0;
}

__attribute__((constructor)) static void lttng_init(void) {
  ctrace__lttng_pid = (int)getpid();
  const char *env = getenv("CTRACE_LTTNG");
  int want = env && *env ? strcmp(env, "0") != 0 : daemon_present();
  if (!want)
    return;
  char why[512] = "";
  int guard = ctrace__tls.guard;
  ctrace__tls.guard = 1; /* liblttng-ust's own start-up is not the program's */
  /* The preload's wrappers (if loaded) look up what they wrap now: a
   * lookup needs the loader's lock, which dlopen holds while liblttng-ust
   * starts and waits for its threads, which call wrapped functions. */
  void (*resolve_all)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "ctrace_preload_resolve_all");
  if (resolve_all)
    resolve_all();
  void *h = load_probes(why, sizeof why);
  ctrace__tls.guard = guard;
  if (!h || take_probes(h, why, sizeof why) != 0) {
    if (env && *env) /* asked for: say why not */
      fprintf(stderr, "ctrace: CTRACE_LTTNG=%s: cannot load the LTTng probes: %s\n", env, why);
    return;
  }
  probes_loaded = 1;
  update();
  pthread_atfork(NULL, NULL, fork_child);
  start_watcher();
}
