/* A program whose functions, lines and inlined call are known, for the
 * symbolizer's tests (tests/test_symbols.c). Built -O2 -g without frame
 * pointers, as a PIE (symprog) and not (symprog_nopie); dlopens
 * libsymlib.so (argv[1]).
 *
 * It prints what a sampler would record and what the test checks against:
 *   obj PATH BASE BUILDID        its objects (dl_iterate_phdr: load bias, build id)
 *   map START END OFFSET PATH    its executable mappings (/proc/self/maps)
 *   fn NAME ADDR DECL_LINE       the entry of a function
 *   ret NAME ADDR LINE [CALL_LINE DECL_LINE]  a return address in NAME after
 *       a call at LINE; sp_inl is inlined into sp_caller at CALL_LINE, sp_inner
 *       into sp_inl (itself in sp_caller) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* libsymlib.so's ELF addresses start there (-Ttext-segment, as a prelinked
 * library's): the program keeps it taken, so that the library is loaded
 * elsewhere and its addresses in memory, in the file and as file offsets
 * all differ. */
#define SYMLIB_VADDR 0x20000000ul

static void *rets[8];
static int lines[8];
static volatile int sink;

/* Records its return address (the instruction after the call) and the
 * caller's line. Called back by libsymlib too. */
__attribute__((noinline)) void sp_mark(int slot, int line) {
  rets[slot] = __builtin_return_address(0);
  lines[slot] = line;
  __asm__ volatile("" ::: "memory");
}

enum { LEAF_DECL = __LINE__ + 1 };
__attribute__((noinline)) int sp_leaf(int x) {
  int y = x * 7 + sink;
  sp_mark(0, __LINE__);
  sink = y; /* (work after the call: no tail call) */
  return y + sink;
}

enum { INNER_DECL = __LINE__ + 1 };
static inline __attribute__((always_inline)) int sp_inner(int x, int call_line) {
  sp_mark(5, __LINE__);
  lines[6] = call_line;
  return x ^ sink;
}

enum { INL_DECL = __LINE__ + 1 };
static inline __attribute__((always_inline)) int sp_inl(int x, int call_line) {
  int y = x + sink;
  sp_mark(1, __LINE__);
  lines[2] = call_line;
  sink = y;
  y += sp_inner(y, __LINE__);
  sink = y;
  return y * 3;
}

enum { CALLER_DECL = __LINE__ + 1 };
__attribute__((noinline)) int sp_caller(int x) {
  int r = sp_inl(x, __LINE__);
  sink = r;
  return r + 1;
}

static int print_obj(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  const char *lib = arg;
  char exe[4096];
  const char *name = info->dlpi_name;
  if (!name || !name[0]) { /* the executable */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
      return 0;
    exe[n] = 0;
    name = exe;
  } else if (strcmp(name, lib) != 0) {
    return 0;
  }
  char bid[256] = "";
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_NOTE)
      continue;
    const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
      const char *nm = p + sizeof *nh;
      const unsigned char *desc = (const unsigned char *)nm + ((nh->n_namesz + 3) & ~3u);
      if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(nm, "GNU", 4) == 0)
        for (unsigned j = 0; j < nh->n_descsz && j < 100; j++)
          sprintf(bid + 2 * j, "%02x", desc[j]);
      p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
    }
  }
  printf("obj %s %#lx %s\n", name, (unsigned long)info->dlpi_addr, bid[0] ? bid : "-");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: symprog LIBSYMLIB\n");
    return 2;
  }
  void *taken = mmap((void *)SYMLIB_VADDR, 1 << 20, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (taken != (void *)SYMLIB_VADDR) {
    perror("mmap at the library's addresses");
    return 1;
  }
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  int (*work)(void (*)(int, int), int) = (int (*)(void (*)(int, int), int))dlsym(h, "symlib_work");
  const int *work_decl = dlsym(h, "symlib_work_decl");
  if (!work || !work_decl) {
    fprintf(stderr, "dlsym: %s\n", dlerror());
    return 1;
  }
  sink = sp_leaf(argc) + sp_caller(argc) + work(sp_mark, argc);

  dl_iterate_phdr(print_obj, argv[1]);
  FILE *maps = fopen("/proc/self/maps", "r");
  char line[8192];
  while (maps && fgets(line, sizeof line, maps)) {
    unsigned long start, end, off;
    char perms[8];
    int pathat = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &start, &end, perms, &off, &pathat) < 4 ||
        !strchr(perms, 'x'))
      continue;
    line[strcspn(line, "\n")] = 0;
    printf("map %#lx %#lx %#lx %s\n", start, end, off, pathat ? line + pathat : "");
  }
  if (maps)
    fclose(maps);
  printf("fn sp_leaf %p %d\n", (void *)sp_leaf, LEAF_DECL);
  printf("fn sp_caller %p %d\n", (void *)sp_caller, CALLER_DECL);
  printf("fn symlib_work %p %d\n", (void *)work, *work_decl);
  printf("ret sp_leaf %p %d\n", rets[0], lines[0]);
  printf("ret sp_inl %p %d %d %d\n", rets[1], lines[1], lines[2], INL_DECL);
  printf("ret sp_inner %p %d %d %d\n", rets[5], lines[5], lines[6], INNER_DECL);
  printf("ret symlib_work %p %d\n", rets[3], lines[3]);
  printf("ret symlib_helper %p %d\n", rets[4], lines[4]);
  return 0;
}
