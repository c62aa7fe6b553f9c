/* The viewer's source view and its symbolizer kept across requests:
 *
 * cpu_profile_source_api: a copy of tests/progs/cpu_burn.c built -O2 -g in
 * a scratch directory (and once more without -g), recorded by `ctrace run
 * --cpu-hz 999`, served by `ctrace view`, and asked over HTTP (a socket,
 * as a browser would): /api/source?fn=hot_a gives hot_a's lines with their
 * samples (the hottest in its loop, the lines' flat adding up to the
 * function's), &asm=1 its instructions (their flat adding up too, each
 * with its source line); once the source file is gone, the answer says so
 * and still lists the sampled lines by number; bad parameters are named,
 * a function without samples or without line information is a 404.
 *
 * cpu_symbols_shared: cp_symbols (viewer/analysis/cpu_symbols.c) over the
 * committed samples.ctrace.kernel: profiles named with one shared table,
 * from several threads at once, are those of a table of their own, and
 * the table is made once. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "analysis.h"
#include "test.h"

/* ---- ctrace view, and an HTTP client ------------------------------------------------------ */

typedef struct viewer {
  pid_t pid;
  int port;
} viewer;

/* `ctrace view TRACE --port 0`, once it says its URL. */
static viewer view_start(const char *trace) {
  int fds[2];
  ASSERT(pipe(fds) == 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* (a failed test aborts: the server goes with it) */
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(test_ctrace_bin, test_ctrace_bin, "view", trace, "--port", "0", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char out[512];
  size_t n = 0;
  ssize_t k;
  const char *at = NULL;
  while (n + 1 < sizeof out && (k = read(fds[0], out + n, sizeof out - 1 - n)) > 0) {
    n += (size_t)k;
    out[n] = '\0';
    if ((at = strstr(out, "timeline: http://127.0.0.1:")) && strchr(at, '\n'))
      break;
  }
  close(fds[0]);
  if (!at)
    TEST_FAIL("ctrace view %s said no URL: %.*s", trace, (int)n, out);
  return (viewer){pid, atoi(at + strlen("timeline: http://127.0.0.1:"))};
}

static void view_stop(viewer *v) {
  kill(v->pid, SIGTERM);
  int st;
  waitpid(v->pid, &st, 0);
}

/* GET path over a fresh connection: the status in *status, the body parsed. */
static cJSON *get(const viewer *v, const char *path, int *status) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)v->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
  char req[1200];
  int len = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
  ASSERT(write(fd, req, (size_t)len) == len);
  size_t n = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  ssize_t k;
  while ((k = read(fd, buf + n, cap - n - 1)) > 0)
    if ((n += (size_t)k) + 1 == cap)
      ASSERT((buf = realloc(buf, cap *= 2)) != NULL);
  close(fd);
  buf[n] = '\0';
  ASSERT(sscanf(buf, "HTTP/1.1 %d", status) == 1);
  char *body = strstr(buf, "\r\n\r\n");
  ASSERT(body && !strcasestr(buf, "transfer-encoding: chunked"));
  cJSON *o = cJSON_Parse(body + 4);
  if (!o)
    TEST_FAIL("GET %s: not JSON: %.300s", path, body + 4);
  free(buf);
  return o;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v))
    TEST_FAIL("no number '%s' in the answer", key);
  return v->valuedouble;
}

static const char *str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void expect_error(const viewer *v, const char *path, int want_status, const char *want) {
  int status;
  cJSON *o = get(v, path, &status);
  ASSERT_EQ(status, want_status);
  ASSERT_CONTAINS(str(o, "error"), want);
  cJSON_Delete(o);
}

/* ---- A program of ours, built here ------------------------------------------------------- */

/* The C compiler: cc in $PATH (what built the tests). */
static const char *compiler(void) {
  static char path[1024];
  const char *env = getenv("PATH");
  for (const char *d = env ? env : "/usr/bin"; *d;) {
    size_t n = strcspn(d, ":");
    snprintf(path, sizeof path, "%.*s/cc", (int)n, d);
    if (access(path, X_OK) == 0)
      return path;
    d += n + (d[n] == ':');
  }
  TEST_FAIL("no cc in $PATH");
}

/* cpu_burn.c copied into dir, built with cflags (-g or not) into dir/burn,
 * and recorded burning 400 ms into dir/burn.ctrace; 0, or 1 when this
 * machine refuses CPU samples (said). */
static int build_and_record(const char *dir, const char *cflags) {
  char src[1024], bin[1024], trace[1024];
  snprintf(src, sizeof src, "%s/cpu_burn.c", dir);
  snprintf(bin, sizeof bin, "%s/burn", dir);
  snprintf(trace, sizeof trace, "%s/burn.ctrace", dir);
  mkdir(dir, 0700);
  size_t len;
  char from[1024];
  snprintf(from, sizeof from, "%s/../progs/cpu_burn.c", test_data_dir);
  char *text = test_read_file(from, &len);
  test_write_file(src, text, len);
  free(text);
  char *cc[] = {
      (char *)compiler(), "-O2", (char *)cflags, "-fomit-frame-pointer", "-o", bin, src, NULL};
  test_proc p = test_run(cc, NULL);
  if (p.status)
    TEST_FAIL("cc %s: %s", src, p.err);
  test_proc_free(&p);
  char *run[] = {
      (char *)test_ctrace_bin, "run", "--cpu-hz", "999", "-o", trace, "--", bin, "400", NULL};
  p = test_run(run, NULL);
  ASSERT_EQ(p.status, 0);
  int refused = strstr(p.err, "no CPU samples") != NULL;
  if (refused)
    printf("CPU samples refused here: %s", p.err);
  test_proc_free(&p);
  return refused;
}

/* The lines' flat added up, and the line with the most (*hot, its text). */
static double lines_flat(const cJSON *o, int *hot, const char **hot_text, int *with_text) {
  double sum = 0, best = -1;
  const cJSON *l;
  *with_text = 0;
  cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(o, "lines")) {
    double f = num(l, "flat");
    sum += f;
    *with_text += str(l, "text") != NULL;
    if (f > best) {
      best = f;
      *hot = (int)num(l, "line");
      *hot_text = str(l, "text");
    }
  }
  return sum;
}

TEST_IMPL(cpu_profile_source_api) {
  const char *dir = test_tmp_path("srcapi");
  char trace[1100], src[1024], nog[1024];
  snprintf(trace, sizeof trace, "%s/burn.ctrace", dir);
  snprintf(src, sizeof src, "%s/cpu_burn.c", dir);
  if (build_and_record(dir, "-g"))
    return 0;
  viewer v = view_start(trace);
  int status, hot = 0, with_text;
  const char *hot_text = NULL;
  cJSON *o = get(&v, "/api/source?fn=hot_a", &status);
  ASSERT_EQ(status, 200);
  ASSERT_STR_EQ(str(o, "function"), "hot_a");
  ASSERT_STR_EQ(str(o, "file"), src);
  ASSERT(!str(o, "source_missing"));
  double flat = num(o, "flat");
  ASSERT(flat > 50); /* 7/10 of 400 ms at 999 Hz */
  ASSERT_EQ(lines_flat(o, &hot, &hot_text, &with_text), flat);
  ASSERT_CONTAINS(hot_text, "x"); /* the loop's line or its body: */
  ASSERT(strstr(hot_text, "x >> 29") || strstr(hot_text, "units * UNIT"));
  ASSERT_EQ(with_text, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "lines")));
  cJSON_Delete(o);
  /* its instructions: the samples add up, the hot line among theirs */
  o = get(&v, "/api/source?fn=hot_a&asm=1", &status);
  ASSERT_EQ(status, 200);
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "asm"), *in;
  if (!a)
    TEST_FAIL("no asm: %s", str(o, "asm_error"));
  ASSERT_STR_EQ(str(a, "container"), "hot_a");
  double iflat = 0;
  int at_hot = 0, imul = 0;
  cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(a, "instructions")) {
    iflat += num(in, "flat");
    at_hot +=
        cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(in, "line")) && num(in, "line") == hot;
    imul += strstr(str(in, "text"), "imul") != NULL;
    ASSERT(!strncmp(str(in, "addr"), "0x", 2));
  }
  ASSERT_EQ(iflat, flat);
  ASSERT(at_hot > 0 && imul > 0);
  cJSON_Delete(o);
  /* a window of the first half, a thread, a region: the same parameters as /api/cpu */
  expect_error(&v, "/api/source?fn=hot_a&t0=abc", 400, "t0");
  expect_error(&v, "/api/source?fn=hot_a&thread=nobody", 400, "no thread named 'nobody'");
  expect_error(&v, "/api/source?fn=hot_a&region=parse", 400, "no region named 'parse'");
  expect_error(&v, "/api/source?fn=hot_a&asm=2", 400, "asm must be 0 or 1");
  expect_error(&v, "/api/source", 400, "fn: the function's name is required");
  expect_error(&v, "/api/source?fn=", 400, "fn: the function's name is required");
  expect_error(&v, "/api/source?fn=nothere", 404, "no CPU sample in 'nothere'");
  expect_error(&v, "/api/source?fn=hot_.", 404,
               "no CPU sample in 'hot_.'"); /* a name, not a regex */
  expect_error(&v, "/api/source?fn=hot_a&file=/elsewhere.c", 404, "not in /elsewhere.c");
  /* the source gone: said, the sampled lines still listed (by number) */
  ASSERT(unlink(src) == 0);
  o = get(&v, "/api/source?fn=hot_a", &status);
  ASSERT_EQ(status, 200);
  ASSERT_CONTAINS(str(o, "source_missing"), src);
  ASSERT_CONTAINS(str(o, "source_missing"), "No such file");
  int hot2 = 0;
  ASSERT_EQ(lines_flat(o, &hot2, &hot_text, &with_text), flat);
  ASSERT_EQ(hot2, hot);
  ASSERT_EQ(with_text, 0);
  cJSON_Delete(o);
  view_stop(&v);
  /* without -g: symbols name hot_a, but nothing gives its lines */
  snprintf(nog, sizeof nog, "%s/nog", dir);
  if (build_and_record(nog, "-g0"))
    return 0;
  snprintf(trace, sizeof trace, "%s/burn.ctrace", nog);
  v = view_start(trace);
  expect_error(&v, "/api/source?fn=hot_a", 404, "'hot_a': no source lines");
  view_stop(&v);
  return 0;
}

/* ---- cp_symbols: one table for many profiles ---------------------------------------------- */

typedef struct job {
  const vx_index *x;
  cp_symbols *s;
  uint64_t samples, named; /* of the profile: samples, and those whose leaf has a name */
  char first[256];         /* the leaf name of its first stack */
} job;

static void profile_of(job *j) {
  cp_options o;
  memset(&o, 0, sizeof o);
  o.symbols = j->s;
  cp_profile p;
  char err[512];
  if (cp_compute(j->x, &o, &p, err, sizeof err))
    TEST_FAIL("cp_compute: %s", err);
  j->samples = p.samples;
  j->named = 0;
  for (size_t i = 0; i < p.nstacks; i++) {
    const cp_location *l = &p.locs[p.stack_locs[p.stacks[i].first]];
    const char *name = p.lines[l->first].function;
    j->named += name ? p.stacks[i].count : 0;
    if (i == 0)
      snprintf(j->first, sizeof j->first, "%s", name ? name : "?");
  }
  cp_free(&p);
}

static void *profile_thread(void *arg) {
  profile_of(arg);
  return NULL;
}

TEST_IMPL(cpu_symbols_shared) {
  char trace[1024], err[1024];
  snprintf(trace, sizeof trace, "%s/samples.ctrace.kernel", test_data_dir);
  char *paths[] = {trace};
  vx_index *x = vx_build(paths, 1, err, sizeof err);
  if (!x)
    TEST_FAIL("vx_build: %s", err);
  job alone = {x, NULL, 0, 0, ""};
  profile_of(&alone); /* a table of its own */
  ASSERT_UEQ(alone.samples, 1003);
  cp_symbols *s = cp_symbols_new(NULL, 0);
  ASSERT(s != NULL);
  job jobs[4];
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){x, s, 0, 0, ""};
    ASSERT(pthread_create(&th[i], NULL, profile_thread, &jobs[i]) == 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    ASSERT_UEQ(jobs[i].samples, alone.samples);
    ASSERT_UEQ(jobs[i].named, alone.named);
    ASSERT_STR_EQ(jobs[i].first, alone.first);
  }
  ASSERT_EQ(cp_symbols_tables(s), 1);
  profile_of(&jobs[0]); /* again, later: the same table */
  ASSERT_EQ(cp_symbols_tables(s), 1);
  ASSERT_STR_EQ(jobs[0].first, alone.first);
  cp_symbols_free(s);
  vx_free(x);
  return 0;
}
