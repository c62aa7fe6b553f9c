/* ctrace's common library (tracer/common): the small code both stacks need
 * (the runtime, libctrace, and the tools, the `ctrace` command, which must
 * not load the runtime: a `ctrace export` run with CTRACE_OUT set would
 * trace itself into the file it reads). Built once, linked into both;
 * nothing here is API (the error strings are: ctrace.h declares them).
 *
 *   errors.c       ctrace_strerror, ctrace_err_name, ctrace_version
 *   flight_spec.c  the flight recorder's settings syntax, the n-th dump's name
 *   io.c           write(2) all of a buffer
 *   own_stack.c    a signal handler's copy of the interrupted registers and stack
 *   hashmap.c      a uint64 -> uint32 hash map, a growable array
 *   (here)         the control socket's protocol, FNV-1a
 */
#ifndef CTRACE_COMMON_H
#define CTRACE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ctrace/ctrace.h"

/* ---- The flight recorder's settings ---------------------------------------------- */

/* Parses a duration ("500ms", "30s", "1.5s", "5min", "1h"), a size
 * ("64KiB", "256MB", "1GiB"; KB/MB/GB are powers of 1000, KiB/MiB/GiB of
 * 1024; units in any case) or both, comma-separated ("30s,256MB"): the
 * window in ms and the byte cap, 0 for the one not given. @return 0, or -1
 * when malformed or out of range (1 ms .. 24 h, 64 KiB .. 1 TiB). */
int ctrace__flight_parse(const char *spec, uint64_t *window_ms, uint64_t *bytes);

/* The n-th dump of a default path: FILE, then FILE-2, FILE-3 ... (before
 * a ".ctrace" suffix: x.ctrace, x-2.ctrace), into out[cap] (the base itself
 * if that would not fit). Async-signal-safe: the crash dump names its file
 * with it; the launcher and `ctrace dump` find the dumps with it. */
void ctrace__flight_nth_path(char *out, size_t cap, const char *base, uint32_t n);

/* What to say after "VARIABLE=VALUE: " when it does not parse. */
#define CTRACE__FLIGHT_SYNTAX                                                             \
  "expected a duration (500ms, 30s, 5min, 1h; at most 24h), a size (64KiB, 256MB, 1GiB: " \
  "KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024; at least 64KiB) or both (30s,256MB)"

/* ---- The control socket ------------------------------------------------------------ */

/* The control socket's protocol, shared by the server in libctrace
 * (runtime/control.c) and its client, the `ctrace record`, `ctrace dump`
 * and `ctrace stacks` commands (cli/). Nothing here is API.
 *
 * A process started with CTRACE_CONTROL=PATH (PATH may hold %p, replaced by
 * the pid) listens on a unix stream socket there, mode 0600. A client
 * connects, sends one command line, and reads reply lines:
 *
 *   record SECONDS PATH  ->  "ok PATH", then, when SECONDS have passed, the
 *                            client hung up or sent "stop", or a `stop`
 *                            came on another connection:
 *                            "done PATH BYTES DROPPED"
 *                            ("note: ..." lines may come before it)
 *   stop                 ->  "done PATH BYTES DROPPED" (the recording that
 *                            `record` started ends now)
 *   dump [PATH]          ->  "ok PATH" (ctrace_flight_dump; without PATH
 *                            to the process's next default dump path, the
 *                            one written is in the reply)
 *   status               ->  "ok pid=N tracing=no|file|record|flight left=S
 *                            wrappers=yes|no path=PATH" (left: seconds of
 *                            the record to go; path: the trace, or where
 *                            flight dumps go)
 *   stacks               ->  every thread's registers and stack, now
 *                            (runtime/stacks.c; for `ctrace stacks`):
 *       "ok stacks pid=N threads=N signal=S window_ns=N paused_max_ns=N
 *        paused_total_ns=N" (the signal each thread was interrupted with,
 *        -1 none free; from the first signal to the last answer; the
 *        longest and the sum of the threads' pauses), then the code
 *        mappings, "map START END OFFSET PATH" (hex), then per thread:
 *          "thread TID", "name COMM", "state C" (/proc's letter),
 *          ["tracer 1"] (one of the tracer's threads: no stack),
 *          ["syscall LINE"] (/proc/self/task/TID/syscall, read before the
 *          signal: "running", or "NR ARG1..ARG6 SP PC"), ["wchan NAME"],
 *          ["wait KIND OBJECT NS HOLDER"] (under the preload: a wait of
 *          CTRACE_FMT_WAIT_* KIND on OBJECT (hex) for NS so far; a mutex's
 *          holder or a rwlock's writer, a tid, 0 unknown), ["note TEXT"]
 *          (why no stack),
 *          ["paused_ns N"] (its handler's time),
 *          ["regs signal|proc R0..R16" (hex, DWARF x86-64 order: rax rdx
 *          rcx rbx rsi rdi rbp rsp r8..r15 rip; proc: only rsp and rip,
 *          from /proc, of a thread that could not be signalled), then
 *          "stack LEN" and LEN bytes (the stack from rsp up) and "\n"],
 *        and "end" last
 *   anything else        ->  "error: ..." (the connection closes; the
 *                            process carries on)
 *
 * Every failure is one line "error: TEXT". A peer whose uid is not the
 * process's effective uid is refused ("error: permission denied: ..."),
 * root included: root's `ctrace record` takes the target's uid to connect. */
#define CTRACE__CONTROL_LINE_MAX 4096 /* a command line, newline included */
#define CTRACE__CONTROL_READ_MS 5000  /* to send the command, once connected */
#define CTRACE__CONTROL_MAX_SECONDS 86400.0
#define CTRACE__CONTROL_CONNS 8 /* connections served at once */
#define CTRACE__CONTROL_ENV "CTRACE_CONTROL"

/* ---- I/O ---------------------------------------------------------------------------- */

/* write(2) all of buf, retrying on EINTR. Async-signal-safe (the crash dump
 * uses it). @return 0 or -errno. */
int ctrace__write_all(int fd, const void *buf, size_t n);

/* The directory of this program's executable (/proc/self/exe), malloc'd,
 * or NULL. The tools find what ships beside them with it (the preload
 * library, web/). */
char *ctrace__exe_dir(void);

/* ---- A signal handler's copy of the thread it interrupted (own_stack.c) ------------ */

#define CTRACE__NREGS 17                   /* DWARF x86-64: rax..r15, then rip */
#define CTRACE__OWN_STACK_MAX (64u * 1024) /* bytes of stack copied, at most */
/* Copies [sp, sp + cap) of process pid (this one) into dst, up to the
 * first unmapped page (cap at most CTRACE__OWN_STACK_MAX).
 * Async-signal-safe. @return the bytes copied. */
uint32_t ctrace__copy_own_stack(int pid, unsigned char *dst, uint64_t sp, uint32_t cap);
/* The interrupted registers from a handler's ucontext_t, in DWARF order
 * (zeros where not x86-64). Async-signal-safe. */
void ctrace__take_regs(uint64_t regs[CTRACE__NREGS], const void *ucontext);

/* ---- Hashing ------------------------------------------------------------------------- */

/* 64-bit FNV-1a of p[0..n) from basis ^ seed, never 0 (0 marks an empty
 * slot in the maps that use it). */
static inline uint64_t ctrace__fnv1a(const void *p, size_t n, uint64_t seed) {
  const unsigned char *s = p;
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3ull;
  return h | 1;
}

/* Mixes two 64-bit values into a well-spread key (splitmix64's finaliser),
 * never 0. */
static inline uint64_t ctrace__mix64(uint64_t a, uint64_t b) {
  uint64_t h = (a + 0x9e3779b97f4a7c15ull) ^ (b * 0xbf58476d1ce4e5b9ull);
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  return (h ^ (h >> 29)) | 1;
}

/* ---- A hash map and a growable array ------------------------------------------------ */

typedef struct vh_map {
  uint64_t *keys; /* 0 = empty slot; key 0 itself is kept aside */
  uint32_t *vals;
  size_t cap, n;
  int has_zero;
  uint32_t zero_val;
} vh_map;

/* The value of key, or NULL. */
uint32_t *vh_get(vh_map *m, uint64_t key);
/* Sets key to val. @return 0, or -1 when out of memory. */
int vh_put(vh_map *m, uint64_t key, uint32_t val);
/* Removes key; @return 1 and its value in *val (if val), or 0 if absent. */
int vh_del(vh_map *m, uint64_t key, uint32_t *val);
void vh_free(vh_map *m);

/* A growable array: room for one more element at the end of *a (doubling),
 * NULL when out of memory. VH_PUSH(arr, n, cap) is the typed form. */
void *vh_grow(void **a, size_t *n, size_t *cap, size_t elem);
/* Room for need elements in *a (capacity doubled as needed). @return 0, or
 * -1 when out of memory (*a unchanged). */
int vh_reserve(void **a, size_t *cap, size_t need, size_t elem);
#define VH_PUSH(arr, n, cap) \
  ((__typeof__(arr))vh_grow((void **)&(arr), &(n), &(cap), sizeof *(arr)))

#endif /* CTRACE_COMMON_H */
