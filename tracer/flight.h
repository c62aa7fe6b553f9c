/* This file is private to ctrace: the flight recorder's settings syntax
 * ($CTRACE_FLIGHT, `ctrace run --flight`), shared by the runtime
 * (flight.c) and the launcher, which does not link the runtime. */
#ifndef CTRACE_TRACER_FLIGHT_H
#define CTRACE_TRACER_FLIGHT_H

#include <stdint.h>

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
#include <stddef.h>
void ctrace__flight_nth_path(char *out, size_t cap, const char *base, uint32_t n);

/* What to say after "VARIABLE=VALUE: " when it does not parse. */
#define CTRACE__FLIGHT_SYNTAX                                                                \
  "expected a duration (500ms, 30s, 5min, 1h; at most 24h), a size (64KiB, 256MB, 1GiB: "   \
  "KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024; at least 64KiB) or both (30s,256MB)"

#endif /* CTRACE_TRACER_FLIGHT_H */
