/* The code mapped into this process, for the DEF_MAPPING records that let
 * the tools name the heap samples' addresses: every loaded object's
 * executable PT_LOAD segments, as the dynamic loader lists them
 * (dl_iterate_phdr: the executable, ld.so, each library and later
 * dlopens), with the build id from the object's own GNU note, read in
 * memory. The loader's counters of objects added and removed tell when
 * the list changed. Called by the writer thread only. */
#define _GNU_SOURCE
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

typedef struct scan_ctx {
  ctrace__mapping_fn fn;
  void *ctx;
  char exe[PATH_MAX];
  unsigned long long gen;
} scan_ctx;

/* The build id from a PT_NOTE segment, as hex in out ("" if none). */
static void note_build_id(const struct dl_phdr_info *info, const ElfW(Phdr) * ph, char *out,
                          size_t cap) {
  const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
  const unsigned char *end = p + ph->p_memsz;
  while (p + sizeof(ElfW(Nhdr)) <= end) {
    const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
    size_t name = (nh->n_namesz + 3) & ~(size_t)3, desc = (nh->n_descsz + 3) & ~(size_t)3;
    const unsigned char *d = p + sizeof *nh + name;
    if (d + nh->n_descsz > end)
      return;
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(p + sizeof *nh, "GNU", 4)) {
      size_t k = 0;
      for (size_t i = 0; i < nh->n_descsz && k + 3 <= cap; i++, k += 2)
        snprintf(out + k, 3, "%02x", d[i]);
      return;
    }
    p = d + desc;
  }
}

static int each_object(struct dl_phdr_info *info, size_t size, void *arg) {
  scan_ctx *c = arg;
  (void)size;
  c->gen = info->dlpi_adds + info->dlpi_subs;
  if (!c->fn)
    return 1; /* only the counters were asked */
  const char *path = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : c->exe;
  if (path[0] != '/')
    return 0; /* the vdso: no file to read symbols from */
  char build_id[2 * 64 + 1] = "";
  for (int i = 0; i < info->dlpi_phnum && !build_id[0]; i++)
    if (info->dlpi_phdr[i].p_type == PT_NOTE)
      note_build_id(info, &info->dlpi_phdr[i], build_id, sizeof build_id);
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uint64_t start = info->dlpi_addr + ph->p_vaddr, off = ph->p_offset;
    uint64_t skew = start & (page - 1); /* mapped from the page that holds it */
    c->fn(c->ctx, start - skew, start + ph->p_memsz, off - skew, path, build_id);
  }
  return 0;
}

unsigned long long ctrace__mappings_each(ctrace__mapping_fn fn, void *ctx) {
  scan_ctx c = {fn, ctx, "", 0};
  if (fn) {
    ssize_t n = readlink("/proc/self/exe", c.exe, sizeof c.exe - 1);
    c.exe[n > 0 ? n : 0] = '\0';
  }
  dl_iterate_phdr(each_object, &c);
  return c.gen;
}
