/* The flight recorder: real processes (tests/progs/flightrec.c) recording
 * with CTRACE_MODE=flight, dumped by ctrace_flight_dump, by SIGUSR2 and by
 * their own crash; every dump is read back (reader and viewer index) and
 * must be complete, untorn, and hold the window asked for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "analysis.h"
#include "test.h"
#include "trace_util.h"

/* tracer/internal.h (the library exports them for tests) */
int ctrace__flight_parse(const char *spec, uint64_t *window_ms, uint64_t *bytes);

#define MS 1000000ull
/* What a dump of the 1 s window spans at least. The recorder keeps every
 * record whose last event is within the window (+ half a cut period), so
 * every event of the window is in the dump; but when the program recorded
 * nothing for a while at the window's start (descheduled: a sanitizer
 * build on a busy 2-core machine has shown an 18 ms pause), the events
 * held start that much later. 50 ms allows for such a pause. */
#define WINDOW_HELD ((1000 - 50) * MS)
#define FLIGHTREC TEST_PROGS_DIR "/flightrec"

static uint64_t mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A number after "key=" in text (0 if absent). */
static uint64_t field(const char *text, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "%s=", key);
  const char *p = text ? strstr(text, k) : NULL;
  return p ? strtoull(p + strlen(k), NULL, 10) : 0;
}

static long long sfield(const char *text, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "%s=", key);
  const char *p = text ? strstr(text, k) : NULL;
  return p ? strtoll(p + strlen(k), NULL, 10) : -99999;
}

/* A scratch path, with nothing left there by an earlier process of the
 * same pid (the scratch directory is named after it). */
static const char *fresh(const char *name) {
  const char *p = test_tmp_path(name);
  unlink(p);
  return p;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    TEST_FAIL("no dump at %s: %s", path, strerror(errno));
  return (uint64_t)st.st_size;
}

/* What a dump must be, whatever asked for it: readable with no problem
 * (the reader and the viewer's index), complete (END), marked as a flight
 * recorder's, and untorn: every thread's "seq" counter goes up by one
 * from its first event to its last (but where a DROPPED event says that
 * the writer fell behind). Returns the loaded trace; *first and
 * *last get the earliest and latest event times. */
static ttrace *check_dump(const char *path, uint64_t *first, uint64_t *last) {
  ttrace *t = tt_load(path);
  if (rd_problem(t->tr))
    TEST_FAIL("%s: %s", path, rd_problem(t->tr));
  ASSERT(rd_complete(t->tr));
  ASSERT_EQ(t->stream_errors, 0);
  ASSERT(rd_file_flags(t->tr) & CTRACE_FMT_FF_FLIGHT);
  ASSERT_GT(t->nmerged, 100);
  *first = t->merged[0].ts;
  *last = t->merged[t->nmerged - 1].ts;
  for (size_t i = 0; i < t->nth; i++) {
    const tthread *th = &t->th[i];
    int64_t prev = -1;
    size_t n = 0;
    for (size_t k = 0; k < th->n; k++) {
      const tev *e = &th->ev[k];
      if (e->type == CTRACE_FMT_EV_DROPPED) /* (the writer fell behind: told, not torn) */
        prev = -1;
      if (e->type != CTRACE_FMT_EV_COUNTER || strcmp(tt_site_name(t, e->arg[0]), "seq"))
        continue;
      int64_t v = ctrace_fmt_unzigzag(e->arg[1]);
      if (prev >= 0 && v != prev + 1)
        TEST_FAIL("%s: thread %s: seq %lld follows %lld: events missing in the middle", path,
                  th->name, (long long)v, (long long)prev);
      prev = v;
      n++;
    }
    ASSERT(n > 0 || th->n == 0);
  }
  char *paths[] = {(char *)path};
  char err[512] = "";
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  const vx_source *src = vx_source_get(x, 0);
  if (src->problem)
    TEST_FAIL("%s: viewer: %s", path, src->problem);
  ASSERT(src->complete);
  vx_free(x);
  return t;
}

static size_t count_named(ttrace *t, unsigned type, const char *name, uint64_t *ts) {
  size_t n = 0;
  for (size_t i = 0; i < t->nmerged; i++)
    if (t->merged[i].type == type && !strcmp(tt_site_name(t, t->merged[i].arg[0]), name)) {
      n++;
      if (ts)
        *ts = t->merged[i].ts;
    }
  return n;
}

/* ---- Dumps asked for ---------------------------------------------------------------------- */

/* ~3 s of a region every ~1 ms with a 1 s window, then ctrace_flight_dump:
 * the dump holds the last >= 1 s and nothing much older (the window plus
 * a flush period and slack), up to the call. */
TEST_IMPL(flight_dump_window) {
  const char *path = fresh("flight-window.ctrace");
  char second[800];
  snprintf(second, sizeof second, "%s.second", path);
  unlink(second);
  char *argv[] = {FLIGHTREC, "dump", "3", (char *)path, NULL};
  char *env[] = {"CTRACE_MODE=flight", "CTRACE_FLIGHT=1s", NULL};
  test_proc p = test_run(argv, env);
  if (p.status != 0)
    TEST_FAIL("flightrec: status %d\n%s%s", p.status, p.out, p.err);
  ASSERT_EQ(sfield(p.out, "dump_r"), 0);
  ASSERT_EQ(sfield(p.out, "second_r"), 0);
  uint64_t at = field(p.out, "dump_ns");
  uint64_t first, last;
  ttrace *t = check_dump(path, &first, &last);
  printf("dump: %zu events from %.1f ms to %.1f ms before the call (span %.1f ms), %llu bytes, "
         "written in %.2f ms\n",
         t->nmerged, (double)(at - first) / 1e6, (double)(at - last) / 1e6,
         (double)(last - first) / 1e6, (unsigned long long)file_size(path),
         (double)field(p.out, "took_ns") / 1e6);
  ASSERT_UGE(last - first, WINDOW_HELD);           /* at least the window */
  ASSERT_ULE(at - first, (1000 + 100 + 150) * MS); /* nothing much older */
  ASSERT_ULE(last, at);
  ASSERT_ULE(at - last, 20 * MS); /* up to the call: the threads were cut first */
  ASSERT_GT(tt_count(tt_thread(t, "flightrec"), CTRACE_FMT_EV_REGION_BEGIN), 500);
  /* The recorder's own figures: a 1 s window forgot the older records. */
  ASSERT_UEQ(field(p.out, "window_ms"), 1000);
  ASSERT_GT(field(p.out, "evicted"), 0);
  ASSERT_UEQ(field(p.out, "dumps"), 1);

  /* Recording went on: a second dump, later, also complete. */
  uint64_t first2, last2;
  ttrace *t2 = check_dump(second, &first2, &last2);
  ASSERT_UGE(last2, last + 40 * MS);
  tt_free(t2);

  /* `ctrace info` says what the file is. */
  char *info[] = {(char *)test_ctrace_bin, "info", (char *)path, NULL};
  test_proc q = test_run(info, NULL);
  ASSERT_EQ(q.status, 0);
  ASSERT_CONTAINS(q.out, "by the flight recorder");
  ASSERT_CONTAINS(q.out, "complete:  yes");
  test_proc_free(&q);
  tt_free(t);
  test_proc_free(&p);
  return 0;
}

/* A child whose stdout we read while it runs. */
typedef struct kid {
  pid_t pid;
  int out;
} kid;

static kid spawn(char *const argv[], char *const env[]) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  kid k = {fork(), fds[0]};
  ASSERT(k.pid >= 0);
  if (k.pid == 0) {
    dup2(fds[1], 1);
    for (int i = 0; env[i]; i++)
      putenv(env[i]);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  char line[16];
  ASSERT_EQ(read(k.out, line, 6), 6); /* "ready\n" */
  ASSERT(!memcmp(line, "ready\n", 6));
  return k;
}

static int reap(kid *k, char *out, size_t cap) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < cap && (r = read(k->out, out + n, cap - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(k->out);
  int st;
  while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* SIGUSR2 (what `ctrace dump PID` sends to a process without a control
 * socket) dumps to CTRACE_FLIGHT_OUT, then FILE-2 for the next one. */
TEST_IMPL(flight_signal) {
  const char *path = fresh("flight-sig.ctrace");
  const char *path2 = fresh("flight-sig-2.ctrace");
  char outenv[800];
  snprintf(outenv, sizeof outenv, "CTRACE_FLIGHT_OUT=%s", path);
  char *argv[] = {FLIGHTREC, "signal", "3.5", NULL};
  char *env[] = {"CTRACE_MODE=flight", "CTRACE_FLIGHT=1s", outenv, NULL};
  kid k = spawn(argv, env);
  usleep(2000000);
  uint64_t sent = mono();
  ASSERT_EQ(kill(k.pid, SIGUSR2), 0);
  usleep(500000);
  uint64_t sent2 = mono();
  ASSERT_EQ(kill(k.pid, SIGUSR2), 0);
  char out[4096];
  ASSERT_EQ(reap(&k, out, sizeof out), 0); /* (recording went on) */
  ASSERT_UEQ(field(out, "dumps"), 2);

  uint64_t first, last;
  ttrace *t = check_dump(path, &first, &last);
  printf("SIGUSR2 dump: events from %.1f ms before the signal to %.1f ms after\n",
         (double)(sent - first) / 1e6, ((double)last - (double)sent) / 1e6);
  ASSERT_UGE(last - first, WINDOW_HELD);
  ASSERT_ULE(sent - first, (1000 + 100 + 150) * MS);
  ASSERT_UGE(last + 5 * MS, sent);   /* up to the signal ... */
  ASSERT_ULE(last, sent + 250 * MS); /* ... noticed within a writer cycle (10 ms; slack) */
  tt_free(t);
  t = check_dump(path2, &first, &last);
  ASSERT_UGE(last + 5 * MS, sent2);
  ASSERT_ULE(last, sent2 + 250 * MS);
  ASSERT_UGE(last - first, WINDOW_HELD);
  tt_free(t);
  return 0;
}

/* A byte cap: definitions and ring stay at or under it (the recorder's
 * peak and its memory, and the dump's size: cap + file header + a CLOCK
 * and an END record), with two threads recording as fast as they can. */
TEST_IMPL(flight_byte_cap) {
  const char *path = fresh("flight-cap.ctrace");
  char *argv[] = {FLIGHTREC, "many", "1.5", (char *)path, NULL};
  char *env[] = {"CTRACE_MODE=flight", "CTRACE_FLIGHT=256KiB", NULL};
  test_proc p = test_run(argv, env);
  if (p.status != 0)
    TEST_FAIL("flightrec: status %d\n%s%s", p.status, p.out, p.err);
  uint64_t cap = 256 * 1024, size = file_size(path);
  printf("%s", p.out);
  printf("dump: %llu bytes, cap %llu\n", (unsigned long long)size, (unsigned long long)cap);
  ASSERT_UEQ(field(p.out, "cap"), cap);
  ASSERT_UEQ(field(p.out, "window_ms"), 0);
  ASSERT_ULE(field(p.out, "peak"), cap);
  ASSERT_ULE(field(p.out, "alloc"), cap);
  ASSERT_ULE(field(p.out, "defs") + field(p.out, "ring"), cap);
  ASSERT_GT(field(p.out, "evicted"), 10); /* the cap was reached */
  ASSERT_ULE(size, cap + CTRACE_FMT_FILE_HEADER_SIZE + 2 * CTRACE_FMT_RECORD_HEADER_SIZE +
                       CTRACE_FMT_CLOCK_PAYLOAD + 64);
  ASSERT_UGE(size, cap / 2); /* and nearly filled */
  uint64_t first, last;
  ttrace *t = check_dump(path, &first, &last);
  /* filled with events, not overhead: at most 4 bytes an event on average
   * (the bound was 100 000 events; with TSC ticks, whose deltas take more
   * varint bytes when a sanitized build runs slowly, a CI run held 99 403
   * in 245 084 bytes) */
  ASSERT_GT(t->nmerged, size / 4);
  ASSERT_GE(t->nth, 2);
  tt_free(t);
  test_proc_free(&p);
  return 0;
}

/* ---- Crashes ------------------------------------------------------------------------------------ */

/* A program that crashes after 1.5 s leaves a readable, complete dump
 * whose last event is near its crash marker, and still dies by the signal. */
static void crash_env(const char *mode, int sig, const char *name, const char *thread,
                      const char *extra_env, const char *said) {
  char file[64];
  snprintf(file, sizeof file, "flight-crash-%s.ctrace", mode);
  const char *path = fresh(file);
  char outenv[800];
  snprintf(outenv, sizeof outenv, "CTRACE_FLIGHT_OUT=%s", path);
  char *argv[] = {FLIGHTREC, (char *)mode, "1.5", NULL};
  /* In sanitizer builds the sanitizer's own SIGSEGV handler (which ours
   * chains to) would report and exit instead of dying by the signal. */
  char tsan[1024], asan[1024];
  const char *t0 = getenv("TSAN_OPTIONS"), *a0 = getenv("ASAN_OPTIONS");
  snprintf(tsan, sizeof tsan, "TSAN_OPTIONS=%s%shandle_segv=0", t0 ? t0 : "", t0 && *t0 ? ":" : "");
  snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%shandle_segv=0", a0 ? a0 : "", a0 && *a0 ? ":" : "");
  char *env[] = {
      "CTRACE_MODE=flight", "CTRACE_FLIGHT=1s", outenv, tsan, asan, (char *)extra_env, NULL};
  test_proc p = test_run(argv, env);
  if (p.status != 128 + sig)
    TEST_FAIL("flightrec %s: status %d, not %d\n%s%s", mode, p.status, 128 + sig, p.out, p.err);
  char want[1024];
  snprintf(want, sizeof want, "crash (%s): %s%s", name, said, path);
  ASSERT_CONTAINS(p.err, want);
  uint64_t crashed = field(p.out, "crash_ns");
  ASSERT(crashed);
  uint64_t first, last, marker = 0;
  ttrace *t = check_dump(path, &first, &last);
  ASSERT_EQ(count_named(t, CTRACE_FMT_EV_INSTANT, "crash marker", &marker), 1);
  printf("%s: dump of %zu events, %.1f ms; its last event %.3f ms after the marker, which is "
         "%.3f ms before the crash\n",
         mode, t->nmerged, (double)(last - first) / 1e6, (double)(last - marker) / 1e6,
         (double)(crashed - marker) / 1e6);
  ASSERT_ULE(marker, crashed);
  ASSERT_ULE(crashed - marker, 200 * MS);
  if (!thread) { /* the one thread stopped at its crash */
    ASSERT_ULE(last, marker + 200 * MS);
    ASSERT_UGE(last - first, WINDOW_HELD); /* the window before the crash */
    ASSERT_ULE(last - first, (1000 + 100 + 150) * MS);
  } else { /* the crashed thread's last event is the marker; the others went on */
    tthread *th = tt_thread(t, thread);
    ASSERT(th != NULL);
    ASSERT_UEQ(th->ev[th->n - 1].ts, marker);
    ASSERT_UGE(last - th->ev[0].ts, WINDOW_HELD); /* (the window ends at the latest event) */
    ASSERT_ULE(last, marker + 2000 * MS);
  }
  tt_free(t);
  test_proc_free(&p);
}

static void crash(const char *mode, int sig, const char *name, const char *thread) {
  crash_env(mode, sig, name, thread, NULL, "wrote ");
}

TEST_IMPL(flight_crash_segv) {
  crash("segv", SIGSEGV, "SIGSEGV", NULL);
  return 0;
}

TEST_IMPL(flight_crash_abort) {
  crash("abort", SIGABRT, "SIGABRT", NULL);
  return 0;
}

/* On the signal stack the recorder gives each recording thread. */
TEST_IMPL(flight_crash_overflow) {
  crash("overflow", SIGSEGV, "SIGSEGV", NULL);
  return 0;
}

/* Another thread than the main one crashes; the main one goes on
 * recording while the writer dumps. */
TEST_IMPL(flight_crash_thread) {
  crash("thread-segv", SIGSEGV, "SIGSEGV", "crasher");
  return 0;
}

/* The writer does not answer (stuck, say on a lock the crashed thread
 * held; a test hook here): after 2 s the crashed thread writes the dump
 * itself, with what was published since the writer's last cut as raw
 * batches (the crash marker among them). */
TEST_IMPL(flight_crash_stuck_writer) {
  crash_env("segv", SIGSEGV, "SIGSEGV", NULL, "CTRACE__TEST_FLIGHT_STUCK_WRITER=1",
            "wrote (by the crashed thread) ");
  return 0;
}

/* A forked child records on its own (its window, its dumps: FILE.PID)
 * and crashes; the parent carries on. */
TEST_IMPL(flight_fork) {
  const char *path = fresh("flight-fork.ctrace");
  char outenv[800];
  snprintf(outenv, sizeof outenv, "CTRACE_FLIGHT_OUT=%s", path);
  char *argv[] = {FLIGHTREC, "fork-segv", "1.2", NULL};
  char *env[] = {"CTRACE_MODE=flight", "CTRACE_FLIGHT=1s", outenv, NULL};
  test_proc p = test_run(argv, env);
  if (p.status != 0)
    TEST_FAIL("flightrec: status %d\n%s%s", p.status, p.out, p.err);
  ASSERT_EQ(field(p.out, "child_status"), 128 + SIGSEGV);
  char child[900];
  snprintf(child, sizeof child, "%s.%d", path, (int)field(p.out, "child"));
  ASSERT_CONTAINS(p.err, child);
  ASSERT(access(path, F_OK) != 0); /* the parent dumped nothing */
  uint64_t first, last, marker = 0;
  ttrace *t = check_dump(child, &first, &last);
  ASSERT_EQ(rd_pid(t->tr), (int)field(p.out, "child"));
  ASSERT_EQ(count_named(t, CTRACE_FMT_EV_INSTANT, "crash marker", &marker), 1);
  ASSERT_ULE(last, marker + 200 * MS);
  ASSERT_UGE(last - first, WINDOW_HELD);
  tt_free(t);
  test_proc_free(&p);
  return 0;
}

/* ---- The API and the settings ------------------------------------------------------------------- */

/* In this process: errors outside flight mode; a flight session started
 * with the options (no environment) dumps, several times, and stops. */
TEST_IMPL(flight_api) {
  ASSERT_EQ(ctrace_flight_dump(NULL), CTRACE_ENOTACTIVE);
  ASSERT_STR_EQ(ctrace_strerror(CTRACE_ENOTFLIGHT), "tracing is not in flight-recorder mode");
  ASSERT_STR_EQ(ctrace_err_name(CTRACE_ENOTFLIGHT), "CTRACE_ENOTFLIGHT");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = fresh("flight-api-file.ctrace");
  ASSERT_EQ(ctrace_start(&o), 0);
  ASSERT_EQ(ctrace_flight_dump(NULL), CTRACE_ENOTFLIGHT);
  ASSERT_EQ(ctrace_stop(), 0);

  /* An old caller's smaller struct: no flight fields, file mode. */
  ctrace_options old = CTRACE_OPTIONS_INIT;
  old.struct_size = offsetof(ctrace_options, mode);
  old.path = fresh("flight-api-old.ctrace");
  ASSERT_EQ(ctrace_start(&old), 0);
  ASSERT_EQ(ctrace_flight_dump(NULL), CTRACE_ENOTFLIGHT);
  ASSERT_EQ(ctrace_stop(), 0);

  ctrace_options f = CTRACE_OPTIONS_INIT;
  f.mode = CTRACE_MODE_FLIGHT;
  f.flight_window_ms = 300;
  f.path = fresh("flight-api.ctrace");               /* the default dump path */
  const char *second = fresh("flight-api-2.ctrace"); /* (the next default) */
  f.flush_ms = 40;
  ASSERT_EQ(ctrace_start(&f), 0);
  ASSERT(access(f.path, F_OK) != 0); /* nothing written until a dump */
  uint64_t t0 = mono();
  int64_t i = 0;
  for (; mono() - t0 < 700 * MS; i++) {
    CTRACE_SCOPE("tick");
    CTRACE_COUNTER("seq", i);
    usleep(500);
  }
  uint64_t at = mono();
  ASSERT_EQ(ctrace_flight_dump(NULL), 0);
  for (int64_t k = 0; k < 100; k++, i++) {
    CTRACE_SCOPE("tick");
    CTRACE_COUNTER("seq", i);
  }
  ASSERT_EQ(ctrace_flight_dump(NULL), 0); /* the second default: FILE-2 */
  const char *explicit_path = fresh("flight-api-explicit.ctrace");
  ASSERT_EQ(ctrace_flight_dump(explicit_path), 0);
  ASSERT_EQ(ctrace_flight_dump("/nonexistent-dir/x.ctrace"), -ENOENT);
  ASSERT_EQ(ctrace_stop(), 0);
  ASSERT_EQ(ctrace_flight_dump(NULL), CTRACE_ENOTACTIVE);

  uint64_t first, last;
  ttrace *t = check_dump(f.path, &first, &last);
  ASSERT_UGE(last - first, 300 * MS);
  ASSERT_ULE(at - first, (300 + 40 + 150) * MS);
  tt_free(t);
  t = check_dump(second, &first, &last);
  ASSERT_UGE(last, at);
  tt_free(t);
  t = check_dump(explicit_path, &first, &last);
  tt_free(t);
  return 0;
}

/* CTRACE_FLIGHT's syntax, and a bad value: a message naming the variable,
 * and no tracing at all rather than a guess. */
TEST_IMPL(flight_settings) {
  static const struct {
    const char *spec;
    uint64_t ms, bytes;
    int ok;
  } cases[] = {
      {"30s", 30000, 0, 1},
      {"500ms", 500, 0, 1},
      {"1.5s", 1500, 0, 1},
      {"5min", 300000, 0, 1},
      {"1h", 3600000, 0, 1},
      {"256MB", 0, 256000000, 1},
      {"64KiB", 0, 65536, 1},
      {"1GiB", 0, 1u << 30, 1},
      {"30s,256MiB", 30000, 256u << 20, 1},
      {"64kib, 2s", 2000, 65536, 1},
      {"", 0, 0, 0},
      {"30", 0, 0, 0},
      {"s", 0, 0, 0},
      {"30 s", 0, 0, 0},
      {"-1s", 0, 0, 0},
      {"1x", 0, 0, 0},
      {"0s", 0, 0, 0},
      {"0.1ms", 0, 0, 0},
      {"25h", 0, 0, 0},
      {"1KiB", 0, 0, 0},
      {"30s,1min", 0, 0, 0},
      {"99999999999999999999s", 0, 0, 0},
      {"30s,", 0, 0, 0},
      {"1.s", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint64_t ms, bytes;
    int r = ctrace__flight_parse(cases[i].spec, &ms, &bytes);
    if ((r == 0) != cases[i].ok)
      TEST_FAIL("\"%s\": %d", cases[i].spec, r);
    if (cases[i].ok && (ms != cases[i].ms || bytes != cases[i].bytes))
      TEST_FAIL("\"%s\": %llu ms %llu bytes", cases[i].spec, (unsigned long long)ms,
                (unsigned long long)bytes);
  }

  const char *path = fresh("flight-bad.ctrace");
  char *argv[] = {FLIGHTREC, "dump", "0.1", (char *)path, NULL};
  char *env[] = {"CTRACE_MODE=flight", "CTRACE_FLIGHT=10", NULL};
  test_proc p = test_run(argv, env);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "CTRACE_FLIGHT=10: expected a duration");
  ASSERT_CONTAINS(p.err, "tracing is off");
  ASSERT_EQ(sfield(p.out, "dump_r"), CTRACE_ENOTACTIVE);
  ASSERT(access(path, F_OK) != 0);
  test_proc_free(&p);

  char *env2[] = {"CTRACE_MODE=flihgt", NULL};
  p = test_run(argv, env2);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "CTRACE_MODE=flihgt: use file or flight");
  test_proc_free(&p);
  return 0;
}

/* `ctrace run --flight`: the environment for the child, where dumps go,
 * and a crash's dump of a program run that way. */
TEST_IMPL(run_flight) {
  const char *path = fresh("flight-run-flight.ctrace");
  char *argv[] = {(char *)test_ctrace_bin,
                  "run",
                  "--flight",
                  "1s",
                  "-o",
                  (char *)path,
                  "--",
                  FLIGHTREC,
                  "segv",
                  "1.5",
                  NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 128 + SIGSEGV)
    TEST_FAIL("status %d\n%s%s", p.status, p.out, p.err);
  ASSERT_CONTAINS(p.err, "flight recorder");
  ASSERT_CONTAINS(p.err, path);
  uint64_t first, last, marker = 0;
  ttrace *t = check_dump(path, &first, &last);
  ASSERT_EQ(count_named(t, CTRACE_FMT_EV_INSTANT, "crash marker", &marker), 1);
  ASSERT_ULE(last, marker + 200 * MS);
  tt_free(t);
  test_proc_free(&p);

  char *bad[] = {(char *)test_ctrace_bin,
                 "run",
                 "--flight",
                 "forever",
                 "--",
                 FLIGHTREC,
                 "dump",
                 "0",
                 "/dev/null",
                 NULL};
  p = test_run(bad, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--flight forever");
  test_proc_free(&p);
  return 0;
}
