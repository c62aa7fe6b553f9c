/* A growing index (vx_grow, index_build.c): a trace that grows, read
 * update by update, must answer as vx_build of the same bytes does, each
 * batch decoded once. Two growths: a synthetic trace written a piece at a
 * time (cut anywhere, even inside a record; a thread's batch written
 * after another's later events, so arrows, tasks and counters cross
 * updates out of order), and this process's own trace recorded by
 * threads in bursts (the real writer: definitions and clock points come
 * after the batches that need them). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctrace/ctrace.h"
#include "analysis.h"
#include "synth_trace.h"
#include "test.h"

/* ---- What an index answers, as text (ids and orders it is free to choose left out) ---- */

static const char *lname(const vx_index *x, uint32_t l) {
  const vx_label *p = vx_label_get(x, l);
  return p ? p->name : "?";
}

static void track_id(FILE *f, const vx_index *x, uint32_t id) {
  if (id == UINT32_MAX || id >= vx_track_count(x)) {
    fprintf(f, "-");
    return;
  }
  const vx_track *t = vx_track_get(x, id);
  fprintf(f, "%d/%d/%d/%s", t->kind, t->pid, t->tid, t->name);
}

static void dump_thread(FILE *f, const vx_index *x, const vx_track *t) {
  for (size_t d = 0; d < t->depths; d++)
    for (size_t i = 0; i < t->ndepth[d]; i++) {
      const vx_slice *s = &t->depth[d][i];
      fprintf(f, "  slice %zu %" PRIu64 " %" PRIu64 " %s%s\n", d, s->start, s->dur,
              lname(x, s->label), s->args == UINT32_MAX ? " unfinished" : "");
    }
  for (size_t i = 0; i < t->ninst; i++)
    fprintf(f, "  instant %" PRIu64 " %s %u\n", t->inst[i].ts, lname(x, t->inst[i].label),
            t->inst[i].extra);
  for (size_t i = 0; i < t->nruns; i++)
    fprintf(f, "  run %" PRIu64 " %" PRIu64 " %s\n", t->runs[i].start, t->runs[i].dur,
            lname(x, t->runs[i].label));
  for (size_t i = 0; i < t->nstates; i++)
    fprintf(f, "  state %" PRIu64 " %" PRIu64 " %u %u\n", t->states[i].start, t->states[i].end,
            t->states[i].state, t->states[i].derived);
}

static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines of text, sorted (for what the index keeps in an order of its own). */
static void sorted_lines(FILE *f, char *text) {
  char *lines[4096];
  size_t n = 0;
  for (char *p = strtok(text, "\n"); p && n < 4096; p = strtok(NULL, "\n"))
    lines[n++] = p;
  qsort(lines, n, sizeof *lines, cmp_line);
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%s\n", lines[i]);
}

static void dump_tracks(FILE *f, const vx_index *x) {
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    fprintf(m, "track ");
    track_id(m, x, (uint32_t)i);
    fprintf(m, " sort %d slices %" PRIu64 " lanes %u\x01", t->sort, t->slices, t->lanes);
    /* (one line per track: \x01 separates its parts until sorted) */
    char *body = NULL;
    size_t blen = 0;
    FILE *b = open_memstream(&body, &blen);
    if (t->kind == VX_THREAD)
      dump_thread(b, x, t);
    for (size_t k = 0; k < t->nsamples; k++)
      fprintf(b, "  sample %" PRIu64 " %g\n", t->samples[k].ts, t->samples[k].value);
    for (size_t k = 0; k < t->ntasks; k++) {
      const vx_task *k_ = &t->tasks[k];
      fprintf(b, "  task %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s lane %u ", k_->start,
              k_->end, k_->id, k_->parent, lname(x, k_->label), k_->lane);
      track_id(b, x, k_->thread);
      fprintf(b, " ");
      track_id(b, x, k_->end_thread);
      fprintf(b, "\n");
    }
    fclose(b);
    for (char *p = body; *p; p++)
      if (*p == '\n')
        *p = '\x01';
    fprintf(m, "%s\n", body);
    free(body);
  }
  fclose(m);
  char *sorted = NULL;
  size_t slen = 0;
  FILE *s = open_memstream(&sorted, &slen);
  sorted_lines(s, text);
  fclose(s);
  for (char *p = sorted; *p; p++)
    if (*p == '\x01')
      *p = '\n';
  fputs(sorted, f);
  free(sorted);
  free(text);
}

static void dump_flows(FILE *f, const vx_index *x) {
  size_t n;
  const vx_flow *fl = vx_flows(x, &n);
  char *text = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&text, &len);
  for (size_t i = 0; i < n; i++) {
    /* (a wake arrow's id is its place among the arrows: left out) */
    fprintf(m, "flow %u %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u ", fl[i].kind,
            fl[i].kind == VX_FLOW_WAKE ? 0 : fl[i].id, fl[i].from_ts, fl[i].to_ts, fl[i].from_depth,
            fl[i].to_depth);
    track_id(m, x, fl[i].from_track);
    fprintf(m, " ");
    track_id(m, x, fl[i].to_track);
    fprintf(m, "%s\n", i && fl[i - 1].from_ts > fl[i].from_ts ? " OUT OF ORDER" : "");
  }
  fclose(m);
  sorted_lines(f, text);
  free(text);
}

/* The index as text (malloc'd). */
static char *dump(const vx_index *x) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  fprintf(f, "t0 %" PRIu64 " t1 %" PRIu64 " events %" PRIu64 " dropped %" PRIu64 "\n", vx_t0(x),
          vx_t1(x), vx_events(x), vx_dropped(x));
  for (size_t i = 0; i < vx_source_count(x); i++) {
    const vx_source *s = vx_source_get(x, i);
    fprintf(f, "source %s %s pid %d '%s' events %" PRIu64 " complete %d problem %d\n", s->path,
            s->format, s->pid, s->process ? s->process : "", s->events, s->complete,
            (int)s->problem_kind);
  }
  dump_tracks(f, x);
  dump_flows(f, x);
  fclose(f);
  return text;
}

/* The grown index against vx_build of the file as it is now: the same
 * text, or the first line that differs. */
static int same_as_built(const vx_index *grown, const char *path, const char *when) {
  char *paths[1] = {(char *)path}, err[1200];
  vx_index *built = vx_build(paths, 1, err, sizeof err);
  if (!built) {
    fprintf(stderr, "%s: vx_build: %s\n", when, err);
    return 0;
  }
  char *a = dump(grown), *b = dump(built);
  int same = !strcmp(a, b);
  if (!same) {
    const char *p = a, *q = b;
    while (*p && *p == *q)
      p++, q++;
    while (p > a && p[-1] != '\n')
      p--, q--;
    fprintf(stderr,
            "%s: the grown index differs from the one built:\n  grown: %.200s\n  built: %.200s\n",
            when, p, q);
    FILE *f = fopen(test_tmp_path("grown.txt"), "w");
    if (f)
      fputs(a, f), fclose(f);
    if ((f = fopen(test_tmp_path("built.txt"), "w")))
      fputs(b, f), fclose(f);
  }
  free(a);
  free(b);
  vx_free(built);
  return same;
}

/* ---- A synthetic trace, appended a piece at a time ---------------------------------------- */

enum { SITE_A = 1, SITE_B, SITE_C, SITE_D, SITE_E, SITE_F, SITE_CTR, SITE_MARK };
enum { STR_TASK = 1 };

static void write_synth(const char *path, int pid) {
  synth *s = synth_new(pid, "grow", 10, 0);
  const char *names[] = {NULL, "A", "B", "C", "D", "E", "F"};
  for (uint32_t i = SITE_A; i <= SITE_F; i++)
    synth_site(s, i, CTRACE_FMT_SITE_REGION, names[i], "g.c", i, "f");
  synth_site(s, SITE_CTR, CTRACE_FMT_SITE_COUNTER, "shared", "g.c", 20, "f");
  synth_site(s, SITE_MARK, CTRACE_FMT_SITE_INSTANT, "mark", "g.c", 21, "f");
  synth_string(s, STR_TASK, "job");
  synth_thread(s, 1, pid + 1, "one");
  synth_thread(s, 2, pid + 2, "two");
  synth_thread(s, 3, pid + 3, "three");
  /* first batches: one and two */
  SYNTH_EV(s, 1, 100, CTRACE_FMT_EV_REGION_BEGIN, SITE_A);
  SYNTH_EV(s, 1, 120, CTRACE_FMT_EV_TASK_BEGIN, 5, 0, STR_TASK);
  SYNTH_EV(s, 1, 150, CTRACE_FMT_EV_COUNTER, SITE_CTR, ctrace_fmt_zigzag(1));
  SYNTH_EV(s, 1, 200, CTRACE_FMT_EV_REGION_BEGIN, SITE_B);
  SYNTH_EV0(s, 1, 300, CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, 50, CTRACE_FMT_EV_REGION_BEGIN, SITE_C);
  SYNTH_EV(s, 2, 160, CTRACE_FMT_EV_COUNTER, SITE_CTR, ctrace_fmt_zigzag(2));
  synth_cut(s);
  /* two's next batch is written before one's, though one's begins earlier:
   * an arrow's end, a task's end, a counter's later samples come first */
  SYNTH_EV(s, 2, 400, CTRACE_FMT_EV_COUNTER, SITE_CTR, ctrace_fmt_zigzag(3));
  SYNTH_EV(s, 2, 500, CTRACE_FMT_EV_FLOW_END, 7);
  SYNTH_EV(s, 2, 600, CTRACE_FMT_EV_TASK_END, 6);
  SYNTH_EV(s, 2, 700, CTRACE_FMT_EV_SYSCALL, 0 /* read */, 20, 3, ctrace_fmt_zigzag(10));
  SYNTH_EV(s, 2, 800, CTRACE_FMT_EV_COUNTER, SITE_CTR, ctrace_fmt_zigzag(4));
  SYNTH_EV(s, 1, 320, CTRACE_FMT_EV_TASK_BEGIN, 6, 5, STR_TASK);
  SYNTH_EV(s, 1, 350, CTRACE_FMT_EV_FLOW_BEGIN, 7);
  SYNTH_EV(s, 1, 450, CTRACE_FMT_EV_COUNTER, SITE_CTR, ctrace_fmt_zigzag(5));
  SYNTH_EV(s, 1, 460, CTRACE_FMT_EV_INSTANT, SITE_MARK);
  SYNTH_EV0(s, 1, 900, CTRACE_FMT_EV_REGION_END);
  synth_cut(s);
  /* three: its events are the trace's earliest, written last */
  SYNTH_EV(s, 3, 30, CTRACE_FMT_EV_REGION_BEGIN, SITE_D);
  SYNTH_EV(s, 3, 40, CTRACE_FMT_EV_REGION_BEGIN, SITE_E);
  SYNTH_EV0(s, 3, 60, CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 3, 1100, CTRACE_FMT_EV_WAIT, CTRACE_FMT_WAIT_MUTEX, 100, 0xabc, 1, 50);
  synth_cut(s);
  SYNTH_EV(s, 1, 950, CTRACE_FMT_EV_REGION_BEGIN, SITE_F);
  SYNTH_EV(s, 1, 980, CTRACE_FMT_EV_TASK_END, 5);
  SYNTH_EV0(s, 2, 1000, CTRACE_FMT_EV_REGION_END);
  SYNTH_EV(s, 2, 1010, CTRACE_FMT_EV_SYSCALL, 35 /* nanosleep */, 5, 5, 0);
  SYNTH_EV0(s, 3, 1200, CTRACE_FMT_EV_REGION_END);
  synth_write(s, path);
  synth_free(s);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return p;
}

/* The synthetic trace appended to a file in pieces of every size from 1
 * byte up, the index grown after each: the same answers as the index
 * built whole of the bytes there, each batch decoded once. */
TEST_IMPL(grow_synth_pieces) {
  const char *whole = test_tmp_path("synth.ctrace"), *path = test_tmp_path("growing.ctrace");
  write_synth(whole, 200);
  size_t len;
  char *bytes = slurp(whole, &len);
  ASSERT(bytes != NULL);
  for (size_t step = 1; step <= 257; step += 32) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ASSERT(fd >= 0);
    size_t at = CTRACE_FMT_FILE_HEADER_SIZE; /* (following starts once the header is whole) */
    ASSERT_EQ(write(fd, bytes, at), (ssize_t)at);
    char *paths[1] = {(char *)path}, err[1200];
    vx_grow *g = vx_grow_open(paths, 1, err, sizeof err);
    ASSERT(g != NULL);
    size_t compared = 0;
    while (at < len) {
      size_t n = at + step <= len ? step : len - at;
      ASSERT_EQ(write(fd, bytes + at, n), (ssize_t)n);
      at += n;
      int r = vx_grow_more(g, paths, 1, 1, err, sizeof err);
      ASSERT(r <= 0);
      vx_index *probe = vx_build(paths, 1, err, sizeof err);
      if (!probe) /* (no event can be read yet: nor can the grown index have any) */
        continue;
      vx_free(probe);
      ASSERT_EQ(r, 0);
      char when[64];
      snprintf(when, sizeof when, "pieces of %zu, at byte %zu of %zu", step, at, len);
      if (!same_as_built(vx_grow_index(g), path, when))
        TEST_FAIL("%s: see grown.txt and built.txt in the test's directory", when);
      compared++;
    }
    ASSERT(compared > 0);
    /* Every event decoded once: as many as the file holds. */
    uint64_t events;
    vx_grow_decoded(g, &events);
    ASSERT_EQ(events, vx_events(vx_grow_index(g)));
    ASSERT_EQ(vx_source_get(vx_grow_index(g), 0)->complete, 1);
    close(fd);
    vx_grow_close(g, 1);
  }
  free(bytes);
  return 0;
}

/* Files that join later, and end in any order: the second (another
 * process's) is added while the first is being written, then the first
 * ends (its END read while a later source exists), then the second; after
 * each, the set answers as vx_build of both. */
TEST_IMPL(grow_files_added) {
  const char *path[2] = {test_tmp_path("first.ctrace"), test_tmp_path("second.ctrace")};
  const char *whole[2] = {test_tmp_path("first-whole.ctrace"),
                          test_tmp_path("second-whole.ctrace")};
  char *bytes[2];
  size_t len[2];
  int fd[2];
  for (int i = 0; i < 2; i++) {
    write_synth(whole[i], 200 + 100 * i); /* (counters are per process) */
    ASSERT((bytes[i] = slurp(whole[i], &len[i])) != NULL);
    ASSERT((fd[i] = open(path[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) >= 0);
    ASSERT_EQ(write(fd[i], bytes[i], len[i] / 2), (ssize_t)(len[i] / 2));
  }
  char *paths[2] = {(char *)path[0], (char *)path[1]}, err[1200];
  vx_grow *g = vx_grow_open(paths, 1, err, sizeof err);
  ASSERT(g != NULL);
  ASSERT_EQ(vx_grow_more(g, paths, 1, 1, err, sizeof err), 0);
  for (int step = 0; step < 3; step++) {
    if (step) { /* the first file, then the second, written to its end */
      int i = step - 1;
      ASSERT_EQ(write(fd[i], bytes[i] + len[i] / 2, len[i] - len[i] / 2),
                (ssize_t)(len[i] - len[i] / 2));
    }
    ASSERT_EQ(vx_grow_more(g, paths, 2, 1, err, sizeof err), 0);
    vx_index *built = vx_build(paths, 2, err, sizeof err);
    ASSERT(built != NULL);
    char *x = dump(vx_grow_index(g)), *y = dump(built);
    if (strcmp(x, y)) {
      FILE *f = fopen(test_tmp_path("grown.txt"), "w");
      if (f)
        fputs(x, f), fclose(f);
      if ((f = fopen(test_tmp_path("built.txt"), "w")))
        fputs(y, f), fclose(f);
      TEST_FAIL("two files, step %d: the grown index differs from the one built (grown.txt, "
                "built.txt)",
                step);
    }
    free(x);
    free(y);
    vx_free(built);
  }
  ASSERT_EQ(vx_source_get(vx_grow_index(g), 0)->complete, 1);
  ASSERT_EQ(vx_source_get(vx_grow_index(g), 1)->complete, 1);
  for (int i = 0; i < 2; i++) {
    close(fd[i]);
    free(bytes[i]);
  }
  vx_grow_close(g, 1);
  return 0;
}

/* ---- This process's own trace, recorded in bursts ---------------------------------------- */

#define WORKERS 3
#define BURSTS 6

static pthread_barrier_t burst_start, burst_done;

static void *worker(void *arg) {
  int w = (int)(intptr_t)arg;
  char name[16];
  snprintf(name, sizeof name, "worker %d", w);
  ctrace_thread_set_name(name);
  uint64_t task = 0;
  for (int k = 0; k < BURSTS; k++) {
    pthread_barrier_wait(&burst_start);
    if (k) {
      ctrace_region_end(); /* the region left open by the last burst */
      ctrace_flow_end((uint64_t)(k - 1) * 100 + (uint64_t)((w + WORKERS - 1) % WORKERS));
    }
    if (task)
      ctrace_task_end(task);
    for (int i = 0; i < 300; i++) {
      CTRACE_SCOPE("work");
      CTRACE_COUNTER("shared", w * 1000 + i);
      if (i % 50 == 0)
        CTRACE_INSTANT("mark");
    }
    task = ctrace_task_begin("job", 0);
    ctrace_flow_begin((uint64_t)k * 100 + (uint64_t)w);
    ctrace_region_begin_dyn("open across bursts");
    pthread_barrier_wait(&burst_done);
  }
  pthread_barrier_wait(&burst_start); /* (the main thread has compared the last burst) */
  ctrace_region_end();
  return NULL;
}

TEST_IMPL(grow_own_trace_bursts) {
  const char *path = test_tmp_path("bursts.ctrace");
  ctrace_options o = CTRACE_OPTIONS_INIT;
  o.path = path;
  o.flush_ms = 60000; /* (the bursts' flushes are the only writes) */
  ASSERT_EQ(ctrace_start(&o), 0);
  pthread_barrier_init(&burst_start, NULL, WORKERS + 1);
  pthread_barrier_init(&burst_done, NULL, WORKERS + 1);
  pthread_t th[WORKERS];
  for (int w = 0; w < WORKERS; w++)
    ASSERT_EQ(pthread_create(&th[w], NULL, worker, (void *)(intptr_t)w), 0);
  ASSERT_EQ(ctrace_flush(), 0);
  char *paths[1] = {(char *)path}, err[1200];
  vx_grow *g = vx_grow_open(paths, 1, err, sizeof err);
  ASSERT(g != NULL);
  uint64_t decoded = 0;
  for (int k = 0; k < BURSTS; k++) {
    pthread_barrier_wait(&burst_start);
    pthread_barrier_wait(&burst_done); /* (the workers wait for the next burst now) */
    /* Two cycles: the second defines what the first's batches use, and
     * its clock point settles them (rd_settled). */
    ASSERT_EQ(ctrace_flush(), 0);
    ASSERT_EQ(ctrace_flush(), 0);
    ASSERT_EQ(vx_grow_more(g, paths, 1, 0, err, sizeof err), 0);
    char when[32];
    snprintf(when, sizeof when, "after burst %d", k);
    if (!same_as_built(vx_grow_index(g), path, when))
      TEST_FAIL("%s: see grown.txt and built.txt in the test's directory", when);
    uint64_t events, bytes = vx_grow_decoded(g, &events);
    ASSERT(bytes > decoded); /* (it grew) */
    decoded = bytes;
    ASSERT_EQ(events, vx_events(vx_grow_index(g))); /* each event decoded once */
  }
  pthread_barrier_wait(&burst_start); /* (the workers end) */
  for (int w = 0; w < WORKERS; w++)
    pthread_join(th[w], NULL);
  ASSERT_EQ(ctrace_stop(), 0);
  ASSERT_EQ(vx_grow_more(g, paths, 1, 0, err, sizeof err), 0);
  if (!same_as_built(vx_grow_index(g), path, "after the end"))
    TEST_FAIL("after the end: see grown.txt and built.txt in the test's directory");
  ASSERT_EQ(vx_source_get(vx_grow_index(g), 0)->complete, 1);
  vx_grow_close(g, 1);
  pthread_barrier_destroy(&burst_start);
  pthread_barrier_destroy(&burst_done);
  return 0;
}
