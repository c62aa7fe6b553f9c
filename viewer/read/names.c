/* Names for the viewer and the exporter: x86-64 system calls (for the
 * syscall slices) and wait kinds. System call
 * numbers are from the kernel's syscall_64.tbl. */
#include <stddef.h>

#include "ctrace/format.h"
#include "read.h"

const char *te_syscall_name(long nr) {
#if defined(__x86_64__)
  /* clang-format off */ /* (the table laid out by hand) */
  static const char *const names[] = {
      [0] = "read", [1] = "write", [2] = "open", [3] = "close", [4] = "stat", [5] = "fstat",
      [6] = "lstat", [7] = "poll", [8] = "lseek", [9] = "mmap", [10] = "mprotect",
      [11] = "munmap", [12] = "brk", [13] = "rt_sigaction", [14] = "rt_sigprocmask",
      [15] = "rt_sigreturn", [16] = "ioctl", [17] = "pread64", [18] = "pwrite64",
      [19] = "readv", [20] = "writev", [21] = "access", [22] = "pipe", [23] = "select",
      [24] = "sched_yield", [25] = "mremap", [26] = "msync", [28] = "madvise", [32] = "dup",
      [33] = "dup2", [35] = "nanosleep", [39] = "getpid", [40] = "sendfile", [41] = "socket",
      [42] = "connect", [43] = "accept", [44] = "sendto", [45] = "recvfrom", [46] = "sendmsg",
      [47] = "recvmsg", [48] = "shutdown", [49] = "bind", [50] = "listen", [56] = "clone",
      [57] = "fork", [58] = "vfork", [59] = "execve", [60] = "exit", [61] = "wait4",
      [62] = "kill", [63] = "uname", [72] = "fcntl", [74] = "fsync", [75] = "fdatasync",
      [77] = "ftruncate", [78] = "getdents", [79] = "getcwd", [80] = "chdir", [82] = "rename",
      [83] = "mkdir", [84] = "rmdir", [87] = "unlink", [89] = "readlink", [96] = "gettimeofday",
      [102] = "getuid", [104] = "getgid", [107] = "geteuid", [108] = "getegid",
      [110] = "getppid", [157] = "prctl", [158] = "arch_prctl", [186] = "gettid",
      [202] = "futex", [217] = "getdents64", [218] = "set_tid_address", [228] = "clock_gettime",
      [230] = "clock_nanosleep", [231] = "exit_group", [232] = "epoll_wait", [233] = "epoll_ctl",
      [247] = "waitid", [257] = "openat", [262] = "newfstatat", [270] = "pselect6",
      [271] = "ppoll", [273] = "set_robust_list", [281] = "epoll_pwait", [288] = "accept4",
      [290] = "eventfd2", [291] = "epoll_create1", [292] = "dup3", [293] = "pipe2",
      [302] = "prlimit64", [318] = "getrandom", [319] = "memfd_create", [326] = "copy_file_range",
      [332] = "statx", [334] = "rseq", [435] = "clone3", [439] = "faccessat2",
  };
  /* clang-format on */
  if (nr >= 0 && (size_t)nr < sizeof names / sizeof names[0])
    return names[nr];
#endif
  (void)nr;
  return NULL;
}

const char *te_wait_name(unsigned kind) {
  switch (kind) {
  case CTRACE_FMT_WAIT_MUTEX: return "mutex wait";
  case CTRACE_FMT_WAIT_COND: return "condvar wait";
  case CTRACE_FMT_WAIT_RWLOCK_READ: return "rwlock read wait";
  case CTRACE_FMT_WAIT_RWLOCK_WRITE: return "rwlock write wait";
  case CTRACE_FMT_WAIT_SEM: return "semaphore wait";
  case CTRACE_FMT_WAIT_JOIN: return "join";
  default: return "wait";
  }
}

/* (the index's old names, until its callers move) */
const char *vx_syscall_name(long nr) { return te_syscall_name(nr); }
const char *vx_wait_name(unsigned kind) { return te_wait_name(kind); }
