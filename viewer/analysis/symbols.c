/* Symbols for sampled call stacks (symbols.h): mappings to files, files to
 * libdwfl sessions, addresses to frames.
 *
 * Each distinct file (path and recorded build id) is one offline Dwfl
 * session holding one module, reported at its own ELF addresses (bias 0 for
 * an ET_DYN file, its absolute addresses for an ET_EXEC one). An address of a
 * process becomes a file offset through its mapping (addr - start + offset),
 * and the file offset an ELF address through the PT_LOAD segment that holds
 * it (- p_offset + p_vaddr): the same for a PIE, a shared library loaded
 * anywhere, or a non-PIE executable, whatever the load bias was.
 *
 * The frames of an address: the function from the symbol table (sorted
 * once per file), then, with DWARF, the DW_TAG_subprogram holding it (from
 * an index of the CU's functions by address, built once per CU) and the
 * DW_TAG_inlined_subroutines inside it that hold it: each is a frame at the
 * current position, whose caller continues at the subroutine's
 * DW_AT_call_file and DW_AT_call_line, up to the out-of-line function. The
 * first position is the line table's row for the address.
 *
 * Kernel addresses are named from the functions the trace recorded
 * (sym_add_kernel_symbol), kept sorted by address, in one pseudo-mapping
 * of every process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "common.h"
#include "ctrace/format.h"
#include "symbols.h"

#define ARENA_CHUNK (64 * 1024)
#define FRAME_CHUNK 4096

/* ---- Interned strings --------------------------------------------------------------- */

typedef struct str_chunk {
  struct str_chunk *next;
  size_t used, cap;
  char data[];
} str_chunk;

typedef struct str_set {
  const char **slots; /* open addressing, NULL = empty */
  uint64_t *hashes;
  size_t cap, n;
  str_chunk *chunks;
} str_set;

static char *str_alloc(str_set *s, size_t len) {
  str_chunk *c = s->chunks;
  if (!c || c->cap - c->used < len) {
    size_t cap = len > ARENA_CHUNK / 4 ? len : ARENA_CHUNK;
    str_chunk *nc = malloc(sizeof *nc + cap);
    if (!nc)
      return NULL;
    nc->used = 0;
    nc->cap = cap;
    if (c && cap != ARENA_CHUNK) { /* a big one: behind the current chunk */
      nc->next = c->next;
      c->next = nc;
    } else {
      nc->next = c;
      s->chunks = nc;
    }
    c = nc;
  }
  char *p = c->data + c->used;
  c->used += len;
  return p;
}

static int str_grow(str_set *s) {
  size_t cap = s->cap ? s->cap * 2 : 256;
  const char **slots = calloc(cap, sizeof *slots);
  uint64_t *hashes = calloc(cap, sizeof *hashes);
  if (!slots || !hashes) {
    free(slots);
    free(hashes);
    return -1;
  }
  for (size_t i = 0; i < s->cap; i++) {
    if (!s->slots[i])
      continue;
    size_t j = s->hashes[i] & (cap - 1);
    while (slots[j])
      j = (j + 1) & (cap - 1);
    slots[j] = s->slots[i];
    hashes[j] = s->hashes[i];
  }
  free(s->slots);
  free(s->hashes);
  s->slots = slots;
  s->hashes = hashes;
  s->cap = cap;
  return 0;
}

/* The one copy of str (NULL stays NULL; NULL also when out of memory). */
static const char *str_intern(str_set *s, const char *str) {
  if (!str)
    return NULL;
  if ((s->n + 1) * 4 > s->cap * 3 && str_grow(s) < 0)
    return NULL;
  size_t len = strlen(str);
  uint64_t h = ctrace__fnv1a(str, len, 0);
  size_t j = h & (s->cap - 1);
  for (; s->slots[j]; j = (j + 1) & (s->cap - 1))
    if (s->hashes[j] == h && strcmp(s->slots[j], str) == 0)
      return s->slots[j];
  char *copy = str_alloc(s, len + 1);
  if (!copy)
    return NULL;
  memcpy(copy, str, len + 1);
  s->slots[j] = copy;
  s->hashes[j] = h;
  s->n++;
  return copy;
}

static void str_free(str_set *s) {
  for (str_chunk *c = s->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(s->slots);
  free(s->hashes);
}

/* ---- Files, mappings, processes ------------------------------------------------------ */

enum file_state { FS_UNOPENED, FS_OK, FS_UNUSABLE };

/* A function of the symbol table. */
typedef struct fsym {
  uint64_t addr, size; /* module addresses */
  const char *name;    /* (in libelf's copy of the string table) */
  int rank;            /* the better name at one address: global, weak, local */
  int sizeless;        /* size is up to its section's end: the next symbol ends it */
} fsym;

/* One address range of an out-of-line function of a CU (DWARF). */
typedef struct fn_range {
  uint64_t lo, hi; /* DWARF addresses, [lo, hi) */
  Dwarf_Die die;   /* its DW_TAG_subprogram */
} fn_range;

/* A CU's functions by address, built at the first lookup in the CU: a walk
 * of the CU's top level once, where dwarf_getscopes() walks it at every
 * address (seconds for 10k addresses in a CU of 3000 functions). */
typedef struct cu_funcs {
  fn_range *r;
  size_t n, cap;
} cu_funcs;

typedef struct seg {
  uint64_t offset, filesz, vaddr, memsz;
  int exec;
} seg;

typedef struct sym_file {
  const char *path;     /* interned */
  const char *build_id; /* interned, lower-case hex, "" none */
  uint64_t hash;
  int next;  /* the next file of the same hash bucket chain, -1 none */
  int state; /* enum file_state */
  Dwfl *dwfl;
  Dwfl_Module *mod;
  GElf_Addr bias; /* module address - ELF address */
  seg *segs;      /* PT_LOAD segments */
  size_t nsegs;
  /* A debug file (objcopy --only-keep-debug) in place of the binary: its
   * segments keep their addresses but not their file offsets. The one
   * executable segment, else NULL. */
  const seg *debug_text;
  int has_symtab, has_dwarf;
  struct fsym *syms; /* its functions by address */
  size_t nsyms;
  vh_map cu_index; /* CU DIE offset -> index into cus */
  cu_funcs *cus;
  size_t ncus, cap_cus;
} sym_file;

typedef struct span {
  uint64_t start, end;
  uint32_t mapping;
} span;

typedef struct sym_pid {
  span *spans; /* sorted, disjoint */
  size_t n, cap;
} sym_pid;

typedef struct map_rec {
  sym_mapping info;
  int file; /* index into files; -1: the kernel's pseudo-mapping */
} map_rec;

/* A kernel function (sym_add_kernel_symbol). */
typedef struct ksym {
  uint64_t start, size;
  const char *label; /* interned: "[kernel] NAME [MODULE]" */
} ksym;

/* ---- The cache: (mapping or pid, address, is_return) -> frames ------------------------ */

typedef struct cache_ent {
  uint64_t addr;
  uint32_t owner; /* mapping id; or the pid when the address is in no mapping */
  uint32_t kind;  /* bit 0: is_return; bit 1: owner is a pid; 0 marks an empty slot: +4 */
  const sym_frame *frames;
  size_t n;
} cache_ent;

#define KIND_USED 4u

typedef struct frame_chunk {
  struct frame_chunk *next;
  size_t used, cap;
  sym_frame frames[];
} frame_chunk;

struct sym_table {
  Dwfl_Callbacks callbacks;
  char *debuginfo_path; /* what callbacks.debuginfo_path points to */
  char **dirs;          /* the usable debug directories, absolute */
  size_t ndirs;
  str_set strs;
  sym_file *files;
  size_t nfiles, cap_files;
  int *file_heads; /* hash buckets of files (by path and build id), -1 empty */
  size_t nheads;
  map_rec *maps;
  size_t nmaps, cap_maps;
  vh_map pid_index; /* pid -> index into pids */
  sym_pid *pids;
  size_t npids, cap_pids;
  cache_ent *cache;
  size_t cache_cap, cache_n;
  frame_chunk *frames;
  sym_frame *tmp; /* one lookup's frames, before they are stored */
  size_t ntmp, cap_tmp;
  Dwarf_Die *chain; /* one lookup's function and inlined subroutines */
  size_t nchain, cap_chain;
  char *problems;
  size_t plen, pcap;
  ksym *ksyms; /* sorted by start when ksorted */
  size_t nksyms, cap_ksyms;
  int ksorted;
  int kernel_map;    /* the kernel's pseudo-mapping id, 0 until a kernel address is looked up */
  int kernel_cached; /* the cache holds kernel lookups */
};

static void problem(sym_table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(sym_table *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char line[1024];
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n > sizeof line - 2)
    n = sizeof line - 2;
  line[n++] = '\n';
  line[n] = 0;
  if (t->plen + n + 1 > t->pcap) {
    size_t cap = (t->pcap ? t->pcap * 2 : 512) + n;
    char *p = realloc(t->problems, cap);
    if (!p)
      return; /* (out of memory: the problem goes unsaid, the frames are still addresses) */
    t->problems = p;
    t->pcap = cap;
  }
  memcpy(t->problems + t->plen, line, n + 1);
  t->plen += n;
}

sym_table *sym_new(const char *const *debug_dirs, size_t ndirs) {
  sym_table *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  t->dirs = calloc(ndirs + 1, sizeof *t->dirs);
  size_t len = sizeof "::.debug:/usr/lib/debug";
  if (!t->dirs)
    goto fail;
  for (size_t i = 0; i < ndirs; i++) {
    char *abs = realpath(debug_dirs[i], NULL);
    if (!abs) {
      if (errno == ENOMEM)
        goto fail;
      problem(t, "debug directory %s: %s", debug_dirs[i], strerror(errno));
      continue;
    }
    if (strchr(abs, ':')) { /* (libdwfl's search path is ':'-separated) */
      problem(t, "debug directory %s: a path with ':' cannot be searched", abs);
      free(abs);
      continue;
    }
    t->dirs[t->ndirs++] = abs;
    len += strlen(abs) + 1;
  }
  /* The given directories first, then libdwfl's default (":.debug:/usr/lib/debug":
   * the file's directory, its .debug/, and /usr/lib/debug). */
  t->debuginfo_path = malloc(len);
  if (!t->debuginfo_path)
    goto fail;
  char *p = t->debuginfo_path;
  for (size_t i = 0; i < t->ndirs; i++)
    p += sprintf(p, "%s:", t->dirs[i]);
  strcpy(p, ":.debug:/usr/lib/debug");
  t->callbacks.find_elf = dwfl_build_id_find_elf;
  t->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
  t->callbacks.section_address = dwfl_offline_section_address;
  t->callbacks.debuginfo_path = &t->debuginfo_path;
  return t;
fail:
  sym_free(t);
  return NULL;
}

void sym_free(sym_table *t) {
  if (!t)
    return;
  for (size_t i = 0; i < t->nfiles; i++) {
    if (t->files[i].dwfl)
      dwfl_end(t->files[i].dwfl);
    free(t->files[i].segs);
    free(t->files[i].syms);
    for (size_t j = 0; j < t->files[i].ncus; j++)
      free(t->files[i].cus[j].r);
    free(t->files[i].cus);
    vh_free(&t->files[i].cu_index);
  }
  free(t->files);
  free(t->file_heads);
  free(t->maps);
  for (size_t i = 0; i < t->npids; i++)
    free(t->pids[i].spans);
  free(t->pids);
  vh_free(&t->pid_index);
  free(t->cache);
  for (frame_chunk *c = t->frames, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(t->tmp);
  free(t->chain);
  for (size_t i = 0; i < t->ndirs; i++)
    free(t->dirs[i]);
  free(t->dirs);
  free(t->debuginfo_path);
  str_free(&t->strs);
  free(t->problems);
  free(t->ksyms);
  free(t);
}

const char *sym_problems(const sym_table *t) { return t && t->problems ? t->problems : ""; }

/* The build id in[] as lower-case hex into out[cap]. @return 0, or -1 when
 * it is not hex or too long (the caller refuses the mapping). */
static int normalize_build_id(const char *in, char *out, size_t cap) {
  size_t n = 0;
  for (const char *s = in ? in : ""; *s; s++) {
    char c = *s;
    if (c >= 'A' && c <= 'F')
      c = (char)(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return -1;
    if (n + 1 >= cap)
      return -1;
    out[n++] = c;
  }
  out[n] = 0;
  return 0;
}

static int file_find_or_add(sym_table *t, const char *path, const char *bid) {
  uint64_t h = ctrace__fnv1a(path, strlen(path), ctrace__fnv1a(bid, strlen(bid), 0));
  if (t->nfiles + 1 > t->nheads * 2) { /* rehash into twice the buckets */
    size_t nheads = t->nheads ? t->nheads * 4 : 64;
    int *heads = malloc(nheads * sizeof *heads);
    if (!heads)
      return CTRACE_ENOMEM;
    for (size_t i = 0; i < nheads; i++)
      heads[i] = -1;
    for (size_t i = 0; i < t->nfiles; i++) {
      size_t b = t->files[i].hash & (nheads - 1);
      t->files[i].next = heads[b];
      heads[b] = (int)i;
    }
    free(t->file_heads);
    t->file_heads = heads;
    t->nheads = nheads;
  }
  size_t b = h & (t->nheads - 1);
  for (int i = t->file_heads[b]; i >= 0; i = t->files[i].next)
    if (t->files[i].hash == h && strcmp(t->files[i].path, path) == 0 &&
        strcmp(t->files[i].build_id, bid) == 0)
      return i;
  sym_file *f = VH_PUSH(t->files, t->nfiles, t->cap_files);
  if (!f)
    return CTRACE_ENOMEM;
  memset(f, 0, sizeof *f);
  f->path = str_intern(&t->strs, path);
  f->build_id = str_intern(&t->strs, bid);
  if (!f->path || !f->build_id) {
    t->nfiles--;
    return CTRACE_ENOMEM;
  }
  f->hash = h;
  f->next = t->file_heads[b];
  t->file_heads[b] = (int)(t->nfiles - 1);
  return (int)(t->nfiles - 1);
}

/* Mapping id covers [s, e) of p from now on: the parts of earlier spans it
 * overlaps are cut away. */
static int pid_cover(sym_pid *p, uint64_t s, uint64_t e, uint32_t id) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) { /* the first span that ends after s */
    size_t mid = (lo + hi) / 2;
    if (p->spans[mid].end <= s)
      lo = mid + 1;
    else
      hi = mid;
  }
  size_t i = lo, j = lo;
  while (j < p->n && p->spans[j].start < e)
    j++;
  /* spans[i..j) overlap [s, e): what sticks out on either side stays */
  span put[3];
  size_t nput = 0;
  if (i < j && p->spans[i].start < s)
    put[nput++] = (span){p->spans[i].start, s, p->spans[i].mapping};
  put[nput++] = (span){s, e, id};
  if (i < j && p->spans[j - 1].end > e)
    put[nput++] = (span){e, p->spans[j - 1].end, p->spans[j - 1].mapping};
  size_t n = p->n - (j - i) + nput;
  if (n > p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    while (cap < n)
      cap *= 2;
    span *spans = realloc(p->spans, cap * sizeof *spans);
    if (!spans)
      return CTRACE_ENOMEM;
    p->spans = spans;
    p->cap = cap;
  }
  memmove(p->spans + i + nput, p->spans + j, (p->n - j) * sizeof *p->spans);
  memcpy(p->spans + i, put, nput * sizeof *put);
  p->n = n;
  return 0;
}

static sym_pid *pid_get(sym_table *t, int pid, int create) {
  uint32_t *ix = vh_get(&t->pid_index, (uint32_t)pid);
  if (ix)
    return &t->pids[*ix];
  if (!create)
    return NULL;
  sym_pid *p = VH_PUSH(t->pids, t->npids, t->cap_pids);
  if (!p)
    return NULL;
  memset(p, 0, sizeof *p);
  if (vh_put(&t->pid_index, (uint32_t)pid, (uint32_t)(t->npids - 1)) < 0) {
    t->npids--;
    return NULL;
  }
  return p;
}

int sym_add_mapping(sym_table *t, int pid, uint64_t start, uint64_t end, uint64_t offset,
                    const char *path, const char *build_id_hex) {
  char bid[256];
  if (!t || !path || start >= end || t->nmaps >= INT_MAX - 1)
    return CTRACE_EINVAL;
  if (normalize_build_id(build_id_hex, bid, sizeof bid) < 0)
    return CTRACE_EINVAL;
  int file = file_find_or_add(t, path, bid);
  if (file < 0)
    return file;
  sym_pid *p = pid_get(t, pid, 1);
  if (!p)
    return CTRACE_ENOMEM;
  map_rec *m = VH_PUSH(t->maps, t->nmaps, t->cap_maps);
  if (!m)
    return CTRACE_ENOMEM;
  int id = (int)t->nmaps;
  if (pid_cover(p, start, end, (uint32_t)id) < 0) {
    t->nmaps--;
    return CTRACE_ENOMEM;
  }
  m->file = file;
  m->info = (sym_mapping){.pid = pid,
                          .start = start,
                          .end = end,
                          .offset = offset,
                          .path = t->files[file].path,
                          .build_id = t->files[file].build_id,
                          .usable = 0};
  return id;
}

/* ---- Opening a file -------------------------------------------------------------------- */

/* A path that names no file: the kernel's [vdso], [vsyscall], [heap] ...,
 * anonymous memory (JIT code). */
static int pseudo_path(const char *path) {
  return path[0] == 0 || path[0] == '[' || strncmp(path, "//anon", 6) == 0 ||
         strncmp(path, "/memfd:", 7) == 0 || strncmp(path, "anon_inode:", 11) == 0;
}

static void hex(const unsigned char *bits, int n, char *out) {
  for (int i = 0; i < n; i++)
    sprintf(out + 2 * i, "%02x", bits[i]);
  out[2 * (n > 0 ? n : 0)] = 0;
}

static int fsym_cmp(const void *a, const void *b) {
  const fsym *x = a, *y = b;
  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  if (x->rank != y->rank)
    return x->rank > y->rank ? -1 : 1;
  /* (then the name with fewer leading underscores: malloc before __libc_malloc) */
  size_t ux = strspn(x->name, "_"), uy = strspn(y->name, "_");
  return ux != uy ? (ux < uy ? -1 : 1) : strcmp(x->name, y->name);
}

/* f's functions (of .symtab, else .dynsym: libdwfl picks) sorted by
 * address, one per address: libdwfl's own search (dwfl_module_addrinfo)
 * reads the whole table at every call. @return 0, or -1 when out of memory. */
static int fsyms_build(sym_file *f) {
  int n = dwfl_module_getsymtab(f->mod);
  if (n <= 1)
    return 0;
  f->syms = malloc((size_t)n * sizeof *f->syms);
  if (!f->syms)
    return -1;
  size_t k = 0;
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr, sbias = 0;
    GElf_Word shndx;
    Elf *elf = NULL;
    const char *name = dwfl_module_getsym_info(f->mod, i, &sym, &addr, &shndx, &elf, &sbias);
    int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
    if (!name || !name[0] || shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC))
      continue;
    uint64_t size = sym.st_size;
    if (!size) { /* sizeless (assembly): up to the end of its section at most */
      GElf_Shdr sh;
      Elf_Scn *scn = elf && shndx < SHN_LORESERVE ? elf_getscn(elf, shndx) : NULL;
      if (scn && gelf_getshdr(scn, &sh) && sh.sh_addr + sbias <= addr &&
          sh.sh_addr + sbias + sh.sh_size > addr)
        size = sh.sh_addr + sbias + sh.sh_size - addr;
    }
    int rank = bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;
    f->syms[k++] = (fsym){addr, size, name, rank, sym.st_size == 0};
  }
  qsort(f->syms, k, sizeof *f->syms, fsym_cmp);
  size_t u = 0;
  for (size_t i = 0; i < k; i++) { /* the first of each address, the largest size */
    if (u && f->syms[u - 1].addr == f->syms[i].addr) {
      if (f->syms[i].size > f->syms[u - 1].size)
        f->syms[u - 1].size = f->syms[i].size;
      continue;
    }
    f->syms[u++] = f->syms[i];
  }
  f->nsyms = u;
  for (size_t i = 0; i + 1 < u; i++) /* a sizeless one ends where the next begins */
    if (f->syms[i].sizeless && f->syms[i].addr + f->syms[i].size > f->syms[i + 1].addr)
      f->syms[i].size = f->syms[i + 1].addr - f->syms[i].addr;
  return 0;
}

/* The function holding module address a: the last one starting at or before
 * it that covers it, or one of the few before that whose size reaches it (a
 * function around a local symbol). */
static const fsym *fsym_find(const sym_file *f, uint64_t a) {
  size_t lo = 0, hi = f->nsyms;
  while (lo < hi) { /* the first that starts after a */
    size_t mid = (lo + hi) / 2;
    if (f->syms[mid].addr <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return NULL;
  const fsym *s = &f->syms[lo - 1];
  if (a - s->addr < s->size)
    return s;
  for (size_t i = lo - 1; i-- > 0 && i + 8 >= lo;)
    if (a - f->syms[i].addr < f->syms[i].size)
      return &f->syms[i];
  return NULL;
}

/* Reports the ELF file at path into f's own Dwfl. @return 0, or -1 with what
 * went wrong in why[] (the file's build id in disk_bid[] when it differs from
 * f's recorded one). */
static int try_open(sym_table *t, sym_file *f, const char *path, char *why, size_t cap,
                    char *disk_bid) {
  disk_bid[0] = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, cap, "%s", strerror(errno));
    return -1;
  }
  Dwfl *d = dwfl_begin(&t->callbacks);
  if (!d) {
    close(fd);
    snprintf(why, cap, "libdwfl: %s", dwfl_errmsg(-1));
    return -1;
  }
  dwfl_report_begin(d);
  const char *base = strrchr(path, '/');
  /* ET_DYN at its own ELF addresses (base 0 + p_vaddr), ET_EXEC at its
   * absolute ones: module addresses are ELF addresses. */
  Dwfl_Module *mod = dwfl_report_elf(d, base ? base + 1 : path, path, fd, 0, true);
  if (!mod) {
    close(fd); /* (only consumed on success) */
    snprintf(why, cap, "not an ELF file this reader knows (libdwfl: %s)", dwfl_errmsg(-1));
    dwfl_end(d);
    return -1;
  }
  dwfl_report_end(d, NULL, NULL);
  GElf_Addr bias = 0;
  Elf *elf = dwfl_module_getelf(mod, &bias);
  size_t nph = 0;
  if (!elf || elf_getphdrnum(elf, &nph) != 0) {
    snprintf(why, cap, "unreadable ELF (libdwfl: %s)", dwfl_errmsg(-1));
    dwfl_end(d);
    return -1;
  }
  if (f->build_id[0]) {
    const unsigned char *bits = NULL;
    GElf_Addr at;
    int n = dwfl_module_build_id(mod, &bits, &at);
    if (n > 0 && n <= 100)
      hex(bits, n, disk_bid);
    if (strcmp(disk_bid, f->build_id) != 0) {
      snprintf(why, cap, "build id %s in the trace, %s on disk", f->build_id,
               disk_bid[0] ? disk_bid : "none");
      dwfl_end(d);
      return -1;
    }
  }
  seg *segs = calloc(nph ? nph : 1, sizeof *segs);
  if (!segs) {
    snprintf(why, cap, "out of memory");
    dwfl_end(d);
    return -1;
  }
  size_t nsegs = 0;
  for (size_t i = 0; i < nph; i++) {
    GElf_Phdr ph;
    if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD)
      segs[nsegs++] =
          (seg){ph.p_offset, ph.p_filesz, ph.p_vaddr, ph.p_memsz, !!(ph.p_flags & PF_X)};
  }
  f->dwfl = d;
  f->mod = mod;
  f->bias = bias;
  f->segs = segs;
  f->nsegs = nsegs;
  f->debug_text = NULL;
  for (size_t i = 0; i < nsegs; i++)
    if (segs[i].exec && segs[i].filesz == 0 && segs[i].memsz > 0) {
      if (f->debug_text) { /* (several: which one the mapping was is unknown) */
        f->debug_text = NULL;
        break;
      }
      f->debug_text = &segs[i];
    }
  if (fsyms_build(f) < 0) {
    snprintf(why, cap, "out of memory");
    dwfl_end(d);
    free(segs);
    f->segs = NULL;
    f->dwfl = NULL;
    f->mod = NULL;
    return -1;
  }
  f->has_symtab = f->nsyms > 0;
  Dwarf_Addr dbias;
  f->has_dwarf = dwfl_module_getdwarf(mod, &dbias) != NULL;
  return 0;
}

/* Opens f at its first use: its path, else a file with its recorded build id
 * in the debug directories; says once why its frames will be addresses. */
static void file_open(sym_table *t, sym_file *f) {
  if (f->state != FS_UNOPENED)
    return;
  f->state = FS_UNUSABLE;
  if (pseudo_path(f->path))
    return; /* (nothing to read: module+offset is all there is) */
  char why[512], disk_bid[256];
  if (try_open(t, f, f->path, why, sizeof why, disk_bid) == 0) {
    f->state = FS_OK;
  } else if (f->build_id[0] && strlen(f->build_id) > 2) {
    /* The file the trace saw, by its build id: DIR/.build-id/xx/yyyy (the
     * binary) or yyyy.debug (its debug file: the same addresses). */
    char alt[PATH_MAX], why2[512], bid2[256];
    for (size_t i = 0; i <= t->ndirs && f->state != FS_OK; i++) {
      const char *dir = i < t->ndirs ? t->dirs[i] : "/usr/lib/debug";
      for (int dbg = 0; dbg < 2 && f->state != FS_OK; dbg++) {
        snprintf(alt, sizeof alt, "%s/.build-id/%.2s/%s%s", dir, f->build_id, f->build_id + 2,
                 dbg ? ".debug" : "");
        if (access(alt, R_OK) == 0 && try_open(t, f, alt, why2, sizeof why2, bid2) == 0)
          f->state = FS_OK;
      }
    }
  }
  if (f->state != FS_OK) {
    problem(t, "%s: %s: its frames are shown as addresses", f->path, why);
    return;
  }
  if (!f->has_symtab && !f->has_dwarf)
    problem(t, "%s: no symbol table and no debug information: its frames are shown as addresses",
            f->path);
}

/* ---- Looking up ------------------------------------------------------------------------ */

static sym_frame *tmp_push(sym_table *t) {
  sym_frame *fr = VH_PUSH(t->tmp, t->ntmp, t->cap_tmp);
  if (fr)
    memset(fr, 0, sizeof *fr);
  return fr;
}

/* The ELF address of address a of mapping m: its file offset (a - start +
 * offset) through the PT_LOAD segment holding it (- p_offset + p_vaddr; else
 * the last segment starting before it). In a debug file, from the start of
 * the executable segment's first page, which is where the mapping starts.
 * @return 0, or -1 when there is none. */
static int file_vaddr(const sym_file *f, const sym_mapping *m, uint64_t a, uint64_t *vaddr) {
  if (f->debug_text) {
    static uint64_t page;
    if (!page) {
      long ps = sysconf(_SC_PAGESIZE);
      page = ps > 0 ? (uint64_t)ps : 4096;
    }
    const seg *s = f->debug_text;
    uint64_t v = a - m->start + (s->vaddr & ~(page - 1));
    if (v < s->vaddr || v - s->vaddr >= s->memsz)
      return -1;
    *vaddr = v;
    return 0;
  }
  uint64_t off = a - m->start + m->offset;
  const seg *best = NULL;
  for (size_t i = 0; i < f->nsegs; i++) {
    const seg *s = &f->segs[i];
    if (off >= s->offset && off - s->offset < s->filesz) {
      best = s;
      break;
    }
    if (off >= s->offset && (!best || s->offset > best->offset))
      best = s;
  }
  if (!best)
    return -1;
  *vaddr = off - best->offset + best->vaddr;
  return 0;
}

static const char *die_name(Dwarf_Die *die) {
  Dwarf_Attribute mem;
  const char *s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &mem));
  if (!s)
    s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &mem));
  return s;
}

static int die_int(Dwarf_Die *die, int at) {
  Dwarf_Attribute mem;
  Dwarf_Word w;
  if (dwarf_formudata(dwarf_attr(die, at, &mem), &w) != 0 || w > INT_MAX)
    return 0;
  return (int)w;
}

/* By start, then the larger first (cu_find() looks backwards: at the
 * innermost), then the later DIE first (of aliases, the first DIE wins). */
static int fn_range_cmp(const void *a, const void *b) {
  const fn_range *x = a, *y = b;
  if (x->lo != y->lo)
    return x->lo < y->lo ? -1 : 1;
  if (x->hi != y->hi)
    return x->hi > y->hi ? -1 : 1;
  Dwarf_Off ox = dwarf_dieoffset((Dwarf_Die *)&x->die), oy = dwarf_dieoffset((Dwarf_Die *)&y->die);
  return ox > oy ? -1 : ox < oy;
}

/* Adds the ranges of the functions among die's siblings (die included) to
 * c, looking into namespaces (C++). @return 0, or -1 when out of memory. */
static int cu_funcs_walk(cu_funcs *c, Dwarf_Die *die, int depth) {
  Dwarf_Die cur = *die, child;
  do {
    int tag = dwarf_tag(&cur);
    if (tag == DW_TAG_subprogram) {
      Dwarf_Addr base, lo, hi;
      for (ptrdiff_t off = 0; (off = dwarf_ranges(&cur, off, &base, &lo, &hi)) > 0;) {
        if (lo >= hi)
          continue;
        fn_range *r = VH_PUSH(c->r, c->n, c->cap);
        if (!r)
          return -1;
        *r = (fn_range){lo, hi, cur};
      }
    } else if ((tag == DW_TAG_namespace || tag == DW_TAG_module) && depth < 32 &&
               dwarf_child(&cur, &child) == 0 && cu_funcs_walk(c, &child, depth + 1) < 0) {
      return -1;
    }
  } while (dwarf_siblingof(&cur, &cur) == 0);
  return 0;
}

/* The out-of-line function of cu holding DWARF address pc, or NULL. */
static const fn_range *cu_find(sym_file *f, Dwarf_Die *cu, Dwarf_Addr pc) {
  uint64_t key = dwarf_dieoffset(cu);
  uint32_t *ix = vh_get(&f->cu_index, key);
  cu_funcs *c;
  if (ix) {
    c = &f->cus[*ix];
  } else {
    c = VH_PUSH(f->cus, f->ncus, f->cap_cus);
    if (!c)
      return NULL;
    memset(c, 0, sizeof *c);
    Dwarf_Die child;
    if ((dwarf_child(cu, &child) == 0 && cu_funcs_walk(c, &child, 0) < 0) ||
        vh_put(&f->cu_index, key, (uint32_t)(f->ncus - 1)) < 0) {
      free(c->r);
      f->ncus--;
      return NULL; /* (out of memory: described without DWARF's functions) */
    }
    qsort(c->r, c->n, sizeof *c->r, fn_range_cmp);
  }
  size_t lo = 0, hi = c->n;
  while (lo < hi) { /* the first range starting after pc */
    size_t mid = (lo + hi) / 2;
    if (c->r[mid].lo <= pc)
      lo = mid + 1;
    else
      hi = mid;
  }
  /* The last starting at or before pc that holds it (a few back: ranges
   * may nest, a nested function in its parent's). */
  for (size_t i = lo; i-- > 0 && i + 8 >= lo;)
    if (pc < c->r[i].hi)
      return &c->r[i];
  return NULL;
}

/* Whether die carries addresses (low_pc or ranges). */
static int has_range(Dwarf_Die *die) {
  return dwarf_hasattr(die, DW_AT_low_pc) || dwarf_hasattr(die, DW_AT_ranges);
}

/* Appends to t->chain the inlined subroutines holding pc below die,
 * outermost first, through lexical blocks (and blocks without addresses).
 * @return 1 when pc was found below die, 0 not, -1 out of memory. */
static int inline_walk(sym_table *t, Dwarf_Die *die, Dwarf_Addr pc, int depth) {
  Dwarf_Die child;
  if (depth > 64 || dwarf_child(die, &child) != 0)
    return 0;
  do {
    int tag = dwarf_tag(&child);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_lexical_block &&
        tag != DW_TAG_try_block && tag != DW_TAG_catch_block)
      continue;
    int ranged = has_range(&child);
    if (ranged && dwarf_haspc(&child, pc) <= 0)
      continue;
    if (!ranged && tag == DW_TAG_inlined_subroutine)
      continue;
    if (tag == DW_TAG_inlined_subroutine) {
      Dwarf_Die *d = VH_PUSH(t->chain, t->nchain, t->cap_chain);
      if (!d)
        return -1;
      *d = child;
    }
    size_t mark = t->nchain;
    int r = inline_walk(t, &child, pc, depth + 1);
    if (r < 0)
      return -1;
    if (r > 0 || ranged)
      return 1;
    t->nchain = mark; /* (a block without addresses, and pc not inside) */
  } while (dwarf_siblingof(&child, &child) == 0);
  return 0;
}

/* The compile unit holding module address a, and its bias. libdw 0.188
 * finds it through .debug_aranges, which clang does not emit: then the
 * units' own ranges are looked through (once per address: results are
 * cached). */
static Dwarf_Die *cu_of(sym_file *f, Dwarf_Addr a, Dwarf_Addr *dbias) {
  Dwarf_Die *cu = dwfl_module_addrdie(f->mod, a, dbias);
  if (cu)
    return cu;
  Dwarf_Addr b = 0;
  for (cu = dwfl_module_nextcu(f->mod, NULL, &b); cu; cu = dwfl_module_nextcu(f->mod, cu, &b))
    if (dwarf_haspc(cu, a - b) > 0) {
      *dbias = b;
      return cu;
    }
  return NULL;
}

/* The function holding pc, and the subroutines inlined into it that hold
 * pc, innermost first, into t->chain (*scopes, *n; none when the CU's
 * functions do not cover pc). (dwarf_getscopes() would walk the CU from its
 * start at each address, and leaves out the function an inlined subroutine
 * was inlined into.) @return 0, or -1 out of memory. */
static int chain_at(sym_table *t, sym_file *f, Dwarf_Die *cu, Dwarf_Addr pc, Dwarf_Die **scopes,
                    int *n) {
  const fn_range *fn = cu_find(f, cu, pc);
  if (!fn)
    return 0;
  t->nchain = 0;
  Dwarf_Die *d = VH_PUSH(t->chain, t->nchain, t->cap_chain);
  if (!d)
    return -1;
  *d = fn->die;
  if (inline_walk(t, d, pc, 0) < 0)
    return -1;
  for (size_t i = 0; i < t->nchain / 2; i++) {
    Dwarf_Die x = t->chain[i];
    t->chain[i] = t->chain[t->nchain - 1 - i];
    t->chain[t->nchain - 1 - i] = x;
  }
  *scopes = t->chain;
  *n = (int)t->nchain;
  return 0;
}

/* The frames of ELF address vaddr of f into t->tmp (which holds none yet),
 * each a copy of *base with its own names and lines. @return 0, or -1 when
 * out of memory. */
static int describe(sym_table *t, sym_file *f, uint64_t vaddr, const sym_frame *base) {
  Dwarf_Addr a = vaddr + f->bias;
  const fsym *fs = fsym_find(f, a);
  const char *symname = fs ? fs->name : NULL;
  sym_frame proto = *base;
  if (fs) {
    proto.func_start = fs->addr - f->bias;
    proto.func_size = fs->size;
  }
  Dwarf_Addr dbias = 0;
  Dwarf_Die *cu = f->has_dwarf ? cu_of(f, a, &dbias) : NULL;
  const char *file = NULL;
  int line = 0, col = 0;
  Dwarf_Die *scopes = NULL; /* (t->chain) */
  int nscopes = 0;
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  if (cu) {
    Dwarf_Addr pc = a - dbias;
    Dwarf_Line *row = dwarf_getsrc_die(cu, pc);
    if (row) {
      file = dwarf_linesrc(row, NULL, NULL);
      dwarf_lineno(row, &line);
      dwarf_linecol(row, &col);
    }
    if (chain_at(t, f, cu, pc, &scopes, &nscopes) < 0)
      return -1;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
      files = NULL;
  }
  int done = 0, rc = 0;
  for (int i = 0; i < nscopes && !done; i++) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
      continue;
    sym_frame *fr = tmp_push(t);
    if (!fr) {
      rc = -1;
      break;
    }
    *fr = proto;
    const char *name = die_name(&scopes[i]);
    if (!name && tag == DW_TAG_subprogram)
      name = symname;
    fr->function = str_intern(&t->strs, name);
    fr->file = str_intern(&t->strs, file);
    fr->line = line > 0 ? line : 0;
    fr->column = col > 0 ? col : 0;
    int decl = 0;
    if (dwarf_decl_line(&scopes[i], &decl) == 0 && decl > 0)
      fr->func_line = decl;
    if ((name && !fr->function) || (file && !fr->file)) {
      rc = -1;
      break;
    }
    if (tag == DW_TAG_subprogram) {
      done = 1;
      break;
    }
    /* Inlined: the caller's position is where the call was. */
    fr->inlined = 1;
    int cf = die_int(&scopes[i], DW_AT_call_file);
    file = files && (size_t)cf < nfiles ? dwarf_filesrc(files, (size_t)cf, NULL, NULL) : NULL;
    line = die_int(&scopes[i], DW_AT_call_line);
    col = die_int(&scopes[i], DW_AT_call_column);
  }
  if (rc == 0 && !done) {
    /* No out-of-line function around the address in the DWARF (or no
     * DWARF): the symbol's name, at the last position known. */
    sym_frame *fr = tmp_push(t);
    if (!fr)
      return -1;
    *fr = proto;
    fr->function = str_intern(&t->strs, symname);
    fr->file = str_intern(&t->strs, file);
    fr->line = line > 0 ? line : 0;
    fr->column = col > 0 ? col : 0;
    if ((symname && !fr->function) || (file && !fr->file))
      return -1;
  }
  return rc;
}

static int span_find(const sym_pid *p, uint64_t a) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) { /* the first span that ends after a */
    size_t mid = (lo + hi) / 2;
    if (p->spans[mid].end <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < p->n && p->spans[lo].start <= a ? (int)p->spans[lo].mapping : 0;
}

static uint64_t cache_hash(uint64_t addr, uint32_t owner, uint32_t kind) {
  return ctrace__mix64(addr, ((uint64_t)owner << 3) | kind);
}

static cache_ent *cache_slot(sym_table *t, uint64_t addr, uint32_t owner, uint32_t kind) {
  size_t mask = t->cache_cap - 1;
  for (size_t j = cache_hash(addr, owner, kind) & mask;; j = (j + 1) & mask) {
    cache_ent *e = &t->cache[j];
    if (!e->kind || (e->addr == addr && e->owner == owner && e->kind == kind))
      return e;
  }
}

static int cache_grow(sym_table *t) {
  size_t cap = t->cache_cap ? t->cache_cap * 2 : 1024;
  cache_ent *old = t->cache, *c = calloc(cap, sizeof *c);
  if (!c)
    return -1;
  size_t oldcap = t->cache_cap;
  t->cache = c;
  t->cache_cap = cap;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].kind)
      *cache_slot(t, old[i].addr, old[i].owner, old[i].kind) = old[i];
  free(old);
  return 0;
}

/* t->tmp's frames, copied where they stay until sym_free. */
static const sym_frame *frames_store(sym_table *t) {
  frame_chunk *c = t->frames;
  if (!c || c->cap - c->used < t->ntmp) {
    size_t cap = t->ntmp > FRAME_CHUNK ? t->ntmp : FRAME_CHUNK;
    frame_chunk *nc = malloc(sizeof *nc + cap * sizeof(sym_frame));
    if (!nc)
      return NULL;
    nc->used = 0;
    nc->cap = cap;
    nc->next = c;
    t->frames = c = nc;
  }
  sym_frame *out = c->frames + c->used;
  memcpy(out, t->tmp, t->ntmp * sizeof *out);
  c->used += t->ntmp;
  return out;
}

/* ---- Kernel addresses ------------------------------------------------------------------ */

/* The cache without the kernel's lookups (a kernel function came after
 * them: they may be named now). @return 0, or -1 out of memory. */
static int cache_forget_kernel(sym_table *t) {
  cache_ent *old = t->cache, *c = calloc(t->cache_cap, sizeof *c);
  if (!c)
    return -1;
  t->cache = c;
  t->cache_n = 0;
  for (size_t i = 0; i < t->cache_cap; i++)
    if (old[i].kind && !(old[i].owner == (uint32_t)t->kernel_map && !(old[i].kind & 2u))) {
      *cache_slot(t, old[i].addr, old[i].owner, old[i].kind) = old[i];
      t->cache_n++;
    }
  free(old);
  t->kernel_cached = 0;
  return 0;
}

int sym_add_kernel_symbol(sym_table *t, uint64_t start, uint64_t size, const char *name,
                          const char *module) {
  if (!t || !name || !name[0] || size == 0 || start < CTRACE_FMT_KERNEL_ADDR_MIN ||
      start + size < start)
    return CTRACE_EINVAL;
  size_t n = strlen(name) + (module ? strlen(module) : 0) + 16;
  char *label = malloc(n);
  if (!label)
    return CTRACE_ENOMEM;
  snprintf(label, n, module && module[0] ? "[kernel] %s [%s]" : "[kernel] %s", name, module);
  ksym *k = VH_PUSH(t->ksyms, t->nksyms, t->cap_ksyms);
  const char *in = k ? str_intern(&t->strs, label) : NULL;
  free(label);
  if (!in) {
    if (k)
      t->nksyms--;
    return CTRACE_ENOMEM;
  }
  *k = (ksym){start, size, in};
  t->ksorted = 0;
  if (t->kernel_cached && cache_forget_kernel(t) < 0)
    return CTRACE_ENOMEM;
  return 0;
}

static int ksym_cmp(const void *a, const void *b) {
  const ksym *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* The function holding kernel address a, or NULL. */
static const ksym *ksym_find(sym_table *t, uint64_t a) {
  if (!t->nksyms) /* (none recorded yet: t->ksyms is NULL, which qsort may not take) */
    return NULL;
  if (!t->ksorted) {
    qsort(t->ksyms, t->nksyms, sizeof *t->ksyms, ksym_cmp);
    t->ksorted = 1;
  }
  size_t lo = 0, hi = t->nksyms;
  while (lo < hi) { /* the first function starting above a */
    size_t mid = lo + (hi - lo) / 2;
    if (t->ksyms[mid].start <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  const ksym *k = lo ? &t->ksyms[lo - 1] : NULL;
  return k && a - k->start < k->size ? k : NULL;
}

/* The kernel's pseudo-mapping (made at its first use). @return its id, or
 * 0 out of memory. */
static int kernel_mapping(sym_table *t) {
  if (t->kernel_map)
    return t->kernel_map;
  const char *path = str_intern(&t->strs, SYM_KERNEL_PATH), *bid = str_intern(&t->strs, "");
  map_rec *m = path && bid ? VH_PUSH(t->maps, t->nmaps, t->cap_maps) : NULL;
  if (!m)
    return 0;
  m->file = -1;
  m->info = (sym_mapping){.pid = 0,
                          .start = CTRACE_FMT_KERNEL_ADDR_MIN,
                          .end = UINT64_MAX,
                          .path = path,
                          .build_id = bid,
                          .usable = 1};
  return t->kernel_map = (int)t->nmaps;
}

/* sym_lookup of a kernel address (a: the one looked up, addr - 1 for a
 * return address): one frame, its function the recorded one holding a. */
static size_t kernel_lookup(sym_table *t, uint64_t addr, uint64_t a, int is_return,
                            const sym_frame **frames) {
  int id = kernel_mapping(t);
  if (!id || ((t->cache_n + 1) * 4 > t->cache_cap * 3 && cache_grow(t) < 0))
    return 0;
  uint32_t kind = KIND_USED | (is_return ? 1u : 0u);
  cache_ent *e = cache_slot(t, addr, (uint32_t)id, kind);
  if (e->kind) {
    *frames = e->frames;
    return e->n;
  }
  const ksym *k = ksym_find(t, a);
  t->ntmp = 0;
  sym_frame *fr = tmp_push(t);
  if (!fr)
    return 0;
  *fr = (sym_frame){.function = k ? k->label : NULL,
                    .mapping = id,
                    .func_start = k ? k->start : 0,
                    .func_size = k ? k->size : 0,
                    .file_addr = a,
                    .module_offset = addr};
  const sym_frame *stored = frames_store(t);
  if (!stored)
    return 0;
  *e = (cache_ent){addr, (uint32_t)id, kind, stored, 1};
  t->cache_n++;
  t->kernel_cached = 1;
  *frames = stored;
  return 1;
}

/* ---- Lookups --------------------------------------------------------------------------- */

size_t sym_lookup(sym_table *t, int pid, uint64_t addr, int is_return, const sym_frame **frames) {
  uint64_t a = is_return && addr > 0 ? addr - 1 : addr;
  if (addr >= CTRACE_FMT_KERNEL_ADDR_MIN)
    return kernel_lookup(t, addr, a, is_return, frames);
  const sym_pid *p = pid_get(t, pid, 0);
  int id = p ? span_find(p, a) : 0;
  uint32_t owner = id ? (uint32_t)id : (uint32_t)pid;
  uint32_t kind = KIND_USED | (is_return ? 1u : 0u) | (id ? 0u : 2u);
  if ((t->cache_n + 1) * 4 > t->cache_cap * 3 && cache_grow(t) < 0)
    return 0;
  cache_ent *e = cache_slot(t, addr, owner, kind);
  if (e->kind) {
    *frames = e->frames;
    return e->n;
  }
  t->ntmp = 0;
  sym_frame base = {.mapping = id, .module_offset = addr};
  int rc = 0;
  if (id) {
    map_rec *m = &t->maps[id - 1];
    sym_file *f = &t->files[m->file];
    base.module_offset = addr - m->info.start + m->info.offset;
    file_open(t, f);
    uint64_t vaddr;
    if (f->state == FS_OK && file_vaddr(f, &m->info, a, &vaddr) == 0) {
      base.file_addr = vaddr;
      rc = describe(t, f, vaddr, &base);
    }
  }
  if (rc < 0)
    return 0;
  if (t->ntmp == 0) {
    sym_frame *fr = tmp_push(t);
    if (!fr)
      return 0;
    *fr = base;
  }
  const sym_frame *stored = frames_store(t);
  if (!stored)
    return 0;
  *e = (cache_ent){addr, owner, kind, stored, t->ntmp};
  t->cache_n++;
  *frames = stored;
  return t->ntmp;
}

const sym_mapping *sym_mapping_info(sym_table *t, int id) {
  if (!t || id < 1 || (size_t)id > t->nmaps)
    return NULL;
  map_rec *m = &t->maps[id - 1];
  if (m->file < 0) { /* the kernel's: named by what the trace recorded */
    m->info.has_functions = t->nksyms > 0;
    return &m->info;
  }
  sym_file *f = &t->files[m->file];
  file_open(t, f);
  m->info.usable = f->state == FS_OK && (f->has_symtab || f->has_dwarf);
  m->info.has_functions = f->state == FS_OK && (f->has_symtab || f->has_dwarf);
  m->info.has_lines = f->state == FS_OK && f->has_dwarf;
  return &m->info;
}
