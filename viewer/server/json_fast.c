/* JSON written directly, for answers of tens of thousands of objects
 * (server_internal.h: rt_jw): cJSON 1.7 prints every number with "%1.15g"
 * and checks it with sscanf, and grows its text by copying. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"

/* Decimal digits of v, written backwards ending at end; returns the start. */
static char *digits(char *end, uint64_t v) {
  do
    *--end = (char)('0' + v % 10);
  while (v /= 10);
  return end;
}

/* ---- A JSON text written directly (answers of tens of thousands of events) ---- */

static void jw_need(rt_jw *w, size_t n) {
  if (w->failed || w->len + n + 1 <= w->cap)
    return;
  size_t cap = w->cap ? w->cap : 65536;
  while (cap < w->len + n + 1)
    cap *= 2;
  char *p = realloc(w->buf, cap);
  if (!p) {
    w->failed = 1;
    return;
  }
  w->buf = p;
  w->cap = cap;
}

void rt__jw_raw(rt_jw *w, const char *s, size_t n) {
  jw_need(w, n);
  if (w->failed)
    return;
  memcpy(w->buf + w->len, s, n);
  w->len += n;
  w->buf[w->len] = '\0';
}

void rt__jw_lit(rt_jw *w, const char *s) { rt__jw_raw(w, s, strlen(s)); }

void rt__jw_u64(rt_jw *w, uint64_t v) {
  char b[24], *end = b + sizeof b, *p = digits(end, v);
  rt__jw_raw(w, p, (size_t)(end - p));
}

void rt__jw_us(rt_jw *w, uint64_t ns) {
  char b[32], *end = b + sizeof b;
  char *p = end;
  unsigned frac = (unsigned)(ns % 1000);
  *--p = (char)('0' + frac % 10);
  *--p = (char)('0' + frac / 10 % 10);
  *--p = (char)('0' + frac / 100);
  *--p = '.';
  p = digits(p, ns / 1000);
  rt__jw_raw(w, p, (size_t)(end - p));
}

void rt__jw_num(rt_jw *w, double v) {
  if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* integers exactly (as cJSON's) */
    if (v < 0)
      rt__jw_raw(w, "-", 1);
    rt__jw_u64(w, (uint64_t)fabs(v));
    return;
  }
  char b[40];
  if (isfinite(v))
    snprintf(b, sizeof b, "%.17g", v);
  else
    snprintf(b, sizeof b, "null");
  rt__jw_lit(w, b);
}

void rt__jw_str(rt_jw *w, const char *s) {
  rt__jw_raw(w, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    rt__jw_raw(w, run, (size_t)(s - run));
    char e[8];
    if (c == '"' || c == '\\')
      snprintf(e, sizeof e, "\\%c", c);
    else
      snprintf(e, sizeof e, "\\u%04x", c);
    rt__jw_lit(w, e);
    run = s + 1;
  }
  rt__jw_raw(w, run, (size_t)(s - run));
  rt__jw_raw(w, "\"", 1);
}

void rt__jw_respond(rt_jw *w, rt_response *r) {
  if (w->failed || !w->buf) {
    free(w->buf);
    rt__respond_error(r, 500, "out of memory");
    return;
  }
  r->status = 200;
  r->content_type = "application/json";
  r->body = w->buf;
  r->len = w->len;
}
