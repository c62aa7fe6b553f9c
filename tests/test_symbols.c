/* Symbols of sampled stacks (viewer/analysis/symbols.c) on a program of ours
 * built -O2 -g without frame pointers, as a PIE and not (tests/progs/symprog.c),
 * with a library of ours that it dlopens (tests/progs/symlib.c).
 *
 * The program prints what a sampler would record of it (its executable
 * mappings, from /proc/self/maps) and what the answers must be, found
 * without the symbolizer: the addresses of its functions and their load
 * biases and build ids (dl_iterate_phdr), return addresses inside known
 * functions with the line of each call (__LINE__), one of them inside an
 * always_inline function inlined into its caller at a known line. So each
 * frame's function, file, line, inline chain and address in the file
 * (address - load bias) is checked against numbers from the running
 * program. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "symbols.h"
#include "test.h"

#define PID 4242

typedef struct prog_map {
  uint64_t start, end, off;
  char path[PATH_MAX];
  char bid[256]; /* the object's build id, "" when not one of ours */
  uint64_t base; /* its load bias */
} prog_map;

typedef struct prog_out {
  prog_map maps[32];
  int nmaps;
  int exe, lib; /* index of the executable's and the library's r-x mapping */
  uint64_t leaf, caller, work;
  int leaf_decl, caller_decl, work_decl;
  uint64_t ret_leaf, ret_inl, ret_inner, ret_work, ret_helper;
  int leaf_line, inl_line, inl_call_line, inl_decl, work_line, helper_line;
  int inner_line, inner_call_line, inner_decl;
} prog_out;

static char *prog_path(const char *name) {
  static char buf[2][PATH_MAX];
  static int n;
  char *b = buf[n++ % 2];
  snprintf(b, PATH_MAX, "%s/%s", TEST_PROGS_DIR, name);
  return b;
}

/* Runs symprog (or symprog_nopie) and reads what it printed. */
static void run_prog(const char *name, prog_out *o) {
  memset(o, 0, sizeof *o);
  o->exe = o->lib = -1;
  char *argv[] = {prog_path(name), (char *)SYMLIB_PATH, NULL};
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("%s: status %d: %s", argv[0], p.status, p.err);
  struct {
    char path[PATH_MAX], bid[256];
    uint64_t base;
  } objs[2];
  int nobjs = 0;
  char *save = NULL;
  for (char *line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char a[PATH_MAX], b[256], fn[64];
    unsigned long x, y, z;
    int l1, l2, l3;
    if (sscanf(line, "obj %4095s %lx %255s", a, &x, b) == 3) {
      ASSERT(nobjs < 2);
      if (!realpath(a, objs[nobjs].path))
        TEST_FAIL("realpath %s: %s", a, strerror(errno));
      snprintf(objs[nobjs].bid, sizeof objs[nobjs].bid, "%s", strcmp(b, "-") ? b : "");
      objs[nobjs++].base = x;
    } else if (strncmp(line, "map ", 4) == 0) {
      ASSERT(o->nmaps < 32);
      prog_map *m = &o->maps[o->nmaps++];
      int at = 0;
      ASSERT(sscanf(line, "map %lx %lx %lx %n", &x, &y, &z, &at) == 3);
      m->start = x;
      m->end = y;
      m->off = z;
      snprintf(m->path, sizeof m->path, "%s", line + at);
    } else if (sscanf(line, "fn %63s %lx %d", fn, &x, &l1) == 3) {
      if (!strcmp(fn, "sp_leaf"))
        o->leaf = x, o->leaf_decl = l1;
      else if (!strcmp(fn, "sp_caller"))
        o->caller = x, o->caller_decl = l1;
      else if (!strcmp(fn, "symlib_work"))
        o->work = x, o->work_decl = l1;
    } else if (sscanf(line, "ret %63s %lx %d %d %d", fn, &x, &l1, &l2, &l3) >= 3) {
      if (!strcmp(fn, "sp_leaf"))
        o->ret_leaf = x, o->leaf_line = l1;
      else if (!strcmp(fn, "sp_inl"))
        o->ret_inl = x, o->inl_line = l1, o->inl_call_line = l2, o->inl_decl = l3;
      else if (!strcmp(fn, "sp_inner"))
        o->ret_inner = x, o->inner_line = l1, o->inner_call_line = l2, o->inner_decl = l3;
      else if (!strcmp(fn, "symlib_work"))
        o->ret_work = x, o->work_line = l1;
      else if (!strcmp(fn, "symlib_helper"))
        o->ret_helper = x, o->helper_line = l1;
    }
  }
  for (int i = 0; i < o->nmaps; i++)
    for (int j = 0; j < nobjs; j++)
      if (strcmp(o->maps[i].path, objs[j].path) == 0) {
        snprintf(o->maps[i].bid, sizeof o->maps[i].bid, "%s", objs[j].bid);
        o->maps[i].base = objs[j].base;
        if (j == 0) /* (dl_iterate_phdr: the executable first) */
          o->exe = i;
        else
          o->lib = i;
      }
  if (o->exe < 0 || o->lib < 0 || !o->leaf || !o->ret_inl || !o->ret_inner || !o->ret_work ||
      !o->ret_helper)
    TEST_FAIL("%s printed too little:\n%s", argv[0], p.out);
  ASSERT(o->maps[o->exe].bid[0] && o->maps[o->lib].bid[0]);
  test_proc_free(&p);
}

/* Adds every mapping the program printed, as process pid: @return the id of
 * the first (ids follow in order). */
static int add_all(sym_table *t, const prog_out *o, int pid) {
  int first = 0;
  for (int i = 0; i < o->nmaps; i++) {
    const prog_map *m = &o->maps[i];
    int id = sym_add_mapping(t, pid, m->start, m->end, m->off, m->path, m->bid);
    ASSERT_GE(id, 1);
    if (!first)
      first = id;
    ASSERT_EQ(id, first + i);
  }
  return first;
}

static int ends_with(const char *s, const char *tail) {
  size_t n = s ? strlen(s) : 0, k = strlen(tail);
  return n >= k && strcmp(s + n - k, tail) == 0;
}

static void check_frame(const sym_frame *f, const char *function, const char *file, int line,
                        int inlined) {
  ASSERT_STR_EQ(f->function, function);
  if (!ends_with(f->file, file))
    TEST_FAIL("%s: file %s, expected .../%s", function, f->file ? f->file : "(null)", file);
  if (line)
    ASSERT_EQ(f->line, line);
  ASSERT_EQ(f->inlined, inlined);
}

/* Names, lines, the inline chain and the address arithmetic, for the PIE or
 * the non-PIE build. */
static void check_prog(const char *name, int pie) {
  prog_out o;
  run_prog(name, &o);
  const prog_map *exe = &o.maps[o.exe], *lib = &o.maps[o.lib];
  if (pie)
    ASSERT_NE(exe->base, 0); /* a PIE: loaded away from its ELF addresses */
  else
    ASSERT_EQ(exe->base, 0);
  ASSERT_NE(lib->base, 0);
  /* The library's ELF addresses are neither its addresses in memory nor its
   * file offsets (symprog.c: SYMLIB_VADDR). */
  ASSERT_NE(o.work - lib->base, o.work - lib->start + lib->off);

  sym_table *t = sym_new(NULL, 0);
  ASSERT(t);
  int first = add_all(t, &o, PID);
  int exe_id = first + o.exe, lib_id = first + o.lib;
  const sym_frame *f;

  /* A function's entry. */
  ASSERT_EQ(sym_lookup(t, PID, o.leaf, 0, &f), 1);
  check_frame(&f[0], "sp_leaf", "tests/progs/symprog.c", 0, 0);
  ASSERT_EQ(f[0].func_line, o.leaf_decl);
  ASSERT_EQ(f[0].mapping, exe_id);
  ASSERT_UEQ(f[0].func_start, o.leaf - exe->base);
  ASSERT_UEQ(f[0].file_addr, o.leaf - exe->base);
  ASSERT_GT(f[0].func_size, 0);
  ASSERT_UEQ(f[0].module_offset, o.leaf - exe->start + exe->off);
  const char *leaf_name = f[0].function, *leaf_file = f[0].file;

  /* A return address: the call's line (addr - 1 looked up). */
  ASSERT_EQ(sym_lookup(t, PID, o.ret_leaf, 1, &f), 1);
  check_frame(&f[0], "sp_leaf", "tests/progs/symprog.c", o.leaf_line, 0);
  ASSERT_UEQ(f[0].func_start, o.leaf - exe->base);
  ASSERT_UEQ(f[0].file_addr, o.ret_leaf - 1 - exe->base);
  ASSERT_UEQ(f[0].module_offset, o.ret_leaf - exe->start + exe->off);
  ASSERT(f[0].function == leaf_name && f[0].file == leaf_file); /* interned */
  const sym_frame *again;
  ASSERT_EQ(sym_lookup(t, PID, o.ret_leaf, 1, &again), 1);
  ASSERT(again == f); /* cached */

  /* Inside sp_inl, inlined into sp_caller: sp_inl at its own line, then
   * sp_caller at the line of the call. */
  ASSERT_EQ(sym_lookup(t, PID, o.ret_inl, 1, &f), 2);
  check_frame(&f[0], "sp_inl", "tests/progs/symprog.c", o.inl_line, 1);
  ASSERT_EQ(f[0].func_line, o.inl_decl);
  check_frame(&f[1], "sp_caller", "tests/progs/symprog.c", o.inl_call_line, 0);
  ASSERT_EQ(f[1].func_line, o.caller_decl);
  for (int i = 0; i < 2; i++) {
    ASSERT_UEQ(f[i].func_start, o.caller - exe->base);
    ASSERT_EQ(f[i].mapping, exe_id);
    ASSERT_UEQ(f[i].module_offset, o.ret_inl - exe->start + exe->off);
  }
  ASSERT(f[0].file == f[1].file);

  /* Two levels: sp_inner inlined into sp_inl, inlined into sp_caller. */
  ASSERT_EQ(sym_lookup(t, PID, o.ret_inner, 1, &f), 3);
  check_frame(&f[0], "sp_inner", "tests/progs/symprog.c", o.inner_line, 1);
  ASSERT_EQ(f[0].func_line, o.inner_decl);
  check_frame(&f[1], "sp_inl", "tests/progs/symprog.c", o.inner_call_line, 1);
  ASSERT_EQ(f[1].func_line, o.inl_decl);
  check_frame(&f[2], "sp_caller", "tests/progs/symprog.c", o.inl_call_line, 0);
  for (int i = 0; i < 3; i++)
    ASSERT_UEQ(f[i].func_start, o.caller - exe->base);

  /* sp_caller's entry: its last frame is sp_caller itself, out of line. */
  size_t n = sym_lookup(t, PID, o.caller, 0, &f);
  ASSERT_GE(n, 1);
  check_frame(&f[n - 1], "sp_caller", "tests/progs/symprog.c", 0, 0);
  for (size_t i = 0; i + 1 < n; i++)
    ASSERT_EQ(f[i].inlined, 1);

  /* The library: a global function, and a static one. */
  ASSERT_EQ(sym_lookup(t, PID, o.ret_work, 1, &f), 1);
  check_frame(&f[0], "symlib_work", "tests/progs/symlib.c", o.work_line, 0);
  ASSERT_EQ(f[0].func_line, o.work_decl);
  ASSERT_EQ(f[0].mapping, lib_id);
  ASSERT_UEQ(f[0].func_start, o.work - lib->base);
  ASSERT_UEQ(f[0].module_offset, o.ret_work - lib->start + lib->off);
  ASSERT_EQ(sym_lookup(t, PID, o.ret_helper, 1, &f), 1);
  check_frame(&f[0], "symlib_helper", "tests/progs/symlib.c", o.helper_line, 0);
  ASSERT_EQ(f[0].mapping, lib_id);

  /* The same file mapped by another process elsewhere: the same answers. */
  uint64_t shift = 0x100000000ull;
  int other = sym_add_mapping(t, PID + 1, lib->start + shift, lib->end + shift, lib->off, lib->path,
                              lib->bid);
  ASSERT_GE(other, 1);
  ASSERT_EQ(sym_lookup(t, PID + 1, o.ret_work + shift, 1, &f), 1);
  check_frame(&f[0], "symlib_work", "tests/progs/symlib.c", o.work_line, 0);
  ASSERT_EQ(f[0].mapping, other);
  ASSERT_UEQ(f[0].module_offset, o.ret_work - lib->start + lib->off);

  const sym_mapping *mi = sym_mapping_info(t, exe_id);
  ASSERT(mi);
  ASSERT_STR_EQ(mi->path, exe->path);
  ASSERT_STR_EQ(mi->build_id, exe->bid);
  ASSERT_UEQ(mi->start, exe->start);
  ASSERT_UEQ(mi->end, exe->end);
  ASSERT_UEQ(mi->offset, exe->off);
  ASSERT_EQ(mi->pid, PID);
  ASSERT_EQ(mi->usable, 1);
  ASSERT_EQ(mi->has_functions, 1);
  ASSERT_EQ(mi->has_lines, 1);
  ASSERT(!sym_mapping_info(t, 0) && !sym_mapping_info(t, other + 1));
  ASSERT_STR_EQ(sym_problems(t), "");
  sym_free(t);
}

TEST_IMPL(symbols_pie) {
  check_prog("symprog", 1);
  return 0;
}

TEST_IMPL(symbols_nopie) {
  check_prog("symprog_nopie", 0);
  return 0;
}

/* Runs argv, argv[0] found in $PATH (binutils' objcopy). */
static void run_ok(char *argv[]) {
  static char found[PATH_MAX];
  const char *path = getenv("PATH");
  found[0] = 0;
  for (const char *d = path ? path : "/usr/bin:/bin"; *d && !found[0];) {
    size_t n = strcspn(d, ":");
    snprintf(found, sizeof found, "%.*s/%s", (int)n, d, argv[0]);
    if (access(found, X_OK) != 0)
      found[0] = 0;
    d += n + (d[n] == ':');
  }
  if (!found[0])
    TEST_FAIL("%s not found in $PATH (binutils)", argv[0]);
  argv[0] = found;
  test_proc p = test_run(argv, NULL);
  if (p.status != 0)
    TEST_FAIL("%s: status %d: %s", argv[0], p.status, p.err);
  test_proc_free(&p);
}

static void copy_file(const char *from, const char *to) {
  size_t len;
  char *data = test_read_file(from, &len);
  test_write_file(to, data, len);
  free(data);
}

/* Occurrences of needle in hay. */
static int count(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* What is not known: an address in no mapping, a process with none, a file
 * without symbols. */
TEST_IMPL(symbols_unknown) {
  prog_out o;
  run_prog("symprog", &o);
  const prog_map *exe = &o.maps[o.exe];
  sym_table *t = sym_new(NULL, 0);
  ASSERT(t);
  add_all(t, &o, PID);
  const sym_frame *f;
  ASSERT_EQ(sym_lookup(t, PID, 0x1234, 0, &f), 1); /* (below mmap_min_addr) */
  ASSERT(f[0].function == NULL && f[0].file == NULL);
  ASSERT_EQ(f[0].mapping, 0);
  ASSERT_EQ(f[0].line, 0);
  ASSERT_UEQ(f[0].module_offset, 0x1234);
  ASSERT_UEQ(f[0].func_start, 0);
  ASSERT_EQ(sym_lookup(t, PID + 7, o.ret_leaf, 1, &f), 1); /* no such process */
  ASSERT(f[0].function == NULL && f[0].mapping == 0);
  ASSERT_UEQ(f[0].module_offset, o.ret_leaf);

  /* The executable without symbols or debug information (strip keeps its
   * build id): the address is known only as module+offset. */
  const char *stripped = test_tmp_path("symprog-stripped");
  char *strip[] = {"objcopy", "--strip-all", prog_path("symprog"), (char *)stripped, NULL};
  run_ok(strip);
  int id = sym_add_mapping(t, PID + 1, exe->start, exe->end, exe->off, stripped, exe->bid);
  ASSERT_GE(id, 1);
  for (int i = 0; i < 2; i++) {
    ASSERT_EQ(sym_lookup(t, PID + 1, o.ret_leaf + (uint64_t)i, 1, &f), 1);
    ASSERT(f[0].function == NULL && f[0].file == NULL);
    ASSERT_EQ(f[0].line, 0);
    ASSERT_EQ(f[0].mapping, id);
    ASSERT_UEQ(f[0].module_offset, o.ret_leaf + (uint64_t)i - exe->start + exe->off);
    ASSERT_UEQ(f[0].file_addr, o.ret_leaf + (uint64_t)i - 1 - exe->base);
  }
  const sym_mapping *mi = sym_mapping_info(t, id);
  ASSERT(mi && mi->usable == 0 && mi->has_lines == 0);
  ASSERT_EQ(count(sym_problems(t), stripped), 1);
  ASSERT_CONTAINS(sym_problems(t), "no symbol table and no debug information");
  printf("%s", sym_problems(t));
  sym_free(t);
  return 0;
}

/* A file whose build id is not the recorded one, and a missing file: frames
 * as addresses, each reported once; the file with the recorded build id is
 * used wherever it is. */
TEST_IMPL(symbols_build_id) {
  prog_out o;
  run_prog("symprog", &o);
  const prog_map *exe = &o.maps[o.exe];
  sym_table *t = sym_new(NULL, 0);
  ASSERT(t);
  char wrong[256];
  snprintf(wrong, sizeof wrong, "%s", exe->bid);
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  int a = sym_add_mapping(t, PID, exe->start, exe->end, exe->off, exe->path, wrong);
  int b = sym_add_mapping(t, PID + 1, exe->start, exe->end, exe->off, exe->path, wrong);
  ASSERT(a >= 1 && b == a + 1);
  const sym_frame *f;
  for (int pid = PID; pid <= PID + 1; pid++) {
    ASSERT_EQ(sym_lookup(t, pid, o.ret_leaf, 1, &f), 1);
    ASSERT(f[0].function == NULL && f[0].file == NULL);
    ASSERT_EQ(f[0].mapping, pid == PID ? a : b);
    ASSERT_UEQ(f[0].module_offset, o.ret_leaf - exe->start + exe->off);
    ASSERT_UEQ(f[0].func_start, 0);
    ASSERT_UEQ(f[0].file_addr, 0);
  }
  ASSERT_EQ(sym_lookup(t, PID, o.leaf, 0, &f), 1);
  ASSERT(f[0].function == NULL);
  char expect[4096 + 1024];
  snprintf(expect, sizeof expect,
           "%s: build id %s in the trace, %s on disk: its frames are shown as addresses\n",
           exe->path, wrong, exe->bid);
  ASSERT_CONTAINS(sym_problems(t), expect);
  ASSERT_EQ(count(sym_problems(t), exe->path), 1);
  ASSERT_EQ(sym_mapping_info(t, a)->usable, 0);

  /* The right build id, in capitals: the file is used. */
  char upper[256];
  for (size_t i = 0; i <= strlen(exe->bid); i++)
    upper[i] = (char)(exe->bid[i] >= 'a' && exe->bid[i] <= 'f' ? exe->bid[i] - 32 : exe->bid[i]);
  int c = sym_add_mapping(t, PID + 2, exe->start, exe->end, exe->off, exe->path, upper);
  ASSERT_EQ(sym_lookup(t, PID + 2, o.ret_leaf, 1, &f), 1);
  check_frame(&f[0], "sp_leaf", "tests/progs/symprog.c", o.leaf_line, 0);
  ASSERT_STR_EQ(sym_mapping_info(t, c)->build_id, exe->bid);
  /* No build id recorded: not checked. */
  int d = sym_add_mapping(t, PID + 3, exe->start, exe->end, exe->off, exe->path, "");
  ASSERT_EQ(sym_lookup(t, PID + 3, o.ret_leaf, 1, &f), 1);
  check_frame(&f[0], "sp_leaf", "tests/progs/symprog.c", o.leaf_line, 0);
  ASSERT_EQ(f[0].mapping, d);

  /* A missing file. */
  const char *gone = "/nonexistent-ctrace-test/libgone.so";
  int e = sym_add_mapping(t, PID, 0x7f0000000000ull, 0x7f0000010000ull, 0, gone, "abcd01");
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(sym_lookup(t, PID, 0x7f0000000100ull + (uint64_t)i, i & 1, &f), 1);
    ASSERT(f[0].function == NULL);
    ASSERT_EQ(f[0].mapping, e);
    ASSERT_UEQ(f[0].module_offset, 0x100 + (uint64_t)i);
  }
  ASSERT_CONTAINS(sym_problems(t),
                  "/nonexistent-ctrace-test/libgone.so: No such file or directory");
  ASSERT_EQ(count(sym_problems(t), gone), 1);
  ASSERT_EQ(count(sym_problems(t), "\n"), 2);
  /* The kernel's pseudo-files are not problems: just addresses. */
  int v = sym_add_mapping(t, PID, 0x7fff00000000ull, 0x7fff00002000ull, 0, "[vdso]", "");
  ASSERT_EQ(sym_lookup(t, PID, 0x7fff00000010ull, 0, &f), 1);
  ASSERT(f[0].function == NULL && f[0].mapping == v);
  ASSERT_EQ(count(sym_problems(t), "\n"), 2);

  /* Refused: no range, no path, a build id that is not hex. */
  ASSERT_EQ(sym_add_mapping(t, PID, 0x2000, 0x2000, 0, "/x", ""), CTRACE_EINVAL);
  ASSERT_EQ(sym_add_mapping(t, PID, 0x2000, 0x3000, 0, NULL, ""), CTRACE_EINVAL);
  ASSERT_EQ(sym_add_mapping(t, PID, 0x2000, 0x3000, 0, "/x", "xyz"), CTRACE_EINVAL);
  printf("%s", sym_problems(t));
  sym_free(t);
  return 0;
}

static void mkdirs(const char *path) {
  char b[PATH_MAX];
  snprintf(b, sizeof b, "%s", path);
  for (char *p = b + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(b, 0755);
      *p = '/';
    }
  if (mkdir(b, 0755) != 0 && errno != EEXIST)
    TEST_FAIL("mkdir %s: %s", b, strerror(errno));
}

/* The library stripped, its debug information elsewhere: found by build id
 * in a --debug-dir (DIR/.build-id/xx/yyyy.debug) or by .gnu_debuglink in a
 * flat one, never taken from a file of another build. */
TEST_IMPL(symbols_debug_dirs) {
  prog_out o;
  run_prog("symprog", &o);
  const prog_map *lib = &o.maps[o.lib];
  char dir[1024], ids[1200], flat[1200], wrongdir[1200], debug[1200], plain[1200], linked[1200],
      p[1400];
  snprintf(dir, sizeof dir, "%s", test_tmp_path("symdbg"));
  snprintf(ids, sizeof ids, "%s/ids", dir);
  snprintf(flat, sizeof flat, "%s/flat", dir);
  snprintf(wrongdir, sizeof wrongdir, "%s/wrong", dir);
  snprintf(debug, sizeof debug, "%s/libsymlib.debug", dir);
  snprintf(plain, sizeof plain, "%s/strip/libsymlib.so", dir);
  snprintf(linked, sizeof linked, "%s/strip/libsymlib-linked.so", dir);
  snprintf(p, sizeof p, "%s/strip", dir);
  mkdirs(p);
  mkdirs(flat);
  mkdirs(wrongdir);
  char *keep[] = {"objcopy", "--only-keep-debug", (char *)SYMLIB_PATH, debug, NULL};
  run_ok(keep);
  char *strip[] = {"objcopy", "--strip-all", (char *)SYMLIB_PATH, plain, NULL};
  run_ok(strip);
  char link_opt[1300];
  snprintf(link_opt, sizeof link_opt, "--add-gnu-debuglink=%s", debug);
  char *strip_link[] = {"objcopy", "--strip-all", link_opt, (char *)SYMLIB_PATH, linked, NULL};
  run_ok(strip_link);
  snprintf(p, sizeof p, "%s/.build-id/%.2s", ids, lib->bid);
  mkdirs(p);
  snprintf(p, sizeof p, "%s/.build-id/%.2s/%s.debug", ids, lib->bid, lib->bid + 2);
  copy_file(debug, p);
  snprintf(p, sizeof p, "%s/libsymlib.debug", flat);
  copy_file(debug, p);
  /* Another build's debug information under the name the link asks for. */
  char wrong_debug[1300];
  snprintf(wrong_debug, sizeof wrong_debug, "%s/libsymlib.debug", wrongdir);
  char *keep_wrong[] = {"objcopy", "--only-keep-debug", prog_path("symprog"), wrong_debug, NULL};
  run_ok(keep_wrong);

  struct {
    const char *dir, *path;
    int found;
  } cases[] = {
      {NULL, plain, 0},  {ids, plain, 1},       {NULL, linked, 0},
      {flat, linked, 1}, {wrongdir, linked, 0}, {ids, linked, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *dirs[1] = {cases[i].dir};
    sym_table *t = sym_new(dirs, cases[i].dir ? 1 : 0);
    ASSERT(t);
    int id = sym_add_mapping(t, PID, lib->start, lib->end, lib->off, cases[i].path, lib->bid);
    const sym_frame *f;
    ASSERT_EQ(sym_lookup(t, PID, o.ret_work, 1, &f), 1);
    ASSERT_STR_EQ(f[0].function, "symlib_work"); /* (exported: .dynsym names it) */
    ASSERT_UEQ(f[0].func_start, o.work - lib->base);
    const sym_mapping *mi = sym_mapping_info(t, id);
    if (cases[i].found) {
      check_frame(&f[0], "symlib_work", "tests/progs/symlib.c", o.work_line, 0);
      ASSERT_EQ(sym_lookup(t, PID, o.ret_helper, 1, &f), 1);
      check_frame(&f[0], "symlib_helper", "tests/progs/symlib.c", o.helper_line, 0);
      ASSERT_EQ(mi->has_lines, 1);
    } else {
      ASSERT(f[0].file == NULL && f[0].line == 0);
      ASSERT_EQ(sym_lookup(t, PID, o.ret_helper, 1, &f), 1);
      ASSERT(f[0].function == NULL); /* (static: only in .symtab, stripped) */
      ASSERT_EQ(mi->has_lines, 0);
    }
    ASSERT_EQ(mi->usable, 1);
    ASSERT_STR_EQ(sym_problems(t), "");
    sym_free(t);
  }

  /* The file at the path is another build: the one with the recorded build
   * id is found in the debug directory and used. */
  const char *dirs[2] = {"/nonexistent-ctrace-dbg", ids};
  sym_table *t = sym_new(dirs, 2);
  ASSERT(t);
  ASSERT_CONTAINS(sym_problems(t),
                  "debug directory /nonexistent-ctrace-dbg: No such file or directory\n");
  int id = sym_add_mapping(t, PID, lib->start, lib->end, lib->off, prog_path("symprog"), lib->bid);
  const sym_frame *f;
  ASSERT_EQ(sym_lookup(t, PID, o.ret_work, 1, &f), 1);
  check_frame(&f[0], "symlib_work", "tests/progs/symlib.c", o.work_line, 0);
  ASSERT_EQ(f[0].mapping, id);
  ASSERT_EQ(sym_mapping_info(t, id)->usable, 1);
  ASSERT_EQ(count(sym_problems(t), "\n"), 1);
  sym_free(t);
  return 0;
}

/* A later mapping replaces what it overlaps of earlier ones of the process. */
TEST_IMPL(symbols_mappings_overlap) {
  sym_table *t = sym_new(NULL, 0);
  ASSERT(t);
  int a = sym_add_mapping(t, 1, 0x10000, 0x90000, 0, "/nonexistent-ctrace/a", "");
  int b = sym_add_mapping(t, 1, 0x30000, 0x50000, 0x1000, "/nonexistent-ctrace/b", "");
  int c = sym_add_mapping(t, 1, 0x8000, 0x20000, 0, "/nonexistent-ctrace/c", "");
  int d = sym_add_mapping(t, 2, 0x30000, 0x40000, 0, "/nonexistent-ctrace/a", "");
  ASSERT(a == 1 && b == 2 && c == 3 && d == 4);
  struct {
    int pid;
    uint64_t addr;
    int mapping;
    uint64_t offset;
  } want[] = {
      {1, 0x7fff, 0, 0x7fff},   {1, 0x8000, c, 0},        {1, 0x1ffff, c, 0x17fff},
      {1, 0x20000, a, 0x10000}, {1, 0x2ffff, a, 0x1ffff}, {1, 0x30000, b, 0x1000},
      {1, 0x4ffff, b, 0x20fff}, {1, 0x50000, a, 0x40000}, {1, 0x8ffff, a, 0x7ffff},
      {1, 0x90000, 0, 0x90000}, {2, 0x30000, d, 0},       {2, 0x40000, 0, 0x40000},
      {3, 0x30000, 0, 0x30000},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    const sym_frame *f;
    ASSERT_EQ(sym_lookup(t, want[i].pid, want[i].addr, 0, &f), 1);
    if (f[0].mapping != want[i].mapping || f[0].module_offset != want[i].offset)
      TEST_FAIL("pid %d %#" PRIx64 ": mapping %d +%#" PRIx64 ", expected %d +%#" PRIx64,
                want[i].pid, want[i].addr, f[0].mapping, f[0].module_offset, want[i].mapping,
                want[i].offset);
  }
  /* A return address at a mapping's end belongs to it (the call is before). */
  const sym_frame *f;
  ASSERT_EQ(sym_lookup(t, 2, 0x40000, 1, &f), 1);
  ASSERT_EQ(f[0].mapping, d);
  /* Both files of "a" are one file: reported once. */
  ASSERT_EQ(count(sym_problems(t), "/nonexistent-ctrace/a:"), 1);
  ASSERT_EQ(count(sym_problems(t), "\n"), 3);
  sym_free(t);
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* 100k lookups over 500 distinct addresses (the program, its library and
 * libc), timed and printed; no assertion on the time. */
TEST_IMPL(symbols_speed) {
  prog_out o;
  run_prog("symprog", &o);
  int libc = -1;
  for (int i = 0; i < o.nmaps; i++)
    if (strstr(o.maps[i].path, "/libc.so"))
      libc = i;
  ASSERT_GE(libc, 0);
  enum { NADDR = 500, NLOOK = 100000, NSAMPLES = 2000000 };
  static uint64_t addrs[NADDR];
  int from[3] = {o.exe, o.lib, libc}, share[3] = {200, 100, 200}, k = 0;
  for (int j = 0; j < 3; j++) {
    const prog_map *m = &o.maps[from[j]];
    for (int i = 0; i < share[j]; i++)
      addrs[k++] = m->start + 1 + (m->end - m->start - 2) * (uint64_t)i / (uint64_t)share[j];
  }
  ASSERT_EQ(k, NADDR);
  sym_table *t = sym_new(NULL, 0);
  ASSERT(t);
  add_all(t, &o, PID);
  const sym_frame *f;
  double t0 = now_ms();
  size_t named = 0, frames = 0;
  for (int i = 0; i < NADDR; i++) {
    size_t n = sym_lookup(t, PID, addrs[i], 1, &f);
    ASSERT_GE(n, 1);
    ASSERT_NE(f[0].mapping, 0);
    named += f[n - 1].function != NULL;
    frames += n;
  }
  double t1 = now_ms();
  for (int i = 0; i < NLOOK; i++)
    ASSERT_GE(sym_lookup(t, PID, addrs[(i * 7919u) % NADDR], 1, &f), 1);
  double t2 = now_ms();
  for (int i = 0; i < NSAMPLES; i++)
    sym_lookup(t, PID, addrs[(i * 7919u) % NADDR], 1, &f);
  double t3 = now_ms();
  /* The program's and the library's share are in their functions' code:
   * named (libc's .dynsym has no name for its internal functions). */
  ASSERT_GE(named, 250);
  printf("symbols: %d distinct addresses (%zu named, %zu frames) in %.1f ms; then %d lookups in "
         "%.1f ms (%.0f ns each); %d more in %.1f ms\n",
         NADDR, named, frames, t1 - t0, NLOOK, t2 - t1, (t2 - t1) * 1e6 / NLOOK, NSAMPLES, t3 - t2);
  printf("%s", sym_problems(t));
  sym_free(t);
  return 0;
}
