/* Sessions: ctrace_start / ctrace_stop / ctrace_flush, options and
 * environment, start at load when $CTRACE_OUT is set, fork, and the error
 * strings. Starting and stopping are serialised by one mutex; recording
 * never touches it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

ctrace__session ctrace__session_state = {.fd = -1};
_Atomic uint32_t ctrace__gen;
_Atomic uint64_t ctrace__dropped_total;

static pthread_mutex_t session_mu = PTHREAD_MUTEX_INITIALIZER;
static int auto_started;
static int forked_child; /* tracing was inherited across fork(): off here */

int ctrace_active(void) { return CTRACE__ACTIVE_RELAXED(); }

uint64_t ctrace_dropped_events(void) {
  return atomic_load_explicit(&ctrace__dropped_total, memory_order_relaxed);
}

/* ---- Options ------------------------------------------------------------------------ */

/* A positive integer from the environment, or def; 0 on a malformed value
 * (reported). */
static long env_long(const char *name, long def, long max) {
  const char *v = getenv(name);
  if (!v || !*v)
    return def;
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || n <= 0 || n > max) {
    fprintf(stderr, "ctrace: %s=%s is not a number in 1..%ld\n", name, v, max);
    return 0;
  }
  return n;
}

static void fork_child(void) {
  /* The writer thread does not exist in the child and the file is the
   * parent's: tracing is off in the child. */
  if (__atomic_load_n(&ctrace__active, __ATOMIC_RELAXED)) {
    __atomic_store_n(&ctrace__active, 0, __ATOMIC_SEQ_CST);
    forked_child = 1;
    if (ctrace__session_state.fd >= 0)
      close(ctrace__session_state.fd);
    ctrace__session_state.fd = -1;
  }
  pthread_mutex_init(&session_mu, NULL);
  pthread_mutex_init(&ctrace__session_state.mu, NULL);
}

static void session_init_once(void) {
  ctrace__session *s = &ctrace__session_state;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_cond_init(&s->done_cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_atfork(NULL, NULL, fork_child);
}

int ctrace_start(const ctrace_options *opts) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, session_init_once);
  ctrace_options o = CTRACE_OPTIONS_INIT;
  if (opts) {
    if (opts->struct_size < offsetof(ctrace_options, flags) + sizeof(uint32_t) ||
        opts->struct_size > 4096)
      return CTRACE_EINVAL;
    memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
    if (o.zstd_level < -131072 || o.zstd_level > 22 || o.flush_ms > 60000 ||
        o.buffer_mb > 1u << 20)
      return CTRACE_EINVAL;
  }
  if (!o.path || !*o.path)
    o.path = getenv("CTRACE_OUT");
  if (!o.path || !*o.path)
    o.path = "ctrace.out";
  if (!o.buffer_mb && !(o.buffer_mb = (uint32_t)env_long("CTRACE_BUFFER_MB", 64, 1 << 20)))
    return CTRACE_EINVAL;
  if (!o.flush_ms)
    o.flush_ms = 100;
  if (!o.zstd_level) {
    const char *lv = getenv("CTRACE_ZSTD_LEVEL");
    o.zstd_level = lv && *lv ? atoi(lv) : 1;
    if (o.zstd_level < -131072 || o.zstd_level > 22 || o.zstd_level == 0)
      o.zstd_level = 1;
  }

  pthread_mutex_lock(&session_mu);
  ctrace__session *s = &ctrace__session_state;
  int r = 0;
  if (CTRACE__ACTIVE()) {
    r = CTRACE_EBUSY;
    goto out;
  }
  if ((r = ctrace__thread_init()) || (r = ctrace__pool_init((size_t)o.buffer_mb << 20)))
    goto out;
  int fd = open(o.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    r = -errno;
    goto out;
  }
  free(s->path);
  s->path = strdup(o.path);
  s->fd = fd;
  s->flush_ms = o.flush_ms;
  s->zstd_level = o.zstd_level;
  s->writer_delay_ms = (uint64_t)env_long("CTRACE__TEST_WRITER_DELAY_MS", 0, 3600000);
  s->clock_kind = ctrace__clock_init(o.flags & CTRACE_OPT_CLOCK_MONOTONIC);
  ctrace__clock_sync(&s->start);
  s->ticks_per_sec = ctrace__clock_estimate_hz(&s->start);
  s->gen = atomic_load(&ctrace__gen) + 1;
  atomic_store(&ctrace__dropped_total, 0);
  if ((r = ctrace__writer_start(s))) {
    close(fd);
    s->fd = -1;
    goto out;
  }
  atomic_store(&ctrace__gen, s->gen);
  forked_child = 0;
  __atomic_store_n(&ctrace__active, 1, __ATOMIC_SEQ_CST);
out:
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace_stop(void) {
  pthread_mutex_lock(&session_mu);
  ctrace__session *s = &ctrace__session_state;
  int r;
  if (!CTRACE__ACTIVE()) {
    r = forked_child ? CTRACE_EFORK : CTRACE_ENOTACTIVE;
    pthread_mutex_unlock(&session_mu);
    return r;
  }
  __atomic_store_n(&ctrace__active, 0, __ATOMIC_SEQ_CST);
  r = ctrace__writer_stop(s);
  if (close(s->fd) != 0 && !r)
    r = -errno;
  s->fd = -1;
  ctrace__pool_release_memory();
  if (!r && atomic_load(&ctrace__dropped_total))
    r = CTRACE_ELOST;
  pthread_mutex_unlock(&session_mu);
  return r;
}

int ctrace_flush(void) {
  pthread_mutex_lock(&session_mu);
  int r = CTRACE__ACTIVE() ? ctrace__writer_flush(&ctrace__session_state) : CTRACE_ENOTACTIVE;
  pthread_mutex_unlock(&session_mu);
  return r;
}

/* ---- Start at load, stop at exit ----------------------------------------------------------- */

__attribute__((constructor)) static void auto_start(void) {
  const char *out = getenv("CTRACE_OUT");
  if (!out || !*out)
    return;
  int r = ctrace_start(NULL);
  if (r)
    fprintf(stderr, "ctrace: cannot trace to %s: %s\n", out, ctrace_strerror(r));
  else
    auto_started = 1;
}

__attribute__((destructor)) static void auto_stop(void) {
  if (!auto_started || !CTRACE__ACTIVE())
    return;
  const char *path = ctrace__session_state.path;
  int r = ctrace_stop();
  if (r == CTRACE_ELOST)
    fprintf(stderr,
            "ctrace: %llu events were dropped (the writer could not keep up); the trace "
            "%s marks where. Raise CTRACE_BUFFER_MB to keep them.\n",
            (unsigned long long)ctrace_dropped_events(), path ? path : "");
  else if (r)
    fprintf(stderr, "ctrace: writing %s failed: %s\n", path ? path : "", ctrace_strerror(r));
}
