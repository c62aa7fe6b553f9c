/* This file is private to tracer/capture: the DWARF unwinder of CPU samples
 * (unwind.c), used by perf_cpu.c only.
 *
 * A sample is the user registers and a copy of the top of the user stack
 * that the kernel took when a thread was interrupted (PERF_SAMPLE_REGS_USER,
 * PERF_SAMPLE_STACK_USER). The unwinder walks it with elfutils' libdwfl and
 * the .eh_frame (or .debug_frame) of the code mapped at each frame's pc, in
 * the launcher: nothing runs in the traced process.
 *
 * It keeps, per process, the code mappings it was told about (in time order,
 * as the kernel reported them) and one Dwfl built from them, updated as
 * mappings arrive; the ELF images are opened once per file and shared by
 * every process that maps them. Not thread-safe: one thread (the drain). */
#ifndef CTRACE_CAPTURE_UNWIND_H
#define CTRACE_CAPTURE_UNWIND_H

#include <stddef.h>
#include <stdint.h>

typedef struct ctrace__unwinder ctrace__unwinder;

/* A code mapping: bytes [offset, offset + end - start) of path at
 * [start, end). "[vdso]" is the kernel's vDSO. */
typedef struct ctrace__uw_mapping {
  uint64_t start, end, offset;
  const char *path;
  const char *build_id; /* hex, "" when unknown */
} ctrace__uw_mapping;

/* Calls fn for each executable file mapping that /proc/PID/maps lists (pid
 * 0: this process's; anonymous code is left out), in proc.c. @return their
 * number, or -errno. */
int ctrace__proc_maps(int pid, void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg);

/* Longest build id kept, in hex digits (ELF notes are 20 bytes, SHA-1,
 * in practice; the kernel gives at most 20). */
#define CTRACE__UW_BUILD_ID_HEX 64

/* The registers a sample needs, in DWARF numbering for x86-64: rax, rdx,
 * rcx, rbx, rsi, rdi, rbp, rsp, r8..r15, then the return address column
 * (16), which holds the sampled rip. */
#define CTRACE__UW_NREGS 17
#define CTRACE__UW_REG_SP 7
#define CTRACE__UW_REG_IP 16

typedef struct ctrace__uw_sample {
  int pid, tid;
  uint64_t regs[CTRACE__UW_NREGS];
  const unsigned char *stack; /* a copy of the user stack from regs[SP] up */
  size_t stack_len;
} ctrace__uw_sample;

/* @return a new unwinder, or NULL (out of memory, or libelf too old). */
ctrace__unwinder *ctrace__unwinder_new(void);
/* Frees everything. Accepts NULL. */
void ctrace__unwinder_free(ctrace__unwinder *u);

/* pid mapped m (in time order with everything else about pid). An older
 * mapping of pid that m overlaps is dropped (the kernel does not report
 * munmap). The file is opened when first seen: its build id, when m has
 * none, is copied into build_id_out (CTRACE__UW_BUILD_ID_HEX + 1 bytes; may
 * be NULL), else m's. A file that is not ELF, unreadable or not the one
 * mapped (another build id) is remembered as a mapping all the same; its
 * frames end the walk. `held`: the caller has not shown m to anyone yet
 * and will when pid is first sampled (ctrace__unwinder_release). */
void ctrace__unwinder_map(ctrace__unwinder *u, int pid, const ctrace__uw_mapping *m, int held,
                          char *build_id_out);
/* Calls fn for each held mapping of pid, oldest first, and holds them no
 * more. @return their number. */
size_t ctrace__unwinder_release(ctrace__unwinder *u, int pid,
                                void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg);
/* pid exec'd: its mappings are gone (new ones follow). */
void ctrace__unwinder_exec(ctrace__unwinder *u, int pid);
/* child was forked from parent: it starts with parent's mappings (a
 * process not known yet starts with none). */
void ctrace__unwinder_fork(ctrace__unwinder *u, int parent, int child);
/* pid is gone: everything about it is freed. */
void ctrace__unwinder_exit(ctrace__unwinder *u, int pid);
/* Whether anything is known about pid (a mapping, an exec or a fork). */
int ctrace__unwinder_known(const ctrace__unwinder *u, int pid);
/* Calls fn for each mapping of pid, oldest first. @return their number. */
size_t ctrace__unwinder_mappings(const ctrace__unwinder *u, int pid,
                                 void (*fn)(void *arg, const ctrace__uw_mapping *m), void *arg);

/* Walks s: pcs[0] is the sampled pc, then the return address of each
 * caller, up to max (>= 1) frames. CTRACE__SAMPLE_PARTIAL (capture.h) is
 * set in *flags when the walk stopped before the outermost frame (no
 * mapping or no CFI for a pc, the stack copy too short, max reached).
 * @return the number of pcs (>= 1). */
unsigned ctrace__unwinder_unwind(ctrace__unwinder *u, const ctrace__uw_sample *s, uint64_t *pcs,
                                 unsigned max, unsigned *flags);

#endif /* CTRACE_CAPTURE_UNWIND_H */
