/* Stacks a process copied of itself, unwound here (capture.h's
 * ctrace__stacks_*): `ctrace stacks PID`, whose target sends through its
 * control socket each thread's registers and the top of its stack, and its
 * code mappings (tracer/runtime/stacks.c). The same libdw unwinder as the
 * CPU samples' (unwind.c), told the mappings the process listed rather
 * than reading /proc (the process may be another user's, or in another
 * mount namespace: its paths are what it names). */
#include <stdlib.h>

#include "capture.h"
#include "unwind.h"

_Static_assert(CTRACE__SELF_NREGS == CTRACE__UW_NREGS, "the same registers as perf's samples");

struct ctrace__stacks {
  int pid;
  ctrace__unwinder *uw;
};

ctrace__stacks *ctrace__stacks_new(int pid) {
  ctrace__stacks *s = calloc(1, sizeof *s);
  if (!s || !(s->uw = ctrace__unwinder_new())) {
    free(s);
    return NULL;
  }
  s->pid = pid;
  return s;
}

void ctrace__stacks_map(ctrace__stacks *s, uint64_t start, uint64_t end, uint64_t offset,
                        const char *path, char *build_id_out) {
  ctrace__uw_mapping m = {start, end, offset, path, ""};
  if (build_id_out)
    build_id_out[0] = '\0';
  ctrace__unwinder_map(s->uw, s->pid, &m, 0, build_id_out);
}

unsigned ctrace__stacks_unwind(ctrace__stacks *s, const ctrace__self_sample *smp, uint64_t *pcs,
                               unsigned max, unsigned *flags) {
  ctrace__uw_sample u;
  u.pid = s->pid;
  u.tid = smp->tid;
  for (int i = 0; i < CTRACE__UW_NREGS; i++)
    u.regs[i] = smp->regs[i];
  u.stack = smp->stack;
  u.stack_len = smp->stack_len;
  *flags = smp->stack_len ? 0 : CTRACE__SAMPLE_PARTIAL;
  return ctrace__unwinder_unwind(s->uw, &u, pcs, max, flags);
}

void ctrace__stacks_free(ctrace__stacks *s) {
  if (!s)
    return;
  ctrace__unwinder_free(s->uw);
  free(s);
}
