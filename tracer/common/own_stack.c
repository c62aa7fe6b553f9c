/* What a signal handler copies of the thread it interrupted, for unwinding
 * elsewhere later (common.h): its registers from the ucontext, and the
 * stack above its sp, page by page with process_vm_readv so that an
 * unmapped page ends the copy instead of faulting. Async-signal-safe.
 * Used by `ctrace stacks` (tracer/runtime/stacks.c) and by the SIGPROF
 * sampler (tracer/cpu/sigprof.c). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "common.h"

uint32_t ctrace__copy_own_stack(int pid, unsigned char *dst, uint64_t sp, uint32_t cap) {
  if (cap > CTRACE__OWN_STACK_MAX)
    cap = CTRACE__OWN_STACK_MAX;
  struct iovec local = {dst, cap}, remote[CTRACE__OWN_STACK_MAX / 4096 + 1];
  int n = 0;
  for (uint64_t at = sp, end = sp + cap; at < end; n++) {
    uint64_t next = (at | 4095) + 1;
    if (next > end)
      next = end;
    remote[n].iov_base = (void *)(uintptr_t)at;
    remote[n].iov_len = (size_t)(next - at);
    at = next;
  }
  long r = syscall(SYS_process_vm_readv, pid, &local, 1, remote, n, 0);
  return r > 0 ? (uint32_t)r : 0;
}

void ctrace__take_regs(uint64_t regs[CTRACE__NREGS], const void *ucontext) {
#if defined(__x86_64__)
  const greg_t *g = ((const ucontext_t *)ucontext)->uc_mcontext.gregs;
  static const int from[CTRACE__NREGS] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
                                          REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                          REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
  for (int i = 0; i < CTRACE__NREGS; i++)
    regs[i] = (uint64_t)g[from[i]];
#else
  (void)ucontext;
  memset(regs, 0, CTRACE__NREGS * sizeof *regs);
#endif
}
