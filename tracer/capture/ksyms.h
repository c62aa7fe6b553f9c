/* The kernel's functions, from /proc/kallsyms (ksyms.c): private to
 * tracer/capture. */
#ifndef CTRACE_CAPTURE_KSYMS_H
#define CTRACE_CAPTURE_KSYMS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ks_table ks_table;

/* A kernel function: [start, start + size), its name and its module (""
 * for the kernel itself). */
typedef struct ks_sym {
  uint64_t start, size;
  const char *name, *module;
} ks_sym;

enum { KS_LOADING, KS_READY, KS_FAILED };

/* Starts reading /proc/kallsyms in a thread of its own, the first time it
 * is called in the process; later calls do nothing. */
void ks_request(void);

/* The table's state (KS_*) after ks_request; with wait, blocks until it is
 * read. *t: the table (KS_READY), valid until the process ends. *why (if
 * not NULL), when KS_FAILED: why there is none ("/proc/kallsyms hides its
 * addresses (kernel.kptr_restrict = 2)"). Thread-safe. */
int ks_state(int wait, const ks_table **t, const char **why);

/* The function holding addr: its index in the table (for a caller's own
 * "already seen" set, 0 .. ks_count - 1) with *out, or -1 when no function
 * holds it. */
long ks_find(const ks_table *t, uint64_t addr, ks_sym *out);
size_t ks_count(const ks_table *t);

#endif /* CTRACE_CAPTURE_KSYMS_H */
