/* LTTng traces (CTF), the tools' side (read.h: ctf_supported,
 * ctf_stats_free; read_internal.h: te__ctf_read). The reader itself,
 * ctf_events.c, is a module, libctrace-ctf.so, loaded here on the first
 * LTTng trace read: it links libbabeltrace2, which brings glib, gmodule and
 * pcre2, and loading those at start-up cost every command ~1.7 ms (of
 * `ctrace run`'s 10 ms budget) whether it read an LTTng trace or not.
 *
 * Where the module is looked for, in order:
 *   $CTRACE_CTF_MODULE    when set and not empty, the only place tried
 *   the executable's own directory (the build tree)
 *   the install's library directory, relative to the executable's
 *                         (bin/../lib, as installed by CMakeLists.txt)
 *   its name alone        (dlopen's own search: LD_LIBRARY_PATH, ld.so.cache)
 * A module that cannot be loaded is an error naming every place tried and
 * why, once per process (the first attempt's answer is kept). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "ctf_module.h"

void ctf_stats_free(ctf_stats *st) {
  if (!st)
    return;
  for (size_t i = 0; i < st->nnames; i++)
    free(st->by_name[i].name);
  free(st->by_name);
  for (size_t i = 0; i < st->nprocs; i++)
    free(st->procs[i].name);
  free(st->procs);
  for (size_t i = 0; i < st->ntraces; i++)
    free(st->paths[i]);
  free(st->paths);
  st->by_name = NULL;
  st->procs = NULL;
  st->paths = NULL;
  st->nnames = st->nprocs = st->ntraces = 0;
}

/* Fails as te__ctf_read does when it cannot read at all. */
static int not_read(te_source *src, ctf_stats *stats, const char *why, char *err, size_t errlen) {
  (void)src;
  if (stats)
    memset(stats, 0, sizeof *stats);
  snprintf(err, errlen, "an LTTng (CTF) trace directory, but %s", why);
  return -ENOTSUP;
}

#if !defined(CTRACE_WITH_BABELTRACE2)

int ctf_supported(void) { return 0; }

int te__ctf_read(const char *dir, te_source *src, ctf_stats *stats, te_handler fn, void *arg,
                 char *err, size_t errlen) {
  (void)dir;
  (void)fn;
  (void)arg;
  return not_read(src, stats,
                  "ctrace was built without babeltrace2 (install libbabeltrace2-dev and "
                  "rebuild to read it)",
                  err, errlen);
}

#else /* CTRACE_WITH_BABELTRACE2: libctrace-ctf.so was built */

int ctf_supported(void) { return 1; }

/* What the module may use of ours (ctf_module.h). */
static const ctf_host host = {CTF_MODULE_ABI,    sizeof(te_event), sizeof(te_source),
                              sizeof(ctf_stats), te_syscall_nr,    ctrace_strerror};

/* The module, once loaded (or why not). Written by load() under
 * pthread_once, which orders it before every reader that passes the once:
 * the live view reads on a worker thread. */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static ctf_read_fn module_read;
static const char *load_tried; /* where load_why's places came from */
static char load_why[1024];

/* Appends "; " (after the first) and text to load_why. */
static void why_add(const char *text) {
  size_t n = strlen(load_why);
  snprintf(load_why + n, sizeof load_why - n, "%s%s", n ? "; " : "", text);
}

/* Tries the module at path (a path, or a bare name for dlopen's search).
 * @return its reader, or NULL with why_add's note of what went wrong. */
static ctf_read_fn try_path(const char *path) {
  char note[600];
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    e = e ? e : "unknown error";
    /* dlerror names the file it could not open: the module, or a library
     * it needs (libbabeltrace2.so.0), which must be told apart. */
    if (!strncmp(e, path, strlen(path)))
      snprintf(note, sizeof note, "%s", e);
    else
      snprintf(note, sizeof note, "%s: %s", path, e);
    why_add(note);
    return NULL;
  }
  /* A module that turns out wrong stays loaded: unloading babeltrace2 and
   * glib once they ran their constructors is not safe. */
  ctf_module_open_fn entry = (ctf_module_open_fn)(uintptr_t)dlsym(h, CTF_MODULE_ENTRY);
  ctf_read_fn reader = entry ? entry(&host) : NULL;
  if (!reader) {
    snprintf(note, sizeof note, "%s: %s", path,
             entry ? "of another ctrace build" : "no " CTF_MODULE_ENTRY " (not ctrace's module)");
    why_add(note);
  }
  return reader;
}

/* dir/rel/CTF_MODULE_FILE, when it fits. */
static ctf_read_fn try_in(const char *dir, const char *rel) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s%s/" CTF_MODULE_FILE, dir, rel);
  if (n < 0 || (size_t)n >= sizeof path)
    return NULL;
  return try_path(path);
}

static void load(void) {
  const char *env = getenv("CTRACE_CTF_MODULE");
  if (env && *env) {
    load_tried = "from CTRACE_CTF_MODULE";
    module_read = try_path(env);
    return;
  }
  load_tried = "(CTRACE_CTF_MODULE may name it)";
  char *exe = ctrace__exe_dir();
  if (exe) {
    module_read = try_in(exe, "");
    if (!module_read)
      module_read = try_in(exe, "/" CTRACE_CTF_LIBDIR);
    free(exe);
  }
  if (!module_read)
    module_read = try_path(CTF_MODULE_FILE);
}

int te__ctf_read(const char *dir, te_source *src, ctf_stats *stats, te_handler fn, void *arg,
                 char *err, size_t errlen) {
  pthread_once(&load_once, load);
  if (module_read)
    return module_read(dir, src, stats, fn, arg, err, errlen);
  char why[sizeof load_why + 128];
  snprintf(why, sizeof why,
           "ctrace's LTTng reader, " CTF_MODULE_FILE ", could not be loaded %s: %s", load_tried,
           load_why);
  return not_read(src, stats, why, err, errlen);
}

#endif /* CTRACE_WITH_BABELTRACE2 */
