/* `ctrace list --asm` (analysis.h: cp_disasm): a sampled function's
 * machine code, read from the binary the trace names (its PT_LOAD segment
 * that holds the function, through libelf) and disassembled with capstone,
 * each instruction with the samples whose address fell in it (flat: the
 * leaf; cum: anywhere on the stack, once per sample) and the source frame
 * the debug information gives it (symbols.c), so that one line become many
 * instructions and code inlined from other files both show. */
#include <capstone/capstone.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "symbols.h"

#define ASM_MAX_BYTES (1u << 20) /* a function larger than this is not shown */

/* A location of the function sampled out of line (its outermost frame is
 * the function itself); else one where it was inlined (into the outermost
 * frame's function). NULL when none. */
static const cp_location *function_location(const cp_profile *p, const char *name) {
  const cp_location *inlined = NULL;
  for (size_t i = 0; i < p->nlocs; i++) {
    const cp_location *l = &p->locs[i];
    const char *outer = p->lines[l->first + l->n - 1].function;
    if (!outer || !l->mapping || !l->func_size || !l->func_start)
      continue;
    if (!strcmp(outer, name))
      return l;
    for (size_t k = 0; k + 1 < l->n && !inlined; k++) {
      const char *f = p->lines[l->first + k].function;
      if (f && !strcmp(f, name))
        inlined = l;
    }
  }
  return inlined;
}

/* The bytes at file address [addr, addr + size) of ELF file path, from the
 * PT_LOAD segment holding them. @return them (free), or NULL with err. */
static uint8_t *read_code(const char *path, uint64_t addr, uint64_t size, char *err,
                          size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    vx_errf(err, errlen, "%s: cannot open: the binary is not here", path);
    return NULL;
  }
  elf_version(EV_CURRENT);
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  size_t n = 0;
  uint8_t *code = NULL;
  if (e && elf_getphdrnum(e, &n) == 0) {
    for (size_t i = 0; i < n && !code; i++) {
      GElf_Phdr ph;
      if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD || addr < ph.p_vaddr ||
          addr + size > ph.p_vaddr + ph.p_filesz)
        continue;
      code = malloc(size);
      if (code &&
          pread(fd, code, size, (off_t)(ph.p_offset + addr - ph.p_vaddr)) != (ssize_t)size) {
        free(code);
        code = NULL;
        vx_errf(err, errlen, "%s: cannot read the function's %llu bytes", path,
                (unsigned long long)size);
      }
    }
  }
  if (!code && !err[0])
    vx_errf(err, errlen, "%s: no loaded segment holds 0x%llx (not the binary that ran?)", path,
            (unsigned long long)addr);
  if (e)
    elf_end(e);
  close(fd);
  return code;
}

/* Each sample's addresses in the function into the instructions' counts. */
static void count_samples(const cp_profile *p, const cp_location *fn, cp_insn *ins, size_t n) {
  size_t *seen = calloc(n ? n : 1, sizeof *seen);
  if (!seen)
    return;
  for (size_t s = 0; s < p->nstacks; s++) {
    const cp_stack *st = &p->stacks[s];
    for (size_t k = 0; k < st->n; k++) {
      const cp_location *l = &p->locs[p->stack_locs[st->first + k]];
      if (l->mapping != fn->mapping || l->func_start != fn->func_start)
        continue;
      size_t lo = 0, hi = n; /* the instruction holding l->file_addr */
      while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ins[mid].addr <= l->file_addr)
          lo = mid + 1;
        else
          hi = mid;
      }
      if (lo == 0)
        continue;
      size_t i = lo - 1;
      if (k == 0)
        ins[i].flat += st->count;
      if (seen[i] != s + 1) {
        seen[i] = s + 1;
        ins[i].cum += st->count;
      }
    }
  }
  free(seen);
}

size_t cp_disasm(cp_profile *p, const char *name, const char **container, cp_insn **out, char *err,
                 size_t errlen) {
  err[0] = '\0';
  const cp_location *fn = function_location(p, name);
  if (!fn) {
    vx_errf(err, errlen, "%s: not sampled in a binary with symbols", name);
    return (size_t)-1;
  }
  *container = p->lines[fn->first + fn->n - 1].function;
  if (fn->func_size > ASM_MAX_BYTES) {
    vx_errf(err, errlen, "%s: %llu bytes of code: too large to show", name,
            (unsigned long long)fn->func_size);
    return (size_t)-1;
  }
  const char *path = p->maps[fn->mapping - 1].path;
  uint8_t *code = read_code(path, fn->func_start, fn->func_size, err, errlen);
  if (!code)
    return (size_t)-1;
  csh cs;
  cs_insn *ci = NULL;
  size_t n = 0;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
    free(code);
    vx_errf(err, errlen, "capstone cannot disassemble x86-64 here");
    return (size_t)-1;
  }
  n = cs_disasm(cs, code, fn->func_size, fn->func_start, 0, &ci);
  free(code);
  cp_insn *ins = calloc(n ? n : 1, sizeof *ins);
  /* runtime = file address + bias, as the location was looked up */
  uint64_t bias = fn->addr - (uint64_t)fn->ret - fn->file_addr;
  if (p->shared) /* (a table other profiles name with: they take turns) */
    cp__symbols_lock(p->shared);
  for (size_t i = 0; ins && i < n; i++) {
    ins[i].addr = ci[i].address;
    snprintf(ins[i].text, sizeof ins[i].text, "%.31s %.80s", ci[i].mnemonic, ci[i].op_str);
    const sym_frame *f;
    if (sym_lookup(p->sym, fn->pid, ci[i].address + bias, 0, &f)) {
      ins[i].function = f[0].function;
      ins[i].file = f[0].file;
      ins[i].line = f[0].line;
    }
  }
  if (p->shared)
    cp__symbols_unlock(p->shared);
  cs_free(ci, n);
  cs_close(&cs);
  if (!ins) {
    vx_errf(err, errlen, "out of memory");
    return (size_t)-1;
  }
  count_samples(p, fn, ins, n);
  *out = ins;
  return n;
}
