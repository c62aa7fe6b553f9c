/* `ctrace run` against real programs: test programs that were never built
 * with ctrace (tests/progs), Debian's coreutils, and the samples. What was
 * recorded is read back through the viewer's index (what the timeline
 * shows). Not registered in sanitizer builds: LD_PRELOAD of the wrappers
 * into uninstrumented programs needs an uninstrumented runtime. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analysis.h"
#include "read.h"
#include "test.h"

static const char *prog(const char *name) {
  static char buf[8][1024];
  static int n;
  char *b = buf[n++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", TEST_PROGS_DIR, name);
  return b;
}

/* Runs `ctrace run -o OUT -- argv...`; OUT is returned. */
static test_proc run(const char *out, char *const cmd[], char *const extra_opts[]) {
  char *argv[32];
  int n = 0;
  argv[n++] = (char *)test_ctrace_bin;
  argv[n++] = "run";
  argv[n++] = "-o";
  argv[n++] = (char *)out;
  for (int i = 0; extra_opts && extra_opts[i]; i++)
    argv[n++] = extra_opts[i];
  argv[n++] = "--";
  for (int i = 0; cmd[i]; i++)
    argv[n++] = cmd[i];
  argv[n] = NULL;
  return test_run(argv, NULL);
}

static vx_index *load(const char *out) {
  char kernel[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  char *paths[2] = {(char *)out, kernel};
  char err[1024];
  vx_index *x = vx_build(paths, access(kernel, R_OK) == 0 ? 2 : 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  return x;
}

static const vx_track *thread_named(const vx_index *x, const char *name) {
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_THREAD && !strcmp(t->name, name))
      return t;
  }
  return NULL;
}

static int kernel_sched(const vx_index *x) {
  for (size_t i = 0; i < vx_source_count(x); i++)
    if (vx_source_get(x, i)->cap_sched == CTRACE_FMT_CAP_KERNEL)
      return 1;
  return 0;
}

TEST_IMPL(run_errors) {
  const char *out = test_tmp_path("err.ctrace");
  char *missing[] = {"no-such-program-anywhere", NULL};
  test_proc p = run(out, missing, NULL);
  ASSERT_EQ(p.status, 127);
  ASSERT_CONTAINS(p.err, "no-such-program-anywhere: command not found");
  test_proc_free(&p);
  char *missing_path[] = {"/nonexistent/prog", NULL};
  p = run(out, missing_path, NULL);
  ASSERT_EQ(p.status, 127);
  ASSERT_CONTAINS(p.err, "/nonexistent/prog: command not found");
  test_proc_free(&p);
  char *stat[] = {(char *)prog("static_hello"), NULL};
  p = run(out, stat, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "is statically linked");
  ASSERT(strstr(p.out, "hello") == NULL); /* it was not run */
  test_proc_free(&p);
  char *argv[] = {(char *)test_ctrace_bin, "run", "--bogus", "--", "true", NULL};
  p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "unknown option '--bogus'");
  test_proc_free(&p);
  char *argv2[] = {(char *)test_ctrace_bin, "run", "--", NULL};
  p = test_run(argv2, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing PROG");
  test_proc_free(&p);
  char *argv3[] = {(char *)test_ctrace_bin, "run", "--syscalls=maybe", "--", "true", NULL};
  p = test_run(argv3, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "--syscalls=maybe: use auto, kernel or preload");
  test_proc_free(&p);
  return 0;
}

/* `ctrace run PROG` started as the leader of its own process group, waited
 * for; @return whether a process of that group is still there the moment
 * it has exited (what a harness waiting for the group would wait for),
 * and its exit status in *status. */
static int group_left_running(char *const argv[], int *status) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int null = open("/dev/null", O_RDWR);
    dup2(null, 1);
    dup2(null, 2);
    execv(argv[0], argv);
    _exit(127);
  }
  setpgid(pid, pid); /* (either side may get there first) */
  ASSERT_EQ(waitpid(pid, status, 0), pid);
  return kill(-pid, 0) == 0;
}

/* Nothing of ctrace is left running when `ctrace run` exits: the closing of
 * the kernel events is waited for (or costs nothing to wait for). */
TEST_IMPL(run_leaves_nothing) {
  const char *out = test_tmp_path("left.ctrace");
  char *modes[][2] = {{"--syscalls=preload", NULL}, {"--syscalls=kernel", NULL}};
  for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    char *argv[] = {
        (char *)test_ctrace_bin, "run", "-o", (char *)out, modes[m][0], "--", "/bin/true", NULL};
    int status = 0;
    int left = group_left_running(argv, &status);
    if (m == 1 && WIFEXITED(status) && WEXITSTATUS(status) == 1) {
      fprintf(stderr, "(--syscalls=kernel not allowed here: not checked)\n");
      continue;
    }
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (left)
      TEST_FAIL("ctrace run %s: a process of its group still runs after it exited", modes[m][0]);
  }
  return 0;
}

static int count_files(const char *dir, const char *prefix, char names[][256], int max);

/* An earlier run's FILE and FILE.kernel, larger than the new ones, are
 * replaced whole (set aside before PROG starts and removed while it runs):
 * both read as this run's, and nothing set aside is left in the directory. */
TEST_IMPL(run_replaces_old_trace) {
  const char *out = test_tmp_path("again.ctrace");
  char kernel[1100], dir[1100];
  snprintf(kernel, sizeof kernel, "%s.kernel", out);
  static char junk[300000];
  memset(junk, 'x', sizeof junk);
  test_write_file(out, junk, sizeof junk);
  test_write_file(kernel, junk, sizeof junk);
  char *cmd[] = {"/bin/true", NULL};
  test_proc p = run(out, cmd, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  rd_trace *tr;
  char err[600];
  ASSERT_EQ(rd_open(out, 0, &tr, err, sizeof err), 0);
  ASSERT_STR_EQ(rd_process_name(tr), "true");
  ASSERT(rd_complete(tr));
  rd_close(tr);
  if (access(kernel, R_OK) == 0) { /* (perf allowed here) */
    ASSERT_EQ(rd_open(kernel, 0, &tr, err, sizeof err), 0);
    rd_close(tr);
  }
  snprintf(dir, sizeof dir, "%s", out);
  *strrchr(dir, '/') = '\0';
  char names[16][256];
  ASSERT_EQ(count_files(dir, ".ctrace-old", names, 16), 0);
  return 0;
}

/* PROG's exit status and output are PROG's own. */
TEST_IMPL(run_transparent) {
  const char *out = test_tmp_path("exit.ctrace");
  char *seven[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 7", NULL};
  test_proc p = run(out, seven, NULL);
  ASSERT_EQ(p.status, 7);
  ASSERT_STR_EQ(p.out, "out\n");
  ASSERT_CONTAINS(p.err, "err\n");
  test_proc_free(&p);
  char *killed[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
  p = run(out, killed, NULL);
  ASSERT_EQ(p.status, 128 + 9);
  ASSERT_CONTAINS(p.err, "killed by signal 9");
  test_proc_free(&p);
  /* Bytes through cat are untouched. */
  const char *in = test_tmp_path("in.bin");
  char data[100000];
  for (size_t i = 0; i < sizeof data; i++)
    data[i] = (char)(i * 7 + i / 255);
  test_write_file(in, data, sizeof data);
  char *cat[] = {"/bin/cat", (char *)in, NULL};
  p = run(out, cat, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT(memcmp(p.out, data, sizeof data) == 0);
  test_proc_free(&p);
  return 0;
}

TEST_IMPL(run_contended_mutex) {
  const char *out = test_tmp_path("contend.ctrace");
  char *cmd[] = {(char *)prog("contend"), NULL};
  test_proc p = run(out, cmd, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  vx_index *x = load(out);
  const vx_track *holder = thread_named(x, "holder"), *waiter = thread_named(x, "waiter");
  ASSERT(holder && waiter);
  /* The wait: one "mutex wait" slice on the waiter. (How long depends on
   * how the machine runs the two threads: not checked; its place is.) */
  int waits = 0;
  const vx_slice *wait = NULL;
  for (size_t d = 0; d < waiter->depths; d++)
    for (size_t i = 0; i < waiter->ndepth[d]; i++) {
      const vx_slice *s = &waiter->depth[d][i];
      if (strcmp(vx_label_get(x, s->label)->name, "mutex wait") != 0)
        continue;
      waits++;
      wait = s;
      ASSERT_GT(s->dur, 0);
      const vx_info *in = vx_info_get(x, s->args);
      ASSERT(in && in->is_wait);
      ASSERT_EQ(in->waker, holder->id); /* released by the holder */
    }
  ASSERT_EQ(waits, 1);
  /* The arrow: from the holder's thread, released while the waiter waited,
   * to the waiter's, at the end of its wait. */
  size_t n;
  const vx_flow *f = vx_flows(x, &n);
  int arrows = 0;
  for (size_t i = 0; i < n; i++) {
    if (f[i].from_track != holder->id || f[i].to_track != waiter->id)
      continue;
    arrows++;
    ASSERT_UGE(f[i].from_ts, wait->start);
    ASSERT_ULE(f[i].from_ts, wait->start + wait->dur);
    ASSERT_EQ(f[i].to_ts, wait->start + wait->dur);
  }
  ASSERT_EQ(arrows, 1);
  vx_free(x);
  return 0;
}

TEST_IMPL(run_sleeper_offcpu) {
  const char *out = test_tmp_path("sleeper.ctrace");
  char *cmd[] = {(char *)prog("sleeper"), NULL};
  test_proc p = run(out, cmd, NULL);
  ASSERT_EQ(p.status, 0);
  /* How long each sleep took by the program's own clock: 20 ms, more on a
   * busy machine (the wake-up waits for a CPU). */
  uint64_t slept[5];
  const char *o = p.out;
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(sscanf(o, "slept %" SCNu64, &slept[i]), 1);
    o = strchr(o, '\n') + 1;
  }
  test_proc_free(&p);
  vx_index *x = load(out);
  const vx_track *t = thread_named(x, "sleeper");
  ASSERT(t != NULL);
  int sleeps = 0;
  for (size_t i = 0; i < t->nstates; i++) {
    const vx_state *s = &t->states[i];
    if (s->state != VX_ST_SLEEP)
      continue;
    ASSERT_LT(sleeps, 5);
    uint64_t d = s->end - s->start;
    printf("off CPU, sleeping: %.3f ms%s; the program measured %.3f ms\n", (double)d / 1e6,
           s->derived ? " (derived)" : "", (double)slept[sleeps] / 1e6);
    /* at least the 20 ms asked for, at most what the program measured
     * around its call (which also holds, on a busy machine, the waits for a
     * CPU around the sleep: 3 ms in a CI run) */
    ASSERT_GE(d, 19000000);
    ASSERT_LE(d, slept[sleeps] + 1000000);
    sleeps++;
  }
  ASSERT_EQ(sleeps, 5);
  if (kernel_sched(x)) { /* and it ran in between, on a CPU */
    int running = 0;
    for (size_t i = 0; i < t->nstates; i++)
      running += t->states[i].state == VX_ST_RUNNING && t->states[i].cpu != 0xffff;
    ASSERT_GE(running, 5);
  } else {
    printf("no scheduler data here (perf not allowed): states derived from the wrappers\n");
  }
  vx_free(x);
  return 0;
}

/* The live-heap counter's samples inside the region named `region`. */
static size_t heap_in(const vx_index *x, const char *region, double *first, double *last) {
  const vx_track *main_t = NULL, *live = NULL;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind == VX_COUNTER && !strcmp(t->name, "heap live bytes"))
      live = t;
    if (t->kind == VX_THREAD && t->depths)
      main_t = t;
  }
  ASSERT(live && main_t);
  uint64_t a = 0, b = 0;
  for (size_t i = 0; i < main_t->ndepth[0]; i++)
    if (!strcmp(vx_label_get(x, main_t->depth[0][i].label)->name, region)) {
      a = main_t->depth[0][i].start;
      b = a + main_t->depth[0][i].dur;
    }
  ASSERT(b > a);
  size_t n = 0;
  for (size_t i = 0; i < live->nsamples; i++)
    if (live->samples[i].ts >= a && live->samples[i].ts <= b) {
      if (!n)
        *first = live->samples[i].value;
      *last = live->samples[i].value;
      n++;
    }
  return n;
}

TEST_IMPL(run_heap_counts) {
  const char *out = test_tmp_path("heap.ctrace");
  char *cmd[] = {(char *)prog("heapknown"), NULL};
  test_proc p = run(out, cmd, NULL);
  ASSERT_EQ(p.status, 0);
  unsigned long allocated = 0, freed = 0;
  ASSERT_EQ(sscanf(p.out, "allocated %lu freed %lu", &allocated, &freed), 2);
  test_proc_free(&p);
  vx_index *x = load(out);
  double a0 = 0, a1 = 0, f0 = 0, f1 = 0;
  size_t na = heap_in(x, "allocate", &a0, &a1), nf = heap_in(x, "free", &f0, &f1);
  printf("allocate: %zu samples, %+.0f bytes; free: %zu samples, then %+.0f bytes\n", na, a1 - a0,
         nf, f1 - a1);
  /* Every block makes a new peak (recorded): 64 samples, the first with the
   * first block in it. Exactly the allocator's sizes. */
  ASSERT_EQ(na, 64);
  ASSERT_EQ((int64_t)(a1 - a0), (int64_t)(allocated / 64 * 63));
  /* Each free is 200 us after the last sample: recorded too. */
  ASSERT_EQ(nf, 32);
  ASSERT_EQ((int64_t)(a1 - f1), (int64_t)freed);
  /* Who allocated: each HEAP event carries what its thread allocated since
   * its previous one, charged to the thread's innermost region. "allocate"
   * gets its 64 blocks, plus whatever the program allocated before it and
   * no event reported yet (the first event is in "allocate"); "free" none. */
  st_options o = {0};
  st_report r;
  char err[256];
  ASSERT_EQ(st_compute(x, &o, &r, err, sizeof err), 0);
  double charged = -1;
  for (size_t i = 0; i < r.nallocs; i++) {
    printf("allocated in %s: %.0f bytes (%" PRIu64 " events)\n", r.allocs[i].name,
           r.allocs[i].bytes, r.allocs[i].samples);
    ASSERT(strcmp(r.allocs[i].name, "free") != 0);
    if (!strcmp(r.allocs[i].name, "allocate"))
      charged = r.allocs[i].bytes;
  }
  ASSERT(charged >= (double)allocated && charged <= (double)allocated + 65536);
  ASSERT(r.nallocs >= 1 && !strcmp(r.allocs[0].name, "allocate"));
  st_free(&r);
  vx_free(x);
  return 0;
}

static int count_files(const char *dir, const char *prefix, char names[][256], int max) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, prefix, strlen(prefix)) && n < max)
      snprintf(names[n++], 256, "%s", e->d_name);
  if (d)
    closedir(d);
  return n;
}

TEST_IMPL(run_fork_exec_files) {
  const char *out = test_tmp_path("fe.ctrace");
  char *cmd[] = {(char *)prog("forkexec"), "/bin/true", NULL};
  test_proc p = run(out, cmd, NULL);
  ASSERT_EQ(p.status, 0);
  int pids[2] = {0, 0};
  ASSERT_EQ(sscanf(p.out, "child %d: 0\nchild %d: 0", &pids[0], &pids[1]), 2);
  test_proc_free(&p);
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", out);
  *strrchr(dir, '/') = '\0';
  char names[16][256];
  int n = count_files(dir, "fe.ctrace", names, 16);
  for (int i = 0; i < n; i++)
    printf("file: %s\n", names[i]);
  /* FILE, FILE.kernel (if the kernel allowed it), one FILE.PID per child:
   * nothing from the children's moment between fork and exec. */
  char want[2][64];
  snprintf(want[0], sizeof want[0], "fe.ctrace.%d", pids[0]);
  snprintf(want[1], sizeof want[1], "fe.ctrace.%d", pids[1]);
  int kernel = access(test_tmp_path("fe.ctrace.kernel"), R_OK) == 0;
  ASSERT_EQ(n, 3 + kernel);
  for (int c = 0; c < 2; c++) {
    int found = 0;
    for (int i = 0; i < n; i++)
      found |= !strcmp(names[i], want[c]);
    ASSERT(found);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, want[c]);
    rd_trace *tr;
    char err[600];
    ASSERT_EQ(rd_open(path, 0, &tr, err, sizeof err), 0);
    ASSERT_EQ(rd_pid(tr), pids[c]);
    ASSERT_STR_EQ(rd_process_name(tr), "true");
    ASSERT(rd_complete(tr));
    rd_close(tr);
  }
  /* With --no-follow, only the parent traces. */
  const char *out2 = test_tmp_path("nf.ctrace");
  char *nofollow[] = {"--no-follow", NULL};
  p = run(out2, cmd, nofollow);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  n = count_files(dir, "nf.ctrace", names, 16);
  ASSERT_EQ(n, 1 + kernel);
  return 0;
}

/* The exit times of threads in FILE.kernel (K_EXIT), by tid. */
static size_t kernel_exits(const char *path, int *tids, uint64_t *at, size_t max) {
  rd_trace *tr;
  char err[600];
  if (rd_open(path, 0, &tr, err, sizeof err))
    TEST_FAIL("%s: %s", path, err);
  rd_merge *m = rd_merge_open(tr);
  rd_event ev;
  size_t n = 0;
  while (m && rd_merge_next(m, &ev) == 1)
    if (ev.type == CTRACE_FMT_EV_K_EXIT && n < max) {
      tids[n] = (int)ev.arg[0];
      at[n++] = ev.ts;
    }
  rd_merge_close(m);
  rd_close(tr);
  return n;
}

/* dash runs commands through vfork and leaves by _exit: every process's
 * file is complete, no thread of the tracer is shown, kernel-only threads
 * sit in their own process, and a thread's states end when it exits. With
 * every system call (--syscalls=kernel): the shell's own calls are there
 * (its wait4 for the children), not hidden as the tracer's. */
TEST_IMPL(run_shell_children) {
  for (int mode = 0; mode < 2; mode++) {
    const char *out = test_tmp_path(mode ? "shk.ctrace" : "sh.ctrace");
    char *cmd[] = {"/bin/sh", "-c", "ls / >/dev/null; /bin/true; sleep 0.05; echo done", NULL};
    char *kernel_opts[] = {"--syscalls=kernel", NULL};
    test_proc p = run(out, cmd, mode ? kernel_opts : NULL);
    if (mode && p.status == 1 && strstr(p.err, "--syscalls=kernel")) {
      printf("no complete mode here: %s", p.err);
      test_proc_free(&p);
      break;
    }
    ASSERT_EQ(p.status, 0);
    ASSERT_STR_EQ(p.out, "done\n");
    test_proc_free(&p);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", out);
    *strrchr(dir, '/') = '\0';
    const char *base = strrchr(out, '/') + 1;
    char names[16][256];
    int n = count_files(dir, base, names, 16);
    char *paths[16];
    char full[16][1400];
    int kernel = -1;
    for (int i = 0; i < n; i++) {
      if (snprintf(full[i], sizeof full[i], "%s/%s", dir, names[i]) >= (int)sizeof full[i])
        TEST_FAIL("path too long");
      paths[i] = full[i];
      if (strstr(names[i], ".kernel")) {
        kernel = i;
        continue;
      }
      rd_trace *tr;
      char err[600];
      ASSERT_EQ(rd_open(full[i], 0, &tr, err, sizeof err), 0);
      printf("%s: %s, %s\n", names[i], rd_process_name(tr),
             rd_complete(tr) ? "complete" : "NOT complete");
      ASSERT(rd_complete(tr));
      rd_close(tr);
    }
    /* sh, ls, true, sleep; and FILE.PID of a child of the shell that did
     * something worth an event (a heap counter) before its exec, whose new
     * image then wrote FILE.PID.1 */
    int forked_first = 0;
    for (int i = 0; i < n; i++) {
      char next[300];
      if (snprintf(next, sizeof next, "%s.1", names[i]) >= (int)sizeof next)
        continue;
      for (int j = 0; j < n; j++)
        forked_first += i != kernel && !strcmp(names[j], next);
    }
    ASSERT_EQ(n, 4 + (kernel >= 0) + forked_first);
    if (kernel < 0) {
      printf("no kernel events here (perf not allowed): the rest needs them\n");
      return 0;
    }
    int etid[64];
    uint64_t eat[64];
    size_t nexit = kernel_exits(full[kernel], etid, eat, 64);
    char err[1024];
    vx_index *x = vx_build(paths, (size_t)n, err, sizeof err);
    ASSERT(x != NULL);
    int shell_waits = 0, threads = 0;
    for (size_t i = 0; i < vx_track_count(x); i++) {
      const vx_track *t = vx_track_get(x, i);
      if (t->kind != VX_THREAD)
        continue;
      threads++;
      printf("thread %s (pid %d, tid %d): %zu states\n", t->name, t->pid, t->tid, t->nstates);
      ASSERT(strncmp(t->name, "tid ", 4) != 0); /* every thread is a process's own */
      for (size_t d = 0; d < t->depths; d++)
        for (size_t k = 0; k < t->ndepth[d]; k++)
          shell_waits += !strcmp(t->name, "sh") &&
                         !strcmp(vx_label_get(x, t->depth[d][k].label)->name, "wait4");
      uint64_t exit_at = 0;
      for (size_t e = 0; e < nexit; e++)
        if (etid[e] == t->tid)
          exit_at = eat[e];
      ASSERT_GT(exit_at, 0);
      ASSERT_GT(t->nstates, 0);
      for (size_t k = 0; k < t->nstates; k++)
        ASSERT_ULE(t->states[k].end, exit_at);
    }
    ASSERT_EQ(threads, 4);
    if (mode)
      ASSERT_GE(shell_waits, 3);
    vx_free(x);
  }
  return 0;
}

/* Per-syscall counts of a coreutils run: the kernel mode must see what
 * strace sees (with the same libraries loaded, and the tracer's own work
 * left out); the preload mode sees a part, and says how much. */
static void count_syscalls(const vx_index *x, int kernel_only, uint64_t counts[512]) {
  memset(counts, 0, 512 * sizeof counts[0]);
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD)
      continue;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t k = 0; k < t->ndepth[d]; k++) {
        const vx_info *in = vx_info_get(x, t->depth[d][k].args);
        if (in && !in->is_wait && in->nr < 512 && (!kernel_only || in->kernel))
          counts[in->nr]++;
      }
  }
}

/* The calls column of `strace -c -U calls,errors,name`: lines are
 * "CALLS [ERRORS] NAME". */
static uint64_t strace_count(const char *summary, const char *name) {
  for (const char *l = summary; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    char line[256], *tok[4];
    size_t n = strcspn(l, "\n");
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), l);
    int k = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && k < 4;
         t = strtok_r(NULL, " \t", &save))
      tok[k++] = t;
    if (k >= 2 && !strcmp(tok[k - 1], name) && tok[0][0] >= '0' && tok[0][0] <= '9')
      return strtoull(tok[0], NULL, 10);
  }
  return 0;
}

TEST_IMPL(run_syscalls_vs_strace) {
  if (access("/usr/bin/strace", X_OK) != 0)
    TEST_FAIL("strace is needed (apt-get install strace)");
  const char *in = test_tmp_path("lines.txt");
  FILE *f = fopen(in, "w");
  for (int i = 0; i < 200000; i++)
    fprintf(f, "line %d of the input\n", i);
  fclose(f);
  char preload[1024];
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", PRELOAD_LIB);
  const char *summary = test_tmp_path("strace.txt");
  char *st[] = {"/usr/bin/strace",
                "-f",
                "-c",
                "-U",
                "calls,errors,name",
                "-o",
                (char *)summary,
                "-E",
                preload,
                "/usr/bin/wc",
                "-l",
                (char *)in,
                NULL};
  test_proc p = test_run(st, NULL);
  if (p.status) /* older strace: no -U */
    TEST_FAIL("strace failed: %s", p.err);
  test_proc_free(&p);
  char *stext = test_read_file(summary, NULL);

  const char *out = test_tmp_path("wc.ctrace");
  char *cmd[] = {"/usr/bin/wc", "-l", (char *)in, NULL};
  char *kernel_opts[] = {"--syscalls=kernel", NULL};
  p = run(out, cmd, kernel_opts);
  if (p.status == 1 && strstr(p.err, "--syscalls=kernel"))
    TEST_FAIL("the kernel mode is not available here (needs root): %s", p.err);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "200000");
  test_proc_free(&p);
  vx_index *x = load(out);
  uint64_t k[512];
  count_syscalls(x, 1, k);
  vx_free(x);
  static const struct {
    const char *name;
    int nr;
  } calls[] = {{"read", 0}, {"write", 1}, {"openat", 257}, {"close", 3}};
  for (size_t i = 0; i < 4; i++) {
    uint64_t s = strace_count(stext, calls[i].name);
    printf("%-7s strace %4" PRIu64 "   ctrace kernel %4" PRIu64 "\n", calls[i].name, s,
           k[calls[i].nr]);
    ASSERT_UEQ(k[calls[i].nr], s);
    ASSERT_GT(s, 0);
  }

  /* The preload mode: only the calls that go through the wrappers. */
  char *preload_opts[] = {"--syscalls=preload", NULL};
  p = run(out, cmd, preload_opts);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  x = load(out);
  uint64_t w[512];
  count_syscalls(x, 0, w);
  vx_free(x);
  for (size_t i = 0; i < 4; i++) {
    uint64_t s = strace_count(stext, calls[i].name);
    printf("%-7s strace %4" PRIu64 "   ctrace preload %4" PRIu64 " (%.0f%%)\n", calls[i].name, s,
           w[calls[i].nr], s ? 100.0 * (double)w[calls[i].nr] / (double)s : 0);
    ASSERT_ULE(w[calls[i].nr], s);
  }
  free(stext);
  return 0;
}

/* The user-level scheduling sample, instrumented (no LD_PRELOAD). */
TEST_IMPL(run_workpool_items) {
  const char *out = test_tmp_path("workpool.ctrace");
  char env_out[1100];
  snprintf(env_out, sizeof env_out, "CTRACE_OUT=%s", out);
  char *env[] = {env_out, NULL};
  char *argv[] = {WORKPOOL_BIN, "-n", "200", "-w", "3", NULL};
  test_proc p = test_run(argv, env);
  ASSERT_EQ(p.status, 0);
  unsigned resets = 0;
  ASSERT_EQ(sscanf(p.out, "workpool: 200 items x 4 runs on 3 workers, %u arena resets", &resets),
            1);
  test_proc_free(&p);
  vx_index *x = load(out);
  size_t runs = 0, gc = 0, blocks = 0;
  for (size_t i = 0; i < vx_track_count(x); i++) {
    const vx_track *t = vx_track_get(x, i);
    if (t->kind != VX_THREAD)
      continue;
    runs += t->nruns;
    for (size_t d = 0; d < t->depths; d++)
      for (size_t k = 0; k < t->ndepth[d]; k++)
        gc += !strcmp(vx_label_get(x, t->depth[d][k].label)->cat, "gc");
    for (size_t k = 0; k < t->ninst; k++)
      blocks += !strcmp(vx_label_get(x, t->inst[k].label)->name, "io");
  }
  ASSERT_EQ(runs, 200 * 4);
  ASSERT_EQ(blocks, 200 * 3);
  ASSERT_EQ(gc, resets);
  ASSERT_GT(resets, 0);
  size_t n, unblocks = 0;
  const vx_flow *f = vx_flows(x, &n);
  for (size_t i = 0; i < n; i++)
    unblocks += (f[i].id >> 61) == 1; /* the unblock -> run arrows */
  ASSERT_EQ(unblocks, 200 * 3);
  vx_free(x);
  return 0;
}
