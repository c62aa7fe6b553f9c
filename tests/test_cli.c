/* The `ctrace` command on golden bad files (tests/data, see its README) and
 * bad usage: the right exit status and a message that names what and where. */
#include "read.h"
#include "test.h"

static test_proc run3(const char *a, const char *b, const char *c) {
  char *argv[] = {(char *)test_ctrace_bin, (char *)a, (char *)b, (char *)c, NULL};
  if (!b)
    argv[2] = NULL;
  else if (!c)
    argv[3] = NULL;
  return test_run(argv, NULL);
}

static const char *data(const char *name) {
  static char buf[4][1024];
  static int n;
  char *b = buf[n++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", test_data_dir, name);
  return b;
}

TEST_IMPL(cli_golden_files) {
  static const struct {
    const char *file;
    int status;      /* of `ctrace export FILE -o /dev/null` */
    const char *msg; /* in stderr */
  } cases[] = {
      {"good.ctrace", 0, NULL},
      {"empty.ctrace", 1, "empty.ctrace: empty file (0 bytes): not a ctrace trace"},
      {"not-a-trace.ctrace", 1, "not a ctrace trace: bad magic at byte 0"},
      {"header-cut.ctrace", 1,
       "trace truncated at byte 40: file header incomplete (40 of 64 bytes)"},
      {"bad-version.ctrace", 1, "trace format version 2.0 is not supported"},
      {"header-crc.ctrace", 1, "file header corrupt: checksum mismatch"},
      {"record-cut.ctrace", 0, "warning: trace truncated at byte"},
      {"batch-bitflip.ctrace", 0, "is corrupt: checksum mismatch (stored"},
      {"bad-sync.ctrace", 0, "is corrupt: bad sync word"},
      {"killed.ctrace", 0, "warning: trace has no end record"},
      {"first-record-corrupt.ctrace", 1, "no events could be read"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[] = {
        (char *)test_ctrace_bin, "export", (char *)data(cases[i].file), "-o", "/dev/null", NULL};
    test_proc p = test_run(argv, NULL);
    if (p.status != cases[i].status)
      TEST_FAIL("%s: exit %d, want %d; stderr: %s", cases[i].file, p.status, cases[i].status,
                p.err);
    if (cases[i].msg)
      ASSERT_CONTAINS(p.err, cases[i].msg);
    else
      ASSERT_STR_EQ(p.err, "");
    ASSERT(p.status < 128); /* never a crash */
    test_proc_free(&p);
    /* `info` agrees on readability. */
    p = run3("info", data(cases[i].file), NULL);
    ASSERT_EQ(p.status, cases[i].status);
    test_proc_free(&p);
  }
  return 0;
}

TEST_IMPL(cli_usage) {
  test_proc p = run3(NULL, NULL, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "usage: ctrace COMMAND");
  test_proc_free(&p);
  p = run3("frobnicate", NULL, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "unknown command 'frobnicate'");
  test_proc_free(&p);
  p = run3("export", NULL, NULL);
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "missing TRACE");
  test_proc_free(&p);
  p = run3("export", "--bogus", data("good.ctrace"));
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "unknown option '--bogus'");
  test_proc_free(&p);
  p = run3("export", data("good.ctrace"), "-o");
  ASSERT_EQ(p.status, 2);
  ASSERT_CONTAINS(p.err, "option -o needs a file name");
  test_proc_free(&p);
  p = run3("export", "/nonexistent/t.ctrace", NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "/nonexistent/t.ctrace: cannot open: No such file or directory");
  test_proc_free(&p);
  p = run3("export", test_data_dir, NULL); /* a directory is an LTTng trace, or nothing */
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err,
                  ctf_supported() ? "no CTF trace in this directory" : "built without babeltrace2");
  test_proc_free(&p);
  char *argv[] = {(char *)test_ctrace_bin, "export", (char *)data("good.ctrace"), "-o",
                  "/nonexistent/out.json", NULL};
  p = test_run(argv, NULL);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "cannot create /nonexistent/out.json");
  test_proc_free(&p);
  /* stdout by default: a JSON object */
  p = run3("export", data("good.ctrace"), NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT(strncmp(p.out, "{\"displayTimeUnit\"", 18) == 0);
  test_proc_free(&p);
  p = run3("version", NULL, NULL);
  ASSERT_EQ(p.status, 0);
  ASSERT_CONTAINS(p.out, "ctrace 0.");
  test_proc_free(&p);
  return 0;
}

/* LTTng traces are read by a module, libctrace-ctf.so (viewer/read/ctf_load.c),
 * that the executable loads from beside itself when it first reads one. A
 * module that cannot be loaded is an error that names it and why. */
TEST_IMPL(cli_ctf_module) {
  const char *dir = test_tmp_path("ctf");
  char sh[2048], trace[1024];
  snprintf(sh, sizeof sh,
           "mkdir -p '%s' && zstd -qdc '%s/../golden/data/lttng-run.tar.zst' | tar -xf - -C '%s'",
           dir, test_data_dir, dir);
  char *untar[] = {"/bin/sh", "-c", sh, NULL};
  test_proc p = test_run(untar, NULL);
  ASSERT_EQ(p.status, 0);
  test_proc_free(&p);
  snprintf(trace, sizeof trace, "%s/lttng-run", dir);

  char *missing[] = {"CTRACE_CTF_MODULE=/nonexistent/libctrace-ctf.so", NULL};
  char *info[] = {(char *)test_ctrace_bin, "info", trace, NULL};
  p = test_run(info, missing);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "lttng-run: an LTTng (CTF) trace directory, but ");
  ASSERT_CONTAINS(p.err, ctf_supported() ? "could not be loaded from CTRACE_CTF_MODULE: "
                                           "/nonexistent/libctrace-ctf.so: cannot open shared "
                                           "object file"
                                         : "built without babeltrace2 (install libbabeltrace2-dev");
  test_proc_free(&p);
  char *export[] = {(char *)test_ctrace_bin, "export", trace, "-o", "/dev/null", NULL};
  p = test_run(export, missing);
  ASSERT_EQ(p.status, 1);
  ASSERT_CONTAINS(p.err, "libctrace-ctf.so");
  test_proc_free(&p);

  /* Unset (empty): found beside the executable, whatever ctest set. */
  if (ctf_supported()) {
    char *unset[] = {"CTRACE_CTF_MODULE=", NULL};
    p = test_run(info, unset);
    ASSERT_EQ(p.status, 0);
    ASSERT_CONTAINS(p.out, "(LTTng, 1 CTF trace)");
    test_proc_free(&p);
  }
  snprintf(sh, sizeof sh, "rm -rf '%s'", dir);
  p = test_run(untar, NULL);
  test_proc_free(&p);
  return 0;
}
