/* This file is private to viewer/analysis: symbols for sampled call stacks
 * (symbols.c), read when a trace is read, with elfutils' libdwfl.
 *
 * A CPU sample is a stack of absolute addresses of one process; the trace
 * also holds the process's code mappings (pid, [start, end), the file offset
 * of start, the file's path and build id). A sym_table takes the mappings and
 * turns an address into frames: the function, source file, line and column,
 * and the functions inlined at that address (DWARF's inlined subroutines),
 * innermost first, as pprof's Location.line[] lists them.
 *
 * The file of a mapping is opened at the first lookup in it (a trace names
 * many libraries that no sample hits). A file whose build id differs from
 * the recorded one, or that is missing, is then looked for by the recorded
 * build id in the debug directories and /usr/lib/debug (DIR/.build-id/xx/yyyy,
 * then yyyy.debug); when that fails too, its frames are addresses
 * (module+0xOFFSET), never a wrong name, and sym_problems() says so once.
 *
 * Debug information is found in the file itself, else by libdwfl's standard
 * search (dwfl_standard_find_debuginfo) with the given debug directories
 * before its own path (the file's directory, its .debug/, /usr/lib/debug):
 * DIR/.build-id/xx/yyyy.debug by the file's build id, else the name in its
 * .gnu_debuglink (without one: FILE.debug, FILE) in DIR/usr/lib/, DIR/lib/
 * and DIR/ for /usr/lib/FILE. A candidate is used only if its build id
 * is the file's (without a build id, if its CRC is the debuglink's).
 * (elfutils also asks debuginfod servers when DEBUGINFOD_URLS is set.)
 *
 * Not thread-safe: one thread at a time per table. */
#ifndef CTRACE_VIEWER_SYMBOLS_H
#define CTRACE_VIEWER_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/ctrace.h" /* (CTRACE_E*) */

/* All mappings of a trace, their files and the lookups' results. */
typedef struct sym_table sym_table;

/* A table that also searches debug_dirs[0..ndirs) (`--debug-dir`; relative
 * ones from the current directory) before the standard places. A directory
 * that does not exist, or whose path holds a ':', is reported by
 * sym_problems() and skipped. @return the table, or NULL when out of memory.
 * The strings are copied. */
sym_table *sym_new(const char *const *debug_dirs, size_t ndirs);

/* Frees the table, its files and every frame and string it returned. NULL is
 * fine. */
void sym_free(sym_table *t);

/* A code mapping of process pid: [start, end) maps the file at path from file
 * offset `offset` on; build_id_hex is the build id recorded with it (hex, any
 * case) or "" / NULL when none was. From now on it covers [start, end) of pid,
 * in place of the parts of earlier mappings of pid it overlaps (as mmap
 * does): add mappings and look up samples in the trace's order and each
 * sample sees the mappings of its time. The file is not opened here. The
 * strings are copied. @return the mapping's id (>= 1, in order of addition),
 * CTRACE_EINVAL when start >= end or path is NULL, CTRACE_ENOMEM. */
int sym_add_mapping(sym_table *t, int pid, uint64_t start, uint64_t end, uint64_t offset,
                    const char *path, const char *build_id_hex);

/* The pseudo-mapping of kernel addresses (pprof's and perf's name for it). */
#define SYM_KERNEL_PATH "[kernel.kallsyms]"

/* A kernel function, as the recording machine named it (DEF_KSYM): a
 * kernel address (>= CTRACE_FMT_KERNEL_ADDR_MIN) of any process in
 * [start, start + size) is named "[kernel] NAME", or "[kernel] NAME
 * [MODULE]" for a module's (module "" or NULL: the kernel itself). Kernel
 * addresses belong to one mapping, SYM_KERNEL_PATH (pid 0, the kernel's
 * half of the address space); one in no function given has no name there
 * (cp_address_name shows "[kernel]+0xADDR"). Functions may be added after
 * lookups (a live trace): the next lookups see them. The strings are
 * copied. @return 0, CTRACE_EINVAL (size 0, not a kernel address, no
 * name), CTRACE_ENOMEM. */
int sym_add_kernel_symbol(sym_table *t, uint64_t start, uint64_t size, const char *name,
                          const char *module);

/* One frame of an address. Inlined calls give several frames per address.
 * The strings are interned: equal strings are the same pointer. */
typedef struct sym_frame {
  const char *function; /* as the debug info or the symbol table names it; NULL unknown */
  const char *file;     /* source file (absolute when the debug info says so); NULL unknown */
  int line, column;     /* 0 unknown */
  int func_line;        /* the line where function is declared (pprof's start_line), 0 unknown */
  int inlined;          /* 1: inlined into the next frame of the same address */
  int mapping;          /* the mapping's id, 0 when the address is in no mapping */
  /* Of the out-of-line function (symbol) holding the address, the same in
   * every frame of it: its address in the file's own address space (ELF
   * p_vaddr-based, as nm and objdump show it) and its size; 0 unknown. */
  uint64_t func_start, func_size;
  /* The address in the file's own address space (as func_start; for a return
   * address, of the call: addr - 1); 0 when unknown. */
  uint64_t file_addr;
  /* addr - mapping start + mapping offset: the offset of the address in the
   * file (shown as module+0xOFFSET); the address itself when mapping is 0. */
  uint64_t module_offset;
} sym_frame;

/* The frames of address addr of process pid, innermost (most inlined) first,
 * in *frames; is_return: addr is a return address (the call is at addr - 1,
 * which is what is looked up). An address outside every mapping of pid, or
 * where nothing is known, gives one frame with function NULL. Results are
 * cached per (mapping, address): repeated addresses cost a hash lookup.
 * @return the number of frames (>= 1), valid until sym_free; 0 when out of
 * memory. */
size_t sym_lookup(sym_table *t, int pid, uint64_t addr, int is_return, const sym_frame **frames);

/* What became of a mapping (pprof's Mapping: memory_start, memory_limit,
 * file_offset, filename, build_id, has_functions ...). */
typedef struct sym_mapping {
  int pid;
  uint64_t start, end, offset;
  const char *path;
  const char *build_id; /* hex, lower case, as recorded; "" none */
  /* 1: frames come from the file's symbols (or a file with the recorded
   * build id found in a debug directory); 0: they are addresses (missing,
   * another build id, not ELF, no symbols at all: see sym_problems(); a
   * kernel pseudo-file such as [vdso]). */
  int usable;
  int has_functions, has_lines; /* the file has a symbol table; line information */
} sym_mapping;

/* Mapping id (from sym_add_mapping); opens its file if no lookup has yet.
 * @return its description, valid until sym_free, or NULL for an unknown id. */
const sym_mapping *sym_mapping_info(sym_table *t, int id);

/* The problems met so far: "" or one line per problem, each ending in '\n',
 * e.g. "/usr/bin/x: build id ab12.. in the trace, cd34.. on disk: its frames
 * are shown as addresses". Valid until the next call on t. */
const char *sym_problems(const sym_table *t);

/* ---- A table kept across profiles (cpu_symbols.c: analysis.h's cp_symbols) ---------- */

struct cp_symbols;
struct vx_index;

/* The table a profile of x names its stacks with, s locked (the caller
 * names, then cp__symbols_unlock): s's own, holding x's mappings, counted
 * until cp__symbols_release (*own 0); or, for an index whose mappings are
 * only a part of the table's, a new table of the caller's (*own 1: it adds
 * x's mappings and sym_frees it). @return NULL when out of memory (s not
 * locked). */
sym_table *cp__symbols_take(struct cp_symbols *s, const struct vx_index *x, int *own);
void cp__symbols_lock(struct cp_symbols *s);
void cp__symbols_unlock(struct cp_symbols *s);
/* A profile that named with s's table t is freed. */
void cp__symbols_release(struct cp_symbols *s, sym_table *t);

#endif /* CTRACE_VIEWER_SYMBOLS_H */
