/* ctrace trace file format: the constants and the small codecs shared by the
 * writer (tracer/) and the reader (viewer/). docs/format.md describes the
 * same layout in prose; change both together.
 *
 * Everything is little-endian. A file is a 64-byte header followed by
 * records; every record has a 32-byte header, a payload, and a CRC-32C over
 * both, so a reader can tell exactly where a file stops being valid.
 */
#ifndef CTRACE_FORMAT_H
#define CTRACE_FORMAT_H
/* clang-format off */ /* (tables laid out by hand) */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- File header (64 bytes) ---------------------------------------------- */
#define CTRACE_FMT_MAGIC "\x89" "CTRACE\n" /* 8 bytes */
#define CTRACE_FMT_MAGIC_LEN 8
#define CTRACE_FMT_VERSION_MAJOR 1 /* readers refuse other majors */
#define CTRACE_FMT_VERSION_MINOR 0 /* added record/def kinds; readers skip them.
                                      Events carry no length: a new event
                                      type needs a new major version. */
#define CTRACE_FMT_FILE_HEADER_SIZE 64

/* Byte offsets in the file header. */
#define CTRACE_FMT_FH_MAGIC 0          /* u8[8]  CTRACE_FMT_MAGIC */
#define CTRACE_FMT_FH_VERSION_MAJOR 8  /* u16 */
#define CTRACE_FMT_FH_VERSION_MINOR 10 /* u16 */
#define CTRACE_FMT_FH_HEADER_SIZE 12   /* u32, 64 */
#define CTRACE_FMT_FH_CLOCK 16         /* u32, CTRACE_FMT_CLOCK_* */
#define CTRACE_FMT_FH_PID 20           /* u32 */
#define CTRACE_FMT_FH_TICKS_PER_SEC 24 /* u64, estimate at start */
#define CTRACE_FMT_FH_START_TICK 32    /* u64 } the first clock sync point: */
#define CTRACE_FMT_FH_START_MONO 40    /* u64 } tick <-> CLOCK_MONOTONIC ns */
#define CTRACE_FMT_FH_START_REAL 48    /* u64 } and CLOCK_REALTIME ns */
#define CTRACE_FMT_FH_FLAGS 56         /* u32, CTRACE_FMT_FF_* (readers of 1.x
                                          ignore bits they do not know) */
#define CTRACE_FMT_FH_CRC 60           /* u32, CRC-32C of bytes 0..59 */

/* File header flags. */
#define CTRACE_FMT_FF_FLIGHT 0x1u /* a flight-recorder dump: the last window of a
                                     longer session, not the whole of it */

/* Timestamp sources. Event times are stored in ticks of this clock; clock
 * sync records map ticks to CLOCK_MONOTONIC nanoseconds, which is the only
 * time base the reader hands out. */
#define CTRACE_FMT_CLOCK_TSC 1       /* x86 invariant TSC (rdtsc) */
#define CTRACE_FMT_CLOCK_MONOTONIC 2 /* clock_gettime(CLOCK_MONOTONIC): 1 tick = 1 ns */

/* ---- Records --------------------------------------------------------------- */
#define CTRACE_FMT_RECORD_HEADER_SIZE 32
#define CTRACE_FMT_RECORD_SYNC 0x4b525443u /* "CTRK" as bytes on disk */
#define CTRACE_FMT_RECORD_MAX_RAW (16u << 20)    /* payload limits a reader */
#define CTRACE_FMT_RECORD_MAX_STORED (16u << 20) /* enforces */
#define CTRACE_FMT_FILE_HEADER_MAX 4096 /* header_size a reader accepts */
#define CTRACE_FMT_MAX_ID (1u << 24)    /* site and string ids are below this */
#define CTRACE_FMT_MAX_THREADS (1u << 20) /* distinct threads a reader keeps */

/* Byte offsets in a record header. */
#define CTRACE_FMT_RH_SYNC 0        /* u32 CTRACE_FMT_RECORD_SYNC */
#define CTRACE_FMT_RH_TYPE 4        /* u8  CTRACE_FMT_REC_* */
#define CTRACE_FMT_RH_CODEC 5       /* u8  CTRACE_FMT_CODEC_* */
#define CTRACE_FMT_RH_FLAGS 6       /* u16, CTRACE_FMT_RF_* */
#define CTRACE_FMT_RH_STORED_SIZE 8 /* u32 payload bytes in the file */
#define CTRACE_FMT_RH_RAW_SIZE 12   /* u32 payload bytes once decoded */
#define CTRACE_FMT_RH_THREAD 16     /* u32 thread serial (BATCH), else 0 */
#define CTRACE_FMT_RH_CRC 20        /* u32 CRC-32C of header (this field as 0) + payload */
#define CTRACE_FMT_RH_BASE_TICK 24  /* u64 BATCH: tick the first delta is from */

#define CTRACE_FMT_REC_DEFS 1  /* definitions: process, sites, strings, threads */
#define CTRACE_FMT_REC_BATCH 2 /* events of one thread */
#define CTRACE_FMT_REC_CLOCK 3 /* one clock sync point (raw, 24 bytes) */
#define CTRACE_FMT_REC_END 4   /* written last by ctrace_stop() */

/* Record flags. */
#define CTRACE_FMT_RF_KERNEL 0x1 /* BATCH of kernel events (K_*), thread 0: its
                                    ticks are CLOCK_MONOTONIC ns */

#define CTRACE_FMT_CODEC_NONE 0
#define CTRACE_FMT_CODEC_ZSTD 1 /* one zstd frame */

/* CLOCK payload: u64 tick, u64 CLOCK_MONOTONIC ns, u64 CLOCK_REALTIME ns. */
#define CTRACE_FMT_CLOCK_PAYLOAD 24

/* END payload (varints): end tick, total dropped events, n, then n pairs
 * (thread serial, dropped events) for the threads still alive at the end
 * that dropped events (exited ones told theirs in DEF_THREAD_END). */

/* ---- Definitions (DEFS payload) --------------------------------------------
 * A sequence of: u8 kind, varint body length, body. Unknown kinds are
 * skipped by their length. Strings are varint length + bytes (no NUL). */
#define CTRACE_FMT_DEF_PROCESS 1    /* varint pid, str name, str command line */
#define CTRACE_FMT_DEF_SITE 2       /* varint id, kind, line; str name, file, func */
#define CTRACE_FMT_DEF_STRING 3     /* varint id; str text */
#define CTRACE_FMT_DEF_THREAD 4     /* varint serial, tid; str name */
#define CTRACE_FMT_DEF_THREAD_END 5 /* varint serial, dropped events */
#define CTRACE_FMT_DEF_CAPTURE 6    /* varint syscalls, sched, heap, locks (modes
                                       below); str why (what was not available) */
#define CTRACE_FMT_DEF_TRACER_SPAN 7 /* varint tid, from, to (CLOCK_MONOTONIC ns;
                                        to 0 = the end), whole (1: the thread is
                                        the tracer's, e.g. the writer; 0: only
                                        from..to): the tracer's own work on that
                                        thread, whose system calls are not the
                                        program's */
#define CTRACE_FMT_DEF_CLOCK 8       /* varint kind (CTRACE_FMT_CLOCK_*, as the header's);
                                        str why: the session's choice of clock and
                                        its reason (unknown kinds are skipped) */
/* CPU profiles (FILE.kernel of `ctrace run --cpu-hz N`): */
#define CTRACE_FMT_DEF_SAMPLING 9 /* varint hz, period ns (CPU time per sample);
                                     str method ("perf task-clock, DWARF
                                     unwinding (libdw)") */
#define CTRACE_FMT_DEF_MAPPING 10 /* varint pid, start, end (exclusive), file
                                     offset of start; str path, str build id
                                     (hex, "" unknown): code mapped in pid */
#define CTRACE_FMT_DEF_STACK 11   /* varint id (1..), n, then n varints: the
                                     addresses, innermost first (the sampled
                                     instruction, then return addresses);
                                     kernel frames (addresses >=
                                     CTRACE_FMT_KERNEL_ADDR_MIN) come first */
#define CTRACE_FMT_DEF_KSYM 12    /* varint start, size; str name, str module
                                     ("" the kernel itself): a kernel function
                                     that a stack's kernel frame is in,
                                     [start, start + size), from the
                                     recording machine's /proc/kallsyms */
/* Heap profiles (FILE of `ctrace run`, or any process with the preload): */
#define CTRACE_FMT_DEF_HEAP_SAMPLING 13 /* varint rate (mean bytes between two
                                           samples; 1: every allocation); str
                                           method (how stacks were taken) */
/* Addresses at or above this in a DEF_STACK are the kernel's (x86-64's
 * upper half); user addresses are below it. */
#define CTRACE_FMT_KERNEL_ADDR_MIN 0x8000000000000000ull

/* DEF_CAPTURE modes: how the kernel-side events were captured. */
#define CTRACE_FMT_CAP_OFF 0
#define CTRACE_FMT_CAP_WRAPPERS 1 /* syscalls / sched: from LD_PRELOAD wrappers */
#define CTRACE_FMT_CAP_KERNEL 2   /* syscalls: raw_syscalls tracepoints; sched:
                                     context-switch records (perf_event_open) */

/* WAIT kinds (what a thread waited on). */
#define CTRACE_FMT_WAIT_MUTEX 1
#define CTRACE_FMT_WAIT_COND 2
#define CTRACE_FMT_WAIT_RWLOCK_READ 3
#define CTRACE_FMT_WAIT_RWLOCK_WRITE 4
#define CTRACE_FMT_WAIT_SEM 5
#define CTRACE_FMT_WAIT_JOIN 6

/* K_SWITCH kinds. */
#define CTRACE_FMT_SWITCH_IN 1          /* starts running on the CPU */
#define CTRACE_FMT_SWITCH_OUT 2         /* leaves the CPU, blocked */
#define CTRACE_FMT_SWITCH_OUT_PREEMPT 3 /* leaves the CPU, still runnable */

/* K_SAMPLE flags. */
#define CTRACE_FMT_SAMPLE_PARTIAL 1 /* unwinding stopped before the outermost frame */

/* HEAP flags. */
#define CTRACE_FMT_HEAP_PEAK 1 /* live bytes reached a new peak */

/* Site kinds (same values as CTRACE__SITE_* in ctrace.h). */
#define CTRACE_FMT_SITE_REGION 1
#define CTRACE_FMT_SITE_COUNTER 2
#define CTRACE_FMT_SITE_INSTANT 3

/* ---- Events (BATCH payload) --------------------------------------------------
 * Each event: u8 type, varint tick delta from the previous event of the
 * batch (the first from the record's base tick), then `nvar` varints, then
 * `nstr` strings (varint length + bytes).
 *
 * Two compact forms cover the commonest events in one byte less or two:
 *   0x80 | d        REGION_END with tick delta d (0..127), nothing follows
 *   0x40 | s, delta REGION_BEGIN of site s (0..63), then the varint delta
 * so the first byte of a plain event is 0x01..0x3f. */
#define CTRACE_FMT_SHORT_END 0x80u   /* | delta (7 bits) */
#define CTRACE_FMT_SHORT_BEGIN 0x40u /* | site id (6 bits) */
#define CTRACE_FMT_EVENT_MAP(XX)                                                     \
  /* name            code nvar nstr  arguments */                                    \
  XX(REGION_BEGIN,      1,  1,  0) /* site id */                                     \
  XX(REGION_BEGIN_STR,  2,  1,  0) /* string id (ctrace_region_begin_dyn) */         \
  XX(REGION_END,        3,  0,  0) /* closes the innermost region */                 \
  XX(TASK_BEGIN,        4,  3,  0) /* task id, parent task id, name string id */     \
  XX(TASK_END,          5,  1,  0) /* task id */                                     \
  XX(LOG,               6,  3,  1) /* task id, category string id, flags; message */ \
  XX(COUNTER,           7,  2,  0) /* site id, zigzag(value) */                      \
  XX(INSTANT,           8,  1,  0) /* site id */                                     \
  XX(FLOW_BEGIN,        9,  1,  0) /* flow id */                                     \
  XX(FLOW_END,         10,  1,  0) /* flow id */                                     \
  XX(THREAD_NAME,      11,  0,  1) /* ; name */                                      \
  XX(DROPPED,          12,  2,  0) /* events dropped, ticks since the first drop */   \
  /* issue "Capture without code changes": complete spans end at the event's  */      \
  /* time and carry their duration                                            */      \
  XX(SYSCALL,          13,  4,  0) /* nr, duration, arg (fd), zigzag(return) */       \
  XX(WAIT,             14,  5,  0) /* kind, duration, object, waker serial (0 =     */\
                                   /* unknown), ticks from the waker's release    */  \
  XX(THREAD_CREATE,    15,  1,  0) /* flow id to the new thread's THREAD_START */     \
  XX(THREAD_START,     16,  2,  0) /* flow id, creator's serial */                    \
  XX(THREAD_EXIT,      17,  0,  0)                                                    \
  XX(HEAP,             18,  4,  0) /* zigzag(live bytes), bytes allocated, flags, */  \
                                   /* bytes this thread allocated since its last HEAP */\
  XX(GC_BEGIN,         19,  1,  0) /* kind string id */                               \
  XX(GC_END,           20,  0,  0)                                                    \
  XX(HEAP_SET,         21,  2,  0) /* live bytes, goal bytes (ctrace_heap_set) */     \
  XX(SCHED_CREATE,     22,  2,  0) /* work item id, name string id */                 \
  XX(SCHED_RUN,        23,  1,  0) /* id: this thread now runs it */                  \
  XX(SCHED_BLOCK,      24,  1,  0) /* reason string id: the running item blocks */    \
  XX(SCHED_UNBLOCK,    25,  1,  0) /* id: made runnable (a flow to its next run) */   \
  XX(SCHED_END,        26,  1,  0) /* id */                                           \
  /* kernel batches (CTRACE_FMT_RF_KERNEL), times in CLOCK_MONOTONIC ns:      */      \
  XX(K_SWITCH,         27,  3,  0) /* tid, cpu, CTRACE_FMT_SWITCH_* */                \
  XX(K_SYSCALL,        28,  5,  0) /* tid, nr, duration, arg, zigzag(return) */       \
  XX(K_LOST,           29,  2,  0) /* cpu, records the kernel lost */             \
  XX(K_TASK,           30,  2,  0) /* tid, pid: its process (before its first   */  \
                                   /* other kernel event in the file)           */  \
  XX(K_EXIT,           31,  1,  0) /* tid: the thread exits (no switch follows)  */  \
  XX(TASK_SWITCH,      32,  1,  0) /* task id now current on this thread (0: none) */ \
  XX(K_SAMPLE,         33,  3,  0) /* tid, stack id (DEF_STACK; 0: no frame),     */  \
                                   /* CTRACE_FMT_SAMPLE_* flags                     */ \
  XX(HEAP_SAMPLE,      34,  3,  0) /* address, bytes asked, stack id (DEF_STACK)    */ \
  XX(HEAP_FREE,        35,  1,  0) /* address of a sampled block, freed             */

enum {
#define CTRACE__FMT_EV_ENUM(name, code, nvar, nstr) CTRACE_FMT_EV_##name = (code),
  CTRACE_FMT_EVENT_MAP(CTRACE__FMT_EV_ENUM)
#undef CTRACE__FMT_EV_ENUM
  CTRACE_FMT_EV_COUNT_ /* one past the highest code */
};

#define CTRACE_FMT_EVENT_MAX_VARINTS 5
#define CTRACE_FMT_EVENT_MAX_STRINGS 1
#define CTRACE_FMT_LOG_MAX 1023   /* bytes of a log message */
#define CTRACE_FMT_NAME_MAX 63    /* bytes of a thread name */
#define CTRACE_FMT_LOG_FLAG_CUT 1 /* LOG flags: message was cut */

/* nvar/nstr of an event type; 0xff for an unknown type. */
static inline void ctrace_fmt_event_shape(unsigned type, unsigned *nvar, unsigned *nstr) {
  switch (type) {
#define CTRACE__FMT_EV_SHAPE(name, code, nv, ns)                               \
  case code:                                                                   \
    *nvar = nv;                                                                \
    *nstr = ns;                                                                \
    return;
    CTRACE_FMT_EVENT_MAP(CTRACE__FMT_EV_SHAPE)
#undef CTRACE__FMT_EV_SHAPE
  default:
    *nvar = 0xff;
    *nstr = 0xff;
  }
}

/* Event type name ("region_begin"), or NULL. */
static inline const char *ctrace_fmt_event_name(unsigned type) {
  switch (type) {
  case CTRACE_FMT_EV_REGION_BEGIN: return "region_begin";
  case CTRACE_FMT_EV_REGION_BEGIN_STR: return "region_begin_str";
  case CTRACE_FMT_EV_REGION_END: return "region_end";
  case CTRACE_FMT_EV_TASK_BEGIN: return "task_begin";
  case CTRACE_FMT_EV_TASK_END: return "task_end";
  case CTRACE_FMT_EV_LOG: return "log";
  case CTRACE_FMT_EV_COUNTER: return "counter";
  case CTRACE_FMT_EV_INSTANT: return "instant";
  case CTRACE_FMT_EV_FLOW_BEGIN: return "flow_begin";
  case CTRACE_FMT_EV_FLOW_END: return "flow_end";
  case CTRACE_FMT_EV_THREAD_NAME: return "thread_name";
  case CTRACE_FMT_EV_DROPPED: return "dropped";
  case CTRACE_FMT_EV_SYSCALL: return "syscall";
  case CTRACE_FMT_EV_WAIT: return "wait";
  case CTRACE_FMT_EV_THREAD_CREATE: return "thread_create";
  case CTRACE_FMT_EV_THREAD_START: return "thread_start";
  case CTRACE_FMT_EV_THREAD_EXIT: return "thread_exit";
  case CTRACE_FMT_EV_HEAP: return "heap";
  case CTRACE_FMT_EV_GC_BEGIN: return "gc_begin";
  case CTRACE_FMT_EV_GC_END: return "gc_end";
  case CTRACE_FMT_EV_HEAP_SET: return "heap_set";
  case CTRACE_FMT_EV_SCHED_CREATE: return "sched_create";
  case CTRACE_FMT_EV_SCHED_RUN: return "sched_run";
  case CTRACE_FMT_EV_SCHED_BLOCK: return "sched_block";
  case CTRACE_FMT_EV_SCHED_UNBLOCK: return "sched_unblock";
  case CTRACE_FMT_EV_SCHED_END: return "sched_end";
  case CTRACE_FMT_EV_K_SWITCH: return "k_switch";
  case CTRACE_FMT_EV_K_SYSCALL: return "k_syscall";
  case CTRACE_FMT_EV_K_LOST: return "k_lost";
  case CTRACE_FMT_EV_K_TASK: return "k_task";
  case CTRACE_FMT_EV_K_EXIT: return "k_exit";
  case CTRACE_FMT_EV_K_SAMPLE: return "k_sample";
  case CTRACE_FMT_EV_TASK_SWITCH: return "task_switch";
  case CTRACE_FMT_EV_HEAP_SAMPLE: return "heap_sample";
  case CTRACE_FMT_EV_HEAP_FREE: return "heap_free";
  default: return NULL;
  }
}

/* ---- Little-endian fixed-width fields ----------------------------------------- */
static inline void ctrace_fmt_put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void ctrace_fmt_put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ctrace_fmt_put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t ctrace_fmt_get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ctrace_fmt_get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}
static inline uint64_t ctrace_fmt_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* ---- Varints (unsigned LEB128, at most 10 bytes) ---------------------------- */
#define CTRACE_FMT_VARINT_MAX 10

/* Writes v at p; returns the byte after it. p needs 10 bytes of room. */
static inline uint8_t *ctrace_fmt_put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* Reads a varint from [p, end) into *v; returns the byte after it, or NULL
 * if it runs past end, is longer than 10 bytes or overflows 64 bits. */
static inline const uint8_t *ctrace_fmt_get_varint(const uint8_t *p, const uint8_t *end,
                                                   uint64_t *v) {
  uint64_t r = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (p >= end)
      return NULL;
    uint8_t b = *p++;
    if (shift == 63 && b > 1)
      return NULL; /* more than 64 bits */
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return p;
    }
  }
  return NULL;
}

static inline uint64_t ctrace_fmt_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t ctrace_fmt_unzigzag(uint64_t v) {
  return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- Event decoding (writer and reader) -------------------------------------- */

/* Decodes one event at p: its type, tick delta, varint arguments (args has
 * room for CTRACE_FMT_EVENT_MAX_VARINTS; unused ones are 0) and string
 * (*str, *str_len; NULL if none). Returns the next event, or NULL for a
 * malformed or unknown event (*type is set when the first byte was read). */
static inline const uint8_t *ctrace_fmt_decode_event(const uint8_t *p, const uint8_t *end,
                                                     unsigned *type, uint64_t *delta,
                                                     uint64_t *args, const uint8_t **str,
                                                     uint64_t *str_len) {
  if (p >= end)
    return NULL;
  unsigned b = *p++;
  for (unsigned i = 0; i < CTRACE_FMT_EVENT_MAX_VARINTS; i++)
    args[i] = 0;
  *str = NULL;
  *str_len = 0;
  if (b & CTRACE_FMT_SHORT_END) {
    *type = CTRACE_FMT_EV_REGION_END;
    *delta = b & 0x7f;
    return p;
  }
  if (b & CTRACE_FMT_SHORT_BEGIN) {
    *type = CTRACE_FMT_EV_REGION_BEGIN;
    args[0] = b & 0x3f;
    return ctrace_fmt_get_varint(p, end, delta);
  }
  *type = b;
  unsigned nvar, nstr;
  ctrace_fmt_event_shape(b, &nvar, &nstr);
  if (nvar == 0xff)
    return NULL;
  if (!(p = ctrace_fmt_get_varint(p, end, delta)))
    return NULL;
  for (unsigned i = 0; i < nvar; i++)
    if (!(p = ctrace_fmt_get_varint(p, end, &args[i])))
      return NULL;
  if (nstr) {
    uint64_t n;
    if (!(p = ctrace_fmt_get_varint(p, end, &n)) || n > (uint64_t)(end - p))
      return NULL;
    *str = p;
    *str_len = n;
    p += n;
  }
  return p;
}

/* ---- CRC-32C (Castagnoli), as used by iSCSI/ext4; SSE4.2 when present ------ */
static inline uint32_t ctrace_fmt_crc32c_sw(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static inline uint32_t
ctrace_fmt_crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = ~crc & 0xffffffffu;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--)
    c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

/* CRC-32C of n bytes at p, continuing from crc (start with 0). */
static inline uint32_t ctrace_fmt_crc32c(uint32_t crc, const void *buf, size_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("sse4.2"))
    return ctrace_fmt_crc32c_hw(crc, (const uint8_t *)buf, n);
#endif
  return ctrace_fmt_crc32c_sw(crc, (const uint8_t *)buf, n);
}

/* CRC of a record: header bytes with the CRC field taken as zero, then the
 * stored payload. */
static inline uint32_t ctrace_fmt_record_crc(const uint8_t *hdr, const void *payload,
                                             size_t stored) {
  uint8_t h[CTRACE_FMT_RECORD_HEADER_SIZE];
  memcpy(h, hdr, sizeof h);
  ctrace_fmt_put_u32(h + CTRACE_FMT_RH_CRC, 0);
  uint32_t crc = ctrace_fmt_crc32c(0, h, sizeof h);
  return ctrace_fmt_crc32c(crc, payload, stored);
}

#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif /* CTRACE_FORMAT_H */
