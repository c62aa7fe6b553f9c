/* This file is private to the viewer. The JSON writers' output buffer:
 * numbers, microsecond timestamps and escaped strings appended by hand into
 * one buffer that goes to a sink when full (chrome_json.c). With a
 * NULL sink it renders into memory only, and overflowing is an error. */
#ifndef CTRACE_VIEWER_JSON_OUT_H
#define CTRACE_VIEWER_JSON_OUT_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "export.h"

typedef struct ob {
  cj_sink sink; /* NULL: memory only (fragments) */
  void *arg;
  char *p;
  size_t len, cap;
  int err;
} ob;

static inline void ob_flush(ob *o) {
  if (o->len && !o->err) {
    if (!o->sink)
      o->err = -ENOSPC;
    else
      o->err = o->sink(o->arg, o->p, o->len);
  }
  o->len = 0;
}

static inline void ob_need(ob *o, size_t n) {
  if (o->len + n > o->cap)
    ob_flush(o);
}

static inline void ob_mem(ob *o, const char *s, size_t n) {
  if (n > o->cap) { /* larger than the buffer: write through */
    ob_flush(o);
    if (!o->err)
      o->err = o->sink ? o->sink(o->arg, s, n) : -ENOSPC;
    return;
  }
  ob_need(o, n);
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

#define ob_lit(o, s) ob_mem((o), "" s, sizeof(s) - 1) /* (s: a string literal) */

static inline void ob_u64(ob *o, uint64_t v) {
  char b[24];
  int i = sizeof b;
  do {
    b[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  ob_mem(o, b + i, sizeof b - (size_t)i);
}

static inline void ob_i64(ob *o, int64_t v) {
  if (v < 0) {
    ob_lit(o, "-");
    ob_u64(o, (uint64_t)0 - (uint64_t)v);
  } else {
    ob_u64(o, (uint64_t)v);
  }
}

/* Microseconds with nanosecond decimals: 1234567 ns -> 1234.567 */
static inline void ob_us(ob *o, uint64_t ns) {
  ob_u64(o, ns / 1000);
  char b[4] = {'.', (char)('0' + ns / 100 % 10), (char)('0' + ns / 10 % 10), (char)('0' + ns % 10)};
  ob_mem(o, b, 4);
}

static inline void ob_hex(ob *o, uint64_t v) {
  static const char d[] = "0123456789abcdef";
  char b[18];
  int i = sizeof b;
  do {
    b[--i] = d[v & 15];
    v >>= 4;
  } while (v);
  b[--i] = 'x';
  b[--i] = '0';
  ob_mem(o, b + i, sizeof b - (size_t)i);
}

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static inline size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80)
    return 1;
  if ((c & 0xe0) == 0xc0)
    len = 2, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    len = 3, min = 0x800;
  else if ((c & 0xf8) == 0xf0)
    len = 4, min = 0x10000;
  else
    return 0;
  if (len > n)
    return 0;
  unsigned cp = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

/* A JSON string literal; invalid UTF-8 becomes U+FFFD. */
static inline void ob_str(ob *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  ob_lit(o, "\"");
  while (p < end) {
    const unsigned char *run = p;
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    if (p > run)
      ob_mem(o, (const char *)run, (size_t)(p - run));
    if (p == end)
      break;
    unsigned c = *p;
    if (c == '"') {
      ob_lit(o, "\\\"");
      p++;
    } else if (c == '\\') {
      ob_lit(o, "\\\\");
      p++;
    } else if (c == '\n') {
      ob_lit(o, "\\n");
      p++;
    } else if (c == '\t') {
      ob_lit(o, "\\t");
      p++;
    } else if (c < 0x20) {
      char b[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      ob_mem(o, b, 6);
      p++;
    } else {
      size_t l = utf8_len(p, (size_t)(end - p));
      if (l) {
        ob_mem(o, (const char *)p, l);
        p += l;
      } else {
        ob_lit(o, "\\ufffd");
        p++;
      }
    }
  }
  ob_lit(o, "\"");
}

static inline void ob_cstr(ob *o, const char *s) { ob_str(o, s, strlen(s)); }

/* {"ph":"X","pid":P,"tid":T,"ts":ts -- the caller appends the rest and
 * "}". Events are one per line, ",\n" before all but the first (*first). */
static inline void ob_event_open(ob *o, int *first, char ph, int64_t pid, int64_t tid,
                                 uint64_t ts) {
  if (*first)
    *first = 0;
  else
    ob_lit(o, ",\n");
  char b[8] = {'{', '"', 'p', 'h', '"', ':', '"', ph};
  ob_mem(o, b, 8);
  ob_lit(o, "\",\"pid\":");
  ob_i64(o, pid);
  ob_lit(o, ",\"tid\":");
  ob_i64(o, tid);
  ob_lit(o, ",\"ts\":");
  ob_us(o, ts);
}

/* A system call slice's args, after its name: number, argument, error name
 * or return value, who recorded it; closes the args and the event. */
static inline void ob_syscall_args(ob *o, long nr, uint64_t arg, int64_t ret, int kernel) {
  ob_lit(o, ",\"cat\":\"syscall\",\"args\":{\"nr\":");
  ob_i64(o, nr);
  ob_lit(o, ",\"arg\":");
  ob_i64(o, (int64_t)arg);
  if (ret < 0) {
    const char *e = ret >= -4095 ? strerrorname_np((int)-ret) : NULL;
    ob_lit(o, ",\"error\":");
    ob_cstr(o, e ? e : "?");
  } else {
    ob_lit(o, ",\"return\":");
    ob_i64(o, ret);
  }
  if (kernel)
    ob_lit(o, ",\"recorded_by\":\"kernel\"");
  ob_lit(o, "}}");
}

/* The rest of a thread-state slice after its "ts": duration, state name,
 * the CPU it ran on (if >= 0), and the closing brace. */
static inline void ob_state_rest(ob *o, uint64_t start, uint64_t end, const char *state, int cpu) {
  ob_lit(o, ",\"dur\":");
  ob_us(o, end > start ? end - start : 0);
  ob_lit(o, ",\"name\":\"");
  ob_mem(o, state, strlen(state));
  ob_lit(o, "\",\"cat\":\"state\"");
  if (cpu >= 0) {
    ob_lit(o, ",\"args\":{\"cpu\":");
    ob_i64(o, cpu);
    ob_lit(o, "}");
  }
  ob_lit(o, "}");
}

#endif /* CTRACE_VIEWER_JSON_OUT_H */
