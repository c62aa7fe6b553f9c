/* Names of sampled addresses one at a time (analysis.h: cp_namer_*), for
 * what streams a trace's samples instead of indexing them (`ctrace export`):
 * the mappings of a set's ctrace traces in a symbol table (symbols.c), and
 * how an address that no function names is shown, the same everywhere
 * (cp_address_name: `ctrace top`, pprof, the viewer, the export). Kernel
 * frames are named by the functions the trace recorded ("[kernel]
 * do_sys_openat2", symbols.c), or "[kernel]+0xADDR" when none holds them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "symbols.h"

void cp_address_name(const char *path, uint64_t module_offset, uint64_t addr, char *buf,
                     size_t len) {
  if (!path) {
    snprintf(buf, len, addr ? "[unknown 0x%llx]" : "[stack not unwound]", (unsigned long long)addr);
    return;
  }
  if (!strcmp(path, SYM_KERNEL_PATH)) { /* (its module offset is the address) */
    snprintf(buf, len, "[kernel]+0x%llx", (unsigned long long)module_offset);
    return;
  }
  const char *base = strrchr(path, '/');
  snprintf(buf, len, "%s+0x%llx", base ? base + 1 : path, (unsigned long long)module_offset);
}

struct cp_namer {
  sym_table *sym;
  char addr_name[600]; /* the last address named by cp_address_name */
};

cp_namer *cp_namer_new(te_set *set, const char *const *debug_dirs, size_t ndirs) {
  cp_namer *n = calloc(1, sizeof *n);
  if (!n || !(n->sym = sym_new(debug_dirs, ndirs))) {
    free(n);
    return NULL;
  }
  /* every recorded mapping, in the traces' order (as cp_compute adds them) */
  for (size_t i = 0; i < te_set_count(set); i++) {
    const te_source *src = te_set_source(set, i);
    const rd_mapping *m;
    size_t nm = src->native ? rd_mappings(src->native, &m) : 0;
    for (size_t k = 0; k < nm; k++)
      if (sym_add_mapping(n->sym, m[k].pid, m[k].start, m[k].end, m[k].offset, m[k].path,
                          m[k].build_id) == CTRACE_ENOMEM) {
        cp_namer_free(n);
        return NULL;
      }
    const rd_ksym *ks;
    size_t nk = src->native ? rd_kernel_symbols(src->native, &ks) : 0;
    for (size_t k = 0; k < nk; k++)
      if (sym_add_kernel_symbol(n->sym, ks[k].start, ks[k].size, ks[k].name, ks[k].module) ==
          CTRACE_ENOMEM) {
        cp_namer_free(n);
        return NULL;
      }
  }
  return n;
}

void cp_namer_free(cp_namer *n) {
  if (!n)
    return;
  sym_free(n->sym);
  free(n);
}

size_t cp_namer_frames(cp_namer *n, int pid, uint64_t pc, int is_return, cp_frame_name *out,
                       size_t max) {
  const sym_frame *f;
  size_t nf = pc ? sym_lookup(n->sym, pid, pc, is_return, &f) : 0;
  if (pc && !nf)
    return 0; /* out of memory */
  if (!max)
    return 0;
  if (!nf) { /* a sample whose stack could not be read at all */
    cp_address_name(NULL, 0, 0, n->addr_name, sizeof n->addr_name);
    out[0] = (cp_frame_name){n->addr_name, ""};
    return 1;
  }
  const sym_mapping *m = f[0].mapping ? sym_mapping_info(n->sym, f[0].mapping) : NULL;
  const char *module = "";
  if (m) {
    const char *base = strrchr(m->path, '/');
    module = base ? base + 1 : m->path;
  }
  int named_addr = 0;
  size_t k = 0;
  for (size_t i = 0; i < nf && k < max; i++) {
    const char *name = f[i].function;
    if (!name) { /* (every frame of one address shows the same address) */
      if (!named_addr++)
        cp_address_name(m ? m->path : NULL, f[i].module_offset, pc, n->addr_name,
                        sizeof n->addr_name);
      name = n->addr_name;
    }
    out[k++] = (cp_frame_name){name, module};
  }
  return k;
}

const char *cp_namer_problems(const cp_namer *n) { return sym_problems(n->sym); }
