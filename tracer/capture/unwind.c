/* DWARF unwinding of CPU samples with elfutils' libdwfl (see unwind.h).
 *
 * Files: every path mapped is opened once, mapped privately (MAP_PRIVATE,
 * never written back), and its fd closed at once: a process tree of
 * hundreds of processes and libraries holds no descriptors. The vDSO is
 * the launcher's own (the same kernel made both). A file is keyed by its
 * path and by the build id the kernel reported for the mapping, so a
 * library rebuilt on disk while an old process still runs the old one is
 * not used for it (its frames end the walk instead of being wrong).
 *
 * Processes: the mappings each was told about, the modules made of them
 * (one per file and load bias, the range of all its PT_LOAD segments), and
 * one Dwfl, made at the first sample and brought up to date before each:
 * modules are added with dwfl_report_begin_add, or, when one was dropped
 * (a mapping overlapped it), all reported again with dwfl_report_begin so
 * that libdwfl removes the stale one and keeps the others (their CFI
 * caches with them). libdwfl asks for each module's ELF through find_elf,
 * which hands it an Elf over the shared image (elf_memory).
 *
 * Unwinding: dwfl_attach_state with our own thread callbacks:
 * set_initial_registers gives the sample's registers, memory_read reads the
 * stack copy and fails anywhere else (a CFI rule reading memory that the
 * kernel did not copy cannot be followed), and dwfl_getthread_frames walks
 * from .eh_frame (then .debug_frame of the file itself: separate debug
 * files are never searched, nor debuginfod asked: no disk or network in the
 * drain). A walk that ends with the return address undefined (_start,
 * clone3's child: their CFI says so) is complete; one that needed memory
 * outside the copy (libdwfl ends those as if complete too), or met a pc
 * it could not unwind, is partial. */
#define _GNU_SOURCE
#include "unwind.h"

#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"

#define UW_PAGE 4096u

typedef struct uw_file {
  struct uw_file *next;
  char *path;
  char key[CTRACE__UW_BUILD_ID_HEX + 1];      /* the build id asked for ("" none) */
  char build_id[CTRACE__UW_BUILD_ID_HEX + 1]; /* of the image ("" none) */
  unsigned char *image;                       /* NULL: unusable (not tried again) */
  size_t size;
  int mapped;  /* image is an mmap (else malloc'd: the vDSO) */
  int is_exec; /* ET_EXEC: loaded at its addresses */
  GElf_Phdr *loads;
  size_t nloads;
  uint64_t lo, hi; /* first PT_LOAD's p_vaddr aligned down; end of the last */
} uw_file;

typedef struct uw_map {
  uint64_t start, end, offset;
  char *path;
  char build_id[CTRACE__UW_BUILD_ID_HEX + 1];
  int held; /* not shown yet (ctrace__unwinder_release) */
} uw_map;

typedef struct uw_mod {
  uw_file *file;
  uint64_t bias, lo, hi;
} uw_mod;

typedef struct uw_proc {
  int pid;
  uw_map *maps;
  size_t nmaps, capmaps;
  size_t nheld; /* maps[].held set */
  uw_mod *mods;
  size_t nmods, capmods;
  Dwfl *dwfl;                   /* NULL until the first sample (and after an exec) */
  size_t nreported;             /* mods[0, nreported) are dwfl's modules */
  int rebuild;                  /* a module was dropped: report them all again */
  int attached;                 /* dwfl_attach_state done */
  const ctrace__uw_sample *cur; /* the sample being walked */
  int read_failed;              /* the walk wanted memory the copy does not hold */
} uw_proc;

struct ctrace__unwinder {
  uw_proc **procs; /* pointers: Dwfl's callbacks hold them */
  size_t nprocs, cap;
  uw_file *files;
};

/* ---- Files ------------------------------------------------------------------ */

static void hex(char *out, const unsigned char *b, size_t n) {
  static const char digits[] = "0123456789abcdef";
  if (n > CTRACE__UW_BUILD_ID_HEX / 2)
    n = CTRACE__UW_BUILD_ID_HEX / 2;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}

/* The launcher's vDSO, copied (NULL if it has none). */
static unsigned char *vdso_copy(size_t *size) {
  unsigned long base = getauxval(AT_SYSINFO_EHDR);
  if (!base)
    return NULL;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64)
    return NULL;
  /* The image holds its section headers (the kernel builds it whole). */
  size_t n = (size_t)eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
  const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
  for (unsigned i = 0; i < eh->e_phnum; i++)
    if (ph[i].p_type == PT_LOAD && ph[i].p_offset + ph[i].p_filesz > n)
      n = ph[i].p_offset + ph[i].p_filesz;
  if (n == 0 || n > (1u << 20))
    return NULL;
  unsigned char *copy = malloc(n);
  if (copy)
    memcpy(copy, (const void *)base, n);
  *size = n;
  return copy;
}

/* Reads f's ELF header, PT_LOADs and build id from its image. @return 0, or
 * -1 if it is not a loadable ELF file of this machine. */
static int file_parse(uw_file *f) {
  Elf *elf = elf_memory((char *)f->image, f->size);
  if (!elf)
    return -1;
  int ok = -1;
  GElf_Ehdr eh;
  size_t phnum = 0;
  if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
      (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || elf_getphdrnum(elf, &phnum) != 0)
    goto out;
#if defined(__x86_64__)
  if (eh.e_machine != EM_X86_64 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    goto out;
#endif
  f->is_exec = eh.e_type == ET_EXEC;
  f->loads = calloc(phnum ? phnum : 1, sizeof *f->loads);
  if (!f->loads)
    goto out;
  for (size_t i = 0; i < phnum; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
      continue;
    if (f->nloads == 0)
      f->lo = ph.p_align > 1 ? ph.p_vaddr & ~(ph.p_align - 1) : ph.p_vaddr;
    if (ph.p_vaddr + ph.p_memsz > f->hi)
      f->hi = ph.p_vaddr + ph.p_memsz;
    f->loads[f->nloads++] = ph;
  }
  if (f->nloads == 0 || f->hi <= f->lo)
    goto out;
  const void *id = NULL;
  ssize_t idlen = dwelf_elf_gnu_build_id(elf, &id);
  if (idlen > 0 && id)
    hex(f->build_id, id, (size_t)idlen);
  ok = 0;
out:
  elf_end(elf);
  return ok;
}

static void file_drop_image(uw_file *f) {
  if (f->image) {
    if (f->mapped)
      munmap(f->image, f->size);
    else
      free(f->image);
  }
  f->image = NULL;
  free(f->loads);
  f->loads = NULL;
  f->nloads = 0;
}

/* Loads path into f->image (left NULL when it cannot be used). */
static void file_load(uw_file *f) {
  if (!strcmp(f->path, "[vdso]")) {
    f->image = vdso_copy(&f->size);
    f->mapped = 0;
  } else if (f->path[0] == '/') {
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
      /* Private and writable: libelf may touch the image, the file never. */
      void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
      if (m != MAP_FAILED) {
        f->image = m;
        f->size = (size_t)st.st_size;
        f->mapped = 1;
      }
    }
    if (fd >= 0)
      close(fd);
  }
  if (f->image && file_parse(f) != 0)
    file_drop_image(f);
  /* Not the file the process mapped (rebuilt since): unusable. */
  if (f->image && f->key[0] && strcmp(f->key, f->build_id) != 0)
    file_drop_image(f);
}

/* The file of path as mapped with build id `id` ("": any), opened once
 * (a file opened for another id, or for none, serves when its image has
 * that id). NULL only when out of memory. */
static uw_file *file_get(ctrace__unwinder *u, const char *path, const char *id) {
  uw_file *same = NULL; /* opened under another key, and fit for this one */
  for (uw_file *f = u->files; f; f = f->next) {
    if (strcmp(f->path, path) != 0)
      continue;
    if (!strcmp(f->key, id))
      return f;
    if (!same && f->image && (!id[0] || !strcmp(f->build_id, id)))
      same = f;
  }
  if (same)
    return same;
  uw_file *f = calloc(1, sizeof *f);
  if (!f)
    return NULL;
  f->path = strdup(path);
  if (!f->path) {
    free(f);
    return NULL;
  }
  snprintf(f->key, sizeof f->key, "%s", id);
  file_load(f);
  f->next = u->files;
  u->files = f;
  return f;
}

/* The module that mapping m of file f belongs to. @return 0, or -1 when m
 * does not match f's segments. */
static int mod_of(const uw_file *f, const ctrace__uw_mapping *m, uw_mod *md) {
  const GElf_Phdr *seg = NULL;
  for (size_t i = 0; i < f->nloads && !seg; i++) {
    const GElf_Phdr *ph = &f->loads[i];
    uint64_t first = ph->p_offset & ~(uint64_t)(UW_PAGE - 1);
    if ((ph->p_flags & PF_X) && m->offset >= first && m->offset < ph->p_offset + ph->p_filesz)
      seg = ph;
  }
  if (!seg)
    return -1;
  /* The address of file offset x is bias + p_vaddr + (x - p_offset). */
  uint64_t bias = m->start - seg->p_vaddr + seg->p_offset - m->offset;
  if ((bias & (UW_PAGE - 1)) != 0 || (f->is_exec && bias != 0))
    return -1;
  if (!f->mapped && (m->end - m->start) != ((f->size + UW_PAGE - 1) & ~(uint64_t)(UW_PAGE - 1)))
    return -1; /* a vDSO that is not ours (another ABI) */
  md->file = (uw_file *)f;
  md->bias = bias;
  md->lo = bias + f->lo;
  md->hi = bias + f->hi;
  return 0;
}

/* ---- Processes -------------------------------------------------------------- */

static uw_proc *proc_find(const ctrace__unwinder *u, int pid) {
  for (size_t i = 0; i < u->nprocs; i++)
    if (u->procs[i]->pid == pid)
      return u->procs[i];
  return NULL;
}

static uw_proc *proc_get(ctrace__unwinder *u, int pid) {
  uw_proc *pr = proc_find(u, pid);
  if (pr)
    return pr;
  if (u->nprocs == u->cap) {
    size_t cap = u->cap ? 2 * u->cap : 16;
    uw_proc **q = realloc(u->procs, cap * sizeof *q);
    if (!q)
      return NULL;
    u->procs = q;
    u->cap = cap;
  }
  pr = calloc(1, sizeof *pr);
  if (!pr)
    return NULL;
  pr->pid = pid;
  u->procs[u->nprocs++] = pr;
  return pr;
}

/* Forgets pid's mappings, modules and Dwfl (the proc stays known). */
static void proc_clear(uw_proc *pr) {
  for (size_t i = 0; i < pr->nmaps; i++)
    free(pr->maps[i].path);
  pr->nmaps = 0;
  pr->nheld = 0;
  pr->nmods = 0;
  if (pr->dwfl)
    dwfl_end(pr->dwfl);
  pr->dwfl = NULL;
  pr->nreported = 0;
  pr->rebuild = 0;
  pr->attached = 0;
}

static void proc_free(uw_proc *pr) {
  proc_clear(pr);
  free(pr->maps);
  free(pr->mods);
  free(pr);
}

static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
  return a0 < b1 && b0 < a1;
}

static int proc_add_map(uw_proc *pr, const ctrace__uw_mapping *m, const char *id, int held) {
  size_t k = 0;
  for (size_t i = 0; i < pr->nmaps; i++) {
    if (overlaps(pr->maps[i].start, pr->maps[i].end, m->start, m->end)) {
      pr->nheld -= pr->maps[i].held != 0;
      free(pr->maps[i].path);
    } else {
      pr->maps[k++] = pr->maps[i];
    }
  }
  pr->nmaps = k;
  if (pr->nmaps == pr->capmaps) {
    size_t cap = pr->capmaps ? 2 * pr->capmaps : 32;
    uw_map *q = realloc(pr->maps, cap * sizeof *q);
    if (!q)
      return -1;
    pr->maps = q;
    pr->capmaps = cap;
  }
  uw_map *d = &pr->maps[pr->nmaps];
  d->path = strdup(m->path);
  if (!d->path)
    return -1;
  d->start = m->start;
  d->end = m->end;
  d->offset = m->offset;
  snprintf(d->build_id, sizeof d->build_id, "%s", id);
  d->held = held;
  pr->nheld += held != 0;
  pr->nmaps++;
  return 0;
}

static void proc_add_mod(uw_proc *pr, const uw_mod *md) {
  for (size_t i = 0; i < pr->nmods; i++)
    if (pr->mods[i].file == md->file && pr->mods[i].bias == md->bias)
      return; /* another segment of a module we have */
  size_t k = 0;
  for (size_t i = 0; i < pr->nmods; i++) {
    if (overlaps(pr->mods[i].lo, pr->mods[i].hi, md->lo, md->hi))
      pr->rebuild |= i < pr->nreported;
    else
      pr->mods[k++] = pr->mods[i];
  }
  pr->nmods = k;
  if (pr->nmods == pr->capmods) {
    size_t cap = pr->capmods ? 2 * pr->capmods : 32;
    uw_mod *q = realloc(pr->mods, cap * sizeof *q);
    if (!q)
      return;
    pr->mods = q;
    pr->capmods = cap;
  }
  pr->mods[pr->nmods++] = *md;
}

/* ---- libdwfl's callbacks ---------------------------------------------------- */

/* Hands libdwfl an Elf over the shared image (the module's userdata is its
 * uw_file); no fd, no file name: libdwfl opens nothing itself. */
static int uw_find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                       char **file_name, Elf **elfp) {
  (void)mod, (void)name, (void)base, (void)file_name;
  const uw_file *f = *userdata;
  *elfp = f && f->image ? elf_memory((char *)f->image, f->size) : NULL;
  return -1;
}

/* No separate debug files (.eh_frame, or the file's own .debug_frame). */
static int uw_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                             GElf_Word debuglink_crc, char **debuginfo_file_name) {
  (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)debuglink_file;
  (void)debuglink_crc, (void)debuginfo_file_name;
  return -1;
}

static const Dwfl_Callbacks uw_callbacks = {
    .find_elf = uw_find_elf,
    .find_debuginfo = uw_find_debuginfo,
};

static pid_t uw_next_thread(Dwfl *dwfl, void *arg, void **thread_arg) {
  (void)dwfl, (void)arg, (void)thread_arg;
  return 0; /* threads are named by the samples, never listed */
}

static bool uw_get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg) {
  (void)dwfl, (void)tid;
  *thread_arg = arg;
  return true;
}

static bool uw_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg) {
  (void)dwfl;
  uw_proc *pr = arg;
  const ctrace__uw_sample *s = pr->cur;
  uint64_t sp = s ? s->regs[CTRACE__UW_REG_SP] : 0;
  if (!s || s->stack_len < sizeof *result || addr < sp ||
      addr - sp > s->stack_len - sizeof *result) {
    pr->read_failed = 1;
    return false;
  }
  memcpy(result, s->stack + (addr - sp), sizeof *result);
  return true;
}

static bool uw_set_initial_registers(Dwfl_Thread *thread, void *arg) {
  const uw_proc *pr = arg;
  return pr->cur && dwfl_thread_state_registers(thread, 0, CTRACE__UW_NREGS, pr->cur->regs);
}

static const Dwfl_Thread_Callbacks uw_thread_callbacks = {
    .next_thread = uw_next_thread,
    .get_thread = uw_get_thread,
    .memory_read = uw_memory_read,
    .set_initial_registers = uw_set_initial_registers,
};

/* Brings pr's Dwfl up to date with its modules. @return 0 when it can
 * unwind. */
static int proc_sync(uw_proc *pr) {
  if (pr->nmods == 0)
    return -1;
  if (!pr->dwfl) {
    pr->dwfl = dwfl_begin(&uw_callbacks);
    if (!pr->dwfl)
      return -1;
    pr->nreported = 0;
    pr->rebuild = 1;
    pr->attached = 0;
  }
  if (pr->rebuild || pr->nreported < pr->nmods) {
    size_t from = pr->rebuild ? 0 : pr->nreported;
    if (pr->rebuild)
      dwfl_report_begin(pr->dwfl);
    else
      dwfl_report_begin_add(pr->dwfl);
    for (size_t i = from; i < pr->nmods; i++) {
      const uw_mod *md = &pr->mods[i];
      Dwfl_Module *dm = dwfl_report_module(pr->dwfl, md->file->path, md->lo, md->hi);
      void **ud = NULL;
      if (dm && dwfl_module_info(dm, &ud, NULL, NULL, NULL, NULL, NULL, NULL) && ud)
        *ud = md->file;
    }
    dwfl_report_end(pr->dwfl, NULL, NULL);
    pr->nreported = pr->nmods;
    pr->rebuild = 0;
  }
  /* The architecture comes from the first module libdwfl can open. */
  if (!pr->attached)
    pr->attached = dwfl_attach_state(pr->dwfl, NULL, pr->pid, &uw_thread_callbacks, pr);
  return pr->attached ? 0 : -1;
}

/* ---- The interface ---------------------------------------------------------- */

ctrace__unwinder *ctrace__unwinder_new(void) {
  if (elf_version(EV_CURRENT) == EV_NONE)
    return NULL;
  return calloc(1, sizeof(ctrace__unwinder));
}

void ctrace__unwinder_free(ctrace__unwinder *u) {
  if (!u)
    return;
  for (size_t i = 0; i < u->nprocs; i++)
    proc_free(u->procs[i]);
  free(u->procs);
  while (u->files) {
    uw_file *f = u->files;
    u->files = f->next;
    file_drop_image(f);
    free(f->path);
    free(f);
  }
  free(u);
}

void ctrace__unwinder_map(ctrace__unwinder *u, int pid, const ctrace__uw_mapping *m, int held,
                          char *build_id_out) {
  const char *id = m->build_id ? m->build_id : "";
  uw_file *f = m->path && m->path[0] ? file_get(u, m->path, id) : NULL;
  if (!id[0] && f)
    id = f->build_id;
  if (build_id_out)
    snprintf(build_id_out, CTRACE__UW_BUILD_ID_HEX + 1, "%s", id);
  uw_proc *pr = proc_get(u, pid);
  if (!pr || m->end <= m->start || proc_add_map(pr, m, id, held) != 0)
    return;
  uw_mod md;
  if (f && f->image && mod_of(f, m, &md) == 0)
    proc_add_mod(pr, &md);
}

void ctrace__unwinder_exec(ctrace__unwinder *u, int pid) {
  uw_proc *pr = proc_get(u, pid);
  if (pr)
    proc_clear(pr);
}

void ctrace__unwinder_fork(ctrace__unwinder *u, int parent, int child) {
  if (parent == child)
    return;
  uw_proc *pr = proc_get(u, child);
  if (!pr)
    return;
  proc_clear(pr);
  const uw_proc *from = proc_find(u, parent);
  if (!from)
    return;
  for (size_t i = 0; i < from->nmaps; i++) {
    const uw_map *m = &from->maps[i];
    ctrace__uw_mapping cm = {m->start, m->end, m->offset, m->path, m->build_id};
    if (proc_add_map(pr, &cm, m->build_id, 0) != 0)
      return;
  }
  for (size_t i = 0; i < from->nmods; i++)
    proc_add_mod(pr, &from->mods[i]);
}

void ctrace__unwinder_exit(ctrace__unwinder *u, int pid) {
  for (size_t i = 0; i < u->nprocs; i++)
    if (u->procs[i]->pid == pid) {
      proc_free(u->procs[i]);
      u->procs[i] = u->procs[--u->nprocs];
      return;
    }
}

int ctrace__unwinder_known(const ctrace__unwinder *u, int pid) { return proc_find(u, pid) != NULL; }

size_t ctrace__unwinder_mappings(const ctrace__unwinder *u, int pid,
                                 void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg) {
  const uw_proc *pr = proc_find(u, pid);
  if (!pr)
    return 0;
  for (size_t i = 0; i < pr->nmaps; i++) {
    const uw_map *m = &pr->maps[i];
    ctrace__uw_mapping cm = {m->start, m->end, m->offset, m->path, m->build_id};
    fn(arg, &cm);
  }
  return pr->nmaps;
}

size_t ctrace__unwinder_release(ctrace__unwinder *u, int pid,
                                void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg) {
  uw_proc *pr = proc_find(u, pid);
  if (!pr || pr->nheld == 0)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < pr->nmaps; i++) {
    uw_map *m = &pr->maps[i];
    if (!m->held)
      continue;
    m->held = 0;
    ctrace__uw_mapping cm = {m->start, m->end, m->offset, m->path, m->build_id};
    fn(arg, &cm);
    n++;
  }
  pr->nheld = 0;
  return n;
}

typedef struct uw_walk {
  uint64_t *pcs;
  unsigned n, max;
  int stopped; /* the callback ended the walk (no pc, or max frames) */
} uw_walk;

static int uw_frame(Dwfl_Frame *state, void *arg) {
  uw_walk *w = arg;
  Dwarf_Addr pc;
  if (w->n == w->max || !dwfl_frame_pc(state, &pc, NULL)) {
    w->stopped = 1;
    return DWARF_CB_ABORT;
  }
  w->pcs[w->n++] = pc;
  return DWARF_CB_OK;
}

unsigned ctrace__unwinder_unwind(ctrace__unwinder *u, const ctrace__uw_sample *s, uint64_t *pcs,
                                 unsigned max, unsigned *flags) {
  uw_walk w = {pcs, 0, max, 0};
  uw_proc *pr = proc_find(u, s->pid);
  int rc = -1;
  int read_failed = 0;
  if (pr && proc_sync(pr) == 0) {
    pr->cur = s;
    pr->read_failed = 0;
    rc = dwfl_getthread_frames(pr->dwfl, s->tid, uw_frame, &w);
    read_failed = pr->read_failed;
    pr->cur = NULL;
  }
  if (w.n == 0)
    pcs[w.n++] = s->regs[CTRACE__UW_REG_IP];
  /* libdwfl (0.188) ends a walk as complete (returns 0) both when the CFI
   * says the return address is undefined (_start, clone3's child: the
   * outermost frame) and when it could not read the return address: a
   * read outside the stack copy tells the second case. */
  if (rc != 0 || w.stopped || read_failed)
    *flags |= CTRACE__SAMPLE_PARTIAL;
  return w.n;
}
